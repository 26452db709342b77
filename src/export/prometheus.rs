//! The Prometheus textfile (SPEC §11): the text exposition format that
//! node_exporter's textfile collector reads from
//! `--collector.textfile.directory`. Every metric has `# HELP` and `# TYPE`,
//! label values are escaped (`\\`, `\"`, `\n`), samples carry no timestamp
//! (the collector refuses them), and nothing a check saw is written: no
//! message, no target, so no secret and no service error can leak.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Exporter, Run};
use crate::checks::{CheckResult, CheckStatus};
use crate::state::State;

/// The textfile exporter: `export.prometheus_textfile`.
pub struct Textfile {
    pub path: PathBuf,
}

/// 0644: node_exporter may run as another user (a system service), and the
/// file holds only names and numbers (the README says so).
const MODE: u32 = 0o644;

impl Exporter for Textfile {
    fn label(&self) -> &'static str {
        "Prometheus textfile"
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn mode(&self) -> u32 {
        MODE
    }
    fn render(&self, run: &Run) -> String {
        render(run)
    }
}

/// One value of a check's performance data.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfValue {
    pub label: String,
    pub value: f64,
    /// `s`, `%`, `B`, … or empty.
    pub unit: String,
}

/// What the file says about one check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub severity: String,
    pub status: CheckStatus,
    pub latency_ms: u64,
    /// An incident is open (the state's `down`).
    pub down: bool,
    /// A command check's performance data.
    pub metrics: Vec<PerfValue>,
    /// When an https API's certificate expires.
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// The numbers its conditions read: (placeholder, value).
    pub values: Vec<(String, f64)>,
}

impl CheckRow {
    pub fn of(r: &CheckResult, state: &State) -> CheckRow {
        CheckRow {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.to_string(),
            severity: r.severity.as_str().to_string(),
            status: r.status,
            latency_ms: r.latency_ms,
            down: state.checks.get(&r.id).is_some_and(|c| c.down),
            metrics: r
                .metrics
                .iter()
                .map(|m| PerfValue { label: m.label.clone(), value: m.value, unit: m.unit.clone() })
                .collect(),
            cert_expires_at: r.cert_expires_at,
            values: r.values.iter().map(|v| (v.placeholder.clone(), v.value)).collect(),
        }
    }
}

/// The whole file for one heartbeat.
pub fn render(run: &Run) -> String {
    let rows: Vec<CheckRow> = run.results.iter().map(|r| CheckRow::of(r, run.state)).collect();
    exposition(run, &rows)
}

/// One metric family: its samples, each a label set and a value.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn gauge(name: &'static str, help: &'static str) -> Family {
        Family { name, help, kind: "gauge", samples: Vec::new() }
    }
    fn counter(name: &'static str, help: &'static str) -> Family {
        Family { name, help, kind: "counter", samples: Vec::new() }
    }
    fn add(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }
}

