//! Worker setup: descriptors, signal handlers, and filling the gaps above
//! the range so that no mapping of the worker lands inside it.

use super::*;

pub(super) struct Worker {
    pub(super) cmd_fd: i32,
    pub(super) rep_fd: i32,
    pub(super) n_slots: usize,
    /// Worker-side descriptors of each slot in this process (-1 = closed).
    pub(super) slot_cmd: [i32; MAX_SLOTS],
    pub(super) slot_rep: [i32; MAX_SLOTS],
    /// `FdRef::Slot` table.
    pub(super) fds: [i32; FD_SLOTS],
    pub(super) cmd_buf: *mut u8,
    pub(super) cmd_cap: usize,
    pub(super) io_buf: *mut u8,
    pub(super) io_cap: usize,
    pub(super) vec_buf: *mut u8,
    pub(super) vec_cap: usize,
    /// The break was moved into the range ([`super::super::op::BRK_OFF`]).
    pub(super) brk_home: bool,
}

pub(super) struct SetupError {
    pub(super) stage: u64,
    pub(super) ret: i64,
}

pub(super) fn check(stage: u64, ret: i64) -> Result<i64, SetupError> {
    if ret < 0 { Err(SetupError { stage, ret }) } else { Ok(ret) }
}

/// Move the slot descriptors to fixed numbers and close everything else.
pub(super) fn arrange_fds(init: &WorkerInit) -> Result<(), SetupError> {
    const TEMP_MIN: u64 = 512;
    let mut temp_cmd = [-1i64; MAX_SLOTS];
    let mut temp_rep = [-1i64; MAX_SLOTS];
    for k in 0..init.n_slots {
        // SAFETY: fcntl(F_DUPFD) only creates a descriptor.
        unsafe {
            temp_cmd[k] = check(1, syscall3(72, init.slot_cmd_r[k] as u64, libc::F_DUPFD as u64, TEMP_MIN))?;
            temp_rep[k] = check(1, syscall3(72, init.slot_rep_w[k] as u64, libc::F_DUPFD as u64, TEMP_MIN))?;
        }
    }
    // SAFETY: closing descriptors affects only this process's descriptor
    // table; the ones we need were duplicated above TEMP_MIN.
    unsafe {
        check(1, syscall3(SYS_CLOSE_RANGE, 0, TEMP_MIN - 1, 0))?;
    }
    for k in 0..init.n_slots {
        let c = SLOT_FD_BASE as u64 + 2 * k as u64;
        // SAFETY: dup3 onto a free descriptor number.
        unsafe {
            check(1, syscall3(292, temp_cmd[k] as u64, c, 0))?;
            check(1, syscall3(292, temp_rep[k] as u64, c + 1, 0))?;
        }
    }
    // SAFETY: closes the temporaries (and any other inherited descriptor).
    unsafe {
        check(1, syscall3(SYS_CLOSE_RANGE, TEMP_MIN, u32::MAX as u64, 0))?;
    }
    Ok(())
}

pub(super) fn install_handlers() -> Result<(), SetupError> {
    // SAFETY: plain libc signal calls with valid pointers; the handler is
    // async-signal-safe (see `on_fault`).
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_fault as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut set: libc::sigset_t = core::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            if libc::sigaction(sig, &sa, core::ptr::null_mut()) != 0 {
                return Err(SetupError { stage: 2, ret: -1 });
            }
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, core::ptr::null_mut());
    }
    Ok(())
}

/// The lines of `buf` (found with libc's `memchr`: cheap even in an
/// unoptimised build; it is async-signal-safe in practice and allocates
/// nothing).
pub(super) fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = buf;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // SAFETY: `rest` is a live slice.
        let p = unsafe { libc::memchr(rest.as_ptr().cast(), b'\n' as i32, rest.len()) };
        let n = if p.is_null() { rest.len() } else { p as usize - rest.as_ptr() as usize };
        let line = &rest[..n];
        rest = &rest[(n + 1).min(rest.len())..];
        Some(line)
    })
}

