//! The object model the rule language sees, as the checker types it: [`Ty`],
//! the static types, whose fields are the declarations of
//! [`crate::builtins`]; and the model printed for rule authors
//! (`vmtriage schema`, as `yr dump` does for YARA-X modules) and as JSON
//! (for the knowledge-base site and editors), both generated from them.

use std::fmt;

use crate::builtins::operators::{self, OnNull};
use crate::builtins::{self, Shape};

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
    /// The type of `self.name`, if it has such a field. Field access on a list
    /// maps over its elements (and flattens lists of lists).
    pub fn field(&self, name: &str) -> Option<Ty> {
        match self {
            Ty::Object | Ty::Any => Some(Ty::Object),
            Ty::List(inner) => inner.field(name).map(|t| match t {
                Ty::List(x) => Ty::List(x),
                t => Ty::List(Box::new(t)),
            }),
            // A group's fields are typed by its elements' type (`T`).
            Ty::Group(inner) => builtins::field(self.name(), name).map(|f| f.ty.to_ty(Some(inner))),
            other => builtins::field(other.name(), name).map(|f| f.ty.to_ty(None)),
        }
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

/// The schema as text (`vmtriage schema`).
pub fn render() -> String {
    let mut s = String::from("# The vmtriage object model\n\n## Roots\n\n");
    let width = builtins::roots().map(|r| r.name.len()).max().unwrap_or(0);
    for r in builtins::roots() {
        s += &format!("  {:<width$} {:<20} {}\n", r.name, r.ty.to_string(), r.doc);
    }
    for t in builtins::types() {
        s += &format!("\n## {}\n\n  {}\n\n", t.name, t.doc);
        for f in t.fields {
            s += &format!("  {:<16} {:<14} {}\n", f.name, shown(&f.ty), f.doc);
        }
    }
    s += "\n## Functions\n\n";
    for f in builtins::functions() {
        for (i, sig) in f.signatures().iter().enumerate() {
            let doc = if i == 0 { f.doc } else { "" };
            s += &format!("  {sig:<52} {doc}\n");
        }
    }
    s += "\n## Operators\n\n  Each overload as `operands -> result`, tried in order; a rule that applies an\n  operator to other types is refused (C011). Null operands: see each operator.\n";
    for o in operators::OPERATORS {
        s += &format!(
            "\n  {:<8} {} ({})\n",
            o.op.symbol(),
            o.doc,
            on_null(o.on_null)
        );
        for ov in o.overloads {
            let also: Vec<&str> = ov.outcomes.iter().map(|x| x.doc()).collect();
            let also = if also.is_empty() {
                String::new()
            } else {
                format!(" ({})", also.join("; "))
            };
            s += &format!("    {:<38} {}{also}\n", ov.signature(o.op), ov.doc);
        }
    }
    s += "\n## Sort and group keys\n\n  What `sort`, `top`, `group`, `min`, `max` and `unique` take as a key (null: first; `group` leaves it out):\n";
    for k in operators::SORT_KEYS {
        s += &format!("  {:<44} {}\n", k.name, k.doc);
    }
    s += "\n## Constants\n\n  ";
    s += &builtins::constants()
        .map(|c| format!("{}={}", c.name, c.value))
        .collect::<Vec<_>>()
        .join(" ");
    s += "\n\n## Kernel globals\n\n  @name reads any global through the dump's DWARF (members with .field);\n  @?name is null on kernels that lack it. Such members are checked once a dump is open.\n";
    s
}

/// What an operator does with a null operand, in words.
fn on_null(n: OnNull) -> &'static str {
    match n {
        OnNull::Null => "null if an operand is null",
        OnNull::False => "false if an operand is null",
        OnNull::Overloads => "a null operand: as its overloads say",
    }
}

/// A field's type as the schema shows it (`T` is a group's element type).
fn shown(s: &Shape) -> String {
    match s {
        Shape::Var(_) => "T".into(),
        Shape::List(Shape::Var(_)) => "list<T>".into(),
        s => s.to_string(),
    }
}

/// The schema as JSON (`vmtriage schema --format json`, the site):
/// `{roots: [{name, type, doc}], types: [{name, doc, fields: [{name, type,
/// doc}]}], functions: [{name, module, signatures, doc}], operators:
/// [{operator, doc, null, overloads: [{signature, operands, result, doc,
/// outcomes}]}], sort_keys: [{name, type, doc}], constants: [{name, value, doc}]}`.
pub fn to_json() -> serde_json::Value {
    use serde_json::json;
    json!({
        "roots": builtins::roots()
            .map(|r| json!({"name": r.name, "type": r.ty.to_string(), "doc": r.doc}))
            .collect::<Vec<_>>(),
        "types": builtins::types()
            .map(|t| json!({"name": t.name, "doc": t.doc, "fields": t.fields.iter()
                .map(|f| json!({"name": f.name, "type": shown(&f.ty), "doc": f.doc}))
                .collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
        "functions": builtins::MODULES.iter()
            .flat_map(|m| m.functions.iter().map(move |f| json!({"name": f.name, "module": m.name,
                "signatures": f.signatures(), "doc": f.doc})))
            .collect::<Vec<_>>(),
        "operators": operators::OPERATORS.iter()
            .map(|o| json!({"operator": o.op.symbol(), "doc": o.doc, "null": on_null(o.on_null),
                "overloads": o.overloads.iter().map(|ov| json!({
                    "signature": ov.signature(o.op),
                    "operands": ov.operands.iter().map(shown).collect::<Vec<_>>(),
                    "result": shown(&ov.result), "doc": ov.doc,
                    "outcomes": ov.outcomes.iter().map(|x| x.doc()).collect::<Vec<_>>()}))
                .collect::<Vec<_>>()}))
            .collect::<Vec<_>>(),
        "sort_keys": operators::SORT_KEYS.iter()
            .map(|k| json!({"name": k.name, "type": k.ty.to_string(), "doc": k.doc}))
            .collect::<Vec<_>>(),
        "constants": builtins::constants()
            .map(|c| json!({"name": c.name, "value": c.value, "doc": c.doc}))
            .collect::<Vec<_>>(),
    })
}
