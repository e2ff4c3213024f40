# fork under memory pressure where the forking task is the OOM killer's
# choice: its fork never returns, the task dies (KILLED), and what the
# fork had copied is undone.
# The child's first page table (copy_pte_range -> __pte_alloc, gfp_mask=
# 0x440dc0(GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO)) finds no free page;
# out_of_memory() picks the highest oom_badness() (mm/oom_kill.c line 232):
# p with 284 pages + 3 tables, not idle (4 + 3). The victim is current: it
# gets no page (tsk_is_oom_victim(current) -> nopage, mm/page_alloc.c
# __alloc_pages_slowpath), dup_mmap() fails and dup_mm() tears the child's
# mm down ("free_pt: mmput(mm)", kernel/fork.c), and the SIGKILL is
# delivered on the way back to user space. (Had the copy succeeded,
# copy_process() would stop it anyway: "Let kill terminate clone/fork in
# the middle", fatal_signal_pending -> -EINTR, kernel/fork.c 6.12 line
# 2588.) The pid is not used up (alloc_pid comes after copy_mm).
# Pages: 300 - 2 reserved = 298 = 2 PGDs + 1 slab page (kernel/slab.rs) +
# idle's 4 pages and 3 tables + p's 284 pages and 3 tables + 1 page left,
# which the child's PGD takes.
# status: 0
domain host native pages=300
process p in host
process idle in host

idle: b = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
idle: store(b, "idle's") = 0
idle: touch(b, 16K, w) = 0
p: a = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: touch(a, 1136K, w) = 0
p: c = fork() = KILLED
p: load(a, 1) = KILLED
idle: load(b, 6) = "idle's"
show log host
check
# p's memory is free again, and the next fork gets pid 3.
idle: d = fork() = 3
check
