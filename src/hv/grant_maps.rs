//! The ground-truth index of active grant mappings (model instrumentation,
//! not a Xen structure): one record per live maptrack handle, found by
//! `(grantee, handle)` in O(1) the way Xen finds its `struct
//! grant_mapping` (`maptrack_entry(lgt, handle)`, xen/common/grant_table.c),
//! and counted by machine frame so that "does this domain have the frame
//! mapped by a grant" (the DMA audit) costs no scan.
//!
//! Iteration (`values`, `iter`) is in `(grantee, handle)` order, as the
//! `BTreeMap` this replaces gave it, and `Debug` prints the same text.

use super::grant_table::GrantMapRecord;
use super::per_domain::PerDomain;
use crate::types::{DomId, Mfn};
use rustc_hash::FxHashMap;
use std::fmt;

/// Active grant mappings by `(grantee, maptrack handle)`.
#[derive(Clone, Default)]
pub struct GrantMaps {
    /// Per grantee, ascending: the records indexed by handle (a handle is
    /// an index into the grantee's maptrack, so the vector is at most the
    /// maptrack's size; it keeps its length, as the maptrack does).
    doms: PerDomain<Vec<Option<GrantMapRecord>>>,
    len: usize,
    /// Live records per `(frame, grantee, read-only)`. A key whose count
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
    fn count(&mut self, r: &GrantMapRecord, add: bool) {
        let Some(key) = frame_key(r.mfn, r.grantee, r.readonly) else { return };
        if add {
            *self.frames.entry(key).or_insert(0) += 1;
        } else if let Some(n) = self.frames.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn get(&self, &(d, handle): &(DomId, u32)) -> Option<&GrantMapRecord> {
        self.doms.get(&d)?.get(handle as usize)?.as_ref()
    }
    pub fn contains_key(&self, key: &(DomId, u32)) -> bool {
        self.get(key).is_some()
    }
    /// Record the mapping of `(grantee, handle)`; the old record, if any.
    pub fn insert(&mut self, (d, handle): (DomId, u32), rec: GrantMapRecord) -> Option<GrantMapRecord> {
        self.count(&rec, true);
        let v = self.doms.entry_or_default(d);
        let h = handle as usize;
        if v.len() <= h {
            v.resize(h + 1, None);
        }
        let old = v[h].replace(rec);
        match &old {
            Some(o) => self.count(o, false),
            None => self.len += 1,
        }
        old
    }
    /// Forget the mapping of `(grantee, handle)`.
    pub fn remove(&mut self, &(d, handle): &(DomId, u32)) -> Option<GrantMapRecord> {
        let old = self.doms.get_mut(&d)?.get_mut(handle as usize)?.take()?;
        self.len -= 1;
        self.count(&old, false);
        Some(old)
    }
    /// The host mapping is gone (`GNTMAP_host_map` unmapped, the device
    /// mapping stays).
    pub fn clear_host(&mut self, &(d, handle): &(DomId, u32)) {
        if let Some(Some(r)) = self.doms.get_mut(&d).and_then(|v| v.get_mut(handle as usize)) {
            r.host = None;
        }
    }
    /// Every record with its key, in `(grantee, handle)` order.
    pub fn iter(&self) -> impl Iterator<Item = ((DomId, u32), &GrantMapRecord)> {
        self.doms
            .iter()
            .flat_map(|(d, v)| v.iter().enumerate().filter_map(move |(h, r)| Some(((*d, h as u32), r.as_ref()?))))
    }
    pub fn keys(&self) -> impl Iterator<Item = (DomId, u32)> + '_ {
        self.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl Iterator<Item = &GrantMapRecord> {
        self.iter().map(|(_, r)| r)
    }
    /// Whether `grantee` has `mfn` mapped by a grant: any mapping, or a
    /// writable one when `write`.
    pub fn frame_mapped_by(&self, mfn: Mfn, grantee: DomId, write: bool) -> bool {
        let live = |ro| frame_key(mfn, grantee, ro).and_then(|k| self.frames.get(&k)).is_some_and(|&n| n > 0);
        live(false) || (!write && live(true))
    }
}

impl fmt::Debug for GrantMaps {
    /// As `BTreeMap<(DomId, u32), GrantMapRecord>` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rec(grantee: DomId, handle: u32, mfn: u64, readonly: bool) -> GrantMapRecord {
        GrantMapRecord { grantee, handle, granter: 1, gref: handle + 8, mfn: Mfn(mfn), readonly, host: None }
    }

    /// The same answers, order and text as the BTreeMap it replaces, and
    /// the frame counts follow inserts and removes.
    #[test]
    fn behaves_as_the_btreemap() {
        let (mut a, mut b) = (GrantMaps::default(), BTreeMap::new());
        let ops: [(DomId, u32, bool); 9] = [
            (3, 5, true),
            (0, 2, true),
            (3, 0, true),
            (0, 9, true),
            (3, 5, false),
            (0, 9, false),
            (7, 1, true),
            (0, 2, false),
            (0, 4, true),
        ];
        for (i, &(d, h, ins)) in ops.iter().enumerate() {
            if ins {
                let r = rec(d, h, 100 + (i as u64 % 3), i % 2 == 0);
                assert_eq!(a.insert((d, h), r), b.insert((d, h), r));
            } else {
                assert_eq!(a.remove(&(d, h)), b.remove(&(d, h)));
            }
            assert_eq!(a.len(), b.len());
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert!(a.iter().map(|(k, v)| (k, *v)).eq(b.iter().map(|(k, v)| (*k, *v))));
            for m in 99..104 {
                for d in [0, 3, 7] {
                    for w in [false, true] {
                        let want = b.values().any(|r| r.mfn == Mfn(m) && r.grantee == d && (!w || !r.readonly));
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
        assert_eq!(a.remove(&(9, 0)), None);
        assert_eq!(a.get(&(3, 1000)), None);
    }
}
