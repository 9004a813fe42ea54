//! `vmtriage workqueues`: every worker pool that is busy, has work pending
//! or has not made progress for long — with the function each busy worker
//! runs and the pending work — as the kernel's "workqueue lockup" report
//! shows them.

use std::fmt::Write;

use kmodel::Kernel;
use serde::Serialize;

use crate::locks::TaskRef;

#[derive(Debug, Clone, Serialize)]
pub struct BusyRow {
    pub worker: TaskRef,
    pub func: String,
    pub work: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolRow {
    pub id: i64,
    /// `None` for an unbound pool.
    pub cpu: Option<u32>,
    pub nr_workers: u64,
    pub nr_idle: u64,
    pub stalled_jiffies: u64,
    pub busy: Vec<BusyRow>,
    /// Pending work functions, queue order.
    pub pending: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkqueueReport {
    pub pools: Vec<PoolRow>,
    pub hz: Option<u64>,
    pub partial: Vec<crate::report::GapRow>,
}

pub fn workqueues(k: &Kernel) -> kmodel::Result<(WorkqueueReport, Vec<kmodel::partial::Gap>)> {
    let wq = k.workqueues()?;
    let func = |a: u64| match k.symbol_of(a) {
        Some(s) => s.to_string(),
        None => format!("{a:#x}"),
    };
    let task = |a: u64| TaskRef::read(k, a);
    let pools = wq
        .pools
        .into_iter()
        .map(|p| PoolRow {
            id: p.id,
            cpu: p.cpu,
            nr_workers: p.nr_workers,
            nr_idle: p.nr_idle,
            stalled_jiffies: p.stalled_jiffies,
            busy: p
                .busy
                .iter()
                .map(|b| BusyRow {
                    worker: task(b.task),
                    func: func(b.func),
                    work: format!("{:#x}", b.work),
                })
                .collect(),
            pending: p.pending.iter().map(|&f| func(f)).collect(),
        })
        .collect();
    let rep = WorkqueueReport {
        pools,
        hz: k.hz().ok(),
        partial: crate::report::gap_rows(&wq.gaps),
    };
    Ok((rep, wq.gaps))
}

/// A pool is shown when it is busy or has work pending (an idle pool's
/// stall time only says it had nothing to do).
pub fn workqueues_text(r: &WorkqueueReport) -> String {
    let mut s = String::new();
    let age = |j: u64| match r.hz {
        Some(hz) if hz > 0 => format!("{:.1} s", j as f64 / hz as f64),
        _ => format!("{j} jiffies"),
    };
    let shown: Vec<&PoolRow> = r
        .pools
        .iter()
        .filter(|p| !p.busy.is_empty() || !p.pending.is_empty())
        .collect();
    let _ = writeln!(
        s,
        "{} worker pools, {} busy or with work pending",
        r.pools.len(),
        shown.len()
    );
    for p in shown {
        let _ = writeln!(
            s,
            "\nPOOL {} ({}) workers {} idle {}{}",
            p.id,
            p.cpu.map_or("unbound".into(), |c| format!("cpu {c}")),
            p.nr_workers,
            p.nr_idle,
            if p.pending.is_empty() {
                String::new()
            } else {
                format!(", no progress for {}", age(p.stalled_jiffies))
            }
        );
        for b in &p.busy {
            let _ = writeln!(
                s,
                "  busy    {} {} [{}] in {}",
                b.worker.pid, b.worker.comm, b.worker.state, b.func
            );
        }
        for f in p.pending.iter().take(10) {
            let _ = writeln!(s, "  pending {f}");
        }
        if p.pending.len() > 10 {
            let _ = writeln!(s, "  … {} more pending", p.pending.len() - 10);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_report() {
        let r = WorkqueueReport {
            pools: vec![
                PoolRow {
                    id: 0,
                    cpu: Some(0),
                    nr_workers: 3,
                    nr_idle: 3,
                    stalled_jiffies: 3447,
                    busy: vec![],
                    pending: vec![],
                },
                PoolRow {
                    id: 2,
                    cpu: Some(0),
                    nr_workers: 2,
                    nr_idle: 1,
                    stalled_jiffies: 1735,
                    busy: vec![BusyRow {
                        worker: TaskRef {
                            pid: 31,
                            comm: "kworker/0:1".into(),
                            state: "D".into(),
                            task: "0xffff888001234000".into(),
                            waits_in: None,
                        },
                        func: "vmstat_update".into(),
                        work: "0xffff88803fc1e620".into(),
                    }],
                    pending: vec!["lru_add_drain_per_cpu".into(), "flush_to_ldisc".into()],
                },
            ],
            hz: Some(250),
            partial: vec![],
        };
        insta::assert_snapshot!(workqueues_text(&r));
    }
}
