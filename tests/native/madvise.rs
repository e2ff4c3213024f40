//! madvise(2): the model against this machine's kernel (Linux 6.18).
use super::util::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::madvise::*;
use mmsim::kernel::memory::VmFault;
use mmsim::oracle::{Addr, Op, OpResult};

const A: fn(i32) -> u64 = |a| a as u64;

#[test]
fn argument_checks() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    // Unaligned start, unknown advice, len rounding up to zero, wrap.
    assert_eq!(d.madvise(1, P, A(MADV_DONTNEED)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, 999), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, 0, 999), Err(Errno::EINVAL), "unknown advice beats len 0");
    assert_eq!(d.madvise(1, 0, A(MADV_DONTNEED)), Err(Errno::EINVAL), "unaligned beats len 0");
    assert_eq!(d.madvise(0, u64::MAX, A(MADV_DONTNEED)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, u64::MAX - 4095, A(MADV_DONTNEED)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, 0, A(MADV_DONTNEED)), Ok(0));
    assert_eq!(d.madvise(0, 1, A(MADV_NORMAL)), Ok(0), "len rounds up");
    // CONFIG_MEMORY_FAILURE is off here: unknown advice.
    assert_eq!(d.madvise(0, P, A(MADV_HWPOISON)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_SOFT_OFFLINE)), Err(Errno::EINVAL));
    // The advice is an int: the high half of the register is ignored.
    assert_eq!(d.madvise(0, P, (1u64 << 32) | A(MADV_RANDOM)), Ok(0));
    // Unmapped: ENOMEM, after the mapped parts got the advice.
    assert_eq!(d.madvise(4 * P, P, A(MADV_DONTNEED)), Err(Errno::ENOMEM));
    assert_eq!(d.madvise(2 * P, 4 * P, A(MADV_DONTFORK)), Err(Errno::ENOMEM));
    d.anon(6 * P, 1, RW).unwrap();
    assert_eq!(d.madvise(0, 8 * P, A(MADV_DONTDUMP)), Err(Errno::ENOMEM));
    let l = d.layout();
    assert_eq!(l.len(), 4, "{l:?}");
    // Garbage addresses.
    assert_eq!(d.madvise_abs(!4095, P, A(MADV_DONTNEED)), Err(Errno::EINVAL));
    assert_eq!(d.madvise_abs(0x7fff_ffff_f000, P, A(MADV_DONTNEED)), Err(Errno::ENOMEM));
}

#[test]
fn flag_advice_splits_and_merges() {
    let mut d = Dual::new();
    d.anon(0, 8, RW).unwrap();
    for (adv, off, pages) in [
        (MADV_SEQUENTIAL, 1, 2),
        (MADV_RANDOM, 2, 2),
        (MADV_NORMAL, 0, 8),
        (MADV_DONTFORK, 4, 1),
        (MADV_DOFORK, 0, 8),
        (MADV_WIPEONFORK, 1, 1),
        (MADV_KEEPONFORK, 1, 1),
        (MADV_DONTDUMP, 6, 2),
        (MADV_DODUMP, 6, 1),
        (MADV_HUGEPAGE, 0, 3),
        (MADV_NOHUGEPAGE, 2, 3),
        (MADV_MERGEABLE, 5, 1),
        (MADV_UNMERGEABLE, 0, 8),
        (MADV_HUGEPAGE, 0, 8),
    ] {
        d.madvise(off * P, pages * P, A(adv)).unwrap();
        d.layout();
    }
    d.madvise(0, 8 * P, A(MADV_DODUMP)).unwrap();
    assert_eq!(d.layout().len(), 1, "all the same flags again: one VMA");
}

#[test]
fn shared_and_file_restrictions() {
    let mut d = Dual::new();
    d.shared(0, 4, RW).unwrap();
    assert_eq!(d.madvise(0, P, A(MADV_WIPEONFORK)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_FREE)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_MERGEABLE)), Ok(0), "KSM ignores shared memory");
    assert_eq!(d.madvise(0, P, A(MADV_COLD)), Ok(0));
    assert_eq!(d.madvise(0, P, A(MADV_PAGEOUT)), Ok(0));
    assert_eq!(d.madvise(0, P, A(MADV_KEEPONFORK)), Ok(0));
    d.layout();
    d.anon(8 * P, 4, RW).unwrap();
    assert_eq!(d.madvise(8 * P, P, A(MADV_REMOVE)), Err(Errno::EINVAL), "no file behind private anon");
    assert_eq!(d.madvise(8 * P, P, A(MADV_WILLNEED)), Ok(0));
    d.shared(16 * P, 2, RO).unwrap();
    assert_eq!(d.madvise(16 * P, P, A(MADV_REMOVE)), Ok(0), "read-only but VM_MAYWRITE: allowed");
}

