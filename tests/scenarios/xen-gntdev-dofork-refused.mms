# MADV_DOFORK clears gntdev's VM_DONTCOPY (a gntdev VMA is VM_MIXEDMAP, not
# VM_IO, so madvise allows it), and fork's copy_page_range() copies the
# grant PTE for the child. Xen refuses that PTE (dom0 may not map domU's
# frame through mmu_update: get_page_from_l1e, xen/arch/x86/mm.c), but in
# lazy MMU mode the refusal only shows when the multicall is flushed:
# xen_mc_flush() WARNs and logs the failed call (arch/x86/xen/
# multicalls.c, 6.12), and fork succeeds. The child's entry is dropped
# while the RSS it counted for the page stays (copy_present_ptes,
# mm/memory.c): the kernel's own books disagree, which `rss-counter` says.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0
expect violation rss-counter

domU: p = alloc_page()
domU: g = gnttab_grant_foreign_access(p, dom0, rw)
qemu: fd = open("/dev/xen/gntdev", O_RDWR)
qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = 0
qemu: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, off) = 0x7ffff7ffe000
qemu: store(a, "hello") = 0
qemu: madvise(a, 4096, MADV_DOFORK) = 0
qemu: c = fork() = ok
show log dom0
show pagetable c a
c: load(a, 5) = SIGBUS:adrerr@0x7ffff7ffe000
qemu: load(a, 5) = "hello"
