//! The pid table: every `struct pid` of the initial pid namespace, and the
//! task each one names. A second way to every task, independent of the task
//! and thread lists, for when those cannot be walked.

use crate::error::{Error, Result};
use crate::partial::Gap;
use crate::Kernel;

/// A pid of the initial namespace and the task it names (`None`: no task
/// uses it as its pid, e.g. only as a process group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidEntry {
    pub nr: i32,
    pub pid_addr: u64,
    pub task: Option<u64>,
}

/// The table as far as it could be read.
#[derive(Debug, Default)]
pub struct PidTable {
    pub pids: Vec<PidEntry>,
    pub gaps: Vec<Gap>,
}

impl Kernel {
    /// Every pid of `init_pid_ns` with its task (Linux ≥ 4.20: the pid IDR
    /// is an XArray and tasks link their pid through `pid_links`).
    pub fn pid_table(&self) -> Result<PidTable> {
        let ns = self.global("init_pid_ns")?;
        let walk = self.xarray_entries(&ns.member("idr.idr_rt")?)?;
        let pid_ty = self.find_type("struct pid")?;
        let sample = crate::Object::new(self, 0, pid_ty);
        let nr_off = sample.member("numbers")?.index(0)?.member("nr")?.addr;
        let pidtype = self.enumerator("pid_type", "PIDTYPE_PID")?;
        let tasks_off = sample.member("tasks")?.index(pidtype as u64)?.addr;
        let init = self.global("init_task")?;
        if !init.has_member("pid_links") {
            return Err(Error::Unsupported(format!(
                "task_struct has no pid_links on {}",
                self.release
            )));
        }
        let link_off = init.member("pid_links")?.index(pidtype as u64)?.addr - init.addr;
        let mut t = PidTable {
            pids: Vec::with_capacity(walk.entries.len()),
            gaps: walk.gaps,
        };
        for (_, p) in walk.entries {
            let read = || -> Result<PidEntry> {
                let nr = self.read_u32(p + nr_off)? as i32;
                let first = self.read_u64(p + tasks_off)?;
                Ok(PidEntry {
                    nr,
                    pid_addr: p,
                    task: (first != 0).then(|| first.wrapping_sub(link_off)),
                })
            };
            match read() {
                Ok(e) => t.pids.push(e),
                Err(e) => t
                    .gaps
                    .push(Gap::new(crate::partial::GapKind::PidTable, p, None, &e)),
            }
        }
        Ok(t)
    }
}
