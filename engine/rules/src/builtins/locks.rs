//! Locks: the `lock` a task waits for, a lock's state (`lock_state`) as the
//! kernel model reads it, `rwlock()`/`rwsem()`/`mutex()`/`waiters()`, and
//! the wait-for cycles (`deadlocks`). Lock layouts are the kernel model's;
//! this module only maps its answers into the language.

use std::rc::Rc;

use kmodel::locks::{LockKind, LockState};
use kmodel::Object;
use vmtriage_dsl::ast::Span;

use super::{
    decl_field, fail, kernel_err, kernel_of, model_err, task_at, tasks_at, wrong_owner, Args, Ctx,
    Function, Module, Param, Root, Shape, Sig, TypeDecl, R,
};
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::{LockVal, Value};

/// What the lock functions take: a lock a task waits for, or a kernel object.
const LOCK_ARG: &[Param] = &[Param {
    name: "lock",
    ty: Shape::OneOf(&[Shape::Is(Ty::Lock), Shape::Is(Ty::Object)]),
}];

pub static MODULE: Module = Module {
    name: "locks",
    doc: "locks: what tasks wait for, who holds what, wait-for cycles",
    roots: &[Root {
        name: "deadlocks",
        needs: Need::Dump,
        ty: Shape::List(&Shape::List(&Shape::Is(Ty::Task))),
        doc: "every wait-for cycle (each a list of its tasks in wait order: each waits for a lock the next one holds), only where every owner is recorded",
        get: deadlocks,
    }],
    types: &[LOCK, LOCK_STATE],
    functions: &[
        Function {
            name: "rwlock",
            needs: Need::Dump,
            sigs: &[Sig {
                params: LOCK_ARG,
                result: Shape::Is(Ty::LockState),
            }],
            doc: "an rwlock_t's state (native and PREEMPT_RT layouts alike)",
            call: |ev, a| lock_record(ev, a, Some(LockKind::Rwlock)),
        },
        Function {
            name: "rwsem",
            needs: Need::Dump,
            sigs: &[Sig {
                params: LOCK_ARG,
                result: Shape::Is(Ty::LockState),
            }],
            doc: "an rw_semaphore's state (native and PREEMPT_RT layouts alike)",
            call: |ev, a| lock_record(ev, a, Some(LockKind::RwSemaphore)),
        },
        Function {
            name: "mutex",
            needs: Need::Dump,
            sigs: &[Sig {
                params: LOCK_ARG,
                result: Shape::Is(Ty::LockState),
            }],
            doc: "a mutex's state (native, and the rt_mutex of PREEMPT_RT)",
            call: |ev, a| lock_record(ev, a, Some(LockKind::Mutex)),
        },
        Function {
            name: "waiters",
            needs: Need::Dump,
            sigs: &[Sig {
                params: LOCK_ARG,
                result: Shape::List(&Shape::Is(Ty::Task)),
            }],
            doc: "tasks waiting for this lock: its own wait list or rt_mutex tree, else the tasks whose stacks wait on it",
            call: |ev, a| {
                let o = obj_arg(ev, a)?;
                let st = ev.kernel(a.span)?.lock_state(&o).map_err(kernel_err(a.span))?;
                waiters_of(ev, &st, a.span)
            },
        },
    ],
    constants: &[],
};

fn lock<'k>(_: &Ctx<'_, 'k>, v: &Value<'k>, span: Span) -> Result<Rc<LockVal>, EvalError> {
    match v {
        Value::Lock(l) => Ok(l.clone()),
        _ => wrong_owner("lock", v, span),
    }
}

