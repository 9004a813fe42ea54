//! A title and a signature for every dump and every kernel log, in the
//! shape syzbot gives its crash titles, so that a bucket can be matched to
//! a public syzbot or distribution bug by its title.
//!
//! # Title grammar
//!
//! ```text
//! title    = words [" in " function [" [" module "]"]]   a report with a frame
//!          | words ": " detail                            a panic of its own words,
//!                                                         an OOM kill's scope, no frame
//!          | words                                        nothing sure to name
//! function = the first frame of the report (its RIP/pc or the function its
//!            headline names, then its reliable call trace) that is not
//!            generic (crate::frames), compiler suffixes (.cold, .isra.0) cut
//! ```
//!
//! The `words` of each kind ([`Kind::name`]; one table, `Kind::words`, and
//! `report_words` for the kinds whose words carry what they report):
//!
//! | report | words |
//! |---|---|
//! | KASAN | `KASAN: <bug> Read` / `Write` (`slab-use-after-free`, `global-out-of-bounds`, `null-ptr-deref`…); `KASAN: invalid-free` for a double or invalid free |
//! | KFENCE | `KFENCE: <bug> read` / `write`, `KFENCE: invalid free`, `KFENCE: memory corruption` |
//! | UBSAN, KMSAN | `UBSAN: <check>` (`shift-out-of-bounds`…), `KMSAN: <bug>` (`uninit-value`…) |
//! | kmemleak | `memory leak` |
//! | lockdep | `possible deadlock` (circular dependency, recursive locking, irq lock inversion, irq-safe → irq-unsafe order), `inconsistent lock state`, `WARNING: held lock freed`, `WARNING: bad unlock balance`, `WARNING: lock held when returning to user space`, `WARNING: suspicious RCU usage` |
//! | might_sleep, schedule | `BUG: sleeping function called from invalid context`, `BUG: scheduling while atomic` |
//! | refcount_t, ODEBUG | `WARNING: refcount bug`, `WARNING: ODEBUG bug` |
//! | page allocator, mm exit | `BUG: Bad page state`; `BUG: Bad rss-counter state` (no function) |
//! | SLUB debug | `BUG: <check>` (`Right Redzone overwritten`, `Poison overwritten`, `Freepointer corrupt`…); `BUG: Object already free` (no function) |
//! | spinlock debug | `BUG: spinlock <check>` / `BUG: rwlock <check>` (`bad magic`, `recursion`, `lockup suspected`…) |
//! | workqueue watchdog | `BUG: workqueue lockup` (no function) |
//! | stack checks | `kernel panic: stack is corrupted` (stack protector), `kernel panic: corrupted stack end`, `kernel stack overflow` |
//! | faults | `BUG: unable to handle kernel NULL pointer dereference`, `BUG: unable to handle kernel paging request` (x86 and arm64 alike), `general protection fault`, `divide error`, `invalid opcode` (arm64's undefined instruction too), `PANIC: double fault`, `Oops` (a die() line alone) |
//! | BUG(), lists | `kernel BUG`, `BUG: corrupted list` |
//! | WARN() | `WARNING` |
//! | watchdogs | `BUG: soft lockup`, `hard lockup`, `INFO: rcu detected stall`, `INFO: task hung` |
//! | panics | `kernel panic: <message>`, `out of memory panic: <message>`, `sysrq crash` |
//! | other reports | `OOM kill: system-wide` / `OOM kill: memory cgroup <path>`, `page allocation failure` |
//! | the dump alone | `deadlock`, `CPU hog`, `INFO: task hung` (tasks piled up in D), `task flood`, `unreclaimable slab: <cache>`, `no crash` |
//!
//! A report cut short or interleaved ([`crate::oops::OopsReport::corrupted`])
//! names only what it printed: its headline's function where the headline
//! names one, else its words alone.
//!
//! # Where the frames come from
//!
//! - a crash (the kernel panicked): the log's report that caused the panic
//!   ([`crate::oops`]: its `RIP:` and reliable call-trace frames), else the
//!   panic's own trace, else the stack of the crashed task;
//! - a dump captured live: an oops the kernel survived, a bug a check
//!   reported (a sanitizer, lockdep…), a deadlock cycle of the wait-for
//!   graph, a soft/hard lockup or RCU stall (the CPU hog: the task on a CPU
//!   that is not itself spinning for a lock), the largest group of tasks in
//!   D (those waiting for one lock, or in one function), an OOM kill, a
//!   warning, a flood of tasks of one command, or nothing (`no crash`);
//! - a log alone ([`log_title`]), by the same pieces: a crash (a panic
//!   line, or an oops the log ends in) by its cause, else the first oops,
//!   else the first check's report, else the most severe watchdog's first
//!   report, a hung task, an OOM kill, a warning or an allocation failure;
//!   [`Title::basis`] says whether a dump's title is one its log gives.
//!
//! # Signature
//!
//! A hash of the kind's stable slug (never changed once given; a new kind
//! gets a new one), for the kinds whose words vary those words, and the
//! first [`SIGNATURE_FRAMES`] non-generic frames (module names kept,
//! offsets and addresses dropped, digits removed from function names and
//! compiler suffixes like `.cold` or `.constprop.0` stripped), so one bug
//! gives one signature in every dump format and on kernels where its code
//! path is the same.
//!
//! Stacks are the unwinder's, which this crate may not call: they come
//! through [`Source`], as the wait-for graph takes the unwinder's answer as
//! a function. [`title`] is the entry point for a dump, [`log_title`] for a
//! log, [`report_title`] for one report.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::frames::{base_name, generic, interrupt_entry, Generic};
use crate::locks::{BlockedOn, ContendedLock, WaitGraph};
use crate::oops::{LockdepBug, OopsKind, OopsReport, PanicReason, PrintedFrame};
use crate::printk::LogRecord;
use crate::tasks::Task;
use crate::Kernel;

/// How many non-generic frames the signature hashes.
pub const SIGNATURE_FRAMES: usize = 5;
/// More tasks of one command than this is a flood (no ordinary system
/// runs thousands of copies of one program).
pub const FLOOD_TASKS: usize = 4096;
/// Tasks in D waiting for one lock that make a hang without the hung-task
/// watchdog's word (the dump may be captured before its timeout).
pub const HUNG_ON_LOCK: usize = 2;
/// Tasks in D in one function (no lock) that make a hang without it.
pub const HUNG_IN_FUNCTION: usize = 4;
/// A task on its CPU this long without a switch hogs it: the soft-lockup
/// watchdog's default threshold (2 × `watchdog_thresh` = 20 s).
pub const CPU_HOG_NS: u64 = 20_000_000_000;
/// Stacks unwound to name a flood's function.
const FLOOD_SAMPLE: usize = 64;
/// Unreclaimable slab above this share of RAM (in percent) titles a dump
/// that shows nothing else: a kernel memory leak in progress.
const SLAB_GROWTH_PCT: u64 = 30;

/// What happened: what a report of the log says, what the panic's message
/// names when its report is gone, or what the tasks and memory show with no
/// report to say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A report of the log (the crash's cause, an oops the kernel
    /// survived, a lockup, an OOM kill, a warning, an allocation failure).
    Report(OopsKind),
    /// The panic's reason, its report no longer in the log (`Other`: a
    /// panic in words of its own; `OutOfMemory`: panic_on_oom).
    Panic(PanicReason),
    /// A cycle of the wait-for graph.
    Deadlock,
    /// A task on its CPU for [`CPU_HOG_NS`] without a switch.
    CpuHog,
    /// Tasks piled up in D (on one lock, or in one function).
    Hang,
    /// More than [`FLOOD_TASKS`] tasks of one command.
    TaskFlood,
    /// Unreclaimable slab holding much of RAM.
    SlabGrowth,
    NoCrash,
}

