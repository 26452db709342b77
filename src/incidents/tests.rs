//! The incident rules over sequences of results, five minutes apart.

use super::*;
use crate::checks::{Ident, Severity};
use crate::state::Silence;

const T0: &str = "2025-10-27T17:00:00Z";

/// The `i`-th heartbeat, five minutes apart (shared by the incident tests).
pub(super) fn t(i: usize) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0).unwrap().with_timezone(&Utc) + Duration::minutes(5 * i as i64)
}

/// A critical check's result, its name the id in capitals.
pub(super) fn result(id: &str, status: CheckStatus) -> CheckResult {
    let who = Ident {
        id: id.into(),
        name: id.to_uppercase(),
        kind: "api",
        section: "API Endpoints",
        severity: Severity::Critical,
        target: String::new(),
    };
    CheckResult::new(&who, status, if status == CheckStatus::Fail { "connection refused" } else { "fine" })
}

const SETTINGS: Settings = Settings {
    realert_minutes: 0,
    flap_window: 20,
    flap_changes: 6,
    repairs: RepairSettings { off: false, checks_started_at: None },
};

fn rules(threshold: u32) -> impl Fn(&str) -> Rules {
    move |_| Rules { failure_threshold: threshold, success_threshold: 1, notify: true, repair: None }
}

use CheckStatus::{Fail as F, Ok as O};

