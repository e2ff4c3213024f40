//! Guest-side Xen support in the kernel: `mfn_to_pfn()` with the P2M/M2P
//! rules of the chosen variant, the m2p override table of Linux 3.x, the
//! frontend half of the grant table (granting and revoking access), and
//! the backend half (`gnttab_map_refs`/`gnttab_unmap_refs` on ballooned
//! pages, and the safe asynchronous unmap).
//!
//! Follows `arch/x86/include/asm/xen/page.h` (post-4.0 `mfn_to_pfn`),
//! `drivers/xen/grant-table.c` (`gnttab_grant_foreign_access`,
//! `gnttab_end_foreign_access[_ref]`, the deferred list and
//! `gnttab_handle_deferred`, `gnttab_alloc_pages`, `gnttab_map_refs`,
//! `gnttab_unmap_refs`, `gnttab_unmap_refs_async`), `arch/x86/xen/p2m.c`
//! (`set_foreign_p2m_mapping`, `clear_foreign_p2m_mapping`) and, for the
//! `m2p-override` variant, `arch/x86/xen/p2m.c` and `grant-table.c` of
//! Linux 3.x (`m2p_add_override`, `m2p_remove_override`,
//! `m2p_find_override_pfn`).
//!
//! Time: the kernel's timers and delayed work run when the world calls
//! [`Kernel::run_xen_deferred_work`] (once per scenario step): each pending
//! unmap is retried once per call, and the clock jumps to its due time
//! (`5 ms * (age + 1)`), so runs are deterministic.
//! Simplifications: `GNTST_eagain` retries are never needed (no paging);
//! the balloon cannot grow (no `add_ballooned_pages`: `gnttab_alloc_pages`
//! fails with ENOMEM when the unpopulated PFNs are used up).

use crate::arch::x86_64::PAGE_OFFSET;
use crate::errno::{Errno, KResult};
use crate::frame_map::FrameMap;
use crate::hv::Hypervisor;
use crate::hv::grant_table::{GREFS_PER_GRANT_FRAME, GuestMem};
use crate::kernel::Kernel;
use crate::kernel::p2m::{FOREIGN_FRAME_BIT, IDENTITY_FRAME_BIT, INVALID_P2M_ENTRY, foreign_frame};
use crate::kernel::page::{Mfn, PageFlags, Pfn};
use crate::kernel::variant::UnmapPolicy;
use crate::types::DomId;
use crate::xen::interface::grant_table::{
    GNTMAP_CONTAINS_PTE, GNTTAB_NR_RESERVED_ENTRIES, GTF_PERMIT_ACCESS, GTF_READING, GTF_READONLY, GTF_WRITING, GntSt,
    GnttabMapGrantRef, GnttabUnmapGrantRef, INVALID_GRANT_HANDLE,
};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::rc::Rc;

/// `GNTTAB_UNMAP_REFS_DELAY` (ms).
pub const GNTTAB_UNMAP_REFS_DELAY: u64 = 5;
/// The deferred end-access timer period (`HZ`, one second).
pub const DEFERRED_TIMER_MS: u64 = 1000;
/// `free_per_iteration` default: entries retried per timer run.
pub const FREE_PER_ITERATION: usize = 10;
/// `warn_delay` of a deferred entry.
pub const DEFERRED_WARN_DELAY: u16 = 60;

/// What `gntab_unmap_queue_data.done` does when the unmap finally ran.
pub trait UnmapDone: fmt::Debug {
    fn done(&self, k: &mut Kernel, hv: &mut Hypervisor, result: KResult<()>, item: &GntabUnmapQueueData);
}

/// `struct gntab_unmap_queue_data`.
#[derive(Clone, Debug)]
pub struct GntabUnmapQueueData {
    pub unmap_ops: Vec<GnttabUnmapGrantRef>,
    pub kunmap_ops: Option<Vec<GnttabUnmapGrantRef>>,
    pub pages: Vec<Pfn>,
    pub age: u32,
    pub done: Rc<dyn UnmapDone>,
}

/// A delayed `gnttab_unmap_work`.
#[derive(Clone, Debug)]
pub struct UnmapWork {
    pub due_ms: u64,
    pub item: GntabUnmapQueueData,
}

/// `struct deferred_entry` of the end-access deferred list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredEntry {
    pub gref: u32,
    pub page: Option<Pfn>,
    pub warn_delay: u16,
}

