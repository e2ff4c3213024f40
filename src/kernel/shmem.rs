//! tmpfs/shmem inodes and their page cache (`mm/shmem.c`).
//!
//! Simplification: no swap, no huge pages; the page cache of an inode is a
//! map from page index to the PFN holding it. A page-cache page holds one
//! reference for the cache and one per mapping PTE.

use crate::kernel::page::Pfn;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InodeKind {
    /// A file in /dev/shm (a scenario's `file` statement).
    Tmpfs,
    /// memfd_create(2): shown as `/memfd:NAME (deleted)`.
    Memfd,
    /// The object behind MAP_SHARED|MAP_ANONYMOUS: `/dev/zero (deleted)`.
    SharedAnon,
}

#[derive(Clone, Debug)]
pub struct Inode {
    pub id: u32,
    pub ino: u64,
    pub name: String,
    pub kind: InodeKind,
    /// `i_size` in bytes.
    pub size: u64,
    pub pages: BTreeMap<u64, Pfn>,
    /// Open files and mappings holding it (it is freed at zero).
    pub refs: u32,
}

impl Inode {
    /// The path /proc/PID/maps shows.
    pub fn path(&self) -> String {
        match self.kind {
            InodeKind::Tmpfs => format!("/dev/shm/{}", self.name),
            InodeKind::Memfd => format!("/memfd:{} (deleted)", self.name),
            InodeKind::SharedAnon => "/dev/zero (deleted)".to_string(),
        }
    }
    /// `(major, minor)` of the filesystem: the internal shm mount is 00:01;
    /// /dev/shm is a separate tmpfs (the model uses 00:1a).
    pub fn dev(&self) -> (u32, u32) {
        match self.kind {
            InodeKind::Tmpfs => (0, 0x1a),
            _ => (0, 1),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Shmem {
    pub inodes: BTreeMap<u32, Inode>,
    next_id: u32,
    next_ino: u64,
}

impl Shmem {
    pub fn create(&mut self, name: &str, kind: InodeKind, size: u64) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.next_ino += 1;
        let ino = match kind {
            InodeKind::Tmpfs => 2 + self.next_ino,
            _ => 1000 + self.next_ino,
        };
        self.inodes.insert(id, Inode { id, ino, name: name.to_string(), kind, size, pages: BTreeMap::new(), refs: 0 });
        id
    }
    pub fn get(&self, id: u32) -> Option<&Inode> {
        self.inodes.get(&id)
    }
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Inode> {
        self.inodes.get_mut(&id)
    }
    pub fn find_tmpfs(&self, name: &str) -> Option<u32> {
        self.inodes.values().find(|i| i.kind == InodeKind::Tmpfs && i.name == name).map(|i| i.id)
    }
}
