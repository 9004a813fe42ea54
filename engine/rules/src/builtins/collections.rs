//! Collections: aggregates over lists (`count`, `sum`, `min`, `max`,
//! `first`, `unique`, `len`) and the groups `group … by …` makes.

use std::rc::Rc;

use vmtriage_dsl::ast::Span;

use super::{
    decl_field, fail, wrong_owner, Args, Ctx, Function, Module, Param, Shape, Sig, TypeDecl, R,
};
use crate::ty::{Need, Ty};
use crate::value::{EvalError, Num};
use crate::value::{GroupVal, Key, Value};

const LIST: &[Param] = &[Param {
    name: "list",
    ty: Shape::List(&Shape::Var(&Shape::Is(Ty::Any))),
}];
const STR_OR_LIST: &[Param] = &[Param {
    name: "x",
    ty: Shape::OneOf(&[Shape::Is(Ty::Str), Shape::List(&Shape::Is(Ty::Any))]),
}];

pub static MODULE: Module = Module {
    name: "collections",
    doc: "aggregates over lists, and groups",
    roots: &[],
    types: &[GROUP],
    functions: &[
        Function {
            name: "count",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: STR_OR_LIST,
                result: Shape::Is(Ty::Int),
            }],
            doc: "number of elements (of characters, for a string)",
            call: length,
        },
        Function {
            name: "len",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: STR_OR_LIST,
                result: Shape::Is(Ty::Int),
            }],
            doc: "length of a string or a list",
            call: length,
        },
        Function {
            name: "sum",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: &[Param {
                    name: "numbers",
                    ty: Shape::List(&Shape::Var(&Shape::Num)),
                }],
                result: Shape::Var(&Shape::Num),
            }],
            doc: "sum of numbers (nulls skipped)",
            call: sum,
        },
        Function {
            name: "min",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: LIST,
                result: Shape::Var(&Shape::Is(Ty::Any)),
            }],
            doc: "smallest element (null if empty)",
            call: |ev, a| extreme(ev, a, |k, best| k < best),
        },
        Function {
            name: "max",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: LIST,
                result: Shape::Var(&Shape::Is(Ty::Any)),
            }],
            doc: "largest element (null if empty)",
            call: |ev, a| extreme(ev, a, |k, best| k > best),
        },
        Function {
            name: "first",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: LIST,
                result: Shape::Var(&Shape::Is(Ty::Any)),
            }],
            doc: "first element (null if empty)",
            call: |ev, a| Ok(list(ev, a)?.first().cloned().unwrap_or(Value::Null)),
        },
        Function {
            name: "unique",
            needs: Need::Nothing,
            sigs: &[Sig {
                params: LIST,
                result: Shape::List(&Shape::Var(&Shape::Is(Ty::Any))),
            }],
            doc: "elements without repeats",
            call: unique,
        },
    ],
    constants: &[],
};

fn group<'k>(_: &Ctx<'_, 'k>, v: &Value<'k>, span: Span) -> Result<Rc<GroupVal<'k>>, EvalError> {
    match v {
        Value::Group(g) => Ok(g.clone()),
        _ => wrong_owner("group", v, span),
    }
}

const GROUP: TypeDecl = TypeDecl {
    name: "group",
    needs: Need::Nothing,
    doc: "one group of `group COLL by KEY [as NAME]` (NAME also names the key)",
    fields: &[
        decl_field!(
            group,
            "key",
            Shape::Is(Ty::Any),
            "the key its elements share",
            |_, g, _| { g.key.clone() }
        ),
        decl_field!(
            group,
            "items",
            Shape::List(&Shape::Var(&Shape::Is(Ty::Any))),
            "its elements",
            |_, g, _| Value::list(g.items.clone())
        ),
        decl_field!(
            group,
            "count",
            Shape::Is(Ty::Int),
            "number of its elements",
            |_, g, _| { Value::Int(g.items.len() as i64) }
        ),
    ],
};

/// The first argument as a list (null is the empty list).
fn list<'k>(ev: &Ctx<'_, 'k>, a: &Args<'k>) -> Result<Rc<Vec<Value<'k>>>, EvalError> {
    ev.as_list(a.get(0)?.clone(), a.span(0))
}

fn length<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    Ok(Value::Int(match a.get(0)? {
        Value::Str(s) => s.chars().count() as i64,
        _ => list(ev, a)?.len() as i64,
    }))
}

/// Exact, as `+` is: a sum beyond 64 bits (or beyond f64) is an error.
fn sum<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    let mut acc = Num::I(0);
    for v in list(ev, a)?.iter() {
        acc = match (acc, ev.num(v, a.span(0))?) {
            (Num::I(x), Num::I(y)) => match x.checked_add(y) {
                Some(s) => Num::I(s),
                None => {
                    return fail(
                        a.span,
                        format!("sum() overflows a 64-bit integer (at {x} + {y})"),
                    )
                }
            },
            (x, Num::Null) => x,
            (x, y) => match x.f() + y.f() {
                s if s.is_finite() => Num::F(s),
                _ => return fail(a.span, "sum() overflows a float"),
            },
        };
    }
    Ok(acc.value())
}

/// The element whose key beats every other's (`better(key, best)`).
fn extreme<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>, better: fn(&Key, &Key) -> bool) -> R<'k> {
    let mut best: Option<(Key, Value<'k>)> = None;
    for v in list(ev, a)?.iter() {
        let k = ev.key(v, a.span(0))?;
        if best.as_ref().is_none_or(|(b, _)| better(&k, b)) {
            best = Some((k, v.clone()));
        }
    }
    Ok(best.map(|(_, v)| v).unwrap_or(Value::Null))
}

fn unique<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for v in list(ev, a)?.iter() {
        if seen.insert(ev.key(v, a.span(0))?) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}
