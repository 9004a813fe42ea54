//! Errors for rule authors: a stable code, a message, the span in the YAML
//! file, a help line — rendered by miette like rustc does.

use miette::{Diagnostic, LabeledSpan, SourceCode};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RuleDiagnostic {
    pub code: String,
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
        code: &str,
        title: impl Into<String>,
        file: &str,
        src: &Arc<String>,
        span: (usize, usize),
    ) -> Self {
        RuleDiagnostic {
            code: code.into(),
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
            "code": self.code, "title": self.title, "file": self.file,
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
        let len = self.span.1.saturating_sub(self.span.0).max(1);
        let mut v = vec![LabeledSpan::new_primary_with_span(
            (!self.label.is_empty()).then(|| self.label.clone()),
            (self.span.0, len),
        )];
        for ((s, e), l) in &self.extra {
            v.push(LabeledSpan::new_with_span(
                Some(l.clone()),
                (*s, e.saturating_sub(*s).max(1)),
            ));
        }
        Some(Box::new(v.into_iter()))
    }
}

impl SourceCode for RuleDiagnostic {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.src.as_str().read_span(span, before, after)?;
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
