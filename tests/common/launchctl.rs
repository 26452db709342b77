//! [`FakeLaunchctl`]: the `tests/fake-launchctl` script plus its state
//! folder, and helpers to seed and inspect that state from Rust.
//!
//! The script mimics macOS `launchctl` (`list`, `list <label>`, `print`,
//! `bootstrap`, `bootout`, `enable`, `disable`, legacy `load`/`unload`,
//! `start`, `stop`, `kickstart`) with the output shapes and exit codes of
//! shared/fixtures/launchctl. Its header comment describes the state folder.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::Run;
use super::guard::{self, TempDir};

/// The script in the source tree (linked into each state folder, see [`FakeLaunchctl::create_in`]).
const SCRIPT_SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-launchctl");

/// Real `launchctl` output samples (see its README.md).
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/launchctl");

/// Subcommands that launchctl before macOS 10.10 does not know.
pub const MODERN_SUBCOMMANDS: &[&str] = &["bootstrap", "bootout", "enable", "disable", "print", "kickstart"];

/// A fake `launchctl` with its own tiny launchd state.
///
/// Point the tool at it with `OPS_ATOMIC_LAUNCHCTL=<program()>` (what
/// [`ops`](super::ops) does by default) or put [`FakeLaunchctl::bin_dir`] on
/// PATH. The script finds its state through `FAKE_LAUNCHCTL_STATE` or, when
/// the environment was cleared, through its own location.
pub struct FakeLaunchctl {
    dir: PathBuf,
    _tmp: Option<TempDir>,
}

/// One loaded job as the fake sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub label: String,
    /// `None` when not running (`-` in `launchctl list`).
    pub pid: Option<u32>,
    /// Last exit status; negative = killed by that signal.
    pub status: i32,
    /// The plist it was bootstrapped from (`None` when seeded).
    pub plist: Option<PathBuf>,
    /// The plist flattened: `Label`, `ProgramArguments.0`,
    /// `StartCalendarInterval.Hour`, `EnvironmentVariables.PATH`, ...
    pub def: BTreeMap<String, String>,
    /// A bootout is "still in progress" (see [`FakeLaunchctl::bootout_lag`]).
    pub tearing_down: bool,
}

impl FakeLaunchctl {
    /// Environment variable naming the state folder.
    pub const STATE_ENV: &'static str = "FAKE_LAUNCHCTL_STATE";

    /// Answers recorded from real Macs, one folder each (`cmd`, `stdout`,
    /// `stderr`, `code`, `SOURCE.md`; see its README.md).
    pub const REAL: &'static str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/launchctl/real");

    /// The names of every folder under [`FakeLaunchctl::REAL`], sorted.
    pub fn real_fixtures() -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(FakeLaunchctl::REAL)
            .expect("read the real launchctl fixtures")
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Answer the fixture's subcommand (`print`, `bootstrap`, `list`, ...,
    /// or `plutil`) with the fixture's recorded output and exit code, from
    /// now on and whatever the arguments; returns the subcommand.
    pub fn replay(&self, fixture: &str) -> String {
        let from = Path::new(FakeLaunchctl::REAL).join(fixture);
        let cmd = fs::read_to_string(from.join("cmd")).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let sub = cmd.split_whitespace().next().expect("a command").to_string();
        let read = |file: &str| fs::read_to_string(from.join(file)).unwrap_or_default();
        let code: i32 = read("code").trim().parse().expect("a numeric code");
        self.answer(&sub, &read("stdout"), &read("stderr"), code);
        sub
    }

    /// Answer `subcommand` with this output and exit code from now on.
    pub fn answer(&self, subcommand: &str, stdout: &str, stderr: &str, code: i32) -> &FakeLaunchctl {
        let to = self.dir.join("canned").join(subcommand);
        fs::create_dir_all(&to).expect("create canned answer");
        for (file, text) in [("stdout", stdout), ("stderr", stderr), ("code", &code.to_string())] {
            fs::write(to.join(file), text).expect("write canned answer");
        }
        self
    }

