# docs/SCENARIO.md's native example: top-down placement below mmap_base, a
# PROT_READ page faults with SEGV_ACCERR, untouched anonymous memory reads 0.
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffe000
p: mprotect(a + 4K, 4K, PROT_READ) = 0
p: store(a + 4K, "x") = SIGSEGV:accerr@0x7e003ffff000
p: load(a, 2) = x"0000"
show maps p
show pagemap p a 8K
check
