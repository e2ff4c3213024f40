# mremap: growing in place when the pages after the mapping are free;
# without MREMAP_MAYMOVE a blocked grow is -ENOMEM; with MAYMOVE the
# mapping moves and keeps its data (the old range is unmapped: SIGSEGV
# SEGV_MAPERR); MREMAP_DONTUNMAP moves the pages but leaves the old VMA in
# place, empty (anonymous private: reads zeros); MREMAP_FIXED moves to a
# chosen address. Bad combinations are -EINVAL.
# Expected values: the same calls at the same fixed addresses on this
# machine's Linux 6.18 (python3 ctypes syscall(SYS_mremap), pagemap).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(0x7e0000000000, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7e0000000000
p: store(a, "keep") = 0
p: store(a + 4K, "page1") = 0
p: mremap(a, 8K, 16K, 0) = 0x7e0000000000
p: load(a + 8K, 1) = x"00"
p: b = mmap(a + 16K, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7e0000004000
p: mremap(a, 16K, 32K, 0) = -ENOMEM
p: mremap(a, 16K, 16K, MREMAP_DONTUNMAP) = -EINVAL
p: mremap(a, 16K, 32K, MREMAP_MAYMOVE|MREMAP_DONTUNMAP) = -EINVAL
p: c = mremap(a, 16K, 32K, MREMAP_MAYMOVE) = 0x7e003fff8000
p: load(c, 4) = "keep"
p: load(c + 4K, 5) = "page1"
p: load(a, 1) = SIGSEGV:maperr@0x7e0000000000
show maps p
p: d = mremap(c, 32K, 32K, MREMAP_MAYMOVE|MREMAP_DONTUNMAP) = 0x7e003fff0000
p: load(d, 4) = "keep"
show pagemap p c 32K
p: load(c, 4) = x"00000000"
p: load(c + 4K, 5) = x"0000000000"
p: e = mremap(d, 32K, 32K, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7e0000100000) = 0x7e0000100000
p: load(e + 4K, 5) = "page1"
p: load(d, 1) = SIGSEGV:maperr@0x7e003fff0000
show maps p
show pagemap p e 32K
check
