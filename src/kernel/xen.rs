//! Guest-side Xen support in the kernel: `mfn_to_pfn()` with the P2M/M2P
//! rules of the chosen variant, and the m2p override table of Linux 3.x.
//!
//! Follows `arch/x86/include/asm/xen/page.h` (post-4.0 `mfn_to_pfn`) and, for
//! the `m2p-override` variant, `arch/x86/xen/p2m.c` of Linux 3.x
//! (`m2p_add_override`, `m2p_find_override_pfn`).

use crate::hv::Hypervisor;
use crate::hv::p2m::IDENTITY_FRAME_BIT;
use crate::kernel::Kernel;
use crate::kernel::page::{Mfn, Pfn};

#[derive(Debug, Default, Clone)]
pub struct GuestXen {
    /// Linux 3.x `m2p_overrides` hash, flattened: newest first, as
    /// `list_add()` puts a new entry at the head of its bucket.
    pub m2p_override: Vec<(Mfn, Pfn)>,
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
}
