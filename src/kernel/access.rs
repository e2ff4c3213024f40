//! What the rest of mmsim sees of a kernel's internals.
//!
//! The memmap, the P2M, the page tables, the page-table pages and the GUP
//! references held are private to `crate::kernel`. Observers (report/,
//! invariants/, html/, run/, the world's checks) read them through the
//! read-only views here, and decode leaf entries through the one typed
//! walker ([`Kernel::pte_entry`], [`Kernel::pte_entries`]: each entry with
//! its [`PteKind`]); drivers and the world change them only through
//! kernel functions under Linux's names (`get_user_pages`,
//! `set_page_dirty_lock`, `xen_remap_pfn`, `alloc_page`...). The few
//! non-Linux entry points here are the model's instrumentation (the
//! allocator's trace and touched-page record, `fail_page_alloc`) and, for
//! tests that corrupt state on purpose, [`Kernel::internals_mut`].
//!
//! Outside `crate::kernel` the fields themselves are out of reach (a
//! private field, E0616):
//!
//! ```compile_fail,E0616
//! fn poke(k: &mut mmsim::kernel::Kernel) {
//!     let _ = &mut k.pt;
//! }
//! ```
//!
//! while the view compiles:
//!
//! ```
//! fn peek(k: &mmsim::kernel::Kernel) -> usize {
//!     k.page_tables().nr_tables()
//! }
//! ```

use crate::arch::pagetable::{PageTables, PteSlot};
use crate::arch::x86_64::Pte;
use crate::errno::KResult;
use crate::frame_map::FrameMap;
use crate::hv::grant_table::GuestMem;
use crate::kernel::p2m::P2m;
use crate::kernel::page::{MemMap, Pfn};
use crate::kernel::pte::PteKind;
use crate::kernel::{GupHeld, Kernel};
use crate::trace::Trace;
use crate::types::DomId;

/// The kernel's internals, writable: for tests that break an invariant on
/// purpose (what a stray kernel write or a buggy driver would do). Nothing
/// in `src/` outside `crate::kernel` uses it.
pub struct Internals<'a> {
    pub mem: &'a mut MemMap,
    pub pt: &'a mut PageTables,
    pub p2m: &'a mut P2m,
    pub gup_held: &'a mut FrameMap<GupHeld>,
    pub pt_pages: &'a FrameMap<Pfn>,
}

impl<'a> Internals<'a> {
    /// What a grant-table hypercall sees of this guest (its page tables
    /// and direct-map size), for tests that issue one directly.
    pub fn guest_mem(self) -> GuestMem<'a> {
        GuestMem { nr_pfns: self.mem.len(), pt: self.pt }
    }
}

impl Kernel {
    /// The memmap (`struct page` array and the page allocator), read-only.
    pub fn memmap(&self) -> &MemMap {
        &self.mem
    }
    /// This kernel's page tables, read-only (raw entries as the MMU sees
    /// them).
    pub fn page_tables(&self) -> &PageTables {
        &self.pt
    }
    /// The guest's P2M, read-only.
    pub fn p2m(&self) -> &P2m {
        &self.p2m
    }
    /// The references GUP handed out and nobody released yet, by page.
    pub fn gup_held(&self) -> &FrameMap<GupHeld> {
        &self.gup_held
    }
    /// Page-table pages: the frame upper-level entries hold -> its PFN.
    pub fn pt_pages(&self) -> &FrameMap<Pfn> {
        &self.pt_pages
    }

    /// `alloc_page(GFP_KERNEL)`: one page, not zeroed, refcount 1.
    pub fn alloc_page(&mut self) -> KResult<Pfn> {
        self.mem.alloc()
    }

    /// `fail_page_alloc` (Documentation/fault-injection/
    /// fault-injection.rst): once `space` bytes of page allocations have
    /// been made, the next `times` allocations fail.
    pub fn fail_page_alloc(&mut self, space: u64, times: u32) {
        self.mem.fail_space = space;
        self.mem.fail_next = times;
    }

    /// Share the event trace with the page allocator.
    pub fn attach_trace(&mut self, dom: DomId, trace: Trace) {
        self.mem.attach_trace(dom, trace);
    }
    /// Start recording the pages touched, counting every page as touched
    /// since boot.
    pub fn record_touched_from_boot(&mut self) {
        self.mem.record_touched_from_boot();
    }
    /// Start recording the pages touched from now on.
    pub fn record_touched(&mut self) {
        self.mem.record_touched();
    }
    /// The PFNs touched since the last call; see `MemMap::take_touched`.
    pub fn take_touched(&mut self) -> Option<(Vec<u32>, bool)> {
        self.mem.take_touched()
    }
    /// Start recording the page tables changed from now on.
    pub fn record_pt_dirty(&mut self) {
        self.pt.record_dirty();
    }
    /// The page tables changed since the last call; see
    /// `PageTables::take_dirty`.
    pub fn take_pt_dirty(&mut self) -> Option<Vec<u64>> {
        self.pt.take_dirty()
    }

    /// The internals, writable, for tests that corrupt state on purpose.
    #[doc(hidden)]
    pub fn internals_mut(&mut self) -> Internals<'_> {
        Internals {
            mem: &mut self.mem,
            pt: &mut self.pt,
            p2m: &mut self.p2m,
            gup_held: &mut self.gup_held,
            pt_pages: &self.pt_pages,
        }
    }
}

/// One leaf entry of a walk: the address it maps, where it lives, its raw
/// value and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PteEntry {
    pub addr: u64,
    pub slot: PteSlot,
    pub pte: Pte,
    pub kind: PteKind,
}

impl Kernel {
    /// The leaf entry mapping `addr` in the tables under `pgd`
    /// (`pte_offset_map()` + `ptep_get()`), decoded; `None` when a table on
    /// the way is missing (`pte_offset_map()` fails: the entry reads as
    /// none).
    pub fn pte_entry(&self, pgd: u64, addr: u64) -> Option<PteEntry> {
        let slot = self.pt.lookup(pgd, addr)?;
        let pte = self.pt.get(slot);
        Some(PteEntry { addr, slot, pte, kind: PteKind::of(pte) })
    }

    /// The non-none leaf entries under `pgd` in `[start, end)`, ascending,
    /// decoded: what `walk_page_range()`'s `pte_entry` callbacks see
    /// (mm/pagewalk.c), visiting only tables that exist.
    pub fn pte_entries(&self, pgd: u64, start: u64, end: u64) -> Vec<PteEntry> {
        let mut out = Vec::new();
        self.pt.for_each_leaf(pgd, start, end, |addr, slot, pte| {
            out.push(PteEntry { addr, slot, pte, kind: PteKind::of(pte) })
        });
        out
    }
}
