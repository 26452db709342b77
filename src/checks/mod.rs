//! The health checks: the `Check` seam every kind implements, the result
//! every kind produces, and how they run: concurrently, each under its own
//! timeout, all under the heartbeat's deadline.
//!
//! A kind is one file here. Its struct is both its config section (serde,
//! defaults, doc comments) and its implementation of [`Check`]: what it is
//! called, how its section is validated, which secrets it holds, where it
//! looks and how it runs. `config::Config::checks` is the registry. Nothing
//! else in the program names a kind.
//!
//! A failing check is an outcome ([`CheckResult`] with `Fail`), never an
//! `Err`: `?` is kept for the tool's own failures. Each check runs on its own
//! thread; the collector stops waiting for a check when its timeout (or the
//! deadline) passes and reports it as timed out, so a service that accepts
//! the connection and never answers cannot stretch the run.

pub mod cert;
pub mod command;
pub mod common;
pub mod conditions;
pub mod container;
pub mod disk;
pub mod file;
pub mod http;
pub mod job;
pub mod launchagent;
pub mod launchagent_loop;
pub mod port_owner;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod redis_value;
pub mod selfcheck;
pub mod sql;
pub mod tcp;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exit::Status;

pub use common::Common;

/// How much a failing check counts towards the overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// One kind of check: its config section and how it runs.
pub trait Check: Send + Sync {
    /// The kind as ids, history, metrics and `--json` name it: `"redis"`, `"api"`.
    fn kind(&self) -> &'static str;
    /// The report heading this kind's results are listed under.
    fn section(&self) -> &'static str;
    /// The keys every check takes: thresholds, notify, depends_on, repair
    /// (declared by [`check_section!`]).
    fn common(&self) -> Common;
    /// Whether the section asks for any check at all.
    fn enabled(&self) -> bool {
        true
    }
    /// The checks this section yields, in order (LaunchAgents: one per label).
    fn idents(&self) -> Vec<Ident>;
    /// Every problem in the section, each naming its key under `at` (`"api[0]"`).
    fn validate(&self, at: &str) -> Vec<String>;
    /// Secret values the section holds, to scrub from anything printed.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
    /// Replaces the secrets with `***`, for `config show`.
    fn redact(&mut self) {}
    /// Its own time limit; the heartbeat's deadline bounds it too.
    fn timeout(&self) -> Duration;
    /// Runs the check: one result per ident, failures as outcomes.
    fn run(&self, env: &Env) -> Vec<CheckResult>;
    /// An owned copy for the thread that runs it (the runner abandons a hung
    /// check's thread, so it cannot borrow the config).
    fn boxed(&self) -> Box<dyn Check>;
}

/// What a check may need from the machine it runs on.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The launchctl program, if this system has one.
    pub launchctl: Option<PathBuf>,
    /// The root: the working directory of commands a check runs.
    pub root: PathBuf,
    /// What each check kept from earlier runs ([`CheckResult::memo`]), by id.
    pub memos: std::sync::Arc<std::collections::BTreeMap<String, serde_json::Value>>,
    /// What `[self]` needs about this root (its paths and configuration);
    /// `None` where no root is at hand (`[self]` is then skipped).
    pub me: Option<std::sync::Arc<dyn selfcheck::Inspect>>,
}

impl Env {
    /// What the check `id` kept from its earlier runs.
    pub fn memo(&self, id: &str) -> Option<&serde_json::Value> {
        self.memos.get(id)
    }
}

/// Who a result is about: the stable id (SPEC §3 "Check identity"), the
/// name people read, and where it looks.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// `redis`, `database`, `api:<name>`, `launchagent:<label>`, …
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub section: &'static str,
    pub severity: Severity,
    /// Where it looks, without secrets: `127.0.0.1:6379`, a URL, a label.
    pub target: String,
}

