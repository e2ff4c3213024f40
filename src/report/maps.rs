//! `/proc/PID/maps`, byte for byte (fs/proc/task_mmu.c `show_map_vma`,
//! `show_vma_header_prefix`; fs/seq_file.c `seq_pad`, `seq_file_path`).
//!
//! A line is `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` then, for a named
//! mapping, spaces up to column 73 (`seq_setwidth(m, 25 + 6 * 8 - 1)` then
//! `seq_pad(m, ' ')`, which always adds one more space) and the name. An
//! anonymous mapping without a name ends with `0 ` (a trailing space).
//! The offset is `vm_pgoff << PAGE_SHIFT` for mappings with a file (tmpfs,
//! memfd, the `/dev/zero (deleted)` object of a shared anonymous mapping,
//! devices) and 0 for anonymous ones. Not modelled: the gate VMA
//! (`[vsyscall]`), `[vdso]`/`[vvar]`, `[anon:NAME]` (PR_SET_VMA).

use crate::kernel::mm::Mm;
use crate::kernel::mm_types::{VmFlags, Vma, VmaFile, VmaTag};
use crate::kernel::shmem::Inode;
use crate::kernel::{Kernel, Pid};
use std::fmt::Write;

/// `25 + sizeof(void *) * 6 - 1`: where the name column starts, minus the
/// one space `seq_pad` adds.
const NAME_COLUMN: usize = 72;

/// `/proc/PID/maps` of `pid`: every VMA, one line each. Empty for a pid
/// that does not exist (as for a zombie whose mm is gone).
pub fn maps(k: &Kernel, pid: Pid) -> String {
    let Ok(mm) = k.mm(pid) else { return String::new() };
    let mut out = String::new();
    for v in mm.vmas.values() {
        out.push_str(&maps_line(k, mm, v));
    }
    out
}

/// What `show_map_vma` prints for one VMA, newline included.
pub fn maps_line(k: &Kernel, mm: &Mm, v: &Vma) -> String {
    let id = identity(k, mm, v);
    let f = v.flags;
    let mut s = String::with_capacity(100);
    // Writing into a String cannot fail.
    let _ = write!(
        s,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        v.start,
        v.end,
        if f.contains(VmFlags::READ) { 'r' } else { '-' },
        if f.contains(VmFlags::WRITE) { 'w' } else { '-' },
        if f.contains(VmFlags::EXEC) { 'x' } else { '-' },
        if f.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
        id.offset,
        id.dev.0,
        id.dev.1,
        id.ino,
    );
    if let Some(name) = id.name {
        // seq_pad(): fill up to the width, then one more pad character.
        while s.len() < NAME_COLUMN {
            s.push(' ');
        }
        s.push(' ');
        s.push_str(&name);
    }
    s.push('\n');
    s
}

/// The file identity of a VMA as maps shows it.
pub(crate) struct Identity {
    pub offset: u64,
    pub dev: (u32, u32),
    pub ino: u64,
    pub name: Option<String>,
}

pub(crate) fn identity(k: &Kernel, mm: &Mm, v: &Vma) -> Identity {
    let offset = v.pgoff.wrapping_shl(12);
    match &v.file {
        Some(VmaFile::Shmem { inode }) => match k.shmem.get(*inode) {
            Some(i) => Identity { offset, dev: i.dev(), ino: i.ino, name: Some(escape_path(&inode_path(i))) },
            // A VMA whose inode is gone is a model bug; show it rather than hide it.
            None => Identity { offset, dev: (0, 0), ino: 0, name: Some(format!("(inode {inode} gone)")) },
        },
        Some(VmaFile::Device { name, dev, ino }) => {
            Identity { offset, dev: *dev, ino: *ino, name: Some(escape_path(name)) }
        }
        None => {
            // The kernel's rule (fs/proc/task_mmu.c get_vma_name ->
            // vma_is_initial_heap), not the VMA's tag.
            let name = if crate::kernel::mm::vma_is_initial_heap(mm, v) {
                Some("[heap]".to_string())
            } else if v.tag == VmaTag::Stack {
                Some("[stack]".to_string())
            } else {
                None
            };
            Identity { offset: 0, dev: (0, 0), ino: 0, name }
        }
    }
}

fn inode_path(i: &Inode) -> String {
    i.path()
}

/// `seq_file_path(m, file, "\n")`: a newline in the path is written as
/// the octal escape `\012` (`mangle_path`).
fn escape_path(p: &str) -> String {
    if !p.contains('\n') {
        return p.to_string();
    }
    p.replace('\n', "\\012")
}
