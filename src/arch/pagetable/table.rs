//! One page table's entries, as the store of [`super::PageTables`] keeps
//! them: a short list of the non-empty entries while there are few, a
//! 512-entry array once there are many (model storage, not a kernel
//! structure).

use crate::arch::x86_64::{PTRS_PER_TABLE, Pte};

/// A short list becomes an array when it would hold more entries than this.
pub(super) const DENSE_AT: usize = 48;

/// The room a short list gets at its first entry: a leaf table usually
/// fills several entries in a row (one per page of a mapping), and growing
/// 4, 8, 16 would reallocate on the way.
const SPARSE_FIRST: usize = 16;

#[derive(Debug, Clone)]
pub(super) enum Table {
    Sparse(Vec<(u16, Pte)>),
    Dense(Box<[Pte; PTRS_PER_TABLE]>),
}

impl Table {
    #[inline]
    pub(super) fn get(&self, i: usize) -> Pte {
        match self {
            Table::Sparse(v) => sparse_pos(v, i).map_or(Pte::NONE, |pos| v[pos].1),
            Table::Dense(a) => a[i],
        }
    }
    #[inline]
    pub(super) fn set(&mut self, i: usize, val: Pte) {
        self.update(i, |_| Some(val));
    }
    /// Entry `i` read and, when `f` gives a new value, rewritten (one
    /// search of a short list): the old entry. A short list that would
    /// outgrow [`DENSE_AT`] becomes an array.
    #[inline]
    pub(super) fn update(&mut self, i: usize, f: impl FnOnce(Pte) -> Option<Pte>) -> Pte {
        let v = match self {
            Table::Dense(a) => {
                let old = a[i];
                if let Some(new) = f(old) {
                    a[i] = new;
                }
                return old;
            }
            Table::Sparse(v) => v,
        };
        match sparse_pos(v, i) {
            Some(pos) => {
                let old = v[pos].1;
                match f(old) {
                    Some(new) if new.is_none() => {
                        v.swap_remove(pos);
                    }
                    Some(new) => v[pos].1 = new,
                    None => {}
                }
                old
            }
            None => {
                if let Some(new) = f(Pte::NONE).filter(|n| !n.is_none()) {
                    if v.len() >= DENSE_AT {
                        let mut a = dense_from(v);
                        a[i] = new;
                        *self = Table::Dense(a);
                    } else {
                        if v.capacity() == 0 {
                            v.reserve_exact(SPARSE_FIRST);
                        }
                        v.push((i as u16, new));
                    }
                }
                Pte::NONE
            }
        }
    }
    /// Entries `first..first + out.len()` (within the table) into `out`,
    /// empty ones as `Pte::NONE`.
    pub(super) fn copy_range(&self, first: usize, out: &mut [Pte]) {
        match self {
            Table::Dense(a) => out.copy_from_slice(&a[first..first + out.len()]),
            Table::Sparse(v) => {
                out.fill(Pte::NONE);
                for &(k, p) in v {
                    if let Some(e) = (k as usize).checked_sub(first).and_then(|i| out.get_mut(i)) {
                        *e = p;
                    }
                }
            }
        }
    }
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Table::Sparse(v) => v.is_empty(),
            Table::Dense(a) => a.iter().all(|p| p.is_none()),
        }
    }
    /// Non-empty entries with index in `[lo, hi]`, ascending. Builds no
    /// list for a dense table, for one index (the upper levels of a walk
    /// over a small range) or for a short list already in order (filled
    /// in ascending order, as a mapping's pages are): only an unordered
    /// short list's range is sorted.
    pub(super) fn entries_in(&self, lo: usize, hi: usize) -> EntriesIn<'_> {
        match self {
            Table::Sparse(v) if lo == hi => EntriesIn::One(sparse_pos(v, lo).map(|pos| (lo, v[pos].1))),
            Table::Sparse(v) if v.is_sorted_by_key(|e| e.0) => EntriesIn::InOrder(v.iter(), lo, hi),
            Table::Sparse(v) => {
                let mut out: Vec<(usize, Pte)> = v
                    .iter()
                    .filter(|(k, _)| (lo..=hi).contains(&(*k as usize)))
                    .map(|&(k, p)| (k as usize, p))
                    .collect();
                out.sort_unstable_by_key(|e| e.0);
                EntriesIn::Sorted(out.into_iter())
            }
            Table::Dense(a) => EntriesIn::Dense(a, lo..hi + 1),
        }
    }
}

