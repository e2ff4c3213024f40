//! The generator's strategies for issue 13's native classes (see
//! [`super::GenConfig::broad`]): setrlimit and brk arguments, and
//! [`broad_chunk`]. Part of the test-only `gen.rs`.

use super::*;

/// Single ops of [`super::op`] for issue 13's classes: PROT_GROWSUP,
/// setrlimit, brk ([`GenConfig::broad`], [`GenConfig::brk`]) and
/// MAP_HUGETLB ([`GenConfig::hugetlb`]).
pub(super) fn broad_ops(cfg: &GenConfig) -> Vec<(u32, BoxedStrategy<Op>)> {
    let p = || 0..64usize;
    let sa = || sys_addr(cfg);
    let mut choices: Vec<(u32, BoxedStrategy<Op>)> = Vec::new();
    if cfg.broad {
        // PROT_GROWSUP/GROWSDOWN on mprotect (x86-64 has no VM_GROWSUP:
        // -EINVAL, mm/mprotect.c do_mprotect_pkey).
        choices.push((
            1,
            (
                p(),
                sa(),
                len(),
                prop_oneof![
                    Just(libc::PROT_READ | libc::PROT_GROWSUP),
                    Just(libc::PROT_GROWSUP),
                    Just(RW | libc::PROT_GROWSDOWN),
                    Just(libc::PROT_GROWSDOWN | libc::PROT_GROWSUP),
                ],
            )
                .prop_map(|(p, addr, len, prot)| Op::Mprotect { p, addr, len, prot })
                .boxed(),
        ));
        choices.push((
            2,
            (p(), resource(), lim(), lim())
                .prop_map(|(p, resource, cur, max)| Op::Setrlimit { p, resource, cur, max })
                .boxed(),
        ));
        if cfg.brk {
            choices.push((2, (p(), brk_addr()).prop_map(|(p, addr)| Op::Brk { p, addr }).boxed()));
        }
    }
    if cfg.hugetlb {
        let h = libc::MAP_HUGETLB;
        choices.push((
            1,
            (
                p(),
                sa(),
                prop_oneof![Just(2u64 << 20), Just(PS), Just(4 << 20)],
                prop_oneof![
                    Just(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | h),
                    Just(libc::MAP_SHARED | libc::MAP_ANONYMOUS | h),
                    Just(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | h),
                    // MAP_HUGE_1GB, and 64 KiB (no such hstate on x86-64).
                    Just(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | h | (30 << 26)),
                    Just(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | h | (16 << 26)),
                ],
            )
                .prop_map(|(p, addr, len, flags)| Op::Mmap { p, addr, len, prot: RW, flags, fd: FdRef::None, off: 0 })
                .boxed(),
        ));
    }
    choices
}

/// Resources of setrlimit: the three the model enforces, and invalid ones.
pub(super) fn resource() -> BoxedStrategy<u32> {
    prop_oneof![
        4 => Just(RLIMIT_AS),
        4 => Just(RLIMIT_DATA),
        1 => Just(RLIMIT_MEMLOCK),
        1 => prop_oneof![Just(16u32), Just(1000), Just(u32::MAX)],
    ]
    .boxed()
}

/// A limit: mostly a few pages above (or below) the current use.
pub(super) fn lim() -> BoxedStrategy<Lim> {
    prop_oneof![
        6 => (-4..24i64).prop_map(Lim::Used),
        2 => Just(Lim::Inf),
        1 => Just(Lim::Abs(0)),
        1 => prop_oneof![Just(Lim::Abs(PS)), Just(Lim::Abs(PS + 1)), Just(Lim::Abs(u64::MAX - 1))],
    ]
    .boxed()
}

/// Addresses for brk: the heap window (the break starts at BRK_OFF),
/// unaligned, below the start, 0 (a query).
pub(super) fn brk_addr() -> BoxedStrategy<Addr> {
    prop_oneof![
        8 => (0..24u64).prop_map(|k| Addr::Off(BRK_OFF + k * PS)),
        2 => (0..8u64, 1..PS).prop_map(|(k, d)| Addr::Off(BRK_OFF + k * PS + d)),
        1 => prop_oneof![Just(Addr::Off(BRK_OFF - PS)), Just(Addr::NULL), Just(Addr::Off(BRK_OFF + (1 << 26)))],
    ]
    .boxed()
}

