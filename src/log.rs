//! Log lines: `[2025-10-27T17:52:09.831Z] [INFO] message`.
//!
//! They go to stdout, or to stderr when `--json` owns stdout. Every line is
//! scrubbed of secrets before it is written.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static TO_STDERR: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Sends log lines to stderr (for `--json`, whose document owns stdout).
pub fn to_stderr(yes: bool) {
    TO_STDERR.store(yes, Ordering::Relaxed);
}

/// Silences INFO lines (commands such as `status` that print their own text).
pub fn quiet(yes: bool) {
    QUIET.store(yes, Ordering::Relaxed);
}

/// The timestamp format of log lines and reports: UTC with milliseconds
/// (`2026-11-30T07:40:00.123Z`), written by hand: strftime parses its
/// pattern on every call, and every log line, event and report takes one.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let n = t.naive_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        n.year(),
        n.month(),
        n.day(),
        n.hour(),
        n.minute(),
        n.second(),
        n.nanosecond() % 1_000_000_000 / 1_000_000
    )
}

/// `YYYY-MM-DD HH:MM:SS` of a local time, as `%Y-%m-%d %H:%M:%S` would.
pub fn local_seconds(t: chrono::NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second())
}

/// Reads a UTC timestamp as ops-atomic writes them (`…T07:40:00.123Z`, any
/// number of fraction digits or none) by hand, else as any RFC 3339 time.
/// `daily`, `summary`, `events` and `page` read 100,000 of them from the
/// event log, and chrono's general parser was a tenth of that work.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    fast_utc(s).or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))
}

fn fast_utc(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let shape = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || b[b.len() - 1] != b'Z' || shape.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20, b.len() - 1)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// serde's `deserialize_with` for a timestamp field read in bulk (see
/// [`parse_timestamp`]).
pub fn de_timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::DateTime<chrono::Utc>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = chrono::DateTime<chrono::Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an RFC 3339 timestamp")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse_timestamp(s).ok_or_else(|| E::custom(format!("not an RFC 3339 timestamp: {s:?}")))
        }
    }
    d.deserialize_str(V)
}

pub fn line(level: Level, msg: &str) -> String {
    format!("[{}] [{}] {}", timestamp(chrono::Utc::now()), level.as_str(), crate::secret::scrub(msg))
}

pub fn write(level: Level, msg: &str) {
    if level == Level::Info && QUIET.load(Ordering::Relaxed) {
        return;
    }
    let text = line(level, msg) + "\n";
    // A closed stdout (e.g. piped into `head`) must not turn into a panic.
    if TO_STDERR.load(Ordering::Relaxed) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

/// A command's own output (`--json`), as `println!` without its panic
/// when stdout cannot be written (closed, or a log file on a full disk).
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n"));
}

pub fn info(msg: &str) {
    write(Level::Info, msg)
}

pub fn warn(msg: &str) {
    write(Level::Warn, msg)
}

pub fn error(msg: &str) {
    write(Level::Error, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    #[test]
    fn timestamps_are_written_as_strftime_would() {
        for (secs, nanos) in
            [(0, 0), (1_764_488_400, 123_456_789), (4_102_444_799, 999_999_999), (951_782_400, 1_000_000)]
        {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            assert_eq!(timestamp(t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
            let n = t.naive_utc();
            assert_eq!(local_seconds(n), n.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }

    #[test]
    fn timestamps_read_by_hand_agree_with_chrono() {
        let chrono = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        for s in [
            "2026-11-30T07:40:00.123Z",
            "2026-11-30T07:40:00Z",
            "2026-11-30T07:40:00.1Z",
            "2026-11-30T07:40:00.123456Z",
            "2026-11-30T07:40:00.123456789Z",
            "2024-02-29T23:59:59.999Z",
            "2026-11-30T09:40:00.123+02:00",
            "2026-11-30t07:40:00Z",
            "2026-11-30T07:40:00.1234567890Z",
        ] {
            assert_eq!(parse_timestamp(s), chrono(s), "{s}");
            assert!(parse_timestamp(s).is_some(), "{s}");
        }
        for bad in [
            "",
            "2026-11-30",
            "2026-11-30T07:40:00.Z",
            "2026-02-30T07:40:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T07:40:0xZ",
            "+026-11-30T07:40:00Z",
            "2026-11-30T07:40:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        let t = Utc.timestamp_opt(1_764_488_400, 123_000_000).unwrap();
        assert_eq!(parse_timestamp(&timestamp(t)), Some(t), "what we write reads back");
    }
}
