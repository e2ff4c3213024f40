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

// ---------------------------------------------------------------------
// Running both sides, shrinking, reporting.

/// A divergence found by [`check`], shrunk.
#[derive(Debug, Clone)]
pub struct Report {
    /// The sequence as generated.
    pub original: Vec<Op>,
    /// The shrunk sequence (still diverging).
    pub ops: Vec<Op>,
    /// The divergence of the shrunk sequence.
    pub divergence: Divergence,
    /// Both sides' results for the shrunk sequence.
    pub host_results: Vec<OpResult>,
    pub model_results: Vec<OpResult>,
    pub base: u64,
    /// The shrunk sequence as a scenario (host results as expectations).
    pub mms: String,
    /// Runs of both sides spent shrinking.
    pub shrink_runs: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "host and model diverge ({} ops, shrunk from {} in {} runs)",
            self.ops.len(),
            self.original.len(),
            self.shrink_runs
        )?;
        writeln!(f, "{}", self.divergence)?;
        writeln!(f, "ops (host result | model result):")?;
        for (i, op) in self.ops.iter().enumerate() {
            let h = self.host_results.get(i).map_or("-".to_string(), |r| fmt_result(r, self.base));
            let m = self.model_results.get(i).map_or("-".to_string(), |r| fmt_result(r, self.base));
            let mark = if h == m { " " } else { "*" };
            writeln!(f, "{mark}{i:3} {op:?}\n       host: {h} | model: {m}")?;
        }
        writeln!(f, "----- scenario (.mms) -----\n{}---------------------------", self.mms)
    }
}

/// Run `ops` on both sides and compare. `Err` when either side could not
/// run the sequence (an oracle error: not a divergence).
pub fn run_both(
    ops: &[Op],
    host: &HostConfig,
    model: &ModelConfig,
    cmp: &CompareConfig,
) -> Result<(Transcript, Transcript, Option<Divergence>), OracleError> {
    let h = run_on_host(ops, host)?;
    let mut mcfg = model.clone();
    mcfg.base = h.base;
    let m = run_on_model_cfg(ops, &mcfg)?;
    let d = compare(&h, &m, cmp);
    Ok((h, m, d))
}

/// [`check_with`] with the model configured as the host.
pub fn check(ops: &[Op], host: &HostConfig, cmp: &CompareConfig) -> Result<Option<Report>, OracleError> {
    check_with(ops, host, &ModelConfig::from_host(host), cmp)
}

/// Run `ops` on both sides; on a divergence, shrink and report it.
pub fn check_with(
    ops: &[Op],
    host: &HostConfig,
    model: &ModelConfig,
    cmp: &CompareConfig,
) -> Result<Option<Report>, OracleError> {
    let (_, _, d) = run_both(ops, host, model, cmp)?;
    let Some(d) = d else { return Ok(None) };
    let key = d.key(ops);
    let mut runs = 0usize;
    let shrunk = shrink(ops, d.step, |cand| {
        runs += 1;
        match run_both(cand, host, model, cmp) {
            Ok((_, _, Some(d2))) if d2.key(cand) == key => Some(d2.step),
            _ => None,
        }
    });
    // Re-run the shrunk sequence for the report (and to be sure it still
    // diverges: the host is not always deterministic).
    let (h, m, d2) = run_both(&shrunk, host, model, cmp)?;
    let (ops_final, h, m, d) = match d2 {
        Some(d2) => (shrunk, h, m, d2),
        None => {
            let (h, m, d2) = run_both(ops, host, model, cmp)?;
            (ops.to_vec(), h, m, d2.unwrap_or(d))
        }
    };
    let mms = to_mms(&ops_final, Some(&h), h.base, h.range_len, Some(&d));
    Ok(Some(Report {
        original: ops.to_vec(),
        host_results: h.steps.iter().map(|s| s.result.clone()).collect(),
        model_results: m.steps.iter().map(|s| s.result.clone()).collect(),
        ops: ops_final,
        divergence: d,
        base: h.base,
        mms,
        shrink_runs: runs,
    }))
}

