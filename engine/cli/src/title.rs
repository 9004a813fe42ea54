//! A title and a signature for every dump, in the style of syzbot's crash
//! titles: `<kind> in <function> [module]`.
//!
//! The kind and the frames come from what the dump shows:
//! - a crash (the kernel panicked): the log's report that caused the panic
//!   (`kmodel::oops`: its `RIP:` and reliable call-trace frames), else the
//!   panic's own trace, else the unwound stack of the crashed task;
//! - a dump captured live: an oops the kernel survived, a deadlock cycle of
//!   the wait-for graph, a soft/hard lockup or RCU stall (the CPU hog: the
//!   task on a CPU that is not itself spinning for a lock), the largest group
//!   of tasks in D (those waiting for one lock, or in one function), an OOM
//!   kill, a warning, a flood of tasks of one command, or nothing (`no crash`).
//!
//! The `function` is the first frame that is not generic ([`generic`]: the
//! panic, oops and watchdog machinery, lock slow paths and wait primitives,
//! the scheduler, entry code and syscall wrappers, the module loader, inline
//! helpers). The signature is a hash of the kind and the first
//! [`SIGNATURE_FRAMES`] non-generic frames (module names kept, offsets and
//! addresses dropped, digits removed from function names and compiler
//! suffixes like `.cold` or `.constprop.0` stripped), so one bug gives one
//! signature in every dump format and on kernels where its code path is the
//! same.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use kmodel::oops::{OopsKind, OopsReport, PanicReason, PrintedFrame};
use kmodel::tasks::Task;
use kmodel::Kernel;
use kunwind::Unwinder;
use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TitleKind {
    NullDereference,
    PageFault,
    GeneralProtection,
    KernelBug,
    ListCorruption,
    StackOverflow,
    DoubleFault,
    DivideError,
    InvalidOpcode,
    Oops,
    Warning,
    SoftLockup,
    HardLockup,
    RcuStall,
    HungTask,
    CpuHog,
    SysrqCrash,
    OomKill,
    OomPanic,
    AllocFailure,
    Panic,
    Deadlock,
    TaskFlood,
    SlabGrowth,
    NoCrash,
}

