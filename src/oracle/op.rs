//! The operations of a differential test and their results.
//!
//! Everything here is plain data (serde-serializable) so that the same
//! sequence can be run on the real kernel ([`super::host`]) and in the model,
//! and the two transcripts compared field by field.
//!
//! Values are deliberately raw (`u64` lengths, `i32` flags, ...) so that
//! invalid arguments (unaligned, huge, unknown flag bits) can be expressed:
//! error paths are part of what is compared.

use serde::{Deserialize, Serialize};

/// Size of a base page on the targeted machine (x86-64).
pub const PAGE_SIZE: u64 = 4096;

/// An address as given to an operation.
///
/// `Off(o)` is an offset into the reserved range (`base + o`, wrapping: an
/// offset may lie outside the range to test errors); `Abs(a)` is a raw
/// address (e.g. `0` for "no hint", `0xffff_ffff_ffff_f000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Addr {
    /// Offset into the reserved range: the address is `base.wrapping_add(o)`.
    Off(u64),
    /// Absolute address, used as is.
    Abs(u64),
}

impl Addr {
    /// The null address (`Abs(0)`): "no hint" for `mmap`.
    pub const NULL: Addr = Addr::Abs(0);

    /// The absolute address for a range starting at `base`.
    pub fn resolve(self, base: u64) -> u64 {
        match self {
            Addr::Off(o) => base.wrapping_add(o),
            Addr::Abs(a) => a,
        }
    }

    /// Express an absolute address relative to the range `[base, base+len)`:
    /// `Off` when it lies inside, `Abs` otherwise. This is how addresses are
    /// reported (e.g. a fault address) so that they compare across runs.
    pub fn classify(abs: u64, base: u64, len: u64) -> Addr {
        if abs >= base && abs - base < len { Addr::Off(abs - base) } else { Addr::Abs(abs) }
    }
}

/// A file descriptor argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FdRef {
    /// `-1` (anonymous mappings).
    None,
    /// The descriptor stored in the process's slot `i` by
    /// [`Op::MemfdCreate`]. An empty (or closed) slot passes `-1`.
    Slot(u32),
    /// A raw descriptor number, passed as is (to test `EBADF`, ...).
    Raw(i32),
}

