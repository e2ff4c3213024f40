//! Open files and the operations a driver provides for them
//! (`struct file`, `struct file_operations`).

use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::mm_types::Vma;
use crate::kernel::{Kernel, Pid};
use std::fmt;
use std::rc::Rc;

/// An ioctl argument as the model passes it (the world layer resolves names,
/// e.g. a domain name to its domid, before the driver sees them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoctlArg {
    Int(u64),
    List(Vec<u64>),
}

impl IoctlArg {
    pub fn int(&self) -> KResult<u64> {
        match self {
            IoctlArg::Int(v) => Ok(*v),
            IoctlArg::List(_) => Err(Errno::EFAULT),
        }
    }
    pub fn list(&self) -> KResult<&[u64]> {
        match self {
            IoctlArg::List(v) => Ok(v),
            IoctlArg::Int(_) => Err(Errno::EFAULT),
        }
    }
}

/// `struct file_operations` for device files. The kernel hands itself to
/// the driver, as the kernel's own code paths would.
pub trait FileOperations: fmt::Debug {
    /// The path shown in /proc/PID/maps.
    fn path(&self) -> String;
    /// `(major, minor, ino)` for /proc/PID/maps.
    fn dev_ino(&self) -> ((u32, u32), u64) {
        ((0, 6), 0)
    }
    /// Whether `f_op->mmap` is set: do_mmap() (mm/mmap.c) refuses a file
    /// without one with -ENODEV before anything is unmapped.
    fn has_mmap(&self) -> bool {
        false
    }
    /// `f_op->mmap`: set up `vma` (flags, ops) and possibly its PTEs.
    /// The VMA is not yet in the tree.
    fn mmap(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _vma: &mut Vma) -> KResult<()> {
        Err(Errno::ENODEV)
    }
    fn ioctl(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _req: u64, _args: &[IoctlArg]) -> KResult<u64> {
        Err(Errno::ENOTTY)
    }
    /// `pread` into user memory at `addr`.
    fn read(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _addr: u64, _len: u64, _off: u64) -> KResult<u64> {
        Err(Errno::EINVAL)
    }
    /// `pwrite` from user memory at `addr`.
    fn write(
        &self,
        _k: &mut Kernel,
        _hv: &mut Hypervisor,
        _pid: Pid,
        _addr: u64,
        _len: u64,
        _off: u64,
    ) -> KResult<u64> {
        Err(Errno::EINVAL)
    }
    /// The last descriptor to the open file was closed (`f_op->release`).
    fn release(&self, _k: &mut Kernel, _hv: &mut Hypervisor) {}
    /// The driver's own type, for code above the kernel (world, checks)
    /// that needs a driver's state (`file->private_data`).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// What an open file refers to.
#[derive(Clone, Debug)]
pub enum FileKind {
    /// A shmem inode: a tmpfs file or memfd.
    Shmem { inode: u32 },
    /// A device whose driver supplies the operations.
    Device(Rc<dyn FileOperations>),
}

/// `struct file`: shared between descriptors after fork.
#[derive(Clone, Debug)]
pub struct OpenFile {
    pub kind: FileKind,
    /// `O_ACCMODE` and the other open flags.
    pub flags: u64,
}

crate::uapi::uapi_family! {
    /// Open flags, x86-64 values (octal in include/uapi/asm-generic/fcntl.h).
    pub static O_FAMILY: Flags "O_", u64 {
        O_RDONLY = 0o0,
        O_WRONLY = 0o1,
        O_RDWR = 0o2,
        O_CREAT = 0o100,
        O_EXCL = 0o200,
        O_NOCTTY = 0o400,
        O_TRUNC = 0o1000,
        O_APPEND = 0o2000,
        O_NONBLOCK = 0o4000,
        O_DSYNC = 0o10000,
        O_DIRECT = 0o40000,
        O_LARGEFILE = 0o100000,
        O_DIRECTORY = 0o200000,
        O_NOFOLLOW = 0o400000,
        O_NOATIME = 0o1000000,
        O_CLOEXEC = 0o2000000,
        /// `__O_SYNC | O_DSYNC`.
        O_SYNC = 0o4010000,
        O_PATH = 0o10000000,
        /// `__O_TMPFILE | O_DIRECTORY`.
        O_TMPFILE = 0o20200000,
    }
    aliases {
        O_ACCMODE = 0o3,
        O_NDELAY = 0o4000,
    }
}

crate::uapi::uapi_family! {
    /// `MFD_*` (include/uapi/linux/memfd.h).
    pub static MFD_FAMILY: Flags "MFD_", u64 {
        MFD_CLOEXEC = 0x1,
        MFD_ALLOW_SEALING = 0x2,
        MFD_HUGETLB = 0x4,
        MFD_NOEXEC_SEAL = 0x8,
        MFD_EXEC = 0x10,
    }
}

impl OpenFile {
    pub fn readable(&self) -> bool {
        self.flags & O_ACCMODE != O_WRONLY
    }
    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR)
    }
}

