//! The heartbeat history: one JSON line per heartbeat in
//! `g/state/heartbeat_history.jsonl`.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{CheckStatus, Kind};
use crate::exit::Result;
use crate::fail;
use crate::paths::Paths;

/// One heartbeat, as the history records it (SPEC §6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub ts: DateTime<Utc>,
    pub status: String,
    pub duration_ms: u64,
    pub checks: Vec<CheckLine>,
    /// Notifications this heartbeat decided on ("alert", "reminder", "recovery").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckLine {
    pub name: String,
    pub kind: Kind,
    pub status: CheckStatus,
    pub latency_ms: u64,
    pub message: String,
}

/// Appends one line (call with the state lock held, so lines never interleave).
pub fn append(paths: &Paths, line: &Line) -> Result<()> {
    let path = paths.history_file();
    let mut text = serde_json::to_string(line).map_err(|e| fail!("could not encode the history line: {e}"))?;
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| fail!("could not open the history {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    // One write call: a crash leaves a whole line or none.
    f.write_all(text.as_bytes())
        .map_err(|e| fail!("could not append to the history {}: {}", path.display(), crate::exit::io_reason(&e)))
}

/// Every line that parses, oldest first, and the count of lines that did not.
pub fn read(paths: &Paths) -> (Vec<Line>, usize) {
    let Ok(text) = std::fs::read_to_string(paths.history_file()) else {
        return (Vec::new(), 0);
    };
    let mut bad = 0;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str::<Line>(l) {
            Ok(line) => Some(line),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    (lines, bad)
}
