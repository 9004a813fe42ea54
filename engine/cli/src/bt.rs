//! `vmtriage bt`: kernel stack traces of tasks, as crash prints them (text)
//! or as JSON.

use std::fmt::Write as _;

use kmodel::tasks::Task;
use kmodel::Kernel;
use kunwind::{Frame, StackTrace, Unwinder};
use serde::Serialize;

/// Which tasks to show.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// These pids (all threads with that pid; pid 0 = the idle tasks).
    pub pids: Vec<i32>,
    /// Every task, the per-CPU idle tasks first.
    pub all: bool,
    /// The task running on each online CPU.
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct BtFrame {
    pub function: Option<String>,
    /// Hex, `0x…` (64-bit values do not fit JSON numbers everywhere).
    pub pc: String,
    pub sp: String,
    pub offset: u64,
    pub inline: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: Option<String>,
    /// Registers of an exception frame crossed just before this frame (or
    /// of the CPU, for the first frame of a running task), by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regs: Option<Vec<(String, String)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BtTask {
    pub pid: i32,
    pub comm: String,
    pub task: String,
    pub cpu: Option<u32>,
    pub state: String,
    /// Whether the task was running on a CPU (its registers are the CPU's).
    pub active: bool,
    pub frames: Vec<BtFrame>,
    /// Why the trace stopped early, if it did.
    pub error: Option<String>,
}

/// The idle task of each online CPU (pid 0, not on the task list).
fn idle_tasks(k: &Kernel) -> Vec<Task<'_>> {
    k.online_cpus()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|cpu| k.idle_task(cpu).ok())
        .collect()
}

