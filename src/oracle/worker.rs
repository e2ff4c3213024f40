//! The worker: the child process that performs the ops for real.
//!
//! A worker runs in a process forked from the (multi-threaded) test process,
//! or cloned from another worker with a raw `clone`. It therefore must not
//! allocate, take locks or rely on libc state: it only uses raw system calls
//! ([`super::sys`]), buffers it `mmap`s itself before the range is set up,
//! and atomics shared with its signal handler. After setup it must never
//! create or remove a mapping of its own: with the gaps above the range
//! filled (see [`setup`]), an unhinted mapping of the worker would land
//! inside the range, and an unmap would open a gap that unhinted mappings of
//! the ops would then use.
//!
//! Memory accesses (Load/Store/Touch) go through small assembly routines
//! whose faulting instructions are known: the SIGSEGV/SIGBUS handler checks
//! the faulting RIP against them, records `si_signo`/`si_code`/`si_addr` in
//! atomics and resumes at a fixup label that returns a "faulted" value. Any
//! other fault restores the default action and re-faults (the worker dies,
//! which the controller reports).

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use super::op::PAGE_SIZE;
use super::sys::*;

/// Most worker processes (slots) a run can have.
pub(super) const MAX_SLOTS: usize = 32;
/// Descriptor slots of [`super::FdRef::Slot`] per process.
pub(super) const FD_SLOTS: usize = 64;
/// The worker's pipe descriptors are moved to `SLOT_FD_BASE + 2k` (command,
/// read end) and `SLOT_FD_BASE + 2k + 1` (reply, write end) for slot `k`;
/// every other inherited descriptor is closed. Descriptors below this are
/// free for the ops (`FdRef::Raw`).
pub(super) const SLOT_FD_BASE: i32 = 256;
/// Most pages a Touch may visit without faulting.
pub(super) const TOUCH_MAX_PAGES: u64 = 1 << 22;

/// Command opcodes. A command is `u32 body_len` then the body:
/// `u8 opcode`, `CMD_ARGS` little-endian `u64` arguments, payload bytes.
pub(super) mod opc {
    pub const PING: u8 = 0;
    pub const MMAP: u8 = 1;
    pub const MUNMAP: u8 = 2;
    pub const MPROTECT: u8 = 3;
    pub const MREMAP: u8 = 4;
    pub const MADVISE: u8 = 5;
    pub const MLOCK: u8 = 6;
    pub const MLOCK2: u8 = 7;
    pub const MUNLOCK: u8 = 8;
    pub const MLOCKALL: u8 = 9;
    pub const MUNLOCKALL: u8 = 10;
    pub const MSEAL: u8 = 11;
    pub const MSYNC: u8 = 12;
    pub const MINCORE: u8 = 13;
    pub const MEMFD_CREATE: u8 = 14;
    pub const FTRUNCATE: u8 = 15;
    pub const CLOSE: u8 = 16;
    pub const PWRITE: u8 = 17;
    pub const PREAD: u8 = 18;
    pub const LOAD: u8 = 19;
    pub const STORE: u8 = 20;
    pub const TOUCH: u8 = 21;
    pub const FORK: u8 = 22;
    pub const EXIT: u8 = 23;
}
pub(super) const CMD_ARGS: usize = 6;
pub(super) const CMD_HDR: usize = 1 + 8 * CMD_ARGS;

/// Reply tags. A reply is `u32 body_len` then the body: `u8 tag`, payload.
pub(super) mod tag {
    /// `i64` raw return value.
    pub const RET: u8 = 0;
    /// Raw bytes.
    pub const BYTES: u8 = 1;
    /// `i32 signo`, `i32 si_code`, `u64 si_addr`.
    pub const SIGNAL: u8 = 2;
    /// `u64` limit code: the op exceeded a limit of the oracle.
    pub const LIMIT: u8 = 3;
    /// `i64 status` (0 or -errno), `u64 stage`, `u64 fills`, `u64 unhinted_in_range`.
    pub const READY: u8 = 4;
}

/// `FdRef` encoding in a command argument: kind in the high 32 bits.
pub(super) const FD_NONE: u64 = 0;
pub(super) const FD_SLOT: u64 = 1;
pub(super) const FD_RAW: u64 = 2;

