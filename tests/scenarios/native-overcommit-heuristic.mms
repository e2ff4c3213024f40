# vm.overcommit_memory 0 (OVERCOMMIT_GUESS, the default): mm/util.c
# __vm_enough_memory() (6.12) refuses one charge larger than
# totalram_pages() + total_swap_pages ("if (pages > totalram_pages() +
# total_swap_pages) goto error;"), warns with pr_warn_ratelimited("%s: pid:
# %d, comm: %s, bytes: %lu not enough memory for the allocation") and
# mmap returns -ENOMEM (mm/mmap.c mmap_region -> accountable_mapping ->
# security_vm_enough_memory_mm). The domain has 1024 pages and no swap, so
# 100 TiB private writable is refused and 1024 pages are not.
# MAP_NORESERVE and read-only mappings are not charged (VM_ACCOUNT only for
# private writable, accountable_mapping()); overcommit=always never refuses.
# (Checked on this machine, 23 GiB, no swap, overcommit_memory 0: 100T
# read-write private is ENOMEM; 10T with MAP_NORESERVE and 10T read-only
# succeed; mprotect of the latter to read-write is ENOMEM.)
# status: 0
domain host native pages=1024
process p in host

p: mmap(NULL, 100T, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -ENOMEM
p: mmap(NULL, 1025 * 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = -ENOMEM
p: a = mmap(NULL, 1000 * 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: b = mmap(NULL, 10T, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0) = ok
p: c = mmap(NULL, 10T, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
# Making 10 TiB writable charges it: mprotect_fixup() -> -ENOMEM.
p: mprotect(c, 10T, PROT_READ|PROT_WRITE) = -ENOMEM
show maps p
show log host
