//! Rule files: the YAML format, loading with positions, parsing of the
//! embedded expressions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vmtriage_dsl::ast;

use crate::diag::{Code, RuleDiagnostic};
use crate::source::{
    read_yaml, scan_fields, FieldText, YamlError, YamlLimit, MAX_RULE_FILE_BYTES, MAX_YAML_DEPTH,
    MAX_YAML_NODES, MAX_YAML_TEXT,
};
use crate::ty::Need;
pub use crate::version::{parse_version_reqs, version_matches, VersionReq};

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

#[derive(Debug, Clone, Default, Serialize)]
pub struct AppliesTo {
    /// Kernel release ranges: `">= 5.10, < 7.0"`.
    pub kernels: Option<String>,
    pub arch: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamDoc {
    pub default: serde_yaml_ng::Value,
    pub help: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleTests {
    pub fires_on: Vec<String>,
    pub silent_on: Vec<String>,
}

/// A rule file as written.
#[derive(Debug, Clone, Serialize)]
pub struct RuleDoc {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub summary: String,
    pub description: String,
    pub applies_to: AppliesTo,
    /// What the rule declares it needs (`needs: log` or `needs: dump`);
    /// None: what the checker infers from what it reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs: Option<Need>,
    pub params: BTreeMap<String, ParamDoc>,
    #[serde(rename = "match")]
    pub match_expr: String,
    pub evidence: Vec<EvidenceDoc>,
    pub message: String,
    /// A template like `message` that becomes the dump's title when this
    /// rule fires (the highest severity wins, then pack order).
    pub dump_title: Option<String>,
    pub remediation: String,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    pub tests: RuleTests,
}

/// One item of `evidence:` as written: an expression, and the label the
/// report shows it under (`- EXPR`, `- LABEL: EXPR` or
/// `- {label: LABEL, value: EXPR}`).
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceDoc {
    pub label: Option<String>,
    pub value: String,
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

/// The longest `--param` value (bytes): a threshold, a name, a pattern or a
/// short list.
pub const MAX_PARAM_VALUE_BYTES: usize = 4096;

/// The most items a `--param` list may have.
pub const MAX_PARAM_LIST_ITEMS: usize = 256;

impl ParamValue {
    /// A param's value from its YAML default: a finite number, a string, a
    /// bool, or a list of those (a NaN or an infinite float is no usable
    /// threshold).
    pub fn from_yaml(v: &serde_yaml_ng::Value) -> Option<ParamValue> {
        use serde_yaml_ng::Value as Y;
        Some(match v {
            Y::Bool(b) => ParamValue::Bool(*b),
            Y::Number(n) => match n.as_i64() {
                Some(i) => ParamValue::Int(i),
                None => ParamValue::Float(n.as_f64().filter(|f| f.is_finite())?),
            },
            Y::String(s) => ParamValue::Str(s.clone()),
            Y::Sequence(s) => {
                ParamValue::List(s.iter().map(ParamValue::from_yaml).collect::<Option<_>>()?)
            }
            _ => return None,
        })
    }

    /// The type of the value in words, with its article: "an int", "a list
    /// of strings".
    pub fn type_name(&self) -> String {
        match self {
            ParamValue::Int(_) => "an int".into(),
            ParamValue::Float(_) => "a float".into(),
            ParamValue::Str(_) => "a string".into(),
            ParamValue::Bool(_) => "a bool".into(),
            ParamValue::List(l) => match l.first() {
                Some(x) => format!(
                    "a list of {}s",
                    x.type_name().split_once(' ').map_or("", |(_, t)| t)
                ),
                None => "a list".into(),
            },
        }
    }

    /// Parses a `--param RULE.NAME=VALUE` value as the type of `self` (the
    /// declared default): an int in i64's range, a finite float, `true` or
    /// `false`, any text for a string; a list as items separated by commas
    /// (`a,b,c`) or written as a YAML list (`[a, "5"]`), each item of the
    /// list's item type (a bare `5` is an int: quote it to pass text).
    /// `Err` says why the value is not of the type.
    pub fn parse_like(&self, s: &str) -> Result<ParamValue, String> {
        if s.len() > MAX_PARAM_VALUE_BYTES {
            return Err(format!(
                "is {} bytes long, more than the {MAX_PARAM_VALUE_BYTES} a value may have",
                s.len()
            ));
        }
        match self {
            ParamValue::Str(_) => Ok(ParamValue::Str(s.to_string())),
            ParamValue::List(items) => {
                let t = s.trim();
                // Each item as written, and as YAML would type it.
                let given: Vec<(String, ParamValue)> = if t.starts_with('[') {
                    yaml_list(t)?
                        .into_iter()
                        .map(|x| (x.to_string(), x))
                        .collect()
                } else if t.is_empty() {
                    Vec::new()
                } else {
                    t.split(',')
                        .map(|x| (x.trim().to_string(), scalar(x)))
                        .collect()
                };
                if given.len() > MAX_PARAM_LIST_ITEMS {
                    return Err(format!(
                        "has {} items, more than the {MAX_PARAM_LIST_ITEMS} a list may have",
                        given.len()
                    ));
                }
                // The item type: the default's, else the first item's.
                let Some(like) = items.first().or(given.first().map(|(_, x)| x)).cloned() else {
                    return Ok(ParamValue::List(Vec::new()));
                };
                given
                    .into_iter()
                    .enumerate()
                    .map(|(i, (text, x))| {
                        let why = |w: String| {
                            format!("has as item {} `{}`, which {w}", i + 1, short(&text))
                        };
                        match (&like, x) {
                            (_, ParamValue::List(_)) => Err(why(format!(
                                "is a list: items are {}s",
                                like.type_name().split_once(' ').map_or("", |(_, t)| t)
                            ))),
                            (ParamValue::Str(_), ParamValue::Str(s)) => Ok(ParamValue::Str(s)),
                            (ParamValue::Str(_), other) => Err(why(format!(
                                "is {}, not a string (quote it to pass it as text: `[\"{text}\"]`)",
                                other.type_name()
                            ))),
                            (other, _) => other.parse_like(&text).map_err(why),
                        }
                    })
                    .collect::<Result<_, _>>()
                    .map(ParamValue::List)
            }
            ParamValue::Int(_) => {
                let t = s.trim();
                match t.parse::<i64>() {
                    Ok(i) => Ok(ParamValue::Int(i)),
                    Err(_)
                        if !t.is_empty()
                            && t.trim_start_matches(['-', '+'])
                                .bytes()
                                .all(|b| b.is_ascii_digit()) =>
                    {
                        Err(format!(
                            "is beyond the range of an int ({} to {})",
                            i64::MIN,
                            i64::MAX
                        ))
                    }
                    Err(_) => Err("is not a whole number".into()),
                }
            }
            ParamValue::Float(_) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(ParamValue::Float(f)),
                Ok(f) if f.is_nan() => Err("is not a number".into()),
                Ok(_)
                    if s.trim()
                        .trim_start_matches(['-', '+'])
                        .starts_with(['i', 'I']) =>
                {
                    Err("is infinite".into())
                }
                Ok(_) => Err(format!("is beyond the range of a float (±{:e})", f64::MAX)),
                Err(_) => Err("is not a number".into()),
            },
            ParamValue::Bool(_) => match s.trim() {
                "true" => Ok(ParamValue::Bool(true)),
                "false" => Ok(ParamValue::Bool(false)),
                _ => Err("is neither `true` nor `false`".into()),
            },
        }
    }

    /// What to write for a value of this type (the help of a bad `--param`).
    pub fn how_to_write(&self) -> String {
        match self {
            ParamValue::Int(_) => "write a whole number, like `100`".into(),
            ParamValue::Float(_) => "write a finite number, like `1.5` or `2`".into(),
            ParamValue::Bool(_) => "write `true` or `false`".into(),
            ParamValue::Str(_) => "write any text".into(),
            ParamValue::List(_) => format!(
                "write the items separated by commas (`a,b,c`) or as a YAML list (`[a, b]`), at most {MAX_PARAM_LIST_ITEMS} items, none of them a list; in a YAML list, quote an item to pass it as text (`[\"5\"]`)"
            ),
        }
    }
}

/// A `--param` list item as YAML reads a plain scalar: a number, a bool or
/// text (quotes around it make it text).
fn scalar(item: &str) -> ParamValue {
    let t = item.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            if t.len() >= 2 {
                return ParamValue::Str(inner.to_string());
            }
        }
    }
    let numeric = t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if let Ok(i) = t.parse::<i64>() {
        ParamValue::Int(i)
    } else if let (true, Ok(f)) = (numeric, t.parse::<f64>()) {
        ParamValue::Float(f)
    } else if t == "true" || t == "false" {
        ParamValue::Bool(t == "true")
    } else {
        ParamValue::Str(t.to_string())
    }
}