#[test]
fn dontneed_zeroes_and_locks() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 4, 0x5a);
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 1, 1]);
    d.madvise(P, 2 * P, A(MADV_DONTNEED)).unwrap();
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(d.bytes(0, 4), vec![0x5a, 0, 0, 0x5a], "zero-filled after DONTNEED");
    // Shared memory: the page cache keeps the data.
    d.shared(8 * P, 2, RW).unwrap();
    d.fill(8 * P, 2, 7);
    d.madvise(8 * P, 2 * P, A(MADV_DONTNEED)).unwrap();
    assert_eq!(d.mincore(8 * P, 2).unwrap(), vec![1, 1], "shmem pages stay in the cache");
    assert_eq!(d.bytes(8 * P, 2), vec![7, 7]);
    // mlock()ed: DONTNEED refuses, DONTNEED_LOCKED zaps.
    d.mlock(0, 4 * P).unwrap();
    assert_eq!(d.madvise(0, P, A(MADV_DONTNEED)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_FREE)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_COLD)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_PAGEOUT)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_REMOVE)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(0, P, A(MADV_DONTNEED_LOCKED)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![0, 1, 1, 1]);
    d.layout();
}

#[test]
fn remove_punches_shared_anon() {
    let mut d = Dual::new();
    d.shared(0, 4, RW).unwrap();
    d.fill(0, 4, 3);
    assert_eq!(d.madvise(P, 2 * P, A(MADV_REMOVE)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(d.bytes(0, 4), vec![3, 0, 0, 3]);
}

#[test]
fn populate_rules() {
    let mut d = Dual::new();
    d.anon(0, 4, RO).unwrap();
    assert_eq!(d.madvise(0, 2 * P, A(MADV_POPULATE_READ)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 0, 0], "zero page counts as resident");
    assert_eq!(d.madvise(0, 2 * P, A(MADV_POPULATE_WRITE)), Err(Errno::EINVAL));
    d.anon(8 * P, 2, NONE).unwrap();
    assert_eq!(d.madvise(8 * P, P, A(MADV_POPULATE_READ)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(8 * P, P, A(MADV_POPULATE_WRITE)), Err(Errno::EINVAL));
    d.anon(16 * P, 2, RW).unwrap();
    d.anon(19 * P, 1, RW).unwrap();
    assert_eq!(d.madvise(16 * P, 4 * P, A(MADV_POPULATE_WRITE)), Err(Errno::ENOMEM), "hole");
    assert_eq!(d.mincore(16 * P, 2).unwrap(), vec![1, 1], "populated up to the hole");
    assert_eq!(d.mincore(19 * P, 1).unwrap(), vec![0]);
    d.shared(24 * P, 4, RW).unwrap();
    assert_eq!(d.madvise(24 * P, 4 * P, A(MADV_POPULATE_WRITE)), Ok(0));
    assert_eq!(d.mincore(24 * P, 4).unwrap(), vec![1, 1, 1, 1]);
    // Populate is not blocked by a seal.
    d.anon(32 * P, 1, RO).unwrap();
    d.mseal(32 * P, P, 0).unwrap();
    assert_eq!(d.madvise(32 * P, P, A(MADV_POPULATE_READ)), Ok(0));
}

#[test]
fn guard_regions() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 4, 7);
    assert_eq!(d.madvise(P, P, A(MADV_GUARD_INSTALL)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 0, 1, 1], "populated page zapped, marker is not resident");
    let l = d.layout();
    assert!(l[0].2.contains("gu"), "VM_MAYBE_GUARD shown: {l:?}");
    // Access faults SIGSEGV/SEGV_MAPERR, read or write.
    let (pid, a) = (d.pid, d.a(P));
    {
        let (k, hv) = d.k();
        assert_eq!(k.user_read(hv, pid, a, 1).unwrap_err().fault, VmFault::MapErr);
        assert_eq!(k.user_write(hv, pid, a, b"x").unwrap_err().fault, VmFault::MapErr);
    }
    assert_eq!(d.real_touch(a, false), 100 + SEGV_MAPERR);
    assert_eq!(d.real_touch(a, true), 100 + SEGV_MAPERR);
    // Markers survive DONTNEED; populate stops at them.
    d.madvise(0, 4 * P, A(MADV_DONTNEED)).unwrap();
    assert_eq!(d.madvise(0, 4 * P, A(MADV_POPULATE_READ)), Err(Errno::EFAULT));
    assert_eq!(d.madvise(0, 4 * P, A(MADV_POPULATE_WRITE)), Err(Errno::EFAULT));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 0, 0, 0]);
    {
        let (k, hv) = d.k();
        assert_eq!(k.user_read(hv, pid, a, 1).unwrap_err().fault, VmFault::MapErr);
    }
    // Installing again over markers is fine; removing clears them.
    assert_eq!(d.madvise(0, 2 * P, A(MADV_GUARD_INSTALL)), Ok(0));
    assert_eq!(d.madvise(0, 4 * P, A(MADV_GUARD_REMOVE)), Ok(0));
    assert_eq!(d.bytes(0, 4), vec![0, 0, 0, 0]);
    assert!(d.layout()[0].2.contains("gu"), "the flag stays (it is 'maybe')");
    // Locked VMAs refuse installation but allow removal.
    d.madvise(2 * P, P, A(MADV_GUARD_INSTALL)).unwrap();
    assert_eq!(d.mlock(0, 4 * P), Err(Errno::ENOMEM), "populate hits the guard");
    assert_eq!(d.madvise(P, P, A(MADV_GUARD_INSTALL)), Err(Errno::EINVAL));
    assert_eq!(d.madvise(2 * P, P, A(MADV_GUARD_REMOVE)), Ok(0));
    d.munlock(0, 4 * P).unwrap();
    // munmap removes markers: a new mapping there is clean.
    d.madvise(0, P, A(MADV_GUARD_INSTALL)).unwrap();
    d.munmap(0, 4 * P).unwrap();
    d.anon(0, 4, RW).unwrap();
    assert_eq!(d.bytes(0, 1), vec![0]);
    // Shared memory takes guards too.
    d.shared(8 * P, 2, RW).unwrap();
    assert_eq!(d.madvise(8 * P, P, A(MADV_GUARD_INSTALL)), Ok(0));
    let a8 = d.a(8 * P);
    assert_eq!(d.real_touch(a8, false), 100 + SEGV_MAPERR);
    d.layout();
}

