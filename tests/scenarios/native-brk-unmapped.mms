# brk shrinking over a range that is no longer mapped is refused: the brk
# syscall (mm/mmap.c, 6.12, "Always allow shrinking brk") looks for a VMA
# from the new break up to the old one (vma_find(&vmi, oldbrk)) and,
# finding none, goes to `out` and returns the old break unchanged; when
# one is there the whole tail is unmapped. [heap] is vma_is_initial_heap
# (include/linux/mm.h lines 933-937, used by fs/proc/task_mmu.c
# get_vma_name): vm_start < brk && vm_end > start_brk, strict, so a VMA
# that starts exactly at the break is not [heap], nor one that ends exactly
# at start_brk.
# Expected values: the same sequence relative to the break on this
# machine's Linux 6.18 (a static C program calling syscall(SYS_brk),
# /proc/self/maps).
# status: 0
domain host native
process p in host brk=0x555555560000 mmap_base=0x7e0040000000

p: b0 = brk(0) = 0x555555560000
p: brk(b0 + 32K) = 0x555555568000
p: munmap(b0 + 16K, 16K) = 0
# Nothing mapped in [b0 + 24K, b0 + 32K), nor in [b0 + 16K, b0 + 32K).
p: brk(b0 + 24K) = 0x555555568000
p: brk(b0 + 16K) = 0x555555568000
# The heap VMA reaches into [b0 + 8K, b0 + 32K): allowed.
p: brk(b0 + 8K) = 0x555555562000
p: brk(0) = 0x555555562000
# A mapping that starts exactly at the break is not [heap].
p: mmap(b0 + 8K, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x555555562000
# One that ends exactly at start_brk is not either.
p: mmap(b0 - 8K, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x55555555e000
show maps p
# Shrinking to start_brk: the heap VMA is in range.
p: brk(b0) = 0x555555560000
show maps p
check
