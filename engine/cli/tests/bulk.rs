//! Bulk scanning on a corpus-derived archive: every corpus dump (symlinks),
//! a copy, a truncated and a garbage file. The bulk results equal scanning
//! each dump alone, each bad file gets one error row, a second run does no
//! dump work, a changed rule is re-evaluated alone, shards merge into the
//! same database; with no debuginfo reachable the archive scans alike.

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{manifest, Entry};
use libtest_mimic::{Arguments, Failed, Trial};
use support::{build_archive, fresh_dir, kernels_dir, small_list};
use vmtriage_cli::bulk::{self, db, Isolate, ScanArgs, ScanStats};
use vmtriage_cli::Session;
use vmtriage_rules::{Diagnosis, RulePack};

/// The executable that serves `scan --bulk-worker`: the vmtriage binary once
/// main.rs routes `scan` to `bulk::run_scan`, else the `bulk` example.
fn worker_exe() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vmtriage"));
    if let Ok(o) = std::process::Command::new(&bin)
        .args(["scan", "--help"])
        .output()
    {
        if String::from_utf8_lossy(&o.stdout).contains("--db") {
            return Some(bin);
        }
    }
    let ex = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("examples/bulk");
    ex.is_file().then_some(ex)
}

fn args(inputs: Vec<PathBuf>, db: &Path) -> ScanArgs {
    let mut a = ScanArgs::new(inputs);
    a.jobs = Some(2);
    a.db = Some(db.to_path_buf());
    a.debuginfo_dirs = vec![kernels_dir()];
    a.quiet = true;
    match worker_exe() {
        Some(w) => {
            a.worker_exe = Some(w);
            a.isolate = Isolate::Process;
        }
        None => a.isolate = Isolate::Thread,
    }
    a
}

fn scan(a: &ScanArgs) -> Result<ScanStats, Failed> {
    let mut sink = Vec::new();
    bulk::scan_archive(a, &mut sink).map_err(|e| format!("{e:?}").into())
}

fn stored(dbp: &Path, path: &Path) -> Result<bulk::worker::Outcome, Failed> {
    stored_in(&db::open(dbp).map_err(|e| e.to_string())?, path)
}

/// The findings of one dump scanned alone, and what it could not read.
fn alone(pack: &RulePack, e: &Entry) -> Result<(Vec<Diagnosis>, Vec<String>), Failed> {
    let s = Session::open(&e.path, Some(&e.vmlinux), &[]).map_err(|x| x.to_string())?;
    let r = vmtriage_cli::scan::scan_kernel(pack, &s.kernel);
    Ok((r.diagnoses, r.partial))
}

