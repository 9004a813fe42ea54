//! A title and a signature for every corpus dump (`kmodel::titles`):
//! every dump has both; the dumps of one scenario share one signature in
//! every format (ELF, kdump lzo/zlib/snappy, flattened) and on every kernel
//! series where the stacks show the same code path (the exceptions are
//! listed in [`DIFFER`], each with what its stacks show); two scenarios
//! never share one; and the titles, one line per scenario and series with
//! the formats folded, are a snapshot to read.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use common::Entry;
use kmodel::titles::{title, Title};
use vmtriage_cli::scan::ScanStacks;
use vmtriage_rules::model::Model;

/// Scenario and series pairs whose signatures legitimately differ from the
/// scenario's others, and why (what their stacks show).
///
/// None today. The series' stacks do differ, but only in frames the
/// generic list names, so the signatures converge:
/// - null-deref-oops: 6.12 reaches a module's init through
///   `idempotent_init_module` and `init_module_from_file` (the 6.6 module
///   loader rework), 6.1 through `__do_sys_finit_module`; both are the module
///   loader (generic), and the fault is in `vmt_init` on both.
/// - mmap-lock-pileup: 6.1 takes the fault's mmap_lock in
///   `lock_mm_and_find_vma` (the 2023 stack-expansion fix), 5.10 inline in
///   `do_user_addr_fault`; the wrapper only takes the lock (generic).
/// - tasklist-exit-storm: on 6.1 the watchdog reported a storm task spinning
///   in `queued_read_lock_slowpath` (a victim), elsewhere the holder; the
///   title names the CPU hog that waits for no lock, `tasklist_holder`, on
///   every series.
/// - null-deref-timer: the timer fires over the idle loop on 5.10 and 6.12
///   and runs in the `ktimers` thread on RT; 5.10 switches to the interrupt
///   stack through `asm_call_irq_on_stack` and `do_softirq_own_stack`
///   (5.8-5.11), 6.x inline; all interrupt and timer machinery, and what
///   the interrupt stopped is no part of an oops in it.
/// - PREEMPT_RT: mutexes, rwsems and rwlocks wait in rtmutex code
///   (`rt_mutex_slowlock_block`, `rwbase_*`, `rtlock_slowlock_locked`), all
///   lock slow paths.
///
/// A pair listed here must differ (the test fails if it does not).
const DIFFER: &[(&str, &str, &str)] = &[];

struct Row {
    e: Entry,
    title: Result<Title, String>,
}

fn title_of(e: &Entry) -> Result<Title, String> {
    let s = vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[])
        .map_err(|err| format!("open: {err:?}"))?;
    let stacks = ScanStacks::new(&s.kernel);
    if let ScanStacks::None(n) = &stacks {
        return Err(n.0.clone());
    }
    // The title as a scan gives it: over the rules' model, no rule title.
    let model = Model::new(&s.kernel, &stacks);
    Ok(title(&s.kernel, &model, None))
}

fn format_name(e: &Entry) -> String {
    if e.compression == "none" {
        format!("{}-{}", e.capture, e.format)
    } else {
        format!("{}-{}-{}", e.capture, e.format, e.compression)
    }
}