/// The `start-end` of a `/proc/self/maps` line.
pub(super) fn maps_range(line: &[u8]) -> Option<(u64, u64)> {
    let hex = |s: &[u8]| -> Option<u64> { u64::from_str_radix(core::str::from_utf8(s).ok()?, 16).ok() };
    let dash = line.iter().take(20).position(|&c| c == b'-')?;
    let rest = &line[dash + 1..];
    let space = rest.iter().take(20).position(|&c| c == b' ')?;
    Some((hex(&line[..dash])?, hex(&rest[..space])?))
}

/// The gaps between the VMAs listed in `buf` (the text of
/// `/proc/self/maps`, in address order) that lie within `[from, to)`.
pub(super) fn for_each_gap(
    buf: &[u8],
    from: u64,
    to: u64,
    mut f: impl FnMut(u64, u64) -> Result<(), SetupError>,
) -> Result<(), SetupError> {
    let mut prev_end = 0u64;
    for line in lines(buf) {
        let Some((s, e)) = maps_range(line) else {
            continue;
        };
        let (lo, hi) = (prev_end.max(from), s.min(to));
        if lo < hi {
            f(lo, hi)?;
        }
        prev_end = prev_end.max(e);
    }
    Ok(())
}

/// The end of the gap containing `addr` (the start of the first VMA above).
pub(super) fn gap_end(buf: &[u8], addr: u64) -> u64 {
    lines(buf).filter_map(maps_range).map(|(s, _)| s).find(|&s| s > addr).unwrap_or(0x7fff_ffff_f000) // TASK_SIZE with 4-level paging
}

pub(super) fn read_self_maps(buf: &mut [u8]) -> Result<usize, SetupError> {
    read_self_file(b"/proc/self/maps\0", buf)
}

/// Read a whole /proc file (`path` NUL-terminated) into `buf`.
fn read_self_file(path: &[u8], buf: &mut [u8]) -> Result<usize, SetupError> {
    // SAFETY: path is NUL-terminated.
    let fd = check(8, unsafe {
        syscall3(SYS_OPEN, path.as_ptr() as u64, libc::O_RDONLY as u64 | libc::O_CLOEXEC as u64, 0)
    })?;
    let mut n = 0;
    loop {
        if n == buf.len() {
            // SAFETY: closing our own descriptor.
            unsafe { syscall3(SYS_CLOSE, fd as u64, 0, 0) };
            return Err(SetupError { stage: 8, ret: -(libc::E2BIG as i64) });
        }
        let rest = &mut buf[n..];
        // SAFETY: `rest` is writable.
        let r = unsafe { syscall3(SYS_READ, fd as u64, rest.as_mut_ptr() as u64, rest.len() as u64) };
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r < 0 {
            // SAFETY: closing our own descriptor.
            unsafe { syscall3(SYS_CLOSE, fd as u64, 0, 0) };
            return Err(SetupError { stage: 8, ret: r });
        }
        if r == 0 {
            break;
        }
        n += r as usize;
    }
    // SAFETY: closing our own descriptor.
    unsafe { syscall3(SYS_CLOSE, fd as u64, 0, 0) };
    Ok(n)
}

