//! Machine memory: frames (MFNs), who owns each, and their contents.
//!
//! Ground truth: this is what a DMA engine or the MMU really reads and writes,
//! whatever any guest kernel believes. Contents are stored only once a frame
//! is written (a never-written frame reads as zeros), so cost follows the
//! frames used, not machine size.

use crate::arch::x86_64::PAGE_SIZE;
use crate::errno::{Errno, KResult};
use crate::frame_map::FrameMap;
use crate::types::Mfn;
use std::rc::Rc;

pub use crate::types::DomId;
/// The contents of one frame, shared copy-on-write: copying a page (COW
/// fault, fork, a full-page DMA) shares it until one side writes.
pub type Page = Rc<[u8; PAGE_SIZE as usize]>;

/// `DOMID_XEN`-like owner for frames nobody has (free machine memory).
pub const DOMID_FREE: DomId = 0x7ff4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub owner: DomId,
}

/// The most frames a `machine` may declare: 2^40, what 52-bit physical
/// addresses reach (4 PiB). Declaring is free: frame bookkeeping is
/// allocated in chunks as domains are given frames.
pub const MAX_MACHINE_FRAMES: u64 = 1 << 40;
/// The most frames all domains together may be given: 262,144 (1 GiB of
/// guest RAM, the default machine). Each assigned frame costs the host its
/// `struct page`, P2M and M2P entries, and lets the guest's kernel charge
/// VMAs and page tables (kernel/fork.rs), so this bounds them all. A
/// domain build past it fails with ENOMEM, as Xen's `populate_physmap`
/// does when the machine is out of memory.
pub const MAX_ASSIGNED_FRAMES: u64 = 1 << 18;
/// The most frames whose contents the model stores at once: 65,536
/// (256 MiB of host memory). Writing contents is not something Linux or
/// Xen can refuse, so crossing this ends the run with a run error naming
/// the limit (checked after each step, see `run::Runner::run`).
pub const MAX_STORED_FRAMES: usize = 1 << 16;

/// Frames per chunk of the frame table (one page of `FrameInfo`s' worth).
const CHUNK: usize = 512;

/// Per-frame owners, in chunks allocated on first write; a domain build's
/// contiguous assignment is kept as a range ([`FrameTable::set_range`])
/// and spelt out only in the chunks later written: a machine of 2^40
/// frames costs a few chunks, and building a domain nothing per frame.
#[derive(Debug, Default)]
struct FrameTable {
    chunks: Vec<Option<Box<[FrameInfo; CHUNK]>>>,
    /// `(first frame, end, owner)`: the owner in an unwritten chunk (the
    /// latest range wins), else free.
    ranges: Vec<(u64, u64, DomId)>,
}

