//! A command: argv (no shell) run in the root with the event document on
//! stdin; exit 0 is a delivery. It runs in its own process group, killed
//! whole at the timeout (30 s unless `timeout_ms` says otherwise).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::notify::{Key, Kind, Notify};
use super::{Message, SendError};
use crate::proc;

pub struct Command;

impl Kind for Command {
    fn label(&self) -> &'static str {
        "Command"
    }
    fn keys(&self) -> &'static [Key] {
        &[Key::Command]
    }
    fn default_timeout_ms(&self) -> u64 {
        30_000
    }
    fn validate(&self, n: &Notify, at: &str) -> Vec<String> {
        if n.command.first().is_none_or(|p| p.trim().is_empty()) {
            return vec![format!(
                "{at}.command is missing: a command channel needs the program and its arguments, e.g. [\"scripts/notify.sh\"]"
            )];
        }
        Vec::new()
    }
    fn target(&self, n: &Notify) -> String {
        format!("command {}", n.command.first().map(String::as_str).unwrap_or_default())
    }
    fn render(&self, _n: &Notify, msg: &Message) -> Value {
        super::document::document(msg)
    }
    fn send(&self, n: &Notify, payload: &Value, timeout: Duration, root: &Path) -> Result<(), SendError> {
        let Some((program, args)) = n.command.split_first() else {
            return Err(SendError::NeedsAttention(format!("channel {} has no command", n.name)));
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let input = serde_json::to_vec(payload).unwrap_or_default();
        let label = format!("command {program}");
        match proc::run_with_input(&program_path(program, root), &args, Some(root), timeout, Some(&input)) {
            Ok(o) if o.success() => Ok(()),
            Ok(o) if o.timed_out => Err(SendError::NoAnswer(format!(
                "{label} did not finish within {} ms and was killed",
                timeout.as_millis()
            ))),
            Ok(o) => {
                let tail = proc::tail(if o.stderr.trim().is_empty() { &o.stdout } else { &o.stderr }, 3, 300);
                let code = o.code.map_or_else(|| "was killed by a signal".to_string(), |c| format!("exited with {c}"));
                let tail = if tail.is_empty() { String::new() } else { format!(": {}", tail.replace('\n', " | ")) };
                Err(SendError::Temporary(format!("{label} {code}{tail}")))
            }
            Err(proc::SpawnError::NotFound) => Err(SendError::NeedsAttention(format!(
                "{label} was not found: check notify \"{}\" command (relative paths start at the root)",
                n.name
            ))),
            Err(e) => Err(SendError::NeedsAttention(format!("{label} could not be started: {e}"))),
        }
    }
}

/// A program with a `/` in a relative path is under the root; a bare
/// name is looked up on PATH, as execvp does.
fn program_path(program: &str, root: &Path) -> PathBuf {
    let p = Path::new(program);
    if p.is_relative() && program.contains('/') { root.join(p) } else { p.to_path_buf() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::document::tests::alert;

    fn entry(cmd: &str) -> Notify {
        toml::from_str(&format!("name = 'cmd'\ntype = 'command'\ncommand = {cmd}\n")).unwrap()
    }

    #[test]
    fn the_document_arrives_on_stdin_and_exit_0_delivers() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-cmdch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let n = entry("['sh', '-c', 'cat > got.json']");
        let doc = Command.render(&n, &alert());
        Command.send(&n, &doc, Duration::from_secs(5), &dir).unwrap();
        let got: Value = serde_json::from_slice(&std::fs::read(dir.join("got.json")).unwrap()).unwrap();
        assert_eq!(got, doc);
        let failing = entry("['sh', '-c', 'echo nope >&2; exit 4']");
        match Command.send(&failing, &doc, Duration::from_secs(5), &dir) {
            Err(SendError::Temporary(m)) => assert!(m.contains("exited with 4: nope"), "{m}"),
            other => panic!("{other:?}"),
        }
        let hung = entry("['sleep', '5']");
        assert!(matches!(Command.send(&hung, &doc, Duration::from_millis(200), &dir), Err(SendError::NoAnswer(_))));
        let missing = entry("['no/such/program']");
        assert!(matches!(
            Command.send(&missing, &doc, Duration::from_secs(1), &dir),
            Err(SendError::NeedsAttention(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
