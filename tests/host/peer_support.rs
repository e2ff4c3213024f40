//! Helpers shared by the ported peer tests (`peer_ltp.rs`,
//! `peer_kselftest.rs`), modules beside it in the `host` test binary.
//!
//! Every ported case builds an op sequence, runs it on the host and in the
//! model with [`both`] (which fails the test on a divergence and skips with
//! a message where the host cannot run the oracle), then checks the
//! original test's own assertion on the host's transcript (the model's
//! agrees, or `both` would have failed).

#![allow(dead_code)]

use mmsim::oracle::compare::{Peer, peer_check};
use mmsim::oracle::{Addr, FdRef, Op, OpResult, PAGE_SIZE, PageInfo, Snapshot, Transcript, VmaSnapshot};

pub const PS: u64 = PAGE_SIZE;
pub const R: u64 = mmsim::oracle::DEFAULT_RANGE_LEN;
pub const BASE: u64 = mmsim::oracle::DEFAULT_BASE;
pub const RO: i32 = libc::PROT_READ;
pub const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;
pub const RWX: i32 = RW | libc::PROT_EXEC;
pub const NONE: i32 = libc::PROT_NONE;
pub const PRIV: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
pub const SHARED: i32 = libc::MAP_SHARED | libc::MAP_ANONYMOUS;
pub const FIXED: i32 = libc::MAP_FIXED;
pub const EINVAL: i64 = -(libc::EINVAL as i64);
pub const ENOMEM: i64 = -(libc::ENOMEM as i64);
pub const EFAULT: i64 = -(libc::EFAULT as i64);
pub const EPERM: i64 = -(libc::EPERM as i64);
pub const EEXIST: i64 = -(libc::EEXIST as i64);
pub const EBADF: i64 = -(libc::EBADF as i64);
pub const EAGAIN: i64 = -(libc::EAGAIN as i64);
pub const EACCES: i64 = -(libc::EACCES as i64);
pub const EOPNOTSUPP: i64 = -(libc::EOPNOTSUPP as i64);
pub const MADV_GUARD_INSTALL: i32 = 102;
pub const MADV_GUARD_REMOVE: i32 = 103;
pub const MREMAP_DONTUNMAP: i32 = 4;
pub const MLOCK_ONFAULT: u32 = 1;

/// Run on both sides. `None` (after printing why) when the host cannot run
/// the oracle; panics with the report when host and model diverge.
pub fn both(name: &str, ops: &[Op]) -> Option<Transcript> {
    match peer_check(ops) {
        Ok(Peer::Agree { mut host, model }) => {
            if !host.host.pfns_visible() {
                // The host hides PFNs: the test's own zero-page assertions
                // read the model's answer (everything else was compared).
                println!("{name}: {}; zero-page identity is the model's", host.host.not_compared());
                overlay_zero_page(&mut host, &model);
            }
            Some(*host)
        }
        Ok(Peer::Unavailable(why)) => {
            println!("SKIP {name}: {why}");
            None
        }
        Ok(Peer::Diverge(r)) => panic!("{name}: host and model diverge:\n{r}"),
        Err(e) => panic!("{name}: the oracle failed: {e}"),
    }
}

fn overlay_zero_page(host: &mut Transcript, model: &Transcript) {
    let snaps = host.steps.iter_mut().filter_map(|s| s.snapshot.as_mut()).chain(std::iter::once(&mut host.final_state));
    let msnaps: Vec<&Snapshot> =
        model.steps.iter().filter_map(|s| s.snapshot.as_ref()).chain(std::iter::once(&model.final_state)).collect();
    for (h, m) in snaps.zip(msnaps) {
        for (hp, mp) in h.iter_mut().zip(m.iter()) {
            for (hv, mv) in hp.vmas.iter_mut().zip(&mp.vmas) {
                for (a, b) in hv.pages.iter_mut().zip(&mv.pages) {
                    a.zero_page = b.zero_page;
                }
            }
        }
    }
}

/// Page `k` of the range (an offset).
pub fn pg(k: u64) -> Addr {
    Addr::Off(k * PS)
}
/// Byte `b` of page `k` of the range.
pub fn pgb(k: u64, b: u64) -> Addr {
    Addr::Off(k * PS + b)
}
/// Where an unhinted mapping of `pages` lands in an empty range.
pub fn top(pages: u64) -> Addr {
    Addr::Off(R - pages * PS)
}
/// The absolute address of page `k` of the range.
pub fn abs(k: u64) -> i64 {
    (BASE + k * PS) as i64
}

