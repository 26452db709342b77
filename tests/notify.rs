//! The heartbeat's memory and voice: the locked state file, Discord alerts
//! and recovery notices, and delivery that never loses a message.
//!
//! A real HTTP server stands in for Discord ([`WebhookSink`]); a critical API
//! endpoint on an [`HttpStub`] plays the service that goes down and comes back.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A root whose only check is the critical endpoint `/svc` of `api`.
fn setup(api: &HttpStub, sink: &WebhookSink, extra: &str) -> TestRoot {
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"
[redis]
enabled = false
[database]
enabled = false
[[api]]
name = "Service"
url = "{}"
severity = "critical"
timeout_ms = 2000
[discord]
webhook_url = "{}"
timeout_ms = 2000
{extra}
"#,
        api.url("/svc"),
        sink.url()
    ));
    root
}

fn down(api: &HttpStub) {
    api.route("/svc", Route::status(503, "service unavailable"));
}

fn up(api: &HttpStub) {
    api.route("/svc", Route::ok("ok"));
}

fn heartbeat(root: &TestRoot) -> Run {
    ops(root).arg("heartbeat").run()
}

/// What each delivered post was, by the colour of its embed.
fn kinds(posts: &[WebhookPost]) -> Vec<&'static str> {
    posts
        .iter()
        .map(|p| match p.json["embeds"][0]["color"].as_u64() {
            Some(15158332) => "alert",
            Some(3066993) => "recovery",
            other => panic!("unexpected embed colour {other:?} in {}", p.body),
        })
        .collect()
}

#[test]
fn three_criticals_alert_once_and_one_healthy_run_recovers() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "");
    down(&api);

    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert!(sink.posts().is_empty(), "alerted before the threshold");
    let third = heartbeat(&root);
    third.expect_code(2);
    let posts = sink.posts();
    assert_eq!(kinds(&posts), ["alert"]);
    let alert = &posts[0];
    assert_eq!(alert.query, "wait=true");
    assert_eq!(alert.json["allowed_mentions"], serde_json::json!({"parse": []}));
    assert_eq!(alert.json["username"], "OPS-Atomic");
    let text = alert.text();
    assert!(text.contains("Service"), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    // The title names the check and the machine; the body says since when and where it looked.
    let title = alert.json["embeds"][0]["title"].as_str().unwrap();
    assert!(title.starts_with("❌ Service down on "), "{title}");
    assert!(text.contains("since "), "{text}");
    assert!(text.contains(&api.url("/svc")), "{text}");
    let report_name = root.reports_of("heartbeat").last().unwrap().clone();
    assert!(text.contains(&report_name), "alert does not name the report {report_name}: {text}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("**Consecutive failures:** 3/3"), "{report}");
    assert!(report.contains("**Alert:** 🔔 active since"), "{report}");

    heartbeat(&root).expect_code(2);
    assert_eq!(sink.posts().len(), 1, "a 4th CRITICAL run alerted again");

    up(&api);
    heartbeat(&root).expect_code(0);
    let posts = sink.posts();
    assert_eq!(kinds(&posts), ["alert", "recovery"]);
    let recovery = posts[1].text();
    let title = posts[1].json["embeds"][0]["title"].as_str().unwrap();
    assert!(title.starts_with("✅ Service back up on ") && title.contains(" after "), "{title}");
    assert!(recovery.contains("Service"), "{recovery}");
    heartbeat(&root).expect_code(0);
    assert_eq!(sink.posts().len(), 2, "a second healthy run notified again");

    let state = root.state();
    assert_eq!(state["alert_active"], false);
    assert_eq!(state["consecutive_failures"], 0);
    assert_eq!(state["consecutive_successes"], 2);
    assert_eq!(state["runs"], 6);
    assert!(state["last_alert_at"].is_string());
    assert_eq!(state["pending_notifications"], serde_json::json!([]));
    let events: Vec<Value> = root.history().iter().map(|l| l["events"].clone()).collect();
    assert_eq!(events[2], serde_json::json!(["alert"]));
    assert_eq!(events[4], serde_json::json!(["recovery"]));
}

#[test]
fn a_webhook_down_across_alert_and_recovery_delivers_both_later_in_order() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.set_default(SinkReply::ServerError);

    down(&api);
    heartbeat(&root).expect_code(2); // alert decided, Discord answers 500
    let state = root.state();
    assert_eq!(state["pending_notifications"].as_array().unwrap().len(), 1);
    assert!(state["last_delivery_error"].as_str().unwrap().contains("HTTP 500"), "{state}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("**Pending deliveries:** 1 (alert)"), "{report}");

    up(&api);
    let run = heartbeat(&root); // recovery decided, still 500
    run.expect_code(0);
    assert!(run.stdout.contains("kept for the next run"), "{run}");
    heartbeat(&root).expect_code(0); // nothing new, still 500
    let pending = root.state()["pending_notifications"].clone();
    let pending_kinds: Vec<&str> = pending.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(pending_kinds, ["alert", "recovery"]);
    let failed_posts = sink.posts().len();
    assert!(failed_posts >= 3, "expected retries, saw {failed_posts} posts");

    sink.set_default(SinkReply::Discord);
    heartbeat(&root).expect_code(0);
    let delivered: Vec<WebhookPost> = sink.posts().into_iter().skip(failed_posts).collect();
    assert_eq!(kinds(&delivered), ["alert", "recovery"]);
    assert_eq!(root.state()["pending_notifications"], serde_json::json!([]));
    assert!(root.state().get("last_delivery_error").is_none());

    heartbeat(&root).expect_code(0);
    assert_eq!(sink.posts().len(), failed_posts + 2, "a message was delivered twice");
}

#[test]
fn a_run_killed_while_a_later_message_hangs_does_not_resend_the_earlier_one() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    // An alert and a recovery wait in the queue while the webhook is down.
    sink.set_default(SinkReply::ServerError);
    down(&api);
    heartbeat(&root).expect_code(2);
    up(&api);
    heartbeat(&root).expect_code(0);
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 2);
    let refused = sink.posts().len();

    // Discord takes the alert, then hangs on the recovery; the run is killed.
    sink.push(SinkReply::Discord);
    sink.set_default(SinkReply::Hang);
    let mut child = ops(&root).arg("heartbeat").command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sink.posts().len() < refused + 2 {
        assert!(std::time::Instant::now() < deadline, "the recovery was never posted: {:?}", sink.posts().len());
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let pending = root.state()["pending_notifications"].clone();
    let pending_kinds: Vec<&str> = pending.as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(pending_kinds, ["recovery"], "the delivered alert must have left the saved queue");

    sink.set_default(SinkReply::Discord);
    heartbeat(&root).expect_code(0);
    let delivered: Vec<WebhookPost> =
        sink.posts().into_iter().skip(refused).filter(|p| p.json["embeds"][0]["color"].is_u64()).collect();
    assert_eq!(kinds(&delivered), ["alert", "recovery", "recovery"], "the alert was sent twice or not at all");
}

