//! Bulk scanning of dump archives (`vmtriage scan DIR_OR_LIST... --jobs N
//! --db results.sqlite`), the summary of a results database (`vmtriage
//! report`) and the merge of shard databases (`vmtriage db merge`).
//!
//! A run: find the dumps by content ([`discover`]); with a database, look up
//! each path (same size and mtime: content known, no hashing) and hash the
//! new or changed ones; plan per distinct content which rules must run (all
//! for new content, only changed or added rules otherwise, none when
//! nothing changed); run the plans on `--jobs` slots — worker processes
//! with a time and memory limit ([`worker`]), or threads — each slot
//! reusing one debug-info index per kernel build; store each outcome as it
//! arrives and print the dumps in input order.

pub mod db;
pub mod discover;
pub mod fingerprint;
pub mod worker;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use miette::Report;
use sha2::{Digest, Sha256};
use vmtriage_rules::rule::{version_matches, Severity};
use vmtriage_rules::{RulePack, ScanResult};

use crate::scan::{diagnoses_text, DumpReport};
use worker::{DebugCache, Outcome, Request, WorkerProc};

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum OutFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum Isolate {
    /// Worker processes when more than one dump is scanned or --timeout is given; else in this process.
    Auto,
    /// Each job slot is a worker process with a time and memory limit.
    Process,
    /// Threads in this process (no time or memory limit).
    Thread,
}

/// `vmtriage scan`: evaluate the rule pack against dumps, directories of dumps or lists of dumps.
#[derive(clap::Args, Debug, Clone)]
pub struct ScanArgs {
    /// Dumps, directories (searched recursively; dumps are recognised by content) or list files (one path a line).
    #[arg(required_unless_present = "bulk_worker")]
    pub dumps: Vec<PathBuf>,
    /// Rule directory (default: the pack built into this binary).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Override a rule parameter: RULE.NAME=VALUE.
    #[arg(long = "param")]
    pub params: Vec<String>,
    /// The debug vmlinux for every dump (default: found per dump by release and build-id).
    #[arg(long)]
    pub vmlinux: Option<PathBuf>,
    /// Extra directories to search for debug vmlinux files (DIR/RELEASE/vmlinux, DIR/.build-id/…).
    #[arg(long = "debuginfo-dir")]
    pub debuginfo_dirs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
    /// Dumps scanned at once (default: the number of CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Store results in this SQLite database; dumps and rules unchanged since the last run are not scanned again.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Seconds one dump may take before its worker is stopped and the dump gets an error row (default 600 with worker processes; 0: none).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Heap limit of each worker process (RLIMIT_DATA): 2G, 512M, 0 for none.
    #[arg(long, default_value = "2G")]
    pub max_memory: String,
    /// Scan only shard K of N (0 <= K < N), split by a hash of each dump's path under its input.
    #[arg(long)]
    pub shard: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    pub isolate: Isolate,
    /// The run's id in the database (give the shards of one batch the same id).
    #[arg(long)]
    pub run_id: Option<String>,
    /// Scan again dumps that failed in an earlier run although they did not change.
    #[arg(long)]
    pub retry_errors: bool,
    /// Print no per-dump report (the database and the exit code still have the results).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Serve scan requests on stdin (the worker side of --isolate process).
    #[arg(long, hide = true)]
    pub bulk_worker: bool,
    /// The executable started as worker (default: this one).
    #[arg(long, hide = true)]
    pub worker_exe: Option<PathBuf>,
}

impl ScanArgs {
    /// Arguments for scanning `dumps` with everything else at its default.
    pub fn new(dumps: Vec<PathBuf>) -> ScanArgs {
        ScanArgs {
            dumps,
            rules: None,
            params: Vec::new(),
            vmlinux: None,
            debuginfo_dirs: Vec::new(),
            format: OutFormat::Text,
            jobs: None,
            db: None,
            timeout: None,
            max_memory: "2G".into(),
            shard: None,
            isolate: Isolate::Auto,
            run_id: None,
            retry_errors: false,
            quiet: false,
            bulk_worker: false,
            worker_exe: None,
        }
    }
}

