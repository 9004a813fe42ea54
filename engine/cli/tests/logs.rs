//! A dump's log written as text gives the dump's own title and signature
//! (issue #28, "Done when"): for every corpus dump, its log as `vmtriage
//! dmesg` writes it (what kdump's `vmcore-dmesg.txt` holds), the same with
//! syslog prefixes (`Nov 24 10:00:00 host kernel: [ time] …`), and the
//! same cut in the middle of its last report (mid-line, at the middle of
//! that report's lines, everything after it lost), each read by
//! `kmodel::logtext` and titled by `kmodel::titles::log_title`, has the
//! dump's title text and signature — whenever the dump's title comes from
//! its log's reports (`Title::basis` is `Log`). A cut that falls inside
//! the call trace of the crash's own report (a kdump capture of an oops:
//! `crash_kexec()` from `oops_end()`, no panic line after it) takes frames
//! the signature hashes; that log must then be titled with what is left —
//! the same kind, the dump's first frames and no other — and is listed.
//!
//! The others are left out, and listed (`cargo test … -- --nocapture`):
//! their title comes from the dump's memory, which no log holds. On the
//! corpus of 2026-12-08 (245 dumps; 126 titled from their log), 119:
//! - a hang titled by the tasks in D, the holder at the end of the lock
//!   chain or the group's common function (hung-io, hung-task-panic,
//!   mutex-hung-task, rwsem-writer-stall, mmap-lock-pileup): the log's
//!   hung-task report names a waiter (`fuse_lock_inode`, `mutex_write`),
//!   or there is none (mmap-lock-pileup: `no crash`);
//! - a deadlock cycle of the wait-for graph (mutex-deadlock,
//!   lock-inversion): the log has only the hung-task reports of its tasks;
//! - a soft lockup named by the CPU hog, the task on its CPU that waits for
//!   no lock (tasklist-exit-storm): the watchdog may report a victim;
//! - a task flood (fork-storm), unreclaimable slab (slab-leak) and `no
//!   crash` (idle): memory's counts, or memory showing nothing; their logs
//!   hold no report and are titled `no crash`.
//!
//! On every dump, the rules that need only the log (`needs: log`) find on
//! its log as text, run as `scan LOG` runs them
//! (`vmtriage_cli::scan::scan_log_rules`), what they find on the dump:
//! the same rules, titles, severities and messages.

mod common;

use std::sync::Mutex;

use common::Entry;
use kmodel::logtext;
use kmodel::titles::{log_title, title, Basis, Title};
use vmtriage_cli::scan::{scan_log_rules, ScanStacks};
use vmtriage_rules::model::Model;
use vmtriage_rules::RulePack;

/// The dump's title, its log as `vmtriage dmesg` writes it, and the
/// findings on the dump of the rules that need only the log.
fn dump_title_and_log(e: &Entry) -> Result<(Title, String, Vec<Found>), String> {
    let s = vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[])
        .map_err(|err| format!("open: {err:?}"))?;
    let stacks = ScanStacks::new(&s.kernel);
    let model = Model::new(&s.kernel, &stacks);
    let t = title(&s.kernel, &model, None);
    let (pack, _) = RulePack::embedded();
    let log_rules = common::log_rules(&pack);
    let found = found(&pack.scan_only(&model, Some(&log_rules)).diagnoses);
    let rows = vmtriage_cli::report::dmesg(&s.kernel).map_err(|e| format!("dmesg: {e}"))?;
    Ok((t, vmtriage_cli::report::dmesg_text(&rows), found))
}

/// A finding as the log and the dump must agree on it: its rule, title,
/// severity and message.
type Found = (String, String, String, String);

fn found(ds: &[vmtriage_rules::Diagnosis]) -> Vec<Found> {
    ds.iter()
        .map(|d| {
            let sev = d.severity.as_str().to_string();
            (d.rule.clone(), d.title.clone(), sev, d.message.clone())
        })
        .collect()
}

/// The findings of `scan LOG` on the log as text ([`scan_log_rules`]).
fn log_found(text: &str) -> Result<Vec<Found>, String> {
    let l = logtext::read(text.as_bytes()).map_err(|e| e.to_string())?;
    let (pack, _) = RulePack::embedded();
    Ok(found(&scan_log_rules(&pack, &l).diagnoses))
}

/// The log with a syslog prefix on every line.
fn syslog(text: &str) -> String {
    text.lines()
        .map(|l| format!("Nov 24 10:00:00 web-7 kernel: {l}\n"))
        .collect()
}

/// The log cut in the middle of its last report: at the middle line of
/// the report's lines (from its first line to the last line of the log),
/// in the middle of that line.
fn cut(text: &str) -> Option<String> {
    let log = logtext::read(text.as_bytes()).ok()?;
    let reports = kmodel::oops::parse_log(&log.records);
    let last = reports.last()?;
    // `vmtriage dmesg` writes one line per record line, in order.
    let lines: Vec<&str> = text.lines().collect();
    let first_line: usize = log.records[..last.record]
        .iter()
        .map(|r| r.text.split('\n').count())
        .sum();
    let mid = first_line + (lines.len() - first_line) / 2;
    let mut out: String = lines[..mid].iter().map(|l| format!("{l}\n")).collect();
    let l = lines.get(mid).copied().unwrap_or_default();
    let mut half = l.len() / 2;
    while !l.is_char_boundary(half) {
        half -= 1;
    }
    out += &l[..half];
    Some(out)
}

