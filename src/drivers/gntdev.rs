//! `/dev/xen/gntdev`: user-space mapping of pages other domains granted.
//!
//! Follows `drivers/xen/gntdev.c` as of Linux 6.x (after "Avoid blocking in
//! unmap_grant_pages()", 5.19, and "Accommodate VMA splitting", 2022) for a
//! PV guest, and `include/uapi/xen/gntdev.h` for the ABI. The kernel variant
//! changes only what the seed series changed: whether the map op asks Xen
//! for `_PAGE_SPECIAL` (`1 << _GNTMAP_guest_avail0`), whether the VMA has
//! `find_special_page`, and (in `kernel/xen.rs`) how grant pages are made
//! known to `mfn_to_pfn()` and whether unmapping waits for pages in use.
//!
//! ABI as the model passes it: `IOCTL_GNTDEV_MAP_GRANT_REF(domid, [refs])`
//! returns the offset (`op.index`); every ref uses the one domid (the uapi
//! has one per ref). `IOCTL_GNTDEV_UNMAP_GRANT_REF(offset, count)`,
//! `IOCTL_GNTDEV_SET_UNMAP_NOTIFY(offset, action, port)` return 0,
//! `IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR(vaddr)` returns the offset. Values are
//! truncated to the uapi field widths (refs and counts `u32`, the domid to
//! `domid_t` when the hypercall op is built), and converted to `int` where
//! the driver does.
//!
//! Simplifications: event channels are not modelled, so
//! `UNMAP_NOTIFY_SEND_EVENT` fails like an unbound port (`evtchn_get` ->
//! -EINVAL); no dma-buf, no `GRANT_COPY`, no auto-translated (HVM/PVH)
//! path (the device exists in PV guests only). `find_special_page` does no
//! bounds check in Linux; the model answers "no page" out of range.

use crate::arch::pagetable::PteSlot;
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::file::{DeviceNode, FileOperations, IoctlArg};
use crate::kernel::mm_types::{VmFlags, VmOperations, Vma};
use crate::kernel::mmu_notifier::MmuNotifier;
use crate::kernel::page::{Mfn, Pfn};
use crate::kernel::variant::UnmapPolicy;
use crate::kernel::xen::{GntabUnmapQueueData, UnmapDone, pfn_to_kaddr};
use crate::kernel::{Kernel, Pid};
use crate::types::DomId;
use crate::xen::interface::grant_table::{
    _GNTMAP_GUEST_AVAIL0, GNTMAP_APPLICATION_MAP, GNTMAP_CONTAINS_PTE, GNTMAP_DEVICE_MAP, GNTMAP_HOST_MAP,
    GNTMAP_READONLY, GntSt, GnttabMapGrantRef, GnttabUnmapGrantRef, INVALID_GRANT_HANDLE,
};
use crate::xen::interface::xen::PteMaddr;
use std::any::Any;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

pub const GNTDEV_PATH: &str = "/dev/xen/gntdev";

pub use super::{
    IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
    IOCTL_GNTDEV_UNMAP_GRANT_REF,
};

crate::uapi::uapi_family! {
    /// `UNMAP_NOTIFY_*` (include/uapi/xen/gntdev.h).
    pub static UNMAP_NOTIFY_FAMILY: Flags "UNMAP_NOTIFY_", u32 {
        UNMAP_NOTIFY_CLEAR_BYTE = 0x1,
        UNMAP_NOTIFY_SEND_EVENT = 0x2,
    }
}

/// The `limit` module parameter: grants one map request may have.
pub const GNTDEV_LIMIT: u64 = 64 * 1024;

/// `struct unmap_notify`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnmapNotify {
    pub flags: u32,
    /// Byte offset from the start of the map.
    pub addr: i32,
    pub event: u32,
}

