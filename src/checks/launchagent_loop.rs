//! `[launchagents] crash_loop`: a label whose last exit is non-zero and whose
//! `runs` (from `launchctl print`, asked only for such labels, so a healthy
//! run costs nothing more) rose by [`MIN_RUNS`] or more since the previous
//! heartbeat is restarted by launchd in a loop, and fails as one. Each
//! label's memo keeps its `runs` and when it was read.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CheckResult, CheckStatus, Env};
use crate::launchd::launchctl;

/// Starts since the previous run that make a loop.
pub const MIN_RUNS: u64 = 3;

/// What a label keeps: its `runs` and when they were read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    pub runs: u64,
    pub at_ms: i64,
}

/// Turns the warnings of labels that crash-loop into failures, and keeps
/// every asked label's `runs` for the next heartbeat.
pub fn apply(results: &mut [CheckResult], program: &Path, env: &Env) {
    let Some(uid) = launchctl::current_uid() else { return };
    let now_ms = chrono::Utc::now().timestamp_millis();
    for r in results.iter_mut().filter(|r| r.status == CheckStatus::Warn) {
        let target = format!("gui/{uid}/{}", r.name);
        let Ok(out) = crate::proc::run(program, &["print", &target], None, launchctl::CALL_TIMEOUT) else { continue };
        if !out.success() {
            continue;
        }
        let job = launchctl::parse_print(&out.stdout);
        let Some(runs) = job.runs else { continue };
        let before: Option<Runs> = env.memo(&r.id).and_then(|v| serde_json::from_value(v.clone()).ok());
        if let Some(message) = judge(before.as_ref(), runs, now_ms, &job) {
            r.status = CheckStatus::Fail;
            r.message = crate::checks::one_line(&crate::secret::scrub(&message));
        }
        r.memo = serde_json::to_value(Runs { runs, at_ms: now_ms }).ok();
    }
}

/// The crash-loop message, when `runs` rose by [`MIN_RUNS`]+ since `before`.
pub fn judge(before: Option<&Runs>, runs: u64, now_ms: i64, job: &launchctl::JobInfo) -> Option<String> {
    let before = before?;
    let started = runs.checked_sub(before.runs)?;
    if started < MIN_RUNS || job.last_exit.is_none_or(|e| e == 0) {
        return None;
    }
    let minutes = ((now_ms - before.at_ms).max(0) / 60_000).max(1);
    let exit = match job.last_exit {
        Some(e) if e >= 0 => launchctl::describe_exit(e).replacen("exited ", "", 1),
        Some(e) => format!("({})", launchctl::describe_exit(e)),
        None => String::new(),
    };
    let reason = job.last_exit_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    Some(format!("crash loop: started {started} times in {minutes} {unit}, last exit {exit}{reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_runs_with_a_failing_exit_are_a_loop() {
        let job = launchctl::JobInfo { last_exit: Some(78), ..Default::default() };
        let was = Runs { runs: 10, at_ms: 0 };
        assert_eq!(
            judge(Some(&was), 40, 300_000, &job).as_deref(),
            Some("crash loop: started 30 times in 5 minutes, last exit 78 (EX_CONFIG)")
        );
        assert_eq!(judge(Some(&was), 12, 300_000, &job), None, "2 starts are not a loop");
        assert_eq!(judge(None, 40, 300_000, &job), None, "the first run only records");
        let fine = launchctl::JobInfo { last_exit: Some(0), ..Default::default() };
        assert_eq!(judge(Some(&was), 40, 300_000, &fine), None);
        let signed = launchctl::JobInfo {
            last_exit: Some(-9),
            last_exit_reason: Some("OS_REASON_CODESIGNING".into()),
            ..Default::default()
        };
        assert!(
            judge(Some(&was), 13, 60_000, &signed)
                .unwrap()
                .ends_with("last exit (killed by signal 9 (SIGKILL)) (OS_REASON_CODESIGNING)")
        );
    }
}
