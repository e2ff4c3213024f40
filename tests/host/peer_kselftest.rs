//! Cases ported from the kernel's mm selftests
//! (torvalds/linux tools/testing/selftests/mm/: merge.c, mremap_test.c,
//! mremap_dontunmap.c, guard-regions.c, mlock2-tests.c, cow.c), each run
//! on the host kernel AND in the model (`both` compares results, maps
//! lines, smaps fields and pagemap bits after every op), then the original
//! test's own assertion on the host's transcript.
//!
//! Adaptations: PROCMAP_QUERY and /proc/self/maps reads become the
//! oracle's snapshots; a child process is an oracle fork; where a test
//! maps with NULL, the mapping lands at the top of the oracle's range.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use super::peer_support as support;
use support::*;

use mmsim::oracle::{Addr, Op};

const NORESERVE: i32 = libc::MAP_NORESERVE;

/// merge.c FIXTURE_SETUP(merge): a 12-page PROT_NONE carveout (unhinted,
/// so at the top of the range); returns its first page.
fn carveout() -> (Op, u64) {
    (mmap(Addr::NULL, 12, NONE, PRIV), R / PS - 12)
}

// ------------------------------------------------------------- merge.c

/// merge.c TEST_F(merge, mprotect_unfaulted_left).
#[test]
fn merge_mprotect_unfaulted_left() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 1), 10, RW, PRIV | FIXED | NORESERVE),
        mprotect(pg(c + 1), 5, RO),
        store(pg(c + 6), b"x"),
        mprotect(pg(c + 6), 5, RO),
    ];
    let Some(t) = both("merge.c mprotect_unfaulted_left", &ops) else { return };
    assert_eq!(vma_pages(&t, 4, 0, c + 1), Some((c + 1, c + 11)));
}

/// merge.c TEST_F(merge, mprotect_unfaulted_right).
#[test]
fn merge_mprotect_unfaulted_right() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 1), 10, RW, PRIV | FIXED | NORESERVE),
        mprotect(pg(c + 6), 5, RO),
        store(pg(c + 1), b"x"),
        mprotect(pg(c + 1), 5, RO),
    ];
    let Some(t) = both("merge.c mprotect_unfaulted_right", &ops) else { return };
    assert_eq!(vma_pages(&t, 4, 0, c + 1), Some((c + 1, c + 11)));
}

/// merge.c TEST_F(merge, mprotect_unfaulted_both).
#[test]
fn merge_mprotect_unfaulted_both() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 2), 9, RW, PRIV | FIXED | NORESERVE),
        mprotect(pg(c + 2), 3, RO),
        mprotect(pg(c + 8), 3, RO),
        store(pg(c + 5), b"x"),
        mprotect(pg(c + 5), 3, RO),
    ];
    let Some(t) = both("merge.c mprotect_unfaulted_both", &ops) else { return };
    assert_eq!(vma_pages(&t, 5, 0, c + 2), Some((c + 2, c + 11)));
}

/// merge.c TEST_F(merge, mprotect_faulted_left_unfaulted_right).
#[test]
fn merge_mprotect_faulted_left_unfaulted_right() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 2), 9, RW, PRIV | FIXED | NORESERVE),
        mprotect(pg(c + 8), 3, RO),
        store(pg(c + 2), b"x"),
        mprotect(pg(c + 2), 3, RO),
        mprotect(pg(c + 5), 3, RO),
    ];
    let Some(t) = both("merge.c mprotect_faulted_left_unfaulted_right", &ops) else { return };
    assert_eq!(vma_pages(&t, 5, 0, c + 2), Some((c + 2, c + 11)));
}

/// merge.c TEST_F(merge, mprotect_unfaulted_left_faulted_right).
#[test]
fn merge_mprotect_unfaulted_left_faulted_right() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 2), 9, RW, PRIV | FIXED | NORESERVE),
        mprotect(pg(c + 2), 3, RO),
        store(pg(c + 5), b"x"),
        mprotect(pg(c + 8), 3, RO),
        mprotect(pg(c + 5), 3, RO),
    ];
    let Some(t) = both("merge.c mprotect_unfaulted_left_faulted_right", &ops) else { return };
    assert_eq!(vma_pages(&t, 5, 0, c + 2), Some((c + 2, c + 11)));
}

