//! Worker processes from the controller's side: pipes, pidfds, reaping,
//! and `run` (a sequence of ops, start to finish).

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use super::{DEFAULT_BASE, HostConfig, SnapshotMode};
use crate::oracle::error::OracleError;
use crate::oracle::op::{Op, PAGE_SIZE};
use crate::oracle::sys::*;
use crate::oracle::transcript::{HostInfo, StepRecord, Transcript};
use crate::oracle::worker::{self, MAX_SLOTS, WorkerInit, tag};

use super::facts::host_info;

/// Highest user address + 1 with 4-level paging.
pub(super) const TASK_SIZE: u64 = 0x7fff_ffff_f000;

pub(super) fn errno_err(what: &'static str, ret: i64) -> OracleError {
    OracleError::Os { what, source: std::io::Error::from_raw_os_error((-ret) as i32) }
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), OracleError> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(OracleError::last_os("pipe2"));
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(super) fn set_nonblock(fd: &OwnedFd) -> Result<(), OracleError> {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
            return Err(OracleError::last_os("fcntl O_NONBLOCK"));
        }
    }
    Ok(())
}

pub(super) fn pidfd_open(pid: i32) -> Result<OwnedFd, OracleError> {
    // SAFETY: pidfd_open only creates a descriptor.
    let r = unsafe { syscall3(SYS_PIDFD_OPEN, pid as u64, 0, 0) };
    if r < 0 {
        return Err(errno_err("pidfd_open", r));
    }
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// Reap a (dead or dying) child through its pidfd; a description of how
/// it ended, and its exit status if it exited.
pub(super) fn reap(pidfd: &OwnedFd) -> (String, Option<i32>) {
    loop {
        // SAFETY: siginfo_t is plain data; waitid writes into it.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: waitid on our own child's pidfd, valid out pointer.
        let r = unsafe {
            syscall6(SYS_WAITID, P_PIDFD, pidfd.as_raw_fd() as u64, &raw mut info as u64, libc::WEXITED as u64, 0, 0)
        };
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r < 0 {
            return (format!("waitid failed: errno {}", -r), None);
        }
        // SAFETY: waitid filled a SIGCHLD siginfo.
        let status = unsafe { info.si_status() };
        return match info.si_code {
            libc::CLD_EXITED => (format!("exited with status {status}"), Some(status)),
            libc::CLD_KILLED => (format!("killed by signal {status}"), None),
            libc::CLD_DUMPED => (format!("killed by signal {status} (core dumped)"), None),
            c => (format!("waitid si_code {c}, status {status}"), None),
        };
    }
}

pub(super) fn kill(pidfd: &OwnedFd) {
    // SAFETY: signals only our own child through its pidfd.
    unsafe {
        syscall6(SYS_PIDFD_SEND_SIGNAL, pidfd.as_raw_fd() as u64, libc::SIGKILL as u64, 0, 0, 0, 0);
    }
}

pub(super) struct Chan {
    pub(super) cmd_w: OwnedFd,
    pub(super) rep_r: OwnedFd,
}

pub(super) struct Proc {
    pub(super) pid: i32,
    pub(super) pidfd: OwnedFd,
    /// Opened once the process is known to be set up.
    pub(super) smaps: Option<File>,
    pub(super) pagemap: Option<File>,
    pub(super) alive: bool,
}

pub(super) enum Fail {
    Timeout,
    Died,
}

pub(super) struct Run {
    pub(super) cfg: HostConfig,
    pub(super) base: u64,
    pub(super) len: u64,
    pub(super) chans: Vec<Chan>,
    pub(super) procs: Vec<Proc>,
    pub(super) kpageflags: Option<File>,
    pub(super) zero_pfn: Option<u64>,
    pub(super) text: Vec<u8>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.alive {
                kill(&p.pidfd);
                reap(&p.pidfd);
                p.alive = false;
            }
        }
    }
}

pub(super) fn validate(cfg: &HostConfig) -> Result<u64, OracleError> {
    let base = cfg.base.unwrap_or(DEFAULT_BASE);
    let len = cfg.range_len;
    let bad = |m: String| Err(OracleError::InvalidConfig(m));
    if len == 0 || !len.is_multiple_of(PAGE_SIZE) {
        return bad(format!("range_len {len:#x} must be a non-zero multiple of the page size"));
    }
    if !base.is_multiple_of(PAGE_SIZE) || base < 2 * PAGE_SIZE {
        return bad(format!("base {base:#x} must be page aligned and above the first pages"));
    }
    if base.checked_add(len + PAGE_SIZE).is_none_or(|e| e > TASK_SIZE) {
        return bad(format!("range {base:#x}+{len:#x} (plus guard) exceeds the user address space"));
    }
    if cfg.max_procs == 0 || cfg.max_procs > MAX_SLOTS {
        return bad(format!("max_procs must be in 1..={MAX_SLOTS}"));
    }
    if cfg.max_io > 1 << 30 {
        return bad("max_io must be at most 1 GiB".to_string());
    }
    Ok(base)
}

/// A started run: the first worker is set up and waits for its first op.
pub(super) struct Started {
    pub(super) run: Run,
    pub(super) host: HostInfo,
    pub(super) unhinted_in_range: bool,
}

