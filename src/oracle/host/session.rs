//! A run step by step: [`HostSession`] keeps the workers alive between
//! calls, so a test can interleave ops on the host with the same calls on
//! the model and compare after each one. It also reads the workers' /proc
//! files raw (maps lines, smaps blocks, pagemap words, status) for tests
//! that compare the text byte for byte rather than the parsed snapshot.

use std::os::unix::fs::FileExt;

use super::HostConfig;
use super::imp::{Run, Started, smaps_blocks, start};
use crate::oracle::error::OracleError;
use crate::oracle::op::{Op, OpResult, PAGE_SIZE};
use crate::oracle::transcript::{HostInfo, Snapshot};
use crate::oracle::worker::{CMD_ARGS, FD_SLOTS, opc};

/// Workers on this host, driven one op at a time (see
/// [`super::run_on_host`] for the process structure). Every worker is
/// killed and reaped when the session is dropped.
pub struct HostSession {
    run: Run,
    host: HostInfo,
    unhinted_in_range: bool,
    step: usize,
}

impl HostSession {
    /// Fork the first worker and wait until its range is set up
    /// (`cfg.snapshots` is not used: snapshots are taken on request).
    pub fn start(cfg: &HostConfig) -> Result<HostSession, OracleError> {
        let Started { run, host, unhinted_in_range } = start(cfg)?;
        Ok(HostSession { run, host, unhinted_in_range, step: 0 })
    }

    /// Start of the reserved range.
    pub fn base(&self) -> u64 {
        self.run.base
    }

    /// Facts about the host.
    pub fn host(&self) -> &HostInfo {
        &self.host
    }

    /// Whether unhinted mappings land inside the range.
    pub fn unhinted_in_range(&self) -> bool {
        self.unhinted_in_range
    }

    /// Perform one op (steps are numbered from 0 in errors).
    pub fn exec(&mut self, op: &Op) -> Result<OpResult, OracleError> {
        let step = self.step;
        self.step += 1;
        self.run.exec(step, op)
    }

    /// `memfd_create(name, 0)` into descriptor slot `slot` of process `p`,
    /// as [`Op::MemfdCreate`] but with a name of the caller's (the op's
    /// memfds are all named "mmsim"). The name is passed as given (no
    /// terminating NUL needed; bytes after an embedded NUL are ignored by
    /// the kernel's `strncpy_from_user`).
    pub fn memfd_create_named(&mut self, p: usize, slot: u32, name: &[u8]) -> Result<OpResult, OracleError> {
        let step = self.step;
        self.step += 1;
        if slot as usize >= FD_SLOTS {
            return Err(OracleError::Limit { step, what: "memfd slot", limit: FD_SLOTS as u64 - 1 });
        }
        if name.is_empty() || name.len() > 511 {
            return Err(OracleError::Limit { step, what: "memfd name length", limit: 511 });
        }
        if !self.run.procs.get(p).is_some_and(|pr| pr.alive) {
            return Err(OracleError::NoSuchProcess { step, p });
        }
        let mut args = [0u64; CMD_ARGS];
        args[0] = slot as u64;
        self.run.transact(step, "memfd_create", p, opc::MEMFD_CREATE, args, name)
    }

    /// A raw system call `nr(args...)` in process `p`: its return value
    /// or `-errno`. For the argument checks no [`Op`] expresses (a
    /// pointer argument into the range, such as mincore's vector); a call
    /// that unmaps or overwrites the worker's own memory kills it, which is
    /// reported as [`OracleError::WorkerDied`].
    pub fn syscall(&mut self, p: usize, nr: i64, args: [u64; 6]) -> Result<i64, OracleError> {
        let step = self.step;
        self.step += 1;
        if !self.run.procs.get(p).is_some_and(|pr| pr.alive) {
            return Err(OracleError::NoSuchProcess { step, p });
        }
        let a = [nr as u64, args[0], args[1], args[2], args[3], args[4]];
        match self.run.transact(step, "syscall", p, opc::SYSCALL, a, &args[5].to_le_bytes())? {
            OpResult::Ret(v) => Ok(v),
            r => Err(OracleError::Protocol { p, msg: format!("syscall {nr}: unexpected reply {r:?}") }),
        }
    }

    /// A snapshot of every live process (parsed, as in a transcript).
    pub fn snapshot(&mut self) -> Result<Snapshot, OracleError> {
        self.run.snapshot()
    }

    /// The whole text of `/proc/<pid>/<file>` of process `p`.
    pub fn proc_text(&self, p: usize, file: &str) -> Result<String, OracleError> {
        let pid = self.pid(p)?;
        std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .map_err(|source| OracleError::Os { what: "reading /proc/<pid>/<file>", source })
    }

    /// The lines of `/proc/<pid>/maps` whose VMA intersects the range,
    /// each with its `\n` (and the trailing space of an unnamed one).
    pub fn maps_lines(&self, p: usize) -> Result<Vec<String>, OracleError> {
        let text = self.proc_text(p, "maps")?;
        let (base, len) = (self.run.base, self.run.len);
        Ok(text
            .split_inclusive('\n')
            .filter(|l| {
                let range = l.split(' ').next().unwrap_or("");
                let (s, e) = range.split_once('-').unwrap_or(("", ""));
                match (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) {
                    (Ok(s), Ok(e)) => s < base.saturating_add(len) && e > base,
                    _ => false,
                }
            })
            .map(str::to_string)
            .collect())
    }

    /// The raw `/proc/<pid>/smaps` blocks (maps line to `VmFlags:` line,
    /// each line with its `\n`) of the VMAs that intersect the range.
    pub fn smaps_blocks(&self, p: usize) -> Result<Vec<String>, OracleError> {
        let text = self.proc_text(p, "smaps")?;
        let blocks = smaps_blocks(text.as_bytes(), self.run.base, self.run.len);
        Ok(blocks.into_iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect())
    }

    /// `pages` raw 64-bit `/proc/<pid>/pagemap` entries from `addr`.
    pub fn pagemap_words(&self, p: usize, addr: u64, pages: u64) -> Result<Vec<u64>, OracleError> {
        let io = |source| OracleError::Os { what: "reading pagemap", source };
        let f = self.run.procs[self.alive(p)?].pagemap.as_ref();
        let f = f.ok_or_else(|| OracleError::Protocol { p, msg: "proc files not open".to_string() })?;
        let mut buf = vec![0u8; pages as usize * 8];
        f.read_exact_at(&mut buf, addr / PAGE_SIZE * 8).map_err(io)?;
        Ok(buf.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
    }

    /// A `kB` field of `/proc/<pid>/status` (`VmLck`, `VmData`, ...).
    pub fn status_kb(&self, p: usize, field: &str) -> Result<Option<u64>, OracleError> {
        let text = self.proc_text(p, "status")?;
        Ok(text
            .lines()
            .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok()))
    }

    fn alive(&self, p: usize) -> Result<usize, OracleError> {
        match self.run.procs.get(p) {
            Some(pr) if pr.alive => Ok(p),
            _ => Err(OracleError::NoSuchProcess { step: self.step, p }),
        }
    }

    fn pid(&self, p: usize) -> Result<i32, OracleError> {
        Ok(self.run.procs[self.alive(p)?].pid)
    }
}
