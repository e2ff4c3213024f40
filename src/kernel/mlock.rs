//! mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2), and the
//! population of locked ranges.
//!
//! Follows `mm/mlock.c` of Linux 6.18 (`do_mlock`, `apply_vma_lock_flags`,
//! `mlock_fixup`, `count_mm_mlocked_page_nr`, `apply_mlockall_flags`,
//! `__mlock_posix_error_return`) and `mm/gup.c` (`__mm_populate`,
//! `populate_vma_page_range`).
//! Simplifications: pages are not individually marked PG_mlocked and no LRU
//! is modelled (VM_LOCKED/VM_LOCKONFAULT and `mm->locked_vm` carry the
//! state); there is no hugetlb, DAX, secretmem or gate VMA.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, PteFlags, TASK_SIZE};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::access::PteEntry;
use crate::kernel::memory::VmFault;
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};

crate::uapi::uapi_family! {
    /// `MLOCK_*` (include/uapi/asm-generic/mman-common.h).
    pub static MLOCK_FAMILY: Flags "MLOCK_", u64 {
        MLOCK_ONFAULT = 0x01,
    }
}

crate::uapi::uapi_family! {
    /// `MCL_*` (arch/x86 uses include/uapi/asm-generic/mman.h).
    pub static MCL_FAMILY: Flags "MCL_", u64 {
        MCL_CURRENT = 1,
        MCL_FUTURE = 2,
        MCL_ONFAULT = 4,
    }
}

/// `PAGE_ALIGN()` on an unsigned long: wraps to 0 near the top, as in C.
pub fn page_align_wrapping(x: u64) -> u64 {
    x.wrapping_add(PAGE_SIZE - 1) & PAGE_MASK
}

impl Kernel {
    /// One GUP-style fault-in of `[start, end)` inside `vma`: every page gets
    /// a PTE that allows the access (`__get_user_pages` with FOLL_TOUCH and
    /// no pages returned). Stops at the first page that cannot be faulted:
    /// SIGSEGV/SIGBUS are `EFAULT`, OOM is `ENOMEM` (`faultin_page`).
    /// Follows `mm/gup.c` (`__get_user_pages`, `follow_page_pte`,
    /// `faultin_page`).
    pub fn faultin_vma_range(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
        write: bool,
    ) -> KResult<()> {
        let mut addr = start & PAGE_MASK;
        while addr < end {
            let mut done = false;
            for _ in 0..4 {
                let pgd = self.mm(pid)?.pgd;
                if let Some(PteEntry { slot, pte, kind: PteKind::Present { protnone: false, write: w, .. }, .. }) =
                    self.pte_entry(pgd, addr)
                    && (!write || w)
                {
                    // FOLL_TOUCH: mark young (and dirty for a write).
                    let mut n = pte.set(PteFlags::ACCESSED);
                    if write {
                        n = n.set(PteFlags::DIRTY);
                    }
                    if n != pte {
                        self.pt.set(slot, n);
                    }
                    done = true;
                    break;
                }
                match self.handle_mm_fault(hv, pid, vma, addr, write) {
                    Ok(()) => {}
                    Err(VmFault::Oom) => return Err(Errno::ENOMEM),
                    Err(_) => return Err(Errno::EFAULT),
                }
                if matches!(self.pte_entry(pgd, addr).map(|e| e.kind), Some(PteKind::Present { protnone: true, .. })) {
                    // A PROT_NONE VMA gets a PROT_NONE PTE: FOLL_FORCE
                    // reads accept it.
                    done = true;
                    break;
                }
            }
            if !done {
                return Err(Errno::EFAULT);
            }
            addr += PAGE_SIZE;
        }
        Ok(())
    }

