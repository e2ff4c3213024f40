# xen-grant-mapped-twice.mms under `kernel m2p-override` (Linux
# 2.6.39-3.19). Both local pages are in the m2p override table under the
# same machine frame; mfn_to_pfn answers with the first match, the page
# added last (a2's). So GUP for the read through a1 takes a2's page
# (check: gup-wrong-page), and when a2 is torn down its page's P2M entry
# is reset while the I/O still holds it: the DMA finds no machine frame
# (check: dma-misdirected) and domU never gets the data. The expectations
# below are what this kernel does: the two reads after io_complete see the
# first block (x"11"), where the fixed kernel gives the second (x"22").
# Expected values: reference 5.3 (m2p_add_override puts the page at the
# head of its hash bucket, m2p_find_override returns the first page whose
# private == mfn; removing one mapping while another exists).
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel m2p-override
expect violation gup-wrong-page dma-misdirected
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
domU: read_page(p, 0, 4) = x"11111111"
qemu: load(a1, 4) = x"11111111"
domU: write_page(p, 0, "via a1")
qemu: pwrite(d, a1, 4096, 8192) = 4096
xvda: read(8192, 6) = "via a1"
show grants domU
qemu: munmap(a1, 4096) = 0
show grants domU
check
