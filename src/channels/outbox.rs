//! An outbox: one JSON file per message (the event document) in a folder
//! that another program watches. Each file appears whole or not at all
//! (written to a temporary name in the same folder, then renamed), and the
//! rename is the delivery.
//!
//! The name is `<UTC time>_<kind>_<8 hex>.json`, the hex a hash of the
//! document: a message sent again after a run was killed between the rename
//! and the state save replaces its own file instead of adding a second one.
//! Readers should take `*.json` and skip dot files (the temporary names).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::notify::{Key, Kind, Notify};
use super::{Message, SendError};

pub struct Outbox;

impl Kind for Outbox {
    fn label(&self) -> &'static str {
        "Outbox"
    }
    fn keys(&self) -> &'static [Key] {
        &[Key::Dir]
    }
    fn validate(&self, n: &Notify, at: &str) -> Vec<String> {
        if n.dir.trim().is_empty() {
            return vec![format!(
                "{at}.dir is missing: an outbox channel needs the folder that receives the files, e.g. \"g/outbox\""
            )];
        }
        if n.dir.starts_with('~') {
            return vec![format!(
                "{at}.dir = {:?}: ~ is not expanded; give an absolute path or one under the root",
                n.dir
            )];
        }
        Vec::new()
    }
    fn target(&self, n: &Notify) -> String {
        format!("outbox {}", n.dir)
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        super::document::document(msg)
    }
    fn send(&self, n: &Notify, payload: &Value, _timeout: Duration, root: &Path) -> Result<(), SendError> {
        let dir = folder(&n.dir, root);
        let bytes = serde_json::to_vec_pretty(payload).unwrap_or_default();
        let path = dir.join(file_name(payload, &bytes));
        let fail = |why: String| SendError::NeedsAttention(format!("outbox {}: {why}", dir.display()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| fail(format!("could not create it ({})", crate::exit::io_reason(&e))))?;
        crate::paths::write_atomic(&path, &bytes).map_err(|e| fail(e.0))?;
        // The document holds no secret, but it is nobody else's business.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        Ok(())
    }
}

/// The outbox folder: `dir`, under the root when relative.
pub fn folder(dir: &str, root: &Path) -> PathBuf {
    let p = Path::new(dir);
    if p.is_absolute() { p.to_path_buf() } else { root.join(p) }
}

/// `<UTC time>_<kind>_<8 hex>.json` for a document. Pure.
pub fn file_name(doc: &Value, bytes: &[u8]) -> String {
    let ts = doc["ts"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let time = ts.map_or_else(
        || "unknown-time".into(),
        |t| t.with_timezone(&chrono::Utc).format("%Y%m%dT%H%M%S%.3fZ").to_string(),
    );
    let kind: String = doc["kind"].as_str().unwrap_or("message").chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{time}_{kind}_{:08x}.json", fnv1a(bytes) as u32)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    #[test]
    fn names_sort_by_time_and_say_the_kind() {
        let doc = crate::channels::document::document(&alert());
        let name = file_name(&doc, b"x");
        assert!(name.starts_with("20251027T175209.000Z_alert_"), "{name}");
        assert!(name.ends_with(".json") && name.len() == "20251027T175209.000Z_alert_".len() + 8 + 5, "{name}");
        assert_eq!(name, file_name(&doc, b"x"), "the same message gets the same name");
        assert_ne!(name, file_name(&doc, b"y"));
    }

    #[test]
    fn a_message_is_one_whole_private_file() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-outbox-{}", std::process::id()));
        let n: Notify = toml::from_str("name = 'box'\ntype = 'outbox'\ndir = 'out'\n").unwrap();
        let doc = Outbox.render(&n, &alert());
        Outbox.send(&n, &doc, Duration::from_secs(1), &dir).unwrap();
        Outbox.send(&n, &doc, Duration::from_secs(1), &dir).unwrap();
        let files: Vec<PathBuf> = std::fs::read_dir(dir.join("out")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let got: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        assert_eq!(got, doc);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(files[0].metadata().unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).ok();
    }
}
