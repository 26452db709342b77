//! `menubar` (SPEC §19): a glance for SwiftBar, xbar and Raycast, read from
//! what the heartbeat already keeps (the state, the last history line, the
//! silences). It runs no check and takes no lock: a reader sees a whole
//! state file thanks to the atomic rename.
//!
//! [`Glance`] is gathered first (pure, from [`Inputs`]), then written in a
//! dialect: [`swiftbar`] and [`xbar`] share BitBar's line grammar
//! ([`line`]), [`raycast`] is one line. [`plugin`] installs, removes and
//! refreshes the plugin file.

pub mod line;
pub mod plugin;
pub mod raycast;
pub mod swiftbar;
pub mod xbar;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::checks::CheckStatus;
use crate::exit::{Result, Status};
use crate::incidents::human_duration;
use crate::paths::Paths;
use crate::state::State;
use line::{Action, Colour, Item, inert};

/// Longest name, cause or reason shown on one line (the rest is in the tooltip or submenu).
const SHORT: usize = 60;
const LONG: usize = 200;

/// The apps the menu is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    /// SwiftBar (its parameters: sfimage, tooltip, md=false, light,dark colours)
    Swiftbar,
    /// xbar (only the parameters xbar accepts)
    Xbar,
    /// A Raycast script command in inline mode (one status line)
    Raycast,
}

impl App {
    pub fn as_str(self) -> &'static str {
        match self {
            App::Swiftbar => "swiftbar",
            App::Xbar => "xbar",
            App::Raycast => "raycast",
        }
    }
    /// The app running this, from what it sets for its plugins: xbar sets
    /// `XBARDarkMode`, SwiftBar `SWIFTBAR`; SwiftBar when neither says.
    pub fn from_env() -> App {
        if std::env::var_os("SWIFTBAR").is_none() && std::env::var_os("XBARDarkMode").is_some() {
            App::Xbar
        } else {
            App::Swiftbar
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            App::Swiftbar => "SwiftBar",
            App::Xbar => "xbar",
            App::Raycast => "Raycast",
        }
    }
}

/// How bad a check is, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// An incident is open.
    Down,
    /// Failing, not (yet) an incident.
    Failing,
    Flapping,
    Warning,
}

impl Level {
    fn emoji(self) -> &'static str {
        match self {
            Level::Down => "❌",
            Level::Failing | Level::Warning => "⚠️",
            Level::Flapping => "🔁",
        }
    }
    fn colour(self) -> Colour {
        match self {
            Level::Down => Colour::Red,
            _ => Colour::Orange,
        }
    }
}

/// A check worth a line: DOWN, failing, flapping, warning or silenced.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub since: Option<DateTime<Utc>>,
    pub cause: Option<String>,
    /// The dependency it fails because of, by name.
    pub caused_by: Option<String>,
    pub failures: u32,
    /// A silence or a maintenance window in force covers it.
    pub quiet: bool,
    /// A silence of this check alone (which "clear" can end).
    pub own_silence: bool,
}

/// Whether the last heartbeat can be trusted as "now".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Freshness {
    /// No heartbeat has run for this root.
    NeverRan,
    /// The state file is there but does not parse.
    Unreadable,
    Fresh,
    /// No heartbeat for more than 2 intervals of time awake.
    Stopped {
        awake_s: i64,
    },
}

/// A silence in force.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceLine {
    /// `None`: every check.
    pub check: Option<String>,
    pub name: Option<String>,
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// Everything the menu shows.
#[derive(Debug, Clone)]
pub struct Glance {
    pub host: String,
    pub now: DateTime<Utc>,
    pub interval_s: u64,
    pub freshness: Freshness,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_status: Option<Status>,
    pub last_duration_ms: Option<u64>,
    pub checks_total: Option<usize>,
    /// Seconds asleep since the last heartbeat, as the clocks tell.
    pub slept_s: Option<i64>,
    /// When the Mac last woke, if after the last heartbeat (SwiftBar's `OS_LAST_WAKE_TIME`).
    pub woke_at: Option<DateTime<Utc>>,
    pub problems: Vec<Problem>,
    pub silences: Vec<SilenceLine>,
    pub pending: BTreeMap<String, usize>,
    pub delivery_error: Option<String>,
    pub files: Files,
    /// The config file does not load (the defaults stand in).
    pub config_error: Option<String>,
}

