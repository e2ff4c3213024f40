//! The allocator the `mmsim` binary and the benches run the model with
//! (host infrastructure, not part of the model): mimalloc, asked through
//! its plain `mi_malloc`/`mi_realloc` when the layout needs no more
//! alignment than every mimalloc block of that size has, through
//! `mi_malloc_aligned` otherwise. The rule is std's `System` allocator's
//! (library/std/src/sys/alloc/unix.rs: malloc when `align <= MIN_ALIGN`
//! and `align <= size`); mimalloc aligns a block of 16 bytes or more to
//! `MI_MAX_ALIGN_SIZE` (16, mimalloc/types.h; asserted in
//! `_mi_page_malloc_zero`, alloc.c) and a smaller one to 8.
//!
//! The `mimalloc` crate's `MiMalloc` always takes the aligned path, about
//! 20 instructions more per allocation: the Xen backend loop went from
//! 52,900 to 52,000 instructions per iteration with this one (callgrind,
//! `benches/xen.rs`, about 45 allocations per iteration).

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc, mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// Blocks of at least this size are aligned to it by `mi_malloc`.
const MI_MAX_ALIGN_SIZE: usize = 16;

/// mimalloc with the plain entry points for ordinary layouts.
pub struct MiMalloc;

/// Whether `mi_malloc(size)` is aligned enough for `l`.
#[inline]
fn plain(l: &Layout) -> bool {
    l.align() <= MI_MAX_ALIGN_SIZE && l.align() <= l.size()
}

// SAFETY: every block comes from mimalloc and goes back to it with
// `mi_free`, which frees blocks from any of its entry points; a block is
// aligned as its layout asks (see `plain`, else the aligned entry point).
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: FFI calls with a size and a power-of-two alignment.
        unsafe { if plain(&l) { mi_malloc(l.size()) } else { mi_malloc_aligned(l.size(), l.align()) }.cast() }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { if plain(&l) { mi_zalloc(l.size()) } else { mi_zalloc_aligned(l.size(), l.align()) }.cast() }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, _l: Layout) {
        // SAFETY: `p` came from this allocator (GlobalAlloc's contract).
        unsafe { mi_free(p.cast::<c_void>()) }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `p` came from this allocator with layout `l`; the new
        // block keeps `l`'s alignment by the same rule as `alloc`.
        unsafe {
            if l.align() <= MI_MAX_ALIGN_SIZE && l.align() <= new_size {
                mi_realloc(p.cast(), new_size)
            } else {
                mi_realloc_aligned(p.cast(), new_size, l.align())
            }
            .cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout gets a block aligned as asked, zeroed when asked, and
    /// keeps its bytes and alignment through a realloc either way.
    #[test]
    fn blocks_are_aligned_and_keep_their_bytes() {
        let a = MiMalloc;
        for size in [1usize, 3, 8, 12, 16, 24, 40, 100, 4096, 70_000] {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
                let l = Layout::from_size_align(size, align).expect("layout");
                // SAFETY: a non-zero-size layout; the block is used within
                // its size and freed once, with its layout.
                unsafe {
                    let z = a.alloc_zeroed(l);
                    assert!(!z.is_null() && (z as usize).is_multiple_of(align), "zeroed {size}/{align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    a.dealloc(z, l);
                    for new in [size / 2 + 1, size * 3] {
                        let p = a.alloc(l);
                        assert!(!p.is_null() && (p as usize).is_multiple_of(align), "{size}/{align}");
                        for i in 0..size {
                            *p.add(i) = i as u8;
                        }
                        let q = a.realloc(p, l, new);
                        assert!((q as usize).is_multiple_of(align), "realloc {size}/{align} -> {new}");
                        assert!((0..size.min(new)).all(|i| *q.add(i) == i as u8), "realloc {size}/{align} -> {new}");
                        a.dealloc(q, Layout::from_size_align(new, align).expect("layout"));
                    }
                }
            }
        }
    }
}
