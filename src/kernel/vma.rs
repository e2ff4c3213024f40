//! VMA merge, split, modify and munmap: Linux's `mm/vma.c` (6.18), under
//! its names (`vma_merge_new_range`, `vma_merge_existing_range`,
//! `commit_merge`, `__split_vma`, `split_vma`, `vma_modify_flags`,
//! `do_vmi_munmap`, `remove_vma`), and `free_pgtables` (mm/memory.c).
//! The `vm_area_struct` itself is in `kernel/mm_types.rs`.
//!
//! Simplification: the merge state (`struct vma_merge_struct`) is passed
//! as arguments; the maple-tree iterator is the mm's ordered map.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, TASK_SIZE, page_align_up};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mm::Mm;
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile, VmaTag};
use crate::kernel::{Kernel, Pid};

/// `is_mergeable_vma()` + `is_mergeable_anon_vma()` + pgoff continuity
/// (`can_vma_merge_before/after`): can `a` (lower) and `b` (upper,
/// starting at a.end) become one VMA?
pub fn is_mergeable_vma(a: &Vma, b: &Vma) -> bool {
    a.end == b.start
        && (a.flags ^ b.flags).difference(VmFlags::IGNORE_MERGE).is_empty()
        && !a.flags.intersects(VmFlags::SPECIAL)
        && a.file == b.file
        && a.same_ops(b)
        && a.ops.as_ref().is_none_or(|o| !o.has_close())
        // mm/vma.c `is_mergeable_vma` has no notion of a heap: a brk VMA
        // merges with an anonymous mapping next to it (`[heap]` is derived
        // from the brk bounds, `vma_is_initial_heap`). The stack tag
        // stays: it marks the one initial stack.
        && (a.tag == b.tag || (a.tag != VmaTag::Stack && b.tag != VmaTag::Stack))
        && is_mergeable_anon_vma(a, b)
        && a.pgoff + a.pages() == b.pgoff
}

/// `is_mergeable_anon_vma()`: the same anon_vma, or only one of the two
/// has one and that one's chain is singular (`!vma_had_uncowed_parents()`).
pub fn is_mergeable_anon_vma(a: &Vma, b: &Vma) -> bool {
    match (a.anon_vma, b.anon_vma) {
        (None, None) => true,
        (Some(x), Some(y)) => x == y,
        (Some(_), None) => !a.anon_chain_forked,
        (None, Some(_)) => !b.anon_chain_forked,
    }
}

/// `commit_merge()`: the VMA at `target` now spans `[start, end)` (with
/// `pgoff` at `start`), takes the anon_vma of what it absorbed when it has
/// none (`dup_anon_vma`) and keeps the sticky flags of both. The absorbed
/// VMA, if any, the caller has already removed.
fn commit_merge(mm: &mut Mm, target: u64, start: u64, pgoff: u64, end: u64, anon_vma: Option<u32>, sticky: VmFlags) {
    if start == target {
        // The target keeps its start: updated in place, no re-keying.
        if let Some(v) = mm.vmas.get_mut(&target) {
            v.pgoff = pgoff;
            v.end = end;
            v.anon_vma = v.anon_vma.or(anon_vma);
            v.flags |= sticky & VmFlags::STICKY;
        }
        return;
    }
    let Some(mut v) = mm.remove(target) else { return };
    v.start = start;
    v.pgoff = pgoff;
    v.end = end;
    v.anon_vma = v.anon_vma.or(anon_vma);
    v.flags |= sticky & VmFlags::STICKY;
    mm.insert(v);
}

