//! mmsim: an executable model of Linux memory management running natively or
//! as a Xen PV guest. See ARCHITECTURE.md for the layers.

pub mod arch;
pub mod demo;
pub mod drivers;
pub mod errno;
pub mod explore;
pub mod frame_map;
pub mod host_alloc;
pub mod html;
pub mod hv;
pub mod invariant;
pub mod invariants;
pub mod kernel;
pub mod oracle;
pub mod report;
pub mod run;
pub mod script;
pub mod shrink;
pub mod trace;
pub mod types;
pub mod uapi;
pub mod world;
pub mod xen;
