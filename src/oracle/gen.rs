//! Proptest strategies for random op sequences of differential tests.
//!
//! proptest is a dev-dependency, so this file is not part of the library:
//! test crates include it with
//! `#[path = "../src/oracle/gen.rs"] mod gen;` and it names the library as
//! `mmsim`.
//!
//! [`sequence`] mixes valid and invalid arguments: unaligned and
//! overflowing addresses and lengths, zero lengths, overlaps, MAP_FIXED
//! over existing mappings, MAP_FIXED_NOREPLACE, mprotect splits and
//! merges, madvise (DONTNEED then reads, guard regions, fork advice, ...),
//! memfd + ftruncate (often to a partial page) + accesses past EOF
//! (SIGBUS), mseal then MAP_FIXED over the sealed range, fork then writes in
//! both processes, mremap grow/shrink/move/DONTUNMAP, mlock/mlock2/
//! mlockall, mseal, msync, mincore, pread/pwrite; with
//! [`GenConfig::broad`] also issue 13's classes ([`broad_chunk`]:
//! setrlimit and brk, PROT_GROWSUP, MAP_HUGETLB when
//! [`GenConfig::hugetlb`]).
//!
//! Addresses are drawn from two windows of the range: the top
//! `window_pages` pages (where unhinted mappings land) and the first 16
//! pages (next to the lower guard), plus unaligned ones, the guards
//! themselves (accesses only), `NULL` and a few absolute addresses that
//! cannot touch the oracle worker's own memory. [`fixup`] then makes the
//! sequence safe for the host worker and meaningful:
//!
//! * every op addresses a live process (a selector picks one), forks stop
//!   at `max_procs`, the last live process never exits;
//! * a range given to a call that changes mappings or walks VMAs never
//!   reaches past the end of the range (the upper guard is followed by the
//!   worker's own reservations, which the model does not have; a walk that
//!   ran into them would change the worker itself); lengths that overflow
//!   (`u64::MAX`, `-4096`) are kept: every call rejects them up front;
//! * `MADV_HUGEPAGE`/`MADV_COLLAPSE` only when the sequence cannot build a
//!   2 MiB VMA (the model has no THP; see the divergence list);
//!   `MADV_FREE` only when [`GenConfig::madv_free`] is set, `MADV_PAGEOUT`
//!   only when [`GenConfig::pageout`] is (both modelled now, README D1/D2;
//!   off by default so that the default seed's sequences stay as they
//!   were).

#![allow(dead_code)]

use mmsim::oracle::compare::set_p;
use mmsim::oracle::{Addr, BRK_OFF, FdRef, Lim, Op, PAGE_SIZE, RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK};
use proptest::collection::vec;
use proptest::prelude::*;

// The issue 13 strategies (a file of its own: this one would pass 800
// lines). A file loaded with `#[path]` resolves its own `#[path]` from its
// directory.
#[path = "gen_broad.rs"]
mod broad;
pub use broad::broad_chunk;

const PS: u64 = PAGE_SIZE;

/// Tunables of [`sequence`].
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Length of the oracle's range.
    pub range_len: u64,
    /// Pages in the top window of the range.
    pub window_pages: u64,
    /// Ops per sequence (before [`fixup`] drops a few).
    pub min_ops: usize,
    pub max_ops: usize,
    /// Processes per run (the host's `max_procs`).
    pub max_procs: usize,
    /// Generate MADV_FREE.
    pub madv_free: bool,
    /// Generate mlockall/munlockall (slow on the host: it locks and
    /// populates the whole worker).
    pub mlockall: bool,
    /// Generate MADV_PAGEOUT (else MADV_COLD in its place).
    pub pageout: bool,
    /// The issue 13 classes: setrlimit (RLIMIT_AS/DATA/MEMLOCK, soft and
    /// hard, relative to the use) then mappings, mprotect and brk against
    /// them; brk grow/shrink around mappings in the heap window; fork
    /// chains writing shared pages; mremap across two VMAs; mseal then
    /// MAP_FIXED over the sealed range; partial-page ftruncate of a mapped
    /// memfd; PROT_GROWSUP.
    pub broad: bool,
    /// Generate MAP_HUGETLB (only where the host has no hugetlb pool: the
    /// model has none).
    pub hugetlb: bool,
    /// Generate brk (the worker could move its break into the range).
    pub brk: bool,
    /// Generate MADV_GUARD_INSTALL/REMOVE (the host supports them).
    pub guard: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            range_len: mmsim::oracle::DEFAULT_RANGE_LEN,
            window_pages: 64,
            min_ops: 4,
            max_ops: 16,
            max_procs: 8,
            madv_free: false,
            mlockall: true,
            pageout: false,
            broad: true,
            hugetlb: false,
            brk: true,
            guard: true,
        }
    }
}

