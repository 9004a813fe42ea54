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

/// What reading something of the language needs, weakest first: nothing
/// but the values at hand (the language's own functions), the kernel log
/// (its records, the reports parsed from it, the release its `Linux
/// version` line gives), or a dump (the kernel's memory: tasks, locks,
/// globals, stacks…). Each built-in declares its own; a rule needs the
/// strongest need of anything it uses, or what it declares (`needs:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    Nothing,
    Log,
    Dump,
}

impl Need {
    /// As a rule's `needs:` writes it and `rules list` shows it: a rule
    /// that needs nothing runs on a log too, so it is shown as `log`.
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Nothing => "nothing",
            Need::Log => "log",
            Need::Dump => "dump",
        }
    }
    /// What a rule with this need runs on (`log` or `dump`).
    pub fn of_rule(self) -> Need {
        self.max(Need::Log)
    }
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