/// A title's words and its kind's stable identifier (what the signature
/// hashes and the store keeps: they never change).
type Words = (&'static str, &'static str);
const SOFT_LOCKUP: Words = ("BUG: soft lockup", "soft-lockup");
const HARD_LOCKUP: Words = ("hard lockup", "hard-lockup");
const RCU_STALL: Words = ("INFO: rcu detected stall", "rcu-stall");
const HUNG_TASK: Words = ("INFO: task hung", "hung-task");
const SYSRQ_CRASH: Words = ("sysrq crash", "sysrq-crash");
const WARNING: Words = ("WARNING", "warning");
const OOPS: Words = ("Oops", "oops");
const PANIC: Words = ("kernel panic", "panic");
const OOM_PANIC: Words = ("out of memory panic", "oom-panic");

impl Kind {
    /// The words a title starts with.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Kind::Report(k) => match report_words(k) {
                Some(w) => Cow::Owned(w),
                None => Cow::Borrowed(self.words().0),
            },
            _ => Cow::Borrowed(self.words().0),
        }
    }

    /// The kind's stable identifier (what the signature hashes).
    pub fn slug(&self) -> &'static str {
        self.words().1
    }

    /// What the signature hashes besides the slug for a kind whose words
    /// vary (KASAN's bug and access, UBSAN's check…): those words.
    fn variant(&self) -> Option<String> {
        match self {
            Kind::Report(k) => report_words(k),
            _ => None,
        }
    }

    /// Whether a title names a function: the checks that report no stack
    /// of the bug (a bad rss counter at exit, a stuck workqueue pool, an
    /// object freed twice as SLUB sees it) are titled by their words alone,
    /// as syzbot titles them.
    pub fn names_function(&self) -> bool {
        !matches!(
            self,
            Kind::Report(OopsKind::BadRssCounter | OopsKind::WorkqueueLockup { .. })
        ) && !matches!(self, Kind::Report(OopsKind::Slub { what, .. }) if what == "Object already free")
    }

    fn words(&self) -> Words {
        match self {
            Kind::Report(k) => match k {
                OopsKind::PageFault { null: true } => (
                    "BUG: unable to handle kernel NULL pointer dereference",
                    "null-dereference",
                ),
                OopsKind::PageFault { null: false } => {
                    ("BUG: unable to handle kernel paging request", "page-fault")
                }
                OopsKind::GeneralProtection { .. } => {
                    ("general protection fault", "general-protection")
                }
                OopsKind::Bug { .. } => ("kernel BUG", "kernel-bug"),
                OopsKind::ListCorruption => ("BUG: corrupted list", "list-corruption"),
                OopsKind::StackOverflow => ("kernel stack overflow", "stack-overflow"),
                OopsKind::DoubleFault => ("PANIC: double fault", "double-fault"),
                OopsKind::DivideError => ("divide error", "divide-error"),
                OopsKind::InvalidOpcode => ("invalid opcode", "invalid-opcode"),
                OopsKind::Oops => OOPS,
                OopsKind::Warning { .. } => WARNING,
                OopsKind::SoftLockup { .. } => SOFT_LOCKUP,
                OopsKind::HardLockup { .. } => HARD_LOCKUP,
                OopsKind::RcuStall => RCU_STALL,
                OopsKind::HungTask { .. } => HUNG_TASK,
                OopsKind::SysrqCrash => SYSRQ_CRASH,
                OopsKind::OomKill => ("OOM kill", "oom-kill"),
                OopsKind::AllocFailure { .. } => ("page allocation failure", "alloc-failure"),
                OopsKind::Panic => PANIC,
                OopsKind::OomPanic => OOM_PANIC,
                // The words of these vary ([`report_words`]); the slug not.
                OopsKind::Kasan { .. } => ("KASAN", "kasan"),
                OopsKind::Kfence { .. } => ("KFENCE", "kfence"),
                OopsKind::Ubsan { .. } => ("UBSAN", "ubsan"),
                OopsKind::Kmsan { .. } => ("KMSAN", "kmsan"),
                OopsKind::Slub { .. } => ("BUG: SLUB", "slub"),
                OopsKind::Spinlock { .. } => ("BUG: spinlock", "spinlock-debug"),
                OopsKind::MemoryLeak => ("memory leak", "memory-leak"),
                OopsKind::Lockdep(b) => lockdep_words(*b),
                OopsKind::SleepInAtomic { .. } => (
                    "BUG: sleeping function called from invalid context",
                    "sleep-in-atomic",
                ),
                OopsKind::SchedWhileAtomic => {
                    ("BUG: scheduling while atomic", "sched-while-atomic")
                }
                OopsKind::Refcount { .. } => ("WARNING: refcount bug", "refcount"),
                OopsKind::Odebug { .. } => ("WARNING: ODEBUG bug", "odebug"),
                OopsKind::BadPageState => ("BUG: Bad page state", "bad-page-state"),
                OopsKind::BadRssCounter => ("BUG: Bad rss-counter state", "bad-rss-counter"),
                OopsKind::WorkqueueLockup { .. } => ("BUG: workqueue lockup", "workqueue-lockup"),
                OopsKind::StackProtector => ("kernel panic: stack is corrupted", "stack-protector"),
                OopsKind::StackEnd => ("kernel panic: corrupted stack end", "stack-end"),
            },
            Kind::Panic(r) => match r {
                PanicReason::SoftLockup => SOFT_LOCKUP,
                PanicReason::HardLockup => HARD_LOCKUP,
                PanicReason::HungTask => HUNG_TASK,
                PanicReason::RcuStall => RCU_STALL,
                PanicReason::Sysrq => SYSRQ_CRASH,
                PanicReason::Warning => WARNING,
                PanicReason::FatalException => OOPS,
                PanicReason::OutOfMemory => OOM_PANIC,
                PanicReason::Other => PANIC,
            },
            Kind::Deadlock => ("deadlock", "deadlock"),
            Kind::CpuHog => ("CPU hog", "cpu-hog"),
            Kind::Hang => HUNG_TASK,
            Kind::TaskFlood => ("task flood", "task-flood"),
            Kind::SlabGrowth => ("unreclaimable slab", "slab-growth"),
            Kind::NoCrash => ("no crash", "no-crash"),
        }
    }

    /// A panic whose message is all there is to name it (its own words, or
    /// panic_on_oom's).
    fn is_bare_panic(&self) -> bool {
        matches!(
            self,
            Kind::Report(OopsKind::Panic | OopsKind::OomPanic)
                | Kind::Panic(PanicReason::Other | PanicReason::OutOfMemory)
        )
    }

    fn is_hung_task(&self) -> bool {
        self.slug() == HUNG_TASK.1
    }
}

/// What a title was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The log's reports alone: the log of the dump, written as text, gives
    /// the same title and signature ([`log_title`]).
    Log,
    /// The dump's memory: the tasks, their stacks and locks, the crashed
    /// task's stack, the memory counters — or that memory shows nothing.
    Memory,
}

/// The words of a report kind that vary with what it reports, as syzbot
/// words them: `KASAN: slab-use-after-free Read`, `KASAN: invalid-free`
/// (a double free too), `KFENCE: use-after-free read`, `UBSAN:
/// shift-out-of-bounds`, `KMSAN: uninit-value`, `BUG: Redzone overwritten`,
/// `BUG: spinlock bad magic`. None for a kind of fixed words.
fn report_words(k: &OopsKind) -> Option<String> {
    let rw = |w: &Option<bool>, read: &str, write: &str| match w {
        Some(false) => format!(" {read}"),
        Some(true) => format!(" {write}"),
        None => String::new(),
    };
    Some(match k {
        OopsKind::Kasan { bug, .. }
            if bug.contains("double-free") || bug.contains("invalid-free") =>
        {
            "KASAN: invalid-free".to_string()
        }
        OopsKind::Kasan { bug, write } => format!("KASAN: {bug}{}", rw(write, "Read", "Write")),
        OopsKind::Kfence { bug, write } => format!("KFENCE: {bug}{}", rw(write, "read", "write")),
        OopsKind::Ubsan { check, .. } => format!("UBSAN: {check}"),
        OopsKind::Kmsan { bug } => format!("KMSAN: {bug}"),
        OopsKind::Slub { what, .. } => format!("BUG: {what}"),
        OopsKind::Spinlock { lock, bug } => format!("BUG: {lock} {bug}"),
        _ => return None,
    })
}

