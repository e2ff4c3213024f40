//! A block device with its own contents, read and written with `pread` /
//! `pwrite` (buffered copy, or O_DIRECT DMA into pinned user pages) and
//! with split asynchronous I/O (`io_submit` pins, `io_complete` DMAs).
//!
//! Follows `block/fops.c` (`blkdev_read_iter`, `blkdev_write_iter`,
//! `blkdev_direct_IO`, `blkdev_dio_invalid`, `__blkdev_direct_IO_simple`),
//! `block/bio.c` (`bio_iov_iter_get_pages`: user pages pinned with
//! FOLL_PIN, FOLL_WRITE when the device writes memory; a partial pin gives
//! a short transfer; released by `bio_release_pages`, which dirties pages
//! read into) and `fs/aio.c` (errors of `read_iter`/`write_iter` complete
//! the iocb, `io_submit` itself fails only for a bad descriptor, mode or
//! position).
//!
//! The DMA engine is programmed with `page_to_mfn(page)` as the guest
//! believes it *when the transfer happens* (at `io_complete`), and writes
//! machine memory there. At submit the model records, per page, the
//! machine frame the user's PTE really mapped (ground truth). When the DMA
//! goes elsewhere (`dma-misdirected`), or into a frame of another domain
//! that the issuing domain no longer has mapped by a grant
//! (`dma-not-granted`), a violation is recorded in `hv.observed`.
//!
//! With 6.18 GUP, a special PTE whose `vm_normal_page()` finds no page
//! fails the pin with -EEXIST ("PTE exists but no struct page"), which is
//! what `pread` returns then; a VM_IO/VM_PFNMAP VMA (privcmd) fails with
//! -EFAULT. Simplifications: no page cache behind the buffered path (a
//! plain copy through user memory), one bio per request, 512-byte logical
//! blocks and DMA alignment, never read-only, not a swap device.

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, Pte};
use crate::errno::{Errno, KResult};
use crate::frame_map::FrameMap;
use crate::hv::Hypervisor;
use crate::hv::truth::Violation;
use crate::kernel::file::{DeviceNode, FileOperations, O_DIRECT};
use crate::kernel::gup::{FOLL_PIN, FOLL_WRITE, FollFlags, GupPage};
use crate::kernel::page::{Mfn, Pfn};
use crate::kernel::{Kernel, Pid};
use crate::trace::Event;
use crate::types::DomId;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub const SECTOR_SIZE: u64 = 512;
/// Default size of a `disk` declared without `sectors=` (1 GiB).
pub const DEFAULT_DISK_SECTORS: u64 = 1 << 21;
/// `MAX_RW_COUNT`: `INT_MAX & PAGE_MASK`.
pub const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// The device's own contents, stored per 4 KiB chunk once written.
#[derive(Debug)]
pub struct Disk {
    pub name: String,
    pub sectors: u64,
    data: RefCell<FrameMap<crate::hv::machine::Page>>,
    /// I/O submitted and not completed, by request id.
    requests: RefCell<BTreeMap<u64, IoRequest>>,
    /// Request ids, shared by the disks of one domain.
    next_req: Rc<Cell<u64>>,
    ino: u64,
}

/// One user I/O as a file's read/write or `io_submit` hands it to the
/// block layer: the task, the direction, the user buffer (`struct
/// iov_iter`: a source when the device reads memory) and the position
/// (`kiocb->ki_pos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserIo {
    pub pid: Pid,
    /// Memory to device (`IOCB_CMD_PWRITE`, `write()`).
    pub to_device: bool,
    pub addr: u64,
    pub len: u64,
    pub off: u64,
}

