//! The trace events of Xen's hypercalls: each grant map/unmap op with its
//! arguments and `GNTST_*` status, and the grant entry flags it changed.
//! Only built when the trace is on (`Hypervisor::trace`).

use super::Hypervisor;
use super::grant_table::GuestMem;
use crate::trace::Event;
use crate::types::DomId;
use crate::xen::interface::grant_table::{GnttabMapGrantRef, GnttabUnmapGrantRef, gtf_names};

impl Hypervisor {
    fn grant_flags(&self, granter: DomId, gref: u32) -> Option<u16> {
        self.grant_table(granter)?.shared.get(gref as usize).map(|e| e.flags)
    }

    fn flags_event(&mut self, granter: DomId, gref: u32, before: Option<u16>) {
        let after = self.grant_flags(granter, gref);
        if let (Some(b), Some(a)) = (before, after)
            && a != b
        {
            self.trace.emit(|| Event::GrantFlags {
                granter,
                gref,
                from: gtf_names(b).trim().to_string(),
                to: gtf_names(a).trim().to_string(),
            });
        }
    }

    /// `map_grant_ref()` for one op, traced.
    pub(super) fn map_grant_ref_traced(&mut self, ld: DomId, op: &mut GnttabMapGrantRef, mem: &mut GuestMem<'_>) {
        if !self.trace.on() {
            return self.map_grant_ref(ld, op, mem);
        }
        let before = self.grant_flags(op.dom, op.gref);
        self.map_grant_ref(ld, op, mem);
        let ok = op.status.is_ok();
        let mfn = if ok { self.grants.record((ld, op.handle)).map(|r| r.mfn.0) } else { None };
        let (granter, gref, host_addr, flags, status, handle) =
            (op.dom, op.gref, op.host_addr, op.flags, op.status.name(), ok.then_some(op.handle));
        self.trace.emit(|| Event::GrantMap { dom: ld, granter, gref, host_addr, flags, status, mfn, handle });
        self.flags_event(granter, gref, before);
    }

    /// `unmap_grant_ref()` for one op, traced.
    pub(super) fn unmap_grant_ref_traced(&mut self, ld: DomId, op: &mut GnttabUnmapGrantRef, mem: &mut GuestMem<'_>) {
        if !self.trace.on() {
            return self.unmap_grant_ref(ld, op, mem);
        }
        let entry = self.grants.record((ld, op.handle)).map(|r| (r.granter, r.gref));
        let before = entry.and_then(|(g, r)| self.grant_flags(g, r));
        self.unmap_grant_ref(ld, op, mem);
        let (handle, host_addr, status) = (op.handle, op.host_addr, op.status.name());
        self.trace.emit(|| Event::GrantUnmap { dom: ld, handle, host_addr, status });
        if let Some((g, r)) = entry {
            self.flags_event(g, r, before);
        }
    }
}
