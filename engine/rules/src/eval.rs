//! Evaluation of a rule's program over one dump's model.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use vmtriage_dsl::ast::{BinOp, Expr, ExprKind, HasPattern, Quantifier, Span, Stmt, UnOp};

use crate::builtins::operators::{self, Op};
use crate::builtins::{self, Args, Ctx};
use crate::model::Model;
use crate::rule::ParamValue;
pub use crate::value::{truthy, EvalError, Helpers};
use crate::value::{GroupVal, Key, Num, Value};

type R<'k> = Result<Value<'k>, EvalError>;

/// Evaluates a rule's program: its variables, parameters and helpers over
/// the context the built-ins see ([`Ctx`]: the model, the bounds).
pub struct Evaluator<'m, 'k> {
    pub cx: Ctx<'m, 'k>,
    pub params: &'m BTreeMap<String, ParamValue>,
    pub helpers: &'m dyn Helpers,
    scopes: Vec<(String, Value<'k>)>,
}

/// An evaluator reads the dump through its context: `&Evaluator` serves
/// where a `&Ctx` is asked for (rendering values, the CLI's `query`).
impl<'m, 'k> Deref for Evaluator<'m, 'k> {
    type Target = Ctx<'m, 'k>;
    fn deref(&self) -> &Ctx<'m, 'k> {
        &self.cx
    }
}

impl<'m, 'k> DerefMut for Evaluator<'m, 'k> {
    fn deref_mut(&mut self) -> &mut Ctx<'m, 'k> {
        &mut self.cx
    }
}

fn err<T>(span: Span, msg: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        message: msg.into(),
        span,
    })
}

pub fn param_value<'k>(p: &ParamValue) -> Value<'k> {
    match p {
        ParamValue::Int(i) => Value::Int(*i),
        ParamValue::Float(f) => Value::Float(*f),
        ParamValue::Str(s) => Value::str(s),
        ParamValue::Bool(b) => Value::Bool(*b),
        ParamValue::List(l) => Value::list(l.iter().map(param_value).collect()),
    }
}

impl<'m, 'k> Evaluator<'m, 'k> {
    pub fn new(
        m: &'m Model<'k>,
        params: &'m BTreeMap<String, ParamValue>,
        helpers: &'m dyn Helpers,
    ) -> Self {
        Self::with_model(Some(m), params, helpers)
    }

    /// An evaluator without a dump: the language alone (literals, lists,
    /// aggregates, text); reading the model is an error, never a panic.
    pub fn detached(params: &'m BTreeMap<String, ParamValue>, helpers: &'m dyn Helpers) -> Self {
        Self::with_model(None, params, helpers)
    }

    fn with_model(
        m: Option<&'m Model<'k>>,
        params: &'m BTreeMap<String, ParamValue>,
        helpers: &'m dyn Helpers,
    ) -> Self {
        Evaluator {
            cx: Ctx::new(m),
            params,
            helpers,
            scopes: Vec::new(),
        }
    }

    /// Runs a program; returns the bindings of every instance whose condition
    /// held (at most `max` instances).
    pub fn run(
        &mut self,
        stmts: &[Stmt],
        cond: &Expr,
        max: usize,
    ) -> Result<Vec<Vec<(String, Value<'k>)>>, EvalError> {
        let mut out = Vec::new();
        self.run_from(stmts, cond, max, &mut out)?;
        Ok(out)
    }

