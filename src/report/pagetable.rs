//! `show pagetable`: the walk the MMU does for one user address, each
//! level with the table it reads, the index, the raw entry, the frame it
//! names and the bits set; then what the guest kernel makes of the leaf
//! (`vm_normal_page()`) and where the frame really is (machine owner).
//!
//! Format (native; the shared zero page mapped by a read fault):
//!
//! ```text
//! pid 1 addr 0x7e003fffe000: vma 7e003fffe000-7e003ffff000 rw-p
//! PGD[252] table pfn 0x2: entry 0x0000000000003067 -> pfn 0x3 PRESENT RW USER ACCESSED DIRTY
//! PUD[0] table pfn 0x3: entry 0x0000000000004067 -> pfn 0x4 PRESENT RW USER ACCESSED DIRTY
//! PMD[511] table pfn 0x4: entry 0x0000000000005067 -> pfn 0x5 PRESENT RW USER ACCESSED DIRTY
//! PTE[510] table pfn 0x5: entry 0x8000000000001225 -> pfn 0x1 PRESENT USER ACCESSED SPECIAL NX  <- special
//! vm_normal_page: zero page
//! machine frame 0x1 owned by d0
//! ```
//!
//! A gntdev grant mapping in a PV dom0 (find-special-page variant):
//!
//! ```text
//! PTE[510] table mfn 0x5 (pfn 0x5): entry 0x8000000001002267 -> mfn 0x1002 (mfn_to_pfn: none) PRESENT RW USER ACCESSED DIRTY SPECIAL NX  <- special
//! vm_normal_page: page pfn 0x1fff (no mapping, refcount 1, mapcount 0, flags referenced|dirty|private|foreign)
//! machine frame 0x1002 owned by d1
//! ```
//!
//! In a PV guest frames in entries are MFNs: each is shown as
//! `mfn 0x.. (pfn 0x..)`, the PFN being the guest's `mfn_to_pfn()` (for
//! page-table frames, the page the kernel allocated for the table), or
//! `(mfn_to_pfn: none)` when the guest cannot translate it. The walk stops
//! at the first entry that is not present; a guard marker is named.

use super::kernel_hv;
use crate::arch::x86_64::{Pte, TASK_SIZE, flag_names};
use crate::hv::Hypervisor;
use crate::kernel::memory::NormalPage;
use crate::kernel::page::{Mfn, Pfn, page_flag_names};
use crate::kernel::pte::PteKind;
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::world::World;
use std::fmt::Write;

const LEVEL_NAMES: [&str; 5] = ["", "PTE", "PMD", "PUD", "PGD"];

/// The walk for `addr` in process `pid` of domain `dom`.
pub fn pagetable_walk(w: &World, dom: DomId, pid: Pid, addr: u64) -> String {
    match kernel_hv(w, dom) {
        Some((k, hv)) => pagetable_walk_k(k, hv, pid, addr),
        None => format!("no domain {dom}\n"),
    }
}

/// How a frame number held in an entry reads: `pfn 0x..` natively,
/// `mfn 0x.. (pfn 0x..)` in a PV guest. `table`: the frame is a page-table
/// page (its PFN is the one the kernel allocated).
fn frame_text(k: &Kernel, hv: &Hypervisor, frame: u64, table: bool) -> String {
    if !k.pv {
        return format!("pfn {frame:#x}");
    }
    let pfn = if table { k.pt_pages().get(frame).copied() } else { k.mfn_to_pfn(hv, Mfn(frame)) };
    match pfn {
        Some(p) => format!("mfn {frame:#x} (pfn {:#x})", p.0),
        None => format!("mfn {frame:#x} (mfn_to_pfn: none)"),
    }
}

