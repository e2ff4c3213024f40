# IOCTL_GNTDEV_SET_UNMAP_NOTIFY with UNMAP_NOTIFY_CLEAR_BYTE: when the
# slot holding the byte is unmapped (here by munmap, through the MMU
# notifier), gntdev first writes 0 at that offset through its kernel
# mapping, so domU sees the byte cleared (the usual "backend gone" flag
# of a shared ring); unmapping another slot does not. A later
# SET_UNMAP_NOTIFY replaces the earlier one. An offset outside every map
# is -ENOENT, an unknown action -EINVAL, CLEAR_BYTE on a read-only map
# -EINVAL.
# Expected values: reference 3.1 (ABI: index is a byte offset in the file
# space, action 0x1) and 3.5 (unmap notify, CLEAR_BYTE before the unmap,
# refused for read-only maps); drivers/xen/gntdev.c gntdev_ioctl_notify
# (action check -EINVAL, map lookup -ENOENT, read-only -EINVAL).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p0 = alloc_page()
domU: p1 = alloc_page()
domU: write_page(p1, 0, "ABCDEFGH")
domU: g0 = gnttab_grant_foreign_access(p0, dom0, rw)
domU: g1 = gnttab_grant_foreign_access(p1, dom0, rw)
domU: gr = gnttab_grant_foreign_access(p0, dom0, ro)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g0, g1]) = 0
qemu: a = mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffd000
qemu: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, off + 65536, UNMAP_NOTIFY_CLEAR_BYTE, 0) = -ENOENT
qemu: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, off, 4, 0) = -EINVAL
qemu: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, off + 4096 + 2, UNMAP_NOTIFY_CLEAR_BYTE, 0) = 0
qemu: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, off + 4096 + 5, UNMAP_NOTIFY_CLEAR_BYTE, 0) = 0
qemu: load(a + 4096, 8) = "ABCDEFGH"
qemu: munmap(a, 4096) = 0
domU: read_page(p1, 0, 8) = "ABCDEFGH"
qemu: munmap(a + 4096, 4096) = 0
domU: read_page(p1, 0, 8) = "ABCDE" ++ x"00" ++ "GH"
qemu: off2 = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [gr]) = 8192
qemu: r = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off2) = 0x7ffff7ffe000
qemu: ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, off2, UNMAP_NOTIFY_CLEAR_BYTE, 0) = -EINVAL
show grants domU
check