/// Set the process up: descriptors, signal handlers, buffers, and the
/// reserved range (empty, with a one-page non-mergeable guard each side:
/// `MAP_SHARED|MAP_ANONYMOUS`, `PROT_NONE`). Then, if asked, fill every gap
/// between the range and `mm->mmap_base` with `PROT_NONE` reservations, so
/// that the top-down allocator's highest free gap is the top of the range:
/// we probe with `mmap(NULL, 4096)`; while the probe lands above the range
/// we map the whole gap it landed in. Returns the worker, the number of
/// gaps filled and whether the probe finally landed at the top of the range.
pub(super) fn setup(init: &WorkerInit) -> Result<(Worker, u64, bool), SetupError> {
    // SAFETY: prctl/setrlimit affect only this process.
    unsafe {
        syscall3(SYS_PRCTL, libc::PR_SET_PDEATHSIG as u64, libc::SIGKILL as u64, 0);
        let no_core = [0u64; 2];
        syscall3(SYS_SETRLIMIT, libc::RLIMIT_CORE as u64, no_core.as_ptr() as u64, 0);
    }
    arrange_fds(init)?;
    install_handlers()?;

    let base = init.base;
    let len = init.range_len;
    let ps = PAGE_SIZE;
    let none = libc::PROT_NONE as u64;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let priv_anon = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as u64;

    // Reserve the range and its guards, failing if anything is there.
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let r = unsafe {
        syscall6(SYS_MMAP, base - ps, len + 2 * ps, none, priv_anon | libc::MAP_FIXED_NOREPLACE as u64, u64::MAX, 0)
    };
    check(3, r)?;
    if r as u64 != base - ps {
        return Err(SetupError { stage: 3, ret: -(libc::EEXIST as i64) });
    }

    // Buffers (outside the range: it is reserved).
    let cmd_cap = init.io_cap + CMD_HDR + 64;
    let io_cap = init.io_cap.max(4 << 20);
    let vec_cap = ((len / ps + 2) as usize + 4096).next_multiple_of(ps as usize);
    let cmd_buf = check(4, anon_map(cmd_cap, rw))? as *mut u8;
    let io_buf = check(4, anon_map(io_cap, rw))? as *mut u8;
    let vec_buf = check(4, anon_map(vec_cap + ps as usize, rw))? as *mut u8;
    // A PROT_NONE page after the mincore vector: a vector longer than
    // `vec_cap` makes mincore fail with EFAULT instead of overwriting memory.
    // SAFETY: our own fresh mapping.
    check(4, unsafe { syscall3(SYS_MPROTECT, vec_buf as u64 + vec_cap as u64, ps, none) })?;

    // Guards, then empty the range.
    let shared_anon = (libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_FIXED) as u64;
    for g in [base - ps, base + len] {
        // SAFETY: replaces a page of our own reservation.
        let r = check(5, unsafe { syscall6(SYS_MMAP, g, ps, none, shared_anon, u64::MAX, 0) })?;
        if r as u64 != g {
            return Err(SetupError { stage: 5, ret: -(libc::EINVAL as i64) });
        }
    }
    // SAFETY: unmaps our own reservation.
    check(6, unsafe { syscall3(SYS_MUNMAP, base, len, 0) })?;
    // SAFETY: io_buf is a fresh private mapping of io_cap bytes, used only
    // through this slice here.
    let brk_home =
        move_brk(unsafe { core::slice::from_raw_parts_mut(io_buf, io_cap) }, base + crate::oracle::op::BRK_OFF);

    // SAFETY: io_buf is a fresh private mapping of io_cap bytes, used only
    // through this slice during setup.
    let maps_buf = unsafe { core::slice::from_raw_parts_mut(io_buf, io_cap) };
    let top = base + len - ps;
    let mut fills = 0u64;
    let mut in_range = false;
    // The probe lands at the top of the highest free gap below mmap_base;
    // filling that gap and every gap between it and the range leaves no
    // free gap below mmap_base above the range, so the second probe lands
    // at the top of the range. A few rounds in case something changes.
    for _ in 0..8 {
        let p = check(7, anon_map(ps as usize, libc::PROT_NONE))? as u64;
        // SAFETY: unmaps the probe we just created.
        unsafe { syscall3(SYS_MUNMAP, p, ps, 0) };
        if p == top {
            in_range = true;
            break;
        }
        if p < base + len || !init.fill_above {
            break;
        }
        let n = read_self_maps(maps_buf)?;
        let maps = &maps_buf[..n];
        for_each_gap(maps, base + len + ps, gap_end(maps, p), |lo, hi| {
            // SAFETY: maps exactly a gap (NOREPLACE: fails rather than
            // replace anything).
            let r = unsafe {
                syscall6(SYS_MMAP, lo, hi - lo, none, priv_anon | libc::MAP_FIXED_NOREPLACE as u64, u64::MAX, 0)
            };
            check(9, r)?;
            fills += 1;
            Ok(())
        })?;
    }

    let mut slot_cmd = [-1i32; MAX_SLOTS];
    let mut slot_rep = [-1i32; MAX_SLOTS];
    for k in 0..init.n_slots {
        slot_cmd[k] = SLOT_FD_BASE + 2 * k as i32;
        slot_rep[k] = SLOT_FD_BASE + 2 * k as i32 + 1;
    }
    let w = Worker {
        cmd_fd: slot_cmd[0],
        rep_fd: slot_rep[0],
        n_slots: init.n_slots,
        slot_cmd,
        slot_rep,
        fds: [-1; FD_SLOTS],
        cmd_buf,
        cmd_cap,
        io_buf,
        io_cap: init.io_cap,
        vec_buf,
        vec_cap,
        brk_home,
    };
    Ok((w, fills, in_range))
}