/// merge.c TEST_F(merge, forked_target_vma): in the child, a VMA inherited
/// with an anon_vma does not merge with a new neighbour.
#[test]
fn merge_forked_target_vma() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 1), 5, RW, PRIV | FIXED),
        store(pg(c + 1), b"x"),
        Op::Fork { p: 0 },
        touch_p(1, pg(c + 1), 5, true),
        mmap_p(1, pg(c + 6), 5, RW, PRIV | FIXED),
    ];
    let Some(t) = both("merge.c forked_target_vma", &ops) else { return };
    assert_eq!(vma_pages(&t, 5, 1, c + 1), Some((c + 1, c + 6)));
}

/// merge.c TEST_F(merge, forked_source_vma): nor does it merge into a new
/// neighbour when it is the one changed by mprotect.
#[test]
fn merge_forked_source_vma() {
    let (co, c) = carveout();
    let ops = [
        co,
        mmap(pg(c + 1), 5, RW, PRIV | FIXED | NORESERVE),
        store(pg(c + 1), b"x"),
        Op::Fork { p: 0 },
        touch_p(1, pg(c + 1), 5, true),
        mmap_p(1, pg(c + 6), 5, RWX, PRIV | FIXED | NORESERVE),
        Op::Mprotect { p: 1, addr: pg(c + 1), len: 5 * PS, prot: RWX },
    ];
    let Some(t) = both("merge.c forked_source_vma", &ops) else { return };
    assert_eq!(vma_pages(&t, 5, 1, c + 6), Some((c + 6, c + 11)));
    assert_eq!(vma_pages(&t, 6, 1, c + 6), Some((c + 6, c + 11)));
}

// -------------------------------------------------------- mremap_test.c

/// mremap_test.c mremap_expand_merge: expanding the first page in place
/// into the unmapped middle merges the three pages back.
#[test]
fn mremap_test_expand_merge() {
    let s = R / PS - 3;
    let ops = [mmap(Addr::NULL, 3, RW, PRIV), munmap(pg(s + 1), 1), mremap(pg(s), 1, 2, 0, Addr::NULL)];
    let Some(t) = both("mremap_test.c mremap_expand_merge", &ops) else { return };
    assert_eq!(ret(&t, 2), abs(s));
    assert_eq!(vma_pages(&t, 2, 0, s), Some((s, s + 3)));
}

/// mremap_test.c mremap_expand_merge_offset: expanding the second page
/// into the unmapped last one restores the mapping.
#[test]
fn mremap_test_expand_merge_offset() {
    let s = R / PS - 3;
    let ops = [mmap(Addr::NULL, 3, RW, PRIV), munmap(pg(s + 2), 1), mremap(pg(s + 1), 1, 2, 0, Addr::NULL)];
    let Some(t) = both("mremap_test.c mremap_expand_merge_offset", &ops) else { return };
    assert_eq!(vma_pages(&t, 2, 0, s), Some((s, s + 3)));
}

/// mremap_test.c (the move tests, small): a MREMAP_FIXED move keeps the
/// contents and leaves the source unmapped.
#[test]
fn mremap_test_move_fixed() {
    let mm = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
    let data: Vec<u8> = (0..2 * PS).map(|i| (i * 7 % 256) as u8).collect();
    let ops =
        [anon_at(4, 2, RW), store(pg(4), &data), mremap(pg(4), 2, 2, mm, pg(20)), load(pg(20), 2 * PS), load(pg(4), 1)];
    let Some(t) = both("mremap_test.c move", &ops) else { return };
    assert_eq!(bytes(&t, 3), data);
    assert!(segv(&t, 4));
}

// --------------------------------------------------- mremap_dontunmap.c

