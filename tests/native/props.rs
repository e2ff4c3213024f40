//! Property tests: no argument makes the new syscalls panic, the VMA tree
//! stays well-formed, and short random sequences inside a window give the
//! same results and layout on the model and on this machine's kernel.
use super::util::*;
use mmsim::kernel::Pid;
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use proptest::prelude::*;

const BASE: u64 = 0x7e00_0000_0000;

fn addr_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        (0u64..64).prop_map(|p| BASE + p * P),
        (0u64..64 * P).prop_map(|o| BASE + o),
        any::<u64>(),
        Just(0u64),
        Just((1u64 << 47) - P),
    ]
}

fn len_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![(0u64..16).prop_map(|p| p * P), 0u64..70_000, any::<u64>(), Just(u64::MAX), Just(u64::MAX - P + 1)]
}

fn small_flag() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..32, 100u64..104, any::<u64>()]
}

#[derive(Debug, Clone)]
enum Op {
    Mmap(u64, u64, u64, bool),
    Munmap(u64, u64),
    Mprotect(u64, u64, u64),
    Madvise(u64, u64, u64),
    Mlock(u64, u64),
    Mlock2(u64, u64, u64),
    Munlock(u64, u64),
    Mlockall(u64),
    Munlockall,
    Mremap(u64, u64, u64, u64, u64),
    Mseal(u64, u64, u64),
    Msync(u64, u64, u64),
    Mincore(u64, u64),
    MincoreUser(u64, u64, u64),
    Touch(u64, bool),
    ForkExit,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let a = addr_strategy;
    let l = len_strategy;
    prop_oneof![
        (a(), l(), 0u64..8, any::<bool>()).prop_map(|(x, y, p, s)| Op::Mmap(x, y, p, s)),
        (a(), l()).prop_map(|(x, y)| Op::Munmap(x, y)),
        (a(), l(), 0u64..8).prop_map(|(x, y, p)| Op::Mprotect(x, y, p)),
        (a(), l(), small_flag()).prop_map(|(x, y, f)| Op::Madvise(x, y, f)),
        (a(), l()).prop_map(|(x, y)| Op::Mlock(x, y)),
        (a(), l(), small_flag()).prop_map(|(x, y, f)| Op::Mlock2(x, y, f)),
        (a(), l()).prop_map(|(x, y)| Op::Munlock(x, y)),
        small_flag().prop_map(Op::Mlockall),
        Just(Op::Munlockall),
        (a(), l(), l(), 0u64..9, a()).prop_map(|(x, o, n, f, na)| Op::Mremap(x, o, n, f, na)),
        (a(), l(), prop_oneof![Just(0u64), any::<u64>()]).prop_map(|(x, y, f)| Op::Mseal(x, y, f)),
        (a(), l(), 0u64..9).prop_map(|(x, y, f)| Op::Msync(x, y, f)),
        (a(), l()).prop_map(|(x, y)| Op::Mincore(x, y)),
        (a(), l(), a()).prop_map(|(x, y, v)| Op::MincoreUser(x, y, v)),
        (a(), any::<bool>()).prop_map(|(x, w)| Op::Touch(x, w)),
        Just(Op::ForkExit),
    ]
}

fn run_model(ops: &[Op], uid: u32) {
    let mut w = World::new(16384, Variant::default());
    let dom = w.add_domain("host", false, 2048, false).expect("domain");
    let (k, hv) = w.kh(dom).expect("kernel");
    let pid: Pid = k.spawn(uid, 0x7e00_4000_0000, 0x5555_0000_0000).expect("spawn");
    if uid != 0 {
        let _ = k.sys_setrlimit(pid, 8, 8 * P, 8 * P);
    }
    for op in ops {
        match *op {
            Op::Mmap(a, l, p, s) => {
                let fl = if s { libc::MAP_SHARED } else { libc::MAP_PRIVATE }
                    | libc::MAP_ANONYMOUS
                    | libc::MAP_FIXED_NOREPLACE;
                let _ = k.sys_mmap(hv, pid, a, l.min(64 * P), p, fl as u64, u64::MAX, 0);
            }
            Op::Munmap(a, l) => {
                let _ = k.do_munmap(hv, pid, a, l);
            }
            Op::Mprotect(a, l, p) => {
                let _ = k.sys_mprotect(hv, pid, a, l, p);
            }
            Op::Madvise(a, l, f) => {
                let _ = k.sys_madvise(hv, pid, a, l, f);
            }
            Op::Mlock(a, l) => {
                let _ = k.sys_mlock(hv, pid, a, l);
            }
            Op::Mlock2(a, l, f) => {
                let _ = k.sys_mlock2(hv, pid, a, l, f);
            }
            Op::Munlock(a, l) => {
                let _ = k.sys_munlock(hv, pid, a, l);
            }
            Op::Mlockall(f) => {
                let _ = k.sys_mlockall(hv, pid, f);
            }
            Op::Munlockall => {
                let _ = k.sys_munlockall(hv, pid);
            }
            Op::Mremap(a, o, n, f, na) => {
                let _ = k.sys_mremap(hv, pid, a, o, n.min(1 << 30), f, na);
            }
            Op::Mseal(a, l, f) => {
                let _ = k.sys_mseal(hv, pid, a, l, f);
            }
            Op::Msync(a, l, f) => {
                let _ = k.sys_msync(hv, pid, a, l, f);
            }
            Op::Mincore(a, l) => {
                let _ = k.sys_mincore(hv, pid, a, l.min(1 << 30));
            }
            Op::MincoreUser(a, l, v) => {
                let _ = k.sys_mincore_user(hv, pid, a, l.min(1 << 30), v);
            }
            Op::Touch(a, w) => {
                let _ = k.sys_touch(hv, pid, a, 1, w);
            }
            Op::ForkExit => {
                if let Ok(c) = k.sys_fork(hv, pid) {
                    let _ = k.sys_exit(hv, c);
                }
            }
        }
        // The VMA tree stays sorted, non-empty and non-overlapping.
        let mm = k.mm(pid).expect("mm");
        let mut prev_end = 0;
        for (s, v) in &mm.vmas {
            assert_eq!(*s, v.start);
            assert!(v.start < v.end && v.start >= prev_end, "{op:?}: {v:?}");
            assert!(v.start % P == 0 && v.end % P == 0);
            prev_end = v.end;
        }
    }
    let _ = k.sys_exit(hv, pid);
    assert!(k.dmesg.iter().all(|e| !e.message.contains("BUG")), "{:?}", k.dmesg);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn no_panics_root(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        run_model(&ops, 0);
    }
    #[test]
    fn no_panics_user(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        run_model(&ops, 1000);
    }
}

