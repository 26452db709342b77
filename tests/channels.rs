//! Every channel and ping against real loopback sinks: Discord (a webhook
//! sink), Slack, ntfy and a generic webhook (HTTP stubs that record method,
//! path, query, headers and body and answer 200, 500 or hang), a real
//! command script, a real outbox folder, and a fake `osascript` on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

const SLACK: &str = "/services/T0001/B0001/slackSECRETxyz";
const NTFY: &str = "/ops-topic-ntfySECRET";
const HOOK: &str = "/hooks/ops";
const NTFY_TOKEN: &str = "tk_envSECRET123";
const HOOK_TOKEN: &str = "hookSECRET456";

/// A root whose only check is the critical endpoint `/svc` of `api`
/// (alerting on the first failure), with `channels` appended to the config.
fn setup(api: &HttpStub, channels: &str) -> TestRoot {
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"
[monitor]
alert_threshold = 1
[redis]
enabled = false
[database]
enabled = false
[[api]]
name = "Service"
url = "{}"
severity = "critical"
timeout_ms = 2000
{channels}
"#,
        api.url("/svc")
    ));
    root
}

fn down(api: &HttpStub) {
    api.route("/svc", Route::status(503, "service unavailable"));
}

fn up(api: &HttpStub) {
    api.route("/svc", Route::ok("ok"));
}

/// A `command` channel script that appends its stdin as one line to `file`.
fn command_script(root: &TestRoot) {
    let path = root.write("notify.sh", "#!/bin/sh\ncat >> \"$1\"\necho >> \"$1\"\n");
    set_mode(&path, 0o755);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder holding a fake `osascript` that appends its arguments to `log`.
fn fake_osascript(tmp: &TempDir) -> (PathBuf, PathBuf) {
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = tmp.path().join("osascript.log");
    let script = bin.join("osascript");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}'\n", log.display()),
    )
    .unwrap();
    set_mode(&script, 0o755);
    (bin, log)
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::var_os("PATH").iter().flat_map(std::env::split_paths));
    std::env::join_paths(dirs).unwrap()
}

/// Every configured channel, of all seven types.
fn all_channels(sink: &WebhookSink, stub: &HttpStub, extra: &str) -> String {
    format!(
        r#"
[discord]
webhook_url = "{discord}"
timeout_ms = 2000

[[notify]]
name = "slack"
type = "slack"
url = "{slack}"
timeout_ms = 2000

[[notify]]
name = "phone"
type = "ntfy"
url = "{ntfy}"
headers = {{ Authorization = "Bearer ${{NTFY_TOKEN}}" }}
timeout_ms = 2000

[[notify]]
name = "hook"
type = "webhook"
url = "{hook}"
headers = {{ X-Token = "${{HOOK_TOKEN}}" }}
timeout_ms = 2000

[[notify]]
name = "script"
type = "command"
command = ["./notify.sh", "g/command.jsonl"]

[[notify]]
name = "box"
type = "outbox"
dir = "g/outbox"

[[notify]]
name = "mac"
type = "macos"
{extra}
"#,
        discord = sink.url(),
        slack = stub.url(SLACK),
        ntfy = stub.url(NTFY),
        hook = stub.url(HOOK),
    )
}

fn outbox_files(root: &TestRoot, rel: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.path(rel))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

