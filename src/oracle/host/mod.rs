//! The controller: runs a sequence of [`Op`]s in real worker processes and
//! records a [`Transcript`].
//!
//! Process structure: the calling thread forks the first worker; every
//! later worker is created by a worker with `clone(CLONE_PARENT|SIGCHLD)`,
//! so all workers are children of the calling thread, which holds a pidfd
//! for each and reaps each one itself (no zombies, no pid reuse races).
//! Communication goes through pipes created before the first fork: one
//! command pipe and one reply pipe per slot (process index `k` uses slot
//! `k`). Snapshots are taken by the controller from `/proc/<pid>/smaps`
//! and `/proc/<pid>/pagemap` of each worker, so the workers themselves never
//! allocate (see `worker.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::OracleError;
use super::op::Op;
use super::transcript::{HostInfo, Transcript};

/// Default start of the reserved range: well below the randomised
/// `mm->mmap_base` of a 47-bit address space (which is above
/// `0x7eff_0000_0000`: at most 1 TiB of randomisation below
/// `TASK_SIZE - 128 MiB - stack randomisation`), 1 GiB aligned.
pub const DEFAULT_BASE: u64 = 0x7e00_0000_0000;
/// Default length of the reserved range: 1 GiB.
pub const DEFAULT_RANGE_LEN: u64 = 1 << 30;

/// When snapshots are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotMode {
    /// After every op (`StepRecord::snapshot` is always `Some`).
    EveryOp,
    /// Only at [`Op::Snapshot`] ops (and the final state).
    Explicit,
}

/// Configuration of [`run_on_host`].
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Length of the reserved range (page multiple). Default 1 GiB.
    pub range_len: u64,
    /// Start of the reserved range (page aligned); `None` = [`DEFAULT_BASE`].
    pub base: Option<u64>,
    /// Default [`SnapshotMode::EveryOp`].
    pub snapshots: SnapshotMode,
    /// Pagemap entries recorded per VMA (from its first page in the range).
    /// Default 4096.
    pub max_pages_per_vma: usize,
    /// A worker that does not answer an op within this time is killed and
    /// the run fails with [`OracleError::Timeout`]. Default 10 s. (The first
    /// worker's setup gets at least 10 s.)
    pub op_timeout: Duration,
    /// Most processes (the first worker plus forks) in a run; at most 32.
    /// Default 8.
    pub max_procs: usize,
    /// Largest Load/Pread length and Store/Pwrite payload. Default 1 MiB.
    pub max_io: usize,
    /// Read `/proc/kpageflags` for every present page (recognises the huge
    /// zero page too). Default true.
    pub kpageflags: bool,
    /// Fill the gaps between the range and `mm->mmap_base` so that unhinted
    /// mappings land at the top of the range. Default true.
    pub fill_above: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            range_len: DEFAULT_RANGE_LEN,
            base: None,
            snapshots: SnapshotMode::EveryOp,
            max_pages_per_vma: 4096,
            op_timeout: Duration::from_secs(10),
            max_procs: 8,
            max_io: 1 << 20,
            kpageflags: true,
            fill_above: true,
        }
    }
}

/// Run `ops` for real and record what is observable after each.
///
/// Errors are failures of the oracle (bad configuration, the range is not
/// free, a worker hung or died outside an access routine, an op exceeded
/// an oracle limit); the ops' own failures are results in the transcript.
/// Every worker is killed and reaped before this returns.
pub fn run_on_host(ops: &[Op], cfg: &HostConfig) -> Result<Transcript, OracleError> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        imp::run(ops, cfg)
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        let _ = (ops, cfg);
        Err(OracleError::Unsupported)
    }
}

/// The effective capabilities of this process (`CapEff` of
/// /proc/self/status), which its workers inherit; `None` if unreadable.
pub fn cap_effective() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = s.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(v.trim(), 16).ok()
}

/// Facts about the host (computed once per process).
pub fn host_info() -> Result<HostInfo, OracleError> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        facts::host_info()
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        Err(OracleError::Unsupported)
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod facts;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod run;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod session;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use session::HostSession;
