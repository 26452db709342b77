//! The two LaunchAgents: plist generation, launchctl calls, and the
//! enable / disable / status commands.

pub mod agents;
pub mod launchctl;
pub mod plist;
