//! Broken rule files: each must produce the right report at the right span.
//! The rendered reports are snapshots (what a rule author reads).

use std::path::Path;

use vmtriage_rules::eval::Helpers;
use vmtriage_rules::helpers::RhaiHelpers;
use vmtriage_rules::RulePack;

fn load(files: &[&str]) -> Vec<vmtriage_rules::RuleDiagnostic> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let rules: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                format!("tests/broken/{f}"),
                std::fs::read_to_string(dir.join(f)).unwrap(),
            )
        })
        .collect();
    RulePack::from_sources(&rules, &[]).1
}

fn one(file: &str, code: &str, line: usize) -> String {
    let all = load(&[file]);
    let rendered: Vec<String> = all.iter().map(|x| x.render()).collect();
    let d: Vec<_> = all.iter().filter(|x| x.code == code).collect();
    assert_eq!(d.len(), 1, "{file}: expected one {code}: {rendered:#?}");
    assert_eq!(d[0].line_col().0, line, "{file}: {}", d[0].render());
    d[0].render()
}

macro_rules! broken {
    ($name:ident, $file:literal, $code:literal, $line:literal) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(one($file, $code, $line));
        }
    };
}

broken!(syntax_error, "syntax-error.yaml", "E001", 7);
broken!(unknown_field, "unknown-field.yaml", "R002", 7);
broken!(type_mismatch, "type-mismatch.yaml", "C011", 7);
broken!(string_plus_int, "string-plus-int.yaml", "C011", 7);
broken!(negate_string, "negate-string.yaml", "C011", 6);
broken!(sort_by_list, "sort-by-list.yaml", "C011", 6);
broken!(index_task, "index-task.yaml", "C011", 7);
broken!(version_vs_int, "version-vs-int.yaml", "C011", 6);
broken!(division_by_zero, "division-by-zero.yaml", "C012", 6);
broken!(unknown_param, "unknown-param.yaml", "C005", 8);
broken!(bad_severity, "bad-severity.yaml", "R004", 3);
broken!(missing_id, "missing-id.yaml", "R003", 1);
broken!(bad_regex, "bad-regex.yaml", "C007", 6);
broken!(bad_version_range, "bad-version-range.yaml", "R007", 5);
broken!(unused_capture, "unused-capture.yaml", "C006", 6);
broken!(bad_message_hole, "bad-message-hole.yaml", "E001", 6);
broken!(unknown_function, "unknown-function.yaml", "C004", 5);
broken!(builtin_without_arguments, "percent-no-args.yaml", "C004", 7);
broken!(
    builtin_wrong_argument_type,
    "wrong-argument-type.yaml",
    "C003",
    7
);
broken!(lock_state_member_typo, "lock-member-typo.yaml", "C002", 7);
broken!(duplicate_label, "duplicate-label.yaml", "R012", 10);
broken!(label_too_long, "label-too-long.yaml", "R012", 9);
broken!(
    evidence_unknown_key,
    "evidence-unknown-key.yaml",
    "R002",
    10
);
broken!(dump_title_unknown_field, "dump-title-hole.yaml", "C002", 9);
broken!(param_help_with_a_comma, "param-comma.yaml", "R002", 6);
broken!(
    needs_log_reads_a_dump,
    "needs-log-reads-a-dump.yaml",
    "C013",
    8
);

/// The three forms of an evidence item, and the labels derived from an
/// expression when the rule gives none: never a dotted path.
#[test]
fn evidence_labels() {
    let src = r#"id: TEST-0034
title: Labels
severity: info
summary: A rule for tests.
match: |
  for g in group tasks where state == "D" by blocked_on as lock having count >= 1
  let state = mutex(g.key)
  let on_oops = @?panic_on_oops
  g.count >= 1
evidence:
  - g.key
  - blocked: g.items
  - {label: "the owner", value: state.owner}
  - {value: state.owner.waits_for}
  - on_oops
  - kernel.nr_threads
  - first(dmesg where text matches "hung")
  - count(g.items)
  - "@tasklist_lock.raw_lock"
  - state.owner
message: "{g.count}"
"#;
    let (pack, diags) = RulePack::from_sources(&[("t.yaml".into(), src.into())], &[]);
    assert!(
        diags.is_empty(),
        "{:#?}",
        diags.iter().map(|d| d.render()).collect::<Vec<_>>()
    );
    let labels: Vec<&str> = pack.rules[0]
        .evidence
        .iter()
        .map(|e| e.0.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "g key",
            "blocked",
            "the owner",
            "waits for",
            "on oops",
            "nr threads",
            "dmesg",
            "number of g items",
            "raw_lock",
            "owner",
        ]
    );
}

#[test]
fn unknown_model_field() {
    let d = load(&["unknown-model-field.yaml"]);
    assert_eq!(
        d.len(),
        2,
        "{:#?}",
        d.iter().map(|x| x.render()).collect::<Vec<_>>()
    );
    assert!(d.iter().all(|x| x.code == "C001" || x.code == "C002"));
    assert!(d.iter().all(|x| x.line_col().0 == 6));
    insta::assert_snapshot!(d.iter().map(|x| x.render()).collect::<Vec<_>>().join("\n"));
}

#[test]
fn duplicate_id() {
    let d = load(&["duplicate-id-a.yaml", "duplicate-id-b.yaml"]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "R009");
    assert!(d[0].file.ends_with("duplicate-id-b.yaml"));
    insta::assert_snapshot!(d[0].render());
}

#[test]
fn helper_that_never_ends_is_stopped() {
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/loop.rhai"),
    )
    .unwrap();
    let (h, diags) = RhaiHelpers::compile(&[("loop.rhai".into(), src)]);
    assert!(diags.is_empty(), "{diags:?}");
    let t = std::time::Instant::now();
    let r = h
        .call("spin", vec![serde_json::json!(1)])
        .expect("spin is a helper");
    let err = r.expect_err("an endless loop must be stopped");
    assert!(err.contains("stopped"), "{err}");
    assert!(t.elapsed().as_secs() < 5, "stopped in {:?}", t.elapsed());
    // The engine goes on: the next call works.
    assert_eq!(
        h.call("double", vec![serde_json::json!(21)])
            .unwrap()
            .unwrap(),
        serde_json::json!(42)
    );
}

#[test]
fn helper_has_no_access_to_the_outside() {
    for (name, body) in [
        ("f1", "fn f1() { import \"x\" as y; 1 }"),
        ("f2", "fn f2() { eval(\"1\") }"),
    ] {
        let (h, diags) = RhaiHelpers::compile(&[(format!("{name}.rhai"), body.to_string())]);
        assert!(
            !diags.is_empty() || !matches!(h.call(name, vec![]), Some(Ok(_))),
            "{name} must fail"
        );
    }
}

#[test]
fn the_shipped_pack_is_clean() {
    let (pack, diags) = RulePack::embedded();
    assert!(
        diags.is_empty(),
        "{}",
        diags
            .iter()
            .map(|d| d.render())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(pack.rules.len() >= 11);
}