impl TitleKind {
    /// The words a title starts with.
    pub fn name(self) -> &'static str {
        match self {
            TitleKind::NullDereference => "BUG: kernel NULL pointer dereference",
            TitleKind::PageFault => "BUG: unable to handle page fault",
            TitleKind::GeneralProtection => "general protection fault",
            TitleKind::KernelBug => "kernel BUG",
            TitleKind::ListCorruption => "list corruption",
            TitleKind::StackOverflow => "kernel stack overflow",
            TitleKind::DoubleFault => "double fault",
            TitleKind::DivideError => "divide error",
            TitleKind::InvalidOpcode => "invalid opcode",
            TitleKind::Oops => "Oops",
            TitleKind::Warning => "WARNING",
            TitleKind::SoftLockup => "BUG: soft lockup",
            TitleKind::HardLockup => "hard lockup",
            TitleKind::RcuStall => "RCU stall",
            TitleKind::HungTask => "task hung",
            TitleKind::CpuHog => "CPU hog",
            TitleKind::SysrqCrash => "sysrq crash",
            TitleKind::OomKill => "OOM kill",
            TitleKind::OomPanic => "out of memory panic",
            TitleKind::AllocFailure => "page allocation failure",
            TitleKind::Panic => "kernel panic",
            TitleKind::Deadlock => "deadlock",
            TitleKind::TaskFlood => "task flood",
            TitleKind::SlabGrowth => "unreclaimable slab",
            TitleKind::NoCrash => "no crash",
        }
    }

    /// The kind's stable identifier (what the signature hashes).
    pub fn slug(self) -> &'static str {
        match self {
            TitleKind::NullDereference => "null-dereference",
            TitleKind::PageFault => "page-fault",
            TitleKind::GeneralProtection => "general-protection",
            TitleKind::KernelBug => "kernel-bug",
            TitleKind::ListCorruption => "list-corruption",
            TitleKind::StackOverflow => "stack-overflow",
            TitleKind::DoubleFault => "double-fault",
            TitleKind::DivideError => "divide-error",
            TitleKind::InvalidOpcode => "invalid-opcode",
            TitleKind::Oops => "oops",
            TitleKind::Warning => "warning",
            TitleKind::SoftLockup => "soft-lockup",
            TitleKind::HardLockup => "hard-lockup",
            TitleKind::RcuStall => "rcu-stall",
            TitleKind::HungTask => "hung-task",
            TitleKind::CpuHog => "cpu-hog",
            TitleKind::SysrqCrash => "sysrq-crash",
            TitleKind::OomKill => "oom-kill",
            TitleKind::OomPanic => "oom-panic",
            TitleKind::AllocFailure => "alloc-failure",
            TitleKind::Panic => "panic",
            TitleKind::Deadlock => "deadlock",
            TitleKind::TaskFlood => "task-flood",
            TitleKind::SlabGrowth => "slab-growth",
            TitleKind::NoCrash => "no-crash",
        }
    }

    /// The title kind of a log report.
    pub fn of_report(k: &OopsKind) -> TitleKind {
        match k {
            OopsKind::PageFault { null: true } => TitleKind::NullDereference,
            OopsKind::PageFault { null: false } => TitleKind::PageFault,
            OopsKind::GeneralProtection { .. } => TitleKind::GeneralProtection,
            OopsKind::Bug { .. } => TitleKind::KernelBug,
            OopsKind::ListCorruption => TitleKind::ListCorruption,
            OopsKind::StackOverflow => TitleKind::StackOverflow,
            OopsKind::DoubleFault => TitleKind::DoubleFault,
            OopsKind::DivideError => TitleKind::DivideError,
            OopsKind::InvalidOpcode => TitleKind::InvalidOpcode,
            OopsKind::Oops => TitleKind::Oops,
            OopsKind::Warning { .. } => TitleKind::Warning,
            OopsKind::SoftLockup { .. } => TitleKind::SoftLockup,
            OopsKind::HardLockup { .. } => TitleKind::HardLockup,
            OopsKind::RcuStall => TitleKind::RcuStall,
            OopsKind::HungTask { .. } => TitleKind::HungTask,
            OopsKind::SysrqCrash => TitleKind::SysrqCrash,
            OopsKind::OomKill => TitleKind::OomKill,
            OopsKind::AllocFailure { .. } => TitleKind::AllocFailure,
            OopsKind::Panic => TitleKind::Panic,
        }
    }

    /// The kind a panic's reason names when its report is no longer in
    /// the log.
    pub fn of_panic(reason: PanicReason) -> TitleKind {
        match reason {
            PanicReason::SoftLockup => TitleKind::SoftLockup,
            PanicReason::HardLockup => TitleKind::HardLockup,
            PanicReason::HungTask => TitleKind::HungTask,
            PanicReason::RcuStall => TitleKind::RcuStall,
            PanicReason::Sysrq => TitleKind::SysrqCrash,
            PanicReason::Warning => TitleKind::Warning,
            PanicReason::FatalException => TitleKind::Oops,
            PanicReason::OutOfMemory => TitleKind::OomPanic,
            PanicReason::Other => TitleKind::Panic,
        }
    }
}

/// A dump's title and signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Title {
    pub kind: TitleKind,
    /// The first non-generic frame's function (compiler suffixes stripped).
    pub function: Option<String>,
    /// Its module, None for the vmlinux.
    pub module: Option<String>,
    /// `<kind> in <function> [module]`, or the kind and what it is about.
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
pub struct TitleFrame {
    pub function: String,
    pub module: Option<String>,
}

impl TitleFrame {
    fn of_printed(f: &PrintedFrame) -> Option<TitleFrame> {
        Some(TitleFrame {
            function: f.function.clone()?,
            module: f.module.clone(),
        })
    }
    fn of_unwound(f: &kunwind::Frame) -> Option<TitleFrame> {
        Some(TitleFrame {
            function: f.function.clone()?,
            module: f.module.clone(),
        })
    }
}

