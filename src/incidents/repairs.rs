//! When a check is repaired (SPEC §12): the pure half of repairs.
//!
//! A check with a repair rule is repaired when it has failed `after` times in
//! a row (counted since its last repair) and fewer than `max_per_hour`
//! repairs were ordered in the hour before now, a sliding window over the
//! times kept in its state. The order is written into the state at once, so
//! the state saved before the repair runs already holds it: concurrent
//! heartbeats, which take the state lock in turn, see it and never repair
//! twice for one failure. A spent budget is one `repair_exhausted` event per
//! run of failures. How a repair runs is `crate::repairs`' business.

use chrono::{DateTime, Duration, Utc};

use super::{Decision, Event, Rules, Settings};
use crate::checks::{CheckResult, CheckStatus};
use crate::state::{RepairRecord, RepairState, State};

/// When a check is repaired: `repair.after` / `max_per_hour`, or the
/// defaults for `[launchagents] restart = true`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepairRule {
    /// Failures in a row before a repair.
    pub after: u32,
    /// Repairs allowed in any hour.
    pub max_per_hour: u32,
}

/// The run-wide part of the repair decision.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RepairSettings {
    /// `--no-repair`: nothing is ordered (failures still count).
    pub off: bool,
    /// When this run's checks began. A result measured before the check's
    /// last repair finished says nothing about that repair, so it neither
    /// counts toward the next one nor resets the count (a heartbeat that
    /// waited on the lock while another one repaired).
    pub checks_started_at: Option<DateTime<Utc>>,
}

/// A repair to run now; its record is already in the check's state (at `at`).
#[derive(Debug, Clone, PartialEq)]
pub struct RepairOrder {
    pub check: String,
    pub name: String,
    pub at: DateTime<Utc>,
}

/// Orders the repairs due in this run (called by `decide` after the
/// incident transitions, before the message is chosen, so the message
/// sees the repair it ordered).
pub(super) fn decide_repairs(
    st: &mut State,
    results: &[CheckResult],
    rules: &dyn Fn(&str) -> Rules,
    settings: Settings,
    now: DateTime<Utc>,
    in_maintenance: &dyn Fn(&str) -> bool,
    d: &mut Decision,
) {
    for r in results.iter().filter(|r| r.status != CheckStatus::Skipped) {
        let Some(rule) = rules(&r.id).repair else { continue };
        // A silence or a maintenance window holds repairs back too: a
        // nightly backup that stops the database must not be "repaired".
        let held_back = settings.repairs.off || st.silenced(&r.id, now) || in_maintenance(&r.id);
        let Some(cs) = st.checks.get_mut(&r.id) else { continue };
        let down = cs.down;
        let rs = &mut cs.repairs;
        prune(rs, now);
        let stale = settings
            .repairs
            .checks_started_at
            .zip(rs.attempts.last())
            .is_some_and(|(started, last)| started < last.done_at.unwrap_or(last.at));
        // A repair still running (another heartbeat ordered it and runs it
        // outside the state lock) is not judged yet: this failure neither
        // counts nor orders a second one. One whose run died never records
        // its end; after IN_FLIGHT it no longer holds anything back.
        let in_flight = rs.attempts.last().is_some_and(|last| last.done_at.is_none() && now - last.at < IN_FLIGHT);
        if stale || in_flight {
            continue;
        }
        if r.status != CheckStatus::Fail {
            rs.streak = 0;
            if !down {
                rs.gave_up_at = None;
            }
            continue;
        }
        rs.streak = rs.streak.saturating_add(1);
        if rs.streak < rule.after || held_back {
            continue;
        }
        let used = rs.in_last_hour(now);
        if used >= rule.max_per_hour as usize {
            if rs.gave_up_at.is_none() {
                rs.gave_up_at = Some(now);
                d.events.push(Event::new(now, &r.id, &r.name, "repair_exhausted", gave_up(used)));
            }
            continue;
        }
        rs.streak = 0;
        rs.attempts.push(RepairRecord { at: now, done_at: None, command: String::new(), exit: None, outcome: None });
        d.repairs.push(RepairOrder { check: r.id.clone(), name: r.name.clone(), at: now });
    }
}

