# A gntdev page pinned with pin_user_pages (FOLL_PIN: +1024 on page_count,
# GUP_PIN_COUNTING_BIAS, include/linux/mm.h) and never released, then
# munmap of the range, in the synchronous-unmap era (Linux 4.0-5.18, this
# variant's default `unmap=deferred`).
# gntdev's MMU notifier (gntdev.c unmap_if_in_range -> unmap_grant_pages)
# unmapped with gnttab_unmap_refs_sync() (drivers/xen/grant-table.c,
# 6.12 lines 1360-1372: gnttab_unmap_refs_async then
# wait_for_completion). __gnttab_unmap_refs_async() (lines 1323-1340)
# re-queues the batch every GNTTAB_UNMAP_REFS_DELAY * (age + 1) ms while
# page_count() > 1, with no give-up; the pin keeps the count at 1025 for
# ever, so munmap never returns. After hung_task_timeout_secs (120,
# CONFIG_DEFAULT_HUNG_TASK_TIMEOUT in lib/Kconfig.debug) the detector
# prints "INFO: task qemu:1 blocked for more than 120 seconds."
# (kernel/hung_task.c check_hung_task, line 134).
# The model decides the hang before munmap changes anything: the VMA, the
# PTE, the grant and the counters stay as they were (no invariant breaks),
# the result is HUNG, and qemu runs nothing more (its later actions do
# not run and are HUNG too). Another process of the same domain still runs. xen-gntdev-pin-unmap-async.mms is the same in
# the 5.19+ era, where munmap returns.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
process other in dom0

domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: w = pin_user_pages(a, 1, FOLL_WRITE) = 1
qemu: munmap(a, 4096) = HUNG
show pagetable qemu a
show page dom0 0x4fff
show grants domU
show log dom0
qemu: unpin_user_pages(w) = HUNG
other: b = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
other: store(b, "still runs") = 0
check