/// `struct gntdev_grant_map` (the state; `GrantMap` wraps it).
#[derive(Debug, Default)]
pub struct MapState {
    pub index: i32,
    pub count: i32,
    /// `GNTMAP_*` fixed by the first mmap (0 before).
    pub flags: u32,
    /// `users` refcount: the list entry, each VMA, each pending unmap.
    pub users: u32,
    pub notify: UnmapNotify,
    /// `(domid, ref)` per slot, as copied from user space.
    pub grants: Vec<(u32, u32)>,
    pub map_ops: Vec<GnttabMapGrantRef>,
    pub unmap_ops: Vec<GnttabUnmapGrantRef>,
    pub kmap_ops: Vec<GnttabMapGrantRef>,
    pub kunmap_ops: Vec<GnttabUnmapGrantRef>,
    /// The local (ballooned) pages standing for the grants.
    pub pages: Vec<Pfn>,
    pub pages_vm_start: u64,
    pub being_removed: Vec<bool>,
    pub live_grants: i64,
    /// Set by the first mmap attempt, never cleared.
    pub in_use: bool,
    /// The interval notifier and the mm (process) it watches.
    pub notifier: Option<(Pid, Rc<GntdevNotifier>)>,
    /// The map went through `gntdev_free_map()`.
    pub freed: bool,
}

#[derive(Debug)]
pub struct GrantMap {
    pub st: RefCell<MapState>,
}

/// The gntdev device node.
#[derive(Debug, Default)]
pub struct GntdevNode;

impl DeviceNode for GntdevNode {
    /// `gntdev_open()`.
    fn open(&self, k: &mut Kernel, _hv: &mut Hypervisor, _pid: Pid, _flags: u64) -> KResult<Rc<dyn FileOperations>> {
        if !k.pv {
            return Err(Errno::ENODEV);
        }
        Ok(Rc::new(GntdevFile::default()))
    }
}

/// An open `/dev/xen/gntdev` (`struct gntdev_priv`).
#[derive(Debug, Default)]
pub struct GntdevFile {
    /// `priv->maps`, sorted by index.
    pub maps: RefCell<Vec<Rc<GrantMap>>>,
}

/// `gntdev_vmops`.
#[derive(Debug)]
pub struct GntdevVmOps {
    pub map: Rc<GrantMap>,
    /// `.find_special_page` present (variant).
    find_special: bool,
}

/// The per-map `mmu_interval_notifier`.
#[derive(Debug)]
pub struct GntdevNotifier {
    map: Weak<GrantMap>,
}

/// `__unmap_grant_pages_done` as the async unmap's callback.
#[derive(Debug)]
struct UnmapDoneCb {
    map: Rc<GrantMap>,
    offset: usize,
}

// ---- map bookkeeping ---------------------------------------------------

/// `gntdev_alloc_map()`: the slots, all handles invalid, and `count`
/// ballooned pages.
fn gntdev_alloc_map(k: &mut Kernel, count: usize) -> KResult<Rc<GrantMap>> {
    let pages = k.gnttab_alloc_pages(count)?;
    let st = MapState {
        count: count as i32,
        users: 1,
        grants: vec![(DomId::MAX as u32, u32::MAX); count],
        map_ops: vec![GnttabMapGrantRef::new(0, 0, u32::MAX, DomId::MAX); count],
        unmap_ops: vec![GnttabUnmapGrantRef::new(0, INVALID_GRANT_HANDLE); count],
        kmap_ops: vec![GnttabMapGrantRef::new(0, 0, u32::MAX, DomId::MAX); count],
        kunmap_ops: vec![GnttabUnmapGrantRef::new(0, INVALID_GRANT_HANDLE); count],
        pages,
        being_removed: vec![false; count],
        ..MapState::default()
    };
    Ok(Rc::new(GrantMap { st: RefCell::new(st) }))
}

/// `gntdev_add_map()`: the first index with room, the list kept sorted.
/// A gap is used only if `index + count < map.index` (strictly), so a gap
/// of exactly `count` pages is skipped.
fn gntdev_add_map(maps: &mut Vec<Rc<GrantMap>>, add: Rc<GrantMap>) {
    let count = add.st.borrow().count as i64;
    let mut index: i64 = 0;
    let mut at = maps.len();
    for (i, m) in maps.iter().enumerate() {
        let s = m.st.borrow();
        if index + count < s.index as i64 {
            at = i;
            break;
        }
        index = s.index as i64 + s.count as i64;
    }
    add.st.borrow_mut().index = index as i32;
    maps.insert(at, add);
}

/// `gntdev_find_map_index()`: by index, and count unless it is 0.
fn gntdev_find_map_index(maps: &[Rc<GrantMap>], index: i32, count: i32) -> Option<Rc<GrantMap>> {
    maps.iter()
        .find(|m| {
            let s = m.st.borrow();
            s.index == index && (count == 0 || s.count == count)
        })
        .cloned()
}

