//! File-related system calls on the model's filesystems: open, close,
//! memfd_create, ftruncate, pread/pwrite, ioctl; and setrlimit.
//!
//! Follows `fs/open.c`, `mm/memfd.c`, `mm/shmem.c` (`shmem_setattr`,
//! `shmem_file_read_iter`), `mm/truncate.c` (`truncate_pagecache`),
//! `kernel/sys.c` (`do_prlimit`).

use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::file::{FileKind, IoctlArg, O_ACCMODE, O_RDWR, OpenFile};
use crate::kernel::memory::Access;
use crate::kernel::mm::Rlimit;
use crate::kernel::shmem::InodeKind;
use crate::kernel::uaccess::Signal;
use crate::kernel::{Kernel, Pid};
use std::rc::Rc;

pub use crate::kernel::file::{O_CREAT, O_TRUNC};

crate::uapi::uapi_family! {
    /// `RLIMIT_*` (include/uapi/asm-generic/resource.h).
    pub static RLIMIT_FAMILY: Enum "RLIMIT_", u64 {
        RLIMIT_CPU = 0,
        RLIMIT_FSIZE = 1,
        RLIMIT_DATA = 2,
        RLIMIT_STACK = 3,
        RLIMIT_CORE = 4,
        RLIMIT_RSS = 5,
        RLIMIT_NPROC = 6,
        RLIMIT_NOFILE = 7,
        RLIMIT_MEMLOCK = 8,
        RLIMIT_AS = 9,
        RLIMIT_LOCKS = 10,
        RLIMIT_SIGPENDING = 11,
        RLIMIT_MSGQUEUE = 12,
        RLIMIT_NICE = 13,
        RLIMIT_RTPRIO = 14,
        RLIMIT_RTTIME = 15,
    }
    aliases {
        RLIMIT_NLIMITS = 16,
        RLIM_NLIMITS = 16,
    }
}

crate::uapi::uapi_family! {
    /// `RLIM_INFINITY` (include/uapi/asm-generic/resource.h).
    pub static RLIM_FAMILY: Enum "RLIM_", u64 {
        RLIM_INFINITY = u64::MAX,
    }
}

/// `MAX_LFS_FILESIZE` on 64-bit.
const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;

impl Kernel {
    /// open(2) of a path the model knows: `/dev/shm/NAME` or a device node.
    pub fn sys_open(&mut self, hv: &mut Hypervisor, pid: Pid, path: &str, flags: u64) -> KResult<u64> {
        self.proc_ref(pid)?;
        if flags & O_ACCMODE == O_ACCMODE {
            return Err(Errno::EINVAL);
        }
        let kind = if let Some(name) = path.strip_prefix("/dev/shm/") {
            let inode = match self.shmem.find_tmpfs(name) {
                Some(i) => i,
                None if flags & O_CREAT != 0 && !name.is_empty() && !name.contains('/') => {
                    self.shmem.create(name, InodeKind::Tmpfs, 0)
                }
                None => return Err(Errno::ENOENT),
            };
            if flags & O_TRUNC != 0 && flags & O_ACCMODE != 0 {
                self.shmem_truncate(hv, inode, 0);
            }
            self.shmem_get(inode);
            FileKind::Shmem { inode }
        } else if let Some(node) = self.devices.get(path).cloned() {
            FileKind::Device(node.open(self, hv, pid, flags)?)
        } else {
            return Err(Errno::ENOENT);
        };
        let f = Rc::new(OpenFile { kind, flags });
        let fd = self.proc_mut(pid)?.files.install(f)?;
        Ok(fd as u64)
    }

    /// memfd_create(2) with no flags.
    pub fn sys_memfd_create(&mut self, pid: Pid, name: &str) -> KResult<u64> {
        // MFD_NAME_MAX_LEN = NAME_MAX - strlen("memfd:") = 249.
        if name.len() > 249 {
            return Err(Errno::EINVAL);
        }
        self.proc_ref(pid)?;
        let inode = self.shmem.create(name, InodeKind::Memfd, 0);
        self.shmem_get(inode);
        let f = Rc::new(OpenFile { kind: FileKind::Shmem { inode }, flags: O_RDWR });
        let fd = self.proc_mut(pid)?.files.install(f)?;
        Ok(fd as u64)
    }

    /// close(2).
    pub fn sys_close(&mut self, hv: &mut Hypervisor, pid: Pid, fd: u64) -> KResult<u64> {
        let f = self.proc_mut(pid)?.files.close(fd)?;
        self.fput(hv, f);
        Ok(0)
    }

