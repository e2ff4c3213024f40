//! Frame numbers and domain ids: the few types the guest kernel, the
//! hypervisor and the Xen ABI all speak (Linux `include/linux/pfn.h`,
//! `include/xen/interface/xen.h` `domid_t`; Xen `xen/include/xen/mm-frame.h`
//! `mfn_t`/`pfn_t`). A leaf: it imports nothing from the crate.

use std::fmt;

/// `domid_t`: a Xen domain id.
pub type DomId = u16;

/// A guest pseudo-physical frame number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pfn(pub u64);

/// A machine frame number (what a PV guest's PTEs hold).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mfn(pub u64);

impl fmt::Debug for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pfn {:#x}", self.0)
    }
}
impl fmt::Debug for Mfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mfn {:#x}", self.0)
    }
}
impl fmt::Display for Pfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
impl fmt::Display for Mfn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