const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// Addresses for calls that change or walk mappings.
fn sys_addr(cfg: &GenConfig) -> BoxedStrategy<Addr> {
    let base = sys_addr_base(cfg);
    if !cfg.broad {
        return base;
    }
    let heap = BRK_OFF;
    prop_oneof![
        12 => base,
        // The heap window: the break starts at BRK_OFF.
        1 => (0..24u64).prop_map(move |k| Addr::Off(heap + k * PS)),
    ]
    .boxed()
}

fn sys_addr_base(cfg: &GenConfig) -> BoxedStrategy<Addr> {
    let top = cfg.range_len - cfg.window_pages * PS;
    let w = cfg.window_pages;
    prop_oneof![
        10 => (0..w).prop_map(move |k| Addr::Off(top + k * PS)),
        3 => (0..16u64).prop_map(|k| Addr::Off(k * PS)),
        1 => (0..w, 1..PS).prop_map(move |(k, d)| Addr::Off(top + k * PS + d)),
        1 => Just(Addr::NULL),
        1 => prop_oneof![
            // The lower guard.
            Just(Addr::Off(0u64.wrapping_sub(PS))),
            // Low, empty on the host; TASK_SIZE; beyond; kernel half.
            Just(Addr::Abs(PS)),
            Just(Addr::Abs(0x7fff_ffff_f000)),
            Just(Addr::Abs(0x8000_0000_0000)),
            Just(Addr::Abs(0xffff_ffff_ffff_f000)),
        ],
    ]
    .boxed()
}

/// Addresses for loads, stores and touches: also the guards and the bytes
/// just inside the ends of the range.
fn access_addr(cfg: &GenConfig) -> BoxedStrategy<Addr> {
    let r = cfg.range_len;
    prop_oneof![
        12 => sys_addr(cfg),
        1 => prop_oneof![
            Just(Addr::Off(r)),
            Just(Addr::Off(r - 1)),
            Just(Addr::Off(r - 3)),
            Just(Addr::Off(0u64.wrapping_sub(1))),
            Just(Addr::Off(0)),
        ],
    ]
    .boxed()
}

/// Lengths: mostly 1-16 pages, sometimes 0, unaligned, 2 MiB or overflowing.
fn len() -> BoxedStrategy<u64> {
    prop_oneof![
        12 => (1..=16u64).prop_map(|k| k * PS),
        2 => (1..=4u64).prop_map(|k| k * PS),
        1 => Just(0u64),
        2 => (0..=8u64, 1..PS).prop_map(|(k, d)| k * PS + d),
        1 => Just(2u64 << 20),
        1 => prop_oneof![Just(u64::MAX), Just(0u64.wrapping_sub(PS)), Just(u64::MAX - 100)],
    ]
    .boxed()
}

fn prot() -> BoxedStrategy<i32> {
    prop_oneof![
        8 => Just(RW),
        4 => Just(libc::PROT_READ),
        3 => Just(libc::PROT_NONE),
        1 => Just(libc::PROT_WRITE),
        1 => Just(libc::PROT_READ | libc::PROT_EXEC),
        1 => Just(RW | libc::PROT_EXEC),
        1 => prop_oneof![
            Just(0x10),
            Just(libc::PROT_READ | libc::PROT_GROWSDOWN),
            Just(libc::PROT_READ | libc::PROT_GROWSDOWN | libc::PROT_GROWSUP),
            Just(libc::PROT_READ | 0x8),
        ],
    ]
    .boxed()
}

