//! The results database (SQLite, bundled): dumps, findings, errors, which
//! rule versions ran on which dump, fingerprints (buckets) and runs.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

use super::fingerprint::fingerprint;
use vmtriage_rules::pack::RuleRunError;
use vmtriage_rules::{Diagnosis, Evidence, Fact};

use super::sql::{lock_path, transaction, Cell, Dialect, Row, Sql, Val};
use super::store::{FileRow, RunCounts, Store, StoreError};
pub use super::store::{Known, Run};
use super::worker::Outcome;

/// 2: a unique key on findings (path, rule, ord). 3: paths are keys
/// ([`super::discover::path_key`]: a backslash is doubled, a byte that is
/// not UTF-8 written `\xNN`), and a SQLite file says it is ours
/// ([`APPLICATION_ID`]).
pub const SCHEMA_VERSION: i64 = 4;

/// SQLite's `application_id` of a vmtriage results database ("vmtr").
pub const APPLICATION_ID: i64 = 0x766d_7472;

/// The columns that hold a dump's path.
const PATH_COLUMNS: [(&str, &str); 5] = [
    ("dumps", "path"),
    ("findings", "path"),
    ("errors", "path"),
    ("rule_runs", "path"),
    ("fingerprints", "first_path"),
];

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER,
    pack_hash TEXT NOT NULL, shard TEXT, host TEXT,
    dumps_seen INTEGER DEFAULT 0, dumps_scanned INTEGER DEFAULT 0,
    dumps_unchanged INTEGER DEFAULT 0, errors INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS dumps(
    path TEXT PRIMARY KEY, sha256 TEXT, size INTEGER, mtime_ns INTEGER,
    release TEXT, build_id TEXT, format TEXT,
    scanned_at INTEGER, duration_ms INTEGER, pack_hash TEXT,
    status TEXT NOT NULL, first_run TEXT, run_id TEXT,
    title TEXT, signature TEXT, title_kind TEXT, kind TEXT, evidence TEXT);
CREATE TABLE IF NOT EXISTS rule_runs(
    path TEXT NOT NULL, rule_id TEXT NOT NULL, rule_version TEXT NOT NULL, run_id TEXT,
    PRIMARY KEY(path, rule_id));
CREATE TABLE IF NOT EXISTS findings(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, rule_id TEXT NOT NULL,
    rule_version TEXT NOT NULL, severity TEXT NOT NULL, severity_rank INTEGER NOT NULL,
    title TEXT NOT NULL, message TEXT NOT NULL, evidence TEXT NOT NULL,
    references_json TEXT NOT NULL, fingerprint TEXT NOT NULL, ord INTEGER NOT NULL,
    run_id TEXT);
CREATE INDEX IF NOT EXISTS findings_path ON findings(path);
CREATE INDEX IF NOT EXISTS findings_fp ON findings(fingerprint);
CREATE TABLE IF NOT EXISTS errors(
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, rule_id TEXT, stage TEXT NOT NULL,
    message TEXT NOT NULL, run_id TEXT, at INTEGER);
CREATE INDEX IF NOT EXISTS errors_path ON errors(path);
CREATE TABLE IF NOT EXISTS fingerprints(
    fingerprint TEXT PRIMARY KEY, rule_id TEXT NOT NULL, first_run TEXT,
    first_seen INTEGER, first_path TEXT, label TEXT);
"#;

/// Opens (creating when missing) a SQLite results database. A file that
/// is no database, or one written by a newer vmtriage, is an error: it is
/// never replaced.
///
/// Scans started together open one new file together: switching it to WAL
/// and creating its tables can meet `SQLITE_BUSY` that SQLite reports at
/// once, without waiting in its busy handler; those opens are tried again
/// for as long as the busy timeout.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        match open_once(path) {
            Err(e) if e.is_busy() && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(250));
            }
            r => return r,
        }
    }
}

const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn open_once(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open(path)?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    // Before anything is written (WAL mode is written to the file's header).
    refuse_foreign(&c)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    init_schema(&c)?;
    Ok(c)
}

/// An arbitrary key for PostgreSQL's advisory lock around schema changes.
const SCHEMA_LOCK: i64 = 0x766d_7472_6961_6765;

