//! LaunchAgents: one `launchctl list` call, parsed for every configured label.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity, each};
use crate::launchd::launchctl::{self, ListEntry};

/// Every label's latency is that of the one `launchctl list` they share.
pub const MEASUREMENT: &str = "LaunchAgents (one `launchctl list`)";

/// launchctl answers in milliseconds; this only guards against a wedged one.
const TIMEOUT: Duration = Duration::from_secs(5);

crate::check_section! {
    /// `[launchagents]`: LaunchAgent labels that must be loaded.
    pub struct LaunchAgents {
        /// Labels that must be loaded.
        pub labels: Vec<String> = Vec::new(),
        /// What "not loaded" counts as; a non-zero last exit is always a warning.
        pub severity: Severity = Severity::Critical,
        /// Restart a failing label: `launchctl kickstart -k` when loaded, `bootstrap` of its installed plist when not (SPEC §12).
        pub restart: bool = false,
        /// A label with a non-zero last exit whose `runs` (`launchctl print`, asked only for such labels) rose by 3+ since the previous run fails as a crash loop.
        pub crash_loop: bool = true,
    }
}

impl Check for LaunchAgents {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "launchagent"
    }
    fn section(&self) -> &'static str {
        "LaunchAgents"
    }
    fn enabled(&self) -> bool {
        !self.labels.is_empty()
    }
    fn idents(&self) -> Vec<Ident> {
        self.labels.iter().map(|l| ident(l, self.severity)).collect()
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        for (i, l) in self.labels.iter().enumerate() {
            if l.is_empty() || l.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
                errs.push(format!(
                    "{at}.labels[{i}] = {l:?}: labels must be non-empty, without whitespace, control characters or '/'"
                ));
            }
        }
        errs
    }
    fn timeout(&self) -> Duration {
        TIMEOUT
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let mut results = check(self, env.launchctl.as_deref());
        if self.crash_loop
            && let Some(program) = env.launchctl.as_deref()
        {
            crate::checks::launchagent_loop::apply(&mut results, program, env);
        }
        for r in &mut results {
            r.measurement = Some(MEASUREMENT);
        }
        results
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

fn ident(label: &str, severity: Severity) -> Ident {
    Ident {
        id: format!("launchagent:{label}"),
        name: label.to_string(),
        kind: "launchagent",
        section: "LaunchAgents",
        severity,
        target: label.to_string(),
    }
}

pub fn check(cfg: &LaunchAgents, program: Option<&Path>) -> Vec<CheckResult> {
    let start = Instant::now();
    let idents = cfg.idents();
    let all = |status, msg: &str| each(&idents, status, msg, start.elapsed().as_millis() as u64);
    let Some(program) = program else {
        return all(CheckStatus::Skipped, "launchctl not found on this system; LaunchAgent checks skipped");
    };
    let out = match crate::proc::run(program, &["list"], None, TIMEOUT) {
        Ok(o) => o,
        Err(crate::proc::SpawnError::NotFound) => {
            return all(CheckStatus::Skipped, "launchctl not found on this system; LaunchAgent checks skipped");
        }
        Err(e) => {
            return all(CheckStatus::Fail, &format!("could not run {}: {e}", program.display()));
        }
    };
    if !out.success() {
        let why = if out.timed_out {
            format!("`launchctl list` did not answer within {} s", TIMEOUT.as_secs())
        } else {
            format!("`launchctl list` failed: {}", crate::proc::tail(&out.stderr, 2, 200))
        };
        return all(CheckStatus::Fail, &why);
    }
    let loaded: HashMap<String, ListEntry> =
        launchctl::parse_list(&out.stdout).into_iter().map(|e| (e.label.clone(), e)).collect();
    let latency = start.elapsed().as_millis() as u64;
    cfg.labels
        .iter()
        .map(|label| {
            let mut r = judge(label, loaded.get(label), cfg.severity);
            r.latency_ms = latency;
            r
        })
        .collect()
}

/// One label's verdict: absent fails at the configured severity; a non-zero
/// last exit is a warning (the job is loaded and will run again).
pub fn judge(label: &str, entry: Option<&ListEntry>, severity: Severity) -> CheckResult {
    let (status, msg) = match entry {
        None => (CheckStatus::Fail, "not loaded".to_string()),
        Some(e) => match (e.pid, e.status) {
            // Running again after a signal: a KeepAlive job that launchd
            // relaunched (`<pid>\t-15\t<label>`); warning on it would page every run.
            (Some(pid), Some(s)) if s < 0 => (
                CheckStatus::Ok,
                format!(
                    "loaded, running (PID {pid}); relaunched after its last run was {}",
                    launchctl::describe_exit(s)
                ),
            ),
            (_, Some(s)) if s != 0 => (
                CheckStatus::Warn,
                format!(
                    "loaded{}, last run {}",
                    e.pid.map(|p| format!(", running (PID {p})")).unwrap_or_default(),
                    launchctl::describe_exit(s)
                ),
            ),
            (Some(pid), _) => (CheckStatus::Ok, format!("loaded, running (PID {pid})")),
            (None, _) => (CheckStatus::Ok, "loaded".to_string()),
        },
    };
    CheckResult::new(&ident(label, severity), status, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_judged_from_the_list() {
        let e = |pid, status| ListEntry { label: "x".into(), pid, status };
        assert_eq!(judge("x", None, Severity::Critical).status, CheckStatus::Fail);
        assert_eq!(judge("x", Some(&e(None, Some(0))), Severity::Critical).status, CheckStatus::Ok);
        let w = judge("x", Some(&e(None, Some(78))), Severity::Critical);
        assert_eq!(w.status, CheckStatus::Warn);
        assert!(w.message.contains("EX_CONFIG"), "{}", w.message);
        let k = judge("x", Some(&e(None, Some(-15))), Severity::Critical);
        assert!(k.message.contains("SIGTERM"), "{}", k.message);
        assert!(judge("x", Some(&e(Some(7), Some(0))), Severity::Critical).message.contains("PID 7"));
        assert_eq!(judge("x", None, Severity::Critical).id, "launchagent:x");
        // A KeepAlive job relaunched after a signal (fixture l02: `42561\t-15\tcom.apple.Finder`).
        let relaunched = judge("x", Some(&e(Some(42561), Some(-15))), Severity::Critical);
        assert_eq!(relaunched.status, CheckStatus::Ok);
        assert!(
            relaunched.message.contains("relaunched") && relaunched.message.contains("SIGTERM"),
            "{}",
            relaunched.message
        );
        // Not running after a signal, or running after a non-zero exit, stays a warning.
        assert_eq!(judge("x", Some(&e(None, Some(-9))), Severity::Critical).status, CheckStatus::Warn);
        assert_eq!(judge("x", Some(&e(Some(7), Some(1))), Severity::Critical).status, CheckStatus::Warn);
    }

    #[test]
    fn no_launchctl_means_skipped() {
        let cfg = LaunchAgents { labels: vec!["a".into(), "b".into()], ..LaunchAgents::default() };
        let r = check(&cfg, None);
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.status == CheckStatus::Skipped));
    }
}
