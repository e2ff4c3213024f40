//! The page-table half of the incremental check ([`super::Incremental`]):
//! what each leaf page table contributes to the rules of `mm.rs` (rule 1:
//! `pte-outside-vma`, `free-page-mapped`, `rss-counter`, each page's PTE
//! count) and to `foreign-pte` (`xen.rs`), kept per table and recomputed
//! only for the tables a step may have changed the verdict of.
//!
//! A table's summary is the verdict of each of its entries
//! ([`mm::pte_verdict`], [`xen::unexplained_foreign`]: the same code as the
//! full walk). It is reused while everything that verdict read is
//! unchanged:
//!
//! - the entries: the kernel's page-table store records every table written,
//!   added or removed (`PageTables::take_dirty`);
//! - the VMAs over the table's 2 MiB (where they start and end, and whether
//!   they are driver mappings), compared with the ones the summary saw;
//! - the `struct page`s reached: the memmap records the pages touched
//!   (`MemMap::take_touched`), and a reverse map finds the tables that read
//!   them; a touched page whose fields the verdicts read are unchanged
//!   ([`mm::verdict_fingerprint`]: a fork changes only mapcounts and
//!   refcounts) leaves them valid, so forking a process whose pages many
//!   others share recomputes the child's tables, not every sharer's;
//! - in a PV guest, the translation `pte_pfn()` uses and the frames' owners:
//!   the guest's P2M, Xen's M2P and the machine's owner table count their
//!   writes (`P2m::generation`, `M2p::generation`,
//!   `Machine::owner_generation`), and the m2p overrides are compared; any
//!   change drops every summary of that guest.
//!
//! Entries whose verdict reads more than that are recomputed at every
//! check ("volatile" tables): a special entry (`vm_normal_page()` asks the
//! driver's `find_special_page`, whose state the mm cannot see) and, in a
//! PV guest, an entry naming a frame the guest does not own (`foreign-pte`
//! reads the grant table and privcmd's mappings). Those are the driver
//! mappings, which are small.
//!
//! The cache gives a verdict only when the page tables are clean; when any
//! table holds a violation, a table is reachable twice or an RSS counter
//! differs, the caller runs the full check, which reports them with the
//! same messages in the same order.

use super::{mm, xen};
use crate::arch::pagetable::PteSlot;
use crate::arch::x86_64::{PAGE_SIZE, PTRS_PER_TABLE, Pte, TASK_SIZE};
use crate::hv::Hypervisor;
use crate::kernel::access::PteEntry;
use crate::kernel::mm::Mm;
use crate::kernel::mm_types::VmaFile;
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};
use crate::types::{DomId, Mfn, Pfn};
use rustc_hash::{FxHashMap, FxHashSet};

/// The span of one leaf table.
const TABLE_SPAN: u64 = PTRS_PER_TABLE as u64 * PAGE_SIZE;
/// The end of the walk of rule 1 (`mm.rs`).
const WALK_END: u64 = TASK_SIZE + PAGE_SIZE;

/// What one leaf table of one process contributes.
#[derive(Debug)]
struct Summary {
    /// The address its entry 0 maps.
    base: u64,
    /// The check that last reached it.
    pass: u64,
    /// The VMAs over `[base, base + 2 MiB)`, clipped to it: start, end,
    /// driver mapping.
    vmas: Vec<(u64, u64, bool)>,
    /// The pages counted (once per entry).
    counted: Vec<u32>,
    /// The pages whose `struct page` a verdict read, once each.
    seen: Vec<u32>,
    rss: [i64; 4],
    /// An entry breaks rule 1.
    bad: bool,
    /// An entry breaks `foreign-pte`.
    xen_bad: bool,
    /// Recompute at every check (see the module comment).
    volatile: bool,
    /// Which summary of its table this is (unique in its cache): a reader
    /// recorded in [`PtCache::by_pfn`] is live while its table's summary
    /// still has this id.
    id: u64,
}

/// The tables whose summaries read one page, and the page's
/// [`mm::verdict_fingerprint`] when they did. A summary dropped leaves its
/// entry here (finding it would cost a scan of every sharer's entry, per
/// page: N exits of N forks of a big process cost N^3); entries are
/// `(table, summary id)`, and the dead ones go when the list would grow.
/// A dead entry can only make a table recomputed that needed not be.
#[derive(Debug)]
struct Readers {
    fp: u64,
    keys: Vec<((Pid, u64), u64)>,
}

/// The fingerprint of page `p` of `k` (a page beyond the memmap has none).
fn fingerprint(k: &Kernel, p: u32) -> u64 {
    k.memmap().get(Pfn(p as u64)).map_or(u64::MAX, mm::verdict_fingerprint)
}

/// What a PV guest's verdicts read outside its page tables and memmap.
#[derive(Debug, PartialEq)]
struct Epoch {
    m2p: u64,
    owners: u64,
    p2m: u64,
    overrides: Vec<(Mfn, Pfn)>,
}

