//! What the HTTP channels (slack, ntfy, webhook) share: one POST per
//! attempt, answers mapped to [`SendError`] the same way for all, header
//! values expanded from the environment only when sending, and URLs whose
//! path and query are treated as secrets (a Slack webhook or an ntfy topic
//! is its own password).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::SendError;

/// The body of one POST.
pub enum Body<'a> {
    Json(&'a Value),
    Text(&'a str),
}

/// One POST of `body` to `url` with `headers` (values may use `${VAR}`).
/// `label` names the channel in the error text; the URL never appears
/// there, since its path is a secret.
pub fn post(
    label: &str,
    url: &str,
    headers: &BTreeMap<String, String>,
    extra: &[(&str, String)],
    body: Body,
    timeout: Duration,
) -> Result<(), SendError> {
    let mut req = super::http_agent(timeout).post(url);
    for (k, v) in extra {
        req = req.set(k, v);
    }
    for (k, v) in expand_headers(label, headers)? {
        req = req.set(&k, &v);
    }
    let sent = match body {
        Body::Json(v) => req.send_json(v),
        Body::Text(t) => req.set("Content-Type", "text/plain; charset=utf-8").send_string(t),
    };
    match sent {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
        Ok(resp) => Err(answer(label, resp.status(), None, "")),
        Err(ureq::Error::Status(code, resp)) => {
            let retry_after = resp.header("Retry-After").map(str::to_string);
            let text = resp.into_string().unwrap_or_default();
            Err(answer(label, code, retry_after.as_deref(), &text))
        }
        Err(ureq::Error::Transport(t)) => Err(transport(label, &t)),
    }
}

/// The header values with `${VAR}` expanded; a variable that is not set
/// needs a person, and names itself (never the other values).
pub fn expand_headers(label: &str, headers: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, SendError> {
    headers
        .iter()
        .map(|(k, v)| {
            let value = crate::envvars::expand_env(v)
                .map_err(|why| SendError::NeedsAttention(format!("{label} header {k} {why}")))?;
            if !value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
                return Err(SendError::NeedsAttention(format!(
                    "{label} header {k} holds characters HTTP headers cannot carry (only printable ASCII)"
                )));
            }
            Ok((k.clone(), value))
        })
        .collect()
}

/// What an HTTP answer other than 2xx means for the queue. Pure.
pub fn answer(label: &str, code: u16, retry_after: Option<&str>, text: &str) -> SendError {
    let detail: String = crate::checks::one_line(text).chars().take(200).collect();
    let what = if detail.is_empty() { format!("HTTP {code}") } else { format!("HTTP {code}: {detail}") };
    match code {
        300..=399 => SendError::NeedsAttention(format!(
            "{label} answered with a redirect ({what}): a redirect is not a delivery; configure the final URL"
        )),
        429 => {
            let wait = retry_after.and_then(|h| h.trim().parse::<f64>().ok()).unwrap_or(1.0);
            let wait = Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::MAX);
            SendError::RateLimited {
                wait,
                why: format!("rate limited by {label} (retry after {:.1} s)", wait.as_secs_f64()),
            }
        }
        401 | 403 => SendError::NeedsAttention(format!(
            "{label} refused the credentials ({what}): check the URL and the Authorization header"
        )),
        404 | 410 => SendError::NeedsAttention(format!("{label} says the URL does not exist ({what}): check the URL")),
        400..=499 => SendError::Rejected(format!("{label} rejected the message ({what})")),
        _ => SendError::Temporary(format!("{label} answered {what}")),
    }
}

/// A network failure, in words without the URL.
pub fn transport(label: &str, t: &ureq::Transport) -> SendError {
    let full = t.to_string();
    let source = std::error::Error::source(t).map(|s| s.to_string()).unwrap_or_default();
    let mut text = t.kind().to_string();
    for part in [t.message().unwrap_or_default(), source.as_str()] {
        if !part.is_empty() && !text.contains(part) {
            text = format!("{text}: {part}");
        }
    }
    let hung = [full.as_str(), source.as_str()]
        .iter()
        .any(|s| s.contains("timed out") || s.contains("WouldBlock") || s.contains("temporarily unavailable"));
    if hung {
        // A hung endpoint will not answer a second time either.
        return SendError::NoAnswer(format!("no answer from {label} ({text})"));
    }
    SendError::Temporary(format!("could not reach {label} ({text})"))
}

/// The secret parts of a channel URL: the password, the path with its
/// query (a Slack webhook, an ntfy topic, a token), and each long query
/// value on its own. Path segments alone are not: "services" or
/// "notifications" would blank out ordinary words everywhere.
pub fn url_secrets(raw: &str) -> Vec<String> {
    let mut out = crate::secret::url_secrets(raw);
    let Ok(u) = url::Url::parse(raw) else {
        return out;
    };
    let mut tail = u.path().to_string();
    if let Some(q) = u.query() {
        tail = format!("{tail}?{q}");
    }
    if tail != "/" {
        out.push(tail);
    }
    out.extend(u.query_pairs().map(|(_, v)| v.into_owned()).filter(|v| v.len() >= 8));
    out
}

/// The URL as reports and `config show` show it: scheme, host and port;
/// the path and query (where the secrets live) as `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(u) if u.host_str().is_some() => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path() == "/" && u.query().is_none() { "/" } else { "/***" };
            format!("{}://{}{port}{rest}", u.scheme(), u.host_str().unwrap_or_default())
        }
        _ if raw.is_empty() => String::new(),
        _ => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_what_the_queue_does() {
        assert!(matches!(answer("Slack", 500, None, "oops"), SendError::Temporary(m) if m.contains("HTTP 500: oops")));
        assert!(matches!(answer("Slack", 400, None, "invalid_payload"), SendError::Rejected(_)));
        assert!(matches!(answer("Slack", 404, None, "no_service"), SendError::NeedsAttention(_)));
        assert!(matches!(answer("Slack", 403, None, ""), SendError::NeedsAttention(_)));
        assert!(matches!(answer("Slack", 302, None, ""), SendError::NeedsAttention(_)));
        match answer("ntfy", 429, Some("2"), "") {
            SendError::RateLimited { wait, .. } => assert_eq!(wait, Duration::from_secs(2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn url_paths_are_secret_and_hidden() {
        let url = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";
        let s = url_secrets(url);
        assert!(s.contains(&"/services/T000/B000/XXXXsecretXXXX".to_string()), "{s:?}");
        assert!(!s.contains(&"services".to_string()), "{s:?}");
        assert_eq!(redact_url(url), "https://hooks.slack.com/***");
        assert_eq!(redact_url("http://127.0.0.1:8080/hook?token=abcdefgh12"), "http://127.0.0.1:8080/***");
        assert!(url_secrets("http://h/hook?token=abcdefgh12").contains(&"abcdefgh12".to_string()));
        assert_eq!(redact_url("https://ntfy.sh/"), "https://ntfy.sh/");
    }

    #[test]
    fn unset_variables_in_headers_need_a_person() {
        let mut h = BTreeMap::new();
        h.insert("Authorization".to_string(), "Bearer ${OPS_ATOMIC_SURELY_UNSET_VAR}".to_string());
        match expand_headers("webhook", &h) {
            Err(SendError::NeedsAttention(m)) => assert!(m.contains("OPS_ATOMIC_SURELY_UNSET_VAR"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
