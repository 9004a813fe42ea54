//! The lines every report layout shares: the task and CPU lines, the
//! x86 `RIP:` and arm64 `pc :` locations, call-trace entries of both
//! architectures, stack markers and register dumps, and the numbers in them.

use super::*;

/// `task:cat             state:D stack:    0 pid:   91 ppid:     1 flags:…`.
pub(super) fn show_task_line(t: &str) -> Option<OopsTask> {
    let rest = t.strip_prefix("task:")?;
    let end = rest.find(" state:")?;
    let pid = after(&rest[end..], " pid:")?.trim_start();
    Some(OopsTask {
        comm: rest[..end].trim_end().to_string(),
        pid: leading_u64(pid)?.try_into().ok()?,
    })
}

/// `comm:pid` (the comm may hold a colon: the pid is after the last).
pub(super) fn comm_pid(s: &str) -> Option<OopsTask> {
    let (comm, pid) = s.rsplit_once(':')?;
    Some(OopsTask {
        comm: comm.to_string(),
        pid: pid.trim().parse().ok()?,
    })
}

/// `99 (eater) total-vm…` → eater, 99.
pub(super) fn pid_paren_comm(s: &str) -> Option<OopsTask> {
    let (pid, rest) = s.split_once(' ')?;
    let rest = rest.strip_prefix('(')?;
    let end = rest.rfind(')')?;
    Some(OopsTask {
        comm: rest[..end].to_string(),
        pid: pid.parse().ok()?,
    })
}

pub(super) struct CpuLine {
    pub(super) cpu: Option<u32>,
    pub(super) task: Option<OopsTask>,
    pub(super) tainted: Option<String>,
}

/// `CPU: 1 PID: 101 Comm: insmod Kdump: loaded Tainted: G  OE  6.1.0 #1`
/// (and `CPU: 0 UID: 0 PID: …` since 6.10; `Not tainted`).
pub(super) fn cpu_line(t: &str) -> Option<CpuLine> {
    let rest = t.strip_prefix("CPU: ")?;
    let cpu = leading_u64(rest).map(|v| v as u32);
    let pid_at = rest.find("PID: ")?;
    if !rest.contains("Comm: ") {
        // `WARNING: CPU: 1 PID: 123 at …`: the CPU and no task name.
        return Some(CpuLine {
            cpu,
            task: None,
            tainted: None,
        });
    }
    let after_pid = &rest[pid_at + 5..];
    let pid: Option<i32> = after_pid
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok());
    let comm_at = after_pid.find("Comm: ");
    let mut task = None;
    let mut tail = after_pid;
    if let Some(c) = comm_at {
        let s = &after_pid[c + 6..];
        let end = [" Kdump: ", " Tainted: ", " Not tainted", " Tainted "]
            .iter()
            .filter_map(|m| s.find(m))
            .min()
            .unwrap_or(s.len());
        let comm = s[..end].to_string();
        tail = &s[end..];
        if let Some(pid) = pid {
            task = Some(OopsTask { comm, pid });
        }
    }
    let tainted = if tail.contains("Not tainted") {
        Some(String::new())
    } else if let Some(i) = tail.find("Tainted: ") {
        let mut letters = String::new();
        for tok in tail[i + 9..].split_whitespace() {
            if tok.chars().all(|c| c.is_ascii_uppercase()) {
                letters.push_str(tok);
            } else {
                break;
            }
        }
        // The first letter is G (GPL-only modules) or P (proprietary):
        // keep P, which is a taint; G is the absence of it.
        Some(letters.trim_start_matches('G').to_string())
    } else {
        None
    };
    Some(CpuLine { cpu, task, tainted })
}

/// `0010:vmt_init+0x117/0x1000 [vmtriage_scen]`; None for user mode
/// (`0033:0x47b7a0`) or an unparsable location.
pub(super) fn rip_frame(s: &str) -> Option<PrintedFrame> {
    let s = s.trim();
    // The segment: `0010:` (kernel) or `0033:`/`0023:` (user); older
    // kernels print `[<ffffffff…>] function+…`.
    let loc = match s.split_once(':') {
        Some((seg, rest)) if seg.len() == 4 && seg.chars().all(|c| c.is_ascii_hexdigit()) => {
            if seg != "0010" {
                return None;
            }
            rest
        }
        _ => s,
    };
    let f = location(loc.trim())?;
    f.function.as_ref()?;
    Some(f)
}

/// A call-trace line: ` ? function+0x1a/0x20 [mod]`, ` function+…`,
/// ` [<ffffffff81000000>] function+…`, ` ? 0xffffffffc03f1000`.
pub(super) fn trace_frame(t: &str) -> Option<PrintedFrame> {
    let mut s = t.trim();
    // `[<ffffffff810a1b2c>]` address prefix of older kernels.
    if let Some(rest) = s.strip_prefix("[<") {
        s = rest.split_once(">]").map(|(_, r)| r.trim_start())?;
    }
    let mut reliable = true;
    if let Some(rest) = s.strip_prefix("? ") {
        reliable = false;
        s = rest.trim_start();
    }
    // arm64 since 6.14 marks the entries it took from the registers:
    // ` function+0x…/0x… (P)` (the pc), `(L)` (the link register).
    if let Some(rest) = s.strip_suffix(" (P)").or_else(|| s.strip_suffix(" (L)")) {
        s = rest.trim_end();
    }
    let mut f = location(s)?;
    f.reliable = reliable;
    Some(f)
}

