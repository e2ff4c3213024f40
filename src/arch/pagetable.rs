//! x86-64 four-level page tables of one kernel, stored sparsely.
//!
//! Every table is a real page taken from the kernel's memmap (flag TABLE), and
//! upper-level entries hold the next table's frame number exactly as the
//! hardware walks them (a PFN natively, an MFN in a PV guest). Tables are
//! keyed by that frame number. A table with few entries is kept as a short
//! list, a busy one as a 512-entry array, so a sparse address space costs
//! memory per entry used, not per table allocated.
//!
//! Follows `mm/memory.c` (`__pte_alloc`, `free_pgd_range`) for when tables
//! appear and go.

use crate::arch::x86_64::{PAGE_TABLE, PTRS_PER_TABLE, Pte, table_index};
use crate::frame_map::FrameMap;

mod table;
use table::{Table, dense_from};

/// The first and last index of the leaf table whose entry 0 maps `base`
/// that fall in `[start, end)`, or `None` when the range misses the table.
pub fn leaf_range(base: u64, start: u64, end: u64) -> Option<(usize, usize)> {
    let last = base + (PTRS_PER_TABLE as u64) * 4096 - 1;
    if start >= end || end - 1 < base || start > last {
        return None;
    }
    Some((((start.max(base) - base) >> 12) as usize, (((end - 1).min(last) - base) >> 12) as usize))
}

/// Where a leaf PTE lives: its table's frame and the index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PteSlot {
    pub table: u64,
    pub index: u16,
}

/// One level of a walk, for `show pagetable`.
#[derive(Clone, Copy, Debug)]
pub struct WalkStep {
    pub level: u32,
    pub table: u64,
    pub index: usize,
    pub entry: Pte,
}

/// All page tables of one kernel.
#[derive(Debug, Default, Clone)]
pub struct PageTables {
    tables: FrameMap<Table>,
    /// Model bookkeeping for the incremental invariant check
    /// (`invariants::ptcache`), not kernel state: the frames of the tables
    /// written, added or removed since [`PageTables::take_dirty`] (unsorted,
    /// maybe repeated, never twice in a row). `None` (the default) records nothing.
    dirty: Option<Vec<u64>>,
}

impl PageTables {
    /// Record `frame` as changed. A run of stores into one table (a fault
    /// loop, a zap, fork's copy) records it once: a 64 GiB touch stores 16 Mi
    /// entries, which recorded one by one took 128 MB.
    #[inline]
    fn mark(&mut self, frame: u64) {
        if let Some(d) = &mut self.dirty
            && d.last() != Some(&frame)
        {
            d.push(frame);
        }
    }
    /// Start recording the tables changed, from now on.
    pub fn record_dirty(&mut self) {
        self.dirty = Some(Vec::new());
    }
    /// The tables changed since the last call (every store, `add_table`,
    /// `remove_table` and table freed names its table's frame); `None` when
    /// not recording.
    pub fn take_dirty(&mut self) -> Option<Vec<u64>> {
        self.dirty.as_mut().map(std::mem::take)
    }
    /// Register a fresh empty table living in `frame`.
    pub fn add_table(&mut self, frame: u64) {
        self.mark(frame);
        self.tables.insert(frame, Table::Sparse(Vec::new()));
    }
    pub fn remove_table(&mut self, frame: u64) {
        self.mark(frame);
        self.tables.remove(frame);
    }
    pub fn has_table(&self, frame: u64) -> bool {
        self.tables.contains_key(frame)
    }
    pub fn nr_tables(&self) -> usize {
        self.tables.len()
    }