/// Lockdep's reports as syzbot words them: every report of a lock order
/// that can deadlock is a `possible deadlock`; each keeps its own slug.
fn lockdep_words(b: LockdepBug) -> Words {
    match b {
        LockdepBug::CircularDependency => ("possible deadlock", "lockdep-circular"),
        LockdepBug::RecursiveLocking => ("possible deadlock", "lockdep-recursive"),
        LockdepBug::IrqLockInversion => ("possible deadlock", "lockdep-irq-inversion"),
        LockdepBug::IrqUnsafeOrder => ("possible deadlock", "lockdep-irq-unsafe-order"),
        LockdepBug::InconsistentState => ("inconsistent lock state", "lockdep-inconsistent"),
        LockdepBug::HeldLockFreed => ("WARNING: held lock freed", "lockdep-held-lock-freed"),
        LockdepBug::BadUnlockBalance => ("WARNING: bad unlock balance", "lockdep-bad-unlock"),
        LockdepBug::HeldReturningToUser => (
            "WARNING: lock held when returning to user space",
            "lockdep-held-returning",
        ),
        LockdepBug::SuspiciousRcu => ("WARNING: suspicious RCU usage", "suspicious-rcu"),
    }
}

/// A dump's title and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title {
    pub kind: Kind,
    /// What the title was read from.
    pub basis: Basis,
    /// The first non-generic frame's function (compiler suffixes stripped).
    pub function: Option<String>,
    /// Its module, None for the vmlinux.
    pub module: Option<String>,
    /// `<kind> in <function> [module]`, or the kind and what it is about;
    /// a rule's `dump_title:` where one fired.
    pub text: String,
    /// What else the dump shows about it (not part of the signature):
    /// the task, how many tasks, the lock, the panic message.
    pub note: Option<String>,
    /// The normalised frames the signature hashes, innermost first.
    pub frames: Vec<String>,
    /// 16 hex digits of sha256 over the kind, the frames and, for a panic
    /// with no frame to name, its message with digits removed.
    pub signature: String,
}

/// A frame as the title sees it: a function and its module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Frame {
    pub function: String,
    /// None for the vmlinux.
    pub module: Option<String>,
}

impl Frame {
    fn of_printed(f: &PrintedFrame) -> Option<Frame> {
        Some(Frame {
            function: f.function.clone()?,
            module: f.module.clone(),
        })
    }
}

