//! A team of Macs on Prometheus and Alertmanager (SPEC §18), with Debian's
//! real tools: `promtool` (package `prometheus`), `amtool`
//! (`prometheus-alertmanager`) and `prometheus-pushgateway`, on free
//! loopback ports. scripts/test.sh installs them; a missing one fails the
//! test, naming the package. Env `OPS_ATOMIC_PROMTOOL`, `OPS_ATOMIC_AMTOOL`,
//! `OPS_ATOMIC_PROMETHEUS`, `OPS_ATOMIC_ALERTMANAGER`,
//! `OPS_ATOMIC_PUSHGATEWAY` name other binaries.

mod common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const QUIET: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n";

fn tool(name: &str, env: &str, package: &str) -> PathBuf {
    find_program(name, env, &format!("Install it with `sudo apt-get install -y {package}`"))
}

fn promtool() -> PathBuf {
    tool("promtool", "OPS_ATOMIC_PROMTOOL", "prometheus")
}

fn amtool() -> PathBuf {
    tool("amtool", "OPS_ATOMIC_AMTOOL", "prometheus-alertmanager")
}

/// Runs a tool; its exit code and its stdout and stderr together.
fn run_tool(program: &Path, args: &[&str], cwd: &Path) -> (i32, String) {
    let out = Command::new(program).args(args).current_dir(cwd).output().expect("run tool");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// `ops-atomic fleet <what>`, written to `<dir>/<file>`.
fn fleet(root: &TestRoot, what: &str, dir: &Path, file: &str) -> PathBuf {
    let run = ops(root).args(["fleet", what]).run();
    run.expect_code(0);
    let path = dir.join(file);
    std::fs::write(&path, &run.stdout).expect("write fleet output");
    path
}

#[test]
fn the_rules_pass_promtool_and_their_unit_tests() {
    let root = TestRoot::new();
    let dir = TempDir::new("rules");
    fleet(&root, "rules", dir.path(), "rules.yml");
    let (code, out) = run_tool(&promtool(), &["check", "rules", "rules.yml"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("SUCCESS: 3 rules found"), "{out}");
    // A check down for 10 minutes fires with its cause; a sleeping Mac does not page.
    let tests = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fleet/rules_test.yml"))
        .expect("tests/fleet/rules_test.yml");
    std::fs::write(dir.path().join("rules_test.yml"), tests).unwrap();
    let (code, out) = run_tool(&promtool(), &["test", "rules", "rules_test.yml"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn the_alertmanager_config_sends_critical_to_the_pager_and_the_rest_to_chat() {
    let root = TestRoot::new();
    let dir = TempDir::new("am");
    fleet(&root, "alertmanager", dir.path(), "alertmanager.yml");
    let (code, out) = run_tool(&amtool(), &["check-config", "alertmanager.yml"], dir.path());
    assert_eq!(code, 0, "{out}");
    for (labels, receiver) in [
        ("severity=critical", "pager"),
        ("severity=warning", "chat"),
        ("severity=info", "chat"),
        ("alertname=OpsAtomicMacSilent", "chat"),
    ] {
        let (code, out) =
            run_tool(&amtool(), &["config", "routes", "test", "--config.file=alertmanager.yml", labels], dir.path());
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.lines().next(), Some(receiver), "{labels}: {out}");
    }
}

#[test]
fn the_dashboard_is_json_with_availability_incidents_and_condition_values() {
    let root = TestRoot::new();
    let run = ops(&root).args(["fleet", "dashboard"]).run();
    run.expect_code(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("dashboard JSON");
    let exprs: Vec<String> = doc["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string()))
        .collect();
    for metric in
        ["ops_atomic_check_up", "ops_atomic_check_down", "ops_atomic_check_value", "ops_atomic_pending_notifications"]
    {
        assert!(exprs.iter().any(|e| e.contains(metric)), "{metric} in {exprs:?}");
    }
    // A team's own copy wins, like the report templates.
    root.write("templates/fleet/dashboard.json", "{\"title\": \"ours\"}\n");
    let run = ops(&root).args(["fleet", "dashboard"]).run();
    assert_eq!(run.stdout, "{\"title\": \"ours\"}\n");
}

fn closed_port() -> u16 {
    free_port()
}

#[test]
fn the_textfile_passes_promtool_check_metrics() {
    let root = TestRoot::new();
    let dir = TempDir::new("textfile");
    let textfile = dir.path().join("ops_atomic.prom");
    root.write_config(&format!(
        "{QUIET}[monitor]\nalert_threshold = 1\n[export]\nprometheus_textfile = \"{}\"\n\
         [[tcp]]\nname = \"gone\"\naddress = \"127.0.0.1:{}\"\ntimeout_ms = 500\n\
         [[command]]\nname = \"load\"\ncommand = [\"printf\", \"OK | load1=0.5;2;3;0; 'disk used'=42%;80;90\\n\"]\n",
        textfile.display(),
        closed_port()
    ));
    ops(&root).args(["heartbeat"]).run();
    let text = std::fs::read_to_string(&textfile).expect("textfile written");
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}\n{text}");
}

// ---------------------------------------------------------------------------
// End to end: Pushgateway → Prometheus → Alertmanager → a recording webhook

/// A server on a free port, retried when the port was taken meanwhile.
fn serve(name: &str, program: &Path, args: impl Fn(u16, &Path) -> Vec<String>, ready: &str) -> (Guarded, u16, TempDir) {
    let mut last = String::new();
    for _ in 0..5 {
        let dir = TempDir::new(name);
        let port = free_port();
        let process = Guarded::spawn(Spawn {
            name,
            program,
            args: args(port, dir.path()).into_iter().map(OsString::from).collect(),
            stop_signal: "TERM",
            log: &dir.path().join("log"),
            cleanup: None,
            cwd: dir.path(),
            as_server_user: false,
        });
        let mut p = process;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && p.exited().is_none() {
            if get(port, ready).is_some() {
                return (p, port, dir);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last = p.log();
        if !last.contains("address already in use") {
            break;
        }
    }
    panic!("{name} did not start:\n{last}");
}

/// The body of a GET answered 200.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1)? == "200").then(|| body.to_string())
}

fn mac_config(pushgateway: u16, instance: &str, tcp_port: u16) -> String {
    format!(
        "{QUIET}[monitor]\nalert_threshold = 1\nrecovery_threshold = 1\n\
         [export]\npushgateway_url = \"http://127.0.0.1:{pushgateway}\"\ninstance = \"{instance}\"\n\
         pushgateway_headers = {{ Authorization = \"Bearer ${{PUSH_TOKEN}}\" }}\n\
         [[tcp]]\nname = \"web\"\naddress = \"127.0.0.1:{tcp_port}\"\ntimeout_ms = 500\n"
    )
}

/// Waits up to 60 s for a webhook post holding an alert with `status` and these labels.
fn wait_for_alert(sink: &HttpStub, status: &str, labels: &[(&str, &str)]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for req in sink.requests_to("/chat").into_iter().chain(sink.requests_to("/pager")) {
            let doc = req.json();
            for alert in doc["alerts"].as_array().into_iter().flatten() {
                let matches = labels.iter().all(|(k, v)| alert["labels"][*k].as_str() == Some(*v));
                if matches && alert["status"] == status {
                    let mut alert = alert.clone();
                    alert["receiver_path"] = Value::String(req.path.clone());
                    return alert;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let seen: Vec<String> = sink.requests().iter().map(|r| r.body_text()).collect();
    panic!("no {status} alert with {labels:?} within 60 s; the webhook saw:\n{}", seen.join("\n"));
}

#[test]
fn two_macs_push_prometheus_fires_alertmanager_posts_and_the_recovery_resolves() {
    let pushgateway = tool("prometheus-pushgateway", "OPS_ATOMIC_PUSHGATEWAY", "prometheus-pushgateway");
    let prometheus = tool("prometheus", "OPS_ATOMIC_PROMETHEUS", "prometheus");
    let alertmanager = tool("prometheus-alertmanager", "OPS_ATOMIC_ALERTMANAGER", "prometheus-alertmanager");
    let sink = HttpStub::start();
    sink.route("/pager", Route::ok("")).route("/chat", Route::ok(""));

    let (_pg, pg_port, _pg_dir) = serve(
        "pushgateway",
        &pushgateway,
        |port, _| vec![format!("--web.listen-address=127.0.0.1:{port}")],
        "/-/ready",
    );

    let am_config = {
        let root = TestRoot::new();
        let text = ops(&root).args(["fleet", "alertmanager"]).run().stdout;
        // The shipped receivers, pointed at the recording webhook, with short waits.
        text.replace("http://127.0.0.1:9095", &format!("http://127.0.0.1:{}", sink.port()))
            .replace("group_wait: 30s", "group_wait: 1s")
            .replace("group_interval: 5m", "group_interval: 1s")
    };
    let (_am, am_port, _am_dir) = serve(
        "alertmanager",
        &alertmanager,
        |port, dir| {
            std::fs::write(dir.join("am.yml"), &am_config).unwrap();
            vec![
                format!("--config.file={}", dir.join("am.yml").display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".into(),
            ]
        },
        "/-/ready",
    );

    let rules = {
        let root = TestRoot::new();
        ops(&root).args(["fleet", "rules"]).run().stdout.replace("for: 5m", "for: 1s")
    };
    let (_prom, _prom_port, _prom_dir) = serve(
        "prometheus",
        &prometheus,
        |port, dir| {
            std::fs::write(dir.join("rules.yml"), &rules).unwrap();
            std::fs::write(
                dir.join("prometheus.yml"),
                format!(
                    "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                     rule_files: [rules.yml]\n\
                     alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
                     scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{pg_port}']\n"
                ),
            )
            .unwrap();
            vec![
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--rules.alert.resend-delay=1s".into(),
            ]
        },
        "/-/ready",
    );

    // Mac A: its web server is down; mac B: all fine.
    let web_port = free_port();
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let mac_a = TestRoot::new();
    mac_a.write_config(&mac_config(pg_port, "mac-a", web_port));
    let mac_b = TestRoot::new();
    mac_b.write_config(&mac_config(pg_port, "Mac B's laptop", up.local_addr().unwrap().port()));
    let a = ops(&mac_a).args(["heartbeat"]).env("PUSH_TOKEN", "push-token_do-not-leak").run();
    a.expect_code(2);
    ops(&mac_b).args(["heartbeat"]).env("PUSH_TOKEN", "push-token_do-not-leak").run().expect_code(0);
    assert!(!a.stdout.contains("push-token_do-not-leak") && !a.stderr.contains("push-token_do-not-leak"));

    // Both Macs are in the Pushgateway, each with its stable machine_id.
    let metrics = get(pg_port, "/metrics").expect("pushgateway /metrics");
    let id_a = mac_a.read("g/state/machine_id").trim().to_string();
    assert_eq!(id_a.len(), 32);
    assert!(metrics.contains(&format!("machine_id=\"{id_a}\"")), "{metrics}");
    assert!(metrics.contains("instance=\"Mac B's laptop\""), "{metrics}");
    assert!(metrics.contains("ops_atomic_last_sleep_seconds{"), "{metrics}");

    let fired = wait_for_alert(&sink, "firing", &[("alertname", "OpsAtomicCheckDown"), ("instance", "mac-a")]);
    assert_eq!(fired["labels"]["check"], "tcp:web", "{fired}");
    assert_eq!(fired["labels"]["severity"], "critical", "{fired}");
    assert_eq!(fired["receiver_path"], "/pager", "{fired}");

    // The web server comes back: the incident closes, the alert resolves.
    let _back = TcpListener::bind(("127.0.0.1", web_port)).expect("rebind the web port");
    ops(&mac_a).args(["heartbeat"]).env("PUSH_TOKEN", "x").run().expect_code(0);
    wait_for_alert(
        &sink,
        "resolved",
        &[("alertname", "OpsAtomicCheckDown"), ("instance", "mac-a"), ("check", "tcp:web")],
    );
    // A second Mac never paged.
    assert!(
        !sink.requests_to("/pager").iter().any(|r| r.body_text().contains("Mac B")),
        "mac B paged: {:?}",
        sink.requests().iter().map(|r| r.body_text()).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// A Pushgateway that hangs or refuses

#[test]
fn a_hung_or_refusing_pushgateway_leaves_the_heartbeat_bounded_and_its_messages_sent() {
    let hung = HungTcp::start();
    for (what, url) in
        [("hung", format!("http://{}", hung.addr())), ("refused", format!("http://127.0.0.1:{}", free_port()))]
    {
        let root = TestRoot::new();
        let sink = WebhookSink::start();
        root.write_config(&format!(
            "{QUIET}[monitor]\nalert_threshold = 1\n[discord]\nwebhook_url = \"{}\"\n\
             [export]\npushgateway_url = \"{url}\"\ntimeout_ms = 500\n\
             [[tcp]]\nname = \"web\"\naddress = \"127.0.0.1:{}\"\ntimeout_ms = 500\n",
            sink.url(),
            free_port()
        ));
        let run = ops(&root).args(["heartbeat"]).timeout(Duration::from_secs(30)).run();
        // The health code, not a tool failure: the push is never an alert.
        run.expect_code(2);
        assert!(run.elapsed < Duration::from_secs(15), "{what}: took {:?}", run.elapsed);
        assert_eq!(sink.posts().len(), 1, "{what}: the alert was delivered");
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("Pushgateway push failed (retried next run)"), "{what}: {all}");
        let events = root.read("g/state/events.jsonl");
        assert!(events.lines().any(|l| l.contains("\"type\":\"push_failed\"")), "{what}: {events}");
        assert!(!events.contains("\"type\":\"notified\"") || events.contains("discord"), "{what}: {events}");
    }
}
