//! mlock(2) family: the model against this machine's kernel (Linux 6.18).
use super::util::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::mlock::*;
use mmsim::oracle::{Addr, Lim, Op, OpResult};

#[test]
fn mlock_munlock_layout_and_locked_vm() {
    let mut d = Dual::new();
    d.anon(0, 4, RW).unwrap();
    d.anon(5 * P, 1, RW).unwrap();
    // A hole: the VMAs before it are locked, then ENOMEM, no populate.
    assert_eq!(d.mlock(0, 6 * P), Err(Errno::ENOMEM));
    d.layout();
    assert_eq!(d.mincore(0, 4).unwrap(), vec![0, 0, 0, 0]);
    assert_eq!(d.munlock(0, 6 * P), Err(Errno::ENOMEM));
    assert_eq!(d.mlock(4 * P, 2 * P), Err(Errno::ENOMEM), "start in a hole: nothing done");
    d.layout();
    // ONFAULT: flags only; a later mlock populates and drops lf.
    assert_eq!(d.mlock2(0, 2 * P, 2), Err(Errno::EINVAL));
    assert_eq!(d.mlock2(0, 2 * P, MLOCK_ONFAULT), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![0, 0, 0, 0]);
    d.layout();
    assert_eq!(d.mlock(0, 4 * P), Ok(0));
    assert_eq!(d.mincore(0, 4).unwrap(), vec![1, 1, 1, 1]);
    d.layout();
    // Unaligned start and length are rounded out.
    assert_eq!(d.munlock(1, P), Ok(0));
    assert_eq!(d.mlock(P + 1, 1), Ok(0));
    d.layout();
    // A length that wraps to zero does nothing and succeeds.
    assert_eq!(d.mlock(0, u64::MAX), Ok(0));
    let (m, r) = d.locked();
    // VmLck of the host worker: only this test's mappings are locked.
    assert_eq!(m, 3, "model locked_vm");
    assert!(r >= m);
    assert_eq!(r, m, "host VmLck (pages)");
}

#[test]
fn populate_kinds() {
    let mut d = Dual::new();
    d.anon(0, 2, RO).unwrap();
    d.shared(4 * P, 2, RW).unwrap();
    d.anon(8 * P, 2, libc::PROT_WRITE as u64).unwrap();
    d.anon(12 * P, 2, NONE).unwrap();
    assert_eq!(d.mlock(0, 2 * P), Ok(0));
    assert_eq!(d.mlock(4 * P, 2 * P), Ok(0));
    assert_eq!(d.mlock(8 * P, 2 * P), Ok(0));
    assert_eq!(d.mlock(12 * P, 2 * P), Err(Errno::ENOMEM), "PROT_NONE: EFAULT from populate");
    assert_eq!(d.mincore(0, 2).unwrap(), vec![1, 1]);
    assert_eq!(d.mincore(4 * P, 2).unwrap(), vec![1, 1]);
    assert_eq!(d.mincore(8 * P, 2).unwrap(), vec![1, 1]);
    assert_eq!(d.mincore(12 * P, 2).unwrap(), vec![0, 0]);
    d.layout();
}

#[test]
fn mlockall_flags() {
    // mlockall is process-wide on the kernel side: only argument checks
    // and MCL_FUTURE effects inside a forked child compare directly.
    let mut d = Dual::new();
    let pid = d.pid;
    {
        for f in [0, 4, 8, 1 | 8] {
            let (k, hv) = d.k();
            assert_eq!(k.sys_mlockall(hv, pid, f), Err(Errno::EINVAL));
            assert_eq!(d.real(libc::SYS_mlockall, &[f]), Err(Errno::EINVAL));
        }
    }
    let base = d.a(0);
    // The kernel side in a forked host process.
    let c = d.host_fork(0);
    let mut r = Vec::new();
    let resident = |d: &mut Dual, a: u64| match d.host_op(Op::Mincore { p: c, addr: Addr::Abs(a), len: 2 * P }) {
        OpResult::Bytes(v) => v.iter().map(|&b| b as i64).sum::<i64>(),
        res => panic!("host mincore: {res:?}"),
    };
    let fl = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    r.push(ret(d.real_in(c, libc::SYS_mlockall, &[MCL_FUTURE | MCL_ONFAULT])));
    r.push(ret(d.real_in(c, libc::SYS_mmap, &[base, 2 * P, RW, fl, u64::MAX, 0])));
    r.push(resident(&mut d, base));
    r.push(ret(d.real_in(c, libc::SYS_mlockall, &[MCL_FUTURE])));
    r.push(ret(d.real_in(c, libc::SYS_mmap, &[base + 4 * P, 2 * P, RW, fl, u64::MAX, 0])));
    r.push(resident(&mut d, base + 4 * P));
    r.push(ret(d.real_in(c, libc::SYS_munlockall, &[])));
    d.host_op(Op::Exit { p: c });
    let (k, hv) = d.k();
    let fl = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    let mut m = vec![ret(k.sys_mlockall(hv, pid, MCL_FUTURE | MCL_ONFAULT))];
    m.push(ret(k.sys_mmap(hv, pid, base, 2 * P, RW, fl, u64::MAX, 0)));
    m.push(k.sys_mincore(hv, pid, base, 2 * P).unwrap().iter().map(|&b| b as i64).sum());
    m.push(ret(k.sys_mlockall(hv, pid, MCL_FUTURE)));
    m.push(ret(k.sys_mmap(hv, pid, base + 4 * P, 2 * P, RW, fl, u64::MAX, 0)));
    m.push(k.sys_mincore(hv, pid, base + 4 * P, 2 * P).unwrap().iter().map(|&b| b as i64).sum());
    m.push(ret(k.sys_munlockall(hv, pid)));
    assert_eq!(m, r);
    assert_eq!(r[2], 0, "ONFAULT: not populated");
    assert_eq!(r[5], 2, "MCL_FUTURE: populated");
    let mm = k.mm(pid).unwrap();
    assert!(mm.def_flags.is_empty() && mm.locked_vm == 0);
}

