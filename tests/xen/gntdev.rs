//! /dev/xen/gntdev in a PV dom0: the ioctls, mmap, and every way a mapping
//! goes away, as drivers/xen/gntdev.c (Linux 6.x) does it. Expected values
//! from the source: index placement (`gntdev_add_map`), exact index/count
//! matches (`gntdev_find_map_index`), mmap checks and flags
//! (`gntdev_mmap`), the per-map interval notifier unmapping before zap
//! (`gntdev_invalidate`), `find_special_page` by `pages_vm_start`.

use super::common::*;
use mmsim::drivers::gntdev::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::memory::VmFault;
use mmsim::kernel::mm_types::VmFlags;
use mmsim::kernel::mmap::*;
use mmsim::kernel::mremap::{MREMAP_FIXED, MREMAP_MAYMOVE};
use mmsim::kernel::variant::VariantKind;
use mmsim::xen::interface::grant_table::{GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING};

fn x() -> X {
    setup(variant(VariantKind::FindSpecialPage, None))
}

fn flags(x: &X, g: u64) -> u16 {
    x.w.hv.grant_table(x.domu).unwrap().shared[g as usize].flags
}

const MAPPED: u16 = GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING;

/// domU grants `n` pages filled 0x10, 0x11, ...; qemu maps them all in one
/// map and mmaps it shared RW. Returns (pfns, grefs, fd, addr).
fn map_n(x: &mut X, n: u64) -> (Vec<u64>, Vec<u64>, u64, u64) {
    let (ps, gs): (Vec<u64>, Vec<u64>) = (0..n).map(|i| x.grant_page(0x10 + i as u8, false)).unzip();
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let off = x.map_grant_ref(q, fd, x.domu, &gs).unwrap();
    let a = x.mmap_shared(q, n * PS, fd, off).unwrap();
    (ps, gs, fd, a)
}

