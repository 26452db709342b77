//! The last 24 hours of heartbeat history, summarised for the daily report.
//!
//! Pure: it sees only the history lines, the time of the daily run and the
//! heartbeat interval, so every number in the report is unit-tested here.
//! Times are UTC.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::checks::CheckStatus;
use crate::history::Line;

/// The summary covers this many hours before the run.
pub const WINDOW_HOURS: i64 = 24;

/// A gap longer than this many intervals counts as missed heartbeats.
const GAP_INTERVALS: i64 = 2;

/// How many checks the "slowest" list shows.
const SLOWEST: usize = 5;

/// Timeline cells: one per hour, oldest first.
pub const CELL_OK: char = '█';
pub const CELL_SOME_FAILED: char = '▒';
pub const CELL_ALL_FAILED: char = 'X';
pub const CELL_NO_DATA: char = '·';

/// What the daily report says about the last 24 hours.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub interval_s: u64,
    /// When the history begins, if that is inside the window (a new
    /// install): heartbeats are expected from then on, not before.
    pub history_since: Option<DateTime<Utc>>,
    /// Heartbeats recorded in the window.
    pub runs_seen: usize,
    /// Heartbeats the schedule asks for: 24 h / interval.
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
    /// 24 cells, one per hour, oldest left (see the `CELL_*` characters).
    pub timeline: String,
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
                    "the heartbeat did not run in the last {WINDOW_HOURS} h: no line in the heartbeat history; `ops-atomic status` shows whether the monitor agent is loaded and why it is not running"
                ),
            )),
            HeartbeatVerdict::Few { percent } => Some((
                false,
                format!(
                    "only {} of {} expected heartbeats ran in the last {WINDOW_HOURS} h ({percent}%, under daily.min_heartbeat_percent = {min_percent}); the missed ones are listed in the report",
                    self.runs_seen, self.runs_expected
                ),
            )),
        }
    }
}

/// The name of the one measurement a heartbeat's LaunchAgent checks share.
pub const LAUNCHCTL_LIST: &str = "LaunchAgents (one `launchctl list`)";

/// Latency of one check over the window.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Slow {
    pub name: String,
    pub p50_ms: u64,
    pub max_ms: u64,
    pub samples: usize,
}

/// Summarises the heartbeats in `(now - 24 h, now]`. `lines` may hold older
/// lines and need not be sorted.
pub fn summarise(lines: &[Line], now: DateTime<Utc>, interval_s: u64) -> Summary {
    let interval_s = interval_s.max(1);
    let start = now - Duration::hours(WINDOW_HOURS);
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
        None => (WINDOW_HOURS as u64 * 3600) / interval_s,
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
    let checks = check_stats(&window, start);
    Summary {
        window_start: start,
        window_end: now,
        interval_s,
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
        asleep_s,
    }
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
    }
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

/// Availability and the hourly timeline of every check, by id.
fn check_stats(window: &[&Line], start: DateTime<Utc>) -> Vec<CheckStats> {
    struct Acc {
        name: String,
        kind: String,
        runs: usize,
        failed: usize,
        warned: usize,
        /// Per hour: (ran, failed).
        hours: [(u32, u32); WINDOW_HOURS as usize],
    }
    let mut order: Vec<String> = Vec::new();
    let mut by_id: HashMap<String, Acc> = HashMap::new();
    for line in window {
        let hour = ((line.ts - start).num_seconds() / 3600).clamp(0, WINDOW_HOURS - 1) as usize;
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
                    hours: [(0, 0); WINDOW_HOURS as usize],
                }
            });
            acc.runs += 1;
            acc.hours[hour].0 += 1;
            match c.status {
                CheckStatus::Fail => {
                    acc.failed += 1;
                    acc.hours[hour].1 += 1;
                }
                CheckStatus::Warn => acc.warned += 1,
                CheckStatus::Ok | CheckStatus::Skipped => {}
            }
        }
    }
    order
        .into_iter()
        .filter_map(|id| {
            let acc = by_id.remove(&id)?;
            let up = acc.runs - acc.failed;
            Some(CheckStats {
                availability: (acc.runs > 0).then(|| up as f64 * 100.0 / acc.runs as f64),
                timeline: acc.hours.iter().map(|&(ran, failed)| cell(ran, failed)).collect(),
                id,
                name: acc.name,
                kind: acc.kind,
                runs: acc.runs,
                up,
                failed: acc.failed,
                warned: acc.warned,
            })
        })
        .collect()
}

