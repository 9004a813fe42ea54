//! Finding the dumps of an archive by content, and splitting it into shards.
//!
//! Each input is a dump file, a directory (walked recursively), or a list
//! file (text, one path a line; `#` comments; relative paths are relative to
//! the list's directory). In directories, an entry is left out only when it
//! is provably not a dump ([`provably_not_dump`]: the one place that says
//! so); every other entry is a candidate or an error row, so a garbage,
//! truncated, unreadable or odd entry (a FIFO, a device, a broken link) in
//! an archive shows up rather than disappearing silently.
//!
//! The walk follows symbolic links but visits each directory and each file
//! (by device and inode) once: a loop (`self -> .`, `up -> ..`) ends, and a
//! dump reached by several paths (a link, a hard link, `../x/./y` in a list)
//! is one dump under the first path found; links are followed after the
//! real entries of their input, so a dump's own name wins over a link to it.
//! The walk is bounded ([`Limits`]): past a bound, an error row says what
//! was not walked.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    ElfCore,
    Kdump,
    Flattened,
    /// An ELF file that is not a core (a vmlinux, a module): a complete,
    /// valid ELF header of a relocatable, executable or shared object.
    ElfOther,
    /// A kernel log as text ([`kmodel::logtext::recognise`]).
    Log,
    Text,
    Unknown,
}

/// Bytes read to sniff a file: what recognises a kernel log.
const SNIFF_WINDOW: usize = kmodel::logtext::RECOGNISE_WINDOW;

/// Whether a file whose first bytes sniff as `s` is provably not a dump —
/// the only entries a directory walk leaves out without a row:
///
/// - an ELF file whose whole header (52 or 64 bytes by its class, with a
///   valid class, byte order and version) says relocatable, executable or
///   shared object: a vmlinux, a module, a tool. A dump is an ELF core, or
///   not ELF at all; a short or damaged ELF header is a candidate.
/// - text that is no kernel log ([`kmodel::logtext::recognise`] refuses
///   it: READMEs, lists, CSV): non-empty, valid UTF-8 (a character may be cut only at the end of
///   a full window, where the file goes on), something visible in it, no
///   NUL and no control character but tab, newline, carriage return, form
///   feed and escape (colour in logs). Logs, READMEs, lists.
///
/// Everything else — kernel logs, empty files, short headers, garbage — is
/// scanned and gets its row. (Hidden entries, names starting with `.`, are not part of
/// the archive: `.git`, a writer's temporary file.)
pub fn provably_not_dump(s: Sniff) -> bool {
    matches!(s, Sniff::ElfOther | Sniff::Text)
}

pub fn sniff_bytes(b: &[u8]) -> Sniff {
    sniff_window(b, false)
}

/// `more`: the file goes on past `b` (a full window was read).
fn sniff_window(b: &[u8], more: bool) -> Sniff {
    if b.starts_with(b"\x7fELF") {
        return sniff_elf(b);
    }
    if b.starts_with(b"KDUMP   ") || b.starts_with(b"DISKDUMP") {
        return Sniff::Kdump;
    }
    if b.starts_with(b"makedumpfile") {
        return Sniff::Flattened;
    }
    if !b.is_empty() && kmodel::logtext::recognise(b).is_ok() {
        return Sniff::Log;
    }
    if is_text(b, more) {
        return Sniff::Text;
    }
    Sniff::Unknown
}

fn sniff_elf(b: &[u8]) -> Sniff {
    // e_ident: class (1: 32-bit, 2: 64-bit), byte order (1: LE, 2: BE), version 1
    let header = match b.get(4) {
        Some(1) => 52,
        Some(2) => 64,
        _ => return Sniff::Unknown,
    };
    if b.len() < header || !matches!(b[5], 1 | 2) || b[6] != 1 {
        return Sniff::Unknown;
    }
    let t = [b[16], b[17]];
    let e_type = if b[5] == 1 {
        u16::from_le_bytes(t)
    } else {
        u16::from_be_bytes(t)
    };
    match e_type {
        4 => Sniff::ElfCore,
        1..=3 => Sniff::ElfOther,
        _ => Sniff::Unknown,
    }
}

