//! `ops-atomic page` (SPEC §14) read in a real browser: Debian's `chromium`,
//! headless, loads the page from `file://` and dumps the DOM it built, and
//! takes screenshots at desktop and phone width. Histories of 1 h, 24 h and
//! 7 d (generated, with a night asleep, missed heartbeats, failures,
//! warnings and incidents) must draw bars whose slot counts and colours
//! match them. A missing chromium fails the test (scripts/test.sh installs
//! it; env `OPS_ATOMIC_CHROMIUM` names another binary).

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::json;

use common::*;

const EVENTS: &str = "g/state/events.jsonl";
const PAGE: &str = "g/reports/status.html";

/// No check of the default config runs: the page is about the generated history.
const QUIET: &str = "[redis]\nenabled = false\n\n[database]\nenabled = false\n";

// ---------------------------------------------------------------------------
// The browser

fn chromium() -> PathBuf {
    find_program(
        "chromium",
        "OPS_ATOMIC_CHROMIUM",
        "The status page tests read the page in a real browser: install Debian's `chromium` (`sudo apt-get install -y chromium`)",
    )
}

/// Runs headless chromium on `url` with `args`, in a fresh profile, and
/// returns its stdout. Bounded: the whole process group is killed after
/// 90 s (and after it exits, so no helper process outlives the test).
fn browse(args: &[String], url: &str) -> String {
    let profile = TempDir::new("chromium");
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url)
    .env("HOME", profile.path())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start chromium: {e}"));
    let pgid = child.id() as i32;
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + StdDuration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(StdDuration::from_millis(20));
    };
    // SAFETY: kill(2) on the process group chromium leads; nothing else is in it.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let _ = child.wait();
    let stdout = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        None => panic!("chromium did not finish within 90 s on {url}\nstderr: {stderr}"),
        Some(s) if !s.success() => panic!("chromium failed ({s}) on {url}\nstderr: {stderr}"),
        Some(_) => stdout,
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The DOM chromium built from the file.
fn dump_dom(path: &Path) -> String {
    let dom = browse(&["--dump-dom".to_string()], &file_url(path));
    assert!(dom.contains("</html>"), "chromium dumped no document:\n{dom}");
    dom
}

/// A screenshot at `width`×`height`: the PNG's bytes.
fn screenshot(path: &Path, width: u32, height: u32) -> Vec<u8> {
    let dir = TempDir::new("shot");
    let png = dir.path().join("shot.png");
    browse(&[format!("--screenshot={}", png.display()), format!("--window-size={width},{height}")], &file_url(path));
    std::fs::read(&png).unwrap_or_else(|e| panic!("chromium wrote no screenshot {}: {e}", png.display()))
}

/// The width and height in a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

// ---------------------------------------------------------------------------
// Generated histories

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A history over `span`: a heartbeat every 5 minutes, each in the middle
/// of a 5-minute slot (150 s + 5 min × k before `now`), so the second or so
/// between writing it and `page` reading it moves no run into another slot.
/// Minutes are "minutes before now", ranges are `[from, to)`.
struct Story {
    since: &'static str,
    span: Duration,
    /// Slots the bar must have, and how long each is.
    slots: usize,
    slot_s: i64,
    /// No heartbeat, the machine asleep (the next run says how long it slept).
    asleep: (i64, i64),
    /// No heartbeat, the machine awake: missed.
    missed: (i64, i64),
    /// Redis failing (an incident that ended), the Web API warning, SSH
    /// failing until now (an incident still open).
    redis_down: (i64, i64),
    web_warn: (i64, i64),
    ssh_down: (i64, i64),
}

const CHECKS: [(&str, &str, &str); 3] =
    [("redis", "Redis", "redis"), ("api:web", "Web API", "api"), ("tcp:ssh", "SSH", "tcp")];

impl Story {
    /// Seconds before now of every heartbeat, oldest first.
    fn runs(&self) -> Vec<i64> {
        let mut out: Vec<i64> = (0..)
            .map(|k| 150 + 300 * k)
            .take_while(|s| *s < self.span.num_seconds())
            .filter(|s| !within(*s, self.asleep) && !within(*s, self.missed))
            .collect();
        out.reverse();
        out
    }

