//! Discord delivery: the webhook body (pure) and the POST with its retries.
//!
//! Messages are rendered once, stored in the state's
//! `pending_notifications`, and removed only after Discord confirmed them,
//! so a dead webhook or a dead network delays a message but never drops it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::state::{Notification, NotificationKind, State};

pub const RED: u32 = 15_158_332;
pub const GREEN: u32 = 3_066_993;
pub const ORANGE: u32 = 15_105_570;

/// Discord's limits, in characters.
const MAX_CONTENT: usize = 2000;
const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;
const MAX_FOOTER: usize = 2048;
const MAX_EMBED_TOTAL: usize = 6000;
const MAX_USERNAME: usize = 80;

/// Retries of one message: at most this many tries in one run.
const MAX_TRIES: u32 = 3;
/// A 429 asking for a longer wait than this is left for the next run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Undeliverable messages kept in the state for inspection.
const KEEP_UNDELIVERABLE: usize = 20;

/// A message before it becomes a webhook body.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: NotificationKind,
    pub content: String,
    pub title: String,
    pub description: String,
    pub color: u32,
    pub footer: String,
    pub timestamp: DateTime<Utc>,
}

/// Cuts `s` to at most `max` characters, on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The webhook body: content and one embed within Discord's limits, and
/// `allowed_mentions` with `parse: []` so text from a failing service
/// (`@everyone`, `<@id>`) can never ping anyone.
pub fn payload(msg: &Message, username: &str) -> Value {
    let title = truncate(&msg.title, MAX_TITLE);
    let footer = truncate(&msg.footer, MAX_FOOTER);
    let room = MAX_EMBED_TOTAL - title.chars().count() - footer.chars().count();
    let description = truncate(&msg.description, MAX_DESCRIPTION.min(room));
    json!({
        "username": truncate(username, MAX_USERNAME),
        "content": truncate(&msg.content, MAX_CONTENT),
        "allowed_mentions": { "parse": [] },
        "embeds": [{
            "title": title,
            "description": description,
            "color": msg.color,
            "footer": { "text": footer },
            "timestamp": msg.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }],
    })
}

pub fn notification(msg: &Message, username: &str) -> Notification {
    Notification {
        kind: msg.kind,
        created_at: msg.timestamp,
        payload: payload(msg, username),
        attempts: 0,
        last_error: None,
    }
}

/// Why one delivery failed.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// 404: the webhook was deleted. Needs a person.
    Gone(String),
    /// 401/403: the token is wrong.
    Unauthorized(String),
    /// 400: Discord refuses this body; retrying it will not help.
    Rejected(String),
    /// Network trouble, 5xx, a 429 with a long wait: try again next run.
    Temporary(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Gone(m) => write!(
                f,
                "the webhook no longer exists ({m}): create a new one and set discord.webhook_url or DISCORD_OPS_WEBHOOK"
            ),
            SendError::Unauthorized(m) => write!(
                f,
                "the webhook token is refused ({m}): copy the webhook URL again into discord.webhook_url or DISCORD_OPS_WEBHOOK"
            ),
            SendError::Rejected(m) => write!(f, "Discord rejected the message ({m})"),
            SendError::Temporary(m) => f.write_str(m),
        }
    }
}

/// What one delivery pass did.
#[derive(Debug, Default)]
pub struct Summary {
    pub delivered: Vec<NotificationKind>,
    /// The error that stopped the pass; the rest stays pending.
    pub error: Option<SendError>,
    /// Messages Discord refused outright, moved out of the queue.
    pub rejected: usize,
}

