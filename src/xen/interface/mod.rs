//! The interface between a guest and Xen, as both sides compile it: Xen's
//! `xen/include/public/`, Linux's `include/xen/interface/`. A leaf below
//! the guest kernel (`crate::kernel`) and the hypervisor (`crate::hv`).

pub mod grant_table;
pub mod xen;
