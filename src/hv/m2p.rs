//! Xen's global machine-to-physical table (M2P,
//! `machine_to_phys_mapping`): for each MFN the PFN its owner put there
//! (`xen/arch/x86/include/asm/mm.h` `set_gpfn_from_mfn`).

use crate::types::{Mfn, Pfn};

/// `INVALID_M2P_ENTRY`: an M2P slot with no PFN.
pub const INVALID_M2P_ENTRY: u64 = !0;

/// Entries per chunk of the M2P (one 4 KiB page of them, as Xen maps it).
const M2P_CHUNK: usize = 512;

/// Xen's machine-to-phys table: for each MFN the PFN in its owner. Stored
/// in chunks allocated on first write, so a huge machine costs only the
/// frames written; a domain build's contiguous assignment
/// ([`M2p::set_range`]) is kept as a range and spelt out only in the
/// chunks later written, so building a domain costs nothing per frame.
#[derive(Debug, Clone)]
pub struct M2p {
    nr_frames: u64,
    chunks: Vec<Option<Box<[u64; M2P_CHUNK]>>>,
    /// `(first MFN, frames, PFN of the first)`: what an unmaterialised
    /// chunk holds there (the latest range wins), else INVALID_M2P_ENTRY.
    ranges: Vec<(u64, u64, u64)>,
    /// Model bookkeeping, not Xen state: writes so far ([`M2p::generation`]).
    writes: u64,
}

impl M2p {
    pub fn new(nr_frames: u64) -> M2p {
        M2p { nr_frames, chunks: Vec::new(), ranges: Vec::new(), writes: 0 }
    }
    /// How many times the table was written: the incremental invariant
    /// check trusts what it derived from the M2P while this stays the same.
    pub fn generation(&self) -> u64 {
        self.writes
    }
    /// The entry of `mfn` in a chunk not yet written.
    fn in_ranges(&self, mfn: u64) -> u64 {
        self.ranges
            .iter()
            .rev()
            .find(|&&(m, n, _)| mfn >= m && mfn - m < n)
            .map_or(INVALID_M2P_ENTRY, |&(m, _, p)| p + (mfn - m))
    }
    /// `set(mfn + i, pfn + i)` for `i < n`, as a domain build does for the
    /// frames it assigned (Xen's `set_gpfn_from_mfn` in a loop).
    pub fn set_range(&mut self, mfn: u64, n: u64, pfn: u64) {
        let n = n.min(self.nr_frames.saturating_sub(mfn));
        if n == 0 {
            return;
        }
        self.writes += 1;
        self.ranges.push((mfn, n, pfn));
        // Chunks already spelt out take the range now.
        let (c0, c1) = ((mfn / M2P_CHUNK as u64) as usize, ((mfn + n - 1) / M2P_CHUNK as u64) as usize);
        for c in c0..=c1.min(self.chunks.len().saturating_sub(1)) {
            if let Some(Some(ch)) = self.chunks.get_mut(c) {
                for (o, e) in ch.iter_mut().enumerate() {
                    let m = (c * M2P_CHUNK + o) as u64;
                    if m >= mfn && m - mfn < n {
                        *e = pfn + (m - mfn);
                    }
                }
            }
        }
    }
    /// A read of `machine_to_phys_mapping[mfn]`; `None` when out of range or
    /// unset (the guest's read would fault or give ~0).
    #[inline]
    pub fn get(&self, mfn: Mfn) -> Option<Pfn> {
        let (c, o) = ((mfn.0 / M2P_CHUNK as u64) as usize, (mfn.0 % M2P_CHUNK as u64) as usize);
        let v = match self.chunks.get(c) {
            Some(Some(ch)) => ch[o],
            _ if mfn.0 < self.nr_frames => self.in_ranges(mfn.0),
            _ => INVALID_M2P_ENTRY,
        };
        (v != INVALID_M2P_ENTRY).then_some(Pfn(v))
    }
    pub fn set(&mut self, mfn: Mfn, pfn: Option<Pfn>) {
        if mfn.0 >= self.nr_frames {
            return;
        }
        self.writes += 1;
        let (c, o) = ((mfn.0 / M2P_CHUNK as u64) as usize, (mfn.0 % M2P_CHUNK as u64) as usize);
        let v = pfn.map_or(INVALID_M2P_ENTRY, |p| p.0);
        let unwritten = self.chunks.get(c).is_none_or(|ch| ch.is_none());
        if unwritten && v == self.in_ranges(mfn.0) {
            return;
        }
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        if unwritten {
            let mut ch = Box::new([INVALID_M2P_ENTRY; M2P_CHUNK]);
            for (i, e) in ch.iter_mut().enumerate() {
                *e = self.in_ranges((c * M2P_CHUNK + i) as u64);
            }
            self.chunks[c] = Some(ch);
        }
        if let Some(ch) = &mut self.chunks[c] {
            ch[o] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range reads as the per-frame writes it stands for, before and
    /// after single writes into it, and a later range wins.
    #[test]
    fn set_range_is_per_frame_set() {
        let (mut a, mut b) = (M2p::new(4096), M2p::new(4096));
        b.set(Mfn(700), Some(Pfn(9)));
        a.set(Mfn(700), Some(Pfn(9)));
        a.set_range(500, 1000, 0);
        for i in 0..1000 {
            b.set(Mfn(500 + i), Some(Pfn(i)));
        }
        a.set(Mfn(1200), None);
        b.set(Mfn(1200), None);
        a.set_range(1400, 10, 77);
        for i in 0..10 {
            b.set(Mfn(1400 + i), Some(Pfn(77 + i)));
        }
        a.set_range(4090, 100, 3);
        for i in 0..100 {
            b.set(Mfn(4090 + i), Some(Pfn(3 + i)));
        }
        for m in 0..5000 {
            assert_eq!(a.get(Mfn(m)), b.get(Mfn(m)), "mfn {m}");
        }
    }
}
