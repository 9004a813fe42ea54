//! The work on one dump (open, pair with debug info, evaluate rules), the
//! per-build debug-info cache, and the worker processes that isolate it.
//!
//! Isolation: a scan thread cannot be stopped safely from outside (it may
//! hold locks, its memory maps are shared), so with `--isolate process` each
//! job slot is a long-lived child process of the same binary
//! (`vmtriage scan --bulk-worker`) that reads requests on stdin and answers on
//! stdout, one JSON line each. The parent waits for each answer at most
//! `--timeout`; past it, the child is killed and replaced, and the dump gets an
//! error row. The child limits its own heap with `RLIMIT_DATA` (anonymous and
//! private writable memory; the read-only maps of dumps and vmlinux files do
//! not count, unlike with `RLIMIT_AS`, so a 100 GB dump can still be mapped),
//! so a runaway allocation ends that child only. A child keeps its
//! debug-info cache across requests: each build is indexed once per worker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kdebuginfo::KernelDebugInfo;
use serde::{Deserialize, Serialize};
use vmcore::{DumpFormat, Vmcore};
use vmtriage_rules::model::Model;
use vmtriage_rules::pack::RuleRunError;
use vmtriage_rules::{Diagnosis, RulePack, ScanResult};

use crate::session::{dump_identity, with_causes, DebugSource, OpenError, Session};

/// What scanning one dump produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub release: String,
    pub build_id: Option<String>,
    pub format: String,
    pub findings: Vec<Diagnosis>,
    /// The rules that failed to evaluate.
    pub rule_errors: Vec<RuleRunError>,
    /// The rules evaluated (including those whose `applies_to` excluded this kernel).
    pub evaluated: Vec<String>,
    /// The dump could not be scanned: (stage, cause).
    pub error: Option<(String, String)>,
    /// What could not be read (grouped warning lines): the dump was scanned
    /// from partial data.
    #[serde(default)]
    pub partial: Vec<String>,
    pub duration_ms: u64,
    /// The dump's title and signature (see [`kmodel::titles`]).
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    /// The title's kind (`hung-task`, `sysrq-crash`, `no-crash`…).
    #[serde(default)]
    pub title_kind: Option<String>,
    /// `log` for a kernel log read as text; None for a dump.
    #[serde(default)]
    pub kind: Option<String>,
    /// Rules not run for a reason of their own (`needs a dump` on a log).
    #[serde(default)]
    pub not_run: Vec<crate::scan::NotRun>,
    /// A log's form, size and reports.
    #[serde(default)]
    pub log: Option<crate::log::LogSummary>,
}

/// A job for a worker: a dump and the rules to evaluate (None: all).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    #[serde(with = "path_as_key")]
    pub path: PathBuf,
    pub rules: Option<Vec<String>>,
}

/// A request's path as its lossless key: JSON holds only UTF-8, and a
/// file name need not be.
mod path_as_key {
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::bulk::discover::{key_path, path_key};

    pub fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&path_key(p))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(key_path(&String::deserialize(d)?))
    }
}

pub fn format_name(f: DumpFormat) -> String {
    match f {
        DumpFormat::Elf { flattened, .. } => {
            if flattened {
                "elf-flattened".into()
            } else {
                "elf".into()
            }
        }
        DumpFormat::Kdump {
            compression,
            flattened,
            incomplete,
            ..
        } => {
            let mut s = format!("kdump-{}", format!("{compression:?}").to_lowercase());
            if flattened {
                s += "-flattened";
            }
            if incomplete {
                s += "-incomplete";
            }
            s
        }
    }
}

/// A build's debug info once made. A failure is not kept: made from one
/// dump's memory, it may be that dump's own (a copy cut short lacks the
/// pages of its kallsyms tables) and must not fail the build's other dumps.
/// The lock is held while the info is made, so a build is indexed once.
type Slot = Arc<Mutex<Option<Arc<KernelDebugInfo>>>>;

