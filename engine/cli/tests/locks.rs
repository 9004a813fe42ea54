//! The lock model against drgn's reading of the same dumps
//! (corpus/lib/locktruth.py): every task drgn sees waiting for a lock has
//! that lock as its `blocked_on`, and every lock's owner and own wait list
//! (list or rt_mutex tree) are what the lock's fields say. One test per ELF
//! dump, native and PREEMPT_RT kernels alike.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{hex, Entry};
use kunwind::Unwinder;
use libtest_mimic::{Arguments, Failed};
use serde::Deserialize;

#[derive(Deserialize)]
struct LockTruth {
    waits: HashMap<String, TruthWait>,
    locks: Vec<TruthLock>,
}

#[derive(Deserialize)]
struct TruthWait {
    lock: String,
    function: String,
}

#[derive(Deserialize)]
struct TruthLock {
    address: String,
    owner: Option<String>,
    #[serde(default)]
    waiters: Vec<String>,
    error: Option<String>,
}

fn check_dump(e: &Entry) -> Result<(), Failed> {
    let Some(t) = common::reading::<LockTruth>(e, e.lock_truth.as_deref(), "lock truth")? else {
        return Ok(());
    };
    let (_, s) = common::open_with_truth(e)?;
    let k = &s.kernel;
    let u = Unwinder::new(k).map_err(|err| format!("unwinder: {err}"))?;
    let walk = k.task_walk().map_err(|err| format!("tasks: {err}"))?;
    let by_addr: HashMap<u64, _> = walk.tasks.iter().map(|t| (t.addr(), t)).collect();
    let mut problems = Vec::new();
    for (task, w) in &t.waits {
        let Some(task) = by_addr.get(&hex(task)) else {
            problems.push(format!(
                "task {task} (waiting in {}) not listed",
                w.function
            ));
            continue;
        };
        match u.blocked_on(k, task) {
            Some(b) if b.addr == hex(&w.lock) => {}
            other => problems.push(format!(
                "pid {} waits in {} for {}; vmtriage says {other:?}",
                task.pid, w.function, w.lock
            )),
        }
    }
    let addrs: Vec<u64> = walk.tasks.iter().map(|t| t.addr()).collect();
    let g = k.wait_graph(&addrs, |a| u.blocked_on(k, by_addr.get(&a)?));
    for tl in t.locks.iter().filter(|l| l.error.is_none()) {
        let Some(ours) = g.locks.iter().find(|l| l.addr == hex(&tl.address)) else {
            problems.push(format!("lock {} not in the wait-for graph", tl.address));
            continue;
        };
        let st = match &ours.state {
            Ok(st) => st,
            Err(err) => {
                problems.push(format!("lock {}: {err}", tl.address));
                continue;
            }
        };
        // drgn's owner is the word the lock records: for RT's rwbase, the
        // writer holding the inner rtmutex.
        let owner = st.owner.or(st.queued_writer);
        if owner != tl.owner.as_deref().map(hex) {
            problems.push(format!(
                "lock {}: owner {owner:#x?} != {:?}",
                tl.address, tl.owner
            ));
        }
        let theirs: BTreeSet<u64> = tl.waiters.iter().map(|w| hex(w)).collect();
        let own_list: BTreeSet<u64> = st.waiters.iter().flatten().copied().collect();
        if own_list != theirs {
            problems.push(format!(
                "lock {}: wait list {} tasks != drgn's {} (only ours: {:x?}, only drgn's: {:x?})",
                tl.address,
                own_list.len(),
                theirs.len(),
                own_list.difference(&theirs).take(5).collect::<Vec<_>>(),
                theirs.difference(&own_list).take(5).collect::<Vec<_>>()
            ));
        }
        let graph: BTreeSet<u64> = ours.waiters.iter().copied().collect();
        if !theirs.is_subset(&graph) {
            problems.push(format!(
                "lock {}: the graph lacks queued waiters",
                tl.address
            ));
        }
    }
    // Cycles: drgn's waits and owners, followed the same way (a task's
    // blocker is its lock's recorded owner, unless that is itself), give
    // the same cycles as ours.
    let owner_of: HashMap<u64, u64> = t
        .locks
        .iter()
        .filter_map(|l| Some((hex(&l.address), hex(l.owner.as_deref()?))))
        .collect();
    let waits: HashMap<u64, u64> = t
        .waits
        .iter()
        .map(|(task, w)| (hex(task), hex(&w.lock)))
        .collect();
    let mut theirs_cycles = BTreeSet::new();
    for &start in waits.keys() {
        let mut path = vec![start];
        let mut cur = start;
        while let Some(next) = waits
            .get(&cur)
            .and_then(|l| owner_of.get(l))
            .filter(|&&o| o != cur)
        {
            if let Some(i) = path.iter().position(|x| x == next) {
                let c: BTreeSet<u64> = path[i..].iter().copied().collect();
                theirs_cycles.insert(c.into_iter().collect::<Vec<_>>());
                break;
            }
            path.push(*next);
            cur = *next;
        }
    }
    let ours_cycles: BTreeSet<Vec<u64>> = g
        .cycles
        .iter()
        .map(|c| {
            let s: BTreeSet<u64> = c.iter().copied().collect();
            s.into_iter().collect()
        })
        .collect();
    if ours_cycles != theirs_cycles {
        problems.push(format!(
            "cycles {ours_cycles:x?} != drgn's {theirs_cycles:x?}"
        ));
    }
    if e.scenario == "mutex-deadlock" && ours_cycles.len() != 2 {
        problems.push(format!(
            "the deadlock scenario has an ABBA pair and a cycle of three; found {ours_cycles:x?}"
        ));
    }
    problems.extend(without_dwarf(e, &t, &u, k, &by_addr));
    common::verdict(e, &problems)
}

