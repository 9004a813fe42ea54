//! A kernel log as the input of `info` and `scan`: the file is read here
//! (regular files only, at most [`logtext::MAX_BYTES`] from its end);
//! recognising, reading, the reports and the title are the kernel
//! model's ([`kmodel::logtext`], [`kmodel::oops`], [`kmodel::titles`]).
//! This module holds what `info` and `scan` print of it.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use kmodel::logtext::{self, Clock, LogText};
use kmodel::oops::OopsReport;
use kmodel::titles::Title;
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::report::TitleRow;

/// A file that is neither a dump nor a kernel log, or cannot be read.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum LogError {
    #[error("cannot open {}: neither a crash dump nor a kernel log", path.display())]
    #[diagnostic(
        code(vmtriage::input),
        help("vmtriage reads crash dumps (ELF vmcores: /proc/vmcore copies, makedumpfile -E, QEMU dump-guest-memory; kdump-compressed files; makedumpfile flattened streams) and kernel logs as text (dmesg output, vmcore-dmesg.txt, journalctl -k, syslog lines, console captures). A file compressed as a whole (.gz, .xz) must be decompressed first; a dump cut short must be copied again.")
    )]
    Neither {
        path: PathBuf,
        /// Why it is no dump, and why no log.
        #[source]
        why: Why,
    },
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(vmtriage::input), help("check the path and its permissions"))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Both refusals, said together.
#[derive(Debug, thiserror::Error)]
#[error("{dump}; {log}")]
pub struct Why {
    pub dump: String,
    pub log: String,
}

/// A log read from a file: the text, its reports and its title.
pub struct LogFile {
    pub text: LogText,
    pub reports: Vec<OopsReport>,
    pub title: Title,
}

/// The bytes of a file, at most [`logtext::MAX_BYTES`] from its end (one
/// more, so the reader starts at a whole line).
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = vmcore::open_regular(path)?;
    let len = f.metadata()?.len();
    let keep = logtext::MAX_BYTES as u64 + 1;
    if len > keep {
        f.seek(SeekFrom::Start(len - keep))?;
    }
    let mut b = Vec::with_capacity(len.min(keep) as usize);
    f.take(keep).read_to_end(&mut b)?;
    Ok(b)
}

/// Reads the log of a file that is no dump (`dump`: why not, as the dump
/// reader said).
pub fn open(path: &Path, dump: &dyn std::fmt::Display) -> Result<LogFile, LogError> {
    let bytes = read_bytes(path).map_err(|source| LogError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = logtext::read(&bytes).map_err(|e| LogError::Neither {
        path: path.to_path_buf(),
        why: Why {
            dump: dump.to_string(),
            log: e.to_string(),
        },
    })?;
    Ok(of_text(text))
}

/// The reports and the title of a log.
pub fn of_text(text: LogText) -> LogFile {
    let reports = kmodel::oops::parse_log(&text.records);
    let title = kmodel::titles::log_title(&text.records, None);
    LogFile {
        text,
        reports,
        title,
    }
}

/// One report of the log, as `info` and `scan` list it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportRow {
    /// The kind's stable name (`null_deref`, `soft_lockup`…).
    pub kind: String,
    pub timestamp_s: f64,
    pub headline: String,
    /// Where it happened: the first frame that is no generic function.
    pub site: Option<String>,
    pub task: Option<String>,
    pub cpu: Option<u32>,
}

/// What a log is: its form, size, time span, release and reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LogSummary {
    /// The form's stable name (`dmesg`, `plain`, `syslog`, `iso`,
    /// `leveled`, `kmsg`, `console`).
    pub form: String,
    /// The form as words.
    pub form_name: String,
    pub lines: usize,
    pub records: usize,
    /// Lines that are no kernel record (user space, other programs, noise).
    pub skipped_lines: usize,
    /// `since-boot`, `wall` or `none`: what the time stamps count.
    pub clock: String,
    /// From the first record's time to the last's, in seconds.
    pub span_s: Option<f64>,
    /// The release of its `Linux version …` line.
    pub release: Option<String>,
    /// The text ends in the middle of a line.
    pub cut: bool,
    /// Its start was left out past a bound (the newest part was read).
    pub head_dropped: bool,
    pub reports: Vec<ReportRow>,
}

