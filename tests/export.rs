//! The Prometheus textfile (SPEC §11) read by the real node_exporter: a
//! heartbeat with a real passing check (Redis) and a real failing one
//! (PostgreSQL on a port nothing listens on) writes the file, node_exporter's
//! textfile collector reads it, and its `/metrics` holds every ops-atomic
//! metric with the right values and `node_textfile_scrape_error 0`.
//!
//! node_exporter comes from Debian's `prometheus-node-exporter` (scripts/test.sh
//! installs it; env `OPS_ATOMIC_NODE_EXPORTER` names another binary). A
//! missing binary fails the test; it is never skipped.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// node_exporter on a free loopback port with only the textfile collector.
struct NodeExporter {
    port: u16,
    process: Guarded,
    _dir: TempDir,
}

impl NodeExporter {
    fn start(textfile_dir: &Path) -> NodeExporter {
        let program = find_program(
            "prometheus-node-exporter",
            "OPS_ATOMIC_NODE_EXPORTER",
            "Install it with `sudo apt-get install -y prometheus-node-exporter` (macOS: `brew install node_exporter`)",
        );
        // Old releases lack --collector.disable-defaults: then every default
        // collector runs too, which changes nothing for the textfile metrics.
        let help = Command::new(&program).arg("--help").output().expect("node_exporter --help");
        let help = String::from_utf8_lossy(&help.stdout).to_string() + &String::from_utf8_lossy(&help.stderr);
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = TempDir::new("node-exporter");
            let port = free_port();
            let mut args: Vec<OsString> = vec![
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                format!("--collector.textfile.directory={}", textfile_dir.display()).into(),
            ];
            if help.contains("--collector.disable-defaults") {
                args.push("--collector.disable-defaults".into());
                args.push("--collector.textfile".into());
            }
            let process = Guarded::spawn(Spawn {
                name: "node_exporter",
                program: &program,
                args,
                stop_signal: "TERM",
                log: &dir.path().join("node_exporter.log"),
                cleanup: None,
                cwd: dir.path(),
                as_server_user: false,
            });
            let mut ne = NodeExporter { port, process, _dir: dir };
            if ne.wait_ready() {
                return ne;
            }
            last_log = ne.process.log();
            if !last_log.contains("address already in use") {
                break;
            }
        }
        panic!("node_exporter did not start:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.process.exited().is_some() {
                return false;
            }
            if self.get("/metrics").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node_exporter did not answer within 15 s:\n{}", self.process.log());
    }

    /// The body of a GET, or None when nothing answered.
    fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?;
        (status == "200").then(|| body.to_string())
    }

    fn scrape(&self) -> Scrape {
        let body = self.get("/metrics").unwrap_or_else(|| panic!("no /metrics:\n{}", self.process.log()));
        Scrape::parse(&body)
    }
}

/// One sample: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed `/metrics` page.
struct Scrape {
    text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(parse_sample).collect();
        Scrape { text: text.to_string(), samples }
    }

    /// The samples of `name` whose labels include `labels`.
    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .collect()
    }

    /// The one value of `name` with `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.find(name, labels);
        assert_eq!(found.len(), 1, "{name}{labels:?}: {found:?}\n{}", self.ops_lines());
        found[0].value
    }

    fn ops_lines(&self) -> String {
        self.text
            .lines()
            .filter(|l| l.contains("ops_atomic_") || l.contains("node_textfile"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `name{k="v",…} value`, with the format's escapes in label values.
fn parse_sample(line: &str) -> Sample {
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let (n, v) = line.split_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
            return Sample { name: n.into(), labels: BTreeMap::new(), value: v.trim().parse().expect(line) };
        }
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        let key: String =
            chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim_start_matches(',').to_string();
        if key.starts_with('}') || key.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "{line}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => panic!("{line}"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        if chars.peek() == Some(&'}') {
            chars.next();
            break;
        }
    }
    let value: String = chars.collect();
    Sample { name: name.into(), labels, value: value.trim().parse().unwrap_or_else(|e| panic!("{line}: {e}")) }
}

const PASSWORD: &str = "s3cret-redis-pw_do-not-leak";

fn config(redis: &Redis, textfile: &Path, sink: &WebhookSink, dead_pg_port: u16) -> String {
    format!(
        r#"
[monitor]
alert_threshold = 1
host_name = 'mac "mini" \ 1'
[redis]
url = "{}"
[database]
url = "postgres://ops:pg-pass_do-not-leak@127.0.0.1:{dead_pg_port}/ops"
timeout_ms = 2000
[discord]
webhook_url = "{}"
[export]
prometheus_textfile = "{}"
[[command]]
name = "load"
command = ["printf", "OK - load fine | load1=0.5;2;3;0; 'disk used'=42%%;80;90\\n"]
"#,
        redis.url(),
        sink.url(),
        textfile.display()
    )
}

