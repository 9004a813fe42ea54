//! `scan`, `query` and `rules …`: the rule engine on dumps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kmodel::locks::BlockedOn;
use kmodel::tasks::Task;
use kmodel::Kernel;
use kunwind::Unwinder;
use serde::Serialize;
use vmtriage_rules::evidence::{Fact, TaskFact};
use vmtriage_rules::model::{FrameInfo, Model, StackInfo, Stacks};
use vmtriage_rules::rule::Rule;
use vmtriage_rules::{RulePack, ScanResult, SkipReason, Skipped};

/// Stacks from the ORC unwinder, for the rule engine.
pub struct UnwindStacks {
    pub unwinder: Unwinder,
}

impl<'k> Stacks<'k> for UnwindStacks {
    fn stack(&self, k: &'k Kernel, task: &Task<'k>) -> Arc<StackInfo> {
        let t = self.unwinder.stack(k, task);
        Arc::new(StackInfo {
            frames: t
                .frames
                .iter()
                .map(|f| FrameInfo {
                    function: f.function.clone(),
                    pc: f.pc,
                    sp: f.sp,
                    offset: f.offset,
                    inline: f.inline,
                    file: f.file.clone(),
                    line: f.line,
                    module: f.module.clone(),
                })
                .collect(),
            error: t.error.clone(),
        })
    }
    fn blocked_on(&self, k: &'k Kernel, task: &Task<'k>) -> Option<BlockedOn> {
        self.unwinder.blocked_on(k, task)
    }
}

/// Stands in when the vmlinux has no usable unwind data: every stack is empty
/// with the reason, the other rules still run.
pub struct NoStacks(pub String);

impl<'k> Stacks<'k> for NoStacks {
    fn stack(&self, _: &'k Kernel, _: &Task<'k>) -> Arc<StackInfo> {
        Arc::new(StackInfo {
            frames: Vec::new(),
            error: Some(self.0.clone()),
        })
    }
    fn blocked_on(&self, _: &'k Kernel, _: &Task<'k>) -> Option<BlockedOn> {
        None
    }
}

pub fn stacks_for(k: &Kernel) -> Box<dyn for<'k> Stacks<'k>> {
    Box::new(ScanStacks::new(k))
}

#[derive(Debug, Serialize)]
pub struct DumpReport {
    pub dump: String,
    /// `log` for a kernel log read as text; absent for a dump.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What happened and where, and the signature that groups dumps of one
    /// bug (see [`kmodel::titles`]); absent when the dump could not be read.
    pub title: Option<String>,
    pub signature: Option<String>,
    #[serde(flatten)]
    pub result: ScanResult,
    /// Rules not run for a reason other than the kernel range (`needs a
    /// dump` on a log).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<NotRun>,
    /// A log: its form, size and reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<crate::log::LogSummary>,
    /// A dump: the logs beside it kept as its evidence (kdump's
    /// `vmcore-dmesg.txt`), which are no crash of their own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence_logs: Vec<String>,
}

impl DumpReport {
    /// A dump's report (no log, no rule left out for a reason of its own).
    pub fn of_dump(
        dump: String,
        title: Option<String>,
        signature: Option<String>,
        result: ScanResult,
    ) -> DumpReport {
        DumpReport {
            dump,
            kind: None,
            title,
            signature,
            result,
            not_run: Vec::new(),
            log: None,
            evidence_logs: Vec::new(),
        }
    }
}

/// A rule that was not run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NotRun {
    pub rule: String,
    pub reason: String,
}

impl NotRun {
    /// A rule the pack skipped, its reason in words.
    pub fn of(s: &Skipped) -> NotRun {
        NotRun {
            rule: s.rule.clone(),
            reason: s.reason.as_str().into(),
        }
    }

    /// The pack's skipped rule this is, when its reason is one of the
    /// pack's ([`SkipReason`]).
    pub fn skipped(&self) -> Option<Skipped> {
        let reason: SkipReason =
            serde_json::from_value(serde_json::Value::String(self.reason.clone())).ok()?;
        Some(Skipped {
            rule: self.rule.clone(),
            reason,
        })
    }
}

/// The rule pack on a kernel log alone.
pub struct LogRules {
    pub diagnoses: Vec<vmtriage_rules::Diagnosis>,
    pub errors: Vec<vmtriage_rules::pack::RuleRunError>,
    /// Every rule that did not run, with why: it needs a dump, or its
    /// kernel range excludes the log's release or the log does not say it.
    pub not_run: Vec<NotRun>,
    /// The title a rule that fired gives (its `dump_title:`), as on a dump.
    pub rule_title: Option<String>,
}

