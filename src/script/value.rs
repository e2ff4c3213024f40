//! Values, static types and expression evaluation.
//!
//! Integer arithmetic is on `u64` and wraps (two's complement), like the
//! kernel's `unsigned long`: `-EINVAL` is `0xffffffffffffffea`. `*` multiplies
//! two integers or repeats a byte string (`x"5a" * 4096`, either order); `++`
//! concatenates two byte strings or two lists; `|` ors two integers.
//! Evaluating one expression may produce at most [`MAX_BYTES`] bytes in
//! total; more is an error, not an allocation failure.

use std::fmt;

use rustc_hash::FxHashMap;

use super::ast::{BinOp, Expr, ExprKind};
use super::checked::DomainId;
use super::diag::ScriptError;

/// The most bytes one value may hold (64 MiB): one evaluation may produce
/// at most this many in total, and the interpreter refuses a `load`,
/// disk `read`, `read_page` or vector-less `mincore` whose result would
/// be larger (a run error naming the limit at the line).
pub const MAX_BYTES: usize = 64 << 20;
/// The most bytes all bound variables together may hold (128 MiB). A
/// binding that would cross it is a run error naming the limit.
pub const MAX_BOUND_BYTES: usize = 128 << 20;

/// A run-time value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(u64),
    /// A string or byte string: the interpreter reads it as a path or as data.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// A declared domain named in an argument (`dom0`, `domU`).
    Domain(DomainId),
}

impl Value {
    /// Bytes the value holds, for [`MAX_BOUND_BYTES`]: a byte string's
    /// length; a list's elements' (a number counts 8).
    pub fn byte_len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::List(l) => l.iter().map(|v| v.byte_len().max(8)).sum(),
            Value::Int(_) | Value::Domain(_) => 0,
        }
    }

    pub fn ty(&self) -> Ty {
        match self {
            Value::Int(_) => Ty::Int,
            Value::Bytes(_) => Ty::Bytes,
            Value::List(_) => Ty::List,
            Value::Domain(_) => Ty::Domain,
        }
    }

    pub fn as_int(&self) -> Option<u64> {
        match self {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_domain(&self) -> Option<DomainId> {
        match self {
            Value::Domain(d) => Some(*d),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Integers in decimal, bytes as `x"..."`, lists as `[a, b]`, domains as
    /// `domain#N` (the interpreter knows their names).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Bytes(b) => {
                f.write_str("x\"")?;
                for byte in b {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str("\"")
            }
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Domain(d) => write!(f, "domain#{}", d.0),
        }
    }
}

/// The static type of an expression; `Unknown` for a variable whose call's
/// result type is not fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Int,
    Bytes,
    List,
    Domain,
    Unknown,
}

impl Ty {
    const CONCRETE: [Ty; 4] = [Ty::Int, Ty::Bytes, Ty::List, Ty::Domain];

    /// "a number", "bytes" ... for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Ty::Int => "a number",
            Ty::Bytes => "bytes",
            Ty::List => "a list",
            Ty::Domain => "a domain",
            Ty::Unknown => "a value",
        }
    }

    /// Whether a value of type `self` may be where `want` is needed.
    pub fn fits(self, want: Ty) -> bool {
        self == want || self == Ty::Unknown || want == Ty::Unknown
    }
}

/// The result type of `lhs op rhs` for concrete operand types, or `None`
/// when the operator does not apply. Evaluation and static typing share it.
pub fn binop_type(op: BinOp, lhs: Ty, rhs: Ty) -> Option<Ty> {
    use Ty::*;
    match (op, lhs, rhs) {
        (BinOp::Or | BinOp::Add | BinOp::Sub | BinOp::Mul, Int, Int) => Some(Int),
        (BinOp::Mul, Bytes, Int) | (BinOp::Mul, Int, Bytes) => Some(Bytes),
        (BinOp::Concat, Bytes, Bytes) => Some(Bytes),
        (BinOp::Concat, List, List) => Some(List),
        _ => None,
    }
}

/// Like [`binop_type`], but `Unknown` operands stand for any concrete type:
/// `Ok(None)` means "valid, type not known", `Err(())` "valid for no choice".
fn binop_type_static(op: BinOp, lhs: Ty, rhs: Ty) -> Result<Option<Ty>, ()> {
    let choices = |t: Ty| {
        if t == Ty::Unknown { Ty::CONCRETE.to_vec() } else { vec![t] }
    };
    let mut results: Vec<Ty> = Vec::new();
    for l in choices(lhs) {
        for r in choices(rhs) {
            if let Some(t) = binop_type(op, l, r)
                && !results.contains(&t)
            {
                results.push(t);
            }
        }
    }
    match results.as_slice() {
        [] => Err(()),
        [t] => Ok(Some(*t)),
        _ => Ok(None),
    }
}

