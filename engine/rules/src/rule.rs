//! Rule files: the YAML format, loading with positions, parsing of the
//! embedded expressions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vmtriage_dsl::ast;

use crate::diag::{Code, RuleDiagnostic};
use crate::source::{scan_fields, FieldText};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// Kernel release ranges: `">= 5.10, < 7.0"`.
    #[serde(default)]
    pub kernels: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParamDoc {
    pub default: serde_yaml_ng::Value,
    pub help: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTests {
    #[serde(default)]
    pub fires_on: Vec<String>,
    #[serde(default)]
    pub silent_on: Vec<String>,
}

/// A rule file as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDoc>,
    #[serde(rename = "match")]
    pub match_expr: String,
    #[serde(default)]
    pub evidence: Vec<String>,
    pub message: String,
    #[serde(default)]
    pub remediation: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub tests: RuleTests,
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    List(Vec<ParamValue>),
}

impl ParamValue {
    pub fn from_yaml(v: &serde_yaml_ng::Value) -> Option<ParamValue> {
        use serde_yaml_ng::Value as Y;
        Some(match v {
            Y::Bool(b) => ParamValue::Bool(*b),
            Y::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64()?),
            },
            Y::String(s) => ParamValue::Str(s.clone()),
            Y::Sequence(s) => {
                ParamValue::List(s.iter().map(ParamValue::from_yaml).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }
    /// Parses a `--param RULE.NAME=VALUE` value in the type of the default.
    pub fn parse_like(&self, s: &str) -> Option<ParamValue> {
        Some(match self {
            ParamValue::Int(_) => ParamValue::Int(s.parse().ok()?),
            ParamValue::Float(_) => ParamValue::Float(s.parse().ok()?),
            ParamValue::Bool(_) => ParamValue::Bool(s.parse().ok()?),
            ParamValue::Str(_) => ParamValue::Str(s.to_string()),
            ParamValue::List(_) => ParamValue::List(
                s.split(',')
                    .map(|x| ParamValue::Str(x.trim().to_string()))
                    .collect(),
            ),
        })
    }
}

/// One `{expr}` hole of a message template, or literal text.
#[derive(Debug, Clone)]
pub enum MessagePart {
    Text(String),
    Hole(ast::Expr, String),
}

/// A kernel version constraint (`>= 5.10`).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionReq {
    pub op: &'static str,
    pub version: Vec<u64>,
}

/// A loaded, parsed rule (not yet type-checked).
#[derive(Debug, Clone)]
pub struct Rule {
    pub doc: RuleDoc,
    pub file: String,
    pub src: Arc<String>,
    pub fields: BTreeMap<String, FieldText>,
    pub program: ast::Program,
    pub evidence: Vec<(String, ast::Expr, (usize, usize))>,
    pub message: Vec<MessagePart>,
    pub params: BTreeMap<String, ParamValue>,
    pub kernels: Vec<VersionReq>,
}

/// A kernel version from a release string: the leading numbers (`6.1.0-56-cloud-amd64` → [6, 1, 0]).
pub fn parse_version(s: &str) -> Option<Vec<u64>> {
    let head: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: Vec<u64> = head
        .split('.')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    (!v.is_empty()).then_some(v)
}

pub fn cmp_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

pub fn parse_version_reqs(s: &str) -> Result<Vec<VersionReq>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        if p.is_empty() {
            continue;
        }
        let (op, rest) = [">=", "<=", "==", ">", "<"]
            .iter()
            .find_map(|op| p.strip_prefix(op).map(|r| (*op, r)))
            .ok_or_else(|| format!("`{p}` has no comparison: write e.g. `>= 5.10` or `< 6.13`"))?;
        let v = parse_version(rest)
            .filter(|_| rest.trim().chars().all(|c| c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!(
                    "`{}` is not a kernel version (expected numbers like 5.10 or 6.1.12)",
                    rest.trim()
                )
            })?;
        out.push(VersionReq { op, version: v });
    }
    if out.is_empty() {
        return Err("empty version range".into());
    }
    Ok(out)
}

pub fn version_matches(reqs: &[VersionReq], release: &str) -> bool {
    let Some(v) = parse_version(release) else {
        return true;
    };
    reqs.iter().all(|r| {
        let o = cmp_versions(&v, &r.version);
        match r.op {
            ">=" => o.is_ge(),
            "<=" => o.is_le(),
            ">" => o.is_gt(),
            "<" => o.is_lt(),
            _ => o.is_eq(),
        }
    })
}

