//! `judge` over sequences of runs, sleeps and clocks (SPEC §20).

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use super::*;
use crate::jobs::{End, Run};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn job(toml_text: &str) -> Job {
    toml::from_str(toml_text).unwrap()
}

fn sched(toml_text: &str) -> Schedule {
    job(toml_text).schedule("job[0]").unwrap()
}

fn ok_run(id: &str, started: &str, secs: u64) -> Run {
    let s = utc(started);
    Run {
        id: id.into(),
        started: s,
        pid: Some(1),
        end: Some(End {
            at: s + chrono::Duration::seconds(secs as i64),
            exit: 0,
            signal: None,
            timed_out: false,
            duration_ms: secs * 1000,
            tail: "done\n".into(),
        }),
        alive: false,
        child: None,
        orphan_alive: false,
    }
}

fn failed_run(id: &str, started: &str, exit: i32, tail: &str) -> Run {
    let mut r = ok_run(id, started, 12);
    let e = r.end.as_mut().unwrap();
    e.exit = exit;
    e.tail = tail.into();
    r
}

fn running(id: &str, started: &str, alive: bool) -> Run {
    Run { id: id.into(), started: utc(started), pid: Some(1), end: None, alive, child: Some(2), orphan_alive: false }
}

const UTC0: FixedOffset = FixedOffset::east_opt(0).unwrap();

fn j(s: &Schedule, runs: &[Run], first: &str, now: &str) -> Verdict {
    judge(s, runs, utc(first), utc(now), &[], &UTC0)
}

#[test]
fn validation_names_the_key() {
    let errs = job("name = \"b\"\nat = \"25:00\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].at: \"25:00\" is not a time HH:MM")), "{errs:?}");
    let errs = job("name = \"b\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.contains("every = \"1h\"") && e.contains("at = \"02:30\"")), "{errs:?}");
    let errs = job("name = \"b\"\nat = \"02:00\"\nevery = \"1h\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.contains("both set")), "{errs:?}");
    let errs = job("name = \"b\"\nat = \"02:00\"\ndays = [\"mon\", \"funday\"]").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].days[1] = \"funday\"")), "{errs:?}");
    let errs = job("name = \"b\"\nevery = \"1h\"\ndays = [\"mon\"]").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].days")), "{errs:?}");
    let errs = job("name = \"b\"\nevery = \"1h\"\ngrace = \"soon\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].grace:")), "{errs:?}");
    let errs = job("name = \"b\"\nevery = \"1h\"\nmin_duration = \"2h\"\nmax_duration = \"1h\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].min_duration")), "{errs:?}");
    let errs = job("every = \"1h\"").validate("job[0]");
    assert!(errs.iter().any(|e| e.starts_with("job[0].name is missing")), "{errs:?}");
    assert!(job("name = \"b\"\nat = \"02:30\"\ndays = [\"Mon\", \"friday\"]").validate("job[0]").is_empty());
}

#[test]
fn a_job_fails_after_one_bad_heartbeat_by_default() {
    assert_eq!(Check::common(&job("name = \"b\"\nevery = \"1h\"")).failure_threshold, Some(1));
    assert_eq!(Check::common(&job("name = \"b\"\nevery = \"1h\"\nfailure_threshold = 2")).failure_threshold, Some(2));
}

