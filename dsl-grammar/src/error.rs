//! Diagnostics: the error codes, the translation of pest's failures into
//! readable messages, and a plain-text renderer (for tests and for tools
//! without miette).

use crate::ast::Span;
use crate::lex::{Tok, TokKind};
use crate::parser::Rule;
use crate::{line_col, MAX_NESTING, MAX_TREE_DEPTH};
use std::fmt;

/// A parse error. `span` is where the problem is (byte offsets into the
/// parsed text; an empty span is a position, e.g. the end of input), `labels`
/// point at related places (the `(` left open, the operator missing its
/// operand…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, `E001`…; see [`CODES`] and README.md.
    pub code: &'static str,
    /// Short and fixed per kind of error (`syntax error`, `unterminated string`…).
    pub title: String,
    /// What exactly is wrong here.
    pub message: String,
    pub span: Span,
    pub labels: Vec<(Span, String)>,
    /// How to fix it; every diagnostic of this crate has one.
    pub help: Option<String>,
}

/// Every error code: (code, title, one-line meaning).
pub const CODES: &[(&str, &str, &str)] = &[
    (
        "E001",
        "syntax error",
        "the text does not follow the grammar",
    ),
    (
        "E002",
        "reserved word used as a name",
        "a reserved word stands where a name is needed",
    ),
    (
        "E003",
        "unterminated string",
        "a string has no closing `\"` on its line",
    ),
    (
        "E004",
        "unknown escape",
        "a string contains a `\\` escape other than \\\" \\\\ \\n \\t",
    ),
    ("E005", "unclosed delimiter", "a `(` or `[` is never closed"),
    (
        "E006",
        "unexpected closing delimiter",
        "a `)` or `]` closes nothing, or the wrong bracket",
    ),
    (
        "E007",
        "invalid number",
        "a number literal is malformed or does not fit in 64 bits",
    ),
    (
        "E008",
        "`all of` without `where`",
        "`all of COLL` needs `where COND`",
    ),
    (
        "E009",
        "chained comparison",
        "comparisons do not chain: `a < b < c`",
    ),
    (
        "E010",
        "nested too deeply",
        "the expression nests deeper than the parser allows",
    ),
    (
        "E011",
        "expression too large",
        "the text is longer than 64 KiB, or too complex for the parser",
    ),
];

fn title(code: &str) -> String {
    CODES
        .iter()
        .find(|c| c.0 == code)
        .map_or("error", |c| c.1)
        .to_string()
}

