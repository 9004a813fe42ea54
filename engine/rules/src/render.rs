//! Rendering: the evaluator's values as a finding shows them — message
//! text, and evidence as typed [`Fact`]s. Evaluation does not depend on
//! this module; it reads the model only for what a value stands for (a
//! task's pid and comm, a record's text) and never unwinds a stack no
//! rule looked at.

use std::collections::BTreeMap;

use crate::builtins::Ctx;
use kmodel::locks::LockState;

use crate::evidence::{
    CpuFact, Fact, FrameFact, LockFact, LockHomeFact, LockStateFact, ModuleFact, RecordFact,
    TaskFact, ZoneFact,
};
use crate::model::Model;
use crate::value::Value;

/// Tasks shown of a list or group of tasks.
const SAMPLE: usize = 3;
/// Items shown of another list.
const LIST: usize = 20;
/// Functions kept of a task's stack (the text report skips the
/// scheduler's at the top and shows fewer).
const STACK: usize = 16;

/// An absent value (null) in message text: said in a word, never as
/// `none` or `null` inside a sentence; a `{? … }` clause leaves it out.
pub const ABSENT: &str = "unknown";

/// A value as message text.
pub fn display<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>) -> String {
    match v {
        Value::Null => ABSENT.into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:.2}"),
        Value::Str(s) => s.to_string(),
        Value::Task(i) => {
            ev.m.and_then(|m| m.task(*i).ok())
                .map(|t| format!("{} ({})", t.comm, t.pid))
                .unwrap_or_default()
        }
        Value::Lock(l) => lock_fact(ev, l.address, l.kind, l.name.clone(), None).ident(),
        Value::LockState(st) => lock_fact(ev, st.addr, st.kind.name(), None, Some(st)).line(),
        Value::List(l) => {
            let items: Vec<String> = l.iter().take(5).map(|x| display(ev, x)).collect();
            if l.len() > 5 {
                format!("{}, … ({} in all)", items.join(", "), l.len())
            } else {
                items.join(", ")
            }
        }
        other => match ev.to_json_plain(other) {
            serde_json::Value::String(s) => s,
            j => j.to_string(),
        },
    }
}

/// A value as evidence: tasks with pid, comm, state and (at the top two
/// levels) the stack a rule unwound; lists holding tasks and groups as a
/// count and a sample.
pub fn render<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>, depth: u32) -> Fact {
    render_with(ev, v, depth, false)
}

/// A value a rule names in its `evidence:`: as [`render`], and a task it
/// shows (the value itself, or one of the sample of a list or group) has
/// its stack even when the rule did not look at it — the stack of a lock's
/// owner is what a reader looks at first. Unwinds at most a few tasks per
/// item; bindings shown without `evidence:` unwind nothing.
pub fn render_shown<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>) -> Fact {
    render_with(ev, v, 0, true)
}

fn render_with<'k>(ev: &Ctx<'_, 'k>, v: &Value<'k>, depth: u32, unwind: bool) -> Fact {
    let render = |ev: &Ctx<'_, 'k>, v: &Value<'k>, depth: u32| render_with(ev, v, depth, unwind);
    let all = |items: &[Value<'k>], n: usize| -> Vec<Fact> {
        items
            .iter()
            .take(n)
            .map(|x| render(ev, x, depth + 1))
            .collect()
    };
    match v {
        Value::Null => Fact::Null,
        Value::Bool(b) => Fact::Bool(*b),
        Value::Int(i) => Fact::Int(*i),
        Value::Float(f) => Fact::Float(*f),
        Value::Str(s) => Fact::Text(s.to_string()),
        Value::List(l) if l.iter().any(|x| matches!(x, Value::Task(_))) => Fact::Tasks {
            count: l.len(),
            sample: all(l, SAMPLE),
        },
        Value::List(l) => Fact::List(all(l, LIST)),
        Value::Group(g) => Fact::Group {
            key: Box::new(render(ev, &g.key, depth + 1)),
            count: g.items.len(),
            sample: all(&g.items, SAMPLE),
            by: g.name.clone(),
        },
        Value::Map(m) => Fact::Map(
            m.iter()
                .map(|(k, x)| (k.clone(), render(ev, x, depth + 1)))
                .collect(),
        ),
        Value::LockState(st) => Fact::Lock(lock_fact(ev, st.addr, st.kind.name(), None, Some(st))),
        Value::Lock(l) => Fact::Lock(lock_fact(ev, l.address, l.kind, l.name.clone(), None)),
        Value::Obj(o) => match ev.scalar(o) {
            Some(i) => Fact::Int(i),
            None => Fact::Object {
                ctype: o.type_name(),
                address: o.addr,
            },
        },
        Value::Version(parts) => {
            let parts: Vec<String> = parts.iter().map(u64::to_string).collect();
            Fact::Text(parts.join("."))
        }
        model_value => match ev.m {
            Some(m) => model_fact(m, model_value, depth, unwind),
            None => Fact::Null,
        },
    }
}

