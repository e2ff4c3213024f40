//! The scenario language (`.mms`) front end: lexer, parser, static checker,
//! expression evaluator, constant table and diagnostics. docs/SCENARIO.md is
//! the language's definition; the interpreter that runs a checked script against
//! the model lives elsewhere and uses only this API.
//!
//! ```
//! use mmsim::script::{self, Env, StepKind, Value, eval};
//!
//! let src = "domain host native\n\
//!            process p in host\n\
//!            p: a = mmap(NULL, 8K, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)\n\
//!            p: store(a + 4K, \"x\") = SIGSEGV:accerr\n";
//! let checked = match script::parse_and_check("t.mms", src) {
//!     Ok(c) => c,
//!     Err(errors) => panic!("{}", script::render_errors("t.mms", src, &errors, false)),
//! };
//! let mut env = Env::new();
//! for step in &checked.steps {
//!     if let StepKind::Action(action) = &step.kind {
//!         // `action.actor`, `action.call.call` (a `Call`), `action.expect` are resolved;
//!         // the interpreter evaluates the arguments when the step runs.
//!         let args: Vec<Value> = action.args.iter().map(|a| eval(a, &env)).collect::<Result<_, _>>().expect("example");
//!         if let Some(script::Binding::Var(name)) = &action.bind {
//!             env.bind(name.clone(), Value::Int(0x7e00_3fff_e000)); // the call's result
//!         }
//!         let _ = args;
//!     }
//! }
//!
//! let errors = script::parse_and_check("t.mms", "domain d pv\nd: x = alloc_page(1)\n").unwrap_err();
//! assert_eq!(
//!     script::render_errors("t.mms", "domain d pv\nd: x = alloc_page(1)\n", &errors, false),
//!     "t.mms:2:19: error: `alloc_page` takes 0 arguments, found 1\n   \
//!      ,----\n \
//!      2 | d: x = alloc_page(1)\n   \
//!      :                   ^\n   \
//!      `----\n  \
//!      help: alloc_page()\n"
//! );
//! ```
//!
//! What the checker guarantees for a [`CheckedScript`]: every name is
//! declared before use; each [`Action`] has a resolved [`Actor`], a
//! `&'static` [`CallSpec`] valid for that actor kind, the right number of
//! arguments, and argument expressions whose names are resolved to
//! [`ExprKind::Var`], [`ExprKind::Domain`] or [`ExprKind::Const`] (bare words
//! such as `rw`/`ro` and `r`/`w` become `Const` in their positions; see
//! `calls.rs`). What it cannot know statically (a variable holding bytes
//! where a number is needed, a 2 GiB repetition) [`eval`] reports with the
//! expression's span.
//!
//! Notes for the interpreter:
//! - Precedence, loosest first: `|` < `++` < `+ -` < `*` < unary `-`; all
//!   integer arithmetic wraps on `u64` (`-EINVAL` is `0xffff_ffff_ffff_ffea`).
//! - [`Value`] is `Int`, `Bytes` (strings and `x"..."`, a path or data),
//!   `List`, or `Domain(DomainId)` for a domain named as an argument
//!   (`gnttab_grant_foreign_access(p, dom0, rw)`, gntdev/privcmd ioctls).
//! - `touch`'s `r`/`w` evaluate to 0/1 (1 = write); grant `rw`/`ro` to 0/1
//!   (the kernel's `readonly` flag).
//! - `ExpectedKind::Ok` matches a result whose value as `i64` is >= 0;
//!   `ExpectedKind::Hung` matches a call that never returns (run/hang.rs),
//!   `ExpectedKind::Killed` one whose process the OOM killer killed (run/killed.rs).
//! - `CheckedScript::kernel` is `None` without a `kernel` line; an absent
//!   `unmap=` is `None` ("the variant's own policy", the interpreter's call).
//!   `--kernel` words go through [`parse_kernel_override`].
//! - `child = fork()` gives `Binding::Child(id)`; `processes[id]` has
//!   `parent: Some(..)` and the parent's domain, uid, `mmap_base` and `brk`.
//! - Errors are sorted by position; [`render_errors`] also renders run-time
//!   errors (e.g. from [`eval`]) against the same source.
//!
//! Module map: `ast` (syntax tree), `lexer`, `parser` (statements), `expr`
//! (expressions and precedence), `check` (static checks), `checked` (the
//! checker's output), `calls` (the call table), `consts` / `errno`
//! (constants, symbolic printing), `value` (values, types, evaluation),
//! `diag` (errors and rendering).

