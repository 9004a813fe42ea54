//! Tasks and their stacks: the `tasks` root, the `task` and `frame` types,
//! `task()`, `signal_pending()` and the signal numbers.

use kmodel::tasks::Task;
use vmtriage_dsl::ast::Span;

use super::{
    decl_field, fail, kernel_err, kernel_of, locks, model_err, opt_int, opt_str, task_list,
    wrong_owner, Args, Constant, Ctx, Function, Module, Param, Root, Shape, Sig, TypeDecl, R,
};
use crate::model::{FrameInfo, Model};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "tasks",
    doc: "tasks (threads), their relations and kernel stacks",
    roots: &[Root {
        name: "tasks",
        needs: Need::Dump,
        ty: Shape::List(&Shape::Is(Ty::Task)),
        doc: "every task (thread) in the dump",
        get: |ev, span| Ok(task_list(0..ev.model(span)?.tasks().map_err(model_err(span))?.len())),
    }],
    types: &[TASK, FRAME],
    functions: &[
        Function {
            name: "task",
            needs: Need::Dump,
            sigs: &[Sig {
                params: &[Param {
                    name: "pid",
                    ty: Shape::Is(Ty::Int),
                }],
                result: Shape::Is(Ty::Task),
            }],
            doc: "the task with this pid (null if none)",
            call: task_by_pid,
        },
        Function {
            name: "signal_pending",
            needs: Need::Dump,
            sigs: &[
                Sig {
                    params: &[Param {
                        name: "signal",
                        ty: Shape::Is(Ty::Int),
                    }],
                    result: Shape::Is(Ty::Bool),
                },
                Sig {
                    params: &[
                        Param {
                            name: "task",
                            ty: Shape::Is(Ty::Task),
                        },
                        Param {
                            name: "signal",
                            ty: Shape::Is(Ty::Int),
                        },
                    ],
                    result: Shape::Is(Ty::Bool),
                },
            ],
            doc: "the signal is pending for the task or its group (without a task: the task a filter is looking at)",
            call: signal_pending,
        },
    ],
    constants: &[
        Constant {
            name: "SIGHUP",
            value: 1,
            doc: "hangup",
        },
        Constant {
            name: "SIGINT",
            value: 2,
            doc: "interrupt",
        },
        Constant {
            name: "SIGQUIT",
            value: 3,
            doc: "quit",
        },
        Constant {
            name: "SIGABRT",
            value: 6,
            doc: "abort",
        },
        Constant {
            name: "SIGKILL",
            value: 9,
            doc: "kill",
        },
        Constant {
            name: "SIGSEGV",
            value: 11,
            doc: "segmentation fault",
        },
        Constant {
            name: "SIGPIPE",
            value: 13,
            doc: "broken pipe",
        },
        Constant {
            name: "SIGTERM",
            value: 15,
            doc: "terminate",
        },
        Constant {
            name: "SIGSTOP",
            value: 19,
            doc: "stop",
        },
    ],
};

/// A task value's model, index and task_struct.
fn task<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<(&'m Model<'k>, usize, &'m Task<'k>), EvalError> {
    let Value::Task(i) = v else {
        return wrong_owner("task", v, span);
    };
    let m = ev.model(span)?;
    Ok((m, *i, m.task(*i).map_err(model_err(span))?))
}

/// The tasks of a relation (children, threads) of thread group `tgid`.
fn related<'k>(rel: Option<&Vec<usize>>) -> Value<'k> {
    task_list(rel.into_iter().flatten().copied())
}

