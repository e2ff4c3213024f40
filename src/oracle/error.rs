//! Errors of the oracle itself (not of the operations it runs: those are
//! results, see [`super::OpResult`]).

use thiserror::Error;

/// Why a run on the host could not produce a transcript.
#[derive(Debug, Error)]
pub enum OracleError {
    #[error("the host oracle is only available on x86-64 Linux")]
    Unsupported,
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("{what}: {source}")]
    Os {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("worker setup failed: {what} returned errno {errno}")]
    Setup { what: &'static str, errno: i32 },
    #[error("step {step}: process {p} does not exist or has exited")]
    NoSuchProcess { step: usize, p: usize },
    #[error("step {step}: at most {max} processes per run")]
    TooManyProcesses { step: usize, max: usize },
    #[error("step {step}: {what} exceeds the oracle's limit of {limit}")]
    Limit { step: usize, what: &'static str, limit: u64 },
    #[error("step {step} ({op}): process {p} timed out after {secs} s and was killed")]
    Timeout { step: usize, op: &'static str, p: usize, secs: u64 },
    #[error("step {step} ({op}): process {p} died unexpectedly ({status})")]
    WorkerDied { step: usize, op: &'static str, p: usize, status: String },
    #[error("protocol error with process {p}: {msg}")]
    Protocol { p: usize, msg: String },
}

impl OracleError {
    /// An `Os` error from the current `errno`.
    pub(crate) fn last_os(what: &'static str) -> OracleError {
        OracleError::Os { what, source: std::io::Error::last_os_error() }
    }
}
