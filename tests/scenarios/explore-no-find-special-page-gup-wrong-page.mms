# Found by mmsim explore: gup-wrong-page: d0: GUP at 0x7ffff7ffe000 found no page (EEXIST); the driver's page for it is pfn 0x1fff (mfn 0x1003)
# seed 8195237237126968761 choices 8.a.5.6.5.1.0.4.6.a.f.4.5.8.3.1.3.4.0.9.2.0.3.f.4.4.0.b.0.2.1.3.4.1.3.0.1.a.8.5.0.0.b.0.2.1.2.4.1.a.5.1.0.3.d.2.1.3.0.2.7.0.3.8.0.0.2.0.6.1.2.3.6.1.0.0.d.4.1.2.0.1.b.3.4.0.8.0.0.1.0.0.2.1.3.a.0.0.0.5.0.2.a.0.0
# Fails under `kernel no-find-special-page`; passes under find-special-page.
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel no-find-special-page
expect violation gup-wrong-page
domain dom0 pv privileged pages=4096
domain domU pv pages=4096
domain host native pages=4096
process qemu in dom0
process app in host mmap_base=0x7e0040000000
disk xvda in dom0

domU: p2 = alloc_page()
qemu: fd3 = open("/dev/xen/gntdev", O_RDWR)
domU: g4 = gnttab_grant_foreign_access(p2, dom0, rw)
qemu: off11 = ioctl(fd3, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g4])
qemu: d13 = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: a1 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd3, off11)
qemu: pwrite(d13, a1 + 0, 4096, 0)
check
