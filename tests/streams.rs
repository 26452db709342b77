//! Readers that stay small whatever the event log holds (issue 29): `page`,
//! `summary`, `events` and `daily` over generated logs with months of
//! flapping before a week of real incidents, through the real binary. The
//! same week read behind 1 MB or 40 MB of old lines gives the same
//! incidents; a truncated last line, a 10 MB line and binary garbage are
//! skipped and counted; `daily` keeps the log bounded without losing an
//! open incident; a heartbeat whose page rewrite would run past its share
//! of the deadline skips it and says so. Peak memory over 100 MB and 500 MB
//! logs is measured in scripts/bench.sh, not here.

mod common;

use std::io::Write;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use common::*;

const EVENTS: &str = "g/state/events.jsonl";
const HISTORY: &str = "g/state/heartbeat_history.jsonl";

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An event line as `events::append` writes it: `"ts"` first, then the rest.
fn ev(t: DateTime<Utc>, check: &str, kind: &str, extra: Value) -> String {
    let mut e = json!({"check": check, "name": check.to_uppercase(), "type": kind, "message": "connection refused"});
    if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    format!("{{\"ts\":\"{}\",{}", ts(t), &e.to_string()[1..])
}

/// What a log holds: old flapping of `api:flappy` until `old_bytes` are
/// written (all before the window), an incident of `redis` open since 20
/// days with repairs and messages, then a week of incidents of `database`.
struct Log {
    old_bytes: usize,
    /// Lines no reader can use, in the middle of the old part.
    garbage: bool,
    /// A last line cut short (a crash mid-write).
    truncated_tail: bool,
}

