//! The log's crash reports as typed objects: oopses (page faults, general
//! protection faults, `kernel BUG at`, list corruption, stack overflows,
//! divide errors, invalid opcodes), `WARNING`s, the watchdogs' reports (soft
//! and hard lockups, RCU stalls, hung tasks), sysrq crash triggers, OOM kills
//! and `Kernel panic - not syncing` — each with what the kernel printed about
//! it: the faulting address, the `RIP:` function as printed, the task and
//! CPU of the `CPU: N PID: P Comm: C` line, the taint letters of that moment
//! and the call trace.
//!
//! The parser reads the printk records the model already reads
//! ([`Kernel::dmesg`]); it knows the formats of 5.10 to 6.12 and PREEMPT_RT
//! (`CPU: 0 UID: 0 PID: …` since 6.10, `Oops: Oops: …` and `Oops: general
//! protection fault` since 6.11, `<TASK>` markers since 5.17, the separate
//! `Tainted: [O]=…` line since 6.10). The log is untrusted: every line is
//! parsed without indexing, every count is bounded, nothing panics.

use crate::error::Result;
use crate::printk::LogRecord;
use crate::Kernel;

/// At most this many reports are kept (a log flooded with warnings stops here).
pub const MAX_REPORTS: usize = 512;
/// At most this many frames of one call trace.
pub const MAX_FRAMES: usize = 128;
/// A report takes no more lines than this after its first.
const MAX_REPORT_LINES: usize = 400;

/// What a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OopsKind {
    /// `BUG: unable to handle page fault for address`, `BUG: kernel NULL
    /// pointer dereference` (`null`), older `unable to handle kernel paging
    /// request`.
    PageFault { null: bool },
    /// `general protection fault`, `probably for non-canonical address`.
    GeneralProtection { non_canonical: bool },
    /// `kernel BUG at file:line!`.
    Bug { file: String, line: u32 },
    /// `list_add corruption`, `list_del corruption` (lib/list_debug.c).
    ListCorruption,
    /// `BUG: stack guard page was hit`, `kernel stack overflow (double-fault)`.
    StackOverflow,
    /// `double fault` without a stack overflow.
    DoubleFault,
    /// `divide error`.
    DivideError,
    /// `invalid opcode` that is no `kernel BUG at`.
    InvalidOpcode,
    /// A die() line (`Oops: 0000 [#1] SMP`) whose headline was not printed.
    Oops,
    /// `WARNING: CPU: N PID: P at file:line function`.
    Warning { file: String, line: u32 },
    /// `watchdog: BUG: soft lockup - CPU#N stuck for Ss! [comm:pid]`.
    SoftLockup { cpu: u32, seconds: u32 },
    /// `Watchdog detected hard LOCKUP on cpu N`.
    HardLockup { cpu: Option<u32> },
    /// `rcu: INFO: rcu_preempt detected stalls on CPUs/tasks`, `self-detected stall`.
    RcuStall,
    /// `INFO: task comm:pid blocked for more than N seconds.`
    HungTask { seconds: u64 },
    /// `sysrq: Trigger a crash` (`SysRq : Trigger a crash` before 5.x).
    SysrqCrash,
    /// `comm invoked oom-killer:` (with the `Killed process` that follows).
    OomKill,
    /// `comm: page allocation failure: order:N, mode:0x…(GFP_…)` (mm's
    /// warn_alloc()): a request of 2^N contiguous pages the allocator could
    /// not meet; `gfp` holds the flags as printed (`GFP_KERNEL|__GFP_COMP`).
    AllocFailure { order: u32, gfp: Option<String> },
    /// `Kernel panic - not syncing: …` (the message is the report's `message`).
    Panic,
}

impl OopsKind {
    /// The kernel's own words for the kind, as a title starts with them.
    pub fn name(&self) -> &'static str {
        match self {
            OopsKind::PageFault { null: true } => "BUG: kernel NULL pointer dereference",
            OopsKind::PageFault { null: false } => "BUG: unable to handle page fault",
            OopsKind::GeneralProtection {
                non_canonical: true,
            } => "general protection fault (non-canonical address)",
            OopsKind::GeneralProtection { .. } => "general protection fault",
            OopsKind::Bug { .. } => "kernel BUG",
            OopsKind::ListCorruption => "list corruption",
            OopsKind::StackOverflow => "kernel stack overflow",
            OopsKind::DoubleFault => "double fault",
            OopsKind::DivideError => "divide error",
            OopsKind::InvalidOpcode => "invalid opcode",
            OopsKind::Oops => "Oops",
            OopsKind::Warning { .. } => "WARNING",
            OopsKind::SoftLockup { .. } => "soft lockup",
            OopsKind::HardLockup { .. } => "hard lockup",
            OopsKind::RcuStall => "RCU stall",
            OopsKind::HungTask { .. } => "task hung",
            OopsKind::SysrqCrash => "sysrq crash",
            OopsKind::OomKill => "OOM kill",
            OopsKind::AllocFailure { .. } => "page allocation failure",
            OopsKind::Panic => "kernel panic",
        }
    }

    /// A short stable name for rules and JSON (`gpf`, `bug`, `rcu_stall`…).
    pub fn key(&self) -> &'static str {
        match self {
            OopsKind::PageFault { null: true } => "null_deref",
            OopsKind::PageFault { null: false } => "page_fault",
            OopsKind::GeneralProtection { .. } => "gpf",
            OopsKind::Bug { .. } => "bug",
            OopsKind::ListCorruption => "list_corruption",
            OopsKind::StackOverflow => "stack_overflow",
            OopsKind::DoubleFault => "double_fault",
            OopsKind::DivideError => "divide_error",
            OopsKind::InvalidOpcode => "invalid_opcode",
            OopsKind::Oops => "oops",
            OopsKind::Warning { .. } => "warning",
            OopsKind::SoftLockup { .. } => "soft_lockup",
            OopsKind::HardLockup { .. } => "hard_lockup",
            OopsKind::RcuStall => "rcu_stall",
            OopsKind::HungTask { .. } => "hung_task",
            OopsKind::SysrqCrash => "sysrq",
            OopsKind::OomKill => "oom_kill",
            OopsKind::AllocFailure { .. } => "alloc_failure",
            OopsKind::Panic => "panic",
        }
    }

    /// Every key of [`OopsKind::key`], for documentation and checks.
    pub const KEYS: &'static [&'static str] = &[
        "null_deref",
        "page_fault",
        "gpf",
        "bug",
        "list_corruption",
        "stack_overflow",
        "double_fault",
        "divide_error",
        "invalid_opcode",
        "oops",
        "warning",
        "soft_lockup",
        "hard_lockup",
        "rcu_stall",
        "hung_task",
        "sysrq",
        "oom_kill",
        "alloc_failure",
        "panic",
    ];

    /// An exception that oopses (kills the task or panics): the page
    /// faults, protection faults, BUG()s, corruption checks and traps.
    pub fn is_oops(&self) -> bool {
        matches!(
            self,
            OopsKind::PageFault { .. }
                | OopsKind::GeneralProtection { .. }
                | OopsKind::Bug { .. }
                | OopsKind::ListCorruption
                | OopsKind::StackOverflow
                | OopsKind::DoubleFault
                | OopsKind::DivideError
                | OopsKind::InvalidOpcode
                | OopsKind::Oops
        )
    }
}

/// A code location as printed: `function+0xoff/0xsize [module]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedFrame {
    /// The symbol; None for a bare address (`? 0xffffffffc03f1000`).
    pub function: Option<String>,
    pub offset: u64,
    pub size: u64,
    pub module: Option<String>,
    /// The address, for a frame printed as a bare address.
    pub address: Option<u64>,
    /// False for a `?` frame: a return address found on the stack that the
    /// unwinder did not prove is part of the call chain.
    pub reliable: bool,
    /// The frame is the `RIP:` of a register dump inside the trace (the
    /// interrupted code of an exception frame), not a return address.
    pub from_regs: bool,
    /// The stack it was printed in: `TASK`, `IRQ`, `NMI`, `SOFTIRQ`, `#DF`…
    /// (None before 5.17 kernels, which print no markers, and before one).
    pub context: Option<String>,
}

/// The task a report names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OopsTask {
    pub comm: String,
    pub pid: i32,
}

/// One crash report of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OopsReport {
    pub kind: OopsKind,
    /// The line that started the report, as printed.
    pub headline: String,
    /// Index of the record that started it, into the records parsed.
    pub record: usize,
    pub timestamp_ns: u64,
    /// The faulting address (page faults, non-canonical addresses, the stack
    /// guard page hit).
    pub address: Option<u64>,
    /// The kernel `RIP:` of the report (user-mode `RIP: 0033:` excluded).
    pub rip: Option<PrintedFrame>,
    /// The task: from the `CPU:` line, else the headline (`[comm:pid]`,
    /// `task comm:pid`, `comm invoked oom-killer`).
    pub task: Option<OopsTask>,
    pub cpu: Option<u32>,
    /// The taint letters printed with the report (`Tainted: G OE` → `OE`;
    /// `Not tainted` → empty); None when it printed none.
    pub tainted: Option<String>,
    /// The first call trace of the report, innermost first.
    pub call_trace: Vec<PrintedFrame>,
    /// The panic message (`Kernel panic - not syncing: <message>`); a
    /// warning's own text (`WARN(cond, "…")` prints it between `cut here`
    /// and `WARNING:`), None for a bare `WARN_ON()`.
    pub message: Option<String>,
    /// For an OOM kill: the task killed (`Killed process 99 (eater)`).
    pub victim: Option<OopsTask>,
    /// For an OOM kill confined to a memory cgroup (`oom-kill:constraint=
    /// CONSTRAINT_MEMCG,…,oom_memcg=/path`): the cgroup out of memory.
    pub oom_memcg: Option<String>,
}

