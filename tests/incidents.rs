//! Per-check incidents as a person meets them: real Redis and PostgreSQL
//! failing in turn, what the phone shows, flapping, silences, the event
//! log, and a state written by the release before this one.

mod common;

use common::*;
use serde_json::{Value, json};

const DEAD: &str = "127.0.0.1:9"; // discard port: nothing listens

/// A root watching the real Redis and PostgreSQL; `redis_up` / `pg_up`
/// point each at its server or at a closed port.
fn config(root: &TestRoot, sink: &WebhookSink, redis: &Redis, pg: &Postgres, redis_up: bool, pg_up: bool, extra: &str) {
    let redis_url = if redis_up { redis.url() } else { format!("redis://{DEAD}") };
    let pg_url = if pg_up { pg.url() } else { format!("postgresql://postgres@{DEAD}/postgres") };
    root.write_config(&format!(
        r#"
[monitor]
alert_threshold = 2
host_name = "mac-mini"
{extra}
[redis]
url = "{redis_url}"
timeout_ms = 1000
[database]
url = "{pg_url}"
timeout_ms = 2000
[discord]
webhook_url = "{}"
"#,
        sink.url()
    ));
}

fn heartbeat(root: &TestRoot) -> Run {
    ops(root).arg("heartbeat").run()
}

