//! Host-kernel memory helpers shared by the benches that time real
//! syscalls (`host.rs`, `side_by_side.rs`).

pub const PAGE: usize = 4096;

/// A fresh anonymous private read-write mapping of `pages` pages.
pub fn map(pages: usize) -> *mut u8 {
    // SAFETY: a fresh anonymous private mapping; checked for MAP_FAILED.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            pages * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

pub fn unmap(p: *mut u8, pages: usize) {
    // SAFETY: p came from map(pages).
    unsafe { libc::munmap(p.cast(), pages * PAGE) };
}

pub fn touch(p: *mut u8, pages: usize) {
    for i in 0..pages {
        // SAFETY: within the mapping made by map(pages).
        unsafe { std::ptr::write_volatile(p.add(i * PAGE), 0) };
    }
}