/// Counters of one run (the tests check the work done with them).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScanStats {
    pub run_id: String,
    /// Files considered (after sharding), including bad ones.
    pub seen: usize,
    /// Dumps opened and evaluated (one per distinct content).
    pub scanned: usize,
    /// Dumps with nothing to do (content and rules unchanged).
    pub unchanged: usize,
    /// Files whose content equals another scanned in this run (results copied).
    pub copies: usize,
    /// Files hashed (new or changed since the database saw them).
    pub hashed: usize,
    /// Dumps (or inputs) that could not be scanned.
    pub errors: usize,
    pub findings: usize,
    /// Fingerprints seen for the first time.
    pub new_fingerprints: usize,
    /// Rule evaluations done (rules × dumps).
    pub rule_evaluations: usize,
    /// Worker processes started.
    pub workers_started: usize,
    /// vmlinux indexes built in this process (thread mode).
    pub debug_opened: usize,
    pub worst: Option<Severity>,
    /// Dumps scanned from partly unreadable memory.
    pub partial: usize,
    pub seconds: f64,
}

fn err(code: &str, help: &str, msg: String) -> Report {
    miette::miette!(code = code.to_string(), help = help.to_string(), "{msg}")
}

/// The pack of the scan: the embedded one or a directory, clean, with overrides.
pub fn load_pack(rules: Option<&Path>, params: &[String]) -> Result<RulePack, Report> {
    let (mut pack, diags) = match rules {
        Some(d) => RulePack::load_dir(d).map_err(|e| {
            err(
                "vmtriage::rules",
                "pass a directory of rule files (*.yaml)",
                format!("cannot read rules from {}: {e}", d.display()),
            )
        })?,
        None => RulePack::embedded(),
    };
    if !diags.is_empty() {
        for d in &diags {
            eprintln!("{:?}", Report::new(d.clone()));
        }
        return Err(err(
            "vmtriage::rules",
            "run `vmtriage rules check` to see every error",
            format!("{} error(s) in the rule pack", diags.len()),
        ));
    }
    pack.override_params(params).map_err(|e| {
        err(
            "vmtriage::param",
            "see `vmtriage rules show RULE` for its params",
            e.to_string(),
        )
    })?;
    Ok(pack)
}

/// Each rule's version: a hash of its file, its effective parameters and the
/// pack's helpers (a rule may call any of them).
pub fn rule_versions(pack: &RulePack, rules_dir: Option<&Path>) -> BTreeMap<String, String> {
    let mut helpers = Sha256::new();
    if let Some(d) = rules_dir {
        let mut files = Vec::new();
        collect_rhai(d, &mut files);
        files.sort();
        for f in files {
            helpers.update(f.to_string_lossy().as_bytes());
            helpers.update(std::fs::read(&f).unwrap_or_default());
        }
    } else {
        helpers.update(b"embedded");
        helpers.update(env!("CARGO_PKG_VERSION").as_bytes());
    }
    let helpers = helpers.finalize();
    pack.rules
        .iter()
        .map(|r| {
            let mut h = Sha256::new();
            h.update(r.src.as_bytes());
            h.update(format!("{:?}", r.params).as_bytes());
            h.update(helpers);
            (r.doc.id.clone(), hex(&h.finalize()[..8]))
        })
        .collect()
}

fn collect_rhai(d: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect_rhai(&p, out);
            } else if p.extension().is_some_and(|x| x == "rhai") {
                out.push(p);
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn pack_hash(versions: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (id, v) in versions {
        h.update(format!("{id}={v}\n").as_bytes());
    }
    hex(&h.finalize()[..8])
}

/// SHA-256 of a file's content.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.trim()
        .parse::<f64>()
        .map(|n| (n * mult as f64) as u64)
        .map_err(|_| format!("--max-memory `{s}`: expected a size like 2G, 512M or 0"))
}

