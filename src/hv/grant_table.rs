//! Xen's grant tables, version 1: the shared entries a guest fills to grant
//! access to one of its frames, the active (pinned) state Xen keeps per
//! entry, the grantee's maptrack handles, and `GNTTABOP_map_grant_ref` /
//! `GNTTABOP_unmap_grant_ref` for PV guests.
//!
//! Follows `xen/common/grant_table.c` (`map_grant_ref`, `unmap_common`,
//! `unmap_common_complete`, `_set_status_v1`, `get_paged_frame`,
//! `get_maptrack_handle`, `put_maptrack_handle`, `nr_grant_entries`,
//! `gnttab_grow_table`), `xen/arch/x86/pv/grant_table.c`
//! (`create_grant_pv_mapping`, `replace_grant_pv_mapping`,
//! `grant_to_pte_flags`) and the ABI in `xen/include/public/grant_table.h`
//! (Linux's copy: `include/xen/interface/grant_table.h`).
//!
//! Simplifications: one vCPU per domain (one maptrack free list), no XSM
//! (every domain may map grants; `GNTST_permission_denied` is never
//! returned), no paging/sharing (`GNTST_eagain` never), no IOMMU, no
//! transitive/sub-page grants, no v2 tables, no grant copy/transfer. A
//! host mapping by linear address (no `GNTMAP_contains_pte`) is accepted
//! only for the kernel direct map (`PAGE_OFFSET + pfn << 12`): the model has
//! no kernel page tables, so such a mapping is kept as a record, and the
//! guest reaches the frame through its P2M. Xen's debug-build
//! `_PAGE_GNTTAB` bit and the 64-bit PV `_PAGE_GLOBAL` adjustment are not
//! put into grant PTEs (the ground-truth records below replace the former).

use super::Hypervisor;
use super::grant_maps::{GrantMaps, Records};
use super::per_domain::PerDomain;
use crate::arch::pagetable::PageTables;
use crate::arch::x86_64::{PAGE_OFFSET, PAGE_SHIFT, Pte, PteFlags};
use crate::types::{DomId, Mfn, Pfn};
use crate::xen::interface::grant_table::*;
use crate::xen::interface::xen::PteMaddr;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::fmt;

/// v1 entries per grant frame: `PAGE_SIZE / sizeof(grant_entry_v1_t)`.
pub const GREFS_PER_GRANT_FRAME: u32 = 512;
/// `INITIAL_NR_GRANT_FRAMES`.
pub const INITIAL_NR_GRANT_FRAMES: u32 = 1;
/// Xen's default `max_grant_frames` (`gnttab_max_frames`, 64 since Xen 4.13).
pub const DEFAULT_MAX_GRANT_FRAMES: u32 = 64;
/// Maptrack entries per page: `PAGE_SIZE / sizeof(struct grant_mapping)` (16 bytes).
pub const MAPTRACK_PER_PAGE: u32 = 256;
/// Xen's default `max_maptrack_frames` (`gnttab_max_maptrack_frames`).
pub const DEFAULT_MAX_MAPTRACK_FRAMES: u32 = 1024;

/// Pin counter layout of `struct active_grant_entry` (`GNTPIN_*`).
pub const GNTPIN_HSTW_INC: u32 = 1 << 0;
pub const GNTPIN_HSTR_INC: u32 = 1 << 8;
pub const GNTPIN_DEVW_INC: u32 = 1 << 16;
pub const GNTPIN_DEVR_INC: u32 = 1 << 24;
pub const GNTPIN_HSTW_MASK: u32 = 0xff;
pub const GNTPIN_HSTR_MASK: u32 = 0xff << 8;
pub const GNTPIN_DEVW_MASK: u32 = 0xff << 16;
pub const GNTPIN_DEVR_MASK: u32 = 0xff << 24;
/// `GNTPIN_cntr_width`: each of the four counters is a byte.
pub const GNTPIN_CNTR_WIDTH: u32 = 8;

/// `GNTPIN_incr2oflow_mask(x)`: the top bit of each counter `x` increments.
/// Xen checks only the counters a map is going to increment ("gnttab:
/// adjust pin count overflow checks", Xen 4.15; before, one fixed mask
/// 0x80808080 over all four).
pub fn gntpin_incr2oflow_mask(incr: u32) -> u32 {
    incr << (GNTPIN_CNTR_WIDTH - 1)
}

