//! The status page `g/reports/status.html` (SPEC §14): one self-contained
//! HTML file over the history, the event log and the state.
//!
//! The numbers come from `daily::summary` (the same code as `summary` and
//! the daily report), computed in the page's own slot width; this module
//! only shapes them for `templates/status.html.tera` ([`build`] is pure)
//! and writes the file ([`write`]). `page`, the daily run and a heartbeat
//! that opened or closed an incident all call [`write`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Local, Utc};
use serde::Serialize;

use crate::checks::{CheckStatus, Ident};
use crate::config::Config;
use crate::daily::summary::{self, Slot, SlotStatus, Summary};
use crate::exit::{Result, Status};
use crate::fail;
use crate::incidents::human_duration;
use crate::paths::Paths;
use crate::state::State;

/// The page's window when nobody asks for another.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

/// A last heartbeat older than this means the monitor itself stopped.
pub const STALE_MINUTES: i64 = 15;

/// What the template sees (the fields are its names).
#[derive(Debug, Serialize)]
pub struct Page {
    pub host: String,
    pub generated: String,
    pub version: &'static str,
    pub report_path: String,
    pub status: Headline,
    pub last: Last,
    pub window: Window,
    pub runs: Runs,
    pub silences: Vec<SilenceRow>,
    pub pending: Vec<Pending>,
    pub checks: Vec<Row>,
    pub incidents: Vec<IncidentRow>,
    /// Incidents not listed (older than the newest [`MAX_INCIDENTS`]).
    pub incidents_more: usize,
    pub gaps: Vec<GapRow>,
    /// The jobs (SPEC §20), their last run in local time.
    pub jobs: Vec<crate::jobs::Row>,
}

/// The incidents the page lists; `events` has the rest.
pub const MAX_INCIDENTS: usize = 100;

#[derive(Debug, Serialize)]
pub struct Headline {
    pub word: String,
    pub emoji: &'static str,
    /// `ok`, `warn`, `fail` or `none`: the CSS class.
    pub class: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Last {
    pub at: Option<String>,
    pub ago: Option<String>,
    /// Older than [`STALE_MINUTES`].
    pub stale: bool,
}

#[derive(Debug, Serialize)]
pub struct Window {
    /// "7 d", "24 h".
    pub label: String,
    pub from: String,
    pub to: String,
    /// What one slot covers: "hour", "5 min".
    pub slot: String,
    /// The time zone the page's times are in: "UTC+01:00".
    pub zone: String,
    /// One slot's width, in percent of the bar.
    pub slot_width: String,
}

#[derive(Debug, Serialize)]
pub struct Runs {
    pub seen: usize,
    pub expected: u64,
}

#[derive(Debug, Serialize)]
pub struct SilenceRow {
    pub who: String,
    pub until: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Pending {
    pub channel: String,
    pub count: usize,
}

/// One check's row.
#[derive(Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Where it looks, without secrets.
    pub target: String,
    /// Its status now in a word, and as an emoji and CSS class.
    pub now: String,
    pub emoji: &'static str,
    pub class: &'static str,
    pub availability: String,
    pub incidents: usize,
    pub p50: String,
    pub p95: String,
    /// The name of the check it fails because of (SPEC §15), now.
    pub caused_by: Option<String>,
    /// The numbers its conditions read in the last run: `[VALUE] 14`.
    pub values: Vec<String>,
    pub slots: Vec<SlotCell>,
}

#[derive(Debug, Serialize)]
pub struct SlotCell {
    /// `ok`, `warn`, `fail`, `none` or `asleep`: the CSS class.
    pub class: &'static str,
    /// The tooltip: when, and what ran.
    pub title: String,
    /// Where it begins, in percent of the bar.
    pub x: String,
}

#[derive(Debug, Serialize)]
pub struct IncidentRow {
    pub check: String,
    pub start: String,
    pub end: String,
    pub ongoing: bool,
    pub lasted: String,
    pub message: String,
    pub caused_by: Option<String>,
    pub repairs: usize,
    pub messages: usize,
}

#[derive(Debug, Serialize)]
pub struct GapRow {
    pub from: String,
    pub to: String,
    pub length: String,
    pub asleep: bool,
    pub missed: u64,
}

/// Everything the page is made of besides the summary.
pub struct Facts<'a> {
    pub host: &'a str,
    /// The configured checks, in report order (their targets have no secrets).
    pub checks: &'a [Ident],
    /// The state as the last run left it, if there is one.
    pub state: Option<&'a State>,
    /// When the last heartbeat ran: the state's word, else the history's newest line.
    pub last_run: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// Where the page is written, to show at its foot.
    pub output: &'a Path,
    /// The `[[maintenance]]` windows: those in force at the last run
    /// (the state's `maintenance_active`) mark their checks silenced.
    pub maintenance: &'a [crate::windows::Maintenance],
}

