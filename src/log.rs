//! Log lines: `[2025-10-27T17:52:09.831Z] [INFO] message`.
//!
//! They go to stdout, or to stderr when `--json` owns stdout. Every line is
//! scrubbed of secrets before it is written.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static TO_STDERR: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Sends log lines to stderr (for `--json`, whose document owns stdout).
pub fn to_stderr(yes: bool) {
    TO_STDERR.store(yes, Ordering::Relaxed);
}

/// Silences INFO lines (commands such as `status` that print their own text).
pub fn quiet(yes: bool) {
    QUIET.store(yes, Ordering::Relaxed);
}

/// The timestamp format of log lines and reports: UTC with milliseconds.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn line(level: Level, msg: &str) -> String {
    format!("[{}] [{}] {}", timestamp(chrono::Utc::now()), level.as_str(), crate::secret::scrub(msg))
}

pub fn write(level: Level, msg: &str) {
    if level == Level::Info && QUIET.load(Ordering::Relaxed) {
        return;
    }
    let text = line(level, msg) + "\n";
    // A closed stdout (e.g. piped into `head`) must not turn into a panic.
    if TO_STDERR.load(Ordering::Relaxed) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// A command's own output (`--json`), as `println!` without its panic
/// when stdout cannot be written (closed, or a log file on a full disk).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n"));
}

pub fn info(msg: &str) {
    write(Level::Info, msg)
}

pub fn warn(msg: &str) {
    write(Level::Warn, msg)
}

pub fn error(msg: &str) {
    write(Level::Error, msg)
}
