//! Dependencies, maintenance windows and sleep over sequences of results,
//! five minutes apart.

use super::*;
use crate::checks::{CheckResult, CheckStatus};
use crate::exit::Status;
use crate::incidents::{Decision, Rules, Settings, decide_with};
use crate::state::NotificationKind;

use CheckStatus::{Fail as F, Ok as O};

const SETTINGS: Settings = Settings {
    realert_minutes: 0,
    flap_window: 20,
    flap_changes: 0,
    repairs: crate::incidents::RepairSettings { off: false, checks_started_at: None },
};

use crate::incidents::tests::{result, t};

fn rules(_: &str) -> Rules {
    Rules { failure_threshold: 2, success_threshold: 1, notify: true, repair: None }
}

/// `redis` and `api` depend on `database`.
fn deps() -> Laptop {
    let mut l = Laptop { interval_s: 300, ..Laptop::default() };
    l.depends_on.insert("redis".into(), vec!["database".into()]);
    l.depends_on.insert("api".into(), vec!["redis".into()]);
    l
}

/// A message, as (round, kind, subjects, named because of them).
type Told = (usize, NotificationKind, Vec<String>, Vec<String>);

fn step(st: &mut State, i: usize, round: &[(&str, CheckStatus)], laptop: &Laptop) -> Decision {
    let results: Vec<CheckResult> = round.iter().map(|(id, s)| result(id, *s)).collect();
    let status = crate::checks::overall(&results);
    decide_with(st, &results, status, &rules, SETTINGS, laptop, t(i))
}

fn run(st: &mut State, rounds: &[&[(&str, CheckStatus)]], laptop: &Laptop) -> Vec<Told> {
    let mut out = Vec::new();
    for (i, round) in rounds.iter().enumerate() {
        if let Some(p) = step(st, i, round, laptop).plan {
            let ids = |v: &[crate::incidents::Subject]| v.iter().map(|s| s.id.clone()).collect();
            out.push((i, p.kind, ids(&p.subjects), ids(&p.because)));
        }
    }
    out
}

