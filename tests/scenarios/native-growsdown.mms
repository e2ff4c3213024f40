# MAP_GROWSDOWN: a fault below the start of the VMA extends it down to the
# faulting page (expand_stack), keeping the data above; a fault that would
# bring the stack within stack_guard_gap (256 pages) of the accessible
# mapping below is refused: SIGSEGV with SEGV_MAPERR.
# Expected values: the same mappings at the same fixed addresses on this
# machine's Linux 6.18 (python3 ctypes, signal code from an SA_SIGINFO
# handler in a forked child, /proc/self/maps).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: s = mmap(0x7e0000800000, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_GROWSDOWN|MAP_FIXED, -1, 0) = 0x7e0000800000
p: store(s, "top") = 0
show maps p
p: store(s - 4K, "below") = 0
show maps p
p: store(s - 64K, "far") = 0
show maps p
p: load(s, 3) = "top"
p: load(s - 4K, 5) = "below"
p: load(s - 32K, 1) = x"00"
p: g = mmap(0x7e0000600000, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7e0000600000
p: store(0x7e0000700000, "x") = SIGSEGV:maperr@0x7e0000700000
p: store(0x7e0000701000, "x") = 0
show maps p
show smaps p
check
