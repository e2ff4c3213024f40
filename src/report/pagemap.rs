//! `/proc/PID/pagemap`: the raw 64-bit entries (fs/proc/task_mmu.c of
//! 6.18, `pte_to_pagemap_entry`, `pagemap_pte_hole`), and the
//! one-letter-a-page view of `show pagemap`.
//!
//! Entries are computed as a reader with CAP_SYS_ADMIN sees them
//! (`pm->show_pfn`): PFN bits filled; [`pagemap_entries_as`] computes them
//! for a reader without it (PFN and swap-entry bits 0, flags kept). In a PV guest the PFN is what the
//! guest's `pte_pfn()` makes of the MFN in the PTE (`mfn_to_pfn`, under the
//! variant's rules; 0 when the M2P has no answer: a simplification, the
//! real `pte_mfn_to_pfn` then makes the PTE read as not present). Soft
//! dirty: the reference kernel is built without CONFIG_MEM_SOFT_DIRTY, so
//! bit 55 is set only for a VMA with VM_SOFTDIRTY or a PTE with the
//! soft-dirty bit, which the model never sets. A guard marker reads as the
//! kernel's swap-type PTE marker: `PM_SWAP | PM_GUARD_REGION` with frame
//! bits `SWP_PTE_MARKER | PTE_MARKER_GUARD << 5` = 0x9f, as on the host.
//!
//! Letters ([`pagemap_letters`]), one a page:
//!
//! | letter | page |
//! | --- | --- |
//! | `.` | nothing: no VMA, or no PTE |
//! | `X` | anonymous page mapped once (pagemap bit 56, "exclusively mapped") |
//! | `p` | anonymous page mapped more than once |
//! | `z` | the shared zero page |
//! | `F` | file (tmpfs, memfd, shared anonymous) page mapped once |
//! | `f` | file page mapped more than once (or not counted in mapcount) |
//! | `G` | a page with PG_foreign (a grant mapping's local page, as `find_special_page` names it) |
//! | `s` | present PTE without a normal page: special PTE in a PFNMAP/MIXEDMAP VMA, or the VMA's hook answered no page |
//! | `!` | present PTE `vm_normal_page()` calls bad ("BUG: Bad page map") |
//! | `g` | guard marker (MADV_GUARD_INSTALL) |
//! | `?` | another non-present entry (swap entries are not modelled) |
//!
//! 64 letters a line; each line starts with its first page's address as
//! `0x` and 12 hex digits, a colon and a space: `0x7e003fffe000: X.`.
//! Ranges: `addr` is rounded down and `addr + len` up to pages, the end is
//! clamped at TASK_SIZE (as `pagemap_read` stops at `mm->task_size`), and
//! at most [`MAX_PAGES`] pages are shown (the letters end with a line
//! saying how many more were left out; the entries are just cut).

use super::kernel_hv;
use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, Pte, PteFlags, TASK_SIZE};
use crate::hv::Hypervisor;
use crate::kernel::memory::NormalPage;
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::page::PageFlags;
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::world::World;
use std::fmt::Write;

pub const PM_PFRAME_BITS: u32 = 55;
pub const PM_PFRAME_MASK: u64 = (1 << PM_PFRAME_BITS) - 1;
pub const PM_SOFT_DIRTY: u64 = 1 << 55;
pub const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
pub const PM_UFFD_WP: u64 = 1 << 57;
pub const PM_GUARD_REGION: u64 = 1 << 58;
pub const PM_FILE: u64 = 1 << 61;
pub const PM_SWAP: u64 = 1 << 62;
pub const PM_PRESENT: u64 = 1 << 63;

/// `swp_type | swp_offset << MAX_SWAPFILES_SHIFT` of the guard marker:
/// type `SWP_PTE_MARKER` (31), offset `PTE_MARKER_GUARD` (4).
pub const GUARD_MARKER_FRAME: u64 = 31 | (4 << 5);

/// Most pages one call looks at (4 GiB of address space).
pub const MAX_PAGES: u64 = 1 << 20;

/// `pte_to_pagemap_entry()` for a PTE of `vma` at `addr`.
pub fn pte_to_pagemap_entry(k: &Kernel, hv: &Hypervisor, vma: &Vma, addr: u64, pte: Pte) -> u64 {
    let mut frame = 0;
    let mut flags = 0;
    let mut page = None;
    let kind = PteKind::of(pte);
    if kind.is_present() {
        frame = k.pte_pfn(hv, pte).0;
        flags |= PM_PRESENT;
        page = k.vm_normal_page_quiet(hv, vma, addr, pte).page();
        if pte.flags().contains(PteFlags::SOFT_DIRTY) {
            flags |= PM_SOFT_DIRTY;
        }
    } else if kind != PteKind::None {
        // is_swap_pte(): every non-present, non-none entry.
        flags |= PM_SWAP;
        if kind.is_guard() {
            frame = GUARD_MARKER_FRAME;
            flags |= PM_GUARD_REGION;
        }
    }
    if let Some(p) = page.and_then(|pfn| k.memmap().get(pfn)) {
        if !p.is_anon() {
            flags |= PM_FILE;
        }
        if flags & PM_PRESENT != 0 && p.mapcount == 1 {
            flags |= PM_MMAP_EXCLUSIVE;
        }
    }
    if vma.flags.contains(VmFlags::SOFTDIRTY) {
        flags |= PM_SOFT_DIRTY;
    }
    (frame & PM_PFRAME_MASK) | flags
}

