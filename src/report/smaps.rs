//! `/proc/PID/smaps` (fs/proc/task_mmu.c of 6.18: `show_smap`,
//! `smap_gather_stats`, `smaps_pte_entry`, `smaps_account`,
//! `smaps_page_accumulate`, `__show_smap`).
//!
//! Per VMA: the maps line, then the fields in the kernel's order, each
//! `seq_put_decimal_ull_width(m, label, bytes >> 10, 8)` followed by ` kB`
//! (labels are 16 characters wide; `Private_Hugetlb: ` is 17 with width 7).
//! The fields the kernel prints on the reference machine (Linux 6.18 x86-64
//! with protection keys) are all printed; those the model has no notion
//! of (KSM, THP, hugetlb, swap) are 0.
//!
//! Accounting, for each present PTE (`pte_present()`, so PROT_NONE too)
//! whose `vm_normal_page()` is a page (zero page and special PTEs without
//! a page do not count): Rss += 4K; Referenced if the PTE is young or the
//! page has PG_referenced; Anonymous for anon pages, LazyFree for anon
//! pages without PG_swapbacked that are clean in PTE and page; a page with
//! refcount 1 is private with its full size in Pss; otherwise a mapcount
//! of 2 or more makes it shared with `(4096 << PSS_SHIFT) / mapcount` of
//! Pss, and a smaller one private with the full size. Dirty is the PTE's dirty bit
//! or PG_dirty. Locked is the Pss of the VMA when it has VM_LOCKED.
//! Fixed point as in the kernel: `PSS_SHIFT` = 12, each field shown as
//! `(sum >> PSS_SHIFT) >> 10`.
//!
//! THPeligible follows `thp_vma_allowable_orders(.., TVA_SMAPS, ..)` for
//! the machine's `transparent_hugepage/enabled`
//! ([`crate::kernel::config::MachineConfig::thp`]) and otherwise the
//! distribution defaults: `hugepages-2048kB/enabled` = `inherit`, every
//! other mTHP size `never`, `shmem_enabled` = `never`, tmpfs mounted
//! without `huge=`. So with `madvise` only an anonymous VMA (no `vm_ops`)
//! with VM_HUGEPAGE, without VM_NOHUGEPAGE, that contains a 2 MiB aligned
//! block is eligible. `ProtectionKey:` is printed on a machine with pkeys.

use super::kernel_hv;
use super::maps::maps_line;
use crate::arch::x86_64::{PAGE_SIZE, PMD_SIZE};
use crate::hv::Hypervisor;
use crate::kernel::access::PteEntry;
use crate::kernel::memory::NormalPage;
use crate::kernel::mm::Mm;
use crate::kernel::mm_types::{VmFlags, Vma, smaps_vmflags};
use crate::kernel::page::PageFlags;
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::world::World;
use std::fmt::Write;

/// `PSS_SHIFT`: Pss is summed in 1/4096ths of a byte.
pub const PSS_SHIFT: u32 = 12;

pub use crate::kernel::config::ThpEnabled;

/// `struct mem_size_stats`: bytes, Pss fields in `PSS_SHIFT` fixed point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSizeStats {
    pub resident: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub lazyfree: u64,
    pub ksm: u64,
    pub swap: u64,
    pub pss: u64,
    pub pss_dirty: u64,
    pub pss_locked: u64,
    pub swap_pss: u64,
}

/// `smap_gather_stats()` for one VMA of `mm`.
pub fn smaps_gather(k: &Kernel, hv: &Hypervisor, mm: &Mm, vma: &Vma) -> MemSizeStats {
    let mut mss = MemSizeStats::default();
    let locked = vma.flags.contains(VmFlags::LOCKED);
    for PteEntry { addr, pte, kind, .. } in k.pte_entries(mm.pgd, vma.start, vma.end) {
        // smaps_pte_entry(): no swap in the model, so only present PTEs count.
        if !kind.is_present() {
            continue;
        }
        let NormalPage::Page(pfn) = k.vm_normal_page_quiet(hv, vma, addr, pte) else { continue };
        let Some(page) = k.memmap().get(pfn) else { continue };
        smaps_account(&mut mss, page, pte.young(), pte.dirty(), locked);
    }
    mss
}

/// `smaps_account()` for a small folio mapped by a present PTE.
fn smaps_account(mss: &mut MemSizeStats, page: &crate::kernel::page::Page, young: bool, dirty: bool, locked: bool) {
    let size = PAGE_SIZE;
    let pg_dirty = page.flags.contains(PageFlags::DIRTY);
    if page.is_anon() {
        mss.anonymous += size;
        if !page.flags.contains(PageFlags::SWAPBACKED) && !dirty && !pg_dirty {
            mss.lazyfree += size;
        }
    }
    mss.resident += size;
    if young || page.flags.contains(PageFlags::REFERENCED) {
        mss.referenced += size;
    }
    let (pss, private) = if page.refcount == 1 {
        (size << PSS_SHIFT, true)
    } else {
        let mapcount = page.mapcount;
        let mut pss = size << PSS_SHIFT;
        if mapcount >= 2 {
            pss /= mapcount as u64;
        }
        (pss, mapcount < 2)
    };
    // smaps_page_accumulate()
    mss.pss += pss;
    if locked {
        mss.pss_locked += pss;
    }
    if dirty || pg_dirty {
        mss.pss_dirty += pss;
        if private {
            mss.private_dirty += size;
        } else {
            mss.shared_dirty += size;
        }
    } else if private {
        mss.private_clean += size;
    } else {
        mss.shared_clean += size;
    }
}