    fn status(&self, id: &str, ago_s: i64) -> &'static str {
        match id {
            "redis" if within(ago_s, self.redis_down) => "fail",
            "api:web" if within(ago_s, self.web_warn) => "warn",
            "tcp:ssh" if within(ago_s, self.ssh_down) => "fail",
            _ => "ok",
        }
    }

    fn write(&self, root: &TestRoot, now: DateTime<Utc>) {
        let runs = self.runs();
        let mut history = String::new();
        for &ago in &runs {
            let checks: Vec<_> = CHECKS
                .iter()
                .map(|(id, name, kind)| {
                    let st = self.status(id, ago);
                    json!({"id": id, "name": name, "kind": kind, "status": st, "latency_ms": 5 + ago % 40,
                           "message": if st == "ok" { "ok" } else { "connection refused" }})
                })
                .collect();
            let mut line = json!({"ts": ts(now - Duration::seconds(ago)), "status": "HEALTHY", "duration_ms": 9, "checks": checks});
            // The first run after the night says how long the machine slept.
            if ago < self.asleep.0 * 60 && ago + 300 >= self.asleep.0 * 60 {
                line["slept_s"] = json!((self.asleep.1 - self.asleep.0) * 60);
            }
            history.push_str(&line.to_string());
            history.push('\n');
        }
        root.write(HISTORY, &history);
        let event = |mins: i64, check: &str, name: &str, kind: &str, lasted: Option<i64>| {
            let mut e = json!({"ts": ts(now - Duration::minutes(mins)), "check": check, "name": name, "type": kind,
                               "from": null, "message": "connection refused"});
            if let Some(l) = lasted {
                e["lasted_s"] = json!(l * 60);
            }
            e.to_string()
        };
        let (r0, r1) = self.redis_down;
        let events = [
            // Long before the window: not on the page.
            event(self.span.num_minutes() + 100, "redis", "Redis", "down", None),
            event(self.span.num_minutes() + 90, "redis", "Redis", "up", Some(10)),
            event(r1 - 1, "redis", "Redis", "down", None),
            event(r1 - 2, "redis", "Redis", "repair", None),
            event(r0, "redis", "Redis", "up", Some(r1 - 1 - r0)),
            event(self.ssh_down.1 - 1, "tcp:ssh", "SSH", "down", None),
        ];
        root.write(EVENTS, &(events.join("\n") + "\n"));
    }

    /// The class each slot of `id`'s bar must have: the worst status of the
    /// runs in it; where none ran, "asleep" inside the night, else "none".
    fn expected(&self, id: &str) -> Vec<&'static str> {
        let runs = self.runs();
        let span = self.span.num_seconds();
        (0..self.slots as i64)
            .map(|i| {
                // Slot i covers (span - (i+1)·slot, span - i·slot] seconds ago.
                let (newest, oldest) = (span - (i + 1) * self.slot_s, span - i * self.slot_s);
                let inside: Vec<&'static str> =
                    runs.iter().filter(|&&a| a > newest && a <= oldest).map(|&a| self.status(id, a)).collect();
                if inside.contains(&"fail") {
                    "fail"
                } else if inside.contains(&"warn") {
                    "warn"
                } else if !inside.is_empty() {
                    "ok"
                } else if within((newest + oldest) / 2, self.asleep) {
                    "asleep"
                } else {
                    "none"
                }
            })
            .collect()
    }
}

/// Whether `ago_s` seconds lies in the minutes `[from, to)`.
fn within(ago_s: i64, (from, to): (i64, i64)) -> bool {
    ago_s >= from * 60 && ago_s < to * 60
}

fn hour() -> Story {
    Story {
        since: "1h",
        span: Duration::hours(1),
        slots: 12,
        slot_s: 300,
        asleep: (20, 35),
        missed: (45, 55),
        redis_down: (10, 15),
        web_warn: (40, 45),
        ssh_down: (0, 5),
    }
}

