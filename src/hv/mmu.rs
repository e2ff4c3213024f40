//! `HYPERVISOR_mmu_update` as Xen checks it for a PV guest's L1 entries.
//!
//! Follows xen/arch/x86/mm.c `mod_l1_entry` → `get_page_from_l1e`: a present
//! entry may name only a frame owned by the page owner, which is the caller
//! itself or, for a privileged caller passing a foreign domid (privcmd), that
//! domain. Grant mappings never go through here (`GNTTABOP_map_grant_ref`
//! writes the entry itself). A present entry that keeps its frame and only
//! changes whitelisted bits (A/D, NX, USER, GLOBAL, the OS-available bits)
//! takes `mod_l1_entry`'s fast path without reference changes, so Linux
//! may set A/D on grant PTEs; anything else replacing a live grant PTE is
//! "Attempt to implicitly unmap a granted PTE" (a debug Xen's check in
//! `put_page_from_l1e`; the model refuses the write, where Xen crashes the
//! domain). The hypercall-level checks of `do_mmu_update` come first:
//! an unknown foreign domain, or the caller naming its own id, is `-ESRCH`
//! (`get_pg_owner`), a foreign owner
//! without privilege `-EPERM` (`xsm_mmu_update`).
//! Simplification: no page-type (writable page table) tracking, no
//! PAT/cache-attribute checks, no MMIO (a frame beyond machine memory is
//! refused as I/O space a domain may not map).

use super::Hypervisor;
use crate::arch::x86_64::{Pte, PteFlags};
use crate::errno::Errno;
use crate::types::{DomId, Mfn};
use crate::xen::interface::xen::PteMaddr;

/// Why Xen refused an update (`-EINVAL`/`-EPERM` in the hypercall result).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MmuError {
    #[error("d{dom} attempted to map mfn {mfn:#x} owned by {owner}")]
    NotOwner { dom: DomId, mfn: u64, owner: String },
    #[error("d{dom} is not privileged to map frames of d{foreign}")]
    NotPrivileged { dom: DomId, foreign: DomId },
    #[error("d{dom}: mfn {mfn:#x} out of range")]
    BadMfn { dom: DomId, mfn: u64 },
    #[error("d{dom}: attempt to implicitly unmap a granted PTE at {maddr:#x}")]
    ImplicitGrantUnmap { dom: DomId, maddr: u64 },
    #[error("d{dom}: Cannot specify itself as foreign domain")]
    SelfForeign { dom: DomId },
    #[error("d{dom}: unknown domain {foreign} as page owner")]
    UnknownDomain { dom: DomId, foreign: DomId },
}

impl MmuError {
    /// The hypercall's error: `get_page_from_l1e` fails a frame of the
    /// wrong owner with `-EBUSY` ("could_not_pin") and unpermitted I/O
    /// space with `-EPERM`; `xsm_mmu_update` is `-EPERM`; `get_pg_owner`
    /// `-ESRCH`.
    pub fn errno(&self) -> Errno {
        match self {
            MmuError::NotOwner { .. } => Errno::EBUSY,
            MmuError::BadMfn { .. } | MmuError::NotPrivileged { .. } => Errno::EPERM,
            MmuError::ImplicitGrantUnmap { .. } => Errno::EPERM,
            MmuError::UnknownDomain { .. } | MmuError::SelfForeign { .. } => Errno::ESRCH,
        }
    }
}

/// `FASTPATH_FLAG_WHITELIST` (xen/arch/x86/mm.c): bits an L1 update may
/// change without revalidating the entry.
const FASTPATH_FLAGS: u64 = PteFlags::NX.bits()
    | PteFlags::GLOBAL.bits()
    | PteFlags::DIRTY.bits()
    | PteFlags::ACCESSED.bits()
    | PteFlags::USER.bits()
    | 0xe00 // _PAGE_AVAIL (bits 9-11)
    | (0x7ff << 52); // _PAGE_AVAIL_HIGH

/// `l1e_has_changed(ol1e, nl1e, ~FASTPATH_FLAG_WHITELIST)` is false.
fn fast_path(old: Pte, new: Pte) -> bool {
    old.present() && new.present() && (old.0 ^ new.0) & !FASTPATH_FLAGS == 0
}

impl Hypervisor {
    /// Validate an L1 update of domain `dom` (`foreign` = the FD given to
    /// mmu_update for privcmd mappings). `old` is the entry being replaced.
    pub fn mmu_update(
        &mut self,
        dom: DomId,
        at: PteMaddr,
        old: Pte,
        new: Pte,
        foreign: Option<DomId>,
    ) -> Result<(), MmuError> {
        let r = self.mod_l1_entry(dom, at, old, new, foreign);
        self.trace.emit(|| crate::trace::Event::MmuUpdate {
            dom,
            ptr: at.maddr(),
            val: new.0,
            foreign: foreign.filter(|&f| f != dom),
            result: match &r {
                Ok(()) => "0".to_string(),
                Err(e) => format!("-{} ({e})", e.errno().name().unwrap_or("E?")),
            },
        });
        // Ground truth of privileged foreign mappings (privcmd).
        if r.is_ok() {
            self.foreign_ptes.remove(&(dom, at));
            if let Some(f) = foreign.filter(|&f| f != dom && new.present()) {
                self.foreign_ptes.insert((dom, at), f);
            }
        }
        r
    }

    /// `do_mmu_update` + `mod_l1_entry` for one entry.
    fn mod_l1_entry(
        &mut self,
        dom: DomId,
        at: PteMaddr,
        old: Pte,
        new: Pte,
        foreign: Option<DomId>,
    ) -> Result<(), MmuError> {
        // get_pg_owner(): a caller naming its own domain id (not
        // DOMID_SELF) is refused, -ESRCH.
        if foreign == Some(dom) {
            let e = MmuError::SelfForeign { dom };
            self.warn(e.to_string());
            return Err(e);
        }
        if let Some(f) = foreign.filter(|&f| f != dom) {
            if self.domain(f).is_none() {
                let e = MmuError::UnknownDomain { dom, foreign: f };
                self.warn(e.to_string());
                return Err(e);
            }
            if !self.is_privileged(dom) {
                let e = MmuError::NotPrivileged { dom, foreign: f };
                self.warn(e.to_string());
                return Err(e);
            }
        }
        if fast_path(old, new) {
            return Ok(());
        }
        // get_page_from_l1e(nl1e) first...
        if new.present() {
            let mfn = Mfn(new.frame());
            let pg_owner = foreign.unwrap_or(dom);
            let bad = match self.machine.owner(mfn) {
                Some(o) if o == pg_owner => None,
                Some(o) => Some(MmuError::NotOwner { dom, mfn: mfn.0, owner: format!("d{o}") }),
                None if self.machine.valid(mfn) => Some(MmuError::NotOwner { dom, mfn: mfn.0, owner: "nobody".into() }),
                None => Some(MmuError::BadMfn { dom, mfn: mfn.0 }),
            };
            if let Some(e) = bad {
                self.warn(e.to_string());
                return Err(e);
            }
        }
        // ...then put_page_from_l1e(ol1e): a grant PTE may only be removed
        // by GNTTABOP_unmap_grant_ref.
        if old.present() && self.is_grant_pte(dom, at) {
            let e = MmuError::ImplicitGrantUnmap { dom, maddr: at.maddr() };
            self.warn(e.to_string());
            return Err(e);
        }
        Ok(())
    }
}
