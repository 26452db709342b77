//! The heartbeat's markdown report (SPEC §4 step 6): what it shows and how
//! it is written.
//!
//! The built-in template, `templates/heartbeat.md.tera`, is written by
//! [`View::builtin`], a transcription of it in Rust: a heartbeat runs 288
//! times a day, and parsing the template with tera was a quarter of an idle
//! heartbeat's CPU. An override in `<root>/templates/heartbeat.md.tera` still
//! goes through tera, with the same names. A test renders the built-in
//! template both ways over reports of every shape and requires the same
//! bytes, so the two cannot drift apart.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checks::{CheckResult, CheckStatus};
use crate::config::Config;
use crate::exit::{Result, Status};
use crate::incidents;
use crate::log;
use crate::paths::Paths;
use crate::state::State;

/// What the report shows: the template's names.
#[derive(Serialize)]
pub struct View<'a> {
    timestamp: String,
    local_time: String,
    host: String,
    status: &'static str,
    emoji: &'static str,
    duration_ms: u64,
    wrong: Vec<Wrong>,
    failures: u32,
    threshold: u32,
    alert_active: bool,
    incident_since: String,
    silences: String,
    notifications: String,
    pending: usize,
    pending_kinds: String,
    delivery_error: String,
    sections: Vec<Section<'a>>,
    summary: String,
}

#[derive(Serialize)]
struct Section<'a> {
    title: &'static str,
    checks: Vec<Line<'a>>,
}

#[derive(Serialize)]
struct Line<'a> {
    emoji: &'static str,
    name: &'a str,
    message: &'a str,
    latency_ms: u64,
    status: &'static str,
}

/// A line of the report's "What is wrong" list.
#[derive(Serialize)]
struct Wrong {
    emoji: &'static str,
    name: String,
    message: String,
    target: String,
    /// "DOWN since … (for …)" while an incident is open.
    down: String,
    silenced: bool,
    /// What its repairs did lately (SPEC §12).
    repair: String,
}

/// The report's text: the override template when there is one, else the built-in.
pub fn render(paths: &Paths, view: &View) -> Result<String> {
    let (text, problem) = crate::report::render_or(&paths.templates_dir(), "heartbeat.md", view, || view.builtin())?;
    if let Some(p) = problem {
        log::error(&p);
    }
    Ok(text)
}

