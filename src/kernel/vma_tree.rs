//! The VMA store of one mm: what `mm->mm_mt` (the maple tree of
//! lib/maple_tree.c, walked with the `vma_iterator` of include/linux/mm.h
//! and mm/vma.h) is to Linux.
//!
//! Simplification: not a maple tree. It is an ordered map from `vm_start`
//! to the VMA, in two levels: sorted chunks of at most [`CHUNK`] VMAs
//! (boxed, so a chunk holds 16 bytes per entry and moving entries is
//! cheap) under a sorted index of each chunk's first `vm_start`. A lookup
//! is a binary search in the index (skipped when the last lookup's chunk
//! holds the key, as a `vma_iterator` keeps its position), then one in the
//! chunk; an insert or remove moves at most one chunk's entries; a full
//! chunk splits in two, a small one joins its neighbour. Iteration order,
//! the keys and the values are a `BTreeMap<u64, Vma>`'s, and the
//! read/write methods callers use are that map's, under its names.

use crate::kernel::mm_types::Vma;
use std::cell::Cell;
use std::fmt;
use std::ops::{Bound, RangeBounds};

/// Most VMAs in one chunk; a chunk reaching it splits in two.
const CHUNK: usize = 64;
/// A chunk with fewer VMAs than this after a remove joins a neighbour
/// when both fit in one chunk.
const MIN_CHUNK: usize = CHUNK / 4;

#[derive(Clone, Default)]
struct Chunk {
    starts: Vec<u64>,
    /// Boxed on purpose: an insert moves 8 bytes per later entry, not a
    /// whole VMA, and a split's new VMA is built in its box.
    #[allow(clippy::vec_box)]
    vmas: Vec<Box<Vma>>,
}

/// A position: chunk, index in it. The end is `(chunks.len(), 0)`; every
/// other position has `index < chunk.len()`, so positions order as tuples.
type Pos = (usize, usize);

/// Where a VMA sits in a [`VmaTree`], as a `vma_iterator` holds its
/// place: valid until the tree next changes other than through
/// [`VmaTree::insert_after`] with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmaSlot(Pos);

/// The VMAs of one mm, keyed by `vm_start` (see the module comment).
#[derive(Default)]
pub struct VmaTree {
    /// `firsts[i] == chunks[i].starts[0]`; no chunk is empty.
    firsts: Vec<u64>,
    chunks: Vec<Chunk>,
    len: usize,
    /// The position of the last lookup or insert (a `vma_iterator`'s
    /// place): the next lookup tries it and its neighbours first, and
    /// its chunk before a search of the index. Checked on use, so a
    /// stale one only costs the search.
    hint: Cell<Pos>,
}

impl Clone for VmaTree {
    fn clone(&self) -> Self {
        VmaTree { firsts: self.firsts.clone(), chunks: self.chunks.clone(), len: self.len, hint: Cell::new((0, 0)) }
    }
}

