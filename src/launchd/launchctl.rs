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
            // Only table rows: `list <label>` prints a dictionary instead, whose
            // nested lines must not read as jobs.
            let number = |c: &str| c == "-" || c.trim_start_matches('-').parse::<u32>().is_ok();
            if label.is_empty() || !number(pid) || !number(status) || label.contains(['"', ' ', ';']) {
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
        8 => "SIGFPE",
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
pub fn current_uid() -> Option<u32> {
    // SAFETY: geteuid(2) takes no arguments, cannot fail and touches no memory.
    Some(unsafe { libc::geteuid() })
}

/// What launchd knows about a loaded job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobInfo {
    /// `running`, `not running`, `spawn scheduled`, `xpcproxy`, ... (from `print`).
    pub state: Option<String>,
    /// `job state = spawn failed` (newer macOS), when printed.
    pub job_state: Option<String>,
    pub pid: Option<u32>,
    /// Last exit status; negative = killed by that signal.
    pub last_exit: Option<i32>,
    /// `last exit reason = OS_REASON_CODESIGNING`: launchd's own reason, when
    /// it (not the program) ended or refused the job.
    pub last_exit_reason: Option<String>,
    /// The plist launchd loaded the job from (`path =`).
    pub path: Option<String>,
    pub runs: Option<u64>,
    /// The job's `arguments` block: the program and its arguments.
    pub arguments: Vec<String>,
}

impl From<&ListEntry> for JobInfo {
    fn from(e: &ListEntry) -> JobInfo {
        JobInfo {
            state: Some(if e.pid.is_some() { "running" } else { "not running" }.into()),
            pid: e.pid,
            last_exit: e.status,
            ..JobInfo::default()
        }
    }
}

/// Why launchd could not start a job, in words, with the likely causes and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpawnProblem {
    /// What launchd said, e.g. `job state = spawn failed, last exit code = 78`.
    pub said: String,
    pub meaning: String,
    pub fix: String,
}

impl JobInfo {
    /// Running now: `state = running`, or `xpcproxy` (launchd is spawning it).
    pub fn is_running(&self) -> bool {
        match self.state.as_deref() {
            Some(s) => s == "running" || s == "xpcproxy",
            None => self.pid.is_some(),
        }
    }

    /// The `--root` the job was started with, from its `arguments`.
    pub fn root_argument(&self) -> Option<&str> {
        let at = self.arguments.iter().position(|a| a == "--root")?;
        self.arguments.get(at + 1).map(String::as_str)
    }

    /// launchd could not start the job at all: `job state = spawn failed`, a
    /// `last exit reason` of launchd's own, or exit 78 (EX_CONFIG), which
    /// launchd reports when it cannot spawn a job and ops-atomic never exits
    /// with itself. `binary` is the program the plist names, for the fix.
    pub fn spawn_problem(&self, binary: Option<&str>) -> Option<SpawnProblem> {
        let mut said = Vec::new();
        if let Some(s) = &self.state
            && s.starts_with("spawn")
        {
            said.push(format!("state = {s}"));
        }
        if let Some(s) = &self.job_state
            && s.contains("fail")
        {
            said.push(format!("job state = {s}"));
        }
        let reason = self.last_exit_reason.as_deref();
        if let Some(r) = reason {
            said.push(format!("last exit reason = {r}"));
        }
        if self.last_exit == Some(78) {
            said.push("last exit code = 78: EX_CONFIG".into());
        }
        let failed = self.job_state.as_deref().is_some_and(|s| s.contains("fail"))
            || reason.is_some()
            || self.last_exit == Some(78);
        if !failed {
            return None;
        }
        let program = binary.unwrap_or("the program in the plist");
        let (meaning, fix) = if reason.is_some_and(|r| r.contains("CODESIGNING")) {
            (
                "launchd could not start it: macOS refused the program's code signature (a binary copied or rebuilt after it was signed, or quarantined)".to_string(),
                format!(
                    "reinstall the binary (`cargo install --path .`), check it with `codesign --verify --verbose {program}`, then run `ops-atomic enable`"
                ),
            )
        } else if let Some(r) = reason {
            (
                format!("launchd could not start it ({r})"),
                format!("check that {program} exists and runs from Terminal, then run `ops-atomic enable`"),
            )
        } else {
            (
                "launchd could not start it (ops-atomic never exits 78 itself): the binary was moved or removed (`cargo clean` removes target/), the working directory or the log folder is missing, or code signing refused it".to_string(),
                format!(
                    "check that {program} exists (`ls -l {program}`; `cargo install --path .` puts it where cargo cannot remove it), then run `ops-atomic enable`, which rewrites the plist and creates g/logs"
                ),
            )
        };
        Some(SpawnProblem { said: said.join(", "), meaning, fix })
    }
}

