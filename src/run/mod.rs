//! Runs a checked scenario against a [`World`]: builds the domains,
//! processes, files and disks it declares, performs each action, checks
//! expectations, runs `show` and `check`, and reports [`Event`]s as it goes.
//! The caller decides how events look (see `output.rs`).

mod checks;
mod context;
pub mod data;
mod hang;
mod killed;
pub mod output;
pub use context::ViolationContext;
mod show;

use crate::arch::x86_64::PAGE_SIZE;
use crate::hv::machine::DomId;
use crate::hv::machine::MAX_STORED_FRAMES;
use crate::hv::truth::Violation;
use crate::invariants;
use crate::kernel::Pid;
use crate::kernel::errno::Errno;
use crate::kernel::file::IoctlArg;
use crate::kernel::gup::{FOLL_PIN, FollFlags, GupPage};
use crate::kernel::memory::VmFault;
use crate::kernel::mmap::DEFAULT_MMAP_BASE;
use crate::kernel::uaccess::Signal as KSignal;
use crate::kernel::variant::Variant;
use crate::script::value::{MAX_BOUND_BYTES, MAX_BYTES};
use crate::script::{
    self, Action, Actor, Binding, Call, CheckedScript, Env, ExpectedKind, KernelConfig, ScriptError, Span, StepKind,
    Value,
};
use crate::world::xen::{DEFAULT_DISK_SECTORS, DiskId, XenResult};
use crate::world::{DEFAULT_DOMAIN_PAGES, World};
use std::collections::BTreeMap;

/// Default `start_brk` of a scenario process: where the heap of a
/// non-randomised PIE would start (0x555555554000 + a few pages).
pub const DEFAULT_START_BRK: u64 = 0x5555_5555_9000;

/// What a call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallResult {
    /// A raw return value (negative errno as two's complement).
    Value(u64),
    Bytes(Vec<u8>),
    Signal {
        sig: &'static str,
        code: &'static str,
        addr: u64,
    },
    /// The call never returns (run/hang.rs): the line where it blocked and
    /// the page whose count holds it.
    Hung {
        line: u32,
        syscall: &'static str,
        pfn: u64,
        page_count: i32,
        pins: u32,
        gets: u32,
    },
    /// The process was killed by the OOM killer (run/killed.rs) at `line`:
    /// the call did not return, and nothing of the process runs again.
    Killed {
        line: u32,
    },
}

impl CallResult {
    fn errno(e: Errno) -> CallResult {
        CallResult::Value(e.as_ret())
    }
    fn from_signal(s: KSignal) -> CallResult {
        let (sig, code) = match s.fault {
            VmFault::MapErr => ("SIGSEGV", "maperr"),
            VmFault::AccErr => ("SIGSEGV", "accerr"),
            VmFault::PkuErr => ("SIGSEGV", "pkuerr"),
            VmFault::SigBus => ("SIGBUS", "adrerr"),
            // VM_FAULT_OOM raises no signal: the task was the OOM killer's
            // victim, and the runner reports the access as KILLED
            // (run/killed.rs). Nothing else returns it to a user access.
            VmFault::Oom => ("SIGKILL", ""),
        };
        CallResult::Signal { sig, code, addr: s.addr }
    }
}

/// The verdict on a `= EXPECTED`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectOutcome {
    pub held: bool,
    /// The expectation as written.
    pub expected: String,
}

