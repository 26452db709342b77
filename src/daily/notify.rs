//! Phases 3 and 5 of the daily run: checking the channels and rendering the
//! message, then queueing and delivering it through the never-lost queue
//! (pending messages go first, nothing is dropped).

use chrono::Utc;
use serde::Serialize;

use crate::channels::{Message, Tone, queue};
use crate::exit::{Result, Status};
use crate::log;
use crate::state::{self, NotificationKind};

use super::{Day, Item, Outcome, PhaseStatus, Setup};

const OFF: &str = "notifications off: no channel configured (set discord.webhook_url or DISCORD_OPS_WEBHOOK, or add a [[notify]] channel)";

/// What phase 5 did, for `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// A daily message was queued.
    pub decided: bool,
    pub delivered: Vec<NotificationKind>,
    /// Messages still waiting after this run.
    pub pending: usize,
    pub error: Option<String>,
    /// Messages held by quiet hours (SPEC §15).
    pub held: usize,
}

/// Phase 3: every channel is configured and well formed, earlier messages
/// are not stuck, and the daily message renders.
pub fn prep(ctx: &Setup, day: &Day) -> Outcome {
    let channels = ctx.config.channels();
    if channels.is_empty() {
        return Outcome::skipped(OFF);
    }
    let mut items = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut failed = false;
    let mut ready = Vec::new();
    for ch in &channels {
        let shown = ch.target();
        let found = ch.preflight();
        if found.is_empty() {
            items.push(Item::new("✅", ch.name(), &shown));
            ready.push(shown.clone());
        }
        for p in found {
            failed |= p.fatal;
            items.push(Item::new(if p.fatal { "❌" } else { "⚠️" }, ch.name(), &format!("{shown}: {}", p.why)));
            problems.push(p.why);
        }
    }
    if let Some(st) = state::peek(ctx.paths) {
        let n = st.pending_notifications.len();
        if n > 0 {
            let why = format!(
                "{n} earlier notification(s) still pending{}",
                st.last_delivery_error.map(|e| format!(" (last error: {e})")).unwrap_or_default()
            );
            items.push(Item::new("⚠️", "pending", &why));
            problems.push(why);
        }
    }
    match message(ctx, day) {
        Ok((msg, None)) => items.push(Item::new("✅", "message", &format!("rendered: {}", msg.title))),
        Ok((msg, Some(problem))) => {
            items.push(Item::new("⚠️", "message", &format!("rendered: {} ({problem})", msg.title)));
            problems.push(problem);
        }
        Err(e) => {
            failed = true;
            items.push(Item::new("❌", "message", &e.0));
            problems.push(e.0);
        }
    }
    let impact = if problems.is_empty() { Status::Healthy } else { Status::Warnings };
    let summary =
        if problems.is_empty() { format!("{} ready, message rendered", ready.join(", ")) } else { problems.join("; ") };
    let mut out = Outcome::judged(impact, failed, summary);
    out.items = items;
    out
}