fn dsl_diag(
    d: &vmtriage_dsl::Diagnostic,
    file: &str,
    src: &Arc<String>,
    f: &FieldText,
) -> RuleDiagnostic {
    let span = (
        f.file_offset(d.span.start),
        f.file_offset(d.span.end.max(d.span.start + 1) - 1) + 1,
    );
    let mut r = RuleDiagnostic::new(Code::Syntax(d.code), d.title.clone(), file, src, span)
        .label(d.message.clone());
    if let Some(h) = &d.help {
        r = r.help(h.clone());
    }
    for (s, l) in &d.labels {
        r.extra.push((
            (
                f.file_offset(s.start),
                f.file_offset(s.end.max(s.start + 1) - 1) + 1,
            ),
            l.clone(),
        ));
    }
    r
}

/// Loads and parses one rule file's text.
pub fn load_rule(file: &str, text: &str) -> Result<Rule, Vec<RuleDiagnostic>> {
    let src = Arc::new(text.to_string());
    let fields: BTreeMap<String, FieldText> = scan_fields(text).into_iter().collect();
    let doc: RuleDoc = match serde_yaml_ng::from_str(text) {
        Ok(d) => d,
        Err(e) => return Err(vec![yaml_diag(&e, file, &src, &fields)]),
    };
    let mut errs = Vec::new();
    let at = |name: &str| -> (usize, usize) {
        fields
            .get(name)
            .map(|f| (f.key_offset, f.key_offset + name.len()))
            .unwrap_or((0, 1))
    };
    let id_ok = doc.id.split_once('-').is_some_and(|(a, b)| {
        !a.is_empty()
            && a.chars().all(|c| c.is_ascii_uppercase())
            && b.len() == 4
            && b.chars().all(|c| c.is_ascii_digit())
    });
    if !id_ok {
        let f = &fields["id"];
        errs.push(
            RuleDiagnostic::new(Code::MalformedId, format!("malformed rule id `{}`", doc.id), file, &src, (f.file_offset(0), f.file_offset(f.text.len().max(1) - 1) + 1))
                .label("not of the form SUBSYSTEM-NNNN")
                .help("rule ids are stable and look like `LOCK-0001`: upper-case letters, a dash, four digits"),
        );
    }
    let mut params = BTreeMap::new();
    for (name, p) in &doc.params {
        match ParamValue::from_yaml(&p.default) {
            Some(v) => {
                params.insert(name.clone(), v);
            }
            None => errs.push(
                RuleDiagnostic::new(
                    Code::BadParamDefault,
                    format!("param `{name}` has an unusable default"),
                    file,
                    &src,
                    at("params"),
                )
                .help("a default is a number, a string, a bool or a list of those"),
            ),
        }
    }
    let kernels = match &doc.applies_to.kernels {
        Some(k) => match parse_version_reqs(k) {
            Ok(v) => v,
            Err(msg) => {
                let region = fields.get("applies_to").map(|f| f.region).unwrap_or((0, 1));
                let off = src[region.0..region.1]
                    .find(k.as_str())
                    .map(|o| o + region.0)
                    .unwrap_or(region.0);
                errs.push(
                    RuleDiagnostic::new(
                        Code::BadVersionRange,
                        "bad kernel version range",
                        file,
                        &src,
                        (off, off + k.len()),
                    )
                    .label(msg)
                    .help("write ranges as comma-separated comparisons: `>= 5.10, < 6.13`"),
                );
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let mf = fields.get("match").cloned().unwrap_or(FieldText {
        key_offset: 0,
        text: doc.match_expr.clone(),
        map: vec![],
        region: (0, 0),
    });
    let program = match vmtriage_dsl::parse_program(&mf.text) {
        Ok(p) => Some(p),
        Err(ds) => {
            errs.extend(ds.iter().map(|d| dsl_diag(d, file, &src, &mf)));
            None
        }
    };
    // Evidence entries: each an expression, located inside the evidence field.
    let mut evidence = Vec::new();
    let ev_region = fields.get("evidence").map(|f| f.region).unwrap_or((0, 0));
    let mut search_from = ev_region.0;
    for item in &doc.evidence {
        let off = src[search_from.min(src.len())..ev_region.1.max(search_from).min(src.len())]
            .find(item.as_str())
            .map(|o| o + search_from)
            .unwrap_or(ev_region.0);
        search_from = off + item.len();
        let ft = FieldText {
            key_offset: off,
            text: item.clone(),
            map: (off..off + item.len()).collect(),
            region: (off, off + item.len()),
        };
        match vmtriage_dsl::parse_expr(item) {
            Ok(e) => evidence.push((item.clone(), e, (off, off + item.len()))),
            Err(ds) => errs.extend(ds.iter().map(|d| dsl_diag(d, file, &src, &ft))),
        }
    }
    // The message template's `{expr}` holes.
    let mut message = Vec::new();
    let msg_field = fields.get("message").cloned();
    let mtext = msg_field
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_else(|| doc.message.clone());
    let mut rest = 0usize;
    while let Some(open) = mtext[rest..].find('{').map(|o| o + rest) {
        if open > rest {
            message.push(MessagePart::Text(mtext[rest..open].to_string()));
        }
        let Some(close) = mtext[open..].find('}').map(|c| c + open) else {
            let off = msg_field.as_ref().map(|f| f.file_offset(open)).unwrap_or(0);
            errs.push(
                RuleDiagnostic::new(
                    Code::UnclosedHole,
                    "unclosed `{` in message",
                    file,
                    &src,
                    (off, off + 1),
                )
                .help("write `{expr}` to insert a value, `{{` for a literal brace"),
            );
            break;
        };
        let inner = &mtext[open + 1..close];
        match vmtriage_dsl::parse_expr(inner) {
            Ok(e) => message.push(MessagePart::Hole(e, inner.to_string())),
            Err(ds) => {
                if let Some(f) = &msg_field {
                    let sub = FieldText {
                        key_offset: f.key_offset,
                        text: inner.to_string(),
                        map: f.map[(open + 1).min(f.map.len())..close.min(f.map.len())].to_vec(),
                        region: f.region,
                    };
                    errs.extend(ds.iter().map(|d| dsl_diag(d, file, &src, &sub)));
                }
            }
        }
        rest = close + 1;
    }
    if rest < mtext.len() {
        message.push(MessagePart::Text(mtext[rest..].to_string()));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let Some(program) = program else {
        return Err(errs);
    };
    Ok(Rule {
        doc,
        file: file.to_string(),
        src,
        fields,
        program,
        evidence,
        message,
        params,
        kernels,
    })
}

fn yaml_diag(
    e: &serde_yaml_ng::Error,
    file: &str,
    src: &Arc<String>,
    fields: &BTreeMap<String, FieldText>,
) -> RuleDiagnostic {
    let msg = e.to_string();
    let off = e.location().map(|l| l.index()).unwrap_or(0);
    // serde reports a position after the mapping for missing fields: point at the file's start.
    let first_line_end = src.find('\n').unwrap_or(src.len());
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        let span = fields
            .get(name)
            .map(|f| (f.key_offset, f.key_offset + name.len()))
            .unwrap_or((off, off + name.len().max(1)));
        let expected = rest
            .split("expected ")
            .nth(1)
            .map(|s| s.split(" at line").next().unwrap_or(s).to_string());
        let mut d = RuleDiagnostic::new(
            Code::UnknownField,
            format!("unknown field `{name}`"),
            file,
            src,
            span,
        )
        .label("not a rule field");
        if let Some(x) = expected {
            d = d.help(format!("rule fields are: {x}"));
        }
        return d;
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or("");
        return RuleDiagnostic::new(
            Code::MissingField,
            format!("missing field `{name}`"),
            file,
            src,
            (0, first_line_end.max(1)),
        )
        .label(format!("this rule has no `{name}`"))
        .help(format!(
            "every rule needs `{name}`; see rules/README.md for the format"
        ));
    }
    if msg.contains("unknown variant") {
        let bad = msg.split('`').nth(1).unwrap_or("");
        let span = src
            .find(&format!("severity: {bad}"))
            .map(|o| (o + 10, o + 10 + bad.len()))
            .unwrap_or((off, off + 1));
        return RuleDiagnostic::new(
            Code::UnknownSeverity,
            format!("unknown value `{bad}`"),
            file,
            src,
            span,
        )
        .label("not one of the allowed values")
        .help("severity is one of: info, low, medium, high, critical");
    }
    let short = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    RuleDiagnostic::new(
        Code::InvalidYaml,
        "invalid rule file",
        file,
        src,
        (off, off + 1),
    )
    .label(short)
    .help("a rule file is a YAML mapping; see rules/README.md for its fields")
}

/// Reads every `*.yaml` rule under a directory (sorted, recursive) and every
/// `*.rhai` helper file.
/// (file name, text) pairs.
pub type Sources = Vec<(String, String)>;

pub fn read_dir(dir: &Path) -> std::io::Result<(Sources, Sources)> {
    let mut rules = Vec::new();
    let mut helpers = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                rules.push((p.display().to_string(), std::fs::read_to_string(&p)?));
            } else if p.extension().is_some_and(|e| e == "rhai") {
                helpers.push((p.display().to_string(), std::fs::read_to_string(&p)?));
            }
        }
    }
    rules.sort();
    helpers.sort();
    Ok((rules, helpers))
}
