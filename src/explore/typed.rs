//! Typed actions: the generator's actions as values ([`Act`]) that become
//! checked script steps directly, with no lexer, parser or checker in the
//! loop, and are rendered to `.mms` text (the [`super::generate::Op`]
//! lines) in the same pass.
//!
//! [`Builder`] appends each action to a [`CheckedScript`] laid out exactly
//! as [`super::generate::script_in`]`(WORLD, ops, true)` would be: the
//! world's declarations (parsed and checked once per process), a blank
//! line, then each action followed by a `check` line. Every field is what
//! `script::parse_and_check` makes of that text, spans and line numbers
//! included, so the interpreter (`crate::run::Runner`) runs the same steps
//! with the same results, events and errors; tests/cli/explore.rs compares
//! the two for whole campaigns' worth of sequences.
//!
//! Simplification: the builder knows only what the generator writes (the
//! [`Arg`] forms below, names it declared itself). Whatever it cannot
//! vouch for (a name it does not know, a constant not in the table, a
//! script near the language's size limits) makes it give up, and the
//! caller runs the rendered text through the parser and checker instead,
//! which decide as they always do.

use super::generate::WORLD;
use crate::script::calls::{self, ArgKind};
use crate::script::{
    self, Action, Actor, BinOp, Binding, CheckedScript, DomainId, Expr, ExprKind, LineIndex, ProcessDecl, ProcessId,
    Span, Step, StepKind,
};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;