/// What a faulting address says about the pointer, when it is one of the
/// kernel's poison values plus a member offset (include/linux/poison.h; the
/// pointer poison is offset by x86_64's CONFIG_ILLEGAL_POINTER_VALUE,
/// 0xdead000000000000): a list entry used after `list_del()`, a slab
/// object used after `kfree()` (slub_debug poisoning), memory never
/// initialised. None for any other address.
pub fn poison(address: u64) -> Option<&'static str> {
    const NEAR: u64 = 0x1000;
    let near = |p: u64| address.wrapping_sub(p) < NEAR;
    if near(0xdead_0000_0000_0100) || near(0xdead_0000_0000_0122) {
        Some("list poison: a list entry used after list_del()")
    } else if near(0xdead_0000_0000_0000) {
        Some("pointer poison (POISON_POINTER_DELTA): a pointer the kernel poisoned on release")
    } else if near(0x6b6b_6b6b_6b6b_6b6b) {
        Some("slab free poison (0x6b): an object used after kfree()")
    } else if near(0x5a5a_5a5a_5a5a_5a5a) {
        Some("slab poison (0x5a): memory read before it was initialised")
    } else if near(0xcccc_cccc_cccc_cccc) {
        Some("uninitialised stack (0xcc, CONFIG_INIT_STACK_ALL_PATTERN)")
    } else {
        None
    }
}

impl OopsReport {
    /// Where the bug is, as far as the report tells: the first frame of
    /// [`OopsReport::frames`] that is no generic function
    /// ([`crate::frames::generic`]): for a list corruption the caller of
    /// the list check, not the check; for a hung task where it waits, not
    /// the scheduler.
    pub fn culprit(&self) -> Option<&PrintedFrame> {
        self.frames().into_iter().find(|f| {
            f.function
                .as_deref()
                .is_some_and(|n| crate::frames::generic(n).is_none())
        })
    }

    /// The culprit as a person reads it: `function [module]`, or `function`
    /// in the kernel itself (compiler suffixes dropped).
    pub fn site(&self) -> Option<String> {
        let f = self.culprit()?;
        let name = crate::frames::base_name(f.function.as_deref()?);
        Some(match &f.module {
            Some(m) => format!("{name} [{m}]"),
            None => name.to_string(),
        })
    }

    fn new(kind: OopsKind, headline: &str, record: usize, ts: u64) -> OopsReport {
        OopsReport {
            kind,
            headline: headline.trim().to_string(),
            record,
            timestamp_ns: ts,
            address: None,
            rip: None,
            task: None,
            cpu: None,
            tainted: None,
            call_trace: Vec::new(),
            message: None,
            victim: None,
            oom_memcg: None,
        }
    }

    /// The frames that tell where the report happened: the `RIP:` first,
    /// then the call trace's reliable frames (the `?` ones left out).
    pub fn frames(&self) -> Vec<&PrintedFrame> {
        let mut out: Vec<&PrintedFrame> = Vec::new();
        out.extend(self.rip.iter());
        for f in &self.call_trace {
            if !f.reliable {
                continue;
            }
            // The RIP reprinted inside the trace (an exception frame's regs).
            if f.from_regs && out.first().is_some_and(|r| r.function == f.function) {
                continue;
            }
            out.push(f);
        }
        out
    }
}

/// Why the kernel panicked, by its panic message: the detector or path that
/// called panic() (kernel/panic.c and its callers word them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicReason {
    /// `softlockup: hung tasks` (softlockup_panic).
    SoftLockup,
    /// `Hard LOCKUP` (hardlockup_panic, the NMI watchdog).
    HardLockup,
    /// `hung_task: blocked tasks` (hung_task_panic).
    HungTask,
    /// `RCU Stall` (panic_on_rcu_stall).
    RcuStall,
    /// `sysrq triggered crash`.
    Sysrq,
    /// `panic_on_warn set ...`.
    Warning,
    /// `Fatal exception` (panic_on_oops, or an oops in interrupt context).
    FatalException,
    /// `Out of memory…` / `System is deadlocked on memory` (panic_on_oom).
    OutOfMemory,
    /// Any other message (a driver's or the stack-overflow handler's).
    Other,
}

impl PanicReason {
    pub fn of_message(message: &str) -> PanicReason {
        let m = message.to_ascii_lowercase();
        if m.contains("softlockup") {
            PanicReason::SoftLockup
        } else if m.contains("hard lockup") {
            PanicReason::HardLockup
        } else if m.contains("hung_task") || m.contains("blocked tasks") {
            PanicReason::HungTask
        } else if m.contains("rcu stall") {
            PanicReason::RcuStall
        } else if m.contains("sysrq") {
            PanicReason::Sysrq
        } else if m.contains("panic_on_warn") {
            PanicReason::Warning
        } else if m.contains("fatal exception") {
            PanicReason::FatalException
        } else if m.contains("out of memory") || m.contains("deadlocked on memory") {
            PanicReason::OutOfMemory
        } else {
            PanicReason::Other
        }
    }

    /// Whether a report of this kind is what a panic of this reason names.
    /// None for reasons that name no report (an OOM panic, a message of
    /// its own).
    pub fn names(&self, kind: &OopsKind) -> Option<bool> {
        Some(match self {
            PanicReason::SoftLockup => matches!(kind, OopsKind::SoftLockup { .. }),
            PanicReason::HardLockup => matches!(kind, OopsKind::HardLockup { .. }),
            PanicReason::HungTask => matches!(kind, OopsKind::HungTask { .. }),
            PanicReason::RcuStall => matches!(kind, OopsKind::RcuStall),
            PanicReason::Sysrq => matches!(kind, OopsKind::SysrqCrash),
            PanicReason::Warning => matches!(kind, OopsKind::Warning { .. }),
            PanicReason::FatalException => kind.is_oops(),
            PanicReason::OutOfMemory | PanicReason::Other => return None,
        })
    }
}

/// Which reports of a log tell why the machine went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash {
    /// The last `Kernel panic - not syncing` report (index into the reports).
    pub panic: Option<usize>,
    /// The report the panic names (`softlockup: hung tasks` → the last soft
    /// lockup before it; `Fatal exception` → the last oops). With a panic of
    /// its own words (the stack-overflow handler's `Machine halted.`), the
    /// last oops before it. With no panic line (the log lost it), the last
    /// report that is no warning.
    pub cause: Option<usize>,
    pub reason: Option<PanicReason>,
}

/// The crash of a log's reports; None when the log shows neither a panic
/// nor a report that could have caused one.
pub fn crash(reports: &[OopsReport]) -> Option<Crash> {
    let panic = reports.iter().rposition(|r| r.kind == OopsKind::Panic);
    let before = &reports[..panic.unwrap_or(reports.len())];
    let reason = panic
        .and_then(|i| reports[i].message.as_deref())
        .map(PanicReason::of_message);
    let cause = match reason {
        Some(PanicReason::OutOfMemory) => None,
        Some(r) if r != PanicReason::Other => {
            before.iter().rposition(|x| r.names(&x.kind) == Some(true))
        }
        // A panic in words of its own: an oops just before it is its cause.
        _ if panic.is_some() => before.iter().rposition(|x| x.kind.is_oops()),
        _ => before
            .iter()
            .rposition(|x| !matches!(x.kind, OopsKind::Warning { .. })),
    };
    if panic.is_none() && cause.is_none() {
        return None;
    }
    Some(Crash {
        panic,
        cause,
        reason,
    })
}

impl Kernel {
    /// The crash reports of the kernel log, oldest first.
    pub fn oopses(&self) -> Result<Vec<OopsReport>> {
        Ok(parse_log(&self.dmesg()?))
    }
}

/// Parses the crash reports of a log.
pub fn parse_log(records: &[LogRecord]) -> Vec<OopsReport> {
    let mut p = Parser::default();
    for (i, r) in records.iter().enumerate() {
        for line in r.text.split('\n') {
            p.line(i, r.timestamp_ns, line);
            if p.out.len() >= MAX_REPORTS {
                p.finish();
                p.out.truncate(MAX_REPORTS);
                return p.out;
            }
        }
    }
    p.finish();
    p.out
}

/// Parses lines of text (one log line each), as `dmesg` prints them
/// without timestamps; for tests and for logs read from elsewhere.
pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<OopsReport> {
    let records: Vec<LogRecord> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| LogRecord {
            seq: i as u64,
            level: 0,
            timestamp_ns: 0,
            text: l.to_string(),
        })
        .collect();
    parse_log(&records)
}

#[derive(Default)]
struct Parser {
    out: Vec<OopsReport>,
    cur: Option<Open>,
    /// The lines after a `cut here` line, until a report starts: a
    /// `WARN()`'s own text comes before its `WARNING:` line.
    cut: Option<Vec<String>>,
}

