//! The model rules evaluate over: a dump's kernel data read once and on
//! demand (tasks, indexes, log, memory…), stacks unwound only when asked;
//! or a kernel log alone ([`Model::of_log`]: its records, the reports parsed
//! from them, the release it names), where whatever needs the kernel's
//! memory is [`ModelError::NeedsDump`].

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmodel::files::OpenFile;
use kmodel::locks::{BlockedOn, WaitGraph};
use kmodel::memcg::MemCgroup;
use kmodel::mm::{MemorySummary, VmStat};
use kmodel::modules::ModuleInfo;
use kmodel::oops::{Crash, OopsReport};
use kmodel::partial::Gap;
use kmodel::printk::LogRecord;
use kmodel::rcu::RcuState;
use kmodel::sched::RunQueue;
use kmodel::slab::SlabCache;
use kmodel::tasks::Task;
use kmodel::workqueue::WorkerPool;
use kmodel::Kernel;

/// One frame of a kernel stack.
#[derive(Debug, Clone, Default)]
pub struct FrameInfo {
    pub function: Option<String>,
    pub pc: u64,
    pub sp: u64,
    pub offset: u64,
    pub inline: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    pub frames: Vec<FrameInfo>,
    pub error: Option<String>,
}

/// Where stacks come from (the unwinder in production; tests may count calls).
pub trait Stacks<'k> {
    fn stack(&self, k: &'k Kernel, task: &Task<'k>) -> Arc<StackInfo>;
    /// The lock a task waits for (address, kind, wait-site function).
    fn blocked_on(&self, k: &'k Kernel, task: &Task<'k>) -> Option<BlockedOn>;
}

#[derive(Debug, Clone)]
pub struct CpuInfo {
    pub id: u32,
    pub current: Option<usize>,
    pub nr_running: u64,
    /// The runqueue as the kernel model read it.
    pub rq: RunQueue,
}

#[derive(Default)]
pub struct Index {
    pub by_pid: HashMap<i32, usize>,
    pub by_addr: HashMap<u64, usize>,
    /// ppid → indices of group leaders whose parent process is ppid.
    pub children: HashMap<i32, Vec<usize>>,
    pub threads: HashMap<i32, Vec<usize>>,
}

/// Why the model could not answer: the kernel model's error (shared, since
/// an answer read once is cached with its failure), or a task index that
/// names no task.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Kernel(Arc<kmodel::Error>),
    #[error("no task #{0}")]
    NoTask(usize),
    /// The model is of a kernel log alone: what was asked is in the
    /// kernel's memory, which only a dump has.
    #[error("needs a dump")]
    NeedsDump,
}

impl From<kmodel::Error> for ModelError {
    fn from(e: kmodel::Error) -> Self {
        ModelError::Kernel(Arc::new(e))
    }
}

pub type ModelResult<T> = Result<T, ModelError>;

type Lazy<T> = OnceCell<ModelResult<T>>;

/// A dump: the kernel model over its memory, and where stacks come from.
#[derive(Clone, Copy)]
struct Dump<'k> {
    k: &'k Kernel,
    stacks: &'k dyn Stacks<'k>,
}

pub struct Model<'k> {
    /// None for a kernel log alone.
    dump: Option<Dump<'k>>,
    /// The kernel release: the dump's, or what the log says (its `Linux
    /// version` line), if it says.
    release: Option<String>,
    tasks: Lazy<Vec<Task<'k>>>,
    /// What the task walk could not read (a filtered or damaged dump).
    gaps: OnceCell<Vec<Gap>>,
    index: OnceCell<Index>,
    dmesg: Lazy<Vec<LogRecord>>,
    memory: Lazy<MemorySummary>,
    modules: Lazy<Vec<ModuleInfo>>,
    cpus: Lazy<Vec<CpuInfo>>,
    panic: Lazy<Option<String>>,
    wait_graph: Lazy<WaitGraph>,
    rcu: Lazy<RcuState>,
    pools: Lazy<Vec<WorkerPool>>,
    slab_caches: Lazy<Vec<SlabCache>>,
    hz: Lazy<u64>,
    vm_stats: Lazy<Vec<VmStat>>,
    memcgs: Lazy<Vec<MemCgroup>>,
    reports: OnceCell<ModelResult<(Vec<OopsReport>, Option<Crash>)>>,
    stack_cache: RefCell<HashMap<usize, Arc<StackInfo>>>,
    blocked_cache: RefCell<HashMap<usize, Option<BlockedOn>>>,
    files_cache: RefCell<HashMap<usize, Arc<Vec<OpenFile>>>>,
    fuse_servers: Lazy<Vec<usize>>,
    /// Stacks unwound through this model (a laziness test reads it).
    pub unwound: Cell<usize>,
    /// Time spent reading the dump (walks, unwinding): a rule's time limit
    /// counts its own evaluation, not this.
    pub spent: Cell<Duration>,
}

