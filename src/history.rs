//! The heartbeat history: one JSON line per heartbeat in
//! `g/state/heartbeat_history.jsonl`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{CheckResult, CheckStatus};
use crate::exit::Result;
use crate::fail;
use crate::jsonl::{self, Skipped, When};
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

/// The history of a window, read as a stream.
#[derive(Debug, Default)]
pub struct Recent {
    /// Oldest first (in the file's order): the window's lines, after the
    /// last line before it (which tells a summary the history began earlier).
    pub lines: Vec<Line>,
    pub skipped: Skipped,
    /// Set when the read stopped at its deadline.
    pub stopped: Option<jsonl::Stopped>,
}

/// Every line that parses from `start` on (all of them without one), and
/// the last line before `start`. A missing file is an empty history.
pub fn read_since(paths: &Paths, start: Option<DateTime<Utc>>, deadline: Option<std::time::Instant>) -> Result<Recent> {
    read_lines(paths, start, deadline, false)
}

fn read_lines(
    paths: &Paths,
    start: Option<DateTime<Utc>>,
    deadline: Option<std::time::Instant>,
    light: bool,
) -> Result<Recent> {
    let cutoff = start.map(jsonl::second_of);
    let mut r = Recent::default();
    // The last line before the window, kept raw and parsed at the end.
    let mut before: Option<Vec<u8>> = None;
    let mut bad = 0usize;
    let done = jsonl::each_line_of(&paths.history_file(), deadline, &mut r.skipped, |raw| {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if cutoff.as_ref().is_some_and(|c| jsonl::when(raw, c) == When::Before) {
            let b = before.get_or_insert_with(Vec::new);
            b.clear();
            b.extend_from_slice(raw);
            return;
        }
        match parse_line(raw) {
            Some(line) if start.is_some_and(|s| line.ts < s) => before = Some(raw.to_vec()),
            Some(line) => {
                if light && let Some(prev) = r.lines.last_mut() {
                    for c in &mut prev.checks {
                        c.message = String::new();
                        c.metrics = Default::default();
                        c.values = Default::default();
                    }
                }
                r.lines.push(line)
            }
            None => bad += 1,
        }
    })
    .map_err(|e| unreadable(paths, &e))?;
    r.stopped = done.err();
    r.skipped.unreadable += bad;
    if let Some(line) = before.as_deref().and_then(parse_line) {
        r.lines.insert(0, line);
    }
    Ok(r)
}

/// [`read_since`] for the summary and the page, which read each check's
/// status, latency and measurement of every line but not its message,
/// performance data or values: those are dropped as the lines are read
/// (a week of 20 checks is 40,000 of them), except from the newest line.
pub fn read_window(paths: &Paths, start: DateTime<Utc>, deadline: Option<std::time::Instant>) -> Result<Recent> {
    read_lines(paths, Some(start), deadline, true)
}

/// The newest line that parses, read from the end of the file (at most its
/// last 256 KB), for the menu bar; `None` when there is none.
pub fn last(paths: &Paths) -> Option<Line> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    const TAIL: u64 = 256 * 1024;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(paths.history_file())
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let from = meta.len().saturating_sub(TAIL);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    f.take(TAIL).read_to_end(&mut buf).ok()?;
    // The first piece may be the end of a line cut in half: it is skipped unless the read began at 0.
    let mut pieces: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
    if from > 0 && !pieces.is_empty() {
        pieces.remove(0);
    }
    pieces.into_iter().rev().filter(|l| !l.iter().all(u8::is_ascii_whitespace)).find_map(parse_line)
}

/// Every line that parses, oldest first, and the lines that did not.
pub fn read(paths: &Paths) -> Result<Recent> {
    read_since(paths, None, None)
}

fn unreadable(paths: &Paths, e: &std::io::Error) -> crate::exit::Error {
    fail!("could not read the history {}: {}", paths.history_file().display(), crate::exit::io_reason(e))
}

/// One line, with the fields lines of earlier releases lack filled in.
fn parse_line(raw: &[u8]) -> Option<Line> {
    let mut line = serde_json::from_slice::<Line>(raw).ok()?;
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
    Some(line)
}

/// What [`trim`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trimmed {
    pub kept: usize,
    pub dropped: usize,
    /// Unreadable lines (not JSON, over the line bound) dropped as well.
    pub unreadable: usize,
}

/// Drops lines older than `cutoff` and unreadable ones, streaming the kept
/// lines exactly as written (fields of newer releases too) into a new file
/// that replaces the old atomically, only when something goes (call with
/// the state lock held). Memory stays one line, whatever the file's size.
pub fn trim(paths: &Paths, cutoff: DateTime<Utc>) -> Result<Trimmed> {
    let path = paths.history_file();
    let mut t = Trimmed::default();
    let sec = jsonl::second_of(cutoff);
    let mut skipped = Skipped::default();
    // A first pass counts; the file is rewritten only when a line must go.
    let verdict = |raw: &[u8]| -> Option<bool> {
        match jsonl::when(raw, &sec) {
            When::Before => Some(false),
            When::AtOrAfter => Some(true),
            When::Unknown => serde_json::from_slice::<TsOnly>(raw).ok().map(|l| l.ts >= cutoff),
        }
    };
    jsonl::each_line_of(&path, None, &mut skipped, |raw| match verdict(raw) {
        _ if raw.iter().all(u8::is_ascii_whitespace) => {}
        Some(true) => t.kept += 1,
        Some(false) => t.dropped += 1,
        None => t.unreadable += 1,
    })
    .map_err(|e| unreadable(paths, &e))?
    .ok();
    t.unreadable += skipped.total();
    if t.dropped == 0 && t.unreadable == 0 {
        return Ok(t);
    }
    let source = std::fs::File::open(&path).map_err(|e| unreadable(paths, &e))?;
    crate::paths::write_atomic_with(&path, |out| {
        use std::io::Write;
        let mut failed = None;
        jsonl::each_line(source, None, &mut Skipped::default(), |raw| {
            if failed.is_none() && verdict(raw) == Some(true) {
                failed = out.write_all(raw).and_then(|()| out.write_all(b"\n")).err();
            }
        })?
        .ok();
        failed.map_or(Ok(()), Err)
    })?;
    Ok(t)
}

/// The one field [`trim`] needs of a line whose time is not in the writers' shape.
#[derive(Deserialize)]
struct TsOnly {
    ts: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Recent {
        let mut r = Recent::default();
        let mut bad = 0;
        jsonl::each_line(text.as_bytes(), None, &mut r.skipped, |raw| {
            if raw.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            match parse_line(raw) {
                Some(l) => r.lines.push(l),
                None => bad += 1,
            }
        })
        .unwrap()
        .unwrap();
        r.skipped.unreadable += bad;
        r
    }

    #[test]
    fn history_keeps_raw_lines_and_counts_unreadable_ones() {
        let text = "{\"ts\":\"2025-10-27T00:00:00Z\",\"status\":\"HEALTHY\",\"duration_ms\":1,\"checks\":[],\"future\":1}\nnot json\n\n";
        let h = parse(text);
        assert_eq!((h.lines.len(), h.skipped.unreadable), (1, 1));
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
