//! Linux's view of a PTE: `pte_present()`, protections (`vm_get_page_prot`)
//! and, for PV guests, `pte_pfn()` through `mfn_to_pfn()`.
//!
//! Follows `arch/x86/include/asm/pgtable.h`, `arch/x86/mm/pgprot.c`
//! (`protection_map`), `arch/x86/include/asm/xen/page.h`.

use crate::arch::x86_64::{Pte, PteFlags};
use crate::kernel::mm_types::VmFlags;

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
}
