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
    /// drgn's reading of the locks its tasks wait for (ELF dumps; see
    /// corpus/lib/locktruth.py).
    #[serde(default)]
    pub lock_truth: Option<PathBuf>,
    /// drgn's reading of the model's subsystems (ELF dumps; see
    /// corpus/lib/modeltruth.py).
    #[serde(default)]
    pub model_truth: Option<PathBuf>,
    /// The file of the same capture the truth was read from (a filtered
    /// kdump file's ELF twin).
    #[serde(default)]
    pub truth_from: Option<String>,
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

/// The dump opened with its ground truth, for a per-dump check. For a
/// filtered kdump file the truth is drgn's reading of its ELF twin (the same
/// capture); what the filter dropped is checked with [`task_coverage`].
pub fn open_with_truth(e: &Entry) -> Result<(Truth, vmtriage_cli::Session), String> {
    let t = truth(e)?;
    let s = vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[])
        .map_err(|err| format!("open: {err:?}"))?;
    Ok((t, s))
}

/// Whether every byte of `[addr, addr+len)` is in this dump, as the dump
/// itself says (its page bitmap, its segments).
pub fn present(k: &kmodel::Kernel, addr: u64, len: u64) -> bool {
    let mut buf = vec![0u8; len as usize];
    k.read(addr, &mut buf).is_ok()
}

/// A filtered dump's partial answer against the truth: each truth task the
/// walk did not list must be named by a gap (its task_struct, its pid, or its
/// thread group's list), and each gap that names a task_struct must be one
/// whose memory is really not in this dump. `listed` holds the pids read;
/// `twin` is the same capture unfiltered, where a task whose own memory this
/// dump lacks can still be read.
pub fn task_coverage(
    k: &kmodel::Kernel,
    twin: Option<&kmodel::Kernel>,
    t: &Truth,
    listed: &std::collections::HashSet<i32>,
    gaps: &[kmodel::partial::Gap],
) -> Vec<String> {
    use kmodel::partial::GapKind;
    let mut problems = Vec::new();
    let size = k
        .global("init_task")
        .and_then(|o| o.size())
        .unwrap_or(0x1000);
    let mut uncovered = Vec::new();
    for tt in &t.tasks {
        if listed.contains(&tt.pid) {
            continue;
        }
        let addr = u64::from_str_radix(tt.address.trim_start_matches("0x"), 16).unwrap_or(0);
        // A stretch of the task list between two unreadable nodes is found
        // through the pid table only: a task there is lost when its struct
        // pid is not in the dump either (read from its own task_struct)...
        // (the task_struct read from the unfiltered twin when this dump
        // lacks it too).
        let thread_pid = |kk: &kmodel::Kernel| {
            kk.object(addr, "struct task_struct")
                .and_then(|o| o.member("thread_pid"))
                .and_then(|p| p.as_u64())
        };
        let pid_lost = || {
            thread_pid(k)
                .ok()
                .or_else(|| twin.and_then(|tw| thread_pid(tw).ok()))
                .is_some_and(|p| !present(k, p, 64))
        };
        let covered = gaps.iter().any(|g| match g.kind {
            GapKind::Task => g.addr == addr || g.pid == Some(tt.pid),
            GapKind::ThreadList => g.pid == Some(tt.tgid),
            // ... or when the pid table's index lost a node above it.
            GapKind::TaskList => pid_lost() || gaps.iter().any(|g| g.kind == GapKind::IndexNode),
            _ => false,
        });
        if !covered {
            uncovered.push(format!(
                "{} (task_struct {}, {})",
                tt.pid,
                tt.address,
                if present(k, addr, size) {
                    "present in the dump"
                } else {
                    "not in the dump"
                }
            ));
        }
    }
    if !uncovered.is_empty() {
        problems.push(format!(
            "{} truth task(s) neither listed nor reported unreadable: {}",
            uncovered.len(),
            uncovered[..uncovered.len().min(8)].join(", ")
        ));
    }
    for g in gaps.iter().filter(|g| g.kind == GapKind::Task) {
        if present(k, g.addr, size) {
            problems.push(format!(
                "reported unreadable, but the dump has its memory: {}",
                g.describe()
            ));
        }
    }
    problems
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

/// An address as the truth files write it (`0xffff…`).
pub fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

/// A drgn reading kept beside an ELF dump (`lock_truth`, `model_truth`):
/// `None` for other formats (their ELF twin is read), an error for an ELF
/// dump whose reading is missing (corpus/build adds it).
pub fn reading<T: serde::de::DeserializeOwned>(
    e: &Entry,
    path: Option<&std::path::Path>,
    what: &str,
) -> Result<Option<T>, String> {
    let Some(path) = path else {
        if e.format == "elf" {
            return Err(format!("no {what} for this ELF dump: run corpus/build"));
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| format!("{}: {err}", path.display()))
}

/// The ids of the pack's rules that need only the log (`needs: log`).
pub fn log_rules(pack: &vmtriage_rules::RulePack) -> Vec<String> {
    pack.rules
        .iter()
        .filter(|r| r.need == vmtriage_rules::Need::Log)
        .map(|r| r.doc.id.clone())
        .collect()
}
