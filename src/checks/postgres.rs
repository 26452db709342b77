//! PostgreSQL: connect and run the configured query.

use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::secret;

crate::check_section! {
    /// `[database]`: the PostgreSQL check.
    pub struct Database {
        /// Run this check.
        pub enabled: bool = true,
        /// postgresql:// URL (env DATABASE_URL); no user = the login user, as psql does.
        pub url: String = "postgresql://127.0.0.1:5432/postgres".into(),
        /// Connect + query timeout in ms.
        pub timeout_ms: u64 = 5000,
        /// The query that must succeed.
        pub query: String = "SELECT 1".into(),
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Database {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "database"
    }
    fn section(&self) -> &'static str {
        "Database"
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident {
            id: "database".into(),
            name: "Database".into(),
            kind: self.kind(),
            section: self.section(),
            severity: self.severity,
            target: secret::url_target(&self.url),
        }]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        crate::validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        if self.enabled {
            if let Err(why) = check_database_url(&self.url) {
                errs.push(format!("{at}.url = {:?}: {why}", secret::redact_url(&self.url)));
            }
            if self.query.trim().is_empty() {
                errs.push(format!("{at}.query is empty: give a query such as \"SELECT 1\""));
            }
        }
        errs
    }
    fn secrets(&self) -> Vec<String> {
        secret::url_secrets(&self.url)
    }
    fn redact(&mut self) {
        self.url = secret::redact_url(&self.url);
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        vec![check(self)]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// libpq-style URLs may leave the host out of the authority and name a
/// socket folder with `?host=/tmp`, which a generic URL check would refuse.
fn check_database_url(raw: &str) -> std::result::Result<(), String> {
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
        return Err("must start with postgresql:// (or postgres://)".into());
    }
    let cfg: postgres::Config =
        raw.parse().map_err(|e: postgres::Error| format!("not a valid PostgreSQL URL ({e})"))?;
    if cfg.get_hosts().is_empty() {
        return Err(
            "the URL names no host: add one (postgresql://user@127.0.0.1:5432/db) or a socket folder (?host=/tmp)"
                .into(),
        );
    }
    Ok(())
}

pub fn check(cfg: &Database) -> CheckResult {
    let start = Instant::now();
    let (status, message) = match query(cfg) {
        Ok(rows) => (CheckStatus::Ok, format!("query answered ({rows} row{})", if rows == 1 { "" } else { "s" })),
        Err(e) => (CheckStatus::Fail, format!("Database not responding: {e}")),
    };
    let mut r = CheckResult::new(&cfg.idents()[0], status, message);
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