    /// ftruncate(2) on a shmem file.
    pub fn sys_ftruncate(&mut self, hv: &mut Hypervisor, pid: Pid, fd: u64, len: u64) -> KResult<u64> {
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let f = self.proc_ref(pid)?.files.get(fd)?;
        let FileKind::Shmem { inode } = f.kind else { return Err(Errno::EINVAL) };
        if !f.writable() {
            return Err(Errno::EINVAL);
        }
        if len > MAX_LFS_FILESIZE {
            return Err(Errno::EFBIG);
        }
        self.shmem_truncate(hv, inode, len);
        Ok(0)
    }

    /// `shmem_setattr()` size change: `truncate_pagecache()` zaps every
    /// mapping of the cut-off pages (private COW copies too), then the page
    /// cache drops them.
    pub fn shmem_truncate(&mut self, hv: &mut Hypervisor, inode: u32, size: u64) {
        let Some(ino) = self.shmem.get_mut(inode) else { return };
        let old = ino.size;
        ino.size = size;
        if size >= old {
            return;
        }
        let first = size.div_ceil(4096);
        let pids: Vec<Pid> = self.procs.keys().copied().collect();
        for pid in pids {
            let Ok(mm) = self.mm(pid) else { continue };
            let vmas: Vec<_> = mm.vmas.values().filter(|v| v.shmem_inode() == Some(inode)).cloned().collect();
            for v in vmas {
                let vend_idx = v.pgoff + v.pages();
                if vend_idx <= first {
                    continue;
                }
                let s = if first > v.pgoff { v.start + ((first - v.pgoff) << 12) } else { v.start };
                self.zap_vma_range(hv, pid, &v, s, v.end, false);
            }
        }
        // shmem_undo_range() (mm/shmem.c, 6.12, lines 1073-1085): the page
        // holding the new EOF, if in the page cache, is marked dirty
        // (folio_mark_dirty: smaps counts it in Private/Shared_Dirty even
        // when only read) and its tail zeroed (truncate_inode_partial_folio).
        if !size.is_multiple_of(4096)
            && let Some(&p) = self.shmem.get(inode).and_then(|i| i.pages.get(&(size / 4096)))
        {
            self.mem.page_mut(p).flags |= crate::kernel::page::PageFlags::DIRTY;
            let off = (size % 4096) as usize;
            let _ = self.write_page(hv, p, off, &vec![0u8; 4096 - off]);
        }
        let gone: Vec<_> = match self.shmem.get_mut(inode) {
            Some(i) => {
                let keep = i.pages.split_off(&first);
                let cut = std::mem::replace(&mut i.pages, keep);
                std::mem::replace(&mut i.pages, cut).into_values().collect()
            }
            None => return,
        };
        for p in gone {
            self.mem.page_mut(p).mapping = crate::kernel::page::Mapping::None;
            self.put_page(p);
        }
    }

