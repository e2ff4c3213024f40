//! Novelty guidance: keep a corpus of sequences that produced new coverage
//! and mutate them, as coverage-guided fuzzers (AFL, libFuzzer) do, instead
//! of drawing every sequence afresh.
//!
//! - **Coverage** of a run is a set of features ([`Features`]): each action
//!   kind with its outcome class (value, errno, bytes, signal), the pair of
//!   consecutive actions (an AFL "edge"), each kind of trace event an action
//!   caused (a fault's kind, a GUP pin, an MMU notifier, a grant map's
//!   status, a refused `mmu_update`, a DMA ...) and the combination of event
//!   kinds of one action. With `states`, also the abstract state after
//!   each action ([`abstract_state`]).
//! - **Sequences are choice vectors** of the [`Chooser`]: a mutated vector
//!   replays into a feasible sequence (each choice is taken modulo the
//!   options it has), so no mutation yields an invalid script. Mutations
//!   work at action boundaries ([`generate::Marked::starts`]): cut and
//!   extend at random (append), delete actions, insert random choices,
//!   splice two corpus entries, change one choice.
//! - A sequence joins the corpus when it shows a feature no earlier run
//!   showed. One in four sequences is still drawn afresh.
//!
//! Each worker keeps its own corpus, so `-j N` runs N independent guided
//! searches; a campaign stays deterministic for one worker.

use super::chooser::{Chooser, SplitMix64};
use super::{Config, Found, Summary, Trial, generate, run_marked, sequence_seed};
use crate::run::{CallResult, Event};
use crate::trace::Event as T;
use crate::world::World;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

fn h64<T: Hash + ?Sized>(x: &T) -> u64 {
    // FxHash: the same on every run and every 64-bit host, and several
    // times cheaper than SipHash; only equality of these values matters
    // (feature and state sets), so a collision is all a weaker hash risks.
    let mut h = rustc_hash::FxHasher::default();
    x.hash(&mut h);
    h.finish()
}

/// The abstract state of the model: every process's VMAs (their
/// `/proc/PID/maps` lines) with one `show pagemap` letter per page (mapped,
/// shared, zero page, grant page `G`, special `s`, bad `!`, guard ...), and
/// Xen's grant tables (entries in use with their pin counts, active maps,
/// device mappings of in-flight I/O). Page contents, refcounts and the
/// allocator's state are left out: two states this hash calls equal may
/// still differ there (a simplification of the exhaustive state cache).
pub fn abstract_state(w: &World) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    for (d, dom) in w.domains.iter().enumerate() {
        d.hash(&mut h);
        let k = &dom.kernel;
        for pid in k.procs.keys() {
            pid.hash(&mut h);
            let Ok(mm) = k.mm(*pid) else { continue };
            for v in mm.vmas.values() {
                crate::report::maps::maps_line(k, mm, v).hash(&mut h);
                crate::report::pagemap::pagemap_letters_k(k, &w.hv, *pid, v.start, v.end - v.start).hash(&mut h);
            }
        }
    }
    format!("{:?}", w.hv.grants).hash(&mut h);
    h.finish()
}

/// `call(args)` to its name and the argument that picks its behaviour (an
/// ioctl's command, an advice, an mmap's flags, a protection, GUP flags).
fn call_kind(call: &str) -> (&str, &str) {
    let (name, args) = call.split_once('(').unwrap_or((call, ""));
    let arg = |i: usize| args.trim_end_matches(')').split(", ").nth(i).unwrap_or("");
    let detail = match name {
        "ioctl" => arg(1),
        "madvise" | "mprotect" | "pin_user_pages" => arg(2),
        "mmap" => arg(3),
        "open" => arg(0),
        _ => "",
    };
    (name, detail)
}

fn result_class(r: &CallResult) -> u64 {
    match r {
        CallResult::Value(v) if (*v as i64) < 0 && (*v as i64) >= -4095 => *v,
        CallResult::Value(_) => 0,
        CallResult::Bytes(_) => 1,
        CallResult::Signal { sig, code, .. } => h64(&(sig, code)),
        CallResult::Hung { .. } => 2,
        CallResult::Killed { .. } => 3,
    }
}

/// The kind of a trace event with what tells its outcomes apart, without
/// addresses or frame numbers.
fn event_kind(e: &T) -> u64 {
    let d = std::mem::discriminant(e);
    match e {
        T::Fault { write, how, .. } => h64(&(d, write, std::mem::discriminant(how))),
        T::FaultSignal { signal, why, .. } => h64(&(d, signal, why)),
        T::Zap { pfn, .. } => h64(&(d, pfn.is_some())),
        T::Gup { pin, .. } | T::Unpin { pin, .. } => h64(&(d, pin)),
        T::MmuNotifier { subscriber, action, .. } => h64(&(d, subscriber, action.split(':').next().unwrap_or(""))),
        T::MmuUpdate { foreign, result, .. } => h64(&(d, foreign.is_some(), result.split(' ').next())),
        T::GrantMap { status, flags, .. } => h64(&(d, status, flags)),
        T::GrantUnmap { status, .. } => h64(&(d, status)),
        T::GrantFlags { from, to, .. } => h64(&(d, from, to)),
        T::EndForeignAccess { result, .. } => h64(&(d, result)),
        T::M2pOverride { add, .. } => h64(&(d, add)),
        T::BioSubmit { op, error, .. } => h64(&(d, op, error)),
        T::Check { function, errno, .. } => h64(&(d, function, errno)),
        T::DeferredQueued { what, .. } | T::DeferredRun { what, .. } => {
            h64(&(d, what.split(|c: char| c.is_ascii_digit()).next()))
        }
        T::KernelLog { line, .. } | T::XenLog { line } => {
            h64(&(d, line.split(|c: char| c == ':' || c.is_ascii_digit()).next()))
        }
        _ => h64(&d),
    }
}

