# fork with no free page: dup_mmap() -> vm_area_dup() allocates each
# copied VMA from the vm_area_struct slab with GFP_KERNEL (kernel/fork.c),
# and the child's page tables are GFP_PGTABLE_USER allocations; none of
# them fails for want of memory: the OOM killer runs in the parent's
# context ("p invoked oom-killer", mm/oom_kill.c 6.12 line 462) and kills
# hog, the highest oom_badness(); the allocation is retried (mm/
# page_alloc.c line 4548) and fork succeeds. The model charges VMAs
# against free pages instead of keeping slab pages (README.md), so the
# line shows gfp_mask=0xcc0(GFP_KERNEL), order=0, not SLUB's own flags and
# order. A child is not on the task list while its mm is copied
# (copy_process: copy_mm() before list_add_tail_rcu(&p->tasks, ...)), so
# the OOM killer never chooses it.
# Pages: 300 - 2 reserved - 2 PGDs - p's 3 tables and 4 pages - hog's 3
# tables = 286 pages for hog: none left when p forks.
# status: 0
domain host native pages=300
process p in host
process hog in host


p: a = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: store(a, "parent's") = 0
p: touch(a, 16K, w) = 0
hog: h = mmap(0, 1144K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(h, 1144K, w) = 0
p: child = fork() = 3
child: load(a, 8) = "parent's"
hog: load(h, 1) = KILLED
show log host
check
