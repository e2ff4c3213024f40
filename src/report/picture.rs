//! An ASCII picture of the VMAs in a range, in the spirit of the pictures
//! in Linux `tools/testing/vma` (`AAA BB  CC`), for test-failure messages
//! and the demo.
//!
//! ```text
//! 0x7e0000000000-0x7e000000a000, 1 column = 1 page
//! AAAABB  CC
//! A 7e0000000000-7e0000004000 rw-p
//! B 7e0000004000-7e0000006000 r--s /memfd:x (deleted)
//! C 7e0000008000-7e000000a000 rw-p [heap]
//! ```
//!
//! VMAs are lettered `A`..`Z`, `a`..`z`, then `0`..`9`, then `#` for every
//! further one, in address order. When the range has more pages than
//! `width`, each column stands for `ceil(pages / width)` pages and shows
//! the VMA covering it, `*` when several VMAs share the column, and a
//! space when none does.

use super::maps::identity;
use crate::arch::x86_64::{PAGE_MASK, PAGE_SIZE};
use crate::kernel::mm_types::VmFlags;
use crate::kernel::{Kernel, Pid};
use std::fmt::Write;

const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn letter_of(i: usize) -> char {
    LETTERS.get(i).map_or('#', |&b| b as char)
}

/// The picture of `[start, end)` of `pid`, at most `width` columns wide.
pub fn address_space_picture(k: &Kernel, pid: Pid, start: u64, end: u64, width: usize) -> String {
    let start = start & PAGE_MASK;
    let end = end.saturating_add(PAGE_SIZE - 1) & PAGE_MASK;
    let mut out = String::new();
    if end <= start {
        let _ = writeln!(out, "{start:#x}-{end:#x}: empty range");
        return out;
    }
    let Ok(mm) = k.mm(pid) else {
        let _ = writeln!(out, "pid {pid}: no such process");
        return out;
    };
    let width = width.max(1) as u64;
    let pages = (end - start) / PAGE_SIZE;
    let per_col = pages.div_ceil(width).max(1);
    let cols = pages.div_ceil(per_col);
    let vmas: Vec<_> = mm.vmas_in(start, end).collect();
    if per_col == 1 {
        let _ = writeln!(out, "{start:#x}-{end:#x}, 1 column = 1 page");
    } else {
        let _ = writeln!(out, "{start:#x}-{end:#x}, 1 column = {per_col} pages");
    }
    let mut vi = 0usize;
    for c in 0..cols {
        let cs = start + c * per_col * PAGE_SIZE;
        let ce = (cs + per_col * PAGE_SIZE).min(end);
        while vi < vmas.len() && vmas[vi].end <= cs {
            vi += 1;
        }
        let mut hit = None;
        let mut several = false;
        let mut j = vi;
        while j < vmas.len() && vmas[j].start < ce {
            if vmas[j].end > cs {
                if hit.is_some() {
                    several = true;
                    break;
                }
                hit = Some(j);
            }
            j += 1;
        }
        out.push(match (hit, several) {
            (_, true) => '*',
            (Some(i), false) => letter_of(i),
            (None, _) => ' ',
        });
    }
    out.push('\n');
    for (i, v) in vmas.iter().enumerate() {
        let f = v.flags;
        let perms: String = [
            if f.contains(VmFlags::READ) { 'r' } else { '-' },
            if f.contains(VmFlags::WRITE) { 'w' } else { '-' },
            if f.contains(VmFlags::EXEC) { 'x' } else { '-' },
            if f.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
        ]
        .iter()
        .collect();
        let _ = write!(out, "{} {:08x}-{:08x} {perms}", letter_of(i), v.start, v.end);
        if let Some(name) = identity(k, mm, v).name {
            let _ = write!(out, " {name}");
        }
        out.push('\n');
    }
    out
}
