//! The configuration: serde schema with defaults, environment overrides,
//! validation that names the offending key, and redaction for `config show`.
//!
//! Every key is optional. Unknown keys are errors that name the key, the file,
//! the line and the column, because a typo that silently falls back to a
//! default is the worst kind of monitoring bug.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::channels::Channel;
pub use crate::channels::discord::Discord;
pub use crate::channels::notify::Notify;
use crate::checks::Check;
pub use crate::checks::Severity;
pub use crate::checks::command::NagiosCommand;
pub use crate::checks::container::Container;
pub use crate::checks::disk::Disk;
pub use crate::checks::file::FileWatch;
pub use crate::checks::http::Api;
pub use crate::checks::job::Job;
pub use crate::checks::launchagent::LaunchAgents;
pub use crate::checks::postgres::Database;
pub use crate::checks::process::Process;
pub use crate::checks::redis::Redis;
pub use crate::checks::redis_value::RedisValue;
pub use crate::checks::selfcheck::SelfWatch;
pub use crate::checks::sql::Sql;
pub use crate::checks::tcp::Tcp;
use crate::exit::{Error, Result};
use crate::fail;
pub use crate::pings::Ping;
use crate::validate;
pub use crate::windows::Maintenance;

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
    /// TCP connects; none by default.
    pub tcp: Vec<Tcp>,
    /// Processes by command line; none by default.
    pub process: Vec<Process>,
    /// Files that must stay fresh or keep growing; none by default.
    pub file: Vec<FileWatch>,
    /// Free space on volumes; none by default.
    pub disk: Vec<Disk>,
    /// Nagios-compatible plugins and scripts; none by default.
    pub command: Vec<NagiosCommand>,
    /// PostgreSQL queries judged by conditions; none by default (SPEC §16).
    pub sql: Vec<Sql>,
    /// Read-only Redis commands judged by conditions; none by default (SPEC §16).
    pub redis_value: Vec<RedisValue>,
    /// Docker/Podman containers or compose projects; none by default.
    pub container: Vec<Container>,
    /// Scheduled jobs run through `ops-atomic run`; none by default (SPEC §20).
    pub job: Vec<Job>,
    /// ops-atomic watching itself (`self` is a Rust keyword, hence the field name).
    #[serde(rename = "self")]
    pub self_watch: SelfWatch,
    /// Where notifications go.
    pub discord: Discord,
    /// More channels: slack, ntfy, webhook, command, outbox, macos.
    pub notify: Vec<Notify>,
    /// Dead man's switches pinged at the end of every run.
    pub ping: Vec<Ping>,
    /// Recurring windows in which the listed checks behave as silenced (SPEC §15).
    pub maintenance: Vec<Maintenance>,
    /// The daily run.
    pub daily: Daily,
    /// How the two LaunchAgents are generated.
    pub launchd: Launchd,
    /// Files that other tools read (SPEC §11).
    pub export: Export,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitor {
    /// Consecutive failures before a check is DOWN: the default failure_threshold
    /// of every check (env OPS_ALERT_THRESHOLD).
    pub alert_threshold: u32,
    /// Consecutive non-failures before a DOWN check is UP: the default success_threshold.
    pub recovery_threshold: u32,
    /// 0 = one alert per incident; N >= 5 = a reminder every N minutes while still down.
    pub realert_minutes: u32,
    /// Hard bound, in ms, on all checks of one heartbeat together.
    pub deadline_ms: u64,
    /// How messages name this machine; empty = the computer's short host name.
    pub host_name: String,
    /// Results kept per check for flap detection.
    pub flap_window: u32,
    /// Changes between failing and not failing within the window that make a
    /// check flap; 0 = off.
    pub flap_changes: u32,
    /// "22:00-07:00" (local time, may cross midnight): messages whose kind
    /// is not in `quiet_allow` are held, then sent as one digest; "" = off.
    pub quiet_hours: String,
    /// Message kinds that still go out during quiet hours.
    pub quiet_allow: Vec<String>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            alert_threshold: 3,
            recovery_threshold: 1,
            realert_minutes: 0,
            deadline_ms: 10_000,
            host_name: String::new(),
            flap_window: 20,
            flap_changes: 6,
            quiet_hours: String::new(),
            quiet_allow: vec!["alert".into()],
        }
    }
}

