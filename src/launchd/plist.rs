//! The two agents' plists: built as a `plist::Dictionary` (never by pasting
//! strings), written as XML, and validated by parsing them back.
//!
//! launchd does not expand `~`, does not search PATH for the program and
//! starts jobs in `/` unless told otherwise: every path in a plist is
//! absolute, and one with a `~` is refused before anything is written.

use std::path::{Path, PathBuf};

use plist::Dictionary;
pub use plist::Value;

use crate::exit::Result;
use crate::fail;

/// When launchd starts the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// `StartInterval`: every N seconds (skipped while the Mac sleeps).
    Every(u64),
    /// `StartCalendarInterval`: every day at hour:minute.
    Daily { hour: u32, minute: u32 },
}

impl Schedule {
    pub fn describe(self) -> String {
        match self {
            Schedule::Every(s) => format!("every {s} s"),
            Schedule::Daily { hour, minute } => format!("daily at {hour:02}:{minute:02}"),
        }
    }
}

/// Everything a plist is made of; all paths absolute and canonical.
#[derive(Debug, Clone)]
pub struct Spec {
    pub label: String,
    pub binary: PathBuf,
    /// `heartbeat` or `daily`.
    pub subcommand: &'static str,
    pub root: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// PATH given to the job (from the config).
    pub path_env: String,
    /// The config file named with --config / OPS_ATOMIC_CONFIG, passed on.
    pub config_file: Option<PathBuf>,
    pub schedule: Schedule,
    /// `ExitTimeOut`: seconds launchd waits after SIGTERM before SIGKILL.
    pub exit_timeout_s: u64,
    /// `ProcessType`: `Standard` or `Background` (see [`process_type`]).
    pub process_type: &'static str,
}

/// `Standard` for the heartbeat: launchd may defer and throttle a
/// `Background` job for a long time on battery, and a monitor that runs
/// late or has its I/O throttled into timeouts is worse than its few
/// seconds of CPU every interval. The daily run can wait: `Background`.
pub fn process_type(schedule: Schedule) -> &'static str {
    match schedule {
        Schedule::Every(_) => "Standard",
        Schedule::Daily { .. } => "Background",
    }
}

impl Spec {
    /// Refuses `~` and relative paths: launchd would take them literally and
    /// the job would fail at every start with nothing but an exit code.
    pub fn check_paths(&self) -> Result<()> {
        let mut paths: Vec<(&str, &Path)> = vec![
            ("the ops-atomic binary", &self.binary),
            ("the root", &self.root),
            ("the log file", &self.stdout),
            ("the error log file", &self.stderr),
        ];
        if let Some(c) = &self.config_file {
            paths.push(("the config file", c));
        }
        for (what, p) in paths {
            check_path(what, p)?;
        }
        for dir in self.path_env.split(':').filter(|d| !d.is_empty()) {
            if dir.contains('~') || !dir.starts_with('/') {
                return Err(fail!(
                    "launchd.path entry {dir:?} is not an absolute path without `~`: launchd expands neither; write it out in full (e.g. /Users/you/bin)"
                ));
            }
        }
        Ok(())
    }
}

/// Refuses a path with `~` or a relative one, naming what it is and why.
pub fn check_path(what: &str, p: &Path) -> Result<()> {
    let shown = p.display();
    if p.to_string_lossy().contains('~') {
        return Err(fail!(
            "{what} {shown} contains `~`: launchd does not expand tildes, so the agent would fail at every start; use a folder without `~` in its absolute path"
        ));
    }
    if !p.is_absolute() {
        return Err(fail!("{what} {shown} is not an absolute path: launchd needs absolute paths"));
    }
    Ok(())
}

fn path_value(p: &Path) -> Value {
    Value::String(p.to_string_lossy().into_owned())
}

/// The plist as launchd reads it.
pub fn build(spec: &Spec) -> Value {
    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(spec.label.clone()));
    let args = vec![
        path_value(&spec.binary),
        Value::String(spec.subcommand.into()),
        Value::String("--root".into()),
        path_value(&spec.root),
    ];
    d.insert("ProgramArguments".into(), Value::Array(args));
    d.insert("WorkingDirectory".into(), path_value(&spec.root));
    d.insert("StandardOutPath".into(), path_value(&spec.stdout));
    d.insert("StandardErrorPath".into(), path_value(&spec.stderr));
    let mut env = Dictionary::new();
    env.insert("PATH".into(), Value::String(spec.path_env.clone()));
    if let Some(c) = &spec.config_file {
        env.insert("OPS_ATOMIC_CONFIG".into(), path_value(c));
    }
    d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
    match spec.schedule {
        Schedule::Every(s) => {
            d.insert("StartInterval".into(), Value::from(s));
        }
        Schedule::Daily { hour, minute } => {
            let mut cal = Dictionary::new();
            cal.insert("Hour".into(), Value::from(hour));
            cal.insert("Minute".into(), Value::from(minute));
            d.insert("StartCalendarInterval".into(), Value::Dictionary(cal));
        }
    }
    d.insert("RunAtLoad".into(), Value::Boolean(false));
    d.insert("ProcessType".into(), Value::String(spec.process_type.into()));
    d.insert("ExitTimeOut".into(), Value::from(spec.exit_timeout_s));
    Value::Dictionary(d)
}

