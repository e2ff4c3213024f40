//! The checker's output: a script whose names are all resolved, ready to run.
//!
//! Every entity has an index (`DomainId`, `ProcessId`, ...) into the
//! corresponding `Vec` of [`CheckedScript`]; every action knows its actor, its
//! call (a `&'static CallSpec` from `calls.rs`) and which argument expressions
//! to evaluate. The interpreter never has to look a name up again.

use super::ast::{DomainKind, Expected, Expr, Span};
use super::calls::{ActorKind, CallSpec};
use super::diag::LineIndex;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub usize);
    };
}

id_type!(
    /// Index into [`CheckedScript::domains`].
    DomainId
);
id_type!(
    /// Index into [`CheckedScript::processes`] (declared and forked ones).
    ProcessId
);
id_type!(
    /// Index into [`CheckedScript::files`].
    FileId
);
id_type!(
    /// Index into [`CheckedScript::disks`].
    DiskId
);

/// The kernel variants of docs/SCENARIO.md (`kernel VARIANT`) and the
/// `unmap=` policy: the kernel's own types.
pub use crate::kernel::variant::{UnmapPolicy, VariantKind as KernelVariant};

/// A validated `kernel` line. `unmap: None` means "the variant's own policy",
/// which the interpreter decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelConfig {
    pub variant: KernelVariant,
    pub unmap: Option<UnmapPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDecl {
    pub name: String,
    pub kind: DomainKind,
    pub pages: Option<u64>,
    /// Resolved: the domains that say `privileged`, or else the first `pv`
    /// domain (docs/SCENARIO.md).
    pub privileged: bool,
    /// Whether the line itself said `privileged`.
    pub privileged_explicit: bool,
    pub line: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessDecl {
    pub name: String,
    pub domain: DomainId,
    /// `uid=N`, default 0 (root).
    pub uid: u32,
    pub mmap_base: Option<u64>,
    pub brk: Option<u64>,
    /// `Some(parent)` for a process created by `child = fork()`.
    pub parent: Option<ProcessId>,
    pub line: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDecl {
    pub name: String,
    pub domain: DomainId,
    pub size: Option<u64>,
    pub line: u32,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDecl {
    pub name: String,
    pub domain: DomainId,
    pub sectors: Option<u64>,
    pub line: u32,
    pub span: Span,
}

/// Who performs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Process(ProcessId),
    Domain(DomainId),
    Disk(DiskId),
}

impl Actor {
    pub fn kind(self) -> ActorKind {
        match self {
            Actor::Process(_) => ActorKind::Process,
            Actor::Domain(_) => ActorKind::Domain,
            Actor::Disk(_) => ActorKind::Disk,
        }
    }
}

/// What `VAR =` binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// A variable holding the call's result.
    Var(String),
    /// `child = fork()`: the new process actor (its `ProcessDecl` has `parent`).
    Child(ProcessId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub actor: Actor,
    pub bind: Option<Binding>,
    pub call: &'static CallSpec,
    /// Argument expressions with names resolved (`Var`, `Domain`, `Const`);
    /// evaluate them with [`eval`](super::eval) when the step runs.
    pub args: Vec<Expr>,
    pub expect: Option<Expected>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShowStep {
    Maps(ProcessId),
    Smaps(ProcessId),
    Pagemap { process: ProcessId, addr: Expr, len: Expr },
    Pagetable { process: ProcessId, addr: Expr },
    Grants(DomainId),
    Page { domain: DomainId, pfn: Expr },
    Log(DomainId),
    P2m { domain: DomainId, pfn: Option<Expr>, count: Option<Expr> },
    M2p { mfn: Expr, count: Option<Expr> },
    Override(DomainId),
    Picture { process: ProcessId, range: Option<(Expr, Expr)> },
}

impl ShowStep {
    /// The word after `show` (`"maps"`, `"pagemap"` ...), e.g. for JSON `what`.
    pub fn what(&self) -> &'static str {
        match self {
            ShowStep::Maps(_) => "maps",
            ShowStep::Smaps(_) => "smaps",
            ShowStep::Pagemap { .. } => "pagemap",
            ShowStep::Pagetable { .. } => "pagetable",
            ShowStep::Grants(_) => "grants",
            ShowStep::Log(_) => "log",
            ShowStep::Page { .. } => "page",
            ShowStep::P2m { .. } => "p2m",
            ShowStep::M2p { .. } => "m2p",
            ShowStep::Override(_) => "override",
            ShowStep::Picture { .. } => "picture",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// The declaration of an entity, in source order (entities may be declared
    /// after some actions have run).
    Domain(DomainId),
    Process(ProcessId),
    File(FileId),
    Disk(DiskId),
    Action(Action),
    Show(ShowStep),
    Check,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub line: u32,
    pub span: Span,
    pub kind: StepKind,
}

/// A script that passed every static check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedScript {
    pub file: String,
    pub src: String,
    /// Line starts of `src`, for [`CheckedScript::line_text`] and spans.
    pub lines: LineIndex,
    /// The `kernel` line, if any (the CLI's `--kernel` may override it).
    pub kernel: Option<KernelConfig>,
    /// `expect violation NAME...`: the invariants the run must break (each
    /// at least once) and no others; `Some(empty)` for `expect violations
    /// none`; `None` without the line (every violation fails the run).
    pub expect_violations: Option<Vec<String>>,
    /// The `machine` line's settings (the defaults without one).
    pub machine: crate::kernel::config::MachineConfig,
    pub domains: Vec<DomainDecl>,
    pub processes: Vec<ProcessDecl>,
    pub files: Vec<FileDecl>,
    pub disks: Vec<DiskDecl>,
    /// Everything else, in source order.
    pub steps: Vec<Step>,
}

impl CheckedScript {
    /// The text of 1-based `line` (without its newline), for echoing a step.
    pub fn line_text(&self, line: u32) -> &str {
        self.src.get(self.lines.line_range(&self.src, line)).unwrap_or("")
    }

    /// The 1-based line and character column of a span's start.
    pub fn line_col(&self, span: Span) -> (u32, u32) {
        self.lines.line_col(&self.src, span.start)
    }

    /// The name of an actor as written in the script.
    pub fn actor_name(&self, actor: Actor) -> &str {
        let name = match actor {
            Actor::Process(p) => self.processes.get(p.0).map(|d| d.name.as_str()),
            Actor::Domain(d) => self.domains.get(d.0).map(|d| d.name.as_str()),
            Actor::Disk(d) => self.disks.get(d.0).map(|d| d.name.as_str()),
        };
        name.unwrap_or("?")
    }

    pub fn domain_by_name(&self, name: &str) -> Option<DomainId> {
        self.domains.iter().position(|d| d.name == name).map(DomainId)
    }

    pub fn process_by_name(&self, name: &str) -> Option<ProcessId> {
        self.processes.iter().position(|d| d.name == name).map(ProcessId)
    }
}
