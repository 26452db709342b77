//! `ops-atomic summary [--since DUR] [--json]` (SPEC §13): the daily
//! report's history part over any window: heartbeats seen against the
//! schedule, gaps, availability and incidents per check, the timeline.
//! The numbers come from `daily::summary`, the same code as the daily report.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::color::{self, Style};
use crate::daily::summary::{self, Summary};
use crate::exit::Result;
use crate::fail;
use crate::incidents::human_duration;
use crate::paths::Paths;

/// Summarises the history of the root in `paths` over the last `since`,
/// for heartbeats every `interval_s`, and prints it (JSON with `json`).
pub fn run(paths: &Paths, interval_s: u64, jobs: &[String], since: Duration, json: bool) -> Result<u8> {
    let now = Utc::now();
    // Both read as streams: the window's lines, and from before it only what
    // an incident still open at its start carries (its `down`, its repairs).
    let history = crate::history::read_window(paths, now - since, None)?;
    let events = crate::events::read_window(paths, now - since, None)?;
    for s in [history.skipped.describe("the history"), events.skipped.describe("the event log")].into_iter().flatten() {
        eprintln!("⚠️  {s}");
    }
    let mut s = summary::summarise(&history.lines, &events.events, now, since, interval_s);
    s.jobs = crate::jobs::all_stats(paths, jobs, now - since);
    let text = if json {
        serde_json::to_string_pretty(&s).map_err(|e| fail!("could not encode the summary as JSON: {e}"))?
    } else {
        render(&s, color::enabled())
    };
    println!("{}", crate::secret::scrub(text.trim_end()));
    Ok(0)
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary for a terminal; `colour` paints availability and ongoing incidents.
pub fn render(s: &Summary, colour: bool) -> String {
    let paint = |style, text: &str| color::paint_if(colour, style, text);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — the last {} ({} → {} UTC)",
        paint(Style::Bold, "ops-atomic summary"),
        s.window,
        minute(s.window_start),
        minute(s.window_end)
    );
    let _ = writeln!(out);
    let interval = human_duration(Duration::seconds(s.interval_s as i64));
    let since = s.history_since.map(|t| format!(", since the history began at {} UTC", minute(t))).unwrap_or_default();
    let _ = writeln!(
        out,
        "Heartbeats  {} of {} expected (one every {interval}{since}): {} healthy, {} with warnings, {} critical",
        s.runs_seen, s.runs_expected, s.healthy, s.warnings, s.critical
    );
    let _ = writeln!(out, "Alerts      {} · reminders {} · recoveries {}", s.alerts, s.reminders, s.recoveries);
    if s.gaps.is_empty() {
        let _ = writeln!(out, "Gaps        none longer than two intervals");
    } else {
        let _ = writeln!(out, "Gaps        {} missed in {}", s.missed, plural(s.gaps.len(), "gap", "gaps"));
        for g in &s.gaps {
            let _ = writeln!(
                out,
                "            {} → {} UTC  {} without a heartbeat, {} missed",
                minute(g.from),
                minute(g.to),
                human_duration(g.to - g.from),
                g.missed
            );
        }
    }

    let _ = writeln!(out, "\n{}", paint(Style::Bold, "Availability"));
    if s.checks.is_empty() {
        let _ = writeln!(out, "  no check ran in the last {}", s.window);
    }
    let width = s.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
    for c in &s.checks {
        let text = format!("{:>6}", c.availability_text());
        let style = match c.availability {
            Some(a) if a >= 100.0 => Style::Green,
            Some(a) if a >= 99.0 => Style::Yellow,
            Some(_) => Style::Red,
            None => Style::Dim,
        };
        let mut row = format!(
            "  {:width$}  {}  {}/{} up, {} failed, {} warned",
            c.name,
            paint(style, &text),
            c.up,
            c.runs,
            c.failed,
            c.warned
        );
        if c.incidents > 0 {
            let _ = write!(
                row,
                "; {}, down {}",
                plural(c.incidents, "incident", "incidents"),
                human_duration(Duration::seconds(c.down_s))
            );
        }
        let _ = writeln!(out, "{row}");
    }

    let _ = writeln!(out, "\n{}", paint(Style::Bold, "Incidents"));
    if s.incidents.is_empty() {
        let _ = writeln!(out, "  none: no check was DOWN");
    }
    let width = s.incidents.iter().map(|i| i.name.chars().count()).max().unwrap_or(0);
    for i in &s.incidents {
        let to = match i.ended {
            Some(t) => format!("{} UTC", minute(t)),
            None => paint(Style::Red, "ongoing"),
        };
        let mut row = format!(
            "  {:width$}  {} UTC → {to}  {}",
            i.name,
            minute(i.started),
            human_duration(Duration::seconds(i.lasted_s))
        );
        if i.repairs > 0 {
            let _ = write!(row, ", {}", plural(i.repairs, "repair", "repairs"));
        }
        let message = i.message_with_cause();
        if !message.is_empty() {
            let _ = write!(row, " — {message}");
        }
        let _ = writeln!(out, "{row}");
    }

    if !s.jobs.is_empty() {
        let _ = writeln!(out, "\n{}", paint(Style::Bold, "Jobs"));
        let width = s.jobs.iter().map(|j| j.name.chars().count()).max().unwrap_or(0);
        for j in s.jobs.iter().map(crate::jobs::Stats::row) {
            let failed = plural(j.failures, "failed", "failed");
            let failed = if j.failures > 0 { paint(Style::Red, &failed) } else { failed };
            let last =
                if j.last_at.is_empty() { j.last.clone() } else { format!("last {} UTC: {}", j.last_at, j.last) };
            let _ = writeln!(
                out,
                "  {:width$}  {}, {failed}; p50 {}, p95 {}; {last}",
                j.name,
                plural(j.runs, "run", "runs"),
                j.p50,
                j.p95
            );
        }
    }

    if !s.checks.is_empty() {
        let _ = writeln!(out, "\n{}", paint(Style::Bold, "Timeline"));
        let _ = writeln!(out, "{}", summary::timeline(s));
        let _ = writeln!(out, "{}", summary::legend(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckStatus;
    use crate::history::{CheckLine, Line};
    use crate::incidents::Event;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-28T02:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn sample() -> Summary {
        let lines: Vec<Line> = (0..12)
            .map(|i| {
                let failed = i >= 10;
                Line {
                    ts: now() - Duration::minutes(i * 5 + 1),
                    status: if failed { "CRITICAL" } else { "HEALTHY" }.into(),
                    duration_ms: 3,
                    checks: vec![CheckLine {
                        id: "redis".into(),
                        name: "Redis".into(),
                        kind: "redis".into(),
                        status: if failed { CheckStatus::Fail } else { CheckStatus::Ok },
                        latency_ms: 1,
                        message: String::new(),
                        metrics: Default::default(),
                        values: Default::default(),
                        measurement: None,
                    }],
                    events: Vec::new(),
                    slept_s: None,
                }
            })
            .collect();
        let down = Event::new(now() - Duration::minutes(50), "redis", "Redis", "down", "connection refused");
        let mut up = Event::new(now() - Duration::minutes(40), "redis", "Redis", "up", "PONG");
        up.lasted_s = Some(600);
        let again = Event::new(now() - Duration::minutes(5), "redis", "Redis", "down", "connection refused");
        summary::summarise(&lines, &[down, up, again], now(), Duration::hours(1), 300)
    }

    #[test]
    fn the_text_shows_runs_availability_incidents_and_the_timeline() {
        let text = render(&sample(), false);
        assert!(
            text.starts_with("ops-atomic summary — the last 1 h (2025-10-28 01:00 → 2025-10-28 02:00 UTC)"),
            "{text}"
        );
        assert!(
            text.contains("Heartbeats  12 of 12 expected (one every 5 min): 10 healthy, 0 with warnings, 2 critical"),
            "{text}"
        );
        assert!(text.contains("Gaps        none"), "{text}");
        assert!(text.contains("Redis   83.3%  10/12 up, 2 failed, 0 warned; 2 incidents, down 15 min"), "{text}");
        assert!(
            text.contains("Redis  2025-10-28 01:10 UTC → 2025-10-28 01:20 UTC  10 min — connection refused"),
            "{text}"
        );
        assert!(text.contains("Redis  2025-10-28 01:55 UTC → ongoing  5 min — connection refused"), "{text}");
        assert!(text.contains("one cell per 5 min"), "{text}");
        assert!(!text.contains('\x1b'), "no colour when off: {text}");
    }

    #[test]
    fn colour_marks_availability_and_ongoing_incidents() {
        let text = render(&sample(), true);
        assert!(text.contains("\x1b[31mongoing\x1b[0m"), "{text}");
        assert!(text.contains("\x1b[31m 83.3%\x1b[0m"), "{text}");
    }
}
