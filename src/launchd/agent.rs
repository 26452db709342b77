//! One agent as `enable`, `disable` and `status` all see it: its fixed facts
//! under the config ([`AgentDef`]), the plist `enable` would write now
//! ([`spec`]), and what launchd and the agents folder say about it
//! ([`AgentStatus`], also printed at the end of `enable`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Agent, AgentsDirArg};
use crate::config::{Config, Loaded};
use crate::exit::Result;
use crate::fail;
use crate::launchd::launchctl::{self, CallError, Launchctl, Probe, SpawnProblem};
use crate::launchd::plist::{self, Schedule, Spec};
use crate::paths::{self, Paths};

/// The fixed facts of one agent under the current config.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub agent: Agent,
    /// `monitor` or `daily`, as typed on the command line.
    pub name: &'static str,
    pub label: String,
    /// The ops-atomic subcommand launchd runs.
    pub subcommand: &'static str,
    pub schedule: Schedule,
}

impl AgentDef {
    pub fn new(c: &Config, agent: Agent) -> AgentDef {
        match agent {
            Agent::Monitor => AgentDef {
                agent,
                name: "monitor",
                label: c.monitor_label(),
                subcommand: "heartbeat",
                schedule: Schedule::Every(c.launchd.interval_s),
            },
            Agent::Daily => AgentDef {
                agent,
                name: "daily",
                label: c.daily_label(),
                subcommand: "daily",
                schedule: Schedule::Daily { hour: c.daily.hour, minute: c.daily.minute },
            },
        }
    }

    pub fn is_daily(&self) -> bool {
        self.agent == Agent::Daily
    }

    pub fn file_name(&self) -> String {
        format!("{}.plist", self.label)
    }

    /// `<root>/LaunchAgents/<label>.plist`, the copy kept with the root.
    pub fn repo_plist(&self, paths: &Paths) -> PathBuf {
        paths.launchagents_dir().join(self.file_name())
    }
}

/// The canonical path of the running binary: what launchd will run.
pub fn current_binary() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| fail!("could not find the path of the running ops-atomic binary: {e}"))?;
    exe.canonicalize()
        .map_err(|e| fail!("could not resolve the running binary {}: {}", exe.display(), crate::exit::io_reason(&e)))
}

/// What `enable` would write for this agent now, with every path checked:
/// absolute, without `~`, existing.
pub fn spec(paths: &Paths, loaded: &Loaded, def: &AgentDef) -> Result<Spec> {
    let binary = current_binary()?;
    let config_file = loaded.named_file().map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    let (stdout, stderr) = paths.agent_logs(def.is_daily());
    let spec = Spec {
        label: def.label.clone(),
        binary,
        subcommand: def.subcommand,
        root: paths.root.clone(),
        stdout,
        stderr,
        path_env: loaded.config.launchd.path.clone(),
        config_file,
        schedule: def.schedule,
        exit_timeout_s: exit_timeout_s(&loaded.config),
        process_type: plist::process_type(def.schedule),
    };
    spec.check_paths()?;
    let mut must_exist = vec![("the ops-atomic binary", &spec.binary), ("the root", &spec.root)];
    if let Some(c) = &spec.config_file {
        must_exist.push(("the config file", c));
    }
    for (what, p) in must_exist {
        if !p.exists() {
            return Err(fail!("{what} {} does not exist", p.display()));
        }
    }
    Ok(spec)
}

/// `ExitTimeOut`: how long launchd waits after SIGTERM before SIGKILL. Above
/// the heartbeat's deadline plus its repairs and deliveries, so a run that
/// launchd stops (logout, `bootout`) can still save its state.
pub fn exit_timeout_s(c: &Config) -> u64 {
    c.monitor.deadline_ms.div_ceil(1000) + 30
}