fn mtime_ns(md: &std::fs::Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// One file of the run.
struct Item {
    path: String,
    size: i64,
    mtime: i64,
    sha: Option<String>,
    /// Rules to run (None: nothing to do; Some(None): all).
    need: Option<Option<Vec<String>>>,
    /// What the file had before (a full rescan replaces every row).
    full: bool,
    /// A problem before any scan (unreadable file).
    pre_error: Option<(String, String)>,
}

/// Work for one distinct content.
struct Job {
    members: Vec<usize>,
    rules: Option<Vec<String>>,
}

/// The scan as a library call: output to `out`, counters back.
pub fn scan_archive(args: &ScanArgs, out: &mut dyn Write) -> Result<ScanStats, Report> {
    let t0 = Instant::now();
    let pack = load_pack(args.rules.as_deref(), &args.params)?;
    if args.bulk_worker {
        let cache = DebugCache::new(args.vmlinux.clone(), args.debuginfo_dirs.clone());
        let mem = parse_size(&args.max_memory).map_err(|e| err("vmtriage::args", "", e))?;
        worker::worker_loop(&pack, &cache, mem)
            .map_err(|e| err("vmtriage::worker", "", e.to_string()))?;
        return Ok(ScanStats::default());
    }
    let versions = rule_versions(&pack, args.rules.as_deref());
    let phash = pack_hash(&versions);
    let max_memory = parse_size(&args.max_memory)
        .map_err(|e| err("vmtriage::args", "for example --max-memory 2G", e))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    // Find the dumps, keep this shard's.
    let (mut cands, input_errors) = discover::discover(&args.dumps);
    let shard = match &args.shard {
        Some(s) => Some(
            discover::parse_shard(s)
                .map_err(|e| err("vmtriage::args", "for example --shard 0/4", e))?,
        ),
        None => None,
    };
    if let Some((k, n)) = shard {
        cands.retain(|c| discover::shard_of(&c.shard_key, n) == k);
    }

    let mut conn = match &args.db {
        Some(p) => Some(db::open(p).map_err(|e| {
            err(
                "vmtriage::db",
                "pass a writable path for a new or existing results database",
                format!("cannot open database {}: {e}", p.display()),
            )
        })?),
        None => None,
    };
    let dberr = |e: rusqlite::Error| err("vmtriage::db", "", format!("database: {e}"));
    let known = match &conn {
        Some(c) => db::known_dumps(c).map_err(dberr)?,
        None => BTreeMap::new(),
    };
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}{}",
            db::now(),
            std::process::id(),
            shard.map(|(k, n)| format!("-{k}of{n}")).unwrap_or_default()
        )
    });
    if let Some(c) = &conn {
        c.execute(
            "INSERT INTO runs(id, started_at, pack_hash, shard, host) VALUES(?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO NOTHING",
            rusqlite::params![
                run_id,
                db::now(),
                phash,
                args.shard.clone().unwrap_or_else(|| "all".into()),
                std::fs::read_to_string("/etc/hostname")
                    .unwrap_or_default()
                    .trim()
            ],
        )
        .map_err(dberr)?;
    }

    let mut stats = ScanStats {
        run_id: run_id.clone(),
        seen: cands.len() + input_errors.len(),
        ..ScanStats::default()
    };

    // What each file needs.
    let mut items: Vec<Item> = Vec::new();
    let mut to_hash = Vec::new();
    let mut forget: Vec<(String, Vec<String>)> = Vec::new();
    for c in &cands {
        let path = c.path.to_string_lossy().into_owned();
        let md = std::fs::metadata(&c.path);
        let (size, mtime) = md
            .as_ref()
            .map(|m| (m.len() as i64, mtime_ns(m)))
            .unwrap_or((-1, 0));
        let mut it = Item {
            path: path.clone(),
            size,
            mtime,
            sha: None,
            need: Some(None),
            full: true,
            pre_error: md
                .as_ref()
                .err()
                .map(|e| ("open".into(), format!("cannot read {path}: {e}"))),
        };
        if conn.is_some() && it.pre_error.is_none() {
            match known.get(&path) {
                Some(k) if k.size == size && k.mtime_ns == mtime && k.sha256.is_some() => {
                    it.sha = k.sha256.clone();
                    it.full = false;
                    if k.status == "error" {
                        it.need = if args.retry_errors { Some(None) } else { None };
                        it.full = true;
                    } else {
                        let need: Vec<String> = versions
                            .iter()
                            .filter(|(id, v)| k.rules.get(*id) != Some(*v))
                            .map(|(id, _)| id.clone())
                            .collect();
                        let gone: Vec<String> = k
                            .rules
                            .keys()
                            .filter(|id| !versions.contains_key(*id))
                            .cloned()
                            .collect();
                        if !gone.is_empty() {
                            forget.push((path.clone(), gone));
                        }
                        it.need = if need.is_empty() {
                            None
                        } else if need.len() == versions.len() {
                            it.full = true;
                            Some(None)
                        } else {
                            Some(Some(need))
                        };
                    }
                }
                _ => to_hash.push(items.len()),
            }
        }
        items.push(it);
    }
    if let Some(c) = &conn {
        for (p, gone) in &forget {
            db::forget_rules(c, p, gone).map_err(dberr)?;
        }
    }

    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let bar = |len: usize, what: &str| {
        if !show_progress {
            return indicatif::ProgressBar::hidden();
        }
        let pb = indicatif::ProgressBar::new(len as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{spinner}} {what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {{msg}} {{per_sec}} ETA {{eta}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    };

    // Hash new and changed files (content identity, copies found once).
    if !to_hash.is_empty() {
        let pb = bar(to_hash.len(), "hashing");
        let queue = Mutex::new(to_hash.iter().copied().collect::<VecDeque<_>>());
        let results = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..jobs.min(to_hash.len()) {
                s.spawn(|| loop {
                    let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        return;
                    };
                    let r = sha256_file(Path::new(&items[i].path));
                    pb.inc(1);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, r));
                });
            }
        });
        pb.finish_and_clear();
        for (i, r) in results.into_inner().unwrap_or_default() {
            stats.hashed += 1;
            match r {
                Ok(h) => items[i].sha = Some(h),
                Err(e) => {
                    items[i].pre_error =
                        Some(("open".into(), format!("cannot read {}: {e}", items[i].path)))
                }
            }
        }
    }

    // Plan: one job per distinct content (or per file without a database).
    let mut jobs_list: Vec<Job> = Vec::new();
    let mut by_sha: HashMap<String, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        let Some(need) = &it.need else { continue };
        if it.pre_error.is_some() {
            continue;
        }
        let slot = match &it.sha {
            Some(h) => match by_sha.get(h) {
                Some(&j) => {
                    stats.copies += 1;
                    j
                }
                None => {
                    by_sha.insert(h.clone(), jobs_list.len());
                    jobs_list.push(Job {
                        members: Vec::new(),
                        rules: Some(Vec::new()),
                    });
                    jobs_list.len() - 1
                }
            },
            None => {
                jobs_list.push(Job {
                    members: Vec::new(),
                    rules: Some(Vec::new()),
                });
                jobs_list.len() - 1
            }
        };
        let job = &mut jobs_list[slot];
        job.members.push(i);
        match (need, &mut job.rules) {
            (None, r) => *r = None,
            (Some(n), Some(r)) => {
                for x in n {
                    if !r.contains(x) {
                        r.push(x.clone());
                    }
                }
            }
            (Some(_), None) => {}
        }
    }
    stats.scanned = jobs_list.len();

    let process = match args.isolate {
        Isolate::Process => true,
        Isolate::Thread => false,
        Isolate::Auto => args.timeout.is_some() || jobs_list.len() > 1,
    };
    if !process && args.timeout.is_some_and(|t| t > 0.0) {
        return Err(err(
            "vmtriage::args",
            "drop --isolate thread, or --timeout",
            "--timeout needs worker processes (--isolate process): a thread cannot be stopped"
                .into(),
        ));
    }
    let timeout = match args.timeout.unwrap_or(600.0) {
        t if t > 0.0 => Some(Duration::from_secs_f64(t)),
        _ => None,
    };
    let exe = args
        .worker_exe
        .clone()
        .or_else(|| std::env::var_os("VMTRIAGE_WORKER_EXE").map(PathBuf::from))
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("vmtriage"));
    let mut wargs: Vec<String> = vec![
        "scan".into(),
        "--bulk-worker".into(),
        "--max-memory".into(),
        max_memory.to_string(),
    ];
    if let Some(r) = &args.rules {
        wargs.extend(["--rules".into(), r.to_string_lossy().into_owned()]);
    }
    for p in &args.params {
        wargs.extend(["--param".into(), p.clone()]);
    }
    if let Some(v) = &args.vmlinux {
        wargs.extend(["--vmlinux".into(), v.to_string_lossy().into_owned()]);
    }
    for d in &args.debuginfo_dirs {
        wargs.extend(["--debuginfo-dir".into(), d.to_string_lossy().into_owned()]);
    }

    // Outcomes per item, printed in input order.
    let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
    let mut printed = 0usize;
    for e in &input_errors {
        stats.errors += 1;
        if let Some(c) = &mut conn {
            let o = Outcome {
                error: Some(("open".into(), e.message.clone())),
                ..Outcome::default()
            };
            let run = db::Run {
                id: &run_id,
                pack_hash: &phash,
                versions: &versions,
            };
            db::store(c, &run, &e.path.to_string_lossy(), None, -1, 0, &o, true).map_err(dberr)?;
        }
        if !args.quiet {
            print_error(
                out,
                args.format,
                &e.path.to_string_lossy(),
                "open",
                &e.message,
            );
        }
    }
    for (i, it) in items.iter().enumerate() {
        if let Some((stage, msg)) = &it.pre_error {
            outcomes[i] = Some(Outcome {
                error: Some((stage.clone(), msg.clone())),
                ..Outcome::default()
            });
        } else if it.need.is_none() {
            stats.unchanged += 1;
            let o = match &conn {
                Some(c) => db::load_outcome(c, &it.path).map_err(dberr)?,
                None => None,
            };
            outcomes[i] = Some(o.unwrap_or_default());
        }
    }

    let pb = bar(jobs_list.len(), "scanning");
    let cache = DebugCache::new(args.vmlinux.clone(), args.debuginfo_dirs.clone());
    let queue = Mutex::new((0..jobs_list.len()).collect::<VecDeque<_>>());
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Outcome)>();
    let workers_started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut findings_so_far = 0usize;
    // (errors, findings, worst severity) over every file, as printed
    // (errors, findings, worst severity, partial dumps)
    let mut tally: (usize, usize, Option<Severity>, usize) = (0, 0, None, 0);
    let mut result: Result<(), Report> = Ok(());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(jobs_list.len()) {
            let tx = tx.clone();
            let (queue, jobs_list, items, pack, cache) =
                (&queue, &jobs_list, &items, &pack, &cache);
            let (exe, wargs, ws) = (exe.clone(), wargs.clone(), workers_started.clone());
            s.spawn(move || {
                let mut wp = process.then(|| WorkerProc::new(exe, wargs));
                loop {
                    let Some(j) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        break;
                    };
                    let job = &jobs_list[j];
                    let path = PathBuf::from(&items[job.members[0]].path);
                    let o = match &mut wp {
                        Some(w) => w.call(
                            &Request {
                                path,
                                rules: job.rules.clone(),
                            },
                            timeout,
                        ),
                        None => worker::scan_one_guarded(&path, pack, job.rules.as_deref(), cache),
                    };
                    if tx.send((j, o)).is_err() {
                        break;
                    }
                }
                if let Some(w) = &wp {
                    ws.fetch_add(w.spawned, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        drop(tx);
        let mut flush = |outcomes: &mut Vec<Option<Outcome>>, out: &mut dyn Write| {
            while printed < items.len() {
                let Some(o) = outcomes[printed].take() else {
                    break;
                };
                if o.error.is_some() {
                    tally.0 += 1;
                } else {
                    tally.3 += usize::from(!o.partial.is_empty());
                    tally.1 += o.findings.len();
                    for f in &o.findings {
                        tally.2 = tally.2.max(Some(f.severity));
                    }
                }
                if !args.quiet {
                    pb.suspend(|| print_outcome(out, args.format, &pack, &items[printed].path, &o));
                }
                printed += 1;
            }
        };
        flush(&mut outcomes, out);
        for (j, o) in rx {
            let job = &jobs_list[j];
            stats.rule_evaluations += o.evaluated.len();
            if o.error.is_none() {
                findings_so_far += o.findings.len();
            }
            if let Some(c) = &mut conn {
                let run = db::Run {
                    id: &run_id,
                    pack_hash: &phash,
                    versions: &versions,
                };
                for &m in &job.members {
                    let it = &items[m];
                    match db::store(
                        c,
                        &run,
                        &it.path,
                        it.sha.as_deref(),
                        it.size,
                        it.mtime,
                        &o,
                        it.full,
                    ) {
                        Ok(n) => stats.new_fingerprints += n,
                        Err(e) => {
                            if result.is_ok() {
                                result = Err(dberr(e));
                            }
                        }
                    }
                }
            }
            // A partial rescan printed in full: the stored rows of the other rules too.
            for &m in &job.members {
                let o2 = match (&conn, job.rules.is_some() && o.error.is_none()) {
                    (Some(c), true) => db::load_outcome(c, &items[m].path)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| o.clone()),
                    _ => o.clone(),
                };
                outcomes[m] = Some(o2);
            }
            pb.set_message(format!("findings {findings_so_far}"));
            pb.inc(1);
            flush(&mut outcomes, out);
        }
        flush(&mut outcomes, out);
    });
    pb.finish_and_clear();
    result?;
    stats.workers_started = workers_started.load(std::sync::atomic::Ordering::Relaxed);
    stats.debug_opened = cache.opened.load(std::sync::atomic::Ordering::Relaxed);

    stats.errors += tally.0;
    stats.findings = tally.1;
    stats.worst = tally.2;
    stats.partial = tally.3;
    finish(stats, &mut conn, &run_id, t0, args)
}

