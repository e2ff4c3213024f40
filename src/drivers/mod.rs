//! Device drivers of a guest kernel: Xen's gntdev and privcmd, and a block
//! device with O_DIRECT and split submit/complete I/O whose DMA goes where
//! the guest believes a page lives.
//!
//! Drivers sit above the kernel core: they implement the kernel's
//! `DeviceNode`/`FileOperations`/`VmOperations`/`MmuNotifier` traits and
//! call into `kernel/` and `hv/`, never the other way round.

pub mod blkdev;
pub mod gntdev;
pub mod privcmd;

use crate::kernel::Kernel;
use std::rc::Rc;

use crate::uapi::{IOC_NONE, ioc};

/// Struct sizes on x86-64, from include/uapi/xen/gntdev.h and privcmd.h.
pub mod sizes {
    /// `struct ioctl_gntdev_map_grant_ref`: u32 count, u32 pad, u64 index, one 8-byte ref.
    pub const GNTDEV_MAP_GRANT_REF: u64 = 24;
    /// `struct ioctl_gntdev_unmap_grant_ref`: u64 index, u32 count, u32 pad.
    pub const GNTDEV_UNMAP_GRANT_REF: u64 = 16;
    /// `struct ioctl_gntdev_get_offset_for_vaddr`: u64 vaddr, u64 offset, u32 count, u32 pad.
    pub const GNTDEV_GET_OFFSET_FOR_VADDR: u64 = 24;
    /// `struct ioctl_gntdev_set_max_grants`: u32 count.
    pub const GNTDEV_SET_MAX_GRANTS: u64 = 4;
    /// `struct ioctl_gntdev_unmap_notify`: u64 index, u32 action, u32 port.
    pub const GNTDEV_UNMAP_NOTIFY: u64 = 16;
    /// `struct ioctl_gntdev_grant_copy`: unsigned int count, pointer.
    pub const GNTDEV_GRANT_COPY: u64 = 16;
    /// `struct privcmd_hypercall`: `u64 op`, `u64 arg[5]`.
    pub const PRIVCMD_HYPERCALL: u64 = 48;
    /// `struct privcmd_mmap`: int num, domid_t dom, pointer.
    pub const PRIVCMD_MMAP: u64 = 16;
    /// `struct privcmd_mmapbatch`: int num, domid_t dom, u64 addr, pointer.
    pub const PRIVCMD_MMAPBATCH: u64 = 24;
    /// `struct privcmd_mmapbatch_v2`: unsigned num, domid_t dom, u64 addr, two pointers.
    pub const PRIVCMD_MMAPBATCH_V2: u64 = 32;
}

crate::uapi::uapi_family! {
    /// The Xen device ioctls (include/uapi/xen/gntdev.h, privcmd.h):
    /// `_IOC(_IOC_NONE, 'G' or 'P', nr, sizeof(struct ...))`.
    pub static IOCTL_FAMILY: Enum "IOCTL_", u64 {
        IOCTL_GNTDEV_MAP_GRANT_REF = ioc(IOC_NONE, b'G', 0, sizes::GNTDEV_MAP_GRANT_REF),
        IOCTL_GNTDEV_UNMAP_GRANT_REF = ioc(IOC_NONE, b'G', 1, sizes::GNTDEV_UNMAP_GRANT_REF),
        IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR = ioc(IOC_NONE, b'G', 2, sizes::GNTDEV_GET_OFFSET_FOR_VADDR),
        IOCTL_GNTDEV_SET_MAX_GRANTS = ioc(IOC_NONE, b'G', 3, sizes::GNTDEV_SET_MAX_GRANTS),
        IOCTL_GNTDEV_SET_UNMAP_NOTIFY = ioc(IOC_NONE, b'G', 7, sizes::GNTDEV_UNMAP_NOTIFY),
        IOCTL_GNTDEV_GRANT_COPY = ioc(IOC_NONE, b'G', 8, sizes::GNTDEV_GRANT_COPY),
        IOCTL_PRIVCMD_HYPERCALL = ioc(IOC_NONE, b'P', 0, sizes::PRIVCMD_HYPERCALL),
        IOCTL_PRIVCMD_MMAP = ioc(IOC_NONE, b'P', 2, sizes::PRIVCMD_MMAP),
        IOCTL_PRIVCMD_MMAPBATCH = ioc(IOC_NONE, b'P', 3, sizes::PRIVCMD_MMAPBATCH),
        IOCTL_PRIVCMD_MMAPBATCH_V2 = ioc(IOC_NONE, b'P', 4, sizes::PRIVCMD_MMAPBATCH_V2),
    }
}

/// Register the Xen device nodes a PV guest has (`gntdev_init`,
/// `privcmd_init`: both `-ENODEV` unless `xen_domain()`).
pub fn register_xen_devices(k: &mut Kernel) {
    if !k.pv {
        return;
    }
    k.devices.insert(gntdev::GNTDEV_PATH.to_string(), Rc::new(gntdev::GntdevNode));
    k.devices.insert(privcmd::PRIVCMD_PATH.to_string(), Rc::new(privcmd::PrivcmdNode));
}
