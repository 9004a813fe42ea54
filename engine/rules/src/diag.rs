//! Errors for rule authors: a stable code, a message, the span in the YAML
//! file, a help line — rendered by miette like rustc does.

use miette::{Diagnostic, LabeledSpan, SourceCode};
use std::fmt;
use std::sync::Arc;

/// Every error a rule file can have, by its stable code (rules/README.md
/// lists them; a test keeps the two in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// R001: not a valid rule file (YAML).
    InvalidYaml,
    /// R002: unknown field.
    UnknownField,
    /// R003: missing field.
    MissingField,
    /// R004: unknown severity.
    UnknownSeverity,
    /// R005: malformed id.
    MalformedId,
    /// R006: unusable param default.
    BadParamDefault,
    /// R007: bad kernel version range.
    BadVersionRange,
    /// R008: unclosed `{` in the message.
    UnclosedHole,
    /// R009: duplicate id.
    DuplicateId,
    /// R010: the rule file is larger than `source::MAX_RULE_FILE_BYTES`.
    FileTooLarge,
    /// R011: the YAML expands beyond `source::MAX_YAML_NODES` values or
    /// `source::MAX_YAML_TEXT` bytes (aliases of aliases), or nests deeper
    /// than its parser allows.
    YamlTooLarge,
    /// R012: an evidence label that cannot be shown: empty, more than one
    /// line or `rule::MAX_LABEL_CHARS` characters, a template, not text, or
    /// the label of another item of the same rule.
    BadLabel,
    /// R013: a `needs:` that is not `log` or `dump`.
    UnknownNeed,
    /// E001–E011: a syntax error in an expression, with the expression
    /// parser's own code (dsl-grammar/README.md).
    Syntax(&'static str),
    /// C001: unknown name.
    UnknownName,
    /// C002: unknown field of a model type.
    UnknownModelField,
    /// C003: type mismatch (operands, a built-in's arguments).
    TypeMismatch,
    /// C004: unknown function, or a number of arguments it does not take.
    BadCall,
    /// C005: unknown param (a close match of a declared one).
    UnknownParam,
    /// C006: unused capture.
    UnusedCapture,
    /// C007: invalid regex.
    InvalidRegex,
    /// C008: unused param.
    UnusedParam,
    /// C009: a regex larger than `limits::MAX_REGEX_SIZE` once compiled.
    RegexTooLarge,
    /// C010: a string or list the rule builds from its own parts could grow
    /// beyond `limits::MAX_BUILT_SIZE`.
    ValueTooLarge,
    /// C011: an operator applied to operand types none of its declarations
    /// takes (`version >= int`, `-"x"`, indexing a task), or a `sort`/`group`
    /// key of a type without an order.
    OperatorMismatch,
    /// C012: an operation on constants that fails whatever the dump (a
    /// division by a literal zero, a constant overflow).
    ConstantError,
    /// C013: a rule that declares `needs: log` reads what only a dump has
    /// (tasks, locks, memory, a global…), at the first such use.
    NeedsDump,
    /// H001: a helper file does not compile.
    HelperCompile,
    /// H002: a helper file breaks a limit of the sandbox when it is compiled
    /// (file size, nesting, number of functions, literal size).
    HelperTooLarge,
    /// H003: a helper file names a function that blocks without spending
    /// operations (`helpers::WAITING_FUNCTIONS`: `sleep`).
    HelperWaits,
}

impl Code {
    /// Every code of the rules crate's own (syntax errors are the parser's).
    pub const ALL: &'static [Code] = &[
        Code::InvalidYaml,
        Code::UnknownField,
        Code::MissingField,
        Code::UnknownSeverity,
        Code::MalformedId,
        Code::BadParamDefault,
        Code::BadVersionRange,
        Code::UnclosedHole,
        Code::DuplicateId,
        Code::FileTooLarge,
        Code::YamlTooLarge,
        Code::BadLabel,
        Code::UnknownNeed,
        Code::UnknownName,
        Code::UnknownModelField,
        Code::TypeMismatch,
        Code::BadCall,
        Code::UnknownParam,
        Code::UnusedCapture,
        Code::InvalidRegex,
        Code::UnusedParam,
        Code::RegexTooLarge,
        Code::ValueTooLarge,
        Code::OperatorMismatch,
        Code::ConstantError,
        Code::NeedsDump,
        Code::HelperCompile,
        Code::HelperTooLarge,
        Code::HelperWaits,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Code::InvalidYaml => "R001",
            Code::UnknownField => "R002",
            Code::MissingField => "R003",
            Code::UnknownSeverity => "R004",
            Code::MalformedId => "R005",
            Code::BadParamDefault => "R006",
            Code::BadVersionRange => "R007",
            Code::UnclosedHole => "R008",
            Code::DuplicateId => "R009",
            Code::FileTooLarge => "R010",
            Code::YamlTooLarge => "R011",
            Code::BadLabel => "R012",
            Code::UnknownNeed => "R013",
            Code::Syntax(c) => c,
            Code::UnknownName => "C001",
            Code::UnknownModelField => "C002",
            Code::TypeMismatch => "C003",
            Code::BadCall => "C004",
            Code::UnknownParam => "C005",
            Code::UnusedCapture => "C006",
            Code::InvalidRegex => "C007",
            Code::UnusedParam => "C008",
            Code::RegexTooLarge => "C009",
            Code::ValueTooLarge => "C010",
            Code::OperatorMismatch => "C011",
            Code::ConstantError => "C012",
            Code::NeedsDump => "C013",
            Code::HelperCompile => "H001",
            Code::HelperTooLarge => "H002",
            Code::HelperWaits => "H003",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone)]