/// THPeligible: `thp_vma_allowable_orders(vma, vm_flags, TVA_SMAPS,
/// THP_ORDERS_ALL) != 0` under `thp` (see the module comment for the other
/// settings assumed).
pub fn thp_eligible(v: &Vma, thp: ThpEnabled) -> bool {
    // vma_is_anonymous(): no vm_ops. shmem (shmem_enabled=never, no huge=
    // mount) and driver mappings (no ->huge_fault) are never eligible.
    if v.file.is_some() || v.ops.is_some() {
        return false;
    }
    // vma_thp_disabled()
    if v.flags.contains(VmFlags::NOHUGEPAGE) {
        return false;
    }
    // The PMD order is inherited: on with "always", or with "madvise" for
    // VM_HUGEPAGE.
    let enabled = match thp {
        ThpEnabled::Always => true,
        ThpEnabled::Madvise => v.flags.contains(VmFlags::HUGEPAGE),
        ThpEnabled::Never => false,
    };
    if !enabled {
        return false;
    }
    // thp_vma_suitable_order(vma, vm_end - HPAGE_PMD_SIZE, PMD_ORDER)
    let Some(addr) = v.end.checked_sub(PMD_SIZE) else { return false };
    let haddr = addr & !(PMD_SIZE - 1);
    haddr >= v.start && haddr + PMD_SIZE <= v.end
}

/// `/proc/PID/smaps` of `pid` in domain `dom`; empty when either is unknown.
pub fn smaps(w: &World, dom: DomId, pid: Pid) -> String {
    match kernel_hv(w, dom) {
        Some((k, hv)) => smaps_k(k, hv, pid),
        None => String::new(),
    }
}

/// [`smaps`] given the kernel and the hypervisor (a PV guest's `pte_pfn`
/// goes through the M2P).
/// The machine's settings ([`Kernel::cfg`]) decide `THPeligible` and
/// whether `ProtectionKey:` is printed.
pub fn smaps_k(k: &Kernel, hv: &Hypervisor, pid: Pid) -> String {
    let Ok(mm) = k.mm(pid) else { return String::new() };
    let mut out = String::new();
    for v in mm.vmas.values() {
        let mss = smaps_gather(k, hv, mm, v);
        out.push_str(&maps_line(k, mm, v));
        show_smap_fields(&mut out, v, &mss, k.cfg.thp, k.cfg.pkeys);
    }
    out
}

/// `SEQ_PUT_DEC(label, bytes)`: `bytes >> 10` right-aligned in 8.
fn put_kb(out: &mut String, label: &str, bytes: u64) {
    let _ = writeln!(out, "{label:<16}{:>8} kB", bytes >> 10);
}

fn show_smap_fields(out: &mut String, v: &Vma, mss: &MemSizeStats, thp: ThpEnabled, pkeys: bool) {
    put_kb(out, "Size:", v.end - v.start);
    put_kb(out, "KernelPageSize:", PAGE_SIZE);
    put_kb(out, "MMUPageSize:", PAGE_SIZE);
    put_kb(out, "Rss:", mss.resident);
    put_kb(out, "Pss:", mss.pss >> PSS_SHIFT);
    put_kb(out, "Pss_Dirty:", mss.pss_dirty >> PSS_SHIFT);
    put_kb(out, "Shared_Clean:", mss.shared_clean);
    put_kb(out, "Shared_Dirty:", mss.shared_dirty);
    put_kb(out, "Private_Clean:", mss.private_clean);
    put_kb(out, "Private_Dirty:", mss.private_dirty);
    put_kb(out, "Referenced:", mss.referenced);
    put_kb(out, "Anonymous:", mss.anonymous);
    put_kb(out, "KSM:", mss.ksm);
    put_kb(out, "LazyFree:", mss.lazyfree);
    put_kb(out, "AnonHugePages:", 0);
    put_kb(out, "ShmemPmdMapped:", 0);
    put_kb(out, "FilePmdMapped:", 0);
    put_kb(out, "Shared_Hugetlb:", 0);
    // seq_put_decimal_ull_width(m, " kB\nPrivate_Hugetlb: ", .., 7)
    let _ = writeln!(out, "Private_Hugetlb: {:>7} kB", 0);
    put_kb(out, "Swap:", mss.swap);
    put_kb(out, "SwapPss:", mss.swap_pss >> PSS_SHIFT);
    put_kb(out, "Locked:", mss.pss_locked >> PSS_SHIFT);
    let _ = writeln!(out, "THPeligible:    {:>8}", u32::from(thp_eligible(v, thp)));
    // `if (arch_pkeys_enabled())`: X86_FEATURE_OSPKE.
    if pkeys {
        let _ = writeln!(out, "ProtectionKey:  {:>8}", v.flags.pkey());
    }
    let _ = writeln!(out, "VmFlags: {}", smaps_vmflags(v.flags));
}