/// One argument of a generated action: how it is written, and so what the
/// parser and checker would make of it.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A variable bound earlier: `a1`.
    Var(String),
    /// `VAR + OFF` with OFF in decimal, or just `VAR` when OFF is 0.
    Plus(String, u64),
    /// A decimal integer.
    Int(u64),
    /// An integer as written (`4K`, `15M`, `4097`) and its value.
    Lit(Cow<'static, str>, u64),
    /// Constants joined by `|` (`PROT_READ|PROT_WRITE`, `NULL`, `READ`).
    Consts(&'static str),
    /// A string literal without escapes: `"/dev/xvda"`.
    Str(&'static str),
    /// `x"BB" * N`: one byte repeated.
    HexTimes(u8, u64),
    /// `-N`.
    Neg(u64),
    /// A declared domain as a value: `dom0`.
    Dom(&'static str),
    /// A bare word the call takes in this position (`rw`, `ro`, `w`).
    Word(&'static str),
    /// `[v1, v2]`: variables.
    List(Vec<String>),
}

/// One generated action: `ACTOR: [BIND =] CALL(ARGS)`.
#[derive(Clone, Debug)]
pub struct Act {
    pub actor: Cow<'static, str>,
    pub bind: Option<String>,
    pub call: &'static str,
    pub args: Vec<Arg>,
}

impl Act {
    pub fn new(actor: impl Into<Cow<'static, str>>, call: &'static str, args: Vec<Arg>) -> Act {
        Act { actor: actor.into(), bind: None, call, args }
    }

    /// The same action binding its result to `var`.
    pub fn bind(mut self, var: impl Into<String>) -> Act {
        self.bind = Some(var.into());
        self
    }
}

/// The world's declarations, checked once: `WORLD` and a blank line.
fn world() -> Option<&'static CheckedScript> {
    static W: OnceLock<Option<CheckedScript>> = OnceLock::new();
    W.get_or_init(|| script::parse_and_check("explore", &format!("{WORLD}\n")).ok()).as_ref()
}

/// Builds the checked script of a generated sequence as its actions come.
pub struct Builder {
    /// `None` once the builder gave up (see the module's doc).
    script: Option<CheckedScript>,
    /// The 1-based line the next action goes on.
    next_line: u32,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let script = world().cloned();
        let next_line = script.as_ref().map_or(1, |s| s.lines.line_count() as u32);
        Builder { script, next_line }
    }

    /// Append `act` and its `check`; returns the action's line as text.
    pub fn push(&mut self, act: &Act) -> String {
        let base = self.script.as_ref().map_or(0, |s| s.src.len());
        let n = self.next_line;
        let mut line = String::with_capacity(64);
        let kept = self.script.as_mut().and_then(|s| step(s, act, &mut line, base, n));
        match (kept, &mut self.script) {
            (Some((action, step_span)), Some(s)) if fits(s, &line) => {
                s.steps.push(Step { line: n, span: step_span, kind: StepKind::Action(action) });
                s.src.push_str(&line);
                s.src.push('\n');
                let at = s.src.len();
                s.steps.push(Step { line: n + 1, span: Span::new(at, at + 5), kind: StepKind::Check });
                s.src.push_str("check\n");
            }
            _ => {
                self.script = None;
                line.clear();
                render(act, &mut line);
            }
        }
        self.next_line += 2;
        line
    }

    /// The finished script (`None` when the builder gave up: run the text).
    pub fn finish(self) -> Option<CheckedScript> {
        let mut s = self.script?;
        s.lines = LineIndex::new(&s.src);
        Some(s)
    }
}

/// Room for one more action line and its `check` within the language's
/// limits (with a margin: near them, the parser and checker decide).
fn fits(s: &CheckedScript, line: &str) -> bool {
    let decls = s.domains.len() + s.processes.len() + s.files.len() + s.disks.len();
    s.steps.len() + 8 < script::MAX_STATEMENTS
        && decls + 2 < script::MAX_DECLARATIONS
        && s.src.len() + line.len() + 64 < script::MAX_SOURCE_BYTES
}

/// The text of `act` alone.
pub fn render(act: &Act, out: &mut String) {
    let mut scratch = Vec::new();
    emit(act, out, 0, None, &mut scratch);
}

/// Render `act` into `line` (which starts at byte `base` of the script)
/// and build its checked action: `None` when something is not known.
fn step(s: &mut CheckedScript, act: &Act, line: &mut String, base: usize, n: u32) -> Option<(Action, Span)> {
    let actor = if let Some(p) = s.process_by_name(&act.actor) {
        Actor::Process(p)
    } else if let Some(d) = s.domain_by_name(&act.actor) {
        Actor::Domain(d)
    } else {
        Actor::Disk(script::DiskId(s.disks.iter().position(|d| d.name == act.actor)?))
    };
    let spec = calls::lookup(actor.kind(), act.call)?;
    let mut args = Vec::with_capacity(act.args.len());
    let bind_span = emit(act, line, base, Some((s, spec)), &mut args)?;
    if args.len() != act.args.len() {
        return None;
    }
    let bind = match (&act.bind, bind_span) {
        (None, _) => None,
        (Some(name), Some(span)) => Some(
            if spec.call == calls::Call::Fork
                && let Actor::Process(parent) = actor
            {
                // `child = fork()` declares a process (check/action.rs `binding`).
                let p = s.processes.get(parent.0)?;
                let child = ProcessDecl {
                    name: name.clone(),
                    domain: p.domain,
                    uid: p.uid,
                    mmap_base: p.mmap_base,
                    brk: p.brk,
                    parent: Some(parent),
                    line: n,
                    span,
                };
                s.processes.push(child);
                Binding::Child(ProcessId(s.processes.len() - 1))
            } else {
                Binding::Var(name.clone())
            },
        ),
        (Some(_), None) => return None,
    };
    Some((Action { actor, bind, call: spec, args, expect: None }, Span::new(base, base + line.len())))
}

type Resolve<'a> = Option<(&'a CheckedScript, &'static calls::CallSpec)>;

/// Write `act` to `out`; with `resolve`, push each argument's expression
/// (spans offset by `base`) to `args` and return the binding's span
/// (`Some(None)` without one); `None` when an argument is not known.
fn emit(act: &Act, out: &mut String, base: usize, resolve: Resolve<'_>, args: &mut Vec<Expr>) -> Option<Option<Span>> {
    out.push_str(&act.actor);
    out.push_str(": ");
    let mut bind_span = None;
    if let Some(b) = &act.bind {
        let at = base + out.len();
        out.push_str(b);
        bind_span = Some(Span::new(at, at + b.len()));
        out.push_str(" = ");
    }
    out.push_str(act.call);
    out.push('(');
    for (i, a) in act.args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match resolve {
            None => {
                arg(a, out, base, None, None);
            }
            Some((s, spec)) => {
                let words = match spec.params.get(i).map(|p| p.kind) {
                    Some(ArgKind::Word(w)) => Some(w),
                    _ => None,
                };
                args.push(arg(a, out, base, Some(s), words)?);
            }
        }
    }
    out.push(')');
    Some(bind_span)
}

fn int(out: &mut String, base: usize, v: u64) -> Expr {
    let at = base + out.len();
    let _ = write!(out, "{v}");
    Expr { span: Span::new(at, base + out.len()), kind: ExprKind::Int(v) }
}

fn var(out: &mut String, base: usize, v: &str) -> Expr {
    let at = base + out.len();
    out.push_str(v);
    Expr { span: Span::new(at, base + out.len()), kind: ExprKind::Var(v.to_string()) }
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr { span: lhs.span.to(rhs.span), kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) } }
}

