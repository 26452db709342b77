//! `[[job]]` (SPEC §20): did a scheduled job run, and did it finish well?
//!
//! The runs are what `ops-atomic run NAME -- …` recorded (`crate::jobs`).
//! The decision is [`judge`], pure over the schedule, the runs, the time
//! now, when the check first saw the job and when the machine slept; the
//! check only reads the job's file, the clocks and its memo.
//!
//! Sleep does not count: lateness is measured in time awake. Each run of
//! the check measures how much longer the machine has slept since boot
//! (`crate::sleep`) and keeps the stretches asleep of the last 8 days in
//! its memo, placed at the end of the gap since its previous run (the
//! heartbeat runs again within minutes of a wake). A job due while the Mac
//! slept is therefore due again only in awake time: the run launchd makes
//! on wake is on time.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::jobs::{self, Run};
use crate::validate;

crate::check_section! {
    /// `[[job]]`: a job run through `ops-atomic run NAME -- …`.
    pub struct Job {
        /// The NAME given to `ops-atomic run` (and shown in messages).
        pub name: String = String::new(),
        /// A run is expected this often: "1h", "15m", "1d"; or set `at`.
        pub every: String = String::new(),
        /// A run is expected at this local time, "HH:MM" (TZ is honoured); or set `every`.
        pub at: String = String::new(),
        /// With `at`: the days it runs, "mon" … "sun"; [] = every day.
        pub days: Vec<String> = Vec::new(),
        /// How late (in time awake) a run may start before the job fails.
        pub grace: String = "30m".to_string(),
        /// A run still going after this fails the job ("" = not checked).
        pub max_duration: String = String::new(),
        /// A run that finished faster than this is a warning ("" = not checked).
        pub min_duration: String = String::new(),
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

/// The schedule of a job, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub every: Option<chrono::Duration>,
    /// Minutes after local midnight.
    pub at: Option<u32>,
    /// With `at`: the days; empty = every day.
    pub days: Vec<Weekday>,
    pub grace: chrono::Duration,
    pub max_duration: Option<chrono::Duration>,
    pub min_duration: Option<chrono::Duration>,
}

/// A start this much before the due time still counts for it (clocks and
/// launchd are not to the second).
const EARLY: chrono::Duration = chrono::Duration::minutes(5);

/// Stretches asleep kept in the memo, at most, and for how long.
const ASLEEP_KEPT: usize = 200;
const ASLEEP_DAYS: i64 = 8;

fn day(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn opt_duration(s: &str) -> Result<Option<chrono::Duration>, String> {
    if s.trim().is_empty() { Ok(None) } else { crate::duration::parse(s).map(Some) }
}

impl Job {
    /// The schedule, or every problem with its keys (each naming its key under `at`).
    pub fn schedule(&self, at: &str) -> Result<Schedule, Vec<String>> {
        let mut errs = Vec::new();
        let every = match opt_duration(&self.every) {
            Ok(d) => d,
            Err(why) => {
                errs.push(format!("{at}.every: {why}"));
                None
            }
        };
        let time = if self.at.trim().is_empty() {
            None
        } else {
            let t = crate::windows::parse_hhmm(&self.at);
            if t.is_none() {
                errs.push(format!("{at}.at: {:?} is not a time HH:MM (local time, such as \"02:30\")", self.at));
            }
            t
        };
        match (self.every.trim().is_empty(), self.at.trim().is_empty()) {
            (true, true) => errs.push(format!(
                "{at}: set when the job runs: every = \"1h\" (an interval) or at = \"02:30\" (local time)"
            )),
            (false, false) => {
                errs.push(format!("{at}: every and at are both set: keep one (every = an interval, at = a time)"))
            }
            _ => {}
        }
        let mut days = Vec::new();
        for (i, d) in self.days.iter().enumerate() {
            match day(d) {
                Some(w) => days.push(w),
                None => {
                    errs.push(format!("{at}.days[{i}] = {d:?}: not a day; write mon, tue, wed, thu, fri, sat or sun"))
                }
            }
        }
        if !self.days.is_empty() && self.at.trim().is_empty() {
            errs.push(format!("{at}.days: only with at (a time of day); every counts from the last run"));
        }
        let mut dur = |key: &str, v: &str| match opt_duration(v) {
            Ok(d) => d,
            Err(why) => {
                errs.push(format!("{at}.{key}: {why}"));
                None
            }
        };
        let grace = dur("grace", &self.grace).unwrap_or_else(chrono::Duration::zero);
        let max_duration = dur("max_duration", &self.max_duration);
        let min_duration = dur("min_duration", &self.min_duration);
        if let (Some(lo), Some(hi)) = (min_duration, max_duration)
            && lo >= hi
        {
            errs.push(format!(
                "{at}.min_duration = {:?}: must be less than max_duration ({:?})",
                self.min_duration, self.max_duration
            ));
        }
        if errs.is_empty() {
            Ok(Schedule { every, at: time, days, grace, max_duration, min_duration })
        } else {
            Err(errs)
        }
    }

    fn describe(&self) -> String {
        let when = if !self.every.trim().is_empty() {
            format!("every {}", self.every.trim())
        } else if self.days.is_empty() {
            format!("at {}", self.at.trim())
        } else {
            format!("at {} on {}", self.at.trim(), self.days.join(", "))
        };
        format!("{when}, grace {}", if self.grace.trim().is_empty() { "0" } else { self.grace.trim() })
    }
}

impl Check for Job {
    fn common(&self) -> Common {
        // A job's failure does not flicker: it stands until the next run,
        // so one failing heartbeat is enough to open the incident.
        let mut c = self.common();
        c.failure_threshold = c.failure_threshold.or(Some(1));
        c
    }
    fn kind(&self) -> &'static str {
        "job"
    }
    fn section(&self) -> &'static str {
        "Jobs"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, self.describe())]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "job (the NAME given to `ops-atomic run`)");
        if let Err(e) = self.schedule(at) {
            errs.extend(e);
        }
        errs
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(3)
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let who = &self.idents()[0];
        let Ok(schedule) = self.schedule("job") else {
            return vec![CheckResult::new(who, CheckStatus::Fail, "the [[job]] section is not valid")];
        };
        let now = now();
        let paths = crate::paths::Paths { root: env.root.clone() };
        let clocks = crate::sleep::measure();
        let before: Memo = env.memo(&who.id).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        let memo = before.next(now, clocks.as_ref());
        let mut runs = jobs::runs(&jobs::read(&paths, &self.name));
        jobs::mark_alive(&mut runs, clocks.and_then(|c| c.boot_time));
        let first_seen = memo.first_seen.unwrap_or(now);
        let v = judge(&schedule, &runs, first_seen, now, &memo.asleep, &chrono::Local);
        let mut r = CheckResult::new(who, v.status, v.message);
        r.memo = serde_json::to_value(&memo).ok();
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// The environment variable that stands in for the time a `[[job]]` is
/// judged at (RFC 3339): a test hook, since a test cannot wait for 02:30.
/// Only the job check reads it; everything else keeps the real time.
pub const NOW_ENV: &str = "OPS_ATOMIC_JOB_NOW";

