//! mm/memory.c: anonymous faults, the zero page, write-protect faults,
//! zapping, and allocation failure in each (through `fail_page_alloc`).

use super::*;
use crate::kernel::gup::{FOLL_GET, FOLL_WRITE};
use crate::kernel::mm::RssCounter;
use crate::kernel::page::{PageFlags, ZERO_PFN};

fn anon_rss(t: &T) -> i64 {
    t.k.mm(t.pid).unwrap().get_rss(RssCounter::Anon)
}

/// `do_anonymous_page()`: a read fault maps the shared zero page with a
/// special, read-only PTE ("Use the zero-page for reads": `pte_mkspecial(
/// pfn_pte(my_zero_pfn(...)))`) and counts no RSS; the write fault that
/// follows (`do_wp_page` -> `wp_page_copy`, `is_zero_pfn`) allocates a
/// zeroed page, maps it writable and dirty, and counts one anon page.
#[test]
fn read_then_write_fault() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    assert!(t.pte(t.pid, 0).is_none(), "mmap populates nothing");
    assert_eq!(t.read(t.pid, 0), Some(0));
    let pte = t.pte(t.pid, 0);
    assert!(pte.present() && pte.special() && !pte.write());
    assert_eq!(t.pfn(t.pid, 0), Some(ZERO_PFN));
    assert_eq!(anon_rss(&t), 0);

    assert!(t.write(t.pid, 0, 0x5a));
    let pte = t.pte(t.pid, 0);
    assert!(pte.present() && pte.write() && pte.dirty() && !pte.special());
    let pfn = t.pfn(t.pid, 0).unwrap();
    assert_ne!(pfn, ZERO_PFN);
    let page = t.k.mem.get(pfn).unwrap();
    assert!(page.is_anon());
    assert_eq!((page.refcount, page.mapcount), (1, 1));
    assert_eq!(anon_rss(&t), 1);
    assert_eq!(t.read(t.pid, 0), Some(0x5a));
    // The other page is untouched.
    assert!(t.pte(t.pid, 1).is_none());
}

/// A write fault whose page allocation fails is `VM_FAULT_OOM`, which GUP
/// turns into -ENOMEM (mm/gup.c `faultin_page` -> `vm_fault_to_errno`).
/// Nothing is mapped and nothing leaks; once the injection is spent the
/// same fault succeeds.
#[test]
fn anon_fault_allocation_failure() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    // A read fault first, so that the page table exists and the write
    // fault's only allocation is the data page.
    assert_eq!(t.read(t.pid, 0), Some(0));
    let free = t.k.mem.nr_free();
    t.fail_page_alloc(0, 1);
    let (pid, hv) = (t.pid, &mut t.hv);
    assert_eq!(t.k.get_user_pages(hv, pid, BASE, 1, FOLL_WRITE | FOLL_GET).map(|v| v.len()), Err(Errno::ENOMEM));
    assert_eq!(t.pfn(t.pid, 0), Some(ZERO_PFN), "still the zero page");
    assert_eq!(t.k.mem.nr_free(), free);
    assert_eq!(anon_rss(&t), 0);
    // The injection was for one allocation only.
    assert_eq!(t.k.mem.fail_next, 0);
    let (pid, hv) = (t.pid, &mut t.hv);
    let got = t.k.get_user_pages(hv, pid, BASE, 1, FOLL_WRITE | FOLL_GET).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(t.k.mem.nr_free(), free - 1);
    for p in got {
        t.k.gup_release(p);
    }
}

/// `__pte_alloc()` failing (no page for the page table) is VM_FAULT_OOM
/// too: the first touch of a fresh area needs a table before any data
/// page. `fail_space` lets the first page through and fails the next
/// (lib/fault-inject.c `should_fail_ex`: `space` is spent before failing).
#[test]
fn page_table_allocation_failure() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    let free = t.k.mem.nr_free();
    let tables = t.k.pt.nr_tables();
    t.fail_page_alloc(0, 1);
    let (pid, hv) = (t.pid, &mut t.hv);
    assert_eq!(t.k.get_user_pages(hv, pid, BASE, 1, FOLL_WRITE | FOLL_GET).map(|v| v.len()), Err(Errno::ENOMEM));
    assert!(t.pte(t.pid, 0).is_none());
    assert_eq!(t.k.pt.nr_tables(), tables, "no table added");
    assert_eq!(t.k.mem.nr_free(), free);
    // One page of budget (`space` must stay above the size: P + 1 lets one
    // 4 KiB allocation through), then a failure: the first table level
    // gets its page and stays (as in __pud_alloc()), the next one fails;
    // what was allocated is a page table, not a leaked data page.
    t.fail_page_alloc(P + 1, 1);
    let (pid, hv) = (t.pid, &mut t.hv);
    assert_eq!(t.k.get_user_pages(hv, pid, BASE, 1, FOLL_WRITE | FOLL_GET).map(|v| v.len()), Err(Errno::ENOMEM));
    assert_eq!(anon_rss(&t), 0);
    let used = free - t.k.mem.nr_free();
    assert_eq!(used, t.k.pt.nr_tables() - tables, "only page tables were allocated");
}

/// `zap_pte_range()`: munmap drops the RSS count and the page's last
/// reference (it goes back to the allocator); the zero page is only
/// unmapped.
#[test]
fn zap_frees_pages() {
    let mut t = T::new(256);
    t.anon(0, 3, RW).unwrap();
    assert!(t.write(t.pid, 0, 1));
    assert!(t.write(t.pid, 1, 2));
    assert_eq!(t.read(t.pid, 2), Some(0));
    let (p0, p1) = (t.pfn(t.pid, 0).unwrap(), t.pfn(t.pid, 1).unwrap());
    assert_eq!(anon_rss(&t), 2);
    let zero_refs = t.k.mem.get(ZERO_PFN).unwrap().refcount;
    t.munmap(0, 3).unwrap();
    assert_eq!(anon_rss(&t), 0);
    for p in [p0, p1] {
        let page = t.k.mem.get(p).unwrap();
        assert!(page.flags.contains(PageFlags::BUDDY), "pfn {p:?} freed");
        assert_eq!((page.refcount, page.mapcount), (0, 0));
    }
    assert_eq!(t.k.mem.get(ZERO_PFN).unwrap().refcount, zero_refs);
    assert_eq!(t.picture(t.pid, 4), "");
}

use crate::errno::Errno;