pub(super) fn run(ops: &[Op], cfg: &HostConfig) -> Result<Transcript, OracleError> {
    let Started { mut run, host, unhinted_in_range } = start(cfg)?;
    let base = run.base;
    let mut steps = Vec::with_capacity(ops.len());
    for (step, op) in ops.iter().enumerate() {
        let result = run.exec(step, op)?;
        let snapshot = match (cfg.snapshots, op) {
            (SnapshotMode::EveryOp, _) | (_, Op::Snapshot) => Some(run.snapshot()?),
            _ => None,
        };
        steps.push(StepRecord { result, snapshot });
    }
    let final_state = match steps.last().and_then(|s| s.snapshot.clone()) {
        Some(s) => s,
        None => run.snapshot()?,
    };
    drop(run);
    Ok(Transcript { base, range_len: cfg.range_len, unhinted_in_range, host, steps, final_state })
}

/// Fork the first worker and wait for its setup (the part of [`run`]
/// before the first op; a [`super::HostSession`] starts with it).
pub(super) fn start(cfg: &HostConfig) -> Result<Started, OracleError> {
    let base = validate(cfg)?;
    let host = host_info()?;

    // All pipes first: every worker inherits them.
    let mut chans = Vec::with_capacity(cfg.max_procs);
    let mut worker_ends = Vec::with_capacity(cfg.max_procs);
    let mut init = WorkerInit {
        base,
        range_len: cfg.range_len,
        fill_above: cfg.fill_above,
        io_cap: cfg.max_io,
        n_slots: cfg.max_procs,
        slot_cmd_r: [-1; MAX_SLOTS],
        slot_rep_w: [-1; MAX_SLOTS],
    };
    for k in 0..cfg.max_procs {
        let (cmd_r, cmd_w) = pipe()?;
        let (rep_r, rep_w) = pipe()?;
        set_nonblock(&cmd_w)?;
        set_nonblock(&rep_r)?;
        init.slot_cmd_r[k] = cmd_r.as_raw_fd();
        init.slot_rep_w[k] = rep_w.as_raw_fd();
        chans.push(Chan { cmd_w, rep_r });
        worker_ends.push((cmd_r, rep_w));
    }
    let kpageflags = if cfg.kpageflags { File::open("/proc/kpageflags").ok() } else { None };

    // SAFETY: the child only runs `worker_main`, which never returns,
    // uses raw system calls and no allocation or lock (see worker.rs),
    // so forking a multi-threaded process is fine.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(OracleError::last_os("fork"));
    }
    if pid == 0 {
        worker::worker_main(&init);
    }
    drop(worker_ends);
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: our own child, not yet reaped (so the pid is ours).
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, core::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    };
    let mut run = Run {
        cfg: cfg.clone(),
        base,
        len: cfg.range_len,
        chans,
        procs: Vec::new(),
        kpageflags,
        zero_pfn: host.zero_pfn,
        text: Vec::new(),
    };
    run.add_proc(pid, pidfd);

    // Handshake (the setup is not an op: at least 10 s).
    let deadline = Instant::now() + cfg.op_timeout.max(std::time::Duration::from_secs(10));
    let body = match run.recv(0, deadline) {
        Ok(b) => b,
        Err(f) => return Err(run.fail(f, 0, "setup", 0)),
    };
    if body.len() != 33 || body[0] != tag::READY {
        return Err(OracleError::Protocol { p: 0, msg: "bad handshake".to_string() });
    }
    let word = |i: usize| u64::from_le_bytes(body[1 + 8 * i..9 + 8 * i].try_into().unwrap_or([0; 8]));
    let status = word(0) as i64;
    if status < 0 {
        let stage = word(1) as usize;
        let what = worker::STAGE_NAMES.get(stage).copied().unwrap_or("unknown stage");
        return Err(OracleError::Setup { what, errno: (-status) as i32 });
    }
    let unhinted_in_range = word(3) != 0;
    run.open_files(0)?;
    Ok(Started { run, host, unhinted_in_range })
}

/// The VMA blocks of an smaps text whose VMA intersects
/// `[base, base+len)`. Each block starts with the maps line and ends with
/// the `VmFlags:` line, which the kernel always prints last. Blocks are
/// found with libc's `memmem`/`memchr` so that skipping the worker's
/// other VMAs is cheap even in unoptimised builds.
pub(super) fn smaps_blocks(text: &[u8], base: u64, len: u64) -> Vec<&[u8]> {
    let find = |from: usize, needle: &[u8]| -> Option<usize> {
        let hay = text.get(from..)?;
        // SAFETY: both pointers/lengths describe live slices.
        let p = unsafe { libc::memmem(hay.as_ptr().cast(), hay.len(), needle.as_ptr().cast(), needle.len()) };
        (!p.is_null()).then(|| from + (p as usize - hay.as_ptr() as usize))
    };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let end = match find(pos, b"\nVmFlags:").and_then(|v| find(v + 1, b"\n")) {
            Some(nl) => nl + 1,
            None => text.len(),
        };
        let block = &text[pos..end];
        let hex = |s: &[u8]| -> Option<u64> {
            let s = std::str::from_utf8(s).ok()?;
            u64::from_str_radix(s, 16).ok()
        };
        let header_end = block.iter().take(40).position(|&c| c == b' ').unwrap_or(0);
        let range = &block[..header_end];
        if let Some(dash) = range.iter().position(|&c| c == b'-')
            && let (Some(s), Some(e)) = (hex(&range[..dash]), hex(&range[dash + 1..]))
            && s < base.saturating_add(len)
            && e > base
        {
            out.push(block);
        }
        pos = end;
    }
    out
}
