//! `struct vm_area_struct`, its flags and its operations.
//!
//! Follows `include/linux/mm.h` (VM_* values) and `include/linux/mm_types.h`.

use crate::errno::KResult;
use crate::hv::Hypervisor;
use crate::kernel::Kernel;
use crate::kernel::page::Pfn;
use bitflags::bitflags;
use std::fmt;
use std::rc::Rc;

bitflags! {
    /// `vm_flags_t`, values as in include/linux/mm.h (x86-64).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct VmFlags: u64 {
        const READ        = 0x0000_0001;
        const WRITE       = 0x0000_0002;
        const EXEC        = 0x0000_0004;
        const SHARED      = 0x0000_0008;
        const MAYREAD     = 0x0000_0010;
        const MAYWRITE    = 0x0000_0020;
        const MAYEXEC     = 0x0000_0040;
        const MAYSHARE    = 0x0000_0080;
        const GROWSDOWN   = 0x0000_0100;
        const UFFD_MISSING = 0x0000_0200;
        const PFNMAP      = 0x0000_0400;
        /// `VM_MAYBE_GUARD` (bit 11): guard markers may be in the page
        /// tables (set by MADV_GUARD_INSTALL, shown as "gu" in smaps).
        const MAYBE_GUARD = 0x0000_0800;
        const UFFD_WP     = 0x0000_1000;
        const LOCKED      = 0x0000_2000;
        const IO          = 0x0000_4000;
        const SEQ_READ    = 0x0000_8000;
        const RAND_READ   = 0x0001_0000;
        const DONTCOPY    = 0x0002_0000;
        const DONTEXPAND  = 0x0004_0000;
        const LOCKONFAULT = 0x0008_0000;
        const ACCOUNT     = 0x0010_0000;
        const NORESERVE   = 0x0020_0000;
        const HUGETLB     = 0x0040_0000;
        const SYNC        = 0x0080_0000;
        const ARCH_1      = 0x0100_0000;
        const WIPEONFORK  = 0x0200_0000;
        const DONTDUMP    = 0x0400_0000;
        const SOFTDIRTY   = 0x0800_0000;
        const MIXEDMAP    = 0x1000_0000;
        const HUGEPAGE    = 0x2000_0000;
        const NOHUGEPAGE  = 0x4000_0000;
        const MERGEABLE   = 0x8000_0000;
        /// `VM_PKEY_BIT0..3` = `VM_HIGH_ARCH_0..3` (bits 32-35): the VMA's
        /// protection key on x86-64 with pkeys. smaps prints them as
        /// `ProtectionKey:`, not in VmFlags.
        const PKEY_BIT0   = 1 << 32;
        const PKEY_BIT1   = 1 << 33;
        const PKEY_BIT2   = 1 << 34;
        const PKEY_BIT3   = 1 << 35;
        /// `VM_DROPPABLE` (VM_HIGH_ARCH_BIT_... on 64-bit: bit 40).
        const DROPPABLE   = 1 << 40;
        /// `VM_SEALED` (bit 42), set by mseal(2).
        const SEALED      = 1 << 42;
    }
}

impl VmFlags {
    /// `VM_SPECIAL`: never merged, never expanded.
    pub const SPECIAL: VmFlags = VmFlags::IO.union(VmFlags::DONTEXPAND).union(VmFlags::PFNMAP).union(VmFlags::MIXEDMAP);
    pub const LOCKED_MASK: VmFlags = VmFlags::LOCKED.union(VmFlags::LOCKONFAULT);
    pub const ACCESS: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);
    /// `VM_STICKY`: flags a merged VMA keeps if either part had them.
    pub const STICKY: VmFlags = VmFlags::SOFTDIRTY.union(VmFlags::MAYBE_GUARD);
    /// `VM_IGNORE_MERGE`: flags that do not stop two VMAs merging.
    pub const IGNORE_MERGE: VmFlags = VmFlags::STICKY;

    /// `ARCH_VM_PKEY_FLAGS`.
    pub const PKEY_MASK: VmFlags =
        VmFlags::PKEY_BIT0.union(VmFlags::PKEY_BIT1).union(VmFlags::PKEY_BIT2).union(VmFlags::PKEY_BIT3);
    /// `VM_PKEY_SHIFT`.
    pub const PKEY_SHIFT: u32 = 32;

    /// `vma_pkey()` (arch/x86/include/asm/pkeys.h).
    pub fn pkey(self) -> u8 {
        ((self & VmFlags::PKEY_MASK).bits() >> VmFlags::PKEY_SHIFT) as u8
    }

    /// The pkey bits of `calc_vm_prot_bits(prot, pkey)`
    /// (`arch_calc_vm_prot_bits`).
    pub fn from_pkey(pkey: u8) -> VmFlags {
        VmFlags::from_bits_truncate(u64::from(pkey & 0xf) << VmFlags::PKEY_SHIFT)
    }

    /// `is_cow_mapping()`: private and may become writable.
    pub fn is_cow(self) -> bool {
        self & (VmFlags::SHARED | VmFlags::MAYWRITE) == VmFlags::MAYWRITE
    }
}