/// A `--param` list written as a YAML list, read with the rule files'
/// bounds (nesting first: a list nested thousands deep stops at once).
fn yaml_list(t: &str) -> Result<Vec<ParamValue>, String> {
    match read_yaml(t) {
        Ok(serde_yaml_ng::Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, y)| {
                ParamValue::from_yaml(y).ok_or_else(|| {
                    format!(
                        "has as item {} something that is no number, string or bool",
                        i + 1
                    )
                })
            })
            .collect(),
        Ok(_) => Err("is not a list".into()),
        Err(YamlError::Limit(YamlLimit::Depth, measured, _)) => Err(format!(
            "nests lists {measured} deep (a list param holds items, not lists)"
        )),
        Err(YamlError::Limit(..)) => Err("is larger than a list param may be".into()),
        Err(YamlError::Syntax(e)) => Err(format!("is not a YAML list ({e})")),
        Err(_) => Err("is not a plain YAML list".into()),
    }
}

/// A value shown in a message: at most 40 characters of it.
pub(crate) fn short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{}… ({} bytes)", &s[..cut], s.len()),
        None => s.to_string(),
    }
}

impl std::fmt::Display for ParamValue {
    /// As it would be written on the command line.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::List(l) => {
                f.write_str("[")?;
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One part of a message template: literal text, an `{expr}` hole, or an
/// optional clause `{? text {expr} …}` shown only when every hole in it
/// has a value — so an absent value leaves out its words instead of being
/// printed inside a sentence.
#[derive(Debug, Clone)]
pub enum MessagePart {
    Text(String),
    Hole(ast::Expr, String),
    Optional(Vec<MessagePart>),
}

impl MessagePart {
    /// Every hole of these parts, those of optional clauses included.
    pub fn holes(parts: &[MessagePart]) -> Vec<(&ast::Expr, &str)> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                MessagePart::Text(_) => {}
                MessagePart::Hole(e, t) => out.push((e, t.as_str())),
                MessagePart::Optional(inner) => out.extend(Self::holes(inner)),
            }
        }
        out
    }
}

