# Where m2p-override breaks: qemu maps the same grant twice with gntdev.
# Both local pages sit in the m2p override table under one machine frame,
# and mfn_to_pfn() answers with the first match, the page added last (the
# second mapping's). An O_DIRECT read through the first mapping makes GUP
# take the other mapping's page; `check` reports gup-wrong-page. With
# find_special_page each VMA names its own page and the same file passes.
# Expected: exit 1
# With --kernel find-special-page: exit 0
kernel m2p-override
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"5a" * 4096)
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off1 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g])
qemu: a1 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off1)
qemu: a2 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off2)
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a1, 4096, 0) = 4096
domU: read_page(p, 0, 4) = x"5a5a5a5a"
check
