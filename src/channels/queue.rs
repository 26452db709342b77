//! The never-lost delivery of queued messages, once for every channel.
//!
//! A message is rendered for its channel and stored in the state's
//! `pending_notifications` (naming its channel), and the state is saved
//! before the network is touched. It leaves the queue only when its channel
//! confirmed it. Each channel is worked oldest first and stops at its first
//! failure, so its order is kept; a dead channel never delays another. A
//! message a channel refuses for good moves to `undeliverable_notifications`
//! (the last 20 are kept) so it cannot block the ones after it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Channel, Message, SendError};
use crate::exit::Result;
use crate::log;
use crate::paths::Paths;
use crate::state::{self, Lock, Notification, NotificationKind, State};

/// The whole delivery of one run is bounded by this.
pub const BUDGET: Duration = Duration::from_secs(60);

/// Sends what is pending through the configured channels (call with the
/// state lock held), saving the queue before the network is touched so that
/// a crash mid-delivery loses nothing. Logs what went and what was kept.
pub fn deliver(
    paths: &Paths,
    lock: &Lock,
    st: &mut State,
    channels: &[&dyn Channel],
    no_notify: bool,
) -> Result<Vec<Delivered>> {
    let n = st.pending_notifications.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    if no_notify {
        log::info(&format!("{n} notification(s) pending; not sent (--no-notify)"));
        return Ok(Vec::new());
    }
    if channels.is_empty() {
        log::warn(&format!(
            "{n} notification(s) pending but no webhook is configured: set discord.webhook_url or DISCORD_OPS_WEBHOOK"
        ));
        return Ok(Vec::new());
    }
    state::save(paths, lock, st)?;
    let summary = deliver_pending(st, channels, BUDGET, |now| {
        // A failed save here only widens the window for a repeat: the final
        // save after delivery reports its own error.
        if let Err(e) = state::save(paths, lock, now) {
            log::warn(&format!("could not save the state between deliveries: {e}"));
        }
    });
    for d in &summary.delivered {
        let label = channels.iter().find(|c| c.name() == d.channel).map_or_else(|| d.channel.clone(), |c| c.label());
        log::info(&format!("{label} {} delivered", d.kind.as_str()));
    }
    for (name, e) in &summary.errors {
        let label = channels.iter().find(|c| c.name() == name).map_or_else(|| name.clone(), |c| c.label());
        let left = st.pending_notifications.iter().filter(|p| &p.channel == name).count();
        let msg = format!("{label} delivery failed: {e}; {left} notification(s) kept for the next run");
        match e {
            SendError::Temporary(_) | SendError::NoAnswer(_) | SendError::RateLimited { .. } => log::warn(&msg),
            _ => log::error(&msg),
        }
    }
    Ok(summary.delivered)
}

/// Tries of one message in one run.
const MAX_TRIES: u32 = 3;
/// A rate limit asking for a longer wait than this is left for the next run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Undeliverable messages kept in the state for inspection.
const KEEP_UNDELIVERABLE: usize = 20;

/// One message that left the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub channel: String,
    pub kind: NotificationKind,
}

/// What one delivery pass did.
#[derive(Debug, Default)]
pub struct Summary {
    pub delivered: Vec<Delivered>,
    /// Per channel, the error that stopped it (its rest stays queued), or
    /// that refused a message outright.
    pub errors: Vec<(String, SendError)>,
}

/// Renders `msg` once for each channel and adds it to their queues.
pub fn enqueue(st: &mut State, msg: &Message, channels: &[&dyn Channel]) {
    for ch in channels {
        st.pending_notifications.push(Notification {
            channel: ch.name().to_string(),
            kind: msg.kind,
            created_at: msg.timestamp,
            payload: ch.render(msg),
            attempts: 0,
            last_error: None,
        });
    }
}

/// Delivers what is pending, channel by channel, oldest first. Messages for
/// a channel that is not configured stay queued. `checkpoint` sees the state
/// each time a message has left the queue while others wait, so the caller
/// can save it: a run killed while a later message is still being tried then
/// does not send the earlier one again. No new attempt starts once `budget`
/// has passed; what is left waits for the next run.
pub fn deliver_pending(
    state: &mut State,
    channels: &[&dyn Channel],
    budget: Duration,
    mut checkpoint: impl FnMut(&State),
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut changed = false;
    for channel in channels {
        let name = channel.name().to_string();
        while let Some(i) = state.pending_notifications.iter().position(|n| n.channel == name) {
            if started.elapsed() >= budget {
                summary.errors.push((
                    name.clone(),
                    SendError::Temporary(format!("delivery time budget of {} s spent", budget.as_secs())),
                ));
                break;
            }
            if changed {
                checkpoint(state);
                changed = false;
            }
            let next = &mut state.pending_notifications[i];
            match attempt(*channel, next, started + budget) {
                Ok(()) => {
                    let done = state.pending_notifications.remove(i);
                    summary.delivered.push(Delivered { channel: name.clone(), kind: done.kind });
                    changed = true;
                }
                Err(SendError::Rejected(m)) => {
                    let mut bad = state.pending_notifications.remove(i);
                    bad.last_error = Some(crate::secret::scrub(&m));
                    set_undeliverable(state, bad);
                    summary.errors.push((name.clone(), SendError::Rejected(m)));
                    changed = true;
                }
                Err(e) => {
                    next.last_error = Some(crate::secret::scrub(&e.to_string()));
                    summary.errors.push((name.clone(), e));
                    break;
                }
            }
        }
    }
    let stopped =
        summary.errors.iter().rev().find(|(name, _)| state.pending_notifications.iter().any(|n| &n.channel == name));
    state.last_delivery_error = stopped.map(|(_, e)| crate::secret::scrub(&e.to_string()));
    summary
}

/// One message: up to [`MAX_TRIES`] tries, waiting out a short rate limit,
/// never starting a try after `until`.
fn attempt(channel: &dyn Channel, n: &mut Notification, until: Instant) -> std::result::Result<(), SendError> {
    n.attempts = n.attempts.saturating_add(1);
    let mut tries = 0;
    loop {
        tries += 1;
        let err = match channel.send(&n.payload, channel.timeout()) {
            Ok(()) => return Ok(()),
            Err(SendError::RateLimited { wait, why }) => {
                if wait > MAX_RETRY_AFTER || tries >= MAX_TRIES || Instant::now() + wait >= until {
                    return Err(SendError::Temporary(why));
                }
                std::thread::sleep(wait);
                continue;
            }
            Err(e @ SendError::Temporary(_)) => e,
            Err(e) => return Err(e),
        };
        if tries >= MAX_TRIES || Instant::now() >= until {
            return Err(err);
        }
        std::thread::sleep(Duration::from_millis(250 * u64::from(tries)));
    }
}

fn set_undeliverable(state: &mut State, n: Notification) {
    let key = "undeliverable_notifications";
    let mut list = match state.extra.remove(key) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    if let Ok(v) = serde_json::to_value(&n) {
        list.push(v);
    }
    let excess = list.len().saturating_sub(KEEP_UNDELIVERABLE);
    list.drain(..excess);
    state.extra.insert(key.into(), Value::Array(list));
}
