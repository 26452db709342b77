//! The check kinds of issue 14 end to end, through the real binary: `[[tcp]]`
//! against a listening and a closed port, `[[process]]` against real
//! processes, `[[file]]` against files aged, grown and rotated, `[[disk]]`
//! against `/`, `[[command]]` against scripts and the real monitoring plugins
//! (Debian's monitoring-plugins-basic), `cert_min_days` against `openssl
//! s_server` with certificates made here, and `[self]` against the fake
//! launchctl.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use serde_json::Value;

/// Redis and PostgreSQL off, so only the kinds under test run.
const QUIET: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n";

/// Runs `heartbeat --json` and returns the document.
fn heartbeat(root: &TestRoot) -> Value {
    ops(root).args(["heartbeat", "--json"]).run().json()
}

/// The `--json` entry of the check `id`.
fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

fn status_msg(doc: &Value, id: &str) -> (String, String) {
    let c = check(doc, id);
    (c["status"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string())
}

/// A child process killed on drop.
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------
// TCP

#[test]
fn tcp_connects_to_a_listener_and_names_a_refused_port() {
    let root = TestRoot::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().to_string();
    let closed = format!("127.0.0.1:{}", free_port());
    root.write_config(&format!(
        "{QUIET}[[tcp]]\nname = \"web\"\naddress = \"{open}\"\n[[tcp]]\nname = \"gone\"\naddress = \"{closed}\"\ntimeout_ms = 1000\n"
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).run();
    run.expect_code(2);
    let doc = run.json();
    assert_eq!(status_msg(&doc, "tcp:web"), ("ok".into(), format!("connected to {open}")));
    let (st, msg) = status_msg(&doc, "tcp:gone");
    assert_eq!(st, "fail");
    assert!(msg.contains("refused") && msg.contains(&closed), "{msg}");
    assert_eq!(check(&doc, "tcp:gone")["target"], closed.as_str());
    let report = root.latest_report("heartbeat");
    assert!(report.contains("### TCP"), "{report}");
}

// ---------------------------------------------------------------------------
// Processes

/// `sleep 60` started through a link whose name holds `marker`, so the full
/// command line of the process holds it.
fn sleeper(dir: &Path, marker: &str) -> Kill {
    let link = dir.join(format!("sleep-{marker}"));
    if !link.exists() {
        std::os::unix::fs::symlink(which("sleep"), &link).unwrap();
    }
    Kill(Command::new(&link).arg("60").stdin(Stdio::null()).spawn().unwrap())
}

fn which(name: &str) -> PathBuf {
    ["/bin", "/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not found in /bin, /usr/bin, /usr/local/bin"))
}

#[test]
fn processes_are_counted_by_command_line_with_their_pids() {
    let root = TestRoot::new();
    let tmp = TempDir::new("procs");
    let one = format!("one{}", std::process::id());
    let two = format!("two{}", std::process::id());
    let none = format!("none{}", std::process::id());
    let a = sleeper(tmp.path(), &one);
    let b1 = sleeper(tmp.path(), &two);
    let b2 = sleeper(tmp.path(), &two);
    root.write_config(&format!(
        "{QUIET}
[[process]]
name = \"one\"
cmdline_contains = \"sleep-{one} 60\"
max = 1
[[process]]
name = \"two\"
cmdline_contains = \"sleep-{two}\"
max = 1
[[process]]
name = \"none\"
cmdline_contains = \"sleep-{none}\"
"
    ));
    let doc = heartbeat(&root);
    assert_eq!(status_msg(&doc, "process:one"), ("ok".into(), format!("1 running (PID {})", a.0.id())));
    let (lo, hi) = (b1.0.id().min(b2.0.id()), b1.0.id().max(b2.0.id()));
    assert_eq!(
        status_msg(&doc, "process:two"),
        ("fail".into(), format!("2 running (PIDs {lo}, {hi}), at most 1 expected"))
    );
    assert_eq!(status_msg(&doc, "process:none"), ("fail".into(), "none running, at least 1 expected".into()));
    // The config file names every marker, and ops-atomic's own command line
    // names the config: neither it nor its children are counted.
    drop((a, b1, b2));
}

// ---------------------------------------------------------------------------
// Files

fn set_mtime(path: &Path, ago: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - ago).unwrap();
}