/// Debug info per build: opened and indexed once, shared by every dump of
/// that build.
pub struct DebugCache {
    vmlinux: Option<PathBuf>,
    dirs: Vec<PathBuf>,
    source: DebugSource,
    slots: Mutex<HashMap<String, Slot>>,
    /// How many vmlinux files were opened and indexed.
    pub opened: AtomicUsize,
}

impl DebugCache {
    pub fn new(vmlinux: Option<PathBuf>, dirs: Vec<PathBuf>, source: DebugSource) -> DebugCache {
        DebugCache {
            vmlinux,
            dirs,
            source,
            slots: Mutex::new(HashMap::new()),
            opened: AtomicUsize::new(0),
        }
    }

    /// The debug info of a dump's build: its debug vmlinux, else (as a
    /// session does) symbols, types and unwind tables from the dump's own
    /// memory; either is shared by every dump of the build.
    fn get(
        &self,
        release: &str,
        build_id: Option<&str>,
        core: &Vmcore,
    ) -> Result<Arc<KernelDebugInfo>, String> {
        let key = match (&self.vmlinux, build_id) {
            (Some(v), _) => format!("path:{}", v.display()),
            (None, Some(b)) => format!("build-id:{b}"),
            (None, None) => format!("release:{release}"),
        };
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut made = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = made.as_ref() {
            return Ok(Arc::clone(d));
        }
        let d = {
            let d = match self.source {
                DebugSource::Memory => crate::session::memory_debuginfo(core).map_err(|e| {
                    format!(
                        "the dump's own tables (--debuginfo none): {}",
                        with_causes(&e)
                    )
                })?,
                DebugSource::Dwarf => {
                    let path = match &self.vmlinux {
                        Some(p) => p.clone(),
                        None => kdebuginfo::find_vmlinux(release, build_id, &self.dirs)
                            .map_err(|e| with_causes(&e))?,
                    };
                    crate::session::open_debuginfo(&path).map_err(|e| with_causes(&e))?
                }
                // As a session chooses (`session::auto_debuginfo`): the debug
                // vmlinux, a plain vmlinux or vmlinuz of the build, the dump's
                // memory. A worker says nothing of the choice (`info` does).
                DebugSource::Auto => {
                    let (d, notes) =
                        crate::session::auto_debuginfo(core, self.vmlinux.as_deref(), &self.dirs);
                    d.map_err(|e| match e {
                        e @ OpenError::NoVmlinux { .. } => format!(
                            "{} (pass --vmlinux PATH or --debuginfo-dir DIR); the dump's own tables \
                             could not stand in: {}",
                            with_causes(&e),
                            notes.join("; ")
                        ),
                        e => with_causes(&e),
                    })?
                }
            };
            Arc::new(d)
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        *made = Some(Arc::clone(&d));
        Ok(d)
    }
}

/// Scans one dump in this process.
pub fn scan_one(
    path: &Path,
    pack: &RulePack,
    only: Option<&[String]>,
    cache: &DebugCache,
) -> Outcome {
    let t0 = Instant::now();
    // The dump's title comes from the most severe rule that fires with a
    // `dump_title:`: a run of only some rules also runs the rules that give
    // titles, so the stored title is the one a full scan gives (their rows
    // are replaced with what they find again).
    let with_titled: Option<Vec<String>> = only.map(|o| {
        let mut v = o.to_vec();
        for r in &pack.rules {
            if r.dump_title.is_some() && !v.contains(&r.doc.id) {
                v.push(r.doc.id.clone());
            }
        }
        v
    });
    let only = with_titled.as_deref();
    let mut out = Outcome::default();
    let fail = |mut out: Outcome, stage: &str, msg: String| {
        out.error = Some((stage.to_string(), msg));
        out.duration_ms = t0.elapsed().as_millis() as u64;
        out
    };
    let core = match Vmcore::open(path) {
        Ok(c) => c,
        // No dump: perhaps a kernel log.
        Err(e @ vmcore::VmcoreError::NotADump { .. }) => {
            return match crate::log::open(path, &e) {
                Ok(l) => {
                    let mut o = crate::scan::scan_log(pack, &l);
                    o.duration_ms = t0.elapsed().as_millis() as u64;
                    o
                }
                Err(e) => fail(out, "open", with_causes(&e)),
            }
        }
        Err(e) => return fail(out, "open", with_causes(&e)),
    };
    out.format = format_name(core.format());
    (out.release, out.build_id) = dump_identity(&core);
    let debug = match cache.get(&out.release, out.build_id.as_deref(), &core) {
        Ok(d) => d,
        Err(e) => return fail(out, "debuginfo", e),
    };
    let s = match Session::from_parts(path, core, debug) {
        Ok(s) => s,
        Err(e) => return fail(out, "kernel", with_causes(&e)),
    };
    out.release = s.kernel.release.clone();
    let stacks = crate::scan::ScanStacks::new(&s.kernel);
    let model = Model::new(&s.kernel, &stacks);
    out.evaluated = pack
        .rules
        .iter()
        .filter(|r| only.is_none_or(|o| o.contains(&r.doc.id)))
        .map(|r| r.doc.id.clone())
        .collect();
    let mut res = pack.scan_only(&model, only);
    let ran = out.evaluated.len().saturating_sub(res.skipped.len());
    if let Some(why) = unreadable(&model, &mut res, ran) {
        return fail(out, "read", why);
    }
    // After the rules: the title reads the model they read.
    let title = kmodel::titles::title(&s.kernel, &model, res.dump_title.as_deref());
    out.title_kind = Some(title.kind.slug().to_string());
    out.title = Some(title.text);
    out.signature = Some(title.signature);
    (out.findings, out.rule_errors, out.partial) = (res.diagnoses, res.errors, res.partial);
    out.duration_ms = t0.elapsed().as_millis() as u64;
    out
}

/// Why a scanned dump is unreadable rather than clean, if it is: its basic
/// structures — the task list, the kernel log — cannot be read at all and
/// no rule found anything, or every rule that ran (two or more) failed. A
/// dump cut short keeps its headers and loses the pages its structures are
/// on: the rules then fail one by one, and "no diagnoses" (a "no crash"
/// title from an unread log) would be a wrong answer. A basic structure
/// that fails beside findings makes the dump partial instead; one rule
/// failing is that rule's error row.
fn unreadable(model: &Model, res: &mut ScanResult, ran: usize) -> Option<String> {
    if ran >= 2 && res.errors.len() >= ran {
        let first = &res.errors[0];
        return Some(format!(
            "the dump's memory could not be read: every rule failed ({ran} of {ran}), the first ({}) with: {}",
            first.rule, first.message
        ));
    }
    let mut lost = Vec::new();
    if let Err(e) = model.tasks() {
        lost.push(format!("the task list cannot be walked ({e})"));
    }
    if let Err(e) = model.dmesg() {
        lost.push(format!("the kernel log cannot be read ({e})"));
    }
    if lost.is_empty() {
        return None;
    }
    if res.diagnoses.is_empty() {
        return Some(format!(
            "the dump's memory could not be read: {}; {} of {ran} rule(s) failed",
            lost.join("; "),
            res.errors.len()
        ));
    }
    res.partial.extend(lost);
    None
}

/// Scans one dump, turning a panic into an error outcome.
pub fn scan_one_guarded(
    path: &Path,
    pack: &RulePack,
    only: Option<&[String]>,
    cache: &DebugCache,
) -> Outcome {
    let t0 = Instant::now();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scan_one(path, pack, only, cache)
    })) {
        Ok(o) => o,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome {
                error: Some(("panic".into(), format!("internal error: {msg}"))),
                duration_ms: t0.elapsed().as_millis() as u64,
                ..Outcome::default()
            }
        }
    }
}

