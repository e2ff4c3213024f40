# brk: brk(0) reports the break (start_brk at first); growing maps new
# zero-filled anonymous memory right after it ([heap] in maps); shrinking
# unmaps the pages past the new break (SIGSEGV SEGV_MAPERR) and frees them
# (growing again reads zeros); a request below start_brk or into another
# mapping (or within one page of it: brk keeps a page before the next
# mapping) fails and returns the current break unchanged.
# Expected values: the same sequence relative to the break on this
# machine's Linux 6.18 (a small C program calling syscall(SYS_brk) before
# any malloc, a forked child probing the freed page, /proc/self/maps).
# status: 0
domain host native
process p in host brk=0x555555560000 mmap_base=0x7e0040000000

p: b0 = brk(0) = 0x555555560000
p: brk(b0 + 8K) = 0x555555562000
p: brk(0) = 0x555555562000
p: store(b0, "heap0") = 0
p: store(b0 + 4K, "heap1") = 0
show maps p
p: brk(b0 + 4K) = 0x555555561000
p: load(b0 + 4K, 1) = SIGSEGV:maperr@0x555555561000
p: load(b0, 5) = "heap0"
p: brk(b0 + 8K) = 0x555555562000
p: load(b0 + 4K, 5) = x"0000000000"
p: brk(b0 - 4K) = 0x555555562000
p: m = mmap(b0 + 16K, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x555555564000
p: brk(b0 + 20K) = 0x555555562000
p: brk(b0 + 16K) = 0x555555562000
p: brk(b0 + 12K) = 0x555555563000
show maps p
show pagemap p b0 16K
check