/// The outcome of a scan of a log: its title, its reports, the rules on
/// it ([`scan_log_rules`]). Every rule counts as evaluated, so a rescan
/// with the same pack does not read the log again.
pub fn scan_log(pack: &RulePack, l: &crate::log::LogFile) -> crate::bulk::worker::Outcome {
    let rules = scan_log_rules(pack, &l.text);
    // A rule's title replaces the log's words as it does a dump's; the
    // signature stays the reports'.
    let title = match &rules.rule_title {
        Some(rt) => kmodel::titles::log_title(&l.text.records, Some(rt)),
        None => l.title.clone(),
    };
    crate::bulk::worker::Outcome {
        release: l.text.release.clone().unwrap_or_default(),
        format: format!("log-{}", l.text.form.key()),
        kind: Some("log".into()),
        findings: rules.diagnoses,
        rule_errors: rules.errors,
        not_run: rules.not_run,
        evaluated: pack.rules.iter().map(|r| r.doc.id.clone()).collect(),
        title_kind: Some(title.kind.slug().to_string()),
        title: Some(title.text),
        signature: Some(title.signature),
        log: Some(crate::log::LogSummary::of(l)),
        ..Default::default()
    }
}

/// Runs the rule pack on a log without a dump — the one place the CLI
/// runs rules on a log: the model of the log ([`Model::of_log`]: its
/// records and the release its banner says) answers what a dump's log
/// does, so a rule that reads only the log (`needs: log`) finds on the log
/// what it finds on the dump of the same crash; the others are not run,
/// each with its reason ([`SkipReason`]: `needs a dump`, or a kernel range
/// the log's release is outside of or that the log cannot say).
pub fn scan_log_rules(pack: &RulePack, log: &kmodel::logtext::LogText) -> LogRules {
    let model = Model::of_log(log.records.clone(), log.release.clone());
    let res = pack.scan(&model);
    LogRules {
        diagnoses: res.diagnoses,
        errors: res.errors,
        not_run: res.skipped.iter().map(NotRun::of).collect(),
        rule_title: res.dump_title,
    }
}

/// The rules' stacks: the ORC unwinder, or empty stacks with the reason
/// when the vmlinux has no usable unwind data.
pub enum ScanStacks {
    Unwind(UnwindStacks),
    None(NoStacks),
}

impl ScanStacks {
    pub fn new(k: &Kernel) -> ScanStacks {
        match Unwinder::new(k) {
            Ok(u) => ScanStacks::Unwind(UnwindStacks { unwinder: u }),
            Err(e) => ScanStacks::None(NoStacks(format!("no stacks: {e}"))),
        }
    }

    fn stacks<'k>(&self) -> &dyn Stacks<'k> {
        match self {
            ScanStacks::Unwind(u) => u,
            ScanStacks::None(n) => n,
        }
    }
}

impl<'k> Stacks<'k> for ScanStacks {
    fn stack(&self, k: &'k Kernel, task: &Task<'k>) -> Arc<StackInfo> {
        self.stacks().stack(k, task)
    }
    fn blocked_on(&self, k: &'k Kernel, task: &Task<'k>) -> Option<BlockedOn> {
        self.stacks().blocked_on(k, task)
    }
}

/// Scans one opened dump with a pack.
pub fn scan_kernel(pack: &RulePack, k: &Kernel) -> ScanResult {
    let stacks = stacks_for(k);
    let model = Model::new(k, stacks.as_ref());
    pack.scan(&model)
}

