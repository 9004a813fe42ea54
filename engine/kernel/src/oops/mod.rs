//! The log's crash reports as typed objects: oopses (page faults, general
//! protection faults, `kernel BUG at`, list corruption, stack overflows,
//! divide errors, invalid opcodes), `WARNING`s, the watchdogs' reports (soft
//! and hard lockups, RCU stalls, hung tasks, workqueue lockups), the
//! sanitizers' (KASAN, KFENCE, UBSAN, KMSAN, kmemleak), lockdep's, the
//! debugging checks' (sleeping in atomic context, scheduling while atomic,
//! refcount_t, ODEBUG, bad page and rss-counter state, SLUB debug, spinlock
//! debug), the stack protector's, sysrq crash triggers, OOM kills and
//! `Kernel panic - not syncing` — each with what the kernel printed about
//! it: the faulting address or the access (read or write, its size and
//! address), the `RIP:` or `pc :` function as printed (or the function the
//! headline names: a WARNING's, KASAN's `in`, lockdep's `at:`), the task and
//! CPU of the `CPU: N PID: P Comm: C` line, the taint letters of that moment
//! and the call trace, x86 (`RIP:`, `? ` entries, `<IRQ>` sections) or
//! arm64 (`pc :`, `lr :`, `Call trace:`).
//!
//! The parser reads the printk records the model already reads
//! ([`Kernel::dmesg`]); it knows the formats of 5.10 to 6.12 and PREEMPT_RT
//! (`CPU: 0 UID: 0 PID: …` since 6.10, `Oops: Oops: …` and `Oops: general
//! protection fault` since 6.11, `<TASK>` markers since 5.17, the separate
//! `Tainted: [O]=…` line since 6.10), and arm64's (`Internal error: Oops:`,
//! `Unable to handle kernel … at virtual address`). A report cut short (the
//! log ends before its call trace) or interleaved (another report's headline
//! starts before its trace) is marked [`OopsReport::corrupted`], as syzbot
//! marks such reports. The log is untrusted: every line is parsed without
//! indexing, every count is bounded, nothing panics.

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
    /// `BUG: KASAN: <bug> in <function>` (mm/kasan/report.c): `bug` as
    /// printed (`slab-use-after-free`, `global-out-of-bounds`,
    /// `double-free`, `wild-memory-access`…); `write` from the `Read of
    /// size`/`Write of size` line that follows (None for a free).
    Kasan { bug: String, write: Option<bool> },
    /// `BUG: KFENCE: <bug> [read|write] in <function>` (mm/kfence/report.c):
    /// `use-after-free`, `out-of-bounds`, `invalid`, `invalid free`,
    /// `memory corruption`.
    Kfence { bug: String, write: Option<bool> },
    /// `UBSAN: <check> in file:line:col` (lib/ubsan.c): `shift-out-of-bounds`,
    /// `array-index-out-of-bounds`, `signed-integer-overflow`,
    /// `invalid-load`…; `undefined-behaviour` for the older `Undefined
    /// behaviour in`.
    Ubsan {
        check: String,
        file: String,
        line: u32,
    },
    /// `BUG: KMSAN: <bug> in <function>` (mm/kmsan/report.c): `uninit-value`,
    /// `kernel-infoleak`…
    Kmsan { bug: String },
    /// kmemleak's `unreferenced object 0x… (size N):` (mm/kmemleak.c); the
    /// object's address is the report's `address`.
    MemoryLeak,
    /// One of lockdep's reports (kernel/locking/lockdep.c).
    Lockdep(LockdepBug),
    /// `BUG: sleeping function called from invalid context at file:line`
    /// (kernel/sched/core.c, __might_resched()).
    SleepInAtomic { file: String, line: u32 },
    /// `BUG: scheduling while atomic: comm/pid/0x…` (kernel/sched/core.c).
    SchedWhileAtomic,
    /// `refcount_t: underflow; use-after-free.` and the other refcount_t
    /// checks (lib/refcount.c), reported with WARN: `what` is the check.
    Refcount { what: String },
    /// `ODEBUG: <action> <state> object…` (lib/debugobjects.c), reported with
    /// WARN: `what` is the action (`free active`, `activate active`…).
    Odebug { what: String },
    /// `BUG: Bad page state in process comm  pfn:…` (mm/page_alloc.c).
    BadPageState,
    /// `BUG: Bad rss-counter state mm:… type:… val:…` (kernel/fork.c).
    BadRssCounter,
    /// SLUB debug: `BUG <cache> (<taint>): <what>` (mm/slub.c): `Redzone
    /// overwritten`, `Poison overwritten`, `Freepointer corrupt`, `Object
    /// already free`…
    Slub { cache: String, what: String },
    /// Spinlock debug: `BUG: spinlock bad magic on CPU#N, comm/pid`
    /// (kernel/locking/spinlock_debug.c); `lock` is `spinlock` or `rwlock`,
    /// `bug` the check (`bad magic`, `recursion`, `lockup suspected`…).
    Spinlock { lock: String, bug: String },
    /// `BUG: workqueue lockup - pool … stuck for Ns!` (kernel/workqueue.c).
    WorkqueueLockup { seconds: u32 },
    /// `Kernel panic - not syncing: stack-protector: Kernel stack is corrupted
    /// in: <function>` (kernel/panic.c, __stack_chk_fail()).
    StackProtector,
    /// `Kernel panic - not syncing: corrupted stack end detected inside
    /// scheduler` (kernel/sched/core.c, schedule_debug()).
    StackEnd,
    /// `Kernel panic - not syncing: Out of memory…` / `System is deadlocked
    /// on memory` (mm/oom_kill.c, panic_on_oom).
    OomPanic,
}

