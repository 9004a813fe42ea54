//! The rule pack on the corpus: every scenario's expected diagnoses fire and
//! nothing fires where it does not belong (`vmtriage rules test`), plus the
//! engine's guarantees on real dumps: laziness and isolation of a runaway
//! helper, and the rules that need only the log giving, from a dump's log
//! records alone, the findings they give on the dump.

mod common;

use common::{corpus_dir, manifest};
use libtest_mimic::{Arguments, Failed, Trial};
use vmtriage_cli::scan::{rules_test, test_table, UnwindStacks};
use vmtriage_cli::Session;
use vmtriage_rules::model::Model;
use vmtriage_rules::{Need, RulePack, SkipReason};

fn pack_matches_expectations() -> Result<(), Failed> {
    let (pack, diags) = RulePack::embedded();
    if !diags.is_empty() {
        return Err(format!("{} rule errors", diags.len()).into());
    }
    let rows = rules_test(&pack, &corpus_dir().join("manifest.json"), |d, v| {
        Session::open(d, Some(v), &[])
            .map(|s| s.kernel)
            .map_err(|e| e.to_string())
    })?;
    let (table, ok) = test_table(&rows);
    println!("{table}");
    if ok {
        Ok(())
    } else {
        Err(format!("expected vs actual differ:\n{table}").into())
    }
}

