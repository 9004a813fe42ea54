//! What the bulk, PostgreSQL and watch tests share: a throwaway PostgreSQL
//! cluster (`pg-cluster`, Debian's server), archives built from the corpus,
//! the scanner as a command, and a database's rows as comparable text.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{self, Entry};
use vmtriage_cli::bulk::sql::Sql;

pub type Failed = libtest_mimic::Failed;

pub fn kernels_dir() -> PathBuf {
    common::corpus_dir().join("kernels")
}

pub fn fresh_dir(name: &str) -> Result<PathBuf, Failed> {
    let d = std::env::temp_dir().join(format!("vmtriage-bulk-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    Ok(d)
}

/// Archive: every corpus dump (symlinks), one copy, a truncated and a
/// garbage file, a text file. Returns the good dumps (archive path → entry).
pub fn build_archive(entries: &[Entry], dir: &Path) -> Result<BTreeMap<PathBuf, Entry>, Failed> {
    let mut good = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let sub = dir.join(format!("{}/{}", e.scenario, e.kernel_series));
        std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
        let p = sub.join(format!(
            "{i:03}-{}",
            e.path.file_name().unwrap().to_string_lossy()
        ));
        std::os::unix::fs::symlink(&e.path, &p).map_err(|e| e.to_string())?;
        good.insert(p, e.clone());
    }
    let small = entries
        .iter()
        .min_by_key(|e| e.size)
        .ok_or("empty corpus")?;
    let copy = dir.join("copies/copy-of-smallest");
    std::fs::create_dir_all(copy.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::copy(&small.path, &copy).map_err(|e| e.to_string())?;
    good.insert(copy, small.clone());
    let bytes = std::fs::read(&small.path).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("copies/truncated"),
        &bytes[..bytes.len().min(3 << 20)],
    )
    .map_err(|e| e.to_string())?;
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    std::fs::write(dir.join("copies/garbage"), garbage).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("copies/NOTES.txt"),
        "not a dump, skipped by content\n",
    )
    .map_err(|e| e.to_string())?;
    Ok(good)
}

/// The smallest dumps of `n` different scenarios and kernel series.
pub fn small_entries(n: usize) -> Result<Vec<Entry>, Failed> {
    let mut small: Vec<Entry> = common::manifest()?
        .into_iter()
        .filter(|e| e.format != "elf")
        .collect();
    small.sort_by_key(|e| e.size);
    let mut seen = std::collections::BTreeSet::new();
    small.retain(|e| seen.insert((e.scenario.clone(), e.kernel_series.clone())));
    small.truncate(n);
    Ok(small)
}

/// A few small dumps of different scenarios, as a list file in `dir`.
pub fn small_list(dir: &Path, n: usize) -> Result<PathBuf, Failed> {
    let list = dir.join("dumps.list");
    let paths: Vec<String> = small_entries(n)?
        .iter()
        .map(|e| e.path.to_string_lossy().into_owned())
        .collect();
    std::fs::write(&list, paths.join("\n")).map_err(|e| e.to_string())?;
    Ok(list)
}