/// Which of lockdep's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockdepBug {
    /// `possible circular locking dependency detected`.
    CircularDependency,
    /// `possible recursive locking detected`.
    RecursiveLocking,
    /// `possible irq lock inversion dependency detected`.
    IrqLockInversion,
    /// `HARDIRQ-safe -> HARDIRQ-unsafe lock order detected` (and SOFTIRQ).
    IrqUnsafeOrder,
    /// `inconsistent lock state`.
    InconsistentState,
    /// `held lock freed!`.
    HeldLockFreed,
    /// `bad unlock balance detected!`.
    BadUnlockBalance,
    /// `lock held when returning to user space!`.
    HeldReturningToUser,
    /// `suspicious RCU usage.` (RCU-lockdep).
    SuspiciousRcu,
}

impl LockdepBug {
    /// The headline's words, after `WARNING: `.
    pub const HEADLINES: &'static [(&'static str, LockdepBug)] = &[
        (
            "possible circular locking dependency detected",
            LockdepBug::CircularDependency,
        ),
        (
            "possible recursive locking detected",
            LockdepBug::RecursiveLocking,
        ),
        (
            "possible irq lock inversion dependency detected",
            LockdepBug::IrqLockInversion,
        ),
        ("inconsistent lock state", LockdepBug::InconsistentState),
        ("held lock freed!", LockdepBug::HeldLockFreed),
        ("bad unlock balance detected!", LockdepBug::BadUnlockBalance),
        (
            "lock held when returning to user space!",
            LockdepBug::HeldReturningToUser,
        ),
        ("suspicious RCU usage", LockdepBug::SuspiciousRcu),
    ];

    /// A short stable name (`circular`, `recursive`…).
    pub fn key(self) -> &'static str {
        match self {
            LockdepBug::CircularDependency => "circular",
            LockdepBug::RecursiveLocking => "recursive",
            LockdepBug::IrqLockInversion => "irq_inversion",
            LockdepBug::IrqUnsafeOrder => "irq_unsafe_order",
            LockdepBug::InconsistentState => "inconsistent",
            LockdepBug::HeldLockFreed => "held_lock_freed",
            LockdepBug::BadUnlockBalance => "bad_unlock_balance",
            LockdepBug::HeldReturningToUser => "held_returning_to_user",
            LockdepBug::SuspiciousRcu => "suspicious_rcu",
        }
    }
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
            OopsKind::Kasan { .. } => "KASAN",
            OopsKind::Kfence { .. } => "KFENCE",
            OopsKind::Ubsan { .. } => "UBSAN",
            OopsKind::Kmsan { .. } => "KMSAN",
            OopsKind::MemoryLeak => "memory leak",
            OopsKind::Lockdep(b) => match b {
                LockdepBug::CircularDependency => "possible circular locking dependency",
                LockdepBug::RecursiveLocking => "possible recursive locking",
                LockdepBug::IrqLockInversion => "possible irq lock inversion dependency",
                LockdepBug::IrqUnsafeOrder => "irq-safe -> irq-unsafe lock order",
                LockdepBug::InconsistentState => "inconsistent lock state",
                LockdepBug::HeldLockFreed => "held lock freed",
                LockdepBug::BadUnlockBalance => "bad unlock balance",
                LockdepBug::HeldReturningToUser => "lock held when returning to user space",
                LockdepBug::SuspiciousRcu => "suspicious RCU usage",
            },
            OopsKind::SleepInAtomic { .. } => "sleeping function called from invalid context",
            OopsKind::SchedWhileAtomic => "scheduling while atomic",
            OopsKind::Refcount { .. } => "refcount_t",
            OopsKind::Odebug { .. } => "ODEBUG",
            OopsKind::BadPageState => "Bad page state",
            OopsKind::BadRssCounter => "Bad rss-counter state",
            OopsKind::Slub { .. } => "SLUB",
            OopsKind::Spinlock { .. } => "spinlock debug",
            OopsKind::WorkqueueLockup { .. } => "workqueue lockup",
            OopsKind::StackProtector => "stack-protector: Kernel stack is corrupted",
            OopsKind::StackEnd => "corrupted stack end",
            OopsKind::OomPanic => "out of memory panic",
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
            OopsKind::Kasan { .. } => "kasan",
            OopsKind::Kfence { .. } => "kfence",
            OopsKind::Ubsan { .. } => "ubsan",
            OopsKind::Kmsan { .. } => "kmsan",
            OopsKind::MemoryLeak => "memory_leak",
            OopsKind::Lockdep(_) => "lockdep",
            OopsKind::SleepInAtomic { .. } => "sleep_in_atomic",
            OopsKind::SchedWhileAtomic => "sched_while_atomic",
            OopsKind::Refcount { .. } => "refcount",
            OopsKind::Odebug { .. } => "odebug",
            OopsKind::BadPageState => "bad_page",
            OopsKind::BadRssCounter => "bad_rss",
            OopsKind::Slub { .. } => "slub",
            OopsKind::Spinlock { .. } => "spinlock",
            OopsKind::WorkqueueLockup { .. } => "workqueue_lockup",
            OopsKind::StackProtector => "stack_protector",
            OopsKind::StackEnd => "stack_end",
            OopsKind::OomPanic => "oom_panic",
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
        "kasan",
        "kfence",
        "ubsan",
        "kmsan",
        "memory_leak",
        "lockdep",
        "sleep_in_atomic",
        "sched_while_atomic",
        "refcount",
        "odebug",
        "bad_page",
        "bad_rss",
        "slub",
        "spinlock",
        "workqueue_lockup",
        "stack_protector",
        "stack_end",
        "oom_panic",
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

    /// A `Kernel panic - not syncing` line: a bare panic, or one whose
    /// message names what it is (the stack protector, the scheduler's
    /// stack-end check, panic_on_oom).
    pub fn is_panic(&self) -> bool {
        matches!(
            self,
            OopsKind::Panic | OopsKind::StackProtector | OopsKind::StackEnd | OopsKind::OomPanic
        )
    }

    /// A check's report of a bug it caught without dying (a sanitizer,
    /// lockdep, a debugging check): what a log with no oops is named by.
    pub fn is_bug_report(&self) -> bool {
        matches!(
            self,
            OopsKind::Kasan { .. }
                | OopsKind::Kfence { .. }
                | OopsKind::Ubsan { .. }
                | OopsKind::Kmsan { .. }
                | OopsKind::MemoryLeak
                | OopsKind::Lockdep(_)
                | OopsKind::SleepInAtomic { .. }
                | OopsKind::SchedWhileAtomic
                | OopsKind::Refcount { .. }
                | OopsKind::Odebug { .. }
                | OopsKind::BadPageState
                | OopsKind::BadRssCounter
                | OopsKind::Slub { .. }
                | OopsKind::Spinlock { .. }
                | OopsKind::WorkqueueLockup { .. }
                | OopsKind::StackProtector
                | OopsKind::StackEnd
        )
    }

    /// Reported through WARN() or a check that honours panic_on_warn: what
    /// a `panic_on_warn set` panic names.
    pub fn warns(&self) -> bool {
        matches!(
            self,
            OopsKind::Warning { .. }
                | OopsKind::Refcount { .. }
                | OopsKind::Odebug { .. }
                | OopsKind::Kasan { .. }
                | OopsKind::Kfence { .. }
                | OopsKind::Ubsan { .. }
                | OopsKind::Kmsan { .. }
                | OopsKind::Lockdep(_)
        )
    }

    /// A report the kernel always prints with a call trace: without one
    /// (the log ends first, or another report starts) it is cut short.
    /// Panics after an oops, sysrq, the RCU and hard-lockup detectors (whose
    /// NMI backtraces may be skipped), the rss-counter and workqueue checks
    /// print none of their own.
    pub fn needs_trace(&self) -> bool {
        !matches!(
            self,
            OopsKind::Panic
                | OopsKind::OomPanic
                | OopsKind::SysrqCrash
                | OopsKind::RcuStall
                | OopsKind::HardLockup { .. }
                | OopsKind::BadRssCounter
                | OopsKind::WorkqueueLockup { .. }
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
    /// The kernel `RIP:` (x86) or `pc :` (arm64) of the report (user-mode
    /// `RIP: 0033:` excluded); for a report whose headline names a function
    /// (a WARNING's `at file:line function`, KASAN's, KFENCE's and KMSAN's
    /// `in function`, lockdep's lock `at: function`, the stack protector's
    /// `in: function`), that function.
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
    /// The bad access a sanitizer reports (KASAN's `Read of size 8 at addr
    /// …`, KFENCE's `Use-after-free read at 0x…`).
    pub access: Option<Access>,
    /// The report is cut short (the log ends before its call trace) or
    /// interleaved (another report's headline starts before its trace):
    /// what it names beyond its headline is not sure.
    pub corrupted: bool,
}

/// A memory access as a sanitizer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub write: bool,
    /// Bytes accessed; None where the report does not say (KFENCE).
    pub size: Option<u64>,
    pub address: Option<u64>,
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
            access: None,
            corrupted: false,
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
            PanicReason::Warning => kind.warns(),
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
    let panic = reports.iter().rposition(|r| r.kind.is_panic());
    let before = &reports[..panic.unwrap_or(reports.len())];
    let reason = panic
        .and_then(|i| reports[i].message.as_deref())
        .map(PanicReason::of_message);
    let cause = match reason {
        // A panic that says what it is (the stack protector's) is its own cause.
        _ if panic.is_some_and(|i| {
            matches!(
                reports[i].kind,
                OopsKind::StackProtector | OopsKind::StackEnd
            )
        }) =>
        {
            panic
        }
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
                p.end();
                p.out.truncate(MAX_REPORTS);
                return p.out;
            }
        }
    }
    p.end();
    p.out
}

