//! Out of memory: the allocator's last resort and the OOM killer.
//!
//! Follows Linux 6.12 `mm/page_alloc.c` (`__alloc_pages_slowpath`,
//! `__alloc_pages_may_oom`), `mm/oom_kill.c` (`out_of_memory`,
//! `select_bad_process`, `oom_evaluate_task`, `oom_badness`, `dump_header`,
//! `dump_tasks`, `dump_task`, `dump_oom_victim`, `oom_kill_process`,
//! `__oom_kill_process`, `pagefault_out_of_memory`) and
//! `arch/x86/mm/fault.c` (`do_user_addr_fault`: VM_FAULT_OOM in user mode
//! calls `pagefault_out_of_memory()` and returns to user space, which
//! retries the fault or dies of its SIGKILL).
//!
//! An order-0 allocation that may sleep and do I/O (`GFP_KERNEL`,
//! `GFP_HIGHUSER_MOVABLE`, page tables' `GFP_PGTABLE_USER`) never fails for
//! lack of memory in Linux ("too small to fail"): when no page is free the
//! OOM killer picks the task with the highest `oom_badness()` (RSS + swap
//! entries + page-table pages + `oom_score_adj` x totalpages / 1000; on a
//! tie the later task in `for_each_process()` order, as `points <
//! chosen_points` keeps looking), sends it SIGKILL, and the allocation is
//! retried. A victim that is the allocating task itself gets no page (the
//! model has no memory reserves for `ALLOC_OOM`), so its call fails and the
//! task dies on its way back to user space ([`Kernel::exit_to_user_mode`]).
//! Fault injection (`should_fail_alloc_page`, checked in
//! `prepare_alloc_pages` before the slow path) fails the allocation without
//! ever reaching the OOM killer.
//!
//! Simplifications (README.md "Deliberate simplifications"): a victim other
//! than the allocating task exits at once, as `do_exit()` would (Linux
//! delivers the SIGKILL when the victim next runs; the oom_reaper may reap
//! its anonymous memory first and log "oom_reaper: reaped process"); a
//! victim that is the allocating task exits when the call returns. No
//! cpusets, memory cgroups, NUMA or `panic_on_oom` (the oom-kill line has
//! `constraint=CONSTRAINT_NONE,nodemask=(null)` and nothing more); no
//! `dump_stack()` or `show_mem()` output; the printk ratelimits are burst
//! counts per kernel (the model's clock never moves past the first 5 s
//! interval). The model has no init task: pid 1 is an ordinary process, not
//! `is_global_init()`. A task whose exit would sleep for ever on a pinned
//! grant (kernel/hung_task.rs) is not chosen (Linux would choose it and its
//! exit would block). A scenario sets `oom_score_adj` with the call
//! `oom_score_adj(adj)`, a write of /proc/self/oom_score_adj. With no task
//! left to kill, Linux panics; the model sets [`OomState::panicked`] and
//! the runner ends the run there.

use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::hung_task::InvalidatingCall;
use crate::kernel::mm::RssCounter;
use crate::kernel::page::Pfn;
use crate::kernel::{Kernel, Pid};

