//! PostgreSQL: connect and run the configured query.

use std::time::{Duration, Instant};

use super::{CheckResult, CheckStatus, Job, Kind};
use crate::config::Database;

pub fn job(cfg: &Database) -> Job {
    let cfg = cfg.clone();
    Job {
        name: "Database".into(),
        kind: Kind::Database,
        severity: cfg.severity,
        timeout: Duration::from_millis(cfg.timeout_ms),
        work: Box::new(move || vec![check(&cfg)]),
    }
}

pub fn check(cfg: &Database) -> CheckResult {
    let start = Instant::now();
    let (status, message) = match query(cfg) {
        Ok(rows) => (CheckStatus::Ok, format!("query answered ({rows} row{})", if rows == 1 { "" } else { "s" })),
        Err(e) => (CheckStatus::Fail, format!("Database not responding: {e}")),
    };
    let mut r = CheckResult::new("Database", Kind::Database, cfg.severity, status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

fn query(cfg: &Database) -> Result<usize, String> {
    let mut pg: postgres::Config = cfg.url.parse().map_err(|e: postgres::Error| e.to_string())?;
    pg.connect_timeout(Duration::from_millis(cfg.timeout_ms));
    pg.application_name("ops-atomic");
    let mut client = pg.connect(postgres::NoTls).map_err(|e| describe(&e))?;
    let rows = client.simple_query(&cfg.query).map_err(|e| describe(&e))?;
    Ok(rows.iter().filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(_))).count())
}

/// postgres errors print as "db error" alone; the server's own message
/// (e.g. "password authentication failed for user …") is what helps.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
