//! The machine: x86-64 paging format (PTE bits, table indices) and the
//! 4-level page-table structure built from it.

pub mod pagetable;
pub mod x86_64;
