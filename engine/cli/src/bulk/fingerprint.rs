//! A stable fingerprint per finding: the rule id plus the part of the
//! evidence that identifies the problem (function chains, task names,
//! lock names, log text), without what changes between two occurrences of
//! the same problem (pids, addresses, counts, timestamps, CPU numbers).
//!
//! The evidence is canonicalised by kind:
//! - numbers and booleans are dropped (counts, pids, lock words, jiffies);
//! - fields that hold instance data (`pid`, `tgid`, `cpu`, `address`,
//!   `timestamp`, `count`, …) are dropped;
//! - in strings, hex addresses become `ADDR`, `+0x…/0x…` offsets are cut
//!   and runs of digits become `#` (`kworker/1:2` → `kworker/#:#`);
//! - a task keeps its comm, state and its stack's function chain;
//! - lists are sorted and deduplicated, so the order of a sample does not
//!   matter.
//!
//! The text is what it was when evidence was JSON without types (fields
//! in name order), so the fingerprints in databases written then stay.
//!
//! Two dumps with the same fingerprint show the same problem the same way:
//! they group together as a crash-bucketing system groups crashes.

use sha2::{Digest, Sha256};
use vmtriage_rules::evidence::{Fact, TaskFact};
use vmtriage_rules::Evidence;

const DROPPED_KEYS: &[&str] = &[
    "pid",
    "tgid",
    "ppid",
    "cpu",
    "address",
    "addr",
    "timestamp",
    "count",
    "counter",
    "jiffies",
    "uptime",
    "seq",
    "pc",
    "sp",
];

/// Masks instance data in a string.
pub fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' && s[i..].starts_with("+0x") {
            // a `+0x1a/0x40` offset after a function name
            i += 1;
            while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b'x' || b[i] == b'/') {
                i += 1;
            }
            continue;
        }
        if c == b'0' && i + 1 < b.len() && b[i + 1] == b'x' {
            i += 2;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            out.push_str("ADDR");
            continue;
        }
        if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            out.push('#');
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn text(s: &str) -> Option<String> {
    let m = mask(s);
    (!m.is_empty()).then_some(m)
}

/// `{name=value …}` of the fields that say something, in name order.
fn fields<'a>(parts: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Option<String> {
    let mut parts: Vec<(&str, String)> = parts
        .into_iter()
        .filter(|(k, _)| !DROPPED_KEYS.contains(k))
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    parts.sort();
    let parts: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    (!parts.is_empty()).then(|| format!("{{{}}}", parts.join(" ")))
}

fn list(items: &[Fact]) -> Option<String> {
    let mut items: Vec<String> = items.iter().filter_map(canonical).collect();
    items.sort();
    items.dedup();
    (!items.is_empty()).then(|| format!("[{}]", items.join(", ")))
}

/// A task: comm, state and the function chain are what identifies it.
fn task(t: &TaskFact) -> String {
    let mut s = format!("{} [{}]", mask(&t.comm), t.state);
    let fns: Vec<String> = t
        .stack
        .iter()
        .flatten()
        .map(|f| mask(f.split('+').next().unwrap_or(f)))
        .collect();
    if !fns.is_empty() {
        s += &format!(" {}", fns.join(" < "));
    }
    s
}

