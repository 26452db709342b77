//! Phases 1 and 2 of the daily run: the smoke suite (every heartbeat check
//! plus the `[[daily.smoke]]` commands) and the API verification (every
//! endpoint, every expectation named).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::checks::{self, CheckResult, CheckStatus, Env, Ident, Severity};
use crate::config::{Api, Config, Smoke};
use crate::exit::Status;

use super::{Item, Outcome, Output};

/// The tail of a smoke command's output kept for the report.
const TAIL_LINES: usize = 20;
const TAIL_CHARS: usize = 2000;

/// Phase 1: the heartbeat checks (concurrently, under the heartbeat's
/// deadline) while the smoke commands run one after the other.
pub fn smoke_tests(config: &Config, root: &Path, env: &Env) -> Outcome {
    let jobs = checks::jobs(config.checks().into_iter().map(|(_, c)| c), env);
    let deadline = Duration::from_millis(config.monitor.deadline_ms);
    let (results, smokes) = std::thread::scope(|s| {
        let checks = s.spawn(move || checks::run_all(jobs, deadline));
        let smokes: Vec<SmokeResult> = config.daily.smoke.iter().map(|c| run_smoke(c, root)).collect();
        let results = checks.join().unwrap_or_else(|_| {
            let all = Ident {
                id: "checks".into(),
                name: "checks".into(),
                kind: "checks",
                section: "Checks",
                severity: Severity::Critical,
                target: String::new(),
            };
            vec![CheckResult::new(&all, CheckStatus::Fail, "the checks crashed (a bug in ops-atomic)")]
        });
        (results, smokes)
    });
    if results.is_empty() && smokes.is_empty() {
        return Outcome::skipped(
            "nothing to check: every check is disabled and no [[daily.smoke]] command is configured",
        );
    }
    let mut items: Vec<Item> = results.iter().map(check_item).collect();
    items.extend(smokes.iter().map(|s| Item::new(if s.passed { "✅" } else { "❌" }, &s.name, &s.what)));
    let outputs = smokes.iter().filter_map(SmokeResult::output).collect();
    let smoke_failed = smokes.iter().filter(|s| !s.passed).count();
    let impact = checks::overall(&results).max(if smoke_failed > 0 { Status::Critical } else { Status::Healthy });
    let critical = results.iter().filter(|r| r.impact() == Status::Critical).count();
    let warned = results.iter().filter(|r| r.impact() == Status::Warnings).count();
    let ran = results.iter().filter(|r| r.status != CheckStatus::Skipped).count();
    let mut parts = Vec::new();
    if !results.is_empty() {
        parts.push(format!("{} of {ran} checks ok", ran - critical - warned));
    }
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    if warned > 0 {
        parts.push(format!("{warned} warning(s)"));
    }
    if !smokes.is_empty() {
        parts.push(format!("{} of {} smoke commands passed", smokes.len() - smoke_failed, smokes.len()));
        for s in smokes.iter().filter(|s| !s.passed) {
            parts.push(format!("{}: {}", s.name, s.what));
        }
    }
    let mut out = Outcome::judged(impact, critical > 0 || smoke_failed > 0, parts.join(", "));
    out.items = items;
    out.outputs = outputs;
    out
}

fn check_item(r: &CheckResult) -> Item {
    let mut item = Item::new(r.status.emoji(), &r.name, &format!("{} ({} ms)", r.message, r.latency_ms));
    item.impact = r.impact();
    item
}

/// What one smoke command did.
pub struct SmokeResult {
    pub name: String,
    pub passed: bool,
    /// "exit 0", "exit 3", "timed out after 1 s (killed)", "not found: prog", ...
    pub what: String,
    pub tail: String,
}

impl SmokeResult {
    fn output(&self) -> Option<Output> {
        (!self.tail.is_empty()).then(|| Output::new(&self.name, &self.tail))
    }
}

