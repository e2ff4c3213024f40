//! Ground truth that only the hypervisor (as the machine's owner) can see:
//! violations observed as they happen (a DMA into the wrong frame, a freed
//! frame still mapped), kept for the invariant report.

use crate::invariant::Invariant;
use crate::types::DomId;

/// One broken invariant, with the domains and frames involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Short stable name, e.g. `gup-wrong-page`, `dma-misdirected`.
    pub invariant: Invariant,
    pub message: String,
    pub domains: Vec<DomId>,
    pub pfns: Vec<u64>,
    pub mfns: Vec<u64>,
}
