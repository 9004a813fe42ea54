//! Evaluation of a rule's program over one dump's model.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use kdebuginfo::TypeKind;
use kmodel::locks::{LockKind, LockState};
use kmodel::Object;
use regex::Regex;
use vmtriage_dsl::ast::{BinOp, Expr, ExprKind, HasPattern, Quantifier, Span, Stmt, UnOp};

use crate::model::Model;
use crate::rule::{cmp_versions, parse_version, ParamValue};
use crate::schema::CONSTANTS;
use crate::value::{GroupVal, Key, LockVal, Value};

/// A run-time error of one rule on one dump, with where in the expression.
#[derive(Debug, Clone)]
pub struct EvalError {
    pub message: String,
    pub span: Span,
}

type R<'k> = Result<Value<'k>, EvalError>;

/// Work units one rule may spend on one dump: a rule that would scan every
/// pair of 20 000 tasks stops with an error instead of stalling a scan.
pub const BUDGET: u64 = 50_000_000;

pub trait Helpers {
    fn call(
        &self,
        name: &str,
        args: Vec<serde_json::Value>,
    ) -> Option<Result<serde_json::Value, String>>;
}

pub struct Evaluator<'m, 'k> {
    pub m: &'m Model<'k>,
    pub params: &'m BTreeMap<String, ParamValue>,
    pub helpers: &'m dyn Helpers,
    scopes: Vec<(String, Value<'k>)>,
    elems: Vec<Value<'k>>,
    budget: Cell<u64>,
    regexes: HashMap<String, Regex>,
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
        Evaluator {
            m,
            params,
            helpers,
            scopes: Vec::new(),
            elems: Vec::new(),
            budget: Cell::new(BUDGET),
            regexes: HashMap::new(),
        }
    }

    fn spend(&self, n: u64, span: Span) -> Result<(), EvalError> {
        let b = self.budget.get();
        if b < n {
            return err(
                span,
                "the rule exceeded its evaluation budget (an expression too costly for this dump)",
            );
        }
        self.budget.set(b - n);
        Ok(())
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
        self.elems.push(v);
        let r = f(self);
        self.elems.pop();
        r
    }

    fn lookup(&mut self, name: &str, span: Span) -> R<'k> {
        if name == "it" {
            if let Some(e) = self.elems.last() {
                return Ok(e.clone());
            }
        }
        if let Some((_, v)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        if let Some(p) = self.params.get(name) {
            return Ok(param_value(p));
        }
        if let Some((_, v)) = CONSTANTS.iter().find(|(n, _)| *n == name) {
            return Ok(Value::Int(*v));
        }
        if let Some(e) = self.elems.last().cloned() {
            if let Some(v) = self.field_opt(&e, name, span)? {
                return Ok(v);
            }
        }
        match name {
            "tasks" => Ok(Value::list(
                (0..self
                    .m
                    .tasks()
                    .map_err(|e| EvalError { message: e, span })?
                    .len())
                    .map(Value::Task)
                    .collect(),
            )),
            "cpus" => Ok(Value::list(
                (0..self
                    .m
                    .cpus()
                    .map_err(|e| EvalError { message: e, span })?
                    .len())
                    .map(Value::Cpu)
                    .collect(),
            )),
            "kernel" => Ok(Value::Kernel),
            "dmesg" => Ok(Value::list(
                (0..self
                    .m
                    .dmesg()
                    .map_err(|e| EvalError { message: e, span })?
                    .len())
                    .map(Value::Record)
                    .collect(),
            )),
            "deadlocks" => {
                let me = Self::model_err(span);
                let g = self.m.wait_graph().map_err(&me)?;
                let ix = self.m.index().map_err(&me)?;
                Ok(Value::list(
                    g.cycles
                        .iter()
                        .map(|c| {
                            Value::list(
                                c.iter()
                                    .filter_map(|a| ix.by_addr.get(a).map(|i| Value::Task(*i)))
                                    .collect(),
                            )
                        })
                        .collect(),
                ))
            }
            "memory" => Ok(Value::Memory),
            "modules" => Ok(Value::list(
                (0..self
                    .m
                    .modules()
                    .map_err(|e| EvalError { message: e, span })?
                    .len())
                    .map(Value::Module)
                    .collect(),
            )),
            _ => err(span, format!("unknown name `{name}`")),
        }
    }

