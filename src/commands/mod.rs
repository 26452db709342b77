//! The smaller commands. Each entry point takes plain arguments (paths,
//! the config, flags), never `app::Ctx`.

pub mod init;
pub mod shell;
pub mod summary;
