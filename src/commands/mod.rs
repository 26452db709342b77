//! Commands whose entry points take plain arguments (paths, flags, the
//! config values they need), never `app::Ctx`.

pub mod init;
pub mod shell;
pub mod summary;
