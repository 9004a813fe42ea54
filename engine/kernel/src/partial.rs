//! Partial answers: what a walk could not read, and why.
//!
//! Real dumps are filtered (`makedumpfile -d 31` drops pages it believes free
//! or unneeded, and its idea of a slab page is not always the kernel's),
//! incomplete or damaged. A walk over the kernel's lists keeps going past
//! memory it cannot read, and says exactly what it lost: a [`Gap`] names the
//! object (a task_struct, a thread list, a pid-table node) and the reason.

use crate::error::Error;
use vmcore::ReadError;

/// Why memory could not be read, in the terms a user acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unreadable {
    /// Filtered out by the dump level when the dump was taken.
    Excluded,
    /// Not captured at all (outside every dumped range).
    NotInDump,
    /// The dump file ends or was left incomplete before this page.
    Incomplete,
    /// The page's data is damaged.
    Corrupt,
    /// A pointer that leads nowhere (unmapped, NULL, a cycle): corrupt or
    /// changing memory.
    BadPointer,
}

impl Unreadable {
    pub fn of(e: &Error) -> Unreadable {
        match e {
            Error::Read { source, .. } => match source {
                ReadError::Excluded { .. } => Unreadable::Excluded,
                ReadError::NotInDump { .. } => Unreadable::NotInDump,
                ReadError::Truncated { .. } => Unreadable::Incomplete,
                _ => Unreadable::Corrupt,
            },
            _ => Unreadable::BadPointer,
        }
    }

    /// A stable key for JSON and the results database.
    pub fn key(self) -> &'static str {
        match self {
            Unreadable::Excluded => "excluded",
            Unreadable::NotInDump => "not-in-dump",
            Unreadable::Incomplete => "incomplete",
            Unreadable::Corrupt => "corrupt",
            Unreadable::BadPointer => "bad-pointer",
        }
    }

    /// Words for a warning line.
    pub fn describe(self) -> &'static str {
        match self {
            Unreadable::Excluded => "excluded by the dump level",
            Unreadable::NotInDump => "not in the dump",
            Unreadable::Incomplete => "missing from an incomplete dump",
            Unreadable::Corrupt => "corrupt in the dump",
            Unreadable::BadPointer => "reached through a bad pointer",
        }
    }
}

/// What a gap cost the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GapKind {
    /// A task whose task_struct could not be read (its address is known;
    /// its pid too when it was found through the pid table).
    Task,
    /// A thread group whose thread list could not be walked: its threads
    /// are listed only as far as the pid table reached them.
    ThreadList,
    /// The list of all thread groups broke (entries after the break were
    /// recovered walking it backwards).
    TaskList,
    /// A struct pid of the pid table could not be read.
    PidTable,
    /// An interior node of an index (the pid table's XArray) could not be
    /// read: every entry below it is unknown.
    IndexNode,
    /// Anything else a walk lost.
    Other,
}

impl GapKind {
    pub fn key(self) -> &'static str {
        match self {
            GapKind::Task => "task",
            GapKind::ThreadList => "thread-list",
            GapKind::TaskList => "task-list",
            GapKind::PidTable => "pid-table",
            GapKind::IndexNode => "index-node",
            GapKind::Other => "other",
        }
    }
}

/// One thing a walk could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub kind: GapKind,
    /// The address of the object lost (a task_struct, a list node, a tree node).
    pub addr: u64,
    /// The task's pid, or the thread group's tgid, where known.
    pub pid: Option<i32>,
    pub reason: Unreadable,
    /// The read error, for the curious.
    pub detail: String,
}

impl Gap {
    pub fn new(kind: GapKind, addr: u64, pid: Option<i32>, err: &Error) -> Gap {
        Gap {
            kind,
            addr,
            pid,
            reason: Unreadable::of(err),
            detail: err.to_string(),
        }
    }

    /// One line: what was lost and why.
    pub fn describe(&self) -> String {
        let what = match (self.kind, self.pid) {
            (GapKind::Task, Some(p)) => format!("task {p} (task_struct {:#x})", self.addr),
            (GapKind::Task, None) => format!("task_struct {:#x}", self.addr),
            (GapKind::ThreadList, Some(p)) => format!("thread list of process {p}"),
            (GapKind::ThreadList, None) => format!("thread list of task {:#x}", self.addr),
            (GapKind::TaskList, _) => format!("task list node {:#x}", self.addr),
            (GapKind::PidTable, _) => format!("struct pid {:#x}", self.addr),
            (GapKind::IndexNode, _) => format!("index node {:#x}", self.addr),
            (GapKind::Other, _) => format!("{:#x}", self.addr),
        };
        format!("{what}: {}", self.reason.describe())
    }
}

/// Gaps grouped for a warning: one line per (kind, reason), with a count
/// and a few examples, so thousands of lost objects print a handful of lines.
pub fn summarize(gaps: &[Gap]) -> Vec<String> {
    let mut groups: std::collections::BTreeMap<(GapKind, Unreadable), Vec<&Gap>> =
        Default::default();
    for g in gaps {
        groups.entry((g.kind, g.reason)).or_default().push(g);
    }
    groups
        .into_iter()
        .map(|((kind, reason), gs)| {
            let noun = match kind {
                GapKind::Task => "task(s) could not be read",
                GapKind::ThreadList => "thread list(s) could not be walked",
                GapKind::TaskList => "stretch(es) of the task list between unreadable nodes, searched through the process tree and pid table",
                GapKind::PidTable => "struct pid(s) of the pid table could not be read",
                GapKind::IndexNode => {
                    "pid table index node(s) could not be read (the pids below them are unknown)"
                }
                GapKind::Other => "object(s) could not be read",
            };
            let examples: Vec<String> = gs
                .iter()
                .take(5)
                .map(|g| match g.pid {
                    Some(p) if kind == GapKind::ThreadList => format!("process {p}"),
                    Some(p) => format!("pid {p} at {:#x}", g.addr),
                    None => format!("{:#x}", g.addr),
                })
                .collect();
            let more = if gs.len() > examples.len() {
                format!(", … {} more", gs.len() - examples.len())
            } else {
                String::new()
            };
            format!(
                "{} {noun}: {} ({}{more})",
                gs.len(),
                reason.describe(),
                examples.join(", ")
            )
        })
        .collect()
}
