//! Discord: a webhook body with one embed (pure), and one POST per attempt.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Channel, Message, Problem, SendError, Tone, truncate};
use crate::{secret, validate};

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

/// `[discord]`: the Discord channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Discord {
    /// Webhook URL (env DISCORD_OPS_WEBHOOK); empty = notifications off.
    pub webhook_url: String,
    /// Name the messages are posted under.
    pub username: String,
    /// Timeout of one delivery attempt in ms.
    pub timeout_ms: u64,
}

impl Default for Discord {
    fn default() -> Self {
        Discord { webhook_url: String::new(), username: "OPS-Atomic".into(), timeout_ms: 5000 }
    }
}

impl Discord {
    /// The channel is on when a webhook is configured.
    pub fn enabled(&self) -> bool {
        !self.webhook_url.is_empty()
    }
}

impl Channel for Discord {
    fn name(&self) -> &str {
        "discord"
    }
    fn label(&self) -> String {
        "Discord".into()
    }
    fn target(&self) -> String {
        format!("Discord webhook {}", secret::redact_url(&self.webhook_url))
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        if self.enabled() {
            validate::url(
                &mut errs,
                &format!("{at}.webhook_url"),
                &self.webhook_url,
                &["http", "https"],
                " (DISCORD_OPS_WEBHOOK overrides it)",
            );
        }
        if self.username.trim().is_empty() {
            errs.push(format!("{at}.username is empty: give the name messages are posted under"));
        }
        errs
    }
    fn secrets(&self) -> Vec<String> {
        secret::url_secrets(&self.webhook_url)
    }
    fn redact(&mut self) {
        self.webhook_url = secret::redact_url(&self.webhook_url);
    }
    fn preflight(&self) -> Vec<Problem> {
        match webhook_shape(&self.webhook_url) {
            Ok(()) => Vec::new(),
            Err((fatal, why)) => vec![Problem { fatal, why }],
        }
    }
    fn render(&self, msg: &Message) -> Value {
        payload(msg, &self.username)
    }
    fn send(&self, payload: &Value, timeout: Duration, _root: &Path) -> Result<(), SendError> {
        post(&with_wait(&self.webhook_url), payload, timeout)
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// The embed colour of a tone.
pub fn color(tone: Tone) -> u32 {
    match tone {
        Tone::Red => RED,
        Tone::Orange => ORANGE,
        Tone::Green => GREEN,
    }
}

/// The webhook body: content and one embed within Discord's limits, and
/// `allowed_mentions` with `parse: []` so text from a failing service
/// (`@everyone`, `<@id>`) can never ping anyone.
pub fn payload(msg: &Message, username: &str) -> Value {
    let title = truncate(&msg.title, MAX_TITLE);
    let footer = truncate(&msg.footer, MAX_FOOTER);
    let room = MAX_EMBED_TOTAL - title.chars().count() - footer.chars().count();
    let description = truncate(&msg.body, MAX_DESCRIPTION.min(room));
    json!({
        "username": truncate(username, MAX_USERNAME),
        "content": truncate(&msg.content, MAX_CONTENT),
        "allowed_mentions": { "parse": [] },
        "embeds": [{
            "title": title,
            "description": description,
            "color": color(msg.tone),
            "footer": { "text": footer },
            "timestamp": msg.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }],
    })
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

/// One POST. Only a 2xx confirms it; Discord's own words explain the rest.
fn post(url: &str, body: &Value, timeout: Duration) -> Result<(), SendError> {
    match super::http_agent(timeout).post(url).send_json(body) {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
        Ok(resp) => Err(SendError::Temporary(format!(
            "Discord answered HTTP {} instead of confirming the message (a redirect is not a delivery)",
            resp.status()
        ))),
        Err(ureq::Error::Status(code, resp)) => {
            let retry_after = resp.header("Retry-After").and_then(|h| h.trim().parse::<f64>().ok());
            let text = resp.into_string().unwrap_or_default();
            let detail =
                discord_message(&text).unwrap_or_else(|| crate::checks::one_line(&text).chars().take(200).collect());
            let what = if detail.is_empty() { format!("HTTP {code}") } else { format!("HTTP {code}: {detail}") };
            Err(match code {
                404 => SendError::NeedsAttention(format!(
                    "the webhook no longer exists ({what}): create a new one and set discord.webhook_url or DISCORD_OPS_WEBHOOK"
                )),
                401 | 403 => SendError::NeedsAttention(format!(
                    "the webhook token is refused ({what}): copy the webhook URL again into discord.webhook_url or DISCORD_OPS_WEBHOOK"
                )),
                429 => {
                    let wait = retry_after_secs(&text).or(retry_after).unwrap_or(1.0);
                    let wait = Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::MAX);
                    SendError::RateLimited {
                        wait,
                        why: format!("rate limited by Discord (retry after {:.1} s)", wait.as_secs_f64()),
                    }
                }
                400..=499 => SendError::Rejected(format!("Discord rejected the message ({what})")),
                _ => SendError::Temporary(what),
            })
        }
        Err(ureq::Error::Transport(t)) => {
            let text = t.to_string();
            if text.contains("timed out") || text.contains("WouldBlock") || text.contains("temporarily unavailable") {
                // A hung webhook will not answer a second time either.
                return Err(SendError::NoAnswer(format!("no answer from Discord ({text})")));
            }
            Err(SendError::Temporary(format!("could not reach Discord ({text})")))
        }
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
    use crate::state::NotificationKind;
    use chrono::Utc;

    fn msg(body: &str) -> Message {
        Message {
            kind: NotificationKind::Alert,
            content: "❌ CRITICAL".into(),
            title: "t".into(),
            body: body.into(),
            tone: Tone::Red,
            footer: "f".into(),
            timestamp: Utc::now(),
            host: "mac-mini".into(),
            status: "CRITICAL".into(),
            checks: Vec::new(),
            still_down: Vec::new(),
            report: "/tmp/r.md".into(),
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

    #[test]
    fn webhook_shapes() {
        assert!(webhook_shape("https://discord.com/api/webhooks/123/abc").is_ok());
        assert!(webhook_shape("http://127.0.0.1:9/api/webhooks/1/t?wait=true").is_ok());
        assert!(!webhook_shape("https://example.com/hook").unwrap_err().0);
        assert!(webhook_shape("ftp://example.com/api/webhooks/1/t").unwrap_err().0);
        assert!(webhook_shape("nonsense").unwrap_err().0);
    }
}
