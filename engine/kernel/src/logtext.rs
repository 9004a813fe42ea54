//! Kernel logs kept as text: `dmesg` output with or without `[ time]`
//! stamps, the `vmcore-dmesg.txt` kdump writes beside a vmcore
//! (`makedumpfile --dump-dmesg`, `vmtriage dmesg`), `journalctl -k` and
//! syslog lines (`Nov 24 10:00:00 host kernel: …`, RFC 3339 stamps),
//! `<N>` level prefixes, `/dev/kmsg` records, and serial console captures
//! with user-space output mixed in — read into the same
//! [`LogRecord`]s the printk ring gives, so the report parser
//! ([`crate::oops::parse_log`]) and the titles ([`crate::titles::log_title`])
//! read both alike.
//!
//! Recognised by content, never by name ([`recognise`]): the lines must
//! carry the prefixes the kernel's and the log daemons' formats give
//! (kernel/printk/printk.c `print_time()`: `[%5lu.%06lu]`; `<%u>` from
//! `print_syslog()`; `/dev/kmsg`'s `level,seq,usec,flags;` from
//! `devkmsg_read()`; syslog's RFC 3164 `Mmm dd hh:mm:ss host prog:` and
//! RFC 3339 stamps), or, without any prefix (`dmesg -t`), start with the
//! kernel's banner or show its report lines. Binary files (dumps, ELF
//! files, compressed files, random bytes) and text that is no kernel log (a
//! README, a CSV) are refused with what they look like.
//!
//! The text is untrusted: the reader borrows the bytes, does no I/O, bounds
//! every count ([`MAX_BYTES`], [`MAX_LINE`], [`MAX_LINES`], [`MAX_RECORDS`])
//! and never panics. Bytes that are not UTF-8 are read lossily.

use crate::printk::LogRecord;

/// The most bytes read: a longer text is read from its last `MAX_BYTES`
/// (from the first line that starts in them), as a ring buffer keeps the
/// newest records — the crash is at the end.
pub const MAX_BYTES: usize = 64 << 20;
/// The most bytes of one line kept (the kernel's own lines are at most 1024
/// bytes, `PRINTKRB_RECORD_MAX`); the rest of a longer line is dropped.
pub const MAX_LINE: usize = 4096;
/// The most lines read; a text with more is read from its last lines.
pub const MAX_LINES: usize = 4_000_000;
/// The most records kept: past it, the oldest are dropped, as the ring does.
pub const MAX_RECORDS: usize = 1_000_000;
/// What [`recognise`] looks at: the text's first bytes.
pub const RECOGNISE_WINDOW: usize = 64 << 10;
/// Bytes other than text (NUL and control characters but tab, newline,
/// carriage return, form feed and escape) allowed in the window, per mille:
/// serial lines pick up some noise, a binary file has far more (random
/// bytes: about 12 %).
const NOISE_PER_MILLE: usize = 10;
/// Kernel lines needed when others are mixed in.
const MIN_KERNEL_LINES: usize = 3;
/// The share of non-empty lines (percent) that must be kernel lines when
/// other lines are mixed in (a console capture), or lines of a log
/// daemon's format (a syslog file of every program).
const MIN_KERNEL_SHARE: usize = 10;
const MIN_SYSLOG_SHARE: usize = 50;
/// Distinct kernel lines (banner, report lines) a log without prefixes
/// must show.
const MIN_PLAIN_MARKERS: usize = 3;

/// How a log was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `[    1.234567] text` on every line: `dmesg`, `vmcore-dmesg.txt`.
    Dmesg,
    /// No prefix at all: `dmesg -t`, a ring copied without stamps.
    Plain,
    /// `<6>text` or `<6>[    1.234567] text`: `dmesg -r`, `/proc/kmsg`.
    Leveled,
    /// `6,1234,5678901,-;text`: `/dev/kmsg`.
    Kmsg,
    /// `Nov 24 10:00:00 host kernel: text`: syslog, `journalctl -k`.
    Syslog,
    /// `2026-11-24T10:00:00.123456+00:00 host kernel: text`: rsyslog's
    /// RFC 3339 format, `journalctl -o short-iso`.
    Iso,
    /// Kernel lines with stamps among lines without: a serial console.
    Console,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Dmesg => "dmesg",
            Form::Plain => "dmesg without timestamps",
            Form::Leveled => "dmesg with <N> levels",
            Form::Kmsg => "/dev/kmsg",
            Form::Syslog => "syslog",
            Form::Iso => "syslog (RFC 3339 time)",
            Form::Console => "console capture",
        }
    }

    /// A short stable name for JSON and the results database.
    pub fn key(self) -> &'static str {
        match self {
            Form::Dmesg => "dmesg",
            Form::Plain => "plain",
            Form::Leveled => "leveled",
            Form::Kmsg => "kmsg",
            Form::Syslog => "syslog",
            Form::Iso => "iso",
            Form::Console => "console",
        }
    }
}