/// A loaded, parsed rule (not yet type-checked).
#[derive(Debug, Clone)]
pub struct Rule {
    pub doc: RuleDoc,
    pub file: String,
    pub src: Arc<String>,
    pub fields: BTreeMap<String, FieldText>,
    pub program: ast::Program,
    /// Each evidence item: its label (as written, or derived from the
    /// expression), the expression and its span in the file.
    pub evidence: Vec<(String, ast::Expr, (usize, usize))>,
    pub message: Vec<MessagePart>,
    /// The `dump_title:` template, if any.
    pub dump_title: Option<Vec<MessagePart>>,
    pub params: BTreeMap<String, ParamValue>,
    pub kernels: Vec<VersionReq>,
    /// What the rule runs on (`log` or `dump`): as it declares, else as the
    /// checker infers from the built-ins it reads (set when a pack loads it;
    /// `dump` until then).
    pub need: Need,
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
    if text.len() > MAX_RULE_FILE_BYTES {
        return Err(vec![RuleDiagnostic::new(
            Code::FileTooLarge,
            "rule file too large",
            file,
            &src,
            (0, 1),
        )
        .label(format!(
            "a rule file may be at most {MAX_RULE_FILE_BYTES} bytes; this one is larger"
        ))
        .help(
            "a rule is a few KiB of YAML; split it into several rules or move long text out",
        )]);
    }
    let fields: BTreeMap<String, FieldText> = scan_fields(text).into_iter().collect();
    let value = match read_yaml(text) {
        Ok(v) => v,
        Err(e) => return Err(vec![yaml_diag(e, file, &src)]),
    };
    let doc = DocReader {
        file,
        src: &src,
        fields: &fields,
        errs: Vec::new(),
    }
    .rule_doc(&value)?;
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
        let span = fields
            .get("id")
            .map(|f| (f.file_offset(0), f.file_offset(f.text.len().max(1) - 1) + 1))
            .unwrap_or((0, 1));
        errs.push(
            RuleDiagnostic::new(Code::MalformedId, format!("malformed rule id `{}`", doc.id), file, &src, span)
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
    let evidence = parse_evidence(&doc, &fields, file, &src, &mut errs);
    let message = parse_template("message", &doc.message, &fields, file, &src, &mut errs);
    let dump_title = doc
        .dump_title
        .as_ref()
        .map(|t| parse_template("dump_title", t, &fields, file, &src, &mut errs));
    if !errs.is_empty() {
        return Err(errs);
    }
    let Some(program) = program else {
        return Err(errs);
    };
    let need = doc.needs.unwrap_or(Need::Dump);
    Ok(Rule {
        doc,
        file: file.to_string(),
        src,
        fields,
        program,
        evidence,
        message,
        dump_title,
        params,
        kernels,
        need,
    })
}

/// The longest evidence label (characters): a label is a few words.
pub const MAX_LABEL_CHARS: usize = 40;

/// Where `needle` is written in `src[from..to]`, if it is.
fn find_in(src: &str, from: usize, to: usize, needle: &str) -> Option<usize> {
    let to = to.min(src.len());
    let from = from.min(to);
    src.get(from..to)?.find(needle).map(|o| o + from)
}

/// The evidence entries: each an expression located inside the evidence
/// field, and its label (checked: R012), or one derived from the
/// expression ([`default_label`]) when the rule gives none.
fn parse_evidence(
    doc: &RuleDoc,
    fields: &BTreeMap<String, FieldText>,
    file: &str,
    src: &Arc<String>,
    errs: &mut Vec<RuleDiagnostic>,
) -> Vec<(String, vmtriage_dsl::ast::Expr, (usize, usize))> {
    let mut evidence: Vec<(String, ast::Expr, (usize, usize))> = Vec::new();
    let ev_region = fields.get("evidence").map(|f| f.region).unwrap_or((0, 0));
    let mut search_from = ev_region.0;
    let mut given: Vec<(String, (usize, usize))> = Vec::new();
    for item in &doc.evidence {
        let value = &item.value;
        let label_at = item.label.as_ref().map(|l| {
            let at = find_in(src, search_from, ev_region.1, l).unwrap_or(ev_region.0);
            (at, at + l.len().max(1))
        });
        // The value is written after its label (`LABEL: EXPR`, `{label: L, value: E}`).
        let off = label_at
            .and_then(|(_, end)| find_in(src, end, ev_region.1, value))
            .or_else(|| find_in(src, search_from, ev_region.1, value))
            .unwrap_or(ev_region.0);
        search_from = (off + value.len()).max(label_at.map_or(0, |l| l.1));
        let ft = FieldText {
            key_offset: off,
            text: value.clone(),
            map: (off..off + value.len()).collect(),
            region: (off, off + value.len()),
        };
        let expr = match vmtriage_dsl::parse_expr(value) {
            Ok(e) => e,
            Err(ds) => {
                errs.extend(ds.iter().map(|d| dsl_diag(d, file, src, &ft)));
                continue;
            }
        };
        let label = match (&item.label, label_at) {
            (Some(l), Some(span)) => {
                let bad = label_problem(l).or_else(|| {
                    given
                        .iter()
                        .any(|(g, _)| g == l.trim())
                        .then(|| "another evidence item has this label".to_string())
                });
                if let Some(why) = bad {
                    errs.push(
                        RuleDiagnostic::new(Code::BadLabel, "bad evidence label", file, src, span)
                            .label(why)
                            .help(format!(
                                "a label is a few words naming what the value is, unique in the rule \
                                 (at most {MAX_LABEL_CHARS} characters, one line): `- waiters: tasks where …`"
                            )),
                    );
                }
                given.push((l.trim().to_string(), span));
                l.trim().to_string()
            }
            _ => default_label(&expr),
        };
        evidence.push((label, expr, (off, off + value.len())));
    }
    // Derived labels that collide with another label are numbered.
    let labels: Vec<String> = evidence.iter().map(|e| e.0.clone()).collect();
    for (i, item) in doc.evidence.iter().enumerate().take(evidence.len()) {
        if item.label.is_some() {
            continue;
        }
        let same = labels.iter().filter(|l| **l == labels[i]).count();
        if same > 1 {
            let nth = labels[..i].iter().filter(|l| **l == labels[i]).count() + 1;
            if nth > 1 {
                evidence[i].0 = format!("{} {nth}", labels[i]);
            }
        }
    }
    evidence
}

/// Why a label written in a rule cannot be shown, if it cannot.
fn label_problem(l: &str) -> Option<String> {
    let t = l.trim();
    if t.is_empty() {
        return Some("an empty label".into());
    }
    if t.chars().any(char::is_control) {
        return Some("a label is one line of text".into());
    }
    let n = t.chars().count();
    if n > MAX_LABEL_CHARS {
        return Some(format!(
            "{n} characters; a label has at most {MAX_LABEL_CHARS}"
        ));
    }
    if t.contains(['{', '}']) {
        return Some("a label is plain text, not a template".into());
    }
    None
}

/// The label of an evidence item the rule does not name: the binding or
/// field it shows, in words (`dying`, `state.owner` → `owner`,
/// `kernel.nr_threads` → `nr threads`, `first(dmesg where …)` → `dmesg`);
/// a generic field (`g.key`, `mods.name`) keeps what it belongs to (`g
/// key`); a kernel global keeps its name (`tasklist_lock`). Never a dotted
/// path.
pub fn default_label(e: &ast::Expr) -> String {
    use ast::ExprKind as K;
    let words = |s: &str| s.replace('_', " ");
    match &e.kind {
        K::Var(n) => words(n),
        K::Global { name, .. } => name.clone(),
        K::Field { base, name, .. } => {
            if let K::Global { .. } | K::Field { .. } = &base.kind {
                if matches!(root_global(base), Some(true)) {
                    return name.name.clone();
                }
            }
            const GENERIC: &[&str] = &["key", "items", "count", "name", "text", "value", "raw"];
            if GENERIC.contains(&name.name.as_str()) {
                format!("{} {}", default_label(base), words(&name.name))
            } else {
                words(&name.name)
            }
        }
        K::Index { base, .. } => default_label(base),
        K::Call { func, args } => match (func.name.as_str(), args.first()) {
            ("count", Some(a)) => format!("number of {}", default_label(a)),
            ("first" | "last" | "unique" | "sum" | "min" | "max", Some(a)) => default_label(a),
            (f, _) => words(f),
        },
        K::Where { coll, .. }
        | K::Sort { coll, .. }
        | K::Top { coll, .. }
        | K::Group { coll, .. } => default_label(coll),
        _ => "value".into(),
    }
}

/// Whether a field chain starts at a kernel global (`@x.y.z`).
fn root_global(e: &ast::Expr) -> Option<bool> {
    match &e.kind {
        ast::ExprKind::Global { .. } => Some(true),
        ast::ExprKind::Field { base, .. } => root_global(base),
        _ => Some(false),
    }
}

/// A template (`message`, `dump_title`): text, `{expr}` holes and
/// `{? … }` optional clauses.
fn parse_template(
    name: &str,
    written: &str,
    fields: &BTreeMap<String, FieldText>,
    file: &str,
    src: &Arc<String>,
    errs: &mut Vec<RuleDiagnostic>,
) -> Vec<MessagePart> {
    let msg_field = fields.get(name).cloned();
    let mtext = msg_field
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_else(|| written.to_string());
    let t = Template {
        name,
        text: &mtext,
        field: msg_field.as_ref(),
        file,
        src,
    };
    t.parts(0, mtext.len(), 0, errs)
}

/// How deep `{? … }` clauses may nest in a template.
const MAX_CLAUSE_DEPTH: usize = 4;

/// The text of one template and where it stands in the file.
struct Template<'a> {
    name: &'a str,
    text: &'a str,
    field: Option<&'a FieldText>,
    file: &'a str,
    src: &'a Arc<String>,
}

