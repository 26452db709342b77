//! `ops-atomic daily` run for real: smoke commands that pass, fail and hang,
//! API expectations, history from fixtures and from real heartbeats, the
//! 24-hour numbers in the report, housekeeping, Discord and exit codes.

mod common;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use common::*;
use serde_json::{Value, json};

const QUIET: &str = "[redis]\nenabled = false\n\n[database]\nenabled = false\n";

const RED: u64 = 15_158_332;
const GREEN: u64 = 3_066_993;

fn daily(root: &TestRoot) -> Run {
    ops(root).args(["daily", "--json"]).run()
}

fn phase(doc: &Value, n: usize) -> &Value {
    &doc["phases"][n - 1]
}

/// One heartbeat a minute ago: the daily run's "did the heartbeat run" test
/// (SPEC §8) passes, so a test can look at the other phases.
fn heartbeat_ran(root: &TestRoot) {
    root.write(HISTORY, &(line(Utc::now() - chrono::Duration::minutes(1), true, &[]) + "\n"));
}

fn with_webhook(sink: &WebhookSink, extra: &str) -> String {
    format!("{QUIET}\n[discord]\nwebhook_url = \"{}\"\n\n{extra}", sink.url())
}

// ---------------------------------------------------------------------------
// Phase 1: smoke commands

#[test]
fn smoke_commands_that_pass_fail_and_hang_are_each_reported() {
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"{QUIET}
[[daily.smoke]]
name = "passes"
command = ["true"]

[[daily.smoke]]
name = "fails"
command = ["sh", "-c", "echo first line; echo boom; exit 3"]

[[daily.smoke]]
name = "hangs"
command = ["sleep", "30"]
timeout_s = 1

[[daily.smoke]]
name = "missing"
command = ["no-such-program-for-ops-atomic"]
"#
    ));
    let run = daily(&root);
    run.expect_code(2);
    assert!(run.elapsed < Duration::from_secs(10), "the hung command was not killed: {run}");
    let doc = run.json();
    assert_eq!(doc["status"], "CRITICAL");
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(phase(&doc, 1)["status"], "failed");
    let items = phase(&doc, 1)["items"].as_array().unwrap();
    let message =
        |name: &str| items.iter().find(|i| i["name"] == name).unwrap()["message"].as_str().unwrap().to_string();
    assert!(message("passes").starts_with("exit 0"), "{}", message("passes"));
    assert!(message("fails").starts_with("exit 3"), "{}", message("fails"));
    assert_eq!(message("hangs"), "timed out after 1 s (killed)");
    assert_eq!(message("missing"), "not found: no-such-program-for-ops-atomic");

    let report = root.latest_report("daily");
    assert!(report.contains("**Status:** ❌ CRITICAL"), "{report}");
    assert!(report.contains("| 1 | Smoke tests | ❌ failed |"), "{report}");
    assert!(report.contains("1 of 4 smoke commands passed"), "{report}");
    assert!(report.contains("Output of **fails** (last lines):\n\n```\nfirst line\nboom\n```"), "{report}");
    assert!(report.contains("timed out after 1 s (killed)"), "{report}");
    // A failing phase never stops the ones after it.
    assert!(run.stderr.contains("▶ Phase 5/5: Notify"), "{run}");
    assert!(run.stderr.contains("=== Daily Complete: ❌ CRITICAL ==="), "{run}");
}

#[test]
fn a_timed_out_shell_smoke_command_takes_what_it_started_with_it() {
    let root = TestRoot::new();
    root.write("g/state/.keep", "");
    root.write_config(&format!(
        r#"{QUIET}
[[daily.smoke]]
name = "slow pipeline"
command = ["sh", "-c", "sleep 30 & echo $! > g/state/sleep.pid; echo waiting for the pipeline; wait"]
timeout_s = 1
"#
    ));
    let run = daily(&root);
    run.expect_code(2);
    let report = root.latest_report("daily");
    assert!(report.contains("timed out after 1 s (killed)"), "{report}");
    assert!(report.contains("waiting for the pipeline"), "the output before the timeout was lost: {report}");
    let pid = std::fs::read_to_string(root.path("g/state/sleep.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Gone, or a zombie only waiting for PID 1 to reap it.
    let running = stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z'));
    assert!(!running, "the `sleep` the smoke command started is still running: {stat}");
}

#[test]
fn smoke_commands_run_in_the_root() {
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}\n[[daily.smoke]]\nname = \"disk writable\"\ncommand = [\"touch\", \"g/state/.smoke\"]\n"
    ));
    root.write("g/state/.keep", "");
    heartbeat_ran(&root);
    let run = daily(&root);
    run.expect_code(0);
    assert!(root.exists("g/state/.smoke"));
    assert!(run.stderr.contains("✅ Phase 1/5: Smoke tests passed"), "{run}");
}

