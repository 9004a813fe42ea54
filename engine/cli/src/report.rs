//! What `info`, `ps` and `dmesg` print, as data (JSON) and as text.

use kmodel::partial::Gap;
use kmodel::tasks::Task;
use kmodel::titles::Title;
use kmodel::{Kernel, Result};
use serde::Serialize;
use vmcore::DumpFormat;
use vmtriage_rules::model::Model;

#[derive(Debug, Serialize)]
pub struct Info {
    pub release: String,
    pub build_id: Option<String>,
    pub format: String,
    pub compression: String,
    pub dump_level: Option<u32>,
    pub uptime_s: Option<f64>,
    pub jiffies: Option<u64>,
    pub crashed_pid: Option<i32>,
    pub crashed_cpu: Option<u32>,
    pub panic_message: Option<String>,
    pub kaslr_offset: String,
    /// Where symbols, types and unwind tables come from (a debug vmlinux,
    /// or the dump's own memory when none was found).
    pub debuginfo: String,
    pub paging_levels: u32,
    pub cpus: usize,
    /// Tasks that could be read.
    pub tasks: Option<usize>,
    /// What happened and where (`<kind> in <function> [module]`), and the
    /// signature that groups dumps of one bug (see [`kmodel::titles`]).
    pub title: TitleRow,
    /// What the task walk could not read (empty: complete).
    pub partial: Vec<GapRow>,
    #[serde(skip)]
    pub gaps: Vec<Gap>,
}

/// A dump's title as `info` shows it (the kind by its stable name).
#[derive(Debug, Serialize)]
pub struct TitleRow {
    pub kind: &'static str,
    pub function: Option<String>,
    pub module: Option<String>,
    pub text: String,
    pub note: Option<String>,
    pub frames: Vec<String>,
    pub signature: String,
}

impl TitleRow {
    pub fn of(t: &Title) -> TitleRow {
        TitleRow {
            kind: t.kind.slug(),
            function: t.function.clone(),
            module: t.module.clone(),
            text: t.text.clone(),
            note: t.note.clone(),
            frames: t.frames.clone(),
            signature: t.signature.clone(),
        }
    }
}

/// The dump's title as the kernel model gives it, with the rules' stacks
/// and no rule run.
pub fn dump_title(k: &Kernel) -> Title {
    let stacks = crate::scan::ScanStacks::new(k);
    let model = Model::new(k, &stacks);
    kmodel::titles::title(k, &model, None)
}

pub fn info(k: &Kernel) -> Result<Info> {
    let (format, compression, dump_level) = match k.dump.format() {
        DumpFormat::Elf {
            qemu_header_quirk,
            flattened,
        } => (
            format!(
                "elf{}{}",
                if flattened { " (flattened)" } else { "" },
                if qemu_header_quirk { " (QEMU)" } else { "" }
            ),
            "none".to_string(),
            None,
        ),
        DumpFormat::Kdump {
            compression,
            dump_level,
            flattened,
            incomplete,
        } => (
            format!(
                "kdump{}{}",
                if flattened { " (flattened)" } else { "" },
                if incomplete { " (incomplete)" } else { "" }
            ),
            format!("{compression:?}").to_lowercase(),
            dump_level,
        ),
    };
    let crashed = k.crashed_task().ok().flatten();
    let walk = k.task_walk().ok();
    Ok(Info {
        release: k.release.clone(),
        build_id: k
            .dump
            .vmcoreinfo()
            .and_then(|i| i.build_id())
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect()),
        format,
        compression,
        dump_level,
        uptime_s: k.uptime_ns().ok().map(|n| n as f64 / 1e9),
        jiffies: k.jiffies().ok(),
        crashed_pid: crashed.as_ref().map(|t| t.pid),
        crashed_cpu: k.panic_cpu().ok().flatten(),
        panic_message: k.panic_message().ok().flatten(),
        kaslr_offset: format!("{:#x}", k.kaslr_offset),
        debuginfo: k.debug.source_description().to_string(),
        paging_levels: k.paging_levels(),
        cpus: k.online_cpus().map(|c| c.len()).unwrap_or(0),
        tasks: walk.as_ref().map(|w| w.tasks.len()),
        title: TitleRow::of(&dump_title(k)),
        partial: walk.as_ref().map(|w| gap_rows(&w.gaps)).unwrap_or_default(),
        gaps: walk.map(|w| w.gaps).unwrap_or_default(),
    })
}

