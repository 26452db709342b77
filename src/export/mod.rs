//! Files written for other tools at the end of every heartbeat (SPEC §4
//! step 7, §11). Each format is one file here behind [`Exporter`]: it
//! renders the heartbeat's outcome ([`Run`], read-only: exporters carry out
//! what the heartbeat decided, never decide) into text, and this module
//! writes the text atomically. The heartbeat names no format.
//!
//! A failure to export is a WARN line for the caller, never an exit code:
//! the checks, the state and the notifications already stand.

pub mod prometheus;
pub mod pushgateway;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::checks::CheckResult;
use crate::config::Export;
use crate::exit::Status;
use crate::state::State;

/// One heartbeat as the exporters see it.
pub struct Run<'a> {
    /// How messages name this machine (`monitor.host_name` or the host name).
    pub host: &'a str,
    pub results: &'a [CheckResult],
    /// The state as saved in step 5: incidents, runs, pending messages.
    pub state: &'a State,
    pub status: Status,
    pub duration_ms: u64,
    pub now: DateTime<Utc>,
    /// The configured channels, so one with nothing pending shows 0.
    pub channels: Vec<String>,
    /// The jobs over the last 24 hours (SPEC §20).
    pub jobs: Vec<crate::jobs::Stats>,
}

/// One export format, written to one file.
pub trait Exporter {
    /// How log lines name it: "Prometheus textfile".
    fn label(&self) -> &'static str;
    fn path(&self) -> &Path;
    /// The file's mode (the folder is the reader's, not ours: never created here).
    fn mode(&self) -> u32;
    /// The file's whole text. Pure.
    fn render(&self, run: &Run) -> String;
}

/// The exporters the config asks for; a new format is one line here.
pub fn exporters(cfg: &Export) -> Vec<Box<dyn Exporter>> {
    let mut all: Vec<Box<dyn Exporter>> = Vec::new();
    if !cfg.prometheus_textfile.is_empty() {
        all.push(Box::new(prometheus::Textfile { path: PathBuf::from(&cfg.prometheus_textfile) }));
    }
    all
}

/// Writes every configured export atomically (a temporary file in the same
/// folder, then a rename, so a reader never sees half a file), without an
/// fsync: each is rewritten every run. Returns a
/// line per file: `Ok` what was written, `Err` why not (for a WARN).
pub fn write_all(cfg: &Export, run: &Run) -> Vec<Result<String, String>> {
    exporters(cfg)
        .iter()
        .map(|e| {
            let path = e.path();
            let missing = path.parent().filter(|dir| !dir.is_dir());
            if let Some(dir) = missing {
                return Err(format!(
                    "{} not written: the folder {} does not exist (create it, or fix export.prometheus_textfile)",
                    e.label(),
                    dir.display()
                ));
            }
            let text = crate::secret::scrub(&e.render(run));
            crate::paths::write_atomic_unsynced(path, text.as_bytes(), e.mode())
                .map(|()| format!("{} written: {}", e.label(), path.display()))
                .map_err(|err| format!("{} not written: {err}", e.label()))
        })
        .collect()
}
