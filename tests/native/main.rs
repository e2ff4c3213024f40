//! Native kernel tests: the model's mm syscalls against this machine's
//! kernel (in-process, through `util::Dual`), and the invariants over the
//! native model. One test binary; each file is a module.

mod util;

mod invariants_incremental;
mod invariants_mm;
mod invariants_props;
mod madvise;
mod mlock;
mod mremap;
mod mseal_msync_mincore;
mod oom;
mod props;
mod rlimit;