/// Limits this process's data segment (heap and anonymous maps).
pub fn limit_memory(bytes: u64) {
    if bytes == 0 {
        return;
    }
    let lim = libc::rlimit {
        rlim_cur: bytes as libc::rlim_t,
        rlim_max: bytes as libc::rlim_t,
    };
    // SAFETY: setrlimit with a valid pointer to an initialised struct.
    unsafe {
        libc::setrlimit(libc::RLIMIT_DATA, &lim);
    }
}

/// The worker side: answers requests on stdin until it is closed.
pub fn worker_loop(pack: &RulePack, cache: &DebugCache, max_memory: u64) -> std::io::Result<()> {
    limit_memory(max_memory);
    // The parent reports failures; a panic message on stderr would only break its progress bar.
    std::panic::set_hook(Box::new(|_| {}));
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let out = match serde_json::from_str::<Request>(&line) {
            Ok(req) => scan_one_guarded(&req.path, pack, req.rules.as_deref(), cache),
            Err(e) => Outcome {
                error: Some(("protocol".into(), e.to_string())),
                ..Outcome::default()
            },
        };
        serde_json::to_writer(&mut stdout, &out)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

/// The parent side of one worker process.
pub struct WorkerProc {
    exe: PathBuf,
    args: Vec<String>,
    child: Option<(Child, ChildStdin, Receiver<Option<String>>)>,
    /// Processes started (1 + restarts after a timeout or a crash).
    pub spawned: usize,
}

impl WorkerProc {
    pub fn new(exe: PathBuf, args: Vec<String>) -> WorkerProc {
        WorkerProc {
            exe,
            args,
            child: None,
            spawned: 0,
        }
    }

    fn start(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start worker {}: {e}", self.exe.display()))?;
        let stdin = child.stdin.take().ok_or("worker has no stdin")?;
        let stdout = child.stdout.take().ok_or("worker has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Some(l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(None);
        });
        self.spawned += 1;
        self.child = Some((child, stdin, rx));
        Ok(())
    }

    fn kill(&mut self) -> String {
        match self.child.take() {
            Some((mut c, _, _)) => {
                let _ = c.kill();
                match c.wait() {
                    Ok(st) => describe_exit(st),
                    Err(e) => e.to_string(),
                }
            }
            None => String::new(),
        }
    }

    /// Sends one request and waits for its answer at most `timeout`.
    pub fn call(&mut self, req: &Request, timeout: Option<Duration>) -> Outcome {
        let t0 = Instant::now();
        let err = |stage: &str, msg: String| Outcome {
            error: Some((stage.into(), msg)),
            duration_ms: t0.elapsed().as_millis() as u64,
            ..Outcome::default()
        };
        if self.child.is_none() {
            if let Err(e) = self.start() {
                return err("worker", e);
            }
        }
        let Some((_, stdin, rx)) = self.child.as_mut() else {
            return err("worker", "no worker".into());
        };
        let line = serde_json::to_string(req).unwrap_or_default() + "\n";
        if stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.flush())
            .is_err()
        {
            let why = self.kill();
            return err(
                "worker",
                format!("the worker process died before the dump was sent ({why})"),
            );
        }
        let got = match timeout {
            Some(t) => rx.recv_timeout(t),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match got {
            Ok(Some(l)) => match serde_json::from_str::<Outcome>(&l) {
                Ok(o) => o,
                Err(e) => {
                    self.kill();
                    err("worker", format!("unreadable answer from the worker: {e}"))
                }
            },
            Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                let why = self.kill();
                err(
                    "crash",
                    format!("the worker scanning this dump died ({why}); out of memory under --max-memory, or a crash"),
                )
            }
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                err(
                    "timeout",
                    format!(
                        "scanning took longer than --timeout {}s; the worker was stopped",
                        timeout.unwrap_or_default().as_secs_f64()
                    ),
                )
            }
        }
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if let Some((mut c, stdin, _)) = self.child.take() {
            drop(stdin); // EOF: the worker ends by itself
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => return,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        return;
                    }
                }
            }
        }
    }
}

fn describe_exit(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match st.signal() {
        Some(9) => "killed by SIGKILL".into(),
        Some(6) => "aborted (SIGABRT, e.g. an allocation over the memory limit)".into(),
        Some(11) => "segmentation fault".into(),
        Some(s) => format!("killed by signal {s}"),
        None => format!("exit status {}", st.code().unwrap_or(-1)),
    }
}
