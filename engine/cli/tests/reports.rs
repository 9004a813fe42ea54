//! The text report of every corpus diagnosis, as `vmtriage scan` prints it:
//! one snapshot per scenario and kernel series (its ELF dump), to read as a
//! kernel engineer would.
//!
//! What changes from one capture of a scenario to the next is redacted, so
//! that a corpus rebuild does not change a snapshot; what the scenario
//! decides stays, so that a change of the report shows:
//! - redacted: the dump's path and release, addresses, pids (a task line's
//!   first number, `comm (pid)`, `comm:pid`, `process pid`, `(comm pid,
//!   CPU n)`), CPU numbers,
//!   log timestamps and every number in a log line (`stuck for 22s`,
//!   `+0x117/0x1000`), and counts of 10 or more (`480 dying tasks`, free
//!   pages, `pid_max`: masses that depend on timing or on the machine),
//!   how many soft-lockup reports the watchdog printed and how many tasks a
//!   CPU had runnable, a kernel thread's CPU or worker number (`kworker/#:#`,
//!   `kworker/u#:#`: which worker of a pool ran which work item),
//!   the build directory in a path (it sits in the machine's corpus cache),
//!   bare addresses, measured times and ratios (`5.02 s` as `#.# s`), and
//!   the tasks a group's sample lists (`PID <task>`: which members it shows
//!   changes with the capture) and every task's stack (`<stack>`: where a
//!   task is caught does too), a zone's free blocks by order and its largest
//!   free order (where a capture's frees landed), which task the soft-lockup
//!   watchdog caught and where it spun (a storm's victim or its holder), the
//!   state a starved kthread was caught in, which of many queued writers
//!   is first in line for a PREEMPT_RT rwlock, how many times khungtaskd
//!   reported one task, and on a filtered dump the `partial:` warnings and
//!   the incomplete-evidence marks (which pages makedumpfile dropped);
//! - kept: comms, states, lock names and states, counts
//!   below 10 (readers, writers, waiters of one lock, members of a cycle:
//!   what the scenario sets up), every rule's message and labels, and the
//!   dump's title and signature (stable by design; `titles.rs` checks it).
//!
//! `VMTRIAGE_RULES=DIR` scans with the rule files of DIR instead of the
//! pack compiled in (to check a pack before it is committed).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::Entry;
use kmodel::titles::title;
use vmtriage_cli::scan::{diagnoses_text, DumpReport, ScanStacks};
use vmtriage_cli::Session;
use vmtriage_rules::model::Model;
use vmtriage_rules::RulePack;

/// One ELF dump per scenario and series (a QEMU capture before a kdump one).
fn dumps() -> Vec<Entry> {
    let all = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    let mut pick: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for e in all.into_iter().filter(|e| e.format == "elf") {
        let key = (e.scenario.clone(), e.kernel_series.clone());
        let better = match pick.get(&key) {
            None => true,
            Some(p) => (e.capture != "qemu", &e.path) < (p.capture != "qemu", &p.path),
        };
        if better {
            pick.insert(key, e);
        }
    }
    pick.into_values().collect()
}

fn pack() -> RulePack {
    let (pack, diags) = match std::env::var_os("VMTRIAGE_RULES") {
        Some(dir) => RulePack::load_dir(&PathBuf::from(dir)).expect("VMTRIAGE_RULES"),
        None => RulePack::embedded(),
    };
    assert!(diags.is_empty(), "the pack has errors: {}", diags.len());
    pack
}

/// The report `scan` prints for one dump.
fn report(pack: &RulePack, e: &Entry) -> String {
    let s = Session::open(&e.path, Some(&e.vmlinux), &[])
        .unwrap_or_else(|err| panic!("{}: {err:?}", e.name()));
    let stacks = ScanStacks::new(&s.kernel);
    let model = Model::new(&s.kernel, &stacks);
    let result = pack.scan(&model);
    let title = title(&s.kernel, &model, result.dump_title.as_deref());
    diagnoses_text(&DumpReport::of_dump(
        e.path.display().to_string(),
        Some(title.text),
        Some(title.signature),
        result,
    ))
}

