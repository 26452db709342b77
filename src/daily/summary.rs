//! Heartbeat history and the event log summarised over a window: the last
//! 24 hours for the daily report, any `--since` for `ops-atomic summary`
//! (and the status page). One implementation serves them all.
//!
//! Pure: it sees only the history lines, the events, the end and length of
//! the window and the heartbeat interval, so every number a report,
//! `summary` or the page shows is unit-tested here. Times are UTC.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::checks::CheckStatus;
use crate::history::Line;
use crate::incidents::Event;

/// The daily report's window: this many hours before the run.
pub const WINDOW_HOURS: i64 = 24;

/// Timeline cell widths to choose from, in seconds: the narrowest that is
/// at least one heartbeat interval and fits the window in [`MAX_CELLS`].
/// 1 h of 5-minute heartbeats → 5 min (12 cells), 24 h → 1 h (24), 7 d → 4 h (42).
const CELL_WIDTHS: [i64; 13] = [60, 120, 300, 600, 900, 3600, 7200, 14_400, 21_600, 43_200, 86_400, 172_800, 604_800];
const MAX_CELLS: i64 = 48;

/// The status page draws up to this many slots per bar (SPEC §14): 5-minute
/// slots for 24 h (288), hours for 7 d (168).
const MAX_SLOTS: i64 = 300;

/// The timeline's axis names every this many cells.
const AXIS_STEP: usize = 6;

/// The timeline's name column is cut to this many characters.
const NAME_WIDTH: usize = 24;

/// A gap longer than this many intervals counts as missed heartbeats.
const GAP_INTERVALS: i64 = 2;

/// A recovery leaves for its channels this long after the `up` at most
/// (delivery follows the decision in the same run).
const RECOVERY_SENT_S: i64 = 60;

/// How many checks the "slowest" list shows.
const SLOWEST: usize = 5;

/// Timeline cells, oldest first (one per hour for the daily report).
pub const CELL_OK: char = '█';
pub const CELL_SOME_FAILED: char = '▒';
pub const CELL_ALL_FAILED: char = 'X';
pub const CELL_NO_DATA: char = '·';

/// What the history says about one window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The window's length in seconds, and in words ("24 h", "7 d").
    pub window_s: i64,
    pub window: String,
    pub interval_s: u64,
    /// The width of one timeline cell, in seconds.
    pub cell_s: i64,
    /// When the history begins, if that is inside the window (a new
    /// install): heartbeats are expected from then on, not before.
    pub history_since: Option<DateTime<Utc>>,
    /// Heartbeats recorded in the window.
    pub runs_seen: usize,
    /// Heartbeats the schedule asks for: the window / interval.
    pub runs_expected: u64,
    /// Heartbeats by overall status.
    pub healthy: usize,
    pub warnings: usize,
    pub critical: usize,
    /// Stretches without a heartbeat longer than two intervals.
    pub gaps: Vec<Gap>,
    /// Heartbeats missed in all gaps together.
    pub missed: u64,
    /// Per check, in the order the checks first appear.
    pub checks: Vec<CheckStats>,
    /// Incidents (a `down` event and its `up`) that overlap the window,
    /// oldest first; the ongoing ones have no end.
    pub incidents: Vec<Incident>,
    /// Alerts, reminders and recoveries, oldest first.
    pub events: Vec<EventAt>,
    pub alerts: usize,
    pub reminders: usize,
    pub recoveries: usize,
    /// The checks with the highest maximum latency, slowest first.
    pub slowest: Vec<Slow>,
    /// Seconds the machine slept in the window (SPEC §15): left out of the
    /// expected heartbeats.
    pub asleep_s: i64,
    /// The jobs (SPEC §20): runs, failures, durations and the last run, from
    /// their own records (`crate::jobs`), filled in by whoever has the root.
    pub jobs: Vec<crate::jobs::Stats>,
}

/// A stretch without heartbeats: from the last run before it (or the window
/// start) to the next run (or the daily run itself).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub minutes: i64,
    pub missed: u64,
    /// Mostly sleep (SPEC §15): nothing was missed.
    pub asleep: bool,
}

/// One check over the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckStats {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Runs where the check ran (not skipped).
    pub runs: usize,
    /// Runs that were ok or warn.
    pub up: usize,
    pub failed: usize,
    pub warned: usize,
    /// `up / runs` as a percentage; `None` when the check never ran.
    pub availability: Option<f64>,
    /// Its incidents that overlap the window, and how long it was down
    /// inside the window, in seconds.
    pub incidents: usize,
    pub down_s: i64,
    /// One cell per `cell_s`, oldest left (see the `CELL_*` characters).
    pub timeline: String,
    /// The same cells with what ran in them and their worst status, for the page.
    pub slots: Vec<Slot>,
    /// Median and 95th-percentile latency of its runs (nearest rank).
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
}

/// The worst a check did in one slot; where it did not run, whether the
/// machine was asleep then. Ordered from least to most telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotStatus {
    /// No heartbeat ran (or it skipped this check).
    None,
    /// No heartbeat ran because the machine slept (SPEC §15).
    Asleep,
    Ok,
    Warn,
    Fail,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::None => "none",
            SlotStatus::Asleep => "asleep",
            SlotStatus::Ok => "ok",
            SlotStatus::Warn => "warn",
            SlotStatus::Fail => "fail",
        }
    }
}

/// One slot of one check's timeline: its runs and the worst of them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Slot {
    pub status: SlotStatus,
    pub runs: u32,
    pub warned: u32,
    pub failed: u32,
}

impl Slot {
    const EMPTY: Slot = Slot { status: SlotStatus::None, runs: 0, warned: 0, failed: 0 };

    fn add(&mut self, status: CheckStatus) {
        self.runs += 1;
        let worst = match status {
            CheckStatus::Fail => {
                self.failed += 1;
                SlotStatus::Fail
            }
            CheckStatus::Warn => {
                self.warned += 1;
                SlotStatus::Warn
            }
            CheckStatus::Ok | CheckStatus::Skipped => SlotStatus::Ok,
        };
        self.status = self.status.max(worst);
    }
}

