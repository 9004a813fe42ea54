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
pub mod execute;
pub mod fingerprint;
pub mod pg;
pub mod pg_tls;
pub mod plan;
pub mod sql;
pub mod store;
pub mod watch;
pub mod worker;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use miette::Report;
use sha2::{Digest, Sha256};
use vmtriage_rules::rule::{version_matches, Severity};
use vmtriage_rules::{RulePack, ScanResult, SkipReason, Skipped};

use crate::scan::{diagnoses_text, DumpReport, NotRun};
use plan::{Item, Job};
use store::{FileRow, Run, RunCounts, Store, StoreError};
use worker::{DebugCache, Outcome};

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
    #[arg(required_unless_present_any = ["bulk_worker", "watch"])]
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
    /// `none`: every dump read with its own symbols, types and unwind tables (kallsyms, BTF, ORC) even where a debug vmlinux is found; `auto` does so only when none is found; `dwarf` requires the debug vmlinux (an error row without one).
    #[arg(long, value_enum, default_value = "auto")]
    pub debuginfo: crate::session::DebugSource,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutFormat,
    /// Dumps scanned at once (default: the number of CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Store results in this database: a SQLite file, or a PostgreSQL server (postgres://USER@HOST/DB) shared by many scanners; dumps and rules unchanged since the last run are not scanned again.
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
    /// Watch this drop directory and scan each dump once its writer has finished (needs --db; runs until killed, or see --watch-exit-after, --watch-idle-exit).
    #[arg(long, requires = "db", conflicts_with = "dumps")]
    pub watch: Option<PathBuf>,
    /// With --watch: seconds a file's size and mtime must stay unchanged before it is scanned.
    #[arg(long, default_value_t = 60.0)]
    pub settle: f64,
    /// With --watch: exit after this many dumps were scanned.
    #[arg(long, requires = "watch")]
    pub watch_exit_after: Option<usize>,
    /// With --watch: exit after this many seconds with nothing scanned and nothing waiting to settle.
    #[arg(long, requires = "watch")]
    pub watch_idle_exit: Option<f64>,
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
            debuginfo: crate::session::DebugSource::Auto,
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
            watch: None,
            settle: 60.0,
            watch_exit_after: None,
            watch_idle_exit: None,
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
    /// Files of the rule pack that did not load (the other rules ran).
    pub rule_files_refused: usize,
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