/// Creates the tables and brings an older schema up to this version; a
/// newer one is refused (its rows would be misread).
pub fn init_schema(c: &dyn Sql) -> Result<(), StoreError> {
    let pg = c.dialect() == Dialect::Postgres;
    if pg {
        // Many shards start at once: one creates, the others wait.
        c.rows("SELECT pg_advisory_lock($1)", &[Val::Int(SCHEMA_LOCK)])?;
    }
    // SQLite: the version is read and the tables made under one write
    // lock, so two first opens do not both create.
    let r = if pg {
        migrate(c)
    } else {
        transaction(c, || migrate(c))
    };
    if pg {
        c.rows("SELECT pg_advisory_unlock($1)", &[Val::Int(SCHEMA_LOCK)])?;
    }
    r
}

/// Refuses a database that is not a vmtriage results database, before
/// anything is written to it: a SQLite file whose `application_id` names
/// another program, or any database with tables but none of ours (a
/// `meta` table with a schema version). An empty one is ours to fill.
fn refuse_foreign(c: &dyn Sql) -> Result<(), StoreError> {
    let refuse = |what: String| {
        StoreError::Schema(format!(
            "{} is not a vmtriage results database ({what}): nothing was written to it; pass a new file (or an empty database), or one written by `vmtriage scan --db`",
            c.describe()
        ))
    };
    let tables = match c.dialect() {
        Dialect::Sqlite => {
            let id = c.rows("PRAGMA application_id", &[])?;
            match id.first().map_or(0, |r| r.int(0)) {
                APPLICATION_ID => return Ok(()),
                0 => {}
                id => {
                    return Err(refuse(format!(
                        "its SQLite application_id is {id:#x}, another program's"
                    )))
                }
            }
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')
                 AND substr(name, 1, 7) <> 'sqlite_' ORDER BY name"
        }
        Dialect::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY 1"
        }
    };
    let tables: Vec<String> = c.rows(tables, &[])?.iter().map(|r| r.text(0)).collect();
    if tables.is_empty() || (tables.iter().any(|t| t == "meta") && schema_version(c)?.is_some()) {
        return Ok(());
    }
    let mut names = tables
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > 5 {
        names += &format!(" and {} more", tables.len() - 5);
    }
    Err(refuse(format!("it holds other tables: {names}")))
}

fn migrate(c: &dyn Sql) -> Result<(), StoreError> {
    refuse_foreign(c)?;
    let old = schema_version(c).ok().flatten();
    // No meta table yet: a new database.
    if let Some(v) = old {
        // Up to date: no DDL (on a server it would wait for, and deadlock
        // with, the writers of other shards).
        if v == SCHEMA_VERSION {
            return Ok(());
        }
        if v > SCHEMA_VERSION {
            return Err(StoreError::Schema(format!(
                "{} holds results of schema version {v}, newer than this vmtriage's ({SCHEMA_VERSION}): use a newer vmtriage, or another database",
                c.describe()
            )));
        }
    }
    c.batch(&c.dialect().schema(SCHEMA))?;
    add_columns(c)?;
    // Version 2: one row per finding of a rule in a dump, enforced.
    c.batch("CREATE UNIQUE INDEX IF NOT EXISTS findings_key ON findings(path, rule_id, ord)")?;
    // Version 3: paths as keys. Before, a path was stored as it was (a
    // name that is not UTF-8 got no row at all): only backslashes change.
    if old.is_some_and(|v| v < 3) {
        for (table, column) in PATH_COLUMNS {
            c.exec(
                &format!(
                    "UPDATE {table} SET {column} = replace({column}, $1, $2)
                     WHERE {column} <> replace({column}, $1, $2)"
                ),
                &[Val::Text("\\"), Val::Text("\\\\")],
            )?;
        }
    }
    if c.dialect() == Dialect::Sqlite {
        c.batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    }
    c.exec(
        "INSERT INTO meta(key, value) VALUES('schema_version', $1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        &[Val::Text(&SCHEMA_VERSION.to_string())],
    )?;
    Ok(())
}

