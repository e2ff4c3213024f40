//! The oracle: the REAL side of differential tests.
//!
//! [`run_on_host`] runs a sequence of memory-management [`Op`]s for real, in
//! forked worker processes on this machine (Linux x86-64; the model's native
//! semantics target the running kernel), and returns a [`Transcript`]: every
//! op's raw [`OpResult`] and, after each op (or at [`Op::Snapshot`]), what
//! every live process shows of a reserved address range: its maps lines,
//! their smaps fields, and the pagemap entry of each page. The model runs the
//! same ops and produces the same types, so the two compare field by field.
//!
//! ```
//! use mmsim::oracle::{run_on_host, Addr, FdRef, HostConfig, Op, OpResult, PAGE_SIZE};
//!
//! let rw = libc::PROT_READ | libc::PROT_WRITE;
//! let ops = [
//!     // Unhinted: lands at the top of the range.
//!     Op::Mmap { p: 0, addr: Addr::NULL, len: PAGE_SIZE, prot: rw,
//!                flags: libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, fd: FdRef::None, off: 0 },
//!     Op::Load { p: 0, addr: Addr::Off((1 << 30) - PAGE_SIZE), len: 1 },
//!     Op::Fork { p: 0 },
//!     Op::Store { p: 1, addr: Addr::Off((1 << 30) - PAGE_SIZE), bytes: vec![1] },
//!     Op::Load { p: 0, addr: Addr::Off(0), len: 1 }, // unmapped
//! ];
//! let t = run_on_host(&ops, &HostConfig::default())?;
//! assert_eq!(t.steps[0].result, OpResult::Ret((t.base + (1 << 30) - PAGE_SIZE) as i64));
//! assert_eq!(t.steps[1].result, OpResult::Bytes(vec![0]));
//! let page = t.steps[1].snapshot.as_ref().expect("example")[0].vmas[0].pages[0];
//! assert!(page.present && page.zero_page && !page.exclusive);
//! assert_eq!(t.steps[2].result, OpResult::Ret(1)); // the child is process 1
//! assert!(matches!(t.steps[4].result, OpResult::Signal { sig: libc::SIGSEGV, code: 1, .. }));
//! # Ok::<(), mmsim::oracle::OracleError>(())
//! ```
//!
//! # API
//!
//! * [`op`]: [`Op`] (each op names its process `p`; addresses are
//!   [`Addr::Off`] offsets into the range or [`Addr::Abs`] absolute;
//!   lengths, flags, protections are raw integers so that invalid values can
//!   be expressed; descriptors are [`FdRef`]), [`OpResult`] (`Ret(raw or
//!   -errno)`, `Bytes`, `Signal { sig, code, addr }`).
//! * [`host`]: `run_on_host(&[Op], &HostConfig) -> Result<Transcript,
//!   OracleError>`, [`HostConfig`] (`range_len`, `base`, [`SnapshotMode`],
//!   caps and timeout), [`host_info`]; `HostSession` the same workers op by
//!   op, with the raw /proc text (maps lines, smaps blocks, pagemap words,
//!   status fields), a raw system call and a named memfd, for tests that
//!   interleave host and model calls (`tests/native`, `tests/report`).
//! * [`transcript`]: [`Transcript`] (with the `base` the model must use),
//!   [`StepRecord`], [`ProcSnapshot`], [`VmaSnapshot`] (raw maps line and
//!   parsed fields, [`Smaps`], [`PageInfo`] per page), [`HostInfo`], and a
//!   platform-independent smaps parser.
//! * [`error`]: [`OracleError`]: failures of the oracle itself.
//!
//! # The address range
//!
//! Each run reserves `[base, base + range_len)` (default
//! [`DEFAULT_BASE`] = `0x7e00_0000_0000`, 1 GiB) in its first worker:
//!
//! * the range is empty (unmapped) when the first op runs;
//! * the page just below it and the page just above it are guards:
//!   `PROT_NONE`, `MAP_SHARED|MAP_ANONYMOUS` (a shmem file each), so that
//!   nothing inside the range ever merges with anything outside, and an
//!   access one byte past either end is `SIGSEGV`/`SEGV_ACCERR`;
//! * every gap between the upper guard and `mm->mmap_base` is filled with
//!   `PROT_NONE` private anonymous reservations. The top-down allocator
//!   (`vm_unmapped_area`, from `mmap_base` downwards) therefore finds its
//!   highest free gap at the top of the range: an unhinted `mmap(NULL, len)`
//!   returns `base + range_len - len`, exactly as a model process whose
//!   `mmap_base` is `base + range_len`. This is checked at setup with a
//!   probe mapping and reported as [`Transcript::unhinted_in_range`] (true on
//!   this machine). A hint that cannot be used falls back to the same
//!   search, so it lands at the top of the range too. Below the range the
//!   address space is the test process's (not filled): an unhinted mapping
//!   that does not fit in the range lands below the lower guard.
//!
//! Kernel placement details the model has to reproduce (they are real):
//! unhinted private anonymous mappings whose length is a multiple of 2 MiB
//! are 2 MiB aligned (`thp_get_unmapped_area_vmflags`); adjacent compatible
//! anonymous VMAs merge.
//!
//! # Workers
//!
//! The calling thread forks the first worker; [`Op::Fork`] makes a worker
//! clone itself (`clone(CLONE_PARENT|SIGCHLD)`: a real fork whose child is
//! the controller's child), and the child becomes process `N`, the number of
//! processes created so far. Commands and replies go through pipes created
//! before the first fork (one pair per slot, `max_procs` slots). Workers
//! never allocate or map memory of their own after setup; memory accesses
//! run in small assembly routines whose faults are caught by a
//! SIGSEGV/SIGBUS handler (matched on the faulting RIP) and reported as
//! [`OpResult::Signal`] with `si_code` and `si_addr`. A worker that does not
//! answer within `op_timeout` (default 10 s) is killed and the run fails with
//! [`OracleError::Timeout`]; one that dies otherwise gives
//! [`OracleError::WorkerDied`]. All workers are killed and reaped (through
//! pidfds) before `run_on_host` returns; no descriptor is left open.
//!
//! A worker's descriptors: its pipes sit at 256 and above; every inherited
//! descriptor (including 0, 1, 2) is closed, so memfds get the lowest numbers
//! (0, 1, ...) and [`FdRef::Raw`] numbers in 0..256 name nothing else.
//!
//! # Snapshots
//!
//! Taken by the controller from `/proc/<pid>/smaps` (whose VMA headers are
//! the maps lines; only VMAs meeting the range are kept) and
//! `/proc/<pid>/pagemap` (up to `max_pages_per_vma` entries per VMA; PFNs are
//! visible as root). The shared zero page is recognised by its PFN (found
//! once by reading a fresh private anonymous read-only page, see
//! [`HostInfo::zero_pfn`]) or by `KPF_ZERO_PAGE` in `/proc/kpageflags`
//! (which also covers the huge zero page). Cost on this machine: about
//! 0.25 ms per live process per snapshot (mostly the kernel generating smaps
//! for the worker's ~40 VMAs) and about 1 ms to start a run (fork, setup,
//! final snapshot); a 2-6 op sequence with a snapshot after every op takes
//! about 3 ms in a debug build, 2 ms optimised (see the test
//! `two_thousand_tiny_random_sequences`). [`SnapshotMode::Explicit`] skips
//! the per-op snapshots.
//!
//! # Left out
//!
//! * `brk`: the real program break is outside the range and belongs to the
//!   test process's allocator.
//! * Swap (none on this machine), userfaultfd, hugetlbfs, file mappings other
//!   than memfd, and process-wide state (`mm->total_vm`, `/proc/<pid>/status`).
//! * `mlockall` acts on the whole worker (code, stack, buffers), not just the
//!   range; only the range is observed.

pub mod compare;
pub mod error;
pub mod host;
pub mod model;
pub mod op;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod sys;
pub mod transcript;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod worker;

pub use error::OracleError;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub use host::HostSession;
pub use host::{DEFAULT_BASE, DEFAULT_RANGE_LEN, HostConfig, SnapshotMode, host_info, run_on_host};
pub use op::{Addr, BRK_OFF, FdRef, Lim, Op, OpResult, PAGE_SIZE, RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK};
pub use transcript::{HostInfo, PageInfo, ProcSnapshot, Smaps, Snapshot, StepRecord, Transcript, VmaSnapshot};
