//! `show p2m`, `show m2p`, `show override`: the guest's P2M (its
//! `p2m_top` array, `__pfn_to_mfn()`), Xen's machine-to-phys table
//! (`machine_to_phys_mapping`) and the Linux 2.6.39-3.19 m2p override
//! table (`m2p_overrides`), one entry a line.
//!
//! ```text
//! d1 p2m pfn 0x2: 0x4002 -> mfn 0x4002, machine owner d1, m2p -> pfn 0x2
//! d0 p2m pfn 0x4fff: 0x8000000000004002 FOREIGN -> mfn 0x4002, machine owner d1, m2p -> pfn 0x2
//! mfn 0x4002: m2p -> pfn 0x2, owner d1
//! d0 m2p override: mfn 0x4002 -> pfn 0x4fff
//! ```

use super::kernel_hv;
use crate::hv::Hypervisor;
use crate::hv::machine::DomId;
use crate::kernel::p2m::{INVALID_P2M_ENTRY, entry_mfn, entry_tags};
use crate::kernel::page::{Mfn, Pfn};
use crate::world::World;
use std::fmt::Write;

/// The most lines one `show p2m`/`show m2p` prints.
pub const MAX_TABLE_LINES: u64 = 4096;

fn owner_text(hv: &Hypervisor, mfn: u64) -> String {
    match hv.machine.owner(Mfn(mfn)) {
        Some(o) => format!("d{o}"),
        None if hv.machine.valid(Mfn(mfn)) => "nobody".to_string(),
        None => "no such frame".to_string(),
    }
}

fn m2p_text(hv: &Hypervisor, mfn: u64) -> String {
    match hv.m2p.get(Mfn(mfn)) {
        Some(p) => format!("pfn {:#x}", p.0),
        None => "none".to_string(),
    }
}

/// `count` P2M entries of `dom` from `pfn`; `None`: every valid entry.
pub fn p2m(w: &World, dom: DomId, range: Option<(u64, u64)>) -> String {
    let Some((k, hv)) = kernel_hv(w, dom) else { return format!("no domain {dom}\n") };
    if !k.pv {
        return format!("d{dom}: a native domain has no P2M (pfn == machine frame)\n");
    }
    let len = k.p2m().len();
    let mut out = String::new();
    // An explicit range shows every entry, valid or not: only its first
    // MAX_TABLE_LINES are walked and the rest counted, so the cost follows
    // the lines printed, not the count asked for. The whole table is
    // walked for its valid entries (bounded by the P2M's length).
    let (from, count, all) = match range {
        Some((p, c)) => (p, c.min(u64::MAX - p), true),
        None => (0, len, false),
    };
    let mut shown = 0u64;
    let mut skipped = if all { count.saturating_sub(MAX_TABLE_LINES) } else { 0 };
    let end = if all { from + count.min(MAX_TABLE_LINES) } else { from + count };
    for pfn in from..end {
        let raw = k.p2m().raw(Pfn(pfn));
        if !all && raw == INVALID_P2M_ENTRY {
            continue;
        }
        if shown >= MAX_TABLE_LINES {
            skipped += 1;
            continue;
        }
        shown += 1;
        let _ = write!(out, "d{dom} p2m pfn {pfn:#x}: ");
        if pfn >= len {
            let _ = writeln!(out, "beyond the P2M ({len} entries)");
        } else if raw == INVALID_P2M_ENTRY {
            let _ = writeln!(out, "invalid (INVALID_P2M_ENTRY)");
        } else {
            let tags: String = entry_tags(raw).iter().map(|t| format!(" {t}")).collect();
            let mfn = entry_mfn(raw);
            let _ = writeln!(
                out,
                "{raw:#x}{tags} -> mfn {mfn:#x}, machine owner {}, m2p -> {}",
                owner_text(hv, mfn),
                m2p_text(hv, mfn)
            );
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "... {skipped} more entries left out (at most {MAX_TABLE_LINES} lines)");
    }
    if out.is_empty() {
        out.push_str("(empty)\n");
    }
    out
}

/// `count` M2P entries from `mfn` (machine-wide).
pub fn m2p(w: &World, mfn: u64, count: u64) -> String {
    let hv = &w.hv;
    let mut out = String::new();
    let n = count.min(MAX_TABLE_LINES);
    for m in mfn..mfn.saturating_add(n) {
        if !hv.machine.valid(Mfn(m)) {
            let _ = writeln!(out, "mfn {m:#x}: no such frame ({} frames)", hv.machine.nr_frames());
            continue;
        }
        let _ = writeln!(out, "mfn {m:#x}: m2p -> {}, owner {}", m2p_text(hv, m), owner_text(hv, m));
    }
    if count > n {
        let _ = writeln!(out, "... {} more entries left out (at most {MAX_TABLE_LINES} lines)", count - n);
    }
    out
}

/// The m2p override table of `dom`'s kernel, newest first (the order
/// `m2p_find_override()` searches).
pub fn m2p_override(w: &World, dom: DomId) -> String {
    let Some((k, _)) = kernel_hv(w, dom) else { return format!("no domain {dom}\n") };
    let mut out = String::new();
    if !k.variant.m2p_override() {
        let _ = writeln!(out, "d{dom}: kernel {} has no m2p override table (Linux 2.6.39-3.19 only)", k.variant);
        return out;
    }
    if k.xen.m2p_override.is_empty() {
        let _ = writeln!(out, "d{dom} m2p override: (empty)");
    }
    for (m, p) in &k.xen.m2p_override {
        let _ = writeln!(out, "d{dom} m2p override: mfn {:#x} -> pfn {:#x}", m.0, p.0);
    }
    out
}
