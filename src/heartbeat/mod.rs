//! `ops-atomic heartbeat`: checks → state → notifications → report (SPEC §4).

mod report;

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;

use crate::channels::queue;
use crate::checks::{self, CheckResult, CheckStatus, Env, Severity};
use crate::cli::RunArgs;
use crate::config::{Config, Loaded};
use crate::exit::{Result, Status};
use crate::fail;
use crate::history;
use crate::incidents;
use crate::log;
use crate::paths::Paths;
use crate::state::{self, NotificationKind, State};

/// The status page rewrite may take 1/N of `[monitor] deadline_ms`.
pub const PAGE_SHARE_OF_DEADLINE: u64 = 4;

/// Test hook: the page rewrite's share in ms instead (0 = skip it at once).
pub const PAGE_SHARE_ENV: &str = "OPS_ATOMIC_PAGE_SHARE_MS";

pub fn run(paths: &Paths, loaded: &Loaded, args: RunArgs) -> Result<u8> {
    let started = Instant::now();
    let mut pinged = false;
    let result = run_pinging(paths, loaded, args, started, &mut pinged);
    // A run that stopped early (the state lock held, an unwritable folder)
    // still tells the dead man's switch that it failed (SPEC §7.4).
    if let (false, Err(e)) = (pinged, &result) {
        let outcome = crate::pings::Outcome {
            status: Status::Critical,
            failed: true,
            summary: crate::secret::scrub(&e.0),
            duration: started.elapsed(),
        };
        crate::pings::send_all(&loaded.config.ping, crate::pings::On::Heartbeat, &outcome);
    }
    result
}