impl Kernel {
    /// `vma_merge_new_range()`: extend a neighbour instead of adding `new`.
    pub fn vma_merge_new_range(&mut self, pid: Pid, new: &Vma) -> KResult<bool> {
        let mm = self.mm_mut(pid)?;
        let prev = mm.prev_vma(new.start).filter(|p| is_mergeable_vma(p, new)).map(|p| (p.start, p.pgoff));
        let next = mm.vma_at(new.end).filter(|n| is_mergeable_vma(new, n)).map(|n| n.start);
        match (prev, next) {
            (Some((p, ppgoff)), Some(n)) => {
                let (pv, nv) = (mm.vmas[&p].anon_vma, mm.vmas[&n].anon_vma);
                if pv.is_some() && nv.is_some() && pv != nv {
                    // Only the left merge is allowed.
                    commit_merge(mm, p, p, ppgoff, new.end, None, new.flags);
                } else if let Some(nx) = mm.remove(n) {
                    commit_merge(mm, p, p, ppgoff, nx.end, nx.anon_vma, new.flags | nx.flags);
                }
                Ok(true)
            }
            (Some((p, ppgoff)), None) => {
                commit_merge(mm, p, p, ppgoff, new.end, None, new.flags);
                Ok(true)
            }
            (None, Some(n)) => {
                let end = mm.vmas[&n].end;
                commit_merge(mm, n, new.start, new.pgoff, end, None, new.flags);
                Ok(true)
            }
            (None, None) => Ok(false),
        }
    }

    /// `split_vma()`: `__split_vma()` after checking `map_count` against
    /// `max_map_count`. A split at a VMA's start is no split and passes.
    pub fn split_vma(&mut self, pid: Pid, addr: u64) -> KResult<()> {
        self.split_vma_at(pid, addr, true)
    }

    /// `__split_vma()`: split the VMA containing `addr` at `addr`. It does
    /// not check `map_count`: the munmap path checks it only for a split in
    /// the middle of one VMA, letting the count go above the limit
    /// temporarily (mm/vma.c).
    pub fn __split_vma(&mut self, pid: Pid, addr: u64) -> KResult<()> {
        self.split_vma_at(pid, addr, false)
    }

    /// The split itself, with one lookup of the VMA: `vm_ops->may_split`,
    /// then (for `split_vma()`) the `map_count` check, then the lower half
    /// shrinks in place and the upper half (`vm_area_dup()`) is inserted.
    fn split_vma_at(&mut self, pid: Pid, addr: u64, check_count: bool) -> KResult<()> {
        let mm = self.mm_mut(pid)?;
        let full = mm.map_count() >= mm.max_map_count;
        let Some(lo) = mm.vma_at_mut(addr) else { return Ok(()) };
        if lo.start == addr {
            return Ok(());
        }
        if let Some(ops) = &lo.ops {
            ops.may_split(lo, addr)?;
        }
        if check_count && full {
            return Err(Errno::ENOMEM);
        }
        let hi = split_off_upper(lo, addr);
        // vm_area_dup() takes a reference on the file for the new half.
        let shmem = hi.shmem_inode();
        mm.vmas.insert_box(hi);
        if let Some(inode) = shmem {
            self.shmem_get(inode);
        }
        Ok(())
    }

    /// `vma_merge_existing_range()`: after the VMA at `start` changed
    /// (`vma_modify`, mremap), merge it with its neighbours where the rules
    /// allow.
    pub fn vma_merge_existing_range(&mut self, pid: Pid, start: u64) -> KResult<()> {
        self.vma_merge_existing_range_end(pid, start).map(|_| ())
    }

