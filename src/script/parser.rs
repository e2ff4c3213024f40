//! Line-oriented parser: one statement per line.
//!
//! A line that fails to parse yields one error and a `StmtKind::Broken`
//! statement; parsing goes on with the next line, so that one run reports
//! the errors of every line.

use super::ast::{
    ActionStmt, DomainKind, Expected, ExpectedKind, Expr, ExprKind, Name, Script, Show, SigCode, Signal, Span, Spanned,
    Stmt, StmtKind,
};
use super::diag::{ScriptError, did_you_mean};
use super::lexer::{Tok, Token, comment_start, lex_line_into};
use super::value::{Env, Ty, Value, eval, infer};

pub type PResult<T> = Result<T, ScriptError>;

/// Statement keywords; they cannot be used as names.
pub const KEYWORDS: &[&str] = &["kernel", "machine", "domain", "process", "file", "disk", "show", "check", "expect"];

/// Other reserved words.
pub const RESERVED: &[&str] = &["in", "NULL", "ok", "SIGSEGV", "SIGBUS"];

/// What `show` can show: the word after `show`.
pub const SHOW_WHAT: &[&str] =
    &["maps", "smaps", "pagemap", "pagetable", "grants", "page", "log", "p2m", "m2p", "override", "picture"];

/// Parses a whole file. Always returns a script (with `Broken` statements
/// for lines in error) and the errors found, in source order.
pub fn parse(file: &str, src: &str) -> (Script, Vec<ScriptError>) {
    let mut stmts = Vec::new();
    let mut errors = Vec::new();
    let mut start = 0;
    let mut toks = Vec::new();
    if src.len() > super::MAX_SOURCE_BYTES {
        let msg = format!(
            "the script is larger than {} bytes (16 MiB), the limit (MAX_SOURCE_BYTES)",
            super::MAX_SOURCE_BYTES
        );
        errors.push(ScriptError::new(Span::new(0, 0), msg));
        return (Script { file: file.to_owned(), src: String::new(), stmts }, errors);
    }
    for (idx, raw) in src.split('\n').enumerate() {
        let line = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let end = start + raw.len();
        let content_end = if raw.ends_with('\r') { end - 1 } else { end };
        let parsed = parse_line(src, start, content_end, &mut toks);
        if stmts.len() >= super::MAX_STATEMENTS && !matches!(parsed, Ok(None)) {
            let msg = format!("more than {} statements, the limit (MAX_STATEMENTS)", super::MAX_STATEMENTS);
            errors.push(ScriptError::new(Span::new(start, content_end), msg));
            break;
        }
        match parsed {
            Ok(None) => {}
            Ok(Some((span, kind))) => stmts.push(Stmt { span, line, kind }),
            Err(err) => {
                let names = salvage_names(&src[start..content_end]);
                let span = Span::new(start, content_end);
                stmts.push(Stmt { span, line, kind: StmtKind::Broken { names } });
                errors.push(err);
            }
        }
        start = end + 1;
    }
    (Script { file: file.to_owned(), src: src.to_owned(), stmts }, errors)
}

/// The first whitespace-separated word of `src[start..end]` and where it starts.
fn first_word(src: &str, start: usize, end: usize) -> Option<(usize, &str)> {
    words(src, start, end).next()
}

