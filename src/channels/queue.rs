//! The never-lost delivery of queued messages, once for every channel.
//!
//! A message is rendered for its channel and stored in the state's
//! `pending_notifications` (naming its channel), and the state is saved
//! before the network is touched. It leaves the queue only when its channel
//! confirmed it. Each channel is worked oldest first on its own thread and
//! stops at its first failure, so its order is kept; a dead or hung channel
//! never delays another, and every try ends within the run's budget. A
//! message a channel refuses for good moves to `undeliverable_notifications`
//! (the last 20 are kept) so it cannot block the ones after it.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Channel, Message, SendError};
use crate::exit::Result;
use crate::log;
use crate::paths::Paths;
use crate::state::{self, Notification, NotificationKind, State};

/// The whole delivery of one run is bounded by this.
pub const BUDGET: Duration = Duration::from_secs(60);

/// What a run's delivery left behind, for its report and `--json`.
#[derive(Debug, Default)]
pub struct Outcome {
    pub delivered: Vec<Delivered>,
    /// Messages still queued after it, oldest first.
    pub pending: Vec<Notification>,
    /// Why the last delivery failed, while something is pending.
    pub last_error: Option<String>,
    /// Another run was delivering: this one sent nothing.
    pub skipped: bool,
}

/// Sends what is pending through the configured channels. Call it WITHOUT
/// the state lock: the network is never waited on under that lock, so a
/// slow channel never makes the next heartbeat time out on it.
///
/// One run delivers at a time, under its own lock; a run that finds another
/// delivering leaves the queue to it (its own messages are already queued,
/// and go out with that run or the next). The queue is read under the state
/// lock, worked from a copy, and each message that left it is removed from
/// the state under the lock again before the next one of its channel is
/// tried, so a kill never sends a confirmed message twice and messages other
/// runs queued meanwhile are kept. `notified` events are written as they leave.
///
/// `saved` is the state the caller has just saved: what it holds pending
/// says whether there is anything to do, without reading the file again.
/// (A run that queues a message delivers too, so a message another run
/// queued since is never left waiting on this one.)
pub fn deliver(paths: &Paths, channels: &[&dyn Channel], no_notify: bool, saved: &State) -> Result<Outcome> {
    let mut outcome = Outcome {
        pending: saved.pending_notifications.clone(),
        last_error: saved.last_delivery_error.clone(),
        ..Outcome::default()
    };
    let n = outcome.pending.len();
    if n == 0 {
        return Ok(outcome);
    }
    if no_notify {
        log::info(&format!("{n} notification(s) pending; not sent (--no-notify)"));
        return Ok(outcome);
    }
    if channels.is_empty() {
        log::warn(&format!(
            "{n} notification(s) pending but no channel is configured: set discord.webhook_url or DISCORD_OPS_WEBHOOK, or add a [[notify]] channel"
        ));
        return Ok(outcome);
    }
    let Some(_delivering) = state::try_delivery_lock(paths)? else {
        log::info(&format!("{n} notification(s) pending; another run is delivering them"));
        outcome.skipped = true;
        return Ok(outcome);
    };
    let before = {
        let lock = state::lock(paths, state::lock_wait(), "delivery")?;
        state::load(paths, &lock)?
    };
    let mut stranded: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for p in before.pending_notifications.iter().filter(|p| channels.iter().all(|c| c.name() != p.channel)) {
        *stranded.entry(p.channel.clone()).or_default() += 1;
    }
    for (name, k) in stranded {
        log::warn(&format!(
            "{k} notification(s) wait for channel {name:?}, which is not configured (renamed or removed?): configure it again to send them"
        ));
    }
    let mut work = before.clone();
    let mut recorded = 0;
    let mut problems = Vec::new();
    let mut write_back = |now: &State, delivered: &[Delivered], problems: &mut Vec<String>| {
        let result = state::lock(paths, state::lock_wait(), "delivery").and_then(|lock| {
            let mut real = state::load(paths, &lock)?;
            merge(&mut real, &before.pending_notifications, now);
            state::save(paths, &lock, &real)?;
            crate::events::append(paths, &notified(&delivered[recorded.min(delivered.len())..]))
        });
        recorded = delivered.len();
        if let Err(e) = result {
            // Only widens the window for a repeat; said once at the end.
            problems.push(e.0);
        }
    };
    let mut so_far: Vec<Delivered> = Vec::new();
    let summary = deliver_pending(&mut work, channels, &paths.root, BUDGET, |now, left| {
        so_far.extend(left.iter().cloned());
        write_back(now, &so_far, &mut problems);
    });
    write_back(&work, &summary.delivered, &mut problems);
    if let Some(p) = problems.last() {
        log::warn(&format!("could not record a delivery in the state: {p}; a message may be sent again"));
    }
    for d in &summary.delivered {
        let label = channels.iter().find(|c| c.name() == d.channel).map_or_else(|| d.channel.clone(), |c| c.label());
        log::info(&format!("{label} {} delivered", d.kind.as_str()));
    }
    for (name, e) in &summary.errors {
        let label = channels.iter().find(|c| c.name() == name).map_or_else(|| name.clone(), |c| c.label());
        let left = work.pending_notifications.iter().filter(|p| &p.channel == name).count();
        let msg = format!("{label} delivery failed: {e}; {left} notification(s) kept for the next run");
        if e.is_passing() { log::warn(&msg) } else { log::error(&msg) }
    }
    outcome.delivered = summary.delivered;
    // What is left now, other runs' messages included.
    if let Some(st) = state::peek(paths) {
        outcome.pending = st.pending_notifications;
        outcome.last_error = st.last_delivery_error;
    }
    Ok(outcome)
}