    #[inline]
    pub fn entry(&self, table: u64, index: usize) -> Pte {
        self.tables.get(table).map_or(Pte::NONE, |t| t.get(index))
    }
    pub fn set_entry(&mut self, table: u64, index: usize, val: Pte) {
        self.mark(table);
        if let Some(t) = self.tables.get_mut(table) {
            t.set(index, val);
        }
    }
    /// The 512 entries of the array-form (busy) table `table` in place,
    /// recorded as written: for a loop that reads and writes a PTE page it
    /// holds the lock of (the native fast paths of `zap_pte_range()` and
    /// `copy_pte_range()`). `None` for a short-list table or no table.
    pub fn dense_mut(&mut self, table: u64) -> Option<&mut [Pte; PTRS_PER_TABLE]> {
        if !matches!(self.tables.get(table)?, Table::Dense(_)) {
            return None;
        }
        self.mark(table);
        match self.tables.get_mut(table)? {
            Table::Dense(a) => Some(a),
            Table::Sparse(_) => None,
        }
    }
    /// [`PageTables::dense_mut`] of two different tables at once: `src`
    /// must be an array already; `dst`, a short list, becomes one (a forked
    /// child's copy of a busy table). `None` when `src == dst`, either is
    /// missing or `src` is a short list.
    pub fn dense_pair_mut(
        &mut self,
        src: u64,
        dst: u64,
    ) -> Option<(&mut [Pte; PTRS_PER_TABLE], &mut [Pte; PTRS_PER_TABLE])> {
        if src == dst || !matches!(self.tables.get(src)?, Table::Dense(_)) || !self.tables.contains_key(dst) {
            return None;
        }
        self.mark(src);
        self.mark(dst);
        let [Some(s), Some(d)] = self.tables.get_pair_mut(src, dst) else { return None };
        if let Table::Sparse(v) = d {
            *d = Table::Dense(dense_from(v));
        }
        match (s, d) {
            (Table::Dense(s), Table::Dense(d)) => Some((s, d)),
            _ => None,
        }
    }
    /// Entry `index` of `table` read and, when `f` returns a new value,
    /// rewritten (and the table recorded as written), with one lookup of
    /// the table: the old entry, or None when `table` is not a page table.
    pub fn update_entry(&mut self, table: u64, index: usize, f: impl FnOnce(Pte) -> Option<Pte>) -> Option<Pte> {
        let mut wrote = false;
        let old = self.tables.get_mut(table)?.update(index, |p| {
            let new = f(p);
            wrote = new.is_some();
            new
        });
        if wrote {
            self.mark(table);
        }
        Some(old)
    }
    /// Entries `first..first + n` of `table` (clipped to the table)
    /// appended to `out`, empty slots and a missing table as `Pte::NONE`,
    /// with one lookup of the table: a run of PTEs read under one PTE lock.
    pub fn extend_entries(&self, table: u64, first: usize, n: usize, out: &mut Vec<Pte>) {
        let n = n.min(PTRS_PER_TABLE.saturating_sub(first));
        if n == 0 {
            return;
        }
        let at = out.len();
        out.resize(at + n, Pte::NONE);
        if let Some(t) = self.tables.get(table) {
            t.copy_range(first, &mut out[at..]);
        }
    }
    pub fn get(&self, s: PteSlot) -> Pte {
        self.entry(s.table, s.index as usize)
    }
    pub fn set(&mut self, s: PteSlot, val: Pte) {
        self.set_entry(s.table, s.index as usize, val)
    }

    /// The leaf slot for `addr` if all upper levels exist (`pte_offset_map`).
    pub fn lookup(&self, pgd: u64, addr: u64) -> Option<PteSlot> {
        let mut table = pgd;
        for level in (2..=4).rev() {
            let e = self.entry(table, table_index(addr, level));
            if !e.present() {
                return None;
            }
            table = e.frame();
        }
        Some(PteSlot { table, index: table_index(addr, 1) as u16 })
    }

    /// The leaf PTE for `addr` (none if no table).
    pub fn pte(&self, pgd: u64, addr: u64) -> Pte {
        self.lookup(pgd, addr).map_or(Pte::NONE, |s| self.get(s))
    }

