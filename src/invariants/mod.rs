//! Ground-truth checks over the whole world (`check` in docs/SCENARIO.md):
//! what the hypervisor and page tables really say, compared with
//! what each kernel's bookkeeping believes.
//!
//! Two ways to run the same rules: [`check_world`]/[`check_state`] look at
//! every page of every memmap; [`Incremental`] looks only at the pages a
//! step touched or that are referenced, and gives the same verdicts
//! (`tests/native/invariants_incremental.rs` compares them after every step).

pub mod mm;
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
/// at a cost proportional to what the world holds and what the step did,
/// not to the size of the memmaps.
///
/// How: each memmap records the PFNs whose `struct page` was changed
/// (`MemMap::record_touched`); the memmap pass of [`mm::check_kernel`] then
/// visits those, the pages referenced now and the pages referenced at the
/// last check ([`mm::Scope::Only`]). Every other page is unchanged and
/// unreferenced then and now, so its verdict is the last check's, which was
/// clean: after a check that found a state violation, and for a memmap that
/// was not recording, the full pass runs. A memmap recording since boot
/// (`World::record_touched`) needs no full pass at all.
/// The page-table walks, page cache, GUP ledger and Xen rules run in full
/// every time: their cost is proportional to what is mapped, not to memory.
#[derive(Debug, Default)]
pub struct Incremental {
    /// Per domain, the PFNs referenced at the last check.
    referenced: FxHashMap<DomId, Vec<u32>>,
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
        let mut referenced = FxHashMap::default();
        for d in &mut w.domains {
            let prev = if self.clean { self.referenced.remove(&d.id) } else { None };
            let now = match (d.kernel.take_touched(), prev) {
                // A fresh memmap is clean whatever the rest says: its pages
                // are free, reserved or ballooned out.
                (Some((t, true)), _) => incremental(&d.kernel, &w.hv, t, &[], &mut out),
                (Some((t, false)), Some(p)) => incremental(&d.kernel, &w.hv, t, &p, &mut out),
                _ => {
                    d.kernel.record_touched();
                    mm::check_kernel(&d.kernel, &w.hv, mm::Scope::All, &mut out)
                }
            };
            referenced.insert(d.id, now);
        }
        out.extend(xen::check(w));
        mark_log_reported(w);
        self.referenced = referenced;
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

fn incremental(
    k: &crate::kernel::Kernel,
    hv: &crate::hv::Hypervisor,
    mut touched: Vec<u32>,
    prev: &[u32],
    out: &mut Vec<Violation>,
) -> Vec<u32> {
    // check_kernel takes the union, in order, itself.
    touched.extend_from_slice(prev);
    mm::check_kernel(k, hv, mm::Scope::Only(&touched), out)
}
