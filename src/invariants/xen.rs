//! Xen invariants over the whole world: who may map whose frames, and what
//! grant mappings must still be true. Each violation names the domains,
//! PFNs and MFNs involved.
//!
//! Rules:
//!
//! - `foreign-pte`: a present user PTE of a PV domain A names a frame A
//!   does not own, and neither an active grant mapping in that very PTE
//!   (of that frame) nor a privileged foreign `mmu_update` (privcmd)
//!   explains it. A frame nobody owns (freed machine memory) counts too.
//! - `grant-ro-writable`: a read-only grant (entry `GTF_readonly`, or a
//!   `GNTMAP_readonly` map) held in a writable PTE, or mapped writable.
//! - `grant-frame-freed`: a frame with an active grant mapping is free in
//!   its granter (its page is on the free list) or no longer the granter's.
//!   (`World::free_page` also records the moment of the free.)
//! - `grant-pte-lost`: an active grant mapping whose PTE no longer holds it
//!   (its page table was freed or the entry changed under Xen): the
//!   grantee can never unmap it, the maptrack entry and the granter's
//!   `GTF_reading`/`GTF_writing` leak.
//! - `grant-leak`: a domain with no processes left still holds grant
//!   mappings, or pages from `gnttab_alloc_pages()`, while no unmap is
//!   pending (every gntdev file is closed by then).
//! - `xen-implicit-grant-unmap`: Xen's log has "Attempt to implicitly unmap
//!   a granted PTE" (a PTE update or free that would have dropped a live
//!   grant mapping). Like the kernel-log rules of `mm.rs`, the log is not
//!   drained, so each line is reported by every later check.
//!
//! "Bad page map"/"Bad page state" lines of the kernels are reported by
//! `mm.rs` (`bad-page-map`, `bad-page-state`); DMA into the wrong frame is
//! recorded when it happens (`dma-misdirected`, `dma-not-granted` in
//! drivers/blkdev.rs; `gup-wrong-page` in kernel/gup.rs).
//!
//! Cost: one walk of the populated page tables of each PV process, one
//! pass over the active grant mappings, the Xen log and each kernel's
//! small Xen ledgers.

use super::Violation;
use crate::arch::x86_64::TASK_SIZE;
use crate::hv::Hypervisor;
use crate::hv::grant_table::HostMapping;
use crate::kernel::access::PteEntry;
use crate::kernel::page::{Mfn, PageFlags};
use crate::kernel::pte::PteKind;
use crate::types::DomId;
use crate::world::World;
use crate::xen::interface::grant_table::GTF_READONLY;
use crate::xen::interface::xen::PteMaddr;

pub fn check(w: &World) -> Vec<Violation> {
    let mut out = Vec::new();
    foreign_ptes(w, &mut out);
    check_without_ptes(w, &mut out);
    out
}

/// `xen-implicit-grant-unmap`.
fn implicit_unmaps(w: &World, out: &mut Vec<Violation>) {
    for line in w.hv.log.iter().filter(|l| l.contains("implicitly unmap")) {
        out.push(Violation {
            invariant: crate::invariants::Invariant::XenImplicitGrantUnmap,
            message: line.clone(),
            domains: Vec::new(),
            pfns: Vec::new(),
            mfns: Vec::new(),
        });
    }
}

fn owner_name(w: &World, m: Mfn) -> String {
    w.hv.machine.owner(m).map_or("nobody".to_string(), |o| format!("d{o}"))
}

/// The grant table, privcmd and hypervisor state that [`check`] reads
/// besides the page tables' own frames (`super::ptcache`).
pub(super) fn check_without_ptes(w: &World, out: &mut Vec<Violation>) {
    grant_maps(w, out);
    leaks(w, out);
    implicit_unmaps(w, out);
}

/// `foreign-pte` of one leaf entry of PV domain `dom`: `Some((frame,
/// owner))` when it is a present entry naming a frame `dom` does not own
/// and nothing explains it. Reads the frame's owner, and only when that is
/// not `dom`, the grant mappings and privileged foreign mappings.
pub(super) fn unexplained_foreign(hv: &Hypervisor, dom: DomId, e: &PteEntry) -> Option<(Mfn, Option<DomId>)> {
    // _PAGE_PRESENT: an entry the MMU follows.
    let PteKind::Present { frame, protnone: false, .. } = e.kind else { return None };
    let mfn = Mfn(frame);
    let owner = hv.machine.owner(mfn);
    if owner == Some(dom) {
        return None;
    }
    let at = PteMaddr { table: Mfn(e.slot.table), index: e.slot.index };
    if hv.grant_pte(dom, at).is_some_and(|r| r.mfn == mfn) {
        return None;
    }
    if owner.is_some() && hv.foreign_ptes.get(&(dom, at)).copied() == owner && hv.is_privileged(dom) {
        return None;
    }
    Some((mfn, owner))
}

