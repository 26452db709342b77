//! Keeping secrets out of everything ops-atomic prints or writes.
//!
//! Two layers: URLs are shown redacted (`redact_url`), and every log line,
//! report and message also goes through [`scrub`], which replaces any known
//! secret value (passwords in URLs, the webhook token, expanded header values)
//! wherever a library may have echoed it back in an error text.

use std::sync::OnceLock;

static SECRETS: OnceLock<Vec<String>> = OnceLock::new();

/// Registers the secrets of the loaded configuration. Later calls are ignored.
pub fn register(mut secrets: Vec<String>) {
    // Short values would blank out ordinary words; a 3-character password is
    // still hidden by `redact_url` where it appears inside its URL.
    secrets.retain(|s| s.len() >= 4);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    let _ = SECRETS.set(secrets);
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> String {
    scrubbed(text).into_owned()
}

/// [`scrub`] without a copy when there is nothing to hide (`events` prints
/// 100,000 lines).
pub fn scrubbed(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    for s in SECRETS.get().into_iter().flatten() {
        if out.contains(s.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(s.as_str(), "***"));
        }
    }
    out
}

/// The secret parts of a URL: its password, and a webhook token.
pub fn url_secrets(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(u) = url::Url::parse(raw) else {
        out.extend(raw_password(raw).map(|(_, p)| p.to_string()));
        return out;
    };
    if let Some(p) = u.password() {
        out.push(p.to_string());
        if let Ok(decoded) = percent_decode(p) {
            out.push(decoded);
        }
    }
    if let Some(t) = webhook_token(&u) {
        out.push(t);
    }
    for (_, value) in secret_query_values(&u) {
        if let Ok(decoded) = percent_decode(&value.replace('+', " ")) {
            out.push(decoded);
        }
        out.push(value);
    }
    out
}

/// Whether a query-string key names a secret: `token`, `api_key`,
/// `access_token`, `X-Api-Key`, `secret`, `password`, `sig`, `auth`, ...
fn secret_key(key: &str) -> bool {
    const WORDS: [&str; 14] = [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "sig",
        "signature",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "session",
    ];
    let key = key.to_ascii_lowercase();
    key.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| WORDS.contains(&w) || ["token", "key", "secret", "password"].iter().any(|s| w.ends_with(s)))
}

/// The raw `(key, value)` pairs of the query whose key names a secret.
fn secret_query_values(u: &url::Url) -> Vec<(String, String)> {
    let Some(query) = u.query() else { return Vec::new() };
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, v)| !v.is_empty() && secret_key(&percent_decode(k).unwrap_or_else(|_| k.to_string())))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn webhook_token(u: &url::Url) -> Option<String> {
    let segs: Vec<&str> = u.path_segments()?.collect();
    let i = segs.iter().position(|s| *s == "webhooks")?;
    segs.get(i + 2).filter(|t| !t.is_empty()).map(|t| t.to_string())
}