fn pending(root: &TestRoot, channel: &str) -> Vec<String> {
    root.state()["pending_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["channel"] == channel)
        .map(|n| n["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_incident_reaches_every_channel_once_and_events_route_messages() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let stub = HttpStub::start();
    for path in [SLACK, NTFY, HOOK] {
        stub.route(path, Route::ok("ok"));
    }
    let recoveries =
        "[[notify]]\nname = \"recoveries\"\ntype = \"outbox\"\ndir = \"g/recoveries\"\nevents = [\"recovery\"]\n";
    let root = setup(&api, &all_channels(&sink, &stub, recoveries));
    command_script(&root);
    let tmp = TempDir::new("osascript");
    let (bin, osa_log) = fake_osascript(&tmp);
    let heartbeat = || {
        ops(&root)
            .arg("heartbeat")
            .env("PATH", path_with(&bin))
            .env("NTFY_TOKEN", NTFY_TOKEN)
            .env("HOOK_TOKEN", HOOK_TOKEN)
            .run()
    };

    down(&api);
    let run = heartbeat();
    run.expect_code(2);
    heartbeat().expect_code(2); // still down: nothing new to say

    assert_eq!(sink.posts().len(), 1, "{run}");
    let slack = stub.requests_to(SLACK);
    assert_eq!(slack.len(), 1, "{run}");
    assert_eq!(slack[0].method, "POST");
    let body = slack[0].json();
    assert!(body["text"].as_str().unwrap().contains("Service down on"), "{body}");
    assert!(body["blocks"][1]["text"]["text"].as_str().unwrap().contains("Service"), "{body}");

    let ntfy = stub.requests_to(NTFY);
    assert_eq!(ntfy.len(), 1);
    assert_eq!(ntfy[0].header("Priority"), Some("5"));
    assert_eq!(ntfy[0].header("Tags"), Some("rotating_light,alert"));
    assert!(ntfy[0].header("Title").unwrap().starts_with("=?UTF-8?B?"), "{:?}", ntfy[0].headers);
    assert_eq!(ntfy[0].header("Authorization"), Some(format!("Bearer {NTFY_TOKEN}").as_str()));
    assert!(ntfy[0].body_text().contains("Service"));

    let hook = stub.requests_to(HOOK);
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0].header("X-Token"), Some(HOOK_TOKEN));
    let doc = hook[0].json();
    assert_eq!(doc["schema"], "ops-atomic/notification/1");
    assert_eq!(doc["kind"], "alert");
    assert_eq!(doc["status"], "CRITICAL");
    assert!(doc["report"].as_str().unwrap().starts_with('/'), "{doc}");

    let command = lines(&root.path("g/command.jsonl"));
    assert_eq!(command.len(), 1, "{command:?}");
    let from_command: Value = serde_json::from_str(&command[0]).unwrap();
    assert_eq!(from_command, doc, "webhook and command get the same document");

    let outbox = outbox_files(&root, "g/outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert!(outbox[0].contains("_alert_") && outbox[0].ends_with(".json"), "{outbox:?}");
    let from_outbox: Value = serde_json::from_str(&root.read(&format!("g/outbox/{}", outbox[0]))).unwrap();
    assert_eq!(from_outbox, doc);
    assert!(outbox_files(&root, "g/recoveries").is_empty(), "an alert went to a recovery-only channel");

    let osa = std::fs::read_to_string(&osa_log).unwrap();
    assert_eq!(osa.matches("display notification").count(), 1, "{osa}");
    assert!(osa.starts_with("-e\ndisplay notification \""), "{osa}");
    assert!(root.state()["pending_notifications"].as_array().unwrap().is_empty());

    up(&api);
    heartbeat().expect_code(0);
    assert_eq!(stub.requests_to(HOOK)[1].json()["kind"], "recovery");
    assert_eq!(stub.requests_to(NTFY)[1].header("Priority"), Some("3"));
    assert_eq!(outbox_files(&root, "g/outbox").len(), 2);
    assert_eq!(outbox_files(&root, "g/recoveries").len(), 1);
    assert_eq!(sink.posts().len(), 2);

    // No secret in any file, output or `config show`.
    let show = ops(&root).args(["config", "show"]).env("NTFY_TOKEN", NTFY_TOKEN).env("HOOK_TOKEN", HOOK_TOKEN).run();
    show.expect_code(0);
    for secret in [SLACK, NTFY, NTFY_TOKEN, HOOK_TOKEN, "slackSECRETxyz", WebhookSink::TOKEN] {
        assert!(root.files_containing(secret).is_empty(), "{secret} in {:?}", root.files_containing(secret));
        assert!(!run.output().contains(secret), "{secret} in {run}");
        assert!(!show.output().contains(secret), "{secret} in {show}");
    }
}

#[test]
fn slack_down_for_three_runs_catches_up_in_order_while_the_others_deliver() {
    let api = HttpStub::start();
    let stub = HttpStub::start();
    stub.route(SLACK, Route::status(500, "internal_error"));
    stub.route(HOOK, Route::ok("ok"));
    let root = setup(
        &api,
        &format!(
            "[[notify]]\nname = \"slack\"\ntype = \"slack\"\nurl = \"{}\"\n[[notify]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
            stub.url(SLACK),
            stub.url(HOOK)
        ),
    );
    let heartbeat = || ops(&root).arg("heartbeat").run();

    down(&api);
    let run = heartbeat(); // alert
    run.expect_code(2);
    assert!(run.stdout.contains("[WARN] Slack delivery failed: Slack answered HTTP 500"), "{run}");
    up(&api);
    heartbeat().expect_code(0); // recovery
    down(&api);
    heartbeat().expect_code(2); // alert again
    assert_eq!(pending(&root, "slack"), ["alert", "recovery", "alert"]);
    assert!(pending(&root, "hook").is_empty());
    let hook_kinds: Vec<String> =
        stub.requests_to(HOOK).iter().map(|r| r.json()["kind"].as_str().unwrap().to_string()).collect();
    assert_eq!(hook_kinds, ["alert", "recovery", "alert"]);
    assert!(stub.requests_to(SLACK).len() >= 3);

    stub.route(SLACK, Route::ok("ok"));
    let before = stub.requests_to(SLACK).len();
    heartbeat().expect_code(2); // still down: nothing new; the queue drains
    let caught_up: Vec<String> =
        stub.requests_to(SLACK)[before..].iter().map(|r| r.json()["text"].as_str().unwrap().to_string()).collect();
    assert_eq!(caught_up.len(), 3, "{caught_up:?}");
    assert!(
        caught_up[0].contains("Service down on")
            && caught_up[1].contains("Service back up on")
            && caught_up[2].contains("Service down on"),
        "{caught_up:?}"
    );
    assert!(pending(&root, "slack").is_empty());
    assert_eq!(stub.requests_to(HOOK).len(), 3, "the webhook got something twice");
}

#[test]
fn a_hung_channel_does_not_hold_back_the_others_or_the_run() {
    let api = HttpStub::start();
    let stub = HttpStub::start();
    stub.route(HOOK, Route::hang());
    stub.route(SLACK, Route::ok("ok"));
    let root = setup(
        &api,
        &format!(
            r#"
[[notify]]
name = "hung"
type = "webhook"
url = "{}"
timeout_ms = 3000
[[notify]]
name = "stuck"
type = "command"
command = ["sleep", "60"]
timeout_ms = 3000
[[notify]]
name = "slack"
type = "slack"
url = "{}"
[[notify]]
name = "box"
type = "outbox"
dir = "g/outbox"
"#,
            stub.url(HOOK),
            stub.url(SLACK)
        ),
    );
    down(&api);
    let run = ops(&root).arg("heartbeat").timeout(Duration::from_secs(40)).run();
    run.expect_code(2);
    assert!(run.elapsed < Duration::from_secs(40), "{run}");
    assert_eq!(stub.requests_to(SLACK).len(), 1, "{run}");
    assert_eq!(outbox_files(&root, "g/outbox").len(), 1, "{run}");
    assert_eq!(pending(&root, "hung"), ["alert"]);
    assert_eq!(pending(&root, "stuck"), ["alert"]);
    assert!(run.stdout.contains("no answer from webhook hung"), "{run}");
    assert!(run.stdout.contains("did not finish within 3000 ms"), "{run}");
}

#[test]
fn without_osascript_macos_messages_wait_with_one_warning() {
    let api = HttpStub::start();
    let root = setup(&api, "[[notify]]\nname = \"mac\"\ntype = \"macos\"\n");
    down(&api);
    let empty = TempDir::new("nobin");
    // A PATH where no osascript lives (as on Linux).
    let run = ops(&root).arg("heartbeat").env("PATH", empty.path()).run();
    run.expect_code(2);
    assert_eq!(run.stdout.matches("osascript is not on PATH").count(), 1, "{run}");
    assert!(run.stdout.contains("[WARN] macOS \"mac\" delivery failed"), "{run}");
    assert!(!run.stdout.contains("[ERROR] macOS"), "{run}");
    assert_eq!(pending(&root, "mac"), ["alert"]);
    let tmp = TempDir::new("osascript");
    let (bin, log) = fake_osascript(&tmp);
    ops(&root).arg("heartbeat").env("PATH", path_with(&bin)).run().expect_code(2);
    assert!(pending(&root, "mac").is_empty());
    assert!(std::fs::read_to_string(log).unwrap().contains("display notification"));
}

#[test]
fn notify_test_sends_now_and_names_the_failing_channel() {
    let api = HttpStub::start();
    let sink = WebhookSink::start();
    let stub = HttpStub::start();
    stub.route(SLACK, Route::status(500, "internal_error"));
    stub.route(NTFY, Route::ok("ok"));
    let root = setup(
        &api,
        &format!(
            "[discord]\nwebhook_url = \"{}\"\n[[notify]]\nname = \"slack\"\ntype = \"slack\"\nurl = \"{}\"\n[[notify]]\nname = \"phone\"\ntype = \"ntfy\"\nurl = \"{}\"\n",
            sink.url(),
            stub.url(SLACK),
            stub.url(NTFY)
        ),
    );
    let run = ops(&root).args(["notify", "test"]).run();
    run.expect_code(3);
    assert!(run.stdout.contains("✅ discord: delivered"), "{run}");
    assert!(run.stdout.contains("✅ phone: delivered"), "{run}");
    assert!(run.stdout.contains("❌ slack: Slack answered HTTP 500"), "{run}");
    assert_eq!(sink.posts().len(), 1);
    assert!(sink.posts()[0].text().contains("Test from ops-atomic"));
    let ntfy = stub.requests_to(NTFY);
    assert_eq!(ntfy[0].header("Priority"), Some("2"));
    assert!(root.state_opt().is_none_or(|s| s["pending_notifications"].as_array().unwrap().is_empty()));
    assert!(!run.output().contains("slackSECRETxyz"), "{run}");

    let one = ops(&root).args(["notify", "test", "phone", "--json"]).run();
    one.expect_code(0);
    let doc = one.json();
    assert_eq!(doc["delivered"], 1);
    assert_eq!(doc["channels"][0]["name"], "phone");
    let unknown = ops(&root).args(["notify", "test", "pager"]).run();
    unknown.expect_code(3);
    assert!(
        unknown.stderr.contains("no channel named \"pager\": the configured channels are discord, slack, phone"),
        "{unknown}"
    );

    let bare = setup(&api, "");
    let none = ops(&bare).args(["notify", "test"]).run();
    none.expect_code(3);
    assert!(none.stderr.contains("no channel is configured") && none.stderr.contains("[[notify]]"), "{none}");
}

#[test]
fn pings_say_success_or_fail_and_a_hung_one_is_cut_at_its_timeout() {
    let api = HttpStub::start();
    let stub = HttpStub::start();
    for path in ["/hc/uuidSECRET", "/hc/uuidSECRET/fail", "/api/push/kumaSECRET", "/plain", "/daily", "/daily/fail"] {
        stub.route(path, Route::ok("OK"));
    }
    let root = setup(
        &api,
        &format!(
            r#"
[[ping]]
name = "hc"
url = "{hc}"
[[ping]]
name = "kuma"
url = "{kuma}?status=up&msg=OK&ping="
style = "uptime-kuma"
[[ping]]
name = "plain"
url = "{plain}"
style = "plain"
[[ping]]
name = "nightly"
url = "{daily}"
on = "daily"
"#,
            hc = stub.url("/hc/uuidSECRET"),
            kuma = stub.url("/api/push/kumaSECRET"),
            plain = stub.url("/plain"),
            daily = stub.url("/daily"),
        ),
    );
    up(&api);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    let hc = stub.requests_to("/hc/uuidSECRET");
    assert_eq!(hc.len(), 1, "{run}");
    assert_eq!(hc[0].method, "POST");
    assert!(hc[0].body_text().contains("ALL SYSTEMS HEALTHY"), "{}", hc[0].body_text());
    let kuma = stub.requests_to("/api/push/kumaSECRET");
    assert_eq!(kuma[0].method, "GET");
    assert!(kuma[0].query.starts_with("status=up&msg="), "{}", kuma[0].query);
    assert!(kuma[0].query.contains("&ping="), "{}", kuma[0].query);
    assert_eq!(stub.requests_to("/plain")[0].method, "GET");
    assert!(stub.requests_to("/daily").is_empty(), "a daily ping went out after a heartbeat");
    assert!(run.stdout.contains("Ping hc sent (success)"), "{run}");

    down(&api);
    ops(&root).arg("heartbeat").run().expect_code(2);
    assert_eq!(stub.requests_to("/hc/uuidSECRET/fail").len(), 1);
    assert!(stub.requests_to("/api/push/kumaSECRET")[1].query.starts_with("status=down&"));
    assert!(root.files_containing("uuidSECRET").is_empty() && root.files_containing("kumaSECRET").is_empty());

    let daily = ops(&root).args(["daily", "--no-notify"]).run(); // the service is down: CRITICAL
    let nightly = stub.requests_to("/daily/fail");
    assert_eq!(nightly.len(), 1, "{daily}");
    assert_eq!(nightly[0].method, "POST");
    assert!(nightly[0].body_text().starts_with("Daily CRITICAL: Smoke tests failed"), "{}", nightly[0].body_text());

    // A ping that never answers is cut at its timeout; the run keeps its status.
    stub.route("/hc/uuidSECRET", Route::hang());
    let hung =
        setup(&api, &format!("[[ping]]\nname = \"hc\"\nurl = \"{}\"\ntimeout_ms = 1500\n", stub.url("/hc/uuidSECRET")));
    up(&api);
    let run = ops(&hung).arg("heartbeat").timeout(Duration::from_secs(30)).run();
    run.expect_code(0);
    assert!(run.stdout.contains("[WARN] Ping hc failed: no answer"), "{run}");
    assert!(!run.output().contains("uuidSECRET"), "{run}");
}

#[test]
fn an_unknown_key_in_notify_names_it_with_line_and_column() {
    let api = HttpStub::start();
    let root = setup(&api, "[[notify]]\nname = \"box\"\ntype = \"outbox\"\nfolder = \"g/outbox\"\n");
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("unknown field `folder`"), "{run}");
    assert!(run.stderr.contains("ops_atomic.toml:16:1"), "{run}");
    let root = setup(&api, "[[notify]]\nname = \"chat\"\ntype = \"slack\"\ncommand = [\"x\"]\n");
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("notify[0].url is missing: a slack channel needs the incoming-webhook URL"), "{run}");
    assert!(run.stderr.contains("notify[0].command: a slack channel does not use this key"), "{run}");
}

#[test]
fn a_run_stopped_by_a_held_lock_still_pings_fail() {
    let api = HttpStub::start();
    let stub = HttpStub::start();
    stub.route("/hc/fail", Route::ok("OK"));
    let root = setup(&api, &format!("[[ping]]\nname = \"hc\"\nurl = \"{}\"\n", stub.url("/hc")));
    up(&api);
    let lock = root.write("g/state/ops_atomic_monitor.lock", "");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("flock (util-linux) is needed by this test");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_LOCK_WAIT_MS", "200").run();
    let _ = holder.kill();
    let _ = holder.wait();
    run.expect_code(3);
    let fail = stub.requests_to("/hc/fail");
    assert_eq!(fail.len(), 1, "the dead man's switch did not hear that the run failed: {run}");
    assert!(fail[0].body_text().contains("state lock"), "{}", fail[0].body_text());
    assert!(stub.requests_to("/hc").is_empty(), "a failed run pinged success");
}
