//! The kernel log: the `dmesg` root and its records, and the crash reports
//! in it (`reports`, `crash`) as the kernel model parses them.

use kmodel::oops::{OopsKind, OopsReport, PrintedFrame};
use kmodel::printk::LogRecord;
use vmtriage_dsl::ast::Span;

use super::{decl_field, model_err, nth, wrong_owner, Ctx, Module, Root, Shape, TypeDecl};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "log",
    doc: "the kernel log (printk ringbuffer)",
    roots: &[
        Root {
            name: "dmesg",
            needs: Need::Log,
            ty: Shape::List(&Shape::Is(Ty::Record)),
            doc: "the kernel log",
            get: |ev, span| {
                let n = ev.model(span)?.dmesg().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Record).collect()))
            },
        },
        Root {
            name: "reports",
            needs: Need::Log,
            ty: Shape::List(&Shape::Is(Ty::Report)),
            doc: "the crash reports of the log, oldest first: oopses, BUGs, warnings, lockups, RCU stalls, hung tasks, OOM kills, panics",
            get: |ev, span| {
                let n = ev.model(span)?.reports().map_err(model_err(span))?.0.len();
                Ok(Value::list((0..n).map(Value::Report).collect()))
            },
        },
        Root {
            name: "crash",
            needs: Need::Log,
            ty: Shape::Is(Ty::Report),
            doc: "the report that brought the machine down: the one its panic names (the oops of a `Fatal exception`, the lockup of `softlockup: hung tasks`…), else the panic itself; null when the log shows no panic",
            get: |ev, span| {
                let (_, crash) = ev.model(span)?.reports().map_err(model_err(span))?;
                Ok(match crash {
                    Some(c) if c.panic.is_some() => Value::Report(c.cause.or(c.panic).unwrap_or(0)),
                    _ => Value::Null,
                })
            },
        },
    ],
    types: &[RECORD, REPORT],
    functions: &[],
    constants: &[],
};

