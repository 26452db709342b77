//! Phases 3 and 5 of the daily run: checking the webhook and rendering the
//! message, then queueing and delivering it through the heartbeat's
//! never-lost path (pending messages go first, nothing is dropped).

use chrono::Utc;
use serde::Serialize;

use crate::alert::discord;
use crate::app::Ctx;
use crate::exit::{Result, Status};
use crate::log;
use crate::state::{self, NotificationKind};

use super::{Day, Item, Outcome, PhaseStatus};

const OFF: &str = "notifications off: no webhook configured (set discord.webhook_url or DISCORD_OPS_WEBHOOK)";

/// What phase 5 did, for `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    /// A daily message was queued.
    pub decided: bool,
    pub delivered: Vec<NotificationKind>,
    /// Messages still waiting after this run.
    pub pending: usize,
    pub error: Option<String>,
}

/// Phase 3: the webhook is there and well formed, earlier messages are not
/// stuck, and the daily message renders.
pub fn prep(ctx: &Ctx, day: &Day) -> Outcome {
    let cfg = &ctx.config;
    if !cfg.notifications_enabled() {
        return Outcome::skipped(OFF);
    }
    let shown = crate::secret::redact_url(&cfg.discord.webhook_url);
    let mut items = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut failed = false;
    match webhook_shape(&cfg.discord.webhook_url) {
        Ok(()) => items.push(Item::new("✅", "webhook", &shown)),
        Err((fatal, why)) => {
            failed |= fatal;
            items.push(Item::new(if fatal { "❌" } else { "⚠️" }, "webhook", &format!("{shown}: {why}")));
            problems.push(why);
        }
    }
    if let Some(st) = state::peek(&ctx.paths) {
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
        if problems.is_empty() { format!("webhook {shown} ready, message rendered") } else { problems.join("; ") };
    let mut out = Outcome::judged(impact, failed, summary);
    out.items = items;
    out
}

/// Is this a webhook URL Discord would accept? `Err((fatal, why))`.
fn webhook_shape(raw: &str) -> std::result::Result<(), (bool, String)> {
    let u = url::Url::parse(raw).map_err(|e| (true, format!("not a valid URL ({e})")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err((true, "must be an http(s) URL with a host".into()));
    }
    let segs: Vec<&str> = u.path_segments().map(|s| s.collect()).unwrap_or_default();
    let shaped = segs.windows(3).any(|w| w[0] == "webhooks" && !w[1].is_empty() && !w[2].is_empty());
    if !shaped {
        return Err((false, "does not look like a Discord webhook (…/api/webhooks/<id>/<token>)".into()));
    }
    Ok(())
}

/// Phase 5: queue the daily message when a phase failed (or always, with
/// `notify_on_success`) and deliver everything pending, oldest first.
pub fn send(ctx: &Ctx, day: &mut Day, no_notify: bool) -> Outcome {
    let cfg = &ctx.config;
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

/// Under the state lock: append the daily message (when decided), deliver
/// what is pending through the heartbeat's path, save the state.
fn queue_and_deliver(ctx: &Ctx, day: &mut Day, decided: bool, no_notify: bool) -> Result<()> {
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
    let lock = state::lock(&ctx.paths, crate::heartbeat::lock_wait(), "daily")?;
    let mut st = state::load(&ctx.paths, &lock)?;
    if let Some(msg) = &msg {
        st.pending_notifications.push(discord::notification(msg, &ctx.config.discord.username));
    }
    let delivered = crate::heartbeat::deliver(ctx, &lock, &mut st, no_notify)?;
    state::save(&ctx.paths, &lock, &st)?;
    drop(lock);
    day.notify =
        Delivery { decided, delivered, pending: st.pending_notifications.len(), error: st.last_delivery_error.clone() };
    Ok(())
}

/// The daily message, from `discord_daily.md`, coloured by the status.
/// Returns it and, when a template override was broken, why.
pub fn message(ctx: &Ctx, day: &Day) -> Result<(discord::Message, Option<String>)> {
    let status = super::overall(&day.phases);
    let context = super::render::message_context(day, status);
    let (description, problem) = crate::report::render(&ctx.paths.templates_dir(), "discord_daily.md", &context)?;
    let failed: Vec<&str> = day.phases.iter().filter(|p| p.status == PhaseStatus::Failed).map(|p| p.name).collect();
    let headline = match (status, failed.is_empty()) {
        (Status::Healthy, _) => "all phases passed".to_string(),
        (_, false) => format!("{} failed", failed.join(", ")),
        (_, true) => "warnings".to_string(),
    };
    let title = format!("{} Daily: {status} — {headline}", status.emoji());
    let color = match status {
        Status::Healthy => discord::GREEN,
        Status::Warnings => discord::ORANGE,
        Status::Critical => discord::RED,
    };
    let msg = discord::Message {
        kind: NotificationKind::Daily,
        content: format!("{} OPS-Atomic daily: {status}", status.emoji()),
        title,
        description,
        color,
        footer: format!("ops-atomic daily · {}", day.report.file_name()),
        timestamp: Utc::now(),
    };
    Ok((msg, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_shapes() {
        assert!(webhook_shape("https://discord.com/api/webhooks/123/abc").is_ok());
        assert!(webhook_shape("http://127.0.0.1:9/api/webhooks/1/t?wait=true").is_ok());
        assert!(!webhook_shape("https://example.com/hook").unwrap_err().0);
        assert!(webhook_shape("ftp://example.com/api/webhooks/1/t").unwrap_err().0);
        assert!(webhook_shape("nonsense").unwrap_err().0);
    }
}
