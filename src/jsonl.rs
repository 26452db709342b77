//! Reading a JSON Lines file (the event log, the history) as a stream:
//! one line at a time through a fixed buffer, so what a reader keeps is
//! what it chooses to keep, never the file (a check that flapped for months
//! can leave a log of hundreds of megabytes).
//!
//! A line longer than [`MAX_LINE`] is skipped without being held; a line
//! that is not UTF-8 or not JSON is the caller's to skip. Both are counted
//! ([`Skipped`]), never fatal. A deadline stops the read early
//! ([`Stopped`]), so a reader inside the heartbeat cannot stretch the run.
//!
//! The writers (`events::append`, `history::append`) put `"ts"` first, in
//! UTC (`{"ts":"2026-12-06T19:20:36.123Z",…`): [`ts_prefix`] reads it
//! without parsing the line, so lines older than a window are passed over
//! at the speed of finding their newline.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};

/// The longest line read; longer ones are skipped and counted.
pub const MAX_LINE: usize = 64 * 1024;

/// How many lines go by between two looks at the clock.
const CLOCK_EVERY: u32 = 4096;

/// Lines a reader passed over because they could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Longer than [`MAX_LINE`].
    pub too_long: usize,
    /// Not UTF-8, not JSON, or not the shape expected.
    pub unreadable: usize,
}

impl Skipped {
    pub fn total(&self) -> usize {
        self.too_long + self.unreadable
    }

    /// `3 unreadable lines skipped (1 over 64 KB)`, or `None` when all were read.
    pub fn describe(&self, what: &str) -> Option<String> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let lines = if n == 1 { "line" } else { "lines" };
        let long =
            if self.too_long > 0 { format!(" ({} over {} KB)", self.too_long, MAX_LINE / 1024) } else { String::new() };
        Some(format!("{n} unreadable {lines} of {what} skipped{long}"))
    }
}

/// The read stopped at its deadline, after `lines` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub lines: u64,
}

/// Hands each line of `reader` (without its `\n`, a last line without one
/// included) to `each`, skipping and counting those over [`MAX_LINE`].
/// Stops with [`Stopped`] once `deadline` has passed.
pub fn each_line<R: Read>(
    reader: R,
    deadline: Option<Instant>,
    skipped: &mut Skipped,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<Result<(), Stopped>> {
    let mut r = BufReader::with_capacity(256 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut seen: u64 = 0;
    let mut until_clock = CLOCK_EVERY;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            if too_long {
                skipped.too_long += 1;
            } else if !line.is_empty() {
                each(&line);
            }
            return Ok(Ok(()));
        }
        let Some(i) = memchr::memchr(b'\n', chunk) else {
            let n = chunk.len();
            if !too_long {
                if line.len() + n > MAX_LINE {
                    too_long = true;
                    line = Vec::new(); // give the memory back
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            r.consume(n);
            continue;
        };
        if too_long || line.len() + i > MAX_LINE {
            skipped.too_long += 1;
        } else if line.is_empty() {
            each(&chunk[..i]);
        } else {
            line.extend_from_slice(&chunk[..i]);
            each(&line);
        }
        line.clear();
        too_long = false;
        r.consume(i + 1);
        seen += 1;
        until_clock -= 1;
        if until_clock == 0 {
            until_clock = CLOCK_EVERY;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Err(Stopped { lines: seen }));
            }
        }
    }
}

/// [`each_line`] over the file at `path`; a missing file has no lines.
pub fn each_line_of(
    path: &Path,
    deadline: Option<Instant>,
    skipped: &mut Skipped,
    each: impl FnMut(&[u8]),
) -> std::io::Result<Result<(), Stopped>> {
    match std::fs::File::open(path) {
        Ok(f) => each_line(f, deadline, skipped, each),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ok(())),
        Err(e) => Err(e),
    }
}

/// Where a line stands against a time, read from its `"ts"` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Before,
    AtOrAfter,
    /// Not the writers' shape (or the same second): parse the line to know.
    Unknown,
}

/// The `YYYY-MM-DDTHH:MM:SS` of a line written as `{"ts":"…Z",…`, when it
/// has that shape (UTC, optional fraction).
pub fn ts_prefix(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"{\"ts\":\"")?;
    let second = rest.get(..19)?;
    let shape = second.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        10 => *b == b'T',
        13 | 16 => *b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let mut tail = &rest[19..];
    if let Some(frac) = tail.strip_prefix(b".") {
        let digits = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        tail = &frac[digits..];
    }
    tail.starts_with(b"Z\"").then_some(second)
}

/// The second a cutoff falls in, as [`ts_prefix`] gives it.
pub fn second_of(t: DateTime<Utc>) -> [u8; 19] {
    let mut out = [0u8; 19];
    out.copy_from_slice(t.format("%Y-%m-%dT%H:%M:%S").to_string().as_bytes());
    out
}