fn clean(x: &mut X) {
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn map_grant_ref_index_placement() {
    let mut x = x();
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let d = x.domu;
    assert_eq!(x.map_grant_ref(q, fd, d, &[8, 9]), Ok(0));
    assert_eq!(x.map_grant_ref(q, fd, d, &[8]), Ok(2 << 12));
    assert_eq!(x.map_grant_ref(q, fd, d, &[8, 9, 10]), Ok(3 << 12));
    assert_eq!(x.unmap_grant_ref(q, fd, 0, 1), Err(Errno::ENOENT), "count must match");
    assert_eq!(x.unmap_grant_ref(q, fd, 0, 2), Ok(0));
    // [2,3) and [3,6): one page fits before index 2 (0 + 1 < 2)...
    assert_eq!(x.map_grant_ref(q, fd, d, &[8]), Ok(0));
    // ...but the gap [1,2) of exactly one page is skipped (1 + 1 < 2 is false).
    assert_eq!(x.map_grant_ref(q, fd, d, &[8]), Ok(6 << 12));
    // Count 0 matches any count; a u32 count of 2^32 truncates to 0.
    assert_eq!(x.unmap_grant_ref(q, fd, 3 << 12, 1 << 32), Ok(0));
    assert_eq!(x.unmap_grant_ref(q, fd, 3 << 12, 3), Err(Errno::ENOENT));
    assert_eq!(x.map_grant_ref(q, fd, d, &[8, 9]), Ok(3 << 12));
}

#[test]
fn map_grant_ref_limits_and_bad_arguments() {
    let mut x = x();
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let d = x.domu;
    assert_eq!(x.map_grant_ref(q, fd, d, &[]), Err(Errno::EINVAL), "count 0");
    let too_many = vec![8u64; (GNTDEV_LIMIT + 1) as usize];
    assert_eq!(x.map_grant_ref(q, fd, d, &too_many), Err(Errno::EINVAL), "over the per-request limit");
    // 4096 unpopulated PFNs in the model's balloon.
    assert_eq!(x.map_grant_ref(q, fd, d, &vec![8u64; 4097]), Err(Errno::ENOMEM));
    assert_eq!(x.ioctl(q, fd, IOCTL_GNTDEV_MAP_GRANT_REF, &[IoctlArg::Int(1)]), Err(Errno::EFAULT));
    assert_eq!(
        x.ioctl(q, fd, IOCTL_GNTDEV_MAP_GRANT_REF, &[IoctlArg::List(vec![1]), IoctlArg::Int(1)]),
        Err(Errno::EFAULT)
    );
    assert_eq!(x.ioctl(q, fd, 0x1234, &[]), Err(Errno::ENOTTY));
    assert_eq!(x.ioctl(q, fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &[IoctlArg::Int(0x1000)]), Err(Errno::EINVAL));
    assert_eq!(x.unmap_grant_ref(q, fd, u64::MAX, u64::MAX), Err(Errno::ENOENT));
    // Huge refs and domids are truncated to the uapi fields; the map
    // hypercall then fails and mmap says EINVAL.
    let args = [IoctlArg::Int(0xffff_ffff), IoctlArg::List(vec![u64::MAX, 1 << 40])];
    let off = x.ioctl(q, fd, IOCTL_GNTDEV_MAP_GRANT_REF, &args).unwrap();
    assert_eq!(x.mmap_shared(q, 2 * PS, fd, off), Err(Errno::EINVAL));
    assert!(x.w.hv.log.iter().any(|l| l.contains("GNTST_bad_domain")), "{:?}", x.w.hv.log);
    // do_mmap refuses an offset whose page range overflows first.
    assert_eq!(x.mmap_shared(q, PS, fd, !0xfff), Err(Errno::EOVERFLOW));
    assert_eq!(x.mmap_shared(q, PS, fd, 7 << 12), Err(Errno::EINVAL), "no map at index 7");
    clean(&mut x);
}

#[test]
fn mmap_must_match_a_map_exactly_and_only_once() {
    let mut x = x();
    let (_p, g) = x.grant_page(1, false);
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let off = x.map_grant_ref(q, fd, x.domu, &[g, g]).unwrap();
    assert_eq!(x.mmap_shared(q, PS, fd, off), Err(Errno::EINVAL), "count differs");
    assert_eq!(x.mmap_shared(q, 2 * PS, fd, off + PS), Err(Errno::EINVAL), "index differs");
    assert_eq!(
        x.mmap(q, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, off),
        Err(Errno::EINVAL),
        "writable private"
    );
    let a = x.mmap_shared(q, 2 * PS, fd, off).unwrap();
    assert_eq!(x.mmap_shared(q, 2 * PS, fd, off), Err(Errno::EINVAL), "in_use: one mmap per map");
    let v = x.w.kernel(x.dom0).unwrap().mm(q).unwrap().vma_at(a).unwrap().flags;
    assert!(
        v.contains(VmFlags::DONTCOPY | VmFlags::DONTEXPAND | VmFlags::DONTDUMP | VmFlags::MIXEDMAP | VmFlags::SHARED)
    );
    assert!(!v.intersects(VmFlags::IO | VmFlags::PFNMAP));
    assert_eq!(x.ioctl(q, fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &[IoctlArg::Int(a + PS)]), Ok(off));
    // The same grant twice in one map: two pins.
    assert_eq!(x.load(q, a + PS, 1).unwrap(), vec![1]);
    clean(&mut x);
}

#[test]
fn store_and_load_reach_the_granted_page() {
    let mut x = x();
    let (ps, _gs, _fd, a) = map_n(&mut x, 1);
    assert_eq!(x.load(x.qemu, a, 2).unwrap(), vec![0x10, 0x10]);
    x.store(x.qemu, a + 7, b"hi").unwrap();
    assert_eq!(x.w.read_page(x.domu, ps[0], 7, 2).unwrap(), b"hi");
    clean(&mut x);
}

#[test]
fn read_only_grant_mapped_writable_is_refused() {
    let mut x = x();
    let (p, g) = x.grant_page(0x42, true);
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let off = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    // The first mmap fixes the map writable; Xen refuses to write-pin.
    assert_eq!(x.mmap_shared(q, PS, fd, off), Err(Errno::EINVAL));
    assert!(x.w.hv.log.iter().any(|l| l.contains("Attempt to write-pin a r/o grant entry")));
    assert_eq!(flags(&x, g), GTF_PERMIT_ACCESS | GTF_READONLY);
    // That map is used up (in_use); a fresh one mapped read-only works.
    assert_eq!(x.mmap(q, 0, PS, PROT_READ, MAP_SHARED, fd, off), Err(Errno::EINVAL));
    let off2 = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    let a = x.mmap(q, 0, PS, PROT_READ, MAP_SHARED, fd, off2).unwrap();
    assert_eq!(flags(&x, g), GTF_PERMIT_ACCESS | GTF_READONLY | GTF_READING);
    assert_eq!(x.load(q, a, 1).unwrap(), vec![0x42]);
    assert_eq!(x.store(q, a, b"x").unwrap_err().fault, VmFault::AccErr);
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    // O_DIRECT read into it needs FOLL_WRITE: the VMA is not writable.
    assert_eq!(x.pread(q, d, a, 4096, 0), Err(Errno::EFAULT));
    // A write from it to the disk only reads the page.
    assert_eq!(x.pwrite(q, d, a, 4096, 0), Ok(4096));
    assert_eq!(x.w.disk_read(x.disk, 0, 2), Ok(vec![0x42, 0x42]));
    assert_eq!(x.w.read_page(x.domu, p, 0, 1).unwrap(), vec![0x42]);
    clean(&mut x);
}

#[test]
fn o_direct_write_reads_the_granted_page() {
    let mut x = x();
    let (_ps, _gs, _fd, a) = map_n(&mut x, 2);
    let q = x.qemu;
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    assert_eq!(x.pwrite(q, d, a + 512, 4096, 8192), Ok(4096));
    let back = x.w.disk_read(x.disk, 8192, 4096).unwrap();
    assert_eq!(back[..3584], vec![0x10; 3584][..]);
    assert_eq!(back[3584..], vec![0x11; 512][..]);
    clean(&mut x);
}

#[test]
fn partial_munmap_unmaps_only_those_slots() {
    let mut x = x();
    let (ps, gs, fd, a) = map_n(&mut x, 3);
    let q = x.qemu;
    assert_eq!(x.munmap(q, a + PS, PS), Ok(0));
    assert_eq!(flags(&x, gs[1]), GTF_PERMIT_ACCESS, "slot 1 unmapped by the notifier");
    assert_eq!((flags(&x, gs[0]), flags(&x, gs[2])), (MAPPED, MAPPED));
    assert_eq!(x.load(q, a + PS, 1).unwrap_err().fault, VmFault::MapErr);
    // The piece after the hole still finds its page by pages_vm_start.
    x.w.disk_write(x.disk, 0, &[0x77; 4096]).unwrap();
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    assert_eq!(x.pread(q, d, a + 2 * PS, 4096, 0), Ok(4096));
    assert_eq!(x.w.read_page(x.domu, ps[2], 0, 2).unwrap(), vec![0x77, 0x77]);
    assert_eq!(x.w.read_page(x.domu, ps[0], 0, 1).unwrap(), vec![0x10]);
    clean(&mut x);
    // The first page too; then the fd: everything goes back.
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(x.munmap(q, a + 2 * PS, PS), Ok(0));
    x.close(q, fd).unwrap();
    assert!(gs.iter().all(|&g| flags(&x, g) == GTF_PERMIT_ACCESS));
    assert!(x.w.hv.grants.records().next().is_none());
    assert!(x.w.kernel(x.dom0).unwrap().xen.gnttab_pages.is_empty(), "pages back in the balloon");
    clean(&mut x);
}

#[test]
fn fork_child_has_no_mapping() {
    let mut x = x();
    let (_ps, gs, _fd, a) = map_n(&mut x, 1);
    let q = x.qemu;
    let c = x.fork(q).unwrap();
    assert_eq!(x.load(c, a, 1).unwrap_err().fault, VmFault::MapErr, "VM_DONTCOPY");
    assert_eq!(x.load(q, a, 1).unwrap(), vec![0x10]);
    x.exit(c).unwrap();
    assert_eq!(flags(&x, gs[0]), MAPPED, "the child's exit closes only a shared fd reference");
    assert_eq!(x.load(q, a, 1).unwrap(), vec![0x10]);
    clean(&mut x);
}

#[test]
fn exit_unmaps_everything() {
    let mut x = x();
    let (_ps, gs, _fd, _a) = map_n(&mut x, 2);
    x.exit(x.qemu).unwrap();
    assert!(gs.iter().all(|&g| flags(&x, g) == GTF_PERMIT_ACCESS));
    assert!(x.w.hv.grants.records().next().is_none());
    clean(&mut x);
    // The frontend can now end access.
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, gs[0]), Ok(0));
}