/// The files the menu opens.
#[derive(Debug, Clone, Default)]
pub struct Files {
    pub report: Option<PathBuf>,
    pub page: Option<PathBuf>,
    pub log: Option<PathBuf>,
}

/// What a glance is gathered from.
pub struct Inputs<'a> {
    pub state: Option<&'a State>,
    pub state_exists: bool,
    pub last: Option<&'a crate::history::Line>,
    pub now: DateTime<Utc>,
    pub interval_s: u64,
    pub windows: &'a [crate::windows::Maintenance],
    pub clocks: Option<crate::sleep::Clocks>,
    pub woke_at: Option<DateTime<Utc>>,
    pub host: String,
    pub files: Files,
}

impl Glance {
    /// Pure: the same inputs give the same menu.
    pub fn of(i: &Inputs) -> Glance {
        let default = State::default();
        let st = i.state.unwrap_or(&default);
        let now = i.now;
        let slept_s =
            i.clocks.as_ref().and_then(|c| crate::incidents::laptop::wake(st.slept_since_boot_s, st.boot_time, c));
        let slept_s = slept_s.map(|w| w.slept_s);
        let woke_at = i.woke_at.filter(|w| st.last_run_at.is_some_and(|l| *w > l) && *w <= now);
        let freshness = match (i.state, st.last_run_at) {
            (None, _) if i.state_exists => Freshness::Unreadable,
            (_, None) => Freshness::NeverRan,
            (_, Some(last)) => {
                let mut awake = (now - last).num_seconds() - slept_s.unwrap_or(0);
                if let Some(w) = woke_at {
                    awake = awake.min((now - w).num_seconds());
                }
                let awake = awake.max(0);
                if awake > 2 * i.interval_s as i64 { Freshness::Stopped { awake_s: awake } } else { Freshness::Fresh }
            }
        };
        let name_of = |id: &str| st.checks.get(id).map(|c| c.name.clone()).filter(|n| !n.is_empty());
        let mut problems: Vec<Problem> = st
            .checks
            .iter()
            .filter_map(|(id, c)| {
                let level = if c.down {
                    Level::Down
                } else if c.flapping {
                    Level::Flapping
                } else {
                    match c.status {
                        Some(CheckStatus::Fail) => Level::Failing,
                        Some(CheckStatus::Warn) => Level::Warning,
                        _ => return None,
                    }
                };
                let cause = match level {
                    Level::Warning | Level::Flapping => last_message(i.last, id).or_else(|| c.failure_message.clone()),
                    _ => c.failure_message.clone().or_else(|| last_message(i.last, id)),
                };
                Some(Problem {
                    id: id.clone(),
                    name: if c.name.is_empty() { id.clone() } else { c.name.clone() },
                    level,
                    since: if c.down { c.down_since } else { c.failing_since.or(c.since) },
                    cause: cause.map(|m| crate::secret::scrub(&m)),
                    caused_by: c.caused_by.as_ref().map(|d| name_of(d).unwrap_or_else(|| d.clone())),
                    failures: c.consecutive_failures,
                    quiet: st.quiet(id, now, i.windows),
                    own_silence: st.silences.iter().any(|s| s.check.as_deref() == Some(id) && s.until > now),
                })
            })
            .collect();
        // The worst first; a check failing because of another after it.
        problems.sort_by(|a, b| {
            (a.quiet, a.level, a.caused_by.is_some(), a.since).cmp(&(b.quiet, b.level, b.caused_by.is_some(), b.since))
        });
        let silences = st
            .silences
            .iter()
            .filter(|s| s.until > now)
            .map(|s| SilenceLine {
                check: s.check.clone(),
                name: s.check.as_deref().and_then(name_of),
                until: s.until,
                reason: crate::secret::scrub(&s.reason),
            })
            .collect();
        let pending = st.pending_notifications.iter().fold(BTreeMap::new(), |mut m, n| {
            *m.entry(n.channel.clone()).or_insert(0) += 1;
            m
        });
        Glance {
            host: i.host.clone(),
            now,
            interval_s: i.interval_s,
            freshness,
            last_run_at: st.last_run_at,
            last_status: st.last_status(),
            last_duration_ms: i.last.map(|l| l.duration_ms),
            checks_total: i.last.map(|l| l.checks.iter().filter(|c| c.status != CheckStatus::Skipped).count()),
            slept_s,
            woke_at,
            problems,
            silences,
            delivery_error: st.last_delivery_error.as_deref().filter(|_| !pending.is_empty()).map(crate::secret::scrub),
            pending,
            files: i.files.clone(),
            config_error: None,
        }
    }

