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
    self, Action, Actor, BinOp, Binding, CheckedScript, Expr, ExprKind, ProcessDecl, ProcessId, Span, Step, StepKind,
};
use std::borrow::Cow;
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
        Self::with_capacity(0)
    }
}

impl Builder {
    /// A builder with room for `actions` actions.
    pub fn with_capacity(actions: usize) -> Builder {
        let mut script = world().cloned();
        let next_line = script.as_ref().map_or(1, |s| s.lines.line_count() as u32);
        if let Some(s) = &mut script {
            // Bounded: a huge `--length` grows as it goes.
            let n = actions.min(4096);
            s.steps.reserve(2 * n);
            s.src.reserve(64 * n);
        }
        Builder { script, next_line }
    }

    /// Append `act` and its `check`; returns the action's line as text.
    pub fn push(&mut self, act: Act) -> String {
        let n = self.next_line;
        self.next_line += 2;
        let mut line = String::with_capacity(64);
        let Some(s) = &mut self.script else {
            emit(act, &mut line, 0, None);
            return line;
        };
        let base = s.src.len();
        match step(s, act, &mut line, base, n) {
            Some(action) if fits(s, &line) => {
                s.steps.push(Step {
                    line: n,
                    span: Span::new(base, base + line.len()),
                    kind: StepKind::Action(action),
                });
                s.src.push_str(&line);
                s.src.push('\n');
                s.lines.push_line(line.len());
                let at = s.src.len();
                s.steps.push(Step { line: n + 1, span: Span::new(at, at + 5), kind: StepKind::Check });
                s.src.push_str("check\n");
                s.lines.push_line(5);
            }
            _ => self.script = None,
        }
        line
    }