/// The `pin_incr` of a map op: one increment per kind of mapping it asks
/// for (`map_grant_ref`), 0 when it asks for none.
pub fn gntpin_incr(flags: u32) -> u32 {
    let ro = flags & GNTMAP_READONLY != 0;
    let mut incr = 0;
    if flags & GNTMAP_DEVICE_MAP != 0 {
        incr += if ro { GNTPIN_DEVR_INC } else { GNTPIN_DEVW_INC };
    }
    if flags & GNTMAP_HOST_MAP != 0 {
        incr += if ro { GNTPIN_HSTR_INC } else { GNTPIN_HSTW_INC };
    }
    incr
}

// ---- tables --------------------------------------------------------------

/// `grant_entry_v1_t`: written by the granting guest, `flags` also by Xen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantEntryV1 {
    pub flags: u16,
    /// The domain being granted access (`domid_t`).
    pub domid: DomId,
    /// The granted frame: for a PV guest an MFN (`pfn_to_gfn`).
    pub frame: u32,
}

/// `struct active_grant_entry`: Xen's pin state of one entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActiveGrantEntry {
    /// `GNTPIN_*` counters.
    pub pin: u32,
    /// The domain that has it pinned.
    pub domid: DomId,
    pub mfn: Mfn,
}

/// `struct grant_mapping`: one maptrack entry of the grantee, widened by
/// the model's ground truth of the mapping (`mfn`, `host`; not Xen state,
/// read back as a [`GrantMapRecord`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantMapping {
    pub gref: u32,
    /// `GNTMAP_*` bits 0-4 (a `uint16_t` in Xen: the avail bits are dropped);
    /// 0 = free.
    pub flags: u16,
    /// The granting domain.
    pub domid: DomId,
    /// Ground truth: the frame mapped.
    pub mfn: Mfn,
    /// Ground truth: the `GNTMAP_host_map` mapping, if any (None: device
    /// map only).
    pub host: Option<HostMapping>,
}

/// One domain's grant table and maptrack.
#[derive(Clone, Debug)]
pub struct GrantTable {
    pub shared: Vec<GrantEntryV1>,
    pub active: Vec<ActiveGrantEntry>,
    pub max_grant_frames: u32,
    pub maptrack: Vec<GrantMapping>,
    /// The vCPU's maptrack free list (head at the front, `put` at the back).
    maptrack_free: VecDeque<u32>,
    pub max_maptrack_frames: u32,
}

impl Default for GrantTable {
    fn default() -> Self {
        let n = (INITIAL_NR_GRANT_FRAMES * GREFS_PER_GRANT_FRAME) as usize;
        GrantTable {
            shared: vec![GrantEntryV1::default(); n],
            active: vec![ActiveGrantEntry::default(); n],
            max_grant_frames: DEFAULT_MAX_GRANT_FRAMES,
            maptrack: Vec::new(),
            maptrack_free: VecDeque::new(),
            max_maptrack_frames: DEFAULT_MAX_MAPTRACK_FRAMES,
        }
    }
}

impl GrantTable {
    /// `nr_grant_frames()`.
    pub fn nr_grant_frames(&self) -> u32 {
        self.shared.len() as u32 / GREFS_PER_GRANT_FRAME
    }
    /// `nr_grant_entries()` for v1.
    pub fn nr_grant_entries(&self) -> u32 {
        self.shared.len() as u32
    }
    /// `lgt->maptrack_limit`.
    pub fn maptrack_limit(&self) -> u32 {
        self.maptrack.len() as u32
    }
    /// `gnttab_grow_table()`: grow to `nr_frames` (never shrinks). False
    /// when over `max_grant_frames`.
    pub fn grow_to(&mut self, nr_frames: u32) -> bool {
        if nr_frames > self.max_grant_frames {
            return false;
        }
        let n = (nr_frames * GREFS_PER_GRANT_FRAME) as usize;
        if n > self.shared.len() {
            self.shared.resize(n, GrantEntryV1::default());
            self.active.resize(n, ActiveGrantEntry::default());
        }
        true
    }