/// Write one argument; with `s`, its expression as the checker leaves it
/// (names resolved, bare words in `words` as constants).
fn arg(
    a: &Arg,
    out: &mut String,
    base: usize,
    s: Option<&CheckedScript>,
    words: Option<&'static [(&'static str, u64)]>,
) -> Option<Expr> {
    let at = base + out.len();
    let span = |out: &String| Span::new(at, base + out.len());
    Some(match a {
        Arg::Var(v) | Arg::Plus(v, 0) => var(out, base, v),
        Arg::Plus(v, off) => {
            let lhs = var(out, base, v);
            out.push_str(" + ");
            binary(BinOp::Add, lhs, int(out, base, *off))
        }
        Arg::Int(v) => int(out, base, *v),
        Arg::Lit(text, v) => {
            out.push_str(text);
            Expr { span: span(out), kind: ExprKind::Int(*v) }
        }
        Arg::Consts(names) => {
            let mut acc: Option<Expr> = None;
            for (i, name) in names.split('|').enumerate() {
                if i > 0 {
                    out.push('|');
                }
                let c_at = base + out.len();
                out.push_str(name);
                let c_span = Span::new(c_at, base + out.len());
                let kind = match script::consts::lookup_entry(name) {
                    Some((name, value)) => ExprKind::Const { name, value },
                    None if s.is_some() => return None,
                    None => ExprKind::Name(name.to_string()),
                };
                let c = Expr { span: c_span, kind };
                acc = Some(match acc {
                    None => c,
                    Some(l) => binary(BinOp::Or, l, c),
                });
            }
            acc?
        }
        Arg::Str(text) => {
            if s.is_some() && text.contains(['"', '\\', '\n']) {
                return None;
            }
            out.push('"');
            out.push_str(text);
            out.push('"');
            Expr { span: span(out), kind: ExprKind::Bytes(text.as_bytes().to_vec()) }
        }
        Arg::HexTimes(b, n) => {
            let _ = write!(out, "x\"{b:02x}\"");
            let lhs = Expr { span: span(out), kind: ExprKind::Bytes(vec![*b]) };
            out.push_str(" * ");
            binary(BinOp::Mul, lhs, int(out, base, *n))
        }
        Arg::Neg(n) => {
            out.push('-');
            let inner = int(out, base, *n);
            Expr { span: span(out), kind: ExprKind::Neg(Box::new(inner)) }
        }
        Arg::Dom(name) => {
            out.push_str(name);
            let id = match s {
                Some(s) => s.domain_by_name(name)?,
                None => DomainId(0),
            };
            Expr { span: span(out), kind: ExprKind::Domain { name: name.to_string(), id } }
        }
        Arg::Word(w) => {
            out.push_str(w);
            let kind = match words.and_then(|ws| ws.iter().find(|(x, _)| x == w)) {
                Some(&(name, value)) => ExprKind::Const { name, value },
                None if s.is_some() => return None,
                None => ExprKind::Name(w.to_string()),
            };
            Expr { span: span(out), kind }
        }
        Arg::List(vs) => {
            out.push('[');
            let items: Vec<Expr> = vs
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    var(out, base, v)
                })
                .collect();
            out.push(']');
            Expr { span: span(out), kind: ExprKind::List(items) }
        }
    })
}