fn run_pinging(paths: &Paths, loaded: &Loaded, args: RunArgs, started: Instant, pinged: &mut bool) -> Result<u8> {
    let cfg = &loaded.config;
    log::info("=== OPS-Atomic Monitor Starting ===");
    if let Some(path) = loaded.named_file() {
        log::info(&format!("Config: {}", path.display()));
    }

    // What checks kept from earlier runs; read without the lock, since the
    // checks run before it is taken (the lock is held only for step 5).
    let before = state::peek(paths);
    let memos = before.as_ref().map(|st| st.memos()).unwrap_or_default();
    let env = Env {
        launchctl: crate::launchd::launchctl::program(),
        root: paths.root.clone(),
        memos: std::sync::Arc::new(memos),
        me: crate::selfwatch::Facts::of(paths, loaded),
    };
    let jobs = checks::jobs(cfg.checks().into_iter().map(|(_, c)| c), &env);
    let checks_started_at = Utc::now();
    let mut results = checks::run_all(jobs, Duration::from_millis(cfg.monitor.deadline_ms));
    for r in &results {
        log_result(r);
    }
    let clocks = crate::sleep::measure();
    let retried = retry_after_wake(cfg, &env, before.as_ref(), clocks.as_ref(), &mut results);
    let status = checks::overall(&results);

    // Step 5: state, notifications and history, under the lock.
    let now = chrono::SubsecRound::trunc_subsecs(Utc::now(), 3);
    let reserved = crate::report::reserve(&paths.reports_dir(), "heartbeat", now);
    let report_name = reserved.file_name();
    let channels = cfg.channels();
    let lock = state::lock(paths, state::lock_wait(), "heartbeat")?;
    let mut st = state::load(paths, &lock)?;
    // When the last run saved its state: a run that cannot save its own
    // (a full disk) sends directly, rate-limited from this (see `direct_send_due`).
    let saved_last_run = st.last_run_at;
    for r in results.iter().filter(|r| r.memo.is_some()) {
        st.checks.entry(r.id.clone()).or_default().memo = r.memo.clone();
    }
    for r in &results {
        if !r.values.is_empty() || st.checks.get(&r.id).is_some_and(|c| !c.values.is_empty()) {
            st.checks.entry(r.id.clone()).or_default().values = r.values.clone();
        }
    }
    let rules = rulebook(cfg);
    let repair_book = crate::repairs::book(cfg);
    let rule = |id: &str| incidents::Rules {
        repair: repair_book.get(id).map(|r| r.rule),
        ..rules.get(id).copied().unwrap_or(default_rules(cfg))
    };
    let settings = incidents::Settings {
        realert_minutes: cfg.monitor.realert_minutes,
        flap_window: cfg.monitor.flap_window,
        flap_changes: cfg.monitor.flap_changes,
        repairs: incidents::RepairSettings { off: args.no_repair, checks_started_at: Some(checks_started_at) },
    };
    let local = now.with_timezone(&chrono::Local).naive_local();
    let laptop = incidents::laptop::Laptop {
        depends_on: cfg.dependencies(),
        windows: cfg.maintenance.iter().filter(|w| crate::windows::in_window(w, local)).cloned().collect(),
        clocks,
        interval_s: cfg.launchd.interval_s,
        retried,
    };
    let mut decision = incidents::decide_with(&mut st, &results, status, &rule, settings, &laptop, now);
    let mut events = Vec::new();
    if let Some(plan) = &decision.plan {
        let kind = plan.kind.as_str();
        events.push(kind.to_string());
        let facts = incidents::message::Facts {
            plan,
            results: &results,
            state: &st,
            host: &cfg.monitor.host(),
            status,
            now,
            report: reserved.path.display().to_string(),
            report_name: report_name.clone(),
        };
        let (msg, problem) = incidents::message::build(&facts, &paths.templates_dir())?;
        if let Some(p) = problem {
            log::error(&p);
        }
        if !channels.is_empty() {
            log::info(&format!("{} decided ({})", capitalised(kind), msg.title));
            queue::enqueue(&mut st, &msg, &channels);
        } else {
            log::warn(&format!(
                "{} not sent: notifications are off (set discord.webhook_url or DISCORD_OPS_WEBHOOK): {}",
                capitalised(kind),
                msg.title
            ));
        }
    }
    for e in decision.events.iter().filter(|e| {
        matches!(
            e.kind.as_str(),
            "down" | "up" | "flapping" | "stable" | "repair_exhausted" | "awake" | "boot" | "silenced" | "unsilenced"
        )
    }) {
        log::info(&format!("Event: {}", crate::events::line(e)));
    }
    let mut failures: Vec<String> = Vec::new();
    let line = history::Line {
        ts: now,
        status: status.as_str().into(),
        duration_ms: started.elapsed().as_millis() as u64,
        checks: results.iter().map(history::CheckLine::of).collect(),
        events,
        slept_s: decision.slept_s,
    };
    if let Err(e) = history::append(paths, &line) {
        log::error(&e.0);
        failures.push(e.0);
    }
    if let Err(e) = crate::events::append(paths, &decision.events) {
        log::error(&e.0);
        failures.push(e.0);
    }
    crate::channels::digest::hold_and_fold(&mut st, &channels, &cfg.monitor.quiet_hours, &cfg.monitor.quiet_allow, now);
    // The state is saved, with any repair orders, before anything slow:
    // a run killed meanwhile still counts its orders against the budget.
    if let Err(e) = state::save(paths, &lock, &st) {
        drop(lock);
        // The queue lives in the state: a message that cannot be queued is
        // sent now, or it would be lost for as long as the disk is full.
        send_unsaved(paths, cfg, &channels, args, &mut st, saved_last_run, now, &e.0);
        return Err(e);
    }
    drop(lock);
    if !decision.repairs.is_empty() {
        // Repairs run after the state is saved and before delivery (SPEC
        // §12), without the state lock, so a repair that takes its full
        // minute holds no other heartbeat up; their outcomes are recorded
        // under the lock again.
        let until = started + Duration::from_millis(cfg.monitor.deadline_ms) + crate::repairs::BUDGET_PAST_DEADLINE;
        let done = crate::repairs::run(&decision.repairs, &repair_book, &paths.root, until);
        let repaired = crate::repairs::record(&mut st, &done);
        for (e, d) in repaired.iter().zip(&done) {
            let text = format!("Repair of {}: {}", d.order.name, e.message);
            if d.exit == Some(0) { log::info(&text) } else { log::warn(&text) }
        }
        let recorded = state::lock(paths, state::lock_wait(), "heartbeat").and_then(|lock| {
            let mut fresh = state::load(paths, &lock)?;
            crate::repairs::record(&mut fresh, &done);
            state::save(paths, &lock, &fresh)?;
            crate::events::append(paths, &repaired)
        });
        if let Err(e) = recorded {
            log::error(&e.0);
            failures.push(e.0);
        }
        decision.events.extend(repaired);
    }
    // Delivery waits on the network, so it runs without the state lock.
    let delivery = queue::deliver(paths, &channels, args.no_notify, &st)?;
    st.pending_notifications = delivery.pending.clone();
    st.last_delivery_error = delivery.last_error.clone();
    let sent: Vec<NotificationKind> = delivery.delivered.iter().map(|d| d.kind).collect();

    // Step 6: the report. Its failure exits 3, but the state above stands.
    let duration_ms = started.elapsed().as_millis() as u64;
    let quiet = |id: &str| laptop.quiets(&st, id, now);
    let view = report::View::new(cfg, &st, &quiet, status, &results, duration_ms, now);
    let text = report::render(paths, &view)?;
    let report_path = reserved.path.clone();
    match crate::report::write(&reserved, &text) {
        Ok(()) => log::info(&format!("Report generated: {report_name}")),
        Err(e) => {
            log::error(&format!("{e} (make the folder writable; state and notifications were recorded)"));
            failures.push(e.0);
        }
    }
    // The status page follows the incidents (SPEC §14): rewritten when one opened or closed.
    // Its share of the run: a quarter of the deadline, so a huge log skips
    // the rewrite (with a log line) instead of stretching the heartbeat.
    if decision.events.iter().any(|e| matches!(e.kind.as_str(), "down" | "up")) {
        let share_ms = std::env::var(PAGE_SHARE_ENV).ok().and_then(|v| v.parse().ok());
        let share = Duration::from_millis(share_ms.unwrap_or(cfg.monitor.deadline_ms / PAGE_SHARE_OF_DEADLINE));
        crate::page::refresh_within(paths, cfg, now, Instant::now() + share);
    }
    // The menu bar (SPEC §19): redrawn at once when what it shows changed.
    crate::menubar::plugin::after_heartbeat(paths, before.as_ref(), &st, cfg);
    // Step 7: the exports (SPEC §11); a failure is a WARN, never the exit code.
    let host = cfg.monitor.host();
    let names = channels.iter().map(|c| c.name().to_string()).collect();
    let jobs = if crate::export::exporters(&cfg.export).is_empty() && cfg.export.pushgateway_url.is_empty() {
        Vec::new()
    } else {
        crate::jobs::all_stats(paths, &crate::jobs::configured(cfg), now - chrono::Duration::hours(24))
    };
    let run = crate::export::Run {
        host: &host,
        results: &results,
        state: &st,
        status,
        duration_ms,
        now,
        channels: names,
        jobs,
    };
    for written in crate::export::write_all(&cfg.export, &run) {
        written.map_or_else(|e| log::warn(&e), |ok| log::info(&ok));
    }
    // Step 7b: the push to a Pushgateway (SPEC §18), last, bounded, never the exit code.
    let left = Duration::from_millis(cfg.monitor.deadline_ms).saturating_sub(started.elapsed());
    crate::export::pushgateway::after_heartbeat(paths, &cfg.export, &run, decision.slept_s, left);
    log::info(&format!("=== Monitor Complete: {} {} ===", status.emoji(), status));

    if args.json {
        let doc = json!({
            "status": status.as_str(),
            "exit_code": if failures.is_empty() { status.exit_code() } else { crate::exit::TOOL_FAILURE },
            "timestamp": log::timestamp(now),
            "duration_ms": duration_ms,
            "checks": results,
            "consecutive_failures": st.consecutive_failures,
            "alert_threshold": cfg.monitor.alert_threshold,
            "alert_active": st.alert_active,
            "runs": st.runs,
            "incidents": st.checks.iter().filter(|(_, c)| c.down || c.flapping).map(|(id, c)| (id.clone(), json!({
                "name": c.name,
                "down": c.down,
                "down_since": c.down_since,
                "flapping": c.flapping,
                "announced": c.announced,
                "silenced": laptop.quiets(&st, id, now),
                "repair": incidents::repair_summary(&c.repairs, now),
                "caused_by": c.caused_by,
            }))).collect::<serde_json::Map<_, _>>(),
            "silences": st.silences,
            "maintenance": st.maintenance_active,
            "slept_s": decision.slept_s,
            "events": decision.events,
            "notifications": {
                "enabled": cfg.notifications_enabled(),
                "decided": line.events,
                "delivered": sent,
                "pending": st.pending_notifications.len(),
                "last_error": st.last_delivery_error,
            },
            "report": report_path,
            "errors": failures,
        });
        crate::log::print(&crate::secret::scrub(&serde_json::to_string_pretty(&doc).unwrap_or_default()));
    }
    let summary = report::summary(status, &results);
    let outcome = crate::pings::Outcome { status, failed: !failures.is_empty(), summary, duration: started.elapsed() };
    crate::pings::send_all(&cfg.ping, crate::pings::On::Heartbeat, &outcome);
    *pinged = true;
    if !failures.is_empty() {
        return Err(fail!("{}", failures.join("; ")));
    }
    Ok(status.exit_code())
}

