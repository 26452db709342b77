//! Where messages go: the `Channel` seam every channel implements, the
//! channel-neutral [`Message`], and the never-lost queue ([`queue`]).
//!
//! A channel is one file here. `render` turns a message into the payload
//! stored in the queue (pure, unit-tested without a network) and `send`
//! makes one attempt to deliver a stored payload (the I/O, at the edge).
//! Order, retries, rate limits, the time budget and the undeliverable list
//! live once, in [`queue`], for every channel. `[discord]` is its own
//! section ([`discord::Discord`]); every other channel is a `[[notify]]`
//! entry ([`notify::Notify`]) whose `type` picks the file that renders and
//! sends it ([`notify::Type`] is that registry). The event document that
//! webhook, command and outbox deliver is built once, in [`document`].
//! `config::Config::channels` lists the configured channels.

pub mod command;
pub mod digest;
pub mod discord;
pub mod document;
pub mod http;
pub mod macos;
pub mod notify;
pub mod ntfy;
pub mod outbox;
pub mod queue;
pub mod slack;
pub mod webhook;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

pub use crate::message::{Message, MessageCheck, NotificationKind, Tone};

/// Why one delivery attempt failed: the queue decides what happens next.
#[derive(Debug, Clone, PartialEq)]
pub enum SendError {
    /// Network trouble, a 5xx: try again (this run or the next).
    Temporary(String),
    /// No answer within the timeout: a hung endpoint will not answer a
    /// second time either, so the next try is the next run's.
    NoAnswer(String),
    /// Asked to wait (HTTP 429): the queue waits when the wait is short.
    RateLimited { wait: Duration, why: String },
    /// The channel refuses this message for good (HTTP 400): it moves to
    /// the undeliverable list so it cannot block the ones after it.
    Rejected(String),
    /// The channel is misconfigured or gone (404, 401/403): needs a person;
    /// the message stays queued. The text says what to do.
    NeedsAttention(String),
    /// The channel cannot work on this machine right now (no `osascript`
    /// for macOS notifications): nothing is wrong with the message or the
    /// configuration, so its messages wait and the run says so once, as a
    /// warning rather than an error.
    Unavailable(String),
}

impl SendError {
    /// Whether this is worth a WARN line rather than an ERROR: it may well
    /// fix itself by the next run.
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            SendError::Temporary(_)
                | SendError::NoAnswer(_)
                | SendError::RateLimited { .. }
                | SendError::Unavailable(_)
        )
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Temporary(m)
            | SendError::NoAnswer(m)
            | SendError::NeedsAttention(m)
            | SendError::Unavailable(m)
            | SendError::Rejected(m) => f.write_str(m),
            SendError::RateLimited { why, .. } => f.write_str(why),
        }
    }
}

/// A problem `daily` finds in a channel's configuration before using it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Whether the channel cannot work at all (else it may, but looks wrong).
    pub fatal: bool,
    pub why: String,
}

/// One way of reaching people.
pub trait Channel: Send + Sync {
    /// The channel's name, as queue entries and `notify test` name it.
    fn name(&self) -> &str;
    /// How people call it in log lines: "Discord".
    fn label(&self) -> String;
    /// Where it sends, without secrets, for reports.
    fn target(&self) -> String;
    /// Problems in its configuration, each naming its key under `at`.
    fn validate(&self, at: &str) -> Vec<String>;
    /// Secret values it holds, to scrub from anything printed.
    fn secrets(&self) -> Vec<String>;
    /// Replaces the secrets with `***`, for `config show`.
    fn redact(&mut self);
    /// Warnings about a configuration that loads but may not deliver.
    fn preflight(&self) -> Vec<Problem> {
        Vec::new()
    }
    /// Whether it gets messages of this kind (`events`; all by default).
    fn takes(&self, _kind: NotificationKind) -> bool {
        true
    }
    /// The payload stored in the queue for this message. Pure, and free of
    /// secrets: what the channel needs to send it (URL, headers) is added
    /// by `send`.
    fn render(&self, msg: &Message) -> Value;
    /// One attempt to deliver a stored payload, within `timeout`; `root` is
    /// the working directory of anything it runs.
    fn send(&self, payload: &Value, timeout: Duration, root: &Path) -> Result<(), SendError>;
    /// Its own time limit for one attempt.
    fn timeout(&self) -> Duration;
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

/// An HTTP agent for one channel's attempts: no redirects (a POST that is
/// redirected becomes a GET that proves nothing), the channel's timeout.
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(timeout)
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("ops-atomic/", env!("CARGO_PKG_VERSION")))
        .build()
}
