//! `mmsim explore`: search the orders in which processes, drivers, the
//! frontend and the block device act, check every invariant after every
//! step, and shrink any break to a minimal runnable scenario.

pub mod chooser;
pub mod generate;

use crate::kernel::variant::Variant;
use crate::run::{Event, Runner};
use crate::script;
use chooser::Chooser;
use generate::Op;
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
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
    let text = generate::script(ops, true);
    let res = catch_unwind(AssertUnwindSafe(|| {
        let checked = match script::parse_and_check("explore", &text) {
            Ok(c) => c,
            Err(_) => return Trial::Invalid,
        };
        let mut r = Runner::new(&checked, variant);
        // The generated script has its own `check` after every action.
        r.check_each_step = false;
        let mut first: Option<(String, String, u32)> = None;
        let run = r.run(&mut |e: &Event| {
            if let Event::Violation { line, violation, .. } = e {
                if first.is_none() {
                    first = Some((violation.invariant.to_string(), violation.message.clone(), *line));
                }
            }
        });
        if run.is_err() {
            return Trial::Invalid;
        }
        match first {
            None => Trial::Clean,
            Some((invariant, message, line)) => {
                // Lines: the world, a blank line, then action/check pairs.
                let header = generate::WORLD.lines().count() as u32 + 1;
                let at = (line.saturating_sub(header + 1) / 2) as usize;
                Trial::Violation { invariant, message, at: at.min(ops.len().saturating_sub(1)) }
            }
        }
    }));
    match res {
        Ok(t) => t,
        Err(p) => {
            let message = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            Trial::Panic { message }
        }
    }
}

fn same_bug(a: &Trial, b: &Trial) -> bool {
    match (a, b) {
        (Trial::Violation { invariant: x, .. }, Trial::Violation { invariant: y, .. }) => x == y,
        (Trial::Panic { .. }, Trial::Panic { .. }) => true,
        _ => false,
    }
}

/// Greedy shrinking: cut the tail after the failing action, then drop
/// single actions while the same bug still shows, until nothing can go.
pub fn shrink(variant: Variant, ops: &[Op], bug: &Trial) -> Vec<Op> {
    let mut cur: Vec<Op> = match bug {
        Trial::Violation { at, .. } => ops[..(*at + 1).min(ops.len())].to_vec(),
        _ => ops.to_vec(),
    };
    loop {
        let mut changed = false;
        let mut i = cur.len();
        while i > 0 {
            i -= 1;
            let mut cand = cur.clone();
            cand.remove(i);
            let t = run_ops(variant, &cand);
            if same_bug(&t, bug) {
                cur = match &t {
                    Trial::Violation { at, .. } => cand[..(*at + 1).min(cand.len())].to_vec(),
                    _ => cand,
                };
                changed = true;
                i = i.min(cur.len());
            }
        }
        if !changed {
            return cur;
        }
    }
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
}

/// A bug and its minimal reproducer.
#[derive(Clone, Debug)]
pub struct Found {
    pub invariant: String,
    pub message: String,
    pub seed: u64,
    pub choices: String,
    pub ops: Vec<Op>,
    pub after: Duration,
    pub steps_before: u64,
}

impl Found {
    /// The reproducer as a runnable scenario file.
    pub fn scenario(&self, variant: Variant) -> String {
        let mut s = format!(
            "# Found by mmsim explore: {}: {}\n# seed {} choices {}\n# Fails under `kernel {variant}`; passes under find-special-page.\n# status: 1\nkernel {variant}\n",
            self.invariant,
            self.message.replace('\n', " "),
            self.seed,
            self.choices
        );
        s.push_str(&generate::script(&self.ops, false));
        s
    }
}

#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub sequences: u64,
    pub steps: u64,
    pub elapsed: Duration,
    pub found: Vec<Found>,
}

