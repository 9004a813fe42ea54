//! Hostile archives and results databases, without the corpus: link loops,
//! FIFOs, devices, short and garbage files, names that are not UTF-8, paths
//! longer than PATH_MAX, another program's database, a run that did not
//! finish. Every entry that is not provably a non-dump has its row; the
//! scan ends; nothing is written where it does not belong.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn vmtriage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    c.env("NO_COLOR", "1").env("COLUMNS", "4000");
    c
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtriage-archive-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `c` for at most `secs`: a run that does not end is killed and the
/// test fails.
fn run_within(mut c: Command, secs: u64) -> Output {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "did not end within {secs} s; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
                    .chars()
                    .take(2000)
                    .collect::<String>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn scan(inputs: &[&Path], db: &Path) -> Output {
    let mut c = vmtriage();
    c.arg("scan").args(inputs).arg("--db").arg(db);
    c.args(["--jobs", "1", "--isolate", "thread", "-q"]);
    run_within(c, 60)
}

/// Each dump row: path → (status, the stage of its dump-level error).
fn rows(db: &Path) -> BTreeMap<String, (String, Option<String>)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare(
            "SELECT d.path, d.status, e.stage FROM dumps d
             LEFT JOIN errors e ON e.path = d.path AND e.rule_id IS NULL",
        )
        .unwrap();
    let r = st
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    r
}

fn errors(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare("SELECT path, message FROM errors").unwrap();
    let r = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    r
}