/// `__warn()` and `BUG()` print it before their report.
const CUT_HERE: &str = "------------[ cut here ]------------";
/// A warning's text is a line or two; more is no warning's text.
const MAX_WARN_TEXT_LINES: usize = 4;

struct Open {
    report: OopsReport,
    lines: usize,
    /// In the call trace (after `Call Trace:`).
    in_trace: bool,
    /// A call trace was read; later ones (NMI backtraces of other CPUs, the
    /// RCU kthread's stack) are not this report's.
    trace_done: bool,
    context: Option<String>,
    /// The `CPU:` line was read (a die() line after it is a new report).
    seen_cpu: bool,
    /// An RCU stall report printed its grace-period kthread's stack.
    gp_kthread_dump: bool,
}

impl Parser {
    fn finish(&mut self) {
        if let Some(o) = self.cur.take() {
            self.out.push(o.report);
        }
    }

    fn start(&mut self, r: OopsReport) {
        self.finish();
        self.cur = Some(Open {
            report: r,
            lines: 0,
            in_trace: false,
            trace_done: false,
            context: None,
            seen_cpu: false,
            gp_kthread_dump: false,
        });
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one log line through the report parser's states (headline, cut here, registers, call trace, modules, end marker): the states share the report being read"
    )]
    fn line(&mut self, record: usize, ts: u64, raw: &str) {
        let line = raw.trim_end();
        let t = line.trim_start();
        let headline = headline(t);
        let cut = match &headline {
            Some(_) => self.cut.take(),
            None => {
                if t == CUT_HERE {
                    self.cut = Some(Vec::new());
                } else if let Some(c) = self.cut.as_mut() {
                    if c.len() < MAX_WARN_TEXT_LINES && !t.is_empty() {
                        c.push(t.to_string());
                    } else {
                        self.cut = None;
                    }
                }
                None
            }
        };
        if let Some(kind) = headline {
            // The die() line of an oops whose headline came first
            // (`BUG: kernel NULL pointer dereference` … `Oops: 0002 [#1]`;
            // `kernel BUG at` … `invalid opcode: 0000 [#1]`; `list_del
            // corruption` … `kernel BUG at lib/list_debug.c`) is the same report.
            if let Some(o) = self.cur.as_mut() {
                if !o.seen_cpu && o.report.kind.is_oops() && (kind.0.is_oops() || kind.2) {
                    if let (OopsKind::ListCorruption, OopsKind::Bug { .. }) =
                        (&o.report.kind, &kind.0)
                    {
                        return;
                    }
                    if matches!(kind.0, OopsKind::Bug { .. }) {
                        o.report.kind = kind.0;
                    }
                    if o.report.address.is_none() {
                        o.report.address = kind.1;
                    }
                    return;
                }
            }
            // A list corruption reported with WARN() (no
            // CONFIG_BUG_ON_DATA_CORRUPTION): its WARNING line follows.
            if let Some(o) = self.cur.as_mut() {
                if !o.seen_cpu
                    && o.report.kind == OopsKind::ListCorruption
                    && matches!(kind.0, OopsKind::Warning { .. })
                {
                    return;
                }
            }
            let mut r = OopsReport::new(kind.0, t, record, ts);
            r.address = kind.1;
            headline_task(t, &mut r);
            if r.kind == OopsKind::Panic {
                r.message = t
                    .strip_prefix("Kernel panic - not syncing:")
                    .map(|m| m.trim().to_string());
            }
            if matches!(r.kind, OopsKind::Warning { .. }) {
                r.message = cut.filter(|c| !c.is_empty()).map(|c| c.join(" "));
            }
            self.start(r);
            return;
        }
        let Some(o) = self.cur.as_mut() else { return };
        o.lines += 1;
        // An OOM report lists every task before naming its victim.
        let limit = o.report.kind != OopsKind::OomKill && o.lines > MAX_REPORT_LINES;
        if limit || t.starts_with("---[ end ") {
            self.finish();
            return;
        }
        // A stall blamed on a starved grace-period kthread: the kthread's
        // stack came first, but the CPU it last ran on (and what that CPU
        // runs) is what holds the grace period up — that dump follows.
        if o.report.kind == OopsKind::RcuStall
            && t.starts_with("rcu: RCU grace-period kthread stack dump")
        {
            o.gp_kthread_dump = true;
        }
        // The same when the kthread last ran on the stalled CPU itself (a
        // self-detected stall): that CPU's dump follows the kthread's stack
        // without a heading, from its `CPU:` line.
        let own_cpu_dump = o.report.kind == OopsKind::RcuStall
            && o.gp_kthread_dump
            && o.trace_done
            && cpu_line(t).is_some_and(|c| c.task.is_some());
        if own_cpu_dump
            || (o.report.kind == OopsKind::RcuStall
                && t.starts_with("rcu: Stack dump where RCU GP kthread last ran"))
        {
            o.gp_kthread_dump = false;
            o.report.call_trace.clear();
            o.report.rip = None;
            o.report.task = None;
            o.report.cpu = None;
            o.seen_cpu = false;
            o.in_trace = false;
            o.trace_done = false;
            if !own_cpu_dump {
                return;
            }
        }
        if let Some(rest) = cpu_line(t) {
            if !o.seen_cpu && !o.trace_done {
                o.seen_cpu = true;
                o.report.cpu = rest.cpu;
                if rest.task.is_some() {
                    o.report.task = rest.task;
                }
                if rest.tainted.is_some() {
                    o.report.tainted = rest.tainted;
                }
            }
            return;
        }
        if let Some(v) = t.strip_prefix("oom-kill:") {
            if o.report.kind == OopsKind::OomKill && v.contains("constraint=CONSTRAINT_MEMCG") {
                o.report.oom_memcg = v
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("oom_memcg="))
                    .map(str::to_string);
            }
            return;
        }
        if let Some(v) = t
            .strip_prefix("Out of memory: Killed process ")
            .or_else(|| t.strip_prefix("Memory cgroup out of memory: Killed process "))
            .or_else(|| t.strip_prefix("Out of memory (oom_kill_allocating_task): Killed process "))
        {
            if o.report.kind == OopsKind::OomKill && o.report.victim.is_none() {
                o.report.victim = pid_paren_comm(v);
            }
            return;
        }
        // sched_show_task()'s `task:comm state:D stack:0 pid:91 …` line
        // heads the trace that follows (a hung task, the RCU grace-period
        // kthread): the report's task if it has none yet.
        if let Some(task) = show_task_line(t) {
            if o.report.task.is_none() && !o.trace_done {
                o.report.task = Some(task);
            }
            return;
        }
        if t == "Call Trace:" || t == "Call trace:" {
            if !o.trace_done {
                o.in_trace = true;
                o.context = None;
            }
            return;
        }
        if let Some(rip) = t.strip_prefix("RIP: ") {
            let f = rip_frame(rip);
            if o.in_trace {
                if let Some(mut f) = f {
                    f.from_regs = true;
                    f.context = o.context.clone();
                    push_frame(&mut o.report.call_trace, f);
                }
            } else if o.report.rip.is_none() && !o.trace_done {
                o.report.rip = f;
            }
            return;
        }
        if !o.in_trace {
            return;
        }
        if let Some(m) = marker(t) {
            match m {
                Marker::Open(c) => o.context = Some(c.to_string()),
                Marker::Close => o.context = None,
                Marker::End => {
                    o.in_trace = false;
                    o.trace_done = true;
                }
            }
            return;
        }
        if let Some(mut f) = trace_frame(t) {
            f.context = o.context.clone();
            push_frame(&mut o.report.call_trace, f);
            return;
        }
        if is_register_line(t) {
            return;
        }
        // Anything else ends the trace (`Modules linked in:`, `Mem-Info:`,
        // the next subsystem's message).
        o.in_trace = false;
        if !o.report.call_trace.is_empty() {
            o.trace_done = true;
        }
    }
}

fn push_frame(v: &mut Vec<PrintedFrame>, f: PrintedFrame) {
    if v.len() < MAX_FRAMES {
        v.push(f);
    }
}

/// What follows the first `p` in `s`.
fn after<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    s.find(p).map(|i| &s[i + p.len()..])
}

