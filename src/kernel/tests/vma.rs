//! mm/vma.c: merge and split, after tools/testing/vma/vma.c
//! (`test_merge_new`, `test_merge_existing`, `test_anon_vma_non_mergeable`,
//! `test_vma_merge_special_flags`) and the `max_map_count` rules of
//! `split_vma()` / `vms_gather_munmap_vmas()`. Pictures: one column a page
//! from `BASE`, VMAs lettered in address order.

use super::*;
use crate::errno::Errno;
use crate::kernel::mm_types::{VmFlags, Vma};

/// `test_merge_new`: new anonymous ranges merge with the neighbours they
/// touch (mm/vma.c `vma_merge_new_range`, `can_vma_merge_left/right`).
#[test]
fn merge_new() {
    let mut t = T::new(256);
    // 0123456789abc
    // AA B       C
    t.anon(0, 2, RW).unwrap();
    t.anon(3, 1, RW).unwrap();
    t.anon(0xb, 1, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AA B       C");

    // No merge: 7-9 touches nothing.
    // AA B   **  C  ->  AA B   CC  D
    t.anon(7, 2, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AA B   CC  D");
    assert_eq!(t.map_count(t.pid), 4);

    // Merge both sides: A absorbs the new page and B.
    // AA*B   CC  D  ->  AAAA   BB  C
    t.anon(2, 1, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AAAA   BB  C");
    assert_eq!(t.spans(t.pid, 13)[0], (0, 4, anon_pgoff(0)));
    assert_eq!(t.map_count(t.pid), 3);

    // Merge with the previous VMA only: A is extended.
    // AAAA*  BB  C  ->  AAAAA  BB  C
    t.anon(4, 1, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AAAAA  BB  C");
    assert_eq!(t.map_count(t.pid), 3);

    // Merge with the next VMA only: B is prepended, its pgoff moves down.
    // AAAAA *BB  C  ->  AAAAA BBB  C
    t.anon(6, 1, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AAAAA BBB  C");
    assert_eq!(t.spans(t.pid, 13)[1], (6, 9, anon_pgoff(6)));

    // Both sides again, then the last gap: one VMA.
    // AAAAA*BBB  C  ->  AAAAAAAAA  B  ->  AAAAAAAAAAAA
    t.anon(5, 1, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AAAAAAAAA  B");
    assert_eq!(t.map_count(t.pid), 2);
    t.anon(9, 2, RW).unwrap();
    assert_eq!(t.picture(t.pid, 13), "AAAAAAAAAAAA");
    assert_eq!(t.spans(t.pid, 13), vec![(0, 12, anon_pgoff(0))]);
    assert_eq!(t.map_count(t.pid), 1);
}

/// `can_vma_merge_right()`: prev and next may each be compatible with the
/// new range yet not with each other (two anon_vmas): only the left merge.
#[test]
fn merge_new_incompatible_anon_vmas() {
    let mut t = T::new(256);
    // AA*BB, A and B faulted separately (anon_vma_prepare: one each).
    t.anon(0, 2, RW).unwrap();
    t.anon(3, 2, RW).unwrap();
    assert!(t.write(t.pid, 0, 1) && t.write(t.pid, 3, 1));
    assert_eq!(t.picture(t.pid, 6), "AA BB");
    t.anon(2, 1, RW).unwrap();
    // AAABB: the new page joined A; B stays.
    assert_eq!(t.picture(t.pid, 6), "AAABB");
    assert_eq!(t.spans(t.pid, 6), vec![(0, 3, anon_pgoff(0)), (3, 5, anon_pgoff(3))]);
}

/// `test_merge_existing`: mprotect of part or all of a VMA merges what
/// changed with a neighbour of the same flags (`vma_modify_flags` ->
/// `vma_merge_existing_range`).
#[test]
fn merge_existing() {
    // Merge right, partial span.
    //    <->
    //   VVVVNNN  ->    VNNNNNN
    let mut t = T::new(256);
    t.anon(2, 4, RW).unwrap();
    t.anon(6, 3, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "  AAAABBB");
    t.mprotect(3, 3, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "  ABBBBBB");
    assert_eq!(t.spans(t.pid, 10), vec![(2, 3, anon_pgoff(2)), (3, 9, anon_pgoff(3))]);

    // Merge right, full span: V is deleted.
    //   <-->
    //   VVVVNNN  ->    NNNNNNN
    let mut t = T::new(256);
    t.anon(2, 4, RW).unwrap();
    t.anon(6, 3, RO).unwrap();
    t.mprotect(2, 4, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "  AAAAAAA");
    assert_eq!(t.spans(t.pid, 10), vec![(2, 9, anon_pgoff(2))]);

    // Merge left, partial span.
    //    <->
    // PPPVVVV  ->  PPPPPPV
    let mut t = T::new(256);
    t.anon(0, 3, RO).unwrap();
    t.anon(3, 4, RW).unwrap();
    t.mprotect(3, 3, RO).unwrap();
    assert_eq!(t.picture(t.pid, 8), "AAAAAAB");
    assert_eq!(t.spans(t.pid, 8), vec![(0, 6, anon_pgoff(0)), (6, 7, anon_pgoff(6))]);

    // Merge left, full span.
    //    <-->
    // PPPVVVV  ->  PPPPPPP
    let mut t = T::new(256);
    t.anon(0, 3, RO).unwrap();
    t.anon(3, 4, RW).unwrap();
    t.mprotect(3, 4, RO).unwrap();
    assert_eq!(t.picture(t.pid, 8), "AAAAAAA");
    assert_eq!(t.map_count(t.pid), 1);

    // Merge both.
    //    <-->
    // PPPVVVVNN  ->  PPPPPPPPP
    let mut t = T::new(256);
    t.anon(0, 3, RO).unwrap();
    t.anon(3, 4, RW).unwrap();
    t.anon(7, 2, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "AAABBBBCC");
    t.mprotect(3, 4, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "AAAAAAAAA");
    assert_eq!(t.spans(t.pid, 10), vec![(0, 9, anon_pgoff(0))]);

    // No merge: the middle of one VMA becomes a VMA of its own (two
    // splits, each half keeps its pgoff).
    //    <->
    // VVVVVVVVV  ->  VVVMMMVVV
    let mut t = T::new(256);
    t.anon(0, 9, RW).unwrap();
    t.mprotect(3, 3, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "AAABBBCCC");
    let pg = anon_pgoff(0);
    assert_eq!(t.spans(t.pid, 10), vec![(0, 3, pg), (3, 6, pg + 3), (6, 9, pg + 6)]);
}

/// `test_anon_vma_non_mergeable`, as a process gets there: P and N are
/// faulted while apart, so each gets an anon_vma of its own
/// (`find_mergeable_anon_vma()` finds no adjacent VMA to borrow from).
/// V, mapped between them, never faulted, turned read-only, merges with
/// neither: `mprotect_fixup()` drops VM_ACCOUNT from an anonymous VMA
/// without an anon_vma that loses VM_WRITE, and P and N kept theirs.
/// Faulted first, V borrows N's anon_vma (`find_mergeable_anon_vma()`
/// tries the next VMA first) and then merges with N only.
#[test]
fn merge_existing_incompatible_anon_vmas() {
    let setup = || {
        let mut t = T::new(256);
        t.anon(0, 3, RW).unwrap();
        assert!(t.write(t.pid, 0, 1));
        t.mprotect(0, 3, RO).unwrap();
        t.anon(7, 2, RW).unwrap();
        assert!(t.write(t.pid, 7, 1));
        t.mprotect(7, 2, RO).unwrap();
        t.anon(3, 4, RW).unwrap();
        // PPPVVVVNN
        assert_eq!(t.picture(t.pid, 10), "AAABBBBCC");
        t
    };
    let account =
        |t: &T, page: u64| t.k.mm(t.pid).unwrap().vma_at(BASE + page * P).unwrap().flags.contains(VmFlags::ACCOUNT);

    //    <-->
    // PPPVVVVNN  ->  PPPVVVVNN
    let mut t = setup();
    t.mprotect(3, 4, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "AAABBBBCC");
    assert!(account(&t, 0) && !account(&t, 3) && account(&t, 7));

    //    <-->
    // PPPVVVVNN  ->  PPPNNNNNN
    let mut t = setup();
    assert!(t.write(t.pid, 3, 1));
    t.mprotect(3, 4, RO).unwrap();
    assert_eq!(t.picture(t.pid, 10), "AAABBBBBB");
    assert_eq!(t.spans(t.pid, 10), vec![(0, 3, anon_pgoff(0)), (3, 9, anon_pgoff(3))]);
}

/// `test_vma_merge_special_flags`: VM_IO, VM_DONTEXPAND, VM_PFNMAP and
/// VM_MIXEDMAP (together `VM_SPECIAL`) forbid both merges
/// (mm/vma.c `is_mergeable_vma` callers: `vmg->flags & VM_SPECIAL`).
#[test]
fn merge_special_flags() {
    let specials = [VmFlags::IO, VmFlags::DONTEXPAND, VmFlags::PFNMAP, VmFlags::MIXEDMAP];
    let all = specials.iter().fold(VmFlags::empty(), |a, f| a | *f);
    assert_eq!(all, VmFlags::SPECIAL, "no new VM_SPECIAL flags");
    let flags = VmFlags::READ | VmFlags::WRITE | VmFlags::MAYREAD | VmFlags::MAYWRITE;
    let a = |s: u64, e: u64, f: VmFlags| Vma::anon(BASE + s * P, BASE + e * P, f);

    // Control: without a special flag, AAA* merges.
    let mut t = T::new(64);
    t.k.mm_mut(t.pid).unwrap().insert(a(0, 3, flags));
    assert_eq!(t.k.vma_merge_new_range(t.pid, &a(3, 4, flags)), Ok(true));
    assert_eq!(t.picture(t.pid, 5), "AAAA");

    for special in specials {
        // 01234
        // AAA*   a new range: no merge.
        let mut t = T::new(64);
        t.k.mm_mut(t.pid).unwrap().insert(a(0, 3, flags | special));
        assert_eq!(t.k.vma_merge_new_range(t.pid, &a(3, 4, flags | special)), Ok(false), "{special:?}");
        // AAAB   an existing VMA: no merge either.
        t.k.mm_mut(t.pid).unwrap().insert(a(3, 4, flags | special));
        t.k.vma_merge_existing_range(t.pid, BASE + 3 * P).unwrap();
        assert_eq!(t.picture(t.pid, 5), "AAAB", "{special:?}");
        assert_eq!(t.map_count(t.pid), 2);
    }
}

/// `split_vma()` refuses at `max_map_count` (-ENOMEM); munmap checks the
/// limit only when it would split one VMA in the middle, and otherwise
/// lets the count go above it temporarily (`vms_gather_munmap_vmas`:
/// "let map_count go just above its limit temporarily").
#[test]
fn split_at_max_map_count() {
    let mut t = T::new(256);
    t.anon(0, 4, RW).unwrap();
    t.anon(6, 4, RO).unwrap();
    t.k.mm_mut(t.pid).unwrap().max_map_count = 2;
    // AAAA  BBBB
    assert_eq!(t.picture(t.pid, 10), "AAAA  BBBB");
    // mprotect of a middle page needs two splits: refused, nothing done.
    assert_eq!(t.mprotect(1, 1, RO), Err(Errno::ENOMEM));
    assert_eq!(t.picture(t.pid, 10), "AAAA  BBBB");
    // munmap in the middle of A: refused.
    assert_eq!(t.munmap(1, 1), Err(Errno::ENOMEM));
    assert_eq!(t.picture(t.pid, 10), "AAAA  BBBB");
    // munmap of A's tail and B's head: two splits, the count stays 2.
    // AA<------>BB
    assert_eq!(t.munmap(2, 6), Ok(0));
    assert_eq!(t.picture(t.pid, 10), "AA      BB");
    assert_eq!(t.map_count(t.pid), 2);
    // munmap of A's head: a split at the end only; allowed.
    assert_eq!(t.munmap(0, 1), Ok(0));
    assert_eq!(t.picture(t.pid, 10), " A      BB");
}

/// `vma_modify()` (mm/vma.c, 6.12) splits the preceding part first, then
/// the trailing part, each `split_vma()` checking `map_count`: when only
/// the first fits under `max_map_count`, mprotect fails with -ENOMEM and
/// the first split stays (nothing undoes it).
#[test]
fn mprotect_second_split_over_max_map_count() {
    let mut t = T::new(256);
    t.anon(0, 4, RW).unwrap();
    t.anon(6, 4, RO).unwrap();
    t.k.mm_mut(t.pid).unwrap().max_map_count = 3;
    assert_eq!(t.mprotect(1, 1, RO), Err(Errno::ENOMEM));
    // AAAA  CCCC  ->  ABBB  CCCC, B still read-write.
    assert_eq!(t.picture(t.pid, 10), "ABBB  CCCC");
    assert_eq!(t.spans(t.pid, 10)[1], (1, 4, anon_pgoff(1)));
    assert_eq!(t.map_count(t.pid), 3);
    // One more VMA allowed is still one short for two splits.
    t.k.mm_mut(t.pid).unwrap().max_map_count = 4;
    assert_eq!(t.mprotect(2, 1, RO), Err(Errno::ENOMEM));
    assert_eq!(t.picture(t.pid, 10), "ABCC  DDDD");
    // Room for the last split: the middle page alone, merged with neither
    // neighbour; read-write again, it merges with both (B absorbs it and
    // D), A stays apart (only the changed VMA's neighbours are merged).
    t.k.mm_mut(t.pid).unwrap().max_map_count = 5;
    assert_eq!(t.mprotect(2, 1, RO), Ok(0));
    assert_eq!(t.picture(t.pid, 10), "ABCD  EEEE");
    assert_eq!(t.spans(t.pid, 10)[2], (2, 3, anon_pgoff(2)));
    assert_eq!(t.mprotect(2, 1, RW), Ok(0));
    assert_eq!(t.picture(t.pid, 10), "ABBB  CCCC");
    assert_eq!(t.spans(t.pid, 10)[1], (1, 4, anon_pgoff(1)));
}

/// `__split_vma()` keeps the pgoff continuous and `split_vma()` at a VMA's
/// start is no split.
#[test]
fn split_keeps_pgoff() {
    let mut t = T::new(64);
    t.anon(0, 6, RW).unwrap();
    t.k.split_vma(t.pid, BASE + 2 * P).unwrap();
    t.k.split_vma(t.pid, BASE + 2 * P).unwrap();
    // AAAAAA  ->  AABBBB
    assert_eq!(t.picture(t.pid, 6), "AABBBB");
    assert_eq!(t.spans(t.pid, 6), vec![(0, 2, anon_pgoff(0)), (2, 6, anon_pgoff(2))]);
    // And they merge back (vma_merge_existing_range on B).
    t.k.vma_merge_existing_range(t.pid, BASE + 2 * P).unwrap();
    assert_eq!(t.picture(t.pid, 6), "AAAAAA");
}

/// mprotect over three VMAs with pages: read-only takes write access from
/// every present PTE and the three merge into one (`vma_modify_flags` ->
/// `vma_merge_existing_range`); read-write again gives it back only to
/// exclusive anonymous pages (mm/mprotect.c 6.12 `change_pte_range` with
/// `MM_CP_TRY_CHANGE_WRITABLE`, `can_change_pte_writable`: a private VMA's
/// PTE becomes writable when `vm_normal_page()` is an anonymous page with
/// `PageAnonExclusive`), so the zero page stays read-only.
#[test]
fn mprotect_over_split_vmas_with_pages() {
    let mut t = T::new(256);
    t.anon(0, 6, RW).unwrap();
    for page in 0..4 {
        assert!(t.write(t.pid, page, page as u8 + 1));
    }
    assert_eq!(t.read(t.pid, 4), Some(0), "page 4: the zero page");
    t.mprotect(2, 1, RO).unwrap();
    assert_eq!(t.picture(t.pid, 6), "AABCCC");
    assert!(!t.pte(t.pid, 2).write() && t.pte(t.pid, 3).write());

    t.mprotect(0, 6, RO).unwrap();
    assert_eq!(t.picture(t.pid, 6), "AAAAAA");
    for page in 0..5 {
        let pte = t.pte(t.pid, page);
        assert!(pte.present() && !pte.write(), "page {page} read-only");
    }
    assert!(t.pte(t.pid, 5).is_none(), "page 5 never touched");

    t.mprotect(0, 6, RW).unwrap();
    assert_eq!(t.picture(t.pid, 6), "AAAAAA");
    for page in 0..4 {
        assert!(t.pte(t.pid, page).write(), "page {page}: exclusive anon, writable again");
        assert_eq!(t.read(t.pid, page), Some(page as u8 + 1));
    }
    assert_eq!(t.pfn(t.pid, 4), Some(crate::kernel::page::ZERO_PFN));
    assert!(!t.pte(t.pid, 4).write(), "the zero page stays read-only");
    assert!(t.pte(t.pid, 5).is_none());
}