/// One incident from the event log: a check DOWN from `started` until
/// `ended` (its `up` event), or still down (`ongoing`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Incident {
    /// The check's id, and its name as the event named it.
    pub check: String,
    pub name: String,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub ongoing: bool,
    /// How long it lasted; an ongoing one until the window's end.
    pub lasted_s: i64,
    /// The failure the `down` event recorded.
    pub message: String,
    /// Repairs run for the check during the incident.
    pub repairs: usize,
    /// The dependency its `down` event named as the cause (SPEC §15).
    pub caused_by: Option<String>,
    /// Messages that left for a channel while it was open (up to a minute
    /// after its end, for the recovery): `notified` events name no check.
    pub messages: usize,
}

impl Incident {
    /// The first failure, and the dependency it was caused by (SPEC §15).
    pub fn message_with_cause(&self) -> String {
        match &self.caused_by {
            Some(c) if self.message.is_empty() => format!("caused by {c}"),
            Some(c) => format!("{} (caused by {c})", self.message),
            None => self.message.clone(),
        }
    }
}

impl CheckStats {
    /// The availability with one decimal ("99.3%"), or "n/a".
    pub fn availability_text(&self) -> String {
        percent(self.availability)
    }
}

/// The availability with one decimal ("99.3%"), or "n/a".
pub fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".to_string(), |p| format!("{p:.1}%"))
}

/// A notification a heartbeat decided on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventAt {
    pub ts: DateTime<Utc>,
    pub kind: String,
}

/// What the daily run makes of the heartbeats it saw (SPEC §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatVerdict {
    /// Enough heartbeats ran.
    Enough,
    /// Fewer than `min_heartbeat_percent` of the expected ones: a warning.
    Few { percent: u64 },
    /// None at all in the window: CRITICAL.
    None,
}

impl Summary {
    /// Whether the heartbeat ran enough in the window.
    pub fn heartbeat_verdict(&self, min_percent: u32) -> HeartbeatVerdict {
        if self.runs_seen == 0 && self.runs_expected == 0 {
            // Asleep the whole window.
            return HeartbeatVerdict::Enough;
        }
        if self.runs_seen == 0 {
            return HeartbeatVerdict::None;
        }
        let percent = (self.runs_seen as u64 * 100) / self.runs_expected.max(1);
        if percent < u64::from(min_percent) { HeartbeatVerdict::Few { percent } } else { HeartbeatVerdict::Enough }
    }

    /// The verdict in words for the report and the message; `None` when enough ran.
    pub fn heartbeat_problem(&self, min_percent: u32) -> Option<(bool, String)> {
        match self.heartbeat_verdict(min_percent) {
            HeartbeatVerdict::Enough => None,
            HeartbeatVerdict::None => Some((
                true,
                format!(
                    "the heartbeat did not run in the last {}: no line in the heartbeat history; `ops-atomic status` shows whether the monitor agent is loaded and why it is not running",
                    self.window
                ),
            )),
            HeartbeatVerdict::Few { percent } => Some((
                false,
                format!(
                    "only {} of {} expected heartbeats ran in the last {} ({percent}%, under daily.min_heartbeat_percent = {min_percent}); the missed ones are listed in the report",
                    self.runs_seen, self.runs_expected, self.window
                ),
            )),
        }
    }
}

/// Latency of one check over the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slow {
    pub name: String,
    pub p50_ms: u64,
    pub max_ms: u64,
    pub samples: usize,
}

/// Summarises the heartbeats in `(now - window, now]` and the incidents of
/// `events` that overlap it. `lines` and `events` may hold older entries
/// (an incident that began before the window needs its `down` event) and
/// need not be sorted.
pub fn summarise(
    lines: &[Line],
    event_log: &[Event],
    now: DateTime<Utc>,
    window: Duration,
    interval_s: u64,
) -> Summary {
    let window_s = window.num_seconds().max(1);
    summarise_in(lines, event_log, now, window, interval_s, cell_width(window_s, interval_s.max(1)))
}

/// [`summarise`] with timeline cells of `cell_s` seconds: the status page
/// draws finer slots ([`slot_width`]) than the text timeline.
pub fn summarise_in(
    lines: &[Line],
    event_log: &[Event],
    now: DateTime<Utc>,
    window: Duration,
    interval_s: u64,
    cell_s: i64,
) -> Summary {
    let interval_s = interval_s.max(1);
    let window = window.max(Duration::seconds(1));
    let window_s = window.num_seconds();
    let start = now - window;
    let cell_s = cell_s.max(1);
    let mut window: Vec<&Line> = lines.iter().filter(|l| l.ts > start).collect();
    window.sort_by_key(|l| l.ts);
    let count = |s: &str| window.iter().filter(|l| l.status == s).count();
    // A history that begins inside the window is a new install: the time
    // before its first heartbeat is not "missed". No history at all is
    // still a whole day missed, since that is what a broken agent looks like.
    let grace = Duration::seconds(GAP_INTERVALS * interval_s as i64);
    let history_since = lines.iter().map(|l| l.ts).min().filter(|first| *first > start + grace);
    let expected_from = history_since.unwrap_or(start);
    let runs_expected = match history_since {
        Some(first) => ((now - first).num_seconds().max(0) as u64) / interval_s + 1,
        None => window_s as u64 / interval_s,
    };
    // Time asleep is not expected to hold heartbeats.
    let asleep_s: i64 = window.iter().filter_map(|l| l.slept_s).filter(|s| *s > 0).sum();
    let runs_expected = runs_expected.saturating_sub(asleep_s as u64 / interval_s);
    // Heartbeats run by hand come on top of the schedule: never "22 of 1 expected".
    let runs_expected = runs_expected.max(window.len() as u64);
    let gaps = gaps(&window, expected_from, now, interval_s);
    let events: Vec<EventAt> =
        window.iter().flat_map(|l| l.events.iter().map(|e| EventAt { ts: l.ts, kind: e.clone() })).collect();
    let count_events = |k: &str| events.iter().filter(|e| e.kind == k).count();
    let incidents = incidents(event_log, start, now);
    let mut checks = check_stats(&window, start, cell_s, cells(window_s, cell_s));
    for c in &mut checks {
        let own = incidents.iter().filter(|i| i.check == c.id);
        c.incidents = own.clone().count();
        c.down_s = own.map(|i| (i.ended.unwrap_or(now).min(now) - i.started.max(start)).num_seconds().max(0)).sum();
    }
    let mut summary = Summary {
        window_start: start,
        window_end: now,
        window_s,
        window: words(Duration::seconds(window_s)),
        interval_s,
        cell_s,
        history_since,
        runs_seen: window.len(),
        runs_expected,
        healthy: count("HEALTHY"),
        warnings: count("WARNINGS"),
        critical: count("CRITICAL"),
        missed: gaps.iter().map(|g| g.missed).sum(),
        gaps,
        alerts: count_events("alert"),
        reminders: count_events("reminder"),
        recoveries: count_events("recovery"),
        events,
        slowest: slowest(&window),
        checks,
        incidents,
        asleep_s,
        jobs: Vec::new(),
    };
    summary.mark_asleep_slots();
    summary
}

