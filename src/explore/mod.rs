//! `mmsim explore`: search the orders in which processes, drivers, the
//! frontend and the block device act, check every invariant after every
//! step, and shrink any break to a minimal runnable scenario. Bugs are
//! told apart by cause ([`signature`]); shards write summaries that
//! [`campaign::merge`] joins (docs/EXPLORE.md).

pub mod campaign;
pub mod chooser;
pub mod generate;
pub mod goldens;
pub mod novelty;
pub mod typed;

use crate::kernel::variant::Variant;
use crate::run::{Event, Runner};
use crate::script;
use chooser::Chooser;
use generate::Op;
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What one run of a sequence showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trial {
    Clean,
    /// An invariant broke after action `at` (0-based index into the ops).
    Violation {
        invariant: String,
        message: String,
        at: usize,
    },
    /// The model panicked: always a bug.
    Panic {
        message: String,
    },
    /// The generated text did not check or run (a generator bug or a
    /// shrinking candidate with a dangling variable).
    Invalid,
}

/// Run `ops` under `variant`, with a `check` after every action.
pub fn run_ops(variant: Variant, ops: &[Op]) -> Trial {
    run_text(variant, generate::WORLD, ops, None)
}

/// Run `ops` in `world` under `variant` with a `check` after every action;
/// with `events`, record the event stream (the trace, rendered as text).
fn run_text(variant: Variant, world: &str, ops: &[Op], events: Option<&mut Vec<String>>) -> Trial {
    run_observed(variant, world, ops, false, events, &mut |_| {}, &mut |_, _| {})
}