/// Where entry `i` sits in a short list. Lists are mostly filled in
/// ascending order from their first entry (a mapping's pages, one after
/// another), so the entry's distance from the first is tried before the
/// list is searched.
#[inline]
fn sparse_pos(v: &[(u16, Pte)], i: usize) -> Option<usize> {
    let guess = i.wrapping_sub(v.first()?.0 as usize);
    if v.get(guess).is_some_and(|e| e.0 as usize == i) {
        return Some(guess);
    }
    v.iter().position(|(k, _)| *k as usize == i)
}

/// The array a short list becomes.
pub(super) fn dense_from(v: &[(u16, Pte)]) -> Box<[Pte; PTRS_PER_TABLE]> {
    let mut a = Box::new([Pte::NONE; PTRS_PER_TABLE]);
    for &(k, p) in v {
        a[k as usize & (PTRS_PER_TABLE - 1)] = p;
    }
    a
}

/// [`Table::entries_in`]'s walk.
pub(super) enum EntriesIn<'a> {
    One(Option<(usize, Pte)>),
    /// A short list in ascending order, and the range's ends.
    InOrder(std::slice::Iter<'a, (u16, Pte)>, usize, usize),
    Sorted(std::vec::IntoIter<(usize, Pte)>),
    Dense(&'a [Pte; PTRS_PER_TABLE], std::ops::Range<usize>),
}

impl Iterator for EntriesIn<'_> {
    type Item = (usize, Pte);
    #[inline]
    fn next(&mut self) -> Option<(usize, Pte)> {
        match self {
            EntriesIn::One(e) => e.take(),
            EntriesIn::InOrder(it, lo, hi) => {
                it.find(|e| e.0 as usize >= *lo).filter(|e| e.0 as usize <= *hi).map(|&(k, p)| (k as usize, p))
            }
            EntriesIn::Sorted(it) => it.next(),
            EntriesIn::Dense(a, r) => r.find(|&i| !a[i].is_none()).map(|i| (i, a[i])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_promotes_to_dense() {
        let mut t = Table::Sparse(Vec::new());
        for i in 0..100 {
            t.set(i, Pte(((i as u64) << 12) | 1));
        }
        assert!(matches!(t, Table::Dense(_)));
        assert_eq!(t.get(77).frame(), 77);
        assert_eq!(t.entries_in(10, 19).count(), 10);
    }

    /// `entries_in` of a short list, filled in order or not, gives what
    /// reading every index in the range gives; `get` finds every entry
    /// wherever its guess lands.
    #[test]
    fn short_list_ranges_in_any_order() {
        for order in [[3usize, 4, 5, 9, 10], [9, 4, 10, 3, 5], [10, 9, 5, 4, 3]] {
            let mut t = Table::Sparse(Vec::new());
            for &i in &order {
                t.set(i, Pte(((i as u64) << 12) | 1));
            }
            assert!(matches!(t, Table::Sparse(_)));
            for (lo, hi) in [(0, 511), (4, 9), (5, 5), (6, 8), (10, 11), (11, 20), (0, 3)] {
                let want: Vec<(usize, Pte)> = (lo..=hi).map(|i| (i, t.get(i))).filter(|e| !e.1.is_none()).collect();
                assert_eq!(t.entries_in(lo, hi).collect::<Vec<_>>(), want, "{order:?} [{lo}, {hi}]");
            }
            assert!(order.iter().all(|&i| t.get(i).frame() == i as u64));
            assert!([0, 1, 2, 6, 7, 8, 11, 511].iter().all(|&i| t.get(i).is_none()));
        }
    }

    /// `update` reads and writes as `get` then `set` do: the old value, a
    /// store or none, clears, the short list becoming an array.
    #[test]
    fn update_is_get_then_set() {
        let (mut a, mut b) = (Table::Sparse(Vec::new()), Table::Sparse(Vec::new()));
        for step in 0..400usize {
            let i = (step * 37) % 97;
            let new = match step % 5 {
                0 => None,
                1 => Some(Pte::NONE),
                _ => Some(Pte(((step as u64) << 12) | 1)),
            };
            let old = b.get(i);
            if let Some(v) = new {
                b.set(i, v);
            }
            assert_eq!(a.update(i, |p| new.filter(|_| p == old)), old, "step {step}");
            assert!((0..PTRS_PER_TABLE).all(|k| a.get(k) == b.get(k)), "step {step}");
            assert_eq!(matches!(a, Table::Dense(_)), matches!(b, Table::Dense(_)), "step {step}");
        }
    }
}
