//! Grants torn down while I/O into them is in flight, and the frontend's
//! side of ending access.
//!
//! Sources: drivers/xen/grant-table.c `gnttab_unmap_refs_async` (retry
//! while any page of the batch has `page_count() > 1`, 5 ms * (age + 1)),
//! drivers/xen/gntdev.c `gntdev_invalidate` -> `unmap_grant_pages` (async
//! since 5.19: the notifier does not wait), `gnttab_end_foreign_access`
//! and its deferred list; arch/x86/xen/p2m.c `clear_foreign_p2m_mapping`
//! (P2M back to INVALID at unmap); Linux 3.x `m2p_remove_override`.

use super::common::*;
use mmsim::drivers::gntdev::GNTDEV_PATH;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::file::{O_DIRECT, O_RDWR};
use mmsim::kernel::variant::{UnmapPolicy, VariantKind};
use mmsim::world::xen::XenError;
use mmsim::xen::interface::grant_table::{GTF_PERMIT_ACCESS, GTF_READING, GTF_WRITING};

fn flags(x: &X, g: u64) -> u16 {
    x.w.hv.grant_table(x.domu).unwrap().shared[g as usize].flags
}
const MAPPED: u16 = GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING;

#[test]
fn deferred_unmap_waits_for_the_io() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, Some(UnmapPolicy::Deferred)));
    let (p, g, _fd, a, d) = x.seed_mapping();
    let q = x.qemu;
    let r = x.io_submit(q, d, false, a, 4096, 0).unwrap();
    assert_eq!(flags(&x, g), MAPPED);
    // Linux 4.0-5.18: the MMU notifier unmaps with gnttab_unmap_refs_sync(),
    // sleeping while the page is pinned (refcount 1 + GUP_PIN_COUNTING_BIAS):
    // munmap returns only after the I/O finished into the granted frame.
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4], "the DMA landed in the granted frame before the unmap");
    assert_eq!(flags(&x, g), GTF_PERMIT_ACCESS, "then the grant was unmapped");
    assert!(x.w.kernel(x.dom0).unwrap().xen.unmap_work.is_empty());
    assert!(x.w.hv.grants.records().next().is_none());
    // The application still collects its completion.
    assert_eq!(x.io_complete(q, r), Ok(4096));
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn immediate_unmap_sends_the_dma_nowhere() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, Some(UnmapPolicy::Immediate)));
    let (p, g, _fd, a, d) = x.seed_mapping();
    let q = x.qemu;
    let r = x.io_submit(q, d, false, a, 4096, 0).unwrap();
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(flags(&x, g), GTF_PERMIT_ACCESS, "unmapped at once, I/O or not");
    assert!(x.check().is_empty());
    // The frontend may now end access and reuse its page...
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, g), Ok(0));
    assert_eq!(x.io_complete(q, r), Ok(4096), "the device does not know");
    assert_eq!(x.domu_page(p, 4), vec![0; 4], "the data never reached domU");
    let v = x.check();
    assert!(has(&v, "dma-misdirected"), "{v:#?}");
    let m = &v.iter().find(|v| v.invariant == "dma-misdirected").unwrap();
    assert!(m.message.contains("P2M invalid"), "{}", m.message);
    assert!(m.domains.contains(&x.dom0) && m.mfns == vec![x.w.pfn_to_mfn(x.domu, p).unwrap()]);
}

#[test]
fn m2p_override_immediate_unmap_is_the_same() {
    // 3.x: m2p_remove_override puts back the saved P2M entry (INVALID for
    // a ballooned page): the later DMA has no frame either.
    let mut x = setup(variant(VariantKind::M2pOverride, None));
    let (p, _g, _fd, a, d) = x.seed_mapping();
    let q = x.qemu;
    let r = x.io_submit(q, d, false, a, 4096, 0).unwrap();
    assert_eq!(x.munmap(q, a, PS), Ok(0));
    assert_eq!(x.io_complete(q, r), Ok(4096));
    assert_eq!(x.domu_page(p, 4), vec![0; 4]);
    assert!(has(&x.check(), "dma-misdirected"));
}

/// The same grant mapped at `a1` (first) and `a2` (second); I/O into
/// `io_into` while the other mapping is unmapped.
fn twice(kind: VariantKind, io_into_first: bool) -> (X, u64, Vec<mmsim::invariants::Violation>) {
    let mut x = setup(variant(kind, None));
    x.w.disk_write(x.disk, 0, &[0x5a; 4096]).unwrap();
    let (p, g) = x.grant_page(0, false);
    let q = x.qemu;
    let fd = x.open(q, GNTDEV_PATH, O_RDWR).unwrap();
    let o1 = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    let a1 = x.mmap_shared(q, PS, fd, o1).unwrap();
    let o2 = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    let a2 = x.mmap_shared(q, PS, fd, o2).unwrap();
    let d = x.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
    let (io, other) = if io_into_first { (a1, a2) } else { (a2, a1) };
    let r = x.io_submit(q, d, false, io, 4096, 0).unwrap();
    assert_eq!(x.munmap(q, other, PS), Ok(0));
    assert_eq!(x.io_complete(q, r), Ok(4096));
    let v = x.check();
    (x, p, v)
}

