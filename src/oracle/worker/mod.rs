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

mod serve;
mod setup;
pub(super) use setup::worker_main;
use setup::*;

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
    pub const SETRLIMIT: u8 = 24;
    pub const BRK: u8 = 25;
    pub const SETUID: u8 = 26;
    /// A raw system call: `a[0]` the number, `a[1..6]` the first five
    /// arguments, the payload (8 bytes) the sixth.
    pub const SYSCALL: u8 = 27;
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
