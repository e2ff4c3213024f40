//! The block device: its own contents, buffered and O_DIRECT pread/pwrite,
//! split io_submit/io_complete (block/fops.c `blkdev_read_iter`,
//! `blkdev_write_iter`, `blkdev_direct_IO`, `blkdev_dio_invalid`;
//! block/bio.c `bio_iov_iter_get_pages`; fs/aio.c).

use super::common::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::file::{O_DIRECT, O_RDONLY, O_RDWR};
use mmsim::kernel::mmap::*;
use mmsim::kernel::variant::VariantKind;

fn x() -> X {
    setup(variant(VariantKind::FindSpecialPage, None))
}

fn anon(x: &mut X, pages: u64) -> u64 {
    x.mmap(x.qemu, 0, pages * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, u64::MAX, 0).unwrap()
}

#[test]
fn disk_calls_and_names() {
    let mut x = x();
    assert_eq!(x.w.disk_write(x.disk, 510, b"abcd"), Ok(4));
    assert_eq!(x.w.disk_read(x.disk, 509, 6), Ok(b"\0abcd\0".to_vec()));
    let end = 2048 * 512;
    assert_eq!(x.w.disk_write(x.disk, end - 2, b"abcd"), Ok(2), "short at the end");
    assert_eq!(x.w.disk_write(x.disk, end, b"a"), Err(Errno::ENOSPC));
    assert_eq!(x.w.disk_read(x.disk, end - 1, 10).unwrap().len(), 1);
    assert_eq!(x.w.disk_read(x.disk, u64::MAX, u64::MAX), Ok(vec![]));
    assert_eq!(x.w.disk_read(mmsim::world::xen::DiskId(0xdead), 0, 1), Err(Errno::ENODEV));
    assert_eq!(x.w.add_disk("xvda", x.domu, 8), Err(Errno::EEXIST));
    assert_eq!(x.w.add_disk("a/b", x.domu, 8), Err(Errno::EINVAL));
    assert_eq!(x.w.add_disk("xvdb", x.domu, 0), Err(Errno::EINVAL));
    assert_eq!(x.w.add_disk("xvdb", 9, 8), Err(Errno::ESRCH));
    let id = x.w.add_disk("xvdb", x.domu, 8).unwrap();
    assert_eq!(id, mmsim::world::xen::DiskId(1 << 16));
    assert_eq!(x.w.disk("xvdb").map(|(i, d, disk)| (i, d, disk.size())), Some((id, x.domu, 4096)));
    assert_eq!(x.w.disk_write(id, 0, b"u"), Ok(1));
    assert_eq!(x.w.disk_read(x.disk, 0, 1), Ok(vec![0]), "separate contents");
}

#[test]
fn buffered_pread_pwrite_copy() {
    let mut x = x();
    let q = x.qemu;
    let a = anon(&mut x, 2);
    let d = x.open(q, "/dev/xvda", O_RDWR).unwrap();
    x.w.disk_write(x.disk, 100, b"hello").unwrap();
    assert_eq!(x.pread(q, d, a + 3, 7, 99), Ok(7), "no alignment needed");
    assert_eq!(x.load(q, a + 3, 7).unwrap(), b"\0hello\0");
    x.store(q, a, b"xyz").unwrap();
    assert_eq!(x.pwrite(q, d, a, 3, 1), Ok(3));
    assert_eq!(x.w.disk_read(x.disk, 0, 5), Ok(b"\0xyz\0".to_vec()));
    assert_eq!(x.pread(q, d, 0x10, 8, 0), Err(Errno::EFAULT));
    assert_eq!(x.pread(q, d, a, 8, 2048 * 512), Ok(0), "at the end");
    assert_eq!(x.pwrite(q, d, a, 8, 2048 * 512), Err(Errno::ENOSPC));
    assert_eq!(x.pread(q, d, a, 0, 0), Ok(0));
    let ro = x.open(q, "/dev/xvda", O_RDONLY).unwrap();
    assert_eq!(x.pwrite(q, ro, a, 8, 0), Err(Errno::EBADF));
}

