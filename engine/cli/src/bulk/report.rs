//! `vmtriage report`: findings per rule, per kernel release, buckets
//! (fingerprints), what is new since the last scan, errors.

use serde::Serialize;

use super::sql::{Row, Sql, Val};
use super::store::StoreError;

#[derive(Debug, Serialize)]
pub struct RuleRow {
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub dumps: i64,
    pub findings: i64,
    pub buckets: i64,
}

#[derive(Debug, Serialize)]
pub struct ReleaseRow {
    pub release: String,
    pub dumps: i64,
    pub with_findings: i64,
    pub findings: i64,
    pub errors: i64,
}

#[derive(Debug, Serialize)]
pub struct BucketRow {
    pub fingerprint: String,
    pub rule: String,
    pub dumps: i64,
    pub first_seen: i64,
    pub first_path: String,
    pub label: String,
}

/// Dumps of one signature: one problem, whether or not a rule explains it.
#[derive(Debug, Serialize)]
pub struct SignatureRow {
    pub signature: String,
    pub title: String,
    pub dumps: i64,
    /// When a dump of it was first and last scanned (Unix seconds).
    pub first_seen: i64,
    pub last_seen: i64,
    pub releases: Vec<String>,
    /// Rules above `info` that fired on its dumps: what explains it; empty
    /// when nothing does.
    pub rules: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorRow {
    pub path: String,
    pub rule: Option<String>,
    pub stage: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub dumps: i64,
    pub dumps_ok: i64,
    pub dumps_error: i64,
    pub findings: i64,
    pub buckets: i64,
    pub last_run: Option<String>,
    pub last_run_started: Option<i64>,
    /// When the last run finished; None: it did not (killed, or still
    /// running), and what it had not stored yet is missing.
    pub last_run_finished: Option<i64>,
    pub per_rule: Vec<RuleRow>,
    pub per_release: Vec<ReleaseRow>,
    pub top_buckets: Vec<BucketRow>,
    /// Buckets first seen in the last run.
    pub new_buckets: Vec<BucketRow>,
    /// Dumps first seen in the last run.
    pub new_dumps: i64,
    /// Dumps grouped by signature, largest first.
    pub signatures: Vec<SignatureRow>,
    pub errors: Vec<ErrorRow>,
}

fn buckets(
    c: &dyn Sql,
    filter: &str,
    arg: Option<&str>,
    top: usize,
) -> Result<Vec<BucketRow>, StoreError> {
    let sql = format!(
        "SELECT f.fingerprint, f.rule_id, count(DISTINCT x.path), COALESCE(f.first_seen, 0),
             COALESCE(f.first_path, ''),
             -- Evidence that is all instance data leaves no label: the title says what it is.
             COALESCE(NULLIF(f.label, ''), '(' || min(x.title) || ')', '')
         FROM fingerprints f JOIN findings x ON x.fingerprint = f.fingerprint
         {filter}
         GROUP BY f.fingerprint ORDER BY count(DISTINCT x.path) DESC, f.rule_id, f.fingerprint
         LIMIT {top}"
    );
    let args: Vec<Val> = arg.map(Val::Text).into_iter().collect();
    Ok(c.rows(&sql, &args)?
        .iter()
        .map(|r| BucketRow {
            fingerprint: r.text(0),
            rule: r.text(1),
            dumps: r.int(2),
            first_seen: r.int(3),
            first_path: r.text(4),
            label: r.text(5),
        })
        .collect())
}

/// Title kinds that need no rule to explain them: nothing went wrong, or
/// someone crashed the machine on purpose.
const NEEDS_NO_RULE: &[&str] = &["no-crash", "sysrq-crash"];

/// Dumps grouped by signature, largest first; `unexplained`: only the
/// signatures no rule above `info` explains (of kinds that need one) —
/// what the knowledge base should learn next.
pub fn signatures(
    c: &dyn Sql,
    top: usize,
    unexplained: bool,
) -> Result<Vec<SignatureRow>, StoreError> {
    let d = c.dialect();
    let sql = format!(
        "SELECT * FROM (
             SELECT d.signature, max(d.title), count(*) AS n, min(d.scanned_at), max(d.scanned_at),
                 {releases},
                 (SELECT {rules} FROM findings f
                      JOIN dumps d2 ON d2.path = f.path
                      WHERE d2.signature = d.signature AND f.severity_rank > 0) AS rules,
                 max(d.title_kind) AS kind
             FROM dumps d WHERE d.signature IS NOT NULL GROUP BY d.signature) AS groups
         {} ORDER BY n DESC, signature LIMIT {top}",
        if unexplained {
            format!(
                "WHERE rules IS NULL AND COALESCE(kind, '') NOT IN ({})",
                NEEDS_NO_RULE
                    .iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        },
        releases = d.list_agg("d.release"),
        rules = d.list_agg("f.rule_id"),
    );
    let split = |v: Option<String>| -> Vec<String> {
        let mut v: Vec<String> = v
            .unwrap_or_default()
            .split(',')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    Ok(c.rows(&sql, &[])?
        .iter()
        .map(|r| SignatureRow {
            signature: r.text(0),
            title: r.text(1),
            dumps: r.int(2),
            first_seen: r.int(3),
            last_seen: r.int(4),
            releases: split(r.opt_text(5)),
            rules: split(r.opt_text(6)),
        })
        .collect())
}

/// The signature table, as `report` prints it.
pub fn signatures_text(rows: &[SignatureRow]) -> String {
    let mut o = format!(
        "{:<17} {:>6} {:<24} {}\n",
        "SIGNATURE", "DUMPS", "EXPLAINED BY", "TITLE"
    );
    for r in rows {
        o += &format!(
            "{:<17} {:>6} {:<24} {}\n",
            r.signature,
            r.dumps,
            if r.rules.is_empty() {
                "-".to_string()
            } else {
                cut(&r.rules.join(","), 24)
            },
            cut(&r.title, 90)
        );
    }
    if rows.is_empty() {
        o += "  (none)\n";
    }
    o
}

pub fn summary(c: &dyn Sql, top: usize, since_run: Option<&str>) -> Result<Summary, StoreError> {
    let one = |sql: &str| -> Result<i64, StoreError> {
        Ok(c.rows(sql, &[])?.first().map_or(0, |r| r.int(0)))
    };
    let last_rows = match since_run {
        Some(r) => c.rows(
            "SELECT id, started_at, finished_at FROM runs WHERE id = $1",
            &[Val::Text(r)],
        )?,
        None => c.rows(
            "SELECT id, started_at, finished_at FROM runs ORDER BY started_at DESC, id DESC LIMIT 1",
            &[],
        )?,
    };
    let last: Option<(String, i64)> = last_rows.first().map(|r| (r.text(0), r.int(1)));
    let last_finished = last_rows.first().and_then(|r| r.opt_int(2));
    let per_rule = c
        .rows(
            "SELECT rule_id, max(severity), max(title), count(DISTINCT path), count(*),
                 count(DISTINCT fingerprint)
             FROM findings GROUP BY rule_id ORDER BY max(severity_rank) DESC, rule_id",
            &[],
        )?
        .iter()
        .map(|r| RuleRow {
            rule: r.text(0),
            severity: r.text(1),
            title: r.text(2),
            dumps: r.int(3),
            findings: r.int(4),
            buckets: r.int(5),
        })
        .collect();
    let per_release = c
        .rows(
            "SELECT rel, count(*), CAST(sum(CASE WHEN n > 0 THEN 1 ELSE 0 END) AS BIGINT),
                 CAST(sum(n) AS BIGINT), CAST(sum(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS BIGINT)
             FROM (SELECT COALESCE(NULLIF(d.release, ''), '(unknown)') AS rel, d.status,
                       (SELECT count(*) FROM findings f WHERE f.path = d.path) AS n
                   FROM dumps d) AS per_dump
             GROUP BY rel ORDER BY rel",
            &[],
        )?
        .iter()
        .map(|r| ReleaseRow {
            release: r.text(0),
            dumps: r.int(1),
            with_findings: r.int(2),
            findings: r.int(3),
            errors: r.int(4),
        })
        .collect();
    let errors = c
        .rows(
            &format!(
                "SELECT path, rule_id, stage, message FROM errors
                 ORDER BY rule_id IS NOT NULL, path, id LIMIT {top}"
            ),
            &[],
        )?
        .iter()
        .map(|r: &Row| ErrorRow {
            path: r.text(0),
            rule: r.opt_text(1),
            stage: r.text(2),
            message: r.text(3),
        })
        .collect();
    let (new_buckets, new_dumps) = match &last {
        Some((id, _)) => (
            buckets(c, "WHERE f.first_run = $1", Some(id), top)?,
            c.rows(
                "SELECT count(*) FROM dumps WHERE first_run = $1",
                &[Val::Text(id)],
            )?
            .first()
            .map_or(0, |r| r.int(0)),
        ),
        None => (Vec::new(), 0),
    };
    Ok(Summary {
        dumps: one("SELECT count(*) FROM dumps")?,
        dumps_ok: one("SELECT count(*) FROM dumps WHERE status = 'ok'")?,
        dumps_error: one("SELECT count(*) FROM dumps WHERE status = 'error'")?,
        findings: one("SELECT count(*) FROM findings")?,
        buckets: one("SELECT count(DISTINCT fingerprint) FROM findings")?,
        last_run: last.as_ref().map(|l| l.0.clone()),
        last_run_started: last.as_ref().map(|l| l.1),
        last_run_finished: last_finished,
        per_rule,
        per_release,
        top_buckets: buckets(c, "", None, top)?,
        new_buckets,
        new_dumps,
        signatures: signatures(c, top, false)?,
        errors,
    })
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub fn summary_text(s: &Summary) -> String {
    let mut o = format!(
        "{} dump(s): {} scanned, {} could not be read; {} finding(s) in {} bucket(s)\n",
        s.dumps, s.dumps_ok, s.dumps_error, s.findings, s.buckets
    );
    if let Some(r) = &s.last_run {
        o += &format!("last run: {r}\n");
        if s.last_run_finished.is_none() {
            o += "  it did not finish (killed, or still running): the dumps it had not stored are \
                  missing or as an earlier run left them; run the same scan again to complete it\n";
        }
    }
    o += &format!(
        "\nFindings per rule\n{:<12} {:<9} {:>6} {:>9} {:>8}  {}\n",
        "RULE", "SEVERITY", "DUMPS", "FINDINGS", "BUCKETS", "TITLE"
    );
    for r in &s.per_rule {
        o += &format!(
            "{:<12} {:<9} {:>6} {:>9} {:>8}  {}\n",
            r.rule,
            r.severity,
            r.dumps,
            r.findings,
            r.buckets,
            cut(&r.title, 60)
        );
    }
    if s.per_rule.is_empty() {
        o += "  (none)\n";
    }
    o += &format!(
        "\nPer kernel release\n{:<32} {:>6} {:>14} {:>9} {:>7}\n",
        "RELEASE", "DUMPS", "WITH FINDINGS", "FINDINGS", "ERRORS"
    );
    for r in &s.per_release {
        o += &format!(
            "{:<32} {:>6} {:>14} {:>9} {:>7}\n",
            r.release, r.dumps, r.with_findings, r.findings, r.errors
        );
    }
    let bucket_table = |o: &mut String, rows: &[super::report::BucketRow]| {
        *o += &format!(
            "{:<17} {:<12} {:>6}  {}\n",
            "FINGERPRINT", "RULE", "DUMPS", "WHAT"
        );
        for b in rows {
            *o += &format!(
                "{:<17} {:<12} {:>6}  {}\n",
                b.fingerprint,
                b.rule,
                b.dumps,
                cut(&b.label, 90)
            );
        }
        if rows.is_empty() {
            *o += "  (none)\n";
        }
    };
    o += "\nSignatures (dumps grouped by what happened, explained by a rule or not)\n";
    o += &signatures_text(&s.signatures);
    o += "\nBuckets (the same problem in several dumps)\n";
    bucket_table(&mut o, &s.top_buckets);
    o += &format!(
        "\nNew since the last scan ({} new dump(s)); buckets first seen in run {}\n",
        s.new_dumps,
        s.last_run.as_deref().unwrap_or("-")
    );
    bucket_table(&mut o, &s.new_buckets);
    if !s.errors.is_empty() {
        o += "\nErrors\n";
        for e in &s.errors {
            o += &format!(
                "  {}{}: [{}] {}\n",
                e.path,
                e.rule
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                e.stage,
                cut(&e.message, 200)
            );
        }
    }
    o
}
