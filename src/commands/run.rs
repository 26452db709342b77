//! `ops-atomic run NAME [--timeout DUR] -- COMMAND [ARGS...]` (SPEC §20):
//! runs a job's command and records how it went.
//!
//! The command runs as given (argv, no shell) in the caller's working
//! directory, in a process group of its own, so that `--timeout` (and a
//! SIGINT/SIGTERM/SIGHUP sent to the wrapper, which it passes on) reaches
//! everything it started. Its stdout and stderr still reach the caller;
//! the last 4 KB of both (scrubbed) are kept. A `job_start` is written
//! once it has started and a `job_end` when it has ended, in the job's file
//! and in the event log (`jobs::record`).
//!
//! It passes the exit code through: the command's own; 128+N when a signal
//! N ended it (as a shell says); 124 when `--timeout` killed it (as
//! coreutils `timeout` does); 127 when the command is not found, 126 when
//! it could not be executed. A broken config does not stop the command (a
//! backup is not skipped over a typo elsewhere in the file): it is said on
//! stderr and the run is recorded without the config's secrets.
//!
//! What it does not do, to stay within a few milliseconds of the command
//! itself: no check, no network, no state lock.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::events::Event;
use crate::exit::Result;
use crate::jobs;
use crate::paths::Paths;

/// Between SIGTERM and SIGKILL at the timeout, at most (less when the
/// command exits sooner).
const GRACE: Duration = Duration::from_secs(3);

/// How long the output is still read after the command ended (a process it
/// left behind may hold the pipes open).
const DRAIN: Duration = Duration::from_secs(1);

/// What the command line gave.
pub struct Args<'a> {
    pub root: Option<&'a Path>,
    pub config: Option<&'a Path>,
    pub name: &'a str,
    pub timeout: Option<chrono::Duration>,
    pub command: &'a [OsString],
}

/// The command's process group, for the signal handler (0: none yet).
static GROUP: AtomicI32 = AtomicI32::new(0);
/// The signal the wrapper was sent and passed on (0: none).
static FORWARDED: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    FORWARDED.store(sig, Ordering::SeqCst);
    let group = GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(-group, sig) };
    }
}

fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "ops-atomic run: warning: {}", crate::secret::scrub(msg));
}

pub fn run(a: &Args) -> Result<u8> {
    if a.name.trim().is_empty() || a.name.chars().any(char::is_control) {
        let _ = writeln!(
            std::io::stderr(),
            "error: the job NAME {:?} must be a name on one line, as in [[job]] name",
            a.name
        );
        return Ok(crate::exit::TOOL_FAILURE);
    }
    let Some((program, args)) = a.command.split_first() else {
        let _ =
            writeln!(std::io::stderr(), "error: give the command after --: ops-atomic run NAME -- COMMAND [ARGS...]");
        return Ok(crate::exit::TOOL_FAILURE);
    };
    let paths = match Paths::resolve(a.root) {
        Ok(p) => Some(p),
        Err(e) => {
            warn(&format!("{e}; the command runs, but is not recorded"));
            None
        }
    };
    if let Some(p) = &paths {
        load_secrets(p, a.config, a.name);
    }
    let name = a.name;
    let started_at = Utc::now();
    let started = Instant::now();
    let run_id = format!("{}-{}", started_at.timestamp_millis(), std::process::id());
    // Arguments can hold a password as well as the output can.
    let command_line =
        jobs::scrub_output(&a.command.iter().map(|s| s.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" "));
    let record = |e: Event| {
        if let Some(p) = &paths
            && let Err(err) = jobs::record(p, name, &e)
        {
            warn(&format!("{err}; the run is not recorded"));
        }
    };
    let mut start = Event::new(started_at, &jobs::id(name), name, jobs::START, command_line.clone());
    start.run = Some(run_id.clone());
    start.pid = Some(std::process::id());

    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    // A command in a group of its own that reads the terminal would be
    // stopped (SIGTTIN): a job does not read a terminal.
    // SAFETY: isatty only looks at the descriptor.
    if unsafe { libc::isatty(0) } == 1 {
        cmd.stdin(Stdio::null());
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let (code, why) = match e.kind() {
                std::io::ErrorKind::NotFound => (127, format!("command not found: {}", program.to_string_lossy())),
                std::io::ErrorKind::PermissionDenied => {
                    (126, format!("permission denied: {}", program.to_string_lossy()))
                }
                _ => (126, format!("could not run {}: {}", program.to_string_lossy(), crate::exit::io_reason(&e))),
            };
            let _ = writeln!(std::io::stderr(), "ops-atomic run: {why}");
            record(start);
            let mut end = end_event(name, &run_id, code, None, false, started.elapsed(), why);
            end.message = format!("could not start: {}", end.output.clone().unwrap_or_default());
            record(end);
            return Ok(code as u8);
        }
    };
    let group = child.id() as i32;
    GROUP.store(group, Ordering::SeqCst);
    start.child = Some(child.id());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: `forward` only touches atomics and calls kill.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
    record(start);

    // Tee: each stream to where it was going, both into one tail.
    let tail = Arc::new(Mutex::new(Vec::<u8>::with_capacity(2 * jobs::TAIL_BYTES)));
    let (drained_tx, drained_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        readers += 1;
        tee(out, std::io::stdout(), Arc::clone(&tail), drained_tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        readers += 1;
        tee(err, std::io::stderr(), Arc::clone(&tail), drained_tx.clone());
    }
    drop(drained_tx);

    let timed_out = Arc::new(AtomicBool::new(false));
    let (ended_tx, ended_rx) = mpsc::channel::<()>();
    let killer = a.timeout.and_then(|t| t.to_std().ok()).map(|limit| {
        let timed_out = Arc::clone(&timed_out);
        std::thread::spawn(move || {
            if ended_rx.recv_timeout(limit) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            timed_out.store(true, Ordering::SeqCst);
            // SAFETY: signals to the command's own process group.
            unsafe { libc::kill(-group, libc::SIGTERM) };
            // The grace ends when the command itself has exited (the
            // sender is dropped once it is reaped): what it left behind in
            // its group gets SIGKILL then.
            let _ = ended_rx.recv_timeout(GRACE);
            // SAFETY: as above; whatever is left of the group.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        })
    });

    let status = child.wait();
    drop(ended_tx);
    if let Some(k) = killer {
        let _ = k.join();
    }
    let drain_until = Instant::now() + DRAIN;
    for _ in 0..readers {
        if drained_rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())).is_err() {
            break;
        }
    }
    let elapsed = started.elapsed();
    let timed_out = timed_out.load(Ordering::SeqCst);
    let (code, signal) = match &status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            match (s.code(), s.signal()) {
                (Some(c), _) => (c, None),
                (None, Some(sig)) => (128 + sig, Some(sig)),
                (None, None) => (1, None),
            }
        }
        Err(e) => {
            warn(&format!("could not wait for the command: {e}"));
            (1, None)
        }
    };
    let code = if timed_out { 124 } else { code };
    let bytes = tail.lock().map(|t| t.clone()).unwrap_or_default();
    let text = jobs::scrub_output(&jobs::tail_text(&bytes, jobs::TAIL_BYTES + 64));
    let text = jobs::tail_text(text.as_bytes(), jobs::TAIL_BYTES);
    record(end_event(name, &run_id, code, signal, timed_out, elapsed, text));
    if timed_out {
        let limit = a.timeout.map(crate::duration::human).unwrap_or_default();
        let _ = writeln!(std::io::stderr(), "ops-atomic run: {name}: timed out after {limit}: killed");
    }
    Ok((code & 0xff) as u8)
}

