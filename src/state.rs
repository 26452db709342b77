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

use chrono::{DateTime, Utc};
use fs2::FileExt;
use serde::{Deserialize, Serialize};

use crate::exit::{Result, Status};
use crate::fail;
use crate::paths::{self, Paths};

/// The state format this release writes; later releases migrate from it.
pub const VERSION: u32 = 1;

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
    /// What a check keeps between runs, by check id (a file check's size
    /// samples): read before the checks run, written back under the lock.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub memos: std::collections::BTreeMap<String, serde_json::Value>,
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
            memos: std::collections::BTreeMap::new(),
            extra: serde_json::Map::new(),
        }
    }
}

impl State {
    pub fn last_status(&self) -> Option<Status> {
        self.last_status.as_deref().and_then(Status::parse)
    }
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Alert,
    Reminder,
    Recovery,
    Daily,
    Flapping,
    Stable,
    Digest,
    Repair,
    Test,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Alert => "alert",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Recovery => "recovery",
            NotificationKind::Daily => "daily",
            NotificationKind::Flapping => "flapping",
            NotificationKind::Stable => "stable",
            NotificationKind::Digest => "digest",
            NotificationKind::Repair => "repair",
            NotificationKind::Test => "test",
        }
    }
}

/// A message rendered for one channel, waiting to be delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// The channel it is for; queues written before channels had names
    /// were Discord's.
    #[serde(default = "discord")]
    pub channel: String,
    pub kind: NotificationKind,
    pub created_at: DateTime<Utc>,
    /// The channel's payload, ready to send.
    pub payload: serde_json::Value,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
}

fn discord() -> String {
    "discord".into()
}

/// The lock wait: 30 s, or `OPS_ATOMIC_LOCK_WAIT_MS` (for tests and impatient people).
pub fn lock_wait() -> Duration {
    std::env::var("OPS_ATOMIC_LOCK_WAIT_MS").ok().and_then(|v| v.parse().ok()).map_or(LOCK_WAIT, Duration::from_millis)
}

/// The held lock. Dropping it releases the lock.
pub struct Lock {
    file: File,
}

/// Takes the exclusive state lock, waiting at most `wait`.
pub fn lock(paths: &Paths, wait: Duration, command: &str) -> Result<Lock> {
    paths::ensure_dir(&paths.state_dir())?;
    let path = paths.lock_file();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| fail!("could not open the lock file {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock_exclusive() {
            Ok(()) => break,
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                if start.elapsed() >= wait {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
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
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(State::default());
        }
        Err(e) => {
            return Err(fail!("could not read the state file {}: {}", path.display(), crate::exit::io_reason(&e)));
        }
    };
    match parse(&text) {
        Ok(state) if state.version > VERSION => Err(fail!(
            "the state file {} has version {}, written by a newer ops-atomic than this one (version {VERSION}): upgrade ops-atomic",
            path.display(),
            state.version
        )),
        Ok(state) => Ok(state),
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

fn parse(bytes: &[u8]) -> std::result::Result<State, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
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
    std::fs::read(paths.state_file()).ok().and_then(|b| parse(&b).ok())
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
        assert_eq!(v["version"], 1);
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
        assert!(parse(b"{\"runs\": \"many\"}").is_err());
    }
}