    /// The walk as the MMU does it, stopping at the first non-present entry.
    pub fn walk(&self, pgd: u64, addr: u64) -> Vec<WalkStep> {
        let mut out = Vec::new();
        let mut table = pgd;
        for level in (1..=4).rev() {
            let index = table_index(addr, level);
            let entry = self.entry(table, index);
            out.push(WalkStep { level, table, index, entry });
            if !entry.present() || level == 1 {
                break;
            }
            table = entry.frame();
        }
        out
    }

    /// How many tables the walk to `addr` lacks below its last present
    /// entry (what [`PageTables::alloc_path`] will ask for): the last
    /// level of [`PageTables::walk`] less one, with nothing collected.
    pub fn missing_tables(&self, pgd: u64, addr: u64) -> usize {
        let mut table = pgd;
        for level in (2..=4).rev() {
            let e = self.entry(table, table_index(addr, level));
            if !e.present() {
                return level as usize - 1;
            }
            table = e.frame();
        }
        0
    }

    /// `__pte_alloc` and friends: make sure the upper levels for `addr` exist,
    /// calling `alloc` for each missing table (it returns the frame number to
    /// put in the entry, or an error which is passed through).
    pub fn alloc_path<E>(
        &mut self,
        pgd: u64,
        addr: u64,
        mut alloc: impl FnMut() -> Result<u64, E>,
    ) -> Result<PteSlot, E> {
        let mut table = pgd;
        for level in (2..=4).rev() {
            let idx = table_index(addr, level);
            let e = self.entry(table, idx);
            table = if e.present() {
                e.frame()
            } else {
                let f = alloc()?;
                self.add_table(f);
                self.set_entry(table, idx, Pte::new(f, PAGE_TABLE));
                f
            };
        }
        Ok(PteSlot { table, index: table_index(addr, 1) as u16 })
    }

    /// Every non-empty leaf entry in `[start, end)`, ascending by address,
    /// visiting only tables that exist (cost follows the populated tables).
    pub fn leaf_entries(&self, pgd: u64, start: u64, end: u64) -> Vec<(u64, PteSlot, Pte)> {
        let mut out = Vec::new();
        self.for_each_leaf(pgd, start, end, |addr, slot, pte| out.push((addr, slot, pte)));
        out
    }

    /// Visit the non-empty leaf entries under `pgd` in `[start, end)`,
    /// ascending: [`PageTables::leaf_tables`], then each table's entries in
    /// place (callers build whatever they keep, without an intermediate list).
    pub fn for_each_leaf(&self, pgd: u64, start: u64, end: u64, mut f: impl FnMut(u64, PteSlot, Pte)) {
        for (base, table) in self.leaf_tables(pgd, start, end) {
            self.visit_table(base, table, start, end, &mut f);
        }
    }

    /// The leaf (PTE-level) tables that map part of `[start, end)`,
    /// ascending: `(address of the table's entry 0, table frame)`. With
    /// [`PageTables::read_leaf_table`] this is the walk `copy_pte_range()`
    /// and `zap_pte_range()` (mm/memory.c) do: one page table per PMD entry,
    /// its entries read in place, so cost follows the tables, and no list
    /// of every PTE of the range is built.
    pub fn leaf_tables(&self, pgd: u64, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if start < end {
            self.collect_tables(pgd, 4, 0, start, end - 1, &mut out);
        }
        out
    }

    fn collect_tables(&self, table: u64, level: u32, base: u64, first: u64, last: u64, out: &mut Vec<(u64, u64)>) {
        let Some(t) = self.tables.get(table) else { return };
        let shift = 12 + 9 * (level - 1);
        let span = 1u64 << shift;
        if last < base {
            return;
        }
        let lo = if first > base { ((first - base) >> shift) as usize } else { 0 };
        let hi = ((last - base) >> shift).min(511) as usize;
        for (i, e) in t.entries_in(lo, hi) {
            let addr = base + (i as u64) * span;
            if !e.present() {
                continue;
            }
            if level == 2 {
                out.push((addr, e.frame()));
            } else {
                self.collect_tables(e.frame(), level - 1, addr, first.max(addr), last.min(addr + span - 1), out);
            }
        }
    }

