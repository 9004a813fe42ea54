//! The checker and the evaluator agree on every operator for every pair of
//! types: what the checker takes, the evaluator computes as a value of the
//! type the checker gave it (or as one of the outcomes the overload
//! declares); what it refuses is a coded error at the expression. The same
//! for sort and group keys.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::*;
use crate::builtins::tests::lock_state;
use crate::diag::{Code, RuleDiagnostic};
use crate::eval::Evaluator;
use crate::helpers::RhaiHelpers;
use crate::pack::RulePack;
use crate::value::{GroupVal, LockVal};

/// A type: an expression of it (for the checker) and values of it (for
/// the evaluator; none for types known only at run time).
struct Sample {
    ty: fn() -> Ty,
    expr: &'static str,
    values: fn() -> Vec<Value<'static>>,
}

fn lock() -> Value<'static> {
    Value::Lock(Rc::new(LockVal {
        address: 0x1000,
        name: Some("tasklist_lock".into()),
        kind: "rwlock",
        mode: "write",
    }))
}

const SAMPLES: &[Sample] = &[
    Sample {
        ty: || Ty::Null,
        expr: "null",
        values: || vec![Value::Null],
    },
    Sample {
        ty: || Ty::Bool,
        expr: "true",
        values: || vec![Value::Bool(true), Value::Bool(false)],
    },
    Sample {
        ty: || Ty::Int,
        expr: "1",
        values: || {
            [0, 1, -1, 3, i64::MAX, i64::MIN]
                .into_iter()
                .map(Value::Int)
                .collect()
        },
    },
    Sample {
        ty: || Ty::Float,
        expr: "1.5",
        values: || {
            [0.0, 1.5, -2.5, 1e308]
                .into_iter()
                .map(Value::Float)
                .collect()
        },
    },
    Sample {
        ty: || Ty::Str,
        expr: "\"6.1\"",
        values: || vec![Value::str("6.1"), Value::str("x"), Value::str("")],
    },
    Sample {
        ty: || Ty::Version,
        expr: "kernel.version",
        values: || {
            vec![
                Value::Version(Rc::new(vec![6, 1])),
                Value::Version(Rc::new(vec![5, 10, 0])),
            ]
        },
    },
    Sample {
        ty: || Ty::list(Ty::Int),
        expr: "[1]",
        values: || {
            vec![
                Value::list(Vec::new()),
                Value::list(vec![Value::Int(1), Value::Int(2)]),
            ]
        },
    },
    Sample {
        ty: || Ty::list(Ty::Str),
        expr: "[\"x\"]",
        values: || vec![Value::list(vec![Value::str("x")])],
    },
    Sample {
        ty: || Ty::list(Ty::Task),
        expr: "tasks",
        values: || vec![Value::list(vec![Value::Task(0), Value::Task(1)])],
    },
    Sample {
        ty: || Ty::Task,
        expr: "task(1)",
        values: || vec![Value::Task(0), Value::Task(1)],
    },
    Sample {
        ty: || Ty::Frame,
        expr: "first(task(1).stack)",
        values: || vec![Value::Frame(0, 0), Value::Frame(0, 1)],
    },
    Sample {
        ty: || Ty::Cpu,
        expr: "first(cpus)",
        values: || vec![Value::Cpu(0), Value::Cpu(1)],
    },
    Sample {
        ty: || Ty::Kernel,
        expr: "kernel",
        values: || vec![Value::Kernel],
    },
    Sample {
        ty: || Ty::Record,
        expr: "first(dmesg)",
        values: || vec![Value::Record(0)],
    },
    Sample {
        ty: || Ty::Memory,
        expr: "memory",
        values: || vec![Value::Memory],
    },
    Sample {
        ty: || Ty::Zone,
        expr: "first(memory.zones)",
        values: || vec![Value::Zone(0)],
    },
    Sample {
        ty: || Ty::Module,
        expr: "first(modules)",
        values: || vec![Value::Module(0)],
    },
    Sample {
        ty: || Ty::Lock,
        expr: "task(1).blocked_on",
        values: || vec![lock()],
    },
    Sample {
        ty: || Ty::LockState,
        expr: "rwlock(@x)",
        values: || vec![Value::LockState(Rc::new(lock_state()))],
    },
    Sample {
        ty: || Ty::Rcu,
        expr: "rcu",
        values: || vec![Value::Rcu],
    },
    Sample {
        ty: || Ty::Pool,
        expr: "first(workqueue_pools)",
        values: || vec![Value::Pool(0)],
    },
    Sample {
        ty: || Ty::Slab,
        expr: "first(slab_caches)",
        values: || vec![Value::Slab(0)],
    },
    Sample {
        ty: || Ty::Report,
        expr: "first(reports)",
        values: || vec![Value::Report(0)],
    },
    Sample {
        ty: || Ty::Memcg,
        expr: "first(memcgs)",
        values: || vec![Value::Memcg(0)],
    },
    Sample {
        ty: || Ty::File,
        expr: "first(task(1).files)",
        values: || vec![Value::File(0, 0)],
    },
    Sample {
        ty: || Ty::Group(Box::new(Ty::Task)),
        expr: "first(group tasks by pid)",
        values: || {
            vec![Value::Group(Rc::new(GroupVal {
                key: Value::Int(1),
                name: None,
                items: vec![Value::Task(0)],
            }))]
        },
    },
    Sample {
        ty: || Ty::Any,
        expr: "first([])",
        values: Vec::new,
    },
    Sample {
        ty: || Ty::Object,
        expr: "@x",
        values: Vec::new,
    },
];