fn finish(
    mut stats: ScanStats,
    conn: &mut Option<rusqlite::Connection>,
    run_id: &str,
    t0: Instant,
    args: &ScanArgs,
) -> Result<ScanStats, Report> {
    let dberr = |e: rusqlite::Error| err("vmtriage::db", "", format!("database: {e}"));
    stats.seconds = t0.elapsed().as_secs_f64();
    if let Some(c) = conn {
        c.execute(
            "UPDATE runs SET finished_at = ?2, dumps_seen = dumps_seen + ?3, dumps_scanned = dumps_scanned + ?4,
                 dumps_unchanged = dumps_unchanged + ?5, errors = errors + ?6 WHERE id = ?1",
            rusqlite::params![
                run_id,
                db::now(),
                stats.seen as i64,
                stats.scanned as i64,
                stats.unchanged as i64,
                stats.errors as i64
            ],
        )
        .map_err(dberr)?;
    }
    if args.db.is_some() || stats.seen > 1 {
        eprintln!(
            "{} file(s): {} scanned, {} copies, {} unchanged, {} error(s); {} finding(s), {} new bucket(s); {:.2}s",
            stats.seen,
            stats.scanned,
            stats.copies,
            stats.unchanged,
            stats.errors,
            stats.findings,
            stats.new_fingerprints,
            stats.seconds
        );
    }
    Ok(stats)
}

