//! The ground truth of active grant mappings (model instrumentation, not a
//! Xen structure). Each live mapping is its grantee's maptrack entry
//! (`struct grant_mapping`, found by `maptrack_entry(lgt, handle)` in
//! xen/common/grant_table.c), which the model widens by the frame mapped
//! and where the host mapping is ([`GrantMapping::mfn`], `host`): a record
//! is made and dropped with the entry, at no extra lookup. This module
//! reads the records back ([`GrantTables::record`], [`GrantTables::records`])
//! and keeps the one index Xen has no counterpart of: how many live
//! mappings each domain has of each frame, so that "does this domain have
//! the frame mapped by a grant" (the DMA audit) costs no scan.
//!
//! Iteration is in `(grantee, handle)` order.

use super::grant_table::{GrantMapRecord, GrantMapping, GrantTables};
use crate::types::{DomId, Mfn};
use crate::xen::interface::grant_table::GNTMAP_READONLY;
use rustc_hash::FxHashMap;
use std::fmt;

/// Which frames the live grant mappings map.
#[derive(Clone, Default)]
pub struct GrantMaps {
    /// Live mappings per `(frame, grantee, read-only)`. A key whose count
    /// drops to 0 stays (with 0): a backend maps the same frames again and
    /// again, and removing then re-inserting the key cost a hash insert and
    /// remove per grant per cycle. Bounded by the distinct keys ever mapped.
    /// The key is packed into one word ([`frame_key`]): one hash round.
    frames: FxHashMap<u64, u32>,
}

/// `(frame, grantee, read-only)` as one word: the frame in bits 17..64,
/// the 16-bit domain id in bits 1..17, read-only in bit 0, so distinct
/// triples never collide. `None` for a frame of 2^47 or more: no record
/// has one (a grant maps a frame its granter owns, and a machine has at
/// most 2^40, `MAX_MACHINE_FRAMES`), but a DMA audit may ask about any.
fn frame_key(mfn: Mfn, grantee: DomId, readonly: bool) -> Option<u64> {
    (mfn.0 < 1 << 47).then_some(mfn.0 << 17 | (grantee as u64) << 1 | readonly as u64)
}

impl GrantMaps {
    /// A mapping of `mfn` by `grantee` was made.
    pub(super) fn add(&mut self, mfn: Mfn, grantee: DomId, readonly: bool) {
        if let Some(key) = frame_key(mfn, grantee, readonly) {
            *self.frames.entry(key).or_insert(0) += 1;
        }
    }
    /// A mapping [`GrantMaps::add`] counted is gone.
    pub(super) fn forget(&mut self, mfn: Mfn, grantee: DomId, readonly: bool) {
        if let Some(n) = frame_key(mfn, grantee, readonly).and_then(|key| self.frames.get_mut(&key)) {
            *n = n.saturating_sub(1);
        }
    }
    /// Whether `grantee` has `mfn` mapped by a grant: any mapping, or a
    /// writable one when `write`.
    pub fn frame_mapped_by(&self, mfn: Mfn, grantee: DomId, write: bool) -> bool {
        let live = |ro| frame_key(mfn, grantee, ro).and_then(|k| self.frames.get(&k)).is_some_and(|&n| n > 0);
        live(false) || (!write && live(true))
    }
}

impl GrantMapping {
    /// The record of this entry of `grantee`'s maptrack (in use: `flags`
    /// not 0).
    pub fn record(&self, grantee: DomId, handle: u32) -> GrantMapRecord {
        GrantMapRecord {
            grantee,
            handle,
            granter: self.domid,
            gref: self.gref,
            mfn: self.mfn,
            readonly: self.flags as u32 & GNTMAP_READONLY != 0,
            host: self.host,
        }
    }
}

impl GrantTables {
    /// The live mapping of `(grantee, handle)`.
    pub fn record(&self, (d, handle): (DomId, u32)) -> Option<GrantMapRecord> {
        let m = self.tables.get(&d)?.maptrack.get(handle as usize)?;
        (m.flags != 0).then(|| m.record(d, handle))
    }
    /// Every live mapping, in `(grantee, handle)` order.
    pub fn records(&self) -> impl Iterator<Item = GrantMapRecord> + '_ {
        self.tables.iter().flat_map(|(&d, t)| t.maps_in_use().map(move |(h, m)| m.record(d, h)))
    }
}

/// The records as a map `(grantee, handle) -> record`, for `Debug`.
pub(super) struct Records<'a>(pub &'a GrantTables);

impl fmt::Debug for Records<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.records().map(|r| ((r.grantee, r.handle), r))).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The frame counts follow adds and forgets: `frame_mapped_by` answers
    /// as a scan of the live mappings would.
    #[test]
    fn frame_counts_follow_the_mappings() {
        let mut a = GrantMaps::default();
        let mut live: BTreeMap<u32, (Mfn, DomId, bool)> = BTreeMap::new();
        let ops: [(u32, DomId, u64, bool, bool); 9] = [
            (0, 3, 100, true, true),
            (1, 0, 101, false, true),
            (2, 3, 102, true, true),
            (3, 0, 101, true, true),
            (0, 3, 100, true, false),
            (3, 0, 101, true, false),
            (4, 7, 100, false, true),
            (1, 0, 101, false, false),
            (5, 0, 102, false, true),
        ];
        for &(id, d, m, ro, add) in &ops {
            if add {
                a.add(Mfn(m), d, ro);
                live.insert(id, (Mfn(m), d, ro));
            } else {
                let (m, d, ro) = live.remove(&id).expect("live");
                a.forget(m, d, ro);
            }
            for m in 99..104 {
                for d in [0, 3, 7] {
                    for w in [false, true] {
                        let want = live.values().any(|&(lm, ld, lro)| lm == Mfn(m) && ld == d && (!w || !lro));
                        assert_eq!(a.frame_mapped_by(Mfn(m), d, w), want, "mfn {m} d{d} write {w}");
                    }
                }
            }
        }
        // No answer borrowed from another frame's count: a frame beyond
        // what the key packs, the widest domain id.
        assert!(a.frame_mapped_by(Mfn(102), 0, false));
        assert!(!a.frame_mapped_by(Mfn(102 + (1 << 47)), 0, false));
        assert!(!a.frame_mapped_by(Mfn(102), DomId::MAX, false));
    }
}
