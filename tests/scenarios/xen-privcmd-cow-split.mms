# privcmd VMAs cannot be split: privcmd_may_split() returns -EINVAL
# ("Forbid splitting, avoids double free via privcmd_close()",
# drivers/xen/privcmd.c), so mprotect of part of one fails. Made writable
# whole, a MAP_PRIVATE privcmd mapping is a COW mapping: a write to a
# foreign frame's special PTE (no struct page) copies "from the original
# user address" (__wp_page_copy_user, mm/memory.c) into a new anonymous
# page; the foreign frame keeps its contents.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: write_page(p, 0, "foreign") = 7
domU: m = pfn_to_mfn(p)
qemu: fd = open("/dev/xen/privcmd", O_RDWR)
qemu: a = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0) = 0x7ffff7ffd000
qemu: ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2, a, domU, [m, m]) = 0
qemu: mprotect(a, 4096, PROT_READ|PROT_WRITE) = -EINVAL
qemu: mprotect(a, 8192, PROT_READ|PROT_WRITE) = 0
qemu: store(a + 3, "X") = 0
qemu: load(a, 7) = "forXign"
qemu: load(a + 4096, 7) = "foreign"
domU: read_page(p, 0, 7) = "foreign"
show maps qemu
show pagemap qemu a 8192
check
