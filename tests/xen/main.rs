//! Xen PV tests: grant tables, gntdev, privcmd, the block device and the
//! seed's story, on the model (`common` builds the worlds). One test
//! binary; each file is a module.

mod common;

mod blkdev;
mod gntdev;
mod grant_table;
mod inflight;
mod privcmd;
mod robustness;
mod seed;
