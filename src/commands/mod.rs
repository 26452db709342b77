//! Commands that need no loaded configuration: each entry point takes plain
//! arguments (paths, flags), never `app::Ctx`.

pub mod init;
pub mod shell;