/// The summaries of one kernel's leaf tables and their sums.
#[derive(Debug, Default)]
pub struct PtCache {
    tables: FxHashMap<(Pid, u64), Summary>,
    /// Per page, the entries counted (its expected mapcount).
    pub(super) ptes: FxHashMap<u32, i64>,
    rss: FxHashMap<Pid, [i64; 4]>,
    /// Per page, the tables whose summary read it, and what they read.
    by_pfn: FxHashMap<u32, Readers>,
    bad: usize,
    xen_bad: usize,
    /// Pages whose count in `ptes` changed since [`PtCache::take_changed`].
    changed: Vec<u32>,
    epoch: Option<Epoch>,
    pass: u64,
    /// Summaries computed and reused by the last [`PtCache::update`]
    /// (tests, stats).
    pub recomputed: u64,
    pub reused: u64,
    /// The last summary id given ([`Summary::id`]).
    next_id: u64,
    /// Scratch: one table's entries.
    entries: Vec<(u64, PteSlot, Pte)>,
    /// Scratch buffers reused by every [`PtCache::update`] (no allocation
    /// per check): the stale keys, one process's tables and leaf tables,
    /// and the live-table set handed back by [`PtCache::recycle`].
    stale: Vec<(Pid, u64)>,
    all: Vec<u64>,
    leaves: Vec<(u64, u64)>,
    live: FxHashSet<u64>,
}

/// What [`PtCache::update`] found.
pub struct Walk {
    /// Every table reachable from a process's PGD.
    pub live_tables: FxHashSet<u64>,
    /// No violation of rule 1 and no table reachable twice.
    pub clean: bool,
}

impl PtCache {
    /// A PTE of a PV guest names a frame it does not own, unexplained.
    pub fn xen_bad(&self) -> bool {
        self.xen_bad > 0
    }

    /// The pages whose PTE count changed since the last call.
    pub fn take_changed(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.changed)
    }

    /// Give back a [`Walk`]'s live-table set once read, for the next
    /// [`PtCache::update`] to fill again.
    pub fn recycle(&mut self, mut live: FxHashSet<u64>) {
        live.clear();
        self.live = live;
    }

    /// Bring the summaries up to date with `k`. `dirty` are the tables
    /// changed since the last update (`None`: not recorded, recompute all),
    /// `touched` the pages whose `struct page` changed.
    pub fn update(
        &mut self,
        k: &Kernel,
        hv: &Hypervisor,
        dom: DomId,
        dirty: Option<Vec<u64>>,
        touched: &[u32],
    ) -> Walk {
        self.pass += 1;
        self.recomputed = 0;
        self.reused = 0;
        let epoch = k.pv.then(|| Epoch {
            m2p: hv.m2p.generation(),
            owners: hv.machine.owner_generation(),
            p2m: k.p2m().generation(),
            overrides: k.xen.m2p_override.clone(),
        });
        if dirty.is_none() || epoch != self.epoch {
            self.clear();
        }
        self.epoch = epoch;
        // Sorted, searched: usually a few, often none (no hashing).
        let mut dirty = dirty.unwrap_or_default();
        dirty.sort_unstable();
        dirty.dedup();
        let mut stale = std::mem::take(&mut self.stale);
        stale.clear();
        for p in touched {
            if let Some(r) = self.by_pfn.get_mut(p) {
                let fp = fingerprint(k, *p);
                if fp != r.fp {
                    stale.extend(r.keys.iter().map(|&(key, _)| key));
                    r.fp = fp;
                }
            }
        }
        stale.sort_unstable();
        stale.dedup();
        let mut reached = 0;
        let mut live_tables = std::mem::take(&mut self.live);
        live_tables.clear();
        let (mut all, mut leaves) = (std::mem::take(&mut self.all), std::mem::take(&mut self.leaves));
        let mut shared = false;
        for (&pid, p) in &k.procs {
            all.clear();
            leaves.clear();
            k.page_tables().tables_and_leaves_into(p.mm.pgd, WALK_END, &mut all, &mut leaves);
            for &t in &all {
                shared |= !live_tables.insert(t);
            }
            for &(base, frame) in &leaves {
                let key = (pid, frame);
                reached += 1;
                if let Some(s) = self.tables.get_mut(&key)
                    && s.base == base
                    && !s.volatile
                    && dirty.binary_search(&frame).is_err()
                    && stale.binary_search(&key).is_err()
                    && same_vmas(&s.vmas, &p.mm, base)
                {
                    s.pass = self.pass;
                    self.reused += 1;
                    continue;
                }
                self.remove(key);
                let s = summarize(k, hv, dom, &p.mm, base, frame, self.pass, &mut self.entries);
                self.recomputed += 1;
                self.add(k, key, pid, s);
            }
        }
        (self.stale, self.all, self.leaves) = (stale, all, leaves);
        // Tables no longer reached. Each key reached is in `tables`; when
        // none was reached twice (which makes a table shared) and as many
        // were reached as `tables` holds, that is all of them.
        if self.tables.len() != reached || shared {
            let gone: Vec<(Pid, u64)> =
                self.tables.iter().filter(|(_, s)| s.pass != self.pass).map(|(&key, _)| key).collect();
            for key in gone {
                self.remove(key);
            }
        }
        // A process gone has no summary left, so nothing counted.
        self.rss.retain(|pid, _| k.procs.contains_key(pid));
        let rss_equal = k.procs.iter().all(|(pid, p)| self.rss.get(pid).copied().unwrap_or_default() == p.mm.rss);
        Walk { live_tables, clean: !shared && self.bad == 0 && rss_equal }
    }

    /// Drop every summary (their pages count as changed).
    fn clear(&mut self) {
        self.changed.extend(self.ptes.iter().filter(|(_, n)| **n != 0).map(|(&p, _)| p));
        self.tables.clear();
        self.ptes.clear();
        self.rss.clear();
        self.by_pfn.clear();
        self.bad = 0;
        self.xen_bad = 0;
    }

    fn add(&mut self, k: &Kernel, key: (Pid, u64), pid: Pid, mut s: Summary) {
        self.next_id += 1;
        s.id = self.next_id;
        for &p in &s.counted {
            *self.ptes.entry(p).or_default() += 1;
            self.changed.push(p);
        }
        for &p in &s.seen {
            // A page already here has the fingerprint it has now: a change
            // since was a touch, and this update's start recorded it.
            let r = self.by_pfn.entry(p).or_insert_with(|| Readers { fp: fingerprint(k, p), keys: Vec::new() });
            if r.keys.len() == r.keys.capacity() {
                let tables = &self.tables;
                r.keys.retain(|(key, id)| tables.get(key).is_some_and(|t| t.id == *id));
            }
            r.keys.push((key, s.id));
        }
        let r = self.rss.entry(pid).or_default();
        for (a, b) in r.iter_mut().zip(s.rss) {
            *a += b;
        }
        self.bad += usize::from(s.bad);
        self.xen_bad += usize::from(s.xen_bad);
        self.tables.insert(key, s);
    }

    fn remove(&mut self, key: (Pid, u64)) {
        let Some(s) = self.tables.remove(&key) else { return };
        for &p in &s.counted {
            if let Some(n) = self.ptes.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    self.ptes.remove(&p);
                }
            }
            self.changed.push(p);
        }
        if let Some(r) = self.rss.get_mut(&key.0) {
            for (a, b) in r.iter_mut().zip(s.rss) {
                *a -= b;
            }
        }
        self.bad -= usize::from(s.bad);
        self.xen_bad -= usize::from(s.xen_bad);
    }
}