/// Phase 5: queue the daily message when a phase failed (or always, with
/// `notify_on_success`) and deliver everything pending, oldest first.
pub fn send(ctx: &Setup, day: &mut Day, no_notify: bool) -> Outcome {
    let cfg = ctx.config;
    if !cfg.notifications_enabled() {
        return Outcome::skipped(OFF);
    }
    let decided = day.phases.iter().any(|p| p.status == PhaseStatus::Failed) || cfg.daily.notify_on_success;
    match queue_and_deliver(ctx, day, decided, no_notify) {
        Ok(()) => {}
        Err(e) => {
            day.errors.push(e.0.clone());
            return Outcome::judged(Status::Warnings, true, e.0);
        }
    }
    let d = &day.notify;
    let earlier = d.delivered.len().saturating_sub(usize::from(decided && d.error.is_none()));
    let earlier_text = if earlier > 0 { format!(" (and {earlier} earlier pending message(s))") } else { String::new() };
    if let Some(e) = &d.error {
        let what = if decided { "daily message" } else { "pending messages" };
        return Outcome::judged(
            Status::Warnings,
            true,
            format!("{what} not delivered: {e}; {} message(s) kept for the next run", d.pending),
        );
    }
    match (decided, no_notify) {
        (true, false) if d.held > 0 => Outcome::judged(
            Status::Healthy,
            false,
            format!("daily message queued and held by quiet hours; {} message(s) go out when they end", d.held),
        ),
        (true, true) => Outcome::judged(
            Status::Healthy,
            false,
            format!("daily message queued, not sent (--no-notify); {} pending for the next run", d.pending),
        ),
        (true, false) => Outcome::judged(Status::Healthy, false, format!("daily message delivered{earlier_text}")),
        (false, _) if earlier > 0 => Outcome::judged(
            Status::Healthy,
            false,
            format!("no daily message needed; delivered {earlier} earlier pending message(s)"),
        ),
        (false, _) => Outcome::skipped(format!(
            "no daily message needed: no phase failed (notify_on_success = false){}",
            if d.pending > 0 { format!("; {} pending, not sent (--no-notify)", d.pending) } else { String::new() }
        )),
    }
}

/// Under the state lock: queue the daily message for every channel (when
/// decided), deliver what is pending, save the state.
fn queue_and_deliver(ctx: &Setup, day: &mut Day, decided: bool, no_notify: bool) -> Result<()> {
    let msg = if decided {
        let (msg, problem) = message(ctx, day)?;
        if let Some(p) = problem {
            log::error(&p);
        }
        log::info(&format!("Daily message decided ({})", msg.title));
        Some(msg)
    } else {
        None
    };
    let channels = ctx.config.channels();
    let lock = state::lock(ctx.paths, state::lock_wait(), "daily")?;
    let mut st = state::load(ctx.paths, &lock)?;
    if let Some(msg) = &msg {
        queue::enqueue(&mut st, msg, &channels);
    }
    let m = &ctx.config.monitor;
    crate::channels::digest::hold_and_fold(&mut st, &channels, &m.quiet_hours, &m.quiet_allow, day.now);
    state::save(ctx.paths, &lock, &st)?;
    drop(lock);
    let delivery = queue::deliver(ctx.paths, &channels, no_notify, &st)?;
    day.notify = Delivery {
        decided,
        delivered: delivery.delivered.iter().map(|d| d.kind).collect(),
        pending: delivery.pending.len(),
        error: delivery.last_error,
        held: delivery.pending.iter().filter(|n| n.held).count(),
    };
    Ok(())
}

/// The daily message, from `discord_daily.md`, coloured by the status.
/// Returns it and, when a template override was broken, why.
pub fn message(ctx: &Setup, day: &Day) -> Result<(Message, Option<String>)> {
    let status = super::overall(&day.phases);
    let context = super::render::message_context(day, status);
    let (body, problem) = crate::report::render(&ctx.paths.templates_dir(), "discord_daily.md", &context)?;
    let failed: Vec<&str> = day.phases.iter().filter(|p| p.status == PhaseStatus::Failed).map(|p| p.name).collect();
    let headline = match (status, failed.is_empty()) {
        (Status::Healthy, _) => "all phases passed".to_string(),
        (_, false) => format!("{} failed", failed.join(", ")),
        (_, true) => "warnings".to_string(),
    };
    let title = format!("{} Daily: {status} — {headline}", status.emoji());
    let tone = match status {
        Status::Healthy => Tone::Green,
        Status::Warnings => Tone::Orange,
        Status::Critical => Tone::Red,
    };
    let msg = Message {
        kind: NotificationKind::Daily,
        content: format!("{} OPS-Atomic daily: {status}", status.emoji()),
        title,
        body,
        tone,
        footer: format!("ops-atomic daily · {}", day.report.file_name()),
        timestamp: Utc::now(),
        host: ctx.config.monitor.host(),
        status: status.as_str().to_string(),
        checks: Vec::new(),
        still_down: Vec::new(),
        report: day.report.path.display().to_string(),
    };
    Ok((msg, problem))
}