/// One memory-management operation, addressed to process `p` (0 = the first
/// worker; each successful [`Op::Fork`] adds the next index).
///
/// System-call ops return [`OpResult::Ret`] with the raw kernel return value
/// (an address for `mmap`/`mremap`, `0`, or `-errno`). Addresses returned by
/// the kernel are absolute: the model places its range at the same `base`
/// (see [`super::Transcript::base`]) so they compare as is.
///
/// `brk` acts on a break that both sides place inside the range (see
/// [`BRK_OFF`]): the worker moves its own there at setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// `mmap(addr, len, prot, flags, fd, off)`.
    Mmap { p: usize, addr: Addr, len: u64, prot: i32, flags: i32, fd: FdRef, off: u64 },
    /// `munmap(addr, len)`.
    Munmap { p: usize, addr: Addr, len: u64 },
    /// `mprotect(addr, len, prot)`.
    Mprotect { p: usize, addr: Addr, len: u64, prot: i32 },
    /// `mremap(old, old_len, new_len, flags, new_addr)`.
    Mremap { p: usize, old: Addr, old_len: u64, new_len: u64, flags: i32, new_addr: Addr },
    /// `madvise(addr, len, advice)`.
    Madvise { p: usize, addr: Addr, len: u64, advice: i32 },
    /// `mlock(addr, len)`.
    Mlock { p: usize, addr: Addr, len: u64 },
    /// `mlock2(addr, len, flags)`.
    Mlock2 { p: usize, addr: Addr, len: u64, flags: u32 },
    /// `munlock(addr, len)`.
    Munlock { p: usize, addr: Addr, len: u64 },
    /// `mlockall(flags)`. Note: on the host this locks the whole worker
    /// (its code, stack, buffers), not only the range.
    Mlockall { p: usize, flags: i32 },
    /// `munlockall()`.
    Munlockall { p: usize },
    /// `mseal(addr, len, flags)` (Linux 6.10+).
    Mseal { p: usize, addr: Addr, len: u64, flags: u64 },
    /// `msync(addr, len, flags)`.
    Msync { p: usize, addr: Addr, len: u64, flags: i32 },
    /// `mincore(addr, len, vec)`: [`OpResult::Bytes`] with the vector on
    /// success, else `Ret(-errno)`.
    Mincore { p: usize, addr: Addr, len: u64 },
    /// `memfd_create("mmsim", flags)`; the descriptor is stored in `slot`
    /// (replacing, without closing, what was there). Returns `Ret(0)` on
    /// success (descriptor numbers are not comparable), else `Ret(-errno)`.
    /// The mapping's path in maps is `/memfd:mmsim (deleted)`.
    MemfdCreate { p: usize, slot: u32, flags: u32 },
    /// `ftruncate(fd, len)` (`len` is passed as the raw 64-bit value).
    Ftruncate { p: usize, fd: FdRef, len: u64 },
    /// `close(fd)`; a `Slot` is emptied whatever the result.
    Close { p: usize, fd: FdRef },
    /// `pwrite(fd, bytes, off)`: `Ret(bytes written)` or `Ret(-errno)`.
    Pwrite { p: usize, fd: FdRef, off: u64, bytes: Vec<u8> },
    /// `pread(fd, len, off)`: `Bytes(read)` or `Ret(-errno)`.
    Pread { p: usize, fd: FdRef, off: u64, len: u64 },
    /// Read `len` bytes from user memory, byte by byte in increasing address
    /// order: `Bytes` or, at the first faulting byte, `Signal`.
    Load { p: usize, addr: Addr, len: u64 },
    /// Write `bytes` at `addr`, byte by byte in increasing address order:
    /// `Ret(0)` or, at the first faulting byte, `Signal`.
    Store { p: usize, addr: Addr, bytes: Vec<u8> },
    /// One access per page: at `addr`, then at the start of each following
    /// page below `addr + len`. A read access reads one byte; a write access
    /// reads the byte then writes it back (content unchanged; this is a read
    /// fault followed by a write fault on a not-yet-present page). `Ret(0)`
    /// or `Signal` at the first fault.
    Touch { p: usize, addr: Addr, len: u64, write: bool },
    /// The process forks (raw `clone(SIGCHLD)`, i.e. `fork()` without the
    /// libc wrapper). The child becomes worker index N (the number of workers
    /// created so far); the result is `Ret(N)`, or `Ret(-errno)`.
    Fork { p: usize },
    /// The process exits (`exit_group(0)`); its index becomes dead.
    /// Result `Ret(exit status)`.
    Exit { p: usize },
    /// `setrlimit(resource, {cur, max})`: `Ret(0)` or `Ret(-errno)`. The
    /// limits may be given relative to what the process uses at that
    /// moment ([`Lim::Used`]): the worker's address space holds the test
    /// process's own mappings, which the model does not have.
    Setrlimit { p: usize, resource: u32, cur: Lim, max: Lim },
    /// `brk(addr)`: `Ret(the new break)` (the old one on failure). The
    /// break starts at `base + BRK_OFF` on both sides ([`BRK_OFF`]).
    Brk { p: usize, addr: Addr },
    /// `setuid(uid)` (kernel/sys.c `__sys_setuid`): `Ret(0)` or
    /// `Ret(-errno)`. From root this drops every capability the mm checks
    /// (`CAP_IPC_LOCK` for mlock beyond `RLIMIT_MEMLOCK`).
    Setuid { p: usize, uid: u32 },
    /// Record a snapshot of every live process (see
    /// [`super::SnapshotMode::Explicit`]). Result `Ret(0)`.
    Snapshot,
}

/// Where the program break starts, as an offset into the range: the worker
/// moves its own break there at setup (`prctl(PR_SET_MM, PR_SET_MM_MAP)`,
/// which also makes the data segment `end_data - start_data` empty for
/// `check_data_rlimit`), and the model's
/// process is created with it there. 32 pages up: above the low window of
/// the generator, so that only ops aimed at the heap meet it.
pub const BRK_OFF: u64 = 32 * PAGE_SIZE;

/// `RLIMIT_AS`, `RLIMIT_DATA`, `RLIMIT_MEMLOCK` (include/uapi/asm-generic/resource.h).
pub const RLIMIT_DATA: u32 = 2;
pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIMIT_AS: u32 = 9;

/// A limit of [`Op::Setrlimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lim {
    /// `RLIM_INFINITY`.
    Inf,
    /// This many bytes.
    Abs(u64),
    /// What the process uses of the resource now, in bytes, plus `d`
    /// pages (saturating at 0): `total_vm` for `RLIMIT_AS`, `data_vm` for
    /// `RLIMIT_DATA`, `locked_vm` for `RLIMIT_MEMLOCK` (`/proc/PID/status`
    /// `VmSize`, `VmData`, `VmLck`), 0 for any other resource.
    Used(i64),
}