/// `scan --jobs 2 --db` over the archive equals scanning each dump alone;
/// one error row per bad file; a second run does no dump work.
fn archive_equals_single_scans() -> Result<(), Failed> {
    let entries = manifest()?;
    if entries.is_empty() {
        return Err("the corpus manifest lists no dumps: corpus/build".into());
    }
    let dir = fresh_dir("archive")?;
    let good = build_archive(&entries, &dir.join("archive"))?;
    let dbp = dir.join("results.sqlite");
    let a = args(vec![dir.join("archive")], &dbp);
    let s1 = scan(&a)?;
    println!("first run: {s1:?}");
    if s1.seen != good.len() + 2 {
        return Err(format!(
            "{} files seen, expected {} dumps + 2 bad files (the text file is skipped)",
            s1.seen,
            good.len()
        )
        .into());
    }
    if s1.errors != 2 {
        return Err(format!("{} errors, expected 2 (truncated, garbage)", s1.errors).into());
    }
    if s1.copies < 1 {
        return Err("the copy was not recognised by content".into());
    }
    let c = db::open(&dbp).map_err(|e| e.to_string())?;
    let mut st = c
        .prepare(
            "SELECT path, stage, message FROM errors
             WHERE rule_id IS NULL AND stage != 'partial' ORDER BY path",
        )
        .map_err(|e| e.to_string())?;
    let rows: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let names: Vec<&str> = rows
        .iter()
        .map(|(p, _, _)| p.rsplit('/').next().unwrap_or(""))
        .collect();
    if names != ["garbage", "truncated"] {
        return Err(format!("error rows: {rows:?}").into());
    }
    // A row says why, not only what failed: the cause of "damaged or
    // incomplete" (the read that found no data) is kept.
    if !rows[1].2.contains("cannot read") {
        return Err(format!("the truncated dump's row has no cause: {:?}", rows[1]).into());
    }
    let (pack, _) = RulePack::embedded();
    let mut mismatches = Vec::new();
    for (p, e) in &good {
        let o = stored(&dbp, p)?;
        if let Some(err) = &o.error {
            mismatches.push(format!("{}: bulk error {err:?}", p.display()));
            continue;
        }
        let (single, partial) = alone(&pack, e)?;
        // A filtered dump scanned in part says so the same way alone and in bulk.
        if partial != o.partial {
            mismatches.push(format!(
                "{}: partial alone {partial:?} vs bulk {:?}",
                p.display(),
                o.partial
            ));
        }
        // Typed evidence, read back from the database, equals the scan's own.
        if single != o.findings {
            mismatches.push(format!(
                "{}: alone {:?} vs bulk {:?}",
                p.display(),
                single.iter().map(|f| &f.rule).collect::<Vec<_>>(),
                o.findings.iter().map(|f| &f.rule).collect::<Vec<_>>()
            ));
        }
    }
    if !mismatches.is_empty() {
        return Err(mismatches.join("\n").into());
    }
    // Nothing changed: no hashing, no dump opened, no rule evaluated.
    let s2 = scan(&a)?;
    println!("second run: {s2:?}");
    if s2.scanned != 0 || s2.hashed != 0 || s2.rule_evaluations != 0 || s2.workers_started != 0 {
        return Err(format!("the second run did dump work: {s2:?}").into());
    }
    if s2.unchanged != good.len() + 2 || s2.findings != s1.findings || s2.errors != 2 {
        return Err(format!("second run {s2:?} differs from the first {s1:?}").into());
    }
    if s2.seconds >= 1.0 {
        return Err(format!("the second run took {:.2}s", s2.seconds).into());
    }
    signatures_group_scenarios(&c, &good)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The archive scanned with an empty `--debuginfo-dir` and no debug vmlinux
/// reachable (#16): every dump is read from its own kallsyms, BTF and ORC
/// (or a plain vmlinuz of its build, had one been at hand), and the scan
/// completes with findings, not error rows: the same rules fire on each
/// dump as with its debug vmlinux, a rule fails to evaluate only where it
/// fails with DWARF too (memory a filtered dump left out), and only the two
/// bad files get an error row. The figures go to stdout.
fn archive_without_debuginfo() -> Result<(), Failed> {
    let entries = manifest()?;
    if entries.is_empty() {
        return Err("the corpus manifest lists no dumps: corpus/build".into());
    }
    let dir = fresh_dir("nodebug")?;
    let good = build_archive(&entries, &dir.join("archive"))?;
    let empty = dir.join("no-debuginfo");
    std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
    // The precondition: no debug vmlinux of any build is reachable.
    let builds: BTreeSet<(String, Option<String>)> = good
        .keys()
        .filter_map(|p| vmcore::Vmcore::open(p).ok())
        .map(|c| vmtriage_cli::session::dump_identity(&c))
        .collect();
    for (release, build_id) in &builds {
        if let Ok(p) =
            kdebuginfo::find_vmlinux(release, build_id.as_deref(), std::slice::from_ref(&empty))
        {
            return Err(
                format!("a debug vmlinux of {release} is reachable: {}", p.display()).into(),
            );
        }
    }
    let dbp = dir.join("results.sqlite");
    let mut a = args(vec![dir.join("archive")], &dbp);
    a.debuginfo_dirs = vec![empty];
    let t = std::time::Instant::now();
    let s = scan(&a)?;
    println!(
        "no debuginfo: {} dumps of {} builds in {:.1} s: {s:?}",
        good.len(),
        builds.len(),
        t.elapsed().as_secs_f64()
    );
    let mut problems = Vec::new();
    if s.errors != 2 {
        problems.push(format!(
            "{} error rows, expected 2 (truncated, garbage)",
            s.errors
        ));
    }
    if s.findings == 0 {
        problems.push("no findings".to_string());
    }
    let (pack, _) = RulePack::embedded();
    for (p, e) in &good {
        let o = stored(&dbp, p)?;
        if let Some(err) = &o.error {
            problems.push(format!("{}: error row {err:?}", p.display()));
            continue;
        }
        // The same rules fire, and fail alike where the dump itself lacks
        // the memory (a -d 31 file's excluded pages): none for want of DWARF.
        let s = Session::open(&e.path, Some(&e.vmlinux), &[]).map_err(|x| x.to_string())?;
        let r = vmtriage_cli::scan::scan_kernel(&pack, &s.kernel);
        let with: (BTreeSet<&str>, BTreeSet<&str>) = (
            r.diagnoses.iter().map(|d| d.rule.as_str()).collect(),
            r.errors.iter().map(|x| x.rule.as_str()).collect(),
        );
        let without: (BTreeSet<&str>, BTreeSet<&str>) = (
            o.findings.iter().map(|d| d.rule.as_str()).collect(),
            o.rule_errors.iter().map(|x| x.rule.as_str()).collect(),
        );
        if with != without {
            problems.push(format!(
                "{}: (fired, failed) without debuginfo {without:?}, with it {with:?}",
                p.display()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// `report`'s signature groups on the corpus archive: one per scenario
/// (every format and kernel series of a scenario together, two scenarios
/// never in one), each explained by a rule or needing none, so
/// `--unexplained` is empty; with an empty rule pack it is not.
fn signatures_group_scenarios(
    c: &rusqlite::Connection,
    good: &BTreeMap<PathBuf, Entry>,
) -> Result<(), Failed> {
    let mut sig_of: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut scenarios_of: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (p, e) in good {
        let o = stored_in(c, p)?;
        let sig = o
            .signature
            .ok_or_else(|| format!("{}: no signature stored", p.display()))?;
        sig_of
            .entry(e.scenario.clone())
            .or_default()
            .insert(sig.clone());
        scenarios_of
            .entry(sig)
            .or_default()
            .insert(e.scenario.clone());
    }
    let mut problems = Vec::new();
    for (scenario, sigs) in &sig_of {
        if sigs.len() != 1 {
            problems.push(format!(
                "{scenario} has {} signatures: {sigs:?}",
                sigs.len()
            ));
        }
    }
    for (sig, scenarios) in &scenarios_of {
        if scenarios.len() != 1 {
            problems.push(format!("signature {sig} groups {scenarios:?}"));
        }
    }
    let rows = bulk::report::signatures(c, 1000, false).map_err(|e| e.to_string())?;
    if rows.len() != sig_of.len() {
        problems.push(format!(
            "report shows {} signature groups for {} scenarios",
            rows.len(),
            sig_of.len()
        ));
    }
    let unexplained = bulk::report::signatures(c, 1000, true).map_err(|e| e.to_string())?;
    if !unexplained.is_empty() {
        problems.push(format!(
            "unexplained on the corpus: {:?}",
            unexplained.iter().map(|r| &r.title).collect::<Vec<_>>()
        ));
    }
    // The same dumps with no rules: every problem is unexplained.
    let dir = fresh_dir("no-rules")?;
    let empty = dir.join("rules");
    std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
    let crash = good
        .iter()
        .find(|(_, e)| e.scenario == "null-deref-oops")
        .map(|(p, _)| p.clone())
        .ok_or("no null-deref-oops dump in the corpus")?;
    let dbp = dir.join("results.sqlite");
    let mut a = args(vec![crash], &dbp);
    a.rules = Some(empty);
    scan(&a)?;
    let c2 = db::open(&dbp).map_err(|e| e.to_string())?;
    let bare = bulk::report::signatures(&c2, 1000, true).map_err(|e| e.to_string())?;
    if bare.len() != 1 {
        problems.push(format!(
            "with no rules, {} unexplained signature(s) for one oops dump",
            bare.len()
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

fn stored_in(c: &rusqlite::Connection, path: &Path) -> Result<bulk::worker::Outcome, Failed> {
    let p = std::path::absolute(path).map_err(|e| e.to_string())?;
    db::load_outcome(c, &p.to_string_lossy())
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no row for {}", p.display()).into())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &t)?;
        } else {
            std::fs::copy(e.path(), t)?;
        }
    }
    Ok(())
}

/// Changing one rule re-evaluates that rule only; shards merge into what one
/// run produces.
fn changed_rule_and_shards() -> Result<(), Failed> {
    let entries = manifest()?;
    let mut small: Vec<Entry> = entries.into_iter().filter(|e| e.format != "elf").collect();
    small.sort_by_key(|e| e.size);
    small.truncate(3);
    if small.is_empty() {
        return Err("no compressed dumps in the corpus".into());
    }
    let dir = fresh_dir("rules")?;
    let rules = dir.join("rules");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules"),
        &rules,
    )
    .map_err(|e| e.to_string())?;
    let list = dir.join("dumps.list");
    std::fs::write(
        &list,
        small
            .iter()
            .map(|e| e.path.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .map_err(|e| e.to_string())?;
    let dbp = dir.join("r.sqlite");
    let mut a = args(vec![list.clone()], &dbp);
    a.rules = Some(rules.clone());
    let s1 = scan(&a)?;
    if s1.scanned != small.len() || s1.errors != 0 {
        return Err(format!("first run: {s1:?}").into());
    }
    let rule_count = RulePack::load_dir(&rules)
        .map_err(|e| e.to_string())?
        .0
        .rules
        .len();
    if s1.rule_evaluations != rule_count * small.len() {
        return Err(format!(
            "{} evaluations for {} rules x {} dumps",
            s1.rule_evaluations,
            rule_count,
            small.len()
        )
        .into());
    }
    let titles = |p: &Path| -> Result<Vec<(String, Option<String>)>, Failed> {
        let c = db::open(p).map_err(|e| e.to_string())?;
        let mut st = c
            .prepare("SELECT path, title FROM dumps ORDER BY path")
            .map_err(|e| e.to_string())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| e.to_string())?;
        Ok(rows.collect::<Result<_, _>>().map_err(|e| e.to_string())?)
    };
    let titles1 = titles(&dbp)?;
    let f = rules.join("kernel/tainted.yaml");
    let mut text = std::fs::read_to_string(&f).map_err(|e| e.to_string())?;
    text += "\n# changed\n";
    std::fs::write(&f, text).map_err(|e| e.to_string())?;
    let s2 = scan(&a)?;
    println!("after a rule change: {s2:?}");
    // The changed rule, and the rules that give the dump a title (so the
    // stored title stays the one a full scan gives).
    let titled = RulePack::load_dir(&rules)
        .map_err(|e| e.to_string())?
        .0
        .rules
        .iter()
        .filter(|r| r.dump_title.is_some() && r.doc.id != "KERNEL-0001")
        .count();
    if s2.scanned != small.len()
        || s2.rule_evaluations != small.len() * (1 + titled)
        || s2.hashed != 0
    {
        return Err(format!(
            "a one-rule change should evaluate that rule and the {titled} titling rules once per dump: {s2:?}"
        )
        .into());
    }
    if titles(&dbp)? != titles1 {
        return Err(format!(
            "titles changed on an incremental run: {titles1:?} then {:?}",
            titles(&dbp)?
        )
        .into());
    }
    if s2.findings != s1.findings {
        return Err(format!("findings changed: {} then {}", s1.findings, s2.findings).into());
    }
    // Shards: 0/2 and 1/2 cover the list once; merged they equal the full run.
    let mut parts = Vec::new();
    let mut seen = 0;
    for k in 0..2 {
        let p = dir.join(format!("shard{k}.sqlite"));
        let mut b = args(vec![list.clone()], &p);
        b.rules = Some(rules.clone());
        b.shard = Some(format!("{k}/2"));
        b.run_id = Some("batch-1".into());
        seen += scan(&b)?.seen;
        parts.push(p);
    }
    if seen != small.len() {
        return Err(format!("shards saw {seen} dumps, expected {}", small.len()).into());
    }
    let merged = dir.join("merged.sqlite");
    bulk::run_merge(bulk::MergeArgs {
        out: merged.clone(),
        inputs: parts,
    })
    .map_err(|e| format!("{e:?}"))?;
    let count = |p: &Path, sql: &str| -> Result<i64, Failed> {
        let c = db::open(p).map_err(|e| e.to_string())?;
        c.query_row(sql, [], |r| r.get(0))
            .map_err(|e| e.to_string().into())
    };
    for sql in [
        "SELECT count(*) FROM dumps",
        "SELECT count(*) FROM findings",
        "SELECT count(DISTINCT fingerprint) FROM findings",
    ] {
        let (x, y) = (count(&dbp, sql)?, count(&merged, sql)?);
        if x != y {
            return Err(format!("{sql}: {x} in one run, {y} merged").into());
        }
    }
    let c = db::open(&merged).map_err(|e| e.to_string())?;
    let r = bulk::report::summary(&c, 10, None).map_err(|e| e.to_string())?;
    println!("{}", bulk::report::summary_text(&r));
    if r.last_run.as_deref() != Some("batch-1") || r.new_dumps != small.len() as i64 {
        return Err(format!(
            "merged runs: last {:?}, new dumps {}",
            r.last_run, r.new_dumps
        )
        .into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A database's rows that must not depend on how they got there.
fn content(dbp: &Path) -> Result<Vec<String>, Failed> {
    support::content(&db::open(dbp).map_err(|e| e.to_string())?)
}

fn cli_scan(list: &Path, dbp: &Path) -> std::process::Command {
    let mut c = support::cli_scan(list, &dbp.to_string_lossy());
    c.args(["--jobs", "2"]);
    c
}

/// A scan killed with SIGKILL at several points and run again ends with
/// the same rows as one clean scan: every dump once, no finding lost or
/// doubled (each dump's rows are written in one transaction).
fn killed_scan_resumes() -> Result<(), Failed> {
    let dir = fresh_dir("killed")?;
    let list = small_list(&dir, 8)?;
    let clean = dir.join("clean.sqlite");
    let st = cli_scan(&list, &clean)
        .status()
        .map_err(|e| e.to_string())?;
    if st.code().is_none_or(|c| c > 3 || c == 2) {
        return Err(format!("clean scan exited {st:?}").into());
    }
    let killed = dir.join("killed.sqlite");
    for ms in [150u64, 400, 700, 1100, 1600] {
        let mut child = cli_scan(&list, &killed)
            .spawn()
            .map_err(|e| e.to_string())?;
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    let st = cli_scan(&list, &killed)
        .status()
        .map_err(|e| e.to_string())?;
    if st.code().is_none_or(|c| c > 3 || c == 2) {
        return Err(format!("the scan after the kills exited {st:?}").into());
    }
    let (a, b) = (content(&clean)?, content(&killed)?);
    if a != b {
        let only_a: Vec<_> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
        let only_b: Vec<_> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
        return Err(format!(
            "killed and resumed differs from clean: only clean {only_a:?}, only resumed {only_b:?}"
        )
        .into());
    }
    let ca = db::open(&clean).map_err(|e| e.to_string())?;
    let cb = db::open(&killed).map_err(|e| e.to_string())?;
    if support::report_core(&ca)? != support::report_core(&cb)? {
        let text = |c: &rusqlite::Connection| {
            bulk::report::summary(c, 10, None)
                .map(|r| bulk::report::summary_text(&r))
                .unwrap_or_default()
        };
        return Err(format!("report differs:\n{}\nvs\n{}", text(&ca), text(&cb)).into());
    }
    Ok(())
}

/// Two scans on one database at once cooperate (SQLite's WAL and busy
/// wait): both succeed and the rows equal one scan's.
fn concurrent_scans_cooperate() -> Result<(), Failed> {
    let dir = fresh_dir("concurrent")?;
    let list = small_list(&dir, 6)?;
    let one = dir.join("one.sqlite");
    cli_scan(&list, &one).status().map_err(|e| e.to_string())?;
    let both = dir.join("both.sqlite");
    let a = cli_scan(&list, &both).spawn().map_err(|e| e.to_string())?;
    let b = cli_scan(&list, &both).spawn().map_err(|e| e.to_string())?;
    for (name, c) in [("first", a), ("second", b)] {
        let o = c.wait_with_output().map_err(|e| e.to_string())?;
        if o.status.code().is_none_or(|c| c == 2 || c > 3) {
            return Err(format!(
                "{name} scan exited {:?}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            )
            .into());
        }
    }
    if content(&one)? != content(&both)? {
        return Err("two concurrent scans left other rows than one scan".into());
    }
    Ok(())
}

/// A damaged database is an error that names it; it is never replaced by
/// a fresh one (which would drop the history).
fn damaged_database_is_an_error() -> Result<(), Failed> {
    let dir = fresh_dir("damaged")?;
    let list = small_list(&dir, 1)?;
    let dbp = dir.join("r.sqlite");
    let garbage: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2_246_822_519) >> 11) as u8)
        .collect();
    std::fs::write(&dbp, &garbage).map_err(|e| e.to_string())?;
    let o = cli_scan(&list, &dbp).output().map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.code() != Some(2) || !err.contains("r.sqlite") {
        return Err(format!("exit {:?}, stderr: {err}", o.status).into());
    }
    if std::fs::read(&dbp).map_err(|e| e.to_string())? != garbage {
        return Err("the damaged database was overwritten".into());
    }
    Ok(())
}

/// Copies of a kdump file and of a flattened stream cut at 60–98 % of their
/// size keep their headers and lose pages: none looks clean. Where every
/// rule fails, or the task list or the log cannot be read and nothing was
/// found, the dump could not be read — status `error` (stage `read`), exit
/// 2, counted by `report` — where `scan` said "no diagnoses", exit 0, and
/// `report` "0 could not be read".
fn truncated_dumps_are_not_clean() -> Result<(), Failed> {
    let dir = fresh_dir("truncated")?;
    let cuts = dir.join("cuts");
    std::fs::create_dir_all(&cuts).map_err(|e| e.to_string())?;
    let entries = manifest()?;
    let mut formats = Vec::new();
    for format in ["kdump", "flattened"] {
        let e = entries
            .iter()
            .find(|e| e.scenario == "idle" && e.kernel_series == "6.1" && e.format == format)
            .ok_or(format!("no idle/6.1 {format} dump in the corpus"))?;
        let bytes = std::fs::read(&e.path).map_err(|e| e.to_string())?;
        for pct in (60..=98).step_by(2) {
            let cut = &bytes[..bytes.len() * pct / 100];
            std::fs::write(cuts.join(format!("{format}-{pct}")), cut).map_err(|e| e.to_string())?;
        }
        formats.push(format);
    }
    let dbp = dir.join("r.sqlite");
    let o = cli_scan(&cuts, &dbp).output().map_err(|e| e.to_string())?;
    if o.status.code() != Some(2) {
        return Err(format!("scan exited {:?}", o.status).into());
    }
    let c = db::open(&dbp).map_err(|e| e.to_string())?;
    let rows = |sql: &str| -> Result<Vec<(String, i64, i64)>, Failed> {
        let mut st = c.prepare(sql).map_err(|e| e.to_string())?;
        let r = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        Ok(r)
    };
    let mut problems = Vec::new();
    // Read, yet every rule that ran failed: what the old scan called clean.
    let all_failed = rows(
        "SELECT d.path,
             (SELECT count(*) FROM rule_runs r WHERE r.path = d.path),
             (SELECT count(*) FROM errors e WHERE e.path = d.path AND e.rule_id IS NOT NULL)
         FROM dumps d WHERE d.status != 'error'",
    )?;
    for (path, ran, failed) in &all_failed {
        if *ran >= 2 && failed >= ran {
            problems.push(format!(
                "{path}: every rule failed ({failed} of {ran}), status not error"
            ));
        }
    }
    let unread = rows(
        "SELECT d.path, 0, 0 FROM dumps d JOIN errors e ON e.path = d.path
         WHERE d.status = 'error' AND e.rule_id IS NULL AND e.stage = 'read'",
    )?;
    for format in &formats {
        if !unread
            .iter()
            .any(|(p, _, _)| p.contains(&format!("/{format}-")))
        {
            problems.push(format!(
                "no {format} cut is an unreadable dump (stage `read`)"
            ));
        }
    }
    let errors = rows("SELECT path, 0, 0 FROM dumps WHERE status = 'error'")?.len();
    let r = bulk::report::summary(&c, 50, None).map_err(|e| e.to_string())?;
    let text = bulk::report::summary_text(&r);
    if !text.contains(&format!("{errors} could not be read")) {
        problems.push(format!(
            "report does not count the {errors} unread dump(s):\n{text}"
        ));
    }
    println!(
        "{} cuts: {} could not be read ({} of them at stage read)",
        formats.len() * 20,
        errors,
        unread.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// Writes `from` to `to` in `chunks` pieces with a pause after each, the
/// file open all along (as a kdump server writes a dump over minutes).
fn write_slowly(from: &Path, to: &Path, chunks: u64, pause: Duration) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = std::fs::read(from)?;
    let mut f = std::fs::File::create(to)?;
    let step = (bytes.len() as u64).div_ceil(chunks).max(1) as usize;
    for piece in bytes.chunks(step) {
        f.write_all(piece)?;
        f.flush()?;
        std::thread::sleep(pause);
    }
    Ok(())
}

fn watcher(drop_dir: &Path, dbp: &Path, idle: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vmtriage"));
    c.args([
        "scan",
        "-q",
        "--jobs",
        "1",
        "--settle",
        "1",
        "--watch-idle-exit",
        idle,
    ])
    .arg("--debuginfo-dir")
    .arg(kernels_dir())
    .arg("--db")
    .arg(dbp)
    .arg("--watch")
    .arg(drop_dir)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    c
}

/// How many dumps the watcher said it scanned (its last line).
fn watched(o: &std::process::Output) -> Result<usize, Failed> {
    let err = String::from_utf8_lossy(&o.stderr);
    err.lines()
        .rev()
        .find_map(|l| {
            l.strip_prefix("watch: ")?
                .split(" dump(s) scanned")
                .next()?
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no summary from the watcher ({:?}): {err}", o.status).into())
}

/// `scan --watch`: dumps written slowly in chunks into the drop directory
/// are each scanned exactly once, after they are complete (the stored hash
/// and size are the whole file's; no error row), one whose writer stalls
/// longer than the settle interval with the file open too, one written under a
/// `dump-incomplete` name and renamed is scanned under its final name only;
/// a watcher started again scans nothing; one killed before a dump settled
/// leaves it to the next, which scans it once.
fn watch_scans_each_dump_once_complete() -> Result<(), Failed> {
    let dir = fresh_dir("watch")?;
    let drop_dir = dir.join("drop");
    std::fs::create_dir_all(drop_dir.join("host-a")).map_err(|e| e.to_string())?;
    let dbp = dir.join("watch.sqlite");
    let dumps = support::small_entries(4)?;
    if dumps.len() < 4 {
        return Err("the corpus has fewer than 4 small dumps".into());
    }
    let child = watcher(&drop_dir, &dbp, "4")
        .spawn()
        .map_err(|e| e.to_string())?;
    let pause = Duration::from_millis(400);
    let mut want = BTreeMap::new();
    for (i, e) in dumps[..3].iter().enumerate() {
        let to = drop_dir.join(format!("host-a/vmcore-{i}"));
        // The last one stalls for longer than the settle interval with the
        // file open: only its writer's open descriptor holds the watcher back.
        let (chunks, pause) = match i {
            2 => (2, Duration::from_millis(2500)),
            _ => (6, pause),
        };
        write_slowly(&e.path, &to, chunks, pause).map_err(|e| e.to_string())?;
        want.insert(to, e.clone());
    }
    // kdump-tools' way: written as dump-incomplete, renamed when complete.
    let partial = drop_dir.join("host-a/dump-incomplete");
    write_slowly(&dumps[3].path, &partial, 3, pause).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(1500));
    let done = drop_dir.join("host-a/dump.202611290700");
    std::fs::rename(&partial, &done).map_err(|e| e.to_string())?;
    want.insert(done, dumps[3].clone());
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let n = watched(&o)?;
    let c = db::open(&dbp).map_err(|e| e.to_string())?;
    let rows: Vec<(String, String, Option<String>, i64)> = c
        .prepare("SELECT path, status, sha256, size FROM dumps ORDER BY path")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    if n != want.len() {
        problems.push(format!(
            "the watcher scanned {n} dumps, {} were written",
            want.len()
        ));
    }
    if rows.len() != want.len() {
        problems.push(format!(
            "{} dump rows for {} dumps: {rows:?}",
            rows.len(),
            want.len()
        ));
    }
    for (path, status, sha, size) in &rows {
        let Some(e) = want.get(Path::new(path)) else {
            problems.push(format!("a row for {path}, which is no finished dump"));
            continue;
        };
        if sha.as_deref() != Some(e.sha256.as_str()) || *size != e.size as i64 || status == "error"
        {
            problems.push(format!(
                "{path} scanned before it was complete: {status} {size} bytes"
            ));
        }
    }
    // Started again: the store knows every dump, nothing is scanned.
    let o = watcher(&drop_dir, &dbp, "2")
        .output()
        .map_err(|e| e.to_string())?;
    if watched(&o)? != 0 {
        problems.push(format!(
            "a restarted watcher scanned again: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    // Killed before a new dump settled: the next watcher scans it, once.
    let mut w = watcher(&drop_dir, &dbp, "2")
        .spawn()
        .map_err(|e| e.to_string())?;
    let late = drop_dir.join("host-a/vmcore-late");
    std::fs::copy(&dumps[0].path, &late).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(300));
    let _ = w.kill();
    let _ = w.wait();
    let o = watcher(&drop_dir, &dbp, "2")
        .output()
        .map_err(|e| e.to_string())?;
    if watched(&o)? != 1 {
        problems.push(format!(
            "after a kill: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let late_rows: i64 = c
        .query_row(
            "SELECT count(*) FROM dumps WHERE path = ?1",
            [late.to_string_lossy()],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if late_rows != 1 {
        problems.push(format!(
            "{late_rows} rows for the dump dropped around the kill"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

/// A dump whose own tables cannot be read (a copy cut short) does not fail
/// the other dumps of its build: the per-build debug info keeps what was
/// made, never a failure made from one dump's memory. One worker, the cut
/// copy first (names sort so), for the smallest dump of each kernel series.
fn a_cut_copy_does_not_fail_its_build() -> Result<(), Failed> {
    let dir = fresh_dir("cutbuild")?;
    let archive = dir.join("archive");
    std::fs::create_dir_all(&archive).map_err(|e| e.to_string())?;
    let mut whole = Vec::new();
    let mut series = BTreeSet::new();
    let mut entries = manifest()?;
    entries.sort_by_key(|e| e.size);
    for e in entries {
        if !series.insert(e.kernel_series.clone()) {
            continue;
        }
        let bytes = std::fs::read(&e.path).map_err(|e| e.to_string())?;
        let s = &e.kernel_series;
        std::fs::write(
            archive.join(format!("{s}-a-cut")),
            &bytes[..bytes.len().min(3 << 20)],
        )
        .map_err(|e| e.to_string())?;
        let p = archive.join(format!("{s}-b-whole"));
        std::os::unix::fs::symlink(&e.path, &p).map_err(|e| e.to_string())?;
        whole.push((archive.join(format!("{s}-a-cut")), p));
    }
    if whole.is_empty() {
        return Err("the corpus manifest lists no dumps: corpus/build".into());
    }
    let empty = dir.join("no-debuginfo");
    std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
    let dbp = dir.join("r.sqlite");
    let mut a = args(vec![archive], &dbp);
    a.jobs = Some(1);
    a.debuginfo_dirs = vec![empty];
    scan(&a)?;
    let mut problems = Vec::new();
    for (cut, p) in &whole {
        // Without this the test would prove nothing: the cut copy's own
        // tables must fail to be read.
        if stored(&dbp, cut)?.error.is_none() {
            problems.push(format!("{}: the cut copy was read", cut.display()));
        }
        if let Some(err) = stored(&dbp, p)?.error {
            problems.push(format!("{}: error row {err:?}", p.display()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    support::verdict(problems)
}

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("bulk/killed_scan_resumes", killed_scan_resumes),
        Trial::test(
            "bulk/concurrent_scans_cooperate",
            concurrent_scans_cooperate,
        ),
        Trial::test(
            "bulk/damaged_database_is_an_error",
            damaged_database_is_an_error,
        ),
        Trial::test(
            "bulk/archive_equals_single_scans",
            archive_equals_single_scans,
        ),
        Trial::test("bulk/changed_rule_and_shards", changed_rule_and_shards),
        Trial::test("bulk/archive_without_debuginfo", archive_without_debuginfo),
        Trial::test(
            "bulk/a_cut_copy_does_not_fail_its_build",
            a_cut_copy_does_not_fail_its_build,
        ),
        Trial::test(
            "bulk/truncated_dumps_are_not_clean",
            truncated_dumps_are_not_clean,
        ),
        Trial::test(
            "bulk/watch_scans_each_dump_once_complete",
            watch_scans_each_dump_once_complete,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}
