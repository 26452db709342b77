//! A laptop's life (SPEC §15) as a person meets it: services that depend
//! on each other, a night of quiet hours, a maintenance window and a Mac
//! that sleeps, with real Redis and PostgreSQL and the Discord sink.

mod common;

use chrono::{Duration, Local, Timelike};
use common::*;
use serde_json::Value;

const DEAD: &str = "127.0.0.1:9"; // discard port: nothing listens

/// A root watching the real Redis and PostgreSQL (each up or pointed at a
/// closed port), `extra` lines in [monitor], `tail` after everything.
fn config(
    root: &TestRoot,
    sink: &WebhookSink,
    redis: &Redis,
    pg: &Postgres,
    up: (bool, bool),
    extra: &str,
    tail: &str,
) {
    let redis_url = if up.0 { redis.url() } else { format!("redis://{DEAD}") };
    let pg_url = if up.1 { pg.url() } else { format!("postgresql://postgres@{DEAD}/postgres") };
    root.write_config(&format!(
        r#"
[monitor]
alert_threshold = 2
host_name = "mac-mini"
{extra}
[redis]
url = "{redis_url}"
timeout_ms = 1000
depends_on = ["database"]
[database]
url = "{pg_url}"
timeout_ms = 2000
[discord]
webhook_url = "{}"
{tail}
"#,
        sink.url()
    ));
}

fn heartbeat(root: &TestRoot) -> Run {
    ops(root).arg("heartbeat").run()
}

fn events(root: &TestRoot, kinds: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "--json"];
    for k in kinds {
        args.extend(["--type", k]);
    }
    let run = ops(root).args(args).run();
    run.expect_code(0);
    run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// "HH:MM-HH:MM" local time, from `from_h` to `to_h` hours away from now.
fn span(from_h: i64, to_h: i64) -> String {
    let now = Local::now();
    let hm = |t: chrono::DateTime<Local>| format!("{:02}:{:02}", t.hour(), t.minute());
    format!("{}-{}", hm(now + Duration::hours(from_h)), hm(now + Duration::hours(to_h)))
}

#[test]
fn a_dependency_alerts_for_what_depends_on_it_then_each_goes_its_own_way() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();

    // Both down: one alert, for the database, naming Redis.
    config(&root, &sink, &redis, pg, (false, false), "", "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.titles(), ["❌ Database down on mac-mini; also failing because of it: Redis"]);
    let body = sink.posts()[0].text();
    assert!(body.contains("Also failing because of it") && body.contains("Redis"), "{body}");
    let state = root.state();
    assert_eq!(state["checks"]["redis"]["caused_by"], "database");
    assert_eq!(state["checks"]["redis"]["down"], true);
    let status = ops(&root).arg("status").run();
    assert!(status.stdout.contains("(caused by Database)"), "{status}");
    let json = ops(&root).args(["heartbeat", "--json", "--no-notify"]).run().json();
    assert_eq!(json["incidents"]["redis"]["caused_by"], "database", "{json:#}");
    let down: Vec<Value> = events(&root, &["down"]);
    let redis_down = down.iter().find(|e| e["check"] == "redis").unwrap();
    assert_eq!(redis_down["caused_by"], "database");
    let human = ops(&root).args(["events", "--type", "down", "--check", "redis"]).run();
    assert!(human.stdout.contains("(caused by database)"), "{human}");

    // The database is back, Redis is still down: now Redis alerts on its own.
    config(&root, &sink, &redis, pg, (false, true), "", "");
    heartbeat(&root).expect_code(2);
    let t = sink.titles();
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(t[1], "❌ Redis down on mac-mini");
    assert!(sink.posts()[1].text().contains("Back up"), "the database's recovery rides along");

    // Both back: one green recovery.
    config(&root, &sink, &redis, pg, (true, true), "", "");
    heartbeat(&root).expect_code(0);
    let t = sink.titles();
    assert_eq!(t.len(), 3, "{t:#?}");
    assert!(t[2].starts_with("✅ Redis back up on mac-mini after "), "{}", t[2]);
    assert_eq!(sink.posts()[2].json["embeds"][0]["color"], 3066993);
}

#[test]
fn a_cycle_in_depends_on_is_refused_naming_it() {
    let root = TestRoot::new();
    root.write_config("[redis]\ndepends_on = [\"database\"]\n[database]\ndepends_on = [\"redis\"]\n");
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    assert!(run.output().contains("depends_on has a cycle: redis -> database -> redis"), "{run}");
    root.write_config("[redis]\ndepends_on = [\"postgres\"]\n");
    let run = heartbeat(&root);
    run.expect_code(3);
    assert!(run.output().contains("redis.depends_on[0] = \"postgres\": no check has this id"), "{run}");
}

