//! Where a bulk scan keeps its results: what it knows of each dump (to plan
//! the next run), each dump's outcome as it arrives, and the runs.
//! [`super::db::SqlStore`] implements it over SQL ([`super::sql::Sql`]):
//! a SQLite file, or a PostgreSQL server shared by a fleet of scanners
//! ([`super::pg`]); the scan does not change.

use std::collections::BTreeMap;

use super::worker::Outcome;

/// What the store knows of a path.
#[derive(Debug, Clone)]
pub struct Known {
    pub sha256: Option<String>,
    pub size: i64,
    pub mtime_ns: i64,
    pub status: String,
    /// The version of each rule that ran on it.
    pub rules: BTreeMap<String, String>,
}

/// The run outcomes are stored under.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub id: &'a str,
    pub pack_hash: &'a str,
    pub versions: &'a BTreeMap<String, String>,
}

/// A file as the store identifies it.
pub struct FileRow<'a> {
    pub path: &'a str,
    pub sha256: Option<&'a str>,
    pub size: i64,
    pub mtime_ns: i64,
    /// The logs kept as a dump's evidence (keys), none for most.
    pub evidence: &'a [String],
}

/// What one process did in a run (shards of a run add theirs up).
#[derive(Debug, Clone, Copy, Default)]
pub struct RunCounts {
    pub seen: usize,
    pub scanned: usize,
    pub unchanged: usize,
    pub errors: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", super::pg::error_text(.0))]
    Postgres(#[from] postgres::Error),
    /// The database is not one this version can use (newer schema, not a
    /// results database).
    #[error("{0}")]
    Schema(String),
}

impl StoreError {
    /// SQLite's "database is locked": another connection holds the lock.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }

    /// A failure that running the same transaction again may not meet: a
    /// deadlock the server broke, a serialization conflict.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            }),
            _ => false,
        }
    }
}

pub trait Store {
    /// What the store knows of these paths (those it has seen), with the
    /// rule versions run on each.
    fn known(&self, paths: &[String]) -> Result<BTreeMap<String, Known>, StoreError>;
    /// Records the start of a run (a run id already there is kept: the
    /// shards of one batch share it).
    fn begin_run(&mut self, run: &Run, shard: &str, host: &str) -> Result<(), StoreError>;
    /// Drops the results of rules that are no longer in the pack.
    fn forget_rules(&mut self, path: &str, rules: &[String]) -> Result<(), StoreError>;
    /// Stores what a scan of one file produced: the rows of the rules in
    /// `outcome.evaluated` are replaced (all rows when `full`), others stay.
    /// Returns how many fingerprints were seen for the first time.
    fn record(
        &mut self,
        run: &Run,
        file: &FileRow,
        outcome: &Outcome,
        full: bool,
    ) -> Result<usize, StoreError>;
    /// The stored outcome of a path (every rule's findings), if any.
    fn load(&self, path: &str) -> Result<Option<Outcome>, StoreError>;
    /// Adds this process's counts to the run and marks it finished.
    fn finish_run(&mut self, run_id: &str, counts: RunCounts) -> Result<(), StoreError>;
}
