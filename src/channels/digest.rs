//! Quiet hours and digests (SPEC §15): which queued messages wait, and how
//! several queued messages of a channel fold into one `digest` that tells
//! each incident's whole story.
//!
//! Every queued heartbeat message carries its channel-neutral [`Facts`].
//! Before each delivery, [`prepare`] holds what quiet hours hold and, per
//! channel, folds the queue into one digest when the quiet hours are over
//! (something was held) or when two or more messages waited over
//! [`GAP`] (a channel that was down, a Mac asleep or offline). The folding
//! itself, [`fold`], is pure; the digest is then rendered by the channel
//! like any message, and takes the place of the messages it folded.

use chrono::{DateTime, Duration, FixedOffset, Utc};

use super::{Channel, Message, MessageCheck, NotificationKind, Tone};
use crate::duration::human as human_duration;
use crate::state::{Notification, State};

/// Queued messages older than this, two or more, go out as one digest.
pub const GAP: Duration = Duration::minutes(30);

pub use crate::message::Facts;

/// What quiet hours say right now.
#[derive(Debug, Clone, Copy)]
pub struct Quiet<'a> {
    /// Quiet hours are in force.
    pub active: bool,
    /// Kinds that go out anyway (`quiet_allow`).
    pub allow: &'a [String],
}

impl Quiet<'_> {
    fn holds(&self, kind: NotificationKind) -> bool {
        self.active && !self.allow.iter().any(|k| k == kind.as_str())
    }
}

/// Which queued messages of one channel to fold into a digest, by index
/// into the queue. Marks what quiet hours hold. Pure.
pub fn plan(queue: &mut [Notification], channel: &str, quiet: Quiet, now: DateTime<Utc>) -> Vec<usize> {
    let mine: Vec<usize> = (0..queue.len()).filter(|&i| queue[i].channel == channel).collect();
    let was_held = mine.iter().any(|&i| queue[i].held);
    for &i in &mine {
        queue[i].held = quiet.holds(queue[i].kind);
    }
    if quiet.active {
        return Vec::new();
    }
    let foldable: Vec<usize> = mine.into_iter().filter(|&i| queue[i].message.is_some()).collect();
    let waited = foldable.first().is_some_and(|&i| now - queue[i].created_at > GAP);
    if (was_held && !foldable.is_empty()) || (foldable.len() >= 2 && waited) { foldable } else { Vec::new() }
}