/// What the records' `timestamp_ns` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Time since boot, as the kernel stamps (`[ time]`, `/dev/kmsg`).
    SinceBoot,
    /// Wall-clock time of a log daemon, from the first record (syslog
    /// lines without the kernel's own stamp).
    Wall,
    /// No time in the text: every record is at 0.
    None,
}

/// A kernel log read from text.
#[derive(Debug, Clone)]
pub struct LogText {
    pub form: Form,
    pub clock: Clock,
    /// The records, oldest first; `seq` counts them (or is `/dev/kmsg`'s).
    pub records: Vec<LogRecord>,
    /// Whether the levels are the text's own (`<N>`, `/dev/kmsg`); else
    /// every record has level 6 (info).
    pub levels: bool,
    /// Lines read (all of them, kernel or not, empty ones included).
    pub lines: usize,
    /// Lines that are no kernel record (user-space output, other programs'
    /// syslog lines, boot noise, empty lines).
    pub skipped: usize,
    /// Lines longer than [`MAX_LINE`], cut.
    pub long_lines: usize,
    /// Bytes, lines or records left out at the start past a bound.
    pub dropped_head: bool,
    /// The text does not end with a line end: cut off mid-line.
    pub cut: bool,
    /// The release of a `Linux version …` banner line, if the log has one.
    pub release: Option<String>,
}

/// Why a file is not read as a kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotALog {
    /// What the file looks like instead ("a gzip file", "text with no
    /// kernel log line").
    pub found: String,
}

impl std::fmt::Display for NotALog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a kernel log: {}", self.found)
    }
}

impl std::error::Error for NotALog {}

/// Magic numbers of files that are never logs.
const MAGIC: &[(&[u8], &str)] = &[
    (b"\x7fELF", "an ELF file"),
    (b"KDUMP   ", "a kdump-compressed dump"),
    (b"DISKDUMP", "a kdump-compressed dump"),
    (b"makedumpfile", "a makedumpfile flattened dump"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\xfd7zXZ\0", "an xz file"),
    (b"\x28\xb5\x2f\xfd", "a zstd file"),
    (b"\x04\x22\x4d\x18", "an lz4 file"),
    (b"\x02\x21\x4c\x18", "an lz4 (legacy) file"),
    (b"\x89LZO", "an lzop file"),
    (b"BZh", "a bzip2 file"),
    (b"\x5d\0\0", "an lzma file"),
    (b"PK\x03\x04", "a zip file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
    (b"SQLite format 3\0", "a SQLite database"),
];

/// How a line was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Blank,
    /// `[ time] text`, optionally after `<N>`.
    Stamped,
    /// `<N>text`.
    Leveled,
    Kmsg,
    SyslogKernel,
    SyslogOther,
    IsoKernel,
    IsoOther,
    Other,
}

const ALL_CLASSES: [Class; 9] = [
    Class::Blank,
    Class::Stamped,
    Class::Leveled,
    Class::Kmsg,
    Class::SyslogKernel,
    Class::SyslogOther,
    Class::IsoKernel,
    Class::IsoOther,
    Class::Other,
];

impl Class {
    fn kernel(self) -> bool {
        matches!(
            self,
            Class::Stamped | Class::Leveled | Class::Kmsg | Class::SyslogKernel | Class::IsoKernel
        )
    }

    fn daemon(self) -> bool {
        matches!(
            self,
            Class::SyslogKernel | Class::SyslogOther | Class::IsoKernel | Class::IsoOther
        )
    }
}

/// One line taken apart.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    class: Class,
    level: Option<u8>,
    /// Nanoseconds since boot.
    boot_ns: Option<u64>,
    /// Seconds of wall-clock time (a daemon's stamp), with nanoseconds.
    wall: Option<(i64, u32)>,
    seq: Option<u64>,
    text: &'a [u8],
}

