//! Bad input is normal input: a truncated dump, the wrong vmlinux, a vmlinux
//! without DWARF, a file that is not a dump, an empty file. Each gives a
//! one-screen error that says what is wrong and what to do, exit code 2, and
//! no panic. The reports are snapshots (what a user reads).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{manifest, Entry};
use libtest_mimic::{Arguments, Failed, Trial};

/// A short, stable directory: paths appear in the reports (and snapshots).
fn tmp() -> PathBuf {
    let d = PathBuf::from("/tmp/vmt-bad");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A stable name for a corpus file (its cache path holds a recipe hash).
fn alias(src: &Path, name: &str) -> String {
    let l = tmp().join(name);
    let _ = std::fs::remove_file(&l);
    std::os::unix::fs::symlink(src, &l).unwrap();
    l.display().to_string()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = run_in(args, &[], None, 300).unwrap_or_else(|e| panic!("{e}"));
    (out.code, out.stderr)
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs vmtriage with `env` and in `cwd`, killed after `secs`: a command
/// that blocks (a FIFO opened for reading) fails the test, not hangs it.
fn run_in(
    args: &[&str],
    env: &[(&str, &str)],
    cwd: Option<&Path>,
    secs: u64,
) -> Result<Ran, String> {
    use std::io::Read;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        // Wide enough that no path, build-id or release is wrapped (the
        // filters below must see each whole; they change with the corpus).
        .env("COLUMNS", "4000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    // Read both pipes on threads: a full pipe must not stall the child.
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("vmtriage {args:?} did not end within {secs} s"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Ok(Ran {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

fn expect_error(name: &str, args: &[&str], must_say: &[&str]) -> Result<(), Failed> {
    let (code, err) = run(args);
    expect_error_in(name, code, err, must_say)
}

fn expect_error_in(name: &str, code: i32, err: String, must_say: &[&str]) -> Result<(), Failed> {
    if code != 2 {
        return Err(format!("{name}: exit code {code}, want 2; stderr:\n{err}").into());
    }
    if err.contains("panicked") {
        return Err(format!("{name}: panicked:\n{err}").into());
    }
    for m in must_say {
        if !err.contains(m) {
            return Err(format!("{name}: the message does not say `{m}`:\n{err}").into());
        }
    }
    if err.lines().count() > 25 {
        return Err(format!("{name}: more than a screen:\n{err}").into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9a-f]{40}", "[BUILD-ID]");
    // Addresses move with every boot's KASLR and every rebuild of the corpus.
    settings.add_filter(r"0x[0-9a-f]{5,16}", "[ADDR]");
    settings.add_filter(r"\d+\.\d+\.\d+[-+][\w.+-]*?(cloud|rt)-amd64", "[RELEASE]");
    settings.add_filter(r"[0-9a-f]{2}/[0-9a-f]{38}\.debug", "[BUILD-ID].debug");
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    settings.bind(|| insta::assert_snapshot!(name, err));
    Ok(())
}

fn pick(scenario: &str, series: &str, format: &str) -> Result<Entry, Failed> {
    manifest()?
        .into_iter()
        .find(|e| e.scenario == scenario && e.kernel_series == series && e.format == format)
        .ok_or_else(|| format!("no {scenario}/{series} {format} dump in the corpus").into())
}

/// A FIFO at `name` in the test directory (no writer: opening it for
/// reading blocks).
fn fifo(name: &str) -> PathBuf {
    let p = tmp().join(name);
    let _ = std::fs::remove_file(&p);
    let st = Command::new("mkfifo").arg(&p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
    p
}

/// An error within 30 s (issue #31: a FIFO blocked the open forever).
fn expect_quick_error(name: &str, args: &[&str], must_say: &[&str]) -> Result<(), Failed> {
    let r = run_in(args, &[], None, 30)?;
    expect_error_in(name, r.code, r.stderr, must_say)
}

/// A fresh, empty index cache directory.
fn cache_dir(name: &str) -> PathBuf {
    let d = tmp().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `*.idx` files in a cache directory.
fn index_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == "idx"));
    v
}

/// What `args` print with a fresh index cache, and with the cache file
/// replaced by a FIFO and by a link to /dev/zero (issue #31: the first
/// blocked forever, the second was read to 4.2 GB): the same, in time.
fn cache_file_not_regular() -> Result<(), Failed> {
    let e = pick("idle", "6.1", "elf")?;
    let dump = e.path.to_str().unwrap().to_string();
    let vmlinux = e.vmlinux.to_str().unwrap().to_string();
    let args = ["info", &dump, "--vmlinux", &vmlinux];
    let dir = cache_dir("cache-not-regular");
    let env = [("VMTRIAGE_INDEX_CACHE", dir.to_str().unwrap())];
    let want = run_in(&args, &env, None, 300)?;
    let idx = index_files(&dir);
    if want.code != 0 || idx.len() != 1 {
        return Err(format!("fresh cache: exit {}, {idx:?}:\n{}", want.code, want.stderr).into());
    }
    for kind in ["fifo", "/dev/zero"] {
        let _ = std::fs::remove_file(&idx[0]);
        if kind == "fifo" {
            let st = Command::new("mkfifo").arg(&idx[0]).status()?;
            assert!(st.success());
        } else {
            std::os::unix::fs::symlink(kind, &idx[0])?;
        }
        let start = std::time::Instant::now();
        let got = run_in(&args, &env, None, 60)?;
        if (got.code, &got.stdout) != (want.code, &want.stdout) {
            return Err(format!(
                "{kind} as the cache file: exit {}, stdout:\n{}\nstderr:\n{}",
                got.code, got.stdout, got.stderr
            )
            .into());
        }
        if start.elapsed() > std::time::Duration::from_secs(30) {
            return Err(format!("{kind} as the cache file: {:?}", start.elapsed()).into());
        }
        if !std::fs::symlink_metadata(&idx[0])?.file_type().is_file() {
            return Err(format!("{kind}: not replaced by the index written").into());
        }
    }
    Ok(())
}

/// `VMTRIAGE_INDEX_CACHE=OFF` (issue #31: it created a directory `./OFF`)
/// disables the cache, as `off`, `0` and an empty value do.
fn index_cache_off() -> Result<(), Failed> {
    let e = pick("idle", "6.1", "elf")?;
    let dump = e.path.to_str().unwrap().to_string();
    let vmlinux = e.vmlinux.to_str().unwrap().to_string();
    let cwd = cache_dir("cache-off-cwd");
    for v in ["OFF", "off", "0", ""] {
        let r = run_in(
            &["info", &dump, "--vmlinux", &vmlinux],
            &[("VMTRIAGE_INDEX_CACHE", v)],
            Some(&cwd),
            300,
        )?;
        let made: Vec<_> = std::fs::read_dir(&cwd)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        if r.code != 0 || !made.is_empty() {
            return Err(format!(
                "VMTRIAGE_INDEX_CACHE={v:?}: exit {}, made {made:?}:\n{}",
                r.code, r.stderr
            )
            .into());
        }
    }
    Ok(())
}

/// Issue #31: one run with a damaged copy of the vmlinux (the same
/// build-id, size and modification time, `.debug_abbrev` scrambled) stored
/// an index that made every later run with the intact vmlinux fail (`ps`
/// exit 2 "variable init_task not found", `scan` "no diagnoses", `info` "no
/// crash (0 tasks)"). After such a run the intact vmlinux answers as with a
/// fresh cache.
fn damaged_copy_does_not_poison() -> Result<(), Failed> {
    use std::io::{Seek, SeekFrom, Write};
    let e = pick("idle", "6.1", "elf")?;
    let dump = e.path.to_str().unwrap().to_string();
    let vmlinux = e.vmlinux.to_str().unwrap().to_string();
    let damaged = tmp().join("vmlinux-damaged-abbrev");
    let _ = std::fs::remove_file(&damaged);
    std::fs::copy(&e.vmlinux, &damaged)?;
    let out = Command::new("readelf").args(["-SW", &vmlinux]).output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains(" .debug_abbrev "))
        .ok_or("readelf names no .debug_abbrev")?;
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f.iter().position(|w| *w == ".debug_abbrev").unwrap();
    let hex = |s: &str| u64::from_str_radix(s, 16);
    let (off, size) = (hex(f[at + 3])?, hex(f[at + 4])?);
    {
        let mut w = std::fs::OpenOptions::new().write(true).open(&damaged)?;
        w.seek(SeekFrom::Start(off))?;
        let junk: Vec<u8> = (0..size).map(|i| (i * 37 + 11) as u8).collect();
        w.write_all(&junk)?;
        w.set_modified(std::fs::metadata(&e.vmlinux)?.modified()?)?;
    }
    let cmds: [&[&str]; 3] = [&["ps"], &["info"], &["scan"]];
    let fresh = cache_dir("poison-fresh");
    let poisoned = cache_dir("poison");
    for cmd in cmds {
        let with = |v: &str, dir: &Path| {
            let mut a = cmd.to_vec();
            a.extend([dump.as_str(), "--vmlinux", v]);
            let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            run_in(
                &a,
                &[("VMTRIAGE_INDEX_CACHE", dir.to_str().unwrap())],
                None,
                600,
            )
        };
        let want = with(&vmlinux, &fresh)?;
        let _ = with(damaged.to_str().unwrap(), &poisoned)?;
        let got = with(&vmlinux, &poisoned)?;
        if (got.code, &got.stdout) != (want.code, &want.stdout) {
            return Err(format!(
                "{cmd:?} after a run with a damaged copy: exit {} (fresh cache: {}), stdout:\n{}\nstderr:\n{}\nwith a fresh cache:\n{}",
                got.code, want.code, got.stdout, got.stderr, want.stdout
            )
            .into());
        }
    }
    let _ = std::fs::remove_file(&damaged);
    Ok(())
}

/// Issue #26: `vmtriage bt DUMP --format json | head` panicked ("failed
/// printing to stdout: Broken pipe") with a backtrace. A reader that closes
/// early ends every command as it ends `cat`: killed by SIGPIPE, no panic.
fn reader_closes_early(args: &[&str]) -> Result<(), Failed> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::ExitStatusExt;
    let (mut reader, writer) = std::io::pipe()?;
    // A one-page pipe: any output longer than that has to wait for the reader.
    // SAFETY: fcntl on a descriptor this function owns.
    let set = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    assert_eq!(set, 4096, "F_SETPIPE_SZ");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut first = [0u8; 100];
    reader.read_exact(&mut first)?;
    // The read end closes here: what is left to write breaks the pipe.
    drop(reader);
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err)?;
    let st = child.wait()?;
    // `scan` may say how far it got on stderr before the pipe breaks.
    let panicked = err.contains("panicked") || err.contains("Broken pipe");
    if panicked || st.signal() != Some(libc::SIGPIPE) {
        return Err(format!("{args:?} | head: {st:?}, stderr:\n{err}").into());
    }
    Ok(())
}

#[expect(
    clippy::too_many_lines,
    reason = "the list of bad-input trials, one entry each, read top to bottom as the table of cases it is"
)]
fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("bad-input/fifo-as-dump", || {
            let f = fifo("fifo.vmcore");
            expect_quick_error(
                "fifo_as_dump",
                &["info", f.to_str().unwrap()],
                &["FIFO", "not a regular file"],
            )
        }),
        Trial::test("bad-input/fifo-as-dump-scan", || {
            let f = fifo("fifo-scan.vmcore");
            let r = run_in(&["scan", f.to_str().unwrap()], &[], None, 30)?;
            if r.code == 0 || !r.stderr.contains("FIFO") || r.stderr.contains("panicked") {
                return Err(
                    format!("scan FIFO: exit {}:\n{}{}", r.code, r.stdout, r.stderr).into(),
                );
            }
            Ok(())
        }),
        Trial::test("bad-input/dev-zero-as-dump", || {
            expect_quick_error(
                "dev_zero_as_dump",
                &["info", "/dev/zero"],
                &["character device", "not a regular file"],
            )
        }),
        Trial::test("bad-input/fifo-as-vmlinux", || {
            let e = pick("idle", "6.1", "elf")?;
            let f = fifo("fifo-vmlinux");
            expect_quick_error(
                "fifo_as_vmlinux",
                &[
                    "info",
                    &alias(&e.path, "idle-6.1.elf"),
                    "--vmlinux",
                    f.to_str().unwrap(),
                ],
                &["FIFO", "not a regular file"],
            )
        }),
        Trial::test("bad-input/index-cache-not-regular", cache_file_not_regular),
        Trial::test("bad-input/index-cache-off", index_cache_off),
        Trial::test(
            "bad-input/damaged-vmlinux-copy-does-not-poison-the-cache",
            damaged_copy_does_not_poison,
        ),
        Trial::test("bad-input/reader-closes-early/schema", || {
            reader_closes_early(&["schema"])
        }),
        Trial::test("bad-input/reader-closes-early/completions", || {
            reader_closes_early(&["completions", "bash"])
        }),
        Trial::test("bad-input/reader-closes-early/bt", || {
            let e = pick("idle", "6.1", "elf")?;
            let (d, v) = (e.path.to_str().unwrap(), e.vmlinux.to_str().unwrap());
            reader_closes_early(&["bt", "--all", d, "--vmlinux", v, "--format", "json"])
        }),
        Trial::test("bad-input/reader-closes-early/scan", || {
            // A line or more per dump: more dumps than a one-page pipe
            // holds the lines of.
            let dumps: Vec<Entry> = manifest()?
                .into_iter()
                .filter(|e| e.kernel_series == "6.1")
                .collect();
            if dumps.len() < 24 {
                return Err(format!("{} dumps of 6.1 in the corpus, want 24", dumps.len()).into());
            }
            let v = dumps[0].vmlinux.to_str().unwrap().to_string();
            let mut args = vec!["scan", "--vmlinux", &v, "--format", "json"];
            args.extend(dumps.iter().map(|e| e.path.to_str().unwrap()));
            reader_closes_early(&args)
        }),
        Trial::test("bad-input/not-a-dump", || {
            let f = tmp().join("not-a-dump.txt");
            std::fs::write(&f, "this is a text file, not a crash dump\n").unwrap();
            expect_error(
                "not_a_dump",
                &["info", f.to_str().unwrap()],
                &["not a crash dump"],
            )
        }),
        Trial::test("bad-input/empty-file", || {
            let f = tmp().join("empty.vmcore");
            std::fs::write(&f, "").unwrap();
            expect_error("empty_file", &["ps", f.to_str().unwrap()], &["empty"])
        }),
        Trial::test("bad-input/truncated-dump", || {
            let e = pick("idle", "6.1", "kdump")?;
            let data = std::fs::read(&e.path)?;
            let f = tmp().join("truncated.kdump");
            std::fs::write(&f, &data[..data.len() / 3])?;
            // Opening works (headers are intact) or fails clearly; reading must fail clearly.
            let (code, err) = run(&[
                "ps",
                f.to_str().unwrap(),
                "--vmlinux",
                &alias(&e.vmlinux, "vmlinux-6.1"),
            ]);
            if code == 0 {
                return Err(format!(
                    "a dump cut to a third listed tasks without complaint:\n{err}"
                )
                .into());
            }
            expect_error(
                "truncated_dump",
                &[
                    "ps",
                    f.to_str().unwrap(),
                    "--vmlinux",
                    &alias(&e.vmlinux, "vmlinux-6.1"),
                ],
                &["damaged", "cut short"],
            )
        }),
        Trial::test("bad-input/wrong-vmlinux", || {
            let e = pick("idle", "6.1", "elf")?;
            let other = pick("idle", "5.10", "elf")?;
            expect_error(
                "wrong_vmlinux",
                &[
                    "info",
                    &alias(&e.path, "idle-6.1.elf"),
                    "--vmlinux",
                    &alias(&other.vmlinux, "vmlinux-5.10"),
                ],
                &["build-id", "--vmlinux"],
            )
        }),
        Trial::test("bad-input/vmlinux-without-dwarf", || {
            let e = pick("idle", "6.1", "elf")?;
            let stripped = tmp().join("vmlinux-stripped");
            if !stripped.exists() {
                let st = Command::new("objcopy")
                    .args([
                        "--strip-debug",
                        e.vmlinux.to_str().unwrap(),
                        stripped.to_str().unwrap(),
                    ])
                    .status()?;
                if !st.success() {
                    return Err("objcopy --strip-debug failed".into());
                }
            }
            expect_error(
                "vmlinux_without_dwarf",
                &[
                    "info",
                    &alias(&e.path, "idle-6.1.elf"),
                    "--vmlinux",
                    stripped.to_str().unwrap(),
                    // Without it a vmlinux without DWARF stands in for
                    // the debug vmlinux (README: Without debuginfo).
                    "--debuginfo",
                    "dwarf",
                ],
                &["DWARF", "dbg"],
            )
        }),
        Trial::test("bad-input/no-vmlinux-found", || {
            let e = pick("idle", "6.1", "elf")?;
            expect_error(
                "no_vmlinux_found",
                &[
                    "info",
                    &alias(&e.path, "idle-6.1.elf"),
                    "--debuginfo-dir",
                    "/nonexistent",
                    "--debuginfo",
                    "dwarf",
                ],
                &["--vmlinux"],
            )
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}