/// How long an ordered repair counts as running when its end was never
/// recorded: longer than a repair may run (60 s) plus the heartbeat's deadline.
const IN_FLIGHT: Duration = Duration::minutes(3);

/// "gave up: 3 repairs in the last hour".
pub fn gave_up(n: usize) -> String {
    format!("gave up: {n} repair{} in the last hour", if n == 1 { "" } else { "s" })
}

/// Keeps the attempts of the last hour, and always the latest one.
fn prune(rs: &mut RepairState, now: DateTime<Utc>) {
    let keep_from = rs.attempts.iter().position(|a| now - a.at < Duration::hours(1)).unwrap_or(rs.attempts.len());
    let keep_from = keep_from.min(rs.attempts.len().saturating_sub(1));
    rs.attempts.drain(..keep_from);
}

/// What a message says about a check's repairs, if it had any lately:
/// "restarted 2× in the last hour; last: exit 0", "gave up: 3 repairs in the
/// last hour", "restarted 1× in the last hour; last: running now".
pub fn summary(rs: &RepairState, now: DateTime<Utc>) -> Option<String> {
    let n = rs.in_last_hour(now);
    let last = rs.attempts.last()?;
    if let Some(at) = rs.gave_up_at
        && last.at <= at
    {
        let what = last.outcome.as_deref().unwrap_or("running now");
        return Some(format!("{}; last: {what}", gave_up(n)));
    }
    if n == 0 {
        return None;
    }
    let what = last.outcome.as_deref().unwrap_or("running now");
    Some(format!("restarted {n}× in the last hour; last: {what}"))
}

#[cfg(test)]
mod tests {
    //! The repair rules over sequences of results, five minutes apart.

    use super::*;
    use crate::checks::{Ident, Severity};
    use crate::exit::Status;
    use crate::incidents::decide;
    use crate::state::Silence;