fn v(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn both_in_one_run_one_alert_names_the_dependent_then_it_alerts_on_its_own() {
    let mut st = State::default();
    let seq: Vec<&[(&str, CheckStatus)]> = vec![
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", O), ("redis", F)],
        &[("database", O), ("redis", O)],
    ];
    let told = run(&mut st, &seq, &deps());
    assert_eq!(
        told,
        vec![
            (1, NotificationKind::Alert, v(&["database"]), v(&["redis"])),
            (3, NotificationKind::Alert, v(&["redis"]), v(&[])),
            (4, NotificationKind::Recovery, v(&["redis"]), v(&[])),
        ]
    );
    assert_eq!(st.checks["redis"].caused_by, None);
}

#[test]
fn caused_by_is_recorded_in_the_state_and_the_down_event() {
    let mut st = State::default();
    step(&mut st, 0, &[("database", F), ("redis", F)], &deps());
    let d = step(&mut st, 1, &[("database", F), ("redis", F)], &deps());
    assert_eq!(st.checks["redis"].caused_by.as_deref(), Some("database"));
    let down = d.events.iter().find(|e| e.kind == "down" && e.check == "redis").unwrap();
    assert_eq!(down.caused_by.as_deref(), Some("database"));
    assert!(st.checks["redis"].down && !st.checks["redis"].announced);
}

#[test]
fn the_dependency_going_down_first_then_the_dependent_is_named_not_sent() {
    let mut st = State::default();
    let seq: Vec<&[(&str, CheckStatus)]> = vec![
        &[("database", F), ("redis", O)],
        &[("database", F), ("redis", O)],
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", O), ("redis", O)],
    ];
    let told = run(&mut st, &seq, &deps());
    // Recoveries are never held: Redis comes back with its database, both told.
    assert_eq!(
        told,
        vec![
            (1, NotificationKind::Alert, v(&["database"]), v(&[])),
            (4, NotificationKind::Recovery, v(&["database", "redis"]), v(&[])),
        ]
    );
}

#[test]
fn the_dependent_going_down_first_alerts_on_its_own_and_then_goes_quiet() {
    let mut st = State::default();
    let settings_reminders = Settings { realert_minutes: 10, ..SETTINGS };
    let seq: Vec<&[(&str, CheckStatus)]> = vec![
        &[("database", O), ("redis", F)],
        &[("database", O), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
        &[("database", F), ("redis", F)],
    ];
    let mut told = Vec::new();
    for (i, round) in seq.iter().enumerate() {
        let results: Vec<CheckResult> = round.iter().map(|(id, s)| result(id, *s)).collect();
        let d = decide_with(&mut st, &results, Status::Critical, &rules, settings_reminders, &deps(), t(i));
        if let Some(p) = d.plan {
            told.push((
                i,
                p.kind,
                p.subjects.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
                p.because.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            ));
        }
    }
    // Redis's own reminders stop while the database is down; the database's name it.
    assert_eq!(
        told,
        vec![
            (1, NotificationKind::Alert, v(&["redis"]), v(&[])),
            (3, NotificationKind::Alert, v(&["database"]), v(&["redis"])),
            (5, NotificationKind::Reminder, v(&["database"]), v(&["redis"])),
        ]
    );
}

#[test]
fn a_chain_is_named_in_the_root_message() {
    let mut st = State::default();
    let round: &[(&str, CheckStatus)] = &[("database", F), ("redis", F), ("api", F)];
    let told = run(&mut st, &[round, round], &deps());
    assert_eq!(told, vec![(1, NotificationKind::Alert, v(&["database"]), v(&["api", "redis"]))]);
    assert_eq!(st.checks["api"].caused_by.as_deref(), Some("redis"));
}

fn window(name: &str, checks: &[&str]) -> crate::windows::Maintenance {
    crate::windows::Maintenance {
        name: name.into(),
        checks: v(checks),
        from: "17:00".into(),
        to: "17:30".into(),
        ..Default::default()
    }
}

#[test]
fn a_window_beginning_and_ending_mid_incident_follows_the_silence_rules() {
    let backup = window("nightly backup", &["database"]);
    let open = Laptop { windows: vec![backup], ..Laptop::default() };
    let shut = Laptop::default();
    // Announced before the window: not announced again at its end.
    let mut st = State::default();
    let mut told = Vec::new();
    let mut events = Vec::new();
    for i in 0..6 {
        let l = if (2..4).contains(&i) { &open } else { &shut };
        let d = step(&mut st, i, &[("database", F)], l);
        events.extend(d.events);
        told.extend(d.plan.map(|p| (i, p.kind)));
    }
    assert_eq!(told, vec![(1, NotificationKind::Alert)]);
    let silence: Vec<(usize, &str, Option<&str>)> = events
        .iter()
        .filter(|e| e.kind.ends_with("silenced"))
        .map(|e| ((e.ts - t(0)).num_minutes() as usize / 5, e.kind.as_str(), e.reason.as_deref()))
        .collect();
    assert_eq!(silence, vec![(2, "silenced", Some("nightly backup")), (4, "unsilenced", Some("nightly backup"))]);

    // Began inside the window, still DOWN at its end: announced then.
    let mut st = State::default();
    let mut told = Vec::new();
    for i in 0..5 {
        let l = if i < 3 { &open } else { &shut };
        told.extend(step(&mut st, i, &[("database", F)], l).plan.map(|p| (i, p.kind)));
    }
    assert_eq!(told, vec![(3, NotificationKind::Alert)]);

    // Opened and closed inside: never announced; other checks are not covered.
    let mut st = State::default();
    let seq: Vec<&[(&str, CheckStatus)]> =
        vec![&[("database", F), ("redis", F)], &[("database", F), ("redis", F)], &[("database", O), ("redis", O)]];
    let told = run(&mut st, &seq, &open);
    assert_eq!(
        told,
        vec![
            (1, NotificationKind::Alert, v(&["redis"]), v(&[])),
            (2, NotificationKind::Recovery, v(&["redis"]), v(&[]))
        ]
    );
}

fn clocks(slept: f64, boot_min: i64) -> Option<Clocks> {
    let boot = DateTime::parse_from_rfc3339("2025-10-27T08:00:00Z").unwrap().with_timezone(&Utc);
    Some(Clocks { slept_since_boot_s: slept, boot_time: Some(boot + chrono::Duration::minutes(boot_min)) })
}

#[test]
fn sleep_is_the_growth_of_the_counter_and_a_new_boot_is_a_restart() {
    let c = |s, b| clocks(s, b).unwrap();
    assert_eq!(wake(None, None, &c(10.0, 0)), None, "the first run knows nothing yet");
    let boot = c(0.0, 0).boot_time;
    assert_eq!(wake(Some(100.0), boot, &c(100.4, 0)), Some(Wake { slept_s: 0, rebooted: false }));
    assert_eq!(wake(Some(100.0), boot, &c(3700.0, 0)), Some(Wake { slept_s: 3600, rebooted: false }));
    assert_eq!(wake(Some(5000.0), boot, &c(60.0, 300)), Some(Wake { slept_s: 60, rebooted: true }));
}

#[test]
fn a_sleep_in_the_middle_of_an_incident_is_an_awake_event_and_changes_nothing_else() {
    let mut st = State::default();
    let mut l = Laptop { interval_s: 300, ..Laptop::default() };
    let mut told = Vec::new();
    let mut awake = Vec::new();
    // Redis is DOWN from round 1; the Mac sleeps 2 hours before round 3.
    for (i, slept) in [0.0, 0.0, 0.0, 7200.0, 7200.0].into_iter().enumerate() {
        l.clocks = clocks(slept, 0);
        let d = step(&mut st, i, &[("redis", F)], &l);
        told.extend(d.plan.map(|p| (i, p.kind)));
        awake.extend(d.events.iter().filter(|e| e.kind == "awake").map(|e| (i, e.slept_s)));
        if i == 3 {
            assert_eq!(d.slept_s, Some(7200));
        }
    }
    assert_eq!(told, vec![(1, NotificationKind::Alert)], "no second alert after the wake");
    assert_eq!(awake, vec![(3, Some(7200))]);
    assert!(st.checks["redis"].down);
    assert_eq!(st.slept_since_boot_s, Some(7200.0));
    // A restart is a `boot` event.
    l.clocks = clocks(0.0, 600);
    let d = step(&mut st, 5, &[("redis", F)], &l);
    assert!(d.events.iter().any(|e| e.kind == "boot"), "{:?}", d.events);
}

#[test]
fn a_maintenance_window_holds_repairs_back() {
    let repairing = |_: &str| Rules {
        failure_threshold: 3,
        success_threshold: 1,
        notify: true,
        repair: Some(crate::incidents::RepairRule { after: 1, max_per_hour: 3 }),
    };
    let mut st = State::default();
    let backup = window("nightly backup", &["database"]);
    let open = Laptop { windows: vec![backup], ..Laptop::default() };
    for i in 0..3 {
        let d = decide_with(&mut st, &[result("database", F)], Status::Critical, &repairing, SETTINGS, &open, t(i));
        assert!(d.repairs.is_empty(), "a repair was ordered inside the window: {:?}", d.repairs);
    }
    let closed = Laptop::default();
    let d = decide_with(&mut st, &[result("database", F)], Status::Critical, &repairing, SETTINGS, &closed, t(3));
    assert_eq!(d.repairs.len(), 1, "after the window the repair goes ahead");
}
