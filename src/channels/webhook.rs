//! A generic webhook: the event document (SPEC §7.3) as JSON, POSTed with
//! the configured headers (values may use `${ENV_VAR}`, expanded when
//! sending, so the stored payload never holds them).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::notify::{Key, Kind, Notify, require_url};
use super::{Message, SendError};

pub struct Webhook;

impl Kind for Webhook {
    fn label(&self) -> &'static str {
        "Webhook"
    }
    fn keys(&self) -> &'static [Key] {
        &[Key::Url, Key::Headers]
    }
    fn validate(&self, n: &Notify, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        require_url(&mut errs, n, at, "the URL to POST the event document to");
        errs
    }
    fn target(&self, n: &Notify) -> String {
        format!("webhook {}", super::http::redact_url(&n.url))
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        super::document::document(msg)
    }
    fn send(&self, n: &Notify, payload: &Value, timeout: Duration, _root: &Path) -> Result<(), SendError> {
        let label = format!("webhook {}", n.name);
        super::http::post(&label, &n.url, &n.headers, &[], super::http::Body::Json(payload), timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    #[test]
    fn the_payload_is_the_event_document_without_url_or_headers() {
        let n: Notify = toml::from_str(
            "name = 'hook'\ntype = 'webhook'\nurl = 'https://example.com/h/tok3n'\nheaders = { Authorization = 'Bearer lit3ral' }\n",
        )
        .unwrap();
        let p = Webhook.render(&n, &alert());
        assert_eq!(p["schema"], "ops-atomic/notification/1");
        let text = p.to_string();
        assert!(!text.contains("tok3n") && !text.contains("lit3ral"), "{text}");
    }
}