/// The pack of the scan: the embedded one or a directory, with overrides.
/// A file that does not load is dropped: its coded errors are printed
/// (`report`; a bulk worker loads the same pack and stays silent) and the
/// other rules run; `RulePack::refused` names it, and the scan's exit status
/// is 2.
pub fn load_pack(
    rules: Option<&Path>,
    params: &[String],
    report: bool,
) -> Result<RulePack, Report> {
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
    if report && !diags.is_empty() {
        for d in &diags {
            eprintln!("{:?}", Report::new(d.clone()));
        }
        eprintln!(
            "{:?}",
            miette::miette!(
                code = "vmtriage::rules",
                help = "fix the files above (`vmtriage rules check` lists every error); the scan exits 2 while one is refused",
                "{} file(s) of the rule pack refused ({} error(s)); scanning with the other {} rule(s)",
                pack.refused.len(),
                diags.len(),
                pack.rules.len()
            )
        );
    }
    pack.override_params(params).map_err(|e| {
        let help = e.help();
        err("vmtriage::param", &help, e.to_string())
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
    let mut f = vmcore::open_regular(p)?;
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

/// What a run is: the pack's rule versions, its limits and this shard.
struct RunSetup {
    versions: BTreeMap<String, String>,
    pack_hash: String,
    max_memory: u64,
    /// Dumps scanned (and files hashed) at once.
    threads: usize,
    shard: Option<(u64, u64)>,
}

impl RunSetup {
    fn new(args: &ScanArgs, pack: &RulePack) -> Result<RunSetup, Report> {
        let versions = rule_versions(pack, args.rules.as_deref());
        let shard = match &args.shard {
            Some(s) => Some(
                discover::parse_shard(s)
                    .map_err(|e| err("vmtriage::args", "for example --shard 0/4", e))?,
            ),
            None => None,
        };
        execute::check_isolation(args)
            .map_err(|e| err("vmtriage::args", "drop --isolate thread, or --timeout", e))?;
        Ok(RunSetup {
            pack_hash: pack_hash(&versions),
            versions,
            max_memory: parse_size(&args.max_memory)
                .map_err(|e| err("vmtriage::args", "for example --max-memory 2G", e))?,
            threads: args
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .max(1),
            shard,
        })
    }

    fn run<'a>(&'a self, id: &'a str) -> Run<'a> {
        Run {
            id,
            pack_hash: &self.pack_hash,
            versions: &self.versions,
        }
    }
}

fn store_err(e: StoreError) -> Report {
    err(
        "vmtriage::db",
        "the results so far are kept (each dump's rows are written in one transaction): run the same scan again once the database is reachable",
        format!("database: {e}"),
    )
}

/// The results database of `--db`, if any: a SQLite file, or a
/// PostgreSQL server (`postgres://…`).
fn open_store(args: &ScanArgs) -> Result<Option<Box<dyn Store>>, Report> {
    let Some(p) = &args.db else {
        return Ok(None);
    };
    let conn = db::Target::of(p).open(false)?;
    Ok(Some(Box::new(db::SqlStore { conn })))
}

fn progress(show: bool, len: usize, what: &str) -> indicatif::ProgressBar {
    if !show {
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
}

/// The scan as a library call: output to `out`, counters back. A pipeline:
/// find the files and plan what each needs ([`plan`]), run the jobs
/// ([`execute`]), store and print each outcome as it arrives ([`Store`]).
pub fn scan_archive(args: &ScanArgs, out: &mut dyn Write) -> Result<ScanStats, Report> {
    let pack = load_pack(args.rules.as_deref(), &args.params, !args.bulk_worker)?;
    if args.bulk_worker {
        return serve_worker(args, &pack);
    }
    if let Some(dir) = &args.watch {
        watch::check_dir(dir)?;
    }
    let store = open_store(args)?;
    let mut stats = scan_with(args, &pack, store, out)?;
    stats.rule_files_refused = pack.refused.len();
    Ok(stats)
}

/// The scan with a given store (None: the results are only printed).
pub fn scan_with(
    args: &ScanArgs,
    pack: &RulePack,
    mut store: Option<Box<dyn Store>>,
    out: &mut dyn Write,
) -> Result<ScanStats, Report> {
    let t0 = Instant::now();
    let setup = RunSetup::new(args, pack)?;
    let cx = Context {
        args,
        setup: &setup,
        pack,
        show_progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        let shard = setup.shard.map(|(k, n)| format!("-{k}of{n}"));
        format!(
            "{}-{}{}",
            db::now(),
            std::process::id(),
            shard.unwrap_or_default()
        )
    });
    let run = setup.run(&run_id);
    if let Some(dir) = &args.watch {
        watch::check_dir(dir)?;
    }
    if let Some(s) = &mut store {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
        let shard = args.shard.as_deref().unwrap_or("all");
        s.begin_run(&run, shard, host.trim()).map_err(store_err)?;
    }
    if let Some(dir) = &args.watch {
        let stats = watch::watch(&cx, dir, store, run, out)?;
        eprintln!(
            "watch: {} dump(s) scanned, {} copies, {} unchanged, {} error(s); {} finding(s); {:.1}s",
            stats.scanned, stats.copies, stats.unchanged, stats.errors, stats.findings, stats.seconds
        );
        return Ok(stats);
    }
    let mut stats = ScanStats {
        run_id: run_id.clone(),
        ..ScanStats::default()
    };
    let found = discover::discover(&args.dumps);
    let planned = cx.plan(found, &mut store, &mut stats)?;
    let store = cx.execute(planned, store, run, &mut stats, out)?;
    finish(stats, store, &run_id, t0)
}

/// `scan --bulk-worker`: the worker side of `--isolate process`.
fn serve_worker(args: &ScanArgs, pack: &RulePack) -> Result<ScanStats, Report> {
    let cache = DebugCache::new(
        args.vmlinux.clone(),
        args.debuginfo_dirs.clone(),
        args.debuginfo,
    );
    let mem = parse_size(&args.max_memory).map_err(|e| err("vmtriage::args", "", e))?;
    worker::worker_loop(pack, &cache, mem)
        .map_err(|e| err("vmtriage::worker", "", e.to_string()))?;
    Ok(ScanStats::default())
}

/// What the stages of one scan share.
struct Context<'a> {
    args: &'a ScanArgs,
    setup: &'a RunSetup,
    pack: &'a RulePack,
    show_progress: bool,
}

/// The plan of a run: its files and what they need, the jobs, and the
/// inputs that are no dump at all.
struct Planned {
    items: Vec<Item>,
    jobs: Vec<Job>,
    input_errors: Vec<discover::InputError>,
}

impl Context<'_> {
    /// Finds this shard's dumps and plans what each needs: hashes the new
    /// and changed files, drops stored rows of rules no longer in the pack,
    /// one job per distinct content.
    fn plan(
        &self,
        found: (Vec<discover::Candidate>, Vec<discover::InputError>),
        store: &mut Option<Box<dyn Store>>,
        stats: &mut ScanStats,
    ) -> Result<Planned, Report> {
        let (mut files, input_errors) = found;
        if let Some((k, n)) = self.setup.shard {
            files.retain(|c| discover::shard_of(&c.shard_key, n) == k);
        }
        stats.seen = files.len() + input_errors.len();
        let known = match store {
            Some(s) => {
                let paths: Vec<String> =
                    files.iter().map(|c| discover::path_key(&c.path)).collect();
                Some(s.known(&paths).map_err(store_err)?)
            }
            None => None,
        };
        let versions = &self.setup.versions;
        let mut plan = plan::needs(&files, known.as_ref(), versions, self.args.retry_errors);
        // While a file of the pack is refused, its rules look removed:
        // their stored rows stay until it loads again.
        if let (Some(s), true) = (store, self.pack.refused.is_empty()) {
            for (p, gone) in &plan.forget {
                s.forget_rules(p, gone).map_err(store_err)?;
            }
        }
        if !plan.to_hash.is_empty() {
            let pb = progress(self.show_progress, plan.to_hash.len(), "hashing");
            stats.hashed = plan::hash(&mut plan.items, &plan.to_hash, self.setup.threads, &pb);
            pb.finish_and_clear();
        }
        let (jobs, copies) = plan::jobs(&plan.items);
        stats.copies = copies;
        stats.scanned = jobs.len();
        Ok(Planned {
            items: plan.items,
            jobs,
            input_errors,
        })
    }

    /// Runs the jobs; stores and prints each outcome as it arrives (printed
    /// in input order). Gives the store back.
    fn execute(
        &self,
        p: Planned,
        store: Option<Box<dyn Store>>,
        run: Run,
        stats: &mut ScanStats,
        out: &mut dyn Write,
    ) -> Result<Option<Box<dyn Store>>, Report> {
        let (args, setup) = (self.args, self.setup);
        let slots = execute::Slots::new(args, setup.threads, setup.max_memory, p.jobs.len());
        let cache = DebugCache::new(
            args.vmlinux.clone(),
            args.debuginfo_dirs.clone(),
            args.debuginfo,
        );
        let pb = progress(self.show_progress, p.jobs.len(), "scanning");
        let mut sink = Sink {
            store,
            run,
            print: Printer {
                out,
                format: args.format,
                quiet: args.quiet,
                pack: self.pack,
                next: 0,
                tally: Tally::default(),
            },
            outcomes: vec![None; p.items.len()],
            stats,
            failure: None,
        };
        sink.input_errors(&p.input_errors)?;
        sink.known_outcomes(&p.items)?;
        sink.flush(&p.items, &pb);
        let mut findings = 0;
        let started = slots.run(&p.jobs, &p.items, self.pack, &cache, |j, o| {
            if o.error.is_none() {
                findings += o.findings.len();
            }
            sink.take(&p.jobs[j], &p.items, o);
            pb.set_message(format!("findings {findings}"));
            pb.inc(1);
            sink.flush(&p.items, &pb);
        });
        pb.finish_and_clear();
        if let Some(e) = sink.failure {
            return Err(store_err(e));
        }
        let (tally, store) = (sink.print.tally, sink.store);
        stats.workers_started = started;
        stats.debug_opened = cache.opened.load(std::sync::atomic::Ordering::Relaxed);
        stats.errors += tally.errors;
        stats.findings = tally.findings;
        stats.worst = tally.worst;
        stats.partial = tally.partial;
        Ok(store)
    }
}

/// Over every file, as printed.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    errors: usize,
    findings: usize,
    worst: Option<Severity>,
    /// Dumps read in part.
    partial: usize,
}

