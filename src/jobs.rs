//! The job records (SPEC §20): what `ops-atomic run` writes and everything
//! that reads it — the `[[job]]` check, `summary`, the daily report, the
//! page and the Prometheus file.
//!
//! Each job has its own file, `g/state/jobs/<slug>.jsonl`: the same
//! `job_start` / `job_end` lines that also go to the event log (one
//! [`Event`] shape for both), appended under a `flock` on the file, so
//! twenty runs of one job at once lose no line, and without the state
//! lock, so a job never waits for a heartbeat. The file is trimmed to its
//! last [`KEEP_LINES`] lines when it passes [`TRIM_BYTES`]. The heartbeat
//! reads only the files of the configured jobs, never the event log.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::events::Event;
use crate::exit::Result;
use crate::paths::Paths;

/// The event types of a run.
pub const START: &str = "job_start";
pub const END: &str = "job_end";

/// The output kept of a run, in bytes (the last ones, at a char boundary).
pub const TAIL_BYTES: usize = 4096;

/// A job file past this size is cut to its last [`KEEP_LINES`] lines (its
/// last 1,000 runs), and only the newest [`KEEP_OUTPUTS`] ends keep their
/// output: what is left is about 0.6 MB, so the trim comes back after some
/// 70 runs with full outputs, and the heartbeat reads little.
const TRIM_BYTES: u64 = 1024 * 1024;
const KEEP_LINES: usize = 2000;
const KEEP_OUTPUTS: usize = 20;

/// The check id of a job: `job:<name>`.
pub fn id(name: &str) -> String {
    format!("job:{name}")
}

/// `g/state/jobs`.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.state_dir().join("jobs")
}

/// The file name of a job: its name where it is plain (letters, digits,
/// `-`, `_`, `.`), else that with the rest replaced and a hash of the
/// whole name, so two names never share a file.
pub fn slug(name: &str) -> String {
    let plain: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let plain = plain.trim_start_matches('.');
    if plain == name && !name.is_empty() && name.len() <= 100 {
        return name.to_string();
    }
    // FNV-1a: stable across versions and machines (std's hasher is not).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let short: String = plain.chars().take(60).collect();
    format!("{short}-{h:08x}")
}

/// `g/state/jobs/<slug>.jsonl`.
pub fn file(paths: &Paths, name: &str) -> PathBuf {
    dir(paths).join(format!("{}.jsonl", slug(name)))
}

/// Appends a run's line to its job file and to the event log. The job file
/// is the record the heartbeat judges; the event log is what `events` shows.
pub fn record(paths: &Paths, name: &str, e: &Event) -> Result<()> {
    crate::paths::ensure_dir(&dir(paths))?;
    let line = serde_json::to_string(e).map_err(|err| crate::fail!("could not encode a job record: {err}"))?;
    let line = crate::secret::scrub(&line);
    let path = file(paths, name);
    crate::paths::append_line_locked(&path, "the job file", &line)?;
    if e.kind == END && std::fs::metadata(&path).is_ok_and(|m| m.len() > TRIM_BYTES) {
        crate::paths::rewrite_locked(&path, |bytes| Some(slim(&last_lines(bytes, KEEP_LINES), KEEP_OUTPUTS)))?;
    }
    crate::paths::append_line_locked(&paths.events_file(), "the event log", &line)
}

