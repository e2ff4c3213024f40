//! One guest Linux kernel: its memmap, page tables, processes and files.
//!
//! The same code runs natively (PTEs hold PFNs) and as a Xen PV guest (PTEs
//! hold MFNs and every PTE write is validated by the hypervisor). The few
//! places where the two differ are the paravirt hooks in this file:
//! `mk_pte_frame` (`pfn_pte`), `pte_pfn`, `set_pte` and `page_to_mfn`.

pub mod access;
pub mod config;
/// The errno values, one definition for the whole crate (`crate::errno`).
pub use crate::errno;
pub mod file;
pub mod fork;
pub mod gup;
pub mod hugetlb;
pub mod hung_task;
pub mod madvise;
pub mod memory;
pub mod mincore;
pub mod mlock;
pub mod mm;
pub mod mm_types;
pub mod mmap;
pub mod mmu_notifier;
pub mod mprotect;
pub mod mremap;
pub mod mseal;
pub mod msync;
pub mod oom_kill;
pub mod p2m;
pub mod page;
pub mod page_writeback;
pub mod pkeys;
pub mod pte;
pub mod shmem;
pub mod slab;
pub mod syscalls;
#[cfg(test)]
mod tests;
pub mod uaccess;
pub mod util;
pub mod variant;
pub mod vma;
pub mod vma_tree;
pub mod vmscan;
pub mod xen;
pub mod zap;

use crate::arch::pagetable::{PageTables, PteSlot};
use crate::arch::x86_64::Pte;
use crate::frame_map::FrameMap;
use crate::hv::Hypervisor;
use crate::types::DomId;
use crate::xen::interface::xen::PteMaddr;
use errno::{Errno, KResult};
use file::FdTable;
use mm::{Mm, Rlimits};
use p2m::P2m;
use page::{MemMap, Mfn, PageFlags, Pfn};
use std::collections::BTreeMap;
use variant::Variant;

pub type Pid = u32;

/// A task with its own address space (the model has no threads).
#[derive(Debug)]
pub struct Process {
    pub pid: Pid,
    pub parent: Option<Pid>,
    pub uid: u32,
    pub mm: Mm,
    pub files: FdTable,
    pub rlimits: Rlimits,
    /// CAP_SYS_RESOURCE in the effective set (raising a hard rlimit):
    /// root's unless dropped, as a container may (inherited at fork).
    pub cap_sys_resource: bool,
    /// `task_struct::comm`: inherited at fork; the scenario runner names
    /// each process after its script name (as if it had exec'd it).
    pub comm: String,
    /// `signal_struct::oom_score_adj` and `oom_score_adj_min`.
    pub oom: oom_kill::OomScoreAdj,
}

impl Process {
    /// `capable(CAP_IPC_LOCK)` and friends: root has every capability.
    pub fn capable(&self) -> bool {
        self.uid == 0
    }
}

/// One kernel log line, as dmesg would show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelEvent {
    pub pid: Option<Pid>,
    pub message: String,
}

/// References taken by GUP that are still held: `(gets, pins)` per page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GupHeld {
    pub gets: u32,
    pub pins: u32,
}

#[derive(Debug)]
pub struct Kernel {
    pub domid: DomId,
    /// The machine this kernel runs on (CPU features, sysctls).
    pub cfg: config::MachineConfig,
    /// `totalram_pages()`: the domain's RAM in pages.
    pub totalram_pages: u64,
    pub pv: bool,
    pub variant: Variant,
    // The memmap, P2M and page tables are the kernel's own: code outside
    // `crate::kernel` reads them through the accessors of access.rs and
    // changes them only through kernel functions.
    pub(in crate::kernel) mem: MemMap,
    pub(in crate::kernel) p2m: P2m,
    pub(in crate::kernel) pt: PageTables,
    pub procs: BTreeMap<Pid, Process>,
    next_pid: Pid,
    pub shmem: shmem::Shmem,
    next_anon_vma: u32,
    pub dmesg: Vec<KernelEvent>,
    /// How many dmesg lines a ground-truth check has already reported.
    pub dmesg_reported: usize,
    pub(in crate::kernel) gup_held: FrameMap<GupHeld>,
    /// Page-table pages: frame held in parent entries -> PFN.
    pub(in crate::kernel) pt_pages: FrameMap<Pfn>,
    /// Guest-side Xen state (m2p override, balloon).
    pub xen: xen::GuestXen,
    /// Device nodes by path (`/dev/xen/gntdev`, `/dev/xvda`, ...).
    pub devices: BTreeMap<String, std::rc::Rc<dyn file::DeviceNode>>,
    /// The OOM killer's victims and ratelimits (kernel/oom_kill.rs).
    pub oom: oom_kill::OomState,
    /// `vm_area_cachep`: the slab pages of the VMAs (kernel/slab.rs).
    pub(in crate::kernel) vm_area_cachep: slab::KmemCache,
    /// Buffers fork and zap reuse (kernel/pte.rs).
    pub(in crate::kernel) scratch: pte::Scratch,
    /// The kernel's own tests turn the in-place runs of fork and zap off
    /// to compare them with the entry-by-entry path ([`Kernel::in_place_runs`]).
    #[cfg(test)]
    pub(in crate::kernel) entry_by_entry: bool,
}

