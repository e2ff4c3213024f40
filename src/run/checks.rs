//! What a step reports besides its result: the invariants checked after
//! it (each violation once, at the step that first broke it, with its
//! context when tracing) and the trace events it caused, with the kernels'
//! and Xen's new log lines.

use super::context::violation_context;
use super::{Event, Runner};
use crate::hv::truth::Violation;
use crate::invariants;

impl Runner<'_> {
    /// Every invariant now: violations observed since the last check are
    /// reported; state violations only when they were not broken before.
    pub(super) fn check_now(&mut self, line: u32, sink: &mut dyn FnMut(&Event)) {
        let observed = std::mem::take(&mut self.world.hv.observed);
        let state = match &mut self.incremental {
            Some(inc) => inc.check_state(&mut self.world),
            None => invariants::check_state(&mut self.world),
        };
        for v in observed {
            self.report(line, v, sink);
        }
        let same = |a: &Violation, b: &Violation| {
            a.invariant == b.invariant && a.domains == b.domains && a.pfns == b.pfns && a.mfns == b.mfns
        };
        for v in &state {
            if !self.active.iter().any(|a| same(a, v)) {
                self.report(line, v.clone(), sink);
            }
        }
        self.active = state;
    }

    pub(super) fn report(&mut self, line: u32, v: Violation, sink: &mut dyn FnMut(&Event)) {
        self.outcome.violations += 1;
        let expected =
            self.script.expect_violations.as_ref().is_some_and(|w| w.iter().any(|n| v.invariant == n.as_str()));
        if expected {
            self.outcome.violations_expected += 1;
        }
        self.fired.insert(v.invariant.as_str());
        let context = self.world.hv.trace.on().then(|| violation_context(&self.world, &v));
        sink(&Event::Violation { line, violation: v, context, expected });
    }

    /// The events recorded since the last call, with the kernels' and
    /// Xen's new log lines after them.
    pub(super) fn take_trace(&mut self) -> Vec<crate::trace::Event> {
        use crate::trace::Event as T;
        if !self.world.hv.trace.on() {
            return Vec::new();
        }
        let mut ev = self.world.hv.trace.take();
        let (seen, xen_seen) = &mut self.logs_seen;
        seen.resize(self.world.domains.len(), 0);
        for (d, n) in self.world.domains.iter().zip(seen.iter_mut()) {
            for l in d.kernel.dmesg.get(*n..).unwrap_or_default() {
                let line = match l.pid {
                    Some(p) => format!("[pid {p}] {}", l.message),
                    None => l.message.clone(),
                };
                ev.push(T::KernelLog { dom: d.id, line });
            }
            *n = d.kernel.dmesg.len();
        }
        for l in self.world.hv.log.get(*xen_seen..).unwrap_or_default() {
            ev.push(T::XenLog { line: l.clone() });
        }
        *xen_seen = self.world.hv.log.len();
        ev
    }
}
