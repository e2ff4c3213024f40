//! The MODEL side of differential tests: run the same [`Op`]s as
//! [`super::run_on_host`] in mmsim's own kernel and record a [`Transcript`]
//! of the same shape, so that [`super::compare`] can set the two side by
//! side.
//!
//! ```
//! use mmsim::oracle::{Addr, FdRef, Op, OpResult, PAGE_SIZE, DEFAULT_BASE, DEFAULT_RANGE_LEN};
//! use mmsim::oracle::model::run_on_model;
//!
//! let ops = [
//!     Op::Mmap { p: 0, addr: Addr::NULL, len: PAGE_SIZE, prot: libc::PROT_READ,
//!                flags: libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, fd: FdRef::None, off: 0 },
//!     Op::Load { p: 0, addr: Addr::Off(DEFAULT_RANGE_LEN - PAGE_SIZE), len: 1 },
//! ];
//! let t = run_on_model(&ops, DEFAULT_BASE, DEFAULT_RANGE_LEN)?;
//! assert_eq!(t.steps[0].result, OpResult::Ret((DEFAULT_BASE + DEFAULT_RANGE_LEN - PAGE_SIZE) as i64));
//! let page = t.final_state[0].vmas[0].pages[0];
//! assert!(page.present && page.zero_page);
//! # Ok::<(), mmsim::oracle::OracleError>(())
//! ```
//!
//! # How the model process is set up
//!
//! One native domain (`host`), one process per oracle worker, uid 0 (the
//! host oracle runs as root), `mmap_base = base + range_len`, so that
//! unhinted mappings land at the top of the range as on the host. Before
//! the first op, as the host worker does:
//!
//! * the two guard pages around the range: `PROT_NONE`,
//!   `MAP_SHARED|MAP_ANONYMOUS|MAP_FIXED` at `base - 4096` and
//!   `base + range_len` (nothing in the range merges with anything outside);
//! * a scratch buffer of `max_io` bytes far below the range
//!   ([`SCRATCH_ADDR`]): `Pwrite`/`Pread` carry their data in the op, while
//!   the model's `pwrite`/`pread` take a user address (the host worker uses
//!   its own I/O buffer the same way).
//!
//! # Translation
//!
//! * Raw integer arguments are passed as the worker passes them (an `int`
//!   zero-extended to 64 bits); results are `Ret(value)` or `Ret(-errno)`.
//! * Signals: `SEGV_MAPERR` = 1, `SEGV_ACCERR` = 2, `BUS_ADRERR` = 2 (the
//!   model's `Oom` would be an OOM kill on the host: reported as `SIGKILL`,
//!   which never matches). The address is the first byte of the access that
//!   faulted, as `si_addr`.
//! * `Touch` with `write` is, per page, a read access then a write access
//!   (what the worker's `movzx`/`mov` pair does), not the interpreter's
//!   single write access: a read-only page gets the zero page first.
//! * `Fork` returns the new process index; `MemfdCreate` stores the
//!   descriptor in the process's slot and returns 0 (the slots are copied
//!   at fork, as the worker's array is); `Close` of a slot empties it.
//! * The oracle's own limits (memfd slot, I/O sizes, process count, dead
//!   process) are the same [`OracleError`]s as on the host.
//!
//! # Snapshots
//!
//! The maps lines and smaps fields come from [`crate::report::smaps_k`]
//! (parsed with the host's parser, keeping the VMAs that meet the range),
//! the pages from [`crate::report::pagemap_entries_k`] decoded with the
//! model's zero-page PFN. `kpageflags` is never read (`None`).

use super::error::OracleError;
use super::host::SnapshotMode;
use super::op::{Addr, FdRef, Op, OpResult, PAGE_SIZE};
use super::transcript::{
    HostInfo, PageInfo, ProcSnapshot, Snapshot, StepRecord, Transcript, VmaSnapshot, pages_in_range, parse_smaps,
};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::memory::{Access, VmFault};
use crate::kernel::page::ZERO_PFN;
use crate::kernel::uaccess::Signal;
use crate::kernel::variant::Variant;
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::world::World;

/// Where the model maps its I/O scratch buffer: far below any range the
/// oracle uses, never adjacent to it.
pub const SCRATCH_ADDR: u64 = 0x1000_0000_0000;

/// VMAs a model process has outside the range from the start: the two
/// guards and the scratch buffer (they count towards `max_map_count`).
pub const MODEL_OUTSIDE_VMAS: usize = 3;