/// What a title reads that the kernel model cannot: stacks and the lock a
/// task waits for (the unwinder's answers); and what the caller has read
/// already (the rules' model has the log, the tasks and the wait-for graph),
/// so that nothing is read twice. What it leaves `None` the title reads.
pub trait Source<'k> {
    /// A task's stack, innermost first (frames without a name left out);
    /// empty when it cannot be unwound.
    fn frames(&self, task: &Task<'k>) -> Vec<Frame>;
    /// The lock a task waits for.
    fn blocked_on(&self, task: &Task<'k>) -> Option<BlockedOn>;
    fn log(&self) -> Option<&[LogRecord]> {
        None
    }
    fn tasks(&self) -> Option<&[Task<'k>]> {
        None
    }
    /// The graph of [`Kernel::tasks_wait_graph`] over [`Source::tasks`].
    fn wait_graph(&self) -> Option<&WaitGraph> {
        None
    }
}

impl Title {
    /// The same title, marked as read from the log's reports.
    fn read_from_log(mut self) -> Title {
        self.basis = Basis::Log;
        self
    }

    /// Builds a title from its kind and frames (innermost first).
    pub fn new(kind: Kind, frames: &[Frame], detail: Option<&str>, note: Option<String>) -> Title {
        let kept = if kind.names_function() {
            significant(frames)
        } else {
            Vec::new()
        };
        let first = kept.first();
        let function = first.map(|f| base_name(&f.function).to_string());
        let module = first.and_then(|f| f.module.clone());
        let mut text = kind.name().to_string();
        // A panic of its own words is named by them, as syzbot names it
        // (`kernel panic: VFS: Unable to mount root fs…`).
        let by_words = kind.is_bare_panic() && detail.is_some();
        match (&function, detail) {
            (Some(f), _) if !by_words => {
                let _ = write!(text, " in {f}");
                if let Some(m) = &module {
                    let _ = write!(text, " [{m}]");
                }
            }
            (_, Some(d)) => {
                let _ = write!(text, ": {d}");
            }
            (_, None) => {}
        }
        let sig_frames: Vec<String> = kept
            .iter()
            .take(SIGNATURE_FRAMES)
            .map(|f| {
                let n = normalize(&f.function);
                match &f.module {
                    Some(m) => format!("{n} [{m}]"),
                    None => n,
                }
            })
            .collect();
        let detail_key = if sig_frames.is_empty() {
            detail.map(|d| {
                d.chars()
                    .filter(|c| !c.is_ascii_digit())
                    .collect::<String>()
            })
        } else {
            None
        };
        let signature = signature(&kind, &sig_frames, detail_key.as_deref());
        Title {
            kind,
            basis: Basis::Memory,
            function,
            module,
            text,
            note,
            frames: sig_frames,
            signature,
        }
    }
}

impl std::fmt::Display for Title {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// The signature: sha256 over the kind's slug, the normalised frames and
/// an optional detail, one per line; the first 16 hex digits.
fn signature(kind: &Kind, frames: &[String], detail: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(kind.slug().as_bytes());
    if let Some(v) = kind.variant() {
        h.update(b"\n~");
        h.update(v.as_bytes());
    }
    for f in frames {
        h.update(b"\n");
        h.update(f.as_bytes());
    }
    if let Some(d) = detail {
        h.update(b"\n#");
        h.update(d.as_bytes());
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The non-generic frames, consecutive repeats folded (an inline frame and
/// its out-of-line copy, a `.cold` part and its function). A stack caught
/// in an interrupt (a CPU hog sampled in its timer tick) is named by the
/// code the interrupt stopped: the frames above the outermost interrupt
/// entry are dropped when any frame follows it.
pub fn significant(frames: &[Frame]) -> Vec<Frame> {
    let from = frames
        .iter()
        .rposition(|f| interrupt_entry(&f.function))
        .filter(|&i| i + 1 < frames.len())
        .map_or(0, |i| i + 1);
    let mut out: Vec<Frame> = Vec::new();
    for f in &frames[from..] {
        if generic(&f.function).is_some() {
            continue;
        }
        let same = out.last().is_some_and(|l| {
            base_name(&l.function) == base_name(&f.function) && l.module == f.module
        });
        if !same {
            out.push(f.clone());
        }
    }
    out
}

/// A function name as the signature hashes it: compiler suffixes stripped,
/// digits removed (`__x64_sys_write` and a renumbered clone hash alike).
pub fn normalize(function: &str) -> String {
    base_name(function)
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .collect()
}

/// Whether a stack spins or sleeps for a lock: a lock slow path in it.
fn waits_for_lock(frames: &[Frame]) -> bool {
    frames
        .iter()
        .any(|f| generic(&f.function) == Some(Generic::Lock))
}

/// The title of a dump: `rule_title` (a rule's `dump_title:` that fired;
/// which rule's is `ScanResult::dump_title`) replaces the text, while the
/// kind, the frames and the signature stay the model's, so how dumps group
/// does not depend on which rules ran. Never fails: what cannot be read is
/// passed over (an unreadable log means no reports; an unreadable stack no
/// frames).
pub fn title<'k>(k: &'k Kernel, src: &dyn Source<'k>, rule_title: Option<&str>) -> Title {
    let mut t = Titler { k, src }.title();
    with_rule_title(&mut t, rule_title);
    t
}

fn with_rule_title(t: &mut Title, rule_title: Option<&str>) {
    if let Some(r) = rule_title.map(str::trim).filter(|r| !r.is_empty()) {
        t.text = r.to_string();
    }
}

/// Records after its start within which an oops ends the log: the
/// report itself (registers, call trace, modules, end marker) and what a
/// kdump kernel's `crash_kexec()` leaves after it.
const ENDS_THE_LOG: usize = 100;

/// The title of a kernel log alone (a `vmcore-dmesg.txt`, a console log:
/// [`crate::logtext`]; no dump to read), by the same reading of its reports
/// as a dump's title ([`title`]): a crash — a panic line (a stack
/// protector's or `panic_on_oom`'s too), or an oops the log ends in (with
/// kdump loaded, `oops_end()` calls `crash_kexec()` before any panic line)
/// — is titled by its cause ([`crash_cause`]); else the first oops, else
/// the first report of a check that caught a bug (a sanitizer, lockdep…),
/// else a lockup or RCU stall, a hung task, an OOM kill, a warning, an
/// allocation failure, in that order, each by [`report_title`]; else
/// `no crash`. A dump whose title has [`Basis::Log`] gets the same title
/// and signature from its log; what only memory shows (the tasks of a
/// hang, a deadlock cycle, a CPU hog, the crashed task's stack) the log
/// cannot say, and the title says what the reports do.
pub fn log_title(records: &[LogRecord], rule_title: Option<&str>) -> Title {
    let reports = crate::oops::parse_log(records);
    let ends_in_oops = reports.last().is_some_and(|r| {
        r.kind.is_oops() && records.len().saturating_sub(r.record) <= ENDS_THE_LOG
    });
    let panicked = ends_in_oops || reports.iter().any(|r| r.kind.is_panic());
    let crash = panicked
        .then(|| crash_cause(&reports))
        .flatten()
        .map(|c| cause_title(c, Vec::new));
    let mut t = crash
        .or_else(|| first_bug(&reports))
        .or_else(|| {
            lockup_reports(&reports).and_then(|named| named.first().map(|r| report_title(r)))
        })
        .or_else(|| first(&reports, |k| matches!(k, OopsKind::HungTask { .. })))
        .or_else(|| lesser_report(&reports))
        .unwrap_or_else(|| {
            Title::new(
                Kind::NoCrash,
                &[],
                None,
                Some(format!("{} log records, no report", records.len())),
            )
            .read_from_log()
        });
    with_rule_title(&mut t, rule_title);
    t
}

/// The title of the first report of a kind.
fn first(reports: &[OopsReport], of: impl Fn(&OopsKind) -> bool) -> Option<Title> {
    reports.iter().find(|r| of(&r.kind)).map(report_title)
}

/// What a log names a kernel that did not crash by before anything else:
/// an oops it survived (the task was killed), the first one, since later
/// ones are usually its consequences; else a bug a check caught (a
/// sanitizer, lockdep…) that did not kill.
fn first_bug(reports: &[OopsReport]) -> Option<Title> {
    first(reports, OopsKind::is_oops).or_else(|| first(reports, OopsKind::is_bug_report))
}

/// The reports a kernel that did not crash is named by last: the first
/// OOM kill, else warning, else allocation failure.
fn lesser_report(reports: &[OopsReport]) -> Option<Title> {
    first(reports, |k| *k == OopsKind::OomKill)
        .or_else(|| first(reports, |k| matches!(k, OopsKind::Warning { .. })))
        .or_else(|| first(reports, |k| matches!(k, OopsKind::AllocFailure { .. })))
}

/// The watchdog reports of the most severe kind the log has: hard
/// lockups, else soft lockups, else RCU stalls.
fn lockup_reports(reports: &[OopsReport]) -> Option<Vec<&OopsReport>> {
    let of_kind: fn(&OopsKind) -> bool = if reports
        .iter()
        .any(|r| matches!(r.kind, OopsKind::HardLockup { .. }))
    {
        |k| matches!(k, OopsKind::HardLockup { .. })
    } else if reports
        .iter()
        .any(|r| matches!(r.kind, OopsKind::SoftLockup { .. }))
    {
        |k| matches!(k, OopsKind::SoftLockup { .. })
    } else if reports.iter().any(|r| r.kind == OopsKind::RcuStall) {
        |k| matches!(k, OopsKind::RcuStall)
    } else {
        return None;
    };
    Some(reports.iter().filter(|r| of_kind(&r.kind)).collect())
}

/// What a crash's log says about it: the panic, the report that caused
/// it, and the kind of the crash.
#[derive(Debug, Clone)]
pub struct CrashCause<'a> {
    /// The last `Kernel panic - not syncing` report.
    pub panic: Option<&'a OopsReport>,
    /// The report the panic names (`softlockup: hung tasks` → the last soft
    /// lockup before it; `Fatal exception` → the last oops); with no panic
    /// line (the log lost it), the last report that is no warning.
    pub cause: Option<&'a OopsReport>,
    pub kind: Kind,
    /// The panic message, empty without one.
    pub message: String,
}

/// The cause of a crash from the log's reports (which report the panic
/// names is [`crate::oops::crash`]); None when the log names neither a
/// panic nor anything that could have caused one.
pub fn crash_cause(reports: &[OopsReport]) -> Option<CrashCause<'_>> {
    let c = crate::oops::crash(reports)?;
    let panic = c.panic.and_then(|i| reports.get(i));
    let cause = c.cause.and_then(|i| reports.get(i));
    let message = panic.and_then(|p| p.message.clone()).unwrap_or_default();
    let kind = match (cause, c.reason) {
        // panic_on_oom's panic names no report; its line says what it is.
        (_, Some(PanicReason::OutOfMemory)) => match panic {
            Some(p) if p.kind == OopsKind::OomPanic => Kind::Report(OopsKind::OomPanic),
            _ => Kind::Panic(PanicReason::OutOfMemory),
        },
        (Some(r), _) => Kind::Report(r.kind.clone()),
        (None, Some(reason)) => Kind::Panic(reason),
        (None, None) => Kind::Panic(PanicReason::Other),
    };
    Some(CrashCause {
        panic,
        cause,
        kind,
        message,
    })
}

/// The title of a crash by its cause: the frames of the report the panic
/// names, else the panic's own, else `stack` (the crashed task's, where a
/// dump has it; a log has none); the task and the panic message as the
/// note. [`Basis::Memory`] when the function named comes from that stack.
fn cause_title(c: CrashCause<'_>, stack: impl FnOnce() -> Vec<Frame>) -> Title {
    let CrashCause {
        panic,
        cause,
        kind,
        message,
    } = c;
    let mut frames = cause.map(printed_frames).unwrap_or_default();
    if significant(&frames).is_empty() {
        frames = panic.map(printed_frames).unwrap_or_default();
    }
    let mut from_stack = false;
    if significant(&frames).is_empty() {
        frames = stack();
        from_stack = true;
    }
    if kind.slug() == OOM_PANIC.1 && by_page_fault(&frames) {
        frames.clear();
    }
    let basis = if from_stack && !significant(&frames).is_empty() {
        Basis::Memory
    } else {
        Basis::Log
    };
    let task = cause
        .and_then(task_note)
        .or_else(|| panic.and_then(task_note));
    let note = match (task, message.is_empty()) {
        (Some(t), true) => Some(t),
        (Some(t), false) => Some(format!("{t}; panic: {message}")),
        (None, false) => Some(format!("panic: {message}")),
        (None, true) => None,
    };
    let detail = kind
        .is_bare_panic()
        .then_some(message.as_str())
        .filter(|m| !m.is_empty());
    let mut t = Title::new(kind, &frames, detail, note);
    t.basis = basis;
    t
}

/// A report's frames as a title names them.
fn printed_frames(r: &OopsReport) -> Vec<Frame> {
    let mut frames: Vec<Frame> = r
        .frames()
        .into_iter()
        .filter_map(Frame::of_printed)
        .collect();
    // A report that fired inside an interrupt (a WARN in a timer callback,
    // an oops in an IRQ handler) happened there; what the interrupt stopped
    // is not its doing. The watchdogs are the opposite: they report from
    // their timer interrupt about the code it stopped.
    let detector = matches!(
        r.kind,
        OopsKind::SoftLockup { .. } | OopsKind::HardLockup { .. } | OopsKind::RcuStall
    );
    if !detector {
        if let Some(i) = frames.iter().position(|f| interrupt_entry(&f.function)) {
            frames.truncate(i);
        }
    }
    frames
}

/// The title of one report of a log: its kind, its frames (the `RIP:`, or
/// the function its headline names, then its reliable call trace, generic
/// frames skipped); a bare panic by its message, an OOM kill by its scope
/// ([`oom_title`]), an allocation failure with its order in the note. A
/// report cut short names only what it printed. [`Basis::Log`]: a dump
/// and its log title a report alike.
pub fn report_title(r: &OopsReport) -> Title {
    if r.kind == OopsKind::OomKill {
        return oom_title(r);
    }
    let kind = Kind::Report(r.kind.clone());
    let detail = kind
        .is_bare_panic()
        .then_some(r.message.as_deref())
        .flatten()
        .filter(|m| !m.is_empty());
    let note = match &r.kind {
        OopsKind::AllocFailure { .. } => Some(alloc_note(r)),
        _ => task_note(r),
    };
    Title::new(kind, &printed_frames(r), detail, note).read_from_log()
}

/// A request the allocator could not meet is named by who asked (the
/// allocator's own frames are generic); the order is in the note, as one
/// caller fails at whatever order memory allows no more.
fn alloc_note(r: &OopsReport) -> String {
    let mut note = match &r.kind {
        OopsKind::AllocFailure {
            order,
            gfp: Some(g),
        } => format!("order {order}, {g}"),
        OopsKind::AllocFailure { order, .. } => format!("order {order}"),
        _ => String::new(),
    };
    if let Some(t) = &r.task {
        let _ = write!(note, ", task {}", t.comm);
    }
    note
}

/// An OOM kill's title: the victim in the note; memory a user program
/// touched (a page fault) is its own demand, not a kernel path: such kills
/// are told apart by where memory ran out (one cgroup, or all of it). A
/// kernel allocation keeps its frames.
fn oom_title(r: &OopsReport) -> Title {
    let note = r
        .victim
        .as_ref()
        .map(|v| format!("killed {}", v.comm))
        .or_else(|| task_note(r));
    let scope = match &r.oom_memcg {
        Some(path) => format!("memory cgroup {path}"),
        None => "system-wide".to_string(),
    };
    let mut frames = printed_frames(r);
    if by_page_fault(&frames) {
        frames.clear();
    }
    Title::new(Kind::Report(r.kind.clone()), &frames, Some(&scope), note).read_from_log()
}

/// Memory a user program touched: a page fault's entry on the stack
/// (x86's `exc_page_fault`, arm64's `do_mem_abort`).
fn by_page_fault(frames: &[Frame]) -> bool {
    frames.iter().any(|f| {
        let b = base_name(&f.function);
        b.ends_with("exc_page_fault") || b == "do_mem_abort"
    })
}

fn task_note(r: &OopsReport) -> Option<String> {
    r.task.as_ref().map(|t| format!("task {}", t.comm))
}

/// What the live dump's tasks are doing, read once.
struct LiveTasks<'a, 'k> {
    tasks: Cow<'a, [Task<'k>]>,
    graph: Cow<'a, WaitGraph>,
}

impl LiveTasks<'_, '_> {
    /// The lock a task waits for.
    fn lock_of(&self, task: u64) -> Option<&ContendedLock> {
        self.graph
            .waits
            .get(&task)
            .and_then(|&i| self.graph.locks.get(i))
    }
}

/// One title's reading of a dump.
struct Titler<'a, 'k> {
    k: &'k Kernel,
    src: &'a dyn Source<'k>,
}

impl<'a, 'k> Titler<'a, 'k> {
    fn frames(&self, t: &Task<'k>) -> Vec<Frame> {
        self.src.frames(t)
    }

    fn title(&self) -> Title {
        let reports = match self.src.log() {
            Some(log) => crate::oops::parse_log(log),
            None => self.k.oopses().unwrap_or_default(),
        };
        let panic_cpu = self.k.panic_cpu().ok().flatten();
        let panicked = panic_cpu.is_some() || reports.iter().any(|r| r.kind.is_panic());
        if panicked {
            if let Some(t) = self.crash_title(&reports) {
                return t;
            }
        }
        self.live_title(&reports)
    }

    fn live_tasks(&self) -> LiveTasks<'a, 'k> {
        let tasks: Cow<'a, [Task<'k>]> = match self.src.tasks() {
            Some(t) => Cow::Borrowed(t),
            None => Cow::Owned(self.k.task_walk().map(|w| w.tasks).unwrap_or_default()),
        };
        let graph = match self.src.wait_graph() {
            Some(g) => Cow::Borrowed(g),
            None => Cow::Owned(
                self.k
                    .tasks_wait_graph(&tasks, |_, t| self.src.blocked_on(t)),
            ),
        };
        LiveTasks { tasks, graph }
    }

    fn crash_title(&self, reports: &[OopsReport]) -> Option<Title> {
        let c = crash_cause(reports)?;
        // A hung-task panic: the tasks are still there; title it as a live
        // hang is (by the lock chain's end), so both captures group together.
        if c.kind.is_hung_task() {
            let live = self.live_tasks();
            if let Some(mut t) = self.hung(&live, reports) {
                if !c.message.is_empty() {
                    t.note = Some(match t.note {
                        Some(n) => format!("{n}; panic: {}", c.message),
                        None => format!("panic: {}", c.message),
                    });
                }
                return Some(t);
            }
        }
        Some(cause_title(c, || {
            self.k
                .crashed_task()
                .ok()
                .flatten()
                .map(|t| self.frames(&t))
                .unwrap_or_default()
        }))
    }

    fn live_title(&self, reports: &[OopsReport]) -> Title {
        if let Some(t) = first_bug(reports) {
            return t;
        }
        let live = self.live_tasks();
        if let Some(t) = self.deadlock(&live) {
            return t;
        }
        if let Some(t) = self.lockup(&live, reports) {
            return t;
        }
        if let Some(t) = self.cpu_hog(&live) {
            return t;
        }
        if let Some(t) = self.hung(&live, reports) {
            return t;
        }
        if let Some(t) = lesser_report(reports) {
            return t;
        }
        if let Some(t) = self.flood(&live) {
            return t;
        }
        if let Some(t) = self.slab_growth() {
            return t;
        }
        let d = live.tasks.iter().filter(|t| t.state == 'D').count();
        let note = format!(
            "{} tasks, {} in D, {} running",
            live.tasks.len(),
            d,
            live.tasks.iter().filter(|t| t.state == 'R').count()
        );
        Title::new(Kind::NoCrash, &[], None, Some(note))
    }

    /// A live dump whose unreclaimable slab holds a large share of RAM, named
    /// by its largest cache (the leaking object's).
    fn slab_growth(&self) -> Option<Title> {
        let k = self.k;
        let stats = k.vm_stats().ok()?;
        let unreclaimable = stats
            .iter()
            .find(|s| s.name == "NR_SLAB_UNRECLAIMABLE_B" || s.name == "NR_SLAB_UNRECLAIMABLE")?
            .value;
        let total = k.memory().ok()?.totalram_pages;
        if total == 0 || unreclaimable.saturating_mul(100) < total.saturating_mul(SLAB_GROWTH_PCT) {
            return None;
        }
        let caches = k.slab_caches().ok()?;
        let largest = caches
            .iter()
            .max_by_key(|c| c.num_objs.unwrap_or(0).saturating_mul(c.size))?;
        let note = format!(
            "{}% of RAM in unreclaimable slab",
            unreclaimable * 100 / total
        );
        Some(Title::new(
            Kind::SlabGrowth,
            &[],
            Some(&largest.name),
            Some(note),
        ))
    }

    fn deadlock(&self, live: &LiveTasks<'_, 'k>) -> Option<Title> {
        let g = &live.graph;
        let by_addr: HashMap<u64, &Task<'k>> = live.tasks.iter().map(|t| (t.addr(), t)).collect();
        // Every task of every cycle: the function most of them wait in.
        let members: Vec<&Task<'k>> = g
            .cycles
            .iter()
            .flatten()
            .filter_map(|a| by_addr.get(a).copied())
            .collect();
        if members.is_empty() {
            return None;
        }
        let stacks: Vec<Vec<Frame>> = members.iter().map(|t| self.frames(t)).collect();
        let frames = common_function(&stacks).unwrap_or_default();
        let locks: HashSet<usize> = g
            .cycles
            .iter()
            .flatten()
            .filter_map(|a| g.waits.get(a).copied())
            .collect();
        let note = format!(
            "{} cycle(s) of {} tasks over {} locks",
            g.cycles.len(),
            members.len(),
            locks.len()
        );
        Some(Title::new(Kind::Deadlock, &frames, None, Some(note)))
    }

    fn lockup(&self, live: &LiveTasks<'_, 'k>, reports: &[OopsReport]) -> Option<Title> {
        let k = self.k;
        let named = lockup_reports(reports)?;
        let mut times: HashMap<i32, usize> = HashMap::new();
        for r in &named {
            if let Some(t) = &r.task {
                *times.entry(t.pid).or_default() += 1;
            }
        }
        // The CPU hog: a task on a CPU now, or one a report names. One that
        // spins or sleeps for a lock is a victim of the lock's holder: the
        // holder, running its own code, is the hog.
        // (not a victim, times reported, ns on its CPU), its frames, its comm
        type Hog = ((bool, usize, u64), Vec<Frame>, String);
        let mut best: Option<Hog> = None;
        for t in live.tasks.iter() {
            let reported = times.get(&t.pid).copied().unwrap_or(0);
            if reported == 0 && !(t.state == 'R' && k.task_on_cpu(t)) {
                continue;
            }
            let frames = self.frames(t);
            if significant(&frames).is_empty() {
                continue;
            }
            let victim = waits_for_lock(&frames) || live.lock_of(t.addr()).is_some();
            // Then the longest on its CPU without a switch.
            let ran = k.since_last_arrival(t).ok().flatten().unwrap_or(0);
            let score = (!victim, reported, ran);
            let better = match &best {
                None => true,
                Some((s, f, _)) => {
                    score > *s || (score == *s && significant(&frames) < significant(f))
                }
            };
            if better {
                best = Some((score, frames, t.comm.clone()));
            }
        }
        let first = named.first()?;
        let kind = Kind::Report(first.kind.clone());
        match best {
            Some((_, frames, comm)) => Some(Title::new(
                kind,
                &frames,
                None,
                Some(format!("CPU hog {comm}; {} report(s)", named.len())),
            )),
            None => Some(report_title(first)),
        }
    }

    /// A task that has run kernel code on its CPU for [`CPU_HOG_NS`] without
    /// a switch (before the soft-lockup watchdog said so, or on a kernel
    /// whose watchdog is off), waiting for no lock itself; the longest such.
    fn cpu_hog(&self, live: &LiveTasks<'_, 'k>) -> Option<Title> {
        let k = self.k;
        let mut best: Option<(u64, Vec<Frame>, String)> = None;
        for rq in k.runqueues().ok()? {
            if rq.is_idle() {
                continue;
            }
            let Some(t) = live.tasks.iter().find(|t| t.addr() == rq.curr) else {
                continue;
            };
            let Ok(Some(ran)) = k.since_last_arrival(t) else {
                continue;
            };
            if ran < CPU_HOG_NS {
                continue;
            }
            // User code (only entry frames in the kernel stack) and tasks
            // spinning for a lock (victims of its holder) are no kernel hog.
            let frames = self.frames(t);
            if significant(&frames).is_empty()
                || waits_for_lock(&frames)
                || live.lock_of(t.addr()).is_some()
            {
                continue;
            }
            let better = match &best {
                None => true,
                Some((r, f, _)) => ran > *r || (ran == *r && significant(&frames) < significant(f)),
            };
            if better {
                best = Some((ran, frames, t.comm.clone()));
            }
        }
        let (ran, frames, comm) = best?;
        let note = format!(
            "{comm} on its CPU for {} s without a switch",
            ran / 1_000_000_000
        );
        Some(Title::new(Kind::CpuHog, &frames, None, Some(note)))
    }

    fn hung(&self, live: &LiveTasks<'_, 'k>, reports: &[OopsReport]) -> Option<Title> {
        let reported: HashSet<i32> = reports
            .iter()
            .filter(|r| matches!(r.kind, OopsKind::HungTask { .. }))
            .filter_map(|r| r.task.as_ref().map(|t| t.pid))
            .collect();
        let d: Vec<&Task<'k>> = live.tasks.iter().filter(|t| t.state == 'D').collect();
        if d.is_empty() {
            return None;
        }
        #[derive(PartialEq, Eq, Hash, PartialOrd, Ord, Clone)]
        enum Key {
            Lock(u64),
            Function(Option<Frame>),
        }
        type Member<'t, 'k> = (&'t Task<'k>, Vec<Frame>);
        let mut groups: HashMap<Key, Vec<Member<'_, 'k>>> = HashMap::new();
        let mut lock_names: HashMap<u64, String> = HashMap::new();
        for t in &d {
            let frames = self.frames(t);
            let key = match live.lock_of(t.addr()) {
                Some(l) => {
                    lock_names
                        .entry(l.addr)
                        .or_insert_with(|| lock_name(live, l));
                    Key::Lock(l.addr)
                }
                None => Key::Function(significant(&frames).into_iter().next()),
            };
            groups.entry(key).or_default().push((t, frames));
        }
        // A few tasks in D are ordinary on a busy system (disk reads, a grace
        // period): a hang is what the hung-task watchdog reported, tasks
        // queued on one lock, or a pile-up in one function. Of those groups,
        // the largest; ties: one on a lock, then the smallest function. (A
        // larger group the watchdog did not see — killable waits, which it
        // skips — does not hide the one it reported.)
        let eligible = |key: &Key, members: &[Member<'_, 'k>]| {
            let enough = match key {
                Key::Lock(_) => members.len() >= HUNG_ON_LOCK,
                Key::Function(_) => members.len() >= HUNG_IN_FUNCTION,
            };
            enough || members.iter().any(|(t, _)| reported.contains(&t.pid))
        };
        let (key, members) =
            groups
                .into_iter()
                .filter(|(k, m)| eligible(k, m))
                .max_by(|a, b| {
                    a.1.len()
                        .cmp(&b.1.len())
                        .then_with(|| matches!(a.0, Key::Lock(_)).cmp(&matches!(b.0, Key::Lock(_))))
                        .then_with(|| {
                            let fa = common_function(
                                &a.1.iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
                            );
                            let fb = common_function(
                                &b.1.iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
                            );
                            significant(&fb.unwrap_or_default())
                                .cmp(&significant(&fa.unwrap_or_default()))
                        })
                })?;
        let watchdog_saw = members.iter().any(|(t, _)| reported.contains(&t.pid));
        let stacks: Vec<Vec<Frame>> = members.iter().map(|m| m.1.clone()).collect();
        let mut frames = common_function(&stacks).unwrap_or_default();
        let mut what = match &key {
            Key::Lock(a) => format!(
                "wait for {}",
                lock_names.get(a).cloned().unwrap_or_default()
            ),
            Key::Function(_) => "in one function".to_string(),
        };
        // The lock chain's end: the task the waiters wait for that waits for
        // no lock itself (the holder, where the lock records one). The hang
        // is where it is: waiters of other kinds (readers, writers, other
        // syscalls) pile up behind one holder.
        if let Some(holder) = holder(live, members.iter().map(|m| m.0.addr())) {
            let hf = self.frames(holder);
            if !significant(&hf).is_empty() {
                frames = hf;
                let _ = write!(what, ", held by {} ({})", holder.comm, holder.state);
            }
        }
        let note = format!(
            "{} of {} tasks in D, {what}{}",
            members.len(),
            d.len(),
            if watchdog_saw {
                "; reported by the hung-task watchdog"
            } else {
                ""
            }
        );
        Some(Title::new(Kind::Hang, &frames, None, Some(note)))
    }

    fn flood(&self, live: &LiveTasks<'_, 'k>) -> Option<Title> {
        let mut by_comm: HashMap<&str, Vec<&Task<'k>>> = HashMap::new();
        for t in live.tasks.iter() {
            by_comm.entry(t.comm.as_str()).or_default().push(t);
        }
        let (comm, mut tasks) = by_comm
            .into_iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)))?;
        if tasks.len() <= FLOOD_TASKS {
            return None;
        }
        tasks.sort_by_key(|t| t.pid);
        let stacks: Vec<Vec<Frame>> = tasks
            .iter()
            .take(FLOOD_SAMPLE)
            .map(|t| self.frames(t))
            .collect();
        let frames = common_function(&stacks).unwrap_or_default();
        let note = format!("{} tasks of {comm}", tasks.len());
        Some(Title::new(Kind::TaskFlood, &frames, None, Some(note)))
    }
}