pub struct RuleDiagnostic {
    pub code: Code,
    pub title: String,
    pub label: String,
    pub help: Option<String>,
    pub file: String,
    pub src: Arc<String>,
    /// Byte range in the file.
    pub span: (usize, usize),
    pub extra: Vec<((usize, usize), String)>,
}

impl RuleDiagnostic {
    pub fn new(
        code: Code,
        title: impl Into<String>,
        file: &str,
        src: &Arc<String>,
        span: (usize, usize),
    ) -> Self {
        RuleDiagnostic {
            code,
            title: title.into(),
            label: String::new(),
            help: None,
            file: file.into(),
            src: src.clone(),
            span,
            extra: Vec::new(),
        }
    }
    pub fn label(mut self, l: impl Into<String>) -> Self {
        self.label = l.into();
        self
    }
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
    /// (line, column), 1-based, of the primary span.
    pub fn line_col(&self) -> (usize, usize) {
        let before = &self.src[..self.span.0.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }
    /// The JSON form: `{code, title, file, line, column, labels, help}`.
    pub fn to_json(&self) -> serde_json::Value {
        let (line, column) = self.line_col();
        serde_json::json!({
            "code": self.code.as_str(), "title": self.title, "file": self.file,
            "line": line, "column": column, "label": self.label, "help": self.help,
        })
    }
    /// The rendered report without colors (for snapshots and logs).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(100);
        let _ = handler.render_report(&mut out, self);
        out
    }
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for RuleDiagnostic {}

impl Diagnostic for RuleDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let mut v = vec![LabeledSpan::new_primary_with_span(
            (!self.label.is_empty()).then(|| self.label.clone()),
            self.shown(self.span),
        )];
        for (s, l) in &self.extra {
            v.push(LabeledSpan::new_with_span(Some(l.clone()), self.shown(*s)));
        }
        Some(Box::new(v.into_iter()))
    }
}

/// The longest line a report shows whole; a label is underlined for at most
/// this many bytes. A hostile file may hold a line of 200 000 `(`: its
/// report shows the part of the line where the error is.
const MAX_SHOWN_LINE: usize = 240;

impl RuleDiagnostic {
    /// A span as a report shows it: at least one byte, within the file, at
    /// most `MAX_SHOWN_LINE` bytes and not past the end of its line.
    fn shown(&self, (s, e): (usize, usize)) -> (usize, usize) {
        let src = self.src.as_str();
        let s = floor_boundary(src, s.min(src.len()));
        let line_end = src[s..].find('\n').map_or(src.len(), |i| s + i);
        let e = e.min(line_end).min(s + MAX_SHOWN_LINE).max(s + 1);
        (s, e - s)
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

impl SourceCode for RuleDiagnostic {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let src = self.src.as_str();
        let short = |data: &[u8]| {
            data.split(|&b| b == b'\n')
                .all(|l| l.len() <= MAX_SHOWN_LINE)
        };
        let inner = src.read_span(span, before, after)?;
        if !short(inner.data()) {
            // Long lines: the span's own lines only, and if one of those is
            // long, a window of its first line that starts at the span.
            let start = floor_boundary(src, span.offset().min(src.len()));
            let end = ceil_boundary(src, (span.offset() + span.len()).min(src.len()));
            let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = src[end..].find('\n').map_or(src.len(), |i| end + i);
            let line = src[..start].matches('\n').count();
            let (from, to, column) = if short(&src.as_bytes()[line_start..line_end]) {
                (line_start, line_end, 0)
            } else {
                let first_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
                let to = ceil_boundary(src, first_end.min(start + MAX_SHOWN_LINE));
                (start, to, src[line_start..start].chars().count())
            };
            let lines = src[from..to].matches('\n').count() + 1;
            return Ok(Box::new(miette::MietteSpanContents::new_named(
                self.file.clone(),
                &src.as_bytes()[from..to],
                (from, to - from).into(),
                line,
                column,
                lines,
            )));
        }
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.file.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A word with its article: "an int", "a list<task>".
pub fn with_article(w: &str) -> String {
    let vowel = w.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {w}", if vowel { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// rules/README.md's table of errors lists every code, and no other.
    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../../rules/README.md");
        let listed: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| "))
            .filter_map(|l| l.split(' ').next())
            .filter(|c| c.len() == 4 && c[1..].chars().all(|d| d.is_ascii_digit()))
            .filter(|c| !c.starts_with('E'))
            .collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, ours);
    }
}