/// `gntdev_put_map()`: drop a reference; the last one removes the notifier,
/// and frees the pages back to the balloon (`gntdev_free_map`).
pub fn gntdev_put_map(k: &mut Kernel, _hv: &mut Hypervisor, map: &Rc<GrantMap>) {
    let (notifier, pages) = {
        let mut s = map.st.borrow_mut();
        if s.users == 0 {
            k.log(None, "refcount_t: underflow; use-after-free (gntdev map)".to_string());
            return;
        }
        s.users -= 1;
        if s.users != 0 {
            return;
        }
        s.freed = true;
        (s.notifier.take(), std::mem::take(&mut s.pages))
    };
    // mmu_interval_notifier_remove()
    if let Some((pid, n)) = notifier
        && let Ok(mm) = k.mm_mut(pid)
    {
        let p = Rc::as_ptr(&n) as *const ();
        mm.notifiers.retain(|x| Rc::as_ptr(x) as *const () != p);
    }
    // (UNMAP_NOTIFY_SEND_EVENT: never set, see the module comment.)
    k.gnttab_free_pages(&pages);
}

// ---- mapping and unmapping grants -----------------------------------------

/// `gntdev_map_grant_pages()` for a PV guest: the kernel-address map ops
/// (host_map, never device_map), `gnttab_map_refs()`, then the handles of
/// the slots that worked; any failed slot makes it -EINVAL.
fn gntdev_map_grant_pages(k: &mut Kernel, hv: &mut Hypervisor, map: &Rc<GrantMap>) -> KResult<()> {
    let (mut map_ops, mut kmap_ops, pages) = {
        let mut s = map.st.borrow_mut();
        let kflags = (s.flags & !GNTMAP_DEVICE_MAP) | GNTMAP_HOST_MAP;
        for i in 0..s.count as usize {
            let addr = pfn_to_kaddr(s.pages[i]);
            let (domid, gref) = s.grants[i];
            s.kmap_ops[i] = GnttabMapGrantRef::new(addr, kflags, gref, domid as DomId);
            s.kunmap_ops[i] = GnttabUnmapGrantRef::new(addr, INVALID_GRANT_HANDLE);
        }
        // Lent to the hypercall and put back (no copies).
        (std::mem::take(&mut s.map_ops), std::mem::take(&mut s.kmap_ops), std::mem::take(&mut s.pages))
    };
    let r = k.gnttab_map_refs(hv, &mut map_ops, Some(&mut kmap_ops), &pages);
    let mut s = map.st.borrow_mut();
    s.map_ops = map_ops;
    s.kmap_ops = kmap_ops;
    s.pages = pages;
    r?;
    let mut err = Ok(());
    let mut alloced = 0;
    for i in 0..s.count as usize {
        if s.map_ops[i].status == GntSt::Okay {
            s.unmap_ops[i].handle = s.map_ops[i].handle;
            alloced += 1;
        } else if err.is_ok() {
            err = Err(Errno::EINVAL);
        }
        if s.flags & GNTMAP_DEVICE_MAP != 0 {
            s.unmap_ops[i].dev_bus_addr = s.map_ops[i].dev_bus_addr;
        }
        if s.kmap_ops[i].status == GntSt::Okay {
            alloced += 1;
            s.kunmap_ops[i].handle = s.kmap_ops[i].handle;
        } else if err.is_ok() {
            err = Err(Errno::EINVAL);
        }
    }
    s.live_grants += alloced;
    err
}

impl UnmapDone for UnmapDoneCb {
    /// `__unmap_grant_pages_done()`: count what was unmapped, invalidate
    /// the handles, drop the reference the unmap held.
    fn done(&self, k: &mut Kernel, hv: &mut Hypervisor, _result: KResult<()>, item: &GntabUnmapQueueData) {
        let mut warn = Vec::new();
        {
            let mut s = self.map.st.borrow_mut();
            let mut successful = 0;
            // Count a successful unmap; warn about a failed one that held a handle.
            let mut tally = |what: &str, u: &GnttabUnmapGrantRef| {
                if u.handle == INVALID_GRANT_HANDLE {
                    return;
                }
                if u.status == GntSt::Okay {
                    successful += 1;
                } else {
                    warn.push(format!(
                        "WARNING: __unmap_grant_pages_done: {what} handle={:#x} st={}",
                        u.handle,
                        u.status.code()
                    ));
                }
            };
            for (i, u) in item.unmap_ops.iter().enumerate() {
                let slot = self.offset + i;
                tally("unmap", u);
                if let Some(x) = s.unmap_ops.get_mut(slot) {
                    x.handle = INVALID_GRANT_HANDLE;
                }
                if let Some(ku) = item.kunmap_ops.as_ref().and_then(|v| v.get(i)) {
                    tally("kunmap", ku);
                    if let Some(x) = s.kunmap_ops.get_mut(slot) {
                        x.handle = INVALID_GRANT_HANDLE;
                    }
                }
            }
            s.live_grants -= successful;
            if s.live_grants < 0 {
                warn.push(format!(
                    "__unmap_grant_pages_done: live_grants became negative ({}) after unmapping {successful} pages!",
                    s.live_grants
                ));
            }
        }
        for w in warn {
            k.log(None, w);
        }
        gntdev_put_map(k, hv, &self.map);
    }
}

