//! Every corpus manifest entry: the file exists with its recorded size and
//! sha256, its ground truth parses, and the truth shows the scenario's state
//! (checked again here, independently of the builder's own check).

mod common;

use std::collections::HashSet;

use common::{manifest, truth, Entry, Truth, TruthTask};
use kmodel::locks::{wait_site, LockKind, WaitMode};
use libtest_mimic::{Arguments, Failed, Trial};

fn fns(t: &TruthTask) -> HashSet<&str> {
    t.stack
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect()
}

/// Whether drgn's stack of `t` has a wait site (the kernel model's table)
/// for one of `kinds`, in `mode` if given. An rwbase site (PREEMPT_RT's
/// rwlock or rwsem) counts for both kinds.
fn waits_for(t: &TruthTask, kinds: &[LockKind], mode: Option<WaitMode>) -> bool {
    fns(t)
        .into_iter()
        .filter_map(wait_site)
        .any(|s| s.kind.is_none_or(|k| kinds.contains(&k)) && mode.is_none_or(|m| m == s.mode))
}

fn log_has(t: &Truth, needle: &str) -> bool {
    t.dmesg.iter().any(|r| r.text.contains(needle))
}

/// The scenario's state, on drgn's reading.
fn state_reached(e: &Entry, t: &Truth) -> Result<(), String> {
    let tasks = &t.tasks;
    if e.capture == "kdump" && t.crashed_pid.is_none() {
        return Err("a kdump capture without a crashed task".into());
    }
    match e.scenario.as_str() {
        "tasklist-exit-storm" => {
            let parent = tasks
                .iter()
                .find(|x| {
                    fns(x).contains("do_wait")
                        && tasks
                            .iter()
                            .filter(|c| c.ppid == Some(x.tgid) && c.pid == c.tgid)
                            .count()
                            >= 100
                })
                .ok_or("no parent in do_wait with >= 100 children")?;
            let kids: HashSet<i32> = tasks
                .iter()
                .filter(|c| c.ppid == Some(parent.tgid) && c.pid == c.tgid)
                .map(|c| c.tgid)
                .collect();
            let exit_path = ["do_exit", "do_group_exit", "exit_notify", "release_task"];
            let dying = tasks
                .iter()
                .filter(|x| {
                    kids.contains(&x.tgid)
                        && (x.exiting
                            || x.sigkill_pending == Some(true)
                            || exit_path.iter().any(|f| fns(x).contains(f)))
                })
                .count();
            if dying < 300 {
                return Err(format!("{dying} dying children/threads (want >= 300)"));
            }
            let slow = tasks
                .iter()
                .filter(|x| waits_for(x, &[LockKind::Rwlock], None))
                .count();
            if slow < 2 {
                return Err(format!(
                    "{slow} tasks in a tasklist_lock slow path (want >= 2)"
                ));
            }
        }
        "mutex-hung-task" => {
            let n = tasks
                .iter()
                .filter(|x| {
                    x.state == "D" && waits_for(x, &[LockKind::Mutex, LockKind::RtMutex], None)
                })
                .count();
            if n < 3 || !log_has(t, "blocked for more than") {
                return Err(format!(
                    "{n} D tasks waiting for a mutex, hung-task warning: {}",
                    log_has(t, "blocked for more than")
                ));
            }
        }
        "mmap-lock-pileup" => {
            let w = tasks
                .iter()
                .filter(|x| waits_for(x, &[LockKind::RwSemaphore], Some(WaitMode::Write)))
                .count();
            let r = tasks
                .iter()
                .filter(|x| waits_for(x, &[LockKind::RwSemaphore], Some(WaitMode::Read)))
                .count();
            if w < 1 || r < 2 {
                return Err(format!("{w} queued writers, {r} queued readers"));
            }
        }
        "sysrq-panic" if !log_has(t, "sysrq: Trigger a crash") => {
            return Err("no sysrq trigger in the log".into())
        }
        "null-deref-oops" if !log_has(t, "BUG: kernel NULL pointer dereference") => {
            return Err("no NULL-pointer oops in the log".into())
        }
        "softlockup-panic" if !log_has(t, "soft lockup") => {
            return Err("no soft lockup in the log".into())
        }
        "oom-pressure" => {
            if !log_has(t, "Out of memory") {
                return Err("no OOM kill in the log".into());
            }
            let zones = t.globals["zones"].as_array().cloned().unwrap_or_default();
            let near = zones.iter().any(|z| {
                z["name"] != "DMA"
                    && z["free"].as_u64().unwrap_or(u64::MAX) < 2 * z["high"].as_u64().unwrap_or(0)
            });
            if !near {
                return Err("no zone near its watermarks".into());
            }
        }
        "fork-storm" if tasks.len() < 10_000 => {
            return Err(format!("{} tasks (want >= 10000)", tasks.len()))
        }
        "idle" if log_has(t, "Kernel panic") || log_has(t, "BUG:") => {
            return Err("the idle guest logged a bug".into())
        }
        _ => {}
    }
    Ok(())
}

fn check(e: &Entry) -> Result<(), Failed> {
    let meta = std::fs::metadata(&e.path).map_err(|err| format!("{}: {err}", e.path.display()))?;
    if meta.len() != e.size {
        return Err(format!("size {} != manifest {}", meta.len(), e.size).into());
    }
    let got = vmtriage_cli::bulk::sha256_file(&e.path)?;
    if got != e.sha256 {
        return Err(format!("sha256 {got} != manifest {}", e.sha256).into());
    }
    let t = truth(e)?;
    if t.tasks.is_empty() {
        return Err("the ground truth lists no tasks".into());
    }
    state_reached(e, &t)
        .map_err(|m| format!("{}: scenario state not reached: {m}", e.name()).into())
}

fn main() {
    let args = Arguments::from_args();
    let trials = match manifest() {
        Ok(entries) if entries.len() >= 20 => entries
            .into_iter()
            .map(|e| {
                let name = format!("manifest/{}", e.name());
                Trial::test(name, move || check(&e))
            })
            .collect(),
        Ok(entries) => vec![Trial::test("corpus/manifest", move || {
            Err(format!(
                "the manifest lists {} dumps; the corpus has at least 20",
                entries.len()
            )
            .into())
        })],
        Err(msg) => vec![Trial::test("corpus/manifest", move || {
            Err(msg.clone().into())
        })],
    };
    libtest_mimic::run(&args, trials).exit();
}
