//! Disks: free space on the volume holding a path, from `statvfs(3)`: the
//! space an unprivileged process may still use, as `df` counts it.

use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity, human_bytes};
use crate::validate;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

crate::check_section! {
    /// `[[disk]]`: free space on the volume holding a path.
    pub struct Disk {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// Any absolute path on the volume.
        pub path: String = "/".into(),
        /// Less free than this percentage = warn.
        pub warn_free_percent: f64 = 15.0,
        /// Less free than this percentage = fail.
        pub min_free_percent: f64 = 5.0,
        /// Less free than this many GiB = fail; 0 = not checked.
        pub min_free_gb: f64 = 0.0,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Disk {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "disk"
    }
    fn section(&self) -> &'static str {
        "Disks"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, self.path.clone())]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "disk check");
        validate::abs_path(&mut errs, &format!("{at}.path"), &self.path);
        validate::percent(&mut errs, &format!("{at}.warn_free_percent"), self.warn_free_percent);
        validate::percent(&mut errs, &format!("{at}.min_free_percent"), self.min_free_percent);
        if self.min_free_percent > self.warn_free_percent {
            errs.push(format!(
                "{at}.min_free_percent = {}: must not be more than warn_free_percent ({})",
                self.min_free_percent, self.warn_free_percent
            ));
        }
        if !(self.min_free_gb >= 0.0 && self.min_free_gb.is_finite()) {
            errs.push(format!("{at}.min_free_gb = {}: must be 0 (not checked) or more", self.min_free_gb));
        }
        errs
    }
    fn timeout(&self) -> Duration {
        // statvfs on a hung network volume can block: bounded by the runner.
        Duration::from_secs(5)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let (status, message) = match space(&self.path) {
            Ok((free, total)) => judge(self, free, total),
            Err(e) => (CheckStatus::Fail, format!("cannot read the free space: {e}")),
        };
        let mut r = CheckResult::new(&self.idents()[0], status, message);
        r.latency_ms = start.elapsed().as_millis() as u64;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// `(free, total)` bytes of the volume holding `path`, as `df` counts them:
/// free is what an unprivileged process may use, total is used + free.
pub fn space(path: &str) -> Result<(u64, u64), String> {
    let c = std::ffi::CString::new(path).map_err(|_| "the path holds a NUL byte".to_string())?;
    // SAFETY: an all-zero statvfs is a valid value to be overwritten.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a NUL-terminated path, st a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let frsize = st.f_frsize as u64;
    let free = st.f_bavail as u64 * frsize;
    let used = (st.f_blocks as u64).saturating_sub(st.f_bfree as u64) * frsize;
    Ok((free, used + free))
}

/// The verdict: `12.3 GiB free (8%)`, and the threshold it is below.
pub fn judge(cfg: &Disk, free: u64, total: u64) -> (CheckStatus, String) {
    let pct = if total == 0 { 100.0 } else { free as f64 * 100.0 / total as f64 };
    let shown = if pct > 0.0 && pct < 1.0 { format!("{pct:.1}") } else { format!("{:.0}", pct.floor()) };
    let what = format!("{} free ({shown}%)", human_bytes(free));
    if cfg.min_free_gb > 0.0 && (free as f64) < cfg.min_free_gb * GIB {
        (CheckStatus::Fail, format!("{what}, below min_free_gb {}", cfg.min_free_gb))
    } else if pct < cfg.min_free_percent {
        (CheckStatus::Fail, format!("{what}, below min_free_percent {}", cfg.min_free_percent))
    } else if pct < cfg.warn_free_percent {
        (CheckStatus::Warn, format!("{what}, below warn_free_percent {}", cfg.warn_free_percent))
    } else {
        (CheckStatus::Ok, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> Disk {
        Disk { name: "sys".into(), ..Disk::default() }
    }

    #[test]
    fn thresholds_warn_then_fail() {
        let g = 1024 * 1024 * 1024;
        let d = disk();
        assert_eq!(judge(&d, 50 * g, 100 * g), (CheckStatus::Ok, "50.0 GiB free (50%)".into()));
        let (st, msg) = judge(&d, 8 * g + g / 3, 100 * g);
        assert_eq!(st, CheckStatus::Warn);
        assert_eq!(msg, "8.3 GiB free (8%), below warn_free_percent 15");
        assert_eq!(judge(&d, 4 * g, 100 * g).0, CheckStatus::Fail);
        let gb = Disk { min_free_gb: 60.0, ..disk() };
        assert!(judge(&gb, 50 * g, 100 * g).1.ends_with("below min_free_gb 60"));
        assert_eq!(judge(&d, g / 2, 100 * g).1, "512.0 MiB free (0.5%), below min_free_percent 5");
    }

    #[test]
    fn the_root_volume_has_a_size() {
        let (free, total) = space("/").unwrap();
        assert!(total > 0 && free <= total);
        assert!(space("/no/such/path").is_err());
    }

    #[test]
    fn validation_names_each_key() {
        let bad = Disk {
            path: "rel".into(),
            warn_free_percent: 101.0,
            min_free_percent: -1.0,
            min_free_gb: -1.0,
            ..Disk::default()
        };
        let errs = bad.validate("disk[0]").join("\n");
        for key in [
            "disk[0].name",
            "disk[0].path",
            "disk[0].warn_free_percent",
            "disk[0].min_free_percent",
            "disk[0].min_free_gb",
        ] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
        let inverted = Disk { warn_free_percent: 5.0, min_free_percent: 10.0, ..disk() };
        assert!(inverted.validate("disk[0]").join("").contains("must not be more than warn_free_percent"));
        assert!(disk().validate("disk[0]").is_empty());
    }
}
