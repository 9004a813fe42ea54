//! Hostile rule packs: every bound on rule files, expressions, regexes and
//! helpers is an error with its code at the line and column it concerns,
//! found within a second, and the other rules of the pack still load.
//! The rendered reports are snapshots.

use std::time::{Duration, Instant};

use vmtriage_rules::eval::Helpers;
use vmtriage_rules::helpers::{self, RhaiHelpers};
use vmtriage_rules::source::{MAX_RULE_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES};
use vmtriage_rules::{RuleDiagnostic, RulePack};

/// How long refusing one hostile input may take.
const WITHIN: Duration = Duration::from_secs(1);

/// A sound rule loaded beside each hostile one: it must still load.
const GOOD: &str =
    "id: TEST-0001\ntitle: fine\nseverity: low\nsummary: s\nmatch: count(tasks) > 0\nmessage: m\n";

/// Loads `hostile` beside a sound rule; returns the diagnostics (all of the
/// hostile file) and how long loading took.
fn load(hostile: &str) -> (Vec<RuleDiagnostic>, Duration) {
    let rules = vec![
        ("hostile.yaml".to_string(), hostile.to_string()),
        ("good.yaml".to_string(), GOOD.to_string()),
    ];
    let t = Instant::now();
    let (pack, diags) = RulePack::from_sources(&rules, &[]);
    let took = t.elapsed();
    assert!(
        pack.get("TEST-0001").is_some(),
        "the sound rule did not load"
    );
    assert!(diags.iter().all(|d| d.file == "hostile.yaml"));
    // The pack names the file it runs without.
    let refused: &[&str] = if diags.is_empty() {
        &[]
    } else {
        &["hostile.yaml"]
    };
    assert_eq!(pack.refused, refused);
    (diags, took)
}

/// The one diagnostic of `hostile`, which must have `code` at `line`, found
/// within a second.
fn one(hostile: &str, code: &str, line: usize) -> String {
    let (diags, took) = load(hostile);
    let rendered: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert_eq!(diags.len(), 1, "{rendered:#?}");
    assert_eq!(diags[0].code, code, "{}", rendered[0]);
    assert_eq!(diags[0].line_col().0, line, "{}", rendered[0]);
    assert!(took < WITHIN, "took {took:?}");
    eprintln!("{code}: refused in {took:?}");
    rendered[0].clone()
}

const HEAD: &str = "id: TEST-0300\ntitle: t\nseverity: low\nsummary: s\nmessage: m\n";

#[test]
fn a_rule_file_too_large() {
    let src = format!(
        "{HEAD}match: count(tasks) > 0\ndescription: {}\n",
        "x".repeat(MAX_RULE_FILE_BYTES)
    );
    insta::assert_snapshot!(one(&src, "R010", 1));
}

#[test]
fn billion_laughs() {
    // Ten levels of ten aliases each: 10^10 strings once expanded.
    let mut src = format!("{HEAD}match: count(tasks) > 0\ntags:\n  - &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = format!("*a{}", i - 1);
        src.push_str(&format!("  - &a{i} [{}]\n", vec![p; 10].join(", ")));
    }
    insta::assert_snapshot!(one(&src, "R011", 8));
}

#[test]
fn one_long_alias_list() {
    // Under the node limit in the file, far over it once expanded.
    let items = vec!["*big"; MAX_YAML_NODES / 10].join(", ");
    let src = format!(
        "{HEAD}match: count(tasks) > 0\nreferences: &big [{}]\ntags: [{items}]\n",
        vec!["r"; 20].join(", ")
    );
    let (diags, took) = load(&src);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "R011");
    assert!(took < WITHIN, "took {took:?}");
}

#[test]
fn yaml_nested_too_deeply() {
    // 60 000 nested flow sequences, one per line.
    let src = format!(
        "{HEAD}match: count(tasks) > 0\ntags:\n{}x{}\n",
        " [\n".repeat(60_000),
        "]".repeat(60_000)
    );
    assert!(src.len() < MAX_RULE_FILE_BYTES);
    // The sequence that goes past the limit is on the line after the limit's.
    insta::assert_snapshot!(one(&src, "R011", 7 + MAX_YAML_DEPTH));
}

