//! A rule pack: rules and helpers loaded and checked together; scanning one
//! dump, or one kernel log alone, with every rule that applies to its
//! kernel (on a log, the rules that need a dump are skipped, saying so).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use vmtriage_dsl::ast::Span;

use crate::check::{check, Finding, Origin};
use crate::diag::{Code, RuleDiagnostic};
use crate::eval::{EvalError, Evaluator};
use crate::evidence::Fact;
use crate::helpers::RhaiHelpers;
use crate::model::Model;
use crate::render::{display, render, render_shown, ABSENT};
use crate::rule::{load_rule, read_dir, version_matches, MessagePart, ParamValue, Rule, Severity};
use crate::ty::Need;
use crate::value::Value;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A `--param RULE.NAME=VALUE` override that cannot be applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParamError {
    #[error("--param `{0}`: expected RULE.NAME=VALUE")]
    Syntax(String),
    #[error("--param `{0}`: no rule `{1}`")]
    NoRule(String, String),
    #[error("--param `{arg}`: rule {rule} has no param `{name}` (it has: {known})")]
    NoParam {
        arg: String,
        rule: String,
        name: String,
        known: String,
    },
    /// A value not of the param's declared type (or out of its range).
    #[error("--param {rule}.{name}: `{name}` is {declared}, and {why}")]
    BadValue {
        rule: String,
        name: String,
        /// The declared type, in words ("a list of strings").
        declared: String,
        /// What is wrong with the value given (which it quotes, cut short).
        why: String,
        /// What to write for a value of the declared type.
        how: String,
    },
}

impl ParamError {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            ParamError::Syntax(_) => {
                "write `--param RULE.NAME=VALUE`, e.g. `--param LOCK-0001.min_waiters=3`".into()
            }
            ParamError::NoRule(..) => "`vmtriage rules list` shows the rules' ids".into(),
            ParamError::NoParam { rule, .. } => {
                format!("`vmtriage rules show {rule}` shows its params")
            }
            ParamError::BadValue { rule, how, .. } => {
                format!("{how}; `vmtriage rules show {rule}` says what the param means")
            }
        }
    }
}

pub struct RulePack {
    pub rules: Vec<Rule>,
    pub helpers: RhaiHelpers,
    /// The files of the pack that did not load (each has its diagnostics):
    /// the pack runs without them.
    pub refused: Vec<String>,
}

/// One named piece of a finding's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub name: String,
    pub value: Fact,
}

/// A finding of one rule on one dump; it reads back from its JSON (the bulk
/// scan's workers send it, the results database keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub message: String,
    pub evidence: Vec<Evidence>,
    pub references: Vec<String>,
    /// The dump's tasks could be read only in part (see `ScanResult::partial`):
    /// this finding's evidence may be incomplete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRunError {
    pub rule: String,
    pub message: String,
}

/// Why a rule did not run on a dump or a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkipReason {
    /// Its `applies_to` excludes this kernel.
    #[serde(rename = "applies_to excludes this kernel")]
    NotThisKernel,
    /// It has `applies_to: kernels`, and the log does not say the kernel
    /// release.
    #[serde(rename = "the log does not say the kernel release")]
    UnknownRelease,
    /// It reads what only a dump has, and this is a kernel log alone.
    #[serde(rename = "needs a dump")]
    NeedsDump,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotThisKernel => "applies_to excludes this kernel",
            SkipReason::UnknownRelease => "the log does not say the kernel release",
            SkipReason::NeedsDump => "needs a dump",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule that did not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub rule: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    /// The kernel release: the dump's, or the log's (empty when a log does
    /// not say it).
    pub release: String,
    pub diagnoses: Vec<Diagnosis>,
    pub errors: Vec<RuleRunError>,
    /// Rules that did not run, each with its reason: `applies_to` excludes
    /// this kernel, or (on a kernel log alone) the rule needs a dump.
    pub skipped: Vec<Skipped>,
    /// What the model could not read (grouped warning lines); empty when
    /// every rule answered from complete data.
    pub partial: Vec<String>,
    /// The title a rule gives the dump (its `dump_title:` filled on this
    /// dump), replacing the generic one: of the rules that fired and have
    /// one, the most severe, then the first in pack order (rule id), then
    /// its first instance. Not serialised: the dump's `title` carries it.
    #[serde(skip)]
    pub dump_title: Option<String>,
}

