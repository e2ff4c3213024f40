//! Shared harness of the native_* tests: run the same syscalls on the model
//! and on this machine's kernel (Linux 6.18, the reference) and compare.
//!
//! Every test gets its own 4 GiB window of the real address space (tests run
//! in parallel threads of one process), and the model uses the same
//! addresses, so VMA layouts compare directly.
#![allow(dead_code)]

use mmsim::hv::Hypervisor;
use mmsim::kernel::errno::{Errno, KResult};
use mmsim::kernel::mm_types::smaps_vmflags;
use mmsim::kernel::variant::Variant;
use mmsim::kernel::{Kernel, Pid};
use mmsim::world::World;
use std::sync::atomic::{AtomicU64, Ordering};

pub const P: u64 = 4096;
pub const WINDOW: u64 = 1 << 32;
static NEXT: AtomicU64 = AtomicU64::new(0);

pub const SYS_MSEAL: i64 = 462;

/// A model world plus a window of the real address space.
pub struct Dual {
    pub w: World,
    pub dom: mmsim::hv::machine::DomId,
    pub pid: Pid,
    pub base: u64,
}

/// The raw syscall on this machine: `Ok(ret)` or `Err(errno)`.
pub fn real(nr: i64, a: &[u64]) -> KResult<u64> {
    let mut v = [0u64; 6];
    v[..a.len()].copy_from_slice(a);
    let r = unsafe { libc::syscall(nr, v[0], v[1], v[2], v[3], v[4], v[5]) };
    if r == -1 { Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))) } else { Ok(r as u64) }
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
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Each test binary uses its own area, each test its own window.
        let exe = std::env::current_exe().map(|p| p.to_string_lossy().len() as u64).unwrap_or(0);
        let base = 0x2000_0000_0000 + ((exe % 64) << 38) + n * WINDOW;
        let d = Dual { w, dom, pid, base };
        let _ = real(libc::SYS_munmap, &[base, WINDOW]);
        d
    }

    pub fn k(&mut self) -> (&mut Kernel, &mut Hypervisor) {
        self.w.kh(self.dom).expect("kernel")
    }

    pub fn a(&self, off: u64) -> u64 {
        self.base + off
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
        let r = real(libc::SYS_mmap, &[addr, len, prot, fl, u64::MAX, 0]);
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
        let r = real(libc::SYS_munmap, &[addr, len]);
        self.same(&format!("munmap(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mprotect(&mut self, off: u64, len: u64, prot: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mprotect(hv, pid, addr, len, prot);
        let r = real(libc::SYS_mprotect, &[addr, len, prot]);
        self.same(&format!("mprotect(+{off:#x}, {len:#x}, {prot})"), m, r)
    }
    /// madvise at an absolute address (so tests can pass garbage).
    pub fn madvise_abs(&mut self, addr: u64, len: u64, advice: u64) -> KResult<u64> {
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_madvise(hv, pid, addr, len, advice);
        let r = real(libc::SYS_madvise, &[addr, len, advice]);
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
        let r = real(libc::SYS_mlock, &[addr, len]);
        self.same(&format!("mlock(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mlock2(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mlock2(hv, pid, addr, len, flags);
        let r = real(libc::SYS_mlock2, &[addr, len, flags]);
        self.same(&format!("mlock2(+{off:#x}, {len:#x}, {flags})"), m, r)
    }
    pub fn munlock(&mut self, off: u64, len: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_munlock(hv, pid, addr, len);
        let r = real(libc::SYS_munlock, &[addr, len]);
        self.same(&format!("munlock(+{off:#x}, {len:#x})"), m, r)
    }
    pub fn mremap(&mut self, off: u64, old: u64, new: u64, flags: u64, new_off: u64) -> KResult<u64> {
        let (addr, na) = (self.a(off), self.a(new_off));
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mremap(hv, pid, addr, old, new, flags, na);
        let r = real(libc::SYS_mremap, &[addr, old, new, flags, na]);
        self.same(&format!("mremap(+{off:#x}, {old:#x}, {new:#x}, {flags}, +{new_off:#x})"), m, r)
    }
    pub fn mremap_abs(&mut self, addr: u64, old: u64, new: u64, flags: u64, na: u64) -> KResult<u64> {
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mremap(hv, pid, addr, old, new, flags, na);
        let r = real(libc::SYS_mremap, &[addr, old, new, flags, na]);
        self.same(&format!("mremap({addr:#x}, {old:#x}, {new:#x}, {flags}, {na:#x})"), m, r)
    }
    pub fn mseal(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mseal(hv, pid, addr, len, flags);
        let r = real(SYS_MSEAL, &[addr, len, flags]);
        self.same(&format!("mseal(+{off:#x}, {len:#x}, {flags})"), m, r)
    }
    pub fn msync(&mut self, off: u64, len: u64, flags: u64) -> KResult<u64> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_msync(hv, pid, addr, len, flags);
        let r = real(libc::SYS_msync, &[addr, len, flags]);
        self.same(&format!("msync(+{off:#x}, {len:#x}, {flags})"), m, r)
    }

    /// mincore on both sides; the vectors must agree.
    pub fn mincore(&mut self, off: u64, pages: u64) -> KResult<Vec<u8>> {
        let addr = self.a(off);
        let pid = self.pid;
        let (k, hv) = self.k();
        let m = k.sys_mincore(hv, pid, addr, pages * P);
        let mut v = vec![0u8; pages as usize];
        let r = unsafe { libc::mincore(addr as *mut _, (pages * P) as usize, v.as_mut_ptr()) };
        let r = if r == 0 { Ok(v) } else { Err(Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))) };
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
        k.user_write(hv, pid, addr, &vec![byte; (pages * P) as usize]).expect("model write");
        unsafe { std::ptr::write_bytes(addr as *mut u8, byte, (pages * P) as usize) };
    }

    /// The first byte of each page, read on both sides (must be readable).
    pub fn bytes(&mut self, off: u64, pages: u64) -> Vec<u8> {
        let pid = self.pid;
        let mut out = Vec::new();
        for i in 0..pages {
            let addr = self.a(off + i * P);
            let (k, hv) = self.k();
            let m = k.user_read(hv, pid, addr, 1).expect("model read")[0];
            let r = unsafe { std::ptr::read_volatile(addr as *const u8) };
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

    /// The same from this machine's /proc/self/smaps.
    pub fn real_vmas(&self) -> Vec<(u64, u64, String)> {
        let s = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut out = Vec::new();
        let mut cur: Option<(u64, u64)> = None;
        for line in s.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((a, b)) = first.split_once('-') {
                if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                    cur = Some((a, b));
                    continue;
                }
            }
            if let Some(f) = line.strip_prefix("VmFlags:") {
                if let Some((a, b)) = cur {
                    if a < self.base + WINDOW && b > self.base {
                        out.push((a - self.base, b - self.base, f.trim().to_string()));
                    }
                }
            }
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

    /// `mm->locked_vm` of the model in pages and VmLck of this process.
    pub fn locked(&mut self) -> (u64, u64) {
        let pid = self.pid;
        let (k, _) = self.k();
        let m = k.mm(pid).expect("mm").locked_vm;
        let s = std::fs::read_to_string("/proc/self/status").expect("status");
        let r = s
            .lines()
            .find(|l| l.starts_with("VmLck:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        (m, r / 4)
    }
}

impl Drop for Dual {
    fn drop(&mut self) {
        let _ = real(libc::SYS_munlock, &[self.base, WINDOW]);
        let _ = real(libc::SYS_munmap, &[self.base, WINDOW]);
    }
}

pub const RW: u64 = (libc::PROT_READ | libc::PROT_WRITE) as u64;
pub const RO: u64 = libc::PROT_READ as u64;
pub const NONE: u64 = 0;

/// Run `f` in a forked child of this process and return the bytes it
/// writes to the pipe plus its wait status. The child only makes raw
/// syscalls and plain memory accesses, then `_exit`s.
pub fn in_child(f: impl FnOnce(i32)) -> (Vec<u8>, i32) {
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        unsafe { libc::close(fds[0]) };
        f(fds[1]);
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::close(fds[1]) };
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        let n = unsafe { libc::read(fds[0], buf.as_mut_ptr() as *mut _, buf.len()) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    unsafe { libc::close(fds[0]) };
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    (out, status)
}

/// In a child: write an i64 to the pipe.
pub fn send(fd: i32, v: i64) {
    unsafe { libc::write(fd, &v as *const i64 as *const _, 8) };
}

pub fn decode(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8).map(|c| i64::from_ne_bytes(c.try_into().unwrap_or([0; 8]))).collect()
}

/// A syscall result as the child sends it: the value or `-errno`.
pub fn ret(r: KResult<u64>) -> i64 {
    match r {
        Ok(v) => v as i64,
        Err(e) => -(e.0 as i64),
    }
}

extern "C" fn segv_handler(_sig: i32, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let code = unsafe { (*info).si_code };
    unsafe { libc::_exit(100 + code) };
}

/// In a forked child, touch `addr` (read or write): the exit code is 0 if
/// the access worked, `100 + si_code` on SIGSEGV (SEGV_MAPERR = 1,
/// SEGV_ACCERR = 2), or the signal number + 200 for other deaths.
pub fn real_touch(addr: u64, write: bool) -> i32 {
    let (_, status) = in_child(|_| unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = segv_handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut());
        if write {
            std::ptr::write_volatile(addr as *mut u8, 1);
        } else {
            std::ptr::read_volatile(addr as *const u8);
        }
    });
    if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 200 + libc::WTERMSIG(status) }
}

pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
