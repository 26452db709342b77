//! The integration-test harness: every `tests/*.rs` starts with `mod common;`
//! and `use common::*;`.
//!
//! - [`TestRoot`]: a throw-away `--root` folder (with its own fake HOME and
//!   [`FakeLaunchctl`]) and readers for the reports, state and history.
//! - [`ops`]: runs the real `ops-atomic` binary on a `TestRoot`, in an
//!   environment cleaned of the variables the tool reads, with a time limit.
//! - Real servers on free loopback ports: [`Redis`], [`Postgres`].
//! - Stand-ins: [`HttpStub`] (API endpoints), [`WebhookSink`] (Discord),
//!   [`HungTcp`] (a server that never answers), [`FakeLaunchctl`].
//!
//! Nothing is skipped: a missing `redis-server` or PostgreSQL panics with how
//! to install it (scripts/test.sh installs both). Servers run under
//! [`Guarded`], so they die with the test process even when never dropped.
#![allow(dead_code, unused_imports)]

mod guard;
mod launchctl;
mod net;
mod servers;

pub use guard::{Guarded, Spawn, TempDir, current_uid, find_program, is_root};
pub use launchctl::{FIXTURES, FakeLaunchctl, Job, MODERN_SUBCOMMANDS};
pub use net::{HttpStub, HungTcp, Request, Route, SinkReply, WebhookPost, WebhookSink};
pub use servers::{Postgres, Redis, pg_bin_dir, resp_command};

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ops-atomic");

/// Environment variables ops-atomic reads; [`ops`] removes them all so the
/// developer's shell cannot change a test's outcome.
pub const TOOL_ENV: &[&str] = &[
    "REDIS_URL",
    "DATABASE_URL",
    "DISCORD_OPS_WEBHOOK",
    "OPS_ALERT_THRESHOLD",
    "OPS_ATOMIC_ROOT",
    "OPS_ATOMIC_CONFIG",
    "OPS_ATOMIC_AGENTS_DIR",
    "OPS_ATOMIC_LAUNCHCTL",
    "OPS_ATOMIC_INIT_REDIS_ADDR",
    "OPS_ATOMIC_INIT_PG_ADDR",
    "NO_COLOR",
    "OPS_ATOMIC_SLEPT_S",
    "OPS_ATOMIC_JOB_NOW",
    "OPS_ATOMIC_PAGE_SHARE_MS",
    "OS_LAST_WAKE_TIME",
    "XBARDarkMode",
    "SWIFTBAR",
];

/// Paths under the root (SPEC §2).
pub const CONFIG: &str = "g/config/ops_atomic.toml";
pub const REPORTS_DIR: &str = "g/reports/ops_atomic";
pub const STATE: &str = "g/state/ops_atomic_monitor.json";
pub const STATE_LOCK: &str = "g/state/ops_atomic_monitor.lock";
pub const HISTORY: &str = "g/state/heartbeat_history.jsonl";

/// A loopback port nothing listens on right now (bind 127.0.0.1:0, then
/// release it). Also the way to get a "connection refused" URL.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

// ---------------------------------------------------------------------------
// TestRoot

/// A temp folder laid out as `<tmp>/root` (the `--root`), `<tmp>/home` (HOME
/// for the tool, so `$HOME/Library/LaunchAgents` stays inside the test) and
/// `<tmp>/launchctl` (the [`FakeLaunchctl`] state). Removed on drop.
pub struct TestRoot {
    root: PathBuf,
    home: PathBuf,
    launchctl: FakeLaunchctl,
    tmp: TempDir,
}

impl TestRoot {
    pub fn new() -> TestRoot {
        let tmp = TempDir::new("test");
        let root = tmp.path().join("root");
        let home = tmp.path().join("home");
        fs::create_dir_all(&root).expect("create root");
        fs::create_dir_all(&home).expect("create home");
        let launchctl = FakeLaunchctl::create_in(tmp.path().join("launchctl"));
        TestRoot { root, home, launchctl, tmp }
    }

    /// The root folder itself (canonical).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Write `<root>/<rel>`, creating folders.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent folder");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Write `g/config/ops_atomic.toml`.
    pub fn write_config(&self, toml: &str) -> PathBuf {
        self.write(CONFIG, toml)
    }

