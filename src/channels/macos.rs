//! macOS notifications: `osascript -e 'display notification …'` with the
//! title and the first line of the message. Where there is no `osascript`
//! (Linux, a PATH without /usr/bin) the channel is unavailable: its
//! messages wait in the queue and the run says so once, as a warning.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::notify::{Key, Kind, Notify};
use super::{Message, Problem, SendError, truncate};
use crate::proc;

pub struct Macos;

const UNAVAILABLE: &str =
    "osascript is not on PATH (macOS notifications need macOS and /usr/bin on the agent's PATH); messages wait";

impl Kind for Macos {
    fn label(&self) -> &'static str {
        "macOS"
    }
    fn keys(&self) -> &'static [Key] {
        &[]
    }
    fn validate(&self, _n: &Notify, _at: &str) -> Vec<String> {
        Vec::new()
    }
    fn target(&self, _n: &Notify) -> String {
        "macOS notifications".into()
    }
    fn preflight(&self, _n: &Notify) -> Vec<Problem> {
        match proc::which("osascript") {
            Some(_) => Vec::new(),
            None => vec![Problem { fatal: false, why: UNAVAILABLE.into() }],
        }
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        payload(msg)
    }
    fn send(&self, _n: &Notify, payload: &Value, timeout: Duration, _root: &Path) -> Result<(), SendError> {
        let Some(osascript) = proc::which("osascript") else {
            return Err(SendError::Unavailable(UNAVAILABLE.into()));
        };
        let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
        let program = script(&text("title"), &text("text"));
        match proc::run(&osascript, &["-e", &program], None, timeout) {
            Ok(o) if o.success() => Ok(()),
            Ok(o) if o.timed_out => Err(SendError::NoAnswer("osascript did not finish in time".into())),
            Ok(o) => Err(SendError::Temporary(format!(
                "osascript exited with {}: {}",
                o.code.unwrap_or(-1),
                proc::tail(&o.stderr, 2, 200)
            ))),
            Err(e) => Err(SendError::Unavailable(format!("osascript could not be started: {e}"))),
        }
    }
}

/// The title and the first line of the body, stored in the queue.
pub fn payload(msg: &Message) -> Value {
    let first = msg
        .body
        .lines()
        .map(|l| l.replace("**", "").trim_start_matches(['#', '-', '*', ' ']).trim().to_string())
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| msg.content.clone());
    json!({ "title": truncate(&msg.title, 120), "text": truncate(&first, 200) })
}

/// The AppleScript that shows it: both texts as AppleScript strings.
pub fn script(title: &str, text: &str) -> String {
    format!("display notification {} with title {}", quoted(text), quoted(title))
}

/// An AppleScript string literal: backslashes and quotes escaped, control
/// characters (a newline would end the statement) as spaces.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    #[test]
    fn the_script_quotes_what_it_shows() {
        assert_eq!(
            script("❌ \"Redis\" down", "a\\b\nc"),
            r#"display notification "a\\b c" with title "❌ \"Redis\" down""#
        );
    }

    #[test]
    fn title_and_first_line_are_stored() {
        let p = payload(&alert());
        assert_eq!(p["title"], "❌ Redis down on mac-mini");
        assert_eq!(p["text"], "Redis: connection refused <@here> & more");
    }
}