fn now() -> DateTime<Utc> {
    std::env::var(NOW_ENV)
        .ok()
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// What a `[[job]]` check keeps between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memo {
    /// When the check first saw the job: a job never run is late only
    /// after its first due time from then on.
    pub first_seen: Option<DateTime<Utc>>,
    /// The previous run of the check, and the clocks then.
    pub seen: Option<DateTime<Utc>>,
    pub slept_since_boot_s: Option<f64>,
    pub boot_time: Option<DateTime<Utc>>,
    /// Stretches asleep (or off), oldest first.
    pub asleep: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Memo {
    /// The memo after a run of the check at `now` that measured `clocks`. Pure.
    pub fn next(&self, now: DateTime<Utc>, clocks: Option<&crate::sleep::Clocks>) -> Memo {
        let mut m = self.clone();
        m.first_seen.get_or_insert(now);
        if let Some(c) = clocks {
            if let Some(w) = crate::incidents::laptop::wake(self.slept_since_boot_s, self.boot_time, c) {
                if w.rebooted
                    && let (Some(seen), Some(boot)) = (self.seen, c.boot_time)
                    && seen < boot
                {
                    m.asleep.push((seen, boot)); // off: no job ran, none was expected
                }
                // More sleep than a clock can say (a bogus stand-in): since the previous run.
                let from = chrono::Duration::try_seconds(w.slept_s).and_then(|d| now.checked_sub_signed(d));
                if w.slept_s > 0 {
                    m.asleep.push((from.or(self.seen).unwrap_or(now), now));
                }
            }
            m.slept_since_boot_s = Some(c.slept_since_boot_s);
            m.boot_time = c.boot_time;
        }
        m.seen = Some(now);
        let horizon = now - chrono::Duration::days(ASLEEP_DAYS);
        m.asleep.retain(|(_, to)| *to > horizon);
        let over = m.asleep.len().saturating_sub(ASLEEP_KEPT);
        m.asleep.drain(..over);
        m
    }
}

/// The check's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: CheckStatus,
    pub message: String,
}

