//! Tasks that would sleep forever: the hung-task detector's view
//! (`kernel/hung_task.c`).
//!
//! In the synchronous-unmap era (Linux 4.0-5.18, `unmap=deferred`) gntdev's
//! MMU notifier unmaps with `gnttab_unmap_refs_sync()`
//! (`drivers/xen/grant-table.c`): `__gnttab_unmap_refs_async()` re-queues
//! the batch every `GNTTAB_UNMAP_REFS_DELAY * (age + 1)` ms while any page
//! has `page_count() > 1`, with no give-up, and the caller sleeps in
//! `wait_for_completion()`. A page pinned with `pin_user_pages()` and never
//! released keeps its count above 1 for ever, so munmap, MADV_DONTNEED,
//! mprotect, mremap or exit of the range never return; after
//! `hung_task_timeout_secs` (CONFIG_DEFAULT_HUNG_TASK_TIMEOUT, 120) the
//! detector prints `INFO: task COMM:PID blocked for more than 120 seconds.`
//! (`check_hung_task()`).
//!
//! The model decides this before the syscall changes anything (Linux has
//! split or detached the VMAs by then, under the mmap lock it never
//! releases): the process's state stays as it was, the call's result is
//! `HUNG`, and the process runs nothing more. In-flight O_DIRECT I/O on
//! the page does not count: the device completes it and drops its
//! reference, as the real wait would see.
//! Simplification: the range checked is the one the syscall names (the
//! whole address space for exit), page-aligned; a call that would fail its
//! own argument checks first is still reported as hung if that range
//! covers such a page.

use crate::kernel::page::Pfn;
use crate::kernel::{Kernel, Pid};

/// `CONFIG_DEFAULT_HUNG_TASK_TIMEOUT` (lib/Kconfig.debug): 120 seconds.
pub const DEFAULT_HUNG_TASK_TIMEOUT: u64 = 120;

/// A task blocked for ever, and what holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HungTask {
    pub pid: Pid,
    /// The syscall it sleeps in.
    pub syscall: &'static str,
    /// The page whose count never drops to 1.
    pub pfn: Pfn,
    /// `page_count()` once in-flight I/O has completed.
    pub refcount: i32,
    /// FOLL_PIN references held on it (`pin_user_pages`).
    pub pins: u32,
    /// FOLL_GET references held on it.
    pub gets: u32,
}

impl HungTask {
    /// The detector's line, as `check_hung_task()` prints it.
    pub fn message(&self, comm: &str) -> String {
        // TASK_COMM_LEN is 16: comm holds at most 15 bytes.
        let comm: String = comm.chars().take(15).collect();
        format!("INFO: task {comm}:{} blocked for more than {DEFAULT_HUNG_TASK_TIMEOUT} seconds.", self.pid)
    }
    /// What holds it, in words.
    pub fn holder(&self) -> String {
        format!(
            "gnttab_unmap_refs_sync waits for pfn {:#x}: page_count {} ({} pin(s), {} get(s) held)",
            self.pfn.0, self.refcount, self.pins, self.gets
        )
    }
}

/// A syscall that hands a range to `mmu_notifier_invalidate_range_start`.
#[derive(Clone, Copy, Debug)]
pub enum InvalidatingCall {
    Munmap {
        addr: u64,
        len: u64,
    },
    /// Only the zapping behaviours (`MADV_DONTNEED`, `MADV_DONTNEED_LOCKED`,
    /// `MADV_REMOVE`) reach the notifier.
    Madvise {
        addr: u64,
        len: u64,
        behavior: i32,
    },
    Mprotect {
        addr: u64,
        len: u64,
    },
    /// The old range of a move or shrink.
    Mremap {
        addr: u64,
        old_len: u64,
    },
    /// `mmap(MAP_FIXED)` over what is mapped there.
    MmapFixed {
        addr: u64,
        len: u64,
    },
    Exit,
}

impl InvalidatingCall {
    fn name(self) -> &'static str {
        match self {
            InvalidatingCall::Munmap { .. } => "munmap",
            InvalidatingCall::Madvise { .. } => "madvise",
            InvalidatingCall::Mprotect { .. } => "mprotect",
            InvalidatingCall::Mremap { .. } => "mremap",
            InvalidatingCall::MmapFixed { .. } => "mmap",
            InvalidatingCall::Exit => "exit",
        }
    }
    /// The page-aligned range, or None when the notifier is not reached.
    fn range(self) -> Option<(u64, u64)> {
        let span = |addr: u64, len: u64| {
            let start = addr & !0xfff;
            let end = addr.checked_add(len)?.checked_add(0xfff)? & !0xfff;
            (end > start).then_some((start, end))
        };
        match self {
            InvalidatingCall::Munmap { addr, len }
            | InvalidatingCall::Mprotect { addr, len }
            | InvalidatingCall::MmapFixed { addr, len } => span(addr, len),
            InvalidatingCall::Madvise { addr, len, behavior } => {
                use crate::kernel::madvise::{MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_REMOVE};
                matches!(behavior, MADV_DONTNEED | MADV_DONTNEED_LOCKED | MADV_REMOVE).then(|| span(addr, len))?
            }
            InvalidatingCall::Mremap { addr, old_len } => span(addr, old_len),
            InvalidatingCall::Exit => Some((0, u64::MAX)),
        }
    }
}

impl Kernel {
    /// Would `call` by `pid` sleep for ever in an MMU notifier? Asks every
    /// subscriber of the mm (`MmuNotifier::waits_forever_on`) before
    /// anything changes.
    pub fn check_hung_task(&self, pid: Pid, call: InvalidatingCall) -> Option<HungTask> {
        let (start, end) = call.range()?;
        let mm = self.mm(pid).ok()?;
        let pfn = mm.notifiers.iter().find_map(|n| n.waits_forever_on(self, start, end))?;
        let held = self.gup_held.get(pfn.0).copied().unwrap_or_default();
        Some(HungTask {
            pid,
            syscall: call.name(),
            pfn,
            refcount: self.mem.page(pfn).refcount - self.io_refs_on_page(pfn),
            pins: held.pins,
            gets: held.gets,
        })
    }
}
