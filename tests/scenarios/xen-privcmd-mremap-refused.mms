# mremap moves a privcmd mapping of a foreign frame (a VM_PFNMAP VMA may
# move while it does not grow). move_ptes() clears the old entry and sets
# the new one in lazy MMU mode; Xen refuses the new one because the
# update names no foreign domain (DOMID_SELF: dom0 may not map domU's
# frame, get_page_from_l1e in xen/arch/x86/mm.c). The refusal is a WARN at
# xen_mc_flush() (arch/x86/xen/multicalls.c, 6.12), mremap returns the new
# address, and the mapping is gone: the next access finds no PTE in a VMA
# whose ->fault is privcmd_fault(), VM_FAULT_SIGBUS (drivers/xen/privcmd.c).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

domU: p = alloc_page()
domU: m = pfn_to_mfn(p)
qemu: fd = open("/dev/xen/privcmd", O_RDWR)
qemu: a = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) = 0x7ffff7ffe000
qemu: ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2, a, domU, [m]) = 0
qemu: b = mremap(a, 4096, 4096, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7f0000000000) = 0x7f0000000000
show log dom0
qemu: load(b, 1) = SIGBUS:adrerr@0x7f0000000000
check
