# mseal (Linux 6.10+): a sealed range cannot be unmapped, remapped or
# have its protection changed (-EPERM), including by a call that also
# covers unsealed pages; the unsealed neighbours stay changeable. Discarding
# the pages of a sealed read-only anonymous mapping (MADV_DONTNEED) is
# -EPERM too. mseal with unknown flags is -EINVAL, over a hole -ENOMEM.
# The VMA shows VmFlags `sl`. The read-only mapping lands in the hole the
# munmap left (top-down placement).
# Expected values: the same calls on this machine's Linux 6.18 (python3
# ctypes, syscall 462).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 12K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffd000
p: store(a + 4K, "sealed") = 0
p: mseal(a + 4K, 4K, 1) = -EINVAL
p: mseal(a + 4K, 4K, 0) = 0
p: munmap(a + 4K, 4K) = -EPERM
p: munmap(a, 12K) = -EPERM
p: mprotect(a + 4K, 4K, PROT_READ) = -EPERM
p: mprotect(a, 8K, PROT_READ) = -EPERM
p: mremap(a + 4K, 4K, 8K, MREMAP_MAYMOVE) = -EPERM
p: mmap(a + 4K, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = -EPERM
p: load(a + 4K, 6) = "sealed"
p: munmap(a, 4K) = 0
p: mprotect(a + 8K, 4K, PROT_READ) = 0
show maps p
p: r = mmap(NULL, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffd000
p: load(r, 1) = x"00"
p: mseal(r, 4K, 0) = 0
p: madvise(r, 4K, MADV_DONTNEED) = -EPERM
p: mseal(0x7e0000000000, 4K, 0) = -ENOMEM
show smaps p
check
