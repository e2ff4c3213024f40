//! Ground-truth checks over the whole world (`check` in docs/SCENARIO.md):
//! what the hypervisor and page tables really say, compared with
//! what each kernel's bookkeeping believes.

pub mod mm;
pub mod name;
pub mod xen;

pub use crate::hv::truth::Violation;
use crate::world::World;
pub use name::Invariant;

/// Every invariant, now: the violations observed as they happened since the
/// last call (drained), then the state checks.
pub fn check_world(w: &mut World) -> Vec<Violation> {
    let mut out: Vec<Violation> = std::mem::take(&mut w.hv.observed);
    out.extend(check_state(w));
    out
}

/// The state checks alone (`hv.observed` left alone); kernel log lines
/// not yet reported count once.
pub fn check_state(w: &mut World) -> Vec<Violation> {
    let mut out = mm::check(w);
    out.extend(xen::check(w));
    for d in &mut w.domains {
        d.kernel.dmesg_reported = d.kernel.dmesg.len();
    }
    out
}
