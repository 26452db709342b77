//! The two LaunchAgents: plist generation, launchctl calls, and the
//! enable / disable / status commands.

pub mod agent;
pub mod agents;
pub mod launchctl;
pub mod plist;
pub mod status;

/// Prints a line on stdout; a closed stdout (piped into `head`) is not a panic.
pub(crate) fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}