/// [`run_text`] that also passes every event to `on_event` and calls
/// `after(runner, i)` once action `i` and its `check` are done (novelty
/// guidance and the exhaustive state cache read the model there); with
/// `trace`, the steps carry their trace events.
pub fn run_observed(
    variant: Variant,
    world: &str,
    ops: &[Op],
    trace: bool,
    events: Option<&mut Vec<String>>,
    on_event: &mut dyn FnMut(&Event),
    after: &mut dyn FnMut(&Runner<'_>, usize),
) -> Trial {
    let text = generate::script_in(world, ops, true);
    let res = catch_unwind(|| script::parse_and_check("explore", &text));
    match res {
        Ok(Ok(checked)) => run_checked(variant, &checked, world, ops.len(), trace, events, on_event, after),
        Ok(Err(_)) => Trial::Invalid,
        Err(p) => panic_trial(p),
    }
}

/// Run a generated sequence: its typed script when the generator built one
/// ([`generate::Marked::checked`]), else its text; as [`run_observed`].
pub fn run_marked(
    variant: Variant,
    m: &generate::Marked,
    trace: bool,
    on_event: &mut dyn FnMut(&Event),
    after: &mut dyn FnMut(&Runner<'_>, usize),
) -> Trial {
    match &m.checked {
        Some(c) => run_checked(variant, c, generate::WORLD, m.ops.len(), trace, None, on_event, after),
        None => run_observed(variant, generate::WORLD, &m.ops, trace, None, on_event, after),
    }
}

/// Run a checked sequence script (`world`, a blank line, then `n_ops`
/// action/check pairs) as [`run_observed`] describes.
#[allow(clippy::too_many_arguments)]
fn run_checked(
    variant: Variant,
    checked: &script::CheckedScript,
    world: &str,
    n_ops: usize,
    trace: bool,
    mut events: Option<&mut Vec<String>>,
    on_event: &mut dyn FnMut(&Event),
    after: &mut dyn FnMut(&Runner<'_>, usize),
) -> Trial {
    let res = catch_unwind(AssertUnwindSafe(|| {
        let mut r = Runner::new(checked, variant);
        // The generated script has its own `check` after every action.
        r.check_each_step = false;
        r.incremental = Some(crate::invariants::Incremental::new());
        if trace || events.is_some() {
            r.enable_trace();
        }
        let mut first: Option<(String, String, u32)> = None;
        let mut checks = 0usize;
        let run = r.run_observed(
            &mut |e: &Event| {
                on_event(e);
                if let Some(ev) = events.as_deref_mut() {
                    ev.push(crate::run::output::event_text("explore", e, crate::run::output::Style { color: false }));
                }
                if let Event::Violation { line, violation, .. } = e
                    && first.is_none()
                {
                    first = Some((violation.invariant.to_string(), violation.message.clone(), *line));
                }
            },
            // After the declarations, steps alternate action, check: the
            // k-th `check` ends action k.
            &mut |r, i| {
                if matches!(r.script.steps.get(i).map(|s| &s.kind), Some(script::StepKind::Check)) {
                    after(r, checks);
                    checks += 1;
                }
            },
        );
        if run.is_err() {
            return Trial::Invalid;
        }
        match first {
            None => Trial::Clean,
            Some((invariant, message, line)) => {
                // Lines: the world, a blank line, then action/check pairs.
                let header = world.lines().count() as u32 + 1;
                let at = (line.saturating_sub(header + 1) / 2) as usize;
                Trial::Violation { invariant, message, at: at.min(n_ops.saturating_sub(1)) }
            }
        }
    }));
    res.unwrap_or_else(panic_trial)
}

/// A panic caught while checking or running: always a bug.
fn panic_trial(p: Box<dyn std::any::Any + Send>) -> Trial {
    let message = p
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string());
    Trial::Panic { message }
}

/// The event stream of `ops` in `world` (every step, its trace events,
/// violations), as text.
pub fn event_stream(variant: Variant, world: &str, ops: &[Op]) -> (Trial, Vec<String>) {
    let mut ev = Vec::new();
    let t = run_text(variant, world, ops, Some(&mut ev));
    (t, ev)
}

/// The determinism check: two runs of a reproducer give the same verdict
/// and the same event stream. `Err` names the first difference.
pub fn check_deterministic(variant: Variant, world: &str, ops: &[Op]) -> Result<usize, String> {
    let (ta, a) = event_stream(variant, world, ops);
    let (tb, b) = event_stream(variant, world, ops);
    if ta != tb {
        return Err(format!("two runs ended differently: {ta:?} and {tb:?}"));
    }
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        return Err(format!(
            "two runs differ at event {i}: {:?} and {:?}",
            a.get(i).map(|s| s.trim_end()),
            b.get(i).map(|s| s.trim_end())
        ));
    }
    Ok(a.len())
}

/// The cause signature of a bug: the invariant, the action of its shrunk
/// reproducer that broke it (the last), and the set of kinds of action
/// before it (`actor call`, with an ioctl's command, an open's path, an
/// mmap's flags and a madvise's advice), sorted: two interleavings of the same setup meet, and two
/// different ways to break one invariant stay apart.
pub fn signature(invariant: &str, ops: &[Op]) -> String {
    let Some((last, before)) = ops.split_last() else {
        return invariant.to_string();
    };
    let set: std::collections::BTreeSet<String> = before.iter().map(|o| action_kind(&o.line)).collect();
    let set: Vec<String> = set.into_iter().collect();
    format!("{invariant} at {} after {{{}}}", action_kind(&last.line), set.join(", "))
}

fn action_kind(line: &str) -> String {
    let (actor, rest) = line.split_once(": ").unwrap_or(("", line));
    // A forked child's actor name carries a variable number: `child`.
    let actor = actor.trim_end_matches(|c: char| c.is_ascii_digit());
    let rest = match rest.split_once(" = ") {
        Some((lhs, rhs)) if !lhs.contains('(') => rhs,
        _ => rest,
    };
    let (call, args) = rest.split_once('(').unwrap_or((rest, ""));
    let args: Vec<&str> = args.trim_end_matches(')').split(", ").collect();
    let detail = match call {
        "ioctl" => args.get(1).map(|a| format!(" {a}")),
        "open" => args.first().map(|a| format!(" {a}")),
        "mmap" => args.get(3).map(|a| format!(" {a}")),
        "madvise" => args.get(2).map(|a| format!(" {a}")),
        _ => None,
    };
    format!("{actor} {call}{}", detail.unwrap_or_default())
}

/// A short stable name for a signature (FNV-1a, 64 bits, as hex).
pub fn signature_id(sig: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sig.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The same bug for shrinking: the same invariant (or a panic again).
fn same_bug(a: &Trial, b: &Trial) -> bool {
    match (a, b) {
        (Trial::Violation { invariant: x, .. }, Trial::Violation { invariant: y, .. }) => x == y,
        (Trial::Panic { .. }, Trial::Panic { .. }) => true,
        _ => false,
    }
}

/// Greedy shrinking ([`crate::shrink::greedy`], shared with the
/// differential tests): cut the tail after the failing action, then drop
/// single actions while the same bug still shows, until nothing can go.
pub fn shrink(variant: Variant, ops: &[Op], bug: &Trial) -> Vec<Op> {
    let at = match bug {
        Trial::Violation { at, .. } => Some(*at),
        _ => None,
    };
    let drop = |cur: &[Op], i: usize, _| {
        let mut cand = cur.to_vec();
        cand.remove(i);
        Some(cand)
    };
    let fails = |cand: &[Op]| {
        let t = run_ops(variant, cand);
        same_bug(&t, bug).then_some(match t {
            Trial::Violation { at, .. } => Some(at),
            _ => None,
        })
    };
    crate::shrink::greedy(ops, at, 1, None, drop, fails)
}

#[derive(Clone, Debug)]
pub struct Config {
    pub variant: Variant,
    pub seed: u64,
    /// Actions per generated sequence.
    pub length: usize,
    /// Stop after this many actions in all (None: no limit).
    pub max_steps: Option<u64>,
    pub time: Option<Duration>,
    /// `(i, n)`: run only sequences whose index is i mod n.
    pub shard: (u64, u64),
    pub jobs: usize,
    /// Stop at the first bug found.
    pub stop_at_first: bool,
    /// Draw the wider action set of [`generate::generate_with`].
    pub reach: bool,
    /// Novelty guidance ([`novelty`]): mutate sequences that found new
    /// coverage (the default); false draws every sequence afresh.
    pub guided: bool,
    /// Count the distinct abstract states reached ([`novelty::abstract_state`]
    /// after every action: costs time; for measurements).
    pub count_states: bool,
}

/// A bug and its minimal reproducer.
#[derive(Clone, Debug)]
pub struct Found {
    pub invariant: String,
    pub message: String,
    /// The cause: see [`signature`].
    pub signature: String,
    pub seed: u64,
    pub choices: String,
    pub ops: Vec<Op>,
    /// The declarations the reproducer keeps: [`generate::min_world`] when
    /// the bug still shows without the others, else the whole world.
    pub world: String,
    /// Whether the reproducer runs clean under the fixed kernel
    /// (`find-special-page`, the default variant); checked, not assumed.
    pub clean_when_fixed: bool,
    pub after: Duration,
    pub steps_before: u64,
}

impl Found {
    /// Shrink `ops` (which showed `bug`) and describe the result.
    pub fn new(variant: Variant, ops: &[Op], bug: &Trial, seed: u64, choices: String) -> Found {
        let small = shrink(variant, ops, bug);
        let (invariant, message) = match bug {
            Trial::Violation { invariant, message, .. } => (invariant.clone(), message.clone()),
            Trial::Panic { message } => ("panic".to_string(), message.clone()),
            _ => (String::new(), String::new()),
        };
        let min = generate::min_world(&small);
        let world =
            if same_bug(&run_text(variant, &min, &small, None), bug) { min } else { generate::WORLD.to_string() };
        let fixed = Variant::default();
        let clean_when_fixed = variant != fixed && run_text(fixed, &world, &small, None) == Trial::Clean;
        Found {
            signature: signature(&invariant, &small),
            clean_when_fixed,
            invariant,
            message,
            seed,
            choices,
            ops: small,
            world,
            after: Duration::ZERO,
            steps_before: 0,
        }
    }

    /// The reproducer as a runnable scenario file: its kernel line, the
    /// declarations it needs, the actions, one `check`.
    pub fn scenario(&self, variant: Variant) -> String {
        let fixed = if self.clean_when_fixed {
            "passes under find-special-page"
        } else if variant == Variant::default() {
            "this is the fixed kernel: a bug of the model or of its invariants"
        } else {
            "fails under find-special-page too"
        };
        let mut s = format!(
            "# Found by mmsim explore: {}: {}\n# cause: {}\n# seed {} choices {}\n# Fails under `kernel {variant}`; {fixed}.\n# status: 1\nkernel {variant}\n",
            self.invariant,
            self.message.replace('\n', " "),
            self.signature,
            self.seed,
            self.choices
        );
        s.push_str(&generate::script_in(&self.world, &self.ops, false));
        s
    }

    /// The file name of the reproducer: invariant and signature id.
    pub fn file_name(&self) -> String {
        format!("{}-{}.mms", self.invariant, &signature_id(&self.signature)[..8])
    }
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub sequences: u64,
    pub steps: u64,
    pub elapsed: Duration,
    pub found: Vec<Found>,
    /// Exhaustive mode: `Some(true)` when every choice sequence up to the
    /// bound (`--length`) was run, `Some(false)` when the budget ran out
    /// first (or it stopped at the first bug); `None` for random search.
    pub covered: Option<bool>,
    /// Distinct abstract states reached (with `count_states`, or exhaustive).
    pub states: u64,
    /// Coverage features found (guided search).
    pub features: u64,
    /// Exhaustive mode: subtrees skipped because their prefix reached an
    /// abstract state already seen at equal or smaller depth.
    pub pruned: u64,
}

/// Run `work(worker)` on `jobs` threads (one when the pool cannot start).
pub(crate) fn run_workers(jobs: usize, work: &(dyn Fn(u64) + Sync)) {
    match rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build() {
        Ok(p) => p.install(|| (0..jobs.max(1) as u64).into_par_iter().for_each(work)),
        Err(_) => work(0),
    }
}

/// Keep `bug` unless a finding with the same cause signature is kept
/// already; with `stop_at_first`, tell every worker to stop.
pub(crate) fn keep_finding(found: &Mutex<Vec<Found>>, stop: &AtomicBool, stop_at_first: bool, bug: Found) {
    let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
    if !f.iter().any(|x| x.signature == bug.signature) {
        f.push(bug);
    }
    if stop_at_first {
        stop.store(true, Ordering::Relaxed);
    }
}

/// Call `progress` every 16th sequence (`n` is the sequence count).
pub(crate) fn report_progress(
    found: &Mutex<Vec<Found>>,
    steps: &AtomicU64,
    n: u64,
    progress: &(dyn Fn(u64, u64, usize) + Sync),
) {
    if n.is_multiple_of(16) {
        let nf = found.lock().map(|f| f.len()).unwrap_or(0);
        progress(steps.load(Ordering::Relaxed), n, nf);
    }
}

/// The findings in a deterministic order, whatever the threads did.
pub(crate) fn sorted_findings(found: Mutex<Vec<Found>>) -> Vec<Found> {
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by(|a, b| (&a.invariant, &a.signature).cmp(&(&b.invariant, &b.signature)));
    found
}

/// The seed of sequence `i` of a campaign.
pub fn sequence_seed(seed: u64, i: u64) -> u64 {
    chooser::SplitMix64::new(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// Run a campaign; `progress(steps, sequences, found)` is called now and then.
pub fn explore(cfg: &Config, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Summary {
    if cfg.guided {
        return novelty::explore_guided(cfg, progress);
    }
    let all_states = std::sync::Mutex::new(std::collections::HashSet::<u64>::new());
    let start = Instant::now();
    let steps = AtomicU64::new(0);
    let seqs = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found = std::sync::Mutex::new(Vec::<Found>::new());
    let (si, sn) = (cfg.shard.0, cfg.shard.1.max(1));
    let work = |worker: u64| {
        let mut k = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if cfg.time.is_some_and(|t| start.elapsed() >= t)
                || cfg.max_steps.is_some_and(|m| steps.load(Ordering::Relaxed) >= m)
            {
                break;
            }
            let idx = (k * cfg.jobs.max(1) as u64 + worker) * sn + si;
            k += 1;
            let seed = sequence_seed(cfg.seed, idx);
            let mut c = Chooser::random(seed);
            let (ops, t) = if cfg.count_states {
                let m = generate::generate_marked(&mut c, cfg.length, cfg.reach);
                let o = novelty::observe(cfg, &m, false, true);
                all_states.lock().unwrap_or_else(|e| e.into_inner()).extend(o.states);
                (m.ops, o.trial)
            } else {
                let m = generate::generate_marked(&mut c, cfg.length, cfg.reach);
                let t = run_marked(cfg.variant, &m, false, &mut |_| {}, &mut |_, _| {});
                (m.ops, t)
            };
            let before = steps.fetch_add(ops.len() as u64, Ordering::Relaxed);
            let n = seqs.fetch_add(1, Ordering::Relaxed) + 1;
            if matches!(t, Trial::Violation { .. } | Trial::Panic { .. }) {
                let mut new = Found::new(cfg.variant, &ops, &t, seed, c.encode());
                new.after = start.elapsed();
                new.steps_before = before;
                keep_finding(&found, &stop, cfg.stop_at_first, new);
            }
            report_progress(&found, &steps, n, progress);
        }
    };
    run_workers(cfg.jobs, &work);
    let found = sorted_findings(found);
    Summary {
        sequences: seqs.load(Ordering::Relaxed),
        steps: steps.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        found,
        covered: None,
        states: all_states.into_inner().map(|s| s.len() as u64).unwrap_or(0),
        ..Summary::default()
    }
}

/// Replay one sequence from its seed (or choice string) and length.
pub fn replay(variant: Variant, choices: &[u32], length: usize, reach: bool) -> (Vec<Op>, Trial) {
    let mut c = Chooser::replay(choices.to_vec());
    let m = generate::generate_marked(&mut c, length, reach);
    let t = run_marked(variant, &m, false, &mut |_| {}, &mut |_, _| {});
    (m.ops, t)
}

/// Bounded exhaustive search: every choice vector in depth-first order
/// (the last choice varies fastest), each replayed into a sequence of
/// `cfg.length` actions, until the space or the budget (`max_steps`,
/// `time`) runs out. Meant for small worlds and short sequences.
pub fn explore_exhaustive(cfg: &Config, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Summary {
    let start = Instant::now();
    let mut sum = Summary::default();
    let mut next = Some(Vec::new());
    let mut cache = novelty::StateCache::default();
    while let Some(choices) = next.take() {
        if cfg.time.is_some_and(|t| start.elapsed() >= t) || cfg.max_steps.is_some_and(|m| sum.steps >= m) {
            next = Some(choices);
            break;
        }
        let mut c = Chooser::replay(choices);
        let m = generate::generate_marked(&mut c, cfg.length, cfg.reach);
        let o = novelty::observe(cfg, &m, false, true);
        // Where each action's choices end: the next one's start.
        let ends: Vec<usize> =
            (0..m.ops.len()).map(|i| m.starts.get(i + 1).copied().unwrap_or(c.made().len())).collect();
        let skip_from = cache.visit(&o.states, c.made(), &ends);
        let (ops, t) = (m.ops, o.trial);
        let before = sum.steps;
        sum.steps += ops.len() as u64;
        sum.sequences += 1;
        if matches!(t, Trial::Violation { .. } | Trial::Panic { .. }) {
            let mut new = Found::new(cfg.variant, &ops, &t, 0, c.encode());
            new.after = start.elapsed();
            new.steps_before = before;
            if !sum.found.iter().any(|f| f.signature == new.signature) {
                sum.found.push(new);
            }
            if cfg.stop_at_first {
                next = c.next_exhaustive();
                break;
            }
        }
        if sum.sequences.is_multiple_of(16) {
            progress(sum.steps, sum.sequences, sum.found.len());
        }
        next = match skip_from {
            // Skip every sequence below the prefix that reached a state
            // already explored from there at equal or smaller depth.
            Some(i) if ends.get(i).is_some_and(|&e| e < c.made().len()) => {
                sum.pruned += 1;
                c.next_exhaustive_from(ends[i])
            }
            _ => c.next_exhaustive(),
        };
    }
    sum.covered = Some(next.is_none());
    sum.states = cache.len() as u64;
    sum.elapsed = start.elapsed();
    sum
}
