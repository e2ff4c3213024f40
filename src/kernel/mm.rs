//! `struct mm_struct`: the VMA tree of one process, its page-table root, RSS
//! counters and limits.
//!
//! Follows `include/linux/mm_types.h` and the VMA-tree helpers of
//! `mm/vma.c`/`mm/mmap.c`. The maple tree is a [`VmaTree`] keyed by
//! `vm_start` (kernel/vma_tree.rs).

use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::mmu_notifier::MmuNotifier;
use crate::kernel::page::{Page, PageFlags};
use crate::kernel::vma_tree::VmaTree;
use std::rc::Rc;

/// `MM_FILEPAGES`, `MM_ANONPAGES`, `MM_SWAPENTS`, `MM_SHMEMPAGES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RssCounter {
    File = 0,
    Anon = 1,
    Swap = 2,
    Shmem = 3,
}

/// `mm_counter()` (include/linux/mm.h): the RSS counter a mapped page is
/// charged to: `MM_ANONPAGES` for an anonymous page, else
/// `mm_counter_file()`: `MM_SHMEMPAGES` when swap-backed, `MM_FILEPAGES`.
pub fn mm_counter(page: &Page) -> RssCounter {
    if page.is_anon() {
        RssCounter::Anon
    } else if page.flags.contains(PageFlags::SWAPBACKED) {
        RssCounter::Shmem
    } else {
        RssCounter::File
    }
}

pub use crate::kernel::config::DEFAULT_MAX_MAP_COUNT;

/// `struct rlimit` values that the model enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

pub use super::syscalls::RLIM_INFINITY;

#[derive(Clone, Debug)]
pub struct Rlimits {
    pub as_: Rlimit,
    pub data: Rlimit,
    pub stack: Rlimit,
    pub memlock: Rlimit,
}

impl Default for Rlimits {
    /// Defaults as on a typical system (`INIT_RLIMITS`, RLIMIT_MEMLOCK 8 MiB
    /// since Linux 5.16, RLIMIT_STACK 8 MiB soft).
    fn default() -> Self {
        let inf = Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY };
        Rlimits {
            as_: inf,
            data: inf,
            stack: Rlimit { cur: 8 << 20, max: RLIM_INFINITY },
            memlock: Rlimit { cur: 8 << 20, max: 8 << 20 },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Mm {
    pub vmas: VmaTree,
    /// Frame of the PGD (`mm->pgd`, as the hardware's CR3 would hold it).
    pub pgd: u64,
    pub rss: [i64; 4],
    pub mmap_base: u64,
    pub start_brk: u64,
    pub brk: u64,
    /// `mm->def_flags`: VM_LOCKED/VM_LOCKONFAULT after mlockall(MCL_FUTURE).
    pub def_flags: VmFlags,
    /// `mm->locked_vm`, `total_vm`, `data_vm`, `stack_vm` (pages).
    pub locked_vm: u64,
    pub total_vm: u64,
    pub data_vm: u64,
    pub stack_vm: u64,
    /// `sysctl_max_map_count` as this mm sees it (the machine's, see
    /// [`crate::kernel::config::MachineConfig`]).
    pub max_map_count: usize,
    /// `mm->context.pkey_allocation_map` and `execute_only_pkey`
    /// (arch/x86/include/asm/pkeys.h): pkey 0 is always allocated; the
    /// execute-only key is allocated on the first PROT_EXEC-only mapping.
    pub pkey_allocation_map: u16,
    pub execute_only_pkey: Option<u8>,
    /// Registered MMU notifiers (`mm->notifier_subscriptions`).
    pub notifiers: Vec<Rc<dyn MmuNotifier>>,
}

impl Mm {
    pub fn new(pgd: u64, mmap_base: u64, start_brk: u64) -> Mm {
        Mm {
            vmas: VmaTree::new(),
            pgd,
            rss: [0; 4],
            mmap_base,
            start_brk,
            brk: start_brk,
            def_flags: VmFlags::empty(),
            locked_vm: 0,
            total_vm: 0,
            data_vm: 0,
            stack_vm: 0,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
            pkey_allocation_map: 1,
            execute_only_pkey: None,
            notifiers: Vec::new(),
        }
    }

    pub fn map_count(&self) -> usize {
        self.vmas.len()
    }

    /// `find_vma()`: the first VMA with `vm_end > addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.find_vma(addr)
    }

    /// `vma_lookup()`: the VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas.vma_lookup(addr)
    }

