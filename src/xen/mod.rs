//! Xen definitions shared by guest and hypervisor (Linux `include/xen/`).

pub mod interface;
