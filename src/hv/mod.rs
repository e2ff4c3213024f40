//! The Xen hypervisor: machine frames, domains, M2P, grant tables, and the
//! checks it applies to PV guests' page-table updates.

pub mod grant_maps;
pub mod grant_table;
pub mod m2p;
pub mod machine;
pub mod mmu;
pub mod per_domain;
mod trace_hooks;
pub mod truth;

use crate::types::DomId;
use crate::xen::interface::xen::PteMaddr;
use m2p::M2p;
use machine::Machine;
use std::collections::BTreeMap;

/// What Xen knows about a domain.
#[derive(Debug, Clone)]
pub struct HvDomain {
    pub id: DomId,
    pub name: String,
    pub pv: bool,
    pub privileged: bool,
}

#[derive(Debug)]
pub struct Hypervisor {
    pub machine: Machine,
    pub m2p: M2p,
    pub domains: Vec<HvDomain>,
    /// Messages Xen would print (debug build), in order.
    pub log: Vec<String>,
    /// Violations observed as they happened (drivers, DMA, grant code);
    /// `invariants::check_world` adds the state-based ones.
    pub observed: Vec<truth::Violation>,
    /// Grant tables of every domain, and the ground truth of active maps.
    pub grants: grant_table::GrantTables,
    /// Ground truth: PTEs a privileged domain wrote with `mmu_update` naming
    /// a foreign page owner (privcmd), by (domain, PTE) -> the frame's owner.
    pub foreign_ptes: BTreeMap<(DomId, PteMaddr), DomId>,
    /// The causal event trace of the whole world (off by default).
    pub trace: crate::trace::Trace,
}

impl Hypervisor {
    pub fn new(nr_frames: u64) -> Hypervisor {
        Hypervisor {
            machine: Machine::new(nr_frames),
            m2p: M2p::new(nr_frames),
            domains: Vec::new(),
            log: Vec::new(),
            observed: Vec::new(),
            grants: grant_table::GrantTables::default(),
            foreign_ptes: BTreeMap::new(),
            trace: crate::trace::Trace::default(),
        }
    }
    pub fn domain(&self, id: DomId) -> Option<&HvDomain> {
        self.domains.iter().find(|d| d.id == id)
    }
    pub fn is_privileged(&self, id: DomId) -> bool {
        self.domain(id).is_some_and(|d| d.privileged)
    }
    pub fn warn(&mut self, msg: String) {
        self.log.push(format!("(XEN) {msg}"));
    }
    /// Whether the PTE at `at` in `dom` holds an active grant mapping
    /// (written by `GNTTABOP_map_grant_ref` with `GNTMAP_contains_pte` and
    /// not yet unmapped).
    pub fn is_grant_pte(&self, dom: DomId, at: PteMaddr) -> bool {
        self.grants.ptes.contains_key(&(dom, at))
    }
    /// The active grant mapping held in the PTE at `at` of `dom`.
    pub fn grant_pte(&self, dom: DomId, at: PteMaddr) -> Option<grant_table::GrantMapRecord> {
        let h = self.grants.ptes.get(&(dom, at))?;
        self.grants.record((dom, *h))
    }
}

#[cfg(test)]
mod layering {
    /// Dependencies point down only: Xen knows nothing of the guest kernel,
    /// its drivers or the world above. It may use the leaves below it
    /// (`types`, `errno`, `xen::interface`, `arch`) and the trace.
    #[test]
    fn hv_imports_nothing_from_the_layers_above() {
        const ABOVE: &[&str] =
            &["kernel", "drivers", "world", "report", "invariants", "run", "script", "explore", "oracle", "demo"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hv");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).expect("src/hv") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("read");
            for (n, line) in text.lines().enumerate() {
                for m in ABOVE {
                    for root in ["crate::", "mmsim::", "super::super::"] {
                        let needle = format!("{root}{m}");
                        let hit = line.match_indices(&needle).any(|(i, _)| {
                            !line[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        });
                        assert!(!hit, "{}:{}: src/hv imports from {root}{m}: {line}", path.display(), n + 1);
                    }
                }
            }
        }
        assert!(files >= 5, "read the files of src/hv");
    }
}
