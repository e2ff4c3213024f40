# The seed's case in both directions under the default kernel
# (find-special-page): dom0's qemu maps one page domU granted (rw) through
# gntdev; an O_DIRECT pread DMAs the disk's data into domU's page, and an
# O_DIRECT pwrite DMAs domU's data to the disk. GUP takes the gntdev page
# from the VMA's find_special_page hook because the user PTE is special
# and holds domU's machine frame.
# Expected values: gntdev mmap/PTE layout from drivers/xen/gntdev.c
# (reference 3.3/3.4); data paths from the seed patch and docs/SCENARIO.md.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"5a" * 4096) = 4096
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
show pagetable qemu a
show grants domU
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x"5a5a5a5a"
qemu: load(a, 4) = x"5a5a5a5a"
domU: write_page(p, 0, "from domU")
qemu: pwrite(d, a, 4096, 8192) = 4096
xvda: read(8192, 9) = "from domU"
xvda: read(8192 + 9, 4) = x"5a5a5a5a"
qemu: munmap(a, 4096) = 0
qemu: ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, off, 1) = 0
show grants domU
domU: gnttab_end_foreign_access(g) = 0
check
