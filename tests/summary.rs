//! `ops-atomic summary [--since DUR] [--json]` over generated histories of
//! 1 h, 24 h and 7 d: heartbeats every 5 minutes with gaps, failures and
//! incidents in the event log, read by the real binary.

mod common;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use common::*;

const EVENTS: &str = "g/state/events.jsonl";

/// A history line `ago` before `now` where the checks failing are those in `failing`.
fn line(now: DateTime<Utc>, ago: Duration, failing: &[&str]) -> String {
    let check = |id: &str, name: &str| {
        let fail = failing.contains(&id);
        json!({"id": id, "name": name, "kind": id, "status": if fail { "fail" } else { "ok" }, "latency_ms": 3, "message": if fail { "connection refused" } else { "ok" }})
    };
    json!({
        "ts": ts(now - ago),
        "status": if failing.is_empty() { "HEALTHY" } else { "CRITICAL" },
        "duration_ms": 12,
        "checks": [check("redis", "Redis"), check("database", "Database")],
    })
    .to_string()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn event(now: DateTime<Utc>, ago: Duration, check: &str, kind: &str, lasted: Option<Duration>) -> String {
    let mut e = json!({"ts": ts(now - ago), "check": check, "name": check.to_uppercase(), "type": kind, "from": null, "message": "connection refused"});
    if let Some(l) = lasted {
        e["lasted_s"] = json!(l.num_seconds());
    }
    e.to_string()
}

/// Heartbeats every 5 minutes over `span` (the newest 2.5 minutes ago),
/// none in `skip` (minutes ago), Redis failing in `redis_down` (minutes ago).
fn history(now: DateTime<Utc>, span: Duration, skip: (i64, i64), redis_down: (i64, i64)) -> String {
    let mut out = String::new();
    let mut ago = Duration::seconds(150);
    while ago < span {
        let m = ago.num_minutes();
        if !(skip.0..skip.1).contains(&m) {
            let failing: &[&str] = if (redis_down.0..redis_down.1).contains(&m) { &["redis"] } else { &[] };
            out.push_str(&line(now, ago, failing));
            out.push('\n');
        }
        ago += Duration::minutes(5);
    }
    out
}

fn summary(root: &TestRoot, since: &str) -> Value {
    let run = ops(root).args(["summary", "--since", since, "--json"]).run();
    run.expect_code(0);
    run.json()
}

fn check<'a>(s: &'a Value, id: &str) -> &'a Value {
    s["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}: {s}"))
}

#[test]
fn one_hour_in_five_minute_cells() {
    let root = TestRoot::new();
    let now = Utc::now();
    // Two hours of history; Redis failing 20..30 minutes ago (2 runs), an incident 30 → 20 min ago.
    root.write(HISTORY, &history(now, Duration::hours(2), (0, 0), (20, 30)));
    let events = [
        event(now, Duration::minutes(27), "redis", "down", None),
        event(now, Duration::minutes(17), "redis", "up", Some(Duration::minutes(10))),
        // Outside the hour: left out.
        event(now, Duration::minutes(100), "database", "down", None),
        event(now, Duration::minutes(90), "database", "up", Some(Duration::minutes(10))),
    ];
    root.write(EVENTS, &(events.join("\n") + "\n"));

    let s = summary(&root, "1h");
    assert_eq!(
        (s["window_s"].as_i64(), s["window"].as_str(), s["cell_s"].as_i64()),
        (Some(3600), Some("1 h"), Some(300))
    );
    assert_eq!((s["runs_seen"].as_u64(), s["runs_expected"].as_u64()), (Some(12), Some(12)), "{s}");
    assert_eq!(s["gaps"].as_array().unwrap().len(), 0, "{s}");
    let redis = check(&s, "redis");
    assert_eq!(
        (redis["runs"].as_u64(), redis["failed"].as_u64(), redis["incidents"].as_u64()),
        (Some(12), Some(2), Some(1))
    );
    assert_eq!(redis["down_s"].as_i64(), Some(600));
    assert_eq!(redis["timeline"].as_str().unwrap().chars().count(), 12);
    assert!((redis["availability"].as_f64().unwrap() - 83.333).abs() < 0.01, "{redis}");
    assert_eq!(check(&s, "database")["availability"].as_f64(), Some(100.0));
    let incidents = s["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{s}");
    assert_eq!((incidents[0]["check"].as_str(), incidents[0]["lasted_s"].as_i64()), (Some("redis"), Some(600)));
    assert_eq!(incidents[0]["ongoing"], false);

    let text = ops(&root).args(["summary", "--since", "1h"]).run();
    text.expect_code(0);
    for want in [
        "ops-atomic summary — the last 1 h",
        "Heartbeats  12 of 12 expected (one every 5 min): 10 healthy, 0 with warnings, 2 critical",
        "Gaps        none",
        "83.3%  10/12 up, 2 failed, 0 warned; 1 incident, down 10 min",
        "10 min — connection refused",
        "one cell per 5 min",
    ] {
        assert!(text.stdout.contains(want), "{want:?} missing:\n{text}");
    }
    assert!(!text.stdout.contains('\x1b'), "no colour when piped:\n{text}");
}