    /// The entries of the leaf table `table` (whose entry 0 maps `base`)
    /// that fall in `[start, end)` copied into `out` at their indices
    /// (empty slots as `Pte::NONE`; the rest of `out` untouched), as the
    /// kernel reads a PTE page it holds the lock of, and those indices;
    /// `None` (and `out` untouched) when `table` is not a page table or
    /// the range misses it. The per-table loops of fork and zap read their
    /// table once this way and then index it, free to change the kernel
    /// while they go.
    pub fn read_leaf_table(
        &self,
        base: u64,
        table: u64,
        (start, end): (u64, u64),
        out: &mut [Pte; PTRS_PER_TABLE],
    ) -> Option<std::ops::RangeInclusive<usize>> {
        let (lo, hi) = leaf_range(base, start, end)?;
        self.tables.get(table)?.copy_range(lo, &mut out[lo..=hi]);
        Some(lo..=hi)
    }

    /// The non-empty entries of the leaf table `table` (whose entry 0 maps
    /// `base`) inside `[start, end)`, ascending, into `out` (cleared first):
    /// one table at a time (the incremental checks' per-table verdicts).
    pub fn table_leaf_entries(&self, base: u64, table: u64, start: u64, end: u64, out: &mut Vec<(u64, PteSlot, Pte)>) {
        out.clear();
        self.visit_table(base, table, start, end, &mut |addr, slot, pte| out.push((addr, slot, pte)));
    }

    fn visit_table(&self, base: u64, table: u64, start: u64, end: u64, f: &mut impl FnMut(u64, PteSlot, Pte)) {
        let Some(t) = self.tables.get(table) else { return };
        let Some((lo, hi)) = leaf_range(base, start, end) else { return };
        let mut push = |i: usize, e: Pte| f(base + ((i as u64) << 12), PteSlot { table, index: i as u16 }, e);
        match t {
            Table::Dense(a) => {
                for i in lo..=hi {
                    if !a[i].is_none() {
                        push(i, a[i]);
                    }
                }
            }
            Table::Sparse(_) => {
                for (i, e) in t.entries_in(lo, hi) {
                    push(i, e);
                }
            }
        }
    }

    /// Leaf tables (by frame, with the address they start at) that are empty
    /// and lie wholly inside `[floor, ceiling)`, plus the upper-level slots
    /// pointing at them, for `free_pgtables`. Returns the frames removed.
    pub fn free_empty_tables(&mut self, pgd: u64, floor: u64, ceiling: u64) -> Vec<u64> {
        let mut freed = Vec::new();
        self.free_level(pgd, 4, 0, floor, ceiling, &mut freed);
        freed
    }

    fn free_level(&mut self, table: u64, level: u32, base: u64, floor: u64, ceiling: u64, freed: &mut Vec<u64>) {
        let shift = 12 + 9 * (level - 1);
        let span = 1u64 << shift;
        let Some(t) = self.tables.get(table) else { return };
        if ceiling <= floor {
            return;
        }
        let lo = if floor > base { ((floor - base) >> shift) as usize } else { 0 };
        let hi = (((ceiling - 1).saturating_sub(base)) >> shift).min(511) as usize;
        if ceiling - 1 < base {
            return;
        }
        // The present entries, collected first: the loop frees tables as
        // it goes.
        let entries: Vec<(usize, Pte)> = t.entries_in(lo, hi).filter(|(_, e)| e.present()).collect();
        for (i, e) in entries {
            let addr = base + (i as u64) * span;
            let child = e.frame();
            if level > 2 {
                self.free_level(child, level - 1, addr, floor, ceiling, freed);
            }
            let covered = addr >= floor && addr.checked_add(span).is_some_and(|x| x <= ceiling);
            if covered && self.tables.get(child).is_some_and(|c| c.is_empty()) {
                self.remove_table(child);
                self.set_entry(table, i, Pte::NONE);
                freed.push(child);
            }
        }
    }

