//! The static types of the rule language, as the checker types
//! expressions. Plain data: which fields a type has is the built-ins'
//! declaration (`builtins::field_type`, a layer above).

use std::fmt;

/// A static type of the rule language.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// Not known until a dump is open: kernel objects through DWARF (`@x`, `.raw`).
    Object,
    Any,
    Null,
    Bool,
    Int,
    Float,
    Str,
    Version,
    List(Box<Ty>),
    Task,
    Frame,
    Cpu,
    Kernel,
    Record,
    Memory,
    Zone,
    Module,
    Lock,
    /// What `rwlock()`, `rwsem()`, `mutex()` return.
    LockState,
    /// The RCU grace-period state (`rcu`).
    Rcu,
    /// A workqueue worker pool.
    Pool,
    /// A slab cache.
    Slab,
    /// A crash report of the kernel log (an oops, BUG, warning, lockup…).
    Report,
    /// A memory cgroup.
    Memcg,
    /// A task's open file.
    File,
    Group(Box<Ty>),
}

impl Ty {
    pub fn list(t: Ty) -> Ty {
        Ty::List(Box::new(t))
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Object | Ty::Any | Ty::Null)
    }
    pub fn name(&self) -> &'static str {
        match self {
            Ty::Object => "object",
            Ty::Any => "any",
            Ty::Null => "null",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::Str => "string",
            Ty::Version => "version",
            Ty::List(_) => "list",
            Ty::Task => "task",
            Ty::Frame => "frame",
            Ty::Cpu => "cpu",
            Ty::Kernel => "kernel",
            Ty::Record => "record",
            Ty::Memory => "memory",
            Ty::Zone => "zone",
            Ty::Module => "module",
            Ty::Lock => "lock",
            Ty::LockState => "lock_state",
            Ty::Rcu => "rcu",
            Ty::Report => "report",
            Ty::Memcg => "memcg",
            Ty::File => "file",
            Ty::Pool => "pool",
            Ty::Slab => "slab",
            Ty::Group(_) => "group",
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Group(t) => write!(f, "group<{t}>"),
            t => f.write_str(t.name()),
        }
    }
}
