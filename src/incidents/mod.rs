//! Per-check incidents (SPEC §7.1, §7.2): the pure decision over one run.
//!
//! [`decide`] applies one heartbeat's results to each check's incident
//! state (counters, DOWN/UP, flapping), the global counters of §5 and the
//! silences, and says which transitions happened (the events of §10) and
//! which single message, if any, the run calls for. It does no I/O, so the
//! rules are unit-tested over sequences of results; the event log, the
//! queue and the report only carry out a [`Decision`].

pub mod laptop;
pub mod message;
mod repairs;

pub use repairs::{RepairOrder, RepairRule, RepairSettings, summary as repair_summary};

use chrono::{DateTime, Duration, Utc};

use crate::checks::{CheckResult, CheckStatus};
use crate::exit::Status;
use crate::state::{CheckState, NotificationKind, State};

/// The rules of one check, resolved against `[monitor]`'s defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    /// Incidents are sent (false: recorded and shown only).
    pub notify: bool,
    /// When it is repaired (SPEC §12); `None` = never.
    pub repair: Option<RepairRule>,
}

/// The run-wide settings of `[monitor]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// 0 = one alert per incident; N = a reminder every N minutes.
    pub realert_minutes: u32,
    pub flap_window: u32,
    /// 0 = flap detection off.
    pub flap_changes: u32,
    /// `--no-repair`, and when this run's checks began (SPEC §12).
    pub repairs: RepairSettings,
}

pub use crate::events::Event;

/// A check a message is about, as the decision saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub id: String,
    pub name: String,
    /// The incident's start (DOWN checks) or the flap's detection.
    pub since: Option<DateTime<Utc>>,
    /// How long the incident lasted (recoveries) or has lasted (reminders).
    pub lasted: Option<Duration>,
    /// Changes between failing and not in the flap window, and its length.
    pub changes: usize,
    pub window: usize,
}

/// The one message a run calls for.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kind: NotificationKind,
    /// The checks it is about.
    pub subjects: Vec<Subject>,
    /// Checks that came back up in the same run as an alert: said in its body.
    pub also_up: Vec<Subject>,
    /// Ids of other checks still DOWN.
    pub still_down: Vec<String>,
    /// Checks failing because of the subjects (`depends_on`, SPEC §15):
    /// they send nothing of their own, this message names them.
    pub because: Vec<Subject>,
}

/// What one run decided.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decision {
    pub events: Vec<Event>,
    pub plan: Option<Plan>,
    /// Repairs to run now, already recorded in the state (SPEC §12).
    pub repairs: Vec<RepairOrder>,
    /// Seconds the machine slept since the last run, when it did (SPEC §15).
    pub slept_s: Option<i64>,
}

/// Applies one heartbeat to the state. `rules` gives each check's rules by
/// id; `status` is the run's overall status.
pub fn decide(
    st: &mut State,
    results: &[CheckResult],
    status: Status,
    rules: &dyn Fn(&str) -> Rules,
    settings: Settings,
    now: DateTime<Utc>,
) -> Decision {
    decide_with(st, results, status, rules, settings, &laptop::Laptop::default(), now)
}