/// The features of one run, collected from its events.
#[derive(Default)]
pub struct Features {
    pub list: Vec<u64>,
    prev: u64,
    /// Scratch: one step's event kinds (reused, not allocated per step).
    kinds: Vec<u64>,
}

impl Features {
    /// Add the features of one event of the run.
    pub fn add(&mut self, e: &Event) {
        let Event::Step { actor, call, result, events, .. } = e else { return };
        let actor = actor.trim_end_matches(|c: char| c.is_ascii_digit());
        let k = h64(&(actor, call_kind(call), result_class(result)));
        self.list.push(k);
        self.list.push(h64(&(self.prev, k)));
        self.prev = k;
        let kinds = &mut self.kinds;
        kinds.clear();
        kinds.extend(events.iter().map(event_kind));
        kinds.sort_unstable();
        kinds.dedup();
        for &x in kinds.iter() {
            self.list.push(h64(&(k, x)));
        }
        self.list.push(h64(&(k, &*kinds)));
    }
}

/// One corpus entry: the choices of a sequence and where its actions start.
#[derive(Clone, Debug)]
struct Entry {
    choices: Vec<u32>,
    starts: Vec<usize>,
}

impl Entry {
    /// A random action boundary (an index into `choices`), never the fixed
    /// first action's.
    fn boundary(&self, r: &mut SplitMix64) -> usize {
        let n = self.starts.len();
        if n <= 1 {
            return self.choices.len();
        }
        self.starts[1 + (r.next_u64() % (n as u64 - 1)) as usize]
    }
}

/// The corpus of one worker.
#[derive(Default)]
struct Corpus {
    entries: Vec<Entry>,
}

/// The largest corpus kept; past it, a new entry replaces a random one.
const MAX_CORPUS: usize = 4096;

impl Corpus {
    fn add(&mut self, e: Entry, r: &mut SplitMix64) {
        if self.entries.len() < MAX_CORPUS {
            self.entries.push(e);
        } else {
            let i = (r.next_u64() % MAX_CORPUS as u64) as usize;
            self.entries[i] = e;
        }
    }

    /// Pick an entry: half the time among the newest 32 (the frontier).
    fn pick(&self, r: &mut SplitMix64) -> &Entry {
        let n = self.entries.len() as u64;
        let i = if r.next_u64().is_multiple_of(2) { n - 1 - r.next_u64() % n.min(32) } else { r.next_u64() % n };
        &self.entries[i as usize]
    }

    /// A mutated choice vector (see the module doc).
    fn mutate(&self, r: &mut SplitMix64) -> Vec<u32> {
        let a = self.pick(r);
        let rand_choice = |r: &mut SplitMix64| (r.next_u64() % 64) as u32;
        match r.next_u64() % 5 {
            // Cut at an action and let the chooser extend at random.
            0 => a.choices[..a.boundary(r)].to_vec(),
            // Delete one to three actions.
            1 => {
                let i = 1 + (r.next_u64() % (a.starts.len().max(2) as u64 - 1)) as usize;
                let j = (i + 1 + (r.next_u64() % 3) as usize).min(a.starts.len());
                let from = a.starts.get(i).copied().unwrap_or(a.choices.len());
                let to = a.starts.get(j).copied().unwrap_or(a.choices.len());
                let mut v = a.choices[..from].to_vec();
                v.extend_from_slice(&a.choices[to..]);
                v
            }
            // Insert random choices at an action.
            2 => {
                let at = a.boundary(r);
                let n = 1 + (r.next_u64() % 8) as usize;
                let mut v = a.choices[..at].to_vec();
                v.extend((0..n).map(|_| rand_choice(r)));
                v.extend_from_slice(&a.choices[at..]);
                v
            }
            // Splice: a prefix of one entry, the rest of another.
            3 => {
                let b = self.pick(r).clone();
                let mut v = a.choices[..a.boundary(r)].to_vec();
                v.extend_from_slice(&b.choices[b.boundary(r)..]);
                v
            }
            // Change one choice.
            _ => {
                let mut v = a.choices.clone();
                if !v.is_empty() {
                    let i = (r.next_u64() % v.len() as u64) as usize;
                    v[i] = rand_choice(r);
                }
                v
            }
        }
    }
}