impl Title {
    /// Builds a title from its kind and frames (innermost first).
    pub fn new(
        kind: TitleKind,
        frames: &[TitleFrame],
        detail: Option<&str>,
        note: Option<String>,
    ) -> Title {
        let kept = significant(frames);
        let first = kept.first();
        let function = first.map(|f| base_name(&f.function).to_string());
        let module = first.and_then(|f| f.module.clone());
        let mut text = kind.name().to_string();
        match (&function, detail) {
            (Some(f), _) => {
                let _ = write!(text, " in {f}");
                if let Some(m) = &module {
                    let _ = write!(text, " [{m}]");
                }
            }
            (None, Some(d)) => {
                let _ = write!(text, ": {d}");
            }
            (None, None) => {}
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
        let signature = signature(kind, &sig_frames, detail_key.as_deref());
        Title {
            kind,
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
pub fn signature(kind: TitleKind, frames: &[String], detail: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(kind.slug().as_bytes());
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

/// Entry points of asynchronous interrupts (timer and device IRQs, IPIs,
/// NMIs): what runs above one on a stack is not the interrupted code's
/// doing.
fn async_interrupt_entry(function: &str) -> bool {
    function.starts_with("asm_sysvec_")
        || function == "asm_common_interrupt"
        || function == "asm_exc_nmi"
        || function.starts_with("asm_spurious_interrupt")
}

/// The non-generic frames, consecutive repeats folded (an inline frame and
/// its out-of-line copy, a `.cold` part and its function). A stack caught
/// in an interrupt (a CPU hog sampled in its timer tick) is named by the
/// code the interrupt stopped: the frames above the outermost interrupt
/// entry are dropped when any frame follows it.
pub fn significant(frames: &[TitleFrame]) -> Vec<TitleFrame> {
    let from = frames
        .iter()
        .rposition(|f| async_interrupt_entry(&f.function))
        .filter(|&i| i + 1 < frames.len())
        .map_or(0, |i| i + 1);
    let mut out: Vec<TitleFrame> = Vec::new();
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

pub use kmodel::frames::{base_name, generic, Generic};

/// A function name as the signature hashes it: compiler suffixes stripped,
/// digits removed (`__x64_sys_write` and a renumbered clone hash alike).
pub fn normalize(function: &str) -> String {
    base_name(function)
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .collect()
}

/// Whether a stack spins or sleeps for a lock: a lock slow path in it.
fn waits_for_lock(frames: &[TitleFrame]) -> bool {
    frames
        .iter()
        .any(|f| generic(&f.function) == Some(Generic::Lock))
}

/// The title of a dump. Never fails: what cannot be read is passed over
/// (an unreadable log means no reports; an unreadable stack no frames).
pub fn title(k: &Kernel, u: &Unwinder) -> Title {
    title_with(k, Some(u))
}

/// The title of a dump, with its own unwinder; from the log and the task
/// list alone when the unwinder cannot be built (no ORC, a stripped vmlinux).
pub fn dump_title(k: &Kernel) -> Title {
    match Unwinder::new(k) {
        Ok(u) => title(k, &u),
        Err(_) => title_with(k, None),
    }
}

/// The dump's title when a rule that fired gives one (`dump_title:` in the
/// rule; which rule's is `ScanResult::dump_title`: the most severe, then the
/// first in pack order): its text replaces the generic one. The kind, the
/// frames and the signature stay generic, so how dumps group does not
/// depend on which rules ran.
pub fn with_rule_title(mut t: Title, rule: Option<&str>) -> Title {
    if let Some(r) = rule.map(str::trim).filter(|r| !r.is_empty()) {
        t.text = r.to_string();
    }
    t
}

/// What a title is made from that a caller may already have read: the
/// log and the task list (the rule engine's model has both).
pub struct Known<'a, 'k> {
    pub log: Option<&'a [kmodel::printk::LogRecord]>,
    pub tasks: Option<&'a [Task<'k>]>,
}

/// The title of a dump from the log and tasks already read (`None`: read
/// them here), with the rules' own unwinder (none: from the log and the
/// task list alone).
pub fn title_known<'k>(k: &'k Kernel, u: Option<&Unwinder>, known: &Known<'_, 'k>) -> Title {
    title_from(k, u, known)
}

fn title_with(k: &Kernel, u: Option<&Unwinder>) -> Title {
    title_from(
        k,
        u,
        &Known {
            log: None,
            tasks: None,
        },
    )
}

fn title_from<'k>(k: &'k Kernel, u: Option<&Unwinder>, known: &Known<'_, 'k>) -> Title {
    let reports = match known.log {
        Some(log) => kmodel::oops::parse_log(log),
        None => k.oopses().unwrap_or_default(),
    };
    let panic_cpu = k.panic_cpu().ok().flatten();
    let panicked = panic_cpu.is_some() || reports.iter().any(|r| r.kind == OopsKind::Panic);
    if panicked {
        if let Some(t) = crash_title(k, u, &reports, known) {
            return t;
        }
    }
    live_title(k, u, &reports, known)
}

fn printed_frames(r: &OopsReport) -> Vec<TitleFrame> {
    let mut frames: Vec<TitleFrame> = r
        .frames()
        .into_iter()
        .filter_map(TitleFrame::of_printed)
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
        if let Some(i) = frames
            .iter()
            .position(|f| async_interrupt_entry(&f.function))
        {
            frames.truncate(i);
        }
    }
    frames
}

fn stack_frames(k: &Kernel, u: Option<&Unwinder>, t: &Task<'_>) -> Vec<TitleFrame> {
    let Some(u) = u else { return Vec::new() };
    u.stack(k, t)
        .frames
        .iter()
        .filter_map(TitleFrame::of_unwound)
        .collect()
}

fn task_note(r: &OopsReport) -> Option<String> {
    r.task.as_ref().map(|t| format!("task {}", t.comm))
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
    pub kind: TitleKind,
    /// The panic message, empty without one.
    pub message: String,
}

/// The cause of a crash from the log's reports (which report the panic
/// names is the kernel model's `oops::crash`); None when the log names
/// neither a panic nor anything that could have caused one.
pub fn crash_cause(reports: &[OopsReport]) -> Option<CrashCause<'_>> {
    let c = kmodel::oops::crash(reports)?;
    let panic = c.panic.and_then(|i| reports.get(i));
    let cause = c.cause.and_then(|i| reports.get(i));
    let message = panic.and_then(|p| p.message.clone()).unwrap_or_default();
    let kind = match (cause, c.reason) {
        (_, Some(PanicReason::OutOfMemory)) => TitleKind::OomPanic,
        (Some(r), _) => TitleKind::of_report(&r.kind),
        (None, Some(reason)) => TitleKind::of_panic(reason),
        (None, None) => TitleKind::Panic,
    };
    Some(CrashCause {
        panic,
        cause,
        kind,
        message,
    })
}

fn crash_title<'k>(
    k: &'k Kernel,
    u: Option<&Unwinder>,
    reports: &[OopsReport],
    known: &Known<'_, 'k>,
) -> Option<Title> {
    let CrashCause {
        panic,
        cause,
        kind,
        message,
    } = crash_cause(reports)?;
    // A hung-task panic: the tasks are still there; title it as a live
    // hang is (by the lock chain's end), so both captures group together.
    if kind == TitleKind::HungTask {
        let live = live_tasks(k, u, known);
        if let Some(mut t) = hung(k, u, &live, reports) {
            if !message.is_empty() {
                t.note = Some(match t.note {
                    Some(n) => format!("{n}; panic: {message}"),
                    None => format!("panic: {message}"),
                });
            }
            return Some(t);
        }
    }
    let mut frames = cause.map(printed_frames).unwrap_or_default();
    if significant(&frames).is_empty() {
        frames = panic.map(printed_frames).unwrap_or_default();
    }
    if significant(&frames).is_empty() {
        frames = k
            .crashed_task()
            .ok()
            .flatten()
            .map(|t| stack_frames(k, u, &t))
            .unwrap_or_default();
    }
    let task = cause
        .and_then(task_note)
        .or_else(|| panic.and_then(task_note));
    let note = match (task, message.is_empty()) {
        (Some(t), true) => Some(t),
        (Some(t), false) => Some(format!("{t}; panic: {message}")),
        (None, false) => Some(format!("panic: {message}")),
        (None, true) => None,
    };
    let detail = (kind == TitleKind::Panic || kind == TitleKind::OomPanic)
        .then_some(message.as_str())
        .filter(|m| !m.is_empty());
    Some(Title::new(kind, &frames, detail, note))
}

