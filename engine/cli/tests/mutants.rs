//! Damaged dumps through the CLI: mutants of a real kdump-compressed corpus
//! dump — truncations at each structural boundary (header, sub-header,
//! bitmaps, page descriptors, page data) and bit flips in each of those
//! parts — through `info`, `ps`, `bt --all` and `scan`. Each must end with
//! exit 0, 1, 2 or 3 (never a panic or a signal) within a time bound, and an
//! exit 2 must say what is wrong.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

const LIMIT: Duration = Duration::from_secs(30);

/// A deterministic stream of positions (xorshift), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run(cmd: &[&str], dump: &Path, vmlinux: &Path) -> Result<(i32, String), String> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    c.args(cmd)
        .arg(dump)
        .arg("--vmlinux")
        .arg(vmlinux)
        .env("VMTRIAGE_INDEX_CACHE", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return Ok((st.code().unwrap_or(-1), err));
        }
        if t0.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} ran over {LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mutants() -> Result<(), Failed> {
    let entries = common::manifest()?;
    let e = entries
        .iter()
        .filter(|e| e.format == "kdump")
        .min_by_key(|e| e.size)
        .ok_or("no kdump-compressed dump in the corpus")?;
    let orig = std::fs::read(&e.path).map_err(|err| err.to_string())?;
    let core = vmcore::Vmcore::open(&e.path).map_err(|err| err.to_string())?;
    let h = core.kdump_header().ok_or("not a kdump file")?;
    let bs = h.block_size as usize;
    let bitmaps = (1 + h.sub_hdr_size as usize) * bs;
    let descs = bitmaps + h.bitmap_blocks as usize * bs;
    let len = orig.len();
    // Parts: (name, start, end) of each structure in the file.
    let parts = [
        ("header", 0, bs),
        ("sub-header", bs, bitmaps),
        ("bitmaps", bitmaps, descs),
        ("descriptors", descs, (descs + 64 * 1024).min(len)),
        ("page data", (descs + 64 * 1024).min(len), len),
    ];
    let mut mutants: Vec<(String, Vec<u8>)> = Vec::new();
    for &(name, start, end) in &parts {
        for at in [start, start + 1, (start + end) / 2, end.saturating_sub(1)] {
            if at < len {
                mutants.push((format!("truncated in {name} at {at}"), orig[..at].to_vec()));
            }
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for &(name, start, end) in &parts {
        if end <= start {
            continue;
        }
        for _ in 0..36 {
            let mut m = orig.clone();
            let flips = 1 + rng.next() % 4;
            let mut at = Vec::new();
            for _ in 0..flips {
                let o = start + (rng.next() as usize) % (end - start);
                m[o] ^= 1 << (rng.next() % 8);
                at.push(o);
            }
            mutants.push((format!("bits flipped in {name} at {at:?}"), m));
        }
    }
    let dir = std::env::temp_dir().join(format!("vmtriage-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    let path = dir.join("mutant.kdump");
    let mut problems = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    for (what, bytes) in &mutants {
        std::fs::write(&path, bytes).map_err(|err| err.to_string())?;
        for cmd in [&["info"][..], &["ps"], &["bt", "--all"], &["scan"]] {
            match run(cmd, &path, &e.vmlinux) {
                Ok((code, err)) => {
                    *codes.entry(code).or_insert(0usize) += 1;
                    if !(0..=3).contains(&code) {
                        problems.push(format!(
                            "{what}: {cmd:?} exited {code}: {}",
                            last_lines(&err)
                        ));
                    } else if code == 2 && err.trim().is_empty() {
                        problems.push(format!("{what}: {cmd:?} exited 2 saying nothing"));
                    }
                }
                Err(msg) => problems.push(format!("{what}: {msg}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{} mutants of {} x 4 commands; exit codes {codes:?}",
        mutants.len(),
        e.path.display()
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn last_lines(s: &str) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(4)..].join(" | ")
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, vec![Trial::test("mutants/kdump", mutants)]).exit();
}