/// Setup stages (reported with a setup failure).
pub(super) const STAGE_NAMES: [&str; 10] = [
    "none",
    "moving descriptors (fcntl F_DUPFD / dup3)",
    "sigaction",
    "reserving the range (mmap MAP_FIXED_NOREPLACE)",
    "allocating worker buffers (mmap)",
    "creating the guard pages (mmap MAP_SHARED|MAP_FIXED)",
    "emptying the range (munmap)",
    "probing unhinted placement (mmap NULL)",
    "reading /proc/self/maps",
    "filling the gaps above the range (mmap MAP_FIXED_NOREPLACE)",
];

/// What the controller passes to the first worker (copied by `fork`).
#[derive(Clone, Copy)]
pub(super) struct WorkerInit {
    pub base: u64,
    pub range_len: u64,
    pub fill_above: bool,
    /// Largest Load/Store/Pread/Pwrite payload.
    pub io_cap: usize,
    pub n_slots: usize,
    /// Worker-side descriptors (command read end, reply write end) per slot,
    /// as numbered in the controller.
    pub slot_cmd_r: [i32; MAX_SLOTS],
    pub slot_rep_w: [i32; MAX_SLOTS],
}

// ---------------------------------------------------------------------------
// Fault-tolerant access routines.

core::arch::global_asm!(
    ".pushsection .text.mmsim_oracle_access,\"ax\",@progbits",
    ".p2align 4",
    // usize __mmsim_oracle_load(u8 *dst, const u8 *src, usize n):
    // copies src[0..n] to dst byte by byte; returns the number of bytes
    // copied (n unless a source byte faulted).
    ".globl __mmsim_oracle_load",
    ".hidden __mmsim_oracle_load",
    ".type __mmsim_oracle_load,@function",
    "__mmsim_oracle_load:",
    "    xor eax, eax",
    "2:",
    "    cmp rax, rdx",
    "    jae 3f",
    ".globl __mmsim_oracle_load_insn",
    ".hidden __mmsim_oracle_load_insn",
    "__mmsim_oracle_load_insn:",
    "    movzx ecx, byte ptr [rsi + rax]",
    "    mov byte ptr [rdi + rax], cl",
    "    inc rax",
    "    jmp 2b",
    "3:",
    // Fixup of load and store: return the count so far (in rax).
    ".globl __mmsim_oracle_fixup_count",
    ".hidden __mmsim_oracle_fixup_count",
    "__mmsim_oracle_fixup_count:",
    "    ret",
    ".p2align 4",
    // usize __mmsim_oracle_store(u8 *dst, const u8 *src, usize n):
    // copies src[0..n] to dst byte by byte; returns the number of bytes
    // stored (n unless a destination byte faulted).
    ".globl __mmsim_oracle_store",
    ".hidden __mmsim_oracle_store",
    ".type __mmsim_oracle_store,@function",
    "__mmsim_oracle_store:",
    "    xor eax, eax",
    "4:",
    "    cmp rax, rdx",
    "    jae 5f",
    "    movzx ecx, byte ptr [rsi + rax]",
    ".globl __mmsim_oracle_store_insn",
    ".hidden __mmsim_oracle_store_insn",
    "__mmsim_oracle_store_insn:",
    "    mov byte ptr [rdi + rax], cl",
    "    inc rax",
    "    jmp 4b",
    "5:",
    "    ret",
    ".p2align 4",
    // u64 __mmsim_oracle_touch_read(const u8 *p): reads *p; 0, or 1 on fault.
    ".globl __mmsim_oracle_touch_read",
    ".hidden __mmsim_oracle_touch_read",
    ".type __mmsim_oracle_touch_read,@function",
    "__mmsim_oracle_touch_read:",
    "    xor eax, eax",
    ".globl __mmsim_oracle_touch_read_insn",
    ".hidden __mmsim_oracle_touch_read_insn",
    "__mmsim_oracle_touch_read_insn:",
    "    movzx ecx, byte ptr [rdi]",
    "    ret",
    ".p2align 4",
    // u64 __mmsim_oracle_touch_write(u8 *p): reads *p and writes it back;
    // 0, or 1 on fault (of either access).
    ".globl __mmsim_oracle_touch_write",
    ".hidden __mmsim_oracle_touch_write",
    ".type __mmsim_oracle_touch_write,@function",
    "__mmsim_oracle_touch_write:",
    "    xor eax, eax",
    ".globl __mmsim_oracle_touch_write_insn1",
    ".hidden __mmsim_oracle_touch_write_insn1",
    "__mmsim_oracle_touch_write_insn1:",
    "    movzx ecx, byte ptr [rdi]",
    ".globl __mmsim_oracle_touch_write_insn2",
    ".hidden __mmsim_oracle_touch_write_insn2",
    "__mmsim_oracle_touch_write_insn2:",
    "    mov byte ptr [rdi], cl",
    "    ret",
    // Fixup of the touch routines: return 1.
    ".globl __mmsim_oracle_fixup_one",
    ".hidden __mmsim_oracle_fixup_one",
    "__mmsim_oracle_fixup_one:",
    "    mov eax, 1",
    "    ret",
    ".popsection",
);

