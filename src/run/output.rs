//! How runs look: text for people, JSON lines (schema 2) for programs.
//! docs/SCENARIO.md "Running" is the contract for both.

use super::{CallResult, Event, Outcome};
use crate::script::format_return;
use serde_json::{Value as J, json};

/// A raw value as people read it: `-EINVAL` for errors, decimal below
/// 0x10000, hex above (addresses).
pub fn format_value(v: u64) -> String {
    let s = v as i64;
    if s < 0 {
        return format_return(v);
    }
    if v < 0x10000 { v.to_string() } else { format!("{v:#x}") }
}

/// Bytes as a scenario would write them: `x"5a5a"`, runs compressed as
/// `x"5a" * 4096`, long mixed data elided in the middle.
pub fn format_bytes(b: &[u8]) -> String {
    if b.is_empty() {
        return "x\"\"".to_string();
    }
    if b.len() > 8 && b.iter().all(|&x| x == b[0]) {
        return format!("x\"{:02x}\" * {}", b[0], b.len());
    }
    let hex = |s: &[u8]| s.iter().map(|x| format!("{x:02x}")).collect::<String>();
    if b.len() <= 32 {
        format!("x\"{}\"", hex(b))
    } else {
        format!("x\"{}\" ++ ... ({} bytes) ++ x\"{}\"", hex(&b[..16]), b.len(), hex(&b[b.len() - 8..]))
    }
}

pub fn format_result(r: &CallResult) -> String {
    match r {
        CallResult::Value(v) => format_value(*v),
        CallResult::Bytes(b) => format_bytes(b),
        CallResult::Signal { sig, code, addr } => format!("{sig}:{code}@{addr:#x}"),
        CallResult::Killed { line } => format!("KILLED (SIGKILL from the OOM killer at line {line})"),
        CallResult::Hung { line, syscall, pfn, page_count, pins, gets } => format!(
            "HUNG (in {syscall} since line {line}: pfn {pfn:#x} page_count {page_count}, {pins} pin(s), {gets} get(s))"
        ),
    }
}

/// ANSI styling, used only when the output is a terminal.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    pub fn red(self, s: &str) -> String {
        self.paint("31;1", s)
    }
    pub fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
}

/// One event as text lines (each ending in a newline).
pub fn event_text(file: &str, e: &Event, st: Style) -> String {
    match e {
        Event::Step { line, actor, call, result, expect, events } => {
            let head = format!("{line:>4}  {actor}: {call}");
            let res = format_result(result);
            let mut s = format!("{head}  {} {res}", st.dim("->"));
            match expect {
                Some(x) if x.held => s.push_str(&format!("  {}", st.green("ok"))),
                Some(x) => {
                    s.push_str(&format!("  {} {file}:{line}: expected {}, got {res}", st.red("FAILED"), x.expected))
                }
                None => {}
            }
            s.push('\n');
            for e in events {
                s.push_str(&st.dim(&format!("        {}", crate::trace::text::event_line(e))));
                s.push('\n');
            }
            s
        }
        Event::Show { line, what, text } => {
            let mut s = st.dim(&format!("{line:>4}  show {what}:")) + "\n";
            for l in text.lines() {
                s.push_str("      ");
                s.push_str(l);
                s.push('\n');
            }
            s
        }
        Event::Violation { line, violation, context, expected } => {
            let mut s = if *expected {
                format!(
                    "{line:>4}  {} {}: {}\n",
                    st.green("VIOLATION (expected)"),
                    violation.invariant,
                    violation.message
                )
            } else {
                format!("{line:>4}  {} {}: {}\n", st.red("VIOLATION"), violation.invariant, violation.message)
            };
            for l in context.iter().map(|c| c.text()).collect::<String>().lines() {
                s.push_str("        ");
                s.push_str(l);
                s.push('\n');
            }
            s
        }
    }
}

pub fn outcome_text(o: &Outcome, st: Style) -> String {
    let verdict = if o.status() == 0 { st.green("PASS") } else { st.red("FAIL") };
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    let mut s = format!(
        "outcome: {verdict} ({} expectation{} failed, {} violation{}",
        o.expectations_failed,
        plural(o.expectations_failed),
        o.violations,
        plural(o.violations)
    );
    if o.stated {
        s.push_str(&format!(": {} expected, {} unexpected", o.violations_expected, o.violations_unexpected()));
        if !o.expected_missing.is_empty() {
            s.push_str(&format!("; expected but never broken: {}", o.expected_missing.join(", ")));
        }
    }
    s.push_str(")\n");
    s
}

/// The JSON schema version `--json` prints (docs/JSON.md,
/// docs/mmsim-2.schema.json).
pub const SCHEMA: u32 = 2;

/// A number that may exceed 2^53 (an address, a PTE, an MFN) as JSON:
/// a `"0x…"` string.
pub fn hex_num(v: u64) -> J {
    J::String(format!("{v:#x}"))
}

