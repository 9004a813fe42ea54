//! The results database (SQLite, bundled): dumps, findings, errors, which
//! rule versions ran on which dump, fingerprints (buckets) and runs.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::fingerprint::fingerprint;
use vmtriage_rules::pack::RuleRunError;
use vmtriage_rules::{Diagnosis, Evidence, Fact};

use super::store::{FileRow, RunCounts, Store, StoreError};
pub use super::store::{Known, Run};
use super::worker::Outcome;

pub const SCHEMA_VERSION: &str = "1";

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
    title TEXT, signature TEXT, title_kind TEXT);
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

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.execute_batch(SCHEMA)?;
    add_title_columns(&c)?;
    c.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?1)",
        [SCHEMA_VERSION],
    )?;
    Ok(c)
}

/// A database written before dumps had titles gets the two columns (at the
/// end, where a new database has them, so shards of either age merge).
fn add_title_columns(c: &Connection) -> rusqlite::Result<()> {
    let has: bool = c.query_row(
        "SELECT count(*) FROM pragma_table_info('dumps') WHERE name = 'signature'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        c.execute_batch(
            "ALTER TABLE dumps ADD COLUMN title TEXT; ALTER TABLE dumps ADD COLUMN signature TEXT;
             ALTER TABLE dumps ADD COLUMN title_kind TEXT;",
        )?;
    }
    Ok(())
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn known_dumps(c: &Connection) -> rusqlite::Result<BTreeMap<String, Known>> {
    let mut out = BTreeMap::new();
    let mut st = c.prepare("SELECT path, sha256, size, mtime_ns, status FROM dumps")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Known {
                sha256: r.get(1)?,
                size: r.get::<_, Option<i64>>(2)?.unwrap_or(-1),
                mtime_ns: r.get::<_, Option<i64>>(3)?.unwrap_or(-1),
                status: r.get(4)?,
                rules: BTreeMap::new(),
            },
        ))
    })?;
    for r in rows {
        let (p, k) = r?;
        out.insert(p, k);
    }
    let mut st = c.prepare("SELECT path, rule_id, rule_version FROM rule_runs")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for r in rows {
        let (p, id, v) = r?;
        if let Some(k) = out.get_mut(&p) {
            k.rules.insert(id, v);
        }
    }
    Ok(out)
}

/// Stores what a scan of one dump produced. `outcome.evaluated` says which
/// rules ran: their previous findings, errors and versions are replaced;
/// other rules' rows stay. Returns the number of fingerprints seen for the
/// first time.
pub fn store(
    c: &mut Connection,
    run: &Run,
    file: &FileRow,
    o: &Outcome,
    full: bool,
) -> rusqlite::Result<usize> {
    let FileRow {
        path,
        sha256,
        size,
        mtime_ns,
    } = *file;
    let tx = c.transaction()?;
    let t = now();
    let status = if o.error.is_some() {
        "error"
    } else if !o.partial.is_empty() {
        "partial"
    } else {
        "ok"
    };
    tx.execute(
        "INSERT INTO dumps(path, sha256, size, mtime_ns, release, build_id, format, scanned_at,
             duration_ms, pack_hash, status, first_run, run_id, title, signature, title_kind)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15)
         ON CONFLICT(path) DO UPDATE SET sha256=excluded.sha256, size=excluded.size,
             mtime_ns=excluded.mtime_ns, release=excluded.release, build_id=excluded.build_id,
             format=excluded.format, scanned_at=excluded.scanned_at,
             duration_ms=excluded.duration_ms, pack_hash=excluded.pack_hash,
             status=excluded.status, run_id=excluded.run_id,
             title=excluded.title, signature=excluded.signature, title_kind=excluded.title_kind",
        params![
            path,
            sha256,
            size,
            mtime_ns,
            o.release,
            o.build_id,
            o.format,
            t,
            o.duration_ms as i64,
            run.pack_hash,
            status,
            run.id,
            o.title,
            o.signature,
            o.title_kind
        ],
    )?;
    // The dump-level error row (replaced on every scan of the dump).
    tx.execute(
        "DELETE FROM errors WHERE path = ?1 AND rule_id IS NULL",
        [path],
    )?;
    if full || o.error.is_some() {
        tx.execute("DELETE FROM findings WHERE path = ?1", [path])?;
        tx.execute("DELETE FROM rule_runs WHERE path = ?1", [path])?;
        tx.execute("DELETE FROM errors WHERE path = ?1", [path])?;
    }
    let mut new_fps = 0;
    if let Some((stage, msg)) = &o.error {
        tx.execute(
            "INSERT INTO errors(path, rule_id, stage, message, run_id, at) VALUES(?1, NULL, ?2, ?3, ?4, ?5)",
            params![path, stage, msg, run.id, t],
        )?;
    } else {
        // Why the dump is partial: dump-level rows of stage `partial`.
        for msg in &o.partial {
            tx.execute(
                "INSERT INTO errors(path, rule_id, stage, message, run_id, at) VALUES(?1, NULL, 'partial', ?2, ?3, ?4)",
                params![path, msg, run.id, t],
            )?;
        }
        for id in &o.evaluated {
            tx.execute(
                "DELETE FROM findings WHERE path = ?1 AND rule_id = ?2",
                params![path, id],
            )?;
            tx.execute(
                "DELETE FROM errors WHERE path = ?1 AND rule_id = ?2",
                params![path, id],
            )?;
            tx.execute(
                "INSERT OR REPLACE INTO rule_runs(path, rule_id, rule_version, run_id) VALUES(?1, ?2, ?3, ?4)",
                params![path, id, run.versions.get(id).map(String::as_str).unwrap_or(""), run.id],
            )?;
        }
        for (i, f) in o.findings.iter().enumerate() {
            let (fp, label) = fingerprint(&f.rule, &f.evidence);
            tx.execute(
                "INSERT INTO findings(path, rule_id, rule_version, severity, severity_rank, title,
                     message, evidence, references_json, fingerprint, ord, run_id)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    path,
                    f.rule,
                    run.versions.get(&f.rule).map(String::as_str).unwrap_or(""),
                    f.severity.as_str(),
                    f.severity as i64,
                    f.title,
                    f.message,
                    evidence_json(&f.evidence),
                    serde_json::to_string(&f.references).unwrap_or_default(),
                    fp,
                    i as i64,
                    run.id
                ],
            )?;
            new_fps += tx.execute(
                "INSERT OR IGNORE INTO fingerprints(fingerprint, rule_id, first_run, first_seen, first_path, label)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                params![fp, f.rule, run.id, t, path, label],
            )?;
        }
        for e in &o.rule_errors {
            tx.execute(
                "INSERT INTO errors(path, rule_id, stage, message, run_id, at) VALUES(?1, ?2, 'rule', ?3, ?4, ?5)",
                params![path, e.rule, e.message, run.id, t],
            )?;
        }
    }
    tx.commit()?;
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
pub fn forget_rules(c: &Connection, path: &str, rules: &[String]) -> rusqlite::Result<()> {
    for r in rules {
        c.execute(
            "DELETE FROM findings WHERE path = ?1 AND rule_id = ?2",
            params![path, r],
        )?;
        c.execute(
            "DELETE FROM errors WHERE path = ?1 AND rule_id = ?2",
            params![path, r],
        )?;
        c.execute(
            "DELETE FROM rule_runs WHERE path = ?1 AND rule_id = ?2",
            params![path, r],
        )?;
    }
    Ok(())
}