fn anon_flags() -> BoxedStrategy<i32> {
    let pa = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    let sa = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
    let fixed = libc::MAP_FIXED;
    prop_oneof![
        6 => Just(pa),
        6 => Just(pa | fixed),
        2 => Just(sa),
        2 => Just(sa | fixed),
        2 => Just(pa | libc::MAP_FIXED_NOREPLACE),
        1 => Just(pa | libc::MAP_POPULATE),
        1 => Just(pa | fixed | libc::MAP_NORESERVE),
        1 => Just(pa | libc::MAP_LOCKED),
        1 => Just(pa | libc::MAP_GROWSDOWN),
        1 => Just(sa | libc::MAP_POPULATE),
        1 => prop_oneof![
            Just(libc::MAP_ANONYMOUS),
            Just(libc::MAP_SHARED_VALIDATE | libc::MAP_ANONYMOUS | 0x400_0000),
            Just(libc::MAP_SHARED_VALIDATE | libc::MAP_ANONYMOUS),
            Just(pa | libc::MAP_STACK),
        ],
    ]
    .boxed()
}

fn file_flags() -> BoxedStrategy<i32> {
    prop_oneof![
        4 => Just(libc::MAP_SHARED),
        2 => Just(libc::MAP_SHARED | libc::MAP_FIXED),
        2 => Just(libc::MAP_PRIVATE),
        1 => Just(libc::MAP_PRIVATE | libc::MAP_FIXED),
        1 => Just(libc::MAP_SHARED | libc::MAP_POPULATE),
        1 => Just(libc::MAP_SHARED_VALIDATE),
        1 => Just(libc::MAP_SHARED_VALIDATE | 0x40_0000),
    ]
    .boxed()
}

fn slot() -> BoxedStrategy<FdRef> {
    prop_oneof![
        8 => (0..3u32).prop_map(FdRef::Slot),
        1 => prop_oneof![Just(FdRef::Raw(0)), Just(FdRef::Raw(1)), Just(FdRef::Raw(200)), Just(FdRef::Raw(-1))],
    ]
    .boxed()
}

fn file_off() -> BoxedStrategy<u64> {
    prop_oneof![
        6 => (0..4u64).prop_map(|k| k * PS),
        1 => Just(1u64),
        1 => Just(1u64 << 62),
        1 => Just(0u64.wrapping_sub(PS)),
    ]
    .boxed()
}

fn advice(cfg: &GenConfig) -> BoxedStrategy<i32> {
    let free = cfg.madv_free;
    let pageout = if cfg.pageout { libc::MADV_PAGEOUT } else { libc::MADV_COLD };
    prop_oneof![
        8 => Just(libc::MADV_DONTNEED),
        2 => Just(4 + 20), // MADV_DONTNEED_LOCKED
        4 => Just(102),    // MADV_GUARD_INSTALL
        3 => Just(103),    // MADV_GUARD_REMOVE
        2 => Just(libc::MADV_POPULATE_READ),
        2 => Just(libc::MADV_POPULATE_WRITE),
        2 => Just(libc::MADV_REMOVE),
        2 => Just(libc::MADV_DONTFORK),
        1 => Just(libc::MADV_DOFORK),
        2 => Just(libc::MADV_WIPEONFORK),
        1 => Just(libc::MADV_KEEPONFORK),
        1 => Just(libc::MADV_NORMAL),
        1 => Just(libc::MADV_RANDOM),
        1 => Just(libc::MADV_SEQUENTIAL),
        1 => Just(libc::MADV_WILLNEED),
        1 => Just(libc::MADV_DONTDUMP),
        1 => Just(libc::MADV_DODUMP),
        1 => Just(libc::MADV_COLD),
        1 => Just(pageout),
        1 => Just(libc::MADV_MERGEABLE),
        1 => Just(libc::MADV_UNMERGEABLE),
        1 => Just(libc::MADV_HUGEPAGE),
        1 => Just(libc::MADV_NOHUGEPAGE),
        1 => Just(if free { libc::MADV_FREE } else { libc::MADV_DONTNEED }),
        1 => prop_oneof![Just(1212), Just(-1), Just(100), Just(7)],
    ]
    .boxed()
}

fn bytes_small() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 1..8),
        1 => (any::<u8>(), 1..(2 * PS as usize + 3)).prop_map(|(b, n)| vec![b; n]),
        1 => Just(Vec::new()),
    ]
    .boxed()
}