struct Row {
    e: Entry,
    dump: Title,
    logs: Vec<(&'static str, Result<Title, String>)>,
}

fn of(text: &str) -> Result<Title, String> {
    let l = logtext::read(text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(log_title(&l.records, None))
}

#[test]
fn corpus_logs_title_like_their_dumps() {
    let dumps = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    assert!(!dumps.is_empty(), "the corpus manifest lists no dumps");
    let queue = Mutex::new(dumps.into_iter());
    let rows = Mutex::new(Vec::new());
    let problems = Mutex::new(Vec::new());
    let agreed = Mutex::new(0);
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| loop {
                let Some(e) = queue.lock().unwrap().next() else {
                    break;
                };
                match dump_title_and_log(&e) {
                    Err(err) => problems
                        .lock()
                        .unwrap()
                        .push(format!("{}: {err}", e.name())),
                    Ok((dump, text, on_dump)) => {
                        // The rules that need only the log find on the log
                        // as text what they find on the dump.
                        match log_found(&text) {
                            Ok(on_log) if on_log == on_dump => {
                                *agreed.lock().unwrap() += on_dump.len();
                            }
                            Ok(on_log) => problems.lock().unwrap().push(format!(
                                "{}: log rules on the dump {on_dump:?}, on its log {on_log:?}",
                                e.name()
                            )),
                            Err(err) => problems
                                .lock()
                                .unwrap()
                                .push(format!("{} rules: {err}", e.name())),
                        }
                        let mut logs = vec![("plain", of(&text)), ("syslog", of(&syslog(&text)))];
                        match cut(&text) {
                            Some(c) => logs.push(("cut", of(&c))),
                            None => logs.push(("cut", Err("no report to cut".into()))),
                        }
                        rows.lock().unwrap().push(Row { e, dump, logs });
                    }
                }
            });
        }
    });
    let mut rows = rows.into_inner().unwrap();
    let mut problems = problems.into_inner().unwrap();
    rows.sort_by_key(|r| r.e.name());
    let (mut compared, mut memory, mut shorter) = (0, Vec::new(), Vec::new());
    for r in &rows {
        if r.dump.basis == Basis::Memory {
            let plain = r.logs[0].1.as_ref().map(|t| t.text.clone());
            memory.push(format!(
                "{}: {} (its log alone: {})",
                r.e.name(),
                r.dump.text,
                plain.unwrap_or_else(|e| e.clone())
            ));
            continue;
        }
        compared += 1;
        for (form, t) in &r.logs {
            match t {
                Err(err) if *form == "cut" && err == "no report to cut" => {}
                Err(err) => problems.push(format!("{} {form}: {err}", r.e.name())),
                Ok(t) if (&t.text, &t.signature) == (&r.dump.text, &r.dump.signature) => {}
                // The cut took frames the signature hashes: the title says
                // only what is left (the same kind, the dump's first
                // frames, none other).
                Ok(t)
                    if *form == "cut"
                        && t.kind == r.dump.kind
                        && t.frames.len() < r.dump.frames.len()
                        && r.dump.frames.starts_with(&t.frames) =>
                {
                    shorter.push(format!(
                        "{}: {} [{} of {} frames]",
                        r.e.name(),
                        t.text,
                        t.frames.len(),
                        r.dump.frames.len()
                    ));
                }
                Ok(t) => problems.push(format!(
                    "{} {form}: the log says {} [{}], the dump {} [{}]",
                    r.e.name(),
                    t.text,
                    t.signature,
                    r.dump.text,
                    r.dump.signature
                )),
            }
        }
    }
    println!(
        "{compared} of {} dumps titled from their log, each matched by its log as text (plain, syslog, cut)",
        rows.len()
    );
    println!(
        "{} findings of the log-only rules, the same on each dump and its log as text",
        agreed.into_inner().unwrap()
    );
    println!(
        "{} cut logs lost frames the signature hashes (the cut fell in the call trace of the \
         report that is the crash's cause), titled by the frames left:",
        shorter.len()
    );
    for m in &shorter {
        println!("  {m}");
    }
    println!("{} dumps titled from memory, left out:", memory.len());
    for m in &memory {
        println!("  {m}");
    }
    assert!(compared > 0, "no dump of the corpus is titled from its log");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The corpus's serial console captures (`*.console.log` beside the dumps:
/// what QEMU's serial port printed, the crashed kernel's and then the kdump
/// kernel's boot) are kernel logs: recognised, read, titled; a capture
/// whose log holds no report is titled `no crash`, never anything else.
#[test]
fn corpus_console_captures_are_logs() {
    let dumps = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    let dirs: std::collections::BTreeSet<_> = dumps
        .iter()
        .filter_map(|e| e.path.parent().map(|p| p.to_path_buf()))
        .collect();
    let mut problems = Vec::new();
    let mut n = 0;
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for f in rd.flatten() {
            let p = f.path();
            if !p.to_string_lossy().ends_with(".console.log") {
                continue;
            }
            n += 1;
            let bytes = std::fs::read(&p).unwrap();
            match logtext::read(&bytes) {
                Err(e) => problems.push(format!("{}: {e}", p.display())),
                Ok(l) => {
                    let reports = kmodel::oops::parse_log(&l.records);
                    let t = log_title(&l.records, None);
                    println!(
                        "{}: {:?}, {} records: {}",
                        p.display(),
                        l.form,
                        l.records.len(),
                        t.text
                    );
                    if l.records.is_empty() {
                        problems.push(format!("{}: no records", p.display()));
                    }
                    if reports.is_empty() && t.kind != kmodel::titles::Kind::NoCrash {
                        problems.push(format!("{}: no report, titled {}", p.display(), t.text));
                    }
                }
            }
        }
    }
    println!("{n} console captures");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
