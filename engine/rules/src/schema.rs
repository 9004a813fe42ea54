//! The object model the rule language sees: roots, types and their fields.
//! The checker types expressions against it before any dump is opened;
//! `vmtriage schema` prints it (as `yr dump` does for YARA-X modules).

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
            Ty::Group(inner) => match name {
                "key" => Some(Ty::Any),
                "items" => Some(Ty::List(inner.clone())),
                "count" => Some(Ty::Int),
                _ => None,
            },
            other => FIELDS
                .iter()
                .find(|f| f.owner == other.name() && f.name == name)
                .map(|f| (f.ty)()),
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

pub struct Field {
    pub owner: &'static str,
    pub name: &'static str,
    pub ty: fn() -> Ty,
    pub doc: &'static str,
}

macro_rules! f {
    ($owner:literal, $name:literal, $ty:expr, $doc:literal) => {
        Field {
            owner: $owner,
            name: $name,
            ty: || $ty,
            doc: $doc,
        }
    };
}

/// Every field of every model type.
pub static FIELDS: &[Field] = &[
    f!("task", "pid", Ty::Int, "thread id"),
    f!("task", "tgid", Ty::Int, "process id (thread group id)"),
    f!(
        "task",
        "ppid",
        Ty::Int,
        "parent's process id, as /proc's PPid"
    ),
    f!("task", "comm", Ty::Str, "command name"),
    f!(
        "task",
        "state",
        Ty::Str,
        "state letter as ps shows it: R S D T t X Z P I"
    ),
    f!(
        "task",
        "state_name",
        Ty::Str,
        "state as /proc/PID/status spells it"
    ),
    f!("task", "flags", Ty::Int, "PF_* flags"),
    f!("task", "cpu", Ty::Int, "CPU the task last ran on"),
    f!("task", "on_cpu", Ty::Bool, "running on a CPU at dump time"),
    f!("task", "kthread", Ty::Bool, "a kernel thread (PF_KTHREAD)"),
    f!("task", "exiting", Ty::Bool, "in the exit path (PF_EXITING)"),
    f!(
        "task",
        "sigkill_pending",
        Ty::Bool,
        "SIGKILL pending for the task or its group"
    ),
    f!("task", "address", Ty::Int, "address of the task_struct"),
    f!(
        "task",
        "parent",
        Ty::Task,
        "real parent (null for pid 1 and kthreadd)"
    ),
    f!("task", "leader", Ty::Task, "thread group leader"),
    f!(
        "task",
        "children",
        Ty::list(Ty::Task),
        "child processes (their group leaders)"
    ),
    f!(
        "task",
        "threads",
        Ty::list(Ty::Task),
        "every thread of the task's group, leader included"
    ),
    f!(
        "task",
        "stack",
        Ty::list(Ty::Frame),
        "kernel stack, innermost frame first (unwound on first use)"
    ),
    f!(
        "task",
        "blocked_on",
        Ty::Lock,
        "the lock the task waits for, from the outermost lock wait site of its stack (native and PREEMPT_RT); null if none"
    ),
    f!(
        "task",
        "raw",
        Ty::Object,
        "the task_struct as a typed kernel object (members through DWARF)"
    ),
    f!(
        "task",
        "waits_for",
        Ty::list(Ty::Task),
        "the wait-for chain: the owner of the lock the task waits for, that owner's lock's owner, … to a task that waits for nothing, a lock with no recorded owner, or back into a cycle (each task once); empty if the task waits for no lock"
    ),
    f!(
        "frame",
        "function",
        Ty::Str,
        "function name (null if unknown)"
    ),
    f!("frame", "pc", Ty::Int, "program counter"),
    f!("frame", "sp", Ty::Int, "stack pointer"),
    f!("frame", "offset", Ty::Int, "pc offset into the function"),
    f!("frame", "inline", Ty::Bool, "an inlined call at this pc"),
    f!("frame", "file", Ty::Str, "source file"),
    f!("frame", "line", Ty::Int, "source line"),
    f!(
        "frame",
        "module",
        Ty::Str,
        "module name, null for the kernel image"
    ),
    f!("cpu", "id", Ty::Int, "CPU number"),
    f!("cpu", "current", Ty::Task, "task running at dump time"),
    f!(
        "cpu",
        "nr_running",
        Ty::Int,
        "runnable tasks on its runqueue"
    ),
    f!("cpu", "crashed", Ty::Bool, "the CPU that panicked"),
    f!("kernel", "release", Ty::Str, "uname -r"),
    f!(
        "kernel",
        "version",
        Ty::Version,
        "the release as a comparable version (compare with \"6.1\")"
    ),
    f!("kernel", "uptime", Ty::Float, "seconds since boot"),
    f!("kernel", "jiffies", Ty::Int, "jiffies_64"),
    f!(
        "kernel",
        "panic",
        Ty::Str,
        "panic message, null if the kernel did not panic"
    ),
    f!("kernel", "panicked", Ty::Bool, "the kernel panicked"),
    f!("kernel", "crashed_task", Ty::Task, "the task that panicked"),
    f!("kernel", "crashed_cpu", Ty::Int, "the CPU that panicked"),
    f!(
        "kernel",
        "taint",
        Ty::Int,
        "taint mask (/proc/sys/kernel/tainted)"
    ),
    f!(
        "kernel",
        "taint_flags",
        Ty::list(Ty::Str),
        "taint letters set, e.g. [\"O\", \"E\"]"
    ),
    f!("kernel", "cmdline", Ty::Str, "kernel command line"),
    f!("kernel", "nr_threads", Ty::Int, "nr_threads"),
    f!("kernel", "pid_max", Ty::Int, "pid_max"),
    f!(
        "kernel",
        "threads_max",
        Ty::Int,
        "max_threads (kernel.threads-max)"
    ),
    f!("record", "level", Ty::Int, "log level 0-7"),
    f!("record", "timestamp", Ty::Float, "seconds since boot"),
    f!("record", "text", Ty::Str, "message text"),
    f!("memory", "totalram", Ty::Int, "total RAM pages"),
    f!("memory", "free", Ty::Int, "free pages"),
    f!("memory", "zones", Ty::list(Ty::Zone), "populated zones"),
    f!("zone", "node", Ty::Int, "NUMA node"),
    f!("zone", "name", Ty::Str, "DMA, DMA32, Normal, Movable"),
    f!("zone", "free", Ty::Int, "free pages"),
    f!("zone", "min", Ty::Int, "min watermark (pages)"),
    f!("zone", "low", Ty::Int, "low watermark"),
    f!("zone", "high", Ty::Int, "high watermark"),
    f!("zone", "present", Ty::Int, "present pages"),
    f!("module", "name", Ty::Str, "module name"),
    f!("module", "base", Ty::Int, "start of its core text"),
    f!("module", "size", Ty::Int, "size of its core text"),
    f!("module", "taints", Ty::Int, "taint mask of the module"),
    f!(
        "module",
        "out_of_tree",
        Ty::Bool,
        "loaded from outside the kernel tree (taint O)"
    ),
    f!(
        "module",
        "unsigned",
        Ty::Bool,
        "loaded without a valid signature (taint E)"
    ),
    f!("lock", "address", Ty::Int, "address of the lock"),
    f!(
        "lock",
        "name",
        Ty::Str,
        "the global it is (name, name+0xOFF, or name [module]); null for heap locks"
    ),
    f!(
        "lock",
        "kind",
        Ty::Str,
        "mutex, rwsem, rwlock, spinlock, raw_spinlock, rt_mutex, percpu_rwsem, semaphore (from the kernel model's wait sites)"
    ),
    f!(
        "lock",
        "mode",
        Ty::Str,
        "how the task waits: read, write (reader-writer locks) or exclusive"
    ),
    f!(
        "lock",
        "raw",
        Ty::Object,
        "the lock as a typed kernel object"
    ),
    f!(
        "lock",
        "owner",
        Ty::Task,
        "the task holding it, where the kernel records one (mutex, rwsem writer, rt_mutex, RT spinlock/rwlock writer); null if free or not recorded"
    ),
];