// ---------------------------------------------------------------------------
// Phase 2: API verification

#[test]
fn every_failing_expectation_of_an_endpoint_is_named() {
    let stub = HttpStub::start();
    stub.route("/health", Route::status(503, "down"));
    stub.route("/ok", Route::ok("all ok"));
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"{QUIET}
[[api]]
name = "Core API"
url = "{}"
expect_body_contains = "ok"
severity = "critical"

[[api]]
name = "Docs"
url = "{}"
expect_status = 200
expect_body_contains = "ok"
"#,
        stub.url("/health"),
        stub.url("/ok")
    ));
    let run = daily(&root);
    run.expect_code(2);
    let doc = run.json();
    let p2 = phase(&doc, 2);
    assert_eq!(p2["status"], "failed");
    assert_eq!(p2["impact"], "CRITICAL");
    let report = root.latest_report("daily");
    assert!(report.contains("✗ status 503 (expected 2xx); ✗ body does not contain \"ok\""), "{report}");
    assert!(report.contains("**Docs:** ✓ status 200 (expected 200); ✓ body contains \"ok\""), "{report}");
    assert!(report.contains("1 of 2 endpoints meet every expectation"), "{report}");
}

#[test]
fn a_warning_severity_endpoint_failing_is_warnings() {
    let stub = HttpStub::start();
    stub.route("/health", Route::status(500, "oops"));
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}\n[[api]]\nname = \"Side API\"\nurl = \"{}\"\n", stub.url("/health")));
    heartbeat_ran(&root);
    let run = daily(&root);
    run.expect_code(1);
    let doc = run.json();
    assert_eq!(doc["status"], "WARNINGS");
    assert_eq!(phase(&doc, 2)["status"], "failed");
    assert_eq!(phase(&doc, 2)["impact"], "WARNINGS");
    // Phase 1 runs the same check as the heartbeat would: a warning there.
    assert_eq!(phase(&doc, 1)["status"], "warning");
}

// ---------------------------------------------------------------------------
// Phase 4: the last 24 hours