/// Where the page goes by default: `g/reports/status.html`.
pub fn default_path(paths: &Paths) -> PathBuf {
    paths.root.join("g/reports/status.html")
}

/// Reads the history, the event log and the state, and writes the page over
/// the last `since` to `output` (default [`default_path`]) atomically, 0600,
/// with every known secret scrubbed. Returns where it went and, when the
/// template override is broken, why (the built-in one was used).
pub fn write(
    paths: &Paths,
    cfg: &Config,
    now: DateTime<Utc>,
    since: Duration,
    output: Option<&Path>,
) -> Result<(PathBuf, Option<String>)> {
    write_within(paths, cfg, now, since, output, None)
}

/// [`write`], giving up (an error that says so, nothing written) once
/// `deadline` passes while the history and the event log are read. Both
/// are read as streams: the window's lines, and from before it only what an
/// incident still open carries, so memory follows the window, not the files.
pub fn write_within(
    paths: &Paths,
    cfg: &Config,
    now: DateTime<Utc>,
    since: Duration,
    output: Option<&Path>,
    deadline: Option<std::time::Instant>,
) -> Result<(PathBuf, Option<String>)> {
    let start = now - since;
    let history = crate::history::read_window(paths, start, deadline)?;
    let events =
        if history.stopped.is_none() { Some(crate::events::read_window(paths, start, deadline)?) } else { None };
    if history.stopped.is_some() || events.as_ref().is_some_and(|w| w.stopped.is_some()) {
        return Err(fail!(
            "status page not rewritten this run: reading the history and the event log took longer than its share of the deadline; `ops-atomic page` (or the daily run) rewrites it"
        ));
    }
    let events = events.unwrap_or_default();
    for s in [history.skipped.describe("the history"), events.skipped.describe("the event log")].into_iter().flatten() {
        crate::log::warn(&s);
    }
    write_from(paths, cfg, now, since, output, &history.lines, &events.events)
}

/// [`write`] over history lines and events already read (the daily run has them).
fn write_from(
    paths: &Paths,
    cfg: &Config,
    now: DateTime<Utc>,
    since: Duration,
    output: Option<&Path>,
    lines: &[crate::history::Line],
    events: &[crate::events::Event],
) -> Result<(PathBuf, Option<String>)> {
    let state = crate::state::peek(paths);
    let interval_s = cfg.launchd.interval_s;
    let slot_s = summary::slot_width(since.num_seconds().max(1), interval_s.max(1));
    let mut s = summary::summarise_in(lines, events, now, since, interval_s, slot_s);
    s.jobs = crate::jobs::all_stats(paths, &crate::jobs::configured(cfg), now - since);
    let idents: Vec<Ident> =
        cfg.checks().into_iter().filter(|(_, c)| c.enabled()).flat_map(|(_, c)| c.idents()).collect();
    let path = match output {
        Some(p) => crate::paths::absolute(p),
        None => {
            let p = default_path(paths);
            crate::paths::ensure_dir(p.parent().unwrap_or(&paths.root))?;
            p
        }
    };
    let host = cfg.monitor.host();
    let last_run = state.as_ref().and_then(|st| st.last_run_at).or_else(|| lines.iter().map(|l| l.ts).max());
    let facts = Facts {
        host: &host,
        checks: &idents,
        state: state.as_ref(),
        last_run,
        now,
        output: &path,
        maintenance: &cfg.maintenance,
    };
    let page = build(&s, &facts);
    let context = tera::Context::from_serialize(&page).map_err(|e| fail!("could not prepare the status page: {e}"))?;
    let (html, problem) = crate::report::render(&paths.templates_dir(), "status.html", &context)?;
    // Not fsynced: the page is rebuilt from the history whenever an incident
    // opens or closes, and by every daily run.
    crate::paths::write_atomic_unsynced(&path, crate::secret::scrub(&html).as_bytes(), crate::paths::FILE_MODE)?;
    Ok((path, problem))
}

