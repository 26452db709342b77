//! `[[notify]]`: every channel besides `[discord]`, one entry each.
//!
//! An entry deserialises into [`Notify`], the union of every type's keys,
//! so that an unknown key or type is a TOML error naming the key, file,
//! line and column. Its `type` then picks the file that knows the type
//! ([`Type::kind`] is the registry): which keys it needs and refuses, how
//! it renders a message and how it sends one. Adding a channel type is one
//! file implementing [`Kind`] and one line in [`Type`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Channel, Message, NotificationKind, Problem, SendError};
use crate::validate;

/// The channel types a `[[notify]]` entry can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Slack,
    Ntfy,
    Webhook,
    Command,
    Outbox,
    Macos,
}

impl Type {
    pub const ALL: [Type; 6] = [Type::Slack, Type::Ntfy, Type::Webhook, Type::Command, Type::Outbox, Type::Macos];

    /// The file that implements this type.
    pub fn kind(self) -> &'static dyn Kind {
        match self {
            Type::Slack => &super::slack::Slack,
            Type::Ntfy => &super::ntfy::Ntfy,
            Type::Webhook => &super::webhook::Webhook,
            Type::Command => &super::command::Command,
            Type::Outbox => &super::outbox::Outbox,
            Type::Macos => &super::macos::Macos,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Type::Slack => "slack",
            Type::Ntfy => "ntfy",
            Type::Webhook => "webhook",
            Type::Command => "command",
            Type::Outbox => "outbox",
            Type::Macos => "macos",
        }
    }
}

/// The keys of `[[notify]]` that only some types use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Url,
    Headers,
    Command,
    Dir,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Url => "url",
            Key::Headers => "headers",
            Key::Command => "command",
            Key::Dir => "dir",
        }
    }
}

/// What a channel type does with its `[[notify]]` entry.
pub trait Kind: Sync {
    /// How people call it: "Slack".
    fn label(&self) -> &'static str;
    /// The type-specific keys it uses; the others are refused when set.
    fn keys(&self) -> &'static [Key];
    /// Its timeout when `timeout_ms` is not set.
    fn default_timeout_ms(&self) -> u64 {
        5000
    }
    /// Problems with the keys it uses (present, well formed), under `at`.
    fn validate(&self, n: &Notify, at: &str) -> Vec<String>;
    /// Where it sends, without secrets.
    fn target(&self, n: &Notify) -> String;
    /// Warnings about an entry that loads but may not deliver.
    fn preflight(&self, _n: &Notify) -> Vec<Problem> {
        Vec::new()
    }
    /// The payload stored in the queue. Pure, and without secrets.
    fn render(&self, n: &Notify, msg: &Message) -> Value;
    /// One attempt to deliver a stored payload.
    fn send(&self, n: &Notify, payload: &Value, timeout: Duration, root: &Path) -> Result<(), SendError>;
}

/// One `[[notify]]` entry as written: every type's keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// Unique, `[a-z0-9_-]+`; queue entries and `notify test` name it.
    pub name: String,
    /// slack | ntfy | webhook | command | outbox | macos.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<Type>,
    /// slack, ntfy, webhook: where to POST (its path is treated as a secret).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// ntfy, webhook: extra headers; values may use `${ENV_VAR}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// command: argv run with the event document on stdin; exit 0 = delivered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// outbox: folder that receives one JSON file per message (relative = under the root).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// The message kinds this channel gets; empty = all.
    pub events: Vec<NotificationKind>,
    /// Timeout of one attempt in ms (default 5000; command 30000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Notify {
    /// The file that implements its type (none when `type` is missing,
    /// which validation refuses).
    pub fn kind(&self) -> Option<&'static dyn Kind> {
        self.kind.map(Type::kind)
    }

    fn label_of(&self) -> &'static str {
        self.kind().map_or("channel", |k| k.label())
    }
}