fn is_text(b: &[u8], more: bool) -> bool {
    let valid = match std::str::from_utf8(b) {
        Ok(s) => s,
        // a full window may cut a multi-byte character at its end
        Err(e) if more && e.error_len().is_none() => {
            std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid.chars().any(|c| !c.is_control() && !c.is_whitespace())
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c' | '\x1b'))
}

/// The error row of an entry that is no regular file.
pub fn not_regular(md: &Metadata) -> String {
    format!(
        "{} (links followed): not opened; dumps are regular files",
        vmcore::file_kind(md.file_type())
    )
}

pub fn sniff(path: &Path) -> std::io::Result<Sniff> {
    // Not a FIFO or a device: it would block or never end.
    let mut f = vmcore::open_regular(path)?;
    let mut buf = vec![0u8; SNIFF_WINDOW];
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(sniff_window(&buf[..n], n == SNIFF_WINDOW))
}

/// A path as the database and the reports name it: its bytes, lossless.
/// A UTF-8 path without a backslash is itself; any other (a file name that
/// is not UTF-8, or one with a backslash) has each backslash doubled and
/// each byte that is not UTF-8 written `\xNN`. Injective: a key holds a
/// backslash exactly when it was escaped. [`key_path`] reverses it.
pub fn path_key(p: &Path) -> String {
    let b = p.as_os_str().as_bytes();
    match std::str::from_utf8(b) {
        Ok(s) if !s.contains('\\') => s.to_string(),
        _ => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for x in chunk.invalid() {
                    out.push_str(&format!("\\x{x:02x}"));
                }
            }
            out
        }
    }
}

/// The path a [`path_key`] names.
pub fn key_path(key: &str) -> PathBuf {
    if !key.contains('\\') {
        return PathBuf::from(key);
    }
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            let hex = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if b.get(i + 1) == Some(&b'x') {
                if let Some(x) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(x);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(OsString::from_vec(out))
}

/// A file to scan, with the key that decides its shard.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Absolute path (its [`path_key`] is the dump's key in the database).
    pub path: PathBuf,
    /// The path relative to the input it was found under (stable across
    /// machines that mount the archive in different places).
    pub shard_key: OsString,
    /// What its first bytes say (None: not sniffed).
    pub sniff: Option<Sniff>,
    /// For a dump: the kernel logs beside it that are its own (kdump's
    /// `vmcore-dmesg.txt`), kept as its evidence instead of scanned as
    /// crashes of their own ([`pair_logs`]).
    pub evidence: Vec<PathBuf>,
}

/// An input or an archive entry that could not be used (missing,
/// unreadable, not a regular file, past a bound of the walk): an error row.
#[derive(Debug, Clone)]
pub struct InputError {
    pub path: PathBuf,
    /// `open`, or `walk` (a bound of the walk).
    pub stage: &'static str,
    pub message: String,
}

/// The bounds of a walk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Directory levels below an input.
    pub depth: usize,
    /// Entries looked at, over all inputs (directories, files, links, list
    /// lines).
    pub entries: usize,
}

impl Limits {
    /// Deeper than any archive layout (HOST/DATE/…); a link loop cannot
    /// get there (each directory is walked once), a tree of real
    /// directories can.
    pub const DEPTH: usize = 64;
    /// About 250 MiB of candidates at most; a larger archive is scanned in
    /// parts (one input, or one scan, per subdirectory).
    pub const ENTRIES: usize = 1_000_000;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            depth: Limits::DEPTH,
            entries: Limits::ENTRIES,
        }
    }
}

/// Longest path the kernel opens (bytes, with its NUL).
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// The largest list file read (64 MiB: a million paths).
const MAX_LIST: u64 = 64 << 20;

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A walk over all inputs: what it found, and each directory and file it
/// has seen (device, inode).
struct Walk {
    limits: Limits,
    seen: HashSet<(u64, u64)>,
    entries: usize,
    /// The entry bound was reached: nothing more is looked at.
    full: bool,
    out: Vec<Candidate>,
    errs: Vec<InputError>,
}

/// How an entry came to be looked at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    /// In a directory: left out when provably no dump.
    Walked,
    /// Named on the command line or in a list: scanned whatever it is.
    Named,
}

