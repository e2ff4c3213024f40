//! Machine memory: frames (MFNs), who owns each, and their contents.
//!
//! Ground truth: this is what a DMA engine or the MMU really reads and writes,
//! whatever any guest kernel believes. Contents are stored only once a frame
//! is written (a never-written frame reads as zeros), so cost follows the
//! frames used, not machine size.

use crate::arch::x86_64::PAGE_SIZE;
use crate::kernel::errno::{Errno, KResult};
use crate::kernel::page::Mfn;
use rustc_hash::FxHashMap;
use std::rc::Rc;

pub type DomId = u16;
/// The contents of one frame, shared copy-on-write: copying a page (COW
/// fault, fork, a full-page DMA) shares it until one side writes.
pub type Page = Rc<[u8; PAGE_SIZE as usize]>;

/// `DOMID_XEN`-like owner for frames nobody has (free machine memory).
pub const DOMID_FREE: DomId = 0x7ff4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub owner: DomId,
}

#[derive(Debug)]
pub struct Machine {
    frames: Vec<FrameInfo>,
    contents: FxHashMap<u64, Page>,
    next_free: u64,
}

impl Machine {
    pub fn new(nr_frames: u64) -> Machine {
        Machine {
            frames: vec![FrameInfo { owner: DOMID_FREE }; nr_frames as usize],
            contents: FxHashMap::default(),
            next_free: 0,
        }
    }
    pub fn nr_frames(&self) -> u64 {
        self.frames.len() as u64
    }
    pub fn valid(&self, mfn: Mfn) -> bool {
        mfn.0 < self.nr_frames()
    }
    pub fn owner(&self, mfn: Mfn) -> Option<DomId> {
        self.frames.get(mfn.0 as usize).map(|f| f.owner).filter(|&o| o != DOMID_FREE)
    }
    /// Hand `n` contiguous free frames to `dom` (domain build). ENOMEM when
    /// the machine has not that many left.
    pub fn assign(&mut self, dom: DomId, n: u64) -> KResult<Mfn> {
        let start = self.next_free;
        let end = start.checked_add(n).ok_or(Errno::ENOMEM)?;
        if end > self.nr_frames() {
            return Err(Errno::ENOMEM);
        }
        for f in &mut self.frames[start as usize..end as usize] {
            f.owner = dom;
        }
        self.next_free = end;
        Ok(Mfn(start))
    }
    pub fn set_owner(&mut self, mfn: Mfn, dom: DomId) {
        if let Some(f) = self.frames.get_mut(mfn.0 as usize) {
            f.owner = dom;
        }
    }
    /// Read `buf.len()` bytes at `off` within the frame (off + len <= 4096).
    pub fn read(&self, mfn: Mfn, off: usize, buf: &mut [u8]) {
        match self.contents.get(&mfn.0) {
            Some(c) => buf.copy_from_slice(&c[off..off + buf.len()]),
            None => buf.fill(0),
        }
    }
    pub fn write(&mut self, mfn: Mfn, off: usize, data: &[u8]) {
        if data.iter().all(|&b| b == 0) && !self.contents.contains_key(&mfn.0) {
            return;
        }
        let c = self.contents.entry(mfn.0).or_insert_with(|| Rc::new([0u8; PAGE_SIZE as usize]));
        Rc::make_mut(c)[off..off + data.len()].copy_from_slice(data);
    }
    /// `clear_page()`.
    pub fn zero(&mut self, mfn: Mfn) {
        self.contents.remove(&mfn.0);
    }
    /// `copy_page()`.
    pub fn copy(&mut self, dst: Mfn, src: Mfn) {
        match self.contents.get(&src.0) {
            Some(c) => {
                let c = c.clone();
                self.contents.insert(dst.0, c);
            }
            None => {
                self.contents.remove(&dst.0);
            }
        }
    }
    /// The frame's contents, shared (None: all zeros).
    pub fn page(&self, mfn: Mfn) -> Option<Page> {
        self.contents.get(&mfn.0).cloned()
    }
    /// Replace the frame's contents by a shared page (None: zeros).
    pub fn set_page(&mut self, mfn: Mfn, p: Option<Page>) {
        match p {
            Some(p) => {
                self.contents.insert(mfn.0, p);
            }
            None => {
                self.contents.remove(&mfn.0);
            }
        }
    }
    /// Frames with stored contents (for memory-use reports).
    pub fn stored_frames(&self) -> usize {
        self.contents.len()
    }
}