impl<'a> View<'a> {
    /// `quiet`: whether a silence or a maintenance window in force covers a check.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &Config,
        st: &State,
        quiet: &dyn Fn(&str) -> bool,
        status: Status,
        results: &'a [CheckResult],
        duration_ms: u64,
        now: DateTime<Utc>,
    ) -> View<'a> {
        let mut titles: Vec<&'static str> = Vec::new();
        for r in results {
            if !titles.contains(&r.section) {
                titles.push(r.section);
            }
        }
        let sections = titles
            .into_iter()
            .map(|title| Section { title, checks: lines(results.iter().filter(|r| r.section == title)) })
            .collect();
        let silences: Vec<String> = st
            .silences
            .iter()
            .filter(|s| s.until > now)
            .map(|s| {
                let who = s.check.as_deref().unwrap_or("every check");
                let why = if s.reason.is_empty() { String::new() } else { format!(" ({})", s.reason) };
                format!("{who} until {}{why}", log::timestamp(s.until))
            })
            .collect();
        let kinds: Vec<&str> = st.pending_notifications.iter().map(|n| n.kind.as_str()).collect();
        View {
            timestamp: log::timestamp(now),
            local_time: now.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            host: cfg.monitor.host(),
            status: status.as_str(),
            emoji: status.emoji(),
            duration_ms,
            wrong: wrong_first(st, quiet, results, now),
            failures: st.consecutive_failures,
            threshold: cfg.monitor.alert_threshold,
            alert_active: st.alert_active,
            incident_since: st.first_failure_at.map(log::timestamp).unwrap_or_default(),
            silences: silences.join("; "),
            notifications: cfg.notifications_target(),
            pending: st.pending_notifications.len(),
            pending_kinds: kinds.join(", "),
            delivery_error: st.last_delivery_error.clone().unwrap_or_default(),
            sections,
            summary: summary(status, results),
        }
    }

    /// `templates/heartbeat.md.tera`, written out: keep the two in step
    /// (`the_builtin_report_is_the_template` checks they are).
    pub fn builtin(&self) -> String {
        let mut o = String::with_capacity(1024 + 128 * self.sections.iter().map(|s| s.checks.len()).sum::<usize>());
        let _ = self.write_builtin(&mut o);
        o
    }

    fn write_builtin(&self, o: &mut String) -> std::fmt::Result {
        writeln!(o, "# OPS-Atomic Monitor Heartbeat\n")?;
        write!(o, "**Timestamp:** {}", self.timestamp)?;
        if !self.local_time.is_empty() {
            write!(o, " ({})", self.local_time)?;
        }
        write!(
            o,
            "\n**Host:** {}\n**Status:** {} {}\n**Duration:** {}ms",
            self.host, self.emoji, self.status, self.duration_ms
        )?;
        if !self.wrong.is_empty() {
            o.push_str("\n\n## What is wrong\n");
            for w in &self.wrong {
                write!(o, "- {} **{}**", w.emoji, w.name)?;
                if !w.target.is_empty() {
                    write!(o, " (`{}`)", w.target)?;
                }
                write!(o, ": {}", w.message)?;
                if !w.down.is_empty() {
                    write!(o, " — {}", w.down)?;
                }
                if w.silenced {
                    o.push_str(" 🔕 silenced");
                }
                if !w.repair.is_empty() {
                    write!(o, " — 🔧 {}", w.repair)?;
                }
                o.push('\n');
            }
        }
        write!(o, "\n\n**Consecutive failures:** {}/{}\n**Alert:** ", self.failures, self.threshold)?;
        if self.alert_active {
            write!(o, "🔔 active since {}", self.incident_since)?;
        } else {
            o.push_str("none active");
        }
        if !self.silences.is_empty() {
            write!(o, "\n**Silences:** 🔕 {}", self.silences)?;
        }
        write!(o, "\n**Notifications:** {}", self.notifications)?;
        if self.pending > 0 {
            write!(o, "\n**Pending deliveries:** {} ({})", self.pending, self.pending_kinds)?;
            if !self.delivery_error.is_empty() {
                write!(o, " — last error: {}", self.delivery_error)?;
            }
        }
        o.push_str("\n\n---\n\n## Health Checks\n");
        for section in &self.sections {
            write!(o, "\n### {}\n", section.title)?;
            for c in &section.checks {
                writeln!(o, "- **{}:** {} {} ({} ms)", c.name, c.emoji, c.message, c.latency_ms)?;
            }
        }
        write!(o, "\n---\n\n## Summary\n{}\n", self.summary)
    }
}

fn lines<'a>(results: impl Iterator<Item = &'a CheckResult>) -> Vec<Line<'a>> {
    results
        .map(|r| Line {
            emoji: r.status.emoji(),
            name: &r.name,
            message: &r.message,
            latency_ms: r.latency_ms,
            status: r.status.as_str(),
        })
        .collect()
}

