# fork of a dom0 process holding a gntdev mapping: on PV gntdev sets
# VM_DONTCOPY (VmFlags `dc`), so the child gets no copy of the VMA (its
# load there is SIGSEGV with SEGV_MAPERR, its O_DIRECT read there -EFAULT)
# and the grant is mapped once, as before the fork; the child's anonymous
# memory is copied normally. The parent's mapping keeps working after the
# child exits.
# Expected values: reference 3.3 (VM_DONTCOPY on PV) and 2.3 (fork does
# not copy VM_DONTCOPY VMAs).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
disk xvda in dom0

xvda: write(0, "disk") = 4
domU: p = alloc_page()
domU: write_page(p, 0, "granted")
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: b = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000
qemu: store(b, "anon") = 0
qemu: load(a, 7) = "granted"
qemu: child = fork()
show maps qemu
show maps child
child: load(a, 1) = SIGSEGV:maperr@0x7ffff7ffe000
child: load(b, 4) = "anon"
child: d = open("/dev/xvda", O_RDWR|O_DIRECT)
child: pread(d, a, 4096, 0) = -EFAULT
show grants domU
child: exit() = 0
qemu: load(a, 7) = "granted"
qemu: d = open("/dev/xvda", O_RDWR|O_DIRECT)
qemu: pread(d, a, 4096, 0) = 4096
domU: read_page(p, 0, 4) = "disk"
check
