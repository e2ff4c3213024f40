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
            Some(Some(ch)) if ch[o] != INVALID_M2P_ENTRY => Some(Pfn(ch[o])),
            _ => None,
        }
    }
    pub fn set(&mut self, mfn: Mfn, pfn: Option<Pfn>) {
        if mfn.0 >= self.nr_frames {
            return;
        }
        let (c, o) = ((mfn.0 / M2P_CHUNK as u64) as usize, (mfn.0 % M2P_CHUNK as u64) as usize);
        let v = pfn.map_or(INVALID_M2P_ENTRY, |p| p.0);
        if self.chunks.get(c).is_none_or(|ch| ch.is_none()) && v == INVALID_M2P_ENTRY {
            return;
        }
        if self.chunks.len() <= c {
            self.chunks.resize_with(c + 1, || None);
        }
        self.chunks[c].get_or_insert_with(|| Box::new([INVALID_M2P_ENTRY; M2P_CHUNK]))[o] = v;
    }
}
