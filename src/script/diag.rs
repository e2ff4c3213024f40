//! Script errors and their rendering.
//!
//! A rendered error looks like this (no colour):
//!
//! ```text
//! t.mms:3:23: error: unknown constant `PROT_RAED`
//!    ,----
//!  3 | p: a = mmap(NULL, 8K, PROT_RAED, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
//!    :                       ^^^^^^^^^
//!    `----
//!   help: did you mean `PROT_READ`?
//! ```
//!
//! The first line, `FILE:LINE:COL: error: MESSAGE`, is written here (the
//! compiler's format, which editors and tests parse); the snippet, the
//! underline and the help line below it are miette's
//! [`GraphicalReportHandler`] rendering a [`Rendered`] diagnostic, whose own
//! first line (`  x MESSAGE`) is replaced by that header. Line and column are
//! 1-based; the column counts characters (a tab is one column in the header).
//!
//! Simplifications, so that the bytes are deterministic and bounded on any
//! input: miette is given not the script but one line of it as displayed
//! (tabs as four spaces, other control characters as `?`, and a window of
//! [`MAX_SHOWN_LINE`] bytes around the error when the line is longer), with
//! no context lines, no wrapping and no terminal-width detection; messages
//! and help have control characters escaped. ANSI colours (miette's ASCII
//! theme with colours) only when the caller asks for them.

use std::fmt::Write as _;
use std::ops::Range;

use miette::{
    GraphicalReportHandler, GraphicalTheme, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use super::ast::Span;

/// At most this many errors are rendered; the rest are summarised.
pub const MAX_RENDERED_ERRORS: usize = 20;

/// An error in a script, found while lexing, parsing, checking or evaluating.
/// As a [`miette::Diagnostic`] it labels its span of the script (give the
/// report the script as source code) and its help is the suggestion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct ScriptError {
    #[label]
    pub span: Span,
    pub message: String,
    #[help]
    pub help: Option<String>,
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.start.into(), span.len())
    }
}

impl ScriptError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        ScriptError { span, message: message.into(), help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds `help` only when there is one.
    pub fn with_opt_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

/// A [`ScriptError`] as handed to miette's handler: the message and help
/// with control characters escaped, the label in the displayed line.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
struct Rendered {
    message: String,
    #[source_code]
    line: ShownLine,
    #[label]
    at: SourceSpan,
    #[help]
    help: Option<String>,
}

/// One source line as displayed, standing for the whole script: whatever
/// span is asked for, it is this line, numbered as in the script.
#[derive(Debug)]
struct ShownLine {
    text: String,
    /// 0-based line number in the script.
    line: usize,
}

impl SourceCode for ShownLine {
    fn read_span<'a>(
        &'a self,
        _span: &SourceSpan,
        _before: usize,
        _after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let all = SourceSpan::new(0.into(), self.text.len());
        Ok(Box::new(MietteSpanContents::new(self.text.as_bytes(), all, self.line, 0, 1)))
    }
}

