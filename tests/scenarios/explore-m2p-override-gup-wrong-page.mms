# Found by mmsim explore: gup-wrong-page: d0: GUP at 0x7ffff7ffc000 found pfn 0x1fff (mfn 0x1008); the driver's page for it is pfn 0x1ffe (mfn 0x1008)
# seed 16184226688143867045 choices 5.0.c.5.5.d.5.c.4.d.f.5.6.7.0.4.3.d.9.2.0.3.b.0.1.8.2.1.1.0.1.f.0.5.1.3.b.0.9.7.0.1.9.9.7.0.4.0.e.1.a.b.0.e.1.2.0.2.3.2.9.8.c.0.1.d.0.0.6.0.9.5.1.0.2.9.2.6.1.9.a.8.e.1.2.2.7.3.b.0.c.0.4.1.3.2.2.6.1.3.3.2.7.3.7.1.1.8.0.0.1.1
# Fails under `kernel m2p-override`; passes under find-special-page.
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel m2p-override
expect violation gup-wrong-page
domain dom0 pv privileged pages=4096
domain domU pv pages=4096
domain host native pages=4096
process qemu in dom0
process app in host mmap_base=0x7e0040000000
disk xvda in dom0

qemu: fd3 = open("/dev/xen/gntdev", O_RDWR)
domU: p16 = alloc_page()
domU: g19 = gnttab_grant_foreign_access(p16, dom0, rw)
qemu: d22 = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: off24 = ioctl(fd3, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g19, g19])
qemu: a2 = mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_SHARED, fd3, off24)
qemu: pread(d22, a2 + 0, 4096, 4096)
check
