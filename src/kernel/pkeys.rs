//! x86 memory protection keys as the kernel uses them without a user
//! asking: the execute-only key that makes `PROT_EXEC` alone mean "no data
//! access" on a CPU with pkeys.
//!
//! Follows arch/x86/mm/pkeys.c (`__execute_only_pkey`,
//! `__arch_override_mprotect_pkey`), arch/x86/include/asm/pkeys.h
//! (`mm_pkey_alloc`, `vma_pkey`) and arch/x86/include/asm/mmu_context.h
//! (`arch_vma_access_permitted`). Simplifications: no pkey_alloc(2),
//! pkey_mprotect(2) or WRPKRU, so PKRU always holds its initial value
//! (`init_pkru_value`: every key but 0 access-disabled) and a VMA's key is
//! either 0 or the mm's execute-only key. Without pkeys on the machine
//! ([`crate::kernel::config::MachineConfig::pkeys`]) every key is 0.

use crate::kernel::mm::Mm;
use crate::kernel::mm_types::{VmFlags, Vma};
use crate::kernel::mmap::PROT_EXEC;

/// `arch_max_pkey()` on x86-64.
const ARCH_MAX_PKEY: u8 = 16;

/// `ARCH_DEFAULT_PKEY`.
pub const ARCH_DEFAULT_PKEY: u8 = 0;

/// `mm_pkey_alloc()`: the lowest key not yet allocated.
fn mm_pkey_alloc(mm: &mut Mm) -> Option<u8> {
    let free = (0..ARCH_MAX_PKEY).find(|k| mm.pkey_allocation_map & (1 << k) == 0)?;
    mm.pkey_allocation_map |= 1 << free;
    Some(free)
}

/// `execute_only_pkey()`: the mm's execute-only key, allocated on first
/// use (its PKRU bits then deny data access); `None` without pkeys or when
/// every key is taken (the caller falls back to the VMA's own key).
pub fn execute_only_pkey(mm: &mut Mm, pkeys: bool) -> Option<u8> {
    if !pkeys {
        return None;
    }
    if let Some(k) = mm.execute_only_pkey {
        return Some(k);
    }
    let k = mm_pkey_alloc(mm)?;
    mm.execute_only_pkey = Some(k);
    Some(k)
}

/// The key `do_mmap()` gives a new mapping: the execute-only key for
/// `prot == PROT_EXEC`, else 0.
pub fn mmap_pkey(mm: &mut Mm, pkeys: bool, prot: u64) -> u8 {
    if prot == PROT_EXEC { execute_only_pkey(mm, pkeys).unwrap_or(ARCH_DEFAULT_PKEY) } else { ARCH_DEFAULT_PKEY }
}

/// `arch_override_mprotect_pkey()` for a plain mprotect(2) (`pkey == -1`).
pub fn arch_override_mprotect_pkey(mm: &mut Mm, pkeys: bool, vma: &Vma, prot: u64) -> u8 {
    if prot == PROT_EXEC {
        if let Some(k) = execute_only_pkey(mm, pkeys).filter(|&k| k > 0) {
            return k;
        }
    } else if vma_is_pkey_exec_only(mm, vma) {
        return ARCH_DEFAULT_PKEY;
    }
    vma.flags.pkey()
}

/// `vma_is_pkey_exec_only()`.
fn vma_is_pkey_exec_only(mm: &Mm, vma: &Vma) -> bool {
    vma.flags & VmFlags::ACCESS == VmFlags::EXEC && Some(vma.flags.pkey()) == mm.execute_only_pkey
}

/// `__pkru_allows_pkey()` with the initial PKRU: only key 0 allows data
/// access.
pub fn pkru_allows_pkey(pkey: u8) -> bool {
    pkey == ARCH_DEFAULT_PKEY
}

/// `arch_vma_access_permitted(vma, write, execute = false, foreign)`: a
/// data access from this mm (`foreign` false) is checked against PKRU.
pub fn arch_vma_access_permitted(vma: &Vma, foreign: bool) -> bool {
    foreign || pkru_allows_pkey(vma.flags.pkey())
}
