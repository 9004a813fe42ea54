//! `vmtriage scan --watch DIR --db …`: a drop directory scanned
//! continuously. A kdump server writes a dump for minutes; a file is taken
//! once its size and mtime have not changed for the settle interval
//! (`--settle`), no process on this machine has it open for writing (read
//! from /proc, where permitted), and its name does not say it is unfinished
//! (`*incomplete*`: kdump-tools' `dump-incomplete`, RHEL's
//! `vmcore-incomplete`, renamed when complete). Settled files go through
//! the scan's pipeline in batches under one run; what the store knows
//! (path, size, mtime, rule versions) is not scanned again, so a watcher
//! killed and started again loses and repeats nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::Report;

use super::discover::{self, Candidate};
use super::store::{Run, RunCounts, Store};
use super::{err, mtime_ns, store_err, Context, ScanStats};

/// When the watcher stops by itself (else it runs until killed).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    /// After this many dumps were scanned.
    pub after: Option<usize>,
    /// After this long with nothing to scan and nothing pending.
    pub idle: Option<Duration>,
}

/// A file seen in the drop directory and not scanned yet.
struct Pending {
    size: u64,
    mtime: i64,
    /// Since when size and mtime have been as they are (this process's clock).
    since: Instant,
}

/// What one look at the drop directory found.
#[derive(Default)]
struct Listing {
    /// Regular files (not hidden, not named unfinished): path, key, size, mtime.
    files: Vec<(PathBuf, OsString, u64, i64)>,
    /// Entries that are no regular file (a FIFO, a device), and directories
    /// past the depth bound: error rows, never opened.
    odd: Vec<discover::InputError>,
    /// Each directory and file (device, inode) once: a link loop ends, a
    /// file behind two names is one dump.
    seen: HashSet<(u64, u64)>,
}

fn listing(root: &Path, dir: &Path, depth: usize, out: &mut Listing) {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    // real entries before links: a dump's own name wins
    entries.sort_by_key(|p| (p.is_symlink(), p.clone()));
    for p in entries {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') || name.contains("incomplete") {
            continue;
        }
        // (an entry that went away meanwhile, renamed when complete: not listed)
        let Ok(md) = std::fs::metadata(&p) else {
            continue;
        };
        if !out.seen.insert((md.dev(), md.ino())) {
            continue;
        }
        if md.is_dir() {
            if depth >= discover::Limits::DEPTH {
                out.odd.push(discover::InputError {
                    path: p,
                    stage: "walk",
                    message: format!(
                        "directory not watched: more than {} levels below the drop directory",
                        discover::Limits::DEPTH
                    ),
                });
            } else {
                listing(root, &p, depth + 1, out);
            }
        } else if md.is_file() {
            let key = p.strip_prefix(root).unwrap_or(&p).as_os_str().to_owned();
            out.files.push((p, key, md.len(), mtime_ns(&md)));
        } else {
            out.odd.push(discover::InputError {
                message: discover::not_regular(&md),
                path: p,
                stage: "open",
            });
        }
    }
}

/// Of `paths`, those some process has open for writing (by /proc; the
/// processes this user may not look at are not seen).
fn open_for_writing(paths: &HashSet<PathBuf>) -> HashSet<PathBuf> {
    let mut busy = HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return busy;
    };
    for p in procs.flatten() {
        let pid = p.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if !paths.contains(&target) {
                continue;
            }
            let info = p.path().join("fdinfo").join(fd.file_name());
            let flags = std::fs::read_to_string(info).ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|f| i64::from_str_radix(f.trim(), 8).ok())
            });
            // O_WRONLY or O_RDWR (unknown: assume writing)
            if flags.is_none_or(|f| f & 3 != 0) {
                busy.insert(target);
            }
        }
    }
    busy
}

/// `--watch DIR` names a directory (checked before a run is recorded).
pub(super) fn check_dir(dir: &Path) -> Result<(), Report> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(err(
        "vmtriage::args",
        "pass the directory the dumps are written to",
        format!("--watch {}: not a directory", dir.display()),
    ))
}