/// Prints the outcomes in input order as they become available.
struct Printer<'a> {
    out: &'a mut dyn Write,
    format: OutFormat,
    quiet: bool,
    pack: &'a RulePack,
    /// The first item not printed yet.
    next: usize,
    tally: Tally,
}

/// Where outcomes go: the store, and the printer in input order.
struct Sink<'a> {
    store: Option<Box<dyn Store>>,
    run: Run<'a>,
    print: Printer<'a>,
    outcomes: Vec<Option<Outcome>>,
    stats: &'a mut ScanStats,
    /// The first failure of the store while outcomes arrive (the others
    /// are still printed).
    failure: Option<StoreError>,
}

impl Sink<'_> {
    /// Inputs that are no dump: an error row each.
    fn input_errors(&mut self, errors: &[discover::InputError]) -> Result<(), Report> {
        for e in errors {
            self.stats.errors += 1;
            let path = discover::path_key(&e.path);
            self.record_error(&path, e.stage, &e.message)?;
            if !self.print.quiet {
                print_error(
                    self.print.out,
                    self.print.format,
                    &path,
                    e.stage,
                    &e.message,
                );
            }
        }
        Ok(())
    }

    /// The error row of a file that was not scanned.
    fn record_error(&mut self, path: &str, stage: &str, msg: &str) -> Result<(), Report> {
        if let Some(s) = &mut self.store {
            let o = Outcome {
                error: Some((stage.into(), msg.into())),
                ..Outcome::default()
            };
            let file = FileRow {
                path,
                sha256: None,
                size: -1,
                mtime_ns: 0,
                evidence: &[],
            };
            s.record(&self.run, &file, &o, true).map_err(store_err)?;
        }
        Ok(())
    }

    /// The outcomes known before any scan: unreadable files, and unchanged
    /// ones as stored.
    fn known_outcomes(&mut self, items: &[Item]) -> Result<(), Report> {
        for (i, it) in items.iter().enumerate() {
            if let Some((stage, msg)) = &it.pre_error {
                // (stored too: a file the plan could not read has its row)
                self.record_error(&it.path, stage, msg)?;
                self.outcomes[i] = Some(Outcome {
                    error: Some((stage.clone(), msg.clone())),
                    ..Outcome::default()
                });
            } else if it.need.is_none() {
                self.stats.unchanged += 1;
                let o = match &self.store {
                    Some(s) => s.load(&it.path).map_err(store_err)?,
                    None => None,
                };
                self.outcomes[i] = Some(o.unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Stores a job's outcome for each of its files.
    fn take(&mut self, job: &Job, items: &[Item], o: Outcome) {
        self.stats.rule_evaluations += o.evaluated.len();
        if let Some(s) = &mut self.store {
            for &m in &job.members {
                let it = &items[m];
                let file = FileRow {
                    path: &it.path,
                    sha256: it.sha.as_deref(),
                    size: it.size,
                    mtime_ns: it.mtime,
                    evidence: &it.evidence,
                };
                match s.record(&self.run, &file, &o, it.full) {
                    Ok(n) => self.stats.new_fingerprints += n,
                    Err(e) => {
                        self.failure.get_or_insert(e);
                    }
                }
            }
        }
        // A partial rescan printed in full: the stored rows of the other rules too.
        // (A log is always read whole: its outcome is complete.)
        let reload = job.rules.is_some() && o.error.is_none() && o.kind.is_none();
        for &m in &job.members {
            let stored = match (&self.store, reload) {
                (Some(s), true) => s.load(&items[m].path).ok().flatten(),
                _ => None,
            };
            self.outcomes[m] = Some(stored.unwrap_or_else(|| o.clone()));
        }
    }

    /// Prints what can be printed in input order.
    fn flush(&mut self, items: &[Item], pb: &indicatif::ProgressBar) {
        let p = &mut self.print;
        while p.next < items.len() {
            let Some(o) = self.outcomes[p.next].take() else {
                break;
            };
            if o.error.is_some() {
                p.tally.errors += 1;
            } else {
                p.tally.partial += usize::from(!o.partial.is_empty());
                p.tally.findings += o.findings.len();
                for f in &o.findings {
                    p.tally.worst = p.tally.worst.max(Some(f.severity));
                }
            }
            if !p.quiet {
                pb.suspend(|| {
                    let it = &items[p.next];
                    print_outcome(p.out, p.format, p.pack, &it.path, &it.evidence, &o);
                });
            }
            p.next += 1;
        }
    }
}

fn finish(
    mut stats: ScanStats,
    store: Option<Box<dyn Store>>,
    run_id: &str,
    t0: Instant,
) -> Result<ScanStats, Report> {
    stats.seconds = t0.elapsed().as_secs_f64();
    let stored = store.is_some();
    if let Some(mut s) = store {
        let counts = RunCounts {
            seen: stats.seen,
            scanned: stats.scanned,
            unchanged: stats.unchanged,
            errors: stats.errors,
        };
        s.finish_run(run_id, counts).map_err(store_err)?;
    }
    if stored || stats.seen > 1 {
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
        "open" => ("vmtriage::dump", "vmtriage reads ELF vmcores (/proc/vmcore copies, makedumpfile -E, QEMU dump-guest-memory), kdump-compressed files and makedumpfile flattened streams, and kernel logs as text (dmesg output, vmcore-dmesg.txt, journalctl -k, syslog lines, console captures). If the file was cut short, copy it again; if it is compressed as a whole (.gz, .xz), decompress it first."),
        "read" => ("vmtriage::read", "the file has a dump's headers but the kernel's structures are not in it: a copy cut short (compare its size with the original's and copy it again) or a damaged dump; `vmtriage info DUMP` shows what its headers say"),
        "walk" => ("vmtriage::walk", "the archive walk is bounded (see README, 'What a hostile dump or rule file can do'): scan what it did not reach as inputs of their own"),
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
            // (named: in an archive, which dump it is; keys are escaped)
            let (code, help) = stage_help(stage);
            eprintln!("{:?}", err(code, help, format!("{path}: {msg}")));
        }
    }
}

fn print_outcome(
    out: &mut dyn Write,
    f: OutFormat,
    pack: &RulePack,
    path: &str,
    evidence_logs: &[String],
    o: &Outcome,
) {
    if let Some((stage, msg)) = &o.error {
        print_error(out, f, path, stage, msg);
        return;
    }
    // A rule not run for a reason of its own (a log's) keeps that reason;
    // the others the kernel range excludes are not run on this kernel.
    let mut skipped: Vec<Skipped> = pack
        .rules
        .iter()
        .filter(|r| !r.kernels.is_empty() && !version_matches(&r.kernels, &o.release))
        .filter(|r| !o.not_run.iter().any(|n| n.rule == r.doc.id))
        .map(|r| Skipped {
            rule: r.doc.id.clone(),
            reason: SkipReason::NotThisKernel,
        })
        .collect();
    skipped.extend(o.not_run.iter().filter_map(NotRun::skipped));
    let rep = DumpReport {
        kind: o.kind.clone(),
        not_run: o.not_run.clone(),
        log: o.log.clone(),
        evidence_logs: evidence_logs.to_vec(),
        ..DumpReport::of_dump(
            path.to_string(),
            o.title.clone(),
            o.signature.clone(),
            ScanResult {
                release: o.release.clone(),
                diagnoses: o.findings.clone(),
                errors: o.rule_errors.clone(),
                skipped,
                partial: o.partial.clone(),
                dump_title: None,
            },
        )
    };
    let _ = match f {
        OutFormat::Json => writeln!(out, "{}", serde_json::to_string(&rep).unwrap_or_default()),
        OutFormat::Text => write!(out, "{}", diagnoses_text(&rep)),
    };
}

/// `vmtriage scan`: exit 0, 1 when a diagnosis is above info, 2 when a dump
/// could not be read or a rule file was refused (the other rules ran), 3 when nothing else is to say but some dump could be
/// read only in part.
pub fn run_scan(args: ScanArgs) -> Result<ExitCode, Report> {
    let stdout = std::io::stdout();
    // Ends by SIGPIPE when the reader goes (`scan DIR | head`).
    let mut lock = crate::pipe::Quiet(stdout.lock());
    let stats = scan_archive(&args, &mut lock)?;
    let _ = lock.flush();
    if args.bulk_worker {
        return Ok(ExitCode::SUCCESS);
    }
    if stats.errors > 0 || stats.rule_files_refused > 0 {
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
    /// The results database written by `vmtriage scan --db`: a SQLite file or a postgres:// URL.
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
    /// Only the signatures no rule above info explains, largest first: what
    /// the knowledge base should learn next.
    #[arg(long)]
    pub unexplained: bool,
}

pub mod report;

pub fn run_report(args: ReportArgs) -> Result<ExitCode, Report> {
    let c = db::Target::of(&args.db).open(true)?;
    let c = c.as_ref();
    let db_err = |e: StoreError| err("vmtriage::db", "", format!("database: {e}"));
    if args.unexplained {
        let rows = report::signatures(c, args.top, true).map_err(db_err)?;
        match args.format {
            OutFormat::Json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                )
            }
            OutFormat::Text => print!("{}", report::signatures_text(&rows)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let r = report::summary(c, args.top, args.since_run.as_deref()).map_err(db_err)?;
    match args.format {
        OutFormat::Json => println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default()),
        OutFormat::Text => print!("{}", report::summary_text(&r)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `vmtriage db merge OUT SHARD...`: merge shard databases into one.
#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// The database to merge into (a SQLite file, created when missing, or a postgres:// URL).
    pub out: PathBuf,
    /// Shard databases (SQLite files or postgres:// URLs).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

pub fn run_merge(args: MergeArgs) -> Result<ExitCode, Report> {
    let inputs: Vec<db::Target> = args.inputs.iter().map(|p| db::Target::of(p)).collect();
    let out = db::Target::of(&args.out);
    // Every input is checked before anything is written.
    let mut conns = Vec::new();
    for t in &inputs {
        conns.push(t.open(true).map_err(|e| {
            e.wrap_err(
                "pass the results databases written by `scan --db` (files or postgres:// URLs)",
            )
        })?);
    }
    let o = out.open(false)?;
    let mut dumps = 0;
    for (t, c) in inputs.iter().zip(&conns) {
        dumps += db::merge(o.as_ref(), c.as_ref()).map_err(|e| {
            err(
                "vmtriage::db",
                "are these results databases of `vmtriage scan --db`? What was merged before the failure is kept; merging again is safe",
                format!("merge of {}: {e}", t.describe()),
            )
        })?;
    }
    eprintln!(
        "merged {} database(s), {dumps} dump row(s) into {}",
        inputs.len(),
        out.describe()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use store::Known;

    /// A store that keeps what it is told, in memory.
    #[derive(Clone, Default)]
    struct Memory(Rc<RefCell<Vec<String>>>);

    impl Store for Memory {
        fn known(&self, _: &[String]) -> Result<BTreeMap<String, Known>, StoreError> {
            self.0.borrow_mut().push("known".into());
            Ok(BTreeMap::new())
        }
        fn begin_run(&mut self, run: &Run, shard: &str, _: &str) -> Result<(), StoreError> {
            let line = format!("begin {} {shard} {} rules", run.id, run.versions.len());
            self.0.borrow_mut().push(line);
            Ok(())
        }
        fn forget_rules(&mut self, path: &str, _: &[String]) -> Result<(), StoreError> {
            self.0.borrow_mut().push(format!("forget {path}"));
            Ok(())
        }
        fn record(
            &mut self,
            _: &Run,
            file: &FileRow,
            o: &Outcome,
            full: bool,
        ) -> Result<usize, StoreError> {
            let stage = o.error.as_ref().map(|e| e.0.as_str());
            let line = format!("record {} {stage:?} full={full}", file.path);
            self.0.borrow_mut().push(line);
            Ok(0)
        }
        fn load(&self, path: &str) -> Result<Option<Outcome>, StoreError> {
            self.0.borrow_mut().push(format!("load {path}"));
            Ok(None)
        }
        fn finish_run(&mut self, run_id: &str, n: RunCounts) -> Result<(), StoreError> {
            let line = format!("finish {run_id} seen={} errors={}", n.seen, n.errors);
            self.0.borrow_mut().push(line);
            Ok(())
        }
    }

    /// `scan --rules` with a file that does not load runs the others: the
    /// pack loads without it and names it (the exit status is then 2).
    #[test]
    fn a_refused_rule_file_drops_only_itself() {
        let dir = std::env::temp_dir().join(format!("vmtriage-refused-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = "id: TEST-0001\ntitle: t\nseverity: low\nsummary: s\nmessage: m\nmatch: count(tasks) > 0\n";
        std::fs::write(dir.join("good.yaml"), good).unwrap();
        let deep = format!(
            "{}tags: {}x{}\n",
            good.replace("0001", "0002"),
            "[".repeat(50),
            "]".repeat(50)
        );
        std::fs::write(dir.join("deep.yaml"), deep).unwrap();
        let pack = load_pack(Some(&dir), &[], false).expect("the pack loads without the bad file");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(pack.rules.len(), 1);
        assert_eq!(pack.rules[0].doc.id, "TEST-0001");
        assert_eq!(pack.refused, [dir.join("deep.yaml").display().to_string()]);
    }

    /// The scan reaches its results only through the `Store` it is given.
    #[test]
    fn another_store_plugs_in() {
        let missing = std::env::temp_dir().join("vmtriage-no-such-dump");
        let mut args = ScanArgs::new(vec![missing.clone()]);
        args.run_id = Some("r1".into());
        args.quiet = true;
        let pack = load_pack(None, &[], true).unwrap();
        let mem = Memory::default();
        let stats = scan_with(&args, &pack, Some(Box::new(mem.clone())), &mut Vec::new()).unwrap();
        assert_eq!(stats.errors, 1);
        let calls = mem.0.borrow().clone();
        assert_eq!(
            calls,
            [
                format!("begin r1 all {} rules", pack.rules.len()),
                "known".into(),
                format!("record {} Some(\"open\") full=true", missing.display()),
                "finish r1 seen=1 errors=1".into(),
            ]
        );
    }
}