/// `FD_SLOTS` of the worker: descriptor slots per process.
pub const FD_SLOTS: usize = 64;
/// The worker's most pages touched by one `Touch` without a fault.
const TOUCH_MAX_PAGES: u64 = 1 << 22;

const SIGSEGV: i32 = 11;
const SIGBUS: i32 = 7;
const SIGKILL: i32 = 9;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const SEGV_PKUERR: i32 = 4;
const BUS_ADRERR: i32 = 2;
/// `SI_KERNEL`: a general protection fault (non-canonical address).
const SI_KERNEL: i32 = 0x80;

/// `MFD_CLOEXEC`, `MFD_ALLOW_SEALING`, `MFD_HUGETLB`, `MFD_NOEXEC_SEAL`,
/// `MFD_EXEC`.
const MFD_CLOEXEC: u32 = 1;
const MFD_ALL_FLAGS: u32 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10;

/// Configuration of [`run_on_model_cfg`]; the defaults match
/// [`super::HostConfig::default`].
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Start of the reserved range (page aligned).
    pub base: u64,
    /// Length of the reserved range (page multiple).
    pub range_len: u64,
    pub snapshots: SnapshotMode,
    /// Pagemap entries recorded per VMA (from its first page in the range).
    pub max_pages_per_vma: usize,
    /// Most processes (first plus forks), as `HostConfig::max_procs`.
    pub max_procs: usize,
    /// Largest Load/Pread length and Store/Pwrite payload.
    pub max_io: usize,
    /// RAM of the model's domain in pages.
    pub ram_pages: u64,
    /// `mm->max_map_count` of the first process (inherited at fork).
    /// `None`: the kernel default (65530). The host worker has about 40
    /// VMAs of its own outside the range; tests that run into the limit
    /// calibrate this (see `tests/host/differential.rs`).
    pub max_map_count: Option<usize>,
    /// The modelled machine (pkeys, THP mode, sysctls); `frames` is
    /// replaced by what `ram_pages` needs.
    pub machine: crate::kernel::config::MachineConfig,
    /// The reader of pagemap has CAP_SYS_ADMIN (PFNs, and so the zero
    /// page, visible).
    pub show_pfn: bool,
    /// The first process's uid (0: root's capabilities) and
    /// RLIMIT_MEMLOCK (`None`: the model's default), as the host worker's.
    pub uid: u32,
    pub memlock: Option<(u64, u64)>,
    /// The first process has CAP_SYS_RESOURCE (root's, unless the host
    /// worker runs without it, as in a container that drops it).
    pub cap_sys_resource: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            base: super::DEFAULT_BASE,
            range_len: super::DEFAULT_RANGE_LEN,
            snapshots: SnapshotMode::EveryOp,
            max_pages_per_vma: 4096,
            max_procs: 8,
            max_io: 1 << 20,
            ram_pages: 65536,
            max_map_count: None,
            machine: crate::kernel::config::MachineConfig::default(),
            show_pfn: true,
            uid: 0,
            memlock: None,
            cap_sys_resource: true,
        }
    }
}

impl ModelConfig {
    /// The model configuration matching a host configuration (the base
    /// defaults as on the host) and this host's machine
    /// ([`HostInfo::machine_config`], PFN visibility).
    pub fn from_host(cfg: &super::HostConfig) -> ModelConfig {
        let info = super::host_info().ok();
        let d = ModelConfig::default();
        ModelConfig {
            machine: info.as_ref().map_or(d.machine, HostInfo::machine_config),
            show_pfn: info.as_ref().is_none_or(HostInfo::pfns_visible),
            uid: info.as_ref().map_or(0, |i| i.euid),
            memlock: info.as_ref().map(|i| i.memlock),
            cap_sys_resource: super::host::cap_effective().is_none_or(|c| c >> 24 & 1 == 1),
            base: cfg.base.unwrap_or(super::DEFAULT_BASE),
            range_len: cfg.range_len,
            snapshots: cfg.snapshots,
            max_pages_per_vma: cfg.max_pages_per_vma,
            max_procs: cfg.max_procs,
            max_io: cfg.max_io,
            ..ModelConfig::default()
        }
    }
}