/// The text report of one dump: each diagnosis as an analyst's note — the
/// message, then each piece of evidence under its label in kernel words
/// (absent ones left out), the references — and the dump's title and
/// signature once, at the end of its first diagnosis (the most severe: the
/// one that explains the dump, whose rule gives the title when it has
/// one). Under every diagnosis it would repeat one line the reader has
/// just read; the findings after the first are context to it.
pub fn diagnoses_text(r: &DumpReport) -> String {
    let release = match (&r.log, r.result.release.as_str()) {
        (Some(_), "") => "release unknown",
        (_, rel) => rel,
    };
    let mut s = format!("== {}  ({release})\n", r.dump);
    let dump_title = match (&r.title, &r.signature) {
        (Some(t), Some(sig)) => Some(format!("{t} — signature {sig}")),
        _ => None,
    };
    // What a title line is of: a dump, or a log.
    let of = if r.log.is_some() { "log" } else { "dump" };
    if let Some(l) = &r.log {
        s += &format!("   {}\n", l.describe());
    }
    for e in &r.evidence_logs {
        s += &format!("   with its log {e} (kept as evidence: one crash)\n");
    }
    for p in &r.result.partial {
        s += &format!("   partial: {p}\n");
    }
    if r.result.diagnoses.is_empty() {
        s += "   no diagnoses\n";
        if let Some(t) = &dump_title {
            s += &format!("   {of}: {t}\n");
        }
    }
    for (i, d) in r.result.diagnoses.iter().enumerate() {
        s += &format!(
            "\n[{}] {} {}\n",
            d.severity.as_str().to_uppercase(),
            d.rule,
            d.title
        );
        s += &format!("    {}\n", d.message);
        if d.incomplete {
            s += "    (evidence may be incomplete: part of the dump could not be read)\n";
        }
        for e in &d.evidence {
            match shown(&e.value) {
                Shown::Absent => {}
                Shown::Inline(v) => s += &format!("    {}: {v}\n", e.name),
                Shown::Block(head, lines) => {
                    s += &format!("    {}{head}:\n", e.name);
                    for line in lines {
                        s += &format!("      {line}\n");
                    }
                }
            }
        }
        for r in &d.references {
            s += &format!("    see: {r}\n");
        }
        if i == 0 {
            if let Some(t) = &dump_title {
                s += &format!("    {of}: {t}\n");
            }
        }
    }
    for e in &r.result.errors {
        s += &format!("\n[rule error] {}: {}\n", e.rule, e.message);
    }
    s += &not_run_text(&r.not_run);
    if let Some(l) = r.log.as_ref().filter(|l| !l.reports.is_empty()) {
        s += &format!("   reports ({}):\n", l.reports.len());
        s += &l.reports_text("     ");
    }
    s
}

/// Rules not run, one line per reason.
fn not_run_text(not_run: &[NotRun]) -> String {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in not_run {
        by_reason.entry(&n.reason).or_default().push(&n.rule);
    }
    let mut s = String::new();
    for (reason, rules) in by_reason {
        s += &format!(
            "   {} rule(s) not run, {reason}: {}\n",
            rules.len(),
            rules.join(", ")
        );
    }
    s
}

/// Functions shown of a task's stack.
const TASK_FRAMES: usize = 5;

/// A task on one line: pid, comm, state and the first functions of its
/// stack that say where it is. The scheduler, wait primitives, lock slow
/// paths and the panic and watchdog machinery at the top of a stack
/// (generic in the title's sense: how any task sleeps, spins, takes a lock
/// or crashes) show as the outermost of them only — `write_lock_irq <
/// exit_notify < do_exit`, not six frames of rtmutex; `sysrq_handle_crash <
/// __handle_sysrq`, not `crash_setup_regs < __crash_kexec < panic`.
fn task_line(t: &TaskFact) -> String {
    use kmodel::frames::{generic, Generic};
    let mut s = format!("{} {} [{}]", t.pid, t.comm, t.state);
    let all: Vec<&str> = t.stack.iter().flatten().map(String::as_str).collect();
    let how = |f: &str| generic(f).is_some_and(Generic::is_mechanism);
    let run = all.iter().take_while(|f| how(f)).count();
    let from = if run == all.len() {
        0
    } else {
        run.saturating_sub(1)
    };
    let fns = &all[from..all.len().min(from + TASK_FRAMES)];
    if !fns.is_empty() {
        s += &format!("  {}", fns.join(" < "));
    }
    s
}

/// How a piece of evidence shows: not at all (absent), after its label, or
/// as a block of lines under it (the head follows the label: a count).
enum Shown {
    Absent,
    Inline(String),
    Block(String, Vec<String>),
}

/// A sample of `count` items as lines, with how many more there are.
fn sample_block(count: usize, sample: &[Fact]) -> Shown {
    if count == 0 {
        return Shown::Inline("none".into());
    }
    if count == 1 && sample.len() == 1 {
        return Shown::Inline(inline(&sample[0]));
    }
    let mut lines: Vec<String> = sample.iter().map(inline).collect();
    if count > sample.len() {
        lines.push(format!("… and {} more", count - sample.len()));
    }
    Shown::Block(format!(" ({count})"), lines)
}

