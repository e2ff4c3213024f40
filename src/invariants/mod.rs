//! Ground-truth checks over the whole world (`check` in docs/SCENARIO.md):
//! what the hypervisor and page tables really say, compared with
//! what each kernel's bookkeeping believes.
//!
//! Two ways to run the same rules: [`check_world`]/[`check_state`] look at
//! every page of every memmap and every page table; [`Incremental`] looks
//! only at the pages and page tables a step touched, and gives the same
//! verdicts
//! (`tests/native/invariants_incremental.rs` compares them after every step).

pub mod mm;
pub mod ptcache;
/// The names, kept in the leaf [`crate::invariant`] (which `hv` can use).
pub use crate::invariant as name;
pub mod xen;

pub use crate::hv::truth::Violation;
pub use crate::invariant::Invariant;
use crate::types::DomId;
use crate::world::World;
use rustc_hash::FxHashMap;

/// Every invariant, now: the violations observed as they happened since the
/// last call (drained), then the state checks.
pub fn check_world(w: &mut World) -> Vec<Violation> {
    let mut out: Vec<Violation> = std::mem::take(&mut w.hv.observed);
    out.extend(check_state(w));
    out
}

/// The state checks alone (`hv.observed` left alone); kernel log lines
/// not yet reported count once.
pub fn check_state(w: &mut World) -> Vec<Violation> {
    let mut out = mm::check(w);
    out.extend(xen::check(w));
    mark_log_reported(w);
    out
}

fn mark_log_reported(w: &mut World) {
    for d in &mut w.domains {
        d.kernel.dmesg_reported = d.kernel.dmesg.len();
    }
}

/// The incremental form of [`check_state`]: the same rules (the code of
/// `mm.rs` and `xen.rs`, shared), the same violations in the same order,
/// at a cost proportional to what the step did, not to the size of the
/// memmaps or of what is mapped.
///
/// How, per kernel:
///
/// - Page tables ([`ptcache`]): each leaf table's verdicts are kept and
///   recomputed only when the table, the VMAs over it, a page it reaches or
///   (PV) the guest's translation changed. When the tables are clean, each
///   page's PTE count and each process's RSS come from those summaries;
///   otherwise (a violation of rule 1, a table reachable twice, an RSS
///   counter that differs) the full check of the kernel runs and reports.
/// - The memmap pass: each memmap records the PFNs whose `struct page`
///   changed (`MemMap::record_touched`); [`mm::check_scoped`] visits those,
///   the pages whose PTE count changed, and those the page cache, the GUP
///   ledger and `pt_pages` reference now or did at the last check. Every
///   other page has the same `struct page` and the same expected counts as
///   at the last check, so its verdict is the last check's, which was
///   clean: after a check that found a state violation, and for a memmap
///   that was not recording, the full pass runs. A memmap recording since
///   boot (`World::record_touched`) needs no full pass at all.
/// - `foreign-pte` walks the tables only when a summary holds a violation;
///   the page cache, GUP ledger and the other Xen rules run in full every
///   time: their cost is proportional to what they hold, not to memory.
#[derive(Debug, Default)]
pub struct Incremental {
    /// Per domain, the PFNs the page cache, GUP ledger and `pt_pages`
    /// referenced at the last check (after a full pass: every page
    /// referenced).
    referenced: FxHashMap<DomId, Vec<u32>>,
    /// Per domain, the page tables' summaries.
    tables: FxHashMap<DomId, ptcache::PtCache>,
    /// The memmap pass's buffers, reused by every check.
    scratch: mm::Scratch,
    /// The last check found no state violation.
    clean: bool,
    /// Also run the full check each time and record any difference in
    /// `mismatches` (tests).
    pub verify: bool,
    /// Checks compared under `verify`, and those that found violations.
    pub compared: u64,
    pub compared_violating: u64,
    /// Under `verify`: each check whose verdict differed from the full one.
    pub mismatches: Vec<String>,
    /// Leaf-table summaries computed and reused, over all checks.
    pub tables_recomputed: u64,
    pub tables_reused: u64,
}

impl Incremental {
    pub fn new() -> Incremental {
        Incremental::default()
    }

    /// [`check_world`], incrementally.
    pub fn check_world(&mut self, w: &mut World) -> Vec<Violation> {
        let mut out: Vec<Violation> = std::mem::take(&mut w.hv.observed);
        out.extend(self.check_state(w));
        out
    }

    /// [`check_state`], incrementally.
    pub fn check_state(&mut self, w: &mut World) -> Vec<Violation> {
        let full = self.verify.then(|| {
            let mut f = mm::check(w);
            f.extend(xen::check(w));
            f
        });
        let mut out = Vec::new();
        // Each domain's entry is replaced below (domains are never
        // removed): the map is reused, not rebuilt per check.
        let was_clean = self.clean;
        let mut xen_bad = false;
        for d in &mut w.domains {
            let touched = d.kernel.take_touched();
            let dirty = d.kernel.take_pt_dirty();
            if dirty.is_none() {
                d.kernel.record_pt_dirty();
            }
            let cache = self.tables.entry(d.id).or_default();
            let walk = cache.update(&d.kernel, &w.hv, d.id, dirty, touched.as_ref().map_or(&[], |t| &t.0));
            self.tables_recomputed += cache.recomputed;
            self.tables_reused += cache.reused;
            xen_bad |= cache.xen_bad();
            let changed = cache.take_changed();
            let prev = if was_clean { self.referenced.remove(&d.id) } else { None };
            let now = match (touched, prev) {
                // A fresh memmap is clean whatever the rest says: its pages
                // are free, reserved or ballooned out.
                (Some((mut t, fresh)), prev) if walk.clean && (fresh || prev.is_some()) => {
                    t.extend_from_slice(&changed);
                    if let (false, Some(p)) = (fresh, prev) {
                        t.extend_from_slice(&p);
                    }
                    let now =
                        mm::check_scoped(&d.kernel, &walk.live_tables, &cache.ptes, &t, &mut out, &mut self.scratch);
                    cache.recycle(walk.live_tables);
                    now
                }
                (touched, _) => {
                    if touched.is_none() {
                        d.kernel.record_touched();
                    }
                    mm::check_kernel(&d.kernel, &w.hv, &mut out)
                }
            };
            self.referenced.insert(d.id, now);
        }
        if xen_bad {
            out.extend(xen::check(w));
        } else {
            xen::check_without_ptes(w, &mut out);
        }
        mark_log_reported(w);
        self.clean = out.is_empty();
        if let Some(full) = full {
            self.compared += 1;
            self.compared_violating += u64::from(!full.is_empty());
            if full != out {
                self.mismatches.push(format!("check {}: full {full:?}, incremental {out:?}", self.compared));
            }
        }
        out
    }
}
