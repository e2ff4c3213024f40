# mprotect in the middle of a VMA splits it in three; restoring the
# protection merges the pieces back into one VMA.
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 12K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffd000
p: store(a, "a") = 0
p: mprotect(a + 4K, 4K, PROT_READ) = 0
show maps p
p: mprotect(a + 4K, 4K, PROT_READ|PROT_WRITE) = 0
show maps p
p: munmap(a + 4K, 4K) = 0
show maps p
check