fn stage_help(stage: &str) -> (&'static str, &'static str) {
    match stage {
        "open" => ("vmtriage::dump", "vmtriage reads ELF vmcores (/proc/vmcore copies, makedumpfile -E, QEMU dump-guest-memory), kdump-compressed files and makedumpfile flattened streams. If the file was cut short, copy it again; if it is compressed as a whole (.gz, .xz), decompress it first."),
        "debuginfo" => ("vmtriage::debuginfo", "pass the debug vmlinux of exactly the kernel that crashed with --vmlinux, or a --debuginfo-dir holding it (Debian: linux-image-RELEASE-dbg)"),
        "kernel" => ("vmtriage::kernel", "check that the vmlinux is the debug image of the dump's kernel (`vmtriage info DUMP` prints its release and build-id)"),
        "timeout" => ("vmtriage::timeout", "raise --timeout, or scan this dump alone to see where it spends its time"),
        "crash" => ("vmtriage::crash", "raise --max-memory, or scan this dump alone (--isolate thread) to see the failure"),
        _ => ("vmtriage::scan", "scan this dump alone to see the failure"),
    }
}

fn print_error(out: &mut dyn Write, f: OutFormat, path: &str, stage: &str, msg: &str) {
    match f {
        OutFormat::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"dump": path, "error": msg, "stage": stage})
            );
        }
        OutFormat::Text => {
            let (code, help) = stage_help(stage);
            eprintln!("{:?}", err(code, help, msg.to_string()));
        }
    }
}

