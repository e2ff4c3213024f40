//! mm/gup.c: `check_vma_flags`, partial results, the pin bias, and
//! allocation failure while faulting pages in.

use super::*;
use crate::errno::Errno;
use crate::kernel::gup::{FOLL_FORCE, FOLL_GET, FOLL_PIN, FOLL_WRITE, FollFlags};
use crate::kernel::page::GUP_PIN_COUNTING_BIAS;

fn gup(t: &mut T, page: u64, nr: u64, flags: FollFlags) -> Result<Vec<crate::kernel::gup::GupPage>, Errno> {
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.get_user_pages(hv, pid, BASE + page * P, nr, flags)
}

/// `check_vma_flags()`: a write to a VMA without VM_WRITE is -EFAULT
/// unless FOLL_FORCE on a COW mapping with VM_MAYWRITE; a read of a VMA
/// without VM_READ (PROT_NONE) is -EFAULT without FOLL_FORCE.
#[test]
fn check_vma_flags_errors() {
    let mut t = T::new(256);
    t.anon(0, 2, RO).unwrap();
    t.anon(4, 2, 0).unwrap();
    // AA  BB  (A read-only, B PROT_NONE)
    assert_eq!(t.picture(t.pid, 6), "AA  BB");
    assert_eq!(gup(&mut t, 0, 1, FOLL_WRITE | FOLL_GET).map(|v| v.len()), Err(Errno::EFAULT));
    assert_eq!(gup(&mut t, 4, 1, FOLL_GET).map(|v| v.len()), Err(Errno::EFAULT));
    // Reading the read-only one works (the zero page: not refcounted).
    let got = gup(&mut t, 0, 1, FOLL_GET).unwrap();
    assert_eq!(got.len(), 1);
    for p in got {
        t.k.gup_release(p);
    }
}

/// FOLL_FORCE writes to a private read-only mapping (ptrace's path) are
/// allowed (`check_vma_flags`: COW mapping with VM_MAYWRITE); the page is
/// a private anonymous one and the PTE stays read-only: `do_wp_page` ->
/// `wp_page_reuse` uses `maybe_mkwrite()`, which sets the write bit only
/// for VM_WRITE, and 6.x `can_follow_write_pte()` lets FOLL_FORCE follow
/// the read-only PTE of an exclusive anonymous page.
#[test]
fn foll_force_write_keeps_pte_read_only() {
    let mut t = T::new(256);
    t.anon(0, 2, RO).unwrap();
    let got = gup(&mut t, 1, 1, FOLL_WRITE | FOLL_FORCE | FOLL_GET).unwrap();
    assert_eq!(got.len(), 1);
    assert!(t.pte(t.pid, 1).present());
    assert!(!t.pte(t.pid, 1).write(), "FOLL_FORCE does not make the PTE writable");
    for p in got {
        t.k.gup_release(p);
    }
}

/// `__get_user_pages()` returns the number of pages it got when it stops
/// early (a hole after the first pages), and the error only when it got
/// none (a start in a hole: -EFAULT).
#[test]
fn partial_then_error() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    // AA**   (GUP of four pages from page 0)
    let got = gup(&mut t, 0, 4, FOLL_WRITE | FOLL_GET).unwrap();
    assert_eq!(got.iter().map(|p| (p.addr - BASE) / P).collect::<Vec<_>>(), vec![0, 1]);
    for p in got {
        t.k.gup_release(p);
    }
    assert_eq!(gup(&mut t, 2, 1, FOLL_GET).map(|v| v.len()), Err(Errno::EFAULT));
}

/// `try_grab_folio()`: FOLL_GET takes one reference, FOLL_PIN on a small
/// folio adds GUP_PIN_COUNTING_BIAS (1024), which
/// `folio_maybe_dma_pinned()` detects; releasing restores the count.
#[test]
fn pin_counting_bias() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    assert!(t.write(t.pid, 0, 7));
    let pfn = t.pfn(t.pid, 0).unwrap();
    assert_eq!(t.k.mem.get(pfn).unwrap().refcount, 1);

    let got = gup(&mut t, 0, 1, FOLL_GET).unwrap();
    assert_eq!(t.k.mem.get(pfn).unwrap().refcount, 2);
    assert!(!t.k.mem.get(pfn).unwrap().maybe_dma_pinned());
    for p in got {
        t.k.gup_release(p);
    }
    assert_eq!(t.k.mem.get(pfn).unwrap().refcount, 1);

    let got = gup(&mut t, 0, 1, FOLL_PIN | FOLL_WRITE).unwrap();
    assert_eq!(got[0].pfn, pfn);
    assert_eq!(t.k.mem.get(pfn).unwrap().refcount, 1 + GUP_PIN_COUNTING_BIAS);
    assert!(t.k.mem.get(pfn).unwrap().maybe_dma_pinned());
    for p in got {
        t.k.gup_release(p);
    }
    assert_eq!(t.k.mem.get(pfn).unwrap().refcount, 1);
}

/// Faulting in several pages, the allocation for the third fails: GUP
/// returns the two it got (a short count, not an error), and the next
/// call starting at the third page gets -ENOMEM.
#[test]
fn allocation_failure_midway() {
    let mut t = T::new(256);
    t.anon(0, 4, RW).unwrap();
    // The table first, so that each page needs exactly one allocation.
    assert_eq!(t.read(t.pid, 3), Some(0));
    t.fail_page_alloc(2 * P + 1, 2);
    let got = gup(&mut t, 0, 4, FOLL_WRITE | FOLL_GET).unwrap();
    assert_eq!(got.len(), 2);
    for p in got {
        t.k.gup_release(p);
    }
    assert_eq!(gup(&mut t, 2, 2, FOLL_WRITE | FOLL_GET).map(|v| v.len()), Err(Errno::ENOMEM));
    // The injection is spent.
    let got = gup(&mut t, 2, 2, FOLL_WRITE | FOLL_GET).unwrap();
    assert_eq!(got.len(), 2);
    for p in got {
        t.k.gup_release(p);
    }
}
