//! The push to a Prometheus Pushgateway (SPEC §18): laptops sit behind NAT,
//! VPNs and closed lids, so they cannot be scraped; after every heartbeat
//! the textfile's metrics (rendered by [`super::prometheus`], never twice)
//! are `PUT` to `<url>/metrics/job/ops_atomic/instance/<instance>`, with a
//! `machine_id` label on every sample and the few facts a fleet needs to
//! tell a sleeping Mac from a dead one (when it last slept, woke, and what
//! a down check's root cause is).
//!
//! The push runs last, after the state, the messages and the report stand:
//! a slow or refusing Pushgateway costs at most its bound and is a WARN line
//! and a `push_failed` event, retried by the next run, never an alert.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Run;
use super::prometheus::escape_label;
use crate::config::Export;
use crate::paths::Paths;

/// The Pushgateway job every Mac pushes under.
pub const JOB: &str = "ops_atomic";

/// What the push adds to the textfile's metrics.
pub struct Extra<'a> {
    pub machine_id: &'a str,
    /// How long the machine slept before this run, if it did.
    pub slept_s: Option<i64>,
    /// The last run that followed a sleep.
    pub last_wake: Option<DateTime<Utc>>,
}

/// Every problem in the push's keys, each naming its key.
pub fn validate(cfg: &Export) -> Vec<String> {
    let mut errs = Vec::new();
    let u = &cfg.pushgateway_url;
    if !u.is_empty() {
        match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host_str().is_some() => {}
            _ => errs.push(format!(
                "export.pushgateway_url = {:?}: not an http(s) URL; give the Pushgateway's base, e.g. \"http://pushgateway.lan:9091\"",
                crate::secret::redact_url(u)
            )),
        }
    }
    crate::validate::headers(&mut errs, "export.pushgateway_headers", &cfg.pushgateway_headers);
    if cfg.instance.chars().any(char::is_control) {
        errs.push(format!("export.instance = {:?}: must not contain control characters", cfg.instance));
    }
    if cfg.timeout_ms == 0 || cfg.timeout_ms > 60_000 {
        errs.push(format!("export.timeout_ms = {}: give 1..60000 milliseconds (default 2000)", cfg.timeout_ms));
    }
    errs
}

/// The grouping path for `instance`: plain when it is a safe URL path
/// segment, else Pushgateway's `instance@base64/<url-safe base64>` form
/// (a slash, a space, an empty name).
pub fn grouping_path(instance: &str) -> String {
    let plain = !instance.is_empty()
        && instance.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
        && instance != "."
        && instance != "..";
    if plain {
        format!("/metrics/job/{JOB}/instance/{instance}")
    } else {
        format!("/metrics/job/{JOB}/instance@base64/{}", base64_url(instance.as_bytes()))
    }
}

/// RFC 4648 §5 (URL- and filename-safe) base64 with padding; "=" for
/// nothing, as Pushgateway reads an empty label value.
fn base64_url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if bytes.is_empty() {
        return "=".into();
    }
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The body: the textfile's text with `machine_id` on every sample, then the
/// fleet's own families. Pure.
pub fn body(run: &Run, extra: &Extra) -> String {
    let id = escape_label(extra.machine_id);
    let mut out = String::new();
    for line in super::prometheus::render(run).lines() {
        // Every sample of the textfile has a label set, so `{` opens it.
        match line.split_once('{') {
            Some((name, rest)) if !line.starts_with('#') => {
                let _ = writeln!(out, "{name}{{machine_id=\"{id}\",{rest}");
            }
            _ => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    let host = escape_label(run.host);
    let family = |out: &mut String, name: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    family(
        &mut out,
        "ops_atomic_last_sleep_seconds",
        "How long the machine slept before the last heartbeat (0: it did not).",
    );
    let _ = writeln!(
        out,
        "ops_atomic_last_sleep_seconds{{machine_id=\"{id}\",host=\"{host}\"}} {}",
        extra.slept_s.unwrap_or(0).max(0)
    );
    if let Some(t) = extra.last_wake {
        family(
            &mut out,
            "ops_atomic_last_wake_timestamp_seconds",
            "The first heartbeat after the last sleep (Unix time).",
        );
        let _ = writeln!(
            out,
            "ops_atomic_last_wake_timestamp_seconds{{machine_id=\"{id}\",host=\"{host}\"}} {}",
            t.timestamp()
        );
    }
    // The root cause of each open incident, joined onto ops_atomic_check_down by the rules.
    family(
        &mut out,
        "ops_atomic_check_cause",
        "1 for each check, with the check it fails because of (caused_by, or empty).",
    );
    for r in run.results {
        let cause = run.state.checks.get(&r.id).and_then(|c| c.caused_by.clone()).unwrap_or_default();
        let _ = writeln!(
            out,
            "ops_atomic_check_cause{{machine_id=\"{id}\",check=\"{}\",caused_by=\"{}\"}} 1",
            escape_label(&r.id),
            escape_label(&cause)
        );
    }
    crate::secret::scrub(&out)
}

/// The machine's stable id (`g/state/machine_id`, 0600), generated once, so
/// a renamed Mac keeps one `machine_id`.
pub fn machine_id(paths: &Paths) -> crate::exit::Result<String> {
    let path = machine_id_file(paths);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_string());
        }
    }
    let mut bytes = [0u8; 16];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| crate::fail!("could not read /dev/urandom for a machine id: {e}"))?;
    }
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::paths::ensure_dir(&paths.state_dir())?;
    crate::paths::write_atomic(&path, format!("{id}\n").as_bytes())?;
    Ok(id)
}

