//! ntfy: the message as text to a topic URL, with `Title`, `Priority` and
//! `Tags` headers. The stored payload holds those values; the headers (and
//! any custom ones, such as `Authorization: Bearer ${NTFY_TOKEN}`) are made
//! when sending.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::notify::{Key, Kind, Notify, require_url};
use super::{Message, NotificationKind, SendError, truncate};

/// ntfy keeps messages up to 4096 bytes as text; longer ones become
/// attachments. Characters, rounded down, keep it text.
const MAX_BODY: usize = 3500;

pub struct Ntfy;

impl Kind for Ntfy {
    fn label(&self) -> &'static str {
        "ntfy"
    }
    fn keys(&self) -> &'static [Key] {
        &[Key::Url, Key::Headers]
    }
    fn validate(&self, n: &Notify, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        require_url(&mut errs, n, at, "the topic URL, such as https://ntfy.sh/<topic>");
        errs
    }
    fn target(&self, n: &Notify) -> String {
        format!("ntfy topic {}", super::http::redact_url(&n.url))
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        payload(msg)
    }
    fn send(&self, n: &Notify, payload: &Value, timeout: Duration, _root: &Path) -> Result<(), SendError> {
        let field = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
        let headers = [
            ("Title", header_text(&field("title"))),
            ("Priority", payload["priority"].as_u64().unwrap_or(3).to_string()),
            ("Tags", field("tags")),
            ("Markdown", "yes".to_string()),
        ];
        let body = field("body");
        super::http::post("ntfy", &n.url, &n.headers, &headers, super::http::Body::Text(&body), timeout)
    }
}

/// How urgent a kind is, on ntfy's 1 (min) to 5 (max) scale.
pub fn priority(kind: NotificationKind) -> u8 {
    match kind {
        NotificationKind::Alert => 5,
        NotificationKind::Reminder | NotificationKind::Flapping => 4,
        NotificationKind::Test => 2,
        _ => 3,
    }
}

/// ntfy tags (shortcodes shown as emoji), then the kind itself.
fn tags(kind: NotificationKind) -> String {
    let emoji = match kind {
        NotificationKind::Alert => "rotating_light",
        NotificationKind::Reminder => "repeat",
        NotificationKind::Recovery | NotificationKind::Stable => "white_check_mark",
        NotificationKind::Flapping => "warning",
        NotificationKind::Daily => "calendar",
        NotificationKind::Digest => "scroll",
        NotificationKind::Repair => "wrench",
        NotificationKind::Test => "test_tube",
    };
    format!("{emoji},{}", kind.as_str())
}

/// What is stored in the queue: the header values and the text body.
pub fn payload(msg: &Message) -> Value {
    json!({
        "title": msg.title,
        "priority": priority(msg.kind),
        "tags": tags(msg.kind),
        "body": truncate(&format!("{}\n\n{}", msg.body, msg.footer), MAX_BODY),
    })
}

/// A header value: as it is when printable ASCII, else RFC 2047
/// (`=?UTF-8?B?…?=`), which ntfy decodes, since HTTP headers cannot carry
/// emoji as they are.
pub fn header_text(s: &str) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return one_line;
    }
    format!("=?UTF-8?B?{}?=", base64(one_line.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    #[test]
    fn priority_follows_the_kind() {
        assert_eq!(priority(NotificationKind::Alert), 5);
        assert_eq!(priority(NotificationKind::Reminder), 4);
        assert_eq!(priority(NotificationKind::Flapping), 4);
        assert_eq!(priority(NotificationKind::Recovery), 3);
        assert_eq!(priority(NotificationKind::Daily), 3);
        assert_eq!(priority(NotificationKind::Test), 2);
        assert_eq!(priority(NotificationKind::Digest), 3);
    }

    #[test]
    fn the_payload_holds_headers_and_text() {
        let p = payload(&alert());
        assert_eq!(p["title"], "❌ Redis down on mac-mini");
        assert_eq!(p["priority"], 5);
        assert_eq!(p["tags"], "rotating_light,alert");
        assert!(p["body"].as_str().unwrap().ends_with("ops-atomic heartbeat · heartbeat_x.md"));
    }

    #[test]
    fn non_ascii_titles_are_encoded_for_the_header() {
        assert_eq!(header_text("plain title"), "plain title");
        assert_eq!(header_text("a\nb"), "a b");
        assert_eq!(header_text("✅ up"), "=?UTF-8?B?4pyFIHVw?=");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b"Man"), "TWFu");
    }
}
