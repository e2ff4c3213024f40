# MAP_HUGETLB|MAP_FIXED over existing mappings on a machine without a
# hugetlb pool (vm.nr_hugepages 0; checked on Linux 6.18 by
# tests/differential.rs issue13_rlimit_brk_cases). mm/vma.c __mmap_region():
# the old VMAs are gathered (vms_gather_munmap_vmas; a seal is -EPERM there
# and nothing changes), their PTEs are cleared before call_mmap() because the
# new VMA has a file (vms_clean_up_area), hugetlbfs_file_mmap() ->
# hugetlb_reserve_pages() finds no free huge page (-ENOMEM), and
# vms_abort_munmap_vmas() cannot put them back: "Resort to the old failure
# method of leaving a gap where the MAP_FIXED mapping failed".
# status: 0
domain host native
process p in host

p: mmap(0x7f0000008000, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7f0000008000
p: store(0x7f0000008000, "a")
p: mmap(0x7f0000400000, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED, -1, 0) = 0x7f0000400000
p: mseal(0x7f0000400000, 8K, 0) = 0
# Over the first mapping: -ENOMEM, and the mapping is gone.
p: mmap(0x7f0000000000, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_FIXED, -1, 0) = -ENOMEM
p: load(0x7f0000008000, 1) = SIGSEGV
# Over the sealed one: -EPERM, nothing changes.
p: mmap(0x7f0000400000, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_FIXED, -1, 0) = -EPERM
show maps p
