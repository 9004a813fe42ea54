//! Tasks, CPUs and the crash context, read the way /proc and `ps` show them.

use crate::error::{Error, Result};
use crate::object::{c_string, FieldReader, Object};
use crate::Kernel;

// Task flags and signal numbers are user-visible ABI, stable across kernels.
pub const PF_EXITING: u64 = 0x0000_0004;
pub const PF_KTHREAD: u64 = 0x0020_0000;
pub const SIGKILL: u32 = 9;
const TASK_NOLOAD: u64 = 0x0400;
const TASK_UNINTERRUPTIBLE: u64 = 0x0002;
const TASK_RTLOCK_WAIT: u64 = 0x1000;

/// A task as `ps` shows it.
#[derive(Debug, Clone)]
pub struct Task<'k> {
    pub obj: Object<'k>,
    pub pid: i32,
    pub tgid: i32,
    /// `real_parent->tgid`, as /proc's PPid.
    pub ppid: Option<i32>,
    pub comm: String,
    /// One letter, as /proc/PID/stat shows it (R S D T t X Z P I).
    pub state: char,
    pub flags: u64,
    pub cpu: Option<u32>,
}

impl<'k> Task<'k> {
    pub fn addr(&self) -> u64 {
        self.obj.addr
    }
    pub fn is_kthread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
    pub fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0
    }
    /// Whether `sig` is pending for the task or its thread group.
    pub fn signal_pending(&self, sig: u32) -> Result<bool> {
        let bit = 1u64 << (sig - 1);
        let own = self.obj.member("pending.signal.sig")?.index(0)?.as_u64()?;
        let shared = self
            .obj
            .member("signal.shared_pending.signal.sig")?
            .index(0)?
            .as_u64()?;
        Ok((own | shared) & bit != 0)
    }
    /// The state name as /proc/PID/status spells it.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            'R' => "running",
            'S' => "sleeping",
            'D' => "disk sleep",
            'T' => "stopped",
            't' => "tracing stop",
            'X' => "dead",
            'Z' => "zombie",
            'P' => "parked",
            'I' => "idle",
            _ => "unknown",
        }
    }
}

/// Letters of the kernel's own `task_state_array` ("R (running)", …): read
/// from the dump, so a kernel that adds a state is still reported right.
fn state_letters(k: &Kernel) -> Result<Vec<char>> {
    let arr = k.global("task_state_array")?;
    let n = match arr.resolved()?.kind {
        kdebuginfo::TypeKind::Array { count: Some(c), .. } => c,
        _ => return Err(Error::Type("task_state_array is not an array".into())),
    };
    let mut out = Vec::new();
    for i in 0..n.min(32) {
        let s = arr.index(i)?.string()?;
        out.push(s.chars().next().unwrap_or('?'));
    }
    Ok(out)
}

fn fls(x: u64) -> usize {
    (64 - x.leading_zeros()) as usize
}

pub struct TaskReader<'k> {
    k: &'k Kernel,
    letters: Vec<char>,
    pid: FieldReader,
    tgid: FieldReader,
    real_parent: FieldReader,
    comm: (u64, usize),
    flags: FieldReader,
    state: FieldReader,
    exit_state: FieldReader,
    cpu: Option<FieldReader>,
}