/// Reads an answer once, adding the time the read took to `spent`.
fn lazy<'a, T>(
    cell: &'a Lazy<T>,
    spent: &Cell<Duration>,
    f: impl FnOnce() -> kmodel::Result<T>,
) -> ModelResult<&'a T> {
    cell.get_or_init(|| timed(spent, || f().map_err(ModelError::from)))
        .as_ref()
        .map_err(|e| e.clone())
}

fn timed<T>(spent: &Cell<Duration>, f: impl FnOnce() -> T) -> T {
    let t0 = Instant::now();
    let v = f();
    spent.set(spent.get() + t0.elapsed());
    v
}

impl Model<'static> {
    /// The model of a kernel log alone (a `vmcore-dmesg.txt`, a console
    /// log), without a dump: its records, oldest first, and the kernel
    /// release if the log says it (its `Linux version` line). Rules that
    /// read only the log run on it; whatever needs the kernel's memory
    /// (tasks, locks, globals, stacks…) is [`ModelError::NeedsDump`], and
    /// [`crate::RulePack::scan`] skips the rules that need a dump with
    /// that reason.
    pub fn of_log(records: Vec<LogRecord>, release: Option<String>) -> Model<'static> {
        let m = Model::with(None, release);
        let _ = m.dmesg.set(Ok(records));
        m
    }
}

impl<'k> Model<'k> {
    /// The model of a dump.
    pub fn new(k: &'k Kernel, stacks: &'k dyn Stacks<'k>) -> Model<'k> {
        Model::with(Some(Dump { k, stacks }), Some(k.release.clone()))
    }

    fn with(dump: Option<Dump<'k>>, release: Option<String>) -> Model<'k> {
        Model {
            dump,
            release,
            tasks: OnceCell::new(),
            gaps: OnceCell::new(),
            index: OnceCell::new(),
            dmesg: OnceCell::new(),
            memory: OnceCell::new(),
            modules: OnceCell::new(),
            cpus: OnceCell::new(),
            panic: OnceCell::new(),
            wait_graph: OnceCell::new(),
            rcu: OnceCell::new(),
            pools: OnceCell::new(),
            slab_caches: OnceCell::new(),
            hz: OnceCell::new(),
            vm_stats: OnceCell::new(),
            reports: OnceCell::new(),
            memcgs: OnceCell::new(),
            stack_cache: RefCell::new(HashMap::new()),
            blocked_cache: RefCell::new(HashMap::new()),
            files_cache: RefCell::new(HashMap::new()),
            fuse_servers: OnceCell::new(),
            unwound: Cell::new(0),
            spent: Cell::new(Duration::ZERO),
        }
    }

    /// The kernel model of the dump; [`ModelError::NeedsDump`] on a log.
    pub fn kernel(&self) -> ModelResult<&'k Kernel> {
        self.dump.map(|d| d.k).ok_or(ModelError::NeedsDump)
    }

    fn dump(&self) -> ModelResult<Dump<'k>> {
        self.dump.ok_or(ModelError::NeedsDump)
    }

    /// Whether this is the model of a dump (not of a log alone).
    pub fn has_dump(&self) -> bool {
        self.dump.is_some()
    }

    /// The kernel release: the dump's, or the log's if it says.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// Every task that could be read; what could not is in [`Model::gaps`].
    pub fn tasks(&self) -> ModelResult<&[Task<'k>]> {
        let k = self.kernel()?;
        lazy(&self.tasks, &self.spent, || {
            let w = k.task_walk()?;
            let _ = self.gaps.set(w.gaps);
            Ok(w.tasks)
        })
        .map(|v| v.as_slice())
    }

    /// What the task walk could not read, once tasks were asked for: a rule
    /// that looked at tasks then answered from a partial list.
    pub fn gaps(&self) -> &[Gap] {
        self.gaps.get().map(|g| g.as_slice()).unwrap_or(&[])
    }

    pub fn index(&self) -> ModelResult<&Index> {
        let tasks = self.tasks()?;
        Ok(self.index.get_or_init(|| {
            let mut ix = Index::default();
            for (i, t) in tasks.iter().enumerate() {
                ix.by_pid.insert(t.pid, i);
                ix.by_addr.insert(t.addr(), i);
                ix.threads.entry(t.tgid).or_default().push(i);
                if t.pid == t.tgid {
                    if let Some(pp) = t.ppid {
                        ix.children.entry(pp).or_default().push(i);
                    }
                }
            }
            ix
        }))
    }