/// `notified` events for messages that left their queue.
fn notified(delivered: &[Delivered]) -> Vec<crate::events::Event> {
    delivered
        .iter()
        .map(|d| {
            let mut e = crate::events::Event::new(chrono::Utc::now(), "", "", "notified", "");
            e.channel = Some(d.channel.clone());
            e.notification = Some(d.kind.as_str().to_string());
            e
        })
        .collect()
}

/// The same queued message, whatever its attempts: channel, kind, time, payload.
fn same(a: &Notification, b: &Notification) -> bool {
    a.channel == b.channel && a.kind == b.kind && a.created_at == b.created_at && a.payload == b.payload
}

/// Applies what a delivery did to a copy of the queue (`before` → `now`) to
/// the state as it is now: messages that left are removed, attempts and
/// errors carried over, the undeliverable list taken; messages other runs
/// queued meanwhile stay, in their place.
fn merge(real: &mut State, before: &[Notification], now: &State) {
    let gone: Vec<&Notification> =
        before.iter().filter(|b| !now.pending_notifications.iter().any(|a| same(a, b))).collect();
    real.pending_notifications.retain(|n| !gone.iter().any(|g| same(g, n)));
    for n in &mut real.pending_notifications {
        if let Some(a) = now.pending_notifications.iter().find(|a| same(a, n)) {
            n.attempts = a.attempts;
            n.last_error = a.last_error.clone();
        }
    }
    real.last_delivery_error = now.last_delivery_error.clone();
    if let Some(list) = now.extra.get("undeliverable_notifications") {
        real.extra.insert("undeliverable_notifications".into(), list.clone());
    }
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

/// Renders `msg` once for each channel that takes its kind (`events`) and
/// adds it to their queues. The payload is scrubbed of every known secret:
/// what a channel needs to send it (URL, headers) is added when sending.
pub fn enqueue(st: &mut State, msg: &Message, channels: &[&dyn Channel]) {
    for ch in channels.iter().filter(|c| c.takes(msg.kind)) {
        // Through a long outage of a channel, reminders would pile up in its
        // queue: a new one replaces the one still waiting, which says less.
        // Alerts and recoveries are never folded away.
        if msg.kind == NotificationKind::Reminder {
            st.pending_notifications.retain(|n| !(n.channel == ch.name() && n.kind == NotificationKind::Reminder));
        }
        st.pending_notifications.push(rendered(*ch, msg));
    }
}

/// `msg` rendered for `channel`, as a queue entry. The payload is scrubbed
/// of every known secret: what the channel needs to send it (URL, headers)
/// is added when sending.
fn rendered(channel: &dyn Channel, msg: &Message) -> Notification {
    Notification {
        channel: channel.name().to_string(),
        kind: msg.kind,
        created_at: msg.timestamp,
        payload: scrubbed(channel.render(msg)),
        attempts: 0,
        last_error: None,
        message: foldable(msg.kind).then(|| Box::new(super::digest::Facts::of(msg))),
        held: false,
    }
}

/// Sends `msg` through `channel` now, without the queue (`notify test`):
/// the same tries and rate-limit waits as a queued message.
pub fn send_now(channel: &dyn Channel, msg: &Message, root: &Path) -> std::result::Result<(), SendError> {
    let mut n = rendered(channel, msg);
    attempt(channel, &mut n, root, Instant::now() + BUDGET)
}

/// Whether a digest can tell this kind of message (a daily report or a
/// test cannot: they go out as they are).
fn foldable(kind: NotificationKind) -> bool {
    !matches!(kind, NotificationKind::Daily | NotificationKind::Test | NotificationKind::Digest)
}

pub(crate) fn scrubbed(v: Value) -> Value {
    let text = v.to_string();
    let clean = crate::secret::scrub(&text);
    if clean == text { v } else { serde_json::from_str(&clean).unwrap_or(v) }
}

/// What a channel's thread tells the main thread.
enum Report {
    /// The head of its queue left it (delivered, or refused for good and
    /// moved aside). `more`: it waits for the state to be saved, then goes on.
    Left { channel: usize, kind: NotificationKind, refused: Option<(Notification, SendError)>, more: bool },
    /// It stopped at its head, which stays queued.
    Stopped { channel: usize, attempts: u32, error: SendError },
}

/// Delivers what is pending, oldest first per channel, the channels side
/// by side (a thread each), so a hung or slow channel never delays another.
/// Messages for a channel that is not configured stay queued. `checkpoint`
/// sees the state each time a message has left the queue while its channel
/// has more: the channel waits for it, so a run killed while a later
/// message is being tried never sends the earlier one again. No try starts
/// after `budget`, and no try outlives it: what is left waits for the next
/// run, and the whole delivery stays bounded.
pub fn deliver_pending(
    state: &mut State,
    channels: &[&dyn Channel],
    root: &Path,
    budget: Duration,
    mut checkpoint: impl FnMut(&State, &[Delivered]),
) -> Summary {
    let until = Instant::now() + budget;
    let mut summary = Summary::default();
    let work: Vec<(usize, Vec<Notification>)> = channels
        .iter()
        .enumerate()
        .map(|(i, ch)| {
            // Held by quiet hours: they wait (see `digest`).
            (i, state.pending_notifications.iter().filter(|n| n.channel == ch.name() && !n.held).cloned().collect())
        })
        .filter(|(_, q): &(usize, Vec<Notification>)| !q.is_empty())
        .collect();
    let mut delivered: Vec<(usize, Delivered)> = Vec::new();
    let mut errors: Vec<(usize, String, SendError)> = Vec::new();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<Report>();
        let mut acks = Vec::new();
        for (i, queue) in work {
            let (ack_tx, ack_rx) = mpsc::channel::<()>();
            acks.push((i, ack_tx));
            let (tx, channel) = (tx.clone(), channels[i]);
            scope.spawn(move || work_channel(i, channel, queue, root, until, budget, &tx, &ack_rx));
        }
        drop(tx);
        for report in rx {
            match report {
                Report::Left { channel, kind, refused, more } => {
                    let name = channels[channel].name();
                    if let Some(at) = state.pending_notifications.iter().position(|n| n.channel == name && !n.held) {
                        state.pending_notifications.remove(at);
                    }
                    let mut left = Vec::new();
                    match refused {
                        None => {
                            let d = Delivered { channel: name.to_string(), kind };
                            left.push(d.clone());
                            delivered.push((channel, d));
                        }
                        Some((mut bad, e)) => {
                            bad.last_error = Some(crate::secret::scrub(&e.to_string()));
                            set_undeliverable(state, bad);
                            errors.push((channel, name.to_string(), e));
                        }
                    }
                    if more {
                        checkpoint(state, &left);
                        if let Some((_, ack)) = acks.iter().find(|(i, _)| *i == channel) {
                            let _ = ack.send(());
                        }
                    }
                }
                Report::Stopped { channel, attempts, error } => {
                    let name = channels[channel].name();
                    if let Some(head) = state.pending_notifications.iter_mut().find(|n| n.channel == name && !n.held) {
                        head.attempts = attempts;
                        head.last_error = Some(crate::secret::scrub(&error.to_string()));
                    }
                    errors.push((channel, name.to_string(), error));
                }
            }
        }
    });
    // In channel order (each channel's own order kept), whatever the threads' timing.
    delivered.sort_by_key(|(i, _)| *i);
    errors.sort_by_key(|(i, _, _)| *i);
    summary.delivered = delivered.into_iter().map(|(_, d)| d).collect();
    summary.errors = errors.into_iter().map(|(_, name, e)| (name, e)).collect();
    let stopped =
        summary.errors.iter().rev().find(|(name, _)| state.pending_notifications.iter().any(|n| &n.channel == name));
    state.last_delivery_error = stopped.map(|(_, e)| crate::secret::scrub(&e.to_string()));
    summary
}

