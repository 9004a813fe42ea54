//! Workqueues: every worker pool (per-CPU and unbound, from
//! `worker_pool_idr`), its busy workers with the work function each runs,
//! its pending work items, and how long since it last made progress (its
//! `watchdog_ts`, what the workqueue lockup detector compares) — the view
//! crash's `workqueue` extension and the kernel's "workqueue lockup" report
//! give.

use crate::error::{Error, Result};
use crate::object::Object;
use crate::partial::Gap;
use crate::Kernel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPool {
    pub addr: u64,
    pub id: i64,
    /// The CPU of a per-CPU pool; `None` for an unbound pool.
    pub cpu: Option<u32>,
    pub nr_workers: u64,
    pub nr_idle: u64,
    /// Jiffies since the pool last started a work item (or was idle).
    pub stalled_jiffies: u64,
    /// Workers running a work item: (worker task, work function address).
    pub busy: Vec<BusyWorker>,
    /// Work items queued and not started, in queue order: their functions.
    pub pending: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyWorker {
    pub task: u64,
    pub work: u64,
    pub func: u64,
}

/// All pools, and the IDR nodes that could not be read.
#[derive(Debug, Default)]
pub struct Workqueues {
    pub pools: Vec<WorkerPool>,
    pub gaps: Vec<Gap>,
}

/// More than any pool holds: bounds the walks of damaged lists.
const MAX_ITEMS: usize = 1 << 16;

impl Kernel {
    /// Every worker pool, in pool-id order.
    pub fn workqueues(&self) -> Result<Workqueues> {
        let idr = self.global("worker_pool_idr")?;
        let w = self.xarray_entries(&idr.member("idr_rt")?)?;
        let jiffies = self.jiffies()?;
        let mut out = Workqueues {
            gaps: w.gaps,
            ..Default::default()
        };
        for (_, addr) in w.entries {
            out.pools.push(self.worker_pool(addr, jiffies)?);
        }
        Ok(out)
    }

    fn worker_pool(&self, addr: u64, jiffies: u64) -> Result<WorkerPool> {
        let p = self.object(addr, "struct worker_pool")?;
        let cpu = p.member("cpu")?.as_i64()?;
        let pending = self
            .list_entries(p.member("worklist")?.addr, "struct work_struct", "entry")?
            .into_iter()
            .take(MAX_ITEMS)
            .map(|w| w.member("func")?.as_u64())
            .collect::<Result<Vec<_>>>()?;
        Ok(WorkerPool {
            addr,
            id: p.member("id")?.as_i64()?,
            cpu: u32::try_from(cpu).ok(),
            nr_workers: p.member("nr_workers")?.as_u64()?,
            nr_idle: p.member("nr_idle")?.as_u64()?,
            stalled_jiffies: jiffies.wrapping_sub(p.member("watchdog_ts")?.as_u64()?),
            busy: self.busy_workers(&p)?,
            pending,
        })
    }

    /// The workers of a pool's `busy_hash` (an array of hlist heads).
    fn busy_workers(&self, pool: &Object<'_>) -> Result<Vec<BusyWorker>> {
        let hash = pool.member("busy_hash")?;
        let buckets = match hash.resolved()?.kind {
            kdebuginfo::TypeKind::Array { count: Some(c), .. } => c.min(4096),
            _ => return Err(Error::Type("worker_pool.busy_hash is not an array".into())),
        };
        let wty = self.find_type("struct worker")?;
        let hoff = self.debug.member_path(wty, "hentry")?.offset;
        let mut out = Vec::new();
        for b in 0..buckets {
            let mut node = hash.index(b)?.member("first")?.as_u64()?;
            let mut steps = 0;
            while node != 0 {
                steps += 1;
                if steps > MAX_ITEMS {
                    return Err(Error::BadList {
                        head: hash.index(b)?.addr,
                        reason: format!("more than {MAX_ITEMS} busy workers in one bucket"),
                    });
                }
                let w = Object::new(self, node.wrapping_sub(hoff), wty);
                out.push(BusyWorker {
                    task: w.member("task")?.as_u64()?,
                    work: w.member("current_work")?.as_u64()?,
                    func: w.member("current_func")?.as_u64()?,
                });
                node = self.read_u64(node)?;
            }
        }
        out.sort_by_key(|w| w.task);
        Ok(out)
    }
}