/// One asynchronous request. It owns the pins of its pages (not `Clone`).
#[derive(Debug)]
pub struct IoRequest {
    pub id: u64,
    pub pid: Pid,
    /// Memory to device (`IOCB_CMD_PWRITE`).
    pub to_device: bool,
    pub addr: u64,
    pub off: u64,
    /// Bytes the bio covers (after truncation and a short pin).
    pub len: u64,
    pub pages: Vec<GupPage>,
    /// Ground truth: the machine frame each page's PTE mapped at submit.
    pub truth: Vec<Option<Mfn>>,
    /// Completed at submit (an error, or nothing to transfer).
    pub result: Option<KResult<u64>>,
}

impl Disk {
    pub fn new(name: &str, sectors: u64, next_req: Rc<Cell<u64>>, ino: u64) -> Disk {
        Disk { name: name.to_string(), sectors, data: RefCell::default(), requests: RefCell::default(), next_req, ino }
    }
    pub fn size(&self) -> u64 {
        self.sectors.saturating_mul(SECTOR_SIZE)
    }
    /// 4 KiB blocks with stored contents (for the model's
    /// `MAX_STORED_FRAMES` limit on stored contents, see hv/machine.rs).
    pub fn stored_blocks(&self) -> usize {
        self.data.borrow().len()
    }
    /// The id the world gave the disk (also its inode number).
    pub fn ino(&self) -> u64 {
        self.ino
    }
    /// The shared request-id counter.
    pub fn req_counter(&self) -> Rc<Cell<u64>> {
        self.next_req.clone()
    }

    /// Read `len` bytes at `off`; bytes beyond the end are not returned,
    /// nor more than `MAX_RW_COUNT` at once.
    pub fn read(&self, off: u64, len: u64) -> Vec<u8> {
        let end = off.saturating_add(len.min(MAX_RW_COUNT)).min(self.size());
        let mut out = Vec::with_capacity(end.saturating_sub(off).min(1 << 24) as usize);
        let data = self.data.borrow();
        let mut pos = off;
        while pos < end {
            let chunk = pos / PAGE_SIZE;
            let in_chunk = (pos % PAGE_SIZE) as usize;
            let n = ((PAGE_SIZE - in_chunk as u64).min(end - pos)) as usize;
            match data.get(chunk) {
                Some(c) => out.extend_from_slice(&c[in_chunk..in_chunk + n]),
                None => out.resize(out.len() + n, 0),
            }
            pos += n as u64;
        }
        out
    }

    /// Write `bytes` at `off`; what lies beyond the end is dropped. Returns
    /// the bytes written.
    pub fn write(&self, off: u64, bytes: &[u8]) -> u64 {
        let end = off.saturating_add(bytes.len() as u64).min(self.size());
        let mut data = self.data.borrow_mut();
        let mut pos = off;
        while pos < end {
            let chunk = pos / PAGE_SIZE;
            let in_chunk = (pos % PAGE_SIZE) as usize;
            let n = ((PAGE_SIZE - in_chunk as u64).min(end - pos)) as usize;
            let src = &bytes[(pos - off) as usize..(pos - off) as usize + n];
            if src.iter().any(|&b| b != 0) || data.contains_key(chunk) {
                let c = data.get_or_insert_with(chunk, || Rc::new([0u8; PAGE_SIZE as usize]));
                Rc::make_mut(c)[in_chunk..in_chunk + n].copy_from_slice(src);
            }
            pos += n as u64;
        }
        end.saturating_sub(off)
    }

    /// The page-aligned block at byte offset `off`, shared (None: zeros).
    pub fn block(&self, off: u64) -> Option<crate::hv::machine::Page> {
        self.data.borrow().get(off / PAGE_SIZE).cloned()
    }
    /// Replace the page-aligned block at `off` (None: zeros); ignored past
    /// the end of the disk.
    pub fn set_block(&self, off: u64, p: Option<crate::hv::machine::Page>) {
        if off >= self.size() {
            return;
        }
        let mut d = self.data.borrow_mut();
        match p {
            Some(p) => {
                d.insert(off / PAGE_SIZE, p);
            }
            None => {
                d.remove(off / PAGE_SIZE);
            }
        }
    }