/// The most common first non-generic frame of a group of stacks (ties: the
/// smallest name), and the stack that names it (the smallest such).
fn common_function(stacks: &[Vec<Frame>]) -> Option<Vec<Frame>> {
    let mut count: HashMap<&Frame, usize> = HashMap::new();
    let sig: Vec<Vec<Frame>> = stacks.iter().map(|s| significant(s)).collect();
    for s in &sig {
        if let Some(f) = s.first() {
            *count.entry(f).or_default() += 1;
        }
    }
    let best = count
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(f, _)| (*f).clone())?;
    stacks
        .iter()
        .zip(&sig)
        .filter(|(_, s)| s.first() == Some(&best))
        .map(|(full, s)| (s.clone(), full))
        .min_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, full)| full.clone())
}

/// A lock as the wait-for graph names it: its global (`mutex vmt_mutex
/// [mod]`), or the object it is a member of (`rwsem mmap_lock of faulter`).
fn lock_name(live: &LiveTasks<'_, '_>, l: &ContendedLock) -> String {
    let kind = l.kind.map_or("lock", |k| k.name());
    if let Some(n) = &l.name {
        return format!("{kind} {n}");
    }
    if let Some(h) = &l.home {
        let owner = h
            .task
            .and_then(|t| live.tasks.iter().find(|x| x.addr() == t))
            .map(|t| format!(" of {}", t.comm))
            .unwrap_or_default();
        return format!("{kind} {}{owner}", h.member);
    }
    kind.to_string()
}

