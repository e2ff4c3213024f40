# `show log`: Xen's console names the GNTST status behind a failed gntdev
# mmap of ref 100, which domU never issued. The ref is inside the table, so
# xen/common/grant_table.c map_grant_ref() finds an entry without
# GTF_permit_access and fails with GNTST_general_error ("Bad flags"), once for
# the user PTE and once for the kernel mapping gntdev maps with it on PV.
# gntdev turns any slot failure into -EINVAL.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

qemu: fd = open("/dev/xen/gntdev", O_RDWR) = ok
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [100]) = 0
qemu: mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, off) = -EINVAL
show log dom0
check