/// Short scenarios of issue 13's native classes, at fixed places of the
/// top window (and the heap window for brk).
pub fn broad_chunk(cfg: &GenConfig) -> BoxedStrategy<Vec<Op>> {
    let top = cfg.range_len - cfg.window_pages * PS;
    let w = cfg.window_pages;
    let at = (0..w - 16).prop_map(move |k| top + k * PS);
    let (n, o) = (SEL_NEWEST, SEL_OLDEST);
    let brk = cfg.brk;
    let map = |p: usize, a: u64, pages: u64, prot: i32, flags: i32| Op::Mmap {
        p,
        addr: Addr::Off(a),
        len: pages * PS,
        prot,
        flags: flags | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
        fd: FdRef::None,
        off: 0,
    };
    let pa = libc::MAP_PRIVATE;
    prop_oneof![
        // RLIMIT_AS / RLIMIT_DATA a few pages over the use, then a
        // MAP_FIXED over part of an existing mapping (a failure leaves the
        // old VMA split: mm/vma.c __mmap_region), an mprotect to writable
        // (data_vm: mm/mprotect.c mprotect_fixup), a new mapping, brk.
        (
            at.clone(),
            2..=8u64,
            1..=8u64,
            prop_oneof![Just(RLIMIT_AS), Just(RLIMIT_DATA)],
            (-2..6i64).prop_map(Lim::Used),
            prop_oneof![Just(Lim::Inf), (0..12i64).prop_map(Lim::Used), Just(Lim::Abs(0))],
            0..=12u64,
            prop_oneof![Just(libc::PROT_READ), Just(RW)],
        )
            .prop_map(move |(a, pages, extra, res, cur, max, grow, prot)| {
                let mut v = vec![
                    map(o, a, pages, libc::PROT_READ, pa),
                    Op::Setrlimit { p: o, resource: res, cur, max },
                    map(o, a + PS, pages + extra, prot, pa),
                    Op::Mprotect { p: o, addr: Addr::Off(a), len: pages * PS, prot: RW },
                    Op::Mmap {
                        p: o,
                        addr: Addr::NULL,
                        len: extra * PS,
                        prot: RW,
                        flags: pa | libc::MAP_ANONYMOUS,
                        fd: FdRef::None,
                        off: 0,
                    },
                ];
                if brk {
                    v.push(Op::Brk { p: o, addr: Addr::Off(BRK_OFF + grow * PS) });
                    v.push(Op::Brk { p: o, addr: Addr::Off(BRK_OFF) });
                }
                v.push(Op::Setrlimit { p: o, resource: res, cur: Lim::Inf, max: Lim::Inf });
                v
            }),
        // The valgrind exemption: RLIMIT_DATA soft 0, hard finite
        // (mm/mmap.c may_expand_vm).
        (at.clone(), 1..=8u64, 0..8i64).prop_map(move |(a, pages, hard)| vec![
            Op::Setrlimit { p: o, resource: RLIMIT_DATA, cur: Lim::Abs(0), max: Lim::Used(hard) },
            map(o, a, pages, RW, pa),
            map(o, a, pages, libc::PROT_READ, pa),
            Op::Mprotect { p: o, addr: Addr::Off(a), len: pages * PS, prot: RW },
        ]),
        // brk: grow, touch, a mapping in the heap window, munmap of part of
        // the heap, shrink (over a hole: refused, mm/mmap.c brk), grow into
        // the mapping (refused).
        (0..12u64, 0..12u64, 1..=4u64, 0..12u64, any::<bool>()).prop_map(move |(g, m, mp, s, hole)| {
            if !brk {
                return Vec::new();
            }
            let mut v = vec![
                Op::Brk { p: o, addr: Addr::Off(BRK_OFF + g * PS + 100) },
                Op::Touch { p: o, addr: Addr::Off(BRK_OFF), len: (g + 1) * PS, write: true },
                Op::Mmap {
                    p: o,
                    addr: Addr::Off(BRK_OFF + (g + m + 1) * PS),
                    len: mp * PS,
                    prot: RW,
                    flags: pa | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                    fd: FdRef::None,
                    off: 0,
                },
            ];
            if hole {
                v.push(Op::Munmap { p: o, addr: Addr::Off(BRK_OFF + s.min(g) * PS), len: PS });
            }
            v.extend([
                Op::Brk { p: o, addr: Addr::Off(BRK_OFF + s * PS) },
                Op::Brk { p: o, addr: Addr::Off(BRK_OFF + (g + m + mp + 2) * PS) },
                Op::Fork { p: o },
                Op::Brk { p: n, addr: Addr::Off(BRK_OFF) },
                Op::Load { p: o, addr: Addr::Off(BRK_OFF), len: 2 },
            ]);
            v
        }),
        // A fork chain: each generation writes one page, then every process
        // reads them all (which page is whose: pagemap, smaps Shared/Private).
        (at.clone(), 2..=6u64, 2..=4usize, any::<bool>(), any::<bool>()).prop_map(
            move |(a, pages, gens, shared, wipe)| {
                let mut v = vec![
                    map(o, a, pages, RW, if shared { libc::MAP_SHARED } else { pa }),
                    Op::Touch { p: o, addr: Addr::Off(a), len: pages * PS, write: true },
                ];
                if wipe {
                    v.push(Op::Madvise { p: o, addr: Addr::Off(a + PS), len: PS, advice: libc::MADV_WIPEONFORK });
                }
                for g in 0..gens {
                    v.push(Op::Fork { p: if g == 0 { o } else { n } });
                    v.push(Op::Store { p: n, addr: Addr::Off(a + (g as u64 % pages) * PS), bytes: vec![g as u8 + 1] });
                }
                v.push(Op::Store { p: o, addr: Addr::Off(a), bytes: vec![0xee] });
                v.push(Op::Load { p: n, addr: Addr::Off(a), len: 1 });
                v.push(Op::Exit { p: o });
                v.push(Op::Load { p: n, addr: Addr::Off(a + PS), len: 1 });
                v
            }
        ),
        // mremap of a range across two VMAs (-EFAULT: mm/mremap.c
        // vma_to_resize), and of each part.
        (at.clone(), 1..=4u64, 1..=4u64, 1..=8u64, prop_oneof![Just(0), Just(libc::MREMAP_MAYMOVE)]).prop_map(
            move |(a, p1, p2, grow, flags)| vec![
                map(o, a, p1, RW, pa),
                map(o, a + p1 * PS, p2, libc::PROT_READ, pa),
                Op::Mremap {
                    p: o,
                    old: Addr::Off(a),
                    old_len: (p1 + p2) * PS,
                    new_len: (p1 + p2 + grow) * PS,
                    flags,
                    new_addr: Addr::NULL
                },
                Op::Mremap { p: o, old: Addr::Off(a), old_len: p1 * PS + 1, new_len: PS, flags, new_addr: Addr::NULL },
                Op::Mremap {
                    p: o,
                    old: Addr::Off(a + p1 * PS),
                    old_len: p2 * PS,
                    new_len: (p2 + grow) * PS,
                    flags,
                    new_addr: Addr::NULL
                },
                Op::Load { p: o, addr: Addr::Off(a + p1 * PS), len: 1 },
            ]
        ),
        // mseal, then MAP_FIXED/munmap/mprotect/madvise over the sealed
        // range and across its edge (-EPERM first: mm/vma.c).
        (at.clone(), 2..=6u64, 0..4u64, 1..=8u64, prop_oneof![Just(RLIMIT_AS), Just(RLIMIT_DATA)]).prop_map(
            move |(a, pages, d, len, res)| vec![
                map(o, a, pages, RW, pa),
                map(o, a + pages * PS, pages, libc::PROT_READ, pa),
                Op::Mseal { p: o, addr: Addr::Off(a + pages * PS), len: pages * PS, flags: 0 },
                Op::Setrlimit { p: o, resource: res, cur: Lim::Used(0), max: Lim::Inf },
                map(o, a + d * PS, len, libc::PROT_READ, pa),
                Op::Munmap { p: o, addr: Addr::Off(a + pages * PS), len: PS },
                Op::Mprotect { p: o, addr: Addr::Off(a), len: (pages + 1) * PS, prot: libc::PROT_READ },
                Op::Madvise { p: o, addr: Addr::Off(a + pages * PS), len: PS, advice: libc::MADV_DONTNEED },
            ]
        ),
        // A mapped memfd truncated to a partial page (the EOF page is
        // dirtied: mm/shmem.c shmem_undo_range), then grown back.
        (at, 1..=4u64, 1..PS, any::<bool>(), any::<bool>()).prop_map(move |(a, pages, d, shared, write)| {
            let fd = FdRef::Slot(0);
            vec![
                Op::MemfdCreate { p: o, slot: 0, flags: 0 },
                Op::Ftruncate { p: o, fd, len: (pages + 1) * PS },
                Op::Mmap {
                    p: o,
                    addr: Addr::Off(a),
                    len: (pages + 1) * PS,
                    prot: if shared { RW } else { libc::PROT_READ },
                    flags: if shared { libc::MAP_SHARED } else { pa } | libc::MAP_FIXED,
                    fd,
                    off: 0,
                },
                Op::Touch { p: o, addr: Addr::Off(a), len: (pages + 1) * PS, write: write && shared },
                Op::Ftruncate { p: o, fd, len: pages * PS - d },
                Op::Load { p: o, addr: Addr::Off(a + pages * PS - 1), len: 2 },
                Op::Ftruncate { p: o, fd, len: (pages + 1) * PS },
                Op::Load { p: o, addr: Addr::Off(a + pages * PS), len: 1 },
            ]
        }),
    ]
    .boxed()
}
