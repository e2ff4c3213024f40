//! msync(2).
//!
//! Follows `mm/msync.c` of Linux 6.18 (`SYSCALL_DEFINE3(msync)`).
//! Simplification: the model's files are shmem (tmpfs/memfd/shared
//! anonymous), whose `fsync` is `noop_fsync`, so MS_SYNC writes nothing
//! back; a device file has no `fsync` (`vfs_fsync_range` is `EINVAL`).
//! MS_INVALIDATE is a no-op beyond its EBUSY check, as in Linux.

use crate::arch::x86_64::PAGE_MASK;
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mlock::page_align_wrapping;
use crate::kernel::mm_types::{VmFlags, VmaFile};
use crate::kernel::{Kernel, Pid};

crate::uapi::uapi_family! {
    /// `MS_*` (include/uapi/asm-generic/mman-common.h).
    pub static MS_FAMILY: Flags "MS_", u64 {
        MS_ASYNC = 1,
        MS_INVALIDATE = 2,
        MS_SYNC = 4,
    }
}

impl Kernel {
    /// msync(2): `flags` is an `int`. Holes are skipped and reported as
    /// `ENOMEM` at the end (at once for a plain MS_ASYNC).
    pub fn sys_msync(&mut self, _hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, flags: u64) -> KResult<u64> {
        let flags = flags as u32 as u64;
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
            return Err(Errno::EINVAL);
        }
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_wrapping(len);
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::ENOMEM);
        }
        if end == start {
            return Ok(0);
        }
        let mut start = start;
        let mut unmapped_error = None;
        let mut vma = self.mm(pid)?.find_vma(start).cloned();
        loop {
            let Some(v) = vma else { return Err(Errno::ENOMEM) };
            if start < v.start {
                if flags == MS_ASYNC {
                    return Err(Errno::ENOMEM);
                }
                start = v.start;
                if start >= end {
                    return Err(Errno::ENOMEM);
                }
                unmapped_error = Some(Errno::ENOMEM);
            }
            if flags & MS_INVALIDATE != 0 && v.flags.contains(VmFlags::LOCKED) {
                return Err(Errno::EBUSY);
            }
            start = v.end;
            if flags & MS_SYNC != 0 && v.file.is_some() && v.flags.contains(VmFlags::SHARED) {
                // vfs_fsync_range(): shmem has noop_fsync; a character
                // device has no ->fsync.
                if matches!(v.file, Some(VmaFile::Device { .. })) {
                    return Err(Errno::EINVAL);
                }
            }
            if start >= end {
                return match unmapped_error {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
            vma = self.mm(pid)?.find_vma(start).cloned();
        }
    }
}
