# xen-unmap-during-aio-deferred.mms in the asynchronous-unmap era (Linux
# 5.19+, `unmap=async`): munmap of a gntdev mapping while an O_DIRECT read
# into it is in flight (io_submit pinned the page; the DMA happens at
# io_complete). The notifier queues gnttab_unmap_refs_async() and does not
# wait (6.12 drivers/xen/gntdev.c __unmap_grant_pages, lines 451-475);
# __gnttab_unmap_refs_async (grant-table.c lines 1323-1340) sees the I/O's
# pin (page_count 1025) and schedules a retry. munmap returns at once, so:
# - zap_pte_range meets the live grant PTE: vm_normal_page calls
#   find_special_page (mm/memory.c lines 602-603, gntdev.c line 531) and
#   gets the gntdev page, whose mapcount goes to -1 ("Bad page map"), and
#   the guest's write of a grant PTE is Xen's "Attempt to implicitly unmap
#   a granted PTE" (QubesOS/qubes-issues#7631);
# - the grant stays mapped (GTF_reading|GTF_writing, pin 2), so domU's
#   end_foreign_access is deferred (-EBUSY: gnttab_add_deferred) and domU
#   sees no data yet;
# - the DMA lands at io_complete in domU's frame; then the retry unmaps
#   the grant and frees the page whose mapcount is -1 ("Bad page state"),
#   and the deferred end-access frees the grant entry.
# Under the deferred era (4.0-5.18) munmap waits for the I/O instead and
# nothing breaks (xen-unmap-during-aio-deferred.mms).
# status: 0
kernel find-special-page unmap=async
expect violation pte-outside-vma rss-counter bad-page-map xen-implicit-grant-unmap bad-page-state
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
qemu: munmap(a, 4096) = 0
domU: read_page(p, 0, 12) = x"00" * 12
show grants domU
domU: gnttab_end_foreign_access(g) = -EBUSY
qemu: io_complete(r) = 4096
domU: read_page(p, 0, 12) = "disk block 0"
show grants domU
check