/// Every operator applied to these operand expressions, as source text.
fn written(op: Op, e: &[&str]) -> String {
    match (op, e) {
        (Op::Unary(UnOp::Neg), [a]) => format!("-({a})"),
        (Op::Unary(UnOp::Not), [a]) => format!("not ({a})"),
        (Op::Index, [a, i]) => format!("({a})[{i}]"),
        (op, [a, b]) => format!("({a}) {op} ({b})"),
        _ => unreachable!("operators take one or two operands"),
    }
}

/// Rule files, one per expression, each `prefix EXPR suffix` on line 6.
fn rules(exprs: &[String], prefix: &str, suffix: &str) -> Vec<(String, String)> {
    exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                format!("r{i}.yaml"),
                format!(
                    "id: TEST-{i:04}\ntitle: t\nseverity: low\nsummary: s\nmessage: m\nmatch: {prefix}{e}{suffix}\n"
                ),
            )
        })
        .collect()
}

/// The checker's findings on each of these rule files.
fn checked(files: &[(String, String)]) -> Vec<Vec<RuleDiagnostic>> {
    let (_, ds) = RulePack::from_sources(files, &[]);
    files
        .iter()
        .map(|(name, _)| ds.iter().filter(|d| &d.file == name).cloned().collect())
        .collect()
}

fn rendered(ds: &[RuleDiagnostic]) -> String {
    ds.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n")
}

/// Whether a run-time value is of a checker's type.
fn is_of(v: &Value<'_>, t: &Ty) -> bool {
    match (t, v) {
        (Ty::Any | Ty::Object, _) => true,
        (Ty::List(e), Value::List(items)) => items.iter().all(|x| is_of(x, e)),
        (Ty::Group(_), Value::Group(_)) => true,
        (t, v) => v.type_name() == t.name(),
    }
}

/// Every combination of one value of each sample.
fn combinations(samples: &[&Sample]) -> Vec<Vec<Value<'static>>> {
    samples.iter().fold(vec![Vec::new()], |acc, s| {
        acc.iter()
            .flat_map(|prefix| {
                (s.values)().into_iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(v);
                    p
                })
            })
            .collect()
    })
}

