//! mlock(2) family: the model against this machine's kernel (Linux 6.18).
use super::util::*;
use mmsim::kernel::errno::Errno;
use mmsim::kernel::mlock::*;

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
    // VmLck covers every test's mappings in this process: compare ours.
    assert_eq!(m, 3, "model locked_vm");
    assert!(r >= m);
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
        let (k, hv) = d.k();
        for f in [0, 4, 8, 1 | 8] {
            assert_eq!(k.sys_mlockall(hv, pid, f), Err(Errno::EINVAL));
            assert_eq!(real(libc::SYS_mlockall, &[f]), Err(Errno::EINVAL));
        }
    }
    let base = d.a(0);
    let (out, _) = in_child(|fd| {
        send(fd, ret(real(libc::SYS_mlockall, &[MCL_FUTURE | MCL_ONFAULT])));
        let fl = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
        send(fd, ret(real(libc::SYS_mmap, &[base, 2 * P, RW, fl, u64::MAX, 0])));
        let mut v = [0u8; 2];
        let _ = real(libc::SYS_mincore, &[base, 2 * P, v.as_mut_ptr() as u64]);
        send(fd, v[0] as i64 + v[1] as i64);
        send(fd, ret(real(libc::SYS_mlockall, &[MCL_FUTURE])));
        send(fd, ret(real(libc::SYS_mmap, &[base + 4 * P, 2 * P, RW, fl, u64::MAX, 0])));
        let _ = real(libc::SYS_mincore, &[base + 4 * P, 2 * P, v.as_mut_ptr() as u64]);
        send(fd, v[0] as i64 + v[1] as i64);
        send(fd, ret(real(libc::SYS_munlockall, &[])));
    });
    let r = decode(&out);
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

/// RLIMIT_MEMLOCK for an unprivileged user: the kernel side runs in a
/// child that drops to uid 65534.
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
    let (out, _) = in_child(|fd| {
        let mut call = |op: u32, a: &[u64]| -> i64 {
            ret(match op {
                0 => real(libc::SYS_mmap, &[a[0], a[1], a[2], a[3], u64::MAX, 0]),
                1 => real(libc::SYS_mlock, a),
                2 => real(libc::SYS_munlock, a),
                3 => real(libc::SYS_mlockall, a),
                4 => real(libc::SYS_munlockall, a),
                5 => {
                    let rl = libc::rlimit { rlim_cur: a[0], rlim_max: a[1] };
                    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &rl) } == 0 {
                        Ok(0)
                    } else {
                        Err(Errno(libc::EPERM))
                    }
                }
                _ => real(libc::SYS_mlock2, a),
            })
        };
        let rl = libc::rlimit { rlim_cur: 4 * P, rlim_max: 4 * P };
        unsafe {
            libc::setrlimit(libc::RLIMIT_MEMLOCK, &rl);
            libc::setuid(65534);
        }
        for v in script(&mut call) {
            send(fd, v);
        }
    });
    let r = decode(&out);
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
    let e = |x: i32| -(x as i64);
    assert_eq!(&r[1..8], &[0, e(libc::ENOMEM), 0, e(libc::ENOMEM), 0, e(libc::ENOMEM), 0]);
    assert_eq!(&r[8..11], &[e(libc::EAGAIN), (base + 0x20_0000) as i64, e(libc::EAGAIN)]);
    assert_eq!(&r[13..], &[e(libc::EPERM), e(libc::EPERM), e(libc::EPERM), 0, e(libc::EPERM)]);
}
