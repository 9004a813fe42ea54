//! The declarations are complete, the checker rejects every call they do not
//! allow with a coded error at its place, and no implementation panics,
//! whatever it is handed.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use kmodel::locks::{LockKind, LockState};
use vmtriage_dsl::ast::Span;

use super::*;
use crate::diag::{Code, RuleDiagnostic};
use crate::eval::Evaluator;
use crate::helpers::RhaiHelpers;
use crate::pack::RulePack;
use crate::value::{GroupVal, LockVal};

/// An expression and its type.
type Candidate = (&'static str, fn() -> Ty);

/// Expressions of known types, to fill arguments with.
const CANDIDATES: &[Candidate] = &[
    ("1", || Ty::Int),
    ("1.5", || Ty::Float),
    ("\"x\"", || Ty::Str),
    ("true", || Ty::Bool),
    ("[1]", || Ty::list(Ty::Int)),
    ("tasks", || Ty::list(Ty::Task)),
    ("dmesg", || Ty::list(Ty::Record)),
    ("kernel", || Ty::Kernel),
    ("kernel.version", || Ty::Version),
    ("task(1)", || Ty::Task),
    ("memory", || Ty::Memory),
    ("first(cpus)", || Ty::Cpu),
    ("task(1).blocked_on", || Ty::Lock),
    ("rwlock(@x)", || Ty::LockState),
    ("first(reports)", || Ty::Report),
];

fn accepted(s: &Shape) -> Option<&'static str> {
    CANDIDATES
        .iter()
        .find(|(_, t)| s.accepts(&t(), &mut None))
        .map(|(e, _)| *e)
}

fn rejected(s: &Shape) -> Option<(&'static str, Ty)> {
    CANDIDATES
        .iter()
        .find(|(_, t)| !s.accepts(&t(), &mut None))
        .map(|(e, t)| (*e, t()))
}

/// The checker's report on a rule whose condition is `EXPR == null`,
/// written on the `match:` line (line 6, the expression from column 8).
fn check_expr(expr: &str) -> Vec<RuleDiagnostic> {
    pack_of(expr).1
}

/// The pack of that one rule, and what the checker says of it.
fn pack_of(expr: &str) -> (RulePack, Vec<RuleDiagnostic>) {
    let src = format!(
        "id: TEST-0100\ntitle: t\nseverity: low\nsummary: s\nmessage: m\nmatch: {expr} == null\n"
    );
    RulePack::from_sources(&[("t.yaml".into(), src)], &[])
}

fn rendered(ds: &[RuleDiagnostic]) -> String {
    ds.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n")
}

/// A call of `f` with these argument expressions, and each one's column.
fn call(f: &str, args: &[&str]) -> (String, Vec<usize>) {
    let mut s = format!("{f}(");
    let mut cols = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s += ", ";
        }
        cols.push(8 + s.len());
        s += a;
    }
    s += ")";
    (s, cols)
}