/// A heartbeat line as the heartbeat writes it.
fn line(ts: DateTime<Utc>, redis_ok: bool, events: &[&str]) -> String {
    let redis = if redis_ok { "ok" } else { "fail" };
    json!({
        "ts": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "status": if redis_ok { "HEALTHY" } else { "CRITICAL" },
        "duration_ms": 12,
        "checks": [
            {"name": "Redis", "kind": "redis", "status": redis, "latency_ms": if redis_ok { 2 } else { 3000 }, "message": "PONG"},
            {"name": "Database", "kind": "database", "status": "ok", "latency_ms": 7, "message": "SELECT 1 ok"},
        ],
        "events": events,
    })
    .to_string()
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A day every 5 minutes ending 30 s ago: 12 heartbeats missing (a 65-minute
/// gap), Redis down for 10 heartbeats with an alert and a recovery, plus one
/// line 9 days old. Returns the times that bound the gap.
fn write_day(root: &TestRoot) -> (DateTime<Utc>, DateTime<Utc>) {
    let t0 = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(30);
    let at = |k: i64| t0 - chrono::Duration::seconds(300 * k);
    let mut lines = vec![line(t0 - chrono::Duration::days(9), true, &[])];
    for k in (0..288).rev() {
        if (100..112).contains(&k) {
            continue;
        }
        let events: &[&str] = match k {
            57 => &["alert"],
            49 => &["recovery"],
            _ => &[],
        };
        lines.push(line(at(k), !(50..60).contains(&k), events));
    }
    root.write(HISTORY, &(lines.join("\n") + "\n"));
    (at(112), at(99))
}

#[test]
fn a_day_with_a_gap_an_outage_and_a_recovery_is_summarised_with_numbers() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let (gap_from, gap_to) = write_day(&root);
    let run = daily(&root);
    run.expect_code(0);
    let report = root.latest_report("daily");
    assert!(
        report.contains(
            "**Heartbeats:** 276 of 288 expected (one every 5 min) — 266 healthy, 0 with warnings, 10 critical"
        ),
        "{report}"
    );
    assert!(report.contains("**Missed heartbeats:** 12 in 1 gap(s)"), "{report}");
    let gap_row = format!("| {} | {} | 1 h 5 min | 12 |", minute(gap_from), minute(gap_to));
    assert!(report.contains(&gap_row), "missing {gap_row}\n{report}");
    assert!(report.contains("| Redis | 96.4% | 266/276 | 10 | 0 |"), "{report}");
    assert!(report.contains("| Database | 100.0% | 276/276 | 0 | 0 |"), "{report}");
    assert!(report.contains("**Alerts:** 1 · **Reminders:** 0 · **Recoveries:** 1"), "{report}");
    assert!(report.contains("| Redis | 2 ms | 3000 ms | 276 |"), "{report}");

    // The timeline: 24 cells per check, the outage hour(s) partly failed.
    let timeline = report.split("### Timeline\n\n```\n").nth(1).unwrap().split("\n```").next().unwrap();
    let redis_row = timeline.lines().find(|l| l.starts_with("Redis")).unwrap();
    let cells: String = redis_row.chars().filter(|c| "█▒X·".contains(*c)).collect();
    assert_eq!(cells.chars().count(), 24, "{redis_row}");
    assert!(cells.contains('▒') && !cells.contains('X'), "{redis_row}");
    assert!(redis_row.ends_with("96.4%"), "{redis_row}");
    let db_row = timeline.lines().find(|l| l.starts_with("Database")).unwrap();
    assert!(!db_row.contains('▒') && !db_row.contains('X'), "{db_row}");
    assert!(report.contains("█ all ok · ▒ some failures · X all failed · · no data"), "{report}");

    // The same numbers for jq.
    let doc = run.json();
    let h = &doc["history"];
    assert_eq!(
        (h["runs_seen"].as_u64(), h["runs_expected"].as_u64(), h["missed"].as_u64()),
        (Some(276), Some(288), Some(12))
    );
    assert_eq!((h["alerts"].as_u64(), h["recoveries"].as_u64()), (Some(1), Some(1)));
    // The 9-day-old line was trimmed.
    assert_eq!(doc["housekeeping"]["history_dropped"], 1);
    assert_eq!(doc["housekeeping"]["history_kept"], 276);
    assert_eq!(root.history().len(), 276);
}

#[test]
fn history_written_by_real_heartbeats_is_summarised() {
    let mut redis = Redis::start();
    let root = TestRoot::new();
    root.write_config("[database]\nenabled = false\n");
    for _ in 0..3 {
        ops(&root).arg("heartbeat").env("REDIS_URL", redis.url()).run().expect_code(0);
    }
    redis.stop();
    ops(&root).arg("heartbeat").env("REDIS_URL", redis.url()).run().expect_code(2);
    let run = ops(&root).args(["daily", "--json"]).env("REDIS_URL", redis.url()).run();
    run.expect_code(2);
    let report = root.latest_report("daily");
    // A history that began minutes ago expects heartbeats from then on only.
    assert!(
        report.contains("**Heartbeats:** 4 of 4 expected (one every 5 min, since the history began at "),
        "{report}"
    );
    assert!(report.contains("**Missed heartbeats:** 0"), "{report}");
    assert!(report.contains("| Redis | 75.0% | 3/4 | 1 | 0 |"), "{report}");
    let doc = run.json();
    assert_eq!(phase(&doc, 1)["status"], "failed");
    assert_eq!(doc["history"]["critical"], 1);
}

// ---------------------------------------------------------------------------
// Phase 4: housekeeping

#[test]
fn housekeeping_prunes_old_reports_rotates_big_logs_and_trims_history() {
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}\n[daily]\nmax_log_bytes = 1024\n"));
    let stamp = |days: i64| (Utc::now() - chrono::Duration::days(days)).format("%Y-%m-%d_%H-%M-%S").to_string();
    let old = [format!("heartbeat_{}.md", stamp(10)), format!("heartbeat_{}_1.md", stamp(8))];
    let recent = [format!("heartbeat_{}.md", stamp(1)), format!("heartbeat_{}.md", stamp(6))];
    let others = [format!("daily_{}.md", stamp(30)), "notes.md".to_string()];
    for n in old.iter().chain(&recent).chain(&others) {
        root.write(&format!("{REPORTS_DIR}/{n}"), "# old\n");
    }
    root.write("g/logs/ops_monitor.log", &"x".repeat(2000));
    root.write("g/logs/ops_monitor.log.1", "older");
    root.write("g/logs/ops_monitor.err", "small");
    let now = Utc::now();
    let history = [
        line(now - chrono::Duration::days(9), true, &[]),
        "this is not json".to_string(),
        line(now - chrono::Duration::minutes(1), true, &[]),
    ];
    root.write(HISTORY, &(history.join("\n") + "\n"));

    let run = daily(&root);
    run.expect_code(0);
    for n in &old {
        assert!(!root.exists(&format!("{REPORTS_DIR}/{n}")), "{n} was kept");
    }
    for n in recent.iter().chain(&others) {
        assert!(root.exists(&format!("{REPORTS_DIR}/{n}")), "{n} was deleted");
    }
    assert_eq!(root.read("g/logs/ops_monitor.log"), "");
    assert_eq!(root.read("g/logs/ops_monitor.log.1").len(), 2000);
    assert_eq!(root.read("g/logs/ops_monitor.log.2"), "older");
    assert_eq!(root.read("g/logs/ops_monitor.err"), "small");
    assert_eq!(root.history().len(), 1);

    let report = root.latest_report("daily");
    assert!(report.contains("**Heartbeat reports deleted** (older than 7 days): 2 (2 kept)"), "{report}");
    assert!(report.contains("**Logs rotated** (over 1 KiB, 3 copies kept): ops_monitor.log"), "{report}");
    assert!(
        report
            .contains("**History trimmed to 8 days:** 1 lines kept, 1 older lines dropped, 1 unreadable lines dropped"),
        "{report}"
    );
}