/// Time awake between `from` and `to`: the stretch minus the time asleep in it.
pub fn awake(from: DateTime<Utc>, to: DateTime<Utc>, asleep: &[(DateTime<Utc>, DateTime<Utc>)]) -> chrono::Duration {
    if to <= from {
        return chrono::Duration::zero();
    }
    // Stretches may overlap (a reboot and a sleep): merge as we go.
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        asleep.iter().map(|(a, b)| ((*a).max(from), (*b).min(to))).filter(|(a, b)| a < b).collect();
    spans.sort();
    let mut slept = chrono::Duration::zero();
    let mut reach = from;
    for (a, b) in spans {
        let a = a.max(reach);
        if b > a {
            slept += b - a;
            reach = b;
        }
    }
    (to - from) - slept
}

/// The due time of an `at` schedule at or before `now`, in `tz`; `None`
/// when none falls in the last 8 days (a `days` list never matched). A
/// time that does not exist that day (a DST gap) is due an hour later.
pub fn last_due<Tz: TimeZone>(s: &Schedule, now: DateTime<Utc>, tz: &Tz) -> Option<DateTime<Utc>> {
    occurrences(s, now, tz, -1).into_iter().find(|d| *d <= now)
}

/// The next due time after `now`.
pub fn next_due<Tz: TimeZone>(s: &Schedule, now: DateTime<Utc>, tz: &Tz) -> Option<DateTime<Utc>> {
    occurrences(s, now, tz, 1).into_iter().find(|d| *d > now)
}

fn occurrences<Tz: TimeZone>(s: &Schedule, now: DateTime<Utc>, tz: &Tz, dir: i64) -> Vec<DateTime<Utc>> {
    let Some(minutes) = s.at else { return Vec::new() };
    let today = now.with_timezone(tz).date_naive();
    let mut out = Vec::new();
    for i in 0..9 {
        let Some(date) = today.checked_add_signed(chrono::Duration::days(dir * i)) else { continue };
        if !s.days.is_empty() && !s.days.contains(&date.weekday()) {
            continue;
        }
        let Some(naive) = date.and_hms_opt(minutes / 60, minutes % 60, 0) else { continue };
        let local = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest());
        if let Some(t) = local {
            out.push(t.with_timezone(&Utc));
        }
    }
    out
}

/// A time as the messages say it: local `HH:MM` today, else `Mon 06 02:30`.
fn when<Tz: TimeZone>(t: DateTime<Utc>, now: DateTime<Utc>, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let local = t.with_timezone(tz);
    if local.date_naive() == now.with_timezone(tz).date_naive() {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %d %b %H:%M").to_string()
    }
}

/// The end of a run's output as a message can hold it: its last lines, at
/// most 160 characters.
fn tail_words(tail: &str) -> String {
    let lines: Vec<&str> = tail.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut picked = Vec::new();
    let mut len = 0;
    for l in lines.iter().rev() {
        if len + l.len() > 160 && !picked.is_empty() {
            break;
        }
        len += l.len() + 3;
        picked.push(*l);
    }
    picked.reverse();
    let text = picked.join(" / ");
    if text.chars().count() > 160 {
        let skip = text.chars().count() - 159;
        format!("…{}", text.chars().skip(skip).collect::<String>())
    } else {
        text
    }
}

