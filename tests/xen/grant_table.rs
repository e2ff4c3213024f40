//! Grant table v1 at the hypervisor: `GNTTABOP_map_grant_ref` and
//! `GNTTABOP_unmap_grant_ref` checked in Xen's order with Xen's statuses
//! (xen/common/grant_table.c `map_grant_ref`, `_set_status_v1`,
//! `get_paged_frame`, `unmap_common`; xen/arch/x86/pv/grant_table.c
//! `create_grant_pv_mapping`, `replace_grant_pv_mapping`), and the
//! frontend side (drivers/xen/grant-table.c).
//!
//! Reachable statuses, each tested here: okay, general_error, bad_domain,
//! bad_gntref, bad_handle, no_space (maptrack exhausted; current Xen, was
//! no_device_space), bad_page, bad_dev_addr (unmap of a device mapping with
//! the wrong bus address; `unmap_common` in current Xen). Not reachable in
//! the model: bad_virt_addr, no_device_space (no I/O MMU),
//! permission_denied (no XSM policy), bad_copy_arg / address_too_big (no
//! grant copy), eagain (no paging).

use super::common::*;
use mmsim::arch::x86_64::PteFlags;
use mmsim::hv::grant_table::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::file::O_RDWR;
use mmsim::kernel::page::Mfn;
use mmsim::kernel::variant::VariantKind;
use mmsim::world::xen::XenError;
use mmsim::xen::interface::grant_table::*;
use mmsim::xen::interface::xen::PteMaddr;

const USER_MAP: u32 = GNTMAP_HOST_MAP | GNTMAP_APPLICATION_MAP | GNTMAP_CONTAINS_PTE | (1 << _GNTMAP_GUEST_AVAIL0);

fn x() -> X {
    setup(variant(VariantKind::FindSpecialPage, None))
}

/// A PTE slot of qemu at `addr`, as a contains_pte host address.
fn pte_addr(x: &mut X, addr: u64) -> u64 {
    let q = x.qemu;
    let (k, _) = x.w.kh(x.dom0).unwrap();
    let s = k.pte_alloc(q, addr).unwrap();
    PteMaddr { table: Mfn(s.table), index: s.index }.maddr()
}

/// One `GNTTABOP_map_grant_ref` by dom0.
fn map(x: &mut X, host_addr: u64, flags: u32, gref: u32, dom: u16) -> GnttabMapGrantRef {
    let d0 = x.dom0;
    let (k, hv) = x.w.kh(d0).unwrap();
    let mut op = [GnttabMapGrantRef::new(host_addr, flags, gref, dom)];
    hv.gnttab_map_grant_ref(d0, &mut op, &mut k.internals_mut().guest_mem());
    op[0]
}

fn unmap(x: &mut X, host_addr: u64, handle: u32) -> GntSt {
    let d0 = x.dom0;
    let (k, hv) = x.w.kh(d0).unwrap();
    let mut op = [GnttabUnmapGrantRef::new(host_addr, handle)];
    hv.gnttab_unmap_grant_ref(d0, &mut op, &mut k.internals_mut().guest_mem());
    op[0].status
}

fn entry(x: &X, gref: u64) -> GrantEntryV1 {
    x.w.hv.grant_table(x.domu).unwrap().shared[gref as usize]
}

const A: u64 = 0x7000_0000_0000;
const DOMU: u16 = 1;

#[test]
fn okay_map_writes_the_pte_and_pins_the_entry() {
    let mut x = x();
    let (p, g) = x.grant_page(0x11, false);
    // Linux's first grant ref is NR_RESERVED_ENTRIES (8).
    assert_eq!(g, 8);
    let mfn = x.w.pfn_to_mfn(x.domu, p).unwrap();
    assert_eq!(entry(&x, g), GrantEntryV1 { flags: GTF_PERMIT_ACCESS, domid: x.dom0, frame: mfn as u32 });
    let h = pte_addr(&mut x, A);
    let op = map(&mut x, h, USER_MAP, g as u32, DOMU);
    assert_eq!((op.status, op.handle, op.dev_bus_addr), (GntSt::Okay, 0, mfn << 12));
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS | GTF_READING | GTF_WRITING);
    let pte = {
        let (k, _) = x.w.kh(x.dom0).unwrap();
        k.page_tables().pte(k.mm(x.qemu).unwrap().pgd, A)
    };
    assert_eq!(pte.frame(), mfn);
    assert!(pte.flags().contains(PteFlags::PRESENT | PteFlags::USER | PteFlags::RW | PteFlags::SPECIAL | PteFlags::NX));
    let at = PteMaddr { table: Mfn(h >> 12), index: ((h & 0xfff) >> 3) as u16 };
    assert!(x.w.hv.is_grant_pte(x.dom0, at));
    assert_eq!(unmap(&mut x, h, op.handle), GntSt::Okay);
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS, "reading/writing cleared with the last pin");
    assert!(!x.w.hv.is_grant_pte(x.dom0, at));
}

