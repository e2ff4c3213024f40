//! Campaigns across machines: each shard (`explore --shard I/N --out DIR`)
//! writes `DIR/summary.json`, a machine-readable summary of what it ran and
//! found; `mmsim explore merge DIR...` reads the shards' summaries,
//! deduplicates their bugs by cause signature and prints one report.

use super::{Found, Summary, signature_id};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The summary file a shard writes into its output directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// One bug of a shard.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BugSummary {
    pub invariant: String,
    /// The violation in words.
    pub message: String,
    /// The cause signature (invariant and the reproducer's actions).
    pub signature: String,
    /// A short stable id of the signature (FNV-1a 64, hex).
    pub id: String,
    /// The reproducer file, relative to the shard's directory.
    pub reproducer: String,
    pub actions: usize,
    pub seed: u64,
    pub choices: String,
}

/// What one shard ran and found (schema 1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ShardSummary {
    pub schema: u32,
    pub kernel: String,
    pub seed: u64,
    /// `[I, N]`: shard I of N.
    pub shard: [u64; 2],
    pub length: usize,
    pub exhaustive: bool,
    /// Exhaustive mode: whether every sequence up to the bound was run.
    pub covered: Option<bool>,
    pub sequences: u64,
    pub steps: u64,
    pub seconds: f64,
    pub steps_per_sec: f64,
    pub bugs: Vec<BugSummary>,
}

impl ShardSummary {
    pub fn new(kernel: &str, seed: u64, shard: (u64, u64), length: usize, exhaustive: bool, sum: &Summary) -> Self {
        let secs = sum.elapsed.as_secs_f64();
        ShardSummary {
            schema: 1,
            kernel: kernel.to_string(),
            seed,
            shard: [shard.0, shard.1],
            length,
            exhaustive,
            covered: sum.covered,
            sequences: sum.sequences,
            steps: sum.steps,
            // Rounded so the file is readable; the figures are timings.
            seconds: (secs * 1000.0).round() / 1000.0,
            steps_per_sec: if secs > 0.0 { (sum.steps as f64 / secs).round() } else { 0.0 },
            bugs: sum.found.iter().map(bug).collect(),
        }
    }
}

fn bug(f: &Found) -> BugSummary {
    BugSummary {
        invariant: f.invariant.clone(),
        message: f.message.clone(),
        signature: f.signature.clone(),
        id: signature_id(&f.signature),
        reproducer: f.file_name(),
        actions: f.ops.len(),
        seed: f.seed,
        choices: f.choices.clone(),
    }
}

/// Read `DIR/summary.json` (or a summary file given directly).
pub fn read(path: &Path) -> Result<(PathBuf, ShardSummary), String> {
    let file = if path.is_dir() { path.join(SUMMARY_FILE) } else { path.to_path_buf() };
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    let s: ShardSummary =
        serde_json::from_str(&text).map_err(|e| format!("{}: not a shard summary: {e}", file.display()))?;
    if s.schema != 1 {
        return Err(format!("{}: summary schema {} (expected 1)", file.display(), s.schema));
    }
    let dir = file.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    Ok((dir, s))
}

/// One distinct bug of a merged campaign.
#[derive(Clone, Debug, PartialEq)]
pub struct MergedBug {
    pub bug: BugSummary,
    /// The reproducer of the first shard that found it.
    pub path: PathBuf,
    /// Every shard that found it, as `I/N`.
    pub shards: Vec<String>,
}

/// The shards' summaries together: totals and the distinct bugs.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    pub shards: usize,
    pub kernels: Vec<String>,
    pub sequences: u64,
    pub steps: u64,
    /// The longest shard's time (shards run side by side).
    pub seconds: f64,
    pub bugs: Vec<MergedBug>,
    /// Shards that claim the same `I/N` twice (a misconfigured campaign).
    pub duplicate_shards: Vec<String>,
}

/// Merge shard summaries: deduplicate bugs by cause signature (shards in
/// the order given; within the result, sorted by invariant and signature).
pub fn merge(shards: &[(PathBuf, ShardSummary)]) -> Merged {
    let mut m = Merged {
        shards: shards.len(),
        kernels: Vec::new(),
        sequences: 0,
        steps: 0,
        seconds: 0.0,
        bugs: Vec::new(),
        duplicate_shards: Vec::new(),
    };
    let mut seen_shards = Vec::new();
    for (dir, s) in shards {
        let tag = format!("{}/{}", s.shard[0], s.shard[1]);
        if seen_shards.contains(&(tag.clone(), s.seed, s.kernel.clone())) {
            m.duplicate_shards.push(tag.clone());
        }
        seen_shards.push((tag.clone(), s.seed, s.kernel.clone()));
        if !m.kernels.contains(&s.kernel) {
            m.kernels.push(s.kernel.clone());
        }
        m.sequences = m.sequences.saturating_add(s.sequences);
        m.steps = m.steps.saturating_add(s.steps);
        m.seconds = m.seconds.max(s.seconds);
        for b in &s.bugs {
            match m.bugs.iter_mut().find(|x| x.bug.signature == b.signature) {
                Some(x) => x.shards.push(tag.clone()),
                None => {
                    m.bugs.push(MergedBug { bug: b.clone(), path: dir.join(&b.reproducer), shards: vec![tag.clone()] })
                }
            }
        }
    }
    m.bugs.sort_by(|a, b| (&a.bug.invariant, &a.bug.signature).cmp(&(&b.bug.invariant, &b.bug.signature)));
    m
}

/// The merged campaign as a report.
pub fn report(m: &Merged) -> String {
    let mut s = format!(
        "explore merge: {} shards, kernel {}: {} sequences, {} steps, longest shard {:.1} s; {} distinct bugs\n",
        m.shards,
        m.kernels.join(" + "),
        m.sequences,
        m.steps,
        m.seconds,
        m.bugs.len()
    );
    for d in &m.duplicate_shards {
        let _ =
            writeln!(s, "warning: shard {d} appears more than once (same seed and kernel): its work is counted twice");
    }
    for (i, b) in m.bugs.iter().enumerate() {
        let _ = write!(
            s,
            "\nbug {}: {}: {}\n  cause: {}\n  reproducer ({} actions): {}\n  found by shard{} {}\n",
            i + 1,
            b.bug.invariant,
            b.bug.message.replace('\n', " "),
            b.bug.signature,
            b.bug.actions,
            b.path.display(),
            if b.shards.len() == 1 { "" } else { "s" },
            b.shards.join(", ")
        );
    }
    s
}