/// The stored outcome of a dump, for printing it without scanning.
pub fn load_outcome(c: &Connection, path: &str) -> rusqlite::Result<Option<Outcome>> {
    let head = c
        .query_row(
            "SELECT release, build_id, format, duration_ms, title, signature, title_kind FROM dumps WHERE path = ?1",
            [path],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((release, build_id, format, duration, title, signature, title_kind)) = head else {
        return Ok(None);
    };
    let mut o = Outcome {
        release: release.unwrap_or_default(),
        build_id,
        format: format.unwrap_or_default(),
        duration_ms: duration.unwrap_or(0) as u64,
        title,
        signature,
        title_kind,
        ..Outcome::default()
    };
    let mut st = c.prepare(
        "SELECT rule_id, title, severity, message, evidence, references_json FROM findings
         WHERE path = ?1 ORDER BY severity_rank DESC, rule_id, ord",
    )?;
    let rows = st.query_map([path], |r| {
        let sev: String = r.get(2)?;
        Ok(Diagnosis {
            rule: r.get(0)?,
            title: r.get(1)?,
            severity: serde_json::from_value(serde_json::Value::String(sev))
                .unwrap_or(vmtriage_rules::rule::Severity::Info),
            message: r.get(3)?,
            evidence: evidence_from_json(&r.get::<_, String>(4)?),
            references: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
            incomplete: false,
        })
    })?;
    for f in rows {
        o.findings.push(f?);
    }
    let mut st = c.prepare(
        "SELECT rule_id, stage, message FROM errors WHERE path = ?1 ORDER BY rule_id IS NOT NULL, rule_id",
    )?;
    let rows = st.query_map([path], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for e in rows {
        let (rule, stage, msg) = e?;
        match rule {
            Some(rule) => o.rule_errors.push(RuleRunError { rule, message: msg }),
            None if stage == "partial" => o.partial.push(msg),
            None => o.error = Some((stage, msg)),
        }
    }
    let partial = !o.partial.is_empty();
    for f in &mut o.findings {
        f.incomplete = partial;
    }
    Ok(Some(o))
}

/// The results database as the bulk scan's [`Store`].
pub struct SqliteStore {
    pub conn: Connection,
}

impl SqliteStore {
    pub fn open(path: &Path) -> rusqlite::Result<SqliteStore> {
        Ok(SqliteStore { conn: open(path)? })
    }
}

impl Store for SqliteStore {
    fn known(&self) -> Result<BTreeMap<String, Known>, StoreError> {
        Ok(known_dumps(&self.conn)?)
    }

    fn begin_run(&mut self, run: &Run, shard: &str, host: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO runs(id, started_at, pack_hash, shard, host) VALUES(?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO NOTHING",
            params![run.id, now(), run.pack_hash, shard, host],
        )?;
        Ok(())
    }

    fn forget_rules(&mut self, path: &str, rules: &[String]) -> Result<(), StoreError> {
        Ok(forget_rules(&self.conn, path, rules)?)
    }

    fn record(
        &mut self,
        run: &Run,
        file: &FileRow,
        outcome: &Outcome,
        full: bool,
    ) -> Result<usize, StoreError> {
        Ok(store(&mut self.conn, run, file, outcome, full)?)
    }

    fn load(&self, path: &str) -> Result<Option<Outcome>, StoreError> {
        Ok(load_outcome(&self.conn, path)?)
    }

    fn finish_run(&mut self, run_id: &str, n: RunCounts) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, dumps_seen = dumps_seen + ?3, dumps_scanned = dumps_scanned + ?4,
                 dumps_unchanged = dumps_unchanged + ?5, errors = errors + ?6 WHERE id = ?1",
            params![
                run_id,
                now(),
                n.seen as i64,
                n.scanned as i64,
                n.unchanged as i64,
                n.errors as i64
            ],
        )?;
        Ok(())
    }
}