#[test]
fn a_week_of_history_and_reports_is_handled_quickly() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let now = Utc::now().trunc_subsecs(0);
    let mut lines = Vec::new();
    for k in 0..2016 {
        let t = now - chrono::Duration::seconds(300 * k + 60);
        lines.push(line(t, k % 100 != 0, &[]));
        root.write(
            &format!("{REPORTS_DIR}/heartbeat_{}.md", (t - chrono::Duration::days(1)).format("%Y-%m-%d_%H-%M-%S")),
            "x",
        );
    }
    root.write(HISTORY, &(lines.join("\n") + "\n"));
    let run = daily(&root);
    run.expect_code(0);
    assert!(run.elapsed < Duration::from_secs(5), "{run}");
    let doc = run.json();
    assert_eq!(doc["history"]["runs_seen"], 288);
    // Reports dated more than 7 days ago: the oldest day (minus one heartbeat).
    let deleted = doc["housekeeping"]["reports_deleted"].as_u64().unwrap();
    assert!((287..=289).contains(&deleted), "{deleted}");
}

// ---------------------------------------------------------------------------
// Phases 3 and 5: Notify prep and Notify

#[test]
fn a_failed_phase_sends_one_red_daily_message() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    root.write_config(&with_webhook(&sink, "[[daily.smoke]]\nname = \"broken\"\ncommand = [\"false\"]\n"));
    heartbeat_ran(&root);
    let run = daily(&root);
    run.expect_code(2);
    let posts = sink.posts();
    assert_eq!(posts.len(), 1, "{run}");
    let p = &posts[0];
    assert!(p.query.contains("wait=true"));
    assert_eq!(p.json["allowed_mentions"], json!({"parse": []}));
    assert_eq!(p.json["embeds"][0]["color"].as_u64(), Some(RED));
    let text = p.text();
    assert!(text.contains("Daily: CRITICAL — Smoke tests failed"), "{text}");
    assert!(text.contains("broken: exit 1"), "{text}");
    assert!(text.contains("daily_"), "{text}");
    let doc = run.json();
    assert_eq!(phase(&doc, 3)["status"], "passed");
    assert_eq!(phase(&doc, 5)["status"], "passed");
    assert_eq!(root.state()["pending_notifications"], json!([]));
    assert!(root.files_containing(WebhookSink::TOKEN).is_empty());
    assert!(!run.output().contains(WebhookSink::TOKEN));
}

