# A fork that runs out of memory part-way undoes what it copied.
# kernel/fork.c dup_mm(): "err = dup_mmap(mm, oldmm); if (err) goto
# free_pt; ... free_pt: mmput(mm);" and mmput() -> __mmput() ->
# exit_mmap() unmaps every VMA copied so far: the references and mapcounts
# the copy took go back (zap_pte_range), and check_mm() finds every RSS
# counter 0 (no "BUG: Bad rss-counter state"). mm/memory.c
# copy_pte_range() allocates the child's page table first
# (pte_alloc_map_lock) and returns -ENOMEM before copying an entry.
# The allocations fail by fault injection, as /sys/kernel/debug/
# fail_page_alloc does (lib/fault-inject.c should_fail_ex: "space" bytes
# succeed, then "times" failures): 4 pages succeed (the child's PGD, and
# the PUD, PMD and PTE tables for the first VMA), the fifth (the PMD table
# for the second VMA, 1 GiB away) fails.
# status: 0
domain host native pages=1024
process p in host

p: a = mmap(0x7f0000000000, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = ok
p: b = mmap(0x7f0040000000, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = ok
p: store(a, "first") = 0
p: store(b, "second") = 0
show pagetable p a
host: fail_page_alloc(4 * 4096 + 1, 1) = 0
p: fork() = -ENOMEM
show pagetable p a
# Both data pages: refcount 1, mapcount 1, as before the fork (PFN 3 is
# the slab page of the VMAs, kernel/slab.rs; then a's 3 tables and page,
# b's PMD, PTE table and page).
show page host 7
show page host 10
show maps p
# The parent's page is its own again: the write reuses it (do_wp_page ->
# wp_can_reuse_anon_folio), no copy.
p: store(a, "again") = 0
p: load(a, 5) = "again"
show pagemap p a 4K
check
show log host
# copy_process() allocates the pid after copy_mm(): the failed fork used none.
p: c = fork() = 2
check