/// `__unmap_grant_pages()`: the unmap-notify byte, then an async unmap of
/// `pages` slots from `offset` holding a map reference.
fn __unmap_grant_pages(k: &mut Kernel, hv: &mut Hypervisor, map: &Rc<GrantMap>, offset: usize, pages: usize) {
    let (clear, item) = {
        let mut s = map.st.borrow_mut();
        let mut clear = None;
        if s.notify.flags & UNMAP_NOTIFY_CLEAR_BYTE != 0 {
            let pgno = (s.notify.addr >> 12) as usize;
            if pgno >= offset && pgno < offset + pages {
                clear =
                    s.pages.get(pgno).map(|&p| (p, (s.notify.addr & 0xfff) as usize, s.flags & GNTMAP_READONLY != 0));
                s.notify.flags &= !UNMAP_NOTIFY_CLEAR_BYTE;
            }
        }
        let end = offset + pages;
        let item = GntabUnmapQueueData {
            unmap_ops: s.unmap_ops[offset..end].to_vec(),
            kunmap_ops: Some(s.kunmap_ops[offset..end].to_vec()),
            pages: s.pages[offset..end].to_vec(),
            age: 0,
            done: Rc::new(UnmapDoneCb { map: map.clone(), offset }),
        };
        s.users += 1; // keep the map alive during the async call
        (clear, item)
    };
    if let Some((pfn, off, ro)) = clear {
        // tmp = pfn_to_kaddr(page_to_pfn(map->pages[pgno])); tmp[off] = 0;
        if ro {
            k.log(
                None,
                format!(
                    "BUG: unable to handle page fault for address: {:#x} (write to a read-only grant)",
                    pfn_to_kaddr(pfn) + off as u64
                ),
            );
        } else if k.write_page(hv, pfn, off, &[0]).is_err() {
            k.log(None, format!("BUG: unable to handle page fault for address: {:#x}", pfn_to_kaddr(pfn) + off as u64));
        }
    }
    k.gnttab_unmap_refs_async(hv, item);
}

/// `unmap_grant_pages()`: unmap the slots of `[offset, offset + pages)`
/// not already being removed, in runs.
pub fn unmap_grant_pages(k: &mut Kernel, hv: &mut Hypervisor, map: &Rc<GrantMap>, mut offset: usize, mut pages: usize) {
    if map.st.borrow().live_grants == 0 {
        return;
    }
    while pages > 0 {
        let range = {
            let mut s = map.st.borrow_mut();
            let n = s.being_removed.len();
            while pages > 0 && offset < n && s.being_removed[offset] {
                offset += 1;
                pages -= 1;
            }
            if offset >= n {
                return;
            }
            let mut range = 0;
            while range < pages && offset + range < n && !s.being_removed[offset + range] {
                s.being_removed[offset + range] = true;
                range += 1;
            }
            range
        };
        if range == 0 {
            return;
        }
        __unmap_grant_pages(k, hv, map, offset, range);
        offset += range;
        pages -= range;
    }
}

// ---- VMA operations and the notifier ---------------------------------------

impl GntdevVmOps {
    /// `map->pages[(addr - map->pages_vm_start) >> PAGE_SHIFT]`.
    fn page_for(&self, addr: u64) -> Option<Pfn> {
        let s = self.map.st.borrow();
        let i = addr.wrapping_sub(s.pages_vm_start) >> 12;
        s.pages.get(usize::try_from(i).ok()?).copied()
    }
}

