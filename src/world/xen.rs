//! The world's Xen calls: domain (kernel-level) calls of a scenario's
//! domain actors, disks and their calls, split asynchronous I/O, the
//! kernels' deferred work, and `show grants`.
//!
//! What a script sees: every call returns a number or bytes. Domain calls
//! return `Result<_, XenError>`: `Ok(n)` prints as the number (a PFN, a
//! grant ref, an MFN, a byte count, 0); `Err(XenError::Errno(e))` as
//! `-ENAME` like a syscall; `Err(XenError::Gntst(s))` as the negative
//! `GNTST_*` value (`XenError::ret()` gives the raw number for both).
//! Disk and I/O calls return `KResult` like syscalls.

use super::World;
use crate::drivers;
use crate::drivers::blkdev::{BlkDevFile, BlkDevNode, Disk, UserIo};
use crate::drivers::privcmd::PrivcmdFile;
use crate::errno::{Errno, KResult};
use crate::hv::truth::Violation;
use crate::kernel::file::FileKind;
use crate::kernel::p2m::INVALID_P2M_ENTRY;
use crate::kernel::page::{FIRST_FREE_PFN, Mapping, PageFlags, Pfn};
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::xen::interface::grant_table::GntSt;
use std::fmt;
use std::rc::Rc;

/// A failed domain call: an errno, or a grant-table status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XenError {
    Errno(Errno),
    Gntst(GntSt),
}

impl XenError {
    /// The raw value a script prints: `-errno`, or the `GNTST_*` code.
    pub fn ret(self) -> i64 {
        match self {
            XenError::Errno(e) => -(e.0 as i64),
            XenError::Gntst(s) => s.code() as i64,
        }
    }
    /// `ret()` as a 64-bit two's complement, like `Errno::as_ret`.
    pub fn as_ret(self) -> u64 {
        self.ret() as u64
    }
    /// The errno, when it is one.
    pub fn errno(self) -> Option<Errno> {
        match self {
            XenError::Errno(e) => Some(e),
            XenError::Gntst(_) => None,
        }
    }
}

impl From<Errno> for XenError {
    fn from(e: Errno) -> Self {
        XenError::Errno(e)
    }
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XenError::Errno(e) => write!(f, "-{e}"),
            XenError::Gntst(s) => write!(f, "{}", s.code()),
        }
    }
}

pub type XenResult<T> = Result<T, XenError>;

/// A disk: its domain in the high 16 bits, its number there in the low.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiskId(pub u32);

/// The fields of one `struct iocb` (include/uapi/linux/aio_abi.h) that
/// `World::io_submit` reads: `aio_lio_opcode` (PWRITE = `write`),
/// `aio_buf`, `aio_nbytes`, `aio_offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iocb {
    pub write: bool,
    pub addr: u64,
    pub len: u64,
    pub off: u64,
}

pub use crate::drivers::blkdev::DEFAULT_DISK_SECTORS;

/// The block-device node of `k` at `/dev/NAME`, if it is a disk.
fn disk_in(k: &Kernel, name: &str) -> Option<Rc<Disk>> {
    let node = k.devices.get(&format!("/dev/{name}"))?;
    node.as_any()?.downcast_ref::<BlkDevNode>().map(|b| b.disk.clone())
}

/// Every disk of `k`.
fn disks_of(k: &Kernel) -> Vec<Rc<Disk>> {
    k.devices.values().filter_map(|n| n.as_any()?.downcast_ref::<BlkDevNode>().map(|b| b.disk.clone())).collect()
}

impl World {
    /// `add_domain` plus the Xen device nodes of a PV guest
    /// (`/dev/xen/gntdev`, `/dev/xen/privcmd`).
    pub fn add_xen_domain(&mut self, name: &str, pv: bool, pages: u64, privileged: bool) -> KResult<DomId> {
        let d = self.add_domain(name, pv, pages, privileged)?;
        self.attach_xen_drivers(d)?;
        Ok(d)
    }

    /// Register the Xen device nodes in `dom`'s kernel (PV guests only).
    pub fn attach_xen_drivers(&mut self, dom: DomId) -> KResult<()> {
        let (k, _) = self.kh(dom)?;
        drivers::register_xen_devices(k);
        Ok(())
    }

