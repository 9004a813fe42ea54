//! Evidence as typed values: what a finding shows of the dump (a task with
//! its stack, a lock, a log record, a sample of a list…), built by
//! `render.rs` from the evaluator's values and read by every consumer
//! — the text report, the JSON, the fingerprint, the results database —
//! without guessing a value's kind from its fields.
//!
//! JSON form: numbers, strings, booleans, null and lists are themselves;
//! every other value is an object whose `type` says what it is (`task`,
//! `tasks`, `group`, `lock`, `record`, `zone`, `module`, `cpu`, `frame`,
//! `object`, `map`, `error`). Reading it back gives the same value, so a
//! `Diagnosis` crosses a process boundary or a database row unchanged.
//! Databases written before evidence had a `type` hold untagged objects:
//! [`Fact::from_json`] reads those by their fields (the only place that
//! looks at fields to tell a kind, and only for such old rows).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Map, Value as Json};

/// A task as evidence: who it is, its state, and its stack's functions
/// when a rule unwound it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFact {
    pub pid: i64,
    pub tgid: i64,
    pub comm: String,
    /// The /proc state letter (`D`, `R`, …).
    pub state: String,
    /// The innermost functions of its stack, innermost first.
    pub stack: Option<Vec<String>>,
}

/// A lock: its address, the global it is (if any), its kind, and where the
/// model read them, the object it is a member of and its state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockFact {
    pub address: u64,
    pub name: Option<String>,
    pub kind: String,
    /// For a lock that is no global: the object it is a member of.
    pub home: Option<Box<LockHomeFact>>,
    /// Its state, where the model read it.
    pub state: Option<Box<LockStateFact>>,
}

/// The object a lock is a member of (`mm_struct.mmap_lock` of a process).
#[derive(Debug, Clone, PartialEq)]
pub struct LockHomeFact {
    pub container: String,
    pub member: String,
    /// The process it belongs to (its thread-group leader).
    pub process: Option<TaskFact>,
}

/// A lock's state as the kernel model reads it (null fields: the kind
/// records no such thing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockStateFact {
    pub locked: bool,
    /// Built on rt_mutex / rwbase_rt (PREEMPT_RT).
    pub rt: bool,
    pub readers: Option<i64>,
    pub writer_locked: Option<bool>,
    pub writer_waiting: Option<bool>,
    /// The owner, where the kernel records one.
    pub owner: Option<TaskFact>,
    /// Whether the kind records an owner at all (false: unknown, not free).
    pub owner_known: bool,
    /// PREEMPT_RT reader-writer locks: the writer first in line.
    pub queued_writer: Option<TaskFact>,
    /// Tasks waiting for it.
    pub waiters: i64,
    /// The raw lock word.
    pub raw: u64,
}

/// A kernel log record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFact {
    pub level: i64,
    /// Seconds since boot.
    pub timestamp: f64,
    pub text: String,
}

/// A memory zone and its watermarks, in pages.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneFact {
    pub node: i64,
    pub name: String,
    pub free: i64,
    pub min: i64,
    pub low: i64,
    pub high: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModuleFact {
    pub name: String,
    pub base: u64,
    pub size: i64,
    pub taints: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CpuFact {
    pub id: i64,
    pub nr_running: i64,
}

/// One frame of a stack.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameFact {
    pub function: Option<String>,
    pub pc: u64,
    pub inline: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Fact>),
    /// A list holding tasks: how many, and the first few.
    Tasks {
        count: usize,
        sample: Vec<Fact>,
    },
    /// One group of `group … by …`: its key, its size and the first few;
    /// `by`: the key's name where the rule gave one (`… by tgid as process`).
    Group {
        key: Box<Fact>,
        count: usize,
        sample: Vec<Fact>,
        by: Option<String>,
    },
    Task(TaskFact),
    Lock(LockFact),
    Record(RecordFact),
    Zone(ZoneFact),
    Module(ModuleFact),
    Cpu(CpuFact),
    Frame(FrameFact),
    /// A kernel object that is no scalar: its C type and address.
    Object {
        ctype: String,
        address: u64,
    },
    /// Named fields (a lock's state, a helper's map).
    Map(BTreeMap<String, Fact>),
    /// The evidence expression failed on this dump.
    Error(String),
}

