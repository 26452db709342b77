//! The keys every check section takes besides its own (SPEC §3): when it is
//! DOWN and UP again, whether it notifies, what it depends on, how it is
//! repaired. [`check_section!`] writes them into a kind's struct, so a new
//! kind gets them by being declared with it.

use serde::{Deserialize, Serialize};

use super::Severity;

/// `repair = { command = [...], after = 2, max_per_hour = 3 }` (SPEC §12).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Repair {
    /// argv, no shell, run with the root as working directory.
    pub command: Vec<String>,
    /// Consecutive failures before the first repair.
    pub after: u32,
    /// Repairs allowed in any hour.
    pub max_per_hour: u32,
}

impl Default for Repair {
    fn default() -> Self {
        Repair { command: Vec::new(), after: 2, max_per_hour: 3 }
    }
}

/// The common keys as one value, resolved against `[monitor]`'s defaults by
/// whoever needs them (the incident rules, repairs, dependencies).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Common {
    pub failure_threshold: Option<u32>,
    pub success_threshold: Option<u32>,
    pub notify: Option<bool>,
    pub depends_on: Vec<String>,
    pub repair: Option<Repair>,
}

impl Common {
    /// Whether incidents of a check of this severity are sent: `notify`, or
    /// by default yes for critical checks and no for warning ones.
    pub fn notifies(&self, severity: Severity) -> bool {
        self.notify.unwrap_or(severity == Severity::Critical)
    }

    /// Problems with the common keys, each naming its key under `at`.
    pub fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        for (key, v) in [("failure_threshold", self.failure_threshold), ("success_threshold", self.success_threshold)] {
            if v == Some(0) {
                errs.push(format!("{at}.{key} = 0: must be at least 1"));
            }
        }
        for (i, d) in self.depends_on.iter().enumerate() {
            if d.trim().is_empty() {
                errs.push(format!("{at}.depends_on[{i}] is empty: name a check id such as \"database\""));
            }
        }
        if let Some(r) = &self.repair {
            if r.command.first().is_none_or(|p| p.is_empty()) {
                errs.push(format!(
                    "{at}.repair.command is empty: give the program and its arguments, e.g. [\"brew\", \"services\", \"restart\", \"redis\"]"
                ));
            }
            if r.after < 1 {
                errs.push(format!("{at}.repair.after = 0: must be at least 1"));
            }
            if r.max_per_hour < 1 {
                errs.push(format!("{at}.repair.max_per_hour = 0: must be at least 1"));
            }
        }
        errs
    }
}

/// Declares a check section: the struct with its own keys (each with a doc
/// comment and its default after `=`), the common keys of every check, and
/// `Default`. The struct's `Check` impl stays hand-written beside it.
#[macro_export]
macro_rules! check_section {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $default:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Consecutive failures before the check is DOWN (default: monitor.alert_threshold).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub failure_threshold: Option<u32>,
            /// Consecutive non-failures before it is UP again (default: monitor.recovery_threshold).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub success_threshold: Option<u32>,
            /// false: incidents are recorded and shown, never sent (default: true for critical, false for warning).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub notify: Option<bool>,
            /// Ids of checks this one needs: while one of them is DOWN, this one alerts through it.
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub depends_on: Vec<String>,
            /// How to repair it when it fails (SPEC §12).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub repair: Option<$crate::checks::common::Repair>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $default, )*
                    failure_threshold: None,
                    success_threshold: None,
                    notify: None,
                    depends_on: Vec::new(),
                    repair: None,
                }
            }
        }

        impl $name {
            /// The keys every check takes.
            pub fn common(&self) -> $crate::checks::common::Common {
                $crate::checks::common::Common {
                    failure_threshold: self.failure_threshold,
                    success_threshold: self.success_threshold,
                    notify: self.notify,
                    depends_on: self.depends_on.clone(),
                    repair: self.repair.clone(),
                }
            }
        }
    };
}
