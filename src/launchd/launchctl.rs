//! Calling launchctl and reading what it prints.
//!
//! Apple documents `launchctl print` output as "NOT API": parsers here are
//! lenient and read only what they need.

use std::path::PathBuf;

/// The launchctl program: `OPS_ATOMIC_LAUNCHCTL`, else `launchctl` on PATH.
/// `None` when there is none (Linux, or a stripped-down PATH).
pub fn program() -> Option<PathBuf> {
    match std::env::var_os("OPS_ATOMIC_LAUNCHCTL") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            p.is_file().then_some(p)
        }
        _ => crate::proc::which("launchctl"),
    }
}

/// One row of `launchctl list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub label: String,
    /// `None` when the job is not running (`-`).
    pub pid: Option<u32>,
    /// Last exit status; negative = killed by that signal. `None` for `-`.
    pub status: Option<i32>,
}

/// Parses the tab-separated table of `launchctl list` (header `PID Status Label`).
pub fn parse_list(text: &str) -> Vec<ListEntry> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split('\t').map(str::trim);
            let pid = cols.next()?;
            let status = cols.next()?;
            let label = cols.next()?;
            if label.is_empty() || (pid == "PID" && label == "Label") {
                return None;
            }
            Some(ListEntry {
                label: label.to_string(),
                pid: pid.parse().ok(),
                status: status.parse().ok(),
            })
        })
        .collect()
}

/// What a job's last exit status means, in words.
pub fn describe_exit(status: i32) -> String {
    if status < 0 {
        let sig = -status;
        return match signal_name(sig) {
            Some(name) => format!("killed by signal {sig} ({name})"),
            None => format!("killed by signal {sig}"),
        };
    }
    match sysexit_name(status) {
        Some(name) => format!("exited {status} ({name})"),
        None => format!("exited {status}"),
    }
}

pub fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        9 => "SIGKILL",
        10 => "SIGBUS",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

pub fn sysexit_name(code: i32) -> Option<&'static str> {
    Some(match code {
        64 => "EX_USAGE",
        65 => "EX_DATAERR",
        66 => "EX_NOINPUT",
        67 => "EX_NOUSER",
        68 => "EX_NOHOST",
        69 => "EX_UNAVAILABLE",
        70 => "EX_SOFTWARE",
        71 => "EX_OSERR",
        72 => "EX_OSFILE",
        73 => "EX_CANTCREAT",
        74 => "EX_IOERR",
        75 => "EX_TEMPFAIL",
        76 => "EX_PROTOCOL",
        77 => "EX_NOPERM",
        78 => "EX_CONFIG",
        126 => "not executable",
        127 => "command not found",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "PID\tStatus\tLabel\n-\t0\tcom.apple.CoreAuthentication.daemon\n-\t0\tcom.02luka.optimizer\n-\t78\tcom.02luka.digest\n279\t0\tcom.apple.Finder\n-\t-15\tcom.02luka.killed\n4521\t0\tcom.02luka.ops_atomic_monitor\n";

    #[test]
    fn list_fixture_parses() {
        let e = parse_list(LIST);
        assert_eq!(e.len(), 6);
        assert_eq!(
            e[2],
            ListEntry {
                label: "com.02luka.digest".into(),
                pid: None,
                status: Some(78)
            }
        );
        assert_eq!(e[4].status, Some(-15));
        assert_eq!(e[5].pid, Some(4521));
    }

    #[test]
    fn exit_statuses_are_described() {
        assert_eq!(describe_exit(78), "exited 78 (EX_CONFIG)");
        assert_eq!(describe_exit(-15), "killed by signal 15 (SIGTERM)");
        assert_eq!(describe_exit(1), "exited 1");
    }
}
