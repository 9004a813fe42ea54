//! A stable fingerprint per finding: the rule id plus the part of the
//! evidence that identifies the problem (function chains, task names,
//! lock names, log text), without what changes between two occurrences of
//! the same problem (pids, addresses, counts, timestamps, CPU numbers).
//!
//! The evidence JSON is canonicalised:
//! - numbers and booleans are dropped (counts, pids, lock words, jiffies);
//! - keys that hold instance data (`pid`, `tgid`, `cpu`, `address`,
//!   `timestamp`, `count`, …) are dropped;
//! - in strings, hex addresses become `ADDR`, `+0x…/0x…` offsets are cut
//!   and runs of digits become `#` (`kworker/1:2` → `kworker/#:#`);
//! - a task keeps its comm, state and its stack's function chain;
//! - lists are sorted and deduplicated, so the order of a sample does not
//!   matter.
//!
//! Two dumps with the same fingerprint show the same problem the same way:
//! they group together as a crash-bucketing system groups crashes.

use serde_json::Value;
use sha2::{Digest, Sha256};

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

/// The canonical text of an evidence value (None: nothing identifying).
pub fn canonical(v: &Value) -> Option<String> {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
        Value::String(s) => {
            let m = mask(s);
            (!m.is_empty()).then_some(m)
        }
        Value::Array(a) => {
            let mut items: Vec<String> = a.iter().filter_map(canonical).collect();
            items.sort();
            items.dedup();
            (!items.is_empty()).then(|| format!("[{}]", items.join(", ")))
        }
        Value::Object(o) => {
            // A task: comm, state and the function chain are what identifies it.
            if o.contains_key("pid") && o.contains_key("comm") {
                let mut s = format!(
                    "{} [{}]",
                    mask(o.get("comm").and_then(|c| c.as_str()).unwrap_or("")),
                    o.get("state").and_then(|c| c.as_str()).unwrap_or("")
                );
                if let Some(st) = o.get("stack").and_then(|x| x.as_array()) {
                    let fns: Vec<String> = st
                        .iter()
                        .filter_map(|f| f.as_str())
                        .map(|f| mask(f.split('+').next().unwrap_or(f)))
                        .collect();
                    if !fns.is_empty() {
                        s += &format!(" {}", fns.join(" < "));
                    }
                }
                return Some(s);
            }
            let mut parts = Vec::new();
            for (k, x) in o {
                if DROPPED_KEYS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(c) = canonical(x) {
                    parts.push(format!("{k}={c}"));
                }
            }
            (!parts.is_empty()).then(|| format!("{{{}}}", parts.join(" ")))
        }
    }
}

/// The fingerprint of a finding: 16 hex digits of SHA-256 over the rule id and
/// the canonical evidence, and the canonical text (a readable bucket label).
pub fn fingerprint(rule: &str, evidence: &[(String, Value)]) -> (String, String) {
    let mut text = String::new();
    for (name, v) in evidence {
        if let Some(c) = canonical(v) {
            if !text.is_empty() {
                text += "; ";
            }
            text += &format!("{name}: {c}");
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

    #[test]
    fn pids_and_addresses_do_not_matter() {
        let a = vec![
            (
                "parent".to_string(),
                json!({"pid": 812, "tgid": 812, "comm": "stress", "state": "S",
                   "stack": ["__schedule+0x2f3/0x8a0", "do_wait", "kernel_wait4"]}),
            ),
            (
                "lock".to_string(),
                json!({"address": "0xffffffff82a0b040", "cnts": 513}),
            ),
        ];
        let b = vec![
            (
                "parent".to_string(),
                json!({"pid": 1904, "tgid": 1904, "comm": "stress", "state": "S",
                   "stack": ["__schedule+0x11/0x8a0", "do_wait", "kernel_wait4"]}),
            ),
            (
                "lock".to_string(),
                json!({"address": "0xffffffff9aa0b040", "cnts": 257}),
            ),
        ];
        assert_eq!(
            fingerprint("LOCK-0001", &a).0,
            fingerprint("LOCK-0001", &b).0
        );
        assert_ne!(
            fingerprint("LOCK-0001", &a).0,
            fingerprint("LOCK-0002", &a).0
        );
        let c = vec![(
            "parent".to_string(),
            json!({"pid": 1, "comm": "stress", "state": "S", "stack": ["__schedule", "do_exit"]}),
        )];
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

    /// Evidence of every shape the engine renders, as the JSON of databases
    /// written so far: the fingerprints users keep must not change.
    pub(super) fn samples() -> Vec<(String, Value)> {
        let task = json!({"pid": 812, "tgid": 812, "comm": "kworker/1:2", "state": "D",
            "stack": ["__schedule", "schedule", "rwsem_down_write_slowpath"]});
        let bare = json!({"pid": 9, "tgid": 9, "comm": "init", "state": "S"});
        vec![
            ("task".into(), task.clone()),
            (
                "tasks".into(),
                json!({"count": 4, "sample": [task.clone(), bare.clone()]}),
            ),
            (
                "group".into(),
                json!({"key": "mmap_lock", "count": 3, "sample": [bare.clone()]}),
            ),
            (
                "lock".into(),
                json!({"address": "0xffff888003a1c040", "name": "tasklist_lock", "kind": "rwlock"}),
            ),
            (
                "anon".into(),
                json!({"address": "0xffff888003a1c040", "name": null, "kind": "mutex"}),
            ),
            (
                "record".into(),
                json!({"level": 0, "timestamp": 12.5, "text": "Kernel panic - not syncing: sysrq at 0x10"}),
            ),
            (
                "zone".into(),
                json!({"node": 0, "name": "Normal", "free": 10, "min": 2, "low": 3, "high": 4}),
            ),
            (
                "module".into(),
                json!({"name": "scenario", "base": "0xffffffffc0000000", "size": 4096, "taints": 4096}),
            ),
            ("cpu".into(), json!({"id": 1, "nr_running": 2})),
            (
                "frame".into(),
                json!({"function": "mutex_lock", "pc": "0xffffffff81000000", "inline": false}),
            ),
            (
                "object".into(),
                json!({"type": "struct mutex", "address": "0xffff888003a1c040"}),
            ),
            (
                "map".into(),
                json!({"owner": bare, "readers": 2, "writer_locked": true}),
            ),
            ("error".into(), json!({"error": "no task #7"})),
            ("text".into(), json!("6.1.0-13-amd64")),
            (
                "records".into(),
                json!([{"level": 4, "timestamp": 1.0, "text": "a 1"}, {"level": 4, "timestamp": 2.0, "text": "b"}]),
            ),
            ("number".into(), json!(42)),
        ]
    }

    #[test]
    fn fingerprints_stay_what_databases_hold() {
        let all: Vec<String> = samples()
            .into_iter()
            .map(|e| {
                let (fp, label) = fingerprint("RULE-0001", &[e.clone()]);
                format!("{} {fp} {label}", e.0)
            })
            .collect();
        let (fp, _) = fingerprint("RULE-0001", &samples());
        insta::assert_snapshot!(format!("{}\nall {fp}", all.join("\n")));
    }
}