impl Kernel {
    /// A kernel with `populated` pages of RAM and `unpopulated` extra PFNs with
    /// no memory behind them (balloon space for grant mappings).
    pub fn new(
        domid: DomId,
        cfg: config::MachineConfig,
        pv: bool,
        variant: Variant,
        populated: u64,
        unpopulated: u64,
        p2m: P2m,
    ) -> Kernel {
        Kernel {
            domid,
            cfg,
            totalram_pages: populated,
            pv,
            variant,
            mem: MemMap::new(populated, populated + unpopulated),
            p2m,
            pt: PageTables::default(),
            procs: BTreeMap::new(),
            next_pid: 1,
            shmem: shmem::Shmem::default(),
            next_anon_vma: 1,
            dmesg: Vec::new(),
            dmesg_reported: 0,
            gup_held: FrameMap::default(),
            pt_pages: FrameMap::default(),
            xen: xen::GuestXen::default(),
            devices: BTreeMap::new(),
            oom: oom_kill::OomState::default(),
            vm_area_cachep: slab::KmemCache::default(),
            scratch: pte::Scratch::default(),
            #[cfg(test)]
            entry_by_entry: false,
        }
    }

    /// Whether fork and zap may copy and zap a busy page table in place
    /// (`copy_dense_run`, `zap_dense_run`): natively, where a PTE store is a
    /// plain store; a PV guest's stores go to Xen one by one.
    #[inline(always)]
    pub(in crate::kernel) fn in_place_runs(&self) -> bool {
        #[cfg(test)]
        if self.entry_by_entry {
            return false;
        }
        !self.pv
    }

    pub fn log(&mut self, pid: Option<Pid>, message: String) {
        self.dmesg.push(KernelEvent { pid, message });
    }

    pub fn proc_ref(&self, pid: Pid) -> KResult<&Process> {
        self.procs.get(&pid).ok_or(Errno::ESRCH)
    }
    pub fn proc_mut(&mut self, pid: Pid) -> KResult<&mut Process> {
        self.procs.get_mut(&pid).ok_or(Errno::ESRCH)
    }
    pub fn mm(&self, pid: Pid) -> KResult<&Mm> {
        Ok(&self.proc_ref(pid)?.mm)
    }
    pub fn mm_mut(&mut self, pid: Pid) -> KResult<&mut Mm> {
        Ok(&mut self.proc_mut(pid)?.mm)
    }

    pub fn new_anon_vma(&mut self) -> u32 {
        let id = self.next_anon_vma;
        self.next_anon_vma += 1;
        id
    }

    /// Create a process with an empty address space (`mm_alloc` + `pgd_alloc`).
    pub fn spawn(&mut self, uid: u32, mmap_base: u64, start_brk: u64) -> KResult<Pid> {
        let pgd = self.alloc_pt_page()?;
        let pid = self.alloc_pid();
        let mut mm = Mm::new(pgd, mmap_base, start_brk);
        mm.max_map_count = self.cfg.max_map_count;
        self.procs.insert(
            pid,
            Process {
                pid,
                parent: None,
                uid,
                mm,
                files: FdTable::with_stdio(),
                rlimits: Rlimits::default(),
                cap_sys_resource: uid == 0,
                comm: String::new(),
                oom: oom_kill::OomScoreAdj::default(),
            },
        );
        Ok(pid)
    }

