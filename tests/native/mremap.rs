//! mremap(2): the model against this machine's kernel (Linux 6.18).
use super::util::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::mremap::*;

const MM: u64 = MREMAP_MAYMOVE;
const FX: u64 = MREMAP_MAYMOVE | MREMAP_FIXED;
const DU: u64 = MREMAP_DONTUNMAP;

#[test]
fn argument_checks_in_order() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    let e = Err(Errno::EINVAL);
    assert_eq!(d.mremap(0, P, P, 8, 0), e, "unknown flag");
    assert_eq!(d.mremap(1, P, P, 0, 0), e, "unaligned");
    assert_eq!(d.mremap(0, P, 0, 0, 0), e, "new_len 0");
    assert_eq!(d.mremap(0, P, 1 << 47, 0, 0), e, "new_len > TASK_SIZE");
    assert_eq!(d.mremap(0, P, P, MREMAP_FIXED, 0x10000), e, "FIXED needs MAYMOVE");
    assert_eq!(d.mremap(0, P, P, DU, 0x10000), e, "DONTUNMAP needs MAYMOVE");
    assert_eq!(d.mremap(0, P, P, FX, 0x10001), e, "unaligned new_addr");
    assert_eq!(d.mremap(0, P, 2 * P, MM | DU, 0x10000), e, "DONTUNMAP resizing");
    assert_eq!(d.mremap(0, 2 * P, P, FX, P), e, "overlap");
    assert_eq!(d.mremap_abs(d.a(0), P, P, FX, (1 << 47) - P), e, "new_addr beyond TASK_SIZE");
    // Without FIXED/DONTUNMAP new_addr is ignored.
    assert_eq!(d.mremap_abs(d.a(0), P, P, 0, 0xffff_ffff_ffff_f000), Ok(d.a(0)));
    // No VMA: EFAULT for every kind of request.
    for (f, n) in [(0, P), (MM, 2 * P), (FX, P), (MM | DU, P)] {
        assert_eq!(d.mremap(0x100000, P, n, f, 0x200000), Err(Errno::EFAULT));
    }
    // Old range running past the VMA: EFAULT to grow, fine to shrink.
    assert_eq!(d.mremap(0, 5 * P, 6 * P, MM, 0), Err(Errno::EFAULT));
    assert_eq!(d.mremap(P, 4 * P, P, 0, 0), Ok(d.a(P)));
    d.layout();
    // old_len 0 on private memory.
    for (f, n) in [(FX, 4 * P), (0, P), (MM, 4 * P)] {
        assert_eq!(d.mremap(0, 0, n, f, 0x10000), e);
    }
}

#[test]
fn shrink_grow_move_keep_pages() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 4, 9);
    let pid = d.pid;
    let pfn_at = |d: &mut Dual, off: u64| {
        let a = d.a(off);
        let (k, hv) = d.k();
        let pgd = k.mm(pid).unwrap().pgd;
        k.pte_pfn(hv, k.page_tables().pte(pgd, a))
    };
    let before = pfn_at(&mut d, 0);
    assert_eq!(d.mremap(0, 4 * P, 2 * P, 0, 0), Ok(d.a(0)));
    d.layout();
    assert_eq!(d.mremap(0, 2 * P, 4 * P, 0, 0), Ok(d.a(0)), "grow in place");
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 0, 0]);
    d.anon(4 * P, 1, RW).unwrap();
    assert_eq!(d.mremap(0, 4 * P, 6 * P, 0, 0), Err(Errno::ENOMEM), "blocked, may not move");
    // Move to a fixed place: same pages, same data, source gone.
    assert_eq!(d.mremap(0, 4 * P, 4 * P, FX, 0x100000), Ok(d.a(0x100000)));
    assert_eq!(pfn_at(&mut d, 0x100000), before, "the page moved, not copied");
    assert_eq!(d.bytes(0x100000, 2), vec![9, 9]);
    assert_eq!(d.mincore(0x100000, 4).unwrap(), vec![1, 1, 0, 0]);
    d.layout();
    // Grow with a move to a fixed place.
    assert_eq!(d.mremap(0x100000, 4 * P, 8 * P, FX, 0x200000), Ok(d.a(0x200000)));
    assert_eq!(d.bytes(0x200000, 2), vec![9, 9]);
    d.layout();
}

#[test]
fn dontunmap() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 4, 4);
    d.mlock(0, 4 * P).unwrap();
    assert_eq!(d.mremap(P, 2 * P, 2 * P, FX | DU, 0x10000), Ok(d.a(0x10000)));
    // The whole source VMA loses its lock, keeps its range; the moved
    // pages are gone from it.
    let l = d.layout();
    assert_eq!(l.len(), 2, "{l:?}");
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(d.mincore(0x10000, 2).unwrap(), vec![1, 1]);
    assert_eq!(d.bytes(0, 2), vec![4, 0], "empty source reads zero");
    assert_eq!(d.bytes(0x10000, 2), vec![4, 4]);
    // Shared memory may be moved with DONTUNMAP too.
    d.shared(0x20000, 2, RW).unwrap();
    assert_eq!(d.mremap(0x20000, 2 * P, 2 * P, FX | DU, 0x30000), Ok(d.a(0x30000)));
    d.layout();
}