#[test]
fn all_passing_sends_nothing_unless_notify_on_success() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    root.write_config(&with_webhook(&sink, "[[daily.smoke]]\nname = \"ok\"\ncommand = [\"true\"]\n"));
    heartbeat_ran(&root);
    let run = daily(&root);
    run.expect_code(0);
    assert_eq!(sink.posts().len(), 0);
    assert_eq!(phase(&run.json(), 5)["status"], "skipped");
    assert!(root.latest_report("daily").contains("🟢 **DAILY RUN HEALTHY**"));

    root.write_config(&with_webhook(
        &sink,
        "[daily]\nnotify_on_success = true\n\n[[daily.smoke]]\nname = \"ok\"\ncommand = [\"true\"]\n",
    ));
    daily(&root).expect_code(0);
    let posts = sink.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json["embeds"][0]["color"].as_u64(), Some(GREEN));
    assert!(posts[0].text().contains("Daily: HEALTHY — all phases passed"));
}

#[test]
fn no_notify_queues_the_message_and_the_next_run_sends_it_first() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    root.write_config(&with_webhook(&sink, "[[daily.smoke]]\nname = \"broken\"\ncommand = [\"false\"]\n"));
    let run = ops(&root).args(["daily", "--json", "--no-notify"]).run();
    run.expect_code(2);
    assert_eq!(sink.posts().len(), 0);
    let summary = phase(&run.json(), 5)["summary"].as_str().unwrap().to_string();
    assert!(summary.contains("not sent (--no-notify)"), "{summary}");
    let pending = root.state()["pending_notifications"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["kind"], "daily");

    daily(&root).expect_code(2);
    let posts = sink.posts();
    assert_eq!(posts.len(), 2);
    assert!(posts[0].json["embeds"][0]["timestamp"].as_str() < posts[1].json["embeds"][0]["timestamp"].as_str());
    assert_eq!(root.state()["pending_notifications"], json!([]));
}

#[test]
fn a_dead_webhook_keeps_the_message_pending_and_says_so() {
    let sink = WebhookSink::start();
    sink.set_default(SinkReply::ServerError);
    let root = TestRoot::new();
    root.write_config(&with_webhook(&sink, "[[daily.smoke]]\nname = \"broken\"\ncommand = [\"false\"]\n"));
    let run = daily(&root);
    run.expect_code(2);
    let doc = run.json();
    assert_eq!(phase(&doc, 5)["status"], "failed");
    assert!(phase(&doc, 5)["summary"].as_str().unwrap().contains("kept for the next run"));
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1);
}

#[test]
fn without_a_webhook_both_discord_phases_are_skipped() {
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}\n[[daily.smoke]]\nname = \"broken\"\ncommand = [\"false\"]\n"));
    let run = daily(&root);
    run.expect_code(2);
    let doc = run.json();
    for n in [3, 5] {
        assert_eq!(phase(&doc, n)["status"], "skipped");
        assert!(phase(&doc, n)["summary"].as_str().unwrap().contains("notifications off"));
    }
}

// ---------------------------------------------------------------------------
// Exit codes and the human output

#[test]
fn an_unwritable_report_folder_exits_3_after_every_phase_ran() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    // A file where the reports folder should be: no report can be written.
    root.write("g/reports/ops_atomic", "not a folder");
    let run = ops(&root).arg("daily").run();
    run.expect_code(3);
    assert!(run.stdout.contains("❌ Phase 4/5: Report failed"), "{run}");
    assert!(run.stdout.contains("▶ Phase 5/5: Notify"), "{run}");
    assert!(run.stderr.contains("could not write the report"), "{run}");
}

