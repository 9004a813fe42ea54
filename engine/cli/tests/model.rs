//! The kernel model's subsystems against drgn's reading of the same dumps
//! (corpus/lib/modeltruth.py, drgn's own helpers where it has them), one
//! test per ELF dump:
//! - `sched`: every online CPU's runqueue (current and idle task,
//!   nr_running, clock, RT throttling), every task's time since it last got
//!   a CPU, the load averages;
//! - `mm`: every populated zone's free blocks by order, every global VM
//!   counter by name, every slab cache with its sizes, slabs and objects;
//! - `rcu`: the grace-period state, the CPUs and preempted readers it
//!   waits for;
//! - `workqueue`: every worker pool with its busy workers, pending work and
//!   time since its last progress;
//! - `memcg`: every memory cgroup with its path, charge, limit and events;
//! - `files`: every process's open files (descriptor, path, filesystem,
//!   file_operations symbol).

mod common;

use std::collections::HashMap;

use common::{hex, Entry};
use libtest_mimic::{Arguments, Failed};
use serde::Deserialize;

#[derive(Deserialize)]
struct ModelTruth {
    sched: SchedTruth,
    mm: MmTruth,
    rcu: RcuTruth,
    workqueue: WqTruth,
    memcg: MemcgTruth,
    #[serde(default)]
    files: Option<FilesTruth>,
}

#[derive(Deserialize)]
struct FilesTruth {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    processes: Vec<ProcessFiles>,
}

#[derive(Deserialize)]
struct ProcessFiles {
    pid: i32,
    files: Vec<FileTruth>,
}

#[derive(Deserialize, Debug)]
struct FileTruth {
    fd: u32,
    path: String,
    fs_type: String,
    ops: Option<String>,
}

