# A partial-page ftruncate of a memfd dirties the page that holds the new
# end of file: shmem_undo_range (mm/shmem.c, 6.12, lines 1073-1085) takes
# the partial folio from the page cache, folio_mark_dirty()s it, then
# truncate_inode_partial_folio zeroes its tail. smaps (fs/proc/task_mmu.c
# smaps_account: dirty = pte_dirty || folio_test_dirty) then counts the
# page as Private_Dirty though it was only read; a page-aligned ftruncate
# dirties nothing. The page past the new end is unmapped (truncate_pagecache).
# Expected values: the same calls on this machine's Linux 6.18 (a C
# program: memfd_create, ftruncate, MAP_SHARED and MAP_PRIVATE read-only
# mappings, reads, /proc/self/smaps).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: fd = memfd_create("m")
p: ftruncate(fd, 8K) = 0
p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) = 0x7e003fffe000
p: load(a, 1) = x"00"
p: load(a + 4K, 1) = x"00"
p: ftruncate(fd, 6000) = 0
show smaps p
p: ftruncate(fd, 4K) = 0
show smaps p
p: fd2 = memfd_create("n")
p: ftruncate(fd2, 8K) = 0
p: b = mmap(NULL, 8K, PROT_READ, MAP_PRIVATE, fd2, 0) = 0x7e003fffc000
p: load(b + 4K, 1) = x"00"
p: ftruncate(fd2, 5000) = 0
show smaps p
check