/// The task at the end of most waiters' chains, if it waits for no lock
/// (a chain that ends at a lock whose holder is unknown names nobody).
fn holder<'t, 'k>(
    live: &'t LiveTasks<'_, 'k>,
    waiters: impl Iterator<Item = u64>,
) -> Option<&'t Task<'k>> {
    let mut ends: HashMap<u64, usize> = HashMap::new();
    for w in waiters {
        let chain = live.graph.chain(w);
        if let Some(&(end, None)) = chain.last() {
            if end != w {
                *ends.entry(end).or_default() += 1;
            }
        }
    }
    let (&end, _) = ends
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))?;
    live.tasks.iter().find(|t| t.addr() == end)
}
#[cfg(test)]
mod tests {
    use super::*;

    const SOFT: OopsKind = OopsKind::SoftLockup {
        cpu: 0,
        seconds: 22,
    };
    const WARN: Kind = Kind::Panic(PanicReason::Warning);

    fn f(name: &str) -> Frame {
        Frame {
            function: name.into(),
            module: None,
        }
    }

    fn m(name: &str, module: &str) -> Frame {
        Frame {
            function: name.into(),
            module: Some(module.into()),
        }
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(base_name("tasklist_holder.cold"), "tasklist_holder");
        assert_eq!(base_name("__mutex_lock.constprop.0"), "__mutex_lock");
        assert_eq!(
            normalize("ext4_file_write_iter.isra.12"),
            "ext_file_write_iter"
        );
        assert_eq!(normalize("__x64_sys_write"), "__x_sys_write");
    }

