//! The lines of a report that say more about its kind: the sanitizers'
//! access lines (KASAN's `Read of size`, KFENCE's `Use-after-free read
//! at`), kmemleak's object owner and backtrace, lockdep's lock `at:` sites,
//! the might-sleep check's task line, a UBSAN report's explanation.

use super::*;

/// Reads a line of an open report that only its kind prints; true when
/// the line was one (nothing else is to be made of it).
pub(super) fn line(o: &mut Open, t: &str) -> bool {
    match &o.report.kind {
        OopsKind::Kasan { .. } => kasan(o, t),
        OopsKind::Kfence { .. } => kfence(o, t),
        OopsKind::MemoryLeak => kmemleak(o, t),
        OopsKind::Lockdep(_) => lockdep(o, t),
        OopsKind::SleepInAtomic { .. } => {
            // `in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 91, name: insmod`
            if t.starts_with("in_atomic(): ") {
                if o.report.task.is_none() {
                    o.report.task = after(t, " pid: ").and_then(|p| {
                        let (pid, name) = p.split_once(", name: ")?;
                        Some(OopsTask {
                            comm: name.to_string(),
                            pid: pid.trim().parse().ok()?,
                        })
                    });
                }
                return true;
            }
            false
        }
        OopsKind::Ubsan { .. } => {
            // The line after the headline explains it (`shift exponent 32 is
            // too large for 32-bit type 'int'`).
            if o.report.message.is_none() && !o.seen_cpu && !t.is_empty() && !is_rule(t) {
                if cpu_line(t).is_some() {
                    return false;
                }
                o.report.message = Some(t.to_string());
                return true;
            }
            false
        }
        _ => false,
    }
}

/// A `=====` or `-----` line framing a sanitizer's or lockdep's report.
fn is_rule(t: &str) -> bool {
    t.len() >= 8 && t.chars().all(|c| c == '=' || c == '-')
}

/// `Read of size 8 at addr ffff888012345678 by task insmod/91`, `Write of
/// size …`, `Free of addr … by task …` (a double or invalid free).
fn kasan(o: &mut Open, t: &str) -> bool {
    let (write, rest) = if let Some(r) = t.strip_prefix("Read of size ") {
        (Some(false), r)
    } else if let Some(r) = t.strip_prefix("Write of size ") {
        (Some(true), r)
    } else if let Some(r) = t.strip_prefix("Free of addr ") {
        (None, r)
    } else {
        return false;
    };
    if o.report.access.is_some() || o.seen_cpu {
        return false;
    }
    let size = write.and_then(|_| leading_u64(rest));
    let address = after(rest, "at addr ")
        .or_else(|| write.is_none().then_some(rest))
        .and_then(hex_word);
    if let Some(w) = write {
        o.report.access = Some(Access {
            write: w,
            size,
            address,
        });
        if let OopsKind::Kasan { write, .. } = &mut o.report.kind {
            *write = Some(w);
        }
    } else {
        o.report.address = address;
    }
    if o.report.task.is_none() {
        o.report.task = after(rest, " by task ").and_then(comm_slash_pid);
    }
    true
}

/// `Use-after-free read at 0xffff888012345678 (in kfence-#12):`,
/// `Out-of-bounds write at 0x… (8B right of kfence-#3):`, `Invalid read
/// at 0x…:`, `Invalid free of kfence-#5 (in kernel):`, `Corrupted memory at
/// 0x… [ ! . . ] (in kfence-#7):`: the stack follows without a heading.
fn kfence(o: &mut Open, t: &str) -> bool {
    if o.report.call_trace.is_empty() && !o.trace_done && !o.in_trace {
        let at = [" read at 0x", " write at 0x", "Corrupted memory at 0x"]
            .iter()
            .find_map(|m| after(t, m).map(|a| (*m, a)));
        if let Some((m, a)) = at {
            let address = hex_word(a);
            if m != "Corrupted memory at 0x" {
                o.report.access = Some(Access {
                    write: m == " write at 0x",
                    size: None,
                    address,
                });
            } else {
                o.report.address = address;
            }
            o.in_trace = true;
            return true;
        }
        if t.starts_with("Invalid free of ") {
            o.in_trace = true;
            return true;
        }
    }
    false
}

/// `comm "insmod", pid 91, jiffies 4294…` names the allocating task;
/// `backtrace:` (`backtrace (crc 1a2b3c4d):` since 6.7) heads the stack.
fn kmemleak(o: &mut Open, t: &str) -> bool {
    if let Some(rest) = t.strip_prefix("comm \"") {
        if o.report.task.is_none() {
            o.report.task = rest.rsplit_once("\", pid ").and_then(|(comm, p)| {
                Some(OopsTask {
                    comm: comm.to_string(),
                    pid: leading_u64(p)?.try_into().ok()?,
                })
            });
        }
        return true;
    }
    if t == "backtrace:" || (t.starts_with("backtrace (") && t.ends_with("):")) {
        if !o.trace_done {
            o.in_trace = true;
        }
        return true;
    }
    false
}

/// Lockdep names the site of the lock at fault on the line after its
/// words: `comm/pid is trying to acquire lock:` (circular, recursive),
/// `… takes:` (inconsistent state), `… just changed the state of lock:`
/// (irq inversion), `… with a lock still held there!` (held lock freed),
/// `… with locks still held!` (returning to user space), as `ffff… (&lock)
/// {+.+.}-{3:3}, at: function+0x…/0x…`; `… is trying to release lock
/// (&lock) at:` (bad unlock balance) as `[<ffff…>] function+0x…/0x…`.
fn lockdep(o: &mut Open, t: &str) -> bool {
    const SITE_NEXT: &[&str] = &[
        "is trying to acquire lock:",
        "] takes:",
        "just changed the state of lock:",
        "with a lock still held there!",
        "with locks still held!",
        ") at:",
    ];
    if o.seen_cpu || o.report.rip.is_some() {
        return false;
    }
    if SITE_NEXT.iter().any(|m| t.ends_with(m)) {
        if o.report.task.is_none() {
            o.report.task = t.split_whitespace().next().and_then(comm_slash_pid);
        }
        o.site_pending = true;
        return true;
    }
    if o.site_pending {
        let site = after(t, ", at: ")
            .or_else(|| after(t, " at: "))
            .or_else(|| t.starts_with("[<").then_some(t));
        if let Some(f) = site.and_then(trace_frame) {
            o.report.rip = Some(f);
            o.site_pending = false;
            return true;
        }
    }
    false
}

/// `insmod/91` (the comm may hold a slash: the pid is after the last);
/// `comm/pid/0x00000002` (scheduling while atomic) keeps the first two.
pub(super) fn comm_slash_pid(s: &str) -> Option<OopsTask> {
    let s = s.trim().trim_end_matches(':');
    let s = match s.rsplit_once('/') {
        Some((head, tail)) if tail.starts_with("0x") => head,
        _ => s,
    };
    let (comm, pid) = s.rsplit_once('/')?;
    Some(OopsTask {
        comm: comm.to_string(),
        pid: pid.parse().ok()?,
    })
}
