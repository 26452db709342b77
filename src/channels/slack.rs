//! Slack: an incoming-webhook body with text and blocks (pure), one POST
//! per attempt. `<`, `>` and `&` are escaped in every text, so a failing
//! service's output (`<!channel>`, `<@U123>`) can never mention anyone.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::notify::{Key, Kind, Notify, require_url};
use super::{Message, SendError, truncate};

/// Slack's limit on the text of a section block, in characters.
const MAX_SECTION: usize = 3000;
/// A message's `text` (the notification preview) is kept short.
const MAX_TEXT: usize = 300;

pub struct Slack;

impl Kind for Slack {
    fn label(&self) -> &'static str {
        "Slack"
    }
    fn keys(&self) -> &'static [Key] {
        &[Key::Url]
    }
    fn validate(&self, n: &Notify, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        require_url(&mut errs, n, at, "the incoming-webhook URL");
        errs
    }
    fn target(&self, n: &Notify) -> String {
        format!("Slack webhook {}", super::http::redact_url(&n.url))
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        payload(msg)
    }
    fn send(&self, n: &Notify, payload: &Value, timeout: Duration, _root: &Path) -> Result<(), SendError> {
        super::http::post("Slack", &n.url, &n.headers, &[], super::http::Body::Json(payload), timeout)
    }
}

/// Escapes the three characters Slack reads as markup.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown `**bold**` as Slack's `*bold*`, escaped.
fn mrkdwn(s: &str) -> String {
    escape(&s.replace("**", "*"))
}

/// The webhook body: `text` (what a notification shows) and blocks with the
/// title, the body and the footer.
pub fn payload(msg: &Message) -> Value {
    json!({
        "text": truncate(&escape(&msg.title), MAX_TEXT),
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": truncate(&format!("*{}*", escape(&msg.title)), MAX_SECTION) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": truncate(&mrkdwn(&msg.body), MAX_SECTION) } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": truncate(&escape(&msg.footer), MAX_SECTION) } ] },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    #[test]
    fn service_text_can_never_mention_anyone() {
        let mut m = alert();
        m.body = "Redis said <!channel> <@U123> & <http://x|click>".into();
        let p = payload(&m);
        let body = p["blocks"][1]["text"]["text"].as_str().unwrap();
        assert_eq!(body, "Redis said &lt;!channel&gt; &lt;@U123&gt; &amp; &lt;http://x|click&gt;");
        assert!(!p.to_string().contains("<!channel>"));
    }

    #[test]
    fn text_is_the_title_and_blocks_carry_the_rest() {
        let p = payload(&alert());
        assert_eq!(p["text"], "❌ Redis down on mac-mini");
        assert_eq!(p["blocks"][0]["text"]["text"], "*❌ Redis down on mac-mini*");
        assert!(p["blocks"][1]["text"]["text"].as_str().unwrap().starts_with("*Redis*: connection refused"));
        assert_eq!(p["blocks"][2]["elements"][0]["text"], "ops-atomic heartbeat · heartbeat_x.md");
        let mut long = alert();
        long.body = "x".repeat(5000);
        assert_eq!(payload(&long)["blocks"][1]["text"]["text"].as_str().unwrap().chars().count(), MAX_SECTION);
    }
}