impl Ident {
    /// One of several checks of a kind: id `<kind>:<name>`.
    pub fn named(check: &dyn Check, name: &str, severity: Severity, target: impl Into<String>) -> Ident {
        Ident {
            id: format!("{}:{name}", check.kind()),
            name: name.to_string(),
            kind: check.kind(),
            section: check.section(),
            severity,
            target: target.into(),
        }
    }

    /// The one check of its kind (`redis`, `database`, `self`): id = kind.
    pub fn single(check: &dyn Check, name: impl Into<String>, severity: Severity, target: impl Into<String>) -> Ident {
        Ident {
            id: check.kind().to_string(),
            name: name.into(),
            kind: check.kind(),
            section: check.section(),
            severity,
            target: target.into(),
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
    Skipped,
}

impl CheckStatus {
    pub fn emoji(self) -> &'static str {
        match self {
            CheckStatus::Ok => "✅",
            CheckStatus::Warn => "⚠️",
            CheckStatus::Fail => "❌",
            CheckStatus::Skipped => "⏭️",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
        }
    }
}

/// One check's result: what a report line, a history entry and `--json` show.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// The report heading of its kind.
    #[serde(skip)]
    pub section: &'static str,
    pub status: CheckStatus,
    pub severity: Severity,
    pub latency_ms: u64,
    /// One line, secrets scrubbed.
    pub message: String,
    /// Where it looked, without secrets.
    pub target: String,
    /// What the check keeps for its next run (stored in the state by id).
    #[serde(skip)]
    pub memo: Option<serde_json::Value>,
    /// The one call that measured several checks at once, when there is
    /// one (the LaunchAgent labels of one `launchctl list`).
    #[serde(skip)]
    pub measurement: Option<&'static str>,
    /// Performance data (`[[command]]` plugins): history, `--json`, Prometheus.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    /// When the certificate of an https `[[api]]` with `cert_min_days` expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The numbers its conditions read (SPEC §16): history, `--json`,
    /// Prometheus (`ops_atomic_check_value`), the page.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<conditions::Reading>,
}

/// One value of a plugin's performance data: `'label'=value[unit];…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub label: String,
    pub value: f64,
    /// `s`, `ms`, `%`, `B`, `KB`, `c`, … or empty.
    pub unit: String,
}

impl CheckResult {
    pub fn new(who: &Ident, status: CheckStatus, message: impl Into<String>) -> Self {
        CheckResult {
            id: who.id.clone(),
            name: who.name.clone(),
            kind: who.kind,
            section: who.section,
            status,
            severity: who.severity,
            latency_ms: 0,
            message: one_line(&crate::secret::scrub(&message.into())),
            target: crate::secret::scrub(&who.target),
            memo: None,
            measurement: None,
            metrics: Vec::new(),
            cert_expires_at: None,
            values: Vec::new(),
        }
    }

    /// What this result contributes to the overall status.
    pub fn impact(&self) -> Status {
        match (self.status, self.severity) {
            (CheckStatus::Fail, Severity::Critical) => Status::Critical,
            (CheckStatus::Fail, Severity::Warning) | (CheckStatus::Warn, _) => Status::Warnings,
            (CheckStatus::Ok | CheckStatus::Skipped, _) => Status::Healthy,
        }
    }
}

/// The same result for every ident: a section-wide answer ("launchctl not
/// found"), a timeout, a crash.
pub fn each(idents: &[Ident], status: CheckStatus, message: &str, latency_ms: u64) -> Vec<CheckResult> {
    idents
        .iter()
        .map(|who| {
            let mut r = CheckResult::new(who, status, message);
            r.latency_ms = latency_ms;
            r
        })
        .collect()
}

/// Overall status: CRITICAL if any critical failure, else WARNINGS if any
/// warning or warning-severity failure, else HEALTHY.
pub fn overall(results: &[CheckResult]) -> Status {
    results.iter().map(CheckResult::impact).max().unwrap_or(Status::Healthy)
}

/// Collapses a message to one line of at most 300 characters.
pub fn one_line(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        let mut cut: String = flat.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        flat
    }
}

