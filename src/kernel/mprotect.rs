//! mprotect(2): `do_mprotect_pkey`, `mprotect_fixup`, `change_protection`.
//!
//! Follows `mm/mprotect.c` of Linux 6.18 (pkeys: `kernel/pkeys.rs`, no
//! pkey_mprotect). Simplifications: no
//! PROT_SEM effect, no NUMA hinting PTEs.

use crate::arch::x86_64::{PAGE_MASK, PteFlags, page_align_up};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::memory::{NormalPage, is_guard_marker};
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::mmap::{
    PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE, calc_vm_prot_bits,
};
use crate::kernel::page::PageFlags;
use crate::kernel::pkeys::arch_override_mprotect_pkey;
use crate::kernel::pte::{pte_modify, pte_protnone, vm_get_page_prot};
use crate::kernel::{Kernel, Pid};

impl Kernel {
    /// mprotect(2). The VMA objects its merges freed go back to the slab
    /// cache's page allocator at the end (kernel/slab.rs).
    pub fn sys_mprotect(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, prot: u64) -> KResult<u64> {
        let r = self.do_mprotect_pkey(hv, pid, start, len, prot);
        self.vm_area_cache_shrink();
        r
    }

    /// `do_mprotect_pkey()` without a pkey (mm/mprotect.c).
    fn do_mprotect_pkey(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64, prot: u64) -> KResult<u64> {
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == PROT_GROWSDOWN | PROT_GROWSUP {
            return Err(Errno::EINVAL);
        }
        if start & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
        let end = start.checked_add(len).filter(|&e| e > start).ok_or(Errno::ENOMEM)?;
        // arch_validate_prot()
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
            return Err(Errno::EINVAL);
        }
        let mm = self.mm(pid)?;
        let first = mm.find_vma(start).filter(|v| v.start < end).ok_or(Errno::ENOMEM)?;
        let mut start = start;
        if grows & PROT_GROWSDOWN != 0 {
            start = first.start;
            if !first.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
        } else if first.start > start {
            return Err(Errno::ENOMEM);
        } else if grows & PROT_GROWSUP != 0 {
            // `if (!(vma->vm_flags & VM_GROWSUP)) goto out` with -EINVAL
            // (mm/mprotect.c): VM_GROWSUP is VM_NONE on x86-64, so
            // PROT_GROWSUP always fails there.
            return Err(Errno::EINVAL);
        }
        let mut tmp = start;
        let newprot = calc_vm_prot_bits(prot);
        // for_each_vma_range(): after each mprotect_fixup() the walk goes on
        // from the end of the VMA now holding the range just changed
        // (`tmp = vma_iter_end(&vmi)`), which a merge with the next VMA
        // may have extended.
        // Each VMA is copied once, where the loop uses it (the first one,
        // found above, is found again at once: the tree's hint holds it).
        while tmp < end {
            let v = match self.mm(pid)?.find_vma(tmp).filter(|v| v.start < end) {
                Some(v) => v.clone(),
                None => break,
            };
            if v.start > tmp {
                return Err(Errno::ENOMEM);
            }
            // mask_off_old_flags = VM_ACCESS_FLAGS | VM_FLAGS_CLEAR (the pkey).
            let pkeys = self.cfg.pkeys;
            let new_vma_pkey = arch_override_mprotect_pkey(self.mm_mut(pid)?, pkeys, &v, prot);
            let newflags =
                newprot | VmFlags::from_pkey(new_vma_pkey) | (v.flags & !(VmFlags::ACCESS | VmFlags::PKEY_MASK));
            // VM_MAY% must allow every requested VM_%.
            let may = VmFlags::from_bits_truncate(newflags.bits() >> 4);
            if (newflags & !may).intersects(VmFlags::ACCESS) {
                return Err(Errno::EACCES);
            }
            let nstart = tmp.max(v.start);
            let nend = v.end.min(end);
            let held = self.mprotect_fixup_end(hv, pid, &v, nstart, nend, newflags)?;
            tmp = match held {
                Some(vend) => vend.max(nend),
                None => self.mm(pid)?.vma_at(nstart).map_or(nend, |w| w.end.max(nend)),
            };
        }
        if tmp < end {
            return Err(Errno::ENOMEM);
        }
        Ok(0)
    }

    /// `mprotect_fixup()`: give `[nstart, nend)` of the VMA `v` the flags
    /// `newflags`: refuse a sealed VMA, charge private memory becoming
    /// writable, `vma_modify_flags()`, `change_protection()`, and populate
    /// a locked VMA becoming writable.
    pub fn mprotect_fixup(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        v: &Vma,
        nstart: u64,
        nend: u64,
        newflags: VmFlags,
    ) -> KResult<()> {
        self.mprotect_fixup_end(hv, pid, v, nstart, nend, newflags).map(|_| ())
    }

    /// `mprotect_fixup()` returning the end of the VMA that now holds
    /// `nstart` when the VMAs changed (`vma_iter_end()` for the caller's
    /// walk), `Ok(Some(v.end))` when nothing changed.
    fn mprotect_fixup_end(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        v: &Vma,
        nstart: u64,
        nend: u64,
        mut newflags: VmFlags,
    ) -> KResult<Option<u64>> {
        if v.flags.contains(VmFlags::SEALED) {
            return Err(Errno::EPERM);
        }
        if newflags == v.flags {
            return Ok(Some(v.end));
        }
        let nrpages = (nend - nstart) >> 12;
        if newflags.contains(VmFlags::WRITE) {
            // mprotect_fixup() (mm/mprotect.c, 6.12): "Check space limits
            // when area turns into data": RLIMIT_DATA (and RLIMIT_AS) as
            // may_expand_vm() sees the new flags, unless the old flags
            // would fail it too.
            if !self.may_expand_vm(pid, newflags, nrpages)? && self.may_expand_vm(pid, v.flags, nrpages)? {
                return Err(Errno::ENOMEM);
            }
            // Private memory becoming writable is charged.
            if !v
                .flags
                .intersects(VmFlags::ACCOUNT | VmFlags::WRITE | VmFlags::HUGETLB | VmFlags::SHARED | VmFlags::NORESERVE)
            {
                self.vm_enough_memory(pid, nrpages)?;
                newflags |= VmFlags::ACCOUNT;
            }
        } else if !newflags.contains(VmFlags::WRITE)
            && v.flags.contains(VmFlags::ACCOUNT)
            && v.is_anonymous()
            && v.anon_vma.is_none()
        {
            // An anonymous VMA that never had a page and becomes
            // read-only stops being charged (mprotect_fixup).
            newflags.remove(VmFlags::ACCOUNT);
        }
        let mut held = Some(v.end);
        if newflags != v.flags {
            // vma_modify_flags() -> split_vma() -> vm_area_dup() (kernel/slab.rs).
            let splits = self.vm_area_splits(pid, nstart, nend);
            self.vm_area_alloc(hv, pid, splits)?;
            held = self.vma_modify_flags_end(pid, v, nstart, nend, newflags)?;
            self.change_protection(hv, pid, nstart, nend)?;
            if v.flags & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::LOCKED) == VmFlags::LOCKED
                && newflags.contains(VmFlags::WRITE)
            {
                let _ = self.mm_populate_range(hv, pid, nstart, nend - nstart, true);
            }
            // vm_stat_account(oldflags, -nrpages), then (newflags, nrpages):
            // a range turning writable becomes data_vm.
            let mm = self.mm_mut(pid)?;
            mm.stat_account(v.flags, -(nrpages as i64));
            mm.stat_account(newflags, nrpages as i64);
        }
        Ok(held)
    }

    /// `change_protection()` over `[start, end)`: every PTE takes the new
    /// VMA's protections; private writable memory keeps write access only on
    /// exclusive anonymous pages (`can_change_pte_writable`).
    ///
    /// `change_pud_range()` (mm/mprotect.c, 6.12) starts the MMU notifier
    /// (`MMU_NOTIFY_PROTECTION_VMA`) at the first populated PUD entry and
    /// covers the rest of the range; subscribers that do not look at the
    /// event (gntdev's `gntdev_invalidate`) unmap their pages, so their
    /// PTEs are gone before the walk below. Simplification: one notifier
    /// range per call, from the first populated PUD entry to `end`, where
    /// Linux starts one per PGD entry.
    pub fn change_protection(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, end: u64) -> KResult<()> {
        let pgd = self.mm(pid)?.pgd;
        let leaves = self.pt.leaf_entries(pgd, start, end);
        let Some(&(first, _, _)) = leaves.first() else { return Ok(()) };
        const PUD_MASK: u64 = !((1u64 << 30) - 1);
        self.mmu_notifier_invalidate(hv, pid, (first & PUD_MASK).max(start), end);
        let vmas: Vec<Vma> = self.mm(pid)?.vmas_in(start, end).cloned().collect();
        // Both lists ascend: each VMA takes the next run of leaves, so the
        // walk is one pass over the leaves, not one per VMA.
        let mut rest = &leaves[..];
        for v in vmas {
            let prot = vm_get_page_prot(v.flags);
            let (s, e) = (v.start.max(start), v.end.min(end));
            let try_write = !v.flags.contains(VmFlags::SHARED) && v.flags.contains(VmFlags::WRITE);
            let skip = rest.partition_point(|(a, _, _)| *a < s);
            let take = rest[skip..].partition_point(|(a, _, _)| *a < e);
            let (mine, after) = rest[skip..].split_at(take);
            rest = after;
            for &(addr, slot, _) in mine {
                // Read again: the notifier may have cleared it.
                let pte = self.pt.get(slot);
                if is_guard_marker(pte) || !crate::kernel::pte::pte_present(pte) {
                    continue;
                }
                let mut n = pte_modify(pte, prot);
                if try_write
                    && !n.write()
                    && !pte_protnone(n)
                    && let NormalPage::Page(pfn) = self.vm_normal_page(hv, &v, addr, n)
                {
                    let p = self.mem.page(pfn);
                    if p.is_anon() && p.flags.contains(PageFlags::ANON_EXCLUSIVE) {
                        n = n.set(PteFlags::RW);
                    }
                }
                if n != pte {
                    self.set_pte(hv, slot, n)?;
                }
            }
        }
        Ok(())
    }
}