fn schema_version(c: &dyn Sql) -> Result<Option<i64>, StoreError> {
    let rows = c.rows("SELECT value FROM meta WHERE key = 'schema_version'", &[])?;
    Ok(rows.first().and_then(|r| r.opt_int(0)))
}

/// Columns added after the first schema, at the end of `dumps` where a new
/// database has them (so shards of either age merge): a dump's title
/// (version 2), and (version 4) its `kind` — `dump`, or `log` for a kernel
/// log read as text (NULL in older rows: a dump) — and its `evidence`, the
/// logs kept beside a dump as its evidence (their keys, one a line).
const ADDED_COLUMNS: [&str; 5] = ["title", "signature", "title_kind", "kind", "evidence"];

/// A database written before these columns gets them.
fn add_columns(c: &dyn Sql) -> Result<(), StoreError> {
    for col in ADDED_COLUMNS {
        if c.dialect() == Dialect::Postgres {
            c.batch(&format!(
                "ALTER TABLE dumps ADD COLUMN IF NOT EXISTS {col} TEXT"
            ))?;
            continue;
        }
        let has = c.rows(
            "SELECT count(*) FROM pragma_table_info('dumps') WHERE name = $1",
            &[Val::Text(col)],
        )?;
        if has.first().map_or(0, |r| r.int(0)) == 0 {
            c.batch(&format!("ALTER TABLE dumps ADD COLUMN {col} TEXT"))?;
        }
    }
    Ok(())
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Paths asked about per statement (the last batch is padded with its last
/// path, so there is one statement to prepare).
const KNOWN_BATCH: usize = 256;

/// What the store knows of `paths` (only of those: a shard of a fleet's
/// database reads its own dumps' rows, not the whole table).
pub fn known_dumps(c: &dyn Sql, paths: &[String]) -> Result<BTreeMap<String, Known>, StoreError> {
    let marks: Vec<String> = (1..=KNOWN_BATCH).map(|i| format!("${i}")).collect();
    let list = marks.join(", ");
    let heads =
        format!("SELECT path, sha256, size, mtime_ns, status FROM dumps WHERE path IN ({list})");
    let rules = format!("SELECT path, rule_id, rule_version FROM rule_runs WHERE path IN ({list})");
    let mut out = BTreeMap::new();
    for chunk in paths.chunks(KNOWN_BATCH) {
        let last = chunk[chunk.len() - 1].as_str();
        let args: Vec<Val> = (0..KNOWN_BATCH)
            .map(|i| Val::Text(chunk.get(i).map_or(last, String::as_str)))
            .collect();
        for r in c.rows(&heads, &args)? {
            let k = Known {
                sha256: r.opt_text(1),
                size: r.opt_int(2).unwrap_or(-1),
                mtime_ns: r.opt_int(3).unwrap_or(-1),
                status: r.text(4),
                rules: BTreeMap::new(),
            };
            out.insert(r.text(0), k);
        }
        for r in c.rows(&rules, &args)? {
            if let Some(k) = out.get_mut(&r.text(0)) {
                k.rules.insert(r.text(1), r.text(2));
            }
        }
    }
    Ok(out)
}

/// Stores what a scan of one dump produced, in one transaction holding the
/// dump's lock. `outcome.evaluated` says which rules ran: their previous
/// findings, errors and versions are replaced; other rules' rows stay.
/// Returns the number of fingerprints seen for the first time.
pub fn store(
    c: &dyn Sql,
    run: &Run,
    file: &FileRow,
    o: &Outcome,
    full: bool,
) -> Result<usize, StoreError> {
    transaction(c, || store_rows(c, run, file, o, full))
}

fn store_rows(
    c: &dyn Sql,
    run: &Run,
    file: &FileRow,
    o: &Outcome,
    full: bool,
) -> Result<usize, StoreError> {
    let FileRow {
        path,
        sha256,
        size,
        mtime_ns,
        evidence,
    } = *file;
    let evidence = (!evidence.is_empty()).then(|| evidence.join("\n"));
    lock_path(c, path)?;
    let t = now();
    let status = if o.error.is_some() {
        "error"
    } else if !o.partial.is_empty() {
        "partial"
    } else {
        "ok"
    };
    c.exec(
        "INSERT INTO dumps(path, sha256, size, mtime_ns, release, build_id, format, scanned_at,
             duration_ms, pack_hash, status, first_run, run_id, title, signature, title_kind,
             kind, evidence)
         VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17)
         ON CONFLICT(path) DO UPDATE SET sha256=excluded.sha256, size=excluded.size,
             mtime_ns=excluded.mtime_ns, release=excluded.release, build_id=excluded.build_id,
             format=excluded.format, scanned_at=excluded.scanned_at,
             duration_ms=excluded.duration_ms, pack_hash=excluded.pack_hash,
             status=excluded.status, run_id=excluded.run_id,
             title=excluded.title, signature=excluded.signature, title_kind=excluded.title_kind,
             kind=excluded.kind, evidence=excluded.evidence",
        &[
            Val::Text(path),
            Val::OptText(sha256),
            Val::Int(size),
            Val::Int(mtime_ns),
            Val::Text(&o.release),
            Val::OptText(o.build_id.as_deref()),
            Val::Text(&o.format),
            Val::Int(t),
            Val::Int(o.duration_ms as i64),
            Val::Text(run.pack_hash),
            Val::Text(status),
            Val::Text(run.id),
            Val::OptText(o.title.as_deref()),
            Val::OptText(o.signature.as_deref()),
            Val::OptText(o.title_kind.as_deref()),
            Val::Text(o.kind.as_deref().unwrap_or("dump")),
            Val::OptText(evidence.as_deref()),
        ],
    )?;
    let p = Val::Text(path);
    // The dump-level error row (replaced on every scan of the dump).
    c.exec(
        "DELETE FROM errors WHERE path = $1 AND rule_id IS NULL",
        &[p],
    )?;
    if full || o.error.is_some() {
        for table in ["findings", "rule_runs", "errors"] {
            c.exec(&format!("DELETE FROM {table} WHERE path = $1"), &[p])?;
        }
    }
    let error_row = "INSERT INTO errors(path, rule_id, stage, message, run_id, at)
                     VALUES($1, $2, $3, $4, $5, $6)";
    if let Some((stage, msg)) = &o.error {
        let row = [p, Val::OptText(None), Val::Text(stage), Val::Text(msg)];
        c.exec(
            error_row,
            &[&row[..], &[Val::Text(run.id), Val::Int(t)]].concat(),
        )?;
        return Ok(0);
    }
    // Why the dump is partial: dump-level rows of stage `partial`.
    for msg in &o.partial {
        let row = [p, Val::OptText(None), Val::Text("partial"), Val::Text(msg)];
        c.exec(
            error_row,
            &[&row[..], &[Val::Text(run.id), Val::Int(t)]].concat(),
        )?;
    }
    let version = |id: &str| run.versions.get(id).map(String::as_str).unwrap_or("");
    for id in &o.evaluated {
        let rule = [p, Val::Text(id)];
        c.exec(
            "DELETE FROM findings WHERE path = $1 AND rule_id = $2",
            &rule,
        )?;
        c.exec("DELETE FROM errors WHERE path = $1 AND rule_id = $2", &rule)?;
        c.exec(
            "INSERT INTO rule_runs(path, rule_id, rule_version, run_id) VALUES($1, $2, $3, $4)
             ON CONFLICT(path, rule_id) DO UPDATE SET rule_version = excluded.rule_version,
                 run_id = excluded.run_id",
            &[p, Val::Text(id), Val::Text(version(id)), Val::Text(run.id)],
        )?;
    }
    let mut fps = Vec::new();
    for (i, f) in o.findings.iter().enumerate() {
        let (fp, label) = fingerprint(&f.rule, &f.evidence);
        c.exec(
            "INSERT INTO findings(path, rule_id, rule_version, severity, severity_rank, title,
                 message, evidence, references_json, fingerprint, ord, run_id)
             VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                p,
                Val::Text(&f.rule),
                Val::Text(version(&f.rule)),
                Val::Text(f.severity.as_str()),
                Val::Int(f.severity as i64),
                Val::Text(&f.title),
                Val::Text(&f.message),
                Val::Text(&evidence_json(&f.evidence)),
                Val::Text(&serde_json::to_string(&f.references).unwrap_or_default()),
                Val::Text(&fp),
                Val::Int(i as i64),
                Val::Text(run.id),
            ],
        )?;
        fps.push((fp, f.rule.clone(), label));
    }
    // In one order in every writer: two dumps sharing buckets never wait
    // for each other's fingerprint rows in opposite orders (a deadlock).
    fps.sort();
    fps.dedup_by(|a, b| a.0 == b.0);
    let mut new_fps = 0;
    for (fp, rule, label) in &fps {
        new_fps += c.exec(
            "INSERT INTO fingerprints(fingerprint, rule_id, first_run, first_seen, first_path, label)
             VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(fingerprint) DO NOTHING",
            &[
                Val::Text(fp),
                Val::Text(rule),
                Val::Text(run.id),
                Val::Int(t),
                p,
                Val::Text(label),
            ],
        )? as usize;
    }
    for e in &o.rule_errors {
        let row = [
            p,
            Val::Text(&e.rule),
            Val::Text("rule"),
            Val::Text(&e.message),
        ];
        c.exec(
            error_row,
            &[&row[..], &[Val::Text(run.id), Val::Int(t)]].concat(),
        )?;
    }
    Ok(new_fps)
}

