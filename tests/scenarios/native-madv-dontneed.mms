# MADV_DONTNEED drops the pages of a range. Private anonymous memory then
# reads zeros (a fresh zero-page fault); a shared memfd mapping reads the
# file's data again (the page cache keeps it); a private file mapping loses
# its COW copy and reads the file's data. The VMAs are not changed.
# MADV_DONTNEED on a VM_LOCKED range is -EINVAL.
# Expected values: the same calls on this machine's Linux 6.18 (python3
# ctypes, memfd_create, pagemap).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffe000
p: store(a, "anon") = 0
p: store(a + 4K, "anon") = 0
p: madvise(a, 4K, MADV_DONTNEED) = 0
show pagemap p a 8K
p: load(a, 4) = x"00000000"
p: load(a + 4K, 4) = "anon"
p: fd = memfd_create("buf")
p: ftruncate(fd, 8K) = 0
p: s = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7e003fffc000
p: store(s, "file") = 0
p: madvise(s, 8K, MADV_DONTNEED) = 0
show pagemap p s 8K
p: load(s, 4) = "file"
p: v = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE, fd, 0) = 0x7e003fffa000
p: store(v, "copy") = 0
show pagemap p v 8K
p: madvise(v, 8K, MADV_DONTNEED) = 0
p: load(v, 4) = "file"
show pagemap p v 8K
p: mlock(a, 8K) = 0
p: madvise(a, 8K, MADV_DONTNEED) = -EINVAL
p: load(a + 4K, 4) = "anon"
show maps p
check