/// Greedy shrinking: drop everything after the diverging step, then try
/// smaller candidates (last op first) as long as `diverges` says the
/// divergence persists (it returns the new diverging step): drop one op (a
/// dropped fork takes its child's ops along and later processes are
/// renumbered), or address an op to process 0. At most 400 attempts.
pub fn shrink(ops: &[Op], step: Option<usize>, mut diverges: impl FnMut(&[Op]) -> Option<Option<usize>>) -> Vec<Op> {
    let truncate = |v: &mut Vec<Op>, step: Option<usize>| {
        if let Some(s) = step {
            v.truncate(s + 1);
        }
    };
    let mut cur = ops.to_vec();
    truncate(&mut cur, step);
    let mut budget = 400usize;
    loop {
        let mut progress = false;
        for pass in 0..2 {
            let mut i = cur.len();
            while i > 0 && budget > 0 {
                i -= 1;
                if i >= cur.len() {
                    continue;
                }
                let cand = if pass == 0 {
                    remove_op(&cur, i)
                } else {
                    match cur[i].p() {
                        Some(p) if p != 0 && !matches!(cur[i], Op::Exit { .. }) => {
                            let mut c = cur.clone();
                            set_p(&mut c[i], 0);
                            c
                        }
                        _ => continue,
                    }
                };
                if cand.is_empty() {
                    continue;
                }
                budget -= 1;
                if let Some(s) = diverges(&cand) {
                    cur = cand;
                    truncate(&mut cur, s);
                    progress = true;
                }
            }
        }
        if !progress || budget == 0 {
            return cur;
        }
    }
}

/// `ops` without op `i`. Processes are numbered in creation order (every
/// fork of a sequence succeeds), so dropping a fork drops the ops of the
/// child it made (and of that child's children) and renumbers the rest.
pub fn remove_op(ops: &[Op], i: usize) -> Vec<Op> {
    // map[old index] = new index, None for a process that no longer exists.
    let mut map: Vec<Option<usize>> = vec![Some(0)];
    let mut next_new = 1usize;
    let mut out = Vec::with_capacity(ops.len());
    for (j, op) in ops.iter().enumerate() {
        let parent = op.p().map(|p| map.get(p).copied().flatten());
        let is_fork = matches!(op, Op::Fork { .. });
        if j == i || parent == Some(None) {
            if is_fork {
                map.push(None);
            }
            continue;
        }
        let mut op = op.clone();
        if let Some(Some(np)) = parent {
            set_p(&mut op, np);
        }
        if is_fork {
            map.push(Some(next_new));
            next_new += 1;
        }
        out.push(op);
    }
    out
}

/// Readdress `op` to process `np`.
pub fn set_p(op: &mut Op, np: usize) {
    if let Some(p) = op.p_mut() {
        *p = np;
    }
}

// ---------------------------------------------------------------------
// The scenario writer.

/// `x"5a" * 4096 ++ x"0102"`: a byte-string expression of the scenario
/// language (runs of 8 or more equal bytes are repeated literals).
pub fn bytes_literal(b: &[u8]) -> String {
    if b.is_empty() {
        return "\"\"".to_string();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        let mut j = i;
        while j < b.len() && b[j] == b[i] {
            j += 1;
        }
        if j - i >= 8 {
            if !lit.is_empty() {
                parts.push(format!("x\"{lit}\""));
                lit.clear();
            }
            parts.push(format!("x\"{:02x}\" * {}", b[i], j - i));
        } else {
            for _ in i..j {
                let _ = write!(lit, "{:02x}", b[i]);
            }
        }
        i = j;
    }
    if !lit.is_empty() {
        parts.push(format!("x\"{lit}\""));
    }
    parts.join(" ++ ")
}

