//! Calling launchctl and reading what it prints.
//!
//! Modern syntax first (`print`, `bootout`, `enable`, `bootstrap` on
//! `gui/<uid>`), legacy `list` / `load` / `unload` where a launchctl does not
//! know it (exit 64). Legacy `load` / `unload` exit 0 even when they fail, so
//! their result is never trusted: callers verify by listing.
//!
//! Apple documents `launchctl print` output as "NOT API": parsers here are
//! lenient and read only what they need.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::proc::{self, Outcome};

/// The launchctl program: `OPS_ATOMIC_LAUNCHCTL`, else `launchctl` on PATH.
/// `None` when there is none (Linux, or a stripped-down PATH).
pub fn program() -> Option<PathBuf> {
    match std::env::var_os("OPS_ATOMIC_LAUNCHCTL") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            p.is_file().then_some(p)
        }
        _ => crate::proc::which("launchctl"),
    }
}

/// One row of `launchctl list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub label: String,
    /// `None` when the job is not running (`-`).
    pub pid: Option<u32>,
    /// Last exit status; negative = killed by that signal. `None` for `-`.
    pub status: Option<i32>,
}

/// Parses the tab-separated table of `launchctl list` (header `PID Status Label`).
pub fn parse_list(text: &str) -> Vec<ListEntry> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split('\t').map(str::trim);
            let pid = cols.next()?;
            let status = cols.next()?;
            let label = cols.next()?;
            if label.is_empty() || (pid == "PID" && label == "Label") {
                return None;
            }
            Some(ListEntry { label: label.to_string(), pid: pid.parse().ok(), status: status.parse().ok() })
        })
        .collect()
}

/// What a job's last exit status means, in words.
pub fn describe_exit(status: i32) -> String {
    if status < 0 {
        let sig = -status;
        return match signal_name(sig) {
            Some(name) => format!("killed by signal {sig} ({name})"),
            None => format!("killed by signal {sig}"),
        };
    }
    match sysexit_name(status) {
        Some(name) => format!("exited {status} ({name})"),
        None => format!("exited {status}"),
    }
}

pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        9 => "SIGKILL",
        10 => "SIGBUS",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

pub fn sysexit_name(code: i32) -> Option<&'static str> {
    Some(match code {
        64 => "EX_USAGE",
        65 => "EX_DATAERR",
        66 => "EX_NOINPUT",
        67 => "EX_NOUSER",
        68 => "EX_NOHOST",
        69 => "EX_UNAVAILABLE",
        70 => "EX_SOFTWARE",
        71 => "EX_OSERR",
        72 => "EX_OSFILE",
        73 => "EX_CANTCREAT",
        74 => "EX_IOERR",
        75 => "EX_TEMPFAIL",
        76 => "EX_PROTOCOL",
        77 => "EX_NOPERM",
        78 => "EX_CONFIG",
        126 => "not executable",
        127 => "command not found",
        _ => return None,
    })
}

/// How long one launchctl call may take before it is killed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a booted-out job to disappear: `bootout` returns
/// before launchd has finished tearing the job down.
pub const GONE_TIMEOUT: Duration = Duration::from_secs(10);

/// The effective uid, for the `gui/<uid>` domain.
///
/// `libc` is not a dependency, and `/proc` does not exist on macOS: the
/// owner of a file this process has just created is its effective uid.
/// `id -u` is the fallback when the temp folder is not writable.
pub fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let probe = std::env::temp_dir().join(format!(".ops-atomic-uid-{}", std::process::id()));
    let owner = std::fs::File::create(&probe).and_then(|f| f.metadata()).map(|m| m.uid());
    let _ = std::fs::remove_file(&probe);
    owner.ok().or_else(|| {
        let out = proc::run(Path::new("id"), &["-u"], None, CALL_TIMEOUT).ok()?;
        out.stdout.trim().parse().ok()
    })
}

/// What launchd knows about a loaded job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    /// `running`, `not running`, ... (from `print`).
    pub state: Option<String>,
    pub pid: Option<u32>,
    /// Last exit status; negative = killed by that signal.
    pub last_exit: Option<i32>,
    /// The plist launchd loaded the job from.
    pub path: Option<String>,
    pub runs: Option<u64>,
}