/// mremap_dontunmap.c mremap_dontunmap_simple: the pages move, the source
/// stays mapped and reads zeros.
#[test]
fn mremap_dontunmap_simple() {
    let mm = libc::MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    let ops = [
        anon_at(4, 5, RW),
        store(pg(4), &[b'a'; 5 * PS as usize]),
        mremap(pg(4), 5, 5, mm, Addr::NULL),
        load(pg(4), 4),
        load(pg(8), 4),
    ];
    let Some(t) = both("mremap_dontunmap.c simple", &ops) else { return };
    assert!(ret(&t, 2) > 0 && ret(&t, 2) != abs(4));
    assert_eq!(bytes(&t, 3), vec![0; 4]);
    assert!(vma(&t, 2, 0, 4).is_some(), "the source stays mapped");
    let mut more = ops.to_vec();
    more.push(load(Addr::Abs(ret(&t, 2) as u64), 4));
    let Some(t) = both("mremap_dontunmap.c simple (destination)", &more) else { return };
    assert_eq!(bytes(&t, 5), b"aaaa");
}

/// mremap_dontunmap.c mremap_dontunmap_simple_shmem: for shared memory the
/// source still shows the data (it refaults from the page cache).
#[test]
fn mremap_dontunmap_simple_shmem() {
    let mm = libc::MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    let ops = [
        mmap(pg(4), 4, RW, SHARED | FIXED),
        store(pg(4), b"shared"),
        mremap(pg(4), 4, 4, mm, Addr::NULL),
        load(pg(4), 6),
    ];
    let Some(t) = both("mremap_dontunmap.c simple_shmem", &ops) else { return };
    assert!(ret(&t, 2) > 0);
    assert_eq!(bytes(&t, 3), b"shared");
}

/// mremap_dontunmap.c mremap_dontunmap_simple_fixed: with MREMAP_FIXED the
/// destination's old contents are replaced; the source reads zeros.
#[test]
fn mremap_dontunmap_simple_fixed() {
    let mm = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | MREMAP_DONTUNMAP;
    let ops = [
        anon_at(4, 3, RW),
        store(pg(4), b"src"),
        anon_at(20, 3, RW),
        store(pg(20), b"dst"),
        mremap(pg(4), 3, 3, mm, pg(20)),
        load(pg(20), 3),
        load(pg(4), 3),
    ];
    let Some(t) = both("mremap_dontunmap.c simple_fixed", &ops) else { return };
    assert_eq!(ret(&t, 4), abs(20));
    assert_eq!(bytes(&t, 5), b"src");
    assert_eq!(bytes(&t, 6), vec![0; 3]);
}

/// mremap_dontunmap.c mremap_dontunmap_partial: moving part of a mapping.
#[test]
fn mremap_dontunmap_partial() {
    let mm = libc::MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
    let ops = [
        anon_at(4, 5, RW),
        touch(pg(4), 5, true),
        store(pg(6), b"mid"),
        mremap(pg(6), 2, 2, mm, Addr::NULL),
        load(pg(6), 3),
        load(pg(5), 1),
    ];
    let Some(t) = both("mremap_dontunmap.c partial", &ops) else { return };
    assert!(ret(&t, 3) > 0);
    assert_eq!(bytes(&t, 4), vec![0; 3]);
    assert!(present(&t, 5, 0, 5), "the rest of the source keeps its pages");
}

// ----------------------------------------------------- guard-regions.c

/// guard-regions.c TEST_F(guard_regions, basic): a guard region faults
/// with SIGSEGV; removing it gives back a zero page.
#[test]
fn guard_regions_basic() {
    let ops = [
        anon_at(4, 10, RW),
        touch(pg(4), 10, true),
        madvise(pg(4), 1, MADV_GUARD_INSTALL),
        load(pg(4), 1),
        load(pg(5), 1),
        madvise(pg(4), 1, MADV_GUARD_REMOVE),
        load(pg(4), 1),
    ];
    let Some(t) = both("guard-regions.c basic", &ops) else { return };
    assert_eq!(signal(&t, 3), Some((libc::SIGSEGV, 1)));
    assert_eq!(bytes(&t, 4), vec![0]);
    assert_eq!(bytes(&t, 6), vec![0]);
    assert!(page(&t, 2, 0, 4).guard, "pagemap shows PM_GUARD_REGION");
}

