//! The Slurm recipe, run for real: a throwaway one-node cluster (Debian's
//! slurmctld, slurmd and munge, `tests/support/slurm-cluster`) runs an
//! array job whose tasks each scan one shard into a shared PostgreSQL
//! (`tests/support/pg-cluster`); the database then holds exactly the rows
//! of one local scan.
//!
//! It starts root daemons, so it is not part of the default test run:
//!
//!     cargo test --release -p vmtriage --test slurm -- --ignored
//!
//! (or `VMTRIAGE_SLURM=1 cargo test …`).

mod common;
mod support;

use std::path::Path;
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use support::PgCluster;
use vmtriage_cli::bulk::pg::PgConn;

const TASKS: usize = 4;

/// The recipe: `sbatch --array=0-3` of a script that scans shard
/// `$SLURM_ARRAY_TASK_ID/4` into PostgreSQL under the job's run id.
fn array_job_into_postgres() -> Result<(), Failed> {
    let t = std::time::Instant::now();
    let pg = PgCluster::start()?;
    let slurm = support::Service::start("slurm-cluster")?;
    println!("clusters up in {:.1}s", t.elapsed().as_secs_f64());
    let dir = support::fresh_dir("slurm")?;
    let list = support::small_list(&dir, 12)?;
    let local = dir.join("local.sqlite");
    let mut c = support::cli_scan(&list, &local.to_string_lossy());
    c.args(["--jobs", "2"]);
    support::run_scan(c, false)?;
    let url = pg.database("slurm")?;
    let job = dir.join("scan.sbatch");
    std::fs::write(
        &job,
        format!(
            "#!/bin/bash
#SBATCH --array=0-{last} --cpus-per-task=1 --output={out}/task-%a.log
{exe} scan {list} --debuginfo-dir {kernels} --jobs \"$SLURM_CPUS_PER_TASK\" -q \\
    --shard \"$SLURM_ARRAY_TASK_ID/{TASKS}\" --run-id \"batch-$SLURM_ARRAY_JOB_ID\" \\
    --db '{url}'
rc=$?
# 1: findings, 3: a dump read in part; anything else failed
[ $rc -le 1 ] || [ $rc -eq 3 ]
",
            last = TASKS - 1,
            out = dir.display(),
            exe = env!("CARGO_BIN_EXE_vmtriage"),
            list = list.display(),
            kernels = support::kernels_dir().display(),
        ),
    )
    .map_err(|e| e.to_string())?;
    let t = std::time::Instant::now();
    let o = Command::new("sbatch")
        .arg("--wait")
        .arg("--parsable")
        .arg(&job)
        .env("SLURM_CONF", &slurm.out)
        .output()
        .map_err(|e| e.to_string())?;
    let logs: String = (0..TASKS)
        .map(|k| std::fs::read_to_string(dir.join(format!("task-{k}.log"))).unwrap_or_default())
        .collect();
    if !o.status.success() {
        return Err(format!(
            "the array job failed ({:?}): {}\n{logs}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        )
        .into());
    }
    let job_id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    println!(
        "array job {job_id} ({TASKS} tasks) done in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let server = PgConn::connect(&url).map_err(|e| e.message)?;
    support::diff(
        &support::content(&db_open(&local)?)?,
        &support::content(&server)?,
        ("one local scan", "the Slurm array job"),
    )?;
    use vmtriage_cli::bulk::sql::Sql;
    let runs = server
        .rows("SELECT id, dumps_seen FROM runs", &[])
        .map_err(|e| e.to_string())?;
    let want_run = format!("batch-{job_id}");
    let listed = std::fs::read_to_string(&list)
        .map_err(|e| e.to_string())?
        .lines()
        .count() as i64;
    if runs.len() != 1 || runs[0].text(0) != want_run || runs[0].int(1) != listed {
        return Err(format!("runs {runs:?}, want one {want_run} of {listed} dumps").into());
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn db_open(p: &Path) -> Result<rusqlite::Connection, Failed> {
    vmtriage_cli::bulk::db::open(p).map_err(|e| e.to_string().into())
}

fn main() {
    let args = Arguments::from_args();
    let opt_in = std::env::var_os("VMTRIAGE_SLURM").is_some_and(|v| v == "1");
    let trials = vec![
        Trial::test("slurm/array_job_into_postgres", array_job_into_postgres)
            .with_ignored_flag(!opt_in),
    ];
    libtest_mimic::run(&args, trials).exit();
}
