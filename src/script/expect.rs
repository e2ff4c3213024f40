//! `expect violation NAME...` / `expect violations none`: which invariants
//! a scenario must break. The checker validates the names against
//! [`INVARIANTS`]; the runner (`src/run`) holds the run to them: each named
//! invariant must break at least once, and no other may.

use super::ast::{Name, Span};
use super::diag::{ScriptError, did_you_mean};

/// Every invariant name the model reports (`Violation::invariant`), from
/// the one enum `crate::invariants::Invariant`. A misspelt name in a
/// scenario is a script error, not a silent never-matching expectation.
pub const INVARIANTS: &[&str] = crate::invariants::Invariant::NAMES;

/// The names of an `expect violation` line, checked: each known, none
/// twice. Errors are appended to `errors`.
pub(super) fn check_names(names: &[Name], errors: &mut Vec<ScriptError>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !INVARIANTS.contains(&n.node.as_str()) {
            let help = did_you_mean(&n.node, INVARIANTS.iter().copied())
                .unwrap_or_else(|| format!("the invariants are {}", INVARIANTS.join(", ")));
            errors.push(ScriptError::new(n.span, format!("unknown invariant `{}`", n.node)).with_help(help));
        } else if out.contains(&n.node) {
            errors.push(ScriptError::new(n.span, format!("invariant `{}` named twice", n.node)));
        } else {
            out.push(n.node.clone());
        }
    }
    out
}

/// A second `expect violation` line is an error naming the first.
pub(super) fn second_line(span: Span, first: u32) -> ScriptError {
    ScriptError::new(span, format!("a second `expect violation` line (the first is line {first})"))
        .with_help("name every expected invariant on one line")
}
