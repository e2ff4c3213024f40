# MADV_DONTFORK and MADV_WIPEONFORK on parts of one mapping split it into
# three VMAs (VmFlags `dc`, `wf`). After fork the child has no mapping for
# the DONTFORK page (load = SIGSEGV, SEGV_MAPERR) and an empty mapping for
# the WIPEONFORK page (reads zeros); the parent keeps all its data.
# MADV_WIPEONFORK on a shared mapping is -EINVAL.
# Expected values: the same calls on this machine's Linux 6.18 with
# python3 ctypes + os.fork (signal code from an SA_SIGINFO handler).
# status: 0
domain host native
process parent in host mmap_base=0x7e0040000000

parent: a = mmap(NULL, 12K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffd000
parent: store(a, "keep") = 0
parent: store(a + 4K, "dont") = 0
parent: store(a + 8K, "wipe") = 0
parent: madvise(a + 4K, 4K, MADV_DONTFORK) = 0
parent: madvise(a + 8K, 4K, MADV_WIPEONFORK) = 0
parent: s = mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0)
parent: madvise(s, 4K, MADV_WIPEONFORK) = -EINVAL
show maps parent
parent: child = fork()
show maps child
child: load(a, 4) = "keep"
child: load(a + 4K, 4) = SIGSEGV:maperr@0x7e003fffe000
child: load(a + 8K, 4) = x"00000000"
show pagemap child a 12K
parent: load(a + 4K, 4) = "dont"
parent: load(a + 8K, 4) = "wipe"
show smaps parent
check
