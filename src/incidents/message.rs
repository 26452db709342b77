//! The words of a decided message: title, body and the structured checks
//! every channel can use (SPEC §7.2). Pure: it sees the plan, the run's
//! results and the state, and renders the body from `message.md`.

use chrono::{DateTime, Local, Utc};
use serde::Serialize;

use super::{Plan, Subject, human_duration};
use crate::channels::{Message, MessageCheck, Tone};
use crate::checks::CheckResult;
use crate::exit::{Result, Status};
use crate::state::{NotificationKind, State};

/// Everything the words are made from.
pub struct Facts<'a> {
    pub plan: &'a Plan,
    pub results: &'a [CheckResult],
    pub state: &'a State,
    pub host: &'a str,
    pub status: Status,
    pub now: DateTime<Utc>,
    /// Absolute path of the run's report.
    pub report: String,
    /// The report's file name, for the footer.
    pub report_name: String,
}

#[derive(Serialize)]
struct Row {
    emoji: &'static str,
    name: String,
    message: String,
    target: String,
    since_local: String,
    since_utc: String,
    lasted: String,
    flap: String,
    /// What its repairs did lately (SPEC §12), e.g. "restarted 2× in the last hour; last: exit 0".
    repair: String,
}

fn names(list: &[Subject]) -> String {
    list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The title: which checks, what happened, on which machine. A phone shows
/// only this, so each kind reads differently from its first character.
pub fn title(plan: &Plan, host: &str) -> String {
    let title = kind_title(plan, host);
    if plan.because.is_empty() {
        return title;
    }
    let it = if plan.subjects.len() == 1 { "it" } else { "them" };
    format!("{title}; also failing because of {it}: {}", names(&plan.because))
}

fn kind_title(plan: &Plan, host: &str) -> String {
    let who = names(&plan.subjects);
    match plan.kind {
        NotificationKind::Alert => format!("❌ {who} down on {host}"),
        NotificationKind::Recovery => match plan.subjects.as_slice() {
            [one] => format!("✅ {who} back up on {host} after {}", human_duration(one.lasted.unwrap_or_default())),
            _ => format!("✅ {who} back up on {host}"),
        },
        NotificationKind::Flapping => {
            let first = &plan.subjects[0];
            format!("⚠️ {who} flapping on {host} ({} changes in {} runs)", first.changes, first.window)
        }
        NotificationKind::Stable => format!("✅ {who} stable again on {host}"),
        _ => {
            let longest = plan.subjects.iter().filter_map(|s| s.lasted).max().unwrap_or_default();
            format!("🔁 Still down on {host}: {who} (for {})", human_duration(longest))
        }
    }
}

/// The message for a plan, its body from the `message.md` template.
/// Returns it and, when a template override was broken, why.
pub fn build(f: &Facts, templates_dir: &std::path::Path) -> Result<(Message, Option<String>)> {
    let result = |id: &str| f.results.iter().find(|r| r.id == id);
    let row = |s: &Subject, emoji: &'static str| {
        let r = result(&s.id);
        let cs = f.state.checks.get(&s.id);
        let message = match f.plan.kind {
            NotificationKind::Alert | NotificationKind::Reminder => cs
                .and_then(|c| c.failure_message.clone())
                .filter(|_| f.plan.kind == NotificationKind::Alert)
                .or_else(|| r.map(|r| r.message.clone()))
                .unwrap_or_default(),
            _ => r.map(|r| r.message.clone()).unwrap_or_default(),
        };
        Row {
            emoji,
            name: s.name.clone(),
            message,
            target: r.map(|r| r.target.clone()).unwrap_or_default(),
            since_local: s
                .since
                .map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            since_utc: s.since.map(|t| t.format("%H:%M UTC").to_string()).unwrap_or_default(),
            lasted: s.lasted.map(human_duration).unwrap_or_default(),
            flap: if f.plan.kind == NotificationKind::Flapping {
                cs.map(|c| format!("{} changes in {} runs", super::flips(&c.recent), c.recent.len()))
                    .unwrap_or_default()
            } else {
                String::new()
            },
            repair: cs.and_then(|c| super::repairs::summary(&c.repairs, f.now)).unwrap_or_default(),
        }
    };
    let emoji = match f.plan.kind {
        NotificationKind::Alert | NotificationKind::Reminder => "❌",
        NotificationKind::Flapping => "⚠️",
        _ => "✅",
    };
    let still_down: Vec<Subject> = f
        .plan
        .still_down
        .iter()
        .filter_map(|id| {
            let cs = f.state.checks.get(id)?;
            Some(Subject {
                id: id.clone(),
                name: cs.name.clone(),
                since: cs.down_since,
                lasted: cs.down_since.map(|s| f.now - s),
                changes: 0,
                window: 0,
            })
        })
        .collect();
    let mut c = tera::Context::new();
    c.insert("kind", f.plan.kind.as_str());
    c.insert("checks", &f.plan.subjects.iter().map(|s| row(s, emoji)).collect::<Vec<_>>());
    c.insert("also_up", &f.plan.also_up.iter().map(|s| row(s, "✅")).collect::<Vec<_>>());
    c.insert("still_down", &still_down.iter().map(|s| row(s, "❌")).collect::<Vec<_>>());
    c.insert("because", &f.plan.because.iter().map(|s| row(s, "❌")).collect::<Vec<_>>());
    c.insert("report", &f.report);
    c.insert("host", f.host);
    let (body, problem) = crate::report::render(templates_dir, "message.md", &c)?;

    let title = title(f.plan, f.host);
    let tone = match f.plan.kind {
        NotificationKind::Alert | NotificationKind::Reminder => Tone::Red,
        NotificationKind::Flapping => Tone::Orange,
        NotificationKind::Recovery if !f.plan.still_down.is_empty() => Tone::Red,
        _ => Tone::Green,
    };
    let checks = f
        .plan
        .subjects
        .iter()
        .chain(&f.plan.also_up)
        .chain(&f.plan.because)
        .map(|s| {
            let r = result(&s.id);
            MessageCheck {
                id: s.id.clone(),
                name: s.name.clone(),
                kind: r.map(|r| r.kind.to_string()).unwrap_or_default(),
                status: r.map(|r| r.status.as_str().to_string()).unwrap_or_default(),
                message: r.map(|r| r.message.clone()).unwrap_or_default(),
                target: r.map(|r| r.target.clone()).unwrap_or_default(),
                down_since: s.since,
                lasted_s: s.lasted.map(|d| d.num_seconds()),
                caused_by: f.state.checks.get(&s.id).and_then(|c| c.caused_by.clone()),
            }
        })
        .collect();
    let msg = Message {
        kind: f.plan.kind,
        content: title.clone(),
        title,
        body,
        tone,
        footer: format!("ops-atomic heartbeat · {} · {}", f.host, f.report_name),
        timestamp: f.now,
        host: f.host.to_string(),
        status: f.status.as_str().to_string(),
        checks,
        still_down: still_down.iter().map(|s| s.name.clone()).collect(),
        report: f.report.clone(),
    };
    Ok((msg, problem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn subject(name: &str, lasted: Option<Duration>) -> Subject {
        Subject { id: name.to_lowercase(), name: name.into(), since: None, lasted, changes: 7, window: 20 }
    }

    fn plan(kind: NotificationKind, subjects: Vec<Subject>) -> Plan {
        Plan { kind, subjects, also_up: Vec::new(), still_down: Vec::new(), because: Vec::new() }
    }

    #[test]
    fn titles_name_the_checks_and_the_machine_and_differ_by_kind() {
        let one = vec![subject("Redis", Some(Duration::minutes(15)))];
        let two = vec![subject("Redis", None), subject("Database", None)];
        assert_eq!(title(&plan(NotificationKind::Alert, one.clone()), "mac-mini"), "❌ Redis down on mac-mini");
        assert_eq!(title(&plan(NotificationKind::Alert, two), "mac-mini"), "❌ Redis, Database down on mac-mini");
        assert_eq!(
            title(&plan(NotificationKind::Recovery, one.clone()), "mac-mini"),
            "✅ Redis back up on mac-mini after 15 min"
        );
        assert_eq!(
            title(&plan(NotificationKind::Stable, one.clone()), "mac-mini"),
            "✅ Redis stable again on mac-mini"
        );
        assert_eq!(
            title(&plan(NotificationKind::Flapping, one.clone()), "mac-mini"),
            "⚠️ Redis flapping on mac-mini (7 changes in 20 runs)"
        );
        assert_eq!(
            title(&plan(NotificationKind::Reminder, one), "mac-mini"),
            "🔁 Still down on mac-mini: Redis (for 15 min)"
        );
        let mut p = plan(NotificationKind::Alert, vec![subject("Database", None)]);
        p.because = vec![subject("API Health", None), subject("Redis", None)];
        assert_eq!(
            title(&p, "mac-mini"),
            "❌ Database down on mac-mini; also failing because of it: API Health, Redis"
        );
    }
}
