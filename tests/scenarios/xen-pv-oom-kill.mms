# The OOM killer in a PV guest: the same out_of_memory() (mm/oom_kill.c
# 6.12) as natively; the victim's exit clears its PTEs through Xen
# (mmu_update, arch/x86/xen/mmu_pv.c xen_set_pte) and unpins its tables,
# and the faulting task's allocation is retried (mm/page_alloc.c line
# 4548) and succeeds. Xen's view stays consistent: every frame the victim
# had goes back to the guest's allocator, none stays mapped (check).
# status: 0
domain domU pv pages=300
process hog in domU
process late in domU

hog: a = mmap(0, 1M, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
hog: touch(a, 1M, w) = 0
hog: store(a, "hog's") = 0
late: b = mmap(0, 256K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
late: touch(b, 256K, w) = 0
late: store(b + 255K, "late") = 0
late: load(b + 255K, 4) = "late"
hog: load(a, 5) = KILLED
show log domU
check