#[test]
fn writing_clears_with_the_last_writable_pin() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let h1 = pte_addr(&mut x, A);
    let h2 = pte_addr(&mut x, A + PS);
    let rw = map(&mut x, h1, USER_MAP, g as u32, DOMU);
    let ro = map(&mut x, h2, USER_MAP | GNTMAP_READONLY, g as u32, DOMU);
    assert_eq!((rw.status, ro.status), (GntSt::Okay, GntSt::Okay));
    assert_eq!(x.w.hv.grant_table(x.domu).unwrap().active[g as usize].pin, GNTPIN_HSTW_INC + GNTPIN_HSTR_INC);
    assert_eq!(unmap(&mut x, h1, rw.handle), GntSt::Okay);
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS | GTF_READING);
    assert_eq!(unmap(&mut x, h2, ro.handle), GntSt::Okay);
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS);
}

#[test]
fn bad_gntref_for_flags_without_a_mapping_and_refs_past_the_table() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let h = pte_addr(&mut x, A);
    // Neither host_map nor device_map: checked first, before the domain.
    assert_eq!(map(&mut x, h, GNTMAP_APPLICATION_MAP | GNTMAP_CONTAINS_PTE, g as u32, 77).status, GntSt::BadGntref);
    // One grant frame = 512 v1 entries.
    assert_eq!(map(&mut x, h, USER_MAP, 512, DOMU).status, GntSt::BadGntref);
    assert_eq!(map(&mut x, h, USER_MAP, u32::MAX, DOMU).status, GntSt::BadGntref);
    assert!(x.w.hv.log.iter().any(|l| l.contains("Bad ref 0x200 for d1")), "{:?}", x.w.hv.log);
}

#[test]
fn bad_domain_for_an_unknown_granter() {
    let mut x = x();
    let h = pte_addr(&mut x, A);
    assert_eq!(map(&mut x, h, USER_MAP, 8, 77).status, GntSt::BadDomain);
    assert_eq!(map(&mut x, h, USER_MAP, 8, u16::MAX).status, GntSt::BadDomain);
}

#[test]
fn general_error_cases() {
    let mut x = x();
    let h = pte_addr(&mut x, A);
    // Never issued: the entry is not GTF_permit_access.
    assert_eq!(map(&mut x, h, USER_MAP, 9, DOMU).status, GntSt::GeneralError);
    // Addressed to another domain (domU grants to itself).
    let p = x.w.alloc_page(x.domu).unwrap();
    let g_self = x.w.gnttab_grant_foreign_access(x.domu, p, x.domu, false).unwrap();
    assert_eq!(map(&mut x, h, USER_MAP, g_self as u32, DOMU).status, GntSt::GeneralError);
    // Write map of a read-only grant; the read-only map works.
    let (_p, g_ro) = x.grant_page(0, true);
    assert_eq!(map(&mut x, h, USER_MAP, g_ro as u32, DOMU).status, GntSt::GeneralError);
    assert_eq!(entry(&x, g_ro).flags, GTF_PERMIT_ACCESS | GTF_READONLY, "nothing left set");
    assert_eq!(map(&mut x, h, USER_MAP | GNTMAP_READONLY, g_ro as u32, DOMU).status, GntSt::Okay);
    // host_addr not a PTE in an L1 table of the caller, or misaligned.
    let (_p, g) = x.grant_page(0, false);
    let domu_frame = x.w.pfn_to_mfn(x.domu, p).unwrap();
    assert_eq!(map(&mut x, domu_frame << 12, USER_MAP, g as u32, DOMU).status, GntSt::GeneralError);
    let h2 = pte_addr(&mut x, A + PS);
    assert_eq!(map(&mut x, h2 + 1, USER_MAP, g as u32, DOMU).status, GntSt::GeneralError);
    // A linear address outside the kernel direct map.
    assert_eq!(map(&mut x, 0x1000, GNTMAP_HOST_MAP, g as u32, DOMU).status, GntSt::GeneralError);
    // After the failures the entry is untouched and every handle went back
    // to the *tail* of the maptrack free list (put_maptrack_handle): the
    // r/o map got handle 3 (after the three failures), the next map the
    // next fresh handle, 7.
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS);
    let ok = map(&mut x, h2, USER_MAP, g as u32, DOMU);
    assert_eq!((ok.status, ok.handle), (GntSt::Okay, 7));
    assert_eq!(x.w.hv.grants.records().map(|r| r.handle).collect::<Vec<_>>(), vec![3, 7]);
    assert!(x.w.hv.log.iter().any(|l| l.contains("Attempt to write-pin a r/o grant entry")));
}