/// Whether `line` is before the second `cutoff` (from [`second_of`]) by its
/// `"ts"` alone: lines of the cutoff's own second are [`When::Unknown`].
pub fn when(line: &[u8], cutoff: &[u8; 19]) -> When {
    match ts_prefix(line) {
        Some(s) if s < &cutoff[..] => When::Before,
        Some(s) if s > &cutoff[..] => When::AtOrAfter,
        _ => When::Unknown,
    }
}

/// A key to find in lines: `"key":"`, its searcher built once.
pub struct Key {
    finder: memchr::memmem::Finder<'static>,
    len: usize,
}

impl Key {
    pub fn new(key: &str) -> Key {
        let needle = format!("\"{key}\":\"").into_bytes();
        let len = needle.len();
        Key { finder: memchr::memmem::Finder::new(&needle).into_owned(), len }
    }

    /// The string value of the first `"key":"…"` in a line written by this
    /// program, when it holds no escape (else `None`: parse the line
    /// instead). In valid JSON a `"key":"` can only be a key: inside a
    /// string its quotes would be escaped.
    pub fn plain<'a>(&self, line: &'a [u8]) -> Option<&'a str> {
        let at = self.finder.find(line)? + self.len;
        let rest = &line[at..];
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] == b'\\' {
            return None;
        }
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// Whether the line has the key at all.
    pub fn present(&self, line: &[u8]) -> bool {
        self.finder.find(line).is_some()
    }
}

/// [`Key::plain`] with a searcher built for this one call.
pub fn plain_field<'a>(line: &'a [u8], key: &str) -> Option<&'a str> {
    Key::new(key).plain(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> (Vec<String>, Skipped) {
        let mut out = Vec::new();
        let mut skipped = Skipped::default();
        each_line(input, None, &mut skipped, |l| out.push(String::from_utf8_lossy(l).into_owned())).unwrap().unwrap();
        (out, skipped)
    }

    #[test]
    fn lines_come_one_by_one_with_a_last_one_unterminated() {
        let (l, s) = lines(b"a\nbb\n\nccc");
        assert_eq!(l, ["a", "bb", "", "ccc"]);
        assert_eq!(s, Skipped::default());
    }

    #[test]
    fn a_line_over_the_bound_is_skipped_and_counted_wherever_it_falls() {
        let big = vec![b'x'; MAX_LINE * 3 + 17];
        let mut input = b"first\n".to_vec();
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\nlast\n");
        let (l, s) = lines(&input);
        assert_eq!(l, ["first", "last"]);
        assert_eq!(s.too_long, 1);
        // At the very end, without a newline, too.
        let mut input = b"first\n".to_vec();
        input.extend_from_slice(&big);
        let (l, s) = lines(&input);
        assert_eq!((l.len(), s.too_long), (1, 1));
        assert_eq!(s.describe("the event log").unwrap(), "1 unreadable line of the event log skipped (1 over 64 KB)");
    }

    #[test]
    fn the_clock_stops_a_long_read() {
        let input = "x\n".repeat(100_000);
        let mut n = 0;
        let past = Instant::now() - std::time::Duration::from_secs(1);
        let r = each_line(input.as_bytes(), Some(past), &mut Skipped::default(), |_| n += 1).unwrap();
        assert_eq!(r, Err(Stopped { lines: u64::from(CLOCK_EVERY) }));
        assert_eq!(n, CLOCK_EVERY);
    }

    #[test]
    fn the_time_of_a_line_is_read_from_its_prefix() {
        let cutoff = second_of("2026-12-06T10:00:00Z".parse().unwrap());
        assert_eq!(when(br#"{"ts":"2026-12-05T23:59:59.123456789Z","type":"up"}"#, &cutoff), When::Before);
        assert_eq!(when(br#"{"ts":"2026-12-06T10:00:01Z","type":"up"}"#, &cutoff), When::AtOrAfter);
        assert_eq!(when(br#"{"ts":"2026-12-06T10:00:00.5Z"}"#, &cutoff), When::Unknown);
        assert_eq!(when(br#"{"ts":"2026-12-05T23:59:59+02:00"}"#, &cutoff), When::Unknown);
        assert_eq!(when(br#"{"type":"up","ts":"2026-12-05T23:59:59Z"}"#, &cutoff), When::Unknown);
        assert_eq!(when(b"\x00\xffgarbage", &cutoff), When::Unknown);
    }

    #[test]
    fn plain_fields_are_read_and_escaped_ones_left_to_the_parser() {
        let l = br#"{"ts":"x","check":"api:web","name":"W \"q\"","type":"down","message":"\"type\":\"up\""}"#;
        assert_eq!(plain_field(l, "check"), Some("api:web"));
        assert_eq!(plain_field(l, "type"), Some("down"));
        assert_eq!(plain_field(l, "name"), None);
        assert_eq!(plain_field(l, "channel"), None);
    }
}
