//! A hostile rule beside the real pack, on a real dump: rules that break a
//! bound when loaded are coded errors of their own file, rules that break one
//! when they run are error rows of their own, and the pack's diagnoses on the
//! dump are exactly those of the pack alone. Needs the corpus (corpus/build).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use vmtriage_cli::Session;
use vmtriage_rules::model::Model;
use vmtriage_rules::rule::{read_dir, Sources};
use vmtriage_rules::{RulePack, ScanResult};

const HEAD: &str = "title: hostile\nseverity: high\nsummary: s\nmessage: m\n";

/// Rules refused when the pack loads: (file, text, code).
fn refused() -> Vec<(String, String, &'static str)> {
    let mut laughs = format!("id: HOST-0001\n{HEAD}match: count(tasks) > 0\ntags:\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        laughs.push_str(&format!("  - &a{i} [{}]\n", vec![p; 10].join(", ")));
    }
    let parens = format!(
        "id: HOST-0002\n{HEAD}match: |\n  {}1{} > 0\n",
        "(".repeat(30_000),
        ")".repeat(30_000)
    );
    let regex = format!(
        "id: HOST-0003\n{HEAD}match: |\n  any of dmesg where text matches \"(\\\\w{{50}}){{50}}\"\n"
    );
    let mut doubling = format!("id: HOST-0004\n{HEAD}match: |\n  let s0 = \"ab\"\n");
    for i in 1..40 {
        doubling.push_str(&format!("  let s{i} = s{} + s{}\n", i - 1, i - 1));
    }
    doubling.push_str("  s39 == \"x\"\n");
    vec![
        ("hostile/laughs.yaml".into(), laughs, "R011"),
        ("hostile/parens.yaml".into(), parens, "E010"),
        ("hostile/regex.yaml".into(), regex, "C009"),
        ("hostile/doubling.yaml".into(), doubling, "C010"),
    ]
}

/// Rules that load but break a bound of the helper sandbox when they run:
/// (rules, helpers).
fn runaway() -> (Sources, Sources) {
    let helpers = vec![(
        "hostile/helpers.rhai".to_string(),
        "fn spin(n) { let i = 0; loop { i += 1; } }\nfn recurse(n) { recurse(n + 1) }\nfn grow(n) { let s = \"ab\"; loop { s += s; } }\n"
            .to_string(),
    )];
    let rules = [
        ("HOST-0101", "spin(1) > 0"),
        ("HOST-0102", "recurse(1) > 0"),
        ("HOST-0103", "count(grow(1)) > 0"),
        // Five nested loops over every task: the evaluator's own time limit.
        (
            "HOST-0104",
            "count(tasks where any of tasks where any of tasks where any of tasks where any of tasks where pid < 0) > 0",
        ),
    ]
    .iter()
    .map(|(id, m)| {
        (
            format!("hostile/{id}.yaml"),
            format!("id: {id}\n{HEAD}match: {m}\n"),
        )
    })
    .collect();
    (rules, helpers)
}

fn scan(pack: &RulePack, s: &Session) -> ScanResult {
    let stacks = vmtriage_cli::scan::stacks_for(&s.kernel);
    let m = Model::new(&s.kernel, stacks.as_ref());
    pack.scan(&m)
}