pub fn info_text(i: &Info) -> String {
    let mut s = String::new();
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    s += &format!("       TITLE: {}\n", i.title.text);
    if let Some(n) = &i.title.note {
        s += &format!("              ({n})\n");
    }
    s += &format!("   SIGNATURE: {}\n", i.title.signature);
    s += &format!("     RELEASE: {}\n", i.release);
    s += &format!("    BUILD-ID: {}\n", opt(i.build_id.clone()));
    s += &format!("   DEBUGINFO: {}\n", i.debuginfo);
    s += &format!(
        "      FORMAT: {}, compression {}{}\n",
        i.format,
        i.compression,
        i.dump_level
            .map(|l| format!(", dump level {l}"))
            .unwrap_or_default()
    );
    s += &format!("        CPUS: {}\n", i.cpus);
    s += &format!(
        "       TASKS: {}{}\n",
        opt(i.tasks.map(|t| t.to_string())),
        if i.partial.is_empty() {
            String::new()
        } else {
            format!(" ({} unreadable, see warnings)", i.partial.len())
        }
    );
    s += &format!(
        "      UPTIME: {}\n",
        opt(i.uptime_s.map(|u| format!("{u:.2} s")))
    );
    s += &format!("     JIFFIES: {}\n", opt(i.jiffies.map(|u| u.to_string())));
    s += &format!("       PANIC: {}\n", opt(i.panic_message.clone()));
    s += &format!(
        "     CRASHED: {}\n",
        match (i.crashed_pid, i.crashed_cpu) {
            (Some(p), Some(c)) => format!("pid {p} on CPU {c}"),
            _ => "-".into(),
        }
    );
    s += &format!("        KASLR: offset {}\n", i.kaslr_offset);
    s += &format!("      PAGING: {}-level\n", i.paging_levels);
    s
}

#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct PsRow {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: Option<i32>,
    pub comm: String,
    pub state: String,
    pub cpu: Option<u32>,
    pub task: String,
    pub kthread: bool,
    pub exiting: bool,
}

/// `ps`: the tasks that could be read, and what could not be.
#[derive(Debug, Serialize)]
pub struct Ps {
    pub tasks: Vec<PsRow>,
    /// Empty for a complete answer.
    pub partial: Vec<GapRow>,
    #[serde(skip)]
    pub gaps: Vec<Gap>,
}

/// One thing a walk could not read, for JSON and warnings.
#[derive(Debug, Serialize, Clone, PartialEq, Eq)]
pub struct GapRow {
    /// `task`, `thread-list`, `task-list`, `pid-table`, `other`.
    pub kind: &'static str,
    pub addr: String,
    /// The task's pid, or the thread group's tgid, where known.
    pub pid: Option<i32>,
    /// `excluded`, `not-in-dump`, `incomplete`, `corrupt`, `bad-pointer`.
    pub reason: &'static str,
    pub detail: String,
}

pub fn gap_rows(gaps: &[Gap]) -> Vec<GapRow> {
    gaps.iter()
        .map(|g| GapRow {
            kind: g.kind.key(),
            addr: format!("{:#x}", g.addr),
            pid: g.pid,
            reason: g.reason.key(),
            detail: g.detail.clone(),
        })
        .collect()
}

/// Warning lines for stderr: grouped, a handful however many gaps.
pub fn gap_warnings(gaps: &[Gap]) -> String {
    let mut s = String::new();
    for line in kmodel::partial::summarize(gaps) {
        s += &format!("warning: partial answer: {line}\n");
    }
    s
}

pub fn ps_row(t: Task<'_>) -> PsRow {
    PsRow {
        pid: t.pid,
        tgid: t.tgid,
        ppid: t.ppid,
        state: t.state.to_string(),
        cpu: t.cpu,
        task: format!("{:x}", t.addr()),
        kthread: t.is_kthread(),
        exiting: t.is_exiting(),
        comm: t.comm,
    }
}

/// Every task that can be read; what cannot is in `partial`.
pub fn ps(k: &Kernel) -> Result<Ps> {
    let w = k.task_walk()?;
    Ok(Ps {
        tasks: w.tasks.into_iter().map(ps_row).collect(),
        partial: gap_rows(&w.gaps),
        gaps: w.gaps,
    })
}

pub fn ps_text(ps: &Ps) -> String {
    let rows = &ps.tasks;
    let mut s = String::from("    PID    PPID  CPU       TASK        ST  COMM\n");
    for r in rows {
        let comm = if r.kthread {
            format!("[{}]", r.comm)
        } else {
            r.comm.clone()
        };
        s += &format!(
            "{:>7} {:>7} {:>4}  {:>16}  {:<2}  {}\n",
            r.pid,
            r.ppid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            r.task,
            r.state,
            comm
        );
    }
    s
}

#[derive(Debug, Serialize)]
pub struct DmesgRow {
    pub level: u8,
    pub timestamp_ns: u64,
    pub text: String,
}

pub fn dmesg(k: &Kernel) -> Result<Vec<DmesgRow>> {
    Ok(k.dmesg()?
        .into_iter()
        .map(|r| DmesgRow {
            level: r.level,
            timestamp_ns: r.timestamp_ns,
            text: r.text,
        })
        .collect())
}

pub fn dmesg_text(rows: &[DmesgRow]) -> String {
    let mut s = String::new();
    for r in rows {
        let secs = r.timestamp_ns / 1_000_000_000;
        let us = (r.timestamp_ns % 1_000_000_000) / 1000;
        for line in r.text.lines() {
            s += &format!("[{secs:>5}.{us:06}] {line}\n");
        }
        if r.text.is_empty() {
            s += &format!("[{secs:>5}.{us:06}]\n");
        }
    }
    s
}