/// The XML text of a plist.
pub fn to_xml(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    value.to_writer_xml(&mut out).map_err(|e| fail!("could not encode the plist: {e}"))?;
    out.push(b'\n');
    Ok(out)
}

/// Parses plist bytes (XML or binary).
pub fn parse(bytes: &[u8]) -> std::result::Result<Value, String> {
    Value::from_reader(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())
}

/// Reads and parses a plist file, with an error naming it.
pub fn read(path: &Path) -> Result<Value> {
    let bytes =
        std::fs::read(path).map_err(|e| fail!("could not read {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    parse(&bytes).map_err(|e| fail!("{} is not a valid plist: {e}", path.display()))
}

/// Checks what launchd needs of a parsed plist: the label, a program
/// argument list of absolute program path, a working directory and log
/// files that are absolute paths without `~`.
pub fn validate(value: &Value, label: &str) -> std::result::Result<(), String> {
    let d = value.as_dictionary().ok_or("the top level is not a dictionary")?;
    let text = |k: &str| d.get(k).and_then(Value::as_string);
    if text("Label") != Some(label) {
        return Err(format!("Label is not {label:?}"));
    }
    let args = d
        .get("ProgramArguments")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("ProgramArguments is missing or empty")?;
    let program = args[0].as_string().ok_or("ProgramArguments[0] is not a string")?;
    let mut paths = vec![("ProgramArguments[0]", program)];
    for key in ["WorkingDirectory", "StandardOutPath", "StandardErrorPath"] {
        paths.push((key, text(key).ok_or(format!("{key} is missing"))?));
    }
    for (key, p) in paths {
        if !p.starts_with('/') || p.contains('~') {
            return Err(format!("{key} = {p:?} is not an absolute path without `~`"));
        }
    }
    if d.get("StartInterval").is_none() && d.get("StartCalendarInterval").is_none() {
        return Err("neither StartInterval nor StartCalendarInterval is set".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schedule: Schedule, config: Option<&str>) -> Spec {
        Spec {
            label: "com.example.ops_atomic_monitor".into(),
            binary: "/usr/local/bin/ops-atomic".into(),
            subcommand: "heartbeat",
            root: "/Users/dev/repo".into(),
            stdout: "/Users/dev/repo/g/logs/ops_monitor.log".into(),
            stderr: "/Users/dev/repo/g/logs/ops_monitor.err".into(),
            path_env: "/usr/bin:/bin".into(),
            config_file: config.map(PathBuf::from),
            schedule,
            exit_timeout_s: 40,
            process_type: process_type(schedule),
        }
    }

    #[test]
    fn a_built_plist_round_trips_through_xml() {
        let v = build(&spec(Schedule::Every(300), None));
        let back = parse(&to_xml(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        validate(&back, "com.example.ops_atomic_monitor").unwrap();
        let d = back.as_dictionary().unwrap();
        assert_eq!(d.get("StartInterval").unwrap().as_unsigned_integer(), Some(300));
        assert_eq!(d.get("RunAtLoad").unwrap().as_boolean(), Some(false));
        assert_eq!(d.get("ExitTimeOut").unwrap().as_unsigned_integer(), Some(40));
        assert_eq!(d.get("ProcessType").unwrap().as_string(), Some("Standard"));
        let env = d.get("EnvironmentVariables").unwrap().as_dictionary().unwrap();
        assert!(env.get("OPS_ATOMIC_CONFIG").is_none());
    }

    #[test]
    fn the_daily_plist_has_a_calendar_interval_and_the_named_config() {
        let v = build(&spec(Schedule::Daily { hour: 2, minute: 5 }, Some("/etc/ops.toml")));
        let d = v.as_dictionary().unwrap();
        let cal = d.get("StartCalendarInterval").unwrap().as_dictionary().unwrap();
        assert_eq!(cal.get("Hour").unwrap().as_unsigned_integer(), Some(2));
        assert_eq!(cal.get("Minute").unwrap().as_unsigned_integer(), Some(5));
        let env = d.get("EnvironmentVariables").unwrap().as_dictionary().unwrap();
        assert_eq!(env.get("OPS_ATOMIC_CONFIG").unwrap().as_string(), Some("/etc/ops.toml"));
    }

    #[test]
    fn tildes_and_relative_paths_are_refused() {
        let mut s = spec(Schedule::Every(300), None);
        s.root = "/Users/dev/~repo".into();
        assert!(s.check_paths().unwrap_err().0.contains("does not expand tildes"));
        let mut s = spec(Schedule::Every(300), None);
        s.path_env = "~/bin:/usr/bin".into();
        assert!(s.check_paths().is_err());
        assert!(check_path("x", Path::new("rel/path")).is_err());
    }

    #[test]
    fn validation_names_the_bad_key() {
        let mut v = build(&spec(Schedule::Every(300), None));
        let d = v.as_dictionary_mut().unwrap();
        d.insert("WorkingDirectory".into(), Value::String("~/repo".into()));
        assert!(validate(&v, "com.example.ops_atomic_monitor").unwrap_err().contains("WorkingDirectory"));
        assert!(validate(&Value::Boolean(true), "x").is_err());
    }
}
