//! mincore(2): which pages of a range are resident.
//!
//! Follows `mm/mincore.c` of Linux 6.18 (`SYSCALL_DEFINE3(mincore)`,
//! `do_mincore`, `mincore_pte_range`, `__mincore_unmapped_range`,
//! `mincore_page`) and x86's `access_ok()`.
//! A present PTE (PROT_NONE included) is resident. An empty PTE, or a guard
//! marker (`pte_none_mostly`), is looked up in the page cache of the VMA's
//! file: a shmem page is resident even when this process does not map it;
//! anonymous memory without a PTE is not. Simplifications: no swap, so no
//! swap-cache lookups; `can_do_mincore()` is always true (the model's files
//! belong to the caller); a non-present PTE that is neither empty nor a
//! guard marker (the model never makes one) reads as not resident.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, TASK_SIZE};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mm_types::VmaFile;
use crate::kernel::{Kernel, Pid};

/// x86 `__access_ok()` for a runtime size: `ptr + size` neither wraps nor
/// passes `USER_PTR_MAX` (`TASK_SIZE_MAX` with 4-level paging).
pub fn access_ok(ptr: u64, size: u64) -> bool {
    ptr.checked_add(size).is_some_and(|sum| sum <= TASK_SIZE)
}

impl Kernel {
    /// `do_mincore()`: the residency of up to `pages` pages from `addr`,
    /// within the one VMA containing `addr`.
    fn do_mincore(&self, pid: Pid, addr: u64, pages: u64) -> KResult<Vec<u8>> {
        let mm = self.mm(pid)?;
        let vma = mm.vma_at(addr).ok_or(Errno::ENOMEM)?;
        let end = vma.end.min(addr.saturating_add(pages.saturating_mul(PAGE_SIZE)));
        let n = ((end - addr) >> 12) as usize;
        let mut vec = vec![0u8; n];
        // __mincore_unmapped_range(): the page cache of the file.
        if let Some(VmaFile::Shmem { inode }) = vma.file
            && let Some(ino) = self.shmem.get(inode)
        {
            let first = vma.linear_index(addr);
            for (&idx, _) in ino.pages.range(first..first + n as u64) {
                vec[(idx - first) as usize] = 1;
            }
        }
        for e in self.pte_entries(mm.pgd, addr, end) {
            let i = ((e.addr - addr) >> 12) as usize;
            if e.kind.is_none_mostly() {
                continue; // pte_none_mostly(): page-cache answer stands
            }
            // Present: 1; a swap entry: 0 (no swap in the model).
            vec[i] = u8::from(e.kind.is_present());
        }
        Ok(vec)
    }

    /// The argument checks of mincore(2) before any VMA is looked at:
    /// returns the number of pages.
    fn mincore_check(start: u64, len: u64) -> KResult<u64> {
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if !access_ok(start, len) {
            return Err(Errno::ENOMEM);
        }
        Ok((len >> 12) + u64::from(len & !PAGE_MASK != 0))
    }

    /// mincore(2) returning the vector (one byte per page, bit 0 =
    /// resident) instead of writing it to user memory.
    pub fn sys_mincore(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64) -> KResult<Vec<u8>> {
        self.sys_mincore_limited(hv, pid, start, len, u64::MAX).map(|v| v.unwrap_or_default())
    }

    /// [`Kernel::sys_mincore`] that stops once the vector would hold more
    /// than `limit` bytes (`Ok(None)`): the kernel's own errors still come
    /// first (an unmapped range is ENOMEM whatever its length).
    pub fn sys_mincore_limited(
        &mut self,
        _hv: &mut Hypervisor,
        pid: Pid,
        start: u64,
        len: u64,
        limit: u64,
    ) -> KResult<Option<Vec<u8>>> {
        let mut pages = Self::mincore_check(start, len)?;
        let mut out = Vec::new();
        let mut addr = start;
        while pages > 0 {
            if out.len() as u64 > limit {
                return Ok(None);
            }
            let chunk = self.do_mincore(pid, addr, pages.min(PAGE_SIZE))?;
            let got = chunk.len() as u64;
            out.extend_from_slice(&chunk);
            pages -= got;
            addr += got << 12;
        }
        Ok((out.len() as u64 <= limit).then_some(out))
    }

    /// mincore(2) as the syscall: the vector goes to user memory at `vec`
    /// (`copy_to_user` per chunk of at most PAGE_SIZE entries; a fault is
    /// `EFAULT`, earlier chunks stay written).
    pub fn sys_mincore_user(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, vec: u64) -> KResult<u64> {
        let mut pages = Self::mincore_check(start, len)?;
        if !access_ok(vec, pages) {
            return Err(Errno::EFAULT);
        }
        let mut addr = start;
        let mut dst = vec;
        while pages > 0 {
            let chunk = self.do_mincore(pid, addr, pages.min(PAGE_SIZE))?;
            let got = chunk.len() as u64;
            self.user_write(hv, pid, dst, &chunk).map_err(|_| Errno::EFAULT)?;
            pages -= got;
            addr += got << 12;
            dst += got;
        }
        Ok(0)
    }
}