#[test]
fn every_builtin_is_declared_completely() {
    let mut names = std::collections::HashSet::new();
    for m in MODULES {
        assert!(!m.doc.is_empty(), "module {} has no doc", m.name);
        for f in m.functions {
            assert!(names.insert(f.name), "function {} declared twice", f.name);
            assert!(!f.doc.trim().is_empty(), "{} has no doc", f.name);
            assert!(!f.sigs.is_empty(), "{} has no signature", f.name);
            assert!(
                std::ptr::eq(function(f.name).unwrap(), f),
                "{} is shadowed",
                f.name
            );
            for s in f.sigs {
                for p in s.params {
                    assert!(!p.name.is_empty(), "{}: a parameter without a name", f.name);
                    assert!(
                        accepted(&p.ty).is_some() && rejected(&p.ty).is_some(),
                        "{}: no test argument for `{}: {}`",
                        f.name,
                        p.name,
                        p.ty
                    );
                }
            }
        }
        for r in m.roots {
            assert!(!r.doc.is_empty(), "root {} has no doc", r.name);
            assert!(
                std::ptr::eq(root(r.name).unwrap(), r),
                "root {} twice",
                r.name
            );
        }
        for c in m.constants {
            assert!(!c.doc.is_empty(), "constant {} has no doc", c.name);
            assert!(
                std::ptr::eq(constant(c.name).unwrap(), c),
                "{} twice",
                c.name
            );
        }
        for t in m.types {
            assert!(!t.doc.is_empty(), "type {} has no doc", t.name);
            assert!(!t.fields.is_empty(), "type {} has no fields", t.name);
            assert!(
                std::ptr::eq(type_decl(t.name).unwrap(), t),
                "{} twice",
                t.name
            );
            for f in t.fields {
                assert!(!f.doc.is_empty(), "{}.{} has no doc", t.name, f.name);
                assert!(
                    std::ptr::eq(field(t.name, f.name).unwrap(), f),
                    "{}.{} declared twice",
                    t.name,
                    f.name
                );
            }
        }
    }
    // Every type of the model a declaration names has its fields declared.
    for s in [
        Shape::Is(Ty::Task),
        Shape::Is(Ty::Frame),
        Shape::Is(Ty::Cpu),
        Shape::Is(Ty::Kernel),
        Shape::Is(Ty::Record),
        Shape::Is(Ty::Memory),
        Shape::Is(Ty::Zone),
        Shape::Is(Ty::Module),
        Shape::Is(Ty::Lock),
        Shape::Is(Ty::LockState),
        Shape::Is(Ty::Rcu),
        Shape::Is(Ty::Pool),
        Shape::Is(Ty::Slab),
        Shape::Is(Ty::Report),
        Shape::Is(Ty::Memcg),
        Shape::Is(Ty::File),
    ] {
        let name = s.to_ty(None).name();
        assert!(type_decl(name).is_some(), "type {name} is not declared");
    }
    assert!(type_decl(Ty::Group(Box::new(Ty::Any)).name()).is_some());
}

#[test]
fn every_signature_is_checked_and_gives_its_result() {
    for f in functions() {
        for sig in f.sigs {
            let args: Vec<&str> = sig
                .params
                .iter()
                .map(|p| accepted(&p.ty).unwrap())
                .collect();
            let (expr, _) = call(f.name, &args);
            let ds = check_expr(&expr);
            assert!(ds.is_empty(), "{expr}: {}", rendered(&ds));
        }
    }
}

#[test]
fn every_wrong_arity_is_a_coded_error_at_the_call() {
    for f in functions() {
        for n in 0..=f.max_arity() + 1 {
            let (expr, _) = call(f.name, &vec!["1"; n]);
            let ds = check_expr(&expr);
            if f.takes(n) {
                assert!(
                    ds.iter().all(|d| d.code != Code::BadCall),
                    "{expr}: {}",
                    rendered(&ds)
                );
                continue;
            }
            assert_eq!(ds.len(), 1, "{expr}: {}", rendered(&ds));
            assert_eq!(ds[0].code, Code::BadCall, "{expr}: {}", rendered(&ds));
            assert_eq!(ds[0].line_col(), (6, 8), "{expr}: {}", rendered(&ds));
        }
    }
}

#[test]
fn every_wrong_argument_type_is_a_coded_error_at_the_argument() {
    for f in functions() {
        for sig in f.sigs {
            for (i, p) in sig.params.iter().enumerate() {
                let (bad, bad_ty) = rejected(&p.ty).unwrap();
                // Skip a type another signature of the same arity takes.
                let other = f.sigs.iter().any(|s| {
                    s.params.len() == sig.params.len()
                        && s.params
                            .get(i)
                            .is_some_and(|q| q.ty.accepts(&bad_ty, &mut None))
                });
                if other {
                    continue;
                }
                let mut args: Vec<&str> = sig
                    .params
                    .iter()
                    .map(|p| accepted(&p.ty).unwrap())
                    .collect();
                args[i] = bad;
                let (expr, cols) = call(f.name, &args);
                let ds = check_expr(&expr);
                assert_eq!(ds.len(), 1, "{expr}: {}", rendered(&ds));
                assert_eq!(ds[0].code, Code::TypeMismatch, "{expr}: {}", rendered(&ds));
                assert_eq!(ds[0].line_col(), (6, cols[i]), "{expr}: {}", rendered(&ds));
            }
        }
    }
}