#[test]
fn corpus_titles() {
    let dumps = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    assert!(!dumps.is_empty(), "the corpus manifest lists no dumps");
    // Two workers: the machine has two cores.
    let queue = Mutex::new(dumps.into_iter());
    let rows = Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..2 {
            sc.spawn(|| loop {
                let Some(e) = queue.lock().unwrap().next() else {
                    break;
                };
                let title = title_of(&e);
                rows.lock().unwrap().push(Row { e, title });
            });
        }
    });
    let mut rows = rows.into_inner().unwrap();
    rows.sort_by_key(|r| r.e.name());
    for r in &rows {
        if let Ok(t) = &r.title {
            println!(
                "{}: {} [{}] ({}) {:?}",
                r.e.name(),
                t.text,
                t.signature,
                t.note.as_deref().unwrap_or("-"),
                t.frames
            );
        }
    }

    let mut problems = Vec::new();
    // (scenario, series) → signature → (title text, formats)
    type Seen = BTreeMap<String, (String, BTreeSet<String>)>;
    let mut by_series: BTreeMap<(String, String), Seen> = BTreeMap::new();
    for r in &rows {
        match &r.title {
            Err(err) => problems.push(format!("{}: no title: {err}", r.e.name())),
            Ok(t) => {
                if t.text.is_empty() {
                    problems.push(format!("{}: an empty title", r.e.name()));
                }
                if t.signature.len() != 16 || !t.signature.chars().all(|c| c.is_ascii_hexdigit()) {
                    problems.push(format!("{}: signature {:?}", r.e.name(), t.signature));
                }
                by_series
                    .entry((r.e.scenario.clone(), r.e.kernel_series.clone()))
                    .or_default()
                    .entry(t.signature.clone())
                    .or_insert_with(|| (t.text.clone(), BTreeSet::new()))
                    .1
                    .insert(format_name(&r.e));
            }
        }
    }

    // One signature per scenario and series, whatever the format.
    for ((scenario, series), sigs) in &by_series {
        if sigs.len() > 1 {
            problems.push(format!(
                "{scenario} {series}: formats differ: {:?}",
                sigs.iter()
                    .map(|(s, (t, f))| format!("{t} {s} {f:?}"))
                    .collect::<Vec<_>>()
            ));
        }
    }

    // One signature per scenario across series, but for the listed pairs.
    let mut by_scenario: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for ((scenario, series), sigs) in &by_series {
        if let Some(sig) = sigs.keys().next() {
            by_scenario
                .entry(scenario.as_str())
                .or_default()
                .insert(series.as_str(), sig.as_str());
        }
    }
    for (scenario, series) in &by_scenario {
        let listed = |s: &str| DIFFER.iter().any(|(sc, se, _)| sc == scenario && *se == s);
        let common: BTreeSet<&str> = series
            .iter()
            .filter(|(s, _)| !listed(s))
            .map(|(_, sig)| *sig)
            .collect();
        if common.len() > 1 {
            problems.push(format!(
                "{scenario}: series differ: {:?}",
                series
                    .iter()
                    .map(|(s, sig)| {
                        let text = &by_series[&(scenario.to_string(), s.to_string())][*sig].0;
                        format!("{s}: {text} {sig}")
                    })
                    .collect::<Vec<_>>()
            ));
        }
        for (se, sig) in series.iter().filter(|(s, _)| listed(s)) {
            if common.contains(sig) {
                problems.push(format!(
                    "{scenario} {se} is listed as differing but shares the scenario's signature"
                ));
            }
        }
    }
    for (scenario, series, _) in DIFFER {
        if !by_scenario
            .get(scenario)
            .is_some_and(|s| s.contains_key(series))
        {
            problems.push(format!(
                "DIFFER names {scenario} {series}, not in the corpus"
            ));
        }
    }

    // Two scenarios never share a signature.
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (scenario, series) in &by_scenario {
        for sig in series.values() {
            if let Some(other) = owner.insert(sig, scenario) {
                if other != *scenario {
                    problems.push(format!("{other} and {scenario} share signature {sig}"));
                }
            }
        }
    }

    let mut snap = String::new();
    for ((scenario, series), sigs) in &by_series {
        for (sig, (text, formats)) in sigs {
            let fmts = if sigs.len() > 1 {
                format!(
                    " ({})",
                    formats.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            } else {
                String::new()
            };
            snap.push_str(&format!("{scenario} {series}{fmts}: {text}  [{sig}]\n"));
        }
    }
    insta::assert_snapshot!("corpus_titles", snap);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The log's reports (`kmodel::oops`) against drgn's reading of each
/// scenario's log: one report per headline line the kernel printed, and the
/// panic names the task and CPU drgn found crashed.
#[test]
fn oops_reports_match_the_logs() {
    use kmodel::oops::{parse_log, OopsKind};
    use kmodel::printk::LogRecord;
    let dumps = common::manifest().unwrap_or_else(|e| panic!("{e}"));
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    let mut checked = 0;
    for e in &dumps {
        if !seen.insert((e.scenario.clone(), e.kernel_series.clone())) {
            continue;
        }
        let t = common::truth(e).unwrap_or_else(|err| panic!("{err}"));
        let records: Vec<LogRecord> = t
            .dmesg
            .iter()
            .enumerate()
            .map(|(i, r)| LogRecord {
                seq: i as u64,
                level: r.level,
                timestamp_ns: r.timestamp_ns,
                text: r.text.clone(),
            })
            .collect();
        let reports = parse_log(&records);
        let lines: Vec<&str> = t.dmesg.iter().flat_map(|r| r.text.lines()).collect();
        let printed = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
        let parsed =
            |is: &dyn Fn(&OopsKind) -> bool| reports.iter().filter(|r| is(&r.kind)).count();
        let counts = [
            (
                "hung task",
                printed(" blocked for more than "),
                parsed(&|k| matches!(k, OopsKind::HungTask { .. })),
            ),
            (
                "soft lockup",
                printed("BUG: soft lockup - CPU#"),
                parsed(&|k| matches!(k, OopsKind::SoftLockup { .. })),
            ),
            (
                "RCU stall",
                printed("detected stall"),
                parsed(&|k| *k == OopsKind::RcuStall),
            ),
            (
                "panic",
                printed("Kernel panic - not syncing"),
                parsed(&OopsKind::is_panic),
            ),
            (
                "OOM kill",
                printed(" invoked oom-killer:"),
                parsed(&|k| *k == OopsKind::OomKill),
            ),
            (
                "NULL dereference",
                printed("BUG: kernel NULL pointer dereference"),
                parsed(&|k| *k == OopsKind::PageFault { null: true }),
            ),
            (
                "sysrq crash",
                printed("sysrq: Trigger a crash"),
                parsed(&|k| *k == OopsKind::SysrqCrash),
            ),
        ];
        for (what, p, r) in counts {
            if p != r {
                problems.push(format!(
                    "{} {}: {p} {what} line(s) printed, {r} parsed",
                    e.scenario, e.kernel_series
                ));
            }
        }
        // Every report names its task (a hung task, a lockup, an oops: from
        // its headline or its CPU line) and has a trace, where the log
        // printed one after it.
        for r in &reports {
            if r.kind != OopsKind::SysrqCrash && r.task.is_none() {
                problems.push(format!(
                    "{} {}: no task for {:?}",
                    e.scenario, e.kernel_series, r.headline
                ));
            }
        }
        if let (Some(pid), Some(cpu)) = (t.crashed_pid, t.crashed_cpu) {
            checked += 1;
            match reports.iter().rev().find(|r| r.kind.is_panic()) {
                // A panic_on_oops kdump capture need not print the panic
                // line before the crash kernel runs: the oops then names it.
                None => {
                    let Some(o) = reports.iter().rev().find(|r| r.kind.is_oops()) else {
                        problems.push(format!(
                            "{} {}: a crash without a report",
                            e.scenario, e.kernel_series
                        ));
                        continue;
                    };
                    if o.task.as_ref().map(|t| t.pid) != Some(pid) || o.cpu != Some(cpu) {
                        problems.push(format!(
                            "{} {}: the oops names {:?} on CPU {:?}, drgn pid {pid} on CPU {cpu}",
                            e.scenario, e.kernel_series, o.task, o.cpu
                        ));
                    }
                }
                Some(p) => {
                    if p.task.as_ref().map(|t| t.pid) != Some(pid) || p.cpu != Some(cpu) {
                        problems.push(format!(
                            "{} {}: the panic names {:?} on CPU {:?}, drgn pid {pid} on CPU {cpu}",
                            e.scenario, e.kernel_series, p.task, p.cpu
                        ));
                    }
                    if p.call_trace.is_empty() {
                        problems.push(format!(
                            "{} {}: the panic has no trace",
                            e.scenario, e.kernel_series
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 0, "no crash dump in the corpus");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