/// A finding's evidence as its column holds it: `[name, value]` pairs.
fn evidence_json(evidence: &[Evidence]) -> String {
    let pairs: Vec<(&str, &Fact)> = evidence
        .iter()
        .map(|e| (e.name.as_str(), &e.value))
        .collect();
    serde_json::to_string(&pairs).unwrap_or_default()
}

fn evidence_from_json(text: &str) -> Vec<Evidence> {
    serde_json::from_str::<Vec<(String, Fact)>>(text)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| Evidence { name, value })
        .collect()
}

/// Drops the rows of rules that are no longer in the pack.
pub fn forget_rules(c: &dyn Sql, path: &str, rules: &[String]) -> Result<(), StoreError> {
    transaction(c, || {
        lock_path(c, path)?;
        for r in rules {
            for table in ["findings", "errors", "rule_runs"] {
                c.exec(
                    &format!("DELETE FROM {table} WHERE path = $1 AND rule_id = $2"),
                    &[Val::Text(path), Val::Text(r)],
                )?;
            }
        }
        Ok(())
    })
}

/// The stored outcome of a dump, for printing it without scanning.
pub fn load_outcome(c: &dyn Sql, path: &str) -> Result<Option<Outcome>, StoreError> {
    let p = [Val::Text(path)];
    let head = c.rows(
        "SELECT release, build_id, format, duration_ms, title, signature, title_kind, kind
         FROM dumps WHERE path = $1",
        &p,
    )?;
    let Some(h) = head.first() else {
        return Ok(None);
    };
    let mut o = Outcome {
        release: h.text(0),
        build_id: h.opt_text(1),
        format: h.text(2),
        duration_ms: h.int(3) as u64,
        title: h.opt_text(4),
        signature: h.opt_text(5),
        title_kind: h.opt_text(6),
        kind: h.opt_text(7).filter(|k| k != "dump"),
        ..Outcome::default()
    };
    // Sorted here, byte for byte: a server's collation does not reorder them.
    let mut rows = c.rows(
        "SELECT rule_id, title, severity, message, evidence, references_json, severity_rank, ord
         FROM findings WHERE path = $1",
        &p,
    )?;
    rows.sort_by_key(|r| (-r.int(6), r.text(0), r.int(7)));
    for r in rows {
        // Read through its JSON form: fields the row does not keep take
        // their defaults.
        let f = serde_json::json!({
            "rule": r.text(0),
            "title": r.text(1),
            "severity": r.text(2),
            "message": r.text(3),
            "evidence": evidence_from_json(&r.text(4)),
            "references": serde_json::from_str::<Vec<String>>(&r.text(5)).unwrap_or_default(),
        });
        let f: Diagnosis = serde_json::from_value(f).map_err(|e| {
            StoreError::Schema(format!("a finding of {path} cannot be read back: {e}"))
        })?;
        o.findings.push(f);
    }
    let mut rows = c.rows(
        "SELECT rule_id, stage, message, id FROM errors WHERE path = $1",
        &p,
    )?;
    rows.sort_by_key(|r| (r.opt_text(0), r.int(3)));
    for r in rows {
        match r.opt_text(0) {
            Some(rule) => o.rule_errors.push(RuleRunError {
                rule,
                message: r.text(2),
            }),
            None if r.text(1) == "partial" => o.partial.push(r.text(2)),
            None => o.error = Some((r.text(1), r.text(2))),
        }
    }
    let partial = !o.partial.is_empty();
    for f in &mut o.findings {
        f.incomplete = partial;
    }
    Ok(Some(o))
}

