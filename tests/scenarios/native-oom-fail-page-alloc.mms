# Fault injection fails an allocation before the allocator's slow path, so
# it never invokes the OOM killer, even with no page free.
# __alloc_pages() -> prepare_alloc_pages(): "if (should_fail_alloc_page(
# gfp_mask, order)) return false;" (mm/page_alloc.c 6.12 line 4620): NULL
# at once, no __alloc_pages_slowpath(), no out_of_memory().
# In a user access the fault returns VM_FAULT_OOM; do_user_addr_fault()
# (arch/x86/mm/fault.c lines 1426-1440) calls pagefault_out_of_memory(),
# which, with no fatal signal pending, warns "Huh VM_FAULT_OOM leaked out
# to the #PF handler. Retrying PF" (mm/oom_kill.c line 1202) and returns
# to user space: the instruction faults again, until the injected
# failures are spent (times 3: three warnings, then the store succeeds).
# In a syscall the fault is GUP's: faultin_page() turns VM_FAULT_OOM into
# -ENOMEM (include/linux/mm.h vm_fault_to_errno) and __get_user_pages()
# stops there (mm/gup.c line 1507), so pin_user_pages returns -ENOMEM.
# With memory exhausted too (hog holds every free page), an injected
# failure still kills nobody; without injection, the next fault does.
# status: 0
domain host native pages=300
process p in host
process hog in host

p: c = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
host: fail_page_alloc(0, 3) = 0
p: store(c, "x") = 0
p: load(c, 1) = "x"
host: fail_page_alloc(0, 1) = 0
p: pin_user_pages(c + 4K, 1, FOLL_WRITE) = -ENOMEM
p: pin_user_pages(c + 4K, 1, FOLL_WRITE) = 1
show log host
# hog takes every free page left: 300 - 2 reserved - 2 PGDs - 1 slab page
# for the VMAs (vm_area_struct, kernel/slab.rs) - p's 3 tables and 2 pages
# - hog's 3 tables = 287 pages.
hog: a = mmap(0, 1148K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1148K, w) = 0
host: fail_page_alloc(0, 1) = 0
p: pin_user_pages(c + 8K, 1, FOLL_WRITE) = -ENOMEM
hog: load(a, 1) = x"00"
p: pin_user_pages(c + 8K, 1, FOLL_WRITE) = 1
hog: load(a, 1) = KILLED
show log host
check
