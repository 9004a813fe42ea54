//! Damaged dumps through the CLI: mutants of a real kdump-compressed corpus
//! dump — truncations at each structural boundary (header, sub-header,
//! bitmaps, page descriptors, page data) and bit flips in each of those
//! parts — and of a real ELF dump's kernel structures — the page-table
//! entries that map task stacks and module memory, and the pointers that
//! link tasks (task list, thread list, process tree, pid, stack, mm) —
//! through `info`, `ps`, `bt --all` and `scan`. Each must end with exit 0,
//! 1, 2 or 3 (never a panic or a signal) within a time and an address-space
//! bound, and an exit 2 must say what is wrong.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

const LIMIT: Duration = Duration::from_secs(30);
/// Address space a command may take (prlimit --as): the debug vmlinux is
/// mapped (~0.6 GB) and a dump's caches stay far below this; an allocation
/// sized by a damaged length would not.
const ADDRESS_SPACE: u64 = 8 << 30;

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
    let mut c = Command::new("prlimit");
    c.arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_vmtriage"))
        .args(cmd)
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
        run_all(what, &path, &e.vmlinux, &mut codes, &mut problems);
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

/// `info`, `ps`, `bt --all` and `scan` on one mutant: exit codes counted,
/// broken promises noted.
fn run_all(
    what: &str,
    path: &Path,
    vmlinux: &Path,
    codes: &mut std::collections::BTreeMap<i32, usize>,
    problems: &mut Vec<String>,
) {
    for cmd in [&["info"][..], &["ps"], &["bt", "--all"], &["scan"]] {
        match run(cmd, path, vmlinux) {
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

/// (physical start, file offset, size in file) of each PT_LOAD of an ELF64
/// little-endian core, read from its program headers.
fn elf_loads(f: &std::fs::File) -> Result<Vec<(u64, u64, u64)>, String> {
    use std::os::unix::fs::FileExt;
    let mut eh = [0u8; 64];
    f.read_exact_at(&mut eh, 0).map_err(|e| e.to_string())?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err("not an ELF64 little-endian file".into());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(&eh, 0x20), u16_at(&eh, 0x36), u16_at(&eh, 0x38));
    let mut out = Vec::new();
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        f.read_exact_at(&mut ph, phoff + i * phentsize)
            .map_err(|e| e.to_string())?;
        if u32::from_le_bytes(ph[..4].try_into().unwrap()) == 1 {
            out.push((u64_at(&ph, 0x18), u64_at(&ph, 0x08), u64_at(&ph, 0x20)));
        }
    }
    Ok(out)
}

/// A word of kernel memory to damage: where it is in the file, what it
/// holds, and the values to put there instead.
struct Target {
    what: String,
    offset: u64,
    orig: u64,
    values: Vec<u64>,
}

/// The words of an ELF dump's kernel structures that walks depend on: the
/// links of a few tasks (init_task, pid 1, the first D-state tasks, a
/// kthread) and the page-table entries that map their stacks and the first
/// module.
fn elf_targets(e: &common::Entry, loads: &[(u64, u64, u64)]) -> Result<Vec<Target>, String> {
    let s = vmtriage_cli::Session::open(&e.path, Some(&e.vmlinux), &[])
        .map_err(|err| format!("open: {err:?}"))?;
    let k = &s.kernel;
    let tasks = k.tasks().map_err(|err| err.to_string())?;
    let file_offset = |phys: u64| {
        loads
            .iter()
            .find(|(p, _, n)| *p <= phys && phys + 8 <= p + n)
            .map(|(p, o, _)| o + (phys - p))
    };
    let mut chosen: Vec<&kmodel::tasks::Task> = Vec::new();
    chosen.extend(tasks.iter().find(|t| t.pid == 0));
    chosen.extend(tasks.iter().find(|t| t.pid == 1));
    chosen.extend(tasks.iter().filter(|t| t.state == 'D').take(2));
    const PF_KTHREAD: u64 = 0x0020_0000;
    chosen.extend(
        tasks
            .iter()
            .find(|t| t.pid > 1 && t.flags & PF_KTHREAD != 0),
    );
    let mut out = Vec::new();
    let fields = [
        "tasks.next",
        "tasks.prev",
        "thread_node.next",
        "children.next",
        "sibling.next",
        "thread_pid",
        "stack",
        "mm",
        "real_parent",
        "thread.sp",
    ];
    for t in &chosen {
        for f in fields {
            let Ok(o) = t.obj.member(f) else { continue };
            let (Ok(phys), Ok(orig)) = (k.translate(o.addr), k.read_u64(o.addr)) else {
                continue;
            };
            let Some(offset) = file_offset(phys) else {
                continue;
            };
            out.push(Target {
                what: format!("pid {} {}: {f}", t.pid, t.comm),
                offset,
                orig,
                // null, all ones, non-canonical, itself (a cycle), misaligned
                values: vec![0, !0, orig ^ (1 << 47), o.addr, orig ^ 0x8],
            });
        }
    }
    let mut maps: Vec<(String, u64)> = Vec::new();
    for t in chosen.iter().skip(1).take(2) {
        if let Ok(stack) = t.obj.member("stack").and_then(|o| o.as_u64()) {
            maps.push((format!("stack of pid {}", t.pid), stack));
        }
    }
    if let Ok(m) = k.modules() {
        maps.extend(m.first().map(|m| (format!("module {}", m.name), m.base)));
    }
    for (what, vaddr) in maps {
        let (steps, _) = k.vtop(vaddr);
        for st in steps {
            let Some(offset) = file_offset(st.entry_addr) else {
                continue;
            };
            let table = st.entry_addr & !0xfff;
            out.push(Target {
                what: format!("level-{} page-table entry for {what}", st.level),
                offset,
                orig: st.entry,
                // not present, huge-page bit toggled, frame past memory,
                // pointing at its own table (a loop), garbage
                values: vec![
                    st.entry & !1,
                    st.entry ^ (1 << 7),
                    st.entry | 0x000f_ff00_0000_0000,
                    table | (st.entry & 0xfff),
                    0xdead_beef_dead_beef,
                ],
            });
        }
    }
    Ok(out)
}

fn elf_mutants() -> Result<(), Failed> {
    use std::os::unix::fs::FileExt;
    let entries = common::manifest()?;
    // A lock pile-up, so scan's rules walk wait lists and owners too.
    let e = entries
        .iter()
        .filter(|e| e.format == "elf" && e.scenario == "mutex-hung-task")
        .min_by_key(|e| e.size)
        .ok_or("no ELF dump of mutex-hung-task in the corpus")?;
    let dir = std::env::temp_dir().join(format!("vmtriage-elf-mutants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|err| err.to_string())?;
    let path = dir.join("mutant.elf");
    std::fs::copy(&e.path, &path).map_err(|err| err.to_string())?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|err| err.to_string())?;
    let loads = elf_loads(&f)?;
    let targets = elf_targets(e, &loads)?;
    if targets.len() < 40 {
        return Err(format!("only {} structure words found to damage", targets.len()).into());
    }
    let mut problems = Vec::new();
    let mut codes = std::collections::BTreeMap::new();
    let mut n = 0;
    for t in &targets {
        for &v in &t.values {
            if v == t.orig {
                continue;
            }
            n += 1;
            f.write_all_at(&v.to_le_bytes(), t.offset)
                .map_err(|err| err.to_string())?;
            let what = format!("{} = {v:#x} (was {:#x})", t.what, t.orig);
            run_all(&what, &path, &e.vmlinux, &mut codes, &mut problems);
            f.write_all_at(&t.orig.to_le_bytes(), t.offset)
                .map_err(|err| err.to_string())?;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{n} mutants of {} ({} structure words) x 4 commands; exit codes {codes:?}",
        e.path.display(),
        targets.len()
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
    libtest_mimic::run(
        &args,
        vec![
            Trial::test("mutants/kdump", mutants),
            Trial::test("mutants/elf-structures", elf_mutants),
        ],
    )
    .exit();
}