/// guard-regions.c TEST_F(guard_regions, split_merge): guards survive
/// splitting and merging the VMA with mprotect.
#[test]
fn guard_regions_split_merge() {
    let ops = [
        anon_at(4, 10, RW),
        madvise(pg(6), 2, MADV_GUARD_INSTALL),
        mprotect(pg(5), 4, RO),
        load(pg(6), 1),
        mprotect(pg(5), 4, RW),
        load(pg(7), 1),
        load(pg(8), 1),
    ];
    let Some(t) = both("guard-regions.c split_merge", &ops) else { return };
    assert_eq!(vmas(&t, 2, 0).len(), 3);
    assert!(segv(&t, 3));
    assert_eq!(vmas(&t, 4, 0).len(), 1);
    assert!(segv(&t, 5));
    assert_eq!(bytes(&t, 6), vec![0]);
}

/// guard-regions.c TEST_F(guard_regions, dontneed): MADV_DONTNEED does
/// not remove guards.
#[test]
fn guard_regions_dontneed() {
    let ops = [
        anon_at(4, 4, RW),
        touch(pg(4), 4, true),
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
        madvise(pg(4), 4, libc::MADV_DONTNEED),
        load(pg(5), 1),
        load(pg(4), 1),
    ];
    let Some(t) = both("guard-regions.c dontneed", &ops) else { return };
    assert!(segv(&t, 4));
    assert_eq!(bytes(&t, 5), vec![0]);
}

/// guard-regions.c TEST_F(guard_regions, mlock): guards cannot be
/// installed in an mlock()ed VMA (EINVAL).
#[test]
fn guard_regions_mlock() {
    let ops = [
        anon_at(4, 4, RW),
        Op::Mlock { p: 0, addr: pg(4), len: 4 * PS },
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
        Op::Munlock { p: 0, addr: pg(4), len: 4 * PS },
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
    ];
    let Some(t) = both("guard-regions.c mlock", &ops) else { return };
    assert_eq!(ret(&t, 2), EINVAL);
    assert_eq!(ret(&t, 4), 0);
}

/// guard-regions.c TEST_F(guard_regions, mremap_move): guards move with
/// the mapping.
#[test]
fn guard_regions_mremap_move() {
    let mm = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
    let ops = [
        anon_at(4, 5, RW),
        madvise(pg(4), 1, MADV_GUARD_INSTALL),
        madvise(pg(8), 1, MADV_GUARD_INSTALL),
        mremap(pg(4), 5, 5, mm, pg(30)),
        load(pg(30), 1),
        load(pg(34), 1),
        load(pg(31), 1),
    ];
    let Some(t) = both("guard-regions.c mremap_move", &ops) else { return };
    assert_eq!(ret(&t, 3), abs(30));
    assert!(segv(&t, 4) && segv(&t, 5));
    assert_eq!(bytes(&t, 6), vec![0]);
}

/// guard-regions.c TEST_F(guard_regions, fork): a child inherits the
/// guards; removing them in the child leaves the parent's.
#[test]
fn guard_regions_fork() {
    let ops = [
        anon_at(4, 4, RW),
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
        Op::Fork { p: 0 },
        load_p(1, pg(5), 1),
        madvise_p(1, pg(4), 4, MADV_GUARD_REMOVE),
        load_p(1, pg(5), 1),
        load(pg(5), 1),
    ];
    let Some(t) = both("guard-regions.c fork", &ops) else { return };
    assert!(segv(&t, 3));
    assert_eq!(bytes(&t, 5), vec![0]);
    assert!(segv(&t, 6));
}

/// guard-regions.c TEST_F(guard_regions, fork_wipeonfork): a
/// MADV_WIPEONFORK VMA's guards are not inherited.
#[test]
fn guard_regions_fork_wipeonfork() {
    let ops = [
        anon_at(4, 4, RW),
        madvise(pg(4), 4, libc::MADV_WIPEONFORK),
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
        Op::Fork { p: 0 },
        load_p(1, pg(5), 1),
        load(pg(5), 1),
    ];
    let Some(t) = both("guard-regions.c fork_wipeonfork", &ops) else { return };
    assert_eq!(bytes(&t, 4), vec![0]);
    assert!(segv(&t, 5));
}

