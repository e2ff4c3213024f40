# mprotect with PROT_GROWSUP on x86-64: do_mprotect_pkey() (mm/mprotect.c)
# takes the VMA's end and fails with -EINVAL unless the VMA has VM_GROWSUP,
# which x86-64 defines as VM_NONE, so it is always -EINVAL there (checked
# against this machine's kernel: mprotect(addr, 4096, PROT_READ |
# PROT_GROWSUP) on an anonymous mapping gives EINVAL). Both bits together
# are -EINVAL before any VMA is looked at; PROT_GROWSDOWN needs
# VM_GROWSDOWN.
# status: 0
domain host native
process p in host

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = ok
p: mprotect(a, 4K, PROT_READ|PROT_GROWSUP) = -EINVAL
p: mprotect(a, 4K, PROT_READ|PROT_GROWSDOWN) = -EINVAL
p: mprotect(a, 4K, PROT_READ|PROT_GROWSDOWN|PROT_GROWSUP) = -EINVAL
p: mprotect(a, 4K, PROT_READ) = 0
show maps p