/// One op, with `p` a process *selector* (resolved by [`fixup`]).
pub fn op(cfg: &GenConfig) -> BoxedStrategy<Op> {
    let p = 0..64usize;
    let sa = sys_addr(cfg);
    let aa = access_addr(cfg);
    let mut choices: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (
            14,
            (p.clone(), sa.clone(), len(), prot(), anon_flags())
                .prop_map(|(p, addr, len, prot, flags)| Op::Mmap { p, addr, len, prot, flags, fd: FdRef::None, off: 0 })
                .boxed(),
        ),
        (
            3,
            (p.clone(), sa.clone(), len(), prot(), file_flags(), slot(), file_off())
                .prop_map(|(p, addr, len, prot, flags, fd, off)| Op::Mmap { p, addr, len, prot, flags, fd, off })
                .boxed(),
        ),
        (5, (p.clone(), sa.clone(), len()).prop_map(|(p, addr, len)| Op::Munmap { p, addr, len }).boxed()),
        (
            7,
            (p.clone(), sa.clone(), len(), prot())
                .prop_map(|(p, addr, len, prot)| Op::Mprotect { p, addr, len, prot })
                .boxed(),
        ),
        (
            7,
            (p.clone(), sa.clone(), len(), advice(cfg))
                .prop_map(|(p, addr, len, advice)| Op::Madvise { p, addr, len, advice })
                .boxed(),
        ),
        (
            5,
            (
                p.clone(),
                sa.clone(),
                len(),
                len(),
                prop_oneof![
                    4 => Just(libc::MREMAP_MAYMOVE),
                    2 => Just(0),
                    2 => Just(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED),
                    2 => Just(libc::MREMAP_MAYMOVE | 4), // MREMAP_DONTUNMAP
                    1 => Just(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | 4),
                    1 => prop_oneof![Just(libc::MREMAP_FIXED), Just(4), Just(8)],
                ],
                sa.clone(),
            )
                .prop_map(|(p, old, old_len, new_len, flags, new_addr)| Op::Mremap {
                    p,
                    old,
                    old_len,
                    new_len,
                    flags,
                    new_addr,
                })
                .boxed(),
        ),
        (
            3,
            (p.clone(), sa.clone(), len(), 0..4u8)
                .prop_map(|(p, addr, len, k)| match k {
                    0 => Op::Mlock { p, addr, len },
                    1 => Op::Munlock { p, addr, len },
                    2 => Op::Mlock2 { p, addr, len, flags: 1 },
                    _ => Op::Mlock2 { p, addr, len, flags: 2 },
                })
                .boxed(),
        ),
        (
            // Sealed ranges, then MAP_FIXED/munmap/mprotect over them
            // (issue 13: a seal's -EPERM comes before any limit check and
            // leaves the first VMA split).
            3,
            (p.clone(), sa.clone(), len(), prop_oneof![6 => Just(0u64), 1 => Just(1u64)])
                .prop_map(|(p, addr, len, flags)| Op::Mseal { p, addr, len, flags })
                .boxed(),
        ),
        (
            2,
            (
                p.clone(),
                sa.clone(),
                len(),
                prop_oneof![
                    Just(libc::MS_ASYNC),
                    Just(libc::MS_SYNC),
                    Just(libc::MS_INVALIDATE),
                    Just(libc::MS_SYNC | libc::MS_INVALIDATE),
                    Just(0),
                    Just(libc::MS_ASYNC | libc::MS_SYNC),
                    Just(8),
                ],
            )
                .prop_map(|(p, addr, len, flags)| Op::Msync { p, addr, len, flags })
                .boxed(),
        ),
        (3, (p.clone(), sa.clone(), len()).prop_map(|(p, addr, len)| Op::Mincore { p, addr, len }).boxed()),
        (
            2,
            (p.clone(), 0..3u32, prop_oneof![8 => Just(0u32), 2 => Just(1u32), 1 => Just(0x100u32)])
                .prop_map(|(p, slot, flags)| Op::MemfdCreate { p, slot, flags })
                .boxed(),
        ),
        (
            2,
            (
                p.clone(),
                slot(),
                prop_oneof![
                    4 => (0..=8u64).prop_map(|k| k * PS),
                    // A partial last page (dirtied by shmem_undo_range).
                    3 => (0..=4u64, 1..PS).prop_map(|(k, d)| k * PS + d),
                    1 => Just(u64::MAX),
                ],
            )
                .prop_map(|(p, fd, len)| Op::Ftruncate { p, fd, len })
                .boxed(),
        ),
        (1, (p.clone(), slot()).prop_map(|(p, fd)| Op::Close { p, fd }).boxed()),
        (
            1,
            (
                p.clone(),
                slot(),
                prop_oneof![Just(0u64), Just(PS - 2), Just(2 * PS), Just(5 * PS), Just(u64::MAX)],
                bytes_small(),
            )
                .prop_map(|(p, fd, off, bytes)| Op::Pwrite { p, fd, off, bytes })
                .boxed(),
        ),
        (
            1,
            (
                p.clone(),
                slot(),
                prop_oneof![Just(0u64), Just(PS - 2), Just(2 * PS), Just(u64::MAX)],
                prop_oneof![Just(0u64), 1..16u64, Just(2 * PS)],
            )
                .prop_map(|(p, fd, off, len)| Op::Pread { p, fd, off, len })
                .boxed(),
        ),
        (
            6,
            (p.clone(), aa.clone(), prop_oneof![6 => 0..9u64, 1 => Just(PS + 2), 1 => Just(2 * PS)])
                .prop_map(|(p, addr, len)| Op::Load { p, addr, len })
                .boxed(),
        ),
        (7, (p.clone(), aa.clone(), bytes_small()).prop_map(|(p, addr, bytes)| Op::Store { p, addr, bytes }).boxed()),
        (
            7,
            (
                p.clone(),
                aa,
                prop_oneof![4 => (1..=4u64).prop_map(|k| k * PS), 1 => Just(1u64), 1 => Just(0u64), 1 => Just(64 * PS)],
                any::<bool>(),
            )
                .prop_map(|(p, addr, len, write)| Op::Touch { p, addr, len, write })
                .boxed(),
        ),
        (4, p.clone().prop_map(|p| Op::Fork { p }).boxed()),
        (1, p.clone().prop_map(|p| Op::Exit { p }).boxed()),
    ];
    choices.extend(broad::broad_ops(cfg));
    if cfg.mlockall {
        choices.push((
            1,
            (
                p.clone(),
                prop_oneof![
                    Just(libc::MCL_CURRENT),
                    Just(libc::MCL_FUTURE),
                    Just(libc::MCL_CURRENT | 4),
                    Just(libc::MCL_FUTURE | 4),
                    Just(4),
                    Just(0),
                    Just(8),
                ],
            )
                .prop_map(|(p, flags)| Op::Mlockall { p, flags })
                .boxed(),
        ));
        choices.push((1, p.prop_map(|p| Op::Munlockall { p }).boxed()));
    }
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// Process selector of [`chunk`] ops: the most recently created live
/// process (after a fork: the child).
pub const SEL_NEWEST: usize = 1000;
/// Process selector: the oldest live process (usually process 0).
pub const SEL_OLDEST: usize = 1001;