/// Run `ops` in the model with snapshots after every op (the host's
/// default), the range at `[base, base + range_len)`.
pub fn run_on_model(ops: &[Op], base: u64, range_len: u64) -> Result<Transcript, OracleError> {
    run_on_model_cfg(ops, &ModelConfig { base, range_len, ..ModelConfig::default() })
}

/// The raw `(cur, max)` each [`Op::Setrlimit`] of `ops` passes in the
/// model (its [`super::Lim::Used`] resolved against the model process's
/// use at that step), `None` for other ops; for writing the ops as a
/// scenario. Ops after an oracle error are `None`.
pub fn resolved_rlimits(ops: &[Op], cfg: &ModelConfig) -> Vec<Option<(u64, u64)>> {
    let mut out = vec![None; ops.len()];
    let Ok(mut run) = ModelRun::new(cfg) else { return out };
    for (step, op) in ops.iter().enumerate() {
        if let Op::Setrlimit { p, resource, cur, max } = op
            && let Some(pid) = run.procs.get(*p).filter(|pr| pr.alive).map(|pr| pr.pid)
            && let Ok(mm) = run.kh().0.mm(pid)
        {
            let used = rlimit_use(mm, *resource);
            out[step] = Some((cur.resolve(used), max.resolve(used)));
        }
        if run.exec(step, op).is_err() {
            break;
        }
    }
    out
}

/// Facts the model assumes about "its host" (the reference machine's
/// settings; see `report/smaps.rs`), in the host's format.
pub fn model_host_info() -> HostInfo {
    model_host_info_for(&ModelConfig::default())
}

/// [`model_host_info`] of the machine `cfg` models.
fn model_host_info_for(cfg: &ModelConfig) -> HostInfo {
    let m = cfg.machine;
    HostInfo {
        kernel_release: "mmsim (Linux 6.18 model)".to_string(),
        page_size: PAGE_SIZE,
        thp_enabled: m.thp.name().to_string(),
        thp_defrag: "madvise".to_string(),
        thp_use_zero_page: "1".to_string(),
        thp_shmem_enabled: "never".to_string(),
        overcommit_memory: (m.overcommit as u8).to_string(),
        mmap_min_addr: crate::kernel::mmap::MMAP_MIN_ADDR,
        zero_pfn: cfg.show_pfn.then_some(ZERO_PFN.0),
        pkeys: m.pkeys,
        max_map_count: m.max_map_count as u64,
        euid: cfg.uid,
        memlock: cfg.memlock.unwrap_or((8 << 20, 8 << 20)),
    }
}

/// One model process standing for one worker.
#[derive(Clone, Debug)]
struct MProc {
    pid: Pid,
    alive: bool,
    /// Descriptor per slot (`MemfdCreate`).
    slots: [Option<u64>; FD_SLOTS],
}

struct ModelRun<'a> {
    cfg: &'a ModelConfig,
    world: World,
    dom: DomId,
    procs: Vec<MProc>,
}

fn setup_err(what: &str, e: Errno) -> OracleError {
    OracleError::InvalidConfig(format!("model setup: {what}: {e}"))
}

/// `-errno` or the value, as the raw syscall return.
fn ret(r: KResult<u64>) -> OpResult {
    match r {
        Ok(v) => OpResult::Ret(v as i64),
        Err(e) => OpResult::Ret(-(e.0 as i64)),
    }
}

/// x86-64 with 4-level paging: is `a` a canonical address?
fn canonical(a: u64) -> bool {
    !(0x0000_8000_0000_0000..0xffff_8000_0000_0000).contains(&a)
}

/// Run `ops` in the model as configured.
pub fn run_on_model_cfg(ops: &[Op], cfg: &ModelConfig) -> Result<Transcript, OracleError> {
    let mut run = ModelRun::new(cfg)?;
    let mut steps = Vec::with_capacity(ops.len());
    for (step, op) in ops.iter().enumerate() {
        let result = run.exec(step, op)?;
        let snapshot = match (cfg.snapshots, op) {
            (SnapshotMode::EveryOp, _) | (_, Op::Snapshot) => Some(run.snapshot()),
            _ => None,
        };
        steps.push(StepRecord { result, snapshot });
    }
    let final_state = match steps.last().and_then(|s| s.snapshot.clone()) {
        Some(s) => s,
        None => run.snapshot(),
    };
    Ok(Transcript {
        base: cfg.base,
        range_len: cfg.range_len,
        unhinted_in_range: true,
        host: model_host_info_for(cfg),
        steps,
        final_state,
    })
}