impl fmt::Debug for VmaTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl VmaTree {
    pub fn new() -> VmaTree {
        VmaTree::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk that holds `key` if any VMA starts there: the last one
    /// whose first start is `<= key` (chunk 0 when `key` is below all).
    /// The tree must not be empty.
    #[inline]
    fn chunk_of(&self, key: u64) -> usize {
        let h = self.hint.get().0;
        if h < self.firsts.len() && self.firsts[h] <= key && self.firsts.get(h + 1).is_none_or(|&n| key < n) {
            return h;
        }
        let c = self.firsts.partition_point(|&f| f <= key).saturating_sub(1);
        self.hint.set((c, 0));
        c
    }

    /// The first position whose start is `>= key`.
    #[inline]
    fn lower_bound(&self, key: u64) -> Pos {
        if self.chunks.is_empty() {
            return (0, 0);
        }
        let c = self.chunk_of(key);
        let ch = &self.chunks[c];
        let p = ch.starts.partition_point(|&s| s < key);
        if p == ch.starts.len() { (c + 1, 0) } else { (c, p) }
    }

    /// The first position whose start is `> key`.
    #[inline]
    fn upper_bound(&self, key: u64) -> Pos {
        match key.checked_add(1) {
            Some(k) => self.lower_bound(k),
            None => (self.chunks.len(), 0),
        }
    }

    /// The hinted position or the one after or before it in the same
    /// chunk, if `f` accepts its VMA: where the next operation of a walk
    /// or of a split and merge usually is.
    #[inline]
    fn near(&self, f: impl Fn(&Vma) -> bool) -> Option<Pos> {
        let (c, p) = self.hint.get();
        let ch = self.chunks.get(c)?;
        [p, p + 1, p.wrapping_sub(1)].into_iter().find(|&q| ch.vmas.get(q).is_some_and(|v| f(v))).map(|q| (c, q))
    }

    #[inline]
    fn find(&self, key: u64) -> Option<Pos> {
        if let Some(pos) = self.near(|v| v.start == key) {
            self.hint.set(pos);
            return Some(pos);
        }
        if self.chunks.is_empty() {
            return None;
        }
        let c = self.chunk_of(key);
        let pos = self.chunks[c].starts.binary_search(&key).ok().map(|p| (c, p))?;
        self.hint.set(pos);
        Some(pos)
    }

    /// The position of the VMA containing `addr`.
    #[inline]
    fn find_containing(&self, addr: u64) -> Option<Pos> {
        if let Some(pos) = self.near(|v| v.start <= addr && addr < v.end) {
            return Some(pos);
        }
        let pos = self.before(self.upper_bound(addr))?;
        self.hint.set(pos);
        Some(pos).filter(|&pos| self.at(pos).1.end > addr)
    }

    #[inline]
    fn at(&self, (c, p): Pos) -> (&u64, &Vma) {
        let ch = &self.chunks[c];
        (&ch.starts[p], &ch.vmas[p])
    }

    /// The position before `pos`, `None` at the first.
    #[inline]
    fn before(&self, (c, p): Pos) -> Option<Pos> {
        if p > 0 {
            Some((c, p - 1))
        } else if c > 0 {
            Some((c - 1, self.chunks[c - 1].starts.len() - 1))
        } else {
            None
        }
    }

    pub fn get(&self, key: &u64) -> Option<&Vma> {
        self.find(*key).map(|pos| self.at(pos).1)
    }

    pub fn get_mut(&mut self, key: &u64) -> Option<&mut Vma> {
        let (c, p) = self.find(*key)?;
        Some(&mut self.chunks[c].vmas[p])
    }

    pub fn contains_key(&self, key: &u64) -> bool {
        self.find(*key).is_some()
    }

    /// `vma_lookup()`: the VMA containing `addr`, with one search.
    pub fn vma_lookup(&self, addr: u64) -> Option<&Vma> {
        self.find_containing(addr).map(|pos| self.at(pos).1)
    }

    /// [`VmaTree::vma_lookup`] for writing.
    pub fn vma_lookup_mut(&mut self, addr: u64) -> Option<&mut Vma> {
        let (c, p) = self.find_containing(addr)?;
        Some(&mut *self.chunks[c].vmas[p])
    }

    /// `find_vma()`: the first VMA with `vm_end > addr`, with one search.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        // A VMA containing `addr` is the first to end above it.
        if let Some(pos) = self.near(|v| v.start <= addr && addr < v.end) {
            return Some(self.at(pos).1);
        }
        let next = self.upper_bound(addr);
        if let Some(pos) = self.before(next) {
            let v = self.at(pos).1;
            if v.end > addr {
                return Some(v);
            }
        }
        self.range_pos(next, self.end()).next().map(|(_, v)| v)
    }

    /// `find_vma_prev()`'s `pprev` as [`crate::kernel::mm::Mm::prev_vma`]
    /// wants it: the VMA before `addr` (starting below it), if it ends at
    /// or before `addr`.
    pub fn prev_vma(&self, addr: u64) -> Option<&Vma> {
        let pos = self.before(self.lower_bound(addr))?;
        Some(self.at(pos).1).filter(|v| v.end <= addr)
    }