#[derive(Deserialize)]
struct MemcgTruth {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    memcgs: Vec<CgroupTruth>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct CgroupTruth {
    path: String,
    usage_pages: u64,
    max_pages: Option<u64>,
    max_events: u64,
    oom_events: u64,
    oom_kills: u64,
}

#[derive(Deserialize)]
struct WqTruth {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    pools: Vec<PoolTruth>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct PoolTruth {
    address: String,
    id: i64,
    cpu: Option<u32>,
    nr_workers: u64,
    nr_idle: u64,
    stalled_jiffies: u64,
    busy: Vec<BusyTruth>,
    pending: Vec<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct BusyTruth {
    task: String,
    work: String,
    func: String,
}

#[derive(Deserialize, Debug, PartialEq)]
struct RcuTruth {
    flavour: String,
    gp_seq: u64,
    gp_in_progress: bool,
    gp_start: u64,
    gp_age_jiffies: u64,
    jiffies_stall: u64,
    gp_state: i64,
    gp_state_name: Option<String>,
    waiting_cpus: Vec<u32>,
    blocking_tasks: Vec<String>,
    gp_activity_age_jiffies: Option<u64>,
}

#[derive(Deserialize)]
struct MmTruth {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    zones: Vec<ZoneTruth>,
    #[serde(default)]
    vm_stats: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    slab_caches: Vec<CacheTruth>,
}

#[derive(Deserialize)]
struct ZoneTruth {
    node: u32,
    name: String,
    free_blocks: Vec<u64>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct CacheTruth {
    address: String,
    name: String,
    object_size: u64,
    size: u64,
    num_slabs: Option<u64>,
    num_objs: Option<u64>,
}

#[derive(Deserialize)]
struct SchedTruth {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    runqueues: Vec<RqTruth>,
    #[serde(default)]
    since_last_arrival_ns: HashMap<String, u64>,
    #[serde(default)]
    loadavg: Vec<f64>,
}

#[derive(Deserialize)]
struct RqTruth {
    cpu: u32,
    curr: String,
    idle: String,
    nr_running: u64,
    clock: u64,
    rt_throttled: Option<bool>,
}

fn check_dump(e: &Entry) -> Result<(), Failed> {
    let Some(t) = common::reading::<ModelTruth>(e, e.model_truth.as_deref(), "model truth")? else {
        return Ok(());
    };
    let (_, s) = common::open_with_truth(e)?;
    let k = &s.kernel;
    let filtered = e.dump_level > 0;
    let mut problems = Vec::new();
    check_sched(k, t.sched, &mut problems, filtered)?;
    check_mm(k, t.mm, &mut problems, filtered)?;
    let r = k.rcu_state().map_err(|err| format!("rcu: {err}"))?;
    let ours = RcuTruth {
        flavour: r.flavour,
        gp_seq: r.gp_seq,
        gp_in_progress: r.gp_in_progress,
        gp_start: r.gp_start,
        gp_age_jiffies: r.gp_age_jiffies,
        jiffies_stall: r.jiffies_stall,
        gp_state: r.gp_state,
        gp_state_name: r.gp_state_name,
        waiting_cpus: r.waiting_cpus,
        blocking_tasks: r.blocking_tasks.iter().map(|t| format!("{t:#x}")).collect(),
        gp_activity_age_jiffies: r.gp_activity_age_jiffies,
    };
    if ours != t.rcu {
        problems.push(format!("rcu {ours:?} != drgn's {:?}", t.rcu));
    }
    check_workqueues(k, t.workqueue, &mut problems, filtered)?;
    check_memcgs(k, t.memcg, &mut problems, filtered)?;
    match t.files {
        Some(f) => check_files(k, f, &mut problems, filtered)?,
        None => problems.push("the model truth has no `files` section: rerun corpus/build".into()),
    }
    // The commands over these subsystems answer on every dump.
    for (cmd, r) in [
        ("kmem", vmtriage_cli::kmem::kmem(k).map(|_| ())),
        ("runq", vmtriage_cli::runq::runq(k).map(|_| ())),
        ("rcu", vmtriage_cli::rcu::rcu(k).map(|_| ())),
        (
            "workqueues",
            vmtriage_cli::workqueue::workqueues(k).map(|_| ()),
        ),
    ] {
        if let Err(err) = r {
            problems.push(format!("vmtriage {cmd}: {err}"));
        }
    }
    common::verdict(e, &problems)
}

/// drgn could not read a subsystem. On a dump filtered by makedumpfile that
/// is the dump's doing (which pages it drops differs between captures):
/// that section is not compared here (the unfiltered dumps compare it).
/// Anywhere else it is a failure.
fn unreadable(filtered: bool, what: &str, err: String) -> Result<(), Failed> {
    if filtered && err.starts_with("FaultError") {
        eprintln!("note: drgn could not read {what} of this filtered dump ({err}): not compared");
        return Ok(());
    }
    Err(format!("drgn could not read {what}: {err}").into())
}

fn check_sched(
    k: &kmodel::Kernel,
    t: SchedTruth,
    problems: &mut Vec<String>,
    filtered: bool,
) -> Result<(), Failed> {
    if let Some(err) = t.error {
        return unreadable(filtered, "the scheduler", err);
    }
    let ours = k.runqueues().map_err(|err| format!("runqueues: {err}"))?;
    if ours.len() != t.runqueues.len() {
        problems.push(format!(
            "{} runqueues != drgn's {}",
            ours.len(),
            t.runqueues.len()
        ));
    }
    for (o, r) in ours.iter().zip(&t.runqueues) {
        let theirs = (
            r.cpu,
            hex(&r.curr),
            hex(&r.idle),
            r.nr_running,
            r.clock,
            r.rt_throttled,
        );
        let mine = (o.cpu, o.curr, o.idle, o.nr_running, o.clock, o.rt_throttled);
        if mine != theirs {
            problems.push(format!("cpu {}: {mine:x?} != drgn's {theirs:x?}", r.cpu));
        }
    }
    let walk = k.task_walk().map_err(|err| format!("tasks: {err}"))?;
    let mut compared = 0;
    for task in &walk.tasks {
        let Some(&want) = t.since_last_arrival_ns.get(&format!("{:#x}", task.addr())) else {
            continue;
        };
        compared += 1;
        match k.since_last_arrival(task) {
            Ok(Some(v)) if v == want => {}
            other => problems.push(format!(
                "pid {}: since last arrival {other:?} != drgn's {want} ns",
                task.pid
            )),
        }
    }
    if compared < t.since_last_arrival_ns.len() * 9 / 10 {
        problems.push(format!(
            "only {compared} of drgn's {} tasks compared",
            t.since_last_arrival_ns.len()
        ));
    }
    // drgn has no HZ; every kernel of the corpus is built with one of these.
    match k.hz() {
        Ok(100 | 250 | 300 | 1000) => {}
        other => problems.push(format!("HZ {other:?} is no CONFIG_HZ choice")),
    }
    let load = k.loadavg().map_err(|err| format!("loadavg: {err}"))?;
    if load.to_vec() != t.loadavg {
        problems.push(format!("loadavg {load:?} != drgn's {:?}", t.loadavg));
    }
    Ok(())
}

fn check_mm(
    k: &kmodel::Kernel,
    t: MmTruth,
    problems: &mut Vec<String>,
    filtered: bool,
) -> Result<(), Failed> {
    if let Some(err) = t.error {
        return unreadable(filtered, "memory", err);
    }
    let mem = k.memory().map_err(|err| format!("memory: {err}"))?;
    let ours: Vec<(u32, &str, &[u64])> = mem
        .zones
        .iter()
        .map(|z| (z.node, z.name.as_str(), z.free_blocks.as_slice()))
        .collect();
    let theirs: Vec<(u32, &str, &[u64])> = t
        .zones
        .iter()
        .map(|z| (z.node, z.name.as_str(), z.free_blocks.as_slice()))
        .collect();
    if ours != theirs {
        problems.push(format!("zones' free blocks {ours:?} != drgn's {theirs:?}"));
    }
    let stats: std::collections::BTreeMap<String, u64> = k
        .vm_stats()
        .map_err(|err| format!("vm_stats: {err}"))?
        .into_iter()
        .map(|s| (s.name, s.value))
        .collect();
    if stats != t.vm_stats {
        let diff: Vec<_> = stats
            .iter()
            .filter(|(n, v)| t.vm_stats.get(*n) != Some(v))
            .take(5)
            .collect();
        problems.push(format!(
            "{} VM counters != drgn's {}; first differences: {diff:?}",
            stats.len(),
            t.vm_stats.len()
        ));
    }
    let caches: Vec<CacheTruth> = k
        .slab_caches()
        .map_err(|err| format!("slab caches: {err}"))?
        .into_iter()
        .map(|c| CacheTruth {
            address: format!("{:#x}", c.addr),
            name: c.name,
            object_size: c.object_size,
            size: c.size,
            num_slabs: c.num_slabs,
            num_objs: c.num_objs,
        })
        .collect();
    if caches != t.slab_caches {
        let first = caches
            .iter()
            .zip(&t.slab_caches)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{a:?} != drgn's {b:?}"));
        problems.push(format!(
            "{} slab caches != drgn's {}: {first:?}",
            caches.len(),
            t.slab_caches.len()
        ));
    }
    Ok(())
}

fn check_workqueues(
    k: &kmodel::Kernel,
    t: WqTruth,
    problems: &mut Vec<String>,
    filtered: bool,
) -> Result<(), Failed> {
    if let Some(err) = t.error {
        return unreadable(filtered, "the workqueues", err);
    }
    let wq = k.workqueues().map_err(|err| format!("workqueues: {err}"))?;
    if !wq.gaps.is_empty() {
        problems.push(format!("{} gaps in worker_pool_idr", wq.gaps.len()));
    }
    let hex = |v: u64| format!("{v:#x}");
    let ours: Vec<PoolTruth> = wq
        .pools
        .into_iter()
        .map(|p| PoolTruth {
            address: hex(p.addr),
            id: p.id,
            cpu: p.cpu,
            nr_workers: p.nr_workers,
            nr_idle: p.nr_idle,
            stalled_jiffies: p.stalled_jiffies,
            busy: p
                .busy
                .iter()
                .map(|b| BusyTruth {
                    task: hex(b.task),
                    work: hex(b.work),
                    func: hex(b.func),
                })
                .collect(),
            pending: p.pending.iter().map(|&f| hex(f)).collect(),
        })
        .collect();
    check_work_functions(k, problems);
    if ours != t.pools {
        let first = ours
            .iter()
            .zip(&t.pools)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{a:?} != drgn's {b:?}"));
        problems.push(format!(
            "{} worker pools != drgn's {}: {first:?}",
            ours.len(),
            t.pools.len()
        ));
    }
    Ok(())
}

/// `vmtriage workqueues` names each busy worker's work function as the
/// worker's own stack does (`fn [module]` for a module's work), not as the
/// last vmlinux symbol before it plus a huge offset: one symbolizer.
fn check_work_functions(k: &kmodel::Kernel, problems: &mut Vec<String>) {
    let (Ok(u), Ok((rep, _))) = (
        kunwind::Unwinder::new(k),
        vmtriage_cli::workqueue::workqueues(k),
    ) else {
        return;
    };
    let Ok(reader) = kmodel::tasks::TaskReader::new(k) else {
        return;
    };
    for b in rep.pools.iter().flat_map(|p| &p.busy) {
        let Some(task) = u64::from_str_radix(b.worker.task.trim_start_matches("0x"), 16)
            .ok()
            .and_then(|a| k.object(a, "struct task_struct").ok())
            .and_then(|o| reader.read(o).ok())
        else {
            continue;
        };
        let stack = u.stack(k, &task);
        // `name`, `name+0x10`, `name [module]`: compared without compiler
        // suffixes (a DWARF name has none).
        let (sym, module) = match b.func.split_once(" [") {
            Some((s, m)) => (s, Some(m.trim_end_matches(']'))),
            None => (b.func.as_str(), None),
        };
        let sym = kmodel::frames::base_name(sym.split('+').next().unwrap_or(sym));
        let named = stack.frames.iter().any(|f| {
            f.function
                .as_deref()
                .is_some_and(|n| kmodel::frames::base_name(n) == sym)
                && f.module.as_deref() == module
        });
        // A worker caught before it called the function has no frame in it.
        let called = stack
            .frames
            .iter()
            .any(|f| f.function.as_deref() == Some("process_one_work"));
        if called && !named {
            problems.push(format!(
                "workqueues: worker {} runs {}, which its stack does not name",
                b.worker.pid, b.func
            ));
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("model", check_dump)).exit();
}

/// Each process's files against drgn's `for_each_file`/`d_path`. drgn names
/// a pseudo filesystem's file `[fstype]` (it does not ask the dentry for its
/// name as the kernel does): for those only the filesystem is compared.
fn check_files(
    k: &kmodel::Kernel,
    t: FilesTruth,
    problems: &mut Vec<String>,
    filtered: bool,
) -> Result<(), Failed> {
    if let Some(err) = t.error {
        return unreadable(filtered, "the open files", err);
    }
    // A filtered dump may lose part of the task list (the walk says so);
    // the processes it did read are compared.
    let walk = k.task_walk().map_err(|err| format!("tasks: {err}"))?;
    if !walk.gaps.is_empty() && !filtered {
        return Err(format!("tasks: {:?}", walk.gaps).into());
    }
    let tasks = walk.tasks;
    let mut wrong = Vec::new();
    for p in &t.processes {
        let Some(task) = tasks.iter().find(|x| x.pid == p.pid) else {
            if walk.gaps.is_empty() {
                wrong.push(format!("pid {}: no such task", p.pid));
            }
            continue;
        };
        let ours = match k.open_files(task) {
            Ok(f) => f,
            Err(err) => {
                wrong.push(format!("pid {}: {err}", p.pid));
                continue;
            }
        };
        let fds: Vec<u32> = ours.iter().map(|f| f.fd).collect();
        let theirs: Vec<u32> = p.files.iter().map(|f| f.fd).collect();
        if fds != theirs {
            wrong.push(format!("pid {}: fds {fds:?} != drgn's {theirs:?}", p.pid));
            continue;
        }
        for (o, d) in ours.iter().zip(&p.files) {
            let path_ok = if d.path.starts_with('[') {
                !o.path.is_empty()
            } else {
                o.path == d.path
            };
            let ops_ok = d.ops.is_none() || o.ops == d.ops;
            if !path_ok || o.fs_type != d.fs_type || !ops_ok {
                wrong.push(format!(
                    "pid {} fd {}: {:?} {} {:?} != drgn's {d:?}",
                    p.pid, o.fd, o.path, o.fs_type, o.ops
                ));
            }
        }
    }
    if !wrong.is_empty() {
        problems.push(format!(
            "{} of {} processes' files differ: {}",
            wrong.len(),
            t.processes.len(),
            wrong.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    Ok(())
}

fn check_memcgs(
    k: &kmodel::Kernel,
    t: MemcgTruth,
    problems: &mut Vec<String>,
    filtered: bool,
) -> Result<(), Failed> {
    if let Some(err) = t.error {
        return unreadable(filtered, "the memory cgroups", err);
    }
    let ours: Vec<CgroupTruth> = k
        .memcgs()
        .map_err(|err| format!("memcgs: {err}"))?
        .into_iter()
        .map(|c| CgroupTruth {
            path: c.path,
            usage_pages: c.usage_pages,
            max_pages: c.max_pages,
            max_events: c.max_events,
            oom_events: c.oom_events,
            oom_kills: c.oom_kills,
        })
        .collect();
    if ours != t.memcgs {
        let first = ours.iter().zip(&t.memcgs).find(|(a, b)| a != b);
        problems.push(format!(
            "{} memory cgroups != drgn's {}: {first:?}",
            ours.len(),
            t.memcgs.len()
        ));
    }
    Ok(())
}