/// `vmtriage scan -q --db DB INPUT` (output dropped, stderr kept; add
/// `--jobs`, `--shard`… to it).
pub fn cli_scan(input: &Path, db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    c.args(["scan", "-q", "--debuginfo-dir"])
        .arg(kernels_dir())
        .args(["--db", db])
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs a scan to its end: exit 0, 1 or 3 (findings, partial dumps) or 2
/// when `bad_files` (an archive with damaged files) — anything else fails.
pub fn run_scan(mut c: Command, bad_files: bool) -> Result<(), Failed> {
    let o = c.output().map_err(|e| e.to_string())?;
    match o.status.code() {
        Some(0 | 1 | 3) => Ok(()),
        Some(2) if bad_files => Ok(()),
        _ => Err(format!(
            "scan exited {:?}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )
        .into()),
    }
}

/// The rows a scan leaves that must not depend on how it got there (which
/// database, how many processes, how often killed): every dump's status,
/// title and signature, every finding, error and rule run, sorted.
pub fn content(c: &dyn Sql) -> Result<Vec<String>, Failed> {
    let mut out = Vec::new();
    for sql in [
        "SELECT 'dump ' || path || ' ' || status || ' ' || COALESCE(sha256, '-') || ' '
             || COALESCE(signature, '-') || ' ' || COALESCE(title, '-') FROM dumps",
        "SELECT 'finding ' || path || ' ' || rule_id || ' ' || rule_version || ' ' || fingerprint
             || ' ' || CAST(ord AS TEXT) || ' ' || message || ' ' || evidence FROM findings",
        "SELECT 'error ' || path || ' ' || COALESCE(rule_id, '-') || ' ' || stage FROM errors",
        "SELECT 'rule ' || path || ' ' || rule_id || ' ' || rule_version FROM rule_runs",
        "SELECT 'bucket ' || fingerprint || ' ' || rule_id || ' ' || COALESCE(label, '') FROM fingerprints",
    ] {
        for r in c.rows(sql, &[]).map_err(|e| e.to_string())? {
            out.push(r.text(0));
        }
    }
    out.sort();
    Ok(out)
}

/// A report without what differs by construction between two ways of
/// getting the same rows: runs and "new since" (several runs against one),
/// when and where a bucket or signature was first seen (which process got
/// there first).
pub fn report_core(c: &dyn Sql) -> Result<serde_json::Value, Failed> {
    let r = vmtriage_cli::bulk::report::summary(c, 1000, None).map_err(|e| e.to_string())?;
    let mut v = serde_json::to_value(&r).map_err(|e| e.to_string())?;
    if let Some(o) = v.as_object_mut() {
        for k in [
            "last_run",
            "last_run_started",
            "last_run_finished",
            "new_buckets",
            "new_dumps",
        ] {
            o.remove(k);
        }
        for table in ["top_buckets", "signatures"] {
            if let Some(b) = o.get_mut(table).and_then(|b| b.as_array_mut()) {
                for x in b.iter_mut().filter_map(|x| x.as_object_mut()) {
                    for k in ["first_seen", "first_path", "last_seen"] {
                        x.remove(k);
                    }
                }
            }
        }
    }
    Ok(v)
}

/// Ok when nothing went wrong, else every problem, a line each.
pub fn verdict(problems: Vec<String>) -> Result<(), Failed> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// Where two contents differ (a few lines of each side).
pub fn diff(a: &[String], b: &[String], what: (&str, &str)) -> Result<(), Failed> {
    if a == b {
        return Ok(());
    }
    let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
    let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
    Err(format!(
        "{} rows ({}) and {} rows ({}) differ: only in {}: {only_a:#?}; only in {}: {only_b:#?}",
        a.len(),
        what.0,
        b.len(),
        what.1,
        what.0,
        what.1
    )
    .into())
}

/// A throwaway service started by one of the scripts here (`SCRIPT start
/// DIR` prints what to connect to, `SCRIPT stop DIR` stops it and removes
/// DIR), stopped when dropped.
pub struct Service {
    dir: PathBuf,
    script: PathBuf,
    /// What the script printed: a URL, a config file.
    pub out: String,
}

impl Service {
    pub fn start(script: &str) -> Result<Service, String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/support")
            .join(script);
        let dir = std::env::temp_dir().join(format!(
            "vmtriage-{}-{}",
            script.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        let o = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let service = Service { dir, script, out };
        if !o.status.success() || service.out.is_empty() {
            return Err(format!(
                "{} start failed ({:?}): {}",
                service.script.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(service)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Service {
    /// Stops it (again: no harm).
    pub fn stop(&self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A throwaway PostgreSQL cluster (`pg-cluster`), stopped when dropped.
pub struct PgCluster {
    service: Service,
    /// The URL of its database `vmtriage`.
    pub url: String,
}

impl PgCluster {
    /// Starts one (the script installs Debian's postgresql when no server
    /// is installed).
    pub fn start() -> Result<PgCluster, String> {
        let service = Service::start("pg-cluster")?;
        Ok(PgCluster {
            url: service.out.clone(),
            service,
        })
    }

    pub fn stop(&self) {
        self.service.stop();
    }

    /// A file of the cluster's directory (`ca.crt`: the CA that signed the
    /// server's certificate; `other-ca.crt`: one that did not).
    pub fn file(&self, name: &str) -> PathBuf {
        self.service.dir.join(name)
    }

    /// A new, empty database of the cluster; its URL.
    pub fn database(&self, name: &str) -> Result<String, Failed> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls)
            .map_err(|e| format!("{}: {e}", self.url))?;
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            c.batch_execute(&sql).map_err(|e| format!("{sql}: {e:?}"))?;
        }
        let base = self.url.rsplit_once('/').map_or("", |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }
}
