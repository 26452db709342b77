//! Running child programs (launchctl, plutil, smoke commands) with a timeout.
//!
//! The child leads its own process group and the whole group is killed when
//! the timeout passes, so a hung program (or the `sleep` a `sh -c` smoke
//! command started) can never hold a one-shot run open or outlive it. Output
//! is read on helper threads so a chatty child cannot block on a full pipe.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What happened to a child program.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code; `None` when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub duration: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// Why a program could not be run at all.
#[derive(Debug)]
pub enum SpawnError {
    NotFound,
    Other(std::io::Error),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::NotFound => f.write_str("program not found"),
            SpawnError::Other(e) => write!(f, "{e}"),
        }
    }
}

/// How long a child is polled every millisecond before the poll slows down.
const FINE_POLL: Duration = Duration::from_millis(250);

/// Runs `program args...` in `cwd` (if given), kills it after `timeout`.
pub fn run(program: &Path, args: &[&str], cwd: Option<&Path>, timeout: Duration) -> Result<Outcome, SpawnError> {
    run_with_input(program, args, cwd, timeout, None)
}

/// [`run`], with `input` written to the child's stdin (then closed) on a
/// helper thread, so a child that does not read cannot block us.
pub fn run_with_input(
    program: &Path,
    args: &[&str],
    cwd: Option<&Path>,
    timeout: Duration,
    input: Option<&[u8]>,
) -> Result<Outcome, SpawnError> {
    let mut cmd = Command::new(program);
    let stdin = if input.is_some() { Stdio::piped() } else { Stdio::null() };
    cmd.args(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound,
        _ => SpawnError::Other(e),
    })?;
    if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), input) {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            // A child that exits without reading closes the pipe: not our error.
            let _ = pipe.write_all(&bytes);
        });
    }
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let mut timed_out = false;
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                timed_out = true;
                kill_group(&mut child);
                break child.wait().ok();
            }
            Ok(None) => {
                std::thread::sleep(pause);
                // Poll finely while the child is young: `launchctl list`
                // takes a few to tens of ms, and a coarse step would add up
                // to half that again to every heartbeat. Long smoke commands
                // are then polled every 20 ms.
                let cap =
                    if start.elapsed() < FINE_POLL { Duration::from_millis(1) } else { Duration::from_millis(20) };
                pause = (pause * 2).min(cap);
            }
            Err(e) => return Err(SpawnError::Other(e)),
        }
    };
    // A grandchild holding the pipe open must not block us past the timeout.
    let grace = Duration::from_millis(200);
    let stdout = out.map(|h| h.recv_timeout(grace).unwrap_or_default()).unwrap_or_default();
    let stderr = err.map(|h| h.recv_timeout(grace).unwrap_or_default()).unwrap_or_default();
    Ok(Outcome {
        code: if timed_out { None } else { status.and_then(|s| s.code()) },
        stdout,
        stderr,
        timed_out,
        duration: start.elapsed(),
    })
}

/// SIGKILL to the child's process group (it leads one: `process_group(0)`),
/// so what a shell started dies with it.
fn kill_group(child: &mut Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        let _ = child.kill();
        return;
    };
    // SAFETY: kill(2) takes plain integers; a negative pid names the process
    // group. The child has not been reaped yet, so its group id is still ours.
    if unsafe { libc::kill(-pgid, libc::SIGKILL) } != 0 {
        let _ = child.kill();
    }
}

fn reader<R: Read + Send + 'static>(mut r: R) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// The last `max_lines` lines of `text`, at most `max_chars` characters.
pub fn tail(text: &str, max_lines: usize, max_chars: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let joined = lines[start..].join("\n");
    let count = joined.chars().count();
    if count <= max_chars { joined } else { joined.chars().skip(count - max_chars).collect() }
}

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_child_is_killed_at_the_timeout() {
        let o = run(Path::new("sleep"), &["5"], None, Duration::from_millis(100)).unwrap();
        assert!(o.timed_out);
        assert_eq!(o.code, None);
        assert!(o.duration < Duration::from_secs(4));
    }

    /// Whether `pid` still runs. On Linux a zombie waiting for its reaper
    /// (PID 1 in a container may never reap) does not count; elsewhere
    /// `kill(pid, 0)` answers.
    fn alive(pid: &str) -> bool {
        if Path::new("/proc/self/stat").exists() {
            return std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|stat| !stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
                .unwrap_or(false);
        }
        let pid: libc::pid_t = pid.parse().unwrap();
        // SAFETY: signal 0 only asks whether the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn a_timeout_kills_what_the_child_started_and_keeps_its_output() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = "sleep 30 & echo $! > grandchild.pid; echo started; wait";
        let o = run(Path::new("sh"), &["-c", script], Some(&dir), Duration::from_millis(300)).unwrap();
        assert!(o.timed_out);
        // The grandchild held the output pipe; it died with the group, so the
        // output is whole instead of dropped after the grace period.
        assert_eq!(o.stdout.trim(), "started");
        let pid = std::fs::read_to_string(dir.join("grandchild.pid")).unwrap();
        let pid = pid.trim();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(pid)
        });
        std::fs::remove_dir_all(&dir).ok();
        assert!(gone, "the sleep started by the timed-out shell (pid {pid}) is still running");
    }

    #[test]
    fn exit_code_and_output_are_captured() {
        let o = run(Path::new("sh"), &["-c", "echo out; echo err >&2; exit 7"], None, Duration::from_secs(5)).unwrap();
        assert_eq!(o.code, Some(7));
        assert_eq!(o.stdout.trim(), "out");
        assert_eq!(o.stderr.trim(), "err");
    }

    #[test]
    fn input_reaches_stdin() {
        let o = run_with_input(Path::new("cat"), &[], None, Duration::from_secs(5), Some(b"doc")).unwrap();
        assert!(o.success());
        assert_eq!(o.stdout, "doc");
        let o = run_with_input(Path::new("true"), &[], None, Duration::from_secs(5), Some(&[b'x'; 1 << 20])).unwrap();
        assert!(o.success(), "a child that does not read must not block the run");
    }

    #[test]
    fn a_missing_program_is_not_found() {
        assert!(matches!(
            run(Path::new("/nonexistent/prog"), &[], None, Duration::from_secs(1)),
            Err(SpawnError::NotFound)
        ));
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("a\nb\nc\n", 2, 100), "b\nc");
        assert_eq!(tail("abcdef", 5, 3), "def");
    }
}
