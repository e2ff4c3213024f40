# seed.mms without the VMA hook: the gntdev PTE is special, but the VMA has
# no find_special_page, so vm_normal_page() finds no page, GUP fails with
# -EEXIST, the read never lands in domU's page and `check` reports
# gup-wrong-page.
# Expected: exit 1
# With --kernel find-special-page: exit 0
kernel no-find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"5a" * 4096)
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x"5a5a5a5a"
check