    /// The finished script (`None` when the builder gave up: run the text).
    pub fn finish(self) -> Option<CheckedScript> {
        self.script
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

/// Render `act` into `line` (which starts at byte `base` of the script;
/// always the whole line) and build its checked action: `None` when
/// something is not known.
fn step(s: &mut CheckedScript, act: Act, line: &mut String, base: usize, n: u32) -> Option<Action> {
    let actor = if let Some(p) = s.process_by_name(&act.actor) {
        Some(Actor::Process(p))
    } else if let Some(d) = s.domain_by_name(&act.actor) {
        Some(Actor::Domain(d))
    } else {
        s.disks.iter().position(|d| d.name == act.actor).map(|d| Actor::Disk(script::DiskId(d)))
    };
    let spec = actor.and_then(|a| calls::lookup(a.kind(), act.call));
    let (Some(actor), Some(spec)) = (actor, spec) else {
        emit(act, line, base, None);
        return None;
    };
    let (args, bind) = emit(act, line, base, Some((s, spec)));
    let args = args?;
    let bind = match bind {
        None => None,
        Some((name, span)) => Some(
            if spec.call == calls::Call::Fork
                && let Actor::Process(parent) = actor
            {
                // `child = fork()` declares a process (check/action.rs `binding`).
                let p = s.processes.get(parent.0)?;
                let child = ProcessDecl {
                    name,
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
                Binding::Var(name)
            },
        ),
    };
    Some(Action { actor, bind, call: spec, args, expect: None })
}

type Resolve<'a> = Option<(&'a CheckedScript, &'static calls::CallSpec)>;

/// Write all of `act` to `out`; with `resolve`, also its arguments'
/// expressions (spans offset by `base`; `None` when one is not known), and
/// the binding with its span.
fn emit(act: Act, out: &mut String, base: usize, resolve: Resolve<'_>) -> (Option<Vec<Expr>>, Option<(String, Span)>) {
    let Act { actor, bind, call, args } = act;
    out.push_str(&actor);
    out.push_str(": ");
    let bind = bind.map(|b| {
        let at = base + out.len();
        out.push_str(&b);
        out.push_str(" = ");
        let span = Span::new(at, at + b.len());
        (b, span)
    });
    out.push_str(call);
    out.push('(');
    let mut exprs = resolve.map(|_| Vec::with_capacity(args.len()));
    for (i, a) in args.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let words = match resolve.and_then(|(_, spec)| spec.params.get(i)).map(|p| p.kind) {
            Some(ArgKind::Word(w)) => Some(w),
            _ => None,
        };
        let e = arg(a, out, base, resolve.map(|r| r.0), words);
        match (e, &mut exprs) {
            (Some(e), Some(v)) => v.push(e),
            _ => exprs = None,
        }
    }
    out.push(')');
    (exprs, bind)
}

fn int(out: &mut String, base: usize, v: u64) -> Expr {
    let at = base + out.len();
    push_decimal(out, v);
    Expr { span: Span::new(at, base + out.len()), kind: ExprKind::Int(v) }
}

/// `write!(out, "{v}")` without the formatting machinery (this runs for
/// most arguments of every generated action).
pub(super) fn push_decimal(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

fn var(out: &mut String, base: usize, v: String) -> Expr {
    let at = base + out.len();
    out.push_str(&v);
    Expr { span: Span::new(at, base + out.len()), kind: ExprKind::Var(v) }
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr { span: lhs.span.to(rhs.span), kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) } }
}

/// Write all of one argument; its expression as the checker leaves it
/// (names resolved in `s`, bare words in `words` as constants), `None`
/// when something in it is not known (or without `s`).
fn arg(
    a: Arg,
    out: &mut String,
    base: usize,
    s: Option<&CheckedScript>,
    words: Option<&'static [(&'static str, u64)]>,
) -> Option<Expr> {
    let at = base + out.len();
    let span = |out: &String| Span::new(at, base + out.len());
    let e = match a {
        Arg::Var(v) | Arg::Plus(v, 0) => var(out, base, v),
        Arg::Plus(v, off) => {
            let lhs = var(out, base, v);
            out.push_str(" + ");
            binary(BinOp::Add, lhs, int(out, base, off))
        }
        Arg::Int(v) => int(out, base, v),
        Arg::Lit(text, v) => {
            out.push_str(&text);
            Expr { span: span(out), kind: ExprKind::Int(v) }
        }
        Arg::Consts(names) => {
            let mut acc: Option<Option<Expr>> = None;
            for (i, name) in names.split('|').enumerate() {
                if i > 0 {
                    out.push('|');
                }
                let c_at = base + out.len();
                out.push_str(name);
                let c = script::consts::lookup_entry(name).map(|(name, value)| Expr {
                    span: Span::new(c_at, base + out.len()),
                    kind: ExprKind::Const { name, value },
                });
                acc = Some(match acc {
                    None => c,
                    Some(l) => l.zip(c).map(|(l, c)| binary(BinOp::Or, l, c)),
                });
            }
            acc.flatten()?
        }
        Arg::Str(text) => {
            out.push('"');
            out.push_str(text);
            out.push('"');
            if text.contains(['"', '\\', '\n']) {
                return None;
            }
            Expr { span: span(out), kind: ExprKind::Bytes(text.as_bytes().to_vec()) }
        }
        Arg::HexTimes(b, n) => {
            out.push_str("x\"");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
            out.push('"');
            let lhs = Expr { span: span(out), kind: ExprKind::Bytes(vec![b]) };
            out.push_str(" * ");
            binary(BinOp::Mul, lhs, int(out, base, n))
        }
        Arg::Neg(n) => {
            out.push('-');
            let inner = int(out, base, n);
            Expr { span: span(out), kind: ExprKind::Neg(Box::new(inner)) }
        }
        Arg::Dom(name) => {
            out.push_str(name);
            let id = s?.domain_by_name(name)?;
            Expr { span: span(out), kind: ExprKind::Domain { name: name.to_string(), id } }
        }
        Arg::Word(w) => {
            out.push_str(w);
            let &(name, value) = words?.iter().find(|(x, _)| *x == w)?;
            Expr { span: span(out), kind: ExprKind::Const { name, value } }
        }
        Arg::List(vs) => {
            out.push('[');
            let mut items = Vec::with_capacity(vs.len());
            for (i, v) in vs.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                items.push(var(out, base, v));
            }
            out.push(']');
            Expr { span: span(out), kind: ExprKind::List(items) }
        }
    };
    s.map(|_| e)
}

fn hex_digit(d: u8) -> char {
    char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 })
}
