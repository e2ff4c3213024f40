//! `HYPERVISOR_mmu_update` as Xen checks it for a PV guest's L1 entries.
//!
//! Follows xen/arch/x86/mm.c `mod_l1_entry` → `get_page_from_l1e`: a present
//! entry may name only a frame owned by the page owner, which is the caller
//! itself or, for a privileged caller passing a foreign domid (privcmd), that
//! domain. Grant mappings never go through here (`GNTTABOP_map_grant_ref`
//! writes the entry itself). Simplification: no page-type (writable page
//! table) tracking, no PAT/cache-attribute checks.

use super::Hypervisor;
use super::machine::DomId;
use crate::arch::x86_64::Pte;
use crate::kernel::page::Mfn;

/// Machine address of a PTE: the page-table frame and the slot in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PteMaddr {
    pub table: Mfn,
    pub index: u16,
}

impl PteMaddr {
    pub fn maddr(self) -> u64 {
        (self.table.0 << 12) | ((self.index as u64) << 3)
    }
}

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
        if old.present() && self.is_grant_pte(dom, at) {
            // xen/arch/x86/mm.c put_page_from_l1e: a grant PTE may only be
            // removed by GNTTABOP_unmap_grant_ref.
            let e = MmuError::ImplicitGrantUnmap { dom, maddr: at.maddr() };
            self.warn(e.to_string());
            return Err(e);
        }
        if !new.present() {
            return Ok(());
        }
        let mfn = Mfn(new.frame());
        let Some(owner) = self.machine.owner(mfn) else {
            if self.machine.valid(mfn) {
                let e = MmuError::NotOwner { dom, mfn: mfn.0, owner: "nobody".into() };
                self.warn(e.to_string());
                return Err(e);
            }
            let e = MmuError::BadMfn { dom, mfn: mfn.0 };
            self.warn(e.to_string());
            return Err(e);
        };
        let pg_owner = match foreign {
            Some(f) if f != dom => {
                if !self.is_privileged(dom) {
                    let e = MmuError::NotPrivileged { dom, foreign: f };
                    self.warn(e.to_string());
                    return Err(e);
                }
                f
            }
            _ => dom,
        };
        if owner != pg_owner {
            let e = MmuError::NotOwner { dom, mfn: mfn.0, owner: format!("d{owner}") };
            self.warn(e.to_string());
            return Err(e);
        }
        Ok(())
    }
}
