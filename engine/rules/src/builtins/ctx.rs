//! What a built-in may use while it runs: the dump's model, the bounds of
//! the rule (its work budget, its time, its regexes), and the element a
//! filter is looking at. Built-ins and operators take this narrow context,
//! never the evaluator (as YARA-X's module functions take a scan context,
//! never the compiler): they cannot reach a rule's variables, its
//! parameters or its helpers, and the evaluator and the checker both call
//! them without either depending on the other.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use kdebuginfo::TypeKind;
use kmodel::Object;
use regex::Regex;
use vmtriage_dsl::ast::Span;

use super::operators;
use super::{fail, type_decl, R};
use crate::limits::{compile_regex, BUDGET, MAX_REGEXES, RULE_TIME};
use crate::model::Model;
use crate::value::{EvalError, Key, Num, Value};

/// The context of one rule's evaluation on one dump.
pub struct Ctx<'m, 'k> {
    /// The dump's model; `None` without a dump (tests of the language, the
    /// checker folding constants), where every read of the model is an
    /// error.
    pub m: Option<&'m Model<'k>>,
    /// The elements the filters (`where`, a quantifier, `group`) being
    /// evaluated are looking at, innermost last.
    pub(crate) elems: Vec<Value<'k>>,
    budget: Cell<u64>,
    regexes: HashMap<String, Regex>,
    /// When evaluation started, and how much dump reading the model had
    /// done by then.
    started: std::time::Instant,
    model_spent: std::time::Duration,
}

impl<'m, 'k> Ctx<'m, 'k> {
    /// A fresh context (a full budget, the clock started now) on a dump's
    /// model, or on none.
    pub fn new(m: Option<&'m Model<'k>>) -> Self {
        Ctx {
            m,
            elems: Vec::new(),
            budget: Cell::new(BUDGET),
            regexes: HashMap::new(),
            started: std::time::Instant::now(),
            model_spent: m.map(|m| m.spent.get()).unwrap_or_default(),
        }
    }

    /// The dump's model, or an error at `span` when there is no dump.
    pub fn model(&self, span: Span) -> Result<&'m Model<'k>, EvalError> {
        self.m.ok_or_else(|| EvalError {
            message: "no dump is open".into(),
            span,
        })
    }