/// `show_smap_vma_flags()` (fs/proc/task_mmu.c): two letters per flag, in
/// bit order, each followed by a space.
pub fn smaps_vmflags(f: VmFlags) -> String {
    const M: [(VmFlags, &str); 34] = [
        (VmFlags::READ, "rd"),
        (VmFlags::WRITE, "wr"),
        (VmFlags::EXEC, "ex"),
        (VmFlags::SHARED, "sh"),
        (VmFlags::MAYREAD, "mr"),
        (VmFlags::MAYWRITE, "mw"),
        (VmFlags::MAYEXEC, "me"),
        (VmFlags::MAYSHARE, "ms"),
        (VmFlags::GROWSDOWN, "gd"),
        (VmFlags::UFFD_MISSING, "um"),
        (VmFlags::PFNMAP, "pf"),
        (VmFlags::MAYBE_GUARD, "gu"),
        (VmFlags::UFFD_WP, "uw"),
        (VmFlags::LOCKED, "lo"),
        (VmFlags::IO, "io"),
        (VmFlags::SEQ_READ, "sr"),
        (VmFlags::RAND_READ, "rr"),
        (VmFlags::DONTCOPY, "dc"),
        (VmFlags::DONTEXPAND, "de"),
        (VmFlags::LOCKONFAULT, "lf"),
        (VmFlags::ACCOUNT, "ac"),
        (VmFlags::NORESERVE, "nr"),
        (VmFlags::HUGETLB, "ht"),
        (VmFlags::SYNC, "sf"),
        (VmFlags::ARCH_1, "ar"),
        (VmFlags::WIPEONFORK, "wf"),
        (VmFlags::DONTDUMP, "dd"),
        (VmFlags::SOFTDIRTY, "sd"),
        (VmFlags::MIXEDMAP, "mm"),
        (VmFlags::HUGEPAGE, "hg"),
        (VmFlags::NOHUGEPAGE, "nh"),
        (VmFlags::MERGEABLE, "mg"),
        (VmFlags::DROPPABLE, "dp"),
        (VmFlags::SEALED, "sl"),
    ];
    let mut s = String::new();
    for (b, n) in M {
        if f.contains(b) {
            s.push_str(n);
            s.push(' ');
        }
    }
    s
}

/// What a VMA maps, beyond anonymous memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaFile {
    /// A shmem/tmpfs inode (files, memfd, shared anonymous memory).
    Shmem { inode: u32 },
    /// A character device (gntdev, privcmd); its driver supplies `ops`.
    Device { name: String, dev: (u32, u32), ino: u64 },
}