fn print_outcome(out: &mut dyn Write, f: OutFormat, pack: &RulePack, path: &str, o: &Outcome) {
    if let Some((stage, msg)) = &o.error {
        print_error(out, f, path, stage, msg);
        return;
    }
    let rep = DumpReport {
        dump: path.to_string(),
        result: ScanResult {
            release: o.release.clone(),
            diagnoses: o.findings.clone(),
            errors: o
                .rule_errors
                .iter()
                .map(|(rule, message)| vmtriage_rules::pack::RuleRunError {
                    rule: rule.clone(),
                    message: message.clone(),
                })
                .collect(),
            skipped: pack
                .rules
                .iter()
                .filter(|r| !r.kernels.is_empty() && !version_matches(&r.kernels, &o.release))
                .map(|r| r.doc.id.clone())
                .collect(),
            partial: o.partial.clone(),
        },
    };
    let _ = match f {
        OutFormat::Json => writeln!(out, "{}", serde_json::to_string(&rep).unwrap_or_default()),
        OutFormat::Text => write!(out, "{}", diagnoses_text(&rep)),
    };
}

/// `vmtriage scan`: exit 0, 1 when a diagnosis is above info, 2 when a dump
/// could not be read, 3 when nothing else is to say but some dump could be
/// read only in part.
pub fn run_scan(args: ScanArgs) -> Result<ExitCode, Report> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let stats = scan_archive(&args, &mut lock)?;
    let _ = lock.flush();
    if args.bulk_worker {
        return Ok(ExitCode::SUCCESS);
    }
    if stats.errors > 0 {
        return Ok(ExitCode::from(2));
    }
    if stats.worst.is_some_and(|w| w > Severity::Info) {
        return Ok(ExitCode::from(1));
    }
    if stats.partial > 0 {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// `vmtriage report`: a summary of a results database.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The results database written by `vmtriage scan --db`.
    #[arg(long)]
    pub db: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
    /// Rows per table (buckets, errors).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// "New" means first seen in this run (default: the latest run).
    #[arg(long)]
    pub since_run: Option<String>,
}