#[test]
fn general_error_when_pinned_by_another_domain() {
    // A third domain maps domU's grant to dom0: the entry names dom0, and
    // once dom0 pinned it, `act->domid != ld` fails first.
    let mut x = x();
    let d2 = x.w.add_xen_domain("dom2", true, 1024, false).unwrap();
    let (_p, g) = x.grant_page(0, false);
    let h = pte_addr(&mut x, A);
    assert_eq!(map(&mut x, h, USER_MAP, g as u32, DOMU).status, GntSt::Okay);
    let (k, hv) = x.w.kh(d2).unwrap();
    let mut op = [GnttabMapGrantRef::new(
        mmsim::kernel::xen::pfn_to_kaddr(mmsim::kernel::page::Pfn(100)),
        GNTMAP_HOST_MAP,
        g as u32,
        1,
    )];
    hv.gnttab_map_grant_ref(d2, &mut op, &mut k.internals_mut().guest_mem());
    assert_eq!(op[0].status, GntSt::GeneralError);
    assert!(x.w.hv.log.iter().any(|l| l.contains("Bad domain (0 != 2)")), "{:?}", x.w.hv.log);
}

#[test]
fn bad_page_for_a_frame_the_granter_does_not_own() {
    let mut x = x();
    // A PFN above domU's RAM has no memory: Linux grants frame ~0 anyway.
    let (k, _) = x.w.kh(x.domu).unwrap();
    let ballooned = k.memmap().len() - 1;
    assert_eq!(x.w.pfn_to_mfn(x.domu, ballooned), Ok(u64::MAX));
    let g = x.w.gnttab_grant_foreign_access(x.domu, ballooned, x.dom0, false).unwrap();
    assert_eq!(entry(&x, g).frame, u32::MAX);
    let h = pte_addr(&mut x, A);
    assert_eq!(map(&mut x, h, USER_MAP, g as u32, DOMU).status, GntSt::BadPage);
    assert_eq!(entry(&x, g).flags, GTF_PERMIT_ACCESS, "unlock_out_clear undid reading/writing");
}

#[test]
fn no_space_when_maptrack_is_full() {
    let mut x = x();
    x.w.hv.set_max_maptrack_frames(x.dom0, 1);
    // An entry takes at most 127 pins of a kind (`act->pin & 0x80808080`
    // is "risk of counter overflow"): use three grants.
    let grefs: Vec<u64> = (0..3).map(|_| x.grant_page(0, true).1).collect();
    let k = x.w.kernel(x.dom0).unwrap();
    let nr = k.memmap().len();
    // Kernel-address maps of local pages: 255 handles fit in one maptrack
    // page (one entry always stays on the free list).
    let mut statuses = Vec::new();
    for i in 0..256u64 {
        let addr = mmsim::kernel::xen::pfn_to_kaddr(mmsim::kernel::page::Pfn(nr - 1 - i));
        let g = grefs[(i / 100) as usize];
        statuses.push(map(&mut x, addr, GNTMAP_HOST_MAP | GNTMAP_READONLY, g as u32, DOMU).status);
    }
    assert!(statuses[..255].iter().all(|s| *s == GntSt::Okay), "{statuses:?}");
    // Current Xen map_grant_ref: `op->status = GNTST_no_space` when
    // get_maptrack_handle() fails ("gnttab: GNTST_no_space"; earlier Xen
    // said GNTST_no_device_space, -7, an I/O MMU status).
    assert_eq!(statuses[255], GntSt::NoSpace);
    assert_eq!(statuses[255].code(), -13);
    assert_eq!(x.w.hv.grant_table(x.domu).unwrap().active[grefs[2] as usize].pin, 55 * GNTPIN_HSTR_INC);
    assert!(x.w.hv.log.iter().any(|l| l.contains("Failed to obtain maptrack handle")));
}

