//! The configuration: serde schema with defaults, environment overrides,
//! validation that names the offending key, and redaction for `config show`.
//!
//! Every key is optional. Unknown keys are errors that name the key, the file,
//! the line and the column, because a typo that silently falls back to a
//! default is the worst kind of monitoring bug.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{Error, Result};
use crate::fail;
use crate::secret;

/// How much a failing check counts towards the overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Alerting thresholds and the heartbeat's deadline.
    pub monitor: Monitor,
    /// The Redis check.
    pub redis: Redis,
    /// The PostgreSQL check.
    pub database: Database,
    /// HTTP API endpoints to check; none by default.
    pub api: Vec<Api>,
    /// LaunchAgent labels that must be loaded.
    pub launchagents: LaunchAgents,
    /// Where notifications go.
    pub discord: Discord,
    /// The daily run.
    pub daily: Daily,
    /// How the two LaunchAgents are generated.
    pub launchd: Launchd,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitor {
    /// Consecutive CRITICAL heartbeats before an alert (env OPS_ALERT_THRESHOLD).
    pub alert_threshold: u32,
    /// Consecutive non-CRITICAL heartbeats before the recovery notice.
    pub recovery_threshold: u32,
    /// 0 = one alert per incident; N >= 5 = a reminder every N minutes while still failing.
    pub realert_minutes: u32,
    /// Hard bound, in ms, on all checks of one heartbeat together.
    pub deadline_ms: u64,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor { alert_threshold: 3, recovery_threshold: 1, realert_minutes: 0, deadline_ms: 10_000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redis {
    /// Run this check.
    pub enabled: bool,
    /// redis:// or rediss:// URL; a password is allowed (env REDIS_URL).
    pub url: String,
    /// Connect + PING timeout in ms.
    pub timeout_ms: u64,
    /// What a failure counts as.
    pub severity: Severity,
}

impl Default for Redis {
    fn default() -> Self {
        Redis { enabled: true, url: "redis://127.0.0.1:6379".into(), timeout_ms: 3000, severity: Severity::Critical }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// Run this check.
    pub enabled: bool,
    /// postgresql:// URL (env DATABASE_URL).
    pub url: String,
    /// Connect + query timeout in ms.
    pub timeout_ms: u64,
    /// The query that must succeed.
    pub query: String,
    /// What a failure counts as.
    pub severity: Severity,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            enabled: true,
            url: "postgresql://postgres@127.0.0.1:5432/postgres".into(),
            timeout_ms: 5000,
            query: "SELECT 1".into(),
            severity: Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    /// Name shown in reports and alerts.
    pub name: String,
    /// http:// or https:// URL, fetched with GET.
    pub url: String,
    /// Request timeout in ms.
    pub timeout_ms: u64,
    /// Expected status code; absent = any 2xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// Text the body must contain; empty = no expectation.
    pub expect_body_contains: String,
    /// Latency over this many ms is a warning; 0 = no expectation.
    pub max_latency_ms: u64,
    /// Request headers; values may use ${ENV_VAR}.
    pub headers: BTreeMap<String, String>,
    /// What a failure counts as.
    pub severity: Severity,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            name: String::new(),
            url: String::new(),
            timeout_ms: 5000,
            expect_status: None,
            expect_body_contains: String::new(),
            max_latency_ms: 0,
            headers: BTreeMap::new(),
            severity: Severity::Warning,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaunchAgents {
    /// Labels that must be loaded.
    pub labels: Vec<String>,
    /// What "not loaded" counts as; a non-zero last exit is always a warning.
    pub severity: Severity,
}

impl Default for LaunchAgents {
    fn default() -> Self {
        LaunchAgents { labels: Vec::new(), severity: Severity::Critical }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Discord {
    /// Webhook URL (env DISCORD_OPS_WEBHOOK); empty = notifications off.
    pub webhook_url: String,
    /// Name the messages are posted under.
    pub username: String,
    /// Timeout of one delivery attempt in ms.
    pub timeout_ms: u64,
}

impl Default for Discord {
    fn default() -> Self {
        Discord { webhook_url: String::new(), username: "OPS-Atomic".into(), timeout_ms: 5000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Daily {
    /// Hour of the daily run (launchd StartCalendarInterval).
    pub hour: u32,
    /// Minute of the daily run.
    pub minute: u32,
    /// Notify Discord even when every phase passed.
    pub notify_on_success: bool,
    /// Heartbeat reports older than this many days are deleted by `daily`.
    pub retention_days: u32,
    /// Fewer heartbeats in the last 24 h than this percentage of the
    /// expected ones makes the daily run a warning (none at all is CRITICAL); 0..=100.
    pub min_heartbeat_percent: u32,
    /// g/logs files over this many bytes are rotated by `daily` (3 kept).
    pub max_log_bytes: u64,
    /// Smoke commands for phase 1.
    pub smoke: Vec<Smoke>,
}

impl Default for Daily {
    fn default() -> Self {
        Daily {
            hour: 2,
            minute: 0,
            notify_on_success: false,
            retention_days: 7,
            min_heartbeat_percent: 50,
            max_log_bytes: 10 * 1024 * 1024,
            smoke: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smoke {
    /// Name shown in the daily report.
    pub name: String,
    /// argv, no shell; run with the root as working directory.
    pub command: Vec<String>,
    /// Killed and failed after this many seconds.
    pub timeout_s: u64,
}

impl Default for Smoke {
    fn default() -> Self {
        Smoke { name: String::new(), command: Vec::new(), timeout_s: 60 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Launchd {
    /// Labels are <prefix>.ops_atomic_monitor and <prefix>.ops_atomic_daily.
    pub label_prefix: String,
    /// Seconds between heartbeats (StartInterval).
    pub interval_s: u64,
    /// PATH given to both agents.
    pub path: String,
}

impl Default for Launchd {
    fn default() -> Self {
        Launchd {
            label_prefix: "com.02luka".into(),
            interval_s: 300,
            path: "/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
        }
    }
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The default path did not exist: all defaults (plus environment).
    Defaults(PathBuf),
    /// This file was read.
    File { path: PathBuf, named: bool },
}

/// A checked configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Source,
    /// Environment variables that overrode the file.
    pub overrides: Vec<&'static str>,
}

impl Loaded {
    /// The config file named on the command line or in OPS_ATOMIC_CONFIG, if
    /// any (the plists pass it on to launchd).
    pub fn named_file(&self) -> Option<&Path> {
        match &self.source {
            Source::File { path, named: true } => Some(path),
            _ => None,
        }
    }
}

/// Loads, overrides and validates the configuration.
///
/// `named` is the file given with `--config` / OPS_ATOMIC_CONFIG; without it
/// the default path is used and may be missing.
pub fn load(default_path: &Path, named: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded> {
    let (path, is_named) = match named {
        Some(p) => (p.to_path_buf(), true),
        None => (default_path.to_path_buf(), false),
    };
    let (mut config, source) = match std::fs::read_to_string(&path) {
        Ok(text) => (parse(&text, &path)?, Source::File { path: path.clone(), named: is_named }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_named => {
            (Config::default(), Source::Defaults(path.clone()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail!(
                "config file {} does not exist (named by --config or OPS_ATOMIC_CONFIG): create it or name another file",
                path.display()
            ));
        }
        Err(e) => {
            return Err(fail!("could not read config file {}: {}", path.display(), crate::exit::io_reason(&e)));
        }
    };
    let overrides = apply_env(&mut config, env)?;
    let errors = validate(&config);
    if !errors.is_empty() {
        let shown = match &source {
            Source::File { path, .. } => path.display().to_string(),
            Source::Defaults(_) => "the defaults".to_string(),
        };
        return Err(fail!("invalid configuration in {}:\n  {}", shown, errors.join("\n  ")));
    }
    Ok(Loaded { config, source, overrides })
}

/// Parses TOML text; errors name the file, line, column and key, and the
/// expected type in words ("a whole number", "a list"), never a Rust type.
pub fn parse(text: &str, path: &Path) -> Result<Config> {
    toml::from_str::<Config>(text).map_err(|e| {
        let (place, key) = match e.span() {
            Some(span) => {
                let (line, col) = line_col(text, span.start);
                (format!("{}:{}:{}", path.display(), line, col), key_at(text, span.start))
            }
            None => (path.display().to_string(), None),
        };
        let mut msg = in_words(e.message().trim());
        if let Some(key) = &key
            && !msg.contains(key.as_str())
        {
            msg = format!("{key}: {msg}");
        }
        let hint = if msg.starts_with("unknown field") || msg.contains(": unknown field") {
            " (check the spelling; every key is listed in the README)".to_string()
        } else if let Some(table) = ["api", "daily.smoke"].into_iter().find(|t| {
            text.lines().any(|l| l.trim() == format!("[{t}]")) && (msg.contains("a list") || key.as_deref() == Some(*t))
        }) {
            format!(" (write [[{table}]] with two brackets: each entry is its own [[{table}]] table)")
        } else {
            String::new()
        };
        Error(format!("{place}: {msg}{hint}"))
    })
}

/// `section.key` of the `key = value` line (or `[section]` header) at `offset`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let header = |l: &str| {
        let l = l.trim();
        (l.starts_with('[') && l.ends_with(']')).then(|| l.trim_matches(['[', ']']).trim().to_string())
    };
    if let Some(h) = header(line) {
        return Some(h);
    }
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    let section = before[..line_start].lines().rev().find_map(header);
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    })
}

/// serde's words for types ("expected u32", "expected a sequence") as a
/// person would say them.
fn in_words(msg: &str) -> String {
    let mut out = msg.to_string();
    for (rust, words) in [
        ("expected u8", "expected a whole number (0 to 255)"),
        ("expected u16", "expected a whole number (0 to 65535)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected i32", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list, such as [\"a\", \"b\"]"),
        ("expected a boolean", "expected true or false"),
        ("expected a map", "expected a table"),
        ("invalid type: string", "found the text"),
        ("invalid type: integer", "found the number"),
        ("invalid type: boolean", "found"),
        ("invalid type: sequence", "found a list"),
        ("invalid type: map", "found a table"),
        ("invalid type: floating point", "found the number"),
        ("invalid value: integer", "found the number"),
    ] {
        out = out.replace(rust, words);
    }
    if let Some(at) = out.find("expected struct ") {
        out.truncate(at);
        out.push_str("expected a table");
    }
    out
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The environment variables that override the file, in the order applied.
pub const ENV_OVERRIDES: [&str; 4] = ["OPS_ALERT_THRESHOLD", "REDIS_URL", "DATABASE_URL", "DISCORD_OPS_WEBHOOK"];

fn apply_env(config: &mut Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<&'static str>> {
    let mut used = Vec::new();
    for name in ENV_OVERRIDES {
        let Some(value) = env(name) else { continue };
        match name {
            "OPS_ALERT_THRESHOLD" => {
                config.monitor.alert_threshold = value.trim().parse().map_err(|_| {
                    fail!("environment variable OPS_ALERT_THRESHOLD = {value:?} is not a whole number: set it to 1 or more, or unset it")
                })?;
            }
            "REDIS_URL" => config.redis.url = value,
            "DATABASE_URL" => config.database.url = value,
            _ => config.discord.webhook_url = value,
        }
        used.push(name);
    }
    Ok(used)
}

/// Every problem in the configuration, each naming its key and why.
pub fn validate(c: &Config) -> Vec<String> {
    let mut errs = Vec::new();
    let mut timeout = |key: String, v: u64| {
        if !(1..=60_000).contains(&v) {
            errs.push(format!("{key} = {v}: must be between 1 and 60000 ms"));
        }
    };
    timeout("monitor.deadline_ms".into(), c.monitor.deadline_ms);
    timeout("redis.timeout_ms".into(), c.redis.timeout_ms);
    timeout("database.timeout_ms".into(), c.database.timeout_ms);
    timeout("discord.timeout_ms".into(), c.discord.timeout_ms);
    for (i, a) in c.api.iter().enumerate() {
        timeout(format!("api[{i}].timeout_ms"), a.timeout_ms);
    }

    if c.monitor.alert_threshold < 1 {
        errs.push("monitor.alert_threshold = 0: must be at least 1 (OPS_ALERT_THRESHOLD overrides it)".into());
    }
    if c.monitor.recovery_threshold < 1 {
        errs.push("monitor.recovery_threshold = 0: must be at least 1".into());
    }
    if c.monitor.realert_minutes != 0 && c.monitor.realert_minutes < 5 {
        errs.push(format!(
            "monitor.realert_minutes = {}: must be 0 (one alert per incident) or at least 5",
            c.monitor.realert_minutes
        ));
    }

    if c.redis.enabled
        && let Err(why) = check_url(&c.redis.url, &["redis", "rediss"])
    {
        errs.push(format!("redis.url = {:?}: {why}", secret::redact_url(&c.redis.url)));
    }
    if c.database.enabled {
        if let Err(why) = check_database_url(&c.database.url) {
            errs.push(format!("database.url = {:?}: {why}", secret::redact_url(&c.database.url)));
        }
        if c.database.query.trim().is_empty() {
            errs.push("database.query is empty: give a query such as \"SELECT 1\"".into());
        }
    }

    let mut names = std::collections::HashSet::new();
    for (i, a) in c.api.iter().enumerate() {
        if a.name.trim().is_empty() {
            errs.push(format!("api[{i}].name is missing: give each endpoint a name"));
        } else if !names.insert(a.name.as_str()) {
            errs.push(format!("api[{i}].name = {:?}: another endpoint has the same name", a.name));
        }
        if let Err(why) = check_url(&a.url, &["http", "https"]) {
            errs.push(format!("api[{i}].url = {:?}: {why}", secret::redact_url(&a.url)));
        }
        if let Some(s) = a.expect_status
            && !(100..=599).contains(&s)
        {
            errs.push(format!("api[{i}].expect_status = {s}: must be an HTTP status between 100 and 599"));
        }
        for (k, v) in &a.headers {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) {
                errs.push(format!("api[{i}].headers key {k:?}: not a valid header name"));
            }
            if let Err(why) = crate::checks::http::check_template(v) {
                errs.push(format!("api[{i}].headers.{k}: {why}"));
            }
        }
    }

    for (i, l) in c.launchagents.labels.iter().enumerate() {
        if l.is_empty() || l.chars().any(char::is_whitespace) {
            errs.push(format!("launchagents.labels[{i}] = {l:?}: labels must be non-empty and contain no whitespace"));
        }
    }

    if !c.discord.webhook_url.is_empty()
        && let Err(why) = check_url(&c.discord.webhook_url, &["http", "https"])
    {
        errs.push(format!(
            "discord.webhook_url = {:?}: {why} (DISCORD_OPS_WEBHOOK overrides it)",
            secret::redact_url(&c.discord.webhook_url)
        ));
    }
    if c.discord.username.trim().is_empty() {
        errs.push("discord.username is empty: give the name messages are posted under".into());
    }

    if c.daily.hour > 23 {
        errs.push(format!("daily.hour = {}: must be between 0 and 23", c.daily.hour));
    }
    if c.daily.minute > 59 {
        errs.push(format!("daily.minute = {}: must be between 0 and 59", c.daily.minute));
    }
    if c.daily.min_heartbeat_percent > 100 {
        errs.push(format!(
            "daily.min_heartbeat_percent = {}: must be between 0 and 100",
            c.daily.min_heartbeat_percent
        ));
    }
    if c.daily.retention_days < 1 {
        errs.push("daily.retention_days = 0: must be at least 1".into());
    }
    if c.daily.max_log_bytes < 1024 {
        errs.push(format!("daily.max_log_bytes = {}: must be at least 1024", c.daily.max_log_bytes));
    }
    for (i, s) in c.daily.smoke.iter().enumerate() {
        if s.name.trim().is_empty() {
            errs.push(format!("daily.smoke[{i}].name is missing: give each smoke command a name"));
        }
        if s.command.first().is_none_or(|p| p.is_empty()) {
            errs.push(format!(
                "daily.smoke[{i}].command is empty: give the program and its arguments, e.g. [\"touch\", \"g/state/.smoke\"]"
            ));
        }
        if !(1..=3600).contains(&s.timeout_s) {
            errs.push(format!("daily.smoke[{i}].timeout_s = {}: must be between 1 and 3600", s.timeout_s));
        }
    }

    let p = &c.launchd.label_prefix;
    if p.is_empty() || p.chars().any(|ch| ch.is_whitespace() || ch == '/') {
        errs.push(format!("launchd.label_prefix = {p:?}: must be non-empty, without whitespace or '/'"));
    }
    if !(10..=86_400).contains(&c.launchd.interval_s) {
        errs.push(format!("launchd.interval_s = {}: must be between 10 and 86400 seconds", c.launchd.interval_s));
    }
    if c.launchd.path.trim().is_empty() {
        errs.push("launchd.path is empty: give the PATH the agents run with".into());
    }
    errs
}

/// libpq-style URLs may leave the host out of the authority and name a
/// socket folder with `?host=/tmp`, which a generic URL check would refuse.
fn check_database_url(raw: &str) -> std::result::Result<(), String> {
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
        return Err("must start with postgresql:// (or postgres://)".into());
    }
    let cfg: postgres::Config =
        raw.parse().map_err(|e: postgres::Error| format!("not a valid PostgreSQL URL ({e})"))?;
    if cfg.get_hosts().is_empty() {
        return Err(
            "the URL names no host: add one (postgresql://user@127.0.0.1:5432/db) or a socket folder (?host=/tmp)"
                .into(),
        );
    }
    Ok(())
}

fn check_url(raw: &str, schemes: &[&str]) -> std::result::Result<(), String> {
    let u = url::Url::parse(raw).map_err(|e| format!("not a valid URL ({e})"))?;
    if !schemes.contains(&u.scheme()) {
        return Err(format!("scheme {:?} is not one of {}", u.scheme(), schemes.join(", ")));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(())
}

impl Config {
    /// The configuration with every secret replaced by `***`, for `config show`.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        c.redis.url = secret::redact_url(&c.redis.url);
        c.database.url = secret::redact_url(&c.database.url);
        c.discord.webhook_url = secret::redact_url(&c.discord.webhook_url);
        for a in &mut c.api {
            a.url = secret::redact_url(&a.url);
            for v in a.headers.values_mut() {
                if !v.starts_with("${") || !v.ends_with('}') {
                    *v = "***".into();
                }
            }
        }
        c
    }

    /// The secrets this configuration holds, for scrubbing any text we print.
    pub fn secrets(&self) -> Vec<String> {
        let mut s = Vec::new();
        for u in [&self.redis.url, &self.database.url, &self.discord.webhook_url] {
            s.extend(secret::url_secrets(u));
        }
        for a in &self.api {
            s.extend(secret::url_secrets(&a.url));
            for v in a.headers.values() {
                if let Ok(expanded) = crate::checks::http::expand(v, &|n| std::env::var(n).ok()) {
                    s.push(expanded);
                }
            }
        }
        s
    }

    pub fn monitor_label(&self) -> String {
        format!("{}.ops_atomic_monitor", self.launchd.label_prefix)
    }

    pub fn daily_label(&self) -> String {
        format!("{}.ops_atomic_daily", self.launchd.label_prefix)
    }

    pub fn notifications_enabled(&self) -> bool {
        !self.discord.webhook_url.is_empty()
    }

    /// Where notifications go, for the reports: the webhook redacted, or
    /// "off" and how to turn them on.
    pub fn notifications_target(&self) -> String {
        if self.notifications_enabled() {
            format!("Discord webhook {}", secret::redact_url(&self.discord.webhook_url))
        } else {
            "off (no webhook configured: set discord.webhook_url or DISCORD_OPS_WEBHOOK)".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_str(s: &str) -> Result<Config> {
        parse(s, Path::new("ops_atomic.toml"))
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = parse_str("").unwrap();
        assert_eq!(c.monitor.alert_threshold, 3);
        assert_eq!(c.redis.timeout_ms, 3000);
        assert_eq!(c.launchd.interval_s, 300);
        assert!(validate(&c).is_empty());
    }

    #[test]
    fn unknown_key_names_key_file_line_and_column() {
        let e = parse_str("[monitor]\nalert_threshold = 3\nalert_treshold = 4\n").unwrap_err();
        assert!(e.0.contains("ops_atomic.toml:3:1"), "{e}");
        assert!(e.0.contains("alert_treshold"), "{e}");
    }

    #[test]
    fn unknown_section_is_an_error() {
        let e = parse_str("[redis]\nurl='redis://x'\n[postgres]\nurl='x'\n").unwrap_err();
        assert!(e.0.contains("postgres"), "{e}");
        assert!(e.0.contains(":3:"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = parse_str("[monitor]\nalert_threshold = \"three\"\n").unwrap_err();
        assert!(e.0.contains(":2:"), "{e}");
        assert!(e.0.contains("monitor.alert_threshold"), "{e}");
        assert!(e.0.contains("a whole number"), "{e}");
        for (toml, key, words) in [
            ("[monitor]\nalert_threshold = -1\n", "monitor.alert_threshold", "a whole number"),
            ("[launchagents]\nlabels = \"com.x\"\n", "launchagents.labels", "a list"),
            ("[redis]\nenabled = \"yes\"\n", "redis.enabled", "true or false"),
            ("[daily]\nhour = 2.5\n", "daily.hour", "a whole number"),
        ] {
            let e = parse_str(toml).unwrap_err().0;
            assert!(e.contains(key) && e.contains(words), "{toml}: {e}");
            for rust in ["u32", "u64", "sequence", "struct"] {
                assert!(!e.contains(rust), "{toml}: {e}");
            }
        }
    }

    #[test]
    fn a_single_bracket_array_table_gets_the_hint() {
        let e = parse_str("[api]\nname = \"web\"\nurl = \"http://127.0.0.1/\"\n").unwrap_err().0;
        assert!(e.contains("write [[api]]"), "{e}");
        assert!(!e.contains("sequence"), "{e}");
        let e = parse_str("[daily.smoke]\nname = \"x\"\n").unwrap_err().0;
        assert!(e.contains("write [[daily.smoke]]"), "{e}");
    }

    #[test]
    fn bad_severity_is_refused() {
        let e = parse_str("[redis]\nseverity = \"crit\"\n").unwrap_err();
        assert!(e.0.contains("crit"), "{e}");
    }

    #[test]
    fn validation_names_each_bad_key() {
        let c = parse_str(
            "[monitor]\nalert_threshold = 0\nrealert_minutes = 2\n[redis]\ntimeout_ms = 0\n[daily]\nhour = 24\nminute = 60\n[launchagents]\nlabels = ['a b']\n[[api]]\nname='x'\nurl='ftp://h/'\n",
        )
        .unwrap();
        let errs = validate(&c).join("\n");
        for key in [
            "monitor.alert_threshold",
            "monitor.realert_minutes",
            "redis.timeout_ms",
            "daily.hour",
            "daily.minute",
            "launchagents.labels[0]",
            "api[0].url",
        ] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
    }

    #[test]
    fn env_overrides_the_file() {
        let env = |n: &str| match n {
            "OPS_ALERT_THRESHOLD" => Some("5".to_string()),
            "REDIS_URL" => Some("redis://:pw@127.0.0.1:1/".to_string()),
            _ => None,
        };
        let mut c = Config::default();
        let used = apply_env(&mut c, &env).unwrap();
        assert_eq!(c.monitor.alert_threshold, 5);
        assert_eq!(c.redis.url, "redis://:pw@127.0.0.1:1/");
        assert_eq!(used, vec!["OPS_ALERT_THRESHOLD", "REDIS_URL"]);
        let bad = |n: &str| (n == "OPS_ALERT_THRESHOLD").then(|| "x".to_string());
        let e = apply_env(&mut c, &bad).unwrap_err();
        assert!(e.0.contains("OPS_ALERT_THRESHOLD"), "{e}");
    }

    #[test]
    fn missing_default_file_means_defaults_but_named_file_must_exist() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-cfg-{}", std::process::id()));
        let missing = dir.join("nope.toml");
        let l = load(&missing, None, &no_env).unwrap();
        assert!(matches!(l.source, Source::Defaults(_)));
        let e = load(&missing, Some(&missing), &no_env).unwrap_err();
        assert!(e.0.contains("does not exist"), "{e}");
    }

    #[test]
    fn redaction_hides_passwords_and_tokens() {
        let mut c = Config::default();
        c.redis.url = "redis://:hunter2@127.0.0.1:6379".into();
        c.database.url = "postgresql://app:s3cret@127.0.0.1/db".into();
        c.discord.webhook_url = "https://discord.com/api/webhooks/123/tok-EN".into();
        let shown = toml::to_string(&c.redacted()).unwrap();
        for s in ["hunter2", "s3cret", "tok-EN"] {
            assert!(!shown.contains(s), "{s} leaked: {shown}");
        }
        let secrets = c.secrets();
        for s in ["hunter2", "s3cret", "tok-EN"] {
            assert!(secrets.iter().any(|x| x == s), "{s} not in {secrets:?}");
        }
    }
}