#[test]
fn a_misspelled_member_of_a_lock_state_is_caught_with_a_suggestion() {
    for f in ["mutex", "rwsem", "rwlock"] {
        let ds = check_expr(&format!("{f}(@x).ownr"));
        assert_eq!(ds.len(), 1, "{}", rendered(&ds));
        assert_eq!(ds[0].code, Code::UnknownModelField);
        assert!(ds[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("did you mean `owner`"));
        assert!(check_expr(&format!("{f}(@x).owner.comm")).is_empty());
    }
}

pub(super) fn lock_state() -> LockState {
    LockState {
        kind: LockKind::Mutex,
        addr: 0x1000,
        rt: false,
        locked: true,
        readers: None,
        writer_locked: Some(true),
        writer_waiting: None,
        owner: None,
        owner_recorded: true,
        reader_owned: false,
        queued_writer: None,
        raw: 1,
        waiters: Some(Vec::new()),
    }
}

/// One value of every kind.
fn values<'k>() -> Vec<Value<'k>> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Int(1),
        Value::Int(-1),
        Value::Float(0.0),
        Value::str("x"),
        Value::Version(Rc::new(vec![6, 1])),
        Value::list(Vec::new()),
        Value::list(vec![Value::Int(1), Value::str("x")]),
        Value::Task(0),
        Value::Frame(0, 0),
        Value::Cpu(0),
        Value::Kernel,
        Value::Record(0),
        Value::Memory,
        Value::Zone(0),
        Value::Module(0),
        Value::Lock(Rc::new(LockVal {
            address: 0x1000,
            name: None,
            kind: "mutex",
            mode: "exclusive",
        })),
        Value::LockState(Rc::new(lock_state())),
        Value::Rcu,
        Value::Pool(0),
        Value::Slab(0),
        Value::Report(0),
        Value::Memcg(0),
        Value::File(0, 0),
        Value::Group(Rc::new(GroupVal {
            key: Value::Int(1),
            name: None,
            items: vec![Value::Int(1)],
        })),
        Value::Map(Rc::new(BTreeMap::new())),
    ]
}

#[test]
fn no_implementation_panics_and_wrong_arities_are_errors() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let mut ev = Evaluator::detached(&params, &helpers);
    let span = Span::new(0, 1);
    for f in functions() {
        for n in 0..=f.max_arity() + 1 {
            for v in values() {
                let args = || Args::new(f.name, vec![v.clone(); n], vec![span; n], span);
                let direct = catch_unwind(AssertUnwindSafe(|| (f.call)(&mut ev, &args())));
                assert!(direct.is_ok(), "{}() with {n} × {v:?} panicked", f.name);
                if n < f.sigs.iter().map(|s| s.params.len()).min().unwrap_or(0) {
                    assert!(direct.unwrap().is_err(), "{}() with {n} args", f.name);
                }
                let gated = catch_unwind(AssertUnwindSafe(|| ev.call_builtin(f, args())));
                let Ok(r) = gated else {
                    panic!("{}() with {n} × {v:?} panicked", f.name)
                };
                if !f.takes(n) {
                    let e = r.expect_err("a wrong number of arguments is an error");
                    assert!(e.message.contains("takes"), "{}", e.message);
                }
            }
        }
    }
    for t in types() {
        for fd in t.fields {
            for v in values() {
                let r = catch_unwind(AssertUnwindSafe(|| (fd.get)(&ev, &v, span)));
                let Ok(r) = r else {
                    panic!("{}.{} of {v:?} panicked", t.name, fd.name)
                };
                if v.type_name() != t.name {
                    assert!(
                        r.is_err(),
                        "{}.{} read on a {}",
                        t.name,
                        fd.name,
                        v.type_name()
                    );
                }
            }
        }
    }
    for r in roots() {
        let got = catch_unwind(AssertUnwindSafe(|| (r.get)(&ev, span)));
        assert!(got.is_ok(), "root {} panicked without a dump", r.name);
    }
}