impl Template<'_> {
    fn error(&self, at: usize, message: String, help: &str) -> RuleDiagnostic {
        let off = self.field.map(|f| f.file_offset(at)).unwrap_or(0);
        RuleDiagnostic::new(
            Code::UnclosedHole,
            message,
            self.file,
            self.src,
            (off, off + 1),
        )
        .help(help.to_string())
    }

    /// The parts of `text[lo..hi]`; `depth` counts the clauses around it.
    fn parts(
        &self,
        lo: usize,
        hi: usize,
        depth: usize,
        errs: &mut Vec<RuleDiagnostic>,
    ) -> Vec<MessagePart> {
        let text = self.text;
        let mut message = Vec::new();
        let mut rest = lo;
        while let Some(open) = text[rest..hi].find('{').map(|o| o + rest) {
            if open > rest {
                message.push(MessagePart::Text(text[rest..open].to_string()));
            }
            if text[open + 1..hi].starts_with('?') {
                // A clause: up to the `}` that closes it, past its holes.
                let mut level = 0usize;
                let close = text[open..hi].char_indices().find_map(|(i, c)| match c {
                    '{' => {
                        level += 1;
                        None
                    }
                    '}' => {
                        level -= 1;
                        (level == 0).then_some(open + i)
                    }
                    _ => None,
                });
                let Some(close) = close else {
                    errs.push(self.error(
                        open,
                        format!("unclosed `{{?` clause in {}", self.name),
                        "write `{? words {expr}}`: the words and values are shown only when every value in it is known",
                    ));
                    return message;
                };
                if depth >= MAX_CLAUSE_DEPTH {
                    errs.push(self.error(
                        open,
                        format!(
                            "`{{?` clauses nested {} deep in {}, over the limit of {MAX_CLAUSE_DEPTH}",
                            depth + 1,
                            self.name
                        ),
                        "write the clauses one after another",
                    ));
                    return message;
                }
                message.push(MessagePart::Optional(self.parts(
                    open + 2,
                    close,
                    depth + 1,
                    errs,
                )));
                rest = close + 1;
                continue;
            }
            let Some(close) = text[open..hi].find('}').map(|c| c + open) else {
                errs.push(self.error(
                    open,
                    format!("unclosed `{{` in {}", self.name),
                    "write `{expr}` to insert a value, `{? words {expr}}` for words shown only when the value is known",
                ));
                return message;
            };
            let inner = &text[open + 1..close];
            match vmtriage_dsl::parse_expr(inner) {
                Ok(e) => message.push(MessagePart::Hole(e, inner.to_string())),
                Err(ds) => {
                    if let Some(f) = self.field {
                        let sub = FieldText {
                            key_offset: f.key_offset,
                            text: inner.to_string(),
                            map: f.map[(open + 1).min(f.map.len())..close.min(f.map.len())]
                                .to_vec(),
                            region: f.region,
                        };
                        errs.extend(ds.iter().map(|d| dsl_diag(d, self.file, self.src, &sub)));
                    }
                }
            }
            rest = close + 1;
        }
        if rest < hi {
            message.push(MessagePart::Text(text[rest..hi].to_string()));
        }
        message
    }
}

