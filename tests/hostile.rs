//! When the folder or the servers are hostile: symlinks planted where
//! ops-atomic writes, the umask, a damaged state, odd config files, and
//! servers that answer with gigabytes. Each planted symlink points at a
//! victim file outside the root that must stay as it was.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// No Redis, no PostgreSQL, nothing else: a heartbeat that only does its file work.
const QUIET: &str = "[redis]\nenabled = false\n\n[database]\nenabled = false\n";

const VICTIM: &str = "{\"runs\": 7, \"precious\": \"do not touch\"}\n";

/// A file outside the root, next to it in the test's temp folder.
fn victim(root: &TestRoot) -> PathBuf {
    let path = root.dir().with_file_name("victim.json");
    if !path.exists() {
        fs::write(&path, VICTIM).unwrap();
    }
    path
}

/// A symlink at `<root>/<rel>` pointing at the victim; returns the victim.
fn plant(root: &TestRoot, rel: &str) -> PathBuf {
    let target = victim(root);
    let link = root.path(rel);
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    symlink(&target, &link).unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    target
}

#[track_caller]
fn assert_untouched(victim: &Path) {
    assert_eq!(fs::read_to_string(victim).unwrap(), VICTIM, "the victim {} was written", victim.display());
}

/// The pids the next few hundred processes will get (Linux), to plant the
/// temporary names of earlier releases (`.<name>.tmp-<pid>`).
fn next_pids() -> std::ops::Range<u32> {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(std::process::id());
    last + 1..last + 400
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

// ---------------------------------------------------------------------------
// Planted symlinks

#[test]
fn a_symlink_at_the_lock_is_refused_and_its_target_untouched() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let victim = plant(&root, STATE_LOCK);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(run.output().contains(&root.path(STATE_LOCK).display().to_string()), "{run}");
    assert!(run.output().contains("symbolic link"), "{run}");
    assert_untouched(&victim);
}

#[test]
fn a_symlink_at_the_history_is_refused_and_its_target_untouched() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let victim = plant(&root, HISTORY);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(run.output().contains(&root.path(HISTORY).display().to_string()), "{run}");
    assert!(run.output().contains("symbolic link"), "{run}");
    assert_untouched(&victim);
    // The rest of the run stands.
    assert_eq!(root.state()["runs"], 1);
}

#[test]
fn a_symlink_at_the_state_file_is_neither_read_nor_written_through() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let victim = plant(&root, STATE);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(3);
    assert!(run.output().contains(&root.path(STATE).display().to_string()), "{run}");
    assert!(run.output().contains("symbolic link"), "{run}");
    assert_untouched(&victim);
    assert!(fs::symlink_metadata(root.path(STATE)).unwrap().file_type().is_symlink());
}

#[test]
fn symlinks_at_guessable_temporary_names_are_not_followed() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let victim = victim(&root);
    for pid in next_pids() {
        plant(&root, &format!("g/state/.ops_atomic_monitor.json.tmp-{pid}"));
    }
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert_untouched(&victim);
    let meta = fs::symlink_metadata(root.path(STATE)).unwrap();
    assert!(meta.file_type().is_file(), "the state file is not a regular file: {meta:?}");
    assert_eq!(root.state()["runs"], 1);
}

#[test]
fn symlinks_at_report_names_and_their_temporary_names_are_not_followed() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let victim = victim(&root);
    let now = chrono::Utc::now();
    for s in 0..3 {
        let stem = format!("heartbeat_{}", (now + chrono::Duration::seconds(s)).format("%Y-%m-%d_%H-%M-%S"));
        plant(&root, &format!("{REPORTS_DIR}/{stem}.md"));
        for pid in next_pids() {
            for name in [format!("{stem}.md"), format!("{stem}_1.md")] {
                plant(&root, &format!("{REPORTS_DIR}/.{name}.tmp-{pid}"));
            }
        }
    }
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert_untouched(&victim);
    let written: Vec<String> = root
        .reports_of("heartbeat")
        .into_iter()
        .filter(|n| fs::symlink_metadata(root.path(&format!("{REPORTS_DIR}/{n}"))).unwrap().file_type().is_file())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}\n{run}");
    assert!(root.read(&format!("{REPORTS_DIR}/{}", written[0])).contains("HEALTHY"));
}

