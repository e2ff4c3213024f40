# The case the seed patch fixes: a dom0 process (qemu) maps a page that domU
# granted, through /dev/xen/gntdev, and reads 4 KiB from disk into it with
# O_DIRECT. get_user_pages() must find the struct page behind a PTE that
# holds domU's machine frame; under find-special-page the gntdev VMA's
# find_special_page names it, the DMA lands in domU's page and every
# invariant holds.
# Expected: exit 0
# With --kernel m2p-override: exit 0
# With --kernel no-special-pte: exit 1
# With --kernel no-find-special-page: exit 1
kernel find-special-page
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
