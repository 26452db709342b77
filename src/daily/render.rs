//! What the daily report and the daily message show: the template contexts
//! of `daily.md` and `discord_daily.md`, with numbers formatted and the
//! timeline drawn here so that templates stay about layout.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Setup;
use crate::exit::{Result, Status};
use crate::log;

use super::summary::{self, Summary};
use super::{Day, PHASES, Phase, PhaseStatus};

/// A phase row of the report, including phases that have not finished yet.
#[derive(Serialize)]
struct PhaseRow<'a> {
    number: usize,
    name: &'a str,
    emoji: &'a str,
    status: &'a str,
    duration: String,
    /// The summary, safe inside a table cell.
    cell: String,
    summary: &'a str,
    items: &'a [super::Item],
    outputs: &'a [super::Output],
}

const NAMES: [&str; PHASES] = ["Smoke tests", "API verification", "Notify prep", "Report", "Notify"];

fn phase_rows(phases: &[Phase]) -> Vec<PhaseRow<'_>> {
    (1..=PHASES)
        .map(|n| match phases.iter().find(|p| p.number == n) {
            Some(p) => PhaseRow {
                number: n,
                name: p.name,
                emoji: p.emoji,
                status: status_word(p.status),
                duration: format!("{} ms", p.duration_ms),
                cell: table_cell(&p.summary),
                summary: &p.summary,
                items: &p.items,
                outputs: &p.outputs,
            },
            None => {
                let running = phases.len() + 1 == n;
                PhaseRow {
                    number: n,
                    name: NAMES[n - 1],
                    emoji: "⏳",
                    status: if running { "running" } else { "pending" },
                    duration: "—".into(),
                    cell: String::new(),
                    summary: "",
                    items: &[],
                    outputs: &[],
                }
            }
        })
        .collect()
}

fn status_word(s: PhaseStatus) -> &'static str {
    match s {
        PhaseStatus::Passed => "passed",
        PhaseStatus::Warning => "warning",
        PhaseStatus::Failed => "failed",
        PhaseStatus::Skipped => "skipped",
    }
}