/// A process's descriptor table.
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    fds: Vec<Option<Rc<OpenFile>>>,
}

/// `RLIMIT_NOFILE` default soft limit.
pub const NR_OPEN_DEFAULT: usize = 1024;

/// `/dev/null` (drivers/char/mem.c `null_fops`): what a
/// new process's standard descriptors are open on. Reads give end of file,
/// writes take everything; it has no `mmap` (`-ENODEV`).
#[derive(Debug)]
pub struct DevNull;

impl FileOperations for DevNull {
    fn path(&self) -> String {
        "/dev/null".to_owned()
    }
    /// `read_null`: 0.
    fn read(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _addr: u64, _len: u64, _off: u64) -> KResult<u64> {
        Ok(0)
    }
    /// `write_null`: the whole count.
    fn write(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _addr: u64, len: u64, _off: u64) -> KResult<u64> {
        Ok(len)
    }
}

impl FdTable {
    /// A new process's table: descriptors 0, 1 and 2 (stdin, stdout,
    /// stderr) open on `/dev/null`, `O_RDWR`, one open file as a shell's
    /// `</dev/null >&0 2>&0` would leave them; so the first `open` returns 3
    /// (`get_unused_fd_flags`). Simplification: the model has no terminal,
    /// so stdio is `/dev/null`.
    pub fn with_stdio() -> FdTable {
        let null = Rc::new(OpenFile { kind: FileKind::Device(Rc::new(DevNull)), flags: O_RDWR });
        FdTable { fds: vec![Some(null.clone()), Some(null.clone()), Some(null)] }
    }

    /// `get_unused_fd_flags()`: the lowest free slot.
    pub fn install(&mut self, f: Rc<OpenFile>) -> KResult<i32> {
        if let Some(i) = self.fds.iter().position(|s| s.is_none()) {
            self.fds[i] = Some(f);
            return Ok(i as i32);
        }
        if self.fds.len() >= NR_OPEN_DEFAULT {
            return Err(Errno::EMFILE);
        }
        self.fds.push(Some(f));
        Ok(self.fds.len() as i32 - 1)
    }
    pub fn get(&self, fd: u64) -> KResult<Rc<OpenFile>> {
        let i = i32::try_from(fd as i64).map_err(|_| Errno::EBADF)?;
        if i < 0 {
            return Err(Errno::EBADF);
        }
        self.fds.get(i as usize).cloned().flatten().ok_or(Errno::EBADF)
    }
    pub fn close(&mut self, fd: u64) -> KResult<Rc<OpenFile>> {
        let f = self.get(fd)?;
        self.fds[fd as usize] = None;
        Ok(f)
    }
    pub fn drain(&mut self) -> Vec<Rc<OpenFile>> {
        self.fds.drain(..).flatten().collect()
    }
}

/// A device node in /dev: `open` makes a new open file (`f_op->open`).
pub trait DeviceNode: fmt::Debug {
    fn open(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, flags: u64) -> KResult<Rc<dyn FileOperations>>;
    /// The driver's own type (e.g. a block device's disk), for the world.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
    /// `exit_aio()` at exit: complete every request `pid` has in flight on
    /// this device (the kernel waits for them before tearing the mm down).
    fn exit_aio(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid) {}
    /// Finish every request in flight whose pinned pages include one of
    /// `pfns`, keeping its result for the later completion call. Models a
    /// kernel path that sleeps until that I/O is done (one thread, so the
    /// device completes it now).
    fn wait_io_on_pages(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pfns: &[crate::kernel::page::Pfn]) {}
    /// The references requests in flight hold on `pfn` (1 per FOLL_GET,
    /// `GUP_PIN_COUNTING_BIAS` per FOLL_PIN), dropped when they complete.
    fn io_refs_on_page(&self, _pfn: crate::kernel::page::Pfn) -> i32 {
        0
    }
}

impl Kernel {
    /// Sleep until no in-flight device I/O holds any of `pfns`.
    pub fn wait_io_on_pages(&mut self, hv: &mut Hypervisor, pfns: &[crate::kernel::page::Pfn]) {
        let nodes: Vec<Rc<dyn DeviceNode>> = self.devices.values().cloned().collect();
        for n in nodes {
            n.wait_io_on_pages(self, hv, pfns);
        }
    }
    /// The references in-flight device I/O holds on `pfn`.
    pub fn io_refs_on_page(&self, pfn: crate::kernel::page::Pfn) -> i32 {
        self.devices.values().map(|n| n.io_refs_on_page(pfn)).sum()
    }
}