/// Parses lines of text (one log line each), as `dmesg` prints them
/// without timestamps; for tests and for logs read from elsewhere.
pub fn parse_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<OopsReport> {
    parse_log(&records_of_lines(lines))
}

/// Lines of text (one log line each, no timestamps) as a log's records,
/// one a line: what [`parse_lines`] parses, and what a log title
/// ([`crate::titles::log_title`]) of such lines reads.
pub fn records_of_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<LogRecord> {
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| LogRecord {
            seq: i as u64,
            level: 0,
            timestamp_ns: 0,
            text: l.to_string(),
        })
        .collect()
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
    /// Lockdep printed the words after which it names the lock's site.
    site_pending: bool,
}

impl Open {
    fn mark_if_cut(&mut self) {
        if self.report.kind.needs_trace() && self.report.call_trace.is_empty() {
            self.report.corrupted = true;
        }
    }
}

impl Parser {
    fn finish(&mut self) {
        if let Some(o) = self.cur.take() {
            self.out.push(o.report);
        }
    }

    /// The end of the log: a report still waiting for its call trace is cut short.
    fn end(&mut self) {
        if let Some(o) = self.cur.as_mut() {
            o.mark_if_cut();
        }
        self.finish();
    }

    fn start(&mut self, r: OopsReport) {
        // Another report's headline before this one's trace: interleaved.
        if let Some(o) = self.cur.as_mut() {
            o.mark_if_cut();
        }
        self.finish();
        // KMSAN prints its stack right under the headline, with no heading.
        let in_trace = matches!(r.kind, OopsKind::Kmsan { .. });
        self.cur = Some(Open {
            report: r,
            lines: 0,
            in_trace,
            trace_done: false,
            context: None,
            seen_cpu: false,
            gp_kthread_dump: false,
            site_pending: false,
        });
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one log line through the report parser's states (headline, cut here, registers, call trace, modules, end marker): the states share the report being read"
    )]
    fn line(&mut self, record: usize, ts: u64, raw: &str) {
        let line = raw.trim_end();
        let t = line.trim_start();
        // kmemleak's reports on the console carry its prefix (pr_fmt).
        let t = t.strip_prefix("kmemleak: ").map_or(t, str::trim_start);
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
            if r.kind.is_panic() {
                r.message = t
                    .strip_prefix("Kernel panic - not syncing:")
                    .map(|m| m.trim().to_string());
            }
            if matches!(r.kind, OopsKind::Warning { .. }) {
                r.message = cut.filter(|c| !c.is_empty()).map(|c| c.join(" "));
                headline::warned_check(&mut r);
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
        if detail::line(o, t) {
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
            // KFENCE and KMSAN print the CPU line after their stacks.
            let late = matches!(
                o.report.kind,
                OopsKind::Kfence { .. } | OopsKind::Kmsan { .. }
            );
            if !o.seen_cpu && (!o.trace_done || late) {
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
        // arm64's `pc : function+0x…/0x… [module]` (its `lr :` is a
        // register like any other).
        if let Some(pc) = t.strip_prefix("pc : ") {
            if !o.in_trace && o.report.rip.is_none() && !o.trace_done {
                o.report.rip = trace_frame(pc).filter(|f| f.function.is_some());
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
        // A symbolised log's inline frames (`__dump_stack lib/dump_stack.c:88
        // [inline]`) have no address of their own: the trace goes on.
        if is_register_line(t) || t.ends_with(" [inline]") {
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

mod detail;
mod headline;
mod layout;

use headline::{headline, headline_task};
use layout::*;

#[cfg(test)]
mod tests;