    pub fn task(&self, i: usize) -> ModelResult<&Task<'k>> {
        self.tasks()?.get(i).ok_or(ModelError::NoTask(i))
    }

    /// The kernel log: the dump's ring buffer, or the log given.
    pub fn dmesg(&self) -> ModelResult<&[LogRecord]> {
        if let Some(d) = self.dmesg.get() {
            return d.as_ref().map(|v| v.as_slice()).map_err(|e| e.clone());
        }
        let k = self.kernel()?;
        lazy(&self.dmesg, &self.spent, || k.dmesg()).map(|v| v.as_slice())
    }

    pub fn memory(&self) -> ModelResult<&MemorySummary> {
        let k = self.kernel()?;
        lazy(&self.memory, &self.spent, || k.memory())
    }

    pub fn modules(&self) -> ModelResult<&[ModuleInfo]> {
        let k = self.kernel()?;
        lazy(&self.modules, &self.spent, || k.modules()).map(|v| v.as_slice())
    }

    /// The panic message, as the log prints it.
    pub fn panic_message(&self) -> ModelResult<Option<&str>> {
        let log = self.dmesg()?;
        lazy(&self.panic, &self.spent, || {
            Ok(kmodel::printk::panic_message(log))
        })
        .map(|o| o.as_deref())
    }

    /// The wait-for graph over the tasks that can wait for a lock (asleep in
    /// D, or on a CPU spinning): built once, unwinding only those.
    pub fn wait_graph(&self) -> ModelResult<&WaitGraph> {
        let tasks = self.tasks()?;
        let k = self.kernel()?;
        lazy(&self.wait_graph, &self.spent, || {
            Ok(k.tasks_wait_graph(tasks, |i, _| self.blocked_on(i).ok().flatten()))
        })
    }

    pub fn cpus(&self) -> ModelResult<&[CpuInfo]> {
        let ix = self.index()?;
        let k = self.kernel()?;
        lazy(&self.cpus, &self.spent, || {
            let mut v = Vec::new();
            for rq in k.runqueues()? {
                v.push(CpuInfo {
                    id: rq.cpu,
                    current: ix.by_addr.get(&rq.curr).copied(),
                    nr_running: rq.nr_running,
                    rq,
                });
            }
            Ok(v)
        })
        .map(|v| v.as_slice())
    }

    pub fn rcu(&self) -> ModelResult<&RcuState> {
        let k = self.kernel()?;
        lazy(&self.rcu, &self.spent, || k.rcu_state())
    }

    /// Every worker pool (what the walk of their IDR could not read is
    /// left out; `vmtriage workqueues` reports it).
    pub fn pools(&self) -> ModelResult<&[WorkerPool]> {
        let k = self.kernel()?;
        lazy(&self.pools, &self.spent, || Ok(k.workqueues()?.pools)).map(|v| v.as_slice())
    }

    pub fn slab_caches(&self) -> ModelResult<&[SlabCache]> {
        let k = self.kernel()?;
        lazy(&self.slab_caches, &self.spent, || k.slab_caches()).map(|v| v.as_slice())
    }

    /// The global VM counters, read once.
    pub fn vm_stats(&self) -> ModelResult<&[VmStat]> {
        let k = self.kernel()?;
        lazy(&self.vm_stats, &self.spent, || k.vm_stats()).map(|v| v.as_slice())
    }

    /// The crash reports of the log (oldest first) and which of them tell
    /// why the machine went down; their `record`s index [`Model::dmesg`].
    pub fn reports(&self) -> ModelResult<(&[OopsReport], Option<&Crash>)> {
        let r = self.reports.get_or_init(|| {
            let log = self.dmesg()?;
            let reports = timed(&self.spent, || kmodel::oops::parse_log(log));
            let crash = kmodel::oops::crash(&reports);
            Ok((reports, crash))
        });
        match r {
            Ok((reports, crash)) => Ok((reports.as_slice(), crash.as_ref())),
            Err(e) => Err(e.clone()),
        }
    }

    /// Every memory cgroup, the root first.
    pub fn memcgs(&self) -> ModelResult<&[MemCgroup]> {
        let k = self.kernel()?;
        lazy(&self.memcgs, &self.spent, || k.memcgs()).map(|v| v.as_slice())
    }

    /// Jiffies per second.
    pub fn hz(&self) -> ModelResult<u64> {
        let k = self.kernel()?;
        lazy(&self.hz, &self.spent, || k.hz()).copied()
    }

    pub fn stack(&self, i: usize) -> ModelResult<Arc<StackInfo>> {
        if let Some(s) = self.stack_cache.borrow().get(&i) {
            return Ok(s.clone());
        }
        let t = self.task(i)?;
        let d = self.dump()?;
        let s = timed(&self.spent, || d.stacks.stack(d.k, t));
        self.unwound.set(self.unwound.get() + 1);
        self.stack_cache.borrow_mut().insert(i, s.clone());
        Ok(s)
    }

    /// The stack if a rule already unwound it (evidence shows those only:
    /// rendering a report must not unwind what no rule looked at).
    pub fn cached_stack(&self, i: usize) -> Option<Arc<StackInfo>> {
        self.stack_cache.borrow().get(&i).cloned()
    }

    /// The task's open files (read once per task). A file table that cannot
    /// be read is an error; a single unreadable file is left out.
    pub fn open_files(&self, i: usize) -> ModelResult<Arc<Vec<OpenFile>>> {
        if let Some(f) = self.files_cache.borrow().get(&i) {
            return Ok(f.clone());
        }
        let t = self.task(i)?;
        let k = self.kernel()?;
        let f = Arc::new(timed(&self.spent, || k.open_files(t))?);
        self.files_cache.borrow_mut().insert(i, f.clone());
        Ok(f)
    }

    /// The tasks serving a FUSE filesystem (holding `/dev/fuse` open), one
    /// per process (its group leader, or the first of its threads found).
    pub fn fuse_servers(&self) -> ModelResult<&[usize]> {
        let r = self.fuse_servers.get_or_init(|| {
            let mut out = Vec::new();
            let mut groups = std::collections::HashSet::new();
            for (i, t) in self.tasks()?.iter().enumerate() {
                // Threads share one file table: read it once a process.
                if t.is_kthread() || groups.contains(&t.tgid) {
                    continue;
                }
                let Ok(files) = self.open_files(i) else {
                    continue;
                };
                groups.insert(t.tgid);
                if kmodel::fuse::serves_fuse(&files) {
                    out.push(i);
                }
            }
            Ok(out)
        });
        r.as_ref().map(|v| v.as_slice()).map_err(|e| e.clone())
    }

    pub fn blocked_on(&self, i: usize) -> ModelResult<Option<BlockedOn>> {
        if let Some(b) = self.blocked_cache.borrow().get(&i) {
            return Ok(b.clone());
        }
        // The lock comes from the stack's frame variables: unwinding is
        // needed anyway, and keeping the stack lets evidence show it.
        self.stack(i)?;
        let t = self.task(i)?;
        let d = self.dump()?;
        let b = timed(&self.spent, || d.stacks.blocked_on(d.k, t));
        self.blocked_cache.borrow_mut().insert(i, b.clone());
        Ok(b)
    }
}

