//! A small tokenizer that runs before the pest parser. It finds the errors
//! that a PEG parser reports badly (unterminated strings, unknown escapes,
//! unbalanced or too deeply nested brackets), and it gives the error
//! translator the tokens around a parse failure.

use crate::ast::Span;
use crate::error::Diagnostic;
use crate::MAX_NESTING;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A name or a reserved word.
    Word,
    Number,
    Str,
    /// Operators and punctuation, including unknown characters.
    Punct,
}

#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub kind: TokKind,
    pub span: Span,
}

impl Tok {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.span.start..self.span.end]
    }
}

/// Multi-character punctuation, longest first.
const PUNCT2: [&str; 8] = ["==", "!=", "<=", ">=", "?.", "&&", "||", "=>"];

/// Splits `src` into tokens, skipping whitespace and comments. Never fails:
/// an unterminated string is one token up to the end of its line.
pub fn tokenize(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i = string_end(b, i).0;
                TokKind::Str
            }
            b'0'..=b'9' => {
                let word = |i: &mut usize| {
                    while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_') {
                        *i += 1;
                    }
                };
                word(&mut i);
                // A fraction: `1.5`, but not `1.field`.
                if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                    i += 1;
                    word(&mut i);
                }
                // An exponent's sign: `1e-5`.
                let hex = b[start..].starts_with(b"0x") || b[start..].starts_with(b"0X");
                if !hex
                    && matches!(b[i - 1], b'e' | b'E')
                    && i + 1 < b.len()
                    && matches!(b[i], b'+' | b'-')
                    && b[i + 1].is_ascii_digit()
                {
                    i += 1;
                    word(&mut i);
                }
                TokKind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                TokKind::Word
            }
            _ => {
                if PUNCT2.iter().any(|p| src[i..].starts_with(p)) {
                    i += 2;
                } else {
                    i += src[i..].chars().next().map_or(1, char::len_utf8);
                }
                TokKind::Punct
            }
        };
        toks.push(Tok {
            kind,
            span: Span::new(start, i),
        });
    }
    toks
}

/// The end of the string starting at `b[start] == '"'`, and whether it was
/// terminated. An unterminated string ends before the newline (or input end).
fn string_end(b: &[u8], start: usize) -> (usize, bool) {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return (i + 1, true),
            b'\n' => return (i, false),
            b'\\' if i + 1 < b.len() && b[i + 1] != b'\n' => i += 2,
            _ => i += 1,
        }
    }
    (b.len().min(i), false)
}

/// The lexical checks: strings, escapes, brackets. All errors found are
/// returned (at most one about brackets, since one usually causes others).
pub fn check(src: &str, toks: &[Tok]) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut open: Vec<Tok> = Vec::new();
    let mut bracket_error = false;
    for tok in toks {
        match tok.kind {
            TokKind::Str => check_string(src, tok.span, &mut errors),
            TokKind::Number if !valid_number(tok.text(src)) => {
                errors.push(Diagnostic::invalid_number(tok.span, tok.text(src)));
            }
            TokKind::Punct if !bracket_error => match tok.text(src) {
                "(" | "[" => {
                    open.push(*tok);
                    if open.len() > MAX_NESTING {
                        errors.push(Diagnostic::too_deep_brackets(tok.span));
                        bracket_error = true;
                    }
                }
                close @ (")" | "]") => {
                    let want = if close == ")" { "(" } else { "[" };
                    match open.pop() {
                        None => {
                            errors.push(Diagnostic::unexpected_close(tok.span, close));
                            bracket_error = true;
                        }
                        Some(o) if o.text(src) != want => {
                            errors.push(Diagnostic::mismatched_close(
                                tok.span,
                                close,
                                o.span,
                                o.text(src),
                            ));
                            bracket_error = true;
                        }
                        Some(_) => {}
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    if !bracket_error {
        for o in open {
            errors.push(Diagnostic::unclosed(o.span, o.text(src), src.len()));
        }
    }
    errors.sort_by_key(|d| d.span.start);
    errors
}

fn check_string(src: &str, span: Span, errors: &mut Vec<Diagnostic>) {
    let text = &src[span.start..span.end];
    let terminated = text.len() >= 2 && text.ends_with('"') && {
        // The closing quote must not be escaped: `string_end` decides.
        string_end(src.as_bytes(), span.start) == (span.end, true)
    };
    if !terminated {
        errors.push(Diagnostic::unterminated_string(span));
        return;
    }
    let mut chars = text[1..text.len() - 1].char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            continue;
        }
        let Some((j, e)) = chars.next() else { break };
        if !matches!(e, '"' | '\\' | 'n' | 't') {
            let at = span.start + 1 + i;
            let end = span.start + 1 + j + e.len_utf8();
            errors.push(Diagnostic::unknown_escape(Span::new(at, end), e));
        }
    }
}

/// Decodes the escapes of a string token (already checked).
pub fn unescape(text: &str) -> String {
    let inner = &text[1..text.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// `123`, `1_000`, `0xff_ff`, `1.5`, `2e-3`, `1.5E+3`.
fn valid_number(t: &str) -> bool {
    fn digits(s: &str, hex: bool) -> bool {
        !s.is_empty()
            && s.split('_').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|c| {
                        if hex {
                            c.is_ascii_hexdigit()
                        } else {
                            c.is_ascii_digit()
                        }
                    })
            })
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return digits(h, true);
    }
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int, false) && digits(frac, false),
        None => digits(mantissa, false),
    };
    let exp_ok = match exp {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit())
        }
    };
    mantissa_ok && exp_ok
}
