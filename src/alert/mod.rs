//! When to notify: the pure decision over the state's counters (SPEC §7).
//!
//! [`record`] applies one heartbeat's status to the state and says which
//! notification, if any, it calls for. It does no I/O, so the rules are
//! unit-tested over sequences of statuses; delivery lives in `channels`.

use chrono::{DateTime, Duration, Utc};

use crate::exit::Status;
use crate::state::State;

/// The alerting rules from `[monitor]`.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub alert_threshold: u32,
    pub recovery_threshold: u32,
    /// 0 = one alert per incident; N = a reminder every N minutes.
    pub realert_minutes: u32,
}

impl From<&crate::config::Monitor> for Rules {
    fn from(m: &crate::config::Monitor) -> Self {
        Rules {
            alert_threshold: m.alert_threshold,
            recovery_threshold: m.recovery_threshold,
            realert_minutes: m.realert_minutes,
        }
    }
}

/// A notification the rules call for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Failures reached the threshold: the incident is announced.
    Alert,
    /// Still failing, `realert_minutes` after the last alert.
    Reminder,
    /// The incident is over; it lasted this long.
    Recovery { lasted: Duration },
}

/// Applies one heartbeat to the state: counters, the incident's start, the
/// alert flag. Returns the notification it calls for, if any.
pub fn record(state: &mut State, status: Status, now: DateTime<Utc>, rules: Rules) -> Option<Event> {
    state.runs = state.runs.saturating_add(1);
    state.last_run_at = Some(now);
    state.last_status = Some(status.as_str().to_string());

    if status == Status::Critical {
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.consecutive_successes = 0;
        if state.first_failure_at.is_none() {
            state.first_failure_at = Some(now);
        }
        if !state.alert_active && state.consecutive_failures >= rules.alert_threshold {
            state.alert_active = true;
            state.last_alert_at = Some(now);
            return Some(Event::Alert);
        }
        if state.alert_active && rules.realert_minutes > 0 {
            let due =
                state.last_alert_at.is_none_or(|t| now - t >= Duration::minutes(i64::from(rules.realert_minutes)));
            if due {
                state.last_alert_at = Some(now);
                return Some(Event::Reminder);
            }
        }
        return None;
    }

    state.consecutive_failures = 0;
    state.consecutive_successes = state.consecutive_successes.saturating_add(1);
    if state.alert_active {
        if state.consecutive_successes >= rules.recovery_threshold {
            let lasted = state.first_failure_at.map_or(Duration::zero(), |t| now - t);
            state.alert_active = false;
            state.first_failure_at = None;
            state.last_recovery_at = Some(now);
            return Some(Event::Recovery { lasted });
        }
    } else {
        // The failures never became an incident: forget when they started.
        state.first_failure_at = None;
    }
    None
}

/// "1 h 5 min", "3 min", "45 s": how long an incident lasted, for people.
pub fn human_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    fn rules(alert: u32, recovery: u32, realert: u32) -> Rules {
        Rules { alert_threshold: alert, recovery_threshold: recovery, realert_minutes: realert }
    }

    /// Runs a sequence of statuses five minutes apart; returns the events.
    fn run(seq: &[Status], r: Rules) -> (Vec<(usize, Event)>, State) {
        let mut s = State::default();
        let t0 = DateTime::parse_from_rfc3339("2025-10-27T17:00:00Z").unwrap().with_timezone(&Utc);
        let mut events = Vec::new();
        for (i, st) in seq.iter().enumerate() {
            if let Some(e) = record(&mut s, *st, t0 + Duration::minutes(5 * i as i64), r) {
                events.push((i, e));
            }
        }
        (events, s)
    }

    #[test]
    fn three_criticals_alert_once_on_the_third() {
        let (e, s) = run(&[Critical, Critical, Critical, Critical, Critical], rules(3, 1, 0));
        assert_eq!(e, vec![(2, Event::Alert)]);
        assert!(s.alert_active);
        assert_eq!(s.consecutive_failures, 5);
        assert_eq!(s.runs, 5);
    }

    #[test]
    fn recovery_follows_the_alert_once_with_the_incident_length() {
        let (e, s) = run(&[Critical, Critical, Critical, Healthy, Healthy], rules(3, 1, 0));
        assert_eq!(e, vec![(2, Event::Alert), (3, Event::Recovery { lasted: Duration::minutes(15) })]);
        assert!(!s.alert_active);
        assert_eq!(s.first_failure_at, None);
    }

    #[test]
    fn warnings_count_as_not_critical() {
        let (e, _) = run(&[Critical, Critical, Warnings, Critical, Critical], rules(3, 1, 0));
        assert!(e.is_empty(), "{e:?}");
        let (e, _) = run(&[Critical, Critical, Critical, Warnings], rules(3, 1, 0));
        assert_eq!(e[1].1, Event::Recovery { lasted: Duration::minutes(15) });
    }

    #[test]
    fn flapping_below_the_recovery_threshold_keeps_one_incident() {
        let seq = [Critical, Critical, Healthy, Critical, Healthy, Healthy, Critical];
        let (e, s) = run(&seq, rules(2, 2, 0));
        assert_eq!(e, vec![(1, Event::Alert), (5, Event::Recovery { lasted: Duration::minutes(25) })]);
        assert!(!s.alert_active);
        assert_eq!(s.consecutive_failures, 1);
    }

    #[test]
    fn reminders_repeat_every_realert_minutes_while_failing() {
        // Alert at 10 min, then reminders at 10+15=25 and 40.
        let seq = [Critical; 10];
        let (e, _) = run(&seq, rules(3, 1, 15));
        let kinds: Vec<_> = e.iter().map(|(i, e)| (*i, *e)).collect();
        assert_eq!(kinds, vec![(2, Event::Alert), (5, Event::Reminder), (8, Event::Reminder)]);
    }

    #[test]
    fn no_reminders_when_realert_is_zero() {
        let (e, _) = run(&[Critical; 20], rules(1, 1, 0));
        assert_eq!(e, vec![(0, Event::Alert)]);
    }

    #[test]
    fn a_new_incident_after_recovery_alerts_again() {
        let seq = [Critical, Healthy, Critical, Critical];
        let (e, _) = run(&seq, rules(1, 1, 0));
        assert_eq!(
            e,
            vec![(0, Event::Alert), (1, Event::Recovery { lasted: Duration::minutes(5) }), (2, Event::Alert)]
        );
    }

    #[test]
    fn threshold_one_alerts_on_the_first_critical() {
        let (e, _) = run(&[Healthy, Critical], rules(1, 1, 0));
        assert_eq!(e, vec![(1, Event::Alert)]);
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(Duration::seconds(45)), "45 s");
        assert_eq!(human_duration(Duration::minutes(15)), "15 min");
        assert_eq!(human_duration(Duration::minutes(65)), "1 h 5 min");
        assert_eq!(human_duration(Duration::hours(26)), "1 d 2 h");
    }
}