#[test]
fn node_exporter_reads_every_metric_with_its_value() {
    let root = TestRoot::new();
    let redis = Redis::start_with_password(PASSWORD);
    let sink = WebhookSink::start();
    // Delivery fails, so the alert stays pending for the metric.
    sink.set_default(SinkReply::ServerError);
    let textfiles = TempDir::new("textfile");
    let textfile: PathBuf = textfiles.path().join("ops_atomic.prom");
    root.write_config(&config(&redis, &textfile, &sink, free_port()));
    let exporter = NodeExporter::start(textfiles.path());

    let before = now_s();
    ops(&root).arg("heartbeat").run().expect_code(2);
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(2);
    let after = now_s();
    assert!(run.stdout.contains(&format!("Prometheus textfile written: {}", textfile.display())), "{run}");

    let file = std::fs::read_to_string(&textfile).unwrap();
    for secret in [PASSWORD, "pg-pass_do-not-leak", WebhookSink::TOKEN, "connection refused", "127.0.0.1"] {
        assert!(!file.to_lowercase().contains(&secret.to_lowercase()), "{secret} in the textfile:\n{file}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777, 0o644);
    let leftovers: Vec<_> = std::fs::read_dir(textfiles.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the .prom file, no temporary file: {leftovers:?}");

    let m = exporter.scrape();
    assert_eq!(m.value("node_textfile_scrape_error", &[]), 0.0, "{}", m.ops_lines());
    let redis_l = [("check", "redis"), ("name", "Redis"), ("kind", "redis"), ("severity", "critical")];
    let db_l = [("check", "database"), ("name", "Database"), ("kind", "database"), ("severity", "critical")];
    assert_eq!(m.value("ops_atomic_check_up", &redis_l), 1.0);
    assert_eq!(m.value("ops_atomic_check_up", &db_l), 0.0);
    assert_eq!(m.value("ops_atomic_check_status", &redis_l), 0.0);
    assert_eq!(m.value("ops_atomic_check_status", &db_l), 2.0);
    let latency = m.value("ops_atomic_check_latency_seconds", &redis_l);
    assert!((0.0..2.0).contains(&latency), "{latency}");
    assert!(m.value("ops_atomic_check_latency_seconds", &db_l) >= 0.0);
    assert_eq!(m.value("ops_atomic_check_down", &redis_l), 0.0);
    assert_eq!(m.value("ops_atomic_check_down", &db_l), 1.0, "DOWN after alert_threshold = 1 failure");
    let host = [("host", "mac \"mini\" \\ 1")];
    assert_eq!(m.value("ops_atomic_status", &host), 2.0);
    assert_eq!(m.value("ops_atomic_runs_total", &host), 2.0);
    let last = m.value("ops_atomic_last_run_timestamp_seconds", &host);
    assert!(before <= last && last <= after, "{before} <= {last} <= {after}");
    let took = m.value("ops_atomic_run_duration_seconds", &host);
    assert!((0.0..30.0).contains(&took), "{took}");
    assert_eq!(m.value("ops_atomic_pending_notifications", &[("channel", "discord")]), 1.0, "{}", m.ops_lines());
    // A command check's performance data, through node_exporter.
    let load = [("check", "command:load"), ("metric", "load1")];
    assert_eq!(m.value("ops_atomic_check_metric", &load), 0.5, "{}", m.ops_lines());
    assert_eq!(m.value("ops_atomic_check_metric", &[("check", "command:load"), ("metric", "disk used")]), 42.0);
    // Every ops-atomic family carries HELP and TYPE through node_exporter.
    for (name, kind) in [
        ("ops_atomic_check_up", "gauge"),
        ("ops_atomic_check_status", "gauge"),
        ("ops_atomic_check_latency_seconds", "gauge"),
        ("ops_atomic_check_down", "gauge"),
        ("ops_atomic_status", "gauge"),
        ("ops_atomic_last_run_timestamp_seconds", "gauge"),
        ("ops_atomic_run_duration_seconds", "gauge"),
        ("ops_atomic_runs_total", "counter"),
        ("ops_atomic_pending_notifications", "gauge"),
    ] {
        assert!(m.text.contains(&format!("# HELP {name} ")), "{name} has no HELP:\n{}", m.ops_lines());
        assert!(m.text.contains(&format!("# TYPE {name} {kind}\n")), "{name} is not a {kind}:\n{}", m.ops_lines());
    }
    for secret in [PASSWORD, "pg-pass_do-not-leak", WebhookSink::TOKEN] {
        assert!(!m.text.contains(secret), "{secret} in /metrics");
    }

    // Redis goes away: the next heartbeat's file says so, and is read whole.
    drop(redis);
    ops(&root).arg("heartbeat").run().expect_code(2);
    let m = exporter.scrape();
    assert_eq!(m.value("node_textfile_scrape_error", &[]), 0.0);
    assert_eq!(m.value("ops_atomic_check_up", &redis_l), 0.0);
    assert_eq!(m.value("ops_atomic_check_down", &redis_l), 1.0);
    assert_eq!(m.value("ops_atomic_runs_total", &host), 3.0);
}

#[test]
fn an_export_that_cannot_be_written_is_a_warning_not_an_exit_code() {
    let root = TestRoot::new();
    let redis = Redis::start();
    let missing = root.path("no/such/folder/ops_atomic.prom");
    root.write_config(&format!(
        "[redis]\nurl = \"{}\"\n[database]\nenabled = false\n[export]\nprometheus_textfile = \"{}\"\n",
        redis.url(),
        missing.display()
    ));
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(0);
    assert!(
        run.stdout.contains("[WARN] Prometheus textfile not written: the folder")
            && run.stdout.contains("does not exist"),
        "{run}"
    );
    assert!(!missing.exists());
}

#[test]
fn a_bad_textfile_path_is_a_config_error() {
    let root = TestRoot::new();
    root.write_config("[export]\nprometheus_textfile = \"~/metrics/ops.txt\"\n");
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("export.prometheus_textfile"), "{run}");
}

fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}