    /// The dump's kernel model, or an error at `span` without a dump (no
    /// model, or the model of a kernel log alone: "needs a dump").
    pub fn kernel(&self, span: Span) -> Result<&'k kmodel::Kernel, EvalError> {
        self.model(span)?.kernel().map_err(super::model_err(span))
    }

    /// The element a filter (`where`, a quantifier, `group`) is looking at.
    pub(crate) fn elem(&self) -> Option<&Value<'k>> {
        self.elems.last()
    }

    /// Spends `n` units of the work budget: an error once the budget or
    /// the rule's time (dump reading not counted) is used up.
    pub(crate) fn spend(&self, n: u64, span: Span) -> Result<(), EvalError> {
        let b = self.budget.get();
        if b < n {
            return fail(
                span,
                "the rule exceeded its evaluation budget (an expression too costly for this dump)",
            );
        }
        self.budget.set(b - n);
        // The clock is read once per 4096 units of work.
        if (b - n) >> 12 != b >> 12 {
            let read = self
                .m
                .map(|m| m.spent.get().saturating_sub(self.model_spent))
                .unwrap_or_default();
            if self.started.elapsed().saturating_sub(read) > RULE_TIME {
                return fail(
                    span,
                    format!(
                        "the rule ran over its time limit ({} s of evaluation, reading the dump not counted)",
                        RULE_TIME.as_secs()
                    ),
                );
            }
        }
        Ok(())
    }

    /// A value's sort and group key (`operators::SORT_KEYS`).
    pub(crate) fn key(&self, v: &Value<'k>, span: Span) -> Result<Key, EvalError> {
        operators::key_of(self, v).ok_or_else(|| EvalError {
            message: format!(
                "cannot sort or group by a {}: it has no order",
                v.type_name()
            ),
            span,
        })
    }

    /// A value as a list (null is the empty list, a group its elements).
    pub(crate) fn as_list(
        &self,
        v: Value<'k>,
        span: Span,
    ) -> Result<Rc<Vec<Value<'k>>>, EvalError> {
        match v {
            Value::List(l) => Ok(l),
            Value::Null => Ok(Rc::new(Vec::new())),
            Value::Group(g) => Ok(Rc::new(g.items.clone())),
            other => fail(
                span,
                format!("expected a list, found a {}", other.type_name()),
            ),
        }
    }

    pub(crate) fn global(&self, name: &str, optional: bool, span: Span) -> R<'k> {
        let k = self.kernel(span)?;
        match k.global(name) {
            Ok(o) => Ok(Value::Obj(o)),
            Err(_) if optional => Ok(Value::Null),
            Err(e) => fail(
                span,
                format!(
                    "{e} (on {}); write `@?{name}` if only some kernels have it",
                    k.release
                ),
            ),
        }
    }

    /// The integer value of a scalar kernel object; None for aggregates.
    pub(crate) fn scalar(&self, o: &Object<'k>) -> Option<i64> {
        match o.resolved().ok()?.kind {
            TypeKind::Base { .. } | TypeKind::Enum { .. } | TypeKind::Pointer { .. } => {
                o.as_i64().ok()
            }
            _ => None,
        }
    }

    /// A regex of the rule, compiled with the rules' limits once per
    /// pattern (at most `MAX_REGEXES` kept).
    pub(crate) fn regex(&mut self, pat: &str, span: Span) -> Result<Regex, EvalError> {
        if let Some(r) = self.regexes.get(pat) {
            return Ok(r.clone());
        }
        let r = compile_regex(pat).map_err(|e| EvalError {
            message: format!("bad regex: {e}"),
            span,
        })?;
        if self.regexes.len() >= MAX_REGEXES {
            self.regexes.clear();
        }
        self.regexes.insert(pat.to_string(), r.clone());
        Ok(r)
    }

    /// A value as a number (a kernel object that is one reads as its value).
    pub(crate) fn num(&self, v: &Value<'k>, span: Span) -> Result<Num, EvalError> {
        Ok(match v {
            Value::Int(i) => Num::I(*i),
            Value::Float(f) => Num::F(*f),
            Value::Bool(b) => Num::I(*b as i64),
            Value::Null => Num::Null,
            Value::Obj(o) => match self.scalar(o) {
                Some(i) => Num::I(i),
                None => {
                    // One-member wrappers such as atomic_t read as their value.
                    match o.unwrapped().and_then(|c| self.scalar(&c)) {
                        Some(i) => Num::I(i),
                        None => return fail(span, format!("`{}` is not a number", o.type_name())),
                    }
                }
            },
            other => {
                return fail(
                    span,
                    format!("expected a number, found a {}", other.type_name()),
                )
            }
        })
    }

    /// Every declared field of a record value (a lock's state), by name;
    /// a field that cannot be read is null.
    pub fn record_fields(&self, v: &Value<'k>) -> Vec<(&'static str, Value<'k>)> {
        let Some(t) = type_decl(v.type_name()) else {
            return Vec::new();
        };
        let mut out: Vec<(&'static str, Value<'k>)> = t
            .fields
            .iter()
            .map(|f| {
                (
                    f.name,
                    (f.get)(self, v, Span::new(0, 0)).unwrap_or(Value::Null),
                )
            })
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out
    }

    /// A plain JSON form (for helpers): model values become small maps.
    pub fn to_json_plain(&self, v: &Value<'k>) -> serde_json::Value {
        use serde_json::json;
        let null = serde_json::Value::Null;
        match v {
            Value::Null => null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::Float(f) => json!(f),
            Value::Str(s) => json!(s.as_ref()),
            Value::Version(v) => json!(v
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(".")),
            Value::List(l) => {
                serde_json::Value::Array(l.iter().map(|x| self.to_json_plain(x)).collect())
            }
            Value::Lock(l) => {
                json!({"address": format!("{:#x}", l.address), "name": l.name, "kind": l.kind})
            }
            Value::Obj(o) => match self.scalar(o) {
                Some(i) => json!(i),
                None => json!({"type": o.type_name(), "address": format!("{:#x}", o.addr)}),
            },
            Value::Map(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.to_json_plain(v)))
                    .collect(),
            ),
            Value::LockState(_) => serde_json::Value::Object(
                self.record_fields(v)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), self.to_json_plain(&v)))
                    .collect(),
            ),
            model_value => match self.m {
                Some(m) => Self::model_json(m, model_value),
                None => null,
            },
        }
    }

    /// The plain JSON form of a value of the model (a task, a record…).
    fn model_json(m: &Model<'k>, v: &Value<'k>) -> serde_json::Value {
        use serde_json::json;
        let null = serde_json::Value::Null;
        match v {
            Value::Task(i) => match m.task(*i) {
                Ok(t) => json!({"pid": t.pid, "tgid": t.tgid, "comm": t.comm, "state": t.state.to_string()}),
                Err(_) => null,
            },
            Value::Record(i) => match m.dmesg() {
                Ok(d) => d.get(*i).map(|r| json!({"level": r.level, "timestamp": r.timestamp_ns as f64 / 1e9, "text": r.text})).unwrap_or_default(),
                Err(_) => null,
            },
            Value::Zone(i) => match m.memory() {
                Ok(mem) => mem.zones.get(*i).map(|z| json!({"node": z.node, "name": z.name, "free": z.free, "min": z.min, "low": z.low, "high": z.high})).unwrap_or_default(),
                Err(_) => null,
            },
            Value::Module(i) => match m.modules() {
                Ok(ms) => ms.get(*i).map(|m| json!({"name": m.name, "base": format!("{:#x}", m.base), "size": m.size, "taints": m.taints})).unwrap_or_default(),
                Err(_) => null,
            },
            Value::Cpu(i) => match m.cpus() {
                Ok(cs) => cs.get(*i).map(|c| json!({"id": c.id, "nr_running": c.nr_running})).unwrap_or_default(),
                Err(_) => null,
            },
            Value::Frame(t, f) => match m.stack(*t) {
                Ok(s) => s.frames.get(*f).map(|fr| json!({"function": fr.function, "pc": format!("{:#x}", fr.pc), "inline": fr.inline})).unwrap_or_default(),
                Err(_) => null,
            },
            other => json!(other.type_name()),
        }
    }
}
