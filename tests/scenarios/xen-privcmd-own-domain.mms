# privcmd naming the caller's own domain as the foreign domain: privcmd
# passes the domid to HYPERVISOR_mmu_update (xen_remap_domain_gfn_array,
# arch/x86/xen/mmu_pv.c), and Xen's get_pg_owner() refuses a domain that
# names itself ("Cannot specify itself as foreign domain", -ESRCH,
# xen/arch/x86/mm.c). MMAPBATCH_V2 reports that per frame in its error
# array and the ioctl itself returns 0 (privcmd_ioctl_mmap_batch,
# drivers/xen/privcmd.c); nothing is mapped, so an access is
# privcmd_fault()'s VM_FAULT_SIGBUS.
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process qemu in dom0

dom0: p = alloc_page()
dom0: m = pfn_to_mfn(p)
qemu: fd = open("/dev/xen/privcmd", O_RDWR)
qemu: a = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) = 0x7ffff7ffe000
qemu: ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2, a, dom0, [m]) = 0
show log dom0
qemu: load(a, 1) = SIGBUS:adrerr@0x7ffff7ffe000
check
