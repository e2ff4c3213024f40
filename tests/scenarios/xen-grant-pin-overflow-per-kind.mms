# Xen's pin-count overflow check is per counter kind (Xen 4.15+,
# xen/common/grant_table.c map_grant_ref, "gnttab: adjust pin count
# overflow checks"): `act->pin & GNTPIN_incr2oflow_mask(pin_incr)` looks
# only at the top bit of the counters this op increments (each counter is
# GNTPIN_cntr_width = 8 bits: hstw, hstr, devw, devr). Before, one fixed
# mask 0x80808080 refused every map once any counter reached 128.
# qemu maps one writable grant 64 times through one gntdev map: in a PV
# guest each slot is a user PTE map and a kernel-address map, both
# GNTMAP_host_map, so the entry's hstw counter reaches 128 (pin 0x80).
# A further writable map would overflow hstw: general_error, so gntdev's
# mmap is -EINVAL (gntdev.c map_grant_pages: any status != okay). A
# read-only map increments hstr only, which is far from overflow: Xen maps
# it (under the old mask it was refused too).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g]) = 0
qemu: a = mmap(NULL, 64 * 4K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = ok
show grants domU
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 64 * 4K
qemu: mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off2) = -EINVAL
qemu: off3 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 65 * 4K
qemu: r = mmap(NULL, 4K, PROT_READ, MAP_SHARED, fd, off3) = ok
show grants domU
qemu: store(a, "via rw") = 0
qemu: load(r, 6) = "via rw"
check