/// The frontend's view of its grant table: `nr_grant_frames` and the free
/// list (`gnttab_list`, head = end of the vector).
#[derive(Debug, Default, Clone)]
pub struct GnttabGuest {
    /// 0 until `gnttab_init()` ran.
    pub nr_grant_frames: u32,
    free: Vec<u32>,
    /// Refs handed out and not yet freed (model bookkeeping: Linux keeps no
    /// such set and would corrupt its free list on a double end).
    pub in_use: BTreeSet<u32>,
}

#[derive(Debug, Default, Clone)]
pub struct GuestXen {
    /// Linux 3.x `m2p_overrides` hash, flattened: newest first, as
    /// `list_add()` puts a new entry at the head of its bucket.
    pub m2p_override: Vec<(Mfn, Pfn)>,
    pub gnttab: GnttabGuest,
    /// `deferred_list` of `gnttab_end_foreign_access()`.
    pub deferred: VecDeque<DeferredEntry>,
    /// When the deferred timer fires next.
    pub deferred_timer_ms: Option<u64>,
    /// Pending `gnttab_unmap_refs_async()` retries.
    pub unmap_work: Vec<UnmapWork>,
    /// The kernel's clock (ms), advanced by deferred work only.
    pub now_ms: u64,
    /// The balloon's page list (`ballooned_pages`), built on first use;
    /// `pop()` is the list head.
    balloon: Option<Vec<Pfn>>,
    /// Pages handed out by `gnttab_alloc_pages()` and not freed (ledger).
    pub gnttab_pages: PfnSet,
}

/// A set of pages (model bookkeeping) in a [`FrameMap`]: a backend puts a
/// few pages in and takes them out again on every map, each an index.
/// Iteration is ascending and `Debug` prints as a `BTreeSet`.
#[derive(Clone, Default)]
pub struct PfnSet(FrameMap<()>);

impl PfnSet {
    pub fn insert(&mut self, p: Pfn) -> bool {
        self.0.insert(p.0, ()).is_none()
    }
    pub fn remove(&mut self, p: &Pfn) -> bool {
        self.0.remove(p.0).is_some()
    }
    pub fn contains(&self, p: &Pfn) -> bool {
        self.0.contains_key(p.0)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = Pfn> + '_ {
        self.0.iter().map(|(p, _)| Pfn(p))
    }
}

impl fmt::Debug for PfnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `pfn_to_kaddr()`: the kernel direct-map address of a page.
pub fn pfn_to_kaddr(pfn: Pfn) -> u64 {
    PAGE_OFFSET.wrapping_add(pfn.0 << 12)
}

/// `xen_page_foreign` packed into `page->private` on 64-bit:
/// `{domid_t domid; grant_ref_t gref;}`.
pub fn foreign_private(domid: DomId, gref: u32) -> u64 {
    domid as u64 | (gref as u64) << 32
}

/// `xen_page_foreign(page)` of a PG_foreign page: `(domid, gref)`.
pub fn page_foreign(page: &crate::kernel::page::Page) -> Option<(DomId, u32)> {
    page.flags.contains(PageFlags::FOREIGN).then_some((page.private as DomId, (page.private >> 32) as u32))
}

impl Kernel {
    /// `mfn_to_pfn()`: M2P lookup, accepted only if the local P2M maps the PFN
    /// back to the same MFN; else (3.x) the m2p override; else an identity
    /// frame; else `None` (the kernel's ~0).
    pub fn mfn_to_pfn(&self, hv: &Hypervisor, mfn: Mfn) -> Option<Pfn> {
        let mut pfn = hv.m2p.get(mfn).filter(|&p| self.p2m.raw(p) == mfn.0);
        if pfn.is_none() && self.variant.m2p_override() {
            pfn = self.m2p_find_override_pfn(mfn);
        }
        if pfn.is_none() && self.p2m.raw(Pfn(mfn.0)) == (mfn.0 | IDENTITY_FRAME_BIT) {
            pfn = Some(Pfn(mfn.0));
        }
        pfn
    }

    /// `m2p_find_override_pfn()`: the first page in the bucket for `mfn`.
    pub fn m2p_find_override_pfn(&self, mfn: Mfn) -> Option<Pfn> {
        self.xen.m2p_override.iter().find(|(m, _)| *m == mfn).map(|&(_, p)| p)
    }

    /// `mfn_to_pfn_no_overrides()`: the raw M2P entry.
    pub fn mfn_to_pfn_no_overrides(&self, hv: &Hypervisor, mfn: Mfn) -> Option<Pfn> {
        hv.m2p.get(mfn)
    }