/// Whether `name` may name a channel: `[a-z0-9_-]+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Channel for Notify {
    fn name(&self) -> &str {
        &self.name
    }
    fn label(&self) -> String {
        let label = self.label_of();
        if label.eq_ignore_ascii_case(&self.name) { label.to_string() } else { format!("{label} \"{}\"", self.name) }
    }
    fn target(&self) -> String {
        self.kind().map_or_else(String::new, |k| k.target(self))
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if self.name.is_empty() {
            errs.push(format!("{at}.name is missing: give each channel a name such as \"phone\" ([a-z0-9_-]+)"));
        } else if !valid_name(&self.name) {
            errs.push(format!("{at}.name = {:?}: use only a-z, 0-9, _ and -", self.name));
        } else if self.name == "discord" {
            errs.push(format!("{at}.name = \"discord\": that name is taken by [discord]; choose another"));
        }
        let Some(kind) = self.kind() else {
            let all: Vec<&str> = Type::ALL.iter().map(|t| t.as_str()).collect();
            errs.push(format!("{at}.type is missing: one of {}", all.join(", ")));
            return errs;
        };
        let given = [
            (Key::Url, !self.url.is_empty()),
            (Key::Headers, !self.headers.is_empty()),
            (Key::Command, !self.command.is_empty()),
            (Key::Dir, !self.dir.is_empty()),
        ];
        for (key, set) in given {
            if set && !kind.keys().contains(&key) {
                let uses: Vec<&str> = kind.keys().iter().map(|k| k.name()).collect();
                let uses = if uses.is_empty() { "none of url, headers, command, dir".into() } else { uses.join(", ") };
                errs.push(format!(
                    "{at}.{}: a {} channel does not use this key (it uses {uses}); remove it or change the type",
                    key.name(),
                    self.kind.map_or("", Type::as_str)
                ));
            }
        }
        if let Some(ms) = self.timeout_ms {
            validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), ms);
        }
        if kind.keys().contains(&Key::Headers) {
            validate::headers(&mut errs, &format!("{at}.headers"), &self.headers);
        }
        errs.extend(kind.validate(self, at));
        errs
    }
    fn secrets(&self) -> Vec<String> {
        let mut s = super::http::url_secrets(&self.url);
        s.extend(validate::header_secrets(self.headers.values()));
        s
    }
    fn redact(&mut self) {
        self.url = super::http::redact_url(&self.url);
        validate::redact_headers(self.headers.values_mut());
    }
    fn preflight(&self) -> Vec<Problem> {
        self.kind().map_or_else(Vec::new, |k| k.preflight(self))
    }
    fn takes(&self, kind: NotificationKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
    fn render(&self, msg: &Message) -> Value {
        self.kind().map_or(Value::Null, |k| k.render(self, msg))
    }
    fn send(&self, payload: &Value, timeout: Duration, root: &Path) -> Result<(), SendError> {
        match self.kind() {
            Some(k) => k.send(self, payload, timeout, root),
            None => Err(SendError::NeedsAttention(format!("channel {} has no type", self.name))),
        }
    }
    fn timeout(&self) -> Duration {
        let default = self.kind().map_or(5000, |k| k.default_timeout_ms());
        Duration::from_millis(self.timeout_ms.unwrap_or(default))
    }
}

/// `at.url`: present (saying what this type needs) and http(s).
pub fn require_url(errs: &mut Vec<String>, n: &Notify, at: &str, what: &str) {
    if n.url.is_empty() {
        errs.push(format!("{at}.url is missing: a {} channel needs {what}", n.kind.map_or("", Type::as_str)));
    } else {
        validate::url(errs, &format!("{at}.url"), &n.url, &["http", "https"], "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(toml_text: &str) -> Notify {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn each_type_refuses_keys_it_does_not_use_and_needs_its_own() {
        let n = entry("name = 'chat'\ntype = 'slack'\ncommand = ['x']\n");
        let errs = n.validate("notify[2]").join("\n");
        assert!(errs.contains("notify[2].url is missing: a slack channel needs the incoming-webhook URL"), "{errs}");
        assert!(errs.contains("notify[2].command: a slack channel does not use this key"), "{errs}");
        let n = entry("name = 'discord'\n");
        let errs = n.validate("notify[0]").join("\n");
        assert!(errs.contains("taken by [discord]"), "{errs}");
        assert!(errs.contains("notify[0].type is missing"), "{errs}");
        let n = entry("name = 'Bad Name'\ntype = 'macos'\n");
        assert!(n.validate("notify[1]").join("\n").contains("notify[1].name"));
    }

    #[test]
    fn a_pasted_redaction_is_refused() {
        let n = entry("name = 'hook'\ntype = 'webhook'\nurl = 'https://example.com/***'\n");
        let errs = n.validate("notify[0]").join("\n");
        assert!(errs.contains("notify[0].url holds `***`"), "{errs}");
    }

    #[test]
    fn events_route_message_kinds() {
        let n = entry("name = 'phone'\ntype = 'ntfy'\nurl = 'https://ntfy.sh/t'\nevents = ['alert', 'recovery']\n");
        assert!(n.takes(NotificationKind::Alert));
        assert!(!n.takes(NotificationKind::Daily));
        let all = entry("name = 'phone'\ntype = 'ntfy'\nurl = 'https://ntfy.sh/t'\n");
        assert!(all.takes(NotificationKind::Digest));
        assert!(toml::from_str::<Notify>("name = 'p'\ntype = 'ntfy'\nevents = ['alrt']\n").is_err());
    }

    #[test]
    fn redaction_hides_the_url_path_and_literal_headers() {
        let mut n = entry(
            "name = 'hook'\ntype = 'webhook'\nurl = 'https://example.com/hook/s3cr3t-token'\n[headers]\nAuthorization = 'Bearer literal-token'\nX-Env = '${TOKEN}'\n",
        );
        let secrets = n.secrets();
        assert!(secrets.contains(&"/hook/s3cr3t-token".to_string()), "{secrets:?}");
        assert!(secrets.contains(&"Bearer literal-token".to_string()), "{secrets:?}");
        n.redact();
        let shown = toml::to_string(&n).unwrap();
        assert!(!shown.contains("s3cr3t") && !shown.contains("literal-token"), "{shown}");
        assert!(shown.contains("${TOKEN}"), "{shown}");
    }
}
