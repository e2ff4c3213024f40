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
use crate::frame_map::FrameMap;
use crate::types::{DomId, Mfn};
use crate::xen::interface::grant_table::GNTMAP_READONLY;
use std::fmt;

/// Which frames the live grant mappings map.
#[derive(Clone, Default)]
pub struct GrantMaps {
    /// Live mappings of each frame, per grantee. An entry whose counts drop
    /// to 0 stays: a backend maps the same frames again and again, and
    /// dropping then re-making it would cost an allocation per grant per
    /// cycle. Bounded by the distinct (frame, grantee) pairs ever mapped.
    frames: FrameMap<Vec<FrameGrants>>,
}

/// One grantee's live mappings of one frame.
#[derive(Clone, Copy, Debug, Default)]
struct FrameGrants {
    grantee: DomId,
    writable: u32,
    readonly: u32,
}

impl FrameGrants {
    fn count(&mut self, readonly: bool) -> &mut u32 {
        if readonly { &mut self.readonly } else { &mut self.writable }
    }
}

impl GrantMaps {
    /// A mapping of `mfn` by `grantee` was made.
    pub(super) fn add(&mut self, mfn: Mfn, grantee: DomId, readonly: bool) {
        let v = self.frames.get_or_insert_with(mfn.0, Vec::new);
        let i = v.iter().position(|g| g.grantee == grantee).unwrap_or_else(|| {
            v.push(FrameGrants { grantee, ..Default::default() });
            v.len() - 1
        });
        *v[i].count(readonly) += 1;
    }
    /// A mapping [`GrantMaps::add`] counted is gone.
    pub(super) fn forget(&mut self, mfn: Mfn, grantee: DomId, readonly: bool) {
        if let Some(g) = self.frames.get_mut(mfn.0).and_then(|v| v.iter_mut().find(|g| g.grantee == grantee)) {
            let n = g.count(readonly);
            *n = n.saturating_sub(1);
        }
    }
    /// Whether `grantee` has `mfn` mapped by a grant: any mapping, or a
    /// writable one when `write`.
    pub fn frame_mapped_by(&self, mfn: Mfn, grantee: DomId, write: bool) -> bool {
        let Some(g) = self.frames.get(mfn.0).and_then(|v| v.iter().find(|g| g.grantee == grantee)) else {
            return false;
        };
        g.writable > 0 || (!write && g.readonly > 0)
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
        // No answer borrowed from another frame's count: a far frame
        // (kept apart by the FrameMap), the widest domain id.
        assert!(a.frame_mapped_by(Mfn(102), 0, false));
        assert!(!a.frame_mapped_by(Mfn(102 + (1 << 47)), 0, false));
        assert!(!a.frame_mapped_by(Mfn(102), DomId::MAX, false));
    }
}
