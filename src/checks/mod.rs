//! The health checks and how they run: concurrently, each under its own
//! timeout, all under the heartbeat's deadline.
//!
//! A failing check is an outcome ([`CheckResult`] with `Fail`), never an
//! `Err`: `?` is kept for the tool's own failures. Each check runs on its own
//! thread; the collector stops waiting for a check when its timeout (or the
//! deadline) passes and reports it as timed out, so a service that accepts
//! the connection and never answers cannot stretch the run.

pub mod http;
pub mod launchagent;
pub mod postgres;
pub mod redis;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Severity};
use crate::exit::Status;

/// Which kind of check produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Redis,
    Database,
    Api,
    Launchagent,
}

impl Kind {
    /// The report section this kind is listed under.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Redis => "Redis",
            Kind::Database => "Database",
            Kind::Api => "API Endpoints",
            Kind::Launchagent => "LaunchAgents",
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

/// One check's result: what a report line and a history entry show.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub kind: Kind,
    pub status: CheckStatus,
    pub severity: Severity,
    pub latency_ms: u64,
    /// One line, secrets scrubbed.
    pub message: String,
}

impl CheckResult {
    pub fn new(name: &str, kind: Kind, severity: Severity, status: CheckStatus, message: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            kind,
            status,
            severity,
            latency_ms: 0,
            message: one_line(&crate::secret::scrub(&message.into())),
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

/// A check waiting to run: what to call it if it never answers, and the
/// work itself, which may return several results (LaunchAgents: one per label).
pub struct Job {
    pub name: String,
    pub kind: Kind,
    pub severity: Severity,
    pub timeout: Duration,
    pub work: Box<dyn FnOnce() -> Vec<CheckResult> + Send>,
}

/// The jobs of every enabled check in the configuration.
pub fn jobs(config: &Config, launchctl: Option<std::path::PathBuf>) -> Vec<Job> {
    let mut jobs = Vec::new();
    if config.redis.enabled {
        jobs.push(redis::job(&config.redis));
    }
    if config.database.enabled {
        jobs.push(postgres::job(&config.database));
    }
    for api in &config.api {
        jobs.push(http::job(api));
    }
    if !config.launchagents.labels.is_empty() {
        jobs.push(launchagent::job(&config.launchagents, launchctl));
    }
    jobs
}

/// Runs every job concurrently. A job still running at its own timeout or at
/// the overall deadline is reported failed ("timed out after N ms"); its
/// thread is abandoned, and dies with the process.
pub fn run_all(jobs: Vec<Job>, deadline: Duration) -> Vec<CheckResult> {
    let start = Instant::now();
    let deadline_at = start + deadline;
    let (tx, rx) = mpsc::channel::<(usize, Vec<CheckResult>, u64)>();
    struct Pending {
        name: String,
        kind: Kind,
        severity: Severity,
        due: Instant,
        limit_ms: u64,
        by_deadline: bool,
    }
    let mut pending: Vec<Option<Pending>> = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let own = start + job.timeout;
        let by_deadline = deadline_at < own;
        pending.push(Some(Pending {
            name: job.name.clone(),
            kind: job.kind,
            severity: job.severity,
            due: own.min(deadline_at),
            limit_ms: if by_deadline { deadline.as_millis() as u64 } else { job.timeout.as_millis() as u64 },
            by_deadline,
        }));
        let thread_tx = tx.clone();
        let work = job.work;
        let name = job.name;
        let (kind, severity) = (job.kind, job.severity);
        let spawned = std::thread::Builder::new().name(format!("check {name}")).spawn(move || {
            let t = Instant::now();
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
                vec![CheckResult::new(
                    &name,
                    kind,
                    severity,
                    CheckStatus::Fail,
                    "the check crashed (a bug in ops-atomic)",
                )]
            });
            let _ = thread_tx.send((i, results, t.elapsed().as_millis() as u64));
        });
        if spawned.is_err() {
            let p = pending[i].take().expect("just pushed");
            let _ = tx.send((
                i,
                vec![CheckResult::new(
                    &p.name,
                    p.kind,
                    p.severity,
                    CheckStatus::Fail,
                    "could not start a thread for this check",
                )],
                0,
            ));
            pending[i] = Some(p);
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
                        let mut r = CheckResult::new(&p.name, p.kind, p.severity, CheckStatus::Fail, why);
                        r.latency_ms = now.duration_since(start).as_millis() as u64;
                        slots[i] = Some(vec![r]);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    slots.into_iter().flatten().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, timeout_ms: u64, sleep_ms: u64) -> Job {
        let n = name.to_string();
        Job {
            name: name.into(),
            kind: Kind::Api,
            severity: Severity::Warning,
            timeout: Duration::from_millis(timeout_ms),
            work: Box::new(move || {
                std::thread::sleep(Duration::from_millis(sleep_ms));
                vec![CheckResult::new(&n, Kind::Api, Severity::Warning, CheckStatus::Ok, "fine")]
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
    fn a_panicking_check_is_a_failure_not_a_crash() {
        let j = Job {
            name: "boom".into(),
            kind: Kind::Redis,
            severity: Severity::Critical,
            timeout: Duration::from_secs(1),
            work: Box::new(|| panic!("bug")),
        };
        let r = run_all(vec![j], Duration::from_secs(1));
        assert_eq!(r[0].status, CheckStatus::Fail);
        assert_eq!(overall(&r), Status::Critical);
    }

    #[test]
    fn overall_follows_severity() {
        let mk = |st, sev| CheckResult::new("x", Kind::Api, sev, st, "");
        assert_eq!(overall(&[]), Status::Healthy);
        assert_eq!(overall(&[mk(CheckStatus::Fail, Severity::Warning)]), Status::Warnings);
        assert_eq!(overall(&[mk(CheckStatus::Warn, Severity::Critical)]), Status::Warnings);
        assert_eq!(
            overall(&[mk(CheckStatus::Skipped, Severity::Critical), mk(CheckStatus::Fail, Severity::Critical)]),
            Status::Critical
        );
    }
}