impl From<&ListEntry> for JobInfo {
    fn from(e: &ListEntry) -> JobInfo {
        JobInfo {
            state: Some(if e.pid.is_some() { "running" } else { "not running" }.into()),
            pid: e.pid,
            last_exit: e.status,
            path: None,
            runs: None,
        }
    }
}

/// Reads the top-level (one-tab) `key = value` lines of `launchctl print`;
/// nested blocks repeat keys such as `state` and are skipped.
pub fn parse_print(text: &str) -> JobInfo {
    let mut job = JobInfo::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        if rest.starts_with(['\t', ' ']) {
            continue;
        }
        let Some((key, value)) = rest.split_once(" = ") else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "state" => job.state = Some(value.to_string()),
            "pid" => job.pid = value.parse().ok(),
            "path" => job.path = Some(value.to_string()),
            "runs" => job.runs = value.parse().ok(),
            "last exit code" => job.last_exit = leading_int(value),
            // e.g. "Terminated: 15"
            "last terminating signal" => {
                job.last_exit = value.rsplit(':').next().and_then(|n| n.trim().parse::<i32>().ok()).map(|s| -s)
            }
            _ => {}
        }
    }
    job
}

fn leading_int(s: &str) -> Option<i32> {
    let end =
        s.char_indices().find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-'))).map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

/// The error number in a launchctl message such as
/// `Bootstrap failed: 5: Input/output error`, else `None`.
pub fn error_number(stderr: &str) -> Option<i32> {
    stderr.lines().find_map(|line| {
        let (_, rest) = line.split_once("failed: ")?;
        leading_int(rest.trim())
    })
}

/// A launchctl call that failed, or could not be made.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The command line, e.g. `launchctl bootstrap gui/501 /path/x.plist`.
    pub command: String,
    /// The error number: from the message, else the exit code.
    pub code: Option<i32>,
    /// What launchctl said (first meaningful stderr line), or why it did not run.
    pub message: String,
}

impl CallError {
    /// One line for the user: the command, launchctl's words, what they mean
    /// and what to do. `agent` is `monitor` or `daily`, for the commands in the fix.
    pub fn explain(&self, agent: &str, target: &str) -> String {
        let (meaning, fix) = decode(self.code, agent, target);
        // "Bootstrap failed: 5: Input/output error" -> "5: Input/output error"
        let said = match self.message.split_once("failed: ") {
            Some((_, rest)) => rest.to_string(),
            None => match self.code {
                Some(c) if !self.message.starts_with(&c.to_string()) => {
                    format!("{c}: {}", self.message)
                }
                _ => self.message.clone(),
            },
        };
        crate::secret::scrub(&format!("{} failed: {said} — {meaning}: {fix}", self.command))
    }
}

impl CallError {
    /// A legacy `load` / `unload` that left the job in the wrong state: its
    /// stderr (e.g. `Load failed: 5: Input/output error`) is all there is.
    pub fn from_legacy(command: String, stderr: &str, fallback: &str) -> CallError {
        let message = if stderr.trim().is_empty() { fallback.to_string() } else { first_line(stderr, "", None) };
        CallError { command, code: error_number(stderr), message }
    }
}

/// What launchd's error number means, and what to do about it.
pub fn decode(code: Option<i32>, agent: &str, target: &str) -> (String, String) {
    let retry = format!("run `ops-atomic disable {agent}`, then `ops-atomic enable {agent}` again");
    let (meaning, fix) = match code {
        Some(5) => (
            "the job is already loaded, still being torn down, or disabled",
            format!("{retry} (a label disabled with `launchctl disable` needs `launchctl enable {target}`)"),
        ),
        Some(3) => (
            "no such process: the job is not loaded",
            "nothing to unload; `ops-atomic status` shows what is loaded".into(),
        ),
        Some(36) | Some(37) => (
            "the previous bootout is still in progress",
            format!("wait a few seconds, then run `ops-atomic enable {agent}` again"),
        ),
        Some(113) => ("launchd does not know this label (not loaded)", format!("run `ops-atomic enable {agent}`")),
        Some(125) => (
            "the gui domain does not support this action, which happens over SSH or outside the user's logged-in GUI session",
            "run the command from Terminal in the logged-in GUI session of this user (not over SSH, not with sudo)"
                .into(),
        ),
        Some(64) => (
            "launchctl did not recognise the command",
            "this launchctl may predate the modern syntax; ops-atomic falls back to load/unload where it can".into(),
        ),
        Some(2) => (
            "the plist file does not exist",
            format!("check the agents folder, then run `ops-atomic enable {agent}` again"),
        ),
        Some(1) | Some(77) | Some(150) => (
            "operation not permitted",
            "run as the logged-in user, not with sudo, and make sure that user owns the plist".into(),
        ),
        Some(122) => (
            "the plist has bad ownership or permissions",
            "the installed plist must be owned by you and not writable by group or others (chmod 644)".into(),
        ),
        Some(n) => {
            return (
                format!("launchctl error {n}"),
                format!("`launchctl error {n}` describes it; then run `ops-atomic enable {agent}` again"),
            );
        }
        None => (
            "launchctl did not answer or could not be run",
            format!("check that `launchctl print {target}` works in this session"),
        ),
    };
    (meaning.to_string(), fix)
}

