//! How long this machine has slept since it booted, and when it booted
//! (SPEC §15): the difference between a clock that counts sleep and one
//! that does not. The heartbeat stores both in the state; their growth
//! between two runs is time asleep (see `incidents::laptop`).
//!
//! `OPS_ATOMIC_SLEPT_S` (seconds) stands in for the measured sleep: a test
//! hook, since a test cannot put the machine to sleep.

use chrono::{DateTime, Utc};

/// The machine's clocks at one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clocks {
    /// Time asleep since boot, in seconds.
    pub slept_since_boot_s: f64,
    pub boot_time: Option<DateTime<Utc>>,
}

/// The environment variable that stands in for the measured sleep.
pub const SLEPT_ENV: &str = "OPS_ATOMIC_SLEPT_S";

/// The clocks now; `None` when this system cannot tell.
pub fn measure() -> Option<Clocks> {
    let stand_in = std::env::var(SLEPT_ENV).ok().and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| *s >= 0.0);
    let slept = stand_in.or_else(slept_since_boot)?;
    Some(Clocks { slept_since_boot_s: slept, boot_time: boot_time() })
}

#[cfg(target_os = "linux")]
fn clock(id: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

/// CLOCK_BOOTTIME counts time asleep, CLOCK_MONOTONIC does not.
#[cfg(target_os = "linux")]
fn slept_since_boot() -> Option<f64> {
    let (boot, mono) = (clock(libc::CLOCK_BOOTTIME)?, clock(libc::CLOCK_MONOTONIC)?);
    Some((boot - mono).max(0.0))
}

/// The kernel's boot time (`btime` in /proc/stat), else now − CLOCK_BOOTTIME.
#[cfg(target_os = "linux")]
fn boot_time() -> Option<DateTime<Utc>> {
    let from_stat = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<i64>().ok()));
    match from_stat {
        Some(secs) => DateTime::from_timestamp(secs, 0),
        None => {
            let up = clock(libc::CLOCK_BOOTTIME)?;
            Some(Utc::now() - chrono::Duration::milliseconds((up * 1000.0) as i64))
        }
    }
}

#[cfg(target_os = "macos")]
mod mach {
    #[repr(C)]
    #[derive(Default)]
    pub struct Timebase {
        pub numer: u32,
        pub denom: u32,
    }
    unsafe extern "C" {
        pub fn mach_absolute_time() -> u64;
        pub fn mach_continuous_time() -> u64;
        pub fn mach_timebase_info(info: *mut Timebase) -> i32;
    }
}

/// `mach_continuous_time` counts time asleep, `mach_absolute_time` does not;
/// both in ticks of `mach_timebase_info`.
#[cfg(target_os = "macos")]
fn slept_since_boot() -> Option<f64> {
    let mut tb = mach::Timebase::default();
    // SAFETY: plain calls into the kernel's clock; `tb` is a valid out-pointer.
    let (cont, abs, rc) =
        unsafe { (mach::mach_continuous_time(), mach::mach_absolute_time(), mach::mach_timebase_info(&mut tb)) };
    if rc != 0 || tb.denom == 0 {
        return None;
    }
    let ticks = cont.saturating_sub(abs) as f64;
    Some(ticks * f64::from(tb.numer) / f64::from(tb.denom) / 1e9)
}

/// `sysctl kern.boottime`.
#[cfg(target_os = "macos")]
fn boot_time() -> Option<DateTime<Utc>> {
    let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>();
    let name = c"kern.boottime";
    // SAFETY: sysctlbyname writes at most `len` bytes into `tv`.
    let rc = unsafe {
        libc::sysctlbyname(name.as_ptr(), (&mut tv as *mut libc::timeval).cast(), &mut len, std::ptr::null_mut(), 0)
    };
    (rc == 0).then(|| DateTime::from_timestamp(tv.tv_sec, 0)).flatten()
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn slept_since_boot() -> Option<f64> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn boot_time() -> Option<DateTime<Utc>> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn this_machine_has_clocks() {
        let slept = super::slept_since_boot().unwrap();
        assert!(slept >= 0.0);
        let boot = super::boot_time().unwrap();
        assert!(boot < chrono::Utc::now());
    }
}
