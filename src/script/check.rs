//! Static checks: names, declarations, calls, arities and argument types.
//!
//! One namespace holds domains, processes, files, disks and variables. A
//! name must be declared (or bound by `VAR = CALL(...)`) on an earlier line
//! than its use. Variables may be rebound; entities may not be redeclared,
//! and a variable may not take an entity's name or the reverse. Keywords,
//! `NULL`, `ok`, signal names and constant names are reserved.
//! `child = fork()` declares `child` as a process in the parent's domain,
//! with the parent's uid; after `p: exit()`, `p` can make no more calls.
//! `kernel` and `machine` lines come before everything else, once each.

use crate::kernel::config::MachineConfig;
use rustc_hash::FxHashMap;

use super::ast::{ActionStmt, DomainKind, Expr, ExprKind, Name, Script, Span, Stmt, StmtKind};
use super::calls::{self, CallSpec};
use super::checked::{
    Actor, CheckedScript, DiskDecl, DiskId, DomainDecl, DomainId, FileDecl, FileId, KernelConfig, KernelVariant,
    ProcessDecl, ProcessId, Step, StepKind, UnmapPolicy,
};
use super::consts;
use super::diag::{LineIndex, ScriptError, did_you_mean};
use super::parser::{KEYWORDS, RESERVED, variant_help};
use super::value::{Ty, infer};

mod action;
mod setup;
mod shows;

/// Checks a parsed script; all errors found, in source order, on failure.
pub fn check(script: Script) -> Result<CheckedScript, Vec<ScriptError>> {
    let mut errors = Vec::new();
    let checked = check_into(script, &mut errors);
    if errors.is_empty() {
        Ok(checked)
    } else {
        sort_errors(&mut errors);
        Err(errors)
    }
}

/// Checks `script`, appending to `errors`; the result is only meaningful
/// when no error at all was found.
pub(super) fn check_into(script: Script, errors: &mut Vec<ScriptError>) -> CheckedScript {
    let mut ck = Checker::new(&script.stmts);
    for stmt in script.stmts {
        ck.stmt(stmt);
    }
    ck.resolve_privileged();
    errors.append(&mut ck.errors);
    let lines = LineIndex::new(&script.src);
    CheckedScript {
        file: script.file,
        src: script.src,
        lines,
        kernel: ck.kernel.map(|(k, _)| k),
        expect_violations: ck.expect_violations.map(|(v, _)| v),
        machine: ck.machine.map(|(m, _)| m).unwrap_or_default(),
        domains: ck.domains,
        processes: ck.processes,
        files: ck.files,
        disks: ck.disks,
        steps: ck.steps,
    }
}

/// Orders errors by position and drops exact duplicates.
pub(super) fn sort_errors(errors: &mut Vec<ScriptError>) {
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    Domain(DomainId),
    Process(ProcessId),
    File(FileId),
    Disk(DiskId),
    Var(Ty),
    /// Declared by a line that did not parse: accepted anywhere, unchecked.
    Poisoned,
}

