//! Running repairs (SPEC §12): the edge half. `incidents` decides when a
//! check is repaired and records the order in the state; this module knows
//! how (a `repair.command`, or `launchctl kickstart -k` / `bootstrap` for a
//! LaunchAgent label with `restart = true`), runs the orders of one
//! heartbeat concurrently within what is left of its time budget, and writes
//! each outcome back into the check's state and the event log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::config::Config;
use crate::incidents::{Event, RepairOrder, RepairRule};
use crate::launchd::launchctl::{Launchctl, Probe};
use crate::proc::{self, SpawnError};
use crate::state::State;

/// How long one repair may run before its process group is killed.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// How far past `deadline_ms` a heartbeat's repairs may reach (SPEC §12).
pub const BUDGET_PAST_DEADLINE: Duration = Duration::from_secs(60);

/// The repair timeout: 60 s, or `OPS_ATOMIC_REPAIR_TIMEOUT_MS` (for tests).
pub fn timeout() -> Duration {
    std::env::var("OPS_ATOMIC_REPAIR_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(TIMEOUT, Duration::from_millis)
}

/// How a check is repaired.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `repair.command`: argv, no shell, the root as working directory.
    Command(Vec<String>),
    /// `[launchagents] restart = true`: kickstart or bootstrap this label.
    Restart(String),
}

/// A check's repair: when (for the decision) and how (for [`run`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Repairer {
    pub rule: RepairRule,
    pub action: Action,
}

/// Each repairable check by id. A `repair` table on a section applies to
/// every check of it; on `[launchagents]` its command wins over `restart`,
/// which otherwise restarts each failing label with the default budget.
pub fn book(cfg: &Config) -> HashMap<String, Repairer> {
    let mut book = HashMap::new();
    for (_, check) in cfg.checks() {
        if let Some(r) = check.common().repair {
            let rule = RepairRule { after: r.after, max_per_hour: r.max_per_hour };
            for who in check.idents() {
                book.insert(who.id, Repairer { rule, action: Action::Command(r.command.clone()) });
            }
        }
    }
    let la = &cfg.launchagents;
    if la.restart && la.repair.is_none() {
        let d = crate::checks::common::Repair::default();
        let rule = RepairRule { after: d.after, max_per_hour: d.max_per_hour };
        for label in &la.labels {
            book.insert(format!("launchagent:{label}"), Repairer { rule, action: Action::Restart(label.clone()) });
        }
    }
    book
}

/// One repair that ran (or could not).
#[derive(Debug, Clone)]
pub struct Done {
    pub order: RepairOrder,
    /// The command line, for people (`launchctl kickstart -k gui/501/com.x`).
    pub command: String,
    pub exit: Option<i32>,
    /// `exit 0`, `timed out after 60 s (killed)`, `could not run: …`.
    pub outcome: String,
    /// The tail of its output, scrubbed of secrets.
    pub output: String,
}

/// Runs the orders concurrently, each bounded by the repair timeout and by
/// `until` (the heartbeat's `deadline_ms` + 60 s); returns when all ended.
pub fn run(orders: &[RepairOrder], book: &HashMap<String, Repairer>, root: &Path, until: Instant) -> Vec<Done> {
    std::thread::scope(|s| {
        let handles: Vec<_> = orders
            .iter()
            .map(|order| {
                let action = book.get(&order.check).map(|r| r.action.clone());
                s.spawn(move || {
                    let limit = timeout().min(until.saturating_duration_since(Instant::now()));
                    match action {
                        Some(action) => run_one(order.clone(), &action, root, limit),
                        None => Done {
                            order: order.clone(),
                            command: String::new(),
                            exit: None,
                            outcome: "not run: the check has no repair configured any more".into(),
                            output: String::new(),
                        },
                    }
                })
            })
            .collect();
        handles.into_iter().zip(orders).map(|(h, o)| h.join().unwrap_or_else(|_| panicked(o))).collect()
    })
}

fn panicked(order: &RepairOrder) -> Done {
    Done {
        order: order.clone(),
        command: String::new(),
        exit: None,
        outcome: "not run: internal error".into(),
        output: String::new(),
    }
}