/// The seed of sequence `i` of a campaign.
pub fn sequence_seed(seed: u64, i: u64) -> u64 {
    chooser::SplitMix64::new(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
}

/// Run a campaign; `progress(steps, sequences, found)` is called now and then.
pub fn explore(cfg: &Config, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Summary {
    let start = Instant::now();
    let steps = AtomicU64::new(0);
    let seqs = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found = std::sync::Mutex::new(Vec::<Found>::new());
    let (si, sn) = (cfg.shard.0, cfg.shard.1.max(1));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(cfg.jobs.max(1)).build();
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
            let ops = generate::generate(&mut c, cfg.length);
            let t = run_ops(cfg.variant, &ops);
            let before = steps.fetch_add(ops.len() as u64, Ordering::Relaxed);
            let n = seqs.fetch_add(1, Ordering::Relaxed) + 1;
            if matches!(t, Trial::Violation { .. } | Trial::Panic { .. }) {
                let small = shrink(cfg.variant, &ops, &t);
                let (invariant, message) = match &t {
                    Trial::Violation { invariant, message, .. } => (invariant.clone(), message.clone()),
                    Trial::Panic { message } => ("panic".to_string(), message.clone()),
                    _ => (String::new(), String::new()),
                };
                let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
                if !f.iter().any(|x| x.invariant == invariant) {
                    f.push(Found {
                        invariant,
                        message,
                        seed,
                        choices: c.encode(),
                        ops: small,
                        after: start.elapsed(),
                        steps_before: before,
                    });
                }
                if cfg.stop_at_first {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            if n % 16 == 0 {
                let nf = found.lock().map(|f| f.len()).unwrap_or(0);
                progress(steps.load(Ordering::Relaxed), n, nf);
            }
        }
    };
    match pool {
        Ok(p) => p.install(|| (0..cfg.jobs.max(1) as u64).into_par_iter().for_each(work)),
        Err(_) => work(0),
    }
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by(|a, b| a.invariant.cmp(&b.invariant));
    Summary {
        sequences: seqs.load(Ordering::Relaxed),
        steps: steps.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        found,
    }
}

/// Replay one sequence from its seed (or choice string) and length.
pub fn replay(variant: Variant, choices: &[u32], length: usize) -> (Vec<Op>, Trial) {
    let mut c = Chooser::replay(choices.to_vec());
    let ops = generate::generate(&mut c, length);
    let t = run_ops(variant, &ops);
    (ops, t)
}

/// Bounded exhaustive search: every choice vector in depth-first order
/// (the last choice varies fastest), each replayed into a sequence of
/// `cfg.length` actions, until the space or the budget (`max_steps`,
/// `time`) runs out. Meant for small worlds and short sequences.
pub fn explore_exhaustive(cfg: &Config, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Summary {
    let start = Instant::now();
    let mut sum = Summary::default();
    let mut next = Some(Vec::new());
    while let Some(choices) = next {
        if cfg.time.is_some_and(|t| start.elapsed() >= t) || cfg.max_steps.is_some_and(|m| sum.steps >= m) {
            break;
        }
        let mut c = Chooser::replay(choices);
        let ops = generate::generate(&mut c, cfg.length);
        let t = run_ops(cfg.variant, &ops);
        let before = sum.steps;
        sum.steps += ops.len() as u64;
        sum.sequences += 1;
        let bug = match &t {
            Trial::Violation { invariant, message, .. } => Some((invariant.clone(), message.clone())),
            Trial::Panic { message } => Some(("panic".to_string(), message.clone())),
            _ => None,
        };
        if let Some((invariant, message)) = bug {
            if !sum.found.iter().any(|f| f.invariant == invariant) {
                let small = shrink(cfg.variant, &ops, &t);
                sum.found.push(Found {
                    invariant,
                    message,
                    seed: 0,
                    choices: c.encode(),
                    ops: small,
                    after: start.elapsed(),
                    steps_before: before,
                });
            }
            if cfg.stop_at_first {
                break;
            }
        }
        if sum.sequences % 16 == 0 {
            progress(sum.steps, sum.sequences, sum.found.len());
        }
        next = c.next_exhaustive();
    }
    sum.elapsed = start.elapsed();
    sum
}
