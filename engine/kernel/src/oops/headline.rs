//! Recognising the line that starts a report, and what that line names.

use super::*;

/// Recognises a line that starts a report: the kind, the address it
/// names, and whether it is a die() line (`Oops: 0002 [#1]`, `invalid
/// opcode: 0000 [#1]`) that may continue an open report.
pub(super) fn headline(t: &str) -> Option<(OopsKind, Option<u64>, bool)> {
    if let Some((kind, addr)) = sanitizer(t).or_else(|| check(t)) {
        return Some((kind, addr, false));
    }
    // `Oops: ` prefixes every die() line since 6.11 (`Oops: general
    // protection fault, …`, `Oops: Oops: 0002 [#1]`); arm64's die() says
    // `Internal error: Oops: 0000000096000005 [#1] SMP` (`Oops - BUG:` after
    // a BUG()).
    let d = t
        .strip_prefix("Oops: ")
        .or_else(|| t.strip_prefix("Internal error: "))
        .unwrap_or(t);
    let is_die = d.contains(" [#");
    if let Some(a) = after(t, "kernel NULL pointer dereference") {
        let addr = after(a, "virtual address ")
            .or_else(|| after(a, "address: "))
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
    // arm64 (arch/arm64/mm/fault.c, die_kernel_fault()): `Unable to handle
    // kernel paging request at virtual address …`, `… write to read-only
    // memory at …`, `… execute from non-executable memory at …`.
    if let Some(a) = t.strip_prefix("Unable to handle kernel ") {
        let addr = after(a, "virtual address ").and_then(hex_word);
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
    // arm64's undefined instruction trap (arch/arm64/kernel/traps.c).
    if d.starts_with("Oops - Undefined instruction") {
        return Some((OopsKind::InvalidOpcode, None, true));
    }
    if d.starts_with("Oops: ")
        || d.starts_with("Oops - ")
        || (t.starts_with("Oops: ") && is_die)
        || (t.starts_with("Internal error: ") && is_die)
    {
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
    if let Some((file, line)) = t.strip_prefix("WARNING: ").and_then(source_first) {
        return Some((OopsKind::Warning { file, line }, None, false));
    }
    if let Some(kind) = watchdog(t) {
        return Some((kind, None, false));
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
    if let Some(m) = t.strip_prefix("Kernel panic - not syncing") {
        let m = m.trim_start_matches(':').trim_start();
        let kind = if m.starts_with("stack-protector:") {
            OopsKind::StackProtector
        } else if m.starts_with("corrupted stack end") {
            OopsKind::StackEnd
        } else if PanicReason::of_message(m) == PanicReason::OutOfMemory {
            OopsKind::OomPanic
        } else {
            OopsKind::Panic
        };
        return Some((kind, None, false));
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
            let w = t.strip_prefix("WARNING: ").unwrap_or("");
            if source_first(w).is_some() {
                // `WARNING: lib/foo.c:62 at function+0x…/0x…, CPU#1: comm/123`
                let (site, who) = w.split_once(", CPU#").unwrap_or((w, ""));
                r.rip = after(site, " at ").and_then(named_function);
                r.cpu = leading_u64(who).and_then(|c| u32::try_from(c).ok());
                r.task = who
                    .split_once(": ")
                    .and_then(|(_, c)| super::detail::comm_slash_pid(c));
                return;
            }
            // `WARNING: CPU: 1 PID: 123 at lib/list_debug.c:62 function+0x…`
            if let Some(c) = cpu_line(w) {
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
        OopsKind::Kasan { .. } | OopsKind::Kfence { .. } | OopsKind::Kmsan { .. } => {
            r.rip = after(t, " in ").and_then(named_function);
        }
        OopsKind::StackProtector => {
            r.rip = after(t, "corrupted in: ").and_then(named_function);
        }
        OopsKind::SchedWhileAtomic => {
            r.task = after(t, "atomic: ").and_then(super::detail::comm_slash_pid);
        }
        OopsKind::BadPageState => {
            // `BUG: Bad page state in process insmod  pfn:10a2b`
            r.task = after(t, " in process ")
                .and_then(|p| p.split("  pfn:").next())
                .map(|comm| OopsTask {
                    comm: comm.trim().to_string(),
                    pid: -1,
                });
        }
        OopsKind::Spinlock { .. } => {
            // `… on CPU#1, insmod/91`
            if let Some(a) = after(t, " on CPU#") {
                r.cpu = leading_u64(a).and_then(|c| u32::try_from(c).ok());
                r.task = a
                    .split_once(", ")
                    .and_then(|(_, c)| super::detail::comm_slash_pid(c));
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

/// The sanitizers' headlines (KASAN, KFENCE, KMSAN, UBSAN) and kmemleak's.
fn sanitizer(t: &str) -> Option<(OopsKind, Option<u64>)> {
    // mm/kasan/report.c: `BUG: KASAN: %s in %pS`.
    if let Some(rest) = t.strip_prefix("BUG: KASAN: ") {
        let bug = rest.split_once(" in ").map_or(rest, |(b, _)| b).trim();
        let kind = OopsKind::Kasan {
            bug: bug.to_string(),
            write: None,
        };
        return Some((kind, None));
    }
    // mm/kfence/report.c: `BUG: KFENCE: use-after-free read in %pS`.
    if let Some(rest) = t.strip_prefix("BUG: KFENCE: ") {
        let what = rest.split_once(" in ").map_or(rest, |(b, _)| b).trim();
        let (bug, write) = match what.rsplit_once(' ') {
            Some((b, "read")) => (b, Some(false)),
            Some((b, "write")) => (b, Some(true)),
            _ => (what, None),
        };
        let kind = OopsKind::Kfence {
            bug: bug.to_string(),
            write,
        };
        return Some((kind, None));
    }
    // mm/kmsan/report.c: `BUG: KMSAN: %s in %pSb`.
    if let Some(rest) = t.strip_prefix("BUG: KMSAN: ") {
        let bug = rest.split_once(" in ").map_or(rest, |(b, _)| b).trim();
        return Some((
            OopsKind::Kmsan {
                bug: bug.to_string(),
            },
            None,
        ));
    }
    // lib/ubsan.c: `UBSAN: %s in %s:%d:%d` (`Undefined behaviour in` before 5.11).
    if let Some(rest) = t.strip_prefix("UBSAN: ") {
        let (check, at) = rest.split_once(" in ")?;
        let check = if check.eq_ignore_ascii_case("Undefined behaviour") {
            "undefined-behaviour"
        } else {
            check
        };
        // `lib/test_ubsan.c:27:17`: the column goes.
        let at = at.split_whitespace().next().unwrap_or("");
        let at = match at.rsplit_once(':') {
            Some((fl, col)) if col.chars().all(|c| c.is_ascii_digit()) && fl.contains(':') => fl,
            _ => at,
        };
        let (file, line) = file_line(at);
        let kind = OopsKind::Ubsan {
            check: check.to_string(),
            file,
            line,
        };
        return Some((kind, None));
    }
    // mm/kmemleak.c: `unreferenced object 0x%08lx (size %zu):`.
    if let Some(rest) = t.strip_prefix("unreferenced object 0x") {
        return Some((OopsKind::MemoryLeak, hex_word(rest)));
    }
    None
}

/// The debugging checks' headlines: lockdep's, the scheduler's, the page
/// allocator's, SLUB's, spinlock debugging's, the workqueue watchdog's.
fn check(t: &str) -> Option<(OopsKind, Option<u64>)> {
    // Lockdep frames its words: `WARNING: …` (`[ INFO: … ]` before 4.x).
    let words = t
        .trim_start_matches("[ ")
        .trim_end_matches(" ]")
        .trim_end_matches('.');
    let words = words
        .strip_prefix("WARNING: ")
        .or_else(|| words.strip_prefix("INFO: "))
        .or_else(|| words.strip_prefix("BUG: "));
    if let Some(w) = words {
        if let Some((_, bug)) = LockdepBug::HEADLINES
            .iter()
            .find(|(h, _)| w.starts_with(h.trim_end_matches('!')))
        {
            return Some((OopsKind::Lockdep(*bug), None));
        }
        if w.contains("-safe -> ") && w.ends_with("-unsafe lock order detected") {
            return Some((OopsKind::Lockdep(LockdepBug::IrqUnsafeOrder), None));
        }
    }
    let rest = t.strip_prefix("BUG: ");
    if let Some(a) =
        rest.and_then(|r| r.strip_prefix("sleeping function called from invalid context"))
    {
        let (file, line) = after(a, " at ")
            .map(|s| file_line(s.trim()))
            .unwrap_or_default();
        return Some((OopsKind::SleepInAtomic { file, line }, None));
    }
    if rest.is_some_and(|r| r.starts_with("scheduling while atomic")) {
        return Some((OopsKind::SchedWhileAtomic, None));
    }
    if rest.is_some_and(|r| r.starts_with("Bad page state")) {
        return Some((OopsKind::BadPageState, None));
    }
    if rest.is_some_and(|r| r.starts_with("Bad rss-counter state")) {
        return Some((OopsKind::BadRssCounter, None));
    }
    if let Some(a) = rest.and_then(|r| r.strip_prefix("workqueue lockup")) {
        let seconds = after(a, "stuck for ")
            .and_then(leading_u64)
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        return Some((OopsKind::WorkqueueLockup { seconds }, None));
    }
    // kernel/locking/spinlock_debug.c: `BUG: spinlock %s on CPU#%d, %s/%d`.
    if let Some(r) = rest {
        for lock in ["spinlock", "rwlock"] {
            if let Some(bug) = r
                .strip_prefix(lock)
                .and_then(|b| b.strip_prefix(' '))
                .and_then(|b| b.split_once(" on CPU#"))
                .map(|(b, _)| b)
            {
                let kind = OopsKind::Spinlock {
                    lock: lock.to_string(),
                    bug: bug.to_string(),
                };
                return Some((kind, None));
            }
        }
    }
    slub(t).map(|k| (k, None))
}

/// mm/slub.c slab_bug(): `BUG kmalloc-64 (Tainted: G    B   ): Redzone
/// overwritten`, `BUG kmalloc-64 (Not tainted): Poison overwritten`.
fn slub(t: &str) -> Option<OopsKind> {
    let rest = t.strip_prefix("BUG ")?;
    let (cache, tail) = rest.split_once(' ')?;
    if cache.is_empty() || cache.ends_with(':') || !tail.starts_with('(') {
        return None;
    }
    let (_, what) = tail.split_once("): ")?;
    // The words of the check, without its numbers (`Padding overwritten.
    // 0x…-0x… @offset=…`, `Invalid object pointer 0x…`).
    let what = what
        .split(". ")
        .next()
        .unwrap_or(what)
        .split(" 0x")
        .next()
        .unwrap_or(what)
        .trim_end_matches('.')
        .trim();
    Some(OopsKind::Slub {
        cache: cache.to_string(),
        what: what.to_string(),
    })
}

/// A WARNING raised by a check whose words came first (between `cut here`
/// and the `WARNING:` line): refcount_t's and ODEBUG's.
pub(super) fn warned_check(r: &mut OopsReport) {
    let OopsKind::Warning { file, .. } = &r.kind else {
        return;
    };
    let text = r.message.as_deref().unwrap_or("");
    if let Some(w) = text.strip_prefix("refcount_t: ") {
        r.kind = OopsKind::Refcount {
            what: w.trim().trim_end_matches('.').to_string(),
        };
    } else if file.ends_with("lib/refcount.c") {
        r.kind = OopsKind::Refcount {
            what: String::new(),
        };
    } else if let Some(w) = text.strip_prefix("ODEBUG: ") {
        let what = w.split(" (").next().unwrap_or(w).trim();
        r.kind = OopsKind::Odebug {
            what: what.to_string(),
        };
    } else if file.ends_with("lib/debugobjects.c") {
        r.kind = OopsKind::Odebug {
            what: String::new(),
        };
    }
}

/// The function a headline names (`in foo+0x1a/0x40 [mod]`), whatever
/// follows it (a source line in symbolised logs).
fn named_function(s: &str) -> Option<PrintedFrame> {
    let mut parts = s.split_whitespace();
    let sym = parts.next()?;
    let loc = match parts
        .next()
        .filter(|m| m.starts_with('[') && m.ends_with(']'))
    {
        Some(m) => format!("{sym} {m}"),
        None => sym.to_string(),
    };
    location(&loc).filter(|f| f.function.is_some())
}

/// The file and line a WARNING starts with in the form __warn() prints
/// since late 2025 (`WARNING: net/core/dev.c:1234 at function+0x…/0x…,
/// CPU#0: comm/pid`); None for any other text after `WARNING: `.
fn source_first(w: &str) -> Option<(String, u32)> {
    let (src, rest) = w.split_once(' ')?;
    if !rest.starts_with("at ") {
        return None;
    }
    let (file, line) = src.rsplit_once(':')?;
    let code = [".c", ".h", ".rs", ".S"].iter().any(|e| file.ends_with(e));
    Some((file.to_string(), line.parse().ok().filter(|_| code)?))
}

/// The lockup and stall detectors' headlines: soft and hard lockups, RCU
/// stalls, hung tasks.
fn watchdog(t: &str) -> Option<OopsKind> {
    if let Some(a) = after(t, "BUG: soft lockup - CPU#") {
        let cpu = leading_u64(a).map(|v| v as u32).unwrap_or(0);
        let secs = after(a, "stuck for ")
            .and_then(leading_u64)
            .map(|v| v as u32)
            .unwrap_or(0);
        return Some(OopsKind::SoftLockup { cpu, seconds: secs });
    }
    if let Some(a) = after(t, "hard LOCKUP on cpu ") {
        let cpu = leading_u64(a).map(|v| v as u32);
        return Some(OopsKind::HardLockup { cpu });
    }
    if t.contains("hard LOCKUP") && t.contains("atchdog") {
        return Some(OopsKind::HardLockup { cpu: None });
    }
    if (t.starts_with("rcu: INFO: ") || t.starts_with("INFO: rcu"))
        && (t.contains("detected stall") || t.contains("self-detected stall"))
    {
        return Some(OopsKind::RcuStall);
    }
    if t.starts_with("INFO: task ") {
        if let Some(a) = after(t, " blocked for more than ") {
            let secs = leading_u64(a).unwrap_or(0);
            return Some(OopsKind::HungTask { seconds: secs });
        }
    }
    None
}
