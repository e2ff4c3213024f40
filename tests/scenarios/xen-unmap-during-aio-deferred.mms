# munmap of a gntdev mapping while an O_DIRECT read into it is in flight
# (io_submit pinned the page; the DMA happens at io_complete). The gntdev
# MMU notifier unmaps the grant before the PTEs are zapped, and that unmap
# waits while the page's refcount shows the I/O (gnttab_unmap_refs_sync
# around gnttab_unmap_refs_async, Linux 4.0-5.18): munmap returns only
# after the DMA reached domU's frame; then the grant is unmapped and domU
# can end access. xen-unmap-during-aio-immediate.mms is the same with
# unmap=immediate.
# Expected values: reference 3.5/3.6 (drivers/xen/grant-table.c
# gnttab_unmap_refs_async, commit 3f9f1c67 "add a mechanism to safely
# unmap pages that are in use", gntdev 745282256c75).
# status: 0
kernel find-special-page
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
domU: read_page(p, 0, 12) = "disk block 0"
qemu: load(a, 1) = SIGSEGV:maperr@0x7ffff7ffe000
show grants domU
domU: gnttab_end_foreign_access(g) = 0
qemu: io_complete(r) = 4096
domU: read_page(p, 0, 12) = "disk block 0"
check
