# Found by mmsim explore: dma-misdirected: d0 pid 1: I/O 1 at 0x7ffff7ffe000 (pfn 0x1ffd): the guest has no machine frame for the page (P2M invalid) at DMA time; at submit the PTE mapped mfn 0x1003 (d1)
# seed 14135670876684027029 choices 6.d.5.a.a.d.7.9.b.0.7.4.e.1.b.0.5.8.1.c.0.9.9.b.0.0.b.0.e.0.3.1.3.4.0.4.2.b.0.9.9.7.0.9.5.1.0.0.6.0.0.a.e.0.6.0.0.9.7.1.2.a.0.0.0.d.0.0.1.b.1.0.0.9.0.0.1.0.e.1.0.b.0.d.0.0.1.0.f.2.7.2.0.1.6.0.0.2.3.1.8.1.0.2.0.e.0.c.2.a.0.0.1
# Fails under `kernel find-special-page unmap=immediate`; passes under find-special-page.
# status: 0
# (it breaks invariants, and says which on its `expect violation` line)
kernel find-special-page unmap=immediate
expect violation dma-misdirected
domain dom0 pv privileged pages=4096
domain domU pv pages=4096
domain host native pages=4096
process qemu in dom0
process app in host mmap_base=0x7e0040000000
disk xvda in dom0

qemu: fd1 = open("/dev/xen/gntdev", O_RDWR)
domU: p4 = alloc_page()
domU: g6 = gnttab_grant_foreign_access(p4, dom0, rw)
qemu: d8 = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: off10 = ioctl(fd1, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g6])
qemu: a2 = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd1, off10)
qemu: r12 = io_submit(d8, READ, a2 + 0, 4096, 0)
qemu: munmap(a2 + 0, 4096)
qemu: io_complete(r12)
check
