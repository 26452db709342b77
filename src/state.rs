//! The state file: counters and undelivered notifications, guarded by an
//! exclusive lock and written atomically.
//!
//! Every read-modify-write happens while holding the lock on
//! `ops_atomic_monitor.lock`, so concurrent heartbeats never lose an update.
//! A state file that does not parse is moved aside (never deleted) and
//! replaced by a fresh one.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use fs2::FileExt;
use serde::{Deserialize, Serialize};

use crate::checks::CheckStatus;
use crate::exit::{Result, Status};
use crate::fail;
pub use crate::message::{Notification, NotificationKind};
use crate::paths::{self, Paths};

/// The state format this release writes; later releases migrate from it.
pub const VERSION: u32 = 2;

/// How long to wait for another run's lock before giving up (exit 3).
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct State {
    pub version: u32,
    /// Heartbeats that reached the state update.
    pub runs: u64,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub alert_active: bool,
    /// Start of the current run of CRITICAL heartbeats (the incident).
    pub first_failure_at: Option<DateTime<Utc>>,
    /// The last alert or reminder.
    pub last_alert_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    /// Messages not yet delivered, oldest first.
    pub pending_notifications: Vec<Notification>,
    pub last_recovery_at: Option<DateTime<Utc>>,
    /// Why the last delivery failed, while something is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery_error: Option<String>,
    /// Each check's incident state, by check id (SPEC §5, §7.1).
    pub checks: BTreeMap<String, CheckState>,
    /// Silences in force (SPEC §13); expired ones are removed by the next run.
    pub silences: Vec<Silence>,
    /// How long the machine had slept since boot at the last run, in
    /// seconds (SPEC §15): its growth between two runs is time asleep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slept_since_boot_s: Option<f64>,
    /// When the machine booted, as the last run measured it: a new one is a restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<DateTime<Utc>>,
    /// Names of the `[[maintenance]]` windows in force at the last run, so
    /// that their beginning and end are each one event.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maintenance_active: Vec<String>,
    /// Fields written by other releases, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: VERSION,
            runs: 0,
            consecutive_failures: 0,
            consecutive_successes: 0,
            alert_active: false,
            first_failure_at: None,
            last_alert_at: None,
            last_run_at: None,
            last_status: None,
            pending_notifications: Vec::new(),
            last_recovery_at: None,
            last_delivery_error: None,
            checks: BTreeMap::new(),
            silences: Vec::new(),
            slept_since_boot_s: None,
            boot_time: None,
            maintenance_active: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }
}

/// One check's incident state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CheckState {
    pub name: String,
    pub kind: String,
    /// The last result that was not `skipped`.
    pub status: Option<CheckStatus>,
    /// When it entered that status.
    pub since: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// An incident is open.
    pub down: bool,
    /// The first failure of the incident's run of failures.
    pub down_since: Option<DateTime<Utc>>,
    /// The first failure of the current run of failures (not yet an incident, or the incident's).
    pub failing_since: Option<DateTime<Utc>>,
    /// The first failure's message.
    pub failure_message: Option<String>,
    /// The incident's alert went out (or is queued).
    pub announced: bool,
    /// Its last alert or reminder.
    pub alerted_at: Option<DateTime<Utc>>,
    pub flapping: bool,
    /// The flapping message went out, so a `stable` one is owed.
    pub flap_announced: bool,
    /// Its last `flap_window` results: true = failed.
    pub recent: Vec<bool>,
    /// What the check keeps between runs (a file check's size samples).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memo: Option<serde_json::Value>,
    /// The numbers its conditions read in the last run (SPEC §16), for
    /// `status`, the page and the menu bar.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<crate::checks::conditions::Reading>,
    /// Its repairs (SPEC §12): the attempts of the last hour, the budget's state.
    #[serde(skip_serializing_if = "RepairState::is_empty")]
    pub repairs: RepairState,
    /// The dependency (`depends_on`) that is DOWN or failing while this
    /// check fails: it alerts through that dependency's message (SPEC §15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
    /// Fields written by other releases, kept as they are.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A check's repairs (SPEC §12), kept in its state so the budget holds
