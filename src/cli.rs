//! The command line as parsed by clap, kept apart from the checked `Config`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A local operations monitor: health checks, incidents, reports and alerts (Discord, Slack, ntfy, …),
/// run by launchd.
#[derive(Debug, Parser)]
#[command(name = "ops-atomic", version, about, max_term_width = 100)]
pub struct Cli {
    /// Folder that holds g/, templates/ and LaunchAgents/ [default: the current directory]
    #[arg(long, global = true, env = "OPS_ATOMIC_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Config file [default: <root>/g/config/ops_atomic.toml]
    #[arg(long, global = true, env = "OPS_ATOMIC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every check once, record incidents, write a report, notify every channel
    Heartbeat(RunArgs),
    /// Run the phased smoke suite, write the daily report and do housekeeping
    Daily(RunArgs),
    /// Install and load the LaunchAgents
    Enable(EnableArgs),
    /// Unload and remove the LaunchAgents
    Disable(DisableArgs),
    /// Show the agents, the state, the latest reports and logs
    Status(StatusArgs),
    /// Print the generated plist of one agent
    Plist {
        #[arg(value_enum)]
        agent: Agent,
    },
    /// Validate or print the effective configuration (secrets redacted)
    Config {
        #[arg(value_enum)]
        action: ConfigAction,
    },
    /// Write a commented starter config from what runs on this machine
    Init(InitArgs),
    /// Availability, incidents and gaps over any window of the history
    Summary(SummaryArgs),
    /// Write the HTML status page (g/reports/status.html)
    Page(PageArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the man page (roff): ops-atomic man | man -l -
    Man,
    /// Show what happened: transitions, incidents, silences, notifications
    Events(EventsArgs),
    /// Silence checks for a while: they run and are recorded, but send nothing
    Silence(SilenceArgs),
    /// Prove the channels work: send a test message now
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// Print the menu-bar plugin output (SwiftBar, xbar) or a Raycast status line, from the state
    Menubar(MenubarArgs),
    /// Run a command as a job: pass its exit code through, record its start, end and output tail (SPEC §20)
    Run(JobRunArgs),
    /// Print the shipped Prometheus rules, Alertmanager config or Grafana dashboard for a team of Macs
    Fleet {
        #[arg(value_enum)]
        what: FleetFile,
    },
}

/// What `fleet` prints (SPEC §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFile {
    /// Prometheus alerting rules (promtool check rules)
    Rules,
    /// An Alertmanager config: critical to a pager, the rest to chat (amtool check-config)
    Alertmanager,
    /// A Grafana dashboard (JSON, to import)
    Dashboard,
}

/// `run NAME [--timeout DUR] -- COMMAND [ARGS...]`.
#[derive(Debug, Args)]
#[command(after_help = "Exit code: the command's; 128+N when signal N ended it; 124 when --timeout killed it; \
127 command not found; 126 could not be executed; 3 bad arguments.")]
pub struct JobRunArgs {
    /// The job's name, as in the [[job]] that watches it (check id job:<NAME>)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Kill the command and everything it started after DUR (SIGTERM, then SIGKILL 3 s later): 90s, 15m, 2h
    #[arg(long, value_name = "DUR", value_parser = crate::duration::parse)]
    pub timeout: Option<chrono::Duration>,
    /// The command and its arguments, after `--` (no shell)
    #[arg(last = true, required = true, value_name = "COMMAND", value_parser = clap::value_parser!(std::ffi::OsString))]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct MenubarArgs {
    /// The app that reads it [default: xbar when xbar runs it (XBARDarkMode is set), else swiftbar]
    #[arg(long, value_enum)]
    pub format: Option<crate::menubar::App>,
    /// Print the plugin itself instead (for raycast: the script command, its @raycast header first), as `enable menubar` installs it
    #[arg(long)]
    pub script: bool,
}