fn machine_id_file(paths: &Paths) -> PathBuf {
    paths.state_dir().join("machine_id")
}

fn last_wake_file(paths: &Paths) -> PathBuf {
    paths.state_dir().join("last_wake")
}

/// The last wake, kept beside the machine id (updated when this run followed a sleep).
fn last_wake(paths: &Paths, run: &Run, slept_s: Option<i64>) -> Option<DateTime<Utc>> {
    let path = last_wake_file(paths);
    if slept_s.is_some_and(|s| s > 0) {
        let _ = crate::paths::write_atomic_unsynced(&path, run.now.to_rfc3339().as_bytes(), 0o600);
        return Some(run.now);
    }
    let text = std::fs::read_to_string(path).ok()?;
    DateTime::parse_from_rfc3339(text.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// PUTs `body` to the configured Pushgateway within `bound`. `Ok` says where.
pub fn put(cfg: &Export, instance: &str, body: &str, bound: Duration) -> Result<String, String> {
    let base = cfg.pushgateway_url.trim_end_matches('/');
    let url = format!("{base}{}", grouping_path(instance));
    let shown = crate::secret::redact_url(&url);
    let mut req =
        crate::channels::http_agent(bound).put(&url).set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    for (k, v) in &cfg.pushgateway_headers {
        let value = crate::envvars::expand_env(v).map_err(|e| format!("export.pushgateway_headers.{k} {e}"))?;
        req = req.set(k, &value);
    }
    match req.send_string(body) {
        Ok(_) => Ok(shown),
        Err(ureq::Error::Status(code, resp)) => {
            let text = resp.into_string().unwrap_or_default();
            let first = text.lines().next().unwrap_or("").chars().take(200).collect::<String>();
            Err(format!("{shown}: HTTP {code} {}", crate::secret::scrub(&first)))
        }
        Err(ureq::Error::Transport(t)) => {
            Err(format!("{shown}: {}", crate::channels::http::transport("Pushgateway", &t)))
        }
    }
}

/// The heartbeat's hook: pushes when configured, within `timeout_ms` and
/// what is left of `deadline`; a failure is a WARN and a `push_failed` event.
pub fn after_heartbeat(paths: &Paths, cfg: &Export, run: &Run, slept_s: Option<i64>, left: Duration) {
    if cfg.pushgateway_url.is_empty() {
        return;
    }
    let bound = Duration::from_millis(cfg.timeout_ms).min(left).max(Duration::from_millis(100));
    let instance = if cfg.instance.trim().is_empty() { run.host.to_string() } else { cfg.instance.trim().to_string() };
    let pushed = machine_id(paths).map_err(|e| e.0).and_then(|machine_id| {
        let extra = Extra { machine_id: &machine_id, slept_s, last_wake: last_wake(paths, run, slept_s) };
        put(cfg, &instance, &body(run, &extra), bound)
    });
    match pushed {
        Ok(at) => crate::log::info(&format!("Pushgateway: pushed to {at}")),
        Err(why) => {
            let why = crate::secret::scrub(&why);
            crate::log::warn(&format!("Pushgateway push failed (retried next run): {why}"));
            let event = crate::events::Event::new(run.now, "", "", "push_failed", why);
            let logged = crate::state::lock(paths, crate::state::lock_wait(), "heartbeat")
                .and_then(|_lock| crate::events::append(paths, &[event]));
            if let Err(e) = logged {
                crate::log::warn(&e.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_instances_use_the_base64_form() {
        assert_eq!(grouping_path("mac-mini.local"), "/metrics/job/ops_atomic/instance/mac-mini.local");
        assert_eq!(grouping_path("Ana's Mac/2"), "/metrics/job/ops_atomic/instance@base64/QW5hJ3MgTWFjLzI=");
        assert_eq!(grouping_path(""), "/metrics/job/ops_atomic/instance@base64/=");
        assert_eq!(base64_url(b"\xfb\xff"), "-_8=");
        assert_eq!(base64_url(b"abc"), "YWJj");
    }

    #[test]
    fn bad_keys_are_named() {
        let cfg = Export { pushgateway_url: "ftp://x".into(), timeout_ms: 0, ..Export::default() };
        let errs = validate(&cfg).join("\n");
        assert!(errs.contains("export.pushgateway_url"), "{errs}");
        assert!(errs.contains("export.timeout_ms"), "{errs}");
        assert!(validate(&Export::default()).is_empty());
    }
}
