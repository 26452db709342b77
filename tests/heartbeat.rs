//! `ops-atomic heartbeat` end to end: the real binary against a real Redis,
//! a real PostgreSQL, real HTTP servers and a fake launchctl.

mod common;

use std::time::Duration;

use common::*;

/// A config with Redis, PostgreSQL and one API endpoint, all healthy.
fn healthy_config(redis: &Redis, pg: &Postgres, api: &HttpStub) -> String {
    format!(
        r#"
[redis]
url = "{}"
[database]
url = "{}"
[[api]]
name = "API Health"
url = "{}"
expect_body_contains = "ok"
[launchagents]
labels = ["com.02luka.optimizer"]
"#,
        redis.url(),
        pg.url(),
        api.url("/api/health")
    )
}

#[test]
fn all_healthy_exits_0_with_a_healthy_report() {
    let root = TestRoot::new();
    let redis = Redis::start();
    let pg = Postgres::shared();
    let api = HttpStub::start();
    api.route("/api/health", Route::ok(r#"{"status":"ok"}"#));
    root.launchctl().seed("com.02luka.optimizer", None, 0);
    root.write_config(&healthy_config(&redis, pg, &api));

    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert!(run.stdout.contains("=== Monitor Complete: ✅ HEALTHY ==="), "{run}");
    assert!(run.stdout.contains("✅ Redis: PONG"), "{run}");
    assert!(run.stdout.contains("=== OPS-Atomic Monitor Starting ==="), "{run}");
    // Log line format: [2025-10-27T17:52:09.831Z] [INFO] message
    let first = run.stdout.lines().next().unwrap();
    assert!(first.starts_with('[') && first.contains("Z] [INFO] "), "{first}");
    assert_eq!(&first[11..12], "T", "{first}");

    let report = root.latest_report("heartbeat");
    assert!(report.contains("**Status:** ✅ HEALTHY"), "{report}");
    assert!(report.contains("**Consecutive failures:** 0/3"), "{report}");
    for section in ["### Redis", "### Database", "### API Endpoints", "### LaunchAgents"] {
        assert!(report.contains(section), "{section} missing:\n{report}");
    }
    assert!(report.contains("- **API Health:** ✅ HTTP 200"), "{report}");
    assert!(report.contains("- **com.02luka.optimizer:** ✅ loaded"), "{report}");
    assert!(report.contains("ALL SYSTEMS HEALTHY"), "{report}");

    let state = root.state();
    assert_eq!(state["runs"], 1);
    assert_eq!(state["consecutive_failures"], 0);
    assert_eq!(state["last_status"], "HEALTHY");
    let history = root.history();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "HEALTHY");
    // Redis, Database, the API, the LaunchAgent, and [self] (on by default).
    assert_eq!(history[0]["checks"].as_array().unwrap().len(), 5);
    assert_eq!(history[0]["checks"][4]["id"], "self");
    assert_eq!(history[0]["checks"][0]["kind"], "redis");
    assert_eq!(history[0]["checks"][0]["status"], "ok");
}

#[test]
fn redis_down_is_critical() {
    let root = TestRoot::new();
    let mut redis = Redis::start();
    let pg = Postgres::shared();
    let api = HttpStub::start();
    api.route("/api/health", Route::ok("ok"));
    root.launchctl().seed("com.02luka.optimizer", None, 0);
    root.write_config(&healthy_config(&redis, pg, &api));
    redis.stop();

    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(2);
    assert!(run.stdout.contains("[ERROR] ❌ Redis: Redis not responding"), "{run}");
    assert!(run.stdout.contains("=== Monitor Complete: ❌ CRITICAL ==="), "{run}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("**Status:** ❌ CRITICAL"), "{report}");
    assert!(report.contains("- **Redis:** ❌ Redis not responding"), "{report}");
    assert!(report.contains("**Consecutive failures:** 1/3"), "{report}");
    assert!(report.contains("CRITICAL ISSUES DETECTED"), "{report}");
    assert_eq!(root.state()["consecutive_failures"], 1);
}

#[test]
fn api_returning_500_is_a_warning() {
    let root = TestRoot::new();
    let redis = Redis::start();
    let pg = Postgres::shared();
    let api = HttpStub::start();
    api.route("/api/health", Route::status(500, "database pool exhausted"));
    root.launchctl().seed("com.02luka.optimizer", None, 0);
    root.write_config(&healthy_config(&redis, pg, &api));

    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(1);
    assert!(run.stdout.contains("[WARN] ❌ API Health: HTTP 500 (expected 2xx): database pool exhausted"), "{run}");
    assert!(run.stdout.contains("=== Monitor Complete: ⚠️ WARNINGS ==="), "{run}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("**Status:** ⚠️ WARNINGS"), "{report}");
    // WARNINGS does not count as a failure towards an alert.
    assert_eq!(root.state()["consecutive_failures"], 0);
}

#[test]
fn api_expectations_name_the_one_that_failed() {
    let root = TestRoot::new();
    let api = HttpStub::start();
    api.route("/body", Route::ok("maintenance"));
    api.route("/teapot", Route::status(418, "short and stout"));
    api.route("/slow", Route::ok("ok").delay(Duration::from_millis(300)));
    api.route("/auth", Route::ok("ok"));
    root.write_config(&format!(
        r#"
[redis]
enabled = false
[database]
enabled = false
[[api]]
name = "body"
url = "{}"
expect_body_contains = "ok"
[[api]]
name = "teapot"
url = "{}"
expect_status = 418
[[api]]
name = "slow"
url = "{}"
max_latency_ms = 100
[[api]]
name = "auth"
url = "{}"
headers = {{ Authorization = "Bearer ${{API_TOKEN}}", X-Static = "plain" }}
"#,
        api.url("/body"),
        api.url("/teapot"),
        api.url("/slow"),
        api.url("/auth")
    ));
    let run = ops(&root).arg("heartbeat").env("API_TOKEN", "tok-abc-123").run();
    run.expect_code(1);
    assert!(run.stdout.contains("body: HTTP 200, but the body does not contain \"ok\""), "{run}");
    assert!(run.stdout.contains("✅ teapot: HTTP 418"), "{run}");
    assert!(run.stdout.contains("⚠️ slow: HTTP 200, slow:"), "{run}");
    assert!(run.stdout.contains("✅ auth: HTTP 200"), "{run}");
    let auth = api.requests().into_iter().find(|r| r.path == "/auth").expect("auth request");
    assert_eq!(auth.header("authorization"), Some("Bearer tok-abc-123"));
    assert_eq!(auth.header("x-static"), Some("plain"));
    assert!(!run.output().contains("tok-abc-123"), "{run}");
    assert!(root.files_containing("tok-abc-123").is_empty());

    // An unset variable fails the check and names the variable.
    let run = ops(&root).arg("heartbeat").run();
    assert!(run.stdout.contains("auth: header Authorization: uses ${API_TOKEN}, which is not set"), "{run}");
}

#[test]
fn hung_services_are_bounded_by_their_timeouts() {
    let root = TestRoot::new();
    let hung = HungTcp::start();
    let api = HttpStub::start();
    api.route("/hang", Route::hang());
    root.write_config(&format!(
        r#"
[redis]
url = "redis://127.0.0.1:{port}"
timeout_ms = 300
[database]
url = "postgresql://postgres@127.0.0.1:{port}/postgres"
timeout_ms = 400
[[api]]
name = "hung api"
url = "{}"
timeout_ms = 500
severity = "critical"
"#,
        api.url("/hang"),
        port = hung.port()
    ));
    // A run that waited on the services would take forever; the harness
    // fails the test if it takes more than 20 s.
    let run = ops(&root).arg("heartbeat").timeout(Duration::from_secs(20)).run();
    run.expect_code(2);
    assert!(run.stdout.contains("❌ Redis: "), "{run}");
    assert!(run.stdout.contains("❌ Database: "), "{run}");
    assert!(run.stdout.contains("❌ hung api: "), "{run}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("- **Redis:** ❌"), "{report}");
    let history = root.history();
    for check in history[0]["checks"].as_array().unwrap().iter().filter(|c| c["id"] != "self") {
        assert_eq!(check["status"], "fail", "{check}");
    }
}

#[test]
fn the_deadline_bounds_the_whole_run() {
    let root = TestRoot::new();
    let hung = HungTcp::start();
    root.write_config(&format!(
        r#"
[monitor]
deadline_ms = 300
[redis]
url = "redis://127.0.0.1:{port}"
timeout_ms = 60000
[database]
enabled = false
"#,
        port = hung.port()
    ));
    let run = ops(&root).arg("heartbeat").timeout(Duration::from_secs(20)).run();
    run.expect_code(2);
    assert!(run.stdout.contains("❌ Redis: timed out after 300 ms (the heartbeat's deadline_ms)"), "{run}");
}

#[test]
fn redis_password_in_the_url_works_and_never_shows() {
    let root = TestRoot::new();
    let redis = Redis::start_with_password("r3dis-Secret-pw");
    root.write_config("[database]\nenabled = false\n");
    let run = ops(&root).arg("heartbeat").env("REDIS_URL", redis.url()).run();
    run.expect_code(0);
    assert!(run.stdout.contains("✅ Redis: PONG"), "{run}");

    let wrong = redis.url().replace("r3dis-Secret-pw", "wrong-Password-1");
    let run = ops(&root).arg("heartbeat").env("REDIS_URL", &wrong).run();
    run.expect_code(2);
    assert!(!run.output().contains("wrong-Password-1"), "{run}");
    let shown = ops(&root).args(["config", "show"]).env("REDIS_URL", redis.url()).run();
    shown.expect_code(0);
    assert!(shown.stdout.contains("url = \"redis://:***@127.0.0.1:"), "{shown}");
    for out in [run.output(), shown.output()] {
        assert!(!out.contains("r3dis-Secret-pw"), "{out}");
    }
    assert!(root.files_containing("r3dis-Secret-pw").is_empty());
    assert!(root.files_containing("wrong-Password-1").is_empty());
}

#[test]
fn a_refused_database_password_is_a_clear_failure() {
    let root = TestRoot::new();
    let pg = Postgres::shared();
    root.write_config("[redis]\nenabled = false\n");
    let url = pg.url_with_password("not-the-Password-9");
    let run = ops(&root).arg("heartbeat").env("DATABASE_URL", &url).run();
    run.expect_code(2);
    assert!(run.stdout.contains("❌ Database: Database not responding:"), "{run}");
    assert!(run.stdout.contains("password authentication failed"), "{run}");
    assert!(!run.output().contains("not-the-Password-9"), "{run}");
    assert!(root.files_containing("not-the-Password-9").is_empty());

    let run = ops(&root).arg("heartbeat").env("DATABASE_URL", pg.password_url()).run();
    run.expect_code(0);
    assert!(run.stdout.contains("✅ Database: query answered (1 row)"), "{run}");
}

#[test]
fn launchagents_are_read_from_one_launchctl_list() {
    let root = TestRoot::new();
    root.launchctl().seed_fixture_list();
    root.write_config(
        r#"
[redis]
enabled = false
[database]
enabled = false
[launchagents]
labels = ["com.02luka.optimizer", "com.02luka.digest", "com.02luka.killed", "com.02luka.ops_atomic_monitor", "com.02luka.absent"]
"#,
    );
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(2);
    let out = &run.stdout;
    assert!(out.contains("✅ com.02luka.optimizer: loaded"), "{run}");
    assert!(out.contains("⚠️ com.02luka.digest: loaded, last run exited 78 (EX_CONFIG)"), "{run}");
    assert!(out.contains("⚠️ com.02luka.killed: loaded, last run killed by signal 15 (SIGTERM)"), "{run}");
    assert!(out.contains("✅ com.02luka.ops_atomic_monitor: loaded, running (PID 4521)"), "{run}");
    assert!(out.contains("[ERROR] ❌ com.02luka.absent: not loaded"), "{run}");
    assert_eq!(root.launchctl().calls_of("list").len(), 1, "{:?}", root.launchctl().calls());

    // Severity "warning": a missing label only warns.
    root.write_config(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[launchagents]\nlabels = [\"com.02luka.absent\"]\nseverity = \"warning\"\n",
    );
    ops(&root).arg("heartbeat").run().expect_code(1);
}

#[test]
fn no_launchctl_skips_the_section_without_changing_the_status() {
    let root = TestRoot::new();
    root.write_config(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[launchagents]\nlabels = [\"com.02luka.optimizer\"]\n",
    );
    let run = ops(&root).arg("heartbeat").no_launchctl().run();
    run.expect_code(0);
    assert!(run.stdout.contains("com.02luka.optimizer: launchctl not found"), "{run}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("⏭️ launchctl not found on this system"), "{report}");
    assert!(report.contains("**Status:** ✅ HEALTHY"), "{report}");
}

#[test]
fn json_output_is_one_document_and_logs_go_to_stderr() {
    let root = TestRoot::new();
    let api = HttpStub::start();
    api.route("/h", Route::ok("ok"));
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[[api]]\nname = \"h\"\nurl = \"{}\"\n",
        api.url("/h")
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).run();
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "HEALTHY");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["checks"][0]["name"], "h");
    assert_eq!(doc["checks"][0]["status"], "ok");
    assert_eq!(doc["consecutive_failures"], 0);
    assert_eq!(doc["alert_threshold"], 3);
    assert!(doc["report"].as_str().unwrap().contains("heartbeat_"), "{doc}");
    assert!(run.stderr.contains("=== Monitor Complete: ✅ HEALTHY ==="), "{run}");
}

#[test]
fn reports_written_in_the_same_second_get_distinct_names() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    for _ in 0..4 {
        ops(&root).arg("heartbeat").run().expect_code(0);
    }
    let reports = root.reports_of("heartbeat");
    assert_eq!(reports.len(), 4, "{reports:?}");
    for r in &reports {
        let body = root.read(&format!("{REPORTS_DIR}/{r}"));
        assert!(body.contains("**Status:**"), "{r} is empty or partial");
    }
}

#[test]
fn no_config_at_all_uses_the_defaults_and_tells_the_truth() {
    // Nothing listens on the default ports inside this test: point the
    // defaults' hosts at a closed port through the environment the tool
    // documents, and check it reports them as down.
    let root = TestRoot::new();
    let closed = free_port();
    let run = ops(&root)
        .arg("heartbeat")
        .env("REDIS_URL", format!("redis://127.0.0.1:{closed}"))
        .env("DATABASE_URL", format!("postgresql://postgres@127.0.0.1:{closed}/postgres"))
        .run();
    run.expect_code(2);
    let report = root.latest_report("heartbeat");
    assert!(report.contains("- **Redis:** ❌ Redis not responding: connection refused"), "{report}");
    assert!(report.contains("- **Database:** ❌ Database not responding"), "{report}");
    assert!(report.contains("**Notifications:** off (no webhook configured"), "{report}");
    let check = ops(&root).args(["config", "check"]).run();
    check.expect_code(0);
    assert!(check.stdout.contains("no config file at"), "{check}");
}

#[test]
fn an_unwritable_report_folder_exits_3_but_the_state_stands() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    // Tests run as root in CI, where permissions do not stop writes: a file
    // where the report folder should be stops them for everybody.
    std::fs::create_dir_all(root.path("g/reports")).unwrap();
    std::fs::write(root.path(REPORTS_DIR), "not a folder").unwrap();
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(run.output().contains("could not write the report"), "{run}");
    assert!(run.output().contains("g/reports/ops_atomic"), "{run}");
    assert!(run.stdout.contains("=== Monitor Complete: ✅ HEALTHY ==="), "{run}");
    assert_eq!(root.state()["runs"], 1);
    assert_eq!(root.history().len(), 1);
}

#[test]
fn an_unusable_state_folder_exits_3_naming_it() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    std::fs::create_dir_all(root.path("g")).unwrap();
    std::fs::write(root.path("g/state"), "not a folder").unwrap();
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(run.stderr.contains("g/state"), "{run}");
}

#[test]
fn a_missing_root_exits_3() {
    let root = TestRoot::new();
    let run = ops(&root).without_root_flag().args(["--root", "/nonexistent/ops-root", "heartbeat"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("/nonexistent/ops-root"), "{run}");
}

// --- configuration errors: exit 3, naming the key -------------------------

fn config_error(toml: &str) -> Run {
    let root = TestRoot::new();
    root.write_config(toml);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(root.reports().is_empty(), "a report was written for a bad config");
    let check = ops(&root).args(["config", "check"]).run();
    check.expect_code(3);
    run
}

#[test]
fn an_unknown_key_names_key_file_line_and_column() {
    let run = config_error("[monitor]\nalert_threshold = 3\n  alert_treshold = 4\n");
    assert!(run.stderr.contains("alert_treshold"), "{run}");
    assert!(run.stderr.contains("ops_atomic.toml:3:3"), "{run}");
    let run = config_error("[redis]\nenabled = true\n[postgres]\nurl = \"x\"\n");
    assert!(run.stderr.contains("postgres"), "{run}");
    assert!(run.stderr.contains("ops_atomic.toml:3:"), "{run}");
}

#[test]
fn a_wrong_type_or_severity_names_the_place() {
    let run = config_error("[monitor]\nalert_threshold = \"three\"\n");
    assert!(run.stderr.contains("ops_atomic.toml:2:"), "{run}");
    let run = config_error("[redis]\nseverity = \"urgent\"\n");
    assert!(run.stderr.contains("urgent"), "{run}");
    let run = config_error("[monitor\nalert_threshold = 1\n");
    assert!(run.stderr.contains("ops_atomic.toml:1:"), "{run}");
}

#[test]
fn every_validation_rule_names_its_key() {
    let cases = [
        ("[monitor]\nalert_threshold = 0\n", "monitor.alert_threshold"),
        ("[monitor]\nrecovery_threshold = 0\n", "monitor.recovery_threshold"),
        ("[monitor]\nrealert_minutes = 3\n", "monitor.realert_minutes"),
        ("[monitor]\ndeadline_ms = 0\n", "monitor.deadline_ms"),
        ("[redis]\ntimeout_ms = 60001\n", "redis.timeout_ms"),
        ("[database]\ntimeout_ms = 0\n", "database.timeout_ms"),
        ("[redis]\nurl = \"http://127.0.0.1:6379\"\n", "redis.url"),
        ("[database]\nurl = \"not a url\"\n", "database.url"),
        ("[[api]]\nname = \"a\"\nurl = \"127.0.0.1:4000/health\"\n", "api[0].url"),
        ("[[api]]\nurl = \"http://127.0.0.1:4000/\"\n", "api[0].name"),
        ("[[api]]\nname = \"a\"\nurl = \"http://h/\"\ntimeout_ms = 0\n", "api[0].timeout_ms"),
        ("[launchagents]\nlabels = [\"com.x ok\"]\n", "launchagents.labels[0]"),
        ("[launchagents]\nlabels = [\"\"]\n", "launchagents.labels[0]"),
        ("[discord]\nwebhook_url = \"discord webhook\"\n", "discord.webhook_url"),
        ("[discord]\ntimeout_ms = 0\n", "discord.timeout_ms"),
        ("[daily]\nhour = 24\n", "daily.hour"),
        ("[daily]\nminute = 60\n", "daily.minute"),
        ("[[daily.smoke]]\nname = \"x\"\ncommand = []\n", "daily.smoke[0].command"),
        ("[launchd]\ninterval_s = 0\n", "launchd.interval_s"),
    ];
    for (toml, key) in cases {
        let run = config_error(toml);
        assert!(run.stderr.contains(key), "{key} not named for {toml:?}:\n{run}");
    }
}

#[test]
fn a_bad_environment_override_is_named() {
    let root = TestRoot::new();
    let run = ops(&root).arg("heartbeat").env("OPS_ALERT_THRESHOLD", "three").run();
    run.expect_code(3);
    assert!(run.stderr.contains("OPS_ALERT_THRESHOLD"), "{run}");
    let run = ops(&root).arg("heartbeat").env("OPS_ALERT_THRESHOLD", "0").run();
    run.expect_code(3);
    assert!(run.stderr.contains("monitor.alert_threshold"), "{run}");
}

#[test]
fn a_named_config_file_must_exist() {
    let root = TestRoot::new();
    let run = ops(&root).args(["--config", "/nonexistent/ops.toml", "heartbeat"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("/nonexistent/ops.toml"), "{run}");
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_CONFIG", "/nonexistent/env.toml").run();
    run.expect_code(3);
    assert!(run.stderr.contains("/nonexistent/env.toml"), "{run}");
}

#[test]
fn usage_errors_exit_3_and_help_exits_0() {
    let root = TestRoot::new();
    ops(&root).arg("frobnicate").run().expect_code(3);
    ops(&root).args(["heartbeat", "--bogus"]).run().expect_code(3);
    ops(&root).args(["plist", "nope"]).run().expect_code(3);
    let help = ops(&root).arg("--help").run();
    help.expect_code(0);
    for cmd in ["heartbeat", "daily", "enable", "disable", "status", "plist", "config"] {
        assert!(help.stdout.contains(cmd), "{cmd} missing from --help:\n{help}");
    }
    ops(&root).arg("--version").run().expect_code(0);
}

#[test]
fn a_config_error_never_shows_a_password() {
    for url in ["postgresql://app:Pg-Secret-77@/db", "postgresql://app:Pg-Secret-77@127.0.0.1:notaport/db"] {
        let run = config_error(&format!("[database]\nurl = \"{url}\"\n"));
        assert!(run.stderr.contains("database.url"), "{run}");
        assert!(run.stderr.contains("app:***@"), "{run}");
        assert!(!run.output().contains("Pg-Secret-77"), "{run}");
    }
    let run = config_error("[redis]\nurl = \"redis://:Rd-Secret-77@127.0.0.1:6379\"\ntimeout_ms = 0\n");
    assert!(!run.output().contains("Rd-Secret-77"), "{run}");
}

#[test]
fn templates_in_the_root_override_the_built_in_ones() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    root.write("templates/heartbeat.md.tera", "CUSTOM {{ status }} {{ failures }}/{{ threshold }}\n");
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert_eq!(root.latest_report("heartbeat"), "CUSTOM HEALTHY 0/3\n");

    // A broken override is an ERROR, and the built-in template still writes the report.
    root.write("templates/heartbeat.md.tera", "{% for %}");
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert!(run.stdout.contains("[ERROR] template "), "{run}");
    assert!(run.stdout.contains("templates/heartbeat.md.tera is broken"), "{run}");
    assert!(root.latest_report("heartbeat").contains("**Status:** ✅ HEALTHY"));
}

#[test]
fn a_header_token_a_service_echoes_alone_is_scrubbed_too() {
    let root = TestRoot::new();
    let api = HttpStub::start();
    // A service that quotes the credentials it was sent (an error page, a debug echo).
    api.route("/echo", Route::json(200, &serde_json::json!({"status": "tok-echo-4242"})));
    root.write_config(&format!(
        r#"
[redis]
enabled = false
[database]
enabled = false
[[api]]
name = "echo"
url = "{}"
headers = {{ Authorization = "Bearer ${{ECHO_TOKEN}}" }}
conditions = ["[BODY].status == UP"]
"#,
        api.url("/echo")
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).env("ECHO_TOKEN", "tok-echo-4242").run();
    let echo = run.json()["checks"].as_array().unwrap().iter().find(|c| c["name"] == "echo").cloned().unwrap();
    assert_eq!(echo["status"], "fail", "{run}");
    assert!(echo["message"].as_str().unwrap().contains("[BODY].status (***) == UP"), "{echo}");
    assert!(!run.output().contains("tok-echo-4242"), "{run}");
    assert!(root.files_containing("tok-echo-4242").is_empty(), "{:?}", root.files_containing("tok-echo-4242"));
}
