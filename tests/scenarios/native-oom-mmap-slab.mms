# mmap under memory pressure: the new VMA is a vm_area_struct from a slab
# cache whose page is full, and the slab's new page finds no free page.
# __mmap_region() (mm/mmap.c 6.12) calls vm_area_alloc() ->
# kmem_cache_alloc(vm_area_cachep, GFP_KERNEL) (kernel/fork.c line 480);
# SLUB's allocate_slab() (mm/slub.c) first tries with __GFP_NORETRY (no
# OOM killer), then with the caller's flags at the cache's minimum order:
# gfp_mask=0xcc0(GFP_KERNEL), order=0, which does not fail (mm/
# page_alloc.c __alloc_pages_slowpath -> __alloc_pages_may_oom). The OOM
# killer kills hog (oom_badness(), mm/oom_kill.c line 232: 292 pages + 3
# tables; p has no page at all) and the mmap succeeds.
# The cache holds 21 objects a page (vm_area_struct is 192 bytes; this
# host's /proc/slabinfo: 21 objects per 1-page slab; kernel/slab.rs): p's
# 20 VMAs (alternate protections, so none merges) and hog's one fill the
# first slab page; p's next mapping needs a second.
# Pages: 300 - 2 reserved = 298 = 2 PGDs + 1 slab page + hog's 292 pages
# and 3 tables: nothing left.
# status: 0
domain host native pages=300
process hog in host
process p in host

p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mmap(0, 4K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: a = mmap(0, 1200K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1168K, w) = 0
p: n = mmap(0, 4K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: load(a, 1) = KILLED
p: store(n, "x") = SIGSEGV
show log host
check