#[test]
fn progress_lines_show_each_phase_starting_and_ending() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    heartbeat_ran(&root);
    let run = ops(&root).arg("daily").run();
    run.expect_code(0);
    let out = &run.stdout;
    assert!(out.contains("=== OPS-Atomic Daily Starting ==="), "{run}");
    for (n, name) in [(1, "Smoke tests"), (2, "API verification"), (3, "Notify prep"), (4, "Report"), (5, "Notify")] {
        assert!(out.contains(&format!("▶ Phase {n}/5: {name}")), "{run}");
    }
    assert!(out.contains("✅ Phase 4/5: Report passed ("), "{run}");
    assert!(out.contains("=== Daily Complete: ✅ HEALTHY ==="), "{run}");
    assert_eq!(root.reports_of("daily").len(), 1);
}

// ---------------------------------------------------------------------------
// Phase 4: did the heartbeat run (SPEC §8)

#[test]
fn no_heartbeat_in_the_window_is_critical() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    // Only a line from two days ago: the monitor stopped.
    root.write(HISTORY, &(line(Utc::now() - chrono::Duration::days(2), true, &[]) + "\n"));
    let run = daily(&root);
    run.expect_code(2);
    let doc = run.json();
    assert_eq!(doc["status"], "CRITICAL");
    assert_eq!(phase(&doc, 4)["status"], "failed");
    assert!(
        phase(&doc, 4)["summary"].as_str().unwrap().contains("the heartbeat did not run in the last 24 h"),
        "{doc}"
    );
    let report = root.latest_report("daily");
    assert!(report.contains("❌ **heartbeat:** the heartbeat did not run in the last 24 h"), "{report}");
}

#[test]
fn too_few_heartbeats_are_a_warning_and_the_share_is_configurable() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    // A whole day of history, but only every fourth heartbeat ran (25%).
    let now = Utc::now().trunc_subsecs(0);
    let lines: Vec<String> = (0..72).map(|k| line(now - chrono::Duration::seconds(1200 * k + 60), true, &[])).collect();
    root.write(HISTORY, &(lines.join("\n") + "\n"));
    let run = daily(&root);
    run.expect_code(1);
    let doc = run.json();
    assert_eq!(phase(&doc, 4)["status"], "warning");
    let summary = phase(&doc, 4)["summary"].as_str().unwrap();
    assert!(summary.contains("only 72 of ") && summary.contains("min_heartbeat_percent = 50"), "{summary}");
    root.write_config(&format!("{QUIET}\n[daily]\nmin_heartbeat_percent = 20\n"));
    daily(&root).expect_code(0);
    root.write_config(&format!("{QUIET}\n[daily]\nmin_heartbeat_percent = 101\n"));
    let bad = daily(&root);
    bad.expect_code(3);
    assert!(bad.output().contains("daily.min_heartbeat_percent = 101"), "{bad}");
}

#[test]
fn the_labels_of_one_launchctl_list_are_one_slow_row() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let now = Utc::now().trunc_subsecs(0);
    let la = |label: &str| json!({"name": label, "kind": "launchagent", "status": "ok", "latency_ms": 35, "message": "loaded"});
    let lines: Vec<String> = (0..3)
        .map(|k| {
            json!({
                "ts": (now - chrono::Duration::seconds(300 * k + 60)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "status": "HEALTHY", "duration_ms": 40,
                "checks": [la("com.a.one"), la("com.a.two"), la("com.a.three")],
                "events": [],
            })
            .to_string()
        })
        .collect();
    root.write(HISTORY, &(lines.join("\n") + "\n"));
    daily(&root).expect_code(0);
    let report = root.latest_report("daily");
    let slow = report.split("### Slowest checks").nth(1).unwrap();
    assert!(slow.contains("| LaunchAgents (one `launchctl list`) | 35 ms | 35 ms | 3 |"), "{report}");
    assert!(!slow.contains("com.a.one"), "{report}");
}
