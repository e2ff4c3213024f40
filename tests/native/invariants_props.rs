//! Random native syscall sequences, valid and invalid arguments mixed, in
//! up to three processes: no panic, every invariant holds after every step,
//! and once every process has exited nothing is leaked (page-leak and
//! table-leak checks of `invariants::check_world`).

use mmsim::invariants::check_world;
use mmsim::kernel::variant::Variant;
use mmsim::world::World;
use proptest::prelude::*;

const BASE: u64 = 0x7e00_0000_0000;

#[derive(Clone, Debug)]
enum Op {
    Mmap { slot: u8, pages: u8, prot: u8, shared: bool, fixed: bool, populate: bool },
    Munmap { slot: u8, off: u8, pages: u8 },
    Mprotect { slot: u8, off: u8, pages: u8, prot: u8 },
    Madvise { slot: u8, off: u8, pages: u8, advice: u8 },
    Mremap { slot: u8, grow: u8, maymove: bool },
    Mlock { slot: u8, pages: u8 },
    Store { slot: u8, off: u8 },
    Load { slot: u8, off: u8 },
    Fork,
    Exit { which: u8 },
    Memfd { pages: u8 },
    Raw { addr: u64, len: u64, prot: u64, flags: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8, 1u8..6, 0u8..8, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(slot, pages, prot, shared, fixed, populate)| Op::Mmap { slot, pages, prot, shared, fixed, populate }
        ),
        (0u8..8, 0u8..6, 0u8..6).prop_map(|(slot, off, pages)| Op::Munmap { slot, off, pages }),
        (0u8..8, 0u8..6, 0u8..6, 0u8..8).prop_map(|(slot, off, pages, prot)| Op::Mprotect { slot, off, pages, prot }),
        (0u8..8, 0u8..6, 1u8..6, 0u8..32).prop_map(|(slot, off, pages, advice)| Op::Madvise {
            slot,
            off,
            pages,
            advice
        }),
        (0u8..8, 0u8..6, any::<bool>()).prop_map(|(slot, grow, maymove)| Op::Mremap { slot, grow, maymove }),
        (0u8..8, 1u8..4).prop_map(|(slot, pages)| Op::Mlock { slot, pages }),
        (0u8..8, 0u8..8).prop_map(|(slot, off)| Op::Store { slot, off }),
        (0u8..8, 0u8..8).prop_map(|(slot, off)| Op::Load { slot, off }),
        Just(Op::Fork),
        (0u8..4).prop_map(|which| Op::Exit { which }),
        (0u8..4).prop_map(|pages| Op::Memfd { pages }),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(addr, len, prot, flags)| Op::Raw {
            addr,
            len,
            prot,
            flags
        }),
    ]
}

const ADVICE: [u64; 16] = [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 14, 15, 18, 19, 102, 103];

fn run(ops: &[Op]) {
    let mut w = World::new(16384, Variant::default());
    let d = w.add_domain("host", false, 8192, false).expect("domain");
    let mut procs = vec![w.kh(d).expect("k").0.spawn(0, BASE + (1 << 30), 0x5555_0000_0000).expect("spawn")];
    let slot_addr = |s: u8| BASE + (s as u64) * 0x10_0000;
    for (i, o) in ops.iter().enumerate() {
        let (k, hv) = w.kh(d).expect("kernel");
        let p = procs[i % procs.len()];
        match *o {
            Op::Mmap { slot, pages, prot, shared, fixed, populate } => {
                let mut flags = 0x20 | if shared { 1 } else { 2 };
                if fixed {
                    flags |= 0x10;
                }
                if populate {
                    flags |= 0x8000;
                }
                let _ = k.sys_mmap(hv, p, slot_addr(slot), (pages as u64) << 12, prot as u64, flags, u64::MAX, 0);
            }
            Op::Munmap { slot, off, pages } => {
                let _ = k.do_munmap(hv, p, slot_addr(slot) + ((off as u64) << 12), (pages as u64) << 12);
            }
            Op::Mprotect { slot, off, pages, prot } => {
                let _ =
                    k.sys_mprotect(hv, p, slot_addr(slot) + ((off as u64) << 12), (pages as u64) << 12, prot as u64);
            }
            Op::Madvise { slot, off, pages, advice } => {
                let adv = ADVICE[advice as usize % ADVICE.len()];
                let _ = k.sys_madvise(hv, p, slot_addr(slot) + ((off as u64) << 12), (pages as u64) << 12, adv);
            }
            Op::Mremap { slot, grow, maymove } => {
                let a = slot_addr(slot);
                let _ = k.sys_mremap(hv, p, a, 4096, (grow as u64 + 1) << 12, if maymove { 1 } else { 0 }, 0);
            }
            Op::Mlock { slot, pages } => {
                let _ = k.sys_mlock(hv, p, slot_addr(slot), (pages as u64) << 12);
            }
            Op::Store { slot, off } => {
                let _ = k.user_write(hv, p, slot_addr(slot) + ((off as u64) << 12), b"xy");
            }
            Op::Load { slot, off } => {
                let _ = k.user_read(hv, p, slot_addr(slot) + ((off as u64) << 12), 2);
            }
            Op::Fork => {
                if procs.len() < 3
                    && let Ok(c) = k.sys_fork(hv, p)
                {
                    procs.push(c);
                }
            }
            Op::Exit { which } => {
                if procs.len() > 1 {
                    let victim = procs.remove(which as usize % procs.len());
                    k.sys_exit(hv, victim).expect("exit of a live process");
                }
            }
            Op::Memfd { pages } => {
                if let Ok(fd) = k.sys_memfd_create(p, "m") {
                    let _ = k.sys_ftruncate(hv, p, fd, (pages as u64) << 12);
                    if let Ok(a) = k.sys_mmap(hv, p, 0, 8192, 3, 1, fd, 0) {
                        let _ = k.user_write(hv, p, a, b"m");
                    }
                    let _ = k.sys_close(hv, p, fd);
                }
            }
            Op::Raw { addr, len, prot, flags } => {
                let _ = k.sys_mmap(hv, p, addr, len, prot, flags, u64::MAX, 0);
                let _ = k.do_munmap(hv, p, addr, len);
                let _ = k.sys_mprotect(hv, p, addr, len, prot);
            }
        }
        let v = check_world(&mut w);
        assert!(v.is_empty(), "after step {i} {o:?}: {v:#?}");
    }
    for p in procs {
        let (k, hv) = w.kh(d).expect("kernel");
        k.sys_exit(hv, p).expect("exit");
    }
    let v = check_world(&mut w);
    assert!(v.is_empty(), "after every exit: {v:#?}");
    let k = w.kernel(d).expect("kernel");
    assert!(k.procs.is_empty());
    assert_eq!(k.page_tables().nr_tables(), 0, "page tables left behind");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]
    #[test]
    fn invariants_hold_after_every_step(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