/// guard-regions.c TEST_F(guard_regions, munmap): unmapping a guarded
/// range and mapping it again removes the guards.
#[test]
fn guard_regions_munmap() {
    let ops = [
        anon_at(4, 4, RW),
        madvise(pg(4), 4, MADV_GUARD_INSTALL),
        munmap(pg(5), 1),
        anon_at(5, 1, RW),
        load(pg(5), 1),
        load(pg(6), 1),
    ];
    let Some(t) = both("guard-regions.c munmap", &ops) else { return };
    assert_eq!(bytes(&t, 4), vec![0]);
    assert!(segv(&t, 5));
}

/// guard-regions.c TEST_F(guard_regions, memfd)-like: guards on a shared
/// memfd mapping, the file's data survives their removal.
#[test]
fn guard_regions_memfd() {
    let ops = [
        memfd(0),
        truncate(0, 4 * PS),
        file_map(pg(4), 4, RW, libc::MAP_SHARED | FIXED, 0, 0),
        store(pg(5), b"file"),
        madvise(pg(5), 1, MADV_GUARD_INSTALL),
        load(pg(5), 1),
        madvise(pg(5), 1, MADV_GUARD_REMOVE),
        load(pg(5), 4),
    ];
    let Some(t) = both("guard-regions.c memfd", &ops) else { return };
    assert_eq!(ret(&t, 4), 0);
    assert!(segv(&t, 5));
    assert_eq!(bytes(&t, 7), b"file");
}

// ------------------------------------------------------ mlock2-tests.c

/// mlock2-tests.c test_mlock_lock: mlock2(0) locks and populates.
#[test]
fn mlock2_tests_mlock_lock() {
    let ops = [
        anon_at(4, 2, RW),
        Op::Mlock2 { p: 0, addr: pg(4), len: 2 * PS, flags: 0 },
        Op::Munlock { p: 0, addr: pg(4), len: 2 * PS },
    ];
    let Some(t) = both("mlock2-tests.c test_mlock_lock", &ops) else { return };
    assert!(vma(&t, 1, 0, 4).is_some_and(|v| v.has_flag("lo") && !v.has_flag("lf")));
    assert!(present(&t, 1, 0, 4) && present(&t, 1, 0, 5));
    assert!(vma(&t, 2, 0, 4).is_some_and(|v| !v.has_flag("lo")));
}

/// mlock2-tests.c test_mlock_onfault: mlock2(MLOCK_ONFAULT) does not
/// populate; a touched page is present and locked.
#[test]
fn mlock2_tests_mlock_onfault() {
    let ops =
        [anon_at(4, 2, RW), Op::Mlock2 { p: 0, addr: pg(4), len: 2 * PS, flags: MLOCK_ONFAULT }, store(pg(4), b"x")];
    let Some(t) = both("mlock2-tests.c test_mlock_onfault", &ops) else { return };
    assert!(!present(&t, 1, 0, 4));
    assert!(present(&t, 2, 0, 4) && !present(&t, 2, 0, 5));
    assert_eq!(smaps(&t, 2, 0, 4, "Locked"), 4);
}

/// mlock2-tests.c test_lock_onfault_of_present: pages present before
/// mlock2(MLOCK_ONFAULT) are locked.
#[test]
fn mlock2_tests_lock_onfault_of_present() {
    let ops =
        [anon_at(4, 2, RW), store(pg(4), b"x"), Op::Mlock2 { p: 0, addr: pg(4), len: 2 * PS, flags: MLOCK_ONFAULT }];
    let Some(t) = both("mlock2-tests.c test_lock_onfault_of_present", &ops) else { return };
    assert_eq!(smaps(&t, 2, 0, 4, "Locked"), 4);
    assert!(vma(&t, 2, 0, 4).is_some_and(|v| v.has_flag("lf")));
}

/// mlock2-tests.c test_munlockall: mlockall(MCL_CURRENT) locks the
/// mapping, munlockall() unlocks it.
#[test]
fn mlock2_tests_munlockall() {
    let ops = [anon_at(4, 2, RW), Op::Mlockall { p: 0, flags: libc::MCL_CURRENT }, Op::Munlockall { p: 0 }];
    let Some(t) = both("mlock2-tests.c test_munlockall", &ops) else { return };
    assert_eq!(smaps(&t, 1, 0, 4, "Locked"), 8);
    assert_eq!(smaps(&t, 2, 0, 4, "Locked"), 0);
}

