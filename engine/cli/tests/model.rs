//! The scheduler module of the kernel model against drgn's reading of the
//! same dumps (corpus/lib/modeltruth.py, drgn's own sched helpers): every
//! online CPU's runqueue (current and idle task, nr_running, clock, RT
//! throttling), every task's time since it last got a CPU, the load
//! averages. One test per ELF dump.

mod common;

use std::collections::HashMap;

use common::{hex, Entry};
use libtest_mimic::{Arguments, Failed};
use serde::Deserialize;

#[derive(Deserialize)]
struct ModelTruth {
    sched: SchedTruth,
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
    let t = t.sched;
    if let Some(err) = t.error {
        return Err(format!("drgn could not read the scheduler: {err}").into());
    }
    let (_, s) = common::open_with_truth(e)?;
    let k = &s.kernel;
    let mut problems = Vec::new();
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
    let load = k.loadavg().map_err(|err| format!("loadavg: {err}"))?;
    if load.to_vec() != t.loadavg {
        problems.push(format!("loadavg {load:?} != drgn's {:?}", t.loadavg));
    }
    common::verdict(e, &problems)
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("sched", check_dump)).exit();
}