/// Recognises a line that starts a report: the kind, the address it
/// names, and whether it is a die() line (`Oops: 0002 [#1]`, `invalid
/// opcode: 0000 [#1]`) that may continue an open report.
fn headline(t: &str) -> Option<(OopsKind, Option<u64>, bool)> {
    // `Oops: ` prefixes every die() line since 6.11 (`Oops: general
    // protection fault, …`, `Oops: Oops: 0002 [#1]`).
    let d = t.strip_prefix("Oops: ").unwrap_or(t);
    let is_die = d.contains(" [#");
    if let Some(a) = after(t, "kernel NULL pointer dereference") {
        let addr = after(a, "address: ")
            .or_else(|| after(a, " at "))
            .and_then(hex_word);
        return Some((OopsKind::PageFault { null: true }, addr, false));
    }
    if let Some(a) = after(t, "BUG: unable to handle page fault for address")
        .or_else(|| after(t, "BUG: unable to handle kernel paging request at"))
    {
        let addr = hex_word(a.trim_start_matches(':').trim_start());
        return Some((OopsKind::PageFault { null: false }, addr, false));
    }
    if d.starts_with("general protection fault") {
        let nc = after(d, "non-canonical address ");
        let addr = nc.and_then(|a| hex_word(a.trim_end_matches(':')));
        return Some((
            OopsKind::GeneralProtection {
                non_canonical: nc.is_some(),
            },
            addr,
            false,
        ));
    }
    if let Some(a) = t.strip_prefix("kernel BUG at ") {
        let loc = a.trim_end_matches('!');
        let (file, line) = file_line(loc);
        return Some((OopsKind::Bug { file, line }, None, false));
    }
    if (t.starts_with("list_") || t.contains(" list_")) && t.contains(" corruption") {
        return Some((OopsKind::ListCorruption, None, false));
    }
    if let Some(a) = after(t, "BUG: stack guard page was hit at ")
        .or_else(|| after(t, "BUG: TASK stack guard page was hit at "))
        .or_else(|| after(t, "stack guard page was hit at "))
    {
        return Some((OopsKind::StackOverflow, hex_word(a), false));
    }
    if d.starts_with("kernel stack overflow") {
        return Some((OopsKind::StackOverflow, None, is_die));
    }
    if d.starts_with("double fault") || t.contains("PANIC: double fault") {
        return Some((OopsKind::DoubleFault, None, is_die));
    }
    if d.starts_with("divide error") {
        return Some((OopsKind::DivideError, None, is_die));
    }
    if d.starts_with("invalid opcode") {
        return Some((OopsKind::InvalidOpcode, None, true));
    }
    if d.starts_with("Oops: ") || (t.starts_with("Oops: ") && is_die) {
        // A bare die() line: continues an open report, or is one.
        return Some((OopsKind::Oops, None, true));
    }
    // __warn()'s `WARNING: CPU: N PID: P at …` (`WARNING: at …` before
    // 4.x) and lockdep's and RCU-lockdep's reports; other lines that start
    // with the word (a driver's own message) are no kernel warning.
    const WARN_STARTS: &[&str] = &[
        "CPU: ",
        "at ",
        "possible ",
        "inconsistent lock state",
        "suspicious RCU usage",
        "bad unlock balance",
        "held lock freed",
        "lock held when returning",
    ];
    if let Some(a) = t
        .strip_prefix("WARNING: ")
        .filter(|a| WARN_STARTS.iter().any(|w| a.starts_with(w)))
    {
        let (file, line) = after(a, " at ")
            .map(|s| file_line(s.split_whitespace().next().unwrap_or("")))
            .unwrap_or_default();
        return Some((OopsKind::Warning { file, line }, None, false));
    }
    if let Some(a) = after(t, "BUG: soft lockup - CPU#") {
        let cpu = leading_u64(a).map(|v| v as u32).unwrap_or(0);
        let secs = after(a, "stuck for ")
            .and_then(leading_u64)
            .map(|v| v as u32)
            .unwrap_or(0);
        return Some((OopsKind::SoftLockup { cpu, seconds: secs }, None, false));
    }
    if let Some(a) = after(t, "hard LOCKUP on cpu ") {
        let cpu = leading_u64(a).map(|v| v as u32);
        return Some((OopsKind::HardLockup { cpu }, None, false));
    }
    if t.contains("hard LOCKUP") && t.contains("atchdog") {
        return Some((OopsKind::HardLockup { cpu: None }, None, false));
    }
    if (t.starts_with("rcu: INFO: ") || t.starts_with("INFO: rcu"))
        && (t.contains("detected stall") || t.contains("self-detected stall"))
    {
        return Some((OopsKind::RcuStall, None, false));
    }
    if t.starts_with("INFO: task ") {
        if let Some(a) = after(t, " blocked for more than ") {
            let secs = leading_u64(a).unwrap_or(0);
            return Some((OopsKind::HungTask { seconds: secs }, None, false));
        }
    }
    if (t.starts_with("sysrq: ") || t.starts_with("SysRq : ")) && t.ends_with("Trigger a crash") {
        return Some((OopsKind::SysrqCrash, None, false));
    }
    if t.contains(" invoked oom-killer:") {
        return Some((OopsKind::OomKill, None, false));
    }
    if let Some(a) = after(t, ": page allocation failure: order:") {
        let order = leading_u64(a)
            .and_then(|o| u32::try_from(o).ok())
            .unwrap_or(0);
        // `mode:0xcc0(GFP_KERNEL)`; before 4.x only the hex mask.
        let gfp = after(a, "mode:")
            .and_then(|m| after(m, "("))
            .and_then(|m| m.split_once(')'))
            .map(|(flags, _)| flags.to_string())
            .filter(|f| !f.is_empty());
        return Some((OopsKind::AllocFailure { order, gfp }, None, false));
    }
    if t.starts_with("Kernel panic - not syncing") {
        return Some((OopsKind::Panic, None, false));
    }
    None
}

/// The task a headline names: `[comm:pid]` (soft lockup), `task comm:pid
/// blocked` (hung task), `comm invoked oom-killer`.
fn headline_task(t: &str, r: &mut OopsReport) {
    match r.kind {
        OopsKind::SoftLockup { .. } => {
            if let (Some(a), Some(b)) = (t.rfind('['), t.rfind(']')) {
                if a < b {
                    r.task = comm_pid(&t[a + 1..b]);
                }
            }
        }
        OopsKind::HungTask { .. } => {
            let s = t.strip_prefix("INFO: task ").unwrap_or("");
            if let Some(i) = s.find(" blocked for more than") {
                r.task = comm_pid(&s[..i]);
            }
        }
        OopsKind::Warning { .. } => {
            // `WARNING: CPU: 1 PID: 123 at lib/list_debug.c:62 function+0x…`
            if let Some(c) = cpu_line(t.strip_prefix("WARNING: ").unwrap_or("")) {
                r.cpu = c.cpu;
            }
            if let Some(i) = t.find(" at ") {
                let mut rest = t[i + 4..].split_whitespace();
                rest.next(); // file:line
                let loc: Vec<&str> = rest.collect();
                r.rip = location(&loc.join(" "));
            }
        }
        OopsKind::AllocFailure { .. } => {
            if let Some(i) = t.find(": page allocation failure:") {
                r.task = Some(OopsTask {
                    comm: t[..i].to_string(),
                    pid: -1,
                });
            }
        }
        OopsKind::OomKill => {
            if let Some(i) = t.find(" invoked oom-killer:") {
                r.task = Some(OopsTask {
                    comm: t[..i].to_string(),
                    pid: -1,
                });
            }
        }
        _ => {}
    }
}

/// `task:cat             state:D stack:    0 pid:   91 ppid:     1 flags:…`.
fn show_task_line(t: &str) -> Option<OopsTask> {
    let rest = t.strip_prefix("task:")?;
    let end = rest.find(" state:")?;
    let pid = after(&rest[end..], " pid:")?.trim_start();
    Some(OopsTask {
        comm: rest[..end].trim_end().to_string(),
        pid: leading_u64(pid)?.try_into().ok()?,
    })
}

/// `comm:pid` (the comm may hold a colon: the pid is after the last).
fn comm_pid(s: &str) -> Option<OopsTask> {
    let (comm, pid) = s.rsplit_once(':')?;
    Some(OopsTask {
        comm: comm.to_string(),
        pid: pid.trim().parse().ok()?,
    })
}

/// `99 (eater) total-vm…` → eater, 99.
fn pid_paren_comm(s: &str) -> Option<OopsTask> {
    let (pid, rest) = s.split_once(' ')?;
    let rest = rest.strip_prefix('(')?;
    let end = rest.rfind(')')?;
    Some(OopsTask {
        comm: rest[..end].to_string(),
        pid: pid.parse().ok()?,
    })
}

struct CpuLine {
    cpu: Option<u32>,
    task: Option<OopsTask>,
    tainted: Option<String>,
}

/// `CPU: 1 PID: 101 Comm: insmod Kdump: loaded Tainted: G  OE  6.1.0 #1`
/// (and `CPU: 0 UID: 0 PID: …` since 6.10; `Not tainted`).
fn cpu_line(t: &str) -> Option<CpuLine> {
    let rest = t.strip_prefix("CPU: ")?;
    let cpu = leading_u64(rest).map(|v| v as u32);
    let pid_at = rest.find("PID: ")?;
    if !rest.contains("Comm: ") {
        // `WARNING: CPU: 1 PID: 123 at …`: the CPU and no task name.
        return Some(CpuLine {
            cpu,
            task: None,
            tainted: None,
        });
    }
    let after_pid = &rest[pid_at + 5..];
    let pid: Option<i32> = after_pid
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok());
    let comm_at = after_pid.find("Comm: ");
    let mut task = None;
    let mut tail = after_pid;
    if let Some(c) = comm_at {
        let s = &after_pid[c + 6..];
        let end = [" Kdump: ", " Tainted: ", " Not tainted", " Tainted "]
            .iter()
            .filter_map(|m| s.find(m))
            .min()
            .unwrap_or(s.len());
        let comm = s[..end].to_string();
        tail = &s[end..];
        if let Some(pid) = pid {
            task = Some(OopsTask { comm, pid });
        }
    }
    let tainted = if tail.contains("Not tainted") {
        Some(String::new())
    } else if let Some(i) = tail.find("Tainted: ") {
        let mut letters = String::new();
        for tok in tail[i + 9..].split_whitespace() {
            if tok.chars().all(|c| c.is_ascii_uppercase()) {
                letters.push_str(tok);
            } else {
                break;
            }
        }
        // The first letter is G (GPL-only modules) or P (proprietary):
        // keep P, which is a taint; G is the absence of it.
        Some(letters.trim_start_matches('G').to_string())
    } else {
        None
    };
    Some(CpuLine { cpu, task, tainted })
}