#[test]
fn close_and_unmap_ioctl_keep_a_live_mapping() {
    let mut x = x();
    let (_ps, gs, fd, a) = map_n(&mut x, 1);
    let q = x.qemu;
    assert_eq!(x.unmap_grant_ref(q, fd, 0, 1), Ok(0));
    x.close(q, fd).unwrap();
    assert_eq!(x.load(q, a, 1).unwrap(), vec![0x10], "the VMA holds the map");
    assert_eq!(flags(&x, gs[0]), MAPPED);
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(flags(&x, gs[0]), GTF_PERMIT_ACCESS);
    assert!(x.w.kernel(x.dom0).unwrap().xen.gnttab_pages.is_empty());
    clean(&mut x);
}

#[test]
fn mremap_cannot_grow_and_moving_loses_the_grants() {
    let mut x = x();
    let (_ps, gs, _fd, a) = map_n(&mut x, 2);
    let q = x.qemu;
    let (k, hv) = x.w.kh(x.dom0).unwrap();
    assert_eq!(k.sys_mremap(hv, q, a, 2 * PS, 3 * PS, MREMAP_MAYMOVE, 0), Err(Errno::EFAULT), "VM_DONTEXPAND");
    // Shrinking unmaps the tail like munmap.
    assert_eq!(k.sys_mremap(hv, q, a, 2 * PS, PS, 0, 0), Ok(a));
    assert_eq!(flags(&x, gs[1]), GTF_PERMIT_ACCESS);
    // Moving: the notifier unmaps the old range; the new one has no PTEs
    // and gntdev no fault handler.
    let to = 0x7100_0000_0000;
    let (k, hv) = x.w.kh(x.dom0).unwrap();
    assert_eq!(k.sys_mremap(hv, q, a, PS, PS, MREMAP_MAYMOVE | MREMAP_FIXED, to), Ok(to));
    x.w.run_deferred_work();
    assert_eq!(flags(&x, gs[0]), GTF_PERMIT_ACCESS);
    assert_eq!(x.load(q, to, 1).unwrap_err().fault, VmFault::SigBus);
    clean(&mut x);
}

