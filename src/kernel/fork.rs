//! fork(2) and exit(2) for the address space: `dup_mm`, `copy_page_range`,
//! `exit_mmap`.
//!
//! Follows `kernel/fork.c` (`dup_mmap`) and `mm/memory.c`
//! (`copy_page_range`, `vma_needs_copy`, `copy_present_ptes`,
//! `copy_present_page`), `mm/mmap.c` (`exit_mmap`).

use crate::arch::pagetable::PteSlot;
use crate::arch::x86_64::{Pte, PteFlags};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::memory::{NormalPage, is_guard_marker};
use crate::kernel::mm::{Mm, RssCounter, mm_counter};
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile};
use crate::kernel::oom_kill::{GFP_PGTABLE_USER, GFP_PGTABLE_USER_ALLOC, GFP_USER_PAGE};
use crate::kernel::page::{PageFlags, Pfn};
use crate::kernel::pte::{PteBatch, PteScratch, pte_present};
use crate::kernel::zap::entries_reading_ahead;
use crate::kernel::{Kernel, Pid, Process};

impl Kernel {
    /// fork(2): a new process whose mm is a copy of `parent`'s.
    pub fn sys_fork(&mut self, hv: &mut Hypervisor, parent: Pid) -> KResult<Pid> {
        let p = self.proc_ref(parent)?;
        // copy_process(): EAGAIN once nr_threads reaches max_threads
        // (kernel/fork.c set_max_threads: RAM / (8 * THREAD_SIZE), at least
        // MIN_THREADS = 20; THREAD_SIZE is 16 KiB on x86-64).
        let max_threads = (self.mem.len() / (8 * 4)).max(20);
        if self.procs.len() as u64 >= max_threads {
            return Err(Errno::EAGAIN);
        }
        let (uid, rl, files, cap_sys_resource, comm, oom) =
            (p.uid, p.rlimits.clone(), p.files.clone(), p.cap_sys_resource, p.comm.clone(), p.oom);
        let old = p.mm.clone();
        // mm_init() -> mm_alloc_pgd() -> pgd_alloc(): GFP_PGTABLE_USER
        // (arch/x86/mm/pgtable.c _pgd_alloc), through the OOM killer.
        let pgd = self.alloc_may_oom(hv, parent, GFP_PGTABLE_USER, |k| k.alloc_pt_page())?;
        let mut mm = Mm::new(pgd, old.mmap_base, old.start_brk);
        mm.brk = old.brk;
        // mlockall(MCL_FUTURE) and VM_LOCKED are not inherited.
        mm.def_flags = old.def_flags.difference(VmFlags::LOCKED_MASK);
        mm.max_map_count = old.max_map_count;
        // arch_dup_pkeys() (arch/x86/include/asm/mmu_context.h).
        mm.pkey_allocation_map = old.pkey_allocation_map;
        mm.execute_only_pkey = old.execute_only_pkey;
        let child = self.alloc_pid();
        self.procs.insert(
            child,
            Process { pid: child, parent: Some(parent), uid, mm, files, rlimits: rl, cap_sys_resource, comm, oom },
        );
        // The child is not on the task list until copy_process() is done
        // (attach_pid after copy_mm): the OOM killer does not see it.
        self.oom.forking.push(child);
        let mut r = self.dup_mmap(hv, parent, child, &old);
        self.oom.forking.retain(|&c| c != child);
        // copy_process(): "Let kill terminate clone/fork in the middle":
        // a parent the OOM killer chose while it copied gets -EINTR (and
        // dies of the SIGKILL on its way out: the call ends KILLED).
        if r.is_ok() && self.tsk_is_oom_victim(parent) {
            r = Err(Errno::EINTR);
        }
        if let Err(e) = r {
            let _ = self.exit_mm(hv, child);
            self.procs.remove(&child);
            // copy_process() allocates the pid after copy_mm(): a fork that
            // fails there uses none, so the next fork gets this one.
            if self.next_pid == child + 1 {
                self.next_pid = child;
            }
            return Err(e);
        }
        self.vm_area_cache_shrink();
        Ok(child)
    }