/// A short meaningful scenario at a fixed place of the top window: memfd
/// and SIGBUS past EOF, COW after fork with writes in both processes,
/// DONTNEED then reads, mremap grow/shrink/move/DONTUNMAP, mprotect split
/// and merge back, guard regions across fork, mlock2 on fault.
pub fn chunk(cfg: &GenConfig) -> BoxedStrategy<Vec<Op>> {
    let top = cfg.range_len - cfg.window_pages * PS;
    let w = cfg.window_pages;
    // A place for a mapping of k pages (k <= 8) in the window, and a second one.
    let at = (0..w - 8).prop_map(move |k| top + k * PS);
    let at2 = (0..w - 8).prop_map(move |k| top + k * PS);
    let k = 1..=8u64;
    let (n, o) = (SEL_NEWEST, SEL_OLDEST);
    let fixed_anon = |p: usize, a: u64, pages: u64, prot: i32, shared: bool| Op::Mmap {
        p,
        addr: Addr::Off(a),
        len: pages * PS,
        prot,
        flags: if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE } | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
        fd: FdRef::None,
        off: 0,
    };
    prop_oneof![
        // memfd + ftruncate + shared/private mapping larger than the file:
        // accesses past EOF are SIGBUS, growing the file cures them.
        (at.clone(), 0..3u32, 0..=4u64, 1..=6u64, any::<bool>(), 0..8u64, 0..2u64, vec(any::<u8>(), 1..4)).prop_map(
            move |(a, slot, fpages, mpages, shared, j, off, bytes)| {
                let fd = FdRef::Slot(slot);
                let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE } | libc::MAP_FIXED;
                vec![
                    Op::MemfdCreate { p: o, slot, flags: 0 },
                    Op::Ftruncate { p: o, fd, len: fpages * PS + off * 100 },
                    Op::Pwrite { p: o, fd, off: off * PS, bytes: bytes.clone() },
                    Op::Mmap { p: o, addr: Addr::Off(a), len: mpages * PS, prot: RW, flags, fd, off: off * PS },
                    Op::Load { p: o, addr: Addr::Off(a), len: 4 },
                    Op::Store { p: o, addr: Addr::Off(a + (j % mpages) * PS), bytes },
                    Op::Ftruncate { p: o, fd, len: (fpages + 2) * PS },
                    Op::Touch { p: o, addr: Addr::Off(a), len: mpages * PS, write: true },
                    Op::Ftruncate { p: o, fd, len: PS },
                    Op::Load { p: o, addr: Addr::Off(a + (j % mpages) * PS), len: 2 },
                    Op::Pread { p: o, fd, off: 0, len: 8 },
                    // An empty write past EOF does not extend the file.
                    Op::Pwrite { p: o, fd, off: (fpages + 3) * PS, bytes: Vec::new() },
                    Op::Pread { p: o, fd, off: PS - 4, len: 16 },
                ]
            }
        ),
        // COW after fork: writes in both, then reads in both.
        (at.clone(), k.clone(), any::<bool>(), vec(any::<u8>(), 1..4), vec(any::<u8>(), 1..4), 0..8u64).prop_map(
            move |(a, pages, shared, b1, b2, j)| {
                let x = Addr::Off(a + (j % pages) * PS);
                vec![
                    fixed_anon(o, a, pages, RW, shared),
                    Op::Store { p: o, addr: Addr::Off(a), bytes: b1.clone() },
                    Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: false },
                    Op::Fork { p: o },
                    Op::Store { p: n, addr: x, bytes: b2 },
                    Op::Store { p: o, addr: Addr::Off(a), bytes: b1 },
                    Op::Load { p: n, addr: Addr::Off(a), len: 4 },
                    Op::Load { p: o, addr: x, len: 4 },
                    Op::Touch { p: n, addr: Addr::Off(a), len: pages * PS, write: true },
                ]
            }
        ),
        // DONTNEED (or a locked variant) then reads.
        (
            at.clone(),
            k.clone(),
            any::<bool>(),
            0..8u64,
            prop_oneof![Just(libc::MADV_DONTNEED), Just(24), Just(libc::MADV_REMOVE)]
        )
            .prop_map(move |(a, pages, shared, j, adv)| vec![
                fixed_anon(o, a, pages, RW, shared),
                Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: true },
                Op::Store { p: o, addr: Addr::Off(a + (j % pages) * PS), bytes: vec![0x5a; 3] },
                Op::Madvise { p: o, addr: Addr::Off(a + (j % pages) * PS), len: PS, advice: adv },
                Op::Load { p: o, addr: Addr::Off(a + (j % pages) * PS), len: 3 },
                Op::Mincore { p: o, addr: Addr::Off(a), len: pages * PS },
            ]),
        // mremap: grow in place, shrink, move, DONTUNMAP, then reads at
        // both places.
        (
            at.clone(),
            at2.clone(),
            k.clone(),
            k.clone(),
            any::<bool>(),
            prop_oneof![
                Just(0),
                Just(libc::MREMAP_MAYMOVE),
                Just(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED),
                Just(libc::MREMAP_MAYMOVE | 4),
                Just(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | 4),
            ]
        )
            .prop_map(move |(a, b, pages, new_pages, shared, flags)| vec![
                fixed_anon(o, a, pages, RW, shared),
                Op::Store { p: o, addr: Addr::Off(a), bytes: vec![1, 2, 3] },
                Op::Mremap {
                    p: o,
                    old: Addr::Off(a),
                    old_len: pages * PS,
                    new_len: new_pages * PS,
                    flags,
                    new_addr: Addr::Off(b)
                },
                Op::Load { p: o, addr: Addr::Off(a), len: 3 },
                Op::Load { p: o, addr: Addr::Off(b), len: 3 },
                Op::Touch { p: o, addr: Addr::Off(b), len: new_pages * PS, write: true },
            ]),
        // mprotect split then merge back.
        (at.clone(), 3..=8u64, 1..=2u64, prot(), any::<bool>()).prop_map(move |(a, pages, mid, prot, touch)| {
            let mut v = vec![fixed_anon(o, a, pages, RW, false)];
            if touch {
                v.push(Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: true });
            }
            v.extend([
                Op::Mprotect { p: o, addr: Addr::Off(a + mid * PS), len: PS, prot },
                Op::Store { p: o, addr: Addr::Off(a + mid * PS), bytes: vec![7] },
                Op::Mprotect { p: o, addr: Addr::Off(a + mid * PS), len: PS, prot: RW },
                Op::Mprotect { p: o, addr: Addr::Off(a), len: pages * PS, prot: libc::PROT_READ },
                Op::Load { p: o, addr: Addr::Off(a + mid * PS), len: 1 },
            ]);
            v
        }),
        // Guard regions, across fork.
        (at.clone(), 2..=8u64, 0..8u64, any::<bool>()).prop_map(move |(a, pages, j, shared)| vec![
            fixed_anon(o, a, pages, RW, shared),
            Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: true },
            Op::Madvise { p: o, addr: Addr::Off(a + (j % pages) * PS), len: PS, advice: 102 },
            Op::Load { p: o, addr: Addr::Off(a + (j % pages) * PS), len: 1 },
            Op::Fork { p: o },
            Op::Load { p: n, addr: Addr::Off(a + (j % pages) * PS), len: 1 },
            Op::Madvise { p: n, addr: Addr::Off(a), len: pages * PS, advice: 103 },
            Op::Load { p: n, addr: Addr::Off(a + (j % pages) * PS), len: 1 },
            Op::Munmap { p: o, addr: Addr::Off(a + (j % pages) * PS), len: PS },
        ]),
        // mlock2(MLOCK_ONFAULT), touch, munlock part.
        (at, 2..=8u64, any::<bool>()).prop_map(move |(a, pages, onfault)| vec![
            fixed_anon(o, a, pages, RW, false),
            Op::Mlock2 { p: o, addr: Addr::Off(a + PS), len: PS, flags: u32::from(onfault) },
            Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: false },
            Op::Munlock { p: o, addr: Addr::Off(a), len: 2 * PS },
            Op::Mlock { p: o, addr: Addr::Off(a), len: pages * PS },
        ]),
    ]
    .boxed()
}

