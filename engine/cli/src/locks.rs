//! `vmtriage locks`: every contended lock with its kind, name, state, owner
//! and waiters, the chains from waiter to the task at their end, and the
//! deadlock cycles; as text, JSON or a Graphviz wait-for graph.

use std::collections::HashMap;
use std::fmt::Write as _;

use kmodel::locks::{LockState, WaitGraph};
use kmodel::partial::Gap;
use kmodel::tasks::Task;
use kmodel::Kernel;
use kunwind::Unwinder;
use serde::Serialize;

/// A task as the lock report names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TaskRef {
    pub pid: i32,
    pub comm: String,
    pub state: String,
    pub task: String,
    /// The wait-site function it blocks in, if it waits for a lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_in: Option<String>,
}

/// The object a lock that is no global is a member of.
impl TaskRef {
    /// A task as read.
    pub fn of(t: &Task<'_>) -> TaskRef {
        TaskRef {
            pid: t.pid,
            comm: t.comm.clone(),
            state: t.state.to_string(),
            task: format!("{:#x}", t.addr()),
            waits_in: None,
        }
    }

    /// A task_struct that could not be read: its address only.
    pub fn unknown(addr: u64) -> TaskRef {
        TaskRef {
            pid: -1,
            comm: "?".into(),
            state: "?".into(),
            task: format!("{addr:#x}"),
            waits_in: None,
        }
    }

