//! The results database on a real PostgreSQL server (Debian's, a throwaway
//! cluster started by `tests/support/pg-cluster`, no mock): concurrent
//! shards over the corpus archive equal one local SQLite scan, a shard
//! killed mid-scan and run again loses and doubles nothing, scans racing on
//! the same dump leave one scan's rows, `report` and `db merge` work in
//! both directions, a bad URL or a server that is down is a clear error,
//! and TLS follows libpq's `sslmode` and `sslrootcert` (the cluster has a
//! certificate of its own CA for 127.0.0.1).

mod common;
mod support;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use libtest_mimic::{Arguments, Failed, Trial};
use support::{content, diff, PgCluster};
use vmtriage_cli::bulk::pg::PgConn;
use vmtriage_cli::bulk::sql::Sql;
use vmtriage_cli::bulk::{self, db};

fn pg(url: &str) -> Result<PgConn, Failed> {
    PgConn::connect(url).map_err(|e| format!("{}: {}", e.message, e.help).into())
}

fn sqlite(p: &Path) -> Result<rusqlite::Connection, Failed> {
    db::open(p).map_err(|e| e.to_string().into())
}

fn merge(out: &str, inputs: &[&str]) -> Result<(), Failed> {
    let o = Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .args(["db", "merge", out])
        .args(inputs)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(format!("db merge: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    Ok(())
}

/// 4 shards at once over the corpus archive into one PostgreSQL database
/// give exactly the rows of one local SQLite scan; `report` reads the same
/// from both; a second sharded run opens no dump; merging the server into
/// SQLite and SQLite shards into the server gives the same rows again.
fn shards_equal_local_scan(cluster: &PgCluster) -> Result<(), Failed> {
    let entries = common::manifest()?;
    let dir = support::fresh_dir("pg-shards")?;
    let archive = dir.join("archive");
    support::build_archive(&entries, &archive)?;
    let local = dir.join("local.sqlite");
    let t = std::time::Instant::now();
    let mut c = support::cli_scan(&archive, &local.to_string_lossy());
    c.args(["--jobs", "2"]);
    support::run_scan(c, true)?;
    let local_s = t.elapsed().as_secs_f64();
    let url = cluster.database("shards")?;
    let t = std::time::Instant::now();
    let shards: Vec<_> = (0..4)
        .map(|k| {
            let mut c = support::cli_scan(&archive, &url);
            c.args([
                "--jobs",
                "1",
                "--shard",
                &format!("{k}/4"),
                "--run-id",
                "batch-1",
            ]);
            c.spawn()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for (k, s) in shards.into_iter().enumerate() {
        let o = s.wait_with_output().map_err(|e| e.to_string())?;
        if o.status.code().is_none_or(|c| c > 3) {
            return Err(format!(
                "shard {k}/4 exited {:?}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )
            .into());
        }
    }
    println!(
        "{} files: one local scan {local_s:.1}s, 4 shards into PostgreSQL {:.1}s",
        entries.len() + 3,
        t.elapsed().as_secs_f64()
    );
    let server = pg(&url)?;
    let want = content(&sqlite(&local)?)?;
    diff(
        &want,
        &content(&server)?,
        ("local SQLite", "4 shards in PostgreSQL"),
    )?;
    if support::report_core(&sqlite(&local)?)? != support::report_core(&server)? {
        return Err("report differs between the local SQLite and PostgreSQL".into());
    }
    let runs = server
        .rows("SELECT id, dumps_seen, shard FROM runs", &[])
        .map_err(|e| e.to_string())?;
    if runs.len() != 1 || runs[0].int(1) != entries.len() as i64 + 3 {
        return Err(format!("the 4 shards' run: {runs:?}").into());
    }
    // Nothing changed: a second sharded run opens no dump.
    let mut again = support::cli_scan(&archive, &url);
    again.args(["--shard", "2/4"]);
    let o = again.output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    if !err.contains(" 0 scanned") {
        return Err(format!("the second run scanned again: {err}").into());
    }
    // PostgreSQL into SQLite, and SQLite shards into PostgreSQL.
    let back = dir.join("from-pg.sqlite");
    merge(&back.to_string_lossy(), &[&url])?;
    diff(
        &want,
        &content(&sqlite(&back)?)?,
        ("local", "merged from PostgreSQL"),
    )?;
    let mut parts = Vec::new();
    for k in 0..2 {
        let p = dir.join(format!("shard{k}.sqlite"));
        let mut c = support::cli_scan(&archive, &p.to_string_lossy());
        c.args(["--jobs", "2", "--shard", &format!("{k}/2")]);
        support::run_scan(c, true)?;
        parts.push(p.to_string_lossy().into_owned());
    }
    let merged = cluster.database("merged")?;
    merge(
        &merged,
        &parts.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    diff(
        &want,
        &content(&pg(&merged)?)?,
        ("local", "SQLite shards merged into PostgreSQL"),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A shard killed with SIGKILL at several points and run again, beside
/// another shard running normally, leaves exactly one clean scan's rows.
fn killed_shard_resumes(cluster: &PgCluster) -> Result<(), Failed> {
    let dir = support::fresh_dir("pg-killed")?;
    let list = support::small_list(&dir, 8)?;
    let clean = dir.join("clean.sqlite");
    support::run_scan(support::cli_scan(&list, &clean.to_string_lossy()), false)?;
    let url = cluster.database("killed")?;
    let shard = |k: u32| {
        let mut c = support::cli_scan(&list, &url);
        c.args([
            "--jobs",
            "1",
            "--shard",
            &format!("{k}/2"),
            "--run-id",
            "batch-k",
        ]);
        c
    };
    let other = shard(1).spawn().map_err(|e| e.to_string())?;
    for ms in [150u64, 400, 700, 1100, 1600] {
        let mut child = shard(0).spawn().map_err(|e| e.to_string())?;
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let o = other.wait_with_output().map_err(|e| e.to_string())?;
    if o.status.code().is_none_or(|c| c == 2 || c > 3) {
        return Err(format!("shard 1/2: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    support::run_scan(shard(0), false)?;
    let server = pg(&url)?;
    diff(
        &content(&sqlite(&clean)?)?,
        &content(&server)?,
        ("clean", "killed and resumed"),
    )?;
    let dup = server
        .rows(
            "SELECT count(*) FROM (SELECT path, rule_id, ord FROM findings
                 GROUP BY path, rule_id, ord HAVING count(*) > 1) AS d",
            &[],
        )
        .map_err(|e| e.to_string())?;
    if dup[0].int(0) != 0 {
        return Err("duplicated findings".into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Two scans of the same dumps at once leave one scan's rows; and many
/// writers storing different outcomes for one dump at once leave exactly
/// one of them (never a mix, never a doubled row).
fn scans_race_on_one_dump(cluster: &PgCluster) -> Result<(), Failed> {
    let dir = support::fresh_dir("pg-race")?;
    let list = support::small_list(&dir, 6)?;
    let one = dir.join("one.sqlite");
    support::run_scan(support::cli_scan(&list, &one.to_string_lossy()), false)?;
    let url = cluster.database("race")?;
    let a = support::cli_scan(&list, &url)
        .spawn()
        .map_err(|e| e.to_string())?;
    let b = support::cli_scan(&list, &url)
        .spawn()
        .map_err(|e| e.to_string())?;
    for (name, c) in [("first", a), ("second", b)] {
        let o = c.wait_with_output().map_err(|e| e.to_string())?;
        if o.status.code().is_none_or(|c| c == 2 || c > 3) {
            return Err(format!("{name} scan: {}", String::from_utf8_lossy(&o.stderr)).into());
        }
    }
    diff(
        &content(&sqlite(&one)?)?,
        &content(&pg(&url)?)?,
        ("one scan", "two racing scans"),
    )?;
    // The store itself: outcomes of two different dumps written to one path.
    let server = pg(&url)?;
    let mut outcomes = Vec::new();
    for r in server
        .rows("SELECT path FROM dumps ORDER BY path", &[])
        .map_err(|e| e.to_string())?
    {
        let o = db::load_outcome(&server, &r.text(0)).map_err(|e| e.to_string())?;
        outcomes.extend(o.filter(|o| !o.findings.is_empty()));
    }
    outcomes.sort_by_key(|o| o.findings.len());
    let (Some(small), Some(big)) = (outcomes.first().cloned(), outcomes.last().cloned()) else {
        return Err("no dump with findings".into());
    };
    if small.findings.len() == big.findings.len() {
        return Err("need two outcomes with different finding counts".into());
    }
    let versions = std::collections::BTreeMap::new();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, o) = (
                url.clone(),
                if w % 2 == 0 {
                    small.clone()
                } else {
                    big.clone()
                },
            );
            let versions = versions.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let c = PgConn::connect(&url).map_err(|e| e.message)?;
                let run = bulk::store::Run {
                    id: "race",
                    pack_hash: "x",
                    versions: &versions,
                };
                for i in 0..25i64 {
                    let file = bulk::store::FileRow {
                        path: "/race/one-dump",
                        sha256: Some("ab"),
                        size: i,
                        mtime_ns: w as i64,
                        evidence: &[],
                    };
                    db::store(&c, &run, &file, &o, true).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for w in writers {
        w.join().map_err(|_| "a writer panicked")??;
    }
    let got = db::load_outcome(&server, "/race/one-dump")
        .map_err(|e| e.to_string())?
        .ok_or("no row for the raced dump")?;
    if got.findings != small.findings && got.findings != big.findings {
        return Err(format!(
            "the raced dump has {} findings, a mix of {} and {}",
            got.findings.len(),
            small.findings.len(),
            big.findings.len()
        )
        .into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn vmtriage(args: &[&str]) -> Result<(Option<i32>, String), Failed> {
    let o = Command::new(env!("CARGO_BIN_EXE_vmtriage"))
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    Ok((
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

/// A URL that is no URL, a server that is down, a database that does not
/// exist, one written by a newer vmtriage: exit 2 and a message that says
/// what to do, never a panic; the password never printed.
fn bad_url_and_server_down(cluster: &PgCluster) -> Result<(), Failed> {
    let dir = support::fresh_dir("pg-bad")?;
    let list = support::small_list(&dir, 1)?;
    let list = list.to_string_lossy();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let down = format!("postgres://vmtriage:s3cret@127.0.0.1:{port}/vmtriage");
    let base = cluster
        .url
        .rsplit_once('/')
        .map_or("", |(b, _)| b)
        .to_string();
    let newer = cluster.database("newer")?;
    drop(pg(&newer)?);
    postgres::Client::connect(&newer, postgres::NoTls)
        .and_then(|mut c| {
            c.batch_execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        })
        .map_err(|e| e.to_string())?;
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "scan".into(),
                "--db".into(),
                "postgres://u:s3cret@[::1/x".into(),
                list.to_string(),
            ],
            "not a PostgreSQL URL",
        ),
        (
            vec!["scan".into(), "--db".into(), down.clone(), list.to_string()],
            "is the server running",
        ),
        (
            vec!["report".into(), "--db".into(), down.clone()],
            "cannot connect",
        ),
        (
            vec![
                "db".into(),
                "merge".into(),
                dir.join("m.sqlite").to_string_lossy().into(),
                down.clone(),
            ],
            "cannot connect",
        ),
        (
            vec![
                "scan".into(),
                "--db".into(),
                format!("{base}/no_such_db"),
                list.to_string(),
            ],
            "does not exist",
        ),
        (
            vec!["report".into(), "--db".into(), newer],
            "newer than this vmtriage",
        ),
    ];
    let mut problems = Vec::new();
    for (args, want) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = vmtriage(&a)?;
        if code != Some(2)
            || !err.contains(want)
            || err.contains("panicked")
            || err.contains("s3cret")
        {
            problems.push(format!("{args:?}: exit {code:?}, want {want:?} in: {err}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// Whether the server says this connection is encrypted.
fn encrypted(c: &PgConn) -> Result<bool, Failed> {
    let rows = c
        .rows(
            "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|e| e.to_string())?;
    Ok(format!("{rows:?}").contains("true"))
}

/// TLS, libpq's way: `prefer` (the default) and `require` encrypt without
/// checking the certificate, `disable` does not encrypt, `verify-full`
/// checks the CA and the host name, `verify-ca` only the CA; a certificate
/// of another CA, a host name it does not carry and a CA file that is not
/// there are errors that say what to do. A scan runs over verify-full.
fn tls_modes(cluster: &PgCluster) -> Result<(), Failed> {
    let ca = cluster.file("ca.crt");
    let other = cluster.file("other-ca.crt");
    let url = cluster.database("tls")?;
    let localhost = url.replace("127.0.0.1", "localhost");
    let q = |u: &str, query: String| format!("{u}?{query}");
    let mut problems = Vec::new();
    let expect_ok = [
        (url.clone(), true),
        (q(&url, "sslmode=require".into()), true),
        (q(&url, "sslmode=disable".into()), false),
        (
            q(
                &url,
                format!("sslmode=verify-full&sslrootcert={}", ca.display()),
            ),
            true,
        ),
        (
            q(
                &localhost,
                format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
            ),
            true,
        ),
    ];
    for (u, want) in expect_ok {
        match PgConn::connect(&u) {
            Ok(c) => {
                if encrypted(&c)? != want {
                    problems.push(format!("{u}: encrypted is not {want}"));
                }
            }
            Err(e) => problems.push(format!("{u}: {}", e.message)),
        }
    }
    let expect_err = [
        (
            q(
                &url,
                format!("sslmode=verify-full&sslrootcert={}", other.display()),
            ),
            "sslrootcert",
        ),
        (
            q(
                &localhost,
                format!("sslmode=verify-full&sslrootcert={}", ca.display()),
            ),
            "verify-ca",
        ),
        (
            q(
                &url,
                "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem".into(),
            ),
            "sslrootcert",
        ),
        (q(&url, "sslmode=sometimes".into()), "verify-full"),
    ];
    for (u, want) in expect_err {
        match PgConn::connect(&u) {
            Ok(_) => problems.push(format!("{u}: connected")),
            Err(e) => {
                let text = format!("{} / {}", e.message, e.help);
                if !text.contains(want) {
                    problems.push(format!("{u}: want {want:?} in: {text}"));
                }
            }
        }
    }
    // The command line, end to end.
    let dir = support::fresh_dir("pg-tls")?;
    let list = support::small_list(&dir, 1)?;
    let db = q(
        &url,
        format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let (code, err) = vmtriage(&["scan", "-q", "--db", &db, &list.to_string_lossy()])?;
    if !matches!(code, Some(0) | Some(1)) {
        problems.push(format!("scan over verify-full: exit {code:?}: {err}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// The store on a server as in a file (no corpus needed): a database that
/// holds another program's tables is refused before anything is written,
/// and a file name that is not UTF-8 has its row under the same escaped
/// key as in SQLite, through `db merge` too.
fn foreign_database_and_odd_names(cluster: &PgCluster) -> Result<(), Failed> {
    use std::os::unix::ffi::OsStrExt;
    let dir = support::fresh_dir("pg-foreign")?;
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).map_err(|e| e.to_string())?;
    let odd = archive.join(std::ffi::OsStr::from_bytes(b"vm\xffcore"));
    std::fs::write(&odd, b"KDUMP   cut short").map_err(|e| e.to_string())?;
    let archive = archive.to_string_lossy().into_owned();
    let mut problems = Vec::new();
    let other = cluster.database("other_app")?;
    let tables = |url: &str| -> Result<Vec<String>, Failed> {
        let mut c = postgres::Client::connect(url, postgres::NoTls).map_err(|e| e.to_string())?;
        let rows = c
            .query(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
                 WHERE table_schema = current_schema() ORDER BY 1",
                &[],
            )
            .map_err(|e| e.to_string())?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    };
    postgres::Client::connect(&other, postgres::NoTls)
        .and_then(|mut c| c.batch_execute("CREATE TABLE accounts(id BIGINT, name TEXT)"))
        .map_err(|e| e.to_string())?;
    let (code, err) = vmtriage(&["scan", "-q", "--db", &other, &archive])?;
    if code != Some(2) || !err.contains("not a vmtriage results") {
        problems.push(format!(
            "scan into another program's database: exit {code:?}: {err}"
        ));
    }
    if tables(&other)? != ["accounts"] {
        problems.push(format!("tables written: {:?}", tables(&other)?));
    }
    let ours = cluster.database("odd_names")?;
    let (code, err) = vmtriage(&["scan", "-q", "--db", &ours, &archive])?;
    if code != Some(2) {
        problems.push(format!("scan of a garbage file: exit {code:?}: {err}"));
    }
    let key = format!("{archive}/vm\\xffcore");
    let rows = pg(&ours)?.rows("SELECT path, status FROM dumps", &[])?;
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.text(0), r.text(1))).collect();
    if got != [(key.clone(), "error".to_string())] {
        problems.push(format!("rows {got:?}, want the key {key}"));
    }
    let merged = dir.join("merged.sqlite");
    merge(&merged.to_string_lossy(), &[&ours])?;
    let rows = sqlite(&merged)?.rows("SELECT path FROM dumps", &[])?;
    if rows.iter().map(|r| r.text(0)).collect::<Vec<_>>() != [key.clone()] {
        problems.push("the merged file holds another key".into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// The cluster: started by the first test that runs (none when a filter
/// or `--list` runs no test here), stopped at the end.
type Lazy = Arc<OnceLock<Result<PgCluster, String>>>;

fn main() {
    let args = Arguments::from_args();
    let lazy: Lazy = Arc::new(OnceLock::new());
    let trial = |name: &str, f: fn(&PgCluster) -> Result<(), Failed>| {
        let l = lazy.clone();
        Trial::test(format!("postgres/{name}"), move || {
            // A cold machine gets here too: the reason is each test's failure.
            match l.get_or_init(PgCluster::start) {
                Ok(c) => f(c),
                Err(e) => Err(e.clone().into()),
            }
        })
    };
    let trials = vec![
        trial("bad_url_and_server_down", bad_url_and_server_down),
        trial(
            "foreign_database_and_odd_names",
            foreign_database_and_odd_names,
        ),
        trial("tls_modes", tls_modes),
        trial("scans_race_on_one_dump", scans_race_on_one_dump),
        trial("killed_shard_resumes", killed_shard_resumes),
        trial("shards_equal_local_scan", shards_equal_local_scan),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(c)) = lazy.get() {
        c.stop();
    }
    conclusion.exit();
}
