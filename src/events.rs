//! The event log `g/state/events.jsonl` (SPEC §10): one JSON line per
//! transition, incident, silence and notification, appended under the
//! state lock; read by `ops-atomic events`, `summary` and the daily report.

use chrono::{DateTime, Utc};

use crate::exit::Result;
use crate::fail;
use crate::paths::Paths;
use serde::{Deserialize, Serialize};

/// One line of the event log (SPEC §10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(deserialize_with = "crate::log::de_timestamp")]
    pub ts: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub check: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lasted_s: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The message kind of a `notified` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a `repair` ran, as a command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A `repair`'s exit code (none when it timed out or could not start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// The tail of a `repair`'s output, scrubbed of secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The dependency this check fails because of (SPEC §15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
    /// How long the machine slept before this run (`awake`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slept_s: Option<i64>,
}

impl Event {
    pub fn new(ts: DateTime<Utc>, check: &str, name: &str, kind: &str, message: impl Into<String>) -> Event {
        Event {
            ts,
            check: check.into(),
            name: name.into(),
            kind: kind.into(),
            from: None,
            to: None,
            message: message.into(),
            lasted_s: None,
            channel: None,
            notification: None,
            reason: None,
            command: None,
            exit: None,
            output: None,
            caused_by: None,
            slept_s: None,
        }
    }
}

/// Appends events (call with the state lock held), in one write.
pub fn append(paths: &Paths, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for e in events {
        let line = serde_json::to_string(e).map_err(|e| fail!("could not encode an event: {e}"))?;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&crate::secret::scrub(&line));
    }
    crate::paths::append_line(&paths.events_file(), "the event log", &text)
}

/// Every event that parses, oldest first, from `since` on. A missing log is empty.
pub fn read(paths: &Paths, since: Option<DateTime<Utc>>) -> Result<Vec<Event>> {
    let text = log_text(paths)?;
    // Sized once: an event is a few hundred bytes, and growing a vector of
    // 100,000 by doubling copies them over and over.
    let mut all = Vec::with_capacity(text.bytes().filter(|&b| b == b'\n').count());
    parse_each(&text, since, |e| all.push(e));
    Ok(all)
}

/// Hands every event that parses to `each`, oldest first, from `since` on,
/// one at a time (`events` prints them as they come, without holding the
/// whole log). A missing log has none.
pub fn visit(paths: &Paths, since: Option<DateTime<Utc>>, each: impl FnMut(Event)) -> Result<()> {
    parse_each(&log_text(paths)?, since, each);
    Ok(())
}

/// The event log's text; empty when there is no log yet.
fn log_text(paths: &Paths) -> Result<String> {
    let path = paths.events_file();
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(fail!("could not read the event log {}: {}", path.display(), crate::exit::io_reason(&e))),
    }
}

fn parse_each(text: &str, since: Option<DateTime<Utc>>, mut each: impl FnMut(Event)) {
    for e in text.lines().filter_map(|l| serde_json::from_str::<Event>(l).ok()) {
        if since.is_none_or(|s| e.ts >= s) {
            each(e);
        }
    }
}

pub fn parse(text: &str) -> Vec<Event> {
    let mut all = Vec::new();
    parse_each(text, None, |e| all.push(e));
    all
}

/// `[2025-10-27 17:52:10] Redis: down — connection refused (3 failures)`, in local time.
pub fn line(e: &Event) -> String {
    let when = crate::log::local_seconds(e.ts.with_timezone(&chrono::Local).naive_local());
    let machine = matches!(e.kind.as_str(), "awake" | "boot");
    let who = match (e.name.is_empty(), e.check.is_empty()) {
        (false, _) => e.name.as_str(),
        (true, false) => e.check.as_str(),
        (true, true) if machine => "this machine",
        (true, true) => "every check",
    };
    let mut what = e.kind.clone();
    if e.kind == "status" {
        what = format!("{} → {}", e.from.as_deref().unwrap_or("new"), e.to.as_deref().unwrap_or("?"));
    }
    if let (Some(ch), Some(kind)) = (&e.channel, &e.notification) {
        what = format!("notified {ch} ({kind})");
    }
    let mut text = format!("[{when}] {who}: {what}");
    if !e.message.is_empty() {
        text.push_str(" — ");
        text.push_str(&e.message);
    }
    if let Some(s) = e.lasted_s {
        text.push_str(&format!(" (after {})", crate::duration::human(chrono::Duration::seconds(s))));
    }
    if let Some(c) = &e.caused_by {
        text.push_str(&format!(" (caused by {c})"));
    }
    if let Some(r) = &e.reason {
        text.push_str(&format!(" [{r}]"));
    }
    text
}
