# A read-only MAP_PRIVATE gntdev mapping is a COW mapping (VM_MAYWRITE), so
# a FOLL_FORCE write through GUP breaks COW: wp_page_copy() (mm/memory.c,
# 6.12) copies the grant page, then runs the MMU notifier for the page
# (MMU_NOTIFY_CLEAR). gntdev_invalidate() unmaps the grant, the PTE is gone,
# pte_same() fails and the copy is dropped; the retried fault finds no PTE
# in a VMA without ->fault (VM_FAULT_SIGBUS), so GUP fails with -EFAULT
# (mm/gup.c faultin_page). The grant was released on the way.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: write_page(p, 0, "granted") = 7
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, off) = 0x7ffff7ffe000
qemu: load(a, 7) = "granted"
qemu: pins = pin_user_pages(a, 1, FOLL_WRITE|FOLL_FORCE) = -EFAULT
show grants domU
qemu: load(a, 7) = SIGBUS:adrerr@0x7ffff7ffe000
domU: gnttab_end_foreign_access(g) = 0
check