fn day() -> Story {
    Story {
        since: "24h",
        span: Duration::hours(24),
        slots: 288,
        slot_s: 300,
        asleep: (600, 1080),
        missed: (300, 360),
        redis_down: (100, 130),
        web_warn: (200, 215),
        ssh_down: (0, 20),
    }
}

fn week() -> Story {
    Story {
        since: "7d",
        span: Duration::days(7),
        slots: 168,
        slot_s: 3600,
        asleep: (3000, 3480),
        missed: (6000, 6300),
        redis_down: (1000, 1100),
        web_warn: (8000, 8030),
        ssh_down: (0, 30),
    }
}

/// Writes the story in a fresh root and the page over its window.
fn page_of(story: &Story) -> (TestRoot, PathBuf) {
    let root = TestRoot::new();
    root.write_config(QUIET);
    story.write(&root, Utc::now());
    let run = ops(&root).args(["page", "--since", story.since]).run();
    run.expect_code(0);
    assert!(run.stdout.contains("status page written"), "{run}");
    let path = root.path(PAGE);
    assert!(path.exists(), "the page is written to g/reports/status.html:\n{run}");
    (root, path)
}

/// The part of the DOM that is the row of check `id`.
fn row<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom.find(&format!("data-check=\"{id}\"")).unwrap_or_else(|| panic!("no row for {id}:\n{dom}"));
    let end = dom[at..].find("</tr>").map_or(dom.len(), |e| at + e);
    &dom[at..end]
}

/// The classes of the `<rect>` slots of a row's bar, oldest first. An ok
/// slot carries no class (the bar's fill is ok's), which keeps a week's
/// page small.
fn slot_classes(row: &str) -> Vec<String> {
    row.split("<rect ")
        .skip(1)
        .map(|r| {
            let tag = r.split('>').next().unwrap_or_default();
            let c = tag.split("class=\"").nth(1).and_then(|c| c.split('"').next()).unwrap_or("ok");
            c.to_string()
        })
        .collect()
}

/// Every value of `src=`, `href=` and CSS `url(…)` in the HTML.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=", "href=", "SRC=", "HREF="] {
        for part in html.split(attr).skip(1) {
            let quote = part.chars().next().unwrap_or(' ');
            let value: String = if quote == '"' || quote == '\'' {
                part[1..].chars().take_while(|c| *c != quote).collect()
            } else {
                part.chars().take_while(|c| !c.is_whitespace() && *c != '>').collect()
            };
            out.push(value);
        }
    }
    for part in html.split("url(").skip(1) {
        out.push(part.chars().take_while(|c| *c != ')').collect());
    }
    out
}

