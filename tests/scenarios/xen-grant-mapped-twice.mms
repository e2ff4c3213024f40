# One grant mapped twice by dom0 (two IOCTL_GNTDEV_MAP_GRANT_REF of the
# same ref, two mmaps): both user PTEs hold domU's machine frame, each VMA
# has its own local (ballooned) page. Under find-special-page each VMA
# names its own page, so O_DIRECT through either mapping lands in domU's
# page, and a read in flight through the first mapping survives the second
# mapping being torn down (munmap + UNMAP_GRANT_REF) before the DMA.
# Expected values: reference 3.4 (find_special_page returns the VMA's own
# map->pages[...]) and 5.3 (an MFN-keyed lookup cannot tell the two
# mappings apart); xen-grant-mapped-twice-m2p-override.mms is the same run
# under the Linux 3.x kernel.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"11" * 4096) = 4096
xvda: write(4096, x"22" * 4096) = 4096
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off1 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 4096
qemu: a1 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off1) = 0x7ffff7ffe000
qemu: a2 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off2) = 0x7ffff7ffd000
show grants domU
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a2, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x"11111111"
qemu: r = io_submit(d, READ, a1, 4096, 4096) = ok
qemu: munmap(a2, 4096) = 0
qemu: ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, off2, 1) = 0
qemu: io_complete(r) = 4096
domU: read_page(p, 0, 4) = x"22222222"
qemu: load(a1, 4) = x"22222222"
domU: write_page(p, 0, "via a1")
qemu: pwrite(d, a1, 4096, 8192) = 4096
xvda: read(8192, 6) = "via a1"
show grants domU
qemu: munmap(a1, 4096) = 0
show grants domU
check
