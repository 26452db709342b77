//! Files: present, fresh (`max_age_minutes`) and growing (`min_growth_bytes`
//! over `window_hours`). Each run samples the size into the check's memo
//! (kept in the state by id); the growth is the sum of the increases between
//! samples, so a file that shrank (rotated, truncated) counts again from its
//! smaller size. Only the samples within the window and one older are kept.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity, human_bytes, human_secs};
use crate::validate;

crate::check_section! {
    /// `[[file]]`: a file that must stay fresh or keep growing.
    pub struct FileWatch {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// Absolute path, without `~`.
        pub path: String = String::new(),
        /// Modified within N minutes; 0 = not checked.
        pub max_age_minutes: u64 = 0,
        /// Grew by at least N bytes over window_hours; 0 = not checked.
        pub min_growth_bytes: u64 = 0,
        /// The growth window, in hours.
        pub window_hours: u64 = 24,
        /// What a failure (a missing file too) counts as.
        pub severity: Severity = Severity::Warning,
    }
}

/// What the check keeps between runs: `(unix seconds, size)`, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memo {
    pub samples: Vec<(i64, u64)>,
}

impl Check for FileWatch {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "file"
    }
    fn section(&self) -> &'static str {
        "Files"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, self.path.clone())]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "file check");
        validate::abs_path(&mut errs, &format!("{at}.path"), &self.path);
        if !(1..=8760).contains(&self.window_hours) {
            errs.push(format!("{at}.window_hours = {}: must be between 1 and 8760 hours", self.window_hours));
        }
        if self.max_age_minutes > 525_600 {
            errs.push(format!(
                "{at}.max_age_minutes = {}: must be at most 525600 (a year); 0 = not checked",
                self.max_age_minutes
            ));
        }
        errs
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let who = &self.idents()[0];
        let memo: Memo = env.memo(&who.id).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let (status, message, memo) = check(self, std::fs::metadata(&self.path), now, memo);
        let mut r = CheckResult::new(who, status, message);
        r.memo = serde_json::to_value(memo).ok();
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// The verdict on what `stat` said at `now`, and the memo to keep.
pub fn check(
    cfg: &FileWatch,
    meta: std::io::Result<std::fs::Metadata>,
    now: i64,
    mut memo: Memo,
) -> (CheckStatus, String, Memo) {
    let meta = match meta {
        Ok(m) if m.is_dir() => return (CheckStatus::Fail, "is a folder, not a file".into(), memo),
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (CheckStatus::Fail, "missing: no file at this path".into(), memo);
        }
        Err(e) => return (CheckStatus::Fail, format!("cannot read it: {e}"), memo),
    };
    let size = meta.len();
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as i64);
    let age = now.saturating_sub(mtime).max(0) as u64;
    let window = cfg.window_hours as i64 * 3600;
    memo.samples.push((now, size));
    memo.samples = keep(std::mem::take(&mut memo.samples), now - window);

    let mut parts = vec![format!("{}, modified {} ago", human_bytes(size), human_secs(age))];
    let mut status = CheckStatus::Ok;
    if cfg.max_age_minutes > 0 && age > cfg.max_age_minutes * 60 {
        status = CheckStatus::Fail;
        parts = vec![format!(
            "not modified for {} (max_age_minutes {}), {}",
            human_secs(age),
            cfg.max_age_minutes,
            human_bytes(size)
        )];
    }
    if cfg.min_growth_bytes > 0 {
        match growth(&memo.samples, now - window) {
            None => parts.push(format!("growth: not enough history yet (window {} h)", cfg.window_hours)),
            Some(g) if g < cfg.min_growth_bytes => {
                status = CheckStatus::Fail;
                parts.push(format!(
                    "grew {} in {} h (min_growth_bytes {})",
                    human_bytes(g),
                    cfg.window_hours,
                    cfg.min_growth_bytes
                ));
            }
            Some(g) => parts.push(format!("grew {} in {} h", human_bytes(g), cfg.window_hours)),
        }
    }
    (status, parts.join("; "), memo)
}

