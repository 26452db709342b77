//! `init` (SPEC §13): writes a commented starter config, filled from what
//! runs on this machine.
//!
//! Looking ([`look`]) is I/O at the edge: a PING to Redis, a TCP connect to
//! PostgreSQL, the labels of the user's LaunchAgents. Writing the text
//! ([`render`]) is a pure function of what was found and the code's own
//! defaults (`Config::default()`), so the file always shows the defaults the
//! binary really uses. The file is one block per config section, in
//! [`SECTIONS`]: a new check kind or channel adds one block there.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cli::InitArgs;
use crate::color::{self, Style};
use crate::config::Config;
use crate::exit::Result;
use crate::fail;
use crate::paths::Paths;

/// How long each probe may take: init must feel instant, and a local
/// service that needs longer than this to accept is not "answering".
const PROBE_TIMEOUT: Duration = Duration::from_millis(700);

/// Hidden seams for the tests, whose servers cannot take the default ports:
/// where init looks for Redis and PostgreSQL (host:port).
const REDIS_ADDR_ENV: &str = "OPS_ATOMIC_INIT_REDIS_ADDR";
const PG_ADDR_ENV: &str = "OPS_ATOMIC_INIT_PG_ADDR";

fn probe_addr(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

/// Writes (or with `--dry-run` prints) the starter config at `config_path`.
/// Refuses to replace an existing file without `--force` (exit 3).
pub fn run(paths: &Paths, config_path: &Path, agents_dir: &Path, args: &InitArgs) -> Result<u8> {
    let exists = config_path.symlink_metadata().is_ok();
    if exists && !args.force && !args.dry_run {
        return Err(fail!(
            "{} already exists: pass --force to replace it (ops-atomic init --force), or --dry-run to print what init would write",
            config_path.display()
        ));
    }
    let found =
        look(&probe_addr(REDIS_ADDR_ENV, "127.0.0.1:6379"), &probe_addr(PG_ADDR_ENV, "127.0.0.1:5432"), agents_dir);
    let mut found = found;
    found.agents.runner = runner(&paths.root);
    let text = render(&found, &Config::default());
    if args.dry_run {
        print!("{text}");
        eprintln!("(dry run: nothing written; without --dry-run this goes to {})", config_path.display());
        return Ok(0);
    }
    if let Some(dir) = config_path.parent() {
        crate::paths::ensure_dir(dir)?;
    }
    crate::paths::write_atomic(config_path, text.as_bytes())?;
    restrict(config_path)?;
    print!("{}", summary(&found, config_path, exists, &paths.root));
    Ok(0)
}

/// `[this binary, "--root", root]`: how a LaunchAgent's command goes
/// through `ops-atomic run` for this root.
fn runner(root: &Path) -> Vec<String> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map_or_else(|| "ops-atomic".to_string(), |p| p.display().to_string());
    vec![exe, "--root".into(), root.display().to_string()]
}

/// Owner read/write only: the file is where a webhook URL or a password
/// will be pasted.
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| fail!("could not make {} private (0600): {}", path.display(), crate::exit::io_reason(&e)))
}

// ---------------------------------------------------------------------------
// Looking

/// What `init` found on this machine.
#[derive(Debug, Clone)]
pub struct Found {
    pub redis: Service,
    pub postgres: Service,
    pub agents: Agents,
    /// Who a database URL without a user connects as.
    pub login_user: Option<String>,
    /// What runs on the container Engine, or why it could not be asked.
    pub containers: std::result::Result<crate::checks::container::Running, String>,
    /// The TCP ports something listens on, with their owners.
    pub listeners: Vec<crate::checks::port_owner::Listener>,
}

/// A local service at `addr`, and whether it answered.
#[derive(Debug, Clone)]
pub struct Service {
    pub addr: String,
    pub answered: bool,
    /// What happened, for the comment: "answered PONG", "connection refused".
    pub note: String,
}

/// The LaunchAgents found in the agents folder.
#[derive(Debug, Clone, Default)]
pub struct Agents {
    pub dir: PathBuf,
    /// Labels, sorted.
    pub labels: Vec<String>,
    /// Why the folder could not be listed (a missing folder included).
    pub unreadable: Option<String>,
    /// The agents that launchd starts on a schedule (`StartCalendarInterval`
    /// or `StartInterval`), ops-atomic's own left out: each proposed as a `[[job]]`.
    pub scheduled: Vec<Scheduled>,
    /// How a job's command goes through this binary: its absolute path and
    /// the root (`/…/ops-atomic --root /…`), before `run NAME -- …`.
    pub runner: Vec<String>,
}

/// A LaunchAgent run on a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub label: String,
    /// `ProgramArguments` (or `Program`).
    pub program: Vec<String>,
    pub when: Schedule,
}

/// When launchd starts it.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `StartInterval`, in seconds.
    Interval(u64),
    /// `StartCalendarInterval`: one dictionary or several (a missing key is
    /// a wildcard, as launchd reads it).
    Calendar(Vec<Calendar>),
}

/// One `StartCalendarInterval` dictionary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    pub minute: Option<i64>,
    pub hour: Option<i64>,
    /// 0 and 7 are Sunday.
    pub weekday: Option<i64>,
    pub day: Option<i64>,
    pub month: Option<i64>,
}

impl Agents {
    /// Homebrew's services (`homebrew.*`): watched by default.
    pub fn homebrew(&self) -> impl Iterator<Item = &String> {
        self.labels.iter().filter(|l| is_homebrew(l))
    }
    /// Everything else: listed commented out.
    pub fn others(&self) -> impl Iterator<Item = &String> {
        self.labels.iter().filter(|l| !is_homebrew(l))
    }
}

/// A Homebrew service label that the config can watch as it is (labels with
/// whitespace are refused by validation, so they are only listed).
fn is_homebrew(label: &str) -> bool {
    label.starts_with("homebrew.") && !label.chars().any(char::is_whitespace)
}

pub fn look(redis_addr: &str, pg_addr: &str, agents_dir: &Path) -> Found {
    Found {
        redis: probe_redis(redis_addr),
        postgres: probe_postgres(pg_addr),
        agents: list_agents(agents_dir),
        login_user: crate::checks::postgres::login_user(),
        containers: crate::checks::container::running(PROBE_TIMEOUT),
        listeners: crate::checks::port_owner::listeners().unwrap_or_default(),
    }
}

