//! The checker's actions: the actor, the call's spec, arity and argument
//! types, the expectation and the binding of the result.

use super::{Checker, Entry, EntryKind};
use crate::script::ast::{ActionStmt, ExpectedKind, Expr, ExprKind, Name, Span};
use crate::script::calls::{self, ArgKind, Call, CallSpec, Param};
use crate::script::checked::{Action, Actor, Binding, ProcessDecl, ProcessId};
use crate::script::diag::ScriptError;
use crate::script::value::Ty;

impl Checker {
    pub(super) fn action(&mut self, a: ActionStmt, line: u32) -> Option<Action> {
        let ActionStmt { actor: actor_name, bind, call, mut args, close_paren, expect } = a;
        let actor = self.actor(&actor_name);
        let spec = actor.and_then(|act| self.call_spec(act, &actor_name.node, &call));
        let Some(spec) = spec else {
            // Still report unknown names in the arguments.
            for arg in &mut args {
                self.resolve(arg);
            }
            if let Some(b) = &bind {
                self.names.entry(b.node.clone()).or_insert(Entry { kind: EntryKind::Poisoned, line });
            }
            return None;
        };
        let actor = actor?;
        let params = self.arity(spec, &call, &mut args, close_paren);
        for (i, arg) in args.iter_mut().enumerate() {
            let param = params.get(i).copied().unwrap_or(Param { name: "argument", kind: ArgKind::Any });
            self.arg(spec, param, arg);
        }
        let mut expect = expect;
        if let Some(exp) = &mut expect {
            self.expectation(spec, args.len(), exp);
        }
        let argc = args.len();
        let bind = bind.and_then(|b| self.binding(spec, argc, actor, b, line));
        if spec.call == Call::Exit
            && let Actor::Process(p) = actor
        {
            self.exited.insert(p, line);
        }
        Some(Action { actor, bind, call: spec, args, expect })
    }

    /// Checks the number of arguments; returns the parameters to check them against.
    pub(super) fn arity(&mut self, spec: &'static CallSpec, call: &Name, args: &mut [Expr], close: Span) -> Vec<Param> {
        let n = args.len();
        let signature = || {
            let names: Vec<&str> = spec.params.iter().map(|p| p.name).collect();
            let dots = if spec.variadic { ", ..." } else { "" };
            format!("{}({}{dots})", spec.name, names.join(", "))
        };
        if n < spec.required {
            self.error(
                ScriptError::new(close, format!("`{}` takes {} arguments, found {n}", call.node, spec.arity_text()))
                    .with_help(signature()),
            );
        } else if n > spec.params.len() && !spec.variadic {
            let extra = args[spec.params.len()].span;
            self.error(
                ScriptError::new(extra, format!("`{}` takes {} arguments, found {n}", call.node, spec.arity_text()))
                    .with_help(signature()),
            );
        }
        let mut params = spec.params.to_vec();
        if spec.call == Call::Ioctl && n >= 2 {
            self.resolve(&mut args[1]);
            let request = match &args[1].kind {
                ExprKind::Int(v) | ExprKind::Const { value: v, .. } => Some(*v),
                _ => None,
            };
            if let Some(extra) = request.and_then(calls::ioctl_params) {
                if n - 2 != extra.len() {
                    let names: Vec<&str> = extra.iter().map(|p| p.name).collect();
                    let req = &args[1];
                    let shown = match &req.kind {
                        ExprKind::Const { name, .. } => (*name).to_owned(),
                        _ => format!("request {:#x}", request.unwrap_or(0)),
                    };
                    self.error(ScriptError::new(
                        req.span,
                        format!(
                            "`{shown}` takes {} argument{} after the request ({}), found {}",
                            extra.len(),
                            if extra.len() == 1 { "" } else { "s" },
                            names.join(", "),
                            n - 2
                        ),
                    ));
                }
                params.extend_from_slice(extra);
            }
        }
        params
    }

