//! Page faults and `vm_normal_page()` (tearing PTEs down: kernel/zap.rs).
//!
//! Follows `mm/memory.c` (`vm_normal_page`/`__vm_normal_page`,
//! `handle_mm_fault`, `do_anonymous_page`, `do_wp_page`, `wp_page_copy`,
//! `do_read_fault`/`do_cow_fault`/`do_shared_fault`) and
//! `arch/x86/mm/fault.c` (`do_user_addr_fault`, `access_error`).
//! Simplifications: no swap, no THP, no NUMA hinting, no page-cache
//! readahead; every fault is handled to completion (no retry).

use crate::arch::pagetable::PteSlot;
use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, Pte, PteFlags};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mm::{RssCounter, mm_counter};
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::oom_kill::{GFP_ANON_ZEROED, GFP_PGTABLE_USER_ALLOC, GFP_USER_PAGE};
use crate::kernel::page::{Mapping, Page, PageFlags, Pfn, ZERO_PFN};
use crate::kernel::pte::{maybe_mkwrite, pte_present, vm_get_page_prot};
use crate::kernel::{Kernel, Pid};
use crate::trace::{Event, FaultKind};

/// `SWP_PTE_MARKER` (include/linux/swap.h): the last swap type,
/// `(1 << MAX_SWAPFILES_SHIFT) - SWP_PTE_MARKER_NUM` = 31.
pub const SWP_PTE_MARKER: u64 = 31;
/// `PTE_MARKER_GUARD` (include/linux/swapops.h, 6.13+): `BIT(2)`.
pub const PTE_MARKER_GUARD: u64 = 1 << 2;

/// A PTE marker for a guard region as Linux stores it: `make_pte_marker(
/// PTE_MARKER_GUARD)` = `swp_entry_to_pte(swp_entry(SWP_PTE_MARKER,
/// PTE_MARKER_GUARD))` in x86-64's swap-entry encoding
/// (arch/x86/include/asm/pgtable_64.h `__swp_entry`): 0xfffffffffffff600,
/// not present (bits 0 and 8 clear).
pub fn guard_marker() -> Pte {
    crate::arch::x86_64::swp_entry_to_pte(SWP_PTE_MARKER, PTE_MARKER_GUARD)
}

/// `is_guard_pte_marker()`: a non-present, non-none PTE whose swap type is
/// `SWP_PTE_MARKER` and whose marker has `PTE_MARKER_GUARD`.
pub fn is_guard_marker(p: Pte) -> bool {
    use crate::arch::x86_64::{pte_swp_offset, pte_swp_type};
    !p.is_none() && !pte_present(p) && pte_swp_type(p) == SWP_PTE_MARKER && pte_swp_offset(p) & PTE_MARKER_GUARD != 0
}

/// What `vm_normal_page()` found: a page, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormalPage {
    Page(Pfn),
    /// Special PTE and the VMA's `find_special_page` hook answered no page.
    HookNone,
    /// Special PTE in a VM_PFNMAP/VM_MIXEDMAP VMA (no `struct page` to use).
    Special,
    /// The shared zero page.
    Zero,
    /// Garbage: `print_bad_pte()` ("BUG: Bad page map").
    Bad,
}

impl NormalPage {
    pub fn page(self) -> Option<Pfn> {
        match self {
            NormalPage::Page(p) => Some(p),
            _ => None,
        }
    }
}

/// Why a user access failed: the signal the CPU fault turns into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmFault {
    /// SIGSEGV, SEGV_MAPERR.
    MapErr,
    /// SIGSEGV, SEGV_ACCERR.
    AccErr,
    /// SIGSEGV, SEGV_PKUERR: the VMA's protection key denies the access.
    PkuErr,
    /// SIGBUS, BUS_ADRERR.
    SigBus,
    /// VM_FAULT_OOM: no page, and the faulting task was the OOM killer's
    /// victim (kernel/oom_kill.rs) or the allocation failed by injection.
    Oom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// `struct vm_fault`: what `handle_mm_fault()` hands the handlers below
