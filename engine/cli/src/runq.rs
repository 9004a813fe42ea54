//! `vmtriage runq`: what each CPU was doing (crash's `runq`), the load
//! averages, and the runnable tasks that waited longest for a CPU — where a
//! CPU hog or a starved task shows.

use std::fmt::Write;

use kmodel::Kernel;
use serde::Serialize;

use crate::locks::TaskRef;

#[derive(Debug, Clone, Serialize)]
pub struct CpuRow {
    pub cpu: u32,
    /// The task running there (its idle task when idle).
    pub curr: TaskRef,
    pub idle: bool,
    pub nr_running: u64,
    /// The runqueue clock, ns.
    pub clock: u64,
    pub rt_throttled: Option<bool>,
    /// How long the running task has had the CPU, ns (since its arrival).
    pub running_for: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitingRow {
    pub task: TaskRef,
    pub cpu: Option<u32>,
    /// ns since it last got a CPU.
    pub waiting_for: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunqReport {
    pub cpus: Vec<CpuRow>,
    pub loadavg: [f64; 3],
    /// Runnable (R) tasks not on a CPU, longest wait first.
    pub waiting: Vec<WaitingRow>,
    pub partial: Vec<crate::report::GapRow>,
}

pub fn runq(k: &Kernel) -> kmodel::Result<(RunqReport, Vec<kmodel::partial::Gap>)> {
    let walk = k.task_walk()?;
    let mut cpus = Vec::new();
    let mut running = std::collections::HashSet::new();
    for rq in k.runqueues()? {
        let curr = k.cpu_curr(rq.cpu)?;
        running.insert(curr.addr());
        cpus.push(CpuRow {
            cpu: rq.cpu,
            running_for: k.since_last_arrival(&curr).ok().flatten(),
            curr: TaskRef::of(&curr),
            idle: rq.is_idle(),
            nr_running: rq.nr_running,
            clock: rq.clock,
            rt_throttled: rq.rt_throttled,
        });
    }
    let mut waiting: Vec<WaitingRow> = walk
        .tasks
        .iter()
        .filter(|t| t.state == 'R' && !running.contains(&t.addr()))
        .filter_map(|t| {
            Some(WaitingRow {
                waiting_for: k.since_last_arrival(t).ok().flatten()?,
                cpu: t.cpu,
                task: TaskRef::of(t),
            })
        })
        .collect();
    waiting.sort_by_key(|w| std::cmp::Reverse(w.waiting_for));
    let rep = RunqReport {
        cpus,
        loadavg: k.loadavg()?,
        waiting,
        partial: crate::report::gap_rows(&walk.gaps),
    };
    Ok((rep, walk.gaps))
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// How many waiting tasks the text shows; JSON has all.
const TOP_WAITING: usize = 10;

pub fn runq_text(r: &RunqReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "LOAD AVERAGE  {:.2} {:.2} {:.2}",
        r.loadavg[0], r.loadavg[1], r.loadavg[2]
    );
    for c in &r.cpus {
        let _ = writeln!(
            s,
            "CPU {:<3} clock {:>12}  nr_running {:<4} {}{}",
            c.cpu,
            secs(c.clock),
            c.nr_running,
            if c.idle {
                "idle".to_string()
            } else {
                format!(
                    "RUNNING {} {} [{}]{}",
                    c.curr.pid,
                    c.curr.comm,
                    c.curr.state,
                    c.running_for
                        .map(|n| format!(" for {}", secs(n)))
                        .unwrap_or_default()
                )
            },
            if c.rt_throttled == Some(true) {
                "  RT THROTTLED"
            } else {
                ""
            }
        );
    }
    if r.waiting.is_empty() {
        s += "no runnable task waits for a CPU\n";
    } else {
        let _ = writeln!(
            s,
            "\nRUNNABLE, NOT RUNNING ({}; longest wait first)",
            r.waiting.len()
        );
        for w in r.waiting.iter().take(TOP_WAITING) {
            let _ = writeln!(
                s,
                "  {:>7} {:<16} cpu {:<3} waiting {}",
                w.task.pid,
                w.task.comm,
                w.cpu.map_or("?".into(), |c| c.to_string()),
                secs(w.waiting_for)
            );
        }
        if r.waiting.len() > TOP_WAITING {
            let _ = writeln!(s, "  … {} more", r.waiting.len() - TOP_WAITING);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pid: i32, comm: &str, state: &str) -> TaskRef {
        TaskRef {
            pid,
            comm: comm.into(),
            state: state.into(),
            task: format!("{:#x}", 0xffff_8880_0100_0000u64 + pid as u64 * 0x4000),
            waits_in: None,
        }
    }

    #[test]
    fn text_report() {
        let r = RunqReport {
            cpus: vec![
                CpuRow {
                    cpu: 0,
                    curr: t(0, "swapper/0", "R"),
                    idle: true,
                    nr_running: 0,
                    clock: 11_389_633_191,
                    rt_throttled: Some(false),
                    running_for: None,
                },
                CpuRow {
                    cpu: 1,
                    curr: t(412, "vmt_spinner", "R"),
                    idle: false,
                    nr_running: 3,
                    clock: 11_393_466_601,
                    rt_throttled: Some(true),
                    running_for: Some(22_004_000_000),
                },
            ],
            loadavg: [1.3037109375, 0.27978515625, 0.09130859375],
            waiting: (0..12)
                .map(|i| WaitingRow {
                    task: t(500 + i, "storm", "R"),
                    cpu: Some(1),
                    waiting_for: 21_000_000_000 - i as u64 * 1_000_000,
                })
                .collect(),
            partial: vec![],
        };
        insta::assert_snapshot!(runq_text(&r));
    }
}
