//! The smaller commands. Each entry point takes plain arguments (paths,
//! the config, flags), never `app::Ctx`.

pub mod events;
pub mod fleet;
pub mod init;
pub mod notify_test;
pub mod page;
pub mod run;
pub mod shell;
pub mod silence;
pub mod summary;