#[test]
fn percent_without_arguments_is_an_error_not_a_panic() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let mut ev = Evaluator::detached(&params, &helpers);
    let e = vmtriage_dsl::parse_expr("percent() > 0").unwrap();
    let err = ev.eval(&e).expect_err("percent() is an error");
    assert_eq!(err.message, "percent() takes 2 arguments, 0 given");
    let e = vmtriage_dsl::parse_expr("percent(1, 4)").unwrap();
    assert!(matches!(ev.eval(&e), Ok(Value::Float(x)) if x == 25.0));
}

#[test]
fn the_language_alone_evaluates_without_a_dump() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let mut ev = Evaluator::detached(&params, &helpers);
    for (src, want) in [
        ("count([1, 2, 3])", "3"),
        ("count(\"abc\")", "3"),
        ("sum([1, 2, null])", "3"),
        ("sum([1, 2.5])", "3.5"),
        ("max([3, 9, 1])", "9"),
        ("min([3, 9, 1])", "1"),
        ("first([])", "null"),
        ("count(unique([1, 1, 2]))", "2"),
        ("percent(1, 0)", "null"),
        ("capture(\"RIP: foo+0x1\", \"RIP: ([a-z]+)\")", "\"foo\""),
        ("capture(null, \"x\")", "null"),
        ("version(\"6.1.0-32-amd64\") > \"5.10\"", "true"),
        ("SIGKILL", "9"),
    ] {
        let e = vmtriage_dsl::parse_expr(src).unwrap();
        let v = ev
            .eval(&e)
            .unwrap_or_else(|e| panic!("{src}: {}", e.message));
        assert_eq!(ev.to_json_plain(&v).to_string(), want, "{src}");
    }
    let e = vmtriage_dsl::parse_expr("count(tasks)").unwrap();
    assert_eq!(ev.eval(&e).unwrap_err().message, "no dump is open");
}