/// The agents folder: `--agents-dir` / OPS_ATOMIC_AGENTS_DIR, else
/// `$HOME/Library/LaunchAgents`; absolute and without `~`.
pub fn agents_dir(arg: &AgentsDirArg) -> Result<PathBuf> {
    let dir = match &arg.agents_dir {
        Some(d) => d.clone(),
        None => match std::env::var_os("HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h).join("Library/LaunchAgents"),
            _ => {
                return Err(fail!(
                    "HOME is not set, so the agents folder ($HOME/Library/LaunchAgents) is unknown: pass --agents-dir DIR or set OPS_ATOMIC_AGENTS_DIR"
                ));
            }
        },
    };
    let dir = paths::absolute(&dir);
    let dir = dir.canonicalize().unwrap_or(dir);
    plist::check_path("the agents folder", &dir)?;
    Ok(dir)
}

/// The `--root` a plist's `ProgramArguments` name, if it is readable.
pub fn plist_root(path: &Path) -> Option<String> {
    let value = plist::read(path).ok()?;
    let args = value.as_dictionary()?.get("ProgramArguments")?.as_array()?;
    let at = args.iter().position(|a| a.as_string() == Some("--root"))?;
    args.get(at + 1)?.as_string().map(str::to_string)
}

/// The program a plist runs (`ProgramArguments[0]`).
fn plist_program(path: &Path) -> Option<String> {
    let value = plist::read(path).ok()?;
    value.as_dictionary()?.get("ProgramArguments")?.as_array()?.first()?.as_string().map(str::to_string)
}

#[derive(Debug, Serialize)]
pub struct AgentStatus {
    pub agent: &'static str,
    pub label: String,
    pub command: &'static str,
    pub schedule: String,
    pub interval_s: Option<u64>,
    pub installed: bool,
    pub installed_path: Option<String>,
    /// The root the installed agent watches (its `--root`).
    pub root: Option<String>,
    /// The installed agent watches another root than this one.
    pub other_root: bool,
    /// `None` when launchctl is not available or did not answer.
    pub loaded: Option<bool>,
    /// The plist launchd loaded the job from (`launchctl print`'s `path =`).
    pub loaded_from: Option<String>,
    /// launchd loaded the job from another file than the installed plist.
    pub loaded_from_other: bool,
    pub launchctl_error: Option<String>,
    /// launchctl refused the `gui/<uid>` domain: no GUI session for this user.
    pub no_gui_session: bool,
    /// launchd's own word for the job: `running`, `not running`, `spawn scheduled`, `xpcproxy`, ...
    pub state: Option<String>,
    pub running: Option<bool>,
    pub pid: Option<u32>,
    pub runs: Option<u64>,
    pub last_exit: Option<i32>,
    pub last_exit_meaning: Option<String>,
    /// launchd could not start the job at all, with the likely cause and the fix.
    pub could_not_start: Option<SpawnProblem>,
    /// The installed plist differs from what `enable` would write now;
    /// `None` when not installed or it could not be compared.
    pub stale: Option<bool>,
    pub stale_reason: Option<String>,
}

impl AgentStatus {
    /// Everything is as `enable` leaves it: the header may show ✅.
    pub fn healthy(&self) -> bool {
        self.installed
            && self.loaded == Some(true)
            && self.stale != Some(true)
            && self.could_not_start.is_none()
            && !self.other_root
            && !self.loaded_from_other
    }
}