    /// Requests in flight (for checks and reports), by id. A request owns
    /// its pages' GUP references, so it is lent, never copied.
    pub fn in_flight(&self) -> std::cell::Ref<'_, BTreeMap<u64, IoRequest>> {
        self.requests.borrow()
    }
    pub fn has_request(&self, id: u64) -> bool {
        self.requests.borrow().contains_key(&id)
    }
    /// Take a request for completion; `pid` must be its submitter.
    pub fn take_request(&self, id: u64, pid: Option<Pid>) -> Option<IoRequest> {
        let mut r = self.requests.borrow_mut();
        match r.get(&id) {
            Some(q) if pid.is_none_or(|p| p == q.pid) => r.remove(&id),
            _ => None,
        }
    }

    /// Submit: the block layer's checks and the pinning of user pages
    /// (`blkdev_{read,write}_iter` + `blkdev_direct_IO` up to `submit_bio`).
    /// The request always gets an id; a failure completes it at once.
    pub fn submit(&self, k: &mut Kernel, hv: &mut Hypervisor, io: UserIo, direct: bool) -> u64 {
        let UserIo { pid, to_device, addr, len, off } = io;
        let id = self.next_req.get() + 1;
        self.next_req.set(id);
        let mut req =
            IoRequest { id, pid, to_device, addr, off, len: 0, pages: Vec::new(), truth: Vec::new(), result: None };
        if let Err(e) = self.prepare(k, hv, &mut req, direct, len) {
            req.result = Some(Err(e));
        }
        let dom = k.domid;
        hv.trace.emit(|| Event::BioSubmit {
            dom,
            pid,
            req: id,
            op: if to_device { "write" } else { "read" },
            addr,
            len: req.len,
            off,
            pfns: req.pages.iter().map(|p| p.pfn.0).collect(),
            error: match req.result {
                Some(Err(e)) => e.name(),
                _ => None,
            },
        });
        self.requests.borrow_mut().insert(id, req);
        id
    }

    fn prepare(&self, k: &mut Kernel, hv: &mut Hypervisor, req: &mut IoRequest, direct: bool, len: u64) -> KResult<()> {
        let size = self.size();
        let mut len = len.min(MAX_RW_COUNT);
        if len == 0 {
            req.result = Some(Ok(0));
            return Ok(());
        }
        if req.off >= size {
            if req.to_device {
                return Err(Errno::ENOSPC);
            }
            req.result = Some(Ok(0));
            return Ok(());
        }
        len = len.min(size - req.off);
        if !direct {
            // Buffered: a plain copy now (aio on a buffered file completes
            // at submit).
            req.result = Some(self.copy_buffered(
                k,
                hv,
                UserIo { pid: req.pid, to_device: req.to_device, addr: req.addr, len, off: req.off },
            ));
            return Ok(());
        }
        // blkdev_dio_invalid(): logical block size and DMA alignment.
        if (req.off | len) & (SECTOR_SIZE - 1) != 0 || req.addr & (SECTOR_SIZE - 1) != 0 {
            return Err(Errno::EINVAL);
        }
        let last = req.addr.checked_add(len - 1).ok_or(Errno::EFAULT)?;
        let first_page = req.addr & PAGE_MASK;
        let npages = ((last & PAGE_MASK) - first_page) / PAGE_SIZE + 1;
        let flags = FOLL_PIN | if req.to_device { FollFlags::empty() } else { FOLL_WRITE };
        let pages = k.get_user_pages(hv, req.pid, first_page, npages, flags)?;
        if pages.is_empty() {
            return Err(Errno::EFAULT);
        }
        // A short pin transfers what the pinned pages cover.
        let covered = (pages.len() as u64 * PAGE_SIZE) - (req.addr - first_page);
        req.len = len.min(covered);
        // The PTE of each page: one walk per run of consecutive pages in
        // one page table, whose entries are then read together.
        let pgd = k.mm(req.pid)?.pgd;
        let pt = k.page_tables();
        let mut ptes = Vec::with_capacity(pages.len());
        let mut i = 0;
        while i < pages.len() {
            let addr = pages[i].addr;
            let index = ((addr >> 12) & 511) as usize;
            let mut n = 1;
            while i + n < pages.len() && pages[i + n].addr == addr + n as u64 * PAGE_SIZE && index + n < 512 {
                n += 1;
            }
            match pt.lookup(pgd, addr) {
                Some(s) => pt.extend_entries(s.table, s.index as usize, n, &mut ptes),
                None => ptes.resize(ptes.len() + n, Pte::NONE),
            }
            i += n;
        }
        req.truth = ptes.into_iter().map(|pte| k.pte_machine_frame(pte)).collect();
        req.pages = pages;
        Ok(())
    }

    /// The buffered path: copy page by page through user memory; a fault
    /// part-way gives a short count, a fault at once -EFAULT.
    fn copy_buffered(&self, k: &mut Kernel, hv: &mut Hypervisor, io: UserIo) -> KResult<u64> {
        let UserIo { pid, to_device, addr, len, off } = io;
        let mut done = 0u64;
        while done < len {
            let a = addr.wrapping_add(done);
            let n = (PAGE_SIZE - (a % PAGE_SIZE)).min(len - done);
            let r = if to_device {
                k.user_read(hv, pid, a, n).map(|data| {
                    self.write(off + done, &data);
                })
            } else {
                let data = self.read(off + done, n);
                k.user_write(hv, pid, a, &data)
            };
            if r.is_err() {
                return if done == 0 { Err(Errno::EFAULT) } else { Ok(done) };
            }
            done += n;
        }
        Ok(done)
    }

    /// Complete: the device transfers the data to or from the machine
    /// frames the guest programmed (`page_to_mfn` now), then the pages are
    /// unpinned (`bio_release_pages`, dirtying pages read into).
    /// `during`: the function the completion runs in (for the trace).
    pub fn complete(
        &self,
        k: &mut Kernel,
        hv: &mut Hypervisor,
        mut req: IoRequest,
        during: &'static str,
    ) -> KResult<u64> {
        let dom = k.domid;
        if let Some(r) = req.result {
            hv.trace.emit(|| Event::IoReaped { dom, req: req.id, result: result_words(&r) });
            return r;
        }
        let end = req.addr + req.len;
        for (i, page) in req.pages.iter().enumerate() {
            let lo = req.addr.max(page.addr);
            let hi = end.min(page.addr + PAGE_SIZE);
            if lo >= hi {
                continue;
            }
            let in_page = (lo - page.addr) as usize;
            let n = (hi - lo) as usize;
            let dev_off = req.off + (lo - req.addr);
            let target = k.page_to_mfn(page.pfn);
            let truth = req.truth.get(i).copied().flatten();
            hv.trace.emit(|| Event::Dma {
                dom,
                req: req.id,
                op: if req.to_device { "read from memory" } else { "write to memory" },
                pfn: page.pfn.0,
                mfn: target.map(|m| m.0),
                owner: target.and_then(|m| hv.machine.owner(m)),
                during,
            });
            audit_dma(hv, dom, &req, page.addr, page.pfn.0, target, truth);
            let Some(m) = target.filter(|&m| hv.machine.valid(m)) else {
                continue;
            };
            let whole = in_page == 0
                && n == PAGE_SIZE as usize
                && dev_off.is_multiple_of(PAGE_SIZE)
                && dev_off + PAGE_SIZE <= self.size();
            if whole {
                // A full-page transfer shares the block (copy-on-write).
                if req.to_device {
                    self.set_block(dev_off, hv.machine.page(m));
                } else {
                    hv.machine.set_page(m, self.block(dev_off));
                }
            } else if req.to_device {
                let mut buf = vec![0u8; n];
                hv.machine.read(m, in_page, &mut buf);
                self.write(dev_off, &buf);
            } else {
                let data = self.read(dev_off, n as u64);
                hv.machine.write(m, in_page, &data);
            }
        }
        // __bio_release_pages(bio, mark_dirty) (block/bio.c): a read from
        // the device wrote the pages, so each is dirtied under its lock
        // (folio_mark_dirty, as set_page_dirty_lock() does), then unpinned.
        for page in std::mem::take(&mut req.pages) {
            if !req.to_device {
                k.set_page_dirty_lock(page.pfn);
            }
            k.gup_release(page);
        }
        hv.trace.emit(|| Event::BioComplete { dom, req: req.id, result: req.len.to_string() });
        Ok(req.len)
    }
}