#[test]
fn a_lock_timeout_leaves_no_empty_report_behind() {
    use fs2::FileExt;
    let root = TestRoot::new();
    root.write_config(QUIET);
    fs::create_dir_all(root.path("g/state")).unwrap();
    let held = fs::File::create(root.path(STATE_LOCK)).unwrap();
    held.lock_exclusive().unwrap();
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_LOCK_WAIT_MS", "200").run();
    run.expect_code(3);
    assert!(run.output().contains("still held"), "{run}");
    assert_eq!(root.reports(), Vec::<String>::new(), "{run}");
}

// ---------------------------------------------------------------------------
// Modes whatever the umask

#[test]
fn files_are_0600_folders_0700_and_plists_0644_whatever_the_umask() {
    for umask in [0o002, 0o022] {
        let root = TestRoot::new();
        root.write_config(QUIET);
        for args in [&["heartbeat"][..], &["enable", "monitor"]] {
            let mut cmd = ops(&root).args(args).command();
            // SAFETY: umask(2) is async-signal-safe and cannot fail.
            unsafe {
                cmd.pre_exec(move || {
                    libc::umask(umask);
                    Ok(())
                });
            }
            let out = cmd.stdin(Stdio::null()).output().unwrap();
            assert!(out.status.success(), "{args:?} under umask {umask:03o}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let report = format!("{REPORTS_DIR}/{}", root.reports_of("heartbeat")[0]);
        for file in [STATE, HISTORY, STATE_LOCK, report.as_str()] {
            assert_eq!(mode(&root.path(file)), 0o600, "{file} under umask {umask:03o}");
        }
        for dir in ["g/state", "g/reports", REPORTS_DIR, "g/logs"] {
            assert_eq!(mode(&root.path(dir)), 0o700, "{dir} under umask {umask:03o}");
        }
        let label = "com.02luka.ops_atomic_monitor.plist";
        for plist in [root.path(&format!("LaunchAgents/{label}")), root.agents_dir().join(label)] {
            assert_eq!(mode(&plist), 0o644, "{} under umask {umask:03o}", plist.display());
        }
    }
}

// ---------------------------------------------------------------------------
// A damaged state

#[test]
fn a_state_with_a_bad_field_keeps_its_queued_messages() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let queued = json!({"kind": "alert", "created_at": "2025-10-27T17:00:00Z", "payload": {"content": "Redis is down"}, "attempts": 3});
    root.write_state(&json!({
        "version": 1,
        "runs": -5,
        "consecutive_failures": "many",
        "alert_active": true,
        "first_failure_at": "2025-10-27T16:45:00Z",
        "pending_notifications": [queued, {"kind": "bogus"}],
    }));
    let run = ops(&root).args(["heartbeat", "--no-notify"]).run();
    run.expect_code(0);
    assert!(run.output().contains("[WARN]") && run.output().contains("runs"), "{run}");
    let state = root.state();
    assert_eq!(state["pending_notifications"].as_array().unwrap().len(), 1, "{state:#}");
    assert_eq!(state["pending_notifications"][0]["payload"]["content"], "Redis is down");
    assert_eq!(state["pending_notifications"][0]["attempts"], 3);
    assert_eq!(state["runs"], 1);
    let aside: Vec<_> = fs::read_dir(root.path("g/state"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
        .collect();
    assert!(aside.is_empty(), "a state with one bad field was moved aside: {aside:?}");
}

#[test]
fn counters_saturate_instead_of_wrapping() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    root.write_state(
        &json!({"version": 1, "runs": u64::MAX, "consecutive_successes": u32::MAX, "last_status": "HEALTHY"}),
    );
    ops(&root).arg("heartbeat").run().expect_code(0);
    let state = root.state();
    assert_eq!(state["runs"], u64::MAX);
    assert_eq!(state["consecutive_successes"], u32::MAX);
}

// ---------------------------------------------------------------------------
// Config files that are not what they seem

#[test]
fn a_config_that_is_not_a_regular_file_is_refused_without_blocking() {
    let root = TestRoot::new();
    let fifo = root.dir().with_file_name("config.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let folder = root.dir().with_file_name("config.d");
    fs::create_dir_all(&folder).unwrap();
    for path in [fifo.as_path(), Path::new("/dev/zero"), folder.as_path()] {
        let run = ops(&root).arg("--config").arg(path).args(["config", "check"]).timeout(Duration::from_secs(20)).run();
        run.expect_code(3);
        assert!(run.output().contains("not a regular file"), "{}: {run}", path.display());
        assert!(run.output().contains(&path.display().to_string()), "{run}");
    }
}

#[test]
fn a_config_over_a_mebibyte_is_refused() {
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}{}", "# padding padding padding padding\n".repeat(40_000)));
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    assert!(run.output().contains("larger than 1024 KiB"), "{run}");
}

#[test]
fn config_show_redacts_query_string_secrets() {
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}\n[[api]]\nname = \"Svc\"\nurl = \"http://127.0.0.1:1/health?token=s3cr3t-t0ken&verbose=1&api_key=k3y-value\"\n"
    ));
    let run = ops(&root).args(["config", "show"]).run();
    run.expect_code(0);
    assert!(!run.output().contains("s3cr3t-t0ken") && !run.output().contains("k3y-value"), "{run}");
    assert!(run.stdout.contains("token=***&verbose=1&api_key=***"), "{run}");
}

