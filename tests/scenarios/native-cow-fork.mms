# fork shares anonymous pages copy-on-write: both processes see the
# parent's data; a write in the child copies the page; the parent's next
# write reuses its page (refcount 1 again).
# status: 0
domain host native
process parent in host mmap_base=0x7e0040000000

parent: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
parent: store(a, "parent")
parent: child = fork()
show pagemap parent a 8K
show pagemap child a 8K
child: load(a, 6) = "parent"
child: store(a, "child!") = 0
parent: load(a, 6) = "parent"
child: load(a, 6) = "child!"
show pagemap parent a 8K
show pagemap child a 8K
child: exit() = 0
parent: exit() = 0
check
