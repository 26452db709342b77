//! Repairs (SPEC §12) as a person meets them: a real redis-server that dies
//! and is started again by its repair command before anyone is paged; a
//! repair that does not help and is given up on within its budget; ten
//! heartbeats at once that never repair more than once for one failure; a
//! hung repair killed with its children; LaunchAgent labels restarted
//! through (the fake) launchctl.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const EVENTS: &str = "g/state/events.jsonl";

/// A root watching Redis at `redis_url` with `repair` (a TOML inline table),
/// alerting on the 3rd failure through the sink.
fn config(root: &TestRoot, sink: &WebhookSink, redis_url: &str, repair: &str) {
    root.write_config(&format!(
        r#"
[monitor]
alert_threshold = 3
host_name = "mac-mini"
[redis]
url = "{redis_url}"
timeout_ms = 1000
repair = {repair}
[database]
enabled = false
[discord]
webhook_url = "{}"
"#,
        sink.url()
    ));
}

fn heartbeat(root: &TestRoot) -> Run {
    ops(root).arg("heartbeat").run()
}

/// The event log, parsed, of one type.
fn events(root: &TestRoot, kind: &str) -> Vec<Value> {
    std::fs::read_to_string(root.path(EVENTS))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("event is not JSON ({e}): {l}")))
        .filter(|e| e["type"] == kind)
        .collect()
}

fn write_script(root: &TestRoot, name: &str, text: &str) -> std::path::PathBuf {
    let path = root.write(name, text);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Kills the redis-server a repair daemonized (its pid file), however the test ends.
struct PidFile(std::path::PathBuf);

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill").arg("-9").arg(pid.trim()).status();
        }
    }
}