unsafe extern "C" {
    fn __mmsim_oracle_load(dst: *mut u8, src: *const u8, n: usize) -> usize;
    fn __mmsim_oracle_store(dst: *mut u8, src: *const u8, n: usize) -> usize;
    fn __mmsim_oracle_touch_read(p: *const u8) -> u64;
    fn __mmsim_oracle_touch_write(p: *mut u8) -> u64;
    // Labels, not functions: only their addresses are used.
    fn __mmsim_oracle_load_insn();
    fn __mmsim_oracle_store_insn();
    fn __mmsim_oracle_touch_read_insn();
    fn __mmsim_oracle_touch_write_insn1();
    fn __mmsim_oracle_touch_write_insn2();
    fn __mmsim_oracle_fixup_count();
    fn __mmsim_oracle_fixup_one();
}

/// Last fault caught by the handler. Written only by the handler, which
/// runs synchronously on the faulting thread (the worker has one thread).
static FAULT_SIG: AtomicI32 = AtomicI32::new(0);
static FAULT_CODE: AtomicI32 = AtomicI32::new(0);
static FAULT_ADDR: AtomicU64 = AtomicU64::new(0);

/// The fixup address for a faulting instruction at `rip`, if it is one of
/// the access routines' instructions.
fn fixup_for(rip: usize) -> Option<usize> {
    let count = __mmsim_oracle_fixup_count as *const () as usize;
    let one = __mmsim_oracle_fixup_one as *const () as usize;
    if rip == __mmsim_oracle_load_insn as *const () as usize || rip == __mmsim_oracle_store_insn as *const () as usize {
        Some(count)
    } else if rip == __mmsim_oracle_touch_read_insn as *const () as usize
        || rip == __mmsim_oracle_touch_write_insn1 as *const () as usize
        || rip == __mmsim_oracle_touch_write_insn2 as *const () as usize
    {
        Some(one)
    } else {
        None
    }
}

/// SIGSEGV/SIGBUS handler (SA_SIGINFO). Async-signal-safe: atomics, reads
/// and writes of the signal frame, and `sigaction`.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: for an SA_SIGINFO handler the kernel passes a valid siginfo
    // and a valid ucontext on the (writable) signal frame; changing the
    // saved RIP makes sigreturn resume at the fixup label, which is a valid
    // continuation of the access routine (it only returns with rax set).
    unsafe {
        let uc = ctx.cast::<libc::ucontext_t>();
        let rip_slot = &raw mut (*uc).uc_mcontext.gregs[libc::REG_RIP as usize];
        let rip = *rip_slot as usize;
        match fixup_for(rip) {
            Some(fixup) => {
                FAULT_SIG.store(sig, Ordering::SeqCst);
                FAULT_CODE.store((*info).si_code, Ordering::SeqCst);
                FAULT_ADDR.store((*info).si_addr() as u64, Ordering::SeqCst);
                *rip_slot = fixup as i64;
            }
            None => {
                // Not one of ours: restore the default action; returning
                // re-executes the faulting instruction, which kills us.
                let mut sa: libc::sigaction = core::mem::zeroed();
                sa.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &sa, core::ptr::null_mut());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Small raw-syscall helpers.

fn exit_now(code: i32) -> ! {
    loop {
        // SAFETY: exit_group does not return.
        unsafe {
            syscall3(SYS_EXIT_GROUP, code as u64, 0, 0);
        }
    }
}

/// Write all of `buf` to `fd`; false on error (the controller is gone).
fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable slice.
        let r = unsafe { syscall3(SYS_WRITE, fd as u64, buf.as_ptr() as u64, buf.len() as u64) };
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r <= 0 {
            return false;
        }
        buf = &buf[r as usize..];
    }
    true
}

