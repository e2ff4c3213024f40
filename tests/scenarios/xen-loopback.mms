# Loopback: a process in domU maps, through domU's own gntdev, a grant
# that domU itself issued (frontend and backend in one guest). The user
# PTE holds the machine frame of domU's page A; the M2P names A, and A's
# P2M entry matches, so an MFN->PFN lookup finds A, not the gntdev page B.
# With the special PTE and find_special_page, GUP takes B (the page whose
# reference keeps the grant mapped) and the O_DIRECT data lands in A's
# frame. Run with --kernel no-special-pte (xen-loopback-no-special-pte.mms)
# GUP takes A instead.
# Expected values: reference 5.2 (loopback paragraph) and 3.4.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process app in domU
disk xvdb in domU

xvdb: write(0, "loopback data") = 13
domU: pa = alloc_page()
domU: g = gnttab_grant_foreign_access(pa, domU, rw)
app: fd = open("/dev/xen/gntdev", O_RDWR)
app: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
app: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
show pagetable app a
app: d = open("/dev/xvdb", O_RDWR|O_DIRECT)
app: pread(d, a, 4096, 0) = 4096
domU: read_page(pa, 0, 13) = "loopback data"
app: load(a, 13) = "loopback data"
app: store(a, "written by app") = 0
app: pwrite(d, a, 4096, 4096) = 4096
xvdb: read(4096, 14) = "written by app"
show grants domU
app: munmap(a, 4096) = 0
domU: gnttab_end_foreign_access(g) = 0
check