/// Moves every size sample the file check `id` kept back by `secs`.
fn age_samples(root: &TestRoot, id: &str, secs: i64) {
    let mut state = root.state();
    let samples = state["checks"][id]["memo"]["samples"].as_array_mut().expect("samples in the state");
    for s in samples {
        s[0] = Value::from(s[0].as_i64().unwrap() - secs);
    }
    root.write_state(&state);
}

#[test]
fn files_missing_stale_and_not_growing_fail_and_rotation_counts_from_the_smaller_size() {
    let root = TestRoot::new();
    let log = root.write("var/app.log", &"x".repeat(100));
    let old = root.write("var/old.log", "old");
    set_mtime(&old, Duration::from_secs(3 * 3600));
    root.write_config(&format!(
        "{QUIET}
[[file]]
name = \"log\"
path = \"{}\"
min_growth_bytes = 50
window_hours = 1
[[file]]
name = \"old\"
path = \"{}\"
max_age_minutes = 60
[[file]]
name = \"missing\"
path = \"{}\"
severity = \"critical\"
",
        log.display(),
        old.display(),
        root.path("var/none.log").display()
    ));
    let doc = heartbeat(&root);
    let (st, msg) = status_msg(&doc, "file:log");
    assert_eq!(st, "ok");
    assert!(msg.contains("not enough history yet"), "{msg}");
    let (st, msg) = status_msg(&doc, "file:old");
    assert_eq!(st, "fail");
    assert!(msg.starts_with("not modified for 3 h (max_age_minutes 60)"), "{msg}");
    assert_eq!(status_msg(&doc, "file:missing"), ("fail".into(), "missing: no file at this path".into()));
    assert_eq!(doc["status"], "CRITICAL");

    // An hour later (samples moved back), it grew 80 bytes: ok.
    age_samples(&root, "file:log", 3700);
    std::fs::write(&log, "x".repeat(180)).unwrap();
    let (st, msg) = status_msg(&heartbeat(&root), "file:log");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.contains("grew 80 B in 1 h"), "{msg}");

    // Rotated (180 → 10), then grew to 30: 20 bytes counted from the smaller size.
    age_samples(&root, "file:log", 3700);
    std::fs::write(&log, "x".repeat(10)).unwrap();
    heartbeat(&root);
    std::fs::write(&log, "x".repeat(30)).unwrap();
    let (st, msg) = status_msg(&heartbeat(&root), "file:log");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.contains("grew 20 B in 1 h (min_growth_bytes 50)"), "{msg}");
    // Only the window and one older sample are kept.
    let kept = root.state()["checks"]["file:log"]["memo"]["samples"].as_array().unwrap().len();
    assert!(kept <= 4, "{kept} samples kept");
}

// ---------------------------------------------------------------------------
// Disks

#[test]
fn disk_thresholds_force_ok_warn_and_fail() {
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}
[[disk]]
name = \"ok\"
path = \"/\"
warn_free_percent = 0
min_free_percent = 0
[[disk]]
name = \"warn\"
path = \"{}\"
warn_free_percent = 100
min_free_percent = 0
[[disk]]
name = \"fail\"
path = \"/\"
min_free_gb = 1000000
",
        root.dir().display()
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).run();
    run.expect_code(2);
    let doc = run.json();
    let (st, msg) = status_msg(&doc, "disk:ok");
    assert_eq!(st, "ok");
    assert!(msg.contains(" free (") && msg.ends_with("%)"), "{msg}");
    let (st, msg) = status_msg(&doc, "disk:warn");
    assert_eq!(st, "warn");
    assert!(msg.ends_with("below warn_free_percent 100"), "{msg}");
    let (st, msg) = status_msg(&doc, "disk:fail");
    assert_eq!(st, "fail");
    assert!(msg.ends_with("below min_free_gb 1000000"), "{msg}");
}

