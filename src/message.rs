//! The channel-neutral message and its queue entry: what incidents decide,
//! what every channel renders, what the state keeps queued and what a
//! digest folds. A leaf, so that incidents, channels and the state file
//! can all speak of a message without importing each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    Alert,
    Reminder,
    Recovery,
    Flapping,
    Stable,
    Digest,
    Repair,
    Daily,
    Test,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Alert => "alert",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Recovery => "recovery",
            NotificationKind::Flapping => "flapping",
            NotificationKind::Stable => "stable",
            NotificationKind::Digest => "digest",
            NotificationKind::Repair => "repair",
            NotificationKind::Daily => "daily",
            NotificationKind::Test => "test",
        }
    }
}

/// How a message should look where colour is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Red,
    Orange,
    Green,
}

/// A check a message is about, for channels that send structured data
/// (the event document of SPEC §7.3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MessageCheck {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub message: String,
    pub target: String,
    pub down_since: Option<DateTime<Utc>>,
    pub lasted_s: Option<i64>,
    /// The dependency it fails because of (SPEC §15): named in that
    /// dependency's message rather than alerting on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

/// One message, before any channel has shaped it.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: NotificationKind,
    /// One line, for a phone's lock screen or a chat preview.
    pub content: String,
    pub title: String,
    /// Markdown: what happened, in detail.
    pub body: String,
    pub tone: Tone,
    /// Which run sent it, and its report.
    pub footer: String,
    pub timestamp: DateTime<Utc>,
    /// The machine, as messages name it.
    pub host: String,
    /// The run's overall status: HEALTHY, WARNINGS, CRITICAL.
    pub status: String,
    /// The checks the message is about.
    pub checks: Vec<MessageCheck>,
    /// Names of the other checks still DOWN.
    pub still_down: Vec<String>,
    /// Absolute path of the run's report.
    pub report: String,
}

/// A message rendered for one channel, waiting to be delivered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// The channel it is for; queues written before channels had names
    /// were Discord's.
    #[serde(default = "discord")]
    pub channel: String,
    pub kind: NotificationKind,
    pub created_at: DateTime<Utc>,
    /// The channel's payload, ready to send.
    pub payload: serde_json::Value,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The channel-neutral facts of the message, so that queued messages
    /// can be folded into one digest (SPEC §15); absent in entries queued
    /// by earlier releases and in daily and test messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Box<Facts>>,
    /// Held by quiet hours: not sent until they end (set before each delivery).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

fn discord() -> String {
    "discord".into()
}

/// What a queued message said, without any channel's shape: enough to
/// tell its part of the story in a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub kind: NotificationKind,
    pub title: String,
    pub ts: DateTime<Utc>,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub checks: Vec<MessageCheck>,
    #[serde(default)]
    pub still_down: Vec<String>,
    #[serde(default)]
    pub report: String,
    /// A digest's messages, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Facts>,
}

impl Facts {
    pub fn of(msg: &Message) -> Facts {
        Facts {
            kind: msg.kind,
            title: msg.title.clone(),
            ts: msg.timestamp,
            host: msg.host.clone(),
            status: msg.status.clone(),
            checks: msg.checks.clone(),
            still_down: msg.still_down.clone(),
            report: msg.report.clone(),
            parts: Vec::new(),
        }
    }

    /// The messages it stands for: itself, or a digest's parts.
    pub(crate) fn flat(&self) -> Vec<&Facts> {
        if self.kind == NotificationKind::Digest && !self.parts.is_empty() {
            self.parts.iter().flat_map(Facts::flat).collect()
        } else {
            vec![self]
        }
    }
}
