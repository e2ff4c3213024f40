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

/// `_IOC(dir, type, nr, size)` (include/uapi/asm-generic/ioctl.h).
pub const fn ioc(dir: u64, ty: u8, nr: u8, size: u64) -> u64 {
    (dir << 30) | (size << 16) | ((ty as u64) << 8) | nr as u64
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