/// One agent as launchd and the agents folder see it.
pub fn agent_status(
    paths: &Paths,
    loaded: &Loaded,
    def: &AgentDef,
    dir: Option<&Path>,
    lc: Option<&Launchctl>,
) -> AgentStatus {
    let installed_path = dir.map(|d| d.join(def.file_name()));
    let installed = installed_path.as_ref().is_some_and(|p| p.is_file());
    let this_root = paths.root.display().to_string();
    let mut s = AgentStatus {
        agent: def.name,
        label: def.label.clone(),
        command: def.subcommand,
        schedule: def.schedule.describe(),
        interval_s: match def.schedule {
            Schedule::Every(n) => Some(n),
            Schedule::Daily { .. } => None,
        },
        installed,
        installed_path: installed_path.as_ref().map(|p| p.display().to_string()),
        root: None,
        other_root: false,
        loaded: None,
        loaded_from: None,
        loaded_from_other: false,
        launchctl_error: None,
        no_gui_session: false,
        state: None,
        running: None,
        pid: None,
        runs: None,
        last_exit: None,
        last_exit_meaning: None,
        could_not_start: None,
        stale: None,
        stale_reason: None,
    };
    let mut program = None;
    if let (true, Some(p)) = (installed, &installed_path) {
        let (stale, reason) = staleness(paths, loaded, def, p);
        s.stale = stale;
        s.stale_reason = reason;
        s.root = plist_root(p);
        program = plist_program(p);
    }
    match lc.map(|lc| (lc, lc.probe(&def.label))) {
        None => s.launchctl_error = Some("launchctl not available".into()),
        Some((lc, Err(e))) => {
            s.no_gui_session = e.is_no_session();
            s.launchctl_error = Some(explain(&e, def, lc));
        }
        Some((_, Ok(Probe::NotLoaded))) => s.loaded = Some(false),
        Some((_, Ok(Probe::Loaded(job)))) => {
            s.loaded = Some(true);
            s.running = Some(job.is_running());
            s.state = job.state.clone();
            s.pid = job.pid;
            s.runs = job.runs;
            if s.root.is_none() {
                s.root = job.root_argument().map(str::to_string);
            }
            if program.is_none() {
                program = job.arguments.first().cloned();
            }
            // `(submitted by smd.553)` is launchd's word for "not from a file".
            if let Some(from) = job.path.as_deref().filter(|p| p.starts_with('/')) {
                s.loaded_from = Some(from.to_string());
                s.loaded_from_other = s.installed_path.as_deref() != Some(from);
            } else {
                s.loaded_from = job.path.clone();
            }
            s.could_not_start = job.spawn_problem(program.as_deref());
            if job.runs == Some(0) {
                // launchd reports 0 (or "never exited") for a job that has not run.
                s.last_exit_meaning = Some("has not run since it was loaded".into());
            } else {
                s.last_exit = job.last_exit;
                s.last_exit_meaning = job.last_exit.map(|c| launchctl::describe_agent_exit(c, def.is_daily()));
            }
        }
    }
    s.other_root = s.root.as_deref().is_some_and(|r| r != this_root);
    s
}

/// A launchctl error about this agent, in words, with the fix.
pub fn explain(e: &CallError, def: &AgentDef, lc: &Launchctl) -> String {
    e.explain(def.name, &lc.target(&def.label))
}

/// Compares the installed plist with what `enable` would write now, as
/// parsed values (formatting and key order do not count).
fn staleness(paths: &Paths, loaded: &Loaded, def: &AgentDef, installed: &Path) -> (Option<bool>, Option<String>) {
    let expected = match spec(paths, loaded, def) {
        Ok(spec) => plist::build(&spec),
        Err(e) => return (None, Some(format!("cannot build the expected plist: {}", e.0))),
    };
    let actual = match plist::read(installed) {
        Ok(v) => v,
        Err(e) => return (Some(true), Some(e.0)),
    };
    if actual == expected {
        return (Some(false), None);
    }
    let (Some(a), Some(b)) = (actual.as_dictionary(), expected.as_dictionary()) else {
        return (Some(true), Some("the installed plist is not a dictionary".into()));
    };
    let mut keys: Vec<&str> = a.keys().chain(b.keys()).map(String::as_str).filter(|k| a.get(k) != b.get(k)).collect();
    keys.sort_unstable();
    keys.dedup();
    (
        Some(true),
        Some(format!(
            "differs from what `enable` would write now ({}): run `ops-atomic enable {}`",
            keys.join(", "),
            def.name
        )),
    )
}

/// The agents section (printed by `status` and at the end of `enable`).
pub fn render_agents(agents: &[AgentStatus], this_root: &str) -> String {
    let mut out = String::from("LaunchAgents\n");
    for a in agents {
        out += &render_agent(a, this_root);
    }
    out
}

