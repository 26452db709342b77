//! `[self]`: ops-atomic watching itself (SPEC §4). A warning when an
//! installed agent of this root is not loaded or its plist differs from what
//! `enable` would write now, when the daily agent is installed and the last
//! daily run is older than 26 h, or when another run has held the state lock
//! for over 60 s. Skipped without launchctl.
//!
//! The questions are asked by `crate::selfwatch` (it knows the agents,
//! the configuration and the root's files, and asks launchd what `status`
//! asks); this kind only declares the section and runs the [`Inspect`] the
//! heartbeat hands it through [`Env::me`], so `checks` imports neither the
//! config nor the command line.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};

crate::check_section! {
    /// `[self]`: ops-atomic watching itself.
    pub struct SelfWatch {
        /// Installed agents loaded and up to date, daily ran within 26 h, no run stuck on the lock.
        pub enabled: bool = true,
        /// What a problem counts as.
        pub severity: Severity = Severity::Warning,
    }
}

/// Looks at this root's agents, daily run and state lock: the answer of the check.
pub trait Inspect: Send + Sync + std::fmt::Debug {
    fn inspect(&self, launchctl: &Path, now: DateTime<Utc>) -> (CheckStatus, String);
}

impl Check for SelfWatch {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "self"
    }
    fn section(&self) -> &'static str {
        "OPS-Atomic itself"
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::single(self, "ops-atomic", self.severity, "agents, daily run, state lock")]
    }
    fn validate(&self, _at: &str) -> Vec<String> {
        Vec::new()
    }
    fn timeout(&self) -> Duration {
        // Two `launchctl print` calls at most, each answering in milliseconds.
        Duration::from_secs(8)
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let who = &self.idents()[0];
        let (Some(program), Some(facts)) = (&env.launchctl, &env.me) else {
            return vec![CheckResult::new(
                who,
                CheckStatus::Skipped,
                "launchctl not found on this system; self check skipped",
            )];
        };
        let (status, message) = facts.inspect(program, Utc::now());
        vec![CheckResult::new(who, status, message)]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_launchctl_it_is_skipped() {
        let r = SelfWatch::default().run(&Env::default());
        assert_eq!(r[0].status, CheckStatus::Skipped);
        assert_eq!(r[0].id, "self");
    }
}