/// Where results go: a SQLite file, or a PostgreSQL URL.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Target {
    /// `--db`'s value: `postgres://…` or `postgresql://…` is a server,
    /// anything else a file.
    pub fn of(db: &Path) -> Target {
        match db.to_str() {
            Some(s) if super::pg::is_url(s) => Target::Postgres(s.to_string()),
            _ => Target::Sqlite(db.to_path_buf()),
        }
    }

    /// For messages: the file, or the server without the password.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(p) => p.display().to_string(),
            Target::Postgres(u) => redact(u),
        }
    }

    /// Connects; a missing SQLite file is created unless `must_exist`.
    pub fn open(&self, must_exist: bool) -> Result<Box<dyn Sql>, miette::Report> {
        match self {
            Target::Sqlite(p) => {
                if must_exist && !p.is_file() {
                    return Err(miette::miette!(
                        code = "vmtriage::db",
                        help = "scan first: vmtriage scan ARCHIVE --db results.sqlite",
                        "no database at {}",
                        p.display()
                    ));
                }
                open(p).map(|c| Box::new(c) as Box<dyn Sql>).map_err(|e| {
                    miette::miette!(
                        code = "vmtriage::db",
                        help = "pass a writable path for a new or existing results database (a damaged one is never replaced: move it away to start afresh)",
                        "cannot open database {}: {e}",
                        p.display()
                    )
                })
            }
            Target::Postgres(url) => super::pg::PgConn::connect(url)
                .map(|c| Box::new(c) as Box<dyn Sql>)
                .map_err(|e| {
                    miette::miette!(code = "vmtriage::db", help = e.help, "{}", e.message)
                }),
        }
    }
}