pub mod ast;
pub mod calls;
pub mod check;
pub mod checked;
pub mod consts;
pub mod diag;
pub mod errno;
pub mod expect;
mod expr;
pub mod lexer;
pub mod parser;
pub mod value;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use ast::{BinOp, Expected, ExpectedKind, Expr, ExprKind, Script, SigCode, Signal, Span, Spanned, Stmt, StmtKind};
pub use calls::{ActorKind, ArgKind, Call, CallSpec};
pub use checked::{
    Action, Actor, Binding, CheckedScript, DiskDecl, DiskId, DomainDecl, DomainId, FileDecl, FileId, KernelConfig,
    KernelVariant, ProcessDecl, ProcessId, ShowStep, Step, StepKind, UnmapPolicy,
};
pub use consts::{const_name_for, errno_name, format_flags, format_return};
pub use diag::{LineIndex, MAX_RENDERED_ERRORS, ScriptError};
pub use expr::MAX_DEPTH;
pub use value::{Env, MAX_BYTES, Ty, Value, eval};

/// Resource limits on script input (README.md "Resource limits"). A
/// script over one is a script error at the line that crosses it, naming
/// the limit, before anything runs.
///
/// Largest script source: 16 MiB. The CLI reads files through a reader
/// bounded to one byte more, so `/dev/zero` ends with this error.
pub const MAX_SOURCE_BYTES: usize = 16 << 20;
/// Most statements in one script: 200,000.
pub const MAX_STATEMENTS: usize = 200_000;
/// Most declarations (domains, processes including `fork` children, files,
/// disks) in one script: 10,000.
pub const MAX_DECLARATIONS: usize = 10_000;

/// Parses `src` (named `file` in messages) without checking names.
pub fn parse(file: &str, src: &str) -> Result<Script, Vec<ScriptError>> {
    let (script, errors) = parser::parse(file, src);
    if errors.is_empty() { Ok(script) } else { Err(errors) }
}

/// Parses and checks a script. On failure, every error found (parse and
/// check errors together), sorted by position; a script with any error must
/// not be run.
pub fn parse_and_check(file: &str, src: &str) -> Result<CheckedScript, Vec<ScriptError>> {
    let (script, mut errors) = parser::parse(file, src);
    let checked = check::check_into(script, &mut errors);
    if errors.is_empty() {
        Ok(checked)
    } else {
        check::sort_errors(&mut errors);
        Err(errors)
    }
}

/// Renders errors as `FILE:LINE:COL: error: MESSAGE`, then miette's snippet
/// of the source line with the span underlined (and `help: ...`), at most
/// [`MAX_RENDERED_ERRORS`] of them.
/// ANSI colours only when `color`.
pub fn render_errors(file: &str, src: &str, errors: &[ScriptError], color: bool) -> String {
    diag::render(file, src, errors, color)
}

/// Parses the words of `--kernel 'VARIANT [unmap=...]'` (a `kernel` line
/// without the keyword). Errors are positioned in `words`; render them with
/// `render_errors("--kernel", words, ...)`.
pub fn parse_kernel_override(words: &str) -> Result<KernelConfig, Vec<ScriptError>> {
    let (_, variant, unmap) = parser::kernel_words(words, 0, words.len(), false).map_err(|e| vec![e])?;
    check::kernel_config(&variant, unmap.as_ref()).map_err(|e| vec![e])
}

/// The 1-based line and character column of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (u32, u32) {
    LineIndex::new(src).line_col(src, offset)
}
