//! The context shown with a violation: `struct page`s, the page-table walk
//! of the address it names, and grant mappings of its machine frames.

use crate::hv::truth::Violation;
use crate::world::World;

/// What a reader needs to see of the frames a violation names (when
/// tracing): their `struct page`s, the page-table walk of the address the
/// message names, and the grant mappings of its machine frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ViolationContext {
    /// `show page` of each PFN in each domain involved (at most four).
    pub pages: String,
    /// `show pagetable` of the address the message names, in each process
    /// of the domains involved that has a VMA there.
    pub walks: Vec<String>,
    /// The grant mappings (`show grants` lines) of the MFNs involved.
    pub grants: Vec<String>,
}

impl ViolationContext {
    /// All of it as text, as `--trace` prints it.
    pub fn text(&self) -> String {
        let mut s = self.pages.clone();
        for w in &self.walks {
            s.push_str(w);
        }
        for g in &self.grants {
            s.push_str(g);
            s.push('\n');
        }
        s
    }
}

/// The first `0x…` after ` at ` (or else ` for `) in a violation's
/// message: the user address it is about.
fn address_in(message: &str) -> Option<u64> {
    let rest = message.split(" at 0x").nth(1).or_else(|| message.split(" for 0x").nth(1))?;
    let hex: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    u64::from_str_radix(&hex, 16).ok()
}

pub(super) fn violation_context(w: &World, v: &Violation) -> ViolationContext {
    let mut c = ViolationContext::default();
    for &d in v.domains.iter().take(2) {
        let native = w.kernel(d).is_ok_and(|k| !k.pv);
        for &pfn in v.pfns.iter().take(4) {
            if native || w.kernel(d).is_ok_and(|k| k.memmap().valid(crate::kernel::page::Pfn(pfn))) {
                c.pages.push_str(&crate::report::page(w, d, pfn));
            }
        }
        if let (Some(addr), Ok(k)) = (address_in(&v.message), w.kernel(d)) {
            for (&pid, _) in k.procs.iter().filter(|(pid, _)| k.mm(**pid).is_ok_and(|mm| mm.vma_at(addr).is_some())) {
                c.walks.push(crate::report::pagetable_walk(w, d, pid, addr));
            }
        }
    }
    for r in w.hv.grants.records().filter(|r| v.mfns.contains(&r.mfn.0)) {
        c.grants.push(format!(
            "grant mapping d{} handle {:#x}: d{} ref {:#x} mfn {:#x} {} {}",
            r.grantee,
            r.handle,
            r.granter,
            r.gref,
            r.mfn.0,
            if r.readonly { "ro" } else { "rw" },
            r.host.map_or("device".to_string(), |h| h.to_string())
        ));
    }
    c
}