impl Summary {
    /// The machine slept `slept_s` seconds since the last heartbeat (as the
    /// daily run measured it): the gap that ends now is asleep when that
    /// is most of it, and the sleep is not expected to hold heartbeats.
    pub fn asleep_until_now(&mut self, slept_s: i64) {
        if slept_s <= 0 {
            return;
        }
        self.asleep_s += slept_s;
        self.runs_expected =
            self.runs_expected.saturating_sub(slept_s as u64 / self.interval_s).max(self.runs_seen as u64);
        if let Some(g) =
            self.gaps.last_mut().filter(|g| g.to == self.window_end && slept_s * 2 >= (g.to - g.from).num_seconds())
        {
            self.missed = self.missed.saturating_sub(g.missed);
            g.missed = 0;
            g.asleep = true;
        }
        self.mark_asleep_slots();
    }

    /// Slots where a check did not run and that touch an asleep gap were
    /// sleep, not missing data.
    fn mark_asleep_slots(&mut self) {
        let asleep: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            self.gaps.iter().filter(|g| g.asleep).map(|g| (g.from, g.to)).collect();
        if asleep.is_empty() {
            return;
        }
        let n = self.checks.first().map_or(0, |c| c.slots.len());
        let slept: Vec<bool> = (0..n)
            .map(|i| {
                let (from, to) = self.slot_span(i);
                asleep.iter().any(|&(a, b)| a < to && b > from)
            })
            .collect();
        for c in &mut self.checks {
            for (slot, _) in c.slots.iter_mut().zip(&slept).filter(|(s, slept)| s.runs == 0 && **slept) {
                slot.status = SlotStatus::Asleep;
            }
        }
    }

    /// When slot `i` of the timeline begins and ends (the last may be cut by the window's end).
    pub fn slot_span(&self, i: usize) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = self.window_start + Duration::seconds(self.cell_s * i as i64);
        (from, (from + Duration::seconds(self.cell_s)).min(self.window_end))
    }
}

/// The status page's slot width for a window (both in seconds): the
/// narrowest of [`CELL_WIDTHS`] that is at least one heartbeat interval and
/// fits in [`MAX_SLOTS`]: 5 min for 24 h, 1 h for 7 d (SPEC §14).
pub fn slot_width(window_s: i64, interval_s: u64) -> i64 {
    width_within(window_s, interval_s, MAX_SLOTS)
}

/// The timeline's cell width for a window (both in seconds): see [`CELL_WIDTHS`].
pub fn cell_width(window_s: i64, interval_s: u64) -> i64 {
    width_within(window_s, interval_s, MAX_CELLS)
}

/// The narrowest of [`CELL_WIDTHS`] at least one interval wide that covers
/// the window in at most `most` cells.
fn width_within(window_s: i64, interval_s: u64, most: i64) -> i64 {
    let interval = interval_s as i64;
    CELL_WIDTHS
        .iter()
        .copied()
        .find(|&w| w >= interval && cells(window_s, w) <= most as usize)
        // Longer than any width fits: whole days, as many as it takes.
        .unwrap_or_else(|| ceil_div(ceil_div(window_s, most), 86_400).max(1) * 86_400)
}

/// How many cells of `cell_s` cover the window (the last one may be partial).
fn cells(window_s: i64, cell_s: i64) -> usize {
    ceil_div(window_s, cell_s.max(1)).max(1) as usize
}