pub fn mmap(addr: Addr, pages: u64, prot: i32, flags: i32) -> Op {
    Op::Mmap { p: 0, addr, len: pages * PS, prot, flags, fd: FdRef::None, off: 0 }
}
pub fn mmap_p(p: usize, addr: Addr, pages: u64, prot: i32, flags: i32) -> Op {
    Op::Mmap { p, addr, len: pages * PS, prot, flags, fd: FdRef::None, off: 0 }
}
/// Private anonymous, fixed at page `k`.
pub fn anon_at(k: u64, pages: u64, prot: i32) -> Op {
    mmap(pg(k), pages, prot, PRIV | FIXED)
}
pub fn file_map(addr: Addr, pages: u64, prot: i32, flags: i32, slot: u32, off: u64) -> Op {
    Op::Mmap { p: 0, addr, len: pages * PS, prot, flags, fd: FdRef::Slot(slot), off }
}
pub fn memfd(slot: u32) -> Op {
    Op::MemfdCreate { p: 0, slot, flags: 0 }
}
pub fn truncate(slot: u32, len: u64) -> Op {
    Op::Ftruncate { p: 0, fd: FdRef::Slot(slot), len }
}
pub fn pwrite(slot: u32, off: u64, bytes: &[u8]) -> Op {
    Op::Pwrite { p: 0, fd: FdRef::Slot(slot), off, bytes: bytes.to_vec() }
}
pub fn pread(slot: u32, off: u64, len: u64) -> Op {
    Op::Pread { p: 0, fd: FdRef::Slot(slot), off, len }
}
pub fn munmap(addr: Addr, pages: u64) -> Op {
    Op::Munmap { p: 0, addr, len: pages * PS }
}
pub fn mprotect(addr: Addr, pages: u64, prot: i32) -> Op {
    Op::Mprotect { p: 0, addr, len: pages * PS, prot }
}
pub fn madvise(addr: Addr, pages: u64, advice: i32) -> Op {
    Op::Madvise { p: 0, addr, len: pages * PS, advice }
}
pub fn madvise_p(p: usize, addr: Addr, pages: u64, advice: i32) -> Op {
    Op::Madvise { p, addr, len: pages * PS, advice }
}
pub fn mremap(old: Addr, old_pages: u64, new_pages: u64, flags: i32, new_addr: Addr) -> Op {
    Op::Mremap { p: 0, old, old_len: old_pages * PS, new_len: new_pages * PS, flags, new_addr }
}
pub fn load(addr: Addr, len: u64) -> Op {
    Op::Load { p: 0, addr, len }
}
pub fn load_p(p: usize, addr: Addr, len: u64) -> Op {
    Op::Load { p, addr, len }
}
pub fn store(addr: Addr, bytes: &[u8]) -> Op {
    Op::Store { p: 0, addr, bytes: bytes.to_vec() }
}
pub fn store_p(p: usize, addr: Addr, bytes: &[u8]) -> Op {
    Op::Store { p, addr, bytes: bytes.to_vec() }
}
pub fn touch(addr: Addr, pages: u64, write: bool) -> Op {
    Op::Touch { p: 0, addr, len: pages * PS, write }
}
pub fn touch_p(p: usize, addr: Addr, pages: u64, write: bool) -> Op {
    Op::Touch { p, addr, len: pages * PS, write }
}
pub fn mincore(addr: Addr, pages: u64) -> Op {
    Op::Mincore { p: 0, addr, len: pages * PS }
}

/// The result of step `i`.
pub fn res(t: &Transcript, i: usize) -> &OpResult {
    &t.steps[i].result
}
/// The `Ret` value of step `i` (panics otherwise).
pub fn ret(t: &Transcript, i: usize) -> i64 {
    match res(t, i) {
        OpResult::Ret(v) => *v,
        other => panic!("step {i}: expected a return value, got {other:?}"),
    }
}
/// The bytes of step `i` (panics otherwise).
pub fn bytes(t: &Transcript, i: usize) -> Vec<u8> {
    match res(t, i) {
        OpResult::Bytes(b) => b.clone(),
        other => panic!("step {i}: expected bytes, got {other:?}"),
    }
}
/// `Some((sig, code))` when step `i` raised a signal.
pub fn signal(t: &Transcript, i: usize) -> Option<(i32, i32)> {
    match res(t, i) {
        OpResult::Signal { sig, code, .. } => Some((*sig, *code)),
        _ => None,
    }
}
pub fn segv(t: &Transcript, i: usize) -> bool {
    signal(t, i).is_some_and(|(s, _)| s == libc::SIGSEGV)
}
pub fn sigbus(t: &Transcript, i: usize) -> bool {
    signal(t, i).is_some_and(|(s, _)| s == libc::SIGBUS)
}
/// Process `p`'s VMAs in the range after step `i`.
pub fn vmas(t: &Transcript, i: usize, p: usize) -> Vec<VmaSnapshot> {
    t.steps[i]
        .snapshot
        .as_ref()
        .and_then(|s| s.iter().find(|ps| ps.p == p))
        .map(|ps| ps.vmas.clone())
        .unwrap_or_default()
}
/// The VMA of process `p` containing page `k` after step `i`.
pub fn vma(t: &Transcript, i: usize, p: usize, k: u64) -> Option<VmaSnapshot> {
    let a = BASE + k * PS;
    vmas(t, i, p).into_iter().find(|v| v.start <= a && a < v.end)
}
/// `(start page, end page)` of that VMA.
pub fn vma_pages(t: &Transcript, i: usize, p: usize, k: u64) -> Option<(u64, u64)> {
    vma(t, i, p, k).map(|v| ((v.start - BASE) / PS, (v.end - BASE) / PS))
}
/// The pagemap entry of page `k` for process `p` after step `i`.
pub fn page(t: &Transcript, i: usize, p: usize, k: u64) -> PageInfo {
    let v = vma(t, i, p, k).unwrap_or_else(|| panic!("no VMA at page {k} after step {i}"));
    v.pages[((BASE + k * PS - v.start.max(BASE)) / PS) as usize]
}
/// Is page `k` present (mapped) for process `p` after step `i`?
pub fn present(t: &Transcript, i: usize, p: usize, k: u64) -> bool {
    vma(t, i, p, k).is_some() && page(t, i, p, k).present
}
/// An smaps field (kB) of the VMA containing page `k`.
pub fn smaps(t: &Transcript, i: usize, p: usize, k: u64, field: &str) -> u64 {
    vma(t, i, p, k).and_then(|v| v.smaps.field(field)).unwrap_or(0)
}
