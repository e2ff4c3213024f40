//! Expression parsing.
//!
//! Precedence, loosest first (all binary operators left-associative):
//!
//! | level | operators | meaning |
//! | --- | --- | --- |
//! | 1 | `\|` | bitwise or of numbers (`PROT_READ\|PROT_WRITE`) |
//! | 2 | `++` | concatenation of byte strings or lists |
//! | 3 | `+` `-` | wrapping addition and subtraction |
//! | 4 | `*` | wrapping multiplication; repetition of bytes (`x"5a" * 4096`) |
//! | 5 | unary `-` | two's complement negation (`-EINVAL`) |
//! | 6 | literals, names, `( )`, `[ , ]` | |
//!
//! So `a + 4K | 1` is `(a + 4K) | 1`, `x"00" ++ x"5a" * 2 ++ "b"` is
//! `x"00" ++ (x"5a" * 2) ++ "b"`, and `-4K * 2` is `(-4K) * 2`.
//!
//! The parser is iterative (an explicit operator stack), so it cannot
//! overflow the call stack. Nesting (parentheses, brackets, unary minus) and
//! the depth of the resulting tree are both limited to [`MAX_DEPTH`], so
//! that the later recursive walks (checking, evaluation, drop) are bounded.

use super::ast::{BinOp, Expr, ExprKind, Span};
use super::consts;
use super::diag::ScriptError;
use super::lexer::Tok;
use super::parser::{Cursor, PResult};

/// The deepest expression accepted.
pub const MAX_DEPTH: u32 = 256;

/// Binary operators with their level (higher binds tighter).
fn binop(tok: &Tok) -> Option<(u8, BinOp)> {
    Some(match tok {
        Tok::Pipe => (1, BinOp::Or),
        Tok::PlusPlus => (2, BinOp::Concat),
        Tok::Plus => (3, BinOp::Add),
        Tok::Minus => (3, BinOp::Sub),
        Tok::Star => (4, BinOp::Mul),
        _ => return None,
    })
}

fn too_deep(span: Span) -> ScriptError {
    ScriptError::new(span, format!("expression nested too deeply (the limit is {MAX_DEPTH} levels)"))
}

/// An entry of the operator stack.
enum Frame {
    /// A binary operator waiting for its right operand.
    Bin { op: BinOp, level: u8, span: Span },
    /// A unary minus waiting for its operand.
    Neg(Span),
    /// An open parenthesis.
    Paren(Span),
    /// An open bracket and the items parsed so far.
    List { open: Span, items: Vec<Expr>, depth: u32 },
}

/// An operand with the depth of its tree.
type Operand = (Expr, u32);

/// The parser state: operands and pending operators. The parser is a loop
/// over this explicit stack, not a recursion, so no input can exhaust the
/// call stack; nesting and tree depth are limited to [`MAX_DEPTH`] so that
/// later tree walks (checking, evaluation) are bounded too.
struct Shunt {
    ops: Vec<Frame>,
    out: Vec<Operand>,
    /// Open parentheses, brackets and minus signs.
    nest: u32,
}

impl Shunt {
    fn push_nested(&mut self, frame: Frame, span: Span) -> PResult<()> {
        if self.nest >= MAX_DEPTH {
            return Err(too_deep(span));
        }
        self.nest += 1;
        self.ops.push(frame);
        Ok(())
    }

    fn pop_operand(&mut self) -> PResult<Operand> {
        // The loop in `Cursor::expr` pushes an operand before every reduction.
        self.out.pop().ok_or_else(|| ScriptError::new(Span::default(), "internal error: missing operand"))
    }

    /// Applies the unary minuses directly on top of the stack.
    fn reduce_negs(&mut self) -> PResult<()> {
        while let Some(Frame::Neg(minus)) = self.ops.last() {
            let minus = *minus;
            self.ops.pop();
            self.nest -= 1;
            let (inner, depth) = self.pop_operand()?;
            if depth + 1 > MAX_DEPTH {
                return Err(too_deep(minus));
            }
            let e = Expr { span: minus.to(inner.span), kind: ExprKind::Neg(Box::new(inner)) };
            self.out.push((e, depth + 1));
        }
        Ok(())
    }

    /// Applies the binary operators on top of the stack of level `min` or tighter.
    fn reduce_bins(&mut self, min: u8) -> PResult<()> {
        while let Some(&Frame::Bin { op, level, span }) = self.ops.last() {
            if level < min {
                break;
            }
            self.ops.pop();
            let (rhs, rdepth) = self.pop_operand()?;
            let (lhs, ldepth) = self.pop_operand()?;
            let depth = ldepth.max(rdepth) + 1;
            if depth > MAX_DEPTH {
                return Err(too_deep(span));
            }
            let e = Expr {
                span: lhs.span.to(rhs.span),
                kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
            };
            self.out.push((e, depth));
        }
        Ok(())
    }

