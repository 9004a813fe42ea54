//! Running a plan's jobs on `--jobs` slots — worker processes with a time
//! and memory limit, or threads — and handing each outcome back, on the
//! calling thread, as it arrives.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use vmtriage_rules::RulePack;

use super::plan::{Item, Job};
use super::worker::{self, DebugCache, Outcome, Request, WorkerProc};
use super::{Isolate, ScanArgs};

pub struct Slots {
    /// How many jobs run at once.
    pub count: usize,
    /// Worker processes (else threads of this process).
    pub process: bool,
    timeout: Option<Duration>,
    exe: PathBuf,
    worker_args: Vec<String>,
}

/// `--timeout` needs worker processes: a thread cannot be stopped.
pub fn check_isolation(args: &ScanArgs) -> Result<(), String> {
    if args.isolate == Isolate::Thread && args.timeout.is_some_and(|t| t > 0.0) {
        return Err(
            "--timeout needs worker processes (--isolate process): a thread cannot be stopped"
                .into(),
        );
    }
    Ok(())
}

impl Slots {
    /// The slots for `jobs` jobs: processes when asked, or by default when
    /// more than one dump is scanned or a timeout is given.
    pub fn new(args: &ScanArgs, count: usize, max_memory: u64, jobs: usize) -> Slots {
        let process = match args.isolate {
            Isolate::Process => true,
            Isolate::Thread => false,
            Isolate::Auto => args.timeout.is_some() || jobs > 1,
        };
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
        Slots {
            count,
            process,
            timeout,
            exe,
            worker_args: worker_args(args, max_memory),
        }
    }

    /// Runs every job, calling `each(job, outcome)` on this thread as the
    /// outcomes arrive. Returns how many worker processes were started.
    pub fn run(
        &self,
        jobs: &[Job],
        items: &[Item],
        pack: &RulePack,
        cache: &DebugCache,
        mut each: impl FnMut(usize, Outcome),
    ) -> usize {
        let queue = Mutex::new((0..jobs.len()).collect::<VecDeque<_>>());
        let started = AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Outcome)>();
        std::thread::scope(|s| {
            for _ in 0..self.count.min(jobs.len()) {
                let tx = tx.clone();
                let (queue, started) = (&queue, &started);
                s.spawn(move || {
                    let mut wp = self
                        .process
                        .then(|| WorkerProc::new(self.exe.clone(), self.worker_args.clone()));
                    loop {
                        let Some(j) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                        else {
                            break;
                        };
                        let job = &jobs[j];
                        let path = items[job.members[0]].file.clone();
                        let o = match &mut wp {
                            Some(w) => w.call(
                                &Request {
                                    path,
                                    rules: job.rules.clone(),
                                },
                                self.timeout,
                            ),
                            None => {
                                worker::scan_one_guarded(&path, pack, job.rules.as_deref(), cache)
                            }
                        };
                        if tx.send((j, o)).is_err() {
                            break;
                        }
                    }
                    if let Some(w) = &wp {
                        started.fetch_add(w.spawned, Ordering::Relaxed);
                    }
                });
            }
            drop(tx);
            for (j, o) in rx {
                each(j, o);
            }
        });
        started.load(Ordering::Relaxed)
    }
}

/// The command line of a worker process: the scan's rules, parameters and
/// debug info, and its memory limit.
fn worker_args(args: &ScanArgs, max_memory: u64) -> Vec<String> {
    let mut w: Vec<String> = vec![
        "scan".into(),
        "--bulk-worker".into(),
        "--max-memory".into(),
        max_memory.to_string(),
    ];
    if let Some(r) = &args.rules {
        w.extend(["--rules".into(), r.to_string_lossy().into_owned()]);
    }
    for p in &args.params {
        w.extend(["--param".into(), p.clone()]);
    }
    if let Some(v) = &args.vmlinux {
        w.extend(["--vmlinux".into(), v.to_string_lossy().into_owned()]);
    }
    for d in &args.debuginfo_dirs {
        w.extend(["--debuginfo-dir".into(), d.to_string_lossy().into_owned()]);
    }
    if args.debuginfo != crate::session::DebugSource::Auto {
        let v =
            clap::ValueEnum::to_possible_value(&args.debuginfo).map(|v| v.get_name().to_string());
        w.extend(["--debuginfo".into(), v.unwrap_or_default()]);
    }
    w
}