/// Whitespace-separated words of `src[start..end]` with their offsets.
fn words(src: &str, start: usize, end: usize) -> impl Iterator<Item = (usize, &str)> {
    let text = &src[start..end];
    text.split(|c: char| c.is_ascii_whitespace())
        .scan(start, |pos, w| {
            let at = *pos;
            *pos += w.len() + 1;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
}

fn parse_line(src: &str, start: usize, end: usize, toks: &mut Vec<Token>) -> PResult<Option<(Span, StmtKind)>> {
    let code_end = comment_start(src, start, end);
    if first_word(src, start, code_end).is_some_and(|(_, w)| w == "kernel") {
        let (span, variant, unmap) = kernel_words(src, start, code_end, true)?;
        return Ok(Some((span, StmtKind::Kernel { variant, unmap })));
    }
    if first_word(src, start, code_end).is_some_and(|(_, w)| w == "expect") {
        let (span, names) = expect_words(src, start, code_end)?;
        return Ok(Some((span, StmtKind::ExpectViolations { names })));
    }
    lex_line_into(src, start, end, toks)?;
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
        return Ok(None);
    };
    let span = first.span.to(last.span);
    let mut c = Cursor { src, toks, pos: 0 };
    let kind = statement(&mut c)?;
    Ok(Some((span, kind)))
}

/// Splits a `kernel` line (or, with `keyword: false`, the words of
/// `--kernel`) into the variant word and the `unmap=` value.
pub fn kernel_words(src: &str, start: usize, end: usize, keyword: bool) -> PResult<(Span, Name, Option<Name>)> {
    let mut ws = words(src, start, end);
    let first = if keyword { ws.next() } else { None };
    let Some((at, variant)) = ws.next() else {
        let at = first.map_or(start, |(at, w)| at + w.len());
        return Err(ScriptError::new(Span::point(at), "expected a kernel variant").with_help(variant_help()));
    };
    let variant = Spanned::new(variant.to_owned(), Span::new(at, at + variant.len()));
    let mut span = Span::new(first.map_or(at, |(a, _)| a), variant.span.end);
    let mut unmap: Option<Name> = None;
    for (at, w) in ws {
        let wspan = Span::new(at, at + w.len());
        span = span.to(wspan);
        match w.strip_prefix("unmap=") {
            Some(_) if unmap.is_some() => {
                return Err(ScriptError::new(wspan, "`unmap=` given twice"));
            }
            Some(value) => {
                let vat = at + "unmap=".len();
                unmap = Some(Spanned::new(value.to_owned(), Span::new(vat, vat + value.len())));
            }
            None => {
                return Err(ScriptError::new(wspan, format!("unknown kernel option `{w}`"))
                    .with_help("the only option is unmap=deferred|immediate|async"));
            }
        }
    }
    Ok((span, variant, unmap))
}

/// Splits an `expect violation NAME...` / `expect violations none` line
/// into the invariant names (raw words, as for `kernel`: they hold `-`).
fn expect_words(src: &str, start: usize, end: usize) -> PResult<(Span, Vec<Name>)> {
    let mut ws = words(src, start, end);
    let Some((kat, kw)) = ws.next() else {
        return Err(ScriptError::new(Span::point(start), "expected `expect`"));
    };
    let mut span = Span::new(kat, kat + kw.len());
    let help =
        "write `expect violation INVARIANT...` (e.g. `expect violation gup-wrong-page`) or `expect violations none`";
    match ws.next() {
        Some((_, "violation" | "violations")) => {}
        Some((at, w)) => {
            return Err(ScriptError::new(Span::new(at, at + w.len()), format!("expected `violation`, found `{w}`"))
                .with_help(help));
        }
        None => return Err(ScriptError::new(Span::point(span.end), "expected `violation`").with_help(help)),
    }
    let mut names: Vec<Name> = Vec::new();
    let mut none = None;
    for (at, w) in ws {
        for (off, part) in w.split(',').scan(0, |o, p| {
            let at = *o;
            *o += p.len() + 1;
            Some((at, p))
        }) {
            if part.is_empty() {
                continue;
            }
            let wspan = Span::new(at + off, at + off + part.len());
            span = span.to(wspan);
            if part == "none" {
                none = Some(wspan);
            } else {
                names.push(Spanned::new(part.to_owned(), wspan));
            }
        }
    }
    match none {
        Some(s) if !names.is_empty() => {
            Err(ScriptError::new(s, "`none` cannot stand beside invariant names").with_help(help))
        }
        None if names.is_empty() => {
            Err(ScriptError::new(Span::point(span.end), "expected an invariant name or `none`").with_help(help))
        }
        _ => Ok((span, names)),
    }
}

pub fn variant_help() -> String {
    "variants are find-special-page, m2p-override, no-special-pte, no-find-special-page".to_owned()
}

/// Names a broken line seems to declare or bind (`domain NAME ...`,
/// `ACTOR: NAME = ...`), so that their later uses are not reported again.
fn salvage_names(text: &str) -> Vec<String> {
    let ident = |s: &str| -> Option<String> {
        let s = s.trim_start();
        let n: String = s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        (!n.is_empty()).then_some(n)
    };
    let mut ws = text.split_ascii_whitespace();
    if let Some(kw) = ws.next()
        && matches!(kw, "domain" | "process" | "file" | "disk")
    {
        return ws.next().and_then(ident).into_iter().collect();
    }
    if let Some((_, rest)) = text.split_once(':')
        && let Some((lhs, _)) = rest.split_once('=')
        && !lhs.contains('(')
    {
        return ident(lhs).into_iter().collect();
    }
    Vec::new()
}

/// A cursor over one line's tokens.
pub(super) struct Cursor<'a> {
    pub(super) src: &'a str,
    pub(super) toks: &'a [Token],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.pos)
    }

    pub(super) fn peek_nth(&self, n: usize) -> Option<&'a Token> {
        self.toks.get(self.pos + n)
    }

    pub(super) fn bump(&mut self) -> Option<&'a Token> {
        let t = self.toks.get(self.pos);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub(super) fn at(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| &t.tok == tok)
    }

    pub(super) fn eat(&mut self, tok: &Tok) -> Option<Span> {
        if self.at(tok) { self.bump().map(|t| t.span) } else { None }
    }

    pub(super) fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// An empty span just after the last token of the line.
    fn end_point(&self) -> Span {
        Span::point(self.toks.last().map_or(0, |t| t.span.end))
    }

    fn describe_found(&self, t: &Token) -> String {
        match t.tok {
            Tok::Ident | Tok::Int(_) => {
                let text = self.text(t.span);
                if text.len() > 40 { t.tok.describe().to_owned() } else { format!("`{text}`") }
            }
            _ => t.tok.describe().to_owned(),
        }
    }

    /// "expected WHAT, found X" at the current token (or at the end of the line).
    pub(super) fn expected(&self, what: &str) -> ScriptError {
        match self.peek() {
            Some(t) => ScriptError::new(t.span, format!("expected {what}, found {}", self.describe_found(t))),
            None => ScriptError::new(self.end_point(), format!("expected {what} at the end of the line")),
        }
    }

    pub(super) fn expect(&mut self, tok: &Tok, what: &str) -> PResult<Span> {
        self.eat(tok).ok_or_else(|| self.expected(what))
    }

    pub(super) fn ident(&mut self, what: &str) -> PResult<Name> {
        match self.peek() {
            Some(t) if t.tok == Tok::Ident => {
                self.pos += 1;
                Ok(Spanned::new(self.text(t.span).to_owned(), t.span))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Like `ident`, for a word that must be one of `words`.
    fn word(&mut self, words: &[&str], what: &str) -> PResult<Name> {
        let name = self.ident(what)?;
        if words.contains(&name.node.as_str()) {
            Ok(name)
        } else {
            Err(ScriptError::new(name.span, format!("expected {what}, found `{}`", name.node))
                .with_opt_help(did_you_mean(&name.node, words.iter().copied())))
        }
    }

    fn expect_end(&self) -> PResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(t) => {
                Err(ScriptError::new(t.span, format!("expected the end of the line, found {}", self.describe_found(t))))
            }
        }
    }
}