/// Reads the top-level (one-tab) `key = value` lines of `launchctl print`
/// and its `arguments` block; other nested blocks repeat keys such as
/// `state` and are skipped.
pub fn parse_print(text: &str) -> JobInfo {
    let mut job = JobInfo::default();
    let mut in_arguments = false;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('\t') else {
            continue;
        };
        if in_arguments {
            match rest.strip_prefix('\t') {
                Some(arg) => job.arguments.push(arg.trim().to_string()),
                None => in_arguments = false,
            }
            continue;
        }
        if rest.starts_with(['\t', ' ']) {
            continue;
        }
        if rest.trim_end() == "arguments = {" {
            in_arguments = true;
            continue;
        }
        let Some((key, value)) = rest.split_once(" = ") else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "state" => job.state = Some(value.to_string()),
            "job state" => job.job_state = Some(value.to_string()),
            "pid" => job.pid = value.parse().ok(),
            // `(submitted by smd.553)` is not a file.
            "path" => job.path = Some(value.to_string()),
            "runs" => job.runs = value.parse().ok(),
            "last exit code" => job.last_exit = leading_int(value),
            "last exit reason" => job.last_exit_reason = Some(value.to_string()),
            // e.g. "Terminated: 15"
            "last terminating signal" => {
                job.last_exit = value.rsplit(':').next().and_then(|n| n.trim().parse::<i32>().ok()).map(|s| -s)
            }
            _ => {}
        }
    }
    job
}

/// The labels `launchctl print-disabled <domain>` lists as disabled.
pub fn parse_disabled(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (label, state) = l.trim().split_once(" => ")?;
            (state.trim() == "disabled" || state.trim() == "true").then(|| label.trim().trim_matches('"').to_string())
        })
        .collect()
}

fn leading_int(s: &str) -> Option<i32> {
    let end =
        s.char_indices().find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-'))).map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

/// The error number in a launchctl message such as `Bootstrap failed: 5:
/// Input/output error`, `Could not kickstart service "x": 125: Domain …` or
/// `77: No locks available`, else `None`.
pub fn error_number(stderr: &str) -> Option<i32> {
    stderr.lines().find_map(|line| {
        let line = line.trim();
        // "<n>: words" at the start, or ": <n>: words" inside.
        std::iter::once(line).chain(line.match_indices(": ").map(|(i, _)| &line[i + 2..])).find_map(|rest| {
            let (n, words) = rest.split_once(": ")?;
            (!words.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse().ok())?
        })
    })
}

/// The domain itself is missing: no GUI session for this user.
fn is_no_domain(stderr: &str) -> bool {
    stderr.contains("Could not find domain for")
}

/// A launchctl call that failed, or could not be made.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The command line, e.g. `launchctl bootstrap gui/501 /path/x.plist`.
    pub command: String,
    /// The error number: from the message, else the exit code.
    pub code: Option<i32>,
    /// What launchctl said (its meaningful stderr lines), or why it did not run.
    pub message: String,
    /// `launchctl error <code>`'s words, for a number the table below does not know.
    pub described: Option<String>,
}

