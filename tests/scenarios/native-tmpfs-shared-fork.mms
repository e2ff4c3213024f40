# A tmpfs file (/dev/shm/NAME) mapped MAP_SHARED before fork is the same
# page cache in parent and child: a store in either is seen by the other,
# and the pages are file pages mapped twice (pagemap `f`). A MAP_PRIVATE
# mapping of the same file in the child copies on write: its store is not
# seen through the shared mapping, and its page becomes anonymous (`X`).
# The file can be opened again in the child and mapped at another offset.
# Expected values: the same calls on this machine's Linux 6.18 with a real
# /dev/shm file of 8 KiB (python3 ctypes, os.fork, pagemap of both pids).
# status: 0
domain host native
file shm in host size=8K
process parent in host mmap_base=0x7e0040000000

parent: fd = open("/dev/shm/shm", O_RDWR)
parent: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7e003fffe000
parent: store(a, "parent") = 0
parent: child = fork()
child: load(a, 6) = "parent"
child: store(a + 4K, "child") = 0
parent: load(a + 4K, 5) = "child"
show pagemap parent a 8K
show pagemap child a 8K
child: p = mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE, fd, 0) = 0x7e003fffd000
child: load(p, 6) = "parent"
child: store(p, "privat") = 0
parent: load(a, 6) = "parent"
child: load(a, 6) = "parent"
show pagemap child p 4K
child: fd2 = open("/dev/shm/shm", O_RDWR)
child: b = mmap(NULL, 4K, PROT_READ, MAP_SHARED, fd2, 4K) = 0x7e003fffc000
child: load(b, 5) = "child"
show maps child
child: exit() = 0
show pagemap parent a 8K
check