/// The page range `[start, end)` a request covers, clamped and capped;
/// the third value is how many pages were cut by the cap.
fn page_range(addr: u64, len: u64) -> (u64, u64, u64) {
    let start = (addr & PAGE_MASK).min(TASK_SIZE);
    let end = addr.saturating_add(len).saturating_add(PAGE_SIZE - 1) & PAGE_MASK;
    let end = end.clamp(start, TASK_SIZE);
    let pages = (end - start) / PAGE_SIZE;
    if pages > MAX_PAGES { (start, start + MAX_PAGES * PAGE_SIZE, pages - MAX_PAGES) } else { (start, end, 0) }
}

/// What one page of the range holds, for both views.
enum Slot<'a> {
    NoVma,
    Entry(&'a Vma, Pte),
}

/// Visit every page of `[start, end)` in order, with its VMA and PTE.
/// Cost: the populated PTEs and VMAs of the range plus one step a page.
fn for_each_page<'a>(k: &'a Kernel, pid: Pid, start: u64, end: u64, mut f: impl FnMut(u64, Slot<'a>)) {
    let Ok(mm) = k.mm(pid) else { return };
    let entries = k.page_tables().leaf_entries(mm.pgd, start, end);
    let mut ei = entries.iter().peekable();
    let mut vmas = mm.vmas_in(start, end).peekable();
    let mut a = start;
    while a < end {
        while vmas.peek().is_some_and(|v| v.end <= a) {
            vmas.next();
        }
        while ei.peek().is_some_and(|e| e.0 < a) {
            ei.next();
        }
        let pte = match ei.peek() {
            Some(e) if e.0 == a => e.2,
            _ => Pte::NONE,
        };
        match vmas.peek() {
            Some(v) if v.start <= a => f(a, Slot::Entry(v, pte)),
            _ => f(a, Slot::NoVma),
        }
        a += PAGE_SIZE;
    }
}

/// `/proc/PID/pagemap` entries for the pages of `[addr, addr + len)`.
pub fn pagemap_entries(w: &World, dom: DomId, pid: Pid, addr: u64, len: u64) -> Vec<u64> {
    match kernel_hv(w, dom) {
        Some((k, hv)) => pagemap_entries_k(k, hv, pid, addr, len),
        None => Vec::new(),
    }
}

/// [`pagemap_entries`] given the kernel and the hypervisor.
/// Empty for a pid that does not exist (a read of a zombie's pagemap).
pub fn pagemap_entries_k(k: &Kernel, hv: &Hypervisor, pid: Pid, addr: u64, len: u64) -> Vec<u64> {
    pagemap_entries_as(k, hv, pid, addr, len, true)
}

/// [`pagemap_entries_k`] for a reader with (`show_pfn`) or without
/// CAP_SYS_ADMIN: without it `pagemap_read` leaves the frame bits 0.
pub fn pagemap_entries_as(k: &Kernel, hv: &Hypervisor, pid: Pid, addr: u64, len: u64, show_pfn: bool) -> Vec<u64> {
    let frame_mask = if show_pfn { u64::MAX } else { !PM_PFRAME_MASK };
    if k.mm(pid).is_err() {
        return Vec::new();
    }
    let (start, end, _) = page_range(addr, len);
    let mut out = Vec::with_capacity(((end - start) / PAGE_SIZE) as usize);
    for_each_page(k, pid, start, end, |a, slot| {
        out.push(match slot {
            Slot::NoVma => 0,
            Slot::Entry(v, pte) => pte_to_pagemap_entry(k, hv, v, a, pte) & frame_mask,
        })
    });
    out
}

/// The letter for one page (see the module table).
fn letter(k: &Kernel, hv: &Hypervisor, a: u64, slot: Slot<'_>) -> char {
    let (v, pte) = match slot {
        Slot::NoVma => return '.',
        Slot::Entry(v, p) => (v, p),
    };
    match PteKind::of(pte) {
        PteKind::None => return '.',
        k if k.is_guard() => return 'g',
        PteKind::Present { .. } => {}
        _ => return '?',
    }
    match k.vm_normal_page_quiet(hv, v, a, pte) {
        NormalPage::Page(pfn) => match k.memmap().get(pfn) {
            None => '!',
            Some(p) if p.flags.contains(PageFlags::FOREIGN) => 'G',
            Some(p) if p.is_anon() => {
                if p.mapcount == 1 {
                    'X'
                } else {
                    'p'
                }
            }
            Some(p) => {
                if p.mapcount == 1 {
                    'F'
                } else {
                    'f'
                }
            }
        },
        NormalPage::Zero => 'z',
        NormalPage::Special | NormalPage::HookNone => 's',
        NormalPage::Bad => '!',
    }
}

/// `show pagemap`: one letter a page, 64 a line, each line led by the
/// address of its first page.
pub fn pagemap_letters(w: &World, dom: DomId, pid: Pid, addr: u64, len: u64) -> String {
    match kernel_hv(w, dom) {
        Some((k, hv)) => pagemap_letters_k(k, hv, pid, addr, len),
        None => format!("no domain {dom}\n"),
    }
}

/// [`pagemap_letters`] given the kernel and the hypervisor.
pub fn pagemap_letters_k(k: &Kernel, hv: &Hypervisor, pid: Pid, addr: u64, len: u64) -> String {
    if k.mm(pid).is_err() {
        return format!("pid {pid}: no such process\n");
    }
    let (start, end, cut) = page_range(addr, len);
    let mut out = String::new();
    let mut n = 0u64;
    for_each_page(k, pid, start, end, |a, slot| {
        if n.is_multiple_of(64) {
            if n > 0 {
                out.push('\n');
            }
            let _ = write!(out, "{a:#014x}: ");
        }
        out.push(letter(k, hv, a, slot));
        n += 1;
    });
    if n > 0 {
        out.push('\n');
    }
    if cut > 0 {
        let _ = writeln!(out, "... {cut} more pages not shown");
    }
    out
}