#[test]
fn rate_limits_are_waited_out_within_the_run() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.push(SinkReply::RateLimited { retry_after: 0.2 });
    sink.push(SinkReply::RateLimitedHeader { retry_after: "0.1".into() });
    down(&api);
    heartbeat(&root).expect_code(2);
    let posts = sink.posts();
    assert_eq!(posts.len(), 3, "two 429s, then the delivery");
    assert_eq!(posts[0].body, posts[2].body);
    assert_eq!(root.state()["pending_notifications"], serde_json::json!([]));
}

#[test]
fn a_long_rate_limit_or_three_429s_leave_the_message_pending() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.set_default(SinkReply::RateLimited { retry_after: 0.05 });
    down(&api);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.posts().len(), 3, "at most 3 tries");
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);

    sink.set_default(SinkReply::RateLimited { retry_after: 3600.0 });
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.posts().len(), 4, "an hour-long retry_after is not waited for");
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);
}

#[test]
fn a_deleted_webhook_is_an_error_every_run_until_fixed() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.set_default(SinkReply::UnknownWebhook);
    down(&api);
    for _ in 0..2 {
        let run = heartbeat(&root);
        run.expect_code(2);
        assert!(run.stdout.contains("[ERROR] Discord delivery failed: the webhook no longer exists"), "{run}");
        assert!(run.stdout.contains("Unknown Webhook"), "{run}");
    }
    assert_eq!(sink.posts().len(), 2, "404 is not retried within a run");
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);
}

#[test]
fn a_hung_webhook_does_not_hang_the_heartbeat() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.set_default(SinkReply::Hang);
    down(&api);
    let run = ops(&root).arg("heartbeat").timeout(Duration::from_secs(30)).run();
    run.expect_code(2);
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);
    assert!(run.stdout.contains("kept for the next run"), "{run}");
}