/// `foreign-pte`.
pub(super) fn foreign_ptes(w: &World, out: &mut Vec<Violation>) {
    for d in w.domains.iter().filter(|d| d.kernel.pv) {
        let k = &d.kernel;
        for (pid, p) in &k.procs {
            for e in k.pte_entries(p.mm.pgd, 0, TASK_SIZE) {
                let addr = e.addr;
                let Some((mfn, owner)) = unexplained_foreign(&w.hv, d.id, &e) else { continue };
                out.push(Violation {
                    invariant: crate::invariants::Invariant::ForeignPte,
                    message: format!(
                        "d{} pid {pid}: PTE for {addr:#x} maps mfn {:#x} owned by {}, with no grant mapping or privileged foreign mapping behind it",
                        d.id,
                        mfn.0,
                        owner_name(w, mfn)
                    ),
                    domains: std::iter::once(d.id).chain(owner).collect(),
                    pfns: Vec::new(),
                    mfns: vec![mfn.0],
                });
            }
        }
    }
}

/// `grant-ro-writable`, `grant-frame-freed`, `grant-pte-lost`.
fn grant_maps(w: &World, out: &mut Vec<Violation>) {
    for r in w.hv.grants.records() {
        let entry_ro =
            w.hv.grant_table(r.granter)
                .and_then(|t| t.shared.get(r.gref as usize))
                .is_some_and(|e| e.flags & GTF_READONLY != 0);
        // Formatted only for a violation (this runs for every mapping at
        // every check).
        let who =
            || format!("d{} handle {:#x} (d{} ref {:#x}, mfn {:#x})", r.grantee, r.handle, r.granter, r.gref, r.mfn.0);
        let granter_pfn = w.hv.m2p.get(r.mfn);
        let ids =
            || (vec![r.grantee, r.granter], granter_pfn.map(|p| p.0).into_iter().collect::<Vec<_>>(), vec![r.mfn.0]);
        if entry_ro && !r.readonly {
            let (domains, pfns, mfns) = ids();
            out.push(Violation {
                invariant: crate::invariants::Invariant::GrantRoWritable,
                message: format!("{}: a read-only grant is mapped writable", who()),
                domains,
                pfns,
                mfns,
            });
        }
        if let (Some(HostMapping::Pte(at)), Ok(k)) = (r.host, w.kernel(r.grantee)) {
            let pte = k.page_tables().entry(at.table.0, at.index as usize);
            if !k.page_tables().has_table(at.table.0) || !pte.present() || pte.frame() != r.mfn.0 {
                let (domains, pfns, mfns) = ids();
                out.push(Violation {
                    invariant: crate::invariants::Invariant::GrantPteLost,
                    message: format!(
                        "{}: the PTE at {:#x} no longer holds the mapping (entry {:#x}); it can never be unmapped",
                        who(),
                        at.maddr(),
                        pte.0
                    ),
                    domains,
                    pfns,
                    mfns,
                });
            } else if pte.write() && (r.readonly || entry_ro) {
                let (domains, pfns, mfns) = ids();
                out.push(Violation {
                    invariant: crate::invariants::Invariant::GrantRoWritable,
                    message: format!("{}: read-only grant in a writable PTE at {:#x}", who(), at.maddr()),
                    domains,
                    pfns,
                    mfns,
                });
            }
        }
        let freed = match (w.hv.machine.owner(r.mfn), granter_pfn, w.kernel(r.granter)) {
            (Some(o), _, _) if o != r.granter => Some(format!("the frame now belongs to d{o}")),
            (None, _, _) => Some("the frame is free machine memory".to_string()),
            (_, Some(p), Ok(k)) if k.memmap().get(p).is_some_and(|pg| pg.flags.contains(PageFlags::BUDDY)) => {
                Some(format!("d{} freed its pfn {:#x}", r.granter, p.0))
            }
            _ => None,
        };
        if let Some(why) = freed {
            let (domains, pfns, mfns) = ids();
            out.push(Violation {
                invariant: crate::invariants::Invariant::GrantFrameFreed,
                message: format!("{} is still mapped but {why}", who()),
                domains,
                pfns,
                mfns,
            });
        }
    }
}

/// `grant-leak`.
fn leaks(w: &World, out: &mut Vec<Violation>) {
    for d in &w.domains {
        let k = &d.kernel;
        if !k.procs.is_empty() || !k.xen.unmap_work.is_empty() {
            continue;
        }
        for r in w.hv.grants.records().filter(|r| r.grantee == d.id) {
            out.push(Violation {
                invariant: crate::invariants::Invariant::GrantLeak,
                message: format!(
                    "d{} has no processes but still maps d{} ref {:#x} (mfn {:#x}, handle {:#x}, {})",
                    d.id,
                    r.granter,
                    r.gref,
                    r.mfn.0,
                    r.handle,
                    r.host.map_or("device".to_string(), |h| h.to_string())
                ),
                domains: vec![d.id, r.granter],
                pfns: Vec::new(),
                mfns: vec![r.mfn.0],
            });
        }
        if !k.xen.gnttab_pages.is_empty() {
            let pfns: Vec<u64> = k.xen.gnttab_pages.iter().map(|p| p.0).collect();
            out.push(Violation {
                invariant: crate::invariants::Invariant::GrantLeak,
                message: format!(
                    "d{} has no processes but {} page(s) from gnttab_alloc_pages() were never freed: {:x?}",
                    d.id,
                    pfns.len(),
                    pfns
                ),
                domains: vec![d.id],
                pfns,
                mfns: Vec::new(),
            });
        }
    }
}