/// A rule file the YAML reader refused: a YAML syntax error where the
/// parser stopped, or a problem of ours, each with its own code.
fn yaml_diag(e: YamlError, file: &str, src: &Arc<String>) -> RuleDiagnostic {
    let span = |at: Option<usize>| {
        let off = at.unwrap_or(0).min(src.len().saturating_sub(1));
        (off, off + 1)
    };
    match e {
        YamlError::Syntax(e) => RuleDiagnostic::new(
            Code::InvalidYaml,
            "invalid rule file",
            file,
            src,
            span(e.location().map(|l| l.index())),
        )
        .label(e.to_string())
        .help("a rule file is a YAML mapping; see rules/README.md for its fields"),
        YamlError::DuplicateKey(k, at) => RuleDiagnostic::new(
            Code::InvalidYaml,
            format!("`{k}` is given twice"),
            file,
            src,
            key_spans(src, 0, src.len(), &k)
                .nth(1)
                .unwrap_or_else(|| span(at)),
        )
        .label("the second one")
        .help("a key may appear once in each mapping: remove one of them"),
        YamlError::Tag(at) => RuleDiagnostic::new(
            Code::InvalidYaml,
            "YAML tag in a rule file",
            file,
            src,
            span(at),
        )
        .label("a tag (`!name`)")
        .help("rule files are plain YAML: strings, numbers, lists and mappings, no tags"),
        YamlError::Limit(limit, measured, at) => {
            let aliases = "aliases (`*name`) copy what their anchor holds: a file whose aliases repeat other aliases grows exponentially; write the values out";
            let (title, what, help) = match limit {
                YamlLimit::Nodes => (
                    "rule file expands too much",
                    format!("the file expands to more than {MAX_YAML_NODES} YAML values: value {measured} is here"),
                    aliases,
                ),
                YamlLimit::Text => (
                    "rule file expands too much",
                    format!("the file expands to more than {MAX_YAML_TEXT} bytes of text: {measured} bytes by here"),
                    aliases,
                ),
                YamlLimit::Depth => (
                    "rule file nested too deeply",
                    format!("lists and mappings nest {measured} levels deep here, more than the {MAX_YAML_DEPTH} allowed"),
                    "the rule format needs three levels (`params: {x: {default: ..}}`)",
                ),
            };
            RuleDiagnostic::new(Code::YamlTooLarge, title, file, src, span(at))
                .label(format!("{what}; reading stopped here"))
                .help(help)
        }
    }
}

/// Where `name` is written as a key (`name:`, a word of its own followed by
/// a colon) between two offsets of the file.
fn key_spans<'s>(
    src: &'s str,
    from: usize,
    to: usize,
    name: &'s str,
) -> impl Iterator<Item = (usize, usize)> + 's {
    let to = to.min(src.len());
    let from = from.min(to);
    src[from..to]
        .match_indices(name)
        .map(move |(i, _)| from + i)
        .filter(move |&i| {
            let before = src[..i].chars().next_back();
            let after = src[i + name.len()..].trim_start_matches([' ', '\t', '"', '\'']);
            !name.is_empty()
                && !matches!(before, Some(c) if c.is_alphanumeric() || c == '_')
                && after.starts_with(':')
        })
        .map(move |i| (i, i + name.len()))
}

/// The fields of a rule file, in the order of the format.
const RULE_FIELDS: &[&str] = &[
    "id",
    "title",
    "severity",
    "summary",
    "description",
    "applies_to",
    "needs",
    "params",
    "match",
    "evidence",
    "message",
    "dump_title",
    "remediation",
    "references",
    "tags",
    "tests",
];
const REQUIRED_FIELDS: &[&str] = &["id", "title", "severity", "summary", "match", "message"];
const SEVERITIES: &[(&str, Severity)] = &[
    ("info", Severity::Info),
    ("low", Severity::Low),
    ("medium", Severity::Medium),
    ("high", Severity::High),
    ("critical", Severity::Critical),
];

fn kind_of(v: &serde_yaml_ng::Value) -> &'static str {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => "empty",
        Y::Bool(_) => "a bool",
        Y::Number(_) => "a number",
        Y::String(_) => "a string",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a mapping",
        Y::Tagged(_) => "a tagged value",
    }
}

fn ticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Turns a rule file's YAML value into a `RuleDoc`, checking its structure
/// field by field: each problem is a diagnostic with its code, at the key
/// (or value) it concerns, and all of them are reported.
struct DocReader<'a> {
    file: &'a str,
    src: &'a Arc<String>,
    fields: &'a BTreeMap<String, FieldText>,
    errs: Vec<RuleDiagnostic>,
}