impl Walk {
    fn error(&mut self, path: &Path, stage: &'static str, message: String) {
        self.errs.push(InputError {
            path: absolute(path),
            stage,
            message,
        });
    }

    /// Counts one entry; false (with an error row, once) past the bound.
    fn count(&mut self, at: &Path) -> bool {
        if self.full {
            return false;
        }
        self.entries += 1;
        if self.entries > self.limits.entries {
            self.full = true;
            let msg = format!(
                "the walk stopped after {} entries: this entry and all after it (in this directory, the directories after it and the inputs after it) were not looked at; scan the archive in parts (one input or one scan per subdirectory)",
                self.limits.entries
            );
            self.error(at, "walk", msg);
            return false;
        }
        true
    }

    /// The metadata of `p` (links followed), or its error row.
    fn stat(&mut self, p: &Path) -> Option<Metadata> {
        match std::fs::metadata(p) {
            Ok(md) => Some(md),
            Err(e) => {
                let len = absolute(p).as_os_str().len();
                let msg = if len >= PATH_MAX {
                    format!("cannot read: its path is {len} bytes, longer than PATH_MAX ({PATH_MAX}): it cannot be opened by path, nor anything under it; move it to a shorter path ({e})")
                } else if std::fs::symlink_metadata(p).is_ok_and(|m| m.is_symlink()) {
                    format!("a broken or looping link: {e}")
                } else {
                    format!("cannot read: {e}")
                };
                self.error(p, "open", msg);
                None
            }
        }
    }

    /// Looks at one entry: a directory is walked, a file becomes a
    /// candidate (or is left out, when walked and provably no dump), any
    /// other kind is an error row. Each (device, inode) once.
    fn entry(
        &mut self,
        input: &Path,
        p: &Path,
        depth: usize,
        found: Found,
        links: &mut Vec<(PathBuf, usize)>,
    ) {
        let Some(md) = self.stat(p) else { return };
        if !self.seen.insert((md.dev(), md.ino())) {
            return;
        }
        if md.is_dir() {
            self.walk_dir(input, p, depth + 1, links);
        } else if md.is_file() {
            let sniffed = match (sniff(p), found) {
                (Ok(s), Found::Walked) if provably_not_dump(s) => return,
                (Err(e), Found::Walked) => {
                    return self.error(p, "open", format!("cannot read: {e}"))
                }
                // Named: scanned whatever it is (its error is the scan's).
                (s, _) => s.ok(),
            };
            let key = p.strip_prefix(input).unwrap_or(p);
            let key = if key.as_os_str().is_empty() {
                p.file_name().unwrap_or(p.as_os_str())
            } else {
                key.as_os_str()
            };
            self.out.push(Candidate {
                shard_key: key.to_os_string(),
                path: absolute(p),
                sniff: sniffed,
                evidence: Vec::new(),
            });
        } else {
            self.error(p, "open", not_regular(&md));
        }
    }

    /// The real entries of `dir` in name order (hidden ones left out);
    /// links are kept for later.
    fn walk_dir(
        &mut self,
        input: &Path,
        dir: &Path,
        depth: usize,
        links: &mut Vec<(PathBuf, usize)>,
    ) {
        if depth > self.limits.depth {
            let msg = format!(
                "directory not walked: more than {} levels below the input {}; scan it as an input of its own",
                self.limits.depth,
                path_key(input)
            );
            return self.error(dir, "walk", msg);
        }
        let rd = match std::fs::read_dir(dir) {
            Ok(r) => r,
            Err(e) => return self.error(dir, "open", format!("cannot read directory: {e}")),
        };
        let mut entries = Vec::new();
        for e in rd {
            match e {
                Ok(e) => {
                    if e.file_name().as_bytes().starts_with(b".") {
                        continue;
                    }
                    let link = e.file_type().is_ok_and(|t| t.is_symlink());
                    entries.push((e.path(), link));
                }
                Err(e) => self.error(dir, "open", format!("cannot read directory: {e}")),
            }
        }
        entries.sort();
        for (p, link) in entries {
            if !self.count(&p) {
                return;
            }
            if link {
                links.push((p, depth));
            } else {
                self.entry(input, &p, depth, Found::Walked, links);
            }
        }
    }