/// The model is what a dump's title reads ([`kmodel::titles::title`]): its
/// log, tasks and wait-for graph, read once for the rules and the title,
/// and its stacks. Titling after the rules ran shows no rule evidence a
/// stack the title unwound.
impl<'k> kmodel::titles::Source<'k> for Model<'k> {
    fn frames(&self, task: &Task<'k>) -> Vec<kmodel::titles::Frame> {
        // The crashed CPU's idle task is on no task list.
        let stack = match self
            .index()
            .ok()
            .and_then(|ix| ix.by_addr.get(&task.addr()))
        {
            Some(&i) => self.stack(i).ok(),
            None => self
                .dump
                .map(|d| timed(&self.spent, || d.stacks.stack(d.k, task))),
        };
        stack
            .map(|s| {
                s.frames
                    .iter()
                    .filter_map(|f| {
                        Some(kmodel::titles::Frame {
                            function: f.function.clone()?,
                            module: f.module.clone(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn blocked_on(&self, task: &Task<'k>) -> Option<BlockedOn> {
        match self
            .index()
            .ok()
            .and_then(|ix| ix.by_addr.get(&task.addr()))
        {
            Some(&i) => Model::blocked_on(self, i).ok().flatten(),
            None => self.dump.and_then(|d| d.stacks.blocked_on(d.k, task)),
        }
    }
    fn log(&self) -> Option<&[LogRecord]> {
        self.dmesg().ok()
    }
    fn tasks(&self) -> Option<&[Task<'k>]> {
        Model::tasks(self).ok()
    }
    fn wait_graph(&self) -> Option<&WaitGraph> {
        Model::wait_graph(self).ok()
    }
}