fn statement(c: &mut Cursor) -> PResult<StmtKind> {
    let Some(first) = c.peek() else {
        return Err(c.expected("a statement"));
    };
    if first.tok != Tok::Ident {
        return Err(c.expected("a statement"));
    }
    if c.peek_nth(1).is_some_and(|t| t.tok == Tok::Colon) {
        return action(c).map(StmtKind::Action);
    }
    let keyword = c.text(first.span);
    match keyword {
        "machine" => machine(c),
        "domain" => domain(c),
        "process" => process(c),
        "file" | "disk" => file_or_disk(c),
        "show" => show(c).map(StmtKind::Show),
        "check" => {
            c.bump();
            c.expect_end()?;
            Ok(StmtKind::Check)
        }
        other => {
            let help = did_you_mean(other, KEYWORDS.iter().copied()).unwrap_or_else(|| {
                "a line is a setup statement (kernel, machine, domain, process, file, disk), \
                 `show ...`, `check`, or `ACTOR: CALL(...)`"
                    .to_owned()
            });
            Err(ScriptError::new(first.span, format!("unknown statement `{other}`")).with_help(help))
        }
    }
}

/// `key=value` and flag options after a setup statement.
struct Opt {
    key: Name,
    value: Option<Expr>,
}

fn options(c: &mut Cursor) -> PResult<Vec<Opt>> {
    let mut opts: Vec<Opt> = Vec::new();
    while !c.at_end() {
        let key = c.ident("an option")?;
        if opts.iter().any(|o| o.key.node == key.node) {
            return Err(ScriptError::new(key.span, format!("option `{}` given twice", key.node)));
        }
        let value = if c.eat(&Tok::Eq).is_some() { Some(c.expr()?) } else { None };
        opts.push(Opt { key, value });
    }
    Ok(opts)
}

