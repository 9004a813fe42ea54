//! The kernel as a whole: the `kernel` root (release, uptime, panic, taint,
//! limits), its CPUs and its modules.

use std::rc::Rc;

use vmtriage_dsl::ast::Span;

use super::{
    decl_field, kernel_err, kernel_of, model_err, nth, opt_int, wrong_owner, Ctx, Module, Root,
    Shape, TypeDecl,
};
use crate::model::{CpuInfo, Model};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;
use crate::version::parse_version;

use kmodel::modules::ModuleInfo;

pub static MODULE: Module = Module {
    name: "kernel",
    doc: "the kernel: release, uptime, panic, taint, CPUs, modules",
    roots: &[
        Root {
            name: "kernel",
            needs: Need::Log,
            ty: Shape::Is(Ty::Kernel),
            doc: "release, uptime, panic, taint, cmdline",
            get: |_, _| Ok(Value::Kernel),
        },
        Root {
            name: "cpus",
            needs: Need::Dump,
            ty: Shape::List(&Shape::Is(Ty::Cpu)),
            doc: "online CPUs",
            get: |ev, span| {
                let n = ev.model(span)?.cpus().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Cpu).collect()))
            },
        },
        Root {
            name: "modules",
            needs: Need::Dump,
            ty: Shape::List(&Shape::Is(Ty::Module)),
            doc: "loaded modules",
            get: |ev, span| {
                let n = ev.model(span)?.modules().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Module).collect()))
            },
        },
    ],
    types: &[KERNEL, CPU, MODULE_TYPE],
    functions: &[],
    constants: &[],
};

fn kernel<'m, 'k>(ev: &Ctx<'m, 'k>, v: &Value<'k>, span: Span) -> Result<&'m Model<'k>, EvalError> {
    match v {
        Value::Kernel => ev.model(span),
        _ => wrong_owner("kernel", v, span),
    }
}

/// A kernel global read as an integer.
fn global_int<'k>(m: &Model<'k>, name: &str, span: Span) -> Result<Value<'k>, EvalError> {
    Ok(Value::Int(
        kernel_of(m, span)?
            .global(name)
            .and_then(|o| o.as_i64())
            .map_err(kernel_err(span))?,
    ))
}

const KERNEL: TypeDecl = TypeDecl {
    name: "kernel",
    needs: Need::Dump,
    doc: "the kernel that crashed",
    fields: &[
        decl_field!(
            kernel,
            "release",
            Shape::Is(Ty::Str),
            "uname -r (on a log, as its `Linux version` line says; null if it does not)",
            needs: Some(Need::Log),
            |_, m, _| super::opt_str(m.release())
        ),
        decl_field!(
            kernel,
            "version",
            Shape::Is(Ty::Version),
            "the release as a comparable version (compare with \"6.1\")",
            needs: Some(Need::Log),
            |_, m, _| match m.release() {
                Some(r) => Value::Version(Rc::new(parse_version(r).unwrap_or_default())),
                None => Value::Null,
            }
        ),
        decl_field!(
            kernel,
            "uptime",
            Shape::Is(Ty::Float),
            "seconds since boot",
            |_, m, span| { Value::Float(kernel_of(m, span)?.uptime_ns().map_err(kernel_err(span))? as f64 / 1e9) }
        ),
        decl_field!(
            kernel,
            "jiffies",
            Shape::Is(Ty::Int),
            "jiffies_64",
            |_, m, span| { Value::Int(kernel_of(m, span)?.jiffies().map_err(kernel_err(span))? as i64) }
        ),
        decl_field!(
            kernel,
            "panic",
            Shape::Is(Ty::Str),
            "panic message, null if the kernel did not panic",
            needs: Some(Need::Log),
            |_, m, span| super::opt_str(m.panic_message().map_err(model_err(span))?)
        ),
        decl_field!(
            kernel,
            "panicked",
            Shape::Is(Ty::Bool),
            "the kernel panicked",
            |_, m, span| { Value::Bool(kernel_of(m, span)?.panic_cpu().map_err(kernel_err(span))?.is_some()) }
        ),
        decl_field!(
            kernel,
            "crashed_task",
            Shape::Is(Ty::Task),
            "the task that panicked",
            |ev, m, span| match kernel_of(m, span)?.crashed_task().map_err(kernel_err(span))? {
                Some(t) => super::task_at(ev, Some(t.addr()), span)?,
                None => Value::Null,
            }
        ),
        decl_field!(
            kernel,
            "crashed_cpu",
            Shape::Is(Ty::Int),
            "the CPU that panicked",
            |_, m, span| { opt_int(kernel_of(m, span)?.panic_cpu().map_err(kernel_err(span))?.map(i64::from)) }
        ),
        decl_field!(
            kernel,
            "taint",
            Shape::Is(Ty::Int),
            "taint mask (/proc/sys/kernel/tainted)",
            |_, m, span| Value::Int(kernel_of(m, span)?.tainted_mask().map_err(kernel_err(span))? as i64)
        ),
        decl_field!(
            kernel,
            "taint_flags",
            Shape::List(&Shape::Is(Ty::Str)),
            "taint letters set, e.g. [\"O\", \"E\"], from the kernel's own taint_flags[] (a bit it does not name is \"?\")",
            |_, m, span| {
                let mask = kernel_of(m, span)?.tainted_mask().map_err(kernel_err(span))?;
                let letters = kernel_of(m, span)?.taint_letters(mask).map_err(kernel_err(span))?;
                Value::list(letters.iter().map(|c| Value::str(&c.to_string())).collect())
            }
        ),
        decl_field!(
            kernel,
            "cmdline",
            Shape::Is(Ty::Str),
            "kernel command line",
            |_, m, span| {
                match kernel_of(m, span)?.global("saved_command_line").and_then(|o| o.string()) {
                    Ok(s) => Value::str(&s),
                    Err(_) => Value::Null,
                }
            }
        ),
        decl_field!(
            kernel,
            "nr_threads",
            Shape::Is(Ty::Int),
            "nr_threads",
            |_, m, span| { global_int(m, "nr_threads", span)? }
        ),
        decl_field!(
            kernel,
            "pid_max",
            Shape::Is(Ty::Int),
            "pid_max",
            |_, m, span| { global_int(m, "pid_max", span)? }
        ),
        decl_field!(
            kernel,
            "threads_max",
            Shape::Is(Ty::Int),
            "max_threads (kernel.threads-max)",
            |_, m, span| global_int(m, "max_threads", span)?
        ),
    ],
};