impl Diagnostic {
    pub(crate) fn new(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            title: title(code),
            message: message.into(),
            span,
            labels: Vec::new(),
            help: None,
        }
    }

    pub(crate) fn label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push((span, text.into()));
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn unterminated_string(span: Span) -> Diagnostic {
        Diagnostic::new(
            "E003",
            Span::new(span.start, span.start + 1),
            "unterminated string",
        )
        .label(span, "this string has no closing `\"` on its line")
        .help(
            "close the string with `\"`; a string cannot span lines (write `\\n` for a line break)",
        )
    }

    pub(crate) fn unknown_escape(span: Span, c: char) -> Diagnostic {
        let mut help = "the escapes are `\\\"`, `\\\\`, `\\n` and `\\t`".to_string();
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                '.' | '(' | ')' | '[' | ']' | '*' | '+' | '?' | '{' | '}' | '|' | '$' | '^'
            )
        {
            help.push_str(&format!(
                "; for a regex's `\\{c}`, double the backslash: `\"\\\\{c}\"`"
            ));
        }
        Diagnostic::new("E004", span, format!("unknown escape `\\{c}`")).help(help)
    }

    pub(crate) fn invalid_number(span: Span, text: &str) -> Diagnostic {
        Diagnostic::new("E007", span, format!("invalid number `{text}`")).help(
            "numbers are written `123`, `1_000`, `0xffff_8880`, `1.5` or `2e-3`; a name cannot start with a digit",
        )
    }

    pub(crate) fn unclosed(span: Span, open: &str, end: usize) -> Diagnostic {
        let close = if open == "(" { ")" } else { "]" };
        Diagnostic::new("E005", span, format!("unclosed `{open}`"))
            .label(
                Span::new(end, end),
                format!("expected `{close}` before the end"),
            )
            .help(format!("add the `{close}` that closes this `{open}`"))
    }

    pub(crate) fn unexpected_close(span: Span, close: &str) -> Diagnostic {
        let open = if close == ")" { "(" } else { "[" };
        Diagnostic::new(
            "E006",
            span,
            format!("unexpected `{close}`: no `{open}` is open here"),
        )
        .help(format!(
            "remove this `{close}`, or add the `{open}` it should close"
        ))
    }

    pub(crate) fn mismatched_close(
        span: Span,
        close: &str,
        open_span: Span,
        open: &str,
    ) -> Diagnostic {
        let want = if open == "(" { ")" } else { "]" };
        Diagnostic::new(
            "E006",
            span,
            format!("mismatched `{close}`: the open bracket is `{open}`"),
        )
        .label(open_span, format!("this `{open}` is closed by `{want}`"))
        .help(format!("close `{open}` with `{want}` first"))
    }

    pub(crate) fn too_deep_brackets(span: Span) -> Diagnostic {
        Diagnostic::new(
            "E010",
            span,
            format!("brackets nest more than {MAX_NESTING} levels deep"),
        )
        .help("split the expression with `let` bindings")
    }

    pub(crate) fn too_deep(span: Span) -> Diagnostic {
        Diagnostic::new(
            "E010",
            span,
            format!("the expression nests more than {MAX_NESTING} levels deep"),
        )
        .help("split the expression with `let` bindings")
    }

    pub(crate) fn tree_too_deep(span: Span) -> Diagnostic {
        Diagnostic::new(
            "E010",
            span,
            format!("the expression is too long: its syntax tree is more than {MAX_TREE_DEPTH} levels deep"),
        )
        .help("split the expression with `let` bindings, or use `in [..]` / `has any [..]` instead of long `or` chains")
    }

    /// Renders the diagnostic as plain text:
    ///
    /// ```text
    /// E001: syntax error
    ///  --> 1:6
    ///   |
    /// 1 | a and
    ///   |      ^ expected an expression after `and`
    ///   = help: …
    /// ```
    pub fn render(&self, src: &str) -> String {
        let (line, col) = line_col(src, self.span.start);
        let width = [self.span]
            .iter()
            .chain(self.labels.iter().map(|l| &l.0))
            .map(|s| line_col(src, s.start).0.to_string().len())
            .max()
            .unwrap_or(1);
        let pad = " ".repeat(width);
        let mut out = format!(
            "{}: {}\n{pad}--> {line}:{col}\n{pad} |\n",
            self.code, self.title
        );
        let mut marks: Vec<(usize, Span, char, &str)> = vec![(line, self.span, '^', &self.message)];
        for (span, text) in &self.labels {
            marks.push((line_col(src, span.start).0, *span, '-', text));
        }
        marks.sort_by_key(|m| m.0);
        let lines: Vec<&str> = src.split('\n').collect();
        let mut shown = 0;
        for (l, span, mark, text) in marks {
            if l != shown {
                let text = lines
                    .get(l - 1)
                    .copied()
                    .unwrap_or("")
                    .trim_end_matches('\r');
                out.push_str(&format!("{l:>width$} | {text}\n"));
                shown = l;
            }
            let col = line_col(src, span.start).1;
            let span_text = &src[span.start.min(src.len())..span.end.min(src.len())];
            let n = span_text
                .split('\n')
                .next()
                .unwrap_or("")
                .chars()
                .count()
                .max(1);
            out.push_str(&format!(
                "{pad} | {}{} {text}\n",
                " ".repeat(col - 1),
                mark.to_string().repeat(n)
            ));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("{pad} = help: {help}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} (at {})",
            self.code, self.title, self.message, self.span
        )
    }
}

impl std::error::Error for Diagnostic {}

// ------------------------------------------------------------ pest errors

