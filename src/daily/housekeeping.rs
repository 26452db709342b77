//! Housekeeping of the daily run: old heartbeat reports deleted, big log
//! files rotated, the history trimmed to 8 days (by [`crate::history::trim`]), the event
//! log kept to 90 days and its size cap (by [`crate::events::compact`]).
//!
//! Each step touches only the files it owns (`heartbeat_*.md` reports, files
//! in `g/logs`, the history) and reports what it did; a file it cannot
//! remove is a problem in the report, never a reason to stop.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// History lines older than this many days are dropped.
pub const HISTORY_DAYS: i64 = 8;

/// Events older than this many days are dropped from the event log (SPEC §8).
pub const EVENT_DAYS: i64 = 90;

/// Rotated copies kept of each log file: `x.log.1` (newest) to `x.log.3`.
pub const LOG_KEEP: u32 = 3;

/// What housekeeping did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Done {
    pub reports_deleted: usize,
    pub reports_kept: usize,
    /// Log files rotated (file names).
    pub logs_rotated: Vec<String>,
    pub history_kept: usize,
    /// Lines older than 8 days.
    pub history_dropped: usize,
    /// Lines that did not parse (dropped too).
    pub history_unreadable: usize,
    /// What the event log's compaction did (none when it could not run).
    pub events: Option<crate::events::Compacted>,
    /// Files that could not be deleted, renamed or written.
    pub problems: Vec<String>,
}

/// Deletes `heartbeat_*.md` reports older than `retention_days`, dated by
/// the UTC time in the name (the file's mtime when the name has none).
/// Returns (deleted, kept, problems).
pub fn prune_reports(dir: &Path, now: DateTime<Utc>, retention_days: u32) -> (usize, usize, Vec<String>) {
    let cutoff = now - Duration::days(i64::from(retention_days));
    let (mut deleted, mut kept, mut problems) = (0, 0, Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0, problems);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("heartbeat_") || !name.ends_with(".md") {
            continue;
        }
        let when = report_time(&name).or_else(|| {
            let modified = entry.metadata().ok()?.modified().ok()?;
            Some(DateTime::<Utc>::from(modified))
        });
        match when {
            Some(t) if t < cutoff => match std::fs::remove_file(entry.path()) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    kept += 1;
                    problems.push(format!("could not delete {name}: {}", crate::exit::io_reason(&e)));
                }
            },
            _ => kept += 1,
        }
    }
    (deleted, kept, problems)
}

/// The time in a heartbeat report's name; `None` for any other file.
pub fn report_time(name: &str) -> Option<DateTime<Utc>> {
    name.starts_with("heartbeat_").then(|| crate::report::name_time(name)).flatten()
}

/// Rotates every file in `dir` bigger than `max_bytes`: `x.log` → `x.log.1`
/// → `.2` → `.3` (the oldest dropped), then a new empty `x.log`. launchd
/// reopens the path for each run, so renaming is safe. Returns (rotated, problems).
pub fn rotate_logs(dir: &Path, max_bytes: u64) -> (Vec<String>, Vec<String>) {
    let (mut rotated, mut problems) = (Vec::new(), Vec::new());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (rotated, problems);
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() > max_bytes))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !is_rotated_copy(n) && !n.starts_with('.'))
        .collect();
    names.sort();
    for name in names {
        match rotate(dir, &name) {
            Ok(()) => rotated.push(name),
            Err(e) => problems.push(format!("could not rotate {name}: {}", crate::exit::io_reason(&e))),
        }
    }
    (rotated, problems)
}

/// `x.log.1` .. `x.log.3` are rotated copies, not logs to rotate again.
fn is_rotated_copy(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(_, n)| n.parse::<u32>().is_ok_and(|n| (1..=LOG_KEEP).contains(&n)))
}

fn rotate(dir: &Path, name: &str) -> std::io::Result<()> {
    let numbered = |n: u32| dir.join(format!("{name}.{n}"));
    match std::fs::remove_file(numbered(LOG_KEEP)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    for n in (1..LOG_KEEP).rev() {
        match std::fs::rename(numbered(n), numbered(n + 1)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(dir.join(name), numbered(1))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    crate::paths::open_no_follow(&dir.join(name), &mut options, crate::paths::FILE_MODE).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(what: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ops-atomic-hk-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-28T02:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn report_names_carry_their_time() {
        assert_eq!(report_time("heartbeat_2025-10-27_17-52-09.md"), Some(now() - Duration::seconds(29_271)));
        assert!(report_time("heartbeat_2025-10-27_17-52-09_3.md").is_some());
        assert_eq!(report_time("heartbeat_notes.md"), None);
    }

    #[test]
    fn old_heartbeat_reports_go_and_everything_else_stays() {
        let d = tmp("prune");
        for n in [
            "heartbeat_2025-10-18_02-00-00.md",
            "heartbeat_2025-10-20_01-59-59_1.md",
            "heartbeat_2025-10-21_02-00-01.md",
            "heartbeat_2025-10-27_23-00-00.md",
            "daily_2025-10-01_02-00-00.md",
            "notes.txt",
        ] {
            std::fs::write(d.join(n), "x").unwrap();
        }
        let (deleted, kept, problems) = prune_reports(&d, now(), 7);
        assert_eq!((deleted, kept), (2, 2));
        assert!(problems.is_empty());
        assert!(d.join("daily_2025-10-01_02-00-00.md").exists());
        assert!(d.join("notes.txt").exists());
        assert!(d.join("heartbeat_2025-10-21_02-00-01.md").exists());
        assert!(!d.join("heartbeat_2025-10-18_02-00-00.md").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn big_logs_rotate_keeping_three() {
        let d = tmp("rotate");
        std::fs::write(d.join("ops_monitor.log"), vec![b'x'; 2000]).unwrap();
        std::fs::write(d.join("ops_monitor.log.1"), "one").unwrap();
        std::fs::write(d.join("ops_monitor.log.2"), "two").unwrap();
        std::fs::write(d.join("ops_monitor.log.3"), "three").unwrap();
        std::fs::write(d.join("ops_monitor.err"), "small").unwrap();
        let (rotated, problems) = rotate_logs(&d, 1024);
        assert_eq!(rotated, ["ops_monitor.log"]);
        assert!(problems.is_empty());
        assert_eq!(std::fs::read(d.join("ops_monitor.log")).unwrap().len(), 0);
        assert_eq!(std::fs::read(d.join("ops_monitor.log.1")).unwrap().len(), 2000);
        assert_eq!(std::fs::read_to_string(d.join("ops_monitor.log.2")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(d.join("ops_monitor.log.3")).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(d.join("ops_monitor.err")).unwrap(), "small");
        let _ = std::fs::remove_dir_all(&d);
    }
}