fn write_log(root: &TestRoot, now: DateTime<Utc>, log: &Log) {
    let path = root.path(EVENTS);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut put = |line: &str| {
        f.write_all(line.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
    };
    // Months of flapping, ending 30 days ago: every cycle a status change,
    // a down, an alert to two channels, an up and a recovery.
    let start = now - Duration::days(200);
    let span = Duration::days(170);
    let cycle = |t: DateTime<Utc>| {
        [
            ev(t, "api:flappy", "status", json!({"from": "ok", "to": "fail"})),
            ev(t, "api:flappy", "down", json!({})),
            ev(t, "", "notified", json!({"channel": "discord", "notification": "alert"})),
            ev(t, "", "notified", json!({"channel": "phone", "notification": "alert"})),
            ev(t + Duration::seconds(60), "api:flappy", "up", json!({"lasted_s": 60})),
            ev(t + Duration::seconds(60), "", "notified", json!({"channel": "discord", "notification": "recovery"})),
        ]
    };
    let cycle_bytes: usize = cycle(start).iter().map(|l| l.len() + 1).sum();
    let cycles = log.old_bytes / cycle_bytes + 1;
    let step = span / cycles as i32;
    for i in 0..cycles {
        for l in &cycle(start + step * i as i32) {
            put(l);
        }
        if log.garbage && i == cycles / 2 {
            put("\u{0}\u{1}binary\u{7f} garbage {not json");
            let huge = format!(
                "{{\"ts\":\"{}\",\"type\":\"status\",\"message\":\"{}\"}}",
                ts(start + step * i as i32),
                "x".repeat(10 << 20)
            );
            put(&huge);
        }
    }
    // An incident open since 20 days: its down, repairs and messages are all before the window.
    let down = now - Duration::days(20);
    put(&ev(down, "redis", "down", json!({"message": "redis refused"})));
    put(&ev(down, "", "notified", json!({"channel": "discord", "notification": "alert"})));
    put(&ev(down + Duration::days(1), "redis", "repair", json!({"command": "brew services restart redis", "exit": 1})));
    put(&ev(now - Duration::days(9), "redis", "repair", json!({"command": "brew services restart redis", "exit": 1})));
    put(&ev(now - Duration::days(9), "", "notified", json!({"channel": "discord", "notification": "daily"})));
    // A week of real incidents: the database down an hour each day, one with a cause.
    for d in (1..7).rev() {
        let t = now - Duration::days(d) + Duration::hours(3);
        let extra = if d == 3 { json!({"caused_by": "redis"}) } else { json!({}) };
        put(&ev(t, "database", "down", extra));
        put(&ev(t, "", "notified", json!({"channel": "discord", "notification": "alert"})));
        put(&ev(t + Duration::minutes(10), "database", "repair", json!({"command": "pg_ctl restart", "exit": 0})));
        put(&ev(t + Duration::hours(1), "database", "up", json!({"lasted_s": 3600})));
        put(&ev(t + Duration::hours(1), "", "notified", json!({"channel": "discord", "notification": "recovery"})));
    }
    put(&ev(now - Duration::hours(1), "redis", "repair", json!({"command": "brew services restart redis", "exit": 1})));
    if log.truncated_tail {
        f.write_all(br#"{"ts":"2026-12-06T10:00:00Z","check":"redis","ty"#).unwrap();
    }
    f.flush().unwrap();
}

/// A week of heartbeats every 5 minutes, behind `old` older lines.
fn write_history(root: &TestRoot, now: DateTime<Utc>, old: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(root.path(HISTORY)).unwrap());
    let line = |t: DateTime<Utc>, db_fails: bool| {
        let check = |id: &str, fail: bool| json!({"id": id, "name": id.to_uppercase(), "kind": id, "status": if fail { "fail" } else { "ok" }, "latency_ms": 3, "message": if fail { "refused" } else { "ok" }});
        let rest = json!({"status": if db_fails { "CRITICAL" } else { "HEALTHY" }, "duration_ms": 12,
               "checks": [check("redis", true), check("database", db_fails)]})
        .to_string();
        // As `history::append` writes it: `"ts"` first.
        format!("{{\"ts\":\"{}\",{}", ts(t), &rest[1..])
    };
    for i in 0..old {
        writeln!(f, "{}", line(now - Duration::days(60) + Duration::minutes(5 * i as i64), false)).unwrap();
    }
    let mut t = now - Duration::days(7) + Duration::minutes(2);
    while t < now {
        let h = (now - t).num_minutes() % (24 * 60);
        writeln!(f, "{}", line(t, (21 * 60..22 * 60).contains(&h))).unwrap();
        t += Duration::minutes(5);
    }
    f.flush().unwrap();
}

fn root_with(log: Log, old_history: usize) -> (TestRoot, DateTime<Utc>) {
    root_at(Utc::now(), log, old_history)
}

fn root_at(now: DateTime<Utc>, log: Log, old_history: usize) -> (TestRoot, DateTime<Utc>) {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    write_log(&root, now, &log);
    write_history(&root, now, old_history);
    (root, now)
}

/// The incidents of `summary --json`, without what depends on the moment it ran.
fn incidents(root: &TestRoot) -> (Vec<Value>, String) {
    let run = ops(root).args(["summary", "--since", "7d", "--json"]).run();
    run.expect_code(0);
    let doc = run.json();
    let mut out = Vec::new();
    for i in doc["incidents"].as_array().expect("incidents") {
        let mut i = i.clone();
        if i["ongoing"] == true {
            i.as_object_mut().unwrap().remove("lasted_s");
            i.as_object_mut().unwrap().remove("lasted");
        }
        out.push(i);
    }
    (out, run.stderr.clone())
}

/// The page's incident rows, without the cells that depend on the moment.
fn page_rows(root: &TestRoot) -> (Vec<String>, String) {
    let out = root.path("status.html");
    let run = ops(root).args(["page", "--since", "7d", "--output"]).arg(&out).run();
    run.expect_code(0);
    let html = std::fs::read_to_string(&out).unwrap();
    let rows = html
        .lines()
        .filter(|l| l.starts_with("<tr class=\"incident\""))
        .map(|l| {
            l.split("<td")
                .filter(|c| !c.contains("data-label=\"Lasted\"") && !c.starts_with("<tr"))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    (rows, format!("{}{}", run.stdout, run.stderr))
}

#[test]
fn the_same_week_reads_the_same_behind_1_mb_or_40_mb_of_old_lines() {
    let now = Utc::now();
    let (small, _) = root_at(now, Log { old_bytes: 1 << 20, garbage: false, truncated_tail: false }, 100);
    let (big, _) = root_at(now, Log { old_bytes: 40 << 20, garbage: false, truncated_tail: false }, 20_000);
    assert!(std::fs::metadata(big.path(EVENTS)).unwrap().len() > 40 << 20);
    let (a, a_err) = incidents(&small);
    let (b, b_err) = incidents(&big);
    assert_eq!(a, b, "summary differs over the bigger log");
    assert!(!a_err.contains("unreadable") && !b_err.contains("unreadable"), "{a_err}{b_err}");
    // What the week holds: 6 database incidents, and the redis one open
    // since 20 days, its down found far before the window, with its 3 repairs.
    let db: Vec<&Value> = a.iter().filter(|i| i["check"] == "database").collect();
    assert_eq!(db.len(), 6, "{a:#?}");
    assert!(db.iter().all(|i| i["repairs"] == 1 && i["ongoing"] == false), "{db:#?}");
    assert_eq!(db.iter().filter(|i| i["caused_by"] == "redis").count(), 1, "{db:#?}");
    let redis: Vec<&Value> = a.iter().filter(|i| i["check"] == "redis").collect();
    assert_eq!(redis.len(), 1, "{a:#?}");
    assert_eq!(redis[0]["ongoing"], true);
    assert_eq!(redis[0]["repairs"], 3, "the open incident's repairs from before the window: {:#}", redis[0]);
    assert_eq!(redis[0]["message"], "redis refused");
    assert!(a.iter().all(|i| i["check"] != "api:flappy"), "an incident that ended months ago is listed");
    let (pa, _) = page_rows(&small);
    let (pb, _) = page_rows(&big);
    assert_eq!(pa.len(), 7, "{pa:#?}");
    assert_eq!(pa, pb, "the page differs over the bigger log");
}

#[test]
fn garbage_a_10_mb_line_and_a_truncated_tail_are_skipped_and_counted() {
    let now = Utc::now();
    let (clean, _) = root_at(now, Log { old_bytes: 1 << 20, garbage: false, truncated_tail: false }, 10);
    let (dirty, _) = root_at(now, Log { old_bytes: 1 << 20, garbage: true, truncated_tail: true }, 10);
    // A garbage line in the history too.
    let mut h = std::fs::OpenOptions::new().append(true).open(dirty.path(HISTORY)).unwrap();
    h.write_all(b"\xff\xfe not a heartbeat\n").unwrap();
    let (a, _) = incidents(&clean);
    let (b, err) = incidents(&dirty);
    assert_eq!(a, b, "garbage changed the summary");
    assert!(err.contains("3 unreadable lines of the event log skipped (1 over 64 KB)"), "{err}");
    assert!(err.contains("1 unreadable line of the history skipped"), "{err}");
    let (pa, _) = page_rows(&clean);
    let (pb, page_err) = page_rows(&dirty);
    assert_eq!(pa, pb);
    assert!(page_err.contains("unreadable lines of the event log skipped"), "{page_err}");
    // `events` prints what it can and says what it skipped.
    let run = ops(&dirty).args(["events", "--since", "300d", "--type", "repair"]).run();
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 3 + 6, "{}", run.stdout);
    assert!(run.stderr.contains("unreadable lines of the event log skipped"), "{}", run.stderr);
}

#[test]
fn daily_keeps_the_log_bounded_and_an_open_incident_whole() {
    let (root, _) = root_with(Log { old_bytes: 30 << 20, garbage: true, truncated_tail: false }, 10);
    // Old enough to go by retention: 200..30 days ago. Its size cap: 1 MiB,
    // so the window's days stay and nothing else but the open incident.
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n[daily]\nmax_events_bytes = 1048576\n");
    let before = incidents(&root).0;
    let before_bytes = std::fs::metadata(root.path(EVENTS)).unwrap().len();
    let run = ops(&root).args(["daily", "--no-notify", "--json"]).no_launchctl().run();
    let doc = run.json();
    let ev = &doc["housekeeping"]["events"];
    assert!(ev["dropped"].as_u64().unwrap() > 1000, "{ev:#}");
    let after_bytes = std::fs::metadata(root.path(EVENTS)).unwrap().len();
    assert!(after_bytes < 1 << 20, "{before_bytes} → {after_bytes} bytes: {ev:#}");
    assert_eq!(ev["bytes_after"].as_u64().unwrap(), after_bytes);
    // The redis incident open since 20 days keeps its down and its repairs.
    let text = root.read(EVENTS);
    assert!(text.contains("redis refused"), "the open incident's down was dropped");
    assert_eq!(incidents(&root).0, before, "what the week shows changed after the compaction");
    // Of the flapping, only the last days (those that fit under the cap) are left.
    let oldest_flap = text
        .lines()
        .filter(|l| l.contains("api:flappy"))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["ts"].as_str()?.parse::<DateTime<Utc>>().ok())
        .min();
    assert!(
        oldest_flap.is_none_or(|t| t > Utc::now() - Duration::days(40)),
        "months-old flapping kept: {oldest_flap:?}"
    );
    let rotated = root.read("g/state/events.jsonl.1");
    assert!(rotated.contains("api:flappy"), "the days cut for the size cap are not in events.jsonl.1");
    // The file stays private, and a second run changes nothing.
    assert_eq!(mode_of(&root.path(EVENTS)), 0o600);
    let run = ops(&root).args(["daily", "--no-notify", "--json"]).no_launchctl().run();
    let again = &run.json()["housekeeping"]["events"];
    assert_eq!((again["dropped"].as_u64(), again["rotated"].as_u64()), (Some(0), Some(0)), "{again:#}");
}

#[test]
fn over_its_size_cap_the_oldest_days_move_to_a_rotated_copy_but_never_the_window() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n[daily]\nmax_events_bytes = 1048576\n");
    let now = Utc::now();
    // 60 days of status events, ~40 KB a day: 2.4 MB, all within the retention.
    let path = root.path(EVENTS);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for m in (0..60 * 24 * 6).rev() {
        let t = now - Duration::minutes(10 * m + 1);
        writeln!(f, "{}", ev(t, "api:web", "status", json!({"from": "ok", "to": "warn"}))).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let run = ops(&root).args(["daily", "--no-notify", "--json"]).no_launchctl().run();
    let ev = run.json()["housekeeping"]["events"].clone();
    assert!(ev["rotated"].as_u64().unwrap() > 0, "{ev:#}");
    assert_eq!(ev["dropped"], 0, "{ev:#}");
    assert!(ev["bytes_after"].as_u64().unwrap() <= 1 << 20, "{ev:#}");
    let rotated = root.read("g/state/events.jsonl.1");
    assert_eq!(rotated.lines().count() as u64, ev["rotated"].as_u64().unwrap());
    assert_eq!(mode_of(&root.path("g/state/events.jsonl.1")), 0o600);
    // The last 8 days are all still there.
    let kept = root.read(EVENTS);
    let oldest: DateTime<Utc> =
        serde_json::from_str::<Value>(kept.lines().next().unwrap()).unwrap()["ts"].as_str().unwrap().parse().unwrap();
    assert!(oldest < now - Duration::days(7), "the page's week was cut: oldest kept {oldest}");
}

#[test]
fn a_heartbeat_skips_the_page_rewrite_past_its_share_of_the_deadline() {
    // An incident opens on this run: the page would be rewritten.
    let (root, _) = root_with(Log { old_bytes: 4 << 20, garbage: false, truncated_tail: false }, 10);
    let port = free_port();
    root.write_config(&format!(
        "[monitor]\nalert_threshold = 1\n[redis]\nenabled = false\n[database]\nenabled = false\n[[tcp]]\nname = \"gone\"\naddress = \"127.0.0.1:{port}\"\n"
    ));
    let run = ops(&root).args(["heartbeat", "--no-notify"]).env("OPS_ATOMIC_PAGE_SHARE_MS", "0").no_launchctl().run();
    run.expect_code(2);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("status page not rewritten this run"), "{all}");
    assert!(!root.exists("g/reports/status.html"), "a page was written past its share");
    // With its share, the same run writes it.
    let run = ops(&root).args(["heartbeat", "--no-notify"]).no_launchctl().run();
    assert!(!format!("{}{}", run.stdout, run.stderr).contains("not rewritten"));
    // The incident is still open: nothing to rewrite. Close it to get a rewrite.
    let _listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let run = ops(&root).args(["heartbeat", "--no-notify"]).no_launchctl().run();
    run.expect_code(0);
    assert!(root.exists("g/reports/status.html"), "{}{}", run.stdout, run.stderr);
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
