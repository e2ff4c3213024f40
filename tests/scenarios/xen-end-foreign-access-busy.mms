# The frontend ends access to a grant that dom0 still has mapped: Xen has
# GTF_reading|GTF_writing set, so gnttab_end_foreign_access_ref's cmpxchg
# fails ("g.e. still in use") and the ref goes on the deferred list
# (the model reports -EBUSY). The entry stays valid and the backend's
# mapping keeps working. After the backend unmaps, Xen clears the GTF bits
# and the deferred timer ends access and frees the ref, which the next
# grant reuses; ending it again is refused (-EINVAL: not in use).
# Expected values: reference 4 ("Ending foreign access", deferred list
# retried by a timer) and 3.5 (unmap clears the GTF bits when the last
# pin goes).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: write_page(p, 0, "shared ring")
domU: g = gnttab_grant_foreign_access(p, dom0, rw) = 8
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
domU: gnttab_end_foreign_access(g) = -EBUSY
show grants domU
qemu: load(a, 11) = "shared ring"
qemu: store(a, "SHARED") = 0
domU: read_page(p, 0, 6) = "SHARED"
qemu: munmap(a, 4096) = 0
qemu: ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, off, 1) = 0
show grants domU
domU: gnttab_end_foreign_access(g) = -EINVAL
domU: q = alloc_page()
domU: gnttab_grant_foreign_access(q, dom0, rw) = 8
show grants domU
check