/// What a run showed: its verdict, whether it found new coverage, and the
/// abstract states it reached (with `states`).
pub struct Observed {
    pub trial: Trial,
    pub features: Vec<u64>,
    pub states: Vec<u64>,
}

/// Run a marked sequence, collecting its features (trace on) and, with
/// `states`, the abstract state after each action (with the generator's
/// shape, which decides what can follow).
pub fn observe(cfg: &Config, m: &generate::Marked, features: bool, states: bool) -> Observed {
    let mut f = Features::default();
    let mut st = Vec::new();
    let trial = run_marked(
        cfg.variant,
        m,
        features,
        &mut |e| {
            if features {
                f.add(e)
            }
        },
        &mut |r, i| {
            if states {
                st.push(h64(&(m.shapes.get(i), abstract_state(&r.world))));
            }
        },
    );
    Observed { trial, features: f.list, states: st }
}

/// Coverage-guided search (the default of `mmsim explore`; `--uniform`
/// turns it off). Same budget, sharding and bug handling as
/// [`super::explore`].
pub fn explore_guided(cfg: &Config, progress: &(dyn Fn(u64, u64, usize) + Sync)) -> Summary {
    let start = Instant::now();
    let steps = AtomicU64::new(0);
    let seqs = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let found = Mutex::new(Vec::<Found>::new());
    let all_states = Mutex::new(HashSet::<u64>::new());
    let all_features = Mutex::new(0u64);
    let (si, sn) = (cfg.shard.0, cfg.shard.1.max(1));
    let jobs = cfg.jobs.max(1) as u64;
    let work = |worker: u64| {
        let mut corpus = Corpus::default();
        // Keys are hashes already: FxHash, not SipHash again.
        let mut seen: rustc_hash::FxHashSet<u64> = rustc_hash::FxHashSet::default();
        let mut k = 0u64;
        while !stop.load(Ordering::Relaxed)
            && cfg.time.is_none_or(|t| start.elapsed() < t)
            && cfg.max_steps.is_none_or(|m| steps.load(Ordering::Relaxed) < m)
        {
            let idx = (k * jobs + worker) * sn + si;
            k += 1;
            let seed = sequence_seed(cfg.seed, idx);
            let mut r = SplitMix64::new(seed);
            let mut c = if corpus.entries.is_empty() || r.next_u64().is_multiple_of(4) {
                Chooser::random(seed)
            } else {
                let v = corpus.mutate(&mut r);
                Chooser::guided(v, r.next_u64())
            };
            let m = generate::generate_marked(&mut c, cfg.length, cfg.reach);
            let o = observe(cfg, &m, true, cfg.count_states);
            let before = steps.fetch_add(m.ops.len() as u64, Ordering::Relaxed);
            let n = seqs.fetch_add(1, Ordering::Relaxed) + 1;
            let mut new = 0;
            for f in o.features {
                if seen.insert(f) {
                    new += 1;
                }
            }
            if cfg.count_states {
                let mut s = all_states.lock().unwrap_or_else(|e| e.into_inner());
                s.extend(o.states);
            }
            if new > 0 {
                *all_features.lock().unwrap_or_else(|e| e.into_inner()) += new;
                corpus.add(Entry { choices: c.made().to_vec(), starts: m.starts.clone() }, &mut r);
            }
            if matches!(o.trial, Trial::Violation { .. } | Trial::Panic { .. }) {
                let mut bug = Found::new(cfg.variant, &m.ops, &o.trial, seed, c.encode());
                bug.after = start.elapsed();
                bug.steps_before = before;
                super::keep_finding(&found, &stop, cfg.stop_at_first, bug);
            }
            super::report_progress(&found, &steps, n, progress);
        }
    };
    super::run_workers(cfg.jobs, &work);
    let found = super::sorted_findings(found);
    Summary {
        sequences: seqs.load(Ordering::Relaxed),
        steps: steps.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
        found,
        covered: None,
        states: all_states.into_inner().map(|s| s.len() as u64).unwrap_or(0),
        features: all_features.into_inner().unwrap_or(0),
        pruned: 0,
    }
}

/// The exhaustive state cache: the shallowest depth each abstract state
/// was reached at, and by which prefix (a hash of its choices).
#[derive(Default)]
pub struct StateCache {
    seen: HashMap<u64, (usize, u64)>,
}

impl StateCache {
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Record the states of one run (`states[i]` after action `i`, whose
    /// choices end at `ends[i]` in `choices`); return the first action
    /// after which the run reached a state another prefix reached at
    /// equal or smaller depth: everything below that prefix is skipped.
    pub fn visit(&mut self, states: &[u64], choices: &[u32], ends: &[usize]) -> Option<usize> {
        for (i, &s) in states.iter().enumerate() {
            let prefix = h64(&choices[..ends.get(i).copied().unwrap_or(choices.len()).min(choices.len())]);
            match self.seen.get(&s) {
                Some(&(d, p)) if d <= i && p != prefix => return Some(i),
                Some(&(d, _)) if d <= i => {}
                _ => {
                    self.seen.insert(s, (i, prefix));
                }
            }
        }
        None
    }
}
