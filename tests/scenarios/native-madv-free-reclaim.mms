# MADV_FREE marks anonymous pages lazy-free and leaves them mapped with
# their contents (madvise_free_pte_range, mm/madvise.c, 6.12: the PTE
# loses its young and dirty bits, folio_mark_lazyfree clears
# PG_swapbacked; smaps LazyFree counts them). Only reclaim discards them:
# shrink_folio_list (mm/vmscan.c) skips a folio whose PTE was accessed
# since (folio_check_references, FOLIOREF_KEEP, young bit cleared), and
# try_to_unmap_one (mm/rmap.c) discards a clean one ("ref_count == 1 +
# map_count && !folio_test_dirty") but gives a redirtied one PG_swapbacked
# back. A discarded page reads as zeros again. `reclaim()` is the model's
# stand-in for memory pressure (one shrink_folio_list pass).
# Expected values: on this machine's Linux 6.18 without memory pressure
# (a C program) the pages stay (mincore 1111, contents kept, Private_Clean
# 12 kB); its LazyFree shows 0 kB because folio_mark_lazyfree only queues
# the folios in a per-CPU batch (mm/swap.c folio_batch_add_and_move, 31
# folios or lru_add_drain), which the model does not have: it shows the
# 12 kB the drained batch gives. The reclaim steps follow the source lines
# above (reclaim drains the batch first).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffc000
p: store(a, "page0") = 0
p: store(a + 4K, "page1") = 0
p: store(a + 8K, "page2") = 0
p: store(a + 12K, "page3") = 0
p: madvise(a, 12K, MADV_FREE) = 0
p: mincore(a, 16K) = x"01010101"
show smaps p
# Page 1 is written again (redirtied), page 2 read (young).
p: store(a + 4K, "again") = 0
p: load(a + 8K, 5) = "page2"
host: reclaim() = 1
p: mincore(a, 16K) = x"00010101"
p: load(a, 5) = x"0000000000"
p: load(a + 4K, 5) = "again"
# Page 2 was kept once with its young bit cleared: the next pass takes it.
host: reclaim() = 1
p: mincore(a, 16K) = x"01010001"
show pagemap p a 16K
check
