//! `ops-atomic daily`: the five phases of the daily run (SPEC §8).
//!
//! The phases are Smoke tests, API verification, Notify prep, Report
//! (24-hour summary and housekeeping) and Notify. They run in order and
//! each is caught on its own: a phase that fails, or crashes on a bug, is
//! reported as failed and the next one still runs.
//!
//! A phase has a status (passed / warning / failed / skipped) and an impact
//! on the daily status: failures count at the severity of what failed
//! (critical checks and smoke commands: CRITICAL; warning-severity checks
//! and endpoints, notification trouble, housekeeping problems: WARNINGS; a
//! crashed phase: CRITICAL). The daily status is the worst impact, and gives
//! the exit code 0/1/2. Exit 3 is kept for the tool's own failures: the
//! state lock timing out or the report folder not writable.

mod housekeeping;
mod notify;
mod render;
mod suite;
pub mod summary;

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::json;

use crate::cli::RunArgs;
use crate::config::{Config, Loaded};
use crate::exit::{Result, Status};
use crate::fail;
use crate::log;
use crate::paths::Paths;
use crate::report;

pub use housekeeping::Done as Housekeeping;
pub use summary::Summary;

/// The number of phases, for "Phase 2/5".
const PHASES: usize = 5;

/// How a phase went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PhaseStatus {
    Passed,
    Warning,
    Failed,
    Skipped,
}

impl PhaseStatus {
    pub fn emoji(self) -> &'static str {
        match self {
            PhaseStatus::Passed => "✅",
            PhaseStatus::Warning => "⚠️",
            PhaseStatus::Failed => "❌",
            PhaseStatus::Skipped => "⏭️",
        }
    }

    /// As in "Phase 1/5: Smoke tests passed with warnings".
    pub fn verb(self) -> &'static str {
        match self {
            PhaseStatus::Passed => "passed",
            PhaseStatus::Warning => "passed with warnings",
            PhaseStatus::Failed => "failed",
            PhaseStatus::Skipped => "skipped",
        }
    }
}

/// One line of a phase's details: a check, a smoke command, an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub emoji: String,
    pub name: String,
    pub message: String,
    #[serde(skip)]
    pub impact: Status,
}

impl Item {
    pub fn new(emoji: &str, name: &str, message: &str) -> Item {
        let impact = match emoji {
            "❌" => Status::Critical,
            "⚠️" => Status::Warnings,
            _ => Status::Healthy,
        };
        Item { emoji: emoji.into(), name: name.into(), message: crate::secret::scrub(message), impact }
    }
}

/// Captured program output, shown in a code block.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub name: String,
    /// A backtick fence longer than any run of backticks in the text.
    pub fence: String,
    pub text: String,
}

impl Output {
    pub fn new(name: &str, text: &str) -> Output {
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        Output { name: name.into(), fence: "`".repeat(longest.max(2) + 1), text: text.into() }
    }
}

/// What a phase found; [`run_phase`] adds its number, name and duration.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: PhaseStatus,
    pub impact: Status,
    /// One line: what happened.
    pub summary: String,
    pub items: Vec<Item>,
    pub outputs: Vec<Output>,
}

impl Outcome {
    /// Failed when `failed`, else warning or passed by the impact.
    pub fn judged(impact: Status, failed: bool, summary: impl Into<String>) -> Outcome {
        let status = match (failed, impact) {
            (true, _) => PhaseStatus::Failed,
            (false, Status::Healthy) => PhaseStatus::Passed,
            (false, _) => PhaseStatus::Warning,
        };
        Outcome { status, impact, summary: summary.into(), items: Vec::new(), outputs: Vec::new() }
    }

    pub fn skipped(why: impl Into<String>) -> Outcome {
        Outcome {
            status: PhaseStatus::Skipped,
            impact: Status::Healthy,
            summary: why.into(),
            items: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

/// A finished phase.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub number: usize,
    pub name: &'static str,
    pub status: PhaseStatus,
    #[serde(serialize_with = "status_name")]
    pub impact: Status,
    pub emoji: &'static str,
    pub duration_ms: u64,
    pub summary: String,
    pub items: Vec<Item>,
    pub outputs: Vec<Output>,
}

fn status_name<S: Serializer>(s: &Status, ser: S) -> std::result::Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// Runs one phase with progress lines, turning a panic into a failed phase.
pub fn run_phase(number: usize, name: &'static str, work: impl FnOnce() -> Outcome) -> Phase {
    log::info(&format!("▶ Phase {number}/{PHASES}: {name}"));
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Outcome::judged(Status::Critical, true, format!("crashed: {why} (a bug in ops-atomic; please report it)"))
    });
    let phase = Phase {
        number,
        name,
        status: outcome.status,
        impact: outcome.impact,
        emoji: outcome.status.emoji(),
        duration_ms: started.elapsed().as_millis() as u64,
        summary: crate::secret::scrub(&outcome.summary),
        items: outcome.items,
        outputs: outcome.outputs,
    };
    log_phase(&phase);
    phase
}

