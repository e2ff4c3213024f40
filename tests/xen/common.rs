//! Shared setup for the Xen scenario tests: a world with a privileged PV
//! dom0 running a process, a PV domU, and a disk in dom0, driven through
//! the World and Kernel APIs the interpreter uses.
#![allow(dead_code)]

use mmsim::drivers::gntdev::{IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF};
use mmsim::hv::machine::DomId;
use mmsim::invariants::{Violation, check_world};
use mmsim::kernel::Pid;
use mmsim::kernel::errno::{Errno, KResult};
use mmsim::kernel::file::{IoctlArg, O_DIRECT, O_RDWR};
use mmsim::kernel::mmap::*;
use mmsim::kernel::variant::{UnmapPolicy, Variant, VariantKind};
use mmsim::world::World;
use mmsim::world::xen::{DiskId, Iocb};

pub const PS: u64 = 4096;

pub struct X {
    pub w: World,
    pub dom0: DomId,
    pub domu: DomId,
    pub qemu: Pid,
    pub disk: DiskId,
}

pub fn variant(kind: VariantKind, unmap: Option<UnmapPolicy>) -> Variant {
    let mut v = Variant::new(kind);
    if let Some(u) = unmap {
        v.unmap = u;
    }
    v
}

/// `kernel VARIANT`, `domain dom0 pv privileged`, `domain domU pv`,
/// `process qemu in dom0`, `disk xvda in dom0`.
pub fn setup(v: Variant) -> X {
    let mut w = World::new(65536, v);
    let dom0 = w.add_xen_domain("dom0", true, 4096, true).unwrap();
    let domu = w.add_xen_domain("domU", true, 4096, false).unwrap();
    let disk = w.add_disk("xvda", dom0, 2048).unwrap();
    let (k, _) = w.kh(dom0).unwrap();
    let qemu = k.spawn(0, DEFAULT_MMAP_BASE, 0x5555_5555_0000).unwrap();
    X { w, dom0, domu, qemu, disk }
}

impl X {
    pub fn open(&mut self, pid: Pid, path: &str, flags: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_open(hv, pid, path, flags);
        self.w.run_deferred_work();
        r
    }
    pub fn ioctl(&mut self, pid: Pid, fd: u64, req: u64, args: &[IoctlArg]) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_ioctl(hv, pid, fd, req, args);
        self.w.run_deferred_work();
        r
    }
    pub fn map_grant_ref(&mut self, pid: Pid, fd: u64, dom: DomId, refs: &[u64]) -> KResult<u64> {
        self.ioctl(pid, fd, IOCTL_GNTDEV_MAP_GRANT_REF, &[IoctlArg::Int(dom as u64), IoctlArg::List(refs.to_vec())])
    }
    pub fn unmap_grant_ref(&mut self, pid: Pid, fd: u64, off: u64, count: u64) -> KResult<u64> {
        self.ioctl(pid, fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &[IoctlArg::Int(off), IoctlArg::Int(count)])
    }
    #[allow(clippy::too_many_arguments)] // mmap(2)'s six, plus the caller
    pub fn mmap(&mut self, pid: Pid, addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_mmap(hv, pid, addr, len, prot, flags, fd, off);
        self.w.run_deferred_work();
        r
    }
    pub fn mmap_shared(&mut self, pid: Pid, len: u64, fd: u64, off: u64) -> KResult<u64> {
        self.mmap(pid, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off)
    }
    pub fn munmap(&mut self, pid: Pid, addr: u64, len: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.do_munmap(hv, pid, addr, len);
        self.w.run_deferred_work();
        r
    }
    pub fn pread(&mut self, pid: Pid, fd: u64, addr: u64, len: u64, off: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_pread(hv, pid, fd, addr, len, off);
        self.w.run_deferred_work();
        r
    }
    pub fn pwrite(&mut self, pid: Pid, fd: u64, addr: u64, len: u64, off: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_pwrite(hv, pid, fd, addr, len, off);
        self.w.run_deferred_work();
        r
    }
    pub fn close(&mut self, pid: Pid, fd: u64) -> KResult<u64> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_close(hv, pid, fd);
        self.w.run_deferred_work();
        r
    }
    pub fn fork(&mut self, pid: Pid) -> KResult<Pid> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_fork(hv, pid);
        self.w.run_deferred_work();
        r
    }
    pub fn exit(&mut self, pid: Pid) -> KResult<()> {
        let (k, hv) = self.w.kh(self.dom0)?;
        let r = k.sys_exit(hv, pid);
        self.w.run_deferred_work();
        r
    }
    pub fn load(&mut self, pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, mmsim::kernel::uaccess::Signal> {
        let (k, hv) = self.w.kh(self.dom0).unwrap();
        k.user_read(hv, pid, addr, len)
    }
    pub fn store(&mut self, pid: Pid, addr: u64, data: &[u8]) -> Result<(), mmsim::kernel::uaccess::Signal> {
        let (k, hv) = self.w.kh(self.dom0).unwrap();
        k.user_write(hv, pid, addr, data)
    }
    pub fn io_submit(&mut self, pid: Pid, fd: u64, write: bool, addr: u64, len: u64, off: u64) -> KResult<u64> {
        let r = self.w.io_submit(self.dom0, pid, fd, Iocb { write, addr, len, off });
        self.w.run_deferred_work();
        r
    }
    pub fn io_complete(&mut self, pid: Pid, req: u64) -> KResult<u64> {
        let r = self.w.io_complete(self.dom0, pid, req);
        self.w.run_deferred_work();
        r
    }
    /// domU: `p = alloc_page()`, `write_page(p, 0, fill)`, `g = gnttab_grant_foreign_access(p, dom0, ro)`.
    pub fn grant_page(&mut self, fill: u8, ro: bool) -> (u64, u64) {
        let p = self.w.alloc_page(self.domu).unwrap();
        self.w.write_page(self.domu, p, 0, &vec![fill; 4096]).unwrap();
        let g = self.w.gnttab_grant_foreign_access(self.domu, p, self.dom0, ro).unwrap();
        (p, g)
    }
    pub fn domu_page(&self, p: u64, len: u64) -> Vec<u8> {
        self.w.read_page(self.domu, p, 0, len).unwrap()
    }
    /// `check`: every violation now.
    pub fn check(&mut self) -> Vec<Violation> {
        check_world(&mut self.w)
    }
    /// The seed's setup up to the mapping: returns (p, g, gntdev fd, a, disk fd).
    pub fn seed_mapping(&mut self) -> (u64, u64, u64, u64, u64) {
        self.w.disk_write(self.disk, 0, &[0x5a; 4096]).unwrap();
        let (p, g) = self.grant_page(0, false);
        let q = self.qemu;
        let fd = self.open(q, "/dev/xen/gntdev", O_RDWR).unwrap();
        let off = self.map_grant_ref(q, fd, self.domu, &[g]).unwrap();
        let a = self.mmap_shared(q, PS, fd, off).unwrap();
        let d = self.open(q, "/dev/xvda", O_RDWR | O_DIRECT).unwrap();
        (p, g, fd, a, d)
    }
}

pub fn names(v: &[Violation]) -> Vec<&'static str> {
    v.iter().map(|x| x.invariant.as_str()).collect()
}

pub fn has(v: &[Violation], name: &str) -> bool {
    v.iter().any(|x| x.invariant == name)
}

pub const EINVAL: Errno = Errno::EINVAL;
