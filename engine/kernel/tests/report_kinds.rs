//! The test set of kernel logs: one directory per report kind under
//! `tests/logs/`, each log headed by `# ` lines that say what it must give:
//!
//! ```text
//! # kind: kasan                 (OopsKind::key of the titled report; `none`)
//! # title: KASAN: slab-use-after-free Read in vmt_read [vmt]   (`none`)
//! # guilty: vmt_read [vmt]      (the title's function and module; `none`)
//! # arch: x86_64 | arm64
//! # corrupted: true             (optional: the report is cut short)
//! # source: where the kernel prints it (file, function)
//! ```
//!
//! The log follows as a console prints it: `[ seconds]` stamps, optional
//! `[  T91]`/`[   C1]` caller ids. The test fails on any log whose kind,
//! title, guilty frame or corrupted mark differs, and when a kind of
//! [`OopsKind::KEYS`] has no log of an architecture that prints it (both,
//! but for [`X86_ONLY`]; [`OPTIONAL`] ones need none).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kmodel::oops::{parse_log, records_of_lines, OopsKind};
use kmodel::titles::{crash_cause, log_title, Kind};

/// Kinds of [`OopsKind::KEYS`] the set need not show (not among the
/// issue's kinds: sysrq's crash trigger, an allocation failure).
const OPTIONAL: &[&str] = &["sysrq", "alloc_failure"];
/// Kinds only x86 prints (its traps and exception names; KMSAN builds
/// for x86_64 only).
const X86_ONLY: &[&str] = &[
    "gpf",
    "divide_error",
    "stack_overflow",
    "double_fault",
    "kmsan",
];

struct Expect {
    kind: String,
    title: String,
    guilty: String,
    arch: String,
    corrupted: bool,
}

fn logs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/logs");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/logs") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).expect("kind directory") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "log") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

/// The header and the log's lines, stamps and caller ids removed.
fn read(path: &Path) -> (Expect, Vec<String>) {
    let text = std::fs::read_to_string(path).expect("log");
    let mut fields = BTreeMap::new();
    let mut lines = Vec::new();
    let mut header = true;
    for l in text.lines() {
        if header {
            if let Some(h) = l.strip_prefix("# ") {
                if let Some((k, v)) = h.split_once(": ") {
                    fields.insert(k.to_string(), v.trim().to_string());
                }
                continue;
            }
            header = false;
        }
        lines.push(unstamped(l).to_string());
    }
    let field = |k: &str| {
        fields
            .get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{}: no `# {k}:` line", path.display()))
    };
    let expect = Expect {
        kind: field("kind"),
        title: field("title"),
        guilty: field("guilty"),
        arch: field("arch"),
        corrupted: fields.get("corrupted").is_some_and(|v| v == "true"),
    };
    assert!(
        fields.contains_key("source"),
        "{}: no source",
        path.display()
    );
    (expect, lines)
}

/// `[  123.456789] ` and then `[  T91] ` or `[    C1] ` go.
fn unstamped(l: &str) -> &str {
    let mut s = l;
    for _ in 0..2 {
        let Some(rest) = s.strip_prefix('[') else {
            break;
        };
        let Some((inside, after)) = rest.split_once(']') else {
            break;
        };
        let inside = inside.trim();
        let stamp = inside.contains('.') && inside.chars().all(|c| c.is_ascii_digit() || c == '.')
            || inside
                .strip_prefix(['T', 'C'])
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if !stamp {
            break;
        }
        s = after.strip_prefix(' ').unwrap_or(after);
    }
    s
}

/// What a log gives: the titled report's kind, the title, the guilty
/// frame and whether the titled report is corrupted.
fn got(lines: &[String]) -> (String, String, String, bool) {
    let records = records_of_lines(lines.iter().map(String::as_str));
    let title = log_title(&records, None);
    if title.kind == Kind::NoCrash {
        return ("none".into(), "none".into(), "none".into(), false);
    }
    let reports = parse_log(&records);
    let kind = match &title.kind {
        Kind::Report(k) => k.key().to_string(),
        // A panic whose report is gone or that names none.
        Kind::Panic(_) => "panic".to_string(),
        other => format!("{other:?}"),
    };
    let guilty = match (&title.function, &title.module) {
        (Some(f), Some(m)) => format!("{f} [{m}]"),
        (Some(f), None) => f.clone(),
        (None, _) => "none".into(),
    };
    // The titled report: the crash's cause, else the first of its kind.
    let corrupted = match crash_cause(&reports).and_then(|c| c.cause.or(c.panic)) {
        Some(r) if reports.iter().any(|x| x.kind.is_panic()) => r.corrupted,
        _ => reports
            .iter()
            .find(|r| r.kind.key() == kind)
            .is_some_and(|r| r.corrupted),
    };
    (kind, title.text, guilty, corrupted)
}

#[test]
fn every_log_gives_its_kind_title_and_guilty_frame() {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut per_arch: BTreeMap<String, usize> = BTreeMap::new();
    let all = logs();
    for path in &all {
        let (want, lines) = read(path);
        let (kind, title, guilty, corrupted) = got(&lines);
        let name = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap_or(path)
            .display()
            .to_string();
        if (kind.as_str(), title.as_str(), guilty.as_str(), corrupted)
            != (
                want.kind.as_str(),
                want.title.as_str(),
                want.guilty.as_str(),
                want.corrupted,
            )
        {
            problems.push(format!(
                "{name}:\n  want {} | {} | {} | corrupted {}\n  got  {kind} | {title} | {guilty} | corrupted {corrupted}",
                want.kind, want.title, want.guilty, want.corrupted
            ));
        }
        seen.entry(want.kind.clone())
            .or_default()
            .insert(want.arch.clone());
        *per_arch.entry(want.arch).or_default() += 1;
    }
    let both = OopsKind::KEYS
        .iter()
        .filter(|k| !OPTIONAL.contains(k) && !X86_ONLY.contains(k));
    for k in both {
        for arch in ["x86_64", "arm64"] {
            if !seen.get(*k).is_some_and(|a| a.contains(arch)) {
                problems.push(format!("no {arch} log of kind {k}"));
            }
        }
    }
    for k in X86_ONLY {
        if !seen.get(*k).is_some_and(|a| a.contains("x86_64")) {
            problems.push(format!("no x86_64 log of kind {k}"));
        }
    }
    println!(
        "{} logs, {} kinds (and `none`); by architecture: {per_arch:?}",
        all.len(),
        seen.keys().filter(|k| *k != "none").count()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn stamps_and_caller_ids_go() {
    assert_eq!(unstamped("[  123.456789] BUG: x"), "BUG: x");
    assert_eq!(unstamped("[  123.456789] [  T91] BUG: x"), "BUG: x");
    assert_eq!(unstamped("[    0.000000] [    C1] a"), "a");
    assert_eq!(
        unstamped("[<ffffffff81000000>] f+0x1/0x2"),
        "[<ffffffff81000000>] f+0x1/0x2"
    );
    assert_eq!(
        unstamped("[0000000000000008] pgd=0"),
        "[0000000000000008] pgd=0"
    );
}
