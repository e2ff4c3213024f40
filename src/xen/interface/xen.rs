//! The core hypercall ABI (`xen/include/public/xen.h`, Linux's
//! `include/xen/interface/xen.h`): `domid_t` and the `ptr` of
//! `struct mmu_update`.

pub use crate::types::DomId;
use crate::types::Mfn;

/// `struct mmu_update`'s `ptr` for `MMU_NORMAL_PT_UPDATE`: the machine
/// address of a PTE, kept as the page-table frame and the slot in it.
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