    /// `populate_vma_page_range()`: fault in `[start, end)` of `vma` as
    /// mlock/MAP_POPULATE do.
    pub fn populate_vma_page_range(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
    ) -> KResult<()> {
        // "Rightly or wrongly, the VM_LOCKONFAULT case has never used
        // faultin_page() to break COW, so it has no work to do here."
        if vma.flags.contains(VmFlags::LOCKONFAULT) {
            return Ok(());
        }
        // "... similarly, we've never faulted in PROT_NONE pages"
        if !vma.flags.intersects(VmFlags::ACCESS) {
            return Err(Errno::EFAULT);
        }
        // Private writable: write faults to break COW; otherwise a read
        // (FOLL_FORCE lets write-only and exec-only VMAs be read).
        let write = vma.flags & (VmFlags::WRITE | VmFlags::SHARED) == VmFlags::WRITE;
        if vma.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
            return Err(Errno::EFAULT);
        }
        self.faultin_vma_range(hv, pid, vma, start, end, write)
    }

    /// `__mm_populate()`: populate every VMA intersecting
    /// `[start, start + len)`; with `ignore_errors` a failing VMA is skipped.
    pub fn mm_populate_range(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        start: u64,
        len: u64,
        ignore_errors: bool,
    ) -> KResult<()> {
        let end = start.saturating_add(len);
        let mut nstart = start;
        while nstart < end {
            let Some(vma) = self.mm(pid)?.find_vma(nstart).filter(|v| v.start < end).cloned() else { break };
            let nend = end.min(vma.end);
            if !vma.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
                let s = nstart.max(vma.start);
                if let Err(e) = self.populate_vma_page_range(hv, pid, &vma, s, nend)
                    && !ignore_errors
                {
                    return Err(e);
                }
            }
            nstart = nend;
        }
        Ok(())
    }

    /// `mlock_fixup()`: give `[start, end)` of the VMA at `vma_start` the
    /// lock flags in `newflags`, keeping `mm->locked_vm` in step.
    fn mlock_fixup(&mut self, pid: Pid, vma_start: u64, start: u64, end: u64, newflags: VmFlags) -> KResult<()> {
        let Some(vma) = self.mm(pid)?.vmas.get(&vma_start).cloned() else { return Ok(()) };
        let oldflags = vma.flags;
        // VM_SPECIAL and VM_DROPPABLE VMAs are never locked or counted.
        if newflags == oldflags || oldflags.intersects(VmFlags::SPECIAL | VmFlags::HUGETLB | VmFlags::DROPPABLE) {
            return Ok(());
        }
        self.vma_modify_flags_range(pid, start, end, |_| Ok(newflags))?;
        let pages = ((end - start) >> 12) as i64;
        let nr = if !newflags.contains(VmFlags::LOCKED) {
            -pages
        } else if oldflags.contains(VmFlags::LOCKED) {
            0
        } else {
            pages
        };
        let mm = self.mm_mut(pid)?;
        mm.locked_vm = (mm.locked_vm as i64 + nr).max(0) as u64;
        Ok(())
    }

    /// `apply_vma_lock_flags()`: set `flags` (a subset of VM_LOCKED_MASK)
    /// on every VMA of `[start, start + len)`; a hole is `ENOMEM` after the
    /// VMAs before it were changed.
    fn apply_vma_lock_flags(&mut self, pid: Pid, start: u64, len: u64, flags: VmFlags) -> KResult<()> {
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::EINVAL);
        }
        if end == start {
            return Ok(());
        }
        // vma_iter_load(): the VMA containing start, or nothing.
        let Some(first) = self.mm(pid)?.vma_at(start) else { return Err(Errno::ENOMEM) };
        let mut tmp = first.start;
        let mut nstart = start;
        for vs in self.mm(pid)?.starts_in(start, end) {
            let Some(v) = self.mm(pid)?.vmas.get(&vs).cloned() else { continue };
            if v.start != tmp {
                return Err(Errno::ENOMEM);
            }
            let newflags = v.flags.difference(VmFlags::LOCKED_MASK) | flags;
            tmp = v.end.min(end);
            self.mlock_fixup(pid, v.start, nstart, tmp, newflags)?;
            // vma_iter_end(): the end of the VMA now holding nstart.
            tmp = self.mm(pid)?.vma_at(nstart).map_or(tmp, |m| m.end);
            nstart = tmp;
        }
        if tmp < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `count_mm_mlocked_page_nr()`: pages of `[start, start + len)` already
    /// in VM_LOCKED VMAs.
    fn count_mm_mlocked_page_nr(&self, pid: Pid, start: u64, len: u64) -> KResult<u64> {
        let end = start.saturating_add(len);
        let mut count: i64 = 0;
        for v in self.mm(pid)?.vmas_in(start, end) {
            if v.flags.contains(VmFlags::LOCKED) {
                if start > v.start {
                    count -= (start - v.start) as i64;
                }
                if end < v.end {
                    count += (end - v.start) as i64;
                    break;
                }
                count += (v.end - v.start) as i64;
            }
        }
        Ok((count.max(0) as u64) >> 12)
    }

    /// `do_mlock()`.
    fn do_mlock(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, flags: VmFlags) -> KResult<u64> {
        if !self.can_do_mlock(pid)? {
            return Err(Errno::EPERM);
        }
        let len = page_align_wrapping(len.wrapping_add(start & !PAGE_MASK));
        let start = start & PAGE_MASK;
        let p = self.proc_ref(pid)?;
        let lock_limit = p.rlimits.memlock.cur >> 12;
        let cap = p.capable();
        let mut locked = (len >> 12) + p.mm.locked_vm;
        if locked > lock_limit && !cap {
            locked = locked.saturating_sub(self.count_mm_mlocked_page_nr(pid, start, len)?);
        }
        if locked > lock_limit && !cap {
            return Err(Errno::ENOMEM);
        }
        // The splits' vm_area_dup() (kernel/slab.rs).
        let splits = self.vm_area_splits(pid, start, start.saturating_add(len));
        self.vm_area_alloc(hv, pid, splits)?;
        let r = self.apply_vma_lock_flags(pid, start, len, flags);
        self.vm_area_cache_shrink();
        r?;
        match self.mm_populate_range(hv, pid, start, len, false) {
            Ok(()) => Ok(0),
            // __mlock_posix_error_return()
            Err(Errno::EFAULT) => Err(Errno::ENOMEM),
            Err(Errno::ENOMEM) => Err(Errno::EAGAIN),
            Err(e) => Err(e),
        }
    }

    /// mlock(2) (mm/mlock.c).
    pub fn sys_mlock(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64) -> KResult<u64> {
        self.do_mlock(hv, pid, start, len, VmFlags::LOCKED)
    }

    /// mlock2(2) (mm/mlock.c): `flags` is an `int`; only MLOCK_ONFAULT.
    pub fn sys_mlock2(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, flags: u64) -> KResult<u64> {
        let flags = flags as u32 as u64;
        if flags & !MLOCK_ONFAULT != 0 {
            return Err(Errno::EINVAL);
        }
        let mut vm = VmFlags::LOCKED;
        if flags & MLOCK_ONFAULT != 0 {
            vm |= VmFlags::LOCKONFAULT;
        }
        self.do_mlock(hv, pid, start, len, vm)
    }

    /// munlock(2) (mm/mlock.c): no permission or limit checks.
    pub fn sys_munlock(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64) -> KResult<u64> {
        let len = page_align_wrapping(len.wrapping_add(start & !PAGE_MASK));
        let start = start & PAGE_MASK;
        let splits = self.vm_area_splits(pid, start, start.saturating_add(len));
        self.with_vm_area_objs(hv, pid, splits, |k, _| k.apply_vma_lock_flags(pid, start, len, VmFlags::empty()))?;
        Ok(0)
    }

    /// `apply_mlockall_flags()`: `mm->def_flags` for MCL_FUTURE, and every
    /// VMA for MCL_CURRENT (errors on single VMAs are ignored).
    fn apply_mlockall_flags(&mut self, pid: Pid, flags: u64) -> KResult<()> {
        let mm = self.mm_mut(pid)?;
        mm.def_flags.remove(VmFlags::LOCKED_MASK);
        if flags & MCL_FUTURE != 0 {
            mm.def_flags |= VmFlags::LOCKED;
            if flags & MCL_ONFAULT != 0 {
                mm.def_flags |= VmFlags::LOCKONFAULT;
            }
            if flags & MCL_CURRENT == 0 {
                return Ok(());
            }
        }
        let mut to_add = VmFlags::empty();
        if flags & MCL_CURRENT != 0 {
            to_add |= VmFlags::LOCKED;
            if flags & MCL_ONFAULT != 0 {
                to_add |= VmFlags::LOCKONFAULT;
            }
        }
        let mut addr = 0u64;
        while let Some(v) = self.mm(pid)?.find_vma(addr).cloned() {
            let newflags = v.flags.difference(VmFlags::LOCKED_MASK) | to_add;
            let _ = self.mlock_fixup(pid, v.start, v.start, v.end, newflags);
            addr = v.end;
        }
        Ok(())
    }

    /// mlockall(2) (mm/mlock.c): `flags` is an `int`.
    pub fn sys_mlockall(&mut self, hv: &mut Hypervisor, pid: Pid, flags: u64) -> KResult<u64> {
        let flags = flags as u32 as u64;
        if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT {
            return Err(Errno::EINVAL);
        }
        if !self.can_do_mlock(pid)? {
            return Err(Errno::EPERM);
        }
        let p = self.proc_ref(pid)?;
        let lock_limit = p.rlimits.memlock.cur >> 12;
        if flags & MCL_CURRENT != 0 && p.mm.total_vm > lock_limit && !p.capable() {
            return Err(Errno::ENOMEM);
        }
        let r = self.apply_mlockall_flags(pid, flags);
        self.vm_area_cache_shrink();
        r?;
        if flags & MCL_CURRENT != 0 {
            // mm_populate(0, TASK_SIZE) ignores errors.
            let _ = self.mm_populate_range(hv, pid, 0, TASK_SIZE, true);
        }
        Ok(0)
    }

    /// munlockall(2) (mm/mlock.c).
    pub fn sys_munlockall(&mut self, _hv: &mut Hypervisor, pid: Pid) -> KResult<u64> {
        let r = self.apply_mlockall_flags(pid, 0);
        self.vm_area_cache_shrink();
        r?;
        Ok(0)
    }
}