    /// A directory input: its real tree first, then what its links lead to
    /// (and their links in turn).
    fn walk_input(&mut self, input: &Path) {
        let mut links = Vec::new();
        self.walk_dir(input, input, 0, &mut links);
        let mut next = 0;
        while next < links.len() {
            let (p, depth) = links[next].clone();
            next += 1;
            self.entry(input, &p, depth, Found::Walked, &mut links);
        }
    }

    /// A named input or list line: a directory to walk, a file to scan.
    fn named(&mut self, p: &Path, shard_key: &OsStr) {
        if !self.count(p) {
            return;
        }
        let Some(md) = self.stat(p) else { return };
        if md.is_dir() {
            if self.seen.insert((md.dev(), md.ino())) {
                self.walk_input(p);
            }
        } else {
            let before = self.out.len();
            let base = p.parent().unwrap_or(Path::new(""));
            self.entry(base, p, 0, Found::Named, &mut Vec::new());
            if let Some(c) = self.out.get_mut(before) {
                c.shard_key = shard_key.to_os_string();
            }
        }
    }

    /// A list file: text whose lines all name existing files or
    /// directories. False when `input` is no list.
    fn list(&mut self, input: &Path) -> bool {
        if !matches!(sniff(input), Ok(Sniff::Text)) {
            return false;
        }
        let Ok(f) = vmcore::open_regular(input) else {
            return false;
        };
        let mut text = Vec::new();
        if f.take(MAX_LIST + 1).read_to_end(&mut text).is_err() || text.len() as u64 > MAX_LIST {
            return false;
        }
        let base = input.parent().unwrap_or(Path::new("."));
        let lines: Vec<&OsStr> = text
            .split(|&b| b == b'\n')
            .map(|l| OsStr::from_bytes(l.trim_ascii()))
            .filter(|l| !l.is_empty() && !l.as_bytes().starts_with(b"#"))
            .collect();
        // (existence through the link: a broken link is no list line)
        if lines.is_empty() || !lines.iter().all(|l| base.join(l).exists()) {
            return false;
        }
        for l in lines {
            self.named(&base.join(l), l);
        }
        true
    }
}

/// The candidates of all inputs, in input order, each file once; and the
/// entries that are error rows.
pub fn discover(inputs: &[PathBuf]) -> (Vec<Candidate>, Vec<InputError>) {
    discover_within(inputs, Limits::default())
}

/// [`discover`] with other bounds.
pub fn discover_within(inputs: &[PathBuf], limits: Limits) -> (Vec<Candidate>, Vec<InputError>) {
    let mut w = Walk {
        limits,
        seen: HashSet::new(),
        entries: 0,
        full: false,
        out: Vec::new(),
        errs: Vec::new(),
    };
    for input in inputs {
        let is_file = std::fs::metadata(input).is_ok_and(|m| m.is_file());
        if is_file && w.list(input) {
            continue;
        }
        // Named explicitly: scanned whatever it is (a non-dump becomes an error row).
        let key = input.file_name().unwrap_or_default().to_os_string();
        w.named(input, &key);
    }
    (pair_logs(w.out), w.errs)
}

/// Whether a log file name is a dump's own, by the names kdump gives
/// them side by side: `vmcore` and `vmcore-dmesg.txt` (kexec-tools,
/// makedumpfile `--dump-dmesg`), `dump.202611241000` and
/// `dmesg.202611241000` (Debian's kdump-tools), `NAME` and
/// `NAME-dmesg.txt`.
fn own_log_name(dump: &[u8], log: &[u8]) -> bool {
    let named = |suffix: &[u8]| log.strip_prefix(dump) == Some(suffix);
    named(b"-dmesg.txt")
        || named(b".dmesg")
        || (log == b"vmcore-dmesg.txt" && dump.starts_with(b"vmcore"))
        || dump
            .strip_prefix(b"dump.")
            .is_some_and(|stamp| log.strip_prefix(b"dmesg.") == Some(stamp))
}