#[test]
fn mentions_in_service_errors_never_ping_anyone() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    api.route("/svc", Route::status(500, "@everyone @here <@123456> the database is on fire"));
    heartbeat(&root).expect_code(2);
    let posts = sink.posts();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].text().contains("@everyone"), "the error text should still be shown");
    assert_eq!(posts[0].json["allowed_mentions"], serde_json::json!({"parse": []}));
}

#[test]
fn long_error_texts_fit_discord_limits() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let mut extra = String::from("[monitor]\nalert_threshold = 1\n");
    for i in 0..40 {
        extra.push_str(&format!(
            "[[api]]\nname = \"svc-{i}-{}\"\nurl = \"{}\"\nseverity = \"critical\"\n",
            "é".repeat(60),
            api.url("/long")
        ));
    }
    api.route("/long", Route::status(500, &"ü".repeat(2000)));
    let root = setup(&api, &sink, &extra);
    down(&api);
    heartbeat(&root).expect_code(2);
    let post = &sink.posts()[0];
    let content = post.json["content"].as_str().unwrap();
    let embed = &post.json["embeds"][0];
    let desc = embed["description"].as_str().unwrap();
    assert!(content.chars().count() <= 2000);
    assert!(desc.chars().count() <= 4096, "{}", desc.chars().count());
    let total = desc.chars().count()
        + embed["title"].as_str().unwrap().chars().count()
        + embed["footer"]["text"].as_str().unwrap().chars().count();
    assert!(total <= 6000);
    assert!(desc.ends_with('…'), "a cut description is marked");
}

#[test]
fn the_webhook_token_never_appears_anywhere() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    sink.set_default(SinkReply::ServerError);
    down(&api);
    let mut outputs = Vec::new();
    for args in [&["heartbeat"][..], &["heartbeat", "--json"], &["config", "show"], &["config", "check"]] {
        outputs.push(ops(&root).args(args).run().output());
    }
    // Also through the environment override.
    outputs.push(ops(&root).args(["heartbeat"]).env("DISCORD_OPS_WEBHOOK", sink.url()).run().output());
    for out in &outputs {
        assert!(!out.contains(WebhookSink::TOKEN), "token leaked:\n{out}");
    }
    assert!(outputs[2].contains("/api/webhooks/112233445566778899/***"), "{}", outputs[2]);
    let leaks: Vec<String> =
        root.files_containing(WebhookSink::TOKEN).into_iter().filter(|f| !f.ends_with("ops_atomic.toml")).collect();
    assert!(leaks.is_empty(), "token written to {leaks:?}");
}

#[test]
fn no_notify_queues_and_the_next_run_sends() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\n");
    down(&api);
    let run = ops(&root).args(["heartbeat", "--no-notify"]).run();
    run.expect_code(2);
    assert!(sink.posts().is_empty());
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);
    heartbeat(&root).expect_code(2);
    assert_eq!(kinds(&sink.posts()), ["alert"]);
}

#[test]
fn without_a_webhook_notifications_are_off_and_said_so() {
    let root = TestRoot::new();
    let api = HttpStub::start();
    down(&api);
    root.write_config(&format!(
        "[monitor]\nalert_threshold = 1\n[redis]\nenabled = false\n[database]\nenabled = false\n[[api]]\nname = \"Service\"\nurl = \"{}\"\nseverity = \"critical\"\n",
        api.url("/svc")
    ));
    let run = heartbeat(&root);
    run.expect_code(2);
    assert!(run.stdout.contains("Alert not sent: notifications are off"), "{run}");
    assert!(run.stdout.contains("Service down on"), "{run}");
    assert_eq!(root.state()["alert_active"], true);
    assert_eq!(root.state()["pending_notifications"], serde_json::json!([]));
}