/// Fill `buf` from `fd`; false on EOF or error.
fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: `rest` is a valid writable slice.
        let r = unsafe { syscall3(SYS_READ, fd as u64, rest.as_mut_ptr() as u64, rest.len() as u64) };
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r <= 0 {
            return false;
        }
        done += r as usize;
    }
    true
}

fn anon_map(len: usize, prot: i32) -> i64 {
    // SAFETY: a new private anonymous mapping at a kernel-chosen address
    // does not affect any existing memory.
    unsafe {
        syscall6(
            SYS_MMAP,
            0,
            len as u64,
            prot as u64,
            (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE) as u64,
            u64::MAX,
            0,
        )
    }
}

fn send_reply(fd: i32, tag: u8, head: &[u8], payload: &[u8]) {
    let len = 1 + head.len() + payload.len();
    let mut hdr = [0u8; 5 + 32];
    hdr[..4].copy_from_slice(&(len as u32).to_le_bytes());
    hdr[4] = tag;
    let hl = head.len().min(32);
    hdr[5..5 + hl].copy_from_slice(&head[..hl]);
    if !write_all(fd, &hdr[..5 + hl]) || !write_all(fd, payload) {
        exit_now(0);
    }
}

// ---------------------------------------------------------------------------
// Setup.

struct Worker {
    cmd_fd: i32,
    rep_fd: i32,
    n_slots: usize,
    /// Worker-side descriptors of each slot in this process (-1 = closed).
    slot_cmd: [i32; MAX_SLOTS],
    slot_rep: [i32; MAX_SLOTS],
    /// `FdRef::Slot` table.
    fds: [i32; FD_SLOTS],
    cmd_buf: *mut u8,
    cmd_cap: usize,
    io_buf: *mut u8,
    io_cap: usize,
    vec_buf: *mut u8,
    vec_cap: usize,
}

struct SetupError {
    stage: u64,
    ret: i64,
}

fn check(stage: u64, ret: i64) -> Result<i64, SetupError> {
    if ret < 0 { Err(SetupError { stage, ret }) } else { Ok(ret) }
}

/// Move the slot descriptors to fixed numbers and close everything else.
fn arrange_fds(init: &WorkerInit) -> Result<(), SetupError> {
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

fn install_handlers() -> Result<(), SetupError> {
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
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
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
fn maps_range(line: &[u8]) -> Option<(u64, u64)> {
    let hex = |s: &[u8]| -> Option<u64> { u64::from_str_radix(core::str::from_utf8(s).ok()?, 16).ok() };
    let dash = line.iter().take(20).position(|&c| c == b'-')?;
    let rest = &line[dash + 1..];
    let space = rest.iter().take(20).position(|&c| c == b' ')?;
    Some((hex(&line[..dash])?, hex(&rest[..space])?))
}

/// The gaps between the VMAs listed in `buf` (the text of
/// `/proc/self/maps`, in address order) that lie within `[from, to)`.
fn for_each_gap(
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
fn gap_end(buf: &[u8], addr: u64) -> u64 {
    lines(buf).filter_map(maps_range).map(|(s, _)| s).find(|&s| s > addr).unwrap_or(0x7fff_ffff_f000) // TASK_SIZE with 4-level paging
}

fn read_self_maps(buf: &mut [u8]) -> Result<usize, SetupError> {
    let path = b"/proc/self/maps\0";
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
fn setup(init: &WorkerInit) -> Result<(Worker, u64, bool), SetupError> {
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
    };
    Ok((w, fills, in_range))
}

/// Entry point of the first worker, called in the child right after `fork`.
/// Never returns. `extern "C"` so that a panic aborts instead of unwinding
/// into the test harness's frames.
pub(super) extern "C" fn worker_main(init: &WorkerInit) -> ! {
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

// ---------------------------------------------------------------------------
// Serving commands.

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

    fn serve(&mut self) -> ! {
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
                let name = b"mmsim\0";
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
            opc::FORK => self.fork(a[0] as usize),
            opc::EXIT => exit_now(0),
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