#[test]
fn pin_counter_overflow_is_general_error() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, true);
    let nr = x.w.kernel(x.dom0).unwrap().memmap().len();
    let st: Vec<GntSt> = (0..129u64)
        .map(|i| {
            let addr = mmsim::kernel::xen::pfn_to_kaddr(mmsim::kernel::page::Pfn(nr - 1 - i));
            map(&mut x, addr, GNTMAP_HOST_MAP | GNTMAP_READONLY, g as u32, DOMU).status
        })
        .collect();
    assert!(st[..128].iter().all(|s| *s == GntSt::Okay));
    assert_eq!(st[128], GntSt::GeneralError, "pin 0x8000: bit 15 set");
}

#[test]
fn bad_handle_for_unknown_or_unmapped_handles() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let h = pte_addr(&mut x, A);
    assert_eq!(unmap(&mut x, h, 0), GntSt::BadHandle, "no maptrack page yet");
    let op = map(&mut x, h, USER_MAP, g as u32, DOMU);
    assert_eq!(unmap(&mut x, h, 12345), GntSt::BadHandle);
    assert_eq!(unmap(&mut x, h, INVALID_GRANT_HANDLE), GntSt::BadHandle);
    assert_eq!(unmap(&mut x, h, op.handle), GntSt::Okay);
    assert_eq!(unmap(&mut x, h, op.handle), GntSt::BadHandle, "zero flags once unmapped");
}

#[test]
fn unmap_of_a_pte_that_no_longer_matches_is_refused() {
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let h = pte_addr(&mut x, A);
    let h2 = pte_addr(&mut x, A + PS);
    let op = map(&mut x, h, USER_MAP, g as u32, DOMU);
    // The wrong PTE address: replace_grant_pv_mapping finds another frame.
    assert_eq!(unmap(&mut x, h2, op.handle), GntSt::GeneralError);
    assert_eq!(entry(&x, g).flags & GTF_READING, GTF_READING, "still mapped");
    assert_eq!(unmap(&mut x, h, op.handle), GntSt::Okay);
}

#[test]
fn grant_refs_come_from_a_lifo_free_list_and_the_table_grows() {
    let mut x = x();
    let p = x.w.alloc_page(x.domu).unwrap();
    let refs: Vec<u64> = (0..600).map(|_| x.w.gnttab_grant_foreign_access(x.domu, p, x.dom0, true).unwrap()).collect();
    assert_eq!(refs[0], 8);
    assert_eq!(refs[503], 511);
    assert_eq!(refs[504], 512, "gnttab_expand: a second frame");
    assert_eq!(x.w.hv.grant_table(x.domu).unwrap().nr_grant_entries(), 1024);
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, 100), Ok(0));
    assert_eq!(x.w.gnttab_grant_foreign_access(x.domu, p, x.dom0, true), Ok(100), "put_free_entry at the head");
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, 7), Err(XenError::Errno(Errno::EINVAL)), "reserved, never issued");
    assert_eq!(x.w.gnttab_end_foreign_access(x.domu, 1 << 40), Err(XenError::Errno(Errno::EINVAL)));
    assert_eq!(XenError::Errno(Errno::EINVAL).ret(), -22);
    assert_eq!(XenError::Gntst(GntSt::BadPage).ret(), -9);
}

#[test]
fn grant_table_is_bounded_by_max_grant_frames() {
    let mut x = x();
    let p = x.w.alloc_page(x.domu).unwrap();
    let n = (DEFAULT_MAX_GRANT_FRAMES * GREFS_PER_GRANT_FRAME - GNTTAB_NR_RESERVED_ENTRIES) as usize;
    for _ in 0..n {
        x.w.gnttab_grant_foreign_access(x.domu, p, x.dom0, true).unwrap();
    }
    assert_eq!(x.w.gnttab_grant_foreign_access(x.domu, p, x.dom0, true), Err(XenError::Errno(Errno::ENOSPC)));
}

