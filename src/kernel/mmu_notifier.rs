//! MMU notifiers (`include/linux/mmu_notifier.h`, `mm/mmu_notifier.c`):
//! drivers that mirror page tables are told before PTEs in a range go away.

use crate::hv::Hypervisor;
use crate::kernel::{Kernel, Pid};
use std::fmt;

pub trait MmuNotifier: fmt::Debug {
    /// `invalidate_range_start` for `[start, end)` of `pid`'s mm (munmap,
    /// mremap, MADV_DONTNEED, exit). Runs before `zap_pte_range`.
    fn invalidate_range_start(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, start: u64, end: u64);
    /// `release`: the whole mm is going away (exit_mmap).
    fn release(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid) {
        self.invalidate_range_start(k, hv, pid, 0, u64::MAX);
    }
    /// A page in `[start, end)` that `invalidate_range_start` would wait on
    /// for ever (kernel/hung_task.rs); asked before the call changes anything.
    fn waits_forever_on(&self, _k: &Kernel, _start: u64, _end: u64) -> Option<crate::kernel::page::Pfn> {
        None
    }
}

impl Kernel {
    /// `mmu_notifier_invalidate_range_start()`.
    pub fn mmu_notifier_invalidate(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, end: u64) {
        let subs = match self.mm(pid) {
            Ok(mm) => mm.notifiers.clone(),
            Err(_) => return,
        };
        for n in subs {
            n.invalidate_range_start(self, hv, pid, start, end);
        }
    }

    /// `mmu_notifier_release()` at exit.
    pub fn mmu_notifier_release(&mut self, hv: &mut Hypervisor, pid: Pid) {
        let subs = match self.mm_mut(pid) {
            Ok(mm) => std::mem::take(&mut mm.notifiers),
            Err(_) => return,
        };
        for n in subs {
            n.release(self, hv, pid);
        }
    }
}
