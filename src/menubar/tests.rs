use super::*;
use crate::state::{CheckState, Silence};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn inputs<'a>(st: Option<&'a State>, now: DateTime<Utc>) -> Inputs<'a> {
    Inputs {
        state: st,
        state_exists: st.is_some(),
        last: None,
        now,
        interval_s: 300,
        windows: &[],
        clocks: None,
        woke_at: None,
        host: "mac".into(),
        files: Files::default(),
    }
}

fn down(name: &str, since: DateTime<Utc>, msg: &str) -> CheckState {
    CheckState {
        name: name.into(),
        status: Some(CheckStatus::Fail),
        down: true,
        down_since: Some(since),
        consecutive_failures: 4,
        failure_message: Some(msg.into()),
        ..Default::default()
    }
}

fn state(now: DateTime<Utc>) -> State {
    State {
        last_run_at: Some(now - chrono::Duration::minutes(2)),
        last_status: Some("HEALTHY".into()),
        ..Default::default()
    }
}

#[test]
fn a_healthy_root_is_a_green_tick() {
    let now = t("2026-12-07T10:00:00Z");
    let st = state(now);
    let g = Glance::of(&inputs(Some(&st), now));
    assert_eq!(g.title(), ("✅".to_string(), Colour::Green));
    assert_eq!(g.freshness, Freshness::Fresh);
}

#[test]
fn the_worst_comes_first_and_a_dependency_is_named() {
    let now = t("2026-12-07T10:00:00Z");
    let mut st = state(now);
    st.checks.insert("database".into(), down("PostgreSQL", now - chrono::Duration::minutes(30), "connection refused"));
    let mut redis = down("Redis", now - chrono::Duration::minutes(20), "timed out");
    redis.caused_by = Some("database".into());
    st.checks.insert("redis".into(), redis);
    st.checks
        .insert("api:x".into(), CheckState { name: "X".into(), status: Some(CheckStatus::Warn), ..Default::default() });
    let g = Glance::of(&inputs(Some(&st), now));
    assert_eq!(g.title(), ("❌ 2 ⚠️ 1".to_string(), Colour::Red));
    let names: Vec<&str> = g.problems.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["PostgreSQL", "Redis", "X"]);
    assert_eq!(g.problems[1].caused_by.as_deref(), Some("PostgreSQL"));
}

#[test]
fn a_silenced_check_is_listed_but_does_not_colour_the_title() {
    let now = t("2026-12-07T10:00:00Z");
    let mut st = state(now);
    st.checks.insert("redis".into(), down("Redis", now - chrono::Duration::minutes(20), "timed out"));
    st.silences.push(Silence {
        check: Some("redis".into()),
        until: now + chrono::Duration::hours(1),
        reason: "upgrade".into(),
        created_at: now,
    });
    let g = Glance::of(&inputs(Some(&st), now));
    assert_eq!(g.title().0, "✅");
    assert!(g.problems[0].quiet && g.problems[0].own_silence);
    assert_eq!(g.silences.len(), 1);
}

#[test]
fn time_asleep_is_not_time_stopped() {
    let now = t("2026-12-07T10:00:00Z");
    let mut st = state(now);
    st.last_run_at = Some(now - chrono::Duration::hours(8));
    st.slept_since_boot_s = Some(100.0);
    let mut i = inputs(Some(&st), now);
    assert!(matches!(Glance::of(&i).freshness, Freshness::Stopped { .. }));
    i.clocks = Some(crate::sleep::Clocks { slept_since_boot_s: 100.0 + 8.0 * 3600.0 - 120.0, boot_time: None });
    let g = Glance::of(&i);
    assert_eq!(g.freshness, Freshness::Fresh);
    assert_eq!(g.slept_s, Some(8 * 3600 - 120));
    // Without the clocks, SwiftBar's wake time says the same.
    i.clocks = None;
    i.woke_at = Some(now - chrono::Duration::minutes(3));
    assert_eq!(Glance::of(&i).freshness, Freshness::Fresh);
    // A wake long ago does not excuse a monitor that stopped since.
    i.woke_at = Some(now - chrono::Duration::hours(2));
    assert!(matches!(Glance::of(&i).freshness, Freshness::Stopped { .. }));
}

#[test]
fn swiftbar_wake_times_parse() {
    assert_eq!(parse_wake("2026-12-07T09:12:33+01:00"), Some(t("2026-12-07T08:12:33Z")));
    assert_eq!(parse_wake("2026-12-07 09:12:33 +0100"), Some(t("2026-12-07T08:12:33Z")));
    assert_eq!(parse_wake("yesterday"), None);
}

#[test]
fn xbar_output_uses_only_xbar_keys() {
    let now = t("2026-12-07T10:00:00Z");
    let mut st = state(now);
    st.checks.insert("database".into(), down("PostgreSQL", now - chrono::Duration::minutes(30), "refused"));
    let g = Glance::of(&inputs(Some(&st), now));
    let caller = Caller::new(Path::new("/opt/ops-atomic"), Path::new("/Users/me/ops"), None);
    for l in xbar::render(&g, &caller, false).lines() {
        let Some((_, params)) = l.split_once(" | ") else { continue };
        for kv in params.split(' ').filter(|kv| kv.contains('=')) {
            let key = kv.split('=').next().unwrap();
            assert!(
                xbar::KEYS.contains(&key) || key.strip_prefix("param").is_some_and(|n| n.parse::<u32>().is_ok()),
                "{key} in {l}"
            );
        }
    }
}