/// Option names a statement accepts: `(name, takes_value)`.
type OptSpec = &'static [(&'static str, bool)];

/// Validates `opts` against `spec` and returns, per spec entry, the value
/// (for `key=value`) or the key's span (for flags).
fn take_options(stmt: &str, opts: Vec<Opt>, spec: OptSpec) -> PResult<Vec<Option<Spanned<u64>>>> {
    let mut out = vec![None; spec.len()];
    let listing = || {
        let parts: Vec<String> =
            spec.iter().map(|(n, v)| if *v { format!("{n}=N") } else { (*n).to_owned() }).collect();
        if parts.is_empty() {
            format!("`{stmt}` takes no options")
        } else {
            format!("`{stmt}` takes {}", parts.join(", "))
        }
    };
    for opt in opts {
        let Some(i) = spec.iter().position(|(n, _)| *n == opt.key.node) else {
            let help = did_you_mean(&opt.key.node, spec.iter().map(|(n, _)| *n)).unwrap_or_else(listing);
            return Err(ScriptError::new(opt.key.span, format!("unknown option `{}`", opt.key.node)).with_help(help));
        };
        out[i] = Some(match (spec[i].1, opt.value) {
            (true, Some(value)) => Spanned::new(const_u64(&value)?, value.span),
            (true, None) => {
                return Err(ScriptError::new(opt.key.span, format!("`{}` needs a value", opt.key.node))
                    .with_help(format!("write {}=N", opt.key.node)));
            }
            (false, None) => Spanned::new(1, opt.key.span),
            (false, Some(value)) => {
                return Err(ScriptError::new(value.span, format!("`{}` takes no value", opt.key.node)));
            }
        });
    }
    Ok(out)
}

/// Evaluates an option value, which must be a constant number.
fn const_u64(expr: &Expr) -> PResult<u64> {
    if let Some(name) = first_name(expr) {
        return Err(ScriptError::new(name.1, format!("`{}` is not a constant", name.0))
            .with_help("option values are numbers and constants"));
    }
    let ty = infer(expr, &|_| Ty::Unknown)?;
    if ty != Ty::Int {
        return Err(ScriptError::new(expr.span, format!("expected a number, found {}", ty.describe())));
    }
    match eval(expr, &Env::new())? {
        Value::Int(v) => Ok(v),
        other => Err(ScriptError::new(expr.span, format!("expected a number, found {}", other.ty().describe()))),
    }
}

/// The first unresolved name in `expr`, if any.
fn first_name(expr: &Expr) -> Option<(&str, Span)> {
    match &expr.kind {
        ExprKind::Name(n) | ExprKind::Var(n) => Some((n, expr.span)),
        ExprKind::Neg(e) => first_name(e),
        ExprKind::Binary { lhs, rhs, .. } => first_name(lhs).or_else(|| first_name(rhs)),
        ExprKind::List(items) => items.iter().find_map(first_name),
        _ => None,
    }
}

/// The options of a `machine` line: numbers for `frames` and
/// `max_map_count`, words for the rest.
const MACHINE_OPTIONS: [&str; 5] = ["frames", "pkeys", "thp", "max_map_count", "overcommit"];

fn machine(c: &mut Cursor) -> PResult<StmtKind> {
    use crate::kernel::config::{Overcommit, ThpEnabled};
    c.bump();
    let (mut frames, mut pkeys, mut thp, mut max_map_count, mut overcommit) = (None, None, None, None, None);
    for opt in options(c)? {
        let key = opt.key.node.as_str();
        if !MACHINE_OPTIONS.contains(&key) {
            let help = did_you_mean(key, MACHINE_OPTIONS.iter().copied()).unwrap_or_else(|| {
                "`machine` takes frames=N, pkeys=on|off, thp=always|madvise|never, max_map_count=N, \
                 overcommit=heuristic|always|never"
                    .to_string()
            });
            return Err(ScriptError::new(opt.key.span, format!("unknown option `{key}`")).with_help(help));
        }
        let Some(value) = opt.value else {
            return Err(ScriptError::new(opt.key.span, format!("`{key}` needs a value")));
        };
        match key {
            "frames" => frames = Some(Spanned::new(const_u64(&value)?, value.span)),
            "max_map_count" => max_map_count = Some(Spanned::new(const_u64(&value)?, value.span)),
            "pkeys" => {
                let on = option_word(&value, &[("on", true), ("off", false)], "pkeys=on|off")?;
                pkeys = Some(Spanned::new(on, value.span));
            }
            "thp" => {
                thp =
                    Some(Spanned::new(option_word(&value, &ThpEnabled::NAMES, "thp=always|madvise|never")?, value.span))
            }
            _ => {
                let w = option_word(&value, &Overcommit::NAMES, "overcommit=heuristic|always|never")?;
                overcommit = Some(Spanned::new(w, value.span));
            }
        }
    }
    Ok(StmtKind::Machine { frames, pkeys, thp, max_map_count, overcommit })
}

