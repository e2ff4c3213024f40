# A guard marker is a PTE marker, stored in the PTE as a swap entry
# (Linux 6.13+, mm/madvise.c guard_install_set_pte):
# include/linux/swapops.h make_pte_marker(PTE_MARKER_GUARD) =
# swp_entry_to_pte(swp_entry(SWP_PTE_MARKER, PTE_MARKER_GUARD)), with
# PTE_MARKER_GUARD = BIT(2) and SWP_PTE_MARKER = 31 (include/linux/swap.h:
# the last of the 1 << MAX_SWAPFILES_SHIFT types). x86-64 encodes it with
# arch/x86/include/asm/pgtable_64.h __swp_entry(type, offset) =
# (~offset << SWP_OFFSET_SHIFT >> SWP_TYPE_BITS) | (type << 59), the offset
# inverted for L1TF: (~4 << 14 >> 5) | (31 << 59) = 0xfffffffffffff600,
# PRESENT and PROTNONE (bit 8) clear. pagemap reports it as a swap entry
# with PM_GUARD_REGION (fs/proc/task_mmu.c pte_to_pagemap_entry).
# MADV_GUARD_REMOVE clears it back to none.
# status: 0
domain host native
process p in host

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: store(a, "x") = 0
p: madvise(a + 4K, 4K, MADV_GUARD_INSTALL) = 0
show pagetable p a + 4K
show pagemap p a 8K
p: fork() = ok
p: madvise(a + 4K, 4K, MADV_GUARD_REMOVE) = 0
show pagetable p a + 4K
check
