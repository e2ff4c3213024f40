//! Syntax tree of a scenario (`.mms`) file, as the parser produces it.
//!
//! Names are kept with their spans so that every later error can point at the
//! offending token. The checker (`check.rs`) turns this tree into a
//! [`CheckedScript`](super::CheckedScript) whose names are resolved.

use std::fmt;

use super::checked::DomainId;

/// A byte range `start..end` in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end: end.max(start) }
    }

    /// An empty span at `at` (used for "expected ... here" at the end of a line).
    pub fn point(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// A value together with the source range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

/// A name as written in the source (actor, domain, variable, call ...).
pub type Name = Spanned<String>;

/// A whole parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub file: String,
    pub src: String,
    pub stmts: Vec<Stmt>,
}

/// One statement; there is at most one per source line.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    /// From the first to the last token of the statement (comments excluded).
    pub span: Span,
    /// 1-based line number.
    pub line: u32,
    pub kind: StmtKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainKind {
    Native,
    Pv,
}

impl DomainKind {
    pub fn name(self) -> &'static str {
        match self {
            DomainKind::Native => "native",
            DomainKind::Pv => "pv",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `kernel VARIANT [unmap=deferred|immediate|async]`: the raw words; the checker
    /// validates them.
    Kernel {
        variant: Name,
        unmap: Option<Name>,
    },
    /// `machine [frames=N] [pkeys=on|off] [thp=always|madvise|never]
    /// [max_map_count=N] [overcommit=heuristic|always|never]`
    Machine {
        frames: Option<Spanned<u64>>,
        pkeys: Option<Spanned<bool>>,
        thp: Option<Spanned<crate::kernel::config::ThpEnabled>>,
        max_map_count: Option<Spanned<u64>>,
        overcommit: Option<Spanned<crate::kernel::config::Overcommit>>,
    },
    /// `domain NAME native|pv [pages=N] [privileged]`
    Domain {
        name: Name,
        kind: Spanned<DomainKind>,
        pages: Option<Spanned<u64>>,
        /// The span of the `privileged` word, when present.
        privileged: Option<Span>,
    },
    /// `process NAME in DOMAIN [uid=N] [mmap_base=ADDR] [brk=ADDR]`
    Process {
        name: Name,
        domain: Name,
        uid: Option<Spanned<u64>>,
        mmap_base: Option<Spanned<u64>>,
        brk: Option<Spanned<u64>>,
    },
    /// `file NAME in DOMAIN [size=N]`
    File {
        name: Name,
        domain: Name,
        size: Option<Spanned<u64>>,
    },
    /// `disk NAME in DOMAIN [sectors=N]`
    Disk {
        name: Name,
        domain: Name,
        sectors: Option<Spanned<u64>>,
    },
    /// `ACTOR: [VAR =] CALL(ARG, ...) [= EXPECTED]`
    Action(ActionStmt),
    Show(Show),
    Check,
    /// `expect violation NAME...` / `expect violations none`: the invariants
    /// the run must break (each at least once), and that no other may. The
    /// names are raw words; the checker validates them. Empty: `none`.
    ExpectViolations {
        names: Vec<Name>,
    },
    /// A line that did not parse (its error is reported by the parser).
    /// `names` are the names it appears to declare or bind, so that the
    /// checker does not report every later use of them as unknown.
    Broken {
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionStmt {
    pub actor: Name,
    pub bind: Option<Name>,
    pub call: Name,
    pub args: Vec<Expr>,
    /// The span of the closing parenthesis of the argument list.
    pub close_paren: Span,
    pub expect: Option<Expected>,
}

/// `show ...` statements. Process and domain operands are names; addresses,
/// lengths and frame numbers are expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Show {
    Maps(Name),
    Smaps(Name),
    Pagemap {
        process: Name,
        addr: Expr,
        len: Expr,
    },
    Pagetable {
        process: Name,
        addr: Expr,
    },
    Grants(Name),
    Page {
        domain: Name,
        pfn: Expr,
    },
    /// The domain kernel's log (dmesg) and the hypervisor's messages.
    Log(Name),
    /// `show p2m DOMAIN [PFN [COUNT]]`
    P2m {
        domain: Name,
        pfn: Option<Expr>,
        count: Option<Expr>,
    },
    /// `show m2p MFN [COUNT]`
    M2p {
        mfn: Expr,
        count: Option<Expr>,
    },
    /// `show override DOMAIN`
    Override(Name),
    /// `show picture PROCESS [ADDR LEN]`
    Picture {
        process: Name,
        range: Option<(Expr, Expr)>,
    },
}

/// An expression with its source span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub span: Span,
    pub kind: ExprKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal (`4096`, `0x7e00_0000`, `4K`).
    Int(u64),
    /// A named constant (`PROT_READ`, `EINVAL`, `NULL`, or a bare word such as
    /// `rw` resolved in its argument position), resolved at parse/check time;
    /// the name is kept for display.
    Const {
        name: &'static str,
        value: u64,
    },
    /// An identifier the parser could not resolve: a variable, a domain name or
    /// an unknown name. Only the parser produces this; the checker replaces
    /// it with `Var` or `Domain` (or reports it).
    Name(String),
    /// A variable bound by an earlier `VAR = CALL(...)`.
    Var(String),
    /// A declared domain used as a value (`gnttab_grant_foreign_access(p, dom0, rw)`).
    Domain {
        name: String,
        id: DomainId,
    },
    /// A string literal (`"hello"`) or a hex byte string (`x"5a5a"`).
    Bytes(Vec<u8>),
    /// Unary minus: two's complement, wrapping.
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `[a, b, c]`
    List(Vec<Expr>),
}

/// Binary operators, from the loosest to the tightest binding:
/// `|` < `++` < `+ -` < `*`. All are left-associative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `|`: bitwise or of two integers.
    Or,
    /// `++`: concatenation of two byte strings or two lists.
    Concat,
    /// `+`: wrapping addition.
    Add,
    /// `-`: wrapping subtraction.
    Sub,
    /// `*`: wrapping multiplication of integers, or repetition of bytes.
    Mul,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "|",
            BinOp::Concat => "++",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// `= EXPECTED` after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub span: Span,
    pub kind: ExpectedKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedKind {
    /// `ok`: any non-negative number (as a signed 64-bit value).
    Ok,
    /// `SIGSEGV`, `SIGSEGV:maperr`, `SIGBUS:adrerr@0x1000` ...
    Signal { signal: Signal, code: Option<Spanned<SigCode>>, addr: Option<Expr> },
    /// `= 4096`, `= -EINVAL`, `= x"5a5a"`, `= a + 4K`.
    Value(Expr),
    /// `HUNG`: the call never returns (the process is blocked for ever).
    Hung,
    /// `KILLED`: the OOM killer killed the process (during this call or
    /// before it).
    Killed,
}

/// The signals a user access can raise in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Segv,
    Bus,
}