#[test]
fn unmap_notify_clear_byte() {
    let mut x = x();
    let (ps, _gs, fd, a) = map_n(&mut x, 2);
    let q = x.qemu;
    let notify = |x: &mut X, off: u64, action: u64| {
        x.ioctl(q, fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &[IoctlArg::Int(off), IoctlArg::Int(action), IoctlArg::Int(3)])
    };
    assert_eq!(notify(&mut x, PS + 5, 4), Err(Errno::EINVAL), "unknown action");
    assert_eq!(notify(&mut x, PS + 5, UNMAP_NOTIFY_SEND_EVENT as u64), Err(Errno::EINVAL), "no bound event channel");
    assert_eq!(notify(&mut x, 2 * PS, UNMAP_NOTIFY_CLEAR_BYTE as u64), Err(Errno::ENOENT));
    assert_eq!(notify(&mut x, PS + 5, UNMAP_NOTIFY_CLEAR_BYTE as u64), Ok(0));
    // Unmapping page 0 does not touch it; page 1 does, before the unmap.
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(x.w.read_page(x.domu, ps[1], 4, 3).unwrap(), vec![0x11, 0x11, 0x11]);
    assert_eq!(x.munmap(q, a + PS, PS), Ok(0));
    assert_eq!(x.w.read_page(x.domu, ps[1], 4, 3).unwrap(), vec![0x11, 0, 0x11]);
    clean(&mut x);
}