/// The tasks a selection names, in the order crash would show them, and
/// what the task walk could not read (for `--all` and pids).
pub fn select<'k>(
    k: &'k Kernel,
    sel: &Selection,
) -> kmodel::Result<(Vec<Task<'k>>, Vec<kmodel::partial::Gap>)> {
    let mut out: Vec<Task<'k>> = Vec::new();
    let mut gaps = Vec::new();
    if sel.active {
        for cpu in k.online_cpus()? {
            if let Ok(t) = k.cpu_curr(cpu) {
                out.push(t);
            }
        }
    }
    if sel.all {
        let w = k.task_walk()?;
        out.extend(idle_tasks(k));
        out.extend(w.tasks);
        gaps = w.gaps;
    } else if !sel.pids.is_empty() {
        let w = k.task_walk()?;
        let tasks = w.tasks;
        // Only the gaps that may hide a named pid.
        gaps = w
            .gaps
            .into_iter()
            .filter(|g| g.pid.is_none_or(|p| sel.pids.contains(&p)))
            .collect();
        for &pid in &sel.pids {
            if pid == 0 {
                out.extend(idle_tasks(k));
            } else {
                out.extend(tasks.iter().filter(|t| t.pid == pid).cloned());
            }
        }
    } else if !sel.active {
        // Nothing named: the crashed task, else whatever ran on each CPU.
        match k.crashed_task().ok().flatten() {
            Some(t) => out.push(t),
            None => {
                for cpu in k.online_cpus()? {
                    if let Ok(t) = k.cpu_curr(cpu) {
                        out.push(t);
                    }
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| seen.insert(t.addr()));
    Ok((out, gaps))
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn frame_row(f: &Frame) -> BtFrame {
    BtFrame {
        function: f.function.clone(),
        pc: hex(f.pc),
        sp: hex(f.sp),
        offset: f.offset,
        inline: f.inline,
        file: f.file.clone(),
        line: f.line,
        module: f.module.clone(),
        regs: f.regs.map(|r| {
            r.known()
                .map(|(reg, v)| (reg.name().to_string(), hex(v)))
                .collect()
        }),
    }
}

/// One task's trace as a row.
pub fn task_row(k: &Kernel, task: &Task<'_>, trace: &StackTrace) -> BtTask {
    let _ = k;
    BtTask {
        pid: task.pid,
        comm: task.comm.clone(),
        task: format!("{:x}", task.addr()),
        cpu: task.cpu,
        state: task.state.to_string(),
        active: matches!(trace.start, Some(kunwind::Start::Cpu(_))),
        frames: trace.frames.iter().map(frame_row).collect(),
        error: trace.error.clone(),
    }
}

/// Unwinds the selected tasks (with a fresh unwinder).
/// The selected tasks' traces, and what the task walk could not read.
pub fn bt(
    k: &Kernel,
    sel: &Selection,
) -> Result<(Vec<BtTask>, Vec<kmodel::partial::Gap>), kunwind::Error> {
    let u = Unwinder::new(k)?;
    bt_with(k, &u, sel)
}

/// Unwinds the selected tasks with a shared unwinder (its cache is reused),
/// on up to two threads.
pub fn bt_with(
    k: &Kernel,
    u: &Unwinder,
    sel: &Selection,
) -> Result<(Vec<BtTask>, Vec<kmodel::partial::Gap>), kunwind::Error> {
    let (tasks, gaps) = select(k, sel)?;
    Ok((unwind_all(k, u, &tasks), gaps))
}

fn unwind_all(k: &Kernel, u: &Unwinder, tasks: &[Task<'_>]) -> Vec<BtTask> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 2);
    if threads == 1 || tasks.len() < 64 {
        return tasks
            .iter()
            .map(|t| task_row(k, t, &u.stack(k, t)))
            .collect();
    }
    let chunk = tasks.len().div_ceil(threads);
    let rows: Vec<Vec<BtTask>> = std::thread::scope(|s| {
        let handles: Vec<_> = tasks
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|t| task_row(k, t, &u.stack(k, t)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    rows.into_iter().flatten().collect()
}

/// crash-like text: a header per task, one line per frame, the registers
/// of each exception frame crossed.
pub fn bt_text(rows: &[BtTask]) -> String {
    let mut s = String::new();
    for (i, t) in rows.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let cpu = t.cpu.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "PID: {:<7} TASK: {}  CPU: {:<3} COMMAND: \"{}\"",
            t.pid, t.task, cpu, t.comm
        );
        for (n, f) in t.frames.iter().enumerate() {
            if let Some(regs) = &f.regs {
                if n > 0 || !t.active {
                    let _ = writeln!(s, "    [exception RIP: {}]", describe(f));
                } else {
                    let _ = writeln!(s, "    [CPU registers at {}]", describe(f));
                }
                s.push_str(&regs_text(regs));
            }
            let name = describe(f);
            let inline = if f.inline { " (inline)" } else { "" };
            let module = f
                .module
                .as_ref()
                .map(|m| format!(" [{m}]"))
                .unwrap_or_default();
            let _ = write!(
                s,
                " #{n:<2} [{}] {name}{inline}{module} at {}",
                f.sp.trim_start_matches("0x"),
                f.pc.trim_start_matches("0x")
            );
            if let (Some(file), Some(line)) = (&f.file, f.line) {
                let _ = write!(s, "  {file}:{line}");
            }
            s.push('\n');
        }
        if let Some(e) = &t.error {
            let _ = writeln!(s, "    (unwinding stopped: {e})");
        }
    }
    s
}

fn describe(f: &BtFrame) -> String {
    match &f.function {
        Some(n) if f.inline => n.clone(),
        Some(n) => format!("{n}+{:#x}", f.offset),
        None => f.pc.clone(),
    }
}

fn regs_text(regs: &[(String, String)]) -> String {
    let get = |n: &str| {
        regs.iter()
            .find(|(r, _)| r == n)
            .map(|(_, v)| format!("{:0>16}", v.trim_start_matches("0x")))
            .unwrap_or_else(|| "????????????????".into())
    };
    let order: [&[&str]; 7] = [
        &["rip", "rsp", "rflags"],
        &["rax", "rbx", "rcx"],
        &["rdx", "rsi", "rdi"],
        &["rbp", "r8", "r9"],
        &["r10", "r11", "r12"],
        &["r13", "r14", "r15"],
        &["cs", "ss"],
    ];
    let mut s = String::new();
    for line in order {
        s.push_str("    ");
        for (i, r) in line.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let _ = write!(s, "{}: {}", r.to_uppercase(), get(r));
        }
        s.push('\n');
    }
    s
}

/// JSON: an array of `{pid, comm, task, cpu, state, active, frames, error}`.
/// `{"tasks": [...], "partial": [...]}`: `partial` lists what the task
/// walk could not read (empty for a complete answer).
pub fn bt_json(rows: &[BtTask], partial: &[crate::report::GapRow]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "tasks": rows, "partial": partial }))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_inline_and_exception_frames() {
        let f = |name: &str, inline: bool, regs: Option<Vec<(String, String)>>| BtFrame {
            function: Some(name.into()),
            pc: "0xffffffff81000010".into(),
            sp: "0xffffc90000013e00".into(),
            offset: 0x10,
            inline,
            file: Some("kernel/sched/core.c".into()),
            line: Some(10),
            module: None,
            regs,
        };
        let rows = vec![BtTask {
            pid: 1,
            comm: "init".into(),
            task: "ffff888003a1c000".into(),
            cpu: Some(0),
            state: "S".into(),
            active: false,
            frames: vec![
                f("context_switch", true, None),
                f("__schedule", false, None),
                f(
                    "do_syscall_64",
                    false,
                    Some(vec![("rip".into(), "0x10".into())]),
                ),
            ],
            error: None,
        }];
        let t = bt_text(&rows);
        assert!(t.starts_with("PID: 1       TASK: ffff888003a1c000  CPU: 0   COMMAND: \"init\"\n"));
        assert!(t.contains(" #0  [ffffc90000013e00] context_switch (inline) at ffffffff81000010  kernel/sched/core.c:10"));
        assert!(t.contains(" #1  [ffffc90000013e00] __schedule+0x10 at"));
        assert!(t.contains("[exception RIP: do_syscall_64+0x10]"));
        assert!(t.contains("RIP: 0000000000000010"));
    }
}