    /// The VMAs intersecting `[start, end)`, ascending
    /// (`for_each_vma_range()`).
    pub fn vmas_in(&self, start: u64, end: u64) -> Range<'_> {
        let next = self.upper_bound(start);
        let front = match self.before(next) {
            Some(pos) if self.at(pos).1.end > start => pos,
            _ => next,
        };
        let back = self.lower_bound(end).max(front);
        self.range_pos(front, back)
    }

    /// The VMA starting at `key`, for writing, with its slot.
    pub fn get_mut_slot(&mut self, key: &u64) -> Option<(VmaSlot, &mut Vma)> {
        let (c, p) = self.find(*key)?;
        Some((VmaSlot((c, p)), &mut self.chunks[c].vmas[p]))
    }

    /// The VMA starting at `key` with the VMAs just before and after it,
    /// in one search (`vma_prev()`/`vma_next()` of a `vma_iterator`).
    pub fn get_with_neighbours(&self, key: &u64) -> Option<(Option<&Vma>, &Vma, Option<&Vma>)> {
        let (c, p) = self.find(*key)?;
        let ch = &self.chunks[c];
        let next = match ch.vmas.get(p + 1) {
            Some(n) => Some(&**n),
            None => self.chunks.get(c + 1).map(|n| &*n.vmas[0]),
        };
        Some((self.before((c, p)).map(|q| self.at(q).1), &ch.vmas[p], next))
    }

    /// Inserts `v` at `key` just after the VMA at `slot` without a search
    /// (`vma_iter_store()` after `__split_vma()`: the iterator is already
    /// there). `key` must lie between that VMA's start and the next one's;
    /// the new VMA's slot is returned.
    pub fn insert_after(&mut self, slot: VmaSlot, v: Box<Vma>) -> VmaSlot {
        let (c, p) = slot.0;
        debug_assert!(self.chunks[c].starts[p] < v.start);
        debug_assert!(self.chunks[c].starts.get(p + 1).is_none_or(|&n| v.start < n));
        debug_assert!(self.firsts.get(c + 1).is_none_or(|&n| v.start < n));
        VmaSlot(self.insert_at((c, p + 1), v))
    }

    /// Inserts `v` as entry `p` of chunk `c` (`p` may be the chunk's
    /// length), splitting a full chunk; returns where `v` ends up.
    fn insert_at(&mut self, (c, p): Pos, v: Box<Vma>) -> Pos {
        let ch = &mut self.chunks[c];
        ch.starts.insert(p, v.start);
        ch.vmas.insert(p, v);
        self.firsts[c] = ch.starts[0];
        self.len += 1;
        if ch.starts.len() < CHUNK {
            self.hint.set((c, p));
            return (c, p);
        }
        let upper = Chunk { starts: ch.starts.split_off(CHUNK / 2), vmas: ch.vmas.split_off(CHUNK / 2) };
        self.firsts.insert(c + 1, upper.starts[0]);
        self.chunks.insert(c + 1, upper);
        let pos = if p >= CHUNK / 2 { (c + 1, p - CHUNK / 2) } else { (c, p) };
        self.hint.set(pos);
        pos
    }

    /// The VMA starting at `key` and the one before it, in one search.
    pub fn get_with_prev(&self, key: &u64) -> Option<(&Vma, Option<&Vma>)> {
        let pos = self.find(*key)?;
        Some((self.at(pos).1, self.before(pos).map(|p| self.at(p).1)))
    }

    fn end(&self) -> Pos {
        (self.chunks.len(), 0)
    }

    /// Inserts the boxed `v` at its start (a VMA already built in its
    /// box, as `vm_area_dup()` builds it), returning the VMA it replaces.
    pub fn insert_box(&mut self, v: Box<Vma>) -> Option<Vma> {
        let key = v.start;
        if self.chunks.is_empty() {
            self.firsts.push(key);
            self.chunks.push(Chunk { starts: vec![key], vmas: vec![v] });
            self.len = 1;
            return None;
        }
        let c = self.chunk_of(key);
        match self.chunks[c].starts.binary_search(&key) {
            Ok(p) => Some(*std::mem::replace(&mut self.chunks[c].vmas[p], v)),
            Err(p) => {
                self.insert_at((c, p), v);
                None
            }
        }
    }

    /// Inserts `v` at `key` (its `vm_start`), returning the VMA it
    /// replaces.
    pub fn insert(&mut self, key: u64, v: Vma) -> Option<Vma> {
        debug_assert_eq!(key, v.start, "a VMA is keyed by its start");
        self.insert_box(Box::new(v))
    }

    /// Removes the VMA starting at `key`.
    pub fn remove(&mut self, key: &u64) -> Option<Vma> {
        let (c, p) = self.find(*key)?;
        let ch = &mut self.chunks[c];
        ch.starts.remove(p);
        let v = *ch.vmas.remove(p);
        self.len -= 1;
        if ch.starts.is_empty() {
            self.chunks.remove(c);
            self.firsts.remove(c);
            return Some(v);
        }
        self.firsts[c] = ch.starts[0];
        if ch.starts.len() < MIN_CHUNK
            && let Some(next) = self.chunks.get(c + 1)
            && ch_len(&self.chunks[c]) + next.starts.len() < CHUNK
        {
            let next = self.chunks.remove(c + 1);
            self.firsts.remove(c + 1);
            let ch = &mut self.chunks[c];
            ch.starts.extend(next.starts);
            ch.vmas.extend(next.vmas);
        }
        Some(v)
    }

    fn bound_start(&self, b: Bound<&u64>) -> Pos {
        match b {
            Bound::Included(&k) => self.lower_bound(k),
            Bound::Excluded(&k) => self.upper_bound(k),
            Bound::Unbounded => (0, 0),
        }
    }

    fn bound_end(&self, b: Bound<&u64>) -> Pos {
        match b {
            Bound::Included(&k) => self.upper_bound(k),
            Bound::Excluded(&k) => self.lower_bound(k),
            Bound::Unbounded => self.end(),
        }
    }

    fn range_pos(&self, front: Pos, back: Pos) -> Range<'_> {
        Range { tree: self, front, back }
    }

    /// The VMAs whose start is in `r`, ascending (`BTreeMap::range`).
    pub fn range<R: RangeBounds<u64>>(&self, r: R) -> Range<'_> {
        let front = self.bound_start(r.start_bound());
        let back = self.bound_end(r.end_bound()).max(front);
        self.range_pos(front, back)
    }

    pub fn iter(&self) -> Range<'_> {
        self.range_pos((0, 0), self.end())
    }

    pub fn keys(&self) -> Keys<'_> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> Values<'_> {
        self.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Vma> {
        self.chunks.iter_mut().flat_map(|c| c.vmas.iter_mut().map(|v| &mut **v))
    }
}