impl Lim {
    /// A raw `rlim_t` value (`u64::MAX` is `RLIM_INFINITY`).
    pub fn raw(v: u64) -> Lim {
        if v == u64::MAX { Lim::Inf } else { Lim::Abs(v) }
    }

    /// The raw value, given the process's use of the resource in pages.
    pub fn resolve(self, used_pages: u64) -> u64 {
        match self {
            Lim::Inf => u64::MAX,
            Lim::Abs(v) => v,
            Lim::Used(d) => used_pages.saturating_add_signed(d).saturating_mul(PAGE_SIZE),
        }
    }
}

/// `match` on an op's process index: `$p` binds it in every variant but
/// `Snapshot`, which gives `$none`.
macro_rules! match_p {
    ($op:expr, $p:ident => $some:expr, $none:expr) => {
        match $op {
            Op::Mmap { $p, .. }
            | Op::Munmap { $p, .. }
            | Op::Mprotect { $p, .. }
            | Op::Mremap { $p, .. }
            | Op::Madvise { $p, .. }
            | Op::Mlock { $p, .. }
            | Op::Mlock2 { $p, .. }
            | Op::Munlock { $p, .. }
            | Op::Mlockall { $p, .. }
            | Op::Munlockall { $p, .. }
            | Op::Mseal { $p, .. }
            | Op::Msync { $p, .. }
            | Op::Mincore { $p, .. }
            | Op::MemfdCreate { $p, .. }
            | Op::Ftruncate { $p, .. }
            | Op::Close { $p, .. }
            | Op::Pwrite { $p, .. }
            | Op::Pread { $p, .. }
            | Op::Load { $p, .. }
            | Op::Store { $p, .. }
            | Op::Touch { $p, .. }
            | Op::Fork { $p, .. }
            | Op::Setrlimit { $p, .. }
            | Op::Brk { $p, .. }
            | Op::Setuid { $p, .. }
            | Op::Exit { $p, .. } => $some,
            Op::Snapshot => $none,
        }
    };
}

impl Op {
    /// The process index this op is addressed to, for changing it.
    pub fn p_mut(&mut self) -> Option<&mut usize> {
        match_p!(self, p => Some(p), None)
    }

    /// The process this op is addressed to (`None` for [`Op::Snapshot`]).
    pub fn p(&self) -> Option<usize> {
        match_p!(*self, p => Some(p), None)
    }

    /// Short name of the operation (for messages).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Mprotect { .. } => "mprotect",
            Op::Mremap { .. } => "mremap",
            Op::Madvise { .. } => "madvise",
            Op::Mlock { .. } => "mlock",
            Op::Mlock2 { .. } => "mlock2",
            Op::Munlock { .. } => "munlock",
            Op::Mlockall { .. } => "mlockall",
            Op::Munlockall { .. } => "munlockall",
            Op::Mseal { .. } => "mseal",
            Op::Msync { .. } => "msync",
            Op::Mincore { .. } => "mincore",
            Op::MemfdCreate { .. } => "memfd_create",
            Op::Ftruncate { .. } => "ftruncate",
            Op::Close { .. } => "close",
            Op::Pwrite { .. } => "pwrite",
            Op::Pread { .. } => "pread",
            Op::Load { .. } => "load",
            Op::Store { .. } => "store",
            Op::Touch { .. } => "touch",
            Op::Fork { .. } => "fork",
            Op::Exit { .. } => "exit",
            Op::Setrlimit { .. } => "setrlimit",
            Op::Brk { .. } => "brk",
            Op::Setuid { .. } => "setuid",
            Op::Snapshot => "snapshot",
        }
    }
}

/// The observable result of one [`Op`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// Raw return value: non-negative result or `-errno`.
    Ret(i64),
    /// Data returned by `Load`, `Pread`, `Mincore`.
    Bytes(Vec<u8>),
    /// A memory access raised a signal (`SIGSEGV`/`SIGBUS`), with the
    /// kernel's `si_code` (`SEGV_MAPERR` 1, `SEGV_ACCERR` 2, `BUS_ADRERR` 2,
    /// `SI_KERNEL` 0x80 for a general protection fault, ...) and the faulting
    /// address (`si_addr`), as an offset when inside the range.
    Signal { sig: i32, code: i32, addr: Addr },
}

impl OpResult {
    /// `Some(v)` for `Ret(v)`.
    pub fn ret(&self) -> Option<i64> {
        match *self {
            OpResult::Ret(v) => Some(v),
            _ => None,
        }
    }
}