    fn t(i: usize) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-27T17:00:00Z").unwrap().with_timezone(&Utc)
            + Duration::minutes(5 * i as i64)
    }

    fn result(status: CheckStatus) -> CheckResult {
        let who = Ident {
            id: "redis".into(),
            name: "Redis".into(),
            kind: "redis",
            section: "Redis",
            severity: Severity::Critical,
            target: String::new(),
        };
        CheckResult::new(&who, status, if status == CheckStatus::Fail { "connection refused" } else { "PONG" })
    }

    fn rules(after: u32, max_per_hour: u32) -> impl Fn(&str) -> Rules {
        move |_| Rules {
            failure_threshold: 3,
            success_threshold: 1,
            notify: true,
            repair: Some(RepairRule { after, max_per_hour }),
        }
    }

    const SETTINGS: Settings = Settings {
        realert_minutes: 0,
        flap_window: 20,
        flap_changes: 0,
        repairs: RepairSettings { off: false, checks_started_at: None },
    };

    /// What one run decided about repairs.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        repaired: bool,
        exhausted: bool,
    }

    /// One run at t(i); the ordered repair (if any) "runs" at once with `exit`.
    fn step(st: &mut State, i: usize, status: CheckStatus, rules: &dyn Fn(&str) -> Rules, settings: Settings) -> Seen {
        let d = decide(st, &[result(status)], Status::Critical, rules, settings, t(i));
        for o in &d.repairs {
            let rec = st.checks.get_mut(&o.check).unwrap().repairs.attempts.last_mut().unwrap();
            assert_eq!((rec.at, rec.outcome.as_deref()), (o.at, None), "the order is in the state before it runs");
            rec.done_at = Some(t(i) + Duration::seconds(2));
            rec.exit = Some(1);
            rec.outcome = Some("exit 1".into());
        }
        Seen { repaired: !d.repairs.is_empty(), exhausted: d.events.iter().any(|e| e.kind == "repair_exhausted") }
    }

    /// Runs a status sequence from t(0); returns the runs that repaired and those that gave up.
    fn run(
        st: &mut State,
        seq: &[CheckStatus],
        rules: &dyn Fn(&str) -> Rules,
        settings: Settings,
    ) -> (Vec<usize>, Vec<usize>) {
        let (mut repaired, mut exhausted) = (Vec::new(), Vec::new());
        for (i, s) in seq.iter().enumerate() {
            let seen = step(st, i, *s, rules, settings);
            if seen.repaired {
                repaired.push(i);
            }
            if seen.exhausted {
                exhausted.push(i);
            }
        }
        (repaired, exhausted)
    }

    use CheckStatus::{Fail as F, Ok as O};

    #[test]
    fn a_repair_every_after_failures_until_the_budget_is_spent_then_one_exhausted() {
        let mut st = State::default();
        let (repaired, exhausted) = run(&mut st, &[F; 12], &rules(2, 3), SETTINGS);
        assert_eq!(repaired, vec![1, 3, 5]);
        assert_eq!(exhausted, vec![7], "one repair_exhausted per run of failures");
        let rs = &st.checks["redis"].repairs;
        assert_eq!(summary(rs, t(11)).unwrap(), "gave up: 3 repairs in the last hour; last: exit 1");
    }

    #[test]
    fn the_hour_window_slides() {
        let mut st = State::default();
        let (repaired, exhausted) = run(&mut st, &[F; 20], &rules(2, 3), SETTINGS);
        // Repairs at 5, 15, 25 min; from 65 min on, each falls out of the hour in turn.
        assert_eq!(repaired, vec![1, 3, 5, 13, 15, 17]);
        assert_eq!(exhausted, vec![7], "still one per run of failures");
        let rs = &st.checks["redis"].repairs;
        assert_eq!(rs.in_last_hour(t(19)), 3);
        assert!(rs.attempts.len() <= 4, "old attempts are dropped: {:?}", rs.attempts);
        assert_eq!(summary(rs, t(19)).unwrap(), "restarted 3× in the last hour; last: exit 1");
    }

    #[test]
    fn recovery_resets_the_count_but_not_the_hour() {
        let mut st = State::default();
        // Never two failures in a row: never repaired.
        let (repaired, _) = run(&mut st, &[F, O, F, O, F, O], &rules(2, 3), SETTINGS);
        assert!(repaired.is_empty());
        // Each repair "works" for one run: the hour's budget still runs out.
        let mut st = State::default();
        let seq = [F, F, O, F, F, O, F, F, O, F, F, O, F, F];
        let (repaired, exhausted) = run(&mut st, &seq, &rules(2, 3), SETTINGS);
        assert_eq!(repaired, vec![1, 4, 7, 13], "at 65 min the first repair is an hour old");
        assert_eq!(exhausted, vec![10]);
        // The pass at run 11 ended that run of failures: the next one may give up (and say so) again.
        assert_eq!(st.checks["redis"].repairs.gave_up_at, None);
    }

    #[test]
    fn a_silenced_check_and_a_no_repair_run_are_never_repaired() {
        let mut st = State::default();
        st.silences.push(Silence { check: Some("redis".into()), until: t(4), reason: String::new(), created_at: t(0) });
        let (repaired, exhausted) = run(&mut st, &[F; 6], &rules(2, 1), SETTINGS);
        assert_eq!(repaired, vec![4], "the first run after the silence repairs");
        assert!(exhausted.is_empty(), "{exhausted:?}");

        let off = Settings { repairs: RepairSettings { off: true, checks_started_at: None }, ..SETTINGS };
        let mut st = State::default();
        let (repaired, exhausted) = run(&mut st, &[F; 8], &rules(1, 3), off);
        assert!(repaired.is_empty() && exhausted.is_empty());
        // Without the flag again, the failures counted meanwhile make one due at once.
        assert!(step(&mut st, 8, F, &rules(1, 3), SETTINGS).repaired);
    }

    #[test]
    fn a_check_without_a_repair_rule_is_left_alone() {
        let mut st = State::default();
        let none = |_: &str| Rules { failure_threshold: 3, success_threshold: 1, notify: true, repair: None };
        let (repaired, exhausted) = run(&mut st, &[F; 6], &none, SETTINGS);
        assert!(repaired.is_empty() && exhausted.is_empty());
        assert!(st.checks["redis"].repairs.is_empty());
    }

    #[test]
    fn a_result_measured_before_the_last_repair_ended_does_not_count() {
        // Ten heartbeats measured at once; each takes the lock in turn.
        let mut st = State::default();
        let started = t(0);
        let stale = Settings { repairs: RepairSettings { off: false, checks_started_at: Some(started) }, ..SETTINGS };
        let mut repairs = 0;
        for i in 0..10 {
            let now = t(0) + Duration::seconds(i);
            let d = decide(&mut st, &[result(F)], Status::Critical, &rules(1, 3), stale, now);
            for _ in &d.repairs {
                let rec = st.checks.get_mut("redis").unwrap().repairs.attempts.last_mut().unwrap();
                rec.done_at = Some(now + Duration::seconds(1));
            }
            repairs += d.repairs.len();
        }
        assert_eq!(repairs, 1, "one failure, one repair");
        // A run that measured after it counts again.
        let fresh = Settings { repairs: RepairSettings { off: false, checks_started_at: Some(t(1)) }, ..SETTINGS };
        assert_eq!(decide(&mut st, &[result(F)], Status::Critical, &rules(1, 3), fresh, t(1)).repairs.len(), 1);
    }

    #[test]
    fn a_repair_still_running_is_not_ordered_again() {
        // Repairs run outside the state lock: heartbeats that measure while
        // one runs (its end not recorded yet) neither count nor order.
        let mut st = State::default();
        let mut repairs = 0;
        for i in 0..10 {
            let now = t(0) + Duration::seconds(10 * i);
            let measured =
                Settings { repairs: RepairSettings { off: false, checks_started_at: Some(now) }, ..SETTINGS };
            repairs += decide(&mut st, &[result(F)], Status::Critical, &rules(1, 3), measured, now).repairs.len();
        }
        assert_eq!(repairs, 1, "one failure, one repair, however many heartbeats measured while it ran");
        // A repair whose end was never recorded (its run was killed) holds
        // nothing back once it has been running longer than any repair can.
        let later = t(0) + Duration::minutes(4);
        let measured = Settings { repairs: RepairSettings { off: false, checks_started_at: Some(later) }, ..SETTINGS };
        assert_eq!(decide(&mut st, &[result(F)], Status::Critical, &rules(1, 3), measured, later).repairs.len(), 1);
    }

    #[test]
    fn the_summary_says_what_was_tried() {
        let mut rs = RepairState::default();
        assert_eq!(summary(&rs, t(0)), None);
        let rec = |i: usize, outcome: Option<&str>| RepairRecord {
            at: t(i),
            done_at: None,
            command: String::new(),
            exit: None,
            outcome: outcome.map(str::to_string),
        };
        rs.attempts = vec![rec(0, Some("exit 1")), rec(1, Some("exit 0"))];
        assert_eq!(summary(&rs, t(2)).unwrap(), "restarted 2× in the last hour; last: exit 0");
        rs.attempts.push(rec(2, None));
        assert_eq!(summary(&rs, t(2)).unwrap(), "restarted 3× in the last hour; last: running now");
        // An hour after the last one, nothing is said.
        assert_eq!(summary(&rs, t(2) + Duration::hours(1)), None);
        assert_eq!(gave_up(1), "gave up: 1 repair in the last hour");
    }
}
