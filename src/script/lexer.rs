//! Splits one source line into tokens.
//!
//! Integers: decimal, `0x` hex, `0o` octal, `0b` binary, `_` separators after
//! the first digit, an optional size suffix `K`/`M`/`G`/`T` (or lower case)
//! multiplying by 1024^n. Overflowing 64 bits is an error. A decimal literal
//! with a leading zero (`0755`) is an error, to avoid C's octal surprise.
//!
//! Strings: `"..."` with escapes `\n \t \r \0 \\ \" \xNN`; hex byte strings
//! `x"5a 5a_5a"` (whitespace and `_` between digit pairs are ignored).
//! `#` outside a string starts a comment that runs to the end of the line.

use super::ast::Span;
use super::diag::ScriptError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident,
    Int(u64),
    /// A string literal's bytes.
    Str(Vec<u8>),
    /// A hex byte string's bytes.
    HexBytes(Vec<u8>),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Eq,
    Pipe,
    Plus,
    PlusPlus,
    Minus,
    Star,
    At,
}

impl Tok {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Tok::Ident => "a name",
            Tok::Int(_) => "a number",
            Tok::Str(_) => "a string",
            Tok::HexBytes(_) => "a byte string",
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::LBracket => "`[`",
            Tok::RBracket => "`]`",
            Tok::Comma => "`,`",
            Tok::Colon => "`:`",
            Tok::Eq => "`=`",
            Tok::Pipe => "`|`",
            Tok::Plus => "`+`",
            Tok::PlusPlus => "`++`",
            Tok::Minus => "`-`",
            Tok::Star => "`*`",
            Tok::At => "`@`",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Lexes `src[start..end]` (one line, without its newline). Stops at a `#`
/// comment. Spans are offsets into `src`.
pub fn lex_line(src: &str, start: usize, end: usize) -> Result<Vec<Token>, ScriptError> {
    let mut toks = Vec::new();
    lex_line_into(src, start, end, &mut toks)?;
    Ok(toks)
}

/// Like [`lex_line`], into a buffer the caller reuses (cleared first).
pub fn lex_line_into(src: &str, start: usize, end: usize, toks: &mut Vec<Token>) -> Result<(), ScriptError> {
    toks.clear();
    Lexer { src, pos: start, end, toks }.run()
}

/// The offset where the line's comment starts (or `end`), honouring strings.
/// Used for statements that are split into raw words instead of tokens.
pub fn comment_start(src: &str, start: usize, end: usize) -> usize {
    let bytes = src.as_bytes();
    let mut i = start;
    let mut in_str = false;
    while i < end {
        match bytes[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'#' if !in_str => return i,
            _ => {}
        }
        i += 1;
    }
    end
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    end: usize,
    toks: &'a mut Vec<Token>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.peek_at(0)
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        let i = self.pos + n;
        if i < self.end { self.src.as_bytes().get(i).copied() } else { None }
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.toks.push(Token { tok, span: Span::new(start, self.pos) });
    }

    fn run(mut self) -> Result<(), ScriptError> {
        while let Some(b) = self.peek() {
            let start = self.pos;
            match b {
                b' ' | b'\t' | b'\r' | b'\x0c' => self.pos += 1,
                b'#' => break,
                b'x' if self.peek_at(1) == Some(b'"') => {
                    let bytes = self.hex_string()?;
                    self.push(Tok::HexBytes(bytes), start);
                }
                b if is_ident_start(b) => {
                    while self.peek().is_some_and(is_ident_continue) {
                        self.pos += 1;
                    }
                    self.push(Tok::Ident, start);
                }
                b'0'..=b'9' => {
                    let value = self.number()?;
                    self.push(Tok::Int(value), start);
                }
                b'"' => {
                    let bytes = self.string()?;
                    self.push(Tok::Str(bytes), start);
                }
                b'+' if self.peek_at(1) == Some(b'+') => {
                    self.pos += 2;
                    self.push(Tok::PlusPlus, start);
                }
                _ => {
                    let tok = match b {
                        b'(' => Tok::LParen,
                        b')' => Tok::RParen,
                        b'[' => Tok::LBracket,
                        b']' => Tok::RBracket,
                        b',' => Tok::Comma,
                        b':' => Tok::Colon,
                        b'=' => Tok::Eq,
                        b'|' => Tok::Pipe,
                        b'+' => Tok::Plus,
                        b'-' => Tok::Minus,
                        b'*' => Tok::Star,
                        b'@' => Tok::At,
                        _ => return Err(self.unexpected_char()),
                    };
                    self.pos += 1;
                    self.push(tok, start);
                }
            }
        }
        Ok(())
    }

