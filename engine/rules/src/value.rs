//! Run-time values of the rule language.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::rc::Rc;

use kmodel::locks::LockState;
use kmodel::Object;
use vmtriage_dsl::ast::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct LockVal {
    pub address: u64,
    pub name: Option<String>,
    pub kind: &'static str,
    /// How the task waits: `read`, `write`, `exclusive`.
    pub mode: &'static str,
}

#[derive(Debug, Clone)]
pub struct GroupVal<'k> {
    pub key: Value<'k>,
    pub name: Option<String>,
    pub items: Vec<Value<'k>>,
}

#[derive(Debug, Clone)]
pub enum Value<'k> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Version(Rc<Vec<u64>>),
    List(Rc<Vec<Value<'k>>>),
    Task(usize),
    Frame(usize, usize),
    Cpu(usize),
    Kernel,
    Record(usize),
    Memory,
    Zone(usize),
    Module(usize),
    Lock(Rc<LockVal>),
    /// A lock's state as `rwlock()`, `rwsem()`, `mutex()` read it.
    LockState(Rc<LockState>),
    Rcu,
    Pool(usize),
    /// A crash report of the log, by its index in `Model::reports`.
    Report(usize),
    /// A memory cgroup, by its index in `Model::memcgs`.
    Memcg(usize),
    /// An open file: (task index, position in `Model::open_files`).
    File(usize, usize),
    Slab(usize),
    Group(Rc<GroupVal<'k>>),
    Obj(Object<'k>),
    Map(Rc<BTreeMap<String, Value<'k>>>),
}

impl<'k> Value<'k> {
    pub fn str(s: &str) -> Value<'k> {
        Value::Str(Rc::from(s))
    }
    pub fn list(v: Vec<Value<'k>>) -> Value<'k> {
        Value::List(Rc::new(v))
    }
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Version(_) => "version",
            Value::List(_) => "list",
            Value::Task(_) => "task",
            Value::Frame(..) => "frame",
            Value::Cpu(_) => "cpu",
            Value::Kernel => "kernel",
            Value::Record(_) => "record",
            Value::Memory => "memory",
            Value::Zone(_) => "zone",
            Value::Module(_) => "module",
            Value::Lock(_) => "lock",
            Value::LockState(_) => "lock_state",
            Value::Rcu => "rcu",
            Value::Pool(_) => "pool",
            Value::Report(_) => "report",
            Value::Memcg(_) => "memcg",
            Value::File(..) => "file",
            Value::Slab(_) => "slab",
            Value::Group(_) => "group",
            Value::Obj(_) => "object",
            Value::Map(_) => "map",
        }
    }
}

/// What `sort`, `top`, `group`, `min`, `max` and `unique` order and group
/// values by (`builtins::operators::SORT_KEYS` says which types
/// have one). Numbers compare by value, an int with a float too; versions
/// in release order; values of different kinds by kind.
#[derive(Debug, Clone)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Version(Vec<u64>),
    Addr(u64),
    /// A model object: its type and place (`tasks` index; task and frame).
    Model(&'static str, usize, usize),
}

impl Key {
    fn rank(&self) -> u8 {
        match self {
            Key::Null => 0,
            Key::Bool(_) => 1,
            Key::Int(_) | Key::Float(_) => 2,
            Key::Str(_) => 3,
            Key::Version(_) => 4,
            Key::Addr(_) => 5,
            Key::Model(..) => 6,
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Int(a), Key::Float(b)) => int_float(*a, *b),
            (Key::Float(a), Key::Int(b)) => int_float(*b, *a).reverse(),
            // -0.0 == 0.0; NaN (which arithmetic never makes) last.
            (Key::Float(a), Key::Float(b)) if a == b => Ordering::Equal,
            (Key::Float(a), Key::Float(b)) => a.total_cmp(b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Version(a), Key::Version(b)) => crate::version::cmp_versions(a, b),
            (Key::Addr(a), Key::Addr(b)) => a.cmp(b),
            (Key::Model(t, a, b), Key::Model(u, c, d)) => (t, a, b).cmp(&(u, c, d)),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

/// An int and a float in numeric order, exactly (`as f64` rounds large ints).
pub(crate) fn int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() || f >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        o => o,
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

/// A run-time error of one rule on one dump, with where in the expression.
#[derive(Debug, Clone)]
pub struct EvalError {
    pub message: String,
    pub span: Span,
}

/// The functions a rule may call besides the built-ins (the pack's rhai
/// helpers), called with plain JSON values; None when there is no such
/// function.
pub trait Helpers {
    fn call(
        &self,
        name: &str,
        args: Vec<serde_json::Value>,
    ) -> Option<Result<serde_json::Value, String>>;
}

/// A value read as a number (a kernel object that is one, a bool as 0 or
/// 1): an int, a float, or null.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    I(i64),
    F(f64),
    Null,
}

impl Num {
    pub(crate) fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
            Num::Null => 0.0,
        }
    }
    pub(crate) fn value<'k>(self) -> Value<'k> {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Float(f),
            Num::Null => Value::Null,
        }
    }
}

/// Whether a value holds as a condition: null, false, 0, "" and [] do not.
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
