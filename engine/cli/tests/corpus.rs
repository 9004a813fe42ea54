//! Every corpus dump read by vmtriage and compared with drgn's reading of the
//! same dump (the ground truth written by corpus/build). One test per dump.

mod common;

use std::collections::BTreeMap;

use common::Entry;
use libtest_mimic::{Arguments, Failed};
use vmtriage_cli::report;

#[expect(
    clippy::too_many_lines,
    reason = "one dump's checks against drgn's reading in sequence, each adding to the problems reported together at the end"
)]
fn check_dump(e: &Entry) -> Result<(), Failed> {
    let (t, s) = common::open_with_truth(e)?;
    let k = &s.kernel;
    let mut problems: Vec<String> = Vec::new();
    if k.release != t.release {
        problems.push(format!("release {} != {}", k.release, t.release));
    }
    // Tasks: the same set, the same fields.
    // A filtered dump may lack some tasks' memory: those must be reported
    // as unreadable (checked against the dump's own bitmap), the rest exact.
    let ps = report::ps(k).map_err(|err| format!("ps: {err}"))?;
    if e.dump_level == 0 && !ps.partial.is_empty() {
        problems.push(format!("unfiltered dump, yet partial: {:?}", ps.partial));
    }
    let listed = ps.tasks.iter().map(|r| r.pid).collect();
    let twin = match (&e.truth_from, ps.gaps.is_empty()) {
        (Some(name), false) if e.format != "elf" => e
            .path
            .parent()
            .map(|d| d.join(name))
            .filter(|p| p.exists())
            .and_then(|p| vmtriage_cli::Session::open(&p, Some(&e.vmlinux), &[]).ok()),
        _ => None,
    };
    problems.extend(common::task_coverage(
        k,
        twin.as_ref().map(|s| &s.kernel),
        &t,
        &listed,
        &ps.gaps,
    ));
    let ours: BTreeMap<i32, _> = ps.tasks.into_iter().map(|r| (r.pid, r)).collect();
    let theirs: BTreeMap<i32, _> = t.tasks.iter().map(|r| (r.pid, r)).collect();
    let missing: Vec<_> = theirs
        .keys()
        .filter(|p| !ours.contains_key(p) && ps.partial.is_empty())
        .collect();
    let extra: Vec<_> = ours.keys().filter(|p| !theirs.contains_key(p)).collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} tasks missing, e.g. pids {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        ));
    }
    if !extra.is_empty() {
        problems.push(format!(
            "{} tasks drgn does not list, e.g. pids {:?}",
            extra.len(),
            &extra[..extra.len().min(10)]
        ));
    }
    let mut field_mismatch = Vec::new();
    for (pid, tt) in &theirs {
        let Some(o) = ours.get(pid) else { continue };
        let mut diffs = Vec::new();
        if o.tgid != tt.tgid {
            diffs.push(format!("tgid {} != {}", o.tgid, tt.tgid));
        }
        // The parent's task_struct may be what the filter dropped.
        let parent_lost = o.ppid.is_none() && !ps.partial.is_empty();
        if o.ppid != tt.ppid && !parent_lost {
            diffs.push(format!("ppid {:?} != {:?}", o.ppid, tt.ppid));
        }
        if o.comm != tt.comm {
            diffs.push(format!("comm {:?} != {:?}", o.comm, tt.comm));
        }
        if o.state != tt.state {
            diffs.push(format!("state {} != {}", o.state, tt.state));
        }
        if o.cpu != Some(tt.cpu) {
            diffs.push(format!("cpu {:?} != {}", o.cpu, tt.cpu));
        }
        if o.kthread != tt.kthread || o.exiting != tt.exiting {
            diffs.push("flags differ".into());
        }
        if u64::from_str_radix(&o.task, 16).ok()
            != u64::from_str_radix(tt.address.trim_start_matches("0x"), 16).ok()
        {
            diffs.push(format!("task address {} != {}", o.task, tt.address));
        }
        if !diffs.is_empty() {
            field_mismatch.push(format!("pid {pid}: {}", diffs.join(", ")));
        }
    }
    if !field_mismatch.is_empty() {
        problems.push(format!(
            "{} tasks differ: {}",
            field_mismatch.len(),
            field_mismatch[..field_mismatch.len().min(8)].join("; ")
        ));
    }
    // The log.
    let log = report::dmesg(k).map_err(|err| format!("dmesg: {err}"))?;
    let ours_text: Vec<&str> = log.iter().map(|r| r.text.as_str()).collect();
    let theirs_text: Vec<&str> = t.dmesg.iter().map(|r| r.text.as_str()).collect();
    if ours_text != theirs_text {
        let first = ours_text.iter().zip(&theirs_text).position(|(a, b)| a != b);
        problems.push(format!(
            "dmesg differs: {} records vs {}; first difference at {:?}",
            ours_text.len(),
            theirs_text.len(),
            first.map(|i| (ours_text[i], theirs_text[i]))
        ));
    }
    if log
        .iter()
        .zip(&t.dmesg)
        .any(|(a, b)| a.level != b.level || a.timestamp_ns != b.timestamp_ns)
    {
        problems.push("dmesg levels or timestamps differ".into());
    }
    // Crash context and globals.
    // The crashed task's task_struct may be what the filter dropped: then
    // the answer must be an error saying so, not a wrong task.
    let crashed = match k.crashed_task() {
        Ok(c) => c.map(|c| c.pid),
        Err(err) => {
            let truth_addr = t
                .tasks
                .iter()
                .find(|x| Some(x.pid) == t.crashed_pid)
                .and_then(|x| u64::from_str_radix(x.address.trim_start_matches("0x"), 16).ok());
            let lost = truth_addr.is_some_and(|a| !common::present(k, a, 64));
            if !(lost && err.to_string().contains("excluded by the dump level")) {
                return Err(format!("crashed task: {err}").into());
            }
            t.crashed_pid
        }
    };
    if crashed != t.crashed_pid && e.capture == "kdump" {
        problems.push(format!("crashed pid {:?} != {:?}", crashed, t.crashed_pid));
    }
    let g = &t.globals;
    let num = |v: &serde_json::Value| v.as_u64().unwrap_or(u64::MAX);
    let jiffies = k.jiffies().map_err(|err| err.to_string())?;
    if jiffies != num(&g["jiffies"]) {
        problems.push(format!("jiffies {jiffies} != {}", g["jiffies"]));
    }
    let uptime = k.uptime_ns().map_err(|err| err.to_string())?;
    if uptime != num(&g["uptime_ns"]) {
        problems.push(format!("uptime_ns {uptime} != {}", g["uptime_ns"]));
    }
    // tasklist_lock through the lock model: a qrwlock's cnts, or on
    // PREEMPT_RT the rwbase reader count and its rtmutex's owner word (the
    // writer in line, or the owner once the writer is in).
    let tl = &g["tasklist_lock"];
    match k.global("tasklist_lock").and_then(|l| k.lock_state(&l)) {
        Err(err) => problems.push(format!("tasklist_lock: {err}")),
        Ok(st) if tl["rt"].as_bool() == Some(true) => {
            let owner = u64::from_str_radix(
                tl["owner"].as_str().unwrap_or("").trim_start_matches("0x"),
                16,
            )
            .ok();
            if !st.rt
                || st.raw != num(&tl["readers"])
                || st.queued_writer.or(st.owner).unwrap_or(0) != owner.unwrap_or(1) & !1
            {
                problems.push(format!("tasklist_lock {st:?} != {tl}"));
            }
        }
        Ok(st) => {
            if st.rt || st.raw != num(&tl["cnts"]) {
                problems.push(format!("tasklist_lock {st:?} != {tl}"));
            }
        }
    }
    let nr_threads = k.global("nr_threads").and_then(|o| o.as_u64());
    if nr_threads.as_ref().ok().copied() != Some(num(&g["nr_threads"])) {
        problems.push(format!("nr_threads {nr_threads:?} != {}", g["nr_threads"]));
    }
    let mem = k.memory().map_err(|err| format!("memory: {err}"))?;
    if mem.totalram_pages != num(&g["totalram_pages"]) || mem.free_pages != num(&g["free_pages"]) {
        problems.push(format!(
            "memory {}/{} != {}/{}",
            mem.totalram_pages, mem.free_pages, g["totalram_pages"], g["free_pages"]
        ));
    }
    let zones: Vec<(String, u64, u64, u64, u64)> = mem
        .zones
        .iter()
        .map(|z| (z.name.clone(), z.free, z.min, z.low, z.high))
        .collect();
    let tz: Vec<(String, u64, u64, u64, u64)> = g["zones"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|z| {
                    (
                        z["name"].as_str().unwrap_or("").to_string(),
                        num(&z["free"]),
                        num(&z["min"]),
                        num(&z["low"]),
                        num(&z["high"]),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if zones != tz {
        problems.push(format!("zones {zones:?} != {tz:?}"));
    }
    common::verdict(e, &problems)
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("read", check_dump)).exit();
}
