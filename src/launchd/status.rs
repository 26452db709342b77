//! `status`: the agents, the state, the latest reports, the logs and an
//! error summary, as text readable at a glance or as one JSON document.
//!
//! Everything is gathered into [`Status`] first, then rendered, so the text
//! and the JSON always say the same thing. `status` reports what it can: a
//! missing launchctl, state file or log is shown as such, never an error.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;

use crate::cli::{Agent, StatusArgs};
use crate::config::{Loaded, Source};
use crate::exit::Result;
use crate::fail;
use crate::launchd::agent::{self, AgentDef, AgentStatus};
use crate::launchd::launchctl::Launchctl;
use crate::launchd::say;
use crate::paths::Paths;
use crate::secret::scrub;

/// How many reports of each kind, log lines and error lines are shown.
const REPORTS_SHOWN: usize = 5;
const LOG_LINES: usize = 5;
const ERR_LINES: usize = 3;

#[derive(Debug, Serialize)]
pub struct Status {
    pub root: String,
    pub config: String,
    /// Why the config file could not be used: `status` then reports with
    /// the defaults, and says so.
    pub config_error: Option<String>,
    pub generated_at: String,
    pub launchctl: LaunchctlInfo,
    pub agents_dir: Option<String>,
    pub agents: Vec<AgentStatus>,
    pub state: StateStatus,
    pub reports: Vec<ReportEntry>,
    pub logs: Vec<LogTail>,
    pub errors: Vec<ErrSummary>,
    /// The menu-bar plugin (SPEC §19).
    pub menubar: crate::menubar::plugin::MenubarStatus,
    /// Problems that kept a part from being shown.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct LaunchctlInfo {
    pub available: bool,
    pub program: Option<String>,
    pub domain: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StateStatus {
    pub file: String,
    pub exists: bool,
    pub readable: bool,
    pub runs: u64,
    pub consecutive_failures: u32,
    pub alert_threshold: u32,
    pub alert_active: bool,
    pub first_failure_at: Option<String>,
    pub pending_notifications: usize,
    pub last_delivery_error: Option<String>,
    pub last_status: Option<String>,
    pub last_run_at: Option<String>,
    pub last_run_age_s: Option<i64>,
    pub never_ran: bool,
    /// The last heartbeat is older than `stale_after_s` (3 intervals).
    pub stale: bool,
    pub stale_after_s: u64,
    /// Each check that is DOWN or flapping, and since when.
    pub incidents: Vec<IncidentStatus>,
    /// Silences in force.
    pub silences: Vec<SilenceStatus>,
    /// `[[maintenance]]` windows in force at the last heartbeat.
    pub maintenance: Vec<String>,
    /// Undelivered messages per channel.
    pub pending_by_channel: std::collections::BTreeMap<String, usize>,
    /// What each check's repairs did in the last hour (SPEC §12), by name.
    pub repairs: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct IncidentStatus {
    pub id: String,
    pub name: String,
    pub down: bool,
    pub flapping: bool,
    pub since: Option<String>,
    pub for_s: Option<i64>,
    pub message: Option<String>,
    pub silenced: bool,
    /// The dependency it fails because of (SPEC §15).
    pub caused_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SilenceStatus {
    pub check: Option<String>,
    pub until: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct ReportEntry {
    pub kind: &'static str,
    pub name: String,
    pub path: String,
    pub status: Option<String>,
    pub age_s: Option<i64>,
    /// A name reserved by a run that is still writing it, or that was killed
    /// before it could.
    pub empty: bool,
}

#[derive(Debug, Serialize)]
pub struct LogTail {
    pub path: String,
    pub exists: bool,
    pub bytes: u64,
    pub last_lines: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrSummary {
    pub path: String,
    pub exists: bool,
    pub lines: usize,
    pub last_lines: Vec<String>,
}

/// `config_error`: the config file did not load, and `loaded` holds the
/// defaults instead; status still reports what it can and names the error.
pub fn run(paths: &Paths, loaded: &Loaded, config_error: Option<&str>, args: &StatusArgs) -> Result<u8> {
    crate::log::quiet(true);
    // The JSON document owns stdout.
    crate::log::to_stderr(args.json);
    let status = gather(paths, loaded, config_error, args);
    if args.json {
        let text =
            serde_json::to_string_pretty(&status).map_err(|e| fail!("could not encode the status as JSON: {e}"))?;
        say(&scrub(&text));
    } else {
        say(scrub(&render(&status)).trim_end());
    }
    Ok(0)
}

fn gather(paths: &Paths, loaded: &Loaded, config_error: Option<&str>, args: &StatusArgs) -> Status {
    let mut notes = Vec::new();
    let dir = agent::agents_dir(&args.agents).map_err(|e| notes.push(e.0)).ok();
    let lc = Launchctl::detect();
    let agents = [Agent::Monitor, Agent::Daily]
        .into_iter()
        .map(|a| agent::agent_status(paths, loaded, &AgentDef::new(&loaded.config, a), dir.as_deref(), lc.as_ref()))
        .collect();
    Status {
        root: paths.root.display().to_string(),
        config: config_source(loaded),
        config_error: config_error.map(scrub),
        generated_at: crate::log::timestamp(Utc::now()),
        launchctl: LaunchctlInfo {
            available: lc.is_some(),
            program: lc.as_ref().map(|l| l.program().display().to_string()),
            domain: lc.as_ref().map(Launchctl::domain),
        },
        agents_dir: dir.map(|d| d.display().to_string()),
        agents,
        state: state_status(paths, loaded),
        reports: latest_reports(paths),
        logs: log_tails(paths),
        errors: err_summaries(paths),
        menubar: crate::menubar::plugin::status(paths),
        notes,
    }
}

fn config_source(loaded: &Loaded) -> String {
    match &loaded.source {
        Source::Defaults(p) => format!("defaults (no {})", p.display()),
        Source::File { path, .. } => path.display().to_string(),
    }
}

fn state_status(paths: &Paths, loaded: &Loaded) -> StateStatus {
    let file = paths.state_file();
    let exists = file.is_file();
    let state = crate::state::peek(paths);
    let interval = loaded.config.launchd.interval_s;
    let stale_after_s = interval.saturating_mul(3);
    let s = state.clone().unwrap_or_default();
    let age = s.last_run_at.map(|t| (Utc::now() - t).num_seconds());
    StateStatus {
        file: file.display().to_string(),
        exists,
        readable: state.is_some(),
        runs: s.runs,
        consecutive_failures: s.consecutive_failures,
        alert_threshold: loaded.config.monitor.alert_threshold,
        alert_active: s.alert_active,
        first_failure_at: s.first_failure_at.map(crate::log::timestamp),
        pending_notifications: s.pending_notifications.len(),
        last_delivery_error: s.last_delivery_error.as_deref().map(scrub),
        last_status: s.last_status.clone(),
        last_run_at: s.last_run_at.map(crate::log::timestamp),
        last_run_age_s: age,
        never_ran: s.last_run_at.is_none(),
        stale: age.is_some_and(|a| a > stale_after_s as i64),
        stale_after_s,
        incidents: s
            .checks
            .iter()
            .filter(|(_, c)| c.down || c.flapping)
            .map(|(id, c)| {
                let since = if c.down { c.down_since } else { c.since };
                IncidentStatus {
                    id: id.clone(),
                    name: c.name.clone(),
                    down: c.down,
                    flapping: c.flapping,
                    since: since.map(crate::log::timestamp),
                    for_s: since.map(|t| (Utc::now() - t).num_seconds()),
                    message: c.failure_message.as_deref().map(scrub),
                    silenced: s.quiet(id, Utc::now(), &loaded.config.maintenance),
                    caused_by: c.caused_by.as_ref().map(|d| s.checks.get(d).map_or(d.clone(), |x| x.name.clone())),
                }
            })
            .collect(),
        silences: s
            .silences
            .iter()
            .filter(|x| x.until > Utc::now())
            .map(|x| SilenceStatus {
                check: x.check.clone(),
                until: crate::log::timestamp(x.until),
                reason: scrub(&x.reason),
            })
            .collect(),
        maintenance: s.maintenance_active.clone(),
        pending_by_channel: s.pending_notifications.iter().fold(Default::default(), |mut m, n| {
            *m.entry(n.channel.clone()).or_insert(0) += 1;
            m
        }),
        repairs: s
            .checks
            .values()
            .filter_map(|c| Some((c.name.clone(), scrub(&crate::incidents::repair_summary(&c.repairs, Utc::now())?))))
            .collect(),
    }
}

/// The newest heartbeat and daily reports, with the status of each.
fn latest_reports(paths: &Paths) -> Vec<ReportEntry> {
    let dir = paths.reports_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    // The UTC timestamp in the name sorts in time order ("." before "_1").
    names.sort();
    let mut out = Vec::new();
    for kind in ["heartbeat", "daily"] {
        let prefix = format!("{kind}_");
        let of_kind: Vec<&String> = names.iter().filter(|n| n.starts_with(&prefix)).collect();
        let start = of_kind.len().saturating_sub(REPORTS_SHOWN);
        for name in of_kind[start..].iter().rev() {
            let path = dir.join(name);
            out.push(ReportEntry {
                kind,
                status: report_status(&path),
                empty: std::fs::metadata(&path).is_ok_and(|m| m.len() == 0),
                age_s: crate::report::name_time(name).map(|t| (Utc::now() - t).num_seconds()),
                name: (*name).clone(),
                path: path.display().to_string(),
            });
        }
    }
    out
}

/// `HEALTHY` / `WARNINGS` / `CRITICAL` from the report's `**Status:**` line.
fn report_status(path: &Path) -> Option<String> {
    let head = read_head(path, 4096)?;
    let line = head.lines().find(|l| l.starts_with("**Status:**"))?;
    line.split_whitespace().find(|w| matches!(*w, "HEALTHY" | "WARNINGS" | "CRITICAL")).map(str::to_string)
}

fn read_head(path: &Path, max: u64) -> Option<String> {
    let mut buf = Vec::new();
    std::fs::File::open(path).ok()?.take(max).read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The end of a file (at most `max` bytes), without reading a 10 MB log whole.
fn read_tail(path: &Path, max: u64) -> Option<(u64, String)> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if len > max {
        // Drop the partial first line.
        text = text.split_once('\n').map(|(_, t)| t.to_string()).unwrap_or_default();
    }
    Some((len, text))
}

fn last_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| scrub(l)).collect()
}

fn log_files(paths: &Paths) -> [(PathBuf, PathBuf); 2] {
    [paths.agent_logs(false), paths.agent_logs(true)]
}

fn log_tails(paths: &Paths) -> Vec<LogTail> {
    log_files(paths)
        .into_iter()
        .map(|(log, _)| {
            let tail = read_tail(&log, 16 * 1024);
            LogTail {
                path: log.display().to_string(),
                exists: tail.is_some(),
                bytes: tail.as_ref().map_or(0, |t| t.0),
                last_lines: tail.map(|t| last_lines(&t.1, LOG_LINES)).unwrap_or_default(),
            }
        })
        .collect()
}

fn err_summaries(paths: &Paths) -> Vec<ErrSummary> {
    log_files(paths)
        .into_iter()
        .map(|(_, err)| {
            let lines = count_lines(&err);
            let tail = read_tail(&err, 16 * 1024);
            ErrSummary {
                path: err.display().to_string(),
                exists: tail.is_some(),
                lines: lines.unwrap_or(0),
                last_lines: tail.map(|t| last_lines(&t.1, ERR_LINES)).unwrap_or_default(),
            }
        })
        .collect()
}

fn count_lines(path: &Path) -> Option<usize> {
    use std::io::BufRead;
    let f = std::fs::File::open(path).ok()?;
    Some(
        std::io::BufReader::new(f)
            .split(b'\n')
            .map_while(|l| l.ok())
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .count(),
    )
}

/// How long ago, for people ("42 s", "3 h 10 min").
pub fn human_age(secs: i64) -> String {
    crate::incidents::human_duration(chrono::Duration::seconds(secs))
}

fn status_emoji(status: Option<&str>) -> &'static str {
    match status {
        Some("HEALTHY") => "✅",
        Some("WARNINGS") => "⚠️ ",
        Some("CRITICAL") => "❌",
        _ => "❔",
    }
}

fn render(s: &Status) -> String {
    let mut out = format!("ops-atomic status — root {}\nconfig: {}\n", s.root, s.config);
    if let Some(e) = &s.config_error {
        out += &format!(
            "❌ the config file does not load, so what follows uses the defaults (labels, interval, threshold): {e}\n   Fix it, then `ops-atomic config check`\n"
        );
    }
    out += "\n";
    out += &agent::render_agents(&s.agents, &s.root);
    out += &render_state(&s.state);
    out += &render_reports(&s.reports);
    out += &render_logs(&s.logs, &s.errors);
    out += &render_menubar(&s.menubar);
    for n in &s.notes {
        out += &format!("\n⚠️  {n}\n");
    }
    out
}

fn render_menubar(m: &crate::menubar::plugin::MenubarStatus) -> String {
    match (&m.app, &m.path) {
        (Some(app), Some(path)) => format!("\nMenu bar\n  ✅ {} plugin installed: {path}\n", app.title()),
        _ => "\nMenu bar\n  ➖ not installed (ops-atomic enable menubar)\n".to_string(),
    }
}

fn render_state(s: &StateStatus) -> String {
    let mut out = String::from("\nState\n");
    if !s.exists {
        return out + "  ➖ no state file yet: the heartbeat never ran\n";
    }
    if !s.readable {
        return out + &format!("  ⚠️  {} does not parse; the next heartbeat moves it aside\n", s.file);
    }
    let fail_emoji = if s.consecutive_failures == 0 { "✅" } else { "⚠️ " };
    out += &format!("  {fail_emoji} failures   {}/{} consecutive\n", s.consecutive_failures, s.alert_threshold);
    out += &match (&s.alert_active, &s.first_failure_at) {
        (true, Some(t)) => format!("  🔔 alert      active since {t}\n"),
        (true, None) => "  🔔 alert      active\n".into(),
        (false, _) => "  ✅ alert      none active\n".into(),
    };
    for i in &s.incidents {
        let what = if i.down { "DOWN" } else { "flapping" };
        let since = i.since.as_deref().unwrap_or("?");
        let dur = i.for_s.map(|f| format!(" ({})", human_age(f))).unwrap_or_default();
        let why = i.message.as_deref().map(|m| format!(" — {m}")).unwrap_or_default();
        let quiet = if i.silenced { " 🔕 silenced" } else { "" };
        let why = match &i.caused_by {
            Some(c) => format!("{why} (caused by {c})"),
            None => why,
        };
        out +=
            &format!("  {} {:<10} {what} since {since}{dur}{why}{quiet}\n", if i.down { "❌" } else { "⚠️ " }, i.name);
    }
    for (name, what) in &s.repairs {
        out += &format!("  🔧 repairs    {name}: {what}\n");
    }
    for w in &s.maintenance {
        out += &format!("  🔕 maintenance {w} (its checks behave as silenced)\n");
    }
    for x in &s.silences {
        let who = x.check.as_deref().unwrap_or("every check");
        let why = if x.reason.is_empty() { String::new() } else { format!(" — {}", x.reason) };
        out += &format!("  🔕 silence    {who} until {}{why}\n", x.until);
    }
    let per_channel: Vec<String> = s.pending_by_channel.iter().map(|(c, n)| format!("{c} {n}")).collect();
    out += &match (s.pending_notifications, &s.last_delivery_error) {
        (0, _) => "  ✅ pending    no undelivered notifications\n".into(),
        (n, Some(e)) => format!("  ⚠️  pending    {n} undelivered ({}; last error: {e})\n", per_channel.join(", ")),
        (n, None) => format!("  ⚠️  pending    {n} undelivered ({})\n", per_channel.join(", ")),
    };
    out += &match (&s.last_run_at, s.last_run_age_s) {
        (Some(t), Some(age)) if s.stale => format!(
            "  ⚠️  last run   {} at {t}, {} ago — {}: older than 3 intervals ({}); launchd skips runs while the Mac sleeps, or the agent is not running\n",
            crate::color::status(s.last_status.as_deref().unwrap_or("?")),
            human_age(age),
            crate::color::paint(crate::color::Style::Yellow, "STALE"),
            human_age(s.stale_after_s as i64)
        ),
        (Some(t), Some(age)) => format!(
            "  {} last run   {} at {t}, {} ago ({} run{})\n",
            status_emoji(s.last_status.as_deref()),
            crate::color::status(s.last_status.as_deref().unwrap_or("?")),
            human_age(age),
            s.runs,
            if s.runs == 1 { "" } else { "s" }
        ),
        _ => "  ➖ last run   never ran\n".into(),
    };
    out
}

fn render_reports(reports: &[ReportEntry]) -> String {
    let mut out = String::from("\nLatest reports\n");
    if reports.is_empty() {
        return out + "  ➖ none yet\n";
    }
    for r in reports {
        let age = r.age_s.map(|a| format!(" ({} ago)", human_age(a))).unwrap_or_default();
        if r.empty {
            out += &format!("  ➖ {:<9} {}{age}: empty, still being written or its run was interrupted\n", "", r.name);
            continue;
        }
        // Padded before painting: the colour codes take no column.
        let word = r.status.as_deref().unwrap_or("?");
        let pad = " ".repeat(9usize.saturating_sub(word.chars().count()));
        out +=
            &format!("  {} {}{pad} {}{age}\n", status_emoji(r.status.as_deref()), crate::color::status(word), r.name);
    }
    out
}

fn render_logs(logs: &[LogTail], errors: &[ErrSummary]) -> String {
    let mut out = String::from("\nLogs\n");
    for l in logs {
        if !l.exists {
            out += &format!("  ➖ {}: not written yet\n", l.path);
            continue;
        }
        out += &format!("  {} (last {} lines)\n", l.path, l.last_lines.len());
        for line in &l.last_lines {
            out += &format!("      {line}\n");
        }
    }
    out += "\nErrors\n";
    for e in errors {
        if e.lines == 0 {
            let what = if e.exists { "empty" } else { "no errors (not written yet)" };
            out += &format!("  ✅ {}: {what}\n", e.path);
            continue;
        }
        let plural = if e.lines == 1 { "" } else { "s" };
        out += &format!("  ⚠️  {}: {} line{plural}; the last:\n", e.path, e.lines);
        for line in &e.last_lines {
            out += &format!("      {line}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_carry_their_time() {
        let t = crate::report::name_time("heartbeat_2025-10-27_17-52-09_1.md").unwrap();
        assert_eq!(crate::log::timestamp(t), "2025-10-27T17:52:09.000Z");
        assert!(crate::report::name_time("daily_garbage.md").is_none());
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(human_age(42), "42 s");
        assert_eq!(human_age(300), "5 min");
        assert_eq!(human_age(3 * 3600 + 600), "3 h 10 min");
        assert_eq!(human_age(2 * 86_400 + 4 * 3600), "2 d 4 h");
        assert_eq!(human_age(-5), "0 s");
    }

    #[test]
    fn last_lines_skip_blanks() {
        assert_eq!(last_lines("a\n\nb\nc\n\n", 2), vec!["b", "c"]);
    }
}
