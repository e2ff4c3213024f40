# show p2m, m2p, override and picture under the m2p-override kernel
# (Linux 2.6.39-3.19): mapping a grant with gntdev adds the granted
# machine frame to the override table under dom0's local page
# (m2p_add_override), while the M2P still names domU's pfn.
# status: 0
kernel m2p-override
domain dom0 pv privileged
domain domU pv
process qemu in dom0
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off)
qemu: b = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
domU: m = pfn_to_mfn(p) = ok
show p2m domU p 2
show m2p m
show override dom0
show picture qemu
show p2m dom0 0x4ffe 2