/// The canonical text of an evidence value (None: nothing identifying).
pub fn canonical(v: &Fact) -> Option<String> {
    let hex = |a: u64| text(&format!("{a:#x}"));
    match v {
        Fact::Null | Fact::Bool(_) | Fact::Int(_) | Fact::Float(_) | Fact::Cpu(_) => None,
        Fact::Text(s) => text(s),
        Fact::List(items) => list(items),
        Fact::Task(t) => Some(task(t)),
        Fact::Tasks { sample, .. } => fields([("sample", list(sample))]),
        Fact::Group { key, sample, .. } => {
            fields([("key", canonical(key)), ("sample", list(sample))])
        }
        Fact::Lock(l) => fields([
            ("kind", text(&l.kind)),
            ("name", l.name.as_deref().and_then(text)),
        ]),
        Fact::Record(r) => fields([("text", text(&r.text))]),
        Fact::Zone(z) => fields([("name", text(&z.name))]),
        Fact::Module(m) => fields([("base", hex(m.base)), ("name", text(&m.name))]),
        Fact::Frame(f) => fields([("function", f.function.as_deref().and_then(text))]),
        Fact::Object { ctype, .. } => fields([("type", text(ctype))]),
        Fact::Map(m) => fields(m.iter().map(|(k, x)| (k.as_str(), canonical(x)))),
        Fact::Error(e) => fields([("error", text(e))]),
    }
}

