# Guard regions (MADV_GUARD_INSTALL, Linux 6.13+): a guard page in the
# middle of a VMA does not split it; any access there is SIGSEGV with
# SEGV_MAPERR; the marker shows in pagemap (`g`, PM_GUARD_REGION) and
# survives MADV_DONTNEED, which drops the other pages; MADV_GUARD_REMOVE
# clears it and the page then reads zeros. Installing a guard over a
# VM_LOCKED range is -EINVAL.
# Expected values: the same calls on this machine's Linux 6.18 (python3
# ctypes madvise 102/103, SA_SIGINFO handler for the signal code, pagemap
# bit 58, /proc/self/maps and smaps).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffc000
p: store(a, "zero") = 0
p: store(a + 4K, "one") = 0
p: store(a + 8K, "two") = 0
p: madvise(a + 4K, 4K, MADV_GUARD_INSTALL) = 0
p: load(a + 4K, 1) = SIGSEGV:maperr@0x7e003fffd000
p: store(a + 4K, "x") = SIGSEGV:maperr@0x7e003fffd000
p: load(a + 8K, 3) = "two"
show pagemap p a 16K
show maps p
p: madvise(a, 16K, MADV_DONTNEED) = 0
show pagemap p a 16K
p: load(a + 4K, 1) = SIGSEGV:maperr@0x7e003fffd000
p: load(a, 4) = x"00000000"
p: madvise(a + 4K, 4K, MADV_GUARD_REMOVE) = 0
p: load(a + 4K, 1) = x"00"
show pagemap p a 16K
p: mlock(a + 8K, 8K) = 0
p: madvise(a + 8K, 4K, MADV_GUARD_INSTALL) = -EINVAL
show smaps p
check
