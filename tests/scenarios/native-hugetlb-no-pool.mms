# MAP_HUGETLB on a machine without a hugetlb pool (vm.nr_hugepages 0, as on
# the machine these expectations were checked on: Linux 6.18, no huge pages
# reserved, hstates 2 MiB and 1 GiB).
# mm/mmap.c ksys_mmap_pgoff(): an anonymous MAP_HUGETLB picks the hstate
# with hstate_sizelog() (-EINVAL for a size the kernel has no hstate for),
# rounds len up to the huge page size and sets up a hugetlbfs file with
# VM_NORESERVE; do_mmap() -> generic_hugetlb_get_unmapped_area()
# (fs/hugetlbfs/inode.c): MAP_FIXED goes to prepare_hugepage_range(),
# -EINVAL for an address that is not huge-page aligned; otherwise
# hugetlbfs_file_mmap() -> hugetlb_reserve_pages() -> hugetlb_acct_memory()
# finds no free huge page: -ENOMEM. A file that is not on hugetlbfs with
# MAP_HUGETLB is -EINVAL (ksys_mmap_pgoff).
# status: 0
domain host native
process p in host

p: mmap(NULL, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB, -1, 0) = -ENOMEM
p: mmap(NULL, 2M, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB, -1, 0) = -ENOMEM
p: mmap(NULL, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB, -1, 0) = -ENOMEM
# 64 KiB (log 16): no such hstate on x86-64.
p: mmap(NULL, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|(16 * 0x4000000), -1, 0) = -EINVAL
# A fixed address that is not 2 MiB aligned: prepare_hugepage_range().
p: mmap(0x7f0000001000, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_FIXED, -1, 0) = -EINVAL
p: mmap(0x7f0000200000, 2M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_FIXED, -1, 0) = -ENOMEM
p: fd = memfd_create("m")
p: ftruncate(fd, 2M) = 0
p: mmap(NULL, 2M, PROT_READ, MAP_SHARED|MAP_HUGETLB, fd, 0) = -EINVAL
show maps p