    /// Checks DOWN and not silenced.
    pub fn down(&self) -> usize {
        self.problems.iter().filter(|p| !p.quiet && p.level == Level::Down).count()
    }

    /// Checks failing, flapping or warning, not silenced.
    pub fn warnings(&self) -> usize {
        self.problems.iter().filter(|p| !p.quiet && p.level != Level::Down).count()
    }

    /// The title: the worst first.
    pub fn title(&self) -> (String, Colour) {
        let (down, warn) = (self.down(), self.warnings());
        let mut parts = Vec::new();
        if down > 0 {
            parts.push(format!("❌ {down}"));
        }
        if warn > 0 {
            parts.push(format!("⚠️ {warn}"));
        }
        let colour = if down > 0 {
            Colour::Red
        } else if warn > 0 {
            Colour::Orange
        } else {
            Colour::Green
        };
        if self.config_error.is_some() {
            parts.push("⚠️ config".into());
            if down == 0 {
                return (parts.join(" "), Colour::Orange);
            }
        }
        match self.freshness {
            Freshness::NeverRan => ("❔".into(), Colour::Grey),
            Freshness::Unreadable => ("❔ state".into(), Colour::Orange),
            Freshness::Stopped { .. } => {
                parts.push("⏸".into());
                (parts.join(" "), if down > 0 { Colour::Red } else { Colour::Orange })
            }
            Freshness::Fresh if parts.is_empty() => ("✅".into(), colour),
            Freshness::Fresh => (parts.join(" "), colour),
        }
    }

    /// A one-line account, for the tooltip and Raycast.
    pub fn summary(&self) -> String {
        let names = |level_down: bool| {
            let v: Vec<String> = self
                .problems
                .iter()
                .filter(|p| !p.quiet && (p.level == Level::Down) == level_down)
                .map(|p| inert(&p.name, 30))
                .collect();
            v.join(", ")
        };
        let mut parts = Vec::new();
        if self.config_error.is_some() {
            parts.push("⚠️ the config file does not load: see `ops-atomic config check`".to_string());
        }
        match self.freshness {
            Freshness::NeverRan if self.config_error.is_some() => {}
            Freshness::NeverRan => return "no heartbeat yet: run `ops-atomic heartbeat` or `ops-atomic enable`".into(),
            Freshness::Unreadable => return "the state file cannot be read: see `ops-atomic status`".into(),
            Freshness::Stopped { awake_s } => {
                parts.push(format!("⏸ the monitor stopped: no heartbeat for {} awake", human_duration(secs(awake_s))))
            }
            Freshness::Fresh => {}
        }
        if self.down() > 0 {
            parts.push(format!("❌ {} down: {}", self.down(), names(true)));
        }
        if self.warnings() > 0 {
            parts.push(format!("⚠️ {}: {}", self.warnings(), names(false)));
        }
        if self.down() == 0 && self.warnings() == 0 && !matches!(self.freshness, Freshness::Stopped { .. }) {
            parts.push(match self.checks_total {
                Some(n) => format!("✅ {n} checks healthy"),
                None => "✅ healthy".into(),
            });
        }
        let quiet = self.problems.iter().filter(|p| p.quiet).count();
        if quiet > 0 {
            parts.push(format!("🔕 {quiet} silenced"));
        }
        if let Some(t) = self.last_run_at {
            parts.push(format!("last heartbeat {} ago", human_duration(self.now - t)));
        }
        parts.join(" · ")
    }

    /// What the menu would show, without the times: when it changes, the
    /// menu is worth redrawing at once.
    pub fn fingerprint(&self) -> String {
        let mut out = format!("{:?}|{:?}", self.title().0, self.last_status);
        for p in &self.problems {
            out.push_str(&format!("|{}:{:?}:{}:{:?}", p.id, p.level, p.quiet, p.caused_by));
        }
        for s in &self.silences {
            out.push_str(&format!("|s:{:?}:{}", s.check, s.until));
        }
        for (c, n) in &self.pending {
            out.push_str(&format!("|p:{c}:{n}"));
        }
        out
    }
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

fn last_message(last: Option<&crate::history::Line>, id: &str) -> Option<String> {
    last?.checks.iter().find(|c| c.id == id).map(|c| c.message.clone()).filter(|m| !m.is_empty())
}

/// A time for people, in local time: `14:02` today, `Mon 14:02` this week, else `3 Dec 14:02`.
pub fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let (l, n) = (t.with_timezone(&chrono::Local), now.with_timezone(&chrono::Local));
    if l.date_naive() == n.date_naive() {
        l.format("%H:%M").to_string()
    } else if (n - l).num_days() < 6 {
        l.format("%a %H:%M").to_string()
    } else {
        l.format("%-d %b %H:%M").to_string()
    }
}