#[test]
fn a_redis_that_died_is_started_again_before_anyone_is_paged() {
    let mut redis = Redis::start();
    let port = redis.port();
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let server = std::env::var("OPS_ATOMIC_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let data = root.path("redis-data");
    std::fs::create_dir_all(&data).unwrap();
    let pidfile = data.join("redis.pid");
    let _reaper = PidFile(pidfile.clone());
    // What `brew services restart redis` does for a Homebrew user: start it again.
    write_script(
        &root,
        "fix-redis.sh",
        &format!(
            "#!/bin/sh\necho \"restarting redis on {port}\"\nexec '{server}' --port {port} --bind 127.0.0.1 --save '' --appendonly no \
             --daemonize yes --pidfile '{}' --dir '{}' --logfile '{}'\n",
            pidfile.display(),
            data.display(),
            data.join("redis.log").display()
        ),
    );
    config(&root, &sink, &redis.url(), r#"{ command = ["./fix-redis.sh"], after = 2, max_per_hour = 3 }"#);

    heartbeat(&root).expect_code(0);
    redis.stop();
    // Two failures: the second orders the repair, which starts Redis again.
    heartbeat(&root).expect_code(2);
    assert!(events(&root, "repair").is_empty(), "repaired after one failure");
    let run = heartbeat(&root);
    run.expect_code(2);
    assert!(run.stdout.contains("Repair of Redis"), "{run}");
    let repairs = events(&root, "repair");
    assert_eq!(repairs.len(), 1, "{repairs:#?}");
    assert_eq!(repairs[0]["check"], "redis");
    assert_eq!(repairs[0]["exit"], 0, "{:#?}", repairs[0]);
    assert_eq!(repairs[0]["command"], "./fix-redis.sh");
    assert!(repairs[0]["output"].as_str().unwrap_or_default().contains(&format!("restarting redis on {port}")));

    // Redis answers again: healthy, and nobody was paged (failure_threshold 3 was never reached).
    let run = heartbeat(&root);
    run.expect_code(0);
    assert!(
        sink.posts().is_empty(),
        "a message went out: {:?}",
        sink.posts().iter().map(|p| p.text()).collect::<Vec<_>>()
    );
    let st = root.state();
    let attempts = &st["checks"]["redis"]["repairs"]["attempts"];
    assert_eq!(attempts.as_array().map(Vec::len), Some(1), "{st:#}");
    assert_eq!(attempts[0]["outcome"], "exit 0");
    assert!(events(&root, "down").is_empty());
}

#[test]
fn a_repair_that_does_not_help_is_given_up_on_and_the_alert_says_so() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let dead = format!("redis://127.0.0.1:{}", free_port());
    root.write_config(&format!(
        r#"
[monitor]
alert_threshold = 5
host_name = "mac-mini"
[redis]
url = "{dead}"
timeout_ms = 500
repair = {{ command = ["false"], after = 1, max_per_hour = 3 }}
[database]
enabled = false
[discord]
webhook_url = "{}"
"#,
        sink.url()
    ));
    for _ in 0..8 {
        heartbeat(&root).expect_code(2);
    }
    let repairs = events(&root, "repair");
    assert_eq!(repairs.len(), 3, "{repairs:#?}");
    assert!(repairs.iter().all(|e| e["exit"] == 1), "{repairs:#?}");
    let exhausted = events(&root, "repair_exhausted");
    assert_eq!(exhausted.len(), 1, "{exhausted:#?}");
    assert_eq!(exhausted[0]["message"], "gave up: 3 repairs in the last hour");

    // The alert (5th failure) names what was tried.
    let posts = sink.posts();
    assert_eq!(posts.len(), 1, "{:?}", posts.iter().map(|p| p.text()).collect::<Vec<_>>());
    let text = posts[0].text();
    assert!(text.contains("❌ Redis down on mac-mini"), "{text}");
    assert!(text.contains("gave up: 3 repairs in the last hour; last: exit 1"), "{text}");

    // The event log reads as a story.
    let shown = ops(&root).args(["events", "--type", "repair", "--type", "repair_exhausted"]).run();
    shown.expect_code(0);
    assert!(shown.stdout.contains("Redis: repair — `false`: exit 1"), "{shown}");
    assert!(shown.stdout.contains("Redis: repair_exhausted — gave up: 3 repairs in the last hour"), "{shown}");

    // The report and `status` say it too.
    let report = root.latest_report("heartbeat");
    assert!(report.contains("🔧 gave up: 3 repairs in the last hour; last: exit 1"), "{report}");
    let status = ops(&root).arg("status").run();
    assert!(status.stdout.contains("🔧 repairs    Redis: gave up: 3 repairs in the last hour"), "{status}");
    let json = ops(&root).args(["status", "--json"]).run().json();
    assert!(json.to_string().contains("gave up: 3 repairs in the last hour"), "{json:#}");
}

#[test]
fn no_repair_runs_with_the_flag_or_for_a_silenced_check() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let dead = format!("redis://127.0.0.1:{}", free_port());
    config(
        &root,
        &sink,
        &dead,
        r#"{ command = ["sh", "-c", "echo ran >> repairs.log"], after = 1, max_per_hour = 3 }"#,
    );
    for _ in 0..3 {
        ops(&root).args(["heartbeat", "--no-repair"]).run().expect_code(2);
    }
    ops(&root).args(["silence", "redis", "--for", "1h"]).run().expect_code(0);
    heartbeat(&root).expect_code(2);
    assert!(!root.exists("repairs.log"), "a repair ran");
    assert!(events(&root, "repair").is_empty() && events(&root, "repair_exhausted").is_empty());
    ops(&root).args(["silence", "--clear"]).run().expect_code(0);
    heartbeat(&root).expect_code(2);
    assert_eq!(root.read("repairs.log"), "ran\n");
}

#[test]
fn ten_heartbeats_at_once_never_exceed_the_budget() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let dead = format!("redis://127.0.0.1:{}", free_port());
    config(
        &root,
        &sink,
        &dead,
        r#"{ command = ["sh", "-c", "echo $$ >> repairs.log; sleep 0.2; exit 1"], after = 1, max_per_hour = 3 }"#,
    );
    let children: Vec<_> = (0..10)
        .map(|_| {
            let mut cmd = ops(&root).arg("heartbeat").command();
            cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
            cmd.spawn().expect("spawn heartbeat")
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(2));
    }
    let ran = root.read("repairs.log").lines().count();
    let recorded = events(&root, "repair").len();
    assert!((1..=3).contains(&ran), "{ran} repairs ran");
    assert_eq!(ran, recorded, "every repair that ran is an event");
    // Heartbeats that measured before the repair ended do not count toward
    // the next one: one failure, one repair.
    assert_eq!(ran, 1, "one failure was repaired {ran} times");
    assert_eq!(root.state()["runs"], 10);
}