impl<'a> ModelRun<'a> {
    fn new(cfg: &'a ModelConfig) -> Result<ModelRun<'a>, OracleError> {
        use crate::kernel::mmap::*;
        let (base, len) = (cfg.base, cfg.range_len);
        if len == 0 || !len.is_multiple_of(PAGE_SIZE) || !base.is_multiple_of(PAGE_SIZE) || base < 2 * PAGE_SIZE {
            return Err(OracleError::InvalidConfig(format!("range {base:#x}+{len:#x}")));
        }
        if cfg.max_procs == 0 || cfg.max_procs > 32 {
            return Err(OracleError::InvalidConfig("max_procs must be in 1..=32".to_string()));
        }
        let machine = crate::kernel::config::MachineConfig { frames: cfg.ram_pages + 64, ..cfg.machine };
        let mut world = World::with_machine(machine, Variant::default());
        let dom = world.add_domain("host", false, cfg.ram_pages, false).map_err(|e| setup_err("add_domain", e))?;
        let (k, hv) = world.kh(dom).map_err(|e| setup_err("kh", e))?;
        // The break where the worker moves its own (op.rs `BRK_OFF`).
        let start_brk = base + super::op::BRK_OFF;
        let pid = k.spawn(cfg.uid, base + len, start_brk).map_err(|e| setup_err("spawn", e))?;
        if let Some((cur, max)) = cfg.memlock {
            k.proc_mut(pid).map_err(|e| setup_err("proc", e))?.rlimits.memlock = crate::kernel::mm::Rlimit { cur, max };
        }
        // The host worker closes every descriptor it inherits, stdio
        // included (worker/setup.rs arrange_fds: close_range), so the
        // model's process starts without descriptors 0-2 as well.
        k.proc_mut(pid).map_err(|e| setup_err("proc", e))?.files = crate::kernel::file::FdTable::default();
        k.proc_mut(pid).map_err(|e| setup_err("proc", e))?.cap_sys_resource = cfg.cap_sys_resource && cfg.uid == 0;
        if let Some(n) = cfg.max_map_count {
            k.mm_mut(pid).map_err(|e| setup_err("mm", e))?.max_map_count = n;
        }
        let guard = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED;
        for g in [base - PAGE_SIZE, base + len] {
            k.sys_mmap(hv, pid, g, PAGE_SIZE, PROT_NONE_, guard, u64::MAX, 0)
                .map_err(|e| setup_err("guard page", e))?;
        }
        let scratch_len = (cfg.max_io as u64).max(PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        k.sys_mmap(
            hv,
            pid,
            SCRATCH_ADDR,
            scratch_len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
            u64::MAX,
            0,
        )
        .map_err(|e| setup_err("scratch buffer", e))?;
        Ok(ModelRun { cfg, world, dom, procs: vec![MProc { pid, alive: true, slots: [None; FD_SLOTS] }] })
    }

    fn kh(&mut self) -> (&mut Kernel, &mut Hypervisor) {
        // The domain was created in `new` and domains are never removed.
        let d = &mut self.world.domains[self.dom as usize];
        (&mut d.kernel, &mut self.world.hv)
    }

    fn fd(&self, p: usize, fd: FdRef) -> u64 {
        match fd {
            FdRef::None => u64::MAX,
            FdRef::Slot(i) => self.procs[p].slots.get(i as usize).copied().flatten().unwrap_or(u64::MAX),
            FdRef::Raw(n) => n as i64 as u64,
        }
    }

    fn signal(&self, s: Signal) -> OpResult {
        let (base, len) = (self.cfg.base, self.cfg.range_len);
        let addr = Addr::classify(s.addr, base, len);
        match s.fault {
            VmFault::MapErr => OpResult::Signal { sig: SIGSEGV, code: SEGV_MAPERR, addr },
            VmFault::AccErr => OpResult::Signal { sig: SIGSEGV, code: SEGV_ACCERR, addr },
            VmFault::PkuErr => OpResult::Signal { sig: SIGSEGV, code: SEGV_PKUERR, addr },
            VmFault::SigBus => OpResult::Signal { sig: SIGBUS, code: BUS_ADRERR, addr },
            // The host's OOM killer would kill the worker.
            VmFault::Oom => OpResult::Signal { sig: SIGKILL, code: 0, addr },
        }
    }

    /// A general protection fault: a non-canonical address.
    fn gp_fault() -> OpResult {
        OpResult::Signal { sig: SIGSEGV, code: SI_KERNEL, addr: Addr::Abs(0) }
    }

    /// The worker's byte-by-byte access routines, page by page: `f` is
    /// called for each chunk `[a, a + n)` within one page, in order.
    fn access_bytes(
        &mut self,
        pid: Pid,
        addr: u64,
        len: u64,
        access: Access,
        mut f: impl FnMut(&mut Hypervisor, crate::kernel::page::Mfn, usize, usize, usize),
    ) -> Result<(), OpResult> {
        let mut done = 0u64;
        while done < len {
            let a = addr.wrapping_add(done);
            if !canonical(a) {
                return Err(Self::gp_fault());
            }
            let in_page = a & (PAGE_SIZE - 1);
            let n = (PAGE_SIZE - in_page).min(len - done);
            let (k, hv) = self.kh();
            let mfn = match k.user_access_page(hv, pid, a, access) {
                Ok(m) => m,
                Err(s) => return Err(self.signal(s)),
            };
            let (_, hv) = self.kh();
            f(hv, mfn, in_page as usize, done as usize, n as usize);
            done += n;
        }
        Ok(())
    }

    fn exec(&mut self, step: usize, op: &Op) -> Result<OpResult, OracleError> {
        let Some(p) = op.p() else {
            return Ok(OpResult::Ret(0));
        };
        if !self.procs.get(p).is_some_and(|pr| pr.alive) {
            return Err(OracleError::NoSuchProcess { step, p });
        }
        let pid = self.procs[p].pid;
        let b = self.cfg.base;
        let max_io = self.cfg.max_io as u64;
        let limit = |what: &'static str, limit: u64| Err(OracleError::Limit { step, what, limit });
        let int = |v: i32| v as u32 as u64;
        let res = match op {
            Op::Mmap { addr, len, prot, flags, fd, off, .. } => {
                let fd = self.fd(p, *fd);
                let (k, hv) = self.kh();
                ret(k.sys_mmap(hv, pid, addr.resolve(b), *len, int(*prot), int(*flags), fd, *off))
            }
            Op::Munmap { addr, len, .. } => {
                let (k, hv) = self.kh();
                ret(k.do_munmap(hv, pid, addr.resolve(b), *len))
            }
            Op::Mprotect { addr, len, prot, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mprotect(hv, pid, addr.resolve(b), *len, int(*prot)))
            }
            Op::Mremap { old, old_len, new_len, flags, new_addr, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mremap(hv, pid, old.resolve(b), *old_len, *new_len, int(*flags), new_addr.resolve(b)))
            }
            Op::Madvise { addr, len, advice, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_madvise(hv, pid, addr.resolve(b), *len, int(*advice)))
            }
            Op::Mlock { addr, len, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mlock(hv, pid, addr.resolve(b), *len))
            }
            Op::Mlock2 { addr, len, flags, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mlock2(hv, pid, addr.resolve(b), *len, *flags as u64))
            }
            Op::Munlock { addr, len, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_munlock(hv, pid, addr.resolve(b), *len))
            }
            Op::Mlockall { flags, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mlockall(hv, pid, int(*flags)))
            }
            Op::Munlockall { .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_munlockall(hv, pid))
            }
            Op::Mseal { addr, len, flags, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_mseal(hv, pid, addr.resolve(b), *len, *flags))
            }
            Op::Msync { addr, len, flags, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_msync(hv, pid, addr.resolve(b), *len, int(*flags)))
            }
            Op::Mincore { addr, len, .. } => {
                let (k, hv) = self.kh();
                match k.sys_mincore(hv, pid, addr.resolve(b), *len) {
                    Ok(v) => {
                        // The worker's vector buffer (see worker.rs `setup`).
                        let vec_cap =
                            ((self.cfg.range_len / PAGE_SIZE + 2) as usize + 4096).next_multiple_of(PAGE_SIZE as usize);
                        if v.len() > vec_cap {
                            return limit("mincore vector (range_len / 4096 + 4098 pages)", 0);
                        }
                        OpResult::Bytes(v)
                    }
                    Err(e) => OpResult::Ret(-(e.0 as i64)),
                }
            }
            Op::MemfdCreate { slot, flags, .. } => {
                if *slot as usize >= FD_SLOTS {
                    return limit("memfd slot", FD_SLOTS as u64 - 1);
                }
                // mm/memfd.c: unknown flags are EINVAL; MFD_CLOEXEC has no
                // effect the oracle can see. The model's memfd_create has no
                // flags: sealing and hugetlb memfds are not modelled.
                if flags & !MFD_ALL_FLAGS != 0 {
                    OpResult::Ret(-(libc::EINVAL as i64))
                } else if flags & !MFD_CLOEXEC != 0 {
                    return Err(OracleError::InvalidConfig(format!(
                        "model: memfd_create flags {flags:#x} are not modelled"
                    )));
                } else {
                    let (k, _) = self.kh();
                    match k.sys_memfd_create(pid, "mmsim") {
                        Ok(fd) => {
                            self.procs[p].slots[*slot as usize] = Some(fd);
                            OpResult::Ret(0)
                        }
                        Err(e) => OpResult::Ret(-(e.0 as i64)),
                    }
                }
            }
            Op::Ftruncate { fd, len, .. } => {
                let fd = self.fd(p, *fd);
                let (k, hv) = self.kh();
                ret(k.sys_ftruncate(hv, pid, fd as u32 as u64, *len))
            }
            Op::Close { fd, .. } => {
                let raw = self.fd(p, *fd);
                let (k, hv) = self.kh();
                let r = ret(k.sys_close(hv, pid, raw as u32 as u64));
                if let FdRef::Slot(i) = fd
                    && let Some(s) = self.procs[p].slots.get_mut(*i as usize)
                {
                    *s = None;
                }
                r
            }
            Op::Pwrite { fd, off, bytes, .. } => {
                if bytes.len() as u64 > max_io {
                    return limit("pwrite length", max_io);
                }
                let fd = self.fd(p, *fd);
                let (k, hv) = self.kh();
                if let Err(s) = k.user_write(hv, pid, SCRATCH_ADDR, bytes) {
                    return Err(OracleError::InvalidConfig(format!("model scratch buffer: {s:?}")));
                }
                ret(k.sys_pwrite(hv, pid, fd as u32 as u64, SCRATCH_ADDR, bytes.len() as u64, *off))
            }
            Op::Pread { fd, off, len, .. } => {
                if *len > max_io {
                    return limit("pread length", max_io);
                }
                let fd = self.fd(p, *fd);
                let (k, hv) = self.kh();
                match k.sys_pread(hv, pid, fd as u32 as u64, SCRATCH_ADDR, *len, *off) {
                    Ok(n) => match k.user_read(hv, pid, SCRATCH_ADDR, n) {
                        Ok(v) => OpResult::Bytes(v),
                        Err(s) => {
                            return Err(OracleError::InvalidConfig(format!("model scratch buffer: {s:?}")));
                        }
                    },
                    Err(e) => OpResult::Ret(-(e.0 as i64)),
                }
            }
            Op::Load { addr, len, .. } => {
                if *len > max_io {
                    return limit("load length", max_io);
                }
                let mut out = vec![0u8; *len as usize];
                let r = self.access_bytes(pid, addr.resolve(b), *len, Access::Read, |hv, mfn, off, at, n| {
                    hv.machine.read(mfn, off, &mut out[at..at + n]);
                });
                match r {
                    Ok(()) => OpResult::Bytes(out),
                    Err(sig) => sig,
                }
            }
            Op::Store { addr, bytes, .. } => {
                if bytes.len() as u64 > max_io {
                    return limit("store length", max_io);
                }
                let r = self.access_bytes(
                    pid,
                    addr.resolve(b),
                    bytes.len() as u64,
                    Access::Write,
                    |hv, mfn, off, at, n| {
                        hv.machine.write(mfn, off, &bytes[at..at + n]);
                    },
                );
                match r {
                    Ok(()) => OpResult::Ret(0),
                    Err(sig) => sig,
                }
            }
            Op::Touch { addr, len, write, .. } => {
                let addr = addr.resolve(b);
                if *len == 0 {
                    OpResult::Ret(0)
                } else {
                    let end = addr.saturating_add(*len);
                    let mut a = addr;
                    let mut count = 0u64;
                    let mut out = OpResult::Ret(0);
                    loop {
                        count += 1;
                        if count > TOUCH_MAX_PAGES {
                            return limit("pages touched without a fault", 0);
                        }
                        if !canonical(a) {
                            out = Self::gp_fault();
                            break;
                        }
                        let (k, hv) = self.kh();
                        let mut r = k.user_access_page(hv, pid, a, Access::Read).map(|_| ());
                        if *write && r.is_ok() {
                            r = k.user_access_page(hv, pid, a, Access::Write).map(|_| ());
                        }
                        if let Err(s) = r {
                            out = self.signal(s);
                            break;
                        }
                        match (a & !(PAGE_SIZE - 1)).checked_add(PAGE_SIZE) {
                            Some(next) if next < end => a = next,
                            _ => break,
                        }
                    }
                    out
                }
            }
            Op::Setrlimit { resource, cur, max, .. } => {
                let (k, _) = self.kh();
                let used = rlimit_use(k.mm(pid).map_err(|e| setup_err("mm", e))?, *resource);
                ret(k.sys_setrlimit(pid, *resource as u64, cur.resolve(used), max.resolve(used)))
            }
            Op::Brk { addr, .. } => {
                let (k, hv) = self.kh();
                ret(k.sys_brk(hv, pid, addr.resolve(b)))
            }
            Op::Fork { .. } => {
                if self.procs.len() >= self.cfg.max_procs {
                    return Err(OracleError::TooManyProcesses { step, max: self.cfg.max_procs });
                }
                let (k, hv) = self.kh();
                match k.sys_fork(hv, pid) {
                    Ok(child) => {
                        let slots = self.procs[p].slots;
                        self.procs.push(MProc { pid: child, alive: true, slots });
                        OpResult::Ret(self.procs.len() as i64 - 1)
                    }
                    Err(e) => OpResult::Ret(-(e.0 as i64)),
                }
            }
            Op::Setuid { uid, .. } => {
                let (k, _) = self.kh();
                ret(k.sys_setuid(pid, *uid))
            }
            Op::Exit { .. } => {
                let (k, hv) = self.kh();
                if let Err(e) = k.sys_exit(hv, pid) {
                    return Err(OracleError::WorkerDied {
                        step,
                        op: "exit",
                        p,
                        status: format!("model exit failed: {e}"),
                    });
                }
                self.procs[p].alive = false;
                OpResult::Ret(0)
            }
            Op::Snapshot => OpResult::Ret(0),
        };
        Ok(res)
    }

    fn snapshot(&mut self) -> Snapshot {
        let mut out = Vec::new();
        for p in 0..self.procs.len() {
            if self.procs[p].alive {
                out.push(self.proc_snapshot(p));
            }
        }
        out
    }

    fn proc_snapshot(&mut self, p: usize) -> ProcSnapshot {
        let pid = self.procs[p].pid;
        let (base, len) = (self.cfg.base, self.cfg.range_len);
        let end = base.saturating_add(len);
        let max_pages = self.cfg.max_pages_per_vma;
        let show_pfn = self.cfg.show_pfn;
        let (k, hv) = self.kh();
        let text = crate::report::smaps_k(k, hv, pid);
        let entries = parse_smaps(&text, |s, e| s < end && e > base);
        let zero = show_pfn.then_some(ZERO_PFN.0);
        let mut vmas = Vec::with_capacity(entries.len());
        for e in entries {
            let mut pages = Vec::new();
            let mut truncated = false;
            if let Some((first, n)) = pages_in_range(e.maps.start, e.maps.end, base, len) {
                let n = if n > max_pages as u64 {
                    truncated = true;
                    max_pages as u64
                } else {
                    n
                };
                let raw = crate::report::pagemap::pagemap_entries_as(k, hv, pid, first, n * PAGE_SIZE, show_pfn);
                pages = raw.into_iter().map(|r| PageInfo::from_raw(r, zero, None)).collect();
            }
            vmas.push(VmaSnapshot::from_entry(e, pages, truncated));
        }
        ProcSnapshot { p, vmas }
    }
}

/// What a process uses of an rlimit's resource, in pages (what the host
/// reads as `VmSize`, `VmData`, `VmLck` of /proc/PID/status).
fn rlimit_use(mm: &crate::kernel::mm::Mm, resource: u32) -> u64 {
    match resource {
        super::op::RLIMIT_AS => mm.total_vm,
        super::op::RLIMIT_DATA => mm.data_vm,
        super::op::RLIMIT_MEMLOCK => mm.locked_vm,
        _ => 0,
    }
}

/// `PROT_NONE` (the kernel module has no name for 0).
const PROT_NONE_: u64 = 0;
