//! Kernel logs as input, without the corpus (#28 item 1): what `info` and
//! `scan` print of a small log (snapshots), a text file that is no log,
//! and an archive holding a dump with its own `vmcore-dmesg.txt`, a lone
//! log and a README: the dump and its log are one row (the log kept as its
//! evidence), the lone log a row of kind `log`, the README none.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vmtriage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    c.env("NO_COLOR", "1").env("COLUMNS", "4000");
    c.stdin(Stdio::null());
    c
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vmtriage-logs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str]) -> Output {
    vmtriage().args(args).output().unwrap()
}

fn text(b: &[u8], dir: &Path) -> String {
    String::from_utf8_lossy(b).replace(dir.to_str().unwrap(), "TMP")
}

/// A null pointer dereference in a module's init, then panic_on_oops, as
/// a 6.1 kernel prints them (arch/x86/mm/fault.c, dumpstack.c), behind
/// syslog prefixes and the kernel's own stamps, among other programs'
/// lines.
const LOG: &str = "\
Nov 24 10:00:00 web-7 kernel: [    0.000000] Linux version 6.1.0-27-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)
Nov 24 10:00:00 web-7 kernel: [    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0
Nov 24 10:00:03 web-7 systemd[1]: Started Journal Service.
Nov 24 10:00:12 web-7 kernel: [   12.500000] BUG: kernel NULL pointer dereference, address: 0000000000000008
Nov 24 10:00:12 web-7 kernel: [   12.500010] #PF: supervisor read access in kernel mode
Nov 24 10:00:12 web-7 kernel: [   12.500020] Oops: 0000 [#1] PREEMPT SMP NOPTI
Nov 24 10:00:12 web-7 kernel: [   12.500030] CPU: 1 PID: 97 Comm: insmod Tainted: G           O       6.1.0-27-cloud-amd64 #1 Debian 6.1.115-1
Nov 24 10:00:12 web-7 kernel: [   12.500040] RIP: 0010:null_reader+0x11/0x30 [vmt_scen]
Nov 24 10:00:12 web-7 kernel: [   12.500050] Call Trace:
Nov 24 10:00:12 web-7 kernel: [   12.500060]  <TASK>
Nov 24 10:00:12 web-7 kernel: [   12.500070]  ? __die+0x23/0x70
Nov 24 10:00:12 web-7 kernel: [   12.500080]  scen_init+0x2a/0x1000 [vmt_scen]
Nov 24 10:00:12 web-7 kernel: [   12.500090]  do_one_initcall+0x56/0x220
Nov 24 10:00:12 web-7 kernel: [   12.500100]  do_init_module+0x4a/0x200
Nov 24 10:00:12 web-7 kernel: [   12.500110]  </TASK>
Nov 24 10:00:12 web-7 kernel: [   12.500120] Modules linked in: vmt_scen(O+)
Nov 24 10:00:12 web-7 kernel: [   12.500130] ---[ end trace 0000000000000000 ]---
Nov 24 10:00:12 web-7 kernel: [   12.600000] Kernel panic - not syncing: Fatal exception
";

#[test]
fn info_and_scan_of_a_log() {
    let d = fresh("info");
    let log = d.join("messages");
    std::fs::write(&log, LOG).unwrap();
    let o = run(&["info", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    insta::assert_snapshot!("info_of_a_log", text(&o.stdout, &d));
    let o = run(&["scan", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    insta::assert_snapshot!("scan_of_a_log", text(&o.stdout, &d));
    let o = run(&["scan", log.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "log");
    assert_eq!(
        v["title"],
        "BUG: unable to handle kernel NULL pointer dereference in null_reader [vmt_scen]"
    );
    assert_eq!(v["log"]["form"], "syslog");
    assert_eq!(v["log"]["reports"][0]["site"], "null_reader [vmt_scen]");
    // The rules that need only the log run on it (SCHED-0001 among
    // them); every other is listed as not run with its reason, none as an
    // error.
    let not_run = v["not_run"].as_array().unwrap();
    assert!(!not_run.is_empty());
    assert!(not_run.iter().all(|n| n["reason"] == "needs a dump"));
    assert!(not_run.iter().all(|n| n["rule"] != "SCHED-0001"));
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_text_that_is_no_log_is_refused_clearly() {
    let d = fresh("readme");
    let f = d.join("README");
    std::fs::write(
        &f,
        "# Crash archive\n\nDumps of host web-7, one directory per crash.\n",
    )
    .unwrap();
    for cmd in ["info", "scan"] {
        let o = run(&[cmd, f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("not a kernel log: text with no kernel log line"),
            "{err}"
        );
        assert!(err.contains("not a crash dump"), "{err}");
    }
    let o = run(&["info", f.to_str().unwrap()]);
    insta::assert_snapshot!("info_of_a_readme", text(&o.stderr, &d));
    std::fs::remove_dir_all(&d).unwrap();
}

/// `scan DIR --db DB` on two worker processes.
fn scan_into(dir: &Path, db: &Path) -> Output {
    vmtriage()
        .arg("scan")
        .arg(dir)
        .arg("--db")
        .arg(db)
        .args(["--jobs", "2", "-q"])
        .output()
        .unwrap()
}

/// Garbage with a dump's magic: a candidate dump that fails to open.
const GARBAGE: &[u8] = b"KDUMP   \x06\0\0\0 cut short";

#[test]
fn a_dump_and_its_log_are_one_crash() {
    let d = fresh("archive");
    let a = d.join("archive");
    let crash = a.join("127.0.0.1-2026-11-24-10:00:00");
    std::fs::create_dir_all(&crash).unwrap();
    std::fs::write(crash.join("vmcore"), GARBAGE).unwrap();
    std::fs::write(crash.join("vmcore-dmesg.txt"), LOG).unwrap();
    std::fs::write(a.join("web-8.log"), LOG.replace("web-7", "web-8")).unwrap();
    std::fs::write(a.join("README"), "one directory per crash\n").unwrap();
    let db = d.join("r.sqlite");
    let o = scan_into(&a, &db);
    // 2: the garbage dump could not be read.
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let c = rusqlite::Connection::open(&db).unwrap();
    let mut st = c
        .prepare("SELECT path, kind, status, format, title, evidence FROM dumps ORDER BY path")
        .unwrap();
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = |p: PathBuf| p.to_str().unwrap().to_string();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0].0, key(crash.join("vmcore")));
    assert_eq!(rows[0].1, "dump");
    assert_eq!(rows[0].2, "error");
    assert_eq!(
        rows[0].5.as_deref(),
        Some(key(crash.join("vmcore-dmesg.txt")).as_str())
    );
    assert_eq!(rows[1].0, key(a.join("web-8.log")));
    assert_eq!(
        (rows[1].1.as_str(), rows[1].2.as_str(), rows[1].3.as_str()),
        ("log", "ok", "log-syslog")
    );
    assert_eq!(
        rows[1].4.as_deref(),
        Some("BUG: unable to handle kernel NULL pointer dereference in null_reader [vmt_scen]")
    );
    // Nothing changed: a second run reads nothing again.
    let o = scan_into(&a, &db);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("0 scanned"), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}