/// across runs, and concurrent heartbeats (serialized on the state lock)
/// never repair twice for one failure.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RepairState {
    /// Attempts of the last hour, oldest first (the last one is kept longer,
    /// for "last: exit 0").
    pub attempts: Vec<RepairRecord>,
    /// Failures in a row since the last repair (or since the check last
    /// passed): a repair is due when it reaches the check's `after`.
    pub streak: u32,
    /// When the budget was found spent in this run of failures (and
    /// `repair_exhausted` recorded, once); cleared when the check passes
    /// and is not DOWN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gave_up_at: Option<DateTime<Utc>>,
}

impl RepairState {
    pub fn is_empty(&self) -> bool {
        self == &RepairState::default()
    }

    /// Attempts within the hour before `now`.
    pub fn in_last_hour(&self, now: DateTime<Utc>) -> usize {
        self.attempts.iter().filter(|a| now - a.at < chrono::Duration::hours(1)).count()
    }
}

/// One repair attempt: ordered (saved before it runs), then its outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RepairRecord {
    /// When it was ordered.
    pub at: DateTime<Utc>,
    /// When it finished; `None` while it runs (or when the run died meanwhile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    /// What ran, as a command line (`brew services restart redis`,
    /// `launchctl kickstart -k gui/501/com.x`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// Its exit code; `None` when it timed out, could not start, or has not finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// How it went, for people: `exit 0`, `timed out after 60 s`, `could not run: …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// `ops-atomic silence`: a check (or every check) that causes no message until `until`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Silence {
    /// The check id; `None` = every check.
    pub check: Option<String>,
    pub until: DateTime<Utc>,
    #[serde(default)]
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl Silence {
    pub fn covers(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.until > now && self.check.as_deref().is_none_or(|c| c == id)
    }
}

impl State {
    /// Whether a silence in force covers the check `id`.
    pub fn silenced(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.silences.iter().any(|s| s.covers(id, now))
    }

    /// Whether the check `id` is quiet as of the last heartbeat: a silence
    /// in force covers it, or one of `windows` that was in force then
    /// (`maintenance_active`) does. What `status` and the page mark 🔕.
    pub fn quiet(&self, id: &str, now: DateTime<Utc>, windows: &[crate::windows::Maintenance]) -> bool {
        self.silenced(id, now) || windows.iter().any(|w| self.maintenance_active.contains(&w.name) && w.covers(id))
    }

    /// What each check kept from earlier runs, by id.
    pub fn memos(&self) -> BTreeMap<String, serde_json::Value> {
        self.checks.iter().filter_map(|(id, c)| c.memo.clone().map(|m| (id.clone(), m))).collect()
    }

    pub fn last_status(&self) -> Option<Status> {
        self.last_status.as_deref().and_then(Status::parse)
    }
}

/// The lock wait: 30 s, or `OPS_ATOMIC_LOCK_WAIT_MS` (for tests and impatient people).
pub fn lock_wait() -> Duration {
    std::env::var("OPS_ATOMIC_LOCK_WAIT_MS").ok().and_then(|v| v.parse().ok()).map_or(LOCK_WAIT, Duration::from_millis)
}

/// The held lock. Dropping it releases the lock.
pub struct Lock {
    file: File,
}

/// The delivery lock, held by the one run that is sending the queue.
pub struct DeliveryLock {
    _file: File,
}

/// Takes the delivery lock if no other run holds it; `None` when one does.
/// It is released when the value is dropped (or the process dies).
pub fn try_delivery_lock(paths: &Paths) -> Result<Option<DeliveryLock>> {
    paths::ensure_dir(&paths.state_dir())?;
    let path = paths.state_dir().join("ops_atomic_delivery.lock");
    let file = paths::open_no_follow(
        &path,
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false),
        paths::FILE_MODE,
    )
    .map_err(|e| fail!("could not open the lock file {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    match file.try_lock_exclusive() {
        Ok(()) => Ok(Some(DeliveryLock { _file: file })),
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(None),
        Err(e) => Err(fail!("could not lock {}: {}", path.display(), crate::exit::io_reason(&e))),
    }
}