    fn unexpected_char(&self) -> ScriptError {
        let c = self.src.get(self.pos..).and_then(|s| s.chars().next()).unwrap_or('?');
        let span = Span::new(self.pos, self.pos + c.len_utf8());
        let shown = if c.is_control() { format!("{:?}", c) } else { format!("`{c}`") };
        ScriptError::new(span, format!("unexpected character {shown}"))
    }

    /// A number token: everything alphanumeric (and `_`) from here on.
    fn number(&mut self) -> Result<u64, ScriptError> {
        let start = self.pos;
        while self.peek().is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        parse_int(text).map_err(|msg| ScriptError::new(Span::new(start, self.pos), msg))
    }

    fn string(&mut self) -> Result<Vec<u8>, ScriptError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(ScriptError::new(Span::new(open, open + 1), "unterminated string")
                    .with_help("strings end on the same line with `\"`"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => out.push(self.escape()?),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self) -> Result<u8, ScriptError> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(ScriptError::new(Span::new(start, self.pos), "unterminated string"));
        };
        self.pos += 1;
        let byte = match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'0' => 0,
            b'\\' => b'\\',
            b'"' => b'"',
            b'x' => {
                let hi = self.peek().and_then(hex_val);
                let lo = self.peek_at(1).and_then(hex_val);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    // Cover `\x` and up to two following characters of the line.
                    let rest = self.src.get(self.pos..self.end).unwrap_or("");
                    let end = self.pos + rest.chars().take(2).map(char::len_utf8).sum::<usize>();
                    return Err(ScriptError::new(Span::new(start, end), "`\\x` must be followed by two hex digits"));
                };
                self.pos += 2;
                hi * 16 + lo
            }
            _ => {
                // Cover the whole (possibly multi-byte) escaped character.
                let c = self.src.get(start + 1..).and_then(|s| s.chars().next()).unwrap_or('?');
                self.pos = start + 1 + c.len_utf8();
                return Err(ScriptError::new(Span::new(start, self.pos), format!("unknown escape `\\{c}`"))
                    .with_help("escapes are \\n \\t \\r \\0 \\\\ \\\" and \\xNN"));
            }
        };
        Ok(byte)
    }

    fn hex_string(&mut self) -> Result<Vec<u8>, ScriptError> {
        let start = self.pos;
        self.pos += 2; // x"
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(ScriptError::new(Span::new(start, start + 2), "unterminated byte string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    if high.is_some() {
                        return Err(ScriptError::new(
                            Span::new(start, self.pos),
                            "odd number of hex digits in byte string",
                        ));
                    }
                    return Ok(out);
                }
                b' ' | b'\t' | b'_' => self.pos += 1,
                _ => {
                    let Some(v) = hex_val(b) else {
                        return Err(ScriptError::new(self.char_span(), "byte strings contain only hex digits"));
                    };
                    self.pos += 1;
                    match high.take() {
                        Some(h) => out.push(h * 16 + v),
                        None => high = Some(v),
                    }
                }
            }
        }
    }

    fn char_span(&self) -> Span {
        let len = self.src.get(self.pos..).and_then(|s| s.chars().next()).map_or(1, char::len_utf8);
        Span::new(self.pos, self.pos + len)
    }
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Parses an integer literal (see the module documentation).
pub fn parse_int(text: &str) -> Result<u64, String> {
    let (radix, body) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        Some("0o" | "0O") => (8, &text[2..]),
        Some("0b" | "0B") => (2, &text[2..]),
        _ => (10, text),
    };
    let digits_end =
        body.char_indices().find(|&(_, c)| !(c == '_' || c.is_digit(radix))).map_or(body.len(), |(i, _)| i);
    let (digits, suffix) = body.split_at(digits_end);
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return Err(format!("invalid number `{text}`: no digits"));
    }
    if radix == 10 && clean.len() > 1 && clean.starts_with('0') {
        return Err(format!("invalid number `{text}`: leading zero (octal is written 0o{})", &clean[1..]));
    }
    let shift = match suffix {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => {
            return Err(format!("invalid number `{text}`: unexpected `{suffix}` (size suffixes are K, M, G, T)"));
        }
    };
    let too_big = || format!("number `{text}` does not fit in 64 bits");
    let value = u64::from_str_radix(&clean, radix).map_err(|_| too_big())?;
    let scaled = value.checked_mul(1u64 << shift).ok_or_else(too_big)?;
    Ok(scaled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(s: &str) -> Result<Vec<Tok>, ScriptError> {
        lex_line(s, 0, s.len()).map(|v| v.into_iter().map(|t| t.tok).collect())
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int("4096"), Ok(4096));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("0x7e00_3fff_e000"), Ok(0x7e00_3fff_e000));
        assert_eq!(parse_int("0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_int("0XFF"), Ok(255));
        assert_eq!(parse_int("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_int("4K"), Ok(4096));
        assert_eq!(parse_int("2M"), Ok(2 << 20));
        assert_eq!(parse_int("1G"), Ok(1 << 30));
        assert_eq!(parse_int("3T"), Ok(3 << 40));
        assert_eq!(parse_int("8k"), Ok(8192));
        assert_eq!(parse_int("0x10K"), Ok(0x4000));
        assert_eq!(parse_int("0o755"), Ok(0o755));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn integer_errors() {
        assert!(parse_int("0x1_0000_0000_0000_0000").unwrap_err().contains("does not fit"));
        assert!(parse_int("18446744073709551616").unwrap_err().contains("does not fit"));
        assert!(parse_int("16777216T").unwrap_err().contains("does not fit"));
        assert!(parse_int("4KB").unwrap_err().contains("unexpected `KB`"));
        assert!(parse_int("0x").unwrap_err().contains("no digits"));
        assert!(parse_int("0755").unwrap_err().contains("leading zero"));
        assert!(parse_int("12abc").is_err());
    }

    #[test]
    fn number_error_span_covers_the_literal() {
        let src = "p: f(99999999999999999999K)";
        let err = lex_line(src, 0, src.len()).unwrap_err();
        assert_eq!(&src[err.span.start..err.span.end], "99999999999999999999K");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(lex(r#""a\n\t\\\"\x5a\0""#), Ok(vec![Tok::Str(b"a\n\t\\\"Z\0".to_vec())]));
        assert_eq!(lex(r#""é""#), Ok(vec![Tok::Str("é".as_bytes().to_vec())]));
        assert_eq!(lex(r##""# not a comment""##), Ok(vec![Tok::Str(b"# not a comment".to_vec())]));
        let err = lex(r#""ab\q""#).unwrap_err();
        assert_eq!((err.span.start, err.span.end), (3, 5));
        assert!(lex(r#""open"#).unwrap_err().message.contains("unterminated"));
        assert!(lex(r#""\x5""#).is_err());
        // Found by proptest: the span must not end inside a character.
        let src = "\"\\x\u{fffd}";
        let err = lex(src).unwrap_err();
        assert_eq!(err.span, Span::new(1, src.len()));
    }

    #[test]
    fn hex_strings() {
        assert_eq!(lex(r#"x"5a5A""#), Ok(vec![Tok::HexBytes(vec![0x5a, 0x5a])]));
        assert_eq!(lex(r#"x"de ad_be ef""#), Ok(vec![Tok::HexBytes(vec![0xde, 0xad, 0xbe, 0xef])]));
        assert_eq!(lex(r#"x"""#), Ok(vec![Tok::HexBytes(vec![])]));
        assert!(lex(r#"x"5a5""#).unwrap_err().message.contains("odd number"));
        let err = lex(r#"x"5g""#).unwrap_err();
        assert_eq!(err.span, Span::new(3, 4));
        // `x` alone is an identifier.
        assert_eq!(lex("x \"a\""), Ok(vec![Tok::Ident, Tok::Str(b"a".to_vec())]));
    }

    #[test]
    fn punctuation_and_comments() {
        assert_eq!(
            lex("a ++ b + -c * [d] | (e) : = , @ # comment ++"),
            Ok(vec![
                Tok::Ident,
                Tok::PlusPlus,
                Tok::Ident,
                Tok::Plus,
                Tok::Minus,
                Tok::Ident,
                Tok::Star,
                Tok::LBracket,
                Tok::Ident,
                Tok::RBracket,
                Tok::Pipe,
                Tok::LParen,
                Tok::Ident,
                Tok::RParen,
                Tok::Colon,
                Tok::Eq,
                Tok::Comma,
                Tok::At,
            ])
        );
    }

    #[test]
    fn unexpected_characters() {
        let err = lex("a $ b").unwrap_err();
        assert_eq!(err.span, Span::new(2, 3));
        assert_eq!(err.message, "unexpected character `$`");
        let err = lex("a é").unwrap_err();
        assert_eq!(err.span, Span::new(2, 4));
    }

    #[test]
    fn comment_start_skips_strings() {
        let s = r##"a "x#y\"#" # c"##;
        assert_eq!(comment_start(s, 0, s.len()), 11);
    }
}
