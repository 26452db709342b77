//! The heartbeat history: one JSON line per heartbeat in
//! `g/state/heartbeat_history.jsonl`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{CheckResult, CheckStatus};
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
    /// Seconds the machine slept since the heartbeat before (SPEC §15): a
    /// gap that was sleep is "asleep", not missed heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slept_s: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckLine {
    /// The check's id (SPEC §3); lines written before ids existed get one
    /// from their kind and name when read.
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: CheckStatus,
    pub latency_ms: u64,
    pub message: String,
    /// A command check's performance data, `{"label": value}` (SPEC §6).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// The numbers its conditions read, `{"[VALUE]": 14}` (SPEC §16).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, f64>,
    /// The one call that measured several checks at once (their latency is
    /// that call's): counted once in the slowest-checks list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
}

impl CheckLine {
    pub fn of(r: &CheckResult) -> CheckLine {
        CheckLine {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.to_string(),
            status: r.status,
            latency_ms: r.latency_ms,
            message: r.message.clone(),
            metrics: r.metrics.iter().map(|m| (m.label.clone(), m.value)).collect(),
            values: r.values.iter().map(|v| (v.placeholder.clone(), v.value)).collect(),
            measurement: r.measurement.map(str::to_string),
        }
    }
}

/// The id an old line's check had: a one-of-a-kind check ("Redis", kind
/// "redis") is its kind, the others are `<kind>:<name>`.
fn legacy_id(kind: &str, name: &str) -> String {
    if name.eq_ignore_ascii_case(kind) { kind.to_string() } else { format!("{kind}:{name}") }
}

/// Appends one line (call with the state lock held, so lines never interleave).
pub fn append(paths: &Paths, line: &Line) -> Result<()> {
    let text = serde_json::to_string(line).map_err(|e| fail!("could not encode the history line: {e}"))?;
    crate::paths::append_line(&paths.history_file(), "the history", &text)
}

/// The history as read once: the parsed lines and the raw text of each, so
/// a trim keeps the lines exactly as written (fields of newer releases too).
pub struct History {
    pub lines: Vec<Line>,
    raw: Vec<String>,
    /// Lines that did not parse.
    pub unreadable: usize,
}

/// Every line that parses, oldest first, and the count of lines that did
/// not. A missing file is an empty history.
pub fn read(paths: &Paths) -> Result<History> {
    let path = paths.history_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(fail!("could not read the history {}: {}", path.display(), crate::exit::io_reason(&e)));
        }
    };
    Ok(parse(&text))
}

fn parse(text: &str) -> History {
    let mut h = History { lines: Vec::new(), raw: Vec::new(), unreadable: 0 };
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Line>(l) {
            Ok(mut line) => {
                for c in line.checks.iter_mut() {
                    if c.id.is_empty() {
                        c.id = legacy_id(&c.kind, &c.name);
                    }
                    // Lines of earlier releases do not say that their
                    // LaunchAgent labels came from one `launchctl list`.
                    if c.measurement.is_none() && c.kind == "launchagent" {
                        c.measurement = Some(crate::checks::launchagent::MEASUREMENT.to_string());
                    }
                }
                h.lines.push(line);
                h.raw.push(l.to_string());
            }
            Err(_) => h.unreadable += 1,
        }
    }
    h
}

impl History {
    /// Drops lines older than `cutoff` and unreadable ones, rewriting the
    /// file atomically only when something goes (call with the state lock
    /// held). Returns (kept, dropped as old).
    pub fn trim(&mut self, paths: &Paths, cutoff: DateTime<Utc>) -> Result<(usize, usize)> {
        let keep: Vec<bool> = self.lines.iter().map(|l| l.ts >= cutoff).collect();
        let dropped = keep.iter().filter(|k| !**k).count();
        if dropped > 0 || self.unreadable > 0 {
            let mut text = String::new();
            for (raw, _) in self.raw.iter().zip(&keep).filter(|(_, k)| **k) {
                text.push_str(raw);
                text.push('\n');
            }
            crate::paths::write_atomic(&paths.history_file(), text.as_bytes())?;
            let mut k = keep.iter();
            self.lines.retain(|_| *k.next().unwrap_or(&true));
            let mut k = keep.iter();
            self.raw.retain(|_| *k.next().unwrap_or(&true));
        }
        Ok((self.lines.len(), dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_raw_lines_and_counts_unreadable_ones() {
        let text = "{\"ts\":\"2025-10-27T00:00:00Z\",\"status\":\"HEALTHY\",\"duration_ms\":1,\"checks\":[],\"future\":1}\nnot json\n\n";
        let h = parse(text);
        assert_eq!((h.lines.len(), h.unreadable), (1, 1));
        assert!(h.raw[0].contains("\"future\":1"));
    }

    #[test]
    fn lines_without_ids_get_the_ids_checks_have_now() {
        let text = r#"{"ts":"2025-10-27T00:00:00Z","status":"HEALTHY","duration_ms":1,"checks":[
            {"name":"Redis","kind":"redis","status":"ok","latency_ms":1,"message":""},
            {"name":"API Health","kind":"api","status":"ok","latency_ms":1,"message":""},
            {"name":"homebrew.mxcl.redis","kind":"launchagent","status":"ok","latency_ms":1,"message":""}]}"#;
        let h = parse(&text.replace('\n', ""));
        let ids: Vec<&str> = h.lines[0].checks.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["redis", "api:API Health", "launchagent:homebrew.mxcl.redis"]);
    }
}