/// A sequence: usually starting with a mapping, then random single ops
/// and [`chunk`]s, made safe and meaningful by [`fixup`].
pub fn sequence(cfg: GenConfig) -> BoxedStrategy<Vec<Op>> {
    let first = (sys_addr(&cfg), (1..=16u64), prop_oneof![Just(RW), Just(libc::PROT_READ)], anon_flags())
        .prop_map(|(addr, k, prot, flags)| Op::Mmap { p: 0, addr, len: k * PS, prot, flags, fd: FdRef::None, off: 0 });
    let c2 = cfg.clone();
    let piece = if cfg.broad {
        prop_oneof![
            12 => op(&cfg).prop_map(|o| vec![o]),
            2 => chunk(&cfg),
            1 => broad_chunk(&cfg),
        ]
        .boxed()
    } else {
        prop_oneof![6 => op(&cfg).prop_map(|o| vec![o]), 1 => chunk(&cfg)].boxed()
    };
    (first, vec(piece, cfg.min_ops..=cfg.max_ops))
        .prop_map(move |(f, rest)| {
            let mut v = vec![f];
            v.extend(rest.into_iter().flatten());
            v.truncate(c2.max_ops + 12);
            fixup(v, &c2)
        })
        .boxed()
}

/// Clamp `len` so that `[addr, addr + len)` stays inside the range when
/// `addr` is in the range; overflowing lengths are kept.
fn clamp_len(addr: Addr, len: u64, range_len: u64) -> u64 {
    // An overflowing length is rejected up front by every call: when it
    // rounds up to 0, or when the end wraps around. Addresses in (or just
    // below) the range are above 0x7d00_0000_0000, so `-4096` wraps from
    // them; from NULL it does not (a walk over the worker's whole address
    // space), so it is clamped there.
    let wraps = match addr {
        Addr::Off(_) => true,
        Addr::Abs(a) => a.checked_add(len.wrapping_add(PS - 1) & !(PS - 1)).is_none(),
    };
    if len > u64::MAX - 2 * PS && (wraps || len.wrapping_add(PS - 1) & !(PS - 1) == 0) {
        return len;
    }
    match addr {
        Addr::Off(o) if o < range_len => len.min(range_len - o),
        // The lower guard: at most up to the end of the range.
        Addr::Off(_) => len.min(range_len),
        // Low addresses, NULL, TASK_SIZE and beyond: nothing of the worker.
        Addr::Abs(_) => len.min(16 * PS),
    }
}