/// Runs one smoke command: argv without a shell, the root as working
/// directory, killed at its timeout.
pub fn run_smoke(cfg: &Smoke, root: &Path) -> SmokeResult {
    let started = Instant::now();
    let mut result = SmokeResult { name: cfg.name.clone(), passed: false, what: String::new(), tail: String::new() };
    let Some((program, args)) = cfg.command.split_first() else {
        result.what = "no command configured".into();
        return result;
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let timeout = Duration::from_secs(cfg.timeout_s);
    match crate::proc::run(&program_path(program, root), &args, Some(root), timeout) {
        Err(crate::proc::SpawnError::NotFound) => result.what = format!("not found: {program}"),
        Err(e) => result.what = format!("could not start {program}: {e}"),
        Ok(o) => {
            result.passed = o.success();
            let ms = o.duration.as_millis();
            result.what = match (o.timed_out, o.code) {
                (true, _) => format!("timed out after {} s (killed)", cfg.timeout_s),
                (false, Some(code)) => format!("exit {code} ({ms} ms)"),
                (false, None) => format!("killed by a signal ({ms} ms)"),
            };
            let both = match (o.stdout.trim_end().is_empty(), o.stderr.trim_end().is_empty()) {
                (_, true) => o.stdout,
                (true, false) => o.stderr,
                (false, false) => format!("{}\n{}", o.stdout.trim_end(), o.stderr),
            };
            result.tail = crate::secret::scrub(&crate::proc::tail(&both, TAIL_LINES, TAIL_CHARS));
        }
    }
    if result.what.is_empty() {
        result.what = format!("{} ms", started.elapsed().as_millis());
    }
    result
}

/// A program named with a relative path ("scripts/check.sh") is relative
/// to the root; a bare name ("true") is looked up on PATH, as execvp does.
fn program_path(program: &str, root: &Path) -> PathBuf {
    let p = Path::new(program);
    if p.is_relative() && program.contains('/') { root.join(p) } else { p.to_path_buf() }
}

/// Phase 2: every `[[api]]` endpoint, with each expectation judged on its own.
pub fn api_verification(config: &Config) -> Outcome {
    if config.api.is_empty() {
        return Outcome::skipped("no [[api]] endpoints configured");
    }
    let verdicts: Vec<Verdict> = std::thread::scope(|s| {
        let handles: Vec<_> = config.api.iter().map(|api| s.spawn(move || verify(api))).collect();
        handles
            .into_iter()
            .zip(&config.api)
            .map(|(h, api)| {
                h.join().unwrap_or_else(|_| Verdict {
                    name: api.name.clone(),
                    severity: api.severity,
                    failed: vec!["the request crashed (a bug in ops-atomic)".into()],
                    slow: None,
                    passed: Vec::new(),
                    latency_ms: 0,
                })
            })
            .collect()
    });
    let failing = verdicts.iter().filter(|v| !v.failed.is_empty()).count();
    let slow = verdicts.iter().filter(|v| v.failed.is_empty() && v.slow.is_some()).count();
    let impact = verdicts.iter().map(Verdict::impact).max().unwrap_or(Status::Healthy);
    let mut summary =
        format!("{} of {} endpoints meet every expectation", verdicts.len() - failing - slow, verdicts.len());
    for v in verdicts.iter().filter(|v| !v.failed.is_empty()) {
        summary.push_str(&format!("; {} ({}): {}", v.name, v.severity.as_str(), v.failed.join(", ")));
    }
    for v in verdicts.iter().filter_map(|v| v.slow.as_ref().map(|s| (v, s))) {
        summary.push_str(&format!("; {}: {}", v.0.name, v.1));
    }
    let mut out = Outcome::judged(impact, failing > 0, summary);
    out.items = verdicts.iter().map(Verdict::item).collect();
    out
}

/// One endpoint's expectations: which passed, which failed.
struct Verdict {
    name: String,
    severity: Severity,
    passed: Vec<String>,
    failed: Vec<String>,
    slow: Option<String>,
    latency_ms: u64,
}

impl Verdict {
    fn impact(&self) -> Status {
        match (self.failed.is_empty(), self.severity, &self.slow) {
            (false, Severity::Critical, _) => Status::Critical,
            (false, Severity::Warning, _) | (true, _, Some(_)) => Status::Warnings,
            (true, _, None) => Status::Healthy,
        }
    }

    fn item(&self) -> Item {
        let mut parts: Vec<String> = self.failed.iter().map(|f| format!("✗ {f}")).collect();
        parts.extend(self.slow.iter().map(|s| format!("⚠ {s}")));
        parts.extend(self.passed.iter().map(|p| format!("✓ {p}")));
        let emoji = match self.impact() {
            Status::Healthy => "✅",
            Status::Warnings if self.failed.is_empty() => "⚠️",
            _ => "❌",
        };
        let mut item = Item::new(emoji, &self.name, &format!("{} ({} ms)", parts.join("; "), self.latency_ms));
        item.impact = self.impact();
        item
    }
}

fn verify(api: &Api) -> Verdict {
    let started = Instant::now();
    let fetched = checks::http::fetch(api, &|n| std::env::var(n).ok());
    let latency_ms = started.elapsed().as_millis() as u64;
    let mut v = Verdict {
        name: api.name.clone(),
        severity: api.severity,
        passed: Vec::new(),
        failed: Vec::new(),
        slow: None,
        latency_ms,
    };
    match fetched {
        Err(e) => v.failed.push(format!("request: {}", crate::secret::scrub(&e))),
        Ok((code, body)) => judge_each(api, code, &body, latency_ms, &mut v),
    }
    v
}

/// Every expectation on its own, so the report names each one that failed.
fn judge_each(api: &Api, code: u16, body: &str, latency_ms: u64, v: &mut Verdict) {
    let want = api.expect_status.map_or("2xx".to_string(), |s| s.to_string());
    let status_ok = api.expect_status.map_or((200..300).contains(&code), |s| s == code);
    let status = format!("status {code} (expected {want})");
    if status_ok {
        v.passed.push(status)
    } else {
        v.failed.push(status)
    }
    if !api.expect_body_contains.is_empty() {
        let found = body.contains(&api.expect_body_contains);
        let what =
            format!("body {} {:?}", if found { "contains" } else { "does not contain" }, api.expect_body_contains);
        if found { v.passed.push(what) } else { v.failed.push(what) }
    }
    if api.max_latency_ms > 0 {
        let what = format!("latency {latency_ms} ms (max {} ms)", api.max_latency_ms);
        if latency_ms > api.max_latency_ms { v.slow = Some(what) } else { v.passed.push(what) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api { name: "API".into(), url: "http://127.0.0.1:1/".into(), ..Api::default() }
    }

    fn verdict() -> Verdict {
        Verdict {
            name: "API".into(),
            severity: Severity::Warning,
            passed: vec![],
            failed: vec![],
            slow: None,
            latency_ms: 0,
        }
    }

    #[test]
    fn each_expectation_is_named() {
        let mut a = api();
        a.expect_status = Some(200);
        a.expect_body_contains = "ok".into();
        a.max_latency_ms = 100;
        let mut v = verdict();
        judge_each(&a, 503, "down", 250, &mut v);
        assert_eq!(v.failed, ["status 503 (expected 200)", "body does not contain \"ok\""]);
        assert_eq!(v.slow.as_deref(), Some("latency 250 ms (max 100 ms)"));
        assert_eq!(v.impact(), Status::Warnings);
        a.severity = Severity::Critical;
        v.severity = Severity::Critical;
        assert_eq!(v.impact(), Status::Critical);
    }

    #[test]
    fn a_passing_endpoint_lists_what_it_met() {
        let mut a = api();
        a.expect_body_contains = "ok".into();
        let mut v = verdict();
        judge_each(&a, 204, "all ok", 3, &mut v);
        assert!(v.failed.is_empty());
        assert_eq!(v.passed, ["status 204 (expected 2xx)", "body contains \"ok\""]);
        assert_eq!(v.impact(), Status::Healthy);
    }

    #[test]
    fn relative_programs_resolve_against_the_root() {
        let root = Path::new("/srv/root");
        assert_eq!(program_path("true", root), Path::new("true"));
        assert_eq!(program_path("scripts/x.sh", root), Path::new("/srv/root/scripts/x.sh"));
        assert_eq!(program_path("/bin/sh", root), Path::new("/bin/sh"));
    }

    #[test]
    fn smoke_commands_report_exit_timeout_and_missing_programs() {
        let root = std::env::temp_dir();
        let smoke = |cmd: &[&str], timeout_s| Smoke {
            name: "s".into(),
            command: cmd.iter().map(|s| s.to_string()).collect(),
            timeout_s,
        };
        let ok = run_smoke(&smoke(&["true"], 5), &root);
        assert!(ok.passed, "{}", ok.what);
        let bad = run_smoke(&smoke(&["sh", "-c", "echo boom; exit 3"], 5), &root);
        assert!(!bad.passed);
        assert!(bad.what.starts_with("exit 3"), "{}", bad.what);
        assert_eq!(bad.tail, "boom");
        let hung = run_smoke(&smoke(&["sleep", "30"], 1), &root);
        assert_eq!(hung.what, "timed out after 1 s (killed)");
        let missing = run_smoke(&smoke(&["no-such-program-ops-atomic"], 1), &root);
        assert_eq!(missing.what, "not found: no-such-program-ops-atomic");
    }
}
