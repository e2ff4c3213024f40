# Two tasks with the same badness: the later one in the task list dies.
# oom_evaluate_task() (mm/oom_kill.c 6.12 line 344) skips a task only when
# "points < oc->chosen_points", so a later task with equal points replaces
# the one chosen before it; for_each_process() walks the task list in
# creation order (kernel/fork.c copy_process: list_add_tail_rcu(&p->tasks,
# &init_task.tasks)). first and second have 100 pages and 3 tables each;
# third uses the last free page (238 = 3 PGDs + 1 slab page for the VMAs
# (kernel/slab.rs) + 2 x 103 + 3 tables and 25 pages), then writes to an address under another PGD entry: the PUD table
# it needs finds no free page. second (pid 2) is killed, not first (pid 1).
# A user page table is allocated with GFP_PGTABLE_USER (include/asm-generic/
# pgalloc.h) plus pagetable_alloc()'s __GFP_COMP (include/linux/mm.h):
# gfp_mask=0x440dc0(GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO).
# status: 0
domain host native pages=240
process first in host
process second in host
process third in host

first: a = mmap(0, 400K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
first: touch(a, 400K, w) = 0
second: b = mmap(0, 400K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
second: touch(b, 400K, w) = 0
third: c = mmap(0, 100K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
third: touch(c, 100K, w) = 0
third: d = mmap(0x7f0000000000, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = ok
third: store(d, "third") = 0
third: load(d, 5) = "third"
second: load(b, 1) = KILLED
first: load(a, 1) = x"00"
show log host
check