fn end_event(
    name: &str,
    run_id: &str,
    code: i32,
    signal: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
    tail: String,
) -> Event {
    let duration_ms = elapsed.as_millis() as u64;
    let mut end = Event::new(Utc::now(), &jobs::id(name), name, jobs::END, "");
    end.run = Some(run_id.to_string());
    end.pid = Some(std::process::id());
    end.exit = Some(code);
    end.signal = signal;
    end.timed_out = timed_out.then_some(true);
    end.duration_ms = Some(duration_ms);
    let how = jobs::End { at: end.ts, exit: code, signal, timed_out, duration_ms, tail: String::new() }.how();
    end.message = format!("{how} after {}", jobs::human_ms(duration_ms));
    end.output = (!tail.is_empty()).then_some(tail);
    end
}

/// Reads the config for its secrets (to scrub the output); a broken one is
/// said on stderr and the command runs all the same.
fn load_secrets(paths: &Paths, named: Option<&Path>, name: &str) {
    let named = named.map(crate::paths::absolute);
    match crate::config::load(&paths.default_config(), named.as_deref(), &|n| std::env::var(n).ok()) {
        Ok(loaded) => {
            crate::secret::register(loaded.config.secrets());
            if matches!(loaded.source, crate::config::Source::File { .. })
                && !loaded.config.job.iter().any(|j| j.name == name)
            {
                warn(&format!(
                    "no [[job]] named {name:?} in {}: the run is recorded, but nothing watches its schedule",
                    paths.default_config().display()
                ));
            }
        }
        Err(e) => warn(&format!("{}; running the command anyway", e.0)),
    }
}

/// Copies `from` to `to` as it comes, keeping the last bytes in `tail`;
/// says on `done` when `from` is closed. A caller that went away (a closed
/// pipe) does not stop the reading, so the command never blocks on it.
fn tee(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
    tail: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Sender<()>,
) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut writing = true;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if writing {
                writing = to.write_all(&buf[..n]).and_then(|()| to.flush()).is_ok();
            }
            if let Ok(mut t) = tail.lock() {
                t.extend_from_slice(&buf[..n]);
                if t.len() > 2 * jobs::TAIL_BYTES {
                    let cut = t.len() - jobs::TAIL_BYTES - 64;
                    t.drain(..cut);
                }
            }
        }
        let _ = done.send(());
    });
}
