//! The event log `g/state/events.jsonl` (SPEC §10): one JSON line per
//! transition, incident, silence and notification, appended under the
//! state lock; read by `ops-atomic events`, `summary` and the daily report.

use chrono::{DateTime, Utc};

use crate::exit::Result;
use crate::fail;
use crate::jsonl::{self, Skipped, When};
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
    /// The run id of a `job_start` / `job_end` (SPEC §20): runs of one job at once are told apart by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The pid of the `ops-atomic run` wrapper (`job_start`): gone without a `job_end` = the wrapper was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The pid of a job's command (`job_start`; its process group too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u32>,
    /// How long a job's run took (`job_end`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// A job's run killed at its `--timeout` (`job_end`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    /// The signal that ended a job's command (`job_end`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
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
            run: None,
            pid: None,
            child: None,
            duration_ms: None,
            timed_out: None,
            signal: None,
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
    crate::paths::append_line_locked(&paths.events_file(), "the event log", &text)
}

/// Every event that parses, oldest first (in the log's order), from `since`
/// on. A missing log is empty. Read as a stream: lines before `since` are
/// passed over by their `"ts"` without being parsed.
pub fn read(paths: &Paths, since: Option<DateTime<Utc>>) -> Result<Vec<Event>> {
    let mut all = Vec::new();
    visit(paths, since, |e| all.push(e))?;
    Ok(all)
}

/// Hands every event that parses to `each`, oldest first, from `since` on,
/// one at a time (`events` prints them as they come, without holding the
/// log). A missing log has none. Returns the lines that could not be read.
pub fn visit(paths: &Paths, since: Option<DateTime<Utc>>, mut each: impl FnMut(Event)) -> Result<Skipped> {
    let cutoff = since.map(jsonl::second_of);
    let mut skipped = Skipped::default();
    let mut bad = Skipped::default();
    jsonl::each_line_of(&paths.events_file(), None, &mut skipped, |line| {
        if cutoff.as_ref().is_some_and(|c| jsonl::when(line, c) == When::Before) {
            return;
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(e) if since.is_none_or(|s| e.ts >= s) => each(e),
            Ok(_) => {}
            Err(_) => bad.unreadable += usize::from(!line.iter().all(u8::is_ascii_whitespace)),
        }
    })
    .map_err(|e| unreadable_log(paths, &e))?
    .map_err(|_| fail!("the event log read stopped early"))?;
    skipped.unreadable += bad.unreadable;
    Ok(skipped)
}

fn unreadable_log(paths: &Paths, e: &std::io::Error) -> crate::exit::Error {
    fail!("could not read the event log {}: {}", paths.events_file().display(), crate::exit::io_reason(e))
}

/// What a window of the log needs: its own events (those the incidents
/// read: `down`, `up`, `repair`, `notified`), and from before it only
/// what an incident still open at its start carries (its `down`, the
/// repairs since, the messages sent since). Kept that way, the reader's
/// memory follows the window, not the file.
#[derive(Debug, Default)]
pub struct Window {
    /// Oldest first: the carried events, then the window's in log order.
    pub events: Vec<Event>,
    pub skipped: Skipped,
    /// Set when the read stopped at its deadline (the events are then partial).
    pub stopped: Option<jsonl::Stopped>,
}

/// The keys the readers look for in a line, their searchers built once.
struct Keys {
    ts: jsonl::Key,
    kind: jsonl::Key,
    check: jsonl::Key,
    notification: jsonl::Key,
}

fn keys() -> &'static Keys {
    static KEYS: std::sync::OnceLock<Keys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| Keys {
        ts: jsonl::Key::new("ts"),
        kind: jsonl::Key::new("type"),
        check: jsonl::Key::new("check"),
        notification: jsonl::Key::new("notification"),
    })
}

/// An incident open at some point before the window, while reading.
struct Open {
    down: Vec<u8>,
    started: DateTime<Utc>,
    /// Its repairs: when, and the raw line when the carry keeps lines.
    repairs: Vec<(DateTime<Utc>, Option<Vec<u8>>)>,
}

/// What the lines before the window leave behind (see [`Window`]).
#[derive(Default)]
struct Carry {
    open: std::collections::HashMap<String, Open>,
    /// Messages sent while some incident was open.
    messages: Vec<(DateTime<Utc>, Option<Vec<u8>>)>,
    /// Keep the raw lines (compaction writes them back), not only the times.
    keep_raw: bool,
}

