//! The parts of the decision that know a laptop's life (SPEC §15):
//! dependencies (`caused_by`), maintenance windows (silences that recur)
//! and sleep (`awake`, `boot`). Pure, like the rest of [`super::decide`]:
//! the heartbeat measures the clocks and the local time, and passes them in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Event;
use crate::checks::{CheckResult, CheckStatus};
use crate::state::State;
use crate::windows::Maintenance;

/// What the decision needs to know besides the results.
#[derive(Debug, Clone, Default)]
pub struct Laptop {
    /// Each check's `depends_on`, by id.
    pub depends_on: BTreeMap<String, Vec<String>>,
    /// The `[[maintenance]]` windows in force at this run.
    pub windows: Vec<Maintenance>,
    /// The clocks as this run measured them (`None`: not measured).
    pub clocks: Option<Clocks>,
    /// The heartbeat interval: a longer sleep is worth an `awake` event.
    pub interval_s: u64,
    /// Names of the checks that failed right after a wake and were run
    /// again (by the heartbeat, before this decision): said in `awake`.
    pub retried: Vec<String>,
}

pub use crate::sleep::Clocks;

/// What happened to the machine since the last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// Seconds asleep since the last run.
    pub slept_s: i64,
    /// It booted since the last run.
    pub rebooted: bool,
}

/// Boot times this close are the same boot (the kernel's boot time is
/// whole seconds, and "now − uptime" moves by a little).
const SAME_BOOT_S: i64 = 30;

/// The sleep and the restart between the last run (`prev_*`, from the
/// state) and this one; `None` on the first run. Pure.
pub fn wake(prev_sleep: Option<f64>, prev_boot: Option<DateTime<Utc>>, now: &Clocks) -> Option<Wake> {
    let prev = prev_sleep?;
    let rebooted = match (prev_boot, now.boot_time) {
        (Some(a), Some(b)) => (a - b).num_seconds().abs() > SAME_BOOT_S,
        _ => false,
    } || now.slept_since_boot_s + 1.0 < prev;
    // After a restart the counter began again at zero.
    let grown = if rebooted { now.slept_since_boot_s } else { now.slept_since_boot_s - prev };
    Some(Wake { slept_s: grown.max(0.0).round() as i64, rebooted })
}

impl Laptop {
    /// Whether a maintenance window in force covers the check `id`.
    pub fn in_maintenance(&self, id: &str) -> bool {
        self.windows.iter().any(|w| w.covers(id))
    }

    /// Whether a silence in force or a window of this run quiets the check `id`.
    pub fn quiets(&self, st: &State, id: &str, now: DateTime<Utc>) -> bool {
        st.silenced(id, now) || self.in_maintenance(id)
    }
}

/// Records the clocks in the state; writes `boot` after a restart and
/// `awake` after a sleep longer than the interval. Returns the seconds
/// asleep since the last run (for the history line).
pub(super) fn record_sleep(
    st: &mut State,
    laptop: &Laptop,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Option<i64> {
    let clocks = laptop.clocks?;
    let woke = wake(st.slept_since_boot_s, st.boot_time, &clocks);
    st.slept_since_boot_s = Some(clocks.slept_since_boot_s);
    st.boot_time = clocks.boot_time.or(st.boot_time);
    let w = woke?;
    if w.rebooted {
        let mut e = Event::new(now, "", "", "boot", "the machine restarted since the last heartbeat");
        e.message = match clocks.boot_time {
            Some(b) => format!("the machine restarted at {}", crate::log::timestamp(b)),
            None => e.message,
        };
        events.push(e);
    }
    if w.slept_s > laptop.interval_s as i64 {
        let mut e = Event::new(
            now,
            "",
            "",
            "awake",
            format!("the machine slept {}", super::human_duration(chrono::Duration::seconds(w.slept_s))),
        );
        if !laptop.retried.is_empty() {
            e.message.push_str(&format!(
                "; failing right after the wake, run again after 5 s: {}",
                laptop.retried.join(", ")
            ));
        }
        e.slept_s = Some(w.slept_s);
        events.push(e);
    }
    (w.slept_s > 0).then_some(w.slept_s)
}

/// `silenced` / `unsilenced` events as windows begin and end; the state
/// remembers which are in force.
pub(super) fn maintenance(st: &mut State, laptop: &Laptop, now: DateTime<Utc>, events: &mut Vec<Event>) {
    let active: Vec<String> = laptop.windows.iter().map(|w| w.name.clone()).collect();
    let name_of = |st: &State, id: &str| st.checks.get(id).map(|c| c.name.clone()).unwrap_or_else(|| id.to_string());
    for w in laptop.windows.iter().filter(|w| !st.maintenance_active.contains(&w.name)) {
        let text = format!("maintenance window {:?} ({}–{})", w.name, w.from, w.to);
        let ids: Vec<&str> = if w.checks.is_empty() { vec![""] } else { w.checks.iter().map(String::as_str).collect() };
        for id in ids {
            let mut e = Event::new(now, id, &name_of(st, id), "silenced", text.clone());
            e.reason = Some(w.name.clone());
            events.push(e);
        }
    }
    for gone in st.maintenance_active.iter().filter(|n| !active.contains(n)) {
        let mut e = Event::new(now, "", "", "unsilenced", format!("maintenance window {gone:?} ended"));
        e.reason = Some(gone.clone());
        events.push(e);
    }
    st.maintenance_active = active;
}

/// Marks each check failing or DOWN whose dependency is DOWN or failing in
/// this run with `caused_by` (and its `down` event of this run); clears it
/// otherwise. Returns each check's mark from before this run.
pub(super) fn causes(
    st: &mut State,
    results: &[CheckResult],
    laptop: &Laptop,
    events: &mut [Event],
) -> BTreeMap<String, Option<String>> {
    let failing = |st: &State, id: &str| {
        results.iter().any(|r| r.id == id && r.status == CheckStatus::Fail) || st.checks.get(id).is_some_and(|c| c.down)
    };
    let mut before = BTreeMap::new();
    let mut marks = Vec::new();
    for r in results.iter().filter(|r| r.status != CheckStatus::Skipped) {
        let deps = laptop.depends_on.get(&r.id).map(Vec::as_slice).unwrap_or_default();
        let cause = if failing(st, &r.id) { deps.iter().find(|d| failing(st, d)).cloned() } else { None };
        marks.push((r.id.clone(), cause));
    }
    for (id, cause) in marks {
        if let Some(cs) = st.checks.get_mut(&id) {
            before.insert(id.clone(), cs.caused_by.clone());
            cs.caused_by = cause.clone();
        }
        if cause.is_some() {
            for e in events.iter_mut().filter(|e| e.check == id && matches!(e.kind.as_str(), "down" | "status")) {
                e.caused_by = cause.clone();
            }
        }
    }
    before
}

/// The check at the root of `id`'s `caused_by` chain.
pub(super) fn root_cause(st: &State, id: &str) -> String {
    let mut at = id.to_string();
    for _ in 0..st.checks.len() {
        match st.checks.get(&at).and_then(|c| c.caused_by.clone()) {
            Some(next) => at = next,
            None => break,
        }
    }
    at
}

#[cfg(test)]
#[path = "laptop_tests.rs"]
mod tests;
