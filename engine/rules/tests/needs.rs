//! What a rule needs — the kernel log alone, or a dump — as the checker
//! infers it from the built-ins' declarations or the rule declares it, and
//! a scan of a kernel log alone: the rules that need only the log run, the
//! others are skipped as `needs a dump`.

use std::path::Path;

use kmodel::printk::LogRecord;
use vmtriage_rules::{Code, Model, Need, RuleDiagnostic, RulePack, SkipReason};

/// A rule whose `match:` is `expr` (line 6), with `extra` YAML after it.
fn rule(expr: &str, extra: &str) -> String {
    format!(
        "id: TEST-0100\ntitle: t\nseverity: low\nsummary: s\nmessage: m\nmatch: {expr}\n{extra}"
    )
}

fn load(src: &str) -> (RulePack, Vec<RuleDiagnostic>) {
    RulePack::from_sources(&[("t.yaml".into(), src.into())], &[])
}

/// The need of a sound rule.
fn need(src: &str) -> Need {
    let (pack, diags) = load(src);
    let shown: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert!(diags.is_empty(), "{src}\n{}", shown.join("\n"));
    pack.rules[0].need
}

#[test]
fn a_rule_needs_the_most_any_of_its_reads_needs() {
    for (expr, want) in [
        // The log, the reports parsed from it, the release it names.
        ("count(dmesg) > 0", Need::Log),
        ("any of dmesg where text matches \"Oops\"", Need::Log),
        ("crash != null and crash.culprit == \"f\"", Need::Log),
        (
            "count(reports where kind == \"oops\" and cpu == 1) > 0",
            Need::Log,
        ),
        ("first(reports)?.site != null", Need::Log),
        ("kernel.release matches \"^6\"", Need::Log),
        ("kernel.version >= \"6.1\"", Need::Log),
        ("kernel.panic != null", Need::Log),
        (
            "count(group dmesg by level having count > 1) > 0",
            Need::Log,
        ),
        // The language alone runs on a log too.
        ("count([1, 2]) > 1 and hex(16) == \"0x10\"", Need::Log),
        (
            "capture(first(dmesg).text, \"CPU#([0-9]+)\") != null",
            Need::Log,
        ),
        // The kernel's memory.
        ("count(tasks) > 0", Need::Dump),
        ("first(reports).task != null", Need::Dump),
        ("any of reports where task != null", Need::Dump),
        ("kernel.taint > 0", Need::Dump),
        ("kernel.panicked", Need::Dump),
        ("(@?panic_on_oops) > 0", Need::Dump),
        ("count(dmesg) > 0 and memory.free > 0", Need::Dump),
        ("sym_opt(\"jiffies\") != null", Need::Dump),
        ("count(modules) > 0", Need::Dump),
        ("task(1) has \"schedule\"", Need::Dump),
    ] {
        assert_eq!(need(&rule(expr, "")), want, "{expr}");
    }
}

#[test]
fn what_a_finding_shows_counts_as_much_as_the_condition() {
    let log = "count(dmesg) > 0";
    assert_eq!(need(&rule(log, "")), Need::Log);
    for extra in [
        "evidence:\n  - tasks: count(tasks)\n",
        "dump_title: \"{first(tasks).comm}\"\n",
        "evidence:\n  - first(reports)?.task\n",
    ] {
        assert_eq!(need(&rule(log, extra)), Need::Dump, "{extra}");
    }
    let src = "id: TEST-0100\ntitle: t\nseverity: low\nsummary: s\nmessage: \"{count(tasks)}\"\nmatch: count(dmesg) > 0\n";
    assert_eq!(need(src), Need::Dump);
}

#[test]
fn a_declared_need_wins_where_it_is_stronger() {
    assert_eq!(need(&rule("count(dmesg) > 0", "needs: dump\n")), Need::Dump);
    assert_eq!(need(&rule("count(dmesg) > 0", "needs: log\n")), Need::Log);
    assert_eq!(need(&rule("count(tasks) > 0", "needs: dump\n")), Need::Dump);
}

/// `needs: log` on a rule that reads a dump is refused at the first such
/// read, with its line, column and a help line.
#[test]
fn declaring_log_for_a_rule_that_reads_a_dump_is_c013() {
    let src = rule(
        "count(dmesg) > 0 and count(tasks) > 1",
        "needs: log\nevidence:\n  - kernel.taint\n",
    );
    let (pack, diags) = load(&src);
    assert!(pack.rules.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d.code, Code::NeedsDump);
    assert_eq!(d.code.as_str(), "C013");
    // `tasks`, on the `match:` line after `count(dmesg) > 0 and count(`.
    assert_eq!(d.line_col(), (6, 35), "{}", d.render());
    assert!(d.label.contains("`tasks`"), "{}", d.label);
    assert!(d.help.as_deref().unwrap_or("").contains("needs: log"));
    // In an evidence item, at that item.
    let src = rule(
        "count(dmesg) > 0",
        "needs: log\nevidence:\n  - kernel.taint\n",
    );
    let (_, diags) = load(&src);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code, Code::NeedsDump);
    assert_eq!(diags[0].line_col(), (9, 12), "{}", diags[0].render());
    assert!(
        diags[0].label.contains("`.taint` of a kernel"),
        "{}",
        diags[0].label
    );
}