/// An option value that must be one of `words`.
fn option_word<T: Copy>(value: &Expr, words: &[(&str, T)], form: &str) -> PResult<T> {
    let word = match &value.kind {
        ExprKind::Name(n) | ExprKind::Var(n) => Some(n.as_str()),
        _ => None,
    };
    match word.and_then(|w| words.iter().find(|(n, _)| *n == w)) {
        Some((_, t)) => Ok(*t),
        None => Err(ScriptError::new(value.span, "unknown value").with_help(format!("write {form}"))),
    }
}

fn domain(c: &mut Cursor) -> PResult<StmtKind> {
    c.bump();
    let name = c.ident("a domain name")?;
    let kind_word = c.word(&["native", "pv"], "`native` or `pv`")?;
    let kind = if kind_word.node == "pv" { DomainKind::Pv } else { DomainKind::Native };
    let opts = options(c)?;
    let vals = take_options("domain", opts, &[("pages", true), ("privileged", false)])?;
    Ok(StmtKind::Domain {
        name,
        kind: Spanned::new(kind, kind_word.span),
        pages: vals[0].clone(),
        privileged: vals[1].as_ref().map(|v| v.span),
    })
}

fn entity_in_domain(c: &mut Cursor, what: &str) -> PResult<(Name, Name)> {
    c.bump();
    let name = c.ident(&format!("a {what} name"))?;
    c.word(&["in"], "`in`")?;
    let domain = c.ident("a domain name")?;
    Ok((name, domain))
}

fn process(c: &mut Cursor) -> PResult<StmtKind> {
    let (name, domain) = entity_in_domain(c, "process")?;
    let opts = options(c)?;
    let vals = take_options("process", opts, &[("uid", true), ("mmap_base", true), ("brk", true)])?;
    let mut vals = vals.into_iter();
    Ok(StmtKind::Process {
        name,
        domain,
        uid: vals.next().flatten(),
        mmap_base: vals.next().flatten(),
        brk: vals.next().flatten(),
    })
}

fn file_or_disk(c: &mut Cursor) -> PResult<StmtKind> {
    let is_file = c.peek().is_some_and(|t| c.text(t.span) == "file");
    let what = if is_file { "file" } else { "disk" };
    let (name, domain) = entity_in_domain(c, what)?;
    let opts = options(c)?;
    let spec: OptSpec = if is_file { &[("size", true)] } else { &[("sectors", true)] };
    let value = take_options(what, opts, spec)?.into_iter().next().flatten();
    Ok(if is_file {
        StmtKind::File { name, domain, size: value }
    } else {
        StmtKind::Disk { name, domain, sectors: value }
    })
}

fn show(c: &mut Cursor) -> PResult<Show> {
    c.bump();
    let what = c.word(
        SHOW_WHAT,
        "what to show (maps, smaps, pagemap, pagetable, grants, page, log, p2m, m2p, override, picture)",
    )?;
    let show = match what.node.as_str() {
        "maps" => Show::Maps(c.ident("a process name")?),
        "smaps" => Show::Smaps(c.ident("a process name")?),
        "pagemap" => {
            let process = c.ident("a process name")?;
            let addr = c.expr()?;
            let len = c.expr()?;
            Show::Pagemap { process, addr, len }
        }
        "pagetable" => {
            let process = c.ident("a process name")?;
            Show::Pagetable { process, addr: c.expr()? }
        }
        "grants" => Show::Grants(c.ident("a domain name")?),
        "log" => Show::Log(c.ident("a domain name")?),
        "override" => Show::Override(c.ident("a domain name")?),
        "p2m" => {
            let domain = c.ident("a domain name")?;
            let pfn = if c.at_end() { None } else { Some(c.expr()?) };
            let count = if c.at_end() { None } else { Some(c.expr()?) };
            Show::P2m { domain, pfn, count }
        }
        "m2p" => {
            let mfn = c.expr()?;
            let count = if c.at_end() { None } else { Some(c.expr()?) };
            Show::M2p { mfn, count }
        }
        "picture" => {
            let process = c.ident("a process name")?;
            let range = if c.at_end() { None } else { Some((c.expr()?, c.expr()?)) };
            Show::Picture { process, range }
        }
        _ => {
            let domain = c.ident("a domain name")?;
            Show::Page { domain, pfn: c.expr()? }
        }
    };
    c.expect_end()?;
    Ok(show)
}