#[test]
fn the_schema_is_generated_from_the_declarations() {
    let text = crate::schema::render();
    let json = crate::schema::to_json();
    for f in functions() {
        for s in f.signatures() {
            assert!(text.contains(&s), "{s} missing from the schema");
        }
        assert!(json["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["name"] == f.name));
    }
    for t in types() {
        assert!(text.contains(&format!("## {}\n", t.name)));
    }
}

/// Arithmetic is exact: what does not fit stops the rule with an error
/// (an error row of that rule on that dump), never a wrapped number or a
/// null that leaves the rule quietly false.
#[test]
fn overflow_and_division_by_zero_are_errors_of_the_rule() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    for (src, want) in [
        (
            "(-9223372036854775807 - 1) / -1",
            "-9223372036854775808 / -1 overflows a 64-bit integer",
        ),
        (
            "0x8000000000000000 / -1",
            "-9223372036854775808 / -1 overflows a 64-bit integer",
        ),
        (
            "-0x8000000000000000",
            "-(-9223372036854775808) overflows a 64-bit integer",
        ),
        (
            "9223372036854775807 + 1",
            "9223372036854775807 + 1 overflows a 64-bit integer",
        ),
        (
            "9223372036854775807 * 2",
            "9223372036854775807 * 2 overflows a 64-bit integer",
        ),
        (
            "-9223372036854775807 - 2",
            "-9223372036854775807 - 2 overflows a 64-bit integer",
        ),
        ("1 / 0", "1 / 0: division by zero"),
        ("7 % 0", "7 % 0: division by zero"),
        ("1.5 / 0", "1.5 / 0: division by zero"),
        ("1 % 0.0", "1 % 0.0: division by zero"),
        ("1e308 * 10", "1e308 * 10 overflows a float"),
        (
            "sum([9223372036854775807, 1])",
            "sum() overflows a 64-bit integer (at 9223372036854775807 + 1)",
        ),
    ] {
        // As a rule runs it: the program's error is the rule's.
        let p = vmtriage_dsl::parse_program(&format!("let x = {src}\nx != null")).unwrap();
        let mut ev = Evaluator::detached(&params, &helpers);
        match ev.run(&p.stmts, &p.cond, 1) {
            Err(e) => assert_eq!(e.message, want, "{src}"),
            Ok(r) => panic!("{src}: no error, {} instances", r.len()),
        }
    }
    let mut ev = Evaluator::detached(&params, &helpers);
    for (src, want) in [
        // i64::MIN % -1 is 0: the result fits.
        ("0x8000000000000000 % -1", 0),
        ("-9223372036854775807 - 1", i64::MIN),
        ("-7 / 2", -3),
        ("-7 % 2", -1),
        ("sum([9223372036854775807, -1, 1])", i64::MAX),
    ] {
        let e = vmtriage_dsl::parse_expr(src).unwrap();
        match ev.eval(&e) {
            Ok(Value::Int(i)) => assert_eq!(i, want, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
}

/// What fails whatever the dump is refused before one is open, with the
/// evaluator's own words.
#[test]
fn constant_operations_that_always_fail_are_refused_by_the_checker() {
    for (expr, label) in [
        (
            "count(tasks) / 0",
            "`/` by 0: division by zero, whatever the dividend",
        ),
        (
            "count(tasks) % 0.0",
            "`%` by 0: division by zero, whatever the dividend",
        ),
        (
            "9223372036854775807 + 1",
            "9223372036854775807 + 1 overflows a 64-bit integer",
        ),
        (
            "(-9223372036854775807 - 1) / -1",
            "-9223372036854775808 / -1 overflows a 64-bit integer",
        ),
        (
            "-0x8000000000000000",
            "-(-9223372036854775808) overflows a 64-bit integer",
        ),
        ("1e308 * 10", "1e308 * 10 overflows a float"),
    ] {
        let ds = check_expr(expr);
        assert_eq!(ds.len(), 1, "{expr}: {}", rendered(&ds));
        assert_eq!(ds[0].code, Code::ConstantError, "{expr}: {}", rendered(&ds));
        assert_eq!(ds[0].label, label, "{expr}");
        assert_eq!(ds[0].line_col().0, 6, "{expr}");
    }
    for fits in [
        "9223372036854775806 + 1",
        "-9223372036854775807 - 1",
        "0x8000000000000000 % -1",
        "count(tasks) / 2",
        "1.5 / 0.5",
    ] {
        let ds = check_expr(fits);
        assert!(ds.is_empty(), "{fits}: {}", rendered(&ds));
    }
}

/// A kernel log alone: a `kernel BUG at` that panicked the machine.
fn bug_log() -> crate::model::Model<'static> {
    let text = "\
Linux version 6.12.118+deb13-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.12.118-1
------------[ cut here ]------------
kernel BUG at mm/slub.c:451!
Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
CPU: 0 UID: 0 PID: 77 Comm: kworker/0:2 Tainted: G           OE      6.12.118+deb13-cloud-amd64 #1  Debian 6.12.118-1
RIP: 0010:kfree+0x2a1/0x2b0
Call Trace:
 <TASK>
 vmt_free+0x12/0x30 [vmtriage_scen]
 process_one_work+0x17b/0x330
 </TASK>
Kernel panic - not syncing: Fatal exception";
    let records = text
        .lines()
        .enumerate()
        .map(|(i, l)| kmodel::printk::LogRecord {
            seq: i as u64,
            level: 4,
            timestamp_ns: i as u64 * 1_000_000,
            text: l.to_string(),
        })
        .collect();
    crate::model::Model::of_log(records, Some("6.12.118+deb13-cloud-amd64".into()))
}

/// Expressions of the types whose values a kernel log alone has: the
/// fields of every other type are read through a value that needs a dump.
const ON_A_LOG: &[(&str, &str)] = &[
    ("record", "first(dmesg)"),
    ("report", "first(reports)"),
    ("kernel", "kernel"),
    ("group", "first(group dmesg by level)"),
];

/// What a rule whose condition is `EXPR == null` needs, as the checker
/// infers it.
fn need_of(expr: &str) -> Need {
    let (pack, ds) = pack_of(expr);
    assert!(ds.is_empty(), "{expr}: {}", rendered(&ds));
    pack.rules[0].need
}

/// Every use of a built-in a rule can make on a kernel log alone, and what
/// its declarations say it needs (a rule needs the log at least).
fn uses_on_a_log() -> Vec<(String, Need)> {
    let mut out: Vec<(String, Need)> = roots()
        .map(|r| (r.name.to_string(), r.needs.of_rule()))
        .collect();
    for t in types() {
        let Some((_, base)) = ON_A_LOG.iter().find(|(n, _)| *n == t.name) else {
            for f in t.fields {
                assert_eq!(
                    t.field_needs(f),
                    Need::Dump,
                    "{}.{}: no value of a {} exists without a dump",
                    t.name,
                    f.name,
                    t.name
                );
            }
            continue;
        };
        for f in t.fields {
            out.push((format!("{base}.{}", f.name), t.field_needs(f).of_rule()));
        }
    }
    // The arguments a kernel log alone can give a function.
    let on_a_log: Vec<&Candidate> = CANDIDATES
        .iter()
        .filter(|(e, _)| need_of(&format!("({e})")) == Need::Log)
        .collect();
    for f in functions() {
        for sig in f.sigs {
            let args: Option<Vec<&str>> = sig
                .params
                .iter()
                .map(|p| {
                    on_a_log
                        .iter()
                        .find(|(_, t)| p.ty.accepts(&t(), &mut None))
                        .map(|(e, _)| *e)
                })
                .collect();
            // Taking what only a dump has (a task, a lock), it needs one.
            let Some(args) = args else {
                assert_eq!(f.needs, Need::Dump, "{}{sig}", f.name);
                continue;
            };
            out.push((call(f.name, &args).0, f.needs.of_rule()));
        }
    }
    out
}

/// What each built-in needs is declared, the checker infers a rule's need
/// from those declarations, and evaluation agrees on a kernel log alone: a
/// use the checker says needs only the log never asks for a dump, and one
/// it says needs a dump does (no declaration is stronger than its reading).
#[test]
fn every_need_is_declared_and_the_checker_agrees_with_evaluation() {
    let m = bug_log();
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let needs_a_dump = crate::model::ModelError::NeedsDump.to_string();
    let uses = uses_on_a_log();
    assert!(uses.len() > 60, "{} uses", uses.len());
    for (expr, declared) in uses {
        let (pack, ds) = pack_of(&expr);
        assert!(ds.is_empty(), "{expr}: {}", rendered(&ds));
        let r = &pack.rules[0];
        assert_eq!(r.need, declared, "{expr}: the checker infers {}", r.need);
        let got = crate::pack::evaluate(r, &m, &params, &helpers);
        match (declared, got) {
            // Its one-argument form reads the task a filter looks at.
            (Need::Dump, Err(_)) if expr == "signal_pending(1)" => {}
            (Need::Dump, Err(e)) => assert_eq!(e.error.message, needs_a_dump, "{expr}"),
            (Need::Dump, Ok(_)) => panic!("{expr} is declared to need a dump, and reads a log"),
            (_, Err(e)) => assert_ne!(e.error.message, needs_a_dump, "{expr}"),
            (_, Ok(_)) => {}
        }
    }
}