    #[test]
    fn a_cpu_hog_caught_in_its_timer_tick() {
        // tasklist-exit-storm on 6.12-rt: the holder's CPU was saved while
        // the tick accounted its time; the title names the spinning code.
        let frames = [
            f("cpuacct_charge"),
            f("update_curr"),
            f("task_tick_fair"),
            f("sched_tick"),
            f("update_process_times"),
            f("tick_nohz_handler"),
            f("__hrtimer_run_queues"),
            f("hrtimer_interrupt"),
            f("__sysvec_apic_timer_interrupt"),
            f("sysvec_apic_timer_interrupt"),
            f("asm_sysvec_apic_timer_interrupt"),
            f("delay_tsc"),
            m("tasklist_holder.cold", "vmtriage_scen"),
            f("kthread"),
            f("ret_from_fork"),
        ];
        let t = Title::new(Kind::Report(SOFT), &frames, None, None);
        assert_eq!(
            t.text,
            "BUG: soft lockup in tasklist_holder [vmtriage_scen]"
        );
        // An interrupt with nothing under it is kept as it is.
        let only = [f("cpuacct_charge"), f("asm_sysvec_apic_timer_interrupt")];
        assert_eq!(significant(&only), [f("cpuacct_charge")]);
    }

    #[test]
    fn title_and_signature() {
        // The 6.1 softlockup-panic trace: panic machinery, the timer
        // interrupt, then the spinning module function.
        let frames = [
            f("crash_setup_regs"),
            f("__crash_kexec"),
            f("panic"),
            f("watchdog_timer_fn"),
            f("__hrtimer_run_queues"),
            f("hrtimer_interrupt"),
            f("__sysvec_apic_timer_interrupt"),
            f("sysvec_apic_timer_interrupt"),
            f("asm_sysvec_apic_timer_interrupt"),
            m("spinner", "vmtriage_scen"),
            f("kthread"),
            f("ret_from_fork"),
        ];
        let t = Title::new(Kind::Report(SOFT), &frames, None, None);
        assert_eq!(t.text, "BUG: soft lockup in spinner [vmtriage_scen]");
        assert_eq!(t.to_string(), t.text);
        assert_eq!(t.function.as_deref(), Some("spinner"));
        assert_eq!(t.module.as_deref(), Some("vmtriage_scen"));
        assert_eq!(t.frames, ["spinner [vmtriage_scen]"]);
        // 6.12 adds vpanic and ret_from_fork_asm; the log's trace has
        // `.cold` parts and `?` frames dropped: one signature.
        let frames_6_12 = [
            f("dump_stack_lvl"),
            f("vpanic"),
            f("panic"),
            f("watchdog_timer_fn.cold"),
            m("spinner", "vmtriage_scen"),
            m("spinner", "vmtriage_scen"),
            f("kthread"),
            f("ret_from_fork"),
            f("ret_from_fork_asm"),
        ];
        let t2 = Title::new(Kind::Report(SOFT), &frames_6_12, None, None);
        assert_eq!(t2.signature, t.signature);
        // Another kind over the same frames is another signature.
        let t3 = Title::new(Kind::Hang, &frames, None, None);
        assert_ne!(t3.signature, t.signature);
        // The module is part of the signature.
        let t4 = Title::new(
            Kind::Report(SOFT),
            &[m("spinner", "other_module")],
            None,
            None,
        );
        assert_ne!(t4.signature, t.signature);
        assert_eq!(t.signature.len(), 16);
    }

    #[test]
    fn only_five_frames_count() {
        let deep: Vec<Frame> = (0..9)
            .map(|i| f(&format!("fn_{}", "x".repeat(i))))
            .collect();
        let mut other = deep.clone();
        other[7] = f("something_else");
        let a = Title::new(WARN, &deep, None, None);
        let b = Title::new(WARN, &other, None, None);
        assert_eq!(a.frames.len(), SIGNATURE_FRAMES);
        assert_eq!(a.signature, b.signature);
        other[2] = f("changed_early");
        let c = Title::new(WARN, &other, None, None);
        assert_ne!(a.signature, c.signature);
    }

    #[test]
    fn a_panic_without_frames_hashes_its_message() {
        let a = Title::new(
            Kind::Panic(PanicReason::Other),
            &[f("panic")],
            Some("VFS: Unable to mount root fs on unknown-block(0,0)"),
            None,
        );
        assert_eq!(
            a.text,
            "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)"
        );
        let b = Title::new(
            Kind::Panic(PanicReason::Other),
            &[],
            Some("VFS: Unable to mount root fs on unknown-block(8,1)"),
            None,
        );
        assert_eq!(a.signature, b.signature, "digits do not count");
        let c = Title::new(
            Kind::Panic(PanicReason::Other),
            &[],
            Some("Attempted to kill init!"),
            None,
        );
        assert_ne!(a.signature, c.signature);
        let none = Title::new(Kind::NoCrash, &[], None, None);
        assert_eq!(none.text, "no crash");
    }