#[test]
fn a_corrupt_state_is_moved_aside_and_replaced() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "");
    up(&api);
    root.write(STATE, "{\"version\": 1, \"runs\": 41, \"consecu");
    let run = heartbeat(&root);
    run.expect_code(0);
    assert!(run.stdout.contains("[ERROR] State file was corrupt"), "{run}");
    let aside: Vec<_> = std::fs::read_dir(root.path("g/state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ops_atomic_monitor.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(root.read(&format!("g/state/{}", aside[0])), "{\"version\": 1, \"runs\": 41, \"consecu");
    assert_eq!(root.state()["runs"], 1);

    // Valid JSON of the wrong shape is corrupt too; the exit code still comes from the checks.
    root.write(STATE, "[1, 2, 3]");
    down(&api);
    heartbeat(&root).expect_code(2);
    assert_eq!(root.state()["runs"], 1);
}

#[test]
fn a_state_from_a_newer_release_is_not_overwritten() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "");
    up(&api);
    root.write(STATE, "{\"version\": 3, \"runs\": 7}");
    let run = heartbeat(&root);
    run.expect_code(3);
    assert!(run.stderr.contains("version 3"), "{run}");
    assert_eq!(root.read(STATE), "{\"version\": 3, \"runs\": 7}");
}

#[test]
fn a_held_lock_times_out_with_exit_3_naming_the_lock_file() {
    use fs2::FileExt;
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "");
    up(&api);
    std::fs::create_dir_all(root.path("g/state")).unwrap();
    let lock =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(root.path(STATE_LOCK)).unwrap();
    lock.lock_exclusive().unwrap();
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_LOCK_WAIT_MS", "300").run();
    run.expect_code(3);
    assert!(run.stderr.contains("ops_atomic_monitor.lock"), "{run}");
    assert!(root.state_opt().is_none(), "state written without the lock");
    FileExt::unlock(&lock).unwrap();
    heartbeat(&root).expect_code(0);
}

#[test]
fn thirty_two_concurrent_heartbeats_lose_no_update() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 3\n");
    down(&api);
    let children: Vec<_> = (0..32)
        .map(|_| {
            ops(&root)
                .arg("heartbeat")
                .command()
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn heartbeat")
        })
        .collect();
    for mut c in children {
        let status = c.wait().unwrap();
        assert_eq!(status.code(), Some(2));
    }
    let state = root.state();
    assert_eq!(state["runs"], 32);
    assert_eq!(state["consecutive_failures"], 32);
    assert_eq!(root.history().len(), 32);
    assert_eq!(kinds(&sink.posts()), ["alert"], "one alert for one incident");
    let reports = root.reports_of("heartbeat");
    assert_eq!(reports.len(), 32, "{reports:?}");
    for r in &reports {
        assert!(root.read(&format!("{REPORTS_DIR}/{r}")).contains("**Status:** ❌ CRITICAL"), "{r}");
    }
}

#[test]
fn sigkill_at_any_moment_never_corrupts_the_state() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 2\n");
    up(&api);
    // A small deterministic generator: the kill moments are spread over a
    // heartbeat's whole life and the test is the same on every run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..100 {
        if i % 10 == 0 {
            // Flap the service so kills also land in alert delivery.
            if i % 20 == 0 { down(&api) } else { up(&api) }
        }
        let mut child: std::process::Child = ops(&root)
            .arg("heartbeat")
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn heartbeat");
        std::thread::sleep(Duration::from_micros(next() % 25_000));
        let _ = child.kill();
        let _ = child.wait();
        if let Ok(text) = std::fs::read_to_string(root.path(STATE)) {
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("state corrupt after kill {i}: {e}\n{text}"));
            assert!(v["runs"].is_u64(), "{v}");
        }
    }
    // After all that, a normal run works and nothing was moved aside.
    heartbeat(&root);
    let corrupt = std::fs::read_dir(root.path("g/state"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("corrupt"))
        .count();
    assert_eq!(corrupt, 0);
}

#[test]
fn reminders_follow_realert_minutes() {
    // Reminders need minutes to pass; the state's last_alert_at is moved back
    // in time to stand for them.
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let root = setup(&api, &sink, "[monitor]\nalert_threshold = 1\nrealert_minutes = 5\n");
    down(&api);
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert_eq!(sink.posts().len(), 1, "reminded before 5 minutes passed");
    let mut state = root.state();
    state["checks"]["api:Service"]["alerted_at"] = Value::String("2020-01-01T00:00:00Z".into());
    root.write_state(&state);
    heartbeat(&root).expect_code(2);
    let posts = sink.posts();
    assert_eq!(posts.len(), 2);
    let title = posts[1].json["embeds"][0]["title"].as_str().unwrap();
    assert!(title.starts_with("🔁 Still down on ") && title.contains("Service"), "{title}");
}
