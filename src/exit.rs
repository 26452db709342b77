//! Exit codes (Nagios plugin convention) and how several results combine.
//!
//! One place decides 0/1/2/3: a heartbeat or daily run maps its overall
//! [`Status`] to 0/1/2, and anything that stops the tool from doing its job
//! is an [`Error`], which always exits 3.

use std::fmt;

/// The overall status of a heartbeat or a daily run, ordered by badness so
/// that `max` combines several of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Healthy,
    Warnings,
    Critical,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "HEALTHY",
            Status::Warnings => "WARNINGS",
            Status::Critical => "CRITICAL",
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Status::Healthy => "✅",
            Status::Warnings => "⚠️",
            Status::Critical => "❌",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Status::Healthy => 0,
            Status::Warnings => 1,
            Status::Critical => 2,
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "HEALTHY" => Some(Status::Healthy),
            "WARNINGS" => Some(Status::Warnings),
            "CRITICAL" => Some(Status::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exit code for "the tool itself could not do its job".
pub const TOOL_FAILURE: u8 = 3;

/// A failure of the tool itself (bad arguments, bad config, lock timeout,
/// unwritable folder). The message names the thing and the fix; the exit
/// code is always 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for building an [`Error`] with `format!` syntax.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { $crate::exit::Error(format!($($arg)*)) };
}

/// Adds context to an I/O error: "could not <what> <path>: <cause>".
pub trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {}", what(), io_reason(&e))))
    }
}

/// A short, human reason for an I/O error, with a hint for the usual fixes.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    // O_NOFOLLOW on a symlink fails with ELOOP ("too many levels of
    // symbolic links"), which says nothing useful to a user.
    if e.raw_os_error() == Some(libc::ELOOP) {
        return "it is a symbolic link, and ops-atomic never writes through one (remove the link; if you did not put it there, someone else can write to this folder)".to_string();
    }
    match e.kind() {
        PermissionDenied => format!("{e} (check the folder's owner and permissions)"),
        ReadOnlyFilesystem => format!("{e} (the file system is read-only)"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_combine_to_the_worst() {
        let all = [Status::Warnings, Status::Healthy, Status::Critical];
        assert_eq!(all.iter().copied().max(), Some(Status::Critical));
        assert_eq!([Status::Healthy, Status::Warnings].iter().copied().max(), Some(Status::Warnings));
    }

    #[test]
    fn exit_codes_follow_nagios() {
        assert_eq!(Status::Healthy.exit_code(), 0);
        assert_eq!(Status::Warnings.exit_code(), 1);
        assert_eq!(Status::Critical.exit_code(), 2);
        assert_eq!(TOOL_FAILURE, 3);
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for s in [Status::Healthy, Status::Warnings, Status::Critical] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("healthy"), None);
    }
}
