//! Tasks, CPUs and the crash context, read the way /proc and `ps` show them.

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::object::{c_string, FieldReader, Object};
use crate::partial::{Gap, GapKind};
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

/// Tasks as far as they could be read (see [`Kernel::task_walk`]).
#[derive(Debug, Default)]
pub struct TaskWalk<'k> {
    pub tasks: Vec<Task<'k>>,
    pub gaps: Vec<Gap>,
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
    /// The task_struct at `addr` as an object (for a pointer found in
    /// another structure: a lock's owner, a waiter).
    pub fn task_object(&self, addr: u64) -> Result<Object<'_>> {
        self.object(addr, "struct task_struct")
    }

    /// The task at `addr`, read on its own (not from a walk).
    pub fn task_at(&self, addr: u64) -> Result<Task<'_>> {
        TaskReader::new(self)?.read(self.task_object(addr)?)
    }

    /// Every task (every thread of every process), pid 0 excluded, in the
    /// kernel's list order: `init_task.tasks`, then each group's threads.
    /// Strict: an error if any task could not be read (see [`Kernel::task_walk`]
    /// for the partial answer).
    pub fn tasks(&self) -> Result<Vec<Task<'_>>> {
        let w = self.task_walk()?;
        match w.gaps.first() {
            None => Ok(w.tasks),
            Some(g) => Err(Error::Incomplete(format!(
                "{} ({} problem(s) in all): {}",
                g.describe(),
                w.gaps.len(),
                g.detail
            ))),
        }
    }

    /// Every task that can be read, and a [`Gap`] for each one that cannot
    /// (or each list that broke). The task list and the thread lists come
    /// first; when any of them breaks, the pid table is walked too and the
    /// tasks only it reaches are added after their thread group.
    pub fn task_walk<'k>(&'k self) -> Result<TaskWalk<'k>> {
        let init = self.global("init_task")?;
        let mut g = GroupWalker::new(self, &init)?;
        let tasks_off = g.offset("tasks")?;
        let leaders = self.list_walk(init.member("tasks")?.addr)?;
        for (node, e) in &leaders.breaks {
            let addr = node.wrapping_sub(tasks_off);
            g.w.gaps.push(Gap::new(GapKind::Task, addr, None, e));
            g.seen.insert(addr);
        }
        if leaders.breaks.len() >= 2 {
            // Between two unreadable nodes lies a stretch of the list that
            // neither direction reaches: only other routes can find it.
            let (node, e) = &leaders.breaks[0];
            let mut gap = Gap::new(GapKind::TaskList, *node, None, e);
            gap.detail = format!(
                "the task list broke at {} nodes; the tasks between them are found only through \
                 the process tree and the pid table",
                leaders.breaks.len()
            );
            g.w.gaps.push(gap);
        }
        for n in &leaders.nodes {
            g.visit_group(n.wrapping_sub(tasks_off));
        }
        if !g.w.gaps.is_empty() {
            // Leaders between two breaks of the task list are still in their
            // parents' children lists; threads of a lost group in the pid table.
            g.walk_process_tree(init.addr)?;
            g.add_from_pid_table();
        }
        Ok(g.w)
    }

    /// Whether a task was on a CPU when the dump was taken (`on_cpu`, set
    /// from context switch in to out; false where unreadable).
    pub fn task_on_cpu(&self, t: &Task<'_>) -> bool {
        self.on_cpu(t).unwrap_or(false)
    }

    /// [`Kernel::task_on_cpu`], or why it cannot be told. A kernel built
    /// without SMP has no `on_cpu`: there the task is on its CPU if it is
    /// that CPU's runqueue's current task.
    pub fn on_cpu(&self, t: &Task<'_>) -> Result<bool> {
        if t.obj.has_member("on_cpu") {
            return Ok(t.obj.member("on_cpu")?.as_u64()? != 0);
        }
        Ok(self.cpu_curr(t.cpu.unwrap_or(0))?.addr() == t.addr())
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

/// The state of one [`Kernel::task_walk`]: tasks read so far, what was
/// seen, the offsets of the lists that link tasks.
struct GroupWalker<'k> {
    k: &'k Kernel,
    r: TaskReader<'k>,
    task_ty: kdebuginfo::TypeId,
    /// Offset of the node a thread list links (`thread_node` or `thread_group`).
    thread_off: u64,
    /// 6.7+: the thread list's head is `signal->thread_head`.
    thread_head_off: Option<u64>,
    signal: FieldReader,
    w: TaskWalk<'k>,
    /// task_structs read or reported.
    seen: HashSet<u64>,
}

