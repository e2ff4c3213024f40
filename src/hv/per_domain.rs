//! Per-domain state found by domain id (model storage, not a Xen
//! structure): Xen reaches a domain's grant table through its `struct
//! domain` (`d->grant_table`, xen/include/xen/sched.h) without a search.
//! The model has a handful of domains, kept in a vector sorted by id, so a
//! lookup is a short scan and a hypercall can look each domain up once and
//! then use the index ([`PerDomain::at_mut`]).
//!
//! Iteration is in id order, as the `BTreeMap<DomId, T>` this replaces gave
//! it, and `Debug` prints the same text.

use crate::types::DomId;
use std::fmt;

/// `T` per domain, in domain-id order.
#[derive(Clone)]
pub struct PerDomain<T> {
    v: Vec<(DomId, T)>,
}

impl<T> Default for PerDomain<T> {
    fn default() -> Self {
        PerDomain { v: Vec::new() }
    }
}

impl<T> PerDomain<T> {
    /// Where `d`'s entry is, if it has one.
    #[inline]
    pub fn index(&self, d: DomId) -> Option<usize> {
        self.v.iter().position(|(x, _)| *x == d)
    }
    /// Where `d`'s entry is, made (`T::default()`) if it has none. An
    /// insertion moves the entries of higher ids: an index stays valid
    /// until the next insertion.
    #[inline]
    pub fn index_or_default(&mut self, d: DomId) -> usize
    where
        T: Default,
    {
        match self.index(d) {
            Some(i) => i,
            None => {
                let i = self.v.partition_point(|(x, _)| *x < d);
                self.v.insert(i, (d, T::default()));
                i
            }
        }
    }
    /// The entry at an index [`PerDomain::index`] gave.
    #[inline]
    pub fn at(&self, i: usize) -> &T {
        &self.v[i].1
    }
    #[inline]
    pub fn at_mut(&mut self, i: usize) -> &mut T {
        &mut self.v[i].1
    }
    pub fn get(&self, d: &DomId) -> Option<&T> {
        self.index(*d).map(|i| self.at(i))
    }
    pub fn get_mut(&mut self, d: &DomId) -> Option<&mut T> {
        self.index(*d).map(|i| self.at_mut(i))
    }
    /// `d`'s entry, made if it has none (`entry(d).or_default()`).
    pub fn entry_or_default(&mut self, d: DomId) -> &mut T
    where
        T: Default,
    {
        let i = self.index_or_default(d);
        self.at_mut(i)
    }
    pub fn contains_key(&self, d: &DomId) -> bool {
        self.index(*d).is_some()
    }
    pub fn len(&self) -> usize {
        self.v.len()
    }
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }
    /// Every entry with its domain, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&DomId, &T)> {
        self.v.iter().map(|(d, t)| (d, t))
    }
}

impl<'a, T> IntoIterator for &'a PerDomain<T> {
    type Item = (&'a DomId, &'a T);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (DomId, T)>, fn(&'a (DomId, T)) -> (&'a DomId, &'a T)>;
    fn into_iter(self) -> Self::IntoIter {
        self.v.iter().map(|(d, t)| (d, t))
    }
}

impl<T: fmt::Debug> fmt::Debug for PerDomain<T> {
    /// As `BTreeMap<DomId, T>` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The same answers, order and text as the BTreeMap it replaces.
    #[test]
    fn behaves_as_the_btreemap() {
        let (mut a, mut b) = (PerDomain::<Vec<u32>>::default(), BTreeMap::<DomId, Vec<u32>>::new());
        for (n, d) in [5u16, 0, 9, 5, 3, 0, 7].into_iter().enumerate() {
            a.entry_or_default(d).push(n as u32);
            b.entry(d).or_default().push(n as u32);
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert!(a.iter().eq(b.iter()));
            assert!((&a).into_iter().eq(&b));
            assert_eq!(a.len(), b.len());
        }
        for d in 0..11 {
            assert_eq!(a.get(&d), b.get(&d));
            assert_eq!(a.contains_key(&d), b.contains_key(&d));
            assert_eq!(a.index(d).map(|i| a.at(i)), b.get(&d));
        }
    }
}