    pub(super) fn arg(&mut self, spec: &CallSpec, param: Param, arg: &mut Expr) {
        if let ArgKind::Word(words) = param.kind
            && let ExprKind::Name(n) = &arg.kind
        {
            if let Some(&(w, value)) = words.iter().find(|(w, _)| w == n) {
                arg.kind = ExprKind::Const { name: w, value };
                return;
            }
            if !matches!(self.names.get(n).map(|e| e.kind), Some(EntryKind::Var(_) | EntryKind::Poisoned)) {
                let list: Vec<String> = words.iter().map(|(w, _)| format!("`{w}`")).collect();
                let err = ScriptError::new(
                    arg.span,
                    format!("argument `{}` of `{}` must be {}, found `{n}`", param.name, spec.name, list.join(" or ")),
                );
                self.error(err);
                return;
            }
        }
        let Some(ty) = self.typed(arg) else {
            return;
        };
        let want = param.kind.ty();
        if !ty.fits(want) || (param.kind == ArgKind::Domain && ty != Ty::Domain) {
            let need = if param.kind == ArgKind::Domain { "a domain name" } else { want.describe() };
            self.error(ScriptError::new(
                arg.span,
                format!("argument `{}` of `{}` must be {need}, found {}", param.name, spec.name, ty.describe()),
            ));
        }
    }

    pub(super) fn expectation(&mut self, spec: &CallSpec, argc: usize, exp: &mut crate::script::ast::Expected) {
        let ret = spec.returns(argc);
        match &mut exp.kind {
            ExpectedKind::Ok => {
                if ret == Ty::Bytes {
                    self.error(ScriptError::new(
                        exp.span,
                        format!("`ok` matches a non-negative number, but `{}` returns bytes", spec.name),
                    ));
                }
            }
            ExpectedKind::Signal { signal, addr, .. } => {
                if !spec.may_signal {
                    self.error(
                        ScriptError::new(
                            exp.span,
                            format!("`{}` makes no user access, so it cannot raise {}", spec.name, signal.name()),
                        )
                        .with_help("signals come from store, load and touch; syscalls return -EFAULT"),
                    );
                }
                if let Some(addr) = addr {
                    self.int_expr(addr, "the signal address");
                }
            }
            // Any process call: a hung process's later actions are HUNG too.
            ExpectedKind::Hung => {
                if spec.actor != super::calls::ActorKind::Process {
                    self.error(ScriptError::new(
                        exp.span,
                        format!("`{}` is not a process call, so it cannot hang", spec.name),
                    ));
                }
            }
            // Any process call: the OOM killer may choose its process in
            // the call (a fault allocates) or before it (another's fault).
            ExpectedKind::Killed => {
                if spec.actor != super::calls::ActorKind::Process {
                    self.error(ScriptError::new(
                        exp.span,
                        format!("`{}` is not a process call, so its process cannot be killed", spec.name),
                    ));
                }
            }
            ExpectedKind::Value(e) => {
                if let Some(t) = self.typed(e)
                    && (!t.fits(ret) || t == Ty::Domain || t == Ty::List)
                    && !(ret == Ty::Bytes && t == Ty::Int && crate::script::value::is_errno_constant(e))
                {
                    let err = ScriptError::new(
                        e.span,
                        format!("`{}` returns {}, but the expectation is {}", spec.name, ret.describe(), t.describe()),
                    );
                    self.error(if ret == Ty::Bytes && t == Ty::Int {
                        err.with_help("a call that returns bytes may be expected to fail with a constant `-ERRNO`")
                    } else {
                        err
                    });
                }
            }
        }
    }

    pub(super) fn binding(
        &mut self,
        spec: &CallSpec,
        argc: usize,
        actor: Actor,
        name: Name,
        line: u32,
    ) -> Option<Binding> {
        if spec.call == Call::Fork
            && let Actor::Process(parent) = actor
        {
            let id = ProcessId(self.processes.len());
            let before = self.errors.len();
            self.declare(&name, EntryKind::Process(id), line);
            if self.errors.len() != before {
                return None;
            }
            let p = &self.processes[parent.0];
            let child = ProcessDecl {
                name: name.node,
                domain: p.domain,
                uid: p.uid,
                mmap_base: p.mmap_base,
                brk: p.brk,
                parent: Some(parent),
                line,
                span: name.span,
            };
            if !self.room_to_declare(name.span) {
                return None;
            }
            self.processes.push(child);
            return Some(Binding::Child(id));
        }
        if !self.name_allowed(&name) {
            return None;
        }
        if let Some(prev) = self.names.get(&name.node)
            && !matches!(prev.kind, EntryKind::Var(_) | EntryKind::Poisoned)
        {
            let err = ScriptError::new(
                name.span,
                format!("`{}` is already declared ({}, line {})", name.node, prev.kind.describe(), prev.line),
            );
            self.error(err);
            return None;
        }
        let kind = EntryKind::Var(spec.returns(argc));
        self.names.insert(name.node.clone(), Entry { kind, line });
        Some(Binding::Var(name.node))
    }
}
