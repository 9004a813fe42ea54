//! Recognising the line that starts a report, and what that line names.

use super::*;

/// Recognises a line that starts a report: the kind, the address it
/// names, and whether it is a die() line (`Oops: 0002 [#1]`, `invalid
/// opcode: 0000 [#1]`) that may continue an open report.
pub(super) fn headline(t: &str) -> Option<(OopsKind, Option<u64>, bool)> {
    // `Oops: ` prefixes every die() line since 6.11 (`Oops: general
    // protection fault, …`, `Oops: Oops: 0002 [#1]`).
    let d = t.strip_prefix("Oops: ").unwrap_or(t);
    let is_die = d.contains(" [#");
    if let Some(a) = after(t, "kernel NULL pointer dereference") {
        let addr = after(a, "address: ")
            .or_else(|| after(a, " at "))
            .and_then(hex_word);
        return Some((OopsKind::PageFault { null: true }, addr, false));
    }
    if let Some(a) = after(t, "BUG: unable to handle page fault for address")
        .or_else(|| after(t, "BUG: unable to handle kernel paging request at"))
    {
        let addr = hex_word(a.trim_start_matches(':').trim_start());
        return Some((OopsKind::PageFault { null: false }, addr, false));
    }
    if d.starts_with("general protection fault") {
        let nc = after(d, "non-canonical address ");
        let addr = nc.and_then(|a| hex_word(a.trim_end_matches(':')));
        return Some((
            OopsKind::GeneralProtection {
                non_canonical: nc.is_some(),
            },
            addr,
            false,
        ));
    }
    if let Some(a) = t.strip_prefix("kernel BUG at ") {
        let loc = a.trim_end_matches('!');
        let (file, line) = file_line(loc);
        return Some((OopsKind::Bug { file, line }, None, false));
    }
    if (t.starts_with("list_") || t.contains(" list_")) && t.contains(" corruption") {
        return Some((OopsKind::ListCorruption, None, false));
    }
    if let Some(a) = after(t, "BUG: stack guard page was hit at ")
        .or_else(|| after(t, "BUG: TASK stack guard page was hit at "))
        .or_else(|| after(t, "stack guard page was hit at "))
    {
        return Some((OopsKind::StackOverflow, hex_word(a), false));
    }
    if d.starts_with("kernel stack overflow") {
        return Some((OopsKind::StackOverflow, None, is_die));
    }
    if d.starts_with("double fault") || t.contains("PANIC: double fault") {
        return Some((OopsKind::DoubleFault, None, is_die));
    }
    if d.starts_with("divide error") {
        return Some((OopsKind::DivideError, None, is_die));
    }
    if d.starts_with("invalid opcode") {
        return Some((OopsKind::InvalidOpcode, None, true));
    }
    if d.starts_with("Oops: ") || (t.starts_with("Oops: ") && is_die) {
        // A bare die() line: continues an open report, or is one.
        return Some((OopsKind::Oops, None, true));
    }
    // __warn()'s `WARNING: CPU: N PID: P at …` (`WARNING: at …` before
    // 4.x) and lockdep's and RCU-lockdep's reports; other lines that start
    // with the word (a driver's own message) are no kernel warning.
    const WARN_STARTS: &[&str] = &[
        "CPU: ",
        "at ",
        "possible ",
        "inconsistent lock state",
        "suspicious RCU usage",
        "bad unlock balance",
        "held lock freed",
        "lock held when returning",
    ];
    if let Some(a) = t
        .strip_prefix("WARNING: ")
        .filter(|a| WARN_STARTS.iter().any(|w| a.starts_with(w)))
    {
        let (file, line) = after(a, " at ")
            .map(|s| file_line(s.split_whitespace().next().unwrap_or("")))
            .unwrap_or_default();
        return Some((OopsKind::Warning { file, line }, None, false));
    }
    if let Some(a) = after(t, "BUG: soft lockup - CPU#") {
        let cpu = leading_u64(a).map(|v| v as u32).unwrap_or(0);
        let secs = after(a, "stuck for ")
            .and_then(leading_u64)
            .map(|v| v as u32)
            .unwrap_or(0);
        return Some((OopsKind::SoftLockup { cpu, seconds: secs }, None, false));
    }
    if let Some(a) = after(t, "hard LOCKUP on cpu ") {
        let cpu = leading_u64(a).map(|v| v as u32);
        return Some((OopsKind::HardLockup { cpu }, None, false));
    }
    if t.contains("hard LOCKUP") && t.contains("atchdog") {
        return Some((OopsKind::HardLockup { cpu: None }, None, false));
    }
    if (t.starts_with("rcu: INFO: ") || t.starts_with("INFO: rcu"))
        && (t.contains("detected stall") || t.contains("self-detected stall"))
    {
        return Some((OopsKind::RcuStall, None, false));
    }
    if t.starts_with("INFO: task ") {
        if let Some(a) = after(t, " blocked for more than ") {
            let secs = leading_u64(a).unwrap_or(0);
            return Some((OopsKind::HungTask { seconds: secs }, None, false));
        }
    }
    if (t.starts_with("sysrq: ") || t.starts_with("SysRq : ")) && t.ends_with("Trigger a crash") {
        return Some((OopsKind::SysrqCrash, None, false));
    }
    if t.contains(" invoked oom-killer:") {
        return Some((OopsKind::OomKill, None, false));
    }
    if let Some(a) = after(t, ": page allocation failure: order:") {
        let order = leading_u64(a)
            .and_then(|o| u32::try_from(o).ok())
            .unwrap_or(0);
        // `mode:0xcc0(GFP_KERNEL)`; before 4.x only the hex mask.
        let gfp = after(a, "mode:")
            .and_then(|m| after(m, "("))
            .and_then(|m| m.split_once(')'))
            .map(|(flags, _)| flags.to_string())
            .filter(|f| !f.is_empty());
        return Some((OopsKind::AllocFailure { order, gfp }, None, false));
    }
    if t.starts_with("Kernel panic - not syncing") {
        return Some((OopsKind::Panic, None, false));
    }
    None
}