#[test]
fn duplicate_shared_with_old_len_zero() {
    let mut d = Dual::new();
    d.shared(0, 4, RW).unwrap();
    d.fill(0, 1, 3);
    assert_eq!(d.mremap(0, 0, 4 * P, FX, 0x10000), Ok(d.a(0x10000)));
    assert_eq!(d.bytes(0x10000, 1), vec![3]);
    d.fill(0x10000, 1, 5);
    assert_eq!(d.bytes(0, 1), vec![5], "same object");
    assert_eq!(d.mremap(0, 0, P, 0, 0), Err(Errno::ENOMEM), "cannot grow a duplicate in place");
    d.layout();
}

#[test]
fn merges_after_move() {
    let mut d = Dual::new();
    // Unfaulted anon takes the new pgoff and merges.
    d.anon(0, 4, RW).unwrap();
    d.anon(0x10000, 4, RW).unwrap();
    assert_eq!(d.mremap(0x10000, 4 * P, 4 * P, FX, 4 * P), Ok(d.a(4 * P)));
    assert_eq!(d.layout().len(), 1);
    // Faulted anon keeps its pgoff: no merge.
    d.anon(0x100000, 4, RW).unwrap();
    d.anon(0x110000, 4, RW).unwrap();
    d.fill(0x110000, 1, 1);
    d.mremap(0x110000, 4 * P, 4 * P, FX, 0x104000).unwrap();
    assert_eq!(d.layout().len(), 3);
    // Moving a part away and back restores one VMA.
    d.anon(0x200000, 8, RW).unwrap();
    d.fill(0x200000, 8, 1);
    d.mremap(0x204000, 4 * P, 4 * P, FX, 0x300000).unwrap();
    d.mremap(0x300000, 4 * P, 4 * P, FX, 0x204000).unwrap();
    assert_eq!(d.layout().len(), 4);
    // Part of a VMA moved inside its own VMA: three pieces.
    d.anon(0x400000, 8, RW).unwrap();
    d.fill(0x400000, 8, 1);
    d.mremap(0x400000, 2 * P, 2 * P, FX, 0x404000).unwrap();
    assert_eq!(d.layout().len(), 7);
}

#[test]
fn multi_vma_move() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.anon(4 * P, 4, RO).unwrap();
    d.anon(9 * P, 1, RW).unwrap();
    d.fill(P, 1, 6);
    assert_eq!(d.mremap(P, 9 * P, 9 * P, FX, 0x10000), Ok(d.a(0x10000)));
    let l = d.layout();
    assert_eq!(l.len(), 4, "{l:?}");
    assert_eq!(d.bytes(0x10000, 1), vec![6]);
    d.anon(0x101000, 4, RW).unwrap();
    assert_eq!(d.mremap(0x100000, 5 * P, 5 * P, FX, 0x200000), Err(Errno::EFAULT), "gap at start");
}

#[test]
fn sealed_and_special() {
    let mut d = Dual::new();
    d.anon(0, 2, RW).unwrap();
    d.mseal(0, P, 0).unwrap();
    assert_eq!(d.mremap(0, P, 2 * P, MM, 0), Err(Errno::EPERM));
    assert_eq!(d.mremap(0, P, P, FX, 0x10000), Err(Errno::EPERM));
    d.anon(0x20000, 1, RW).unwrap();
    assert_eq!(d.mremap(0x20000, P, P, FX, 0), Err(Errno::EPERM), "sealed target");
    d.layout();
}

#[test]
fn locked_grow_populates_and_counts() {
    let mut d = Dual::new();
    d.anon(0, 2, RW).unwrap();
    d.mlock(0, 2 * P).unwrap();
    assert_eq!(d.mremap(0, 2 * P, 4 * P, 0, 0), Ok(d.a(0)));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 1, 1], "grown part populated");
    assert_eq!(d.locked().0, 4);
    d.layout();
}

#[test]
fn guard_markers_move() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 1, 5);
    d.madvise(P, P, 102).unwrap();
    assert_eq!(d.mremap(0, 4 * P, 4 * P, FX, 0x100000), Ok(d.a(0x100000)));
    assert_eq!(d.mincore(0x100000, 4).unwrap(), vec![1, 0, 0, 0]);
    assert_eq!(d.madvise(0x100000, 4 * P, 23), Err(Errno::EFAULT));
    let a = d.a(0x101000);
    assert_eq!(d.real_touch(a, false), 100 + SEGV_MAPERR);
    d.layout();
}
