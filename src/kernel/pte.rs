//! Linux's view of a PTE: `pte_present()`, protections (`vm_get_page_prot`)
//! and, for PV guests, `pte_pfn()` through `mfn_to_pfn()`.
//!
//! Follows `arch/x86/include/asm/pgtable.h`, `arch/x86/mm/pgprot.c`
//! (`protection_map`), `arch/x86/include/asm/xen/page.h`.

use crate::arch::x86_64::{PTRS_PER_TABLE, Pte, PteFlags};
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::page::Pfn;

/// `_PAGE_PROTNONE` is `_PAGE_GLOBAL` (bit 8) in a user PTE.
pub const PROTNONE: PteFlags = PteFlags::GLOBAL;

/// `pte_present()`: present, or PROT_NONE (kept present for the kernel).
pub fn pte_present(p: Pte) -> bool {
    p.flags().intersects(PteFlags::PRESENT | PROTNONE)
}

/// `pte_protnone()`.
pub fn pte_protnone(p: Pte) -> bool {
    p.flags() & (PteFlags::PRESENT | PROTNONE) == PROTNONE
}

/// The pkey field of a PTE (`_PAGE_PKEY_MASK`).
pub const PKEY_BITS: PteFlags =
    PteFlags::PKEY_BIT0.union(PteFlags::PKEY_BIT1).union(PteFlags::PKEY_BIT2).union(PteFlags::PKEY_BIT3);

/// Bits that describe protection (everything `pte_modify` replaces: all
/// but `_PAGE_CHG_MASK`, so the pkey too).
pub const PROT_BITS: PteFlags =
    PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::USER).union(PROTNONE).union(PteFlags::NX).union(PKEY_BITS);

/// `pte_flags_pkey()`: the protection key a PTE carries.
pub fn pte_pkey(p: Pte) -> u8 {
    ((p.flags() & PKEY_BITS).bits() >> crate::arch::x86_64::PTE_PKEY_SHIFT) as u8
}

/// `vm_get_page_prot()`: x86 `protection_map[]` indexed by
/// VM_READ|VM_WRITE|VM_EXEC|VM_SHARED. Private writable maps read-only
/// (`PAGE_COPY`): write access is granted per PTE by the fault handler.
/// The VMA's pkey bits become the PTE's (arch/x86/mm/pgprot.c); they are
/// only ever set on a machine with pkeys.
pub fn vm_get_page_prot(f: VmFlags) -> PteFlags {
    let pkey = PteFlags::from_bits_truncate(u64::from(f.pkey()) << crate::arch::x86_64::PTE_PKEY_SHIFT);
    vm_get_page_prot_nokey(f) | pkey
}

fn vm_get_page_prot_nokey(f: VmFlags) -> PteFlags {
    let r = f.contains(VmFlags::READ);
    let w = f.contains(VmFlags::WRITE);
    let x = f.contains(VmFlags::EXEC);
    let sh = f.contains(VmFlags::SHARED);
    if !r && !w && !x {
        return PROTNONE | PteFlags::ACCESSED; // PAGE_NONE
    }
    let mut p = PteFlags::PRESENT | PteFlags::USER | PteFlags::ACCESSED;
    if sh && w {
        p |= PteFlags::RW;
    }
    if !x {
        p |= PteFlags::NX;
    }
    p
}

/// `pte_modify()`: keep frame and A/D/special bits, take new protections.
pub fn pte_modify(p: Pte, newprot: PteFlags) -> Pte {
    Pte((p.0 & !PROT_BITS.bits()) | (newprot & PROT_BITS).bits())
}