    fn run_from(
        &mut self,
        stmts: &[Stmt],
        cond: &Expr,
        max: usize,
        out: &mut Vec<Vec<(String, Value<'k>)>>,
    ) -> Result<(), EvalError> {
        if out.len() >= max {
            return Ok(());
        }
        match stmts.first() {
            None => {
                let v = self.eval(cond)?;
                if truthy(&v) {
                    out.push(self.scopes.clone());
                }
                Ok(())
            }
            Some(Stmt::Let { name, value, .. }) => {
                let v = self.eval(value)?;
                self.scopes.push((name.name.clone(), v));
                let r = self.run_from(&stmts[1..], cond, max, out);
                self.scopes.pop();
                r
            }
            Some(Stmt::For { name, iter, .. }) => {
                let items = self.eval_list(iter)?;
                for it in items.iter() {
                    self.spend(1, iter.span)?;
                    self.scopes.push((name.name.clone(), it.clone()));
                    let r = self.run_from(&stmts[1..], cond, max, out);
                    self.scopes.pop();
                    r?;
                    if out.len() >= max {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    pub fn bind(&mut self, name: &str, v: Value<'k>) {
        self.scopes.push((name.to_string(), v));
    }

    fn with_elem<T>(&mut self, v: Value<'k>, f: impl FnOnce(&mut Self) -> T) -> T {
        self.cx.elems.push(v);
        let r = f(self);
        self.cx.elems.pop();
        r
    }

    fn lookup(&mut self, name: &str, span: Span) -> R<'k> {
        if name == "it" {
            if let Some(e) = self.cx.elems.last() {
                return Ok(e.clone());
            }
        }
        if let Some((_, v)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if let Some(p) = self.params.get(name) {
            return Ok(param_value(p));
        }
        if let Some(c) = builtins::constant(name) {
            return Ok(Value::Int(c.value));
        }
        if let Some(e) = self.cx.elems.last().cloned() {
            if let Some(v) = self.field_opt(&e, name, span)? {
                return Ok(v);
            }
        }
        match builtins::root(name) {
            Some(r) => (r.get)(&self.cx, span),
            None => err(span, format!("unknown name `{name}`")),
        }
    }

    /// Evaluates an expression: literals and names here, every other
    /// construct of the language in its own method below.
    pub fn eval(&mut self, e: &Expr) -> R<'k> {
        let span = e.span;
        match &e.kind {
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Int(i) => Ok(Value::Int(*i)),
            ExprKind::Float(f) => Ok(Value::Float(*f)),
            ExprKind::Str(s) => Ok(Value::str(s)),
            ExprKind::List(items) => {
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    v.push(self.eval(i)?);
                }
                Ok(Value::list(v))
            }
            ExprKind::Var(n) => self.lookup(n, span),
            ExprKind::Global { name, optional } => self.global(name, *optional, span),
            ExprKind::Field {
                base,
                name,
                optional,
            } => {
                let b = self.eval(base)?;
                self.field(&b, &name.name, *optional, name.span)
            }
            ExprKind::Index { base, index } => {
                let b = self.eval(base)?;
                let i = self.eval(index)?;
                operators::apply(
                    &mut self.cx,
                    Op::Index,
                    &[b, i],
                    &[base.span, index.span],
                    span,
                )
            }
            ExprKind::Call { func, args } => self.call(&func.name, args, span),
            ExprKind::Unary { op, expr } => self.unary(*op, expr, span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span),
            ExprKind::Where { coll, cond } => self.filter(coll, cond, span),
            ExprKind::Quant { q, coll, cond } => self.quantify(*q, coll, cond.as_deref(), span),
            ExprKind::Has { stack, pattern } => {
                let s = self.eval(stack)?;
                let names = self.function_names(&s, stack.span)?;
                Ok(Value::Bool(self.has(&names, pattern)?))
            }
            ExprKind::Group {
                coll,
                key,
                name,
                having,
            } => self.group(
                coll,
                key,
                name.as_ref().map(|n| n.name.as_str()),
                having.as_deref(),
                span,
            ),
            ExprKind::Sort { coll, key, desc } => {
                let mut v = self.keyed(coll, key, span)?;
                v.sort_by(|a, b| a.0.cmp(&b.0));
                if *desc {
                    v.reverse();
                }
                Ok(Value::list(v.into_iter().map(|(_, x)| x).collect()))
            }
            ExprKind::Top { n, coll, key } => self.top(n, coll, key, span),
        }
    }

    /// `not x`, `-x`: as [`operators`] declares them.
    fn unary(&mut self, op: UnOp, expr: &Expr, span: Span) -> R<'k> {
        let v = self.eval(expr)?;
        operators::apply(&mut self.cx, Op::Unary(op), &[v], &[expr.span], span)
    }

    /// `COLL where COND`.
    fn filter(&mut self, coll: &Expr, cond: &Expr, span: Span) -> R<'k> {
        let items = self.eval_list(coll)?;
        self.spend(items.len() as u64, span)?;
        let mut out = Vec::new();
        for it in items.iter() {
            let keep = self.with_elem(it.clone(), |s| s.eval(cond))?;
            if truthy(&keep) {
                out.push(it.clone());
            }
        }
        Ok(Value::list(out))
    }

    /// `any of` / `all of` / `none of COLL [where COND]`, stopping at the
    /// first element that decides.
    fn quantify(&mut self, q: Quantifier, coll: &Expr, cond: Option<&Expr>, span: Span) -> R<'k> {
        let items = self.eval_list(coll)?;
        self.spend(items.len() as u64, span)?;
        let mut any = false;
        let mut all = true;
        for it in items.iter() {
            let ok = match cond {
                Some(c) => truthy(&self.with_elem(it.clone(), |s| s.eval(c))?),
                None => true,
            };
            any |= ok;
            all &= ok;
            if (q == Quantifier::Any || q == Quantifier::None) && any {
                break;
            }
            if q == Quantifier::All && !all {
                break;
            }
        }
        Ok(Value::Bool(match q {
            Quantifier::Any => any,
            Quantifier::All => all,
            Quantifier::None => !any,
        }))
    }

    /// `group COLL by KEY [as NAME] [having COND]`: groups in key order;
    /// elements whose key is null form no group.
    fn group(
        &mut self,
        coll: &Expr,
        key: &Expr,
        name: Option<&str>,
        having: Option<&Expr>,
        span: Span,
    ) -> R<'k> {
        let items = self.eval_list(coll)?;
        self.spend(items.len() as u64, span)?;
        let mut groups: BTreeMap<Key, (Value<'k>, Vec<Value<'k>>)> = BTreeMap::new();
        for it in items.iter() {
            let k = self.with_elem(it.clone(), |s| s.eval(key))?;
            if matches!(k, Value::Null) {
                continue;
            }
            let kk = self.key(&k, key.span)?;
            groups
                .entry(kk)
                .or_insert_with(|| (k.clone(), Vec::new()))
                .1
                .push(it.clone());
        }
        let mut out = Vec::new();
        for (_, (k, items)) in groups {
            let g = Value::Group(Rc::new(GroupVal {
                key: k.clone(),
                name: name.map(str::to_string),
                items,
            }));
            let keep = match having {
                Some(h) => {
                    if let Some(b) = name {
                        self.scopes.push((b.to_string(), k));
                    }
                    let r = self.with_elem(g.clone(), |s| s.eval(h));
                    if name.is_some() {
                        self.scopes.pop();
                    }
                    truthy(&r?)
                }
                None => true,
            };
            if keep {
                out.push(g);
            }
        }
        Ok(Value::list(out))
    }