/// A request's result as the trace words it: bytes, or the errno name.
fn result_words(r: &KResult<u64>) -> String {
    match r {
        Ok(n) => n.to_string(),
        Err(e) => format!("-{}", e.name().unwrap_or("E?")),
    }
}

/// Ground-truth checks of one page's DMA (model instrumentation).
fn audit_dma(
    hv: &mut Hypervisor,
    dom: DomId,
    req: &IoRequest,
    addr: u64,
    pfn: u64,
    target: Option<Mfn>,
    truth: Option<Mfn>,
) {
    let verb = if req.to_device { "read" } else { "wrote" };
    let owner = |m: Mfn| hv.machine.owner(m).map_or("nobody".to_string(), |o| format!("d{o}"));
    let truth_s = || truth.map_or("no frame".to_string(), |t| format!("mfn {:#x} ({})", t.0, owner(t)));
    match target {
        None => hv.observed.push(Violation {
            invariant: crate::invariants::Invariant::DmaMisdirected,
            message: format!(
                "d{dom} pid {}: I/O {} at {addr:#x} (pfn {pfn:#x}): the guest has no machine frame for the page (P2M invalid) at DMA time; at submit the PTE mapped {}",
                req.pid, req.id, truth_s()
            ),
            domains: vec![dom],
            pfns: vec![pfn],
            mfns: truth.map(|t| t.0).into_iter().collect(),
        }),
        Some(m) if Some(m) != truth => hv.observed.push(Violation {
            invariant: crate::invariants::Invariant::DmaMisdirected,
            message: format!(
                "d{dom} pid {}: I/O {}: DMA {verb} mfn {:#x} ({}) for {addr:#x} (pfn {pfn:#x}), but at submit the PTE mapped {}",
                req.pid,
                req.id,
                m.0,
                owner(m),
                truth_s()
            ),
            domains: vec![dom],
            pfns: vec![pfn],
            mfns: std::iter::once(m.0).chain(truth.map(|t| t.0)).collect(),
        }),
        Some(_) => {}
    }
    if let Some(m) = target {
        let o = hv.machine.owner(m);
        let granted = hv.grants.maps.frame_mapped_by(m, dom, !req.to_device);
        if o != Some(dom) && !granted {
            hv.observed.push(Violation {
                invariant: crate::invariants::Invariant::DmaNotGranted,
                message: format!(
                    "d{dom} pid {}: I/O {}: DMA {verb} mfn {:#x} ({}) for {addr:#x} (pfn {pfn:#x}), a frame d{dom} neither owns nor has mapped by a grant",
                    req.pid,
                    req.id,
                    m.0,
                    owner(m)
                ),
                domains: std::iter::once(dom).chain(o).collect(),
                pfns: vec![pfn],
                mfns: vec![m.0],
            });
        }
    }
}