fn record<'m, 'k>(ev: &Ctx<'m, 'k>, v: &Value<'k>, span: Span) -> Result<&'m LogRecord, EvalError> {
    let Value::Record(i) = v else {
        return wrong_owner("record", v, span);
    };
    nth(ev.model(span)?.dmesg(), *i, "log record", span)
}

const RECORD: TypeDecl = TypeDecl {
    name: "record",
    needs: Need::Log,
    doc: "one record of the kernel log",
    fields: &[
        decl_field!(
            record,
            "level",
            Shape::Is(Ty::Int),
            "log level 0-7",
            |_, r, _| { Value::Int(r.level as i64) }
        ),
        decl_field!(
            record,
            "timestamp",
            Shape::Is(Ty::Float),
            "seconds since boot",
            |_, r, _| { Value::Float(r.timestamp_ns as f64 / 1e9) }
        ),
        decl_field!(
            record,
            "text",
            Shape::Is(Ty::Str),
            "message text",
            |_, r, _| { Value::str(&r.text) }
        ),
    ],
};

fn report<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<(usize, &'m OopsReport), EvalError> {
    let Value::Report(i) = v else {
        return wrong_owner("report", v, span);
    };
    let (reports, _) = ev.model(span)?.reports().map_err(model_err(span))?;
    Ok((*i, nth(Ok(reports), *i, "crash report", span)?))
}

/// `function+0xoff/0xsize [module]`, as the kernel prints a location.
fn location(f: &PrintedFrame) -> String {
    let mut s = match (&f.function, f.address) {
        (Some(name), _) => format!("{name}+{:#x}/{:#x}", f.offset, f.size),
        (None, Some(a)) => format!("{a:#x}"),
        (None, None) => String::new(),
    };
    if let Some(m) = &f.module {
        s.push_str(&format!(" [{m}]"));
    }
    s
}

const REPORT: TypeDecl = TypeDecl {
    name: "report",
    needs: Need::Log,
    doc: "a crash report of the kernel log, parsed by the kernel model",
    fields: &[
        decl_field!(
            report,
            "kind",
            Shape::Is(Ty::Str),
            "what it reports: null_deref, page_fault, gpf, bug, list_corruption, stack_overflow, double_fault, divide_error, invalid_opcode, oops, warning, soft_lockup, hard_lockup, rcu_stall, hung_task, sysrq, oom_kill, alloc_failure, panic, kasan, kfence, ubsan, kmsan, memory_leak, lockdep, sleep_in_atomic, sched_while_atomic, refcount, odebug, bad_page, bad_rss, slub, spinlock, workqueue_lockup, stack_protector, stack_end, oom_panic",
            |_, (_, r), _| Value::str(r.kind.key())
        ),
        decl_field!(
            report,
            "name",
            Shape::Is(Ty::Str),
            "the kind in the kernel's words (`general protection fault (non-canonical address)`)",
            |_, (_, r), _| Value::str(r.kind.name())
        ),
        decl_field!(
            report,
            "headline",
            Shape::Is(Ty::Str),
            "the line that started the report, as printed",
            |_, (_, r), _| Value::str(&r.headline)
        ),
        decl_field!(
            report,
            "is_oops",
            Shape::Is(Ty::Bool),
            "an exception that kills the task or panics (faults, BUG, corruption checks, traps), not a warning or a detector's report",
            |_, (_, r), _| Value::Bool(r.kind.is_oops())
        ),
        decl_field!(
            report,
            "caused_crash",
            Shape::Is(Ty::Bool),
            "this is the report the machine's panic names (what `crash` is)",
            |ev, (i, _), span| {
                let (_, crash) = ev.model(span)?.reports().map_err(model_err(span))?;
                Value::Bool(crash.is_some_and(|c| c.panic.is_some() && c.cause.or(c.panic) == Some(i)))
            }
        ),
        decl_field!(
            report,
            "address",
            Shape::Is(Ty::Int),
            "the faulting address (page faults, non-canonical addresses, the stack guard page); null if none was printed",
            |_, (_, r), _| super::opt_int(r.address.map(|a| a as i64))
        ),
        decl_field!(
            report,
            "poison",
            Shape::Is(Ty::Str),
            "what the faulting address says when it is a kernel poison value plus an offset (a list entry after list_del(), a slab object after kfree()…); null otherwise",
            |_, (_, r), _| super::opt_str(r.address.and_then(kmodel::oops::poison))
        ),
        decl_field!(
            report,
            "non_canonical",
            Shape::Is(Ty::Bool),
            "a general protection fault the kernel says is probably for a non-canonical address (a poisoned or garbage pointer)",
            |_, (_, r), _| Value::Bool(matches!(r.kind, OopsKind::GeneralProtection { non_canonical: true }))
        ),
        decl_field!(
            report,
            "file",
            Shape::Is(Ty::Str),
            "the source file of a `kernel BUG at` or `WARNING: … at`; null otherwise",
            |_, (_, r), _| match &r.kind {
                OopsKind::Bug { file, .. } | OopsKind::Warning { file, .. } => Value::str(file),
                _ => Value::Null,
            }
        ),
        decl_field!(
            report,
            "line",
            Shape::Is(Ty::Int),
            "the source line of a `kernel BUG at` or `WARNING: … at`; null otherwise",
            |_, (_, r), _| match &r.kind {
                OopsKind::Bug { line, .. } | OopsKind::Warning { line, .. } => Value::Int((*line).into()),
                _ => Value::Null,
            }
        ),
        decl_field!(
            report,
            "function",
            Shape::Is(Ty::Str),
            "the function of the report's kernel `RIP:` (where it faulted, warned or was interrupted); null without one",
            |_, (_, r), _| super::opt_str(r.rip.as_ref().and_then(|f| f.function.as_deref()))
        ),
        decl_field!(
            report,
            "module",
            Shape::Is(Ty::Str),
            "the module of the `RIP:` function; null for the kernel itself or without a RIP",
            |_, (_, r), _| super::opt_str(r.rip.as_ref().and_then(|f| f.module.as_deref()))
        ),
        decl_field!(
            report,
            "culprit",
            Shape::Is(Ty::Str),
            "where the bug is: the first function of the RIP and call trace that is not the kernel's reporting machinery (die, traps, BUG/WARN handlers, list checks); null if the report printed none",
            |_, (_, r), _| super::opt_str(r.culprit().and_then(|f| f.function.as_deref()).map(kmodel::frames::base_name))
        ),
        decl_field!(
            report,
            "culprit_module",
            Shape::Is(Ty::Str),
            "the module of the culprit function; null for the kernel itself",
            |_, (_, r), _| super::opt_str(r.culprit().and_then(|f| f.module.as_deref()))
        ),
        decl_field!(
            report,
            "site",
            Shape::Is(Ty::Str),
            "the culprit as a person reads it: `function [module]`, or `function` in the kernel itself",
            |_, (_, r), _| super::opt_str(r.site().as_deref())
        ),
        decl_field!(
            report,
            "location",
            Shape::Is(Ty::Str),
            "the `RIP:` as printed: `function+0xoff/0xsize [module]`; null without one",
            |_, (_, r), _| match &r.rip {
                Some(f) => Value::str(&location(f)),
                None => Value::Null,
            }
        ),
        decl_field!(
            report,
            "trace",
            Shape::List(&Shape::Is(Ty::Str)),
            "the functions of the printed call trace, innermost first (the `?` guesses left out)",
            |_, (_, r), _| Value::list(
                r.call_trace
                    .iter()
                    .filter(|f| f.reliable)
                    .filter_map(|f| f.function.as_deref())
                    .map(Value::str)
                    .collect()
            )
        ),
        decl_field!(
            report,
            "task",
            Shape::Is(Ty::Task),
            "the task the report names, if the dump still has it; null otherwise",
            needs: Some(Need::Dump),
            |ev, (_, r), span| match &r.task {
                Some(t) => {
                    let ix = ev.model(span)?.index().map_err(model_err(span))?;
                    ix.by_pid.get(&t.pid).map(|&i| Value::Task(i)).unwrap_or(Value::Null)
                }
                None => Value::Null,
            }
        ),
        decl_field!(
            report,
            "comm",
            Shape::Is(Ty::Str),
            "the name of the task the report names, as printed",
            |_, (_, r), _| super::opt_str(r.task.as_ref().map(|t| t.comm.as_str()))
        ),
        decl_field!(
            report,
            "pid",
            Shape::Is(Ty::Int),
            "the pid of the task the report names, as printed",
            |_, (_, r), _| super::opt_int(r.task.as_ref().map(|t| t.pid.into()))
        ),
        decl_field!(
            report,
            "cpu",
            Shape::Is(Ty::Int),
            "the CPU it happened on, as printed",
            |_, (_, r), _| super::opt_int(r.cpu.map(i64::from))
        ),
        decl_field!(
            report,
            "tainted",
            Shape::Is(Ty::Str),
            "the taint letters printed with it (`OE`; empty for `Not tainted`); null if none were",
            |_, (_, r), _| super::opt_str(r.tainted.as_deref())
        ),
        decl_field!(
            report,
            "message",
            Shape::Is(Ty::Str),
            "a panic's message (`Fatal exception`, `softlockup: hung tasks`…), a warning's own text (WARN()'s: `Voluntary context switch within RCU read-side critical section!`); null for other kinds and a bare WARN_ON()",
            |_, (_, r), _| super::opt_str(r.message.as_deref())
        ),
        decl_field!(
            report,
            "seconds",
            Shape::Is(Ty::Float),
            "how long a soft lockup was stuck or a hung task blocked, as reported; null for other kinds",
            |_, (_, r), _| match r.kind {
                OopsKind::SoftLockup { seconds, .. } => Value::Float(seconds.into()),
                OopsKind::HungTask { seconds } => Value::Float(seconds as f64),
                _ => Value::Null,
            }
        ),
        decl_field!(
            report,
            "order",
            Shape::Is(Ty::Int),
            "a page allocation failure's order (it asked for 2^order contiguous pages); null for other kinds",
            |_, (_, r), _| match r.kind {
                OopsKind::AllocFailure { order, .. } => Value::Int(order.into()),
                _ => Value::Null,
            }
        ),
        decl_field!(
            report,
            "gfp",
            Shape::Is(Ty::Str),
            "a page allocation failure's flags as printed (`GFP_KERNEL|__GFP_COMP`); null for other kinds or when none were printed",
            |_, (_, r), _| match &r.kind {
                OopsKind::AllocFailure { gfp, .. } => super::opt_str(gfp.as_deref()),
                _ => Value::Null,
            }
        ),
        decl_field!(
            report,
            "record",
            Shape::Is(Ty::Record),
            "the log record that started it",
            |_, (_, r), _| Value::Record(r.record)
        ),
    ],
};