fn cpu<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<(&'m Model<'k>, &'m CpuInfo), EvalError> {
    let Value::Cpu(i) = v else {
        return wrong_owner("cpu", v, span);
    };
    let m = ev.model(span)?;
    Ok((m, nth(m.cpus(), *i, "CPU", span)?))
}

const CPU: TypeDecl = TypeDecl {
    name: "cpu",
    needs: Need::Dump,
    doc: "an online CPU",
    fields: &[
        decl_field!(
            cpu,
            "id",
            Shape::Is(Ty::Int),
            "CPU number",
            |_, (_, c), _| { Value::Int(c.id as i64) }
        ),
        decl_field!(
            cpu,
            "current",
            Shape::Is(Ty::Task),
            "task running at dump time",
            |_, (_, c), _| { c.current.map(Value::Task).unwrap_or(Value::Null) }
        ),
        decl_field!(
            cpu,
            "nr_running",
            Shape::Is(Ty::Int),
            "runnable tasks on its runqueue",
            |_, (_, c), _| { Value::Int(c.nr_running as i64) }
        ),
        decl_field!(
            cpu,
            "idle",
            Shape::Is(Ty::Bool),
            "running its idle task",
            |_, (_, c), _| { Value::Bool(c.rq.is_idle()) }
        ),
        decl_field!(
            cpu,
            "running_for",
            Shape::Is(Ty::Float),
            "seconds its current task has had the CPU (a CPU hog shows here); null when idle",
            |_, (m, c), span| {
                let secs = match c.current.filter(|_| !c.rq.is_idle()) {
                    Some(i) => kernel_of(m, span)?
                        .since_last_arrival(m.task(i).map_err(model_err(span))?)
                        .map_err(kernel_err(span))?
                        .map(|ns| ns as f64 / 1e9),
                    None => None,
                };
                secs.map(Value::Float).unwrap_or(Value::Null)
            }
        ),
        decl_field!(
            cpu,
            "rt_throttled",
            Shape::Is(Ty::Bool),
            "real-time tasks throttled on it (RT bandwidth); null where the kernel has no such state",
            |_, (_, c), _| { c.rq.rt_throttled.map(Value::Bool).unwrap_or(Value::Null) }
        ),
        decl_field!(
            cpu,
            "crashed",
            Shape::Is(Ty::Bool),
            "the CPU that panicked",
            |_, (m, c), span| { Value::Bool(kernel_of(m, span)?.panic_cpu().ok().flatten() == Some(c.id)) }
        ),
    ],
};

fn module<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<&'m ModuleInfo, EvalError> {
    let Value::Module(i) = v else {
        return wrong_owner("module", v, span);
    };
    nth(ev.model(span)?.modules(), *i, "module", span)
}

const MODULE_TYPE: TypeDecl = TypeDecl {
    name: "module",
    needs: Need::Dump,
    doc: "a loaded module",
    fields: &[
        decl_field!(
            module,
            "name",
            Shape::Is(Ty::Str),
            "module name",
            |_, md, _| { Value::str(&md.name) }
        ),
        decl_field!(
            module,
            "base",
            Shape::Is(Ty::Int),
            "start of its core text",
            |_, md, _| { Value::Int(md.base as i64) }
        ),
        decl_field!(
            module,
            "size",
            Shape::Is(Ty::Int),
            "size of its core text",
            |_, md, _| { Value::Int(md.size as i64) }
        ),
        decl_field!(
            module,
            "taints",
            Shape::Is(Ty::Int),
            "taint mask of the module",
            |_, md, _| { Value::Int(md.taints as i64) }
        ),
        decl_field!(
            module,
            "out_of_tree",
            Shape::Is(Ty::Bool),
            "loaded from outside the kernel tree (taint O)",
            |_, md, _| Value::Bool(md.taints & (1 << 12) != 0)
        ),
        decl_field!(
            module,
            "unsigned",
            Shape::Is(Ty::Bool),
            "loaded without a valid signature (taint E)",
            |_, md, _| Value::Bool(md.taints & (1 << 13) != 0)
        ),
    ],
};