impl FrameTable {
    fn in_ranges(&self, i: u64) -> FrameInfo {
        let owner = self.ranges.iter().rev().find(|&&(a, b, _)| (a..b).contains(&i)).map_or(DOMID_FREE, |r| r.2);
        FrameInfo { owner }
    }
    #[inline]
    fn get(&self, i: u64) -> FrameInfo {
        let (c, o) = ((i / CHUNK as u64) as usize, (i % CHUNK as u64) as usize);
        match self.chunks.get(c) {
            Some(Some(ch)) => ch[o],
            _ => self.in_ranges(i),
        }
    }
    #[inline]
    fn set(&mut self, i: u64, f: FrameInfo) {
        let (c, o) = ((i / CHUNK as u64) as usize, (i % CHUNK as u64) as usize);
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        if self.chunks[c].is_none() {
            let base = (c * CHUNK) as u64;
            let ch: [FrameInfo; CHUNK] = std::array::from_fn(|k| self.in_ranges(base + k as u64));
            self.chunks[c] = Some(Box::new(ch));
        }
        if let Some(ch) = &mut self.chunks[c] {
            ch[o] = f;
        }
    }
    /// `set(i, owner)` for every `i` in `start..end`.
    fn set_range(&mut self, start: u64, end: u64, owner: DomId) {
        if start >= end {
            return;
        }
        self.ranges.push((start, end, owner));
        let (c0, c1) = ((start / CHUNK as u64) as usize, ((end - 1) / CHUNK as u64) as usize);
        for c in c0..=c1.min(self.chunks.len().saturating_sub(1)) {
            if let Some(Some(ch)) = self.chunks.get_mut(c) {
                for (o, e) in ch.iter_mut().enumerate() {
                    if (start..end).contains(&((c * CHUNK + o) as u64)) {
                        e.owner = owner;
                    }
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct Machine {
    nr_frames: u64,
    frames: FrameTable,
    contents: FrameMap<Page>,
    next_free: u64,
    /// The most frames all domains together may be given:
    /// [`MAX_ASSIGNED_FRAMES`] unless a host-side user (the benches, which
    /// build one process of 262,144 touched pages) raises it.
    pub max_assigned: u64,
    /// Model bookkeeping, not Xen state: owner changes so far
    /// ([`Machine::owner_generation`]).
    owner_gen: u64,
}

impl Machine {
    /// A machine of `nr_frames` frames (at most [`MAX_MACHINE_FRAMES`];
    /// more are treated as that many). Costs nothing per frame until
    /// frames are assigned.
    pub fn new(nr_frames: u64) -> Machine {
        Machine {
            nr_frames: nr_frames.min(MAX_MACHINE_FRAMES),
            frames: FrameTable::default(),
            contents: FrameMap::default(),
            next_free: 0,
            max_assigned: MAX_ASSIGNED_FRAMES,
            owner_gen: 0,
        }
    }
    pub fn nr_frames(&self) -> u64 {
        self.nr_frames
    }
    pub fn valid(&self, mfn: Mfn) -> bool {
        mfn.0 < self.nr_frames()
    }
    pub fn owner(&self, mfn: Mfn) -> Option<DomId> {
        if !self.valid(mfn) {
            return None;
        }
        Some(self.frames.get(mfn.0).owner).filter(|&o| o != DOMID_FREE)
    }
    /// Hand `n` contiguous free frames to `dom` (domain build). ENOMEM when
    /// the machine has not that many left, or when all domains together
    /// would hold more than `max_assigned` ([`MAX_ASSIGNED_FRAMES`]).
    pub fn assign(&mut self, dom: DomId, n: u64) -> KResult<Mfn> {
        let start = self.next_free;
        let end = start.checked_add(n).ok_or(Errno::ENOMEM)?;
        if end > self.nr_frames() || end > self.max_assigned {
            return Err(Errno::ENOMEM);
        }
        self.frames.set_range(start, end, dom);
        self.owner_gen += 1;
        self.next_free = end;
        Ok(Mfn(start))
    }
    /// How many times a frame changed hands: the incremental invariant
    /// check trusts the owners it saw while this stays the same.
    pub fn owner_generation(&self) -> u64 {
        self.owner_gen
    }
    pub fn set_owner(&mut self, mfn: Mfn, dom: DomId) {
        if self.valid(mfn) {
            self.owner_gen += 1;
            self.frames.set(mfn.0, FrameInfo { owner: dom });
        }
    }
    /// Read `buf.len()` bytes at `off` within the frame (off + len <= 4096).
    pub fn read(&self, mfn: Mfn, off: usize, buf: &mut [u8]) {
        match self.contents.get(mfn.0) {
            Some(c) => buf.copy_from_slice(&c[off..off + buf.len()]),
            None => buf.fill(0),
        }
    }
    pub fn write(&mut self, mfn: Mfn, off: usize, data: &[u8]) {
        if data.iter().all(|&b| b == 0) && !self.contents.contains_key(mfn.0) {
            return;
        }
        let c = self.contents.get_or_insert_with(mfn.0, || Rc::new([0u8; PAGE_SIZE as usize]));
        Rc::make_mut(c)[off..off + data.len()].copy_from_slice(data);
    }
    /// `clear_page()`.
    pub fn zero(&mut self, mfn: Mfn) {
        self.contents.remove(mfn.0);
    }
    /// `copy_page()`.
    pub fn copy(&mut self, dst: Mfn, src: Mfn) {
        match self.contents.get(src.0) {
            Some(c) => {
                let c = c.clone();
                self.contents.insert(dst.0, c);
            }
            None => {
                self.contents.remove(dst.0);
            }
        }
    }
    /// The frame's contents, shared (None: all zeros).
    pub fn page(&self, mfn: Mfn) -> Option<Page> {
        self.contents.get(mfn.0).cloned()
    }
    /// Replace the frame's contents by a shared page (None: zeros).
    pub fn set_page(&mut self, mfn: Mfn, p: Option<Page>) {
        match p {
            Some(p) => {
                self.contents.insert(mfn.0, p);
            }
            None => {
                self.contents.remove(mfn.0);
            }
        }
    }
    /// Frames with stored contents (for memory-use reports and the
    /// [`MAX_STORED_FRAMES`] limit).
    pub fn stored_frames(&self) -> usize {
        self.contents.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Assignment by range reads as frame-by-frame ownership, with later
    /// single changes on top.
    #[test]
    fn assign_by_range_reads_per_frame() {
        let mut m = Machine::new(4096);
        m.set_owner(Mfn(10), 7);
        assert_eq!(m.assign(0, 1000), Ok(Mfn(0)));
        assert_eq!(m.assign(1, 600), Ok(Mfn(1000)));
        m.set_owner(Mfn(1100), 3);
        for f in 0..4200u64 {
            let want = match f {
                1100 => Some(3),
                0..1000 => Some(0),
                1000..1600 => Some(1),
                _ => None,
            };
            assert_eq!(m.owner(Mfn(f)), want.filter(|_| f < 4096), "frame {f}");
        }
        assert_eq!(m.assign(2, 4096), Err(Errno::ENOMEM));
    }
}