/// The schedule and command of a plist launchd starts on a schedule;
/// `None` for any other, and for ops-atomic's own agents (its heartbeat and
/// daily run, or a job already wrapped in `ops-atomic run`).
fn scheduled(path: &Path, label: &str) -> Option<Scheduled> {
    let v = plist::Value::from_file(path).ok()?;
    let d = v.as_dictionary()?;
    let program: Vec<String> = match d.get("ProgramArguments").and_then(|p| p.as_array()) {
        Some(args) => args.iter().filter_map(|a| a.as_string().map(str::to_string)).collect(),
        None => vec![d.get("Program")?.as_string()?.to_string()],
    };
    if label.ends_with(".ops_atomic_monitor")
        || label.ends_with(".ops_atomic_daily")
        || program.first().is_some_and(|p| p.rsplit('/').next() == Some("ops-atomic"))
    {
        return None;
    }
    let int = |v: &plist::Value| v.as_signed_integer().or_else(|| v.as_unsigned_integer().map(|u| u as i64));
    let calendar = |c: &plist::Dictionary| Calendar {
        minute: c.get("Minute").and_then(int),
        hour: c.get("Hour").and_then(int),
        weekday: c.get("Weekday").and_then(int),
        day: c.get("Day").and_then(int),
        month: c.get("Month").and_then(int),
    };
    let when = if let Some(cal) = d.get("StartCalendarInterval") {
        let entries: Vec<Calendar> = match cal {
            plist::Value::Dictionary(c) => vec![calendar(c)],
            plist::Value::Array(a) => a.iter().filter_map(|v| v.as_dictionary()).map(calendar).collect(),
            _ => return None,
        };
        if entries.is_empty() {
            return None;
        }
        Schedule::Calendar(entries)
    } else {
        let secs = d.get("StartInterval").and_then(int)?;
        Schedule::Interval(u64::try_from(secs).ok().filter(|s| *s > 0)?)
    };
    Some(Scheduled { label: label.to_string(), program, when })
}

/// Seconds as a config duration: `"1d"`, `"6h"`, `"15m"`, `"90s"`.
fn dur_text(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The `[[job]]` keys for a launchd schedule: `(key, value)` lines, and a
/// note when launchd's schedule says more than a job's can.
fn job_keys(when: &Schedule) -> (Vec<(&'static str, toml::Value)>, Option<String>) {
    let s = |v: String| toml::Value::String(v);
    match when {
        Schedule::Interval(secs) => {
            let grace = (*secs).min(1800);
            (vec![("every", s(dur_text(*secs))), ("grace", s(dur_text(grace)))], None)
        }
        Schedule::Calendar(entries) => {
            let first = &entries[0];
            let mut note = None;
            if first.day.is_some() || first.month.is_some() {
                note = Some("launchd runs it on a day of the month or year: a [[job]] checks daily or weekly, so this watches it every 31 days".to_string());
                return (vec![("every", s("31d".into())), ("grace", s("1d".into()))], note);
            }
            match (first.hour, first.minute) {
                (None, m) => {
                    // Every hour at :MM (or every minute, with no Minute either).
                    let every = if m.is_some() { "1h" } else { "1m" };
                    (
                        vec![("every", s(every.into())), ("grace", s(if m.is_some() { "30m" } else { "1m" }.into()))],
                        None,
                    )
                }
                (Some(h), m) => {
                    if m.is_none() {
                        note = Some(format!(
                            "launchd's entry has no Minute: it starts it every minute of {h:02}:00–{h:02}:59"
                        ));
                    }
                    let at = format!("{:02}:{:02}", h.clamp(0, 23), m.unwrap_or(0).clamp(0, 59));
                    let same_time: Vec<&Calendar> =
                        entries.iter().filter(|c| c.hour == first.hour && c.minute == first.minute).collect();
                    if same_time.len() < entries.len() {
                        note = Some("launchd starts it at several times: this watches the first".to_string());
                    }
                    let mut days: Vec<String> = Vec::new();
                    if same_time.iter().all(|c| c.weekday.is_some()) {
                        for c in same_time {
                            let name = WEEKDAYS[c.weekday.unwrap_or(0).rem_euclid(7) as usize].to_string();
                            if !days.contains(&name) {
                                days.push(name);
                            }
                        }
                    }
                    let days = toml::Value::Array(days.into_iter().map(toml::Value::String).collect());
                    (vec![("at", s(at)), ("days", days), ("grace", s("30m".into()))], note)
                }
            }
        }
    }
}

/// Ports from here up are the ephemeral range (macOS, IANA): a client's or a
/// helper's, not a service to watch.
const EPHEMERAL_PORTS: u16 = 49152;

/// At most this many listeners are proposed (a Mac has many).
const MAX_LISTENERS: usize = 20;

/// The listeners worth proposing as [[tcp]]: below the ephemeral range, by port.
fn proposed_listeners(f: &Found) -> impl Iterator<Item = &crate::checks::port_owner::Listener> {
    f.listeners.iter().filter(|l| l.port < EPHEMERAL_PORTS).take(MAX_LISTENERS)
}

/// The program of a command line, as `owner_contains` would match it:
/// `/usr/lib/postgresql/16/bin/postgres -D x` gives `postgres`.
fn program_name(cmdline: &str) -> String {
    let first = cmdline.split_whitespace().next().unwrap_or("");
    let base = first.rsplit('/').next().unwrap_or(first);
    // `postgres: checkpointer` style titles end in a colon.
    base.trim_end_matches(':').chars().filter(|c| !c.is_control()).take(40).collect()
}

fn connect(addr: &str) -> std::result::Result<TcpStream, String> {
    let target: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))?;
    TcpStream::connect_timeout(&target, PROBE_TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "no answer in time".to_string(),
        _ => e.to_string(),
    })
}

/// One raw `PING`: `+PONG` is Redis; an error reply (`-NOAUTH …`) is a
/// Redis that wants a password, which the config can give.
fn probe_redis(addr: &str) -> Service {
    let answer = (|| {
        let mut s = connect(addr)?;
        let _ = s.set_read_timeout(Some(PROBE_TIMEOUT));
        let _ = s.set_write_timeout(Some(PROBE_TIMEOUT));
        s.write_all(b"*1\r\n$4\r\nPING\r\n").map_err(|e| e.to_string())?;
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).map_err(|_| "connected, but no answer to PING".to_string())?;
        Ok::<String, String>(String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string())
    })();
    let (answered, note) = match answer {
        Ok(line) if line == "+PONG" => (true, "answered PING".to_string()),
        Ok(line) if line.starts_with('-') => (true, format!("answered PING with {:?}", &line[1..])),
        Ok(line) => (false, format!("something answered PING with {line:?}, not Redis")),
        Err(why) => (false, why),
    };
    Service { addr: addr.to_string(), answered, note }
}

/// A TCP connect: enough to know a server listens; whether the login user
/// may log in is what `heartbeat` then tells.
fn probe_postgres(addr: &str) -> Service {
    let (answered, note) = match connect(addr) {
        Ok(_) => (true, "accepted a connection".to_string()),
        Err(why) => (false, why),
    };
    Service { addr: addr.to_string(), answered, note }
}

