//! mremap(2): shrink, grow (in place or by moving), move to a fixed
//! address, move several VMAs at once, and MREMAP_DONTUNMAP.
//!
//! Follows `mm/mremap.c` of Linux 6.18 (`do_mremap`,
//! `check_mremap_params`, `check_prep_vma`, `remap_move`, `mremap_to`,
//! `mremap_at`, `expand_vma`, `vma_expandable`, `move_vma`,
//! `prep_move_vma`, `copy_vma_and_data`, `move_page_tables`,
//! `dontunmap_complete`, `unmap_source_vma`,
//! `__check_map_count_against_split`) and `mm/vma.c` (`copy_vma`).
//! PTEs move with their pages: a page keeps its identity, mapcount and
//! contents. A faulted anonymous VMA keeps its `vm_pgoff` when moved (its
//! pages' index stays valid), so it merges at the new place only with a
//! neighbour whose pgoff and anon_vma line up; an unfaulted one takes
//! `new_addr >> PAGE_SHIFT` (`copy_vma`).
//! Simplifications: no hugetlb, no userfaultfd; no KSM pages to unmerge; drivers have
//! no `vm_ops->mremap`.

use crate::arch::x86_64::{PAGE_MASK, TASK_SIZE};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mlock::page_align_wrapping;
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile, VmaTag};
use crate::kernel::mmap::MAP_FIXED;
use crate::kernel::oom_kill::GFP_PGTABLE_USER_ALLOC;
use crate::kernel::pte::pte_present;
use crate::kernel::{Kernel, Pid};