impl EntryKind {
    fn describe(self) -> &'static str {
        match self {
            EntryKind::Domain(_) => "a domain",
            EntryKind::Process(_) => "a process",
            EntryKind::File(_) => "a file",
            EntryKind::Disk(_) => "a disk",
            EntryKind::Var(_) => "a variable",
            EntryKind::Poisoned => "a name",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: EntryKind,
    line: u32,
}

struct Checker {
    names: FxHashMap<String, Entry>,
    /// First line that declares or binds each name, and which of the two.
    later: FxHashMap<String, (u32, &'static str)>,
    /// Processes that called `exit()`, with the line.
    exited: FxHashMap<ProcessId, u32>,
    kernel: Option<(KernelConfig, u32)>,
    expect_violations: Option<(Vec<String>, u32)>,
    machine: Option<(MachineConfig, u32)>,
    /// The first line that is neither `kernel` nor `machine`.
    first_other: Option<u32>,
    domains: Vec<DomainDecl>,
    processes: Vec<ProcessDecl>,
    files: Vec<FileDecl>,
    disks: Vec<DiskDecl>,
    steps: Vec<Step>,
    errors: Vec<ScriptError>,
}

fn looks_like_constant(name: &str) -> bool {
    name.chars().any(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl Checker {
    fn new(stmts: &[Stmt]) -> Self {
        let mut later: FxHashMap<String, (u32, &'static str)> = FxHashMap::default();
        for stmt in stmts {
            let mut note = |name: &str, how| {
                later.entry(name.to_owned()).or_insert((stmt.line, how));
            };
            match &stmt.kind {
                StmtKind::Domain { name, .. }
                | StmtKind::Process { name, .. }
                | StmtKind::File { name, .. }
                | StmtKind::Disk { name, .. } => note(&name.node, "declared"),
                StmtKind::Action(ActionStmt { bind: Some(name), call, .. }) => {
                    note(&name.node, if call.node == "fork" { "declared" } else { "bound" })
                }
                StmtKind::Broken { names } => names.iter().for_each(|n| note(n, "declared")),
                _ => {}
            }
        }
        Checker {
            names: FxHashMap::default(),
            later,
            exited: FxHashMap::default(),
            kernel: None,
            expect_violations: None,
            machine: None,
            first_other: None,
            domains: Vec::new(),
            processes: Vec::new(),
            files: Vec::new(),
            disks: Vec::new(),
            steps: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn error(&mut self, err: ScriptError) {
        self.errors.push(err);
    }

    fn step(&mut self, stmt_line: u32, span: Span, kind: StepKind) {
        self.steps.push(Step { line: stmt_line, span, kind });
    }

    /// False (after an error naming the limit) once the script has
    /// [`super::MAX_DECLARATIONS`] declarations.
    fn room_to_declare(&mut self, span: Span) -> bool {
        let n = self.domains.len() + self.processes.len() + self.files.len() + self.disks.len();
        if n < super::MAX_DECLARATIONS {
            return true;
        }
        let msg = format!("more than {} declarations, the limit (MAX_DECLARATIONS)", super::MAX_DECLARATIONS);
        self.error(ScriptError::new(span, msg));
        false
    }

    fn stmt(&mut self, stmt: Stmt) {
        let Stmt { span, line, kind } = stmt;
        let declares = matches!(
            kind,
            StmtKind::Domain { .. } | StmtKind::Process { .. } | StmtKind::File { .. } | StmtKind::Disk { .. }
        );
        if declares && !self.room_to_declare(span) {
            return;
        }
        match kind {
            StmtKind::Kernel { .. } | StmtKind::Machine { .. } | StmtKind::Broken { .. } => {}
            _ => {
                self.first_other.get_or_insert(line);
            }
        }
        match kind {
            StmtKind::Kernel { variant, unmap } => self.kernel_stmt(span, line, &variant, unmap.as_ref()),
            StmtKind::Machine { frames, pkeys, thp, max_map_count, overcommit } => {
                if self.setup_order(span, "machine", self.machine.map(|m| m.1)) {
                    let mut m = MachineConfig::default();
                    if let Some(f) = &frames {
                        if f.node == 0 {
                            self.error(ScriptError::new(f.span, "a machine needs at least one frame"));
                        }
                        m.frames = f.node;
                    }
                    if let Some(f) = &frames
                        && f.node > crate::hv::machine::MAX_MACHINE_FRAMES
                    {
                        self.error(ScriptError::new(
                            f.span,
                            format!(
                                "a machine has at most {} frames (52-bit physical addresses), the limit (MAX_MACHINE_FRAMES)",
                                crate::hv::machine::MAX_MACHINE_FRAMES
                            ),
                        ));
                    }
                    if let Some(c) = &max_map_count {
                        // vm.max_map_count is an int sysctl with minimum 0.
                        match usize::try_from(c.node).ok().filter(|&c| c <= i32::MAX as usize) {
                            Some(c) => m.max_map_count = c,
                            None => self.error(
                                ScriptError::new(c.span, "max_map_count is out of range")
                                    .with_help("vm.max_map_count takes 0 to 2147483647"),
                            ),
                        }
                    }
                    m.pkeys = pkeys.map_or(m.pkeys, |p| p.node);
                    m.thp = thp.map_or(m.thp, |t| t.node);
                    m.overcommit = overcommit.map_or(m.overcommit, |o| o.node);
                    self.machine = Some((m, line));
                }
            }
            StmtKind::Domain { name, kind, pages, privileged } => {
                let id = DomainId(self.domains.len());
                if let Some(p) = privileged
                    && kind.node == DomainKind::Native
                {
                    self.error(
                        ScriptError::new(p, "a native domain cannot be privileged")
                            .with_help("only pv domains run under Xen"),
                    );
                }
                self.declare(&name, EntryKind::Domain(id), line);
                self.domains.push(DomainDecl {
                    name: name.node,
                    kind: kind.node,
                    pages: pages.map(|p| p.node),
                    privileged: false,
                    privileged_explicit: privileged.is_some(),
                    line,
                    span,
                });
                self.step(line, span, StepKind::Domain(id));
            }
            StmtKind::Process { name, domain, uid, mmap_base, brk } => {
                let domain = self.want_domain(&domain);
                let uid_value = match uid {
                    Some(u) => u32::try_from(u.node).unwrap_or_else(|_| {
                        self.error(ScriptError::new(u.span, "a uid must fit in 32 bits"));
                        0
                    }),
                    None => 0,
                };
                let id = ProcessId(self.processes.len());
                self.declare(&name, EntryKind::Process(id), line);
                self.processes.push(ProcessDecl {
                    name: name.node,
                    domain: domain.unwrap_or(DomainId(0)),
                    uid: uid_value,
                    mmap_base: mmap_base.map(|v| v.node),
                    brk: brk.map(|v| v.node),
                    parent: None,
                    line,
                    span,
                });
                self.step(line, span, StepKind::Process(id));
            }
            StmtKind::File { name, domain, size } => {
                let domain = self.want_domain(&domain).unwrap_or(DomainId(0));
                let id = FileId(self.files.len());
                self.declare(&name, EntryKind::File(id), line);
                let size = size.map(|s| s.node);
                self.files.push(FileDecl { name: name.node, domain, size, line, span });
                self.step(line, span, StepKind::File(id));
            }
            StmtKind::Disk { name, domain, sectors } => {
                let domain = self.want_domain(&domain).unwrap_or(DomainId(0));
                let id = DiskId(self.disks.len());
                self.declare(&name, EntryKind::Disk(id), line);
                let sectors = sectors.map(|s| s.node);
                self.disks.push(DiskDecl { name: name.node, domain, sectors, line, span });
                self.step(line, span, StepKind::Disk(id));
            }
            StmtKind::Action(action) => {
                if let Some(a) = self.action(action, line) {
                    self.step(line, span, StepKind::Action(a));
                }
            }
            StmtKind::Show(show) => {
                if let Some(s) = self.show(show) {
                    self.step(line, span, StepKind::Show(s));
                }
            }
            StmtKind::Check => self.step(line, span, StepKind::Check),
            StmtKind::ExpectViolations { names } => match self.expect_violations {
                Some((_, first)) => self.error(super::expect::second_line(span, first)),
                None => self.expect_violations = Some((super::expect::check_names(&names, &mut self.errors), line)),
            },
            StmtKind::Broken { names } => {
                for name in names {
                    self.names.entry(name).or_insert(Entry { kind: EntryKind::Poisoned, line });
                }
            }
        }
    }

    /// Adds `name` to the namespace, reporting reserved names and clashes.
    fn declare(&mut self, name: &Name, kind: EntryKind, line: u32) {
        if !self.name_allowed(name) {
            return;
        }
        if let Some(prev) = self.names.get(&name.node)
            && prev.kind != EntryKind::Poisoned
        {
            let err = ScriptError::new(
                name.span,
                format!("`{}` is already declared ({}, line {})", name.node, prev.kind.describe(), prev.line),
            );
            self.error(err);
            return;
        }
        self.names.insert(name.node.clone(), Entry { kind, line });
    }

    fn name_allowed(&mut self, name: &Name) -> bool {
        let n = name.node.as_str();
        let why = if KEYWORDS.contains(&n) || RESERVED.contains(&n) {
            "a reserved word"
        } else if consts::lookup(n).is_some() {
            "a constant"
        } else {
            return true;
        };
        self.error(ScriptError::new(name.span, format!("`{n}` is {why} and cannot be used as a name")));
        false
    }

    /// Reports an undeclared `name` that should have been `what`.
    fn unknown(&mut self, name: &str, span: Span, what: &str, candidates: Vec<&str>) {
        let err = match self.later.get(name) {
            Some(&(line, how)) => ScriptError::new(span, format!("`{name}` is used before it is {how} (line {line})"))
                .with_help(format!("a name must be {how} on an earlier line than its use")),
            None if what == "name" && looks_like_constant(name) => {
                ScriptError::new(span, format!("unknown constant `{name}`"))
                    .with_opt_help(did_you_mean(name, consts::all_names()))
            }
            None => {
                ScriptError::new(span, format!("unknown {what} `{name}`")).with_opt_help(did_you_mean(name, candidates))
            }
        };
        self.error(err);
    }

    /// The entry for `name`, or `None` after reporting it (or if poisoned).
    fn entity(&mut self, name: &Name, what: &str, fits: fn(EntryKind) -> bool) -> Option<EntryKind> {
        match self.names.get(&name.node).map(|e| e.kind) {
            Some(EntryKind::Poisoned) => None,
            Some(kind) if fits(kind) => Some(kind),
            Some(kind) => {
                self.error(ScriptError::new(
                    name.span,
                    format!("`{}` is {}, not {}", name.node, kind.describe(), article(what)),
                ));
                None
            }
            None => {
                let candidates: Vec<String> =
                    self.names.iter().filter(|(_, e)| fits(e.kind)).map(|(n, _)| n.clone()).collect();
                self.unknown(&name.node, name.span, what, candidates.iter().map(String::as_str).collect());
                None
            }
        }
    }

    fn want_domain(&mut self, name: &Name) -> Option<DomainId> {
        match self.entity(name, "domain", |k| matches!(k, EntryKind::Domain(_)))? {
            EntryKind::Domain(id) => Some(id),
            _ => None,
        }
    }

    fn want_process(&mut self, name: &Name) -> Option<ProcessId> {
        match self.entity(name, "process", |k| matches!(k, EntryKind::Process(_)))? {
            EntryKind::Process(id) => Some(id),
            _ => None,
        }
    }

    /// Resolves the names of `e` in place; false when something was
    /// reported or unknowable (poisoned), so type checks should be skipped.
    fn resolve(&mut self, e: &mut Expr) -> bool {
        match &mut e.kind {
            ExprKind::Name(_) => self.resolve_name(e),
            ExprKind::Neg(inner) => self.resolve(inner),
            ExprKind::Binary { lhs, rhs, .. } => {
                let l = self.resolve(lhs);
                let r = self.resolve(rhs);
                l && r
            }
            ExprKind::List(items) => {
                let mut ok = true;
                for item in items {
                    ok &= self.resolve(item);
                }
                ok
            }
            ExprKind::Int(_)
            | ExprKind::Const { .. }
            | ExprKind::Var(_)
            | ExprKind::Domain { .. }
            | ExprKind::Bytes(_) => true,
        }
    }

    /// `resolve` for a `Name` leaf (out of line, to keep the recursion's frames small).
    #[inline(never)]
    fn resolve_name(&mut self, e: &mut Expr) -> bool {
        let ExprKind::Name(n) = &mut e.kind else {
            return true;
        };
        let name = std::mem::take(n);
        match self.names.get(&name).map(|x| x.kind) {
            Some(EntryKind::Var(_)) => {
                e.kind = ExprKind::Var(name);
                true
            }
            Some(EntryKind::Domain(id)) => {
                e.kind = ExprKind::Domain { name, id };
                true
            }
            Some(EntryKind::Poisoned) => {
                e.kind = ExprKind::Name(name);
                false
            }
            Some(kind) => {
                self.error(
                    ScriptError::new(e.span, format!("`{name}` is {}, not a value", kind.describe()))
                        .with_help("values are numbers, strings, constants, variables and domain names"),
                );
                e.kind = ExprKind::Name(name);
                false
            }
            None => {
                let candidates: Vec<String> = self
                    .names
                    .iter()
                    .filter(|(_, x)| matches!(x.kind, EntryKind::Var(_) | EntryKind::Domain(_)))
                    .map(|(n, _)| n.clone())
                    .collect();
                self.unknown(&name, e.span, "name", candidates.iter().map(String::as_str).collect());
                e.kind = ExprKind::Name(name);
                false
            }
        }
    }

    /// Resolves and types `e`; `None` when reported or unknowable.
    fn typed(&mut self, e: &mut Expr) -> Option<Ty> {
        if !self.resolve(e) {
            return None;
        }
        let names = &self.names;
        let var_ty = |n: &str| match names.get(n).map(|x| x.kind) {
            Some(EntryKind::Var(t)) => t,
            _ => Ty::Unknown,
        };
        match infer(e, &var_ty) {
            Ok(t) => Some(t),
            Err(err) => {
                self.error(err);
                None
            }
        }
    }

    /// An expression that must be a number (show operands, signal addresses).
    fn int_expr(&mut self, e: &mut Expr, what: &str) {
        if let Some(t) = self.typed(e)
            && !t.fits(Ty::Int)
        {
            self.error(ScriptError::new(e.span, format!("{what} must be a number, found {}", t.describe())));
        }
    }

    fn actor(&mut self, name: &Name) -> Option<Actor> {
        let kind = self
            .entity(name, "actor", |k| matches!(k, EntryKind::Process(_) | EntryKind::Domain(_) | EntryKind::Disk(_)));
        let actor = match kind? {
            EntryKind::Process(p) => Actor::Process(p),
            EntryKind::Domain(d) => Actor::Domain(d),
            EntryKind::Disk(d) => Actor::Disk(d),
            _ => return None,
        };
        if let Actor::Process(p) = actor
            && let Some(&exit_line) = self.exited.get(&p)
        {
            self.error(ScriptError::new(
                name.span,
                format!("`{}` exited on line {exit_line} and can make no more calls", name.node),
            ));
            return None;
        }
        Some(actor)
    }

    fn call_spec(&mut self, actor: Actor, actor_name: &str, call: &Name) -> Option<&'static CallSpec> {
        let kind = actor.kind();
        if let Some(spec) = calls::lookup(kind, &call.node) {
            return Some(spec);
        }
        let err = match calls::lookup_any(&call.node) {
            Some(other) => ScriptError::new(
                call.span,
                format!(
                    "`{}` is {} call, but `{actor_name}` is {}",
                    call.node,
                    article(other.actor.describe()),
                    article(kind.describe())
                ),
            ),
            None => ScriptError::new(call.span, format!("unknown {} call `{}`", kind.describe(), call.node))
                .with_opt_help(did_you_mean(&call.node, calls::names_for(kind))),
        };
        self.error(err);
        None
    }

    /// Without an explicit `privileged`, the first pv domain is dom0.
    fn resolve_privileged(&mut self) {
        if self.domains.iter().any(|d| d.privileged_explicit) {
            for d in &mut self.domains {
                d.privileged = d.privileged_explicit;
            }
        } else if let Some(d) = self.domains.iter_mut().find(|d| d.kind == DomainKind::Pv) {
            d.privileged = true;
        }
    }
}

fn article(what: &str) -> String {
    let an = what.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {what}", if an { "an" } else { "a" })
}

/// Validates the words of a `kernel` line.
pub fn kernel_config(variant: &Name, unmap: Option<&Name>) -> Result<KernelConfig, ScriptError> {
    let Some(v) = KernelVariant::from_name(&variant.node) else {
        let names = KernelVariant::ALL.map(KernelVariant::name);
        let help = did_you_mean(&variant.node, names).unwrap_or_else(variant_help);
        return Err(
            ScriptError::new(variant.span, format!("unknown kernel variant `{}`", variant.node)).with_help(help)
        );
    };
    let unmap = match unmap {
        None => None,
        Some(u) => match UnmapPolicy::from_name(&u.node) {
            Some(p) => Some(p),
            None => {
                return Err(ScriptError::new(u.span, format!("unknown unmap policy `{}`", u.node))
                    .with_help("unmap= takes deferred, immediate or async"));
            }
        },
    };
    Ok(KernelConfig { variant: v, unmap })
}