const LOCK: TypeDecl = TypeDecl {
    name: "lock",
    needs: Need::Dump,
    doc: "a lock a task waits for",
    fields: &[
        decl_field!(lock, "address", Shape::Is(Ty::Int), "address of the lock", |_, l, _| {
            Value::Int(l.address as i64)
        }),
        decl_field!(
            lock,
            "name",
            Shape::Is(Ty::Str),
            "the global it is (name, name+0xOFF, or name [module]); null for heap locks",
            |_, l, _| super::opt_str(l.name.as_deref())
        ),
        decl_field!(
            lock,
            "kind",
            Shape::Is(Ty::Str),
            "mutex, rwsem, rwlock, spinlock, raw_spinlock, rt_mutex, percpu_rwsem, semaphore (from the kernel model's wait sites)",
            |_, l, _| Value::str(l.kind)
        ),
        decl_field!(
            lock,
            "mode",
            Shape::Is(Ty::Str),
            "how the task waits: read, write (reader-writer locks) or exclusive",
            |_, l, _| Value::str(l.mode)
        ),
        decl_field!(
            lock,
            "raw",
            Shape::Is(Ty::Object),
            "the lock as a typed kernel object",
            |ev, l, span| match l.name.as_deref().and_then(|n| ev.kernel(span).ok()?.global(n).ok()) {
                Some(o) => Value::Obj(o),
                None => Value::Null,
            }
        ),
        decl_field!(
            lock,
            "container",
            Shape::Is(Ty::Str),
            "for a lock that is no global, the struct it is a member of where the model knows it: `mm_struct` for a process's mmap_lock; null otherwise",
            |ev, l, span| home_of(ev, &l, span)?.map_or(Value::Null, |h| Value::str(h.container))
        ),
        decl_field!(
            lock,
            "member",
            Shape::Is(Ty::Str),
            "its member name in `container`, as this kernel names it (`mmap_lock`; `mmap_sem` before 5.8)",
            |ev, l, span| home_of(ev, &l, span)?.map_or(Value::Null, |h| Value::str(h.member))
        ),
        decl_field!(
            lock,
            "process",
            Shape::Is(Ty::Task),
            "the process the containing object belongs to (the mm's thread-group leader); null for globals",
            |ev, l, span| {
                let task = home_of(ev, &l, span)?.and_then(|h| h.task);
                task_at(ev, task, span)?
            }
        ),
        decl_field!(
            lock,
            "owner",
            Shape::Is(Ty::Task),
            "the task holding it, where the kernel records one (mutex, rwsem writer, rt_mutex, RT spinlock/rwlock writer); null if free or not recorded",
            |ev, l, span| {
                let owner = match contended(ev, &l, span)? {
                    Some(c) => c.state.as_ref().ok().and_then(|s| s.owner),
                    None => LockKind::from_name(l.kind)
                        .and_then(|k| ev.kernel(span).ok()?.lock_at(l.address, k).ok())
                        .and_then(|s| s.owner),
                };
                task_at(ev, owner, span)?
            }
        ),
    ],
};

/// A waited-for lock as the wait-for graph holds it (its state, owner and
/// containing object), if it is contended.
fn contended<'m>(
    ev: &Ctx<'m, '_>,
    l: &LockVal,
    span: Span,
) -> Result<Option<&'m kmodel::locks::ContendedLock>, EvalError> {
    let g = ev.model(span)?.wait_graph().map_err(model_err(span))?;
    Ok(g.locks.iter().find(|c| c.addr == l.address))
}

/// Where a waited-for lock lives (the graph names the containing object of
/// every contended lock).
fn home_of(
    ev: &Ctx<'_, '_>,
    l: &LockVal,
    span: Span,
) -> Result<Option<kmodel::locks::LockHome>, EvalError> {
    Ok(contended(ev, l, span)?.and_then(|c| c.home.clone()))
}

fn state<'k>(_: &Ctx<'_, 'k>, v: &Value<'k>, span: Span) -> Result<Rc<LockState>, EvalError> {
    match v {
        Value::LockState(s) => Ok(s.clone()),
        _ => wrong_owner("lock_state", v, span),
    }
}