impl<'k> TaskReader<'k> {
    pub fn new(k: &'k Kernel) -> Result<TaskReader<'k>> {
        let init = k.global("init_task")?;
        let field = |path: &str| FieldReader::new(&init, path);
        let state_member = if init.has_member("__state") {
            "__state"
        } else {
            "state"
        };
        let cpu = if init.has_member("thread_info.cpu") {
            Some(field("thread_info.cpu")?)
        } else if init.has_member("cpu") {
            Some(field("cpu")?)
        } else {
            None
        };
        let comm = init.member("comm")?;
        let comm_len = match comm.resolved()?.kind {
            kdebuginfo::TypeKind::Array { count, .. } => count.unwrap_or(16).min(256) as usize,
            _ => return Err(Error::Type("task_struct.comm is not an array".into())),
        };
        Ok(TaskReader {
            k,
            letters: state_letters(k)?,
            pid: field("pid")?,
            tgid: field("tgid")?,
            real_parent: field("real_parent")?,
            comm: (comm.addr - init.addr, comm_len),
            flags: field("flags")?,
            state: field(state_member)?,
            exit_state: field("exit_state")?,
            cpu,
        })
    }

    pub fn read(&self, obj: Object<'k>) -> Result<Task<'k>> {
        let (k, a) = (self.k, obj.addr);
        let pid = self.pid.read_i64(k, a)? as i32;
        let tgid = self.tgid.read_i64(k, a)? as i32;
        let ppid = self
            .real_parent
            .read_u64(k, a)
            .and_then(|p| self.tgid.read_i64(k, p))
            .ok()
            .map(|v| v as i32);
        let mut comm = [0u8; 256];
        let comm = &mut comm[..self.comm.1];
        k.read(a + self.comm.0, comm)?;
        let comm = c_string(comm);
        let flags = self.flags.read_u64(k, a)?;
        let st = self.state.read_u64(k, a)?;
        let exit_state = self.exit_state.read_u64(k, a)?;
        let cpu = match &self.cpu {
            Some(f) => Some(f.read_u64(k, a)? as u32),
            None => None,
        };
        Ok(Task {
            obj,
            pid,
            tgid,
            ppid,
            comm,
            state: self.letter(st, exit_state),
            flags,
            cpu,
        })
    }

    /// /proc's task_state_index(): the highest reported bit, with TASK_IDLE
    /// shown as 'I' and RT-lock waits shown as 'D'.
    fn letter(&self, st: u64, exit_state: u64) -> char {
        let n = self.letters.len();
        if n < 3 {
            return '?';
        }
        let report = (1u64 << (n - 2)) - 1;
        let mut state = (st | exit_state) & report;
        if st & (TASK_UNINTERRUPTIBLE | TASK_NOLOAD) == TASK_UNINTERRUPTIBLE | TASK_NOLOAD {
            state = report + 1;
        }
        if st & TASK_RTLOCK_WAIT != 0 && self.letters.contains(&'I') {
            state = TASK_UNINTERRUPTIBLE;
        }
        self.letters.get(fls(state)).copied().unwrap_or('?')
    }
}

impl Kernel {
    /// Every task (every thread of every process), pid 0 excluded, in the
    /// kernel's list order: `init_task.tasks`, then each group's threads.
    pub fn tasks(&self) -> Result<Vec<Task<'_>>> {
        let r = TaskReader::new(self)?;
        let init = self.global("init_task")?;
        let leaders =
            self.list_entries(init.member("tasks")?.addr, "struct task_struct", "tasks")?;
        let thread_list = init.has_member("signal.thread_head");
        let mut out = Vec::with_capacity(leaders.len());
        for l in leaders {
            if thread_list {
                let head = l.member("signal.thread_head")?.addr;
                for t in self.list_entries(head, "struct task_struct", "thread_node")? {
                    out.push(r.read(t)?);
                }
            } else {
                out.push(r.read(l)?);
                for t in self.list_entries(
                    l.member("thread_group")?.addr,
                    "struct task_struct",
                    "thread_group",
                )? {
                    out.push(r.read(t)?);
                }
            }
        }
        Ok(out)
    }

    /// The runqueue of a CPU.
    pub fn runqueue(&self, cpu: u32) -> Result<Object<'_>> {
        let rq = self.global("runqueues")?;
        Ok(Object::new(self, self.per_cpu_addr(rq.addr, cpu)?, rq.ty))
    }

    /// The task running on a CPU at dump time.
    pub fn cpu_curr(&self, cpu: u32) -> Result<Task<'_>> {
        let curr = self.runqueue(cpu)?.member("curr")?.deref()?;
        TaskReader::new(self)?.read(curr)
    }

    /// The CPU that called panic(), if the kernel panicked.
    pub fn panic_cpu(&self) -> Result<Option<u32>> {
        let v = self.global("panic_cpu")?.member("counter")?.as_i64()?;
        Ok((v >= 0).then_some(v as u32))
    }

    /// The task that panicked (the current task of the panicking CPU).
    pub fn crashed_task(&self) -> Result<Option<Task<'_>>> {
        match self.panic_cpu()? {
            Some(cpu) => Ok(Some(self.cpu_curr(cpu)?)),
            None => Ok(None),
        }
    }

    /// `jiffies_64`.
    pub fn jiffies(&self) -> Result<u64> {
        self.global("jiffies_64")?.as_u64()
    }

    /// Time since boot at the last timekeeping update, in ns (as /proc/uptime).
    pub fn uptime_ns(&self) -> Result<u64> {
        let tk = self.global("tk_core")?.member("timekeeper")?;
        let base = tk.member("tkr_mono.base")?.as_i64()?;
        let boot = tk.member("offs_boot")?.as_i64()?;
        Ok((base + boot).max(0) as u64)
    }
}