impl VmOperations for GntdevVmOps {
    fn has_find_special_page(&self) -> bool {
        self.find_special
    }
    /// `gntdev_vma_find_special_page()` (6.18: `find_normal_page`).
    fn find_special_page(&self, _vma: &Vma, addr: u64) -> Option<Pfn> {
        self.page_for(addr)
    }
    /// The map's page while its grant is mapped; once the notifier (or an
    /// unmap ioctl) has taken the slot's grant down, no page stands for
    /// the address any more (GUP's `-EFAULT` there is right).
    fn backing_page(&self, _vma: &Vma, addr: u64) -> Option<Pfn> {
        let s = self.map.st.borrow();
        let i = usize::try_from(addr.wrapping_sub(s.pages_vm_start) >> 12).ok()?;
        if s.being_removed.get(i).copied().unwrap_or(true) {
            return None;
        }
        s.pages.get(i).copied()
    }
    /// `gntdev_vma_open()`.
    fn open(&self, _vma: &Vma) {
        self.map.st.borrow_mut().users += 1;
    }
    /// `gntdev_vma_close()`.
    fn close(&self, k: &mut Kernel, hv: &mut Hypervisor, _vma: &Vma) {
        gntdev_put_map(k, hv, &self.map);
    }
    fn has_close(&self) -> bool {
        true
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl MmuNotifier for GntdevNotifier {
    /// `gntdev_invalidate()`: unmap the map's slots overlapping the range,
    /// by the original mmap start (the notifier does not follow splits).
    fn invalidate_range_start(&self, k: &mut Kernel, hv: &mut Hypervisor, _pid: Pid, start: u64, end: u64) {
        let Some(map) = self.map.upgrade() else {
            return;
        };
        let (map_start, map_end) = {
            let s = map.st.borrow();
            (s.pages_vm_start, s.pages_vm_start.saturating_add((s.count as u64) << 12))
        };
        if map_start >= end || map_end <= start {
            return;
        }
        let mstart = start.max(map_start);
        let mend = end.min(map_end);
        let (dom, offset, pages) = (k.domid, (mstart - map_start) >> 12, (mend - mstart) >> 12);
        let policy = k.variant.unmap;
        let deferred = policy == UnmapPolicy::Deferred;
        hv.trace.emit(|| crate::trace::Event::MmuNotifier {
            dom,
            pid: _pid,
            start,
            end,
            subscriber: "gntdev_mmu_ops (gntdev_invalidate)",
            action: match policy {
                UnmapPolicy::Deferred => format!("gnttab_unmap_refs_sync: waits for in-flight I/O on the pages, then unmap_grant_pages(offset {offset}, {pages} pages)"),
                UnmapPolicy::Async => format!("unmap_grant_pages(offset {offset}, {pages} pages) through gnttab_unmap_refs_async, not waited for"),
                UnmapPolicy::Immediate => format!("unmap_grant_pages(offset {offset}, {pages} pages) at once"),
            },
        });
        if deferred {
            // Linux 4.0-5.18: the notifier unmapped with
            // gnttab_unmap_refs_sync(), sleeping until no page of the batch
            // was in use, so in-flight O_DIRECT I/O finished into the grant
            // before the PTEs went. 5.19+ (UnmapPolicy::Async, 6.12
            // gntdev.c __unmap_grant_pages: gnttab_unmap_refs_async with
            // __unmap_grant_pages_done) does not wait: while a page is in
            // use the unmap is retried later and zap meets the live PTE.
            let pfns: Vec<Pfn> = {
                let s = map.st.borrow();
                let lo = ((mstart - map_start) >> 12) as usize;
                let hi = ((mend - map_start) >> 12) as usize;
                s.pages.get(lo..hi.min(s.pages.len())).map(|p| p.to_vec()).unwrap_or_default()
            };
            k.wait_io_on_pages(hv, &pfns);
        }
        unmap_grant_pages(k, hv, &map, ((mstart - map_start) >> 12) as usize, ((mend - mstart) >> 12) as usize);
    }

    /// In the synchronous era (`unmap=deferred`, 4.0-5.18) the notifier
    /// sleeps in `gnttab_unmap_refs_sync()` until no page of the batch has
    /// `page_count() > 1`; a live slot in the range whose count stays above
    /// 1 once in-flight I/O completes (a pin never released) is waited on
    /// for ever. `unmap_grant_pages()` skips slots already being removed.
    fn waits_forever_on(&self, k: &Kernel, start: u64, end: u64) -> Option<Pfn> {
        if k.variant.unmap != UnmapPolicy::Deferred {
            return None;
        }
        let map = self.map.upgrade()?;
        let s = map.st.borrow();
        let map_start = s.pages_vm_start;
        let map_end = map_start.saturating_add((s.count as u64) << 12);
        if s.live_grants == 0 || map_start >= end || map_end <= start {
            return None;
        }
        let lo = ((start.max(map_start) - map_start) >> 12) as usize;
        let hi = ((end.min(map_end) - map_start) >> 12) as usize;
        (lo..hi).filter(|&i| !s.being_removed.get(i).copied().unwrap_or(true)).find_map(|i| {
            let pfn = *s.pages.get(i)?;
            (k.memmap().page(pfn).refcount - k.io_refs_on_page(pfn) > 1).then_some(pfn)
        })
    }
}

// ---- file operations ---------------------------------------------------------

impl GntdevFile {
    /// `gntdev_ioctl_map_grant_ref()`.
    fn ioctl_map_grant_ref(&self, k: &mut Kernel, args: &[IoctlArg]) -> KResult<u64> {
        let domid = args.first().ok_or(Errno::EFAULT)?.int()? as u32;
        let refs = args.get(1).ok_or(Errno::EFAULT)?.list()?;
        let count = refs.len() as u64;
        // gntdev_test_page_count()
        if count == 0 || count > GNTDEV_LIMIT {
            return Err(Errno::EINVAL);
        }
        let map = gntdev_alloc_map(k, count as usize).map_err(|_| Errno::ENOMEM)?;
        map.st.borrow_mut().grants = refs.iter().map(|&r| (domid, r as u32)).collect();
        let mut maps = self.maps.borrow_mut();
        gntdev_add_map(&mut maps, map.clone());
        let index = map.st.borrow().index as i64;
        Ok((index << 12) as u64)
    }

    /// `gntdev_ioctl_unmap_grant_ref()`: the map leaves the list; grants
    /// mapped by a VMA stay until it goes.
    fn ioctl_unmap_grant_ref(&self, k: &mut Kernel, hv: &mut Hypervisor, args: &[IoctlArg]) -> KResult<u64> {
        let index = args.first().ok_or(Errno::EFAULT)?.int()?;
        let count = args.get(1).ok_or(Errno::EFAULT)?.int()? as u32;
        let map = {
            let mut maps = self.maps.borrow_mut();
            let m = gntdev_find_map_index(&maps, (index >> 12) as i32, count as i32).ok_or(Errno::ENOENT)?;
            maps.retain(|x| !Rc::ptr_eq(x, &m));
            m
        };
        gntdev_put_map(k, hv, &map);
        Ok(0)
    }

    /// `gntdev_ioctl_get_offset_for_vaddr()`.
    fn ioctl_get_offset_for_vaddr(&self, k: &mut Kernel, pid: Pid, args: &[IoctlArg]) -> KResult<u64> {
        let vaddr = args.first().ok_or(Errno::EFAULT)?.int()?;
        let mm = k.mm(pid)?;
        let vma = mm.find_vma(vaddr).ok_or(Errno::EINVAL)?;
        let ops = vma
            .ops
            .as_ref()
            .and_then(|o| o.as_any())
            .and_then(|a| a.downcast_ref::<GntdevVmOps>())
            .ok_or(Errno::EINVAL)?;
        let index = ops.map.st.borrow().index as i64;
        Ok((index << 12) as u64)
    }

    /// `gntdev_ioctl_notify()`.
    fn ioctl_notify(&self, args: &[IoctlArg]) -> KResult<u64> {
        let index = args.first().ok_or(Errno::EFAULT)?.int()?;
        let action = args.get(1).ok_or(Errno::EFAULT)?.int()? as u32;
        let port = args.get(2).ok_or(Errno::EFAULT)?.int()? as u32;
        if action & !(UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT) != 0 {
            return Err(Errno::EINVAL);
        }
        if action & UNMAP_NOTIFY_SEND_EVENT != 0 {
            // evtchn_get(port): no event channel is bound in the model.
            return Err(Errno::EINVAL);
        }
        let maps = self.maps.borrow();
        let map = maps
            .iter()
            .find(|m| {
                let s = m.st.borrow();
                let begin = (s.index as i64 as u64) << 12;
                let end = ((s.index as i64 + s.count as i64) as u64) << 12;
                index >= begin && index < end
            })
            .ok_or(Errno::ENOENT)?;
        let mut s = map.st.borrow_mut();
        if action & UNMAP_NOTIFY_CLEAR_BYTE != 0 && s.flags & GNTMAP_READONLY != 0 {
            return Err(Errno::EINVAL);
        }
        let begin = (s.index as i64 as u64) << 12;
        s.notify = UnmapNotify { flags: action, addr: (index - begin) as i32, event: port };
        Ok(0)
    }
}

impl FileOperations for GntdevFile {
    fn path(&self) -> String {
        GNTDEV_PATH.to_string()
    }
    fn dev_ino(&self) -> ((u32, u32), u64) {
        // devtmpfs; the inode number is the model's own.
        ((0, 6), 1040)
    }

    fn ioctl(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, req: u64, args: &[IoctlArg]) -> KResult<u64> {
        match req {
            IOCTL_GNTDEV_MAP_GRANT_REF => self.ioctl_map_grant_ref(k, args),
            IOCTL_GNTDEV_UNMAP_GRANT_REF => self.ioctl_unmap_grant_ref(k, hv, args),
            IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR => self.ioctl_get_offset_for_vaddr(k, pid, args),
            IOCTL_GNTDEV_SET_UNMAP_NOTIFY => self.ioctl_notify(args),
            // -ENOIOCTLCMD, which the VFS turns into -ENOTTY.
            _ => Err(Errno::ENOTTY),
        }
    }

    /// `gntdev_mmap()` for a PV guest.
    fn has_mmap(&self) -> bool {
        true
    }
    fn mmap(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, vma: &mut Vma) -> KResult<()> {
        let dom = k.domid;
        let check = |hv: &mut Hypervisor, what: String| {
            hv.trace.emit(|| crate::trace::Event::Check { dom, function: "gntdev_mmap", check: what, errno: "EINVAL" });
            Errno::EINVAL
        };
        if vma.flags.contains(VmFlags::WRITE) && !vma.flags.contains(VmFlags::SHARED) {
            return Err(check(hv, "(vma->vm_flags & VM_WRITE) && !(vma->vm_flags & VM_SHARED)".into()));
        }
        let index = vma.pgoff as i32;
        let count = vma.pages() as i32;
        let found = gntdev_find_map_index(&self.maps.borrow(), index, count);
        let Some(map) = found else {
            let maps = self.maps.borrow();
            let near = maps.iter().map(|m| m.st.borrow()).find(|m| m.index == index).map(|m| m.count);
            let why = match near {
                Some(c) => format!(
                    "gntdev_find_map_index(priv, index {index}, count {count}) found no map: the map at index {index} has {c} pages, the VMA {count}"
                ),
                None => {
                    format!("gntdev_find_map_index(priv, index {index}, count {count}) found no map at that offset")
                }
            };
            drop(maps);
            return Err(check(hv, why));
        };
        {
            let mut s = map.st.borrow_mut();
            // atomic_add_unless(&map->in_use, 1, 1)
            if s.in_use {
                drop(s);
                return Err(check(hv, "atomic_add_unless(&map->in_use, 1, 1): the map is already mmapped".into()));
            }
            s.in_use = true;
            s.users += 1;
        }
        vma.ops = Some(Rc::new(GntdevVmOps { map: map.clone(), find_special: k.variant.has_find_special_page() }));
        vma.flags |= VmFlags::DONTEXPAND | VmFlags::DONTDUMP | VmFlags::MIXEDMAP;
        if k.pv {
            vma.flags |= VmFlags::DONTCOPY;
        }
        let r = self.mmap_locked(k, hv, pid, vma, &map);
        if let Err(e) = r {
            // out_put_map: unmap what did get mapped, drop the VMA's ref.
            if k.pv {
                unmap_grant_pages(k, hv, &map, 0, count as usize);
            }
            gntdev_put_map(k, hv, &map);
            return Err(e);
        }
        Ok(())
    }

    /// `gntdev_release()`: every map leaves the list.
    fn release(&self, k: &mut Kernel, hv: &mut Hypervisor) {
        let maps = std::mem::take(&mut *self.maps.borrow_mut());
        for m in maps {
            gntdev_put_map(k, hv, &m);
        }
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl GntdevFile {
    /// The part of `gntdev_mmap()` that may fail after the map was taken:
    /// map flags, the notifier, `find_grant_ptes` for every page, and the
    /// map hypercall.
    fn mmap_locked(&self, k: &mut Kernel, hv: &mut Hypervisor, pid: Pid, vma: &Vma, map: &Rc<GrantMap>) -> KResult<()> {
        {
            let mut s = map.st.borrow_mut();
            let write = vma.flags.contains(VmFlags::WRITE);
            if s.flags != 0 {
                if write && s.flags & GNTMAP_READONLY != 0 {
                    let dom = k.domid;
                    hv.trace.emit(|| crate::trace::Event::Check {
                        dom,
                        function: "gntdev_mmap",
                        check: "(vma->vm_flags & VM_WRITE) && (map->flags & GNTMAP_readonly)".into(),
                        errno: "EINVAL",
                    });
                    return Err(Errno::EINVAL);
                }
            } else {
                s.flags = GNTMAP_HOST_MAP;
                if !write {
                    s.flags |= GNTMAP_READONLY;
                }
            }
            s.pages_vm_start = vma.start;
        }
        if !k.pv {
            return Err(Errno::ENODEV);
        }
        // mmu_interval_notifier_insert_locked(vma->vm_mm, vm_start, len)
        let n = Rc::new(GntdevNotifier { map: Rc::downgrade(map) });
        k.mm_mut(pid)?.notifiers.push(n.clone());
        map.st.borrow_mut().notifier = Some((pid, n));
        // apply_to_page_range(find_grant_ptes): apply_to_pte_range()
        // allocates the PTE table once per PMD, then steps pte++
        // (mm/memory.c).
        let special = k.variant.gntdev_pte_special();
        let mut prev: Option<PteSlot> = None;
        for i in 0..vma.pages() as usize {
            let addr = vma.start + ((i as u64) << 12);
            // apply_to_page_range(): the next slot of the same table, or a
            // table with GFP_PGTABLE_USER, through the OOM killer.
            let slot = match prev {
                Some(s) if (addr >> 12) & 511 != 0 => PteSlot { table: s.table, index: s.index + 1 },
                _ => k.alloc_may_oom(hv, pid, crate::kernel::oom_kill::GFP_PGTABLE_USER_ALLOC, |k| {
                    k.pte_alloc(pid, addr)
                })?,
            };
            prev = Some(slot);
            let maddr = PteMaddr { table: Mfn(slot.table), index: slot.index }.maddr();
            let mut s = map.st.borrow_mut();
            let pgnr = ((addr - s.pages_vm_start) >> 12) as usize;
            let mut flags = s.flags | GNTMAP_APPLICATION_MAP | GNTMAP_CONTAINS_PTE;
            if special {
                flags |= 1 << _GNTMAP_GUEST_AVAIL0;
            }
            let (domid, gref) = s.grants[pgnr];
            s.map_ops[pgnr] = GnttabMapGrantRef::new(maddr, flags, gref, domid as DomId);
            s.unmap_ops[pgnr] = GnttabUnmapGrantRef::new(maddr, INVALID_GRANT_HANDLE);
        }
        gntdev_map_grant_pages(k, hv, map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_at(index: i32, count: i32) -> Rc<GrantMap> {
        Rc::new(GrantMap { st: RefCell::new(MapState { index, count, ..MapState::default() }) })
    }

    #[test]
    fn placement_skips_exact_gaps() {
        // [0,2) and [4,6): a gap of exactly 2 at 2 is skipped (2 + 2 < 4 is
        // false), a map of 1 fits (2 + 1 < 4).
        let mut maps = vec![map_at(0, 2), map_at(4, 2)];
        let two = map_at(0, 2);
        gntdev_add_map(&mut maps, two.clone());
        assert_eq!(two.st.borrow().index, 6);
        let one = map_at(0, 1);
        gntdev_add_map(&mut maps, one.clone());
        assert_eq!(one.st.borrow().index, 2);
        let idx: Vec<i32> = maps.iter().map(|m| m.st.borrow().index).collect();
        assert_eq!(idx, vec![0, 2, 4, 6]);
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(IOCTL_GNTDEV_MAP_GRANT_REF, 0x0018_4700);
        assert_eq!(IOCTL_GNTDEV_SET_UNMAP_NOTIFY, 0x0010_4707);
    }
}