/// What the live dump's tasks are doing, read once.
struct LiveTasks<'k> {
    tasks: Vec<Task<'k>>,
    /// Which lock each task waits for.
    blocked: HashMap<u64, kmodel::locks::BlockedOn>,
    graph: kmodel::locks::WaitGraph,
}

fn live_tasks<'k>(k: &'k Kernel, u: Option<&Unwinder>, known: &Known<'_, 'k>) -> LiveTasks<'k> {
    let tasks = match known.tasks {
        Some(t) => t.to_vec(),
        None => k.task_walk().map(|w| w.tasks).unwrap_or_default(),
    };
    let blocked = waits(k, u, &tasks);
    let addrs: Vec<u64> = blocked.keys().copied().collect();
    let graph = k.wait_graph(&addrs, |a| blocked.get(&a).cloned());
    LiveTasks {
        tasks,
        blocked,
        graph,
    }
}

fn live_title<'k>(
    k: &'k Kernel,
    u: Option<&Unwinder>,
    reports: &[OopsReport],
    known: &Known<'_, 'k>,
) -> Title {
    // An oops the kernel survived (the task was killed): the first one,
    // since later ones are usually its consequences.
    if let Some(r) = reports.iter().find(|r| r.kind.is_oops()) {
        return Title::new(
            TitleKind::of_report(&r.kind),
            &printed_frames(r),
            None,
            task_note(r),
        );
    }
    let live = live_tasks(k, u, known);
    if let Some(t) = deadlock(k, u, &live) {
        return t;
    }
    if let Some(t) = lockup(k, u, &live, reports) {
        return t;
    }
    if let Some(t) = cpu_hog(k, u, &live) {
        return t;
    }
    if let Some(t) = hung(k, u, &live, reports) {
        return t;
    }
    if let Some(r) = reports.iter().find(|r| r.kind == OopsKind::OomKill) {
        let note = r
            .victim
            .as_ref()
            .map(|v| format!("killed {}", v.comm))
            .or_else(|| task_note(r));
        // Memory a user program touched (a page fault) is its own demand,
        // not a kernel path: such kills are told apart by where memory ran
        // out (one cgroup, or all of it). A kernel allocation keeps its frames.
        let scope = match &r.oom_memcg {
            Some(path) => format!("memory cgroup {path}"),
            None => "system-wide".to_string(),
        };
        let mut frames = printed_frames(r);
        if frames
            .iter()
            .any(|f| base_name(&f.function).ends_with("exc_page_fault"))
        {
            frames.clear();
        }
        return Title::new(TitleKind::OomKill, &frames, Some(&scope), note);
    }
    if let Some(r) = reports
        .iter()
        .find(|r| matches!(r.kind, OopsKind::Warning { .. }))
    {
        return Title::new(TitleKind::Warning, &printed_frames(r), None, task_note(r));
    }
    // A request the allocator could not meet, named by who asked (the
    // allocator's own frames are generic); the order is in the note, as
    // one caller fails at whatever order memory allows no more.
    if let Some(r) = reports
        .iter()
        .find(|r| matches!(r.kind, OopsKind::AllocFailure { .. }))
    {
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
        return Title::new(
            TitleKind::AllocFailure,
            &printed_frames(r),
            None,
            Some(note),
        );
    }
    if let Some(t) = flood(k, u, &live) {
        return t;
    }
    if let Some(t) = slab_growth(k) {
        return t;
    }
    let d = live.tasks.iter().filter(|t| t.state == 'D').count();
    let note = format!(
        "{} tasks, {} in D, {} running",
        live.tasks.len(),
        d,
        live.tasks.iter().filter(|t| t.state == 'R').count()
    );
    Title::new(TitleKind::NoCrash, &[], None, Some(note))
}