    pub fn eval(&mut self, e: &Expr) -> R<'k> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Null => Value::Null,
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float(f) => Value::Float(*f),
            ExprKind::Str(s) => Value::str(s),
            ExprKind::List(items) => {
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    v.push(self.eval(i)?);
                }
                Value::list(v)
            }
            ExprKind::Var(n) => self.lookup(n, span)?,
            ExprKind::Global { name, optional } => self.global(name, *optional, span)?,
            ExprKind::Field {
                base,
                name,
                optional,
            } => {
                let b = self.eval(base)?;
                self.field(&b, &name.name, *optional, name.span)?
            }
            ExprKind::Index { base, index } => {
                let b = self.eval(base)?;
                let i = self.eval(index)?;
                self.index(b, i, span)?
            }
            ExprKind::Call { func, args } => self.call(&func.name, args, span)?,
            ExprKind::Unary { op, expr } => {
                let v = self.eval(expr)?;
                match op {
                    UnOp::Not => Value::Bool(!truthy(&v)),
                    UnOp::Neg => match self.num(&v, span)? {
                        Num::I(i) => Value::Int(-i),
                        Num::F(f) => Value::Float(-f),
                        Num::Null => Value::Null,
                    },
                }
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, span)?,
            ExprKind::Where { coll, cond } => {
                let items = self.eval_list(coll)?;
                self.spend(items.len() as u64, span)?;
                let mut out = Vec::new();
                for it in items.iter() {
                    let keep = self.with_elem(it.clone(), |s| s.eval(cond))?;
                    if truthy(&keep) {
                        out.push(it.clone());
                    }
                }
                Value::list(out)
            }
            ExprKind::Quant { q, coll, cond } => {
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
                    if (*q == Quantifier::Any || *q == Quantifier::None) && any {
                        break;
                    }
                    if *q == Quantifier::All && !all {
                        break;
                    }
                }
                Value::Bool(match q {
                    Quantifier::Any => any,
                    Quantifier::All => all,
                    Quantifier::None => !any,
                })
            }
            ExprKind::Has { stack, pattern } => {
                let s = self.eval(stack)?;
                let names = self.function_names(&s, stack.span)?;
                Value::Bool(self.has(&names, pattern)?)
            }
            ExprKind::Group {
                coll,
                key,
                name,
                having,
            } => {
                let items = self.eval_list(coll)?;
                self.spend(items.len() as u64, span)?;
                let mut groups: BTreeMap<Key, (Value<'k>, Vec<Value<'k>>)> = BTreeMap::new();
                for it in items.iter() {
                    let k = self.with_elem(it.clone(), |s| s.eval(key))?;
                    if matches!(k, Value::Null) {
                        continue; // elements without a key form no group
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
                        name: name.as_ref().map(|n| n.name.clone()),
                        items,
                    }));
                    let keep = match having {
                        Some(h) => {
                            let bound = name.as_ref().map(|n| n.name.clone());
                            if let Some(b) = &bound {
                                self.scopes.push((b.clone(), k));
                            }
                            let r = self.with_elem(g.clone(), |s| s.eval(h));
                            if bound.is_some() {
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
                Value::list(out)
            }
            ExprKind::Sort { coll, key, desc } => {
                let mut v = self.keyed(coll, key, span)?;
                v.sort_by(|a, b| a.0.cmp(&b.0));
                if *desc {
                    v.reverse();
                }
                Value::list(v.into_iter().map(|(_, x)| x).collect())
            }
            ExprKind::Top { n, coll, key } => {
                let n = match self.eval(n)? {
                    Value::Int(i) if i >= 0 => i as usize,
                    other => {
                        return err(
                            n.span,
                            format!("top needs a count, not {}", other.type_name()),
                        )
                    }
                };
                let mut v = self.keyed(coll, key, span)?;
                v.sort_by(|a, b| b.0.cmp(&a.0));
                Value::list(v.into_iter().take(n).map(|(_, x)| x).collect())
            }
        })
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

    pub fn key(&self, v: &Value<'k>, span: Span) -> Result<Key, EvalError> {
        Ok(match v {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Float(f) => Key::Int(*f as i64),
            Value::Str(s) => Key::Str(s.to_string()),
            Value::Task(i) => Key::Task(*i),
            Value::Lock(l) => Key::Addr(l.address),
            Value::Obj(o) => match self.scalar(o) {
                Some(i) => Key::Int(i),
                None => Key::Addr(o.addr),
            },
            Value::Cpu(i) | Value::Zone(i) | Value::Module(i) | Value::Record(i) => {
                Key::Int(*i as i64)
            }
            Value::Version(v) => Key::Other(format!("{v:?}")),
            other => {
                return err(
                    span,
                    format!("cannot group or sort by a {}", other.type_name()),
                )
            }
        })
    }

    /// Evaluates an expression that must give a collection.
    fn eval_list(&mut self, e: &Expr) -> Result<Rc<Vec<Value<'k>>>, EvalError> {
        let v = self.eval(e)?;
        self.as_list(v, e.span)
    }

    fn as_list(&self, v: Value<'k>, span: Span) -> Result<Rc<Vec<Value<'k>>>, EvalError> {
        match v {
            Value::List(l) => Ok(l),
            Value::Null => Ok(Rc::new(Vec::new())),
            Value::Group(g) => Ok(Rc::new(g.items.clone())),
            other => err(
                span,
                format!("expected a list, found a {}", other.type_name()),
            ),
        }
    }

    fn model_err(span: Span) -> impl Fn(String) -> EvalError {
        move |message| EvalError { message, span }
    }

    fn global(&self, name: &str, optional: bool, span: Span) -> R<'k> {
        match self.m.k.global(name) {
            Ok(o) => Ok(Value::Obj(o)),
            Err(_) if optional => Ok(Value::Null),
            Err(e) => err(
                span,
                format!(
                    "{e} (on {}); write `@?{name}` if only some kernels have it",
                    self.m.k.release
                ),
            ),
        }
    }

    /// The integer value of a scalar kernel object; None for aggregates.
    fn scalar(&self, o: &Object<'k>) -> Option<i64> {
        match o.resolved().ok()?.kind {
            TypeKind::Base { .. } | TypeKind::Enum { .. } | TypeKind::Pointer { .. } => {
                o.as_i64().ok()
            }
            _ => None,
        }
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
        let me = Self::model_err(span);
        let m = self.m;
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
            Value::Task(i) => {
                let t = m.task(*i).map_err(&me)?;
                let ix = || m.index().map_err(&me);
                match name {
                    "pid" => Value::Int(t.pid as i64),
                    "tgid" => Value::Int(t.tgid as i64),
                    "ppid" => t.ppid.map(|p| Value::Int(p as i64)).unwrap_or(Value::Null),
                    "comm" => Value::str(&t.comm),
                    "state" => Value::str(&t.state.to_string()),
                    "state_name" => Value::str(t.state_name()),
                    "flags" => Value::Int(t.flags as i64),
                    "cpu" => t.cpu.map(|c| Value::Int(c as i64)).unwrap_or(Value::Null),
                    "on_cpu" => Value::Bool(m.k.task_on_cpu(t)),
                    "kthread" => Value::Bool(t.is_kthread()),
                    "exiting" => Value::Bool(t.is_exiting()),
                    "sigkill_pending" => Value::Bool(t.signal_pending(9).unwrap_or(false)),
                    "address" => Value::Int(t.addr() as i64),
                    "raw" => Value::Obj(t.obj),
                    "parent" => match t.ppid.and_then(|p| ix().ok()?.by_pid.get(&p).copied()) {
                        Some(j) if j != *i => Value::Task(j),
                        _ => Value::Null,
                    },
                    "leader" => ix()?
                        .by_pid
                        .get(&t.tgid)
                        .map(|j| Value::Task(*j))
                        .unwrap_or(Value::Null),
                    "children" => Value::list(
                        ix()?
                            .children
                            .get(&t.tgid)
                            .map(|v| v.iter().map(|j| Value::Task(*j)).collect())
                            .unwrap_or_default(),
                    ),
                    "threads" => Value::list(
                        ix()?
                            .threads
                            .get(&t.tgid)
                            .map(|v| v.iter().map(|j| Value::Task(*j)).collect())
                            .unwrap_or_default(),
                    ),
                    "stack" => {
                        let s = m.stack(*i).map_err(&me)?;
                        Value::list((0..s.frames.len()).map(|f| Value::Frame(*i, f)).collect())
                    }
                    "waits_for" => {
                        let g = m.wait_graph().map_err(&me)?;
                        let ix = ix()?;
                        Value::list(
                            g.chain(m.task(*i).map_err(&me)?.addr())
                                .iter()
                                .skip(1)
                                .filter_map(|(a, _)| ix.by_addr.get(a).map(|j| Value::Task(*j)))
                                .collect(),
                        )
                    }
                    "blocked_on" => match m.blocked_on(*i).map_err(&me)? {
                        Some(b) => Value::Lock(Rc::new(LockVal {
                            mode: b.mode.name(),
                            ..self.lock_val(b.addr, b.kind)
                        })),
                        None => Value::Null,
                    },
                    _ => return Ok(None),
                }
            }
            Value::Frame(ti, fi) => {
                let s = m.stack(*ti).map_err(&me)?;
                let Some(f) = s.frames.get(*fi) else {
                    return Ok(Some(Value::Null));
                };
                let opt = |o: &Option<String>| o.as_deref().map(Value::str).unwrap_or(Value::Null);
                match name {
                    "function" => opt(&f.function),
                    "pc" => Value::Int(f.pc as i64),
                    "sp" => Value::Int(f.sp as i64),
                    "offset" => Value::Int(f.offset as i64),
                    "inline" => Value::Bool(f.inline),
                    "file" => opt(&f.file),
                    "line" => f.line.map(|l| Value::Int(l as i64)).unwrap_or(Value::Null),
                    "module" => opt(&f.module),
                    _ => return Ok(None),
                }
            }
            Value::Cpu(i) => {
                let c = &m.cpus().map_err(&me)?[*i];
                match name {
                    "id" => Value::Int(c.id as i64),
                    "current" => c.current.map(Value::Task).unwrap_or(Value::Null),
                    "nr_running" => Value::Int(c.nr_running as i64),
                    "crashed" => Value::Bool(m.k.panic_cpu().ok().flatten() == Some(c.id)),
                    _ => return Ok(None),
                }
            }
            Value::Kernel => match self.kernel_field(name, span)? {
                Some(v) => v,
                None => return Ok(None),
            },
            Value::Record(i) => {
                let r = &m.dmesg().map_err(&me)?[*i];
                match name {
                    "level" => Value::Int(r.level as i64),
                    "timestamp" => Value::Float(r.timestamp_ns as f64 / 1e9),
                    "text" => Value::str(&r.text),
                    _ => return Ok(None),
                }
            }
            Value::Memory => {
                let mem = m.memory().map_err(&me)?;
                match name {
                    "totalram" => Value::Int(mem.totalram_pages as i64),
                    "free" => Value::Int(mem.free_pages as i64),
                    "zones" => Value::list((0..mem.zones.len()).map(Value::Zone).collect()),
                    _ => return Ok(None),
                }
            }
            Value::Zone(i) => {
                let z = &m.memory().map_err(&me)?.zones[*i];
                match name {
                    "node" => Value::Int(z.node as i64),
                    "name" => Value::str(&z.name),
                    "free" => Value::Int(z.free as i64),
                    "min" => Value::Int(z.min as i64),
                    "low" => Value::Int(z.low as i64),
                    "high" => Value::Int(z.high as i64),
                    "present" => Value::Int(z.present as i64),
                    _ => return Ok(None),
                }
            }
            Value::Module(i) => {
                let md = &m.modules().map_err(&me)?[*i];
                match name {
                    "name" => Value::str(&md.name),
                    "base" => Value::Int(md.base as i64),
                    "size" => Value::Int(md.size as i64),
                    "taints" => Value::Int(md.taints as i64),
                    "out_of_tree" => Value::Bool(md.taints & (1 << 12) != 0),
                    "unsigned" => Value::Bool(md.taints & (1 << 13) != 0),
                    _ => return Ok(None),
                }
            }
            Value::Lock(l) => match name {
                "address" => Value::Int(l.address as i64),
                "name" => l.name.as_deref().map(Value::str).unwrap_or(Value::Null),
                "kind" => Value::str(l.kind),
                "mode" => Value::str(l.mode),
                "owner" => {
                    let g = m.wait_graph().map_err(&me)?;
                    let owner = match g.locks.iter().find(|c| c.addr == l.address) {
                        Some(c) => c.state.as_ref().ok().and_then(|s| s.owner),
                        None => LockKind::from_name(l.kind)
                            .and_then(|k| m.k.lock_at(l.address, k).ok())
                            .and_then(|s| s.owner),
                    };
                    let ix = m.index().map_err(&me)?;
                    owner
                        .and_then(|a| ix.by_addr.get(&a).map(|i| Value::Task(*i)))
                        .unwrap_or(Value::Null)
                }
                "raw" => match l.name.as_deref().and_then(|n| m.k.global(n).ok()) {
                    Some(o) => Value::Obj(o),
                    None => Value::Null,
                },
                _ => return Ok(None),
            },
            Value::Group(g) => match name {
                "key" => g.key.clone(),
                "items" => Value::list(g.items.clone()),
                "count" => Value::Int(g.items.len() as i64),
                n if g.name.as_deref() == Some(n) => g.key.clone(),
                _ => return Ok(None),
            },
            Value::Map(mm) => match mm.get(name) {
                Some(v) => v.clone(),
                None => return Ok(None),
            },
            Value::Obj(o) => match o.member(name) {
                Ok(x) => Value::Obj(x),
                Err(e) => return err(span, e.to_string()),
            },
            _ => return Ok(None),
        }))
    }

    fn kernel_field(&mut self, name: &str, span: Span) -> Result<Option<Value<'k>>, EvalError> {
        let m = self.m;
        let k = m.k;
        let me = Self::model_err(span);
        let ke = |e: kmodel::Error| EvalError {
            message: e.to_string(),
            span,
        };
        Ok(Some(match name {
            "release" => Value::str(&k.release),
            "version" => Value::Version(Rc::new(parse_version(&k.release).unwrap_or_default())),
            "uptime" => Value::Float(k.uptime_ns().map_err(ke)? as f64 / 1e9),
            "jiffies" => Value::Int(k.jiffies().map_err(ke)? as i64),
            "panic" => m
                .panic_message()
                .map_err(&me)?
                .map(Value::str)
                .unwrap_or(Value::Null),
            "panicked" => Value::Bool(k.panic_cpu().map_err(ke)?.is_some()),
            "crashed_cpu" => k
                .panic_cpu()
                .map_err(ke)?
                .map(|c| Value::Int(c as i64))
                .unwrap_or(Value::Null),
            "crashed_task" => match k.crashed_task().map_err(ke)? {
                Some(t) => m
                    .index()
                    .map_err(&me)?
                    .by_addr
                    .get(&t.addr())
                    .map(|i| Value::Task(*i))
                    .unwrap_or(Value::Null),
                None => Value::Null,
            },
            "taint" => Value::Int(k.tainted_mask().map_err(ke)? as i64),
            "taint_flags" => {
                let mask = k.tainted_mask().map_err(ke)?;
                const LETTERS: &[u8] = b"PFSRMBUDAWCIOELKXTNJ";
                Value::list(
                    (0..LETTERS.len())
                        .filter(|b| mask & (1 << b) != 0)
                        .map(|b| Value::str(&(LETTERS[b] as char).to_string()))
                        .collect(),
                )
            }
            "cmdline" => match k.global("saved_command_line").and_then(|o| o.string()) {
                Ok(s) => Value::str(&s),
                Err(_) => Value::Null,
            },
            "nr_threads" => Value::Int(
                k.global("nr_threads")
                    .and_then(|o| o.as_i64())
                    .map_err(ke)?,
            ),
            "pid_max" => Value::Int(k.global("pid_max").and_then(|o| o.as_i64()).map_err(ke)?),
            "threads_max" => Value::Int(
                k.global("max_threads")
                    .and_then(|o| o.as_i64())
                    .map_err(ke)?,
            ),
            _ => return Ok(None),
        }))
    }

    /// A lock named by its global (or a module's), its kind as the kernel
    /// model found it.
    fn lock_val(&self, addr: u64, kind: Option<LockKind>) -> LockVal {
        LockVal {
            address: addr,
            name: self.m.k.data_symbol(addr),
            kind: kind.map(LockKind::name).unwrap_or("lock"),
            mode: "exclusive",
        }
    }

    fn index(&mut self, b: Value<'k>, i: Value<'k>, span: Span) -> R<'k> {
        match (&b, &i) {
            (Value::List(l), Value::Int(n)) => {
                let n = if *n < 0 { l.len() as i64 + n } else { *n };
                Ok(l.get(n as usize).cloned().unwrap_or(Value::Null))
            }
            (Value::Obj(o), Value::Int(n)) => {
                o.index(*n as u64).map(Value::Obj).map_err(|e| EvalError {
                    message: e.to_string(),
                    span,
                })
            }
            (Value::Obj(o), Value::Str(s)) => o.member(s).map(Value::Obj).map_err(|e| EvalError {
                message: e.to_string(),
                span,
            }),
            (Value::Null, _) => Ok(Value::Null),
            _ => err(
                span,
                format!("cannot index a {} with a {}", b.type_name(), i.type_name()),
            ),
        }
    }

    fn function_names(&self, s: &Value<'k>, span: Span) -> Result<Vec<String>, EvalError> {
        let me = Self::model_err(span);
        Ok(match s {
            Value::Task(i) => self
                .m
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
                                .m
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

    fn regex(&mut self, pat: &str, span: Span) -> Result<Regex, EvalError> {
        if let Some(r) = self.regexes.get(pat) {
            return Ok(r.clone());
        }
        let r = Regex::new(pat).map_err(|e| EvalError {
            message: format!("bad regex: {e}"),
            span,
        })?;
        self.regexes.insert(pat.to_string(), r.clone());
        Ok(r)
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

    fn num(&self, v: &Value<'k>, span: Span) -> Result<Num, EvalError> {
        Ok(match v {
            Value::Int(i) => Num::I(*i),
            Value::Float(f) => Num::F(*f),
            Value::Bool(b) => Num::I(*b as i64),
            Value::Null => Num::Null,
            Value::Obj(o) => match self.scalar(o) {
                Some(i) => Num::I(i),
                None => {
                    // One-member wrappers such as atomic_t read as their value.
                    match o.member("counter").ok().and_then(|c| self.scalar(&c)) {
                        Some(i) => Num::I(i),
                        None => return err(span, format!("`{}` is not a number", o.type_name())),
                    }
                }
            },
            other => {
                return err(
                    span,
                    format!("expected a number, found a {}", other.type_name()),
                )
            }
        })
    }

    fn eq(&self, a: &Value<'k>, b: &Value<'k>, span: Span) -> Result<bool, EvalError> {
        Ok(match (a, b) {
            (Value::Null, Value::Null) => true,
            (Value::Null, _) | (_, Value::Null) => false,
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Version(x), Value::Str(y)) | (Value::Str(y), Value::Version(x)) => {
                parse_version(y)
                    .map(|y| cmp_versions(x, &y).is_eq())
                    .unwrap_or(false)
            }
            (Value::Lock(l), Value::Obj(o)) | (Value::Obj(o), Value::Lock(l)) => {
                l.address == o.addr
            }
            (Value::Lock(l), Value::Lock(m)) => l.address == m.address,
            (Value::Lock(l), Value::Str(s)) | (Value::Str(s), Value::Lock(l)) => {
                l.name.as_deref() == Some(&**s)
            }
            (Value::Task(x), Value::Task(y)) => x == y,
            (Value::Obj(x), Value::Obj(y)) => match (self.scalar(x), self.scalar(y)) {
                (Some(p), Some(q)) => p == q,
                _ => x.addr == y.addr,
            },
            (Value::Bool(x), Value::Bool(y)) => x == y,
            _ => match (self.num(a, span), self.num(b, span)) {
                (Ok(x), Ok(y)) => x.cmp(&y) == Some(std::cmp::Ordering::Equal),
                _ => false,
            },
        })
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, span: Span) -> R<'k> {
        if op == BinOp::And {
            let a = self.eval(lhs)?;
            return if !truthy(&a) {
                Ok(Value::Bool(false))
            } else {
                Ok(Value::Bool(truthy(&self.eval(rhs)?)))
            };
        }
        if op == BinOp::Or {
            let a = self.eval(lhs)?;
            return if truthy(&a) {
                Ok(Value::Bool(true))
            } else {
                Ok(Value::Bool(truthy(&self.eval(rhs)?)))
            };
        }
        let a = self.eval(lhs)?;
        let b = self.eval(rhs)?;
        Ok(match op {
            BinOp::Eq => Value::Bool(self.eq(&a, &b, span)?),
            BinOp::Ne => Value::Bool(!self.eq(&a, &b, span)?),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (&a, &b) {
                    (Value::Null, _) | (_, Value::Null) => return Ok(Value::Bool(false)),
                    (Value::Version(x), Value::Str(y)) => {
                        let y = parse_version(y).ok_or_else(|| EvalError {
                            message: format!("`{y}` is not a version"),
                            span: rhs.span,
                        })?;
                        Some(cmp_versions(x, &y))
                    }
                    (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                    _ => self.num(&a, lhs.span)?.cmp(&self.num(&b, rhs.span)?),
                };
                let Some(o) = ord else {
                    return Ok(Value::Bool(false));
                };
                Value::Bool(match op {
                    BinOp::Lt => o.is_lt(),
                    BinOp::Le => o.is_le(),
                    BinOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                })
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                if let (BinOp::Add, Value::Str(x), Value::Str(y)) = (op, &a, &b) {
                    return Ok(Value::str(&format!("{x}{y}")));
                }
                let (x, y) = (self.num(&a, lhs.span)?, self.num(&b, rhs.span)?);
                match (x, y) {
                    (Num::Null, _) | (_, Num::Null) => Value::Null,
                    (Num::I(x), Num::I(y)) => match op {
                        BinOp::Add => Value::Int(x.wrapping_add(y)),
                        BinOp::Sub => Value::Int(x.wrapping_sub(y)),
                        BinOp::Mul => Value::Int(x.wrapping_mul(y)),
                        BinOp::Div if y == 0 => Value::Null,
                        BinOp::Div => Value::Int(x / y),
                        _ if y == 0 => Value::Null,
                        _ => Value::Int(x % y),
                    },
                    (x, y) => {
                        let (x, y) = (x.f(), y.f());
                        Value::Float(match op {
                            BinOp::Add => x + y,
                            BinOp::Sub => x - y,
                            BinOp::Mul => x * y,
                            BinOp::Div => x / y,
                            _ => x % y,
                        })
                    }
                }
            }
            BinOp::In => {
                let items = self.as_list(b, rhs.span)?;
                let mut hit = false;
                for it in items.iter() {
                    if self.eq(&a, it, span)? {
                        hit = true;
                        break;
                    }
                }
                Value::Bool(hit)
            }
            BinOp::Matches => match (&a, &b) {
                (Value::Str(s), Value::Str(p)) => {
                    let r = self.regex(p, rhs.span)?;
                    Value::Bool(r.is_match(s))
                }
                (Value::Null, _) => Value::Bool(false),
                _ => {
                    return err(
                        span,
                        format!(
                            "`matches` needs a string and a regex, found {} and {}",
                            a.type_name(),
                            b.type_name()
                        ),
                    )
                }
            },
            BinOp::And | BinOp::Or => unreachable!("handled above"),
        })
    }

    fn call(&mut self, f: &str, args: &[Expr], span: Span) -> R<'k> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(a)?);
        }
        let arg_span = |i: usize| args.get(i).map(|a| a.span).unwrap_or(span);
        let list = |s: &Self, i: usize| -> Result<Rc<Vec<Value<'k>>>, EvalError> {
            s.as_list(vals.get(i).cloned().unwrap_or(Value::Null), arg_span(i))
        };
        Ok(match f {
            "count" | "len" => match vals.first() {
                Some(Value::Str(s)) => Value::Int(s.chars().count() as i64),
                _ => Value::Int(list(self, 0)?.len() as i64),
            },
            "sum" => {
                let mut acc = Num::I(0);
                for v in list(self, 0)?.iter() {
                    acc = match (acc, self.num(v, arg_span(0))?) {
                        (Num::I(a), Num::I(b)) => Num::I(a.wrapping_add(b)),
                        (a, Num::Null) => a,
                        (a, b) => Num::F(a.f() + b.f()),
                    };
                }
                acc.value()
            }
            "min" | "max" => {
                let l = list(self, 0)?;
                let mut best: Option<(Key, Value<'k>)> = None;
                for v in l.iter() {
                    let k = self.key(v, arg_span(0))?;
                    let better = match &best {
                        None => true,
                        Some((bk, _)) => {
                            if f == "min" {
                                k < *bk
                            } else {
                                k > *bk
                            }
                        }
                    };
                    if better {
                        best = Some((k, v.clone()));
                    }
                }
                best.map(|(_, v)| v).unwrap_or(Value::Null)
            }
            "first" => list(self, 0)?.first().cloned().unwrap_or(Value::Null),
            "unique" => {
                let mut seen = std::collections::HashSet::new();
                let mut out = Vec::new();
                for v in list(self, 0)?.iter() {
                    if seen.insert(self.key(v, arg_span(0))?) {
                        out.push(v.clone());
                    }
                }
                Value::list(out)
            }
            "sym" | "sym_opt" => match vals.first() {
                Some(Value::Str(s)) => self.global(s, f == "sym_opt", span)?,
                _ => return err(span, format!("{f}() needs a symbol name")),
            },
            "task" => match vals.first() {
                Some(Value::Int(p)) => self
                    .m
                    .index()
                    .map_err(Self::model_err(span))?
                    .by_pid
                    .get(&(*p as i32))
                    .map(|i| Value::Task(*i))
                    .unwrap_or(Value::Null),
                _ => return err(span, "task() needs a pid"),
            },
            "signal_pending" => {
                let (t, sig) = match (vals.first(), vals.get(1)) {
                    (Some(Value::Task(t)), Some(Value::Int(s))) => (*t, *s),
                    (Some(Value::Int(s)), None) => match self.elems.last() {
                        Some(Value::Task(t)) => (*t, *s),
                        _ => return err(span, "signal_pending(SIG) outside a task filter needs a task: signal_pending(t, SIG)"),
                    },
                    _ => return err(span, "signal_pending needs ([task,] signal number)"),
                };
                if !(1..=64).contains(&sig) {
                    return err(span, format!("{sig} is not a signal number"));
                }
                let task = self.m.task(t).map_err(Self::model_err(span))?;
                Value::Bool(task.signal_pending(sig as u32).map_err(|e| EvalError {
                    message: e.to_string(),
                    span,
                })?)
            }
            "version" => match vals.first() {
                Some(Value::Str(s)) => {
                    Value::Version(Rc::new(parse_version(s).ok_or_else(|| EvalError {
                        message: format!("`{s}` is not a version"),
                        span,
                    })?))
                }
                _ => return err(span, "version() needs a string"),
            },
            "percent" => {
                let (a, b) = (
                    self.num(&vals[0], arg_span(0))?.f(),
                    self.num(vals.get(1).unwrap_or(&Value::Null), arg_span(1))?
                        .f(),
                );
                if b == 0.0 {
                    Value::Null
                } else {
                    Value::Float(100.0 * a / b)
                }
            }
            "capture" => match (vals.first(), vals.get(1)) {
                (Some(Value::Str(text)), Some(Value::Str(pat))) => {
                    let r = self.regex(pat, arg_span(1))?;
                    match r.captures(text) {
                        Some(c) => c
                            .get(1)
                            .or_else(|| c.get(0))
                            .map(|m| Value::str(m.as_str()))
                            .unwrap_or(Value::Null),
                        None => Value::Null,
                    }
                }
                (Some(Value::Null), _) => Value::Null,
                _ => return err(span, "capture(text, regex) needs two strings"),
            },
            "rwlock" => self.lock_record(vals.first(), Some(LockKind::Rwlock), f, span)?,
            "mutex" => self.lock_record(vals.first(), Some(LockKind::Mutex), f, span)?,
            "rwsem" => self.lock_record(vals.first(), Some(LockKind::RwSemaphore), f, span)?,
            "waiters" => {
                let o = self.obj_arg(vals.first(), "waiters", span)?;
                let st = self.m.k.lock_state(&o).map_err(|e| EvalError {
                    message: e.to_string(),
                    span,
                })?;
                self.waiters_of(&st, span)?
            }
            other => {
                let json: Vec<serde_json::Value> =
                    vals.iter().map(|v| self.to_json_plain(v)).collect();
                match self.helpers.call(other, json) {
                    Some(Ok(v)) => from_json(&v),
                    Some(Err(e)) => return err(span, format!("helper `{other}`: {e}")),
                    None => return err(span, format!("unknown function `{other}`")),
                }
            }
        })
    }

    fn obj_arg(
        &self,
        v: Option<&Value<'k>>,
        what: &str,
        span: Span,
    ) -> Result<Object<'k>, EvalError> {
        match v {
            Some(Value::Obj(o)) => Ok(*o),
            Some(Value::Lock(l)) => {
                if let Some(o) = l.name.as_deref().and_then(|n| self.m.k.global(n).ok()) {
                    return Ok(o);
                }
                // A lock that is not a global: its kind says its type.
                let kind = LockKind::from_name(l.kind).unwrap_or(LockKind::Spinlock);
                self.m
                    .k
                    .lock_object(l.address, kind)
                    .map_err(|e| EvalError {
                        message: e.to_string(),
                        span,
                    })
            }
            _ => err(
                span,
                format!("{what}() needs a kernel object such as @tasklist_lock"),
            ),
        }
    }

    /// Tasks waiting for the lock at `addr` by their stacks: only tasks on
    /// a CPU (spinners) or asleep in D (sleeping locks) are unwound.
    fn spinners(&self, addr: u64, span: Span) -> R<'k> {
        let me = Self::model_err(span);
        let tasks = self.m.tasks().map_err(&me)?;
        let mut out = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            if !(self.m.k.task_on_cpu(t) || t.state == 'D') {
                continue;
            }
            if let Some(b) = self.m.blocked_on(i).map_err(&me)? {
                if b.addr == addr {
                    out.push(Value::Task(i));
                }
            }
        }
        Ok(Value::list(out))
    }

    /// Who waits on a lock: its own wait list or tree where it has one,
    /// else the tasks whose stacks wait on it.
    fn waiters_of(&self, st: &LockState, span: Span) -> R<'k> {
        match &st.waiters {
            Some(w) => {
                let ix = self.m.index().map_err(Self::model_err(span))?;
                Ok(Value::list(
                    w.iter()
                        .filter_map(|t| ix.by_addr.get(t).map(|i| Value::Task(*i)))
                        .collect(),
                ))
            }
            None => self.spinners(st.addr, span),
        }
    }

    fn task_at(&self, addr: Option<u64>, span: Span) -> Result<Value<'k>, EvalError> {
        let Some(addr) = addr else {
            return Ok(Value::Null);
        };
        Ok(self
            .m
            .index()
            .map_err(Self::model_err(span))?
            .by_addr
            .get(&addr)
            .map(|i| Value::Task(*i))
            .unwrap_or(Value::Null))
    }

    /// `rwlock(x)`, `mutex(x)`, `rwsem(x)`, `lock(x)`: the lock's state as
    /// the kernel model reads it, the same record for every kind and flavour.
    fn lock_record(
        &self,
        v: Option<&Value<'k>>,
        want: Option<LockKind>,
        what: &str,
        span: Span,
    ) -> R<'k> {
        let o = self.obj_arg(v, what, span)?;
        let st = self.m.k.lock_state(&o).map_err(|e| EvalError {
            message: e.to_string(),
            span,
        })?;
        // An RT mutex is an rt_mutex: a wait entered through a tail call
        // shows only the rt_mutex, so mutex() takes either.
        let same =
            |w: LockKind| w == st.kind || (w == LockKind::Mutex && st.kind == LockKind::RtMutex);
        if let Some(w) = want.filter(|w| !same(*w)) {
            return err(
                span,
                format!(
                    "{what}() needs a {}, but {} is a {}",
                    w.name(),
                    o.type_name(),
                    st.kind.name()
                ),
            );
        }
        let opt_int = |v: Option<u64>| v.map(|n| Value::Int(n as i64)).unwrap_or(Value::Null);
        let opt_bool = |v: Option<bool>| v.map(Value::Bool).unwrap_or(Value::Null);
        let mut m = BTreeMap::new();
        m.insert("kind".into(), Value::str(st.kind.name()));
        m.insert("rt".into(), Value::Bool(st.rt));
        m.insert("locked".into(), Value::Bool(st.locked));
        m.insert("readers".into(), opt_int(st.readers));
        m.insert("writer_locked".into(), opt_bool(st.writer_locked));
        m.insert("writer_waiting".into(), opt_bool(st.writer_waiting));
        m.insert("owner".into(), self.task_at(st.owner, span)?);
        m.insert("owner_known".into(), Value::Bool(st.owner_recorded));
        m.insert("reader_owned".into(), Value::Bool(st.reader_owned));
        m.insert(
            "queued_writer".into(),
            self.task_at(st.queued_writer, span)?,
        );
        m.insert("raw".into(), Value::Int(st.raw as i64));
        // The counter's name on native kernels, kept for rules written so.
        m.insert("cnts".into(), Value::Int(st.raw as i64));
        m.insert("count".into(), Value::Int(st.raw as i64));
        m.insert("waiters".into(), self.waiters_of(&st, span)?);
        Ok(Value::Map(Rc::new(m)))
    }

    /// A plain JSON form (for helpers): model values become small maps.
    pub fn to_json_plain(&self, v: &Value<'k>) -> serde_json::Value {
        use serde_json::json;
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::Str(s) => json!(s.as_ref()),
            Value::Version(v) => json!(v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(".")),
            Value::List(l) => serde_json::Value::Array(l.iter().map(|x| self.to_json_plain(x)).collect()),
            Value::Task(i) => match self.m.task(*i) {
                Ok(t) => json!({"pid": t.pid, "tgid": t.tgid, "comm": t.comm, "state": t.state.to_string()}),
                Err(_) => serde_json::Value::Null,
            },
            Value::Lock(l) => json!({"address": format!("{:#x}", l.address), "name": l.name, "kind": l.kind}),
            Value::Obj(o) => match self.scalar(o) {
                Some(i) => json!(i),
                None => json!({"type": o.type_name(), "address": format!("{:#x}", o.addr)}),
            },
            Value::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), self.to_json_plain(v))).collect()),
            Value::Record(i) => match self.m.dmesg() {
                Ok(d) => d.get(*i).map(|r| json!({"level": r.level, "timestamp": r.timestamp_ns as f64 / 1e9, "text": r.text})).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            Value::Zone(i) => match self.m.memory() {
                Ok(mem) => mem.zones.get(*i).map(|z| json!({"node": z.node, "name": z.name, "free": z.free, "min": z.min, "low": z.low, "high": z.high})).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            Value::Module(i) => match self.m.modules() {
                Ok(ms) => ms.get(*i).map(|m| json!({"name": m.name, "base": format!("{:#x}", m.base), "size": m.size, "taints": m.taints})).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            Value::Cpu(i) => match self.m.cpus() {
                Ok(cs) => cs.get(*i).map(|c| json!({"id": c.id, "nr_running": c.nr_running})).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            Value::Frame(t, f) => match self.m.stack(*t) {
                Ok(s) => s.frames.get(*f).map(|fr| json!({"function": fr.function, "pc": format!("{:#x}", fr.pc), "inline": fr.inline})).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            other => json!(other.type_name()),
        }
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

#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
    Null,
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
            Num::Null => 0.0,
        }
    }
    fn value<'k>(self) -> Value<'k> {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Float(f),
            Num::Null => Value::Null,
        }
    }
    fn cmp(&self, o: &Num) -> Option<std::cmp::Ordering> {
        match (self, o) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(b)),
            (Num::Null, _) | (_, Num::Null) => None,
            (a, b) => a.f().partial_cmp(&b.f()),
        }
    }
}

pub fn truthy(v: &Value<'_>) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        Value::List(l) => !l.is_empty(),
        _ => true,
    }
}