/// One channel's thread: its queue, oldest first, until it is empty, a
/// message fails, or the budget is spent.
#[allow(clippy::too_many_arguments)]
fn work_channel(
    index: usize,
    channel: &dyn Channel,
    queue: Vec<Notification>,
    root: &Path,
    until: Instant,
    budget: Duration,
    tx: &mpsc::Sender<Report>,
    ack: &mpsc::Receiver<()>,
) {
    let count = queue.len();
    for (k, mut n) in queue.into_iter().enumerate() {
        if Instant::now() >= until {
            let why = format!("delivery time budget of {} s spent", budget.as_secs());
            let _ = tx.send(Report::Stopped { channel: index, attempts: n.attempts, error: SendError::Temporary(why) });
            return;
        }
        let more = k + 1 < count;
        let report = match attempt(channel, &mut n, root, until) {
            Ok(()) => Report::Left { channel: index, kind: n.kind, refused: None, more },
            Err(e @ SendError::Rejected(_)) => {
                Report::Left { channel: index, kind: n.kind, refused: Some((n, e)), more }
            }
            Err(error) => {
                let _ = tx.send(Report::Stopped { channel: index, attempts: n.attempts, error });
                return;
            }
        };
        if tx.send(report).is_err() || (more && ack.recv().is_err()) {
            return;
        }
    }
}