/// `a / b` rounded up, for positive numbers.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Pairs each `down` event with the next `up` of the same check and keeps
/// the incidents that overlap `(start, now]`. An `up` whose `down` is older
/// than the log begins at `ts - lasted_s`; a `down` without an `up` is ongoing.
/// One sort and one pass (plus binary searches): the log may hold 100,000 lines.
fn incidents(events: &[Event], start: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Incident> {
    let mut sorted: Vec<&Event> = events.iter().filter(|e| e.ts <= now).collect();
    sorted.sort_by_key(|e| e.ts);
    let mut open: HashMap<&str, Incident> = HashMap::new();
    let mut out: Vec<Incident> = Vec::new();
    // When repairs ran, per check, and when messages left; both in time order.
    let mut repairs: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    let mut messages: Vec<DateTime<Utc>> = Vec::new();
    let new = |e: &Event, started: DateTime<Utc>, message: &str| Incident {
        check: e.check.clone(),
        name: e.name.clone(),
        started,
        ended: None,
        ongoing: true,
        lasted_s: 0,
        message: message.to_string(),
        repairs: 0,
        caused_by: e.caused_by.clone(),
        messages: 0,
    };
    for e in &sorted {
        match e.kind.as_str() {
            "down" => {
                // A second `down` without an `up` between (a state reset): the first ends unseen.
                open.entry(&e.check).or_insert_with(|| new(e, e.ts, &e.message));
            }
            "up" => {
                let mut i = open.remove(e.check.as_str()).unwrap_or_else(|| {
                    let mut i = new(e, e.ts - Duration::seconds(e.lasted_s.unwrap_or(0).max(0)), "");
                    i.caused_by = None;
                    i
                });
                i.ended = Some(e.ts);
                i.ongoing = false;
                out.push(i);
            }
            "repair" => repairs.entry(&e.check).or_default().push(e.ts),
            "notified" if !matches!(e.notification.as_deref(), Some("daily" | "test")) => messages.push(e.ts),
            _ => {}
        }
    }
    out.extend(open.into_values());
    out.retain(|i| i.ended.is_none_or(|end| end > start));
    // How many of the sorted times fall in [from, to].
    let between = |times: &[DateTime<Utc>], from: DateTime<Utc>, to: DateTime<Utc>| {
        times.partition_point(|t| *t <= to).saturating_sub(times.partition_point(|t| *t < from))
    };
    for i in &mut out {
        let end = i.ended.unwrap_or(now);
        i.lasted_s = (end - i.started).num_seconds().max(0);
        i.repairs = repairs.get(i.check.as_str()).map_or(0, |t| between(t, i.started, end));
        let sent_until = i.ended.map_or(now, |t| t + Duration::seconds(RECOVERY_SENT_S));
        i.messages = between(&messages, i.started, sent_until);
    }
    out.sort_by(|a, b| a.started.cmp(&b.started).then_with(|| a.check.cmp(&b.check)));
    out
}

/// Gaps longer than two intervals. Between two runs, the heartbeats missed
/// are those that would have fitted in between; at the window's edges (no
/// run on one side), those the schedule would have started by then.
fn gaps(window: &[&Line], start: DateTime<Utc>, now: DateTime<Utc>, interval_s: u64) -> Vec<Gap> {
    let interval = interval_s as i64;
    // Each point: when, whether a heartbeat ran then, and how long it slept before.
    let mut points: Vec<(DateTime<Utc>, bool, i64)> = vec![(start, false, 0)];
    points.extend(window.iter().map(|l| (l.ts, true, l.slept_s.unwrap_or(0))));
    points.push((now, false, 0));
    let mut out = Vec::new();
    for pair in points.windows(2) {
        let ((from, from_run, _), (to, to_run, slept)) = (pair[0], pair[1]);
        let secs = (to - from).num_seconds();
        if secs <= GAP_INTERVALS * interval {
            continue;
        }
        // A gap that was mostly sleep is "asleep": nothing was missed.
        let asleep = slept * 2 >= secs;
        let missed = if asleep {
            0
        } else if from_run && to_run {
            // Round, so a heartbeat that ran a little late is not counted.
            ((secs + interval / 2) / interval - 1) as u64
        } else {
            (secs / interval) as u64
        };
        out.push(Gap { from, to, minutes: secs / 60, missed, asleep });
    }
    out
}

/// Availability, latency and the timeline of every check, by id.
fn check_stats(window: &[&Line], start: DateTime<Utc>, cell_s: i64, n_cells: usize) -> Vec<CheckStats> {
    struct Acc {
        name: String,
        kind: String,
        runs: usize,
        failed: usize,
        warned: usize,
        slots: Vec<Slot>,
        latencies: Vec<u64>,
    }
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, Acc> = HashMap::new();
    for line in window {
        let cell = ((line.ts - start).num_seconds() / cell_s).clamp(0, n_cells as i64 - 1) as usize;
        for c in &line.checks {
            if c.status == CheckStatus::Skipped {
                continue;
            }
            let acc = by_id.entry(c.id.clone()).or_insert_with(|| {
                order.push(c.id.clone());
                Acc {
                    name: c.name.clone(),
                    kind: c.kind.clone(),
                    runs: 0,
                    failed: 0,
                    warned: 0,
                    slots: vec![Slot::EMPTY; n_cells],
                    latencies: Vec::new(),
                }
            });
            acc.runs += 1;
            acc.slots[cell].add(c.status);
            acc.latencies.push(c.latency_ms);
            match c.status {
                CheckStatus::Fail => acc.failed += 1,
                CheckStatus::Warn => acc.warned += 1,
                CheckStatus::Ok | CheckStatus::Skipped => {}
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| {
            let mut acc = by_id.remove(&id)?;
            let up = acc.runs - acc.failed;
            acc.latencies.sort_unstable();
            Some(CheckStats {
                availability: (acc.runs > 0).then(|| up as f64 * 100.0 / acc.runs as f64),
                timeline: acc.slots.iter().map(|s| cell(s.runs, s.failed)).collect(),
                p50_ms: percentile(&acc.latencies, 50),
                p95_ms: percentile(&acc.latencies, 95),
                slots: acc.slots,
                id,
                name: acc.name,
                kind: acc.kind,
                runs: acc.runs,
                up,
                failed: acc.failed,
                warned: acc.warned,
                incidents: 0,
                down_s: 0,
            })
        })
        .collect()
}

/// The nearest-rank `p`th percentile of sorted values; `None` when there are none.
pub fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// One cell of one check.
pub fn cell(ran: u32, failed: u32) -> char {
    match (ran, failed) {
        (0, _) => CELL_NO_DATA,
        (_, 0) => CELL_OK,
        (r, f) if f >= r => CELL_ALL_FAILED,
        _ => CELL_SOME_FAILED,
    }
}

/// The checks with the highest maximum latency (skipped runs left out), one
/// row per measurement: checks that one call answered for all of them (the
/// LaunchAgent labels of one `launchctl list`) name that call as their
/// `measurement`, and count as one sample, not one row each.
fn slowest(window: &[&Line]) -> Vec<Slow> {
    let mut order: Vec<&str> = Vec::new();
    let mut latencies: HashMap<&str, Vec<u64>> = HashMap::new();
    for line in window {
        let mut shared: Vec<(&str, u64)> = Vec::new();
        for c in line.checks.iter().filter(|c| c.status != CheckStatus::Skipped) {
            let (key, ms) = match &c.measurement {
                Some(m) => match shared.iter_mut().find(|(k, _)| k == m) {
                    Some(slot) => {
                        slot.1 = slot.1.max(c.latency_ms);
                        continue;
                    }
                    None => {
                        shared.push((m.as_str(), c.latency_ms));
                        continue;
                    }
                },
                None => (c.name.as_str(), c.latency_ms),
            };
            latencies
                .entry(key)
                .or_insert_with(|| {
                    order.push(key);
                    Vec::new()
                })
                .push(ms);
        }
        for (key, ms) in shared {
            latencies
                .entry(key)
                .or_insert_with(|| {
                    order.push(key);
                    Vec::new()
                })
                .push(ms);
        }
    }
    let mut out: Vec<Slow> = order
        .into_iter()
        .filter_map(|name| {
            let mut v = latencies.remove(name)?;
            v.sort_unstable();
            Some(Slow { name: name.to_string(), p50_ms: percentile(&v, 50)?, max_ms: *v.last()?, samples: v.len() })
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.max_ms));
    out.truncate(SLOWEST);
    out
}

/// A duration in words, in its largest exact unit: 24 h → "24 h", 7 d →
/// "7 d", 90 min → "90 min", 90 s → "90 s". For window names ("the last 24 h").
pub fn words(d: Duration) -> String {
    match d.num_seconds() {
        s if s != 0 && s % 86_400 == 0 && s > 2 * 86_400 => format!("{} d", s / 86_400),
        s if s != 0 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s != 0 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// What one timeline cell covers, in words: "hour", "day", "5 min", "4 h".
pub fn cell_words(cell_s: i64) -> String {
    match cell_s {
        3600 => "hour".into(),
        86_400 => "day".into(),
        s => words(Duration::seconds(s)),
    }
}

/// The legend printed under the timeline.
pub fn legend(s: &Summary) -> String {
    format!(
        "{CELL_OK} all ok · {CELL_SOME_FAILED} some failures · {CELL_ALL_FAILED} all failed · {CELL_NO_DATA} no data — one cell per {}, oldest left, UTC",
        cell_words(s.cell_s)
    )
}

/// The per-check timeline: a time axis (UTC), then one row per check with
/// its cells and availability.
pub fn timeline(s: &Summary) -> String {
    if s.checks.is_empty() {
        return String::new();
    }
    let width = s.checks.iter().map(|c| c.name.chars().count().min(NAME_WIDTH)).max().unwrap_or(0).max(4);
    let n = cells(s.window_s, s.cell_s);
    let format = if s.cell_s < 3600 {
        "%H:%M"
    } else if s.window_s <= 86_400 {
        "%H"
    } else {
        "%m-%d"
    };
    let mut axis = vec![' '; n];
    for cell in (0..n).step_by(AXIS_STEP) {
        let at = (s.window_start + Duration::seconds(cell as i64 * s.cell_s)).format(format).to_string();
        for (i, ch) in at.chars().enumerate() {
            match axis.get_mut(cell + i) {
                Some(slot) => *slot = ch,
                None => axis.push(ch),
            }
        }
    }
    let axis: String = axis.into_iter().collect();
    let mut out = format!("{:width$}  {}\n", "UTC", axis.trim_end());
    for c in &s.checks {
        let name: String = c.name.chars().take(NAME_WIDTH).collect();
        let pad = width - name.chars().count();
        out.push_str(&format!("{name}{}  {}  {:>6}\n", " ".repeat(pad), c.timeline, c.availability_text()));
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::CheckLine;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-28T02:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn check(name: &str, status: CheckStatus, latency_ms: u64) -> CheckLine {
        CheckLine {
            id: format!("api:{name}"),
            name: name.into(),
            kind: "api".into(),
            status,
            latency_ms,
            message: String::new(),
            metrics: Default::default(),
            values: Default::default(),
            measurement: None,
        }
    }

    /// A heartbeat `mins_ago` minutes before `now()`.
    fn line(mins_ago: i64, checks: Vec<CheckLine>, events: &[&str]) -> Line {
        let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
        Line {
            ts: now() - Duration::minutes(mins_ago),
            status: if failed { "CRITICAL" } else { "HEALTHY" }.into(),
            duration_ms: 5,
            checks,
            events: events.iter().map(|e| e.to_string()).collect(),
            slept_s: None,
        }
    }

    trait Offset {
        fn with_ts_offset(self, secs: i64) -> Self;
    }
    impl Offset for Line {
        fn with_ts_offset(mut self, secs: i64) -> Line {
            self.ts += Duration::seconds(secs);
            self
        }
    }

    /// A day every 5 minutes (1 to 1436 minutes ago): Redis down 101..=136
    /// minutes ago (8 runs) with an alert and a recovery; none 601..=656 min ago.
    fn day() -> Vec<Line> {
        let mut out = Vec::new();
        for m in (1..1440).step_by(5) {
            if (600..=660).contains(&m) {
                continue;
            }
            let down = (100..=140).contains(&m);
            let redis = check("Redis", if down { CheckStatus::Fail } else { CheckStatus::Ok }, m as u64 % 7);
            let db = check("Database", CheckStatus::Ok, 20);
            let events: &[&str] = match m {
                131 => &["alert"],
                96 => &["recovery"],
                _ => &[],
            };
            out.push(line(m, vec![redis, db], events));
        }
        out
    }

    #[test]
    fn a_new_install_expects_heartbeats_only_since_its_first_one() {
        let lines: Vec<Line> = [60, 55, 50, 30].iter().map(|m| line(*m, vec![], &[])).collect();
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert_eq!(s.history_since, Some(now() - Duration::minutes(60)));
        assert_eq!(s.runs_expected, 13);
        assert_eq!(s.runs_seen, 4);
        // 50 -> 30 minutes ago is a gap; the 23 hours before the first run are not.
        assert_eq!(s.gaps.len(), 2, "{:?}", s.gaps);
        assert_eq!(s.gaps[0].from, now() - Duration::minutes(50));
        assert_eq!(s.gaps[0].missed, 3);
        assert_eq!(s.gaps[1].missed, 6);

        let none = summarise(&[], &[], now(), Duration::hours(24), 300);
        assert_eq!((none.history_since, none.runs_expected, none.missed), (None, 288, 288));
    }

    #[test]
    fn counts_runs_against_the_schedule() {
        let s = summarise(&day(), &[], now(), Duration::hours(24), 300);
        assert_eq!(s.runs_expected, 288);
        // 288 slots, 12 left out (601, 606, ..., 656).
        assert_eq!(s.runs_seen, 276);
        assert_eq!(s.critical, 8);
        assert_eq!(s.healthy, 268);
    }

    #[test]
    fn a_gap_is_found_with_its_times_and_missed_runs() {
        let s = summarise(&day(), &[], now(), Duration::hours(24), 300);
        assert_eq!(s.gaps.len(), 1, "{:?}", s.gaps);
        let g = &s.gaps[0];
        assert_eq!(g.from, now() - Duration::minutes(661));
        assert_eq!(g.to, now() - Duration::minutes(596));
        assert_eq!(g.minutes, 65);
        assert_eq!(g.missed, 12);
        assert_eq!(s.missed, 12);
    }

    #[test]
    fn availability_counts_ok_and_warn_over_runs_that_ran() {
        let mut lines = day();
        lines[0].checks[1].status = CheckStatus::Warn;
        lines[1].checks[1].status = CheckStatus::Skipped;
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        let redis = &s.checks[0];
        assert_eq!((redis.name.as_str(), redis.runs, redis.failed), ("Redis", 276, 8));
        assert_eq!(redis.availability_text(), "97.1%");
        let db = &s.checks[1];
        assert_eq!((db.runs, db.warned, db.availability_text()), (275, 1, "100.0%".to_string()));
    }

    #[test]
    fn alerts_and_recoveries_are_counted_from_events() {
        let s = summarise(&day(), &[], now(), Duration::hours(24), 300);
        assert_eq!((s.alerts, s.recoveries, s.reminders), (1, 1, 0));
        assert_eq!(s.events[0].kind, "alert");
        assert_eq!(s.events[0].ts, now() - Duration::minutes(131));
    }

    #[test]
    fn the_timeline_has_one_cell_per_hour() {
        let s = summarise(&day(), &[], now(), Duration::hours(24), 300);
        let redis: Vec<char> = s.checks[0].timeline.chars().collect();
        assert_eq!(redis.len(), 24);
        // Hour 13 of the window is 660 to 600 minutes ago: no heartbeat at all.
        assert_eq!(redis[13], CELL_NO_DATA);
        // Down 101..=136 min ago: hour 21 (180..120 ago) and hour 22 (120..60 ago) in part.
        assert_eq!(redis[21], CELL_SOME_FAILED);
        assert_eq!(redis[22], CELL_SOME_FAILED);
        assert_eq!(redis[0], CELL_OK);
        assert_eq!(redis[23], CELL_OK);
    }

    #[test]
    fn an_hour_of_failures_is_all_failed() {
        let lines: Vec<Line> =
            (1..60).step_by(5).map(|m| line(m, vec![check("Redis", CheckStatus::Fail, 1)], &[])).collect();
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert!(s.checks[0].timeline.ends_with(CELL_ALL_FAILED));
        assert_eq!(s.checks[0].availability_text(), "0.0%");
    }

    #[test]
    fn no_history_is_one_gap_over_the_whole_window() {
        let s = summarise(&[], &[], now(), Duration::hours(24), 300);
        assert_eq!(s.runs_seen, 0);
        assert_eq!(s.gaps.len(), 1);
        assert_eq!(s.missed, 288);
        assert!(s.checks.is_empty());
    }

    #[test]
    fn older_lines_and_a_late_last_run_are_handled() {
        let mut lines = vec![line(2000, vec![], &[])];
        lines.extend((30..1440).step_by(5).map(|m| line(m, vec![], &[])));
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert_eq!(s.runs_seen, 282);
        // The last heartbeat was 30 min ago: 6 runs should have happened since.
        let last = s.gaps.last().unwrap();
        assert_eq!((last.to, last.missed), (now(), 6));
    }

    #[test]
    fn the_heartbeat_verdict_follows_section_8() {
        let none = summarise(&[], &[], now(), Duration::hours(24), 300);
        let (critical, text) = none.heartbeat_problem(50).unwrap();
        assert!(critical && text.contains("the heartbeat did not run in the last 24 h"), "{text}");
        // 276 of 288: enough. 92 of 286 (32%, a history that began 1436 min ago): a warning under 50%, not under 30%.
        assert_eq!(summarise(&day(), &[], now(), Duration::hours(24), 300).heartbeat_problem(50), None);
        let few: Vec<Line> = day().into_iter().step_by(3).collect();
        let s = summarise(&few, &[], now(), Duration::hours(24), 300);
        let (critical, text) = s.heartbeat_problem(50).unwrap();
        assert!(!critical && text.contains("92 of 286") && text.contains("32%"), "{text}");
        assert_eq!(s.heartbeat_problem(30), None);
        assert_eq!(s.heartbeat_verdict(0), HeartbeatVerdict::Enough);
    }

    #[test]
    fn more_heartbeats_than_the_schedule_are_never_more_than_expected() {
        // 22 heartbeats run by hand within a minute of a new install.
        let lines: Vec<Line> = (0..22).map(|i| line(1, vec![], &[]).with_ts_offset(i)).collect();
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert_eq!((s.runs_seen, s.runs_expected), (22, 22));
        assert_eq!(s.heartbeat_problem(50), None);
    }

    #[test]
    fn a_gap_that_was_sleep_is_asleep_not_missed() {
        // Every 5 minutes, except a 4-hour sleep that ended 60 minutes ago.
        let mut lines: Vec<Line> =
            (1..1440).step_by(5).filter(|m| !(61..300).contains(m)).map(|m| line(m, vec![], &[])).collect();
        let woke = lines.iter_mut().find(|l| l.ts == now() - Duration::minutes(56)).unwrap();
        woke.slept_s = Some(4 * 3600 - 60);
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        let g = &s.gaps[0];
        assert!(g.asleep, "{g:?}");
        assert_eq!((g.missed, s.missed), (0, 0));
        assert_eq!(s.runs_expected, 288 - 47);
        assert_eq!(s.runs_seen, 288 - 48);
        assert_eq!(s.heartbeat_problem(50), None);

        // Asleep the whole day, as the daily run measured it: nothing ran, nothing was expected.
        let mut none = summarise(&[], &[], now(), Duration::hours(24), 300);
        none.asleep_until_now(24 * 3600);
        assert_eq!((none.runs_expected, none.missed), (0, 0));
        assert!(none.gaps[0].asleep);
        assert_eq!(none.heartbeat_verdict(50), HeartbeatVerdict::Enough);
    }

    #[test]
    fn launchagent_labels_of_one_list_are_one_slow_row() {
        let la = |name: &str| CheckLine {
            measurement: Some(crate::checks::launchagent::MEASUREMENT.into()),
            metrics: Default::default(),
            values: Default::default(),
            id: format!("launchagent:{name}"),
            name: name.into(),
            kind: "launchagent".into(),
            status: CheckStatus::Ok,
            latency_ms: 40,
            message: String::new(),
        };
        let lines: Vec<Line> = (1..4)
            .map(|m| {
                line(m * 5, vec![la("a.one"), la("a.two"), la("a.three"), check("Redis", CheckStatus::Ok, 1)], &[])
            })
            .collect();
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert_eq!(s.slowest.len(), 2, "{:?}", s.slowest);
        assert_eq!(
            s.slowest[0],
            Slow { name: crate::checks::launchagent::MEASUREMENT.into(), p50_ms: 40, max_ms: 40, samples: 3 }
        );
    }

    #[test]
    fn slowest_checks_have_median_and_max() {
        let lines: Vec<Line> = [10, 30, 20, 400]
            .iter()
            .enumerate()
            .map(|(i, &ms)| {
                line(i as i64 * 5 + 1, vec![check("API", CheckStatus::Ok, ms), check("Redis", CheckStatus::Ok, 1)], &[])
            })
            .collect();
        let s = summarise(&lines, &[], now(), Duration::hours(24), 300);
        assert_eq!(s.slowest[0], Slow { name: "API".into(), p50_ms: 20, max_ms: 400, samples: 4 });
        assert_eq!(s.slowest[1].name, "Redis");
    }

    fn event(mins_ago: i64, check: &str, kind: &str, lasted_min: Option<i64>) -> Event {
        let mut e = Event::new(now() - Duration::minutes(mins_ago), check, &check.to_uppercase(), kind, "refused");
        e.lasted_s = lasted_min.map(|m| m * 60);
        e
    }

    #[test]
    fn windows_are_named_in_their_largest_exact_unit() {
        assert_eq!(words(Duration::hours(24)), "24 h");
        assert_eq!(words(Duration::hours(48)), "48 h");
        assert_eq!(words(Duration::days(7)), "7 d");
        assert_eq!(words(Duration::minutes(90)), "90 min");
        assert_eq!(words(Duration::seconds(90)), "90 s");
    }

    #[test]
    fn the_cell_width_keeps_the_timeline_short_and_never_under_an_interval() {
        assert_eq!(cell_width(3600, 300), 300, "1 h: 5-minute cells");
        assert_eq!(cell_width(86_400, 300), 3600, "24 h: hours, as the daily report always had");
        assert_eq!(cell_width(7 * 86_400, 300), 14_400, "7 d: 4-hour cells");
        assert_eq!(cell_width(3600, 60), 120, "minute heartbeats: 2-minute cells");
        assert_eq!(cell_width(90, 300), 300);
        assert_eq!(cell_width(365 * 86_400, 300), 8 * 86_400, "past a week a cell is whole days");
        for (window, interval) in [(3600, 300), (7200, 300), (6 * 3600, 300), (86_400, 60), (3 * 86_400, 300)] {
            let n = cells(window, cell_width(window, interval));
            assert!(n <= 48, "{window}/{interval}: {n} cells");
        }
    }

    #[test]
    fn one_hour_has_twelve_five_minute_cells() {
        // Every 5 minutes for an hour; Redis failed 12 and 17 minutes ago.
        let lines: Vec<Line> = (0..12)
            .map(|i| {
                let m = i * 5 + 2;
                let st = if m == 12 || m == 17 { CheckStatus::Fail } else { CheckStatus::Ok };
                line(m, vec![check("Redis", st, 1)], &[])
            })
            .collect();
        let s = summarise(&lines, &[], now(), Duration::hours(1), 300);
        assert_eq!((s.window.as_str(), s.cell_s, s.runs_expected, s.runs_seen), ("1 h", 300, 12, 12));
        assert!(s.gaps.is_empty(), "{:?}", s.gaps);
        let c = &s.checks[0];
        assert_eq!(c.timeline.chars().count(), 12);
        assert_eq!(c.timeline, "████████XX██");
        assert_eq!(c.availability_text(), "83.3%");
        let text = timeline(&s);
        assert!(text.starts_with("UTC    01:00 01:30"), "{text}");
        assert!(legend(&s).contains("one cell per 5 min"), "{}", legend(&s));
    }

    #[test]
    fn seven_days_have_four_hour_cells_and_expect_a_week_of_heartbeats() {
        let week = Duration::days(7);
        let mut lines = Vec::new();
        // Every 5 minutes for 7 days, except day 3 (a Mac asleep for 24 h).
        for m in (1..7 * 1440).step_by(5) {
            if (3 * 1440..4 * 1440).contains(&m) {
                continue;
            }
            lines.push(line(m, vec![check("Redis", CheckStatus::Ok, 1)], &[]));
        }
        let s = summarise(&lines, &[], now(), week, 300);
        assert_eq!((s.cell_s, s.runs_expected, s.window.as_str()), (14_400, 2016, "7 d"));
        assert_eq!(s.runs_seen, 2016 - 288);
        assert_eq!(s.gaps.len(), 1);
        assert_eq!(s.gaps[0].missed, 288);
        let t: Vec<char> = s.checks[0].timeline.chars().collect();
        assert_eq!(t.len(), 42);
        assert_eq!(t.iter().filter(|c| **c == CELL_NO_DATA).count(), 6, "{}", s.checks[0].timeline);
        assert!(legend(&s).contains("one cell per 4 h"));
        assert!(timeline(&s).starts_with("UTC    10-21"), "{}", timeline(&s));
    }

    #[test]
    fn an_incident_counts_the_repairs_of_its_check_from_its_start_to_its_end_inclusive() {
        let log = vec![
            event(400, "redis", "repair", None),
            event(300, "redis", "down", None),
            event(300, "redis", "repair", None),
            event(290, "database", "repair", None),
            event(280, "redis", "repair", None),
            event(250, "redis", "repair", None),
            event(250, "redis", "up", Some(50)),
            event(200, "redis", "repair", None),
            event(100, "redis", "down", None),
            event(90, "redis", "repair", None),
        ];
        let s = summarise(&day(), &log, now(), Duration::hours(24), 300);
        let got: Vec<(&str, usize)> = s.incidents.iter().map(|i| (i.check.as_str(), i.repairs)).collect();
        assert_eq!(got, vec![("redis", 3), ("redis", 1)]);
    }

    #[test]
    fn incidents_pair_down_and_up_and_keep_the_ongoing_ones() {
        let log = vec![
            // Before the window, over before it: left out.
            event(2000, "redis", "down", None),
            event(1990, "redis", "up", Some(10)),
            // Began before the 24 h window, ended inside it.
            event(1500, "database", "down", None),
            event(1300, "database", "up", Some(200)),
            // Inside, with a repair, and one still ongoing.
            event(300, "redis", "down", None),
            event(290, "redis", "repair", None),
            event(250, "redis", "up", Some(50)),
            event(100, "redis", "down", None),
            // An up whose down the log no longer holds.
            event(30, "api:x", "up", Some(45)),
            event(20, "redis", "status", None),
        ];
        let s = summarise(&day(), &log, now(), Duration::hours(24), 300);
        let got: Vec<(&str, i64, Option<i64>, bool, usize)> = s
            .incidents
            .iter()
            .map(|i| {
                let ago = |t: DateTime<Utc>| (now() - t).num_minutes();
                (i.check.as_str(), ago(i.started), i.ended.map(ago), i.ongoing, i.repairs)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("database", 1500, Some(1300), false, 0),
                ("redis", 300, Some(250), false, 1),
                ("redis", 100, None, true, 0),
                ("api:x", 75, Some(30), false, 0),
            ]
        );
        assert_eq!(s.incidents[2].lasted_s, 100 * 60);
        assert_eq!(s.incidents[1].message, "refused");
        // Redis's own row: 2 incidents, 50 + 100 minutes down inside the window.
        let mut lines = day();
        lines[0].checks[0].id = "redis".into();
        let s = summarise(&lines, &log, now(), Duration::hours(24), 300);
        let redis = s.checks.iter().find(|c| c.id == "redis").unwrap();
        assert_eq!((redis.incidents, redis.down_s), (2, 150 * 60));
        // A shorter window sees only the ongoing one (and api:x's end).
        let s = summarise(&lines, &log, now(), Duration::hours(1), 300);
        assert_eq!(s.incidents.len(), 2, "{:?}", s.incidents);
        let redis = s.checks.iter().find(|c| c.id == "redis").unwrap();
        assert_eq!((redis.incidents, redis.down_s), (1, 3600));
    }

    #[test]
    fn page_slots_are_five_minutes_for_a_day_and_hours_for_a_week() {
        assert_eq!(slot_width(86_400, 300), 300, "24 h: 288 slots of 5 min");
        assert_eq!(slot_width(7 * 86_400, 300), 3600, "7 d: 168 hours");
        assert_eq!(slot_width(3600, 300), 300, "1 h: 12 slots");
        assert_eq!(slot_width(3600, 60), 60);
        assert_eq!(slot_width(30 * 86_400, 300), 14_400);
    }

    #[test]
    fn a_slot_shows_its_worst_status_and_sleep_where_nothing_ran() {
        // 1 h in 5-minute slots: slot 0 warned once, slot 1 failed once among oks,
        // 20..45 minutes ago asleep (no runs), the rest ok.
        let mut lines = Vec::new();
        for m in (1..60).step_by(5) {
            if (16..=45).contains(&m) {
                continue;
            }
            let st = match m {
                56 => CheckStatus::Warn,
                51 => CheckStatus::Fail,
                _ => CheckStatus::Ok,
            };
            let mut l = line(m, vec![check("Redis", st, m as u64)], &[]);
            if m == 11 {
                l.slept_s = Some(30 * 60);
            }
            lines.push(l.with_ts_offset(-60));
        }
        let s = summarise_in(&lines, &[], now(), Duration::hours(1), 300, 300);
        let c = &s.checks[0];
        let got: Vec<&str> = c.slots.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(
            got,
            ["warn", "fail", "ok", "asleep", "asleep", "asleep", "asleep", "asleep", "asleep", "ok", "ok", "ok"]
        );
        assert_eq!(c.timeline, "█X█······███", "the text timeline is unchanged");
        assert_eq!((c.slots[0].runs, c.slots[0].warned, c.slots[1].failed), (1, 1, 1));
        // Without the sleep the same stretch is only missing.
        lines.iter_mut().for_each(|l| l.slept_s = None);
        let s = summarise_in(&lines, &[], now(), Duration::hours(1), 300, 300);
        assert_eq!(s.checks[0].slots[4].status, SlotStatus::None);
        assert_eq!(s.slot_span(11), (now() - Duration::minutes(5), now()));
    }

    #[test]
    fn a_daily_run_after_a_sleep_marks_the_last_slots_asleep() {
        let lines: Vec<Line> =
            (0..6).map(|i| line(59 - i * 5, vec![check("Redis", CheckStatus::Ok, 1)], &[])).collect();
        let mut s = summarise_in(&lines, &[], now(), Duration::hours(1), 300, 300);
        assert_eq!(s.checks[0].slots[11].status, SlotStatus::None);
        s.asleep_until_now(40 * 60);
        assert_eq!(s.checks[0].slots[11].status, SlotStatus::Asleep);
        assert_eq!(s.checks[0].slots[5].status, SlotStatus::Ok);
    }

    #[test]
    fn median_and_p95_latency_per_check() {
        let lines: Vec<Line> =
            (1..=100).map(|ms| line(ms as i64 * 5, vec![check("API", CheckStatus::Ok, ms)], &[])).collect();
        let s = summarise(&lines, &[], now(), Duration::days(1), 300);
        assert_eq!((s.checks[0].p50_ms, s.checks[0].p95_ms), (Some(50), Some(95)));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 95), Some(7));
    }

    #[test]
    fn incidents_carry_their_cause_and_the_messages_sent_meanwhile() {
        let mut down = event(100, "api:x", "down", None);
        down.caused_by = Some("redis".into());
        let notified = |mins_ago: i64, kind: &str| {
            let mut e = Event::new(now() - Duration::minutes(mins_ago), "", "", "notified", "");
            e.notification = Some(kind.into());
            e.channel = Some("discord".into());
            e
        };
        let mut up = event(50, "api:x", "up", Some(50));
        up.ts -= Duration::seconds(30);
        let log = vec![
            down,
            notified(99, "alert"),
            notified(70, "daily"),
            up,
            notified(50, "recovery"),
            notified(10, "alert"),
        ];
        let s = summarise(&day(), &log, now(), Duration::hours(24), 300);
        let i = &s.incidents[0];
        assert_eq!((i.caused_by.as_deref(), i.messages), (Some("redis"), 2), "{i:?}");
        assert_eq!(i.message_with_cause(), "refused (caused by redis)");
    }

    #[test]
    fn each_of_thousands_of_incidents_counts_its_own_repairs() {
        // 5,000 incidents among 105,000 events (counted by binary search, not
        // one scan of the log per incident).
        let mut log = Vec::new();
        for i in 0..5000 {
            let at = 6000 - i;
            log.push(event(at, "redis", "down", None));
            log.push(event(at, "redis", "repair", None));
            let mut up = event(at, "redis", "up", Some(0));
            up.ts += Duration::seconds(30);
            log.push(up);
        }
        log.extend((0..90_000).map(|i| event(i % 6000, "database", "status", None)));
        let s = summarise(&day(), &log, now(), Duration::days(7), 300);
        assert_eq!(s.incidents.len(), 5000);
        assert!(s.incidents.iter().all(|i| i.repairs == 1));
    }
}