/// A dump and its own kernel log side by side are one crash: the dump is
/// scanned, the log kept as its evidence (dropped from the candidates).
/// A log is a dump's own when they share a directory and either its name
/// is the dump's log name ([`own_log_name`]) or the directory holds that
/// one dump and that one log (kdump's one directory per crash,
/// `127.0.0.1-2026-11-24-10:00:00/`).
pub fn pair_logs(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    use std::collections::BTreeMap;
    let is_dump = |c: &Candidate| {
        matches!(
            c.sniff,
            Some(Sniff::ElfCore | Sniff::Kdump | Sniff::Flattened)
        )
    };
    let mut dirs: BTreeMap<&Path, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (i, c) in cands.iter().enumerate() {
        let dir = c.path.parent().unwrap_or(Path::new("/"));
        let e = dirs.entry(dir).or_default();
        if is_dump(c) {
            e.0.push(i);
        } else if c.sniff == Some(Sniff::Log) {
            e.1.push(i);
        }
    }
    let name = |c: &Candidate| c.path.file_name().unwrap_or_default().as_bytes().to_vec();
    let mut owner: Vec<(usize, usize)> = Vec::new();
    for (dumps, logs) in dirs.values() {
        for &l in logs {
            let by_name = dumps
                .iter()
                .copied()
                .find(|&d| own_log_name(&name(&cands[d]), &name(&cands[l])));
            let alone = (dumps.len() == 1 && logs.len() == 1).then(|| dumps[0]);
            if let Some(d) = by_name.or(alone) {
                owner.push((l, d));
            }
        }
    }
    let mut dropped = vec![false; cands.len()];
    for (l, d) in owner {
        let p = cands[l].path.clone();
        cands[d].evidence.push(p);
        dropped[l] = true;
    }
    let mut i = 0;
    cands.retain(|_| {
        i += 1;
        !dropped[i - 1]
    });
    cands
}

/// `K/N`: shard K (0-based) of N.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("--shard `{s}`: expected K/N, e.g. 0/4"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("--shard `{s}`: K is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard `{s}`: N is not a number"))?;
    if n == 0 || k >= n {
        return Err(format!(
            "--shard `{s}`: need 0 <= K < N (shards are numbered from 0)"
        ));
    }
    Ok((k, n))
}

