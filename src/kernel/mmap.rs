//! mmap(2), munmap(2), brk(2) and the address-space layout; the VMA split
//! and merge rules they rely on are in `kernel/vma.rs` (mm/vma.c).
//!
//! Follows `mm/mmap.c` (`do_mmap`, `__get_unmapped_area`, `brk`,
//! `do_munmap`), `mm/vma.c` (`mmap_region`), `arch/x86/kernel/sys_x86_64.c`
//! (`arch_get_unmapped_area_topdown`) and `mm/huge_memory.c`
//! (`__thp_get_unmapped_area`).
//! Simplifications: no hugetlb, no userfaultfd; pkeys only as the kernel
//! uses them unasked (the execute-only key, `kernel/pkeys.rs`).

use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE, PMD_SIZE, TASK_SIZE, page_align_up};
use crate::errno::{Errno, KResult};
use crate::hv::Hypervisor;
use crate::kernel::file::{FileKind, OpenFile};
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile, VmaTag};
use crate::kernel::shmem::InodeKind;
use crate::kernel::{Kernel, Pid};
use std::rc::Rc;

crate::uapi::uapi_family! {
    /// `PROT_*` (include/uapi/asm-generic/mman-common.h).
    pub static PROT_FAMILY: Flags "PROT_", u64 {
        PROT_NONE = 0x0,
        PROT_READ = 0x1,
        PROT_WRITE = 0x2,
        PROT_EXEC = 0x4,
        PROT_SEM = 0x8,
        PROT_GROWSDOWN = 0x0100_0000,
        PROT_GROWSUP = 0x0200_0000,
    }
}

crate::uapi::uapi_family! {
    /// `MAP_*` (include/uapi/linux/mman.h, asm-generic/mman-common.h,
    /// arch/x86/include/uapi/asm/mman.h, asm-generic/hugetlb_encode.h).
    pub static MAP_FAMILY: Flags "MAP_", u64 {
        MAP_SHARED = 0x01,
        MAP_PRIVATE = 0x02,
        MAP_SHARED_VALIDATE = 0x03,
        MAP_DROPPABLE = 0x08,
        MAP_FIXED = 0x10,
        MAP_ANONYMOUS = 0x20,
        MAP_32BIT = 0x40,
        MAP_GROWSDOWN = 0x0100,
        MAP_DENYWRITE = 0x0800,
        MAP_EXECUTABLE = 0x1000,
        MAP_LOCKED = 0x2000,
        MAP_NORESERVE = 0x4000,
        MAP_POPULATE = 0x8000,
        MAP_NONBLOCK = 0x1_0000,
        MAP_STACK = 0x2_0000,
        MAP_HUGETLB = 0x4_0000,
        MAP_SYNC = 0x8_0000,
        MAP_FIXED_NOREPLACE = 0x10_0000,
        MAP_UNINITIALIZED = 0x400_0000,
    }
    aliases {
        MAP_ANON = 0x20,
        MAP_FILE = 0,
        MAP_TYPE = 0x0f,
        MAP_HUGE_SHIFT = 26,
        MAP_HUGE_MASK = 0x3f,
        MAP_HUGE_2MB = 21 << 26,
        MAP_HUGE_1GB = 30 << 26,
    }
}

/// `LEGACY_MAP_MASK` (include/linux/mman.h).
pub const LEGACY_MAP_MASK: u64 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB;

/// `dac_mmap_min_addr` default (CONFIG_DEFAULT_MMAP_MIN_ADDR on x86: 4096,
/// which is this machine's /proc/sys/vm/mmap_min_addr): below it a mapping
/// needs CAP_SYS_RAWIO (`cap_mmap_addr`).
pub const MMAP_MIN_ADDR: u64 = 4096;
/// `CONFIG_LSM_MMAP_MIN_ADDR` of the reference kernel (CONFIG_SECURITY=y).
pub const LSM_MMAP_MIN_ADDR: u64 = 65536;
/// The kernel's `mmap_min_addr` (security/min_addr.c
/// `update_mmap_min_addr`): the larger of the two. Hints below it are
/// rounded up to it (`round_hint_to_min`) and `vm_unmapped_area()` never
/// returns an address below it (checked on the host: `mmap(0x1000, ..)`
/// without MAP_FIXED returns 0x10000).
pub const EFFECTIVE_MMAP_MIN_ADDR: u64 =
    if MMAP_MIN_ADDR > LSM_MMAP_MIN_ADDR { MMAP_MIN_ADDR } else { LSM_MMAP_MIN_ADDR };