/// it (`do_anonymous_page`, `do_fault`, `do_wp_page`, `wp_page_copy`).
#[derive(Clone, Copy, Debug)]
pub struct Vmf<'a> {
    /// The faulting task (`vma->vm_mm`'s owner).
    pub pid: Pid,
    pub vma: &'a Vma,
    /// The faulting address.
    pub address: u64,
    /// Where the PTE lives (`vmf->pte`).
    pub pte: PteSlot,
    /// The PTE as read at fault time (`vmf->orig_pte`).
    pub orig_pte: Pte,
    /// `FAULT_FLAG_WRITE`.
    pub write: bool,
}

impl Kernel {
    /// `vm_normal_page()` (mm/memory.c, 6.18 `__vm_normal_page`, PTE level,
    /// x86 has `CONFIG_ARCH_HAS_PTE_SPECIAL`). With the seed's hook, a special
    /// PTE is handed to `vma->vm_ops->find_special_page` and its answer is
    /// final, even when it is NULL.
    #[inline]
    pub fn vm_normal_page(&mut self, hv: &Hypervisor, vma: &Vma, addr: u64, pte: Pte) -> NormalPage {
        match self.vm_normal_page_checked(hv, vma, addr, pte) {
            Ok(np) => np,
            Err(why) => {
                self.print_bad_pte(vma, addr, pte, why);
                NormalPage::Bad
            }
        }
    }

