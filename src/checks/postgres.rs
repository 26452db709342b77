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
    if pg.get_user().is_none()
        && let Some(user) = login_user()
    {
        pg.user(&user);
    }
    let mut client = pg.connect(postgres::NoTls).map_err(|e| describe(&e))?;
    let rows = client.simple_query(&cfg.query).map_err(|e| describe(&e))?;
    Ok(rows.iter().filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(_))).count())
}

/// Who a URL without a user connects as: the login user, as psql does
/// (`$USER`, else the account this process runs as).
pub fn login_user() -> Option<String> {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).or_else(os_user)
}

fn os_user() -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, which outlive the
    // call; the name is copied out before they go.
    let rc = unsafe { libc::getpwuid_r(libc::geteuid(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().filter(|n| !n.is_empty()).map(str::to_string)
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