fn result_json(r: &CallResult) -> J {
    match r {
        CallResult::Value(v) => {
            let s = *v as i64;
            if (-4095..0).contains(&s) {
                let name = crate::script::errno_name((-s) as i32).map_or_else(|| (-s).to_string(), str::to_string);
                json!({ "errno": name })
            } else {
                json!({ "value": hex_num(*v) })
            }
        }
        CallResult::Bytes(b) => json!({ "bytes": hex(b), "len": b.len() }),
        CallResult::Signal { sig, code, addr } => json!({ "signal": sig, "code": code, "addr": hex_num(*addr) }),
        CallResult::Killed { line } => json!({ "killed": { "line": line, "signal": "SIGKILL" } }),
        CallResult::Hung { line, syscall, pfn, page_count, pins, gets } => json!({
            "hung": { "line": line, "syscall": syscall, "pfn": hex_num(*pfn), "page_count": page_count, "pins": pins, "gets": gets }
        }),
    }
}

/// `NAME = CALL(...)` as (Some(NAME), `CALL(...)`).
fn split_binding(call: &str) -> (Option<&str>, &str) {
    let head = call.split('(').next().unwrap_or("");
    match head.split_once('=') {
        Some((name, _))
            if !name.trim().is_empty() && name.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            let rest = &call[head.find('=').map_or(0, |i| i + 1)..];
            (Some(name.trim()), rest.trim_start())
        }
        _ => (None, call),
    }
}

/// One event as a JSON object (schema 2, docs/JSON.md).
pub fn event_json(file: &str, e: &Event) -> J {
    match e {
        Event::Step { line, actor, call, result, expect, events } => {
            let (bind, call) = split_binding(call);
            let mut o = json!({
                "schema": SCHEMA, "type": "step", "file": file, "line": line, "actor": actor, "call": call,
                "bind": bind, "result": result_json(result), "text": format_result(result), "events": events
            });
            if let Some(x) = expect {
                o["expect"] = json!({ "held": x.held, "expected": x.expected, "actual": format_result(result) });
            }
            o
        }
        Event::Show { line, what, text } => {
            json!({ "schema": SCHEMA, "type": "show", "file": file, "line": line, "what": what, "text": text, "data": super::data::show_data(what, text) })
        }
        Event::Violation { line, violation: v, context, expected } => {
            let hexes = |xs: &[u64]| xs.iter().map(|&x| hex_num(x)).collect::<Vec<_>>();
            let mut o = json!({
                "schema": SCHEMA, "type": "violation", "file": file, "line": line, "invariant": v.invariant,
                "message": v.message, "domains": v.domains, "pfns": hexes(&v.pfns), "mfns": hexes(&v.mfns),
                "expected": expected
            });
            if let Some(c) = context {
                o["context"] = json!({
                    "text": c.text(), "pages": super::data::show_data("page", &c.pages),
                    "walks": c.walks.iter().map(|t| super::data::show_data("pagetable", t)).collect::<Vec<_>>(),
                    "grants": c.grants
                });
            }
            o
        }
    }
}

/// The record that ends one file's run.
pub fn outcome_json(file: &str, o: &Outcome) -> J {
    json!({
        "schema": SCHEMA, "type": "outcome", "file": file, "expectations_failed": o.expectations_failed,
        "violations": o.violations, "violations_expected": o.violations_expected,
        "violations_unexpected": o.violations_unexpected(), "stated": o.stated,
        "expected_missing": o.expected_missing, "status": o.status()
    })
}

/// The record that starts one file's run: the kernel it runs under.
pub fn start_json(file: &str, kernel: &str) -> J {
    json!({ "schema": SCHEMA, "type": "start", "file": file, "kernel": kernel })
}

/// A script error (parse, check or run time) as a record.
pub fn error_json(file: &str, src: &str, e: &crate::script::ScriptError) -> J {
    let (line, column) = crate::script::LineIndex::new(src).line_col(src, e.span.start.min(src.len()));
    json!({ "schema": SCHEMA, "type": "error", "file": file, "line": line, "column": column, "message": e.message, "help": e.help })
}

/// An error that has no position (an unreadable file, a bad option).
pub fn error_json_bare(file: &str, message: &str) -> J {
    json!({ "schema": SCHEMA, "type": "error", "file": file, "line": null, "column": null, "message": message, "help": null })
}

/// The record that ends a multi-file run.
pub fn summary_json(passed: u32, failed: u32, status: u8) -> J {
    json!({ "schema": SCHEMA, "type": "summary", "passed": passed, "failed": failed, "status": status })
}

/// Lower-case hex of `b`, two digits a byte, in one allocation (results
/// may be up to `MAX_BYTES`, 64 MiB).
fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(DIGITS[(x >> 4) as usize] as char);
        s.push(DIGITS[(x & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn values() {
        assert_eq!(format_value((-22i64) as u64), "-EINVAL");
        assert_eq!(format_value(4096), "4096");
        assert_eq!(format_value(0x7e00_3fff_e000), "0x7e003fffe000");
        assert_eq!(format_bytes(&[0x5a; 4096]), "x\"5a\" * 4096");
        assert_eq!(format_bytes(&[0, 0]), "x\"0000\"");
    }
}