#[test]
fn twenty_four_hours_by_default_with_a_gap_and_an_ongoing_incident() {
    let root = TestRoot::new();
    let now = Utc::now();
    // Two days of history; none 300..360 minutes ago; Redis failing the last 40 minutes.
    root.write(HISTORY, &history(now, Duration::hours(48), (300, 360), (0, 40)));
    let events = [
        // Began before the window, ended inside it: 2 h of it inside.
        event(now, Duration::hours(26), "database", "down", None),
        event(now, Duration::hours(22), "database", "up", Some(Duration::hours(4))),
        event(now, Duration::minutes(35), "redis", "down", None),
    ];
    root.write(EVENTS, &(events.join("\n") + "\n"));

    let s = summary(&root, "24h");
    let default = ops(&root).args(["summary", "--json"]).run();
    assert_eq!(default.json()["window_s"].as_i64(), Some(86_400), "24h is the default");
    assert_eq!(s["cell_s"].as_i64(), Some(3600));
    assert_eq!(s["runs_expected"].as_u64(), Some(288));
    assert_eq!(s["runs_seen"].as_u64(), Some(276), "{}", s["gaps"]);
    let gaps = s["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{s}");
    assert_eq!(gaps[0]["missed"].as_u64(), Some(12));
    assert_eq!(s["missed"].as_u64(), Some(12));
    let redis = check(&s, "redis");
    assert_eq!((redis["failed"].as_u64(), redis["incidents"].as_u64()), (Some(8), Some(1)));
    let database = check(&s, "database");
    assert_eq!(database["incidents"].as_u64(), Some(1));
    // 2 h inside the window (less the moments between writing the history and reading it).
    let down = database["down_s"].as_i64().unwrap();
    assert!((2 * 3600 - 30..=2 * 3600).contains(&down), "{down}");
    assert_eq!(redis["timeline"].as_str().unwrap().chars().count(), 24);
    let incidents = s["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2, "{s}");
    assert_eq!((incidents[0]["check"].as_str(), incidents[0]["lasted_s"].as_i64()), (Some("database"), Some(4 * 3600)));
    assert_eq!((incidents[1]["check"].as_str(), &incidents[1]["ongoing"]), (Some("redis"), &json!(true)));
    assert!(incidents[1]["ended"].is_null());

    let text = ops(&root).arg("summary").run();
    text.expect_code(0);
    for want in [
        "the last 24 h",
        "Gaps        12 missed in 1 gap",
        "1 h 5 min without a heartbeat, 12 missed",
        "→ ongoing",
        "one cell per hour",
    ] {
        assert!(text.stdout.contains(want), "{want:?} missing:\n{text}");
    }
}

#[test]
fn seven_days_in_four_hour_cells() {
    let root = TestRoot::new();
    let now = Utc::now();
    // Eight days of history; a day without heartbeats 3..4 days ago; Redis failing for an hour 2 days ago.
    root.write(HISTORY, &history(now, Duration::days(8), (3 * 1440, 4 * 1440), (2 * 1440, 2 * 1440 + 60)));

    let s = summary(&root, "7d");
    assert_eq!((s["window"].as_str(), s["cell_s"].as_i64()), (Some("7 d"), Some(14_400)));
    assert_eq!(s["runs_expected"].as_u64(), Some(2016));
    assert_eq!(s["runs_seen"].as_u64(), Some(2016 - 288));
    let gaps = s["gaps"].as_array().unwrap();
    assert_eq!((gaps.len(), gaps[0]["missed"].as_u64()), (1, Some(288)), "{s}");
    let redis = check(&s, "redis");
    assert_eq!((redis["runs"].as_u64(), redis["failed"].as_u64()), (Some(1728), Some(12)));
    let timeline = redis["timeline"].as_str().unwrap();
    assert_eq!(timeline.chars().count(), 42);
    // The missing day is 6 cells of no data (7, when it straddles a cell edge).
    let empty = timeline.chars().filter(|c| *c == '·').count();
    assert!((6..=7).contains(&empty), "{timeline}");
    assert!(s["incidents"].as_array().unwrap().is_empty());
    // A window longer than the history: heartbeats are expected from its first one on.
    let s = summary(&root, "30d");
    assert!(s["history_since"].is_string(), "{s}");
    assert_eq!(s["runs_seen"].as_u64(), Some(8 * 288 - 288));
}

#[test]
fn a_bad_since_exits_3_and_says_how_to_write_it() {
    let root = TestRoot::new();
    for bad in ["3w", "15", "-1h", "1.5h", "soon"] {
        let run = ops(&root).arg("summary").arg(format!("--since={bad}")).run();
        run.expect_code(3);
        assert!(run.stderr.contains(&format!("{bad:?}")) && run.stderr.contains("90s, 15m, 2h or 7d"), "{bad}: {run}");
    }
    let zero = ops(&root).args(["summary", "--since", "0m"]).run();
    zero.expect_code(3);
    assert!(zero.stderr.contains("more than zero"), "{zero}");
}

#[test]
fn no_history_is_a_window_of_missed_heartbeats() {
    let root = TestRoot::new();
    let s = summary(&root, "2h");
    assert_eq!(
        (s["runs_seen"].as_u64(), s["runs_expected"].as_u64(), s["missed"].as_u64()),
        (Some(0), Some(24), Some(24))
    );
    let text = ops(&root).args(["summary", "--since", "2h"]).run();
    text.expect_code(0);
    assert!(text.stdout.contains("no check ran in the last 2 h"), "{text}");
}