/// One message: up to [`MAX_TRIES`] tries, waiting out a short rate limit,
/// never starting a try after `until` nor letting one run past it.
fn attempt(
    channel: &dyn Channel,
    n: &mut Notification,
    root: &Path,
    until: Instant,
) -> std::result::Result<(), SendError> {
    n.attempts = n.attempts.saturating_add(1);
    let mut tries = 0;
    loop {
        tries += 1;
        let left = until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let err = match channel.send(&n.payload, channel.timeout().min(left), root) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Problem;
    use std::sync::Mutex;

    /// A channel that answers as told and records what it was sent.
    struct Fake {
        name: &'static str,
        answer: fn() -> std::result::Result<(), SendError>,
        hang: bool,
        sent: Mutex<Vec<Value>>,
    }

    impl Channel for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn label(&self) -> String {
            self.name.into()
        }
        fn target(&self) -> String {
            String::new()
        }
        fn validate(&self, _at: &str) -> Vec<String> {
            Vec::new()
        }
        fn secrets(&self) -> Vec<String> {
            Vec::new()
        }
        fn redact(&mut self) {}
        fn preflight(&self) -> Vec<Problem> {
            Vec::new()
        }
        fn takes(&self, kind: NotificationKind) -> bool {
            self.name != "alerts-only" || kind == NotificationKind::Alert
        }
        fn render(&self, msg: &Message) -> Value {
            Value::String(msg.title.clone())
        }
        fn send(&self, payload: &Value, timeout: Duration, _root: &Path) -> std::result::Result<(), SendError> {
            if self.hang {
                std::thread::sleep(timeout);
                return Err(SendError::NoAnswer("no answer".into()));
            }
            self.sent.lock().unwrap().push(payload.clone());
            (self.answer)()
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(30)
        }
    }

    fn fake(name: &'static str, hang: bool) -> Fake {
        Fake { name, answer: || Ok(()), hang, sent: Mutex::default() }
    }

    fn msg(kind: NotificationKind, title: &str) -> Message {
        let mut m = crate::channels::document::tests::alert();
        m.kind = kind;
        m.title = title.into();
        m
    }

    #[test]
    fn a_hung_channel_holds_back_no_other_and_no_try_outlives_the_budget() {
        let (hung, fine, picky) = (fake("hung", true), fake("fine", false), fake("alerts-only", false));
        let channels: Vec<&dyn Channel> = vec![&hung, &fine, &picky];
        let mut st = State::default();
        enqueue(&mut st, &msg(NotificationKind::Alert, "one"), &channels);
        enqueue(&mut st, &msg(NotificationKind::Recovery, "two"), &channels);
        assert_eq!(st.pending_notifications.len(), 5, "the recovery went to a channel that takes only alerts");
        let started = Instant::now();
        let mut saves = 0;
        let summary =
            deliver_pending(&mut st, &channels, Path::new("/"), Duration::from_millis(800), |_, _| saves += 1);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(*fine.sent.lock().unwrap(), [Value::from("one"), Value::from("two")]);
        assert_eq!(*picky.sent.lock().unwrap(), [Value::from("one")]);
        let left: Vec<(&str, NotificationKind)> =
            st.pending_notifications.iter().map(|n| (n.channel.as_str(), n.kind)).collect();
        assert_eq!(left, [("hung", NotificationKind::Alert), ("hung", NotificationKind::Recovery)]);
        assert_eq!(st.pending_notifications[0].attempts, 1);
        assert_eq!(summary.delivered.len(), 3);
        assert_eq!(summary.errors.len(), 1);
        assert_eq!(saves, 1, "the state is saved after `one` left the fine channel, before `two` was tried");
        assert_eq!(st.last_delivery_error.as_deref(), Some("no answer"));
    }

    #[test]
    fn a_waiting_reminder_is_replaced_by_the_next_and_alerts_are_kept() {
        let ch = fake("c", false);
        let channels: Vec<&dyn Channel> = vec![&ch];
        let mut st = State::default();
        enqueue(&mut st, &msg(NotificationKind::Alert, "down"), &channels);
        for i in 0..50 {
            enqueue(&mut st, &msg(NotificationKind::Reminder, &format!("still down {i}")), &channels);
        }
        enqueue(&mut st, &msg(NotificationKind::Recovery, "up"), &channels);
        let titles: Vec<&Value> = st.pending_notifications.iter().map(|n| &n.payload).collect();
        assert_eq!(titles, [&Value::from("down"), &Value::from("still down 49"), &Value::from("up")]);
    }

    #[test]
    fn merging_keeps_what_other_runs_queued_and_drops_what_left() {
        let ch = fake("c", false);
        let channels: Vec<&dyn Channel> = vec![&ch];
        let mut before = State::default();
        enqueue(&mut before, &msg(NotificationKind::Alert, "one"), &channels);
        enqueue(&mut before, &msg(NotificationKind::Alert, "two"), &channels);
        let mut after = before.clone();
        after.pending_notifications.remove(0);
        after.pending_notifications[0].attempts = 2;
        let mut real = before.clone();
        enqueue(&mut real, &msg(NotificationKind::Recovery, "three"), &channels);
        merge(&mut real, &before.pending_notifications, &after);
        let left: Vec<(&Value, u32)> = real.pending_notifications.iter().map(|n| (&n.payload, n.attempts)).collect();
        assert_eq!(left, [(&Value::from("two"), 2), (&Value::from("three"), 0)]);
    }

    #[test]
    fn a_refused_message_moves_aside_and_the_next_goes_out() {
        let refusing =
            Fake { name: "r", answer: || Err(SendError::Rejected("bad".into())), hang: false, sent: Mutex::default() };
        let channels: Vec<&dyn Channel> = vec![&refusing];
        let mut st = State::default();
        enqueue(&mut st, &msg(NotificationKind::Alert, "one"), &channels);
        enqueue(&mut st, &msg(NotificationKind::Alert, "two"), &channels);
        deliver_pending(&mut st, &channels, Path::new("/"), Duration::from_secs(5), |_, _| {});
        assert!(st.pending_notifications.is_empty());
        assert_eq!(st.extra["undeliverable_notifications"].as_array().unwrap().len(), 2);
    }
}
