//! The scheduler and the kernel's progress machinery: the `rcu` root (the
//! grace period and what holds it up) and the `workqueue_pools` root (busy
//! workers, pending work, time without progress). Times are in seconds,
//! from jiffies through the kernel's HZ. The reading is the kernel model's.

use kmodel::rcu::RcuState;
use kmodel::workqueue::WorkerPool;
use vmtriage_dsl::ast::Span;

use super::{
    decl_field, kernel_of, model_err, nth, tasks_at, wrong_owner, Ctx, Module, Root, Shape,
    TypeDecl,
};
use crate::model::Model;
use crate::ty::{Need, Ty};
use crate::value::EvalError;
use crate::value::Value;

pub static MODULE: Module = Module {
    name: "sched",
    doc: "RCU grace periods and workqueue pools: what the kernel's stall detectors watch",
    roots: &[
        Root {
            name: "rcu",
            needs: Need::Dump,
            ty: Shape::Is(Ty::Rcu),
            doc: "the RCU grace-period state",
            // A handle on the dump's RCU state: none on a log alone.
            get: |ev, span| ev.kernel(span).map(|_| Value::Rcu),
        },
        Root {
            name: "workqueue_pools",
            needs: Need::Dump,
            ty: Shape::List(&Shape::Is(Ty::Pool)),
            doc: "every workqueue worker pool (per-CPU and unbound)",
            get: |ev, span| {
                let n = ev.model(span)?.pools().map_err(model_err(span))?.len();
                Ok(Value::list((0..n).map(Value::Pool).collect()))
            },
        },
    ],
    types: &[RCU, POOL],
    functions: &[],
    constants: &[],
};

/// Jiffies as seconds, by the kernel's HZ.
fn seconds<'k>(m: &Model<'_>, jiffies: u64, span: Span) -> Result<Value<'k>, EvalError> {
    let hz = m.hz().map_err(model_err(span))?;
    Ok(Value::Float(jiffies as f64 / hz.max(1) as f64))
}

fn rcu<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<(&'m Model<'k>, &'m RcuState), EvalError> {
    let Value::Rcu = v else {
        return wrong_owner("rcu", v, span);
    };
    let m = ev.model(span)?;
    Ok((m, m.rcu().map_err(model_err(span))?))
}

const RCU: TypeDecl =
    TypeDecl {
        name: "rcu",
        needs: Need::Dump,
        doc: "the RCU grace period (rcu_state): running or not, for how long, what it waits for",
        fields: &[
            decl_field!(
                rcu,
                "flavour",
                Shape::Is(Ty::Str),
                "rcu_preempt or rcu_sched",
                |_, (_, r), _| { Value::str(&r.flavour) }
            ),
            decl_field!(
                rcu,
                "gp_running",
                Shape::Is(Ty::Bool),
                "a grace period is in progress",
                |_, (_, r), _| Value::Bool(r.gp_in_progress)
            ),
            decl_field!(
                rcu,
                "gp_age",
                Shape::Is(Ty::Float),
                "seconds since the running grace period started (0 when none runs)",
                |_, (m, r), span| seconds(m, r.gp_age_jiffies, span)?
            ),
            decl_field!(
            rcu,
            "stall_overdue",
            Shape::Is(Ty::Float),
            "seconds past the grace period's stall-warning deadline (0 if not due or none runs)",
            |_, (m, r), span| {
                let jiffies = kernel_of(m, span)?.jiffies().map_err(super::kernel_err(span))?;
                let over = jiffies.wrapping_sub(r.jiffies_stall) as i64;
                let over = if r.gp_in_progress && over > 0 { over as u64 } else { 0 };
                seconds(m, over, span)?
            }
        ),
            decl_field!(
                rcu,
                "waiting_cpus",
                Shape::List(&Shape::Is(Ty::Int)),
                "CPUs that have not reported a quiescent state for the running grace period",
                |_, (_, r), _| Value::list(
                    r.waiting_cpus
                        .iter()
                        .map(|&c| Value::Int(c.into()))
                        .collect()
                )
            ),
            decl_field!(
                rcu,
                "blocking",
                Shape::List(&Shape::Is(Ty::Task)),
                "tasks preempted inside an RCU read-side critical section that block it",
                |ev, (_, r), span| tasks_at(ev, r.blocking_tasks.iter().copied(), span)?
            ),
            decl_field!(
                rcu,
                "kthread",
                Shape::Is(Ty::Task),
                "the grace-period kthread (rcu_preempt, rcu_sched)",
                |ev, (_, r), span| super::task_at(ev, r.gp_kthread, span)?
            ),
            decl_field!(
                rcu,
                "kthread_inactive",
                Shape::Is(Ty::Float),
                "seconds since the grace-period kthread last showed activity (long while it is starved of CPU); null if the kernel does not record it",
                |_, (m, r), span| match r.gp_activity_age_jiffies {
                    Some(j) => seconds(m, j, span)?,
                    None => Value::Null,
                }
            ),
            decl_field!(
                rcu,
                "gp_state",
                Shape::Is(Ty::Str),
                "the grace-period kthread's state by the kernel's name (RCU_GP_WAIT_FQS…)",
                |_, (_, r), _| super::opt_str(r.gp_state_name.as_deref())
            ),
        ],
    };

fn pool<'m, 'k>(
    ev: &Ctx<'m, 'k>,
    v: &Value<'k>,
    span: Span,
) -> Result<(&'m Model<'k>, &'m WorkerPool), EvalError> {
    let Value::Pool(i) = v else {
        return wrong_owner("pool", v, span);
    };
    let m = ev.model(span)?;
    Ok((m, nth(m.pools(), *i, "worker pool", span)?))
}

/// A work function's name (or its address when no symbol covers it).
fn func_name<'k>(m: &Model<'_>, addr: u64) -> Value<'k> {
    match m.kernel().ok().and_then(|k| k.symbol_of(addr)) {
        Some(s) => Value::str(&s.to_string()),
        None => Value::str(&format!("{addr:#x}")),
    }
}

const POOL: TypeDecl = TypeDecl {
    name: "pool",
    needs: Need::Dump,
    doc: "a workqueue worker pool",
    fields: &[
        decl_field!(pool, "id", Shape::Is(Ty::Int), "pool id", |_, (_, p), _| {
            Value::Int(p.id)
        }),
        decl_field!(
            pool,
            "cpu",
            Shape::Is(Ty::Int),
            "its CPU; null for an unbound pool",
            |_, (_, p), _| super::opt_int(p.cpu.map(i64::from))
        ),
        decl_field!(
            pool,
            "busy",
            Shape::List(&Shape::Is(Ty::Task)),
            "workers running a work item",
            |ev, (_, p), span| tasks_at(ev, p.busy.iter().map(|b| b.task), span)?
        ),
        decl_field!(
            pool,
            "busy_functions",
            Shape::List(&Shape::Is(Ty::Str)),
            "the work function each busy worker runs",
            |_, (m, p), _| Value::list(p.busy.iter().map(|b| func_name(m, b.func)).collect())
        ),
        decl_field!(
            pool,
            "pending",
            Shape::List(&Shape::Is(Ty::Str)),
            "functions of the work items queued and not started, in queue order",
            |_, (m, p), _| Value::list(p.pending.iter().map(|&f| func_name(m, f)).collect())
        ),
        decl_field!(
            pool,
            "stalled",
            Shape::Is(Ty::Float),
            "seconds since the pool last started a work item (what the workqueue lockup detector compares)",
            |_, (m, p), span| seconds(m, p.stalled_jiffies, span)?
        ),
    ],
};