    fn cause(log: &str) -> Option<(&'static str, Option<String>, String)> {
        let reports = crate::oops::parse_lines(log.lines());
        let c = crash_cause(&reports)?;
        let first = c
            .cause
            .map(|r| significant(&printed_frames(r)))
            .and_then(|f| f.into_iter().next())
            .map(|f| f.function);
        Some((c.kind.slug(), first, c.message))
    }

    #[test]
    fn the_panic_names_its_cause() {
        // An oops, then the panic it causes (panic_on_oops).
        let oops = "\
BUG: unable to handle page fault for address: ffffffffc0a0b000
Oops: 0000 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 7 Comm: kworker/1:0 Not tainted 6.1.0 #1
RIP: 0010:my_work_fn+0x12/0x40 [mydrv]
Call Trace:
 <TASK>
 process_one_work+0x1c4/0x380
 worker_thread+0x4d/0x380
 kthread+0xda/0x100
 </TASK>
Kernel panic - not syncing: Fatal exception";
        assert_eq!(
            cause(oops),
            Some((
                "page-fault",
                Some("my_work_fn".into()),
                "Fatal exception".into()
            ))
        );
        // A soft lockup panic names the lockup, not the warning before it.
        let lockup = "\
WARNING: CPU: 0 PID: 9 at kernel/foo.c:1 foo+0x1/0x2
watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [spin:9]
RIP: 0010:spin_fn+0x1/0x2 [m]
WARNING: CPU: 1 PID: 10 at kernel/bar.c:1 bar+0x1/0x2
Kernel panic - not syncing: softlockup: hung tasks";
        assert_eq!(cause(lockup).unwrap().0, "soft-lockup");
        assert_eq!(cause(lockup).unwrap().1.as_deref(), Some("spin_fn"));
        // OOM panic, sysrq, a panic of its own, a log without a panic line.
        assert_eq!(
            cause("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled")
                .unwrap()
                .0,
            "oom-panic"
        );
        assert_eq!(
            cause("sysrq: Trigger a crash\nKernel panic - not syncing: sysrq triggered crash")
                .unwrap()
                .0,
            "sysrq-crash"
        );
        let own = cause("Kernel panic - not syncing: VFS: Unable to mount root fs").unwrap();
        assert_eq!(
            (own.0, own.2.as_str()),
            ("panic", "VFS: Unable to mount root fs")
        );
        assert_eq!(
            cause("kernel BUG at mm/slub.c:1!\ninvalid opcode: 0000 [#1] SMP")
                .unwrap()
                .0,
            "kernel-bug"
        );
        assert!(cause("WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2").is_none());
        // The panic names a soft lockup whose report left the ring.
        assert_eq!(
            cause("Kernel panic - not syncing: softlockup: hung tasks")
                .unwrap()
                .0,
            "soft-lockup"
        );
        assert!(cause("").is_none());
    }

    #[test]
    fn common_function_is_the_majority() {
        let a = vec![f("schedule"), m("rwsem_read", "x"), f("vfs_read")];
        let b = vec![f("schedule"), m("rwsem_write", "x"), f("vfs_write")];
        let got = common_function(&[b.clone(), a.clone(), a.clone()]).unwrap();
        assert_eq!(got, a);
        // A tie goes to the smallest name, whatever the order.
        assert_eq!(common_function(&[b.clone(), a.clone()]).unwrap(), a);
        assert_eq!(common_function(&[a.clone(), b]).unwrap(), a);
        assert!(common_function(&[vec![f("schedule")]]).is_none());
    }

    #[test]
    fn kinds_keep_their_words() {
        // The slugs are hashed into every signature and stored per dump:
        // a kind named by its report, by the panic's reason or by the
        // tasks is one kind.
        let hung = [
            Kind::Report(OopsKind::HungTask { seconds: 120 }),
            Kind::Panic(PanicReason::HungTask),
            Kind::Hang,
        ];
        for k in &hung {
            assert_eq!(
                (k.name().as_ref(), k.slug()),
                ("INFO: task hung", "hung-task")
            );
        }
        assert_eq!(
            Title::new(hung[0].clone(), &[f("vault_op")], None, None).signature,
            Title::new(Kind::Hang, &[f("vault_op")], None, None).signature
        );
        let soft = Kind::Panic(PanicReason::SoftLockup);
        assert_eq!(soft.name(), "BUG: soft lockup");
        assert_eq!(soft.slug(), Kind::Report(SOFT).slug());
        let gp = Kind::Report(OopsKind::GeneralProtection {
            non_canonical: true,
        });
        assert_eq!(
            (gp.name().as_ref(), gp.slug()),
            ("general protection fault", "general-protection")
        );
        assert_eq!(
            Kind::Report(OopsKind::PageFault { null: true }).slug(),
            "null-dereference"
        );
        assert_eq!(Kind::Panic(PanicReason::OutOfMemory).slug(), "oom-panic");
        assert_eq!(Kind::Panic(PanicReason::FatalException).name(), "Oops");
    }

    #[test]
    fn a_rule_title_replaces_only_the_text() {
        let t = Title::new(Kind::Hang, &[m("vault_op", "vmt")], None, None);
        let mut r = t.clone();
        with_rule_title(&mut r, Some("  Tasks pile up on vault_lock "));
        assert_eq!(r.text, "Tasks pile up on vault_lock");
        assert_eq!((&r.kind, &r.signature), (&t.kind, &t.signature));
        let mut blank = t.clone();
        with_rule_title(&mut blank, Some("  "));
        assert_eq!(blank, t);
    }

    fn of_log(log: &str) -> Title {
        let l = crate::logtext::read(log.as_bytes()).unwrap();
        log_title(&l.records, None)
    }

    #[test]
    fn a_log_alone_is_titled_by_its_reports() {
        let oops = "\
[    5.000000] BUG: unable to handle page fault for address: ffffffffc0a0b000
[    5.000001] Oops: 0000 [#1] PREEMPT SMP NOPTI
[    5.000002] CPU: 1 PID: 7 Comm: kworker/1:0 Not tainted 6.1.0 #1
[    5.000003] RIP: 0010:my_work_fn+0x12/0x40 [mydrv]
[    5.000004] Call Trace:
[    5.000005]  <TASK>
[    5.000006]  process_one_work+0x1c4/0x380
[    5.000007]  worker_thread+0x4d/0x380
[    5.000008]  </TASK>
";
        // With or without the panic line (kdump's crash_kexec() from
        // oops_end() prints none), the same title and signature.
        let a = of_log(oops);
        let b = of_log(&format!(
            "{oops}[    5.100000] Kernel panic - not syncing: Fatal exception\n"
        ));
        assert_eq!(
            a.text,
            "BUG: unable to handle kernel paging request in my_work_fn [mydrv]"
        );
        assert_eq!((a.basis, &a.signature), (Basis::Log, &b.signature));
        assert_eq!(a.text, b.text);
        let hung = of_log(
            "[  245.1] INFO: task vault:91 blocked for more than 120 seconds.\n\
             [  245.2] task:vault           state:D stack:0     pid:91    ppid:2      flags:0x00004000\n\
             [  245.3] Call Trace:\n\
             [  245.4]  <TASK>\n\
             [  245.5]  __schedule+0x2e1/0x8c0\n\
             [  245.6]  schedule+0x5a/0xd0\n\
             [  245.7]  vault_op+0x22/0x50 [vmt]\n\
             [  245.8]  </TASK>\n",
        );
        assert_eq!(hung.text, "INFO: task hung in vault_op [vmt]");
        let none = of_log("[    0.000000] Linux version 6.1.0 (x) #1\n[    1.0] ok\n");
        assert_eq!((none.kind.clone(), none.basis), (Kind::NoCrash, Basis::Log));
        let warn = of_log(
            "[    1.0] WARNING: CPU: 0 PID: 1 at kernel/foo.c:12 foo_check+0x1/0x2\n\
             [    1.1] RIP: 0010:foo_check+0x1/0x2\n",
        );
        assert_eq!(warn.text, "WARNING in foo_check");
    }
}