/// [`pagetable_walk`] given the kernel and the hypervisor.
pub fn pagetable_walk_k(k: &Kernel, hv: &Hypervisor, pid: Pid, addr: u64) -> String {
    let mut out = String::new();
    let Ok(mm) = k.mm(pid) else {
        return format!("pid {pid}: no such process\n");
    };
    if addr >= TASK_SIZE {
        return format!("pid {pid} addr {addr:#x}: not a user address (TASK_SIZE is {TASK_SIZE:#x})\n");
    }
    let vma = mm.vma_at(addr);
    let _ = write!(out, "pid {pid} addr {addr:#x}: ");
    match vma {
        Some(v) => {
            let line = super::maps::maps_line(k, mm, v);
            let mut parts = line.split_whitespace();
            let range = parts.next().unwrap_or("");
            let perms = parts.next().unwrap_or("");
            let _ = writeln!(out, "vma {range} {perms}");
        }
        None => {
            let _ = writeln!(out, "no vma");
        }
    }
    let steps = k.page_tables().walk(mm.pgd, addr);
    let mut leaf = None;
    for s in &steps {
        let name = LEVEL_NAMES.get(s.level as usize).copied().unwrap_or("?");
        let e = s.entry;
        let _ = write!(out, "{name}[{}] table {}: entry {:#018x}", s.index, frame_text(k, hv, s.table, true), e.0);
        if e.is_none() {
            let _ = writeln!(out, " (none)");
            continue;
        }
        if s.level == 1 {
            leaf = Some(e);
            let kind = PteKind::of(e);
            if kind.is_guard() {
                let _ = writeln!(
                    out,
                    " guard marker (not present): swap type {} (SWP_PTE_MARKER), marker {:#x} (PTE_MARKER_GUARD)",
                    crate::arch::x86_64::pte_swp_type(e),
                    crate::arch::x86_64::pte_swp_offset(e)
                );
                continue;
            }
            if !kind.is_present() {
                let _ = writeln!(out, " not present {}", flag_names(e).join(" "));
                continue;
            }
        } else if !e.present() {
            let _ = writeln!(out, " not present {}", flag_names(e).join(" "));
            continue;
        }
        let _ = write!(out, " -> {} {}", frame_text(k, hv, e.frame(), s.level != 1), flag_names(e).join(" "));
        if s.level == 1 && matches!(PteKind::of(e), PteKind::Present { protnone: true, .. }) {
            out.push_str(" (PROT_NONE)");
        }
        if e.special() {
            out.push_str("  <- special");
        }
        out.push('\n');
    }
    if let (Some(pte), Some(v)) = (leaf, vma)
        && PteKind::of(pte).is_present()
    {
        describe_leaf(&mut out, k, hv, v, addr, pte);
    }
    out
}

/// What the guest kernel and the machine make of a present leaf entry.
fn describe_leaf(out: &mut String, k: &Kernel, hv: &Hypervisor, v: &crate::kernel::mm_types::Vma, addr: u64, pte: Pte) {
    let np = k.vm_normal_page_quiet(hv, v, addr & crate::arch::x86_64::PAGE_MASK, pte);
    let _ = write!(out, "vm_normal_page: ");
    match np {
        NormalPage::Page(pfn) => {
            let _ = writeln!(out, "page {}", page_summary(k, pfn));
        }
        NormalPage::Zero => {
            let _ = writeln!(out, "zero page");
        }
        NormalPage::Special => {
            let _ = writeln!(out, "none (special PTE in a PFNMAP/MIXEDMAP VMA)");
        }
        NormalPage::HookNone => {
            let _ = writeln!(out, "none (find_special_page found no page)");
        }
        NormalPage::Bad => {
            let _ = writeln!(out, "bad PTE (the kernel would print \"BUG: Bad page map\")");
        }
    }
    match k.pte_machine_frame(pte) {
        Some(m) => match hv.machine.owner(m) {
            Some(o) => {
                let _ = writeln!(out, "machine frame {:#x} owned by d{o}", m.0);
            }
            None if hv.machine.valid(m) => {
                let _ = writeln!(out, "machine frame {:#x} free (owned by nobody)", m.0);
            }
            None => {
                let _ = writeln!(out, "machine frame {:#x} does not exist", m.0);
            }
        },
        None => {
            let _ = writeln!(out, "machine frame: none (no P2M entry for pfn {:#x})", pte.frame());
        }
    }
}

/// `pfn 0x.. (anon, refcount N, mapcount N, flags ...)`.
pub(crate) fn page_summary(k: &Kernel, pfn: Pfn) -> String {
    match k.memmap().get(pfn) {
        Some(p) => {
            let kind = match p.mapping {
                crate::kernel::page::Mapping::Anon(_) => "anon",
                crate::kernel::page::Mapping::File(_) => "file",
                crate::kernel::page::Mapping::None => "no mapping",
            };
            format!(
                "pfn {:#x} ({kind}, refcount {}, mapcount {}, flags {})",
                pfn.0,
                p.refcount,
                p.mapcount,
                flags_text(p.flags)
            )
        }
        None => format!("pfn {:#x} (beyond the memmap)", pfn.0),
    }
}

pub(crate) fn flags_text(f: crate::kernel::page::PageFlags) -> String {
    let n = page_flag_names(f);
    if n.is_empty() { "none".to_string() } else { n.join("|") }
}