fn opt_bool<'k>(b: Option<bool>) -> Value<'k> {
    b.map(Value::Bool).unwrap_or(Value::Null)
}

const LOCK_STATE: TypeDecl = TypeDecl {
    name: "lock_state",
    needs: Need::Dump,
    doc: "a lock's state as `rwlock()`, `rwsem()`, `mutex()` read it: the same record for every kind and flavour, null where the kind records nothing",
    fields: &[
        decl_field!(state, "kind", Shape::Is(Ty::Str), "the lock's kind (rwlock, rwsem, mutex, rt_mutex…)", |_, s, _| {
            Value::str(s.kind.name())
        }),
        decl_field!(state, "rt", Shape::Is(Ty::Bool), "built on rt_mutex / rwbase_rt (PREEMPT_RT)", |_, s, _| {
            Value::Bool(s.rt)
        }),
        decl_field!(state, "locked", Shape::Is(Ty::Bool), "held at all (by a writer or by readers)", |_, s, _| {
            Value::Bool(s.locked)
        }),
        decl_field!(state, "readers", Shape::Is(Ty::Int), "readers holding it, where countable", |_, s, _| {
            super::opt_int(s.readers.map(|n| n as i64))
        }),
        decl_field!(state, "writer_locked", Shape::Is(Ty::Bool), "a writer holds it", |_, s, _| {
            opt_bool(s.writer_locked)
        }),
        decl_field!(state, "writer_waiting", Shape::Is(Ty::Bool), "a writer waits for it", |_, s, _| {
            opt_bool(s.writer_waiting)
        }),
        decl_field!(
            state,
            "owner",
            Shape::Is(Ty::Task),
            "the owning task where the kernel records one (null: free, or not recorded — see owner_known)",
            |ev, s, span| task_at(ev, s.owner, span)?
        ),
        decl_field!(
            state,
            "owner_known",
            Shape::Is(Ty::Bool),
            "whether this kind records an owner at all (false: unknown, not free)",
            |_, s, _| Value::Bool(s.owner_recorded)
        ),
        decl_field!(
            state,
            "reader_owned",
            Shape::Is(Ty::Bool),
            "an rwsem marked reader-owned (the owner is then a hint only)",
            |_, s, _| Value::Bool(s.reader_owned)
        ),
        decl_field!(
            state,
            "queued_writer",
            Shape::Is(Ty::Task),
            "PREEMPT_RT rwlock/rwsem: the writer holding the inner rtmutex, others queue behind it",
            |ev, s, span| task_at(ev, s.queued_writer, span)?
        ),
        decl_field!(state, "raw", Shape::Is(Ty::Int), "the raw counter word (cnts, count, owner or val)", |_, s, _| {
            Value::Int(s.raw as i64)
        }),
        decl_field!(state, "cnts", Shape::Is(Ty::Int), "the raw word, by its native rwlock name", |_, s, _| {
            Value::Int(s.raw as i64)
        }),
        decl_field!(state, "count", Shape::Is(Ty::Int), "the raw word, by its native rwsem name", |_, s, _| {
            Value::Int(s.raw as i64)
        }),
        decl_field!(
            state,
            "waiters",
            Shape::List(&Shape::Is(Ty::Task)),
            "tasks waiting: its own wait list or tree, else the tasks whose stacks wait on it",
            |ev, s, span| waiters_of(ev, &s, span)?
        ),
    ],
};

/// `task.blocked_on`: the lock named by its global (or a module's), its kind
/// as the kernel model found it, how the task waits.
pub fn blocked_on<'k>(ev: &Ctx<'_, 'k>, task: usize, span: Span) -> R<'k> {
    let m = ev.model(span)?;
    Ok(match m.blocked_on(task).map_err(model_err(span))? {
        Some(b) => Value::Lock(Rc::new(LockVal {
            address: b.addr,
            name: kernel_of(m, span)?.data_symbol(b.addr),
            kind: b.kind.name(),
            mode: b.mode.name(),
        })),
        None => Value::Null,
    })
}