    /// Contents of `<root>/<rel>`; panics naming the file when missing.
    pub fn read(&self, rel: &str) -> String {
        let path = self.path(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Every name in the folder `rel` (dot files too), sorted. Empty when
    /// the folder is missing.
    pub fn names_in(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(rel))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// File names in `g/reports/ops_atomic/`, oldest first (by the timestamp
    /// in the name, then the `_N` suffix). Empty when the folder is missing.
    pub fn reports(&self) -> Vec<String> {
        let mut names = self.names_in(REPORTS_DIR);
        names.sort_by_key(|n| report_order(n));
        names
    }

    /// [`TestRoot::reports`] starting with `<kind>_` (`"heartbeat"`, `"daily"`).
    pub fn reports_of(&self, kind: &str) -> Vec<String> {
        let prefix = format!("{kind}_");
        self.reports().into_iter().filter(|n| n.starts_with(&prefix)).collect()
    }

    /// Contents of the newest `<kind>_*.md` report; panics when there is none.
    pub fn latest_report(&self, kind: &str) -> String {
        let name = self
            .reports_of(kind)
            .pop()
            .unwrap_or_else(|| panic!("no {kind} report in {}", self.path(REPORTS_DIR).display()));
        self.read(&format!("{REPORTS_DIR}/{name}"))
    }

    /// The state file parsed; panics when missing or not JSON.
    pub fn state(&self) -> Value {
        self.state_opt().unwrap_or_else(|| panic!("no state file {}", self.path(STATE).display()))
    }

    /// The state file parsed, `None` when missing.
    pub fn state_opt(&self) -> Option<Value> {
        let text = fs::read_to_string(self.path(STATE)).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("state file is not JSON ({e}):\n{text}")))
    }

    /// Replace the state file (to start a test from a given state).
    pub fn write_state(&self, state: &Value) {
        self.write(STATE, &serde_json::to_string_pretty(state).expect("serialize state"));
    }

    /// The history lines parsed, oldest first; empty when missing.
    pub fn history(&self) -> Vec<Value> {
        fs::read_to_string(self.path(HISTORY))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("history line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Files under the root (except `g/config/`) whose contents contain
    /// `needle`, relative paths: for "no secret leaks into any file" asserts.
    pub fn files_containing(&self, needle: &str) -> Vec<String> {
        let mut hits = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let rel = path.strip_prefix(&self.root).unwrap().to_string_lossy().into_owned();
                if rel == "g/config" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else if fs::read(&path).is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle)) {
                    hits.push(rel);
                }
            }
        }
        hits.sort();
        hits
    }

    /// The fake launchctl [`ops`] uses for this root.
    pub fn launchctl(&self) -> &FakeLaunchctl {
        &self.launchctl
    }

    /// HOME for the tool.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The default agents folder under the fake HOME (`$HOME/Library/LaunchAgents`).
    pub fn agents_dir(&self) -> PathBuf {
        self.home.join("Library/LaunchAgents")
    }
}

impl Default for TestRoot {
    fn default() -> Self {
        TestRoot::new()
    }
}

/// Sort key for report names: `<kind>_<timestamp>[_N].md` → (kind+timestamp, N).
fn report_order(name: &str) -> (String, u64) {
    let stem = name.strip_suffix(".md").unwrap_or(name);
    match stem.rsplit_once('_') {
        Some((head, n)) if !n.contains('-') => match n.parse() {
            Ok(n) => (head.to_string(), n),
            Err(_) => (stem.to_string(), 0),
        },
        _ => (stem.to_string(), 0),
    }
}

// ---------------------------------------------------------------------------
// Running the binary

/// Start building a run of the real binary with `--root <root>`.
///
/// The environment: [`TOOL_ENV`] removed, `HOME` = the root's fake home,
/// `OPS_ATOMIC_LAUNCHCTL` = the root's [`FakeLaunchctl`] (see
/// [`Ops::no_launchctl`], [`Ops::launchctl_on_path`]), stdin empty, 60 s limit.
///
/// ```ignore
/// let run = ops(&root).args(["heartbeat", "--json"]).env("REDIS_URL", redis.url()).run();
/// run.expect_code(0);
/// ```
pub fn ops(root: &TestRoot) -> Ops {
    let launchctl = root.launchctl();
    let mut ops = Ops {
        root: root.dir().to_path_buf(),
        launchctl_bin: launchctl.bin_dir(),
        root_flag: true,
        cwd: root.dir().to_path_buf(),
        args: Vec::new(),
        envs: Vec::new(),
        timeout: Duration::from_secs(60),
        file_size_limit: None,
    };
    for var in TOOL_ENV {
        ops.envs.push((var.into(), None));
    }
    ops.env("HOME", root.home())
        .env("OPS_ATOMIC_LAUNCHCTL", launchctl.program())
        .env(FakeLaunchctl::STATE_ENV, launchctl.state_dir())
}

/// Builder for one run of the binary (see [`ops`]).
pub struct Ops {
    root: PathBuf,
    /// Folder of the fake `launchctl`, for [`Ops::launchctl_on_path`].
    launchctl_bin: PathBuf,
    root_flag: bool,
    cwd: PathBuf,
    args: Vec<OsString>,
    /// In order; `None` removes the variable.
    envs: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
    /// `ulimit -f` for the run, in KiB (see [`Ops::file_size_limit`]).
    file_size_limit: Option<u64>,
}