/// Every failing or warning check with where it looked, and every DOWN
/// check with since when: what a person opening the report wants first.
fn wrong_first(st: &State, quiet: &dyn Fn(&str) -> bool, results: &[CheckResult], now: DateTime<Utc>) -> Vec<Wrong> {
    results
        .iter()
        .filter(|r| {
            matches!(r.status, CheckStatus::Fail | CheckStatus::Warn) || st.checks.get(&r.id).is_some_and(|c| c.down)
        })
        .map(|r| {
            let cs = st.checks.get(&r.id);
            let mut down = match cs.filter(|c| c.down).and_then(|c| c.down_since) {
                Some(t) => format!("DOWN since {} (for {})", log::timestamp(t), incidents::human_duration(now - t)),
                None => String::new(),
            };
            if let Some(cause) = cs.and_then(|c| c.caused_by.as_ref()) {
                let who = st.checks.get(cause).map_or(cause.as_str(), |c| c.name.as_str());
                down = format!("{down}{}caused by {who}", if down.is_empty() { "" } else { ", " });
            }
            Wrong {
                emoji: r.status.emoji(),
                name: r.name.clone(),
                message: r.message.clone(),
                target: r.target.clone(),
                down,
                silenced: quiet(&r.id),
                repair: cs.and_then(|c| incidents::repair_summary(&c.repairs, now)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The report's last line, also the dead man's switch's summary.
pub fn summary(status: Status, results: &[CheckResult]) -> String {
    let count = |s: Status| results.iter().filter(|r| r.impact() == s).count();
    let total = results.iter().filter(|r| r.status != CheckStatus::Skipped).count();
    match status {
        Status::Healthy if total == 0 => "🟢 **NOTHING TO CHECK** - every check is disabled or skipped".to_string(),
        Status::Healthy => format!("🟢 **ALL SYSTEMS HEALTHY** - {total} of {total} checks passed"),
        Status::Warnings => format!("🟡 **WARNINGS** - {} of {total} checks need attention", count(Status::Warnings)),
        Status::Critical => format!(
            "🔴 **CRITICAL ISSUES DETECTED** - {} critical, {} warning(s) of {total} checks; immediate attention required",
            count(Status::Critical),
            count(Status::Warnings)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(i: usize) -> Wrong {
        // Every optional part on or off, by the bits of i.
        Wrong {
            emoji: if i.is_multiple_of(2) { "❌" } else { "⚠️" },
            name: format!("check {i}"),
            message: format!("{{{{ not a tag }}}} {{% if x %}} <b>&{i}</b>"),
            target: if i & 1 != 0 { format!("127.0.0.1:{i}") } else { String::new() },
            down: if i & 2 != 0 { "DOWN since 2026-11-30T07:00:00.000Z (for 5m)".into() } else { String::new() },
            silenced: i & 4 != 0,
            repair: if i & 8 != 0 { "restarted twice, 1 left this hour".into() } else { String::new() },
        }
    }

    fn view(shape: usize) -> View<'static> {
        static NAMES: [&str; 3] = ["Redis", "API Health", "com.02luka.api"];
        let line = |i: usize| Line {
            emoji: ["✅", "❌", "⚠️"][i % 3],
            name: NAMES[i % 3],
            message: "PONG, 100% {{ fine }}",
            latency_ms: i as u64 * 7,
            status: "ok",
        };
        let sections = (0..shape % 3)
            .map(|s| Section { title: ["Redis", "APIs"][s], checks: (0..(shape / 3) % 3 + s).map(line).collect() })
            .collect();
        View {
            timestamp: "2026-11-30T07:40:00.000Z".into(),
            local_time: if shape & 1 != 0 { "2026-11-30 08:40:00 CET".into() } else { String::new() },
            host: "mac-mini.local".into(),
            status: ["HEALTHY", "WARNINGS", "CRITICAL"][shape % 3],
            emoji: ["✅", "⚠️", "🚨"][shape % 3],
            duration_ms: shape as u64 * 13,
            wrong: (0..(shape % 5) * 4).map(wrong).collect(),
            failures: shape as u32 % 4,
            threshold: 3,
            alert_active: shape & 2 != 0,
            incident_since: if shape & 2 != 0 { "2026-11-30T07:00:00.000Z".into() } else { String::new() },
            silences: if shape & 4 != 0 {
                "redis until 2026-11-30T09:00:00.000Z (upgrade)".into()
            } else {
                String::new()
            },
            notifications: "discord (webhook …/abcd), ntfy (ops)".into(),
            pending: (shape / 8) % 3,
            pending_kinds: if !(shape / 8).is_multiple_of(3) { "alert, recovery".into() } else { String::new() },
            delivery_error: if shape & 16 != 0 { "discord: HTTP 500".into() } else { String::new() },
            sections,
            summary: "🟢 **ALL SYSTEMS HEALTHY** - 6 of 6 checks passed".into(),
        }
    }

    #[test]
    fn the_builtin_report_is_the_template() {
        let template = crate::report::BUILTIN.iter().find(|(n, _)| *n == "heartbeat.md").unwrap().1;
        for shape in 0..64 {
            let v = view(shape);
            let context = tera::Context::from_serialize(&v).unwrap();
            let want = crate::report::render_str("heartbeat.md", template, &context).unwrap();
            assert_eq!(v.builtin(), want, "shape {shape}");
        }
    }

    #[test]
    fn an_override_is_rendered_with_the_same_names() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-hb-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let v = view(7);
        let (text, problem) = crate::report::render_or(&dir, "heartbeat.md", &v, || v.builtin()).unwrap();
        assert_eq!((text.as_str(), problem), (v.builtin().as_str(), None), "no override: the built-in report");

        std::fs::write(dir.join("heartbeat.md.tera"), "{{ host }}: {{ status }}, {{ wrong | length }} wrong").unwrap();
        let (text, problem) = crate::report::render_or(&dir, "heartbeat.md", &v, || v.builtin()).unwrap();
        assert_eq!((text.as_str(), problem), ("mac-mini.local: WARNINGS, 8 wrong", None));

        std::fs::write(dir.join("heartbeat.md.tera"), "{{ nosuchname }}").unwrap();
        let (text, problem) = crate::report::render_or(&dir, "heartbeat.md", &v, || v.builtin()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(text, v.builtin(), "a broken override falls back to the built-in report");
        assert!(problem.unwrap().contains("heartbeat.md.tera"));
    }
}