/// The decision for one job. Pure: the schedule, its runs (oldest first,
/// `alive` marked), when the check first saw the job, now, the stretches
/// asleep and the time zone of `at`.
///
/// In order: a run going past `max_duration` fails; the newest run failed
/// (exit ≠ 0, timed out, killed, or its wrapper killed before its end)
/// fails, naming how, when and its output; no run started within the due
/// time + grace (in time awake) fails; a run faster than `min_duration`
/// warns; otherwise ok, saying when it last ran.
pub fn judge<Tz: TimeZone>(
    s: &Schedule,
    runs: &[Run],
    first_seen: DateTime<Utc>,
    now: DateTime<Utc>,
    asleep: &[(DateTime<Utc>, DateTime<Utc>)],
    tz: &Tz,
) -> Verdict
where
    Tz::Offset: std::fmt::Display,
{
    let fail = |m: String| Verdict { status: CheckStatus::Fail, message: m };
    let at = |t: DateTime<Utc>| when(t, now, tz);
    let mut problems: Vec<String> = Vec::new();

    if let Some(max) = s.max_duration
        && let Some(r) =
            runs.iter().filter(|r| r.end.is_none() && r.alive).find(|r| awake(r.started, now, asleep) > max)
    {
        problems.push(format!(
            "still running after {} (started at {}; max_duration {})",
            crate::duration::human(awake(r.started, now, asleep)),
            at(r.started),
            crate::duration::human(max)
        ));
    }

    // The newest run that has ended, or whose wrapper is gone.
    let last_done = runs.iter().rev().find(|r| r.end.is_some() || !r.alive);
    if let Some(r) = last_done {
        match &r.end {
            None if r.orphan_alive => problems.push(format!(
                "the run started at {} lost its wrapper (killed); its command still runs (pid {}) and its end will not be recorded",
                at(r.started),
                r.child.unwrap_or(0)
            )),
            None => {
                problems.push(format!("the run started at {} never finished (the wrapper was killed)", at(r.started)))
            }
            Some(e) if !e.ok() => {
                let tail = tail_words(&e.tail);
                let tail = if tail.is_empty() { String::new() } else { format!(": {tail}") };
                problems.push(format!(
                    "last run failed: {} at {} after {}{tail}",
                    e.how(),
                    at(r.started),
                    jobs::human_ms(e.duration_ms)
                ));
            }
            Some(_) => {}
        }
    }

    // The schedule: the latest start, against the due time.
    let last_start = runs.last().map(|r| r.started);
    let since = match last_start {
        Some(t) => format!("no run since {}", at(t)),
        None => format!("never run since it was added at {}", at(first_seen)),
    };
    let mut next: Option<DateTime<Utc>> = None;
    if let Some(every) = s.every {
        // Due once `every` of time awake has passed since the last start.
        let base = last_start.unwrap_or(first_seen);
        let up = awake(base, now, asleep);
        if up > every + s.grace {
            problems.push(format!(
                "{since} (every {} + grace {}: {} awake since, time asleep not counted)",
                crate::duration::human(every),
                crate::duration::human(s.grace),
                crate::duration::human(up)
            ));
        }
        next = Some(base + every + ((now - base) - up));
    } else if s.at.is_some() {
        // A job never run is due first after the check first saw it; one
        // with runs is due at every due time (its records say it was meant to run).
        if let Some(due) = last_due(s, now, tz).filter(|d| last_start.is_some() || *d >= first_seen - EARLY) {
            let ran = last_start.is_some_and(|t| t >= due - EARLY);
            if !ran && awake(due, now, asleep) > s.grace {
                problems.push(format!(
                    "due at {}, {since} (grace {}, time asleep not counted)",
                    at(due),
                    crate::duration::human(s.grace)
                ));
            }
        }
        next = next_due(s, now, tz);
    }

    if !problems.is_empty() {
        return fail(problems.join("; "));
    }

    let next = next.map(|n| format!("; next due {}", at(n))).unwrap_or_default();
    let Some(r) = last_done.or(runs.last()) else {
        return Verdict { status: CheckStatus::Ok, message: format!("not run yet{next}") };
    };
    let running = runs.iter().filter(|r| r.end.is_none() && r.alive).count();
    let running = match running {
        0 => String::new(),
        1 => "; running now".to_string(),
        n => format!("; {n} runs going now"),
    };
    match &r.end {
        Some(e) => {
            let msg = format!(
                "last run {}: {} after {}{running}{next}",
                at(r.started),
                e.how(),
                jobs::human_ms(e.duration_ms)
            );
            match s.min_duration {
                Some(min) if (e.duration_ms as i64) < min.num_milliseconds() => Verdict {
                    status: CheckStatus::Warn,
                    message: format!(
                        "last run {} finished in {}, faster than min_duration {} (did it do its work?){next}",
                        at(r.started),
                        jobs::human_ms(e.duration_ms),
                        crate::duration::human(min)
                    ),
                },
                _ => Verdict { status: CheckStatus::Ok, message: msg },
            }
        }
        None => Verdict { status: CheckStatus::Ok, message: format!("running since {}{next}", at(r.started)) },
    }
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;
