//! `/dev/xen/privcmd`: a privileged domain maps another domain's frames
//! into user space (`IOCTL_PRIVCMD_MMAPBATCH_V2`).
//!
//! Follows `drivers/xen/privcmd.c` (`privcmd_mmap`,
//! `privcmd_ioctl_mmap_batch` version 2, `privcmd_vma_range_is_mapped`,
//! `privcmd_fault`) and, for a PV guest, `arch/x86/xen/mmu_pv.c`
//! (`xen_remap_pfn`/`do_remap_pfn`: a *special* PTE naming the foreign MFN,
//! written by `mmu_update` with the foreign domid); the ABI is
//! `include/uapi/xen/privcmd.h`.
//!
//! ABI as the model passes it: `ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2,
//! addr, domid, [frames])` returns what the ioctl returns: 0 even when
//! frames failed (their errors are in the `err` array:
//! [`PrivcmdFile::last_errors`]; a failed frame's PTE stays empty and a
//! touch there is SIGBUS), -EINVAL for a bad range, never -ENOENT (no
//! paging). Simplifications: no `IOCTL_PRIVCMD_RESTRICT`, no hypercall or
//! resource ioctls, no auto-translated path.

use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::file::{DeviceNode, FileOperations, IoctlArg};
use crate::kernel::mm_types::{VmFlags, VmOperations, Vma};
use crate::kernel::pte::{PteKind, vm_get_page_prot};
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

pub const PRIVCMD_PATH: &str = "/dev/xen/privcmd";

pub use super::IOCTL_PRIVCMD_MMAPBATCH_V2;

#[derive(Debug, Default)]
pub struct PrivcmdNode;

impl DeviceNode for PrivcmdNode {
    fn open(&self, k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _flags: u64) -> KResult<Rc<dyn FileOperations>> {
        if !k.pv {
            return Err(Errno::ENODEV);
        }
        Ok(Rc::new(PrivcmdFile::default()))
    }
}

/// An open `/dev/xen/privcmd`.
#[derive(Debug, Default)]
pub struct PrivcmdFile {
    /// The `err` array of the last MMAPBATCH_V2 (0 or -errno per frame).
    errs: RefCell<Vec<i64>>,
}

impl PrivcmdFile {
    /// Per-frame results of the last `IOCTL_PRIVCMD_MMAPBATCH_V2`.
    pub fn last_errors(&self) -> Vec<i64> {
        self.errs.borrow().clone()
    }
}

/// `privcmd_vm_ops`; `locked` is `vm_private_data == PRIV_VMA_LOCKED`.
#[derive(Debug, Default)]
pub struct PrivcmdVmOps {
    locked: Cell<bool>,
}

impl VmOperations for PrivcmdVmOps {
    /// `privcmd_close()`: nothing to do for a PV guest.
    fn close(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _vma: &Vma) {}
    fn has_close(&self) -> bool {
        true
    }
    /// `privcmd_may_split()` (drivers/xen/privcmd.c, 6.12): "Forbid
    /// splitting, avoids double free via privcmd_close()".
    fn may_split(&self, _vma: &Vma, _addr: u64) -> KResult<()> {
        Err(Errno::EINVAL)
    }
    // privcmd_fault(): VM_FAULT_SIGBUS, the default.
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl PrivcmdFile {
    /// `privcmd_ioctl_mmap_batch(.., 2)`.
    fn mmap_batch_v2(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, args: &[IoctlArg]) -> KResult<u64> {
        let addr = args.first().ok_or(Errno::EFAULT)?.int()?;
        let dom = args.get(1).ok_or(Errno::EFAULT)?.int()? as DomId;
        let frames = args.get(2).ok_or(Errno::EFAULT)?.list()?.to_vec();
        let num = frames.len() as u64;
        if num == 0 {
            return Err(Errno::EINVAL);
        }
        self.errs.replace(vec![0; frames.len()]);
        let mm = k.mm(pid)?;
        let vma = mm.find_vma(addr).cloned().ok_or(Errno::EINVAL)?;
        let ops = vma
            .ops
            .as_ref()
            .and_then(|o| o.as_any())
            .and_then(|a| a.downcast_ref::<PrivcmdVmOps>())
            .ok_or(Errno::EINVAL)?;
        let end = addr.wrapping_add(num << 12);
        if !ops.locked.get() {
            // The first call must cover the whole VMA.
            if addr != vma.start || end != vma.end {
                return Err(Errno::EINVAL);
            }
            ops.locked.set(true);
        } else {
            if addr < vma.start || end > vma.end || end < addr {
                return Err(Errno::EINVAL);
            }
            // privcmd_vma_range_is_mapped(): is_mapped_fn() is -EBUSY on
            // any entry not pte_none() (pte_entries() gives only those).
            if k.pte_entries(mm.pgd, addr, end).iter().any(|e| e.kind != PteKind::None) {
                return Err(Errno::EINVAL);
            }
        }
        // mmap_batch_fn(): xen_remap_domain_gfn_array(vma, .., vma->vm_page_prot, m->dom, ..).
        let mut errs = vec![0i64; frames.len()];
        k.xen_remap_domain_gfn_array(hv, pid, &vma, addr, &frames, &mut errs, vm_get_page_prot(vma.flags), dom)?;
        self.errs.replace(errs);
        Ok(0)
    }
}

impl FileOperations for PrivcmdFile {
    fn path(&self) -> String {
        PRIVCMD_PATH.to_string()
    }
    fn dev_ino(&self) -> ((u32, u32), u64) {
        ((0, 6), 1041)
    }
    /// `privcmd_mmap()`: DONTCOPY because `copy_page_range` cannot recreate
    /// these mappings.
    fn has_mmap(&self) -> bool {
        true
    }
    fn mmap(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, vma: &mut Vma) -> KResult<()> {
        vma.flags |= VmFlags::IO | VmFlags::PFNMAP | VmFlags::DONTCOPY | VmFlags::DONTEXPAND | VmFlags::DONTDUMP;
        vma.ops = Some(Rc::new(PrivcmdVmOps::default()));
        Ok(())
    }
    fn ioctl(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, req: u64, args: &[IoctlArg]) -> KResult<u64> {
        match req {
            IOCTL_PRIVCMD_MMAPBATCH_V2 => self.mmap_batch_v2(k, hv, pid, args),
            _ => Err(Errno::ENOTTY),
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
