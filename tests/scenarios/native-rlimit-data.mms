# RLIMIT_DATA counts private writable mappings (is_data_mapping: VM_WRITE
# without VM_SHARED or VM_STACK). may_expand_vm (mm/mmap.c, 6.12, lines
# 2031-2054) refuses a data mapping past the soft limit, except the
# "Workaround for Valgrind": a soft limit of 0 lets it through while
# data_vm stays under the hard limit. mprotect_fixup (mm/mprotect.c,
# lines 647-651) checks a range turning writable the same way ("Check
# space limits when area turns into data"), and vm_stat_account moves it
# into data_vm (lines 701-702); a read-only range leaves it.
# Expected values: the same calls on this machine's Linux 6.18 (a C
# program, limits set relative to its VmData: 16 pages over it, soft 0).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: setrlimit(RLIMIT_DATA, 0, 64K) = 0
p: a = mmap(NULL, 32K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e0040000000 - 32K
p: b = mmap(NULL, 32K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e0040000000 - 96K + 32K
p: c = mmap(NULL, 32K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e0040000000 - 96K
# 24 pages of data would pass the hard limit (16 pages).
p: mprotect(c, 32K, PROT_READ|PROT_WRITE) = -ENOMEM
p: mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -ENOMEM
# Not data: read-only, shared.
p: mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0) = 0x7e0040000000 - 100K
p: mprotect(b, 32K, PROT_READ) = 0
p: mprotect(c, 32K, PROT_READ|PROT_WRITE) = 0
p: mprotect(c, 16K, PROT_READ|PROT_WRITE) = 0
show maps p
# A finite soft limit: a read-only mapping turning writable is checked.
p: setrlimit(RLIMIT_DATA, 64K, 64K) = 0
p: mprotect(b, 4K, PROT_READ|PROT_WRITE) = -ENOMEM
p: mprotect(c, 4K, PROT_READ) = 0
p: mprotect(b, 4K, PROT_READ|PROT_WRITE) = 0
show maps p
check