/// Runs rounds of (id, status) results; returns (round, kind, subject ids) of each message.
fn run(
    st: &mut State,
    rounds: &[&[(&str, CheckStatus)]],
    rules: &dyn Fn(&str) -> Rules,
    settings: Settings,
) -> Vec<(usize, NotificationKind, Vec<String>)> {
    let mut out = Vec::new();
    for (i, round) in rounds.iter().enumerate() {
        let results: Vec<CheckResult> = round.iter().map(|(id, s)| result(id, *s)).collect();
        let status = crate::checks::overall(&results);
        let d = decide(st, &results, status, rules, settings, t(i));
        if let Some(p) = d.plan {
            out.push((i, p.kind, p.subjects.iter().map(|s| s.id.clone()).collect()));
        }
    }
    out
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_check_has_its_own_incident() {
    // Redis down first; PostgreSQL fails while Redis is still down: both are told.
    let mut st = State::default();
    let seq: Vec<&[(&str, CheckStatus)]> = vec![
        &[("redis", F), ("database", O)],
        &[("redis", F), ("database", O)],
        &[("redis", F), ("database", F)],
        &[("redis", F), ("database", F)],
        &[("redis", O), ("database", F)],
        &[("redis", O), ("database", O)],
    ];
    let msgs = run(&mut st, &seq, &rules(2), SETTINGS);
    assert_eq!(
        msgs,
        vec![
            (1, NotificationKind::Alert, ids(&["redis"])),
            (3, NotificationKind::Alert, ids(&["database"])),
            (4, NotificationKind::Recovery, ids(&["redis"])),
            (5, NotificationKind::Recovery, ids(&["database"])),
        ]
    );
    assert!(!st.alert_active);
}

#[test]
fn a_recovery_while_another_is_still_down_names_it() {
    let mut st = State::default();
    let results = |a, b| vec![result("redis", a), result("database", b)];
    for (i, (a, b)) in [(F, F), (O, F)].into_iter().enumerate() {
        let d = decide(&mut st, &results(a, b), Status::Critical, &rules(1), SETTINGS, t(i));
        if i == 1 {
            let p = d.plan.unwrap();
            assert_eq!(p.kind, NotificationKind::Recovery);
            assert_eq!(p.still_down, ids(&["database"]));
            assert_eq!(p.subjects[0].lasted, Some(Duration::minutes(5)));
        }
    }
    assert!(st.alert_active, "database is still down and announced");
}

#[test]
fn down_since_is_the_first_failure_and_up_carries_how_long() {
    let mut st = State::default();
    let mut events = Vec::new();
    for (i, s) in [F, F, F, O].into_iter().enumerate() {
        events.extend(decide(&mut st, &[result("redis", s)], Status::Healthy, &rules(3), SETTINGS, t(i)).events);
    }
    let down = events.iter().find(|e| e.kind == "down").unwrap();
    assert_eq!(down.ts, t(2));
    assert!(down.message.contains("(3 failures)"), "{}", down.message);
    let up = events.iter().find(|e| e.kind == "up").unwrap();
    assert_eq!(up.lasted_s, Some(15 * 60));
    let first = events.iter().find(|e| e.kind == "status").unwrap();
    assert_eq!((first.from.as_deref(), first.to.as_deref()), (None, Some("fail")));
}

#[test]
fn two_failures_out_of_three_flap_and_then_settle() {
    let mut st = State::default();
    let mut seq: Vec<&[(&str, CheckStatus)]> = Vec::new();
    for _ in 0..5 {
        seq.push(&[("api", F)]);
        seq.push(&[("api", F)]);
        seq.push(&[("api", O)]);
    }
    for _ in 0..20 {
        seq.push(&[("api", O)]);
    }
    let msgs = run(&mut st, &seq, &rules(3), SETTINGS);
    let kinds: Vec<NotificationKind> = msgs.iter().map(|m| m.1).collect();
    assert_eq!(kinds, [NotificationKind::Flapping, NotificationKind::Stable], "{msgs:?}");
    assert!(!st.checks["api"].flapping);
}

#[test]
fn warning_checks_and_notify_false_are_recorded_not_sent() {
    let mut st = State::default();
    let quiet = |_: &str| Rules { failure_threshold: 1, success_threshold: 1, notify: false, repair: None };
    let msgs = run(&mut st, &[&[("api", F)], &[("api", O)]], &quiet, SETTINGS);
    assert!(msgs.is_empty(), "{msgs:?}");
    assert!(!st.checks["api"].down);
}

#[test]
fn a_silence_holds_the_alert_until_it_ends_if_still_down() {
    let mut st = State::default();
    st.silences.push(Silence { check: Some("redis".into()), until: t(2), reason: "upgrade".into(), created_at: t(0) });
    let msgs = run(&mut st, &[&[("redis", F)], &[("redis", F)], &[("redis", F)]], &rules(1), SETTINGS);
    assert_eq!(msgs, vec![(2, NotificationKind::Alert, ids(&["redis"]))]);
    assert!(st.silences.is_empty());
}

#[test]
fn an_incident_inside_a_silence_is_never_told() {
    let mut st = State::default();
    st.silences.push(Silence { check: None, until: t(5), reason: String::new(), created_at: t(0) });
    let msgs = run(&mut st, &[&[("redis", F)], &[("redis", O)], &[("redis", O)]], &rules(1), SETTINGS);
    assert!(msgs.is_empty(), "{msgs:?}");
}

#[test]
fn an_incident_announced_before_a_silence_is_not_announced_again() {
    let mut st = State::default();
    run(&mut st, &[&[("redis", F)]], &rules(1), SETTINGS);
    st.silences.push(Silence { check: None, until: t(3), reason: String::new(), created_at: t(1) });
    let mut later = Vec::new();
    for i in 1..5 {
        let d = decide(&mut st, &[result("redis", F)], Status::Critical, &rules(1), SETTINGS, t(i));
        later.extend(d.plan);
    }
    assert!(later.is_empty(), "{later:?}");
}

#[test]
fn reminders_repeat_every_realert_minutes_while_down() {
    let mut st = State::default();
    let settings = Settings { realert_minutes: 15, ..SETTINGS };
    let seq: Vec<&[(&str, CheckStatus)]> = vec![&[("redis", F)]; 10];
    let msgs = run(&mut st, &seq, &rules(3), settings);
    let kinds: Vec<(usize, NotificationKind)> = msgs.iter().map(|m| (m.0, m.1)).collect();
    assert_eq!(
        kinds,
        vec![(2, NotificationKind::Alert), (5, NotificationKind::Reminder), (8, NotificationKind::Reminder)]
    );
}

#[test]
fn global_counters_keep_their_released_meaning() {
    let mut st = State::default();
    for (i, s) in [Status::Critical, Status::Critical, Status::Warnings].into_iter().enumerate() {
        decide(&mut st, &[], s, &rules(3), SETTINGS, t(i));
        if i == 1 {
            assert_eq!(st.consecutive_failures, 2);
            assert_eq!(st.first_failure_at, Some(t(0)));
        }
    }
    assert_eq!((st.runs, st.consecutive_failures, st.consecutive_successes), (3, 0, 1));
    assert_eq!(st.first_failure_at, None);
}

#[test]
fn skipped_changes_nothing() {
    let mut st = State::default();
    run(&mut st, &[&[("la", F)], &[("la", CheckStatus::Skipped)], &[("la", F)]], &rules(2), SETTINGS);
    assert!(st.checks["la"].down);
}

#[test]
fn durations_read_like_a_person_wrote_them() {
    assert_eq!(human_duration(Duration::seconds(45)), "45 s");
    assert_eq!(human_duration(Duration::minutes(15)), "15 min");
    assert_eq!(human_duration(Duration::minutes(65)), "1 h 5 min");
    assert_eq!(human_duration(Duration::hours(26)), "1 d 2 h");
}
