# oom_score_adj moves the OOM killer's choice. oom_badness() (mm/
# oom_kill.c 6.12 lines 203-238): a task whose adj is OOM_SCORE_ADJ_MIN
# (-1000) is never chosen (LONG_MIN); otherwise "adj *= totalpages /
# 1000; points += adj" with totalpages = totalram_pages() + swap = 1100
# (constrained_alloc), so +1000 adds 1000 points (with fewer than 1000
# pages the integer division makes it 0). big (800 pages, adj -1000) is
# never chosen; small (16 pages + 3 tables + 1000) outranks grower; when
# grower runs out again, it is the last killable task with memory (user
# has none: badness 0) and dies itself.
# The writes are /proc/self/oom_score_adj (fs/proc/base.c
# oom_score_adj_write: -EINVAL outside [-1000, 1000]; __set_oom_adj:
# -EACCES below oom_score_adj_min without CAP_SYS_RESOURCE, and a
# privileged write sets the minimum). The dump_tasks() rows and the
# "Killed process" line show each task's adj.
# status: 0
domain host native pages=1100
process big in host
process small in host
process user in host uid=1000
process grower in host

big: oom_score_adj(-1000) = 0
small: oom_score_adj(1000) = 0
small: oom_score_adj(1001) = -EINVAL
user: oom_score_adj(-1) = -EACCES
user: oom_score_adj(500) = 0
user: oom_score_adj(0) = 0
big: a = mmap(0, 3200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
big: touch(a, 3200K, w) = 0
small: b = mmap(0, 64K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
small: touch(b, 64K, w) = 0
grower: c = mmap(0, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
grower: touch(c, 2M, w) = KILLED
small: load(b, 1) = KILLED
user: oom_score_adj(0) = 0
big: load(a, 1) = x"00"
show log host
check