impl DocReader<'_> {
    fn diag(
        &mut self,
        code: Code,
        title: String,
        span: (usize, usize),
        label: String,
        help: String,
    ) {
        self.errs.push(
            RuleDiagnostic::new(code, title, self.file, self.src, span)
                .label(label)
                .help(help),
        );
    }

    /// A top-level key's span.
    fn key(&self, name: &str) -> (usize, usize) {
        self.fields
            .get(name)
            .map(|f| (f.key_offset, f.key_offset + name.len()))
            .unwrap_or((0, 1))
    }

    /// A key nested in a top-level field's value (`kernels` in
    /// `applies_to`), else the field's key.
    fn nested_key(&self, field: &str, name: &str) -> (usize, usize) {
        let Some(f) = self.fields.get(field) else {
            return self.key(field);
        };
        key_spans(self.src, f.region.0 + field.len(), f.region.1, name)
            .next()
            .unwrap_or_else(|| self.key(field))
    }

    /// [`Self::nested_key`], else where the name first appears in the
    /// field at all (a key YAML made of text, as after a comma in a flow
    /// mapping, has no `:` after it).
    fn nested_key_or_text(&self, field: &str, name: &str) -> (usize, usize) {
        let Some(f) = self.fields.get(field) else {
            return self.key(field);
        };
        let (from, to) = (f.region.0 + field.len(), f.region.1.min(self.src.len()));
        if let Some(span) = key_spans(self.src, from, to, name).next() {
            return span;
        }
        match self.src.get(from.min(to)..to).and_then(|r| r.find(name)) {
            Some(i) if !name.is_empty() => (from + i, from + i + name.len()),
            _ => self.key(field),
        }
    }

    /// A scalar's text; numbers and bools at the top level keep their text
    /// as written (`1.10` stays `1.10`).
    fn text(
        &mut self,
        top: Option<&str>,
        v: &serde_yaml_ng::Value,
        span: (usize, usize),
        what: &str,
    ) -> Option<String> {
        use serde_yaml_ng::Value as Y;
        match v {
            Y::String(s) => Some(s.clone()),
            Y::Number(_) | Y::Bool(_) => Some(
                top.and_then(|t| self.fields.get(t))
                    .map(|f| f.text.clone())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| match v {
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        _ => unreachable!(),
                    }),
            ),
            other => {
                self.diag(
                    Code::InvalidYaml,
                    "invalid rule file".into(),
                    span,
                    format!("{what} must be a string, this is {}", kind_of(other)),
                    "see rules/README.md for the format of each field".into(),
                );
                None
            }
        }
    }

    /// `evidence:`: a list of items, each an expression (`- EXPR`), a
    /// labelled one (`- LABEL: EXPR`) or `- {label: LABEL, value: EXPR}`.
    fn evidence(&mut self, v: &serde_yaml_ng::Value) -> Vec<EvidenceDoc> {
        use serde_yaml_ng::Value as Y;
        const FORMS: &str =
            "an evidence item is `- EXPR`, `- LABEL: EXPR` or `- {label: LABEL, value: EXPR}`";
        let span = self.key("evidence");
        let items = match v {
            Y::Null => return Vec::new(),
            Y::Sequence(items) => items,
            other => {
                self.diag(
                    Code::InvalidYaml,
                    "invalid rule file".into(),
                    span,
                    format!("`evidence` must be a list, this is {}", kind_of(other)),
                    FORMS.into(),
                );
                return Vec::new();
            }
        };
        let region = self.fields.get("evidence").map_or((0, 0), |f| f.region);
        let mut cursor = region.0 + "evidence".len();
        let mut out = Vec::new();
        for x in items {
            // Where this item's key is written, from the last one on.
            let mut at_key = |r: &mut Self, name: &str| {
                let found = key_spans(r.src, cursor, region.1, name).next();
                if let Some((_, end)) = found {
                    cursor = end;
                }
                found.unwrap_or(span)
            };
            let m = match x {
                Y::Mapping(m) => m,
                Y::Sequence(_) | Y::Null | Y::Tagged(_) => {
                    self.diag(
                        Code::InvalidYaml,
                        "invalid rule file".into(),
                        span,
                        format!(
                            "an evidence item must be an expression, this is {}",
                            kind_of(x)
                        ),
                        FORMS.into(),
                    );
                    continue;
                }
                scalar => {
                    if let Some(value) = self.text(None, scalar, span, "an evidence item") {
                        out.push(EvidenceDoc { label: None, value });
                    }
                    continue;
                }
            };
            let keyed = |k: &Y| match k {
                Y::String(s) => Some(s.clone()),
                Y::Number(n) => Some(n.to_string()),
                Y::Bool(b) => Some(b.to_string()),
                _ => None,
            };
            let long = m
                .keys()
                .any(|k| matches!(k, Y::String(s) if s == "label" || s == "value"));
            if !long {
                if m.len() != 1 {
                    self.diag(
                        Code::InvalidYaml,
                        "invalid rule file".into(),
                        span,
                        format!(
                            "a labelled evidence item has one key, this one has {}",
                            m.len()
                        ),
                        FORMS.into(),
                    );
                    continue;
                }
                let (k, val) = m.iter().next().expect("one entry");
                let Some(label) = keyed(k) else {
                    self.diag(
                        Code::BadLabel,
                        "bad evidence label".into(),
                        span,
                        format!("a label is text, this is {}", kind_of(k)),
                        FORMS.into(),
                    );
                    continue;
                };
                let at = at_key(self, &label);
                if let Some(value) = self.text(None, val, at, &format!("the value of `{label}`")) {
                    out.push(EvidenceDoc {
                        label: Some(label),
                        value,
                    });
                }
                continue;
            }
            let (mut label, mut value, mut has_value) = (None, None, false);
            let mut first = None;
            for (k, val) in m {
                let name = keyed(k).unwrap_or_else(|| format!("{k:?}"));
                let at = at_key(self, &name);
                first.get_or_insert(at);
                match name.as_str() {
                    "label" => match keyed(val) {
                        Some(l) => label = Some(l),
                        None => self.diag(
                            Code::BadLabel,
                            "bad evidence label".into(),
                            at,
                            format!("a label is text, this is {}", kind_of(val)),
                            FORMS.into(),
                        ),
                    },
                    "value" => {
                        has_value = true;
                        value = self.text(None, val, at, "an evidence item's `value`");
                    }
                    _ => self.diag(
                        Code::UnknownField,
                        format!("unknown field `{name}` in an evidence item"),
                        at,
                        "not a field of an evidence item".into(),
                        "the fields of an evidence item are: `label`, `value`".into(),
                    ),
                }
            }
            if !has_value {
                self.diag(
                    Code::MissingField,
                    "evidence item has no `value`".into(),
                    first.unwrap_or(span),
                    "no `value` here".into(),
                    "write `- {label: LABEL, value: EXPR}`, or `- LABEL: EXPR`".into(),
                );
            }
            if let Some(value) = value {
                out.push(EvidenceDoc { label, value });
            }
        }
        out
    }

    fn strings(
        &mut self,
        v: &serde_yaml_ng::Value,
        span: (usize, usize),
        what: &str,
    ) -> Vec<String> {
        use serde_yaml_ng::Value as Y;
        match v {
            Y::Null => Vec::new(),
            Y::Sequence(items) => items
                .iter()
                .filter_map(|x| self.text(None, x, span, &format!("each item of {what}")))
                .collect(),
            other => {
                self.diag(
                    Code::InvalidYaml,
                    "invalid rule file".into(),
                    span,
                    format!(
                        "{what} must be a list of strings, this is {}",
                        kind_of(other)
                    ),
                    format!("write {what} as a list: `[a, b]`, or one `- item` per line"),
                );
                Vec::new()
            }
        }
    }

    /// A nested mapping's entries by name; unknown and non-string keys are
    /// R002 at the key, a value that is not a mapping R001.
    fn mapping<'v>(
        &mut self,
        v: &'v serde_yaml_ng::Value,
        field: &str,
        what: &str,
        known: &[&str],
    ) -> Vec<(String, &'v serde_yaml_ng::Value)> {
        use serde_yaml_ng::Value as Y;
        let m = match v {
            Y::Null => return Vec::new(),
            Y::Mapping(m) => m,
            other => {
                let span = self.key(field);
                self.diag(
                    Code::InvalidYaml,
                    "invalid rule file".into(),
                    span,
                    format!("{what} must be a mapping, this is {}", kind_of(other)),
                    "see rules/README.md for the format of each field".into(),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, x) in m {
            let name = match k {
                Y::String(s) => s.clone(),
                other => format!("{other:?}"),
            };
            if !known.is_empty() && !known.contains(&name.as_str()) {
                let span = self.nested_key_or_text(field, &name);
                let mut help = format!("the fields of {what} are: {}", ticked(known));
                // `{ help: a, b }`: YAML ends the value at the comma and
                // reads `b` as a key.
                let line_start = self.src[..span.0].rfind('\n').map_or(0, |i| i + 1);
                if self.src[line_start..span.0].contains('{') && !name.ends_with(':') {
                    help.push_str(
                        "; in a `{ … }` mapping a comma ends a value: quote text that holds one (`help: \"a, b\"`)",
                    );
                }
                self.diag(
                    Code::UnknownField,
                    format!("unknown field `{name}` in {what}"),
                    span,
                    format!("not a field of {what}"),
                    help,
                );
                continue;
            }
            out.push((name, x));
        }
        out
    }

    /// `params:`: each a mapping of `default` and `help`.
    fn params(&mut self, x: &serde_yaml_ng::Value) -> BTreeMap<String, ParamDoc> {
        use serde_yaml_ng::Value as Y;
        let mut params = BTreeMap::new();
        for (name, p) in self.mapping(x, "params", "`params`", &[]) {
            let at = self.nested_key("params", &name);
            let what = format!("param `{name}`");
            let entries = match p {
                Y::Mapping(_) => self.mapping(p, "params", &what, &["default", "help"]),
                other => {
                    self.diag(
                        Code::InvalidYaml,
                        "invalid rule file".into(),
                        at,
                        format!("{what} must be a mapping, this is {}", kind_of(other)),
                        "declare a param as `name: { default: 3, help: what it means }`".into(),
                    );
                    continue;
                }
            };
            let default = entries
                .iter()
                .find(|(k, _)| k == "default")
                .map(|(_, v)| (*v).clone());
            let help = match entries.iter().find(|(k, _)| k == "help") {
                Some((_, v)) => self.text(None, v, at, &format!("the help of {what}")),
                None => None,
            };
            for (missing, absent) in [
                ("default", default.is_none()),
                (
                    "help",
                    help.is_none() && !entries.iter().any(|(k, _)| k == "help"),
                ),
            ] {
                if absent {
                    self.diag(
                        Code::MissingField,
                        format!("{what} has no `{missing}`"),
                        at,
                        format!("no `{missing}` here"),
                        "declare a param as `name: { default: 3, help: what it means }`".into(),
                    );
                }
            }
            if let (Some(default), Some(help)) = (default, help) {
                params.insert(name, ParamDoc { default, help });
            }
        }
        params
    }

    /// `severity:` as one of the allowed values (info when it is not, with
    /// a diagnostic when it was given).
    fn severity(&mut self, sev_text: &str, given: bool) -> Severity {
        match SEVERITIES.iter().find(|(n, _)| *n == sev_text) {
            Some((_, s)) => *s,
            None => {
                if given && !sev_text.is_empty() {
                    let span = self.value_span("severity");
                    self.diag(
                        Code::UnknownSeverity,
                        format!("unknown value `{sev_text}`"),
                        span,
                        "not one of the allowed values".into(),
                        "severity is one of: info, low, medium, high, critical".into(),
                    );
                }
                Severity::Info
            }
        }
    }

    /// A top-level field's value as written, else its key.
    fn value_span(&self, name: &str) -> (usize, usize) {
        self.fields
            .get(name)
            .filter(|f| !f.text.is_empty())
            .map(|f| (f.file_offset(0), f.file_offset(f.text.len() - 1) + 1))
            .unwrap_or_else(|| self.key(name))
    }

    /// `needs:` as written: `log` or `dump` (R013 otherwise, at the value).
    fn needs(&mut self, t: &str) -> Option<Need> {
        match t.trim() {
            "log" => Some(Need::Log),
            "dump" => Some(Need::Dump),
            other => {
                let span = self.value_span("needs");
                self.diag(
                    Code::UnknownNeed,
                    format!("unknown value `{other}` of `needs`"),
                    span,
                    "not `log` or `dump`".into(),
                    "`needs: log` runs the rule on a kernel log alone too, `needs: dump` only on dumps; without `needs:`, the checker infers it from what the rule reads".into(),
                );
                None
            }
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the rule file's fields checked in the order the format documents them, every problem collected with its position before returning"
    )]
    fn rule_doc(mut self, v: &serde_yaml_ng::Value) -> Result<RuleDoc, Vec<RuleDiagnostic>> {
        use serde_yaml_ng::Value as Y;
        let Y::Mapping(top) = v else {
            let at = v.as_str().and_then(|s| self.src.find(s)).unwrap_or(0);
            self.diag(
                Code::InvalidYaml,
                "invalid rule file".into(),
                (at, at + 1),
                format!("a rule file is a mapping of fields, this is {}", kind_of(v)),
                "a rule file is a YAML mapping; see rules/README.md for its fields".into(),
            );
            return Err(self.errs);
        };
        let mut given: BTreeMap<&str, &Y> = BTreeMap::new();
        for (k, x) in top {
            let name = match k {
                Y::String(s) => s.clone(),
                other => format!("{other:?}"),
            };
            match RULE_FIELDS.iter().find(|f| **f == name) {
                Some(f) => {
                    given.insert(f, x);
                }
                None => {
                    let span = self
                        .fields
                        .get(&name)
                        .map(|f| (f.key_offset, f.key_offset + name.len()))
                        .unwrap_or((0, 1));
                    self.diag(
                        Code::UnknownField,
                        format!("unknown field `{name}`"),
                        span,
                        "not a rule field".into(),
                        format!("rule fields are: one of {}", ticked(RULE_FIELDS)),
                    );
                }
            }
        }
        let first_line = self.src.find('\n').unwrap_or(self.src.len()).max(1);
        for f in REQUIRED_FIELDS {
            if !given.contains_key(f) {
                self.diag(
                    Code::MissingField,
                    format!("missing field `{f}`"),
                    (0, first_line),
                    format!("this rule has no `{f}`"),
                    format!("every rule needs `{f}`; see rules/README.md for the format"),
                );
            }
        }
        let text = |r: &mut Self, name: &str| -> String {
            match given.get(name) {
                None | Some(Y::Null) => {
                    if given.contains_key(name) && REQUIRED_FIELDS.contains(&name) {
                        let span = r.key(name);
                        r.diag(
                            Code::InvalidYaml,
                            "invalid rule file".into(),
                            span,
                            format!("`{name}` has no value"),
                            format!(
                                "every rule needs `{name}`; see rules/README.md for the format"
                            ),
                        );
                    }
                    String::new()
                }
                Some(x) => {
                    let span = r.key(name);
                    r.text(Some(name), x, span, &format!("`{name}`"))
                        .unwrap_or_default()
                }
            }
        };
        let id = text(&mut self, "id");
        let title = text(&mut self, "title");
        let summary = text(&mut self, "summary");
        let description = text(&mut self, "description");
        let match_expr = text(&mut self, "match");
        let message = text(&mut self, "message");
        let remediation = text(&mut self, "remediation");
        let sev_text = text(&mut self, "severity");
        let severity = self.severity(&sev_text, given.contains_key("severity"));
        let list = |r: &mut Self, name: &str| match given.get(name) {
            Some(x) => {
                let span = r.key(name);
                r.strings(x, span, &format!("`{name}`"))
            }
            None => Vec::new(),
        };
        let evidence = match given.get("evidence") {
            Some(x) => self.evidence(x),
            None => Vec::new(),
        };
        let dump_title = match given.get("dump_title") {
            None => None,
            Some(_) => {
                let t = text(&mut self, "dump_title");
                if t.trim().is_empty() {
                    let span = self.key("dump_title");
                    self.diag(
                        Code::InvalidYaml,
                        "invalid rule file".into(),
                        span,
                        "`dump_title` has no value".into(),
                        "write the dump's title as a template like `message`, or remove the field"
                            .into(),
                    );
                }
                Some(t)
            }
        };
        let references = list(&mut self, "references");
        let tags = list(&mut self, "tags");
        let mut applies_to = AppliesTo::default();
        if let Some(x) = given.get("applies_to") {
            for (k, v) in self.mapping(x, "applies_to", "`applies_to`", &["kernels", "arch"]) {
                let span = self.nested_key("applies_to", &k);
                let t = self.text(None, v, span, &format!("`applies_to.{k}`"));
                match k.as_str() {
                    "kernels" => applies_to.kernels = t,
                    _ => applies_to.arch = t,
                }
            }
        }
        let needs = match given.get("needs") {
            None => None,
            Some(_) => {
                let t = text(&mut self, "needs");
                self.needs(&t)
            }
        };
        let mut tests = RuleTests::default();
        if let Some(x) = given.get("tests") {
            for (k, v) in self.mapping(x, "tests", "`tests`", &["fires_on", "silent_on"]) {
                let span = self.nested_key("tests", &k);
                let l = self.strings(v, span, &format!("`tests.{k}`"));
                match k.as_str() {
                    "fires_on" => tests.fires_on = l,
                    _ => tests.silent_on = l,
                }
            }
        }
        let params = match given.get("params") {
            Some(x) => self.params(x),
            None => BTreeMap::new(),
        };
        if !self.errs.is_empty() {
            return Err(self.errs);
        }
        Ok(RuleDoc {
            id,
            title,
            severity,
            summary,
            description,
            applies_to,
            needs,
            params,
            match_expr,
            evidence,
            message,
            dump_title,
            remediation,
            references,
            tags,
            tests,
        })
    }
}

/// (file name, text) pairs.
pub type Sources = Vec<(String, String)>;

/// Reads every `*.yaml`/`*.yml` rule under a directory (sorted, recursive)
/// and every `*.rhai` helper file. Only regular files are read (a FIFO or a
/// device, even behind a link, is an error naming it, never a read that
/// blocks or does not end), and at most one byte more than the file limit
/// (`MAX_RULE_FILE_BYTES`, `helpers::MAX_HELPER_FILE_BYTES`): a larger file
/// becomes an error of that file alone when it is loaded.
pub fn read_dir(dir: &Path) -> std::io::Result<(Sources, Sources)> {
    let mut rules = Vec::new();
    let mut helpers = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen: std::collections::HashSet<_> = std::fs::canonicalize(dir).into_iter().collect();
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .map_err(|e| named(&d, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            let rule = p.extension().is_some_and(|e| e == "yaml" || e == "yml");
            let helper = p.extension().is_some_and(|e| e == "rhai");
            if p.is_dir() {
                // Each real directory once: links may not loop.
                if std::fs::canonicalize(&p).is_ok_and(|c| seen.insert(c)) {
                    stack.push(p);
                }
            } else if rule {
                rules.push((
                    p.display().to_string(),
                    read_capped(&p, MAX_RULE_FILE_BYTES)?,
                ));
            } else if helper {
                let limit = crate::helpers::MAX_HELPER_FILE_BYTES;
                helpers.push((p.display().to_string(), read_capped(&p, limit)?));
            }
        }
    }
    rules.sort();
    helpers.sort();
    Ok((rules, helpers))
}

fn named(p: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// A regular file's text, at most `limit + 1` bytes of it.
fn read_capped(p: &Path, limit: usize) -> std::io::Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(p).map_err(|e| named(p, e))?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}: not a regular file (rule packs hold regular files only)",
                p.display()
            ),
        ));
    }
    let f = std::fs::File::open(p).map_err(|e| named(p, e))?;
    let mut bytes = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| named(p, e))?;
    if bytes.len() > limit {
        // Too large: what was read stands for the file, and its loader
        // reports it (cut at a character boundary).
        return Ok(String::from_utf8_lossy(&bytes).into_owned());
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: not UTF-8 text", p.display()),
        )
    })
}
