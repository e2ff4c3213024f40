# The same as xen-unmap-during-aio-deferred.mms under the kernel line
# `find-special-page unmap=immediate`: the grant unmap does not wait for
# the page's extra references (the pre-4.0 behaviour), so munmap unmaps
# the grant and resets the gntdev page's P2M entry while the read is still
# in flight. The DMA at io_complete finds no machine frame for the page
# (check: dma-misdirected) and the data never reaches domU: the two
# read_page expectations say so (zeros where the fixed kernel gives
# "disk block 0"), as Linux's kernel without safe unmap would.
# Expected values: reference 3.6 (what the deferral protects against).
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel find-special-page unmap=immediate
expect violation dma-misdirected
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, "disk block 0") = 12
domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: r = io_submit(d, READ, a, 4096, 0) = ok
show page dom0 0x4fff
qemu: munmap(a, 4096) = 0
domU: read_page(p, 0, 12) = x"00" * 12
qemu: load(a, 1) = SIGSEGV:maperr@0x7ffff7ffe000
show grants domU
domU: gnttab_end_foreign_access(g) = 0
qemu: io_complete(r) = 4096
domU: read_page(p, 0, 12) = x"00" * 12
check
