//! kernel/fork.c `dup_mmap` and mm/memory.c `copy_page_range`: what the
//! child gets, COW, pinned pages, and fork failing for lack of memory.

use super::*;
use crate::errno::Errno;
use crate::kernel::gup::{FOLL_PIN, FOLL_WRITE};
use crate::kernel::madvise::MADV_DONTFORK;

fn fork(t: &mut T) -> Result<Pid, Errno> {
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.sys_fork(hv, pid)
}

/// `dup_mmap()` copies every VMA but the VM_DONTCOPY ones
/// (`if (mpnt->vm_flags & VM_DONTCOPY) { ... continue; }`).
#[test]
fn child_layout() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    t.anon(3, 2, RO).unwrap();
    t.anon(6, 2, RW).unwrap();
    let (pid, hv) = (t.pid, &mut t.hv);
    t.k.sys_madvise(hv, pid, BASE + 6 * P, 2 * P, MADV_DONTFORK as u64).unwrap();
    // parent: AA BB CC     child: AA BB
    let child = fork(&mut t).unwrap();
    assert_eq!(t.picture(t.pid, 8), "AA BB CC");
    assert_eq!(t.picture(child, 8), "AA BB");
    assert_eq!(t.spans(child, 8), t.spans(t.pid, 8)[..2].to_vec());
}

/// `copy_present_pte()`: a private writable page is write-protected in
/// both (`is_cow_mapping(vm_flags) && pte_write(pte)`) and shared (one
/// more reference and mapping); the child's write fault copies it
/// (`wp_page_copy`), after which each has its own.
#[test]
fn cow_after_fork() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    assert!(t.write(t.pid, 0, 0x11));
    let pfn = t.pfn(t.pid, 0).unwrap();
    let child = fork(&mut t).unwrap();
    assert_eq!(t.pfn(child, 0), Some(pfn));
    assert!(!t.pte(t.pid, 0).write() && !t.pte(child, 0).write());
    let page = t.k.mem.get(pfn).unwrap();
    assert_eq!((page.refcount, page.mapcount), (2, 2));

    assert!(t.write(child, 0, 0x22));
    let copy = t.pfn(child, 0).unwrap();
    assert_ne!(copy, pfn);
    assert!(t.pte(child, 0).write());
    let page = t.k.mem.get(pfn).unwrap();
    assert_eq!((page.refcount, page.mapcount), (1, 1));
    assert_eq!(t.read(t.pid, 0), Some(0x11));
    assert_eq!(t.read(child, 0), Some(0x22));
}

/// A page that may be DMA-pinned is copied at fork instead of shared
/// (`copy_present_pte()`: `folio_try_dup_anon_rmap_pte()` fails for a
/// maybe-pinned anon folio -> `copy_present_page()`), and the parent's
/// PTE keeps its write permission so the pin stays coherent.
#[test]
fn pinned_page_copied_at_fork() {
    let mut t = T::new(256);
    t.anon(0, 1, RW).unwrap();
    assert!(t.write(t.pid, 0, 0x33));
    let pfn = t.pfn(t.pid, 0).unwrap();
    let (pid, hv) = (t.pid, &mut t.hv);
    let pins = t.k.get_user_pages(hv, pid, BASE, 1, FOLL_PIN | FOLL_WRITE).unwrap();
    let child = fork(&mut t).unwrap();
    let copy = t.pfn(child, 0).unwrap();
    assert_ne!(copy, pfn, "the child gets a copy");
    assert_eq!(t.pfn(t.pid, 0), Some(pfn));
    assert!(t.pte(t.pid, 0).write(), "the parent's PTE is not write-protected");
    assert_eq!(t.read(child, 0), Some(0x33));
    assert_eq!(t.k.mem.get(pfn).unwrap().mapcount, 1);
    for p in pins {
        t.k.gup_release(p);
    }
}

/// Fork runs out of memory in `dup_mmap()` (a page table for the child):
/// -ENOMEM, no child, every page allocated for it freed again
/// (`dup_mm()` -> `mmput()`), and the pid unused (`copy_process()`
/// allocates the pid after `copy_mm()`): the next fork gets it.
#[test]
fn fork_allocation_failure() {
    let mut t = T::new(256);
    t.anon(0, 2, RW).unwrap();
    assert!(t.write(t.pid, 0, 1) && t.write(t.pid, 1, 2));
    let free = t.k.mem.nr_free();
    let procs = t.k.procs.len();
    // The child's pgd gets its page; the next allocation fails.
    t.fail_page_alloc(P + 1, 1);
    assert_eq!(fork(&mut t), Err(Errno::ENOMEM));
    assert_eq!(t.k.procs.len(), procs);
    assert_eq!(t.k.mem.nr_free(), free, "the failed fork's pages came back");
    let pfn = t.pfn(t.pid, 0).unwrap();
    assert_eq!(t.k.mem.get(pfn).unwrap().mapcount, 1);
    // It failed allocating the child's first table, before copying any
    // PTE (copy_pte_range() allocates the destination table first): the
    // parent's PTE was not write-protected.
    assert!(t.pte(t.pid, 0).write());
    let child = fork(&mut t).unwrap();
    assert_eq!(child, t.pid + 1);
    assert_eq!(t.read(child, 1), Some(2));
}