/// Delivers the pending messages in order, stopping at the first one that
/// fails so that order is kept. Delivered messages leave the queue; the rest
/// stay for the next run. `checkpoint` sees the state each time a message has
/// left the queue while others wait, so the caller can save it: a run killed
/// while a later message is still being tried then does not send the earlier
/// one again.
pub fn deliver_pending(state: &mut State, url: &str, timeout: Duration, mut checkpoint: impl FnMut(&State)) -> Summary {
    let mut summary = Summary::default();
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout(timeout)
        .user_agent(concat!("ops-atomic/", env!("CARGO_PKG_VERSION")))
        .build();
    let target = with_wait(url);
    while !state.pending_notifications.is_empty() {
        if !summary.delivered.is_empty() || summary.rejected > 0 {
            checkpoint(state);
        }
        let next = &mut state.pending_notifications[0];
        next.attempts += 1;
        match send(&agent, &target, &next.payload) {
            Ok(()) => {
                let done = state.pending_notifications.remove(0);
                summary.delivered.push(done.kind);
            }
            Err(SendError::Rejected(m)) => {
                // Retrying a body Discord refuses would block every later
                // message forever: keep it aside in the state and go on.
                let mut bad = state.pending_notifications.remove(0);
                bad.last_error = Some(crate::secret::scrub(&m));
                set_undeliverable(state, bad);
                summary.rejected += 1;
                summary.error = Some(SendError::Rejected(m));
            }
            Err(e) => {
                next.last_error = Some(crate::secret::scrub(&e.to_string()));
                summary.error = Some(e);
                break;
            }
        }
    }
    state.last_delivery_error = match (&summary.error, state.pending_notifications.is_empty()) {
        (Some(e), false) => Some(crate::secret::scrub(&e.to_string())),
        _ => None,
    };
    summary
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

/// The webhook URL with `wait=true`, so Discord answers only once the
/// message exists (and says so if it does not).
pub fn with_wait(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let others: Vec<(String, String)> =
                u.query_pairs().filter(|(k, _)| k != "wait").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            u.query_pairs_mut().clear().extend_pairs(others).append_pair("wait", "true");
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// One message: up to 3 tries, honouring 429's `retry_after`.
fn send(agent: &ureq::Agent, url: &str, body: &Value) -> Result<(), SendError> {
    let mut tries = 0;
    loop {
        tries += 1;
        let err = match agent.post(url).send_json(body) {
            Ok(_) => return Ok(()),
            Err(ureq::Error::Status(code, resp)) => {
                let retry_after = resp.header("Retry-After").and_then(|h| h.trim().parse::<f64>().ok());
                let text = resp.into_string().unwrap_or_default();
                let detail = discord_message(&text)
                    .unwrap_or_else(|| crate::checks::one_line(&text).chars().take(200).collect());
                let what = if detail.is_empty() { format!("HTTP {code}") } else { format!("HTTP {code}: {detail}") };
                match code {
                    404 => return Err(SendError::Gone(what)),
                    401 | 403 => return Err(SendError::Unauthorized(what)),
                    429 => {
                        let wait = retry_after_secs(&text).or(retry_after).unwrap_or(1.0);
                        let wait = Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::MAX);
                        if wait > MAX_RETRY_AFTER || tries >= MAX_TRIES {
                            return Err(SendError::Temporary(format!(
                                "rate limited by Discord (retry after {:.1} s)",
                                wait.as_secs_f64()
                            )));
                        }
                        std::thread::sleep(wait);
                        continue;
                    }
                    400..=499 => return Err(SendError::Rejected(what)),
                    _ => SendError::Temporary(what),
                }
            }
            Err(ureq::Error::Transport(t)) => {
                let text = t.to_string();
                if text.contains("timed out") || text.contains("WouldBlock") || text.contains("temporarily unavailable")
                {
                    // A hung webhook will not answer a second time either.
                    return Err(SendError::Temporary(format!("no answer from Discord ({text})")));
                }
                SendError::Temporary(format!("could not reach Discord ({text})"))
            }
        };
        if tries >= MAX_TRIES {
            return Err(err);
        }
        std::thread::sleep(Duration::from_millis(250 * u64::from(tries)));
    }
}

fn retry_after_secs(body: &str) -> Option<f64> {
    serde_json::from_str::<Value>(body).ok()?.get("retry_after")?.as_f64()
}

fn discord_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    let msg = v.get("message")?.as_str()?;
    Some(match v.get("code").and_then(Value::as_i64) {
        Some(c) => format!("{msg} (code {c})"),
        None => msg.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(description: &str) -> Message {
        Message {
            kind: NotificationKind::Alert,
            content: "❌ CRITICAL".into(),
            title: "t".into(),
            description: description.into(),
            color: RED,
            footer: "f".into(),
            timestamp: Utc::now(),
        }
    }

    #[test]
    fn mentions_are_never_parsed() {
        let p = payload(&msg("Redis: @everyone <@123> broke"), "OPS-Atomic");
        assert_eq!(p["allowed_mentions"], json!({"parse": []}));
        assert_eq!(p["embeds"][0]["color"], RED);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_within_limits() {
        let long = "é".repeat(5000);
        let mut m = msg(&long);
        m.content = "ü".repeat(3000);
        m.footer = "x".repeat(3000);
        let p = payload(&m, "OPS-Atomic");
        let content = p["content"].as_str().unwrap();
        let desc = p["embeds"][0]["description"].as_str().unwrap();
        let footer = p["embeds"][0]["footer"]["text"].as_str().unwrap();
        assert_eq!(content.chars().count(), 2000);
        assert!(content.ends_with('…'));
        assert!(desc.chars().count() <= 4096);
        let total = desc.chars().count() + footer.chars().count() + 1;
        assert!(total <= 6000, "{total}");
    }

    #[test]
    fn wait_true_is_added_once() {
        assert_eq!(with_wait("https://discord.com/api/webhooks/1/t"), "https://discord.com/api/webhooks/1/t?wait=true");
        assert_eq!(
            with_wait("https://discord.com/api/webhooks/1/t?thread_id=9&wait=false"),
            "https://discord.com/api/webhooks/1/t?thread_id=9&wait=true"
        );
    }

    #[test]
    fn retry_after_is_read_from_the_body() {
        assert_eq!(retry_after_secs(r#"{"retry_after": 0.25, "global": false}"#), Some(0.25));
        assert_eq!(retry_after_secs("nope"), None);
        assert_eq!(
            discord_message(r#"{"message": "Unknown Webhook", "code": 10015}"#).unwrap(),
            "Unknown Webhook (code 10015)"
        );
    }
}