    pub fn vma_at_mut(&mut self, addr: u64) -> Option<&mut Vma> {
        self.vmas.vma_lookup_mut(addr)
    }

    /// `find_vma_prev()`-style: the VMA ending at or before `addr`.
    pub fn prev_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.prev_vma(addr)
    }

    /// VMAs intersecting `[start, end)`, ascending.
    pub fn vmas_in(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        self.vmas.vmas_in(start, end).map(|(_, v)| v)
    }

    /// Start addresses of VMAs intersecting `[start, end)`.
    pub fn starts_in(&self, start: u64, end: u64) -> Vec<u64> {
        self.vmas_in(start, end).map(|v| v.start).collect()
    }

    /// Whether any VMA intersects `[start, end)`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas_in(start, end).next().is_some()
    }

    pub fn insert(&mut self, v: Vma) {
        self.vmas.insert(v.start, v);
    }

    pub fn remove(&mut self, start: u64) -> Option<Vma> {
        self.vmas.remove(&start)
    }

    pub fn add_rss(&mut self, c: RssCounter, n: i64) {
        self.rss[c as usize] += n;
    }

    pub fn get_rss(&self, c: RssCounter) -> i64 {
        self.rss[c as usize]
    }

    /// `vm_stat_account()`: the page counters for a mapping of `npages`.
    pub fn stat_account(&mut self, flags: VmFlags, npages: i64) {
        self.total_vm = (self.total_vm as i64 + npages).max(0) as u64;
        if is_exec_mapping(flags) {
        } else if is_stack_mapping(flags) {
            self.stack_vm = (self.stack_vm as i64 + npages).max(0) as u64;
        } else if is_data_mapping(flags) {
            self.data_vm = (self.data_vm as i64 + npages).max(0) as u64;
        }
    }
}

/// `vma_is_initial_heap()` (include/linux/mm.h, 6.12): the VMA overlaps
/// `[start_brk, brk)`, bounds strict: a VMA that starts exactly at the
/// break, or ends exactly at `start_brk`, is not `[heap]`.
pub fn vma_is_initial_heap(mm: &Mm, v: &Vma) -> bool {
    v.start < mm.brk && v.end > mm.start_brk
}

/// `is_exec_mapping()` (mm/internal.h).
pub fn is_exec_mapping(f: VmFlags) -> bool {
    f & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::EXEC | VmFlags::GROWSDOWN) == VmFlags::EXEC
}
/// `is_stack_mapping()`.
pub fn is_stack_mapping(f: VmFlags) -> bool {
    f.contains(VmFlags::GROWSDOWN)
}
/// `is_data_mapping()`.
pub fn is_data_mapping(f: VmFlags) -> bool {
    f & (VmFlags::WRITE | VmFlags::SHARED | VmFlags::GROWSDOWN) == VmFlags::WRITE
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn find_vma_semantics() {
        let mut mm = Mm::new(0, 0x7000_0000_0000, 0x1000_0000);
        mm.insert(Vma::anon(0x1000, 0x3000, VmFlags::READ));
        mm.insert(Vma::anon(0x5000, 0x6000, VmFlags::READ));
        assert_eq!(mm.find_vma(0x0).map(|v| v.start), Some(0x1000));
        assert_eq!(mm.find_vma(0x2fff).map(|v| v.start), Some(0x1000));
        assert_eq!(mm.find_vma(0x3000).map(|v| v.start), Some(0x5000));
        assert!(mm.find_vma(0x6000).is_none());
        assert!(mm.vma_at(0x3000).is_none());
        assert_eq!(mm.starts_in(0x2000, 0x5001), vec![0x1000, 0x5000]);
        assert_eq!(mm.starts_in(0x3000, 0x5000), Vec::<u64>::new());
    }
}
