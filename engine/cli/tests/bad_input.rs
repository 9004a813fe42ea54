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
    let out = Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .args(args)
        .env("NO_COLOR", "1")
        // Wide enough that no path, build-id or release is wrapped (the
        // filters below must see each whole; they change with the corpus).
        .env("COLUMNS", "4000")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn expect_error(name: &str, args: &[&str], must_say: &[&str]) -> Result<(), Failed> {
    let (code, err) = run(args);
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

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
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