    /// `get_maptrack_handle()`: the head of the free list, keeping one entry
    /// in the list; a new maptrack page when that is all that is left.
    fn get_maptrack_handle(&mut self) -> Option<u32> {
        if self.maptrack_free.len() > 1 {
            return self.maptrack_free.pop_front();
        }
        let frames = self.maptrack_limit() / MAPTRACK_PER_PAGE;
        if frames >= self.max_maptrack_frames {
            return None;
        }
        let handle = self.maptrack_limit();
        self.maptrack.resize((handle + MAPTRACK_PER_PAGE) as usize, GrantMapping::default());
        // The page's other entries go in front of the old list.
        for h in (handle + 1..handle + MAPTRACK_PER_PAGE).rev() {
            self.maptrack_free.push_front(h);
        }
        Some(handle)
    }

    /// `put_maptrack_handle()`: back on the tail of the free list.
    fn put_maptrack_handle(&mut self, handle: u32) {
        if let Some(m) = self.maptrack.get_mut(handle as usize) {
            *m = GrantMapping::default();
        }
        self.maptrack_free.push_back(handle);
    }

    /// Maptrack entries in use.
    pub fn maps_in_use(&self) -> impl Iterator<Item = (u32, &GrantMapping)> {
        self.maptrack.iter().enumerate().filter(|(_, m)| m.flags != 0).map(|(h, m)| (h as u32, m))
    }

    /// Clear flags Xen set (`gnttab_clear_flags`).
    fn clear_flags(&mut self, gref: u32, clear: u16) {
        if let Some(e) = self.shared.get_mut(gref as usize) {
            e.flags &= !clear;
        }
    }
}

/// The calling guest's memory that the hypercall touches: its page tables
/// (for `GNTMAP_contains_pte`) and the size of its direct map.
pub struct GuestMem<'a> {
    pub pt: &'a mut PageTables,
    /// PFNs the kernel direct map covers (`PAGE_OFFSET + pfn << 12`).
    pub nr_pfns: u64,
}

/// Where a host mapping lives (ground truth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostMapping {
    /// A PTE Xen wrote (`GNTMAP_contains_pte`).
    Pte(PteMaddr),
    /// The grantee kernel's direct-map entry of this PFN.
    Kernel(Pfn),
}

impl fmt::Display for HostMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostMapping::Pte(m) => write!(f, "pte@{:#x}", m.maddr()),
            HostMapping::Kernel(p) => write!(f, "kernel pfn {:#x}", p.0),
        }
    }
}

/// Ground truth of one active grant mapping, read from the grantee's
/// maptrack entry ([`GrantMapping::record`]): Xen's fields plus the
/// model's `mfn` and `host`, so that checks can find the mapping by frame
/// and by PTE (model instrumentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantMapRecord {
    pub grantee: DomId,
    pub handle: u32,
    pub granter: DomId,
    pub gref: u32,
    pub mfn: Mfn,
    pub readonly: bool,
    /// `GNTMAP_host_map` mapping, if any (None: device map only).
    pub host: Option<HostMapping>,
}

/// All grant state Xen keeps, per domain, plus the ground-truth index.
#[derive(Clone, Default)]
pub struct GrantTables {
    pub tables: PerDomain<GrantTable>,
    /// Which frames the live mappings map (the mappings themselves are
    /// the maptrack entries: [`GrantTables::records`]).
    pub maps: GrantMaps,
    /// Host PTEs holding a grant mapping: (grantee, PTE) -> handle.
    pub ptes: FxHashMap<(DomId, PteMaddr), u32>,
}

impl fmt::Debug for GrantTables {
    /// As the derived `Debug` of the ordered maps these were: `ptes` in
    /// key order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ptes: Vec<_> = self.ptes.iter().collect();
        ptes.sort_unstable();
        let ptes = DebugMap(ptes);
        f.debug_struct("GrantTables")
            .field("tables", &self.tables)
            .field("maps", &Records(self))
            .field("ptes", &ptes)
            .finish()
    }
}

/// Sorted `(key, value)` pairs printed as a map.
struct DebugMap<K, V>(Vec<(K, V)>);
impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for DebugMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

