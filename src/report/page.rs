//! `show page`: one `struct page` (in the spirit of mm/debug.c `dump_page`)
//! with what Xen and the guest's P2M say about its frame.
//!
//! Format:
//!
//! ```text
//! d0 pfn 0x10: refcount 1 mapcount 1 mapping anon_vma 1 index 0x7e003fffe private 0x0
//! flags: uptodate|lru|swapbacked|anon_exclusive
//! p2m: 0x1010 -> mfn 0x1010, machine owner d0, m2p -> pfn 0x10
//! gup: 0 gets, 0 pins
//! ```
//!
//! The P2M line shows the raw entry with its FOREIGN/IDENTITY tags named,
//! `invalid` for INVALID_P2M_ENTRY. A PFN beyond the memmap or an unknown
//! domain is said in one line, never a panic.

use super::kernel_hv;
use super::pagetable::flags_text;
use crate::kernel::p2m::{INVALID_P2M_ENTRY, entry_mfn, entry_tags};
use crate::kernel::page::{Mapping, Pfn, ZERO_PFN};
use crate::types::DomId;
use crate::world::World;
use std::fmt::Write;

/// `struct page` of `pfn` in domain `dom`.
pub fn page(w: &World, dom: DomId, pfn: u64) -> String {
    let Some((k, hv)) = kernel_hv(w, dom) else {
        return format!("no domain {dom}\n");
    };
    let pfn = Pfn(pfn);
    let Some(p) = k.memmap().get(pfn) else {
        return format!(
            "d{dom} pfn {:#x}: invalid (beyond the memmap; highest pfn {:#x})\n",
            pfn.0,
            k.memmap().highest_pfn().0
        );
    };
    let mut out = String::new();
    let mapping = mapping_text(k, p.mapping);
    let _ = writeln!(
        out,
        "d{dom} pfn {:#x}: refcount {} mapcount {} mapping {mapping} index {:#x} private {:#x}{}",
        pfn.0,
        p.refcount,
        p.mapcount,
        p.index,
        p.private,
        if pfn == ZERO_PFN { " (zero page)" } else { "" }
    );
    let _ = writeln!(out, "flags: {}", flags_text(p.flags));
    let raw = k.p2m().raw(pfn);
    if raw == INVALID_P2M_ENTRY {
        let _ = writeln!(out, "p2m: invalid (no machine frame)");
    } else {
        let tags: String = entry_tags(raw).iter().map(|t| format!(" {t}")).collect();
        let mfn = entry_mfn(raw);
        let owner = match hv.machine.owner(crate::kernel::page::Mfn(mfn)) {
            Some(o) => format!("d{o}"),
            None if hv.machine.valid(crate::kernel::page::Mfn(mfn)) => "nobody".to_string(),
            None => "no such frame".to_string(),
        };
        let m2p = match hv.m2p.get(crate::kernel::page::Mfn(mfn)) {
            Some(b) => format!("pfn {:#x}", b.0),
            None => "none".to_string(),
        };
        let _ = writeln!(out, "p2m: {raw:#x}{tags} -> mfn {mfn:#x}, machine owner {owner}, m2p -> {m2p}");
    }
    let held = k.gup_held().get(pfn.0).copied().unwrap_or_default();
    let _ = writeln!(out, "gup: {} gets, {} pins", held.gets, held.pins);
    out
}

/// `page->mapping` as `show page` prints it.
pub fn mapping_text(k: &crate::kernel::Kernel, mapping: Mapping) -> String {
    match mapping {
        Mapping::None => "none".to_string(),
        Mapping::Anon(av) => format!("anon_vma {av}"),
        Mapping::File(ino) => match k.shmem.get(ino) {
            Some(i) => format!("inode {} ({})", i.ino, i.path()),
            None => format!("inode id {ino} (gone)"),
        },
    }
}
