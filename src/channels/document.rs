//! The event document (SPEC §7.3): what webhook, command and outbox
//! deliver, built in this one place so the three never disagree.
//!
//! Versioned by `schema`: a consumer can rely on every key below; a change
//! that removes or retypes one gets a new schema name.

use serde_json::{Value, json};

use super::Message;

/// The schema name of the document this release writes.
pub const SCHEMA: &str = "ops-atomic/notification/1";

/// The document for `msg`. Pure.
pub fn document(msg: &Message) -> Value {
    let checks: Vec<Value> = msg
        .checks
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "status": c.status,
                "message": c.message,
                "target": c.target,
                "down_since": c.down_since.map(time),
                "lasted_s": c.lasted_s,
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "kind": msg.kind.as_str(),
        "title": msg.title,
        "text": msg.body,
        "host": msg.host,
        "ts": time(msg.timestamp),
        "status": msg.status,
        "checks": checks,
        "still_down": msg.still_down,
        "report": if msg.report.is_empty() { Value::Null } else { Value::String(msg.report.clone()) },
    })
}

/// RFC 3339 in UTC with milliseconds: `2025-10-27T17:52:09.831Z`.
fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::channels::{MessageCheck, NotificationKind, Tone};
    use chrono::TimeZone;

    /// A message about Redis going down, for every channel's tests.
    pub fn alert() -> Message {
        let at = chrono::Utc.with_ymd_and_hms(2025, 10, 27, 17, 52, 9).unwrap();
        Message {
            kind: NotificationKind::Alert,
            content: "❌ Redis down on mac-mini".into(),
            title: "❌ Redis down on mac-mini".into(),
            body: "**Redis**: connection refused <@here> & more\nsecond line".into(),
            tone: Tone::Red,
            footer: "ops-atomic heartbeat · heartbeat_x.md".into(),
            timestamp: at,
            host: "mac-mini".into(),
            status: "CRITICAL".into(),
            checks: vec![MessageCheck {
                id: "redis".into(),
                name: "Redis".into(),
                kind: "redis".into(),
                status: "fail".into(),
                message: "connection refused".into(),
                target: "127.0.0.1:6379".into(),
                down_since: Some(at - chrono::Duration::minutes(10)),
                lasted_s: None,
                caused_by: None,
            }],
            still_down: vec!["Database".into()],
            report: "/srv/root/g/reports/ops_atomic/heartbeat_x.md".into(),
        }
    }

    #[test]
    fn the_document_has_every_key_of_schema_1() {
        let d = document(&alert());
        assert_eq!(d["schema"], "ops-atomic/notification/1");
        assert_eq!(d["kind"], "alert");
        assert_eq!(d["title"], "❌ Redis down on mac-mini");
        assert!(d["text"].as_str().unwrap().starts_with("**Redis**"));
        assert_eq!(d["host"], "mac-mini");
        assert_eq!(d["ts"], "2025-10-27T17:52:09.000Z");
        assert_eq!(d["status"], "CRITICAL");
        assert_eq!(
            d["checks"][0],
            json!({"id": "redis", "name": "Redis", "kind": "redis", "status": "fail",
                   "message": "connection refused", "target": "127.0.0.1:6379",
                   "down_since": "2025-10-27T17:42:09.000Z", "lasted_s": null})
        );
        assert_eq!(d["still_down"], json!(["Database"]));
        assert_eq!(d["report"], "/srv/root/g/reports/ops_atomic/heartbeat_x.md");
        let mut m = alert();
        m.report.clear();
        assert_eq!(document(&m)["report"], Value::Null);
    }
}