impl CallError {
    /// One line for the user: the command, launchctl's words, what they
    /// mean and what to do. `agent` is `monitor` or `daily`, `target`
    /// `gui/<uid>/<label>`, for the commands in the fix.
    pub fn explain(&self, agent: &str, target: &str) -> String {
        let verb = self.command.split_whitespace().nth(1).unwrap_or("");
        let (mut meaning, mut fix) = decode(self.code, verb, agent, target);
        if let (Some(d), true) = (&self.described, meaning == UNKNOWN) {
            // `launchctl error` has been asked already: its words, without the number.
            let words = d.split_once(": ").map_or(d.as_str(), |(_, w)| w);
            if !self.message.contains(words) {
                meaning = format!("{meaning} (`launchctl error` reads it as \"{words}\")");
            }
            fix = format!("`launchctl print {target}` shows what launchd knows of the job");
        }
        // The number once: in launchctl's words when they hold it, else as the exit code.
        let said = match self.code {
            Some(c) if !self.message.contains(&format!("{c}: ")) && !self.message.starts_with("exit ") => {
                format!("(exit {c}) {}", self.message)
            }
            _ => self.message.clone(),
        };
        crate::secret::scrub(&format!("`{}` failed: {said} — {meaning}. Fix: {fix}", self.command))
    }

    /// A legacy `load` / `unload` that left the job in the wrong state: its
    /// stderr (e.g. `Load failed: 5: Input/output error`) is all there is.
    pub fn from_legacy(command: String, stderr: &str, fallback: &str) -> CallError {
        let message = if stderr.trim().is_empty() { fallback.to_string() } else { said(stderr, "", None) };
        CallError { command, code: error_number(stderr), message, described: None }
    }

    /// "No GUI session for this user": the whole `gui/<uid>` domain is refused.
    pub fn is_no_session(&self) -> bool {
        matches!(self.code, Some(112 | 125)) || is_no_domain(&self.message)
    }
}

/// The meaning of a number [`decode`] has no advice for.
const UNKNOWN: &str = "an error ops-atomic has no specific advice for";