fn ch_len(c: &Chunk) -> usize {
    c.starts.len()
}

impl std::ops::Index<&u64> for VmaTree {
    type Output = Vma;
    fn index(&self, key: &u64) -> &Vma {
        self.get(key).expect("no VMA starts at this key")
    }
}

impl<'a> IntoIterator for &'a VmaTree {
    type Item = (&'a u64, &'a Vma);
    type IntoIter = Range<'a>;
    fn into_iter(self) -> Range<'a> {
        self.iter()
    }
}

/// `VmaTree::keys()`, a concrete type (no drop glue to keep a borrow).
pub type Keys<'a> = std::iter::Map<Range<'a>, for<'b> fn((&'b u64, &'b Vma)) -> &'b u64>;
/// `VmaTree::values()`.
pub type Values<'a> = std::iter::Map<Range<'a>, for<'b> fn((&'b u64, &'b Vma)) -> &'b Vma>;

/// An ascending walk over part of a [`VmaTree`] (`for_each_vma_range`).
pub struct Range<'a> {
    tree: &'a VmaTree,
    front: Pos,
    back: Pos,
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a u64, &'a Vma);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let (c, p) = self.front;
        let ch = &self.tree.chunks[c];
        self.front = if p + 1 == ch.starts.len() { (c + 1, 0) } else { (c, p + 1) };
        Some((&ch.starts[p], &ch.vmas[p]))
    }
}

