//! Comparing a host transcript with a model transcript, shrinking a
//! diverging sequence, and writing it as a `.mms` scenario.
//!
//! * [`compare`] walks both transcripts step by step and returns the first
//!   [`Divergence`]: an op's result, the set of live processes, a maps line
//!   (addresses, permissions, offset, path; device and inode only for
//!   anonymous mappings: file inode numbers are not comparable), the smaps
//!   fields of [`CompareConfig::smaps_fields`] and `VmFlags`, and per page
//!   the pagemap bits present, swapped, file/shared-anon, guard, exclusive
//!   and "is the zero page" (never the PFN).
//! * [`check`] / [`check_with`] run a sequence on both sides, compare, and
//!   on a divergence [`shrink`] it (greedily drop ops while a divergence of
//!   the same kind at an op of the same name persists, re-running both
//!   sides) into a [`Report`], whose `Display` gives the ops, both sides'
//!   answers and a ready-to-paste scenario ([`to_mms`]).
//!
//! Deliberate simplifications of the model are excluded in
//! [`CompareConfig::default`], each with its reason there.

use std::fmt::{self, Write};

use super::error::OracleError;
use super::host::{HostConfig, SnapshotMode, run_on_host};
use super::model::{ModelConfig, SCRATCH_ADDR, run_on_model_cfg};
use super::op::{Addr, FdRef, Op, OpResult, PAGE_SIZE};
use super::transcript::{PageInfo, ProcSnapshot, Snapshot, Transcript, VmaSnapshot};
use crate::script::consts::{const_name_for, format_flags, format_return};

mod mms;
mod shrink;
pub use mms::*;
pub use shrink::*;

/// What [`compare`] looks at.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// smaps fields compared, by the kernel's name.
    pub smaps_fields: Vec<&'static str>,
    /// Compare the `VmFlags` line.
    pub vm_flags: bool,
    /// Compare the pagemap bits of each page.
    pub pages: bool,
    /// Known divergence (default true): in a forked process, smaps
    /// `Referenced` is not compared. It counts pages whose PTE is young or
    /// whose folio has PG_referenced; fork copies PTEs old, so in a child
    /// only PG_referenced shows, and the model does not keep that flag as
    /// Linux does: a GUP touch (MAP_POPULATE, MAP_LOCKED, mlock, mlockall,
    /// MADV_POPULATE_*) calls `folio_mark_accessed()`, which sets
    /// PG_referenced on the first call and on the next one activates the
    /// folio and clears it (nothing for unevictable, i.e. mlocked, folios);
    /// the model's populate path (kernel/mlock.rs `faultin_vma_range`)
    /// never sets it and its GUP (kernel/gup.rs) always sets it. In the
    /// first process the young PTEs hide the difference.
    pub ignore_gup_referenced: bool,
}

/// The smaps fields compared by default: every field the model computes.
///
/// Not compared: `KernelPageSize`/`MMUPageSize` (always 4 kB on both
/// sides), `ProtectionKey` (the model has no pkeys; the host prints 0 for
/// every mapping the ops create).
pub const SMAPS_FIELDS: &[&str] = &[
    "Size",
    "Rss",
    "Pss",
    "Pss_Dirty",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Referenced",
    "Anonymous",
    "KSM",
    "LazyFree",
    "AnonHugePages",
    "ShmemPmdMapped",
    "FilePmdMapped",
    "Shared_Hugetlb",
    "Private_Hugetlb",
    "Swap",
    "SwapPss",
    "Locked",
    "THPeligible",
];

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig { smaps_fields: SMAPS_FIELDS.to_vec(), vm_flags: true, pages: true, ignore_gup_referenced: true }
    }
}

/// Which part of the observable state differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The op's result.
    Result,
    /// Snapshot taken on one side only (configurations differ).
    SnapshotPresence,
    /// The live processes.
    Processes,
    /// Number of VMAs in the range.
    VmaCount,
    /// A maps line field (`start`, `end`, `perms`, `offset`, `dev`,
    /// `inode`, `path`).
    Maps(&'static str),
    /// An smaps field.
    Smaps(String),
    /// The VmFlags line.
    VmFlags,
    /// Number of pagemap entries recorded.
    PageCount,
    /// A pagemap bit (`present`, `swapped`, `file`, `guard`, `exclusive`,
    /// `zero_page`).
    Page(&'static str),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Result => write!(f, "result"),
            Kind::SnapshotPresence => write!(f, "snapshot presence"),
            Kind::Processes => write!(f, "live processes"),
            Kind::VmaCount => write!(f, "number of VMAs"),
            Kind::Maps(x) => write!(f, "maps {x}"),
            Kind::Smaps(x) => write!(f, "smaps {x}"),
            Kind::VmFlags => write!(f, "smaps VmFlags"),
            Kind::PageCount => write!(f, "pagemap entries"),
            Kind::Page(x) => write!(f, "pagemap bit {x}"),
        }
    }
}