/// The task a headline names: `[comm:pid]` (soft lockup), `task comm:pid
/// blocked` (hung task), `comm invoked oom-killer`.
pub(super) fn headline_task(t: &str, r: &mut OopsReport) {
    match r.kind {
        OopsKind::SoftLockup { .. } => {
            if let (Some(a), Some(b)) = (t.rfind('['), t.rfind(']')) {
                if a < b {
                    r.task = comm_pid(&t[a + 1..b]);
                }
            }
        }
        OopsKind::HungTask { .. } => {
            let s = t.strip_prefix("INFO: task ").unwrap_or("");
            if let Some(i) = s.find(" blocked for more than") {
                r.task = comm_pid(&s[..i]);
            }
        }
        OopsKind::Warning { .. } => {
            // `WARNING: CPU: 1 PID: 123 at lib/list_debug.c:62 function+0x…`
            if let Some(c) = cpu_line(t.strip_prefix("WARNING: ").unwrap_or("")) {
                r.cpu = c.cpu;
            }
            if let Some(i) = t.find(" at ") {
                let mut rest = t[i + 4..].split_whitespace();
                rest.next(); // file:line
                let loc: Vec<&str> = rest.collect();
                r.rip = location(&loc.join(" "));
            }
        }
        OopsKind::AllocFailure { .. } => {
            if let Some(i) = t.find(": page allocation failure:") {
                r.task = Some(OopsTask {
                    comm: t[..i].to_string(),
                    pid: -1,
                });
            }
        }
        OopsKind::OomKill => {
            if let Some(i) = t.find(" invoked oom-killer:") {
                r.task = Some(OopsTask {
                    comm: t[..i].to_string(),
                    pid: -1,
                });
            }
        }
        _ => {}
    }
}
