//! The answers of the `[self]` check (`checks::selfcheck`): are this root's
//! agents installed, loaded and up to date, did the daily run run, is a run
//! stuck on the state lock. Here because it needs the agents, the config
//! and launchd, which the `checks` module does not import.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::checks::selfcheck::Inspect;
use crate::checks::{CheckStatus, human_secs};
use crate::cli::{Agent, AgentsDirArg};
use crate::config::Loaded;
use crate::launchd::agent::{self as agents, AgentDef};
use crate::launchd::launchctl::{self, Launchctl};
use crate::paths::Paths;

/// The daily run is late after this long.
const DAILY_LATE: Duration = Duration::from_secs(26 * 3600);
/// Another run holding the state lock this long is stuck.
const LOCK_STUCK: Duration = Duration::from_secs(60);

/// What `[self]` needs to know about this root: its paths and configuration
/// (for the agents `enable` would install). Carried by `checks::Env::me`.
pub struct Facts {
    paths: Paths,
    loaded: Loaded,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Facts {{ root: {} }}", self.paths.root.display())
    }
}

impl Facts {
    /// What the heartbeat and the daily run give `checks::Env::me`.
    pub fn of(paths: &Paths, loaded: &Loaded) -> Option<Arc<dyn Inspect>> {
        Some(Arc::new(Facts { paths: paths.clone(), loaded: loaded.clone() }))
    }
}

impl Inspect for Facts {
    fn inspect(&self, launchctl: &Path, now: DateTime<Utc>) -> (CheckStatus, String) {
        check(self, launchctl, now)
    }
}

fn check(facts: &Facts, program: &Path, now: DateTime<Utc>) -> (CheckStatus, String) {
    let mut problems = Vec::new();
    let mut fine = Vec::new();

    let dir =
        agents::agents_dir(&AgentsDirArg { agents_dir: std::env::var_os("OPS_ATOMIC_AGENTS_DIR").map(PathBuf::from) });
    let lc = launchctl::current_uid().map(|uid| Launchctl::new(program.to_path_buf(), uid));
    let mut daily_plist = None;
    match &dir {
        Err(e) => problems.push(format!("cannot tell which agents are installed: {}", e.0)),
        Ok(dir) => {
            let mut installed = Vec::new();
            for agent in [Agent::Monitor, Agent::Daily] {
                let def = AgentDef::new(&facts.loaded.config, agent);
                // Not installed: nothing to ask launchd (each ask is a process).
                if !dir.join(def.file_name()).is_file() {
                    continue;
                }
                let st = agents::agent_status(&facts.paths, &facts.loaded, &def, Some(dir), lc.as_ref());
                if !st.installed {
                    continue;
                }
                installed.push(def.name);
                if def.is_daily() {
                    daily_plist = st.installed_path.clone().map(PathBuf::from);
                }
                match (st.loaded, &st.launchctl_error) {
                    (Some(false), _) => problems.push(format!(
                        "the {} agent {} is installed but not loaded: run `ops-atomic enable {}`",
                        def.name, def.label, def.name
                    )),
                    (None, Some(e)) => problems.push(format!("the {} agent: {e}", def.name)),
                    _ => {}
                }
                if st.stale == Some(true) {
                    problems.push(format!(
                        "the {} agent's plist is stale: {}",
                        def.name,
                        st.stale_reason.as_deref().unwrap_or("run `ops-atomic enable` again")
                    ));
                }
            }
            if installed.is_empty() {
                fine.push("no agents installed for this root".to_string());
            } else {
                fine.push(format!(
                    "{} agent{} loaded and up to date",
                    installed.join(" and "),
                    plural(installed.len())
                ));
            }
        }
    }

    if let Some(plist) = daily_plist {
        match last_daily(&facts.paths.reports_dir()) {
            Some(t) => {
                let age = age_secs(now, t);
                if age > DAILY_LATE.as_secs() {
                    problems.push(format!("the last daily run was {} ago (more than 26 h)", human_secs(age)));
                } else {
                    fine.push(format!("daily ran {} ago", human_secs(age)));
                }
            }
            None => {
                let installed_at = std::fs::metadata(&plist).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from);
                let age = installed_at.map_or(0, |t| age_secs(now, t));
                if age > DAILY_LATE.as_secs() {
                    problems.push(format!("no daily run since the daily agent was installed {} ago", human_secs(age)));
                } else {
                    fine.push("daily has not run yet".to_string());
                }
            }
        }
    }

    match lock_holder(&facts.paths.lock_file()) {
        Some((holder, Some(since))) if age_secs(now, since) > LOCK_STUCK.as_secs() => problems.push(format!(
            "the state lock has been held for {} by {holder}: a stuck run?",
            human_secs(age_secs(now, since))
        )),
        _ => {}
    }

    if problems.is_empty() { (CheckStatus::Ok, fine.join("; ")) } else { (CheckStatus::Warn, problems.join("; ")) }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn age_secs(now: DateTime<Utc>, then: DateTime<Utc>) -> u64 {
    (now - then).num_seconds().max(0) as u64
}

/// When the newest `daily_*.md` report was started (from its name).
fn last_daily(reports: &Path) -> Option<DateTime<Utc>> {
    std::fs::read_dir(reports)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("daily_") && n.ends_with(".md"))
        .filter_map(|n| crate::report::name_time(&n))
        .max()
}

/// Who holds the state lock now, and since when, as the holder wrote it
/// (`pid N (command, since TS)`); `None` when it is free. This process
/// (a daily run checking itself) does not count.
fn lock_holder(path: &Path) -> Option<(String, Option<DateTime<Utc>>)> {
    use fs2::FileExt;
    let file = std::fs::File::open(path).ok()?;
    match file.try_lock_exclusive() {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            return None;
        }
        Err(e) if e.raw_os_error() != fs2::lock_contended_error().raw_os_error() => return None,
        Err(_) => {}
    }
    let text = std::fs::read_to_string(path).ok()?;
    parse_holder(&text, std::process::id())
}

/// `pid 42 (heartbeat, since 2025-10-27T17:52:09.831Z)` → the holder and the time.
fn parse_holder(text: &str, me: u32) -> Option<(String, Option<DateTime<Utc>>)> {
    let text = text.trim();
    let pid = text.strip_prefix("pid ").and_then(|r| r.split_whitespace().next()).and_then(|p| p.parse::<u32>().ok());
    if pid == Some(me) {
        return None;
    }
    let since = text
        .rsplit_once("since ")
        .map(|(_, t)| t.trim_end_matches(')'))
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let holder = match text.split_once(", since") {
        Some((head, _)) => format!("{head})"),
        None if text.is_empty() => "another ops-atomic run".into(),
        None => text.to_string(),
    };
    Some((holder, since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_says_who_and_since_when() {
        let (who, since) = parse_holder("pid 42 (heartbeat, since 2025-10-27T17:52:09.831Z)\n", 1).unwrap();
        assert_eq!(who, "pid 42 (heartbeat)");
        assert_eq!(since.unwrap().to_rfc3339(), "2025-10-27T17:52:09.831+00:00");
        assert!(parse_holder("pid 42 (daily, since 2025-10-27T17:52:09.831Z)", 42).is_none());
        assert_eq!(parse_holder("", 1).unwrap(), ("another ops-atomic run".into(), None));
    }
}