impl Carry {
    fn feed(&mut self, kind: &str, check: &str, ts: DateTime<Utc>, line: &[u8], notification: Option<&str>) {
        let raw = || self.keep_raw.then(|| line.to_vec());
        match kind {
            "down" => {
                // A second `down` without an `up` between: the first stays (as `incidents` pairs them).
                self.open.entry(check.to_string()).or_insert_with(|| Open {
                    down: line.to_vec(),
                    started: ts,
                    repairs: Vec::new(),
                });
            }
            "up" => {
                self.open.remove(check);
                match self.open.values().map(|o| o.started).min() {
                    None => self.messages.clear(),
                    Some(first) => self.messages.retain(|(t, _)| *t >= first),
                }
            }
            "repair" => {
                let raw = raw();
                if let Some(o) = self.open.get_mut(check) {
                    o.repairs.push((ts, raw));
                }
            }
            "notified" if !self.open.is_empty() && !matches!(notification, Some("daily" | "test")) => {
                let raw = raw();
                self.messages.push((ts, raw))
            }
            _ => {}
        }
    }

    /// A line from before the window, read by its fields where they are
    /// plain (the writers' shape), parsed where they are not. Most lines
    /// are decided by their type and check alone, without reading a time.
    fn feed_line(&mut self, line: &[u8], bad: &mut usize) {
        let keys = keys();
        let Some(kind) = keys.kind.plain(line) else { return self.parse_and_feed(line, bad) };
        let needs_check = matches!(kind, "down" | "up" | "repair");
        match kind {
            "down" | "up" | "repair" => {}
            "notified" if self.open.is_empty() => return,
            "notified" => {}
            _ => return,
        }
        let check = if needs_check {
            let Some(check) = keys.check.plain(line) else { return self.parse_and_feed(line, bad) };
            let open = self.open.contains_key(check);
            // An `up` or a repair of a check with nothing open, a second `down`: nothing to keep.
            if (kind == "down") == open {
                return;
            }
            if kind == "up" {
                return self.feed("up", check, DateTime::<Utc>::MIN_UTC, line, None);
            }
            check
        } else {
            ""
        };
        let notification = match keys.notification.plain(line) {
            None if keys.notification.present(line) => return self.parse_and_feed(line, bad),
            n => n,
        };
        let Some(ts) = keys.ts.plain(line).and_then(crate::log::parse_timestamp) else {
            return self.parse_and_feed(line, bad);
        };
        self.feed(kind, check, ts, line, notification)
    }

    fn parse_and_feed(&mut self, line: &[u8], bad: &mut usize) {
        match serde_json::from_slice::<Event>(line) {
            Ok(e) => self.feed_event(&e, line),
            Err(_) => *bad += usize::from(!line.iter().all(u8::is_ascii_whitespace)),
        }
    }

    fn feed_event(&mut self, e: &Event, line: &[u8]) {
        self.feed(&e.kind, &e.check, e.ts, line, e.notification.as_deref());
    }

    /// The carried events, oldest first.
    fn into_events(self) -> Vec<Event> {
        let mut out = Vec::new();
        for (check, o) in self.open {
            let Ok(down) = serde_json::from_slice::<Event>(&o.down) else { continue };
            out.push(down);
            out.extend(o.repairs.into_iter().map(|(ts, _)| Event::new(ts, &check, "", "repair", "")));
        }
        out.extend(self.messages.into_iter().map(|(ts, _)| {
            let mut e = Event::new(ts, "", "", "notified", "");
            e.notification = Some("alert".into());
            e
        }));
        out.sort_by_key(|e| e.ts);
        out
    }

    /// The carried lines as written, oldest first (for compaction).
    fn into_lines(self) -> Vec<(DateTime<Utc>, Vec<u8>)> {
        let mut out = Vec::new();
        for o in self.open.into_values() {
            out.push((o.started, o.down));
            out.extend(o.repairs.into_iter().filter_map(|(ts, raw)| Some((ts, raw?))));
        }
        out.extend(self.messages.into_iter().filter_map(|(ts, raw)| Some((ts, raw?))));
        out.sort_by_key(|(ts, _)| *ts);
        out
    }
}

/// An event as the window's readers need it: the incidents read a `down`'s
/// message and nothing else's, nor any repair's command or output.
fn slim(mut e: Event) -> Event {
    if e.kind != "down" {
        e.message = String::new();
    }
    e.output = None;
    e.command = None;
    e
}