/// Differential: random operations inside one window, same results and
/// same layout on both sides.
#[derive(Debug, Clone)]
enum DOp {
    Anon(u64, u64, u64),
    Shared(u64, u64),
    Munmap(u64, u64),
    Mprotect(u64, u64, u64),
    Madvise(u64, u64, u64),
    Mlock(u64, u64),
    Munlock(u64, u64),
    Mremap(u64, u64, u64, u64, u64),
    Mseal(u64, u64),
    Msync(u64, u64, u64),
    Fill(u64),
}

fn dop_strategy() -> impl Strategy<Value = DOp> {
    let pg = || 0u64..24;
    // MADV_FREE (8) is left out: the model frees at once (documented).
    let adv = prop_oneof![0u64..5, 9u64..25, 102u64..104];
    prop_oneof![
        (pg(), 1u64..6, prop_oneof![Just(RW), Just(RO), Just(NONE)]).prop_map(|(o, n, p)| DOp::Anon(o, n, p)),
        (pg(), 1u64..4).prop_map(|(o, n)| DOp::Shared(o, n)),
        (pg(), 0u64..5).prop_map(|(o, n)| DOp::Munmap(o, n)),
        (pg(), 0u64..5, prop_oneof![Just(RW), Just(RO), Just(NONE)]).prop_map(|(o, n, p)| DOp::Mprotect(o, n, p)),
        (pg(), 0u64..6, adv).prop_map(|(o, n, a)| DOp::Madvise(o, n, a)),
        (pg(), 0u64..5).prop_map(|(o, n)| DOp::Mlock(o, n)),
        (pg(), 0u64..5).prop_map(|(o, n)| DOp::Munlock(o, n)),
        (pg(), 0u64..5, 1u64..6, prop_oneof![Just(0u64), Just(1), Just(3), Just(7)], pg())
            .prop_map(|(o, a, b, f, n)| DOp::Mremap(o, a, b, f, n + 32)),
        (pg(), 0u64..3).prop_map(|(o, n)| DOp::Mseal(o, n)),
        (pg(), 0u64..5, 0u64..8).prop_map(|(o, n, f)| DOp::Msync(o, n, f)),
        pg().prop_map(DOp::Fill),
    ]
}

fn run_dual(ops: &[DOp]) {
    let mut d = Dual::new();
    for op in ops {
        match *op {
            DOp::Anon(o, n, p) => drop(d.anon(o * P, n, p)),
            DOp::Shared(o, n) => drop(d.shared(o * P, n, RW)),
            DOp::Munmap(o, n) => drop(d.munmap(o * P, n * P)),
            DOp::Mprotect(o, n, p) => drop(d.mprotect(o * P, n * P, p)),
            DOp::Madvise(o, n, a) => drop(d.madvise(o * P, n * P, a)),
            DOp::Mlock(o, n) => drop(d.mlock(o * P, n * P)),
            DOp::Munlock(o, n) => drop(d.munlock(o * P, n * P)),
            DOp::Mremap(o, a, b, f, n) => {
                // Without FIXED a move would leave the window: only the
                // in-place kinds are compared there.
                let f = if f == 1 { 0 } else { f };
                let _ = d.mremap(o * P, a * P, b * P, f, n * P);
            }
            DOp::Mseal(o, n) => {
                let _ = d.mseal(o * P, n * P, 0);
            }
            DOp::Msync(o, n, f) => drop(d.msync(o * P, n * P, f)),
            DOp::Fill(o) => {
                // Write where both sides allow it (a writable VMA, no guard).
                let a = d.a(o * P);
                let (pid, ok) = {
                    let pid = d.pid;
                    let (k, _) = d.k();
                    let ok = k
                        .mm(pid)
                        .ok()
                        .and_then(|m| m.vma_at(a))
                        .is_some_and(|v| v.flags.contains(mmsim::kernel::mm_types::VmFlags::WRITE));
                    (pid, ok)
                };
                // The model decides (a forked probe would fill shared
                // memory behind the model's back); a write the model allows
                // must work on the kernel too, or the process dies loudly.
                if ok {
                    let (k, hv) = d.k();
                    if k.user_write(hv, pid, a, &[0x42]).is_ok() {
                        let op =
                            mmsim::oracle::Op::Store { p: 0, addr: mmsim::oracle::Addr::Abs(a), bytes: vec![0x42] };
                        assert_eq!(d.host_op(op), mmsim::oracle::OpResult::Ret(0), "host write at {a:#x}");
                    }
                }
            }
        }
        for (s, e, _) in d.layout() {
            d.mincore(s, (e - s) / P).expect("mincore of a VMA");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn same_as_kernel(ops in proptest::collection::vec(dop_strategy(), 1..25)) {
        run_dual(&ops);
    }
}