/// A length: `8K`, `2M`, or the number.
fn fmt_len(v: u64) -> String {
    if v != 0 && v.is_multiple_of(1 << 20) && v < 1 << 40 {
        format!("{}M", v >> 20)
    } else if v != 0 && v.is_multiple_of(1024) && v < 1 << 40 {
        format!("{}K", v >> 10)
    } else if v < 4096 {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

fn fmt_int(v: i64) -> String {
    if (-4095..0).contains(&v) || (0..=0xffff).contains(&v) { v.to_string() } else { format!("{:#x}", v as u64) }
}

/// Scenario text of one expectation (absolute signal addresses).
fn abs_expectation(r: &OpResult, base: u64) -> String {
    match r {
        OpResult::Ret(v) if *v < 0 => format_return(*v as u64),
        OpResult::Ret(v) if *v > 0xffff => format!("{v:#x}"),
        OpResult::Ret(v) => v.to_string(),
        OpResult::Bytes(b) => bytes_literal(b),
        OpResult::Signal { sig, code, addr } if matches!((sig, code), (11, 1) | (11, 2) | (7, 2)) => {
            format!("{}@{:#x}", signal_word(*sig, *code), addr.resolve(base))
        }
        OpResult::Signal { sig: 7, .. } => "SIGBUS".to_string(),
        OpResult::Signal { .. } => "SIGSEGV".to_string(),
    }
}

/// The scenario for `ops`: a native domain, process `p0` with
/// `mmap_base = base + range_len`, the two guard pages the oracle puts
/// around the range (and the model's I/O scratch buffer when `pread` or
/// `pwrite` is used), then one call per op with the host's result as the
/// expectation (when `host` is given). Ops the language cannot express
/// exactly are written as close as it allows, with a comment.
pub fn to_mms(ops: &[Op], host: Option<&Transcript>, base: u64, range_len: u64, div: Option<&Divergence>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Differential test case: {} ops run on the host kernel and in the model.", ops.len());
    if let Some(d) = div {
        for line in d.to_string().lines() {
            let _ = writeln!(s, "# {line}");
        }
    }
    let _ = writeln!(s, "# Expectations are the host's results. Range: {base:#x}+{}.", fmt_len(range_len));
    let _ = writeln!(s, "domain host native");
    let _ = writeln!(s, "process p0 in host mmap_base={:#x}", base + range_len);
    let _ = writeln!(s, "\n# The oracle's guard pages around the range.");
    let guard = "PROT_NONE, MAP_SHARED|MAP_ANONYMOUS|MAP_FIXED, -1, 0";
    let _ = writeln!(s, "p0: mmap({:#x}, 4K, {guard}) = {:#x}", base - PAGE_SIZE, base - PAGE_SIZE);
    let _ = writeln!(s, "p0: mmap({:#x}, 4K, {guard}) = {:#x}", base + range_len, base + range_len);
    if ops.iter().any(|o| matches!(o, Op::Pread { .. } | Op::Pwrite { .. })) {
        let _ = writeln!(
            s,
            "# The I/O buffer of pread/pwrite (outside the range).\np0: mmap({SCRATCH_ADDR:#x}, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_NORESERVE, -1, 0) = {SCRATCH_ADDR:#x}"
        );
    }
    let _ = writeln!(s);
    // Process names and memfd variables.
    let mut nprocs = 1usize;
    let mut alive = vec![true];
    let mut slots: Vec<Vec<Option<String>>> = vec![vec![None; 64]];
    let mut nvars = 0usize;
    let a = |x: &Addr| format!("{:#x}", x.resolve(base));
    for (i, op) in ops.iter().enumerate() {
        let res = host.and_then(|t| t.steps.get(i)).map(|st| &st.result);
        let exp = |r: Option<&OpResult>| match r {
            Some(r) => format!(" = {}", abs_expectation(r, base)),
            None => String::new(),
        };
        let Some(p) = op.p() else {
            for (q, live) in alive.iter().enumerate() {
                if *live {
                    let _ = writeln!(s, "show maps p{q}");
                }
            }
            continue;
        };
        let fd = |f: &FdRef, slots: &Vec<Vec<Option<String>>>| -> String {
            match f {
                FdRef::None => "-1".to_string(),
                FdRef::Raw(n) => n.to_string(),
                FdRef::Slot(k) => {
                    slots.get(p).and_then(|v| v.get(*k as usize)).cloned().flatten().unwrap_or_else(|| "-1".to_string())
                }
            }
        };
        let who = format!("p{p}: ");
        let line = match op {
            Op::Mmap { addr, len, prot, flags, fd: f, off, .. } => format!(
                "{who}mmap({}, {}, {}, {}, {}, {}){}",
                if *addr == Addr::NULL { "NULL".to_string() } else { a(addr) },
                fmt_len(*len),
                format_flags("PROT_", *prot as u32 as u64),
                format_flags("MAP_", *flags as u32 as u64),
                fd(f, &slots),
                fmt_len(*off),
                exp(res)
            ),
            Op::Munmap { addr, len, .. } => format!("{who}munmap({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mprotect { addr, len, prot, .. } => format!(
                "{who}mprotect({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                format_flags("PROT_", *prot as u32 as u64),
                exp(res)
            ),
            Op::Mremap { old, old_len, new_len, flags, new_addr, .. } => format!(
                "{who}mremap({}, {}, {}, {}, {}){}",
                a(old),
                fmt_len(*old_len),
                fmt_len(*new_len),
                format_flags("MREMAP_", *flags as u32 as u64),
                if *new_addr == Addr::NULL { "NULL".to_string() } else { a(new_addr) },
                exp(res)
            ),
            Op::Madvise { addr, len, advice, .. } => format!(
                "{who}madvise({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                const_name_for("MADV_", *advice as u32 as u64)
                    .map_or_else(|| (*advice as u32).to_string(), str::to_string),
                exp(res)
            ),
            Op::Mlock { addr, len, .. } => format!("{who}mlock({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mlock2 { addr, len, flags, .. } => format!(
                "{who}mlock2({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                if *flags == 0 { "0".to_string() } else { format_flags("MLOCK_", *flags as u64) },
                exp(res)
            ),
            Op::Munlock { addr, len, .. } => format!("{who}munlock({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            Op::Mlockall { flags, .. } => format!(
                "{who}mlockall({}){}",
                if *flags == 0 { "0".to_string() } else { format_flags("MCL_", *flags as u32 as u64) },
                exp(res)
            ),
            Op::Munlockall { .. } => format!("{who}munlockall(){}", exp(res)),
            Op::Mseal { addr, len, flags, .. } => {
                format!("{who}mseal({}, {}, {}){}", a(addr), fmt_len(*len), fmt_int(*flags as i64), exp(res))
            }
            Op::Msync { addr, len, flags, .. } => format!(
                "{who}msync({}, {}, {}){}",
                a(addr),
                fmt_len(*len),
                if *flags == 0 { "0".to_string() } else { format_flags("MS_", *flags as u32 as u64) },
                exp(res)
            ),
            // The language's two-argument mincore returns bytes: an error
            // cannot be its expectation (it is printed when run).
            Op::Mincore { addr, len, .. } => match res {
                Some(OpResult::Ret(v)) => {
                    format!("{who}mincore({}, {})  # host: {}", a(addr), fmt_len(*len), format_return(*v as u64))
                }
                _ => format!("{who}mincore({}, {}){}", a(addr), fmt_len(*len), exp(res)),
            },
            Op::MemfdCreate { slot, flags, .. } => {
                let ok = matches!(res, Some(OpResult::Ret(v)) if *v >= 0) || res.is_none();
                if ok {
                    nvars += 1;
                    let var = format!("fd{nvars}");
                    let l = format!(
                        "{who}{var} = memfd_create(\"mmsim\"){}{}",
                        if res.is_some() { " = ok" } else { "" },
                        if *flags != 0 {
                            format!("  # memfd_create flags {flags:#x} not expressible")
                        } else {
                            String::new()
                        }
                    );
                    if let Some(v) = slots.get_mut(p).and_then(|v| v.get_mut(*slot as usize)) {
                        *v = Some(var);
                    }
                    l
                } else {
                    format!("# {who}memfd_create(\"mmsim\") with flags {flags:#x}: host{}", exp(res))
                }
            }
            Op::Ftruncate { fd: f, len, .. } => {
                format!("{who}ftruncate({}, {}){}", fd(f, &slots), fmt_int(*len as i64), exp(res))
            }
            Op::Close { fd: f, .. } => {
                let l = format!("{who}close({}){}", fd(f, &slots), exp(res));
                if let FdRef::Slot(k) = f
                    && let Some(v) = slots.get_mut(p).and_then(|v| v.get_mut(*k as usize))
                {
                    *v = None;
                }
                l
            }
            Op::Pwrite { fd: f, off, bytes, .. } => format!(
                "{who}store({SCRATCH_ADDR:#x}, {})\n{who}pwrite({}, {SCRATCH_ADDR:#x}, {}, {}){}",
                bytes_literal(bytes),
                fd(f, &slots),
                bytes.len(),
                fmt_int(*off as i64),
                exp(res)
            ),
            Op::Pread { fd: f, off, len, .. } => match res {
                Some(OpResult::Bytes(b)) => format!(
                    "{who}pread({}, {SCRATCH_ADDR:#x}, {}, {}) = {}\n{who}load({SCRATCH_ADDR:#x}, {}) = {}",
                    fd(f, &slots),
                    len,
                    fmt_int(*off as i64),
                    b.len(),
                    b.len(),
                    bytes_literal(b)
                ),
                _ => format!(
                    "{who}pread({}, {SCRATCH_ADDR:#x}, {}, {}){}",
                    fd(f, &slots),
                    len,
                    fmt_int(*off as i64),
                    exp(res)
                ),
            },
            Op::Load { addr, len, .. } => format!("{who}load({}, {}){}", a(addr), len, exp(res)),
            Op::Store { addr, bytes, .. } => format!("{who}store({}, {}){}", a(addr), bytes_literal(bytes), exp(res)),
            Op::Touch { addr, len, write: false, .. } => format!("{who}touch({}, {}, r){}", a(addr), len, exp(res)),
            Op::Touch { addr, len, write: true, .. } => touch_write_lines(&who, addr.resolve(base), *len, res, base),
            Op::Fork { .. } => match res {
                Some(OpResult::Ret(v)) if *v < 0 => format!("{who}fork() = {}", format_return(*v as u64)),
                _ => {
                    let n = nprocs;
                    nprocs += 1;
                    alive.push(true);
                    let inherited = slots.get(p).cloned().unwrap_or_else(|| vec![None; 64]);
                    slots.push(inherited);
                    format!("{who}p{n} = fork()")
                }
            },
            Op::Exit { .. } => {
                if let Some(l) = alive.get_mut(p) {
                    *l = false;
                }
                format!("{who}exit()")
            }
            Op::Snapshot => String::new(),
        };
        let _ = writeln!(s, "{line}");
        if div.is_some_and(|d| d.step == Some(i)) {
            let _ = writeln!(s, "# ^ the divergence shows after this step");
            show_state(&mut s, &alive, host, Some(i), base);
        }
    }
    if div.is_some_and(|d| d.step.is_none()) || div.is_none() {
        show_state(&mut s, &alive, host, None, base);
    }
    s
}

/// `show` statements for every live process: maps, smaps, and the pagemap
/// of each VMA the host had in the range.
fn show_state(s: &mut String, alive: &[bool], host: Option<&Transcript>, step: Option<usize>, base: u64) {
    let snap = host.and_then(|t| match step {
        Some(i) => t.steps.get(i).and_then(|st| st.snapshot.as_ref()),
        None => Some(&t.final_state),
    });
    for (q, live) in alive.iter().enumerate() {
        if !*live {
            continue;
        }
        let _ = writeln!(s, "show maps p{q}\nshow smaps p{q}");
        if let Some(ps) = snap.and_then(|sn| sn.iter().find(|ps| ps.p == q)) {
            for v in &ps.vmas {
                let start = v.start.max(base);
                let len = (v.end - start).min(256 * PAGE_SIZE);
                let letters: String = v.pages.iter().take(256).map(page_letter).collect();
                let _ = writeln!(s, "# host pagemap from {start:#x}: {letters}");
                let _ = writeln!(s, "show pagemap p{q} {start:#x} {}", fmt_len(len));
            }
        }
    }
}

/// The oracle's write touch, page by page: a read access then a write
/// access (the interpreter's `touch(.., w)` is a single write access).
/// Pages up to the one where the host stopped; the expectation goes on
/// the last write.
fn touch_write_lines(who: &str, addr: u64, len: u64, res: Option<&OpResult>, base: u64) -> String {
    if len == 0 {
        return format!(
            "{who}touch({addr:#x}, 0, w){}",
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        );
    }
    let end = addr.saturating_add(len);
    let stop = match res {
        Some(OpResult::Signal { addr: fa, .. }) => Some(fa.resolve(base)),
        _ => None,
    };
    let mut pages = Vec::new();
    let mut p = addr;
    loop {
        pages.push(p);
        if stop.is_some_and(|st| st == p) || pages.len() > 16 {
            break;
        }
        match (p & !(PAGE_SIZE - 1)).checked_add(PAGE_SIZE) {
            Some(n) if n < end => p = n,
            _ => break,
        }
    }
    if pages.len() > 16 {
        return format!(
            "{who}touch({addr:#x}, {len}, w){}  # the oracle reads then writes each page",
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        );
    }
    let mut out = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let last = i + 1 == pages.len();
        out.push(format!("{who}touch({p:#x}, 1, r){}", if last { "" } else { " = 0" }));
        let e = if last {
            res.map_or(String::new(), |r| format!(" = {}", abs_expectation(r, base)))
        } else {
            " = 0".to_string()
        };
        out.push(format!("{who}touch({p:#x}, 1, w){e}"));
    }
    out.join("\n")
}

/// Convenience for tests: the host configuration with snapshots only at
/// [`Op::Snapshot`] (and the end).
pub fn explicit(cfg: &HostConfig) -> HostConfig {
    HostConfig { snapshots: SnapshotMode::Explicit, ..cfg.clone() }
}

// ---------------------------------------------------------------------
// Peer tests (ported test suites): both sides, then the original assertion.

/// What [`peer_check`] found.
#[derive(Debug)]
pub enum Peer {
    /// Both sides agree; the transcripts for the original test's own
    /// assertions (the host's is the reference).
    Agree { host: Box<Transcript>, model: Box<Transcript> },
    /// They diverge (shrunk report).
    Diverge(Box<Report>),
    /// The host cannot run the oracle here (why).
    Unavailable(String),
}

/// Run a ported test's ops on the host and in the model (default
/// configurations) and compare. Availability is probed first with an empty
/// run (not x86-64 Linux, the range taken...); without root both sides
/// hide PFNs (see [`HostInfo::not_compared`]);
/// an oracle error on the ops themselves is `Err` (a bug of the test).
pub fn peer_check(ops: &[Op]) -> Result<Peer, OracleError> {
    peer_check_with(ops, &HostConfig::default(), &CompareConfig::default())
}

/// [`peer_check`] with explicit configurations.
pub fn peer_check_with(ops: &[Op], host: &HostConfig, cmp: &CompareConfig) -> Result<Peer, OracleError> {
    match run_on_host(&[], host) {
        Err(e) => return Ok(Peer::Unavailable(format!("the host oracle cannot run here: {e}"))),
        Ok(t) if !t.unhinted_in_range => {
            return Ok(Peer::Unavailable("unhinted mappings do not land in the range".to_string()));
        }
        Ok(_) => {}
    }
    let model = ModelConfig::from_host(host);
    let (h, m, d) = run_both(ops, host, &model, cmp)?;
    let Some(d) = d else {
        return Ok(Peer::Agree { host: Box::new(h), model: Box::new(m) });
    };
    match check_with(ops, host, &model, cmp)? {
        Some(r) => Ok(Peer::Diverge(Box::new(r))),
        // Diverged once but not on the re-run (the host is not always
        // deterministic): still a divergence, reported unshrunk.
        None => Ok(Peer::Diverge(Box::new(Report {
            original: ops.to_vec(),
            ops: ops.to_vec(),
            mms: to_mms(ops, Some(&h), h.base, h.range_len, Some(&d)),
            divergence: d,
            host_results: h.steps.iter().map(|s| s.result.clone()).collect(),
            model_results: m.steps.iter().map(|s| s.result.clone()).collect(),
            base: h.base,
            shrink_runs: 0,
        }))),
    }
}
