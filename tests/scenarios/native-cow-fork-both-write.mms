# fork makes private anonymous pages copy-on-write: after fork both
# processes map the same pages (pagemap `p`: anon, mapped twice). The child
# writes page 0 and gets its own copy; the parent's page is then mapped
# once again (`X`). The parent writes page 1 and gets its own copy; the
# child's page 1 is then `X` too. Each sees only its own writes.
# Expected values: the same sequence run with python3 ctypes + os.fork on
# this machine's Linux 6.18, pagemap of both pids read after each step.
# status: 0
domain host native
process parent in host mmap_base=0x7e0040000000

parent: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffe000
parent: store(a, "P0") = 0
parent: store(a + 4K, "P1") = 0
parent: child = fork()
show pagemap parent a 8K
show pagemap child a 8K
child: store(a, "C0") = 0
show pagemap parent a 8K
show pagemap child a 8K
parent: store(a + 4K, "Q1") = 0
show pagemap parent a 8K
show pagemap child a 8K
parent: load(a, 2) = "P0"
parent: load(a + 4K, 2) = "Q1"
child: load(a, 2) = "C0"
child: load(a + 4K, 2) = "P1"
show smaps child
check
