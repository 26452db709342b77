//! `ops-atomic page [--since DUR] [--output FILE] [--open]` (SPEC §14):
//! writes the status page now, and opens it when asked.

use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};

use crate::config::Config;
use crate::exit::Result;
use crate::log;
use crate::paths::Paths;

/// How long an opener may take to fail before we stop watching it (it may
/// stay running as the browser itself).
const OPENER_WATCH: StdDuration = StdDuration::from_secs(2);

/// Writes the page over the last `since` (to `output`, or the default
/// place), prints where it went, and opens it with `open`.
pub fn run(paths: &Paths, cfg: &Config, since: Duration, output: Option<&Path>, open: bool) -> Result<u8> {
    let (path, problem) = crate::page::write(paths, cfg, Utc::now(), since, output)?;
    if let Some(p) = problem {
        log::warn(&p);
    }
    println!("✅ status page written: {}", path.display());
    if open {
        open_in_browser(&path);
    }
    Ok(0)
}

/// The program that opens a file in the user's browser.
fn opener() -> &'static str {
    if cfg!(target_os = "macos") { "open" } else { "xdg-open" }
}

/// Opens `path`; an opener that is missing or fails is a WARN, not a
/// failure: the page is written either way.
fn open_in_browser(path: &Path) {
    let program = opener();
    let child = std::process::Command::new(program).arg(path).stdin(std::process::Stdio::null()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::NotFound { "not found".to_string() } else { e.to_string() };
            log::warn(&format!("could not open the page with {program} ({why}): open {} yourself", path.display()));
            return;
        }
    };
    let started = Instant::now();
    while started.elapsed() < OPENER_WATCH {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return,
            Ok(Some(status)) => {
                log::warn(&format!("{program} could not open the page ({status}): open {} yourself", path.display()));
                return;
            }
            Ok(None) => std::thread::sleep(StdDuration::from_millis(20)),
            Err(_) => return,
        }
    }
}
