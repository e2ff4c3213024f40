# mremap under memory pressure: moving a mapping to an address under
# another PGD entry needs a PUD, a PMD and a PTE table there, and the
# first finds no free page. move_page_tables() (mm/mremap.c) allocates
# them with alloc_new_pud()/alloc_new_pmd()/pte_alloc(): GFP_PGTABLE_USER
# plus pagetable_alloc()'s __GFP_COMP, gfp_mask=0x440dc0(GFP_KERNEL_ACCOUNT|
# __GFP_COMP|__GFP_ZERO), an order-0 allocation that does not fail (mm/
# page_alloc.c 6.12 __alloc_pages_slowpath -> __alloc_pages_may_oom): the
# OOM killer kills hog (oom_badness(), mm/oom_kill.c line 232: 285 pages +
# 3 tables, against m's 4 + 3) and the move completes; m's data is at the
# new address. The new VMA (copy_vma -> vm_area_dup) fits in the slab page
# already there (kernel/slab.rs: 21 vm_area_structs a page).
# Pages: 300 - 2 reserved = 298 = 2 PGDs + 1 slab page + m's 4 pages and
# 3 tables + hog's 285 pages and 3 tables: nothing left.
# status: 0
domain host native pages=300
process hog in host
process m in host

m: x = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
m: touch(x, 16K, w) = 0
m: store(x + 12K, "moved") = 0
hog: a = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1140K, w) = 0
m: mremap(x, 16K, 16K, MREMAP_MAYMOVE|MREMAP_FIXED, 0x7f0000000000) = 0x7f0000000000
hog: load(a, 1) = KILLED
m: load(0x7f0000003000, 5) = "moved"
show maps m
show log host
check
