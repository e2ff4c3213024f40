//! mseal(2): seal VMAs against changes of their layout and protections.
//!
//! Follows `mm/mseal.c` of Linux 6.18 (`do_mseal`,
//! `range_contains_unmapped`, `mseal_apply`). What a seal refuses is
//! checked where the kernel checks it: munmap/MAP_FIXED
//! (`vms_gather_munmap_vmas`, mmap.rs), mprotect (`mprotect_fixup`,
//! mprotect.rs), mremap (`check_prep_vma`, mremap.rs) and discarding
//! madvise on read-only anonymous memory (`can_madvise_modify`,
//! madvise.rs). mlock/munlock and non-discarding advice stay allowed.

use crate::arch::x86_64::PAGE_MASK;
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mlock::page_align_wrapping;
use crate::kernel::mm_types::VmFlags;
use crate::kernel::{Kernel, Pid};

impl Kernel {
    /// `range_contains_unmapped()`: is any page of `[start, end)` outside
    /// every VMA?
    pub fn range_contains_unmapped(&self, pid: Pid, start: u64, end: u64) -> KResult<bool> {
        let mut prev_end = start;
        for v in self.mm(pid)?.vmas_in(start, end) {
            if v.start > prev_end {
                return Ok(true);
            }
            prev_end = v.end;
        }
        Ok(prev_end < end)
    }

    /// `mseal_apply()`: set VM_SEALED on every VMA of `[start, end)`,
    /// splitting at the edges and merging as `vma_modify_flags()` does.
    fn mseal_apply(&mut self, pid: Pid, start: u64, end: u64) -> KResult<()> {
        self.vma_modify_flags_range(pid, start, end, |v| Ok(v.flags | VmFlags::SEALED))
    }

    /// mseal(2) (`do_mseal`): `flags` (an unsigned long) must be 0.
    pub fn sys_mseal(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len_in: u64, flags: u64) -> KResult<u64> {
        if flags != 0 {
            return Err(Errno::EINVAL);
        }
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_wrapping(len_in);
        // len rounded up from a small negative value to zero.
        if len_in != 0 && len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::EINVAL);
        }
        if end == start {
            return Ok(0);
        }
        self.proc_ref(pid)?;
        if self.range_contains_unmapped(pid, start, end)? {
            return Err(Errno::ENOMEM);
        }
        // The splits' vm_area_dup() (kernel/slab.rs).
        let splits = self.vm_area_splits(pid, start, end);
        self.with_vm_area_objs(hv, pid, splits, |k, _| k.mseal_apply(pid, start, end))?;
        Ok(0)
    }
}