    /// `vma_merge_existing_range()` returning the end of the VMA that now
    /// holds `start` (what `vma_iter_end()` reads after `mprotect_fixup()`),
    /// `None` when no VMA starts at `start`.
    pub(crate) fn vma_merge_existing_range_end(&mut self, pid: Pid, start: u64) -> KResult<Option<u64>> {
        let mm = self.mm_mut(pid)?;
        // The VMA and the ones before and after it in one search.
        let Some((prev, v, after)) = mm.vmas.get_with_neighbours(&start) else { return Ok(None) };
        let prev = prev.filter(|p| p.end <= start && is_mergeable_vma(p, v));
        let mut cur_start = start;
        let mut cur_end = v.end;
        // The next VMA is the one starting at the end of this one
        // (`vma_at(cur.end)`: VMAs do not overlap). Without a merge on the
        // left, `cur` is `v`, already in hand.
        let mut next = match prev {
            Some(_) => None,
            None => after.filter(|n| is_mergeable_vma(v, n)).map(|n| (v.start, v.pgoff, n.start)),
        };
        let merge_left = prev.is_some();
        // A VMA merged away drops its file reference (remove_vma/fput).
        let mut gone = Vec::new();
        if let Some((p, ppgoff)) = prev.map(|p| (p.start, p.pgoff))
            && let Some(v) = mm.remove(start)
        {
            gone.extend(v.shmem_inode());
            commit_merge(mm, p, p, ppgoff, v.end, v.anon_vma, v.flags);
            cur_start = p;
        }
        if merge_left {
            next = mm.vmas.get(&cur_start).and_then(|cur| {
                let n = mm.vmas.get(&cur.end).filter(|n| is_mergeable_vma(cur, n))?;
                Some((cur.start, cur.pgoff, n.start))
            });
        }
        if let Some((cs, cpgoff, n)) = next
            && let Some(nx) = mm.remove(n)
        {
            gone.extend(nx.shmem_inode());
            commit_merge(mm, cur_start, cs, cpgoff, nx.end, nx.anon_vma, nx.flags);
        }
        if let Some(cur) = mm.vmas.get(&cur_start).filter(|_| merge_left || next.is_some()) {
            cur_end = cur.end;
        }
        for inode in gone {
            self.shmem_put(inode);
        }
        Ok(Some(cur_end))
    }

    /// `vma_modify_flags()`: give the part `[start, end)` of the VMA `v`
    /// the flags `newflags`: split at the edges, set, merge
    /// (`vma_modify()` → `vma_merge_existing_range()`).
    pub fn vma_modify_flags(&mut self, pid: Pid, v: &Vma, start: u64, end: u64, newflags: VmFlags) -> KResult<()> {
        self.vma_modify_flags_end(pid, v, start, end, newflags).map(|_| ())
    }

    /// `vma_modify_flags()` returning the end of the VMA that now holds
    /// the start of the range (see [`Kernel::vma_merge_existing_range_end`]).
    /// The VMA `v` the caller holds is found by its start, as the kernel's
    /// caller passes the `vma` itself.
    pub(crate) fn vma_modify_flags_end(
        &mut self,
        pid: Pid,
        v: &Vma,
        start: u64,
        end: u64,
        newflags: VmFlags,
    ) -> KResult<Option<u64>> {
        let (s, e) = (v.start.max(start), v.end.min(end));
        let split = self.split_vma_range(pid, v.start, s, e, newflags)?;
        if split == Some(false) {
            // Split on both sides and mergeable with neither part:
            // `vma_merge_existing_range()` would find nothing to do.
            return Ok(Some(e));
        }
        if split.is_none() {
            // `v` is not in the tree as the caller saw it: split by address.
            self.split_vma(pid, s)?;
            if e < v.end {
                self.split_vma(pid, e)?;
            }
            if let Some(m) = self.mm_mut(pid)?.vmas.get_mut(&s) {
                m.flags = newflags;
            }
        }
        self.vma_merge_existing_range_end(pid, s)
    }