#[test]
fn guard_flag_is_sticky_in_merges() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.madvise(P, P, A(MADV_GUARD_INSTALL)).unwrap();
    d.anon(4 * P, 4, RW).unwrap();
    assert_eq!(d.layout().len(), 1, "a new neighbour merges despite gu");
    d.mprotect(5 * P, P, RO).unwrap();
    assert_eq!(d.layout().len(), 3);
    d.mprotect(5 * P, P, RW).unwrap();
    assert_eq!(d.layout().len(), 1);
    d.anon(16 * P, 4, RW).unwrap();
    d.anon(20 * P, 4, RO).unwrap();
    d.madvise(21 * P, P, A(MADV_GUARD_INSTALL)).unwrap();
    d.mprotect(20 * P, 4 * P, RW).unwrap();
    let l = d.layout();
    assert!(l.iter().any(|v| v.0 == 16 * P && v.1 == 24 * P && v.2.contains("gu")), "{l:?}");
}

#[test]
fn seal_blocks_discard_on_readonly_anon() {
    let mut d = Dual::new();
    d.anon(0, 2, RW).unwrap();
    d.mseal(0, P, 0).unwrap();
    assert_eq!(d.madvise(0, P, A(MADV_DONTNEED)), Ok(0), "writable: allowed");
    d.anon(4 * P, 1, RO).unwrap();
    d.mseal(4 * P, P, 0).unwrap();
    for adv in [
        MADV_DONTNEED,
        MADV_FREE,
        MADV_DONTNEED_LOCKED,
        MADV_DONTFORK,
        MADV_WIPEONFORK,
        MADV_GUARD_INSTALL,
        MADV_REMOVE,
    ] {
        assert_eq!(d.madvise(4 * P, P, A(adv)), Err(Errno::EPERM), "advice {adv}");
    }
    for adv in [MADV_COLD, MADV_PAGEOUT, MADV_DOFORK, MADV_GUARD_REMOVE, MADV_WILLNEED, MADV_NORMAL, MADV_DONTDUMP] {
        assert_eq!(d.madvise(4 * P, P, A(adv)), Ok(0), "advice {adv}");
    }
    d.shared(8 * P, 1, RO).unwrap();
    d.mseal(8 * P, P, 0).unwrap();
    assert_eq!(d.madvise(8 * P, P, A(MADV_DONTNEED)), Ok(0), "not anonymous: allowed");
    d.layout();
}

