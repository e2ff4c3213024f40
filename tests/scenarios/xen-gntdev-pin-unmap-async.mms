# xen-gntdev-pin-hang.mms in the asynchronous-unmap era (Linux 5.19+,
# "xen/gntdev: Avoid blocking in unmap_grant_pages()", `unmap=async`):
# gntdev's notifier no longer waits. 6.12 drivers/xen/gntdev.c
# __unmap_grant_pages (lines 451-475) calls gnttab_unmap_refs_async()
# with __unmap_grant_pages_done as the callback and returns;
# __gnttab_unmap_refs_async (grant-table.c lines 1323-1340) sees
# page_count 1025 > 1 and only schedules the retry. munmap goes on to
# zap_pte_range, which meets the grant PTE Xen still holds:
# vm_normal_page -> find_special_page (mm/memory.c line 602-603,
# gntdev.c line 531) hands it the gntdev page, never rmap-accounted, so
# its mapcount drops to -1 ("BUG: Bad page map"), MM_FILEPAGES goes to -1,
# and the guest's clear of a grant PTE is Xen's "Attempt to implicitly
# unmap a granted PTE" (a debug Xen refuses it, and the model keeps the
# entry: pte-outside-vma). The grant stays mapped (GTF_reading|writing,
# pin 2) until the pin goes; unpin drops the count, the retry unmaps it,
# and the page is freed while its mapcount is -1 ("Bad page state").
# Reference: QubesOS/qubes-issues#7631 shows the same "Bad page map ...
# mapcount:-1" and Xen complaint from a live grant PTE meeting zap.
# status: 0
kernel find-special-page unmap=async
expect violation pte-outside-vma rss-counter bad-page-map xen-implicit-grant-unmap bad-page-state
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: w = pin_user_pages(a, 1, FOLL_WRITE) = 1
qemu: munmap(a, 4096) = 0
show grants domU
qemu: unpin_user_pages(w) = ok
show grants domU
domU: gnttab_end_foreign_access(g) = 0
check
