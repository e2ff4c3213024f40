//! The PV physical-to-machine map a guest keeps (P2M) and Xen's global
//! machine-to-physical table (M2P).
//!
//! Follows `arch/x86/include/asm/xen/page.h` and `arch/x86/xen/p2m.c`:
//! entries may be `INVALID_P2M_ENTRY` (~0), `FOREIGN_FRAME(m)` (top bit) or
//! `IDENTITY_FRAME(m)` (bit BITS_PER_LONG-2).

use crate::kernel::page::{Mfn, Pfn};

pub const INVALID_P2M_ENTRY: u64 = !0;
pub const FOREIGN_FRAME_BIT: u64 = 1 << 63;
pub const IDENTITY_FRAME_BIT: u64 = 1 << 62;

pub fn foreign_frame(m: Mfn) -> u64 {
    m.0 | FOREIGN_FRAME_BIT
}

/// A guest's P2M: for a native kernel a fixed offset (its RAM is a contiguous
/// run of machine frames); for a PV guest an array the guest maintains.
#[derive(Debug, Clone)]
pub enum P2m {
    Native { base: Mfn, len: u64 },
    Pv { entries: Vec<u64> },
}

impl P2m {
    /// The raw entry, tags included (`__pfn_to_mfn`).
    pub fn raw(&self, pfn: Pfn) -> u64 {
        match self {
            P2m::Native { base, len } => {
                if pfn.0 < *len {
                    base.0 + pfn.0
                } else {
                    INVALID_P2M_ENTRY
                }
            }
            P2m::Pv { entries } => entries.get(pfn.0 as usize).copied().unwrap_or(INVALID_P2M_ENTRY),
        }
    }
    /// `pfn_to_mfn()`: the entry with FOREIGN/IDENTITY tags stripped; `None`
    /// for INVALID_P2M_ENTRY.
    pub fn pfn_to_mfn(&self, pfn: Pfn) -> Option<Mfn> {
        let r = self.raw(pfn);
        if r == INVALID_P2M_ENTRY { None } else { Some(Mfn(r & !(FOREIGN_FRAME_BIT | IDENTITY_FRAME_BIT))) }
    }
    /// `__set_phys_to_machine()`; false when the pfn is out of range.
    pub fn set(&mut self, pfn: Pfn, raw: u64) -> bool {
        match self {
            P2m::Native { .. } => false,
            P2m::Pv { entries } => match entries.get_mut(pfn.0 as usize) {
                Some(e) => {
                    *e = raw;
                    true
                }
                None => false,
            },
        }
    }
    pub fn len(&self) -> u64 {
        match self {
            P2m::Native { len, .. } => *len,
            P2m::Pv { entries } => entries.len() as u64,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Entries per chunk of the M2P (one 4 KiB page of them, as Xen maps it).
const M2P_CHUNK: usize = 512;

/// Xen's machine-to-phys table: for each MFN the PFN in its owner. Stored
/// in chunks allocated on first write, so a huge machine costs only the
/// frames domains were given.
#[derive(Debug, Clone)]
pub struct M2p {
    nr_frames: u64,
    chunks: Vec<Option<Box<[u64; M2P_CHUNK]>>>,
}

impl M2p {
    pub fn new(nr_frames: u64) -> M2p {
        M2p { nr_frames, chunks: Vec::new() }
    }
    /// A read of `machine_to_phys_mapping[mfn]`; `None` when out of range or
    /// unset (the guest's read would fault or give ~0).
    #[inline]
    pub fn get(&self, mfn: Mfn) -> Option<Pfn> {
        let (c, o) = ((mfn.0 / M2P_CHUNK as u64) as usize, (mfn.0 % M2P_CHUNK as u64) as usize);
        match self.chunks.get(c) {
            Some(Some(ch)) if ch[o] != INVALID_P2M_ENTRY => Some(Pfn(ch[o])),
            _ => None,
        }
    }
    pub fn set(&mut self, mfn: Mfn, pfn: Option<Pfn>) {
        if mfn.0 >= self.nr_frames {
            return;
        }
        let (c, o) = ((mfn.0 / M2P_CHUNK as u64) as usize, (mfn.0 % M2P_CHUNK as u64) as usize);
        let v = pfn.map_or(INVALID_P2M_ENTRY, |p| p.0);
        if self.chunks.get(c).is_none_or(|ch| ch.is_none()) && v == INVALID_P2M_ENTRY {
            return;
        }
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        self.chunks[c].get_or_insert_with(|| Box::new([INVALID_P2M_ENTRY; M2P_CHUNK]))[o] = v;
    }
}