/// The watch loop: batches of settled files through the pipeline until a
/// stop condition holds (or forever).
pub(super) fn watch(
    cx: &Context,
    dir: &Path,
    mut store: Option<Box<dyn Store>>,
    run: Run,
    out: &mut dyn Write,
) -> Result<ScanStats, Report> {
    let settle = Duration::from_secs_f64(cx.args.settle.max(0.0));
    let poll = (settle / 5).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let stop = Stop {
        after: cx.args.watch_exit_after,
        idle: cx.args.watch_idle_exit.map(Duration::from_secs_f64),
    };
    let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut total = ScanStats {
        run_id: run.id.to_string(),
        ..ScanStats::default()
    };
    // What this process has handled (scanned, or found known and unchanged).
    let mut done: HashMap<PathBuf, (u64, i64)> = HashMap::new();
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    let mut reported: HashSet<PathBuf> = HashSet::new();
    let mut last_activity = Instant::now();
    let t0 = Instant::now();
    loop {
        let mut found = Listing::default();
        if let Ok(md) = std::fs::metadata(&root) {
            use std::os::unix::fs::MetadataExt;
            found.seen.insert((md.dev(), md.ino()));
        }
        listing(&root, &root, 0, &mut found);
        // each odd entry's error row once
        let odd: Vec<discover::InputError> = found
            .odd
            .into_iter()
            .filter(|e| reported.insert(e.path.clone()))
            .collect();
        let mut keys = BTreeMap::new();
        for (p, key, size, mtime) in found.files {
            if done.get(&p) == Some(&(size, mtime)) {
                continue;
            }
            keys.insert(p.clone(), key);
            match pending.get_mut(&p) {
                Some(q) if q.size == size && q.mtime == mtime => {}
                _ => {
                    pending.insert(
                        p,
                        Pending {
                            size,
                            mtime,
                            since: Instant::now(),
                        },
                    );
                }
            }
        }
        pending.retain(|p, _| keys.contains_key(p));
        let settled: HashSet<PathBuf> = pending
            .iter()
            .filter(|(_, q)| q.since.elapsed() >= settle)
            .map(|(p, _)| p.clone())
            .collect();
        let busy = if settled.is_empty() {
            HashSet::new()
        } else {
            open_for_writing(&settled)
        };
        let mut batch = Vec::new();
        for p in settled {
            if busy.contains(&p) {
                // Still being written: its clock starts again.
                if let Some(q) = pending.get_mut(&p) {
                    q.since = Instant::now();
                }
                continue;
            }
            let q = pending.remove(&p).expect("settled files are pending");
            done.insert(p.clone(), (q.size, q.mtime));
            // What lives beside dumps (a vmlinux, a log) is no dump.
            if discover::sniff(&p).is_ok_and(discover::provably_not_dump) {
                continue;
            }
            // (--shard: the plan keeps this watcher's share)
            let key = keys.remove(&p).unwrap_or_default();
            batch.push(Candidate {
                path: p,
                shard_key: key,
                sniff: None,
                evidence: Vec::new(),
            });
        }
        if !batch.is_empty() || !odd.is_empty() {
            batch.sort_by(|a, b| a.path.cmp(&b.path));
            let mut stats = ScanStats::default();
            let planned = cx.plan((batch, odd), &mut store, &mut stats)?;
            store = cx.execute(planned, store, run, &mut stats, out)?;
            if let Some(s) = &mut store {
                let counts = RunCounts {
                    seen: stats.seen,
                    scanned: stats.scanned,
                    unchanged: stats.unchanged,
                    errors: stats.errors,
                };
                s.finish_run(run.id, counts).map_err(store_err)?;
            }
            if stats.scanned + stats.copies > 0 {
                last_activity = Instant::now();
                eprintln!(
                    "watch: {} file(s): {} scanned, {} copies, {} unchanged, {} error(s); {} finding(s)",
                    stats.seen,
                    stats.scanned,
                    stats.copies,
                    stats.unchanged,
                    stats.errors,
                    stats.findings
                );
            }
            add(&mut total, &stats);
        }
        if stop
            .after
            .is_some_and(|n| total.scanned + total.copies >= n)
        {
            break;
        }
        if pending.is_empty() && stop.idle.is_some_and(|d| last_activity.elapsed() >= d) {
            break;
        }
        std::thread::sleep(poll);
    }
    total.seconds = t0.elapsed().as_secs_f64();
    Ok(total)
}

fn add(total: &mut ScanStats, s: &ScanStats) {
    total.seen += s.seen;
    total.scanned += s.scanned;
    total.unchanged += s.unchanged;
    total.copies += s.copies;
    total.hashed += s.hashed;
    total.errors += s.errors;
    total.findings += s.findings;
    total.new_fingerprints += s.new_fingerprints;
    total.rule_evaluations += s.rule_evaluations;
    total.workers_started += s.workers_started;
    total.partial += s.partial;
    total.worst = total.worst.max(s.worst);
}
