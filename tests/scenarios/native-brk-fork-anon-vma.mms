# brk in a forked child whose heap already has pages: mm/mmap.c
# do_brk_flags() expands the heap VMA only when it can merge
# (vma_merge_new_range / can_vma_merge_after), and mm/vma.c
# is_mergeable_anon_vma() refuses a VMA whose anon_vma chain is not
# singular, which is the child's after fork (anon_vma_fork). So the child's
# brk adds a second VMA, both [heap], while the parent's grows in place.
# Checked on Linux 6.18 by tests/differential.rs issue13_rlimit_brk_cases
# (found by MMSIM_DIFF_SEED=0x13131313).
# status: 0
domain host native
process p in host brk=0x7f0000020000

p: brk(0x7f0000022000) = 0x7f0000022000
p: store(0x7f0000020000, "a")
p: store(0x7f0000021000, "b")
p: c = fork()
c: brk(0x7f0000024000) = 0x7f0000024000
p: brk(0x7f0000024000) = 0x7f0000024000
show maps p
show maps c