/// Maps a checker finding's span (inside an embedded expression) to the file.
fn finding_diag(r: &Rule, f: &Finding) -> RuleDiagnostic {
    let file_span = |s: Span| -> (usize, usize) {
        match &f.origin {
            Origin::Match => {
                if let Some(ft) = r.fields.get("match") {
                    return (
                        ft.file_offset(s.start),
                        ft.file_offset(s.end.max(s.start + 1) - 1) + 1,
                    );
                }
            }
            Origin::Evidence(i) => {
                if let Some((_, _, (a, _))) = r.evidence.get(*i) {
                    return (a + s.start, a + s.end.max(s.start + 1));
                }
            }
            Origin::Message | Origin::DumpTitle => {
                let (name, parts) = match f.origin {
                    Origin::Message => ("message", &r.message[..]),
                    _ => ("dump_title", r.dump_title.as_deref().unwrap_or_default()),
                };
                if let Some(ft) = r.fields.get(name) {
                    // Holes were parsed on their own: find the hole's text again.
                    let hole = MessagePart::holes(parts)
                        .into_iter()
                        .find_map(|(e, text)| (e.span.end >= s.end).then(|| text.to_string()));
                    if let Some(h) = hole {
                        if let Some(pos) = ft.text.find(&format!("{{{h}}}")) {
                            let a = ft.file_offset(pos + 1 + s.start);
                            return (a, a + (s.end - s.start).max(1));
                        }
                    }
                    return (ft.file_offset(0), ft.file_offset(0) + 1);
                }
            }
            Origin::Param(name) => {
                if let Some(ft) = r.fields.get("params") {
                    if let Some(pos) = r.src[ft.region.0..ft.region.1].find(&format!("{name}:")) {
                        let a = ft.region.0 + pos;
                        return (a, a + name.len());
                    }
                }
            }
        }
        (0, 1)
    };
    let mut d = RuleDiagnostic::new(f.code, f.title.clone(), &r.file, &r.src, file_span(f.span))
        .label(f.label.clone());
    if let Some(h) = &f.help {
        d = d.help(h.clone());
    }
    d
}

impl RulePack {
    /// Loads and checks rule sources; every problem is returned, none stops the others.
    pub fn from_sources(
        rules: &[(String, String)],
        helpers: &[(String, String)],
    ) -> (RulePack, Vec<RuleDiagnostic>) {
        let mut diags = Vec::new();
        let (h, helper_diags) = RhaiHelpers::compile(helpers);
        diags.extend(helper_diags);
        let mut out = Vec::new();
        let mut ids: BTreeMap<String, (String, usize, Arc<String>)> = BTreeMap::new();
        for (file, text) in rules {
            match load_rule(file, text) {
                Ok(mut r) => {
                    let checked = check(&r, &h.names);
                    r.need = checked.need;
                    let findings = checked.findings;
                    if !findings.is_empty() {
                        diags.extend(findings.iter().map(|f| finding_diag(&r, f)));
                        continue;
                    }
                    let id_off = r.fields.get("id").map(|f| f.file_offset(0)).unwrap_or(0);
                    if let Some((other, _, _)) = ids.get(&r.doc.id) {
                        diags.push(
                            RuleDiagnostic::new(Code::DuplicateId, format!("duplicate rule id `{}`", r.doc.id), file, &r.src, (id_off, id_off + r.doc.id.len()))
                                .label("already used")
                                .help(format!("{other} has the same id; ids are stable keys of findings: give this rule a new one")),
                        );
                        continue;
                    }
                    ids.insert(r.doc.id.clone(), (file.clone(), id_off, r.src.clone()));
                    out.push(r);
                }
                Err(ds) => diags.extend(ds),
            }
        }
        out.sort_by(|a, b| a.doc.id.cmp(&b.doc.id));
        let mut refused: Vec<String> = diags.iter().map(|d| d.file.clone()).collect();
        refused.sort();
        refused.dedup();
        (
            RulePack {
                rules: out,
                helpers: h,
                refused,
            },
            diags,
        )
    }

    pub fn load_dir(dir: &Path) -> std::io::Result<(RulePack, Vec<RuleDiagnostic>)> {
        let (rules, helpers) = read_dir(dir)?;
        Ok(Self::from_sources(&rules, &helpers))
    }