/// The text of `run` with the checks in `rows`. Families without a sample
/// (no command check, no certificate) are left out.
pub fn exposition(run: &Run, rows: &[CheckRow]) -> String {
    let mut up = Family::gauge(
        "ops_atomic_check_up",
        "Whether the check passed in the last heartbeat: 1 ok or warn, 0 fail (absent when skipped).",
    );
    let mut status =
        Family::gauge("ops_atomic_check_status", "The check's last result: 0 ok, 1 warn, 2 fail, 3 skipped.");
    let mut latency =
        Family::gauge("ops_atomic_check_latency_seconds", "How long the check took in the last heartbeat.");
    let mut down = Family::gauge("ops_atomic_check_down", "1 while the check is DOWN (an incident is open), else 0.");
    let mut perf = Family::gauge("ops_atomic_check_metric", "A command check's performance data, by label and unit.");
    let mut value = Family::gauge(
        "ops_atomic_check_value",
        "A number a check's condition read: a queue depth, a JSON field, a row count (durations in milliseconds).",
    );
    let mut cert = Family::gauge(
        "ops_atomic_cert_expiry_timestamp_seconds",
        "When the certificate of an https API check expires (Unix time).",
    );
    for r in rows {
        let labels = || {
            vec![
                ("check", r.id.clone()),
                ("name", r.name.clone()),
                ("kind", r.kind.clone()),
                ("severity", r.severity.clone()),
            ]
        };
        let code = match r.status {
            CheckStatus::Ok => 0.0,
            CheckStatus::Warn => 1.0,
            CheckStatus::Fail => 2.0,
            CheckStatus::Skipped => 3.0,
        };
        if r.status != CheckStatus::Skipped {
            up.add(labels(), if r.status == CheckStatus::Fail { 0.0 } else { 1.0 });
        }
        status.add(labels(), code);
        latency.add(labels(), r.latency_ms as f64 / 1000.0);
        down.add(labels(), if r.down { 1.0 } else { 0.0 });
        let mut seen = std::collections::HashSet::new();
        for m in &r.metrics {
            // A label set appears once per family: a plugin that repeats a label keeps its first value.
            if seen.insert((&m.label, &m.unit)) {
                perf.add(vec![("check", r.id.clone()), ("metric", m.label.clone()), ("unit", m.unit.clone())], m.value);
            }
        }
        for (placeholder, v) in &r.values {
            value.add(vec![("check", r.id.clone()), ("placeholder", placeholder.clone())], *v);
        }
        if let Some(t) = r.cert_expires_at {
            cert.add(vec![("check", r.id.clone())], t.timestamp() as f64);
        }
    }
    let host = || vec![("host", run.host.to_string())];
    let mut overall =
        Family::gauge("ops_atomic_status", "The last heartbeat's overall status: 0 HEALTHY, 1 WARNINGS, 2 CRITICAL.");
    overall.add(host(), f64::from(run.status.exit_code()));
    let mut last = Family::gauge("ops_atomic_last_run_timestamp_seconds", "When the last heartbeat ran (Unix time).");
    last.add(host(), run.now.timestamp_millis() as f64 / 1000.0);
    let mut duration = Family::gauge("ops_atomic_run_duration_seconds", "How long the last heartbeat took.");
    duration.add(host(), run.duration_ms as f64 / 1000.0);
    let mut runs = Family::counter("ops_atomic_runs_total", "Heartbeats that reached the state (the state's runs).");
    runs.add(host(), run.state.runs as f64);
    let mut pending =
        Family::gauge("ops_atomic_pending_notifications", "Messages queued for a channel and not delivered yet.");
    let mut by_channel: BTreeMap<&str, usize> = run.channels.iter().map(|c| (c.as_str(), 0)).collect();
    for n in &run.state.pending_notifications {
        *by_channel.entry(n.channel.as_str()).or_default() += 1;
    }
    for (channel, n) in by_channel {
        pending.add(vec![("channel", channel.to_string())], n as f64);
    }

    let [jruns, jfail, jrunning, jdur, jlast, jok, jlastdur] = job_families(&run.jobs);

    let mut out = String::new();
    for f in [
        up, status, latency, down, perf, value, cert, overall, last, duration, runs, pending, jruns, jfail, jrunning,
        jdur, jlast, jok, jlastdur,
    ] {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(f.help));
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = writeln!(out, "{}{{{}}} {}", f.name, labels.join(","), number(*value));
        }
    }
    out
}

/// The jobs' families (SPEC §20), labelled `check` (`job:<name>`) and
/// `name`, never `job`, which Prometheus gives the scrape job.
fn job_families(jobs: &[crate::jobs::Stats]) -> [Family; 7] {
    let mut runs = Family::gauge("ops_atomic_job_runs", "Runs of the job that started in the last 24 hours.");
    let mut failures = Family::gauge(
        "ops_atomic_job_failures",
        "Of those, the runs that failed: exit code not 0, timed out, killed, or never finished.",
    );
    let mut running = Family::gauge("ops_atomic_job_running", "Runs of the job going on now.");
    let mut duration = Family::gauge(
        "ops_atomic_job_duration_seconds",
        "Durations of the job's runs in the last 24 hours, p50 and p95.",
    );
    let mut last =
        Family::gauge("ops_atomic_job_last_run_timestamp_seconds", "When the job's newest run started (Unix time).");
    let mut ok = Family::gauge(
        "ops_atomic_job_last_success",
        "Whether the job's newest finished run succeeded: 1 yes, 0 no (absent while it runs).",
    );
    let mut last_duration =
        Family::gauge("ops_atomic_job_last_duration_seconds", "How long the job's newest finished run took.");
    for j in jobs {
        let labels = || vec![("check", j.id.clone()), ("name", j.name.clone())];
        runs.add(labels(), j.runs as f64);
        failures.add(labels(), j.failures as f64);
        running.add(labels(), j.running as f64);
        for (q, v) in [("0.5", j.p50_ms), ("0.95", j.p95_ms)] {
            if let Some(ms) = v {
                let mut l = labels();
                l.push(("quantile", q.to_string()));
                duration.add(l, ms as f64 / 1000.0);
            }
        }
        if let Some(l) = &j.last {
            last.add(labels(), l.started.timestamp_millis() as f64 / 1000.0);
            match l.outcome.as_str() {
                "running" => {}
                outcome => ok.add(labels(), if outcome == "ok" { 1.0 } else { 0.0 }),
            }
            if let Some(ms) = l.duration_ms {
                last_duration.add(labels(), ms as f64 / 1000.0);
            }
        }
    }
    [runs, failures, running, duration, last, ok, last_duration]
}