/// `grant_to_pte_flags()` (xen/arch/x86/pv/grant_table.c) without the
/// debug-only `_PAGE_GNTTAB` and cache attributes.
pub fn grant_to_pte_flags(grant_flags: u32) -> PteFlags {
    let mut f = PteFlags::PRESENT | PteFlags::ACCESSED | PteFlags::DIRTY | PteFlags::NX;
    if grant_flags & GNTMAP_APPLICATION_MAP != 0 {
        f |= PteFlags::USER;
    }
    if grant_flags & GNTMAP_READONLY == 0 {
        f |= PteFlags::RW;
    }
    // MASK_INSR(grant_flags >> _GNTMAP_guest_avail0, _PAGE_AVAIL): three
    // software bits 9..11.
    let avail = ((grant_flags >> _GNTMAP_GUEST_AVAIL0) as u64 & 0x7) << 9;
    f | PteFlags::from_bits_truncate(avail)
}

/// Decode a `GNTMAP_contains_pte` host address.
fn pte_maddr(addr: u64) -> PteMaddr {
    PteMaddr { table: Mfn(addr >> PAGE_SHIFT), index: ((addr & 0xfff) >> 3) as u16 }
}

impl Hypervisor {
    /// Domain `d`'s grant table, created on first use (as
    /// `grant_table_init` does at domain creation).
    pub fn grant_table_mut(&mut self, d: DomId) -> &mut GrantTable {
        self.grants.tables.entry_or_default(d)
    }
    pub fn grant_table(&self, d: DomId) -> Option<&GrantTable> {
        self.grants.tables.get(&d)
    }

    /// `GNTTABOP_setup_table` as Linux uses it to grow its own table to
    /// `nr_frames`: `GNTST_general_error` over `max_grant_frames`.
    pub fn gnttab_setup_table(&mut self, d: DomId, nr_frames: u32) -> GntSt {
        if self.domain(d).is_none() {
            return GntSt::BadDomain;
        }
        if self.grant_table_mut(d).grow_to(nr_frames) { GntSt::Okay } else { GntSt::GeneralError }
    }

    /// `GNTTABOP_query_size`: (current frames, max frames).
    pub fn gnttab_query_size(&mut self, d: DomId) -> (u32, u32) {
        let t = self.grant_table_mut(d);
        (t.nr_grant_frames(), t.max_grant_frames)
    }

    /// Set `max_maptrack_frames` for `d` (the `xl.cfg` option of the same
    /// name; Xen's default 1024).
    pub fn set_max_maptrack_frames(&mut self, d: DomId, frames: u32) {
        self.grant_table_mut(d).max_maptrack_frames = frames;
    }

    fn grant_log(&mut self, ld: DomId, what: &str, st: GntSt) {
        self.warn(format!("grant_table.c: d{ld}v0 {what} ({})", st.name()));
    }

    /// `GNTTABOP_map_grant_ref` for `ld`: each op in turn (`gnttab_map_grant_ref`).
    pub fn gnttab_map_grant_ref(&mut self, ld: DomId, ops: &mut [GnttabMapGrantRef], mem: &mut GuestMem<'_>) {
        for op in ops.iter_mut() {
            self.map_grant_ref_traced(ld, op, mem);
        }
    }

    /// `map_grant_ref()`: the checks in Xen's order, then the host mapping.
    pub fn map_grant_ref(&mut self, ld: DomId, op: &mut GnttabMapGrantRef, mem: &mut GuestMem<'_>) {
        op.handle = INVALID_GRANT_HANDLE;
        op.dev_bus_addr = 0;
        let incr = gntpin_incr(op.flags);
        if incr == 0 {
            op.status = GntSt::BadGntref;
            self.grant_log(ld, &format!("Bad flags in grant map op: {:x}", op.flags), op.status);
            return;
        }
        // (paging_mode_external(ld): every guest of the model is PV.)
        let rd = op.dom;
        if self.domain(rd).is_none() {
            op.status = GntSt::BadDomain;
            self.grant_log(ld, &format!("Could not find domain {rd}"), op.status);
            return;
        }
        // (xsm_grant_mapref: no XSM policy, always allowed.)
        let li = self.grants.tables.index_or_default(ld);
        let Some(handle) = self.grants.tables.at_mut(li).get_maptrack_handle() else {
            // Current Xen: GNTST_no_space ("gnttab: GNTST_no_space"; it was
            // GNTST_no_device_space, an I/O MMU status).
            op.status = GntSt::NoSpace;
            self.grant_log(ld, "Failed to obtain maptrack handle", op.status);
            return;
        };
        let status = self.map_grant_ref_pinned(ld, op, handle, incr, mem);
        op.status = status;
        if status != GntSt::Okay {
            self.grant_table_mut(ld).put_maptrack_handle(handle);
        }
    }

