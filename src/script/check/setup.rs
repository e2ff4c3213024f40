//! The checker's `kernel` line and the order of the setup lines.

use super::{Checker, kernel_config};
use crate::script::ast::{Name, Span};
use crate::script::diag::ScriptError;

impl Checker {
    /// `kernel`/`machine` must come first and once; returns whether this one counts.
    pub(super) fn setup_order(&mut self, span: Span, what: &str, previous: Option<u32>) -> bool {
        if let Some(first) = self.first_other {
            self.error(
                ScriptError::new(span, format!("`{what}` must come before the other statements"))
                    .with_help(format!("line {first} comes first; move this line to the top")),
            );
            return false;
        }
        if let Some(prev) = previous {
            self.error(ScriptError::new(span, format!("a second `{what}` line (the first is line {prev})")));
            return false;
        }
        true
    }

    pub(super) fn kernel_stmt(&mut self, span: Span, line: u32, variant: &Name, unmap: Option<&Name>) {
        if !self.setup_order(span, "kernel", self.kernel.map(|k| k.1)) {
            return;
        }
        match kernel_config(variant, unmap) {
            Ok(cfg) => self.kernel = Some((cfg, line)),
            Err(e) => self.error(e),
        }
    }
}
