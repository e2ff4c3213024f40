# MADV_PAGEOUT on a memfd mapping unmaps the pages mapped only there:
# madvise_cold_or_pageout_pte_range (mm/madvise.c, 6.12) isolates each
# exclusively mapped folio and reclaim_pages -> shrink_folio_list
# (mm/vmscan.c) unmaps it (try_to_unmap_one). Without swap a dirty shmem
# folio cannot be written out (mm/shmem.c shmem_writepage:
# !total_swap_pages -> redirty, AOP_WRITEPAGE_ACTIVATE) and stays in the
# page cache (mincore 1, contents kept); a clean one, only ever read, is
# removed from it (__remove_mapping; mincore 0). The next access faults
# the page back in.
# Expected values: the same calls on this machine's Linux 6.18 (a C
# program: memfd_create, MAP_SHARED, madvise, mincore, /proc/self/pagemap
# present bits all 0 after the pageout).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: fd = memfd_create("m")
p: ftruncate(fd, 16K) = 0
p: a = mmap(NULL, 16K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7e003fffc000
p: store(a, "dirty") = 0
p: load(a + 4K, 1) = x"00"
p: store(a + 8K, "x") = 0
p: madvise(a, 12K, MADV_PAGEOUT) = 0
p: mincore(a, 16K) = x"01000100"
show pagemap p a 16K
p: load(a, 5) = "dirty"
p: load(a + 8K, 1) = "x"
show pagemap p a 16K
check