    /// Every table frame reachable from `pgd` (the PGD included), for
    /// tearing down a whole address space.
    pub fn all_tables_under(&self, pgd: u64) -> Vec<u64> {
        let mut out = Vec::new();
        self.tables_below(pgd, 4, &mut out);
        out
    }

    /// [`PageTables::all_tables_under`] into `all` and
    /// [`PageTables::leaf_tables`]`(pgd, 0, end)` into `leaves` (both
    /// appended, in the same orders), in one walk instead of two.
    pub fn tables_and_leaves_into(&self, pgd: u64, end: u64, all: &mut Vec<u64>, leaves: &mut Vec<(u64, u64)>) {
        self.tables_and_leaves_below(pgd, 4, 0, end, all, leaves);
    }

    fn tables_and_leaves_below(
        &self,
        table: u64,
        level: u32,
        base: u64,
        end: u64,
        all: &mut Vec<u64>,
        leaves: &mut Vec<(u64, u64)>,
    ) {
        let Some(t) = self.tables.get(table) else { return };
        if level > 1 {
            let span = 1u64 << (12 + 9 * (level - 1));
            for (i, e) in t.entries_in(0, 511) {
                if !e.present() {
                    continue;
                }
                let addr = base + (i as u64) * span;
                // `collect_tables` over [0, end - 1] takes an entry whose
                // range starts at or below `end - 1`.
                if level == 2 && addr < end {
                    leaves.push((addr, e.frame()));
                }
                self.tables_and_leaves_below(e.frame(), level - 1, addr, end, all, leaves);
            }
        }
        all.push(table);
    }

    fn tables_below(&self, table: u64, level: u32, out: &mut Vec<u64>) {
        let Some(t) = self.tables.get(table) else { return };
        if level > 1 {
            for (_, e) in t.entries_in(0, 511) {
                if e.present() {
                    self.tables_below(e.frame(), level - 1, out);
                }
            }
        }
        out.push(table);
    }
}

#[cfg(test)]
mod tests {
    use super::table::DENSE_AT;
    use super::*;
    use crate::arch::x86_64::PteFlags;

    /// The non-empty entries of one leaf table in `[start, end)` as the
    /// per-table loops of fork and zap see them (`read_leaf_table`).
    fn table_walk(p: &PageTables, base: u64, table: u64, start: u64, end: u64) -> Vec<(u64, PteSlot, Pte)> {
        let mut ptes = [Pte::NONE; PTRS_PER_TABLE];
        let Some(range) = p.read_leaf_table(base, table, (start, end), &mut ptes) else { return Vec::new() };
        range
            .filter(|&i| !ptes[i].is_none())
            .map(|i| (base + ((i as u64) << 12), PteSlot { table, index: i as u16 }, ptes[i]))
            .collect()
    }

    fn pt() -> (PageTables, u64) {
        let mut p = PageTables::default();
        p.add_table(100);
        (p, 100)
    }