#[test]
fn checker_and_evaluator_agree_on_every_operator_and_type_pair() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let mut ev = Evaluator::detached(&params, &helpers);
    let (prefix, suffix) = ("count([", "]) >= 0");
    let column = "match: ".len() + prefix.len() + 1;
    let mut pairs = 0;
    for o in OPERATORS {
        let tuples: Vec<Vec<&Sample>> = match o.op.arity() {
            1 => SAMPLES.iter().map(|a| vec![a]).collect(),
            _ => SAMPLES
                .iter()
                .flat_map(|a| SAMPLES.iter().map(move |b| vec![a, b]))
                .collect(),
        };
        let exprs: Vec<String> = tuples
            .iter()
            .map(|t| written(o.op, &t.iter().map(|s| s.expr).collect::<Vec<_>>()))
            .collect();
        let found = checked(&rules(&exprs, prefix, suffix));
        for ((samples, expr), ds) in tuples.iter().zip(&exprs).zip(&found) {
            pairs += 1;
            let tys: Vec<Ty> = samples.iter().map(|s| (s.ty)()).collect();
            let result = result_type(o.op, &tys);
            let Some(result) = result else {
                // Refused: one coded error, at the expression.
                assert_eq!(ds.len(), 1, "{expr}: {}", rendered(ds));
                assert_eq!(
                    ds[0].code,
                    Code::OperatorMismatch,
                    "{expr}: {}",
                    rendered(ds)
                );
                assert_eq!(ds[0].line_col(), (6, column), "{expr}: {}", rendered(ds));
                assert!(ds[0].help.is_some(), "{expr}: no help");
                // The evaluator refuses such values too (`in` an empty
                // list excepted: no element to compare; and a null operand
                // of an operator that gives null or false for one).
                for vals in combinations(samples) {
                    if o.on_null != OnNull::Overloads
                        && vals.iter().any(|v| matches!(v, Value::Null))
                    {
                        continue;
                    }
                    let spans = vec![Span::new(0, 1); vals.len()];
                    let r = apply(&mut ev, o.op, &vals, &spans, Span::new(0, 1));
                    let empty = matches!(&vals[1..], [Value::List(l)] if l.is_empty());
                    assert!(
                        r.is_err() || (o.op == Op::Binary(BinOp::In) && empty),
                        "{expr}: the checker refuses {vals:?}, the evaluator gives {r:?}"
                    );
                }
                continue;
            };
            assert!(ds.is_empty(), "{expr}: {}", rendered(ds));
            for vals in combinations(samples) {
                let spans = vec![Span::new(0, 1); vals.len()];
                let r = apply(&mut ev, o.op, &vals, &spans, Span::new(0, 1));
                let null = vals.iter().any(|v| matches!(v, Value::Null));
                if null && o.on_null != OnNull::Overloads {
                    let want = match o.on_null {
                        OnNull::Null => Value::Null,
                        _ => Value::Bool(false),
                    };
                    assert_eq!(
                        format!("{r:?}"),
                        format!("{:?}", Ok::<_, ()>(want)),
                        "{expr}"
                    );
                    continue;
                }
                let ov = dispatch(&ev, o.op, &vals).unwrap_or_else(|| {
                    panic!("{expr}: the checker gives {result}, no overload takes {vals:?}")
                });
                match r {
                    Ok(v) => assert!(
                        is_of(&v, &result)
                            || (matches!(v, Value::Null) && ov.outcomes.contains(&Outcome::Null)),
                        "{expr} on {vals:?}: {v:?} is no {result}"
                    ),
                    Err(e) => assert!(
                        ov.outcomes.iter().any(|x| x.is(&e.message)),
                        "{expr} on {vals:?}: undeclared error {:?} of `{}`",
                        e.message,
                        ov.signature(o.op)
                    ),
                }
            }
        }
    }
    assert!(pairs > 5000, "{pairs} operator and type pairs");
}

#[test]
fn checker_and_evaluator_agree_on_every_sort_key_type() {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let ev = Evaluator::detached(&params, &helpers);
    for (what, prefix) in [
        ("sort", "count(sort tasks by "),
        ("top", "count(top 2 of tasks by "),
        ("group", "count(group tasks by "),
    ] {
        let exprs: Vec<String> = SAMPLES.iter().map(|s| s.expr.to_string()).collect();
        let found = checked(&rules(&exprs, prefix, ") >= 0"));
        let column = "match: ".len() + prefix.len() + 1;
        for (s, ds) in SAMPLES.iter().zip(&found) {
            let t = (s.ty)();
            if is_key_type(&t) {
                assert!(ds.is_empty(), "{what} by {t}: {}", rendered(ds));
                for v in (s.values)() {
                    assert!(key_of(&ev, &v).is_some(), "{what} by {v:?}: no key");
                }
            } else {
                assert_eq!(ds.len(), 1, "{what} by {t}: {}", rendered(ds));
                assert_eq!(ds[0].code, Code::OperatorMismatch);
                assert_eq!(ds[0].line_col(), (6, column), "{}", rendered(ds));
                for v in (s.values)() {
                    assert!(key_of(&ev, &v).is_none(), "{what} by {v:?}: a key");
                }
            }
        }
    }
}

