# mprotect of a gntdev mapping: change_protection() starts the MMU notifier
# (MMU_NOTIFY_PROTECTION_VMA, mm/mprotect.c change_pud_range) before it
# touches a PTE, and gntdev's gntdev_invalidate() does not look at the
# event (drivers/xen/gntdev.c): it unmaps the grant, Xen clears the PTE, so
# mprotect returns 0 with nothing left to change. The next access finds no
# PTE in a VMA without ->fault: do_fault() is VM_FAULT_SIGBUS (mm/memory.c),
# BUS_ADRERR. domU can end access at once: the grant is no longer mapped.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: store(a, "hello") = 0
domU: read_page(p, 0, 5) = "hello"
qemu: mprotect(a, 4096, PROT_READ) = 0
show pagetable qemu a
show grants domU
qemu: load(a, 5) = SIGBUS:adrerr@0x7ffff7ffe000
domU: gnttab_end_foreign_access(g) = 0
check