fn op_error(op: BinOp, lhs: Ty, rhs: Ty, expr: &Expr) -> ScriptError {
    let need = match op {
        BinOp::Or | BinOp::Add | BinOp::Sub => "two numbers",
        BinOp::Mul => "two numbers, or bytes and a count",
        BinOp::Concat => "two byte strings or two lists",
    };
    ScriptError::new(expr.span, format!("`{op}` needs {need}, found {} and {}", lhs.describe(), rhs.describe()))
}

/// The static type of `expr`, given the types of variables; reports the
/// first operator applied to operands it cannot take. `Name` (unresolved)
/// counts as `Unknown`.
pub fn infer(expr: &Expr, var_ty: &dyn Fn(&str) -> Ty) -> Result<Ty, ScriptError> {
    match &expr.kind {
        ExprKind::List(items) => {
            for item in items {
                infer(item, var_ty)?;
            }
            Ok(Ty::List)
        }
        ExprKind::Neg(inner) => {
            let t = infer(inner, var_ty)?;
            neg_type(t, expr)
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let l = infer(lhs, var_ty)?;
            let r = infer(rhs, var_ty)?;
            binary_type(*op, l, r, expr)
        }
        ExprKind::Int(_) | ExprKind::Const { .. } => Ok(Ty::Int),
        ExprKind::Name(_) => Ok(Ty::Unknown),
        ExprKind::Var(name) => Ok(var_ty(name)),
        ExprKind::Domain { .. } => Ok(Ty::Domain),
        ExprKind::Bytes(_) => Ok(Ty::Bytes),
    }
}

#[inline(never)]
fn neg_type(t: Ty, expr: &Expr) -> Result<Ty, ScriptError> {
    if t.fits(Ty::Int) {
        Ok(Ty::Int)
    } else {
        Err(ScriptError::new(expr.span, format!("unary `-` needs a number, found {}", t.describe())))
    }
}

#[inline(never)]
fn binary_type(op: BinOp, l: Ty, r: Ty, expr: &Expr) -> Result<Ty, ScriptError> {
    match binop_type_static(op, l, r) {
        Ok(t) => Ok(t.unwrap_or(Ty::Unknown)),
        Err(()) => Err(op_error(op, l, r, expr)),
    }
}

/// Variable bindings for evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: FxHashMap<String, Value>,
    /// Bytes held by all bound values ([`Value::byte_len`]).
    bytes: usize,
}

impl Env {
    pub fn new() -> Self {
        Env::default()
    }

    /// Binds (or rebinds) `name`.
    pub fn bind(&mut self, name: impl Into<String>, value: Value) {
        self.bytes += value.byte_len();
        if let Some(old) = self.vars.insert(name.into(), value) {
            self.bytes -= old.byte_len();
        }
    }

    /// Forgets `name` (e.g. when the call that binds it raised a signal).
    pub fn unbind(&mut self, name: &str) {
        if let Some(old) = self.vars.remove(name) {
            self.bytes -= old.byte_len();
        }
    }

    /// Bytes all bound values hold together.
    pub fn bound_bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes bound values would hold after binding `value` to `name`.
    pub fn bound_bytes_after(&self, name: &str, value: &Value) -> usize {
        let old = self.vars.get(name).map_or(0, Value::byte_len);
        self.bytes - old + value.byte_len()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }
}

/// Evaluates a (checked) expression. Type errors, unbound variables and
/// too-large byte strings are errors carrying the expression's span.
pub fn eval(expr: &Expr, env: &Env) -> Result<Value, ScriptError> {
    Evaluator { env, produced: 0 }.eval(expr)
}

#[inline(never)]
fn negate(v: Value, expr: &Expr) -> Result<Value, ScriptError> {
    match v {
        Value::Int(v) => Ok(Value::Int(v.wrapping_neg())),
        other => Err(ScriptError::new(expr.span, format!("unary `-` needs a number, found {}", other.ty().describe()))),
    }
}

struct Evaluator<'a> {
    env: &'a Env,
    /// Bytes produced so far by this evaluation.
    produced: usize,
}

