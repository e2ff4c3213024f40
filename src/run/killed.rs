//! Processes the OOM killer kills (kernel/oom_kill.rs): a call during which
//! its own process was chosen ends with the result `KILLED` (whatever the
//! kernel function returned never reaches user space: the task dies of
//! SIGKILL on its way back), and every later action of a killed process
//! gets the same result without running (docs/SCENARIO.md "Out of memory").

use super::{CallResult, RunError, Runner, rt_err};
use crate::hv::machine::DomId;
use crate::kernel::Pid;
use crate::script::Span;

impl Runner<'_> {
    /// After a call by `pid` of domain `dom` at `line`: deliver a pending
    /// SIGKILL (`exit_to_user_mode`), and remember every process the OOM
    /// killer killed during the call. The call's result, or `KILLED`; a
    /// run error if the kernel panicked (no task left to kill: Linux's
    /// `panic("System is deadlocked on memory")` ends the machine).
    pub(super) fn after_call(
        &mut self,
        dom: DomId,
        pid: Pid,
        (line, span): (u32, Span),
        r: CallResult,
    ) -> Result<CallResult, RunError> {
        let Ok((k, hv)) = self.world.kh(dom) else { return Ok(r) };
        if k.oom.panicked {
            return Err(rt_err(
                span,
                "the domain's kernel panicked: out of memory with no killable task, \"System is deadlocked on memory\" (mm/oom_kill.c out_of_memory)",
            ));
        }
        let died = k.exit_to_user_mode(hv, pid);
        let kills = k.take_oom_kills();
        for victim in kills {
            if let Some(i) = self.procs.iter().position(|p| *p == Some((dom, victim))) {
                self.hung.insert(i, CallResult::Killed { line });
            }
        }
        Ok(if died { CallResult::Killed { line } } else { r })
    }

    /// `task_struct::comm` of a scenario process: its name in the script,
    /// cut to 15 bytes as `TASK_COMM_LEN` (16) cuts it.
    pub(super) fn set_comm(&mut self, dom: DomId, pid: Pid, name: &str) {
        if let Ok((k, _)) = self.world.kh(dom)
            && let Ok(p) = k.proc_mut(pid)
        {
            p.comm = name.chars().take(15).collect();
        }
    }
}