pub struct Root {
    pub name: &'static str,
    pub ty: fn() -> Ty,
    pub doc: &'static str,
}

pub static ROOTS: &[Root] = &[
    Root {
        name: "tasks",
        ty: || Ty::list(Ty::Task),
        doc: "every task (thread) in the dump",
    },
    Root {
        name: "cpus",
        ty: || Ty::list(Ty::Cpu),
        doc: "online CPUs",
    },
    Root {
        name: "kernel",
        ty: || Ty::Kernel,
        doc: "release, uptime, panic, taint, cmdline",
    },
    Root {
        name: "dmesg",
        ty: || Ty::list(Ty::Record),
        doc: "the kernel log",
    },
    Root {
        name: "memory",
        ty: || Ty::Memory,
        doc: "RAM and zone watermarks",
    },
    Root {
        name: "deadlocks",
        ty: || Ty::list(Ty::list(Ty::Task)),
        doc: "every wait-for cycle (each a list of its tasks in wait order: each waits for a lock the next one holds), only where every owner is recorded",
    },
    Root {
        name: "modules",
        ty: || Ty::list(Ty::Module),
        doc: "loaded modules",
    },
];

/// Signal numbers and other constants rules may name.
pub static CONSTANTS: &[(&str, i64)] = &[
    ("SIGHUP", 1),
    ("SIGINT", 2),
    ("SIGQUIT", 3),
    ("SIGABRT", 6),
    ("SIGKILL", 9),
    ("SIGSEGV", 11),
    ("SIGPIPE", 13),
    ("SIGTERM", 15),
    ("SIGSTOP", 19),
];