/// Which shard a candidate belongs to: a hash of its path relative to the
/// input, so the split is the same on every machine and adding files to the
/// archive does not move the others.
pub fn shard_of(key: &OsStr, n: u64) -> u64 {
    let d = Sha256::digest(key.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8])) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(class: u8, order: u8, e_type: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len.max(18)];
        b[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', class, order, 1]);
        let t = if order == 2 {
            e_type.to_be_bytes()
        } else {
            e_type.to_le_bytes()
        };
        b[16..18].copy_from_slice(&t);
        b.truncate(len);
        b
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_bytes(b"KDUMP   \x06\0\0\0"), Sniff::Kdump);
        assert_eq!(sniff_bytes(b"makedumpfile\0\0\0\0"), Sniff::Flattened);
        assert_eq!(sniff_bytes(&elf(2, 1, 4, 64)), Sniff::ElfCore);
        assert_eq!(sniff_bytes(&elf(2, 2, 4, 64)), Sniff::ElfCore);
        assert_eq!(sniff_bytes(&elf(2, 1, 2, 64)), Sniff::ElfOther);
        assert_eq!(sniff_bytes(&elf(1, 2, 1, 52)), Sniff::ElfOther);
        assert_eq!(sniff_bytes(b"hello\n"), Sniff::Text);
        assert_eq!(sniff_bytes(&[0x13, 0x99, 0, 7]), Sniff::Unknown);
    }

    /// What the walk leaves out is provably no dump; the garbage files an
    /// archive holds are not (they were left out before: 4–11-byte files
    /// starting `\x7fELF`, 1-byte files).
    #[test]
    fn only_provable_non_dumps_are_left_out() {
        let left_out = |b: &[u8]| provably_not_dump(sniff_bytes(b));
        assert!(left_out(&elf(2, 1, 2, 64)), "a vmlinux");
        assert!(left_out(&elf(2, 1, 1, 4096)), "a module");
        assert!(left_out(b"a README\nwith words\n"));
        // A kernel log is an input now (#28).
        let log = b"Dec  8 00:01:02 host kernel: \x1b[1mBUG\x1b[0m\r\n";
        assert_eq!(sniff_bytes(log), Sniff::Log);
        assert!(!left_out(log));
        for short in 4..=63 {
            assert!(!left_out(&elf(2, 1, 2, short)), "{short}-byte ELF header");
        }
        assert!(!left_out(&elf(1, 1, 2, 51)));
        assert!(!left_out(&elf(3, 1, 2, 64)), "no such ELF class");
        assert!(!left_out(&elf(2, 1, 0, 64)), "ET_NONE");
        for byte in 0..=255u8 {
            let one = [byte];
            assert_eq!(
                left_out(&one),
                byte.is_ascii_graphic(),
                "the 1-byte file {byte:#04x}"
            );
        }
        assert!(!left_out(b""), "an empty file");
        assert!(!left_out(b"\x01\x02garbage"), "control characters");
        assert!(
            !left_out("caf\u{e9}".as_bytes().split_last().unwrap().1),
            "a cut character at the end of the file"
        );
        // a character cut by the end of a full window, the file going on
        let mut window = vec![b'a'; SNIFF_WINDOW - 1];
        window.push(0xc3);
        assert_eq!(sniff_window(&window, true), Sniff::Text);
        assert_eq!(sniff_window(&window, false), Sniff::Unknown);
    }

    #[test]
    fn path_keys_are_lossless() {
        let names: [&[u8]; 7] = [
            b"/srv/vmcore",
            b"/srv/d\xfcmp",
            b"/srv/a\\b",
            b"/srv/a\\xff",
            b"/srv/a\xff",
            b"/srv/\\\\x41\x80",
            "/srv/caf\u{e9}".as_bytes(),
        ];
        let mut keys = HashSet::new();
        for n in names {
            let p = PathBuf::from(OsStr::from_bytes(n));
            let k = path_key(&p);
            assert_eq!(key_path(&k), p, "{k}");
            assert!(keys.insert(k), "two paths, one key");
        }
        assert_eq!(path_key(Path::new("/srv/vmcore")), "/srv/vmcore");
        assert_eq!(
            path_key(&PathBuf::from(OsStr::from_bytes(b"/srv/d\xfcmp"))),
            "/srv/d\\xfcmp"
        );
        assert_eq!(path_key(Path::new("/srv/a\\b")), "/srv/a\\\\b");
    }

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("vmtriage-discover-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Discovery on another thread, given `secs` to finish.
    fn discover_in(
        inputs: Vec<PathBuf>,
        limits: Limits,
        secs: u64,
    ) -> (Vec<Candidate>, Vec<InputError>) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(discover_within(&inputs, limits));
        });
        rx.recv_timeout(std::time::Duration::from_secs(secs))
            .expect("the walk did not end")
    }

    /// Link loops beside one dump: the walk ends and finds the dump once
    /// (it grew past 1.5 GB and never ended; `self -> .` alone found the
    /// dump 41 times).
    #[test]
    fn link_loops_end_and_find_each_dump_once() {
        let d = dir("loops");
        let archive = d.join("archive");
        std::fs::create_dir(&archive).unwrap();
        std::fs::write(archive.join("vmcore"), b"KDUMP   garbage").unwrap();
        std::os::unix::fs::symlink(".", archive.join("self")).unwrap();
        let (found, errs) = discover_in(vec![archive.clone()], Limits::default(), 20);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(errs.is_empty(), "{errs:?}");
        std::os::unix::fs::symlink("..", archive.join("up")).unwrap();
        // a hard link and a link to the file: the same dump
        std::fs::hard_link(archive.join("vmcore"), archive.join("vmcore.hard")).unwrap();
        std::os::unix::fs::symlink("vmcore", archive.join("alias")).unwrap();
        let (found, errs) = discover_in(vec![archive.clone()], Limits::default(), 20);
        let paths: Vec<_> = found.iter().map(|c| c.path.clone()).collect();
        assert_eq!(
            paths,
            [archive.join("vmcore")],
            "its own name, not a link's"
        );
        assert!(errs.is_empty(), "{errs:?}");
        // named twice, by another spelling: once
        let other = d.join("archive/../archive/./vmcore");
        let (found, _) = discover_in(vec![archive.join("vmcore"), other], Limits::default(), 20);
        assert_eq!(found.len(), 1, "{found:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    /// Past a bound, the walk stops with an error row saying what it did
    /// not look at.
    #[test]
    fn walk_bounds_are_error_rows() {
        let d = dir("bounds");
        let mut deep = d.clone();
        for i in 0..5 {
            deep = deep.join(format!("level{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("vmcore"), b"\0garbage").unwrap();
        let limits = Limits {
            depth: 3,
            entries: 100,
        };
        let (found, errs) = discover_in(vec![d.clone()], limits, 20);
        assert!(found.is_empty());
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].stage, "walk");
        assert_eq!(errs[0].path, d.join("level0/level1/level2/level3"));
        assert!(
            errs[0].message.contains("more than 3 levels"),
            "{}",
            errs[0].message
        );
        let wide = d.join("wide");
        std::fs::create_dir(&wide).unwrap();
        for i in 0..10 {
            std::fs::write(wide.join(format!("f{i}")), b"\0garbage").unwrap();
        }
        let limits = Limits {
            depth: 64,
            entries: 6,
        };
        let (found, errs) = discover_in(vec![wide.clone(), deep.clone()], limits, 20);
        assert_eq!(found.len(), 5, "{found:?}");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            (errs[0].stage, errs[0].path.clone()),
            ("walk", wide.join("f5"))
        );
        assert!(errs[0].message.contains("after 6 entries"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn shards_partition() {
        let keys: Vec<OsString> = (0..200).map(|i| format!("host{i}/vmcore").into()).collect();
        let mut counts = [0; 4];
        for k in &keys {
            counts[shard_of(k, 4) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<i32>(), 200);
        assert!(counts.iter().all(|&c| c > 20), "{counts:?}");
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        assert!(parse_shard("4/4").is_err());
    }

    fn cand(path: &str, sniff: Sniff) -> Candidate {
        Candidate {
            path: PathBuf::from(path),
            shard_key: OsString::from(path),
            sniff: Some(sniff),
            evidence: Vec::new(),
        }
    }

    /// A dump and its own log are one candidate, by kdump's names or by
    /// being a directory's one dump and one log; other logs stay.
    #[test]
    fn a_dump_keeps_its_own_log() {
        assert!(own_log_name(b"vmcore", b"vmcore-dmesg.txt"));
        assert!(own_log_name(b"vmcore.flat", b"vmcore.flat-dmesg.txt"));
        assert!(own_log_name(b"dump.202611241000", b"dmesg.202611241000"));
        assert!(!own_log_name(b"dump.202611241000", b"dmesg.202611241001"));
        assert!(!own_log_name(b"vmcore", b"messages"));
        let got = pair_logs(vec![
            cand("/a/127.0.0.1-2026-11-24-10:00:00/vmcore", Sniff::Kdump),
            cand(
                "/a/127.0.0.1-2026-11-24-10:00:00/vmcore-dmesg.txt",
                Sniff::Log,
            ),
            cand("/a/flat/d1", Sniff::ElfCore),
            cand("/a/flat/d1-dmesg.txt", Sniff::Log),
            cand("/a/flat/d2", Sniff::ElfCore),
            cand("/a/flat/console.log", Sniff::Log),
            cand("/a/one/x.elf", Sniff::ElfCore),
            cand("/a/one/serial.txt", Sniff::Log),
            cand("/a/lone/web-8.log", Sniff::Log),
        ]);
        let rows: Vec<(String, Vec<String>)> = got
            .iter()
            .map(|c| {
                let e = c.evidence.iter().map(|p| path_key(p)).collect();
                (path_key(&c.path), e)
            })
            .collect();
        let row = |p: &str, e: &[&str]| (p.to_string(), e.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            rows,
            [
                row(
                    "/a/127.0.0.1-2026-11-24-10:00:00/vmcore",
                    &["/a/127.0.0.1-2026-11-24-10:00:00/vmcore-dmesg.txt"]
                ),
                row("/a/flat/d1", &["/a/flat/d1-dmesg.txt"]),
                row("/a/flat/d2", &[]),
                row("/a/flat/console.log", &[]),
                row("/a/one/x.elf", &["/a/one/serial.txt"]),
                row("/a/lone/web-8.log", &[]),
            ]
        );
    }
}