/// A label value as the format quotes it: backslash, double quote and line feed escaped.
pub fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// HELP text: backslash and line feed escaped.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: Go's float syntax, which Rust's `Display` matches except
/// for the infinities.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Ident, Severity};
    use crate::exit::Status;
    use crate::state::{CheckState, Notification, NotificationKind};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-28T02:00:00.250Z").unwrap().with_timezone(&Utc)
    }

    fn result(id: &str, name: &str, status: CheckStatus, latency_ms: u64) -> CheckResult {
        let who = Ident {
            id: id.into(),
            name: name.into(),
            kind: "api",
            section: "API Endpoints",
            severity: Severity::Critical,
            target: "https://user:hunter2@example.com/health".into(),
        };
        let mut r = CheckResult::new(&who, status, "HTTP 500 from https://user:hunter2@example.com token=hunter2");
        r.latency_ms = latency_ms;
        r
    }

    fn state() -> State {
        let mut st = State { runs: 41, ..State::default() };
        st.checks.insert("api:down".into(), CheckState { down: true, ..CheckState::default() });
        let pending = |channel: &str| Notification {
            channel: channel.into(),
            kind: NotificationKind::Alert,
            created_at: now(),
            payload: serde_json::json!({"content": "Redis down"}),
            attempts: 1,
            last_error: None,
            message: None,
            held: false,
        };
        st.pending_notifications = vec![pending("discord"), pending("discord"), pending("slack")];
        st
    }

    fn run<'a>(results: &'a [CheckResult], st: &'a State) -> Run<'a> {
        Run {
            host: "mac-mini",
            results,
            state: st,
            status: Status::Critical,
            duration_ms: 1234,
            now: now(),
            channels: vec!["discord".into(), "ntfy".into()],
            jobs: Vec::new(),
        }
    }

    #[test]
    fn every_metric_of_section_11_with_help_type_and_values() {
        let results = [
            result("api:down", "Down API", CheckStatus::Fail, 12),
            result("api:ok", "OK API", CheckStatus::Ok, 3),
            result("api:slow", "Slow API", CheckStatus::Warn, 2500),
            result("launchagent:x", "x", CheckStatus::Skipped, 0),
        ];
        let st = state();
        let text = render(&run(&results, &st));
        let l = |id: &str, name: &str| format!("{{check=\"{id}\",name=\"{name}\",kind=\"api\",severity=\"critical\"}}");
        for line in [
            format!("ops_atomic_check_up{} 0", l("api:down", "Down API")),
            format!("ops_atomic_check_up{} 1", l("api:ok", "OK API")),
            format!("ops_atomic_check_up{} 1", l("api:slow", "Slow API")),
            format!("ops_atomic_check_status{} 2", l("api:down", "Down API")),
            format!("ops_atomic_check_status{} 1", l("api:slow", "Slow API")),
            format!("ops_atomic_check_status{} 3", l("launchagent:x", "x")),
            format!("ops_atomic_check_latency_seconds{} 0.012", l("api:down", "Down API")),
            format!("ops_atomic_check_latency_seconds{} 2.5", l("api:slow", "Slow API")),
            format!("ops_atomic_check_down{} 1", l("api:down", "Down API")),
            format!("ops_atomic_check_down{} 0", l("api:ok", "OK API")),
            "ops_atomic_status{host=\"mac-mini\"} 2".into(),
            "ops_atomic_last_run_timestamp_seconds{host=\"mac-mini\"} 1761616800.25".into(),
            "ops_atomic_run_duration_seconds{host=\"mac-mini\"} 1.234".into(),
            "ops_atomic_runs_total{host=\"mac-mini\"} 41".into(),
            "ops_atomic_pending_notifications{channel=\"discord\"} 2".into(),
            "ops_atomic_pending_notifications{channel=\"ntfy\"} 0".into(),
            "ops_atomic_pending_notifications{channel=\"slack\"} 1".into(),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(
            !text.contains("ops_atomic_check_up{check=\"launchagent:x\""),
            "a skipped check is neither up nor down"
        );
        // Every family: HELP then TYPE, once, before its samples.
        let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).collect();
        assert_eq!(names.len(), 9, "{text}");
        for t in names {
            let name = t.split(' ').next().unwrap();
            let help = text.find(&format!("# HELP {name} ")).unwrap();
            let ty = text.find(&format!("# TYPE {name} ")).unwrap();
            let first = text.find(&format!("\n{name}{{")).unwrap();
            assert!(help < ty && ty < first, "{name}");
        }
        assert!(text.contains("# TYPE ops_atomic_runs_total counter"));
        assert!(!text.contains("ops_atomic_check_metric"), "no performance data, no family");
    }

    #[test]
    fn no_message_target_or_secret_reaches_the_file() {
        let results = [result("api:down", "Down API", CheckStatus::Fail, 12)];
        let st = state();
        let text = render(&run(&results, &st));
        for leak in ["hunter2", "example.com", "HTTP 500", "Redis down"] {
            assert!(!text.contains(leak), "{leak} leaked:\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b "q" c"#), r#"a\\b \"q\" c"#);
        assert_eq!(escape_label("two\nlines"), "two\\nlines");
        let results = [result("api:we\"ird\\name", "We \"ird\"\nname", CheckStatus::Ok, 1)];
        let st = State::default();
        let text = render(&run(&results, &st));
        assert!(text.contains(r#"{check="api:we\"ird\\name",name="We \"ird\"\nname",kind="api""#), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("ops_atomic_check_up")).count(), 1);
    }

    #[test]
    fn command_metrics_and_certificate_expiry_when_a_check_has_them() {
        // The shape the exporter writes once CheckResult carries them (see CheckRow::of).
        let st = State::default();
        let mut row = CheckRow::of(&result("command:load", "Load", CheckStatus::Ok, 5), &st);
        row.metrics = vec![
            PerfValue { label: "load1".into(), value: 0.52, unit: String::new() },
            PerfValue { label: "disk \"/\"".into(), value: 81.0, unit: "%".into() },
            PerfValue { label: "load1".into(), value: 9.0, unit: String::new() },
        ];
        let mut api = CheckRow::of(&result("api:site", "Site", CheckStatus::Ok, 5), &st);
        api.cert_expires_at = Some(now());
        let text = exposition(&run(&[], &st), &[row, api]);
        assert!(text.contains("# TYPE ops_atomic_check_metric gauge\n"), "{text}");
        assert!(
            text.contains("ops_atomic_check_metric{check=\"command:load\",metric=\"load1\",unit=\"\"} 0.52\n"),
            "{text}"
        );
        assert!(
            text.contains("ops_atomic_check_metric{check=\"command:load\",metric=\"disk \\\"/\\\"\",unit=\"%\"} 81\n"),
            "{text}"
        );
        assert!(!text.contains("} 9\n"), "a repeated label keeps its first value: {text}");
        assert!(text.contains("# TYPE ops_atomic_cert_expiry_timestamp_seconds gauge\n"), "{text}");
        assert!(text.contains("ops_atomic_cert_expiry_timestamp_seconds{check=\"api:site\"} 1761616800\n"), "{text}");
    }

    #[test]
    fn numbers_use_the_format_of_the_exposition() {
        assert_eq!(number(0.000_000_1), "0.0000001");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(3.0), "3");
    }
}