fn list_agents(dir: &Path) -> Agents {
    let mut agents = Agents { dir: dir.to_path_buf(), ..Agents::default() };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            agents.unreadable = Some("the folder does not exist".into());
            return agents;
        }
        Err(e) => {
            agents.unreadable = Some(crate::exit::io_reason(&e));
            return agents;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "plist") {
            continue;
        }
        // A plist that does not parse or has no Label is nobody's service.
        let label = plist::Value::from_file(&path)
            .ok()
            .and_then(|v| v.as_dictionary()?.get("Label")?.as_string().map(str::to_string));
        // A control character would break the line it is written on.
        if let Some(label) = label.filter(|l| !l.is_empty() && !l.chars().any(char::is_control)) {
            if let Some(s) = scheduled(&path, &label) {
                agents.scheduled.push(s);
            }
            agents.labels.push(label);
        }
    }
    agents.scheduled.sort_by(|a, b| a.label.cmp(&b.label));
    agents.labels.sort();
    agents.labels.dedup();
    agents
}

// ---------------------------------------------------------------------------
// Writing

/// One block of the file per config section, in the file's order (the order
/// of `Config`). A new check kind or channel adds its block here.
pub const SECTIONS: &[fn(&mut Doc, &Found, &Config)] = &[
    header,
    monitor,
    redis,
    database,
    api,
    launchagents,
    tcp,
    process,
    file,
    disk,
    command,
    sql,
    redis_value,
    container,
    job,
    self_watch,
    discord,
    notify,
    ping,
    maintenance,
    daily,
    launchd,
    export,
];

/// The whole file: every section with its defaults and a comment per key.
pub fn render(found: &Found, defaults: &Config) -> String {
    let mut doc = Doc::default();
    for section in SECTIONS {
        section(&mut doc, found, defaults);
    }
    doc.0
}

/// A TOML text being written: prose comments start with `# `; commented-out
/// examples with `#` and no space, so removing that `#` gives valid TOML.
#[derive(Default)]
pub struct Doc(String);

/// Where the comment after a key starts, so the defaults read as a column.
const COMMENT_COLUMN: usize = 27;

impl Doc {
    fn comment(&mut self, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.0, "# {line}");
        }
    }
    fn section(&mut self, header: &str, about: &str) {
        self.0.push('\n');
        self.comment(about);
        let _ = writeln!(self.0, "[{header}]");
    }
    fn line(&mut self, prefix: &str, key: &str, value: &str, about: &str) {
        let mut line = format!("{prefix}{key} = {value}");
        if !about.is_empty() {
            let pad = COMMENT_COLUMN.saturating_sub(line.chars().count()).max(1);
            let _ = write!(line, "{:pad$}# {about}", "");
        }
        let _ = writeln!(self.0, "{line}");
    }
    /// `key = value   # about`
    fn key(&mut self, key: &str, value: impl Serialize, about: &str) {
        self.line("", key, &toml_value(value), about);
    }
    /// `#key = value   # about`: shown, not in effect.
    fn example(&mut self, key: &str, value: impl Serialize, about: &str) {
        self.line("#", key, &toml_value(value), about);
    }
    fn raw(&mut self, text: &str) {
        self.0.push_str(text);
    }
}

/// A value as TOML writes it (strings quoted and escaped).
fn toml_value(v: impl Serialize) -> String {
    toml::Value::try_from(v).map(|v| v.to_string()).unwrap_or_else(|e| format!("\"<{e}>\""))
}

fn header(d: &mut Doc, _: &Found, _: &Config) {
    d.comment(
        "ops-atomic configuration, written by `ops-atomic init` from what ran on this machine.\n\
         Every key is optional: one left out takes the default shown here. Environment\n\
         variables override the file where named. The README lists every key.\n\
         After an edit: `ops-atomic config check`.",
    );
}

fn monitor(d: &mut Doc, _: &Found, c: &Config) {
    let m = &c.monitor;
    d.section("monitor", "When to alert, and how long a heartbeat may take.");
    d.key(
        "alert_threshold",
        m.alert_threshold,
        "consecutive failures before a check is DOWN (every check's default failure_threshold); env OPS_ALERT_THRESHOLD",
    );
    d.key("recovery_threshold", m.recovery_threshold, "consecutive passes before a DOWN check is UP again");
    d.key(
        "realert_minutes",
        m.realert_minutes,
        "0 = one alert per incident; N >= 5 = a reminder every N minutes while still down",
    );
    d.key("deadline_ms", m.deadline_ms, "hard bound on all checks of one heartbeat together");
    d.key("host_name", m.host_name.clone(), "how messages name this machine; \"\" = its short host name");
    d.key("flap_window", m.flap_window, "results kept per check for flap detection");
    d.key("flap_changes", m.flap_changes, "changes within the window that make a check flap; 0 = off");
    d.key(
        "quiet_hours",
        m.quiet_hours.clone(),
        "e.g. \"22:00-07:00\" (local time): messages not in quiet_allow are held, then sent as one digest; \"\" = off",
    );
    d.key("quiet_allow", m.quiet_allow.clone(), "message kinds that still go out during quiet hours");
}

fn redis(d: &mut Doc, f: &Found, c: &Config) {
    let r = &c.redis;
    let s = &f.redis;
    let (about, url) = if s.answered {
        let mut about = format!("Redis {} on {} when init ran.", s.note, s.addr);
        if s.note.contains("AUTH") {
            about.push_str("\nIt wants a password: put it in the URL (redis://:PASSWORD@host:port) or in REDIS_URL.");
        }
        (about, format!("redis://{}", s.addr))
    } else {
        (
            format!(
                "Nothing answered on {} when init ran ({}), so this check is off:\n\
                 set enabled = true once Redis runs (e.g. brew services start redis).",
                s.addr, s.note
            ),
            r.url.clone(),
        )
    };
    d.section("redis", &about);
    d.key("enabled", s.answered, "run this check");
    d.key("url", url, "env REDIS_URL; a password goes in the URL: redis://:PASSWORD@host:6379");
    d.key("timeout_ms", r.timeout_ms, "connect + PING");
    d.key("severity", r.severity, "what a failure counts as: \"critical\" or \"warning\"");
}

fn database(d: &mut Doc, f: &Found, c: &Config) {
    let db = &c.database;
    let s = &f.postgres;
    let user = f.login_user.as_deref().unwrap_or("the login user");
    let (about, url) = if s.answered {
        (format!("PostgreSQL {} on {} when init ran.", s.note, s.addr), format!("postgresql://{}/postgres", s.addr))
    } else {
        (
            format!(
                "Nothing accepted a connection on {} when init ran ({}),\n\
                 so this check is off: set enabled = true once PostgreSQL runs\n\
                 (e.g. brew services start postgresql@17).",
                s.addr, s.note
            ),
            db.url.clone(),
        )
    };
    d.section("database", &about);
    d.key("enabled", s.answered, "run this check");
    d.key("url", url, &format!("env DATABASE_URL; no user in the URL = the login user ({user}), as psql does"));
    d.key("timeout_ms", db.timeout_ms, "connect + query");
    d.key("query", &db.query, "must succeed");
    d.key("severity", db.severity, "what a failure counts as: \"critical\" or \"warning\"");
}