impl<'a> Line<'a> {
    fn other(class: Class, text: &'a [u8]) -> Line<'a> {
        Line {
            class,
            level: None,
            boot_ns: None,
            wall: None,
            seq: None,
            text,
        }
    }
}

/// The lines of `b`, each without its line end (`\n`, `\r\n`).
fn lines(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|_| !b.is_empty())
}

/// Decimal digits at the start of `b`: (value, count); at most 19 digits.
fn digits(b: &[u8]) -> (u64, usize) {
    let mut v: u64 = 0;
    let mut n = 0;
    for &c in b.iter().take(19) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v * 10 + u64::from(c - b'0');
        n += 1;
    }
    (v, n)
}

/// `[   12.345678]` at the start: nanoseconds since boot and the length,
/// the one space after it included.
fn boot_stamp(b: &[u8]) -> Option<(u64, usize)> {
    let rest = b.strip_prefix(b"[")?;
    let pad = rest.iter().take(16).take_while(|&&c| c == b' ').count();
    let rest = &rest[pad..];
    let (secs, n) = digits(rest);
    if n == 0 || n > 12 {
        return None;
    }
    let rest = rest[n..].strip_prefix(b".")?;
    let (frac, m) = digits(rest);
    if m == 0 || m > 9 {
        return None;
    }
    let rest = rest[m..].strip_prefix(b"]")?;
    let ns = frac * 10u64.pow(9 - m as u32);
    let mut len = 1 + pad + n + 1 + m + 1;
    if rest.first() == Some(&b' ') {
        len += 1;
    }
    Some((secs.saturating_mul(1_000_000_000).saturating_add(ns), len))
}

/// `<N>` at the start (a syslog priority: facility × 8 + level): the level
/// and the length.
fn level_prefix(b: &[u8]) -> Option<(u8, usize)> {
    let rest = b.strip_prefix(b"<")?;
    let (v, n) = digits(rest);
    if n == 0 || n > 3 || rest.get(n) != Some(&b'>') {
        return None;
    }
    Some(((v & 7) as u8, n + 2))
}

/// `/dev/kmsg`: `level,seq,usec,flags[,…];text`.
fn kmsg(b: &[u8]) -> Option<Line<'_>> {
    let semi = b.iter().take(64).position(|&c| c == b';')?;
    let head = &b[..semi];
    let mut f = head.split(|&c| c == b',');
    let num = |x: Option<&[u8]>| {
        let x = x?;
        let (v, n) = digits(x);
        (n > 0 && n == x.len()).then_some(v)
    };
    let prio = num(f.next())?;
    let seq = num(f.next())?;
    let usec = num(f.next())?;
    let flags = f.next()?;
    if !flags.iter().all(|c| b"-+c".contains(c)) {
        return None;
    }
    Some(Line {
        class: Class::Kmsg,
        level: Some((prio & 7) as u8),
        boot_ns: Some(usec.saturating_mul(1000)),
        wall: None,
        seq: Some(seq),
        text: &b[semi + 1..],
    })
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `hh:mm:ss` and an optional `.fraction`: seconds of the day, nanoseconds,
/// length.
fn clock_time(b: &[u8]) -> Option<(i64, u32, usize)> {
    let two = |i: usize| -> Option<i64> {
        let x = b.get(i..i + 2)?;
        x.iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(x[0] - b'0') * 10 + i64::from(x[1] - b'0'))
    };
    let (h, m, s) = (two(0)?, two(3)?, two(6)?);
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut len = 8;
    let mut ns = 0u32;
    if b.get(8) == Some(&b'.') {
        let (frac, n) = digits(&b[9..]);
        if n == 0 || n > 9 {
            return None;
        }
        ns = (frac * 10u64.pow(9 - n as u32)) as u32;
        len += 1 + n;
    }
    Some((h * 3600 + m * 60 + s, ns, len))
}

/// What follows a daemon's time stamp and its space: `host prog: text`.
/// Whether the program is the kernel, and the text.
fn daemon_tail(b: &[u8]) -> Option<(bool, &[u8])> {
    let host_len = b.iter().take(256).position(|&c| c == b' ')?;
    if host_len == 0 {
        return None;
    }
    let rest = &b[host_len + 1..];
    let prog_len = rest.iter().take(128).position(|&c| c == b':')?;
    let prog = &rest[..prog_len];
    if prog.is_empty() || prog.contains(&b' ') {
        return None;
    }
    let text = &rest[prog_len + 1..];
    let text = text.strip_prefix(b" ").unwrap_or(text);
    let name = prog.split(|&c| c == b'[').next().unwrap_or(prog);
    Some((name == b"kernel", text))
}