const TASK: TypeDecl = TypeDecl {
    name: "task",
    needs: Need::Dump,
    doc: "a task (thread)",
    fields: &[
        decl_field!(task, "pid", Shape::Is(Ty::Int), "thread id", |_, (_, _, t), _| {
            Value::Int(t.pid as i64)
        }),
        decl_field!(task, "tgid", Shape::Is(Ty::Int), "process id (thread group id)", |_,
                                                                           (_, _, t),
                                                                           _| {
            Value::Int(t.tgid as i64)
        }),
        decl_field!(task, "ppid", Shape::Is(Ty::Int), "parent's process id, as /proc's PPid", |_,
                                                                                   (_, _, t),
                                                                                   _| {
            opt_int(t.ppid.map(i64::from))
        }),
        decl_field!(task, "comm", Shape::Is(Ty::Str), "command name", |_, (_, _, t), _| {
            Value::str(&t.comm)
        }),
        decl_field!(
            task,
            "state",
            Shape::Is(Ty::Str),
            "state letter as ps shows it: R S D T t X Z P I",
            |_, (_, _, t), _| Value::str(&t.state.to_string())
        ),
        decl_field!(
            task,
            "state_name",
            Shape::Is(Ty::Str),
            "state as /proc/PID/status spells it",
            |_, (_, _, t), _| Value::str(t.state_name())
        ),
        decl_field!(
            task,
            "since_ran",
            Shape::Is(Ty::Float),
            "seconds since the task last got a CPU (its runqueue clock minus sched_info.last_arrival): for a task in D, at least how long it has been blocked; null without CONFIG_SCHED_INFO",
            |_, (m, _, t), span| match kernel_of(m, span)?.since_last_arrival(t).map_err(kernel_err(span))? {
                Some(ns) => Value::Float(ns as f64 / 1e9),
                None => Value::Null,
            }
        ),
        decl_field!(task, "flags", Shape::Is(Ty::Int), "PF_* flags", |_, (_, _, t), _| {
            Value::Int(t.flags as i64)
        }),
        decl_field!(task, "cpu", Shape::Is(Ty::Int), "CPU the task last ran on", |_,
                                                                      (_, _, t),
                                                                      _| {
            opt_int(t.cpu.map(i64::from))
        }),
        decl_field!(task, "on_cpu", Shape::Is(Ty::Bool), "running on a CPU at dump time", |_,
                                                                               (m, _, t),
                                                                               span| {
            Value::Bool(kernel_of(m, span)?.task_on_cpu(t))
        }),
        decl_field!(task, "kthread", Shape::Is(Ty::Bool), "a kernel thread (PF_KTHREAD)", |_,
                                                                              (_, _, t),
                                                                              _| {
            Value::Bool(t.is_kthread())
        }),
        decl_field!(task, "exiting", Shape::Is(Ty::Bool), "in the exit path (PF_EXITING)", |_,
                                                                               (_, _, t),
                                                                               _| {
            Value::Bool(t.is_exiting())
        }),
        decl_field!(
            task,
            "sigkill_pending",
            Shape::Is(Ty::Bool),
            "SIGKILL pending for the task or its group",
            |_, (_, _, t), _| Value::Bool(t.signal_pending(9).unwrap_or(false))
        ),
        decl_field!(task, "address", Shape::Is(Ty::Int), "address of the task_struct", |_,
                                                                           (_, _, t),
                                                                           _| {
            Value::Int(t.addr() as i64)
        }),
        decl_field!(
            task,
            "parent",
            Shape::Is(Ty::Task),
            "real parent (null for pid 1 and kthreadd)",
            |_, (m, i, t), _| match t.ppid.and_then(|p| m.index().ok()?.by_pid.get(&p).copied())
            {
                Some(j) if j != i => Value::Task(j),
                _ => Value::Null,
            }
        ),
        decl_field!(task, "leader", Shape::Is(Ty::Task), "thread group leader", |_,
                                                                     (m, _, t),
                                                                     span| {
            let ix = m.index().map_err(model_err(span))?;
            ix.by_pid
                .get(&t.tgid)
                .map(|j| Value::Task(*j))
                .unwrap_or(Value::Null)
        }),
        decl_field!(
            task,
            "children",
            Shape::List(&Shape::Is(Ty::Task)),
            "child processes (their group leaders)",
            |_, (m, _, t), span| related(m.index().map_err(model_err(span))?.children.get(&t.tgid))
        ),
        decl_field!(
            task,
            "threads",
            Shape::List(&Shape::Is(Ty::Task)),
            "every thread of the task's group, leader included",
            |_, (m, _, t), span| related(m.index().map_err(model_err(span))?.threads.get(&t.tgid))
        ),
        decl_field!(
            task,
            "wait_site",
            Shape::Is(Ty::Str),
            "where the task waits or runs, in its own code: the first function of its stack (not counting inline frames, which only DWARF knows) that is none of the kernel's generic ones (scheduler, wait primitives, lock slow paths, entry code; `vmtriage schema` documents the list as kmodel::frames), `function [module]` for module code; null if the stack has none",
            |_, (m, i, _), span| {
                let s = m.stack(i).map_err(model_err(span))?;
                // Inline frames exist only with DWARF: leaving them out
                // keeps the site (and fingerprints) one with or without it.
                match s.frames.iter().find(|f| {
                    !f.inline
                        && f.function
                            .as_deref()
                            .is_some_and(|n| kmodel::frames::generic(n).is_none())
                }) {
                    Some(f) => {
                        let name = kmodel::frames::base_name(f.function.as_deref().unwrap_or(""));
                        Value::str(&match &f.module {
                            Some(module) => format!("{name} [{module}]"),
                            None => name.to_string(),
                        })
                    }
                    None => Value::Null,
                }
            }
        ),
        decl_field!(
            task,
            "stack",
            Shape::List(&Shape::Is(Ty::Frame)),
            "kernel stack, innermost frame first (unwound on first use)",
            |_, (m, i, _), span| {
                let s = m.stack(i).map_err(model_err(span))?;
                Value::list((0..s.frames.len()).map(|f| Value::Frame(i, f)).collect())
            }
        ),
        decl_field!(
            task,
            "blocked_on",
            Shape::Is(Ty::Lock),
            "the lock the task waits for, from the outermost lock wait site of its stack (native and PREEMPT_RT); null if none",
            |ev, (_, i, _), span| locks::blocked_on(ev, i, span)?
        ),
        decl_field!(
            task,
            "files",
            Shape::List(&Shape::Is(Ty::File)),
            "open files by descriptor, as /proc/PID/fd lists them (empty for kernel threads)",
            |_, (m, i, _), span| {
                let n = m.open_files(i).map_err(model_err(span))?.len();
                Value::list((0..n).map(|f| Value::File(i, f)).collect())
            }
        ),
        decl_field!(
            task,
            "waker",
            Shape::Is(Ty::Task),
            "who should end the task's wait, where the model can say: the owner of the lock it waits for; for a task waiting on a FUSE filesystem (in a FUSE request, or for a page a FUSE read holds), the process serving FUSE (holding /dev/fuse open) when exactly one does; null otherwise",
            |ev, (m, i, t), span| waker(ev, m, i, t, span)?
        ),
        decl_field!(
            task,
            "raw",
            Shape::Is(Ty::Object),
            "the task_struct as a typed kernel object (members through DWARF)",
            |_, (_, _, t), _| Value::Obj(t.obj)
        ),
        decl_field!(
            task,
            "waits_for",
            Shape::List(&Shape::Is(Ty::Task)),
            "the wait-for chain: the owner of the lock the task waits for, that owner's lock's owner, … to a task that waits for nothing, a lock with no recorded owner, or back into a cycle (each task once); empty if the task waits for no lock",
            |ev, (_, _, t), span| locks::waits_for(ev, t.addr(), span)?
        ),
    ],
};