/// `gfp_t` (include/linux/gfp_types.h, 6.12 bit order).
pub type Gfp = u32;
pub const __GFP_DMA: Gfp = 0x01;
pub const __GFP_HIGHMEM: Gfp = 0x02;
pub const __GFP_DMA32: Gfp = 0x04;
pub const __GFP_MOVABLE: Gfp = 0x08;
pub const __GFP_RECLAIMABLE: Gfp = 0x10;
pub const __GFP_HIGH: Gfp = 0x20;
pub const __GFP_IO: Gfp = 0x40;
pub const __GFP_FS: Gfp = 0x80;
pub const __GFP_ZERO: Gfp = 0x100;
pub const __GFP_DIRECT_RECLAIM: Gfp = 0x400;
pub const __GFP_KSWAPD_RECLAIM: Gfp = 0x800;
pub const __GFP_WRITE: Gfp = 0x1000;
pub const __GFP_NOWARN: Gfp = 0x2000;
pub const __GFP_RETRY_MAYFAIL: Gfp = 0x4000;
pub const __GFP_NOFAIL: Gfp = 0x8000;
pub const __GFP_NORETRY: Gfp = 0x10000;
pub const __GFP_MEMALLOC: Gfp = 0x20000;
pub const __GFP_COMP: Gfp = 0x40000;
pub const __GFP_NOMEMALLOC: Gfp = 0x80000;
pub const __GFP_HARDWALL: Gfp = 0x100000;
pub const __GFP_THISNODE: Gfp = 0x200000;
pub const __GFP_ACCOUNT: Gfp = 0x400000;
pub const __GFP_ZEROTAGS: Gfp = 0x800000;
pub const __GFP_RECLAIM: Gfp = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
pub const GFP_ATOMIC: Gfp = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
pub const GFP_KERNEL: Gfp = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
pub const GFP_KERNEL_ACCOUNT: Gfp = GFP_KERNEL | __GFP_ACCOUNT;
pub const GFP_NOWAIT: Gfp = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;
pub const GFP_NOIO: Gfp = __GFP_RECLAIM;
pub const GFP_NOFS: Gfp = __GFP_RECLAIM | __GFP_IO;
pub const GFP_USER: Gfp = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
pub const GFP_HIGHUSER: Gfp = GFP_USER | __GFP_HIGHMEM;
/// `__GFP_SKIP_KASAN` is 0 without CONFIG_KASAN_HW_TAGS (x86-64).
pub const GFP_HIGHUSER_MOVABLE: Gfp = GFP_HIGHUSER | __GFP_MOVABLE;
pub const GFP_TRANSHUGE_LIGHT: Gfp =
    (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & !__GFP_RECLAIM;
pub const GFP_TRANSHUGE: Gfp = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;
/// `GFP_PGTABLE_USER` (include/asm-generic/pgalloc.h): what x86
/// `_pgd_alloc()` asks for (arch/x86/mm/pgtable.c).
pub const GFP_PGTABLE_USER: Gfp = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT;
/// `GFP_PGTABLE_USER` (include/asm-generic/pgalloc.h) with the `__GFP_COMP`
/// `pagetable_alloc()` adds (include/linux/mm.h): a user page table.
pub const GFP_PGTABLE_USER_ALLOC: Gfp = GFP_KERNEL | __GFP_ZERO | __GFP_ACCOUNT | __GFP_COMP;
/// A zeroed anonymous page: x86 `vma_alloc_zeroed_movable_folio()`
/// (arch/x86/include/asm/page.h) through `vma_alloc_folio()`, which adds
/// `__GFP_COMP` (`folio_alloc_mpol`).
pub const GFP_ANON_ZEROED: Gfp = GFP_HIGHUSER_MOVABLE | __GFP_ZERO | __GFP_COMP;
/// A page copied into (COW, `folio_prealloc(.., need_zero = false)`) or a
/// shmem page (`shmem_alloc_folio` with the mapping's GFP_HIGHUSER_MOVABLE).
pub const GFP_USER_PAGE: Gfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP;

/// `__def_gfpflag_names` (include/trace/events/mmflags.h), in its order.
const GFP_NAMES: &[(Gfp, &str)] = &[
    (GFP_TRANSHUGE, "GFP_TRANSHUGE"),
    (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (GFP_HIGHUSER, "GFP_HIGHUSER"),
    (GFP_USER, "GFP_USER"),
    (GFP_KERNEL_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
    (GFP_KERNEL, "GFP_KERNEL"),
    (GFP_NOFS, "GFP_NOFS"),
    (GFP_ATOMIC, "GFP_ATOMIC"),
    (GFP_NOIO, "GFP_NOIO"),
    (GFP_NOWAIT, "GFP_NOWAIT"),
    (__GFP_DMA, "GFP_DMA"),
    (__GFP_HIGHMEM, "__GFP_HIGHMEM"),
    (__GFP_DMA32, "GFP_DMA32"),
    (__GFP_HIGH, "__GFP_HIGH"),
    (__GFP_IO, "__GFP_IO"),
    (__GFP_FS, "__GFP_FS"),
    (__GFP_NOWARN, "__GFP_NOWARN"),
    (__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"),
    (__GFP_NOFAIL, "__GFP_NOFAIL"),
    (__GFP_NORETRY, "__GFP_NORETRY"),
    (__GFP_COMP, "__GFP_COMP"),
    (__GFP_ZERO, "__GFP_ZERO"),
    (__GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
    (__GFP_MEMALLOC, "__GFP_MEMALLOC"),
    (__GFP_HARDWALL, "__GFP_HARDWALL"),
    (__GFP_THISNODE, "__GFP_THISNODE"),
    (__GFP_RECLAIMABLE, "__GFP_RECLAIMABLE"),
    (__GFP_MOVABLE, "__GFP_MOVABLE"),
    (__GFP_ACCOUNT, "__GFP_ACCOUNT"),
    (__GFP_WRITE, "__GFP_WRITE"),
    (__GFP_RECLAIM, "__GFP_RECLAIM"),
    (__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
    (__GFP_ZEROTAGS, "__GFP_ZEROTAGS"),
];

/// `printk("%#x(%pGg)", gfp, &gfp)`: lib/vsprintf.c `format_flags()` over
/// the names above (each whole mask that matches is printed and cleared;
/// what is left is printed as a number).
pub fn format_gfp(gfp: Gfp) -> String {
    let mut left = gfp;
    let mut names = Vec::new();
    for &(mask, name) in GFP_NAMES {
        if left == 0 {
            break;
        }
        if left & mask == mask {
            names.push(name.to_string());
            left &= !mask;
        }
    }
    if left != 0 {
        names.push(format!("{left:#x}"));
    }
    format!("{gfp:#x}({})", names.join("|"))
}

/// `DEFAULT_RATELIMIT_BURST` (include/linux/ratelimit_types.h).
const RATELIMIT_BURST: u32 = 10;

/// `OOM_SCORE_ADJ_MIN` / `OOM_SCORE_ADJ_MAX` (include/uapi/linux/oom.h).
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;

/// `signal_struct::oom_score_adj` and `oom_score_adj_min` (copied at fork,
/// kernel/fork.c copy_signal).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomScoreAdj {
    pub adj: i16,
    pub min: i16,
}

/// The OOM killer's state in one kernel.
#[derive(Debug, Default)]
pub struct OomState {
    /// Tasks the OOM killer sent SIGKILL to that the caller has not
    /// collected yet ([`Kernel::take_oom_kills`]), in kill order.
    pub killed: Vec<Pid>,
    /// Victims with SIGKILL pending that have not exited yet: the task that
    /// was allocating when it was chosen (`tsk_is_oom_victim(current)`).
    pub sigkill_pending: Vec<Pid>,
    /// Children a fork is still copying (kernel/fork.rs): not yet on the
    /// task list (`attach_pid` comes after `copy_mm` in `copy_process`),
    /// so `for_each_process()` neither chooses nor lists them.
    pub forking: Vec<Pid>,
    /// `oom_rs` and `pfoom_rs`: lines printed so far (ratelimit bursts).
    header_printed: u32,
    leaked_printed: u32,
    /// `panic("System is deadlocked on memory")`: the kernel is dead.
    pub panicked: bool,
}

/// `task_struct::comm` as the model knows it.
fn comm(k: &Kernel, pid: Pid) -> String {
    k.proc_ref(pid).map(|p| p.comm.clone()).unwrap_or_default()
}

/// `K(x)`: pages to KiB.
fn kib(pages: i64) -> i64 {
    pages << 2
}

impl Kernel {
    /// `__alloc_pages()` for an order-0 allocation that may invoke the OOM
    /// killer (`__alloc_pages_slowpath` -> `__alloc_pages_may_oom` ->
    /// `out_of_memory`, then "goto retry"). `alloc` makes the allocation
    /// (one page, or a page-table path): it is retried after each kill.
    /// A failure by fault injection, or with the allocating task already
    /// an OOM victim, is returned as it is.
    pub fn alloc_may_oom<T>(
        &mut self,
        hv: &mut Hypervisor,
        current: Pid,
        gfp: Gfp,
        mut alloc: impl FnMut(&mut Kernel) -> KResult<T>,
    ) -> KResult<T> {
        loop {
            match alloc(self) {
                Ok(x) => return Ok(x),
                Err(Errno::ENOMEM)
                    if !self.mem.last_fail_injected && !self.tsk_is_oom_victim(current) && !self.oom.panicked =>
                {
                    if !self.out_of_memory(hv, current, gfp) {
                        return Err(Errno::ENOMEM);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One user page (`alloc_page(gfp)`) that may invoke the OOM killer.
    pub fn alloc_page_may_oom(&mut self, hv: &mut Hypervisor, current: Pid, gfp: Gfp) -> KResult<Pfn> {
        self.alloc_may_oom(hv, current, gfp, |k| k.mem.alloc())
    }

    /// `tsk_is_oom_victim()`: SIGKILL from the OOM killer is pending.
    pub fn tsk_is_oom_victim(&self, pid: Pid) -> bool {
        self.oom.sigkill_pending.contains(&pid)
    }

    /// `out_of_memory()` for a global OOM (no memcg, no cpuset, no
    /// `panic_on_oom`, `oom_kill_allocating_task` 0): choose and kill a
    /// victim. False when there is none (Linux then panics: "System is
    /// deadlocked on memory"; the model logs it and fails the allocation).
    pub fn out_of_memory(&mut self, hv: &mut Hypervisor, current: Pid, gfp: Gfp) -> bool {
        // "The OOM killer does not compensate for IO-less reclaim."
        if gfp & __GFP_FS == 0 {
            return true;
        }
        let chosen = self.select_bad_process();
        let Some(victim) = chosen else {
            self.dump_header(current, gfp);
            self.log(Some(current), "Out of memory and no killable processes...".to_string());
            self.log(Some(current), "Kernel panic - not syncing: System is deadlocked on memory".to_string());
            self.oom.panicked = true;
            return false;
        };
        self.oom_kill_process(hv, current, gfp, victim, "Out of memory");
        true
    }

    /// `oom_badness()`: `None` for LONG_MIN (unkillable). `totalpages` is
    /// `totalram_pages() + total_swap_pages` (`constrained_alloc`, no swap).
    pub fn oom_badness(&self, pid: Pid) -> Option<i64> {
        let p = self.proc_ref(pid).ok()?;
        let adj = p.oom.adj as i64;
        if adj == OOM_SCORE_ADJ_MIN as i64 {
            return None;
        }
        let totalpages = self.totalram_pages as i64;
        let points = p.mm.get_rss(RssCounter::File)
            + p.mm.get_rss(RssCounter::Anon)
            + p.mm.get_rss(RssCounter::Shmem)
            + p.mm.get_rss(RssCounter::Swap)
            + self.mm_pgtables_bytes(pid) / 4096;
        Some(points + adj * (totalpages / 1000))
    }

    /// `mm_pgtables_bytes()`: the PUD, PMD and PTE tables of the mm (x86-64
    /// counts them in `mm_inc_nr_puds/pmds/ptes`; the PGD is not counted).
    pub fn mm_pgtables_bytes(&self, pid: Pid) -> i64 {
        let Ok(mm) = self.mm(pid) else { return 0 };
        (self.pt.all_tables_under(mm.pgd).len().saturating_sub(1) as i64) * 4096
    }

    /// `select_bad_process()` / `oom_evaluate_task()` over
    /// `for_each_process()` (creation order: ascending pid in the model).
    fn select_bad_process(&self) -> Option<Pid> {
        let mut chosen: Option<(Pid, i64)> = None;
        for &pid in self.procs.keys() {
            if self.check_hung_task(pid, InvalidatingCall::Exit).is_some() {
                continue; // stated simplification, see the module doc
            }
            // tsk_is_oom_victim(task): already killed in this call (its
            // exit failed to free it, or it is current). Linux aborts the
            // scan and waits; the model skips it, so every retry of
            // alloc_may_oom() kills a new task and the loop ends.
            if self.oom.killed.contains(&pid) || self.tsk_is_oom_victim(pid) || self.oom.forking.contains(&pid) {
                continue;
            }
            let Some(points) = self.oom_badness(pid) else { continue };
            if chosen.is_some_and(|(_, best)| points < best) {
                continue;
            }
            chosen = Some((pid, points));
        }
        chosen.map(|(pid, _)| pid)
    }

    /// `dump_header()` without `dump_stack()` and `show_mem()`: the
    /// "invoked oom-killer" line and `dump_tasks()`.
    fn dump_header(&mut self, current: Pid, gfp: Gfp) {
        let adj = self.proc_ref(current).map_or(0, |p| p.oom.adj);
        let line = format!("{} invoked oom-killer: gfp_mask={}, order=0, oom_score_adj={adj}", comm(self, current), {
            format_gfp(gfp)
        });
        self.log(Some(current), line);
        // dump_tasks(), sysctl_oom_dump_tasks = 1.
        self.log(Some(current), "Tasks state (memory values in pages):".to_string());
        self.log(
            Some(current),
            "[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name"
                .to_string(),
        );
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            if self.oom.forking.contains(&pid) {
                continue;
            }
            let Ok(p) = self.proc_ref(pid) else { continue };
            let mm = &p.mm;
            let (anon, file, shmem, swap) = (
                mm.get_rss(RssCounter::Anon),
                mm.get_rss(RssCounter::File),
                mm.get_rss(RssCounter::Shmem),
                mm.get_rss(RssCounter::Swap),
            );
            let line = format!(
                "[{pid:>7}] {:>5} {pid:>5} {:>8} {:>8} {anon:>8} {file:>8} {shmem:>9} {:>8} {swap:>8}         {:>5} {}",
                p.uid,
                mm.total_vm,
                anon + file + shmem,
                self.mm_pgtables_bytes(pid),
                p.oom.adj,
                p.comm
            );
            self.log(Some(current), line);
        }
    }

    /// `oom_kill_process()` + `dump_oom_victim()` + `__oom_kill_process()`:
    /// log, send SIGKILL, and (see the module doc) let the victim exit.
    fn oom_kill_process(&mut self, hv: &mut Hypervisor, current: Pid, gfp: Gfp, victim: Pid, message: &str) {
        if self.oom.header_printed < RATELIMIT_BURST {
            self.oom.header_printed += 1;
            self.dump_header(current, gfp);
            let (name, uid) = (comm(self, victim), self.proc_ref(victim).map_or(0, |p| p.uid));
            let line =
                format!("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task={name},pid={victim},uid={uid}");
            self.log(Some(current), line);
        }
        let Ok(p) = self.proc_ref(victim) else { return };
        let mm = &p.mm;
        let line = format!(
            "{message}: Killed process {victim} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, UID:{} pgtables:{}kB oom_score_adj:{}",
            p.comm,
            kib(mm.total_vm as i64),
            kib(mm.get_rss(RssCounter::Anon)),
            kib(mm.get_rss(RssCounter::File)),
            kib(mm.get_rss(RssCounter::Shmem)),
            p.uid,
            self.mm_pgtables_bytes(victim) >> 10,
            p.oom.adj
        );
        self.log(Some(current), line);
        self.oom.killed.push(victim);
        if victim == current {
            // mark_oom_victim(current): it exits on its way back to user
            // space (exit_to_user_mode), after its allocation has failed.
            self.oom.sigkill_pending.push(victim);
        } else {
            // The victim runs, finds SIGKILL and exits (do_exit -> exit_mm).
            let _ = self.sys_exit(hv, victim);
        }
    }

    /// `pagefault_out_of_memory()` for a user-mode fault that returned
    /// VM_FAULT_OOM: true when the fault is to be retried (x86
    /// `do_user_addr_fault` returns to user space, which faults again),
    /// false when the task has a fatal signal pending (it dies instead).
    /// The OOM killer has already run in the allocator, so the only way to
    /// get here alive is fault injection; the model retries once with the
    /// injected failures spent, as the repeated faults would spend them
    /// (each fails its first allocation), logging the warning each retry
    /// would (ratelimited: the first 10).
    pub fn pagefault_out_of_memory(&mut self, pid: Pid) -> bool {
        if self.tsk_is_oom_victim(pid) || self.oom.panicked {
            return false;
        }
        let retries = self.mem.fail_next as u64 + 1;
        for _ in 0..retries.min(RATELIMIT_BURST.saturating_sub(self.oom.leaked_printed) as u64) {
            self.oom.leaked_printed += 1;
            self.log(Some(pid), "Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF".to_string());
        }
        self.mem.fail_next = 0;
        true
    }

    /// A task going back to user space with the OOM killer's SIGKILL
    /// pending dies (kernel/entry/common.c `exit_to_user_mode_loop` ->
    /// `arch_do_signal_or_restart` -> `get_signal` -> `do_group_exit`).
    /// True if `pid` died here.
    pub fn exit_to_user_mode(&mut self, hv: &mut Hypervisor, pid: Pid) -> bool {
        let Some(i) = self.oom.sigkill_pending.iter().position(|&p| p == pid) else { return false };
        self.oom.sigkill_pending.remove(i);
        let _ = self.sys_exit(hv, pid);
        true
    }

    /// A write of `adj` to /proc/PID/oom_score_adj (fs/proc/base.c
    /// `oom_score_adj_write` -> `__set_oom_adj`, not legacy): -EINVAL out of
    /// [-1000, 1000]; -EACCES below `oom_score_adj_min` without
    /// CAP_SYS_RESOURCE; a privileged write also sets the minimum. The
    /// model has no vfork and no other process sharing the mm to update.
    pub fn oom_score_adj_write(&mut self, pid: Pid, adj: i64) -> KResult<u64> {
        if !(OOM_SCORE_ADJ_MIN as i64..=OOM_SCORE_ADJ_MAX as i64).contains(&adj) {
            return Err(Errno::EINVAL);
        }
        let p = self.proc_mut(pid)?;
        let adj = adj as i16;
        let capable = p.capable();
        if adj < p.oom.min && !capable {
            return Err(Errno::EACCES);
        }
        p.oom.adj = adj;
        if capable {
            p.oom.min = adj;
        }
        Ok(0)
    }

    /// The tasks the OOM killer killed since the last call, in kill order.
    pub fn take_oom_kills(&mut self) -> Vec<Pid> {
        std::mem::take(&mut self.oom.killed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfp_masks_print_as_linux_prints_them() {
        // Values from include/linux/gfp_types.h (6.12); the strings are what
        // OOM reports on 6.x kernels print for these allocations.
        assert_eq!(GFP_KERNEL, 0xcc0);
        assert_eq!(GFP_HIGHUSER_MOVABLE, 0x100cca);
        assert_eq!(format_gfp(GFP_ANON_ZEROED), "0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO)");
        assert_eq!(format_gfp(GFP_USER_PAGE), "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)");
        assert_eq!(format_gfp(GFP_PGTABLE_USER_ALLOC), "0x440dc0(GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO)");
        assert_eq!(format_gfp(GFP_KERNEL), "0xcc0(GFP_KERNEL)");
        assert_eq!(format_gfp(GFP_PGTABLE_USER), "0x400dc0(GFP_KERNEL_ACCOUNT|__GFP_ZERO)");
    }
}