#[derive(Clone, Debug)]
pub enum Event {
    /// An action: what it returned, whether its expectation held, and (when
    /// tracing) the events it caused, deferred work after it included.
    Step {
        line: u32,
        actor: String,
        call: String,
        result: CallResult,
        expect: Option<ExpectOutcome>,
        events: Vec<crate::trace::Event>,
    },
    Show {
        line: u32,
        what: &'static str,
        text: String,
    },
    /// A broken invariant, at the line of the step that first broke it.
    /// `context` (when tracing): the struct page of the frames involved.
    /// `expected`: the scenario's `expect violation` line names it.
    Violation {
        line: u32,
        violation: Violation,
        context: Option<ViolationContext>,
        expected: bool,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub expectations_failed: u32,
    /// Every violation reported, expected ones included.
    pub violations: u32,
    /// The scenario states its violations (`expect violation ...`).
    pub stated: bool,
    /// Violations of the invariants the scenario expects.
    pub violations_expected: u32,
    /// Invariants the scenario expects that never broke.
    pub expected_missing: Vec<String>,
}

impl Outcome {
    /// Violations the scenario did not expect.
    pub fn violations_unexpected(&self) -> u32 {
        self.violations - self.violations_expected
    }
    /// 0 when every expectation held, no unexpected invariant broke and
    /// every expected one did, else 1.
    pub fn status(&self) -> i32 {
        let ok = self.expectations_failed == 0 && self.violations_unexpected() == 0 && self.expected_missing.is_empty();
        if ok { 0 } else { 1 }
    }
}

/// The kernel variant a script runs with: `--kernel` beats the file's line.
pub fn effective_variant(script: &CheckedScript, override_: Option<KernelConfig>) -> Variant {
    override_.or(script.kernel).map_or_else(Variant::default, variant_of)
}

/// The words of a `kernel` line (`VARIANT [unmap=...]`) as a variant.
pub fn parse_variant(words: &str) -> Result<Variant, Vec<ScriptError>> {
    script::parse_kernel_override(words).map(variant_of)
}

fn variant_of(cfg: KernelConfig) -> Variant {
    let mut v = Variant::new(cfg.variant);
    if let Some(u) = cfg.unmap {
        v.unmap = u;
    }
    v
}

/// The longest a run may take, in seconds (wall clock): the interpreter's
/// time budget. A run that goes past it ends with a run error (exit status
/// 2) at the first step, of every [`TIME_CHECK_STEPS`], that starts past
/// it, so no script hangs the host.
pub const MAX_RUN_SECS: u64 = 30;

/// How often (in steps) the run reads the clock against its budget.
pub const TIME_CHECK_STEPS: usize = 16;

/// A runtime error that stops the run (exit status 2), positioned in the
/// script (e.g. a variable holding bytes used as an address).
pub type RunError = ScriptError;

/// One process call as `Runner::process_call` sees it: the action, its
/// evaluated arguments and the accessors that read them as the call wants.
struct CallCx<'c> {
    a: &'c Action,
    span: Span,
    args: &'c [Value],
    int: &'c dyn Fn(usize) -> Result<u64, RunError>,
    bytes: &'c dyn Fn(usize) -> Result<Vec<u8>, RunError>,
    res: &'c dyn Fn(Result<u64, Errno>) -> CallResult,
}

pub struct Runner<'s> {
    pub script: &'s CheckedScript,
    pub world: World,
    env: Env,
    doms: Vec<Option<DomId>>,
    procs: Vec<Option<(DomId, Pid)>>,
    disks: Vec<Option<DiskId>>,
    pins: BTreeMap<String, (DomId, Pid, Vec<GupPage>)>,
    /// The disks built so far, for the limit on stored contents.
    disk_refs: Vec<std::rc::Rc<crate::drivers::blkdev::Disk>>,
    pub outcome: Outcome,
    /// Check every invariant after each step (default), reporting each
    /// violation at the step that broke it; off, only `check` does.
    pub check_each_step: bool,
    /// Run the checks incrementally (`invariants::Incremental`, the
    /// default: the same verdicts, a cost that does not grow with memory or
    /// with what is mapped); `None`, the full pass over every page table
    /// and memmap after each step (tests compare the two).
    pub incremental: Option<invariants::Incremental>,
    /// State violations seen at the last check (reported once while they last).
    active: Vec<Violation>,
    /// Log lines already put into the trace: per domain, then Xen's.
    logs_seen: (Vec<usize>, usize),
    /// The time budget of [`Runner::run`] (default [`MAX_RUN_SECS`]).
    pub time_limit: std::time::Duration,
    /// The invariants reported so far.
    fired: std::collections::BTreeSet<&'static str>,
    /// Processes that run nothing more (script index): hung, with the
    /// result of the call each is blocked in, or killed (`KILLED`).
    hung: BTreeMap<usize, CallResult>,
}

fn rt_err(span: Span, msg: impl Into<String>) -> RunError {
    ScriptError::new(span, msg.into())
}