/// Drops the `output` of every `job_end` but the newest `keep`; a line
/// that does not parse, or holds no output, is kept as it is.
fn slim(bytes: &[u8], keep: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let ends: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| memchr::memmem::find(l, END.as_bytes()).is_some())
        .map(|(i, _)| i)
        .collect();
    let slimmed: std::collections::HashSet<usize> = ends[..ends.len().saturating_sub(keep)].iter().copied().collect();
    let mut out = Vec::with_capacity(bytes.len());
    for (i, l) in lines.iter().enumerate() {
        let mut line = l.to_vec();
        if slimmed.contains(&i)
            && let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice::<serde_json::Value>(l)
            && m.get("type").and_then(|t| t.as_str()) == Some(END)
            && m.remove("output").is_some()
            && let Ok(v) = serde_json::to_vec(&m)
        {
            line = v;
        }
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

fn last_lines(bytes: &[u8], keep: usize) -> Vec<u8> {
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let mut out = Vec::new();
    for l in &lines[lines.len().saturating_sub(keep)..] {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// The records of one job, oldest first; a missing file has none, a line
/// that does not parse is passed over.
pub fn read(paths: &Paths, name: &str) -> Vec<Event> {
    read_file(&file(paths, name))
}

fn read_file(path: &Path) -> Vec<Event> {
    let Ok(f) = crate::paths::open_no_follow(path, std::fs::OpenOptions::new().read(true), crate::paths::FILE_MODE)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let _ = crate::jsonl::each_line(f, None, &mut crate::jsonl::Skipped::default(), |line| {
        if let Ok(e) = serde_json::from_slice::<Event>(line)
            && (e.kind == START || e.kind == END)
        {
            out.push(e);
        }
    });
    out
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    pub at: DateTime<Utc>,
    /// The exit code `run` passed on (128+N for a signal, 124 at the timeout).
    pub exit: i32,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The last 4 KB of output, scrubbed.
    pub tail: String,
}

impl End {
    pub fn ok(&self) -> bool {
        self.exit == 0 && !self.timed_out && self.signal.is_none()
    }

    /// "exit 3", "timed out (killed)", "killed by signal 9".
    pub fn how(&self) -> String {
        if self.timed_out {
            "timed out (killed at its --timeout)".to_string()
        } else if let Some(s) = self.signal {
            format!("killed by signal {s}{}", signal_name(s).map(|n| format!(" ({n})")).unwrap_or_default())
        } else {
            format!("exit {}", self.exit)
        }
    }
}

/// One run of a job: its start, and its end when it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub started: DateTime<Utc>,
    /// The wrapper's pid.
    pub pid: Option<u32>,
    pub end: Option<End>,
    /// Without an end: whether its wrapper is still running (filled by
    /// [`mark_alive`]; a pure judgement takes it as given).
    pub alive: bool,
    /// The command's pid, and (without an end, its wrapper gone) whether
    /// it still runs, orphaned.
    pub child: Option<u32>,
    pub orphan_alive: bool,
}

/// The runs in the records, by start, oldest first: a start and the end of
/// the same run id make one run; an end without its start (trimmed away)
/// still counts, started at its time minus its duration.
pub fn runs(records: &[Event]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in records {
        let Some(id) = e.run.clone() else { continue };
        if e.kind == START {
            at.insert(id.clone(), out.len());
            out.push(Run {
                id,
                started: e.ts,
                pid: e.pid,
                end: None,
                alive: false,
                child: e.child,
                orphan_alive: false,
            });
        } else if e.kind == END {
            let end = End {
                at: e.ts,
                exit: e.exit.unwrap_or(-1),
                signal: e.signal,
                timed_out: e.timed_out.unwrap_or(false),
                duration_ms: e.duration_ms.unwrap_or(0),
                tail: e.output.clone().unwrap_or_default(),
            };
            match at.get(&id) {
                Some(&i) => out[i].end = Some(end),
                None => {
                    let took = chrono::Duration::try_milliseconds(i64::try_from(end.duration_ms).unwrap_or(i64::MAX));
                    let started = took.and_then(|d| e.ts.checked_sub_signed(d)).unwrap_or(e.ts);
                    at.insert(id.clone(), out.len());
                    out.push(Run {
                        id,
                        started,
                        pid: e.pid,
                        end: Some(end),
                        alive: false,
                        child: None,
                        orphan_alive: false,
                    });
                }
            }
        }
    }
    out.sort_by_key(|r| r.started);
    out
}

/// Sets `alive` on the runs without an end: their wrapper's pid still
/// exists and the run began in this boot (a pid from before a restart is
/// someone else's now).
pub fn mark_alive(runs: &mut [Run], boot: Option<DateTime<Utc>>) {
    for r in runs.iter_mut().filter(|r| r.end.is_none()) {
        let this_boot = boot.is_none_or(|b| r.started >= b);
        let ours = |pid: u32| pid_alive(pid) && started_by(pid, r.started);
        r.alive = r.pid.is_some_and(ours) && this_boot;
        r.orphan_alive = !r.alive && this_boot && r.child.is_some_and(ours);
    }
}

/// How far a process's start time may lag the record written after it
/// started (the kernel's boot time is whole seconds).
const STARTED_SLACK_S: i64 = 2;

/// Whether the process now holding `pid` may be the one a run recorded at
/// `recorded`: it started before the record was written. A process that
/// started later has only been given the pid again. When the start time
/// cannot be read, the pid is taken as the run's.
fn started_by(pid: u32, recorded: DateTime<Utc>) -> bool {
    process_started(pid).is_none_or(|t| t <= recorded + chrono::Duration::seconds(STARTED_SLACK_S))
}

/// When the process `pid` started: `/proc/<pid>/stat`'s start time (clock
/// ticks after boot) on Linux.
#[cfg(target_os = "linux")]
pub fn process_started(pid: u32) -> Option<DateTime<Utc>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's closing parenthesis: state is field 3, starttime field 22.
    let ticks: i64 = stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let boot = crate::sleep::measure()?.boot_time?;
    boot.checked_add_signed(chrono::Duration::milliseconds(ticks.checked_mul(1000)? / hz))
}

/// When the process `pid` started: `proc_pidinfo(PROC_PIDTBSDINFO)` on macOS.
#[cfg(target_os = "macos")]
pub fn process_started(pid: u32) -> Option<DateTime<Utc>> {
    let pid = libc::c_int::try_from(pid).ok()?;
    // SAFETY: a zeroed proc_bsdinfo is a valid value of this plain C struct.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: proc_pidinfo writes at most `size` bytes into `info`.
    let n = unsafe {
        libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, (&mut info as *mut libc::proc_bsdinfo).cast(), size)
    };
    if n != size {
        return None;
    }
    DateTime::from_timestamp(i64::try_from(info.pbi_start_tvsec).ok()?, 0)
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn process_started(_pid: u32) -> Option<DateTime<Utc>> {
    None
}

/// Whether a process with this pid exists (ours to signal or not).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && !zombie(pid)
}