/// The device node `/dev/NAME`.
#[derive(Debug)]
pub struct BlkDevNode {
    pub disk: Rc<Disk>,
}

impl DeviceNode for BlkDevNode {
    fn open(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, flags: u64) -> KResult<Rc<dyn FileOperations>> {
        Ok(Rc::new(BlkDevFile { disk: self.disk.clone(), flags }))
    }
    /// `exit_aio()`: the device completes the task's requests (DMA and
    /// unpin), the results are dropped with the ioctx.
    fn exit_aio(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid) {
        let ids: Vec<u64> = self.disk.in_flight().values().filter(|r| r.pid == pid).map(|r| r.id).collect();
        for id in ids {
            if let Some(r) = self.disk.take_request(id, Some(pid)) {
                let _ = self.disk.complete(k, hv, r, "exit_aio");
            }
        }
    }
    fn io_refs_on_page(&self, pfn: Pfn) -> i32 {
        let bias = crate::kernel::page::GUP_PIN_COUNTING_BIAS;
        self.disk
            .in_flight()
            .values()
            .filter(|r| r.result.is_none())
            .flat_map(|r| r.pages.iter())
            .filter(|p| p.pfn == pfn)
            .map(|p| if p.pinned { bias } else { 1 })
            .sum()
    }
    fn wait_io_on_pages(&self, k: &mut Kernel, hv: &mut Hypervisor, pfns: &[Pfn]) {
        let waiting: Vec<u64> = self
            .disk
            .in_flight()
            .values()
            .filter(|r| r.result.is_none() && r.pages.iter().any(|p| pfns.contains(&p.pfn)))
            .map(|r| r.id)
            .collect();
        for id in waiting {
            if let Some(req) = self.disk.take_request(id, None) {
                let (id, pid, to_device, addr, off) = (req.id, req.pid, req.to_device, req.addr, req.off);
                let res = self.disk.complete(k, hv, req, "gnttab_unmap_refs_sync (waiting for in-flight I/O)");
                // The caller's io_getevents() will collect it later.
                self.disk.requests.borrow_mut().insert(
                    id,
                    IoRequest {
                        id,
                        pid,
                        to_device,
                        addr,
                        off,
                        len: 0,
                        pages: Vec::new(),
                        truth: Vec::new(),
                        result: Some(res),
                    },
                );
            }
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

/// An open block device.
#[derive(Debug)]
pub struct BlkDevFile {
    pub disk: Rc<Disk>,
    pub flags: u64,
}

impl BlkDevFile {
    pub fn direct(&self) -> bool {
        self.flags & O_DIRECT != 0
    }
    /// Submit and complete at once.
    fn sync_io(&self, k: &mut Kernel, hv: &mut Hypervisor, io: UserIo) -> KResult<u64> {
        let pid = io.pid;
        let id = self.disk.submit(k, hv, io, self.direct());
        let req = self.disk.take_request(id, Some(pid)).ok_or(Errno::EIO)?;
        self.disk.complete(k, hv, req, "blkdev_direct_IO (synchronous)")
    }
}

/// Simplification: no `f_op->mmap` (Linux's `def_blk_fops` has
/// `blkdev_mmap`, a page-cache mapping): `mmap` of the device is -ENODEV.
impl FileOperations for BlkDevFile {
    fn path(&self) -> String {
        format!("/dev/{}", self.disk.name)
    }
    fn dev_ino(&self) -> ((u32, u32), u64) {
        ((0, 6), self.disk.ino)
    }
    fn read(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, addr: u64, len: u64, off: u64) -> KResult<u64> {
        self.sync_io(k, hv, UserIo { pid, to_device: false, addr, len, off })
    }
    fn write(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, addr: u64, len: u64, off: u64) -> KResult<u64> {
        self.sync_io(k, hv, UserIo { pid, to_device: true, addr, len, off })
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_contents() {
        let d = Disk::new("xvda", 16, Rc::default(), 1);
        assert_eq!(d.write(4000, &[0x5a; 200]), 200);
        assert_eq!(d.read(4090, 20), [vec![0x5a; 20]].concat());
        assert_eq!(d.read(8190, 10).len(), 2, "short at the end");
        assert_eq!(d.write(8192, b"x"), 0);
        assert_eq!(d.read(0, 4), vec![0; 4]);
    }
}