// ---------------------------------------------------------------------------
// Commands

const PLUGINS: &str = "/usr/lib/nagios/plugins";

fn plugin(name: &str) -> String {
    let p = Path::new(PLUGINS).join(name);
    assert!(
        p.exists(),
        "{} is missing: the [[command]] tests run the real monitoring plugins; install them with `apt-get install -y monitoring-plugins-basic` (scripts/test.sh does)",
        p.display()
    );
    p.display().to_string()
}

fn script(root: &TestRoot, rel: &str, body: &str) -> PathBuf {
    let p = root.write(rel, &format!("#!/bin/sh\n{body}\n"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn the_real_monitoring_plugins_are_judged_by_their_exit_code_and_perfdata() {
    let root = TestRoot::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tmp = TempDir::new("plugin-procs");
    let marker = format!("plug{}", std::process::id());
    let _one = sleeper(tmp.path(), &marker);
    root.write_config(&format!(
        r#"{QUIET}
[[command]]
name = "dummy ok"
command = ["{dummy}", "0", "ok"]
[[command]]
name = "dummy boom"
command = ["{dummy}", "2", "boom"]
[[command]]
name = "dummy warn"
command = ["{dummy}", "1", "meh"]
[[command]]
name = "dummy unknown"
command = ["{dummy}", "3", "what"]
[[command]]
name = "tcp"
command = ["{tcp}", "-H", "127.0.0.1", "-p", "{port}"]
[[command]]
name = "disk"
command = ["{disk}", "-w", "0%", "-c", "0%", "-p", "/"]
[[command]]
name = "procs"
command = ["{procs}", "-a", "sleep-{marker}", "-w", "1:1", "-c", "1:1"]
[[command]]
name = "procs none"
command = ["{procs}", "-a", "absent-{marker}", "-w", "1:1", "-c", "1:1"]
"#,
        dummy = plugin("check_dummy"),
        tcp = plugin("check_tcp"),
        disk = plugin("check_disk"),
        procs = plugin("check_procs"),
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).run();
    let doc = run.json();
    assert_eq!(status_msg(&doc, "command:dummy ok"), ("ok".into(), "OK: ok".into()));
    assert_eq!(status_msg(&doc, "command:dummy boom"), ("fail".into(), "CRITICAL: boom".into()));
    assert_eq!(status_msg(&doc, "command:dummy warn"), ("warn".into(), "WARNING: meh".into()));
    assert_eq!(status_msg(&doc, "command:dummy unknown"), ("fail".into(), "UNKNOWN: what".into()));
    run.expect_code(2);

    let tcp = check(&doc, "command:tcp");
    assert_eq!(tcp["status"], "ok", "{tcp}");
    assert!(tcp["message"].as_str().unwrap().starts_with("TCP OK"), "{tcp}");
    assert!(!tcp["message"].as_str().unwrap().contains('|'), "{tcp}");
    assert_eq!(tcp["metrics"][0]["label"], "time", "{tcp}");
    assert_eq!(tcp["metrics"][0]["unit"], "s", "{tcp}");

    let disk = check(&doc, "command:disk");
    assert_eq!(disk["status"], "ok", "{disk}");
    assert_eq!(disk["metrics"][0]["label"], "/", "{disk}");
    assert!(disk["metrics"][0]["value"].as_f64().unwrap() > 0.0, "{disk}");

    let procs = check(&doc, "command:procs");
    assert_eq!(procs["status"], "ok", "{procs}");
    assert_eq!(procs["metrics"][0]["label"], "procs", "{procs}");
    assert_eq!(procs["metrics"][0]["value"], 1.0, "{procs}");
    let none = check(&doc, "command:procs none");
    assert_eq!(none["status"], "fail", "{none}");
    assert!(none["message"].as_str().unwrap().starts_with("PROCS CRITICAL: 0 processes"), "{none}");

    // The history line carries the metrics as {"label": value}.
    let line = root.history().pop().unwrap();
    let entry = line["checks"].as_array().unwrap().iter().find(|c| c["id"] == "command:tcp").unwrap().clone();
    assert!(entry["metrics"]["time"].as_f64().is_some(), "{entry}");
    let plain = line["checks"].as_array().unwrap().iter().find(|c| c["id"] == "command:dummy ok").unwrap().clone();
    assert!(plain.get("metrics").is_none(), "{plain}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("### Commands"), "{report}");
}

#[test]
fn scripts_with_odd_perfdata_timeouts_and_secrets() {
    let root = TestRoot::new();
    script(
        &root,
        "plugins/odd.sh",
        "echo \"ODD OK - fine | 'time to load'=0.25s;1;2;0; ''=1 size=12KB;;;; u=U junk\"\necho 'long line 1'\necho \"long line 2 | 'queue depth'=7;10;20\"\necho 'errors=0c'",
    );
    let marker = format!("ops-atomic-orphan-{}", std::process::id());
    script(&root, "plugins/hang.sh", &format!("sh -c 'sleep 30; true' {marker} &\nsleep 30"));
    script(&root, "plugins/leak.sh", "echo \"CRITICAL - token hunter2-tok leaked\"; exit 2");
    script(&root, "plugins/silent.sh", "echo oops >&2; exit 7");
    root.write_config(&format!(
        r#"{QUIET}
[discord]
webhook_url = "https://discord.com/api/webhooks/1/hunter2-tok"
[[command]]
name = "odd"
command = ["plugins/odd.sh"]
[[command]]
name = "hang"
command = ["plugins/hang.sh"]
timeout_s = 1
[[command]]
name = "leak"
command = ["plugins/leak.sh"]
[[command]]
name = "silent"
command = ["plugins/silent.sh"]
[[command]]
name = "missing"
command = ["plugins/nope.sh"]
"#
    ));
    let t = Instant::now();
    let run = ops(&root).args(["heartbeat", "--json", "--no-notify"]).run();
    assert!(t.elapsed() < Duration::from_secs(8), "{run}");
    let doc = run.json();
    let odd = check(&doc, "command:odd");
    assert_eq!(odd["status"], "ok", "{odd}");
    assert_eq!(odd["message"], "ODD OK - fine");
    let metrics: Vec<(String, f64, String)> = odd["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (m["label"].as_str().unwrap().into(), m["value"].as_f64().unwrap(), m["unit"].as_str().unwrap().into())
        })
        .collect();
    assert_eq!(
        metrics,
        vec![
            ("time to load".into(), 0.25, "s".into()),
            ("size".into(), 12.0, "KB".into()),
            ("queue depth".into(), 7.0, "".into()),
            ("errors".into(), 0.0, "c".into()),
        ]
    );
    let (st, msg) = status_msg(&doc, "command:hang");
    assert_eq!(st, "fail");
    assert!(msg.starts_with("timed out after 1 s"), "{msg}");
    // The whole process group died: nothing the script started is left.
    std::thread::sleep(Duration::from_millis(200));
    let left = Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", String::from_utf8_lossy(&left.stdout));
    let (st, msg) = status_msg(&doc, "command:leak");
    assert_eq!(st, "fail");
    assert!(!msg.contains("hunter2-tok") && msg.contains("***"), "{msg}");
    assert_eq!(status_msg(&doc, "command:silent"), ("fail".into(), "UNKNOWN (exit 7): oops".into()));
    let (st, msg) = status_msg(&doc, "command:missing");
    assert_eq!(st, "fail");
    assert!(msg.contains("program not found") && msg.contains("plugins/nope.sh"), "{msg}");
    let leaked: Vec<String> =
        root.files_containing("hunter2-tok").into_iter().filter(|f| !f.starts_with("plugins/")).collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

// ---------------------------------------------------------------------------
// Certificates

fn openssl() -> PathBuf {
    ["/usr/bin/openssl", "/usr/local/bin/openssl", "/opt/homebrew/bin/openssl"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("the openssl command is needed by the certificate tests: apt-get install -y openssl")
}

fn ssl(dir: &Path, args: &[&str]) {
    let out = Command::new(openssl()).args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA (`ca.pem`), and leaf certificates for 127.0.0.1 signed by it that
/// expire in 3 days (`soon.pem`) and expired yesterday (`expired.pem`), plus
/// a self-signed one (`self.pem`); all with the key `leaf.key`.
/// `[CERTIFICATE_EXPIRATION]` in a condition reads the real certificate (SPEC §16).
#[test]
fn a_certificate_condition_reads_the_real_certificate() {
    let root = TestRoot::new();
    let tmp = TempDir::new("certs");
    certificates(tmp.path());
    let (_soon, soon) = tls_server(tmp.path(), "soon.pem");
    let (_far, far) = tls_server(tmp.path(), "far.pem");
    let api = |name: &str, port: u16| {
        format!(
            "[[api]]\nname = \"{name}\"\nurl = \"https://127.0.0.1:{port}/\"\nconditions = [\"[STATUS] == 200\"]\nwarn_conditions = [\"[CERTIFICATE_EXPIRATION] > 240h\"]\n"
        )
    };
    root.write_config(&format!("{QUIET}{}{}", api("soon", soon), api("far", far)));
    let doc = ops(&root).args(["heartbeat", "--json"]).env("SSL_CERT_FILE", tmp.path().join("ca.pem")).run().json();
    let (st, msg) = status_msg(&doc, "api:soon");
    assert_eq!(st, "warn", "{msg}");
    assert!(
        msg.contains("warning: [CERTIFICATE_EXPIRATION] (2 d")
            || msg.contains("warning: [CERTIFICATE_EXPIRATION] (3 d"),
        "{msg}"
    );
    assert!(msg.ends_with(") > 240h"), "{msg}");
    let (st, msg) = status_msg(&doc, "api:far");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.ends_with("2 conditions met"), "{msg}");
    assert!(check(&doc, "api:far")["cert_expires_at"].is_string());
}

fn certificates(dir: &Path) {
    ssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=ops-atomic test CA",
        ],
    );
    ssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    for (name, days) in [("soon.pem", "3"), ("far.pem", "90"), ("expired.pem", "-1")] {
        ssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                days,
                "-extfile",
                "ext",
                "-out",
                name,
            ],
        );
    }
    ssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "leaf.key",
            "-out",
            "self.pem",
            "-days",
            "5",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
    );
}

/// `openssl s_server -www` with `cert` on a free port, until dropped.
fn tls_server(dir: &Path, cert: &str) -> (Kill, u16) {
    let port = free_port();
    let child = Command::new(openssl())
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string(), "-cert", cert, "-key", "leaf.key"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "openssl s_server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (Kill(child), port)
}

#[test]
fn certificates_expiring_soon_warn_and_expired_or_self_signed_fail() {
    let root = TestRoot::new();
    let tmp = TempDir::new("certs");
    certificates(tmp.path());
    let (_soon, soon) = tls_server(tmp.path(), "soon.pem");
    let (_far, far) = tls_server(tmp.path(), "far.pem");
    let (_expired, expired) = tls_server(tmp.path(), "expired.pem");
    let (_selfs, selfs) = tls_server(tmp.path(), "self.pem");
    let api = |name: &str, port: u16| {
        format!(
            "[[api]]\nname = \"{name}\"\nurl = \"https://127.0.0.1:{port}/\"\ncert_min_days = 14\ntimeout_ms = 5000\n"
        )
    };
    root.write_config(&format!(
        "{QUIET}{}{}{}{}",
        api("soon", soon),
        api("far", far),
        api("expired", expired),
        api("self-signed", selfs)
    ));
    let doc = ops(&root).args(["heartbeat", "--json"]).env("SSL_CERT_FILE", tmp.path().join("ca.pem")).run().json();
    let (st, msg) = status_msg(&doc, "api:soon");
    assert_eq!(st, "warn", "{msg}");
    assert!(msg.starts_with("HTTP 200; certificate expires in 2 days, on "), "{msg}");
    assert!(msg.ends_with("(cert_min_days 14)"), "{msg}");
    let at = check(&doc, "api:soon")["cert_expires_at"].as_str().unwrap().to_string();
    assert!(msg.contains(&at[..10]), "{msg} / {at}");
    let (st, msg) = status_msg(&doc, "api:far");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.contains("certificate valid until"), "{msg}");
    let (st, msg) = status_msg(&doc, "api:expired");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.starts_with("certificate expired on "), "{msg}");
    let (st, msg) = status_msg(&doc, "api:self-signed");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.starts_with("certificate not trusted"), "{msg}");
    assert!(check(&doc, "api:self-signed")["cert_expires_at"].is_string());

    // Without SSL_CERT_FILE the private CA is not trusted either.
    let doc = heartbeat(&root);
    assert!(status_msg(&doc, "api:soon").1.starts_with("certificate not trusted"), "{doc:#}");
}