    /// The part of `map_grant_ref()` after the maptrack handle was taken;
    /// `incr` is the op's `pin_incr`.
    fn map_grant_ref_pinned(
        &mut self,
        ld: DomId,
        op: &mut GnttabMapGrantRef,
        handle: u32,
        incr: u32,
        mem: &mut GuestMem<'_>,
    ) -> GntSt {
        let ro = op.flags & GNTMAP_READONLY != 0;
        let rd = op.dom;
        let r = op.gref as usize;
        // The granter's table, then the grantee's (made first, by
        // get_maptrack_handle): each looked up once, by index; the
        // granter's borrowed as a field so that the machine can be asked
        // while it is held.
        let ri = self.grants.tables.index_or_default(rd);
        let li = self.grants.tables.index_or_default(ld);
        let rgt = self.grants.tables.at_mut(ri);
        if op.gref >= rgt.nr_grant_entries() {
            self.grant_log(ld, &format!("Bad ref {:#x} for d{rd}", op.gref), GntSt::BadGntref);
            return GntSt::BadGntref;
        }
        let act = rgt.active[r];
        // Only the counters this op increments are checked for overflow
        // (GNTPIN_incr2oflow_mask(pin_incr)).
        if act.pin != 0 && (act.domid != ld || act.pin & gntpin_incr2oflow_mask(incr) != 0) {
            let msg = format!(
                "Bad domain ({} != {ld}), or risk of counter overflow {:08x}, or subpage 0",
                act.domid, act.pin
            );
            self.grant_log(ld, &msg, GntSt::GeneralError);
            return GntSt::GeneralError;
        }
        let write_pins = GNTPIN_HSTW_MASK | GNTPIN_DEVW_MASK;
        if act.pin == 0 || (!ro && act.pin & write_pins == 0) {
            // _set_status_v1()
            let sha = rgt.shared[r];
            let mask = GTF_TYPE_MASK | GTF_SUB_PAGE;
            if act.pin == 0 && ((sha.flags & mask) != GTF_PERMIT_ACCESS || sha.domid != ld) {
                let msg = format!("Bad flags ({:x}) or dom ({}); expected d{ld}", sha.flags, sha.domid);
                self.grant_log(ld, &msg, GntSt::GeneralError);
                return GntSt::GeneralError;
            }
            let mut nflags = sha.flags | GTF_READING;
            if !ro {
                nflags |= GTF_WRITING;
                if sha.flags & GTF_READONLY != 0 {
                    self.grant_log(ld, "Attempt to write-pin a r/o grant entry", GntSt::GeneralError);
                    return GntSt::GeneralError;
                }
            }
            rgt.shared[r].flags = nflags;
            if act.pin == 0 {
                // get_paged_frame(): for a PV granter the frame is an MFN
                // it must own.
                let mfn = Mfn(sha.frame as u64);
                let owned = self.machine.owner(mfn) == Some(rd);
                if !owned {
                    // unlock_out_clear
                    let mut clear = GTF_READING;
                    if !ro {
                        clear |= GTF_WRITING;
                    }
                    rgt.clear_flags(op.gref, clear);
                    let msg = format!("d{rd} ref {:#x}: frame {:#x} is not a page of d{rd}", op.gref, sha.frame);
                    self.grant_log(ld, &msg, GntSt::BadPage);
                    return GntSt::BadPage;
                }
                let a = &mut rgt.active[r];
                a.domid = ld;
                a.mfn = mfn;
            }
        }
        let a = &mut rgt.active[r];
        let old_pin = a.pin;
        a.pin += incr;
        let mfn = a.mfn;
        let mut host = None;
        if op.flags & GNTMAP_HOST_MAP != 0 {
            match self.create_grant_pv_mapping(ld, op.host_addr, mfn, op.flags, mem) {
                Ok(h) => host = Some(h),
                Err(()) => {
                    // undo_out
                    let rgt = self.grants.tables.at_mut(ri);
                    let a = &mut rgt.active[r];
                    a.pin = old_pin;
                    let mut clear = 0;
                    if !ro && a.pin & write_pins == 0 {
                        clear |= GTF_WRITING;
                    }
                    if a.pin == 0 {
                        clear |= GTF_READING;
                    }
                    rgt.clear_flags(op.gref, clear);
                    return GntSt::GeneralError;
                }
            }
        }
        let lgt = self.grants.tables.at_mut(li);
        if let Some(m) = lgt.maptrack.get_mut(handle as usize) {
            *m = GrantMapping { gref: op.gref, flags: op.flags as u16, domid: rd, mfn, host };
            self.grants.maps.add(mfn, ld, ro);
        }
        if let Some(HostMapping::Pte(at)) = host {
            self.grants.ptes.insert((ld, at), handle);
        }
        op.dev_bus_addr = mfn.0 << PAGE_SHIFT;
        op.handle = handle;
        GntSt::Okay
    }

