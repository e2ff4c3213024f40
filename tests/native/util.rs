//! Shared harness of the native_* tests: run the same syscalls on the model
//! and on this machine's kernel (Linux 6.18, the reference) and compare.
//!
//! The kernel side is an oracle worker process (`mmsim::oracle::HostSession`)
//! per test, with a 4 GiB reserved range (the window); the model uses the
//! same addresses, so VMA layouts compare directly. Forked children are
//! further workers of the same session.
#![allow(dead_code)]

use mmsim::hv::Hypervisor;
use mmsim::kernel::errno::{Errno, KResult};
use mmsim::kernel::mm_types::smaps_vmflags;
use mmsim::kernel::variant::Variant;
use mmsim::kernel::{Kernel, Pid};
use mmsim::oracle::{Addr, HostConfig, HostSession, Op, OpResult, SnapshotMode};
use mmsim::world::World;

pub const P: u64 = 4096;
pub const WINDOW: u64 = 1 << 32;
/// Start of every test's window (each test has a worker of its own).
pub const BASE: u64 = 0x2000_0000_0000;

pub const SYS_MSEAL: i64 = 462;

/// A model world plus an oracle worker whose reserved range is the window.
pub struct Dual {
    pub w: World,
    pub dom: mmsim::hv::machine::DomId,
    pub pid: Pid,
    pub base: u64,
    pub host: HostSession,
}

/// A raw result as an op returns it: `Ok(ret)` or `Err(errno)`.
pub fn kres(r: i64) -> KResult<u64> {
    if r < 0 { Err(Errno((-r) as i32)) } else { Ok(r as u64) }
}

impl Dual {
    pub fn new() -> Dual {
        Dual::with_uid(0)
    }

    pub fn with_uid(uid: u32) -> Dual {
        let mut w = World::new(65536, Variant::default());
        let dom = w.add_domain("host", false, 16384, false).expect("domain");
        let (k, _) = w.kh(dom).expect("kernel");
        let pid = k.spawn(uid, 0x7e00_4000_0000, 0x5555_0000_0000).expect("spawn");
        let cfg = HostConfig {
            base: Some(BASE),
            range_len: WINDOW,
            snapshots: SnapshotMode::Explicit,
            kpageflags: false,
            fill_above: false,
            max_procs: 32,
            max_io: 16 << 20,
            ..HostConfig::default()
        };
        let host = HostSession::start(&cfg).expect("host worker");
        Dual { w, dom, pid, base: BASE, host }
    }

    /// One op on the host (process `p`); an oracle failure panics.
    pub fn host_op(&mut self, op: Op) -> OpResult {
        let what = format!("{op:?}");
        self.host.exec(&op).unwrap_or_else(|e| panic!("host {what}: {e}"))
    }

    /// A system-call op on the host as `Ok(ret)` / `Err(errno)`.
    pub fn host_ret(&mut self, op: Op) -> KResult<u64> {
        match self.host_op(op) {
            OpResult::Ret(r) => kres(r),
            r => panic!("host: unexpected result {r:?}"),
        }
    }

    /// The raw system call `nr(args)` in host process `p` (for pointer
    /// arguments no op has).
    pub fn real_in(&mut self, p: usize, nr: i64, a: &[u64]) -> KResult<u64> {
        let mut v = [0u64; 6];
        v[..a.len()].copy_from_slice(a);
        kres(self.host.syscall(p, nr, v).unwrap_or_else(|e| panic!("host syscall {nr}: {e}")))
    }

    /// The raw system call in the first host process.
    pub fn real(&mut self, nr: i64, a: &[u64]) -> KResult<u64> {
        self.real_in(0, nr, a)
    }

    /// A forked host process (a worker of the session): its index.
    pub fn host_fork(&mut self, p: usize) -> usize {
        match self.host_op(Op::Fork { p }) {
            OpResult::Ret(c) if c > 0 => c as usize,
            r => panic!("host fork: {r:?}"),
        }
    }

    /// Touch `addr` (read or write) in a forked host process that then
    /// exits: 0 if the access worked, `100 + si_code` on SIGSEGV
    /// (SEGV_MAPERR = 1, SEGV_ACCERR = 2), `200 + signal` for another
    /// signal.
    pub fn real_touch(&mut self, addr: u64, write: bool) -> i32 {
        let c = self.host_fork(0);
        let r = self.host_op(Op::Touch { p: c, addr: Addr::Abs(addr), len: 1, write });
        self.host_op(Op::Exit { p: c });
        match r {
            OpResult::Ret(0) => 0,
            OpResult::Signal { sig, code, .. } if sig == libc::SIGSEGV => 100 + code,
            OpResult::Signal { sig, .. } => 200 + sig,
            r => panic!("host touch: {r:?}"),
        }
    }