    /// `vm_normal_page()` without the report: `Err(why)` where the kernel
    /// calls `print_bad_pte()`. The one place the decision is made.
    #[inline]
    pub fn vm_normal_page_checked(
        &self,
        hv: &Hypervisor,
        vma: &Vma,
        addr: u64,
        pte: Pte,
    ) -> Result<NormalPage, &'static str> {
        let pfn = self.pte_pfn(hv, pte);
        if pte.special() {
            return vm_normal_special(vma, addr, pfn);
        }
        // Not special: a zero PFN is the zero page; beyond the memmap is bad.
        if pfn == ZERO_PFN {
            return Ok(NormalPage::Zero);
        }
        if pfn.0 > self.mem.highest_pfn().0 {
            return Err("pfn beyond highest_memmap_pfn");
        }
        Ok(NormalPage::Page(pfn))
    }

    /// `vm_normal_page()` for readers that must not log (/proc reports,
    /// invariant checks): a bad PTE is `Bad`, silently.
    pub fn vm_normal_page_quiet(&self, hv: &Hypervisor, vma: &Vma, addr: u64, pte: Pte) -> NormalPage {
        self.vm_normal_page_checked(hv, vma, addr, pte).unwrap_or(NormalPage::Bad)
    }

    /// `print_bad_pte()` / `print_bad_page_map()`.
    #[cold]
    #[inline(never)]
    pub fn print_bad_pte(&mut self, vma: &Vma, addr: u64, pte: Pte, why: &str) {
        self.log(
            None,
            format!("BUG: Bad page map: addr:{addr:#x} pte:{:#x} vm_flags:{:#x} ({why})", pte.0, vma.flags.bits()),
        );
    }

    /// `anon_vma_prepare()`: give the VMA an anon_vma, reusing a compatible
    /// neighbour's (`find_mergeable_anon_vma`).
    pub fn anon_vma_prepare(&mut self, pid: Pid, vma_start: u64) -> KResult<u32> {
        let mm = self.mm(pid)?;
        let v = mm.vmas.get(&vma_start).ok_or(Errno::EFAULT)?;
        if let Some(av) = v.anon_vma {
            return Ok(av);
        }
        let compatible = |a: &Vma, b: &Vma| {
            a.end == b.start
                && (a.flags ^ b.flags) & !(VmFlags::ACCESS | VmFlags::SOFTDIRTY) == VmFlags::empty()
                && a.file == b.file
                && a.pgoff + a.pages() == b.pgoff
        };
        // reusable_anon_vma(): only a neighbour whose anon_vma_chain is
        // singular (not inherited at fork) lends its anon_vma.
        let reuse =
            mm.vma_at(v.end).filter(|n| compatible(v, n) && !n.anon_chain_forked).and_then(|n| n.anon_vma).or_else(
                || mm.prev_vma(v.start).filter(|p| compatible(p, v) && !p.anon_chain_forked).and_then(|p| p.anon_vma),
            );
        let av = match reuse {
            Some(av) => av,
            None => self.new_anon_vma(),
        };
        if let Some(v) = self.mm_mut(pid)?.vmas.get_mut(&vma_start) {
            v.anon_vma = Some(av);
        }
        Ok(av)
    }

    /// The user-level fault path: `do_user_addr_fault()` + `handle_mm_fault()`.
    pub fn handle_user_fault(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        access: Access,
    ) -> Result<(), VmFault> {
        let write = access == Access::Write;
        let mm = self.mm(pid).map_err(|_| VmFault::MapErr)?;
        let vma = match mm.vma_at(addr) {
            Some(v) => v.clone(),
            None => match self.expand_stack(pid, addr) {
                Some(v) => v,
                None => {
                    let why = "no VMA covers the address (find_vma / expand_stack failed)";
                    return Err(self.fault_signal(hv, pid, addr, write, VmFault::MapErr, why));
                }
            },
        };
        // access_error(): the VMA's protection key first
        // (`arch_vma_access_permitted`), reported as SEGV_PKUERR by
        // bad_area_access_error() (arch/x86/mm/fault.c).
        if !crate::kernel::pkeys::arch_vma_access_permitted(&vma, false) {
            let why = "access_error: the VMA's protection key denies data access (arch_vma_access_permitted)";
            return Err(self.fault_signal(hv, pid, addr, write, VmFault::PkuErr, why));
        }
        match access {
            Access::Write if !vma.flags.contains(VmFlags::WRITE) => {
                let why = "access_error: write to a VMA without VM_WRITE";
                return Err(self.fault_signal(hv, pid, addr, write, VmFault::AccErr, why));
            }
            Access::Read if !vma.flags.intersects(VmFlags::ACCESS) => {
                let why = "access_error: read of a VMA without VM_READ|VM_WRITE|VM_EXEC";
                return Err(self.fault_signal(hv, pid, addr, write, VmFault::AccErr, why));
            }
            _ => {}
        }
        match self.handle_mm_fault(hv, pid, &vma, addr & PAGE_MASK, write) {
            // VM_FAULT_OOM in user mode (arch/x86/mm/fault.c): call
            // pagefault_out_of_memory() and return to user space, which
            // faults again, or dies of the OOM killer's SIGKILL.
            Err(VmFault::Oom) if self.pagefault_out_of_memory(pid) => {
                self.handle_mm_fault(hv, pid, &vma, addr & PAGE_MASK, write)
            }
            r => r,
        }
    }

    /// Record a fault that ends in a signal (when tracing) and return it.
    pub fn fault_signal(
        &self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        write: bool,
        f: VmFault,
        why: &'static str,
    ) -> VmFault {
        let dom = self.domid;
        hv.trace.emit(|| {
            let (signal, code) = match f {
                VmFault::MapErr => ("SIGSEGV", "SEGV_MAPERR"),
                VmFault::AccErr => ("SIGSEGV", "SEGV_ACCERR"),
                VmFault::PkuErr => ("SIGSEGV", "SEGV_PKUERR"),
                VmFault::SigBus => ("SIGBUS", "BUS_ADRERR"),
                VmFault::Oom => ("SIGBUS", "VM_FAULT_OOM"),
            };
            Event::FaultSignal { dom, pid, addr, write, signal, code, why }
        });
        f
    }

    /// Record a resolved fault (when tracing).
    fn fault_event(&self, hv: &mut Hypervisor, vmf: &Vmf<'_>, how: FaultKind, pfn: Option<Pfn>, old_pfn: Option<Pfn>) {
        let (dom, pid, addr, write) = (self.domid, vmf.pid, vmf.address, vmf.write);
        hv.trace.emit(|| Event::Fault {
            dom,
            pid,
            addr,
            write,
            how,
            pfn: pfn.map(|p| p.0),
            old_pfn: old_pfn.map(|p| p.0),
        });
    }

    /// Stack growth for a VM_GROWSDOWN VMA above `addr` (`expand_stack()`):
    /// allowed while the gap to the previous VMA stays at least
    /// `stack_guard_gap` and RLIMIT_STACK holds.
    fn expand_stack(&mut self, pid: Pid, addr: u64) -> Option<Vma> {
        let mm = self.mm(pid).ok()?;
        let next = mm.find_vma(addr)?.clone();
        if !next.flags.contains(VmFlags::GROWSDOWN) {
            return None;
        }
        let new_start = addr & PAGE_MASK;
        if new_start < crate::kernel::mmap::EFFECTIVE_MMAP_MIN_ADDR {
            return None;
        }
        // The guard gap is enforced only below an accessible VMA
        // (expand_downwards(): `vma_is_accessible(prev)`).
        if let Some(prev) = mm.prev_vma(new_start)
            && !prev.flags.contains(VmFlags::GROWSDOWN)
            && prev.flags.intersects(VmFlags::ACCESS)
            && new_start - prev.end < crate::kernel::mmap::STACK_GUARD_GAP
        {
            return None;
        }
        // expand_downwards() allocates the anon_vma before growing (so a
        // grown stack's PTEs, zero page included, are copied at fork).
        self.anon_vma_prepare(pid, next.start).ok()?;
        let size = next.end - new_start;
        let p = self.proc_ref(pid).ok()?;
        if size > p.rlimits.stack.cur {
            return None;
        }
        let grow = (next.start - new_start) >> 12;
        if grow > next.pgoff {
            return None;
        }
        if p.mm.total_vm + grow > p.rlimits.as_.cur >> 12 {
            return None;
        }
        if next.flags.contains(VmFlags::LOCKED) && !p.capable() && p.mm.locked_vm + grow > p.rlimits.memlock.cur >> 12 {
            return None;
        }
        let mm = self.mm_mut(pid).ok()?;
        let mut v = mm.remove(next.start)?;
        v.start = new_start;
        v.pgoff -= grow;
        mm.stat_account(v.flags, grow as i64);
        if v.flags.contains(VmFlags::LOCKED) {
            mm.locked_vm += grow;
        }
        mm.insert(v.clone());
        Some(v)
    }

    /// `handle_mm_fault()` for one page of `vma`.
    pub fn handle_mm_fault(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        vma: &Vma,
        addr: u64,
        write: bool,
    ) -> Result<(), VmFault> {
        let slot = self.alloc_may_oom(hv, pid, GFP_PGTABLE_USER_ALLOC, |k| k.pte_alloc(pid, addr));
        let slot = slot.map_err(|_| VmFault::Oom)?;
        let pte = self.pt.get(slot);
        let vmf = Vmf { pid, vma, address: addr, pte: slot, orig_pte: pte, write };
        if is_guard_marker(pte) {
            let why = "PTE_MARKER_GUARD: a guard region (MADV_GUARD_INSTALL)";
            return Err(self.fault_signal(hv, pid, addr, write, VmFault::MapErr, why));
        }
        if !pte_present(pte) {
            if !pte.is_none() {
                let why = "a non-present PTE that is no swap entry the kernel knows";
                return Err(self.fault_signal(hv, pid, addr, write, VmFault::SigBus, why));
            }
            return if vma.is_anonymous() {
                self.do_anonymous_page(hv, &vmf)
            } else if vma.shmem_inode().is_some() {
                self.do_fault(hv, &vmf)
            } else {
                // A driver VMA without a fault handler (gntdev, privcmd).
                let why = "do_fault: the VMA has no vm_ops->fault (driver mapping, PTE not populated)";
                Err(self.fault_signal(hv, pid, addr, write, VmFault::SigBus, why))
            };
        }
        if write && !pte.write() {
            return self.do_wp_page(hv, &vmf);
        }
        // The access sets A (and D on write) as the hardware would.
        let mut new = pte.set(PteFlags::ACCESSED);
        if write {
            new = new.set(PteFlags::DIRTY);
        }
        if new != pte {
            self.pt.set(slot, new);
        }
        self.fault_event(hv, &vmf, FaultKind::Spurious, None, None);
        Ok(())
    }

    /// Install a PTE for a page the caller holds a reference for.
    fn install_pte(
        &mut self,
        hv: &mut Hypervisor,
        slot: PteSlot,
        pfn: Pfn,
        prot: PteFlags,
        extra: PteFlags,
    ) -> Result<(), VmFault> {
        let frame = self.mk_pte_frame(pfn);
        let pte = Pte::new(frame, prot | extra);
        self.set_pte(hv, slot, pte).map_err(|_| VmFault::SigBus)
    }

    /// `do_anonymous_page()`.
    fn do_anonymous_page(&mut self, hv: &mut Hypervisor, vmf: &Vmf<'_>) -> Result<(), VmFault> {
        let Vmf { pid, vma, address: addr, pte: slot, write, .. } = *vmf;
        if vma.flags.contains(VmFlags::SHARED) {
            let why = "do_anonymous_page: VM_SHARED anonymous VMA without shmem backing";
            return Err(self.fault_signal(hv, pid, addr, write, VmFault::SigBus, why));
        }
        let prot = vm_get_page_prot(vma.flags);
        if !write {
            // Map the shared zero page, special and read-only.
            self.install_pte(hv, slot, ZERO_PFN, prot.difference(PteFlags::RW), PteFlags::SPECIAL)?;
            self.fault_event(hv, vmf, FaultKind::ZeroPage, Some(ZERO_PFN), None);
            return Ok(());
        }
        let av = self.anon_vma_prepare(pid, vma.start).map_err(|_| VmFault::Oom)?;
        let pfn = self.alloc_page_may_oom(hv, pid, GFP_ANON_ZEROED).map_err(|_| VmFault::Oom)?;
        self.clear_page(hv, pfn);
        self.folio_add_new_anon_rmap(pfn, av, vma.linear_index(addr));
        let w = if vma.flags.contains(VmFlags::WRITE) { PteFlags::RW | PteFlags::DIRTY } else { PteFlags::empty() };
        if let Err(e) = self.install_pte(hv, slot, pfn, prot, w) {
            self.undo_new_anon(pfn);
            return Err(e);
        }
        self.mm_mut(pid).map_err(|_| VmFault::Oom)?.add_rss(RssCounter::Anon, 1);
        self.fault_event(hv, vmf, FaultKind::Anonymous, Some(pfn), None);
        Ok(())
    }

    fn undo_new_anon(&mut self, pfn: Pfn) {
        let p = self.mem.page_mut(pfn);
        p.mapcount = 0;
        p.mapping = Mapping::None;
        self.put_page(pfn);
    }

    /// `__wp_page_copy_user()` without a source page: "a best-effort copy
    /// by just copying from the original user address. If that fails, we
    /// just zero-fill it." The user address reads the frame `pte` names.
    fn copy_from_user_frame(&self, hv: &mut Hypervisor, dst: Pfn, pte: Pte) {
        match (self.page_to_mfn(dst), self.pte_machine_frame(pte)) {
            (Some(d), Some(s)) if hv.machine.valid(s) => hv.machine.copy(d, s),
            _ => self.clear_page(hv, dst),
        }
    }

    /// `folio_add_new_anon_rmap()` with RMAP_EXCLUSIVE.
    pub fn folio_add_new_anon_rmap(&mut self, pfn: Pfn, av: u32, index: u64) {
        let p = self.mem.page_mut(pfn);
        p.mapping = Mapping::Anon(av);
        p.index = index;
        p.mapcount = 1;
        p.flags |= PageFlags::ANON_EXCLUSIVE | PageFlags::SWAPBACKED | PageFlags::UPTODATE | PageFlags::LRU;
    }

    /// `do_wp_page()`: a write to a present read-only PTE of a writable VMA.
    fn do_wp_page(&mut self, hv: &mut Hypervisor, vmf: &Vmf<'_>) -> Result<(), VmFault> {
        let Vmf { pid: _, vma, address: addr, pte: slot, orig_pte: pte, .. } = *vmf;
        let np = self.vm_normal_page(hv, vma, addr, pte);
        if vma.flags.contains(VmFlags::SHARED) {
            // wp_page_shared()/wp_pfn_shared(): just make it writable.
            let new = maybe_mkwrite(pte.set(PteFlags::DIRTY | PteFlags::ACCESSED), vma);
            self.set_pte(hv, slot, new).map_err(|_| VmFault::SigBus)?;
            self.fault_event(hv, vmf, FaultKind::Shared, np.page(), None);
            return Ok(());
        }
        if let Some(pfn) = np.page() {
            let p = self.mem.page(pfn);
            if p.is_anon() && (p.flags.contains(PageFlags::ANON_EXCLUSIVE) || (p.refcount == 1 && p.mapcount == 1)) {
                // wp_page_reuse(): exclusive anonymous page, reuse it.
                self.mem.page_mut(pfn).flags |= PageFlags::ANON_EXCLUSIVE;
                let new = maybe_mkwrite(pte.set(PteFlags::DIRTY | PteFlags::ACCESSED), vma);
                self.set_pte(hv, slot, new).map_err(|_| VmFault::SigBus)?;
                self.fault_event(hv, vmf, FaultKind::Reuse, Some(pfn), None);
                return Ok(());
            }
        }
        self.wp_page_copy(hv, vmf, np)
    }

    /// `wp_page_copy()` (mm/memory.c, Linux 6.12): a private copy of the
    /// old page; of the zero page, zeros; of a special PTE without a page
    /// (`__wp_page_copy_user` with no source page), whatever the user
    /// address reads, i.e. the frame the old PTE names. Then the MMU
    /// notifier runs for the page (`MMU_NOTIFY_CLEAR`) and the PTE is
    /// re-checked: if a subscriber removed it (gntdev unmapping its grant),
    /// the copy is dropped and the fault retried (`pte_same` failed).
    fn wp_page_copy(&mut self, hv: &mut Hypervisor, vmf: &Vmf<'_>, old: NormalPage) -> Result<(), VmFault> {
        let Vmf { pid, vma, address: addr, pte: slot, .. } = *vmf;
        let orig_pte = self.pt.get(slot);
        let av = self.anon_vma_prepare(pid, vma.start).map_err(|_| VmFault::Oom)?;
        // folio_prealloc(): zeroed for the zero page's copy.
        let gfp = if old == NormalPage::Zero { GFP_ANON_ZEROED } else { GFP_USER_PAGE };
        let new = self.alloc_page_may_oom(hv, pid, gfp).map_err(|_| VmFault::Oom)?;
        match old {
            NormalPage::Page(src) => self.copy_page(hv, new, src),
            NormalPage::Zero => self.clear_page(hv, new),
            _ => self.copy_from_user_frame(hv, new, orig_pte),
        }
        let page_addr = addr & PAGE_MASK;
        self.mmu_notifier_invalidate(hv, pid, page_addr, page_addr + PAGE_SIZE);
        if self.pt.get(slot) != orig_pte {
            // The PTE changed under us: release the copy, retry the fault.
            self.put_page(new);
            return Ok(());
        }
        self.folio_add_new_anon_rmap(new, av, vma.linear_index(addr));
        let prot = vm_get_page_prot(vma.flags);
        let frame = self.mk_pte_frame(new);
        let entry = maybe_mkwrite(Pte::new(frame, prot | PteFlags::DIRTY), vma);
        if self.set_pte(hv, slot, entry).is_err() {
            self.undo_new_anon(new);
            return Err(VmFault::SigBus);
        }
        let mm = self.mm_mut(pid).map_err(|_| VmFault::Oom)?;
        mm.add_rss(RssCounter::Anon, 1);
        if let Some(src) = old.page() {
            self.page_remove_rmap(pid, vma, addr, src);
            self.put_page(src);
        }
        self.fault_event(hv, vmf, FaultKind::Cow, Some(new), old.page());
        Ok(())
    }

    /// `folio_remove_rmap_pte()` + RSS: one mapping of `pfn` went away.
    pub fn page_remove_rmap(&mut self, pid: Pid, vma: &Vma, addr: u64, pfn: Pfn) {
        let c = self.folio_remove_rmap_pte(vma, addr, pfn);
        if let Ok(mm) = self.mm_mut(pid) {
            mm.add_rss(c, -1);
        }
    }

    /// `folio_remove_rmap_pte()`: drop one mapcount of `pfn`; returns the
    /// RSS counter (`mm_counter()`) the caller takes the page off.
    #[inline(always)]
    fn folio_remove_rmap_pte(&mut self, vma: &Vma, addr: u64, pfn: Pfn) -> RssCounter {
        let (c, mc) = folio_drop_mapcount(self.mem.page_mut(pfn));
        if mc < 0 {
            self.print_bad_mapcount(vma, addr, pfn, mc);
        }
        c
    }

    /// The report of a mapcount gone negative (`print_bad_pte()`).
    #[cold]
    #[inline(never)]
    pub(crate) fn print_bad_mapcount(&mut self, vma: &Vma, addr: u64, pfn: Pfn, mc: i32) {
        self.print_bad_pte(vma, addr, Pte::NONE, &format!("page:pfn {:#x} mapcount:{mc}", pfn.0));
    }

    /// `do_fault()` for shmem-backed VMAs: read, COW or shared write.
    fn do_fault(&mut self, hv: &mut Hypervisor, vmf: &Vmf<'_>) -> Result<(), VmFault> {
        let Vmf { pid, vma, address: addr, pte: slot, write, .. } = *vmf;
        let inode = vma.shmem_inode().ok_or(VmFault::SigBus)?;
        if !write {
            // do_read_fault(): should_fault_around() -> do_fault_around()
            // before ->fault(), so the cached neighbours inside EOF are
            // mapped even when the faulting page is past EOF and the access
            // then ends in SIGBUS (filemap_map_pages clamps to the file's
            // end, shmem_fault fails the page itself).
            self.do_fault_around(hv, pid, vma, addr, inode);
        }
        if self.shmem.get(inode).is_some_and(|i| vma.linear_index(addr) >= i.size.div_ceil(4096)) {
            let why = "shmem_get_folio: index beyond i_size (VM_FAULT_SIGBUS)";
            return Err(self.fault_signal(hv, pid, addr, write, VmFault::SigBus, why));
        }
        let index = vma.linear_index(addr);
        let cache = self.shmem_get_page(hv, pid, inode, index)?;
        let prot = vm_get_page_prot(vma.flags);
        if write && !vma.flags.contains(VmFlags::SHARED) {
            // do_cow_fault(): a private anonymous copy of the cache page.
            let av = self.anon_vma_prepare(pid, vma.start).map_err(|_| VmFault::Oom)?;
            let new = self.alloc_page_may_oom(hv, pid, GFP_USER_PAGE).map_err(|_| VmFault::Oom)?;
            self.copy_page(hv, new, cache);
            self.folio_add_new_anon_rmap(new, av, index);
            // set_pte_range(): maybe_mkwrite(pte_mkdirty(entry), vma).
            let w = if vma.flags.contains(VmFlags::WRITE) { PteFlags::RW | PteFlags::DIRTY } else { PteFlags::DIRTY };
            if let Err(e) = self.install_pte(hv, slot, new, prot, w) {
                self.undo_new_anon(new);
                return Err(e);
            }
            self.mm_mut(pid).map_err(|_| VmFault::Oom)?.add_rss(RssCounter::Anon, 1);
            self.fault_event(hv, vmf, FaultKind::FileCow, Some(new), Some(cache));
            return Ok(());
        }
        // do_read_fault()/do_shared_fault(): map the page-cache page.
        self.mem.get_page(cache);
        let extra = if write { PteFlags::DIRTY } else { PteFlags::empty() };
        if let Err(e) = self.install_pte(hv, slot, cache, prot, extra) {
            self.put_page(cache);
            return Err(e);
        }
        let p = self.mem.page_mut(cache);
        p.mapcount += 1;
        if write {
            p.flags |= PageFlags::DIRTY;
        }
        self.mm_mut(pid).map_err(|_| VmFault::Oom)?.add_rss(RssCounter::Shmem, 1);
        self.fault_event(hv, vmf, FaultKind::File, Some(cache), None);
        Ok(())
    }

    /// `do_fault_around()` + `filemap_map_pages()` (mm/memory.c,
    /// mm/filemap.c) for a read fault at `addr`: the page-cache pages of
    /// the window around it (`fault_around_bytes` = 64 KiB, aligned, clamped
    /// to the VMA, the page table and EOF) whose PTE is none get mapped,
    /// young (x86 `arch_wants_old_prefaulted_pte()` is false). Pages not in
    /// the cache are left alone; the faulting page itself is left to the
    /// caller (mapped the same way either way).
    fn do_fault_around(&mut self, hv: &mut Hypervisor, pid: Pid, vma: &Vma, addr: u64, inode: u32) {
        const FAULT_AROUND_PAGES: u64 = 16;
        const PTRS_PER_PTE: u64 = 512;
        let addr = addr & PAGE_MASK;
        let pte_off = (addr >> 12) % PTRS_PER_PTE;
        let vma_off = (addr - vma.start) >> 12;
        let from = (pte_off / FAULT_AROUND_PAGES * FAULT_AROUND_PAGES).max(pte_off - pte_off.min(vma_off));
        let to = (from + FAULT_AROUND_PAGES).min(PTRS_PER_PTE).min(pte_off + vma.pages() - vma_off);
        let Some(ino) = self.shmem.get(inode) else { return };
        let file_pages = ino.size.div_ceil(4096);
        let cached: Vec<(u64, Pfn)> = (from..to)
            .filter(|&i| i != pte_off)
            .map(|i| addr - (pte_off << 12) + (i << 12))
            .filter_map(|a| {
                let idx = vma.linear_index(a);
                (idx < file_pages).then(|| ino.pages.get(&idx).map(|&p| (a, p))).flatten()
            })
            .collect();
        let prot = vm_get_page_prot(vma.flags);
        for (a, pfn) in cached {
            let Ok(slot) = self.pte_alloc(pid, a) else { return };
            if !self.pt.get(slot).is_none() {
                continue;
            }
            self.mem.get_page(pfn);
            if self.install_pte(hv, slot, pfn, prot, PteFlags::empty()).is_err() {
                self.put_page(pfn);
                continue;
            }
            self.mem.page_mut(pfn).mapcount += 1;
            if let Ok(mm) = self.mm_mut(pid) {
                mm.add_rss(RssCounter::Shmem, 1);
            }
        }
    }

    /// `shmem_get_folio(SGP_CACHE)` for a fault: the page at `index`,
    /// allocated zeroed if absent (by `current`, who may meet the OOM
    /// killer); beyond EOF is SIGBUS.
    pub fn shmem_get_page(
        &mut self,
        hv: &mut Hypervisor,
        current: Pid,
        inode: u32,
        index: u64,
    ) -> Result<Pfn, VmFault> {
        let ino = self.shmem.get(inode).ok_or(VmFault::SigBus)?;
        if index >= ino.size.div_ceil(4096) {
            return Err(VmFault::SigBus);
        }
        if let Some(&p) = ino.pages.get(&index) {
            return Ok(p);
        }
        let pfn = self.alloc_page_may_oom(hv, current, GFP_USER_PAGE).map_err(|_| VmFault::Oom)?;
        self.clear_page(hv, pfn);
        let p = self.mem.page_mut(pfn);
        p.mapping = Mapping::File(inode);
        p.index = index;
        p.flags |= PageFlags::SWAPBACKED | PageFlags::UPTODATE | PageFlags::LRU;
        if let Some(i) = self.shmem.get_mut(inode) {
            i.pages.insert(index, pfn);
        }
        Ok(pfn)
    }
}