    /// `split_vma(vma, s)` then `split_vma(middle, e)` and the new flags on
    /// `[s, e)`, as `vma_modify()` does them, with the VMA found once by
    /// its start `vstart` and the middle part inserted once. The same
    /// checks in the same order as two [`Kernel::split_vma`] calls
    /// (`may_split`, then `map_count`, per split; a failing second split
    /// leaves the first). `Ok(None)`, with nothing done, when no VMA
    /// starting at `vstart` holds `[s, e)`; `Ok(Some(false))` when it was
    /// split on both sides and the middle can merge with neither part
    /// (`is_mergeable_vma()`: its neighbours are those two parts), else
    /// `Ok(Some(true))`.
    fn split_vma_range(&mut self, pid: Pid, vstart: u64, s: u64, e: u64, newflags: VmFlags) -> KResult<Option<bool>> {
        let mm = self.mm_mut(pid)?;
        let (count, max) = (mm.map_count(), mm.max_map_count);
        let Some((slot, lo)) = mm.vmas.get_mut_slot(&vstart).filter(|(_, l)| s < e && l.start <= s && e <= l.end)
        else {
            return Ok(None);
        };
        let vend = lo.end;
        let mut refs = Vec::new();
        // split_vma(vma, s): the upper part, not yet in the tree.
        let mut mid = None;
        if s > lo.start {
            if let Some(ops) = &lo.ops {
                ops.may_split(lo, s)?;
            }
            if count >= max {
                return Err(Errno::ENOMEM);
            }
            let m = split_off_upper(lo, s);
            // vm_area_dup() takes a reference on the file for the new half.
            refs.extend(m.shmem_inode());
            mid = Some(m);
        }
        // split_vma(middle, e), then vm_flags_reset() on the middle.
        let count = count + usize::from(mid.is_some());
        let target = match mid.as_mut() {
            Some(m) => &mut **m,
            None => &mut *lo,
        };
        let r = if e < vend {
            match target.ops.as_ref().map_or(Ok(()), |ops| ops.may_split(target, e)) {
                Err(err) => Err(err),
                Ok(()) if count >= max => Err(Errno::ENOMEM),
                Ok(()) => {
                    let hi = split_off_upper(target, e);
                    refs.extend(hi.shmem_inode());
                    target.flags = newflags;
                    Ok(Some(hi))
                }
            }
        } else {
            target.flags = newflags;
            Ok(None)
        };
        let alone = match (&mid, &r) {
            (Some(m), Ok(Some(hi))) => !is_mergeable_vma(lo, m) && !is_mergeable_vma(m, hi),
            _ => false,
        };
        // Both new parts go in just after `lo`, where the walk stands.
        let slot = match mid {
            Some(m) => mm.vmas.insert_after(slot, m),
            None => slot,
        };
        let r = r.map(|hi| hi.map(|hi| mm.vmas.insert_after(slot, hi)));
        for inode in refs {
            self.shmem_get(inode);
        }
        r.map(|_| Some(!alone))
    }

    /// The callers' walk (`for_each_vma_range` in madvise, mlock, mseal):
    /// `vma_modify_flags()` on every VMA in `[start, end)` (which the
    /// caller has checked is fully mapped when it must be). `change`
    /// returns the new flags; a VMA whose flags stay the same is left alone.
    pub fn vma_modify_flags_range(
        &mut self,
        pid: Pid,
        start: u64,
        end: u64,
        mut change: impl FnMut(&Vma) -> KResult<VmFlags>,
    ) -> KResult<()> {
        for vstart in self.mm(pid)?.starts_in(start, end) {
            let Some(v) = self.mm(pid)?.vmas.get(&vstart).cloned() else { continue };
            let newflags = change(&v)?;
            if newflags == v.flags {
                continue;
            }
            self.vma_modify_flags(pid, &v, start, end, newflags)?;
        }
        Ok(())
    }

    // ---- munmap ------------------------------------------------------

    /// `do_vmi_munmap()`: munmap(2) of `[start, start + len)`.
    pub fn do_vmi_munmap(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64) -> KResult<u64> {
        if start & !PAGE_MASK != 0 || start > TASK_SIZE || len > TASK_SIZE - start {
            return Err(Errno::EINVAL);
        }
        let end = start + page_align_up(len).ok_or(Errno::EINVAL)?;
        if end == start {
            return Err(Errno::EINVAL);
        }
        // The splits' vm_area_dup() first; the objects of the unmapped
        // VMAs go back at the end (kernel/slab.rs).
        let splits = self.vm_area_splits(pid, start, end);
        self.with_vm_area_objs(hv, pid, splits, |k, hv| {
            if k.vms_gather_munmap_vmas(pid, start, end)? {
                k.unmap_range(hv, pid, start, end, true)?;
            }
            Ok(0)
        })
    }

