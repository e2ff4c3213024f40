//! `run --html`, `demo --html`: a self-contained web page that steps
//! through a scenario. The page embeds, as JSON in a
//! `<script type="application/json">` element, the run's records (exactly
//! what `run --json` prints for each step, see `run/output.rs`) and a state
//! snapshot after each step (`snapshot.rs`), stored as a delta against the
//! previous step: items set and keys deleted. Vanilla JS and CSS from
//! `src/html/assets/` are inlined; nothing is fetched, no timestamps are
//! written, so the same scenario gives the same bytes.

pub mod demo;
pub mod page;
pub mod snapshot;

use crate::hv::machine::DomId;
use crate::kernel::Pid;
use crate::kernel::variant::Variant;
use crate::run::{Event, Outcome, Runner, output};
use crate::script::{self, CheckedScript, StepKind};
use serde::Serialize;
use serde_json::Value as J;
use snapshot::{InPlay, Item, ProcNames};
use std::collections::BTreeMap;

/// Longest hex string of a `bytes` result kept in the page (256 bytes);
/// longer ones are cut and carry `bytes_len`.
pub const MAX_BYTES_HEX: usize = 512;
/// Longest `show` text kept in the page.
pub const MAX_SHOW_TEXT: usize = 64 * 1024;
/// JavaScript's largest exact integer.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One step of the page: the script step, its run records, its delta.
#[derive(Debug, Serialize)]
pub struct StepRec {
    pub line: u32,
    /// domain, process, file, disk, action, show, check.
    pub kind: &'static str,
    /// The records `run --json` prints for this step (step, show,
    /// violation), big numbers as hex strings, long bytes cut.
    pub records: Vec<J>,
    /// Items new or changed since the previous step.
    pub set: BTreeMap<String, Item>,
    /// Keys gone since the previous step.
    pub del: Vec<String>,
    /// Machine frames a device's DMA touched in this step: `[mfn, op]`.
    pub dma: Vec<[String; 2]>,
    /// Violations reported at this step (a count, for the markers).
    pub violations: u32,
    /// Whether an expectation failed at this step.
    pub failed: bool,
    /// The address the step's events name last, as `[dom, pid, addr]`.
    pub focus: Option<(DomId, Pid, String)>,
}

/// A whole run, ready to be written as a page.
#[derive(Debug, Serialize)]
pub struct Recording {
    pub format: &'static str,
    pub file: String,
    pub variant: String,
    pub src: String,
    pub steps: Vec<StepRec>,
    /// The `run --json` outcome record (none when the run stopped early).
    pub outcome: Option<J>,
    /// A runtime error that stopped the run: `[line, message]`.
    pub error: Option<(u32, String)>,
}

impl Recording {
    pub fn violations(&self) -> u32 {
        self.steps.iter().map(|s| s.violations).sum()
    }
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.steps.iter().all(|s| s.violations == 0 && !s.failed)
    }
}

fn kind_name(k: &StepKind) -> &'static str {
    match k {
        StepKind::Domain(_) => "domain",
        StepKind::Process(_) => "process",
        StepKind::File(_) => "file",
        StepKind::Disk(_) => "disk",
        StepKind::Action(_) => "action",
        StepKind::Show(_) => "show",
        StepKind::Check => "check",
    }
}

/// Numbers above 2^53 become hex strings; long `bytes` and `text` are cut.
fn tame(v: &mut J) {
    match v {
        J::Number(n) => {
            if let Some(u) = n.as_u64()
                && u > MAX_SAFE_INTEGER
            {
                *v = J::String(format!("{u:#x}"));
            }
        }
        J::Array(a) => a.iter_mut().for_each(tame),
        J::Object(o) => {
            let mut cut_len = None;
            for (k, x) in o.iter_mut() {
                match (k.as_str(), &mut *x) {
                    ("bytes", J::String(s)) if s.len() > MAX_BYTES_HEX => {
                        cut_len = Some(s.len() / 2);
                        s.truncate(MAX_BYTES_HEX);
                    }
                    ("text", J::String(s)) if s.len() > MAX_SHOW_TEXT => {
                        let mut end = MAX_SHOW_TEXT;
                        while !s.is_char_boundary(end) {
                            end -= 1;
                        }
                        s.truncate(end);
                        s.push_str("\n... (cut in the page)\n");
                    }
                    _ => tame(x),
                }
            }
            if let Some(n) = cut_len {
                o.insert("bytes_len".to_string(), J::from(n));
            }
        }
        _ => {}
    }
}