#[test]
fn a_hostile_rule_affects_no_other_rule() {
    let entries = match common::manifest() {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    let e = entries
        .iter()
        .find(|e| e.scenario == "mutex-hung-task" && e.format == "elf")
        .expect("a mutex-hung-task dump in the corpus");
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).expect("the dump opens");
    let (rules, helpers) =
        read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")).unwrap();

    let (pack, diags) = RulePack::from_sources(&rules, &helpers);
    assert!(diags.is_empty(), "the real pack loads cleanly");
    let t = Instant::now();
    let alone = scan(&pack, &s);
    let alone_time = t.elapsed();
    assert!(
        !alone.diagnoses.is_empty(),
        "the real pack finds something on {}",
        e.name()
    );

    // The pack with every hostile rule and helper added.
    let mut all_rules = rules.clone();
    let mut all_helpers = helpers.clone();
    for (f, t, _) in refused() {
        all_rules.push((f, t));
    }
    let (run_rules, run_helpers) = runaway();
    all_rules.extend(run_rules);
    all_helpers.extend(run_helpers);
    let t = Instant::now();
    let (hostile, diags) = RulePack::from_sources(&all_rules, &all_helpers);
    let load_time = t.elapsed();
    for (file, _, code) in refused() {
        let d: Vec<_> = diags.iter().filter(|d| d.file == file).collect();
        assert_eq!(d.len(), 1, "{file}: {d:?}");
        assert_eq!(d[0].code, code, "{file}: {}", d[0].render());
    }
    assert_eq!(diags.len(), refused().len(), "only the hostile files fail");
    assert_eq!(hostile.rules.len(), pack.rules.len() + 4);
    assert!(
        load_time < Duration::from_secs(2),
        "loaded in {load_time:?}"
    );

    let t = Instant::now();
    let with = scan(&hostile, &s);
    let scan_time = t.elapsed();
    // Each runaway helper call stops within its 500 ms, the loops within
    // the rule's second.
    assert!(
        scan_time < alone_time + Duration::from_secs(5),
        "scan took {scan_time:?}"
    );
    eprintln!(
        "load {load_time:?}, scan {scan_time:?}; alone: {} diagnoses; errors: {:#?}",
        alone.diagnoses.len(),
        with.errors
    );
    // The real diagnoses, unchanged.
    let key = |r: &ScanResult| -> Vec<(String, String)> {
        r.diagnoses
            .iter()
            .map(|d| (d.rule.clone(), d.message.clone()))
            .collect()
    };
    assert_eq!(key(&with), key(&alone));
    // One error row for each runaway rule, saying which limit stopped it,
    // and no other new error.
    for (id, limit) in [
        ("HOST-0101", "operations"),
        ("HOST-0102", "33 levels deep, over the limit of 32"),
        ("HOST-0103", "length of string"),
        ("HOST-0104", "time limit"),
    ] {
        let rows: Vec<_> = with.errors.iter().filter(|r| r.rule == id).collect();
        assert_eq!(rows.len(), 1, "{id}: {:?}", with.errors);
        assert!(
            rows[0].message.contains(limit) || rows[0].message.contains("500 ms"),
            "{id}: {}",
            rows[0].message
        );
    }
    let others: Vec<_> = with
        .errors
        .iter()
        .filter(|r| !r.rule.starts_with("HOST-"))
        .collect();
    let before: Vec<_> = alone.errors.iter().collect();
    assert_eq!(others, before);
}

/// Copies a rule pack directory (rules and helpers) into `to`.
fn copy_pack(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_pack(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// `vmtriage scan DUMP --rules DIR --format json`: (exit code, the
/// diagnoses as (rule, message), stderr).
fn scan_cli(dump: &Path, vmlinux: &Path, rules: &Path) -> (i32, Vec<(String, String)>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .arg("scan")
        .arg(dump)
        .arg("--vmlinux")
        .arg(vmlinux)
        .arg("--rules")
        .arg(rules)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut found = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        for d in v["diagnoses"].as_array().into_iter().flatten() {
            found.push((
                d["rule"].as_str().unwrap_or_default().to_string(),
                d["message"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    (
        out.status.code().unwrap_or(-1),
        found,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One bad file in `scan --rules DIR` drops that file alone: its coded
/// error is printed, every other rule is evaluated as without it, and the
/// exit status is 2 (bad input), not the findings' 1.
#[test]
fn scan_runs_the_pack_without_a_refused_file() {
    let entries = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    let e = entries
        .iter()
        .find(|e| e.scenario == "mutex-hung-task" && e.format == "elf")
        .expect("a mutex-hung-task dump in the corpus");
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let tmp = std::env::temp_dir().join(format!("vmtriage-hostile-pack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (alone_dir, with_dir) = (tmp.join("alone"), tmp.join("with"));
    for d in [&alone_dir, &with_dir] {
        std::fs::create_dir_all(d).unwrap();
        copy_pack(&real, d);
    }
    // Nesting 120 000 deep on one line: refused before the YAML parser.
    let bad = with_dir.join("zz-hostile.yaml");
    std::fs::write(
        &bad,
        format!(
            "id: HOST-0201\n{HEAD}match: count(tasks) > 0\ntags: {}x{}\n",
            "[".repeat(120_000),
            "]".repeat(120_000)
        ),
    )
    .unwrap();

    let (alone_code, alone, _) = scan_cli(&e.path, &e.vmlinux, &alone_dir);
    let t = Instant::now();
    let (code, with, stderr) = scan_cli(&e.path, &e.vmlinux, &with_dir);
    let took = t.elapsed();
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(
        alone_code,
        1,
        "the pack alone finds something on {}",
        e.name()
    );
    assert!(!alone.is_empty());
    assert_eq!(with, alone, "the other rules' diagnoses, unchanged");
    assert_eq!(code, 2, "a refused rule file is bad input:\n{stderr}");
    assert!(
        stderr.contains("R011") && stderr.contains("zz-hostile.yaml"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 file(s) of the rule pack refused"),
        "{stderr}"
    );
    eprintln!("scan with the refused file: {took:?}");
}