crate::uapi::uapi_family! {
    /// `MREMAP_*` (include/uapi/linux/mman.h).
    pub static MREMAP_FAMILY: Flags "MREMAP_", u64 {
        MREMAP_MAYMOVE = 1,
        MREMAP_FIXED = 2,
        MREMAP_DONTUNMAP = 4,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RemapType {
    NoResize,
    Shrink,
    Expand,
}

/// `struct vma_remap_struct`: one mremap request as it is worked on.
#[derive(Clone, Debug)]
struct Vrm {
    addr: u64,
    old_len: u64,
    new_len: u64,
    flags: u64,
    new_addr: u64,
    delta: u64,
    remap_type: RemapType,
    populate_expand: bool,
}

impl Vrm {
    /// `vrm_implies_new_addr()`.
    fn implies_new_addr(&self) -> bool {
        self.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
    }
    /// `vrm_overlaps()`.
    fn overlaps(&self) -> bool {
        let (so, eo) = (self.addr, self.addr.wrapping_add(self.old_len));
        let (sn, en) = (self.new_addr, self.new_addr.wrapping_add(self.new_len));
        eo > sn && en > so
    }
    /// `vrm_move_only()`.
    fn move_only(&self) -> bool {
        self.flags & MREMAP_FIXED != 0 && self.old_len == self.new_len
    }
}

impl Kernel {
    /// mremap(2) (`do_mremap`). `flags` is an unsigned long.
    #[allow(clippy::too_many_arguments)] // the syscall's five, plus the kernel, Xen and the caller
    pub fn sys_mremap(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
        new_addr: u64,
    ) -> KResult<u64> {
        let mut vrm = Vrm {
            addr,
            old_len: page_align_wrapping(old_len),
            new_len: page_align_wrapping(new_len),
            flags,
            new_addr,
            delta: 0,
            remap_type: RemapType::NoResize,
            populate_expand: false,
        };
        Self::check_mremap_params(&vrm)?;
        let mm = self.mm(pid)?;
        // check_map_count_against_split_early(): two splits before the
        // unmaps plus two for the move itself.
        if mm.map_count() + 4 > mm.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let res = if vrm.move_only() {
            self.remap_move(hv, pid, &mut vrm)
        } else {
            let vma = self.mm(pid)?.vma_at(vrm.addr).cloned();
            match self.check_prep_vma(pid, &mut vrm, vma.as_ref()) {
                Err(e) => Err(e),
                Ok(()) if vrm.implies_new_addr() => self.mremap_to(hv, pid, &mut vrm),
                Ok(()) => self.mremap_at(hv, pid, &mut vrm),
            }
        };
        // Objects freed by merges go back (kernel/slab.rs).
        self.vm_area_cache_shrink();
        if res.is_ok() && vrm.populate_expand {
            // mm_populate() of the grown part of a locked VMA.
            let _ = self.mm_populate_range(hv, pid, vrm.new_addr + vrm.old_len, vrm.delta, true);
        }
        res
    }

    /// `check_mremap_params()`: the checks before any VMA is looked at.
    fn check_mremap_params(vrm: &Vrm) -> KResult<()> {
        if vrm.flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.addr & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        // A zero old_len duplicates a shared mapping; a zero new_len is
        // nonsensical.
        if vrm.new_len == 0 || vrm.new_len > TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        if !vrm.implies_new_addr() {
            return Ok(());
        }
        if vrm.new_addr > TASK_SIZE - vrm.new_len || vrm.new_addr & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_DONTUNMAP != 0 && vrm.old_len != vrm.new_len {
            return Err(Errno::EINVAL);
        }
        if vrm.overlaps() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// `check_prep_vma()`: the checks that need the source VMA.
    fn check_prep_vma(&self, pid: Pid, vrm: &mut Vrm, vma: Option<&Vma>) -> KResult<()> {
        let vma = vma.ok_or(Errno::EFAULT)?;
        if vma.flags.contains(VmFlags::SEALED) {
            return Err(Errno::EPERM);
        }
        vrm.delta = vrm.old_len.abs_diff(vrm.new_len);
        vrm.remap_type = if vrm.delta == 0 {
            RemapType::NoResize
        } else if vrm.old_len > vrm.new_len {
            RemapType::Shrink
        } else {
            RemapType::Expand
        };
        if !vrm.implies_new_addr() {
            vrm.new_addr = vrm.addr;
        }
        // vrm_will_map_new()
        if vrm.remap_type != RemapType::Expand && !vrm.implies_new_addr() {
            return Ok(());
        }
        if vrm.old_len == 0 && !vma.flags.intersects(VmFlags::SHARED | VmFlags::MAYSHARE) {
            return Err(Errno::EINVAL);
        }
        if vrm.flags & MREMAP_DONTUNMAP != 0 && vma.flags.intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP) {
            return Err(Errno::EINVAL);
        }
        // A shrink may unmap across VMA boundaries; what moves may not.
        let old_len = if vrm.remap_type == RemapType::Shrink { vrm.new_len } else { vrm.old_len };
        if old_len > vma.end - vrm.addr {
            return Err(Errno::EFAULT);
        }
        if vrm.new_len == old_len {
            return Ok(());
        }
        if vma.flags.contains(VmFlags::LOCKED) {
            vrm.populate_expand = true;
        }
        let pgoff = ((vrm.addr - vma.start) >> 12) + vma.pgoff;
        if pgoff.checked_add(vrm.new_len >> 12).is_none() {
            return Err(Errno::EINVAL);
        }
        if vma.flags.intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP) {
            return Err(Errno::EFAULT);
        }
        if !self.mlock_future_ok(pid, vma.flags & VmFlags::LOCKED, vrm.delta)? {
            return Err(Errno::EAGAIN);
        }
        if !self.may_expand_vm(pid, vma.flags, vrm.delta >> 12)? {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `remap_move()`: MREMAP_FIXED without resizing may move every VMA of
    /// `[addr, addr + old_len)`, keeping the gaps between them.
    fn remap_move(&mut self, hv: &mut Hypervisor, pid: Pid, vrm: &mut Vrm) -> KResult<u64> {
        let start = vrm.addr;
        let end = vrm.addr + vrm.old_len;
        let mut target = vrm.new_addr;
        let mut res = Err(Errno::EFAULT);
        let mut seen = false;
        let mut last_end = 0;
        let mut cursor = start;
        while let Some(vma) = self.mm(pid)?.find_vma(cursor).filter(|v| v.start < end).cloned() {
            let addr = vma.start.max(start);
            let len = end.min(vma.end) - addr;
            // No gap is permitted at the start of the range.
            if !seen && start < vma.start {
                return Err(Errno::EFAULT);
            }
            let offset = if seen { vma.start - last_end } else { 0 };
            last_end = vma.end;
            let mut sub = Vrm { addr, old_len: len, new_len: len, new_addr: target + offset, ..vrm.clone() };
            // vma_multi_allowed() holds for every VMA of the model (no
            // userfaultfd, no custom get_unmapped_area).
            self.check_prep_vma(pid, &mut sub, Some(&vma))?;
            let r = self.mremap_to(hv, pid, &mut sub)?;
            if !seen {
                res = Ok(r);
            }
            seen = true;
            target = r + len;
            cursor = vma.end;
        }
        res
    }

    /// `mremap_to()`: move (and maybe shrink) to `vrm.new_addr`.
    fn mremap_to(&mut self, hv: &mut Hypervisor, pid: Pid, vrm: &mut Vrm) -> KResult<u64> {
        if vrm.flags & MREMAP_FIXED != 0 {
            // Like MAP_FIXED: whatever is at the target goes (seals apply).
            self.do_munmap(hv, pid, vrm.new_addr, vrm.new_len)?;
            if self.mm(pid)?.vma_at(vrm.addr).is_none() {
                return Err(Errno::EFAULT);
            }
        }
        if vrm.remap_type == RemapType::Shrink {
            self.do_munmap(hv, pid, vrm.addr + vrm.new_len, vrm.delta)?;
            if self.mm(pid)?.vma_at(vrm.addr).is_none() {
                return Err(Errno::EFAULT);
            }
            vrm.old_len = vrm.new_len;
        }
        let vma = self.mm(pid)?.vma_at(vrm.addr).cloned().ok_or(Errno::EFAULT)?;
        if vrm.flags & MREMAP_DONTUNMAP != 0 && !self.may_expand_vm(pid, vma.flags, vrm.old_len >> 12)? {
            return Err(Errno::ENOMEM);
        }
        self.vrm_set_new_addr(pid, vrm, &vma)?;
        self.move_vma(hv, pid, vrm)
    }

    /// `mremap_at()`: resize without a requested address.
    fn mremap_at(&mut self, hv: &mut Hypervisor, pid: Pid, vrm: &mut Vrm) -> KResult<u64> {
        match vrm.remap_type {
            RemapType::NoResize => Ok(vrm.addr),
            RemapType::Shrink => {
                self.do_munmap(hv, pid, vrm.addr + vrm.new_len, vrm.delta)?;
                Ok(vrm.addr)
            }
            RemapType::Expand => self.expand_vma(hv, pid, vrm),
        }
    }

    /// `expand_vma()`: grow in place if `[addr, addr + old_len)` ends the
    /// VMA and the space after it is free, else move (MREMAP_MAYMOVE).
    fn expand_vma(&mut self, hv: &mut Hypervisor, pid: Pid, vrm: &mut Vrm) -> KResult<u64> {
        let vma = self.mm(pid)?.vma_at(vrm.addr).cloned().ok_or(Errno::EFAULT)?;
        if vma.end - vrm.addr == vrm.old_len && self.vma_expandable(pid, &vma, vrm.delta)? {
            // expand_vma_in_place(): vrm_calc_charge(), vma_merge_extend()
            // + accounting.
            self.vrm_calc_charge(pid, vrm, &vma)?;
            let pages = vrm.delta >> 12;
            let mm = self.mm_mut(pid)?;
            if let Some(v) = mm.vmas.get_mut(&vma.start) {
                v.end += vrm.delta;
            }
            mm.stat_account(vma.flags, pages as i64);
            if vma.flags.contains(VmFlags::LOCKED) {
                mm.locked_vm += pages;
            }
            self.vma_merge_existing_range(pid, vma.start)?;
            return Ok(vrm.addr);
        }
        if vrm.flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        self.vrm_set_new_addr(pid, vrm, &vma)?;
        self.move_vma(hv, pid, vrm)
    }

    /// `vrm_calc_charge()`: an accounted VMA charges what it grows by, or
    /// its whole new length with MREMAP_DONTUNMAP.
    fn vrm_calc_charge(&mut self, pid: Pid, vrm: &Vrm, vma: &Vma) -> KResult<()> {
        if !vma.flags.contains(VmFlags::ACCOUNT) {
            return Ok(());
        }
        let charged = if vrm.flags & MREMAP_DONTUNMAP != 0 { vrm.new_len } else { vrm.delta };
        self.vm_enough_memory(pid, charged >> 12)
    }

    /// `vma_expandable()`.
    fn vma_expandable(&self, pid: Pid, vma: &Vma, delta: u64) -> KResult<bool> {
        let Some(end) = vma.end.checked_add(delta) else { return Ok(false) };
        if self.mm(pid)?.overlaps(vma.end, end) {
            return Ok(false);
        }
        Ok(self.get_unmapped_area(pid, vma.start, end - vma.start, false, MAP_FIXED).is_ok())
    }

    /// `vrm_set_new_addr()`: `get_unmapped_area()` with MAP_FIXED for
    /// MREMAP_FIXED, the request as a hint for MREMAP_DONTUNMAP alone.
    fn vrm_set_new_addr(&self, pid: Pid, vrm: &mut Vrm, vma: &Vma) -> KResult<()> {
        let hint = if vrm.implies_new_addr() { vrm.new_addr } else { 0 };
        let flags = if vrm.flags & MREMAP_FIXED != 0 { MAP_FIXED } else { 0 };
        let anon_private = vma.file.is_none() && !vma.flags.contains(VmFlags::MAYSHARE);
        vrm.new_addr = self.get_unmapped_area(pid, hint, vrm.new_len, anon_private, flags)?;
        Ok(())
    }

    /// `move_vma()`: copy the VMA to `new_addr`, move its PTEs, then unmap
    /// the source (or, for MREMAP_DONTUNMAP, leave it empty and unlocked).
    fn move_vma(&mut self, hv: &mut Hypervisor, pid: Pid, vrm: &mut Vrm) -> KResult<u64> {
        let vma = self.mm(pid)?.vma_at(vrm.addr).cloned().ok_or(Errno::EFAULT)?;
        // prep_move_vma(): room for the copy and the split of the source.
        let mm = self.mm(pid)?;
        if mm.map_count() + 2 > mm.max_map_count {
            return Err(Errno::ENOMEM);
        }
        self.vrm_calc_charge(pid, vrm, &vma)?;
        if let Some(ops) = &vma.ops {
            if vma.start != vrm.addr {
                ops.may_split(&vma, vrm.addr)?;
            }
            if vma.end != vrm.addr + vrm.old_len {
                ops.may_split(&vma, vrm.addr + vrm.old_len)?;
            }
        }
        // copy_vma(): the new VMA (merged later, once its PTEs are in).
        let mut nv = vma.clone();
        nv.start = vrm.new_addr;
        nv.end = vrm.new_addr + vrm.new_len;
        nv.pgoff = vma.pgoff + ((vrm.addr - vma.start) >> 12);
        if vma.is_anonymous() && vma.anon_vma.is_none() {
            nv.pgoff = vrm.new_addr >> 12;
        }
        if nv.tag == VmaTag::Heap {
            let mm = self.mm(pid)?;
            if !crate::kernel::mm::vma_is_initial_heap(mm, &nv) {
                nv.tag = VmaTag::None;
            }
        }
        // vm_area_dup() in copy_vma() (GFP_KERNEL: may OOM-kill; kernel/slab.rs).
        self.vm_area_alloc(hv, pid, 1)?;
        if let Some(VmaFile::Shmem { inode }) = nv.file {
            self.shmem_get(inode);
        }
        if let Some(ops) = &nv.ops {
            ops.open(&nv);
        }
        self.mm_mut(pid)?.insert(nv);
        // move_page_tables(): drivers mirroring the range hear first.
        self.mmu_notifier_invalidate(hv, pid, vrm.addr, vrm.addr + vrm.old_len);
        let moved = self.move_ptes(hv, pid, vrm.addr, vrm.new_addr, vrm.old_len);
        // vrm_stat_account() for the new range.
        let pages = vrm.new_len >> 12;
        let mm = self.mm_mut(pid)?;
        mm.stat_account(vma.flags, pages as i64);
        if vma.flags.contains(VmFlags::LOCKED) {
            mm.locked_vm += pages;
        }
        if let Err(done) = moved {
            // Move back what was moved, then unmap the new VMA instead.
            for (old, new) in done.into_iter().rev() {
                let _ = self.move_ptes(hv, pid, new, old, 4096);
            }
            let _ = self.do_munmap(hv, pid, vrm.new_addr, vrm.new_len);
            return Err(Errno::ENOMEM);
        }
        self.vma_merge_existing_range(pid, vrm.new_addr)?;
        if vrm.flags & MREMAP_DONTUNMAP != 0 {
            // dontunmap_complete(): the whole source VMA loses its lock
            // flags (locked_vm is left as it is); a fully moved VMA loses
            // its anon_vma.
            let whole = vrm.addr == vma.start && vrm.addr + vrm.old_len == vma.end;
            let mm = self.mm_mut(pid)?;
            if let Some(src) = mm.vma_at_mut(vrm.addr) {
                src.flags.remove(VmFlags::LOCKED_MASK);
                if whole && src.start == vma.start && src.end == vma.end {
                    src.anon_vma = None;
                }
            }
        } else {
            // unmap_source_vma(): best effort; a zero old_len (duplicate
            // of a shared mapping) unmaps nothing.
            let _ = self.do_munmap(hv, pid, vrm.addr, vrm.old_len);
        }
        Ok(vrm.new_addr)
    }

    /// Move every PTE (and guard marker) of `[old, old + len)` to the same
    /// offset from `new`. On a failed page-table allocation returns the
    /// `(old, new)` addresses already moved.
    fn move_ptes(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        old: u64,
        new: u64,
        len: u64,
    ) -> Result<(), Vec<(u64, u64)>> {
        let Ok(pgd) = self.mm(pid).map(|m| m.pgd) else { return Err(Vec::new()) };
        let mut done = Vec::new();
        for (addr, slot, pte) in self.pt.leaf_entries(pgd, old, old + len) {
            if pte.is_none() {
                continue;
            }
            let dst = addr - old + new;
            // alloc_new_pmd() / pte_alloc(): GFP_PGTABLE_USER, through the
            // OOM killer (mm/mremap.c move_page_tables).
            let Ok(dslot) = self.alloc_may_oom(hv, pid, GFP_PGTABLE_USER_ALLOC, |k| k.pte_alloc(pid, dst)) else {
                return Err(done);
            };
            if pte_present(pte) {
                // ptep_get_and_clear() then set_pte_at() in lazy MMU mode:
                // an entry Xen refuses at the new place is dropped with a
                // WARN (set_pte_batched), and mremap goes on.
                self.set_pte_batched(hv, slot, crate::arch::x86_64::Pte::NONE);
                self.set_pte_batched(hv, dslot, pte);
            } else {
                self.pt.set(slot, crate::arch::x86_64::Pte::NONE);
                self.pt.set(dslot, pte);
            }
            done.push((addr, dst));
        }
        Ok(())
    }
}