/// `0010:vmt_init+0x117/0x1000 [vmtriage_scen]`; None for user mode
/// (`0033:0x47b7a0`) or an unparsable location.
fn rip_frame(s: &str) -> Option<PrintedFrame> {
    let s = s.trim();
    // The segment: `0010:` (kernel) or `0033:`/`0023:` (user); older
    // kernels print `[<ffffffff…>] function+…`.
    let loc = match s.split_once(':') {
        Some((seg, rest)) if seg.len() == 4 && seg.chars().all(|c| c.is_ascii_hexdigit()) => {
            if seg != "0010" {
                return None;
            }
            rest
        }
        _ => s,
    };
    let f = location(loc.trim())?;
    f.function.as_ref()?;
    Some(f)
}

/// A call-trace line: ` ? function+0x1a/0x20 [mod]`, ` function+…`,
/// ` [<ffffffff81000000>] function+…`, ` ? 0xffffffffc03f1000`.
fn trace_frame(t: &str) -> Option<PrintedFrame> {
    let mut s = t.trim();
    // `[<ffffffff810a1b2c>]` address prefix of older kernels.
    if let Some(rest) = s.strip_prefix("[<") {
        s = rest.split_once(">]").map(|(_, r)| r.trim_start())?;
    }
    let mut reliable = true;
    if let Some(rest) = s.strip_prefix("? ") {
        reliable = false;
        s = rest.trim_start();
    }
    let mut f = location(s)?;
    f.reliable = reliable;
    Some(f)
}

/// `function+0xoff/0xsize [module]` or `0xaddress`.
fn location(s: &str) -> Option<PrintedFrame> {
    let mut parts = s.split_whitespace();
    let sym = parts.next()?;
    let module = parts
        .next()
        .and_then(|m| m.strip_prefix('['))
        .and_then(|m| m.strip_suffix(']'))
        .map(|m| m.to_string());
    if parts.next().is_some() {
        return None; // prose, not a frame
    }
    if let Some(hex) = sym.strip_prefix("0x") {
        let addr = u64::from_str_radix(hex, 16).ok()?;
        return Some(PrintedFrame {
            function: None,
            offset: 0,
            size: 0,
            module,
            address: Some(addr),
            reliable: true,
            from_regs: false,
            context: None,
        });
    }
    let (name, offs) = sym.rsplit_once('+')?;
    let (off, size) = offs.split_once('/')?;
    let parse = |h: &str| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
    {
        return None;
    }
    Some(PrintedFrame {
        function: Some(name.to_string()),
        offset: parse(off)?,
        size: parse(size)?,
        module,
        address: None,
        reliable: true,
        from_regs: false,
        context: None,
    })
}

