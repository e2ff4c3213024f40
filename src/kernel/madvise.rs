//! madvise(2): advice that changes VMA flags, discards or populates pages,
//! or installs guard regions.
//!
//! Follows `mm/madvise.c` of Linux 6.18 (`do_madvise`,
//! `madvise_should_skip`, `madvise_behavior_valid`, `madvise_walk_vmas`,
//! `madvise_vma_behavior`, `can_madvise_modify`, `is_discard`,
//! `madvise_dontneed_free`, `madvise_remove`, `madvise_populate`,
//! `madvise_guard_install`, `madvise_guard_remove`, `madvise_cold`,
//! `madvise_pageout`), `mm/ksm.c` (`ksm_madvise`), `mm/huge_memory.c`
//! (`hugepage_madvise`), `mm/khugepaged.c` (`madvise_collapse`) and
//! `mm/shmem.c` (`shmem_fallocate` with FALLOC_FL_PUNCH_HOLE).
//!
//! Simplifications, each where the model has no machinery for the real
//! thing:
//! - MADV_FREE marks pages lazy-free as Linux does and leaves them mapped;
//!   reclaim (the domain call `reclaim()`, kernel/vmscan.rs) discards the
//!   clean ones. Nothing else runs reclaim in the model.
//! - There is no swap (as on a machine with no swap device): MADV_PAGEOUT
//!   leaves anonymous pages resident with their contents and only clears
//!   PG_referenced, and unmaps shmem pages mapped once (dirty ones stay in
//!   the page cache, clean ones leave it: `pageout_shmem_page`); MADV_COLD clears the PTE young bit and
//!   PG_referenced/PG_active of exclusively mapped pages; MADV_WILLNEED has
//!   nothing to read in and succeeds.
//! - KSM never merges pages: MADV_MERGEABLE/UNMERGEABLE only set/clear
//!   VM_MERGEABLE (with `vma_ksm_compatible()`).
//! - No THP: MADV_HUGEPAGE/NOHUGEPAGE only change flags; MADV_COLLAPSE
//!   succeeds on anonymous memory where Linux would (a PMD-aligned 2 MiB
//!   block inside the VMA with at least one writable page mapped) by
//!   faulting every page of each such block in, writable, with its data.
//! - CONFIG_MEMORY_FAILURE is off (as on the reference machine), so
//!   MADV_HWPOISON and MADV_SOFT_OFFLINE are unknown advice (EINVAL).
//! - No userfaultfd, so no lock dropping or UFFD events.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, PMD_SIZE, Pte, PteFlags};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::access::PteEntry;
use crate::kernel::gup::{FOLL_WRITE, FollFlags};
use crate::kernel::memory::{NormalPage, guard_marker};
use crate::kernel::mlock::page_align_wrapping;
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile};
use crate::kernel::oom_kill::GFP_PGTABLE_USER_ALLOC;
use crate::kernel::page::{Mapping, PageFlags};
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};
use crate::types::Pfn;

crate::uapi::uapi_family! {
    /// `MADV_*` (include/uapi/asm-generic/mman-common.h).
    pub static MADV_FAMILY: Enum "MADV_", i32 {
        MADV_NORMAL = 0,
        MADV_RANDOM = 1,
        MADV_SEQUENTIAL = 2,
        MADV_WILLNEED = 3,
        MADV_DONTNEED = 4,
        MADV_FREE = 8,
        MADV_REMOVE = 9,
        MADV_DONTFORK = 10,
        MADV_DOFORK = 11,
        MADV_MERGEABLE = 12,
        MADV_UNMERGEABLE = 13,
        MADV_HUGEPAGE = 14,
        MADV_NOHUGEPAGE = 15,
        MADV_DONTDUMP = 16,
        MADV_DODUMP = 17,
        MADV_WIPEONFORK = 18,
        MADV_KEEPONFORK = 19,
        MADV_COLD = 20,
        MADV_PAGEOUT = 21,
        MADV_POPULATE_READ = 22,
        MADV_POPULATE_WRITE = 23,
        MADV_DONTNEED_LOCKED = 24,
        MADV_COLLAPSE = 25,
        MADV_HWPOISON = 100,
        MADV_SOFT_OFFLINE = 101,
        MADV_GUARD_INSTALL = 102,
        MADV_GUARD_REMOVE = 103,
    }
}

