# A call that returns bytes returns a number when it fails, and a scenario
# may expect that -ERRNO (issue 13). mincore(2) on a range with an unmapped
# page is -ENOMEM (mm/mincore.c do_mincore: "vma = vma_lookup(...); if
# (!vma) return -ENOMEM;"), as this machine's kernel answers; an unaligned
# start is -EINVAL ("if (unlikely(start & ~PAGE_MASK)) return -EINVAL;").
# status: 0
domain host native
process p in host

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: munmap(a + 4K, 4K) = 0
p: mincore(a, 4K) = x"00"
p: mincore(a, 8K) = -ENOMEM
p: mincore(a + 1, 4K) = -EINVAL
p: mincore(0x1000, 4K) = -ENOMEM