    /// pread(2): devices through their driver, shmem by copying.
    pub fn sys_pread(&mut self, hv: &mut Hypervisor, pid: Pid, fd: u64, addr: u64, len: u64, off: u64) -> KResult<u64> {
        // fs/read_write.c ksys_pread64(): a negative position is EINVAL
        // before the descriptor is looked up.
        if (off as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let f = self.proc_ref(pid)?.files.get(fd)?;
        if !f.readable() {
            return Err(Errno::EBADF);
        }
        match &f.kind {
            FileKind::Device(d) => d.clone().read(self, hv, pid, addr, len, off),
            FileKind::Shmem { inode } => {
                let size = self.shmem.get(*inode).map_or(0, |i| i.size);
                let n = size.saturating_sub(off).min(len).min(0x7fff_f000);
                let mut data = vec![0u8; n as usize];
                self.shmem_read(hv, *inode, off, &mut data);
                self.user_write(hv, pid, addr, &data).map_err(|_: Signal| Errno::EFAULT)?;
                Ok(n)
            }
        }
    }

    /// Read `buf.len()` bytes of a shmem file at `off` (holes read as zero).
    fn shmem_read(&self, hv: &Hypervisor, inode: u32, off: u64, buf: &mut [u8]) {
        let Some(i) = self.shmem.get(inode) else { return };
        let mut pos = 0usize;
        while pos < buf.len() {
            let o = off + pos as u64;
            let in_page = (o % 4096) as usize;
            let n = (4096 - in_page).min(buf.len() - pos);
            if let Some(&p) = i.pages.get(&(o / 4096)) {
                let _ = self.read_page(hv, p, in_page, &mut buf[pos..pos + n]);
            }
            pos += n;
        }
    }

    /// pwrite(2).
    pub fn sys_pwrite(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        fd: u64,
        addr: u64,
        len: u64,
        off: u64,
    ) -> KResult<u64> {
        // fs/read_write.c ksys_pwrite64(): position checked first.
        if (off as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let f = self.proc_ref(pid)?.files.get(fd)?;
        if !f.writable() {
            return Err(Errno::EBADF);
        }
        match &f.kind {
            FileKind::Device(d) => d.clone().write(self, hv, pid, addr, len, off),
            FileKind::Shmem { inode } => {
                let inode = *inode;
                // generic_write_checks(): nothing to write, nothing changes
                // (the size is not extended to `off`).
                if len == 0 {
                    return Ok(0);
                }
                let len = len.min(0x7fff_f000);
                let data = self.user_read(hv, pid, addr, len).map_err(|_| Errno::EFAULT)?;
                let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
                let mut pos = 0usize;
                while pos < data.len() {
                    let o = off + pos as u64;
                    let in_page = (o % 4096) as usize;
                    let n = (4096 - in_page).min(data.len() - pos);
                    if let Some(i) = self.shmem.get_mut(inode) {
                        i.size = i.size.max(o + n as u64);
                    }
                    let p = self.shmem_get_page(hv, pid, inode, o / 4096).map_err(|_| Errno::ENOMEM)?;
                    self.write_page(hv, p, in_page, &data[pos..pos + n])?;
                    self.mem.page_mut(p).flags |= crate::kernel::page::PageFlags::DIRTY;
                    pos += n;
                }
                if let Some(i) = self.shmem.get_mut(inode) {
                    i.size = i.size.max(end);
                }
                Ok(len)
            }
        }
    }

    /// ioctl(2): devices only.
    pub fn sys_ioctl(&mut self, hv: &mut Hypervisor, pid: Pid, fd: u64, req: u64, args: &[IoctlArg]) -> KResult<u64> {
        let f = self.proc_ref(pid)?.files.get(fd)?;
        match &f.kind {
            FileKind::Device(d) => d.clone().ioctl(self, hv, pid, req, args),
            FileKind::Shmem { .. } => Err(Errno::ENOTTY),
        }
    }

    /// setrlimit(2) (`do_prlimit`): raising the hard limit needs
    /// CAP_SYS_RESOURCE.
    pub fn sys_setrlimit(&mut self, pid: Pid, resource: u64, cur: u64, max: u64) -> KResult<u64> {
        if cur > max {
            return Err(Errno::EINVAL);
        }
        let p = self.proc_mut(pid)?;
        let cap = p.cap_sys_resource;
        let slot = match resource {
            RLIMIT_DATA => &mut p.rlimits.data,
            RLIMIT_STACK => &mut p.rlimits.stack,
            RLIMIT_MEMLOCK => &mut p.rlimits.memlock,
            RLIMIT_AS => &mut p.rlimits.as_,
            r if r < 16 => return Ok(0),
            _ => return Err(Errno::EINVAL),
        };
        if max > slot.max && !cap {
            return Err(Errno::EPERM);
        }
        *slot = Rlimit { cur, max };
        Ok(0)
    }

    /// setuid(2), as kernel/sys.c `__sys_setuid`: an invalid uid
    /// (`(uid_t)-1`) is EINVAL; with CAP_SETUID (root) every uid changes;
    /// otherwise only a switch to the current uid is allowed, else EPERM.
    /// Simplification: one uid per process (no separate real, effective,
    /// saved and fs uids).
    pub fn sys_setuid(&mut self, pid: Pid, uid: u32) -> KResult<u64> {
        if uid == u32::MAX {
            return Err(Errno::EINVAL);
        }
        let p = self.proc_mut(pid)?;
        if p.capable() || p.uid == uid {
            // commoncap.c cap_emulate_setxuid(): leaving uid 0 clears the
            // effective set (CAP_SYS_RESOURCE among it).
            if p.uid == 0 && uid != 0 {
                p.cap_sys_resource = false;
            }
            p.uid = uid;
            Ok(0)
        } else {
            Err(Errno::EPERM)
        }
    }

    /// `touch` entry for the interpreter.
    pub fn sys_touch(&mut self, hv: &mut Hypervisor, pid: Pid, addr: u64, len: u64, write: bool) -> Result<(), Signal> {
        self.user_touch(hv, pid, addr, len, if write { Access::Write } else { Access::Read })
    }
}