#[test]
fn ssl_cert_file_matters_to_https_alone() {
    let root = TestRoot::new();
    let web = HttpStub::start();
    web.route("/health", Route::ok("fine"));
    root.write_config(&format!(
        "{QUIET}[[api]]\nname = \"plain\"\nurl = \"{}\"\n\n[[api]]\nname = \"tls\"\nurl = \"https://127.0.0.1:{}/\"\ntimeout_ms = 2000\n",
        web.url("/health"),
        web.port()
    ));
    let missing = root.path("no-such-ca.pem");
    let doc = ops(&root).args(["heartbeat", "--json"]).env("SSL_CERT_FILE", &missing).run().json();
    assert_eq!(status_msg(&doc, "api:plain"), ("ok".to_string(), "HTTP 200".to_string()), "{doc:#}");
    let (st, msg) = status_msg(&doc, "api:tls");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.contains("SSL_CERT_FILE") && msg.contains("no-such-ca.pem"), "{msg}");
}

// ---------------------------------------------------------------------------
// Self

#[test]
fn self_watches_the_agents_and_the_lock() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    let (st, msg) = status_msg(&heartbeat(&root), "self");
    assert_eq!((st.as_str(), msg.as_str()), ("ok", "no agents installed for this root"));
    let skipped = ops(&root).args(["heartbeat", "--json"]).no_launchctl().run().json();
    assert_eq!(status_msg(&skipped, "self").0, "skipped");

    ops(&root).arg("enable").run().expect_code(0);
    let (st, msg) = status_msg(&heartbeat(&root), "self");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.contains("monitor and daily agents loaded and up to date"), "{msg}");
    assert!(msg.contains("daily has not run yet"), "{msg}");

    // The monitor agent unloaded behind our back.
    let label = "com.02luka.ops_atomic_monitor";
    root.launchctl().run(&["bootout", &format!("gui/{}/{label}", root.launchctl().uid())]);
    let (st, msg) = status_msg(&heartbeat(&root), "self");
    assert_eq!(st, "warn", "{msg}");
    assert!(msg.contains(&format!("the monitor agent {label} is installed but not loaded")), "{msg}");

    // The daily plist edited and two days old, with no daily run since.
    ops(&root).arg("enable").run().expect_code(0);
    let daily = root.agents_dir().join("com.02luka.ops_atomic_daily.plist");
    let text = std::fs::read_to_string(&daily).unwrap().replace("<integer>2</integer>", "<integer>3</integer>");
    std::fs::write(&daily, text).unwrap();
    set_mtime(&daily, Duration::from_secs(48 * 3600));
    let (st, msg) = status_msg(&heartbeat(&root), "self");
    assert_eq!(st, "warn", "{msg}");
    assert!(msg.contains("the daily agent's plist is stale"), "{msg}");
    assert!(msg.contains("no daily run since the daily agent was installed 2 d ago"), "{msg}");
    ops(&root).args(["enable", "daily"]).run().expect_code(0);
    root.write("g/reports/ops_atomic/daily_2020-01-01_02-00-00.md", "old");
    let (st, msg) = status_msg(&heartbeat(&root), "self");
    assert_eq!(st, "warn", "{msg}");
    assert!(msg.contains("the last daily run was") && msg.contains("(more than 26 h)"), "{msg}");
}