/// mlock2-tests.c test_mlockall(MCL_FUTURE | MCL_ONFAULT)-like: a mapping
/// made after mlockall(MCL_FUTURE|MCL_ONFAULT) is locked on fault.
#[test]
fn mlock2_tests_mlockall_future_onfault() {
    let ops = [
        Op::Mlockall { p: 0, flags: libc::MCL_FUTURE | 4 },
        anon_at(4, 2, RW),
        store(pg(4), b"x"),
        Op::Munlockall { p: 0 },
    ];
    let Some(t) = both("mlock2-tests.c mlockall future onfault", &ops) else { return };
    assert!(vma(&t, 1, 0, 4).is_some_and(|v| v.has_flag("lo") && v.has_flag("lf")));
    assert!(!present(&t, 1, 0, 4));
    assert_eq!(smaps(&t, 2, 0, 4, "Locked"), 4);
}

// --------------------------------------------------------------- cow.c

/// cow.c test_cow_in_parent: after fork, a write in the child is not seen
/// by the parent.
#[test]
fn cow_in_parent() {
    let ops = [
        anon_at(4, 1, RW),
        store(pg(4), b"orig"),
        Op::Fork { p: 0 },
        store_p(1, pg(4), b"kid!"),
        load(pg(4), 4),
        load_p(1, pg(4), 4),
    ];
    let Some(t) = both("cow.c test_cow_in_parent", &ops) else { return };
    assert_eq!(bytes(&t, 4), b"orig");
    assert_eq!(bytes(&t, 5), b"kid!");
    assert!(!page(&t, 2, 0, 4).exclusive, "shared after fork");
    assert!(page(&t, 3, 1, 4).exclusive && page(&t, 3, 0, 4).exclusive);
}

/// cow.c test_cow_in_parent_mprotect: the parent's mprotect(RO) and back
/// to RW after fork must not let the child see the parent's writes.
#[test]
fn cow_in_parent_mprotect() {
    let ops = [
        anon_at(4, 1, RW),
        store(pg(4), b"orig"),
        Op::Fork { p: 0 },
        mprotect(pg(4), 1, RO),
        mprotect(pg(4), 1, RW),
        store(pg(4), b"dad!"),
        load_p(1, pg(4), 4),
    ];
    let Some(t) = both("cow.c test_cow_in_parent_mprotect", &ops) else { return };
    assert_eq!(bytes(&t, 6), b"orig");
}

/// cow.c test_cow_in_child (the anon "child writes" direction with the
/// zero page): a never-written page shared as the zero page stays zero for
/// the other side.
#[test]
fn cow_zero_page_after_fork() {
    let ops = [anon_at(4, 1, RW), load(pg(4), 1), Op::Fork { p: 0 }, store_p(1, pg(4), b"z"), load(pg(4), 1)];
    let Some(t) = both("cow.c zero page", &ops) else { return };
    assert!(page(&t, 1, 0, 4).zero_page);
    assert_eq!(bytes(&t, 4), vec![0]);
}

/// cow.c (mremap variants, test_cow_in_parent after moving the range with
/// mremap in the child): COW keeps working across a move.
#[test]
fn cow_after_mremap_in_child() {
    let mm = libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED;
    let ops = [
        anon_at(4, 2, RW),
        store(pg(4), b"orig"),
        Op::Fork { p: 0 },
        Op::Mremap { p: 1, old: pg(4), old_len: 2 * PS, new_len: 2 * PS, flags: mm, new_addr: pg(40) },
        store_p(1, pg(40), b"kid!"),
        load(pg(4), 4),
        load_p(1, pg(40), 4),
        Op::Munmap { p: 1, addr: pg(40), len: 2 * PS },
        store(pg(4), b"dad!"),
    ];
    let Some(t) = both("cow.c mremap", &ops) else { return };
    assert_eq!(bytes(&t, 5), b"orig");
    assert_eq!(bytes(&t, 6), b"kid!");
    assert!(page(&t, 8, 0, 4).exclusive);
}
