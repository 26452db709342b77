//! Validation helpers shared by every config section (checks, channels,
//! the rest of `config`). Each returns the problem as a sentence naming the
//! key, so `config check` can list them all at once.

use crate::secret;

/// `key = v`: a timeout between 1 and 60000 ms.
pub fn timeout_ms(errs: &mut Vec<String>, key: &str, v: u64) {
    if !(1..=60_000).contains(&v) {
        errs.push(format!("{key} = {v}: must be between 1 and 60000 ms"));
    }
}

/// `key = raw`: a URL with one of `schemes` and a host. The URL is shown
/// redacted, since it may hold a password or a token.
pub fn url(errs: &mut Vec<String>, key: &str, raw: &str, schemes: &[&str], hint: &str) {
    if raw.contains("***") || raw.contains("%2A%2A%2A") {
        not_redacted(errs, key, raw);
    } else if let Err(why) = check_url(raw, schemes) {
        errs.push(format!("{key} = {:?}: {why}{hint}", secret::redact_url(raw)));
    }
}

/// `key = raw`: not a URL copied from `config show`, where secrets read
/// `***` (it would send to the wrong place, or nowhere).
pub fn not_redacted(errs: &mut Vec<String>, key: &str, raw: &str) {
    if raw.contains("***") || raw.contains("%2A%2A%2A") {
        errs.push(format!(
            "{key} holds `***`: it was pasted from `config show`, which hides secrets; paste the real URL"
        ));
    }
}

pub fn check_url(raw: &str, schemes: &[&str]) -> Result<(), String> {
    let u = url::Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if !schemes.contains(&u.scheme()) {
        return Err(format!("scheme {:?} is not one of {}", u.scheme(), schemes.join(", ")));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

/// `key`: a name people read in reports and messages: present and on one line.
pub fn name(errs: &mut Vec<String>, key: &str, v: &str, what: &str) {
    if v.trim().is_empty() {
        errs.push(format!("{key} is missing: give each {what} a name"));
    } else if v.chars().any(char::is_control) {
        errs.push(format!("{key} = {v:?}: must not contain control characters such as newlines"));
    }
}

/// `key`: HTTP header names are tokens; values may use `${VAR}`.
pub fn headers<'a>(errs: &mut Vec<String>, key: &str, headers: impl IntoIterator<Item = (&'a String, &'a String)>) {
    for (k, v) in headers {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) {
            errs.push(format!("{key} key {k:?}: not a valid header name"));
        }
        if let Err(why) = crate::envvars::check_syntax(v) {
            errs.push(format!("{key}.{k}: {why}"));
        }
    }
}

/// Header values with a literal (not `${VAR}`) value are secrets; so are
/// expanded ones.
pub fn header_secrets<'a>(headers: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    headers.into_iter().filter_map(|v| crate::envvars::expand_env(v).ok()).collect()
}

/// Redacts every header value that is not purely a `${VAR}` reference.
pub fn redact_headers<'a>(values: impl IntoIterator<Item = &'a mut String>) {
    for v in values {
        if !v.starts_with("${") || !v.ends_with('}') {
            *v = "***".into();
        }
    }
}