/// RLIMIT_MEMLOCK for an unprivileged user: the kernel side is a host
/// worker that drops to uid 65534.
#[test]
fn rlimit_for_non_root() {
    let mut d = Dual::with_uid(1000);
    let base = d.a(0);
    let script = |call: &mut dyn FnMut(u32, &[u64]) -> i64| -> Vec<i64> {
        let fl = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
        vec![
            call(0, &[base, 8 * P, RW, fl]),
            call(1, &[base, 4 * P]),
            call(1, &[base + 4 * P, P]),
            call(1, &[base, 4 * P]),
            call(1, &[base, 5 * P]),
            call(2, &[base, 8 * P]),
            call(3, &[MCL_CURRENT]),
            call(3, &[MCL_FUTURE]),
            call(0, &[base + 0x10_0000, 5 * P, RW, fl]),
            call(0, &[base + 0x20_0000, 4 * P, RW, fl]),
            call(0, &[base + 0x30_0000, P, RW, fl]),
            call(4, &[]),
            call(5, &[0, 0]),
            call(1, &[base, P]),
            call(6, &[base, P, 1]),
            call(3, &[MCL_CURRENT]),
            call(2, &[base, P]),
            call(0, &[base + 0x40_0000, P, RW, fl | libc::MAP_LOCKED as u64]),
        ]
    };
    // The kernel side: the host worker drops to uid 65534 after setting
    // its RLIMIT_MEMLOCK (the model's process is uid 1000 with the same
    // limit).
    let e = |x: i32| -(x as i64);
    let memlock = libc::RLIMIT_MEMLOCK;
    assert_eq!(
        d.host_op(Op::Setrlimit { p: 0, resource: memlock, cur: Lim::raw(4 * P), max: Lim::raw(4 * P) }),
        OpResult::Ret(0)
    );
    assert_eq!(d.host_op(Op::Setuid { p: 0, uid: 65534 }), OpResult::Ret(0));
    let r = {
        let mut call = |op: u32, a: &[u64]| -> i64 {
            match op {
                0 => ret(d.real(libc::SYS_mmap, &[a[0], a[1], a[2], a[3], u64::MAX, 0])),
                1 => ret(d.real(libc::SYS_mlock, a)),
                2 => ret(d.real(libc::SYS_munlock, a)),
                3 => ret(d.real(libc::SYS_mlockall, a)),
                4 => ret(d.real(libc::SYS_munlockall, a)),
                5 => {
                    match d.host_op(Op::Setrlimit { p: 0, resource: memlock, cur: Lim::raw(a[0]), max: Lim::raw(a[1]) })
                    {
                        OpResult::Ret(v) => v,
                        res => panic!("host setrlimit: {res:?}"),
                    }
                }
                _ => ret(d.real(libc::SYS_mlock2, a)),
            }
        };
        script(&mut call)
    };
    let pid = d.pid;
    let (k, hv) = d.k();
    k.sys_setrlimit(pid, 8, 4 * P, 4 * P).unwrap();
    let mut call = |op: u32, a: &[u64]| -> i64 {
        ret(match op {
            0 => k.sys_mmap(hv, pid, a[0], a[1], a[2], a[3], u64::MAX, 0),
            1 => k.sys_mlock(hv, pid, a[0], a[1]),
            2 => k.sys_munlock(hv, pid, a[0], a[1]),
            3 => k.sys_mlockall(hv, pid, a[0]),
            4 => k.sys_munlockall(hv, pid),
            5 => k.sys_setrlimit(pid, 8, a[0], a[1]),
            _ => k.sys_mlock2(hv, pid, a[0], a[1], a[2]),
        })
    };
    let m = script(&mut call);
    assert_eq!(m, r, "model (left) vs kernel (right)");
    assert_eq!(&r[1..8], &[0, e(libc::ENOMEM), 0, e(libc::ENOMEM), 0, e(libc::ENOMEM), 0]);
    assert_eq!(&r[8..11], &[e(libc::EAGAIN), (base + 0x20_0000) as i64, e(libc::EAGAIN)]);
    assert_eq!(&r[13..], &[e(libc::EPERM), e(libc::EPERM), e(libc::EPERM), 0, e(libc::EPERM)]);
}