    /// `dup_mmap()`. On failure the caller tears the child's mm down with
    /// `exit_mmap()` (kernel/fork.c: dup_mm() -> "free_pt: mmput(mm)"),
    /// which undoes every VMA, PTE, reference and RSS count copied so far:
    /// each copied entry is in the child's tables before its reference is
    /// counted, so teardown finds them all.
    fn dup_mmap(&mut self, hv: &mut Hypervisor, parent: Pid, child: Pid, old: &Mm) -> KResult<()> {
        // The VMAs of every mm, counted once (kernel/slab.rs).
        let mut live = self.nr_vm_area_structs();
        for v in old.vmas.values() {
            if v.flags.contains(VmFlags::DONTCOPY) {
                continue;
            }
            if v.flags.contains(VmFlags::ACCOUNT) {
                self.vm_enough_memory(parent, v.pages())?;
            }
            // vm_area_dup(): kmem_cache_alloc(vm_area_cachep, GFP_KERNEL),
            // through the OOM killer (kernel/slab.rs).
            live = self.vm_area_reserve(hv, parent, live, 1)? + 1;
            let mut nv: Vma = v.clone();
            nv.flags.remove(VmFlags::LOCKED_MASK);
            // anon_vma_fork(): the child gets an anon_vma of its own.
            if nv.anon_vma.is_some() {
                nv.anon_vma = Some(self.new_anon_vma());
                nv.anon_chain_forked = true;
            }
            if v.flags.contains(VmFlags::WIPEONFORK) {
                nv.anon_vma = None;
                nv.anon_chain_forked = false;
            }
            if let Some(ops) = &nv.ops {
                ops.open(&nv);
            }
            if let Some(VmaFile::Shmem { inode }) = nv.file {
                self.shmem_get(inode);
            }
            {
                let mm = self.mm_mut(child)?;
                mm.stat_account(nv.flags, nv.pages() as i64);
                mm.insert(nv.clone());
            }
            // vma_needs_copy(): only anon memory and PFN/MIXED maps need
            // their PTEs copied; file pages refault. WIPEONFORK never.
            let needs = !v.flags.contains(VmFlags::WIPEONFORK)
                && (v.flags.intersects(VmFlags::PFNMAP | VmFlags::MIXEDMAP | VmFlags::MAYBE_GUARD)
                    || v.anon_vma.is_some());
            if needs {
                self.copy_page_range(hv, parent, child, v, &nv)?;
            }
        }
        Ok(())
    }

    /// `copy_page_range()` for one VMA. As `copy_pte_range()` does, the
    /// RSS of the child is counted in a local `rss[]` and added once
    /// (`add_mm_rss_vec()`), on success and on failure alike, so teardown
    /// of a failed fork finds the counters matching the copied entries.
    fn copy_page_range(&mut self, hv: &mut Hypervisor, parent: Pid, child: Pid, src: &Vma, dst: &Vma) -> KResult<()> {
        let mut rss = [0i64; 4];
        let r = self.copy_pte_range(hv, parent, child, src, dst, &mut rss);
        let mm = self.mm_mut(child)?;
        for (c, n) in rss.iter().enumerate() {
            mm.rss[c] += n;
        }
        r
    }