    /// `vms_gather_munmap_vmas()` (mm/vma.c, 6.12): the VMAs of
    /// `[start, end)` split at both ends, ready to unmap. A split inside the
    /// first VMA first (after the map_count and seal checks of that VMA),
    /// then each VMA is checked for a seal (the first split stays when one
    /// refuses, as on the host), then the split at the end. `false` when no
    /// VMA intersects the range. The split VMAs stay split whatever the
    /// caller does next: `vms_abort_munmap_vmas()` only reattaches them.
    pub fn vms_gather_munmap_vmas(&mut self, pid: Pid, start: u64, end: u64) -> KResult<bool> {
        // What the checks need of the VMAs in the range, read before the
        // first split (which seals nothing): no copies of the VMAs.
        let (first_start, first_end, first_sealed, any_sealed, at_max) = {
            let mm = self.mm(pid)?;
            let mut vmas = mm.vmas_in(start, end);
            let Some(first) = vmas.next() else { return Ok(false) };
            let first_sealed = first.flags.contains(VmFlags::SEALED);
            let any_sealed = first_sealed || vmas.any(|v| v.flags.contains(VmFlags::SEALED));
            (first.start, first.end, first_sealed, any_sealed, mm.map_count() >= mm.max_map_count)
        };
        if start > first_start {
            if end < first_end && at_max {
                return Err(Errno::ENOMEM);
            }
            if first_sealed {
                return Err(Errno::EPERM);
            }
            self.__split_vma(pid, start)?;
        }
        if any_sealed {
            return Err(Errno::EPERM);
        }
        self.__split_vma(pid, end)?;
        Ok(true)
    }

    /// Tear down every VMA fully inside `[start, end)` (already split):
    /// MMU notifiers, zap, page-table freeing, close.
    pub fn unmap_range(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        start: u64,
        end: u64,
        free_tables: bool,
    ) -> KResult<()> {
        self.mmu_notifier_invalidate(hv, pid, start, end);
        let starts = self.mm(pid)?.starts_in(start, end);
        for s in &starts {
            let Some(v) = self.mm(pid)?.vmas.get(s).cloned() else { continue };
            self.zap_vma_range(hv, pid, &v, v.start, v.end, true);
        }
        let mut removed = Vec::new();
        {
            let mm = self.mm_mut(pid)?;
            for s in &starts {
                if let Some(v) = mm.remove(*s) {
                    mm.stat_account(v.flags, -(v.pages() as i64));
                    if v.flags.contains(VmFlags::LOCKED) {
                        mm.locked_vm = mm.locked_vm.saturating_sub(v.pages());
                    }
                    removed.push(v);
                }
            }
        }
        if free_tables {
            self.free_pgtables(pid, start, end)?;
        }
        for v in removed {
            self.remove_vma(hv, v);
        }
        Ok(())
    }

    /// `remove_vma()`: `vm_ops->close` and drop the file reference.
    pub fn remove_vma(&mut self, hv: &mut Hypervisor, v: Vma) {
        if let Some(ops) = v.ops.clone() {
            ops.close(self, hv, &v);
        }
        if let Some(VmaFile::Shmem { inode }) = v.file {
            self.shmem_put(inode);
        }
    }

    /// `free_pgtables()`: free the page tables wholly inside the hole left
    /// between the neighbouring VMAs.
    pub fn free_pgtables(&mut self, pid: Pid, start: u64, end: u64) -> KResult<()> {
        let mm = self.mm(pid)?;
        let floor = mm.prev_vma(start).map_or(0, |v| v.end);
        let ceiling = mm.find_vma(end).map_or(TASK_SIZE + PAGE_SIZE, |v| v.start);
        let pgd = mm.pgd;
        let freed = self.pt.free_empty_tables(pgd, floor, ceiling);
        for f in freed {
            self.free_pt_page(f);
        }
        Ok(())
    }
}

/// The halving both `__split_vma()` paths share: `vm_area_dup()` of `lo`
/// as the part from `addr` up (pgoff advanced, `vm_ops->open` called),
/// `lo` shrunk to end at `addr`. The caller inserts the new part.
fn split_off_upper(lo: &mut Vma, addr: u64) -> Box<Vma> {
    // Cloned into its box, allocated first: no copy of the VMA on the way
    // into the tree.
    let mut hi = Box::write(Box::new_uninit(), lo.clone());
    lo.end = addr;
    hi.pgoff += (addr - hi.start) >> 12;
    hi.start = addr;
    if let Some(ops) = &hi.ops {
        ops.open(&hi);
    }
    hi
}
