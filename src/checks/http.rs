//! HTTP API endpoints: GET, then the status, body and latency expectations.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use super::conditions::{self, Answer, Placeholder};
use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::envvars::expand;
use crate::{secret, validate};

/// Bodies are read up to this size for the `expect_body_contains` check.
const MAX_BODY: u64 = 1024 * 1024;

crate::check_section! {
    /// `[[api]]`: one HTTP endpoint.
    pub struct Api {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// http:// or https:// URL, fetched with GET.
        pub url: String = String::new(),
        /// Request timeout in ms.
        pub timeout_ms: u64 = 5000,
        /// Expected status code; absent = any 2xx.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub expect_status: Option<u16> = None,
        /// Text the body must contain; empty = no expectation.
        pub expect_body_contains: String = String::new(),
        /// Latency over this many ms is a warning; 0 = no expectation.
        pub max_latency_ms: u64 = 0,
        /// https only: certificate expiring within N days = warning; 0 = not checked.
        pub cert_min_days: u32 = 0,
        /// Request headers; values may use ${ENV_VAR}.
        pub headers: BTreeMap<String, String> = BTreeMap::new(),
        /// Gatus-style conditions that must all hold (`[BODY].status == UP`); a failed one fails the check.
        pub conditions: Vec<String> = Vec::new(),
        /// Conditions whose failure is a warning (`[CERTIFICATE_EXPIRATION] > 240h`).
        pub warn_conditions: Vec<String> = Vec::new(),
        /// What a failure counts as.
        pub severity: Severity = Severity::Warning,
    }
}

