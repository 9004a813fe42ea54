//! The scheduler: per-CPU runqueues (what each CPU runs, how many tasks
//! wait for it, its clock, RT throttling) and per-task scheduling times
//! (how long since a task last got a CPU), as drgn's `helpers/linux/sched`
//! and crash's `runq`/`ps -m` read them.

use crate::error::{Error, Result};
use crate::object::Object;
use crate::tasks::{Task, TaskReader};
use crate::Kernel;

/// One CPU's runqueue (`struct rq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunQueue {
    pub cpu: u32,
    /// The task running there (`rq->curr`), its task_struct address.
    pub curr: u64,
    /// The CPU's idle task (`rq->idle`).
    pub idle: u64,
    /// Runnable tasks queued on it, the running one included.
    pub nr_running: u64,
    /// The runqueue's clock at its last update, in ns (`rq->clock`): the
    /// time base of the tasks' `sched_info` stamps.
    pub clock: u64,
    /// Real-time tasks throttled (`rq->rt.rt_throttled`), where the kernel
    /// has RT group scheduling bandwidth.
    pub rt_throttled: Option<bool>,
}

impl RunQueue {
    /// Whether the CPU was running its idle task.
    pub fn is_idle(&self) -> bool {
        self.curr == self.idle
    }
}

/// `/proc/loadavg`'s fixed point: 11 fractional bits (`FSHIFT`).
const FSHIFT: u32 = 11;

impl Kernel {
    /// The runqueue of a CPU, as a typed object.
    pub fn runqueue(&self, cpu: u32) -> Result<Object<'_>> {
        let rq = self.global("runqueues")?;
        Ok(Object::new(self, self.per_cpu_addr(rq.addr, cpu)?, rq.ty))
    }

    /// The task running on a CPU at dump time.
    pub fn cpu_curr(&self, cpu: u32) -> Result<Task<'_>> {
        let curr = self.runqueue(cpu)?.member("curr")?.deref()?;
        TaskReader::new(self)?.read(curr)
    }

    /// A CPU's idle task (pid 0; not on the task list but for CPU 0's).
    pub fn idle_task(&self, cpu: u32) -> Result<Task<'_>> {
        let idle = self.runqueue(cpu)?.member("idle")?.deref()?;
        TaskReader::new(self)?.read(idle)
    }

    /// A CPU's runqueue as the scheduler left it.
    pub fn runqueue_info(&self, cpu: u32) -> Result<RunQueue> {
        let rq = self.runqueue(cpu)?;
        Ok(RunQueue {
            cpu,
            curr: rq.member("curr")?.as_u64()?,
            idle: rq.member("idle")?.as_u64()?,
            nr_running: rq.member("nr_running")?.as_u64()?,
            clock: rq.member("clock")?.as_u64()?,
            rt_throttled: rq
                .member("rt.rt_throttled")
                .and_then(|o| o.as_u64())
                .ok()
                .map(|v| v != 0),
        })
    }

    /// The runqueue of every online CPU.
    pub fn runqueues(&self) -> Result<Vec<RunQueue>> {
        self.online_cpus()?
            .into_iter()
            .map(|c| self.runqueue_info(c))
            .collect()
    }

    /// When a task last got a CPU (`sched_info.last_arrival`, in its
    /// runqueue's clock); `None` on kernels built without schedstats'
    /// `sched_info` (CONFIG_SCHED_INFO).
    pub fn last_arrival(&self, task: &Task<'_>) -> Result<Option<u64>> {
        if !task.obj.has_member("sched_info.last_arrival") {
            return Ok(None);
        }
        Ok(Some(task.obj.member("sched_info.last_arrival")?.as_u64()?))
    }

    /// How long ago, by its CPU's runqueue clock, a task last got a CPU:
    /// for a sleeping task, at least how long it has slept (crash's `ps -m`,
    /// drgn's `task_since_last_arrival_ns`).
    pub fn since_last_arrival(&self, task: &Task<'_>) -> Result<Option<u64>> {
        let Some(arrival) = self.last_arrival(task)? else {
            return Ok(None);
        };
        let cpu = task
            .cpu
            .ok_or_else(|| Error::Type(format!("pid {}: its CPU is unknown", task.pid)))?;
        let clock = self.runqueue(cpu)?.member("clock")?.as_u64()?;
        Ok(Some(clock.saturating_sub(arrival)))
    }

    /// Jiffies per second (CONFIG_HZ), from the length of a tick in ns
    /// (`tick_nsec`, TICK_NSEC adjusted by NTP by parts per million).
    pub fn hz(&self) -> Result<u64> {
        let tick = self.global("tick_nsec")?.as_u64()?;
        if tick == 0 || tick > 100_000_000 {
            return Err(Error::Type(format!(
                "tick_nsec is {tick}: not a tick length"
            )));
        }
        Ok((1_000_000_000 + tick / 2) / tick)
    }

    /// The load averages over 1, 5 and 15 minutes (`avenrun`), as
    /// /proc/loadavg prints them.
    pub fn loadavg(&self) -> Result<[f64; 3]> {
        let a = self.global("avenrun")?;
        let mut out = [0.0; 3];
        for (i, v) in out.iter_mut().enumerate() {
            *v = a.index(i as u64)?.as_u64()? as f64 / f64::from(1u32 << FSHIFT);
        }
        Ok(out)
    }
}
