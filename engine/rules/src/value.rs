//! Run-time values of the rule language.

use std::collections::BTreeMap;
use std::rc::Rc;

use kmodel::locks::LockState;
use kmodel::Object;

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

/// A hashable identity for grouping and equality of model values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Addr(u64),
    Task(usize),
    Other(String),
}