fn key(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Garbage with a dump's magic: a candidate that fails to open.
const GARBAGE: &[u8] = b"KDUMP   \x06\0\0\0 cut short";

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// `self -> .` and `up -> ..` beside one dump: the walk ends and the dump
/// has one row (the walk grew past 1.5 GB and never ended; `self -> .`
/// alone wrote 41 row sets of the one dump).
#[test]
fn link_loops_walk_each_directory_once() {
    let d = fresh("loops");
    // `up` leads to `tree`, which holds only the archive
    let archive = d.join("tree/archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join("vmcore"), GARBAGE).unwrap();
    symlink(".", archive.join("self")).unwrap();
    symlink("..", archive.join("up")).unwrap();
    let db = d.join("r.sqlite");
    let o = scan(&[&archive], &db);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let rows = rows(&db);
    assert_eq!(
        rows.keys().cloned().collect::<Vec<_>>(),
        [key(&archive.join("vmcore"))],
        "{rows:?}"
    );
    assert_eq!(errors(&db).len(), 1);
    std::fs::remove_dir_all(&d).unwrap();
}

/// One dump reached by several paths — a list naming it as `x/y` and
/// `../L/x/./y`, a link to it, a hard link — is one dump with one row.
#[test]
fn one_dump_by_several_paths_is_one_row() {
    let d = fresh("paths");
    let x = d.join("L/x");
    std::fs::create_dir_all(&x).unwrap();
    std::fs::write(x.join("y"), GARBAGE).unwrap();
    symlink("y", x.join("alias")).unwrap();
    std::fs::hard_link(x.join("y"), x.join("z")).unwrap();
    let list = d.join("L/list.txt");
    std::fs::write(&list, "x/y\n../L/x/./y\nx/alias\nx/z\n").unwrap();
    let db = d.join("r.sqlite");
    let o = scan(&[&list, &x], &db);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let rows = rows(&db);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows.contains_key(&key(&x.join("y"))), "{rows:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Every entry of an archive that is not provably a non-dump is a row:
/// FIFOs and devices (not opened), short files starting `\x7fELF`, 1-byte
/// and empty files, broken links. A vmlinux-like ELF file and a text file
/// are left out. (481 of 2,000 garbage files had no row.)
#[test]
fn every_entry_but_a_provable_non_dump_is_a_row() {
    let d = fresh("garbage");
    let a = d.join("archive");
    std::fs::create_dir(&a).unwrap();
    mkfifo(&a.join("fifo"));
    symlink("/dev/zero", a.join("zero")).unwrap();
    symlink(a.join("nowhere"), a.join("broken")).unwrap();
    std::fs::write(a.join("elf4"), b"\x7fELF").unwrap();
    std::fs::write(a.join("elf11"), b"\x7fELF\x02\x01\x01\0\0\0\0").unwrap();
    std::fs::write(a.join("one-high"), [0x9a]).unwrap();
    std::fs::write(a.join("one-control"), [0x01]).unwrap();
    std::fs::write(a.join("empty"), b"").unwrap();
    // left out: a text that is no kernel log, and a complete ELF header of
    // an executable
    std::fs::write(a.join("README"), "kernel crash dumps of host x\n").unwrap();
    let mut exe = vec![0u8; 64];
    exe[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    exe[16] = 2;
    std::fs::write(a.join("vmlinux"), &exe).unwrap();
    let db = d.join("r.sqlite");
    let o = scan(&[&a], &db);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let rows = rows(&db);
    let want = [
        "broken",
        "elf11",
        "elf4",
        "empty",
        "fifo",
        "one-control",
        "one-high",
        "zero",
    ];
    let got: Vec<String> = rows.keys().cloned().collect();
    let want: Vec<String> = want.iter().map(|n| key(&a.join(n))).collect();
    assert_eq!(got, want);
    assert!(rows
        .values()
        .all(|(s, stage)| s == "error" && stage.is_some()));
    let errs = errors(&db);
    let msg = |n: &str| {
        errs.iter()
            .find(|(p, _)| *p == key(&a.join(n)))
            .map(|e| e.1.clone())
            .unwrap_or_default()
    };
    assert!(msg("fifo").contains("a FIFO"), "{}", msg("fifo"));
    assert!(
        msg("zero").contains("a character device"),
        "{}",
        msg("zero")
    );
    assert!(msg("broken").contains("broken"), "{}", msg("broken"));
    let report = vmtriage()
        .args(["report", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("8 could not be read"), "{text}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// A FIFO named as a dump, on the command line or in a list, is an error
/// row at once: nothing waits for a writer.
#[test]
fn a_fifo_named_as_a_dump_does_not_block() {
    let d = fresh("fifo");
    let fifo = d.join("vmcore");
    mkfifo(&fifo);
    let list = d.join("list");
    std::fs::write(&list, "vmcore\n").unwrap();
    for input in [&fifo, &list] {
        let db = d.join("r.sqlite");
        let _ = std::fs::remove_file(&db);
        let o = scan(&[input], &db);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let rows = rows(&db);
        assert_eq!(rows.keys().cloned().collect::<Vec<_>>(), [key(&fifo)]);
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// A dump under a path longer than PATH_MAX is a row (it disappeared:
/// "0 file(s)", exit 0).
#[test]
fn a_dump_beyond_path_max_is_a_row() {
    let d = fresh("deep");
    let name = std::ffi::CString::new("d".repeat(200)).unwrap();
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // (made by relative steps: the whole path cannot be opened)
    // SAFETY: valid NUL-terminated strings; each descriptor is closed once.
    unsafe {
        let mut fd = libc::open(c(&d).as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
        for _ in 0..25 {
            assert_eq!(libc::mkdirat(fd, name.as_ptr(), 0o755), 0);
            let next = libc::openat(fd, name.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
            libc::close(fd);
            assert!(next >= 0);
            fd = next;
        }
        let f = libc::openat(
            fd,
            c"vmcore".as_ptr(),
            libc::O_CREAT | libc::O_WRONLY,
            0o644,
        );
        assert!(f >= 0);
        assert_eq!(
            libc::write(f, GARBAGE.as_ptr().cast(), GARBAGE.len()),
            GARBAGE.len() as isize
        );
        libc::close(f);
        libc::close(fd);
    }
    let db = std::env::temp_dir().join(format!(
        "vmtriage-archive-deep-{}.sqlite",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&db);
    let o = scan(&[&d], &db);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let rows = rows(&db);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let errs = errors(&db);
    assert!(errs[0].1.contains("PATH_MAX"), "{errs:?}");
    let _ = Command::new("rm").arg("-rf").arg(&d).status();
    for end in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{end}", db.display()));
    }
}

/// A file name that is not UTF-8 is scanned under its own name and stored
/// and shown escaped (it had no row, and `scan` looked for a mangled name:
/// "No such file").
#[test]
fn a_name_that_is_not_utf8_has_its_row() {
    let d = fresh("names");
    let a = d.join("archive");
    std::fs::create_dir(&a).unwrap();
    let odd = a.join(OsStr::from_bytes(b"vm\xffcore"));
    std::fs::write(&odd, GARBAGE).unwrap();
    let db = d.join("r.sqlite");
    let o = scan(&[&a], &db);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let shown = format!("{}/vm\\xffcore", a.display());
    let rows = rows(&db);
    assert_eq!(rows.keys().cloned().collect::<Vec<_>>(), [shown]);
    let errs = errors(&db);
    assert!(!errs[0].1.contains("No such file"), "{errs:?}");
    // the text output names it escaped, and reads the file itself
    let o = run_within(
        {
            let mut c = vmtriage();
            c.arg("scan").arg(&odd).args(["--isolate", "thread"]);
            c
        },
        60,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("vm\\xffcore"), "{err}");
    assert!(!err.contains("No such file"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `--db` pointed at another program's SQLite file is refused before
/// anything is written: no tables added, no switch to WAL (both happened).
#[test]
fn another_programs_database_is_refused() {
    let d = fresh("foreign");
    std::fs::write(d.join("vmcore"), GARBAGE).unwrap();
    let db = d.join("app.sqlite");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE accounts(id INTEGER, name TEXT); INSERT INTO accounts VALUES(1, 'x');",
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let o = scan(&[&d.join("vmcore")], &db);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a vmtriage results database"), "{err}");
    assert!(err.contains("accounts"), "{err}");
    for args in [&["report", "--db"][..], &["db", "merge", "--"][..]] {
        let mut c = vmtriage();
        c.args(args);
        if args[0] == "db" {
            c.arg(d.join("out.sqlite"));
        }
        let o = c.arg(&db).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("not a vmtriage results database"), "{err}");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was written");
    assert!(!d.join("app.sqlite-wal").exists());
    // Another program's id, even with no tables yet: refused too.
    let tagged = d.join("tagged.sqlite");
    rusqlite::Connection::open(&tagged)
        .unwrap()
        .execute_batch("PRAGMA application_id = 1234")
        .unwrap();
    let o = scan(&[&d.join("vmcore")], &tagged);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("application_id is 0x4d2"), "{err}");
    // An empty file is a new database.
    let empty = d.join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let o = scan(&[&d.join("vmcore")], &empty);
    assert_eq!(rows(&empty).len(), 1, "{o:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// `report` says that the last run did not finish (it printed a normal
/// report after a scan killed mid-way).
#[test]
fn report_says_the_last_run_did_not_finish() {
    let d = fresh("unfinished");
    std::fs::write(d.join("vmcore"), GARBAGE).unwrap();
    let db = d.join("r.sqlite");
    scan(&[&d.join("vmcore")], &db);
    let report = || {
        let o = vmtriage()
            .args(["report", "--db"])
            .arg(&db)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(!report().contains("did not finish"), "{}", report());
    // What a scan killed mid-way leaves: its run without finished_at.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("UPDATE runs SET finished_at = NULL")
        .unwrap();
    assert!(report().contains("did not finish"), "{}", report());
    let o = vmtriage()
        .args(["report", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["last_run_finished"].is_null() && v["last_run"].is_string(),
        "{v}"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

/// `scan --watch` on a drop directory with link loops, a FIFO and a device
/// link beside one dump: each look at it ends, the dump has one row, and
/// the FIFO and the device one error row each, never opened (the listing
/// followed `self -> .` 40 levels deep and `up -> ..` without end, and
/// passed over FIFOs without a word).
#[test]
fn a_watched_drop_directory_is_walked_once() {
    let d = fresh("watch");
    let drop = d.join("tree/drop");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(drop.join("vmcore"), GARBAGE).unwrap();
    symlink(".", drop.join("self")).unwrap();
    symlink("..", drop.join("up")).unwrap();
    mkfifo(&drop.join("fifo"));
    symlink("/dev/zero", drop.join("zero")).unwrap();
    let db = d.join("r.sqlite");
    let mut c = vmtriage();
    c.args(["scan", "-q", "--jobs", "1", "--isolate", "thread"])
        .args(["--settle", "0.2", "--watch-idle-exit", "2", "--db"])
        .arg(&db)
        .arg("--watch")
        .arg(&drop);
    let o = run_within(c, 60);
    assert!(o.status.code().is_some(), "{o:?}");
    let rows = rows(&db);
    let got: Vec<String> = rows.keys().cloned().collect();
    let want: Vec<String> = ["fifo", "vmcore", "zero"]
        .iter()
        .map(|n| key(&drop.join(n)))
        .collect();
    assert_eq!(got, want, "{rows:?}");
    std::fs::remove_dir_all(&d).unwrap();
}