/// How the menu calls this binary back: its absolute path and the
/// arguments that name this root (and a named config).
#[derive(Debug, Clone)]
pub struct Caller {
    pub exe: String,
    pub prefix: Vec<String>,
}

impl Caller {
    pub fn new(exe: &Path, root: &Path, config: Option<&Path>) -> Caller {
        let mut prefix = vec!["--root".to_string(), root.display().to_string()];
        if let Some(c) = config {
            prefix.extend(["--config".to_string(), c.display().to_string()]);
        }
        Caller { exe: exe.display().to_string(), prefix }
    }

    fn args(&self, rest: &[&str]) -> Option<Vec<String>> {
        let args: Vec<String> = self.prefix.iter().cloned().chain(rest.iter().map(|s| s.to_string())).collect();
        // Every argument must survive the line: else no action at all.
        line::run_params(&self.exe, &args).map(|_| args)
    }

    /// Runs in the background, then the menu redraws.
    pub fn run(&self, rest: &[&str]) -> Option<Action> {
        self.args(rest).map(Action::Run)
    }

    /// Runs in a Terminal window.
    pub fn terminal(&self, rest: &[&str]) -> Option<Action> {
        self.args(rest).map(Action::Terminal)
    }
}

/// The dropdown, app-neutral: one [`Item`] per line (`None` = a separator).
pub fn dropdown(g: &Glance, caller: &Caller) -> Vec<Option<Item>> {
    let mut out: Vec<Option<Item>> = Vec::new();
    out.push(Some(Item::new(format!("ops-atomic on {}", inert(&g.host, SHORT))).small().colour(Colour::Grey)));
    if let Some(e) = &g.config_error {
        out.push(Some(
            Item::new("⚠️ The config file does not load: the defaults stand in until it is fixed")
                .colour(Colour::Orange),
        ));
        out.push(Some(Item::new(inert(e, LONG)).at_depth(1).tip(inert(e, 1000))));
        if let Some(a) = caller.terminal(&["config", "check"]) {
            out.push(Some(Item::new("ops-atomic config check in Terminal").at_depth(1).act(a).symbol("terminal")));
        }
    }
    match g.freshness {
        Freshness::NeverRan => out.push(Some(
            Item::new("No heartbeat yet for this folder: enable the agent, or run one now").colour(Colour::Grey),
        )),
        Freshness::Unreadable => out.push(Some(
            Item::new("The state file cannot be read: the next heartbeat sets it aside and starts a new one")
                .colour(Colour::Orange),
        )),
        _ => {}
    }
    for p in &g.problems {
        out.push(Some(problem_line(g, p)));
        let mut depth1 = |i: Item| out.push(Some(i.at_depth(1)));
        if let Some(c) = &p.cause {
            depth1(Item::new(inert(c, LONG)).tip(inert(c, 1000)));
        }
        if let Some(d) = &p.caused_by {
            depth1(Item::new(format!("Because {} fails (depends_on)", inert(d, SHORT))));
        }
        if let Some(t) = p.since {
            let what = if p.level == Level::Down { "Down since" } else { "Since" };
            let runs = if p.failures > 1 { format!(", {} failed runs in a row", p.failures) } else { String::new() };
            depth1(Item::new(format!("{what} {} ({}){runs}", when(t, g.now), human_duration(g.now - t))).small());
        }
        depth1(Item::new(format!("id {}", inert(&p.id, SHORT))).small().colour(Colour::Grey));
        if p.own_silence {
            if let Some(a) = caller.run(&["silence", "--clear", "--", &p.id]) {
                depth1(Item::new("Clear the silence").act(a).symbol("bell"));
            }
        } else if !p.quiet
            && let Some(a) = caller.run(&["silence", "--for", "1h", "--reason", "from the menu bar", "--", &p.id])
        {
            depth1(Item::new("Silence for 1 h").act(a).symbol("bell.slash"));
        }
    }
    out.push(None);
    out.extend(heartbeat_lines(g).into_iter().map(Some));
    if !g.pending.is_empty() {
        let total: usize = g.pending.values().sum();
        let per: Vec<String> = g.pending.iter().map(|(c, n)| format!("{} {n}", inert(c, 30))).collect();
        let word = if total == 1 { "message" } else { "messages" };
        out.push(Some(Item::new(format!("📨 {total} {word} waiting: {}", per.join(", "))).colour(Colour::Orange)));
        if let Some(e) = &g.delivery_error {
            out.push(Some(Item::new(format!("Last error: {}", inert(e, LONG))).at_depth(1).tip(inert(e, 1000))));
        }
    }
    if !g.silences.is_empty() {
        out.push(None);
        out.push(Some(Item::new("🔕 Silences").small()));
        for s in &g.silences {
            let who = match (&s.name, &s.check) {
                (Some(n), _) => inert(n, SHORT),
                (None, Some(id)) => inert(id, SHORT),
                (None, None) => "Every check".into(),
            };
            let reason = if s.reason.is_empty() { String::new() } else { format!(": {}", inert(&s.reason, SHORT)) };
            out.push(Some(Item::new(format!("{who} until {}{reason}", when(s.until, g.now)))));
            let clear = match &s.check {
                Some(id) => caller.run(&["silence", "--clear", "--", id]),
                None => caller.run(&["silence", "--clear"]),
            };
            if let Some(a) = clear {
                out.push(Some(Item::new("Clear this silence").at_depth(1).act(a).symbol("bell")));
            }
        }
    }
    out.push(None);
    if let Some(a) = caller.run(&["heartbeat"]) {
        out.push(Some(Item::new("Run a heartbeat now").act(a).symbol("arrow.clockwise")));
    }
    if let Some(r) = &g.files.report {
        out.push(Some(Item::new("Open the report").act(Action::Open(r.clone())).symbol("doc.text")));
    }
    // The page is written afresh, then opened: it is never older than the state.
    if let Some(a) = caller.run(&["page", "--open"]) {
        out.push(Some(Item::new("Open the status page").act(a).symbol("chart.bar")));
    } else if let Some(p) = &g.files.page {
        out.push(Some(Item::new("Open the status page").act(Action::Open(p.clone())).symbol("chart.bar")));
    }
    if let Some(l) = &g.files.log {
        out.push(Some(Item::new("Open the log").act(Action::Open(l.clone())).symbol("text.alignleft")));
    }
    if let Some(a) = caller.terminal(&["status"]) {
        out.push(Some(Item::new("ops-atomic status in Terminal").act(a).symbol("terminal")));
    }
    out
}