/// `madvise_behavior_valid()` for this configuration (KSM and THP on,
/// MEMORY_FAILURE off).
pub fn madvise_behavior_valid(behavior: i32) -> bool {
    matches!(
        behavior,
        MADV_DOFORK
            | MADV_DONTFORK
            | MADV_NORMAL
            | MADV_SEQUENTIAL
            | MADV_RANDOM
            | MADV_REMOVE
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_DONTNEED_LOCKED
            | MADV_FREE
            | MADV_COLD
            | MADV_PAGEOUT
            | MADV_POPULATE_READ
            | MADV_POPULATE_WRITE
            | MADV_MERGEABLE
            | MADV_UNMERGEABLE
            | MADV_HUGEPAGE
            | MADV_NOHUGEPAGE
            | MADV_COLLAPSE
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | MADV_GUARD_INSTALL
            | MADV_GUARD_REMOVE
    )
}

/// `is_discard()`: does the advice discard mapped data?
pub fn is_discard(behavior: i32) -> bool {
    matches!(
        behavior,
        MADV_FREE
            | MADV_DONTNEED
            | MADV_DONTNEED_LOCKED
            | MADV_REMOVE
            | MADV_DONTFORK
            | MADV_WIPEONFORK
            | MADV_GUARD_INSTALL
    )
}

/// `can_madvise_modify()`: a sealed VMA refuses discarding advice only when
/// it is anonymous and not writable.
pub fn can_madvise_modify(vma: &Vma, behavior: i32) -> bool {
    if !vma.flags.contains(VmFlags::SEALED) || !is_discard(behavior) {
        return true;
    }
    if !vma.is_anonymous() {
        return true;
    }
    vma.flags.contains(VmFlags::WRITE)
}

/// `is_valid_guard_vma()`.
fn is_valid_guard_vma(vma: &Vma, allow_locked: bool) -> bool {
    let mut disallowed = VmFlags::SPECIAL | VmFlags::HUGETLB;
    if !allow_locked {
        disallowed |= VmFlags::LOCKED;
    }
    !vma.flags.intersects(disallowed)
}

/// `madvise_should_skip()`: `Some(result)` when nothing is to be done.
fn madvise_should_skip(start: u64, len_in: u64, behavior: i32) -> Option<KResult<u64>> {
    // is_valid_madvise()
    if !madvise_behavior_valid(behavior) || start & !PAGE_MASK != 0 {
        return Some(Err(Errno::EINVAL));
    }
    let len = page_align_wrapping(len_in);
    if len_in != 0 && len == 0 {
        return Some(Err(Errno::EINVAL));
    }
    if start.checked_add(len).is_none() {
        return Some(Err(Errno::EINVAL));
    }
    if len == 0 {
        return Some(Ok(0));
    }
    None
}

impl Kernel {
    /// madvise(2) (`do_madvise`): `behavior` is an `int`.
    pub fn sys_madvise(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        start: u64,
        len_in: u64,
        behavior: u64,
    ) -> KResult<u64> {
        let behavior = behavior as u32 as i32;
        if let Some(r) = madvise_should_skip(start, len_in, behavior) {
            return r;
        }
        self.proc_ref(pid)?;
        let end = start + page_align_wrapping(len_in);
        match behavior {
            MADV_POPULATE_READ | MADV_POPULATE_WRITE => {
                self.madvise_populate(hv, pid, start, end, behavior == MADV_POPULATE_WRITE)?
            }
            _ => {
                let r = self.madvise_walk_vmas(hv, pid, start, end, behavior);
                // Objects freed by merges (kernel/slab.rs).
                self.vm_area_cache_shrink();
                r?
            }
        }
        Ok(0)
    }