/// Takes the exclusive state lock, waiting at most `wait`.
pub fn lock(paths: &Paths, wait: Duration, command: &str) -> Result<Lock> {
    paths::ensure_dir(&paths.state_dir())?;
    let path = paths.lock_file();
    // Never through a planted symlink: the lock is truncated below.
    let mut file = paths::open_no_follow(
        &path,
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false),
        paths::FILE_MODE,
    )
    .map_err(|e| fail!("could not open the lock file {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock_exclusive() {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                if start.elapsed() >= wait {
                    let mut holder = String::new();
                    let _ = (&mut file).take(4096).read_to_string(&mut holder);
                    let holder = holder.trim();
                    let who = if holder.is_empty() { "another ops-atomic run".to_string() } else { holder.to_string() };
                    return Err(fail!(
                        "the state lock {} is still held by {} after {} s: wait for it to finish, or stop that process if it is stuck",
                        path.display(),
                        who,
                        wait.as_secs()
                    ));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(e) => {
                return Err(fail!("could not lock {}: {}", path.display(), crate::exit::io_reason(&e)));
            }
        }
    }
    // Say who holds the lock, for the message of a run that times out on it.
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = writeln!(file, "pid {} ({command}, since {})", std::process::id(), crate::log::timestamp(Utc::now()));
    Ok(Lock { file })
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

/// Reads the state (call with the lock held). A missing file is a fresh
/// state; one that does not parse is moved aside, logged as an ERROR, and
/// replaced.
pub fn load(paths: &Paths, _lock: &Lock) -> Result<State> {
    let path = paths.state_file();
    let text = match read_no_follow(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State::default());
        }
        Err(e) => {
            return Err(fail!("could not read the state file {}: {}", path.display(), crate::exit::io_reason(&e)));
        }
    };
    match parse(&text) {
        Ok((state, _)) if state.version > VERSION => Err(fail!(
            "the state file {} has version {}, written by a newer ops-atomic than this one (version {VERSION}): upgrade ops-atomic",
            path.display(),
            state.version
        )),
        Ok((state, reset)) => {
            if !reset.is_empty() {
                crate::log::warn(&format!(
                    "State file {}: {} did not have the expected type and {} reset; everything else was kept",
                    path.display(),
                    reset.join(", "),
                    if reset.len() == 1 { "was" } else { "were" }
                ));
            }
            // Version 1 had no `checks` or `silences`: they start empty, and
            // the counters and queued messages carry over as they are.
            Ok(State { version: VERSION, ..state })
        }
        Err(why) => {
            let stamp = Utc::now().format("%Y-%m-%dT%H-%M-%S%.3fZ");
            let aside = path.with_file_name(format!("ops_atomic_monitor.json.corrupt-{stamp}"));
            std::fs::rename(&path, &aside).map_err(|e| {
                fail!(
                    "the state file {} is corrupt ({why}) and could not be moved aside: {}",
                    path.display(),
                    crate::exit::io_reason(&e)
                )
            })?;
            crate::log::error(&format!(
                "State file was corrupt ({why}); moved it to {} and started a fresh state",
                aside.display()
            ));
            Ok(State::default())
        }
    }
}