fn api(d: &mut Doc, _: &Found, _: &Config) {
    let a = crate::config::Api::default();
    d.raw("\n");
    d.comment(
        "HTTP endpoints, fetched with GET; none by default. To watch one, remove the #\n\
         that starts each line of the block below; repeat the block for each endpoint.",
    );
    d.raw("#[[api]]\n");
    d.example("name", "API Health", "shown in reports and alerts; unique");
    d.example("url", "http://127.0.0.1:4000/api/health", "http:// or https://");
    d.example("timeout_ms", a.timeout_ms, "the whole exchange");
    d.example("expect_status", 200, "left out = any 2xx");
    d.example("expect_body_contains", &a.expect_body_contains, "text the body must contain; \"\" = anything");
    d.example("max_latency_ms", a.max_latency_ms, "slower = a warning; 0 = no limit");
    d.example("cert_min_days", a.cert_min_days, "https only: certificate expiring within N days = a warning; 0 = off");
    d.example(
        "headers",
        &a.headers,
        "e.g. { Authorization = \"Bearer ${API_TOKEN}\" }: ${VAR} comes from the environment",
    );
    d.example(
        "conditions",
        ["[STATUS] == 200", "[BODY].status == UP", "[RESPONSE_TIME] < 300"],
        "Gatus's syntax; all must hold, else the check fails quoting the value seen",
    );
    d.example(
        "warn_conditions",
        ["[RESPONSE_TIME] < 1000"],
        "a failed one warns; https: \"[CERTIFICATE_EXPIRATION] > 240h\"",
    );
    d.example("severity", a.severity, "what a failure counts as");
}

fn tcp(d: &mut Doc, f: &Found, _: &Config) {
    let t = crate::checks::tcp::Tcp::default();
    d.raw("\n");
    d.comment("A TCP connect within the timeout; none by default. Remove the # to watch one; repeat per service.");
    d.raw("#[[tcp]]\n");
    d.example("name", "open-webui", "shown in reports and alerts; unique");
    d.example("address", "127.0.0.1:3000", "host:port");
    d.example("timeout_ms", t.timeout_ms, "connect within this");
    d.example("owner_contains", "", "the listener's command line must contain this; \"\" = not checked");
    d.example("severity", t.severity, "what a failure counts as");
    let proposed: Vec<_> = proposed_listeners(f).collect();
    if proposed.is_empty() {
        return;
    }
    d.raw("\n");
    d.comment("What listens here now (init saw these ports open); remove the # to watch one.");
    for l in proposed {
        let owner = l.owners.first().map(|o| program_name(&o.cmdline)).filter(|n| !n.is_empty());
        d.raw("#[[tcp]]\n");
        let name = match &owner {
            Some(o) => format!("port {} ({o})", l.port),
            None => format!("port {}", l.port),
        };
        d.example("name", name, "");
        let host = if l.loopback { "127.0.0.1" } else { "0.0.0.0 (every address)" };
        d.example("address", format!("127.0.0.1:{}", l.port), &format!("listening on {host}"));
        match (&owner, l.owners.first()) {
            (Some(o), Some(first)) => d.example(
                "owner_contains",
                o.clone(),
                &format!("now pid {}: {}", first.pid, first.cmdline.chars().take(60).collect::<String>()),
            ),
            _ => d.comment("its owner is not visible to this user (another user's process, or a container)"),
        }
    }
}

fn process(d: &mut Doc, _: &Found, _: &Config) {
    let p = crate::checks::process::Process::default();
    d.raw("\n");
    d.comment("Processes whose full command line contains a string; none by default.");
    d.raw("#[[process]]\n");
    d.example("name", "data server", "unique");
    d.example("cmdline_contains", "qlir/data_server.py", "matched against the full command line");
    d.example("min", p.min, "fewer running = fail");
    d.example("max", p.max, "more running = fail (1 catches a second instance); 0 = no bound");
    d.example("max_rss_mb", p.max_rss_mb, "resident memory above this (MiB) = fail; 0 = not checked");
    d.example("max_cpu_percent", p.max_cpu_percent, "CPU since the previous run above this = fail; 0 = not checked");
    d.example("severity", p.severity, "what a failure counts as");
}

fn file(d: &mut Doc, _: &Found, _: &Config) {
    let f = crate::checks::file::FileWatch::default();
    d.raw("\n");
    d.comment("A file that must stay fresh or keep growing (a log); none by default.");
    d.raw("#[[file]]\n");
    d.example("name", "analysis log", "unique");
    d.example("path", "/var/log/qlir/analysis.log", "absolute, no ~");
    d.example("max_age_minutes", 60, "modified within N minutes; 0 = not checked");
    d.example("min_growth_bytes", f.min_growth_bytes, "grew by at least N bytes over window_hours; 0 = not checked");
    d.example("window_hours", f.window_hours, "the growth window");
    d.example("severity", f.severity, "a missing file fails at this severity too");
}

fn disk(d: &mut Doc, _: &Found, _: &Config) {
    let k = crate::checks::disk::Disk::default();
    d.raw("\n");
    d.comment("Free space on the volume holding a path; none by default.");
    d.raw("#[[disk]]\n");
    d.example("name", "system disk", "unique");
    d.example("path", &k.path, "any path on the volume");
    d.example("warn_free_percent", k.warn_free_percent, "below = a warning");
    d.example("min_free_percent", k.min_free_percent, "below = fail");
    d.example("min_free_gb", k.min_free_gb, "below = fail, whichever is hit first; 0 = not checked");
    d.example("severity", k.severity, "what a failure counts as");
}

fn command(d: &mut Doc, _: &Found, _: &Config) {
    let c = crate::checks::command::NagiosCommand::default();
    d.raw("\n");
    d.comment(
        "Any Nagios-compatible plugin or script (exit 0 ok, 1 warn, 2 fail, else UNKNOWN);\n\
         none by default. Homebrew: `brew install monitoring-plugins`.",
    );
    d.raw("#[[command]]\n");
    d.example("name", "http via check_http", "unique");
    d.example("command", ["/opt/homebrew/sbin/check_http", "-H", "127.0.0.1", "-p", "4000"], "argv, no shell");
    d.example("timeout_s", c.timeout_s, "killed with its children after this");
    d.example("severity", c.severity, "what a failure counts as");
}

