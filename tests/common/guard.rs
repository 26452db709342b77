//! Temporary folders, the unprivileged server user, and [`Guarded`]: a
//! long-lived child process that cannot outlive the test process.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A folder under the system temp folder, removed (with everything in it) on
/// drop. Set `OPS_ATOMIC_KEEP_TEMP=1` to keep it for a post-mortem.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh, empty folder named `ops-atomic-<what>-<pid>-<n>`.
    pub fn new(what: &str) -> TempDir {
        TempDir::new_in(&std::env::temp_dir(), what)
    }

    /// The same, inside `base`.
    pub fn new_in(base: &Path, what: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("ops-atomic-{what}-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    // Canonical, so tests can compare it with paths the tool prints.
                    let path = path.canonicalize().unwrap_or(path);
                    return TempDir { path };
                }
                // A leftover of an earlier process that had the same pid.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create temp folder {}: {e}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("OPS_ATOMIC_KEEP_TEMP").is_some() {
            eprintln!("keeping {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The uid of this process (via `id -u`, so the harness needs no libc crate).
pub fn current_uid() -> u32 {
    static UID: OnceLock<u32> = OnceLock::new();
    *UID.get_or_init(|| id_of(&["-u"]).expect("`id -u` failed"))
}

pub fn is_root() -> bool {
    current_uid() == 0
}

fn id_of(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The account servers run as: PostgreSQL refuses to run as root.
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Name of the system account created for servers when the tests run as root.
pub const SERVER_USER: &str = "ops-atomic-test";

/// `None` when not root (servers run as the current user); as root, the
/// `ops-atomic-test` system account, created with `useradd --system` if missing.
pub fn server_user() -> Option<&'static User> {
    static USER: OnceLock<Option<User>> = OnceLock::new();
    USER.get_or_init(|| {
        if !is_root() {
            return None;
        }
        if id_of(&["-u", SERVER_USER]).is_none() {
            let out = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"])
                .arg(SERVER_USER)
                .output()
                .unwrap_or_else(|e| {
                    panic!("running as root and cannot run `useradd` to create the {SERVER_USER} user that PostgreSQL runs as: {e}")
                });
            // Exit 9 = another test binary created it meanwhile.
            if !out.status.success() && out.status.code() != Some(9) {
                panic!(
                    "`useradd --system {SERVER_USER}` failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let uid = id_of(&["-u", SERVER_USER]).expect("server user has no uid");
        let gid = id_of(&["-g", SERVER_USER]).expect("server user has no gid");
        Some(User { name: SERVER_USER.to_string(), uid, gid })
    })
    .as_ref()
}

/// A temp folder the server user can own: under the system temp folder when
/// every ancestor is searchable by others, else under /tmp. Chowned to the
/// server user when there is one.
pub fn server_temp_dir(what: &str) -> TempDir {
    let mut base = std::env::temp_dir();
    if server_user().is_some() && !world_searchable(&base) {
        base = PathBuf::from("/tmp");
    }
    let dir = TempDir::new_in(&base, what);
    if let Some(user) = server_user() {
        chown(dir.path(), user);
    }
    dir
}

fn world_searchable(path: &Path) -> bool {
    path.ancestors().all(|p| fs::metadata(p).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false))
}

/// Give `path` to the server user (no-op when not root).
pub fn chown(path: &Path, user: &User) {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .unwrap_or_else(|e| panic!("chown {} to {}: {e}", path.display(), user.name));
}

/// Run `cmd` as the server user when there is one (drops supplementary groups too).
pub fn as_server_user(cmd: &mut Command) -> &mut Command {
    if let Some(user) = server_user() {
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd
}

/// Starts the real program in the background, then waits on its stdin (a
/// pipe whose only writer is the test process). When the test process closes
/// it — [`Guarded::stop`], drop, or simply exiting, even by a panic or
/// SIGKILL — the wrapper sends the signal, waits for the program, removes the
/// cleanup folder and exits with the program's status. The wrapper also exits
/// as soon as the program dies on its own, so `try_wait` sees start failures.
const WRAPPER: &str = r#"
sig=$1; cleanup=$2; shift 2
exec 3<&0 0</dev/null
"$@" 3<&- &
pid=$!
( read -r _ <&3 || :; kill -s "$sig" "$pid" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
[ -z "$cleanup" ] || rm -rf "$cleanup"
exit "$status"
"#;

/// A server process tied to the life of the test process (see [`WRAPPER`]).
/// Stopped on drop; a `Guarded` kept in a `static` dies with the process.
pub struct Guarded {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

/// How to start a [`Guarded`] process.
pub struct Spawn<'a> {
    /// Used in panic messages.
    pub name: &'a str,
    pub program: &'a Path,
    pub args: Vec<OsString>,
    /// Signal name for a clean stop, e.g. "TERM" (Redis) or "INT" (PostgreSQL fast shutdown).
    pub stop_signal: &'a str,
    /// stdout and stderr of the program go here.
    pub log: &'a Path,
    /// Removed by the wrapper once the program is gone.
    pub cleanup: Option<&'a Path>,
    pub cwd: &'a Path,
    /// Run as the server user (see [`server_user`]).
    pub as_server_user: bool,
}

impl Guarded {
    pub fn spawn(spec: Spawn<'_>) -> Guarded {
        let log = File::create(spec.log).unwrap_or_else(|e| panic!("create {}: {e}", spec.log.display()));
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(WRAPPER)
            .arg("guard")
            .arg(spec.stop_signal)
            .arg(spec.cleanup.map(Path::as_os_str).unwrap_or_default())
            .arg(spec.program)
            .args(&spec.args)
            .current_dir(spec.cwd)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            // Own process group: a Ctrl-C on `cargo test` reaches the test
            // process, whose exit then stops the server cleanly.
            .process_group(0);
        if spec.as_server_user {
            as_server_user(&mut cmd);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", spec.name));
        let stdin = child.stdin.take();
        Guarded { name: spec.name.to_string(), child, stdin, log: spec.log.to_path_buf() }
    }

    /// `Some(status)` once the program has exited (on its own or stopped).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Stop the program and wait until it and its cleanup are done.
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.exited().is_none() {
            if Instant::now() > deadline {
                // The wrapper is stuck: kill it; the program may leak, say so.
                let _ = self.child.kill();
                let _ = self.child.wait();
                eprintln!("{} did not stop within 30 s", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the program printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Find a server program: `$env_var` if set, else `name` on PATH, else the
/// usual install folders; panic with how to install it.
pub fn find_program(name: &str, env_var: &str, install_hint: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        assert!(is_executable(&p), "{env_var}={} is not an executable file", p.display());
        return p;
    }
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    let fallback = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/opt/homebrew/bin"];
    path_dirs
        .into_iter()
        .chain(fallback.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
        .unwrap_or_else(|| {
            panic!("`{name}` not found (PATH, /usr/bin, /usr/sbin, /usr/local/bin). {install_hint}, or set {env_var} to its path. scripts/test.sh installs it.")
        })
}

pub fn is_executable(p: &Path) -> bool {
    fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