impl Signal {
    pub const ALL: [Signal; 2] = [Signal::Segv, Signal::Bus];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Segv => "SIGSEGV",
            Signal::Bus => "SIGBUS",
        }
    }

    /// The x86-64 signal number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Segv => 11,
            Signal::Bus => 7,
        }
    }

    pub fn from_name(name: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The `si_code` values that go with this signal.
    pub fn codes(self) -> &'static [SigCode] {
        match self {
            Signal::Segv => &[SigCode::Maperr, SigCode::Accerr, SigCode::Pkuerr],
            Signal::Bus => &[SigCode::Adraln, SigCode::Adrerr, SigCode::Objerr, SigCode::MceerrAr, SigCode::MceerrAo],
        }
    }
}

/// `si_code` values (include/uapi/asm-generic/siginfo.h), written in lower
/// case without the prefix: `SEGV_MAPERR` is `maperr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigCode {
    Maperr,
    Accerr,
    Pkuerr,
    Adraln,
    Adrerr,
    Objerr,
    MceerrAr,
    MceerrAo,
}

impl SigCode {
    pub fn name(self) -> &'static str {
        match self {
            SigCode::Maperr => "maperr",
            SigCode::Accerr => "accerr",
            SigCode::Pkuerr => "pkuerr",
            SigCode::Adraln => "adraln",
            SigCode::Adrerr => "adrerr",
            SigCode::Objerr => "objerr",
            SigCode::MceerrAr => "mceerr_ar",
            SigCode::MceerrAo => "mceerr_ao",
        }
    }

    /// The numeric `si_code` (SEGV_MAPERR 1, SEGV_ACCERR 2, SEGV_PKUERR 4;
    /// BUS_ADRALN 1, BUS_ADRERR 2, BUS_OBJERR 3, BUS_MCEERR_AR 4, BUS_MCEERR_AO 5).
    pub fn value(self) -> i32 {
        match self {
            SigCode::Maperr => 1,
            SigCode::Accerr => 2,
            SigCode::Pkuerr => 4,
            SigCode::Adraln => 1,
            SigCode::Adrerr => 2,
            SigCode::Objerr => 3,
            SigCode::MceerrAr => 4,
            SigCode::MceerrAo => 5,
        }
    }

    /// Looks a code up among those valid for `signal`.
    pub fn for_signal(signal: Signal, name: &str) -> Option<SigCode> {
        signal.codes().iter().copied().find(|c| c.name() == name)
    }
}
