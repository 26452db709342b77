//! `ops-atomic notify test [CHANNEL] [--json]` (SPEC §13): a `test` message
//! through every configured channel (or the one named) right now, not
//! queued, the channels side by side; ✅ or ❌ per channel with the reason.
//! Exit 0 when every channel delivered, else 3.

use chrono::Utc;
use serde_json::json;

use crate::channels::{Channel, Message, NotificationKind, SendError, Tone, queue};
use crate::config::Config;
use crate::exit::{Result, TOOL_FAILURE};
use crate::fail;
use crate::paths::Paths;
use crate::secret::scrub;

pub fn run(paths: &Paths, config: &Config, only: Option<&str>, json: bool) -> Result<u8> {
    let all = config.channels();
    if all.is_empty() {
        return Err(fail!(
            "no channel is configured: set discord.webhook_url (or DISCORD_OPS_WEBHOOK), or add a [[notify]] section \
             to {}; the README's \"Channels\" has a copy-paste example for each type",
            paths.default_config().display()
        ));
    }
    let chosen: Vec<&dyn Channel> = match only {
        None => all.clone(),
        Some(name) => match all.iter().find(|c| c.name() == name) {
            Some(c) => vec![*c],
            None => {
                let names: Vec<&str> = all.iter().map(|c| c.name()).collect();
                return Err(fail!("no channel named {name:?}: the configured channels are {}", names.join(", ")));
            }
        },
    };
    let msg = message(paths, config);
    let results: Vec<std::result::Result<(), SendError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chosen.iter().map(|c| s.spawn(|| queue::send_now(*c, &msg, &paths.root))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(SendError::Temporary("the attempt crashed".into()))))
            .collect()
    });
    let failed = results.iter().filter(|r| r.is_err()).count();
    if json {
        let channels: Vec<_> = chosen
            .iter()
            .zip(&results)
            .map(|(c, r)| {
                json!({
                    "name": c.name(),
                    "target": c.target(),
                    "delivered": r.is_ok(),
                    "error": r.as_ref().err().map(ToString::to_string),
                })
            })
            .collect();
        let doc = json!({ "channels": channels, "delivered": chosen.len() - failed, "failed": failed });
        println!("{}", scrub(&serde_json::to_string_pretty(&doc).unwrap_or_default()));
    } else {
        for (c, r) in chosen.iter().zip(&results) {
            let line = match r {
                Ok(()) => format!("✅ {}: delivered to {}", c.name(), c.target()),
                Err(e) => format!("❌ {}: {e} ({})", c.name(), c.target()),
            };
            println!("{}", scrub(&line));
        }
        match failed {
            0 => println!("All {} channel(s) delivered the test message.", chosen.len()),
            n => println!("{n} of {} channel(s) failed; nothing was queued.", chosen.len()),
        }
    }
    Ok(if failed == 0 { 0 } else { TOOL_FAILURE })
}

/// The test message: says what it is in its title, since a phone shows
/// only that.
fn message(paths: &Paths, config: &Config) -> Message {
    let host = config.monitor.host();
    let status = crate::state::peek(paths).and_then(|st| st.last_status).unwrap_or_else(|| "UNKNOWN".into());
    let title = format!("🧪 Test from ops-atomic on {host}");
    Message {
        kind: NotificationKind::Test,
        content: title.clone(),
        title,
        body: format!(
            "This is a test message sent by `ops-atomic notify test`: if you can read it, this channel works.\n\n\
             Nothing happened on {host}; its last heartbeat status is **{status}**."
        ),
        tone: Tone::Green,
        footer: "ops-atomic notify test".into(),
        timestamp: Utc::now(),
        host,
        status,
        checks: Vec::new(),
        still_down: Vec::new(),
        report: String::new(),
    }
}
