//! A map keyed by frame number (PFN or MFN, or a disk's block number) for
//! model state found per frame on hot paths (page tables by the frame they
//! live in, frame and block contents, the GUP ledger, the grant-mapping
//! counts, `gnttab_alloc_pages()`'s page ledger). Model storage, not a
//! kernel structure.
//!
//! Frames below [`DIRECT_FRAMES`] live in a two-level array, as the
//! hardware reaches a frame by its number, so a lookup costs an index and
//! not a hash. They come in runs of [`RUN`]; a run's slots are allocated
//! with its first value and freed with its last, so memory follows the
//! values stored, not the frame numbers. Frames above (a sparse machine's
//! far frames, a big disk's far blocks) go in an ordered map, so no key
//! makes the array grow past `DIRECT_FRAMES / RUN` run pointers (2 MiB).
//! Iteration is in ascending frame order.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// Frames per run.
const RUN: usize = 16;
/// Frames below this are found by index (16 GiB of 4 KiB frames).
pub const DIRECT_FRAMES: u64 = 1 << 22;

#[derive(Debug, Clone)]
struct Run<T> {
    slots: [Option<T>; RUN],
    used: u32,
}

#[derive(Debug, Clone)]
pub struct FrameMap<T> {
    runs: Vec<Option<Box<Run<T>>>>,
    far: BTreeMap<u64, T>,
    len: usize,
}

impl<T> Default for FrameMap<T> {
    fn default() -> Self {
        FrameMap { runs: Vec::new(), far: BTreeMap::new(), len: 0 }
    }
}

/// The run and slot of a frame below [`DIRECT_FRAMES`].
#[inline]
fn split(frame: u64) -> Option<(usize, usize)> {
    (frame < DIRECT_FRAMES).then_some(((frame / RUN as u64) as usize, (frame % RUN as u64) as usize))
}

/// The value in slot `(run, slot)` of `runs`.
fn near_mut<T>(runs: &mut [Option<Box<Run<T>>>], (r, s): (usize, usize)) -> Option<&mut T> {
    runs.get_mut(r)?.as_mut()?.slots[s].as_mut()
}

/// A far frame's value (out of line: the hot paths are near frames).
#[cold]
#[inline(never)]
fn far_get<T>(far: &BTreeMap<u64, T>, frame: u64) -> Option<&T> {
    far.get(&frame)
}
#[cold]
#[inline(never)]
fn far_get_mut<T>(far: &mut BTreeMap<u64, T>, frame: u64) -> Option<&mut T> {
    far.get_mut(&frame)
}