impl Evaluator<'_> {
    fn charge(&mut self, n: usize, expr: &Expr) -> Result<(), ScriptError> {
        match self.produced.checked_add(n) {
            Some(total) if total <= MAX_BYTES => {
                self.produced = total;
                Ok(())
            }
            _ => Err(ScriptError::new(
                expr.span,
                format!("this expression makes more than {MAX_BYTES} bytes (64 MiB), the limit (MAX_BYTES)"),
            )),
        }
    }

    /// The recursive walk; kept small, since its frame is paid once per
    /// level of the tree (the leaves and operators are handled out of line).
    fn eval(&mut self, expr: &Expr) -> Result<Value, ScriptError> {
        match &expr.kind {
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                self.binary(*op, l, r, expr)
            }
            ExprKind::Neg(inner) => {
                let v = self.eval(inner)?;
                negate(v, expr)
            }
            ExprKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(Value::List(out))
            }
            _ => self.leaf(expr),
        }
    }

    #[inline(never)]
    fn leaf(&mut self, expr: &Expr) -> Result<Value, ScriptError> {
        Ok(match &expr.kind {
            ExprKind::Int(v) | ExprKind::Const { value: v, .. } => Value::Int(*v),
            ExprKind::Var(name) => match self.env.get(name) {
                Some(v) => {
                    if let Value::Bytes(b) = v {
                        self.charge(b.len(), expr)?;
                    }
                    v.clone()
                }
                None => {
                    return Err(ScriptError::new(expr.span, format!("`{name}` has no value")));
                }
            },
            ExprKind::Domain { id, .. } => Value::Domain(*id),
            ExprKind::Bytes(b) => {
                self.charge(b.len(), expr)?;
                Value::Bytes(b.clone())
            }
            ExprKind::Name(name) => {
                return Err(ScriptError::new(expr.span, format!("unresolved name `{name}`")));
            }
            ExprKind::Binary { .. } | ExprKind::Neg(_) | ExprKind::List(_) => {
                return Err(ScriptError::new(expr.span, "internal error: not a leaf"));
            }
        })
    }

    #[inline(never)]
    fn binary(&mut self, op: BinOp, l: Value, r: Value, expr: &Expr) -> Result<Value, ScriptError> {
        use Value::*;
        Ok(match (op, l, r) {
            (BinOp::Or, Int(a), Int(b)) => Int(a | b),
            (BinOp::Add, Int(a), Int(b)) => Int(a.wrapping_add(b)),
            (BinOp::Sub, Int(a), Int(b)) => Int(a.wrapping_sub(b)),
            (BinOp::Mul, Int(a), Int(b)) => Int(a.wrapping_mul(b)),
            (BinOp::Mul, Bytes(b), Int(n)) | (BinOp::Mul, Int(n), Bytes(b)) => {
                let total = usize::try_from(n).ok().and_then(|n| b.len().checked_mul(n));
                match total {
                    Some(total) => self.charge(total, expr)?,
                    None => self.charge(usize::MAX, expr)?,
                }
                // `charge` bounded the result, so `n` fits in usize here
                // unless `b` is empty (then the result is empty anyway).
                let n = usize::try_from(n).unwrap_or(0);
                Bytes(if b.is_empty() { Vec::new() } else { b.repeat(n) })
            }
            (BinOp::Concat, Bytes(mut a), Bytes(b)) => {
                self.charge(a.len() + b.len(), expr)?;
                a.extend_from_slice(&b);
                Bytes(a)
            }
            (BinOp::Concat, List(mut a), List(b)) => {
                a.extend(b);
                List(a)
            }
            (op, l, r) => return Err(op_error(op, l.ty(), r.ty(), expr)),
        })
    }
}

