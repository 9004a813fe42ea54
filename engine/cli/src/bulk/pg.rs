//! The results database on a PostgreSQL server (`--db postgres://…`), shared
//! by every scanner of a fleet: the schema of the SQLite file with 64-bit
//! integers, created once under an advisory lock; each dump's rows written
//! in one transaction that first takes the dump's advisory lock, so two
//! scanners racing on one dump leave the rows of one of them and a killed
//! scanner leaves nothing half-written.
//!
//! The client is the `postgres` crate (synchronous, from the rust-postgres
//! project): the scan's pipeline is synchronous, and one connection per
//! scanning process is all it needs. TLS (rustls) follows libpq's `sslmode`
//! and `sslrootcert`: see `pg_tls`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, Statement};

use super::sql::{Cell, Dialect, Row, Sql, Val};
use super::store::StoreError;

/// Is `db` (the `--db` argument) a PostgreSQL URL?
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// An error with its causes (the crate's own text names only the kind).
pub fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut t = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(d) = db.detail() {
            t += &format!("; {d}");
        }
        if let Some(h) = db.hint() {
            t += &format!("; hint: {h}");
        }
        return t;
    }
    let mut t = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        t += &format!(": {s}");
        src = s.source();
    }
    t
}

pub struct PgConn {
    client: RefCell<Client>,
    statements: RefCell<HashMap<String, Statement>>,
    describe: String,
}

/// Where a configuration points, without the password.
fn describe(c: &Config) -> String {
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = c.get_ports().iter().map(|p| p.to_string()).collect();
    format!(
        "postgres://{}@{}:{}/{}",
        c.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() {
            "localhost".into()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".into()
        } else {
            ports.join(",")
        },
        c.get_dbname().unwrap_or("(default database)")
    )
}

/// What went wrong connecting, and what to do about it.
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub help: String,
}

impl PgConn {
    /// Connects (10 s timeout unless the URL sets `connect_timeout`) and
    /// makes sure the schema is there.
    pub fn connect(url: &str) -> Result<PgConn, ConnectError> {
        let tls = super::pg_tls::split_url(url).map_err(|m| ConnectError {
            message: format!("not a PostgreSQL URL: {m}"),
            help: "sslmode is one of disable, prefer, require, verify-ca, verify-full; sslrootcert a PEM file of CA certificates or `system`".into(),
        })?;
        let mut cfg = Config::from_str(&tls.url).map_err(|e| ConnectError {
            message: format!("not a PostgreSQL URL: {}", error_text(&e)),
            help: "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a Unix socket: postgres://USER@%2Frun%2Fpostgresql/DATABASE)".into(),
        })?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        cfg.application_name("vmtriage");
        let describe = describe(&cfg);
        let connector = super::pg_tls::connector(&tls.verify).map_err(|m| ConnectError {
            message: format!("cannot set up TLS for {describe}: {m}"),
            help: "sslrootcert names a PEM file of the CA certificates that sign the server's (or `system` for the machine's trust store)".into(),
        })?;
        let client = cfg.connect(connector).map_err(|e| {
            let text = error_text(&e);
            let help = if text.contains("not valid for name") || text.contains("NotValidForName") {
                "the server's certificate does not name this host: connect by a name it has, or use sslmode=verify-ca to check only who signed it".to_string()
            } else if text.contains("certificate") || text.contains("UnknownIssuer") {
                "the server's certificate is not signed by a CA of sslrootcert: give the CA that signed it (sslrootcert=PATH, or `system`)".to_string()
            } else if text.contains("TLS") || text.contains("tls") {
                "the server does not speak TLS: enable ssl in its postgresql.conf, or connect with sslmode=prefer or disable".to_string()
            } else if e.as_db_error().is_some() || text.contains("password") {
                "check the user, password and database name in the URL (the database must exist: createdb NAME)".to_string()
            } else {
                "is the server running and reachable? `psql URL` should connect; check the host, port and pg_hba.conf".to_string()
            };
            ConnectError {
                message: format!("cannot connect to {describe}: {text}"),
                help,
            }
        })?;
        let c = PgConn {
            client: RefCell::new(client),
            statements: RefCell::new(HashMap::new()),
            describe,
        };
        super::db::init_schema(&c).map_err(|e| ConnectError {
            message: match e {
                StoreError::Schema(m) => m,
                e => format!("{}: {e}", c.describe),
            },
            help: "point --db at a database of vmtriage results (or an empty one)".into(),
        })?;
        Ok(c)
    }

    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.borrow_mut().prepare(sql)?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// Parameters as the client takes them.
fn params(args: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    args.iter()
        .map(|a| -> Box<dyn ToSql + Sync> {
            match *a {
                Val::Int(n) => Box::new(n),
                Val::Text(s) => Box::new(s.to_string()),
                Val::OptInt(n) => Box::new(n),
                Val::OptText(s) => Box::new(s.map(str::to_string)),
                Val::Null => Box::new(AnyNull),
            }
        })
        .collect()
}

/// NULL for a column of any type.
#[derive(Debug)]
struct AnyNull;

impl ToSql for AnyNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

fn cell(r: &postgres::Row, i: usize) -> Result<Cell, StoreError> {
    use postgres::types::Type;
    let ty = r.columns()[i].type_().clone();
    let int = |v: Option<i64>| v.map_or(Cell::Null, Cell::Int);
    Ok(match ty {
        Type::INT8 => int(r.try_get::<_, Option<i64>>(i)?),
        Type::INT4 => int(r.try_get::<_, Option<i32>>(i)?.map(i64::from)),
        Type::INT2 => int(r.try_get::<_, Option<i16>>(i)?.map(i64::from)),
        Type::BOOL => int(r.try_get::<_, Option<bool>>(i)?.map(i64::from)),
        Type::FLOAT8 => int(r.try_get::<_, Option<f64>>(i)?.map(|f| f as i64)),
        Type::VOID => Cell::Null,
        _ => r
            .try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text),
    })
}

impl Sql for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn exec(&self, sql: &str, args: &[Val]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        let p = params(args);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        Ok(self.client.borrow_mut().execute(&st, &refs)?)
    }
    fn rows(&self, sql: &str, args: &[Val]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let p = params(args);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.borrow_mut().query(&st, &refs)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }
    fn batch(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.borrow_mut().batch_execute(sql)?)
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}