    /// The innermost open parenthesis or bracket, if any.
    fn open_group(&self) -> Option<&Frame> {
        self.ops.iter().rev().find(|f| matches!(f, Frame::Paren(_) | Frame::List { .. }))
    }
}

impl Cursor<'_> {
    /// Parses one expression; stops before the first token that cannot
    /// continue it (`,`, `)`, a name after a complete operand ...).
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        let mut st = Shunt { ops: Vec::new(), out: Vec::new(), nest: 0 };
        loop {
            self.operand(&mut st)?;
            if self.after_operand(&mut st)? {
                st.reduce_bins(0)?;
                return st.pop_operand().map(|(e, _)| e);
            }
        }
    }

    /// Reads prefixes (`-`, `(`, `[`) up to and including one primary operand.
    fn operand(&mut self, st: &mut Shunt) -> PResult<()> {
        loop {
            let Some(t) = self.peek() else {
                return Err(self.expected("an expression"));
            };
            let kind = match &t.tok {
                Tok::Minus => {
                    st.push_nested(Frame::Neg(t.span), t.span)?;
                    self.bump();
                    continue;
                }
                Tok::LParen => {
                    st.push_nested(Frame::Paren(t.span), t.span)?;
                    self.bump();
                    continue;
                }
                Tok::LBracket => {
                    self.bump();
                    if let Some(close) = self.eat(&Tok::RBracket) {
                        st.out.push((Expr { span: t.span.to(close), kind: ExprKind::List(Vec::new()) }, 1));
                        return Ok(());
                    }
                    st.push_nested(Frame::List { open: t.span, items: Vec::new(), depth: 0 }, t.span)?;
                    continue;
                }
                Tok::Int(v) => ExprKind::Int(*v),
                Tok::Str(b) | Tok::HexBytes(b) => ExprKind::Bytes(b.clone()),
                Tok::Ident => {
                    let name = self.text(t.span);
                    match consts::lookup_entry(name) {
                        Some((name, value)) => ExprKind::Const { name, value },
                        None => ExprKind::Name(name.to_owned()),
                    }
                }
                _ => return Err(self.expected("an expression")),
            };
            self.bump();
            st.out.push((Expr { span: t.span, kind }, 1));
            return Ok(());
        }
    }

    /// After a complete operand: reads closing brackets, commas inside lists
    /// and one binary operator. Returns true at the end of the expression.
    fn after_operand(&mut self, st: &mut Shunt) -> PResult<bool> {
        loop {
            st.reduce_negs()?;
            let tok = self.peek().map(|t| (&t.tok, t.span));
            if let Some((level, op)) = tok.and_then(|(t, _)| binop(t)) {
                st.reduce_bins(level)?;
                let span = self.bump().map_or(Span::default(), |t| t.span);
                st.ops.push(Frame::Bin { op, level, span });
                return Ok(false);
            }
            let group = st.open_group();
            match (tok, group) {
                (Some((Tok::RParen, close)), Some(Frame::Paren(_))) => {
                    st.reduce_bins(0)?;
                    let (inner, depth) = st.pop_operand()?;
                    if let Some(Frame::Paren(open)) = st.ops.pop() {
                        st.nest -= 1;
                        self.bump();
                        st.out.push((Expr { span: open.to(close), kind: inner.kind }, depth));
                    }
                }
                (Some((Tok::Comma | Tok::RBracket, _)), Some(Frame::List { .. })) => {
                    st.reduce_bins(0)?;
                    let (item, d) = st.pop_operand()?;
                    let is_comma = self.bump().is_some_and(|t| t.tok == Tok::Comma);
                    let Some(Frame::List { open, items, depth }) = st.ops.last_mut() else {
                        return Err(ScriptError::new(item.span, "internal error: list frame expected"));
                    };
                    items.push(item);
                    *depth = (*depth).max(d);
                    if is_comma {
                        return Ok(false);
                    }
                    let (open, depth) = (*open, *depth + 1);
                    let Some(Frame::List { items, .. }) = st.ops.pop() else {
                        return Err(ScriptError::new(open, "internal error: list frame expected"));
                    };
                    st.nest -= 1;
                    if depth > MAX_DEPTH {
                        return Err(too_deep(open));
                    }
                    let close = self.toks.get(self.pos - 1).map_or(open, |t| t.span);
                    st.out.push((Expr { span: open.to(close), kind: ExprKind::List(items) }, depth));
                }
                (_, Some(Frame::Paren(_))) => return Err(self.expected("`)`")),
                (_, Some(_)) => return Err(self.expected("`,` or `]`")),
                (_, None) => return Ok(true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::lexer::lex_line;
    use crate::script::value::{Env, Value, eval};

    fn parse_expr(src: &str) -> PResult<Expr> {
        let toks = lex_line(src, 0, src.len())?;
        let mut c = Cursor { src, toks: &toks, pos: 0 };
        let e = c.expr()?;
        assert!(c.peek().is_none(), "trailing tokens in {src:?}");
        Ok(e)
    }

    fn value(src: &str) -> Value {
        eval(&parse_expr(src).expect("test"), &Env::new()).expect("test")
    }

    /// Renders the tree with explicit parentheses.
    fn shape(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Const { name, .. } => (*name).to_owned(),
            ExprKind::Name(name) | ExprKind::Var(name) => name.clone(),
            ExprKind::Domain { name, .. } => name.clone(),
            ExprKind::Bytes(b) => format!("{b:?}"),
            ExprKind::Neg(i) => format!("(-{})", shape(i)),
            ExprKind::Binary { op, lhs, rhs } => format!("({} {op} {})", shape(lhs), shape(rhs)),
            ExprKind::List(items) => {
                format!("[{}]", items.iter().map(shape).collect::<Vec<_>>().join(", "))
            }
        }
    }

    #[test]
    fn precedence() {
        let s = |src: &str| shape(&parse_expr(src).expect("test"));
        assert_eq!(s("a + 4K | 1"), "((a + 4096) | 1)");
        assert_eq!(s("1 | a + 4K"), "(1 | (a + 4096))");
        assert_eq!(s("x ++ y * 2 ++ z"), "((x ++ (y * 2)) ++ z)");
        assert_eq!(s("a - b - c"), "((a - b) - c)");
        assert_eq!(s("a - (b - c)"), "(a - (b - c))");
        assert_eq!(s("-a * 2"), "((-a) * 2)");
        assert_eq!(s("a ++ b | c"), "((a ++ b) | c)");
        assert_eq!(s("--1"), "(-(-1))");
        assert_eq!(s("[a, b + 1, []]"), "[a, (b + 1), []]");
    }

    #[test]
    fn literal_values() {
        assert_eq!(value("PROT_READ|PROT_WRITE"), Value::Int(3));
        assert_eq!(value("MAP_SHARED_VALIDATE|0x400"), Value::Int(0x403));
        assert_eq!(value("NULL"), Value::Int(0));
        assert_eq!(value("-EINVAL"), Value::Int(22u64.wrapping_neg()));
        assert_eq!(value("-1"), Value::Int(u64::MAX));
        assert_eq!(value("0x7e0040000000 - 8K"), Value::Int(0x7e00_3fff_e000));
        assert_eq!(value("2 * 4K + 1"), Value::Int(8193));
        assert_eq!(value("x\"5a\" * 4"), Value::Bytes(vec![0x5a; 4]));
        assert_eq!(value("\"ab\" ++ x\"00\""), Value::Bytes(b"ab\0".to_vec()));
        assert_eq!(value("[1, 2] ++ [3]"), Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
        assert_eq!(value("(1)"), Value::Int(1));
    }

    #[test]
    fn spans() {
        let e = parse_expr("  (a + 4K)  ").expect("test");
        assert_eq!(e.span, Span::new(2, 10));
        let e = parse_expr("-EINVAL").expect("test");
        assert_eq!(e.span, Span::new(0, 7));
    }

    #[test]
    fn nesting_limits() {
        let ok = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_expr(&ok).is_ok());
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse_expr(&deep).unwrap_err();
        assert!(err.message.contains("too deeply"));
        assert_eq!(err.span, Span::new(256, 257));
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_expr(&deep).unwrap_err().message.contains("too deeply"));
        assert!(parse_expr(&"-".repeat(10_000)).unwrap_err().message.contains("too deeply"));
        let chain = vec!["1"; 10_000].join(" + ");
        assert!(parse_expr(&chain).unwrap_err().message.contains("too deeply"));
        let fine = vec!["1"; 200].join(" + ");
        assert_eq!(value(&fine), Value::Int(200));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_expr("(1").unwrap_err().message, "expected `)` at the end of the line");
        assert_eq!(parse_expr("[1 2]").unwrap_err().message, "expected `,` or `]`, found `2`");
        assert_eq!(parse_expr("1 +").unwrap_err().message, "expected an expression at the end of the line");
        assert_eq!(parse_expr("*").unwrap_err().span, Span::new(0, 1));
    }
}