/// After a daemon's time stamp: ` host prog: text`. Kernel lines are
/// the `kernel` program's (its text may start with the kernel's own
/// `[ time]` and `<N>`, which are taken).
fn daemon_rest(b: &[u8], kernel: Class, other: Class, wall: (i64, u32)) -> Option<Line<'_>> {
    let (is_kernel, text) = daemon_tail(b.strip_prefix(b" ")?)?;
    if !is_kernel {
        return Some(Line::other(other, text));
    }
    let mut line = Line::other(kernel, text);
    line.wall = Some(wall);
    if let Some((lvl, n)) = level_prefix(line.text) {
        line.level = Some(lvl);
        line.text = &line.text[n..];
    }
    if let Some((ns, n)) = boot_stamp(line.text) {
        line.boot_ns = Some(ns);
        line.text = &line.text[n..];
    }
    Some(line)
}

/// `Nov 24 10:00:00 host prog: text` (RFC 3164; `journalctl`'s default
/// and `short-precise` formats). The year is not written: 2000's is taken
/// (a leap year), so a log across the new year only goes back in time.
fn syslog(b: &[u8]) -> Option<Line<'_>> {
    let mon = MONTHS.iter().position(|m| b.starts_with(*m))? as u32 + 1;
    let b = b.get(3..)?.strip_prefix(b" ")?;
    let b = b.strip_prefix(b" ").unwrap_or(b);
    let (day, n) = digits(b);
    if n == 0 || n > 2 || day == 0 || day > 31 {
        return None;
    }
    let b = b[n..].strip_prefix(b" ")?;
    let (secs, ns, len) = clock_time(b)?;
    let wall = days_from_civil(2000, mon, day as u32) * 86_400 + secs;
    daemon_rest(
        &b[len..],
        Class::SyslogKernel,
        Class::SyslogOther,
        (wall, ns),
    )
}

/// `2026-11-24T10:00:00[.frac][Z|±hh:mm|±hhmm] host prog: text`.
fn iso(b: &[u8]) -> Option<Line<'_>> {
    let (y, n) = digits(b);
    if n != 4 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (mo, n1) = digits(b.get(5..)?);
    let (d, n2) = digits(b.get(8..)?);
    if n1 != 2 || n2 != 2 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b' ')) {
        return None;
    }
    let (secs, ns, len) = clock_time(b.get(11..)?)?;
    let mut rest = &b[11 + len..];
    let mut offset = 0i64;
    if let Some(r) = rest.strip_prefix(b"Z") {
        rest = r;
    } else if let Some(&sign) = rest.first().filter(|c| matches!(c, b'+' | b'-')) {
        let (hh, a) = digits(rest.get(1..3)?);
        let r = &rest[3..];
        let r = r.strip_prefix(b":").unwrap_or(r);
        let (mm, c) = digits(r.get(..2)?);
        if a != 2 || c != 2 {
            return None;
        }
        offset = (hh * 3600 + mm * 60) as i64 * if sign == b'-' { -1 } else { 1 };
        rest = &r[2..];
    }
    let wall = days_from_civil(y as i64, mo as u32, d as u32) * 86_400 + secs - offset;
    daemon_rest(rest, Class::IsoKernel, Class::IsoOther, (wall, ns))
}

/// Takes one line apart.
fn classify(b: &[u8]) -> Line<'_> {
    if b.iter().all(|c| c.is_ascii_whitespace()) {
        return Line::other(Class::Blank, b);
    }
    let (level, after_level) = match level_prefix(b) {
        Some((l, n)) => (Some(l), &b[n..]),
        None => (None, b),
    };
    if let Some((ns, n)) = boot_stamp(after_level) {
        let text = &after_level[n..];
        // `journalctl -o short-monotonic`: `[ time] host kernel: text`
        // (only the kernel's program name is taken: `pci 0000:00:01.0:`
        // would look like a host and a program).
        let text = match daemon_tail(text) {
            Some((true, t)) if level.is_none() => t,
            _ => text,
        };
        let mut l = Line::other(Class::Stamped, text);
        l.level = level;
        l.boot_ns = Some(ns);
        return l;
    }
    if let Some(lvl) = level {
        let mut l = Line::other(Class::Leveled, after_level);
        l.level = Some(lvl);
        return l;
    }
    if let Some(l) = kmsg(b) {
        return l;
    }
    if let Some(l) = syslog(b) {
        return l;
    }
    if let Some(l) = iso(b) {
        return l;
    }
    Line::other(Class::Other, b)
}