/// A call whose result would be `n` bytes: more than [`MAX_BYTES`] is a
/// run error at argument `arg` naming the limit.
fn value_cap(a: &Action, arg: usize, span: Span, what: &str, n: u64) -> Result<(), RunError> {
    if n > MAX_BYTES as u64 {
        let at = a.args.get(arg).map_or(span, |e| e.span);
        return Err(rt_err(
            at,
            format!(
                "{what} would make {n} bytes, more than a value may hold: {MAX_BYTES} (64 MiB), the limit (MAX_BYTES)"
            ),
        ));
    }
    Ok(())
}

impl<'s> Runner<'s> {
    pub fn new(script: &'s CheckedScript, variant: Variant) -> Runner<'s> {
        Runner {
            script,
            world: World::with_machine(script.machine, variant),
            env: Env::new(),
            doms: vec![None; script.domains.len()],
            procs: vec![None; script.processes.len()],
            disks: vec![None; script.disks.len()],
            pins: BTreeMap::new(),
            hung: BTreeMap::new(),
            disk_refs: Vec::new(),
            outcome: Outcome::default(),
            check_each_step: true,
            incremental: Some(invariants::Incremental::new()),
            active: Vec::new(),
            logs_seen: (Vec::new(), 0),
            time_limit: std::time::Duration::from_secs(MAX_RUN_SECS),
            fired: std::collections::BTreeSet::new(),
        }
    }

    /// Record the causal event trace (`Event::Step::events`).
    pub fn enable_trace(&mut self) {
        self.world.enable_trace();
    }

    /// The value bound to a script variable, if any.
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.env.get(name)
    }

    /// The kernel pid of a script process, if it exists.
    pub fn pid_of(&self, name: &str) -> Option<(DomId, Pid)> {
        self.script.process_by_name(name).and_then(|p| self.procs.get(p.0).copied().flatten())
    }

    /// Run every step, reporting events to `sink`. Stops early only on a
    /// runtime script error.
    pub fn run(&mut self, sink: &mut dyn FnMut(&Event)) -> Result<Outcome, RunError> {
        self.run_observed(sink, &mut |_, _| {})
    }