/// A URL without its password.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The results database as the bulk scan's [`Store`].
pub struct SqlStore {
    pub conn: Box<dyn Sql>,
}

impl Store for SqlStore {
    fn known(&self, paths: &[String]) -> Result<BTreeMap<String, Known>, StoreError> {
        known_dumps(self.conn.as_ref(), paths)
    }

    fn begin_run(&mut self, run: &Run, shard: &str, host: &str) -> Result<(), StoreError> {
        self.conn.exec(
            "INSERT INTO runs(id, started_at, pack_hash, shard, host) VALUES($1, $2, $3, $4, $5)
             ON CONFLICT(id) DO NOTHING",
            &[
                Val::Text(run.id),
                Val::Int(now()),
                Val::Text(run.pack_hash),
                Val::Text(shard),
                Val::Text(host),
            ],
        )?;
        Ok(())
    }

    fn forget_rules(&mut self, path: &str, rules: &[String]) -> Result<(), StoreError> {
        forget_rules(self.conn.as_ref(), path, rules)
    }

    fn record(
        &mut self,
        run: &Run,
        file: &FileRow,
        outcome: &Outcome,
        full: bool,
    ) -> Result<usize, StoreError> {
        store(self.conn.as_ref(), run, file, outcome, full)
    }

    fn load(&self, path: &str) -> Result<Option<Outcome>, StoreError> {
        load_outcome(self.conn.as_ref(), path)
    }