/// Flow collections nested far past the bound on one line: libyaml's time
/// grows with the square of the depth (120 000 deep kept `rules check` busy
/// past 60 s), so the depth is bounded before it parses.
#[test]
fn yaml_flow_nested_on_one_line() {
    const DEEP: usize = 120_000;
    let seqs = format!(
        "{HEAD}match: count(tasks) > 0\ntags: {}x{}\n",
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    );
    // `{a: ` 50 000 times, and the same left open.
    let maps = format!(
        "{HEAD}match: count(tasks) > 0\nparams: {}1{}\n",
        "{a: ".repeat(50_000),
        "}".repeat(50_000)
    );
    let open = format!(
        "{HEAD}match: count(tasks) > 0\ntags: {}\n",
        "[".repeat(DEEP)
    );
    // Block sequences nested on one line (`- - - …`).
    let dashes = format!(
        "{HEAD}match: count(tasks) > 0\ntags:\n{}x\n",
        "- ".repeat(DEEP)
    );
    for (what, src, line) in [
        ("seqs", &seqs, 7),
        ("maps", &maps, 7),
        ("open", &open, 7),
        ("dashes", &dashes, 8),
    ] {
        assert!(
            src.len() < MAX_RULE_FILE_BYTES,
            "{what}: {} bytes",
            src.len()
        );
        let r = one(src, "R011", line);
        eprintln!("{what}: {} bytes", src.len());
        assert!(r.contains("17 levels deep"), "{what}: {r}");
    }
    insta::assert_snapshot!(one(&seqs, "R011", 7));
}

/// The bound before parsing refuses nothing the rule format needs: nesting
/// up to the bound loads, brackets in text are text.
#[test]
fn yaml_nesting_at_the_bound_loads() {
    // The top mapping and `tags` are two levels: 15 more reach the bound.
    let deepest = format!(
        "{HEAD}match: count(tasks) > 0\nreferences: [{}x{}]\n",
        "[".repeat(MAX_YAML_DEPTH - 2),
        "]".repeat(MAX_YAML_DEPTH - 2)
    );
    let (diags, _) = load(&deepest);
    // A list of lists is not a list of strings (R001), but it is read.
    assert!(diags.iter().all(|d| d.code != "R011"), "{diags:#?}");
    let too_deep = deepest.replacen('[', "[[", 1).replacen(']', "]]", 1);
    one(&too_deep, "R011", 7);
    // Brackets, braces and quotes in text: block and plain scalars,
    // quoted scalars, comments.
    let text = format!(
        "id: TEST-0301\ntitle: '[[[[[[[[[[[[[[[[[[[[ it''s ]'\nseverity: low\nsummary: a {}b\n  continued [[[[[[[[[[[[[[[[[[[[[[\nmessage: \"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{ \\\" [[[[[[[[[[[[[[[[[[[[\" # [[[[[[[[[[[[[[[[[[[[\ndescription: |\n  [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n  {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\nmatch: |\n  count(tasks) > 0 and [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]] != []\ntags: [a, \"[[[[[[[[[[[[[[[[[[[[[[[\", 'it''s [[[[[[[[[[[[[[[[[[[[[']\n",
        "[".repeat(20)
    );
    let (_, diags) = RulePack::from_sources(&[("text.yaml".to_string(), text)], &[]);
    let rendered: Vec<_> = diags.iter().map(|d| d.render()).collect();
    assert!(diags.iter().all(|d| d.code != "R011"), "{rendered:#?}");
}

#[test]
fn duplicate_and_tagged_keys() {
    let src = format!("{HEAD}match: count(tasks) > 0\ntitle: again\n");
    insta::assert_snapshot!(one(&src, "R001", 7));
    let src = format!("{HEAD}match: !shell count(tasks)\n");
    let (diags, _) = load(&src);
    assert_eq!(diags[0].code, "R001");
}

#[test]
fn expression_nested_too_deeply() {
    // 100 000 nested parentheses in `match:`: E011 (longer than an
    // expression may be) and, when shorter, E010 (nested too deeply).
    let src = format!(
        "{HEAD}match: |\n  {}1{}\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    one(&src, "E011", 7);
    let src = format!(
        "{HEAD}match: |\n  count(tasks) > 0 and\n  {}1{} > 0\n",
        "(".repeat(30_000),
        ")".repeat(30_000)
    );
    let (diags, took) = load(&src);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "E010");
    assert_eq!(diags[0].line_col(), (8, 67));
    assert!(took < WITHIN, "took {took:?}");
}

// ------------------------------------------------------------ helpers