impl DoubleEndedIterator for Range<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        self.back = self.tree.before(self.back)?;
        Some(self.tree.at(self.back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::mm_types::VmFlags;
    use std::collections::BTreeMap;

    /// Every operation against a `BTreeMap<u64, Vma>` on the same keys,
    /// through chunk splits and joins.
    #[test]
    fn same_as_btreemap() {
        let mut t = VmaTree::new();
        let mut m = BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = (x % 4096) << 12;
            let v = Vma::anon(key, key + 0x1000, VmFlags::READ);
            if step % 3 == 2 || (step > 12_000 && step % 3 != 0) {
                assert_eq!(t.remove(&key).map(|v| v.start), m.remove(&key).map(|v: Vma| v.start));
            } else if step % 2 == 0 {
                assert_eq!(t.insert(key, v.clone()).is_some(), m.insert(key, v).is_some());
            } else {
                assert_eq!(t.insert_box(Box::new(v.clone())).is_some(), m.insert(key, v).is_some());
            }
            assert_eq!(t.len(), m.len());
            let probe = (x >> 20) % (4097 << 12);
            let a: Vec<u64> = t.range(..=probe).rev().take(3).map(|(k, _)| *k).collect();
            let b: Vec<u64> = m.range(..=probe).rev().take(3).map(|(k, _)| *k).collect();
            assert_eq!(a, b);
            let a: Vec<u64> = t.range(probe..probe + 0x8000).map(|(k, _)| *k).collect();
            let b: Vec<u64> = m.range(probe..probe + 0x8000).map(|(k, _)| *k).collect();
            assert_eq!(a, b);
            assert_eq!(t.get(&probe).map(|v| v.start), m.get(&probe).map(|v| v.start));
            let a: Vec<u64> = t.vmas_in(probe, probe + 0x5000).map(|(k, _)| *k).collect();
            let b: Vec<u64> =
                m.values().filter(|v| v.end > probe && v.start < probe + 0x5000).map(|v| v.start).collect();
            assert_eq!(a, b);
            assert_eq!(t.find_vma(probe).map(|v| v.start), m.values().find(|v| v.end > probe).map(|v| v.start));
        }
        assert!(t.keys().copied().eq(m.keys().copied()));
        for (i, k) in m.keys().copied().enumerate().step_by(7) {
            let (prev, v, next) = t.get_with_neighbours(&k).expect("present");
            assert_eq!(v.start, k);
            assert_eq!(prev.map(|p| p.start), m.range(..k).next_back().map(|(k, _)| *k), "{i}");
            assert_eq!(next.map(|n| n.start), m.range(k + 1..).next().map(|(k, _)| *k));
        }
        // Splits in place: each new VMA just after the one split.
        let mut key = *t.keys().next_back().expect("not empty");
        let (mut slot, _) = t.get_mut_slot(&key).expect("present");
        for _ in 0..200 {
            key += 0x100;
            slot = t.insert_after(slot, Box::new(Vma::anon(key, key + 0x100, VmFlags::READ)));
            m.insert(key, Vma::anon(key, key + 0x100, VmFlags::READ));
        }
        assert!(t.keys().copied().eq(m.keys().copied()));
        assert_eq!(t.len(), m.len());
        assert!(t.values().rev().map(|v| v.start).eq(m.values().rev().map(|v| v.start)));
        assert_eq!(format!("{t:?}"), format!("{m:?}"));
    }

    #[test]
    fn empty_tree() {
        let t = VmaTree::new();
        assert!(t.find_vma(0).is_none() && t.vma_lookup(u64::MAX).is_none() && t.prev_vma(5).is_none());
        assert_eq!(t.range(..).count(), 0);
        // A reversed range is empty, as for a BTreeMap (on purpose).
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 10..5;
        assert_eq!(t.range(reversed).count(), 0);
    }
}