/// What a driver may do for its VMAs (`struct vm_operations_struct`).
/// The kernel calls these where Linux does; those that change state get the
/// kernel and hypervisor handed in (the VMA is out of the tree by then).
pub trait VmOperations: fmt::Debug {
    /// Whether the VMA has `vm_ops->find_special_page` (Linux 4.0-6.17;
    /// `find_normal_page` since 6.18).
    fn has_find_special_page(&self) -> bool {
        false
    }
    /// `vm_ops->find_special_page(vma, addr)`.
    fn find_special_page(&self, _vma: &Vma, _addr: u64) -> Option<Pfn> {
        None
    }
    /// Model instrumentation, not a kernel hook: the `struct page` the
    /// driver's own bookkeeping says stands for `addr` (gntdev: the map's
    /// page for that index), whatever `vm_normal_page` finds. GUP audits its
    /// answer against it (`gup-wrong-page`).
    fn backing_page(&self, _vma: &Vma, _addr: u64) -> Option<Pfn> {
        None
    }
    /// `vm_ops->may_split` (an error forbids splitting at `addr`).
    fn may_split(&self, _vma: &Vma, _addr: u64) -> KResult<()> {
        Ok(())
    }
    /// `vm_ops->open`: a new VMA now shares the driver's object (split, fork).
    fn open(&self, _vma: &Vma) {}
    /// `vm_ops->close`: the VMA is gone (already out of the tree).
    fn close(&self, _k: &mut Kernel, _hv: &mut Hypervisor, _vma: &Vma) {}
    /// Whether `vm_ops->close` exists (it blocks VMA merging, mm/vma.c).
    fn has_close(&self) -> bool {
        false
    }
    /// The driver's own type (`vma->vm_ops == &driver_vmops` tests).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// Special names shown in /proc/PID/maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaTag {
    None,
    Heap,
    Stack,
}

#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub flags: VmFlags,
    /// `vm_pgoff`: file offset in pages, or `addr >> PAGE_SHIFT` at creation
    /// for anonymous memory.
    pub pgoff: u64,
    pub file: Option<VmaFile>,
    /// The anon_vma id, once the first anonymous page was faulted in.
    pub anon_vma: Option<u32>,
    /// The VMA's `anon_vma_chain` is not singular: it was cloned at fork
    /// with an anon_vma (the chain links the parent's anon_vma too), or
    /// split/copied from such a VMA. Such a VMA neither merges with a VMA
    /// without anon_vma nor lends its anon_vma to a neighbour
    /// (mm/vma.c `vma_had_uncowed_parents`, mm/rmap.c `reusable_anon_vma`).
    pub anon_chain_forked: bool,
    pub ops: Option<Rc<dyn VmOperations>>,
    pub tag: VmaTag,
}

impl fmt::Debug for Vma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Vma({:#x}-{:#x} {:?} pgoff={:#x} av={:?} file={:?})",
            self.start, self.end, self.flags, self.pgoff, self.anon_vma, self.file
        )
    }
}

impl Vma {
    pub fn anon(start: u64, end: u64, flags: VmFlags) -> Vma {
        Vma {
            start,
            end,
            flags,
            pgoff: start >> 12,
            file: None,
            anon_vma: None,
            anon_chain_forked: false,
            ops: None,
            tag: VmaTag::None,
        }
    }
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub fn pages(&self) -> u64 {
        self.len() >> 12
    }
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
    pub fn is_anonymous(&self) -> bool {
        self.file.is_none() && self.ops.is_none()
    }
    pub fn is_shared(&self) -> bool {
        self.flags.contains(VmFlags::SHARED)
    }
    /// `linear_page_index()`.
    pub fn linear_index(&self, addr: u64) -> u64 {
        ((addr - self.start) >> 12) + self.pgoff
    }
    pub fn shmem_inode(&self) -> Option<u32> {
        match self.file {
            Some(VmaFile::Shmem { inode }) => Some(inode),
            _ => None,
        }
    }
    pub fn same_ops(&self, other: &Vma) -> bool {
        match (&self.ops, &other.ops) {
            (None, None) => true,
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn flag_values_match_kernel() {
        assert_eq!(VmFlags::DONTCOPY.bits(), 0x20000);
        assert_eq!(VmFlags::MIXEDMAP.bits(), 0x1000_0000);
        assert_eq!(VmFlags::SPECIAL.bits(), 0x1004_4400);
        assert_eq!(
            smaps_vmflags(
                VmFlags::READ
                    | VmFlags::WRITE
                    | VmFlags::MAYREAD
                    | VmFlags::MAYWRITE
                    | VmFlags::MAYEXEC
                    | VmFlags::ACCOUNT
            ),
            "rd wr mr mw me ac "
        );
        assert!((VmFlags::MAYWRITE | VmFlags::READ).is_cow());
        assert!(!(VmFlags::MAYWRITE | VmFlags::SHARED).is_cow());
    }
}