enum Marker {
    Open(&'static str),
    Close,
    End,
}

/// `<TASK>`, `<IRQ>`, `</IRQ>`, `<NMI>`, `<#DF>`, `<SOFTIRQ>`, `<EOI>`, `</TASK>`.
fn marker(t: &str) -> Option<Marker> {
    Some(match t {
        "<TASK>" => Marker::Open("TASK"),
        "<IRQ>" => Marker::Open("IRQ"),
        "<NMI>" => Marker::Open("NMI"),
        "<SOFTIRQ>" => Marker::Open("SOFTIRQ"),
        "<#DF>" => Marker::Open("#DF"),
        "<#MC>" => Marker::Open("#MC"),
        "<#DB>" => Marker::Open("#DB"),
        "<#VC>" => Marker::Open("#VC"),
        "</IRQ>" | "</NMI>" | "</SOFTIRQ>" | "</#DF>" | "</#MC>" | "</#DB>" | "</#VC>"
        | "<EOI>" => Marker::Close,
        "</TASK>" => Marker::End,
        _ => return None,
    })
}

/// A register dump line inside a trace (`RSP: 0018:…`, `RAX: …`, `Code: …`).
fn is_register_line(t: &str) -> bool {
    const REGS: &[&str] = &[
        "RSP:",
        "RAX:",
        "RBX:",
        "RCX:",
        "RDX:",
        "RSI:",
        "RDI:",
        "RBP:",
        "R08:",
        "R09:",
        "R10:",
        "R11:",
        "R12:",
        "R13:",
        "R14:",
        "R15:",
        "ORIG_RAX:",
        "Code:",
        "FS:",
        "CS:",
        "CR2:",
        "DR0:",
        "DR3:",
        "DR6:",
        "PKRU:",
    ];
    REGS.iter().any(|r| t.starts_with(r))
}

/// `mm/slub.c:4210` → ("mm/slub.c", 4210).
fn file_line(s: &str) -> (String, u32) {
    match s.rsplit_once(':') {
        Some((f, l)) => match l.parse() {
            Ok(n) => (f.to_string(), n),
            Err(_) => (s.to_string(), 0),
        },
        None => (s.to_string(), 0),
    }
}

/// The hex number a string starts with (`0000000000000008`, `0xdead…:`).
fn hex_word(s: &str) -> Option<u64> {
    let s = s.trim_start();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let end = s
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(s.len())
        .min(16);
    u64::from_str_radix(s.get(..end)?, 16).ok()
}

fn leading_u64(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(log: &str) -> OopsReport {
        let r = parse_lines(log.lines());
        assert_eq!(r.len(), 1, "{r:#?}");
        r.into_iter().next().unwrap()
    }

    fn names(fs: &[&PrintedFrame]) -> Vec<String> {
        fs.iter()
            .map(|f| match (&f.function, &f.module) {
                (Some(n), Some(m)) => format!("{n} [{m}]"),
                (Some(n), None) => n.clone(),
                (None, _) => format!("{:#x}", f.address.unwrap_or(0)),
            })
            .collect()
    }

    /// 6.1 (Debian 6.1.192): a NULL dereference in a module's init.
    const NULL_6_1: &str = "\
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
PGD 285e1067 P4D 285e1067 PUD 285dd067 PMD 0 
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 101 Comm: insmod Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:vmt_init+0x117/0x1000 [vmtriage_scen]
Code: c0 e8 4d 13 e0 d9 e9 18 01 00 00 48 c7 c6 90 12 3c c0 48 89 df <c7> 04 25 00 00 00 00 01
RSP: 0018:ffffd5e1c0413b10 EFLAGS: 00000246
RAX: 0000000000000021 RBX: ffff8f0542718fb0 RCX: c0000000ffffefff
CR2: 0000000000000000 CR3: 0000000002514000 CR4: 0000000000750ea0
PKRU: 55555554
Call Trace:
 <TASK>
 ? 0xffffffffc03f1000
 do_one_initcall+0x59/0x220
 do_init_module+0x4a/0x1f0
 __do_sys_finit_module+0xac/0x120
 do_syscall_64+0x5d/0x90
 ? page_add_file_rmap+0xba/0x2f0
 entry_SYSCALL_64_after_hwframe+0x6e/0xd8
RIP: 0033:0x47fbe9
Code: 08 89 e8 5b 5d c3 66 2e 0f 1f 84 00 00 00 00 00 90 48 89 f8 48 89 f7 48 89 d6 48 89 ca
RSP: 002b:00007ffe9086f1d8 EFLAGS: 00000246 ORIG_RAX: 0000000000000139
 </TASK>
Modules linked in: vmtriage_scen(OE+) virtio_blk virtio_pci qemu_fw_cfg
CR2: 0000000000000000";

    #[test]
    fn null_dereference_6_1() {
        let r = one(NULL_6_1);
        assert_eq!(r.kind, OopsKind::PageFault { null: true });
        assert_eq!(r.address, Some(0));
        assert_eq!(r.cpu, Some(1));
        assert_eq!(
            r.task,
            Some(OopsTask {
                comm: "insmod".into(),
                pid: 101
            })
        );
        assert_eq!(r.tainted.as_deref(), Some("OE"));
        let rip = r.rip.clone().unwrap();
        assert_eq!(rip.function.as_deref(), Some("vmt_init"));
        assert_eq!((rip.offset, rip.size), (0x117, 0x1000));
        assert_eq!(rip.module.as_deref(), Some("vmtriage_scen"));
        assert_eq!(r.call_trace.len(), 7);
        assert!(!r.call_trace[0].reliable);
        assert_eq!(r.call_trace[0].address, Some(0xffffffffc03f1000));
        assert_eq!(r.call_trace[1].context.as_deref(), Some("TASK"));
        assert_eq!(
            names(&r.frames()),
            [
                "vmt_init [vmtriage_scen]",
                "do_one_initcall",
                "do_init_module",
                "__do_sys_finit_module",
                "do_syscall_64",
                "entry_SYSCALL_64_after_hwframe"
            ]
        );
    }

    /// 6.12: `Oops: Oops:`, `UID:` in the CPU line, the taint legend line.
    #[test]
    fn null_dereference_6_12() {
        let r = one("\
BUG: kernel NULL pointer dereference, address: 0000000000000000
Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 0 UID: 0 PID: 146 Comm: insmod Kdump: loaded Tainted: G           OE      6.12.118+deb13-cloud-amd64 #1  Debian 6.12.118-1
Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE
RIP: 0010:vmt_init+0x11b/0xff0 [vmtriage_scen]
Call Trace:
 <TASK>
 ? __pfx_vmt_init+0x10/0x10 [vmtriage_scen]
 do_one_initcall+0x5b/0x310
 __x64_sys_finit_module+0x5e/0xb0
 </TASK>");
        assert_eq!(r.kind, OopsKind::PageFault { null: true });
        assert_eq!(r.cpu, Some(0));
        assert_eq!(r.task.as_ref().map(|t| t.pid), Some(146));
        assert_eq!(r.tainted.as_deref(), Some("OE"));
        assert_eq!(
            names(&r.frames()),
            [
                "vmt_init [vmtriage_scen]",
                "do_one_initcall",
                "__x64_sys_finit_module"
            ]
        );
    }

    /// A soft lockup, then the panic it causes, whose trace crosses the
    /// timer interrupt's exception frame (6.1).
    #[test]
    fn soft_lockup_then_panic() {
        let r = parse_lines(
            "\
watchdog: BUG: soft lockup - CPU#0 stuck for 9s! [vmt_spinner:103]
Modules linked in: vmtriage_scen(OE) virtio_blk qemu_fw_cfg
CPU: 0 PID: 103 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
RIP: 0010:spinner+0x1a/0x20 [vmtriage_scen]
RSP: 0018:ffffd542403b3f18 EFLAGS: 00000246
Call Trace:
 <TASK>
 kthread+0xda/0x100
 ? kthread_complete_and_exit+0x20/0x20
 ret_from_fork+0x22/0x30
 </TASK>
Kernel panic - not syncing: softlockup: hung tasks
CPU: 0 PID: 103 Comm: vmt_spinner Kdump: loaded Tainted: G           OEL     6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Call Trace:
 <IRQ>
 dump_stack_lvl+0x44/0x5c
 panic+0x118/0x2f4
 watchdog_timer_fn.cold+0xc/0x16
 </IRQ>
 <TASK>
 asm_sysvec_apic_timer_interrupt+0x16/0x20
RIP: 0010:spinner+0x1a/0x20 [vmtriage_scen]
RSP: 0018:ffffd542403b3f18 EFLAGS: 00000246
 ? spinner+0x18/0x20 [vmtriage_scen]
 kthread+0xda/0x100
 </TASK>"
                .lines(),
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].kind, OopsKind::SoftLockup { cpu: 0, seconds: 9 });
        assert_eq!(
            r[0].task.as_ref().map(|t| t.comm.as_str()),
            Some("vmt_spinner")
        );
        assert_eq!(
            names(&r[0].frames()),
            ["spinner [vmtriage_scen]", "kthread", "ret_from_fork"]
        );
        assert_eq!(r[1].kind, OopsKind::Panic);
        assert_eq!(r[1].message.as_deref(), Some("softlockup: hung tasks"));
        assert_eq!(r[1].tainted.as_deref(), Some("OEL"));
        assert_eq!(r[1].call_trace[0].context.as_deref(), Some("IRQ"));
        let regs = r[1].call_trace.iter().find(|f| f.from_regs).unwrap();
        assert_eq!(regs.function.as_deref(), Some("spinner"));
        assert_eq!(regs.context.as_deref(), Some("TASK"));
        assert_eq!(
            names(&r[1].frames()),
            [
                "dump_stack_lvl",
                "panic",
                "watchdog_timer_fn.cold",
                "asm_sysvec_apic_timer_interrupt",
                "spinner [vmtriage_scen]",
                "kthread"
            ]
        );
    }

    /// 5.10 hung task: no `<TASK>` markers, padded `pid:` fields.
    #[test]
    fn hung_task_5_10() {
        let r = parse_lines(
            "\
INFO: task vmt_rwsem_owner:89 blocked for more than 5 seconds.
      Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.
task:vmt_rwsem_owner state:D stack:    0 pid:   89 ppid:     2 flags:0x00004000
Call Trace:
 __schedule+0x282/0x870
 ? usleep_range+0x90/0x90
 schedule+0x46/0xb0
 schedule_timeout+0x107/0x150
 __wait_for_common+0xb9/0x170
 ? stall_fault+0x20/0x20 [vmtriage_scen]
 rwsem_writer+0x29/0x40 [vmtriage_scen]
 kthread+0x11b/0x140
 ret_from_fork+0x22/0x30
INFO: task cat:91 blocked for more than 120 seconds.
task:cat             state:D stack:    0 pid:   91 ppid:     1 flags:0x00000002
Call Trace:
 __schedule+0x282/0x870
 rwsem_down_read_slowpath+0x30e/0x530
RIP: 0033:0x47b6fd
RSP: 002b:00007ffce4701a48 EFLAGS: 00000246 ORIG_RAX: 0000000000000000"
                .lines(),
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].kind, OopsKind::HungTask { seconds: 5 });
        assert_eq!(
            r[0].task,
            Some(OopsTask {
                comm: "vmt_rwsem_owner".into(),
                pid: 89
            })
        );
        assert_eq!(r[0].call_trace.len(), 9);
        assert_eq!(r[0].call_trace[0].context, None);
        assert_eq!(
            names(&r[0].frames())[3..5],
            ["__wait_for_common", "rwsem_writer [vmtriage_scen]"]
        );
        assert_eq!(r[1].kind, OopsKind::HungTask { seconds: 120 });
        assert_eq!(r[1].task.as_ref().map(|t| t.pid), Some(91));
        assert!(r[1].rip.is_none(), "a user RIP is no kernel location");
    }