fn percent_decode(s: &str) -> std::result::Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// Finds `password` in `scheme://user:password@…` without parsing the URL:
/// its byte offset and text.
fn raw_password(raw: &str) -> Option<(usize, &str)> {
    let start = raw.find("://")? + 3;
    let rest = &raw[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    let password = &authority[colon + 1..at];
    (!password.is_empty()).then_some((start + colon + 1, password))
}

/// The URL with its password and webhook token replaced by `***`. Text that
/// is not a URL comes back unchanged.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw) else {
        // Not a URL the parser accepts (an empty host, say): still hide
        // whatever sits where a password would.
        return match raw_password(raw) {
            Some((at, p)) => format!("{}***{}", &raw[..at], &raw[at + p.len()..]),
            None => raw.to_string(),
        };
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if let Some(token) = webhook_token(&u) {
        let path = u.path().replacen(&format!("/{token}"), "/***", 1);
        u.set_path(&path);
    }
    if !secret_query_values(&u).is_empty() {
        let query: Vec<String> = u
            .query()
            .unwrap_or_default()
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() && secret_key(&percent_decode(k).unwrap_or_else(|_| k.to_string())) => {
                    format!("{k}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        u.set_query(Some(&query.join("&")));
    }
    // `Url` re-encodes '*' in the userinfo; show it plainly.
    u.to_string().replace("%2A%2A%2A", "***")
}

/// Where a service URL points, for reports: `host:port`, or a socket folder
/// (`?host=/tmp`), never a user or a password.
pub fn url_target(raw: &str) -> String {
    let query_host =
        |q: &str| url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "host").map(|(_, v)| v.into_owned());
    let Ok(u) = url::Url::parse(raw) else {
        // libpq's `postgresql://user@/db?host=/tmp` has no host for `Url`.
        return raw.split_once('?').and_then(|(_, q)| query_host(q)).unwrap_or_default();
    };
    let socket = u.query().and_then(query_host);
    match (u.host_str().filter(|h| !h.is_empty()), socket) {
        (Some(h), _) => match u.port_or_known_default().or_else(|| default_port(u.scheme())) {
            Some(p) => format!("{h}:{p}"),
            None => h.to_string(),
        },
        (None, Some(folder)) => folder,
        (None, None) => String::new(),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "redis" | "rediss" => Some(6379),
        "postgres" | "postgresql" => Some(5432),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_are_redacted() {
        assert_eq!(redact_url("redis://:hunter2@127.0.0.1:6379"), "redis://:***@127.0.0.1:6379");
        assert_eq!(redact_url("postgresql://app:s3cret@db.local:5432/app"), "postgresql://app:***@db.local:5432/app");
        assert_eq!(
            redact_url("https://discord.com/api/webhooks/123/AbC-token_x?wait=true"),
            "https://discord.com/api/webhooks/123/***?wait=true"
        );
        assert_eq!(redact_url("http://127.0.0.1:4000/api/health"), "http://127.0.0.1:4000/api/health");
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("postgresql://u:secretpw@/db"), "postgresql://u:***@/db");
        assert_eq!(url_secrets("postgresql://u:secretpw@/db"), vec!["secretpw".to_string()]);
    }

    #[test]
    fn query_string_secrets_are_redacted() {
        assert_eq!(
            redact_url("https://api.example.com/health?token=abc123&verbose=1&api_key=k%2By&X-Api-Key=q&sig=zz"),
            "https://api.example.com/health?token=***&verbose=1&api_key=***&X-Api-Key=***&sig=***"
        );
        assert_eq!(
            redact_url("http://h/x?access_token=t0ken&password=pw&client_secret=s&page=2"),
            "http://h/x?access_token=***&password=***&client_secret=***&page=2"
        );
        assert_eq!(redact_url("http://h/x?monkey=banana&q=1"), "http://h/x?monkey=***&q=1");
        assert_eq!(redact_url("http://h/x?page=2&sort=asc"), "http://h/x?page=2&sort=asc");
        let s = url_secrets("http://h/x?token=abc123&api_key=k%2By");
        assert!(s.contains(&"abc123".to_string()) && s.contains(&"k+y".to_string()), "{s:?}");
    }

    #[test]
    fn secrets_of_a_url_include_the_decoded_password() {
        let s = url_secrets("redis://:p%40ss@host:1");
        assert!(s.contains(&"p%40ss".to_string()));
        assert!(s.contains(&"p@ss".to_string()));
        assert_eq!(url_secrets("https://discord.com/api/webhooks/1/tok"), vec!["tok".to_string()]);
    }

    #[test]
    fn targets_name_host_and_port_only() {
        assert_eq!(url_target("redis://:hunter2@127.0.0.1:6380/0"), "127.0.0.1:6380");
        assert_eq!(url_target("redis://localhost"), "localhost:6379");
        assert_eq!(url_target("postgresql://app:pw@db.local/app"), "db.local:5432");
        assert_eq!(url_target("postgresql://app@/db?host=/tmp"), "/tmp");
    }
}