    /// `create_grant_pv_mapping()`: write the grant PTE (contains_pte) or
    /// record the kernel direct-map mapping (linear address).
    fn create_grant_pv_mapping(
        &mut self,
        ld: DomId,
        addr: u64,
        mfn: Mfn,
        flags: u32,
        mem: &mut GuestMem<'_>,
    ) -> Result<HostMapping, ()> {
        if flags & GNTMAP_CONTAINS_PTE != 0 {
            if addr & 7 != 0 {
                self.warn(format!("grant_table.c: d{ld}v0 Misaligned PTE address {addr:x}"));
                return Err(());
            }
            let at = pte_maddr(addr);
            // get_page_from_mfn(gl1mfn, currd) + PGT_l1_page_table, then
            // the write (one lookup of the table).
            let new = Pte::new(mfn.0, grant_to_pte_flags(flags));
            let written = if self.machine.owner(at.table) == Some(ld) {
                mem.pt.update_entry(at.table.0, at.index as usize, |_| Some(new))
            } else {
                None
            };
            let Some(old) = written else {
                self.warn(format!("grant_table.c: d{ld}v0 {addr:#x} is not a PTE in an L1 table of d{ld}"));
                return Err(());
            };
            if old.present() && self.grants.ptes.contains_key(&(ld, at)) {
                // put_page_from_l1e(ol1e) on a grant PTE.
                self.warn(format!("mm.c: d{ld} Attempt to implicitly unmap a granted PTE {:#x}", old.0));
            }
            Ok(HostMapping::Pte(at))
        } else {
            let pfn = addr.wrapping_sub(PAGE_OFFSET) >> PAGE_SHIFT;
            if addr < PAGE_OFFSET || pfn >= mem.nr_pfns {
                self.warn(format!("grant_table.c: d{ld}v0 Could not find L1 PTE for linear address {addr:x}"));
                return Err(());
            }
            Ok(HostMapping::Kernel(Pfn(pfn)))
        }
    }

    /// `GNTTABOP_unmap_grant_ref` for `ld`: `unmap_common` for every op,
    /// then (after the TLB flush) `unmap_common_complete`.
    pub fn gnttab_unmap_grant_ref(&mut self, ld: DomId, ops: &mut [GnttabUnmapGrantRef], mem: &mut GuestMem<'_>) {
        for op in ops.iter_mut() {
            self.unmap_grant_ref_traced(ld, op, mem);
        }
    }

