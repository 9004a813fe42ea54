//! Every corpus dump's kernel stacks unwound by vmtriage and compared with
//! drgn's (the ground truth written by corpus/build). One test per dump.
//!
//! Compared: the sequence of kernel-frame function names (inline frames
//! included) of every task drgn could unwind; user-space frames, which drgn
//! continues into, are left out. Required: every switched-out task and at
//! least 99 % of all tasks match, the crashed task of a kdump capture
//! matches, and the lock each task waits on (`lock_var` of a lock slow-path
//! frame) is the address drgn read.

mod common;

use std::collections::HashMap;

use common::{Entry, TruthFrame};
use kunwind::{Start, Unwinder, VarValue};
use libtest_mimic::{Arguments, Failed};

const KERNEL_MIN: u64 = 0xffff_8000_0000_0000;

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
}

/// drgn's kernel frames as names ("?" where drgn had only an address).
fn truth_names(frames: &[TruthFrame]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| {
            f.pc.as_deref()
                .and_then(parse_hex)
                .is_some_and(|pc| pc >= KERNEL_MIN)
        })
        .map(|f| match f.function.as_deref() {
            Some(n) if !n.starts_with("0x") => n.to_string(),
            _ => "?".to_string(),
        })
        .collect()
}

#[expect(
    clippy::too_many_lines,
    reason = "one dump's checks in sequence, each adding to the problems reported together at the end"
)]
fn check_dump(e: &Entry) -> Result<(), Failed> {
    let (t, s) = common::open_with_truth(e)?;
    let k = &s.kernel;
    let u = Unwinder::new(k).map_err(|err| format!("unwinder: {err}"))?;
    // Tasks a filtered dump lost are checked by the corpus test (reported
    // unreadable); here only the stacks of those that can be read.
    let walk = k.task_walk().map_err(|err| format!("tasks: {err}"))?;
    let tasks = walk.tasks;
    let partial = !walk.gaps.is_empty();
    let by_pid: HashMap<i32, _> = tasks.iter().map(|t| (t.pid, t)).collect();
    let mut problems = Vec::new();
    let (mut total, mut matched, mut sleeping, mut sleeping_ok) = (0usize, 0usize, 0usize, 0usize);
    let (mut locks, mut locks_ok) = (0usize, 0usize);
    let mut mismatches = Vec::new();
    let mut lock_problems = Vec::new();
    let mut beyond_drgn: Vec<String> = Vec::new();
    let mut pc_sp_problems: Vec<String> = Vec::new();
    // The ORC layout read from the vmlinux's DWARF is the one of its release.
    // The series' version, whatever the flavour (6.1-rt is 6.1).
    let version = e.kernel_series.split('-').next().unwrap_or("");
    let want = if version.starts_with("5.") || version == "6.1" || version == "6.2" {
        kunwind::OrcLayout::V6_2
    } else if version == "6.3" {
        kunwind::OrcLayout::V6_3
    } else {
        kunwind::OrcLayout::V6_4
    };
    if u.orc_layout() != want {
        problems.push(format!(
            "ORC layout {:?}, expected {want:?}",
            u.orc_layout()
        ));
    }
    for tt in &t.tasks {
        if tt.stack_error.is_some() {
            continue;
        }
        let Some(task) = by_pid.get(&tt.pid) else {
            if !partial {
                problems.push(format!("pid {} not found", tt.pid));
            }
            continue;
        };
        let trace = u.stack(k, task);
        let ours: Vec<String> = trace
            .frames
            .iter()
            .map(|f| f.function.clone().unwrap_or_else(|| "?".into()))
            .collect();
        let in_module: Vec<bool> = trace.frames.iter().map(|f| f.module.is_some()).collect();
        let theirs = truth_names(&tt.stack);
        total += 1;
        let switched_out = trace.start == Some(Start::SwitchedOut);
        if switched_out {
            sleeping += 1;
        }
        // A kernel stack ends at the syscall entry (user registers beyond);
        // drgn, once it fell back to frame pointers after a module frame it
        // has no ORC for, may read on past it into garbage (seen on 6.12-rt:
        // "< entry_SYSCALL_64 < wait_table"). Those frames are not a stack.
        let mut theirs = theirs;
        if let Some(last) = ours.last().filter(|f| f.starts_with("entry_SYSCALL_64")) {
            if theirs.len() > ours.len() && theirs.get(ours.len() - 1) == Some(last) {
                theirs.truncate(ours.len());
            }
        }
        // drgn 0.3.0 does not name module functions (it shows their
        // address): any name of ours matches there, in a module. Nor does
        // it name the first frame of a task forked that never ran: it looks
        // the saved return address up a byte back, in the padding before
        // the code the frame starts at (ours names it: offset 0).
        let first_at_start = switched_out && trace.frames.first().is_some_and(|f| f.offset == 0);
        let drgn_unnamed: Vec<bool> = in_module
            .iter()
            .enumerate()
            .map(|(i, m)| *m || (i == 0 && first_at_start))
            .collect();
        let same = |o: &String, t: &String, m: bool| o == t || (t == "?" && (m || o == "?"));
        let ok = ours.len() == theirs.len()
            && ours
                .iter()
                .zip(&theirs)
                .zip(&drgn_unnamed)
                .all(|((o, t), m)| same(o, t, *m));
        // Where drgn loses the trail in a module's code it has no ORC for
        // (init text on 6.1) it continues by frame pointer into garbage and
        // shows only addresses from there on. Accept a trace that agrees up
        // to that module frame and goes on through named kernel frames.
        let lost = theirs.iter().position(|t| t == "?").filter(|&i| {
            theirs[i..].iter().all(|t| t == "?")
                && in_module.get(i) == Some(&true)
                && ours.len() > theirs.len()
                && ours[..i]
                    .iter()
                    .zip(&theirs[..i])
                    .zip(&in_module)
                    .all(|((o, t), m)| same(o, t, *m))
                && ours[i + 1..].iter().all(|o| o != "?")
        });
        if !ok && lost.is_some() {
            beyond_drgn.push(format!(
                "pid {} ({}): drgn stops in module code where we go on:\n      ours:  {}\n      drgn:  {}",
                tt.pid,
                tt.comm,
                ours.join(" < "),
                theirs.join(" < ")
            ));
            total -= 1;
            if switched_out {
                sleeping -= 1;
            }
            continue;
        }
        if ok {
            matched += 1;
            if switched_out {
                sleeping_ok += 1;
            }
        } else {
            mismatches.push(format!(
                "pid {} ({}, {}{}):\n      ours:  {}\n      drgn:  {}{}",
                tt.pid,
                tt.comm,
                tt.state,
                if switched_out { "" } else { ", on CPU" },
                ours.join(" < "),
                theirs.join(" < "),
                trace
                    .error
                    .as_ref()
                    .map(|e| format!("\n      error: {e}"))
                    .unwrap_or_default()
            ));
        }
        if Some(tt.pid) == t.crashed_pid && e.capture == "kdump" && !ok {
            problems.push(format!("the crashed task (pid {}) differs", tt.pid));
        }
        // Locks: frame by frame where the sequences agree.
        if ok {
            let kernel_frames: Vec<&TruthFrame> = tt
                .stack
                .iter()
                .filter(|f| {
                    f.pc.as_deref()
                        .and_then(parse_hex)
                        .is_some_and(|pc| pc >= KERNEL_MIN)
                })
                .collect();
            // The same pc and sp in every frame, too.
            for (i, (tf, of)) in kernel_frames.iter().zip(&trace.frames).enumerate() {
                let pc = tf.pc.as_deref().and_then(parse_hex);
                let sp = tf.sp.as_deref().and_then(parse_hex);
                if pc != Some(of.pc) || (sp.is_some() && sp != Some(of.sp)) {
                    pc_sp_problems.push(format!(
                        "pid {} frame #{i} {}: pc/sp {:#x}/{:#x}, drgn {:?}/{:?}",
                        tt.pid,
                        tf.function.as_deref().unwrap_or("?"),
                        of.pc,
                        of.sp,
                        tf.pc,
                        tf.sp
                    ));
                }
            }
            for (i, tf) in kernel_frames.iter().enumerate() {
                let Some(lv) = &tf.lock_var else { continue };
                let Some(addr) = lv["address"].as_str().and_then(parse_hex) else {
                    continue;
                };
                let name = lv["name"].as_str().unwrap_or("lock");
                locks += 1;
                match u.frame_var(k, &trace, i, name) {
                    Ok(VarValue::Value(v)) if v == addr => locks_ok += 1,
                    other => lock_problems.push(format!(
                        "pid {} frame #{i} {}: {name} = {other:?}, drgn {addr:#x}",
                        tt.pid,
                        tf.function.as_deref().unwrap_or("?")
                    )),
                }
            }
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    eprintln!(
        "{}: {matched}/{total} tasks match ({:.2} %), switched-out {sleeping_ok}/{sleeping} ({:.2} %), locks {locks_ok}/{locks}, {} unwinds",
        e.name(),
        pct(matched, total),
        pct(sleeping_ok, sleeping),
        u.unwind_count()
    );
    if !beyond_drgn.is_empty() {
        eprintln!(
            "  where drgn could not unwind, but we could (not counted):\n    {}",
            beyond_drgn.join("\n    ")
        );
    }
    if sleeping_ok < sleeping {
        problems.push(format!(
            "{} switched-out tasks differ",
            sleeping - sleeping_ok
        ));
    }
    if pct(matched, total) < 99.0 {
        problems.push(format!("only {:.2} % of tasks match", pct(matched, total)));
    }
    if !pc_sp_problems.is_empty() {
        problems.push(format!(
            "{} frames with another pc or sp:\n    {}",
            pc_sp_problems.len(),
            pc_sp_problems[..pc_sp_problems.len().min(12)].join("\n    ")
        ));
    }
    if !lock_problems.is_empty() {
        problems.push(format!(
            "{} lock variables differ:\n    {}",
            lock_problems.len(),
            lock_problems.join("\n    ")
        ));
    }
    if !mismatches.is_empty() && !problems.is_empty() {
        problems.push(format!(
            "{} mismatches, e.g.:\n    {}",
            mismatches.len(),
            mismatches[..mismatches.len().min(12)].join("\n    ")
        ));
    } else if !mismatches.is_empty() {
        eprintln!(
            "  tolerated mismatches:\n    {}",
            mismatches[..mismatches.len().min(12)].join("\n    ")
        );
    }
    common::verdict(e, &problems)
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, common::per_dump_trials("unwind", check_dump)).exit();
}