    /// `madvise_walk_vmas()`: apply the advice to each VMA piece of
    /// `[start, end)`; holes are skipped and reported as `ENOMEM` at the end,
    /// an error from a VMA stops the walk at once.
    fn madvise_walk_vmas(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, end: u64, behavior: i32) -> KResult<()> {
        let mut unmapped_error = None;
        let mut cur = start;
        loop {
            let Some(vma) = self.mm(pid)?.find_vma(cur).cloned() else { return Err(Errno::ENOMEM) };
            if cur < vma.start {
                unmapped_error = Some(Errno::ENOMEM);
                cur = vma.start;
                if cur >= end {
                    break;
                }
            }
            let e = vma.end.min(end);
            self.madvise_vma_behavior(hv, pid, &vma, cur, e, behavior)?;
            // A merge may have extended the VMA now holding `cur`.
            let reached = self.mm(pid)?.vma_at(cur).map_or(e, |v| v.end.max(e));
            if reached >= end {
                break;
            }
            cur = reached;
        }
        match unmapped_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `madvise_vma_behavior()` for `[start, end)` inside `vma`.
    fn madvise_vma_behavior(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
        behavior: i32,
    ) -> KResult<()> {
        if !can_madvise_modify(vma, behavior) {
            return Err(Errno::EPERM);
        }
        let f = vma.flags;
        let new_flags = match behavior {
            MADV_REMOVE => return self.madvise_remove(hv, vma, start, end),
            MADV_WILLNEED => return Ok(()),
            MADV_COLD | MADV_PAGEOUT => {
                return self.madvise_cold_or_pageout(hv, pid, vma, start, end, behavior == MADV_PAGEOUT);
            }
            MADV_FREE | MADV_DONTNEED | MADV_DONTNEED_LOCKED => {
                return self.madvise_dontneed_free(hv, pid, vma, start, end, behavior);
            }
            MADV_COLLAPSE => return self.madvise_collapse(hv, pid, vma, start, end),
            MADV_GUARD_INSTALL => return self.madvise_guard_install(hv, pid, vma, start, end),
            MADV_GUARD_REMOVE => return self.madvise_guard_remove(pid, vma, start, end),
            MADV_NORMAL => f.difference(VmFlags::RAND_READ | VmFlags::SEQ_READ),
            MADV_SEQUENTIAL => f.difference(VmFlags::RAND_READ) | VmFlags::SEQ_READ,
            MADV_RANDOM => f.difference(VmFlags::SEQ_READ) | VmFlags::RAND_READ,
            MADV_DONTFORK => f | VmFlags::DONTCOPY,
            MADV_DOFORK => {
                if f.contains(VmFlags::IO) {
                    return Err(Errno::EINVAL);
                }
                f.difference(VmFlags::DONTCOPY)
            }
            MADV_WIPEONFORK => {
                // Only anonymous private memory can be wiped.
                if vma.file.is_some() || f.contains(VmFlags::SHARED) {
                    return Err(Errno::EINVAL);
                }
                f | VmFlags::WIPEONFORK
            }
            MADV_KEEPONFORK => {
                if f.contains(VmFlags::DROPPABLE) {
                    return Err(Errno::EINVAL);
                }
                f.difference(VmFlags::WIPEONFORK)
            }
            MADV_DONTDUMP => f | VmFlags::DONTDUMP,
            MADV_DODUMP => {
                if f.intersects(VmFlags::SPECIAL | VmFlags::DROPPABLE) {
                    return Err(Errno::EINVAL);
                }
                f.difference(VmFlags::DONTDUMP)
            }
            // ksm_madvise(): incompatible VMAs ignore the advice.
            MADV_MERGEABLE => {
                let incompatible = VmFlags::SHARED
                    | VmFlags::MAYSHARE
                    | VmFlags::PFNMAP
                    | VmFlags::IO
                    | VmFlags::DONTEXPAND
                    | VmFlags::HUGETLB
                    | VmFlags::MIXEDMAP
                    | VmFlags::DROPPABLE;
                if f.intersects(incompatible) { f } else { f | VmFlags::MERGEABLE }
            }
            MADV_UNMERGEABLE => f.difference(VmFlags::MERGEABLE),
            // hugepage_madvise()
            MADV_HUGEPAGE => f.difference(VmFlags::NOHUGEPAGE) | VmFlags::HUGEPAGE,
            MADV_NOHUGEPAGE => f.difference(VmFlags::HUGEPAGE) | VmFlags::NOHUGEPAGE,
            _ => return Err(Errno::EINVAL),
        };
        // madvise_update_vma(): vma_modify_flags() (its splits' vm_area_dup,
        // kernel/slab.rs); ENOMEM is EAGAIN.
        let splits = if new_flags == vma.flags { 0 } else { self.vm_area_splits(pid, start, end) };
        let r = self.vm_area_alloc(hv, pid, splits);
        match r.and_then(|()| self.vma_modify_flags_range(pid, start, end, |_| Ok(new_flags))) {
            Err(Errno::ENOMEM) => Err(Errno::EAGAIN),
            r => r,
        }
    }

    /// `madvise_dontneed_free()`: MADV_DONTNEED(_LOCKED) zaps the range
    /// (private COW copies included, guard markers kept); MADV_FREE marks
    /// the pages lazy-free.
    fn madvise_dontneed_free(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
        behavior: i32,
    ) -> KResult<()> {
        let mut forbidden = VmFlags::PFNMAP | VmFlags::HUGETLB;
        if behavior != MADV_DONTNEED_LOCKED {
            forbidden |= VmFlags::LOCKED;
        }
        if vma.flags.intersects(forbidden) {
            return Err(Errno::EINVAL);
        }
        if behavior != MADV_FREE {
            // zap_page_range_single_batched(): notifiers, then the zap.
            self.mmu_notifier_invalidate(hv, pid, start, end);
            self.zap_vma_range(hv, pid, vma, start, end, false);
            return Ok(());
        }
        // madvise_free_single_vma(): anonymous VMAs only.
        if !vma.is_anonymous() {
            return Err(Errno::EINVAL);
        }
        self.mmu_notifier_invalidate(hv, pid, start, end);
        // madvise_free_pte_range() (mm/madvise.c, 6.12): a dirty folio is
        // cleaned only when mapped once; the PTE loses its young and dirty
        // bits; folio_mark_lazyfree() (mm/swap.c) moves an anonymous,
        // swap-backed, evictable folio to the lazy-free LRU (lru_lazyfree:
        // PG_active, PG_referenced and PG_swapbacked cleared). The pages
        // stay mapped with their contents until reclaim discards the clean
        // ones (kernel/vmscan.rs).
        let pgd = self.mm(pid)?.pgd;
        for PteEntry { addr, slot, pte, kind } in self.pte_entries(pgd, start, end) {
            if !kind.is_present() {
                continue;
            }
            let NormalPage::Page(pfn) = self.vm_normal_page(hv, vma, addr, pte) else { continue };
            let p = self.mem.page(pfn);
            if p.flags.contains(PageFlags::DIRTY) {
                if p.mapcount != 1 {
                    continue;
                }
                self.mem.page_mut(pfn).flags.remove(PageFlags::DIRTY);
            }
            if pte.young() || pte.dirty() {
                self.pt.set(slot, pte.clear(PteFlags::ACCESSED | PteFlags::DIRTY));
            }
            let p = self.mem.page_mut(pfn);
            if p.is_anon()
                && p.flags.contains(PageFlags::SWAPBACKED | PageFlags::LRU)
                && !p.flags.contains(PageFlags::UNEVICTABLE)
            {
                p.flags.remove(PageFlags::ACTIVE | PageFlags::REFERENCED | PageFlags::SWAPBACKED);
            }
        }
        Ok(())
    }

    /// MADV_PAGEOUT of a shmem page mapped once: `reclaim_pages()` ->
    /// `shrink_folio_list()` (mm/vmscan.c, 6.12) unmaps it
    /// (`try_to_unmap_one`, the PTE's dirty bit going to the folio); a
    /// dirty folio is then written out, which without swap fails
    /// (`shmem_writepage`: `!total_swap_pages` -> redirty,
    /// AOP_WRITEPAGE_ACTIVATE), so it stays in the page cache; a clean one
    /// (only ever read) is removed from it (`__remove_mapping`) and freed:
    /// the next access reads a fresh zero page.
    fn pageout_shmem_page(&mut self, hv: &mut Hypervisor, pid: Pid, vma: &Vma, addr: u64, pfn: Pfn, dirty: bool) {
        if dirty {
            self.mem.page_mut(pfn).flags |= PageFlags::DIRTY;
        }
        self.zap_vma_range(hv, pid, vma, addr, addr + PAGE_SIZE, false);
        let p = self.mem.page(pfn);
        if p.flags.contains(PageFlags::DIRTY) || p.mapcount != 0 || p.refcount != 1 {
            return;
        }
        let (Mapping::File(inode), index) = (p.mapping, p.index) else { return };
        let Some(i) = self.shmem.get_mut(inode) else { return };
        if i.pages.get(&index) == Some(&pfn) {
            i.pages.remove(&index);
            self.mem.page_mut(pfn).mapping = Mapping::None;
            self.put_page(pfn);
        }
    }

    /// `madvise_cold()` / `madvise_pageout()` with no swap (module doc).
    fn madvise_cold_or_pageout(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        start: u64,
        end: u64,
        pageout: bool,
    ) -> KResult<()> {
        // can_madv_lru_vma()
        if vma.flags.intersects(VmFlags::LOCKED | VmFlags::PFNMAP | VmFlags::HUGETLB) {
            return Err(Errno::EINVAL);
        }
        let pgd = self.mm(pid)?.pgd;
        for PteEntry { addr, slot, pte, kind } in self.pte_entries(pgd, start, end) {
            if !kind.is_present() {
                continue;
            }
            let NormalPage::Page(pfn) = self.vm_normal_page(hv, vma, addr, pte) else { continue };
            let p = self.mem.page(pfn);
            // Folios mapped elsewhere, or off the LRU, are left alone.
            if !p.flags.contains(PageFlags::LRU) || p.mapcount != 1 {
                continue;
            }
            if pageout && !p.is_anon() {
                self.pageout_shmem_page(hv, pid, vma, addr, pfn, pte.dirty());
                continue;
            }
            if !pageout && pte.young() {
                self.pt.set(slot, pte.clear(PteFlags::ACCESSED));
            }
            let p = self.mem.page_mut(pfn);
            p.flags.remove(PageFlags::REFERENCED);
            if !pageout {
                p.flags.remove(PageFlags::ACTIVE);
            }
        }
        Ok(())
    }

    /// `madvise_remove()`: punch a hole in the shared file behind the VMA.
    fn madvise_remove(&mut self, hv: &mut Hypervisor, vma: &Vma, start: u64, end: u64) -> KResult<()> {
        if vma.flags.contains(VmFlags::LOCKED) {
            return Err(Errno::EINVAL);
        }
        let Some(file) = &vma.file else { return Err(Errno::EINVAL) };
        // vma_is_shared_maywrite()
        if !vma.flags.contains(VmFlags::SHARED | VmFlags::MAYWRITE) {
            return Err(Errno::EACCES);
        }
        match file {
            // vfs_fallocate() on a character device.
            VmaFile::Device { .. } => Err(Errno::ENODEV),
            VmaFile::Shmem { inode } => {
                let first = vma.linear_index(start);
                let last = first + ((end - start) >> 12);
                self.shmem_punch_hole(hv, *inode, first, last);
                Ok(())
            }
        }
    }

    /// `shmem_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)` over
    /// page indices `[first, last)`: every PTE mapping one of those
    /// page-cache pages, in any process, is zapped (`unmap_mapping_range`
    /// without even_cows, so private COW copies stay), then the pages leave
    /// the cache. The size is unchanged.
    pub fn shmem_punch_hole(&mut self, hv: &mut Hypervisor, inode: u32, first: u64, last: u64) {
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            let Ok(mm) = self.mm(pid) else { continue };
            let pgd = mm.pgd;
            let vmas: Vec<Vma> = mm.vmas.values().filter(|v| v.shmem_inode() == Some(inode)).cloned().collect();
            for v in vmas {
                let (lo, hi) = (first.max(v.pgoff), last.min(v.pgoff + v.pages()));
                if lo >= hi {
                    continue;
                }
                let s = v.start + ((lo - v.pgoff) << 12);
                let e = v.start + ((hi - v.pgoff) << 12);
                self.mmu_notifier_invalidate(hv, pid, s, e);
                for PteEntry { addr, pte, kind, .. } in self.pte_entries(pgd, s, e) {
                    if !kind.is_present() {
                        continue;
                    }
                    if let NormalPage::Page(pfn) = self.vm_normal_page(hv, &v, addr, pte)
                        && self.mem.page(pfn).mapping == Mapping::File(inode)
                    {
                        self.zap_vma_range(hv, pid, &v, addr, addr + PAGE_SIZE, false);
                    }
                }
            }
        }
        let gone: Vec<_> = match self.shmem.get_mut(inode) {
            Some(i) => {
                let idx: Vec<u64> = i.pages.range(first..last).map(|(&k, _)| k).collect();
                idx.into_iter().filter_map(|k| i.pages.remove(&k)).collect()
            }
            None => return,
        };
        for p in gone {
            self.mem.page_mut(p).mapping = Mapping::None;
            self.put_page(p);
        }
    }