/// `task.waits_for`: the tasks at the end of each lock the task waits for.
pub fn waits_for<'k>(ev: &Ctx<'_, 'k>, task: u64, span: Span) -> R<'k> {
    let g = ev.model(span)?.wait_graph().map_err(model_err(span))?;
    tasks_at(ev, g.chain(task).iter().skip(1).map(|(a, _)| *a), span)
}

fn deadlocks<'k>(ev: &Ctx<'_, 'k>, span: Span) -> R<'k> {
    let g = ev.model(span)?.wait_graph().map_err(model_err(span))?;
    let mut out = Vec::with_capacity(g.cycles.len());
    for c in &g.cycles {
        out.push(tasks_at(ev, c.iter().copied(), span)?);
    }
    Ok(Value::list(out))
}

/// The kernel object a lock function's argument names.
fn obj_arg<'k>(ev: &Ctx<'_, 'k>, a: &Args<'k>) -> Result<Object<'k>, EvalError> {
    let span = a.span;
    match a.get(0)? {
        Value::Obj(o) => Ok(*o),
        Value::Lock(l) => {
            let k = ev.kernel(span)?;
            if let Some(o) = l.name.as_deref().and_then(|n| k.global(n).ok()) {
                return Ok(o);
            }
            // A lock that is not a global: its kind says its type.
            let kind = LockKind::from_name(l.kind).unwrap_or(LockKind::Spinlock);
            k.lock_object(l.address, kind).map_err(kernel_err(span))
        }
        _ => fail(
            span,
            format!("{}() needs a kernel object such as @tasklist_lock", a.name),
        ),
    }
}

/// Tasks waiting for the lock at `addr` by their stacks: only tasks on
/// a CPU (spinners) or asleep in D (sleeping locks) are unwound.
fn spinners<'k>(ev: &Ctx<'_, 'k>, addr: u64, span: Span) -> R<'k> {
    let m = ev.model(span)?;
    let me = model_err(span);
    let tasks = m.tasks().map_err(&me)?;
    let k = kernel_of(m, span)?;
    let mut out = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        if !(k.task_on_cpu(t) || t.state == 'D') {
            continue;
        }
        if let Some(b) = m.blocked_on(i).map_err(&me)? {
            if b.addr == addr {
                out.push(Value::Task(i));
            }
        }
    }
    Ok(Value::list(out))
}

/// Who waits on a lock: its own wait list or tree where it has one,
/// else the tasks whose stacks wait on it.
fn waiters_of<'k>(ev: &Ctx<'_, 'k>, st: &LockState, span: Span) -> R<'k> {
    match &st.waiters {
        Some(w) => tasks_at(ev, w.iter().copied(), span),
        None => spinners(ev, st.addr, span),
    }
}

/// `rwlock(x)`, `mutex(x)`, `rwsem(x)`: the lock's state as the kernel
/// model reads it, the same record for every kind and flavour.
fn lock_record<'k>(ev: &mut Ctx<'_, 'k>, a: &Args<'k>, want: Option<LockKind>) -> R<'k> {
    let span = a.span;
    let o = obj_arg(ev, a)?;
    let st = ev.kernel(span)?.lock_state(&o).map_err(kernel_err(span))?;
    // An RT mutex is an rt_mutex: a wait entered through a tail call
    // shows only the rt_mutex, so mutex() takes either.
    let same = |w: LockKind| w == st.kind || (w == LockKind::Mutex && st.kind == LockKind::RtMutex);
    if let Some(w) = want.filter(|w| !same(*w)) {
        return fail(
            span,
            format!(
                "{}() needs a {}, but {} is a {}",
                a.name,
                w.name(),
                o.type_name(),
                st.kind.name()
            ),
        );
    }
    Ok(Value::LockState(Rc::new(st)))
}
