# mlock accounting for an unprivileged process (uid 1000, no
# CAP_IPC_LOCK): the default RLIMIT_MEMLOCK is 8 MiB; over the limit mlock
# is -ENOMEM (pages already locked in the range are not counted twice),
# mmap(MAP_LOCKED) is -EAGAIN, mlockall(MCL_CURRENT) is -ENOMEM; with a
# limit of 0, mlock is -EPERM (can_do_mlock). Lowering the hard limit is
# allowed, raising it again is -EPERM.
# Expected values: the same calls on this machine's Linux 6.18 from a
# python3 child that did setuid(1000) (ctypes mlock/mmap/mlockall,
# resource.setrlimit).
# status: 0
domain host native
process u in host uid=1000 mmap_base=0x7e0040000000

u: a = mmap(NULL, 64K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fff0000
u: mlock(a, 16K) = 0
u: setrlimit(RLIMIT_MEMLOCK, 16K, 16K) = 0
u: mlock(a, 16K) = 0
u: mlock(a, 20K) = -ENOMEM
u: mlock(a + 16K, 4K) = -ENOMEM
u: mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_LOCKED, -1, 0) = -EAGAIN
u: mlockall(MCL_CURRENT) = -ENOMEM
u: munlock(a, 8K) = 0
u: mlock(a + 16K, 8K) = 0
show pagemap u a 64K
u: setrlimit(RLIMIT_MEMLOCK, 32K, 32K) = -EPERM
u: setrlimit(RLIMIT_MEMLOCK, 0, 0) = 0
u: mlock(a + 32K, 4K) = -EPERM
u: munlock(a, 64K) = 0
show smaps u
check