/// [`decide`], knowing the dependencies, the maintenance windows in force
/// and the clocks ([`laptop::Laptop`], SPEC §15).
pub fn decide_with(
    st: &mut State,
    results: &[CheckResult],
    status: Status,
    rules: &dyn Fn(&str) -> Rules,
    settings: Settings,
    laptop: &laptop::Laptop,
    now: DateTime<Utc>,
) -> Decision {
    let mut d = Decision::default();
    global(st, status, now);
    d.slept_s = laptop::record_sleep(st, laptop, now, &mut d.events);
    expire_silences(st, now, &mut d.events);
    laptop::maintenance(st, laptop, now, &mut d.events);

    let mut went_down = Vec::new();
    let mut came_up = Vec::new();
    let mut started_flapping = Vec::new();
    let mut became_stable = Vec::new();
    for r in results.iter().filter(|r| r.status != CheckStatus::Skipped) {
        let cs = st.checks.entry(r.id.clone()).or_default();
        cs.name = r.name.clone();
        cs.kind = r.kind.to_string();
        let rule = rules(&r.id);
        let t = transitions(cs, r, rule, settings, now, &mut d.events);
        if t.down {
            went_down.push(r.id.clone());
        }
        if let Some(lasted) = t.up {
            came_up.push((r.id.clone(), lasted));
        }
        if t.flapping {
            started_flapping.push(r.id.clone());
        }
        if t.stable {
            became_stable.push(r.id.clone());
        }
    }
    let _ = went_down;
    repairs::decide_repairs(st, results, rules, settings, now, &|id| laptop.in_maintenance(id), &mut d);
    // Marked before this run: named in a dependency's message.
    let caused_before = laptop::causes(st, results, laptop, &mut d.events);
    let was_caused = |id: &str| caused_before.get(id).is_some_and(Option::is_some);

    let notifies = |st: &State, id: &str| rules(id).notify && !laptop.quiets(st, id, now);
    let subject = |st: &State, id: &str, lasted: Option<Duration>| {
        let cs = &st.checks[id];
        Subject {
            id: id.to_string(),
            name: cs.name.clone(),
            since: cs.down_since,
            lasted: lasted.or_else(|| cs.down_since.map(|s| now - s)),
            changes: flips(&cs.recent),
            window: cs.recent.len(),
        }
    };

    // An alert for every notifying DOWN check not yet announced: those that
    // just went DOWN, and those whose silence ended while still DOWN.
    let to_alert: Vec<String> = st
        .checks
        .iter()
        .filter(|(id, cs)| cs.down && !cs.announced && cs.caused_by.is_none() && results.iter().any(|r| &r.id == *id))
        .map(|(id, _)| id.clone())
        .filter(|id| notifies(st, id))
        .collect();
    // Recoveries of announced incidents (an incident that opened and closed
    // inside a silence was never announced, and is never told).
    // Recoveries are never held: one named only in its dependency's message is told too.
    let recovered: Vec<(String, Duration)> = came_up
        .iter()
        .filter(|(id, _)| notifies(st, id) && (announced_before(st, id) || was_caused(id)))
        .cloned()
        .collect();
    for (id, _) in &came_up {
        if let Some(cs) = st.checks.get_mut(id) {
            cs.announced = false;
            cs.alerted_at = None;
        }
    }

    let plan = if !to_alert.is_empty() {
        for id in &to_alert {
            let cs = st.checks.get_mut(id).expect("listed above");
            cs.announced = true;
            cs.alerted_at = Some(now);
        }
        Some(Plan {
            kind: NotificationKind::Alert,
            subjects: to_alert.iter().map(|id| subject(st, id, None)).collect(),
            also_up: recovered.iter().map(|(id, l)| subject(st, id, Some(*l))).collect(),
            still_down: Vec::new(),
            because: Vec::new(),
        })
    } else if !recovered.is_empty() {
        Some(Plan {
            kind: NotificationKind::Recovery,
            subjects: recovered.iter().map(|(id, l)| subject(st, id, Some(*l))).collect(),
            also_up: Vec::new(),
            still_down: Vec::new(),
            because: Vec::new(),
        })
    } else if let Some(flappers) =
        Some(started_flapping.iter().filter(|id| notifies(st, id)).cloned().collect::<Vec<_>>())
            .filter(|f| !f.is_empty())
    {
        for id in &flappers {
            st.checks.get_mut(id).expect("listed above").flap_announced = true;
        }
        Some(Plan {
            kind: NotificationKind::Flapping,
            subjects: flappers.iter().map(|id| subject(st, id, None)).collect(),
            also_up: Vec::new(),
            still_down: Vec::new(),
            because: Vec::new(),
        })
    } else if !became_stable.is_empty() {
        Some(Plan {
            kind: NotificationKind::Stable,
            subjects: became_stable.iter().map(|id| subject(st, id, None)).collect(),
            also_up: Vec::new(),
            still_down: Vec::new(),
            because: Vec::new(),
        })
    } else if settings.realert_minutes > 0 {
        let every = Duration::minutes(i64::from(settings.realert_minutes));
        let due: Vec<String> = st
            .checks
            .iter()
            .filter(|(_, cs)| {
                cs.down && cs.announced && cs.caused_by.is_none() && cs.alerted_at.is_none_or(|t| now - t >= every)
            })
            .map(|(id, _)| id.clone())
            .filter(|id| notifies(st, id))
            .collect();
        (!due.is_empty()).then(|| {
            for id in &due {
                st.checks.get_mut(id).expect("listed above").alerted_at = Some(now);
            }
            Plan {
                kind: NotificationKind::Reminder,
                subjects: due.iter().map(|id| subject(st, id, None)).collect(),
                also_up: Vec::new(),
                still_down: Vec::new(),
                because: Vec::new(),
            }
        })
    } else {
        None
    };
    // Stable is owed once, whether or not it was the message of this run.
    for id in &became_stable {
        if let Some(cs) = st.checks.get_mut(id) {
            cs.flap_announced = false;
        }
    }

    d.plan = plan.map(|mut p| {
        if matches!(p.kind, NotificationKind::Alert | NotificationKind::Reminder) {
            let ids = because(st, &p, &|id| notifies(st, id));
            p.because = ids.iter().map(|id| subject(st, id, None)).collect();
        }
        let mut named: Vec<&str> = p.subjects.iter().map(|s| s.id.as_str()).collect();
        named.extend(p.because.iter().map(|s| s.id.as_str()));
        p.still_down = st
            .checks
            .iter()
            .filter(|(id, cs)| cs.down && !named.contains(&id.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        p
    });
    if d.plan.as_ref().is_some_and(|p| matches!(p.kind, NotificationKind::Alert | NotificationKind::Reminder)) {
        st.last_alert_at = Some(now);
    }
    if d.plan.as_ref().is_some_and(|p| p.kind == NotificationKind::Recovery) {
        st.last_recovery_at = Some(now);
    }
    st.alert_active = st.checks.values().any(|cs| cs.down && cs.announced);
    d
}

/// The checks failing because of the plan's subjects (at the root of their
/// `caused_by` chain), that would notify on their own.
fn because(st: &State, plan: &Plan, notifies: &dyn Fn(&str) -> bool) -> Vec<String> {
    let subjects: Vec<&str> = plan.subjects.iter().map(|s| s.id.as_str()).collect();
    st.checks
        .iter()
        .filter(|(id, cs)| cs.caused_by.is_some() && !subjects.contains(&id.as_str()))
        .filter(|(id, _)| subjects.contains(&laptop::root_cause(st, id).as_str()) && notifies(id))
        .map(|(id, _)| id.clone())
        .collect()
}

/// Whether the incident of `id` had been announced (read before the reset).
fn announced_before(st: &State, id: &str) -> bool {
    st.checks.get(id).is_some_and(|cs| cs.announced)
}

/// The global counters of §5, over the whole heartbeat.
fn global(st: &mut State, status: Status, now: DateTime<Utc>) {
    st.runs = st.runs.saturating_add(1);
    st.last_run_at = Some(now);
    st.last_status = Some(status.as_str().to_string());
    if status == Status::Critical {
        st.consecutive_failures = st.consecutive_failures.saturating_add(1);
        st.consecutive_successes = 0;
        st.first_failure_at.get_or_insert(now);
    } else {
        st.consecutive_failures = 0;
        st.consecutive_successes = st.consecutive_successes.saturating_add(1);
        st.first_failure_at = None;
    }
}

/// Drops expired silences, each an `unsilenced` event.
fn expire_silences(st: &mut State, now: DateTime<Utc>, events: &mut Vec<Event>) {
    let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut st.silences).into_iter().partition(|s| s.until <= now);
    st.silences = kept;
    for s in gone {
        let check = s.check.clone().unwrap_or_default();
        let name = check.clone();
        let mut e = Event::new(now, &check, &name, "unsilenced", "silence ended");
        e.reason = (!s.reason.is_empty()).then(|| s.reason.clone());
        events.push(e);
    }
}

/// What happened to one check in this run.
#[derive(Default)]
struct Transitions {
    down: bool,
    up: Option<Duration>,
    flapping: bool,
    stable: bool,
}

fn transitions(
    cs: &mut CheckState,
    r: &CheckResult,
    rule: Rules,
    settings: Settings,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Transitions {
    let mut t = Transitions::default();
    if cs.status != Some(r.status) {
        let mut e = Event::new(now, &r.id, &r.name, "status", r.message.clone());
        e.from = cs.status.map(|s| s.as_str().to_string());
        e.to = Some(r.status.as_str().to_string());
        events.push(e);
        cs.status = Some(r.status);
        cs.since = Some(now);
    }
    let failing = r.status == CheckStatus::Fail;
    if failing {
        cs.consecutive_failures = cs.consecutive_failures.saturating_add(1);
        cs.consecutive_successes = 0;
        if cs.failing_since.is_none() {
            cs.failing_since = Some(now);
            cs.failure_message = Some(r.message.clone());
        }
    } else {
        cs.consecutive_successes = cs.consecutive_successes.saturating_add(1);
        cs.consecutive_failures = 0;
        if !cs.down {
            cs.failing_since = None;
            cs.failure_message = None;
        }
    }
    cs.recent.push(failing);
    let window = settings.flap_window.max(2) as usize;
    let excess = cs.recent.len().saturating_sub(window);
    cs.recent.drain(..excess);

    if !cs.down && cs.consecutive_failures >= rule.failure_threshold {
        cs.down = true;
        cs.down_since = cs.failing_since.or(Some(now));
        let n = cs.consecutive_failures;
        events.push(Event::new(
            now,
            &r.id,
            &r.name,
            "down",
            format!("{} ({n} failure{})", r.message, if n == 1 { "" } else { "s" }),
        ));
        t.down = true;
    } else if cs.down && cs.consecutive_successes >= rule.success_threshold {
        let lasted = cs.down_since.map_or(Duration::zero(), |s| now - s);
        cs.down = false;
        cs.down_since = None;
        cs.failing_since = None;
        cs.failure_message = None;
        let mut e = Event::new(now, &r.id, &r.name, "up", r.message.clone());
        e.lasted_s = Some(lasted.num_seconds());
        events.push(e);
        t.up = Some(lasted);
    }

    let changes = flips(&cs.recent);
    if !cs.flapping && !cs.down && settings.flap_changes > 0 && changes >= settings.flap_changes as usize {
        cs.flapping = true;
        events.push(Event::new(
            now,
            &r.id,
            &r.name,
            "flapping",
            format!("{changes} changes in {} runs", cs.recent.len()),
        ));
        t.flapping = true;
    } else if cs.flapping && changes <= 2 {
        cs.flapping = false;
        events.push(Event::new(
            now,
            &r.id,
            &r.name,
            "stable",
            format!("{changes} changes in {} runs", cs.recent.len()),
        ));
        t.stable = cs.flap_announced;
    }
    t
}

/// Changes between failing and not failing in a window of results.
pub fn flips(recent: &[bool]) -> usize {
    recent.windows(2).filter(|w| w[0] != w[1]).count()
}

pub use crate::duration::human as human_duration;

#[cfg(test)]
mod tests;