fn problem_line(g: &Glance, p: &Problem) -> Item {
    let state = match p.level {
        Level::Down => match p.since {
            Some(t) => format!("down for {}", human_duration(g.now - t)),
            None => "down".into(),
        },
        Level::Failing => "failing".into(),
        Level::Flapping => "flapping".into(),
        Level::Warning => "warning".into(),
    };
    let because = p.caused_by.as_ref().map(|d| format!(", because {} fails", inert(d, 30))).unwrap_or_default();
    let cause = match (&p.cause, p.caused_by.is_some()) {
        (Some(c), false) => format!(": {}", inert(c, SHORT)),
        _ => String::new(),
    };
    let (emoji, colour) = if p.quiet { ("🔕", Colour::Grey) } else { (p.level.emoji(), p.level.colour()) };
    let mut item = Item::new(format!("{emoji} {} {state}{because}{cause}", inert(&p.name, SHORT))).colour(colour);
    if let Some(c) = &p.cause {
        item = item.tip(inert(c, 1000));
    }
    item
}

fn heartbeat_lines(g: &Glance) -> Vec<Item> {
    let mut out = Vec::new();
    if let Some(t) = g.last_run_at {
        let emoji = g.last_status.map_or("❔", Status::emoji);
        let mut text = format!("{emoji} Last heartbeat {} ({} ago)", when(t, g.now), human_duration(g.now - t));
        if let (Some(n), Some(ms)) = (g.checks_total, g.last_duration_ms) {
            text.push_str(&format!(", {n} checks in {:.1} s", ms as f64 / 1000.0));
        }
        out.push(Item::new(text));
    }
    if let Freshness::Stopped { awake_s } = g.freshness {
        out.push(
            Item::new(format!(
                "⏸ The monitor stopped: no heartbeat for {} of time awake (every {} expected)",
                human_duration(secs(awake_s)),
                human_duration(secs(g.interval_s as i64))
            ))
            .colour(Colour::Orange),
        );
        out.push(Item::new("Is the agent loaded? See ops-atomic status").at_depth(1).small());
    }
    if let Some(s) = g.slept_s.filter(|s| *s >= g.interval_s as i64) {
        out.push(Item::new(format!("💤 Asleep {} since then", human_duration(secs(s)))).small());
    }
    if let Some(w) = g.woke_at.filter(|_| g.freshness == Freshness::Fresh) {
        out.push(
            Item::new(format!(
                "💤 The Mac woke at {} ({} ago): the next heartbeat is due",
                when(w, g.now),
                human_duration(g.now - w)
            ))
            .small(),
        );
    }
    out
}

