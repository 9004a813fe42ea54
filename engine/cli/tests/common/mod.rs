//! The corpus manifest and ground truth (written by corpus/build), for tests.
#![allow(dead_code)]

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub scenario: String,
    pub release: String,
    pub kernel_series: String,
    pub format: String,
    pub compression: String,
    pub dump_level: u32,
    pub capture: String,
    pub paging_levels: u32,
    pub vmlinux: PathBuf,
    pub truth: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// drgn's verdict on this very file, for kdump captures: "ok", or the
    /// error it met (makedumpfile may exclude pages the kernel's lists live in).
    #[serde(default)]
    pub drgn_reading: Option<String>,
}

impl Entry {
    pub fn name(&self) -> String {
        format!(
            "{}/{}/{}",
            self.scenario,
            self.kernel_series,
            self.path.file_name().unwrap().to_string_lossy()
        )
    }
}

#[derive(Debug, Deserialize)]
struct Manifest {
    dumps: Vec<Entry>,
}

pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("VMTRIAGE_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/vmtriage-corpus"),
    }
}

/// The manifest's entries, or an error telling how to build the corpus.
pub fn manifest() -> Result<Vec<Entry>, String> {
    let p = corpus_dir().join("manifest.json");
    let text = std::fs::read_to_string(&p).map_err(|e| {
        format!(
            "{}: {e}; build the corpus first: sudo corpus/build",
            p.display()
        )
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(m.dumps)
}

#[derive(Debug, Deserialize)]
pub struct Truth {
    pub release: String,
    pub crashed_pid: Option<i32>,
    pub crashed_cpu: Option<u32>,
    pub tasks: Vec<TruthTask>,
    pub dmesg: Vec<TruthRecord>,
    pub globals: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct TruthTask {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: Option<i32>,
    pub comm: String,
    pub state: String,
    pub cpu: u32,
    pub kthread: bool,
    pub exiting: bool,
    pub sigkill_pending: Option<bool>,
    pub address: String,
    pub stack: Vec<TruthFrame>,
    pub stack_error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TruthFrame {
    pub function: Option<String>,
    pub inline: bool,
    pub pc: Option<String>,
    pub sp: Option<String>,
    pub lock_var: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct TruthRecord {
    pub level: u8,
    pub timestamp_ns: u64,
    pub text: String,
}

pub fn truth(e: &Entry) -> Result<Truth, String> {
    let text =
        std::fs::read_to_string(&e.truth).map_err(|err| format!("{}: {err}", e.truth.display()))?;
    serde_json::from_str(&text).map_err(|err| format!("{}: {err}", e.truth.display()))
}

/// drgn's verdict when it could not read this very file (pages excluded by
/// makedumpfile), if so.
pub fn unreadable(e: &Entry) -> Option<&str> {
    e.drgn_reading.as_deref().filter(|r| r.starts_with("error"))
}

/// A file drgn itself cannot read whole: vmtriage must say so — a read error
/// naming the excluded page — rather than answer.
pub fn expect_unreadable(e: &Entry, why: &str) -> Result<(), String> {
    let s = match vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[]) {
        Ok(s) => s,
        Err(err) => {
            let msg = format!("{err:?}");
            return if msg.contains("excluded") {
                Ok(())
            } else {
                Err(format!("drgn: {why}; vmtriage: {msg}"))
            };
        }
    };
    match s.kernel.tasks() {
        Err(err) if err.to_string().contains("excluded by the dump level") => Ok(()),
        Err(err) => Err(format!("drgn: {why}; vmtriage failed differently: {err}")),
        Ok(t) => Err(format!(
            "drgn: {why}; vmtriage listed {} tasks from a dump with excluded kernel pages",
            t.len()
        )),
    }
}

/// The dump opened with its ground truth, for a per-dump check; `None` when
/// drgn could not read the file either and vmtriage said so as it must
/// (checked here: the caller has nothing more to compare).
pub fn open_with_truth(e: &Entry) -> Result<Option<(Truth, vmtriage_cli::Session)>, String> {
    if let Some(why) = unreadable(e) {
        return expect_unreadable(e, why).map(|()| None);
    }
    let t = truth(e)?;
    let s = vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[])
        .map_err(|err| format!("open: {err:?}"))?;
    Ok(Some((t, s)))
}

/// One libtest-mimic trial per manifest entry, named `PREFIX/scenario/series/file`;
/// a missing or empty manifest is one failing trial that says how to build it.
pub fn per_dump_trials(
    prefix: &str,
    check: fn(&Entry) -> Result<(), libtest_mimic::Failed>,
) -> Vec<libtest_mimic::Trial> {
    use libtest_mimic::Trial;
    match manifest() {
        Ok(entries) if !entries.is_empty() => entries
            .into_iter()
            .map(|e| Trial::test(format!("{prefix}/{}", e.name()), move || check(&e)))
            .collect(),
        Ok(_) => vec![Trial::test(format!("{prefix}/manifest"), || {
            Err("the corpus manifest lists no dumps".into())
        })],
        Err(msg) => vec![Trial::test(format!("{prefix}/manifest"), move || {
            Err(msg.clone().into())
        })],
    }
}

/// A dump's check result: every problem found, under the dump's name.
pub fn verdict(e: &Entry, problems: &[String]) -> Result<(), libtest_mimic::Failed> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} ({}):\n  {}",
        e.name(),
        e.path.display(),
        problems.join("\n  ")
    )
    .into())
}
