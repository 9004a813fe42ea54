//! Finding the dumps of an archive by content, and splitting it into shards.
//!
//! Each input is a dump file, a directory (walked recursively), or a list
//! file (text, one path a line; `#` comments; relative paths are relative to
//! the list's directory). In directories, a file is a candidate unless its
//! first bytes show it is something else that lives next to dumps: an ELF
//! file that is not a core (vmlinux, modules), or text (logs, READMEs, lists).
//! Everything else is scanned, so a garbage or truncated file in an archive
//! becomes an error row rather than disappearing silently.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    ElfCore,
    Kdump,
    Flattened,
    /// An ELF file that is not a core (a vmlinux, a module).
    ElfOther,
    Text,
    Unknown,
}

pub fn sniff_bytes(b: &[u8]) -> Sniff {
    if b.starts_with(b"\x7fELF") {
        // e_type at 16, little-endian (x86_64, aarch64 dumps)
        return if b.len() >= 18 && u16::from_le_bytes([b[16], b[17]]) == 4 {
            Sniff::ElfCore
        } else {
            Sniff::ElfOther
        };
    }
    if b.starts_with(b"KDUMP   ") || b.starts_with(b"DISKDUMP") {
        return Sniff::Kdump;
    }
    if b.starts_with(b"makedumpfile") {
        return Sniff::Flattened;
    }
    if !b.is_empty() && std::str::from_utf8(trim_partial_utf8(b)).is_ok() && !b.contains(&0) {
        return Sniff::Text;
    }
    Sniff::Unknown
}

fn trim_partial_utf8(b: &[u8]) -> &[u8] {
    // a 4 KiB window may cut a multi-byte character at its end
    let mut end = b.len();
    for _ in 0..3 {
        if end > 0 && b[end - 1] >= 0x80 && std::str::from_utf8(&b[..end]).is_err() {
            end -= 1;
        }
    }
    &b[..end]
}

pub fn sniff(path: &Path) -> std::io::Result<Sniff> {
    // Not a FIFO or a device: it would block or never end.
    let mut f = vmcore::open_regular(path)?;
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(sniff_bytes(&buf[..n]))
}

/// A file to scan, with the key that decides its shard.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Absolute path (the dump's key in the database).
    pub path: PathBuf,
    /// The path relative to the input it was found under (stable across
    /// machines that mount the archive in different places).
    pub shard_key: String,
}

/// An input that could not be used at all (missing, unreadable).
#[derive(Debug, Clone)]
pub struct InputError {
    pub path: PathBuf,
    pub message: String,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Candidate>, errs: &mut Vec<InputError>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            errs.push(InputError {
                path: dir.to_path_buf(),
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        let Ok(md) = std::fs::metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            walk(root, &p, out, errs);
        } else if md.is_file() {
            match sniff(&p) {
                Ok(Sniff::ElfOther | Sniff::Text) => {}
                Ok(_) => out.push(Candidate {
                    shard_key: p
                        .strip_prefix(root)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned(),
                    path: absolute(&p),
                }),
                Err(e) => errs.push(InputError {
                    path: p.clone(),
                    message: format!("cannot read: {e}"),
                }),
            }
        }
    }
}

/// The candidates of all inputs, in input order, each path once.
pub fn discover(inputs: &[PathBuf]) -> (Vec<Candidate>, Vec<InputError>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for input in inputs {
        let md = match std::fs::metadata(input) {
            Ok(m) => m,
            Err(e) => {
                errs.push(InputError {
                    path: input.clone(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        if md.is_dir() {
            walk(input, input, &mut out, &mut errs);
            continue;
        }
        // A list file: text whose lines name existing files.
        if matches!(sniff(input), Ok(Sniff::Text)) {
            if let Ok(text) = std::fs::read_to_string(input) {
                let base = input.parent().unwrap_or(Path::new("."));
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .collect();
                if !lines.is_empty() && lines.iter().all(|l| base.join(l).exists()) {
                    for l in lines {
                        let p = base.join(l);
                        if p.is_dir() {
                            walk(&p, &p, &mut out, &mut errs);
                        } else {
                            out.push(Candidate {
                                shard_key: l.to_string(),
                                path: absolute(&p),
                            });
                        }
                    }
                    continue;
                }
            }
        }
        // Named explicitly: scanned whatever it is (a non-dump becomes an error row).
        out.push(Candidate {
            shard_key: input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: absolute(input),
        });
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.path.clone()));
    (out, errs)
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
pub fn shard_of(key: &str, n: u64) -> u64 {
    let d = Sha256::digest(key.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8])) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff_bytes(b"KDUMP   \x06\0\0\0"), Sniff::Kdump);
        assert_eq!(sniff_bytes(b"makedumpfile\0\0\0\0"), Sniff::Flattened);
        let mut core = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
        core.extend([4, 0]);
        assert_eq!(sniff_bytes(&core), Sniff::ElfCore);
        core[16] = 2;
        assert_eq!(sniff_bytes(&core), Sniff::ElfOther);
        assert_eq!(sniff_bytes(b"hello\n"), Sniff::Text);
        assert_eq!(sniff_bytes(&[0x13, 0x99, 0, 7]), Sniff::Unknown);
    }

    #[test]
    fn shards_partition() {
        let keys: Vec<String> = (0..200).map(|i| format!("host{i}/vmcore")).collect();
        let mut counts = [0; 4];
        for k in &keys {
            counts[shard_of(k, 4) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<i32>(), 200);
        assert!(counts.iter().all(|&c| c > 20), "{counts:?}");
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        assert!(parse_shard("4/4").is_err());
    }
}
