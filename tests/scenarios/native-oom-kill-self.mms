# A fault that finds no free page invokes the OOM killer, and the faulting
# task is the one it picks: its access ends with the task killed.
# The anonymous page is vma_alloc_zeroed_movable_folio()
# (arch/x86/include/asm/page.h: GFP_HIGHUSER_MOVABLE | __GFP_ZERO, plus
# __GFP_COMP from vma_alloc_folio), an order-0 allocation that does not
# fail: __alloc_pages_slowpath() calls __alloc_pages_may_oom() (mm/
# page_alloc.c 6.12 line 4537) -> out_of_memory() (mm/oom_kill.c).
# select_bad_process() picks the highest oom_badness() (line 203: RSS +
# swap entries + mm_pgtables_bytes / PAGE_SIZE): hog, 284 pages + 4
# tables, beats idle. dump_header() prints "hog invoked oom-killer:
# gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0,
# oom_score_adj=0" (line 462) and dump_tasks()'s table (lines 404, 428-429);
# dump_oom_victim() the oom-kill line (line 451, no cpusets or memcg);
# __oom_kill_process() "Out of memory: Killed process 1 (hog) ..." (line
# 955). The victim is current: it gets no page (tsk_is_oom_victim(current)
# -> nopage, page_alloc.c line 4542), the fault returns VM_FAULT_OOM, and
# pagefault_out_of_memory() returns at once because SIGKILL is pending
# (oom_kill.c line 1198); the task dies on its way back to user space.
# Every later action of hog is KILLED too; idle runs on, its memory intact.
# Pages: 300 - 2 reserved = 298 = 2 PGDs + 1 slab page for the VMAs
# (kernel/slab.rs) + idle's 4 pages and 3 tables + hog's 284 pages and 4
# tables (its 2 MiB straddle two PTE tables).
# status: 0
domain host native pages=300
process hog in host
process idle in host

idle: b = mmap(0, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
idle: store(b, "idle's") = 0
idle: touch(b, 16K, w) = 0
hog: a = mmap(0, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: a2 = mmap(0, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1M, w) = 0
hog: touch(a2, 1M, w) = KILLED
hog: load(a, 1) = KILLED
hog: munmap(a, 1M) = KILLED
idle: load(b, 6) = "idle's"
show log host
show maps idle
check
# The killed task's memory is free again: idle can use it.
idle: c = mmap(0, 512K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
idle: touch(c, 512K, w) = 0
check
# The OOM killer chooses the caller of a syscall whose GUP faults: mlock
# populates with __get_user_pages() (mm/gup.c populate_vma_page_range),
# faultin_page() turns VM_FAULT_OOM into -ENOMEM (include/linux/mm.h
# vm_fault_to_errno) and the call fails, but the value never reaches user
# space: the pending SIGKILL is delivered first (kernel/entry/common.c
# exit_to_user_mode_loop -> arch_do_signal_or_restart -> get_signal ->
# do_group_exit). idle is the only task left, so it is the victim.
idle: d = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
idle: mlock(d, 1200K) = KILLED
idle: load(b, 6) = KILLED
show log host
check