/// Lines that only the kernel prints at a line's start: its banner and
/// the lines of its reports (arch/x86/kernel/dumpstack.c, kernel/panic.c,
/// mm/…), for a log without prefixes.
const PLAIN_MARKERS: &[&str] = &[
    "Linux version ",
    "Command line: ",
    "Kernel command line: ",
    "Booting Linux on ",
    "Call Trace:",
    "Call trace:",
    "Kernel panic - not syncing",
    "BUG: ",
    "WARNING: CPU: ",
    "Oops: ",
    "RIP: 0010:",
    "RSP: 0018:",
    "Hardware name: ",
    "Modules linked in:",
    "---[ end ",
    "------------[ cut here ]------------",
    "x86/fpu: ",
    "BIOS-e820: ",
    "DMI: ",
    "smpboot: ",
    "rcu: ",
    "watchdog: ",
    "INFO: task ",
    "Code: ",
    "Kernel Offset: ",
    "Tainted: ",
    "pstore: ",
    "sysrq: ",
];

/// What the first [`RECOGNISE_WINDOW`] bytes of `b` hold: the form of a
/// kernel log, or why it is none.
pub fn recognise(b: &[u8]) -> Result<Form, NotALog> {
    let none = |found: &str| {
        Err(NotALog {
            found: found.to_string(),
        })
    };
    if b.is_empty() {
        return none("the file is empty");
    }
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| b.starts_with(m)) {
        return none(what);
    }
    let w = &b[..b.len().min(RECOGNISE_WINDOW)];
    let noise = w
        .iter()
        .filter(|&&c| (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || c == 0x7f)
        .count();
    if noise * 1000 > w.len() * NOISE_PER_MILLE {
        return none(&format!(
            "binary data ({noise} of its first {} bytes are no text)",
            w.len()
        ));
    }
    // The window may cut its last line.
    let whole = match w.iter().rposition(|&c| c == b'\n') {
        Some(i) if w.len() < b.len() => &w[..=i],
        _ => w,
    };
    let mut count = [0usize; ALL_CLASSES.len()];
    let mut markers: Vec<&str> = Vec::new();
    let mut first_text: Option<&[u8]> = None;
    let mut fences = false;
    for l in lines(whole) {
        let l = &l[..l.len().min(MAX_LINE)];
        let c = classify(l);
        count[c.class as usize] += 1;
        if c.class == Class::Other {
            let t = trim_start(l);
            fences |= t.starts_with(b"```") || t.starts_with(b"~~~");
            if let Some(m) = PLAIN_MARKERS.iter().find(|m| t.starts_with(m.as_bytes())) {
                if !markers.contains(m) {
                    markers.push(m);
                }
            }
            if first_text.is_none() {
                first_text = Some(t);
            }
        }
    }
    let n = |c: Class| count[c as usize];
    let nonblank: usize = count.iter().sum::<usize>() - n(Class::Blank);
    let kernel: usize = ALL_CLASSES
        .iter()
        .filter(|c| c.kernel())
        .map(|&c| n(c))
        .sum();
    let daemon: usize = ALL_CLASSES
        .iter()
        .filter(|c| c.daemon())
        .map(|&c| n(c))
        .sum();
    let all = kernel > 0 && kernel == nonblank;
    let mixed = kernel >= MIN_KERNEL_LINES && kernel * 100 >= nonblank * MIN_KERNEL_SHARE;
    let daemon_log = kernel >= MIN_KERNEL_LINES && daemon * 100 >= nonblank * MIN_SYSLOG_SHARE;
    if all || mixed || daemon_log {
        let most = [
            (Class::Kmsg, Form::Kmsg),
            (Class::SyslogKernel, Form::Syslog),
            (Class::IsoKernel, Form::Iso),
            (Class::Leveled, Form::Leveled),
            (Class::Stamped, Form::Dmesg),
        ]
        .into_iter()
        .max_by_key(|(c, _)| n(*c))
        .map_or(Form::Dmesg, |(_, f)| f);
        let form = match most {
            Form::Dmesg if n(Class::Other) * 100 > nonblank * 5 => Form::Console,
            f => f,
        };
        return Ok(form);
    }
    if kernel == 0 && !fences {
        let banner = first_text.is_some_and(|t| {
            t.starts_with(b"Linux version ") || t.starts_with(b"Booting Linux on ")
        });
        if banner || markers.len() >= MIN_PLAIN_MARKERS {
            return Ok(Form::Plain);
        }
    }
    if kernel > 0 {
        return none(&format!(
            "text with only {kernel} kernel log line(s) among {nonblank}"
        ));
    }
    none("text with no kernel log line (no `[ time]` stamp, `<N>` level, `kernel:` syslog line, or kernel banner and report lines)")
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Reads a kernel log from text (recognised by [`recognise`]).
pub fn read(bytes: &[u8]) -> Result<LogText, NotALog> {
    let mut dropped_head = false;
    let mut b = bytes;
    if b.len() > MAX_BYTES {
        let tail = &b[b.len() - MAX_BYTES..];
        let start = tail.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
        b = &tail[start..];
        dropped_head = true;
    }
    let form = recognise(b)?;
    let total = lines(b).count();
    let skip = total.saturating_sub(MAX_LINES);
    dropped_head |= skip > 0;
    let mut log = LogText {
        form,
        clock: Clock::None,
        records: Vec::new(),
        levels: false,
        lines: 0,
        skipped: 0,
        long_lines: 0,
        dropped_head,
        cut: !b.is_empty() && !b.ends_with(b"\n"),
        release: None,
    };
    let mut first_wall: Option<(i64, u32)> = None;
    let mut boot = false;
    let mut records: std::collections::VecDeque<LogRecord> = std::collections::VecDeque::new();
    for raw in lines(b).skip(skip) {
        log.lines += 1;
        let mut l = raw;
        if l.len() > MAX_LINE {
            log.long_lines += 1;
            l = &l[..MAX_LINE];
        }
        let mut line = classify(l);
        if form == Form::Plain {
            if line.class == Class::Blank {
                log.skipped += 1;
                continue;
            }
            line = Line::other(Class::Leveled, l);
        } else if !line.class.kernel() {
            // A kernel line after other output on the same line (a
            // console where user space had not ended its line).
            match find_stamp(l).filter(|_| matches!(form, Form::Console | Form::Dmesg)) {
                Some(i) => line = classify(&l[i..]),
                None => {
                    log.skipped += 1;
                    continue;
                }
            }
        }
        let ts = match (line.boot_ns, line.wall) {
            (Some(ns), _) => {
                boot = true;
                ns
            }
            (None, Some(w)) => {
                let f = *first_wall.get_or_insert(w);
                let secs = u64::try_from(w.0 - f.0).unwrap_or(0);
                secs.saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(w.1))
                    .saturating_sub(u64::from(f.1))
            }
            (None, None) => 0,
        };
        log.levels |= line.level.is_some();
        let text = String::from_utf8_lossy(line.text).into_owned();
        if log.release.is_none() {
            log.release = banner_release(&text);
        }
        if records.len() >= MAX_RECORDS {
            records.pop_front();
            log.dropped_head = true;
        }
        let seq = line.seq.unwrap_or(log.lines as u64 - 1);
        records.push_back(LogRecord {
            seq,
            level: line.level.unwrap_or(6),
            timestamp_ns: ts,
            text,
        });
    }
    log.clock = if boot {
        Clock::SinceBoot
    } else if first_wall.is_some() {
        Clock::Wall
    } else {
        Clock::None
    };
    log.records = records.into();
    Ok(log)
}

/// Where a `[ time] ` stamp starts inside a line, if one does.
fn find_stamp(l: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = l[from..].iter().position(|&c| c == b'[') {
        let at = from + i;
        if boot_stamp(&l[at..]).is_some() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `Linux version 6.1.0-27-cloud-amd64 (…)`: the release.
fn banner_release(text: &str) -> Option<String> {
    let rest = text.trim_start().strip_prefix("Linux version ")?;
    let r = rest.split_whitespace().next()?;
    (r.len() <= 64).then(|| r.to_string())
}

impl LogText {
    /// The span of the records' time stamps, in nanoseconds.
    pub fn span_ns(&self) -> Option<u64> {
        let first = self.records.first()?.timestamp_ns;
        let last = self.records.iter().map(|r| r.timestamp_ns).max()?;
        (self.clock != Clock::None).then(|| last.saturating_sub(first))
    }
}

#[cfg(test)]
mod tests;
