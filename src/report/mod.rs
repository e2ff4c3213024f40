//! What a person looks at: `/proc/PID/maps`, `/proc/PID/smaps`,
//! `/proc/PID/pagemap` (raw and as one letter a page), a page-table walk,
//! a `struct page` dump and an ASCII picture of an address space.
//!
//! Every function returns text (or raw values) and never prints; the CLI
//! and the test harness decide where it goes. Every function accepts any
//! pid, address, length, domain and frame without panicking: for a process
//! that does not exist maps, smaps and the pagemap entries are empty (as
//! reading a zombie's files gives nothing), the other views say "no such
//! process"; an unknown domain or frame is said in the text.
//!
//! API: [`maps()`]`(k, pid)`, [`smaps()`]`(w, dom, pid)` (or [`smaps_k`]`(k, hv,
//! pid)`), [`pagemap_letters`]`(w, dom, pid, addr, len)`,
//! [`pagemap_entries`]`(w, dom, pid, addr, len) -> Vec<u64>`,
//! [`pagetable_walk`]`(w, dom, pid, addr)`, [`page()`]`(w, dom, pfn)`,
//! [`address_space_picture`]`(k, pid, start, end, width)`.
//!
//! Files modelled: `fs/proc/task_mmu.c` (`show_map_vma`, `show_smap`,
//! `smaps_pte_entry`, `smaps_account`, `pte_to_pagemap_entry`),
//! `fs/seq_file.c` (`seq_pad`, `seq_file_path`), `mm/debug.c`
//! (`dump_page`, loosely).

pub mod maps;
pub mod page;
pub mod pagemap;
pub mod pagetable;
pub mod picture;
pub mod smaps;
pub mod xen_tables;

pub use maps::{maps, maps_line};
pub use page::page;
pub use pagemap::{pagemap_entries, pagemap_entries_k, pagemap_letters, pagemap_letters_k, pte_to_pagemap_entry};
pub use pagetable::{pagetable_walk, pagetable_walk_k};
pub use picture::address_space_picture;
pub use smaps::{MemSizeStats, ThpEnabled, smaps, smaps_gather, smaps_k, thp_eligible};

use crate::hv::Hypervisor;
use crate::kernel::Kernel;
use crate::types::DomId;
use crate::world::World;

/// The kernel of `dom` with the hypervisor, if the domain exists.
fn kernel_hv(w: &World, dom: DomId) -> Option<(&Kernel, &Hypervisor)> {
    w.domains.iter().find(|d| d.id == dom).map(|d| (&d.kernel, &w.hv))
}

/// `show log DOMAIN`: the domain kernel's log (what dmesg would show of the
/// model's messages, "BUG: Bad page map" and the like), then the
/// hypervisor's console, which is machine-wide (`(XEN) ...` lines).
pub fn log(w: &World, dom: DomId) -> String {
    let mut s = String::new();
    match kernel_hv(w, dom) {
        Some((k, hv)) => {
            for ev in &k.dmesg {
                match ev.pid {
                    Some(p) => s.push_str(&format!("[pid {p}] {}\n", ev.message)),
                    None => s.push_str(&format!("{}\n", ev.message)),
                }
            }
            for l in &hv.log {
                s.push_str(l);
                s.push('\n');
            }
            if s.is_empty() {
                s.push_str("(empty)\n");
            }
        }
        None => s.push_str(&format!("d{dom}: no such domain\n")),
    }
    s
}
