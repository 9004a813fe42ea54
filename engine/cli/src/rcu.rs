//! `vmtriage rcu`: the RCU grace period — running or not, for how long,
//! whether its stall warning is due, and what it waits for (CPUs that have
//! not passed a quiescent state, readers preempted in a critical section).

use std::fmt::Write;

use kmodel::Kernel;
use serde::Serialize;

use crate::locks::TaskRef;

#[derive(Debug, Clone, Serialize)]
pub struct RcuReport {
    pub flavour: String,
    pub gp_seq: u64,
    pub gp_in_progress: bool,
    pub gp_age_jiffies: u64,
    /// Jiffies past the stall-warning deadline (0 if not yet due).
    pub stall_overdue_jiffies: u64,
    pub gp_state: Option<String>,
    pub gp_kthread: Option<TaskRef>,
    pub waiting_cpus: Vec<u32>,
    pub blocking_tasks: Vec<TaskRef>,
    /// Jiffies per second on this kernel (CONFIG_HZ), where known.
    pub hz: Option<u64>,
}

pub fn rcu(k: &Kernel) -> kmodel::Result<RcuReport> {
    let r = k.rcu_state()?;
    let jiffies = k.jiffies()?;
    let task = |a: u64| TaskRef::read(k, a);
    // jiffies and the deadline are compared as the kernel does (time_after).
    let overdue = jiffies.wrapping_sub(r.jiffies_stall) as i64;
    Ok(RcuReport {
        flavour: r.flavour,
        gp_seq: r.gp_seq,
        gp_in_progress: r.gp_in_progress,
        gp_age_jiffies: r.gp_age_jiffies,
        stall_overdue_jiffies: if r.gp_in_progress && overdue > 0 {
            overdue as u64
        } else {
            0
        },
        gp_state: r.gp_state_name,
        gp_kthread: r.gp_kthread.map(task),
        waiting_cpus: r.waiting_cpus,
        blocking_tasks: r.blocking_tasks.into_iter().map(task).collect(),
        hz: k.hz().ok(),
    })
}

pub fn rcu_text(r: &RcuReport) -> String {
    let mut s = String::new();
    let age = |j: u64| match r.hz {
        Some(hz) if hz > 0 => format!("{j} jiffies ({:.1} s)", j as f64 / hz as f64),
        _ => format!("{j} jiffies"),
    };
    if !r.gp_in_progress {
        let _ = writeln!(
            s,
            "RCU ({}) idle: no grace period running (gp_seq {:#x})",
            r.flavour, r.gp_seq
        );
    } else {
        let _ = writeln!(
            s,
            "RCU ({}) grace period running for {} (gp_seq {:#x})",
            r.flavour,
            age(r.gp_age_jiffies),
            r.gp_seq
        );
        if r.stall_overdue_jiffies > 0 {
            let _ = writeln!(
                s,
                "  STALLED: its stall warning was due {} ago",
                age(r.stall_overdue_jiffies)
            );
        }
        let cpus: Vec<String> = r.waiting_cpus.iter().map(|c| c.to_string()).collect();
        let _ = writeln!(
            s,
            "  waits for CPU(s): {}",
            if cpus.is_empty() {
                "none".into()
            } else {
                cpus.join(", ")
            }
        );
        for t in &r.blocking_tasks {
            let _ = writeln!(
                s,
                "  waits for preempted reader {} {} [{}]",
                t.pid, t.comm, t.state
            );
        }
    }
    if let Some(st) = &r.gp_state {
        let _ = writeln!(
            s,
            "  grace-period kthread: {}{}",
            st,
            r.gp_kthread
                .as_ref()
                .map(|t| format!(" ({} {} [{}])", t.pid, t.comm, t.state))
                .unwrap_or_default()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_report() {
        let stalled = RcuReport {
            flavour: "rcu_preempt".into(),
            gp_seq: 0xffff_ffff_ffff_fd1d,
            gp_in_progress: true,
            gp_age_jiffies: 26_250,
            stall_overdue_jiffies: 5_250,
            gp_state: Some("RCU_GP_WAIT_FQS".into()),
            gp_kthread: Some(TaskRef {
                pid: 14,
                comm: "rcu_preempt".into(),
                state: "I".into(),
                task: "0xffff888001234000".into(),
                waits_in: None,
            }),
            waiting_cpus: vec![1, 3],
            blocking_tasks: vec![TaskRef {
                pid: 812,
                comm: "worker".into(),
                state: "R".into(),
                task: "0xffff888004560000".into(),
                waits_in: None,
            }],
            hz: Some(250),
        };
        let idle = RcuReport {
            gp_in_progress: false,
            gp_age_jiffies: 0,
            stall_overdue_jiffies: 0,
            waiting_cpus: vec![],
            blocking_tasks: vec![],
            gp_state: Some("RCU_GP_WAIT_GPS".into()),
            ..stalled.clone()
        };
        insta::assert_snapshot!(format!("{}\n{}", rcu_text(&stalled), rcu_text(&idle)));
    }
}