/// The first difference between two transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The step after which it shows (`None`: the final state).
    pub step: Option<usize>,
    /// The process it concerns, if any.
    pub p: Option<usize>,
    pub kind: Kind,
    /// Where exactly: the VMA, the page.
    pub at: String,
    pub host: String,
    pub model: String,
}

impl Divergence {
    /// What must stay the same while shrinking: the kind, and the name of
    /// the op after which it shows.
    pub fn key(&self, ops: &[Op]) -> (String, &'static str) {
        let op = self.step.and_then(|s| ops.get(s)).map_or("final", |o| o.name());
        (self.kind.to_string(), op)
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(s) => write!(f, "after step {s}")?,
            None => write!(f, "in the final state")?,
        }
        if let Some(p) = self.p {
            write!(f, ", process {p}")?;
        }
        write!(f, ": {} differs", self.kind)?;
        if !self.at.is_empty() {
            write!(f, " ({})", self.at)?;
        }
        write!(f, "\n  host:  {}\n  model: {}", self.host, self.model)
    }
}

/// Compare two transcripts of the same ops; the first divergence.
pub fn compare(host: &Transcript, model: &Transcript, cfg: &CompareConfig) -> Option<Divergence> {
    let n = host.steps.len().min(model.steps.len());
    for i in 0..n {
        let (h, m) = (&host.steps[i], &model.steps[i]);
        if h.result != m.result {
            return Some(Divergence {
                step: Some(i),
                p: None,
                kind: Kind::Result,
                at: String::new(),
                host: fmt_result(&h.result, host.base),
                model: fmt_result(&m.result, model.base),
            });
        }
        match (&h.snapshot, &m.snapshot) {
            (Some(hs), Some(ms)) => {
                if let Some(d) = compare_snapshots(hs, ms, host.base, cfg, Some(i)) {
                    return Some(d);
                }
            }
            (None, None) => {}
            (hs, ms) => {
                return Some(Divergence {
                    step: Some(i),
                    p: None,
                    kind: Kind::SnapshotPresence,
                    at: String::new(),
                    host: hs.is_some().to_string(),
                    model: ms.is_some().to_string(),
                });
            }
        }
    }
    if host.steps.len() != model.steps.len() {
        return Some(Divergence {
            step: None,
            p: None,
            kind: Kind::Result,
            at: "number of steps".to_string(),
            host: host.steps.len().to_string(),
            model: model.steps.len().to_string(),
        });
    }
    compare_snapshots(&host.final_state, &model.final_state, host.base, cfg, None)
}

fn procs_list(s: &Snapshot) -> String {
    let v: Vec<String> = s.iter().map(|p| p.p.to_string()).collect();
    format!("[{}]", v.join(", "))
}

/// Compare two snapshots (the step is only for the report).
pub fn compare_snapshots(
    h: &Snapshot,
    m: &Snapshot,
    base: u64,
    cfg: &CompareConfig,
    step: Option<usize>,
) -> Option<Divergence> {
    let hp: Vec<usize> = h.iter().map(|p| p.p).collect();
    let mp: Vec<usize> = m.iter().map(|p| p.p).collect();
    if hp != mp {
        return Some(Divergence {
            step,
            p: None,
            kind: Kind::Processes,
            at: String::new(),
            host: procs_list(h),
            model: procs_list(m),
        });
    }
    for (hp, mp) in h.iter().zip(m) {
        if let Some(d) = compare_proc(hp, mp, base, cfg, step) {
            return Some(d);
        }
    }
    None
}

fn maps_text(p: &ProcSnapshot) -> String {
    if p.vmas.is_empty() {
        return "(no VMA in the range)".to_string();
    }
    let v: Vec<&str> = p.vmas.iter().map(|v| v.line.as_str()).collect();
    v.join(" | ")
}