    #[test]
    fn sysrq_and_its_panic() {
        let r = parse_lines(
            "\
sysrq: Trigger a crash
Kernel panic - not syncing: sysrq triggered crash
CPU: 0 PID: 1 Comm: init Kdump: loaded Not tainted 5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
Call Trace:
 dump_stack+0x6b/0x83
 panic+0x114/0x2f1
 ? printk+0x58/0x73
 sysrq_handle_crash+0x16/0x20
 __handle_sysrq.cold+0x43/0x11a
 write_sysrq_trigger+0x24/0x40"
                .lines(),
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].kind, OopsKind::SysrqCrash);
        assert_eq!(r[1].tainted.as_deref(), Some(""));
        assert_eq!(
            r[1].task,
            Some(OopsTask {
                comm: "init".into(),
                pid: 1
            })
        );
        assert_eq!(names(&r[1].frames()).len(), 5);
    }

    #[test]
    fn allocation_failure_names_its_order_flags_and_caller() {
        // 5.10, from the fragmentation scenario.
        let r = one("vmt_ringd: page allocation failure: order:9, mode:0x40cc0(GFP_KERNEL|__GFP_COMP), nodemask=(null),cpuset=/,mems_allowed=0
CPU: 0 PID: 109 Comm: vmt_ringd Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
Call Trace:
 dump_stack+0x6b/0x83
 warn_alloc+0x138/0x160
 ? __alloc_pages_direct_compact+0x167/0x170
 __alloc_pages_slowpath.constprop.0+0xc8a/0xcc0
 __alloc_pages_nodemask+0x2de/0x310
 kmalloc_order+0x28/0x100
 kmalloc_order_trace+0x19/0x90
 vmt_ring_resize+0x17/0x40 [vmtriage_mm]
 vmt_ringd+0x26/0x4e [vmtriage_mm]
 kthread+0x11b/0x140
 ret_from_fork+0x22/0x30
Mem-Info:
");
        assert_eq!(
            r.kind,
            OopsKind::AllocFailure {
                order: 9,
                gfp: Some("GFP_KERNEL|__GFP_COMP".into())
            }
        );
        assert_eq!(r.kind.key(), "alloc_failure");
        assert!(!r.kind.is_oops());
        assert_eq!(
            r.task,
            Some(OopsTask {
                comm: "vmt_ringd".into(),
                pid: 109
            })
        );
        assert_eq!(r.cpu, Some(0));
        assert_eq!(r.site().as_deref(), Some("vmt_ring_resize [vmtriage_mm]"));
        // A mask without names (old kernels) and a comm with a colon.
        let r = one("a:b: page allocation failure: order:0, mode:0x20\n");
        assert_eq!(
            r.kind,
            OopsKind::AllocFailure {
                order: 0,
                gfp: None
            }
        );
        assert_eq!(r.task.map(|t| t.comm), Some("a:b".into()));
    }

    #[test]
    fn oom_kill_names_its_victim() {
        let mut log = String::from(
            "eater invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=1000
CPU: 1 PID: 99 Comm: eater Not tainted 6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
Call Trace:
 <TASK>
 dump_stack_lvl+0x44/0x5c
 dump_header+0x4c/0x22b
 oom_kill_process.cold+0xb/0x10
 out_of_memory+0x1fd/0x4c0
 </TASK>
Mem-Info:
",
        );
        // A long task list before the victim.
        for i in 0..1000 {
            log.push_str(&format!(
                "[ {i:6}]     0  {i}   565  1  28672  0  0 sleep\n"
            ));
        }
        log.push_str("Out of memory: Killed process 99 (eater) total-vm:447252kB, anon-rss:445036kB, file-rss:4kB, shmem-rss:704kB, UID:0 pgtables:904kB oom_score_adj:1000\n");
        let r = one(&log);
        assert_eq!(r.kind, OopsKind::OomKill);
        assert_eq!(r.task.as_ref().map(|t| t.pid), Some(99));
        assert_eq!(
            r.victim,
            Some(OopsTask {
                comm: "eater".into(),
                pid: 99
            })
        );
        assert_eq!(r.call_trace.len(), 4);
    }

    /// 6.1-rt: the RCU stall report is followed by NMI backtraces of the
    /// stalled CPU (kept) and the grace-period kthread's stack (not this
    /// report's trace).
    #[test]
    fn rcu_stall_keeps_the_first_trace() {
        let r = one("\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: \t1-...!: (3615 ticks this GP) idle=d6dc/1/0x4000000000000000 softirq=0/0 fqs=1 rcuc=5246 jiffies(starved)
\t(detected by 3, t=5252 jiffies, g=-683, q=100 ncpus=4)
Sending NMI from CPU 3 to CPUs 1:
NMI backtrace for cpu 1
CPU: 1 PID: 624 Comm: vmt_tasklist Tainted: G           OEL     6.1.0-56-rt-amd64 #1  Debian 6.1.192-2
RIP: 0010:delay_tsc+0x55/0xf0
Call Trace:
 <TASK>
 tasklist_holder.cold+0x44/0xcb9 [vmtriage_scen]
 kthread+0x104/0x120
 </TASK>
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:17    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x364/0xa70
 </TASK>");
        assert_eq!(r.kind, OopsKind::RcuStall);
        assert_eq!(r.cpu, Some(1));
        assert_eq!(
            r.task.as_ref().map(|t| t.comm.as_str()),
            Some("vmt_tasklist")
        );
        assert_eq!(r.tainted.as_deref(), Some("OEL"));
        assert_eq!(
            names(&r.frames()),
            [
                "delay_tsc",
                "tasklist_holder.cold [vmtriage_scen]",
                "kthread"
            ]
        );
    }

    /// 6.12: a stall with every quiescent state seen (the grace-period
    /// kthread starved): the report's task and trace are those of the CPU
    /// the kthread last ran on, what keeps it from running.
    #[test]
    fn rcu_stall_of_a_starved_kthread() {
        let r = one("\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: \t(detected by 3, t=5267 jiffies, g=-695, q=4 ncpus=4)
rcu: All QSes seen, last rcu_preempt kthread activity 5265 (4294899037-4294893772), jiffies_till_next_fqs=1, root ->qsmask 0x0
rcu: rcu_preempt kthread starved for 5265 jiffies! g-695 f0x2 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:18    tgid:18    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4ea/0xbe0
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
rcu: Stack dump where RCU GP kthread last ran:
Sending NMI from CPU 3 to CPUs 0:
NMI backtrace for cpu 0
CPU: 0 UID: 0 PID: 584 Comm: storm Tainted: G           OEL     6.12.118+deb13-cloud-amd64 #1  Debian 6.12.118-1
Call Trace:
 <TASK>
 queued_read_lock_slowpath+0x115/0x120
 </TASK>");
        assert_eq!(
            r.task,
            Some(OopsTask {
                comm: "storm".into(),
                pid: 584
            })
        );
        assert_eq!(r.call_trace.len(), 1);
        assert_eq!(r.cpu, Some(0));
    }

    /// Formats the corpus does not show, from upstream kernels' output.
    #[test]
    fn other_oops_kinds() {
        let r = one("\
general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP NOPTI
CPU: 3 PID: 2231 Comm: kworker/3:2 Tainted: P           O      5.10.0-20-amd64 #1 Debian 5.10.158-2
RIP: 0010:__list_del_entry_valid+0x25/0xc0");
        assert_eq!(
            r.kind,
            OopsKind::GeneralProtection {
                non_canonical: true
            }
        );
        assert_eq!(r.address, Some(0xdead000000000122));
        assert_eq!(
            r.task.as_ref().map(|t| t.comm.as_str()),
            Some("kworker/3:2")
        );
        assert_eq!(r.tainted.as_deref(), Some("PO"));

        let r = one("\
Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN NOPTI");
        assert_eq!(r.address, Some(0xdffffc0000000001));

        let r = one("\
------------[ cut here ]------------
kernel BUG at mm/slub.c:4210!
invalid opcode: 0000 [#1] SMP PTI
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 5.10.0 #1
RIP: 0010:kfree+0x2a5/0x2c0");
        assert_eq!(
            r.kind,
            OopsKind::Bug {
                file: "mm/slub.c".into(),
                line: 4210
            }
        );
        assert_eq!(r.rip.unwrap().function.as_deref(), Some("kfree"));

        let r = one("\
list_del corruption, ffff888100a3c8c8->next is LIST_POISON1 (dead000000000100)
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:47!
invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
CPU: 2 PID: 77 Comm: kworker/2:1 Not tainted 6.1.0 #1");
        assert_eq!(r.kind, OopsKind::ListCorruption);
        assert_eq!(r.cpu, Some(2));

        let r = one("\
list_add corruption. prev->next should be next (ffffffffc0a0b040), but was 0000000000000000. (prev=ffff9e0f4a6c1e00).
WARNING: CPU: 1 PID: 5 at lib/list_debug.c:30 __list_add_valid+0x7a/0xa0
CPU: 1 PID: 5 Comm: kworker/1:0 Not tainted 6.12.0 #1");
        assert_eq!(r.kind, OopsKind::ListCorruption);

        // WARN()'s text comes between `cut here` and the WARNING line
        // (6.1's, verbatim); a bare WARN_ON() has none, nor has a BUG().
        let r = one("\
------------[ cut here ]------------
Voluntary context switch within RCU read-side critical section!
WARNING: CPU: 1 PID: 103 at kernel/rcu/tree_plugin.h:320 rcu_note_context_switch+0x4ee/0x650
CPU: 1 PID: 103 Comm: cfg_watch Kdump: loaded Tainted: G           OE      6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3");
        assert_eq!(
            r.message.as_deref(),
            Some("Voluntary context switch within RCU read-side critical section!")
        );
        let r = one("\
------------[ cut here ]------------
WARNING: CPU: 0 PID: 0 at drivers/foo.c:10 foo_timer+0x1/0x2 [foo]");
        assert_eq!(r.message, None);
        let r = parse_lines(
            "------------[ cut here ]------------
kernel BUG at mm/slub.c:4210!
invalid opcode: 0000 [#1] SMP PTI
---[ end trace 0000000000000000 ]---
some unrelated line
WARNING: CPU: 0 PID: 1 at drivers/foo.c:10 foo+0x1/0x2"
                .lines(),
        );
        assert_eq!((r.len(), r[0].message.as_deref()), (2, None));
        assert_eq!(r[1].message, None);

        let r = one("\
WARNING: CPU: 1 PID: 123 at net/core/dev.c:10654 unregister_netdevice_many+0x6d/0x8a0 [foo]
Modules linked in: foo
CPU: 1 PID: 123 Comm: ip Not tainted 6.1.0 #1");
        assert_eq!(
            r.kind,
            OopsKind::Warning {
                file: "net/core/dev.c".into(),
                line: 10654
            }
        );
        let rip = r.rip.unwrap();
        assert_eq!(rip.function.as_deref(), Some("unregister_netdevice_many"));
        assert_eq!(rip.module.as_deref(), Some("foo"));

        assert!(parse_lines(["WARNING: this driver is deprecated"]).is_empty());
        assert_eq!(
            one("WARNING: possible circular locking dependency detected").kind,
            OopsKind::Warning {
                file: String::new(),
                line: 0
            }
        );

        let r = one("BUG: unable to handle page fault for address: ffffffffc0a0b000");
        assert_eq!(r.kind, OopsKind::PageFault { null: false });
        assert_eq!(r.address, Some(0xffffffffc0a0b000));
        let r = one("BUG: unable to handle kernel NULL pointer dereference at 0000000000000008");
        assert_eq!(
            (r.kind, r.address),
            (OopsKind::PageFault { null: true }, Some(8))
        );
        let r = one("BUG: stack guard page was hit at 00000000c1a1b9c5 (stack is 0000000093f2e1de..00000000c7d58b8a)");
        assert_eq!(r.kind, OopsKind::StackOverflow);
        let r = one("kernel stack overflow (double-fault): 0000 [#1] SMP");
        assert_eq!(r.kind, OopsKind::StackOverflow);
        assert_eq!(
            one("Oops: divide error: 0000 [#1] PREEMPT SMP NOPTI").kind,
            OopsKind::DivideError
        );
        assert_eq!(
            one("invalid opcode: 0000 [#1] SMP NOPTI").kind,
            OopsKind::InvalidOpcode
        );
        assert_eq!(one("Oops: 0000 [#1] SMP").kind, OopsKind::Oops);
        assert_eq!(
            one("NMI watchdog: Watchdog detected hard LOCKUP on cpu 3").kind,
            OopsKind::HardLockup { cpu: Some(3) }
        );
        assert_eq!(
            one("rcu: INFO: rcu_preempt self-detected stall on CPU").kind,
            OopsKind::RcuStall
        );
        assert_eq!(one("SysRq : Trigger a crash").kind, OopsKind::SysrqCrash);
        let r =
            one("Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled");
        assert_eq!(
            r.message.as_deref(),
            Some("Out of memory: system-wide panic_on_oom is enabled")
        );
    }

    /// A comm with a colon and spaces.
    #[test]
    fn odd_comms() {
        let r = one("watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [kworker/2:1:77]");
        assert_eq!(
            r.task,
            Some(OopsTask {
                comm: "kworker/2:1".into(),
                pid: 77
            })
        );
        let r = one("\
INFO: task my task:1234 blocked for more than 122 seconds.
CPU: 0 PID: 1234 Comm: my task Tainted: G        W         6.1.0 #1");
        assert_eq!(r.task.as_ref().map(|t| t.comm.as_str()), Some("my task"));
        assert_eq!(r.tainted.as_deref(), Some("W"));
    }

    /// Nothing panics on hostile lines, and counts stay bounded.
    #[test]
    fn hostile_input() {
        let bad = [
            "",
            "CPU: ",
            "CPU: PID: Comm:",
            "CPU: 99999999999999999999 PID: x Comm: ",
            "RIP: 0010:",
            "RIP: 0010:+0x/0x",
            "RIP: ::::",
            "BUG: kernel NULL pointer dereference, address: ",
            "BUG: unable to handle page fault for address: zz",
            "general protection fault, probably for non-canonical address 0x",
            "kernel BUG at !",
            "kernel BUG at :x!",
            "watchdog: BUG: soft lockup - CPU#",
            "INFO: task :x blocked for more than ",
            "INFO: task  blocked for more than 99999999999999999999999 seconds",
            " invoked oom-killer:",
            "Out of memory: Killed process ",
            "Out of memory: Killed process 1 (",
            "Call Trace:",
            " ? ",
            " [<",
            " [<ffff>] ",
            " f+0x1/",
            " é+0x1/0x2 [ü]",
            "WARNING: CPU: x PID: y at",
            "task:",
            "task: state: pid:",
            "task:x state:D pid:99999999999999999999",
            "\u{0}\u{1}\u{ffff}",
        ];
        let mut lines: Vec<&str> = Vec::new();
        for b in bad {
            lines.push(b);
            lines.push("Call Trace:");
            lines.push(b);
        }
        let _ = parse_lines(lines.iter().copied());
        for b in bad {
            for c in bad {
                let _ = parse_lines([b, c, "Call Trace:", b, c]);
            }
        }
        // Bounded: a flood of reports and an endless trace.
        let flood: Vec<String> = (0..MAX_REPORTS + 10)
            .map(|i| format!("INFO: task t:{i} blocked for more than 1 seconds."))
            .collect();
        assert_eq!(
            parse_lines(flood.iter().map(|s| s.as_str())).len(),
            MAX_REPORTS
        );
        let mut long = vec![
            "BUG: kernel NULL pointer dereference, address: 0",
            "Call Trace:",
        ];
        long.extend(std::iter::repeat_n(" f+0x1/0x2", 1000));
        let r = parse_lines(long);
        assert_eq!(r[0].call_trace.len(), MAX_FRAMES);
    }

    /// 5.10: a double list_del caught by CONFIG_DEBUG_LIST; the culprit is
    /// the caller of the check, the crash is the BUG, not the panic.
    #[test]
    fn list_corruption_culprit_and_crash() {
        let log = "\
list_del corruption. prev->next should be ffffffffc04114a0, but was ffffffffc04114b8
------------[ cut here ]------------
kernel BUG at lib/list_debug.c:59!
invalid opcode: 0000 [#1] SMP NOPTI
CPU: 1 PID: 92 Comm: vmt_reaper Kdump: loaded Tainted: G           OE     5.10.0-32-cloud-amd64 #1 Debian 5.10.223-1
RIP: 0010:__list_del_entry_valid.cold+0x31/0x69
Call Trace:
 vmt_pool_release.constprop.0+0x11/0x50 [vmtriage_faults]
 vmt_reaper+0x44/0x60 [vmtriage_faults]
 kthread+0x11b/0x140
Kernel panic - not syncing: Fatal exception";
        let r = parse_lines(log.lines());
        assert_eq!(r[0].kind, OopsKind::ListCorruption);
        let c = r[0].culprit().unwrap();
        assert_eq!(c.function.as_deref(), Some("vmt_pool_release.constprop.0"));
        assert_eq!(c.module.as_deref(), Some("vmtriage_faults"));
        let crash = crash(&r).unwrap();
        assert_eq!(crash.cause, Some(0));
        assert_eq!(crash.reason, Some(PanicReason::FatalException));
    }

    #[test]
    fn poison_values() {
        assert!(poison(0xdead_0000_0000_0110).unwrap().contains("list_del"));
        assert!(poison(0x6b6b_6b6b_6b6b_6b73).unwrap().contains("kfree"));
        assert_eq!(poison(0xffff_8880_0000_0000), None);
        assert_eq!(poison(0), None);
    }

    /// A panic in words of its own (the stack-overflow handler's) is caused
    /// by the oops before it; an OOM panic by no report.
    #[test]
    fn crash_cause_by_panic_message() {
        let r = parse_lines(
            "BUG: stack guard page was hit at 0000000012345678 (stack is 0000000011111111..0000000022222222)
kernel stack overflow (double-fault): 0000 [#1] PREEMPT SMP NOPTI
Kernel panic - not syncing: Machine halted."
                .lines(),
        );
        let c = crash(&r).unwrap();
        assert_eq!(c.reason, Some(PanicReason::Other));
        assert!(r[c.cause.unwrap()].kind.is_oops());
        let r = parse_lines([
            "Kernel panic - not syncing: Out of memory: compulsory panic_on_oom is enabled",
        ]);
        assert_eq!(crash(&r).unwrap().cause, None);
        assert_eq!(crash(&parse_lines(["hello"])), None);
    }

    /// 6.12-rt: the grace-period kthread starved; the report is about the
    /// CPU it last ran on, not the kthread's own stack.
    #[test]
    fn rcu_stall_of_a_starved_kthread_names_its_cpu() {
        let log = "\
rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
rcu: rcu_preempt kthread starved for 1252 jiffies! g-555 f0x2 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:R  running task     stack:0     pid:19    tgid:19    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4f1/0xc00
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
rcu: Stack dump where RCU GP kthread last ran:
CPU: 0 UID: 0 PID: 168 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.12.118+deb13-rt-amd64 #1  Debian 6.12.118-1
RIP: 0010:spinner+0x1e/0x20 [vmtriage_scen]
RSP: 0018:ffffcfda004afef8 EFLAGS: 00000246";
        let r = one(log);
        assert_eq!(r.kind, OopsKind::RcuStall);
        assert_eq!(
            r.rip.as_ref().and_then(|f| f.function.as_deref()),
            Some("spinner")
        );
        assert_eq!(r.task.as_ref().map(|t| t.pid), Some(168));
        assert_eq!(r.cpu, Some(0));
    }

    /// 6.12-rt, self-detected: the starved kthread last ran on the stalled
    /// CPU, whose own dump follows the kthread's stack with no heading.
    #[test]
    fn self_detected_stall_after_the_kthread_stack_names_the_cpu() {
        let log = "\
rcu: INFO: rcu_preempt self-detected stall on CPU
rcu: \t1-...!: (1249 ticks this GP) idle=4f0c/1/0x4000000000000000 softirq=0/0 fqs=0 rcuc=1252 jiffies(starved)
rcu: rcu_preempt kthread starved for 1251 jiffies! g-667 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x402 ->cpu=1
rcu: RCU grace-period kthread stack dump:
task:rcu_preempt     state:I stack:0     pid:17    tgid:17    ppid:2      flags:0x00004000
Call Trace:
 <TASK>
 __schedule+0x4f1/0xc00
 schedule+0x27/0xc0
 schedule_timeout+0x8d/0x110
 rcu_gp_fqs_loop+0x10b/0x540
 rcu_gp_kthread+0xe0/0x1b0
 </TASK>
CPU: 1 UID: 0 PID: 169 Comm: vmt_spinner Kdump: loaded Tainted: G           OE      6.12.118+deb13-rt-amd64 #1  Debian 6.12.118-1
RIP: 0010:spinner+0x1e/0x20 [vmtriage_scen]
RSP: 0018:ffffd37f0049fef8 EFLAGS: 00000246
Call Trace:
 <TASK>
 kthread+0xd2/0x100
 ret_from_fork+0x34/0x50
 </TASK>";
        let r = one(log);
        assert_eq!(r.kind, OopsKind::RcuStall);
        assert_eq!(r.site().as_deref(), Some("spinner [vmtriage_scen]"));
        assert_eq!(r.task.as_ref().map(|t| t.pid), Some(169));
        assert_eq!(r.cpu, Some(1));
    }
}