/// Line starts of a source text, for offset -> line:column conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(src: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts, len: src.len() }
    }

    /// Record `len` bytes and a newline appended to the source (what
    /// [`LineIndex::new`] would find in the longer source): for sources
    /// built line by line (`explore`'s typed actions).
    pub fn push_line(&mut self, len: usize) {
        self.len += len + 1;
        self.starts.push(self.len);
    }

    /// Number of lines (a final line without a newline counts; an empty
    /// source has one empty line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 0-based line index containing byte `offset` (clamped to the source).
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.len);
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }

    /// Byte range of 1-based `line` without its `\n` (and without a final `\r`).
    pub fn line_range(&self, src: &str, line: u32) -> Range<usize> {
        let idx = (line as usize).saturating_sub(1);
        let Some(&start) = self.starts.get(idx) else {
            return self.len..self.len;
        };
        let mut end = self.starts.get(idx + 1).map_or(self.len, |&next| next - 1);
        if src.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') && end > start {
            end -= 1;
        }
        start..end
    }

    /// 1-based (line, column) of byte `offset`; the column counts characters.
    pub fn line_col(&self, src: &str, offset: usize) -> (u32, u32) {
        let idx = self.line_of(offset);
        let start = self.starts[idx];
        let offset = offset.min(self.len).max(start);
        let col = char_count(src, start, offset) + 1;
        (to_u32(idx + 1), to_u32(col))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Characters in `src[start..end]`; tolerates offsets inside a character.
fn char_count(src: &str, start: usize, end: usize) -> usize {
    let bytes = src.as_bytes().get(start..end).unwrap_or(&[]);
    // Count the bytes that begin a character (all but UTF-8 continuation bytes).
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// Renders `errors` (sorted by the caller) against `src`, at most
/// [`MAX_RENDERED_ERRORS`] of them; ANSI colours only when `color`.
pub fn render(file: &str, src: &str, errors: &[ScriptError], color: bool) -> String {
    let index = LineIndex::new(src);
    let mut out = String::new();
    for (i, err) in errors.iter().take(MAX_RENDERED_ERRORS).enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, file, src, &index, err, color);
    }
    if errors.len() > MAX_RENDERED_ERRORS {
        let more = errors.len() - MAX_RENDERED_ERRORS;
        let _ = writeln!(out, "\n{file}: {more} more error{} not shown", plural(more));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn render_one(out: &mut String, file: &str, src: &str, index: &LineIndex, err: &ScriptError, color: bool) {
    let (line, col) = index.line_col(src, err.span.start);
    let message = escape_controls(&err.message);
    if color {
        let _ = writeln!(out, "{file}:{line}:{col}: \x1b[1;31merror\x1b[0m: {message}");
    } else {
        let _ = writeln!(out, "{file}:{line}:{col}: error: {message}");
    }

    let full = index.line_range(src, line);
    let start = err.span.start.clamp(full.start, full.end);
    let end = err.span.end.clamp(start, full.end);
    // A very long line is shown as a window around the error.
    let mut range = full.clone();
    if range.len() > MAX_SHOWN_LINE {
        range.start = char_floor(src, start.saturating_sub(MAX_SHOWN_LINE / 4).max(full.start));
        range.end = char_floor(src, (range.start + MAX_SHOWN_LINE).min(full.end));
    }
    let end = end.min(range.end);
    let text = src.get(range.clone()).unwrap_or("");
    let (mut shown, at) = display_line(text, start - range.start);
    let (_, mut at_end) = display_line(text, end - range.start);
    if at_end <= at {
        // An empty span (an insertion point) is underlined as one character;
        // at the end of the line, a space stands for the missing token.
        if at >= shown.len() {
            shown.push(' ');
        }
        at_end = at + shown.get(at..).and_then(|t| t.chars().next()).map_or(1, char::len_utf8);
    }
    let diag = Rendered {
        message,
        line: ShownLine { text: shown, line: (line as usize).saturating_sub(1) },
        at: SourceSpan::new(at.into(), at_end.saturating_sub(at)),
        help: err.help.as_deref().map(escape_controls),
    };
    let theme = if color { GraphicalTheme::ascii() } else { GraphicalTheme::none() };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(0)
        .with_wrap_lines(false)
        .with_width(usize::MAX / 2)
        .with_links(false)
        .without_cause_chain()
        .without_syntax_highlighting();
    let mut report = String::new();
    if handler.render_report(&mut report, &diag).is_err() {
        return;
    }
    // miette's first line is `  x MESSAGE`, already in the header above.
    let body = report.split_once('\n').map_or("", |(_, rest)| rest);
    out.push_str(body);
}

/// The longest source line shown under an error, in bytes; longer lines
/// are shown as a window around the error.
const MAX_SHOWN_LINE: usize = 160;

/// The largest char boundary of `s` at or below `i`.
fn char_floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Control characters (which may come from the script) written as escapes,
/// so that messages cannot move the cursor or change colours.
fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// The line as displayed (tabs as four spaces, other control characters as
/// `?`), and the byte offset in it of byte offset `at` of `text`.
fn display_line(text: &str, at: usize) -> (String, usize) {
    let mut shown = String::with_capacity(text.len());
    let mut at_shown = None;
    for (i, c) in text.char_indices() {
        if i >= at && at_shown.is_none() {
            at_shown = Some(shown.len());
        }
        match c {
            '\t' => shown.push_str("    "),
            c if c.is_control() => shown.push('?'),
            c => shown.push(c),
        }
    }
    let end = shown.len();
    (shown, at_shown.unwrap_or(end))
}

/// The closest candidate to `name` by edit distance, if close enough to be a
/// plausible typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c, limit), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// "did you mean `X`?" for [`suggest`].
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}

/// Edit distance counting an adjacent transposition as one edit (optimal
/// string alignment, `strsim::osa_distance`), capped at `limit + 1`. Names
/// whose lengths differ by more than `limit` are not compared at all, so a
/// huge identifier costs nothing.
fn edit_distance(a: &str, b: &str, limit: usize) -> usize {
    if a.chars().count().abs_diff(b.chars().count()) > limit {
        return limit + 1;
    }
    strsim::osa_distance(a, b).min(limit + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = "ab\n\u{e9}\u{e9}x\n";
        let idx = LineIndex::new(src);
        assert_eq!(idx.line_col(src, 0), (1, 1));
        assert_eq!(idx.line_col(src, 3), (2, 1));
        // `x` is after two 2-byte characters.
        assert_eq!(idx.line_col(src, 7), (2, 3));
        assert_eq!(idx.line_col(src, src.len()), (3, 1));
    }

    #[test]
    fn line_range_strips_cr() {
        let src = "one\r\ntwo";
        let idx = LineIndex::new(src);
        assert_eq!(&src[idx.line_range(src, 1)], "one");
        assert_eq!(&src[idx.line_range(src, 2)], "two");
        assert_eq!(idx.line_range(src, 9), 8..8);
    }

    #[test]
    fn renders_exactly() {
        let src = "domain host native\n\tp: x(FOO)\n";
        let at = src.find("FOO").expect("test");
        let err = ScriptError::new(Span::new(at, at + 3), "unknown constant `FOO`").with_help("did you mean `FOB`?");
        // Header by hand, then miette's ASCII theme: the snippet box, one
        // line numbered as in the script, the underline, the help.
        let expected = concat!(
            "t.mms:2:7: error: unknown constant `FOO`\n",
            "   ,----\n",
            " 2 |     p: x(FOO)\n",
            "   :          ^^^\n",
            "   `----\n",
            "  help: did you mean `FOB`?\n",
        );
        assert_eq!(render("t.mms", src, &[err], false), expected);
    }

    #[test]
    fn empty_span_at_end_of_line_gets_one_caret() {
        let src = "p: f(\n";
        let err = ScriptError::new(Span::point(5), "expected `)`");
        let expected = "t:1:6: error: expected `)`\n   ,----\n 1 | p: f( \n   :      ^\n   `----\n";
        assert_eq!(render("t", src, &[err], false), expected);
    }

    #[test]
    fn very_long_line_is_windowed() {
        let src = format!("p: {}BAD{}\n", "x".repeat(100_000), "y".repeat(100_000));
        let at = src.find("BAD").expect("test");
        let err = ScriptError::new(Span::new(at, at + 3), "bad");
        let out = render("t", &src, &[err], false);
        assert!(out.len() < 1000, "{} bytes", out.len());
        assert!(out.starts_with("t:1:100004: error: bad\n"), "{out}");
        let snippet = out.lines().nth(2).expect("snippet line");
        let under = out.lines().nth(3).expect("underline");
        let col = snippet.find("BAD").expect("window holds the error");
        assert_eq!(under.find('^'), Some(col), "{out}");
        assert_eq!(under.matches('^').count(), 3, "{out}");
    }

    #[test]
    fn control_characters_in_the_line_are_shown_as_question_marks() {
        let src = "a\x1bb\tc";
        let err = ScriptError::new(Span::new(4, 5), "x");
        let out = render("t", src, &[err], false);
        assert!(out.starts_with("t:1:5: error: x\n"), "{out}");
        assert!(out.contains(" 1 | a?b    c\n   :        ^\n"), "{out}");
    }

    #[test]
    fn control_characters_are_escaped() {
        let err = ScriptError::new(Span::new(0, 1), "unknown escape `\\\x1b`").with_help("bell\x07");
        let out = render("t", "\x1b[31m", &[err], false);
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("unknown escape `\\\\u{1b}`"), "{out:?}");
    }

    #[test]
    fn colour_only_when_asked() {
        let err = ScriptError::new(Span::new(0, 1), "x");
        assert!(!render("t", "a", std::slice::from_ref(&err), false).contains('\x1b'));
        assert!(render("t", "a", &[err], true).contains("\x1b[1;31m"));
    }

    #[test]
    fn caps_the_number_of_rendered_errors() {
        let errs: Vec<_> = (0..25).map(|i| ScriptError::new(Span::point(i), "e")).collect();
        let out = render("t", &"x".repeat(30), &errs, false);
        assert_eq!(out.matches(": error: e").count(), MAX_RENDERED_ERRORS);
        assert!(out.ends_with("t: 5 more errors not shown\n"), "{out}");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("PROT_RAED", ["PROT_READ", "PROT_WRITE"]), Some("PROT_READ"));
        assert_eq!(suggest("zzzz", ["PROT_READ"]), None);
        assert_eq!(edit_distance("kitten", "sitting", 5), 3);
        assert_eq!(edit_distance("pagse", "pages", 5), 1);
        assert_eq!(suggest("mpas", ["maps", "smaps"]), Some("maps"));
    }
}