pub(crate) const RESERVED: &[&str] = &[
    "for", "let", "in", "where", "and", "or", "not", "any", "all", "none", "of", "has", "prefix",
    "regex", "group", "by", "as", "having", "sort", "desc", "top", "true", "false", "null",
    "matches",
];

/// Reserved words that can begin an expression.
const EXPR_WORDS: &[&str] = &[
    "not", "any", "all", "none", "group", "sort", "top", "true", "false", "null",
];

/// Words and symbols after which an operand must follow.
const NEEDS_OPERAND: &[&str] = &[
    "where", "and", "or", "not", "in", "matches", "has", "any", "prefix", "regex", "of", "by",
    "having", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "=", "(", "[", ",",
    "group", "sort", "top",
];

#[derive(Default)]
struct Expected {
    expr: bool,
    operator: bool,
    pattern: bool,
    name: bool,
    stmt: bool,
    eoi: bool,
    /// Nothing could be parsed at all.
    start: bool,
    tokens: Vec<&'static str>,
}

fn classify(positives: &[Rule]) -> Expected {
    let mut e = Expected::default();
    for r in positives {
        let tok = match r {
            Rule::term | Rule::op_not | Rule::op_neg | Rule::expr | Rule::cond | Rule::primary => {
                e.expr = true;
                continue;
            }
            Rule::program | Rule::expr_only => {
                e.expr = true;
                e.start = true;
                continue;
            }
            Rule::op_where
            | Rule::op_or
            | Rule::op_and
            | Rule::op_eq
            | Rule::op_ne
            | Rule::op_le
            | Rule::op_lt
            | Rule::op_ge
            | Rule::op_gt
            | Rule::op_in
            | Rule::op_matches
            | Rule::op_has
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_mod
            | Rule::field
            | Rule::opt_field
            | Rule::index => {
                e.operator = true;
                continue;
            }
            Rule::has_any
            | Rule::has_prefix
            | Rule::has_regex
            | Rule::kw_any
            | Rule::kw_prefix
            | Rule::kw_regex => {
                e.pattern = true;
                continue;
            }
            Rule::name | Rule::field_name | Rule::global_opt => {
                e.name = true;
                continue;
            }
            Rule::kw_for | Rule::kw_let => {
                e.stmt = true;
                continue;
            }
            Rule::EOI => {
                e.eoi = true;
                continue;
            }
            Rule::rparen => "`)`",
            Rule::rbracket => "`]`",
            Rule::comma => "`,`",
            Rule::assign => "`=`",
            Rule::kw_in => "`in`",
            Rule::kw_of => "`of`",
            Rule::kw_by => "`by`",
            Rule::kw_where => "`where`",
            Rule::kw_as => "`as`",
            Rule::kw_having => "`having`",
            Rule::kw_desc => "`desc`",
            _ => continue,
        };
        if !e.tokens.contains(&tok) {
            e.tokens.push(tok);
        }
    }
    e
}

fn describe(src: &str, tok: Option<&Tok>) -> String {
    match tok {
        None => "end of input".to_string(),
        Some(t) => match t.kind {
            TokKind::Str => "a string".to_string(),
            TokKind::Word if RESERVED.contains(&t.text(src)) => {
                format!("the reserved word `{}`", t.text(src))
            }
            _ => format!("`{}`", t.text(src)),
        },
    }
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} or {}", rest.join(", "), last),
    }
}

