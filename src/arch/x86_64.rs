//! x86-64 paging as Linux sees it: 4 KiB pages, four levels of 512 entries,
//! PTE bits at their hardware/Linux positions.
//!
//! Follows `arch/x86/include/asm/pgtable_types.h` and `page_64_types.h`.
//! Simplification: 4-level paging only (no LA57), no huge pages in the
//! page tables (THP is modelled as VMA flags only).

use bitflags::bitflags;
use std::fmt;

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
pub const PMD_SHIFT: u32 = 21;
pub const PMD_SIZE: u64 = 1 << PMD_SHIFT;
pub const PUD_SHIFT: u32 = 30;
pub const PUD_SIZE: u64 = 1 << PUD_SHIFT;
pub const PGDIR_SHIFT: u32 = 39;
pub const PTRS_PER_TABLE: usize = 512;

/// `TASK_SIZE_MAX` for 4-level paging: `(1 << 47) - PAGE_SIZE`.
pub const TASK_SIZE: u64 = (1 << 47) - PAGE_SIZE;

/// `PTE_PFN_MASK`: physical address bits 12..51.
pub const PTE_PFN_MASK: u64 = 0x000f_ffff_ffff_f000;

bitflags! {
    /// Page-table entry bits (`_PAGE_*`), at their real positions.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct PteFlags: u64 {
        const PRESENT  = 1 << 0;
        const RW       = 1 << 1;
        const USER     = 1 << 2;
        const PWT      = 1 << 3;
        const PCD      = 1 << 4;
        const ACCESSED = 1 << 5;
        const DIRTY    = 1 << 6;
        const PSE      = 1 << 7;
        const GLOBAL   = 1 << 8;
        /// `_PAGE_SPECIAL` = `_PAGE_SOFTW1` (bit 9). Xen's `_GNTMAP_guest_avail0`
        /// lands here when a grant is mapped with that flag.
        const SPECIAL  = 1 << 9;
        /// `_PAGE_SOFTW2` / `_PAGE_UFFD_WP`-free: unused by the model.
        const SOFTW2   = 1 << 10;
        /// `_PAGE_SOFT_DIRTY` (software bit 11).
        const SOFT_DIRTY = 1 << 11;
        /// `_PAGE_PKEY_BIT0..3` (bits 59-62): the protection key, with pkeys.
        const PKEY_BIT0 = 1 << 59;
        const PKEY_BIT1 = 1 << 60;
        const PKEY_BIT2 = 1 << 61;
        const PKEY_BIT3 = 1 << 62;
        const NX       = 1 << 63;
    }
}

/// `SWP_TYPE_BITS` (arch/x86/include/asm/pgtable_64.h): a swap entry's
/// type is the top five bits of a non-present PTE.
pub const SWP_TYPE_BITS: u32 = 5;
/// `SWP_OFFSET_FIRST_BIT` = `_PAGE_BIT_PROTNONE + 1` (bit 9).
pub const SWP_OFFSET_FIRST_BIT: u32 = 9;
/// `SWP_OFFSET_SHIFT` = `SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS`.
pub const SWP_OFFSET_SHIFT: u32 = SWP_OFFSET_FIRST_BIT + SWP_TYPE_BITS;

/// `__swp_entry(type, offset)` turned into a PTE (`__swp_entry_to_pte`):
/// the offset is stored inverted (the L1TF mitigation: a non-present PTE
/// never names real memory), shifted up to drop the type's bits and down
/// again, the type in the top five bits.
pub fn swp_entry_to_pte(ty: u64, offset: u64) -> Pte {
    Pte(((!offset) << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS) | (ty << (64 - SWP_TYPE_BITS)))
}

/// `__swp_type(pte_to_swp_entry(pte))`.
pub fn pte_swp_type(p: Pte) -> u64 {
    p.0 >> (64 - SWP_TYPE_BITS)
}

/// `__swp_offset(pte_to_swp_entry(pte))`.
pub fn pte_swp_offset(p: Pte) -> u64 {
    (!p.0) << SWP_TYPE_BITS >> SWP_OFFSET_SHIFT
}

/// `_PAGE_PKEY_BIT0`: the pkey field's shift in a PTE.
pub const PTE_PKEY_SHIFT: u32 = 59;

/// `_PAGE_TABLE`: what Linux puts in a PGD/PUD/PMD entry pointing at a table.
pub const PAGE_TABLE: PteFlags =
    PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::USER).union(PteFlags::ACCESSED).union(PteFlags::DIRTY);

/// A raw page-table entry value (`pte_t`), at any level.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pte(pub u64);

impl Pte {
    pub const NONE: Pte = Pte(0);

