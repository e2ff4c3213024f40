# fork under memory pressure: the child's page tables find no free page
# and the OOM killer kills another process; the fork then completes.
# copy_pte_range() allocates the child's tables with pte_alloc_map_lock()
# -> __pte_alloc() (mm/memory.c), GFP_PGTABLE_USER plus pagetable_alloc()'s
# __GFP_COMP: gfp_mask=0x440dc0(GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO),
# an order-0 allocation that does not fail ("too small to fail": mm/
# page_alloc.c 6.12 __alloc_pages_slowpath -> __alloc_pages_may_oom ->
# out_of_memory). select_bad_process() takes the highest oom_badness()
# (mm/oom_kill.c line 232: RSS + swap entries + page-table pages): hog's
# 284 pages + 3 tables beat p's 4 + 3. The child being copied is not on
# the task list yet (copy_process() links it after copy_mm()), so
# dump_tasks() does not list it and it cannot be chosen.
# Pages: 300 - 2 reserved = 298 = 2 PGDs + 1 slab page for the VMAs
# (vm_area_struct, 21 a page: kernel/slab.rs) + p's 4 pages and 3 tables +
# hog's 284 pages and 3 tables + 1 page left: the child's PGD (pgd_alloc
# in mm_init) takes it, and its first PTE path (PUD, PMD, PTE) meets the
# OOM killer.
# status: 0
domain host native pages=300
process hog in host
process p in host

p: x = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: store(x, "parent") = 0
p: touch(x, 16K, w) = 0
hog: a = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1136K, w) = 0
p: c = fork() = 3
hog: load(a, 1) = KILLED
c: load(x, 6) = "parent"
p: load(x, 6) = "parent"
show log host
check