fn compare_proc(
    h: &ProcSnapshot,
    m: &ProcSnapshot,
    base: u64,
    cfg: &CompareConfig,
    step: Option<usize>,
) -> Option<Divergence> {
    let div = |kind: Kind, at: String, host: String, model: String| {
        Some(Divergence { step, p: Some(h.p), kind, at, host, model })
    };
    // Maps first, all VMAs: a layout difference explains the rest.
    for (i, (hv, mv)) in h.vmas.iter().zip(&m.vmas).enumerate() {
        let anon = hv.path.is_empty() && mv.path.is_empty();
        let fields: [(&'static str, bool); 7] = [
            ("start", hv.start == mv.start),
            ("end", hv.end == mv.end),
            ("perms", hv.perms == mv.perms),
            ("offset", hv.offset == mv.offset),
            ("path", hv.path == mv.path),
            ("dev", !anon || hv.dev == mv.dev),
            ("inode", !anon || hv.inode == mv.inode),
        ];
        if let Some((name, _)) = fields.iter().find(|(_, same)| !same) {
            return div(Kind::Maps(name), format!("VMA #{i} of the range"), maps_text(h), maps_text(m));
        }
    }
    if h.vmas.len() != m.vmas.len() {
        return div(Kind::VmaCount, String::new(), maps_text(h), maps_text(m));
    }
    for (hv, mv) in h.vmas.iter().zip(&m.vmas) {
        let at = format!("VMA {}", vma_name(hv, base));
        for &name in &cfg.smaps_fields {
            let (a, b) = (hv.smaps.field(name), mv.smaps.field(name));
            // See CompareConfig::ignore_gup_referenced.
            let known = cfg.ignore_gup_referenced && name == "Referenced" && h.p > 0;
            if a != b && !known {
                return div(Kind::Smaps(name.to_string()), at, fmt_field(a), fmt_field(b));
            }
        }
        if cfg.vm_flags && hv.smaps.vm_flags != mv.smaps.vm_flags {
            return div(Kind::VmFlags, at, hv.smaps.vm_flags.join(" "), mv.smaps.vm_flags.join(" "));
        }
        if !cfg.pages {
            continue;
        }
        if hv.pages.len() != mv.pages.len() || hv.pages_truncated != mv.pages_truncated {
            return div(Kind::PageCount, at, hv.pages.len().to_string(), mv.pages.len().to_string());
        }
        for (i, (a, b)) in hv.pages.iter().zip(&mv.pages).enumerate() {
            if let Some(bit) = page_diff(a, b) {
                let addr = hv.start.max(base) + i as u64 * PAGE_SIZE;
                return div(
                    Kind::Page(bit),
                    format!("{at}, page {addr:#x}"),
                    pages_text(&hv.pages),
                    pages_text(&mv.pages),
                );
            }
        }
    }
    None
}

fn vma_name(v: &VmaSnapshot, base: u64) -> String {
    format!(
        "{:#x}-{:#x} (range +{:#x}..+{:#x}) {}",
        v.start,
        v.end,
        v.start.wrapping_sub(base),
        v.end.wrapping_sub(base),
        v.perms
    )
}

fn fmt_field(v: Option<u64>) -> String {
    v.map_or_else(|| "(absent)".to_string(), |v| v.to_string())
}

/// The first pagemap bit (of those compared) that differs.
fn page_diff(a: &PageInfo, b: &PageInfo) -> Option<&'static str> {
    let bits = [
        ("present", a.present == b.present),
        ("swapped", a.swapped == b.swapped),
        ("file", a.file_or_shared_anon == b.file_or_shared_anon),
        ("guard", a.guard == b.guard),
        ("exclusive", a.exclusive == b.exclusive),
        ("zero_page", a.zero_page == b.zero_page),
    ];
    bits.iter().find(|(_, same)| !same).map(|(n, _)| *n)
}

/// One letter a page, as `show pagemap` prints it (from the pagemap bits
/// only: `X` anon exclusive, `p` anon shared, `z` zero page, `F`/`f` file
/// exclusive/shared, `g` guard, `?` other non-present entry, `.` none).
pub fn page_letter(p: &PageInfo) -> char {
    if p.guard {
        'g'
    } else if p.present {
        match (p.zero_page, p.file_or_shared_anon, p.exclusive) {
            (true, _, _) => 'z',
            (false, false, true) => 'X',
            (false, false, false) => 'p',
            (false, true, true) => 'F',
            (false, true, false) => 'f',
        }
    } else if p.swapped {
        '?'
    } else {
        '.'
    }
}

fn pages_text(pages: &[PageInfo]) -> String {
    let s: String = pages.iter().take(128).map(page_letter).collect();
    if pages.len() > 128 { format!("{s}... ({} pages)", pages.len()) } else { s }
}

fn fmt_addr(a: Addr, base: u64) -> String {
    match a {
        Addr::Off(o) => format!("{:#x} (range +{o:#x})", base.wrapping_add(o)),
        Addr::Abs(a) => format!("{a:#x}"),
    }
}

/// A result as the report shows it.
pub fn fmt_result(r: &OpResult, base: u64) -> String {
    match r {
        OpResult::Ret(v) if *v > 0xffff => format!("{v:#x}"),
        OpResult::Ret(v) => format_return(*v as u64),
        OpResult::Bytes(b) => format!("bytes {}", bytes_literal(b)),
        OpResult::Signal { sig, code, addr } => {
            format!("{} @{}", signal_word(*sig, *code), fmt_addr(*addr, base))
        }
    }
}

fn signal_word(sig: i32, code: i32) -> String {
    match (sig, code) {
        (11, 1) => "SIGSEGV:maperr".to_string(),
        (11, 2) => "SIGSEGV:accerr".to_string(),
        (11, 4) => "SIGSEGV:pkuerr".to_string(),
        (7, 2) => "SIGBUS:adrerr".to_string(),
        (11, c) => format!("SIGSEGV (si_code {c:#x})"),
        (7, c) => format!("SIGBUS (si_code {c:#x})"),
        (s, c) => format!("signal {s} (si_code {c:#x})"),
    }
}