/// `OS_LAST_WAKE_TIME` as SwiftBar sets it (ISO 8601 with the local
/// offset; a few spellings are accepted).
pub fn parse_wake(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

/// The newest heartbeat report.
fn latest_report(paths: &Paths) -> Option<PathBuf> {
    std::fs::read_dir(paths.reports_dir())
        .ok()?
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            (n.starts_with("heartbeat_") && n.ends_with(".md")).then_some(n)
        })
        .max()
        .map(|n| paths.reports_dir().join(n))
}

/// Gathers the glance of this root, now.
pub fn gather(paths: &Paths, loaded: &crate::config::Loaded) -> Glance {
    let cfg = &loaded.config;
    let state = crate::state::peek(paths);
    let last = crate::history::last(paths);
    let page = paths.reports_dir().join("status.html");
    let log = paths.agent_logs(false).0;
    let inputs = Inputs {
        state: state.as_ref(),
        state_exists: paths.state_file().exists(),
        last: last.as_ref(),
        now: Utc::now(),
        interval_s: cfg.launchd.interval_s,
        windows: &cfg.maintenance,
        clocks: crate::sleep::measure(),
        woke_at: std::env::var("OS_LAST_WAKE_TIME").ok().as_deref().and_then(parse_wake),
        host: cfg.monitor.host(),
        files: Files {
            report: latest_report(paths),
            page: page.is_file().then_some(page),
            log: log.is_file().then_some(log),
        },
    };
    Glance::of(&inputs)
}

/// The whole plugin output in BitBar's grammar (SwiftBar, xbar): the
/// title, `---`, the dropdown.
pub fn bitbar(g: &Glance, caller: &Caller, d: &dyn line::Dialect) -> String {
    let (title, colour) = g.title();
    let head = Item::new(title).colour(colour).tip(g.summary());
    let mut out = line::join(0, &head.text, &line::params(&head, &caller.exe, d));
    out.push_str("\n---\n");
    let items = dropdown(g, caller);
    // No separator twice in a row, none at the end.
    let mut last_was_separator = true;
    let items: Vec<Option<Item>> = items
        .into_iter()
        .filter(|i| {
            let keep = i.is_some() || !last_was_separator;
            last_was_separator = i.is_none();
            keep
        })
        .collect();
    let end = items.iter().rposition(Option::is_some).map_or(0, |p| p + 1);
    for item in items.into_iter().take(end) {
        match item {
            Some(i) => out.push_str(&line::join(i.depth, &i.text, &line::params(&i, &caller.exe, d))),
            None => out.push_str("---"),
        }
        out.push('\n');
    }
    out
}

/// `ops-atomic menubar [--format F]`; `config_error`: the config did not
/// load and `loaded` holds the defaults (the menu says so).
pub fn run(paths: &Paths, loaded: &crate::config::Loaded, config_error: Option<&str>, app: App) -> Result<u8> {
    crate::log::quiet(true);
    let mut g = gather(paths, loaded);
    g.config_error = config_error.map(crate::secret::scrub);
    let exe = crate::launchd::agent::current_binary()?;
    let caller = Caller::new(&exe, &paths.root, loaded.named_file());
    let text = match app {
        App::Swiftbar => swiftbar::render(&g, &caller),
        App::Xbar => xbar::render(&g, &caller, xbar::dark_mode()),
        App::Raycast => raycast::render(&g),
    };
    crate::launchd::say(text.trim_end());
    Ok(0)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
