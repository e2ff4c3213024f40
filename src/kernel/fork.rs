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
use crate::kernel::page::{PREFETCH_AHEAD, Page, PageFlags, Pfn};
use crate::kernel::pte::pte_present;
use crate::kernel::zap::{PteStep, Run, native_normal_page};
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
    /// table (`pte_alloc_map_lock()`), not once per PTE. Natively a busy
    /// table is copied in place ([`Kernel::copy_dense_run`]); the rest
    /// entry by entry.
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
        for (base, table) in self.pt.leaf_tables(pgd, src.start, src.end) {
            // The child's leaf table for this PMD.
            let mut dst_table: Option<u64> = None;
            self.walk_pte_page((base, table), (src.start, src.end), |k, s| match s {
                PteStep::Run(i, hi) => Ok(k.copy_dense_run(src, table, dst_table, (i, hi), rss)),
                PteStep::One(at) => {
                    k.copy_one_pte(hv, (parent, child), (src, dst), at, &mut dst_table, rss).map(|()| Run::Done)
                }
            })?;
        }
        Ok(())
    }

    /// `copy_present_ptes()` natively over a run `[i, hi]` of a busy
    /// source table, in place (one PTE page of the parent's and the
    /// child's, each under its lock): every present entry with a
    /// `struct page` that is not a pinned exclusive anonymous page. The
    /// first entry it leaves to [`Kernel::copy_one_pte`] (anything else,
    /// or the first entry at all while the child has no table yet) stops
    /// the run there, untouched.
    #[inline(never)]
    fn copy_dense_run(
        &mut self,
        src: &Vma,
        table: u64,
        dst_table: Option<u64>,
        (i, hi): (usize, usize),
        rss: &mut [i64; 4],
    ) -> Run {
        let Some(d) = dst_table else {
            return match self.pt.dense_mut(table) {
                Some(s) => s[i..=hi].iter().position(|p| !p.is_none()).map_or(Run::Done, |k| Run::Stopped(i + k)),
                None => Run::NotDense,
            };
        };
        let Some((s, d)) = self.pt.dense_pair_mut(table, d) else { return Run::NotDense };
        let mut mem = self.mem.pages_mut();
        let clear = ForkClear::of(src.flags);
        // The child's entries and the pages first, reading the parent's
        // table; then the parent's write-protects over what was copied.
        let run = &s[i..=hi];
        let mut stop = None;
        for ((k, &pte), child) in run.iter().enumerate().zip(&mut d[i..=hi]) {
            if pte.is_none() {
                continue;
            }
            let copied = native_normal_page(pte, run.get(k + PREFETCH_AHEAD), &mem)
                .is_some_and(|pfn| dup_page_ref(mem.page_mut(pfn), rss));
            if !copied {
                stop = Some(i + k);
                break;
            }
            *child = pte.clear(clear.child);
        }
        let end = stop.unwrap_or(hi + 1);
        if !clear.parent.is_empty() {
            for e in &mut s[i..end] {
                *e = e.clear(clear.parent);
            }
        }
        stop.map_or(Run::Done, Run::Stopped)
    }

    /// One entry of `copy_pte_range()`: a guard marker is copied, a
    /// present PTE is copied by `copy_present_ptes()` (or
    /// `copy_present_page()` for a pinned anonymous page). What is rare is
    /// out of line. The forking task (`current`, the parent) allocates the
    /// child's tables and pages, through the OOM killer (GFP_PGTABLE_USER;
    /// folio_prealloc). Natively `set_pte_at()` is a plain store; in a PV
    /// guest the stores go to Xen (`set_pte_batched`).
    fn copy_one_pte(
        &mut self,
        hv: &mut Hypervisor,
        (current, child): (Pid, Pid),
        (src, dst): (&Vma, &Vma),
        (addr, sslot, pte): (u64, PteSlot, Pte),
        dst_table: &mut Option<u64>,
        rss: &mut [i64; 4],
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
        if let NormalPage::Page(pfn) = np
            && !dup_page_ref(self.mem.page_mut(pfn), rss)
        {
            let entry = self.copy_present_page(hv, (current, child), dst, addr, pte, pfn)?;
            self.set_pte_batched(hv, d, entry);
            rss[RssCounter::Anon as usize] += 1;
            return Ok(());
        }
        let clear = ForkClear::of(src.flags);
        let wp = pte.clear(clear.parent);
        if wp != pte {
            // ptep_set_wrprotect() in the parent.
            self.set_pte_batched(hv, sslot, wp);
        }
        let cpte = pte.clear(clear.child);
        // A copy Xen refuses is dropped with a WARN; the reference,
        // mapcount and RSS taken above stay, as in Linux.
        self.set_pte_batched(hv, d, cpte);
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

/// The `struct page` half of `copy_present_ptes()` for one entry: a
/// reference and a mapcount more, `PG_anon_exclusive` cleared
/// (`folio_try_dup_anon_rmap_pte()`), the child's RSS counted. `false`,
/// with nothing taken, for a pinned exclusive anonymous page, which
/// `copy_present_page()` copies instead.
#[inline(always)]
fn dup_page_ref(p: &mut Page, rss: &mut [i64; 4]) -> bool {
    let anon = p.is_anon();
    if anon && p.flags.contains(PageFlags::ANON_EXCLUSIVE) && p.maybe_dma_pinned() {
        return false;
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
    true
}

/// The bits `copy_present_ptes()` clears in the entries of a VMA with
/// `flags`: in the parent's, the write bit of a COW mapping
/// (`ptep_set_wrprotect()`, when the entry had it); in the child's, the
/// same, the dirty bit in a shared mapping, and the accessed bit
/// (`pte_mkold()`).
struct ForkClear {
    parent: PteFlags,
    child: PteFlags,
}

impl ForkClear {
    #[inline(always)]
    fn of(flags: VmFlags) -> ForkClear {
        let parent = if flags.is_cow() { PteFlags::RW } else { PteFlags::empty() };
        let dirty = if flags.contains(VmFlags::SHARED) { PteFlags::DIRTY } else { PteFlags::empty() };
        ForkClear { parent, child: parent | dirty | PteFlags::ACCESSED }
    }
}