    /// Stop replaying a recorded answer for `subcommand`.
    pub fn stop_replay(&self, subcommand: &str) {
        let _ = fs::remove_dir_all(self.dir.join("canned").join(subcommand));
    }

    /// No GUI session at all (SSH, another user): every `gui/` target answers
    /// `Could not find domain for user gui: N`, exit 112.
    pub fn no_gui_domain(&self) -> &FakeLaunchctl {
        self.switch("no_domain", true)
    }

    /// A fake in its own temp folder.
    pub fn new() -> FakeLaunchctl {
        let tmp = TempDir::new("launchctl");
        let mut fake = FakeLaunchctl::create_in(tmp.path().to_path_buf());
        fake._tmp = Some(tmp);
        fake
    }

    /// A fake whose state lives in `dir` (created; owned by the caller).
    pub fn create_in(dir: PathBuf) -> FakeLaunchctl {
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).expect("create fake launchctl folder");
        fs::write(dir.join("fake-launchctl-state"), "").expect("write marker");
        fs::write(dir.join("calls.log"), "").expect("write calls.log");
        let program = bin.join("launchctl");
        let source = Path::new(SCRIPT_SOURCE);
        assert!(guard::is_executable(source), "{SCRIPT_SOURCE} must exist and be executable (chmod +x)");
        // A symlink, not a copy: a freshly written executable can fail with
        // ETXTBSY while a parallel test forks.
        std::os::unix::fs::symlink(source, &program).expect("symlink fake launchctl");
        // Invoked as `plutil` (found when bin/ is on PATH), it answers `-lint`.
        std::os::unix::fs::symlink(source, bin.join("plutil")).expect("symlink fake plutil");
        FakeLaunchctl { dir, _tmp: None }
    }

    /// The executable (`<state>/bin/launchctl`).
    pub fn program(&self) -> PathBuf {
        self.dir.join("bin").join("launchctl")
    }

    /// The folder holding `launchctl`, to put on PATH.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// A command running the fake directly.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.program());
        cmd.env(FakeLaunchctl::STATE_ENV, &self.dir);
        cmd
    }

    /// Run the fake with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command().args(args).output().expect("run fake launchctl");
        Run::from_output(out, std::time::Duration::ZERO)
    }

    /// The uid `gui/<uid>` must name (this process's uid unless [`FakeLaunchctl::set_uid`]).
    pub fn uid(&self) -> u32 {
        fs::read_to_string(self.dir.join("uid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(guard::current_uid)
    }

    /// Accept only `gui/<uid>` (others fail with exit 125 "Domain does not support specified action").
    pub fn set_uid(&self, uid: u32) -> &FakeLaunchctl {
        self.write("uid", &uid.to_string());
        self
    }

    /// `gui/<uid>`.
    pub fn domain(&self) -> String {
        format!("gui/{}", self.uid())
    }

    /// Make `label` loaded with this PID (None = not running) and last exit status.
    pub fn seed(&self, label: &str, pid: Option<u32>, status: i32) -> &FakeLaunchctl {
        let job = self.dir.join("jobs").join(label);
        fs::create_dir_all(&job).expect("create job");
        let pid = pid.map_or("-".to_string(), |p| p.to_string());
        for (file, value) in [("pid", pid.as_str()), ("status", &status.to_string()), ("runs", "1"), ("path", "")] {
            fs::write(job.join(file), format!("{value}\n")).expect("write job");
        }
        fs::write(job.join("def"), format!("Label\t{label}\n")).expect("write job");
        self
    }

    /// Seed every job of the `launchctl list` sample (`FIXTURES/list.txt`).
    pub fn seed_fixture_list(&self) -> &FakeLaunchctl {
        let path = Path::new(FIXTURES).join("list.txt");
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        for row in text.lines().skip(1) {
            let [pid, status, label] = row.split('\t').collect::<Vec<_>>()[..] else {
                panic!("bad row in {}: {row:?}", path.display())
            };
            self.seed(label, pid.parse().ok(), status.parse().expect("status"));
        }
        self
    }

    /// Labels of loaded jobs, sorted (jobs still tearing down included).
    pub fn loaded(&self) -> Vec<String> {
        let mut labels: Vec<String> = fs::read_dir(self.dir.join("jobs"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        labels.sort();
        labels
    }

    pub fn is_loaded(&self, label: &str) -> bool {
        self.dir.join("jobs").join(label).is_dir()
    }

    /// The loaded job, read without side effects.
    pub fn job(&self, label: &str) -> Option<Job> {
        let d = self.dir.join("jobs").join(label);
        if !d.is_dir() {
            return None;
        }
        let read = |f: &str| fs::read_to_string(d.join(f)).unwrap_or_default().trim().to_string();
        let path = read("path");
        let def = fs::read_to_string(d.join("def"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(Job {
            label: label.to_string(),
            pid: read("pid").parse().ok(),
            status: read("status").parse().unwrap_or(0),
            plist: (!path.is_empty()).then(|| PathBuf::from(path)),
            def,
            tearing_down: d.join("teardown").exists(),
        })
    }

    /// Whether `launchctl disable gui/<uid>/<label>` is in force.
    pub fn is_disabled(&self, label: &str) -> bool {
        self.dir.join("disabled").join(label).exists()
    }

    /// As `launchctl disable` (true) / `enable` (false) would leave it.
    pub fn set_disabled(&self, label: &str, disabled: bool) -> &FakeLaunchctl {
        let f = self.dir.join("disabled").join(label);
        if disabled {
            fs::create_dir_all(self.dir.join("disabled")).expect("create disabled");
            fs::write(f, "").expect("write disabled");
        } else {
            let _ = fs::remove_file(f);
        }
        self
    }

    /// Make every `bootstrap` (and legacy `load`) fail with
    /// `Bootstrap failed: 5: Input/output error`, exit 5.
    pub fn fail_bootstrap(&self, fail: bool) -> &FakeLaunchctl {
        self.switch("fail_bootstrap", fail)
    }

    /// Make these subcommands unknown: `Unrecognized subcommand: X` + usage, exit 64.
    pub fn set_unknown(&self, subcommands: &[&str]) -> &FakeLaunchctl {
        self.write("unknown", &subcommands.join("\n"));
        self
    }

    /// Behave like launchctl before macOS 10.10: only `list`, `load`,
    /// `unload`, `start`, `stop` exist ([`MODERN_SUBCOMMANDS`] are unknown).
    pub fn legacy_only(&self) -> &FakeLaunchctl {
        self.set_unknown(MODERN_SUBCOMMANDS)
    }

    /// After a bootout, the job stays visible to the next `queries` label
    /// queries (`print`, `list`, `bootstrap` of it, ...) as real launchd does
    /// while tearing down; a `bootstrap` meanwhile fails with exit 5. 0 = gone at once.
    pub fn bootout_lag(&self, queries: u32) -> &FakeLaunchctl {
        self.write("bootout_lag", &queries.to_string());
        self
    }

    /// Every invocation so far, as argv without the program name.
    pub fn calls(&self) -> Vec<Vec<String>> {
        fs::read_to_string(self.dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// The invocations of one subcommand (`"list"`, `"bootstrap"`, ...).
    pub fn calls_of(&self, subcommand: &str) -> Vec<Vec<String>> {
        self.calls().into_iter().filter(|c| c.first().is_some_and(|s| s == subcommand)).collect()
    }

    pub fn clear_calls(&self) {
        self.write("calls.log", "");
    }

    fn switch(&self, name: &str, on: bool) -> &FakeLaunchctl {
        if on {
            self.write(name, "");
        } else {
            let _ = fs::remove_file(self.dir.join(name));
        }
        self
    }

    fn write(&self, name: &str, contents: &str) {
        let path = self.dir.join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Default for FakeLaunchctl {
    fn default() -> Self {
        FakeLaunchctl::new()
    }
}