/// `stack_guard_gap`: 256 pages.
pub const STACK_GUARD_GAP: u64 = 256 << 12;
/// `TASK_UNMAPPED_BASE` for 64-bit: `PAGE_ALIGN(TASK_SIZE / 3)`.
pub const TASK_UNMAPPED_BASE: u64 = (TASK_SIZE / 3 + PAGE_SIZE - 1) & PAGE_MASK;
/// Default `mmap_base` for a 47-bit space without randomisation
/// (arch/x86/mm/mmap.c `mmap_base()`): gap = RLIMIT_STACK (8 MiB) + the
/// stack guard gap (no random pad without PF_RANDOMIZE), clamped to at least
/// 128 MiB, so `PAGE_ALIGN(TASK_SIZE - 128 MiB)`.
pub const DEFAULT_MMAP_BASE: u64 = 0x7fff_f7ff_f000;

/// `calc_vm_prot_bits()`.
pub fn calc_vm_prot_bits(prot: u64) -> VmFlags {
    let mut f = VmFlags::empty();
    if prot & PROT_READ != 0 {
        f |= VmFlags::READ;
    }
    if prot & PROT_WRITE != 0 {
        f |= VmFlags::WRITE;
    }
    if prot & PROT_EXEC != 0 {
        f |= VmFlags::EXEC;
    }
    f
}

/// `calc_vm_flag_bits()`.
fn calc_vm_flag_bits(flags: u64) -> VmFlags {
    let mut f = VmFlags::empty();
    if flags & MAP_GROWSDOWN != 0 {
        f |= VmFlags::GROWSDOWN;
    }
    if flags & MAP_LOCKED != 0 {
        f |= VmFlags::LOCKED;
    }
    if flags & MAP_SYNC != 0 {
        f |= VmFlags::SYNC;
    }
    if flags & MAP_STACK != 0 {
        f |= VmFlags::NOHUGEPAGE;
    }
    f
}

/// `vm_start_gap()`.
pub fn vm_start_gap(v: &Vma) -> u64 {
    if v.flags.contains(VmFlags::GROWSDOWN) { v.start.saturating_sub(STACK_GUARD_GAP) } else { v.start }
}

/// What `mmap` maps: nothing (anonymous) or an open file.
pub enum MapSource {
    Anon,
    File(Rc<OpenFile>),
}

impl Kernel {
    /// `vm_unmapped_area()` top-down, then the bottom-up fallback of
    /// `arch_get_unmapped_area_topdown`.
    fn unmapped_area(&self, pid: Pid, len: u64) -> KResult<u64> {
        let mm = self.mm(pid)?;
        let mut high = mm.mmap_base.min(TASK_SIZE);
        let low = PAGE_SIZE.max(EFFECTIVE_MMAP_MIN_ADDR);
        // unmapped_area_topdown() (mm/vma.c): take the highest gap between
        // VMAs (clipped to [low, high)) that is long enough; when the VMA
        // above it grows down and its guard gap reaches into the candidate,
        // search again below that VMA's start gap (`high_limit =
        // vm_start_gap(tmp); goto retry`). Only the VMA right above the gap
        // found is checked, as in the kernel.
        'retry: loop {
            let mut top = high;
            let mut found = None;
            for v in mm.vmas.range(..high).rev().map(|(_, v)| v) {
                let bottom = v.end.max(low);
                if top > bottom && top - bottom >= len {
                    found = Some(top);
                    break;
                }
                top = top.min(v.start);
                if top <= low {
                    break;
                }
            }
            if found.is_none() && top > low && top - low >= len {
                found = Some(top);
            }
            let Some(top) = found else { break 'retry };
            if let Some((_, next)) = mm.vmas.range(top..).next()
                && next.flags.contains(VmFlags::GROWSDOWN)
                && vm_start_gap(next) < top
            {
                high = vm_start_gap(next);
                continue 'retry;
            }
            return Ok(top - len);
        }
        // Bottom-up from TASK_UNMAPPED_BASE.
        let mut start = TASK_UNMAPPED_BASE;
        for v in mm.vmas.range(start..).map(|(_, v)| v) {
            if vm_start_gap(v) >= start && vm_start_gap(v) - start >= len {
                return Ok(start);
            }
            start = start.max(v.end);
        }
        if let Some(v) = mm.vma_at(TASK_UNMAPPED_BASE) {
            start = start.max(v.end);
        }
        if TASK_SIZE >= start && TASK_SIZE - start >= len { Ok(start) } else { Err(Errno::ENOMEM) }
    }