#[test]
fn redis_and_postgresql_failing_in_turn_each_get_their_own_story() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();

    // Redis goes down: alerted on its 2nd failure.
    config(&root, &sink, &redis, pg, false, true, "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    // PostgreSQL fails too while Redis is still down: told on its own.
    config(&root, &sink, &redis, pg, false, false, "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    // Redis comes back while PostgreSQL is still down: said, naming what is still down.
    config(&root, &sink, &redis, pg, true, false, "");
    heartbeat(&root).expect_code(2);
    // PostgreSQL comes back.
    config(&root, &sink, &redis, pg, true, true, "");
    heartbeat(&root).expect_code(0);

    let t = sink.titles();
    assert_eq!(t.len(), 4, "{t:#?}");
    assert_eq!(t[0], "❌ Redis down on mac-mini");
    assert_eq!(t[1], "❌ Database down on mac-mini");
    assert!(t[2].starts_with("✅ Redis back up on mac-mini after "), "{}", t[2]);
    assert!(t[3].starts_with("✅ Database back up on mac-mini after "), "{}", t[3]);

    let posts = sink.posts();
    // The phone line names the check and the machine; the body says what and where.
    assert_eq!(posts[0].content(), "❌ Redis down on mac-mini");
    let body = posts[0].text();
    assert!(body.contains("connection refused") || body.contains("Connection refused"), "{body}");
    assert!(body.contains(DEAD), "the alert does not say where it looked: {body}");
    assert!(body.contains("since "), "{body}");
    // The Redis recovery says Database is still down, and is red because of it.
    let recovery = posts[2].text();
    assert!(recovery.contains("Still down") && recovery.contains("Database"), "{recovery}");
    assert_eq!(posts[2].json["embeds"][0]["color"], 15158332);
    assert_eq!(posts[3].json["embeds"][0]["color"], 3066993);

    // The state keeps each check's incident; nothing is DOWN at the end.
    let state = root.state();
    assert_eq!(state["version"], 2);
    assert_eq!(state["checks"]["redis"]["down"], false);
    assert_eq!(state["checks"]["database"]["consecutive_successes"], 1);
    assert_eq!(state["alert_active"], false);

    // The event log tells the same story, and `events` filters it.
    let run = ops(&root).args(["events", "--json", "--type", "down", "--type", "up"]).run();
    run.expect_code(0);
    let events: Vec<Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let story: Vec<(String, String)> = events
        .iter()
        .map(|e| (e["check"].as_str().unwrap().to_string(), e["type"].as_str().unwrap().to_string()))
        .collect();
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
    assert_eq!(story, pairs(&[("redis", "down"), ("database", "down"), ("redis", "up"), ("database", "up")]));
    assert!(events[2]["lasted_s"].as_i64().is_some(), "{:?}", events[2]);

    let human = ops(&root).args(["events", "--check", "Database"]).run();
    human.expect_code(0);
    assert!(human.stdout.contains("Database: down — "), "{human}");
    assert!(!human.stdout.contains("Redis:"), "{human}");
    let notified = ops(&root).args(["events", "--type", "notified"]).run();
    assert_eq!(notified.stdout.lines().count(), 4, "{notified}");

    // The history lines carry check ids.
    let history = root.history();
    let ids: Vec<&str> = history[0]["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["redis", "database", "self"]);
}

#[test]
fn a_service_failing_two_runs_of_three_flaps_and_then_settles() {
    let redis = Redis::start();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let extra = "alert_threshold = 3\nflap_window = 10\nflap_changes = 4\n[database]\nenabled = false";
    let set = |up: bool| {
        // The [database] table is written by `config`; an extra one would clash.
        let redis_url = if up { redis.url() } else { format!("redis://{DEAD}") };
        root.write_config(&format!(
            "[monitor]\nhost_name = \"mac-mini\"\n{}\n[redis]\nurl = \"{redis_url}\"\ntimeout_ms = 1000\n[discord]\nwebhook_url = \"{}\"\n",
            extra,
            sink.url()
        ));
    };
    for _ in 0..3 {
        for up in [false, false, true] {
            set(up);
            heartbeat(&root);
        }
    }
    let t = sink.titles();
    assert_eq!(t.len(), 1, "{t:#?}");
    assert!(t[0].starts_with("⚠️ Redis flapping on mac-mini ("), "{}", t[0]);
    assert_eq!(sink.posts()[0].json["embeds"][0]["color"], 15105570);
    assert_eq!(root.state()["checks"]["redis"]["flapping"], true);
    set(true);
    for _ in 0..10 {
        heartbeat(&root);
    }
    let t = sink.titles();
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(t[1], "✅ Redis stable again on mac-mini");
}

#[test]
fn a_silenced_check_is_recorded_not_sent_and_alerts_when_the_silence_is_cleared() {
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    config(&root, &sink, &redis, pg, false, true, "");

    let run = ops(&root).args(["silence", "redis", "--for", "2h", "--reason", "upgrading redis"]).run();
    run.expect_code(0);
    assert!(run.stdout.contains("Redis (redis) silenced until"), "{run}");
    for _ in 0..3 {
        heartbeat(&root).expect_code(2);
    }
    assert!(sink.posts().is_empty(), "a silenced check sent a message");
    assert_eq!(root.state()["checks"]["redis"]["down"], true);
    let report = root.latest_report("heartbeat");
    assert!(report.contains("🔕 silenced"), "{report}");
    assert!(report.contains("**Silences:** 🔕 redis until"), "{report}");
    let list = ops(&root).args(["silence", "--list"]).run();
    assert!(list.stdout.contains("upgrading redis"), "{list}");
    let status = ops(&root).args(["status", "--json"]).run();
    let st = status.json();
    assert_eq!(st["state"]["silences"][0]["check"], "redis", "{status}");
    assert_eq!(st["state"]["incidents"][0]["down"], true, "{status}");

    // Cleared while still DOWN: the next heartbeat announces it.
    ops(&root).args(["silence", "--clear", "redis"]).run().expect_code(0);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.titles(), ["❌ Redis down on mac-mini"]);
    let events = ops(&root).args(["events", "--type", "silenced", "--type", "unsilenced"]).run();
    assert!(events.stdout.contains("Redis: silenced"), "{events}");
    assert!(events.stdout.contains("Redis: unsilenced — silence cleared [upgrading redis]"), "{events}");
}

#[test]
fn silence_refuses_unknown_ids_and_bad_durations_with_exit_3() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    let run = ops(&root).args(["silence", "reddis", "--for", "1h"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("no check has the id \"reddis\""), "{run}");
    let run = ops(&root).args(["silence", "--for", "soon"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("is not a duration"), "{run}");
    let run = ops(&root).args(["events", "--since", "yesterday"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("is not a duration"), "{run}");
    ops(&root).arg("silence").run().expect_code(3);
}

#[test]
fn a_version_1_state_is_migrated_and_its_queued_message_delivered() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[discord]\nwebhook_url = \"{}\"\n",
        sink.url()
    ));
    root.write_state(&json!({
        "version": 1, "runs": 41, "consecutive_failures": 0, "consecutive_successes": 3,
        "alert_active": false, "first_failure_at": null, "last_alert_at": "2025-10-27T17:00:00Z",
        "last_run_at": "2025-10-27T17:05:00Z", "last_status": "HEALTHY",
        "pending_notifications": [{
            "kind": "recovery", "created_at": "2025-10-27T17:05:00Z",
            "payload": {"content": "queued by the old release", "embeds": [{"title": "old", "color": 3066993}]},
            "attempts": 1, "last_error": "HTTP 500"
        }]
    }));
    heartbeat(&root).expect_code(0);
    let posts = sink.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].content(), "queued by the old release");
    let state = root.state();
    assert_eq!(state["version"], 2);
    assert_eq!(state["runs"], 42);
    assert_eq!(state["pending_notifications"], json!([]));
}

#[test]
fn events_follow_prints_new_events_as_they_are_written() {
    use std::io::{BufRead, BufReader};
    let redis = Redis::start();
    let pg = Postgres::shared();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    config(&root, &sink, &redis, pg, true, true, "");
    heartbeat(&root).expect_code(0);

    let mut follow = ops(&root)
        .args(["events", "--follow", "--json", "--type", "down"])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Redis goes down while `events --follow` watches.
    config(&root, &sink, &redis, pg, false, true, "");
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    let line = rx.recv_timeout(std::time::Duration::from_secs(20));
    let _ = follow.kill();
    let _ = follow.wait();
    let line = line.expect("events --follow printed nothing after Redis went down");
    let e: Value = serde_json::from_str(&line).unwrap();
    assert_eq!((e["check"].as_str(), e["type"].as_str()), (Some("redis"), Some("down")), "{line}");
    assert!(rx.try_recv().is_err(), "only the one `down` event matches --type down");
}