// ---------------------------------------------------------------------------
// Hostile servers

/// A one-connection TCP server: reads what the client says first, then
/// answers `head` and streams `flood` bytes (or until the client goes).
fn flooding_server(head: Vec<u8>, flood: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let head = head.clone();
            std::thread::spawn(move || {
                let mut hello = [0u8; 512];
                let _ = s.read(&mut hello);
                if s.write_all(&head).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0;
                while sent < flood && s.write_all(&chunk).is_ok() {
                    sent += chunk.len();
                }
            });
        }
    });
    port
}

/// Runs the binary and reports its peak resident memory in bytes (from
/// `wait4`'s rusage for that child alone). `wait4` reaps the child, so
/// `Child::wait` must not be called after it.
#[allow(clippy::zombie_processes)]
fn run_measured(ops: Ops) -> (Run, u64) {
    let mut cmd = ops.command();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("run ops-atomic");
    let pid = child.id() as libc::pid_t;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child only.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    let run = Run { code, stdout: out.join().unwrap(), stderr: err.join().unwrap(), elapsed: started.elapsed() };
    (run, usage.ru_maxrss as u64 * unit)
}

const PEAK_LIMIT: u64 = 64 * 1024 * 1024;

#[test]
fn a_flooding_redis_port_fails_the_check_and_memory_stays_small() {
    let port = flooding_server(b"$2000000000\r\n".to_vec(), 256 << 20);
    let root = TestRoot::new();
    root.write_config(&format!(
        "[redis]\nurl = \"redis://127.0.0.1:{port}\"\ntimeout_ms = 5000\n[database]\nenabled = false\n"
    ));
    let (run, peak) = run_measured(ops(&root).arg("heartbeat"));
    run.expect_code(2);
    assert!(run.stdout.contains("❌ Redis: Redis not responding: reply too large"), "{run}");
    assert!(peak < PEAK_LIMIT, "peak RSS {} MB\n{run}", peak >> 20);
}

#[test]
fn a_hostile_postgresql_port_fails_the_check_and_memory_stays_small() {
    let mut head = vec![b'E'];
    head.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    let port = flooding_server(head, 256 << 20);
    let root = TestRoot::new();
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nurl = \"postgresql://app@127.0.0.1:{port}/app\"\ntimeout_ms = 5000\n"
    ));
    let (run, peak) = run_measured(ops(&root).arg("heartbeat"));
    run.expect_code(2);
    assert!(run.stdout.contains("❌ Database: Database not responding: reply too large"), "{run}");
    assert!(run.stdout.contains("'E' message of 2147483632 bytes"), "{run}");
    assert!(peak < PEAK_LIMIT, "peak RSS {} MB\n{run}", peak >> 20);
}

#[test]
fn an_http_body_over_a_mebibyte_fails_the_check_and_says_so() {
    let api = HttpStub::start();
    api.route("/health", Route::ok(&"ok".repeat(1 << 20)));
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}\n[[api]]\nname = \"Big\"\nurl = \"{}\"\n", api.url("/health")));
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(1);
    assert!(run.stdout.contains("Big: HTTP 200, but the reply is too large: over 1 MiB"), "{run}");
}