/// A value on one line, in kernel words.
fn inline(v: &Fact) -> String {
    match v {
        Fact::Null => "none".into(),
        Fact::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Fact::Int(i) => i.to_string(),
        Fact::Float(f) => format!("{f:.2}"),
        Fact::Text(t) => t.clone(),
        Fact::List(items) if items.is_empty() => "none".into(),
        Fact::List(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Fact::Tasks { count, sample } => {
            let names: Vec<String> = sample
                .iter()
                .map(|t| match t {
                    Fact::Task(t) => t.mention(),
                    other => inline(other),
                })
                .collect();
            match count.saturating_sub(sample.len()) {
                0 => names.join(", "),
                more => format!("{}, … ({count} in all, {more} more)", names.join(", ")),
            }
        }
        Fact::Group { key, count, by, .. } => format!("{}: {count}", group_key(key, by)),
        Fact::Task(t) => task_line(t),
        Fact::Lock(l) => l.line(),
        Fact::Record(r) => format!("[{:>12.6}] {}", r.timestamp, r.text),
        Fact::Zone(z) => format!(
            "zone {} (node {}): {} free pages, watermarks min {} low {} high {}",
            z.name, z.node, z.free, z.min, z.low, z.high
        ),
        Fact::Module(m) => format!("{} ({} bytes at {:#x})", m.name, m.size, m.base),
        Fact::Cpu(c) => format!("CPU {} ({} running)", c.id, c.nr_running),
        Fact::Frame(f) => format!(
            "{}{} at {:#x}",
            f.function.as_deref().unwrap_or("?"),
            if f.inline { " (inline)" } else { "" },
            f.pc
        ),
        Fact::Object { ctype, address } => format!("{ctype} at {address:#x}"),
        Fact::Map(m) => m
            .iter()
            .filter(|(_, v)| !matches!(v, Fact::Null))
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), inline(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Fact::Error(e) => format!("could not be read: {e}"),
    }
}

/// A group's key, with what it is when the rule named it (`by tgid as
/// process` → `process 105`).
fn group_key(key: &Fact, by: &Option<String>) -> String {
    match by {
        Some(b) => format!("{} {}", b.replace('_', " "), inline(key)),
        None => inline(key),
    }
}

/// A piece of evidence as the report shows it.
fn shown(v: &Fact) -> Shown {
    match v {
        Fact::Null => Shown::Absent,
        Fact::Tasks { count, sample } => sample_block(*count, sample),
        Fact::Group {
            key,
            count,
            sample,
            by,
        } => match sample_block(*count, sample) {
            Shown::Block(_, lines) => {
                Shown::Block(format!(" — {} ({count})", group_key(key, by)), lines)
            }
            Shown::Inline(one) => Shown::Inline(format!("{}: {one}", group_key(key, by))),
            Shown::Absent => Shown::Absent,
        },
        // A list of one kind of thing that has a line of its own: a line each.
        Fact::List(items)
            if items.len() > 1
                && items.iter().all(|x| {
                    matches!(
                        x,
                        Fact::Record(_)
                            | Fact::Lock(_)
                            | Fact::Zone(_)
                            | Fact::Group { .. }
                            | Fact::Task(_)
                            | Fact::Module(_)
                            | Fact::Map(_)
                    )
                }) =>
        {
            let lines = items
                .iter()
                .map(|x| match x {
                    Fact::Group {
                        key,
                        count,
                        sample,
                        by,
                    } => {
                        let tasks = sample.iter().all(|t| matches!(t, Fact::Task(_)));
                        let names: Vec<String> = sample
                            .iter()
                            .map(|t| match t {
                                Fact::Task(t) => format!("{} [{}]", t.mention(), t.state),
                                other => inline(other),
                            })
                            .collect();
                        format!(
                            "{}: {count}{} — {}{}",
                            group_key(key, by),
                            match (tasks, count) {
                                (false, _) => "",
                                (true, 1) => " task",
                                (true, _) => " tasks",
                            },
                            names.join(", "),
                            if *count > sample.len() { ", …" } else { "" }
                        )
                    }
                    other => inline(other),
                })
                .collect();
            Shown::Block(format!(" ({})", items.len()), lines)
        }
        other => Shown::Inline(inline(other)),
    }
}

/// `rules list`
pub fn rules_list(pack: &RulePack) -> String {
    let mut s = format!(
        "{:<12} {:<9} {:<55} {:<5} {}\n",
        "ID", "SEVERITY", "TITLE", "NEEDS", "KERNELS"
    );
    for r in &pack.rules {
        s += &format!(
            "{:<12} {:<9} {:<55} {:<5} {}\n",
            r.doc.id,
            r.doc.severity.as_str(),
            r.doc.title,
            r.need.as_str(),
            r.doc.applies_to.kernels.as_deref().unwrap_or("all")
        );
    }
    s
}

/// `rules show ID`: the rule as its knowledge-base article.
pub fn rule_article(r: &Rule) -> String {
    let d = &r.doc;
    let mut s = format!(
        "{} — {}\n{}\n\nSeverity: {}   Needs: {}   Kernels: {}   Tags: {}\n\n",
        d.id,
        d.title,
        "=".repeat(d.id.len() + d.title.len() + 3),
        d.severity.as_str(),
        r.need.as_str(),
        d.applies_to.kernels.as_deref().unwrap_or("all"),
        d.tags.join(", ")
    );
    s += &format!("{}\n\n", d.summary.trim());
    if !d.description.is_empty() {
        s += &format!("{}\n\n", d.description.trim());
    }
    s += "Detection\n---------\n";
    for l in d.match_expr.trim_end().lines() {
        s += &format!("    {l}\n");
    }
    if !d.params.is_empty() {
        s += "\nParameters\n----------\n";
        for (n, p) in &d.params {
            s += &format!(
                "  {n} = {}  — {}\n",
                serde_json::to_string(&p.default).unwrap_or_default(),
                p.help
            );
        }
    }
    if !d.remediation.is_empty() {
        s += &format!("\nRemediation\n-----------\n{}\n", d.remediation.trim());
    }
    if !d.references.is_empty() {
        s += "\nReferences\n----------\n";
        for r in &d.references {
            s += &format!("  - {r}\n");
        }
    }
    if !d.tests.fires_on.is_empty() || !d.tests.silent_on.is_empty() {
        s += &format!(
            "\nTested on the corpus: fires on {}; silent on {}.\n",
            d.tests.fires_on.join(", "),
            d.tests.silent_on.join(", ")
        );
    }
    s
}

#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    pub rule: String,
    pub scenario: String,
    pub kernel: String,
    pub expected: bool,
    pub fired: bool,
    pub error: Option<String>,
}