fn waker<'k>(ev: &Ctx<'_, 'k>, m: &Model<'k>, i: usize, t: &Task<'k>, span: Span) -> R<'k> {
    if let Value::List(owners) = locks::waits_for(ev, t.addr(), span)? {
        if let Some(owner) = owners.first() {
            return Ok(owner.clone());
        }
    }
    let s = m.stack(i).map_err(model_err(span))?;
    if kmodel::fuse::waits_on_fuse(s.frames.iter().filter_map(|f| f.function.as_deref())) {
        // With several FUSE servers the model cannot tell whose mount it is.
        if let [one] = m.fuse_servers().map_err(model_err(span))? {
            return Ok(Value::Task(*one));
        }
    }
    Ok(Value::Null)
}

/// A frame value's line of its task's stack (null past its end).
fn frame<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>, span: Span) -> Result<Option<FrameInfo>, EvalError> {
    let Value::Frame(t, f) = v else {
        return wrong_owner("frame", v, span);
    };
    let s = ev.model(span)?.stack(*t).map_err(model_err(span))?;
    Ok(s.frames.get(*f).cloned())
}

/// A frame's field, null for a frame past its stack's end.
fn of<'k>(f: Option<FrameInfo>, get: impl FnOnce(&FrameInfo) -> Value<'k>) -> Value<'k> {
    f.as_ref().map(get).unwrap_or(Value::Null)
}