/// The script's name for each process the run created.
fn proc_names(r: &Runner<'_>) -> ProcNames {
    let mut names = ProcNames::new();
    for p in &r.script.processes {
        if let Some(k) = r.pid_of(&p.name) {
            names.insert(k, p.name.clone());
        }
    }
    names
}

/// Run `checked` under `variant` and record every step with its snapshot.
pub fn record(file: &str, checked: &CheckedScript, variant: Variant) -> Recording {
    let mut runner = Runner::new(checked, variant);
    runner.enable_trace();
    let mut pending: Vec<Event> = Vec::new();
    let mut steps: Vec<StepRec> = Vec::new();
    let mut play = InPlay::default();
    let mut prev: BTreeMap<String, Item> = BTreeMap::new();
    let result = {
        let pending = std::cell::RefCell::new(&mut pending);
        let mut sink = |e: &Event| pending.borrow_mut().push(e.clone());
        let mut after = |r: &Runner<'_>, i: usize| {
            let events = std::mem::take(&mut **pending.borrow_mut());
            let step = &checked.steps[i];
            let mut rec = StepRec {
                line: step.line,
                kind: kind_name(&step.kind),
                records: Vec::new(),
                set: BTreeMap::new(),
                del: Vec::new(),
                dma: Vec::new(),
                violations: 0,
                failed: false,
                focus: None,
            };
            play.addrs.clear();
            for e in &events {
                note_event(&mut play, &mut rec, e);
            }
            if let StepKind::Action(a) = &step.kind
                && a.call.call == script::Call::AllocPage
                && let script::Actor::Domain(d) = a.actor
                && let Some(dom) = r.world.domain_by_name(&checked.domains[d.0].name)
                && let Some(crate::run::CallResult::Value(v)) = events.iter().find_map(|e| match e {
                    Event::Step { result, .. } => Some(result.clone()),
                    _ => None,
                })
                && (v as i64) >= 0
            {
                play.page(dom, v);
            }
            rec.records = events.iter().map(|e| record_json(file, e)).collect();
            let now = snapshot::snapshot(&r.world, &proc_names(r), &play);
            diff(&prev, &now, &mut rec);
            prev = now;
            steps.push(rec);
        };
        runner.run_observed(&mut sink, &mut after)
    };
    let mut rec = Recording {
        format: "mmsim-html 1",
        file: file.to_string(),
        variant: variant.to_string(),
        src: checked.src.clone(),
        steps,
        outcome: None,
        error: None,
    };
    // Violations reported after the last step belong to it.
    let left = std::mem::take(&mut pending);
    if let Some(last) = rec.steps.last_mut() {
        let mut play = InPlay::default();
        for e in &left {
            note_event(&mut play, last, e);
            last.records.push(record_json(file, e));
        }
    }
    match result {
        Ok(o) => rec.outcome = Some(outcome_json(file, &o)),
        Err(e) => {
            let (line, _) = checked.line_col(e.span);
            rec.error = Some((line, e.message.clone()));
        }
    }
    rec
}

fn outcome_json(file: &str, o: &Outcome) -> J {
    let mut j = output::outcome_json(file, o);
    tame(&mut j);
    j
}

fn record_json(file: &str, e: &Event) -> J {
    let mut j = output::event_json(file, e);
    tame(&mut j);
    j
}

/// What an event adds to the step: DMA frames, violations, failures, the
/// things in play.
fn note_event(play: &mut InPlay, rec: &mut StepRec, e: &Event) {
    match e {
        Event::Step { expect, events, .. } => {
            if expect.as_ref().is_some_and(|x| !x.held) {
                rec.failed = true;
            }
            for t in events {
                play.event(t);
                if let crate::trace::Event::Dma { mfn: Some(m), op, .. } = t {
                    rec.dma.push([snapshot::hex(*m), op.to_string()]);
                }
                if let Some(f) = focus_of(t) {
                    rec.focus = Some(f);
                }
            }
        }
        Event::Violation { violation, .. } => {
            rec.violations += 1;
            for &m in &violation.mfns {
                play.frame(m);
            }
            for &d in &violation.domains {
                for &p in &violation.pfns {
                    play.page(d, p);
                }
            }
        }
        Event::Show { .. } => {}
    }
}

