//! The Debian package, installed for real: `engine/cli/packaging/build-deb`
//! builds the .deb, `dpkg -i` installs it on this machine, and the installed
//! files are checked (every file of the rule pack, a man page per command,
//! the completions, the docs); the installed `/usr/bin/vmtriage` scans a
//! corpus dump and says what the binary cargo built says, with the embedded
//! pack and with `--rules /usr/share/vmtriage/rules`; `man -w vmtriage-scan`
//! finds its page; `dpkg -r` removes it all again.
//!
//! It needs root and dpkg (Debian 12, as CI runs it) and fails saying so
//! otherwise. The package is removed even when a check fails midway. Two runs
//! at once (two checkouts' test suites) take turns on a lock file; a dpkg lock
//! held by apt elsewhere is waited for.

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PACKAGE: &str = "vmtriage";
const BIN: &str = "/usr/bin/vmtriage";
const RULES: &str = "/usr/share/vmtriage/rules";

/// A failure, printed as it is (not as an escaped string).
struct Fail(String);

impl fmt::Debug for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail(s.to_string())
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn show(cmd: &str, out: &Output) -> String {
    format!(
        "`{cmd}`: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a program; an error when it cannot be started.
fn run(program: &str, args: &[&str]) -> Result<Output, Fail> {
    Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| Fail(format!("cannot run {program}: {e}")))
}

/// Runs a program that must succeed.
fn ok(program: &str, args: &[&str]) -> Result<String, Fail> {
    let out = run(program, args)?;
    if !out.status.success() {
        return Err(Fail(show(&format!("{program} {}", args.join(" ")), &out)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `dpkg ARGS`, waiting (up to 5 minutes) while another dpkg or apt holds
/// dpkg's lock.
fn dpkg(args: &[&str]) -> Result<Output, Fail> {
    let start = Instant::now();
    loop {
        let out = run("dpkg", args)?;
        let err = String::from_utf8_lossy(&out.stderr);
        let locked =
            !out.status.success() && err.contains("lock") && err.contains("another process");
        if !locked || start.elapsed() > Duration::from_secs(300) {
            return Ok(out);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

fn installed() -> bool {
    run("dpkg-query", &["-W", "-f=${Status}", PACKAGE])
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

/// Removes the package when dropped, unless the test removed it itself: a
/// failed check leaves nothing installed.
struct Installed {
    armed: bool,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if self.armed && installed() {
            match dpkg(&["-r", PACKAGE]) {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!("cleanup: {}", show("dpkg -r vmtriage", &o)),
                Err(e) => eprintln!("cleanup: {e:?}"),
            }
        }
    }
}

/// One run of this test at a time on this machine (it installs a package).
struct MachineLock(#[allow(dead_code)] std::fs::File);

fn machine_lock() -> Result<MachineLock, Fail> {
    use std::os::fd::AsRawFd;
    // /run/lock is the machine's, whatever TMPDIR each run has.
    let dir = Path::new("/run/lock");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let p = dir.join("vmtriage-deb-test.lock");
    let f = std::fs::File::create(&p).map_err(|e| Fail(format!("{}: {e}", p.display())))?;
    // SAFETY: flock on a descriptor this File owns; the lock goes with it.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Fail(format!(
            "{}: flock: {}",
            p.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(MachineLock(f))
}

/// A corpus dump that is present and whose kernel is in the corpus's
/// kernels directory: from the manifest, or while the corpus is being
/// (re)built, from the scenarios finished so far (`dumps/*/entries.json`).
/// The smallest compressed one, to keep the scans short.
fn corpus_dump() -> Result<common::Entry, Fail> {
    let corpus = common::corpus_dir();
    let mut entries = common::manifest().unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir(corpus.join("dumps")) {
        for d in rd.flatten() {
            let p = d.path().join("entries.json");
            if let Ok(text) = std::fs::read_to_string(&p) {
                if let Ok(es) = serde_json::from_str::<Vec<common::Entry>>(&text) {
                    entries.extend(es);
                }
            }
        }
    }
    let kernels = corpus.join("kernels");
    entries.retain(|e| e.path.is_file() && kernels.join(&e.release).join("vmlinux").is_file());
    entries.sort_by_key(|e| (e.format == "elf", e.size));
    entries.into_iter().next().ok_or_else(|| {
        Fail(format!(
            "no corpus dump with its kernel in {} (corpus: {}); build the corpus first: corpus/build",
            kernels.display(),
            corpus.display()
        ))
    })
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path, base: &Path, out: &mut BTreeSet<PathBuf>) -> Result<(), Fail> {
    let rd = std::fs::read_dir(dir).map_err(|e| Fail(format!("{}: {e}", dir.display())))?;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, base, out)?;
        } else {
            out.insert(p.strip_prefix(base).unwrap_or(&p).to_path_buf());
        }
    }
    Ok(())
}

/// `scan --format json` of one dump, as a JSON value (nothing in it varies
/// from run to run, so two scans compare whole).
fn scan(exe: &str, e: &common::Entry, rules: Option<&str>) -> Result<serde_json::Value, Fail> {
    let kernels = common::corpus_dir().join("kernels");
    let dump = e.path.to_string_lossy();
    let kernels = kernels.to_string_lossy();
    let mut args = vec![
        "scan",
        &dump,
        "--debuginfo-dir",
        &kernels,
        "--format",
        "json",
    ];
    if let Some(r) = rules {
        args.extend(["--rules", r]);
    }
    let out = run(exe, &args)?;
    let cmd = format!("{exe} {}", args.join(" "));
    // 0 nothing found, 1 findings, 3 a partial answer (a filtered dump).
    if !matches!(out.status.code(), Some(0 | 1 | 3)) {
        return Err(Fail(show(&cmd, &out)));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|err| Fail(format!("{err}: the output of {}", show(&cmd, &out))))
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one installation in the order a user makes it (build, install, run each installed file, remove), each step's failure naming the step"
)]
fn deb_installs_runs_and_removes() -> Result<(), Fail> {
    let t0 = Instant::now();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(
            "this test installs the Debian package with dpkg -i and needs root; \
             run the test suite as root (as CI does on Debian 12)"
                .into(),
        );
    }
    if run("dpkg", &["--version"]).is_err() || run("dpkg-query", &["--version"]).is_err() {
        return Err(
            "this test needs dpkg (Debian or Ubuntu, as CI runs it on Debian 12); none found"
                .into(),
        );
    }
    let entry = corpus_dump()?;
    let _lock = machine_lock()?;
    if installed() || Path::new(BIN).exists() {
        return Err(Fail(format!(
            "{BIN} or the package {PACKAGE} is already on this machine; this test \
             installs the package and removes it again, so it does not touch one \
             it did not install: remove it first (dpkg -r {PACKAGE})"
        )));
    }

    // Build: the script's last line of stdout is the .deb.
    let script = repo().join("engine/cli/packaging/build-deb");
    let t = Instant::now();
    let mut build = Command::new(&script);
    // Under `cargo test --release` the binary cargo built for the tests is
    // the one cargo-deb packages: no second build (see the script).
    let exe = Path::new(env!("CARGO_BIN_EXE_vmtriage"));
    if exe.parent().and_then(|d| d.file_name()) == Some("release".as_ref()) {
        build.arg("--prebuilt").arg(exe);
    }
    let out = build
        .arg("--fast")
        .output()
        .map_err(|e| Fail(format!("cannot run {}: {e}", script.display())))?;
    if !out.status.success() {
        return Err(Fail(show(&script.display().to_string(), &out)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let deb = stdout.lines().last().unwrap_or("").trim().to_string();
    if !deb.ends_with(".deb") || !Path::new(&deb).is_file() {
        return Err(Fail(format!(
            "build-deb printed no .deb path: {}",
            show("build-deb", &out)
        )));
    }
    println!(
        "built {deb} in {:.1}s ({} bytes)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0)
    );

    // Install.
    let mut guard = Installed { armed: true };
    let out = dpkg(&["-i", &deb])?;
    if !out.status.success() {
        return Err(Fail(show(&format!("dpkg -i {deb}"), &out)));
    }
    if !installed() {
        return Err("dpkg -i succeeded but dpkg-query does not list vmtriage as installed".into());
    }

    // What it installed: dpkg -L against what the checkout and the binary make.
    let listed: BTreeSet<String> = ok("dpkg", &["-L", PACKAGE])?
        .lines()
        .map(str::to_string)
        .collect();
    let mut expected: Vec<String> = [
        BIN,
        "/usr/share/bash-completion/completions/vmtriage",
        "/usr/share/zsh/vendor-completions/_vmtriage",
        "/usr/share/fish/vendor_completions.d/vmtriage.fish",
        "/usr/share/doc/vmtriage/README.md",
        "/usr/share/doc/vmtriage/ARCHITECTURE.md",
        "/usr/share/doc/vmtriage/examples/scan-job.yaml",
        "/usr/share/doc/vmtriage/copyright",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut pack = BTreeSet::new();
    files_under(&repo().join("rules"), &repo().join("rules"), &mut pack)?;
    if !pack
        .iter()
        .any(|p| p.extension().is_some_and(|x| x == "yaml"))
    {
        return Err("the checkout's rules/ has no rule file".into());
    }
    for rel in &pack {
        expected.push(format!("{RULES}/{}", rel.display()));
    }
    let man = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deb-test-man");
    let _ = std::fs::remove_dir_all(&man);
    ok(
        env!("CARGO_BIN_EXE_vmtriage"),
        &["man", &man.to_string_lossy()],
    )?;
    let mut pages = BTreeSet::new();
    files_under(&man, &man, &mut pages)?;
    if !pages.contains(Path::new("vmtriage-scan.1")) {
        return Err(Fail(format!(
            "`vmtriage man` wrote no vmtriage-scan.1: {pages:?}"
        )));
    }
    for p in &pages {
        expected.push(format!("/usr/share/man/man1/{}.gz", p.display()));
    }
    let missing: Vec<&String> = expected.iter().filter(|f| !listed.contains(*f)).collect();
    if !missing.is_empty() {
        return Err(Fail(format!(
            "dpkg -L vmtriage lacks {missing:#?}\nit lists:\n{}",
            listed.iter().cloned().collect::<Vec<_>>().join("\n")
        )));
    }
    for f in &expected {
        if !Path::new(f).is_file() {
            return Err(Fail(format!("{f} is listed by dpkg -L but not on disk")));
        }
    }
    // The rule pack as it is in the checkout, byte for byte.
    for rel in &pack {
        let want =
            std::fs::read(repo().join("rules").join(rel)).map_err(|e| Fail(e.to_string()))?;
        let got = std::fs::read(Path::new(RULES).join(rel)).map_err(|e| Fail(e.to_string()))?;
        if want != got {
            return Err(Fail(format!(
                "{RULES}/{} differs from rules/{}",
                rel.display(),
                rel.display()
            )));
        }
    }

    // The installed binary is this build's and works on its own.
    let version = ok(BIN, &["--version"])?;
    let built = ok(env!("CARGO_BIN_EXE_vmtriage"), &["--version"])?;
    if version != built {
        return Err(Fail(format!(
            "{BIN} --version says {version:?}, the build {built:?}"
        )));
    }
    ok(BIN, &["rules", "check", RULES])?;
    let completion = ok(
        "bash",
        &[
            "-c",
            "source /usr/share/bash-completion/completions/vmtriage && complete -p vmtriage",
        ],
    )?;
    if !completion.contains("vmtriage") {
        return Err(Fail(format!(
            "the bash completion registers nothing for vmtriage: {completion}"
        )));
    }

    // A corpus dump scanned by the installed binary: what the build says, and
    // the installed pack's files give what the embedded pack gives.
    let t = Instant::now();
    let installed_scan = scan(BIN, &entry, None)?;
    let built_scan = scan(env!("CARGO_BIN_EXE_vmtriage"), &entry, None)?;
    let files_scan = scan(BIN, &entry, Some(RULES))?;
    println!(
        "scanned {} ({}) three times in {:.1}s",
        entry.name(),
        entry.release,
        t.elapsed().as_secs_f64()
    );
    if installed_scan.get("release").and_then(|r| r.as_str()) != Some(entry.release.as_str()) {
        return Err(Fail(format!(
            "{BIN} scan of {} reports release {:?}, the corpus says {}",
            entry.path.display(),
            installed_scan.get("release"),
            entry.release
        )));
    }
    if !installed_scan
        .get("diagnoses")
        .is_some_and(|d| d.is_array())
    {
        return Err(Fail(format!(
            "{BIN} scan printed no diagnoses list: {installed_scan}"
        )));
    }
    if installed_scan != built_scan {
        return Err(Fail(format!(
            "the installed binary's scan differs from the build's:\ninstalled: {installed_scan}\nbuild: {built_scan}"
        )));
    }
    if installed_scan != files_scan {
        return Err(Fail(format!(
            "--rules {RULES} scans differently from the embedded pack:\nembedded: {installed_scan}\n{RULES}: {files_scan}"
        )));
    }

    // man finds the page (or, without man-db, the page is where it looks).
    let page = "/usr/share/man/man1/vmtriage-scan.1.gz";
    match run("man", &["-w", "vmtriage-scan"]) {
        Ok(out) => {
            let found = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || found.trim() != page {
                return Err(Fail(show("man -w vmtriage-scan", &out)));
            }
        }
        Err(_) if Path::new(page).is_file() => {
            println!("man is not installed; {page} is there");
        }
        Err(e) => return Err(e),
    }

    // Remove, and check it is gone.
    let out = dpkg(&["-r", PACKAGE])?;
    if !out.status.success() {
        return Err(Fail(show("dpkg -r vmtriage", &out)));
    }
    guard.armed = false;
    let left: Vec<&String> = expected.iter().filter(|f| Path::new(f).exists()).collect();
    if installed() || !left.is_empty() || Path::new(RULES).exists() {
        return Err(Fail(format!(
            "after dpkg -r: installed {}, files left {left:?}, {RULES} there: {}",
            installed(),
            Path::new(RULES).exists()
        )));
    }
    println!("deb test done in {:.1}s", t0.elapsed().as_secs_f64());
    Ok(())
}