fn is_driver(file: &Option<VmaFile>) -> bool {
    matches!(file, Some(VmaFile::Device { .. }))
}

/// The VMAs over the table at `base` are still the ones `seen` records.
fn same_vmas(seen: &[(u64, u64, bool)], mm: &Mm, base: u64) -> bool {
    let end = base.saturating_add(TABLE_SPAN);
    let mut n = 0;
    for v in mm.vmas_in(base, end) {
        if seen.get(n) != Some(&(v.start.max(base), v.end.min(end), is_driver(&v.file))) {
            return false;
        }
        n += 1;
    }
    n == seen.len()
}

/// The verdicts of the entries of one leaf table (`frame`, entry 0 at
/// `base`) of a process of `k` (domain `dom`).
#[allow(clippy::too_many_arguments)]
fn summarize(
    k: &Kernel,
    hv: &Hypervisor,
    dom: DomId,
    mm: &Mm,
    base: u64,
    frame: u64,
    pass: u64,
    entries: &mut Vec<(u64, PteSlot, Pte)>,
) -> Summary {
    let end = base.saturating_add(TABLE_SPAN);
    let mut s = Summary {
        base,
        pass,
        vmas: mm.vmas_in(base, end).map(|v| (v.start.max(base), v.end.min(end), is_driver(&v.file))).collect(),
        counted: Vec::new(),
        seen: Vec::new(),
        rss: [0; 4],
        bad: false,
        xen_bad: false,
        volatile: false,
        id: 0,
    };
    k.page_tables().table_leaf_entries(base, frame, 0, WALK_END, entries);
    for &(addr, slot, pte) in entries.iter() {
        let e = PteEntry { addr, slot, pte, kind: PteKind::of(pte) };
        let present = e.kind.is_present();
        s.volatile |= present && pte.special();
        match mm::pte_verdict(k, hv, mm, &e) {
            mm::PteVerdict::OutsideVma => s.bad = true,
            mm::PteVerdict::Ignored => {}
            mm::PteVerdict::FreeMapped(p) => {
                s.bad = true;
                s.seen.push(p.0 as u32);
            }
            mm::PteVerdict::Uncounted(p) => s.seen.push(p.0 as u32),
            mm::PteVerdict::Counted(p, c) => {
                s.seen.push(p.0 as u32);
                s.counted.push(p.0 as u32);
                s.rss[c as usize] += 1;
            }
        }
        if k.pv
            && addr < TASK_SIZE
            && let PteKind::Present { frame: f, protnone: false, .. } = e.kind
        {
            s.volatile |= hv.machine.owner(Mfn(f)) != Some(dom);
            s.xen_bad |= xen::unexplained_foreign(hv, dom, &e).is_some();
        }
    }
    s.seen.sort_unstable();
    s.seen.dedup();
    s
}