    /// The pack compiled into the binary (from the repository's `rules/`).
    pub fn embedded() -> (RulePack, Vec<RuleDiagnostic>) {
        let mut rules = Vec::new();
        let mut helpers = Vec::new();
        for (name, text) in embedded::EMBEDDED {
            if name.ends_with(".rhai") {
                helpers.push((name.to_string(), text.to_string()));
            } else {
                rules.push((name.to_string(), text.to_string()));
            }
        }
        Self::from_sources(&rules, &helpers)
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.doc.id == id)
    }

    /// Applies `RULE.NAME=VALUE` overrides; unknown rules/params are errors.
    pub fn override_params(&mut self, overrides: &[String]) -> Result<(), ParamError> {
        for o in overrides {
            let syntax = || ParamError::Syntax(o.clone());
            let (lhs, val) = o.split_once('=').ok_or_else(syntax)?;
            let (id, name) = lhs.split_once('.').ok_or_else(syntax)?;
            let r = self
                .rules
                .iter_mut()
                .find(|r| r.doc.id == id)
                .ok_or_else(|| ParamError::NoRule(o.clone(), id.to_string()))?;
            let cur = r.params.get(name).ok_or_else(|| ParamError::NoParam {
                arg: o.clone(),
                rule: id.to_string(),
                name: name.to_string(),
                known: r.params.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
            // Checked against the declared type (the default's), not
            // against an earlier override's.
            let declared = r
                .doc
                .params
                .get(name)
                .and_then(|p| ParamValue::from_yaml(&p.default))
                .unwrap_or_else(|| cur.clone());
            let v = declared
                .parse_like(val)
                .map_err(|why| ParamError::BadValue {
                    rule: id.to_string(),
                    name: name.to_string(),
                    declared: declared.type_name(),
                    why: format!("the value given, `{}`, {why}", crate::rule::short(val)),
                    how: declared.how_to_write(),
                })?;
            r.params.insert(name.to_string(), v);
        }
        Ok(())
    }

    /// Evaluates every rule that applies to this kernel (on the model of
    /// a kernel log alone, [`Model::of_log`], those that need only the log).
    pub fn scan<'k>(&self, m: &Model<'k>) -> ScanResult {
        self.scan_only(m, None)
    }

    /// Why a rule does not run on this model, if it does not: its
    /// `applies_to` excludes the kernel (or, on a log that does not say
    /// the release, cannot say), or it needs a dump and this is a log.
    pub fn skip_reason(r: &Rule, m: &Model<'_>) -> Option<SkipReason> {
        if r.need == Need::Dump && !m.has_dump() {
            return Some(SkipReason::NeedsDump);
        }
        if r.kernels.is_empty() {
            return None;
        }
        match m.release() {
            None => Some(SkipReason::UnknownRelease),
            Some(rel) if !version_matches(&r.kernels, rel) => Some(SkipReason::NotThisKernel),
            Some(_) => None,
        }
    }

    /// Evaluates the rules `only` names (every rule when None) that apply
    /// to this kernel; the others of `only` are `skipped`, with why.
    pub fn scan_only<'k>(&self, m: &Model<'k>, only: Option<&[String]>) -> ScanResult {
        let mut res = ScanResult {
            release: m.release().unwrap_or_default().to_string(),
            diagnoses: Vec::new(),
            errors: Vec::new(),
            skipped: Vec::new(),
            partial: Vec::new(),
            dump_title: None,
        };
        let mut titled: Vec<(Diagnosis, Option<String>)> = Vec::new();
        for r in &self.rules {
            if only.is_some_and(|o| !o.contains(&r.doc.id)) {
                continue;
            }
            if let Some(reason) = Self::skip_reason(r, m) {
                res.skipped.push(Skipped {
                    rule: r.doc.id.clone(),
                    reason,
                });
                continue;
            }
            match evaluate(r, m, &r.params, &self.helpers) {
                Ok(ds) => titled.extend(ds),
                Err(e) => res.errors.push(RuleRunError {
                    rule: r.doc.id.clone(),
                    message: e.to_string(),
                }),
            }
        }
        // Stable: a rule's instances keep their order.
        titled.sort_by(|(a, _), (b, _)| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
        res.dump_title = titled
            .iter()
            .find_map(|(_, t)| t.clone().filter(|t| !t.is_empty()));
        res.diagnoses = titled.into_iter().map(|(d, _)| d).collect();
        res.partial = kmodel::partial::summarize(m.gaps());
        for d in &mut res.diagnoses {
            d.incomplete = !res.partial.is_empty();
        }
        res
    }
}

/// A rule that failed on a dump: the evaluator's error and the line of the
/// rule file where the failing expression is.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} ({file}:{line})", error.message)]
pub struct RuleError {
    pub error: EvalError,
    pub file: String,
    pub line: usize,
}

impl RuleError {
    fn new(r: &Rule, error: EvalError) -> RuleError {
        let off = r
            .fields
            .get("match")
            .map(|f| f.file_offset(error.span.start))
            .unwrap_or(0);
        RuleError {
            line: r.src[..off.min(r.src.len())].matches('\n').count() + 1,
            file: r.file.clone(),
            error,
        }
    }
}