fn sql(d: &mut Doc, _: &Found, _: &Config) {
    let q = crate::checks::sql::Sql::default();
    d.raw("\n");
    d.comment(
        "A PostgreSQL query judged by conditions: [VALUE] (first column), [ROW].<column>, [ROWS],\n\
         [RESPONSE_TIME]. Read-only transaction, statement_timeout = timeout_ms; none by default.",
    );
    d.raw("#[[sql]]\n");
    d.example("name", "failed jobs", "unique");
    d.example("url", &q.url, "\"\" = the [database] URL");
    d.example("query", "select count(*) from jobs where state = 'failed'", "one statement returning a row");
    d.example("conditions", ["[VALUE] < 10"], "all must hold");
    d.example("warn_conditions", ["[VALUE] < 5"], "a failed one warns");
    d.example("timeout_ms", q.timeout_ms, "connect + query; also the statement_timeout");
    d.example("severity", q.severity, "what a failure counts as");
}

fn redis_value(d: &mut Doc, _: &Found, _: &Config) {
    let r = crate::checks::redis_value::RedisValue::default();
    let names = crate::checks::redis_value::COMMANDS.iter().map(|c| c.0).collect::<Vec<_>>().join(" ");
    d.raw("\n");
    d.comment(&format!(
        "A read-only Redis command judged by conditions on [VALUE] and [RESPONSE_TIME]; none by default.\n\
         Commands: {names} (INFO with field = \"...\"; XPENDING stream group: the pending count)."
    ));
    d.raw("#[[redis_value]]\n");
    d.example("name", "job queue", "unique");
    d.example("url", &r.url, "\"\" = the [redis] URL");
    d.example("command", ["LLEN", "jobs"], "e.g. [\"INFO\", \"memory\"] with field = \"used_memory\"");
    d.example("field", &r.field, "INFO only: the field to read");
    d.example("conditions", ["[VALUE] < 1000"], "all must hold");
    d.example("warn_conditions", ["[VALUE] < 500"], "a failed one warns");
    d.example("timeout_ms", r.timeout_ms, "connect + command");
    d.example("severity", r.severity, "what a failure counts as");
}

fn self_watch(d: &mut Doc, _: &Found, c: &Config) {
    let s = &c.self_watch;
    d.section("self", "ops-atomic watching itself: agents loaded and up to date, the daily run on time, no run stuck.");
    d.key("enabled", s.enabled, "run this check");
    d.key("severity", s.severity, "what a problem counts as");
}

fn notify(d: &mut Doc, _: &Found, _: &Config) {
    d.raw("\n");
    d.comment(
        "More channels, each with its own queue: slack, ntfy, webhook, command, outbox, macos\n\
         (the README shows each). Remove the # of each line to reach your phone through ntfy,\n\
         then try it with `ops-atomic notify test phone`.",
    );
    d.raw("#[[notify]]\n");
    d.example("name", "phone", "unique, [a-z0-9_-]+");
    d.example("type", "ntfy", "slack | ntfy | webhook | command | outbox | macos");
    d.example("url", "https://ntfy.sh/my-ops-atomic-topic", "slack, ntfy, webhook");
    d.example("events", ["alert", "recovery"], "which messages it gets; [] = all");
    d.example("timeout_ms", 5000, "one delivery attempt");
}

fn maintenance(d: &mut Doc, _: &Found, _: &Config) {
    d.raw("\n");
    d.comment(
        "A recurring maintenance window (local time, may cross midnight): the listed checks\n\
         behave as silenced, so a nightly backup does not page.",
    );
    d.raw("#[[maintenance]]\n");
    d.example("name", "nightly backup", "named in the events and in `status`");
    d.example("checks", ["database"], "check ids; [] = every check");
    d.example("days", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "the days it begins on");
    d.example("from", "01:00", "HH:MM");
    d.example("to", "01:30", "HH:MM; before `from` = the next day");
}

fn ping(d: &mut Doc, _: &Found, _: &Config) {
    d.raw("\n");
    d.comment(
        "A dead man's switch, pinged at the end of every run: when the Mac or ops-atomic\n\
         stops, healthchecks.io (or Uptime Kuma) notices the silence.",
    );
    d.raw("#[[ping]]\n");
    d.example("name", "healthchecks", "unique");
    d.example("url", "https://hc-ping.com/your-check-uuid", "the check's ping URL");
    d.example("style", "healthchecks", "healthchecks | uptime-kuma | plain");
    d.example("on", "heartbeat", "heartbeat | daily");
    d.example("timeout_ms", 5000, "a late ping means nothing, so it is never queued");
}

fn launchagents(d: &mut Doc, f: &Found, c: &Config) {
    let a = &f.agents;
    let about = match &a.unreadable {
        Some(why) => format!("LaunchAgents that must be loaded. {} could not be read ({why}).", a.dir.display()),
        None if a.labels.is_empty() => format!("LaunchAgents that must be loaded. {} holds none.", a.dir.display()),
        None => format!(
            "LaunchAgents that must be loaded, from the {} in {}:\n\
             Homebrew's services are watched; remove the # of any other to watch it too.",
            plural(a.labels.len(), "agent"),
            a.dir.display()
        ),
    };
    d.section("launchagents", &about);
    if a.labels.is_empty() {
        d.key("labels", &c.launchagents.labels, "labels, as in `launchctl list`");
    } else {
        d.raw("labels = [\n");
        for l in a.homebrew() {
            let _ = writeln!(d.0, "  {},", toml_value(l));
        }
        for l in a.others() {
            let _ = writeln!(d.0, "  # {},", toml_value(l));
        }
        d.raw("]\n");
    }
    d.key("severity", c.launchagents.severity, "what \"not loaded\" counts as; a non-zero last exit is a warning");
    d.key(
        "restart",
        c.launchagents.restart,
        "true: a label failing twice is restarted (kickstart -k, or bootstrap), at most 3 times an hour",
    );
    d.key(
        "crash_loop",
        c.launchagents.crash_loop,
        "a non-zero last exit and `runs` up by 3+ since the previous run = fail",
    );
}

fn container(d: &mut Doc, f: &Found, _: &Config) {
    let c = crate::checks::container::Container::default();
    d.raw("\n");
    d.comment(
        "A Docker / OrbStack / Colima / Podman container, or every container of a compose project; none by default.",
    );
    d.raw("#[[container]]\n");
    d.example("name", "app stack", "unique; id container:<name>");
    d.example("compose_project", "myapp", "as `docker compose ls` names it; or container = \"name-or-id\"");
    d.example(
        "socket",
        "",
        "\"\" = DOCKER_HOST, the docker context, OrbStack, Docker Desktop, Colima, /var/run/docker.sock",
    );
    d.example("max_restarts", c.max_restarts, "RestartCount up by this much since the previous run = crash loop");
    d.example("timeout_ms", c.timeout_ms, "per Engine request");
    d.example("severity", c.severity, "what a failure counts as");
    let running = match &f.containers {
        Ok(r) if !(r.projects.is_empty() && r.loose.is_empty()) => r,
        Ok(r) => {
            return d.comment(&format!("(init asked the Engine at {}: no container was running)", r.socket.display()));
        }
        Err(why) => return d.comment(&format!("(init found no container Engine: {})", first_sentence(why))),
    };
    d.raw("\n");
    d.comment(&format!("Running now on {} (init saw these); remove the # to watch one.", running.socket.display()));
    for (project, names) in &running.projects {
        d.raw("#[[container]]\n");
        d.example("name", format!("{project} (compose)"), "");
        d.example("compose_project", project.clone(), &format!("now: {}", names.join(", ")));
    }
    for name in running.loose.iter().take(MAX_LISTENERS) {
        d.raw("#[[container]]\n");
        d.example("name", format!("{name} (container)"), "");
        d.example("container", name.clone(), "");
    }
}