/// Without DWARF (debug info from the dump's memory) the lock is the one
/// whose own wait list (or rt_mutex tree, through the kernel model's
/// PREEMPT_RT helpers) holds the task: drgn's lock, or none for a spinning
/// lock that is no global or for a task not yet queued on a lock with a
/// wait list (preempted on its way in) — never another lock.
fn without_dwarf(
    e: &Entry,
    t: &LockTruth,
    u: &Unwinder,
    k: &kmodel::Kernel,
    by_addr: &HashMap<u64, &kmodel::tasks::Task<'_>>,
) -> Vec<String> {
    use vmtriage_cli::session::DebugSource;
    let s = match vmtriage_cli::Session::open_with(&e.path, None, &[], DebugSource::Memory) {
        Ok(s) => s,
        Err(err) => return vec![format!("without DWARF: open: {err:?}")],
    };
    let km = &s.kernel;
    let (um, walk) = match (Unwinder::new(km), km.task_walk()) {
        (Ok(u), Ok(w)) => (u, w),
        _ => return vec!["without DWARF: no unwinder or task walk".into()],
    };
    let mut problems = Vec::new();
    let (mut same, mut spinning, mut not_yet) = (0, 0, 0);
    for (task, w) in &t.waits {
        let (Some(dt), Some(mt)) = (
            by_addr.get(&hex(task)),
            walk.tasks.iter().find(|m| m.addr() == hex(task)),
        ) else {
            continue;
        };
        let spins = || {
            u.blocked_on(k, dt)
                .and_then(|b| k.lock_at(b.addr, b.kind).ok())
                .is_some_and(|st| st.waiters.is_none())
        };
        // drgn (and DWARF) name the lock of a task still on its way into
        // the wait: preempted in down_read's might_sleep, say, in state R.
        // It is on no wait list yet, so without DWARF nothing proves it.
        let not_queued = || {
            u.blocked_on(k, dt)
                .and_then(|b| k.lock_at(b.addr, b.kind).ok())
                .and_then(|st| st.waiters)
                .is_some_and(|w| !w.contains(&dt.addr()))
        };
        match um.blocked_on(km, mt) {
            Some(b) if b.addr == hex(&w.lock) => same += 1,
            None if spins() => spinning += 1,
            None if not_queued() => not_yet += 1,
            other => problems.push(format!(
                "without DWARF: pid {} waits in {} for {}; vmtriage says {other:?}",
                mt.pid, w.function, w.lock
            )),
        }
    }
    println!(
        "LOCKS-NODWARF {} waits={} same={same} spinning_unknown={spinning} not_queued={not_yet}",
        e.name(),
        t.waits.len()
    );
    problems
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("locks", check_dump)).exit();
}