/// A lock as evidence: the global it is, else the object it is a member of
/// (from the wait-for graph, which knows every contended lock's home), and
/// its state (read by `rwlock()`/`rwsem()`/`mutex()`, else the graph's).
/// Building the graph unwinds the tasks that can wait for a lock (in D or
/// on a CPU), as the lock's `owner` field does.
fn lock_fact<'k>(
    ev: &Ctx<'_, 'k>,
    address: u64,
    kind: &str,
    name: Option<String>,
    state: Option<&LockState>,
) -> LockFact {
    let m = ev.m;
    let contended = m
        .and_then(|m| m.wait_graph().ok())
        .and_then(|g| g.locks.iter().find(|c| c.addr == address));
    let name = name
        .or_else(|| contended.and_then(|c| c.name.clone()))
        .or_else(|| m.and_then(|m| m.kernel().ok()?.data_symbol(address)));
    let task = |addr: Option<u64>| -> Option<TaskFact> {
        let m = m?;
        let i = *m.index().ok()?.by_addr.get(&addr?)?;
        let t = m.task(i).ok()?;
        Some(TaskFact {
            pid: t.pid.into(),
            tgid: t.tgid.into(),
            comm: t.comm.clone(),
            state: t.state.to_string(),
            stack: None,
        })
    };
    let home = contended.and_then(|c| c.home.as_ref()).map(|h| {
        Box::new(LockHomeFact {
            container: h.container.to_string(),
            member: h.member.to_string(),
            process: task(h.task),
        })
    });
    let st = state
        .cloned()
        .or_else(|| contended.and_then(|c| c.state.clone().ok()));
    let state = st.map(|st| {
        Box::new(LockStateFact {
            locked: st.locked,
            rt: st.rt,
            readers: st.readers.map(|n| n as i64),
            writer_locked: st.writer_locked,
            writer_waiting: st.writer_waiting,
            owner: task(st.owner),
            owner_known: st.owner_recorded,
            queued_writer: task(st.queued_writer),
            waiters: contended
                .map(|c| c.waiters.len())
                .or(st.waiters.as_ref().map(Vec::len))
                .unwrap_or(0) as i64,
            raw: st.raw,
        })
    });
    LockFact {
        address,
        name,
        kind: kind.to_string(),
        home,
        state,
    }
}