    pub fn k(&mut self) -> (&mut Kernel, &mut Hypervisor) {
        self.w.kh(self.dom).expect("kernel")
    }

    pub fn a(&self, off: u64) -> u64 {
        self.base.wrapping_add(off)
    }

    /// Compare the two results; on success both must be equal unless the
    /// value is an address the kernel chose outside the window.
    pub fn same(&self, what: &str, m: KResult<u64>, r: KResult<u64>) -> KResult<u64> {
        match (m, r) {
            (Ok(a), Ok(b)) if a == b => {}
            (Ok(a), Ok(b)) if !(self.base..self.base + WINDOW).contains(&b) && a > 4096 => {}
            (Err(a), Err(b)) if a == b => {}
            _ => panic!("{what}: model {m:?} != kernel {r:?}"),
        }
        m
    }

    // ---- syscalls on both sides --------------------------------------

    pub fn mmap(&mut self, off: u64, len: u64, prot: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let fl = flags | libc::MAP_FIXED_NOREPLACE as u64;
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mmap(hv, pid, addr, len, prot, fl, u64::MAX, 0);
        let r = self.real(libc::SYS_mmap, &[addr, len, prot, fl, u64::MAX, 0]);
        self.same(&format!("mmap(+{off:#x}, {len:#x}, {prot}, {flags:#x})"), m, r)
    }
    pub fn anon(&mut self, off: u64, pages: u64, prot: u64) -> KResult<u64> {
        self.mmap(off, pages * P, prot, (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS) as u64)
    }
    pub fn shared(&mut self, off: u64, pages: u64, prot: u64) -> KResult<u64> {
        self.mmap(off, pages * P, prot, (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u64)
    }
    pub fn munmap(&mut self, off: u64, len: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.do_munmap(hv, pid, addr, len);
        let r = self.real(libc::SYS_munmap, &[addr, len]);
        self.same(&format!("munmap(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mprotect(&mut self, off: u64, len: u64, prot: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mprotect(hv, pid, addr, len, prot);
        let r = self.real(libc::SYS_mprotect, &[addr, len, prot]);
        self.same(&format!("mprotect(+{off:#x}, {len:#x}, {prot})"), m, r)
    }
    /// madvise at an absolute address (so tests can pass garbage).
    pub fn madvise_abs(&mut self, addr: u64, len: u64, advice: u64) -> KResult<u64> {
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_madvise(hv, pid, addr, len, advice);
        let r = self.real(libc::SYS_madvise, &[addr, len, advice]);
        self.same(&format!("madvise({addr:#x}, {len:#x}, {advice})"), m, r)
    }
    pub fn madvise(&mut self, off: u64, len: u64, advice: u64) -> KResult<u64> {
        self.madvise_abs(self.a(off), len, advice)
    }
    pub fn mlock(&mut self, off: u64, len: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mlock(hv, pid, addr, len);
        let r = self.real(libc::SYS_mlock, &[addr, len]);
        self.same(&format!("mlock(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mlock2(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mlock2(hv, pid, addr, len, flags);
        let r = self.real(libc::SYS_mlock2, &[addr, len, flags]);
        self.same(&format!("mlock2(+{off:#x}, {len:#x}, {flags})"), m, r)
    }
    pub fn munlock(&mut self, off: u64, len: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_munlock(hv, pid, addr, len);
        let r = self.real(libc::SYS_munlock, &[addr, len]);
        self.same(&format!("munlock(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mremap(&mut self, off: u64, old: u64, new: u64, flags: u64, new_off: u64) -> KResult<u64> {
        let (addr, na) = (self.a(off), self.a(new_off));
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mremap(hv, pid, addr, old, new, flags, na);
        let r = self.real(libc::SYS_mremap, &[addr, old, new, flags, na]);
        self.same(&format!("mremap(+{off:#x}, {old:#x}, {new:#x}, {flags}, +{new_off:#x})"), m, r)
    }
    pub fn mremap_abs(&mut self, addr: u64, old: u64, new: u64, flags: u64, na: u64) -> KResult<u64> {
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mremap(hv, pid, addr, old, new, flags, na);
        let r = self.real(libc::SYS_mremap, &[addr, old, new, flags, na]);
        self.same(&format!("mremap({addr:#x}, {old:#x}, {new:#x}, {flags}, {na:#x})"), m, r)
    }
    pub fn mseal(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mseal(hv, pid, addr, len, flags);
        let r = self.real(SYS_MSEAL, &[addr, len, flags]);
        self.same(&format!("mseal(+{off:#x}, {len:#x}, {flags})"), m, r)
    }
    pub fn msync(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_msync(hv, pid, addr, len, flags);
        let r = self.real(libc::SYS_msync, &[addr, len, flags]);
        self.same(&format!("msync(+{off:#x}, {len:#x}, {flags})"), m, r)
    }

    /// mincore on both sides; the vectors must agree.
    pub fn mincore(&mut self, off: u64, pages: u64) -> KResult<Vec<u8>> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mincore(hv, pid, addr, pages * P);
        let r = match self.host_op(Op::Mincore { p: 0, addr: Addr::Abs(addr), len: pages * P }) {
            OpResult::Bytes(v) => Ok(v),
            OpResult::Ret(e) => kres(e).map(|_| Vec::new()),
            r => panic!("host mincore: {r:?}"),
        };
        let m2 = m.map(|v| v.iter().map(|b| b & 1).collect::<Vec<u8>>());
        let r2 = r.map(|v| v.iter().map(|b| b & 1).collect::<Vec<u8>>());
        assert_eq!(m2, r2, "mincore(+{off:#x}, {pages} pages): model vs kernel");
        m2
    }

    /// Write `byte` to every page of `[off, off + pages*P)` on both sides.
    pub fn fill(&mut self, off: u64, pages: u64, byte: u8) {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let bytes = vec![byte; (pages * P) as usize];
        k.user_write(hv, pid, addr, &bytes).expect("model write");
        let r = self.host_op(Op::Store { p: 0, addr: Addr::Abs(addr), bytes });
        assert_eq!(r, OpResult::Ret(0), "host write at +{off:#x}");
    }

    /// The first byte of each page, read on both sides (must be readable).
    pub fn bytes(&mut self, off: u64, pages: u64) -> Vec<u8> {
        let pid = self.pid;
        let mut out = Vec::new();
        for i in 0..pages {
            let addr = self.a(off + i * P);
            let (k, hv) = self.k();
            let m = k.user_read(hv, pid, addr, 1).expect("model read")[0];
            let r = match self.host_op(Op::Load { p: 0, addr: Addr::Abs(addr), len: 1 }) {
                OpResult::Bytes(b) if b.len() == 1 => b[0],
                r => panic!("host read at +{:#x}: {r:?}", off + i * P),
            };
            assert_eq!(m, r, "byte at +{:#x}", off + i * P);
            out.push(m);
        }
        out
    }

    /// The VMAs of the window as `(start offset, end offset, smaps flags)`
    /// on the model side.
    pub fn model_vmas(&mut self) -> Vec<(u64, u64, String)> {
        let (base, pid) = (self.base, self.pid);
        let (k, _) = self.k();
        let mm = k.mm(pid).expect("mm");
        mm.vmas_in(base, base + WINDOW)
            .map(|v| (v.start - base, v.end - base, smaps_vmflags(v.flags).trim().to_string()))
            .collect()
    }

    /// The same from the host worker's smaps.
    pub fn real_vmas(&self) -> Vec<(u64, u64, String)> {
        let blocks = self.host.smaps_blocks(0).expect("host smaps");
        let mut out = Vec::new();
        for b in blocks {
            let range = b.split(' ').next().unwrap_or("");
            let (s, e) = range.split_once('-').unwrap_or(("", ""));
            let (Ok(s), Ok(e)) = (u64::from_str_radix(s, 16), u64::from_str_radix(e, 16)) else { continue };
            let flags = b.lines().find_map(|l| l.strip_prefix("VmFlags:")).unwrap_or("");
            out.push((s - self.base, e - self.base, flags.trim().to_string()));
        }
        out
    }

    /// The layouts must agree; returns it.
    pub fn layout(&mut self) -> Vec<(u64, u64, String)> {
        let m = self.model_vmas();
        let r = self.real_vmas();
        assert_eq!(m, r, "VMA layout: model (left) vs kernel (right)");
        m
    }

    /// `mm->locked_vm` of the model in pages and VmLck of the host
    /// worker (pages).
    pub fn locked(&mut self) -> (u64, u64) {
        let pid = self.pid;
        let (k, _) = self.k();
        let m = k.mm(pid).expect("mm").locked_vm;
        let r = self.host.status_kb(0, "VmLck").expect("host status").unwrap_or(0);
        (m, r / 4)
    }
}

pub const RW: u64 = (libc::PROT_READ | libc::PROT_WRITE) as u64;
pub const RO: u64 = libc::PROT_READ as u64;
pub const NONE: u64 = 0;

/// A syscall result as a raw value: the value or `-errno`.
pub fn ret(r: KResult<u64>) -> i64 {
    match r {
        Ok(v) => v as i64,
        Err(e) => -(e.0 as i64),
    }
}

pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