/// Each scenario's `expect` file and the rules' `tests:` say the same thing.
fn expect_files_agree() -> Result<(), Failed> {
    let (pack, _) = RulePack::embedded();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/scenarios");
    let mut problems = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let sdir = e?.path();
        let scenario = sdir.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(sdir.join("expect"))
            .map_err(|e| format!("{scenario}/expect: {e}"))?;
        let list = |key: &str| -> Vec<String> {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|l| l.split_whitespace().map(String::from).collect())
                .unwrap_or_default()
        };
        for (key, fire) in [("fire:", true), ("silent:", false)] {
            for id in list(key) {
                match pack.get(&id) {
                    None => problems.push(format!("{scenario}/expect names unknown rule {id}")),
                    Some(r) => {
                        let t = if fire {
                            &r.doc.tests.fires_on
                        } else {
                            &r.doc.tests.silent_on
                        };
                        if !t.contains(&scenario) {
                            problems.push(format!(
                                "{scenario}/expect says {id} {key} but the rule's tests do not"
                            ));
                        }
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn first_dump(scenario: &str) -> Result<common::Entry, Failed> {
    manifest()?
        .into_iter()
        .find(|e| e.scenario == scenario && e.format == "elf")
        .ok_or_else(|| format!("no {scenario} dump in the corpus").into())
}

/// A pack whose rules never look at stacks unwinds no stack.
fn lazy_unwinding() -> Result<(), Failed> {
    let e = first_dump("mutex-hung-task")?;
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).map_err(|e| e.to_string())?;
    let rules = vec![(
        "lazy.yaml".to_string(),
        "id: TEST-0100\ntitle: t\nseverity: info\nsummary: s\nmatch: |\n  let d = tasks where state == \"D\"\n  count(d) > 0 and kernel.release matches \"^[0-9]\"\nmessage: \"{count(d)}\"\n".to_string(),
    )];
    let (pack, diags) = RulePack::from_sources(&rules, &[]);
    assert!(diags.is_empty());
    let stacks = UnwindStacks {
        unwinder: kunwind::Unwinder::new(&s.kernel).map_err(|e| e.to_string())?,
    };
    let m = Model::new(&s.kernel, &stacks);
    let res = pack.scan(&m);
    if res.diagnoses.len() != 1 {
        return Err(format!(
            "expected one diagnosis, got {:?} / {:?}",
            res.diagnoses, res.errors
        )
        .into());
    }
    if m.unwound.get() != 0 || stacks.unwinder.unwind_count() != 0 {
        return Err(format!(
            "{} stacks unwound by a rule that never looks at stacks",
            stacks.unwinder.unwind_count()
        )
        .into());
    }
    // And a rule that does look unwinds only what it asks for.
    let rules = vec![("s.yaml".to_string(), "id: TEST-0101\ntitle: t\nseverity: info\nsummary: s\nmatch: |\n  any of tasks where state == \"D\" and blocked_on != null\nmessage: m\n".to_string())];
    let (pack, _) = RulePack::from_sources(&rules, &[]);
    let res = pack.scan(&m);
    let d_tasks = s
        .kernel
        .tasks()
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|t| t.state == 'D')
        .count();
    if res.diagnoses.len() != 1 || m.unwound.get() == 0 || m.unwound.get() > d_tasks {
        return Err(format!(
            "unwound {} stacks for {} D tasks: {:?}",
            m.unwound.get(),
            d_tasks,
            res.errors
        )
        .into());
    }
    Ok(())
}

/// A helper that never ends is stopped and reported; the other rules still run.
fn runaway_helper_is_isolated() -> Result<(), Failed> {
    let e = first_dump("idle")?;
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).map_err(|e| e.to_string())?;
    let helpers = vec![(
        "loop.rhai".to_string(),
        "fn spin(n) { let i = 0; loop { i += 1; } i }".to_string(),
    )];
    let rules = vec![
        ("a.yaml".to_string(), "id: TEST-0200\ntitle: loops\nseverity: low\nsummary: s\nmatch: spin(1) > 0\nmessage: m\n".to_string()),
        ("b.yaml".to_string(), "id: TEST-0201\ntitle: works\nseverity: low\nsummary: s\nmatch: count(tasks) > 0\nmessage: m\n".to_string()),
    ];
    let (pack, diags) = RulePack::from_sources(&rules, &helpers);
    assert!(diags.is_empty(), "{diags:?}");
    let stacks = vmtriage_cli::scan::stacks_for(&s.kernel);
    let m = Model::new(&s.kernel, stacks.as_ref());
    let t = std::time::Instant::now();
    let res = pack.scan(&m);
    if !res
        .errors
        .iter()
        .any(|e| e.rule == "TEST-0200" && e.message.contains("stopped"))
    {
        return Err(format!("no error row for the looping helper: {:?}", res.errors).into());
    }
    if !res.diagnoses.iter().any(|d| d.rule == "TEST-0201") {
        return Err("the other rule did not run".into());
    }
    if t.elapsed().as_secs() > 10 {
        return Err(format!("took {:?}", t.elapsed()).into());
    }
    Ok(())
}

/// The rules that need only the log, run on the dump's log records alone
/// (`Model::of_log`, the release as the dump says it), give the findings
/// they give on the dump — message, evidence, title — and every other rule
/// is skipped as `needs a dump`, none an error.
fn log_rules_on_the_log_alone(e: &common::Entry) -> Result<(), Failed> {
    let (pack, _) = RulePack::embedded();
    let log_rules = common::log_rules(&pack);
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).map_err(|e| e.to_string())?;
    let stacks = vmtriage_cli::scan::stacks_for(&s.kernel);
    let dump = Model::new(&s.kernel, stacks.as_ref());
    let on_dump = pack.scan_only(&dump, Some(&log_rules));
    let records = match dump.dmesg() {
        Ok(r) => r.to_vec(),
        // No log to compare (the dump level left its pages out): the log
        // rules fail on the dump, and there is no log to read alone.
        Err(err) => {
            println!("{}: no log in the dump ({err})", e.name());
            return Ok(());
        }
    };
    let log = Model::of_log(records, Some(s.kernel.release.clone()));
    let on_log = pack.scan(&log);
    let mut problems = Vec::new();
    let json = |d: &[vmtriage_rules::Diagnosis]| serde_json::to_string(d).unwrap_or_default();
    if on_log.diagnoses != on_dump.diagnoses {
        problems.push(format!(
            "findings differ:
  on the dump: {}
  on its log:  {}",
            json(&on_dump.diagnoses),
            json(&on_log.diagnoses)
        ));
    }
    let errors = |r: &vmtriage_rules::ScanResult| -> Vec<String> {
        r.errors.iter().map(|x| x.rule.clone()).collect()
    };
    if errors(&on_log) != errors(&on_dump) {
        problems.push(format!(
            "errors differ: on the dump {:?}, on its log {:?}",
            on_dump.errors, on_log.errors
        ));
    }
    for r in &pack.rules {
        // Not an empty agreement: where a log rule must fire, it does.
        let fired = on_log.diagnoses.iter().any(|d| d.rule == r.doc.id);
        if r.need == Need::Log && r.doc.tests.fires_on.contains(&e.scenario) && !fired {
            problems.push(format!("{} did not fire on the log alone", r.doc.id));
        }
        let skipped = on_log.skipped.iter().find(|x| x.rule == r.doc.id);
        let want = (r.need == Need::Dump).then_some(SkipReason::NeedsDump);
        let kernel_excluded = on_dump.skipped.iter().any(|x| x.rule == r.doc.id);
        if skipped.map(|x| x.reason) != want && !kernel_excluded {
            problems.push(format!(
                "{} (needs {}) skipped on the log as {:?}",
                r.doc.id,
                r.need,
                skipped.map(|x| x.reason)
            ));
        }
    }
    common::verdict(e, &problems)
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("rules/pack-on-corpus", pack_matches_expectations),
        Trial::test("rules/expect-files", expect_files_agree),
        Trial::test("rules/lazy-unwinding", lazy_unwinding),
        Trial::test("rules/runaway-helper", runaway_helper_is_isolated),
    ];
    trials.extend(common::per_dump_trials(
        "rules/log-alone",
        log_rules_on_the_log_alone,
    ));
    libtest_mimic::run(&args, trials).exit();
}