/// The events of the window from `start` on, with what the incidents open
/// at its start carry from before it (see [`Window`]). Stops at `deadline`
/// (the heartbeat's page rewrite), saying so in [`Window::stopped`].
pub fn read_window(paths: &Paths, start: DateTime<Utc>, deadline: Option<std::time::Instant>) -> Result<Window> {
    let cutoff = jsonl::second_of(start);
    let mut carry = Carry::default();
    let mut w = Window::default();
    let mut bad = 0usize;
    let done = jsonl::each_line_of(&paths.events_file(), deadline, &mut w.skipped, |line| {
        if jsonl::when(line, &cutoff) == When::Before {
            return carry.feed_line(line, &mut bad);
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(e) if e.ts < start => carry.feed_event(&e, line),
            // Only what the incidents read: their downs, ups, repairs and messages.
            Ok(e) if matches!(e.kind.as_str(), "down" | "up" | "repair" | "notified") => w.events.push(slim(e)),
            Ok(_) => {}
            Err(_) => bad += usize::from(!line.iter().all(u8::is_ascii_whitespace)),
        }
    })
    .map_err(|e| unreadable_log(paths, &e))?;
    w.stopped = done.err();
    w.skipped.unreadable += bad;
    let mut events = carry.into_events();
    events.append(&mut w.events);
    w.events = events;
    Ok(w)
}

/// What [`compact`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Compacted {
    pub kept: usize,
    /// Older than the retention, gone.
    pub dropped: usize,
    /// Moved to `events.jsonl.1` because the log was over its size cap.
    pub rotated: usize,
    /// Kept from before the cut because an incident still open needs them.
    pub carried: usize,
    pub unreadable: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Keeps the event log bounded (the daily run, under the state lock):