    /// `unmap_common()` + `unmap_common_complete()` for one op.
    pub fn unmap_grant_ref(&mut self, ld: DomId, op: &mut GnttabUnmapGrantRef, mem: &mut GuestMem<'_>) {
        // handle >= maptrack_limit. Each table is looked up once (by
        // index; nothing below adds a table).
        let li = self.grants.tables.index_or_default(ld);
        let Some(&map) = self.grants.tables.at(li).maptrack.get(op.handle as usize) else {
            op.status = GntSt::BadHandle;
            self.grant_log(ld, &format!("Bad d{ld} handle {:#x}", op.handle), op.status);
            return;
        };
        if map.flags == 0 {
            op.status = GntSt::BadHandle;
            self.grant_log(ld, &format!("Zero flags for d{ld} handle {:#x}", op.handle), op.status);
            return;
        }
        let rd = map.domid;
        let flags = map.flags as u32;
        let r = map.gref as usize;
        let found = self.grants.tables.index(rd).and_then(|ri| Some((ri, *self.grants.tables.at(ri).active.get(r)?)));
        let Some((ri, act)) = found else {
            op.status = GntSt::BadHandle;
            self.grant_log(ld, &format!("Unstable d{rd} handle {:#x}", op.handle), op.status);
            return;
        };
        // unmap_common: only a device mapping's bus address is checked, and
        // a mismatch is GNTST_bad_dev_addr (it was GNTST_general_error).
        if op.dev_bus_addr != 0 && flags & GNTMAP_DEVICE_MAP != 0 && op.dev_bus_addr != act.mfn.0 << PAGE_SHIFT {
            op.status = GntSt::BadDevAddr;
            let msg =
                format!("Bus address doesn't match gntref ({:x} != {:x})", op.dev_bus_addr, act.mfn.0 << PAGE_SHIFT);
            self.grant_log(ld, &msg, op.status);
            return;
        }
        let mut done = 0u32;
        let mut new_flags = flags;
        if op.host_addr != 0 && flags & GNTMAP_HOST_MAP != 0 {
            if self.replace_grant_pv_mapping(ld, op.host_addr, act.mfn, flags, op.handle, mem).is_err() {
                op.status = GntSt::GeneralError;
                return;
            }
            new_flags &= !GNTMAP_HOST_MAP;
            done |= GNTMAP_HOST_MAP | (flags & GNTMAP_READONLY);
        }
        if op.dev_bus_addr != 0 && flags & GNTMAP_DEVICE_MAP != 0 {
            new_flags &= !GNTMAP_DEVICE_MAP;
            done |= GNTMAP_DEVICE_MAP | (flags & GNTMAP_READONLY);
        }
        let lgt = self.grants.tables.at_mut(li);
        if new_flags & (GNTMAP_DEVICE_MAP | GNTMAP_HOST_MAP) == 0 {
            lgt.put_maptrack_handle(op.handle);
            self.grants.maps.forget(map.mfn, ld, flags & GNTMAP_READONLY != 0);
        } else if let Some(m) = lgt.maptrack.get_mut(op.handle as usize) {
            m.flags = new_flags as u16;
            if done & GNTMAP_HOST_MAP != 0 {
                // The device mapping stays; the record loses its host one.
                m.host = None;
            }
        }
        op.status = GntSt::Okay;
        // unmap_common_complete()
        if done == 0 {
            return;
        }
        let ro = done & GNTMAP_READONLY != 0;
        let rgt = self.grants.tables.at_mut(ri);
        let a = &mut rgt.active[r];
        if done & GNTMAP_DEVICE_MAP != 0 {
            a.pin = a.pin.saturating_sub(if ro { GNTPIN_DEVR_INC } else { GNTPIN_DEVW_INC });
        }
        if done & GNTMAP_HOST_MAP != 0 {
            a.pin = a.pin.saturating_sub(if ro { GNTPIN_HSTR_INC } else { GNTPIN_HSTW_INC });
        }
        let mut clear = 0;
        if a.pin & (GNTPIN_DEVW_MASK | GNTPIN_HSTW_MASK) == 0 && !ro {
            clear |= GTF_WRITING;
        }
        if a.pin == 0 {
            clear |= GTF_READING;
        }
        rgt.clear_flags(r as u32, clear);
    }

    /// `replace_grant_pv_mapping()` with `new_addr` 0 (destroy): the PTE
    /// must still map the granted frame with the grant's PRESENT/RW bits.
    fn replace_grant_pv_mapping(
        &mut self,
        ld: DomId,
        addr: u64,
        mfn: Mfn,
        flags: u32,
        handle: u32,
        mem: &mut GuestMem<'_>,
    ) -> Result<(), ()> {
        if flags & GNTMAP_CONTAINS_PTE != 0 {
            let at = pte_maddr(addr);
            let want = grant_to_pte_flags(flags);
            let key = PteFlags::PRESENT | PteFlags::RW;
            let matches = |old: Pte| old.frame() == mfn.0 && (old.flags() ^ want) & key == PteFlags::empty();
            // Read, check and clear the entry with one lookup of the table.
            let seen = if addr & 7 == 0 && self.machine.owner(at.table) == Some(ld) {
                mem.pt.update_entry(at.table.0, at.index as usize, |old| matches(old).then_some(Pte::NONE))
            } else {
                None
            };
            let Some(old) = seen else {
                self.warn(format!("grant_table.c: d{ld}v0 {addr:#x} is not a PTE in an L1 table of d{ld}"));
                return Err(());
            };
            if !matches(old) {
                let msg = format!("PTE {:x} for {addr:x} doesn't match grant ({:x})", old.0, Pte::new(mfn.0, want).0);
                self.warn(format!("grant_table.c: d{ld}v0 {msg}"));
                return Err(());
            }
            // Forget the grant PTE if it is this handle's (one lookup: a
            // PTE of another handle goes back).
            if let Some(h) = self.grants.ptes.remove(&(ld, at))
                && h != handle
            {
                self.grants.ptes.insert((ld, at), h);
            }
            Ok(())
        } else {
            let pfn = Pfn(addr.wrapping_sub(PAGE_OFFSET) >> PAGE_SHIFT);
            match self.grants.record((ld, handle)) {
                Some(r) if r.host == Some(HostMapping::Kernel(pfn)) => Ok(()),
                _ => {
                    self.warn(format!("grant_table.c: d{ld}v0 PTE for linear {addr:x} doesn't match grant"));
                    Err(())
                }
            }
        }
    }