    /// [`Runner::run`], calling `after(runner, i)` once step `i` and its
    /// checks are done (for `run --html`'s per-step snapshots).
    pub fn run_observed(
        &mut self,
        sink: &mut dyn FnMut(&Event),
        after: &mut dyn FnMut(&Runner<'s>, usize),
    ) -> Result<Outcome, RunError> {
        if self.incremental.is_some() {
            self.world.record_touched = true;
        }
        let start = std::time::Instant::now();
        for (i, step) in self.script.steps.iter().enumerate() {
            // The clock is read every TIME_CHECK_STEPS steps, not after
            // each (a clock read per step was 1.4% of an explore campaign).
            if i % TIME_CHECK_STEPS == 0 && start.elapsed() > self.time_limit {
                return Err(rt_err(
                    step.span,
                    format!(
                        "the run took more than {} s before this step, the limit (MAX_RUN_SECS)",
                        self.time_limit.as_secs_f64()
                    ),
                ));
            }
            let pending = self.step(step.line, step.span, &step.kind, sink)?;
            self.world.run_deferred_work();
            match pending {
                Some(mut e) => {
                    if let Event::Step { events, .. } = &mut e {
                        *events = self.take_trace();
                    }
                    sink(&e);
                }
                // A declaration (domain, process, disk) prints no record:
                // what building it did (the process's PGD allocation) is
                // setup, not the next action's doing.
                None => drop(self.take_trace()),
            }
            if self.check_each_step && !matches!(step.kind, StepKind::Show(_)) {
                self.check_now(step.line, sink);
            }
            self.check_stored(step.span)?;
            after(self, i);
        }
        // Violations observed during the run and never reported by a check.
        let left: Vec<Violation> = std::mem::take(&mut self.world.hv.observed);
        let last = self.script.steps.last().map_or(0, |s| s.line);
        for v in left {
            self.report(last, v, sink);
        }
        if let Some(want) = &self.script.expect_violations {
            self.outcome.stated = true;
            self.outcome.expected_missing = want.iter().filter(|n| !self.fired.contains(n.as_str())).cloned().collect();
        }
        Ok(self.outcome.clone())
    }

    /// The model's own memory limit on stored page contents (machine frames
    /// and disk blocks together, [`MAX_STORED_FRAMES`]): contents are
    /// something neither Linux nor Xen can refuse to hold, so crossing it
    /// ends the run with an error at the step that crossed it.
    fn check_stored(&self, span: Span) -> Result<(), RunError> {
        let stored =
            self.world.hv.machine.stored_frames() + self.disk_refs.iter().map(|d| d.stored_blocks()).sum::<usize>();
        if stored > MAX_STORED_FRAMES {
            return Err(rt_err(
                span,
                format!(
                    "the model stores more than {MAX_STORED_FRAMES} pages of contents (256 MiB), the limit (MAX_STORED_FRAMES)"
                ),
            ));
        }
        Ok(())
    }

    fn step(
        &mut self,
        line: u32,
        span: Span,
        kind: &StepKind,
        sink: &mut dyn FnMut(&Event),
    ) -> Result<Option<Event>, RunError> {
        let script = self.script;
        match kind {
            StepKind::Domain(d) => {
                let decl = &script.domains[d.0];
                let pv = decl.kind == script::ast::DomainKind::Pv;
                let pages = decl.pages.unwrap_or(DEFAULT_DOMAIN_PAGES);
                let id = self.world.add_xen_domain(&decl.name, pv, pages, decl.privileged).map_err(|e| {
                    rt_err(decl.span, format!("cannot build domain `{}` with {pages} pages: {e}", decl.name))
                })?;
                self.doms[d.0] = Some(id);
            }
            StepKind::Process(p) => {
                let decl = &script.processes[p.0];
                let dom = self.dom(decl.domain.0, decl.span)?;
                let (k, _) = self.world.kh(dom).map_err(|e| rt_err(decl.span, e.to_string()))?;
                let pid = k
                    .spawn(decl.uid, decl.mmap_base.unwrap_or(DEFAULT_MMAP_BASE), decl.brk.unwrap_or(DEFAULT_START_BRK))
                    .map_err(|e| rt_err(decl.span, format!("cannot create process `{}`: {e}", decl.name)))?;
                self.procs[p.0] = Some((dom, pid));
                self.set_comm(dom, pid, &decl.name);
            }
            StepKind::File(f) => {
                let decl = &script.files[f.0];
                let dom = self.dom(decl.domain.0, decl.span)?;
                let (k, _) = self.world.kh(dom).map_err(|e| rt_err(decl.span, e.to_string()))?;
                let ino = k.shmem.create(&decl.name, crate::kernel::shmem::InodeKind::Tmpfs, decl.size.unwrap_or(0));
                k.shmem_get(ino); // the directory entry keeps it
            }
            StepKind::Disk(d) => {
                let decl = &script.disks[d.0];
                let dom = self.dom(decl.domain.0, decl.span)?;
                let id = self
                    .world
                    .add_disk(&decl.name, dom, decl.sectors.unwrap_or(DEFAULT_DISK_SECTORS))
                    .map_err(|e| rt_err(decl.span, format!("cannot create disk `{}`: {e}", decl.name)))?;
                self.disks[d.0] = Some(id);
                self.disk_refs.extend(self.world.disk_by_id(id));
            }
            StepKind::Action(a) => {
                let result = self.action(a, span, line)?;
                if let Some(Binding::Var(name)) = &a.bind {
                    let v = match &result {
                        CallResult::Value(v) => Value::Int(*v),
                        CallResult::Bytes(b) => Value::Bytes(b.clone()),
                        CallResult::Signal { .. } | CallResult::Hung { .. } | CallResult::Killed { .. } => {
                            Value::Int(Errno::EFAULT.as_ret())
                        }
                    };
                    if self.env.bound_bytes_after(name, &v) > MAX_BOUND_BYTES {
                        return Err(rt_err(
                            span,
                            format!(
                                "bound variables would hold more than {MAX_BOUND_BYTES} bytes (128 MiB), the limit (MAX_BOUND_BYTES)"
                            ),
                        ));
                    }
                    self.env.bind(name.clone(), v);
                }
                let expect = match &a.expect {
                    None => None,
                    Some(e) => {
                        let held = self.expectation_holds(e, &result)?;
                        if !held {
                            self.outcome.expectations_failed += 1;
                        }
                        Some(ExpectOutcome { held, expected: script.src[e.span.start..e.span.end].to_string() })
                    }
                };
                let call = call_text(script, line, a);
                let actor = script.actor_name(a.actor).to_string();
                return Ok(Some(Event::Step { line, actor, call, result, expect, events: Vec::new() }));
            }
            StepKind::Show(s) => {
                let text = self.show(s, span)?;
                sink(&Event::Show { line, what: s.what(), text });
            }
            StepKind::Check => {
                if !self.check_each_step {
                    let found = match &mut self.incremental {
                        Some(inc) => inc.check_world(&mut self.world),
                        None => invariants::check_world(&mut self.world),
                    };
                    for v in found {
                        self.report(line, v, sink);
                    }
                }
                // Else the check after every step has reported everything.
            }
        }
        Ok(None)
    }

    fn dom(&self, d: usize, span: Span) -> Result<DomId, RunError> {
        self.doms.get(d).copied().flatten().ok_or_else(|| rt_err(span, "domain used before it was built"))
    }

    fn proc(&self, p: usize, span: Span) -> Result<Option<(DomId, Pid)>, RunError> {
        match self.procs.get(p) {
            Some(x) => Ok(*x),
            None => Err(rt_err(span, "unknown process")),
        }
    }

    fn eval_args(&self, a: &Action) -> Result<Vec<Value>, RunError> {
        a.args.iter().map(|e| script::eval(e, &self.env)).collect()
    }

    fn expectation_holds(&self, e: &script::Expected, r: &CallResult) -> Result<bool, RunError> {
        Ok(match (&e.kind, r) {
            (ExpectedKind::Ok, CallResult::Value(v)) => (*v as i64) >= 0,
            (ExpectedKind::Ok, CallResult::Bytes(_)) => true,
            (ExpectedKind::Ok, CallResult::Signal { .. } | CallResult::Hung { .. } | CallResult::Killed { .. }) => {
                false
            }
            (ExpectedKind::Hung, r) => matches!(r, CallResult::Hung { .. }),
            (ExpectedKind::Killed, r) => matches!(r, CallResult::Killed { .. }),
            (ExpectedKind::Signal { signal, code, addr }, CallResult::Signal { sig, code: c, addr: at }) => {
                let sig_ok = signal.name() == *sig;
                let code_ok = code.as_ref().is_none_or(|cd| cd.node.name() == *c);
                let addr_ok = match addr {
                    None => true,
                    Some(x) => match script::eval(x, &self.env)? {
                        Value::Int(v) => v == *at,
                        _ => false,
                    },
                };
                sig_ok && code_ok && addr_ok
            }
            (ExpectedKind::Signal { .. }, _) => false,
            (ExpectedKind::Value(x), r) => match (script::eval(x, &self.env)?, r) {
                (Value::Int(v), CallResult::Value(got)) => v == *got,
                (Value::Bytes(b), CallResult::Bytes(got)) => b == *got,
                _ => false,
            },
        })
    }

    fn action(&mut self, a: &Action, span: Span, line: u32) -> Result<CallResult, RunError> {
        if let Some(r) = self.still_hung(a) {
            return Ok(r);
        }
        let args = self.eval_args(a)?;
        let int = |i: usize| -> Result<u64, RunError> {
            match args.get(i) {
                Some(Value::Int(v)) => Ok(*v),
                Some(Value::Domain(d)) => Ok(d.0 as u64),
                Some(_) => Err(rt_err(a.args.get(i).map_or(span, |e| e.span), "expected a number here")),
                None => Err(rt_err(span, "missing argument")),
            }
        };
        let bytes = |i: usize| -> Result<Vec<u8>, RunError> {
            match args.get(i) {
                Some(Value::Bytes(b)) => Ok(b.clone()),
                _ => Err(rt_err(a.args.get(i).map_or(span, |e| e.span), "expected bytes here")),
            }
        };
        let res = |r: Result<u64, Errno>| match r {
            Ok(v) => CallResult::Value(v),
            Err(e) => CallResult::errno(e),
        };
        match a.actor {
            Actor::Process(p) => {
                let Some((dom, pid)) = self.proc(p.0, span)? else { return Ok(CallResult::errno(Errno::ESRCH)) };
                if let Some(h) = self.hang_before(a, line, dom, pid, &int)? {
                    return Ok(h);
                }
                let r =
                    self.process_call(CallCx { a, span, args: &args, int: &int, bytes: &bytes, res: &res }, dom, pid)?;
                self.after_call(dom, pid, (line, span), r)
            }
            Actor::Domain(d) => {
                let dom = self.dom(d.0, span)?;
                let dom_arg = |i: usize| -> Result<DomId, RunError> {
                    match args.get(i) {
                        Some(Value::Domain(x)) => self.dom(x.0, span),
                        Some(Value::Int(v)) => Ok(*v as DomId),
                        _ => Err(rt_err(span, "expected a domain")),
                    }
                };
                let xen = |r: XenResult<u64>| match r {
                    Ok(v) => CallResult::Value(v),
                    Err(e) => CallResult::Value(e.as_ret()),
                };
                Ok(match a.call.call {
                    Call::AllocPage => xen(self.world.alloc_page(dom)),
                    Call::Reclaim => xen(self.world.reclaim(dom)),
                    Call::FailPageAlloc => xen(self.world.fail_page_alloc(dom, int(0)?, int(1)?)),
                    Call::FreePage => xen(self.world.free_page(dom, int(0)?)),
                    Call::WritePage => xen(self.world.write_page(dom, int(0)?, int(1)?, &bytes(2)?)),
                    Call::ReadPage => match self.world.read_page(dom, int(0)?, int(1)?, int(2)?) {
                        Ok(b) => CallResult::Bytes(b),
                        Err(e) => CallResult::Value(e.as_ret()),
                    },
                    Call::GnttabGrantForeignAccess => {
                        let grantee = dom_arg(1)?;
                        xen(self.world.gnttab_grant_foreign_access(dom, int(0)?, grantee, int(2)? != 0))
                    }
                    Call::GnttabEndForeignAccess => xen(self.world.gnttab_end_foreign_access(dom, int(0)?)),
                    Call::PfnToMfn => xen(self.world.pfn_to_mfn(dom, int(0)?)),
                    _ => CallResult::errno(Errno::ENOSYS),
                })
            }
            Actor::Disk(d) => {
                let Some(disk) = self.disks.get(d.0).copied().flatten() else {
                    return Ok(CallResult::errno(Errno::ENODEV));
                };
                Ok(match a.call.call {
                    Call::DiskWrite => res(self.world.disk_write(disk, int(0)?, &bytes(1)?)),
                    Call::DiskRead => match self.world.disk_read(disk, int(0)?, {
                        let (off, len) = (int(0)?, int(1)?);
                        // What the read would return: short at the end, at
                        // most MAX_RW_COUNT (drivers/blkdev.rs).
                        let size = self.world.disk_by_id(disk).map_or(0, |d| d.size());
                        let n = len.min(crate::drivers::blkdev::MAX_RW_COUNT).min(size.saturating_sub(off));
                        value_cap(a, 1, span, "read", n)?;
                        len
                    }) {
                        Ok(b) => CallResult::Bytes(b),
                        Err(e) => CallResult::errno(e),
                    },
                    _ => CallResult::errno(Errno::ENOSYS),
                })
            }
        }
    }

    fn process_call(&mut self, cx: CallCx<'_>, dom: DomId, pid: Pid) -> Result<CallResult, RunError> {
        let CallCx { a, span, args, int, bytes, res } = cx;
        let sig = |r: Result<(), KSignal>| match r {
            Ok(()) => CallResult::Value(0),
            Err(s) => CallResult::from_signal(s),
        };
        let path = |i: usize| -> Result<String, RunError> { Ok(String::from_utf8_lossy(&bytes(i)?).into_owned()) };
        if self.world.kernel(dom).map_or(true, |k| !k.procs.contains_key(&pid)) {
            return Ok(CallResult::errno(Errno::ESRCH));
        }
        let c = a.call.call;
        // Calls that need the world rather than one kernel.
        match c {
            Call::IoSubmit => {
                return Ok(res(self.world.io_submit(
                    dom,
                    pid,
                    int(0)?,
                    crate::world::xen::Iocb { write: int(1)? != 0, addr: int(2)?, len: int(3)?, off: int(4)? },
                )));
            }
            Call::IoComplete => return Ok(res(self.world.io_complete(dom, pid, int(0)?))),
            _ => {}
        }
        let (k, hv) = self.world.kh(dom).map_err(|e| rt_err(span, e.to_string()))?;
        Ok(match c {
            Call::Mmap => res(k.sys_mmap(hv, pid, int(0)?, int(1)?, int(2)?, int(3)?, int(4)?, int(5)?)),
            Call::Munmap => res(k.do_munmap(hv, pid, int(0)?, int(1)?)),
            Call::Mprotect => res(k.sys_mprotect(hv, pid, int(0)?, int(1)?, int(2)?)),
            Call::Mremap => {
                let new_addr = if args.len() > 4 { int(4)? } else { 0 };
                res(k.sys_mremap(hv, pid, int(0)?, int(1)?, int(2)?, int(3)?, new_addr))
            }
            Call::Madvise => res(k.sys_madvise(hv, pid, int(0)?, int(1)?, int(2)?)),
            Call::Mlock => res(k.sys_mlock(hv, pid, int(0)?, int(1)?)),
            Call::Mlock2 => res(k.sys_mlock2(hv, pid, int(0)?, int(1)?, int(2)?)),
            Call::Munlock => res(k.sys_munlock(hv, pid, int(0)?, int(1)?)),
            Call::Mlockall => res(k.sys_mlockall(hv, pid, int(0)?)),
            Call::Munlockall => res(k.sys_munlockall(hv, pid)),
            Call::Mseal => res(k.sys_mseal(hv, pid, int(0)?, int(1)?, int(2)?)),
            Call::Msync => res(k.sys_msync(hv, pid, int(0)?, int(1)?, int(2)?)),
            Call::Mincore => {
                if args.len() > 2 {
                    res(k.sys_mincore_user(hv, pid, int(0)?, int(1)?, int(2)?))
                } else {
                    let len = int(1)?;
                    match k.sys_mincore_limited(hv, pid, int(0)?, len, MAX_BYTES as u64) {
                        Ok(Some(v)) => CallResult::Bytes(v),
                        Ok(None) => {
                            value_cap(a, 1, span, "mincore without a vector", len.div_ceil(PAGE_SIZE))?;
                            CallResult::Bytes(Vec::new())
                        }
                        Err(e) => CallResult::errno(e),
                    }
                }
            }
            Call::Brk => res(k.sys_brk(hv, pid, int(0)?)),
            Call::Setrlimit => res(k.sys_setrlimit(pid, int(0)?, int(1)?, int(2)?)),
            Call::OomScoreAdj => res(k.oom_score_adj_write(pid, int(0)? as i64)),
            Call::Store => sig(k.user_write(hv, pid, int(0)?, &bytes(1)?)),
            Call::Load => match k.user_read(hv, pid, int(0)?, {
                let len = int(1)?;
                value_cap(a, 1, span, "load", len)?;
                len
            }) {
                Ok(b) => CallResult::Bytes(b),
                Err(s) => CallResult::from_signal(s),
            },
            Call::Touch => sig(k.sys_touch(hv, pid, int(0)?, int(1)?, int(2)? != 0)),
            Call::Open => res(k.sys_open(hv, pid, &path(0)?, int(1)?)),
            Call::MemfdCreate => res(k.sys_memfd_create(pid, &path(0)?)),
            Call::Ftruncate => res(k.sys_ftruncate(hv, pid, int(0)?, int(1)?)),
            Call::Close => res(k.sys_close(hv, pid, int(0)?)),
            Call::Ioctl => {
                let mut iargs = Vec::new();
                for v in args.iter().skip(2) {
                    iargs.push(match v {
                        Value::Int(x) => IoctlArg::Int(*x),
                        Value::Domain(d) => {
                            IoctlArg::Int(self.doms.get(d.0).copied().flatten().unwrap_or(DomId::MAX) as u64)
                        }
                        Value::List(l) => IoctlArg::List(l.iter().filter_map(Value::as_int).collect()),
                        Value::Bytes(_) => return Err(rt_err(span, "ioctl arguments are numbers or lists")),
                    });
                }
                let (k, hv) = self.world.kh(dom).map_err(|e| rt_err(span, e.to_string()))?;
                res(k.sys_ioctl(hv, pid, int(0)?, int(1)?, &iargs))
            }
            Call::Pread => res(k.sys_pread(hv, pid, int(0)?, int(1)?, int(2)?, int(3)?)),
            Call::Pwrite => res(k.sys_pwrite(hv, pid, int(0)?, int(1)?, int(2)?, int(3)?)),
            Call::PinUserPages => {
                let (start, n, flags) = (int(0)?, int(1)?, int(2)?);
                match k.get_user_pages(hv, pid, start, n, FollFlags::from_bits_retain(flags) | FOLL_PIN) {
                    Ok(pages) => {
                        let count = pages.len() as u64;
                        if let Some(Binding::Var(name)) = &a.bind {
                            if let Some((d, p, old)) = self.pins.insert(name.clone(), (dom, pid, pages)) {
                                // Rebinding the variable drops nothing: keep the
                                // old pins reachable under a hidden name.
                                self.pins.insert(format!("{name}#{}", self.pins.len()), (d, p, old));
                            }
                        } else {
                            // Unnamed pins can never be released: that is the scenario's choice.
                            self.pins.insert(format!("#{}", self.pins.len()), (dom, pid, pages));
                        }
                        CallResult::Value(count)
                    }
                    Err(e) => CallResult::errno(e),
                }
            }
            Call::UnpinUserPages => {
                let name = match a.args.first().map(|e| &e.kind) {
                    Some(script::ExprKind::Var(n)) => n.clone(),
                    _ => return Ok(CallResult::errno(Errno::EINVAL)),
                };
                match self.pins.remove(&name) {
                    Some((d, _, pages)) => {
                        let n = pages.len() as u64;
                        let (k, hv) = self.world.kh(d).map_err(|e| rt_err(span, e.to_string()))?;
                        for p in pages {
                            // unpin_user_page() for each page the pin handed out.
                            hv.trace.emit(|| crate::trace::Event::Unpin { dom: d, pfn: p.pfn.0, pin: p.pinned });
                            k.gup_release(p);
                        }
                        CallResult::Value(n)
                    }
                    None => CallResult::errno(Errno::EINVAL),
                }
            }
            Call::Fork => match k.sys_fork(hv, pid) {
                Ok(child) => {
                    if let Some(Binding::Child(cp)) = &a.bind
                        && let Some(slot) = self.procs.get_mut(cp.0)
                    {
                        *slot = Some((dom, child));
                        let name = self.script.processes[cp.0].name.clone();
                        self.set_comm(dom, child, &name);
                    }
                    CallResult::Value(child as u64)
                }
                Err(e) => CallResult::errno(e),
            },
            Call::Exit => res(k.sys_exit(hv, pid).map(|_| 0)),
            _ => CallResult::errno(Errno::ENOSYS),
        })
    }
}

/// The action as written, without its expectation.
fn call_text(script: &CheckedScript, line: u32, a: &Action) -> String {
    let text = script.line_text(line);
    let text = match text.find(':') {
        Some(i) => text[i + 1..].trim_start(),
        None => text,
    };
    let text = match text.find('#') {
        Some(i) if !text[..i].contains('"') => &text[..i],
        _ => text,
    };
    let mut t = text.trim_end().to_string();
    if let Some(e) = &a.expect {
        let full = script.line_text(line);
        let line_start = script.src[..e.span.start].rfind('\n').map_or(0, |i| i + 1);
        let exp_col = e.span.start - line_start;
        let cut = full.get(..exp_col).unwrap_or(full);
        let cut = cut.trim_end().strip_suffix('=').unwrap_or(cut).trim_end();
        let cut = match cut.find(':') {
            Some(i) => cut[i + 1..].trim_start(),
            None => cut,
        };
        t = cut.to_string();
    }
    t
}