    /// The hypercall's view of this guest's memory.
    fn guest_mem(&mut self) -> GuestMem<'_> {
        let nr_pfns = self.mem.len();
        GuestMem { pt: &mut self.pt, nr_pfns }
    }

    // ---- frontend: granting access -------------------------------------

    /// `gnttab_init()`: one grant frame, refs from `NR_RESERVED_ENTRIES` free.
    fn gnttab_init(&mut self, hv: &mut Hypervisor) {
        if self.xen.gnttab.nr_grant_frames != 0 {
            return;
        }
        hv.gnttab_setup_table(self.domid, 1);
        let g = &mut self.xen.gnttab;
        g.nr_grant_frames = 1;
        g.free = (GNTTAB_NR_RESERVED_ENTRIES..GREFS_PER_GRANT_FRAME).rev().collect();
    }

    /// `gnttab_expand()` by one frame: `GNTTABOP_setup_table` for the
    /// larger table, the new refs in front of the free list.
    fn gnttab_expand(&mut self, hv: &mut Hypervisor) -> KResult<()> {
        let cur = self.xen.gnttab.nr_grant_frames;
        let (_, max) = hv.gnttab_query_size(self.domid);
        if cur + 1 > max || hv.gnttab_setup_table(self.domid, cur + 1) != GntSt::Okay {
            return Err(Errno::ENOSPC);
        }
        let g = &mut self.xen.gnttab;
        g.free.extend((cur * GREFS_PER_GRANT_FRAME..(cur + 1) * GREFS_PER_GRANT_FRAME).rev());
        g.nr_grant_frames = cur + 1;
        Ok(())
    }

    /// `get_free_entries(1)`.
    fn get_free_entry(&mut self, hv: &mut Hypervisor) -> KResult<u32> {
        if !self.pv {
            return Err(Errno::ENODEV);
        }
        self.gnttab_init(hv);
        if self.xen.gnttab.free.is_empty() {
            self.gnttab_expand(hv)?;
        }
        let r = self.xen.gnttab.free.pop().ok_or(Errno::ENOSPC)?;
        self.xen.gnttab.in_use.insert(r);
        Ok(r)
    }

    /// `put_free_entry()`.
    fn put_free_entry(&mut self, gref: u32) {
        let g = &mut self.xen.gnttab;
        if g.in_use.remove(&gref) {
            g.free.push(gref);
        }
    }

    /// `gnttab_grant_foreign_access(domid, frame, readonly)`: the ref, or
    /// `-ENOSPC` when the table cannot grow. `frame` is a GFN (an MFN for a
    /// PV guest); the entry's frame field is 32 bits wide. ENODEV for a
    /// kernel that is not a Xen PV guest (`gnttab_init` never ran).
    pub fn gnttab_grant_foreign_access(
        &mut self,
        hv: &mut Hypervisor,
        domid: DomId,
        frame: u64,
        readonly: bool,
    ) -> KResult<u32> {
        let gref = self.get_free_entry(hv)?;
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        // gnttab_update_entry_v1(): domid, frame, wmb(), flags.
        // The free list only holds refs of frames Xen grew the table to.
        let e = hv.grant_table_mut(self.domid).shared.get_mut(gref as usize).ok_or(Errno::ENOSPC)?;
        e.domid = domid;
        e.frame = frame as u32;
        e.flags = flags;
        Ok(gref)
    }

    /// `gnttab_end_foreign_access_ref()`: revoke unless Xen has it mapped
    /// (`GTF_reading`/`GTF_writing`); false and a warning otherwise.
    pub fn gnttab_end_foreign_access_ref(&mut self, hv: &mut Hypervisor, gref: u32) -> bool {
        let t = hv.grant_table_mut(self.domid);
        let Some(e) = t.shared.get_mut(gref as usize) else {
            return false;
        };
        if e.flags & (GTF_READING | GTF_WRITING) != 0 {
            self.log(None, format!("xen:grant_table: WARNING: g.e. {gref:#x} still in use!"));
            return false;
        }
        e.flags = 0;
        true
    }

    /// `gnttab_end_foreign_access(ref, page)`: end access and free the ref
    /// (and drop `page`), or put both on the deferred list while the
    /// grantee still has the grant mapped. `EINVAL` for a ref that is not
    /// in use (model guard; Linux has no check).
    pub fn gnttab_end_foreign_access(&mut self, hv: &mut Hypervisor, gref: u32, page: Option<Pfn>) -> KResult<bool> {
        if !self.pv {
            return Err(Errno::ENODEV);
        }
        if !self.xen.gnttab.in_use.contains(&gref) || self.xen.deferred.iter().any(|d| d.gref == gref) {
            return Err(Errno::EINVAL);
        }
        if self.gnttab_end_foreign_access_ref(hv, gref) {
            self.put_free_entry(gref);
            if let Some(p) = page {
                self.put_page(p);
            }
            Ok(true)
        } else {
            self.gnttab_add_deferred(gref, page);
            Ok(false)
        }
    }

    /// `gnttab_add_deferred()`.
    fn gnttab_add_deferred(&mut self, gref: u32, page: Option<Pfn>) {
        self.xen.deferred.push_back(DeferredEntry { gref, page, warn_delay: DEFERRED_WARN_DELAY });
        if self.xen.deferred_timer_ms.is_none() {
            self.xen.deferred_timer_ms = Some(self.xen.now_ms + DEFERRED_TIMER_MS);
        }
        let pfn = page.map_or("-1".to_string(), |p| format!("{:#x}", p.0));
        self.log(None, format!("xen:grant_table: deferring g.e. {gref:#x} (pfn {pfn})"));
    }

    /// `gnttab_handle_deferred()`: the timer retries up to
    /// `free_per_iteration` entries, stopping at the first one seen twice.
    fn gnttab_handle_deferred(&mut self, hv: &mut Hypervisor) {
        let mut first: Option<u32> = None;
        for _ in 0..FREE_PER_ITERATION {
            let Some(mut e) = self.xen.deferred.pop_front() else {
                break;
            };
            if first == Some(e.gref) {
                self.xen.deferred.push_front(e);
                break;
            }
            let t = hv.grant_table_mut(self.domid);
            let ended = match t.shared.get_mut(e.gref as usize) {
                Some(s) if s.flags & (GTF_READING | GTF_WRITING) == 0 => {
                    s.flags = 0;
                    true
                }
                _ => false,
            };
            if ended {
                self.put_free_entry(e.gref);
                match e.page {
                    Some(p) => {
                        self.log(None, format!("xen:grant_table: freeing g.e. {:#x} (pfn {:#x})", e.gref, p.0));
                        self.put_page(p);
                    }
                    None => self.log(None, format!("xen:grant_table: freeing g.e. {:#x}", e.gref)),
                }
            } else {
                e.warn_delay = e.warn_delay.saturating_sub(1);
                if e.warn_delay == 0 {
                    self.log(None, format!("xen:grant_table: g.e. {:#x} still pending", e.gref));
                }
                first.get_or_insert(e.gref);
                self.xen.deferred.push_back(e);
            }
        }
        self.xen.deferred_timer_ms =
            if self.xen.deferred.is_empty() { None } else { Some(self.xen.now_ms + DEFERRED_TIMER_MS) };
    }

    // ---- backend: ballooned pages ----------------------------------------

    /// `alloc_xenballooned_pages()`: pages with no memory behind them (P2M
    /// invalid), taken from the head of the balloon list.
    pub fn alloc_xenballooned_pages(&mut self, n: usize) -> KResult<Vec<Pfn>> {
        let list = match &mut self.xen.balloon {
            Some(l) => l,
            None => {
                let l: Vec<Pfn> = self.mem.pfns_with(PageFlags::BALLOON);
                self.xen.balloon.insert(l)
            }
        };
        if list.len() < n {
            return Err(Errno::ENOMEM);
        }
        let got: Vec<Pfn> = (0..n).filter_map(|_| list.pop()).collect();
        for &p in &got {
            let pg = self.mem.page_mut(p);
            pg.flags.remove(PageFlags::BALLOON);
            pg.refcount += 1;
        }
        Ok(got)
    }

    /// `free_xenballooned_pages()`: back on the head of the balloon list.
    pub fn free_xenballooned_pages(&mut self, pages: &[Pfn]) {
        for &p in pages {
            let pg = self.mem.page_mut(p);
            pg.flags |= PageFlags::BALLOON;
            pg.refcount -= 1;
            if let Some(l) = &mut self.xen.balloon {
                l.push(p);
            }
        }
    }

    /// `gnttab_alloc_pages()`: ballooned pages, PG_private set (4.0+; the
    /// 3.x balloon call did not set it, `m2p_add_override` does).
    pub fn gnttab_alloc_pages(&mut self, n: usize) -> KResult<Vec<Pfn>> {
        let pages = self.alloc_xenballooned_pages(n)?;
        for &p in &pages {
            if !self.variant.m2p_override() {
                self.mem.page_mut(p).flags |= PageFlags::PRIVATE;
            }
            self.xen.gnttab_pages.insert(p);
        }
        Ok(pages)
    }

    /// `gnttab_free_pages()`.
    pub fn gnttab_free_pages(&mut self, pages: &[Pfn]) {
        for &p in pages {
            self.mem.page_mut(p).flags.remove(PageFlags::PRIVATE);
            self.xen.gnttab_pages.remove(&p);
        }
        self.free_xenballooned_pages(pages);
    }

    // ---- backend: mapping grants -------------------------------------------

    /// `gnttab_map_refs()`: the map hypercall, then per successful slot
    /// PG_foreign + `{domid, gref}` and the P2M update
    /// (`set_foreign_p2m_mapping`); with the `m2p-override` variant, Linux
    /// 3.x's `m2p_add_override` per successful slot instead.
    pub fn gnttab_map_refs(
        &mut self,
        hv: &mut Hypervisor,
        map_ops: &mut [GnttabMapGrantRef],
        kmap_ops: Option<&mut [GnttabMapGrantRef]>,
        pages: &[Pfn],
    ) -> KResult<()> {
        let domid = self.domid;
        hv.gnttab_map_grant_ref(domid, map_ops, &mut self.guest_mem());
        // Linux 6.12 warns on GNTST_no_device_space only; current Xen
        // reports maptrack exhaustion as GNTST_no_space, which falls
        // through the switch silently.
        if map_ops.iter().any(|o| o.status == GntSt::NoDeviceSpace) {
            self.log(None, "xen:grant_table: maptrack limit reached, can't map all guest pages".to_string());
        }
        if !self.pv {
            return Ok(());
        }
        if self.variant.m2p_override() {
            let mut kmap_ops = kmap_ops;
            for i in 0..map_ops.len().min(pages.len()) {
                if !map_ops[i].status.is_ok() {
                    continue;
                }
                let mfn = self.granted_mfn(&map_ops[i]);
                let kop = kmap_ops.as_deref_mut().and_then(|k| k.get_mut(i));
                self.m2p_add_override(hv, mfn, pages[i], kop)?;
            }
            return Ok(());
        }
        for (op, &p) in map_ops.iter().zip(pages) {
            if op.status.is_ok() {
                let pg = self.mem.page_mut(p);
                pg.flags |= PageFlags::FOREIGN;
                pg.private = foreign_private(op.dom, op.gref);
            }
        }
        self.set_foreign_p2m_mapping(hv, map_ops, kmap_ops, pages)
    }

    /// The MFN a successful map op mapped: read back from the PTE Xen wrote
    /// (`GNTMAP_contains_pte`) or from `dev_bus_addr`.
    fn granted_mfn(&self, op: &GnttabMapGrantRef) -> Mfn {
        if op.flags & GNTMAP_CONTAINS_PTE != 0 {
            Mfn(self.pt.entry(op.host_addr >> 12, ((op.host_addr & 0xfff) >> 3) as usize).frame())
        } else {
            Mfn(op.dev_bus_addr >> 12)
        }
    }

    /// `set_foreign_p2m_mapping()` (arch/x86/xen/p2m.c): map the kernel
    /// addresses, then P2M[pfn] = FOREIGN_FRAME(mfn) for every slot whose
    /// user and kernel maps both succeeded; the page must be ballooned.
    pub fn set_foreign_p2m_mapping(
        &mut self,
        hv: &mut Hypervisor,
        map_ops: &mut [GnttabMapGrantRef],
        kmap_ops: Option<&mut [GnttabMapGrantRef]>,
        pages: &[Pfn],
    ) -> KResult<()> {
        let domid = self.domid;
        let mut kmap_ops = kmap_ops;
        if let Some(k) = kmap_ops.as_deref_mut() {
            hv.gnttab_map_grant_ref(domid, k, &mut self.guest_mem());
        }
        for i in 0..map_ops.len().min(pages.len()) {
            let kok = kmap_ops.as_deref().is_none_or(|k| k.get(i).is_some_and(|o| o.status.is_ok()));
            if !map_ops[i].status.is_ok() || !kok {
                continue;
            }
            let mfn = self.granted_mfn(&map_ops[i]);
            let pfn = pages[i];
            if self.p2m.raw(pfn) != INVALID_P2M_ENTRY {
                self.log(None, format!("WARNING: set_foreign_p2m_mapping: page must be ballooned (pfn {:#x})", pfn.0));
            }
            if self.set_p2m(hv, pfn, foreign_frame(mfn)) {
                continue;
            }
            // Per-slot failure: signal it and unmap this slot at once.
            map_ops[i].status = GntSt::GeneralError;
            let mut un = [GnttabUnmapGrantRef::new(map_ops[i].host_addr, map_ops[i].handle)];
            map_ops[i].handle = INVALID_GRANT_HANDLE;
            hv.gnttab_unmap_grant_ref(domid, &mut un, &mut self.guest_mem());
            if let Some(k) = kmap_ops.as_deref_mut().and_then(|k| k.get_mut(i)) {
                k.status = GntSt::GeneralError;
                let mut un = [GnttabUnmapGrantRef::new(k.host_addr, k.handle)];
                k.handle = INVALID_GRANT_HANDLE;
                hv.gnttab_unmap_grant_ref(domid, &mut un, &mut self.guest_mem());
            }
        }
        Ok(())
    }

    /// `gnttab_unmap_refs()`: the unmap hypercall, clear PG_foreign, then
    /// `clear_foreign_p2m_mapping` (or, 3.x, `m2p_remove_override`).
    pub fn gnttab_unmap_refs(
        &mut self,
        hv: &mut Hypervisor,
        unmap_ops: &mut [GnttabUnmapGrantRef],
        kunmap_ops: Option<&mut [GnttabUnmapGrantRef]>,
        pages: &[Pfn],
    ) -> KResult<()> {
        let domid = self.domid;
        hv.gnttab_unmap_grant_ref(domid, unmap_ops, &mut self.guest_mem());
        if !self.pv {
            return Ok(());
        }
        if self.variant.m2p_override() {
            // 3.x gntdev passed only ranges with valid handles; slots that
            // were never mapped are skipped here for the same effect.
            let mut kunmap_ops = kunmap_ops;
            for i in 0..unmap_ops.len().min(pages.len()) {
                if unmap_ops[i].handle == INVALID_GRANT_HANDLE {
                    continue;
                }
                let kop = kunmap_ops.as_deref_mut().and_then(|k| k.get_mut(i));
                self.m2p_remove_override(hv, pages[i], kop)?;
            }
            return Ok(());
        }
        for &p in pages {
            self.mem.page_mut(p).flags.remove(PageFlags::FOREIGN);
        }
        self.clear_foreign_p2m_mapping(hv, kunmap_ops, pages)
    }

    /// `__set_phys_to_machine()`, traced; false when the pfn is out of range.
    fn set_p2m(&mut self, hv: &mut Hypervisor, pfn: Pfn, entry: u64) -> bool {
        let ok = self.p2m.set(pfn, entry);
        let dom = self.domid;
        hv.trace.emit(|| crate::trace::Event::P2mSet { dom, pfn: pfn.0, entry });
        ok
    }

    /// `clear_foreign_p2m_mapping()`: P2M back to INVALID for each page that
    /// holds a foreign frame, then unmap the kernel addresses.
    pub fn clear_foreign_p2m_mapping(
        &mut self,
        hv: &mut Hypervisor,
        kunmap_ops: Option<&mut [GnttabUnmapGrantRef]>,
        pages: &[Pfn],
    ) -> KResult<()> {
        let mut ret = Ok(());
        for &p in pages {
            let raw = self.p2m.raw(p);
            if raw != INVALID_P2M_ENTRY && raw & FOREIGN_FRAME_BIT != 0 {
                self.set_p2m(hv, p, INVALID_P2M_ENTRY);
            } else {
                ret = Err(Errno::EINVAL);
            }
        }
        if let Some(k) = kunmap_ops {
            let domid = self.domid;
            hv.gnttab_unmap_grant_ref(domid, k, &mut self.guest_mem());
        }
        ret
    }

    /// Linux 3.x `m2p_add_override()`: remember the page's P2M entry in
    /// `page->index`, point it at FOREIGN_FRAME(mfn), map the kernel address,
    /// put the page at the head of the override list, and, when the MFN is
    /// this domain's own (loopback), mark the frontend PFN foreign so that
    /// `mfn_to_pfn` answers with the backend page.
    pub fn m2p_add_override(
        &mut self,
        hv: &mut Hypervisor,
        mfn: Mfn,
        page: Pfn,
        kmap_op: Option<&mut GnttabMapGrantRef>,
    ) -> KResult<()> {
        if self.mem.page(page).flags.contains(PageFlags::PRIVATE) {
            self.log(None, format!("WARNING: m2p_add_override: PagePrivate already set on pfn {:#x}", page.0));
        }
        let old = self.p2m.pfn_to_mfn(page).map_or(INVALID_P2M_ENTRY, |m| m.0);
        let pg = self.mem.page_mut(page);
        pg.flags |= PageFlags::PRIVATE;
        pg.private = mfn.0;
        pg.index = old;
        if !self.set_p2m(hv, page, foreign_frame(mfn)) {
            return Err(Errno::ENOMEM);
        }
        if let Some(k) = kmap_op {
            let domid = self.domid;
            hv.gnttab_map_grant_ref(domid, std::slice::from_mut(k), &mut self.guest_mem());
        }
        self.xen.m2p_override.insert(0, (mfn, page));
        let dom = self.domid;
        hv.trace.emit(|| crate::trace::Event::M2pOverride { dom, add: true, mfn: mfn.0, pfn: page.0 });
        if let Some(p) = self.mfn_to_pfn_no_overrides(hv, mfn)
            && self.p2m.raw(p) == mfn.0
        {
            self.set_p2m(hv, p, foreign_frame(mfn));
        }
        Ok(())
    }

    /// Linux 3.x `m2p_remove_override()`: the inverse, restoring the saved
    /// P2M entry, and the frontend PFN's when no other override is left.
    pub fn m2p_remove_override(
        &mut self,
        hv: &mut Hypervisor,
        page: Pfn,
        kunmap_op: Option<&mut GnttabUnmapGrantRef>,
    ) -> KResult<()> {
        let raw = self.p2m.raw(page);
        if raw == INVALID_P2M_ENTRY || raw & FOREIGN_FRAME_BIT == 0 {
            return Err(Errno::EINVAL);
        }
        if let Some(pos) = self.xen.m2p_override.iter().position(|&(_, p)| p == page) {
            let (mfn, _) = self.xen.m2p_override.remove(pos);
            let dom = self.domid;
            hv.trace.emit(|| crate::trace::Event::M2pOverride { dom, add: false, mfn: mfn.0, pfn: page.0 });
        }
        let pg = self.mem.page_mut(page);
        if !pg.flags.contains(PageFlags::PRIVATE) {
            self.log(None, format!("WARNING: m2p_remove_override: PagePrivate not set on pfn {:#x}", page.0));
        }
        let pg = self.mem.page_mut(page);
        pg.flags.remove(PageFlags::PRIVATE);
        let saved = pg.index;
        self.set_p2m(hv, page, saved);
        if let Some(k) = kunmap_op {
            let domid = self.domid;
            hv.gnttab_unmap_grant_ref(domid, std::slice::from_mut(k), &mut self.guest_mem());
        }
        let mfn = Mfn(raw & !FOREIGN_FRAME_BIT);
        if let Some(p) = self.mfn_to_pfn_no_overrides(hv, mfn)
            && self.p2m.raw(p) == foreign_frame(mfn)
            && self.m2p_find_override_pfn(mfn).is_none()
        {
            self.set_p2m(hv, p, mfn.0);
        }
        Ok(())
    }

    // ---- unmapping pages that may be in use ---------------------------------

    /// `gnttab_unmap_refs_async()`: unmap now if no page of the batch is in
    /// use (refcount > 1), else retry later. With `unmap=immediate` the
    /// check is skipped (the pre-4.0 behaviour).
    pub fn gnttab_unmap_refs_async(&mut self, hv: &mut Hypervisor, mut item: GntabUnmapQueueData) {
        item.age = 0;
        self.__gnttab_unmap_refs_async(hv, item);
    }

    /// `__gnttab_unmap_refs_async()`.
    #[allow(non_snake_case)]
    fn __gnttab_unmap_refs_async(&mut self, hv: &mut Hypervisor, mut item: GntabUnmapQueueData) {
        if self.variant.unmap != UnmapPolicy::Immediate && item.pages.iter().any(|&p| self.mem.page(p).refcount > 1) {
            let delay = GNTTAB_UNMAP_REFS_DELAY * (item.age as u64 + 1);
            self.xen.unmap_work.push(UnmapWork { due_ms: self.xen.now_ms.saturating_add(delay), item });
            return;
        }
        let pages = std::mem::take(&mut item.pages);
        let mut kunmap = item.kunmap_ops.take();
        let ret = self.gnttab_unmap_refs(hv, &mut item.unmap_ops, kunmap.as_deref_mut(), &pages);
        item.kunmap_ops = kunmap;
        item.pages = pages;
        let done = item.done.clone();
        done.done(self, hv, ret, &item);
    }

    /// Run the kernel's Xen timers and delayed work once: every pending
    /// unmap retry (`gnttab_unmap_work`, the clock jumping to its due time),
    /// then the deferred end-access timer if armed. Returns whether any
    /// work was pending.
    pub fn run_xen_deferred_work(&mut self, hv: &mut Hypervisor) -> bool {
        let mut work = std::mem::take(&mut self.xen.unmap_work);
        let any = !work.is_empty() || !self.xen.deferred.is_empty();
        work.sort_by_key(|w| w.due_ms);
        for mut w in work {
            self.xen.now_ms = self.xen.now_ms.max(w.due_ms);
            // gnttab_unmap_work()
            w.item.age = w.item.age.saturating_add(1);
            self.__gnttab_unmap_refs_async(hv, w.item);
        }
        if let Some(t) = self.xen.deferred_timer_ms {
            self.xen.now_ms = self.xen.now_ms.max(t);
            self.gnttab_handle_deferred(hv);
        }
        any
    }

    /// `xen_remap_domain_gfn_array()` (include/xen/xen-ops.h) for a PV
    /// guest: `xen_remap_pfn(.., err_ptr, prot, domid, false)`.
    #[allow(clippy::too_many_arguments)]
    pub fn xen_remap_domain_gfn_array(
        &mut self,
        hv: &mut Hypervisor,
        pid: crate::kernel::Pid,
        vma: &crate::kernel::mm_types::Vma,
        addr: u64,
        gfn: &[u64],
        err_ptr: &mut [i64],
        prot: crate::arch::x86_64::PteFlags,
        domid: DomId,
    ) -> KResult<u64> {
        self.xen_remap_pfn(hv, pid, vma, addr, gfn, err_ptr, prot, domid)
    }

    /// `xen_remap_pfn()` (arch/x86/xen/mmu_pv.c, 6.12): for each frame,
    /// `remap_area_pfn_pte_fn` builds `pte_mkspecial(mfn_pte(mfn, prot))`
    /// for the PTE `apply_to_page_range` found (allocating tables) and
    /// `HYPERVISOR_mmu_update(.., domid)` writes it; a refused frame's error
    /// goes to `err_ptr[i]` and the rest go on. Returns the frames mapped.
    /// Simplifications: one `mmu_update` per frame (no batches of
    /// `REMAP_BATCH_SIZE`); a table that cannot be allocated fails that
    /// frame only (Linux gives up on the call); the `BUG_ON` on a VMA
    /// without `VM_PFNMAP|VM_IO` is -EINVAL.
    #[allow(clippy::too_many_arguments)]
    pub fn xen_remap_pfn(
        &mut self,
        hv: &mut Hypervisor,
        pid: crate::kernel::Pid,
        vma: &crate::kernel::mm_types::Vma,
        addr: u64,
        mfns: &[u64],
        err_ptr: &mut [i64],
        prot: crate::arch::x86_64::PteFlags,
        domid: DomId,
    ) -> KResult<u64> {
        use crate::kernel::mm_types::VmFlags;
        if !vma.flags.contains(VmFlags::PFNMAP | VmFlags::IO) || err_ptr.len() < mfns.len() {
            return Err(Errno::EINVAL);
        }
        let mut mapped = 0;
        for (i, &mfn) in mfns.iter().enumerate() {
            let va = addr + ((i as u64) << 12);
            // apply_to_page_range() allocates the tables with
            // GFP_PGTABLE_USER: through the OOM killer.
            let slot = match self
                .alloc_may_oom(hv, pid, crate::kernel::oom_kill::GFP_PGTABLE_USER_ALLOC, |k| k.pte_alloc(pid, va))
            {
                Ok(s) => s,
                Err(e) => {
                    err_ptr[i] = -(e.0 as i64);
                    continue;
                }
            };
            let at = crate::xen::interface::xen::PteMaddr { table: Mfn(slot.table), index: slot.index };
            let new = crate::arch::x86_64::Pte::new(mfn, prot | crate::arch::x86_64::PteFlags::SPECIAL);
            let old = self.pt.get(slot);
            match hv.mmu_update(self.domid, at, old, new, Some(domid)) {
                Ok(()) => {
                    self.pt.set(slot, new);
                    err_ptr[i] = 0;
                    mapped += 1;
                }
                Err(e) => err_ptr[i] = -(e.errno().0 as i64),
            }
        }
        Ok(mapped)
    }
}

#[cfg(test)]
mod tests {
    /// The answers, order and text of the BTreeSet it replaces.
    #[test]
    fn pfn_set_behaves_as_a_btreeset() {
        let (mut a, mut b) = (super::PfnSet::default(), std::collections::BTreeSet::new());
        for (i, p) in [5u64, 3, 9, 3, 5, 1, 7, 9, 2].into_iter().enumerate() {
            let p = super::Pfn(p);
            let (x, y) = if i % 3 == 2 { (a.remove(&p), b.remove(&p)) } else { (a.insert(p), b.insert(p)) };
            assert_eq!(x, y);
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert!(a.iter().eq(b.iter().copied()) && a.len() == b.len() && a.contains(&p) == b.contains(&p));
        }
    }
}