/// The samples from `since` on, plus the newest one before it (the window's start).
pub fn keep(mut samples: Vec<(i64, u64)>, since: i64) -> Vec<(i64, u64)> {
    samples.sort_by_key(|s| s.0);
    let first_inside = samples.iter().position(|s| s.0 >= since).unwrap_or(samples.len());
    samples.drain(..first_inside.saturating_sub(1));
    samples
}

/// The growth since `since`: the sum of the increases between samples
/// (a shrink counts as 0, and growth counts on from the smaller size), or
/// `None` while no sample is as old as the window.
pub fn growth(samples: &[(i64, u64)], since: i64) -> Option<u64> {
    if samples.first().is_none_or(|s| s.0 > since) {
        return None;
    }
    Some(samples.windows(2).map(|w| w[1].1.saturating_sub(w[0].1)).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    #[test]
    fn samples_are_bounded_to_the_window_and_one_older() {
        let s = vec![(0, 1), (H, 2), (2 * H, 3), (3 * H, 4)];
        assert_eq!(keep(s.clone(), 2 * H), vec![(H, 2), (2 * H, 3), (3 * H, 4)]);
        assert_eq!(keep(s.clone(), 2 * H + 1), vec![(2 * H, 3), (3 * H, 4)]);
        assert_eq!(keep(s, 10 * H), vec![(3 * H, 4)]);
    }

    #[test]
    fn growth_needs_a_full_window_and_survives_rotation() {
        assert_eq!(growth(&[(5, 100)], 0), None);
        assert_eq!(growth(&[(0, 100), (H, 300)], 0), Some(200));
        // Rotated at 2 h: 1000 → 50, then grew to 80: 900 + 30.
        assert_eq!(growth(&[(0, 100), (H, 1000), (2 * H, 50), (3 * H, 80)], 0), Some(930));
        // Truncated and nothing since: no growth.
        assert_eq!(growth(&[(0, 100), (H, 0)], 0), Some(0));
    }

    fn cfg() -> FileWatch {
        FileWatch {
            name: "log".into(),
            path: "/x".into(),
            min_growth_bytes: 10,
            window_hours: 1,
            ..FileWatch::default()
        }
    }

    fn meta_of(bytes: usize) -> (FileWatch, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("ops-atomic-file-{}-{bytes}", std::process::id()));
        std::fs::write(&path, vec![b'x'; bytes]).unwrap();
        (cfg(), path)
    }

    #[test]
    fn judged_on_real_metadata() {
        let (c, path) = meta_of(20);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let (st, msg, memo) = check(&c, std::fs::metadata(&path), now, Memo::default());
        assert_eq!(st, CheckStatus::Ok);
        assert!(msg.contains("not enough history yet"), "{msg}");
        assert_eq!(memo.samples, vec![(now, 20)]);
        let old = Memo { samples: vec![(now - 2 * H, 5), (now - H - 10, 15)] };
        let (st, msg, memo) = check(&c, std::fs::metadata(&path), now, old);
        assert_eq!(st, CheckStatus::Fail, "{msg}");
        assert!(msg.contains("grew 5 B in 1 h (min_growth_bytes 10)"), "{msg}");
        assert_eq!(memo.samples, vec![(now - H - 10, 15), (now, 20)]);
        let mut aged = cfg();
        aged.max_age_minutes = 1;
        let (st, msg, _) = check(&aged, std::fs::metadata(&path), now + 120, Memo::default());
        assert_eq!(st, CheckStatus::Fail);
        assert!(msg.starts_with("not modified for 2 min (max_age_minutes 1)"), "{msg}");
        std::fs::remove_file(&path).unwrap();
        let (st, msg, _) = check(&c, std::fs::metadata(&path), now, Memo::default());
        assert_eq!((st, msg.as_str()), (CheckStatus::Fail, "missing: no file at this path"));
    }

    #[test]
    fn validation_names_each_key() {
        let bad = FileWatch { path: "~/log".into(), window_hours: 0, ..FileWatch::default() };
        let errs = bad.validate("file[0]").join("\n");
        for key in ["file[0].name", "file[0].path", "file[0].window_hours"] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
    }
}