impl Monitor {
    /// The machine's name in messages: `host_name`, or the short host name.
    pub fn host(&self) -> String {
        if !self.host_name.trim().is_empty() {
            return self.host_name.trim().to_string();
        }
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let full = if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..end]).into_owned()
        } else {
            String::new()
        };
        let short = full.split('.').next().unwrap_or("").trim();
        if short.is_empty() { "this machine".to_string() } else { short.to_string() }
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
    /// An event log over this many bytes has its oldest days moved to
    /// `events.jsonl.1` by `daily` (never the last 8 days, nor an open incident).
    pub max_events_bytes: u64,
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
            max_events_bytes: 50 * 1024 * 1024,
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

/// Files written for other tools after every heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Export {
    /// The Prometheus textfile, rewritten atomically every heartbeat, for
    /// node_exporter's `--collector.textfile.directory`: an absolute path
    /// ending in `.prom`; "" = no export.
    pub prometheus_textfile: String,
    /// A Prometheus Pushgateway's base URL (SPEC §18): the textfile's metrics
    /// are PUT to `<url>/metrics/job/ops_atomic/instance/<instance>` after
    /// every heartbeat; "" = no push.
    pub pushgateway_url: String,
    /// Headers sent with the push (a token); values may use ${ENV_VAR}.
    pub pushgateway_headers: std::collections::BTreeMap<String, String>,
    /// The `instance` the push is grouped under; "" = monitor.host_name (or the host name).
    pub instance: String,
    /// How long the push may take, at most (inside the heartbeat's deadline).
    pub timeout_ms: u64,
}

impl Default for Export {
    fn default() -> Self {
        Export {
            prometheus_textfile: String::new(),
            pushgateway_url: String::new(),
            pushgateway_headers: std::collections::BTreeMap::new(),
            instance: String::new(),
            timeout_ms: 2000,
        }
    }
}