#[test]
fn self_warns_when_another_run_holds_the_lock_for_over_a_minute() {
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}[self]\nseverity = \"warning\"\n"));
    let lock = root.write(STATE_LOCK, "pid 1 (heartbeat, since 2020-01-01T00:00:00.000Z)\n");
    // A holder that is not this test process: flock(1) holding it.
    let holder = Kill(
        Command::new("flock")
            .arg(&lock)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("flock (util-linux) is needed by this test"),
    );
    std::thread::sleep(Duration::from_millis(300));
    let run = ops(&root).arg("heartbeat").env("OPS_ATOMIC_LOCK_WAIT_MS", "200").run();
    // The heartbeat itself cannot take the lock (exit 3), but its checks ran
    // first and are logged.
    run.expect_code(3);
    let line = run.stdout.lines().find(|l| l.contains("ops-atomic:")).unwrap_or_else(|| panic!("{run}"));
    assert!(line.contains("the state lock has been held for") && line.contains("by pid 1 (heartbeat)"), "{run}");
    drop(holder);
}

// ---------------------------------------------------------------------------
// Configuration

#[test]
fn every_new_key_is_validated_by_name_and_shown() {
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}
[[tcp]]
name = \"t\"
address = \"nohost\"
[[process]]
name = \"p\"
cmdline_contains = \"\"
min = 3
max = 2
[[file]]
name = \"f\"
path = \"~/x.log\"
window_hours = 0
[[disk]]
name = \"d\"
path = \"/\"
warn_free_percent = 120
[[command]]
name = \"c\"
command = []
timeout_s = 0
[[api]]
name = \"a\"
url = \"http://127.0.0.1:1/\"
cert_min_days = 5
"
    ));
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    for key in [
        "tcp[0].address",
        "process[0].cmdline_contains",
        "process[0].min",
        "file[0].path",
        "file[0].window_hours",
        "disk[0].warn_free_percent",
        "command[0].command",
        "command[0].timeout_s",
        "api[0].cert_min_days",
    ] {
        assert!(run.output().contains(key), "{key} not named:\n{run}");
    }

    root.write_config(&format!(
        "{QUIET}[[tcp]]\nname = \"t\"\naddress = \"127.0.0.1:1\"\n[[disk]]\nname = \"d\"\n[[command]]\nname = \"c\"\ncommand = [\"true\"]\n[self]\nenabled = false\n"
    ));
    let shown = ops(&root).args(["config", "show"]).run();
    shown.expect_code(0);
    for text in [
        "[[tcp]]",
        "address = \"127.0.0.1:1\"",
        "[[disk]]",
        "warn_free_percent = 15",
        "[[command]]",
        "timeout_s = 10",
        "[self]",
        "enabled = false",
    ] {
        assert!(shown.stdout.contains(text), "{text} not shown:\n{shown}");
    }
}