pub mod report;

pub fn run_report(args: ReportArgs) -> Result<ExitCode, Report> {
    if !args.db.is_file() {
        return Err(err(
            "vmtriage::db",
            "scan first: vmtriage scan ARCHIVE --db results.sqlite",
            format!("no database at {}", args.db.display()),
        ));
    }
    let c = db::open(&args.db).map_err(|e| {
        err(
            "vmtriage::db",
            "",
            format!("cannot open {}: {e}", args.db.display()),
        )
    })?;
    let r = report::summary(&c, args.top, args.since_run.as_deref())
        .map_err(|e| err("vmtriage::db", "", format!("database: {e}")))?;
    match args.format {
        OutFormat::Json => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
        OutFormat::Text => print!("{}", report::summary_text(&r)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vmtriage db merge OUT SHARD...`: merge shard databases into one.
#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// The database to merge into (created when missing).
    pub out: PathBuf,
    /// Shard databases.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

pub fn run_merge(args: MergeArgs) -> Result<ExitCode, Report> {
    for p in &args.inputs {
        if !p.is_file() {
            return Err(err(
                "vmtriage::db",
                "pass the shard databases written by `scan --db`",
                format!("no database at {}", p.display()),
            ));
        }
    }
    let mut c = db::open(&args.out).map_err(|e| {
        err(
            "vmtriage::db",
            "",
            format!("cannot open {}: {e}", args.out.display()),
        )
    })?;
    let (n, dumps) = db::merge(&mut c, &args.inputs).map_err(|e| {
        err(
            "vmtriage::db",
            "are these results databases of `vmtriage scan --db`?",
            format!("merge: {e}"),
        )
    })?;
    eprintln!(
        "merged {n} database(s), {dumps} dump row(s) into {}",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