    pub fn new(frame: u64, flags: PteFlags) -> Pte {
        Pte(((frame << PAGE_SHIFT) & PTE_PFN_MASK) | flags.bits())
    }
    /// The frame number held in the entry: a PFN natively, an MFN in a PV guest
    /// (the raw value; `pte_pfn()` of a PV guest translates it, see kernel/pte.rs).
    pub fn frame(self) -> u64 {
        (self.0 & PTE_PFN_MASK) >> PAGE_SHIFT
    }
    pub fn flags(self) -> PteFlags {
        PteFlags::from_bits_truncate(self.0)
    }
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
    pub fn present(self) -> bool {
        self.flags().contains(PteFlags::PRESENT)
    }
    pub fn write(self) -> bool {
        self.flags().contains(PteFlags::RW)
    }
    pub fn special(self) -> bool {
        self.flags().contains(PteFlags::SPECIAL)
    }
    pub fn dirty(self) -> bool {
        self.flags().contains(PteFlags::DIRTY)
    }
    pub fn young(self) -> bool {
        self.flags().contains(PteFlags::ACCESSED)
    }
    pub fn set(self, f: PteFlags) -> Pte {
        Pte(self.0 | f.bits())
    }
    pub fn clear(self, f: PteFlags) -> Pte {
        Pte(self.0 & !f.bits())
    }
    pub fn with_frame(self, frame: u64) -> Pte {
        Pte((self.0 & !PTE_PFN_MASK) | ((frame << PAGE_SHIFT) & PTE_PFN_MASK))
    }
}

impl fmt::Debug for Pte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pte({:#018x})", self.0)
    }
}

/// Names of the set bits, lowest first, as `show pagetable` prints them.
pub fn flag_names(p: Pte) -> Vec<&'static str> {
    const NAMES: [(PteFlags, &str); 17] = [
        (PteFlags::PRESENT, "PRESENT"),
        (PteFlags::RW, "RW"),
        (PteFlags::USER, "USER"),
        (PteFlags::PWT, "PWT"),
        (PteFlags::PCD, "PCD"),
        (PteFlags::ACCESSED, "ACCESSED"),
        (PteFlags::DIRTY, "DIRTY"),
        (PteFlags::PSE, "PSE"),
        (PteFlags::GLOBAL, "GLOBAL"),
        (PteFlags::SPECIAL, "SPECIAL"),
        (PteFlags::SOFTW2, "SOFTW2"),
        (PteFlags::SOFT_DIRTY, "SOFT_DIRTY"),
        (PteFlags::PKEY_BIT0, "PKEY_BIT0"),
        (PteFlags::PKEY_BIT1, "PKEY_BIT1"),
        (PteFlags::PKEY_BIT2, "PKEY_BIT2"),
        (PteFlags::PKEY_BIT3, "PKEY_BIT3"),
        (PteFlags::NX, "NX"),
    ];
    let fl = p.flags();
    NAMES.iter().filter(|(b, _)| fl.contains(*b)).map(|(_, n)| *n).collect()
}

/// Index of `addr` in the table at `level` (4 = PGD, 3 = PUD, 2 = PMD, 1 = PTE).
pub fn table_index(addr: u64, level: u32) -> usize {
    ((addr >> (PAGE_SHIFT + 9 * (level - 1))) & 511) as usize
}

pub fn page_align_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & PAGE_MASK)
}

pub fn is_page_aligned(x: u64) -> bool {
    x & !PAGE_MASK == 0
}

/// x86-64 Linux's `__PAGE_OFFSET` (start of the kernel direct map, 4-level
/// paging, no KASLR): `pfn_to_kaddr(pfn) = PAGE_OFFSET + (pfn << 12)`.
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_at_kernel_positions() {
        // arch/x86/include/asm/pgtable_types.h: _PAGE_BIT_SOFTW1 = 9 is _PAGE_BIT_SPECIAL
        assert_eq!(PteFlags::SPECIAL.bits(), 0x200);
        assert_eq!(PteFlags::NX.bits(), 0x8000_0000_0000_0000);
        assert_eq!(PAGE_TABLE.bits(), 0x67); // _KERNPG_TABLE | _PAGE_USER
        let p = Pte::new(0x1234, PteFlags::PRESENT | PteFlags::SPECIAL);
        assert_eq!(p.0, (0x1234 << 12) | 0x201);
        assert_eq!(p.frame(), 0x1234);
        assert!(p.special() && p.present() && !p.write());
    }

    #[test]
    fn swap_entry_encoding() {
        // make_pte_marker(PTE_MARKER_GUARD): type 31, offset 4, computed by
        // hand from __swp_entry: (~4 << 14 >> 5) | (31 << 59).
        let p = swp_entry_to_pte(31, 4);
        assert_eq!(p.0, 0xffff_ffff_ffff_f600);
        assert!(!p.present() && p.0 & PteFlags::GLOBAL.bits() == 0, "neither PRESENT nor PROTNONE");
        assert_eq!((pte_swp_type(p), pte_swp_offset(p)), (31, 4));
        let q = swp_entry_to_pte(3, 0x12345);
        assert_eq!((pte_swp_type(q), pte_swp_offset(q)), (3, 0x12345));
    }

    #[test]
    fn indices() {
        let a = 0x7e00_3fff_e000u64;
        assert_eq!(table_index(a, 4), 252);
        assert_eq!(table_index(a, 3), 0);
        assert_eq!(table_index(a, 2), 511);
        assert_eq!(table_index(a, 1), 510);
    }
}