/// Merges shard databases into `c`: per dump, the most recently scanned copy
/// wins; fingerprints keep their earliest sighting; runs with the same id
/// (the shards of one batch) add up.
pub fn merge(
    c: &mut Connection,
    inputs: &[std::path::PathBuf],
) -> rusqlite::Result<(usize, usize)> {
    let mut dumps = 0;
    for (i, p) in inputs.iter().enumerate() {
        // make sure the input has the schema (and is a database at all)
        drop(open(p)?);
        let alias = format!("s{i}");
        c.execute(
            &format!("ATTACH DATABASE ?1 AS {alias}"),
            [p.to_string_lossy()],
        )?;
        let tx = c.transaction()?;
        tx.execute_batch(&format!(
            "CREATE TEMP TABLE take AS SELECT s.path FROM {alias}.dumps s
                 LEFT JOIN main.dumps m ON m.path = s.path
                 WHERE m.path IS NULL OR s.scanned_at >= m.scanned_at;
             DELETE FROM main.findings WHERE path IN (SELECT path FROM take);
             DELETE FROM main.errors WHERE path IN (SELECT path FROM take);
             DELETE FROM main.rule_runs WHERE path IN (SELECT path FROM take);
             INSERT OR REPLACE INTO main.dumps SELECT * FROM {alias}.dumps WHERE path IN (SELECT path FROM take);
             INSERT INTO main.findings(path, rule_id, rule_version, severity, severity_rank, title,
                     message, evidence, references_json, fingerprint, ord, run_id)
                 SELECT path, rule_id, rule_version, severity, severity_rank, title,
                     message, evidence, references_json, fingerprint, ord, run_id
                 FROM {alias}.findings WHERE path IN (SELECT path FROM take);
             INSERT INTO main.errors(path, rule_id, stage, message, run_id, at)
                 SELECT path, rule_id, stage, message, run_id, at FROM {alias}.errors
                 WHERE path IN (SELECT path FROM take);
             INSERT INTO main.rule_runs SELECT * FROM {alias}.rule_runs WHERE path IN (SELECT path FROM take);
             INSERT INTO main.fingerprints SELECT * FROM {alias}.fingerprints WHERE true
                 ON CONFLICT(fingerprint) DO UPDATE SET
                     first_run = CASE WHEN excluded.first_seen < first_seen THEN excluded.first_run ELSE first_run END,
                     first_path = CASE WHEN excluded.first_seen < first_seen THEN excluded.first_path ELSE first_path END,
                     first_seen = MIN(first_seen, excluded.first_seen);
             INSERT INTO main.runs SELECT * FROM {alias}.runs WHERE true
                 ON CONFLICT(id) DO UPDATE SET
                     started_at = MIN(started_at, excluded.started_at),
                     finished_at = MAX(finished_at, excluded.finished_at),
                     dumps_seen = dumps_seen + excluded.dumps_seen,
                     dumps_scanned = dumps_scanned + excluded.dumps_scanned,
                     dumps_unchanged = dumps_unchanged + excluded.dumps_unchanged,
                     errors = errors + excluded.errors,
                     shard = CASE WHEN shard = excluded.shard THEN shard ELSE 'merged' END;"
        ))?;
        dumps += tx.query_row("SELECT count(*) FROM take", [], |r| r.get::<_, i64>(0))? as usize;
        tx.execute_batch("DROP TABLE temp.take;")?;
        tx.commit()?;
        c.execute(&format!("DETACH DATABASE {alias}"), [])?;
    }
    Ok((inputs.len(), dumps))
}