#[test]
fn every_on_time_late_and_never_run() {
    let s = sched("name = \"b\"\nevery = \"1h\"\ngrace = \"10m\"");
    let runs = [ok_run("1", "2026-12-07T10:00:00Z", 5)];
    assert_eq!(j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T11:05:00Z").status, CheckStatus::Ok);
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T11:11:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert!(
        v.message.starts_with("no run since 10:00 (every 1 h + grace 10 min: 1 h 11 min awake since"),
        "{}",
        v.message
    );
    // Never run: the first due time counts from when the check first saw it.
    let v = j(&s, &[], "2026-12-07T10:00:00Z", "2026-12-07T11:09:00Z");
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    assert!(v.message.starts_with("not run yet; next due 11:00"), "{}", v.message);
    let v = j(&s, &[], "2026-12-07T10:00:00Z", "2026-12-07T11:11:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert!(v.message.starts_with("never run since it was added at 10:00"), "{}", v.message);
}

#[test]
fn at_on_time_late_and_across_midnight() {
    let s = sched("name = \"b\"\nat = \"23:50\"\ngrace = \"30m\"");
    // 00:10 the next day, no run at 23:50: within grace.
    assert_eq!(j(&s, &[], "2026-12-01T00:00:00Z", "2026-12-07T00:10:00Z").status, CheckStatus::Ok);
    let v = j(&s, &[], "2026-12-01T00:00:00Z", "2026-12-07T00:21:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert!(v.message.starts_with("due at Sun 06 Dec 23:50, never run since"), "{}", v.message);
    // The run at 23:50 covers it, after midnight too.
    let runs = [ok_run("1", "2026-12-06T23:50:02Z", 60)];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    assert!(v.message.contains("next due 23:50"), "{}", v.message);
    // Yesterday's run does not cover tonight's.
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-08T00:30:00Z");
    assert_eq!(v.status, CheckStatus::Fail, "{}", v.message);
    assert!(v.message.contains("no run since Sun 06 Dec 23:50"), "{}", v.message);
}

#[test]
fn days_of_the_week_in_the_time_zone_given() {
    // 2026-12-07 is a Monday. A job at 02:30 on Tuesdays only.
    let s = sched("name = \"b\"\nat = \"02:30\"\ndays = [\"tue\"]\ngrace = \"30m\"");
    let v = j(&s, &[], "2026-12-01T00:00:00Z", "2026-12-07T12:00:00Z");
    // Last due: Tue 01 Dec, before... first seen at 00:00 that day, so it was due and missed.
    assert_eq!(v.status, CheckStatus::Fail, "{}", v.message);
    assert!(v.message.starts_with("due at Tue 01 Dec 02:30"), "{}", v.message);
    let runs = [ok_run("1", "2026-12-01T02:30:00Z", 60)];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T12:00:00Z");
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    assert!(v.message.ends_with("next due Tue 08 Dec 02:30"), "{}", v.message);
    // The same instant in UTC+10 is Monday 22:00 local; Tuesday 02:30 there is Monday 16:30 UTC.
    let plus10 = FixedOffset::east_opt(10 * 3600).unwrap();
    let runs = [ok_run("1", "2026-11-30T16:30:00Z", 60)];
    let v = judge(&s, &runs, utc("2026-11-30T00:00:00Z"), utc("2026-12-07T12:00:00Z"), &[], &plus10);
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    let v = judge(&s, &runs, utc("2026-11-30T00:00:00Z"), utc("2026-12-07T17:01:00Z"), &[], &plus10);
    assert_eq!(v.status, CheckStatus::Fail, "{}", v.message);
    assert!(v.message.starts_with("due at 02:30"), "local time in the message: {}", v.message);
}

#[test]
fn a_dst_gap_time_is_due_an_hour_later() {
    let s = sched("name = \"b\"\nat = \"02:30\"");
    let tz = FixedOffset::east_opt(0).unwrap();
    let due = last_due(&s, utc("2026-12-07T03:00:00Z"), &tz).unwrap();
    assert_eq!(due, utc("2026-12-07T02:30:00Z"));
    assert_eq!(next_due(&s, utc("2026-12-07T03:00:00Z"), &tz).unwrap(), utc("2026-12-08T02:30:00Z"));
}

#[test]
fn sleep_does_not_count_and_a_run_on_wake_is_on_time() {
    let s = sched("name = \"b\"\nat = \"02:30\"\ngrace = \"30m\"");
    // Asleep 01:00–08:00; the heartbeat at 08:02 has not seen the run yet.
    let asleep = [(utc("2026-12-07T01:00:00Z"), utc("2026-12-07T08:00:00Z"))];
    let first = utc("2026-12-01T00:00:00Z");
    let v = judge(&s, &[], first, utc("2026-12-07T08:02:00Z"), &asleep, &UTC0);
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    // launchd ran it on wake, at 08:00:10: on time.
    let runs = [ok_run("1", "2026-12-07T08:00:10Z", 30)];
    let v = judge(&s, &runs, first, utc("2026-12-07T12:00:00Z"), &asleep, &UTC0);
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    // No run on wake: late 30 min of awake time after the wake.
    let v = judge(&s, &[], first, utc("2026-12-07T08:31:00Z"), &asleep, &UTC0);
    assert_eq!(v.status, CheckStatus::Fail, "{}", v.message);
    // Awake all night: late at 03:01.
    assert_eq!(judge(&s, &[], first, utc("2026-12-07T03:01:00Z"), &[], &UTC0).status, CheckStatus::Fail);
    // every: an hour asleep pushes the due time by an hour.
    let s = sched("name = \"b\"\nevery = \"1h\"\ngrace = \"5m\"");
    let runs = [ok_run("1", "2026-12-07T10:00:00Z", 5)];
    let asleep = [(utc("2026-12-07T10:20:00Z"), utc("2026-12-07T11:20:00Z"))];
    assert_eq!(judge(&s, &runs, first, utc("2026-12-07T12:00:00Z"), &asleep, &UTC0).status, CheckStatus::Ok);
    assert_eq!(judge(&s, &runs, first, utc("2026-12-07T12:06:00Z"), &asleep, &UTC0).status, CheckStatus::Fail);
}

#[test]
fn awake_time_merges_overlapping_sleeps() {
    let a = utc("2026-12-07T00:00:00Z");
    let asleep =
        [(a, a + chrono::Duration::hours(2)), (a + chrono::Duration::hours(1), a + chrono::Duration::hours(3))];
    assert_eq!(awake(a, a + chrono::Duration::hours(4), &asleep), chrono::Duration::hours(1));
    assert_eq!(awake(a + chrono::Duration::hours(5), a, &asleep), chrono::Duration::zero());
}

#[test]
fn a_failed_run_names_exit_time_and_tail_until_one_succeeds() {
    let s = sched("name = \"b\"\nat = \"02:30\"");
    let runs = vec![failed_run("1", "2026-12-07T02:30:00Z", 3, "copying…\nrsync error: some files vanished\n")];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert_eq!(v.message, "last run failed: exit 3 at 02:30 after 12 s: copying… / rsync error: some files vanished");
    let mut runs = runs;
    runs.push(ok_run("2", "2026-12-07T09:10:00Z", 40));
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T09:12:00Z");
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    assert!(v.message.starts_with("last run 09:10: exit 0 after 40 s"), "{}", v.message);
}

#[test]
fn timeouts_signals_and_killed_wrappers() {
    let s = sched("name = \"b\"\nevery = \"1d\"");
    let mut r = failed_run("1", "2026-12-07T02:30:00Z", 124, "");
    r.end.as_mut().unwrap().timed_out = true;
    let v = j(&s, &[r], "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert!(v.message.starts_with("last run failed: timed out (killed at its --timeout) at 02:30"), "{}", v.message);
    let mut r = failed_run("1", "2026-12-07T02:30:00Z", 137, "");
    r.end.as_mut().unwrap().signal = Some(9);
    let v = j(&s, &[r], "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert!(v.message.starts_with("last run failed: killed by signal 9 (SIGKILL)"), "{}", v.message);
    let v = j(&s, &[running("1", "2026-12-07T02:30:00Z", false)], "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert_eq!(v.message, "the run started at 02:30 never finished (the wrapper was killed)");
    let mut orphan = running("1", "2026-12-07T02:30:00Z", false);
    orphan.orphan_alive = true;
    let v = j(&s, &[orphan], "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert_eq!(
        v.message,
        "the run started at 02:30 lost its wrapper (killed); its command still runs (pid 2) and its end will not be recorded"
    );
    // A later run that succeeded puts it behind.
    let runs = [running("1", "2026-12-07T02:30:00Z", false), ok_run("2", "2026-12-07T03:00:00Z", 5)];
    assert_eq!(j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T09:00:00Z").status, CheckStatus::Ok);
}

#[test]
fn max_and_min_duration() {
    let s = sched("name = \"b\"\nat = \"02:30\"\nmax_duration = \"2h\"\nmin_duration = \"1m\"");
    let runs = [running("1", "2026-12-07T02:30:00Z", true)];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T04:00:00Z");
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    assert!(v.message.starts_with("running since 02:30"), "{}", v.message);
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T05:30:00Z");
    assert_eq!(v.status, CheckStatus::Fail);
    assert!(v.message.starts_with("still running after 3 h (started at 02:30; max_duration 2 h)"), "{}", v.message);
    // Sleep while it runs does not count.
    let asleep = [(utc("2026-12-07T03:00:00Z"), utc("2026-12-07T05:00:00Z"))];
    let v = judge(&s, &runs, utc("2026-12-01T00:00:00Z"), utc("2026-12-07T05:30:00Z"), &asleep, &UTC0);
    assert_eq!(v.status, CheckStatus::Ok, "{}", v.message);
    let runs = [ok_run("1", "2026-12-07T02:30:00Z", 3)];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T04:00:00Z");
    assert_eq!(v.status, CheckStatus::Warn);
    assert!(v.message.starts_with("last run 02:30 finished in 3.0 s, faster than min_duration 1 min"), "{}", v.message);
}

#[test]
fn concurrent_runs_are_told_apart() {
    let s = sched("name = \"b\"\nevery = \"1h\"");
    let runs = [
        ok_run("1", "2026-12-07T10:00:00Z", 5),
        running("2", "2026-12-07T10:00:01Z", true),
        running("3", "2026-12-07T10:00:02Z", true),
    ];
    let v = j(&s, &runs, "2026-12-01T00:00:00Z", "2026-12-07T10:30:00Z");
    assert_eq!(v.status, CheckStatus::Ok);
    assert!(v.message.contains("2 runs going now"), "{}", v.message);
}

#[test]
fn the_memo_keeps_sleeps_and_first_seen() {
    let c =
        |slept: f64| crate::sleep::Clocks { slept_since_boot_s: slept, boot_time: Some(utc("2026-12-01T00:00:00Z")) };
    let t0 = utc("2026-12-07T00:00:00Z");
    let m = Memo::default().next(t0, Some(&c(100.0)));
    assert_eq!(m.first_seen, Some(t0));
    assert!(m.asleep.is_empty());
    let t1 = t0 + chrono::Duration::hours(8);
    let m = m.next(t1, Some(&c(100.0 + 7.0 * 3600.0)));
    assert_eq!(m.first_seen, Some(t0));
    assert_eq!(m.asleep, vec![(t1 - chrono::Duration::hours(7), t1)]);
    // Sleeps older than 8 days go.
    let m = m.next(t1 + chrono::Duration::days(9), Some(&c(100.0 + 7.0 * 3600.0)));
    assert!(m.asleep.is_empty());
    // A stand-in sleep no clock could measure: asleep since the previous run.
    let m = m.next(t1 + chrono::Duration::days(10), Some(&c(1e300)));
    assert_eq!(m.asleep, vec![(t1 + chrono::Duration::days(9), t1 + chrono::Duration::days(10))]);
    let _ = Utc.timestamp_opt(0, 0);
}