fn focus_of(t: &crate::trace::Event) -> Option<(DomId, Pid, String)> {
    use crate::trace::Event as T;
    let (d, p, a) = match t {
        T::Fault { dom, pid, addr, .. }
        | T::FaultSignal { dom, pid, addr, .. }
        | T::Zap { dom, pid, addr, .. }
        | T::Gup { dom, pid, addr, .. }
        | T::BioSubmit { dom, pid, addr, .. } => (*dom, *pid, *addr),
        _ => return None,
    };
    Some((d, p, snapshot::hex(a & !(crate::arch::x86_64::PAGE_SIZE - 1))))
}

fn diff(prev: &BTreeMap<String, Item>, now: &BTreeMap<String, Item>, rec: &mut StepRec) {
    for (k, v) in now {
        if prev.get(k) != Some(v) {
            rec.set.insert(k.clone(), v.clone());
        }
    }
    rec.del = prev.keys().filter(|k| !now.contains_key(*k)).cloned().collect();
}

/// Parse, check, run and render `src` as a page. A script that does not
/// parse gives its rendered errors.
pub fn page_of_source(
    file: &str,
    src: &str,
    over: Option<script::KernelConfig>,
) -> Result<(String, Recording), String> {
    let checked = script::parse_and_check(file, src).map_err(|e| script::render_errors(file, src, &e, false))?;
    let variant = crate::run::effective_variant(&checked, over);
    let rec = record(file, &checked, variant);
    Ok((page::render(&rec), rec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tame_makes_big_numbers_hex_and_cuts_long_bytes() {
        let mut j = serde_json::json!({"result": {"value": u64::MAX - 1}, "small": 4096, "bytes": "ab".repeat(4096)});
        tame(&mut j);
        assert_eq!(j["result"]["value"], "0xfffffffffffffffe");
        assert_eq!(j["small"], 4096);
        assert_eq!(j["bytes"].as_str().map(str::len), Some(MAX_BYTES_HEX));
        assert_eq!(j["bytes_len"], 4096);
    }

    #[test]
    fn pages_are_deterministic_and_script_safe() {
        let src = "domain d native\nprocess p in d\np: a = mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: store(a, \"</script><!--\") = 0\n";
        let (one, rec) = page_of_source("t.mms", src, None).expect("runs");
        let (two, _) = page_of_source("t.mms", src, None).expect("runs");
        assert_eq!(one, two);
        assert_eq!(rec.steps.len(), 4);
        assert!(rec.passed());
        assert_eq!(one.matches("</script>").count(), 2, "the data cannot close its element");
        let store = &rec.steps[3];
        assert!(store.set.keys().any(|k| k.starts_with("w/")), "the stored page's walk is in play");
        assert!(store.set.keys().any(|k| k.starts_with("v/")), "the VMA's strip changed");
    }

    /// A `touch` of 64 MiB: 16,384 faults, PTEs and pages. The step keeps
    /// at most MAX_STICKY + MAX_PTE_TARGETS pages and frames, MAX_WALKS_PER_PROC walks
    /// of populated PTEs plus MAX_EVENT_WALKS_PER_PROC of the addresses the
    /// events name, and MAX_STEP_EVENTS events and their left-out count
    /// (before, each of the 16,384 became an item and an event).
    #[test]
    fn a_big_step_keeps_bounded_snapshots() {
        use snapshot::{MAX_EVENT_WALKS_PER_PROC, MAX_PTE_TARGETS, MAX_STICKY, MAX_WALKS_PER_PROC};
        let src = "domain d native pages=32768\nprocess p in d\np: a = mmap(NULL, 64M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\np: touch(a, 64M, w) = 0\n";
        let (_, rec) = page_of_source("t.mms", src, None).expect("runs");
        assert!(rec.passed());
        let touch = &rec.steps[3];
        let count = |c: &str| touch.set.keys().filter(|k| k.starts_with(c)).count();
        // The pages the faults named (sticky, MAX_STICKY) and as many
        // again from the PTEs; each page's frame with it.
        assert_eq!(count("s/"), MAX_STICKY + MAX_PTE_TARGETS);
        assert_eq!(count("f/"), MAX_STICKY + MAX_PTE_TARGETS);
        // The first addresses the faults name are the first populated PTEs.
        assert!((MAX_WALKS_PER_PROC..=MAX_WALKS_PER_PROC + MAX_EVENT_WALKS_PER_PROC).contains(&count("w/")));
        let events = touch.records[0]["events"].as_array().expect("events");
        assert_eq!(events.len(), crate::trace::MAX_STEP_EVENTS + 1);
        assert_eq!(events.last().expect("one")["kind"], "events_left_out");
    }
}