fn assert_bars_match(story: &Story) {
    let (_root, path) = page_of(story);
    let html = std::fs::read_to_string(&path).expect("read the page");
    let dom = dump_dom(&path);
    for (id, name, _) in CHECKS {
        let r = row(&dom, id);
        assert!(r.contains(name), "{id}'s row names it:\n{r}");
        let got = slot_classes(r);
        assert_eq!(got.len(), story.slots, "{id}: one <rect> per {} s slot over {}", story.slot_s, story.since);
        let want = story.expected(id);
        let diff: Vec<String> = got
            .iter()
            .zip(&want)
            .enumerate()
            .filter(|(_, (g, w))| g != w)
            .map(|(i, (g, w))| format!("slot {i}: {g}, expected {w}"))
            .collect();
        assert!(diff.is_empty(), "{id} over {}: {}", story.since, diff.join("; "));
        assert!(r.contains("<title>"), "every slot carries a title:\n{r}");
    }
    for class in ["ok", "warn", "fail", "asleep", "none"] {
        assert!(slot_classes(&dom).iter().any(|c| c == class), "the {} bars show {class} somewhere", story.since);
    }
    // The incidents: Redis's (ended, with its repair) and SSH's (still open); the old one is out.
    let incidents: Vec<&str> = dom.split("<tr class=\"incident\"").skip(1).collect();
    assert_eq!(incidents.len(), 2, "two incidents over {}:\n{dom}", story.since);
    assert!(incidents[0].contains("SSH") && incidents[0].contains("ongoing"), "newest first: {}", incidents[0]);
    assert!(incidents[1].contains("Redis") && incidents[1].contains("connection refused"), "{}", incidents[1]);
    // The night asleep and the missed heartbeats are both listed as gaps.
    let gaps: Vec<&str> = dom.split("<tr class=\"gap\"").skip(1).collect();
    assert!(gaps.iter().any(|g| g.contains("asleep")), "{}", gaps.join("\n"));
    assert!(gaps.iter().any(|g| g.contains("missed heartbeat")), "{}", gaps.join("\n"));
    // Without a state file, the last heartbeat is the history's newest line.
    assert!(html.contains("Last heartbeat: 20") && !html.contains("the monitor has stopped"), "{html}");
    // Self-contained: nothing is fetched from anywhere.
    for r in references(&html) {
        assert!(!r.contains("//") && !r.contains("http"), "a reference leaves the file: {r:?}");
    }
    for tag in ["<script", "<link", "<img", "<iframe", "@import"] {
        assert!(!html.to_lowercase().contains(tag), "{tag} in the page");
    }
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn one_hour_draws_twelve_five_minute_slots_that_match_the_history() {
    assert_bars_match(&hour());
}

#[test]
fn a_day_draws_288_five_minute_slots_that_match_the_history() {
    assert_bars_match(&day());
}

#[test]
fn a_week_draws_168_hour_slots_that_match_the_history() {
    assert_bars_match(&week());
}

#[test]
fn screenshots_at_desktop_and_phone_width_are_not_blank() {
    let story = week();
    let (root, path) = page_of(&story);
    let blank = root.write("blank.html", "<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>");
    for (w, h) in [(1280, 900), (375, 800)] {
        let page = screenshot(&path, w, h);
        let empty = screenshot(&blank, w, h);
        assert_eq!(png_size(&page), (w, h), "the screenshot is {w}×{h}");
        // A white page compresses to almost nothing; bars, text and tables do not.
        assert!(
            page.len() > 5 * empty.len() && page.len() > 20_000,
            "the {w}×{h} screenshot looks blank: {} bytes (a blank page: {})",
            page.len(),
            empty.len()
        );
    }
}

#[test]
fn the_page_is_0600_says_who_is_silenced_and_waiting_and_flags_a_stopped_monitor() {
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}\n[monitor]\nhost_name = \"mac-mini\"\n"));
    let now = Utc::now();
    hour().write(&root, now);
    let an_hour_ago = ts(now - Duration::hours(1));
    root.write_state(&json!({
        "version": 2, "runs": 12, "consecutive_failures": 1, "consecutive_successes": 0, "alert_active": true,
        "first_failure_at": null, "last_alert_at": null, "last_run_at": an_hour_ago, "last_status": "CRITICAL",
        "pending_notifications": [
            {"channel": "discord", "kind": "alert", "created_at": an_hour_ago, "payload": {}},
            {"channel": "discord", "kind": "recovery", "created_at": an_hour_ago, "payload": {}},
            {"channel": "ntfy", "kind": "alert", "created_at": an_hour_ago, "payload": {}}
        ],
        "checks": {"tcp:ssh": {"name": "SSH", "kind": "tcp", "status": "fail", "down": true, "caused_by": "redis"},
                   "redis": {"name": "Redis", "kind": "redis", "status": "ok"}},
        "silences": [{"check": "tcp:ssh", "until": ts(now + Duration::hours(2)), "reason": "router swap", "created_at": an_hour_ago}]
    }));
    let run = ops(&root).args(["page", "--since", "1h"]).run();
    run.expect_code(0);
    let html = root.read(PAGE);
    let mode =
        std::fs::metadata(root.path(PAGE)).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    for want in [
        "CRITICAL",
        "mac-mini",
        "1 h ago",
        "the monitor has stopped",
        "SSH silenced until",
        "router swap",
        "2 messages waiting for discord",
        "1 message waiting for ntfy",
        "caused by Redis",
    ] {
        assert!(html.contains(want), "{want:?} missing from the page:\n{html}");
    }
}

