# A read fault on untouched private anonymous memory maps the shared zero
# page (pagemap `z`: present, no struct page counted, not in Rss); a write
# fault allocates a fresh exclusive anonymous page (`X`); writing to a page
# that maps the zero page copies it (do_wp_page) and makes it `X`.
# Expected values: the same calls run on this machine's Linux 6.18 with
# python3 ctypes (/proc/self/pagemap + /proc/kpageflags KPF_ZERO_PAGE,
# /proc/self/smaps, mincore).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 16K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fffc000
p: load(a, 4) = x"00000000"
p: load(a + 4K, 1) = x"00"
p: store(a + 8K, "w") = 0
show pagemap p a 16K
p: mincore(a, 16K) = x"01010100"
show pagetable p a
show smaps p
p: store(a + 4K, "z") = 0
p: load(a + 4K, 1) = "z"
p: load(a, 1) = x"00"
show pagemap p a 16K
show smaps p
check
