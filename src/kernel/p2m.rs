//! The physical-to-machine map a PV guest keeps (P2M): guest kernel state,
//! Xen never reads it.
//!
//! Follows `arch/x86/include/asm/xen/page.h` and `arch/x86/xen/p2m.c`:
//! entries may be `INVALID_P2M_ENTRY` (~0), `FOREIGN_FRAME(m)` (top bit) or
//! `IDENTITY_FRAME(m)` (bit BITS_PER_LONG-2).

use crate::types::{Mfn, Pfn};

pub const INVALID_P2M_ENTRY: u64 = !0;
pub const FOREIGN_FRAME_BIT: u64 = 1 << 63;
pub const IDENTITY_FRAME_BIT: u64 = 1 << 62;

/// The tag bits a valid P2M entry carries, by name (`FOREIGN`, `IDENTITY`).
pub fn entry_tags(raw: u64) -> Vec<&'static str> {
    let mut tags = Vec::new();
    if raw & FOREIGN_FRAME_BIT != 0 {
        tags.push("FOREIGN");
    }
    if raw & IDENTITY_FRAME_BIT != 0 {
        tags.push("IDENTITY");
    }
    tags
}

/// The machine frame of a valid P2M entry, without its tag bits.
pub fn entry_mfn(raw: u64) -> u64 {
    raw & !(FOREIGN_FRAME_BIT | IDENTITY_FRAME_BIT)
}

pub fn foreign_frame(m: Mfn) -> u64 {
    m.0 | FOREIGN_FRAME_BIT
}

/// A guest's P2M: for a native kernel a fixed offset (its RAM is a contiguous
/// run of machine frames); for a PV guest an array the guest maintains.
#[derive(Debug, Clone)]
pub enum P2m {
    Native {
        base: Mfn,
        len: u64,
    },
    /// `len` entries: as the domain builder leaves them (pfn `i < ram` maps
    /// to `base + i`, the rest is `INVALID_P2M_ENTRY`) until written. A
    /// simplification of storage only: the entries live in chunks of
    /// [`P2M_CHUNK`] made on first write (`chunks[i]` is `None` while chunk
    /// `i` reads as boot left it), so building a domain costs no per-page
    /// work. `writes` is model bookkeeping, not kernel state: it counts the
    /// writes ([`P2m::generation`]).
    Pv {
        base: Mfn,
        ram: u64,
        len: u64,
        chunks: Vec<Option<Box<[u64]>>>,
        writes: u64,
    },
}

/// Entries per chunk of a PV P2M (one page of 8-byte entries, as the
/// kernel's own P2M leaf pages: `P2M_PER_PAGE`).
pub const P2M_CHUNK: u64 = 512;

impl P2m {
    /// A PV guest's P2M of `len` entries as the domain builder leaves it:
    /// pfn `i < ram` maps to machine frame `base + i`, the rest (the
    /// unpopulated PFNs above RAM) is `INVALID_P2M_ENTRY`.
    pub fn pv(base: Mfn, ram: u64, len: u64) -> P2m {
        let ram = ram.min(len);
        P2m::Pv { base, ram, len, chunks: vec![None; len.div_ceil(P2M_CHUNK) as usize], writes: 0 }
    }
    /// How many times an entry was written (0 for a native P2M, which never
    /// changes): the incremental invariant check (`invariants::ptcache`)
    /// trusts what it derived from the P2M while this stays the same.
    pub fn generation(&self) -> u64 {
        match self {
            P2m::Native { .. } => 0,
            P2m::Pv { writes, .. } => *writes,
        }
    }
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
            P2m::Pv { base, ram, len, chunks, .. } => {
                if pfn.0 >= *len {
                    return INVALID_P2M_ENTRY;
                }
                match chunks.get((pfn.0 / P2M_CHUNK) as usize) {
                    Some(Some(c)) => c.get((pfn.0 % P2M_CHUNK) as usize).copied().unwrap_or(INVALID_P2M_ENTRY),
                    _ => boot_entry(*base, *ram, pfn.0),
                }
            }
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
            P2m::Pv { base, ram, len, chunks, writes } => {
                if pfn.0 >= *len {
                    return false;
                }
                let ci = pfn.0 / P2M_CHUNK;
                let Some(slot) = chunks.get_mut(ci as usize) else { return false };
                let (base, ram, len) = (*base, *ram, *len);
                let c = slot.get_or_insert_with(|| {
                    let start = ci * P2M_CHUNK;
                    (start..(start + P2M_CHUNK).min(len)).map(|p| boot_entry(base, ram, p)).collect()
                });
                match c.get_mut((pfn.0 % P2M_CHUNK) as usize) {
                    Some(e) => {
                        *e = raw;
                        *writes += 1;
                        true
                    }
                    None => false,
                }
            }
        }
    }
    pub fn len(&self) -> u64 {
        match self {
            P2m::Native { len, .. } => *len,
            P2m::Pv { len, .. } => *len,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A PV P2M entry as the domain builder wrote it (`P2m::pv`).
fn boot_entry(base: Mfn, ram: u64, pfn: u64) -> u64 {
    if pfn < ram { base.0 + pfn } else { INVALID_P2M_ENTRY }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunked P2M reads as the array the domain builder would write
    /// (`base + pfn` below RAM, invalid above, nothing past `len`), before
    /// and after writes, and counts each write.
    #[test]
    fn chunked_pv_p2m_is_the_array() {
        let (base, ram, len) = (Mfn(0x1000), 1000u64, 1000 + 4096);
        let mut want: Vec<u64> = (0..len).map(|p| if p < ram { base.0 + p } else { INVALID_P2M_ENTRY }).collect();
        let mut p2m = P2m::pv(base, ram, len);
        let same = |p2m: &P2m, want: &[u64]| {
            (0..len + 600).all(|p| p2m.raw(Pfn(p)) == want.get(p as usize).copied().unwrap_or(INVALID_P2M_ENTRY))
        };
        assert_eq!(p2m.len(), len);
        assert!(same(&p2m, &want));
        for (pfn, v) in [(3, foreign_frame(Mfn(7))), (999, INVALID_P2M_ENTRY), (1000, 0x55), (len - 1, 0x66)] {
            assert!(p2m.set(Pfn(pfn), v));
            want[pfn as usize] = v;
        }
        assert!(!p2m.set(Pfn(len), 1), "past the end");
        assert_eq!(p2m.generation(), 4);
        assert!(same(&p2m, &want));
        assert_eq!(p2m.pfn_to_mfn(Pfn(3)), Some(Mfn(7)));
        assert_eq!(p2m.pfn_to_mfn(Pfn(999)), None);
        assert_eq!(p2m.pfn_to_mfn(Pfn(998)), Some(Mfn(0x1000 + 998)));
    }
}