#[test]
fn o_direct_alignment_and_short_transfers() {
    let mut x = x();
    let q = x.qemu;
    let a = anon(&mut x, 2);
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    x.w.disk_write(x.disk, 0, &[0x33; 8192]).unwrap();
    assert_eq!(x.pread(q, d, a + 1, 512, 0), Err(Errno::EINVAL), "buffer");
    assert_eq!(x.pread(q, d, a, 511, 0), Err(Errno::EINVAL), "length");
    assert_eq!(x.pread(q, d, a, 512, 1), Err(Errno::EINVAL), "offset");
    assert_eq!(x.pread(q, d, a + 512, 1024, 512), Ok(1024));
    assert_eq!(x.load(q, a + 510, 4).unwrap(), vec![0, 0, 0x33, 0x33]);
    // Truncated at the end of the device.
    assert_eq!(x.pread(q, d, a, 8192, 2048 * 512 - 512), Ok(512));
    // A pin that stops at an unmapped page: a short transfer.
    assert_eq!(x.munmap(q, a + PS, PS), Ok(0));
    assert_eq!(x.pread(q, d, a, 8192, 0), Ok(4096));
    assert_eq!(x.pread(q, d, a + PS, 4096, 0), Err(Errno::EFAULT), "nothing pinned");
    assert_eq!(x.pread(q, d, u64::MAX - 511, 1024, 0), Err(Errno::EFAULT));
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn io_submit_pins_and_io_complete_transfers() {
    let mut x = x();
    let q = x.qemu;
    let a = anon(&mut x, 1);
    x.store(q, a, &[0x44; 4096]).unwrap();
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    let r = x.io_submit(q, d, true, a, 4096, 4096).unwrap();
    assert_eq!(r, 1);
    let pfn = {
        let (k, hv) = x.w.kh(x.dom0).unwrap();
        k.pte_pfn(hv, k.page_tables().pte(k.mm(q).unwrap().pgd, a))
    };
    assert_eq!(x.w.kernel(x.dom0).unwrap().memmap().page(pfn).refcount, 1 + 1024, "pinned until completion");
    assert_eq!(x.w.disk_read(x.disk, 4096, 1), Ok(vec![0]), "no DMA before completion");
    assert_eq!(x.io_complete(q, r), Ok(4096));
    assert_eq!(x.w.disk_read(x.disk, 4096, 1), Ok(vec![0x44]));
    assert_eq!(x.w.kernel(x.dom0).unwrap().memmap().page(pfn).refcount, 1);
    assert_eq!(x.io_complete(q, r), Err(Errno::EINVAL), "reaped once");
    // Errors of the request itself come with the completion.
    let bad = x.io_submit(q, d, false, a + 1, 512, 0).unwrap();
    assert_eq!(x.io_complete(q, bad), Err(Errno::EINVAL));
    // io_submit itself fails for the descriptor, mode and position only.
    assert_eq!(x.io_submit(q, 99, false, a, 512, 0), Err(Errno::EBADF));
    assert_eq!(x.io_submit(q, d, false, a, 512, u64::MAX), Err(Errno::EINVAL));
    let ro = x.open(q, "/dev/xvda", O_RDONLY | O_DIRECT).unwrap();
    assert_eq!(x.io_submit(q, ro, true, a, 512, 0), Err(Errno::EBADF));
    let g = x.open(q, "/dev/xen/gntdev", O_RDWR).unwrap();
    assert_eq!(x.io_submit(q, g, false, a, 512, 0), Err(Errno::EINVAL), "not a block device");
    // Another process cannot reap it.
    let r2 = x.io_submit(q, d, false, a, 512, 0).unwrap();
    let other = x.fork(q).unwrap();
    assert_eq!(x.io_complete(other, r2), Err(Errno::EINVAL));
    assert_eq!(x.io_complete(q, r2), Ok(512));
    assert_eq!(x.load(q, a, 1).unwrap(), vec![0]);
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn request_ids_are_per_domain() {
    let mut x = x();
    x.w.add_disk("xvdb", x.dom0, 64).unwrap();
    let q = x.qemu;
    let a = anon(&mut x, 1);
    let d1 = x.open(q, "/dev/xvda", O_RDWR).unwrap();
    let d2 = x.open(q, "/dev/xvdb", O_RDWR).unwrap();
    let r1 = x.io_submit(q, d1, false, a, 8, 0).unwrap();
    let r2 = x.io_submit(q, d2, false, a, 8, 0).unwrap();
    assert_eq!((r1, r2), (1, 2));
    assert_eq!(x.io_complete(q, r2), Ok(8));
    assert_eq!(x.io_complete(q, r1), Ok(8));
}