fn render_agent(a: &AgentStatus, this_root: &str) -> String {
    let absent = !a.installed && a.loaded != Some(true);
    let emoji = if a.healthy() {
        "✅"
    } else if absent || a.could_not_start.is_some() {
        "❌"
    } else {
        "⚠️ "
    };
    let mut out = format!("  {emoji} {} ({}) — {}\n", a.agent, a.label, a.schedule);
    let row = |k: &str, v: &str| format!("       {k:<10} {v}\n");
    out += &row(
        "installed",
        &match (&a.installed_path, a.installed) {
            (Some(p), true) => format!("✅ {p}"),
            (Some(p), false) => format!("❌ no: {p} is missing (run `ops-atomic enable {}`)", a.agent),
            (None, _) => "❔ unknown (no agents folder)".into(),
        },
    );
    if let Some(root) = &a.root {
        out += &row(
            "root",
            &if a.other_root {
                format!(
                    "⚠️  watches {root}, not this root ({this_root}): `ops-atomic enable {} --force` here moves it, or run `ops-atomic --root {root} status`",
                    a.agent
                )
            } else {
                format!("✅ {root}")
            },
        );
    }
    let loaded = match (a.loaded, &a.launchctl_error) {
        (_, Some(e)) if a.no_gui_session => format!("❔ unknown: no GUI session for this user — {e}"),
        (_, Some(e)) => format!("❔ {e}"),
        (Some(true), _) if a.could_not_start.is_some() => {
            format!("❌ loaded, but launchd could not start it ({})", a.state.as_deref().unwrap_or("not running"))
        }
        (Some(true), _) => {
            let loaded = crate::color::paint(crate::color::Style::Green, "loaded");
            match (a.running, a.pid, a.state.as_deref()) {
                (_, Some(pid), _) => format!("✅ {loaded}, running (PID {pid})"),
                (Some(true), None, Some(state)) => format!("✅ {loaded}, starting (state = {state})"),
                (Some(true), None, _) => format!("✅ {loaded}, running"),
                _ => format!("✅ {loaded}, not running (waiting for its schedule)"),
            }
        }
        (Some(false), _) => format!("❌ {}", crate::color::paint(crate::color::Style::Red, "not loaded")),
        (None, None) => "❔ unknown".into(),
    };
    out += &row("launchd", &loaded);
    if let Some(p) = &a.could_not_start {
        out += &row("", &format!("   launchd says: {}", p.said));
        out += &row("", &format!("   {}", p.meaning));
        out += &row("", &format!("   Fix: {}", p.fix));
    }
    if let Some(from) = &a.loaded_from {
        if a.loaded_from_other {
            out += &row(
                "plist used",
                &format!(
                    "⚠️  launchd loaded it from {from}, not from {}: `ops-atomic enable {}` replaces it",
                    a.installed_path.as_deref().unwrap_or("the installed plist"),
                    a.agent
                ),
            );
        } else if a.installed_path.as_deref() != Some(from.as_str()) {
            out += &row("plist used", &format!("➖ {from}"));
        }
    }
    match (a.last_exit, &a.last_exit_meaning) {
        // Already in "launchd says" above.
        _ if a.could_not_start.is_some() => {}
        (Some(code), Some(meaning)) => {
            let e = match code {
                0 => "✅",
                1 => "⚠️ ",
                _ => "❌",
            };
            out += &row("last exit", &format!("{e} {code}: {meaning}"));
        }
        (None, Some(meaning)) => out += &row("last exit", &format!("➖ {meaning}")),
        _ => {}
    }
    match (a.stale, &a.stale_reason) {
        (Some(false), _) => out += &row("plist", "✅ up to date"),
        (Some(true), r) => out += &row("plist", &format!("⚠️  stale: {}", r.as_deref().unwrap_or(""))),
        (None, Some(r)) => out += &row("plist", &format!("❔ {r}")),
        (None, None) => {}
    }
    out
}
