# A shared mapping of a memfd larger than the file: the page past EOF
# raises SIGBUS (BUS_ADRERR); growing the file makes it accessible; data
# written through one mapping is seen through another.
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: fd = memfd_create("buf")
p: ftruncate(fd, 4096) = 0
p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
p: b = mmap(NULL, 4K, PROT_READ, MAP_SHARED, fd, 0)
p: store(a, "shared") = 0
p: load(b, 6) = "shared"
p: store(a + 4K, "x") = SIGBUS:adrerr@a + 4K
p: ftruncate(fd, 8192) = 0
p: store(a + 4K, "x") = 0
show maps p
check
