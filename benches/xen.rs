//! The PV backend's hot loop (qemu/blkback style): map 11 grants with one
//! IOCTL_GNTDEV_MAP_GRANT_REF, mmap them, one 44 KiB O_DIRECT read into the
//! mapping, munmap, IOCTL_GNTDEV_UNMAP_GRANT_REF. Throughput in pages/s
//! (11 pages per iteration) is criterion's elements/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mmsim::drivers::gntdev::{IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF};
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::mmap::{MAP_SHARED, PROT_READ, PROT_WRITE};
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use std::hint::black_box;

const N: u64 = 11;

fn bench(c: &mut Criterion) {
    let mut w = World::new(65536, Variant::default());
    let dom0 = w.add_xen_domain("dom0", true, 8192, true).expect("dom0");
    let domu = w.add_xen_domain("domU", true, 8192, false).expect("domU");
    let disk = w.add_disk("xvda", dom0, 2048).expect("disk");
    w.disk_write(disk, 0, &[0x5a; (N * 4096) as usize]).expect("disk data");
    let mut grefs = Vec::new();
    for _ in 0..N {
        let p = w.alloc_page(domu).expect("page");
        grefs.push(w.gnttab_grant_foreign_access(domu, p, dom0, false).expect("grant"));
    }
    let (k, hv) = w.kh(dom0).expect("dom0");
    let qemu = k.spawn(0, 0x7fff_f7ff_f000, 0x5555_5555_9000).expect("qemu");
    let fd = k.sys_open(hv, qemu, "/dev/xen/gntdev", O_RDWR).expect("gntdev");
    let d = k.sys_open(hv, qemu, "/dev/xvda", O_RDWR | O_DIRECT).expect("disk");
    let mut g = c.benchmark_group("xen");
    g.throughput(Throughput::Elements(N));
    g.bench_function("backend_map11_read44k_unmap", |b| {
        b.iter(|| {
            let (k, hv) = w.kh(dom0).expect("dom0");
            let off = k
                .sys_ioctl(
                    hv,
                    qemu,
                    fd,
                    IOCTL_GNTDEV_MAP_GRANT_REF,
                    &[IoctlArg::Int(domu as u64), IoctlArg::List(grefs.clone())],
                )
                .expect("map grant ref");
            let a = k.sys_mmap(hv, qemu, 0, N * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off).expect("mmap");
            let n = k.sys_pread(hv, qemu, d, a, N * 4096, 0).expect("pread");
            assert_eq!(n, N * 4096);
            k.do_munmap(hv, qemu, a, N * 4096).expect("munmap");
            k.sys_ioctl(hv, qemu, fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &[IoctlArg::Int(off), IoctlArg::Int(N)])
                .expect("unmap grant ref");
            w.run_deferred_work();
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