impl Check for Api {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "api"
    }
    fn section(&self) -> &'static str {
        "API Endpoints"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, secret::redact_url(&self.url))]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "endpoint");
        validate::url(&mut errs, &format!("{at}.url"), &self.url, &["http", "https"], "");
        if let Some(s) = self.expect_status
            && !(100..=599).contains(&s)
        {
            errs.push(format!("{at}.expect_status = {s}: must be an HTTP status between 100 and 599"));
        }
        validate::headers(&mut errs, &format!("{at}.headers"), &self.headers);
        if self.cert_min_days > 0 && !self.url.starts_with("https://") {
            errs.push(format!(
                "{at}.cert_min_days = {}: only an https:// URL has a certificate; set it to 0 or use https",
                self.cert_min_days
            ));
        }
        conditions::validate(&mut errs, at, "conditions", &self.conditions, conditions::HTTP);
        conditions::validate(&mut errs, at, "warn_conditions", &self.warn_conditions, conditions::HTTP);
        if self.reads(Placeholder::CertificateExpiration) && !self.url.starts_with("https://") {
            errs.push(format!(
                "{at}.conditions: [CERTIFICATE_EXPIRATION] needs an https:// URL (only https has a certificate)"
            ));
        }
        if self.cert_min_days > 3650 {
            errs.push(format!("{at}.cert_min_days = {}: must be at most 3650 days", self.cert_min_days));
        }
        errs
    }
    fn secrets(&self) -> Vec<String> {
        let mut s = secret::url_secrets(&self.url);
        s.extend(validate::header_secrets(self.headers.values()));
        s
    }
    fn redact(&mut self) {
        self.url = secret::redact_url(&self.url);
        validate::redact_headers(self.headers.values_mut());
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        vec![check(self, &|n| std::env::var(n).ok())]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

impl Api {
    /// Whether a condition (failing or warning) reads `p`.
    fn reads(&self, p: Placeholder) -> bool {
        conditions::any_reads(&[&self.conditions, &self.warn_conditions], conditions::HTTP, p)
    }

    fn has_conditions(&self) -> bool {
        !self.conditions.is_empty() || !self.warn_conditions.is_empty()
    }
}

/// Checks one endpoint; `env` resolves `${VAR}` in header values.
pub fn check(cfg: &Api, env: &dyn Fn(&str) -> Option<String>) -> CheckResult {
    let start = Instant::now();
    // The certificate probe runs beside the GET, within the same timeout.
    let (fetched, probe) = std::thread::scope(|s| {
        let probe = s.spawn(|| cert_probe(cfg));
        let fetched = fetch(cfg, env).map(|(code, body)| (code, body, start.elapsed().as_millis() as u64));
        (fetched, probe.join().ok().flatten())
    });
    let (mut status, mut message) = match &fetched {
        Err(e) => (CheckStatus::Fail, e.clone()),
        Ok((code, body, latency)) => judge(cfg, *code, body, *latency),
    };
    let now = chrono::Utc::now();
    let certificate = probe.as_ref().map(|p| match p {
        Ok(p) => Ok((p.not_after - now).num_milliseconds()),
        Err(e) => Err(format!("certificate not read: {e}")),
    });
    let mut expires = probe.as_ref().and_then(|p| p.as_ref().ok()).map(|p| p.not_after);
    if cfg.cert_min_days > 0
        && let Some(probe) = probe
    {
        let (st, msg, at) = judge_cert(cfg, status, &message, fetched.is_ok(), probe, now);
        (status, message, expires) = (st, msg, at);
    }
    let mut values = Vec::new();
    // A request that got no answer has nothing to judge, unless a
    // condition asks about the connection itself (`[CONNECTED] == false`).
    if cfg.has_conditions() && (fetched.is_ok() || cfg.reads(Placeholder::Connected)) {
        let answer = match fetched {
            Ok((code, body, latency)) => Answer {
                status: Some(code),
                body: Some(body),
                response_time_ms: Some(latency),
                certificate,
                connected: Some(true),
                ..Answer::default()
            },
            Err(_) => Answer { connected: Some(false), certificate, ..Answer::default() },
        };
        let judged = conditions::judge(&cfg.conditions, &cfg.warn_conditions, conditions::HTTP, &answer);
        (status, message) = with_conditions(status, &message, answer.connected == Some(true), &judged);
        values = judged.readings;
    }
    let mut r = CheckResult::new(&cfg.idents()[0], status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r.cert_expires_at = expires;
    r.values = values;
    r
}

/// The verdict once the conditions are judged: a failed condition fails,
/// a failed warning condition warns; the message quotes each with the
/// value seen. Without a connection the conditions decide alone (they
/// asked about `[CONNECTED]`).
pub fn with_conditions(
    status: CheckStatus,
    message: &str,
    connected: bool,
    judged: &conditions::Judged,
) -> (CheckStatus, String) {
    let status = if !connected { CheckStatus::Ok } else { status };
    let status = if !judged.failed.is_empty() {
        CheckStatus::Fail
    } else if !judged.warned.is_empty() {
        status.max_with(CheckStatus::Warn)
    } else {
        status
    };
    (status, format!("{message}; {}", judged.summary()))
}

/// The certificate of an https endpoint with `cert_min_days`; `None` when not asked.
fn cert_probe(cfg: &Api) -> Option<Result<super::cert::Probe, String>> {
    if cfg.cert_min_days == 0 && !cfg.reads(Placeholder::CertificateExpiration) {
        return None;
    }
    let u = url::Url::parse(&cfg.url).ok().filter(|u| u.scheme() == "https")?;
    let host = u.host_str()?.to_string();
    Some(super::cert::probe(&host, u.port_or_known_default().unwrap_or(443), Duration::from_millis(cfg.timeout_ms)))
}

/// Adds the certificate's verdict to the GET's: expired or untrusted fails,
/// expiring within `cert_min_days` warns (naming the date); a worse GET
/// verdict stands.
pub fn judge_cert(
    cfg: &Api,
    status: CheckStatus,
    message: &str,
    fetched: bool,
    probe: Result<super::cert::Probe, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> (CheckStatus, String, Option<chrono::DateTime<chrono::Utc>>) {
    let p = match probe {
        Ok(p) => p,
        Err(_) if !fetched => return (status, message.to_string(), None),
        Err(e) => {
            return (
                status.max_with(CheckStatus::Warn),
                format!("{message}; could not read the certificate: {e}"),
                None,
            );
        }
    };
    let date = p.not_after.format("%Y-%m-%d %H:%M UTC");
    let left = p.not_after - now;
    let out = if left <= chrono::Duration::zero() {
        (CheckStatus::Fail, format!("certificate expired on {date}"))
    } else if let Err(e) = &p.trust {
        (CheckStatus::Fail, format!("certificate not trusted ({e}); it expires on {date}"))
    } else if left < chrono::Duration::days(i64::from(cfg.cert_min_days)) {
        let days = left.num_days();
        let when = if days == 0 {
            "within a day".to_string()
        } else {
            format!("in {days} day{}", if days == 1 { "" } else { "s" })
        };
        (
            status.max_with(CheckStatus::Warn),
            format!("{message}; certificate expires {when}, on {date} (cert_min_days {})", cfg.cert_min_days),
        )
    } else {
        (status, format!("{message}; certificate valid until {date}"))
    };
    (out.0, out.1, Some(p.not_after))
}

pub trait Worse {
    fn max_with(self, other: CheckStatus) -> CheckStatus;
}

impl Worse for CheckStatus {
    /// The worse of two outcomes (fail > warn > ok).
    fn max_with(self, other: CheckStatus) -> CheckStatus {
        let rank = |s| match s {
            CheckStatus::Fail => 3,
            CheckStatus::Warn => 2,
            CheckStatus::Ok => 1,
            CheckStatus::Skipped => 0,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

/// Applies every expectation to a response; the first one that fails is named.
pub fn judge(cfg: &Api, code: u16, body: &str, latency_ms: u64) -> (CheckStatus, String) {
    let status_ok = match cfg.expect_status {
        Some(want) => code == want,
        // A condition on [STATUS] says which codes are fine, as in Gatus.
        None if cfg.reads(Placeholder::Status) => true,
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
    let mut builder = ureq::AgentBuilder::new();
    // SSL_CERT_FILE adds trusted roots; read only for https, since parsing
    // a system bundle costs more than a whole plain-HTTP check.
    let https = cfg.url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if https && let Some(tls) = super::cert::client_config()? {
        builder = builder.tls_config(tls);
    }
    let agent = builder
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api { name: "x".into(), url: "http://127.0.0.1:1/".into(), ..Api::default() }
    }

    #[test]
    fn certificates_expiring_soon_warn_and_expired_or_untrusted_fail() {
        use crate::checks::cert::Probe;
        let now = chrono::Utc::now();
        let a = Api { url: "https://127.0.0.1:1/".into(), cert_min_days: 14, ..api() };
        let p =
            |days: i64, trust: Result<(), String>| Ok(Probe { not_after: now + chrono::Duration::days(days), trust });
        let (st, msg, at) = judge_cert(&a, CheckStatus::Ok, "HTTP 200", true, p(90, Ok(())), now);
        assert_eq!(st, CheckStatus::Ok);
        assert!(msg.starts_with("HTTP 200; certificate valid until "), "{msg}");
        assert!(at.is_some());
        let (st, msg, _) = judge_cert(&a, CheckStatus::Ok, "HTTP 200", true, p(3, Ok(())), now);
        assert_eq!(st, CheckStatus::Warn);
        assert!(
            msg.contains("certificate expires in 2 days, on ") || msg.contains("certificate expires in 3 days, on "),
            "{msg}"
        );
        assert!(msg.ends_with("(cert_min_days 14)"), "{msg}");
        let (st, msg, _) = judge_cert(&a, CheckStatus::Fail, "x", false, p(-1, Err("Expired".into())), now);
        assert_eq!(st, CheckStatus::Fail);
        assert!(msg.starts_with("certificate expired on "), "{msg}");
        let (st, msg, _) = judge_cert(&a, CheckStatus::Fail, "x", false, p(3, Err("UnknownIssuer".into())), now);
        assert_eq!((st, msg.contains("not trusted (UnknownIssuer)")), (CheckStatus::Fail, true), "{msg}");
        let (st, msg, at) = judge_cert(&a, CheckStatus::Fail, "connection refused", false, Err("refused".into()), now);
        assert_eq!((st, msg.as_str(), at), (CheckStatus::Fail, "connection refused", None));
        assert!(
            Api { url: "http://h/".into(), ..a.clone() }.validate("api[0]").join("").contains("api[0].cert_min_days")
        );
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
}