fn log_phase(p: &Phase) {
    for item in &p.items {
        let text = format!("  {} {}: {}", item.emoji, item.name, item.message);
        match item.impact {
            Status::Healthy => log::info(&text),
            Status::Warnings => log::warn(&text),
            Status::Critical => log::error(&text),
        }
    }
    let head = format!("{} Phase {}/{PHASES}: {} {}", p.emoji, p.number, p.name, p.status.verb());
    match p.status {
        PhaseStatus::Passed => log::info(&format!("{head} ({} ms)", p.duration_ms)),
        PhaseStatus::Skipped => log::info(&format!("{head}: {}", p.summary)),
        PhaseStatus::Warning => log::warn(&format!("{head} ({} ms): {}", p.duration_ms, p.summary)),
        PhaseStatus::Failed => log::error(&format!("{head} ({} ms): {}", p.duration_ms, p.summary)),
    }
}

/// The daily status: the worst impact of the phases.
pub fn overall(phases: &[Phase]) -> Status {
    phases.iter().map(|p| p.impact).max().unwrap_or(Status::Healthy)
}

/// Everything one daily run gathers, for the report, the message and `--json`.
pub struct Day {
    pub now: DateTime<Utc>,
    pub started: Instant,
    pub phases: Vec<Phase>,
    pub summary: Option<Summary>,
    pub housekeeping: Option<Housekeeping>,
    pub report: report::Reserved,
    /// Whether the report was written (phase 4).
    pub report_written: bool,
    pub notify: notify::Delivery,
    /// The tool's own failures (exit 3).
    pub errors: Vec<String>,
}

/// What every phase works with: the root's paths and the checked config.
pub struct Setup<'a> {
    pub paths: &'a Paths,
    pub config: &'a Config,
}

pub fn run(paths: &Paths, loaded: &Loaded, args: RunArgs) -> Result<u8> {
    log::info("=== OPS-Atomic Daily Starting ===");
    if let Some(path) = loaded.named_file() {
        log::info(&format!("Config: {}", path.display()));
    }
    let ctx = &Setup { paths, config: &loaded.config };
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let mut day = Day {
        now,
        started: Instant::now(),
        phases: Vec::new(),
        summary: None,
        housekeeping: None,
        report: report::reserve(&ctx.paths.reports_dir(), "daily", now),
        report_written: false,
        notify: notify::Delivery::default(),
        errors: Vec::new(),
    };
    let cfg = &ctx.config;
    let env = crate::checks::Env {
        launchctl: crate::launchd::launchctl::program(),
        root: paths.root.clone(),
        memos: std::sync::Arc::new(crate::state::peek(paths).map(|st| st.memos()).unwrap_or_default()),
        me: crate::selfwatch::Facts::of(paths, loaded),
    };
    let p = run_phase(1, "Smoke tests", || suite::smoke_tests(cfg, &ctx.paths.root, &env));
    day.phases.push(p);
    let p = run_phase(2, "API verification", || suite::api_verification(cfg));
    day.phases.push(p);
    let p = run_phase(3, "Notify prep", || notify::prep(ctx, &day));
    day.phases.push(p);
    let p = run_phase(4, "Report", || report_phase(ctx, &mut day));
    day.phases.push(p);
    let p = run_phase(5, "Notify", || notify::send(ctx, &mut day, args.no_notify));
    day.phases.push(p);

    // The final report holds all five phases; phase 4 wrote it without phase 5.
    if day.report_written
        && let Err(e) = write_report(ctx, &day)
    {
        log::error(&e.0);
        day.errors.push(e.0);
    }
    let status = overall(&day.phases);
    log::info(&format!("=== Daily Complete: {} {} ===", status.emoji(), status));
    if args.json {
        print_json(ctx, &day, status);
    }
    let phases: Vec<String> = day.phases.iter().map(|p| format!("{} {}", p.name, p.status.verb())).collect();
    let summary = format!("Daily {status}: {}", phases.join(", "));
    let outcome =
        crate::pings::Outcome { status, failed: !day.errors.is_empty(), summary, duration: day.started.elapsed() };
    crate::pings::send_all(&cfg.ping, crate::pings::On::Daily, &outcome);
    if !day.errors.is_empty() {
        return Err(fail!("{}", day.errors.join("; ")));
    }
    Ok(status.exit_code())
}

