# A MAP_FIXED mmap that fails after the old mappings were gathered leaves
# them split. __mmap_region (mm/mmap.c, 6.12, lines 1372-1440) first runs
# vms_gather_munmap_vmas (mm/vma.c lines 1200-1250): the first VMA is split
# at the start (after its seal check, -EPERM "Don't bother splitting the
# VMA if we can't unmap it anyway"), every VMA in the range is checked for
# a seal (can_modify_vma, -EPERM), the last one split at the end. Only then
# does may_expand_vm check RLIMIT_AS (-ENOMEM), and vms_abort_munmap_vmas
# (mm/vma.h lines 253-272) reattaches the split VMAs as they are: they are
# not merged back. So a seal wins over RLIMIT_AS, and both failures leave
# the first VMA split at the new mapping's start.
# Expected values: the same calls on this machine's Linux 6.18 (a C
# program, RLIMIT_AS set to its VmSize; mseal is syscall 462).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: s = mmap(NULL, 32K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fff8000
p: a = mmap(s - 32K, 32K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7e003fff0000
p: mseal(s, 32K, 0) = 0
# RLIMIT_AS at what is mapped now: any new page is refused.
p: setrlimit(RLIMIT_AS, 64K, 64K) = 0
# The sealed s and 4 new pages above it: -EPERM, not -ENOMEM.
p: mmap(s + 16K, 32K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -EPERM
# From inside a (split at a + 8K) into the sealed s: -EPERM, a stays split.
p: mmap(a + 8K, 32K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -EPERM
show maps p
# 4 new pages below a and half of a: -ENOMEM, a is split at a + 16K too.
p: mmap(a - 16K, 32K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -ENOMEM
show maps p
# Inside a: no new page, allowed.
p: mmap(a + 8K, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7e003fff2000
show maps p
check