fn job(d: &mut Doc, f: &Found, _: &Config) {
    let j = crate::checks::job::Job::default();
    d.raw("\n");
    d.comment(
        "A job run on a schedule, wrapped in `ops-atomic run NAME -- COMMAND…`, which records each run\n\
         (exit code, duration, the end of its output); none by default. Id job:<name>.",
    );
    d.raw("#[[job]]\n");
    d.example("name", "nightly backup", "the NAME given to `ops-atomic run`");
    d.example("at", "01:00", "local time HH:MM; or every = \"1h\" (not both)");
    d.example("every", j.every.clone(), "\"1h\", \"15m\": a run at least this often (time asleep not counted)");
    d.example("days", vec!["mon", "tue", "wed", "thu", "fri"], "with at; [] = every day");
    d.example("grace", j.grace.clone(), "how late a run may start before the job fails");
    d.example("max_duration", "2h", "a run still going after this fails; \"\" = not checked");
    d.example("min_duration", j.min_duration.clone(), "a run faster than this is a warning; \"\" = not checked");
    d.example("severity", j.severity, "what a failure counts as");
    let a = &f.agents;
    if a.scheduled.is_empty() {
        return;
    }
    d.raw("\n");
    d.comment(&format!(
        "LaunchAgents in {} that launchd starts on a schedule; remove the # to watch one,\n\
         and make its ProgramArguments go through `ops-atomic run` as shown, so its runs are recorded.",
        a.dir.display()
    ));
    for s in &a.scheduled {
        let (keys, note) = job_keys(&s.when);
        d.raw("#[[job]]\n");
        d.example("name", s.label.clone(), "its label");
        for (k, v) in keys {
            d.line("#", k, &v.to_string(), "");
        }
        if let Some(n) = note {
            d.comment(&n);
        }
        let mut wrapped: Vec<String> = a.runner.clone();
        wrapped.extend(["run".to_string(), s.label.clone(), "--".to_string()]);
        wrapped.extend(s.program.iter().cloned());
        let array = toml::Value::Array(wrapped.into_iter().map(toml::Value::String).collect());
        d.comment(&format!("ProgramArguments: {array}"));
    }
}

/// The cause of a long error, for a one-line comment.
fn first_sentence(why: &str) -> &str {
    why.split(':').next().unwrap_or(why)
}

fn discord(d: &mut Doc, _: &Found, c: &Config) {
    let dc = &c.discord;
    d.section(
        "discord",
        "Where alerts go; an empty webhook_url = notifications off (the log and reports say so).\n\
         To turn them on: in Discord, Server Settings > Integrations > Webhooks > New Webhook >\n\
         Copy Webhook URL, and paste it below (this file is readable by you alone) or set\n\
         DISCORD_OPS_WEBHOOK instead. Then `ops-atomic notify test` sends a test message.",
    );
    d.key("webhook_url", &dc.webhook_url, "https://discord.com/api/webhooks/<id>/<token>; env DISCORD_OPS_WEBHOOK");
    d.key("username", &dc.username, "the name messages are posted under");
    d.key("timeout_ms", dc.timeout_ms, "one delivery attempt");
}

fn daily(d: &mut Doc, _: &Found, c: &Config) {
    let dl = &c.daily;
    let smoke = crate::config::Smoke::default();
    d.section("daily", "The daily run: smoke commands, the 24-hour summary, housekeeping.");
    d.key("hour", dl.hour, "local time of the daily run, 0..=23");
    d.key("minute", dl.minute, "0..=59");
    d.key("notify_on_success", dl.notify_on_success, "also notify when every phase passed");
    d.key("retention_days", dl.retention_days, "heartbeat reports older than this are deleted");
    d.key(
        "min_heartbeat_percent",
        dl.min_heartbeat_percent,
        "fewer heartbeats than this share of the expected ones is a warning",
    );
    d.key("max_log_bytes", dl.max_log_bytes, "g/logs files over this are rotated (3 kept)");
    d.key(
        "max_events_bytes",
        dl.max_events_bytes,
        "an event log over this has its oldest days moved to events.jsonl.1 (never the last 8 days)",
    );
    d.raw("\n");
    d.comment("Smoke commands for the daily run's first phase; none by default. Remove the # to use one.");
    d.raw("#[[daily.smoke]]\n");
    d.example("name", "disk writable", "shown in the daily report");
    d.example("command", ["touch", "g/state/.smoke"], "argv, no shell; run in the root folder");
    d.example("timeout_s", smoke.timeout_s, "killed and failed after this");
}

fn launchd(d: &mut Doc, _: &Found, c: &Config) {
    let l = &c.launchd;
    d.section("launchd", "How `ops-atomic enable` writes the two LaunchAgents.");
    d.key("label_prefix", &l.label_prefix, "labels <prefix>.ops_atomic_monitor and <prefix>.ops_atomic_daily");
    d.key("interval_s", l.interval_s, "seconds between heartbeats");
    d.key("path", &l.path, "PATH the agents run with");
}

