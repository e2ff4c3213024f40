# A privileged toolstack process maps a page of domU with privcmd
# (IOCTL_PRIVCMD_MMAPBATCH_V2, machine frame numbers for a PV guest, read
# from domU's P2M). The CPU sees domU's data through the special PTE, but
# the VMA is VM_IO|VM_PFNMAP and privcmd has no find_special_page: GUP
# refuses it in check_vma_flags, so O_DIRECT read and write on it are
# -EFAULT, in every kernel variant. fork does not copy the VMA
# (VM_DONTCOPY). A privcmd page never populated raises SIGBUS.
# Expected values: reference 6 (drivers/xen/privcmd.c mmap flags, fault
# handler; mm/gup.c check_vma_flags).
# status: 0
kernel find-special-page
domain dom0 pv privileged
domain domU pv
process tools in dom0
disk xvda in dom0

domU: p = alloc_page()
domU: write_page(p, 0, "guest memory")
domU: m = pfn_to_mfn(p)
tools: fd = open("/dev/xen/privcmd", O_RDWR)
tools: a = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7ffff7ffe000
tools: e = mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7ffff7ffd000
tools: ioctl(fd, IOCTL_PRIVCMD_MMAPBATCH_V2, a, domU, [m]) = 0
tools: load(a, 12) = "guest memory"
tools: store(a + 12, "!") = 0
domU: read_page(p, 0, 13) = "guest memory!"
show pagetable tools a
show smaps tools
tools: d = open("/dev/xvda", O_RDWR|O_DIRECT)
tools: pread(d, a, 4096, 0) = -EFAULT
tools: pwrite(d, a, 4096, 0) = -EFAULT
tools: pin_user_pages(a, 1, 0) = -EFAULT
tools: load(e, 1) = SIGBUS
tools: child = fork()
child: load(a, 1) = SIGSEGV:maperr@0x7ffff7ffe000
tools: munmap(a, 4096) = 0
domU: read_page(p, 0, 13) = "guest memory!"
check
