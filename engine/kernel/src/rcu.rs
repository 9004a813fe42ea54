//! RCU: the grace-period state (`rcu_state`) and what holds a grace period
//! up — the CPUs that have not reported a quiescent state (the leaf
//! `rcu_node`s' `qsmask`) and, on preemptible RCU, the tasks preempted in a
//! read-side critical section that block it (`blkd_tasks` from `gp_tasks`).
//! What an RCU stall warning prints, read from memory.

use crate::error::{Error, Result};
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcuState {
    /// `rcu_preempt` or `rcu_sched`.
    pub flavour: String,
    pub gp_seq: u64,
    /// A grace period is running (the low bits of `gp_seq`).
    pub gp_in_progress: bool,
    /// When it started, in jiffies, and how long ago that was.
    pub gp_start: u64,
    pub gp_age_jiffies: u64,
    /// When the stall warning is (or was) due, in jiffies.
    pub jiffies_stall: u64,
    /// The grace-period kthread's state, by the kernel's own name
    /// (`RCU_GP_WAIT_FQS`…) where `gp_state_names[]` is readable.
    pub gp_state: i64,
    pub gp_state_name: Option<String>,
    pub gp_kthread: Option<u64>,
    /// Jiffies since the grace-period kthread last showed activity
    /// (`gp_activity`): large while it is starved of CPU time, the stall
    /// warning's "kthread starved for N jiffies".
    pub gp_activity_age_jiffies: Option<u64>,
    /// CPUs the running grace period still waits for, in order.
    pub waiting_cpus: Vec<u32>,
    /// Tasks (task_struct addresses) preempted inside an RCU read-side
    /// critical section that block the running grace period.
    pub blocking_tasks: Vec<u64>,
}

/// Bit 0-1 of a grace-period sequence number: its state (0 = idle).
const RCU_SEQ_STATE_MASK: u64 = 3;
/// More nodes than any kernel's tree has.
const MAX_NODES: u64 = 1 << 16;

impl Kernel {
    /// The RCU grace-period state of this kernel's flavour.
    pub fn rcu_state(&self) -> Result<RcuState> {
        let rs = self.global("rcu_state")?;
        let jiffies = self.jiffies()?;
        let gp_seq = rs.member("gp_seq")?.as_u64()?;
        let gp_in_progress = gp_seq & RCU_SEQ_STATE_MASK != 0;
        let gp_start = rs.member("gp_start")?.as_u64()?;
        let gp_state = rs.member("gp_state")?.as_i64()?;
        let gp_state_name = self.global("gp_state_names").ok().and_then(|names| {
            let p = names
                .index(u64::try_from(gp_state).ok()?)
                .ok()?
                .as_u64()
                .ok()?;
            self.read_cstr(p, 64).ok()
        });
        let name_ptr = rs.member("name")?.as_u64()?;
        let mut waiting_cpus = Vec::new();
        let mut blocking_tasks = Vec::new();
        if gp_in_progress {
            let levels = self.global("rcu_num_lvls")?.as_i64()?;
            let nodes = rs.member("node")?;
            let count = match nodes.resolved()?.kind {
                kdebuginfo::TypeKind::Array { count: Some(c), .. } => c.min(MAX_NODES),
                _ => return Err(Error::Type("rcu_state.node is not an array".into())),
            };
            let num_nodes = self
                .global("rcu_num_nodes")
                .and_then(|o| o.as_u64())
                .unwrap_or(count)
                .min(count);
            for i in 0..num_nodes {
                let n = nodes.index(i)?;
                if n.member("level")?.as_i64()? != levels - 1 {
                    continue;
                }
                let mask = n.member("qsmask")?.as_u64()?;
                let lo = n.member("grplo")?.as_u64()?;
                for b in 0..64u64 {
                    if mask & (1 << b) != 0 {
                        waiting_cpus.push((lo + b) as u32);
                    }
                }
                if n.has_member("gp_tasks") {
                    let gp_tasks = n.member("gp_tasks")?.as_u64()?;
                    if gp_tasks != 0 {
                        blocking_tasks
                            .extend(self.blocked_from(n.member("blkd_tasks")?.addr, gp_tasks)?);
                    }
                }
            }
        }
        Ok(RcuState {
            flavour: self.read_cstr(name_ptr, 32)?,
            gp_seq,
            gp_in_progress,
            gp_start,
            gp_age_jiffies: if gp_in_progress {
                jiffies.wrapping_sub(gp_start)
            } else {
                0
            },
            jiffies_stall: rs.member("jiffies_stall")?.as_u64()?,
            gp_state,
            gp_state_name,
            gp_kthread: rs.member("gp_kthread")?.as_u64().ok().filter(|&t| t != 0),
            gp_activity_age_jiffies: rs
                .member("gp_activity")
                .and_then(|a| a.as_u64())
                .ok()
                .map(|a| jiffies.wrapping_sub(a)),
            waiting_cpus,
            blocking_tasks,
        })
    }

    /// The tasks of a node's `blkd_tasks` list from `first` (a list node) to
    /// the list's end: the ones the running grace period waits for.
    fn blocked_from(&self, head: u64, first: u64) -> Result<Vec<u64>> {
        let ty = self.find_type("struct task_struct")?;
        let off = self.debug.member_path(ty, "rcu_node_entry")?.offset;
        let nodes = self.list_nodes(head)?;
        let start = nodes
            .iter()
            .position(|&n| n == first)
            .unwrap_or(nodes.len());
        Ok(nodes[start..].iter().map(|n| n.wrapping_sub(off)).collect())
    }
}