/// Make a generated sequence safe for the host worker (see the module
/// comment): resolve process selectors, bound forks and exits, clamp
/// ranges to the range, drop THP advice when a 2 MiB VMA is possible.
pub fn fixup(ops: Vec<Op>, cfg: &GenConfig) -> Vec<Op> {
    let r = cfg.range_len;
    let big = ops.iter().any(|o| match o {
        Op::Mmap { len, .. } => *len >= 2 << 20 && *len < 1 << 40,
        Op::Mremap { new_len, .. } => *new_len >= 2 << 20 && *new_len < 1 << 40,
        _ => false,
    });
    let mut alive: Vec<usize> = vec![0];
    let mut nprocs = 1usize;
    let mut out = Vec::with_capacity(ops.len());
    for mut op in ops {
        let sel = op.p().unwrap_or(0);
        let p = match sel {
            SEL_NEWEST => alive[alive.len() - 1],
            SEL_OLDEST => alive[0],
            _ => alive[sel % alive.len()],
        };
        match &mut op {
            Op::Fork { p: q } => {
                if nprocs >= cfg.max_procs {
                    continue;
                }
                *q = p;
                alive.push(nprocs);
                nprocs += 1;
                out.push(op);
                continue;
            }
            Op::Exit { p: q } => {
                if alive.len() <= 1 {
                    continue;
                }
                *q = p;
                alive.retain(|&x| x != p);
                out.push(op);
                continue;
            }
            Op::Madvise { advice, .. } if big && (*advice == libc::MADV_HUGEPAGE || *advice == 25) => {
                *advice = libc::MADV_NOHUGEPAGE;
            }
            // The host has no guard regions (before Linux 6.13): probed by
            // the test, which says so.
            Op::Madvise { advice, .. } if !cfg.guard && (*advice == 102 || *advice == 103) => {
                *advice = libc::MADV_NORMAL;
            }
            Op::Brk { .. } if !cfg.brk => continue,
            _ => {}
        }
        set_p(&mut op, p);
        match &mut op {
            Op::Mmap { addr, len, flags, .. }
                // An unhinted mapping lands at the top of the range (or below
                // the lower guard when it does not fit): always inside the
                // model's view. A hint or MAP_FIXED is clamped.
                if (*addr != Addr::NULL || *flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0) => {
                    *len = clamp_len(*addr, *len, r);
                }
            Op::Munmap { addr, len, .. }
            | Op::Mprotect { addr, len, .. }
            | Op::Madvise { addr, len, .. }
            | Op::Mlock { addr, len, .. }
            | Op::Mlock2 { addr, len, .. }
            | Op::Munlock { addr, len, .. }
            | Op::Mseal { addr, len, .. }
            | Op::Msync { addr, len, .. }
            | Op::Mincore { addr, len, .. } => *len = clamp_len(*addr, *len, r),
            Op::Mremap { old, old_len, new_len, new_addr, flags, .. } => {
                *old_len = clamp_len(*old, *old_len, r);
                *new_len = clamp_len(*old, *new_len, r);
                if *flags & libc::MREMAP_FIXED != 0 {
                    *new_len = clamp_len(*new_addr, *new_len, r);
                }
            }
            _ => {}
        }
        out.push(op);
    }
    out
}