/// What a leaf PTE is, decoded once: the answer of `pte_none()`,
/// `is_pte_marker()`, `pte_present()`, `pte_special()`, `pte_protnone()`
/// (include/linux/pgtable.h, include/linux/swapops.h,
/// arch/x86/include/asm/pgtable.h) that callers would otherwise work out
/// from the raw value each on its own. [`Kernel::pte_entry`] and
/// [`Kernel::pte_entries`] hand it out with the raw entry.
///
/// [`Kernel::pte_entry`]: crate::kernel::Kernel::pte_entry
/// [`Kernel::pte_entries`]: crate::kernel::Kernel::pte_entries
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PteKind {
    /// `pte_none()`.
    None,
    /// A PTE marker (`is_pte_marker()`: swap type `SWP_PTE_MARKER`) with
    /// its marker bits (`pte_marker_get()`: `PTE_MARKER_GUARD`...).
    Marker(u64),
    /// Any other non-present, non-none entry (a swap, migration or
    /// hwpoison entry; the model makes none).
    Swap,
    /// `pte_present()` (a PROT_NONE entry included): `frame` is the
    /// entry's frame field (a PFN natively, an MFN in a PV guest; the
    /// guest's `pte_pfn()` is `Kernel::pte_pfn`).
    Present {
        frame: u64,
        /// `pte_special()`: no `struct page` to use (`vm_normal_page`).
        special: bool,
        /// `pte_protnone()`: present for the kernel, not for the MMU.
        protnone: bool,
        /// `pte_write()`.
        write: bool,
    },
}

impl PteKind {
    /// Decode a raw leaf entry.
    pub fn of(p: Pte) -> PteKind {
        use crate::arch::x86_64::{pte_swp_offset, pte_swp_type};
        if p.is_none() {
            PteKind::None
        } else if pte_present(p) {
            PteKind::Present { frame: p.frame(), special: p.special(), protnone: pte_protnone(p), write: p.write() }
        } else if pte_swp_type(p) == crate::kernel::memory::SWP_PTE_MARKER {
            PteKind::Marker(pte_swp_offset(p))
        } else {
            PteKind::Swap
        }
    }
    /// `is_guard_pte_marker()`: a marker with `PTE_MARKER_GUARD`.
    pub fn is_guard(self) -> bool {
        matches!(self, PteKind::Marker(m) if m & crate::kernel::memory::PTE_MARKER_GUARD != 0)
    }
    /// `pte_present()`.
    pub fn is_present(self) -> bool {
        matches!(self, PteKind::Present { .. })
    }
    /// `pte_none_mostly()` (include/linux/mm_inline.h): none, or a marker.
    pub fn is_none_mostly(self) -> bool {
        matches!(self, PteKind::None | PteKind::Marker(_))
    }
}

/// `maybe_mkwrite()` (include/linux/mm.h): the write bit only where the VMA
/// allows writing. A FOLL_FORCE write fault on a read-only private mapping
/// (ptrace, /proc/PID/mem) breaks COW but leaves the PTE read-only; GUP then
/// follows it through `can_follow_write_pte()`.
pub fn maybe_mkwrite(pte: Pte, vma: &Vma) -> Pte {
    if vma.flags.contains(VmFlags::WRITE) { pte.set(PteFlags::RW) } else { pte }
}

/// The buffers of fork's and zap's per-table loops (model bookkeeping): a
/// copy of the PTE page being walked entry by entry, and zap's batch of
/// pages to free ([`FreeBatch`]). A kernel keeps one of each and lends it
/// to each call ([`Scratch::take`], [`Scratch::take_frees`]), so a call
/// that touches one entry does not first allocate and zero 4 KiB; nothing
/// in them is read before the call writes it.
#[derive(Default)]
pub struct Scratch {
    ptes: Option<Box<[Pte; PTRS_PER_TABLE]>>,
    frees: Option<Box<FreeBatch>>,
}