/// One hour of one check.
pub fn cell(ran: u32, failed: u32) -> char {
    match (ran, failed) {
        (0, _) => CELL_NO_DATA,
        (_, 0) => CELL_OK,
        (r, f) if f >= r => CELL_ALL_FAILED,
        _ => CELL_SOME_FAILED,
    }
}

/// The checks with the highest maximum latency (skipped runs left out), one
/// row per measurement: every LaunchAgent label of a heartbeat comes from
/// the same `launchctl list`, so they are one sample, not one row per label.
fn slowest(window: &[&Line]) -> Vec<Slow> {
    let mut order: Vec<&str> = Vec::new();
    let mut latencies: HashMap<&str, Vec<u64>> = HashMap::new();
    for line in window {
        let mut list_ms: Option<u64> = None;
        for c in line.checks.iter().filter(|c| c.status != CheckStatus::Skipped) {
            if c.kind == "launchagent" {
                list_ms = Some(list_ms.unwrap_or(0).max(c.latency_ms));
                continue;
            }
            latencies
                .entry(&c.name)
                .or_insert_with(|| {
                    order.push(&c.name);
                    Vec::new()
                })
                .push(c.latency_ms);
        }
        if let Some(ms) = list_ms {
            latencies
                .entry(LAUNCHCTL_LIST)
                .or_insert_with(|| {
                    order.push(LAUNCHCTL_LIST);
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
            // Nearest-rank median.
            let p50 = v[(v.len() - 1) / 2];
            Some(Slow { name: name.to_string(), p50_ms: p50, max_ms: *v.last()?, samples: v.len() })
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.max_ms));
    out.truncate(SLOWEST);
    out
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
        let s = summarise(&lines, now(), 300);
        assert_eq!(s.history_since, Some(now() - Duration::minutes(60)));
        assert_eq!(s.runs_expected, 13);
        assert_eq!(s.runs_seen, 4);
        // 50 -> 30 minutes ago is a gap; the 23 hours before the first run are not.
        assert_eq!(s.gaps.len(), 2, "{:?}", s.gaps);
        assert_eq!(s.gaps[0].from, now() - Duration::minutes(50));
        assert_eq!(s.gaps[0].missed, 3);
        assert_eq!(s.gaps[1].missed, 6);

        let none = summarise(&[], now(), 300);
        assert_eq!((none.history_since, none.runs_expected, none.missed), (None, 288, 288));
    }

    #[test]
    fn counts_runs_against_the_schedule() {
        let s = summarise(&day(), now(), 300);
        assert_eq!(s.runs_expected, 288);
        // 288 slots, 12 left out (601, 606, ..., 656).
        assert_eq!(s.runs_seen, 276);
        assert_eq!(s.critical, 8);
        assert_eq!(s.healthy, 268);
    }

    #[test]
    fn a_gap_is_found_with_its_times_and_missed_runs() {
        let s = summarise(&day(), now(), 300);
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
        let s = summarise(&lines, now(), 300);
        let redis = &s.checks[0];
        assert_eq!((redis.name.as_str(), redis.runs, redis.failed), ("Redis", 276, 8));
        assert_eq!(redis.availability_text(), "97.1%");
        let db = &s.checks[1];
        assert_eq!((db.runs, db.warned, db.availability_text()), (275, 1, "100.0%".to_string()));
    }

    #[test]
    fn alerts_and_recoveries_are_counted_from_events() {
        let s = summarise(&day(), now(), 300);
        assert_eq!((s.alerts, s.recoveries, s.reminders), (1, 1, 0));
        assert_eq!(s.events[0].kind, "alert");
        assert_eq!(s.events[0].ts, now() - Duration::minutes(131));
    }

    #[test]
    fn the_timeline_has_one_cell_per_hour() {
        let s = summarise(&day(), now(), 300);
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
        let s = summarise(&lines, now(), 300);
        assert!(s.checks[0].timeline.ends_with(CELL_ALL_FAILED));
        assert_eq!(s.checks[0].availability_text(), "0.0%");
    }

    #[test]
    fn no_history_is_one_gap_over_the_whole_window() {
        let s = summarise(&[], now(), 300);
        assert_eq!(s.runs_seen, 0);
        assert_eq!(s.gaps.len(), 1);
        assert_eq!(s.missed, 288);
        assert!(s.checks.is_empty());
    }

    #[test]
    fn older_lines_and_a_late_last_run_are_handled() {
        let mut lines = vec![line(2000, vec![], &[])];
        lines.extend((30..1440).step_by(5).map(|m| line(m, vec![], &[])));
        let s = summarise(&lines, now(), 300);
        assert_eq!(s.runs_seen, 282);
        // The last heartbeat was 30 min ago: 6 runs should have happened since.
        let last = s.gaps.last().unwrap();
        assert_eq!((last.to, last.missed), (now(), 6));
    }

    #[test]
    fn the_heartbeat_verdict_follows_section_8() {
        let none = summarise(&[], now(), 300);
        let (critical, text) = none.heartbeat_problem(50).unwrap();
        assert!(critical && text.contains("the heartbeat did not run in the last 24 h"), "{text}");
        // 276 of 288: enough. 92 of 286 (32%, a history that began 1436 min ago): a warning under 50%, not under 30%.
        assert_eq!(summarise(&day(), now(), 300).heartbeat_problem(50), None);
        let few: Vec<Line> = day().into_iter().step_by(3).collect();
        let s = summarise(&few, now(), 300);
        let (critical, text) = s.heartbeat_problem(50).unwrap();
        assert!(!critical && text.contains("92 of 286") && text.contains("32%"), "{text}");
        assert_eq!(s.heartbeat_problem(30), None);
        assert_eq!(s.heartbeat_verdict(0), HeartbeatVerdict::Enough);
    }

    #[test]
    fn more_heartbeats_than_the_schedule_are_never_more_than_expected() {
        // 22 heartbeats run by hand within a minute of a new install.
        let lines: Vec<Line> = (0..22).map(|i| line(1, vec![], &[]).with_ts_offset(i)).collect();
        let s = summarise(&lines, now(), 300);
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
        let s = summarise(&lines, now(), 300);
        let g = &s.gaps[0];
        assert!(g.asleep, "{g:?}");
        assert_eq!((g.missed, s.missed), (0, 0));
        assert_eq!(s.runs_expected, 288 - 47);
        assert_eq!(s.runs_seen, 288 - 48);
        assert_eq!(s.heartbeat_problem(50), None);

        // Asleep the whole day, as the daily run measured it: nothing ran, nothing was expected.
        let mut none = summarise(&[], now(), 300);
        none.asleep_until_now(24 * 3600);
        assert_eq!((none.runs_expected, none.missed), (0, 0));
        assert!(none.gaps[0].asleep);
        assert_eq!(none.heartbeat_verdict(50), HeartbeatVerdict::Enough);
    }

    #[test]
    fn launchagent_labels_of_one_list_are_one_slow_row() {
        let la = |name: &str| CheckLine {
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
        let s = summarise(&lines, now(), 300);
        assert_eq!(s.slowest.len(), 2, "{:?}", s.slowest);
        assert_eq!(s.slowest[0], Slow { name: LAUNCHCTL_LIST.into(), p50_ms: 40, max_ms: 40, samples: 3 });
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
        let s = summarise(&lines, now(), 300);
        assert_eq!(s.slowest[0], Slow { name: "API".into(), p50_ms: 20, max_ms: 400, samples: 4 });
        assert_eq!(s.slowest[1].name, "Redis");
    }
}