    /// `disk NAME in DOMAIN [sectors=N]`: a block device `/dev/NAME` of
    /// `dom`; its id names it in the disk calls. EEXIST for a name already
    /// used by a disk anywhere, EINVAL for an empty name, one with `/`, or
    /// 0 sectors.
    pub fn add_disk(&mut self, name: &str, dom: DomId, sectors: u64) -> KResult<DiskId> {
        if name.is_empty() || name.contains('/') || sectors == 0 {
            return Err(Errno::EINVAL);
        }
        if self.disk(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let (k, _) = self.kh(dom)?;
        let path = format!("/dev/{name}");
        if k.devices.contains_key(&path) {
            return Err(Errno::EEXIST);
        }
        let existing = disks_of(k);
        let counter = existing.first().map(|d| d.req_counter()).unwrap_or_default();
        let id = DiskId((dom as u32) << 16 | existing.len() as u32);
        let disk = Rc::new(Disk::new(name, sectors, counter, id.0 as u64));
        k.devices.insert(path, Rc::new(BlkDevNode { disk }));
        Ok(id)
    }

    /// The disk called `name`, with its id and domain.
    pub fn disk(&self, name: &str) -> Option<(DiskId, DomId, Rc<Disk>)> {
        self.domains.iter().find_map(|d| disk_in(&d.kernel, name).map(|x| (DiskId(x.ino() as u32), d.id, x)))
    }

    /// The disk with id `id`.
    pub fn disk_by_id(&self, id: DiskId) -> Option<Rc<Disk>> {
        let k = self.kernel((id.0 >> 16) as DomId).ok()?;
        disks_of(k).into_iter().find(|d| d.ino() == id.0 as u64)
    }

    /// Disk call `write(off, BYTES)`: the device's own contents. Returns
    /// the bytes written; ENOSPC at or beyond the end (ENODEV: no such disk).
    pub fn disk_write(&mut self, id: DiskId, off: u64, data: &[u8]) -> KResult<u64> {
        let d = self.disk_by_id(id).ok_or(Errno::ENODEV)?;
        if off >= d.size() && !data.is_empty() {
            return Err(Errno::ENOSPC);
        }
        Ok(d.write(off, data))
    }

    /// Disk call `read(off, len)`: short at the end of the device.
    pub fn disk_read(&self, id: DiskId, off: u64, len: u64) -> KResult<Vec<u8>> {
        let d = self.disk_by_id(id).ok_or(Errno::ENODEV)?;
        Ok(d.read(off, len))
    }

    /// `io_submit(fd, READ|WRITE, addr, len, off)` by `pid` of `dom`: one
    /// iocb on a disk. Returns the request id. Fails only as `io_submit`
    /// does for the iocb itself: EBADF (bad fd, or not open for that
    /// direction), EINVAL (a negative offset, or not a block device in the
    /// model); every other error (alignment, GUP) is the request's result,
    /// reported by `io_complete`.
    pub fn io_submit(&mut self, dom: DomId, pid: Pid, fd: u64, io: Iocb) -> KResult<u64> {
        let Iocb { write, addr, len, off } = io;
        let (k, hv) = self.kh(dom)?;
        let f = k.proc_ref(pid)?.files.get(fd)?;
        if write && !f.writable() || !write && !f.readable() {
            return Err(Errno::EBADF);
        }
        if (off as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        let FileKind::Device(ops) = &f.kind else {
            return Err(Errno::EINVAL);
        };
        let blk = ops.as_any().and_then(|a| a.downcast_ref::<BlkDevFile>()).ok_or(Errno::EINVAL)?;
        let disk = blk.disk.clone();
        let direct = blk.direct();
        Ok(disk.submit(k, hv, UserIo { pid, to_device: write, addr, len, off }, direct))
    }

    /// `io_complete(req)`: the device finishes request `req` of `pid` (DMA,
    /// then unpin) and the result is reaped: bytes transferred or -errno.
    /// EINVAL for an id that is not an outstanding request of `pid`.
    pub fn io_complete(&mut self, dom: DomId, pid: Pid, req: u64) -> KResult<u64> {
        let (k, hv) = self.kh(dom)?;
        k.proc_ref(pid)?;
        for d in disks_of(k) {
            if let Some(r) = d.take_request(req, Some(pid)) {
                return d.complete(k, hv, r, "io_complete");
            }
        }
        Err(Errno::EINVAL)
    }

    /// Per-frame results of the last `IOCTL_PRIVCMD_MMAPBATCH_V2` on `fd`
    /// (the uapi `err` array: 0 or -errno).
    pub fn privcmd_errors(&self, dom: DomId, pid: Pid, fd: u64) -> KResult<Vec<i64>> {
        let f = self.kernel(dom)?.proc_ref(pid)?.files.get(fd)?;
        let FileKind::Device(ops) = &f.kind else {
            return Err(Errno::EINVAL);
        };
        let p = ops.as_any().and_then(|a| a.downcast_ref::<PrivcmdFile>()).ok_or(Errno::EINVAL)?;
        Ok(p.last_errors())
    }

    // ---- domain calls ---------------------------------------------------

    /// `alloc_page()` (GFP_KERNEL, not zeroed): the PFN.
    pub fn alloc_page(&mut self, dom: DomId) -> XenResult<u64> {
        let (k, _) = self.kh(dom)?;
        Ok(k.alloc_page()?.0)
    }

    /// `reclaim()`: one reclaim pass over the domain's lazy-free pages
    /// (`Kernel::shrink_lazyfree`, mm/vmscan.c); the number of pages freed.
    pub fn reclaim(&mut self, dom: DomId) -> XenResult<u64> {
        let (k, hv) = self.kh(dom)?;
        Ok(k.shrink_lazyfree(hv))
    }

    /// `fail_page_alloc` fault injection (Documentation/fault-injection/
    /// fault-injection.rst, /sys/kernel/debug/fail_page_alloc with
    /// probability 100): once `space` bytes of page allocations have been
    /// made, the next `times` allocations of the domain's kernel fail
    /// (page tables, anonymous and page-cache pages, `alloc_page`). 0.
    pub fn fail_page_alloc(&mut self, dom: DomId, space: u64, times: u64) -> XenResult<u64> {
        let (k, _) = self.kh(dom)?;
        k.fail_page_alloc(space, u32::try_from(times).unwrap_or(u32::MAX));
        Ok(0)
    }

    /// A page the domain may read or write: EINVAL for PFNs beyond the
    /// memmap, reserved, ballooned or free pages.
    fn check_page(k: &Kernel, pfn: u64) -> XenResult<Pfn> {
        let p = Pfn(pfn);
        let page = k.memmap().get(p).ok_or(Errno::EINVAL)?;
        if pfn < FIRST_FREE_PFN || page.flags.intersects(PageFlags::BALLOON | PageFlags::BUDDY) || page.refcount <= 0 {
            return Err(Errno::EINVAL.into());
        }
        Ok(p)
    }

    /// `free_page(pfn)` (`__free_page`: drops the allocation's reference).
    /// Freeing a frame that another domain still has grant-mapped is
    /// recorded as `grant-frame-freed`.
    /// EINVAL too for a page someone else owns: a page table, a mapped or
    /// page-cache page, a driver's (PG_private/PG_foreign) page (Linux would
    /// corrupt itself; the model refuses).
    pub fn free_page(&mut self, dom: DomId, pfn: u64) -> XenResult<u64> {
        let (k, hv) = self.kh(dom)?;
        let p = Self::check_page(k, pfn)?;
        let pg = k.memmap().page(p);
        let owned = PageFlags::TABLE | PageFlags::PRIVATE | PageFlags::FOREIGN;
        if pg.flags.intersects(owned) || pg.mapcount != 0 || pg.mapping != Mapping::None {
            return Err(Errno::EINVAL.into());
        }
        if let Some(m) = k.page_to_mfn(p) {
            for r in hv.grant_maps_of_frame(m).filter(|r| r.granter == dom).collect::<Vec<_>>() {
                hv.observed.push(Violation {
                    invariant: crate::invariants::Invariant::GrantFrameFreed,
                    message: format!(
                        "d{dom} freed pfn {:#x} (mfn {:#x}) while d{} has it mapped through grant ref {:#x} (handle {:#x})",
                        p.0, m.0, r.grantee, r.gref, r.handle
                    ),
                    domains: vec![dom, r.grantee],
                    pfns: vec![p.0],
                    mfns: vec![m.0],
                });
            }
        }
        k.put_page(p);
        Ok(0)
    }

    /// `write_page(pfn, off, BYTES)` through the kernel mapping (the
    /// machine frame the P2M names). EINVAL past the page end, EFAULT when
    /// the page has no machine frame or is a page table.
    pub fn write_page(&mut self, dom: DomId, pfn: u64, off: u64, data: &[u8]) -> XenResult<u64> {
        let (k, hv) = self.kh(dom)?;
        let p = Self::check_page(k, pfn)?;
        if off.checked_add(data.len() as u64).is_none_or(|e| e > 4096) {
            return Err(Errno::EINVAL.into());
        }
        // Page tables are read-only to a PV guest: the write faults.
        if k.memmap().page(p).flags.contains(PageFlags::TABLE) && k.pv {
            return Err(Errno::EFAULT.into());
        }
        k.write_page(hv, p, off as usize, data)?;
        Ok(data.len() as u64)
    }

    /// `read_page(pfn, off, len)`.
    pub fn read_page(&self, dom: DomId, pfn: u64, off: u64, len: u64) -> XenResult<Vec<u8>> {
        let k = self.kernel(dom)?;
        let p = Self::check_page(k, pfn)?;
        if off.checked_add(len).is_none_or(|e| e > 4096) {
            return Err(Errno::EINVAL.into());
        }
        let mut buf = vec![0u8; len as usize];
        k.read_page(&self.hv, p, off as usize, &mut buf)?;
        Ok(buf)
    }

    /// `gnttab_grant_foreign_access(grantee, pfn_to_gfn(pfn), readonly)`:
    /// the grant ref. Like Linux, neither the PFN nor the grantee is
    /// checked: a PFN without memory grants frame `~0` (a map of it fails
    /// with `GNTST_bad_page`), an unknown grantee can never map it. ENOSPC
    /// when the table cannot grow; ENODEV in a native domain.
    pub fn gnttab_grant_foreign_access(
        &mut self,
        dom: DomId,
        pfn: u64,
        grantee: DomId,
        readonly: bool,
    ) -> XenResult<u64> {
        let (k, hv) = self.kh(dom)?;
        let frame = k.p2m().pfn_to_mfn(Pfn(pfn)).map_or(INVALID_P2M_ENTRY, |m| m.0);
        Ok(k.gnttab_grant_foreign_access(hv, grantee, frame, readonly)? as u64)
    }

    /// `gnttab_end_foreign_access(gref, NULL)`: 0 when access ended and the
    /// ref is free again; `-EBUSY` when the grantee still has it mapped
    /// (dmesg "g.e. still in use", "deferring g.e."): the deferred timer
    /// ends access and frees the ref once it is unmapped. EINVAL for a ref
    /// that is not in use.
    pub fn gnttab_end_foreign_access(&mut self, dom: DomId, gref: u64) -> XenResult<u64> {
        let (k, hv) = self.kh(dom)?;
        let gref = u32::try_from(gref).map_err(|_| Errno::EINVAL)?;
        let ended = k.gnttab_end_foreign_access(hv, gref, None)?;
        hv.trace.emit(|| crate::trace::Event::EndForeignAccess {
            dom,
            gref,
            result: if ended { "ended" } else { "still in use (GTF_reading|GTF_writing): deferred" },
        });
        if ended {
            return Ok(0);
        }
        hv.trace.emit(|| crate::trace::Event::DeferredQueued {
            dom,
            what: format!(
                "gnttab_add_deferred: g.e. {gref:#x} leaves the guest's free list; gnttab_handle_deferred ends access and frees it once the grantee has unmapped it"
            ),
        });
        Err(Errno::EBUSY.into())
    }

    /// `pfn_to_mfn(pfn)`: the P2M entry without its tag bits, `~0`
    /// (`INVALID_P2M_ENTRY`) when there is no memory behind the PFN.
    pub fn pfn_to_mfn(&self, dom: DomId, pfn: u64) -> XenResult<u64> {
        let k = self.kernel(dom)?;
        Ok(k.p2m().pfn_to_mfn(Pfn(pfn)).map_or(INVALID_P2M_ENTRY, |m| m.0))
    }

    // ---- time ---------------------------------------------------------------

    /// Let every kernel's deferred work run once (the interpreter calls it
    /// after every step): each pending grant unmap is retried once, the
    /// deferred end-access timer fires. Returns whether anything was
    /// pending.
    pub fn run_deferred_work(&mut self) -> bool {
        let mut any = false;
        for d in &mut self.domains {
            let pending = (d.kernel.xen.unmap_work.len(), d.kernel.xen.deferred.len());
            let ran = d.kernel.run_xen_deferred_work(&mut self.hv);
            any |= ran;
            if ran {
                let dom = d.id;
                self.hv.trace.emit(|| crate::trace::Event::DeferredRun {
                    dom,
                    what: format!(
                        "{} gnttab_unmap_work item(s), gnttab_handle_deferred over {} deferred g.e.",
                        pending.0, pending.1
                    ),
                });
            }
        }
        any
    }

    /// `show grants DOMAIN`.
    pub fn show_grants(&self, dom: DomId) -> String {
        self.hv.format_grants(dom)
    }
}
