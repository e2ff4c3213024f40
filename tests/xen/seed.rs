//! The seed scenario (examples/seed.mms) under every kernel variant.
//!
//! Expected values: Linux >= 4.0 (find_special_page) makes O_DIRECT into a
//! gntdev mapping land in the granter's page (gntdev.c
//! `gntdev_vma_find_special_page`, mm/memory.c `vm_normal_page`); without
//! the hook a special PTE gives GUP no page (6.18 `follow_pfn_pte`:
//! -EEXIST); without the special bit `mfn_to_pfn()` of a foreign MFN fails
//! (arch/x86/include/asm/xen/page.h) and `pte_pfn` reads as 0; the 3.x m2p
//! override answers with the newest local page mapping the MFN.

use super::common::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::variant::VariantKind;

#[test]
fn find_special_page_o_direct_lands_in_the_granted_page() {
    let mut x = setup(variant(VariantKind::FindSpecialPage, None));
    let (p, _g, _fd, a, d) = x.seed_mapping();
    assert_eq!(x.pread(x.qemu, d, a, 4096, 0), Ok(4096));
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4]);
    let v = x.check();
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn no_find_special_page_gup_finds_no_page() {
    let mut x = setup(variant(VariantKind::NoFindSpecialPage, None));
    let (p, _g, _fd, a, d) = x.seed_mapping();
    // 6.18 follow_pfn_pte(): -EEXIST when pages were requested.
    assert_eq!(x.pread(x.qemu, d, a, 4096, 0), Err(Errno::EEXIST));
    assert_eq!(x.domu_page(p, 4), vec![0; 4]);
    let v = x.check();
    assert!(has(&v, "gup-wrong-page"), "{v:#?}");
}

#[test]
fn no_special_pte_gup_takes_the_wrong_page() {
    let mut x = setup(variant(VariantKind::NoSpecialPte, None));
    let (p, _g, _fd, a, d) = x.seed_mapping();
    let r = x.pread(x.qemu, d, a, 4096, 0);
    assert_eq!(x.domu_page(p, 4), vec![0; 4], "the data did not reach domU ({r:?})");
    let v = x.check();
    assert!(has(&v, "gup-wrong-page"), "{v:#?}");
    assert!(has(&v, "dma-misdirected"), "{v:#?}");
}

#[test]
fn m2p_override_one_mapping_is_right() {
    let mut x = setup(variant(VariantKind::M2pOverride, None));
    let (p, _g, _fd, a, d) = x.seed_mapping();
    assert_eq!(x.pread(x.qemu, d, a, 4096, 0), Ok(4096));
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4]);
    let v = x.check();
    // Only mm.rs's rss rule objects: it exempts PG_foreign pages, which 3.x
    // did not have, so the Xen-written PTE counts as a file page there.
    assert!(v.iter().all(|x| x.invariant == "rss-counter"), "{v:#?}");
}

#[test]
fn m2p_override_second_mapping_of_the_same_grant_breaks_it() {
    let mut x = setup(variant(VariantKind::M2pOverride, None));
    let (p, g, fd, a, d) = x.seed_mapping();
    let q = x.qemu;
    let off2 = x.map_grant_ref(q, fd, x.domu, &[g]).unwrap();
    let _b = x.mmap_shared(q, PS, fd, off2).unwrap();
    // I/O into the first mapping: the override answers with the newest
    // page (the second mapping's), so GUP holds the wrong struct page.
    assert_eq!(x.pread(x.qemu, d, a, 4096, 0), Ok(4096));
    assert_eq!(x.domu_page(p, 4), vec![0x5a; 4], "same MFN: the bytes still land");
    let v = x.check();
    assert!(has(&v, "gup-wrong-page"), "{v:#?}");
}