/// How long the machine slept since the last heartbeat, from the clocks
/// it stored (SPEC §15): a daily run right after a wake does not count
/// that sleep as missed heartbeats.
fn slept_since_last_heartbeat(ctx: &Setup) -> Option<i64> {
    let st = crate::state::peek(ctx.paths)?;
    let w = crate::incidents::laptop::wake(st.slept_since_boot_s, st.boot_time, &crate::sleep::measure()?)?;
    Some(w.slept_s)
}

/// Phase 4: history (trimmed under the state lock), the 24-hour summary,
/// housekeeping, and the report file.
fn report_phase(ctx: &Setup, day: &mut Day) -> Outcome {
    let cfg = &ctx.config;
    let mut done = Housekeeping::default();
    // What the page's week and the 24-hour summary read, as streams: the
    // readers keep the window, whatever the files have grown to.
    let week_from = day.now - chrono::Duration::days(crate::page::DEFAULT_WINDOW_DAYS);
    let lines = match history_trimmed(ctx, day.now, &mut done) {
        Ok(()) => crate::history::read_window(ctx.paths, week_from, None),
        Err(e) => {
            log::error(&e.0);
            day.errors.push(e.0);
            crate::history::read_window(ctx.paths, week_from, None)
        }
    };
    let lines = match lines {
        Ok(r) => {
            if let Some(s) = r.skipped.describe("the history") {
                log::warn(&s);
            }
            r.lines
        }
        Err(e) => {
            log::warn(&e.0);
            Vec::new()
        }
    };
    // The week's events, and what an incident open at its start carries from before.
    let events = match crate::events::read_window(ctx.paths, week_from, None) {
        Ok(w) => {
            if let Some(s) = w.skipped.describe("the event log") {
                log::warn(&s);
            }
            w.events
        }
        Err(e) => {
            log::warn(&e.0);
            Vec::new()
        }
    };
    let window = chrono::Duration::hours(summary::WINDOW_HOURS);
    let mut summary = summary::summarise(&lines, &events, day.now, window, cfg.launchd.interval_s);
    summary.jobs = crate::jobs::all_stats(ctx.paths, &crate::jobs::configured(cfg), day.now - window);
    if let Some(slept) = slept_since_last_heartbeat(ctx) {
        summary.asleep_until_now(slept);
    }
    // The status page over its week, from the same lines and events.
    crate::page::refresh_from(ctx.paths, cfg, day.now, &lines, &events);
    let (deleted, kept, problems) =
        housekeeping::prune_reports(&ctx.paths.reports_dir(), day.now, cfg.daily.retention_days);
    (done.reports_deleted, done.reports_kept) = (deleted, kept);
    done.problems.extend(problems);
    let (rotated, problems) = housekeeping::rotate_logs(&ctx.paths.logs_dir(), cfg.daily.max_log_bytes);
    done.logs_rotated = rotated;
    done.problems.extend(problems);
    match events_compacted(ctx, day.now) {
        Ok(c) => done.events = Some(c),
        Err(e) => {
            log::warn(&e.0);
            done.problems.push(e.0);
        }
    }
    log::info(&format!(
        "Last 24 h: {} of {} heartbeats, {} missed; {} alert(s), {} recovery(ies)",
        summary.runs_seen, summary.runs_expected, summary.missed, summary.alerts, summary.recoveries
    ));
    log::info(&format!(
        "Housekeeping: {} report(s) deleted, {} log(s) rotated, history {} kept / {} dropped",
        done.reports_deleted,
        done.logs_rotated.len(),
        done.history_kept,
        done.history_dropped + done.history_unreadable
    ));
    let problems = done.problems.clone();
    let heartbeat = summary.heartbeat_problem(cfg.daily.min_heartbeat_percent);
    day.summary = Some(summary);
    day.housekeeping = Some(done);

    let written = write_report(ctx, day);
    day.report_written = written.is_ok();
    let items: Vec<Item> = problems.iter().map(|p| Item::new("⚠️", "housekeeping", p)).collect();
    let mut out = match written {
        Err(e) => {
            log::error(&format!("{} (make the folder writable)", e.0));
            day.errors.push(e.0.clone());
            Outcome::judged(Status::Warnings, true, e.0)
        }
        Ok(()) if !problems.is_empty() => {
            log::info(&format!("Report generated: {}", day.report.file_name()));
            Outcome::judged(
                Status::Warnings,
                false,
                format!("{}; housekeeping: {}", day.report.file_name(), problems.join("; ")),
            )
        }
        Ok(()) => {
            log::info(&format!("Report generated: {}", day.report.file_name()));
            Outcome::judged(Status::Healthy, false, format!("{} written", day.report.file_name()))
        }
    };
    if !day.errors.is_empty() && out.status != PhaseStatus::Failed {
        out = Outcome::judged(Status::Warnings, true, day.errors.join("; "));
    }
    out.items = items;
    // SPEC §8: no heartbeat in the window is CRITICAL, too few a warning.
    if let Some((critical, text)) = heartbeat {
        let impact = if critical { Status::Critical } else { Status::Warnings };
        log::warn(&text);
        let mut judged = Outcome::judged(impact.max(out.impact), critical || out.status == PhaseStatus::Failed, "");
        judged.summary = format!("{text}; {}", out.summary);
        judged.items = std::mem::take(&mut out.items);
        judged.items.insert(0, Item::new(if critical { "❌" } else { "⚠️" }, "heartbeat", &text));
        out = judged;
    }
    out
}

