//! Serving commands: each op performed for real, its reply sent.

use super::*;

impl Worker {
    fn reply_ret(&self, v: i64) {
        send_reply(self.rep_fd, tag::RET, &v.to_le_bytes(), &[]);
    }

    fn reply_signal(&self) {
        let mut head = [0u8; 16];
        head[..4].copy_from_slice(&FAULT_SIG.load(Ordering::SeqCst).to_le_bytes());
        head[4..8].copy_from_slice(&FAULT_CODE.load(Ordering::SeqCst).to_le_bytes());
        head[8..16].copy_from_slice(&FAULT_ADDR.load(Ordering::SeqCst).to_le_bytes());
        send_reply(self.rep_fd, tag::SIGNAL, &head, &[]);
    }

    fn reply_limit(&self, code: u64) {
        send_reply(self.rep_fd, tag::LIMIT, &code.to_le_bytes(), &[]);
    }

    fn fd(&self, arg: u64) -> i32 {
        let v = arg as u32;
        match arg >> 32 {
            FD_SLOT => self.fds.get(v as usize).copied().unwrap_or(-1),
            FD_RAW => v as i32,
            _ => -1,
        }
    }

    pub(super) fn serve(&mut self) -> ! {
        loop {
            let mut hdr = [0u8; 4];
            if !read_exact(self.cmd_fd, &mut hdr) {
                exit_now(0); // the controller is gone
            }
            let n = u32::from_le_bytes(hdr) as usize;
            if n < CMD_HDR || n > self.cmd_cap {
                exit_now(112);
            }
            // SAFETY: cmd_buf is our own mapping of cmd_cap bytes.
            let buf = unsafe { core::slice::from_raw_parts_mut(self.cmd_buf, self.cmd_cap) };
            if !read_exact(self.cmd_fd, &mut buf[..n]) {
                exit_now(0);
            }
            let mut a = [0u64; CMD_ARGS];
            for (i, v) in a.iter_mut().enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[1 + 8 * i..9 + 8 * i]);
                *v = u64::from_le_bytes(b);
            }
            let opcode = buf[0];
            let payload = &buf[CMD_HDR..n];
            self.dispatch(opcode, a, payload);
        }
    }

    fn dispatch(&mut self, opcode: u8, a: [u64; CMD_ARGS], payload: &[u8]) {
        // SAFETY (all system calls below): the ops are the point of the
        // oracle; their pointer arguments are either the op's own addresses
        // (which the kernel validates; they may only affect the range, or
        // kill this worker, which the controller reports) or our buffers.
        match opcode {
            opc::PING => self.reply_ret(0),
            opc::MMAP => {
                let fd = self.fd(a[4]) as i64 as u64;
                let r = unsafe { syscall6(SYS_MMAP, a[0], a[1], a[2], a[3], fd, a[5]) };
                self.reply_ret(r)
            }
            opc::MUNMAP => self.reply_ret(unsafe { syscall3(SYS_MUNMAP, a[0], a[1], 0) }),
            opc::MPROTECT => self.reply_ret(unsafe { syscall3(SYS_MPROTECT, a[0], a[1], a[2]) }),
            opc::MREMAP => self.reply_ret(unsafe { syscall6(SYS_MREMAP, a[0], a[1], a[2], a[3], a[4], 0) }),
            opc::MADVISE => self.reply_ret(unsafe { syscall3(SYS_MADVISE, a[0], a[1], a[2]) }),
            opc::MLOCK => self.reply_ret(unsafe { syscall3(SYS_MLOCK, a[0], a[1], 0) }),
            opc::MLOCK2 => self.reply_ret(unsafe { syscall3(SYS_MLOCK2, a[0], a[1], a[2]) }),
            opc::MUNLOCK => self.reply_ret(unsafe { syscall3(SYS_MUNLOCK, a[0], a[1], 0) }),
            opc::MLOCKALL => self.reply_ret(unsafe { syscall3(SYS_MLOCKALL, a[0], 0, 0) }),
            opc::MUNLOCKALL => self.reply_ret(unsafe { syscall3(SYS_MUNLOCKALL, 0, 0, 0) }),
            opc::MSEAL => self.reply_ret(unsafe { syscall3(SYS_MSEAL, a[0], a[1], a[2]) }),
            opc::MSYNC => self.reply_ret(unsafe { syscall3(SYS_MSYNC, a[0], a[1], a[2]) }),
            opc::MINCORE => {
                let r = unsafe { syscall3(SYS_MINCORE, a[0], a[1], self.vec_buf as u64) };
                if r < 0 {
                    return self.reply_ret(r);
                }
                // On success the kernel wrote one byte per page of len.
                let pages = (a[1] >> 12) + u64::from(a[1] & (PAGE_SIZE - 1) != 0);
                if pages > self.vec_cap as u64 {
                    return self.reply_limit(1);
                }
                // SAFETY: vec_buf is our mapping of vec_cap (+ guard) bytes.
                let v = unsafe { core::slice::from_raw_parts(self.vec_buf, pages as usize) };
                send_reply(self.rep_fd, tag::BYTES, &[], v)
            }
            opc::MEMFD_CREATE => {
                let slot = a[0] as usize;
                if slot >= FD_SLOTS {
                    return self.reply_limit(2);
                }
                // The name is the payload (a session's named memfd), else
                // "mmsim"; NUL-terminated here (at most 249 bytes are
                // accepted by mm/memfd.c, longer is EINVAL there).
                let mut name = [0u8; 512];
                let given: &[u8] = if payload.is_empty() { b"mmsim" } else { payload };
                let n = given.len().min(name.len() - 1);
                name[..n].copy_from_slice(&given[..n]);
                let r = unsafe { syscall3(SYS_MEMFD_CREATE, name.as_ptr() as u64, a[1], 0) };
                if r >= 0 {
                    self.fds[slot] = r as i32;
                    self.reply_ret(0)
                } else {
                    self.reply_ret(r)
                }
            }
            opc::FTRUNCATE => {
                let fd = self.fd(a[0]) as i64 as u64;
                self.reply_ret(unsafe { syscall3(SYS_FTRUNCATE, fd, a[1], 0) })
            }
            opc::CLOSE => {
                let fd = self.fd(a[0]);
                let r = unsafe { syscall3(SYS_CLOSE, fd as i64 as u64, 0, 0) };
                if a[0] >> 32 == FD_SLOT
                    && let Some(s) = self.fds.get_mut(a[0] as u32 as usize)
                {
                    *s = -1;
                }
                self.reply_ret(r)
            }
            opc::PWRITE => {
                let fd = self.fd(a[0]) as i64 as u64;
                let r =
                    unsafe { syscall6(SYS_PWRITE64, fd, payload.as_ptr() as u64, payload.len() as u64, a[1], 0, 0) };
                self.reply_ret(r)
            }
            opc::PREAD => {
                let fd = self.fd(a[0]) as i64 as u64;
                let len = (a[2] as usize).min(self.io_cap);
                let r = unsafe { syscall6(SYS_PREAD64, fd, self.io_buf as u64, len as u64, a[1], 0, 0) };
                if r < 0 {
                    return self.reply_ret(r);
                }
                // SAFETY: the kernel filled r <= len bytes of io_buf.
                let v = unsafe { core::slice::from_raw_parts(self.io_buf, r as usize) };
                send_reply(self.rep_fd, tag::BYTES, &[], v)
            }
            opc::LOAD => {
                let len = a[1] as usize;
                if len > self.io_cap {
                    return self.reply_limit(3);
                }
                // SAFETY: io_buf holds io_cap >= len bytes; source faults are
                // caught by the handler (the routine returns the count).
                let done = unsafe { __mmsim_oracle_load(self.io_buf, a[0] as *const u8, len) };
                if done == len {
                    // SAFETY: the routine wrote len bytes of io_buf.
                    let v = unsafe { core::slice::from_raw_parts(self.io_buf, len) };
                    send_reply(self.rep_fd, tag::BYTES, &[], v)
                } else {
                    self.reply_signal()
                }
            }
            opc::STORE => {
                // SAFETY: destination faults are caught by the handler; the
                // source is our command buffer.
                let done = unsafe { __mmsim_oracle_store(a[0] as *mut u8, payload.as_ptr(), payload.len()) };
                if done == payload.len() { self.reply_ret(0) } else { self.reply_signal() }
            }
            opc::TOUCH => {
                let (addr, len, write) = (a[0], a[1], a[2] != 0);
                let end = addr.saturating_add(len);
                let mut p = addr;
                let mut count = 0u64;
                if len == 0 {
                    return self.reply_ret(0);
                }
                loop {
                    count += 1;
                    if count > TOUCH_MAX_PAGES {
                        return self.reply_limit(4);
                    }
                    // SAFETY: faults are caught by the handler.
                    let f = unsafe {
                        if write {
                            __mmsim_oracle_touch_write(p as *mut u8)
                        } else {
                            __mmsim_oracle_touch_read(p as *const u8)
                        }
                    };
                    if f != 0 {
                        return self.reply_signal();
                    }
                    match (p & !(PAGE_SIZE - 1)).checked_add(PAGE_SIZE) {
                        Some(next) if next < end => p = next,
                        _ => break,
                    }
                }
                self.reply_ret(0)
            }
            opc::SETRLIMIT => {
                let lim = [a[1], a[2]];
                // SAFETY: `lim` is a `struct rlimit` on our stack.
                self.reply_ret(unsafe { syscall3(SYS_SETRLIMIT, a[0], lim.as_ptr() as u64, 0) })
            }
            opc::BRK if !self.brk_home => self.reply_limit(6),
            opc::BRK => self.reply_ret(unsafe { syscall3(SYS_BRK, a[0], 0, 0) }),
            opc::FORK => self.fork(a[0] as usize),
            opc::EXIT => exit_now(0),
            opc::SETUID => self.reply_ret(unsafe { syscall3(SYS_SETUID, a[0], 0, 0) }),
            opc::SYSCALL => {
                // The sixth argument, if any, is the payload.
                let a6 = payload.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
                self.reply_ret(unsafe { syscall6(a[0] as i64, a[1], a[2], a[3], a[4], a[5], a6) })
            }
            _ => self.reply_limit(0),
        }
    }

    fn fork(&mut self, slot: usize) {
        if slot >= self.n_slots || self.slot_cmd[slot] < 0 {
            return self.reply_limit(5);
        }
        let flags = (libc::CLONE_PARENT | libc::SIGCHLD) as u64;
        // SAFETY: a raw clone without CLONE_VM is fork(): the child gets a
        // copy of this (single-threaded) process and continues here. The
        // child uses nothing from libc that the libc fork wrapper would have
        // reset (no locks, no allocation, no thread-id cache). CLONE_PARENT
        // makes the child a child of the controller, which reaps it.
        let pid = unsafe { syscall6(SYS_CLONE, flags, 0, 0, 0, 0, 0) };
        if pid == 0 {
            // SAFETY: process-local calls on our own descriptors.
            unsafe {
                syscall3(SYS_PRCTL, libc::PR_SET_PDEATHSIG as u64, libc::SIGKILL as u64, 0);
                syscall3(SYS_CLOSE, self.cmd_fd as u64, 0, 0);
                syscall3(SYS_CLOSE, self.rep_fd as u64, 0, 0);
            }
            for s in [&mut self.slot_cmd, &mut self.slot_rep] {
                for fd in s.iter_mut() {
                    if *fd == self.cmd_fd || *fd == self.rep_fd {
                        *fd = -1;
                    }
                }
            }
            self.cmd_fd = self.slot_cmd[slot];
            self.rep_fd = self.slot_rep[slot];
            // The child does not reply: it waits for its first command.
        } else {
            if pid > 0 {
                // SAFETY: closing our copies of the child's descriptors.
                unsafe {
                    syscall3(SYS_CLOSE, self.slot_cmd[slot] as u64, 0, 0);
                    syscall3(SYS_CLOSE, self.slot_rep[slot] as u64, 0, 0);
                }
                self.slot_cmd[slot] = -1;
                self.slot_rep[slot] = -1;
            }
            self.reply_ret(pid)
        }
    }
}