fn helper(src: &str) -> (RhaiHelpers, Vec<RuleDiagnostic>, Duration) {
    let t = Instant::now();
    let (h, d) = RhaiHelpers::compile(&[
        ("hostile.rhai".to_string(), src.to_string()),
        (
            "good.rhai".to_string(),
            "fn double(x) { x * 2 }".to_string(),
        ),
    ]);
    let took = t.elapsed();
    // The other file's functions are kept.
    assert_eq!(
        h.call("double", vec![serde_json::json!(21)]),
        Some(Ok(serde_json::json!(42)))
    );
    (h, d, took)
}

fn helper_refused(src: &str, code: &str, line: usize) -> String {
    let (_, d, took) = helper(src);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].code, code, "{}", d[0].render());
    assert_eq!(d[0].line_col().0, line, "{}", d[0].render());
    assert!(took < WITHIN, "took {took:?}");
    eprintln!("{code}: refused in {took:?}");
    d[0].render()
}

#[test]
fn helper_file_too_large() {
    let src = format!(
        "fn big() {{ 1 }}\n// {}\n",
        "x".repeat(helpers::MAX_HELPER_FILE_BYTES)
    );
    insta::assert_snapshot!(helper_refused(&src, "H002", 1));
}

#[test]
fn helper_nested_too_deeply() {
    let src = format!(
        "fn ok() {{ 1 }}\nfn deep() {{\n  {}1{}\n}}\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    insta::assert_snapshot!(helper_refused(&src, "H002", 3));
}

#[test]
fn too_many_helper_functions() {
    let src: String = (0..=helpers::MAX_FUNCTIONS)
        .map(|i| format!("fn f{i}() {{ {i} }}\n"))
        .collect();
    helper_refused(&src, "H002", helpers::MAX_FUNCTIONS + 1);
}

/// No helper may wait: `sleep` (which blocks without spending operations,
/// so the time limit never saw it: `sleep(30.0)` held a dump's scan 30 s)
/// is refused where the file names it, however it is called, and a call
/// that reaches it by a name built at run time fails at once.
#[test]
fn a_helper_may_not_wait() {
    let r = helper_refused("fn zz(x) {\n    sleep(30.0); 1\n}\n", "H003", 2);
    assert!(r.contains("sleep"), "{r}");
    insta::assert_snapshot!(r);
    for src in [
        "fn zz(x) { sleep(30); 1 }",
        "fn zz(x) { let t = 30; t.sleep(); 1 }",
        "fn zz(x) { `${sleep(30)}` }",
        "fn sleep(x) { x }",
    ] {
        helper_refused(src, "H003", 1);
    }
    let (h, d, _) = helper(
        "fn by_name(x) { let f = Fn(\"sl\" + \"eep\"); f.call(30.0); 1 }\nfn by_call(x) { call(Fn(\"sl\" + \"eep\"), 30); 1 }\n",
    );
    assert!(d.is_empty(), "{d:#?}");
    for f in ["by_name", "by_call"] {
        let t = Instant::now();
        let e = h
            .call(f, vec![serde_json::json!(1)])
            .expect("a helper")
            .expect_err("sleep is refused");
        assert!(t.elapsed() < WITHIN, "{f} took {:?}", t.elapsed());
        assert!(e.contains("`sleep` is not available"), "{f}: {e}");
    }
}

/// A helper stopped by the time limit is told how long it ran, measured,
/// beside the limit.
#[test]
fn helper_time_limit_states_the_time_taken() {
    // Each operation scans a megabyte: the time limit comes long before
    // the operation limit.
    let (h, d, _) =
        helper("fn slow() { let s = \"x\"; s.pad(1000000, 'y'); loop { s.index_of(\"z\"); } }");
    assert!(d.is_empty(), "{d:#?}");
    let t = Instant::now();
    let e = h
        .call("slow", vec![])
        .expect("a helper")
        .expect_err("stopped");
    let took = t.elapsed();
    let ms: u128 = e
        .strip_prefix("stopped after ")
        .and_then(|r| r.split_once(" ms, over the time limit of 500 ms"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{e}"));
    assert!(ms >= 500 && ms <= took.as_millis(), "{e} (took {took:?})");
}

/// Each run-time limit of a helper: the call ends with an error naming the
/// limit within a second, and the engine serves the next call.
#[test]
fn helper_runtime_limits() {
    let src = "\
fn spin() { let i = 0; loop { i += 1; } }
fn recurse(n) { recurse(n + 1) }
fn grow_string() { let s = \"ab\"; loop { s += s; } }
fn grow_array() { let a = [1]; loop { a += a; } }
fn grow_map() { let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; } }
fn grow_map_by_halves() {
    let m = #{ \"0\": 0 };
    loop {
        let n = #{};
        let base = m.len();
        for j in 0..base { n[`${base + j}`] = 0; }
        m += n;
    }
}
";
    let (h, d, _) = helper(src);
    assert!(d.is_empty(), "{d:#?}");
    let mut report = Vec::new();
    // (helper, arguments, what stops it; the endless loop may meet either
    // the operation limit or, on a loaded machine, the time limit first)
    let cases: [(&str, Vec<serde_json::Value>, &[&str]); 6] = [
        ("spin", vec![], &["2000001 operations", "500 ms"]),
        (
            "recurse",
            vec![serde_json::json!(0)],
            &["33 levels deep, over the limit of 32"],
        ),
        (
            "grow_string",
            vec![],
            &["length of string over the limit of 1048576 bytes"],
        ),
        (
            "grow_array",
            vec![],
            &["size of array/blob over the limit of 100000 elements"],
        ),
        // rhai checks a map's size when an operation returns it, not when
        // a key is set: a map grown one key at a time meets the operation
        // or time limit, one merged with another the size limit.
        ("grow_map", vec![], &["2000001 operations", "500 ms"]),
        (
            "grow_map_by_halves",
            vec![],
            &["size of object map over the limit of 10000 entries"],
        ),
    ];
    for (f, args, limit) in cases {
        let t = Instant::now();
        let r = h.call(f, args).expect("a helper");
        let took = t.elapsed();
        let e = r.expect_err("a limit stops it");
        assert!(limit.iter().any(|l| e.contains(l)), "{f}: {e}");
        assert!(took < WITHIN, "{f} took {took:?}");
        eprintln!("{f}: stopped in {took:?}");
        if f != "spin" && f != "grow_map" {
            report.push(format!("{f}: {e}"));
        }
        assert_eq!(
            h.call("double", vec![serde_json::json!(1)]),
            Some(Ok(serde_json::json!(2)))
        );
    }
    insta::assert_snapshot!(report.join("\n"));
}

// ------------------------------------------------------------ regexes and built values

#[test]
fn regex_too_large() {
    // 2 500 copies of the Unicode class `\w`: tens of megabytes compiled.
    let src =
        format!("{HEAD}match: |\n  any of dmesg where text matches \"(\\\\w{{50}}){{50}}\"\n");
    insta::assert_snapshot!(one(&src, "C009", 7));
}

#[test]
fn regex_too_large_in_a_param() {
    let src = format!(
        "{HEAD}params:\n  pat: {{ default: '(\\w{{50}}){{50}}', help: a pattern }}\nmatch: |\n  any of tasks where comm matches pat\n"
    );
    insta::assert_snapshot!(one(&src, "C009", 9));
    // An invalid one is C007 at its use as well.
    let src = src.replace("(\\w{50}){50}", "(unclosed");
    one(&src, "C007", 9);
}

#[test]
fn string_that_doubles() {
    // Each line doubles the string: 40 lines would be a terabyte.
    let mut src = format!("{HEAD}match: |\n  let s0 = \"ab\"\n");
    for i in 1..40 {
        src.push_str(&format!("  let s{i} = s{} + s{}\n", i - 1, i - 1));
    }
    src.push_str("  s39 == \"x\"\n");
    // 2 * 2^19 bytes is the first over 1 MiB: `s20`, on line 7 + 20.
    insta::assert_snapshot!(one(&src, "C010", 27));
}

#[test]
fn list_that_doubles_through_where() {
    // Lists nest and share their parts; rendering them as evidence would
    // copy every part. Selecting (`where`) from a list does not hide its size.
    let mut src = format!("{HEAD}match: |\n  let l0 = [tasks, tasks]\n");
    for i in 1..40 {
        src.push_str(&format!(
            "  let l{i} = [l{}, l{}] where true\n",
            i - 1,
            i - 1
        ));
    }
    src.push_str("  count(l39) > 0\n");
    let (diags, took) = load(&src);
    assert_eq!(diags.len(), 1, "{:?}", diags);
    assert_eq!(diags[0].code, "C010");
    assert!(took < WITHIN);
}

// ------------------------------------------------------------ --param

/// A rule with a param of each type.
const PARAMS: &str = "id: TEST-0400\ntitle: t\nseverity: low\nsummary: s\nmessage: m
params:
  kinds: { default: [bug, warning], help: report kinds }
  min: { default: 3, help: a count }
  ratio: { default: 1.5, help: a ratio }
  strict: { default: false, help: a switch }
match: |
  count(tasks) > min and ratio > 0.0 and (strict or any of reports where kind in kinds)
";

fn with_params() -> RulePack {
    let (pack, diags) = RulePack::from_sources(&[("p.yaml".to_string(), PARAMS.to_string())], &[]);
    assert!(
        diags.is_empty(),
        "{:#?}",
        diags.iter().map(|d| d.render()).collect::<Vec<_>>()
    );
    pack
}

/// `--param` values are checked against the param's declared type (its
/// default's) and that type's range; the error names the param, the type,
/// the value given (cut short) and says what to write.
#[test]
fn param_overrides_of_the_wrong_type() {
    let nest = |n: usize| format!("{}bug{}", "[".repeat(n), "]".repeat(n));
    let (nested, huge) = (nest(2_000), nest(5_000));
    let cases = [
        ("kinds=5", "is a list of strings", "is an int, not a string"),
        ("kinds=bug,5", "is a list of strings", "item 2 `5`"),
        (
            "kinds=[bug, 7.5]",
            "is a list of strings",
            "is a float, not a string",
        ),
        (
            &format!("kinds={nested}"),
            "is a list of strings",
            "nests lists 17 deep",
        ),
        (
            &format!("kinds={huge}"),
            "is a list of strings",
            "10003 bytes long",
        ),
        (
            "kinds=[[bug]]",
            "is a list of strings",
            "is a list: items are strings",
        ),
        ("ratio=NaN", "is a float", "is not a number"),
        ("ratio=1e999", "is a float", "beyond the range of a float"),
        ("ratio=-inf", "is a float", "is infinite"),
        ("ratio=fast", "is a float", "is not a number"),
        ("min=1e3", "is an int", "is not a whole number"),
        (
            "min=99999999999999999999",
            "is an int",
            "beyond the range of an int",
        ),
        ("min=2.5", "is an int", "is not a whole number"),
        ("strict=yes", "is a bool", "neither `true` nor `false`"),
        (
            &format!("kinds={}", vec!["a"; 300].join(",")),
            "is a list of strings",
            "300 items",
        ),
        (
            &format!("kinds={}", "x".repeat(5000)),
            "is a list of strings",
            "5000 bytes long",
        ),
    ];
    let mut report = Vec::new();
    for (arg, declared, why) in cases {
        let mut pack = with_params();
        let o = format!("TEST-0400.{arg}");
        let t = Instant::now();
        let e = match pack.override_params(std::slice::from_ref(&o)) {
            Ok(()) => panic!("{} accepted", &o[..o.len().min(60)]),
            Err(e) => e,
        };
        assert!(t.elapsed() < WITHIN, "{o}: {:?}", t.elapsed());
        let msg = e.to_string();
        let name = arg.split('=').next().unwrap();
        assert!(
            msg.starts_with(&format!("--param TEST-0400.{name}: `{name}` {declared}")),
            "{msg}"
        );
        assert!(msg.contains(why), "{o}: {msg}");
        assert!(msg.len() < 400, "{o}: the message quotes too much: {msg}");
        assert!(e.help().contains("rules show TEST-0400"), "{}", e.help());
        // The pack is unchanged.
        assert_eq!(pack.rules[0].params, with_params().rules[0].params);
        if !arg.contains("[[[[") && arg.len() < 100 {
            report.push(format!("{msg}\n  help: {}", e.help()));
        }
    }
    insta::assert_snapshot!(report.join("\n"));
}

#[test]
fn param_overrides_of_the_right_type() {
    use vmtriage_rules::rule::ParamValue::{self, *};
    let s = |x: &str| Str(x.to_string());
    let cases: [(&str, &str, ParamValue); 9] = [
        ("kinds=null_deref", "kinds", List(vec![s("null_deref")])),
        (
            "kinds=bug, warning",
            "kinds",
            List(vec![s("bug"), s("warning")]),
        ),
        ("kinds=[bug, \"5\"]", "kinds", List(vec![s("bug"), s("5")])),
        ("kinds=", "kinds", List(vec![])),
        ("ratio=2", "ratio", Float(2.0)),
        ("ratio=-0.25", "ratio", Float(-0.25)),
        ("min=-3", "min", Int(-3)),
        ("strict=true", "strict", Bool(true)),
        // A second override is checked against the declared type too.
        ("kinds=a,b", "kinds", List(vec![s("a"), s("b")])),
    ];
    let mut pack = with_params();
    for (arg, name, want) in cases {
        pack.override_params(&[format!("TEST-0400.{arg}")])
            .unwrap_or_else(|e| panic!("{arg}: {e}"));
        assert_eq!(pack.rules[0].params[name], want, "{arg}");
    }
}
