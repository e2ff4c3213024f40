# A read-only grant (gnttab_grant_foreign_access(..., ro)): mapping it
# writable fails at mmap time (Xen refuses a write map of a GTF_readonly
# entry with GNTST_general_error; gntdev returns -EINVAL). That map cannot
# be mmapped again (gntdev's in_use allows one mmap per map, and a failed
# one counts), so it is released and the grant mapped anew, PROT_READ
# this time (GNTMAP_readonly). Through the read-only mapping the user
# can read domU's data and O_DIRECT pwrite from it reaches the disk (a
# read-only pin is enough); O_DIRECT pread into it needs FOLL_WRITE and
# fails with -EFAULT, a user store is SIGSEGV with SEGV_ACCERR, and domU's
# page is untouched. Only GTF_reading is set while it is mapped.
# Expected values: reference 3.3 (GNTMAP_readonly from the first mmap's
# protection; per-slot failure -> -EINVAL) and 4 (Xen map checks, GTF
# bits); gntdev_mmap in 6.18 (in_use set before the checks, never
# cleared); GUP write access on a VMA without VM_WRITE is -EFAULT
# (mm/gup.c check_vma_flags).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, "disk data") = 9
domU: p = alloc_page()
domU: write_page(p, 0, "read-only page")
domU: g = gnttab_grant_foreign_access(p, dom0, ro)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = -EINVAL
show grants domU
qemu: mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off) = -EINVAL
qemu: ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, off, 1) = 0
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off2) = 0x7ffff7ffe000
show grants domU
show pagetable qemu a
qemu: load(a, 14) = "read-only page"
qemu: store(a, "x") = SIGSEGV:accerr@0x7ffff7ffe000
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pwrite(d, a, 4096, 4096) = 4096
xvda: read(4096, 14) = "read-only page"
qemu: pread(d, a, 4096, 0) = -EFAULT
domU: read_page(p, 0, 14) = "read-only page"
qemu: munmap(a, 4096) = 0
domU: gnttab_end_foreign_access(g) = 0
check