/// Processes whose command line holds `marker` as an argument, zombies aside.
fn running_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
            .unwrap_or(true);
        if !zombie && cmdline.split(|b| *b == 0).any(|a| a == marker.as_bytes()) {
            found.push(format!("{pid}: {}", String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

#[test]
fn a_hung_repair_is_killed_with_its_children_at_the_timeout() {
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    let dead = format!("redis://127.0.0.1:{}", free_port());
    // A second argument makes `sleep 300` findable: GNU sleep adds them up.
    let marker = format!("0.{}{}", std::process::id(), 7);
    config(
        &root,
        &sink,
        &dead,
        &format!(
            r#"{{ command = ["sh", "-c", "sleep 300 {marker} & sleep 300 {marker}"], after = 1, max_per_hour = 3 }}"#
        ),
    );
    let run =
        ops(&root).arg("heartbeat").env("OPS_ATOMIC_REPAIR_TIMEOUT_MS", "700").timeout(Duration::from_secs(30)).run();
    run.expect_code(2);
    assert!(run.elapsed < Duration::from_secs(15), "{run}");
    let repairs = events(&root, "repair");
    assert_eq!(repairs.len(), 1);
    assert!(repairs[0]["message"].as_str().unwrap().contains("timed out after 0.7 s (killed)"), "{:#?}", repairs[0]);
    assert!(repairs[0].get("exit").is_none_or(Value::is_null), "{:#?}", repairs[0]);
    let mut left = running_with(&marker);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        left = running_with(&marker);
    }
    assert!(left.is_empty(), "the repair's children outlived it: {left:?}");
    assert_eq!(root.state()["checks"]["redis"]["repairs"]["attempts"][0]["outcome"], "timed out after 0.7 s (killed)");
}

fn write_plist(dir: &Path, label: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("{label}.plist"));
    std::fs::write(
        &path,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{label}</string>
  <key>ProgramArguments</key>
  <array>
    <string>/usr/bin/true</string>
  </array>
</dict>
</plist>
"#
        ),
    )
    .unwrap();
    path
}

fn launchagents_config(root: &TestRoot, labels: &[&str]) {
    let labels: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[launchagents]\nlabels = [{}]\nrestart = true\n",
        labels.join(", ")
    ));
}

#[test]
fn an_installed_label_that_is_not_loaded_is_bootstrapped() {
    let root = TestRoot::new();
    let label = "com.example.worker";
    let plist = write_plist(&root.agents_dir(), label);
    launchagents_config(&root, &[label]);
    let lc = root.launchctl();

    heartbeat(&root).expect_code(2);
    assert!(lc.calls_of("bootstrap").is_empty(), "restarted after one failure");
    heartbeat(&root).expect_code(2);
    let domain = lc.domain();
    assert_eq!(lc.calls_of("bootstrap"), vec![vec!["bootstrap".to_string(), domain, plist.display().to_string()]]);
    assert!(lc.is_loaded(label));
    heartbeat(&root).expect_code(0);
    let repairs = events(&root, "repair");
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0]["exit"], 0);
    assert!(repairs[0]["command"].as_str().unwrap().starts_with("launchctl bootstrap gui/"), "{:#?}", repairs[0]);

    // Not installed either: nothing to restart, and it says why.
    let root = TestRoot::new();
    launchagents_config(&root, &["com.example.gone"]);
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    assert!(root.launchctl().calls_of("bootstrap").is_empty());
    let repairs = events(&root, "repair");
    assert!(repairs[0]["message"].as_str().unwrap().contains("no installed plist at"), "{:#?}", repairs[0]);
}

#[test]
fn a_loaded_label_the_list_does_not_show_is_kickstarted() {
    let root = TestRoot::new();
    let label = "com.example.api";
    launchagents_config(&root, &[label]);
    let lc = root.launchctl();
    lc.seed(label, None, 0);
    // `launchctl list` fails (say, launchd is busy): the label check fails,
    // though launchd has the job loaded; the repair asks `print` and
    // restarts the job in place.
    lc.answer("list", "", "Could not list: Operation timed out\n", 60);
    heartbeat(&root).expect_code(2);
    heartbeat(&root).expect_code(2);
    let target = format!("{}/{label}", lc.domain());
    assert_eq!(lc.calls_of("kickstart"), vec![vec!["kickstart".to_string(), "-k".into(), target]]);
    assert!(lc.calls_of("bootstrap").is_empty());
    assert!(lc.job(label).unwrap().pid.is_some(), "kickstart started the job");
    let repairs = events(&root, "repair");
    assert_eq!(repairs.len(), 1);
    assert_eq!(repairs[0]["exit"], 0);
}
