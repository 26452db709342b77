//! Recurring windows of local time (SPEC §15): `quiet_hours` and
//! `[[maintenance]]`. Pure: every question is asked with a local date and
//! time, so the rules (crossing midnight, days of the week) are unit-tested
//! without a clock.

use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

/// `"HH:MM"` as minutes after midnight; `None` when it is not a time.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// A stretch of every day from `from` to `to` (minutes after midnight); it
/// crosses midnight when `to <= from` ("22:00-07:00").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: u32,
    pub to: u32,
}

impl Span {
    /// `"22:00-07:00"`; `None` when it is not two `HH:MM` times.
    pub fn parse(s: &str) -> Option<Span> {
        let (a, b) = s.split_once('-')?;
        Some(Span { from: parse_hhmm(a)?, to: parse_hhmm(b)? })
    }

    /// Whether the time of day falls inside; `from` is in, `to` is out.
    /// Also says whether it is in the part after midnight of a span that
    /// crosses it (so the window began the day before).
    fn position(&self, t: NaiveTime) -> Option<bool> {
        let m = t.hour() * 60 + t.minute();
        if self.from < self.to {
            (self.from..self.to).contains(&m).then_some(false)
        } else if self.from == self.to {
            // "07:00-07:00": the whole day.
            Some(false)
        } else if m >= self.from {
            Some(false)
        } else if m < self.to {
            Some(true)
        } else {
            None
        }
    }

    pub fn contains(&self, t: NaiveTime) -> bool {
        self.position(t).is_some()
    }
}

/// `quiet_hours`: off (`""`) or a span.
pub fn quiet(spec: &str, local: NaiveDateTime) -> bool {
    Span::parse(spec).is_some_and(|s| s.contains(local.time()))
}

/// The days a window may name, in the order people write them.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `[[maintenance]]`: a recurring window in which the listed checks behave
/// as silenced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Maintenance {
    /// Named in the `silenced` / `unsilenced` events and in `status`.
    pub name: String,
    /// Check ids it covers; [] = every check.
    pub checks: Vec<String>,
    /// Days on which the window begins (mon..sun); default every day.
    pub days: Vec<String>,
    /// Local time it begins, "HH:MM".
    pub from: String,
    /// Local time it ends, "HH:MM"; before `from` = the next day.
    pub to: String,
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            name: String::new(),
            checks: Vec::new(),
            days: DAYS.iter().map(|d| d.to_string()).collect(),
            from: String::new(),
            to: String::new(),
        }
    }
}

impl Maintenance {
    /// Whether the window covers the check `id`.
    pub fn covers(&self, id: &str) -> bool {
        self.checks.is_empty() || self.checks.iter().any(|c| c == id)
    }

    /// Problems in the entry (not its check ids), each naming its key under `at`.
    pub fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if self.name.trim().is_empty() {
            errs.push(format!("{at}.name is empty: name the window, e.g. \"nightly backup\""));
        }
        for (key, v) in [("from", &self.from), ("to", &self.to)] {
            if parse_hhmm(v).is_none() {
                errs.push(format!("{at}.{key} = {v:?}: must be a local time as HH:MM, e.g. \"01:30\""));
            }
        }
        for (i, d) in self.days.iter().enumerate() {
            if !DAYS.contains(&d.as_str()) {
                errs.push(format!("{at}.days[{i}] = {d:?}: must be one of {}", DAYS.join(", ")));
            }
        }
        errs
    }
}

/// Whether the window is in force at this local date and time. A window
/// that crosses midnight belongs to the day it begins: "sat 23:00-01:00"
/// is in force on Sunday at 00:30, not on Saturday at 00:30.
pub fn in_window(w: &Maintenance, local: NaiveDateTime) -> bool {
    let (Some(from), Some(to)) = (parse_hhmm(&w.from), parse_hhmm(&w.to)) else {
        return false;
    };
    let Some(after_midnight) = (Span { from, to }).position(local.time()) else {
        return false;
    };
    let day = if after_midnight { local.weekday().pred() } else { local.weekday() };
    w.days.iter().any(|d| day_of(d) == Some(day))
}

