//! HTTP API endpoints: GET, then the status, body and latency expectations.

use std::io::Read;
use std::time::{Duration, Instant};

use super::{CheckResult, CheckStatus, Job, Kind};
use crate::config::Api;

/// Bodies are read up to this size for the `expect_body_contains` check.
const MAX_BODY: u64 = 1024 * 1024;

pub fn job(cfg: &Api) -> Job {
    let cfg = cfg.clone();
    Job {
        name: cfg.name.clone(),
        kind: Kind::Api,
        severity: cfg.severity,
        timeout: Duration::from_millis(cfg.timeout_ms),
        work: Box::new(move || vec![check(&cfg, &|n| std::env::var(n).ok())]),
    }
}

/// Checks one endpoint; `env` resolves `${VAR}` in header values.
pub fn check(cfg: &Api, env: &dyn Fn(&str) -> Option<String>) -> CheckResult {
    let start = Instant::now();
    let (status, message) = match fetch(cfg, env) {
        Err(e) => (CheckStatus::Fail, e),
        Ok((code, body)) => {
            let latency = start.elapsed().as_millis() as u64;
            judge(cfg, code, &body, latency)
        }
    };
    let mut r = CheckResult::new(&cfg.name, Kind::Api, cfg.severity, status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

/// Applies every expectation to a response; the first one that fails is named.
pub fn judge(cfg: &Api, code: u16, body: &str, latency_ms: u64) -> (CheckStatus, String) {
    let status_ok = match cfg.expect_status {
        Some(want) => code == want,
        None => (200..300).contains(&code),
    };
    if !status_ok {
        let want = cfg.expect_status.map_or("2xx".to_string(), |s| s.to_string());
        let snippet = super::one_line(body);
        let snippet: String = snippet.chars().take(120).collect();
        let tail = if snippet.is_empty() { String::new() } else { format!(": {snippet}") };
        return (CheckStatus::Fail, format!("HTTP {code} (expected {want}){tail}"));
    }
    if !cfg.expect_body_contains.is_empty() && !body.contains(&cfg.expect_body_contains) {
        return (
            CheckStatus::Fail,
            format!("HTTP {code}, but the body does not contain {:?}", cfg.expect_body_contains),
        );
    }
    if cfg.max_latency_ms > 0 && latency_ms > cfg.max_latency_ms {
        return (
            CheckStatus::Warn,
            format!("HTTP {code}, slow: {latency_ms} ms (max_latency_ms {})", cfg.max_latency_ms),
        );
    }
    (CheckStatus::Ok, format!("HTTP {code}"))
}

/// GET the endpoint: its status code and body, or why the request failed
/// (a body over 1 MiB is a failure that says so). Also used by the daily run's API verification.
pub fn fetch(cfg: &Api, env: &dyn Fn(&str) -> Option<String>) -> Result<(u16, String), String> {
    let timeout = Duration::from_millis(cfg.timeout_ms);
    // Redirects are not followed: a health endpoint that redirects (to a
    // login page, say) is reported as the 3xx it is.
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("ops-atomic/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut req = agent.get(&cfg.url);
    for (k, v) in &cfg.headers {
        let value = expand(v, env).map_err(|e| format!("header {k}: {e}"))?;
        req = req.set(k, &value);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(describe(&t, cfg.timeout_ms)),
    };
    let code = resp.status();
    // One byte past the limit tells an oversized body from one that fits;
    // no more is ever read, whatever the server sends.
    let mut body = Vec::new();
    let _ = resp.into_reader().take(MAX_BODY + 1).read_to_end(&mut body);
    if body.len() as u64 > MAX_BODY {
        return Err(format!("HTTP {code}, but the reply is too large: over {} MiB (not read further)", MAX_BODY >> 20));
    }
    Ok((code, String::from_utf8_lossy(&body).into_owned()))
}

fn describe(t: &ureq::Transport, timeout_ms: u64) -> String {
    let mut text = match t.kind() {
        ureq::ErrorKind::ConnectionFailed => "connection failed".to_string(),
        ureq::ErrorKind::Dns => "host not found".to_string(),
        ureq::ErrorKind::Io => "I/O error".to_string(),
        _ => "request failed".to_string(),
    };
    if let Some(m) = t.message() {
        text.push_str(": ");
        text.push_str(m);
    }
    let mut source = std::error::Error::source(t);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.contains("timed out") || text.contains("WouldBlock") || text.contains("Resource temporarily unavailable") {
        text = format!("timed out after {timeout_ms} ms ({text})");
    }
    text
}

/// Checks the `${VAR}` syntax of a header value.
pub fn check_template(v: &str) -> Result<(), String> {
    expand(v, &|_| Some(String::new())).map(|_| ())
}

/// Replaces each `${VAR}` with the variable's value. A variable that is not
/// set is an error naming it: sending an empty token would only hide the cause.
pub fn expand(v: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in {v:?}"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("${{{name}}} is not a valid environment variable name"));
        }
        let value = env(name).ok_or_else(|| format!("uses ${{{name}}}, which is not set in the environment"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api { name: "x".into(), url: "http://127.0.0.1:1/".into(), ..Api::default() }
    }

    #[test]
    fn expectations_are_applied_in_order() {
        let mut a = api();
        assert_eq!(judge(&a, 204, "", 1).0, CheckStatus::Ok);
        assert_eq!(judge(&a, 500, "oops", 1), (CheckStatus::Fail, "HTTP 500 (expected 2xx): oops".into()));
        a.expect_status = Some(418);
        assert_eq!(judge(&a, 200, "", 1).0, CheckStatus::Fail);
        assert_eq!(judge(&a, 418, "", 1).0, CheckStatus::Ok);
        a.expect_body_contains = "ok".into();
        assert!(judge(&a, 418, "nope", 1).1.contains("does not contain"));
        a.max_latency_ms = 10;
        assert_eq!(judge(&a, 418, "ok", 11).0, CheckStatus::Warn);
        assert_eq!(judge(&a, 418, "ok", 10).0, CheckStatus::Ok);
    }

    #[test]
    fn env_vars_expand_in_headers() {
        let env = |n: &str| (n == "TOKEN").then(|| "abc".to_string());
        assert_eq!(expand("Bearer ${TOKEN}", &env).unwrap(), "Bearer abc");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
        assert!(expand("${MISSING}", &env).unwrap_err().contains("MISSING"));
        assert!(expand("${OPEN", &env).is_err());
        assert!(check_template("${BAD-NAME}").is_err());
    }
}