    /// `madvise_populate()`: fault `[start, end)` in readable or writable,
    /// VMA by VMA; no VMA is `ENOMEM`, a VMA that does not allow the access
    /// is `EINVAL`, a fault that fails (guard marker, SIGBUS) is `EFAULT`.
    fn madvise_populate(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, end: u64, write: bool) -> KResult<()> {
        let mut addr = start;
        while addr < end {
            let vma = self.mm(pid)?.vma_at(addr).cloned().ok_or(Errno::ENOMEM)?;
            let gup = if write { FOLL_WRITE } else { FollFlags::empty() };
            if Kernel::check_vma_flags(&vma, gup).is_err() {
                return Err(Errno::EINVAL);
            }
            let e = vma.end.min(end);
            self.faultin_vma_range(hv, pid, &vma, addr, e, write)?;
            addr = e;
        }
        Ok(())
    }

    /// `madvise_guard_install()`: zap what is mapped in the range (keeping
    /// markers), then put a guard marker in every PTE.
    fn madvise_guard_install(&mut self, hv: &mut Hypervisor, pid: Pid, vma: &Vma, start: u64, end: u64) -> KResult<()> {
        if !is_valid_guard_vma(vma, false) {
            return Err(Errno::EINVAL);
        }
        // Markers make the page tables worth copying at fork.
        self.anon_vma_prepare(pid, vma.start)?;
        if let Some(v) = self.mm_mut(pid)?.vmas.get_mut(&vma.start) {
            v.flags |= VmFlags::MAYBE_GUARD;
        }
        let pgd = self.mm(pid)?.pgd;
        let populated = self.pte_entries(pgd, start, end).iter().any(|e| e.kind != PteKind::None && !e.kind.is_guard());
        if populated {
            self.mmu_notifier_invalidate(hv, pid, start, end);
            let cur = self.mm(pid)?.vmas.get(&vma.start).cloned().unwrap_or_else(|| vma.clone());
            self.zap_vma_range(hv, pid, &cur, start, end, false);
        }
        let mut addr = start;
        while addr < end {
            // walk_page_range_mm() with install_pte: the tables are
            // GFP_PGTABLE_USER allocations, through the OOM killer.
            let slot = self.alloc_may_oom(hv, pid, GFP_PGTABLE_USER_ALLOC, |k| k.pte_alloc(pid, addr))?;
            if self.pt.get(slot).is_none() {
                self.pt.set(slot, guard_marker());
            }
            addr += PAGE_SIZE;
        }
        Ok(())
    }