fn day_of(s: &str) -> Option<Weekday> {
    DAYS.iter().position(|d| *d == s).map(|i| Weekday::try_from(i as u8).unwrap_or(Weekday::Mon))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-10-27 is a Monday.
    fn at(day: u32, hhmm: &str) -> NaiveDateTime {
        let m = parse_hhmm(hhmm).unwrap();
        chrono::NaiveDate::from_ymd_opt(2025, 10, day).unwrap().and_hms_opt(m / 60, m % 60, 0).unwrap()
    }

    fn window(days: &[&str], from: &str, to: &str) -> Maintenance {
        Maintenance {
            name: "backup".into(),
            days: days.iter().map(|d| d.to_string()).collect(),
            from: from.into(),
            to: to.into(),
            ..Maintenance::default()
        }
    }

    #[test]
    fn times_are_hh_mm() {
        assert_eq!(parse_hhmm("01:30"), Some(90));
        assert_eq!(parse_hhmm("23:59"), Some(1439));
        for bad in ["1:30", "24:00", "12:60", "noon", "", "12-30"] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(Span::parse("22:00-07:00"), Some(Span { from: 1320, to: 420 }));
        assert_eq!(Span::parse("22:00"), None);
    }

    #[test]
    fn quiet_hours_cross_midnight() {
        let q = "22:00-07:00";
        assert!(quiet(q, at(27, "22:00")));
        assert!(quiet(q, at(27, "23:59")));
        assert!(quiet(q, at(28, "03:00")));
        assert!(!quiet(q, at(28, "07:00")));
        assert!(!quiet(q, at(28, "12:00")));
        assert!(!quiet("", at(28, "03:00")), "empty is off");
        assert!(quiet("09:00-17:00", at(28, "12:00")));
        assert!(!quiet("09:00-17:00", at(28, "17:00")));
    }

    #[test]
    fn a_window_belongs_to_the_day_it_begins() {
        // Saturday 23:00 to 01:00: Saturday night and the small hours of Sunday.
        let w = window(&["sat"], "23:00", "01:00");
        // 2025-10-25 is a Saturday, 26 a Sunday.
        assert!(in_window(&w, at(25, "23:30")));
        assert!(in_window(&w, at(26, "00:30")), "after midnight, on Sunday");
        assert!(!in_window(&w, at(25, "00:30")), "Saturday 00:30 began on Friday");
        assert!(!in_window(&w, at(26, "23:30")));
        assert!(!in_window(&w, at(26, "01:00")), "`to` is out");
    }

    #[test]
    fn every_day_by_default_and_weekdays_when_named() {
        let every = Maintenance { name: "b".into(), from: "01:00".into(), to: "01:30".into(), ..Default::default() };
        for day in 27..=31 {
            assert!(in_window(&every, at(day, "01:15")));
            assert!(!in_window(&every, at(day, "01:45")));
        }
        let weekdays = window(&["mon", "tue", "wed", "thu", "fri"], "01:00", "01:30");
        assert!(in_window(&weekdays, at(27, "01:10")));
        assert!(!in_window(&weekdays, at(25, "01:10")), "Saturday");
    }

    #[test]
    fn validation_names_each_key() {
        let w = Maintenance {
            name: String::new(),
            checks: vec![],
            days: vec!["monday".into()],
            from: "1:00".into(),
            to: "01:30".into(),
        };
        let errs = w.validate("maintenance[0]").join("\n");
        for key in ["maintenance[0].name", "maintenance[0].from", "maintenance[0].days[0]"] {
            assert!(errs.contains(key), "{key}: {errs}");
        }
        assert!(!errs.contains(".to "), "{errs}");
    }
}