/// Each instance of a rule that fires on a dump: its diagnosis and its
/// `dump_title:` filled in.
pub fn evaluate<'k>(
    r: &Rule,
    m: &Model<'k>,
    params: &BTreeMap<String, ParamValue>,
    helpers: &RhaiHelpers,
) -> Result<Vec<(Diagnosis, Option<String>)>, RuleError> {
    let mut ev = Evaluator::new(m, params, helpers);
    let instances = ev
        .run(&r.program.stmts, &r.program.cond, 20)
        .map_err(|e| RuleError::new(r, e))?;
    let mut out = Vec::new();
    for bindings in instances {
        let mut ev = Evaluator::new(m, params, helpers);
        for (n, v) in &bindings {
            ev.bind(n, v.clone());
        }
        let message = fill(&mut ev, &r.message);
        let dump_title = r.dump_title.as_ref().map(|t| fill(&mut ev, t));
        let mut evidence = Vec::new();
        if r.evidence.is_empty() {
            for (n, v) in &bindings {
                evidence.push(Evidence {
                    name: n.clone(),
                    value: render(&ev, v, 0),
                });
            }
        } else {
            for (text, e, _) in &r.evidence {
                let value = match ev.eval(e) {
                    Ok(v) => render_shown(&ev, &v),
                    Err(err) => Fact::Error(err.message),
                };
                evidence.push(Evidence {
                    name: text.clone(),
                    value,
                });
            }
        }
        out.push((
            Diagnosis {
                rule: r.doc.id.clone(),
                title: r.doc.title.clone(),
                severity: r.doc.severity,
                message,
                evidence,
                references: r.doc.references.clone(),
                incomplete: false,
            },
            dump_title,
        ));
    }
    Ok(out)
}

/// A template filled on one instance of a rule, on one line.
fn fill<'k>(ev: &mut Evaluator<'_, 'k>, parts: &[MessagePart]) -> String {
    let mut text = String::new();
    fill_into(ev, parts, &mut text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends the filled parts to `text`; false when a hole's value is
/// absent (null), which drops the optional clause the parts are in.
fn fill_into<'k>(ev: &mut Evaluator<'_, 'k>, parts: &[MessagePart], text: &mut String) -> bool {
    let mut known = true;
    for p in parts {
        match p {
            MessagePart::Text(t) => text.push_str(t),
            MessagePart::Hole(e, _) => match ev.eval(e) {
                Ok(Value::Null) => {
                    known = false;
                    text.push_str(ABSENT);
                }
                Ok(v) => text.push_str(&display(ev, &v)),
                Err(err) => text.push_str(&format!("<{}>", err.message)),
            },
            MessagePart::Optional(inner) => {
                let mut clause = String::new();
                if fill_into(ev, inner, &mut clause) {
                    text.push_str(&clause);
                }
            }
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(message: &str) -> Rule {
        let text = format!(
            "id: TEST-0001\ntitle: t\nseverity: low\nsummary: s\nmatch: |\n  let site = null\n  let age = 30.2\n  site == null and age > 1\nmessage: \"{message}\"\n"
        );
        load_rule("t.yaml", &text).unwrap_or_else(|e| panic!("{message}: {e:?}"))
    }

    fn filled(message: &str) -> String {
        let r = rule(message);
        let params = BTreeMap::new();
        let helpers = RhaiHelpers::empty();
        let mut ev = Evaluator::detached(&params, &helpers);
        ev.bind("site", Value::Null);
        ev.bind("age", Value::Float(30.2));
        fill(&mut ev, &r.message)
    }

    #[test]
    fn an_absent_value_leaves_out_its_clause_and_is_never_none_in_a_sentence() {
        assert_eq!(
            filled("stalled{? for {age} s}{? in {site}}: 1 CPU"),
            "stalled for 30.20 s: 1 CPU"
        );
        assert_eq!(filled("stalled{? in {site}, for {age} s}."), "stalled.");
        assert_eq!(filled("{? a {? b {site}} c {age}}"), "a c 30.20");
        assert_eq!(filled("stalled in {site}"), format!("stalled in {ABSENT}"));
    }

    #[test]
    fn clauses_are_bounded_and_closed() {
        let text = |m: &str| {
            format!("id: TEST-0001\ntitle: t\nseverity: low\nsummary: s\nmatch: count(tasks) > 0\nmessage: \"{m}\"\n")
        };
        for m in ["a {? b {count(tasks)}", "{?{?{?{?{? deep }}}}}"] {
            let errs = load_rule("t.yaml", &text(m)).expect_err(m);
            assert!(
                errs.iter().any(|d| d.code == Code::UnclosedHole),
                "{m}: {errs:?}"
            );
        }
        assert!(load_rule("t.yaml", &text("{?{?{?{? deep }}}}")).is_ok());
    }
}