impl TaskFact {
    /// The task named in a sentence: `storm (113)`.
    pub fn mention(&self) -> String {
        format!("{} ({})", self.comm, self.pid)
    }
}

/// A lock kind by its kernel type's name (`rw_semaphore`, not `rwsem`);
/// a kind the model does not know is said as it came.
pub fn kind_word(kind: &str) -> &str {
    match kmodel::locks::LockKind::from_name(kind) {
        Some(k) => k.type_word(),
        None => kind,
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl LockFact {
    /// The lock named as a kernel engineer names it: its kind and the
    /// global it is (`rwlock tasklist_lock`), else the object it is a
    /// member of (`rw_semaphore mm_struct.mmap_lock of faulter (100)`),
    /// else its address (`mutex at 0xffff…`).
    pub fn ident(&self) -> String {
        let kind = kind_word(&self.kind);
        match (&self.name, &self.home) {
            (Some(n), _) => format!("{kind} {n}"),
            (None, Some(h)) => {
                let of = h
                    .process
                    .as_ref()
                    .map(|p| format!(" of {}", p.mention()))
                    .unwrap_or_default();
                format!("{kind} {}.{}{of}", h.container, h.member)
            }
            (None, None) => format!("{kind} at {:#x}", self.address),
        }
    }

    /// Its state in words, or None when the model did not read it:
    /// `1 reader, writer waiting, 3 waiters`, `held by dl_ab (145), 2 waiters`.
    pub fn state_words(&self) -> Option<String> {
        let st = self.state.as_ref()?;
        let mut parts = Vec::new();
        if !st.locked {
            parts.push("unlocked".into());
        }
        if let Some(n) = st.readers.filter(|n| *n > 0) {
            parts.push(plural(n, "reader", "readers"));
        }
        match (&st.owner, st.writer_locked) {
            (Some(o), _) => parts.push(format!("held by {}", o.mention())),
            (None, Some(true)) => parts.push("write-locked".into()),
            _ => {}
        }
        if st.locked
            && st.owner.is_none()
            && st.readers.unwrap_or(0) == 0
            && st.writer_locked != Some(true)
        {
            parts.push(
                if st.owner_known {
                    "held"
                } else {
                    "held, owner not recorded"
                }
                .into(),
            );
        }
        if st.writer_waiting == Some(true) {
            parts.push("writer waiting".into());
        }
        if let Some(w) = &st.queued_writer {
            parts.push(format!("first writer in line {}", w.mention()));
        }
        if st.waiters > 0 {
            parts.push(plural(st.waiters, "waiter", "waiters"));
        }
        Some(parts.join(", "))
    }

    /// One line: `rwlock tasklist_lock: 1 reader, writer waiting, 3 waiters`
    /// (`PREEMPT_RT rwlock tasklist_lock: …` on an RT kernel).
    pub fn line(&self) -> String {
        let rt = if self.state.as_ref().is_some_and(|s| s.rt) {
            "PREEMPT_RT "
        } else {
            ""
        };
        match self.state_words() {
            Some(s) if !s.is_empty() => format!("{rt}{}: {s}", self.ident()),
            _ => format!("{rt}{}", self.ident()),
        }
    }
}

fn hex(a: u64) -> String {
    format!("{a:#x}")
}

fn unhex(v: Option<&Json>) -> u64 {
    v.and_then(Json::as_str)
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

fn int(v: Option<&Json>) -> i64 {
    v.and_then(Json::as_i64).unwrap_or(0)
}

fn string(v: Option<&Json>) -> String {
    v.and_then(Json::as_str).unwrap_or("").to_string()
}

fn facts(v: Option<&Json>) -> Vec<Fact> {
    v.and_then(Json::as_array)
        .map(|a| a.iter().map(Fact::from_json).collect())
        .unwrap_or_default()
}

fn task_json(t: &TaskFact) -> Json {
    let mut j =
        json!({"type": "task", "pid": t.pid, "tgid": t.tgid, "comm": t.comm, "state": t.state});
    if let Some(s) = &t.stack {
        j["stack"] = json!(s);
    }
    j
}

fn task_of(v: Option<&Json>) -> Option<TaskFact> {
    match v.map(Fact::from_json) {
        Some(Fact::Task(t)) => Some(t),
        _ => None,
    }
}

impl Fact {
    /// The JSON form (see the module's documentation).
    pub fn to_json(&self) -> Json {
        let list = |v: &[Fact]| Json::Array(v.iter().map(Fact::to_json).collect());
        match self {
            Fact::Null => Json::Null,
            Fact::Bool(b) => json!(b),
            Fact::Int(i) => json!(i),
            Fact::Float(f) => json!(f),
            Fact::Text(s) => json!(s),
            Fact::List(v) => list(v),
            Fact::Tasks { count, sample } => {
                json!({"type": "tasks", "count": count, "sample": list(sample)})
            }
            Fact::Group {
                key,
                count,
                sample,
                by,
            } => {
                let mut j = json!({"type": "group", "key": key.to_json(), "count": count, "sample": list(sample)});
                if let Some(b) = by {
                    j["by"] = json!(b);
                }
                j
            }
            Fact::Task(t) => task_json(t),
            Fact::Lock(l) => {
                let mut j = json!({"type": "lock", "address": hex(l.address), "name": l.name, "kind": l.kind});
                if let Some(h) = &l.home {
                    j["home"] = json!({"container": h.container, "member": h.member,
                        "process": h.process.as_ref().map(task_json)});
                }
                if let Some(st) = &l.state {
                    j["state"] = json!({"locked": st.locked, "rt": st.rt, "readers": st.readers,
                        "writer_locked": st.writer_locked, "writer_waiting": st.writer_waiting,
                        "owner": st.owner.as_ref().map(task_json), "owner_known": st.owner_known,
                        "queued_writer": st.queued_writer.as_ref().map(task_json),
                        "waiters": st.waiters, "raw": hex(st.raw)});
                }
                j
            }
            Fact::Record(r) => {
                json!({"type": "record", "level": r.level, "timestamp": r.timestamp, "text": r.text})
            }
            Fact::Zone(z) => json!({"type": "zone", "node": z.node, "name": z.name,
                "free": z.free, "min": z.min, "low": z.low, "high": z.high}),
            Fact::Module(m) => json!({"type": "module", "name": m.name, "base": hex(m.base),
                "size": m.size, "taints": m.taints}),
            Fact::Cpu(c) => json!({"type": "cpu", "id": c.id, "nr_running": c.nr_running}),
            Fact::Frame(f) => {
                json!({"type": "frame", "function": f.function, "pc": hex(f.pc), "inline": f.inline})
            }
            Fact::Object { ctype, address } => {
                json!({"type": "object", "ctype": ctype, "address": hex(*address)})
            }
            Fact::Map(m) => {
                let fields: Map<String, Json> =
                    m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                json!({"type": "map", "fields": fields})
            }
            Fact::Error(e) => json!({"type": "error", "error": e}),
        }
    }

    /// Reads the JSON form back; an object without a known `type` is a row
    /// of a database written before evidence was typed.
    pub fn from_json(v: &Json) -> Fact {
        let o = match v {
            Json::Null => return Fact::Null,
            Json::Bool(b) => return Fact::Bool(*b),
            Json::Number(n) => {
                return n
                    .as_i64()
                    .map(Fact::Int)
                    .unwrap_or_else(|| Fact::Float(n.as_f64().unwrap_or(0.0)))
            }
            Json::String(s) => return Fact::Text(s.clone()),
            Json::Array(a) => return Fact::List(a.iter().map(Fact::from_json).collect()),
            Json::Object(o) => o,
        };
        let count = || o.get("count").and_then(Json::as_u64).unwrap_or(0) as usize;
        match o.get("type").and_then(Json::as_str) {
            Some("task") => Fact::Task(TaskFact {
                pid: int(o.get("pid")),
                tgid: int(o.get("tgid")),
                comm: string(o.get("comm")),
                state: string(o.get("state")),
                stack: o.get("stack").and_then(Json::as_array).map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_string))
                        .collect()
                }),
            }),
            Some("tasks") => Fact::Tasks {
                count: count(),
                sample: facts(o.get("sample")),
            },
            Some("group") => Fact::Group {
                key: Box::new(o.get("key").map(Fact::from_json).unwrap_or(Fact::Null)),
                count: count(),
                sample: facts(o.get("sample")),
                by: o.get("by").and_then(Json::as_str).map(str::to_string),
            },
            Some("lock") => Fact::Lock(LockFact {
                address: unhex(o.get("address")),
                name: o.get("name").and_then(Json::as_str).map(str::to_string),
                kind: string(o.get("kind")),
                home: o.get("home").and_then(Json::as_object).map(|h| {
                    Box::new(LockHomeFact {
                        container: string(h.get("container")),
                        member: string(h.get("member")),
                        process: task_of(h.get("process")),
                    })
                }),
                state: o.get("state").and_then(Json::as_object).map(|st| {
                    let flag = |k: &str| st.get(k).and_then(Json::as_bool);
                    Box::new(LockStateFact {
                        locked: flag("locked").unwrap_or(false),
                        rt: flag("rt").unwrap_or(false),
                        readers: st.get("readers").and_then(Json::as_i64),
                        writer_locked: flag("writer_locked"),
                        writer_waiting: flag("writer_waiting"),
                        owner: task_of(st.get("owner")),
                        owner_known: flag("owner_known").unwrap_or(false),
                        queued_writer: task_of(st.get("queued_writer")),
                        waiters: int(st.get("waiters")),
                        raw: unhex(st.get("raw")),
                    })
                }),
            }),
            Some("record") => Fact::Record(RecordFact {
                level: int(o.get("level")),
                timestamp: o.get("timestamp").and_then(Json::as_f64).unwrap_or(0.0),
                text: string(o.get("text")),
            }),
            Some("zone") => Fact::Zone(ZoneFact {
                node: int(o.get("node")),
                name: string(o.get("name")),
                free: int(o.get("free")),
                min: int(o.get("min")),
                low: int(o.get("low")),
                high: int(o.get("high")),
            }),
            Some("module") => Fact::Module(ModuleFact {
                name: string(o.get("name")),
                base: unhex(o.get("base")),
                size: int(o.get("size")),
                taints: int(o.get("taints")),
            }),
            Some("cpu") => Fact::Cpu(CpuFact {
                id: int(o.get("id")),
                nr_running: int(o.get("nr_running")),
            }),
            Some("frame") => Fact::Frame(FrameFact {
                function: o.get("function").and_then(Json::as_str).map(str::to_string),
                pc: unhex(o.get("pc")),
                inline: o.get("inline").and_then(Json::as_bool).unwrap_or(false),
            }),
            Some("object") => Fact::Object {
                ctype: string(o.get("ctype")),
                address: unhex(o.get("address")),
            },
            Some("map") => Fact::Map(
                o.get("fields")
                    .and_then(Json::as_object)
                    .map(|f| {
                        f.iter()
                            .map(|(k, v)| (k.clone(), Fact::from_json(v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Some("error") => Fact::Error(string(o.get("error"))),
            _ => Fact::from_untyped(o),
        }
    }

    /// An object of a database written before evidence had a `type`: its
    /// kind as the renderer of that time made it (tasks had `pid` and
    /// `comm`, samples `count` and `sample`, log records `text` and
    /// `timestamp`, kernel objects exactly `type` and `address`).
    fn from_untyped(o: &Map<String, Json>) -> Fact {
        let has = |k: &str| o.contains_key(k);
        let mut typed = o.clone();
        let tag = if has("pid") && has("comm") {
            "task"
        } else if has("count") && has("sample") {
            if has("key") {
                "group"
            } else {
                "tasks"
            }
        } else if has("text") && has("timestamp") {
            "record"
        } else if o.len() == 1 && has("error") {
            "error"
        } else if o.len() == 2 && has("type") && has("address") {
            typed.insert("ctype".into(), o["type"].clone());
            "object"
        } else {
            return Fact::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Fact::from_json(v)))
                    .collect(),
            );
        };
        typed.insert("type".into(), json!(tag));
        Fact::from_json(&Json::Object(typed))
    }
}

impl Serialize for Fact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Fact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fact, D::Error> {
        Ok(Fact::from_json(&Json::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn every_kind() -> Vec<Fact> {
        let task = Fact::Task(TaskFact {
            pid: 812,
            tgid: 812,
            comm: "kworker/1:2".into(),
            state: "D".into(),
            stack: Some(vec!["__schedule".into(), "schedule".into()]),
        });
        vec![
            Fact::Null,
            Fact::Bool(true),
            Fact::Int(-3),
            Fact::Float(12.5),
            Fact::Text("6.1.0".into()),
            Fact::List(vec![Fact::Int(1), Fact::Text("a".into())]),
            Fact::Tasks {
                count: 4,
                sample: vec![task.clone()],
            },
            Fact::Group {
                key: Box::new(Fact::Text("mmap_lock".into())),
                count: 2,
                sample: vec![task.clone()],
                by: None,
            },
            Fact::Group {
                key: Box::new(Fact::Int(105)),
                count: 636,
                sample: vec![task.clone()],
                by: Some("process".into()),
            },
            task,
            Fact::Lock(LockFact {
                address: 0xffff888003a1c040,
                name: None,
                kind: "mutex".into(),
                home: None,
                state: None,
            }),
            Fact::Lock(LockFact {
                address: 0xffff888003a1c040,
                name: None,
                kind: "rwsem".into(),
                home: Some(Box::new(LockHomeFact {
                    container: "mm_struct".into(),
                    member: "mmap_lock".into(),
                    process: Some(TaskFact {
                        pid: 100,
                        tgid: 100,
                        comm: "faulter".into(),
                        state: "S".into(),
                        stack: None,
                    }),
                })),
                state: Some(Box::new(LockStateFact {
                    locked: true,
                    rt: false,
                    readers: Some(1),
                    writer_locked: Some(false),
                    writer_waiting: Some(true),
                    owner: None,
                    owner_known: true,
                    queued_writer: None,
                    waiters: 7,
                    raw: 0x102,
                })),
            }),
            Fact::Record(RecordFact {
                level: 0,
                timestamp: 1.25,
                text: "panic".into(),
            }),
            Fact::Zone(ZoneFact {
                node: 0,
                name: "Normal".into(),
                free: 1,
                min: 2,
                low: 3,
                high: 4,
            }),
            Fact::Module(ModuleFact {
                name: "scen".into(),
                base: 0xffffffffc0000000,
                size: 4096,
                taints: 0,
            }),
            Fact::Cpu(CpuFact {
                id: 1,
                nr_running: 2,
            }),
            Fact::Frame(FrameFact {
                function: Some("mutex_lock".into()),
                pc: 0xffffffff81000000,
                inline: true,
            }),
            Fact::Object {
                ctype: "struct mutex".into(),
                address: 0x1000,
            },
            Fact::Map(BTreeMap::from([
                ("type".to_string(), Fact::Text("a field named type".into())),
                ("pid".to_string(), Fact::Int(1)),
                ("comm".to_string(), Fact::Text("not a task".into())),
            ])),
            Fact::Error("no task #7".into()),
        ]
    }

    #[test]
    fn every_kind_reads_back_as_itself() {
        for f in every_kind() {
            let text = serde_json::to_string(&f).unwrap();
            let back: Fact = serde_json::from_str(&text).unwrap();
            assert_eq!(back, f, "{text}");
        }
    }

    #[test]
    fn rows_written_before_types_read_as_their_kind() {
        let old = json!([
            {"pid": 9, "tgid": 9, "comm": "init", "state": "S", "stack": ["do_wait"]},
            {"count": 3, "sample": []},
            {"key": "k", "count": 3, "sample": []},
            {"level": 4, "timestamp": 2.0, "text": "oops"},
            {"error": "no task #7"},
            {"type": "struct mutex", "address": "0x1000"},
            {"address": "0x10", "name": null, "kind": "mutex"},
        ]);
        let Fact::List(v) = Fact::from_json(&old) else {
            panic!("a list")
        };
        let kinds: Vec<&str> = v
            .iter()
            .map(|f| match f {
                Fact::Task(t) if t.stack.as_deref() == Some(&["do_wait".to_string()][..]) => "task",
                Fact::Tasks { count: 3, .. } => "tasks",
                Fact::Group { count: 3, .. } => "group",
                Fact::Record(r) if r.text == "oops" => "record",
                Fact::Error(_) => "error",
                Fact::Object {
                    address: 0x1000, ..
                } => "object",
                Fact::Map(_) => "map",
                _ => "?",
            })
            .collect();
        assert_eq!(
            kinds,
            ["task", "tasks", "group", "record", "error", "object", "map"]
        );
    }
}