/// What a value of the model (a task, a record…) stands for; null when the
/// model cannot read it.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per kind of model value, each naming what it stands for; the arms share nothing but the model"
)]
fn model_fact<'k>(m: &Model<'k>, v: &Value<'k>, depth: u32, unwind: bool) -> Fact {
    let fact = match v {
        Value::Task(i) => m.task(*i).ok().map(|t| {
            // A stack a rule already unwound, or one of a task it shows.
            let stack = (depth <= 1)
                .then(|| match unwind {
                    true => m.stack(*i).ok(),
                    false => m.cached_stack(*i),
                })
                .flatten()
                .map(|s| {
                    s.frames
                        .iter()
                        .filter_map(|f| f.function.clone())
                        .take(STACK)
                        .collect()
                });
            Fact::Task(TaskFact {
                pid: t.pid.into(),
                tgid: t.tgid.into(),
                comm: t.comm.clone(),
                state: t.state.to_string(),
                stack,
            })
        }),
        Value::Record(i) => m.dmesg().ok().and_then(|d| d.get(*i)).map(|r| {
            Fact::Record(RecordFact {
                level: r.level.into(),
                timestamp: r.timestamp_ns as f64 / 1e9,
                text: r.text.clone(),
            })
        }),
        Value::Zone(i) => m.memory().ok().and_then(|mem| mem.zones.get(*i)).map(|z| {
            Fact::Zone(ZoneFact {
                node: z.node.into(),
                name: z.name.clone(),
                free: z.free as i64,
                min: z.min as i64,
                low: z.low as i64,
                high: z.high as i64,
            })
        }),
        Value::Module(i) => m.modules().ok().and_then(|ms| ms.get(*i)).map(|x| {
            Fact::Module(ModuleFact {
                name: x.name.clone(),
                base: x.base,
                size: x.size as i64,
                taints: x.taints as i64,
            })
        }),
        Value::Cpu(i) => m.cpus().ok().and_then(|cs| cs.get(*i)).map(|c| {
            Fact::Cpu(CpuFact {
                id: c.id.into(),
                nr_running: c.nr_running as i64,
            })
        }),
        Value::Frame(t, f) => m.stack(*t).ok().and_then(|s| {
            s.frames.get(*f).map(|fr| {
                Fact::Frame(FrameFact {
                    function: fr.function.clone(),
                    pc: fr.pc,
                    inline: fr.inline,
                })
            })
        }),
        Value::Pool(i) => m.pools().ok().and_then(|ps| ps.get(*i)).map(|p| {
            let mut f = BTreeMap::new();
            f.insert("id".into(), Fact::Int(p.id));
            f.insert(
                "cpu".into(),
                p.cpu.map_or(Fact::Null, |c| Fact::Int(c.into())),
            );
            f.insert("busy".into(), Fact::Int(p.busy.len() as i64));
            f.insert("pending".into(), Fact::Int(p.pending.len() as i64));
            f.insert(
                "stalled_jiffies".into(),
                Fact::Int(p.stalled_jiffies as i64),
            );
            Fact::Map(f)
        }),
        Value::Slab(i) => m.slab_caches().ok().and_then(|cs| cs.get(*i)).map(|c| {
            let mut f = BTreeMap::new();
            f.insert("name".into(), Fact::Text(c.name.clone()));
            f.insert("size".into(), Fact::Int(c.size as i64));
            f.insert(
                "objects".into(),
                c.num_objs.map_or(Fact::Null, |n| Fact::Int(n as i64)),
            );
            Fact::Map(f)
        }),
        // A report in the kernel's words, as one reads it in the log:
        // `general protection fault in f [mod] (kworker/1:1 29, CPU 1)`.
        Value::Report(i) => m.reports().ok().and_then(|(rs, _)| rs.get(*i)).map(|r| {
            let mut t = r.kind.name().to_string();
            if let Some(site) = r.site() {
                t.push_str(&format!(" in {site}"));
            }
            let who = r.task.as_ref().map(|x| format!("{} {}", x.comm, x.pid));
            match (who, r.cpu) {
                (Some(w), Some(c)) => t.push_str(&format!(" ({w}, CPU {c})")),
                (Some(w), None) => t.push_str(&format!(" ({w})")),
                (None, Some(c)) => t.push_str(&format!(" (CPU {c})")),
                (None, None) => {}
            }
            if let Some(msg) = &r.message {
                t.push_str(&format!(": {msg}"));
            }
            Fact::Text(t)
        }),
        // As `ls -l /proc/PID/fd` reads: `3 -> /dev/fuse (fuse_dev_operations [fuse])`.
        Value::File(t, f) => m
            .open_files(*t)
            .ok()
            .and_then(|fs| fs.get(*f).cloned())
            .map(|f| {
                let ops = match (&f.ops, &f.ops_module) {
                    (Some(o), Some(m)) => format!(" ({o} [{m}])"),
                    (Some(o), None) => format!(" ({o})"),
                    _ => String::new(),
                };
                Fact::Text(format!("{} -> {}{ops}", f.fd, f.path))
            }),
        Value::Memcg(i) => m.memcgs().ok().and_then(|cs| cs.get(*i)).map(|c| {
            let mut f = BTreeMap::new();
            f.insert("path".into(), Fact::Text(c.path.clone()));
            f.insert(
                "usage_bytes".into(),
                Fact::Int(c.usage_bytes.min(i64::MAX as u64) as i64),
            );
            f.insert(
                "max_bytes".into(),
                c.max_bytes
                    .map_or(Fact::Null, |b| Fact::Int(b.min(i64::MAX as u64) as i64)),
            );
            f.insert("oom_kills".into(), Fact::Int(c.oom_kills as i64));
            Fact::Map(f)
        }),
        Value::Rcu => m.rcu().ok().map(|r| {
            let mut f = BTreeMap::new();
            f.insert("flavour".into(), Fact::Text(r.flavour.clone()));
            f.insert("gp_running".into(), Fact::Bool(r.gp_in_progress));
            f.insert("gp_age_jiffies".into(), Fact::Int(r.gp_age_jiffies as i64));
            f.insert(
                "waiting_cpus".into(),
                Fact::List(
                    r.waiting_cpus
                        .iter()
                        .map(|&c| Fact::Int(c.into()))
                        .collect(),
                ),
            );
            Fact::Map(f)
        }),
        other => Some(Fact::Text(other.type_name().to_string())),
    };
    fact.unwrap_or(Fact::Null)
}