    /// The task_struct at `addr`, read on its own (not from a walk).
    pub fn read(k: &Kernel, addr: u64) -> TaskRef {
        k.task_at(addr)
            .map_or_else(|_| TaskRef::unknown(addr), |t| TaskRef::of(&t))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HomeRow {
    /// The containing struct (`mm_struct`).
    pub container: &'static str,
    /// The lock's member in it (`mmap_lock`, `mmap_sem`).
    pub member: &'static str,
    /// The containing object's address, hex.
    pub object: String,
    /// The process it belongs to.
    pub process: Option<TaskRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LockRow {
    pub address: String,
    pub name: Option<String>,
    /// For a lock that is no global: what it is a member of, where known.
    pub home: Option<HomeRow>,
    /// `mutex`, `rwsem`, `rwlock`, `spinlock`, `raw_spinlock`, `rt_mutex`,
    /// `percpu_rwsem`, `semaphore`; `null` when it could not be told.
    pub kind: Option<&'static str>,
    /// Built on rt_mutex / rwbase_rt (PREEMPT_RT).
    pub rt: bool,
    pub locked: Option<bool>,
    pub readers: Option<u64>,
    pub writer_locked: Option<bool>,
    pub writer_waiting: Option<bool>,
    /// The raw counter word, hex.
    pub raw: Option<String>,
    /// The owning task where the kernel records one.
    pub owner: Option<TaskRef>,
    /// `recorded`, `none` (free, or no owner recorded by a held reader
    /// lock), or `unknown` (this kind records no owner).
    pub owner_status: &'static str,
    /// PREEMPT_RT rwbase: the writer first in line (holds the inner rtmutex).
    pub queued_writer: Option<TaskRef>,
    pub waiters: Vec<TaskRef>,
    /// Why the lock's state could not be read, if it could not.
    pub error: Option<String>,
}

/// From a waiter to the task at the end of its chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainRow {
    /// Each step: a task and the lock (address) it waits for, if any.
    pub steps: Vec<(TaskRef, Option<String>)>,
    /// Why the chain stops: `running` (the last task waits for no lock),
    /// `unknown-owner` (the lock records no owner), `cycle`.
    pub end: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct LocksReport {
    pub locks: Vec<LockRow>,
    pub chains: Vec<ChainRow>,
    /// Each deadlock cycle: its tasks and, for each, the lock it waits for.
    pub cycles: Vec<Vec<(TaskRef, String)>>,
    pub partial: Vec<crate::report::GapRow>,
}

/// Unwinds every task that can wait for a lock and builds the report.
pub fn locks(k: &Kernel) -> Result<(LocksReport, WaitGraph, Vec<Gap>), kunwind::Error> {
    let u = Unwinder::new(k)?;
    let walk = k.task_walk()?;
    // Idle kworkers and parked threads wait for work, not locks.
    let tasks: Vec<&Task<'_>> = walk.tasks.iter().filter(|t| t.state != 'I').collect();
    let by_addr: HashMap<u64, &Task<'_>> = walk.tasks.iter().map(|t| (t.addr(), t)).collect();
    let addrs: Vec<u64> = tasks.iter().map(|t| t.addr()).collect();
    // Each task's wait read once: for the graph and for where it waits.
    let blocked: HashMap<u64, kmodel::locks::BlockedOn> = tasks
        .iter()
        .filter_map(|t| Some((t.addr(), u.blocked_on(k, t)?)))
        .collect();
    let g = k.wait_graph(&addrs, |a| blocked.get(&a).cloned());
    let waits_in: HashMap<u64, String> = blocked
        .iter()
        .map(|(a, b)| (*a, b.function.clone()))
        .collect();
    let tref = |a: u64| -> TaskRef {
        match by_addr.get(&a) {
            Some(t) => TaskRef {
                waits_in: waits_in.get(&a).cloned(),
                ..TaskRef::of(t)
            },
            None => TaskRef::unknown(a),
        }
    };
    let locks = g.locks.iter().map(|l| lock_row(l, &tref)).collect();
    let mut chains = Vec::new();
    let mut ends_seen = std::collections::HashSet::new();
    // One chain per lock whose blocker itself waits: the rest are one step.
    for (i, l) in g.locks.iter().enumerate() {
        let Some(first) = l.waiters.first() else {
            continue;
        };
        let Some(b) = g.blocker(*first, i) else {
            continue;
        };
        if !g.waits.contains_key(&b) {
            continue;
        }
        let c = g.chain(*first);
        if !ends_seen.insert(c.last().map(|x| x.0)) {
            continue;
        }
        let end = match c.last() {
            Some((t, Some(l))) => match g.blocker(*t, *l) {
                Some(_) => "cycle",
                None => "unknown-owner",
            },
            _ => "running",
        };
        chains.push(ChainRow {
            steps: c
                .iter()
                .map(|(t, l)| (tref(*t), l.map(|l| format!("{:#x}", g.locks[l].addr))))
                .collect(),
            end,
        });
    }
    let cycles = g
        .cycles
        .iter()
        .map(|c| {
            c.iter()
                .map(|t| {
                    let l = g.waits.get(t).map(|&l| g.locks[l].addr).unwrap_or(0);
                    (tref(*t), format!("{l:#x}"))
                })
                .collect()
        })
        .collect();
    let rep = LocksReport {
        locks,
        chains,
        cycles,
        partial: crate::report::gap_rows(&walk.gaps),
    };
    Ok((rep, g, walk.gaps))
}

fn lock_row(l: &kmodel::locks::ContendedLock, tref: &dyn Fn(u64) -> TaskRef) -> LockRow {
    let st: Option<&LockState> = l.state.as_ref().ok();
    LockRow {
        address: format!("{:#x}", l.addr),
        name: l.name.clone(),
        home: l.home.as_ref().map(|h| HomeRow {
            container: h.container,
            member: h.member,
            object: format!("{:#x}", h.addr),
            process: h.task.map(tref),
        }),
        kind: l.kind.map(|k| k.name()),
        rt: st.is_some_and(|s| s.rt),
        locked: st.map(|s| s.locked),
        readers: st.and_then(|s| s.readers),
        writer_locked: st.and_then(|s| s.writer_locked),
        writer_waiting: st.and_then(|s| s.writer_waiting),
        raw: st.map(|s| format!("{:#x}", s.raw)),
        owner: st.and_then(|s| s.owner).map(tref),
        owner_status: match st {
            Some(s) if s.owner.is_some() => "recorded",
            Some(s) if s.owner_recorded => "none",
            _ => "unknown",
        },
        queued_writer: st
            .and_then(|s| s.queued_writer)
            .filter(|w| Some(*w) != st.and_then(|s| s.owner))
            .map(tref),
        waiters: l.waiters.iter().map(|&t| tref(t)).collect(),
        error: l.state.as_ref().err().cloned(),
    }
}

impl LockRow {
    /// The global's name, else `&((mm_struct *)0x…)->mmap_lock`, else none.
    fn display_name(&self) -> Option<String> {
        self.name.clone().or_else(|| {
            let h = self.home.as_ref()?;
            Some(format!("&(({} *){})->{}", h.container, h.object, h.member))
        })
    }
}

fn task_text(t: &TaskRef) -> String {
    format!("{} {} [{}]", t.pid, t.comm, t.state)
}

/// crash-like text: one block a lock, then chains and cycles.
pub fn locks_text(r: &LocksReport) -> String {
    let mut s = String::new();
    if r.locks.is_empty() {
        s += "no task waits for a lock\n";
    }
    for l in &r.locks {
        let _ = writeln!(
            s,
            "LOCK {} ({}{}) at {}",
            l.display_name().as_deref().unwrap_or("<anonymous>"),
            l.kind.unwrap_or("lock"),
            if l.rt { ", PREEMPT_RT" } else { "" },
            l.address
        );
        if let Some(h) = &l.home {
            let _ = writeln!(
                s,
                "  in: {} of process {}",
                h.container,
                h.process.as_ref().map_or_else(|| "?".into(), task_text)
            );
        }
        if let Some(e) = &l.error {
            let _ = writeln!(s, "  state: unreadable: {e}");
        } else {
            let mut parts = Vec::new();
            if l.locked == Some(true) {
                parts.push("held".to_string());
            } else if l.locked == Some(false) {
                parts.push("free".to_string());
            }
            if let Some(n) = l.readers.filter(|n| *n > 0) {
                parts.push(format!("{n} reader(s)"));
            }
            if l.writer_locked == Some(true) {
                parts.push("writer holds it".into());
            }
            if l.writer_waiting == Some(true) {
                parts.push("writer waiting".into());
            }
            let _ = writeln!(
                s,
                "  state: {} (raw {})",
                parts.join(", "),
                l.raw.as_deref().unwrap_or("-")
            );
        }
        let owner = match (&l.owner, l.owner_status) {
            (Some(o), _) => task_text(o),
            (None, "none") => "none recorded".into(),
            _ if l.readers.is_some_and(|n| n > 0) => {
                "unknown (held by readers, which the kernel does not record)".into()
            }
            _ => "unknown (this kind of lock records no owner)".into(),
        };
        let _ = writeln!(s, "  owner: {owner}");
        if let Some(w) = &l.queued_writer {
            let _ = writeln!(s, "  first writer in line: {}", task_text(w));
        }
        let _ = writeln!(s, "  waiters ({}):", l.waiters.len());
        for w in l.waiters.iter().take(10) {
            let _ = writeln!(
                s,
                "    {}{}",
                task_text(w),
                w.waits_in
                    .as_deref()
                    .map(|f| format!("  in {f}"))
                    .unwrap_or_default()
            );
        }
        if l.waiters.len() > 10 {
            let _ = writeln!(s, "    … {} more", l.waiters.len() - 10);
        }
        s += "\n";
    }
    // Locks by name where they have one, in chains and cycles.
    let lock_name = |addr: &str| -> String {
        r.locks
            .iter()
            .find(|l| l.address == addr)
            .and_then(LockRow::display_name)
            .unwrap_or_else(|| addr.to_string())
    };
    for c in &r.chains {
        let steps: Vec<String> = c
            .steps
            .iter()
            .map(|(t, l)| match l {
                Some(l) => format!("{} waits for {}", task_text(t), lock_name(l)),
                None => task_text(t),
            })
            .collect();
        let _ = writeln!(s, "CHAIN {}  ({})", steps.join(" → "), c.end);
    }
    for (i, c) in r.cycles.iter().enumerate() {
        let steps: Vec<String> = c
            .iter()
            .map(|(t, l)| format!("{} waits for {}", task_text(t), lock_name(l)))
            .collect();
        let _ = writeln!(
            s,
            "DEADLOCK #{}: {} → (back to the first)",
            i + 1,
            steps.join(" → ")
        );
    }
    s
}

/// The wait-for graph in Graphviz DOT: tasks (ellipses) wait for locks
/// (boxes), locks are held by tasks.
pub fn locks_dot(r: &LocksReport) -> String {
    let mut s = String::from("digraph waitfor {\n  rankdir=LR;\n");
    let esc = |x: &str| x.replace('\\', "\\\\").replace('"', "\\\"");
    let mut tasks = std::collections::BTreeMap::new();
    for l in &r.locks {
        let label = format!(
            "{} ({})",
            l.display_name().unwrap_or_else(|| l.address.clone()),
            l.kind.unwrap_or("lock")
        );
        let _ = writeln!(
            s,
            "  \"{}\" [shape=box,label=\"{}\"];",
            l.address,
            esc(&label)
        );
        for w in &l.waiters {
            tasks.insert(w.task.clone(), task_text(w));
            let _ = writeln!(
                s,
                "  \"{}\" -> \"{}\" [label=\"waits\"];",
                w.task, l.address
            );
        }
        if let Some(o) = &l.owner {
            tasks.insert(o.task.clone(), task_text(o));
            let _ = writeln!(
                s,
                "  \"{}\" -> \"{}\" [label=\"held by\"];",
                l.address, o.task
            );
        }
    }
    for (id, label) in tasks {
        let _ = writeln!(s, "  \"{id}\" [label=\"{}\"];", esc(&label));
    }
    s += "}\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pid: i32, comm: &str, state: &str, waits_in: Option<&str>) -> TaskRef {
        TaskRef {
            pid,
            comm: comm.into(),
            state: state.into(),
            task: format!("{:#x}", 0xffff_8880_0100_0000u64 + pid as u64 * 0x4000),
            waits_in: waits_in.map(String::from),
        }
    }

    fn lock(
        name: &str,
        kind: &'static str,
        owner: Option<TaskRef>,
        waiters: Vec<TaskRef>,
    ) -> LockRow {
        let n: u64 = name.bytes().map(u64::from).sum();
        LockRow {
            address: format!("{:#x}", 0xffff_ffff_c000_0000u64 + n * 0x40),
            name: Some(name.into()),
            home: None,
            kind: Some(kind),
            rt: false,
            locked: Some(true),
            readers: None,
            writer_locked: None,
            writer_waiting: None,
            raw: Some("0xffff888001004001".into()),
            owner_status: if owner.is_some() {
                "recorded"
            } else {
                "unknown"
            },
            owner,
            queued_writer: None,
            waiters,
            error: None,
        }
    }

    /// An ABBA deadlock between two mutexes, a third task queued behind
    /// it, and an RT rwlock held by a reader with a writer first in line.
    fn report() -> LocksReport {
        let a = t(101, "worker_a", "D", Some("__mutex_lock"));
        let b = t(102, "worker_b", "D", Some("__mutex_lock"));
        let c = t(103, "client", "D", Some("__mutex_lock"));
        let mut rw = lock("tasklist_lock", "rwlock", None, vec![]);
        rw.rt = true;
        rw.readers = Some(1);
        rw.writer_waiting = Some(true);
        rw.writer_locked = Some(false);
        rw.raw = Some("0x1".into());
        rw.queued_writer = Some(t(201, "storm", "D", Some("rwbase_write_lock")));
        rw.waiters = (201..214)
            .map(|p| t(p, "storm", "D", Some("rt_write_lock")))
            .collect();
        let la = lock(
            "lock_a [abba]",
            "mutex",
            Some(a.clone()),
            vec![b.clone(), c.clone()],
        );
        let lb = lock("lock_b [abba]", "mutex", Some(b.clone()), vec![a.clone()]);
        // A process's mmap_lock: no global, named by its mm.
        let mut mm = lock("mmap_lock", "rwsem", None, vec![]);
        mm.name = None;
        mm.home = Some(HomeRow {
            container: "mm_struct",
            member: "mmap_lock",
            object: "0xffff888003a1c000".into(),
            process: Some(t(300, "faulter", "D", None)),
        });
        mm.owner_status = "none";
        mm.readers = Some(1);
        mm.writer_waiting = Some(true);
        mm.waiters = vec![
            t(301, "faulter", "D", Some("rwsem_down_write_slowpath")),
            t(302, "faulter", "D", Some("rwsem_down_read_slowpath")),
        ];
        LocksReport {
            chains: vec![ChainRow {
                steps: vec![
                    (c.clone(), Some(la.address.clone())),
                    (a.clone(), Some(lb.address.clone())),
                    (b.clone(), Some(la.address.clone())),
                ],
                end: "cycle",
            }],
            cycles: vec![vec![(a, lb.address.clone()), (b, la.address.clone())]],
            locks: vec![rw, la, lb, mm],
            partial: vec![],
        }
    }

    #[test]
    fn text_report() {
        insta::assert_snapshot!(locks_text(&report()));
    }

    #[test]
    fn dot_graph() {
        insta::assert_snapshot!(locks_dot(&report()));
    }

    #[test]
    fn no_contention() {
        let r = LocksReport {
            locks: vec![],
            chains: vec![],
            cycles: vec![],
            partial: vec![],
        };
        assert_eq!(locks_text(&r), "no task waits for a lock\n");
    }
}