impl LogSummary {
    pub fn of(l: &LogFile) -> LogSummary {
        let t = &l.text;
        LogSummary {
            form: t.form.key().into(),
            form_name: t.form.name().into(),
            lines: t.lines,
            records: t.records.len(),
            skipped_lines: t.skipped,
            clock: match t.clock {
                Clock::SinceBoot => "since-boot",
                Clock::Wall => "wall",
                Clock::None => "none",
            }
            .into(),
            span_s: t.span_ns().map(|n| n as f64 / 1e9),
            release: t.release.clone(),
            cut: t.cut,
            head_dropped: t.dropped_head,
            reports: l
                .reports
                .iter()
                .map(|r| ReportRow {
                    kind: r.kind.key().into(),
                    timestamp_s: r.timestamp_ns as f64 / 1e9,
                    headline: r.headline.clone(),
                    site: r.site(),
                    task: r.task.as_ref().map(|t| format!("{} {}", t.pid, t.comm)),
                    cpu: r.cpu,
                })
                .collect(),
        }
    }

    /// One line: the form and the size.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "kernel log ({}): {} lines, {} records",
            self.form_name, self.lines, self.records
        );
        if let Some(span) = self.span_s {
            s += &format!(", {span:.1} s");
            if self.clock == "wall" {
                s += " of wall-clock time";
            }
        }
        if self.cut {
            s += ", cut off mid-line";
        }
        if self.head_dropped {
            s += ", its start left out";
        }
        s
    }

    /// The reports, one line each, indented by `indent`.
    pub fn reports_text(&self, indent: &str) -> String {
        let mut s = String::new();
        for r in &self.reports {
            s += &format!(
                "{indent}[{:>12.6}] {:<14} {}",
                r.timestamp_s, r.kind, r.headline
            );
            if let Some(site) = &r.site {
                s += &format!(" — in {site}");
            }
            s += "\n";
        }
        s
    }
}

/// What `info LOG` prints.
#[derive(Debug, Serialize)]
pub struct LogInfo {
    /// `log`: what `info` of a dump prints differs.
    pub kind: &'static str,
    pub title: TitleRow,
    #[serde(flatten)]
    pub log: LogSummary,
}

pub fn info(l: &LogFile) -> LogInfo {
    LogInfo {
        kind: "log",
        title: TitleRow::of(&l.title),
        log: LogSummary::of(l),
    }
}

pub fn info_text(i: &LogInfo) -> String {
    let l = &i.log;
    let mut s = String::new();
    s += &format!("       TITLE: {}\n", i.title.text);
    if let Some(n) = &i.title.note {
        s += &format!("              ({n})\n");
    }
    s += &format!("   SIGNATURE: {}\n", i.title.signature);
    s += &format!(
        "     RELEASE: {}\n",
        l.release
            .as_deref()
            .unwrap_or("- (no `Linux version` line)")
    );
    s += &format!("        FORM: {}\n", l.form_name);
    s += &format!(
        "       LINES: {} ({} kernel records, {} other lines)\n",
        l.lines, l.records, l.skipped_lines
    );
    let span = match (l.span_s, l.clock.as_str()) {
        (Some(x), "wall") => format!("{x:.3} s (wall clock)"),
        (Some(x), _) => format!("{x:.3} s"),
        (None, _) => "- (no time stamps)".into(),
    };
    s += &format!("   TIME SPAN: {span}\n");
    if l.cut || l.head_dropped {
        let mut what = Vec::new();
        if l.head_dropped {
            what.push("its start left out (past the reader's bounds)");
        }
        if l.cut {
            what.push("cut off mid-line at its end");
        }
        s += &format!("   INCOMPLETE: {}\n", what.join("; "));
    }
    s += &format!("     REPORTS: {}\n", l.reports.len());
    s += &l.reports_text("  ");
    s
}