#[test]
fn needs_is_log_or_dump() {
    let (pack, diags) = load(&rule("count(dmesg) > 0", "needs: memory\n"));
    assert!(pack.rules.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].code.as_str(), "R013");
    assert_eq!(diags[0].line_col(), (7, 8), "{}", diags[0].render());
    assert!(diags[0].help.is_some());
}

fn pack() -> RulePack {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let (pack, diags) = RulePack::load_dir(&dir).expect("rules/ reads");
    assert!(diags.is_empty(), "{diags:?}");
    pack
}

/// The rules of `rules/` that need only the log; every other needs a dump.
const LOG_RULES: &[&str] = &["SCHED-0001"];

#[test]
fn the_pack_splits_into_log_rules_and_dump_rules() {
    let pack = pack();
    let log: Vec<&str> = pack
        .rules
        .iter()
        .filter(|r| r.need == Need::Log)
        .map(|r| r.doc.id.as_str())
        .collect();
    assert_eq!(log, LOG_RULES);
    assert!(pack
        .rules
        .iter()
        .all(|r| r.need == Need::Log || r.need == Need::Dump));
}

/// A console log of a module's soft lockup, then its NULL dereference and
/// the panic, one line a record.
pub fn synthetic_log() -> Vec<LogRecord> {
    let text = "\
Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2025-01-01)
Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0
watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [vmt_spin:123]
Modules linked in: vmtriage_scen(OE) virtio_blk
CPU: 1 PID: 123 Comm: vmt_spin Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
RIP: 0010:vmt_spin+0x10/0x20 [vmtriage_scen]
Call Trace:
 <TASK>
 kthread+0xd7/0x100
 ret_from_fork+0x1f/0x30
 </TASK>
BUG: kernel NULL pointer dereference, address: 0000000000000000
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 101 Comm: insmod Kdump: loaded Tainted: G           OEL     6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
RIP: 0010:vmt_init+0x117/0x1000 [vmtriage_scen]
Call Trace:
 <TASK>
 do_one_initcall+0x59/0x220
 do_init_module+0x4a/0x1f0
 </TASK>
Modules linked in: vmtriage_scen(OE+) virtio_blk
CR2: 0000000000000000
Kernel panic - not syncing: Fatal exception";
    text.lines()
        .enumerate()
        .map(|(i, l)| LogRecord {
            seq: i as u64,
            level: if l.starts_with(' ') { 4 } else { 0 },
            timestamp_ns: 1_000_000_000 + i as u64 * 1000,
            text: l.to_string(),
        })
        .collect()
}

/// On a log alone the log rules give their findings and every other rule
/// is skipped as `needs a dump`: none fails, none is silently false.
#[test]
fn a_log_alone_runs_the_log_rules_and_skips_the_rest() {
    let pack = pack();
    let m = Model::of_log(synthetic_log(), Some("6.1.0-56-cloud-amd64".into()));
    assert!(!m.has_dump());
    let res = pack.scan(&m);
    assert_eq!(res.release, "6.1.0-56-cloud-amd64");
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    let fired: Vec<&str> = res.diagnoses.iter().map(|d| d.rule.as_str()).collect();
    assert_eq!(fired, ["SCHED-0001"], "{:#?}", res.diagnoses);
    assert_eq!(
        res.diagnoses[0].message,
        "Soft lockup on CPU 1 in task vmt_spin:123, spinning in vmt_spin (1 report(s))."
    );
    let mut skipped: Vec<&str> = Vec::new();
    for s in &res.skipped {
        assert_eq!(s.reason, SkipReason::NeedsDump, "{s:?}");
        skipped.push(&s.rule);
    }
    let dump_rules: Vec<&str> = pack
        .rules
        .iter()
        .map(|r| r.doc.id.as_str())
        .filter(|id| !LOG_RULES.contains(id))
        .collect();
    assert_eq!(skipped, dump_rules);
    let json = serde_json::to_value(&res).unwrap();
    assert_eq!(json["skipped"][0]["reason"], "needs a dump");
}

/// A rule limited to some kernels runs on a log that names a release in
/// range, is skipped by `applies_to` out of it, and cannot be placed on a
/// log that names none.
#[test]
fn kernel_ranges_on_a_log() {
    let src = rule("count(dmesg) > 0", "applies_to: { kernels: \">= 6.1\" }\n");
    let (pack, diags) = load(&src);
    assert!(diags.is_empty(), "{diags:?}");
    for (release, fired, reason) in [
        (Some("6.1.0-56-cloud-amd64"), 1, None),
        (
            Some("5.10.0-32-cloud-amd64"),
            0,
            Some(SkipReason::NotThisKernel),
        ),
        (None, 0, Some(SkipReason::UnknownRelease)),
    ] {
        let m = Model::of_log(synthetic_log(), release.map(String::from));
        let res = pack.scan(&m);
        assert_eq!(res.diagnoses.len(), fired, "{release:?}");
        assert_eq!(res.skipped.first().map(|s| s.reason), reason, "{release:?}");
    }
    // Without a release, `kernel.release` is null, never a guess.
    let (pack, _) = load(&rule("count(dmesg) > 0 and kernel.release == null", ""));
    let res = pack.scan(&Model::of_log(synthetic_log(), None));
    assert_eq!(res.diagnoses.len(), 1, "{:?}", res.errors);
    assert_eq!(res.release, "");
}