/// A process that has exited and not been reaped yet (an orphan waits for
/// init to reap it; in a container that may be never): gone for us.
#[cfg(target_os = "linux")]
fn zombie(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()).map(|st| st == "Z" || st == "X"))
        .unwrap_or(false)
}

/// launchd reaps orphans at once.
#[cfg(not(target_os = "linux"))]
fn zombie(_pid: libc::pid_t) -> bool {
    false
}

/// The usual name of a signal.
pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// What `summary`, the daily report, the page and the Prometheus file say
/// about one job over a window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    pub id: String,
    pub name: String,
    /// Runs that started in the window.
    pub runs: usize,
    /// Of those, the ones that ended failed (exit ≠ 0, timed out, killed)
    /// or never ended (the wrapper was killed).
    pub failures: usize,
    /// Runs going on now.
    pub running: usize,
    /// Durations of the runs that ended in the window, in ms.
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    /// The newest run, in the window or not.
    pub last: Option<Last>,
}

/// The newest run of a job.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Last {
    pub started: DateTime<Utc>,
    /// `ok`, `failed`, `running`, `never finished`.
    pub outcome: String,
    /// "exit 0", "exit 3", "timed out …", "the wrapper was killed".
    pub how: String,
    pub exit: Option<i32>,
    pub duration_ms: Option<u64>,
}