/// The first heartbeat after a sleep longer than the interval: the
/// network may not be up yet, so each failing check runs once more after
/// 5 s before its failure counts (SPEC §15). Returns the names run again.
fn retry_after_wake(
    cfg: &Config,
    env: &Env,
    before: Option<&State>,
    clocks: Option<&crate::sleep::Clocks>,
    results: &mut [CheckResult],
) -> Vec<String> {
    let (Some(before), Some(clocks)) = (before, clocks) else { return Vec::new() };
    let Some(woke) = incidents::laptop::wake(before.slept_since_boot_s, before.boot_time, clocks) else {
        return Vec::new();
    };
    let failing: Vec<String> = results.iter().filter(|r| r.status == CheckStatus::Fail).map(|r| r.id.clone()).collect();
    if woke.slept_s <= cfg.launchd.interval_s as i64 || failing.is_empty() {
        return Vec::new();
    }
    let slept = incidents::human_duration(chrono::Duration::seconds(woke.slept_s));
    log::info(&format!(
        "Awake after {slept} asleep: {} failing check(s) run again in {} s, once the network is up",
        failing.len(),
        WAKE_RETRY.as_secs()
    ));
    std::thread::sleep(WAKE_RETRY);
    let sections =
        cfg.checks().into_iter().map(|(_, c)| c).filter(|c| c.idents().iter().any(|w| failing.contains(&w.id)));
    let again = checks::run_all(checks::jobs(sections, env), Duration::from_millis(cfg.monitor.deadline_ms));
    let mut names = Vec::new();
    for r in again.into_iter().filter(|r| failing.contains(&r.id)) {
        log::info(&format!("Run again after the wake: {} {}: {}", r.status.emoji(), r.name, r.message));
        if let Some(slot) = results.iter_mut().find(|x| x.id == r.id) {
            names.push(r.name.clone());
            *slot = r;
        }
    }
    names
}