    fn finish_run(&mut self, run_id: &str, n: RunCounts) -> Result<(), StoreError> {
        self.conn.exec(
            "UPDATE runs SET finished_at = $2, dumps_seen = dumps_seen + $3,
                 dumps_scanned = dumps_scanned + $4, dumps_unchanged = dumps_unchanged + $5,
                 errors = errors + $6 WHERE id = $1",
            &[
                Val::Text(run_id),
                Val::Int(now()),
                Val::Int(n.seen as i64),
                Val::Int(n.scanned as i64),
                Val::Int(n.unchanged as i64),
                Val::Int(n.errors as i64),
            ],
        )?;
        Ok(())
    }
}

const DUMP_COLUMNS: &str = "path, sha256, size, mtime_ns, release, build_id, format, scanned_at,
    duration_ms, pack_hash, status, first_run, run_id, title, signature, title_kind, kind, evidence";
const FINDING_COLUMNS: &str = "path, rule_id, rule_version, severity, severity_rank, title,
    message, evidence, references_json, fingerprint, ord, run_id";
const ERROR_COLUMNS: &str = "path, rule_id, stage, message, run_id, at";
const RULE_RUN_COLUMNS: &str = "path, rule_id, rule_version, run_id";

/// `INSERT INTO table(columns) VALUES($1…$n)`.
fn insert(table: &str, columns: &str) -> String {
    let n = columns.split(',').count();
    let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO {table}({columns}) VALUES({})",
        marks.join(", ")
    )
}

/// A row read back as parameters, column for column.
fn vals(r: &Row) -> Vec<Val<'_>> {
    r.0.iter()
        .map(|c| match c {
            Cell::Null => Val::Null,
            Cell::Int(n) => Val::Int(*n),
            Cell::Text(t) => Val::Text(t),
        })
        .collect()
}