/// The fingerprint of a finding: 16 hex digits of SHA-256 over the rule id and
/// the canonical evidence, and the canonical text (a readable bucket label).
pub fn fingerprint(rule: &str, evidence: &[Evidence]) -> (String, String) {
    let mut text = String::new();
    for e in evidence {
        if let Some(c) = canonical(&e.value) {
            if !text.is_empty() {
                text += "; ";
            }
            text += &format!("{}: {c}", e.name);
        }
    }
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let d = h.finalize();
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    (hex, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Evidence as a database row holds it (`[name, value]` pairs).
    pub(super) fn row(pairs: serde_json::Value) -> Vec<Evidence> {
        serde_json::from_value::<Vec<(String, Fact)>>(pairs)
            .unwrap()
            .into_iter()
            .map(|(name, value)| Evidence { name, value })
            .collect()
    }

    #[test]
    fn pids_and_addresses_do_not_matter() {
        let a = row(json!([
            ["parent", {"type": "task", "pid": 812, "tgid": 812, "comm": "stress", "state": "S",
                "stack": ["__schedule+0x2f3/0x8a0", "do_wait", "kernel_wait4"]}],
            ["lock", {"type": "map", "fields": {"address": "0xffffffff82a0b040", "cnts": 513}}],
        ]));
        let b = row(json!([
            ["parent", {"type": "task", "pid": 1904, "tgid": 1904, "comm": "stress", "state": "S",
                "stack": ["__schedule+0x11/0x8a0", "do_wait", "kernel_wait4"]}],
            ["lock", {"type": "map", "fields": {"address": "0xffffffff9aa0b040", "cnts": 257}}],
        ]));
        assert_eq!(
            fingerprint("LOCK-0001", &a).0,
            fingerprint("LOCK-0001", &b).0
        );
        assert_ne!(
            fingerprint("LOCK-0001", &a).0,
            fingerprint("LOCK-0002", &a).0
        );
        let c = row(
            json!([["parent", {"type": "task", "pid": 1, "comm": "stress", "state": "S",
            "stack": ["__schedule", "do_exit"]}]]),
        );
        assert_ne!(
            fingerprint("LOCK-0001", &a).0,
            fingerprint("LOCK-0001", &c).0
        );
    }

    #[test]
    fn masking() {
        assert_eq!(mask("kworker/1:2"), "kworker/#:#");
        assert_eq!(mask("at 0xffff8880 in foo+0x1a/0x40"), "at ADDR in foo");
        assert_eq!(
            mask("watchdog: BUG: soft lockup - CPU#1 stuck for 22s!"),
            "watchdog: BUG: soft lockup - CPU## stuck for #s!"
        );
    }
}

#[cfg(test)]
mod stable {
    use super::*;
    use serde_json::json;
    use vmtriage_rules::evidence::{CpuFact, FrameFact, LockFact, ModuleFact, ZoneFact};

    /// Evidence of every shape the engine renders, as the JSON of databases
    /// written before evidence had types: the fingerprints users keep.
    fn untyped() -> serde_json::Value {
        let task = json!({"pid": 812, "tgid": 812, "comm": "kworker/1:2", "state": "D",
            "stack": ["__schedule", "schedule", "rwsem_down_write_slowpath"]});
        let bare = json!({"pid": 9, "tgid": 9, "comm": "init", "state": "S"});
        json!([
            ["task", task.clone()],
            ["tasks", {"count": 4, "sample": [task.clone(), bare.clone()]}],
            ["group", {"key": "mmap_lock", "count": 3, "sample": [bare.clone()]}],
            ["lock", {"address": "0xffff888003a1c040", "name": "tasklist_lock", "kind": "rwlock"}],
            ["anon", {"address": "0xffff888003a1c040", "name": null, "kind": "mutex"}],
            ["record", {"level": 0, "timestamp": 12.5, "text": "Kernel panic - not syncing: sysrq at 0x10"}],
            ["zone", {"node": 0, "name": "Normal", "free": 10, "min": 2, "low": 3, "high": 4}],
            ["module", {"name": "scenario", "base": "0xffffffffc0000000", "size": 4096, "taints": 4096}],
            ["cpu", {"id": 1, "nr_running": 2}],
            ["frame", {"function": "mutex_lock", "pc": "0xffffffff81000000", "inline": false}],
            ["object", {"type": "struct mutex", "address": "0xffff888003a1c040"}],
            ["map", {"owner": bare, "readers": 2, "writer_locked": true}],
            ["error", {"error": "no task #7"}],
            ["text", "6.1.0-13-amd64"],
            ["records", [{"level": 4, "timestamp": 1.0, "text": "a 1"}, {"level": 4, "timestamp": 2.0, "text": "b"}]],
            ["number", 42],
        ])
    }

    /// The same evidence as the renderer makes it now: the old rows read
    /// back typed, the kinds those rows could not tell apart from a map
    /// (locks, zones, modules, CPUs, frames) as what they are.
    fn typed() -> Vec<Evidence> {
        let mut v = tests::row(untyped());
        let lock = |name: Option<&str>, kind: &str| {
            Fact::Lock(LockFact {
                address: 0xffff888003a1c040,
                name: name.map(str::to_string),
                kind: kind.into(),
                ..Default::default()
            })
        };
        for e in &mut v {
            e.value = match e.name.as_str() {
                "lock" => lock(Some("tasklist_lock"), "rwlock"),
                "anon" => lock(None, "mutex"),
                "zone" => Fact::Zone(ZoneFact {
                    node: 0,
                    name: "Normal".into(),
                    free: 10,
                    min: 2,
                    low: 3,
                    high: 4,
                }),
                "module" => Fact::Module(ModuleFact {
                    name: "scenario".into(),
                    base: 0xffffffffc0000000,
                    size: 4096,
                    taints: 4096,
                }),
                "cpu" => Fact::Cpu(CpuFact {
                    id: 1,
                    nr_running: 2,
                }),
                "frame" => Fact::Frame(FrameFact {
                    function: Some("mutex_lock".into()),
                    pc: 0xffffffff81000000,
                    inline: false,
                }),
                _ => continue,
            };
        }
        v
    }

    fn table(evidence: &[Evidence]) -> String {
        let all: Vec<String> = evidence
            .iter()
            .map(|e| {
                let (fp, label) = fingerprint("RULE-0001", std::slice::from_ref(e));
                format!("{} {fp} {label}", e.name)
            })
            .collect();
        let (fp, _) = fingerprint("RULE-0001", evidence);
        format!("{}\nall {fp}", all.join("\n"))
    }

    #[test]
    fn fingerprints_stay_what_databases_hold() {
        let typed = typed();
        assert!(typed
            .iter()
            .all(|e| !matches!(e.value, Fact::Map(_)) || e.name == "map"));
        insta::assert_snapshot!("fingerprints_stay_what_databases_hold", table(&typed));
        // Rows written before types read back to the same fingerprints.
        insta::assert_snapshot!(
            "fingerprints_stay_what_databases_hold",
            table(&tests::row(untyped()))
        );
    }
}