/// How long after a wake a failing check is run again.
/// A run that could not save its state sends its messages directly (there
/// is no queue to keep them in), when [`direct_send_due`] says so; the
/// state on disk never learns they were sent, so one may go out again once
/// there is room.
#[allow(clippy::too_many_arguments)]
fn send_unsaved(
    paths: &Paths,
    cfg: &Config,
    channels: &[&dyn crate::channels::Channel],
    args: RunArgs,
    st: &mut State,
    saved_last_run: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
    why: &str,
) {
    let n = st.pending_notifications.iter().filter(|m| !m.held).count();
    if n == 0 || args.no_notify || channels.is_empty() {
        return;
    }
    if !direct_send_due(saved_last_run, now, cfg.launchd.interval_s, cfg.monitor.realert_minutes) {
        log::warn(&format!(
            "{n} notification(s) not sent: the state cannot be saved ({why}), and a direct send already went out in this window"
        ));
        return;
    }
    let summary = queue::deliver_pending(st, channels, &paths.root, queue::BUDGET, |_, _| {});
    log::warn(&format!(
        "The state cannot be saved ({why}): {} of {n} notification(s) sent directly, without the queue; make room, and the queue takes over again",
        summary.delivered.len()
    ));
    for (channel, e) in &summary.errors {
        log::error(&format!("Direct send to {channel} failed: {e}"));
    }
}