#[test]
fn the_daily_api_timeout_names_its_milliseconds() {
    let api = HttpStub::start();
    api.route("/health", Route::hang());
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}\n[[api]]\nname = \"Slow\"\nurl = \"{}\"\ntimeout_ms = 300\n",
        api.url("/health")
    ));
    let run = ops(&root).args(["daily", "--no-notify"]).run();
    let report = root.latest_report("daily");
    assert!(report.contains("timed out after 300 ms"), "{report}\n{run}");
    assert!(!report.contains("Network Error ms"), "{report}");
}

#[test]
fn a_slow_webhook_never_holds_the_state_lock_and_nothing_is_sent_twice() {
    // Eight messages queued for a webhook that takes a second each: the run
    // delivering them holds no lock another heartbeat needs, the other run
    // leaves the queue to it, and every message goes out exactly once.
    let sink = WebhookSink::start();
    sink.set_default(SinkReply::Slow(Duration::from_millis(1000)));
    let api = HttpStub::start();
    api.route("/svc", Route::ok("ok"));
    let root = TestRoot::new();
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[[api]]\nname = \"Service\"\nurl = \"{}\"\n[discord]\nwebhook_url = \"{}\"\n",
        api.url("/svc"),
        sink.url()
    ));
    let queued: Vec<serde_json::Value> = (0..8)
        .map(|i| {
            serde_json::json!({
                "channel": "discord", "kind": "alert", "created_at": "2025-10-27T17:00:00Z",
                "payload": {"content": format!("queued {i}")}, "attempts": 0
            })
        })
        .collect();
    root.write_state(&serde_json::json!({"version": 2, "runs": 1, "pending_notifications": queued}));

    let mut first = ops(&root).arg("heartbeat").command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let waited = Instant::now();
    while sink.posts().is_empty() && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!sink.posts().is_empty(), "the first run never started delivering");
    let second = ops(&root).arg("heartbeat").env("OPS_ATOMIC_LOCK_WAIT_MS", "3000").run();
    second.expect_code(0);
    assert!(second.stdout.contains("another run is delivering them"), "{second}");
    assert!(first.wait().unwrap().success());

    let contents: Vec<String> = sink.posts().iter().map(|p| p.content().to_string()).collect();
    let expected: Vec<String> = (0..8).map(|i| format!("queued {i}")).collect();
    assert_eq!(contents, expected, "each queued message once, in order");
    assert_eq!(root.state()["pending_notifications"], serde_json::json!([]));
    ops(&root).arg("heartbeat").run().expect_code(0);
    assert_eq!(sink.posts().len(), 8, "a message was sent twice");
}

#[test]
fn a_redirecting_webhook_does_not_confirm_a_message() {
    let sink = WebhookSink::start();
    sink.set_default(SinkReply::Status(307, String::new()));
    let root = TestRoot::new();
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[discord]\nwebhook_url = \"{}\"\n",
        sink.url()
    ));
    let queued = serde_json::json!([{
        "channel": "discord", "kind": "alert", "created_at": "2025-10-27T17:00:00Z",
        "payload": {"content": "must arrive"}, "attempts": 0
    }]);
    root.write_state(&serde_json::json!({"version": 2, "pending_notifications": queued}));
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert!(run.stdout.contains("HTTP 307"), "{run}");
    assert_eq!(root.state()["pending_notifications"].as_array().unwrap().len(), 1, "a redirect confirmed the message");
}

// ---------------------------------------------------------------------------
// A full disk