/// Rewrites the page in its default place over the default window, for the
/// daily run and a heartbeat that opened or closed an incident. A failure
/// is a WARN: the page is a view, never the run's outcome.
pub fn refresh(paths: &Paths, cfg: &Config, now: DateTime<Utc>) {
    said(write(paths, cfg, now, Duration::days(DEFAULT_WINDOW_DAYS), None));
}

/// [`refresh`] for the heartbeat: skipped, with a log line, when reading
/// would take past `deadline` (the heartbeat's share for the page).
pub fn refresh_within(paths: &Paths, cfg: &Config, now: DateTime<Utc>, deadline: std::time::Instant) {
    said(write_within(paths, cfg, now, Duration::days(DEFAULT_WINDOW_DAYS), None, Some(deadline)));
}

/// [`refresh`] over history lines and events already read.
pub fn refresh_from(
    paths: &Paths,
    cfg: &Config,
    now: DateTime<Utc>,
    lines: &[crate::history::Line],
    events: &[crate::events::Event],
) {
    said(write_from(paths, cfg, now, Duration::days(DEFAULT_WINDOW_DAYS), None, lines, events));
}

fn said(written: Result<(PathBuf, Option<String>)>) {
    match written {
        Ok((path, problem)) => {
            if let Some(p) = problem {
                crate::log::warn(&p);
            }
            crate::log::info(&format!("Status page written: {}", path.display()));
        }
        Err(e) => crate::log::warn(&format!("{} (the status page was not updated)", e.0)),
    }
}