/// Move the program break (and an empty data segment) to `at`, in the
/// range, with `prctl(PR_SET_MM, PR_SET_MM_MAP)` (kernel/sys.c
/// `prctl_set_mm_map`: no CAP_SYS_RESOURCE needed, unlike the single
/// `PR_SET_MM_*` options; CONFIG_CHECKPOINT_RESTORE). The other fields
/// are the process's own, read from /proc/self/stat (fs/proc/array.c
/// `do_task_stat`: fields 26-28 and 45-51). Afterwards `brk(2)` works from
/// `at` with `check_data_rlimit` counting `brk - start_brk` only, as the
/// model's process does. False when it fails.
fn move_brk(buf: &mut [u8], at: u64) -> bool {
    const PR_SET_MM: u64 = 35;
    const PR_SET_MM_MAP: u64 = 14;
    let Ok(n) = read_self_file(b"/proc/self/stat\0", buf) else { return false };
    let text = &buf[..n];
    let Some(close) = text.iter().rposition(|&c| c == b')') else { return false };
    // Field k (1-based, proc(5)) is token k - 3 after the command name.
    let mut f = [0u64; 52];
    for (i, tok) in text[close + 1..].split(|&c| c == b' ' || c == b'\n').filter(|t| !t.is_empty()).enumerate() {
        if i + 3 >= f.len() {
            break;
        }
        let mut v = 0u64;
        for &c in tok {
            if !c.is_ascii_digit() {
                v = 0;
                break;
            }
            v = v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        }
        f[i + 3] = v;
    }
    // struct prctl_mm_map (include/uapi/linux/prctl.h): start_code,
    // end_code, start_data, end_data, start_brk, brk, start_stack,
    // arg_start, arg_end, env_start, env_end, auxv, auxv_size | exe_fd.
    let map: [u64; 13] = [f[26], f[27], at, at, at, at, f[28], f[48], f[49], f[50], f[51], 0, 0xffff_ffff << 32];
    // SAFETY: `map` is a struct prctl_mm_map on our stack; the call changes
    // only this process's mm bookkeeping.
    unsafe { syscall6(SYS_PRCTL, PR_SET_MM, PR_SET_MM_MAP, map.as_ptr() as u64, 104, 0, 0) == 0 }
}

/// Entry point of the first worker, called in the child right after `fork`.
/// Never returns. `extern "C"` so that a panic aborts instead of unwinding
/// into the test harness's frames.
pub(in crate::oracle) extern "C" fn worker_main(init: &WorkerInit) -> ! {
    let rep0 = init.slot_rep_w[0];
    match setup(init) {
        Ok((mut w, fills, in_range)) => {
            let mut head = [0u8; 32];
            head[8..16].copy_from_slice(&0u64.to_le_bytes());
            head[16..24].copy_from_slice(&fills.to_le_bytes());
            head[24..32].copy_from_slice(&(in_range as u64).to_le_bytes());
            send_reply(w.rep_fd, tag::READY, &head, &[]);
            w.serve()
        }
        Err(e) => {
            // The descriptors may or may not have been moved yet.
            let mut head = [0u8; 32];
            head[..8].copy_from_slice(&e.ret.to_le_bytes());
            head[8..16].copy_from_slice(&e.stage.to_le_bytes());
            let fd = if e.stage > 1 { SLOT_FD_BASE + 1 } else { rep0 };
            send_reply(fd, tag::READY, &head, &[]);
            exit_now(111)
        }
    }
}