    /// `__get_unmapped_area()`.
    pub fn get_unmapped_area(&self, pid: Pid, addr: u64, len: u64, anon_private: bool, flags: u64) -> KResult<u64> {
        let mm = self.mm(pid)?;
        if len > TASK_SIZE - EFFECTIVE_MMAP_MIN_ADDR {
            return Err(Errno::ENOMEM);
        }
        let addr = if flags & MAP_FIXED != 0 {
            addr
        } else {
            let mut found = None;
            if addr != 0 {
                let a = addr & PAGE_MASK;
                // mmap_address_hint_valid(): fits below TASK_SIZE.
                if TASK_SIZE >= len && TASK_SIZE - len >= a {
                    let next = mm.find_vma(a);
                    if next.is_none_or(|v| a + len <= vm_start_gap(v)) {
                        found = Some(a);
                    }
                }
            }
            match found {
                Some(a) => a,
                None if anon_private && addr == 0 && len.is_multiple_of(PMD_SIZE) => {
                    // __thp_get_unmapped_area with off = 0: search with the
                    // length padded by one PMD, then align.
                    match self.unmapped_area(pid, len + PMD_SIZE) {
                        Ok(ret) => {
                            let off_sub = ret.wrapping_neg() & (PMD_SIZE - 1);
                            if off_sub == 0 { ret + PMD_SIZE } else { ret + off_sub }
                        }
                        Err(_) => self.unmapped_area(pid, len)?,
                    }
                }
                None => self.unmapped_area(pid, len)?,
            }
        };
        if addr > TASK_SIZE - len {
            return Err(Errno::ENOMEM);
        }
        if addr & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        // security_mmap_addr() -> cap_mmap_addr(): below mmap_min_addr needs
        // CAP_SYS_RAWIO.
        if addr < MMAP_MIN_ADDR && !self.proc_ref(pid)?.capable() {
            return Err(Errno::EPERM);
        }
        Ok(addr)
    }

    /// `mlock_future_ok()`.
    pub fn mlock_future_ok(&self, pid: Pid, flags: VmFlags, bytes: u64) -> KResult<bool> {
        let p = self.proc_ref(pid)?;
        if !flags.contains(VmFlags::LOCKED) || p.capable() {
            return Ok(true);
        }
        let locked = (bytes >> 12) + p.mm.locked_vm;
        Ok(locked <= p.rlimits.memlock.cur >> 12)
    }

    /// `can_do_mlock()`.
    pub fn can_do_mlock(&self, pid: Pid) -> KResult<bool> {
        let p = self.proc_ref(pid)?;
        Ok(p.capable() || p.rlimits.memlock.cur != 0)
    }

    /// `may_expand_vm()` (mm/mmap.c, 6.12): RLIMIT_AS, then RLIMIT_DATA for
    /// a data mapping, with the "Workaround for Valgrind": a soft data limit
    /// of 0 lets the mapping through while it fits under the hard limit.
    /// The `ignore_rlimit_data` boot option is off (its default); the
    /// kernel's one-time `pr_warn_once` is not modelled.
    pub fn may_expand_vm(&self, pid: Pid, flags: VmFlags, npages: u64) -> KResult<bool> {
        let p = self.proc_ref(pid)?;
        if p.mm.total_vm + npages > p.rlimits.as_.cur >> 12 {
            return Ok(false);
        }
        let data = &p.rlimits.data;
        if crate::kernel::mm::is_data_mapping(flags) && p.mm.data_vm + npages > data.cur >> 12 {
            return Ok(data.cur == 0 && p.mm.data_vm + npages <= data.max >> 12);
        }
        Ok(true)
    }