/// The page's data: the summary shaped for the template, with the state's
/// headline and the configuration's targets. Pure.
pub fn build(s: &Summary, f: &Facts) -> Page {
    let state = f.state;
    let name_of = |id: &str| -> String {
        f.checks
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .or_else(|| state.and_then(|st| st.checks.get(id)).map(|c| c.name.clone()).filter(|n| !n.is_empty()))
            .unwrap_or_else(|| id.to_string())
    };
    let status = match state.and_then(State::last_status) {
        Some(st) => Headline {
            word: st.as_str().into(),
            emoji: st.emoji(),
            class: match st {
                Status::Healthy => "ok",
                Status::Warnings => "warn",
                Status::Critical => "fail",
            },
        },
        None => Headline { word: "NO DATA".into(), emoji: "⚪", class: "none" },
    };
    let last_at = f.last_run;
    let last = Last {
        at: last_at.map(time),
        ago: last_at.map(|t| human_duration(f.now - t)),
        stale: last_at.is_some_and(|t| f.now - t > Duration::minutes(STALE_MINUTES)),
    };
    let silences = state
        .map(|st| {
            st.silences
                .iter()
                .filter(|x| x.until > f.now)
                .map(|x| SilenceRow {
                    who: x.check.as_deref().map_or_else(|| "every check".to_string(), name_of),
                    until: time(x.until),
                    reason: x.reason.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut by_channel: BTreeMap<&str, usize> = BTreeMap::new();
    for n in state.map(|st| st.pending_notifications.as_slice()).unwrap_or_default() {
        *by_channel.entry(&n.channel).or_default() += 1;
    }
    let pending = by_channel.into_iter().map(|(channel, count)| Pending { channel: channel.into(), count }).collect();

    // Configured checks first, in their order, then those only the history knows.
    let n_slots = s.checks.first().map_or_else(|| ceil_div(s.window_s, s.cell_s), |c| c.slots.len());
    let mut order: Vec<&str> = f.checks.iter().map(|c| c.id.as_str()).collect();
    order.extend(s.checks.iter().map(|c| c.id.as_str()).filter(|id| !f.checks.iter().any(|c| c.id == *id)));
    let checks = order
        .into_iter()
        .map(|id| {
            let stats = s.checks.iter().find(|c| c.id == id);
            let ident = f.checks.iter().find(|c| c.id == id);
            let now_state = state.and_then(|st| st.checks.get(id));
            let quiet = state.is_some_and(|st| st.quiet(id, f.now, f.maintenance));
            let (now, emoji, class) = now_word(now_state, quiet);
            let empty = vec![Slot { status: SlotStatus::None, runs: 0, warned: 0, failed: 0 }; n_slots];
            let slots = stats.map_or(&empty, |c| &c.slots);
            Row {
                id: id.to_string(),
                name: ident.map(|c| c.name.clone()).or_else(|| stats.map(|c| c.name.clone())).unwrap_or_default(),
                kind: ident.map(|c| c.kind.to_string()).or_else(|| stats.map(|c| c.kind.clone())).unwrap_or_default(),
                target: ident.map(|c| c.target.clone()).unwrap_or_default(),
                now,
                emoji,
                class,
                availability: summary::percent(stats.and_then(|c| c.availability)),
                incidents: stats.map_or(0, |c| c.incidents),
                p50: ms(stats.and_then(|c| c.p50_ms)),
                p95: ms(stats.and_then(|c| c.p95_ms)),
                caused_by: now_state.and_then(|c| c.caused_by.as_deref()).map(name_of),
                values: now_state.map_or_else(Vec::new, |c| {
                    c.values
                        .iter()
                        .map(|v| format!("{} {}", v.placeholder, crate::checks::conditions::number_text(v.value)))
                        .collect()
                }),
                slots: slots.iter().enumerate().map(|(i, slot)| slot_cell(s, i, n_slots, slot)).collect(),
            }
        })
        .collect();

    // Newest first, the ongoing ones always; a week of a flapping service
    // would otherwise make the page megabytes long.
    let mut newest: Vec<&summary::Incident> = s.incidents.iter().rev().collect();
    newest.sort_by_key(|i| !i.ongoing);
    let incidents_more = newest.len().saturating_sub(MAX_INCIDENTS);
    let incidents = newest
        .into_iter()
        .take(MAX_INCIDENTS)
        .map(|i| IncidentRow {
            check: if i.name.is_empty() { name_of(&i.check) } else { i.name.clone() },
            start: time(i.started),
            end: i.ended.map_or_else(|| "ongoing".to_string(), time),
            ongoing: i.ongoing,
            lasted: human_duration(Duration::seconds(i.lasted_s)),
            message: i.message.clone(),
            caused_by: i.caused_by.as_deref().map(name_of),
            repairs: i.repairs,
            messages: i.messages,
        })
        .collect();
    let gaps = s
        .gaps
        .iter()
        .map(|g| GapRow {
            from: time(g.from),
            to: time(g.to),
            length: human_duration(g.to - g.from),
            asleep: g.asleep,
            missed: g.missed,
        })
        .collect();
    Page {
        host: f.host.to_string(),
        generated: time(f.now),
        version: env!("CARGO_PKG_VERSION"),
        report_path: f.output.display().to_string(),
        status,
        last,
        window: Window {
            label: s.window.clone(),
            from: time(s.window_start),
            to: time(s.window_end),
            slot: summary::cell_words(s.cell_s),
            zone: f.now.with_timezone(&Local).format("UTC%:z").to_string(),
            // Rounded up: neighbouring slots overlap by a hair rather than
            // leave a seam.
            slot_width: format!("{:.2}", (100.0 / n_slots.max(1) as f64 * 100.0).ceil() / 100.0),
        },
        runs: Runs { seen: s.runs_seen, expected: s.runs_expected },
        silences,
        pending,
        checks,
        incidents,
        incidents_more,
        gaps,
        jobs: s
            .jobs
            .iter()
            .map(|j| {
                let mut r = j.row();
                if let Some(l) = &j.last {
                    r.last_at = time(l.started);
                }
                r
            })
            .collect(),
    }
}

/// A check's status now, from the state: a word, an emoji and a CSS class.
fn now_word(c: Option<&crate::state::CheckState>, silenced: bool) -> (String, &'static str, &'static str) {
    let Some(c) = c else {
        return ("no data".into(), "⚪", "none");
    };
    let (word, emoji, class) = match (c.down, c.status) {
        (true, _) => ("down", "❌", "fail"),
        (false, Some(CheckStatus::Fail)) => ("failing", "❌", "fail"),
        (false, Some(CheckStatus::Warn)) => ("warning", "⚠️", "warn"),
        (false, Some(CheckStatus::Ok)) => ("up", "✅", "ok"),
        (false, Some(CheckStatus::Skipped)) => ("skipped", "⏭️", "none"),
        (false, None) => ("no data", "⚪", "none"),
    };
    let mut word = word.to_string();
    if c.flapping {
        word.push_str(", flapping");
    }
    if silenced {
        word.push_str(", silenced");
    }
    (word, emoji, class)
}

/// One slot's class and tooltip: "Tue 28 Oct 01:00–02:00: 2 of 12 runs failed".
fn slot_cell(s: &Summary, i: usize, n_slots: usize, slot: &Slot) -> SlotCell {
    let (from, to) = s.slot_span(i);
    // As short as still says which slot: a window of a day needs only the
    // time, a week the weekday too. A page has thousands of these.
    let when = slot_when(from.with_timezone(&Local), to.with_timezone(&Local), s.window_s);
    let runs = |n: u32| if n == 1 { "1 run".to_string() } else { format!("{n} runs") };
    let what = match slot.status {
        SlotStatus::None => "no heartbeat ran".to_string(),
        SlotStatus::Asleep => "asleep: no heartbeat ran while the Mac slept".to_string(),
        SlotStatus::Ok => format!("ok ({})", runs(slot.runs)),
        SlotStatus::Warn => format!("{} of {} with a warning", slot.warned, runs(slot.runs)),
        SlotStatus::Fail => format!("{} of {} failed", slot.failed, runs(slot.runs)),
    };
    // Two decimals of a percent are a fiftieth of a pixel on a 1,000 px bar.
    let x = format!("{:.2}", i as f64 * 100.0 / n_slots.max(1) as f64);
    SlotCell { class: slot.status.as_str(), title: format!("{when}: {what}"), x }
}

/// `12:00–13:00`, `Mon 12:00–13:00` or `Mon 05 Jan 12:00–13:00` (strftime's
/// `%a %d %b %H:%M`), written by hand: a page has thousands of these, and
/// strftime parses its pattern every time.
fn slot_when(from: DateTime<Local>, to: DateTime<Local>, window_s: i64) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut out = String::with_capacity(32);
    if window_s > 86_400 {
        let _ = write!(out, "{} ", from.weekday());
    }
    if window_s > 7 * 86_400 {
        let _ = write!(out, "{:02} {} ", from.day(), MONTHS[from.month0() as usize]);
    }
    let _ = write!(out, "{:02}:{:02}–{:02}:{:02}", from.hour(), from.minute(), to.hour(), to.minute());
    out
}

/// A time as the page shows it: local, to the minute.
fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string()
}

/// A latency in words: "12 ms", "1.5 s", or "–" when the check never ran.
fn ms(v: Option<u64>) -> String {
    match v {
        None => "–".into(),
        Some(ms) if ms < 1000 => format!("{ms} ms"),
        Some(ms) => format!("{:.1} s", ms as f64 / 1000.0),
    }
}

fn ceil_div(a: i64, b: i64) -> usize {
    ((a + b.max(1) - 1) / b.max(1)).max(1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_times_are_written_as_strftime_would() {
        let start = chrono::TimeZone::with_ymd_and_hms(&Local, 2026, 1, 5, 7, 5, 0).unwrap();
        for step in 0..400 {
            let from = start + Duration::minutes(step * 137);
            let to = from + Duration::minutes(55);
            for (window_s, day) in [(86_400, ""), (7 * 86_400, "%a "), (30 * 86_400, "%a %d %b ")] {
                let want = format!("{}–{}", from.format(&format!("{day}%H:%M")), to.format("%H:%M"));
                assert_eq!(slot_when(from, to, window_s), want);
            }
        }
    }
    use crate::checks::Severity;
    use crate::history::Line;
    use crate::incidents::Event;
    use crate::state::{CheckState, Notification, NotificationKind, Silence};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-28T02:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn ident(id: &str, name: &str, target: &str) -> Ident {
        Ident {
            id: id.into(),
            name: name.into(),
            kind: "api",
            section: "API",
            severity: Severity::Warning,
            target: target.into(),
        }
    }

    /// A day of 5-minute heartbeats of one check, failing 30..40 minutes ago,
    /// with an incident whose message carries markup.
    fn summary() -> Summary {
        let lines: Vec<Line> = (0..288)
            .map(|i| {
                let ago = Duration::seconds(150 + 300 * i);
                let failing = (6..8).contains(&i);
                // As a history line reads: fields added later keep their defaults.
                serde_json::from_value(serde_json::json!({
                    "ts": now() - ago,
                    "status": "HEALTHY",
                    "duration_ms": 3,
                    "checks": [{"id": "api:web", "name": "Web", "kind": "api",
                                "status": if failing { "fail" } else { "ok" },
                                "latency_ms": 10 + i % 10, "message": ""}],
                }))
                .expect("a history line")
            })
            .collect();
        let down = Event::new(now() - Duration::minutes(40), "api:web", "Web", "down", "<script>alert(1)</script>");
        summary::summarise_in(&lines, &[down], now(), Duration::hours(24), 300, summary::slot_width(86_400, 300))
    }

    fn state() -> State {
        let mut st = State {
            last_status: Some("WARNINGS".into()),
            last_run_at: Some(now() - Duration::minutes(20)),
            ..State::default()
        };
        st.checks.insert(
            "api:web".into(),
            CheckState {
                name: "Web".into(),
                status: Some(CheckStatus::Fail),
                down: true,
                caused_by: Some("redis".into()),
                ..CheckState::default()
            },
        );
        st.checks.insert("redis".into(), CheckState { name: "Redis".into(), ..CheckState::default() });
        st.silences.push(Silence {
            check: None,
            until: now() + Duration::hours(1),
            reason: "move".into(),
            created_at: now(),
        });
        st.silences.push(Silence {
            check: Some("redis".into()),
            until: now() - Duration::hours(1),
            reason: String::new(),
            created_at: now(),
        });
        for channel in ["slack", "discord", "slack"] {
            st.pending_notifications.push(Notification {
                channel: channel.into(),
                kind: NotificationKind::Alert,
                created_at: now(),
                payload: serde_json::Value::Null,
                attempts: 0,
                last_error: None,
                message: None,
                held: false,
            });
        }
        st
    }

    #[test]
    fn the_page_shapes_the_summary_and_the_state() {
        let checks = [ident("api:web", "Web", "http://127.0.0.1:8080/health?token=***"), ident("api:new", "New", "x")];
        let st = state();
        let s = summary();
        let p = build(
            &s,
            &Facts {
                host: "mac-mini",
                checks: &checks,
                state: Some(&st),
                last_run: st.last_run_at,
                now: now(),
                output: Path::new("/r/status.html"),
                maintenance: &[],
            },
        );
        assert_eq!((p.status.word.as_str(), p.status.class), ("WARNINGS", "warn"));
        assert!(p.last.stale, "20 minutes without a heartbeat: the monitor stopped");
        assert_eq!(p.last.ago.as_deref(), Some("20 min"));
        assert_eq!(p.silences.len(), 1, "an expired silence is left out");
        assert_eq!(p.silences[0].who, "every check");
        let pending: Vec<(&str, usize)> = p.pending.iter().map(|x| (x.channel.as_str(), x.count)).collect();
        assert_eq!(pending, [("discord", 1), ("slack", 2)]);
        assert_eq!((p.window.label.as_str(), p.window.slot.as_str()), ("24 h", "5 min"));
        let web = &p.checks[0];
        assert_eq!((web.now.as_str(), web.class, web.caused_by.as_deref()), ("down, silenced", "fail", Some("Redis")));
        assert_eq!(web.slots.len(), 288);
        assert_eq!(web.slots.iter().filter(|x| x.class == "fail").count(), 2);
        assert!(web.slots[287].title.ends_with("ok (1 run)"), "{}", web.slots[287].title);
        assert_eq!((web.p50.as_str(), web.p95.as_str(), web.availability.as_str()), ("14 ms", "19 ms", "99.3%"));
        assert_eq!((web.slots[1].x.as_str(), p.window.slot_width.as_str()), ("0.35", "0.35"));
        // A configured check that never ran has a grey bar of the same length.
        let new = &p.checks[1];
        assert_eq!((new.slots.len(), new.availability.as_str(), new.now.as_str()), (288, "n/a", "no data"));
        assert!(new.slots.iter().all(|x| x.class == "none"));
        assert_eq!((p.incidents.len(), p.incidents[0].ongoing, p.incidents[0].end.as_str()), (1, true, "ongoing"));
        // Without a state: no data, and nothing flagged.
        let p = build(
            &s,
            &Facts {
                host: "h",
                checks: &checks,
                state: None,
                last_run: None,
                now: now(),
                output: Path::new("/r"),
                maintenance: &[],
            },
        );
        assert_eq!((p.status.class, p.last.stale, p.last.at), ("none", false, None));
    }

    #[test]
    fn the_html_escapes_what_services_wrote_and_fetches_nothing() {
        let st = state();
        let checks = [ident("api:web", "Web <b>", "http://127.0.0.1:8080/")];
        let p = build(
            &summary(),
            &Facts {
                host: "mac",
                checks: &checks,
                state: Some(&st),
                last_run: None,
                now: now(),
                output: Path::new("/r"),
                maintenance: &[],
            },
        );
        let dir = std::env::temp_dir().join(format!("ops-atomic-page-{}", std::process::id()));
        let (html, problem) =
            crate::report::render(&dir, "status.html", &tera::Context::from_serialize(&p).unwrap()).unwrap();
        assert_eq!(problem, None);
        assert!(!html.contains("<script>alert"), "markup from a service is escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
        assert!(html.contains("Web &lt;b&gt;"));
        // A slot is a <rect> with a title (the legend's swatches have none).
        assert_eq!(html.matches("</title></rect>").count(), 288, "one slot per 5 minutes");
        assert!(!html.contains("http://") && !html.contains("https://"), "no reference leaves the file");
    }

    #[test]
    fn a_week_of_flapping_lists_the_newest_incidents_and_counts_the_rest() {
        let mut events = Vec::new();
        for k in 0..150 {
            let at = now() - Duration::minutes(600 - 3 * k);
            events.push(Event::new(at, "api:web", "Web", "down", "refused"));
            if k < 149 {
                let mut up = Event::new(at + Duration::minutes(1), "api:web", "Web", "up", "ok");
                up.lasted_s = Some(60);
                events.push(up);
            }
        }
        let s = summary::summarise_in(&[], &events, now(), Duration::hours(24), 300, summary::slot_width(86_400, 300));
        let checks = [ident("api:web", "Web", "x")];
        let facts = Facts {
            host: "h",
            checks: &checks,
            state: None,
            last_run: None,
            now: now(),
            output: Path::new("/r/s.html"),
            maintenance: &[],
        };
        let p = build(&s, &facts);
        assert_eq!((p.incidents.len(), p.incidents_more), (MAX_INCIDENTS, 50));
        assert!(p.incidents[0].ongoing, "the ongoing incident comes first");
        assert!(p.incidents[1].start > p.incidents[2].start, "then the newest");
    }
}