/// Whether a run that cannot save its state sends directly: the first such
/// run (the last saved run is under 1.5 intervals old), then the first run
/// of each `realert_minutes` window of the clock (60 min when reminders are
/// off). Decided from the clock and the last saved state alone: nothing
/// can be written to remember a send. Pure.
pub fn direct_send_due(
    saved_last_run: Option<chrono::DateTime<Utc>>,
    now: chrono::DateTime<Utc>,
    interval_s: u64,
    realert_minutes: u32,
) -> bool {
    let interval = i64::try_from(interval_s).unwrap_or(i64::MAX / 4).max(1);
    if saved_last_run.is_some_and(|t| (now - t).num_seconds() < interval * 3 / 2) {
        return true;
    }
    let window = i64::from(if realert_minutes == 0 { 60 } else { realert_minutes }) * 60;
    let t = now.timestamp();
    t.div_euclid(window) != (t - interval).div_euclid(window)
}

const WAKE_RETRY: Duration = Duration::from_secs(5);

fn log_result(r: &CheckResult) {
    let text = format!("{} {}: {} ({} ms)", r.status.emoji(), r.name, r.message, r.latency_ms);
    match (r.status, r.severity) {
        (CheckStatus::Ok | CheckStatus::Skipped, _) => log::info(&text),
        (CheckStatus::Warn, _) | (CheckStatus::Fail, Severity::Warning) => log::warn(&text),
        (CheckStatus::Fail, Severity::Critical) => log::error(&text),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// Each check's incident rules by id: its own thresholds and `notify`,
/// else `[monitor]`'s.
fn rulebook(cfg: &Config) -> std::collections::HashMap<String, incidents::Rules> {
    let mut book = std::collections::HashMap::new();
    for (_, check) in cfg.checks() {
        let common = check.common();
        for who in check.idents() {
            book.insert(
                who.id.clone(),
                incidents::Rules {
                    failure_threshold: common.failure_threshold.unwrap_or(cfg.monitor.alert_threshold),
                    success_threshold: common.success_threshold.unwrap_or(cfg.monitor.recovery_threshold),
                    notify: common.notifies(who.severity),
                    repair: None,
                },
            );
        }
    }
    book
}

fn default_rules(cfg: &Config) -> incidents::Rules {
    incidents::Rules {
        failure_threshold: cfg.monitor.alert_threshold,
        success_threshold: cfg.monitor.recovery_threshold,
        notify: true,
        repair: None,
    }
}

#[cfg(test)]
mod tests {
    use super::direct_send_due;
    use chrono::{DateTime, Duration, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_run_that_cannot_save_sends_at_once_then_once_per_window() {
        // The disk filled after the 10:02 run: the 10:07 run sends at once.
        let saved = Some(t("2026-12-07T10:02:00Z"));
        assert!(direct_send_due(saved, t("2026-12-07T10:07:00Z"), 300, 0));
        // The runs after it do not, until the next hour of the clock begins.
        let sends: Vec<String> = (2..30)
            .map(|i| t("2026-12-07T10:02:00Z") + Duration::minutes(5 * i))
            .filter(|now| direct_send_due(saved, *now, 300, 0))
            .map(|now| now.format("%H:%M").to_string())
            .collect();
        assert_eq!(sends, ["11:02", "12:02"], "one a window, the first run in it");
        // A 30-minute reminder period is the window.
        let sends = (2..14)
            .map(|i| t("2026-12-07T10:02:00Z") + Duration::minutes(5 * i))
            .filter(|now| direct_send_due(saved, *now, 300, 30))
            .count();
        assert_eq!(sends, 2);
        // Never saved at all: only the windows.
        assert!(!direct_send_due(None, t("2026-12-07T10:07:00Z"), 300, 0));
        assert!(direct_send_due(None, t("2026-12-07T10:03:00Z"), 300, 0));
    }
}