const FRAME: TypeDecl = TypeDecl {
    name: "frame",
    needs: Need::Dump,
    doc: "one frame of a kernel stack",
    fields: &[
        decl_field!(
            frame,
            "function",
            Shape::Is(Ty::Str),
            "function name (null if unknown)",
            |_, f, _| { of(f, |f| opt_str(f.function.as_deref())) }
        ),
        decl_field!(
            frame,
            "pc",
            Shape::Is(Ty::Int),
            "program counter",
            |_, f, _| { of(f, |f| Value::Int(f.pc as i64)) }
        ),
        decl_field!(
            frame,
            "sp",
            Shape::Is(Ty::Int),
            "stack pointer",
            |_, f, _| { of(f, |f| Value::Int(f.sp as i64)) }
        ),
        decl_field!(
            frame,
            "offset",
            Shape::Is(Ty::Int),
            "pc offset into the function",
            |_, f, _| { of(f, |f| Value::Int(f.offset as i64)) }
        ),
        decl_field!(
            frame,
            "inline",
            Shape::Is(Ty::Bool),
            "an inlined call at this pc",
            |_, f, _| { of(f, |f| Value::Bool(f.inline)) }
        ),
        decl_field!(
            frame,
            "file",
            Shape::Is(Ty::Str),
            "source file",
            |_, f, _| { of(f, |f| opt_str(f.file.as_deref())) }
        ),
        decl_field!(
            frame,
            "line",
            Shape::Is(Ty::Int),
            "source line",
            |_, f, _| { of(f, |f| opt_int(f.line.map(i64::from))) }
        ),
        decl_field!(
            frame,
            "module",
            Shape::Is(Ty::Str),
            "module name, null for the kernel image",
            |_, f, _| { of(f, |f| opt_str(f.module.as_deref())) }
        ),
    ],
};

fn task_by_pid<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    match a.get(0)? {
        Value::Int(p) => {
            let ix = ev.model(a.span)?.index().map_err(model_err(a.span))?;
            Ok(i32::try_from(*p)
                .ok()
                .and_then(|p| ix.by_pid.get(&p))
                .map(|i| Value::Task(*i))
                .unwrap_or(Value::Null))
        }
        _ => fail(a.span, "task() needs a pid"),
    }
}

fn signal_pending<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>) -> R<'k> {
    let span = a.span;
    let (t, sig) = match a.values() {
        [Value::Task(t), Value::Int(s)] => (*t, *s),
        [Value::Int(s)] => match ev.elem() {
            Some(Value::Task(t)) => (*t, *s),
            _ => return fail(
                span,
                "signal_pending(SIG) outside a task filter needs a task: signal_pending(t, SIG)",
            ),
        },
        _ => return fail(span, "signal_pending needs ([task,] signal number)"),
    };
    if !(1..=64).contains(&sig) {
        return fail(span, format!("{sig} is not a signal number"));
    }
    let task = ev.model(span)?.task(t).map_err(model_err(span))?;
    Ok(Value::Bool(
        task.signal_pending(sig as u32).map_err(kernel_err(span))?,
    ))
}