/// events older than `retention_from` go; when what is left is over
/// `max_bytes`, the oldest whole days of it move to `events.jsonl.1`
/// (replacing the previous one), but never anything from `floor` on (what
/// the page's and the summary's windows read). An incident open at the cut
/// keeps its `down`, its repairs and the messages sent since. Unreadable
/// lines go. Streams the file twice; memory stays a few lines. The log is
/// rewritten atomically, only when something goes.
pub fn compact(
    paths: &Paths,
    now: DateTime<Utc>,
    retention_from: DateTime<Utc>,
    floor: DateTime<Utc>,
    max_bytes: u64,
) -> Result<Compacted> {
    let path = paths.events_file();
    let mut c =
        Compacted { bytes_before: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0), ..Default::default() };
    // Pass 1: the bytes of each day from the retention on, to find the cut.
    let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, u64> = Default::default();
    let mut older = 0usize;
    let mut skipped = Skipped::default();
    let time_of = |line: &[u8]| -> Option<DateTime<Utc>> {
        match keys().ts.plain(line).and_then(crate::log::parse_timestamp) {
            Some(t) => Some(t),
            None => serde_json::from_slice::<Event>(line).ok().map(|e| e.ts),
        }
    };
    jsonl::each_line_of(&path, None, &mut skipped, |line| {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match time_of(line) {
            None => c.unreadable += 1,
            Some(t) if t < retention_from => older += 1,
            Some(t) => *per_day.entry(t.date_naive()).or_default() += line.len() as u64 + 1,
        }
    })
    .map_err(|e| unreadable_log(paths, &e))?
    .ok();
    c.unreadable += skipped.total();
    let mut cut = retention_from;
    let mut left: u64 = per_day.values().sum();
    for (day, bytes) in &per_day {
        let next = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc()).unwrap_or(now);
        if left <= max_bytes || next > floor {
            break;
        }
        left -= bytes;
        cut = next;
    }
    if older == 0 && c.unreadable == 0 && cut == retention_from {
        c.kept = count_lines(&path).map_err(|e| unreadable_log(paths, &e))?;
        c.bytes_after = c.bytes_before;
        return Ok(c);
    }
    // Pass 2, in the log's (time) order: lines before the cut feed the
    // carry (and, from the retention on, the rotated copy); at the first line
    // from the cut on, the carried lines are written, then the rest as it is.
    let rotate = cut > retention_from;
    let rotated_path = path.with_file_name("events.jsonl.1");
    let source = std::fs::File::open(&path).map_err(|e| unreadable_log(paths, &e))?;
    let mut carry = Some(Carry { keep_raw: true, ..Default::default() });
    let mut rot_writer: Option<std::io::BufWriter<std::fs::File>> = None;
    let mut rot_tmp = None;
    if rotate {
        let tmp = path.with_file_name(format!(".events.jsonl.1.tmp-{}", crate::paths::unpredictable()));
        let f = crate::paths::open_no_follow(
            &tmp,
            std::fs::OpenOptions::new().write(true).create_new(true),
            crate::paths::FILE_MODE,
        )
        .map_err(|e| fail!("could not rotate the event log into {}: {}", tmp.display(), crate::exit::io_reason(&e)))?;
        rot_writer = Some(std::io::BufWriter::with_capacity(256 * 1024, f));
        rot_tmp = Some(tmp);
    }
    let mut io_error: Option<std::io::Error> = None;
    // `ops-atomic run` appends without the state lock (a job must not wait
    // for a heartbeat): this lock holds its line back until the rewritten log
    // is in place, and it then appends to the new file.
    let _appends_held = crate::paths::hold_append_lock(&path);
    let written = crate::paths::write_atomic_with(&path, |out| {
        use std::io::Write;
        let put = |w: &mut dyn Write, line: &[u8], err: &mut Option<std::io::Error>| {
            if err.is_none() {
                *err = w.write_all(line).and_then(|()| w.write_all(b"\n")).err();
            }
        };
        let cut_sec = jsonl::second_of(cut);
        let mut bad = 0usize;
        jsonl::each_line(source, None, &mut Skipped::default(), |line| {
            if line.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            let t = match jsonl::when(line, &cut_sec) {
                When::AtOrAfter if carry.is_none() => {
                    c.kept += 1;
                    return put(out, line, &mut io_error);
                }
                _ => time_of(line),
            };
            let Some(t) = t else {
                bad += 1;
                return;
            };
            if t >= cut || carry.is_none() {
                if let Some(k) = carry.take() {
                    for (_, raw) in k.into_lines() {
                        c.carried += 1;
                        put(out, &raw, &mut io_error);
                    }
                }
                c.kept += 1;
                return put(out, line, &mut io_error);
            }
            if let Some(k) = carry.as_mut() {
                k.feed_line(line, &mut bad);
            }
            if t < retention_from {
                c.dropped += 1;
            } else if let Some(w) = rot_writer.as_mut() {
                c.rotated += 1;
                put(w, line, &mut io_error);
            }
        })?
        .ok();
        // Nothing from the cut on: what is still open is all there is.
        if let Some(k) = carry.take() {
            for (_, raw) in k.into_lines() {
                c.carried += 1;
                put(out, &raw, &mut io_error);
            }
        }
        match io_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    });
    let mut finish_rotation = || -> std::io::Result<()> {
        if let (Some(mut w), Some(tmp)) = (rot_writer.take(), rot_tmp.as_ref()) {
            use std::io::Write;
            w.flush()?;
            w.get_ref().sync_all()?;
            std::fs::rename(tmp, &rotated_path)?;
        }
        Ok(())
    };
    if let Err(e) = written {
        if let Some(tmp) = &rot_tmp {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    if let Err(e) = finish_rotation() {
        if let Some(tmp) = &rot_tmp {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(fail!(
            "could not rotate the event log into {}: {}",
            rotated_path.display(),
            crate::exit::io_reason(&e)
        ));
    }
    c.bytes_after = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(c)
}

/// The lines of a file, counted as a stream.
fn count_lines(path: &std::path::Path) -> std::io::Result<usize> {
    let mut n = 0;
    jsonl::each_line_of(path, None, &mut Skipped::default(), |l| {
        n += usize::from(!l.iter().all(u8::is_ascii_whitespace))
    })?
    .ok();
    Ok(n)
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
    let failed_job = e.kind == "job_end" && (e.exit != Some(0) || e.timed_out == Some(true) || e.signal.is_some());
    match e.kind.as_str() {
        "job_start" => what = "job started".into(),
        "job_end" if failed_job => what = "job failed".into(),
        "job_end" => what = "job finished".into(),
        _ => {}
    }
    let mut text = format!("[{when}] {who}: {what}");
    if !e.message.is_empty() {
        text.push_str(" — ");
        text.push_str(&e.message);
    }
    // A failed run: the last line of its output says why.
    if failed_job && let Some(last) = e.output.as_deref().and_then(|o| o.lines().rev().find(|l| !l.trim().is_empty())) {
        let last: String = last.trim().chars().take(200).collect();
        text.push_str(&format!(": {last}"));
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
