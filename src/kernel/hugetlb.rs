//! `MAP_HUGETLB` without a hugetlb pool: what `mmap(2)` answers when the
//! machine has no huge pages reserved (`vm.nr_hugepages` 0, the model's
//! only configuration). Followed: mm/mmap.c `ksys_mmap_pgoff` (6.12),
//! mm/hugetlb.c `hstate_sizelog` (include/linux/hugetlb.h),
//! fs/hugetlbfs/inode.c `hugetlb_file_setup`,
//! `generic_hugetlb_get_unmapped_area`, `prepare_hugepage_range`,
//! `hugetlbfs_file_mmap` -> `hugetlb_reserve_pages` -> `hugetlb_acct_memory`.
//!
//! Simplification: the model has no hugetlbfs and maps no huge pages, so
//! `MAP_HUGETLB` never creates a mapping. Without `MAP_NORESERVE` that is
//! Linux's answer too (the reservation fails, `-ENOMEM`); with
//! `MAP_NORESERVE` Linux makes the mapping and its first fault gets
//! `SIGBUS`, which the model does not follow (it answers `-ENOMEM`).

use crate::arch::x86_64::TASK_SIZE;
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mmap::{MAP_FIXED, MAP_FIXED_NOREPLACE};
use crate::kernel::{Kernel, Pid};

/// `MAP_HUGE_SHIFT` / `MAP_HUGE_MASK` (include/uapi/asm-generic/hugetlb_encode.h).
pub const MAP_HUGE_SHIFT: u64 = 26;
pub const MAP_HUGE_MASK: u64 = 0x3f;

/// The huge page sizes (hstates) an x86-64 kernel registers: 2 MiB always,
/// 1 GiB when the CPU has `pdpe1gb` (the model's machine does, as this
/// machine does: /sys/kernel/mm/hugepages/ has both).
const HSTATE_SHIFTS: [u64; 2] = [21, 30];
/// `default_hstate`: 2 MiB (`HPAGE_SHIFT`).
const DEFAULT_HSTATE_SHIFT: u64 = 21;

/// `hstate_sizelog()`: the hstate a `MAP_HUGE_*` size names, as its shift.
fn hstate_sizelog(page_size_log: u64) -> Option<u64> {
    if page_size_log == 0 {
        return Some(DEFAULT_HSTATE_SHIFT);
    }
    HSTATE_SHIFTS.contains(&page_size_log).then_some(page_size_log)
}

impl Kernel {
    /// The anonymous `MAP_HUGETLB` branch of `ksys_mmap_pgoff()` and what
    /// follows in `do_mmap()`: always an error here (see the module doc).
    pub fn mmap_hugetlb_anon(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        len: u64,
        flags: u64,
    ) -> KResult<u64> {
        // hstate_sizelog((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK): -EINVAL.
        let shift = hstate_sizelog((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK).ok_or(Errno::EINVAL)?;
        let hsize = 1u64 << shift;
        // len = ALIGN(len, huge_page_size(hs)) (wraps to 0 near the top);
        // hugetlb_file_setup(..., VM_NORESERVE, ...) reserves nothing.
        let len = len.wrapping_add(hsize - 1) & !(hsize - 1);
        // do_mmap(): `if (!len) return -EINVAL;`
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        // __get_unmapped_area(): `if (len > TASK_SIZE) return -ENOMEM;`
        if len > TASK_SIZE {
            return Err(Errno::ENOMEM);
        }
        // generic_hugetlb_get_unmapped_area(): MAP_FIXED (MAP_FIXED_NOREPLACE
        // sets it in do_mmap) goes to prepare_hugepage_range(), -EINVAL for
        // an address or length that is not huge-page aligned.
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            if addr & (hsize - 1) != 0 {
                return Err(Errno::EINVAL);
            }
            // __get_unmapped_area(): `if (addr > TASK_SIZE - len) return -ENOMEM;`
            if addr > TASK_SIZE - len {
                return Err(Errno::ENOMEM);
            }
            // do_mmap(): MAP_FIXED_NOREPLACE over a mapping.
            if flags & MAP_FIXED_NOREPLACE != 0 && self.mm(pid)?.overlaps(addr, addr + len) {
                return Err(Errno::EEXIST);
            }
        }
        // A MAP_FIXED over mappings: __mmap_region() (mm/vma.c) gathers
        // them (a seal is -EPERM there, nothing changed), clears their
        // PTEs before call_mmap() (vms_clean_up_area, the new VMA has a
        // file), and when the file's mmap fails, vms_abort_munmap_vmas()
        // "resort[s] to the old failure method of leaving a gap where the
        // MAP_FIXED mapping failed": the old mappings are gone.
        // Simplification: the RLIMIT_AS check between the two (which
        // would leave them split instead) is not made here.
        if flags & MAP_FIXED != 0 && flags & MAP_FIXED_NOREPLACE == 0 {
            self.do_munmap(hv, pid, addr, len)?;
        }
        // hugetlbfs_file_mmap() -> hugetlb_reserve_pages() ->
        // hugetlb_acct_memory(): no free huge pages in the pool, -ENOMEM.
        Err(Errno::ENOMEM)
    }
}
