//! Calls that never return: a task the kernel would leave sleeping for ever
//! (kernel/hung_task.rs) ends its step with the result `HUNG`, and the
//! process runs nothing more: each later action of it gets the same result
//! without running (docs/SCENARIO.md "Hung tasks").

use super::{CallResult, RunError, Runner};
use crate::hv::machine::DomId;
use crate::kernel::Pid;
use crate::kernel::hung_task::InvalidatingCall;
use crate::kernel::mmap::MAP_FIXED;
use crate::script::{Action, Call};

impl Runner<'_> {
    /// A hung process's later action does not run: it is still blocked in
    /// the call that hung, whose result it gets again.
    pub(super) fn still_hung(&self, a: &Action) -> Option<CallResult> {
        let crate::script::Actor::Process(p) = a.actor else { return None };
        self.hung.get(&p.0).cloned()
    }

    /// Before `a` runs: would it sleep for ever? Then nothing changes, the
    /// kernel log gets the hung-task detector's line, and the result is
    /// `HUNG`.
    pub(super) fn hang_before(
        &mut self,
        a: &Action,
        line: u32,
        dom: DomId,
        pid: Pid,
        int: &dyn Fn(usize) -> Result<u64, RunError>,
    ) -> Result<Option<CallResult>, RunError> {
        let call = match a.call.call {
            Call::Munmap => InvalidatingCall::Munmap { addr: int(0)?, len: int(1)? },
            Call::Madvise => InvalidatingCall::Madvise { addr: int(0)?, len: int(1)?, behavior: int(2)? as i32 },
            Call::Mprotect => InvalidatingCall::Mprotect { addr: int(0)?, len: int(1)? },
            Call::Mremap => InvalidatingCall::Mremap { addr: int(0)?, old_len: int(1)? },
            Call::Mmap if int(3)? & MAP_FIXED != 0 => InvalidatingCall::MmapFixed { addr: int(0)?, len: int(1)? },
            Call::Exit => InvalidatingCall::Exit,
            _ => return Ok(None),
        };
        let comm = self.script.actor_name(a.actor).to_string();
        let Ok((k, _)) = self.world.kh(dom) else { return Ok(None) };
        let Some(t) = k.check_hung_task(pid, call) else { return Ok(None) };
        k.log(Some(pid), t.message(&comm));
        let r = CallResult::Hung {
            line,
            syscall: t.syscall,
            pfn: t.pfn.0,
            page_count: t.refcount,
            pins: t.pins,
            gets: t.gets,
        };
        if let crate::script::Actor::Process(p) = a.actor {
            self.hung.insert(p.0, r.clone());
        }
        Ok(Some(r))
    }
}
