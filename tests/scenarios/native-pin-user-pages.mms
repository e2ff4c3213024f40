# pin_user_pages (FOLL_PIN) on memory shared copy-on-write after fork:
# a FOLL_WRITE pin breaks COW in the pinning process (its page becomes
# exclusive, `X`; the child keeps the old data); since Linux 5.19 even a
# read-only pin of a shared anonymous page unshares it (gup_must_unshare),
# so the pinned page can never diverge from what the process sees.
# A write pin of a PROT_READ mapping is -EFAULT without FOLL_FORCE; with
# FOLL_FORCE on a private mapping it COWs the page (as ptrace and
# /proc/PID/mem writes do). Pins are released with unpin_user_pages.
# Expected values: the same situations on this machine's Linux 6.18 through
# syscalls that pin user pages: process_vm_writev (pin_user_pages_remote
# with FOLL_WRITE), process_vm_readv (read-only FOLL_PIN), a write to a
# PROT_READ page through /proc/self/mem (FOLL_FORCE|FOLL_WRITE), with
# pagemap of both processes read before and after.
# status: 0
domain host native
process parent in host mmap_base=0x7e0040000000

parent: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffe000
parent: store(a, "orig0") = 0
parent: store(a + 4K, "orig1") = 0
parent: child = fork()
show pagemap parent a 8K
parent: w = pin_user_pages(a, 1, FOLL_WRITE) = 1
show pagemap parent a 8K
show pagemap child a 8K
parent: store(a, "new!0") = 0
child: load(a, 5) = "orig0"
parent: r = pin_user_pages(a + 4K, 1, 0) = 1
show pagemap parent a 8K
show pagemap child a 8K
parent: unpin_user_pages(w) = ok
parent: unpin_user_pages(r) = ok
parent: ro = mmap(NULL, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffd000
parent: pin_user_pages(ro, 1, FOLL_WRITE) = -EFAULT
parent: f = pin_user_pages(ro, 1, FOLL_WRITE|FOLL_FORCE) = 1
show pagemap parent ro 4K
parent: unpin_user_pages(f) = ok
parent: sh = mmap(NULL, 4K, PROT_READ, MAP_SHARED|MAP_ANONYMOUS, -1, 0) = 0x7e003fffc000
parent: pin_user_pages(sh, 1, FOLL_WRITE|FOLL_FORCE) = -EFAULT
parent: pin_user_pages(sh, 1, 0) = 1
check