    /// Active grant mappings whose frame is `mfn` (any grantee).
    pub fn grant_maps_of_frame(&self, mfn: Mfn) -> impl Iterator<Item = GrantMapRecord> + '_ {
        self.grants.records().filter(move |r| r.mfn == mfn)
    }

    /// `show grants DOMAIN`: the entries `d` issued that are in use or
    /// pinned, then the mappings `d` holds.
    pub fn format_grants(&self, d: DomId) -> String {
        let mut s = String::new();
        let Some(t) = self.grant_table(d) else {
            s.push_str(&format!("d{d}: no grant table in use\n"));
            return s;
        };
        s.push_str(&format!("d{d} grant table: {} frame(s), {} entries\n", t.nr_grant_frames(), t.nr_grant_entries()));
        for (r, (e, a)) in t.shared.iter().zip(&t.active).enumerate() {
            if e.flags == 0 && a.pin == 0 {
                continue;
            }
            s.push_str(&format!(
                "  ref {r:#x}: flags {:#06x}{} domid {} frame {:#x} pin {:#010x}{}\n",
                e.flags,
                gtf_names(e.flags),
                e.domid,
                e.frame,
                a.pin,
                if a.pin != 0 { format!(" mfn {:#x}", a.mfn.0) } else { String::new() },
            ));
        }
        for r in self.grants.records().filter(|r| r.grantee == d) {
            s.push_str(&format!(
                "  handle {:#x}: d{} ref {:#x} mfn {:#x} {} {}\n",
                r.handle,
                r.granter,
                r.gref,
                r.mfn.0,
                if r.readonly { "ro" } else { "rw" },
                r.host.map_or("device".to_string(), |h| h.to_string()),
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_values() {
        // public/grant_table.h
        assert_eq!(GntSt::Eagain.code(), -12);
        assert_eq!(GntSt::from_code(-9), Some(GntSt::BadPage));
        assert_eq!(GTF_READONLY | GTF_READING | GTF_WRITING, 0x1c);
        assert_eq!(GNTMAP_CONTAINS_PTE, 0x10);
        // Xen puts guest_avail0 on bit 9 = Linux _PAGE_SPECIAL.
        let f = grant_to_pte_flags(GNTMAP_HOST_MAP | GNTMAP_APPLICATION_MAP | (1 << _GNTMAP_GUEST_AVAIL0));
        assert!(f.contains(PteFlags::SPECIAL | PteFlags::USER | PteFlags::RW | PteFlags::PRESENT));
        assert!(!grant_to_pte_flags(GNTMAP_HOST_MAP | GNTMAP_READONLY).contains(PteFlags::RW));
    }

    #[test]
    fn maptrack_keeps_one_entry() {
        let mut t = GrantTable { max_maptrack_frames: 1, ..GrantTable::default() };
        let got: Vec<u32> = std::iter::from_fn(|| t.get_maptrack_handle()).collect();
        assert_eq!(got.len(), 255, "one page, one entry always kept");
        assert_eq!(got[..3], [0, 1, 2]);
        t.put_maptrack_handle(7);
        assert_eq!(t.get_maptrack_handle(), Some(255), "the kept entry first");
        assert_eq!(t.get_maptrack_handle(), None);
    }
}