/// Whether `e` is a constant `-ERRNO` (a value in `[-4095, -1]`, the
/// kernel's `IS_ERR_VALUE` range): the expectation a call that returns
/// bytes (`load`, `read_page`, `mincore` without `vec`) may have for its
/// failure.
pub fn is_errno_constant(e: &Expr) -> bool {
    fn constant(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Const { .. } => true,
            ExprKind::Neg(x) => constant(x),
            ExprKind::Binary { lhs, rhs, .. } => constant(lhs) && constant(rhs),
            _ => false,
        }
    }
    constant(e)
        && matches!(eval(e, &Env::new()),
            Ok(Value::Int(v)) if (v as i64) < 0 && (v as i64) >= -4095)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ast::Span;

    fn int(v: u64) -> Expr {
        Expr { span: Span::new(0, 1), kind: ExprKind::Int(v) }
    }
    fn bytes(b: &[u8]) -> Expr {
        Expr { span: Span::new(0, 1), kind: ExprKind::Bytes(b.to_vec()) }
    }
    fn bin(op: BinOp, l: Expr, r: Expr) -> Expr {
        Expr { span: Span::new(0, 9), kind: ExprKind::Binary { op, lhs: Box::new(l), rhs: Box::new(r) } }
    }

    #[test]
    fn arithmetic_wraps() {
        let e = Env::new();
        assert_eq!(eval(&bin(BinOp::Add, int(u64::MAX), int(2)), &e), Ok(Value::Int(1)));
        assert_eq!(eval(&bin(BinOp::Sub, int(0), int(1)), &e), Ok(Value::Int(u64::MAX)));
        assert_eq!(eval(&bin(BinOp::Or, int(1), int(2)), &e), Ok(Value::Int(3)));
        assert_eq!(eval(&bin(BinOp::Mul, int(3), int(4096)), &e), Ok(Value::Int(12288)));
        let neg = Expr { span: Span::new(0, 3), kind: ExprKind::Neg(Box::new(int(22))) };
        assert_eq!(eval(&neg, &e), Ok(Value::Int(22u64.wrapping_neg())));
    }

    #[test]
    fn repetition_and_concatenation() {
        let e = Env::new();
        assert_eq!(eval(&bin(BinOp::Mul, bytes(b"\x5a"), int(3)), &e), Ok(Value::Bytes(vec![0x5a; 3])));
        assert_eq!(eval(&bin(BinOp::Mul, int(2), bytes(b"ab")), &e), Ok(Value::Bytes(b"abab".to_vec())));
        assert_eq!(eval(&bin(BinOp::Concat, bytes(b"ab"), bytes(b"c")), &e), Ok(Value::Bytes(b"abc".to_vec())));
        assert_eq!(eval(&bin(BinOp::Mul, bytes(b""), int(u64::MAX)), &e), Ok(Value::Bytes(vec![])));
    }

    #[test]
    fn huge_repetition_is_an_error_not_an_allocation() {
        let e = Env::new();
        let err = eval(&bin(BinOp::Mul, bytes(b"ab"), int(u64::MAX)), &e).unwrap_err();
        assert_eq!(err.span, Span::new(0, 9));
        assert!(err.message.contains("64 MiB"));
        let err = eval(&bin(BinOp::Mul, bytes(b"a"), int((MAX_BYTES + 1) as u64)), &e).unwrap_err();
        assert!(err.message.contains("limit"));
    }

    #[test]
    fn type_errors_are_errors() {
        let e = Env::new();
        let err = eval(&bin(BinOp::Add, bytes(b"a"), int(1)), &e).unwrap_err();
        assert_eq!(err.message, "`+` needs two numbers, found bytes and a number");
        assert!(eval(&bin(BinOp::Concat, int(1), int(2)), &e).is_err());
        assert!(eval(&bin(BinOp::Or, bytes(b"a"), bytes(b"b")), &e).is_err());
        let var = Expr { span: Span::new(0, 1), kind: ExprKind::Var("a".into()) };
        assert_eq!(eval(&var, &e).unwrap_err().message, "`a` has no value");
    }

    #[test]
    fn variables() {
        let mut env = Env::new();
        env.bind("a", Value::Int(0x1000));
        let var = Expr { span: Span::new(0, 1), kind: ExprKind::Var("a".into()) };
        assert_eq!(eval(&bin(BinOp::Add, var, int(4096)), &env), Ok(Value::Int(0x2000)));
    }

    #[test]
    fn static_types_agree_with_eval_rules() {
        let none = |_: &str| Ty::Unknown;
        assert_eq!(infer(&bin(BinOp::Mul, bytes(b"a"), int(2)), &none), Ok(Ty::Bytes));
        assert!(infer(&bin(BinOp::Add, bytes(b"a"), int(2)), &none).is_err());
        let var = Expr { span: Span::new(0, 1), kind: ExprKind::Var("v".into()) };
        // v * 2 could be a number or bytes.
        assert_eq!(infer(&bin(BinOp::Mul, var.clone(), int(2)), &none), Ok(Ty::Unknown));
        // v ++ "x" can only be bytes.
        assert_eq!(infer(&bin(BinOp::Concat, var.clone(), bytes(b"x")), &none), Ok(Ty::Bytes));
        // v | "x" is never valid.
        assert!(infer(&bin(BinOp::Or, var, bytes(b"x")), &none).is_err());
        for op in [BinOp::Or, BinOp::Concat, BinOp::Add, BinOp::Sub, BinOp::Mul] {
            for l in Ty::CONCRETE {
                for r in Ty::CONCRETE {
                    assert_eq!(binop_type_static(op, l, r).ok().flatten(), binop_type(op, l, r));
                }
            }
        }
    }

    #[test]
    fn display() {
        let v = Value::List(vec![Value::Int(1), Value::Bytes(vec![0x5a, 0])]);
        assert_eq!(v.to_string(), "[1, x\"5a00\"]");
    }
}