#[test]
fn a_token_in_a_url_never_reaches_the_page_and_an_incident_rewrites_it() {
    let root = TestRoot::new();
    let port = free_port();
    let token = "s3cr3tT0kenValue42";
    root.write_config(&format!(
        "{QUIET}\n[monitor]\nalert_threshold = 1\n\n[[api]]\nname = \"Tokened API\"\nurl = \"http://127.0.0.1:{port}/health?token={token}\"\ntimeout_ms = 500\n"
    ));
    // The endpoint refuses (an API is a warning): the first heartbeat opens an
    // incident, which writes the page.
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(1);
    assert!(run.stdout.contains("Status page written"), "{run}");
    let html = root.read(PAGE);
    assert!(html.contains("Tokened API"), "{html}");
    assert!(html.contains(&format!("127.0.0.1:{port}")), "the target is shown:\n{html}");
    assert!(!html.contains(token), "the token leaked into the page:\n{html}");
    // A heartbeat that opens or closes nothing leaves the page alone.
    std::fs::remove_file(root.path(PAGE)).expect("remove the page");
    let run = ops(&root).arg("heartbeat").run();
    run.expect_code(1);
    assert!(!root.exists(PAGE), "rewritten without an incident opening or closing:\n{run}");
    // `page` itself never prints or writes the token either.
    let run = ops(&root).arg("page").run();
    run.expect_code(0);
    assert!(!root.read(PAGE).contains(token) && !run.output().contains(token));
}

#[test]
fn the_daily_run_rewrites_the_page() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    hour().write(&root, Utc::now());
    let run = ops(&root).arg("daily").run();
    assert!(root.exists(PAGE), "the daily run wrote no page:\n{run}");
    assert!(run.stdout.contains("Status page written"), "{run}");
}

#[test]
fn output_open_override_and_a_bad_since() {
    let root = TestRoot::new();
    root.write_config(QUIET);
    hour().write(&root, Utc::now());
    // --open runs xdg-open (open on macOS) with the file; a fake one records it.
    let bin = root.path("bin");
    let called = root.path("opened.txt");
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    root.write(&format!("bin/{opener}"), &format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", called.display()));
    std::fs::set_permissions(bin.join(opener), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = root.path("elsewhere/page.html");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let run = ops(&root).args(["page", "--open", "--output"]).arg(&out).env("PATH", &bin).run();
    run.expect_code(0);
    assert!(out.exists() && !root.exists(PAGE), "--output writes there instead:\n{run}");
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while !called.exists() && Instant::now() < deadline {
        std::thread::sleep(StdDuration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&called).ok().as_deref(), Some(out.to_str().unwrap()), "{run}");
    // No opener at all: a warning, the page is written all the same.
    let empty = root.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let run = ops(&root).args(["page", "--open"]).env("PATH", &empty).run();
    run.expect_code(0);
    assert!(run.output().contains("[WARN]") && run.output().contains(opener), "{run}");
    assert!(root.exists(PAGE));
    // templates/status.html.tera overrides the built-in template.
    root.write("templates/status.html.tera", "<p>my own page: {% for c in checks %}{{ c.name }}; {% endfor %}</p>");
    ops(&root).arg("page").run().expect_code(0);
    assert!(root.read(PAGE).contains("my own page: ") && root.read(PAGE).contains("SSH; "), "{}", root.read(PAGE));
    // A bad --since is a usage error: exit 3, nothing written.
    std::fs::remove_file(root.path(PAGE)).unwrap();
    for bad in ["3w", "soon", "-1h", "0m"] {
        let run = ops(&root).arg("page").arg(format!("--since={bad}")).run();
        run.expect_code(3);
        assert!(run.stderr.contains("duration"), "{bad}: {run}");
    }
    assert!(!root.exists(PAGE));
}
