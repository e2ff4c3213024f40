//! One run's steps: sending each op to its worker, reading the reply,
//! taking snapshots from /proc.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::Instant;

use crate::oracle::error::OracleError;
use crate::oracle::op::{Addr, FdRef, Op, OpResult, PAGE_SIZE};
use crate::oracle::transcript::{PageInfo, ProcSnapshot, Snapshot, VmaSnapshot, pages_in_range, parse_smaps};
use crate::oracle::worker::{CMD_ARGS, FD_NONE, FD_RAW, FD_SLOT, FD_SLOTS, opc, tag};

use super::imp::*;

impl Run {
    /// Register a new live process. Its /proc files are opened by
    /// [`Self::open_files`] once it is known to be running (the first
    /// worker may still fail its setup and exit).
    pub(super) fn add_proc(&mut self, pid: i32, pidfd: OwnedFd) {
        self.procs.push(Proc { pid, pidfd, smaps: None, pagemap: None, alive: true });
    }

    pub(super) fn open_files(&mut self, p: usize) -> Result<(), OracleError> {
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
    pub(super) fn fail(&mut self, f: Fail, step: usize, op: &'static str, p: usize) -> OracleError {
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
            let mut pfd =
                [libc::pollfd { fd, events, revents: 0 }, libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 }];
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

    pub(super) fn recv(&self, p: usize, deadline: Instant) -> Result<Vec<u8>, Fail> {
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

    pub(super) fn exec(&mut self, step: usize, op: &Op) -> Result<OpResult, OracleError> {
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
            Op::Mmap { addr, len, prot, flags, fd, off, .. } => {
                (opc::MMAP, [addr.resolve(b), *len, *prot as u32 as u64, *flags as u32 as u64, Self::fd_arg(*fd), *off])
            }
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
            Op::Msync { addr, len, flags, .. } => (opc::MSYNC, [addr.resolve(b), *len, *flags as u32 as u64, 0, 0, 0]),
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
            Op::Setrlimit { resource, cur, max, .. } => {
                let used = self.used_pages(p, *resource)?;
                (opc::SETRLIMIT, [*resource as u64, cur.resolve(used), max.resolve(used), 0, 0, 0])
            }
            Op::Brk { addr, .. } => (opc::BRK, [addr.resolve(b), 0, 0, 0, 0, 0]),
            Op::Setuid { uid, .. } => (opc::SETUID, [*uid as u64, 0, 0, 0, 0, 0]),
            Op::Snapshot => return Ok(OpResult::Ret(0)),
        };
        self.transact(step, op.name(), p, code, args, payload)
    }

    /// Send one command to process `p` and decode its reply (`name` names
    /// it in errors; `code` says whether it is a fork or an exit).
    pub(super) fn transact(
        &mut self,
        step: usize,
        name: &'static str,
        p: usize,
        code: u8,
        args: [u64; CMD_ARGS],
        payload: &[u8],
    ) -> Result<OpResult, OracleError> {
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
            return Err(self.fail(f, step, name, p));
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
            Err(f) => return Err(self.fail(f, step, name, p)),
        };
        let res = self.decode(p, step, &body)?;
        if let (opc::FORK, OpResult::Ret(pid)) = (code, &res)
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

    /// What process `p` uses of an rlimit's resource, in pages, for
    /// [`crate::oracle::Lim::Used`]: `/proc/PID/status` `VmSize` (total_vm),
    /// `VmData` (data_vm), `VmLck` (locked_vm), in kB (fs/proc/task_mmu.c
    /// `task_mem`).
    fn used_pages(&self, p: usize, resource: u32) -> Result<u64, OracleError> {
        use crate::oracle::op::{RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK};
        let key = match resource {
            RLIMIT_AS => "VmSize:",
            RLIMIT_DATA => "VmData:",
            RLIMIT_MEMLOCK => "VmLck:",
            _ => return Ok(0),
        };
        let pid = self.procs[p].pid;
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|source| OracleError::Os { what: "reading /proc/<pid>/status", source })?;
        let kb = text
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| OracleError::Protocol { p, msg: format!("no {key} in /proc/{pid}/status") })?;
        Ok(kb / 4)
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
                    6 => "brk (the worker could not move its break: prctl(PR_SET_MM_MAP) failed)",
                    _ => "unknown command",
                };
                Err(OracleError::Limit { step, what, limit: 0 })
            }
            _ => Err(bad()),
        }
    }

    pub(super) fn snapshot(&mut self) -> Result<Snapshot, OracleError> {
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
