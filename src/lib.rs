//! mmsim: an executable model of Linux memory management running natively or
//! as a Xen PV guest. See ARCHITECTURE.md for the layers.

pub mod arch;
pub mod hv;
pub mod kernel;
pub mod drivers;
pub mod oracle;
pub mod world;
pub mod script;
pub mod invariants;
pub mod report;
pub mod run;
pub mod demo;
pub mod explore;