/// What launchd's error number means after `verb` (`bootstrap`, `bootout`,
/// `print`, `load`, ...), and a fix that does not repeat what ops-atomic did.
pub fn decode(code: Option<i32>, verb: &str, agent: &str, target: &str) -> (String, String) {
    let domain = target.rsplit_once('/').map_or(target, |(d, _)| d);
    let unloading = matches!(verb, "bootout" | "unload" | "remove");
    let no_session = (
        "no GUI session for this user: gui/<uid> exists only while this user is logged in at the screen, so launchctl refuses it over SSH, under sudo, or as another user".to_string(),
        "run the same ops-atomic command from Terminal in this user's logged-in desktop session (not over SSH, not with sudo)".to_string(),
    );
    let (meaning, fix): (&str, String) = match code {
        Some(5) if unloading => (
            "launchd could not unload the job: it may belong to another session or be in a state launchd will not leave",
            format!("run `sudo launchctl bootout {target}` for launchd's full reason, or log out and back in (launchd then drops the job)"),
        ),
        Some(5) => (
            "launchd refused the plist, although ops-atomic had booted out and enabled the label first: usually the plist is not owned by you or is writable by group or others, or the same label is loaded from another plist",
            format!("check `ls -l` of the plist (owner you, mode 644) and `launchctl print {target}`; `sudo launchctl bootstrap {domain} <plist>` prints launchd's full reason"),
        ),
        Some(3) => ("no such process: the job is not loaded", "nothing to unload; `ops-atomic status` shows what is loaded".into()),
        Some(36) => (
            "an earlier bootout is still tearing the job down",
            format!("wait a few seconds until `launchctl print {target}` answers 113 (not found)"),
        ),
        Some(37) => (
            "launchd already has this label loaded, or is still loading it (another `enable` or `launchctl` running at the same time)",
            format!("`launchctl print {target}` shows the plist (`path =`) it was loaded from; wait for the other command to finish"),
        ),
        Some(113) => ("launchd does not know this label (not loaded)", format!("`ops-atomic enable {agent}` loads it")),
        Some(112 | 125) => return no_session,
        // `enable` has just run `launchctl enable` (legacy: `load -w`), so the switch left is the user's.
        Some(119) if matches!(verb, "bootstrap" | "load") => (
            "the service is disabled although ops-atomic had just cleared `launchctl disable`: it is switched off in System Settings → General → Login Items & Extensions (Allow in the Background)",
            format!("switch it on there (it may be listed under the binary's name, ops-atomic), then run `ops-atomic enable {agent}` again"),
        ),
        Some(119) => (
            "the service is disabled: switched off in System Settings → General → Login Items & Extensions (Allow in the Background), or by `launchctl disable`",
            format!("switch it on under Allow in the Background; `launchctl print-disabled {domain}` lists labels turned off with `launchctl disable`, which `launchctl enable {target}` turns back on"),
        ),
        Some(122) => (
            "launchd refuses a plist (or folder) with bad ownership or permissions: it must be owned by you and not writable by group or others",
            "`chmod 644` the plist, `chown $(whoami)` it, and `chmod go-w` the agents folder".into(),
        ),
        Some(134) => (
            "the service cannot load in the requested session: the plist limits it to another session type (LimitLoadToSessionType), or this is not the user's desktop session",
            "run it from Terminal in the logged-in desktop session (not over SSH); ops-atomic's plists set no LimitLoadToSessionType, so remove one added by hand".into(),
        ),
        Some(150) => (
            "System Integrity Protection protects this job: it is part of macOS, not an ops-atomic agent",
            "check the label: ops-atomic's labels come from `launchd.label_prefix`, which must not name an Apple service".into(),
        ),
        Some(2) => ("the plist file does not exist", "check the agents folder (`--agents-dir`)".into()),
        Some(1) => (
            "operation not permitted",
            "run as the logged-in user, not with sudo, and make sure that user owns the plist".into(),
        ),
        Some(64) => (
            "launchctl did not recognise the command",
            "this launchctl predates the modern syntax; ops-atomic falls back to load/unload where it can".into(),
        ),
        Some(n) => {
            return (
                UNKNOWN.to_string(),
                format!("`launchctl error {n}` describes it; `launchctl print {target}` shows what launchd knows of the job"),
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
    /// The modern command succeeded; what it said on stderr, if anything.
    Modern(String),
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
        let fail =
            |message: String| CallError { command: Self::command_line(args), code: None, message, described: None };
        let out = proc::run(&self.program, args, None, CALL_TIMEOUT)
            .map_err(|e| fail(format!("could not run {}: {e}", self.program.display())))?;
        if out.timed_out {
            return Err(fail(format!("no answer within {} s", CALL_TIMEOUT.as_secs())));
        }
        Ok(out)
    }

    /// Turns a non-zero exit into a [`CallError`]; a number the table in
    /// [`decode`] does not know is looked up with `launchctl error <n>`.
    fn checked(&self, args: &[&str], out: Outcome) -> Result<Outcome, CallError> {
        if out.success() {
            return Ok(out);
        }
        let code = error_number(&out.stderr).or(out.code);
        let command = Self::command_line(args);
        let verb = args.first().copied().unwrap_or("");
        let described = match code {
            Some(n) if decode(Some(n), verb, "", "").0 == UNKNOWN => self.error_text(n),
            _ => None,
        };
        Err(CallError { command, code, message: said(&out.stderr, &out.stdout, out.code), described })
    }

    /// `launchctl error <n>`: `77: No locks available`.
    pub fn error_text(&self, n: i32) -> Option<String> {
        let n = n.to_string();
        let out = self.call(&["error", n.as_str()]).ok()?;
        let text = out.stdout.lines().map(str::trim).find(|l| !l.is_empty())?.to_string();
        (out.success() && text.starts_with(&format!("{n}: "))).then_some(text)
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
                // No GUI session for this user (SSH, sudo, another user):
                // `list` would answer for some other session, so say so instead.
                Some(112 | 125) => return self.checked(&args, out).map(|_| Probe::NotLoaded),
                _ if is_no_domain(&out.stderr) => return self.checked(&args, out).map(|_| Probe::NotLoaded),
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
        let out = self.checked(&["list"], self.call(&["list"])?)?;
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
            return Ok(Via::Modern(out.stderr));
        }
        if !is_unknown(&out) {
            return self.checked(&args, out).map(|o| Via::Modern(o.stderr));
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
        self.checked(&args, out).map(|o| Via::Modern(o.stderr))
    }

    /// `launchctl bootstrap gui/<uid> <plist>`, else legacy `load -w <plist>`
    /// (whose exit code means nothing: verify with [`Launchctl::probe`]).
    pub fn bootstrap(&self, plist: &Path) -> Result<Via, CallError> {
        let domain = self.domain();
        let file = plist.to_string_lossy();
        let args = ["bootstrap", domain.as_str(), file.as_ref()];
        let out = self.call(&args)?;
        if !is_unknown(&out) {
            return self.checked(&args, out).map(|o| Via::Modern(o.stderr));
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

/// launchctl's own words worth showing, joined with "; ": skips its "Bad
/// request." and its "Try re-running … as root" advice (the fix says when
/// that helps).
fn said(stderr: &str, stdout: &str, code: Option<i32>) -> String {
    let useful = |l: &&str| {
        let l = l.trim();
        !l.is_empty() && l != "Bad request." && !l.starts_with("Try re-running") && !l.starts_with("Try running")
    };
    let lines: Vec<&str> = stderr.lines().filter(useful).map(str::trim).collect();
    let lines = if lines.is_empty() { stdout.lines().filter(useful).map(str::trim).take(1).collect() } else { lines };
    if lines.is_empty() {
        return match code {
            Some(c) => format!("exit {c}"),
            None => "no exit code".into(),
        };
    }
    crate::secret::scrub(&lines.join("; "))
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
        78 => "EX_CONFIG: launchd could not start it (ops-atomic itself never exits with this code)".into(),
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

    /// A real launchctl answer from tests/fixtures/launchctl/real/<name>/.
    fn real(name: &str, file: &str) -> String {
        let path = format!("{}/tests/fixtures/launchctl/real/{name}/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn error_numbers_come_from_the_message() {
        let err = "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.\n";
        assert_eq!(error_number(err), Some(5));
        assert_eq!(error_number("Boot-out failed: 36: Operation now in progress"), Some(36));
        assert_eq!(error_number("Domain does not support specified action"), None);
        assert_eq!(error_number(&real("b12-kickstart-125-macos26", "stderr")), Some(125));
        assert_eq!(error_number(&real("b03-bootstrap-119-disabled", "stderr")), Some(119));
        assert_eq!(error_number(&real("b04-bootstrap-37", "stderr")), None);
        assert_eq!(error_number(&real("p08-print-no-domain-112", "stderr")), None);
        assert_eq!(error_number(&real("e01-launchctl-error-77", "stdout")), Some(77));
        assert_eq!(said(err, "", Some(5)), "Bootstrap failed: 5: Input/output error");
        assert_eq!(
            said("Bad request.\nCould not find service \"x\" in domain for user gui: 501\n", "", Some(113)),
            "Could not find service \"x\" in domain for user gui: 501"
        );
    }

    fn call_error(command: &str, stderr: &str, exit: i32) -> CallError {
        CallError {
            command: command.into(),
            code: error_number(stderr).or(Some(exit)),
            message: said(stderr, "", Some(exit)),
            described: None,
        }
    }

    #[test]
    fn every_real_error_is_explained_once_with_a_fix() {
        let target = "gui/987/com.x.ops_atomic_monitor";
        for (name, command, must) in [
            ("b01-bootstrap-5", "launchctl bootstrap gui/987 /p.plist", "sudo launchctl bootstrap gui/987"),
            ("b02-bootstrap-125", "launchctl bootstrap gui/987 /p.plist", "no GUI session"),
            ("b03-bootstrap-119-disabled", "launchctl bootstrap gui/987 /p.plist", "Allow in the Background"),
            ("b04-bootstrap-37", "launchctl bootstrap gui/987 /p.plist", "already has this label loaded"),
            ("b09-bootout-3", "launchctl bootout gui/987/com.x", "not loaded"),
            ("b10-bootout-36", "launchctl bootout gui/987/com.x", "still tearing the job down"),
            ("b11-bootout-5", "launchctl bootout gui/987/com.x", "sudo launchctl bootout gui/987/com.x"),
            ("b12-kickstart-125-macos26", "launchctl kickstart gui/987/com.x", "no GUI session"),
            ("b14-bootout-150-sip", "launchctl bootout gui/987/com.x", "System Integrity Protection"),
            ("p07-print-domain-125", "launchctl print gui/987/com.x", "no GUI session"),
            ("p08-print-no-domain-112", "launchctl print gui/987/com.x", "no GUI session"),
        ] {
            let code: i32 = real(name, "code").trim().parse().unwrap();
            let e = call_error(command, &real(name, "stderr"), code);
            let text = e.explain("monitor", target);
            assert!(text.contains(must), "{name}: {text}");
            assert!(text.contains(&format!("`{command}` failed")), "{name}: {text}");
            assert!(text.contains("Fix: "), "{name}: {text}");
            // launchctl's words are kept, and the number is shown exactly once.
            let first = real(name, "stderr").lines().find(|l| l != &"Bad request.").unwrap().to_string();
            assert!(text.contains(&first), "{name}: {text}");
            assert_eq!(text.matches(&format!("{code}")).count(), 1, "{name}: {text}");
        }
        // A bootstrap refused with 5 after our own bootout and enable: the fix
        // is not "disable, then enable again".
        let e = call_error("launchctl bootstrap gui/987 /p.plist", &real("b01-bootstrap-5", "stderr"), 5);
        assert!(!e.explain("monitor", target).contains("ops-atomic enable"), "{}", e.explain("monitor", target));
        // Legacy `load -w` errors, read from what it printed (it exits 0).
        for (name, code, must) in [
            ("b05-load-134", 134, "LimitLoadToSessionType"),
            ("b06-load-5-try-running", 5, "Input/output error"),
            ("b07-load-119-disabled", 119, "Allow in the Background"),
            ("b08-load-37", 37, "already has this label loaded"),
            ("b13-load-122", 122, "chmod 644"),
        ] {
            let e = CallError::from_legacy("launchctl load -w /p.plist".into(), &real(name, "stderr"), "not loaded");
            assert_eq!(e.code, Some(code), "{name}");
            let text = e.explain("monitor", target);
            assert!(text.contains(must), "{name}: {text}");
            assert_eq!(text.matches(&format!("{code}: ")).count(), 1, "{name}: {text}");
            assert!(!text.contains("Try running"), "{name}: {text}");
        }
        // Another number: `launchctl error N`'s words, else the command to ask.
        let mut e = call_error("launchctl bootstrap gui/987 /p.plist", "Bootstrap failed: 77: No locks available", 77);
        assert!(e.explain("daily", target).contains("`launchctl error 77` describes it"));
        e.message = "something went wrong".into();
        e.described = Some(real("e01-launchctl-error-77", "stdout").trim().to_string());
        let text = e.explain("daily", target);
        assert!(text.contains("reads it as \"No locks available\""), "{text}");
        assert_eq!(text.matches("77").count(), 1, "{text}");
    }

    #[test]
    fn real_print_answers_are_read() {
        let p01 = parse_print(&real("p01-print-calendar-exit0", "stdout"));
        assert_eq!((p01.state.as_deref(), p01.last_exit, p01.runs), (Some("not running"), Some(0), Some(1)));
        assert_eq!(p01.arguments.len(), 7);
        assert!(p01.spawn_problem(None).is_none());
        let p02 = parse_print(&real("p02-print-spawn-failed-78", "stdout"));
        assert_eq!(p02.state.as_deref(), Some("spawn scheduled"));
        assert_eq!(p02.job_state.as_deref(), Some("spawn failed"));
        assert_eq!((p02.last_exit, p02.runs, p02.is_running()), (Some(78), Some(22138), false));
        let why = p02.spawn_problem(Some("/usr/local/bin/ops-atomic")).unwrap();
        assert!(why.meaning.contains("could not start") && why.meaning.contains("cargo clean"), "{why:?}");
        assert!(why.fix.contains("ls -l /usr/local/bin/ops-atomic"), "{why:?}");
        let p03 = parse_print(&real("p03-print-codesigning-no-exit-code", "stdout"));
        assert_eq!((p03.last_exit, p03.last_exit_reason.as_deref()), (None, Some("OS_REASON_CODESIGNING")));
        assert!(p03.spawn_problem(None).unwrap().meaning.contains("code signature"));
        let p04 = parse_print(&real("p04-print-xpcproxy", "stdout"));
        assert_eq!((p04.is_running(), p04.pid, p04.last_exit), (true, None, None));
        assert!(p04.spawn_problem(None).is_none());
        let p05 = parse_print(&real("p05-print-running", "stdout"));
        assert_eq!((p05.is_running(), p05.pid, p05.last_exit), (true, Some(64011), Some(0)));
        assert_eq!(p05.path.as_deref(), Some("(submitted by smd.89007)"));
    }

    #[test]
    fn real_list_answers_are_read() {
        let l01 = parse_list(&real("l01-list-exit78", "stdout"));
        assert_eq!(l01.len(), 6);
        assert_eq!(l01[4], ListEntry { label: "homebrew.mxcl.postgresql".into(), pid: None, status: Some(78) });
        let l02 = parse_list(&real("l02-list-signals", "stdout"));
        assert_eq!(l02[0], ListEntry { label: "com.apple.Finder".into(), pid: Some(42561), status: Some(-15) });
        assert_eq!(l02[1].pid, None);
        // `list <label>` prints a dictionary: no rows, not garbage ones.
        assert!(parse_list(&real("l03-list-label-dict", "stdout")).is_empty());
        assert_eq!(
            parse_disabled(&real("d01-print-disabled", "stdout")),
            ["org.nixos.darwin-store", "org.nixos.nix-daemon"]
        );
    }

    #[test]
    fn agent_exits_follow_the_nagios_codes() {
        assert_eq!(describe_agent_exit(0, false), "HEALTHY");
        assert!(describe_agent_exit(2, false).contains("the monitor works"));
        assert!(describe_agent_exit(3, true).contains("tool failure"));
        assert!(describe_agent_exit(78, false).contains("launchd could not start it"));
    }

    #[test]
    fn the_uid_is_the_effective_one() {
        let id = std::process::Command::new("id").arg("-u").output().unwrap();
        let id: u32 = String::from_utf8_lossy(&id.stdout).trim().parse().unwrap();
        assert_eq!(current_uid(), Some(id));
    }

    #[test]
    fn exit_statuses_are_described() {
        assert_eq!(describe_exit(78), "exited 78 (EX_CONFIG)");
        assert_eq!(describe_exit(-15), "killed by signal 15 (SIGTERM)");
        assert_eq!(describe_exit(1), "exited 1");
    }
}
