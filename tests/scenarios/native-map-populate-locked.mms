# MAP_POPULATE prefaults the whole range at mmap time: a writable private
# mapping gets exclusive anonymous pages (`X`, write faults), a read-only
# private mapping gets the zero page (`z`), a shared anonymous mapping gets
# shmem pages (`F`: not PageAnon). MAP_LOCKED populates too and sets
# VM_LOCKED (VmFlags `lo`, Locked: in smaps). mlock2(MLOCK_ONFAULT) sets
# VM_LOCKONFAULT (`lf`) without populating anything.
# Expected values: the same mmaps at the same fixed addresses on this
# machine's Linux 6.18 (python3 ctypes, pagemap + kpageflags, smaps).
# status: 0
domain host native
process p in host mmap_base=0x7e0040000000

p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = 0x7e003fffe000
p: b = mmap(NULL, 8K, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = 0x7e003fffc000
p: c = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE, -1, 0) = 0x7e003fffa000
p: d = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_LOCKED, -1, 0) = 0x7e003fff8000
p: e = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7e003fff6000
p: mlock2(e, 8K, MLOCK_ONFAULT) = 0
show pagemap p e 40K
p: mincore(e, 40K) = x"00000101010101010101"
show smaps p
p: store(e, "f") = 0
show pagemap p e 8K
check