/// The statistics of one job's runs from `since` on. Pure over the runs
/// (with `alive` already marked).
pub fn stats(name: &str, runs: &[Run], since: DateTime<Utc>) -> Stats {
    let window: Vec<&Run> = runs.iter().filter(|r| r.started >= since).collect();
    let failures = window.iter().filter(|r| r.end.as_ref().map_or(!r.alive, |e| !e.ok())).count();
    let running = runs.iter().filter(|r| r.end.is_none() && r.alive).count();
    let mut durations: Vec<u64> = window.iter().filter_map(|r| r.end.as_ref().map(|e| e.duration_ms)).collect();
    durations.sort_unstable();
    let last = runs.last().map(|r| match &r.end {
        Some(e) => Last {
            started: r.started,
            outcome: if e.ok() { "ok" } else { "failed" }.to_string(),
            how: e.how(),
            exit: Some(e.exit),
            duration_ms: Some(e.duration_ms),
        },
        None if r.alive => Last {
            started: r.started,
            outcome: "running".into(),
            how: "still running".into(),
            exit: None,
            duration_ms: None,
        },
        None => Last {
            started: r.started,
            outcome: "never finished".into(),
            how: "never finished (the wrapper was killed)".into(),
            exit: None,
            duration_ms: None,
        },
    });
    Stats {
        id: id(name),
        name: name.to_string(),
        runs: window.len(),
        failures,
        running,
        p50_ms: percentile(&durations, 50),
        p95_ms: percentile(&durations, 95),
        last,
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Every job that has a file under `g/state/jobs` and every name given
/// (the configured ones, run or not), by name, each with its statistics
/// from `since` on.
pub fn all_stats(paths: &Paths, configured: &[String], since: DateTime<Utc>) -> Vec<Stats> {
    let mut by_name: std::collections::BTreeMap<String, Vec<Event>> = Default::default();
    for n in configured {
        by_name.entry(n.clone()).or_default();
    }
    if let Ok(entries) = std::fs::read_dir(dir(paths)) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "jsonl") {
                continue;
            }
            let records = read_file(&path);
            let Some(name) = records.iter().rev().find(|e| !e.name.is_empty()).map(|e| e.name.clone()) else {
                continue;
            };
            by_name.insert(name, records);
        }
    }
    let boot = crate::sleep::measure().and_then(|c| c.boot_time);
    by_name
        .into_iter()
        .map(|(name, records)| {
            let mut rs = runs(&records);
            mark_alive(&mut rs, boot);
            stats(&name, &rs, since)
        })
        .collect()
}

/// One job as the summary, the daily report and the page show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub runs: usize,
    pub failures: usize,
    pub running: usize,
    /// "12 s", or "—" without a finished run.
    pub p50: String,
    pub p95: String,
    /// When the newest run started (UTC, `YYYY-MM-DD HH:MM`), "" if never.
    pub last_at: String,
    /// "ok, exit 0 after 12 s", "failed, exit 3 after 2 s", "running", "never finished (the wrapper was killed)".
    pub last: String,
    /// `ok`, `fail`, `warn` (running) or `none`: the page's CSS class.
    pub class: &'static str,
}

impl Stats {
    pub fn row(&self) -> Row {
        let ms = |v: Option<u64>| v.map_or_else(|| "—".to_string(), human_ms);
        let (last_at, last, class) = match &self.last {
            None => (String::new(), "never run".to_string(), "none"),
            Some(l) => {
                let at = l.started.format("%Y-%m-%d %H:%M").to_string();
                match l.outcome.as_str() {
                    "ok" | "failed" => {
                        let took = l.duration_ms.map(|d| format!(" after {}", human_ms(d))).unwrap_or_default();
                        let class = if l.outcome == "ok" { "ok" } else { "fail" };
                        (at, format!("{}, {}{took}", l.outcome, l.how), class)
                    }
                    "running" => (at, "running".to_string(), "warn"),
                    _ => (at, l.how.clone(), "fail"),
                }
            }
        };
        Row {
            id: self.id.clone(),
            name: self.name.clone(),
            runs: self.runs,
            failures: self.failures,
            running: self.running,
            p50: ms(self.p50_ms),
            p95: ms(self.p95_ms),
            last_at,
            last,
            class,
        }
    }
}

/// The names of the configured `[[job]]`s.
pub fn configured(cfg: &crate::config::Config) -> Vec<String> {
    cfg.job.iter().map(|j| j.name.clone()).collect()
}