#[test]
fn unmap_notify_clear_byte_refused_for_read_only_maps() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, true);
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let off = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    x.mmap(q, 0, PS, PROT_READ, MAP_SHARED, fd, off).unwrap();
    let r = x.ioctl(q, fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &[IoctlArg::Int(off), IoctlArg::Int(1), IoctlArg::Int(0)]);
    assert_eq!(r, Err(Errno::EINVAL));
    clean(&mut x);
}

#[test]
fn failed_mmaps_report_the_status_and_leave_nothing_mapped() {
    // One map per case: a good slot followed by a bad one; mmap is EINVAL,
    // Xen logs the status, and the good slot is unmapped again.
    type Case = (&'static str, fn(&mut X) -> (u16, u64));
    let cases: [Case; 4] = [
        ("GNTST_bad_domain", |_| (77, 8)),
        ("GNTST_bad_gntref", |x| (x.domu, 5000)),
        ("GNTST_general_error", |x| {
            let p = x.w.alloc_page(x.domu).unwrap();
            (x.domu, x.w.gnttab_grant_foreign_access(x.domu, p, x.domu, false).unwrap())
        }),
        ("GNTST_bad_page", |x| {
            let pfn = x.w.kernel(x.domu).unwrap().memmap().len() - 1;
            (x.domu, x.w.gnttab_grant_foreign_access(x.domu, pfn, x.dom0, false).unwrap())
        }),
    ];
    for (status, bad) in cases {
        let mut x = x();
        let (_p, good) = x.grant_page(0, false);
        let (dom, gref) = bad(&mut x);
        let q = x.qemu;
        let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
        // The model's ABI has one domid per request: map the bad slot alone
        // when it names another domain.
        let refs = if dom == x.domu { vec![good, gref] } else { vec![gref] };
        let off = x.map_grant_ref(q, fd, dom, &refs).unwrap();
        assert_eq!(x.mmap_shared(q, refs.len() as u64 * PS, fd, off), Err(Errno::EINVAL), "{status}");
        assert!(x.w.hv.log.iter().any(|l| l.contains(status)), "{status}: {:?}", x.w.hv.log);
        assert_eq!(flags(&x, good), GTF_PERMIT_ACCESS, "{status}");
        assert!(x.w.hv.grants.records().next().is_none(), "{status}");
        x.close(q, fd).unwrap();
        assert!(x.w.kernel(x.dom0).unwrap().xen.gnttab_pages.is_empty(), "{status}");
        clean(&mut x);
    }
}

#[test]
fn no_space_through_gntdev() {
    let mut x = x();
    x.w.hv.set_max_maptrack_frames(x.dom0, 1);
    let (_ps, gs): (Vec<u64>, Vec<u64>) = (0..2).map(|_| x.grant_page(0, false)).unzip();
    // 128 slots need 256 handles (user PTE + kernel address each); 255 fit.
    let refs: Vec<u64> = (0..128).map(|i| gs[i / 64]).collect();
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let off = x.map_grant_ref(q, fd, x.domu, &refs).unwrap();
    assert_eq!(x.mmap_shared(q, 128 * PS, fd, off), Err(Errno::EINVAL));
    // Current Xen map_grant_ref: maptrack exhaustion is GNTST_no_space
    // (older Xen: GNTST_no_device_space).
    assert!(x.w.hv.log.iter().any(|l| l.contains("GNTST_no_space")));
    assert!(x.w.hv.grants.records().next().is_none(), "the error path unmapped the 255");
    assert!(gs.iter().all(|&g| flags(&x, g) == GTF_PERMIT_ACCESS));
    clean(&mut x);
}

#[test]
fn loopback_maps_its_own_grant() {
    for kind in [VariantKind::FindSpecialPage, VariantKind::M2pOverride, VariantKind::NoSpecialPte] {
        let mut x = setup(variant(kind, None));
        let d0 = x.dom0;
        let p = x.w.alloc_page(d0).unwrap();
        x.w.write_page(d0, p, 0, &[0; 4096]).unwrap();
        let g = x.w.gnttab_grant_foreign_access(d0, p, d0, false).unwrap();
        let q = x.qemu;
        let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
        let off = x.map_grant_ref(q, fd, d0, &[g]).unwrap();
        let a = x.mmap_shared(q, PS, fd, off).unwrap();
        x.w.disk_write(x.disk, 0, &[0x5a; 4096]).unwrap();
        let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
        assert_eq!(x.pread(q, d, a, 4096, 0), Ok(4096), "{kind:?}");
        assert_eq!(x.w.read_page(d0, p, 0, 2).unwrap(), vec![0x5a, 0x5a], "{kind:?}: same MFN, the bytes land");
        let v = x.check();
        match kind {
            // mfn_to_pfn() finds the frontend's own page (the P2M maps it
            // back): GUP pins the granter's page instead of the gntdev page.
            VariantKind::NoSpecialPte => assert!(has(&v, "gup-wrong-page"), "{v:#?}"),
            // 3.x marks the frontend PFN foreign so the override answers.
            _ => assert!(v.iter().all(|x| x.invariant == "rss-counter"), "{kind:?}: {v:#?}"),
        }
        // The frontend's own view of its page still works, and unmapping
        // restores its P2M entry (m2p_remove_override).
        let mfn = x.w.pfn_to_mfn(d0, p).unwrap();
        assert_eq!(x.munmap(q, a, PS), Ok(0));
        assert_eq!(x.w.kernel(d0).unwrap().p2m().raw(mmsim::kernel::page::Pfn(p)), mfn, "{kind:?}");
    }
}

#[test]
fn grant_page_state_after_map_and_unmap() {
    // Reference 9.2: the local page is ballooned, PG_foreign with
    // {domid, gref}, P2M = FOREIGN_FRAME(mfn), refcount 1, mapcount 0; the
    // user PTE holds the foreign MFN, present, user, RW, special.
    use mmsim::kernel::p2m::{FOREIGN_FRAME_BIT, INVALID_P2M_ENTRY};
    use mmsim::kernel::page::{PageFlags, Pfn};
    let mut x = x();
    let (ps, gs, fd, a) = map_n(&mut x, 1);
    let q = x.qemu;
    let mfn = x.w.pfn_to_mfn(x.domu, ps[0]).unwrap();
    let k = x.w.kernel(x.dom0).unwrap();
    let pte = k.page_tables().pte(k.mm(q).unwrap().pgd, a);
    assert!(pte.present() && pte.write() && pte.special() && pte.frame() == mfn);
    let pfn = k
        .mm(q)
        .unwrap()
        .vma_at(a)
        .unwrap()
        .ops
        .as_ref()
        .unwrap()
        .find_special_page(k.mm(q).unwrap().vma_at(a).unwrap(), a)
        .unwrap();
    let page = k.memmap().page(pfn);
    assert!(page.flags.contains(PageFlags::FOREIGN | PageFlags::PRIVATE));
    assert_eq!(mmsim::kernel::xen::page_foreign(page), Some((x.domu, gs[0] as u32)));
    assert_eq!((page.refcount, page.mapcount), (1, 0));
    assert_eq!(k.p2m().raw(pfn), mfn | FOREIGN_FRAME_BIT);
    assert!(pfn.0 >= 4096, "a PFN above dom0's RAM (ballooned)");
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    let k = x.w.kernel(x.dom0).unwrap();
    assert_eq!(k.p2m().raw(pfn), INVALID_P2M_ENTRY);
    assert!(!k.memmap().page(pfn).flags.contains(PageFlags::BALLOON), "the map (and its pages) lives while listed");
    assert_eq!(x.unmap_grant_ref(q, fd, 0, 1), Ok(0));
    let k = x.w.kernel(x.dom0).unwrap();
    assert!(k.memmap().page(pfn).flags.contains(PageFlags::BALLOON), "gnttab_free_pages: back in the balloon");
    assert!(!k.memmap().page(pfn).flags.intersects(PageFlags::FOREIGN | PageFlags::PRIVATE));
    assert_eq!(k.memmap().page(Pfn(pfn.0)).refcount, 0);
    clean(&mut x);
}