#[test]
fn free_cold_pageout() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.fill(0, 4, 1);
    // No swap here: PAGEOUT and COLD keep pages and data.
    assert_eq!(d.madvise(0, 4 * P, A(MADV_PAGEOUT)), Ok(0));
    assert_eq!(d.madvise(0, 4 * P, A(MADV_COLD)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 1, 1]);
    assert_eq!(d.bytes(0, 4), vec![1, 1, 1, 1]);
    // MADV_FREE: the kernel keeps lazy-free pages mapped, with their
    // contents, until reclaim (no memory pressure here); so does the model
    // (issue 13, D1). Only a reclaim pass frees them (model side).
    assert_eq!(d.madvise(0, 2 * P, A(MADV_FREE)), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 1, 1]);
    assert_eq!(d.bytes(0, 4), vec![1, 1, 1, 1]);
    let (pid, a) = (d.pid, d.a(0));
    let (k, hv) = d.k();
    // d.bytes read the pages (young PTEs): the first pass keeps them.
    assert_eq!(k.shrink_lazyfree(hv), 0);
    assert_eq!(k.shrink_lazyfree(hv), 2);
    assert_eq!(k.sys_mincore(hv, pid, a, 4 * P).unwrap(), vec![0, 0, 1, 1]);
    assert_eq!(k.user_read(hv, pid, a, 1).unwrap(), vec![0]);
    assert_eq!(k.user_read(hv, pid, a + 2 * P, 1).unwrap(), vec![1]);
}

#[test]
fn collapse() {
    let mut d = Dual::new();
    let h = 0x20_0000;
    d.anon(0, 1024, RW).unwrap();
    assert_eq!(d.madvise(0, h, A(MADV_COLLAPSE)), Err(Errno::EINVAL), "nothing mapped");
    d.fill(0, 1, 9);
    assert_eq!(d.madvise(0, h, A(MADV_COLLAPSE)), Ok(0));
    assert_eq!(d.mincore(0, 512).unwrap(), vec![1; 512]);
    assert_eq!(d.bytes(0, 2), vec![9, 0]);
    assert_eq!(d.madvise(P, 2 * P, A(MADV_COLLAPSE)), Err(Errno::EINVAL), "no whole PMD");
    assert_eq!(d.madvise(P, h, A(MADV_COLLAPSE)), Ok(0), "empty PMD range");
}

#[test]
fn fork_semantics() {
    let mut d = Dual::new();
    d.anon(0, 3, RW).unwrap();
    d.fill(0, 3, 0x11);
    d.madvise(P, P, A(MADV_DONTFORK)).unwrap();
    d.madvise(2 * P, P, A(MADV_WIPEONFORK)).unwrap();
    d.layout();
    // Kernel: in a child, page 0 keeps data, page 1 is unmapped (mincore
    // ENOMEM), page 2 reads zero.
    let (a0, a1, a2) = (d.a(0), d.a(P), d.a(2 * P));
    let c = d.host_fork(0);
    let load = |d: &mut Dual, a: u64| match d.host_op(Op::Load { p: c, addr: Addr::Abs(a), len: 1 }) {
        OpResult::Bytes(b) => b[0] as i64,
        r => panic!("host child read: {r:?}"),
    };
    let r0 = load(&mut d, a0);
    let r1 = match d.host_op(Op::Mincore { p: c, addr: Addr::Abs(a1), len: P }) {
        OpResult::Bytes(v) => v.len() as i64,
        OpResult::Ret(e) => e,
        r => panic!("host child mincore: {r:?}"),
    };
    let r2 = load(&mut d, a2);
    d.host_op(Op::Exit { p: c });
    let real_child = vec![r0, r1, r2];
    let pid = d.pid;
    let (k, hv) = d.k();
    let c = k.sys_fork(hv, pid).unwrap();
    let m0 = k.user_read(hv, c, a0, 1).unwrap()[0] as i64;
    let m1 = ret(k.sys_mincore(hv, c, a1, P).map(|v| v.len() as u64));
    let m2 = k.user_read(hv, c, a2, 1).unwrap()[0] as i64;
    assert_eq!(vec![m0, m1, m2], real_child);
    assert_eq!(real_child, vec![0x11, -(libc::ENOMEM as i64), 0]);
    // The parent keeps everything.
    assert_eq!(k.user_read(hv, pid, a2, 1).unwrap(), vec![0x11]);
    k.sys_exit(hv, c).unwrap();
}

#[test]
fn guard_markers_copied_on_fork() {
    let mut d = Dual::new();
    d.anon(0, 2, RW).unwrap();
    d.madvise(P, P, A(MADV_GUARD_INSTALL)).unwrap();
    let a = d.a(P);
    // real_touch forks: the child inherits the marker.
    assert_eq!(d.real_touch(a, false), 100 + SEGV_MAPERR);
    let pid = d.pid;
    let (k, hv) = d.k();
    let c = k.sys_fork(hv, pid).unwrap();
    assert_eq!(k.user_read(hv, c, a, 1).unwrap_err().fault, VmFault::MapErr);
}