#[test]
fn grants_need_a_pv_guest() {
    let mut w = mmsim::world::World::new(65536, variant(VariantKind::FindSpecialPage, None));
    let n = w.add_xen_domain("host", false, 1024, false).unwrap();
    let p = w.alloc_page(n).unwrap();
    assert_eq!(w.gnttab_grant_foreign_access(n, p, 0, false), Err(XenError::Errno(Errno::ENODEV)));
    let (k, hv) = w.kh(n).unwrap();
    let pid = k.spawn(0, 0x7fff_f7ff_f000, 0x5555_0000_0000).unwrap();
    assert_eq!(k.sys_open(hv, pid, "/dev/xen/gntdev", O_RDWR), Err(Errno::ENOENT), "no device outside Xen");
}

#[test]
fn pin_overflow_is_checked_per_counter_kind() {
    // Xen 4.15+ map_grant_ref: `act->pin & GNTPIN_incr2oflow_mask(pin_incr)`
    // checks only the counters this op increments; the fixed 0x80808080
    // mask before it refused any map once one counter reached 128.
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let nr = x.w.kernel(x.dom0).unwrap().memmap().len();
    let kaddr = |i: u64| mmsim::kernel::xen::pfn_to_kaddr(mmsim::kernel::page::Pfn(nr - 1 - i));
    for i in 0..128u64 {
        let op = map(&mut x, kaddr(i), GNTMAP_HOST_MAP | GNTMAP_READONLY, g as u32, DOMU);
        assert_eq!(op.status, GntSt::Okay, "read-only map {i}");
    }
    let pin = x.w.hv.grant_table(x.domu).unwrap().active[g as usize].pin;
    assert_eq!(pin, 128 * GNTPIN_HSTR_INC, "hstr counter at 0x80: its top bit set");
    // A writable host map increments hstw only: allowed.
    let rw = map(&mut x, kaddr(128), GNTMAP_HOST_MAP, g as u32, DOMU);
    assert_eq!(rw.status, GntSt::Okay, "hstw is not the counter at risk");
    assert_eq!(gntpin_incr2oflow_mask(gntpin_incr(GNTMAP_HOST_MAP)), 0x80);
    assert_eq!(gntpin_incr2oflow_mask(gntpin_incr(GNTMAP_HOST_MAP | GNTMAP_READONLY)), 0x8000);
    // Another read-only host map would overflow hstr: general_error.
    let ro = map(&mut x, kaddr(129), GNTMAP_HOST_MAP | GNTMAP_READONLY, g as u32, DOMU);
    assert_eq!(ro.status, GntSt::GeneralError);
    assert!(
        x.w.hv.log.iter().any(|l| l.contains("or risk of counter overflow 00008001, or subpage 0")),
        "{:?}",
        x.w.hv.log
    );
}

#[test]
fn unmap_with_a_wrong_bus_address_is_bad_dev_addr() {
    // Current Xen unmap_common: `op->dev_bus_addr && (flags &
    // GNTMAP_device_map) && op->dev_bus_addr != mfn_to_maddr(act->mfn)` is
    // GNTST_bad_dev_addr, "Bus address doesn't match gntref"; the mapping
    // stays.
    let mut x = x();
    let (_p, g) = x.grant_page(0, false);
    let nr = x.w.kernel(x.dom0).unwrap().memmap().len();
    let kaddr = mmsim::kernel::xen::pfn_to_kaddr(mmsim::kernel::page::Pfn(nr - 1));
    let op = map(&mut x, kaddr, GNTMAP_HOST_MAP | GNTMAP_DEVICE_MAP, g as u32, DOMU);
    assert_eq!(op.status, GntSt::Okay);
    assert_ne!(op.dev_bus_addr, 0);
    let unmap_dev = |x: &mut X, bus: u64| {
        let d0 = x.dom0;
        let (k, hv) = x.w.kh(d0).unwrap();
        let mut u = [GnttabUnmapGrantRef::new(kaddr, op.handle)];
        u[0].dev_bus_addr = bus;
        hv.gnttab_unmap_grant_ref(d0, &mut u, &mut k.internals_mut().guest_mem());
        u[0].status
    };
    assert_eq!(unmap_dev(&mut x, op.dev_bus_addr + 4096), GntSt::BadDevAddr);
    assert_eq!(GntSt::BadDevAddr.code(), -6);
    assert!(x.w.hv.log.iter().any(|l| l.contains("Bus address doesn't match gntref")));
    assert_eq!(entry(&x, g).flags & GTF_WRITING, GTF_WRITING, "still mapped");
    assert_eq!(unmap_dev(&mut x, op.dev_bus_addr), GntSt::Okay);
    assert_eq!(entry(&x, g).flags & (GTF_READING | GTF_WRITING), 0, "both mappings gone");
}
