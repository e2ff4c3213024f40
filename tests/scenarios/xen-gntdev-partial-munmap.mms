# munmap of one page of a two-page gntdev mapping: the MMU notifier
# unmaps only that slot's grant (domU's first grant is released, the
# second stays mapped), the VMA is split, and the remaining page keeps
# working: find_special_page indexes from the original mmap start
# (pages_vm_start), so O_DIRECT into the remaining page still lands in the
# right grant; the unmapped page is gone (SIGSEGV, and GUP there fails
# with -EFAULT).
# Expected values: reference 3.4 (index relative to pages_vm_start),
# 3.5 (notifier unmaps the overlapping slots before the zap) and
# "xen/gntdev: Accommodate VMA splitting" (QubesOS/qubes-issues#7631).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, x"a1" * 4096) = 4096
xvda: write(4096, x"b2" * 4096) = 4096
domU: p0 = alloc_page()
domU: p1 = alloc_page()
domU: g0 = gnttab_grant_foreign_access(p0, dom0, rw)
domU: g1 = gnttab_grant_foreign_access(p1, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g0, g1]) = 0
qemu: a = mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffd000
show grants domU
qemu: munmap(a, 4096) = 0
show maps qemu
show grants domU
domU: gnttab_end_foreign_access(g0) = 0
domU: gnttab_end_foreign_access(g1) = -EBUSY
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a + 4096, 4096, 4096) = 4096
domU: read_page(p1, 0, 4) = x"b2b2b2b2"
domU: read_page(p0, 0, 4) = x"00000000"
qemu: pread(d, a, 4096, 0) = -EFAULT
qemu: load(a, 1) = SIGSEGV:maperr@0x7ffff7ffd000
qemu: load(a + 4096, 2) = x"b2b2"
show smaps qemu
qemu: munmap(a + 4096, 4096) = 0
show grants domU
check