    /// `top N COLL by KEY`: the N largest, largest first.
    fn top(&mut self, n: &Expr, coll: &Expr, key: &Expr, span: Span) -> R<'k> {
        let v = self.eval(n)?;
        // A kernel object that is a number counts too, as the checker allows.
        let count = match &v {
            Value::Int(_) | Value::Obj(_) => match self.num(&v, n.span) {
                Ok(Num::I(i)) => usize::try_from(i).ok(),
                _ => None,
            },
            _ => None,
        };
        let Some(n) = count else {
            return err(
                n.span,
                format!(
                    "top needs a count (an int of at least 0), not {}",
                    short_value(&v)
                ),
            );
        };
        let mut v = self.keyed(coll, key, span)?;
        v.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(Value::list(v.into_iter().take(n).map(|(_, x)| x).collect()))
    }

    fn keyed(
        &mut self,
        coll: &Expr,
        key: &Expr,
        span: Span,
    ) -> Result<Vec<(Key, Value<'k>)>, EvalError> {
        let items = self.eval_list(coll)?;
        self.spend(items.len() as u64, span)?;
        let mut v = Vec::new();
        for it in items.iter() {
            let k = self.with_elem(it.clone(), |s| s.eval(key))?;
            v.push((self.key(&k, key.span)?, it.clone()));
        }
        Ok(v)
    }

    /// Evaluates an expression that must give a collection.
    fn eval_list(&mut self, e: &Expr) -> Result<Rc<Vec<Value<'k>>>, EvalError> {
        let v = self.eval(e)?;
        self.as_list(v, e.span)
    }

    fn field(&mut self, base: &Value<'k>, name: &str, optional: bool, span: Span) -> R<'k> {
        match self.field_opt(base, name, span) {
            Ok(Some(v)) => Ok(v),
            Ok(None) if optional => Ok(Value::Null),
            Ok(None) => err(
                span,
                format!("a {} has no field `{name}`", base.type_name()),
            ),
            Err(_) if optional => Ok(Value::Null),
            Err(e) => Err(e),
        }
    }

    /// `Ok(None)` when the value has no such field.
    fn field_opt(
        &mut self,
        base: &Value<'k>,
        name: &str,
        span: Span,
    ) -> Result<Option<Value<'k>>, EvalError> {
        Ok(Some(match base {
            Value::Null => Value::Null,
            Value::List(items) => {
                let mut out = Vec::new();
                self.spend(items.len() as u64, span)?;
                for it in items.iter() {
                    match self.field_opt(it, name, span)? {
                        Some(Value::List(inner)) => out.extend(inner.iter().cloned()),
                        Some(v) => out.push(v),
                        None => return Ok(None),
                    }
                }
                Value::list(out)
            }
            // `group … by … as NAME`: NAME is the key too.
            Value::Group(g) if builtins::field("group", name).is_none() => {
                match g.name.as_deref() == Some(name) {
                    true => g.key.clone(),
                    false => return Ok(None),
                }
            }
            Value::Map(mm) => match mm.get(name) {
                Some(v) => v.clone(),
                None => return Ok(None),
            },
            Value::Obj(o) => match o.member(name) {
                Ok(x) => Value::Obj(x),
                Err(e) => return err(span, e.to_string()),
            },
            v => match builtins::field(v.type_name(), name) {
                Some(f) => (f.get)(&self.cx, v, span)?,
                None => return Ok(None),
            },
        }))
    }

    fn function_names(&self, s: &Value<'k>, span: Span) -> Result<Vec<String>, EvalError> {
        let me = builtins::model_err(span);
        Ok(match s {
            Value::Task(i) => self
                .model(span)?
                .stack(*i)
                .map_err(&me)?
                .frames
                .iter()
                .filter_map(|f| f.function.clone())
                .collect(),
            Value::List(frames) => {
                let mut out = Vec::new();
                for f in frames.iter() {
                    match f {
                        Value::Frame(ti, fi) => {
                            if let Some(n) = self
                                .model(span)?
                                .stack(*ti)
                                .map_err(&me)?
                                .frames
                                .get(*fi)
                                .and_then(|f| f.function.clone())
                            {
                                out.push(n);
                            }
                        }
                        Value::Str(s) => out.push(s.to_string()),
                        other => {
                            return err(
                                span,
                                format!(
                                    "`has` needs a stack, found a list of {}",
                                    other.type_name()
                                ),
                            )
                        }
                    }
                }
                out
            }
            Value::Null => Vec::new(),
            other => {
                return err(
                    span,
                    format!(
                        "`has` needs a task or a stack, found a {}",
                        other.type_name()
                    ),
                )
            }
        })
    }

    fn strings(&mut self, e: &Expr) -> Result<Vec<String>, EvalError> {
        match self.eval(e)? {
            Value::Str(s) => Ok(vec![s.to_string()]),
            Value::List(l) => l
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.to_string()),
                    other => err(
                        e.span,
                        format!("expected strings, found a {}", other.type_name()),
                    ),
                })
                .collect(),
            other => err(
                e.span,
                format!(
                    "expected a string or a list of strings, found a {}",
                    other.type_name()
                ),
            ),
        }
    }

    fn has(&mut self, names: &[String], p: &HasPattern) -> Result<bool, EvalError> {
        Ok(match p {
            HasPattern::Exact(e) | HasPattern::AnyOf(e) => {
                let want = self.strings(e)?;
                names.iter().any(|n| want.iter().any(|w| w == n))
            }
            HasPattern::Prefix(e) => {
                let want = self.strings(e)?;
                names
                    .iter()
                    .any(|n| want.iter().any(|w| n.starts_with(w.as_str())))
            }
            HasPattern::Regex(e) => {
                let pats = self.strings(e)?;
                let mut hit = false;
                for p in pats {
                    let r = self.regex(&p, e.span)?;
                    hit |= names.iter().any(|n| r.is_match(n));
                }
                hit
            }
        })
    }

    /// `a OP b`: `and` and `or` stop at a left side that decides; every
    /// operator is applied as [`operators`] declares it.
    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, span: Span) -> R<'k> {
        let a = self.eval(lhs)?;
        match op {
            BinOp::And if !truthy(&a) => return Ok(Value::Bool(false)),
            BinOp::Or if truthy(&a) => return Ok(Value::Bool(true)),
            _ => {}
        }
        let b = self.eval(rhs)?;
        operators::apply(
            &mut self.cx,
            Op::Binary(op),
            &[a, b],
            &[lhs.span, rhs.span],
            span,
        )
    }

    fn call(&mut self, f: &str, args: &[Expr], span: Span) -> R<'k> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(a)?);
        }
        match builtins::function(f) {
            Some(b) => {
                let spans = args.iter().map(|a| a.span).collect();
                self.call_builtin(b, Args::new(b.name, vals, spans, span))
            }
            None => {
                let json: Vec<serde_json::Value> =
                    vals.iter().map(|v| self.to_json_plain(v)).collect();
                match self.helpers.call(f, json) {
                    Some(Ok(v)) => Ok(from_json(&v)),
                    Some(Err(e)) => err(span, format!("helper `{f}`: {e}")),
                    None => err(span, format!("unknown function `{f}`")),
                }
            }
        }
    }

    /// Runs a built-in on evaluated arguments: a number of arguments none of
    /// its signatures takes is an error (the checker rejects such calls
    /// first; this keeps the evaluator safe on its own).
    pub fn call_builtin(&mut self, f: &'static builtins::Function, args: Args<'k>) -> R<'k> {
        if !f.takes(args.len()) {
            return err(
                args.span,
                format!("{}() takes {}, {} given", f.name, f.arities(), args.len()),
            );
        }
        (f.call)(&mut self.cx, &args)
    }
}

fn from_json<'k>(v: &serde_json::Value) -> Value<'k> {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::list(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(Rc::new(
            o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect(),
        )),
    }
}

/// A value for an error message: a number as itself, else its type.
fn short_value(v: &Value<'_>) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        other => other.type_name().to_string(),
    }
}