#[test]
fn same_grant_twice_find_special_page_either_way() {
    for first in [true, false] {
        let (x, p, v) = twice(VariantKind::FindSpecialPage, first);
        assert_eq!(x.domu_page(p, 4), vec![0x5a; 4], "io into first: {first}");
        assert!(v.is_empty(), "io into first: {first}: {v:#?}");
    }
}

#[test]
fn same_grant_twice_m2p_override_breaks_when_the_newest_goes() {
    // I/O into the first mapping: GUP's page is the newest override entry,
    // the second mapping's page. Tearing that mapping down restores its
    // P2M entry to INVALID: the DMA into the *first* mapping is lost.
    let (x, p, v) = twice(VariantKind::M2pOverride, true);
    assert_eq!(x.domu_page(p, 4), vec![0; 4]);
    assert!(has(&v, "gup-wrong-page"), "{v:#?}");
    assert!(has(&v, "dma-misdirected"), "{v:#?}");
    // I/O into the newest mapping while the first goes: the override
    // happens to be right.
    let (x, p, v) = twice(VariantKind::M2pOverride, false);
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4]);
    assert!(!has(&v, "gup-wrong-page") && !has(&v, "dma-misdirected"), "{v:#?}");
}

#[test]
fn frontend_end_access_while_mapped_is_deferred() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let (_p, g, _fd, a, _d) = x.seed_mapping();
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, g), Err(XenError::Errno(Errno::EBUSY)));
    assert_eq!(flags(&x, g), MAPPED, "Xen keeps reading/writing: the cmpxchg fails");
    let dmesg = |x: &X| x.w.kernel(x.domu).unwrap().dmesg.iter().map(|e| e.message.clone()).collect::<Vec<_>>();
    assert!(dmesg(&x).iter().any(|m| m.contains("g.e. 0x8 still in use")), "{:?}", dmesg(&x));
    assert!(dmesg(&x).iter().any(|m| m.contains("deferring g.e. 0x8")));
    // A second end of a deferred ref is refused (the model's guard).
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, g), Err(XenError::Errno(Errno::EINVAL)));
    x.w.run_deferred_work();
    assert_eq!(x.w.kernel(x.domu).unwrap().xen.deferred.len(), 1, "the timer retries, still mapped");
    assert_eq!(x.munmap(x.qemu, a, PS), Ok(0));
    x.w.run_deferred_work();
    assert!(x.w.kernel(x.domu).unwrap().xen.deferred.is_empty());
    assert!(dmesg(&x).iter().any(|m| m.contains("freeing g.e. 0x8")));
    assert_eq!(flags(&x, g), 0, "access ended");
    // The ref is free again, at the head of the free list.
    let p2 = x.w.alloc_page(x.domu).unwrap();
    assert_eq!(x.w.gnttab_grant_foreign_access(x.domu, p2, x.dom0, false), Ok(g));
    assert!(x.check().is_empty());
}

#[test]
fn frontend_freeing_a_mapped_page_is_reported() {
    // The frontend bug of XSA-396: trust the grant to be unused, free the
    // page, let it be reused while the backend still maps it.
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let (p, _g, _fd, a, _d) = x.seed_mapping();
    assert_eq!(x.w.free_page(x.domu, p), Ok(0));
    let v = x.check();
    assert!(has(&v, "grant-frame-freed"), "{v:#?}");
    let f = v.iter().filter(|v| v.invariant == "grant-frame-freed").count();
    // User PTE and kernel address: two mappings, each reported at the free
    // and by the state check.
    assert_eq!(f, 4, "{v:#?}");
    // The page is reused by domU; dom0's process still writes into it.
    let p2 = x.w.alloc_page(x.domu).unwrap();
    assert_eq!(p2, p);
    x.store(x.qemu, a, b"backend").unwrap();
    assert_eq!(x.w.read_page(x.domu, p2, 0, 7).unwrap(), b"backend");
    assert_eq!(x.w.free_page(x.domu, p), Ok(0));
    assert_eq!(x.w.free_page(x.domu, p), Err(XenError::Errno(Errno::EINVAL)), "already free");
}

#[test]
fn io_of_an_exited_process_is_completed_by_the_device() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let (p, g, _fd, a, d) = x.seed_mapping();
    let q = x.qemu;
    let _r = x.io_submit(q, d, false, a, 4096, 0).unwrap();
    x.exit(q).unwrap();
    // exit_aio waits for the request before exit_mmap: the device finished
    // it, the pages were unpinned, so the notifier's unmap ran at once.
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4]);
    assert_eq!(flags(&x, g), GTF_PERMIT_ACCESS);
    assert!(x.w.hv.grants.records().next().is_none());
    assert!(x.w.kernel(x.dom0).unwrap().gup_held().is_empty());
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}