/// Turns a pest failure into a diagnostic.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over pest's failure: the budget and depth errors, then what was expected where, each turned into its coded diagnostic with the words a rule author reads"
)]
pub(crate) fn from_pest(
    err: &pest::error::Error<Rule>,
    src: &str,
    toks: &[Tok],
    program: bool,
) -> Diagnostic {
    let pos = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let positives = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { message } => {
            let at = Span::new(pos, pos);
            return if message.contains("stack") {
                Diagnostic::too_deep(at)
            } else {
                // The call budget ran out somewhere in a backtracking
                // search: the expression as a whole is the culprit.
                Diagnostic::new(
                    "E011",
                    Span::new(0, src.len()),
                    format!("the parser gave up: {message}"),
                )
                .help("simplify the expression or split it with `let` bindings")
            };
        }
    };
    let found = toks.iter().find(|t| t.span.end > pos);
    let prev = toks.iter().rev().find(|t| t.span.end <= pos);
    let span = found.map_or(Span::new(src.len(), src.len()), |t| t.span);
    let found_text = found.map_or("", |t| t.text(src));
    let prev_text = prev.map_or("", |t| t.text(src));
    let found_desc = describe(src, found);
    let exp = classify(&positives);
    if std::env::var_os("DSL_DEBUG").is_some() {
        eprintln!("pos {pos} positives {positives:?}");
    }

    // A reserved word where a name must be.
    if let Some(t) = found {
        let word = t.text(src);
        let reserved = t.kind == TokKind::Word && RESERVED.contains(&word);
        // In an expression, a reserved word followed by a word is more likely
        // a missing operand (`top of tasks`) than a name (`where by == 1`).
        let next = toks.iter().find(|n| n.span.start >= t.span.end);
        let name_like = !next.is_some_and(|n| n.kind != TokKind::Punct);
        if reserved && (exp.name || (exp.expr && name_like && !EXPR_WORDS.contains(&word))) {
            let mut d = Diagnostic::new(
                "E002",
                t.span,
                format!("a reserved word `{word}` cannot be a name"),
            )
            .help(format!(
                "`{word}` is reserved; choose another name (a field named `{word}` can still be read as `x.{word}`)"
            ));
            if let Some(p) = prev {
                if exp.expr && !exp.name {
                    d = d.label(
                        p.span,
                        format!("an expression was expected after `{}`", p.text(src)),
                    );
                }
            }
            return d;
        }
    }

    let mut d;
    let operand_missing = exp.expr && prev.is_some() && NEEDS_OPERAND.contains(&prev_text);
    if operand_missing {
        let p = prev.unwrap();
        let message = match prev_text {
            "where" => "`where` needs a condition".to_string(),
            "having" => "`having` needs a condition".to_string(),
            "by" => "expected a key after `by`".to_string(),
            "of" => "expected a collection after `of`".to_string(),
            "=" => "expected a value after `=`".to_string(),
            "(" | "[" | "," => format!("expected an expression, found {found_desc}"),
            _ => format!("expected an expression after `{prev_text}`"),
        };
        let label = match prev_text {
            "(" | "[" | "," => format!("after this `{prev_text}`"),
            "where" | "having" => format!("this `{prev_text}` has no condition"),
            _ => format!("`{prev_text}` needs an operand"),
        };
        let help = match prev_text {
            "where" => "write the condition after `where`, e.g. `tasks where state == \"D\"`".to_string(),
            "has" | "any" | "prefix" | "regex" => "`has` takes a function name: `stack has \"do_wait\"`, `has any [\"a\", \"b\"]`, `has prefix \"rwsem_\"` or `has regex \"^queued_\"`".to_string(),
            _ if found.is_none() => format!("complete the expression after `{prev_text}`"),
            _ => format!("{found_desc} cannot start an expression here"),
        };
        d = Diagnostic::new("E001", span, message)
            .label(p.span, label)
            .help(help);
    } else if exp.operator && matches!(found_text, "let" | "for") {
        d = Diagnostic::new(
            "E001",
            span,
            format!("a `{found_text}` statement cannot follow the condition"),
        )
        .help(if program {
            "put the `for`/`let` statements first: a program is statements, then the one condition that decides the match"
        } else {
            "this is a single expression: statements are not allowed here"
        });
    } else if program && found.is_none() && exp.stmt && exp.expr && prev.is_some() {
        // The text ends after a statement: the condition is missing.
        d = Diagnostic::new(
            "E001",
            span,
            "expected the rule's condition after the last statement",
        )
        .help("a program is `for`/`let` statements, then the condition that decides the match, e.g. `count(xs) > 0`");
        if let Some(p) = prev {
            d = d.label(p.span, "the last statement ends here");
        }
    } else {
        let mut items: Vec<String> = exp.tokens.iter().map(|t| t.to_string()).collect();
        if exp.pattern {
            items.push("a pattern (a string, `any`, `prefix` or `regex`)".into());
        }
        if exp.expr {
            items.push("an expression".into());
        }
        if exp.name {
            items.push("a name".into());
        }
        if exp.operator {
            items.push("an operator".into());
        }
        if exp.stmt && !exp.expr {
            items.push("`for` or `let`".into());
        }
        if exp.eoi {
            items.push("end of input".into());
        }
        let expected = join_or(&items);
        let message = if expected.is_empty() {
            format!("unexpected {found_desc}")
        } else {
            format!("expected {expected}, found {found_desc}")
        };
        d = Diagnostic::new("E001", span, message);
        let help = if exp.tokens.contains(&"`)`") || exp.tokens.contains(&"`]`") {
            if let Some(open) = enclosing_open(src, toks, pos) {
                let close = if open.text(src) == "(" { ")" } else { "]" };
                d = d.label(open.span, format!("inside this `{}`", open.text(src)));
                format!(
                    "separate items with `,`; the `{}` ends with `{close}`",
                    open.text(src)
                )
            } else {
                "check the brackets".to_string()
            }
        } else if exp.tokens.contains(&"`by`") {
            "`group`, `sort` and `top` take `by KEY` after their collection".to_string()
        } else if exp.tokens.contains(&"`in`") {
            "write `for NAME in COLLECTION`".to_string()
        } else if exp.tokens.contains(&"`of`") {
            "write `any of COLL`, `all of COLL where COND`, `none of COLL`, or `top N of COLL by KEY`".to_string()
        } else if exp.tokens.contains(&"`=`") {
            "write `let NAME = EXPR`".to_string()
        } else if exp.name {
            "a name is a letter or `_`, then letters, digits or `_`".to_string()
        } else if exp.start && found.is_none() {
            "write a condition, e.g. `count(tasks where state == \"D\") > 0`".to_string()
        } else if exp.operator && found.is_some_and(|f| f.kind != TokKind::Punct) {
            format!(
                "two expressions cannot follow each other; join them with an operator such as `and`{}",
                if program { " (a program is `for`/`let` statements, then one condition)" } else { "" }
            )
        } else {
            "check the syntax near here; see the language reference in vmtriage-dsl's README"
                .to_string()
        };
        d = d.help(help);
    }

    // Common slips from other languages.
    let slip = match found_text {
        "&&" => Some("write `and` instead of `&&`"),
        "||" => Some("write `or` instead of `||`"),
        "!" => Some("write `not` instead of `!`"),
        "=" => Some("compare with `==`; `=` only appears in `let NAME = EXPR`"),
        "'" => Some("strings are written in double quotes: \"text\""),
        "=>" => Some("compare with `>=`"),
        "?" => Some("`?` is only part of `?.` (null-safe field: `a?.b`) and `@?` (optional global: `@?name`)"),
        "&" | "|" => Some("logical operators are `and`, `or` and `not`"),
        _ => None,
    };
    if let Some(s) = slip {
        d = d.help(s);
    } else if !found_text.is_ascii() && found.is_some_and(|f| f.kind == TokKind::Punct) {
        d = d.help(
            "names are ASCII: letters, digits and `_`; other characters only appear in strings",
        );
    } else if let (Some(f), Some(p)) = (found, prev) {
        let gap = f.span.start > p.span.end;
        if gap && p.kind == TokKind::Word && f.text(src) == "(" && exp.operator {
            d = d.help(format!(
                "to call `{}`, write `(` right after the name, without a space",
                p.text(src)
            ));
        } else if gap && f.text(src) == "[" && exp.operator {
            d = d.help("to index, write `[` right after the value, without a space");
        }
    }
    d
}

/// The innermost bracket still open at `pos`.
fn enclosing_open<'t>(src: &str, toks: &'t [Tok], pos: usize) -> Option<&'t Tok> {
    let mut open = Vec::new();
    for t in toks.iter().take_while(|t| t.span.start < pos) {
        match t.text(src) {
            "(" | "[" if t.kind == TokKind::Punct => open.push(t),
            ")" | "]" if t.kind == TokKind::Punct => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}
