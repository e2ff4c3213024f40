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
                    .with_help("the only option is unmap=deferred|immediate"));
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
mod tests {
    use super::*;

    fn one(src: &str) -> StmtKind {
        let (script, errors) = parse("t", src);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(script.stmts.len(), 1);
        script.stmts.into_iter().next().expect("test").kind
    }

    fn err(src: &str) -> ScriptError {
        let (_, errors) = parse("t", src);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().expect("test")
    }

    #[test]
    fn setup_statements() {
        match one("domain dom0 pv pages=4K privileged # c") {
            StmtKind::Domain { name, kind, pages, privileged } => {
                assert_eq!(name.node, "dom0");
                assert_eq!(kind.node, DomainKind::Pv);
                assert_eq!(pages.map(|p| p.node), Some(4096));
                assert!(privileged.is_some());
            }
            other => panic!("{other:?}"),
        }
        match one("process p in host mmap_base=0x7e0040000000 uid=1000") {
            StmtKind::Process { uid, mmap_base, brk, .. } => {
                assert_eq!(uid.map(|v| v.node), Some(1000));
                assert_eq!(mmap_base.map(|v| v.node), Some(0x7e00_4000_0000));
                assert_eq!(brk, None);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(one("machine frames=1M"), StmtKind::Machine { frames: Some(f), .. } if f.node == 1 << 20));
        match one("machine pkeys=off thp=never max_map_count=100 overcommit=always") {
            StmtKind::Machine { frames: None, pkeys, thp, max_map_count, overcommit } => {
                assert_eq!(pkeys.map(|p| p.node), Some(false));
                assert_eq!(thp.map(|t| t.node), Some(crate::kernel::config::ThpEnabled::Never));
                assert_eq!(max_map_count.map(|m| m.node), Some(100));
                assert_eq!(overcommit.map(|o| o.node), Some(crate::kernel::config::Overcommit::Always));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err("machine pkeys=maybe").message, "unknown value");
        assert_eq!(err("machine pkey=on").help.as_deref(), Some("did you mean `pkeys`?"));
        assert!(matches!(one("disk xvda in dom0 sectors=8"), StmtKind::Disk { sectors: Some(s), .. } if s.node == 8));
        assert!(matches!(one("file f in dom0"), StmtKind::File { size: None, .. }));
        assert!(matches!(one("check"), StmtKind::Check));
    }

    #[test]
    fn xen_table_and_picture_shows() {
        assert!(matches!(one("show p2m d"), StmtKind::Show(Show::P2m { pfn: None, count: None, .. })));
        assert!(matches!(one("show p2m d 0x10 4"), StmtKind::Show(Show::P2m { pfn: Some(_), count: Some(_), .. })));
        assert!(matches!(one("show m2p 0x4002"), StmtKind::Show(Show::M2p { count: None, .. })));
        assert!(matches!(one("show override d"), StmtKind::Show(Show::Override(_))));
        assert!(matches!(one("show picture p"), StmtKind::Show(Show::Picture { range: None, .. })));
        assert!(matches!(one("show picture p a 8K"), StmtKind::Show(Show::Picture { range: Some(_), .. })));
        assert_eq!(err("show picture p a").message, "expected an expression at the end of the line");
        assert!(err("show m2p").message.starts_with("expected"));
    }

    #[test]
    fn expect_violation_lines() {
        let names = |src: &str| match one(src) {
            StmtKind::ExpectViolations { names } => names.into_iter().map(|n| n.node).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(names("expect violation gup-wrong-page # why"), ["gup-wrong-page"]);
        assert_eq!(names("expect violations gup-wrong-page, dma-misdirected"), ["gup-wrong-page", "dma-misdirected"]);
        assert!(names("expect violations none").is_empty());
        assert_eq!(err("expect").message, "expected `violation`");
        assert_eq!(err("expect violation").message, "expected an invariant name or `none`");
        assert_eq!(err("expect nothing").span, Span::new(7, 14));
        assert!(err("expect violations none gup-wrong-page").message.contains("`none` cannot"));
    }

    #[test]
    fn kernel_line_keeps_raw_words() {
        match one("kernel find-special-page unmap=immediate # x") {
            StmtKind::Kernel { variant, unmap } => {
                assert_eq!(variant.node, "find-special-page");
                assert_eq!(variant.span, Span::new(7, 24));
                let unmap = unmap.expect("test");
                assert_eq!(unmap.node, "immediate");
                assert_eq!(unmap.span, Span::new(31, 40));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err("kernel").message, "expected a kernel variant");
        assert_eq!(err("kernel m2p-override fast").span, Span::new(20, 24));
    }

    #[test]
    fn actions() {
        match one("qemu: off = ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, domU, [g]) = ok") {
            StmtKind::Action(a) => {
                assert_eq!(a.actor.node, "qemu");
                assert_eq!(a.bind.map(|b| b.node), Some("off".to_owned()));
                assert_eq!(a.call.node, "ioctl");
                assert_eq!(a.args.len(), 4);
                assert!(matches!(a.expect.map(|e| e.kind), Some(ExpectedKind::Ok)));
            }
            other => panic!("{other:?}"),
        }
        match one("p: munlockall()") {
            StmtKind::Action(a) => {
                assert!(a.args.is_empty() && a.bind.is_none() && a.expect.is_none())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expectations() {
        let expect = |src: &str| match one(src) {
            StmtKind::Action(a) => a.expect.expect("test").kind,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            expect("p: store(a, \"x\") = SIGSEGV"),
            ExpectedKind::Signal { signal: Signal::Segv, code: None, addr: None }
        ));
        match expect("p: store(a + 4K, \"x\") = SIGSEGV:accerr@0x7e003ffff000") {
            ExpectedKind::Signal { signal, code, addr } => {
                assert_eq!(signal, Signal::Segv);
                assert_eq!(code.map(|c| c.node), Some(SigCode::Accerr));
                assert_eq!(addr.map(|a| a.kind), Some(ExprKind::Int(0x7e00_3fff_f000)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            expect("p: touch(a, 1, r) = SIGBUS:adrerr"),
            ExpectedKind::Signal { signal: Signal::Bus, .. }
        ));
        assert!(matches!(
            expect("p: mmap(0,0,0,0,0,0) = -EINVAL"),
            ExpectedKind::Value(Expr { kind: ExprKind::Neg(_), .. })
        ));
        assert!(matches!(
            expect("d: read_page(p, 0, 4) = x\"5a5a5a5a\""),
            ExpectedKind::Value(Expr { kind: ExprKind::Bytes(_), .. })
        ));
        assert_eq!(err("p: store(a, \"x\") = SIGSEGV:adrerr").message, "`adrerr` is not a SIGSEGV code");
        assert_eq!(err("p: store(a, \"x\") = SIGKILL").message, "unknown signal `SIGKILL`");
    }

    #[test]
    fn shows() {
        match one("show pagemap p a + 4K 8K") {
            StmtKind::Show(Show::Pagemap { process, addr, len }) => {
                assert_eq!(process.node, "p");
                assert!(matches!(addr.kind, ExprKind::Binary { .. }));
                assert_eq!(len.kind, ExprKind::Int(8192));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(one("show grants domU"), StmtKind::Show(Show::Grants(_))));
        assert!(matches!(one("show log dom0"), StmtKind::Show(Show::Log(_))));
        assert!(matches!(one("show page domU p"), StmtKind::Show(Show::Page { .. })));
        assert!(err("show mpas p").help.expect("test").contains("maps"));
        assert!(err("show maps").message.contains("end of the line"));
    }

    #[test]
    fn error_positions() {
        let e = err("p: mmap(NULL, 4096,, 0)");
        assert_eq!(e.span, Span::new(19, 20));
        assert_eq!(e.message, "expected an expression, found `,`");
        let e = err("p: mmap(NULL");
        assert_eq!(e.span, Span::point(12));
        assert_eq!(e.message, "expected `,` or `)` at the end of the line");
        let e = err("p: f(1,)");
        assert_eq!(e.span, Span::new(7, 8));
        let e = err("p: f(1) 2");
        assert_eq!(e.message, "expected the end of the line, found `2`");
        let e = err("domian d pv");
        assert_eq!(e.message, "unknown statement `domian`");
        assert_eq!(e.help.as_deref(), Some("did you mean `domain`?"));
        let e = err("domain d pv pagse=4");
        assert_eq!(e.help.as_deref(), Some("did you mean `pages`?"));
        assert_eq!(err("domain d pv pages").message, "`pages` needs a value");
        assert_eq!(err("domain d pv privileged=1").message, "`privileged` takes no value");
        assert_eq!(err("domain d pv pages=x").message, "`x` is not a constant");
        assert_eq!(err("domain d pv pages=\"a\"").message, "expected a number, found bytes");
        assert_eq!(err("domain d xen").message, "expected `native` or `pv`, found `xen`");
        assert_eq!(err("process p on d").message, "expected `in`, found `on`");
        assert_eq!(err("domain d pv pages=1 pages=2").message, "option `pages` given twice");
    }

    #[test]
    fn broken_lines_keep_going_and_salvage_names() {
        let (script, errors) = parse("t", "domain d pv $\np: a = f(\ncheck\n");
        assert_eq!(errors.len(), 2);
        assert!(matches!(&script.stmts[0].kind, StmtKind::Broken { names } if names == &["d"]));
        assert!(matches!(&script.stmts[1].kind, StmtKind::Broken { names } if names == &["a"]));
        assert!(matches!(script.stmts[2].kind, StmtKind::Check));
        assert_eq!(script.stmts[2].line, 3);
    }

    #[test]
    fn crlf_and_blank_lines() {
        let (script, errors) = parse("t", "\r\n  # only a comment\r\ncheck\r\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(script.stmts.len(), 1);
        assert_eq!(script.stmts[0].line, 3);
        assert_eq!(script.stmts[0].span, Span::new(22, 27));
    }
}