fn export(d: &mut Doc, _: &Found, c: &Config) {
    d.section("export", "Files other tools read after every heartbeat.");
    d.key(
        "prometheus_textfile",
        &c.export.prometheus_textfile,
        "\"\" = off; an absolute *.prom path in node_exporter's --collector.textfile.directory",
    );
    let e = &c.export;
    d.key(
        "pushgateway_url",
        &e.pushgateway_url,
        "\"\" = off; a Pushgateway the metrics are PUT to after every heartbeat",
    );
    d.key("pushgateway_headers", &e.pushgateway_headers, "sent with the push; values may use ${ENV_VAR}");
    d.key("instance", &e.instance, "the push's instance label; \"\" = monitor.host_name");
    d.key("timeout_ms", e.timeout_ms, "the push's bound, inside monitor.deadline_ms");
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// What init tells the person after writing: what it found, then the next steps.
fn summary(f: &Found, path: &Path, replaced: bool, root: &Path) -> String {
    let mut out = String::new();
    let verb = if replaced { "Replaced" } else { "Wrote" };
    let _ = writeln!(out, "✅ {} {}", color::paint(Style::Bold, verb), path.display());
    let service = |out: &mut String, name: &str, s: &Service| {
        let _ = if s.answered {
            writeln!(out, "   ✅ {name}: {} on {}: {}", s.note, s.addr, color::paint(Style::Green, "checked"))
        } else {
            writeln!(
                out,
                "   ➖ {name}: nothing on {} ({}): {}",
                s.addr,
                s.note,
                color::paint(Style::Yellow, "check off")
            )
        };
    };
    service(&mut out, "Redis", &f.redis);
    service(&mut out, "PostgreSQL", &f.postgres);
    let a = &f.agents;
    let _ = match &a.unreadable {
        Some(why) => writeln!(out, "   ➖ LaunchAgents: {} ({why})", a.dir.display()),
        None => writeln!(
            out,
            "   ✅ LaunchAgents: {} Homebrew watched, {} listed commented out",
            a.homebrew().count(),
            a.others().count()
        ),
    };
    let _ = match &f.containers {
        Ok(r) if !(r.projects.is_empty() && r.loose.is_empty()) => writeln!(
            out,
            "   ✅ Containers: {} and {} listed commented out",
            plural(r.projects.len(), "compose project"),
            plural(r.loose.len(), "other container")
        ),
        Ok(_) => writeln!(out, "   ➖ Containers: the Engine answered, nothing is running"),
        Err(_) => writeln!(out, "   ➖ Containers: no Docker, OrbStack, Colima or Podman socket found"),
    };
    if !a.scheduled.is_empty() {
        let _ = writeln!(
            out,
            "   ✅ Scheduled LaunchAgents: {} listed commented out as [[job]], with their ProgramArguments through `ops-atomic run`",
            a.scheduled.len()
        );
    }
    let ports = proposed_listeners(f).count();
    if ports > 0 {
        let _ = writeln!(out, "   ✅ Listening ports: {} listed commented out as [[tcp]], with their owners", ports);
    }
    let _ = writeln!(out, "   ➖ Discord: no webhook yet: set discord.webhook_url or DISCORD_OPS_WEBHOOK");
    let _ = writeln!(out, "\n{}", color::paint(Style::Bold, "Next steps:"));
    let steps = [
        ("ops-atomic config check", "validate the file"),
        ("ops-atomic notify test", "after setting the webhook: send a test message"),
        ("ops-atomic heartbeat", "run every check once and write a report"),
        ("ops-atomic enable", "install the LaunchAgents: a heartbeat every 5 minutes, the daily run"),
    ];
    for (i, (cmd, what)) in steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}  {}", i + 1, color::paint(Style::Bold, &format!("{cmd:<24}")), what);
    }
    if std::env::current_dir().ok().and_then(|d| d.canonicalize().ok()).as_deref() != Some(root) {
        let _ = writeln!(out, "  (in {}, or with --root {})", root.display(), root.display());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing() -> Found {
        let off = |addr: &str| Service { addr: addr.into(), answered: false, note: "connection refused".into() };
        Found {
            redis: off("127.0.0.1:6379"),
            postgres: off("127.0.0.1:5432"),
            agents: Agents { dir: "/Users/me/Library/LaunchAgents".into(), ..Agents::default() },
            login_user: Some("me".into()),
            containers: Err("no Docker Engine socket: start Docker Desktop: tried /var/run/docker.sock".into()),
            listeners: Vec::new(),
        }
    }

    fn everything() -> Found {
        let on = |addr: &str| Service { addr: addr.into(), answered: true, note: "answered".into() };
        Found {
            redis: on("127.0.0.1:6380"),
            postgres: on("127.0.0.1:5433"),
            agents: Agents {
                dir: "/Users/me/Library/LaunchAgents".into(),
                labels: vec!["com.example.sync".into(), "homebrew.mxcl.redis".into(), "with space".into()],
                unreadable: None,
                scheduled: vec![
                    Scheduled {
                        label: "com.example.backup".into(),
                        program: vec!["/usr/local/bin/backup.sh".into(), "--all".into()],
                        when: Schedule::Calendar(vec![
                            Calendar { hour: Some(2), minute: Some(30), weekday: Some(1), ..Default::default() },
                            Calendar { hour: Some(2), minute: Some(30), weekday: Some(5), ..Default::default() },
                        ]),
                    },
                    Scheduled {
                        label: "com.example.sync".into(),
                        program: vec!["/usr/bin/rsync".into(), "-a".into()],
                        when: Schedule::Interval(3600),
                    },
                ],
                runner: vec!["/opt/ops-atomic".into(), "--root".into(), "/Users/me/ops".into()],
            },
            login_user: Some("me".into()),
            containers: Ok(crate::checks::container::Running {
                socket: "/Users/me/.orbstack/run/docker.sock".into(),
                projects: [("shop".to_string(), vec!["shop-db-1".to_string(), "shop-web-1".to_string()])].into(),
                loose: vec!["scratch".into()],
            }),
            listeners: vec![
                Listener {
                    port: 5432,
                    loopback: true,
                    owners: vec![Owner {
                        pid: 812,
                        cmdline: "/opt/homebrew/opt/postgresql@16/bin/postgres -D /opt/homebrew/var/postgresql@16"
                            .into(),
                    }],
                },
                Listener { port: 8080, loopback: false, owners: vec![] },
                Listener { port: 51000, loopback: true, owners: vec![] },
            ],
        }
    }

    fn parse(text: &str) -> Config {
        crate::config::parse(text, Path::new("init.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// The text with every commented-out example switched on.
    fn uncommented(text: &str) -> String {
        text.lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if !rest.starts_with(' ') && !rest.is_empty() => rest.to_string(),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn with_nothing_found_it_is_the_defaults_with_both_services_off() {
        let text = render(&nothing(), &Config::default());
        let c = parse(&text);
        assert!(crate::config::validate(&c).is_empty(), "{:?}", crate::config::validate(&c));
        let mut expected = Config::default();
        expected.redis.enabled = false;
        expected.database.enabled = false;
        assert_eq!(toml::to_string(&c).unwrap(), toml::to_string(&expected).unwrap());
        assert!(text.contains("Nothing answered on 127.0.0.1:6379"), "{text}");
        assert!(text.contains("webhook_url = \"\""), "{text}");
    }

    #[test]
    fn what_it_found_is_filled_in() {
        let text = render(&everything(), &Config::default());
        let c = parse(&text);
        assert!(crate::config::validate(&c).is_empty(), "{:?}", crate::config::validate(&c));
        assert!(c.redis.enabled && c.database.enabled);
        assert_eq!(c.redis.url, "redis://127.0.0.1:6380");
        assert_eq!(c.database.url, "postgresql://127.0.0.1:5433/postgres");
        assert_eq!(c.launchagents.labels, vec!["homebrew.mxcl.redis"]);
        assert!(text.contains("  # \"com.example.sync\","), "{text}");
        assert!(text.contains("  # \"with space\","), "{text}");
        assert!(text.contains("login user (me)"), "{text}");
    }

    use crate::checks::port_owner::{Listener, Owner};

    #[test]
    fn running_containers_and_listening_ports_are_proposed() {
        let text = render(&everything(), &Config::default());
        assert!(text.contains("#compose_project = \"shop\""), "{text}");
        assert!(text.contains("now: shop-db-1, shop-web-1"), "{text}");
        assert!(text.contains("#container = \"scratch\""), "{text}");
        assert!(text.contains("#name = \"port 5432 (postgres)\""), "{text}");
        assert!(text.contains("#owner_contains = \"postgres\""), "{text}");
        assert!(text.contains("#address = \"127.0.0.1:8080\""), "{text}");
        assert!(!text.contains("51000"), "an ephemeral port was proposed:\n{text}");
        let c = parse(&uncommented(&text));
        assert_eq!(c.tcp.len(), 3, "the example and two discovered ports");
        assert_eq!(c.container.len(), 3, "the example, one project, one container");
        let none = render(&nothing(), &Config::default());
        assert!(none.contains("init found no container Engine"), "{none}");
    }

    #[test]
    fn the_examples_are_valid_when_switched_on() {
        let text = uncommented(&render(&everything(), &Config::default()));
        let c = parse(&text);
        assert!(crate::config::validate(&c).is_empty(), "{:?}\n{text}", crate::config::validate(&c));
        assert_eq!(c.api.len(), 1);
        assert_eq!(c.daily.smoke.len(), 1);
        let jobs: Vec<_> =
            c.job.iter().map(|j| (j.name.as_str(), j.at.as_str(), j.every.as_str(), j.days.clone())).collect();
        assert_eq!(
            jobs,
            [
                (
                    "nightly backup",
                    "01:00",
                    "",
                    vec!["mon".into(), "tue".into(), "wed".into(), "thu".into(), "fri".into()]
                ),
                ("com.example.backup", "02:30", "", vec!["mon".to_string(), "fri".into()]),
                ("com.example.sync", "", "1h", vec![]),
            ]
        );
        assert!(
            text.contains(r#"# ProgramArguments: ["/opt/ops-atomic", "--root", "/Users/me/ops", "run", "com.example.backup", "--", "/usr/local/bin/backup.sh", "--all"]"#),
            "{text}"
        );
    }

    #[test]
    fn launchd_schedules_become_job_keys() {
        let keys = |w: Schedule| {
            let (k, note) = job_keys(&w);
            (k.into_iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join("; "), note.is_some())
        };
        assert_eq!(keys(Schedule::Interval(300)), ("every = \"5m\"; grace = \"5m\"".into(), false));
        assert_eq!(keys(Schedule::Interval(86_400)), ("every = \"1d\"; grace = \"30m\"".into(), false));
        assert_eq!(keys(Schedule::Interval(90)), ("every = \"90s\"; grace = \"90s\"".into(), false));
        let cal = |hour, minute, weekday| Calendar { hour, minute, weekday, ..Default::default() };
        assert_eq!(
            keys(Schedule::Calendar(vec![cal(Some(1), Some(5), None)])),
            ("at = \"01:05\"; days = []; grace = \"30m\"".into(), false)
        );
        // Weekday 0 and 7 are Sunday.
        assert_eq!(
            keys(Schedule::Calendar(vec![cal(Some(3), Some(0), Some(0)), cal(Some(3), Some(0), Some(7))])).0,
            "at = \"03:00\"; days = [\"sun\"]; grace = \"30m\""
        );
        // No Minute: launchd starts it every minute of that hour, said in a note.
        assert_eq!(
            keys(Schedule::Calendar(vec![cal(Some(4), None, None)])),
            ("at = \"04:00\"; days = []; grace = \"30m\"".into(), true)
        );
        // Only a Minute: hourly.
        assert_eq!(keys(Schedule::Calendar(vec![cal(None, Some(15), None)])).0, "every = \"1h\"; grace = \"30m\"");
        // A day of the month: watched every 31 days, said in a note.
        let monthly = Calendar { day: Some(1), hour: Some(2), minute: Some(0), ..Default::default() };
        assert_eq!(keys(Schedule::Calendar(vec![monthly])), ("every = \"31d\"; grace = \"1d\"".into(), true));
        // Several times: the first, said in a note.
        assert!(keys(Schedule::Calendar(vec![cal(Some(1), Some(0), None), cal(Some(13), Some(0), None)])).1);
    }

    /// Every key the code accepts is in the file, live or as an example:
    /// a new config key fails here until its line is added to a block.
    #[test]
    fn every_key_of_the_config_is_shown() {
        let text = uncommented(&render(&everything(), &Config::default()));
        let written: toml::Table = toml::from_str(&text).unwrap();
        let mut full = Config::default();
        full.api.push(crate::config::Api { expect_status: Some(200), ..Default::default() });
        full.daily.smoke.push(crate::config::Smoke::default());
        full.sql.push(crate::config::Sql::default());
        full.redis_value.push(crate::config::RedisValue::default());
        full.job.push(crate::config::Job::default());
        let full = toml::Table::try_from(&full).unwrap();
        let mut missing = Vec::new();
        missing_keys(&full, &written, "", &mut missing);
        assert!(missing.is_empty(), "init writes no line for {missing:?}: add it to its block in SECTIONS");
    }

    fn missing_keys(full: &toml::Table, written: &toml::Table, at: &str, out: &mut Vec<String>) {
        for (k, v) in full {
            let path = format!("{at}{k}");
            let Some(w) = written.get(k) else {
                out.push(path);
                continue;
            };
            match (v, w) {
                (toml::Value::Table(f), toml::Value::Table(w)) => missing_keys(f, w, &format!("{path}."), out),
                (toml::Value::Array(f), toml::Value::Array(w)) => {
                    if let (Some(toml::Value::Table(f)), Some(toml::Value::Table(w))) = (f.first(), w.first()) {
                        missing_keys(f, w, &format!("{path}[]."), out);
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn only_homebrew_labels_without_whitespace_are_watched() {
        assert!(is_homebrew("homebrew.mxcl.postgresql@16"));
        assert!(!is_homebrew("com.apple.foo"));
        assert!(!is_homebrew("homebrew.bad label"));
    }

    #[test]
    fn strings_are_quoted_as_toml() {
        for tricky in ["a\"b\\c", "it's", "line\nbreak", "${API_TOKEN}"] {
            let doc: toml::Table = toml::from_str(&format!("x = {}", toml_value(tricky))).unwrap();
            assert_eq!(doc["x"].as_str(), Some(tricky));
        }
        assert_eq!(toml_value(["x", "y"]), r#"["x", "y"]"#);
    }
}