/// Where `enable menubar` / `disable menubar` put the plugin.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// The menu-bar app's plugin folder [default: SwiftBar's PluginDirectory preference, else xbar's folder]
    #[arg(long, value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// The app the plugin is for [default: the app whose folder it is]
    #[arg(long, value_enum)]
    pub app: Option<crate::menubar::App>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// How far back: 90s, 15m, 2h, 7d
    #[arg(long, default_value = "24h", value_name = "DUR")]
    pub since: String,
    /// Only this check (by id or name); repeatable
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
    /// Only this type (status, down, up, flapping, stable, silenced, unsilenced, notified, …); repeatable
    #[arg(long = "type", value_name = "T")]
    pub types: Vec<String>,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Keep printing new events as they are written, until interrupted
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("action").required(true).args(["duration", "list", "clear"]))]
pub struct SilenceArgs {
    /// Check ids (redis, database, api:<name>, …); none = every check
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// How long: 30m, 2h, 1d
    #[arg(long = "for", value_name = "DUR")]
    pub duration: Option<String>,
    /// Why, shown in status, reports and events
    #[arg(long, value_name = "TEXT", requires = "duration")]
    pub reason: Option<String>,
    /// Show the silences in force
    #[arg(long)]
    pub list: bool,
    /// End the silences of the given ids (none = all)
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Subcommand)]
pub enum NotifyAction {
    /// Send a `test` message through every configured channel (or the one
    /// named) right now, not queued; exit 0 when all delivered, else 3
    Test {
        /// Only this channel: "discord" or a [[notify]] name
        channel: Option<String>,
        /// Print one JSON document instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Clone, Copy)]
pub struct RunArgs {
    /// Print one JSON document on stdout (log lines go to stderr)
    #[arg(long)]
    pub json: bool,
    /// Compute and record everything, but send nothing
    #[arg(long)]
    pub no_notify: bool,
    /// Run no repair, even when one is due (daily never repairs)
    #[arg(long)]
    pub no_repair: bool,
}

#[derive(Debug, Args)]
pub struct AgentsDirArg {
    /// Folder of the installed LaunchAgents [default: $HOME/Library/LaunchAgents]
    #[arg(long, env = "OPS_ATOMIC_AGENTS_DIR", value_name = "DIR")]
    pub agents_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnableArgs {
    #[arg(value_enum, default_value = "all")]
    pub which: Which,
    #[command(flatten)]
    pub agents: AgentsDirArg,
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// Show the plist and the launchctl calls without making them
    #[arg(long)]
    pub dry_run: bool,
    /// Move an agent that is installed for another root to this one
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DisableArgs {
    #[arg(value_enum, default_value = "all")]
    pub which: Which,
    #[command(flatten)]
    pub agents: AgentsDirArg,
    #[command(flatten)]
    pub plugin: PluginArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON document instead of text
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub agents: AgentsDirArg,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing config file
    #[arg(long)]
    pub force: bool,
    /// Print the config to stdout and write nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub agents: AgentsDirArg,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The window: the last DUR (90s, 15m, 2h, 7d)
    #[arg(long, value_name = "DUR", default_value = "24h", value_parser = crate::duration::parse)]
    pub since: chrono::Duration,
    /// Print the summary as one JSON document
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// The window: the last DUR (90s, 15m, 2h, 7d)
    #[arg(long, value_name = "DUR", default_value = "7d", value_parser = crate::duration::parse)]
    pub since: chrono::Duration,
    /// Write the page here instead of g/reports/status.html
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Open the page in the browser afterwards (`open` on macOS, `xdg-open` elsewhere)
    #[arg(long)]
    pub open: bool,
}

/// The shells `completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// One of the two LaunchAgents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Agent {
    /// The heartbeat agent (every interval_s seconds)
    Monitor,
    /// The daily agent (daily.hour:daily.minute)
    Daily,
}

/// What `enable` and `disable` act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// The heartbeat agent
    Monitor,
    /// The daily agent
    Daily,
    /// Both agents (not the menu bar)
    All,
    /// The menu-bar plugin (SwiftBar, xbar) or Raycast script command
    Menubar,
}

impl Which {
    pub fn agents(self) -> Vec<Agent> {
        match self {
            Which::Monitor => vec![Agent::Monitor],
            Which::Daily => vec![Agent::Daily],
            Which::All => vec![Agent::Monitor, Agent::Daily],
            Which::Menubar => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigAction {
    /// Validate the configuration and say which file was read
    Check,
    /// Print the effective configuration as TOML, secrets redacted
    Show,
}