/// The corpus manifest entries to test on: one dump per (scenario, kernel),
/// preferring the ELF twin (all formats of a capture hold the same memory;
/// format coverage is the reader tests' job).
pub fn test_dumps(manifest: &Path) -> Result<Vec<(String, String, PathBuf, PathBuf)>, String> {
    let text = std::fs::read_to_string(manifest).map_err(|e| {
        format!(
            "{}: {e}; build the corpus: corpus/build",
            manifest.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut pick: BTreeMap<(String, String), (PathBuf, PathBuf, bool)> = BTreeMap::new();
    for e in v["dumps"].as_array().cloned().unwrap_or_default() {
        let key = (
            e["scenario"].as_str().unwrap_or("").to_string(),
            e["release"].as_str().unwrap_or("").to_string(),
        );
        let is_elf = e["format"] == "elf";
        let path = PathBuf::from(e["path"].as_str().unwrap_or(""));
        let vml = PathBuf::from(e["vmlinux"].as_str().unwrap_or(""));
        match pick.get(&key) {
            Some((_, _, true)) => {}
            _ => {
                pick.insert(key, (path, vml, is_elf));
            }
        }
    }
    Ok(pick
        .into_iter()
        .map(|((s, r), (p, v, _))| (s, r, p, v))
        .collect())
}

/// Runs the pack over the corpus; returns one row per (rule, dump) where the
/// rule has an expectation for the dump's scenario.
pub fn rules_test(
    pack: &RulePack,
    manifest: &Path,
    open: impl Fn(&Path, &Path) -> Result<Kernel, String>,
) -> Result<Vec<TestRow>, String> {
    let mut rows = Vec::new();
    for (scenario, release, path, vmlinux) in test_dumps(manifest)? {
        let k = match open(&path, &vmlinux) {
            Ok(k) => k,
            Err(e) => {
                for r in &pack.rules {
                    let exp = r.doc.tests.fires_on.contains(&scenario);
                    if exp || r.doc.tests.silent_on.contains(&scenario) {
                        rows.push(TestRow {
                            rule: r.doc.id.clone(),
                            scenario: scenario.clone(),
                            kernel: release.clone(),
                            expected: exp,
                            fired: false,
                            error: Some(e.clone()),
                        });
                    }
                }
                continue;
            }
        };
        let res = scan_kernel(pack, &k);
        for r in &pack.rules {
            let expected = r.doc.tests.fires_on.contains(&scenario);
            let silent = r.doc.tests.silent_on.contains(&scenario);
            let fired = res.diagnoses.iter().any(|d| d.rule == r.doc.id);
            let error = res
                .errors
                .iter()
                .find(|e| e.rule == r.doc.id)
                .map(|e| e.message.clone());
            if expected || silent || fired {
                rows.push(TestRow {
                    rule: r.doc.id.clone(),
                    scenario: scenario.clone(),
                    kernel: release.clone(),
                    expected,
                    fired,
                    error,
                });
            }
        }
    }
    Ok(rows)
}

/// The expected-vs-actual table with precision and recall per rule.
pub fn test_table(rows: &[TestRow]) -> (String, bool) {
    let mut s = format!(
        "{:<12} {:<22} {:<28} {:<8} {:<8} {}\n",
        "RULE", "SCENARIO", "KERNEL", "EXPECT", "ACTUAL", ""
    );
    let mut ok_all = true;
    for r in rows {
        let ok = r.expected == r.fired && r.error.is_none();
        ok_all &= ok;
        s += &format!(
            "{:<12} {:<22} {:<28} {:<8} {:<8} {}{}\n",
            r.rule,
            r.scenario,
            r.kernel,
            if r.expected { "fire" } else { "silent" },
            if r.fired { "fired" } else { "silent" },
            if ok { "ok" } else { "MISMATCH" },
            r.error
                .as_ref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    s += &format!(
        "\n{:<12} {:>4} {:>4} {:>4} {:>9} {:>7}\n",
        "RULE", "TP", "FP", "FN", "PRECISION", "RECALL"
    );
    let mut per: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    for r in rows {
        let e = per.entry(&r.rule).or_default();
        match (r.expected, r.fired) {
            (true, true) => e.0 += 1,
            (false, true) => e.1 += 1,
            (true, false) => e.2 += 1,
            _ => {}
        }
    }
    for (rule, (tp, fp, fnn)) in per {
        let p = if tp + fp == 0 {
            1.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let rc = if tp + fnn == 0 {
            1.0
        } else {
            tp as f64 / (tp + fnn) as f64
        };
        s += &format!("{rule:<12} {tp:>4} {fp:>4} {fnn:>4} {p:>9.2} {rc:>7.2}\n");
    }
    (s, ok_all)
}

/// `vmtriage query`: `let` bindings then one expression, its value as JSON.
pub fn query(k: &Kernel, src: &str) -> Result<serde_json::Value, String> {
    use vmtriage_dsl::ast::Stmt;
    let prog = vmtriage_dsl::parse_program(src).map_err(|ds| {
        ds.iter()
            .map(|d| {
                format!(
                    "{}: {} at {}..{}",
                    d.code, d.message, d.span.start, d.span.end
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let stacks = stacks_for(k);
    let model = Model::new(k, stacks.as_ref());
    let params = BTreeMap::new();
    let helpers = vmtriage_rules::helpers::RhaiHelpers::empty();
    let mut ev = vmtriage_rules::eval::Evaluator::new(&model, &params, &helpers);
    for s in &prog.stmts {
        match s {
            Stmt::Let { name, value, .. } => {
                let v = ev.eval(value).map_err(|e| e.message)?;
                ev.bind(&name.name, v);
            }
            Stmt::For { .. } => {
                return Err("`for` is for rules; in a query, filter with `where`".into())
            }
        }
    }
    let v = ev.eval(&prog.cond).map_err(|e| e.message)?;
    Ok(vmtriage_rules::render::render(&ev, &v, 0).to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vmtriage_rules::pack::RuleRunError;
    use vmtriage_rules::rule::Severity;
    use vmtriage_rules::{Diagnosis, Evidence};

    /// The text report of a finding with evidence of every kind.
    #[test]
    fn evidence_of_every_kind_as_text() {
        let task = json!({"type": "task", "pid": 812, "tgid": 812, "comm": "kworker/1:2", "state": "D",
            "stack": ["__schedule", "schedule", "rwsem_down_write_slowpath"]});
        let bare = json!({"type": "task", "pid": 9, "tgid": 9, "comm": "init", "state": "S"});
        let lock =
            json!({"type": "lock", "address": "0xffff888003a1c040", "name": null, "kind": "mutex"});
        let record = json!({"type": "record", "level": 0, "timestamp": 12.5, "text": "sysrq: Trigger a crash"});
        let evidence: Vec<Evidence> = [
            ("task", task.clone()),
            ("waiters", json!({"type": "tasks", "count": 4, "sample": [task, bare.clone()]})),
            ("by lock", json!({"type": "group", "key": lock.clone(), "count": 2, "sample": [bare.clone(), lock.clone()]})),
            ("lock", lock),
            ("tasklist_lock", json!({"type": "lock", "address": "0xffffffff82a0b040", "name": "tasklist_lock", "kind": "rwlock",
                "state": {"locked": true, "rt": false, "readers": 1, "writer_locked": false, "writer_waiting": true,
                    "owner": null, "owner_known": false, "queued_writer": null, "waiters": 3, "raw": "0x300"}})),
            ("mmap_lock", json!({"type": "lock", "address": "0xffff888003a1c040", "name": null, "kind": "rwsem",
                "home": {"container": "mm_struct", "member": "mmap_lock",
                    "process": {"type": "task", "pid": 100, "tgid": 100, "comm": "faulter", "state": "S"}},
                "state": {"locked": true, "rt": true, "readers": 1, "writer_locked": false, "writer_waiting": null,
                    "owner": null, "owner_known": true, "queued_writer": {"type": "task", "pid": 103, "tgid": 100, "comm": "faulter", "state": "D"},
                    "waiters": 7, "raw": "0x102"}})),
            ("biggest", json!([
                {"type": "group", "key": 105, "by": "process", "count": 636, "sample": [bare.clone()]},
                {"type": "group", "key": 1355, "by": "process", "count": 1, "sample": [bare.clone()]}])),
            ("one task", json!({"type": "tasks", "count": 1, "sample": [bare.clone()]})),
            ("no tasks", json!({"type": "tasks", "count": 0, "sample": []})),
            ("flags", json!(["O", "E"])),
            ("zone", json!({"type": "zone", "node": 0, "name": "DMA32", "free": 1333, "min": 662, "low": 827, "high": 992})),
            ("record", record.clone()),
            ("log", json!([record.clone(), record])),
            ("state", json!({"type": "map", "fields": {"owner": bare, "readers": 2, "type": "rwsem"}})),
            ("object", json!({"type": "object", "ctype": "struct mutex", "address": "0x1000"})),
            ("frame", json!({"type": "frame", "function": "mutex_lock", "pc": "0xffffffff81000000", "inline": false})),
            ("release", json!("6.1.0-13-amd64")),
            ("nothing", json!(null)),
            ("count", json!(42)),
            ("failed", json!({"type": "error", "error": "no task #7"})),
        ]
        .into_iter()
        .map(|(name, v)| Evidence {
            name: name.into(),
            value: Fact::from_json(&v),
        })
        .collect();
        let rep = DumpReport {
            dump: "vmcore".into(),
            kind: None,
            not_run: Vec::new(),
            log: None,
            evidence_logs: Vec::new(),
            title: Some("task hung in mutex_owner [vmtriage_scen]".into()),
            signature: Some("6678d14d2ede99c1".into()),
            result: ScanResult {
                release: "6.1.0-13-amd64".into(),
                diagnoses: vec![Diagnosis {
                    rule: "LOCK-0001".into(),
                    title: "Tasks pile up on a lock".into(),
                    severity: Severity::High,
                    message: "4 tasks wait for a mutex".into(),
                    evidence,
                    references: vec!["https://docs.kernel.org/locking/mutex-design.html".into()],
                    incomplete: true,
                }],
                errors: vec![RuleRunError {
                    rule: "MM-0001".into(),
                    message: "no dump is open (mm/x.yaml:3)".into(),
                }],
                skipped: Vec::new(),
                partial: vec!["1 task(s) could not be read: excluded by the dump level".into()],
                dump_title: None,
            },
        };
        insta::assert_snapshot!(diagnoses_text(&rep));
    }
}