    pub fn alloc_pid(&mut self) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1;
        pid
    }

    /// `pte_alloc_one()`: a page-table page. Returns the frame number that
    /// upper-level entries hold (PFN natively, MFN in a PV guest).
    pub fn alloc_pt_page(&mut self) -> KResult<u64> {
        let pfn = self.mem.alloc()?;
        self.mem.page_mut(pfn).flags |= PageFlags::TABLE;
        let frame = self.mk_pte_frame(pfn);
        self.pt.add_table(frame);
        self.pt_pages.insert(frame, pfn);
        Ok(frame)
    }

    /// Free a page-table page by the frame its parent entry held.
    pub fn free_pt_page(&mut self, frame: u64) {
        self.pt.remove_table(frame);
        let pfn = self.pt_pages.remove(frame);
        if let Some(pfn) = pfn {
            self.mem.page_mut(pfn).flags.remove(PageFlags::TABLE);
            if let Err(b) = self.mem.put_page(pfn) {
                self.log(None, format!("BUG: Bad page state: pfn:{:#x} {}", b.pfn.0, b.what));
            }
        }
    }

    /// Allocate the page-table path for `addr` in `pid`'s mm.
    pub fn pte_alloc(&mut self, pid: Pid, addr: u64) -> KResult<PteSlot> {
        let pgd = self.mm(pid)?.pgd;
        if let Some(s) = self.pt.lookup(pgd, addr) {
            return Ok(s);
        }
        // Tables are allocated one by one; collect first to keep borrows
        // apart. Only the missing levels (`__pud_alloc`, `__pmd_alloc`,
        // `__pte_alloc` each run only where the entry is none).
        let missing = self.pt.missing_tables(pgd, addr);
        let mut fresh = [0u64; 3];
        for i in 0..missing {
            match self.alloc_pt_page() {
                Ok(f) => fresh[i] = f,
                Err(e) => {
                    for &f in &fresh[..i] {
                        self.free_pt_page(f);
                    }
                    return Err(e);
                }
            }
        }
        let mut it = fresh[..missing].iter().copied();
        let slot = self.pt.alloc_path(pgd, addr, || it.next().ok_or(Errno::ENOMEM))?;
        for f in it {
            self.free_pt_page(f);
        }
        Ok(slot)
    }

    // ---- paravirt hooks -------------------------------------------------

    /// `pfn_pte()`'s frame: the PFN natively; in a PV guest
    /// `pte_pfn_to_mfn()`, i.e. `pfn_to_mfn()` (0 when the P2M entry is
    /// invalid; the caller then gets a non-present entry).
    pub fn mk_pte_frame(&self, pfn: Pfn) -> u64 {
        if self.pv { self.p2m.pfn_to_mfn(pfn).map_or(0, |m| m.0) } else { pfn.0 }
    }

    /// `pte_pfn()` as the guest computes it. In a PV guest the PTE holds an
    /// MFN and `pte_val()` translates it with `mfn_to_pfn()`; when that fails
    /// the frame reads as 0 (arch/x86/xen/mmu_pv.c `pte_mfn_to_pfn`).
    #[inline]
    pub fn pte_pfn(&self, hv: &Hypervisor, pte: Pte) -> Pfn {
        if !self.pv {
            return Pfn(pte.frame());
        }
        self.mfn_to_pfn(hv, Mfn(pte.frame())).unwrap_or(Pfn(0))
    }

    /// `page_to_mfn()`/`pfn_to_mfn()`: the guest's belief about where a page
    /// lives in machine memory (what it programs a DMA engine with).
    pub fn page_to_mfn(&self, pfn: Pfn) -> Option<Mfn> {
        self.p2m.pfn_to_mfn(pfn)
    }

    /// Ground truth: the machine frame a PTE's frame field addresses.
    pub fn pte_machine_frame(&self, pte: Pte) -> Option<Mfn> {
        if self.pv { Some(Mfn(pte.frame())) } else { self.p2m.pfn_to_mfn(Pfn(pte.frame())) }
    }

    /// `set_pte_at()`: natively a plain store; in a PV guest an `mmu_update`
    /// the hypervisor validates. A refused update is `EFAULT` to the caller.
    pub fn set_pte(&mut self, hv: &mut Hypervisor, slot: PteSlot, new: Pte) -> KResult<()> {
        self.set_pte_foreign(hv, slot, new, None)
    }

    /// `set_pte` for privcmd: `foreign` is the domain whose frame is mapped.
    pub fn set_pte_foreign(
        &mut self,
        hv: &mut Hypervisor,
        slot: PteSlot,
        new: Pte,
        foreign: Option<DomId>,
    ) -> KResult<()> {
        if self.pv {
            let old = self.pt.get(slot);
            let at = PteMaddr { table: Mfn(slot.table), index: slot.index };
            if let Err(e) = hv.mmu_update(self.domid, at, old, new, foreign) {
                self.log(None, format!("xen_set_pte: mmu_update failed: {e}"));
                return Err(Errno::EFAULT);
            }
        }
        self.pt.set(slot, new);
        Ok(())
    }

    /// `set_pte_at()` inside lazy MMU mode (`arch_enter_lazy_mmu_mode`, as
    /// `copy_page_range` and `move_ptes` run): in a PV guest the update is
    /// queued in a multicall (`xen_batched_set_pte`, arch/x86/xen/mmu_pv.c)
    /// and a refusal only shows at `xen_mc_flush()` (arch/x86/xen/
    /// multicalls.c, 6.12): `WARN_ON(ret)` and the failed call logged; the
    /// caller goes on and the entry stays what Xen has (the write is
    /// dropped). Simplifications: one call per batch ("1 of 1"), and `arg`
    /// shows the update's `ptr` (the PTE's machine address), where Linux
    /// prints the kernel address of the request.
    pub fn set_pte_batched(&mut self, hv: &mut Hypervisor, slot: PteSlot, new: Pte) {
        if !self.pv {
            self.pt.set(slot, new);
            return;
        }
        let old = self.pt.get(slot);
        let at = PteMaddr { table: Mfn(slot.table), index: slot.index };
        match hv.mmu_update(self.domid, at, old, new, None) {
            Ok(()) => self.pt.set(slot, new),
            Err(e) => {
                const HYPERVISOR_MMU_UPDATE: u32 = 1; // __HYPERVISOR_mmu_update
                self.log(None, "WARNING: CPU: 0 at arch/x86/xen/multicalls.c:190 xen_mc_flush".to_string());
                self.log(None, "1 of 1 multicall(s) failed: cpu 0".to_string());
                self.log(
                    None,
                    format!(
                        "  call  1: op={HYPERVISOR_MMU_UPDATE} arg=[{:x}] result={}",
                        at.maddr(),
                        e.errno().as_ret() as i64
                    ),
                );
            }
        }
    }

    /// Read page contents through the guest's view (`kmap` + memcpy).
    pub fn read_page(&self, hv: &Hypervisor, pfn: Pfn, off: usize, buf: &mut [u8]) -> KResult<()> {
        let mfn = self.page_to_mfn(pfn).ok_or(Errno::EFAULT)?;
        if off + buf.len() > 4096 || !hv.machine.valid(mfn) {
            return Err(Errno::EFAULT);
        }
        hv.machine.read(mfn, off, buf);
        Ok(())
    }
    pub fn write_page(&self, hv: &mut Hypervisor, pfn: Pfn, off: usize, data: &[u8]) -> KResult<()> {
        let mfn = self.page_to_mfn(pfn).ok_or(Errno::EFAULT)?;
        if off + data.len() > 4096 || !hv.machine.valid(mfn) {
            return Err(Errno::EFAULT);
        }
        hv.machine.write(mfn, off, data);
        Ok(())
    }
    pub fn clear_page(&self, hv: &mut Hypervisor, pfn: Pfn) {
        if let Some(m) = self.page_to_mfn(pfn) {
            hv.machine.zero(m);
        }
    }
    pub fn copy_page(&self, hv: &mut Hypervisor, dst: Pfn, src: Pfn) {
        if let (Some(d), Some(s)) = (self.page_to_mfn(dst), self.page_to_mfn(src)) {
            hv.machine.copy(d, s);
        }
    }

    /// `put_page()` with the kernel's complaint on misuse.
    #[inline(always)]
    pub fn put_page(&mut self, pfn: Pfn) {
        if let Err(b) = self.mem.put_page(pfn) {
            self.bad_page(b);
        }
    }

    /// `bad_page()` (mm/page_alloc.c): the complaint.
    #[cold]
    #[inline(never)]
    fn bad_page(&mut self, b: crate::kernel::page::BadPage) {
        self.log(None, format!("BUG: Bad page state in process: pfn:{:#x} {}", b.pfn.0, b.what));
    }
}