#[test]
fn a_full_disk_fails_the_run_clearly_and_leaves_every_file_whole() {
    let root = TestRoot::new();
    // The dead man's switch is how a monitor that cannot write anything still says so.
    let switch = HttpStub::start();
    for path in ["/hc", "/hc/fail"] {
        switch.route(path, Route::ok("OK"));
    }
    root.write_config(&format!("{QUIET}\n[[ping]]\nname = \"hc\"\nurl = \"{}\"\n", switch.url("/hc")));
    ops(&root).arg("heartbeat").run().expect_code(0);
    let (state_before, history_before) = (root.read(STATE), root.read(HISTORY));
    let (state_dir, reports) = (root.names_in("g/state"), root.reports());

    // No file may grow at all: every write fails, as on a full disk.
    let run = ops(&root).arg("heartbeat").file_size_limit(0).run();
    run.expect_code(3);
    assert!(run.output().contains(&root.path(STATE).display().to_string()), "names the state file: {run}");
    assert!(run.output().contains("File too large"), "says why: {run}");
    assert_eq!(root.read(STATE), state_before, "the state is the last whole one");
    assert!(root.read(HISTORY).starts_with(&history_before), "the history keeps every line it had");
    assert_eq!(root.names_in("g/state"), state_dir, "no temporary file is left");
    assert_eq!(root.reports(), reports, "no empty or partial report is left");
    let fail = switch.requests_to("/hc/fail");
    assert_eq!(fail.len(), 1, "the failed run pinged the switch's /fail: {run}");
    assert!(fail[0].body_text().contains("File too large"), "and says why: {}", fail[0].body_text());

    // Under launchd, whose log files are on the same full disk: still exit 3, not a crash.
    let log = |name: &str| fs::File::create(root.path(name)).unwrap();
    let status =
        ops(&root).arg("heartbeat").file_size_limit(0).command().stdout(log("out.log")).stderr(log("err.log")).status();
    assert_eq!(status.unwrap().code(), Some(3), "logging to a full disk is no crash");
    assert_eq!(root.read(STATE), state_before);

    // Room again: the next run works and sees the state as it was.
    ops(&root).arg("heartbeat").run().expect_code(0);
    let state: serde_json::Value = serde_json::from_str(&root.read(STATE)).unwrap();
    assert_eq!(state["runs"], 2, "{state}");
}

#[test]
fn an_alert_decided_on_a_full_disk_is_sent_directly_not_lost() {
    let root = TestRoot::new();
    let sink = WebhookSink::start();
    let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = |address: String| {
        root.write_config(&format!(
            "{QUIET}\n[monitor]\nalert_threshold = 1\nhost_name = \"mac-mini\"\n[discord]\nwebhook_url = \"{}\"\n[[tcp]]\nname = \"db\"\naddress = \"{address}\"\ntimeout_ms = 300\n",
            sink.url()
        ))
    };
    config(live.local_addr().unwrap().to_string());
    ops(&root).arg("heartbeat").run().expect_code(0);
    // As under launchd, the last good run was one interval ago.
    let saved_ago = |minutes: i64| {
        let mut st = root.state();
        st["last_run_at"] = serde_json::json!((chrono::Utc::now() - chrono::Duration::minutes(minutes)).to_rfc3339());
        root.write_state(&st);
        root.read(STATE)
    };
    let state_before = saved_ago(5);

    // The disk fills, and the database goes away: the alert cannot be queued, so it goes out now.
    drop(live);
    config(format!("127.0.0.1:{}", free_port()));
    let run = ops(&root).arg("heartbeat").file_size_limit(0).run();
    run.expect_code(3);
    assert!(run.output().contains("notification(s) sent directly, without the queue"), "{run}");
    let titles = sink.titles();
    assert_eq!(titles.len(), 1, "{titles:?}\n{run}");
    assert!(titles[0].contains("db"), "the alert names the check: {titles:?}");
    assert_eq!(root.read(STATE), state_before, "the state is the last whole one");

    // The next run, 5 minutes later on the still-full disk, does not send it again (one
    // direct send per window), unless it is the first run of a new hour of the clock.
    saved_ago(10);
    let minute = chrono::Utc::now().format("%M").to_string().parse::<u32>().unwrap();
    let again = ops(&root).arg("heartbeat").file_size_limit(0).run();
    again.expect_code(3);
    if (6..=58).contains(&minute) {
        assert_eq!(sink.titles().len(), 1, "{again}");
        assert!(again.output().contains("a direct send already went out in this window"), "{again}");
    }

    // Room again: the queue takes over; the old state never learnt of the send, so the alert goes once more.
    ops(&root).arg("heartbeat").run().expect_code(2);
    let after = sink.titles().len();
    assert!((2..=3).contains(&after), "{:?}", sink.titles());
    ops(&root).arg("heartbeat").run().expect_code(2);
    assert_eq!(sink.titles().len(), after, "and then the incident is known: no repeat");
}