impl Ops {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Ops {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Ops
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Set a variable (e.g. `REDIS_URL`) for this run.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Ops {
        self.envs.push((key.as_ref().into(), Some(value.as_ref().into())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Ops {
        self.envs.push((key.as_ref().into(), None));
        self
    }

    /// "No launchctl on this system": `OPS_ATOMIC_LAUNCHCTL` names a path
    /// that does not exist (and PATH has no launchctl on Linux).
    pub fn no_launchctl(self) -> Ops {
        let missing = self.root.with_file_name("no-such-dir").join("launchctl");
        self.env("OPS_ATOMIC_LAUNCHCTL", missing)
    }

    /// Leave `OPS_ATOMIC_LAUNCHCTL` unset and put the fake's folder first on
    /// PATH, to test the `launchctl`-on-PATH lookup.
    pub fn launchctl_on_path(self) -> Ops {
        let mut dirs = vec![self.launchctl_bin.clone()];
        dirs.extend(std::env::var_os("PATH").iter().flat_map(std::env::split_paths));
        let path = std::env::join_paths(dirs).expect("join PATH");
        self.env_remove("OPS_ATOMIC_LAUNCHCTL").env("PATH", path)
    }

    /// Do not pass `--root`; run in the root folder instead (the default root
    /// is the current folder), or name it via `OPS_ATOMIC_ROOT` yourself.
    pub fn without_root_flag(mut self) -> Ops {
        self.root_flag = false;
        self
    }

    /// Working folder of the process (default: the root).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Ops {
        self.cwd = dir.as_ref().to_path_buf();
        self
    }

    /// Fail the test if the run takes longer (default 60 s).
    pub fn timeout(mut self, limit: Duration) -> Ops {
        self.timeout = limit;
        self
    }

    /// A disk that fills up: no file the run writes may grow past `kib`
    /// KiB (`ulimit -f`, with SIGXFSZ ignored, so a write past it fails as
    /// a write to a full disk does, instead of killing the process).
    pub fn file_size_limit(mut self, kib: u64) -> Ops {
        self.file_size_limit = Some(kib);
        self
    }

    /// The `Command` this builder describes (to inspect it or run it yourself).
    pub fn command(&self) -> Command {
        let mut cmd = match self.file_size_limit {
            None => Command::new(BIN),
            Some(kib) => {
                let mut bash = Command::new("bash");
                bash.args(["-c", &format!("trap '' XFSZ; ulimit -f {kib}; exec \"$@\""), "bash", BIN]);
                bash
            }
        };
        if self.root_flag {
            cmd.arg("--root").arg(&self.root);
        }
        cmd.args(&self.args).current_dir(&self.cwd);
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Run with stdout on a pseudo-terminal (util-linux `script`), `NO_COLOR`
    /// set to `no_color` or unset; returns what it printed. Panics when the
    /// command fails.
    pub fn run_on_terminal(self, no_color: Option<&str>) -> String {
        let mut cmd = self.env_remove("NO_COLOR").command();
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let line: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
            .collect();
        let mut script = Command::new("script");
        script.args(["-qec", &line.join(" "), "/dev/null"]);
        if let Some(dir) = cmd.get_current_dir() {
            script.current_dir(dir);
        }
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        let out = script.output().expect("run script(1) from util-linux");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{line:?} on a terminal failed: {text}");
        text
    }

    /// Run to completion; panics (with all output so far) past the time limit.
    pub fn run(self) -> Run {
        let mut cmd = self.command();
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let stdout = drain(child.stdout.take().expect("stdout"));
        let stderr = drain(child.stderr.take().expect("stderr"));
        let deadline = started + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for ops-atomic") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = started.elapsed();
        // A grandchild (e.g. a smoke command) may still hold the pipes.
        let collect = |rx: mpsc::Receiver<Vec<u8>>| {
            let bytes = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| b"<output still held open by a child process>".to_vec());
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let (stdout, stderr) = (collect(stdout), collect(stderr));
        let Some(status) = status else {
            panic!(
                "ops-atomic {:?} did not finish within {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                self.args, self.timeout
            );
        };
        Run::from_output(Output { status, stdout: stdout.into_bytes(), stderr: stderr.into_bytes() }, elapsed)
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    rx
}

/// What a finished run printed and returned.
#[derive(Clone, Debug)]
pub struct Run {
    /// Exit code; `-N` when killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn from_output(out: Output, elapsed: Duration) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let code = out.status.code().unwrap_or_else(|| -out.status.signal().unwrap_or(0));
        Run {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// Panic with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }

    /// stdout parsed as one JSON document; panics with the output otherwise.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{self}"))
    }

    /// stdout and stderr together (for "this text appears nowhere" asserts).
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}