fn eval(src: &str) -> Result<String, String> {
    let params = BTreeMap::new();
    let helpers = RhaiHelpers::empty();
    let mut ev = Evaluator::detached(&params, &helpers);
    let e = vmtriage_dsl::parse_expr(src).map_err(|e| format!("{e:?}"))?;
    ev.eval(&e)
        .map(|v| ev.to_json_plain(&v).to_string())
        .map_err(|e| e.message)
}

#[test]
fn versions_compare_in_release_order() {
    for (src, want) in [
        ("version(\"6.1.0-32-amd64\") >= version(\"6.1\")", "true"),
        ("version(\"5.10\") < version(\"6.1\")", "true"),
        ("version(\"6.12\") > version(\"6.2\")", "true"),
        ("version(\"6.2\") <= version(\"6.12\")", "true"),
        ("version(\"6.1\") == version(\"6.1.0\")", "true"),
        ("version(\"6.1\") != version(\"6.2\")", "true"),
        ("version(\"6.1\") == version(\"6.2\")", "false"),
        ("\"5.10\" < version(\"6.1\")", "true"),
        ("version(\"6.1\") == \"6.1.0\"", "true"),
        ("version(\"6.1\") in [\"5.10\", \"6.1\"]", "true"),
        ("version(\"6.1\") < \"x\"", "\"x\" is not a version"),
    ] {
        let got = eval(src).unwrap_or_else(|e| e);
        assert_eq!(got, want, "{src}");
    }
}

#[test]
fn float_keys_sort_as_floats() {
    for (src, want) in [
        ("sort [2.5, 2.1, 3, -0.5] by it", "[-0.5,2.1,2.5,3]"),
        ("sort [2.5, 2.1, 3] by it desc", "[3,2.5,2.1]"),
        ("top 1 of [2.1, 2.9, 2.5] by it", "[2.9]"),
        ("count(group [1.5, 1.25, 1.5] by it)", "2"),
        ("count(unique([1, 1.0, 1.5]))", "2"),
        ("max([2.25, 2.75, 2])", "2.75"),
        (
            "sort [version(\"6.12\"), version(\"6.2\"), version(\"5.10\")] by it",
            "[\"5.10\",\"6.2\",\"6.12\"]",
        ),
    ] {
        assert_eq!(eval(src).as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn every_operator_is_declared_completely() {
    use vmtriage_dsl::ast::BinOp as B;
    let all = [
        Op::Unary(UnOp::Not),
        Op::Unary(UnOp::Neg),
        Op::Index,
        Op::Binary(B::Or),
        Op::Binary(B::And),
        Op::Binary(B::Eq),
        Op::Binary(B::Ne),
        Op::Binary(B::Lt),
        Op::Binary(B::Le),
        Op::Binary(B::Gt),
        Op::Binary(B::Ge),
        Op::Binary(B::Add),
        Op::Binary(B::Sub),
        Op::Binary(B::Mul),
        Op::Binary(B::Div),
        Op::Binary(B::Mod),
        Op::Binary(B::In),
        Op::Binary(B::Matches),
    ];
    assert_eq!(OPERATORS.len(), all.len());
    for op in all {
        let o = operator(op);
        assert!(!o.doc.is_empty(), "{op} has no doc");
        assert!(!o.overloads.is_empty(), "{op} has no overload");
        for ov in o.overloads {
            assert_eq!(ov.operands.len(), op.arity(), "{}", ov.signature(op));
            assert!(!ov.doc.is_empty(), "{} has no doc", ov.signature(op));
        }
        // Only what never fails has no help.
        let refusable = SAMPLES
            .iter()
            .any(|s| result_type(op, &vec![(s.ty)(); op.arity()]).is_none());
        assert_eq!(o.help.is_empty(), !refusable, "{op}: help");
    }
    let text = crate::schema::render();
    let json = crate::schema::to_json();
    for o in OPERATORS {
        for ov in o.overloads {
            let sig = ov.signature(o.op);
            assert!(text.contains(&sig), "{sig} missing from the schema");
            assert!(
                json["operators"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["overloads"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["signature"] == sig)),
                "{sig} missing from the JSON schema"
            );
        }
    }
}