    /// `madvise_guard_remove()`: clear the guard markers of the range
    /// (allowed on mlock()ed VMAs: nothing is discarded).
    fn madvise_guard_remove(&mut self, pid: Pid, vma: &Vma, start: u64, end: u64) -> KResult<()> {
        if !is_valid_guard_vma(vma, true) {
            return Err(Errno::EINVAL);
        }
        let pgd = self.mm(pid)?.pgd;
        for PteEntry { slot, kind, .. } in self.pte_entries(pgd, start, end) {
            if kind.is_guard() {
                self.pt.set(slot, Pte::NONE);
            }
        }
        Ok(())
    }

    /// `madvise_collapse()` without THP (module doc): the checks of
    /// `thp_vma_allowable_order()` and the scan, then every page of each
    /// PMD-aligned block faulted in writable.
    fn madvise_collapse(&mut self, hv: &mut Hypervisor, pid: Pid, vma: &Vma, start: u64, end: u64) -> KResult<()> {
        let f = vma.flags;
        let vstart = (vma.start + PMD_SIZE - 1) & !(PMD_SIZE - 1);
        let fits = vstart.checked_add(PMD_SIZE).is_some_and(|e| e <= vma.end);
        if !vma.is_anonymous() || f.intersects(VmFlags::NOHUGEPAGE | VmFlags::SPECIAL | VmFlags::HUGETLB) || !fits {
            return Err(Errno::EINVAL);
        }
        let hstart = (start + PMD_SIZE - 1) & !(PMD_SIZE - 1);
        let hend = end & !(PMD_SIZE - 1);
        if hstart > hend {
            return Err(Errno::EINVAL);
        }
        let pgd = self.mm(pid)?.pgd;
        let mut block = hstart;
        while block < hend {
            let entries = self.pte_entries(pgd, block, block + PMD_SIZE);
            // hpage_collapse_scan_pmd(): no page table, a marker, or no
            // writable PTE makes the block fail.
            let writable = entries.iter().any(|e| matches!(e.kind, PteKind::Present { write: true, .. }));
            if entries.iter().any(|e| e.kind.is_guard()) || !writable || !f.contains(VmFlags::WRITE) {
                return Err(Errno::EINVAL);
            }
            self.faultin_vma_range(hv, pid, vma, block, block + PMD_SIZE, true)?;
            block += PMD_SIZE;
        }
        Ok(())
    }
}