/// Reads the state file without following a symlink planted at its path.
fn read_no_follow(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut f = paths::open_no_follow(path, std::fs::OpenOptions::new().read(true), paths::FILE_MODE)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses the state, keeping every field that parses: a field of the wrong
/// type (`"runs": -5`) falls back to its default alone, and a queued
/// notification that does not parse is dropped alone, so one bad value
/// never costs the queued messages. Returns the state and the fields reset.
/// Only text that is not a JSON object is an error (the file is corrupt).
fn parse(bytes: &[u8]) -> std::result::Result<(State, Vec<String>), String> {
    // The common case, a file this version wrote, goes straight into the
    // state (a JSON array would too, as a struct's fields in order: only an
    // object is taken this way).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && let Ok(state) = serde_json::from_slice::<State>(bytes)
    {
        return Ok((state, Vec::new()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let serde_json::Value::Object(fields) = value else {
        return Err("not a JSON object".into());
    };
    if let Ok(state) = serde_json::from_value(serde_json::Value::Object(fields.clone())) {
        return Ok((state, Vec::new()));
    }
    // Field by field: with `#[serde(default)]`, an object holding one field
    // deserializes exactly when that field does.
    let mut good = serde_json::Map::new();
    let mut reset = Vec::new();
    for (key, v) in fields {
        let alone = serde_json::Value::Object(serde_json::Map::from_iter([(key.clone(), v.clone())]));
        if serde_json::from_value::<State>(alone).is_ok() {
            good.insert(key, v);
        } else if key == "pending_notifications"
            && let serde_json::Value::Array(items) = v
        {
            let total = items.len();
            let kept: Vec<serde_json::Value> =
                items.into_iter().filter(|n| serde_json::from_value::<Notification>(n.clone()).is_ok()).collect();
            reset.push(format!("{} of {total} queued notifications", total - kept.len()));
            good.insert(key, serde_json::Value::Array(kept));
        } else {
            reset.push(key);
        }
    }
    let state = serde_json::from_value(serde_json::Value::Object(good)).map_err(|e| e.to_string())?;
    Ok((state, reset))
}

/// Writes the state atomically (call with the lock held).
pub fn save(paths: &Paths, _lock: &Lock, state: &State) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| fail!("could not encode the state: {e}"))?;
    bytes.push(b'\n');
    paths::write_atomic(&paths.state_file(), &bytes)
}

/// Reads the state without the lock, for `status`: a reader sees a whole
/// file thanks to the atomic rename.
pub fn peek(paths: &Paths) -> Option<State> {
    read_no_follow(&paths.state_file()).ok().and_then(|b| parse(&b).ok()).map(|(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_fields_are_written() {
        let v = serde_json::to_value(State::default()).unwrap();
        for key in [
            "version",
            "runs",
            "consecutive_failures",
            "consecutive_successes",
            "alert_active",
            "first_failure_at",
            "last_alert_at",
            "last_run_at",
            "last_status",
            "pending_notifications",
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["version"], 2);
        assert!(v.get("checks").is_some() && v.get("silences").is_some());
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let s: State = serde_json::from_str(r#"{"version":1,"runs":4,"future_field":{"a":1}}"#).unwrap();
        assert_eq!(s.runs, 4);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["future_field"]["a"], 1);
    }

    #[test]
    fn garbage_does_not_parse() {
        assert!(parse(b"{\"runs\": 3").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn a_bad_field_is_reset_alone_and_the_queue_is_kept() {
        let text = br#"{"version":1,"runs":-5,"consecutive_failures":"x","alert_active":true,"future":[1],
            "pending_notifications":[
              {"kind":"alert","created_at":"2025-10-27T17:00:00Z","payload":{"content":"down"}},
              {"kind":"nonsense","created_at":"2025-10-27T17:00:00Z","payload":{}},
              {"kind":"recovery","created_at":"2025-10-27T18:00:00Z","payload":{"content":"up"},"attempts":2}
            ]}"#;
        let (s, reset) = parse(text).unwrap();
        assert_eq!((s.runs, s.consecutive_failures, s.alert_active), (0, 0, true));
        assert_eq!(s.pending_notifications.len(), 2);
        assert_eq!(s.pending_notifications[1].attempts, 2);
        assert_eq!(s.extra["future"], serde_json::json!([1]));
        assert!(
            reset.contains(&"runs".to_string()) && reset.contains(&"consecutive_failures".to_string()),
            "{reset:?}"
        );
        assert!(reset.iter().any(|r| r.contains("1 of 3 queued")), "{reset:?}");
    }
}
