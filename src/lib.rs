//! ops-atomic: a local operations monitor that launchd runs as one-shot jobs.
//!
//! `main.rs` parses the command line and calls [`app::run`]; everything else
//! lives in the modules below.

pub mod app;
pub mod channels;
pub mod checks;
pub mod cli;
pub mod color;
pub mod commands;
pub mod config;
pub mod daily;
pub mod duration;
pub mod envvars;
pub mod events;
pub mod exit;
pub mod export;
pub mod heartbeat;
pub mod history;
pub mod incidents;
pub mod jobs;
pub mod jsonl;
pub mod launchd;
pub mod log;
pub mod menubar;
pub mod message;
pub mod page;
pub mod paths;
pub mod pings;
pub mod proc;
pub mod repairs;
pub mod report;
pub mod secret;
pub mod selfwatch;
pub mod sleep;
pub mod state;
pub mod validate;
pub mod windows;