/// A check waiting to run: who it reports on if it never answers, and the
/// work itself, which may return several results (LaunchAgents: one per label).
pub struct Job {
    pub idents: Vec<Ident>,
    pub timeout: Duration,
    pub work: Box<dyn FnOnce() -> Vec<CheckResult> + Send>,
}

impl Job {
    /// The job of one enabled check section.
    pub fn of(check: &dyn Check, env: &Env) -> Job {
        let owned = check.boxed();
        let env = env.clone();
        Job { idents: check.idents(), timeout: check.timeout(), work: Box::new(move || owned.run(&env)) }
    }
}

/// The jobs of the given check sections that are enabled.
pub fn jobs<'a>(checks: impl IntoIterator<Item = &'a dyn Check>, env: &Env) -> Vec<Job> {
    checks.into_iter().filter(|c| c.enabled()).map(|c| Job::of(c, env)).collect()
}

/// Runs every job concurrently. A job still running at its own timeout or at
/// the overall deadline is reported failed ("timed out after N ms"); its
/// thread is abandoned, and dies with the process.
pub fn run_all(jobs: Vec<Job>, deadline: Duration) -> Vec<CheckResult> {
    let start = Instant::now();
    let deadline_at = start + deadline;
    let (tx, rx) = mpsc::channel::<(usize, Vec<CheckResult>, u64)>();
    struct Pending {
        idents: Vec<Ident>,
        due: Instant,
        limit_ms: u64,
        by_deadline: bool,
    }
    let mut pending: Vec<Option<Pending>> = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let own = start + job.timeout;
        let by_deadline = deadline_at < own;
        pending.push(Some(Pending {
            idents: job.idents.clone(),
            due: own.min(deadline_at),
            limit_ms: if by_deadline { deadline.as_millis() as u64 } else { job.timeout.as_millis() as u64 },
            by_deadline,
        }));
        let thread_tx = tx.clone();
        let work = job.work;
        let idents = job.idents;
        let name = idents.first().map_or_else(String::new, |w| w.id.clone());
        let spawned = std::thread::Builder::new().name(format!("check {name}")).spawn(move || {
            let t = Instant::now();
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| each(&idents, CheckStatus::Fail, "the check crashed (a bug in ops-atomic)", 0));
            let _ = thread_tx.send((i, results, t.elapsed().as_millis() as u64));
        });
        if spawned.is_err() {
            let idents = pending[i].as_ref().map(|p| p.idents.clone()).unwrap_or_default();
            let _ = tx.send((i, each(&idents, CheckStatus::Fail, "could not start a thread for this check", 0), 0));
        }
    }
    drop(tx);

    let mut slots: Vec<Option<Vec<CheckResult>>> = vec![None; pending.len()];
    while let Some(next_due) = pending.iter().flatten().map(|p| p.due).min() {
        let wait = next_due.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok((i, mut results, elapsed)) => {
                if pending[i].take().is_some() {
                    for r in &mut results {
                        if r.latency_ms == 0 {
                            r.latency_ms = elapsed;
                        }
                    }
                    slots[i] = Some(results);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                for (i, slot) in pending.iter_mut().enumerate() {
                    if slot.as_ref().is_some_and(|p| p.due <= now) {
                        let p = slot.take().expect("checked");
                        let why = if p.by_deadline {
                            format!("timed out after {} ms (the heartbeat's deadline_ms)", p.limit_ms)
                        } else {
                            format!("timed out after {} ms", p.limit_ms)
                        };
                        let latency = now.duration_since(start).as_millis() as u64;
                        slots[i] = Some(each(&p.idents, CheckStatus::Fail, &why, latency));
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    slots.into_iter().flatten().flatten().collect()
}

/// Bytes as people read them: `512 B`, `4.0 KiB`, `12.3 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A duration as people read it: `45 s`, `12 min`, `3 h 12 min`, `2 d 4 h`.
pub fn human_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 if secs % 3600 / 60 == 0 => format!("{} h", secs / 3600),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ if secs % 86_400 / 3600 == 0 => format!("{} d", secs / 86_400),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

#[cfg(test)]
pub(crate) fn ident(id: &str, severity: Severity) -> Ident {
    Ident { id: id.into(), name: id.into(), kind: "api", section: "API Endpoints", severity, target: String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, timeout_ms: u64, sleep_ms: u64) -> Job {
        let who = ident(name, Severity::Warning);
        let idents = vec![who.clone()];
        Job {
            idents,
            timeout: Duration::from_millis(timeout_ms),
            work: Box::new(move || {
                std::thread::sleep(Duration::from_millis(sleep_ms));
                vec![CheckResult::new(&who, CheckStatus::Ok, "fine")]
            }),
        }
    }

    #[test]
    fn results_keep_the_configured_order() {
        let r = run_all(vec![job("a", 1000, 30), job("b", 1000, 1)], Duration::from_secs(5));
        let names: Vec<_> = r.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(r.iter().all(|r| r.status == CheckStatus::Ok));
    }

    #[test]
    fn a_hung_check_fails_at_its_own_timeout() {
        let r = run_all(vec![job("hung", 50, 10_000), job("quick", 1000, 1)], Duration::from_secs(5));
        assert_eq!(r[0].status, CheckStatus::Fail);
        assert_eq!(r[0].message, "timed out after 50 ms");
        assert_eq!(r[1].status, CheckStatus::Ok);
    }

    #[test]
    fn the_deadline_bounds_every_check() {
        let r = run_all(vec![job("slow", 10_000, 10_000)], Duration::from_millis(60));
        assert_eq!(r[0].status, CheckStatus::Fail);
        assert!(r[0].message.contains("deadline_ms"), "{}", r[0].message);
    }

    #[test]
    fn a_hung_section_fails_every_check_it_holds() {
        let idents = vec![ident("launchagent:a", Severity::Critical), ident("launchagent:b", Severity::Critical)];
        let j = Job {
            idents,
            timeout: Duration::from_millis(30),
            work: Box::new(|| {
                std::thread::sleep(Duration::from_secs(5));
                Vec::new()
            }),
        };
        let r = run_all(vec![j], Duration::from_secs(1));
        let ids: Vec<_> = r.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(ids, [("launchagent:a", CheckStatus::Fail), ("launchagent:b", CheckStatus::Fail)]);
    }

    #[test]
    fn a_panicking_check_is_a_failure_not_a_crash() {
        let j = Job {
            idents: vec![ident("redis", Severity::Critical)],
            timeout: Duration::from_secs(1),
            work: Box::new(|| panic!("bug")),
        };
        let r = run_all(vec![j], Duration::from_secs(1));
        assert_eq!(r[0].status, CheckStatus::Fail);
        assert_eq!(overall(&r), Status::Critical);
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(4096), "4.0 KiB");
        assert_eq!(human_bytes(13_207_024_435), "12.3 GiB");
        assert_eq!(human_secs(45), "45 s");
        assert_eq!(human_secs(720), "12 min");
        assert_eq!(human_secs(3 * 3600), "3 h");
        assert_eq!(human_secs(3 * 3600 + 720), "3 h 12 min");
        assert_eq!(human_secs(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }

    #[test]
    fn overall_follows_severity() {
        let mk = |st, sev| CheckResult::new(&ident("x", sev), st, "");
        assert_eq!(overall(&[]), Status::Healthy);
        assert_eq!(overall(&[mk(CheckStatus::Fail, Severity::Warning)]), Status::Warnings);
        assert_eq!(overall(&[mk(CheckStatus::Warn, Severity::Critical)]), Status::Warnings);
        assert_eq!(
            overall(&[mk(CheckStatus::Skipped, Severity::Critical), mk(CheckStatus::Fail, Severity::Critical)]),
            Status::Critical
        );
    }
}