impl<T> FrameMap<T> {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// `(frame, value)` in ascending frame order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let near = self.runs.iter().enumerate().filter_map(|(r, run)| Some((r, run.as_ref()?)));
        near.flat_map(|(r, run)| {
            run.slots.iter().enumerate().filter_map(move |(s, v)| Some(((r * RUN + s) as u64, v.as_ref()?)))
        })
        .chain(self.far.iter().map(|(&f, v)| (f, v)))
    }
    pub fn clear(&mut self) {
        *self = FrameMap::default();
    }
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, v)| v)
    }
    #[inline]
    pub fn get(&self, frame: u64) -> Option<&T> {
        match split(frame) {
            Some((r, s)) => self.runs.get(r)?.as_ref()?.slots[s].as_ref(),
            None => far_get(&self.far, frame),
        }
    }
    #[inline]
    pub fn get_mut(&mut self, frame: u64) -> Option<&mut T> {
        match split(frame) {
            Some(at) => near_mut(&mut self.runs, at),
            None => far_get_mut(&mut self.far, frame),
        }
    }
    pub fn contains_key(&self, frame: u64) -> bool {
        self.get(frame).is_some()
    }
    /// Slot `s` of run `r` (a frame below [`DIRECT_FRAMES`]), to be filled:
    /// the run is allocated when missing, and an empty slot is counted as
    /// used.
    fn slot(&mut self, r: usize, s: usize) -> &mut Option<T> {
        if self.runs.len() <= r {
            self.runs.resize_with(r + 1, || None);
        }
        let run = self.runs[r].get_or_insert_with(|| Box::new(Run { slots: std::array::from_fn(|_| None), used: 0 }));
        if run.slots[s].is_none() {
            run.used += 1;
            self.len += 1;
        }
        &mut run.slots[s]
    }
    /// The value of `frame`, made with `f` when there is none.
    pub fn get_or_insert_with(&mut self, frame: u64, f: impl FnOnce() -> T) -> &mut T {
        match split(frame) {
            Some((r, s)) => self.slot(r, s).get_or_insert_with(f),
            None => self.far_get_or_insert_with(frame, f),
        }
    }
    /// Store `v` for `frame`: the value it replaces.
    pub fn insert(&mut self, frame: u64, v: T) -> Option<T> {
        match split(frame) {
            Some((r, s)) => self.slot(r, s).replace(v),
            None => self.far_insert(frame, v),
        }
    }
    pub fn remove(&mut self, frame: u64) -> Option<T> {
        let old = match split(frame) {
            Some((r, s)) => {
                let run = self.runs.get_mut(r)?.as_mut()?;
                let old = run.slots[s].take()?;
                run.used -= 1;
                if run.used == 0 {
                    self.runs[r] = None;
                }
                old
            }
            None => self.far_remove(frame)?,
        };
        self.len -= 1;
        Some(old)
    }
    #[cold]
    #[inline(never)]
    fn far_get_or_insert_with(&mut self, frame: u64, f: impl FnOnce() -> T) -> &mut T {
        match self.far.entry(frame) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.len += 1;
                e.insert(f())
            }
        }
    }
    #[cold]
    #[inline(never)]
    fn far_insert(&mut self, frame: u64, v: T) -> Option<T> {
        let old = self.far.insert(frame, v);
        if old.is_none() {
            self.len += 1;
        }
        old
    }
    #[cold]
    #[inline(never)]
    fn far_remove(&mut self, frame: u64) -> Option<T> {
        self.far.remove(&frame)
    }
    /// The values of two different frames, both mutable (`None` for a
    /// missing one; both `None` when `a == b`).
    pub fn get_pair_mut(&mut self, a: u64, b: u64) -> [Option<&mut T>; 2] {
        if a == b {
            return [None, None];
        }
        let ((ra, sa), (rb, sb)) = match (split(a), split(b)) {
            (Some(pa), Some(pb)) => (pa, pb),
            // A far frame: from the ordered map, a near one from the runs
            // (disjoint fields).
            (Some(pa), None) => return [near_mut(&mut self.runs, pa), self.far.get_mut(&b)],
            (None, Some(pb)) => return [self.far.get_mut(&a), near_mut(&mut self.runs, pb)],
            (None, None) => {
                let (mut x, mut y) = (None, None);
                for (&f, v) in self.far.range_mut(a.min(b)..=a.max(b)) {
                    if f == a {
                        x = Some(v);
                    } else if f == b {
                        y = Some(v);
                    }
                }
                return [x, y];
            }
        };
        if ra == rb {
            let Some(run) = self.runs.get_mut(ra).and_then(|r| r.as_mut()) else { return [None, None] };
            let [x, y] = run.slots.get_disjoint_mut([sa, sb]).unwrap_or_else(|_| unreachable!("sa != sb"));
            return [x.as_mut(), y.as_mut()];
        }
        // A run beyond the last has no values: at most the other frame
        // has one.
        if ra.max(rb) >= self.runs.len() {
            return if ra < rb { [self.get_mut(a), None] } else { [None, self.get_mut(b)] };
        }
        let Ok([x, y]) = self.runs.get_disjoint_mut([ra, rb]) else { return [None, None] };
        [x.as_mut().and_then(|r| r.slots[sa].as_mut()), y.as_mut().and_then(|r| r.slots[sb].as_mut())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts and removes agree with a BTreeMap, near and far frames
    /// alike, iteration is ascending, and a run's slots go when its last
    /// value does.
    #[test]
    fn agrees_with_a_map() {
        let (mut m, mut r) = (FrameMap::default(), BTreeMap::new());
        let frame = |step: u64| {
            let f = (step * 7919) % 211;
            if f.is_multiple_of(5) { DIRECT_FRAMES - 100 + f } else { f }
        };
        for step in 0u64..3000 {
            let f = frame(step);
            match step % 4 {
                0 => assert_eq!(m.remove(f), r.remove(&f), "step {step}"),
                1 => {
                    *m.get_or_insert_with(f, || 0) += step;
                    *r.entry(f).or_insert(0) += step;
                }
                _ => assert_eq!(m.insert(f, step), r.insert(f, step), "step {step}"),
            }
            assert_eq!(m.len(), r.len());
            assert!((0..220).chain(DIRECT_FRAMES - 100..DIRECT_FRAMES + 120).all(|k| m.get(k) == r.get(&k)));
            assert!(m.iter().eq(r.iter().map(|(&f, v)| (f, v))), "step {step}");
        }
        for f in r.keys().copied().collect::<Vec<_>>() {
            m.remove(f);
        }
        assert!(m.runs.iter().all(Option::is_none) && m.far.is_empty() && m.is_empty());
    }

    /// A frame far beyond the array does not grow it.
    #[test]
    fn far_frames_stay_small() {
        let mut m = FrameMap::default();
        m.insert(1 << 40, 'x');
        assert_eq!(m.runs.len(), 0);
        assert_eq!(m.get(1 << 40), Some(&'x'));
    }

    #[test]
    fn pairs() {
        let mut m = FrameMap::default();
        let far = DIRECT_FRAMES + 7;
        for (f, c) in [(3, 'a'), (5, 'b'), (40, 'c'), (far, 'd'), (far + 1, 'e')] {
            m.insert(f, c);
        }
        let get = |m: &mut FrameMap<char>, a, b| m.get_pair_mut(a, b).map(|v| v.copied());
        assert_eq!(get(&mut m, 3, 5), [Some('a'), Some('b')]);
        assert_eq!(get(&mut m, 40, 3), [Some('c'), Some('a')]);
        assert_eq!(get(&mut m, 3, 3), [None, None]);
        assert_eq!(get(&mut m, 3, 9000), [Some('a'), None]);
        assert_eq!(get(&mut m, 9000, 3), [None, Some('a')]);
        assert_eq!(get(&mut m, 3, far), [Some('a'), Some('d')]);
        assert_eq!(get(&mut m, far + 1, 40), [Some('e'), Some('c')]);
        assert_eq!(get(&mut m, far + 1, far), [Some('e'), Some('d')]);
        assert_eq!(get(&mut m, far + 2, far), [None, Some('d')]);
    }
}
