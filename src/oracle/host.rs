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

/// Facts about the host (computed once per process).
pub fn host_info() -> Result<HostInfo, OracleError> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        imp::host_info()
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        Err(OracleError::Unsupported)
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp {
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::super::error::OracleError;
    use super::super::op::{Addr, FdRef, Op, OpResult, PAGE_SIZE};
    use super::super::sys::*;
    use super::super::transcript::{
        HostInfo, PageInfo, ProcSnapshot, Snapshot, StepRecord, Transcript, VmaSnapshot, pages_in_range, parse_smaps,
    };
    use super::super::worker::{self, CMD_ARGS, FD_NONE, FD_RAW, FD_SLOT, FD_SLOTS, MAX_SLOTS, WorkerInit, opc, tag};
    use super::{DEFAULT_BASE, HostConfig, SnapshotMode};

    /// Highest user address + 1 with 4-level paging.
    const TASK_SIZE: u64 = 0x7fff_ffff_f000;

    pub(super) fn host_info() -> Result<HostInfo, OracleError> {
        static INFO: OnceLock<HostInfo> = OnceLock::new();
        if let Some(i) = INFO.get() {
            return Ok(i.clone());
        }
        let info = compute_host_info()?;
        Ok(INFO.get_or_init(|| info).clone())
    }

    fn read_trim(path: &str) -> String {
        std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
    }

    /// The bracketed choice of a sysfs selector such as `always [madvise] never`.
    fn selected(s: &str) -> String {
        match (s.find('['), s.find(']')) {
            (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
            _ => s.to_string(),
        }
    }

    fn compute_host_info() -> Result<HostInfo, OracleError> {
        let kernel_release = read_trim("/proc/sys/kernel/osrelease");
        let thp = "/sys/kernel/mm/transparent_hugepage";
        Ok(HostInfo {
            kernel_release,
            page_size: PAGE_SIZE,
            thp_enabled: selected(&read_trim(&format!("{thp}/enabled"))),
            thp_defrag: selected(&read_trim(&format!("{thp}/defrag"))),
            thp_use_zero_page: read_trim(&format!("{thp}/use_zero_page")),
            thp_shmem_enabled: selected(&read_trim(&format!("{thp}/shmem_enabled"))),
            overcommit_memory: read_trim("/proc/sys/vm/overcommit_memory"),
            mmap_min_addr: read_trim("/proc/sys/vm/mmap_min_addr").parse().unwrap_or(0),
            zero_pfn: zero_pfn()?,
            pkeys: cpu_flag("ospke"),
            max_map_count: read_trim("/proc/sys/vm/max_map_count").parse().unwrap_or(0),
            // SAFETY: geteuid and getrlimit only read this process's state.
            euid: unsafe { libc::geteuid() },
            memlock: unsafe {
                let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r);
                (r.rlim_cur, r.rlim_max)
            },
        })
    }

    /// Whether the `flags` line of /proc/cpuinfo names `flag`.
    fn cpu_flag(flag: &str) -> bool {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        info.lines().find(|l| l.starts_with("flags")).is_some_and(|l| l.split_whitespace().any(|w| w == flag))
    }

    /// PFN of the shared zero page: map a private anonymous page read-only,
    /// read it (the fault maps the zero page), and look it up in our own
    /// pagemap. `None` when PFNs are hidden (no `CAP_SYS_ADMIN`).
    fn zero_pfn() -> Result<Option<u64>, OracleError> {
        let ps = PAGE_SIZE as usize;
        // SAFETY: a fresh private anonymous mapping, read then unmapped;
        // nothing else refers to it.
        unsafe {
            let p =
                libc::mmap(core::ptr::null_mut(), ps, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            if p == libc::MAP_FAILED {
                return Err(OracleError::last_os("mmap (zero page probe)"));
            }
            core::ptr::read_volatile(p.cast::<u8>());
            let res = File::open("/proc/self/pagemap").and_then(|f| {
                let mut b = [0u8; 8];
                f.read_exact_at(&mut b, (p as u64 / PAGE_SIZE) * 8)?;
                Ok(u64::from_le_bytes(b))
            });
            libc::munmap(p, ps);
            let raw = res.map_err(|source| OracleError::Os { what: "reading /proc/self/pagemap", source })?;
            let pfn = raw & ((1u64 << 55) - 1);
            Ok((raw >> 63 == 1 && pfn != 0).then_some(pfn))
        }
    }

    fn errno_err(what: &'static str, ret: i64) -> OracleError {
        OracleError::Os { what, source: std::io::Error::from_raw_os_error((-ret) as i32) }
    }

    fn pipe() -> Result<(OwnedFd, OwnedFd), OracleError> {
        let mut fds = [0i32; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(OracleError::last_os("pipe2"));
        }
        // SAFETY: both descriptors are fresh and owned by nobody else.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    }

    fn set_nonblock(fd: &OwnedFd) -> Result<(), OracleError> {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            if fl < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) < 0 {
                return Err(OracleError::last_os("fcntl O_NONBLOCK"));
            }
        }
        Ok(())
    }

    fn pidfd_open(pid: i32) -> Result<OwnedFd, OracleError> {
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
    fn reap(pidfd: &OwnedFd) -> (String, Option<i32>) {
        loop {
            // SAFETY: siginfo_t is plain data; waitid writes into it.
            let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
            // SAFETY: waitid on our own child's pidfd, valid out pointer.
            let r = unsafe {
                syscall6(
                    SYS_WAITID,
                    P_PIDFD,
                    pidfd.as_raw_fd() as u64,
                    &raw mut info as u64,
                    libc::WEXITED as u64,
                    0,
                    0,
                )
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

    fn kill(pidfd: &OwnedFd) {
        // SAFETY: signals only our own child through its pidfd.
        unsafe {
            syscall6(SYS_PIDFD_SEND_SIGNAL, pidfd.as_raw_fd() as u64, libc::SIGKILL as u64, 0, 0, 0, 0);
        }
    }

    struct Chan {
        cmd_w: OwnedFd,
        rep_r: OwnedFd,
    }

    struct Proc {
        pid: i32,
        pidfd: OwnedFd,
        /// Opened once the process is known to be set up.
        smaps: Option<File>,
        pagemap: Option<File>,
        alive: bool,
    }

    enum Fail {
        Timeout,
        Died,
    }

    struct Run<'a> {
        cfg: &'a HostConfig,
        base: u64,
        len: u64,
        chans: Vec<Chan>,
        procs: Vec<Proc>,
        kpageflags: Option<File>,
        zero_pfn: Option<u64>,
        text: Vec<u8>,
    }

    impl Drop for Run<'_> {
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

    fn validate(cfg: &HostConfig) -> Result<u64, OracleError> {
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

    pub(super) fn run(ops: &[Op], cfg: &HostConfig) -> Result<Transcript, OracleError> {
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
            cfg,
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

    /// The VMA blocks of an smaps text whose VMA intersects
    /// `[base, base+len)`. Each block starts with the maps line and ends with
    /// the `VmFlags:` line, which the kernel always prints last. Blocks are
    /// found with libc's `memmem`/`memchr` so that skipping the worker's
    /// other VMAs is cheap even in unoptimised builds.
    fn smaps_blocks(text: &[u8], base: u64, len: u64) -> Vec<&[u8]> {
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

    impl Run<'_> {
        /// Register a new live process. Its /proc files are opened by
        /// [`Self::open_files`] once it is known to be running (the first
        /// worker may still fail its setup and exit).
        fn add_proc(&mut self, pid: i32, pidfd: OwnedFd) {
            self.procs.push(Proc { pid, pidfd, smaps: None, pagemap: None, alive: true });
        }

        fn open_files(&mut self, p: usize) -> Result<(), OracleError> {
            let pid = self.procs[p].pid;
            let open = |what: &'static str, name: &str| {
                File::open(format!("/proc/{pid}/{name}")).map_err(|source| OracleError::Os { what, source })
            };
            let smaps = open("opening /proc/<pid>/smaps", "smaps")?;
            let pagemap = open("opening /proc/<pid>/pagemap", "pagemap")?;
            self.procs[p].smaps = Some(smaps);
            self.procs[p].pagemap = Some(pagemap);
            Ok(())
        }

        /// Turn a communication failure with process `p` into an error
        /// (killing and reaping it).
        fn fail(&mut self, f: Fail, step: usize, op: &'static str, p: usize) -> OracleError {
            let Some(proc_) = self.procs.get_mut(p) else {
                return OracleError::Protocol { p, msg: "no such process".to_string() };
            };
            match f {
                Fail::Timeout => {
                    kill(&proc_.pidfd);
                    reap(&proc_.pidfd);
                    proc_.alive = false;
                    OracleError::Timeout { step, op, p, secs: self.cfg.op_timeout.as_secs() }
                }
                Fail::Died => {
                    let (status, _) = reap(&proc_.pidfd);
                    proc_.alive = false;
                    OracleError::WorkerDied { step, op, p, status }
                }
            }
        }

        /// Poll `fd` for `events` together with process `p`'s pidfd.
        /// Ok(true) when `fd` is ready, Ok(false) never; Err on death/timeout.
        fn wait_ready(&self, p: usize, fd: i32, events: i16, deadline: Instant) -> Result<(), Fail> {
            let pidfd = self.procs[p].pidfd.as_raw_fd();
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Fail::Timeout);
                }
                let ms = (deadline - now).as_millis().clamp(1, i32::MAX as u128) as i32;
                let mut pfd = [
                    libc::pollfd { fd, events, revents: 0 },
                    libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 },
                ];
                // SAFETY: valid pollfd array.
                let r = unsafe { libc::poll(pfd.as_mut_ptr(), 2, ms) };
                if r < 0 {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                        continue;
                    }
                    return Err(Fail::Died);
                }
                if pfd[0].revents != 0 {
                    return Ok(());
                }
                if pfd[1].revents != 0 {
                    return Err(Fail::Died);
                }
            }
        }

        fn send(&self, p: usize, msg: &[u8], deadline: Instant) -> Result<(), Fail> {
            let fd = self.chans[p].cmd_w.as_raw_fd();
            let mut off = 0;
            while off < msg.len() {
                let rest = &msg[off..];
                // SAFETY: valid slice; nonblocking descriptor we own.
                let r = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
                if r > 0 {
                    off += r as usize;
                    continue;
                }
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => self.wait_ready(p, fd, libc::POLLOUT, deadline)?,
                    _ => return Err(Fail::Died),
                }
            }
            Ok(())
        }

        fn read_exact(&self, p: usize, buf: &mut [u8], deadline: Instant) -> Result<(), Fail> {
            let fd = self.chans[p].rep_r.as_raw_fd();
            let mut off = 0;
            while off < buf.len() {
                let rest = &mut buf[off..];
                // SAFETY: valid slice; nonblocking descriptor we own.
                let r = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
                if r > 0 {
                    off += r as usize;
                    continue;
                }
                if r == 0 {
                    return Err(Fail::Died);
                }
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => self.wait_ready(p, fd, libc::POLLIN, deadline)?,
                    _ => return Err(Fail::Died),
                }
            }
            Ok(())
        }

        fn recv(&self, p: usize, deadline: Instant) -> Result<Vec<u8>, Fail> {
            let mut hdr = [0u8; 4];
            self.read_exact(p, &mut hdr, deadline)?;
            let n = u32::from_le_bytes(hdr) as usize;
            let mut body = vec![0u8; n];
            self.read_exact(p, &mut body, deadline)?;
            if body.is_empty() {
                return Err(Fail::Died);
            }
            Ok(body)
        }

        fn fd_arg(fd: FdRef) -> u64 {
            match fd {
                FdRef::None => FD_NONE << 32,
                FdRef::Slot(i) => FD_SLOT << 32 | i as u64,
                FdRef::Raw(i) => FD_RAW << 32 | i as u32 as u64,
            }
        }

        fn exec(&mut self, step: usize, op: &Op) -> Result<OpResult, OracleError> {
            let Some(p) = op.p() else {
                return Ok(OpResult::Ret(0)); // Snapshot: taken by the caller
            };
            if !self.procs.get(p).is_some_and(|pr| pr.alive) {
                return Err(OracleError::NoSuchProcess { step, p });
            }
            let b = self.base;
            let limit = |what: &'static str, limit: u64| Err(OracleError::Limit { step, what, limit });
            let max_io = self.cfg.max_io as u64;
            let mut payload: &[u8] = &[];
            let (code, args): (u8, [u64; CMD_ARGS]) = match op {
                Op::Mmap { addr, len, prot, flags, fd, off, .. } => (
                    opc::MMAP,
                    [addr.resolve(b), *len, *prot as u32 as u64, *flags as u32 as u64, Self::fd_arg(*fd), *off],
                ),
                Op::Munmap { addr, len, .. } => (opc::MUNMAP, [addr.resolve(b), *len, 0, 0, 0, 0]),
                Op::Mprotect { addr, len, prot, .. } => {
                    (opc::MPROTECT, [addr.resolve(b), *len, *prot as u32 as u64, 0, 0, 0])
                }
                Op::Mremap { old, old_len, new_len, flags, new_addr, .. } => {
                    (opc::MREMAP, [old.resolve(b), *old_len, *new_len, *flags as u32 as u64, new_addr.resolve(b), 0])
                }
                Op::Madvise { addr, len, advice, .. } => {
                    (opc::MADVISE, [addr.resolve(b), *len, *advice as u32 as u64, 0, 0, 0])
                }
                Op::Mlock { addr, len, .. } => (opc::MLOCK, [addr.resolve(b), *len, 0, 0, 0, 0]),
                Op::Mlock2 { addr, len, flags, .. } => (opc::MLOCK2, [addr.resolve(b), *len, *flags as u64, 0, 0, 0]),
                Op::Munlock { addr, len, .. } => (opc::MUNLOCK, [addr.resolve(b), *len, 0, 0, 0, 0]),
                Op::Mlockall { flags, .. } => (opc::MLOCKALL, [*flags as u32 as u64, 0, 0, 0, 0, 0]),
                Op::Munlockall { .. } => (opc::MUNLOCKALL, [0; CMD_ARGS]),
                Op::Mseal { addr, len, flags, .. } => (opc::MSEAL, [addr.resolve(b), *len, *flags, 0, 0, 0]),
                Op::Msync { addr, len, flags, .. } => {
                    (opc::MSYNC, [addr.resolve(b), *len, *flags as u32 as u64, 0, 0, 0])
                }
                Op::Mincore { addr, len, .. } => (opc::MINCORE, [addr.resolve(b), *len, 0, 0, 0, 0]),
                Op::MemfdCreate { slot, flags, .. } => {
                    if *slot as usize >= FD_SLOTS {
                        return limit("memfd slot", FD_SLOTS as u64 - 1);
                    }
                    (opc::MEMFD_CREATE, [*slot as u64, *flags as u64, 0, 0, 0, 0])
                }
                Op::Ftruncate { fd, len, .. } => (opc::FTRUNCATE, [Self::fd_arg(*fd), *len, 0, 0, 0, 0]),
                Op::Close { fd, .. } => (opc::CLOSE, [Self::fd_arg(*fd), 0, 0, 0, 0, 0]),
                Op::Pwrite { fd, off, bytes, .. } => {
                    if bytes.len() as u64 > max_io {
                        return limit("pwrite length", max_io);
                    }
                    payload = bytes;
                    (opc::PWRITE, [Self::fd_arg(*fd), *off, 0, 0, 0, 0])
                }
                Op::Pread { fd, off, len, .. } => {
                    if *len > max_io {
                        return limit("pread length", max_io);
                    }
                    (opc::PREAD, [Self::fd_arg(*fd), *off, *len, 0, 0, 0])
                }
                Op::Load { addr, len, .. } => {
                    if *len > max_io {
                        return limit("load length", max_io);
                    }
                    (opc::LOAD, [addr.resolve(b), *len, 0, 0, 0, 0])
                }
                Op::Store { addr, bytes, .. } => {
                    if bytes.len() as u64 > max_io {
                        return limit("store length", max_io);
                    }
                    payload = bytes;
                    (opc::STORE, [addr.resolve(b), 0, 0, 0, 0, 0])
                }
                Op::Touch { addr, len, write, .. } => (opc::TOUCH, [addr.resolve(b), *len, *write as u64, 0, 0, 0]),
                Op::Fork { .. } => {
                    let slot = self.procs.len();
                    if slot >= self.cfg.max_procs {
                        return Err(OracleError::TooManyProcesses { step, max: self.cfg.max_procs });
                    }
                    (opc::FORK, [slot as u64, 0, 0, 0, 0, 0])
                }
                Op::Exit { .. } => (opc::EXIT, [0; CMD_ARGS]),
                Op::Snapshot => return Ok(OpResult::Ret(0)),
            };
            let body_len = 1 + 8 * CMD_ARGS + payload.len();
            let mut msg = Vec::with_capacity(4 + body_len);
            msg.extend_from_slice(&(body_len as u32).to_le_bytes());
            msg.push(code);
            for a in args {
                msg.extend_from_slice(&a.to_le_bytes());
            }
            msg.extend_from_slice(payload);

            let deadline = Instant::now() + self.cfg.op_timeout;
            if let Err(f) = self.send(p, &msg, deadline) {
                return Err(self.fail(f, step, op.name(), p));
            }
            if code == opc::EXIT {
                // No reply: wait for the process to end, then reap it.
                let pidfd = self.procs[p].pidfd.as_raw_fd();
                return match self.wait_ready(p, pidfd, libc::POLLIN, deadline) {
                    Ok(()) | Err(Fail::Died) => {
                        let proc_ = &mut self.procs[p];
                        let (desc, status) = reap(&proc_.pidfd);
                        proc_.alive = false;
                        match status {
                            Some(s) => Ok(OpResult::Ret(s as i64)),
                            None => Err(OracleError::WorkerDied { step, op: "exit", p, status: desc }),
                        }
                    }
                    Err(f) => Err(self.fail(f, step, "exit", p)),
                };
            }
            let body = match self.recv(p, deadline) {
                Ok(b) => b,
                Err(f) => return Err(self.fail(f, step, op.name(), p)),
            };
            let res = self.decode(p, step, &body)?;
            if let (Op::Fork { .. }, OpResult::Ret(pid)) = (op, &res)
                && *pid > 0
            {
                {
                    let idx = self.procs.len();
                    let pid = *pid as i32;
                    let pidfd = match pidfd_open(pid) {
                        Ok(fd) => fd,
                        Err(e) => {
                            // SAFETY: CLONE_PARENT made it our own child, not
                            // yet reaped, so the pid still names it.
                            unsafe {
                                libc::kill(pid, libc::SIGKILL);
                                libc::waitpid(pid, core::ptr::null_mut(), libc::__WALL);
                            }
                            return Err(e);
                        }
                    };
                    self.add_proc(pid, pidfd);
                    self.open_files(idx)?;
                    return Ok(OpResult::Ret(idx as i64));
                }
            }
            Ok(res)
        }

        fn decode(&self, p: usize, step: usize, body: &[u8]) -> Result<OpResult, OracleError> {
            let bad = || OracleError::Protocol { p, msg: format!("malformed reply of {} bytes", body.len()) };
            let u64_at = |i: usize| -> Result<u64, OracleError> {
                body.get(i..i + 8).and_then(|s| s.try_into().ok()).map(u64::from_le_bytes).ok_or_else(bad)
            };
            match body[0] {
                tag::RET => Ok(OpResult::Ret(u64_at(1)? as i64)),
                tag::BYTES => Ok(OpResult::Bytes(body[1..].to_vec())),
                tag::SIGNAL => {
                    let w = u64_at(1)?;
                    let addr = u64_at(9)?;
                    Ok(OpResult::Signal {
                        sig: w as u32 as i32,
                        code: (w >> 32) as u32 as i32,
                        addr: Addr::classify(addr, self.base, self.len),
                    })
                }
                tag::LIMIT => {
                    let what = match u64_at(1)? {
                        1 => "mincore vector (range_len / 4096 + 4098 pages)",
                        2 => "memfd slot",
                        3 => "load length",
                        4 => "pages touched without a fault",
                        5 => "process slots",
                        _ => "unknown command",
                    };
                    Err(OracleError::Limit { step, what, limit: 0 })
                }
                _ => Err(bad()),
            }
        }

        fn snapshot(&mut self) -> Result<Snapshot, OracleError> {
            let mut out = Vec::new();
            for p in 0..self.procs.len() {
                if self.procs[p].alive {
                    out.push(self.proc_snapshot(p)?);
                }
            }
            Ok(out)
        }

        fn proc_snapshot(&mut self, p: usize) -> Result<ProcSnapshot, OracleError> {
            let io = |what: &'static str| move |source| OracleError::Os { what, source };
            let not_open = || OracleError::Protocol { p, msg: "proc files not open".to_string() };
            // Read the whole smaps file (from offset 0: the seq_file restarts).
            // `text` is kept fully initialised (len == its size) so that no
            // per-read zeroing is needed; `used` bytes are valid.
            let mut used = 0usize;
            loop {
                if self.text.len() - used < 16 << 10 {
                    let mut bigger = vec![0u8; (self.text.len() * 2).max(256 << 10)];
                    bigger[..used].copy_from_slice(&self.text[..used]);
                    self.text = bigger;
                }
                let smaps = self.procs[p].smaps.as_ref().ok_or_else(not_open)?;
                let n = smaps.read_at(&mut self.text[used..], used as u64).map_err(io("reading smaps"))?;
                if n == 0 {
                    break;
                }
                used += n;
            }
            let (base, len) = (self.base, self.len);
            let mut entries = Vec::new();
            for block in smaps_blocks(&self.text[..used], base, len) {
                let text = String::from_utf8_lossy(block);
                entries.extend(parse_smaps(&text, |_, _| true));
            }
            let mut vmas = Vec::with_capacity(entries.len());
            let mut raw = Vec::new();
            for e in entries {
                let mut pages = Vec::new();
                let mut truncated = false;
                if let Some((first, n)) = pages_in_range(e.maps.start, e.maps.end, base, len) {
                    let n = if n > self.cfg.max_pages_per_vma as u64 {
                        truncated = true;
                        self.cfg.max_pages_per_vma
                    } else {
                        n as usize
                    };
                    if raw.len() < n * 8 {
                        raw = vec![0u8; n * 8];
                    }
                    let raw = &mut raw[..n * 8];
                    self.procs[p]
                        .pagemap
                        .as_ref()
                        .ok_or_else(not_open)?
                        .read_exact_at(raw, first / PAGE_SIZE * 8)
                        .map_err(io("reading pagemap"))?;
                    pages.reserve(n);
                    for c in raw.chunks_exact(8) {
                        let mut w = [0u8; 8];
                        w.copy_from_slice(c);
                        let v = u64::from_le_bytes(w);
                        let pfn = v & ((1u64 << 55) - 1);
                        let kflags = match &self.kpageflags {
                            Some(f) if v >> 63 == 1 && pfn != 0 => {
                                let mut k = [0u8; 8];
                                f.read_exact_at(&mut k, pfn * 8).ok().map(|()| u64::from_le_bytes(k))
                            }
                            _ => None,
                        };
                        pages.push(PageInfo::from_raw(v, self.zero_pfn, kflags));
                    }
                }
                vmas.push(VmaSnapshot::from_entry(e, pages, truncated));
            }
            Ok(ProcSnapshot { p, vmas })
        }
    }
}