/// Holds and folds every channel's queue (call before delivering).
/// Returns the channels whose messages became a digest.
pub fn prepare(
    st: &mut State,
    channels: &[&dyn Channel],
    quiet: Quiet,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> Vec<String> {
    let mut folded = Vec::new();
    for ch in channels {
        let picked = plan(&mut st.pending_notifications, ch.name(), quiet, now);
        if picked.is_empty() || !ch.takes(NotificationKind::Digest) {
            continue;
        }
        let parts: Vec<Facts> = picked
            .iter()
            .filter_map(|&i| st.pending_notifications[i].message.as_ref())
            .flat_map(|f| f.flat().into_iter().cloned())
            .collect();
        let msg = fold(&parts, now, offset);
        let mut facts = Facts::of(&msg);
        facts.parts = parts;
        let entry = Notification {
            channel: ch.name().to_string(),
            kind: NotificationKind::Digest,
            created_at: now,
            payload: super::queue::scrubbed(ch.render(&msg)),
            attempts: 0,
            last_error: None,
            message: Some(Box::new(facts)),
            held: false,
        };
        // In place of the first folded message: the queue's order stands.
        let first = picked[0];
        let mut i = 0;
        st.pending_notifications.retain(|_| {
            let keep = i == first || !picked.contains(&i);
            i += 1;
            keep
        });
        st.pending_notifications[first] = entry;
        folded.push(ch.name().to_string());
    }
    folded
}

/// [`prepare`] at this moment's local time and quiet hours, saying in the
/// log what was held and folded. Call with the state lock held, before
/// delivering.
pub fn hold_and_fold(
    st: &mut State,
    channels: &[&dyn Channel],
    quiet_hours: &str,
    allow: &[String],
    now: DateTime<Utc>,
) {
    let local = now.with_timezone(&chrono::Local);
    let quiet = Quiet { active: crate::windows::quiet(quiet_hours, local.naive_local()), allow };
    for ch in prepare(st, channels, quiet, now, *local.offset()) {
        crate::log::info(&format!("Digest: the messages waiting for {ch} were folded into one"));
    }
    let held = st.pending_notifications.iter().filter(|n| n.held).count();
    if held > 0 {
        crate::log::info(&format!(
            "Quiet hours ({quiet_hours}): {held} message(s) held until they end, then sent as one digest"
        ));
    }
}

/// One check's story across the folded messages.
#[derive(Debug, Clone, PartialEq)]
struct Story {
    id: String,
    name: String,
    what: What,
    down_since: Option<DateTime<Utc>>,
    up_at: Option<DateTime<Utc>>,
    lasted_s: Option<i64>,
    caused_by: Option<String>,
    /// Other messages (repair, …): their titles.
    note: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum What {
    Down,
    Up,
    Flapping,
    Stable,
    Other,
}

/// The digest of `parts` (oldest first): one line per check telling its
/// whole story, in the order the checks first appear. Times are shown at
/// `offset` (local time). Pure.
pub fn fold(parts: &[Facts], now: DateTime<Utc>, offset: FixedOffset) -> Message {
    let mut stories: Vec<Story> = Vec::new();
    for p in parts.iter().flat_map(Facts::flat) {
        for c in &p.checks {
            let at = match stories.iter().position(|s| s.id == c.id) {
                Some(at) => at,
                None => {
                    stories.push(Story {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        what: What::Other,
                        down_since: None,
                        up_at: None,
                        lasted_s: None,
                        caused_by: None,
                        note: String::new(),
                    });
                    stories.len() - 1
                }
            };
            let s = &mut stories[at];
            let came_up = p.kind == NotificationKind::Recovery
                || (matches!(p.kind, NotificationKind::Alert | NotificationKind::Reminder) && c.status != "fail");
            match p.kind {
                NotificationKind::Alert | NotificationKind::Reminder if !came_up => {
                    if s.what != What::Down {
                        s.down_since = c.down_since.or(Some(p.ts));
                        s.up_at = None;
                        s.lasted_s = None;
                    }
                    s.what = What::Down;
                    s.caused_by = c.caused_by.clone();
                }
                NotificationKind::Alert | NotificationKind::Reminder | NotificationKind::Recovery => {
                    if s.what != What::Down || s.down_since.is_none() {
                        s.down_since = c.down_since.or_else(|| c.lasted_s.map(|l| p.ts - Duration::seconds(l)));
                    }
                    s.what = What::Up;
                    s.up_at = Some(p.ts);
                    s.lasted_s = c.lasted_s.or_else(|| s.down_since.map(|d| (p.ts - d).num_seconds()));
                }
                NotificationKind::Flapping => {
                    s.what = What::Flapping;
                    s.note = p.title.clone();
                }
                NotificationKind::Stable => s.what = What::Stable,
                _ => {
                    s.what = What::Other;
                    s.note = p.title.clone();
                }
            }
        }
    }
    let hm = |t: DateTime<Utc>| t.with_timezone(&offset).format("%H:%M").to_string();
    let line = |s: &Story| -> (String, String) {
        let because = s.caused_by.as_ref().map(|c| format!(" (because of {c})")).unwrap_or_default();
        match s.what {
            What::Down => {
                let since = s.down_since.map(|t| format!(" since {}", hm(t))).unwrap_or_default();
                let long = s.down_since.map(|t| format!(" (for {})", human_duration(now - t))).unwrap_or_default();
                (format!("❌ {} down{since}{long}{because}, still down", s.name), format!("{} still down", s.name))
            }
            What::Up => {
                let lasted = s.lasted_s.map(|l| human_duration(Duration::seconds(l))).unwrap_or_default();
                let span = match (s.down_since, s.up_at) {
                    (Some(a), Some(b)) => format!(" {}–{}", hm(a), hm(b)),
                    _ => String::new(),
                };
                (
                    format!("✅ {} down{span} ({lasted}){because}, back up", s.name),
                    format!("{} down {lasted}, back up", s.name),
                )
            }
            What::Flapping => (format!("⚠️ {}", s.note.trim_start_matches("⚠️ ")), format!("{} flapping", s.name)),
            What::Stable => (format!("✅ {} flapped, stable again", s.name), format!("{} stable again", s.name)),
            What::Other => (s.note.clone(), s.note.clone()),
        }
    };
    let lines: Vec<(String, String)> = stories.iter().map(line).collect();
    let flat: Vec<&Facts> = parts.iter().flat_map(Facts::flat).collect();
    let last = flat.last();
    let host = last.map(|f| f.host.clone()).unwrap_or_default();
    let still_down: Vec<String> = stories.iter().filter(|s| s.what == What::Down).map(|s| s.name.clone()).collect();
    let short: Vec<String> = lines.iter().map(|(_, s)| s.clone()).collect();
    let title = format!("📋 Digest for {host}: {}", short.join("; "));
    let mut body = String::new();
    for (l, _) in &lines {
        body.push_str(&format!("- {l}\n"));
    }
    let told: Vec<String> = flat.iter().map(|f| format!("{} {}", f.kind.as_str(), hm(f.ts))).collect();
    body.push_str(&format!("\n{} message(s) held or delayed, told here in one: {}\n", flat.len(), told.join(", ")));
    let report = last.map(|f| f.report.clone()).unwrap_or_default();
    if !report.is_empty() {
        body.push_str(&format!("Report: `{report}`\n"));
    }
    let checks = stories
        .iter()
        .map(|s| MessageCheck {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: String::new(),
            status: if s.what == What::Down { "fail" } else { "ok" }.into(),
            message: lines
                .iter()
                .zip(&stories)
                .find(|(_, x)| x.id == s.id)
                .map(|(l, _)| l.0.clone())
                .unwrap_or_default(),
            target: String::new(),
            down_since: s.down_since,
            lasted_s: s.lasted_s,
            caused_by: s.caused_by.clone(),
        })
        .collect();
    Message {
        kind: NotificationKind::Digest,
        content: title.clone(),
        title,
        body,
        tone: if still_down.is_empty() { Tone::Green } else { Tone::Red },
        footer: format!("ops-atomic digest · {host} · {} message(s)", flat.len()),
        timestamp: now,
        host,
        status: last.map(|f| f.status.clone()).unwrap_or_default(),
        checks,
        still_down,
        report,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 10, 28, h, m, 0).unwrap()
    }

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    fn check(id: &str, status: &str, down_since: Option<DateTime<Utc>>, lasted_min: Option<i64>) -> MessageCheck {
        let mut name = id.to_string();
        name[..1].make_ascii_uppercase();
        MessageCheck {
            id: id.into(),
            name,
            kind: id.into(),
            status: status.into(),
            message: String::new(),
            target: String::new(),
            down_since,
            lasted_s: lasted_min.map(|m| m * 60),
            caused_by: None,
        }
    }

    fn facts(kind: NotificationKind, ts: DateTime<Utc>, checks: Vec<MessageCheck>) -> Facts {
        Facts {
            kind,
            title: format!("{} title", kind.as_str()),
            ts,
            host: "mac-mini".into(),
            status: "CRITICAL".into(),
            checks,
            still_down: Vec::new(),
            report: "/r/heartbeat_x.md".into(),
            parts: Vec::new(),
        }
    }

    fn night() -> Vec<Facts> {
        vec![
            facts(NotificationKind::Alert, t(2, 10), vec![check("redis", "fail", Some(t(2, 10)), None)]),
            facts(NotificationKind::Reminder, t(2, 20), vec![check("redis", "fail", Some(t(2, 10)), None)]),
            facts(NotificationKind::Recovery, t(2, 25), vec![check("redis", "ok", None, Some(15))]),
            facts(NotificationKind::Alert, t(3, 0), vec![check("database", "fail", Some(t(3, 0)), None)]),
        ]
    }

    #[test]
    fn a_digest_tells_each_incident_whole_story_in_order() {
        let m = fold(&night(), t(7, 0), utc());
        assert_eq!(m.kind, NotificationKind::Digest);
        assert_eq!(m.title, "📋 Digest for mac-mini: Redis down 15 min, back up; Database still down");
        assert!(m.body.contains("- ✅ Redis down 02:10–02:25 (15 min), back up\n"), "{}", m.body);
        assert!(m.body.contains("- ❌ Database down since 03:00 (for 4 h), still down\n"), "{}", m.body);
        assert!(m.body.contains("4 message(s) held or delayed"), "{}", m.body);
        assert!(m.body.find("Redis").unwrap() < m.body.find("Database").unwrap());
        assert_eq!(m.tone, Tone::Red);
        assert_eq!(m.still_down, ["Database"]);
        let all_up = fold(&night()[..3], t(7, 0), utc());
        assert_eq!(all_up.tone, Tone::Green);
    }

    #[test]
    fn an_alert_naming_a_check_back_up_and_a_digest_of_digests_fold_the_same() {
        let mut first = facts(NotificationKind::Digest, t(2, 30), Vec::new());
        first.parts = night()[..2].to_vec();
        let parts = vec![first, night()[2].clone(), night()[3].clone()];
        assert_eq!(fold(&parts, t(7, 0), utc()).body, fold(&night(), t(7, 0), utc()).body);
        let both = facts(
            NotificationKind::Alert,
            t(3, 0),
            vec![check("database", "fail", Some(t(2, 55)), None), check("redis", "ok", None, Some(20))],
        );
        let m = fold(&[night()[0].clone(), both], t(3, 5), utc());
        assert!(m.body.contains("Redis down 02:10–03:00 (20 min), back up"), "{}", m.body);
        assert!(m.body.contains("Database down since 02:55"), "{}", m.body);
    }

    fn entry(kind: NotificationKind, at: DateTime<Utc>, channel: &str, facts_too: bool) -> Notification {
        Notification {
            channel: channel.into(),
            kind,
            created_at: at,
            payload: serde_json::Value::Null,
            attempts: 0,
            last_error: None,
            message: facts_too.then(|| Box::new(facts(kind, at, Vec::new()))),
            held: false,
        }
    }

    #[test]
    fn quiet_hours_hold_an_alert_its_recovery_and_a_reminder_then_fold_them() {
        let none: Vec<String> = Vec::new();
        let alerts = vec!["alert".to_string()];
        let quiet = Quiet { active: true, allow: &none };
        let mut q = vec![
            entry(NotificationKind::Alert, t(2, 10), "discord", true),
            entry(NotificationKind::Reminder, t(2, 20), "discord", true),
            entry(NotificationKind::Recovery, t(2, 25), "discord", true),
        ];
        assert!(plan(&mut q, "discord", quiet, t(2, 30)).is_empty(), "nothing is folded during quiet hours");
        assert!(q.iter().all(|n| n.held));
        // `quiet_allow = ["alert"]`: the alert goes, the rest is held.
        plan(&mut q, "discord", Quiet { active: true, allow: &alerts }, t(2, 30));
        assert_eq!(q.iter().map(|n| n.held).collect::<Vec<_>>(), [false, true, true]);
        // The quiet hours end: everything of the channel folds, even messages under 30 minutes old.
        let folded = plan(&mut q, "discord", Quiet { active: false, allow: &none }, t(2, 31));
        assert_eq!(folded, [0, 1, 2]);
        assert!(q.iter().all(|n| !n.held));
    }

    #[test]
    fn after_a_gap_two_old_messages_fold_and_one_or_fresh_ones_do_not() {
        let none: Vec<String> = Vec::new();
        let day = Quiet { active: false, allow: &none };
        let mut q = vec![
            entry(NotificationKind::Daily, t(1, 0), "discord", false),
            entry(NotificationKind::Alert, t(2, 0), "discord", true),
            entry(NotificationKind::Alert, t(2, 0), "phone", true),
            entry(NotificationKind::Recovery, t(2, 20), "discord", true),
        ];
        assert!(plan(&mut q, "discord", day, t(2, 25)).is_empty(), "25 minutes is not a gap");
        assert_eq!(plan(&mut q, "discord", day, t(2, 31)), [1, 3], "the daily message has no story to fold");
        assert!(plan(&mut q, "phone", day, t(5, 0)).is_empty(), "one message is sent as it is");
    }

    #[test]
    fn prepare_puts_the_digest_in_place_of_the_folded_messages() {
        struct Ch;
        impl Channel for Ch {
            fn name(&self) -> &str {
                "discord"
            }
            fn label(&self) -> String {
                "Discord".into()
            }
            fn target(&self) -> String {
                String::new()
            }
            fn validate(&self, _: &str) -> Vec<String> {
                Vec::new()
            }
            fn secrets(&self) -> Vec<String> {
                Vec::new()
            }
            fn redact(&mut self) {}
            fn render(&self, msg: &Message) -> serde_json::Value {
                serde_json::Value::String(msg.title.clone())
            }
            fn send(
                &self,
                _: &serde_json::Value,
                _: std::time::Duration,
                _: &std::path::Path,
            ) -> Result<(), super::super::SendError> {
                Ok(())
            }
            fn timeout(&self) -> std::time::Duration {
                std::time::Duration::from_secs(1)
            }
        }
        let mut st = State {
            pending_notifications: vec![
                entry(NotificationKind::Daily, t(1, 0), "discord", false),
                entry(NotificationKind::Alert, t(2, 0), "discord", true),
                entry(NotificationKind::Test, t(2, 5), "discord", false),
                entry(NotificationKind::Recovery, t(2, 20), "discord", true),
            ],
            ..State::default()
        };
        let none: Vec<String> = Vec::new();
        let folded = prepare(&mut st, &[&Ch], Quiet { active: false, allow: &none }, t(3, 0), utc());
        assert_eq!(folded, ["discord"]);
        let kinds: Vec<NotificationKind> = st.pending_notifications.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, [NotificationKind::Daily, NotificationKind::Digest, NotificationKind::Test]);
        assert_eq!(st.pending_notifications[1].message.as_ref().unwrap().parts.len(), 2);
    }
}