pub struct Function {
    pub name: &'static str,
    pub sig: &'static str,
    pub doc: &'static str,
}

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "count",
        sig: "count(list) -> int",
        doc: "number of elements",
    },
    Function {
        name: "sum",
        sig: "sum(list<int>) -> int",
        doc: "sum of numbers",
    },
    Function {
        name: "min",
        sig: "min(list) -> value",
        doc: "smallest element (null if empty)",
    },
    Function {
        name: "max",
        sig: "max(list) -> value",
        doc: "largest element (null if empty)",
    },
    Function {
        name: "first",
        sig: "first(list) -> value",
        doc: "first element (null if empty)",
    },
    Function {
        name: "unique",
        sig: "unique(list) -> list",
        doc: "elements without repeats",
    },
    Function {
        name: "len",
        sig: "len(string|list) -> int",
        doc: "length",
    },
    Function {
        name: "sym",
        sig: "sym(string) -> object",
        doc: "a kernel global by name (same as @name)",
    },
    Function {
        name: "sym_opt",
        sig: "sym_opt(string) -> object",
        doc: "a kernel global, null if absent (same as @?name)",
    },
    Function {
        name: "task",
        sig: "task(int) -> task",
        doc: "the task with this pid (null if none)",
    },
    Function {
        name: "signal_pending",
        sig: "signal_pending([task,] int) -> bool",
        doc: "the signal is pending for the task or its group",
    },
    Function {
        name: "version",
        sig: "version(string) -> version",
        doc: "parse a kernel version",
    },
    Function {
        name: "rwlock",
        sig: "rwlock(object) -> object",
        doc: "rwlock_t state: {kind, rt, locked, readers, writer_locked, writer_waiting, owner, owner_known, reader_owned, queued_writer, raw, waiters} (native and PREEMPT_RT layouts alike; null where the kind records nothing)",
    },
    Function {
        name: "rwsem",
        sig: "rwsem(object) -> object",
        doc: "rw_semaphore state: {kind, rt, locked, readers, writer_locked, writer_waiting, owner, owner_known, reader_owned, queued_writer, raw, waiters} (native and PREEMPT_RT layouts alike; null where the kind records nothing)",
    },
    Function {
        name: "mutex",
        sig: "mutex(object) -> object",
        doc: "mutex state: {kind, rt, locked, readers, writer_locked, writer_waiting, owner, owner_known, reader_owned, queued_writer, raw, waiters} (native and PREEMPT_RT layouts alike; null where the kind records nothing)",
    },
    Function {
        name: "waiters",
        sig: "waiters(lock|object) -> list<task>",
        doc: "tasks waiting for this lock: its own wait list or rt_mutex tree, else the tasks whose stacks wait on it",
    },
    Function {
        name: "capture",
        sig: "capture(string, regex) -> string",
        doc: "the regex's first group in the text (null if no match)",
    },
    Function {
        name: "percent",
        sig: "percent(num, num) -> float",
        doc: "100 * a / b",
    },
];

/// The schema as text (`vmtriage schema`).
pub fn render() -> String {
    let mut s = String::from("# The vmtriage object model\n\n## Roots\n\n");
    for r in ROOTS {
        s += &format!("  {:<10} {:<14} {}\n", r.name, (r.ty)().to_string(), r.doc);
    }
    let mut owner = "";
    for f in FIELDS {
        if f.owner != owner {
            owner = f.owner;
            s += &format!("\n## {owner}\n\n");
        }
        s += &format!("  {:<16} {:<14} {}\n", f.name, (f.ty)().to_string(), f.doc);
    }
    s += "\n## Functions\n\n";
    for f in FUNCTIONS {
        s += &format!("  {:<44} {}\n", f.sig, f.doc);
    }
    s += "\n## Constants\n\n  ";
    s += &CONSTANTS
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    s += "\n\n## Kernel globals\n\n  @name reads any global through the dump's DWARF (members with .field);\n  @?name is null on kernels that lack it. Such members are checked once a dump is open.\n";
    s
}