/// Trims the history to 8 days, under the state lock so that no heartbeat
/// appends in between.
fn history_trimmed(ctx: &Setup, now: DateTime<Utc>, done: &mut Housekeeping) -> Result<()> {
    let lock = crate::state::lock(ctx.paths, crate::state::lock_wait(), "daily")?;
    let cutoff = now - chrono::Duration::days(housekeeping::HISTORY_DAYS);
    let t = crate::history::trim(ctx.paths, cutoff)?;
    drop(lock);
    (done.history_kept, done.history_dropped, done.history_unreadable) = (t.kept, t.dropped, t.unreadable);
    Ok(())
}

/// Keeps the event log to its retention and size cap (SPEC §8), under the
/// state lock; never what the page's week or an open incident needs.
fn events_compacted(ctx: &Setup, now: DateTime<Utc>) -> Result<crate::events::Compacted> {
    let lock = crate::state::lock(ctx.paths, crate::state::lock_wait(), "daily")?;
    let c = crate::events::compact(
        ctx.paths,
        now,
        now - chrono::Duration::days(housekeeping::EVENT_DAYS),
        now - chrono::Duration::days(housekeeping::HISTORY_DAYS),
        ctx.config.daily.max_events_bytes,
    )?;
    drop(lock);
    Ok(c)
}

fn write_report(ctx: &Setup, day: &Day) -> Result<()> {
    let text = render::report(ctx, day)?;
    report::write(&day.report, &text)
}

fn print_json(ctx: &Setup, day: &Day, status: Status) {
    let doc = json!({
        "status": status.as_str(),
        "exit_code": if day.errors.is_empty() { status.exit_code() } else { crate::exit::TOOL_FAILURE },
        "timestamp": log::timestamp(day.now),
        "duration_ms": day.started.elapsed().as_millis() as u64,
        "phases": day.phases,
        "history": day.summary,
        "housekeeping": day.housekeeping,
        "notifications": {
            "enabled": ctx.config.notifications_enabled(),
            "daily_message": day.notify.decided,
            "delivered": day.notify.delivered,
            "pending": day.notify.pending,
            "last_error": day.notify.error,
        },
        "report": day.report.path,
        "errors": day.errors,
    });
    crate::log::print(&crate::secret::scrub(&serde_json::to_string_pretty(&doc).unwrap_or_default()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashing_phase_is_a_failed_phase() {
        let p = run_phase(2, "API verification", || panic!("index out of bounds"));
        assert_eq!(p.status, PhaseStatus::Failed);
        assert_eq!(p.impact, Status::Critical);
        assert!(p.summary.contains("crashed: index out of bounds"), "{}", p.summary);
        let next = run_phase(3, "Notify prep", || Outcome::skipped("off"));
        assert_eq!(overall(&[p, next]), Status::Critical);
    }

    #[test]
    fn phase_status_follows_failure_and_impact() {
        assert_eq!(Outcome::judged(Status::Warnings, true, "").status, PhaseStatus::Failed);
        assert_eq!(Outcome::judged(Status::Warnings, false, "").status, PhaseStatus::Warning);
        assert_eq!(Outcome::judged(Status::Healthy, false, "").status, PhaseStatus::Passed);
    }

    #[test]
    fn output_fences_outgrow_backticks_in_the_text() {
        assert_eq!(Output::new("x", "plain").fence, "```");
        assert_eq!(Output::new("x", "a ```` b").fence, "`````");
    }
}