    /// mmap(2): `sys_mmap` -> `ksys_mmap_pgoff` -> `do_mmap` -> `mmap_region`,
    /// then `mm_populate` for MAP_POPULATE/MAP_LOCKED.
    #[allow(clippy::too_many_arguments)] // the syscall's six, plus the kernel, Xen and the caller
    pub fn sys_mmap(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: u64,
        off: u64,
    ) -> KResult<u64> {
        if off & !PAGE_MASK != 0 {
            return Err(Errno::EINVAL);
        }
        let src = if flags & MAP_ANONYMOUS == 0 {
            let f = self.proc_ref(pid)?.files.get(fd)?;
            // ksys_mmap_pgoff(): MAP_HUGETLB on a file not on hugetlbfs.
            if flags & MAP_HUGETLB != 0 {
                return Err(Errno::EINVAL);
            }
            MapSource::File(f)
        } else if flags & MAP_HUGETLB != 0 {
            return self.mmap_hugetlb_anon(hv, pid, addr, len, flags);
        } else {
            MapSource::Anon
        };
        let (addr, populate) = self.do_mmap(hv, pid, src, addr, len, prot, flags, off >> 12)?;
        if populate {
            let plen = page_align_up(len).unwrap_or(0);
            // mm_populate ignores errors.
            let _ = self.mm_populate_range(hv, pid, addr, plen, true);
        }
        Ok(addr)
    }