    /// The PTE loop of `copy_page_range()` (`copy_pte_range()`,
    /// `copy_present_ptes()`): one source page table at a time, as
    /// `copy_pmd_range()` hands each PMD entry's table to
    /// `copy_pte_range()`; the child's leaf table is allocated once per
    /// table (`pte_alloc_map_lock()`), not once per PTE.
    fn copy_pte_range(
        &mut self,
        hv: &mut Hypervisor,
        parent: Pid,
        child: Pid,
        src: &Vma,
        dst: &Vma,
        rss: &mut [i64; 4],
    ) -> KResult<()> {
        let pgd = self.mm(parent)?.pgd;
        // Each source PTE page is read once (under its lock, in Linux)
        // and then walked by index.
        let PteScratch { mut ptes, mut batch } = self.scratch.take();
        // Natively the stores of one table are plain writes under its PTE
        // lock: they are kept here and written with one lookup per table
        // (before any error returns, so teardown finds every copied entry).
        // A PV guest's go one by one to Xen (`set_pte_batched`).
        let native = !self.pv;
        let res = 'tables: {
            for (base, table) in self.pt.leaf_tables(pgd, src.start, src.end) {
                let Some(range) = self.pt.read_leaf_table(base, table, (src.start, src.end), &mut ptes) else {
                    continue;
                };
                // The child's leaf table for this PMD.
                let mut dst_table: Option<u64> = None;
                let mut r = Ok(());
                for (i, pte, ahead) in entries_reading_ahead(&ptes, range) {
                    if native && let Some(a) = ahead {
                        self.mem.prefetch(a);
                    }
                    let at = (base + ((i as u64) << 12), PteSlot { table, index: i as u16 }, pte);
                    r = self.copy_one_pte(
                        hv,
                        (parent, child),
                        src,
                        dst,
                        at,
                        &mut dst_table,
                        rss,
                        native.then_some(&mut batch),
                    );
                    if r.is_err() {
                        break;
                    }
                }
                if native {
                    batch.src.flush(&mut self.pt, table);
                    // (Without a child table nothing was copied: `dst` is empty.)
                    if let Some(t) = dst_table {
                        batch.dst.flush(&mut self.pt, t);
                    }
                }
                if r.is_err() {
                    break 'tables r;
                }
            }
            Ok(())
        };
        self.scratch.put(ptes, batch);
        res
    }

    /// `set_pte_at()` in `copy_pte_range()`: kept in `batch` natively
    /// (`dst`: the child's table, else the parent's), else to Xen.
    #[inline(always)]
    fn copy_set_pte(&mut self, hv: &mut Hypervisor, slot: PteSlot, new: Pte, batch: Option<&mut PteBatch>, dst: bool) {
        match batch {
            Some(b) if dst => b.dst.push(slot.index, new),
            Some(b) => b.src.push(slot.index, new),
            None => self.set_pte_batched(hv, slot, new),
        }
    }

    /// One entry of `copy_pte_range()`: a guard marker is copied, a
    /// present PTE is copied by `copy_present_ptes()` (or
    /// `copy_present_page()` for a pinned anonymous page). Inlined into the
    /// per-table loop; what is rare is out of line. The forking task
    /// (`current`, the parent) allocates the child's tables and pages,
    /// through the OOM killer (GFP_PGTABLE_USER; folio_prealloc).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn copy_one_pte(
        &mut self,
        hv: &mut Hypervisor,
        (current, child): (Pid, Pid),
        src: &Vma,
        dst: &Vma,
        (addr, sslot, pte): (u64, PteSlot, Pte),
        dst_table: &mut Option<u64>,
        rss: &mut [i64; 4],
        mut batch: Option<&mut PteBatch>,
    ) -> KResult<()> {
        if !pte_present(pte) {
            if is_guard_marker(pte) {
                self.copy_pte_marker(hv, (current, child), addr, pte)?;
            }
            return Ok(());
        }
        // copy_pte_range(): the child's table first
        // (pte_alloc_map_lock), so that a failure takes no reference.
        let d = match *dst_table {
            // The same address: the same index as the parent's entry.
            Some(table) => PteSlot { table, index: sslot.index },
            None => {
                let d = self.copy_pte_alloc(hv, (current, child), addr)?;
                *dst_table = Some(d.table);
                d
            }
        };
        let np = self.vm_normal_page(hv, src, addr, pte);
        let mut cpte = pte;
        if let NormalPage::Page(pfn) = np {
            let p = self.mem.page_mut(pfn);
            let anon = p.is_anon();
            if anon && p.flags.contains(PageFlags::ANON_EXCLUSIVE) && p.maybe_dma_pinned() {
                let entry = self.copy_present_page(hv, (current, child), dst, addr, pte, pfn)?;
                self.copy_set_pte(hv, d, entry, batch, true);
                rss[RssCounter::Anon as usize] += 1;
                return Ok(());
            }
            p.refcount += 1;
            p.mapcount += 1;
            let c = if anon {
                p.flags.remove(PageFlags::ANON_EXCLUSIVE);
                RssCounter::Anon
            } else {
                mm_counter(p)
            };
            rss[c as usize] += 1;
        }
        if src.flags.is_cow() && pte.write() {
            // ptep_set_wrprotect() in the parent.
            let wp = pte.clear(PteFlags::RW);
            self.copy_set_pte(hv, sslot, wp, batch.as_deref_mut(), false);
            cpte = cpte.clear(PteFlags::RW);
        }
        if src.flags.contains(VmFlags::SHARED) {
            cpte = cpte.clear(PteFlags::DIRTY);
        }
        cpte = cpte.clear(PteFlags::ACCESSED);
        // A copy Xen refuses is dropped with a WARN; the reference,
        // mapcount and RSS taken above stay, as in Linux.
        self.copy_set_pte(hv, d, cpte, batch, true);
        Ok(())
    }

    /// The child's leaf table for `addr` (`pte_alloc_map_lock()`),
    /// allocated by the forking task through the OOM killer.
    #[cold]
    #[inline(never)]
    fn copy_pte_alloc(&mut self, hv: &mut Hypervisor, (current, child): (Pid, Pid), addr: u64) -> KResult<PteSlot> {
        self.alloc_may_oom(hv, current, GFP_PGTABLE_USER_ALLOC, |k| k.pte_alloc(child, addr))
    }

    /// `copy_nonpresent_pte()` for a guard marker: copied as it is.
    #[cold]
    #[inline(never)]
    fn copy_pte_marker(
        &mut self,
        hv: &mut Hypervisor,
        (current, child): (Pid, Pid),
        addr: u64,
        pte: Pte,
    ) -> KResult<()> {
        let d = self.copy_pte_alloc(hv, (current, child), addr)?;
        self.pt.set(d, pte);
        Ok(())
    }

    /// `copy_present_page()`: a pinned anonymous page is copied now, into
    /// the folio `copy_pte_range()` allocated first (`folio_prealloc`;
    /// -ENOMEM before anything is taken). Returns the child's PTE.
    #[cold]
    #[inline(never)]
    fn copy_present_page(
        &mut self,
        hv: &mut Hypervisor,
        (current, child): (Pid, Pid),
        dst: &Vma,
        addr: u64,
        pte: Pte,
        pfn: Pfn,
    ) -> KResult<Pte> {
        let new = self.alloc_page_may_oom(hv, current, GFP_USER_PAGE)?;
        let av = match self.anon_vma_prepare(child, dst.start) {
            Ok(av) => av,
            Err(e) => {
                let _ = self.mem.put_page(new);
                return Err(e);
            }
        };
        self.copy_page(hv, new, pfn);
        self.folio_add_new_anon_rmap(new, av, dst.linear_index(addr));
        Ok(Pte::new(self.mk_pte_frame(new), pte.flags()))
    }

    /// exit(2): tear the address space down and close every file.
    pub fn sys_exit(&mut self, hv: &mut Hypervisor, pid: Pid) -> KResult<()> {
        self.proc_ref(pid)?;
        // __mmput(): exit_aio() waits for the task's in-flight requests
        // before exit_mmap(); the devices finish them.
        let nodes: Vec<_> = self.devices.values().cloned().collect();
        for n in nodes {
            n.exit_aio(self, hv, pid);
        }
        self.exit_mm(hv, pid)?;
        let files = self.proc_mut(pid)?.files.drain();
        for f in files {
            self.fput(hv, f);
        }
        self.procs.remove(&pid);
        Ok(())
    }

    /// `exit_mmap()`: notifiers, unmap every VMA, free every table.
    pub fn exit_mm(&mut self, hv: &mut Hypervisor, pid: Pid) -> KResult<()> {
        self.mmu_notifier_release(hv, pid);
        let starts: Vec<u64> = self.mm(pid)?.vmas.keys().copied().collect();
        if let (Some(&first), Some(last)) = (starts.first(), self.mm(pid)?.vmas.values().next_back().map(|v| v.end)) {
            self.unmap_range(hv, pid, first, last, false)?;
        }
        let pgd = self.mm(pid)?.pgd;
        for t in self.pt.all_tables_under(pgd) {
            self.free_pt_page(t);
        }
        let mm = self.mm_mut(pid)?;
        mm.locked_vm = 0;
        // check_mm() (kernel/fork.c): one alert per non-zero counter, named
        // as resident_page_types[] names them. `mm:%p` is a hashed pointer
        // in Linux; the model has no address for the mm and prints the pid.
        let rss = mm.rss;
        const TYPES: [&str; 4] = ["MM_FILEPAGES", "MM_ANONPAGES", "MM_SWAPENTS", "MM_SHMEMPAGES"];
        for (ty, x) in TYPES.iter().zip(rss) {
            if x != 0 {
                self.log(Some(pid), format!("BUG: Bad rss-counter state mm:{pid:016x} type:{ty} val:{x}"));
            }
        }
        // remove_vma() -> vm_area_free() of every VMA (kernel/slab.rs).
        self.vm_area_cache_shrink();
        Ok(())
    }

    /// The last reference to an open file went away (`fput`).
    pub fn fput(&mut self, hv: &mut Hypervisor, f: std::rc::Rc<crate::kernel::file::OpenFile>) {
        if std::rc::Rc::strong_count(&f) > 1 {
            return;
        }
        match &f.kind {
            crate::kernel::file::FileKind::Shmem { inode } => self.shmem_put(*inode),
            crate::kernel::file::FileKind::Device(d) => d.clone().release(self, hv),
        }
    }
}