impl Scratch {
    /// The table copy, or a new one if it is lent out (a nested call).
    pub fn take(&mut self) -> Box<[Pte; PTRS_PER_TABLE]> {
        self.ptes.take().unwrap_or_else(|| Box::new([Pte::NONE; PTRS_PER_TABLE]))
    }
    /// Back for the next call.
    pub fn put(&mut self, ptes: Box<[Pte; PTRS_PER_TABLE]>) {
        self.ptes = Some(ptes);
    }
    /// The free batch, empty.
    pub fn take_frees(&mut self) -> Box<FreeBatch> {
        self.frees.take().unwrap_or_default()
    }
    /// Back for the next call.
    pub fn put_frees(&mut self, frees: Box<FreeBatch>) {
        self.frees = Some(frees);
    }
}

/// The pages whose last reference the zap of one PTE page dropped, freed
/// once the table's entries are cleared, as Linux gathers them
/// (`__tlb_remove_folio_pages()` into the mmu_gather batch, freed by
/// `tlb_flush_mmu()` -> `free_pages_and_swap_cache()`): at most one a
/// PTE, so a table's worth.
pub struct FreeBatch {
    pfns: [Pfn; PTRS_PER_TABLE],
    len: usize,
}

impl Default for FreeBatch {
    fn default() -> Self {
        FreeBatch { pfns: [Pfn(0); PTRS_PER_TABLE], len: 0 }
    }
}

impl FreeBatch {
    /// Gather `pfn`.
    #[inline(always)]
    pub fn push(&mut self, pfn: Pfn) {
        debug_assert!(self.len < PTRS_PER_TABLE, "more than one page per entry");
        self.pfns[self.len & (PTRS_PER_TABLE - 1)] = pfn;
        self.len += 1;
    }
    /// The pages gathered, in order, and the batch emptied.
    pub fn take(&mut self) -> impl Iterator<Item = Pfn> + '_ {
        let n = std::mem::take(&mut self.len).min(PTRS_PER_TABLE);
        self.pfns[..n].iter().copied()
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn protection_map() {
        let rw_private = vm_get_page_prot(VmFlags::READ | VmFlags::WRITE);
        assert!(!rw_private.contains(PteFlags::RW), "PAGE_COPY is read-only");
        assert!(rw_private.contains(PteFlags::NX | PteFlags::USER | PteFlags::PRESENT));
        let rw_shared = vm_get_page_prot(VmFlags::READ | VmFlags::WRITE | VmFlags::SHARED);
        assert!(rw_shared.contains(PteFlags::RW));
        let none = vm_get_page_prot(VmFlags::empty());
        let p = Pte::new(5, none);
        assert!(pte_present(p) && pte_protnone(p) && !p.present());
    }

    /// `PteKind::of` answers as the kernel's predicates do: a guard marker
    /// is `is_pte_marker()` with `PTE_MARKER_GUARD` and not `pte_present()`;
    /// a PROT_NONE entry is `pte_present()` and `pte_protnone()`; a swap
    /// entry of type 0 is neither none, marker nor present.
    #[test]
    fn pte_kind() {
        use crate::arch::x86_64::swp_entry_to_pte;
        use crate::kernel::memory::{PTE_MARKER_GUARD, guard_marker};
        assert_eq!(PteKind::of(Pte::NONE), PteKind::None);
        let g = PteKind::of(guard_marker());
        assert_eq!(g, PteKind::Marker(PTE_MARKER_GUARD));
        assert!(g.is_guard() && g.is_none_mostly() && !g.is_present());
        let swap = PteKind::of(swp_entry_to_pte(0, 5));
        assert_eq!(swap, PteKind::Swap);
        assert!(!swap.is_guard() && !swap.is_none_mostly() && !swap.is_present());
        let none_prot = PteKind::of(Pte::new(5, vm_get_page_prot(VmFlags::empty())));
        assert_eq!(none_prot, PteKind::Present { frame: 5, special: false, protnone: true, write: false });
        let f = vm_get_page_prot(VmFlags::READ | VmFlags::WRITE | VmFlags::SHARED) | PteFlags::SPECIAL;
        assert_eq!(
            PteKind::of(Pte::new(7, f)),
            PteKind::Present { frame: 7, special: true, protnone: false, write: true }
        );
    }
}
