//! Raw x86-64 Linux system calls (no libc wrapper, no `errno`): each returns
//! the kernel's raw value, `-errno` on failure. Used by the worker, which
//! must neither allocate nor depend on libc state after a raw `clone`, and
//! which wants the kernel's own argument checking (glibc's `mmap` wrapper,
//! for example, checks the offset itself).

use core::arch::asm;

pub const SYS_READ: i64 = 0;
pub const SYS_WRITE: i64 = 1;
pub const SYS_OPEN: i64 = 2;
pub const SYS_CLOSE: i64 = 3;
pub const SYS_MMAP: i64 = 9;
pub const SYS_BRK: i64 = 12;
pub const SYS_MPROTECT: i64 = 10;
pub const SYS_MUNMAP: i64 = 11;
pub const SYS_PREAD64: i64 = 17;
pub const SYS_PWRITE64: i64 = 18;
pub const SYS_MREMAP: i64 = 25;
pub const SYS_MSYNC: i64 = 26;
pub const SYS_MINCORE: i64 = 27;
pub const SYS_MADVISE: i64 = 28;
pub const SYS_CLONE: i64 = 56;
pub const SYS_FTRUNCATE: i64 = 77;
pub const SYS_SETRLIMIT: i64 = 160;
pub const SYS_SETUID: i64 = 105;
pub const SYS_MLOCK: i64 = 149;
pub const SYS_MUNLOCK: i64 = 150;
pub const SYS_MLOCKALL: i64 = 151;
pub const SYS_MUNLOCKALL: i64 = 152;
pub const SYS_PRCTL: i64 = 157;
pub const SYS_EXIT_GROUP: i64 = 231;
pub const SYS_WAITID: i64 = 247;
pub const SYS_MEMFD_CREATE: i64 = 319;
pub const SYS_MLOCK2: i64 = 325;
pub const SYS_PIDFD_SEND_SIGNAL: i64 = 424;
pub const SYS_PIDFD_OPEN: i64 = 434;
pub const SYS_CLOSE_RANGE: i64 = 436;
pub const SYS_MSEAL: i64 = 462;

/// `waitid` id type for a pidfd.
pub const P_PIDFD: u64 = 3;

/// Perform system call `nr` with six arguments.
///
/// # Safety
/// The call may do anything the kernel lets it do (unmap memory, write to
/// pointers given as arguments, ...); the caller vouches for the arguments.
#[inline(always)]
pub unsafe fn syscall6(nr: i64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, a6: u64) -> i64 {
    let ret: i64;
    // SAFETY: the `syscall` instruction clobbers rcx and r11 only; memory
    // effects are allowed (no `nomem`), as the caller vouches.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            in("r9") a6,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// [`syscall6`] with fewer arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall3(nr: i64, a1: u64, a2: u64, a3: u64) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { syscall6(nr, a1, a2, a3, 0, 0, 0) }
}
