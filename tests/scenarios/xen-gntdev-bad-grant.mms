# gntdev maps of grants Xen must refuse: a grant domU issued to another
# domain (domid mismatch: GNTST_general_error), and a ref domU never
# issued (entry not permit_access: GNTST_general_error); a ref past the
# end of the grant table is GNTST_bad_gntref. MAP_GRANT_REF only records
# the refs; the hypercall runs at mmap, which fails with -EINVAL and
# leaves no VMA, no pin and no GTF_reading/GTF_writing in domU's table.
# Expected values: reference 3.1/3.3 (no hypercall until mmap; per-slot
# failure -> -EINVAL) and 4 (Xen map checks in order, status codes).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
domain domV pv
process qemu in dom0

domU: p = alloc_page()
domU: q = alloc_page()
domU: gv = gnttab_grant_foreign_access(p, domV, rw)
domU: g0 = gnttab_grant_foreign_access(q, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off1 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [gv]) = 0
qemu: mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off1) = -EINVAL
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [100]) = 4096
qemu: mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off2) = -EINVAL
qemu: off3 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g0, 100000]) = 8192
qemu: mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off3) = -EINVAL
show maps qemu
show grants domU
show grants dom0
qemu: off4 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g0]) = 16384
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off4) = 0x7ffff7ffe000
show grants dom0
domU: gnttab_end_foreign_access(gv) = 0
check