#[test]
fn quiet_hours_hold_an_incident_and_its_recovery_then_send_one_digest() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let quiet = format!("quiet_hours = \"{}\"\nquiet_allow = []", span(-1, 1));

    config(&root, &sink, &redis, pg, (false, true), &quiet, "");
    heartbeat(&root).expect_code(2);
    let run = heartbeat(&root);
    run.expect_code(2);
    assert!(run.stdout.contains("Quiet hours") && run.stdout.contains("held"), "{run}");
    config(&root, &sink, &redis, pg, (true, true), &quiet, "");
    heartbeat(&root).expect_code(0);
    assert!(sink.posts().is_empty(), "quiet hours let a message through: {:?}", sink.titles());
    let pending = root.state()["pending_notifications"].as_array().unwrap().clone();
    let kinds: Vec<&str> = pending.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["alert", "recovery"]);
    assert!(pending.iter().all(|p| p["held"] == true), "{pending:?}");
    // Checks and events went on.
    assert_eq!(events(&root, &["down", "up"]).len(), 2);

    // The quiet hours are over: one digest tells the whole story.
    let later = format!("quiet_hours = \"{}\"\nquiet_allow = []", span(2, 3));
    config(&root, &sink, &redis, pg, (true, true), &later, "");
    heartbeat(&root).expect_code(0);
    let t = sink.titles();
    assert_eq!(t.len(), 1, "{t:#?}");
    assert!(t[0].starts_with("📋 Digest for mac-mini: Redis down "), "{}", t[0]);
    assert!(t[0].ends_with(", back up"), "{}", t[0]);
    let body = sink.posts()[0].text();
    assert!(body.contains("✅ Redis down ") && body.contains("back up"), "{body}");
    assert!(
        body.contains("2 message(s) held or delayed") && body.contains("alert") && body.contains("recovery"),
        "{body}"
    );
    assert_eq!(sink.posts()[0].json["embeds"][0]["color"], 3066993);
    assert_eq!(root.state()["pending_notifications"], serde_json::json!([]));
    let notified = events(&root, &["notified"]);
    assert_eq!(notified.len(), 1);
    assert_eq!(notified[0]["notification"], "digest");

    // With the default quiet_allow, an alert still goes out during quiet hours.
    let allow = format!("quiet_hours = \"{}\"", span(-1, 1));
    config(&root, &sink, &redis, pg, (false, true), &allow, "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.titles().last().unwrap(), "❌ Redis down on mac-mini");
}

#[test]
fn a_maintenance_window_silences_its_checks_and_its_end_announces_what_is_still_down() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let (from, to) = span(-1, 1).split_once('-').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
    let window = format!(
        "[[maintenance]]\nname = \"nightly backup\"\nchecks = [\"database\"]\nfrom = \"{from}\"\nto = \"{to}\"\n"
    );

    config(&root, &sink, &redis, pg, (true, false), "", &window);
    for _ in 0..3 {
        heartbeat(&root).expect_code(2);
    }
    assert!(sink.posts().is_empty(), "{:?}", sink.titles());
    let silenced = events(&root, &["silenced"]);
    assert_eq!(silenced.len(), 1, "{silenced:?}");
    assert_eq!(silenced[0]["check"], "database");
    assert_eq!(silenced[0]["reason"], "nightly backup");
    let status = ops(&root).arg("status").run();
    assert!(status.stdout.contains("maintenance nightly backup"), "{status}");
    // Every view marks the check quiet, as a silence would be.
    let line = |text: &str| text.lines().find(|l| l.contains("Database")).unwrap_or_default().to_string();
    let report = root.latest_report("heartbeat");
    assert!(line(report.split("## Health Checks").next().unwrap()).contains("🔕 silenced"), "{report}");
    let incidents = ops(&root).args(["status", "--json"]).run().json()["state"]["incidents"].clone();
    let db = incidents.as_array().unwrap().iter().find(|i| i["id"] == "database").cloned().unwrap_or_default();
    assert_eq!(db["silenced"], true, "{incidents:#}");
    ops(&root).args(["page", "--output", &root.path("page.html").display().to_string()]).run().expect_code(0);
    assert!(root.read("page.html").contains("down, silenced"), "the status page says so too");

    // The window is gone while the database is still down: one alert.
    config(&root, &sink, &redis, pg, (true, false), "", "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.titles(), ["❌ Database down on mac-mini"]);
    let unsilenced = events(&root, &["unsilenced"]);
    assert_eq!(unsilenced.len(), 1);
    assert_eq!(unsilenced[0]["reason"], "nightly backup");
}

#[test]
fn a_mac_that_slept_says_awake_retries_what_fails_and_is_not_counted_as_missing() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    config(&root, &sink, &redis, pg, (false, true), "", "");
    ops(&root).arg("heartbeat").env("OPS_ATOMIC_SLEPT_S", "100").run().expect_code(2);
    // The first run was three hours ago, as far as the history knows.
    let history = root.read(HISTORY);
    let mut first: Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    first["ts"] = Value::String((chrono::Utc::now() - Duration::hours(3)).to_rfc3339());
    root.write(HISTORY, &format!("{first}\n"));

    // Three hours asleep (minus a few seconds), then the wake.
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_SLEPT_S", "10790").run();
    run.expect_code(2);
    assert!(run.stdout.contains("Awake after 2 h 58 min asleep: 1 failing check(s) run again in 5 s"), "{run}");
    assert!(run.stdout.contains("Run again after the wake: ❌ Redis"), "{run}");
    let awake = events(&root, &["awake"]);
    assert_eq!(awake.len(), 1, "{awake:?}");
    assert_eq!(awake[0]["slept_s"], 10690);
    assert!(awake[0]["message"].as_str().unwrap().contains("run again after 5 s: Redis"), "{awake:?}");
    let lines = root.history();
    assert_eq!(lines[1]["slept_s"], 10690);
    assert_eq!(root.state()["slept_since_boot_s"], 10790.0);

    // The daily report shows the time asleep, not missed heartbeats.
    ops(&root).args(["daily", "--no-notify"]).env("OPS_ATOMIC_SLEPT_S", "10790").run();
    let report = root.latest_report("daily");
    assert!(report.contains("**Asleep:** 2 h 58 min (not counted as missed)"), "{report}");
    assert!(report.contains("| asleep |"), "{report}");
    assert!(!report.contains("the heartbeat did not run"), "{report}");
}
