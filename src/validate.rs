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
/// expanded ones, and so is each part of them a service could echo alone:
/// the value of every `${VAR}` they use, and the credentials after an
/// authorization scheme (`Bearer tok` → `tok`, `Basic dXNlcjpw` → `dXNlcjpw`).
pub fn header_secrets<'a>(headers: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    header_secrets_from(headers, &|n| std::env::var(n).ok())
}

fn header_secrets_from<'a>(
    headers: impl IntoIterator<Item = &'a String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for v in headers {
        let Ok(full) = crate::envvars::expand(v, env) else { continue };
        out.extend(crate::envvars::names(v).iter().filter_map(|n| env(n)));
        if let Some((scheme, credentials)) = full.split_once(' ')
            && !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !credentials.trim().is_empty()
        {
            out.push(credentials.trim().to_string());
        }
        out.push(full);
    }
    out
}

/// Redacts every header value that is not purely a `${VAR}` reference.
pub fn redact_headers<'a>(values: impl IntoIterator<Item = &'a mut String>) {
    for v in values {
        if !v.starts_with("${") || !v.ends_with('}') {
            *v = "***".into();
        }
    }
}

/// `key = v`: an absolute path without `~` (launchd and the checks take
/// paths literally: no shell expands them).
pub fn abs_path(errs: &mut Vec<String>, key: &str, v: &str) {
    if v.trim().is_empty() {
        errs.push(format!("{key} is missing: give an absolute path such as \"/var/log/app.log\""));
    } else if v.contains('~') {
        errs.push(format!("{key} = {v:?}: `~` is not expanded: write the absolute path (/Users/you/...)"));
    } else if !v.starts_with('/') {
        errs.push(format!("{key} = {v:?}: must be an absolute path (starting with /)"));
    } else if v.chars().any(char::is_control) {
        errs.push(format!("{key} = {v:?}: must not contain control characters"));
    }
}

/// `key = v`: a percentage between 0 and 100.
pub fn percent(errs: &mut Vec<String>, key: &str, v: f64) {
    if !(0.0..=100.0).contains(&v) {
        errs.push(format!("{key} = {v}: must be a percentage between 0 and 100"));
    }
}

/// `key = v`: `host:port` (`[::1]:port` for IPv6) with a port 1..=65535.
pub fn host_port(errs: &mut Vec<String>, key: &str, v: &str) {
    if let Err(why) = check_host_port(v) {
        errs.push(format!("{key} = {v:?}: {why}"));
    }
}

pub fn check_host_port(v: &str) -> Result<(), String> {
    let Some((host, port)) = v.rsplit_once(':') else {
        return Err("must be host:port, e.g. \"127.0.0.1:3000\"".into());
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() || host.contains(':') && !v.starts_with('[') {
        return Err("must be host:port, e.g. \"127.0.0.1:3000\" (IPv6 as \"[::1]:3000\")".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return Err("the host must not contain spaces or '/' (no URL: just host:port)".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("port {port:?} must be a number between 1 and 65535")),
    }
}

/// `key`: a command as argv: a program, then its arguments.
pub fn argv(errs: &mut Vec<String>, key: &str, v: &[String], example: &str) {
    if v.first().is_none_or(|p| p.trim().is_empty()) {
        errs.push(format!("{key} is empty: give the program and its arguments, e.g. {example}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_in_a_header_is_a_secret_alone_too() {
        let env = |n: &str| (n == "API_TOKEN").then(|| "tok-abc-123".to_string());
        let headers = ["Bearer ${API_TOKEN}".to_string(), "Basic dXNlcjpwYXNz".to_string(), "plain".to_string()];
        let s = header_secrets_from(&headers, &env);
        for want in ["Bearer tok-abc-123", "tok-abc-123", "Basic dXNlcjpwYXNz", "dXNlcjpwYXNz", "plain"] {
            assert!(s.iter().any(|x| x == want), "{want} not in {s:?}");
        }
        assert!(header_secrets_from(&["${MISSING}".to_string()], &env).is_empty());
    }

    #[test]
    fn host_port_forms() {
        assert!(check_host_port("127.0.0.1:3000").is_ok());
        assert!(check_host_port("localhost:1").is_ok());
        assert!(check_host_port("[::1]:80").is_ok());
        for bad in ["127.0.0.1", ":80", "h:0", "h:70000", "h:x", "::1:80", "http://h:80", "a b:1"] {
            assert!(check_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_and_percentages() {
        let mut e = Vec::new();
        abs_path(&mut e, "k", "/var/log/x");
        percent(&mut e, "p", 0.0);
        percent(&mut e, "p", 100.0);
        assert!(e.is_empty(), "{e:?}");
        for bad in ["", "~/x", "rel/x", "/a/~b"] {
            let mut e = Vec::new();
            abs_path(&mut e, "k", bad);
            assert_eq!(e.len(), 1, "{bad}");
        }
        percent(&mut e, "p", 101.0);
        percent(&mut e, "p", -1.0);
        assert_eq!(e.len(), 2);
    }
}
