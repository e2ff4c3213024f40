# Out of memory in one task's fault kills another task, and the fault goes
# on. late's write fault finds no free page; out_of_memory() (mm/
# oom_kill.c, 6.12) -> select_bad_process() picks hog, whose badness (256
# pages of RSS + 3 page tables, oom_badness() line 203) is the highest;
# __oom_kill_process() sends it SIGKILL and logs "Out of memory: Killed
# process 1 (hog) total-vm:1024kB, anon-rss:1024kB, ..." (line 955). The
# OOM killer made progress, so __alloc_pages_slowpath() retries the
# allocation ("Retry as long as the OOM killer is making progress",
# mm/page_alloc.c line 4548) and late's touch completes. hog exits (the
# model at once; Linux when the victim runs, or its memory is reaped by
# the oom_reaper first); every later action of hog is KILLED, naming the
# line whose fault killed it.
# status: 0
domain host native pages=300
process hog in host
process late in host

hog: a = mmap(0, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1M, w) = 0
late: b = mmap(0, 256K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
late: touch(b, 256K, w) = 0
late: store(b + 255K, "late") = 0
late: load(b + 255K, 4) = "late"
hog: load(a, 1) = KILLED
hog: exit() = KILLED
show log host
show maps late
check
