# A process starts with descriptors 0, 1 and 2 open, so the first open
# returns 3: fs/file.c alloc_fd() takes the lowest free descriptor at or
# above files->next_fd (find_next_fd). The model's stdio is /dev/null
# (drivers/char/mem.c null_fops, which has no .mmap, so mmap of it is
# -ENODEV: mm/mmap.c do_mmap "if (!file->f_op->mmap) return -ENODEV",
# checked on this machine). Closing 0 frees the lowest slot; fork copies the
# table (dup_fd).
# status: 0
domain host native
process p in host

p: fd = open("/dev/shm/f", O_CREAT|O_RDWR) = 3
p: m = memfd_create("m") = 4
p: mmap(NULL, 4K, PROT_READ, MAP_SHARED, 1, 0) = -ENODEV
p: close(0) = 0
p: open("/dev/shm/f", O_RDWR) = 0
p: close(fd) = 0
p: c = fork()
c: memfd_create("n") = 3
c: memfd_create("o") = 5
p: close(7) = -EBADF