/// Replaces each digit run of `s` that `keep` refuses by `with`; digits
/// in a name (`do_syscall_64`, `x86`) are no number, nor, unless `units`,
/// digits before letters (`10s`, `447252kB`).
fn numbers(s: &str, with: &str, units: bool, keep: impl Fn(&str, &str, u64) -> bool) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        let inside = (start > 0 && word(b[start - 1]))
            || (!units && i < b.len() && word(b[i]))
            || (&s[start..i] == "0" && b.get(i) == Some(&b'x'));
        let n = &s[start..i];
        if inside || keep(&s[..start], &s[i..], n.parse().unwrap_or(u64::MAX)) {
            out.push_str(n);
        } else {
            out.push_str(with);
        }
    }
    out
}

/// `0x…` runs as `0xADDR`.
fn addresses(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("0x") {
        out.push_str(&rest[..p]);
        let hex = rest[p + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - p - 2);
        out.push_str(if hex > 0 { "0xADDR" } else { "0x" });
        rest = &rest[p + 2 + hex..];
    }
    out + rest
}

/// A task's stack (`115 storm [R]  percpu_down_read < …`): `<stack>`. Where
/// a task is caught (the detector's path, the instant of the capture)
/// changes from one capture to the next; its comm and state stay.
fn stacks(line: &str) -> String {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(p) = line[from..].find("]  ").map(|p| p + from) {
        if p >= 2 && b[p - 2] == b'[' && b[p - 1].is_ascii_alphabetic() && p + 3 < line.len() {
            return format!("{}<stack>", &line[..p + 3]);
        }
        from = p + 1;
    }
    line.to_string()
}