/// The `struct page` half of `folio_remove_rmap_pte()`: one mapcount off,
/// `PG_anon_exclusive` cleared with the last; the RSS counter
/// (`mm_counter()`) the caller takes the page off and the new mapcount.
#[inline(always)]
pub(crate) fn folio_drop_mapcount(p: &mut Page) -> (RssCounter, i32) {
    p.mapcount -= 1;
    if p.mapcount == 0 && p.is_anon() {
        p.flags.remove(PageFlags::ANON_EXCLUSIVE);
    }
    (mm_counter(p), p.mapcount)
}

/// `vm_normal_page()` for a special PTE: the VMA's `find_special_page`
/// hook if it has one, else no page for a PFN/MIXED map or the zero page.
fn vm_normal_special(vma: &Vma, addr: u64, pfn: Pfn) -> Result<NormalPage, &'static str> {
    if let Some(ops) = &vma.ops
        && ops.has_find_special_page()
    {
        return Ok(match ops.find_special_page(vma, addr) {
            Some(p) => NormalPage::Page(p),
            None => NormalPage::HookNone,
        });
    }
    if vma.flags.intersects(VmFlags::PFNMAP | VmFlags::MIXEDMAP) {
        return Ok(NormalPage::Special);
    }
    if pfn == ZERO_PFN {
        return Ok(NormalPage::Zero);
    }
    Err("special PTE outside PFNMAP/MIXEDMAP")
}