    /// `do_mmap()`. Returns the address and whether to populate.
    #[allow(clippy::too_many_arguments)]
    pub fn do_mmap(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        src: MapSource,
        addr: u64,
        len: u64,
        prot: u64,
        mut flags: u64,
        mut pgoff: u64,
    ) -> KResult<(u64, bool)> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 {
            flags |= MAP_FIXED;
        }
        let mut addr = addr;
        if flags & MAP_FIXED == 0 {
            // round_hint_to_min(): the hint is page-masked (an address in
            // the first page is no hint), then raised to mmap_min_addr.
            let hint = addr & PAGE_MASK;
            addr = if hint != 0 && hint < EFFECTIVE_MMAP_MIN_ADDR { EFFECTIVE_MMAP_MIN_ADDR } else { hint };
        }
        let len = page_align_up(len).filter(|&l| l != 0).ok_or(Errno::ENOMEM)?;
        if pgoff.checked_add(len >> 12).is_none() {
            return Err(Errno::EOVERFLOW);
        }
        let mm = self.mm(pid)?;
        if mm.map_count() > mm.max_map_count {
            return Err(Errno::ENOMEM);
        }
        let is_file = matches!(src, MapSource::File(_));
        let anon_private = !is_file && flags & MAP_TYPE == MAP_PRIVATE;
        let addr = self.get_unmapped_area(pid, addr, len, anon_private, flags)?;
        if flags & MAP_FIXED_NOREPLACE != 0 && self.mm(pid)?.overlaps(addr, addr + len) {
            return Err(Errno::EEXIST);
        }
        let pkeys = self.cfg.pkeys;
        let pkey = crate::kernel::pkeys::mmap_pkey(self.mm_mut(pid)?, pkeys, prot);
        let mut vm_flags = calc_vm_prot_bits(prot)
            | VmFlags::from_pkey(pkey)
            | calc_vm_flag_bits(flags)
            | self.mm(pid)?.def_flags
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC;
        if flags & MAP_LOCKED != 0 && !self.can_do_mlock(pid)? {
            return Err(Errno::EPERM);
        }
        if !self.mlock_future_ok(pid, vm_flags, len)? {
            return Err(Errno::EAGAIN);
        }
        let mut file = None;
        match &src {
            MapSource::File(f) => {
                // file_mmap_ok(): regular files allow up to MAX_LFS_FILESIZE.
                let maxsize = i64::MAX as u64;
                if len > maxsize || pgoff > (maxsize - len) >> 12 {
                    return Err(Errno::EOVERFLOW);
                }
                match flags & MAP_TYPE {
                    MAP_SHARED | MAP_SHARED_VALIDATE => {
                        let fl = if flags & MAP_TYPE == MAP_SHARED { flags & LEGACY_MAP_MASK } else { flags };
                        if fl & !LEGACY_MAP_MASK != 0 {
                            return Err(Errno::EOPNOTSUPP);
                        }
                        if prot & PROT_WRITE != 0 && !f.writable() {
                            return Err(Errno::EACCES);
                        }
                        vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                        if !f.writable() {
                            vm_flags.remove(VmFlags::MAYWRITE | VmFlags::SHARED);
                        }
                    }
                    MAP_PRIVATE => {}
                    _ => return Err(Errno::EINVAL),
                }
                if !f.readable() {
                    return Err(Errno::EACCES);
                }
                // do_mmap(): `if (!file->f_op->mmap) return -ENODEV;`
                if matches!(&f.kind, FileKind::Device(d) if !d.has_mmap()) {
                    return Err(Errno::ENODEV);
                }
                if vm_flags.contains(VmFlags::GROWSDOWN) {
                    return Err(Errno::EINVAL);
                }
                file = Some(f.clone());
            }
            MapSource::Anon => match flags & MAP_TYPE {
                MAP_SHARED => {
                    if vm_flags.contains(VmFlags::GROWSDOWN) {
                        return Err(Errno::EINVAL);
                    }
                    pgoff = 0;
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                }
                MAP_PRIVATE => pgoff = addr >> 12,
                _ => return Err(Errno::EINVAL),
            },
        }
        // MAP_NORESERVE is ignored in strict overcommit mode.
        if flags & MAP_NORESERVE != 0 && self.cfg.overcommit != crate::kernel::config::Overcommit::Never {
            vm_flags |= VmFlags::NORESERVE;
        }
        let addr = self.mmap_region(hv, pid, file, addr, len, vm_flags, pgoff)?;
        let vm_flags = self.mm(pid)?.vma_at(addr).map_or(vm_flags, |v| v.flags);
        let populate = vm_flags.contains(VmFlags::LOCKED) || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
        Ok((addr, populate))
    }

    /// `mmap_region()`.
    #[allow(clippy::too_many_arguments)]
    pub fn mmap_region(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        file: Option<Rc<OpenFile>>,
        addr: u64,
        len: u64,
        vm_flags: VmFlags,
        pgoff: u64,
    ) -> KResult<u64> {
        // The splits' and the new VMA's slab objects (kernel/slab.rs); what
        // merges and the unmapped VMAs freed goes back at the end.
        let splits = self.vm_area_splits(pid, addr, addr + len);
        self.with_vm_area_objs(hv, pid, splits, |k, hv| k.__mmap_region(hv, pid, file, addr, len, vm_flags, pgoff))
    }

    /// `__mmap_region()` (mm/mmap.c, 6.12).
    #[allow(clippy::too_many_arguments)]
    fn __mmap_region(
        &mut self,
        hv: &mut Hypervisor,
        pid: Pid,
        file: Option<Rc<OpenFile>>,
        addr: u64,
        len: u64,
        mut vm_flags: VmFlags,
        pgoff: u64,
    ) -> KResult<u64> {
        let end = addr + len;
        let pglen = len >> 12;
        // __mmap_region() (mm/mmap.c, 6.12): vms_gather_munmap_vmas() first
        // (splits at both ends, -EPERM for a sealed VMA before any limit is
        // looked at), then may_expand_vm() with the pages being replaced
        // deducted. On a failure after the gather, vms_abort_munmap_vmas()
        // reattaches the VMAs as they are: split, not merged back.
        let overlaps = self.vms_gather_munmap_vmas(pid, addr, end)?;
        let overlap: u64 = self.mm(pid)?.vmas_in(addr, end).map(|v| (v.end.min(end) - v.start.max(addr)) >> 12).sum();
        if !self.may_expand_vm(pid, vm_flags, pglen - overlap)? {
            return Err(Errno::ENOMEM);
        }
        // accountable_mapping(): charge what the VMAs being replaced had
        // not charged already (`map->charged -= vms->nr_accounted`),
        // checked before anything is unmapped (the kernel's abort_munmap).
        if vm_flags & (VmFlags::NORESERVE | VmFlags::SHARED | VmFlags::WRITE) == VmFlags::WRITE {
            let accounted: u64 = self
                .mm(pid)?
                .vmas_in(addr, end)
                .filter(|v| v.flags.contains(VmFlags::ACCOUNT))
                .map(|v| (v.end.min(end) - v.start.max(addr)) >> 12)
                .sum();
            if pglen > accounted {
                self.vm_enough_memory(pid, pglen - accounted)?;
            }
            vm_flags |= VmFlags::ACCOUNT;
        }
        if overlaps {
            self.unmap_range(hv, pid, addr, end, true)?;
        }
        let mut vma = Vma::anon(addr, end, vm_flags);
        vma.pgoff = pgoff;
        match file.as_ref().map(|f| &f.kind) {
            None if vm_flags.contains(VmFlags::SHARED) => {
                // vm_area_alloc() (GFP_KERNEL: may OOM-kill), then
                // shmem_zero_setup(): a new shmem object of the mapping's size.
                self.vm_area_alloc(hv, pid, 1)?;
                let inode = self.shmem.create("dev/zero", InodeKind::SharedAnon, len);
                self.shmem_get(inode);
                vma.file = Some(VmaFile::Shmem { inode });
            }
            None => {
                if self.vma_merge_new_range(pid, &vma)? {
                    self.finish_mmap_accounting(pid, addr, vm_flags, pglen)?;
                    return Ok(addr);
                }
                // No merge: vm_area_alloc() (kernel/slab.rs).
                self.vm_area_alloc(hv, pid, 1)?;
            }
            Some(FileKind::Shmem { inode }) => {
                let inode = *inode;
                self.shmem_get(inode);
                vma.file = Some(VmaFile::Shmem { inode });
                if self.vma_merge_new_range(pid, &vma)? {
                    self.shmem_put(inode);
                    self.finish_mmap_accounting(pid, addr, vm_flags, pglen)?;
                    return Ok(addr);
                }
                if let Err(e) = self.vm_area_alloc(hv, pid, 1) {
                    self.shmem_put(inode);
                    return Err(e);
                }
            }
            Some(FileKind::Device(dev)) => {
                let dev = dev.clone();
                let ((maj, min), ino) = dev.dev_ino();
                vma.file = Some(VmaFile::Device { name: dev.path(), dev: (maj, min), ino });
                self.vm_area_alloc(hv, pid, 1)?;
                // call_mmap(): the driver sets flags and ops, maybe PTEs.
                dev.mmap(self, hv, pid, &mut vma)?;
            }
        }
        let flags = vma.flags;
        self.mm_mut(pid)?.insert(vma);
        self.finish_mmap_accounting(pid, addr, flags, pglen)?;
        Ok(addr)
    }

    fn finish_mmap_accounting(&mut self, pid: Pid, addr: u64, flags: VmFlags, pglen: u64) -> KResult<()> {
        let mm = self.mm_mut(pid)?;
        mm.stat_account(flags, pglen as i64);
        if flags.contains(VmFlags::LOCKED) {
            if flags.intersects(VmFlags::SPECIAL) {
                if let Some(v) = mm.vma_at_mut(addr) {
                    v.flags.remove(VmFlags::LOCKED_MASK);
                }
            } else {
                mm.locked_vm += pglen;
            }
        }
        Ok(())
    }

    /// `do_munmap()` (mm/mmap.c): munmap of `[start, start + len)`, through
    /// `do_vmi_munmap()` (kernel/vma.rs).
    pub fn do_munmap(&mut self, hv: &mut Hypervisor, pid: Pid, start: u64, len: u64) -> KResult<u64> {
        self.do_vmi_munmap(hv, pid, start, len)
    }

    // ---- brk ---------------------------------------------------------

    /// brk(2) (mm/mmap.c `SYSCALL_DEFINE1(brk)`): returns the new break,
    /// or the old one on failure.
    pub fn sys_brk(&mut self, hv: &mut Hypervisor, pid: Pid, brk: u64) -> KResult<u64> {
        let mm = self.mm(pid)?;
        let (start_brk, old) = (mm.start_brk, mm.brk);
        if brk < start_brk {
            return Ok(old);
        }
        let data_limit = self.proc_ref(pid)?.rlimits.data.cur;
        if data_limit != u64::MAX && brk - start_brk > data_limit {
            return Ok(old);
        }
        let (Some(newbrk), Some(oldbrk)) = (page_align_up(brk), page_align_up(old)) else { return Ok(old) };
        if oldbrk == newbrk {
            self.mm_mut(pid)?.brk = brk;
            return Ok(brk);
        }
        if brk <= old {
            // "Always allow shrinking brk" (mm/mmap.c, 6.12), but only over
            // a mapping: `brkvma = vma_find(&vmi, oldbrk)` from newbrk, and
            // no VMA in [newbrk, oldbrk) is `goto out` (the old break). Any
            // VMA found there is unmapped with the tail, heap or not.
            if !self.mm(pid)?.overlaps(newbrk, oldbrk) {
                return Ok(old);
            }
            // Then munmap the tail (do_vmi_align_munmap).
            match self.do_munmap(hv, pid, newbrk, oldbrk - newbrk) {
                Ok(_) => {
                    self.mm_mut(pid)?.brk = brk;
                    return Ok(brk);
                }
                Err(_) => return Ok(old),
            }
        }
        // Growing: the new area must not collide with the next VMA + guard.
        if let Some(next) = self.mm(pid)?.find_vma(oldbrk)
            && newbrk + PAGE_SIZE > vm_start_gap(next)
        {
            return Ok(old);
        }
        let r = self.do_brk_flags(hv, pid, oldbrk, newbrk - oldbrk);
        self.vm_area_cache_shrink();
        if r.is_err() {
            return Ok(old);
        }
        self.mm_mut(pid)?.brk = brk;
        let locked = self.mm(pid)?.def_flags.contains(VmFlags::LOCKED);
        if locked {
            let _ = self.mm_populate_range(hv, pid, oldbrk, newbrk - oldbrk, true);
        }
        Ok(brk)
    }

    /// `do_brk_flags()`: extend the heap VMA or create it.
    fn do_brk_flags(&mut self, hv: &mut Hypervisor, pid: Pid, addr: u64, len: u64) -> KResult<()> {
        let pglen = len >> 12;
        let flags = VmFlags::READ
            | VmFlags::WRITE
            | VmFlags::MAYREAD
            | VmFlags::MAYWRITE
            | VmFlags::MAYEXEC
            | VmFlags::ACCOUNT
            | self.mm(pid)?.def_flags;
        if !self.may_expand_vm(pid, flags, pglen)? {
            return Err(Errno::ENOMEM);
        }
        if self.mm(pid)?.map_count() > self.mm(pid)?.max_map_count {
            return Err(Errno::ENOMEM);
        }
        self.vm_enough_memory(pid, pglen)?;
        if !self.mlock_future_ok(pid, flags, len)? {
            return Err(Errno::EAGAIN);
        }
        let mm = self.mm(pid)?;
        let start_brk = mm.start_brk;
        let tag = |a: u64| if a >= start_brk { VmaTag::Heap } else { VmaTag::None };
        let mut vma = Vma::anon(addr, addr + len, flags);
        vma.tag = tag(addr);
        // do_brk_flags(): expand the previous VMA when it can merge,
        // anon_vma included (mm/vma.c `is_mergeable_anon_vma`: a forked
        // child's heap, whose anon_vma chain is not singular, gets a new
        // VMA).
        let merged = match mm.prev_vma(addr) {
            Some(p)
                if p.end == addr
                    && p.flags == flags
                    && p.is_anonymous()
                    && p.pgoff + p.pages() == vma.pgoff
                    && crate::kernel::vma::is_mergeable_anon_vma(p, &vma) =>
            {
                Some(p.start)
            }
            _ => None,
        };
        if merged.is_none() {
            // vm_area_alloc() (kernel/slab.rs).
            self.vm_area_alloc(hv, pid, 1)?;
        }
        let mm = self.mm_mut(pid)?;
        match merged.and_then(|s| mm.vmas.get_mut(&s)) {
            Some(p) => p.end = addr + len,
            None => mm.insert(vma),
        }
        mm.stat_account(flags, pglen as i64);
        if flags.contains(VmFlags::LOCKED) {
            mm.locked_vm += pglen;
        }
        Ok(())
    }

    // ---- shmem inode references --------------------------------------

    pub fn shmem_get(&mut self, inode: u32) {
        if let Some(i) = self.shmem.get_mut(inode) {
            i.refs += 1;
        }
    }

    /// Drop a reference; the last one frees an unlinked inode's pages
    /// (memfd and shared anonymous objects; /dev/shm files stay).
    pub fn shmem_put(&mut self, inode: u32) {
        let Some(i) = self.shmem.get_mut(inode) else { return };
        i.refs = i.refs.saturating_sub(1);
        if i.refs == 0
            && i.kind != InodeKind::Tmpfs
            && let Some(i) = self.shmem.inodes.remove(&inode)
        {
            for (_, pfn) in i.pages {
                self.put_page(pfn);
            }
        }
    }
}