/// Measured times and ratios (`5.02 s`, `age: 5.02`): `#.#`; they vary
/// with the capture.
fn fractions(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let digits = |mut j: usize| {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            j
        };
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if b[i].is_ascii_digit() && !word_before {
            let j = digits(i);
            if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                out.push_str("#.#");
                i = digits(j + 1);
                continue;
            }
            out.push_str(&s[i..j]);
            i = j;
            continue;
        }
        let c = s[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Where a log record's `[    14.670645]` is in a line.
fn timestamp(line: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(o) = line[from..].find('[').map(|o| o + from) {
        if let Some(c) = line[o..].find(']').map(|c| c + o) {
            let inner = line[o + 1..c].trim();
            if inner.contains('.') && inner.parse::<f64>().is_ok() {
                return Some((o, c));
            }
        }
        from = o + 1;
    }
    None
}

/// Words that change from one boot to the next though they are no number:
/// a temporary directory of the module's build (`/root/x/tmpyocxt8ob/`)
/// and the CPU or worker number in a kernel thread's comm (`kworker/1:2`,
/// `swapper/0`).
fn words(line: &str) -> String {
    line.split(' ')
        .map(|w| {
            // The build directory sits in the corpus cache, whose path
            // is the machine's (`~/.cache/…`, `$VMTRIAGE_CORPUS`).
            let w = match w.find("/tmp") {
                Some(i) => {
                    let end = w[i + 1..].find('/').map_or(w.len(), |e| i + 1 + e);
                    let start = w[..i].find('/').unwrap_or(i);
                    format!("{}BUILD{}", &w[..start], &w[end..])
                }
                None => w.to_string(),
            };
            // A bare kernel address (`should be ffffffffc02b94e0`,
            // `(prev=ffffffffc052c120)`); signatures are no addresses.
            let w = match w.find("ffff") {
                Some(i) => {
                    let n = w[i..]
                        .find(|c: char| !c.is_ascii_hexdigit())
                        .unwrap_or(w.len() - i);
                    // `0x…` is addresses()' to redact.
                    if n >= 12 && !w[..i].ends_with("0x") {
                        format!("{}ADDR{}", &w[..i], &w[i + n..])
                    } else {
                        w
                    }
                }
                None => w,
            };
            // `kworker/1:2`, and an unbound pool's `kworker/u4:0`.
            let numbered = |t: &str| t.starts_with(|c: char| c.is_ascii_digit());
            match w.find('/') {
                Some(i)
                    if numbered(&w[i + 1..])
                        || (w[i + 1..].starts_with('u') && numbered(&w[i + 2..])) =>
                {
                    let tail: String = w[i + 1..]
                        .chars()
                        .map(|c| if c.is_ascii_digit() { '#' } else { c })
                        .collect();
                    format!("{}/{tail}", &w[..i])
                }
                _ => w,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The redactions of the module's documentation, line by line.
fn redact(text: &str) -> String {
    let mut out = Vec::new();
    let mut skip_reports = false;
    let mut in_lockup = false;
    for line in text.lines() {
        if line.is_empty() {
            in_lockup = false;
        }
        // The watchdog's reports as one line however many it printed.
        if skip_reports && line.starts_with("      ") {
            continue;
        }
        skip_reports = false;
        if line.trim_start().starts_with("watchdog reports") {
            out.push("    watchdog reports: …".to_string());
            skip_reports = true;
            continue;
        }
        // Which tasks khungtaskd caught before the panic is timing too.
        if line.trim_start().starts_with("hung-task reports (") {
            out.push("    hung-task reports: …".to_string());
            skip_reports = true;
            continue;
        }
        if line.starts_with("== ") {
            out.push("== DUMP  (RELEASE)".to_string());
            continue;
        }
        if line.trim_start().starts_with("dump: ") {
            out.push(line.to_string());
            continue;
        }
        // A log record: its timestamp and every number of its text.
        if let Some((open, close)) = timestamp(line) {
            let text = addresses(&line[close + 1..]);
            let l = format!(
                "{}[TIME]{}",
                &line[..open],
                numbers(&text, "#", true, |_, _, _| false)
            );
            let l = if l.contains("soft lockup") {
                lockup_task(&l)
            } else if in_lockup && l.trim_start().starts_with("RIP: ") {
                match l.rsplit_once("RIP: #:") {
                    Some((head, _)) => format!("{head}RIP: #:<function>"),
                    None => l,
                }
            } else {
                l
            };
            out.push(l);
            continue;
        }
        let header = line.ends_with("):");
        let l = stacks(&fractions(&addresses(&words(line))));
        let l = numbers(&l, "PID", false, |before, after, _| {
            let task_line = after.starts_with(' ')
                && after[1..].split_once(' ').is_some_and(|(comm, rest)| {
                    !comm.is_empty()
                        && rest.len() >= 3
                        && rest.starts_with('[')
                        && &rest[2..3] == "]"
                })
                && (before.trim().is_empty() || before.ends_with(": "));
            let mention =
                before.ends_with(" (") && after.starts_with(')') && !(header && after == "):");
            // `task storm:117`, as the soft-lockup report names a task.
            let comm_pid = before.rsplit(' ').next().is_some_and(|w| {
                w.len() > 1
                    && w.ends_with(':')
                    && w[..w.len() - 1]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            let process = before.ends_with("process ");
            // `(kworker/1:2 9, CPU 1)`: a report's task and its CPU.
            let with_cpu = after.starts_with(", CPU ") && before.rsplit_once('(').is_some();
            !(task_line || mention || comm_pid || process || with_cpu)
        });
        // How many times the soft-lockup watchdog fired depends on timing.
        // So does how many tasks a CPU has runnable, and how often the OOM
        // killer ended a restarted service before the capture, and where
        // the free pages of a fragmented zone lie (its blocks by order).
        let timed = l.contains("report(s))")
            || l.trim_start().starts_with("free blocks by order:")
            || l.trim_start().starts_with("watchdog reports (")
            || l.contains(" running)")
            || l.to_lowercase().contains("oom kills")
            || l.trim_start().starts_with("kills (");
        // How many times khungtaskd printed its report before the panic
        // is timing too (5 or 6 on one capture of mutex-deadlock 6.1).
        let l = numbers(&l, "N", false, |before, after, n| {
            !before.ends_with("CPU ")
                && !after.starts_with(" hung-task report")
                && !before.ends_with("hung-task reports (")
                && !before.ends_with("free block above order ")
                && n < 10
                && !timed
        });
        // The OOM kills it lists, once each (how many: timing).
        // The OOM kills and hung-task reports it lists, once each (how
        // many: timing).
        let l = match l
            .split_once("victims: ")
            .or_else(|| l.split_once("reported: "))
        {
            Some((head, list)) => {
                let label = if l.contains("victims: ") {
                    "victims"
                } else {
                    "reported"
                };
                // Items end in `)`, the last one too: compare them without.
                let closed = list.ends_with(')');
                let list = list.strip_suffix(')').unwrap_or(list);
                let mut v: Vec<&str> = list.split("), ").collect();
                v.dedup();
                let tail = if closed { ")" } else { "" };
                format!("{head}{label}: {}{tail}", v.join("), "))
            }
            None => l,
        };
        // Which task the soft-lockup watchdog caught, and where, is timing
        // too (a storm's victim or its holder); so is the state a starved
        // kthread was caught in.
        let l = if l.contains("soft lockup") || l.contains("Soft lockup on CPU") {
            lockup_task(&l)
        } else if l.contains("first writer in line ") {
            first_writer(&l)
        } else if l.trim_start().starts_with("kthread: ") {
            bracket_state(&l)
        } else {
            l
        };
        let l = if in_lockup && l.trim_start().starts_with("RIP: ") {
            match l.rsplit_once("RIP: #:") {
                Some((head, _)) => format!("{head}RIP: #:<function>"),
                None => l,
            }
        } else {
            l
        };
        if l.contains("Soft lockup on CPU") {
            in_lockup = true;
        }
        out.push(l);
    }
    out.join("\n") + "\n"
}

/// `[storm:#]` → `[<task>:#]`; `in task storm:PID, spinning in f (` →
/// `in task <task>:PID, spinning in <function> (`.
fn lockup_task(l: &str) -> String {
    let mut l = l.to_string();
    if let (Some(a), Some(b)) = (l.rfind('['), l.rfind(":#]")) {
        if a < b && l.contains("stuck for") {
            l.replace_range(a + 1..b, "<task>");
        }
    }
    if let Some(i) = l.find("in task ") {
        if let Some(j) = l[i..].find(":PID") {
            l.replace_range(i + 8..i + j, "<task>");
        }
    }
    if let Some(i) = l.find("spinning in ") {
        let from = i + "spinning in ".len();
        let to = l[from..].find(' ').map_or(l.len(), |j| from + j);
        l.replace_range(from..to, "<function>");
    }
    l
}

/// `first writer in line storm (PID)` → `first writer in line <task> (PID)`.
fn first_writer(l: &str) -> String {
    let mut l = l.to_string();
    if let Some(i) = l.find("first writer in line ") {
        let from = i + "first writer in line ".len();
        if let Some(j) = l[from..].find(" (PID)") {
            l.replace_range(from..from + j, "<task>");
        }
    }
    l
}

/// `kthread: PID rcu_preempt [R]  <stack>` → `[?]`.
fn bracket_state(l: &str) -> String {
    match (l.find(" ["), l.find("]  ")) {
        (Some(a), Some(b)) if b == a + 3 => format!("{}[?]{}", &l[..a + 1], &l[b + 1..]),
        _ => l.to_string(),
    }
}

#[test]
fn redaction() {
    let text = "\
== /x/y.elf  (6.1.0-56-cloud-amd64)
    storm (113) is reaping 480 dying tasks while 3 tasks queue on CPU 3 in task storm:117.
    parent: 113 storm [S]  schedule < do_wait < __x64_sys_wait4 < do_syscall_64
    dying (480):
      115 storm [R]  percpu_down_read
      … and 477 more
    lock: rw_semaphore mm_struct.mmap_lock of faulter (100): 1 reader, 7 waiters at 0xffff8cee41f631f0
    lock: PREEMPT_RT rwlock tasklist_lock: 1 reader, writer waiting, first writer in line insmod (271), 481 waiters
      process 105: 636 tasks — forkstorm (105) [S], …
    soft lockup report: [   14.670645] watchdog: BUG: soft lockup - CPU#3 stuck for 10s! [storm:117]
    RIP: [    5.717581] RIP: 0010:vmt_init+0x117/0x1000 [vmtriage_scen]
    BUG() at /root/kb/tmpyocxt8ob/faults.c:77 by kworker/1:2 (812), CPU 1 (4 running)
    stalled for 5.02 s: prev->next should be ffffffffc02b94e0, but was ffffffffc02b94f8.
    dump: BUG: soft lockup in tasklist_holder [vmtriage_scen] — signature 7133ee1e8fa58b08
";
    insta::assert_snapshot!(redact(text), @r"
    == DUMP  (RELEASE)
        storm (PID) is reaping N dying tasks while 3 tasks queue on CPU N in task storm:PID.
        parent: PID storm [S]  <stack>
        dying (N):
          PID storm [R]  <stack>
          … and N more
        lock: rw_semaphore mm_struct.mmap_lock of faulter (PID): 1 reader, 7 waiters at 0xADDR
        lock: PREEMPT_RT rwlock tasklist_lock: 1 reader, writer waiting, first writer in line <task> (PID), N waiters
          process PID: N tasks — forkstorm (PID) [S], …
        soft lockup report: [TIME] watchdog: BUG: soft lockup - CPU## stuck for #s! [<task>:#]
        RIP: [TIME] RIP: #:vmt_init+0xADDR/0xADDR [vmtriage_scen]
        BUG() at BUILD/faults.c:N by kworker/#:# (PID), CPU N (N running)
        stalled for #.# s: prev->next should be ADDR, but was ADDR.
        dump: BUG: soft lockup in tasklist_holder [vmtriage_scen] — signature 7133ee1e8fa58b08
    ");
}

/// The report in an order that does not depend on addresses: the tasks
/// of a sample and the instances of one rule come in the model's order
/// (task addresses, which a randomized slab freelist shuffles from one
/// boot to the next), so the lines of each sample are sorted, and the
/// diagnoses of one rule; the dump's title stays at the end of the first.
/// A log record repeated once its numbers are masked shows once.
fn canonical(text: &str) -> String {
    let mut blocks: Vec<Vec<String>> = text
        .split("\n\n")
        .map(|b| b.lines().map(str::to_string).collect())
        .collect();
    let mut dump_line = None;
    for b in blocks.iter_mut().skip(1) {
        if let Some(i) = b.iter().position(|l| l.starts_with("    dump: ")) {
            dump_line = Some(b.remove(i));
        }
        let mut i = 0;
        while i < b.len() {
            let sample = |l: &String| l.starts_with("      ") && !l.trim_start().starts_with('…');
            let j = (i..b.len()).find(|&j| !sample(&b[j])).unwrap_or(b.len());
            // Which tasks of a group a sample shows, and where each one
            // is caught, changes with the capture: a task line stays a line.
            for l in &mut b[i..j] {
                if l.trim_start().starts_with("PID ") {
                    *l = format!("{}PID <task>", &l[..l.len() - l.trim_start().len()]);
                }
            }
            b[i..j].sort();
            // Log records with their numbers masked: one line for a repeat.
            let mut j = j;
            let mut k = i + 1;
            while k < j {
                if b[k] == b[k - 1] && b[k].contains("[TIME]") {
                    b.remove(k);
                    j -= 1;
                } else {
                    k += 1;
                }
            }
            i = j.max(i + 1);
        }
    }
    let mut i = 1;
    while i < blocks.len() {
        let j = (i..blocks.len())
            .find(|&j| blocks[j].first() != blocks[i].first())
            .unwrap_or(blocks.len());
        blocks[i..j].sort();
        i = j;
    }
    if let (Some(d), Some(first)) = (dump_line, blocks.get_mut(1)) {
        first.push(d);
    }
    blocks
        .iter()
        .map(|b| b.join("\n"))
        .collect::<Vec<_>>()
        .join("\n\n")
        + "\n"
}

/// Every corpus dump's report against its snapshot; every mismatch is
/// written (`.snap.new`, `cargo insta review`) before the test fails.
#[test]
fn corpus_reports() {
    let pack = pack();
    let dumps = dumps();
    assert!(!dumps.is_empty(), "the corpus manifest lists no ELF dump");
    let mut failed = Vec::new();
    for e in &dumps {
        let mut text = report(&pack, e);
        // What a filtered dump lost is which pages makedumpfile dropped in
        // that capture: the warnings and the marks they put on findings.
        if e.dump_level > 0 {
            text = text
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    !t.starts_with("partial:") && !t.starts_with("(evidence may be incomplete")
                })
                .map(|l| format!("{l}\n"))
                .collect();
        }
        let text = canonical(&redact(&text));
        let name = format!("{}.{}", e.scenario, e.kernel_series);
        let r = std::panic::catch_unwind(|| {
            insta::with_settings!({prepend_module_to_snapshot => true, omit_expression => true}, {
                insta::assert_snapshot!(name.clone(), text);
            });
        });
        if r.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "reports changed: {failed:?}");
}

/// Which rule's `dump_title` a dump gets when several fire: the most
/// severe, then the first by id; the signature stays the generic one.
#[test]
fn rule_title_priority() {
    let e = dumps()
        .into_iter()
        .find(|e| e.scenario == "idle")
        .expect("an idle dump");
    let rule = |id: &str, sev: &str, title: &str| {
        (
            format!("{id}.yaml"),
            format!(
                "id: {id}\ntitle: t\nseverity: {sev}\nsummary: s\nmatch: count(tasks) > 0\n\
                 message: m\ndump_title: \"{title} ({{count(tasks) > 0}})\"\n"
            ),
        )
    };
    let untitled = (
        "TEST-0009.yaml".to_string(),
        "id: TEST-0009\ntitle: t\nseverity: critical\nsummary: s\nmatch: count(tasks) > 0\nmessage: m\n"
            .to_string(),
    );
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).expect("open");
    let stacks = ScanStacks::new(&s.kernel);
    let model = Model::new(&s.kernel, &stacks);
    let generic = title(&s.kernel, &model, None);
    for (rules, want) in [
        (
            vec![
                rule("TEST-0002", "high", "second"),
                rule("TEST-0001", "medium", "first"),
                untitled.clone(),
            ],
            Some("second (true)"),
        ),
        (
            vec![
                rule("TEST-0002", "high", "second"),
                rule("TEST-0001", "high", "first"),
            ],
            Some("first (true)"),
        ),
        (vec![untitled.clone()], None),
    ] {
        let (pack, diags) = RulePack::from_sources(&rules, &[]);
        assert!(diags.is_empty(), "{}", diags[0].render());
        let res = pack.scan(&model);
        assert_eq!(res.dump_title.as_deref(), want);
        let t = title(&s.kernel, &model, res.dump_title.as_deref());
        assert_eq!(t.signature, generic.signature);
        assert_eq!(t.text, want.unwrap_or(&generic.text));
    }
}