fn action(c: &mut Cursor) -> PResult<ActionStmt> {
    let actor = c.ident("an actor")?;
    c.expect(&Tok::Colon, "`:`")?;
    let bind = if c.peek().is_some_and(|t| t.tok == Tok::Ident) && c.peek_nth(1).is_some_and(|t| t.tok == Tok::Eq) {
        let name = c.ident("a variable")?;
        c.bump();
        Some(name)
    } else {
        None
    };
    let call = c.ident("a call")?;
    c.expect(&Tok::LParen, "`(`")?;
    let mut args = Vec::new();
    let close_paren = loop {
        if let Some(close) = c.eat(&Tok::RParen) {
            if !args.is_empty() {
                // Only reachable after a trailing comma.
                return Err(ScriptError::new(close, "expected an argument after `,`"));
            }
            break close;
        }
        args.push(c.expr()?);
        if let Some(close) = c.eat(&Tok::RParen) {
            break close;
        }
        c.expect(&Tok::Comma, "`,` or `)`")?;
        if c.at(&Tok::RParen) {
            return Err(c.expected("an argument after `,`"));
        }
    };
    let expect = if c.eat(&Tok::Eq).is_some() { Some(expected(c)?) } else { None };
    c.expect_end()?;
    Ok(ActionStmt { actor, bind, call, args, close_paren, expect })
}

fn expected(c: &mut Cursor) -> PResult<Expected> {
    let Some(t) = c.peek() else {
        return Err(c.expected("an expected result after `=`"));
    };
    let text = c.text(t.span);
    if t.tok == Tok::Ident && text == "ok" {
        c.bump();
        return Ok(Expected { span: t.span, kind: ExpectedKind::Ok });
    }
    if t.tok == Tok::Ident && text == "HUNG" {
        c.bump();
        return Ok(Expected { span: t.span, kind: ExpectedKind::Hung });
    }
    if t.tok == Tok::Ident && text == "KILLED" {
        c.bump();
        return Ok(Expected { span: t.span, kind: ExpectedKind::Killed });
    }
    if t.tok == Tok::Ident && text.starts_with("SIG") && !text.contains(|ch: char| ch.is_ascii_lowercase()) {
        return signal(c);
    }
    let e = c.expr()?;
    Ok(Expected { span: e.span, kind: ExpectedKind::Value(e) })
}

fn signal(c: &mut Cursor) -> PResult<Expected> {
    let name = c.ident("a signal")?;
    let Some(signal) = Signal::from_name(&name.node) else {
        return Err(ScriptError::new(name.span, format!("unknown signal `{}`", name.node))
            .with_help("user accesses raise SIGSEGV or SIGBUS"));
    };
    let mut span = name.span;
    let code = if c.eat(&Tok::Colon).is_some() {
        let word = c.ident("a signal code")?;
        span = span.to(word.span);
        let Some(code) = SigCode::for_signal(signal, &word.node) else {
            let codes: Vec<&str> = signal.codes().iter().map(|c| c.name()).collect();
            return Err(ScriptError::new(word.span, format!("`{}` is not a {} code", word.node, signal.name()))
                .with_help(format!("{} codes are {}", signal.name(), codes.join(", "))));
        };
        Some(Spanned::new(code, word.span))
    } else {
        None
    };
    let addr = if c.eat(&Tok::At).is_some() {
        let e = c.expr()?;
        span = span.to(e.span);
        Some(e)
    } else {
        None
    };
    Ok(Expected { span, kind: ExpectedKind::Signal { signal, code, addr } })
}

#[cfg(test)]
mod tests;
