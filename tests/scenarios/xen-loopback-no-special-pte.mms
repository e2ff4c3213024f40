# xen-loopback.mms under `kernel no-special-pte` (neither the special
# PTE bit nor the hook): GUP resolves the user PTE with mfn_to_pfn, and in
# loopback the M2P entry of the granted frame is domU's own page A, whose
# P2M entry matches, so GUP takes A instead of the gntdev page B (check:
# gup-wrong-page, once for the read and once for the write). The data
# still reaches the right machine frame, which is why loopback hides the
# bug: the reference that should keep the grant mapped during the I/O
# sits on the wrong page. The expectations are the fixed kernel's and hold.
# Expected values: reference 5.2 (loopback paragraph: "GUP returns A
# instead of the gntdev page B ... defeating 3.6").
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel no-special-pte
expect violation gup-wrong-page
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