/// `function+0xoff/0xsize [module]` or `0xaddress`.
pub(super) fn location(s: &str) -> Option<PrintedFrame> {
    let mut parts = s.split_whitespace();
    let sym = parts.next()?;
    let module = parts
        .next()
        .and_then(|m| m.strip_prefix('['))
        .and_then(|m| m.strip_suffix(']'))
        .map(|m| m.to_string());
    if parts.next().is_some() {
        return None; // prose, not a frame
    }
    if let Some(hex) = sym.strip_prefix("0x") {
        let addr = u64::from_str_radix(hex, 16).ok()?;
        return Some(PrintedFrame {
            function: None,
            offset: 0,
            size: 0,
            module,
            address: Some(addr),
            reliable: true,
            from_regs: false,
            context: None,
        });
    }
    let (name, offs) = sym.rsplit_once('+')?;
    let (off, size) = offs.split_once('/')?;
    let parse = |h: &str| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
    {
        return None;
    }
    Some(PrintedFrame {
        function: Some(name.to_string()),
        offset: parse(off)?,
        size: parse(size)?,
        module,
        address: None,
        reliable: true,
        from_regs: false,
        context: None,
    })
}

pub(super) enum Marker {
    Open(&'static str),
    Close,
    End,
}

/// `<TASK>`, `<IRQ>`, `</IRQ>`, `<NMI>`, `<#DF>`, `<SOFTIRQ>`, `<EOI>`, `</TASK>`.
pub(super) fn marker(t: &str) -> Option<Marker> {
    Some(match t {
        "<TASK>" => Marker::Open("TASK"),
        "<IRQ>" => Marker::Open("IRQ"),
        "<NMI>" => Marker::Open("NMI"),
        "<SOFTIRQ>" => Marker::Open("SOFTIRQ"),
        "<#DF>" => Marker::Open("#DF"),
        "<#MC>" => Marker::Open("#MC"),
        "<#DB>" => Marker::Open("#DB"),
        "<#VC>" => Marker::Open("#VC"),
        "</IRQ>" | "</NMI>" | "</SOFTIRQ>" | "</#DF>" | "</#MC>" | "</#DB>" | "</#VC>"
        | "<EOI>" => Marker::Close,
        "</TASK>" => Marker::End,
        _ => return None,
    })
}

/// A register dump line inside a trace (`RSP: 0018:…`, `RAX: …`, `Code: …`;
/// arm64's `sp : …`, `x29: …`, `lr : …`, `pstate: …`).
pub(super) fn is_register_line(t: &str) -> bool {
    const REGS: &[&str] = &[
        "RSP:",
        "RAX:",
        "RBX:",
        "RCX:",
        "RDX:",
        "RSI:",
        "RDI:",
        "RBP:",
        "R08:",
        "R09:",
        "R10:",
        "R11:",
        "R12:",
        "R13:",
        "R14:",
        "R15:",
        "ORIG_RAX:",
        "Code:",
        "FS:",
        "CS:",
        "CR2:",
        "DR0:",
        "DR3:",
        "DR6:",
        "PKRU:",
        "sp : ",
        "lr : ",
        "pc : ",
        "pstate: ",
    ];
    // arm64's general registers, three to a line: `x29: ffff… x28: …`.
    let arm64_reg = t.strip_prefix('x').is_some_and(|r| {
        r.len() > 3
            && r.as_bytes()
                .get(..2)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            && r.get(2..4) == Some(": ")
            || r.as_bytes().first().is_some_and(u8::is_ascii_digit) && r.get(1..3) == Some(": ")
    });
    arm64_reg || REGS.iter().any(|r| t.starts_with(r))
}

/// `mm/slub.c:4210` → ("mm/slub.c", 4210).
pub(super) fn file_line(s: &str) -> (String, u32) {
    match s.rsplit_once(':') {
        Some((f, l)) => match l.parse() {
            Ok(n) => (f.to_string(), n),
            Err(_) => (s.to_string(), 0),
        },
        None => (s.to_string(), 0),
    }
}

/// The hex number a string starts with (`0000000000000008`, `0xdead…:`).
pub(super) fn hex_word(s: &str) -> Option<u64> {
    let s = s.trim_start();
    let s = s.strip_prefix("0x").unwrap_or(s);
    let end = s
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(s.len())
        .min(16);
    u64::from_str_radix(s.get(..end)?, 16).ok()
}

pub(super) fn leading_u64(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.get(..end)?.parse().ok()
}