/// Whether launchd has the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Loaded(JobInfo),
    NotLoaded,
}

/// How a call was carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Modern,
    /// The legacy command ran; its stderr, since its exit code means nothing.
    Legacy(String),
    /// This launchctl has no such step (legacy `enable`).
    Skipped,
}

/// A launchctl program acting on the `gui/<uid>` domain.
pub struct Launchctl {
    program: PathBuf,
    uid: u32,
    /// `print` turned out unknown: probe with `list` from then on.
    legacy_print: Cell<bool>,
}

impl Launchctl {
    pub fn new(program: PathBuf, uid: u32) -> Launchctl {
        Launchctl { program, uid, legacy_print: Cell::new(false) }
    }

    /// The system's launchctl ([`program`]) for this user; `None` without one.
    pub fn detect() -> Option<Launchctl> {
        let program = program()?;
        let uid = current_uid()?;
        Some(Launchctl::new(program, uid))
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `gui/<uid>`.
    pub fn domain(&self) -> String {
        format!("gui/{}", self.uid)
    }

    /// `gui/<uid>/<label>`.
    pub fn target(&self, label: &str) -> String {
        format!("gui/{}/{label}", self.uid)
    }

    fn command_line(args: &[&str]) -> String {
        format!("launchctl {}", args.join(" "))
    }

    /// Runs launchctl; a timeout or a spawn failure is an error, any exit code is not.
    fn call(&self, args: &[&str]) -> Result<Outcome, CallError> {
        let fail = |message: String| CallError { command: Self::command_line(args), code: None, message };
        let out = proc::run(&self.program, args, None, CALL_TIMEOUT)
            .map_err(|e| fail(format!("could not run {}: {e}", self.program.display())))?;
        if out.timed_out {
            return Err(fail(format!("no answer within {} s", CALL_TIMEOUT.as_secs())));
        }
        Ok(out)
    }

    /// Turns a non-zero exit into a [`CallError`].
    fn checked(args: &[&str], out: Outcome) -> Result<Outcome, CallError> {
        if out.success() {
            return Ok(out);
        }
        Err(CallError {
            command: Self::command_line(args),
            code: error_number(&out.stderr).or(out.code),
            message: first_line(&out.stderr, &out.stdout, out.code),
        })
    }

    /// Whether the job is loaded: `print` (exit 113 = not loaded), else the
    /// `list` table when `print` is unknown or fails otherwise.
    pub fn probe(&self, label: &str) -> Result<Probe, CallError> {
        if !self.legacy_print.get() {
            let target = self.target(label);
            let args = ["print", target.as_str()];
            let out = self.call(&args)?;
            match error_number(&out.stderr).or(out.code) {
                Some(0) => return Ok(Probe::Loaded(parse_print(&out.stdout))),
                Some(113) => return Ok(Probe::NotLoaded),
                // The domain itself is refused (SSH): `list` would answer
                // for the wrong session, so say so instead.
                Some(125) => return Self::checked(&args, out).map(|_| Probe::NotLoaded),
                // Unknown subcommand or any other trouble with `print`
                // (whose output is "NOT API"): the list table decides.
                _ => self.legacy_print.set(true),
            }
        }
        let entries = self.list()?;
        Ok(match entries.iter().find(|e| e.label == label) {
            Some(e) => Probe::Loaded(JobInfo::from(e)),
            None => Probe::NotLoaded,
        })
    }

    /// The `launchctl list` table.
    pub fn list(&self) -> Result<Vec<ListEntry>, CallError> {
        let out = Self::checked(&["list"], self.call(&["list"])?)?;
        Ok(parse_list(&out.stdout))
    }

    /// Unloads the job: `bootout gui/<uid>/<label>`, else legacy `unload
    /// <plist>`. "Not loaded" (3, 113) counts as done, and so does "Operation
    /// now in progress" (36: an earlier bootout is still tearing the job
    /// down); the caller waits until the job is gone either way.
    pub fn bootout(&self, label: &str, plist: Option<&Path>) -> Result<Via, CallError> {
        let target = self.target(label);
        let args = ["bootout", target.as_str()];
        let out = self.call(&args)?;
        if out.success() || matches!(error_number(&out.stderr).or(out.code), Some(3 | 36 | 113)) {
            return Ok(Via::Modern);
        }
        if !is_unknown(&out) {
            return Self::checked(&args, out).map(|_| Via::Modern);
        }
        let legacy = match plist {
            Some(p) => vec!["unload".to_string(), p.to_string_lossy().into_owned()],
            None => vec!["remove".to_string(), label.to_string()],
        };
        let legacy: Vec<&str> = legacy.iter().map(String::as_str).collect();
        let out = self.call(&legacy)?;
        Ok(Via::Legacy(out.stderr))
    }

    /// Polls until the job is gone; `Ok(false)` when it is still there after `timeout`.
    pub fn wait_gone(&self, label: &str, timeout: Duration) -> Result<bool, CallError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if self.probe(label)? == Probe::NotLoaded {
                return Ok(true);
            }
            if start.elapsed() >= timeout {
                return Ok(false);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// `launchctl enable gui/<uid>/<label>`: clears a `launchctl disable`
    /// that would make bootstrap fail with 5. Legacy launchctl has no such
    /// step (`load -w` does it).
    pub fn enable(&self, label: &str) -> Result<Via, CallError> {
        let target = self.target(label);
        let args = ["enable", target.as_str()];
        let out = self.call(&args)?;
        if is_unknown(&out) {
            return Ok(Via::Skipped);
        }
        Self::checked(&args, out).map(|_| Via::Modern)
    }

    /// `launchctl bootstrap gui/<uid> <plist>`, else legacy `load -w <plist>`
    /// (whose exit code means nothing: verify with [`Launchctl::probe`]).
    pub fn bootstrap(&self, plist: &Path) -> Result<Via, CallError> {
        let domain = self.domain();
        let file = plist.to_string_lossy();
        let args = ["bootstrap", domain.as_str(), file.as_ref()];
        let out = self.call(&args)?;
        if !is_unknown(&out) {
            return Self::checked(&args, out).map(|_| Via::Modern);
        }
        let out = self.call(&["load", "-w", file.as_ref()])?;
        Ok(Via::Legacy(out.stderr))
    }
}

/// launchctl did not know the subcommand (or this form of it): exit 64 or a usage text.
fn is_unknown(out: &Outcome) -> bool {
    if out.success() {
        return false;
    }
    let err = out.stderr.to_ascii_lowercase();
    out.code == Some(64)
        || err.contains("unrecognized subcommand")
        || err.contains("unknown subcommand")
        || err.starts_with("usage:")
}

/// The first line worth showing: skips launchctl's "Bad request." and its
/// "Try re-running the command as root" advice.
fn first_line(stderr: &str, stdout: &str, code: Option<i32>) -> String {
    let useful = |l: &&str| {
        let l = l.trim();
        !l.is_empty() && l != "Bad request." && !l.starts_with("Try re-running")
    };
    stderr
        .lines()
        .find(useful)
        .or_else(|| stdout.lines().find(useful))
        .map(|l| crate::secret::scrub(l.trim()))
        .unwrap_or_else(|| match code {
            Some(c) => format!("exit {c}"),
            None => "no exit code".into(),
        })
}

/// What an ops-atomic agent's last exit status means (SPEC §1): 2 is a
/// CRITICAL finding of a working monitor, not a broken monitor.
pub fn describe_agent_exit(status: i32, daily: bool) -> String {
    let run = if daily { "daily run" } else { "heartbeat" };
    match status {
        0 => "HEALTHY".into(),
        1 => format!("WARNINGS (the last {run} found warnings)"),
        2 => format!(
            "CRITICAL (the {} works; the last {run} found a critical problem)",
            if daily { "daily agent" } else { "monitor" }
        ),
        3 => "tool failure: ops-atomic could not do its job (see the .err log)".into(),
        _ => describe_exit(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "PID\tStatus\tLabel\n-\t0\tcom.apple.CoreAuthentication.daemon\n-\t0\tcom.02luka.optimizer\n-\t78\tcom.02luka.digest\n279\t0\tcom.apple.Finder\n-\t-15\tcom.02luka.killed\n4521\t0\tcom.02luka.ops_atomic_monitor\n";

    #[test]
    fn list_fixture_parses() {
        let e = parse_list(LIST);
        assert_eq!(e.len(), 6);
        assert_eq!(e[2], ListEntry { label: "com.02luka.digest".into(), pid: None, status: Some(78) });
        assert_eq!(e[4].status, Some(-15));
        assert_eq!(e[5].pid, Some(4521));
    }

    const PRINT_RUNNING: &str = include_str!("../../tests/fixtures/launchctl/print_running.txt");
    const PRINT_NOT_RUNNING: &str = include_str!("../../tests/fixtures/launchctl/print_not_running.txt");

    #[test]
    fn print_of_a_running_job_parses() {
        let j = parse_print(PRINT_RUNNING);
        assert_eq!(j.state.as_deref(), Some("running"));
        assert_eq!(j.pid, Some(16090));
        assert_eq!(j.last_exit, Some(0));
        assert_eq!(j.runs, Some(2));
        assert_eq!(j.path.as_deref(), Some("/Users/dev/Library/LaunchAgents/com.02luka.ops_atomic_monitor.plist"));
    }

    #[test]
    fn print_reads_top_level_lines_only() {
        // The nested `state`/`service` lines of event triggers must not win.
        let j = parse_print(PRINT_NOT_RUNNING);
        assert_eq!(j.state.as_deref(), Some("not running"));
        assert_eq!(j.pid, None);
        assert_eq!(j.last_exit, Some(78));
        let j = parse_print("x = {\n\tlast terminating signal = Terminated: 15\n}\n");
        assert_eq!(j.last_exit, Some(-15));
        assert_eq!(parse_print("garbage\n\tlast exit code = (never exited)\n").last_exit, None);
    }

    #[test]
    fn error_numbers_come_from_the_message() {
        let err = "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.\n";
        assert_eq!(error_number(err), Some(5));
        assert_eq!(error_number("Boot-out failed: 36: Operation now in progress"), Some(36));
        assert_eq!(error_number("Domain does not support specified action"), None);
        assert_eq!(first_line(err, "", Some(5)), "Bootstrap failed: 5: Input/output error");
        assert_eq!(
            first_line("Bad request.\nCould not find service \"x\" in domain for user gui: 501\n", "", Some(113)),
            "Could not find service \"x\" in domain for user gui: 501"
        );
    }

    #[test]
    fn errors_are_explained_with_a_fix() {
        let e = CallError {
            command: "launchctl bootstrap gui/501 /x.plist".into(),
            code: Some(5),
            message: "Bootstrap failed: 5: Input/output error".into(),
        };
        let text = e.explain("monitor", "gui/501/com.x");
        assert!(
            text.starts_with(
                "launchctl bootstrap gui/501 /x.plist failed: 5: Input/output error — the job is already loaded"
            ),
            "{text}"
        );
        assert!(text.contains("ops-atomic disable monitor"), "{text}");
        let e = CallError {
            command: "launchctl print gui/501/com.x".into(),
            code: Some(125),
            message: "Domain does not support specified action".into(),
        };
        let text = e.explain("daily", "gui/501/com.x");
        assert!(text.contains("125: Domain does not support"), "{text}");
        assert!(text.contains("not over SSH"), "{text}");
        assert!(decode(Some(999), "daily", "t").1.contains("launchctl error 999"));
    }

    #[test]
    fn agent_exits_follow_the_nagios_codes() {
        assert_eq!(describe_agent_exit(0, false), "HEALTHY");
        assert!(describe_agent_exit(2, false).contains("the monitor works"));
        assert!(describe_agent_exit(3, true).contains("tool failure"));
        assert_eq!(describe_agent_exit(78, false), "exited 78 (EX_CONFIG)");
    }

    #[test]
    fn exit_statuses_are_described() {
        assert_eq!(describe_exit(78), "exited 78 (EX_CONFIG)");
        assert_eq!(describe_exit(-15), "killed by signal 15 (SIGTERM)");
        assert_eq!(describe_exit(1), "exited 1");
    }
}