/// Unreclaimable slab above this share of RAM (in percent) titles a dump
/// that shows nothing else: a kernel memory leak in progress.
const SLAB_GROWTH_PCT: u64 = 30;

/// A live dump whose unreclaimable slab holds a large share of RAM, named by
/// its largest cache (the leaking object's).
fn slab_growth(k: &Kernel) -> Option<Title> {
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
        TitleKind::SlabGrowth,
        &[],
        Some(&largest.name),
        Some(note),
    ))
}

/// The most common first non-generic frame of a group of stacks (ties: the
/// smallest name), and the stack that names it (the smallest such).
fn common_function(stacks: &[Vec<TitleFrame>]) -> Option<Vec<TitleFrame>> {
    let mut count: HashMap<&TitleFrame, usize> = HashMap::new();
    let sig: Vec<Vec<TitleFrame>> = stacks.iter().map(|s| significant(s)).collect();
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

/// Which lock each task waits for (bounded: see [`ALL_TASKS_WAIT_LIMIT`]).
fn waits(
    k: &Kernel,
    u: Option<&Unwinder>,
    tasks: &[Task<'_>],
) -> HashMap<u64, kmodel::locks::BlockedOn> {
    // Only tasks in D or R are asked what lock they wait for, as the rules'
    // model asks them: a task in S waits for an event, not a lock (unless it
    // waits interruptibly — rare beside the cost of unwinding every stack,
    // which was a quarter of a scan's time).
    tasks
        .iter()
        .filter(|t| t.state == 'D' || t.state == 'R')
        .filter_map(|t| Some((t.addr(), u?.blocked_on(k, t)?)))
        .collect()
}

fn deadlock(k: &Kernel, u: Option<&Unwinder>, live: &LiveTasks<'_>) -> Option<Title> {
    let g = &live.graph;
    let by_addr: HashMap<u64, &Task<'_>> = live.tasks.iter().map(|t| (t.addr(), t)).collect();
    // Every task of every cycle: the function most of them wait in.
    let members: Vec<&Task<'_>> = g
        .cycles
        .iter()
        .flatten()
        .filter_map(|a| by_addr.get(a).copied())
        .collect();
    if members.is_empty() {
        return None;
    }
    let stacks: Vec<Vec<TitleFrame>> = members.iter().map(|t| stack_frames(k, u, t)).collect();
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
    Some(Title::new(TitleKind::Deadlock, &frames, None, Some(note)))
}

fn lockup(
    k: &Kernel,
    u: Option<&Unwinder>,
    live: &LiveTasks<'_>,
    reports: &[OopsReport],
) -> Option<Title> {
    let (kind, of_kind): (TitleKind, fn(&OopsKind) -> bool) = if reports
        .iter()
        .any(|r| matches!(r.kind, OopsKind::HardLockup { .. }))
    {
        (TitleKind::HardLockup, |k| {
            matches!(k, OopsKind::HardLockup { .. })
        })
    } else if reports
        .iter()
        .any(|r| matches!(r.kind, OopsKind::SoftLockup { .. }))
    {
        (TitleKind::SoftLockup, |k| {
            matches!(k, OopsKind::SoftLockup { .. })
        })
    } else if reports.iter().any(|r| r.kind == OopsKind::RcuStall) {
        (TitleKind::RcuStall, |k| matches!(k, OopsKind::RcuStall))
    } else {
        return None;
    };
    let named: Vec<&OopsReport> = reports.iter().filter(|r| of_kind(&r.kind)).collect();
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
    type Hog = ((bool, usize, u64), Vec<TitleFrame>, String);
    let mut best: Option<Hog> = None;
    for t in &live.tasks {
        let reported = times.get(&t.pid).copied().unwrap_or(0);
        if reported == 0 && !(t.state == 'R' && k.task_on_cpu(t)) {
            continue;
        }
        let frames = stack_frames(k, u, t);
        if significant(&frames).is_empty() {
            continue;
        }
        let victim = waits_for_lock(&frames) || live.blocked.contains_key(&t.addr());
        // Then the longest on its CPU without a switch.
        let ran = k.since_last_arrival(t).ok().flatten().unwrap_or(0);
        let score = (!victim, reported, ran);
        let better = match &best {
            None => true,
            Some((s, f, _)) => score > *s || (score == *s && significant(&frames) < significant(f)),
        };
        if better {
            best = Some((score, frames, t.comm.clone()));
        }
    }
    let first = named.first()?;
    match best {
        Some((_, frames, comm)) => Some(Title::new(
            kind,
            &frames,
            None,
            Some(format!("CPU hog {comm}; {} report(s)", named.len())),
        )),
        None => Some(Title::new(
            kind,
            &printed_frames(first),
            None,
            task_note(first),
        )),
    }
}

fn hung(
    k: &Kernel,
    u: Option<&Unwinder>,
    live: &LiveTasks<'_>,
    reports: &[OopsReport],
) -> Option<Title> {
    let reported: HashSet<i32> = reports
        .iter()
        .filter(|r| matches!(r.kind, OopsKind::HungTask { .. }))
        .filter_map(|r| r.task.as_ref().map(|t| t.pid))
        .collect();
    let d: Vec<&Task<'_>> = live.tasks.iter().filter(|t| t.state == 'D').collect();
    if d.is_empty() {
        return None;
    }
    #[derive(PartialEq, Eq, Hash, PartialOrd, Ord, Clone)]
    enum Key {
        Lock(u64),
        Function(Option<TitleFrame>),
    }
    let mut groups: HashMap<Key, Vec<(&Task<'_>, Vec<TitleFrame>)>> = HashMap::new();
    let mut lock_names: HashMap<u64, String> = HashMap::new();
    for t in &d {
        let frames = stack_frames(k, u, t);
        let key = match live.blocked.get(&t.addr()) {
            Some(b) => {
                lock_names
                    .entry(b.addr)
                    .or_insert_with(|| lock_name(live, b.addr, b.kind.name()));
                Key::Lock(b.addr)
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
    let eligible = |key: &Key, members: &[(&Task<'_>, Vec<TitleFrame>)]| {
        let enough = match key {
            Key::Lock(_) => members.len() >= HUNG_ON_LOCK,
            Key::Function(_) => members.len() >= HUNG_IN_FUNCTION,
        };
        enough || members.iter().any(|(t, _)| reported.contains(&t.pid))
    };
    let (key, members) = groups
        .into_iter()
        .filter(|(k, m)| eligible(k, m))
        .max_by(|a, b| {
            a.1.len()
                .cmp(&b.1.len())
                .then_with(|| matches!(a.0, Key::Lock(_)).cmp(&matches!(b.0, Key::Lock(_))))
                .then_with(|| {
                    let fa = common_function(&a.1.iter().map(|m| m.1.clone()).collect::<Vec<_>>());
                    let fb = common_function(&b.1.iter().map(|m| m.1.clone()).collect::<Vec<_>>());
                    significant(&fb.unwrap_or_default()).cmp(&significant(&fa.unwrap_or_default()))
                })
        })?;
    let watchdog_saw = members.iter().any(|(t, _)| reported.contains(&t.pid));
    let stacks: Vec<Vec<TitleFrame>> = members.iter().map(|m| m.1.clone()).collect();
    let mut frames = common_function(&stacks).unwrap_or_default();
    let mut what = match &key {
        Key::Lock(a) => format!(
            "wait for {}",
            lock_names.get(a).cloned().unwrap_or_default()
        ),
        Key::Function(_) => "in one function".to_string(),
    };
    // The lock chain's end: the task the waiters wait for that waits for no
    // lock itself (the holder, where the lock records one). The hang is
    // where it is: waiters of other kinds (readers, writers, other
    // syscalls) pile up behind one holder.
    if let Some(holder) = holder(live, members.iter().map(|m| m.0.addr())) {
        let hf = stack_frames(k, u, holder);
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
    Some(Title::new(TitleKind::HungTask, &frames, None, Some(note)))
}

/// A lock as the wait-for graph names it: its global (`mutex vmt_mutex
/// [mod]`), or the object it is a member of (`rwsem mmap_lock of faulter`).
fn lock_name(live: &LiveTasks<'_>, addr: u64, kind: &str) -> String {
    let Some(l) = live.graph.locks.iter().find(|l| l.addr == addr) else {
        return kind.to_string();
    };
    let kind = l.kind.map_or(kind, |k| k.name());
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

/// A task that has run kernel code on its CPU for [`CPU_HOG_NS`] without a
/// switch (before the soft-lockup watchdog said so, or on a kernel whose
/// watchdog is off), waiting for no lock itself; the longest such.
fn cpu_hog(k: &Kernel, u: Option<&Unwinder>, live: &LiveTasks<'_>) -> Option<Title> {
    let mut best: Option<(u64, Vec<TitleFrame>, String)> = None;
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
        let frames = stack_frames(k, u, t);
        if significant(&frames).is_empty()
            || waits_for_lock(&frames)
            || live.blocked.contains_key(&t.addr())
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
    Some(Title::new(TitleKind::CpuHog, &frames, None, Some(note)))
}

/// The task at the end of most waiters' chains, if it waits for no lock
/// (a chain that ends at a lock whose holder is unknown names nobody).
fn holder<'a, 'k>(
    live: &'a LiveTasks<'k>,
    waiters: impl Iterator<Item = u64>,
) -> Option<&'a Task<'k>> {
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

fn flood(k: &Kernel, u: Option<&Unwinder>, live: &LiveTasks<'_>) -> Option<Title> {
    let mut by_comm: HashMap<&str, Vec<&Task<'_>>> = HashMap::new();
    for t in &live.tasks {
        by_comm.entry(t.comm.as_str()).or_default().push(t);
    }
    let (comm, mut tasks) = by_comm
        .into_iter()
        .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)))?;
    if tasks.len() <= FLOOD_TASKS {
        return None;
    }
    tasks.sort_by_key(|t| t.pid);
    let stacks: Vec<Vec<TitleFrame>> = tasks
        .iter()
        .take(FLOOD_SAMPLE)
        .map(|t| stack_frames(k, u, t))
        .collect();
    let frames = common_function(&stacks).unwrap_or_default();
    let note = format!("{} tasks of {comm}", tasks.len());
    Some(Title::new(TitleKind::TaskFlood, &frames, None, Some(note)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> TitleFrame {
        TitleFrame {
            function: name.into(),
            module: None,
        }
    }

    fn m(name: &str, module: &str) -> TitleFrame {
        TitleFrame {
            function: name.into(),
            module: Some(module.into()),
        }
    }

    #[test]
    fn generic_list() {
        for g in [
            "panic",
            "vpanic",
            "__crash_kexec",
            "crash_setup_regs",
            "dump_stack_lvl",
            "watchdog_timer_fn.cold",
            "asm_sysvec_apic_timer_interrupt",
            "native_queued_spin_lock_slowpath",
            "queued_write_lock_slowpath",
            "__mutex_lock.constprop.0",
            "rt_mutex_slowlock_block.constprop.0",
            "rwbase_write_lock",
            "rwsem_down_read_slowpath",
            "down_read_killable",
            "mmap_read_lock_killable",
            "lock_mm_and_find_vma",
            "schedule",
            "__schedule",
            "schedule_preempt_disabled",
            "schedule_timeout",
            "__wait_for_common",
            "wait_for_completion_killable",
            "delay_tsc",
            "__x64_sys_finit_module",
            "__se_sys_finit_module",
            "entry_SYSCALL_64_after_hwframe",
            "do_syscall_64",
            "kthread",
            "ret_from_fork_asm",
            "do_one_initcall",
            "idempotent_init_module",
            "sysrq_handle_crash",
            "__handle_sysrq.cold",
            "__alloc_pages_slowpath.constprop.0",
            "exc_page_fault",
            "__pfx_vmt_init",
            "__preempt_count_add",
        ] {
            assert!(generic(g).is_some(), "{g} should be generic");
        }
        for n in [
            "do_exit",
            "exit_notify",
            "mm_update_next_owner",
            "write_sysrq_trigger",
            "__do_sys_pause",
            "do_user_addr_fault",
            "vfs_write",
            "do_wait",
            "proc_reg_write",
            "ksys_write",
            "spinner",
            "panic_smth_else_module_fn",
            "schedule_work",
            "downgrade_write",
        ] {
            assert!(generic(n).is_none(), "{n} should not be generic");
        }
        assert_eq!(generic("mutex_lock"), Some(Generic::Lock));
        assert_eq!(generic("msleep"), Some(Generic::Wait));
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
        let t = Title::new(TitleKind::SoftLockup, &frames, None, None);
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
        let t = Title::new(TitleKind::SoftLockup, &frames, None, None);
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
        let t2 = Title::new(TitleKind::SoftLockup, &frames_6_12, None, None);
        assert_eq!(t2.signature, t.signature);
        // Another kind over the same frames is another signature.
        let t3 = Title::new(TitleKind::HungTask, &frames, None, None);
        assert_ne!(t3.signature, t.signature);
        // The module is part of the signature.
        let t4 = Title::new(
            TitleKind::SoftLockup,
            &[m("spinner", "other_module")],
            None,
            None,
        );
        assert_ne!(t4.signature, t.signature);
        assert_eq!(t.signature.len(), 16);
    }

    #[test]
    fn only_five_frames_count() {
        let deep: Vec<TitleFrame> = (0..9)
            .map(|i| f(&format!("fn_{}", "x".repeat(i))))
            .collect();
        let mut other = deep.clone();
        other[7] = f("something_else");
        let a = Title::new(TitleKind::Warning, &deep, None, None);
        let b = Title::new(TitleKind::Warning, &other, None, None);
        assert_eq!(a.frames.len(), SIGNATURE_FRAMES);
        assert_eq!(a.signature, b.signature);
        other[2] = f("changed_early");
        let c = Title::new(TitleKind::Warning, &other, None, None);
        assert_ne!(a.signature, c.signature);
    }

    #[test]
    fn a_panic_without_frames_hashes_its_message() {
        let a = Title::new(
            TitleKind::Panic,
            &[f("panic")],
            Some("VFS: Unable to mount root fs on unknown-block(0,0)"),
            None,
        );
        assert_eq!(
            a.text,
            "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)"
        );
        let b = Title::new(
            TitleKind::Panic,
            &[],
            Some("VFS: Unable to mount root fs on unknown-block(8,1)"),
            None,
        );
        assert_eq!(a.signature, b.signature, "digits do not count");
        let c = Title::new(TitleKind::Panic, &[], Some("Attempted to kill init!"), None);
        assert_ne!(a.signature, c.signature);
        let none = Title::new(TitleKind::NoCrash, &[], None, None);
        assert_eq!(none.text, "no crash");
    }

    fn cause(log: &str) -> Option<(TitleKind, Option<String>, String)> {
        let reports = kmodel::oops::parse_lines(log.lines());
        let c = crash_cause(&reports)?;
        let first = c
            .cause
            .map(|r| significant(&printed_frames(r)))
            .and_then(|f| f.into_iter().next())
            .map(|f| f.function);
        Some((c.kind, first, c.message))
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
                TitleKind::PageFault,
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
        assert_eq!(cause(lockup).unwrap().0, TitleKind::SoftLockup);
        assert_eq!(cause(lockup).unwrap().1.as_deref(), Some("spin_fn"));
        // OOM panic, sysrq, a panic of its own, a log without a panic line.
        assert_eq!(
            cause("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled")
                .unwrap()
                .0,
            TitleKind::OomPanic
        );
        assert_eq!(
            cause("sysrq: Trigger a crash\nKernel panic - not syncing: sysrq triggered crash")
                .unwrap()
                .0,
            TitleKind::SysrqCrash
        );
        let own = cause("Kernel panic - not syncing: VFS: Unable to mount root fs").unwrap();
        assert_eq!(
            (own.0, own.2.as_str()),
            (TitleKind::Panic, "VFS: Unable to mount root fs")
        );
        assert_eq!(
            cause("kernel BUG at mm/slub.c:1!\ninvalid opcode: 0000 [#1] SMP")
                .unwrap()
                .0,
            TitleKind::KernelBug
        );
        assert!(cause("WARNING: CPU: 0 PID: 1 at a.c:1 f+0x1/0x2").is_none());
        // The panic names a soft lockup whose report left the ring.
        assert_eq!(
            cause("Kernel panic - not syncing: softlockup: hung tasks")
                .unwrap()
                .0,
            TitleKind::SoftLockup
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
}