/// Merges a results database (a shard's) into `out`, either of them SQLite
/// or PostgreSQL: per dump, the most recently scanned copy wins (its rows
/// replace the others, in one transaction per dump); fingerprints keep
/// their earliest sighting; runs with the same id (the shards of one batch)
/// add up. Returns how many dump rows were taken.
pub fn merge(out: &dyn Sql, input: &dyn Sql) -> Result<usize, StoreError> {
    let have: BTreeMap<String, Option<i64>> = out
        .rows("SELECT path, scanned_at FROM dumps", &[])?
        .into_iter()
        .map(|r| (r.text(0), r.opt_int(1)))
        .collect();
    let mut taken = 0;
    let dumps = input.rows(&format!("SELECT {DUMP_COLUMNS} FROM dumps"), &[])?;
    let mut upsert = insert("dumps", DUMP_COLUMNS) + " ON CONFLICT(path) DO UPDATE SET ";
    upsert += &DUMP_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "path")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    for d in &dumps {
        let path = d.text(0);
        let newer = match have.get(&path) {
            None => true,
            Some(at) => d.opt_int(7) >= *at,
        };
        if !newer {
            continue;
        }
        let p = [Val::Text(&path)];
        let table_rows = |table: &str, columns: &str| {
            input.rows(
                &format!("SELECT {columns} FROM {table} WHERE path = $1"),
                &p,
            )
        };
        let findings = table_rows("findings", FINDING_COLUMNS)?;
        let errors = table_rows("errors", ERROR_COLUMNS)?;
        let rule_runs = table_rows("rule_runs", RULE_RUN_COLUMNS)?;
        transaction(out, || {
            lock_path(out, &path)?;
            for table in ["findings", "errors", "rule_runs"] {
                out.exec(&format!("DELETE FROM {table} WHERE path = $1"), &p)?;
            }
            out.exec(&upsert, &vals(d))?;
            for (table, columns, rows) in [
                ("findings", FINDING_COLUMNS, &findings),
                ("errors", ERROR_COLUMNS, &errors),
                ("rule_runs", RULE_RUN_COLUMNS, &rule_runs),
            ] {
                let sql = insert(table, columns);
                for r in rows {
                    out.exec(&sql, &vals(r))?;
                }
            }
            Ok(())
        })?;
        taken += 1;
    }
    let fps = input.rows(
        "SELECT fingerprint, rule_id, first_run, first_seen, first_path, label FROM fingerprints",
        &[],
    )?;
    let runs = input.rows(
        "SELECT id, started_at, finished_at, pack_hash, shard, host, dumps_seen, dumps_scanned,
             dumps_unchanged, errors FROM runs",
        &[],
    )?;
    transaction(out, || {
        for f in &fps {
            out.exec(
                "INSERT INTO fingerprints(fingerprint, rule_id, first_run, first_seen, first_path, label)
                 VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(fingerprint) DO UPDATE SET
                     first_run = CASE WHEN excluded.first_seen < fingerprints.first_seen
                         THEN excluded.first_run ELSE fingerprints.first_run END,
                     first_path = CASE WHEN excluded.first_seen < fingerprints.first_seen
                         THEN excluded.first_path ELSE fingerprints.first_path END,
                     first_seen = CASE WHEN excluded.first_seen < fingerprints.first_seen
                         THEN excluded.first_seen ELSE fingerprints.first_seen END",
                &vals(f),
            )?;
        }
        for r in &runs {
            out.exec(
                "INSERT INTO runs(id, started_at, finished_at, pack_hash, shard, host, dumps_seen,
                     dumps_scanned, dumps_unchanged, errors)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT(id) DO UPDATE SET
                     started_at = CASE WHEN excluded.started_at < runs.started_at
                         THEN excluded.started_at ELSE runs.started_at END,
                     finished_at = CASE WHEN runs.finished_at IS NULL
                         OR excluded.finished_at > runs.finished_at
                         THEN excluded.finished_at ELSE runs.finished_at END,
                     dumps_seen = runs.dumps_seen + excluded.dumps_seen,
                     dumps_scanned = runs.dumps_scanned + excluded.dumps_scanned,
                     dumps_unchanged = runs.dumps_unchanged + excluded.dumps_unchanged,
                     errors = runs.errors + excluded.errors,
                     shard = CASE WHEN runs.shard = excluded.shard THEN runs.shard ELSE 'merged' END",
                &vals(r),
            )?;
        }
        Ok(())
    })?;
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many scans opening one new database at once all get it, with its
    /// schema made once (CI met "database is locked" here).
    #[test]
    fn concurrent_first_opens() {
        let dir = std::env::temp_dir().join(format!("vmtriage-db-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for round in 0..20 {
            let p = dir.join(format!("r{round}.sqlite"));
            let opened: Vec<_> = (0..8)
                .map(|_| {
                    let p = p.clone();
                    std::thread::spawn(move || open(&p).map(|_| ()).map_err(|e| e.to_string()))
                })
                .collect();
            for t in opened {
                t.join().unwrap().unwrap();
            }
            let c = open(&p).unwrap();
            assert_eq!(schema_version(&c).unwrap(), Some(SCHEMA_VERSION));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A version 2 database gets its paths as keys (a backslash doubled)
    /// and the application id; a path without one stays as it was.
    #[test]
    fn version_2_paths_become_keys() {
        let dir = std::env::temp_dir().join(format!("vmtriage-db-v2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("v2.sqlite");
        let _ = std::fs::remove_file(&p);
        {
            let c = open(&p).unwrap();
            c.batch(
                "UPDATE meta SET value = '2' WHERE key = 'schema_version';
                 PRAGMA application_id = 0;
                 INSERT INTO dumps(path, status) VALUES('/a\\b', 'ok'), ('/plain', 'ok');
                 INSERT INTO errors(path, stage, message) VALUES('/a\\b', 'open', 'x');",
            )
            .unwrap();
        }
        let c = open(&p).unwrap();
        assert_eq!(schema_version(&c).unwrap(), Some(SCHEMA_VERSION));
        let paths: Vec<String> = c
            .rows("SELECT path FROM dumps ORDER BY path", &[])
            .unwrap()
            .iter()
            .map(|r| r.text(0))
            .collect();
        assert_eq!(paths, ["/a\\\\b", "/plain"]);
        let key = super::super::discover::path_key(Path::new("/a\\b"));
        assert_eq!(paths[0], key);
        let e = c.rows("SELECT path FROM errors", &[]).unwrap();
        assert_eq!(e[0].text(0), key);
        let id = c.rows("PRAGMA application_id", &[]).unwrap();
        assert_eq!(id[0].int(0), APPLICATION_ID);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