impl<'k> GroupWalker<'k> {
    fn new(k: &'k Kernel, init: &Object<'k>) -> Result<GroupWalker<'k>> {
        let mut g = GroupWalker {
            k,
            r: TaskReader::new(k)?,
            task_ty: init.ty,
            thread_off: 0,
            thread_head_off: None,
            signal: FieldReader::new(init, "signal")?,
            w: TaskWalk::default(),
            seen: HashSet::new(),
        };
        if init.has_member("signal.thread_head") {
            let sig = k.find_type("struct signal_struct")?;
            g.thread_off = g.offset("thread_node")?;
            g.thread_head_off = Some(k.debug.member_path(sig, "thread_head")?.offset);
        } else {
            g.thread_off = g.offset("thread_group")?;
        }
        Ok(g)
    }

    fn offset(&self, member: &str) -> Result<u64> {
        Ok(self.k.debug.member_path(self.task_ty, member)?.offset)
    }

    /// Reads a task once; an unreadable one becomes a gap.
    fn push(&mut self, addr: u64, pid: Option<i32>) {
        if self.seen.insert(addr) {
            match self.r.read(Object::new(self.k, addr, self.task_ty)) {
                Ok(t) => self.w.tasks.push(t),
                Err(e) => self.w.gaps.push(Gap::new(GapKind::Task, addr, pid, &e)),
            }
        }
    }

    /// A thread group: its leader and every thread of its thread list.
    fn visit_group(&mut self, leader: u64) {
        let head = match self.thread_head_off {
            Some(o) => self
                .signal
                .read_u64(self.k, leader)
                .map(|s| s.wrapping_add(o)),
            None => {
                self.push(leader, None);
                Ok(leader.wrapping_add(self.thread_off))
            }
        };
        let first_error = match head.and_then(|h| self.k.list_walk(h)) {
            Ok(t) => {
                for n in &t.nodes {
                    self.push(n.wrapping_sub(self.thread_off), None);
                }
                t.breaks.into_iter().next().map(|(_, e)| e)
            }
            Err(e) => Some(e),
        };
        if let Some(e) = first_error {
            self.push(leader, None);
            let tgid = self
                .w
                .tasks
                .iter()
                .rev()
                .find(|t| t.addr() == leader)
                .map(|t| t.tgid);
            self.w
                .gaps
                .push(Gap::new(GapKind::ThreadList, leader, tgid, &e));
        }
    }

    /// Every process reachable through `children`/`sibling` from `root`;
    /// groups not seen yet are visited. Bounded by the tasks seen.
    fn walk_process_tree(&mut self, root: u64) -> Result<()> {
        let children_off = self.offset("children")?;
        let sibling_off = self.offset("sibling")?;
        let mut queue = std::collections::VecDeque::from([root]);
        let mut in_tree: HashSet<u64> = HashSet::from([root]);
        while let Some(p) = queue.pop_front() {
            if in_tree.len() > crate::object::MAX_LIST {
                break;
            }
            // An unreadable parent was reported already; its children are
            // lost to this route only.
            let Ok(kids) = self.k.list_walk(p.wrapping_add(children_off)) else {
                continue;
            };
            for c in kids.nodes.iter().map(|n| n.wrapping_sub(sibling_off)) {
                if in_tree.insert(c) {
                    queue.push_back(c);
                    if !self.seen.contains(&c) {
                        self.visit_group(c);
                    }
                }
            }
            for (node, e) in &kids.breaks {
                let c = node.wrapping_sub(sibling_off);
                if self.seen.insert(c) {
                    self.w.gaps.push(Gap::new(GapKind::Task, c, None, e));
                }
            }
        }
        Ok(())
    }

    /// Tasks the lists did not reach, from the pid table, each placed after
    /// the last task of its thread group (or at the end); a gap the lists
    /// reported by address gets its pid.
    fn add_from_pid_table(&mut self) {
        let table = match self.k.pid_table() {
            Ok(t) => t,
            Err(e) => {
                self.w.gaps.push(Gap::new(GapKind::IndexNode, 0, None, &e));
                return;
            }
        };
        self.w.gaps.extend(table.gaps);
        for p in table.pids {
            let Some(addr) = p.task else { continue };
            if !self.seen.insert(addr) {
                for g in self.w.gaps.iter_mut() {
                    if g.kind == GapKind::Task && g.addr == addr && g.pid.is_none() {
                        g.pid = Some(p.nr);
                    }
                }
                continue;
            }
            match self.r.read(Object::new(self.k, addr, self.task_ty)) {
                Ok(t) => {
                    let at = self
                        .w
                        .tasks
                        .iter()
                        .rposition(|o| o.tgid == t.tgid)
                        .map_or(self.w.tasks.len(), |i| i + 1);
                    self.w.tasks.insert(at, t);
                }
                Err(e) => self
                    .w
                    .gaps
                    .push(Gap::new(GapKind::Task, addr, Some(p.nr), &e)),
            }
        }
    }
}