impl Export {
    /// Every problem in the section, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = crate::export::pushgateway::validate(self);
        let p = &self.prometheus_textfile;
        if p.is_empty() {
            return errs;
        }
        let key = "export.prometheus_textfile";
        if p.chars().any(char::is_control) {
            errs.push(format!("{key} = {p:?}: must not contain control characters"));
        } else if p.starts_with('~') || !p.starts_with('/') {
            errs.push(format!(
                "{key} = {p:?}: must be an absolute path (no ~), e.g. \"/opt/homebrew/var/node_exporter/ops_atomic.prom\""
            ));
        } else if !p.ends_with(".prom") || p.ends_with("/.prom") {
            errs.push(format!(
                "{key} = {p:?}: must name a file ending in .prom (node_exporter's textfile collector reads only those)"
            ));
        }
        errs
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
    let (mut config, source) = match read_bounded(&path) {
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
    inherit_urls(&mut config);
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

/// `[[sql]]` and `[[redis_value]]` without a `url` use `[database]`'s and
/// `[redis]`'s, after the environment has overridden those.
fn inherit_urls(config: &mut Config) {
    for s in config.sql.iter_mut().filter(|s| s.url.is_empty()) {
        s.url = config.database.url.clone();
    }
    for r in config.redis_value.iter_mut().filter(|r| r.url.is_empty()) {
        r.url = config.redis.url.clone();
    }
}

/// A config file larger than this is refused unread (a real one is a few KiB).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads the config file, refusing what is not a regular file (a FIFO or
/// `/dev/zero` would block or never end) and what is over
/// [`MAX_CONFIG_BYTES`], without reading more than that.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular =
        || std::io::Error::other("it is not a regular file (name a .toml file, not a folder, pipe or device)");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    // O_NONBLOCK: a FIFO swapped in after the check above still cannot block the open.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {} KiB, far more than any configuration needs (is it the right file?)",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text"))
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
    validate::timeout_ms(&mut errs, "monitor.deadline_ms", c.monitor.deadline_ms);
    if c.monitor.alert_threshold < 1 {
        errs.push("monitor.alert_threshold = 0: must be at least 1 (OPS_ALERT_THRESHOLD overrides it)".into());
    }
    if c.monitor.recovery_threshold < 1 {
        errs.push("monitor.recovery_threshold = 0: must be at least 1".into());
    }
    if c.monitor.host_name.chars().any(char::is_control) {
        errs.push(format!("monitor.host_name = {:?}: must not contain control characters", c.monitor.host_name));
    }
    if !(2..=1000).contains(&c.monitor.flap_window) {
        errs.push(format!("monitor.flap_window = {}: must be between 2 and 1000 results", c.monitor.flap_window));
    }
    if c.monitor.flap_changes >= c.monitor.flap_window && c.monitor.flap_changes > 0 {
        errs.push(format!(
            "monitor.flap_changes = {}: must be 0 (off) or fewer than flap_window ({})",
            c.monitor.flap_changes, c.monitor.flap_window
        ));
    }
    if c.monitor.realert_minutes != 0 && c.monitor.realert_minutes < 5 {
        errs.push(format!(
            "monitor.realert_minutes = {}: must be 0 (one alert per incident) or at least 5",
            c.monitor.realert_minutes
        ));
    }

    errs.extend(laptop(c));

    let mut ids = std::collections::HashSet::new();
    for (at, check) in c.checks() {
        errs.extend(check.validate(&at));
        errs.extend(check.common().validate(&at));
        for who in check.idents() {
            if !who.name.trim().is_empty() && !ids.insert(who.id.clone()) {
                errs.push(format!(
                    "{at}: another check has the same name {:?} (id {}): names must be unique",
                    who.name, who.id
                ));
            }
        }
    }
    errs.extend(c.discord.validate("discord"));
    let mut names = std::collections::HashSet::new();
    for (i, n) in c.notify.iter().enumerate() {
        let at = format!("notify[{i}]");
        errs.extend(n.validate(&at));
        if !n.name.is_empty() && !names.insert(n.name.as_str()) {
            errs.push(format!("{at}.name = {:?}: another [[notify]] has the same name; names must be unique", n.name));
        }
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in c.ping.iter().enumerate() {
        let at = format!("ping[{i}]");
        errs.extend(p.validate(&at));
        if !p.name.is_empty() && !names.insert(p.name.as_str()) {
            errs.push(format!("{at}.name = {:?}: another [[ping]] has the same name; names must be unique", p.name));
        }
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
    if c.daily.max_events_bytes < 1024 * 1024 {
        errs.push(format!(
            "daily.max_events_bytes = {}: must be at least 1048576 (1 MiB); the default is 52428800 (50 MiB)",
            c.daily.max_events_bytes
        ));
    }
    if c.daily.max_log_bytes < 1024 {
        errs.push(format!("daily.max_log_bytes = {}: must be at least 1024", c.daily.max_log_bytes));
    }
    for (i, s) in c.daily.smoke.iter().enumerate() {
        validate::name(&mut errs, &format!("daily.smoke[{i}].name"), &s.name, "smoke command");
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
    errs.extend(c.export.validate());
    errs
}

/// The message kinds `quiet_allow` may name.
pub const MESSAGE_KINDS: [&str; 9] =
    ["alert", "reminder", "recovery", "flapping", "stable", "digest", "repair", "daily", "test"];

/// The keys of SPEC §15: `depends_on` naming checks that exist, without a
/// cycle; `quiet_hours` and `quiet_allow`; `[[maintenance]]`.
fn laptop(c: &Config) -> Vec<String> {
    let mut errs = Vec::new();
    let q = &c.monitor.quiet_hours;
    if !q.trim().is_empty() && crate::windows::Span::parse(q).is_none() {
        errs.push(format!(
            "monitor.quiet_hours = {q:?}: must be two local times as HH:MM-HH:MM, e.g. \"22:00-07:00\", or \"\" (off)"
        ));
    }
    for (i, k) in c.monitor.quiet_allow.iter().enumerate() {
        if !MESSAGE_KINDS.contains(&k.as_str()) {
            errs.push(format!("monitor.quiet_allow[{i}] = {k:?}: must be one of {}", MESSAGE_KINDS.join(", ")));
        }
    }
    let graph: Vec<(String, String, Vec<String>)> = c
        .checks()
        .into_iter()
        .flat_map(|(at, check)| {
            let deps = check.common().depends_on;
            check.idents().into_iter().map(move |who| (at.clone(), who.id, deps.clone()))
        })
        .collect();
    let known: Vec<&str> = graph.iter().map(|(_, id, _)| id.as_str()).collect();
    let mut reported = std::collections::HashSet::new();
    for (at, id, deps) in &graph {
        for (i, d) in deps.iter().enumerate() {
            if d.trim().is_empty() {
                continue;
            }
            if !known.contains(&d.as_str()) {
                if reported.insert((at.clone(), d.clone())) {
                    errs.push(format!(
                        "{at}.depends_on[{i}] = {d:?}: no check has this id (the checks are {})",
                        known.join(", ")
                    ));
                }
            } else if d == id {
                errs.push(format!("{at}.depends_on[{i}] = {d:?}: a check cannot depend on itself"));
            }
        }
    }
    let deps = |id: &str| graph.iter().filter(|(_, i, _)| i == id).flat_map(|(_, _, d)| d.clone()).collect();
    if let Some(cycle) = first_cycle(&known, &deps) {
        errs.push(format!("depends_on has a cycle: {}: remove one of these dependencies", cycle.join(" -> ")));
    }
    for (i, w) in c.maintenance.iter().enumerate() {
        let at = format!("maintenance[{i}]");
        errs.extend(w.validate(&at));
        for (j, id) in w.checks.iter().enumerate() {
            if !known.contains(&id.as_str()) {
                errs.push(format!(
                    "{at}.checks[{j}] = {id:?}: no check has this id (the checks are {})",
                    known.join(", ")
                ));
            }
        }
    }
    errs
}

/// The first cycle among the dependencies, as the ids along it with the
/// first repeated at the end (`api:web -> database -> api:web`). A check
/// depending on itself is reported on its own, not here.
pub fn first_cycle(ids: &[&str], deps: &dyn Fn(&str) -> Vec<String>) -> Option<Vec<String>> {
    fn walk(
        id: &str,
        deps: &dyn Fn(&str) -> Vec<String>,
        path: &mut Vec<String>,
        done: &mut std::collections::HashSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == id) {
            let mut cycle = path[at..].to_vec();
            cycle.push(id.to_string());
            return Some(cycle);
        }
        if done.contains(id) {
            return None;
        }
        path.push(id.to_string());
        for d in deps(id).iter().filter(|d| d.as_str() != id) {
            if let Some(c) = walk(d, deps, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(id.to_string());
        None
    }
    let mut done = std::collections::HashSet::new();
    ids.iter().find_map(|id| walk(id, deps, &mut Vec::new(), &mut done))
}

impl Config {
    /// Each check's `depends_on`, by id.
    pub fn dependencies(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out = std::collections::BTreeMap::new();
        for (_, check) in self.checks() {
            let deps = check.common().depends_on;
            if deps.is_empty() {
                continue;
            }
            for who in check.idents() {
                out.insert(who.id, deps.clone());
            }
        }
        out
    }

    /// The check registry: every check section with the key it is written
    /// under, in report order. A new check kind is its field above and one
    /// line here (and in [`Config::checks_mut`]).
    pub fn checks(&self) -> Vec<(String, &dyn Check)> {
        let mut all: Vec<(String, &dyn Check)> =
            vec![("redis".into(), &self.redis), ("database".into(), &self.database)];
        all.extend(self.api.iter().enumerate().map(|(i, a)| (format!("api[{i}]"), a as &dyn Check)));
        all.push(("launchagents".into(), &self.launchagents));
        all.extend(self.tcp.iter().enumerate().map(|(i, c)| (format!("tcp[{i}]"), c as &dyn Check)));
        all.extend(self.process.iter().enumerate().map(|(i, c)| (format!("process[{i}]"), c as &dyn Check)));
        all.extend(self.file.iter().enumerate().map(|(i, c)| (format!("file[{i}]"), c as &dyn Check)));
        all.extend(self.disk.iter().enumerate().map(|(i, c)| (format!("disk[{i}]"), c as &dyn Check)));
        all.extend(self.command.iter().enumerate().map(|(i, c)| (format!("command[{i}]"), c as &dyn Check)));
        all.extend(self.sql.iter().enumerate().map(|(i, c)| (format!("sql[{i}]"), c as &dyn Check)));
        all.extend(self.redis_value.iter().enumerate().map(|(i, c)| (format!("redis_value[{i}]"), c as &dyn Check)));
        all.extend(self.container.iter().enumerate().map(|(i, c)| (format!("container[{i}]"), c as &dyn Check)));
        all.extend(self.job.iter().enumerate().map(|(i, c)| (format!("job[{i}]"), c as &dyn Check)));
        all.push(("self".into(), &self.self_watch));
        all
    }

    /// The same sections, to redact them.
    fn checks_mut(&mut self) -> Vec<&mut dyn Check> {
        let mut all: Vec<&mut dyn Check> = vec![&mut self.redis, &mut self.database];
        all.extend(self.api.iter_mut().map(|a| a as &mut dyn Check));
        all.push(&mut self.launchagents);
        all.extend(self.tcp.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.process.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.file.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.disk.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.command.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.sql.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.redis_value.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.container.iter_mut().map(|c| c as &mut dyn Check));
        all.extend(self.job.iter_mut().map(|c| c as &mut dyn Check));
        all.push(&mut self.self_watch);
        all
    }

    /// The channel registry: every channel that is configured (on).
    pub fn channels(&self) -> Vec<&dyn Channel> {
        let mut all: Vec<&dyn Channel> = Vec::new();
        if self.discord.enabled() {
            all.push(&self.discord);
        }
        all.extend(self.notify.iter().map(|n| n as &dyn Channel));
        all
    }

    /// The configuration with every secret replaced by `***`, for `config show`.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        for check in c.checks_mut() {
            check.redact();
        }
        c.discord.redact();
        c.notify.iter_mut().for_each(Channel::redact);
        c.ping.iter_mut().for_each(Ping::redact);
        crate::validate::redact_headers(c.export.pushgateway_headers.values_mut());
        c
    }

    /// The secrets this configuration holds, for scrubbing any text we print.
    pub fn secrets(&self) -> Vec<String> {
        let mut s: Vec<String> = self.checks().iter().flat_map(|(_, c)| c.secrets()).collect();
        s.extend(self.discord.secrets());
        s.extend(self.notify.iter().flat_map(Channel::secrets));
        s.extend(self.ping.iter().flat_map(Ping::secrets));
        s.extend(crate::validate::header_secrets(self.export.pushgateway_headers.values()));
        s
    }

    pub fn monitor_label(&self) -> String {
        format!("{}.ops_atomic_monitor", self.launchd.label_prefix)
    }

    pub fn daily_label(&self) -> String {
        format!("{}.ops_atomic_daily", self.launchd.label_prefix)
    }

    pub fn notifications_enabled(&self) -> bool {
        !self.channels().is_empty()
    }

    /// Where notifications go, for the reports: each channel's target, or
    /// "off" and how to turn them on.
    pub fn notifications_target(&self) -> String {
        let channels = self.channels();
        if channels.is_empty() {
            "off (no webhook configured: set discord.webhook_url or DISCORD_OPS_WEBHOOK, or add a [[notify]] channel)"
                .to_string()
        } else {
            channels.iter().map(|c| c.target()).collect::<Vec<_>>().join(", ")
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
    fn both_check_registries_list_every_section() {
        // One of each array kind; a kind added to checks() but not to
        // checks_mut() would go unredacted in `config show`.
        let c = parse_str(
            r#"
[[api]]
name = "a"
url = "http://127.0.0.1/"
[[tcp]]
name = "t"
address = "127.0.0.1:1"
[[process]]
name = "p"
cmdline_contains = "x"
[[file]]
name = "f"
path = "/tmp/x"
[[disk]]
name = "d"
path = "/"
[[command]]
name = "c"
command = ["/bin/true"]
[[sql]]
name = "s"
query = "select 1"
[[redis_value]]
name = "r"
command = ["DBSIZE"]
[[container]]
name = "k"
container = "db"
[[job]]
name = "j"
every = "1h"
"#,
        )
        .unwrap();
        let kinds: Vec<&str> = c.checks().iter().map(|(_, k)| k.kind()).collect();
        let mut copy = c.clone();
        let kinds_mut: Vec<&str> = copy.checks_mut().iter().map(|k| k.kind()).collect();
        assert_eq!(kinds, kinds_mut);
        for kind in [
            "redis",
            "database",
            "api",
            "launchagent",
            "tcp",
            "process",
            "file",
            "disk",
            "command",
            "sql",
            "redis_value",
            "container",
            "job",
            "self",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
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
    fn the_prometheus_textfile_is_an_absolute_prom_path() {
        let check = |p: &str| Export { prometheus_textfile: p.into(), ..Export::default() }.validate();
        assert!(check("").is_empty(), "off by default");
        assert!(check("/opt/homebrew/var/node_exporter/ops_atomic.prom").is_empty());
        for (p, why) in [
            ("~/metrics/ops.prom", "absolute path (no ~)"),
            ("metrics/ops.prom", "absolute path"),
            ("/var/lib/node_exporter/ops.txt", "ending in .prom"),
            ("/var/lib/node_exporter/.prom", "ending in .prom"),
            ("/var/lib/node\nx/ops.prom", "control characters"),
        ] {
            let errs = check(p);
            assert!(
                errs.len() == 1 && errs[0].contains(why) && errs[0].contains("export.prometheus_textfile"),
                "{p:?}: {errs:?}"
            );
        }
        let c = parse_str("[export]\nprometheus_textfile = \"rel.prom\"\n").unwrap();
        assert_eq!(validate(&c).len(), 1);
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
    fn notify_and_ping_entries_are_checked_by_key() {
        let e = parse_str("[[notify]]\nname = 'a'\ntype = 'slack'\nurl = 'https://x/y'\n\n[[notify]]\nname = 'b'\ntype = 'ntfy'\nuri = 'x'\n")
            .unwrap_err();
        assert!(e.0.contains("ops_atomic.toml:9:1") && e.0.contains("uri"), "{e}");
        let e = parse_str("[[notify]]\nname = 'a'\ntype = 'teams'\n").unwrap_err();
        assert!(e.0.contains(":3:") && e.0.contains("teams"), "{e}");
        let e = parse_str("[[ping]]\nname = 'hc'\nurl = 'https://hc-ping.com/u'\nstyle = 'kuma'\n").unwrap_err();
        assert!(e.0.contains(":4:") && e.0.contains("kuma"), "{e}");
        let c = parse_str(
            "[[notify]]\nname = 'a'\ntype = 'slack'\n[[notify]]\nname = 'a'\ntype = 'outbox'\ndir = '/tmp/o'\n[[ping]]\nname = 'hc'\n",
        )
        .unwrap();
        let errs = validate(&c).join("\n");
        for key in [
            "notify[0].url is missing: a slack channel needs the incoming-webhook URL",
            "notify[1].name",
            "ping[0].url",
        ] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
    }

    #[test]
    fn dependencies_name_unknown_ids_and_cycles() {
        let c = parse_str(
            "[redis]\ndepends_on = ['database']\n[database]\ndepends_on = ['api:web']\n[[api]]\nname = 'web'\nurl = 'http://127.0.0.1/'\ndepends_on = ['redis', 'postgres']\n",
        )
        .unwrap();
        let errs = validate(&c).join("\n");
        assert!(errs.contains("depends_on has a cycle: redis -> database -> api:web -> redis"), "{errs}");
        assert!(errs.contains("api[0].depends_on[1] = \"postgres\": no check has this id"), "{errs}");
        let ok = parse_str("[redis]\ndepends_on = ['database']\n").unwrap();
        assert!(validate(&ok).is_empty(), "{:?}", validate(&ok));
        assert_eq!(ok.dependencies()["redis"], ["database"]);
        let me = parse_str("[redis]\ndepends_on = ['redis']\n").unwrap();
        assert!(validate(&me).join("\n").contains("cannot depend on itself"));
    }

    #[test]
    fn quiet_hours_and_maintenance_are_checked() {
        let c = parse_str(
            "[monitor]\nquiet_hours = '22-07'\nquiet_allow = ['alert', 'page']\n[[maintenance]]\nname = 'backup'\nchecks = ['database', 'mysql']\nfrom = '01:00'\nto = '25:00'\n",
        )
        .unwrap();
        let errs = validate(&c).join("\n");
        for key in [
            "monitor.quiet_hours",
            "monitor.quiet_allow[1] = \"page\"",
            "maintenance[0].to",
            "maintenance[0].checks[1] = \"mysql\"",
        ] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
        assert!(!errs.contains("checks[0]"), "{errs}");
        let good = parse_str("[monitor]\nquiet_hours = '22:00-07:00'\n[[maintenance]]\nname = 'b'\nfrom = '23:00'\nto = '01:00'\ndays = ['sat']\n").unwrap();
        assert!(validate(&good).is_empty(), "{:?}", validate(&good));
        assert_eq!(Config::default().monitor.quiet_allow, ["alert"]);
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
        c.notify = parse_str(
            "[[notify]]\nname = 'chat'\ntype = 'slack'\nurl = 'https://hooks.slack.com/services/T0/B0/sl4ck'\n",
        )
        .unwrap()
        .notify;
        c.ping = parse_str("[[ping]]\nname = 'hc'\nurl = 'https://hc-ping.com/uu1d-pinG'\n").unwrap().ping;
        let shown = toml::to_string(&c.redacted()).unwrap();
        for s in ["hunter2", "s3cret", "tok-EN", "sl4ck", "uu1d-pinG"] {
            assert!(!shown.contains(s), "{s} leaked: {shown}");
        }
        let shown: Config = toml::from_str(&shown).unwrap();
        assert!(validate(&shown).join("\n").contains("notify[0].url holds `***`"));
        let secrets = c.secrets().join(" ");
        for s in ["hunter2", "s3cret", "tok-EN", "sl4ck", "uu1d-pinG"] {
            assert!(secrets.contains(s), "{s} not in {secrets:?}");
        }
    }

    #[test]
    fn hostile_names_labels_and_pasted_redactions_are_refused() {
        let c = parse_str(
            "[redis]\nurl = 'redis://:***@127.0.0.1:6379'\n[database]\nurl = 'postgresql://u:***@h/db'\n[launchagents]\nlabels = ['../x', \"a\\u0007b\"]\n[[api]]\nname = \"Evil\\n# injected\"\nurl = 'http://h/'\n[discord]\nwebhook_url = 'https://discord.com/api/webhooks/1/***'\n",
        )
        .unwrap();
        let errs = validate(&c).join("\n");
        for key in [
            "redis.url holds `***`",
            "database.url holds `***`",
            "discord.webhook_url holds `***`",
            "launchagents.labels[0]",
            "launchagents.labels[1]",
            "api[0].name",
        ] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
    }
}