fn run_one(order: RepairOrder, action: &Action, root: &Path, limit: Duration) -> Done {
    let (program, args): (PathBuf, Vec<String>) = match action {
        Action::Command(argv) => {
            let Some((first, rest)) = argv.split_first() else {
                return not_run(order, String::new(), "not run: repair.command is empty");
            };
            (program_path(first, root), rest.to_vec())
        }
        Action::Restart(label) => match restart_call(label) {
            Ok(call) => call,
            Err(why) => return not_run(order, String::new(), &why),
        },
    };
    // Said as configured (or as launchctl), whatever path it resolved to.
    let shown = match action {
        Action::Command(argv) => argv[0].clone(),
        Action::Restart(_) => "launchctl".into(),
    };
    let command =
        crate::secret::scrub(&std::iter::once(shown).chain(args.iter().cloned()).collect::<Vec<_>>().join(" "));
    if limit.is_zero() {
        return not_run(order, command, "not run: the heartbeat's time for repairs was spent");
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    match proc::run(&program, &argv, Some(root), limit) {
        Ok(out) => {
            let both = format!("{}\n{}", out.stdout.trim_end(), out.stderr.trim_end());
            let output = crate::secret::scrub(&proc::tail(both.trim(), 10, 1000));
            let outcome = match out.code {
                _ if out.timed_out => format!("timed out after {} (killed)", seconds(limit)),
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            };
            Done { order, command, exit: if out.timed_out { None } else { out.code }, outcome, output }
        }
        Err(SpawnError::NotFound) => {
            not_run(order, command, &format!("could not run: {} not found", program.display()))
        }
        Err(SpawnError::Other(e)) => not_run(order, command, &format!("could not run {}: {e}", program.display())),
    }
}

fn not_run(order: RepairOrder, command: String, why: &str) -> Done {
    Done { order, command, exit: None, outcome: crate::secret::scrub(why), output: String::new() }
}

/// A program named with a relative path is found from the root, the repair's
/// working directory; a bare name is looked up on PATH.
fn program_path(first: &str, root: &Path) -> PathBuf {
    let p = Path::new(first);
    if p.is_relative() && first.contains('/') { root.join(p) } else { p.to_path_buf() }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

/// How to restart a label: `kickstart -k gui/<uid>/<label>` when it is
/// loaded, `bootstrap gui/<uid> <installed plist>` when it is installed in
/// the agents folder but not loaded.
fn restart_call(label: &str) -> Result<(PathBuf, Vec<String>), String> {
    let lc = Launchctl::detect().ok_or("could not run: launchctl not found on this system")?;
    match lc.probe(label) {
        Ok(Probe::Loaded(_)) => {
            Ok((lc.program().to_path_buf(), vec!["kickstart".into(), "-k".into(), lc.target(label)]))
        }
        Ok(Probe::NotLoaded) => {
            let arg = crate::cli::AgentsDirArg {
                agents_dir: std::env::var_os("OPS_ATOMIC_AGENTS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
            };
            let dir = crate::launchd::agent::agents_dir(&arg).map_err(|e| format!("not run: {}", e.0))?;
            let plist = dir.join(format!("{label}.plist"));
            if !plist.is_file() {
                return Err(format!("not run: not loaded, and no installed plist at {} to bootstrap", plist.display()));
            }
            Ok((lc.program().to_path_buf(), vec!["bootstrap".into(), lc.domain(), plist.display().to_string()]))
        }
        Err(e) => Err(format!("not run: {} failed: {}", e.command, e.message)),
    }
}

/// Writes the outcomes into the checks' states (the record the decision
/// made) and returns the `repair` events.
pub fn record(st: &mut State, done: &[Done]) -> Vec<Event> {
    let now = Utc::now();
    done.iter()
        .map(|d| {
            if let Some(rec) = st
                .checks
                .get_mut(&d.order.check)
                .and_then(|cs| cs.repairs.attempts.iter_mut().rev().find(|a| a.at == d.order.at))
            {
                rec.done_at = Some(now);
                rec.command = d.command.clone();
                rec.exit = d.exit;
                rec.outcome = Some(d.outcome.clone());
            }
            let what = if d.command.is_empty() { d.outcome.clone() } else { format!("`{}`: {}", d.command, d.outcome) };
            let mut e = Event::new(now, &d.order.check, &d.order.name, "repair", what);
            e.command = (!d.command.is_empty()).then(|| d.command.clone());
            e.exit = d.exit;
            e.output = (!d.output.is_empty()).then(|| d.output.clone());
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn order(at: DateTime<Utc>) -> RepairOrder {
        RepairOrder { check: "redis".into(), name: "Redis".into(), at }
    }

    #[test]
    fn a_command_runs_in_the_root_and_keeps_its_output_tail() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-repairs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let action = Action::Command(vec!["sh".into(), "-c".into(), "pwd; echo oops >&2; exit 3".into()]);
        let d = run_one(order(Utc::now()), &action, &dir, Duration::from_secs(5));
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!((d.exit, d.outcome.as_str()), (Some(3), "exit 3"));
        assert!(d.output.contains("ops-atomic-repairs") && d.output.contains("oops"), "{}", d.output);
        assert_eq!(d.command, "sh -c pwd; echo oops >&2; exit 3");
    }

    #[test]
    fn a_hung_command_is_cut_and_a_missing_one_is_said() {
        let hung = Action::Command(vec!["sleep".into(), "5".into()]);
        let d = run_one(order(Utc::now()), &hung, Path::new("/"), Duration::from_millis(100));
        assert_eq!(d.exit, None);
        assert!(d.outcome.starts_with("timed out after 0.1 s"), "{}", d.outcome);
        let missing = Action::Command(vec!["/nonexistent/fix".into()]);
        let d = run_one(order(Utc::now()), &missing, Path::new("/"), Duration::from_secs(1));
        assert_eq!(d.outcome, "could not run: /nonexistent/fix not found");
        let spent = run_one(order(Utc::now()), &hung, Path::new("/"), Duration::ZERO);
        assert!(spent.outcome.contains("time for repairs was spent"), "{}", spent.outcome);
    }

    #[test]
    fn outcomes_land_in_the_ordered_record_and_become_events() {
        let at = Utc::now();
        let mut st = State::default();
        st.checks.entry("redis".into()).or_default().repairs.attempts.push(crate::state::RepairRecord {
            at,
            done_at: None,
            command: String::new(),
            exit: None,
            outcome: None,
        });
        let done = Done {
            order: order(at),
            command: "brew services restart redis".into(),
            exit: Some(0),
            outcome: "exit 0".into(),
            output: "Successfully restarted".into(),
        };
        let events = record(&mut st, &[done]);
        let rec = &st.checks["redis"].repairs.attempts[0];
        assert_eq!((rec.exit, rec.outcome.as_deref()), (Some(0), Some("exit 0")));
        assert!(rec.done_at.is_some());
        assert_eq!(events[0].kind, "repair");
        assert_eq!(events[0].command.as_deref(), Some("brew services restart redis"));
        assert_eq!(events[0].message, "`brew services restart redis`: exit 0");
    }
}