/// "12 s", "1.2 s", "340 ms": a run's duration for people.
pub fn human_ms(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => crate::checks::human_secs(ms / 1000),
    }
}

/// The last `max` bytes of `bytes` as text: cut at a char boundary (a
/// partial character at the cut is dropped, invalid bytes replaced).
pub fn tail_text(bytes: &[u8], max: usize) -> String {
    let mut start = bytes.len().saturating_sub(max);
    // Skip UTF-8 continuation bytes: the character they belong to was cut.
    while start < bytes.len() && start > 0 && (bytes[start] & 0xC0) == 0x80 {
        start += 1;
    }
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Scrubs the obvious secrets from a command's output, besides the
/// configured ones ([`crate::secret::scrub`]): a URL's password, the value
/// after `password=`, `token:` and the like, a `Bearer` token, and tokens
/// that say what they are (`ghp_…`, `github_pat_…`, `glpat-…`, `xox?-…`,
/// `sk-…`, `AKIA…`).
pub fn scrub_output(text: &str) -> String {
    let text = crate::secret::scrub(text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut prev = String::new();
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        // "Bearer <token>", "password: <value>"
        let value_of_prev = prev == "bearer"
            || (prev.ends_with([':', '=']) && SECRET_KEYS.iter().any(|k| prev[..prev.len() - 1].ends_with(k)));
        out.push_str(&scrub_word(word, value_of_prev));
        prev = word.trim_start_matches(|c: char| !c.is_ascii_alphanumeric()).to_ascii_lowercase();
        let ws = after.find(|c: char| !c.is_whitespace()).unwrap_or(after.len());
        out.push_str(&after[..ws]);
        rest = &after[ws..];
    }
    out
}

const SECRET_KEYS: [&str; 9] =
    ["password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "access_key", "private_key"];
const TOKEN_PREFIXES: [&str; 9] = ["ghp_", "gho_", "ghs_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "sk-", "AKIA"];

fn scrub_word(word: &str, is_value: bool) -> String {
    if word.is_empty() {
        return String::new();
    }
    if is_value && word.len() >= 3 {
        return "***".into();
    }
    // scheme://user:password@host
    if let Some(i) = word.find("://") {
        let auth_from = i + 3;
        if let Some(at) = word[auth_from..].find('@').map(|a| a + auth_from)
            && let Some(colon) = word[auth_from..at].find(':').map(|c| c + auth_from)
        {
            return format!("{}***{}", &word[..=colon], scrub_word(&word[at..], false));
        }
    }
    // key=value, key:value, "key": "value"
    let lower = word.to_ascii_lowercase();
    for sep in ['=', ':'] {
        if let Some(i) = word.find(sep) {
            let key = lower[..i].trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            if SECRET_KEYS.iter().any(|k| key.ends_with(k)) && i + 1 < word.len() {
                let value = &word[i + 1..];
                let keep_quote = if value.starts_with('"') { "\"" } else { "" };
                return format!("{}{keep_quote}***", &word[..=i]);
            }
        }
    }
    let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-');
    if bare.len() >= 16 && TOKEN_PREFIXES.iter().any(|p| bare.starts_with(p)) {
        return word.replace(bare, "***");
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_start_time_is_read_and_a_later_process_is_not_the_run_s() {
        let me = std::process::id();
        let started = process_started(me).expect("this process's start time");
        assert!(started <= Utc::now(), "{started}");
        assert!(started_by(me, Utc::now()));
        // Recorded an hour before this process started: its pid was someone else's then.
        assert!(!started_by(me, started - chrono::Duration::hours(1)));
    }

    #[test]
    fn a_trimmed_job_file_keeps_its_last_runs_and_only_the_newest_outputs() {
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(&format!(
                "{{\"ts\":\"2026-12-0{}T01:00:00Z\",\"type\":\"job_start\",\"run\":\"r{i}\"}}\n",
                i % 9 + 1
            ));
            text.push_str(&format!(
                "{{\"ts\":\"2026-12-0{}T01:05:00Z\",\"type\":\"job_end\",\"run\":\"r{i}\",\"exit\":{i},\"output\":\"out {i}\"}}\n",
                i % 9 + 1
            ));
        }
        text.push_str("not json\n");
        let out = String::from_utf8(slim(&last_lines(text.as_bytes(), 12), 2)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 12);
        assert_eq!(lines.last(), Some(&"not json"));
        let outputs: Vec<&str> = lines.iter().filter(|l| l.contains("\"output\"")).copied().collect();
        assert_eq!(outputs.len(), 2, "{out}");
        assert!(outputs[0].contains("out 8") && outputs[1].contains("out 9"), "{out}");
        // The ends without output keep everything else.
        assert!(
            lines.iter().any(|l| l.contains("\"run\":\"r5\"") && l.contains("\"exit\":5") && l.contains("job_end"))
        );
    }

    fn ev(kind: &str, run: &str, secs: i64) -> Event {
        let mut e = Event::new(DateTime::from_timestamp(secs, 0).unwrap(), "job:b", "b", kind, "");
        e.run = Some(run.into());
        e
    }

    #[test]
    fn slugs_are_file_names_and_never_shared() {
        assert_eq!(slug("backup"), "backup");
        assert_eq!(slug("db-dump_2.x"), "db-dump_2.x");
        let a = slug("nightly backup");
        assert!(a.starts_with("nightly_backup-"), "{a}");
        assert_ne!(slug("a/b"), slug("a_b"));
        assert!(!slug("../x").contains('/'));
        assert!(!slug(".hidden").starts_with('.'));
    }

    #[test]
    fn starts_and_ends_pair_by_run_id() {
        let mut end = ev(END, "r1", 20);
        end.exit = Some(3);
        end.duration_ms = Some(10_000);
        let records = vec![ev(START, "r1", 10), ev(START, "r2", 11), end];
        let rs = runs(&records);
        assert_eq!(rs.len(), 2);
        assert_eq!(rs[0].end.as_ref().unwrap().exit, 3);
        assert!(rs[1].end.is_none());
        let s = stats("b", &rs, DateTime::from_timestamp(0, 0).unwrap());
        assert_eq!((s.runs, s.failures), (2, 2), "a failed run and a dead one");
        assert_eq!(s.last.unwrap().outcome, "never finished");
    }

    #[test]
    fn records_with_absurd_numbers_do_not_panic() {
        let mut end = ev(END, "lone", 20);
        end.duration_ms = Some(u64::MAX);
        let rs = runs(&[end]);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].started, rs[0].end.as_ref().unwrap().at);
        let s = stats("b", &rs, DateTime::from_timestamp(0, 0).unwrap());
        assert_eq!(s.runs, 1);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn the_tail_is_cut_at_a_char_boundary() {
        let s = "ééééé".as_bytes(); // 2 bytes each
        assert_eq!(tail_text(s, 5), "éé");
        assert_eq!(tail_text(b"abc", 10), "abc");
        assert_eq!(tail_text(&[b'a', 0xff, b'b'], 10), "a\u{fffd}b");
    }

    #[test]
    fn obvious_secrets_are_scrubbed_from_output() {
        let out = scrub_output(
            "connecting to postgres://app:hunter2pass@db:5432/x\npassword=s3cr3t TOKEN: abcdef\nAuthorization: Bearer abcdefgh12345678\nkey ghp_abcdefghijklmnopqrstuvwx done",
        );
        assert!(!out.contains("hunter2pass"), "{out}");
        assert!(!out.contains("s3cr3t"), "{out}");
        assert!(!out.contains("abcdef\n"), "{out}");
        assert!(!out.contains("abcdefgh12345678"), "{out}");
        assert!(!out.contains("ghp_abcdefghijklmnopqrstuvwx"), "{out}");
        assert!(out.contains("postgres://app:***@db:5432/x"), "{out}");
        assert!(out.contains("done"), "{out}");
        assert_eq!(scrub_output("all fine\n  indented line"), "all fine\n  indented line");
    }
}