/// Text that stays in one markdown table cell.
fn table_cell(s: &str) -> String {
    crate::checks::one_line(s).replace('|', "\\|")
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

#[derive(Serialize)]
struct GapRow {
    from: String,
    to: String,
    length: String,
    missed: u64,
    asleep: bool,
}

#[derive(Serialize)]
struct CheckRow {
    name: String,
    availability: String,
    up: usize,
    runs: usize,
    failed: usize,
    warned: usize,
}

/// One incident for a report or `summary`: times in UTC to the minute.
#[derive(Serialize)]
pub struct IncidentRow {
    pub name: String,
    pub from: String,
    /// The end, or "ongoing".
    pub to: String,
    pub length: String,
    pub message: String,
    pub repairs: usize,
}

impl IncidentRow {
    pub fn of(i: &summary::Incident) -> IncidentRow {
        IncidentRow {
            name: table_cell(if i.name.is_empty() { &i.check } else { &i.name }),
            from: minute(i.started),
            to: i.ended.map_or_else(|| "ongoing".to_string(), minute),
            length: crate::incidents::human_duration(chrono::Duration::seconds(i.lasted_s)),
            message: table_cell(&i.message_with_cause()),
            repairs: i.repairs,
        }
    }
}

#[derive(Serialize)]
struct EventRow {
    at: String,
    kind: String,
}

/// The "last 24 hours" section.
#[derive(Serialize)]
struct HistoryView {
    window: String,
    interval: String,
    since: String,
    runs_seen: usize,
    runs_expected: u64,
    healthy: usize,
    warnings: usize,
    critical: usize,
    missed: u64,
    /// Time asleep in the window, for people ("" when none).
    asleep: String,
    gaps: Vec<GapRow>,
    checks: Vec<CheckRow>,
    timeline: String,
    legend: String,
    alerts: usize,
    reminders: usize,
    recoveries: usize,
    events: Vec<EventRow>,
    incidents: Vec<IncidentRow>,
    slowest: Vec<summary::Slow>,
    jobs: Vec<crate::jobs::Row>,
}

fn history_view(s: &Summary) -> HistoryView {
    HistoryView {
        window: format!("{} → {} UTC", minute(s.window_start), minute(s.window_end)),
        interval: crate::incidents::human_duration(chrono::Duration::seconds(s.interval_s as i64)),
        since: s.history_since.map(minute).unwrap_or_default(),
        runs_seen: s.runs_seen,
        runs_expected: s.runs_expected,
        healthy: s.healthy,
        warnings: s.warnings,
        critical: s.critical,
        missed: s.missed,
        asleep: if s.asleep_s > 0 {
            crate::incidents::human_duration(chrono::Duration::seconds(s.asleep_s))
        } else {
            String::new()
        },
        gaps: s
            .gaps
            .iter()
            .map(|g| GapRow {
                from: minute(g.from),
                to: minute(g.to),
                length: crate::incidents::human_duration(g.to - g.from),
                missed: g.missed,
                asleep: g.asleep,
            })
            .collect(),
        checks: s
            .checks
            .iter()
            .map(|c| CheckRow {
                name: table_cell(&c.name),
                availability: c.availability_text(),
                up: c.up,
                runs: c.runs,
                failed: c.failed,
                warned: c.warned,
            })
            .collect(),
        timeline: summary::timeline(s),
        legend: summary::legend(s),
        alerts: s.alerts,
        reminders: s.reminders,
        recoveries: s.recoveries,
        events: s.events.iter().map(|e| EventRow { at: minute(e.ts), kind: e.kind.clone() }).collect(),
        incidents: s.incidents.iter().map(IncidentRow::of).collect(),
        slowest: s.slowest.clone(),
        jobs: s
            .jobs
            .iter()
            .map(|j| {
                let mut r = j.row();
                r.name = table_cell(&r.name);
                r.last = table_cell(&r.last);
                r
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct HousekeepingView<'a> {
    done: &'a super::Housekeeping,
    retention_days: u32,
    max_log_bytes: u64,
    /// `max_log_bytes` for people: "10 MiB".
    max_log_size: String,
    logs_rotated: String,
    history_days: i64,
}

/// The daily report, from `daily.md`.
pub fn report(ctx: &Setup, day: &Day) -> Result<String> {
    let cfg = &ctx.config;
    let status = super::overall(&day.phases);
    let mut c = tera::Context::new();
    c.insert("timestamp", &log::timestamp(day.now));
    c.insert("status", status.as_str());
    c.insert("emoji", status.emoji());
    c.insert("duration_ms", &(day.started.elapsed().as_millis() as u64));
    c.insert("phases", &phase_rows(&day.phases));
    c.insert("notifications", &cfg.notifications_target());
    c.insert("history", &day.summary.as_ref().map(history_view));
    c.insert(
        "housekeeping",
        &day.housekeeping.as_ref().map(|done| HousekeepingView {
            done,
            retention_days: cfg.daily.retention_days,
            max_log_bytes: cfg.daily.max_log_bytes,
            max_log_size: human_bytes(cfg.daily.max_log_bytes),
            logs_rotated: if done.logs_rotated.is_empty() { "none".into() } else { done.logs_rotated.join(", ") },
            history_days: super::housekeeping::HISTORY_DAYS,
        }),
    );
    c.insert("summary", &verdict(status, &day.phases));
    let (text, problem) = crate::report::render(&ctx.paths.templates_dir(), "daily.md", &c)?;
    if let Some(p) = problem {
        log::error(&p);
    }
    Ok(text)
}

/// A byte count in binary units, exact when it is a whole number of them:
/// 10485760 → "10 MiB", 1536 → "1.5 KiB", 900 → "900 bytes".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64;
    let mut unit = "";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

/// The report's last line.
fn verdict(status: Status, phases: &[Phase]) -> String {
    let named = |s: PhaseStatus| -> Vec<&str> { phases.iter().filter(|p| p.status == s).map(|p| p.name).collect() };
    let count = |s: PhaseStatus| named(s).len();
    match status {
        Status::Healthy => format!(
            "🟢 **DAILY RUN HEALTHY** - {} passed, {} skipped of {PHASES} phases",
            count(PhaseStatus::Passed),
            count(PhaseStatus::Skipped)
        ),
        Status::Warnings => {
            let mut attention = named(PhaseStatus::Failed);
            attention.extend(named(PhaseStatus::Warning));
            format!("🟡 **WARNINGS** - needs attention: {}", attention.join(", "))
        }
        Status::Critical => {
            format!("🔴 **CRITICAL** - failed: {}; immediate attention required", named(PhaseStatus::Failed).join(", "))
        }
    }
}

#[derive(Serialize)]
struct Availability {
    name: String,
    availability: String,
}

/// The context of `discord_daily.md`.
pub fn message_context(day: &Day, status: Status) -> tera::Context {
    let mut c = tera::Context::new();
    c.insert("status", status.as_str());
    c.insert("emoji", status.emoji());
    // Only finished phases: the message goes out while phase 5 runs.
    let finished: Vec<PhaseRow> =
        phase_rows(&day.phases).into_iter().filter(|p| p.number <= day.phases.len()).collect();
    c.insert("phases", &finished);
    c.insert("report_name", &day.report.file_name());
    c.insert("has_history", &day.summary.is_some());
    if let Some(s) = &day.summary {
        c.insert("runs_seen", &s.runs_seen);
        c.insert("runs_expected", &s.runs_expected);
        c.insert("missed", &s.missed);
        c.insert("gaps", &s.gaps.len());
        c.insert("alerts", &s.alerts);
        c.insert("recoveries", &s.recoveries);
        c.insert("reminders", &s.reminders);
        let below: Vec<Availability> = s
            .checks
            .iter()
            .filter(|c| c.availability.is_some_and(|a| a < 100.0))
            .map(|c| Availability { name: c.name.clone(), availability: c.availability_text() })
            .collect();
        c.insert("below_full", &below);
    }
    c.insert("has_housekeeping", &day.housekeeping.is_some());
    if let Some(h) = &day.housekeeping {
        c.insert("reports_deleted", &h.reports_deleted);
        c.insert("logs_rotated", &h.logs_rotated.len());
        c.insert("history_dropped", &(h.history_dropped + h.history_unreadable));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(human_bytes(900), "900 bytes");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(10 * 1024 * 1024), "10 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3 GiB");
    }
}
