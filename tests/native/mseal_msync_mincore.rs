//! mseal(2), msync(2), mincore(2): the model against this machine's kernel.
use super::util::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::msync::*;

#[test]
fn mseal_checks_and_effects() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    assert_eq!(d.mseal(0, P, 1), Err(Errno::EINVAL), "flags");
    assert_eq!(d.mseal(0, P, 1 << 32), Err(Errno::EINVAL), "flags is unsigned long");
    assert_eq!(d.mseal(1, P, 0), Err(Errno::EINVAL));
    assert_eq!(d.mseal(0, 8 * P, 0), Err(Errno::ENOMEM), "hole");
    assert_eq!(d.mseal(0, u64::MAX, 0), Err(Errno::EINVAL));
    assert_eq!(d.mseal(0, 0, 0), Ok(0));
    assert_eq!(d.layout().len(), 1, "nothing sealed by the failures");
    assert_eq!(d.mseal(P, P, 0), Ok(0));
    assert_eq!(d.mseal(P, P, 0), Ok(0), "sealing twice is fine");
    assert_eq!(d.layout().len(), 3);
    assert_eq!(d.munmap(0, 2 * P), Err(Errno::EPERM));
    // mprotect applies to the VMAs before the sealed one, then fails.
    assert_eq!(d.mprotect(0, 4 * P, RO), Err(Errno::EPERM));
    assert_eq!(d.mprotect(P, P, RW), Err(Errno::EPERM), "even unchanged protections");
    let (pid, a) = (d.pid, d.a(P));
    let fl = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u64;
    let r = d.real(libc::SYS_mmap, &[a, P, RW, fl, u64::MAX, 0]);
    let (k, hv) = d.k();
    assert_eq!(k.sys_mmap(hv, pid, a, P, RW, fl, u64::MAX, 0), r);
    assert_eq!(r, Err(Errno::EPERM), "MAP_FIXED over a sealed VMA");
    // mlock/munlock are not restricted.
    assert_eq!(d.mlock(P, P), Ok(0));
    assert_eq!(d.munlock(P, P), Ok(0));
    d.layout();
}

#[test]
fn msync_checks() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    assert_eq!(d.msync(0, P, MS_ASYNC), Ok(0));
    assert_eq!(d.msync(0, P, MS_SYNC), Ok(0));
    assert_eq!(d.msync(0, P, MS_ASYNC | MS_INVALIDATE), Ok(0));
    assert_eq!(d.msync(0, P, MS_ASYNC | MS_SYNC), Err(Errno::EINVAL));
    assert_eq!(d.msync(0, P, 8), Err(Errno::EINVAL));
    assert_eq!(d.msync(1, P, MS_SYNC), Err(Errno::EINVAL));
    assert_eq!(d.msync(0, 8 * P, MS_SYNC), Err(Errno::ENOMEM));
    assert_eq!(d.msync(0, 8 * P, MS_ASYNC), Err(Errno::ENOMEM));
    assert_eq!(d.msync(0, 0, MS_SYNC), Ok(0));
    assert_eq!(d.msync(0, u64::MAX, MS_SYNC), Ok(0), "len wraps to zero");
    assert_eq!(d.msync(0x10000, P, MS_SYNC), Err(Errno::ENOMEM));
    d.anon(6 * P, 1, RW).unwrap();
    assert_eq!(d.msync(0, 7 * P, MS_SYNC), Err(Errno::ENOMEM), "hole in the middle");
    d.mlock(0, P).unwrap();
    assert_eq!(d.msync(0, P, MS_INVALIDATE), Err(Errno::EBUSY));
    assert_eq!(d.msync(0, P, MS_SYNC | MS_INVALIDATE), Err(Errno::EBUSY));
    assert_eq!(d.msync(P, P, MS_INVALIDATE), Ok(0));
    assert_eq!(d.msync(0, 8 * P, MS_INVALIDATE), Err(Errno::EBUSY), "EBUSY before the hole");
    d.shared(16 * P, 2, RW).unwrap();
    assert_eq!(d.msync(16 * P, 2 * P, MS_SYNC), Ok(0));
}

#[test]
fn mincore_checks_and_residency() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    assert_eq!(d.mincore(0, 4).unwrap(), vec![0, 0, 0, 0]);
    d.fill(P, 1, 1);
    assert_eq!(d.mincore(0, 4).unwrap(), vec![0, 1, 0, 0]);
    assert_eq!(d.mincore(0, 8), Err(Errno::ENOMEM));
    // Argument errors, same as the kernel. `vp` is a writable vector
    // buffer mapped on both sides (in the window, after the cases' ranges).
    d.anon(0x40_0000, 1, RW).unwrap();
    let (pid, a, vp) = (d.pid, d.a(0), d.a(0x40_0000));
    let cases: [(u64, u64, u64); 7] = [
        (a + 1, P, vp),
        (0x7fff_ffff_f000, 2 * P, vp),
        (a, u64::MAX - P + 1, vp),
        (a + 1, u64::MAX, vp),
        (a + 0x10_0000, P, 1),
        (a, P, 0),
        (a, 0, 0),
    ];
    for (s, l, vec) in cases {
        let r = d.real(libc::SYS_mincore, &[s, l, vec]);
        let (k, hv) = d.k();
        // The argument checks with sys_mincore for the valid buffer, the
        // copy to a bad vector with sys_mincore_user.
        let m =
            if vec == vp { k.sys_mincore(hv, pid, s, l).map(|_| 0) } else { k.sys_mincore_user(hv, pid, s, l, vec) };
        assert_eq!(m, r, "mincore({s:#x}, {l:#x}, {vec:#x})");
    }
    // The vector into user memory: writable buffer, read-only buffer.
    d.anon(8 * P, 1, RW).unwrap();
    d.anon(10 * P, 1, RO).unwrap();
    let (b_rw, b_ro) = (d.a(8 * P), d.a(10 * P));
    let r1 = d.real(libc::SYS_mincore, &[a, 4 * P, b_rw]);
    let r2 = d.real(libc::SYS_mincore, &[a, 4 * P, b_ro]);
    let host_vec = match d.host_op(mmsim::oracle::Op::Load { p: 0, addr: mmsim::oracle::Addr::Abs(b_rw), len: 4 }) {
        mmsim::oracle::OpResult::Bytes(b) => b,
        r => panic!("host read of the vector: {r:?}"),
    };
    let (k, hv) = d.k();
    assert_eq!(k.sys_mincore_user(hv, pid, a, 4 * P, b_rw), r1);
    assert_eq!(k.sys_mincore_user(hv, pid, a, 4 * P, b_ro), r2);
    assert_eq!(r2, Err(Errno::EFAULT));
    assert_eq!(k.user_read(hv, pid, b_rw, 4).unwrap(), host_vec);
}

#[test]
fn mincore_page_cache() {
    let mut d = Dual::new();
    d.shared(0, 4, RW).unwrap();
    d.fill(0, 2, 1);
    // Pages in the shmem cache count even after this mapping dropped them.
    d.madvise(0, 4 * P, 4).unwrap();
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 0, 0]);
    // A guard marker over a cached page still reports the cache.
    d.madvise(0, P, 102).unwrap();
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 0, 0]);
    // PROT_NONE after populating: the PTE is present.
    d.anon(8 * P, 2, RW).unwrap();
    d.fill(8 * P, 2, 1);
    d.mprotect(8 * P, 2 * P, NONE).unwrap();
    assert_eq!(d.mincore(8 * P, 2).unwrap(), vec![1, 1]);
}