    #[test]
    fn alloc_walk_and_collect() {
        let (mut p, pgd) = pt();
        let mut next = 200;
        let a = 0x7e00_3fff_e000;
        assert_eq!(p.missing_tables(pgd, a), 3);
        let s = p
            .alloc_path(pgd, a, || -> Result<u64, ()> {
                next += 1;
                Ok(next)
            })
            .expect("test");
        assert_eq!(next, 203, "three tables below the PGD");
        // What the walk lacks: nothing here, the leaf table 2 MiB lower,
        // the PMD table in the next 1 GiB, all three in the next 512 GiB;
        // as the walk's last level less one.
        for (at, want) in [(a, 0), (a - (2 << 20), 1), (a + (1 << 30), 2), (a + (1 << 39), 3)] {
            assert_eq!(p.missing_tables(pgd, at), want, "{at:#x}");
            assert_eq!(p.walk(pgd, at).last().map(|w| w.level as usize - 1), Some(want), "{at:#x}");
        }
        p.set(s, Pte::new(0x42, PteFlags::PRESENT));
        assert_eq!(p.pte(pgd, a).frame(), 0x42);
        assert!(p.pte(pgd, a + 4096).is_none());
        let w = p.walk(pgd, a);
        assert_eq!(w.len(), 4);
        assert_eq!(w[0].entry.flags(), PAGE_TABLE);
        let all = p.leaf_entries(pgd, 0, 1 << 47);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0, a);
        assert!(p.leaf_entries(pgd, a + 4096, 1 << 47).is_empty());
        assert!(p.leaf_entries(pgd, 0, a).is_empty());
        // One leaf table, found by the per-table walk, with the same entry.
        let tables = p.leaf_tables(pgd, 0, 1 << 47);
        assert_eq!(tables, vec![(a & !((1 << 21) - 1), s.table)]);
        let mut one = Vec::new();
        p.table_leaf_entries(tables[0].0, tables[0].1, 0, 1 << 47, &mut one);
        assert_eq!(one, all);
        assert_eq!(table_walk(&p, tables[0].0, tables[0].1, 0, 1 << 47), all, "read_leaf_table sees the same");
        p.table_leaf_entries(tables[0].0, tables[0].1, a + 4096, 1 << 47, &mut one);
        assert!(one.is_empty(), "the range starts after the entry");
        assert!(table_walk(&p, tables[0].0, tables[0].1, a + 4096, 1 << 47).is_empty());
        assert!(p.leaf_tables(pgd, 0, a & !((1 << 21) - 1)).is_empty(), "the range ends before the table");
    }

    /// `read_leaf_table` copies the entries in range at their indices,
    /// empty ones as NONE, leaves the rest of the buffer alone, and says
    /// None for a range that misses the table; short list or array alike.
    #[test]
    fn read_leaf_table_copies_the_range() {
        let base = 0x40_0000u64;
        for n in [5usize, 300] {
            let mut p = PageTables::default();
            p.add_table(7);
            for i in (0..n).map(|i| i * 512 / n) {
                p.set_entry(7, i, Pte(((i as u64) << 12) | 1));
            }
            let sentinel = Pte(0xdead_0001);
            let mut out = [sentinel; PTRS_PER_TABLE];
            let (start, end) = (base + 100 * 4096 + 5, base + 400 * 4096);
            assert_eq!(p.read_leaf_table(base, 7, (start, end), &mut out), Some(100..=399));
            for (i, &e) in out.iter().enumerate() {
                let want = if (100..=399).contains(&i) { p.entry(7, i) } else { sentinel };
                assert_eq!(e, want, "{n} entries, index {i}");
            }
            assert_eq!(p.read_leaf_table(base, 7, (base + (512 << 12), base + (600 << 12)), &mut out), None);
            assert_eq!(p.read_leaf_table(base, 8, (start, end), &mut out), None, "not a table");
        }
    }

    /// `extend_entries` reads what `entry` reads, one by one, over runs
    /// that start and end anywhere in a table, dense or not, or no table.
    #[test]
    fn extend_entries_reads_as_entry() {
        let mut p = PageTables::default();
        p.add_table(7);
        p.add_table(8);
        for i in [0usize, 3, 4, 100, 510, 511] {
            p.set_entry(7, i, Pte(((i as u64) << 12) | 1));
        }
        for i in 0..60 {
            p.set_entry(8, i * 7, Pte(((i as u64) << 12) | 3));
        }
        for table in [7, 8, 9] {
            for (first, n) in [(0, 1), (0, 512), (2, 3), (99, 2), (505, 10), (511, 1), (512, 4), (600, 2)] {
                let mut out = vec![Pte(0x5001)];
                p.extend_entries(table, first, n, &mut out);
                let want: Vec<Pte> = std::iter::once(Pte(0x5001))
                    .chain((first..(first + n).min(PTRS_PER_TABLE)).map(|i| p.entry(table, i)))
                    .collect();
                assert_eq!(out, want, "table {table} from {first}, {n}");
            }
        }
    }

    /// The in-place access of fork's and zap's native loops: only an
    /// array-form table is lent (`dense_mut`); the pair lends the source
    /// only as an array and makes a short-list destination one, keeping
    /// its entries; both are recorded as written; a table paired with
    /// itself, a missing one or a short-list source gets `None`.
    #[test]
    fn dense_tables_lent_in_place() {
        let mut p = PageTables::default();
        p.record_dirty();
        for t in [7, 8, 9] {
            p.add_table(t);
        }
        for i in 0..=DENSE_AT {
            p.set_entry(7, i, Pte(((i as u64) << 12) | 1));
        }
        p.set_entry(8, 3, Pte(0x33001));
        p.take_dirty();
        assert!(p.dense_mut(8).is_none() && p.dense_mut(6).is_none(), "a short list, no table");
        assert_eq!(p.take_dirty(), Some(vec![]), "nothing lent, nothing written");
        p.dense_mut(7).expect("an array")[500] = Pte(0x5001);
        assert_eq!(p.entry(7, 500), Pte(0x5001));
        assert_eq!(p.take_dirty(), Some(vec![7]));
        assert!(p.dense_pair_mut(7, 7).is_none() && p.dense_pair_mut(8, 7).is_none());
        assert!(p.dense_pair_mut(7, 6).is_none(), "no destination table");
        let (s, d) = p.dense_pair_mut(7, 8).expect("source array, destination made one");
        assert_eq!((s[1], d[3]), (Pte(0x1001), Pte(0x33001)), "the destination keeps its entry");
        d[1] = s[1];
        assert_eq!(p.entry(8, 1), Pte(0x1001));
        assert!(p.dense_mut(8).is_some(), "an array now");
        let mut d = p.take_dirty().expect("recording");
        d.sort_unstable();
        d.dedup();
        assert_eq!(d, vec![7, 8]);
    }

    /// The per-table walk sees exactly what `leaf_entries` sees, over a
    /// dense table, a sparse one and ranges cutting both.
    #[test]
    fn per_table_walk_matches_leaf_entries() {
        let (mut p, pgd) = pt();
        let mut next = 200;
        let base = 0x4000_0000u64;
        for i in (0..600u64).chain([700, 1023]) {
            let s = p
                .alloc_path(pgd, base + (i << 12), || -> Result<u64, ()> {
                    next += 1;
                    Ok(next)
                })
                .expect("test");
            p.set(s, Pte((i << 12) | 1));
        }
        for (start, end) in [(0, 1 << 47), (base + 0x5000, base + 0x26_0000), (base + 0x20_0000, base + 0x20_1000)] {
            let mut walked = Vec::new();
            let mut read = Vec::new();
            let mut one = Vec::new();
            for (b, t) in p.leaf_tables(pgd, start, end) {
                p.table_leaf_entries(b, t, start, end, &mut one);
                walked.extend_from_slice(&one);
                read.extend(table_walk(&p, b, t, start, end));
            }
            assert_eq!(read, walked, "read_leaf_table, range {start:#x}-{end:#x}");
            assert_eq!(walked, p.leaf_entries(pgd, start, end), "range {start:#x}-{end:#x}");
        }
        assert_eq!(p.leaf_tables(pgd, 0, 1 << 47).len(), 2);
    }

    #[test]
    fn one_walk_lists_what_the_two_walks_list() {
        let (mut p, pgd) = pt();
        let mut next = 200;
        // Leaf tables in three PMDs, two PUDs and two PGD slots; the last
        // above the `end` used below.
        for a in [0x4000_0000u64, 0x4020_0000, 0x4020_1000, 0x8000_0000, 0x7f00_0000_0000, 0x7fff_ffe0_0000] {
            let s = p
                .alloc_path(pgd, a, || -> Result<u64, ()> {
                    next += 1;
                    Ok(next)
                })
                .expect("test");
            p.set(s, Pte::new(a >> 12, PteFlags::PRESENT));
        }
        for end in [1u64 << 47, 0x7fff_ffe0_0000, 0x4020_0000, 0x4020_0001, 0] {
            let (mut all, mut leaves) = (vec![7], vec![(1, 2)]);
            p.tables_and_leaves_into(pgd, end, &mut all, &mut leaves);
            let mut want_all = vec![7];
            want_all.extend(p.all_tables_under(pgd));
            let mut want_leaves = vec![(1, 2)];
            want_leaves.extend(p.leaf_tables(pgd, 0, end));
            assert_eq!(all, want_all, "end {end:#x}");
            assert_eq!(leaves, want_leaves, "end {end:#x}");
        }
        assert_eq!(p.all_tables_under(pgd).len(), 1 + 3 + 4 + 5, "PGD, PUDs, PMDs, leaf tables");
    }

    /// Once recording, every store, table added and table freed names its
    /// table, and taking the record empties it; before, nothing is kept.
    #[test]
    fn dirty_tables_are_recorded() {
        let (mut p, pgd) = pt();
        p.set_entry(pgd, 1, Pte(0x1001));
        assert_eq!(p.take_dirty(), None, "not recording");
        p.record_dirty();
        let mut next = 200;
        let s = p
            .alloc_path(pgd, 0x40_0000, || -> Result<u64, ()> {
                next += 1;
                Ok(next)
            })
            .expect("test");
        let mut d = p.take_dirty().expect("recording");
        d.sort_unstable();
        d.dedup();
        assert_eq!(d, vec![100, 201, 202, 203], "the PGD and the three tables added under it");
        assert_eq!(p.take_dirty(), Some(Vec::new()), "taken");
        p.set(s, Pte(0x2001));
        p.set_entry(s.table, 5, Pte(0x3001));
        assert_eq!(p.take_dirty(), Some(vec![203]), "two stores in a row into one table: once");
        p.set(s, Pte(0x2002));
        p.set_entry(pgd, 2, Pte(0x5001));
        p.set_entry(s.table, 5, Pte(0x3002));
        assert_eq!(p.take_dirty(), Some(vec![203, 100, 203]), "in order, each run once");
        p.set_entry(pgd, 2, Pte::NONE);
        p.set(s, Pte::NONE);
        p.set_entry(s.table, 5, Pte::NONE);
        p.take_dirty();
        // Xen's checked writes (update_entry) too, when they write.
        p.update_entry(s.table, 5, |_| None);
        assert_eq!(p.take_dirty(), Some(vec![]), "read only");
        p.update_entry(s.table, 5, |_| Some(Pte(0x4001)));
        assert_eq!(p.take_dirty(), Some(vec![203]), "written");
        p.update_entry(s.table, 5, |_| Some(Pte::NONE));
        p.take_dirty();
        p.set_entry(pgd, 1, Pte::NONE);
        p.take_dirty();
        p.free_empty_tables(pgd, 0, 1 << 47);
        let mut d = p.take_dirty().expect("recording");
        d.sort_unstable();
        d.dedup();
        assert_eq!(d, vec![100, 201, 202, 203], "freed tables and the entries that pointed at them");
    }

    #[test]
    fn free_empty() {
        let (mut p, pgd) = pt();
        let mut next = 200;
        let s = p
            .alloc_path(pgd, 0x40_0000, || -> Result<u64, ()> {
                next += 1;
                Ok(next)
            })
            .expect("test");
        p.set(s, Pte(0x1001));
        assert!(p.free_empty_tables(pgd, 0, 1 << 47).is_empty(), "a table with an entry stays");
        p.set(s, Pte::NONE);
        let freed = p.free_empty_tables(pgd, 0, 1 << 47);
        assert_eq!(freed.len(), 3);
        assert_eq!(p.nr_tables(), 1);
    }
}
