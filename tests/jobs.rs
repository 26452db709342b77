//! Jobs (SPEC §20) through the real binary: `ops-atomic run` around real
//! child processes that succeed, fail, hang past their timeout (with a
//! grandchild), print a lot, print a secret, run twenty at once, and a
//! wrapper killed with SIGKILL; the `[[job]]` check judging them in the
//! heartbeat, with the sleep hook (`OPS_ATOMIC_SLEPT_S`) and the job clock
//! (`OPS_ATOMIC_JOB_NOW`), `at` across midnight and days of the week under
//! another `TZ`; `init` proposing jobs from real plists; `summary`, the
//! page, `events` and the Prometheus file showing them.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};

/// Redis and PostgreSQL off, so only the jobs run.
const QUIET: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n";

fn config(root: &TestRoot, jobs: &str) {
    root.write_config(&format!("{QUIET}{jobs}"));
}

/// `ops-atomic run NAME -- ARGV…`.
fn run(root: &TestRoot, name: &str, argv: &[&str]) -> Run {
    ops(root).args(["run", name, "--"]).args(argv).run()
}

/// The records of a job (a plain name is its file name).
fn records(root: &TestRoot, name: &str) -> Vec<Value> {
    let path = format!("g/state/jobs/{name}.jsonl");
    if !root.exists(&path) {
        return Vec::new();
    }
    root.read(&path).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn events(root: &TestRoot) -> Vec<Value> {
    if !root.exists("g/state/events.jsonl") {
        return Vec::new();
    }
    root.read("g/state/events.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn of_type<'a>(all: &'a [Value], t: &str) -> Vec<&'a Value> {
    all.iter().filter(|e| e["type"] == t).collect()
}

/// `heartbeat --json` with extra environment; the job's status and message.
fn judge(root: &TestRoot, id: &str, env: &[(&str, &str)]) -> (String, String) {
    let mut o = ops(root).args(["heartbeat", "--json", "--no-notify"]);
    for (k, v) in env {
        o = o.env(k, v);
    }
    let doc = o.run().json();
    let c = doc["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"));
    (c["status"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string())
}

/// Writes a finished run into a job's file as `ops-atomic run` does.
fn seed_run(root: &TestRoot, name: &str, id: &str, started: DateTime<Utc>, secs: i64, exit: i32, tail: &str) {
    let start = json!({"ts": started.to_rfc3339(), "check": format!("job:{name}"), "name": name, "type": "job_start",
        "run": id, "pid": 1});
    let end = json!({"ts": (started + chrono::Duration::seconds(secs)).to_rfc3339(), "check": format!("job:{name}"),
        "name": name, "type": "job_end", "run": id, "pid": 1, "exit": exit, "duration_ms": secs * 1000, "output": tail});
    let path = format!("g/state/jobs/{name}.jsonl");
    let mut text = if root.exists(&path) { root.read(&path) } else { String::new() };
    text.push_str(&format!("{start}\n{end}\n"));
    root.write(&path, &text);
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Whether a process exists and is not a zombie (a container's init may
/// leave orphans unreaped).
fn running_pid(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"),
        // SAFETY: signal 0 only asks whether the process exists.
        Err(_) => unsafe { libc::kill(pid, 0) == 0 },
    }
}

#[test]
fn a_job_that_succeeds_is_recorded_and_judged_ok() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"backup\"\nevery = \"1h\"\n");
    let r = run(&root, "backup", &["sh", "-c", "echo copied 3 files; sleep 0.2; echo a warning >&2"]);
    r.expect_code(0);
    assert_eq!(r.stdout, "copied 3 files\n", "the caller still gets the output");
    assert_eq!(r.stderr, "a warning\n");
    let recs = records(&root, "backup");
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0]["type"], "job_start");
    assert_eq!(recs[1]["type"], "job_end");
    assert_eq!(recs[0]["run"], recs[1]["run"]);
    assert_eq!(recs[1]["exit"], 0);
    assert_eq!(recs[1]["output"], "copied 3 files\na warning\n");
    assert_eq!(recs[0]["check"], "job:backup");
    let ev = events(&root);
    assert_eq!(of_type(&ev, "job_start").len(), 1);
    assert_eq!(of_type(&ev, "job_end").len(), 1);
    let (status, msg) = judge(&root, "job:backup", &[]);
    assert_eq!(status, "ok", "{msg}");
    assert!(msg.starts_with("last run ") && msg.contains(": exit 0 after"), "{msg}");
    // Files that hold output are 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.path("g/state/jobs/backup.jsonl")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The working directory is the caller's.
    let dir = TestRoot::new();
    let r = ops(&root).current_dir(dir.dir()).args(["run", "pwd", "--", "pwd"]).run();
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), dir.dir().canonicalize().unwrap().display().to_string());
}

#[test]
fn a_failure_passes_its_exit_code_through_and_fails_the_job_quoting_the_tail() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"sync\"\nevery = \"1h\"\n");
    let r = run(
        &root,
        "sync",
        &["sh", "-c", "echo starting; sleep 0.2; echo 'rsync error: some files vanished' >&2; exit 23"],
    );
    r.expect_code(23);
    let (status, msg) = judge(&root, "job:sync", &[]);
    assert_eq!(status, "fail");
    assert!(msg.starts_with("last run failed: exit 23 at "), "{msg}");
    assert!(msg.ends_with("starting / rsync error: some files vanished"), "{msg}");
    // The heartbeat is CRITICAL, its report names the job.
    ops(&root).args(["heartbeat", "--no-notify"]).run().expect_code(2);
    assert!(root.latest_report("heartbeat").contains("rsync error: some files vanished"));
    // A signal: 128+N, like a shell.
    run(&root, "sync", &["sh", "-c", "kill -TERM $$"]).expect_code(143);
    let (_, msg) = judge(&root, "job:sync", &[]);
    assert!(msg.starts_with("last run failed: killed by signal 15 (SIGTERM)"), "{msg}");
    // The wrapper's own failures: 127 not found, 126 not executable, 3 usage.
    let r = run(&root, "sync", &["/no/such/program"]);
    r.expect_code(127);
    assert!(r.stderr.contains("command not found: /no/such/program"), "{r}");
    let (_, msg) = judge(&root, "job:sync", &[]);
    assert!(msg.starts_with("last run failed: exit 127"), "{msg}");
    let text = root.write("not-executable.sh", "echo hi\n");
    run(&root, "sync", &[text.to_str().unwrap()]).expect_code(126);
    ops(&root).args(["run", "sync"]).run().expect_code(3);
    ops(&root).args(["run", "sync", "--timeout", "soon", "--", "true"]).run().expect_code(3);
    // Then a success puts it right.
    run(&root, "sync", &["true"]).expect_code(0);
    assert_eq!(judge(&root, "job:sync", &[]).0, "ok");
}

#[test]
fn a_timeout_kills_the_command_and_its_grandchild() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"hangs\"\nevery = \"1h\"\n");
    let pidfile = root.path("grandchild.pid");
    let script = format!("sleep 300 & echo $! > {}; echo waiting; wait", pidfile.display());
    let t = Instant::now();
    let r = ops(&root).args(["run", "hangs", "--timeout", "1s", "--", "sh", "-c", &script]).run();
    r.expect_code(124);
    assert!(t.elapsed() < Duration::from_secs(8), "killed at the timeout, not later: {:?}", t.elapsed());
    assert!(r.stderr.contains("hangs: timed out after 1 s: killed"), "{r}");
    let grandchild: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!running_pid(grandchild), "the grandchild {grandchild} still runs");
    let recs = records(&root, "hangs");
    assert_eq!(recs[1]["timed_out"], true);
    assert_eq!(recs[1]["exit"], 124);
    assert_eq!(recs[1]["output"], "waiting\n");
    let (status, msg) = judge(&root, "job:hangs", &[]);
    assert_eq!(status, "fail");
    assert!(msg.starts_with("last run failed: timed out (killed at its --timeout) at "), "{msg}");
}

#[test]
fn much_output_reaches_the_caller_and_only_the_last_4_kb_is_kept() {
    let root = TestRoot::new();
    let r = run(&root, "chatty", &["sh", "-c", "seq 1 200000; sleep 0.3; yes 'ééé' | head -n 3000 >&2"]);
    r.expect_code(0);
    let expected: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(r.stdout, expected, "the caller got all of it");
    assert_eq!(r.stderr.lines().count(), 3000);
    let tail = records(&root, "chatty")[1]["output"].as_str().unwrap().to_string();
    assert!(tail.len() <= 4096, "{}", tail.len());
    assert!(tail.len() > 4000, "{}", tail.len());
    assert!(tail.ends_with("ééé\n"), "{tail}");
    assert!(!tail.contains('\u{fffd}'), "cut at a character boundary");
    // The line in the event log holds no more than the tail either.
    let longest = root.read("g/state/events.jsonl").lines().map(str::len).max().unwrap();
    assert!(longest < 6000, "{longest}");
}

#[test]
fn a_wrapper_killed_with_sigkill_leaves_a_start_the_heartbeat_calls_never_finished() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"killed\"\nevery = \"1h\"\n");
    let pidfile = root.path("child.pid");
    let script = format!("echo $$ > {}; exec sleep 300", pidfile.display());
    let mut wrapper = ops(&root)
        .args(["run", "killed", "--", "sh", "-c", &script])
        .command()
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while records(&root, "killed").is_empty() || !pidfile.exists() {
        assert!(Instant::now() < deadline, "no start recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, msg) = judge(&root, "job:killed", &[]);
    assert_eq!(status, "ok", "running: {msg}");
    assert!(msg.starts_with("running since "), "{msg}");
    wrapper.kill().unwrap();
    wrapper.wait().unwrap();
    // Its command is an orphan in its own group now, still running.
    let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let (status, msg) = judge(&root, "job:killed", &[]);
    assert_eq!(status, "fail");
    let orphaned =
        format!("lost its wrapper (killed); its command still runs (pid {child}) and its end will not be recorded");
    assert!(msg.starts_with("the run started at ") && msg.ends_with(&orphaned), "{msg}");
    // SAFETY: the group of the command this test started.
    unsafe { libc::kill(-child, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while running_pid(child) {
        assert!(Instant::now() < deadline, "the orphan {child} did not die");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, msg) = judge(&root, "job:killed", &[]);
    assert_eq!(status, "fail");
    assert!(
        msg.starts_with("the run started at ") && msg.ends_with("never finished (the wrapper was killed)"),
        "{msg}"
    );
}

#[test]
fn secrets_in_the_output_are_scrubbed_from_every_record() {
    let root = TestRoot::new();
    config(
        &root,
        "[[job]]\nname = \"dump\"\nevery = \"1h\"\n[[api]]\nname = \"x\"\nurl = \"http://127.0.0.1:1/\"\nheaders = { X-Api-Key = \"${JOB_TEST_TOKEN}\" }\n",
    );
    let says = "connecting with tok-Configured-Secret-42; db postgres://app:hunter2pass@db/x; password=s3cr3t-value";
    let r = ops(&root)
        .env("JOB_TEST_TOKEN", "tok-Configured-Secret-42")
        .args(["run", "dump", "--", "sh", "-c", &format!("echo '{says}'; exit 1")])
        .run();
    r.expect_code(1);
    assert!(r.stdout.contains("hunter2pass"), "the caller's own output is untouched");
    let (_, msg) = {
        let mut o =
            ops(&root).args(["heartbeat", "--json", "--no-notify"]).env("JOB_TEST_TOKEN", "tok-Configured-Secret-42");
        o = o.env("NO_COLOR", "1");
        let doc = o.run().json();
        let c = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "job:dump").unwrap().clone();
        (c["status"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string())
    };
    assert!(msg.contains("postgres://app:***@db/x"), "{msg}");
    for secret in ["tok-Configured-Secret-42", "hunter2pass", "s3cr3t-value"] {
        assert!(!msg.contains(secret), "{secret} in {msg}");
        let found = root.files_containing(secret);
        assert!(found.is_empty(), "{secret} written to {found:?}");
    }
}

#[test]
fn twenty_runs_of_one_job_at_once_lose_no_record() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"many\"\nevery = \"1h\"\n");
    let children: Vec<_> = (0..20)
        .map(|i| {
            ops(&root)
                .args(["run", "many", "--", "sh", "-c", "sleep 0.3; echo run $0", &i.to_string()])
                .command()
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
    }
    let recs = records(&root, "many");
    let starts = of_type(&recs, "job_start");
    let ends = of_type(&recs, "job_end");
    assert_eq!((starts.len(), ends.len()), (20, 20));
    let mut ids: Vec<&str> = starts.iter().map(|s| s["run"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "every run has its own id");
    for e in &ends {
        assert!(ids.contains(&e["run"].as_str().unwrap()));
    }
    let ev = events(&root);
    assert_eq!((of_type(&ev, "job_start").len(), of_type(&ev, "job_end").len()), (20, 20));
    assert_eq!(judge(&root, "job:many", &[]).0, "ok");
}

#[test]
fn a_job_never_run_alerts_only_after_its_first_due_time_plus_grace() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"new\"\nat = \"02:30\"\ngrace = \"30m\"\n");
    let tz = ("TZ", "UTC");
    let (status, msg) = judge(&root, "job:new", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-07T10:00:00Z")]);
    assert_eq!(status, "ok");
    assert_eq!(msg, "not run yet; next due Tue 08 Dec 02:30");
    // Today's 02:30 was before the check saw it: nothing to say until tomorrow's.
    let (status, _) = judge(&root, "job:new", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-08T02:55:00Z")]);
    assert_eq!(status, "ok");
    let (status, msg) = judge(&root, "job:new", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-08T03:01:00Z")]);
    assert_eq!(status, "fail");
    assert_eq!(
        msg,
        "due at 02:30, never run since it was added at Mon 07 Dec 10:00 (grace 30 min, time asleep not counted)"
    );
}

#[test]
fn every_with_the_sleep_hook_counts_only_time_awake() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"hourly\"\nevery = \"1h\"\ngrace = \"10m\"\n");
    seed_run(&root, "hourly", "r1", utc("2026-12-07T10:00:00Z"), 30, 0, "ok\n");
    let at = |now: &str, slept: &str| {
        judge(&root, "job:hourly", &[("OPS_ATOMIC_JOB_NOW", now), ("OPS_ATOMIC_SLEPT_S", slept)])
    };
    assert_eq!(at("2026-12-07T10:30:00Z", "0").0, "ok");
    // 90 minutes later, 60 of them asleep: 1 h awake since the run, within grace.
    let (status, msg) = at("2026-12-07T12:00:00Z", "3600");
    assert_eq!(status, "ok", "{msg}");
    // Awake after that: late once 1 h 10 min awake have passed.
    let (status, msg) = at("2026-12-07T12:11:00Z", "3600");
    assert_eq!(status, "fail", "{msg}");
    assert!(msg.starts_with("no run since 10:00 (every 1 h + grace 10 min: 1 h 11 min awake since"), "{msg}");
}

#[test]
fn a_job_due_while_asleep_and_run_on_wake_is_on_time() {
    // The Mac sleeps 01:00-08:00; the 02:30 job is run by launchd on wake.
    let awake_all_night = TestRoot::new();
    let slept = TestRoot::new();
    for root in [&awake_all_night, &slept] {
        config(root, "[[job]]\nname = \"nightly\"\nat = \"02:30\"\ngrace = \"30m\"\n");
        seed_run(root, "nightly", "r0", utc("2026-12-06T02:30:00Z"), 60, 0, "done\n");
    }
    let env =
        |now: &'static str, s: &'static str| [("TZ", "UTC"), ("OPS_ATOMIC_JOB_NOW", now), ("OPS_ATOMIC_SLEPT_S", s)];
    // Evening: the last heartbeat before the night.
    assert_eq!(judge(&slept, "job:nightly", &env("2026-12-07T00:55:00Z", "0")).0, "ok");
    assert_eq!(judge(&awake_all_night, "job:nightly", &env("2026-12-07T00:55:00Z", "0")).0, "ok");
    // 08:02: seven hours asleep; the run on wake has not been recorded yet: still on time.
    let (status, msg) = judge(&slept, "job:nightly", &env("2026-12-07T08:02:00Z", "25200"));
    assert_eq!(status, "ok", "{msg}");
    // The same hour awake all night: the 02:30 run is missing.
    let (status, msg) = judge(&awake_all_night, "job:nightly", &env("2026-12-07T08:02:00Z", "0"));
    assert_eq!(status, "fail");
    assert!(msg.starts_with("due at 02:30, no run since Sun 06 Dec 02:30"), "{msg}");
    // launchd runs it on wake: on time.
    seed_run(&slept, "nightly", "r1", utc("2026-12-07T08:00:10Z"), 60, 0, "done\n");
    let (status, msg) = judge(&slept, "job:nightly", &env("2026-12-07T09:00:00Z", "25200"));
    assert_eq!(status, "ok", "{msg}");
    assert!(msg.starts_with("last run 08:00: exit 0 after 1 min; next due Tue 08 Dec 02:30"), "{msg}");
}

#[test]
fn at_across_midnight_and_days_of_the_week_in_another_time_zone() {
    // TZ India (UTC+05:30): 23:50 local is 18:20 UTC.
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"late\"\nat = \"23:50\"\ngrace = \"15m\"\n");
    seed_run(&root, "late", "r0", utc("2026-12-05T18:20:00Z"), 5, 0, "");
    let tz = ("TZ", "XYZ-05:30");
    // 00:00 local on the 7th (18:30 UTC on the 6th): 10 min after the due time, within grace.
    let (status, msg) = judge(&root, "job:late", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-06T18:30:00Z")]);
    assert_eq!(status, "ok", "{msg}");
    // 00:06 local: late, said in local time.
    let (status, msg) = judge(&root, "job:late", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-06T18:36:00Z")]);
    assert_eq!(status, "fail");
    assert!(msg.starts_with("due at Sun 06 Dec 23:50, no run since Sat 05 Dec 23:50"), "{msg}");
    seed_run(&root, "late", "r1", utc("2026-12-06T18:20:30Z"), 5, 0, "");
    assert_eq!(judge(&root, "job:late", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-06T18:36:00Z")]).0, "ok");

    // Mondays and Thursdays at 06:00 in New York; 2026-12-07 is a Monday (UTC−5).
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"weekly\"\nat = \"06:00\"\ndays = [\"mon\", \"thu\"]\ngrace = \"1h\"\n");
    seed_run(&root, "weekly", "r0", utc("2026-12-03T11:00:00Z"), 5, 0, ""); // Thu 06:00 New York
    let tz = ("TZ", "America/New_York");
    // Sunday evening: nothing due since Thursday.
    let (status, msg) = judge(&root, "job:weekly", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-07T01:00:00Z")]);
    assert_eq!(status, "ok", "{msg}");
    assert!(msg.ends_with("next due Mon 07 Dec 06:00"), "{msg}");
    // Monday 07:01 New York: missed. In UTC it would still be Monday, but 12:01.
    let (status, msg) = judge(&root, "job:weekly", &[tz, ("OPS_ATOMIC_JOB_NOW", "2026-12-07T12:01:00Z")]);
    assert_eq!(status, "fail", "{msg}");
    assert!(msg.starts_with("due at 06:00, no run since Thu 03 Dec 06:00"), "{msg}");
}

#[test]
fn max_duration_fails_a_run_still_going_and_min_duration_warns() {
    let root = TestRoot::new();
    config(
        &root,
        "[[job]]\nname = \"slow\"\nevery = \"1d\"\nmax_duration = \"1s\"\n[[job]]\nname = \"quick\"\nevery = \"1d\"\nmin_duration = \"10s\"\n",
    );
    let mut wrapper = ops(&root).args(["run", "slow", "--", "sleep", "30"]).command().spawn().unwrap();
    std::thread::sleep(Duration::from_millis(2300));
    let (status, msg) = judge(&root, "job:slow", &[]);
    assert_eq!(status, "fail");
    assert!(msg.starts_with("still running after 2 s (started at "), "{msg}");
    // SAFETY: SIGTERM to the wrapper this test started; it passes it on to its command.
    unsafe { libc::kill(wrapper.id() as i32, libc::SIGTERM) };
    let code = wrapper.wait().unwrap().code();
    assert_eq!(code, Some(143), "128 + SIGTERM, recorded as such");
    let recs = records(&root, "slow");
    assert_eq!(recs[1]["signal"], 15);
    run(&root, "quick", &["true"]).expect_code(0);
    let (status, msg) = judge(&root, "job:quick", &[]);
    assert_eq!(status, "warn");
    assert!(msg.contains("faster than min_duration 10 s (did it do its work?)"), "{msg}");
}

#[test]
fn a_broken_config_still_runs_the_command() {
    let root = TestRoot::new();
    root.write_config("[[job]]\nname = \"b\"\nat = \"25:00\"\n");
    let r = run(&root, "b", &["sh", "-c", "echo the backup ran"]);
    r.expect_code(0);
    assert_eq!(r.stdout, "the backup ran\n");
    assert!(r.stderr.contains("warning") && r.stderr.contains("job[0].at: \"25:00\" is not a time HH:MM"), "{r}");
    assert_eq!(records(&root, "b").len(), 2);
    // And config check names the key.
    let c = ops(&root).args(["config", "check"]).run();
    c.expect_code(3);
    assert!(c.stderr.contains("job[0].at: \"25:00\" is not a time HH:MM"), "{c}");
    // A run of a job that no [[job]] watches says so, and is recorded.
    config(&root, "");
    let r = run(&root, "unwatched", &["true"]);
    r.expect_code(0);
    assert!(r.stderr.contains("no [[job]] named \"unwatched\""), "{r}");
}

fn plist(label: &str, args: &[&str], schedule: &str) -> String {
    let args: String = args.iter().map(|a| format!("    <string>{a}</string>\n")).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n  <key>Label</key>\n  <string>{label}</string>\n  <key>ProgramArguments</key>\n  <array>\n{args}  </array>\n{schedule}</dict>\n</plist>\n"
    )
}

/// The text with the `[[job]]` blocks proposed for `labels` switched on.
fn with_jobs_on(text: &str, labels: &[&str]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut on = false;
    for (i, l) in lines.iter().enumerate() {
        if *l == "#[[job]]" {
            let next = lines.get(i + 1).copied().unwrap_or("");
            on = labels.iter().any(|lb| next.starts_with(&format!("#name = \"{lb}\"")));
        } else if !l.starts_with('#') {
            on = false;
        }
        match l.strip_prefix('#') {
            Some(rest) if on && !rest.starts_with(' ') => out.push(rest.to_string()),
            _ => out.push(l.to_string()),
        }
    }
    out.join("\n")
}

#[test]
fn init_proposes_a_job_for_each_scheduled_launchagent() {
    let root = TestRoot::new();
    let agents = root.agents_dir();
    std::fs::create_dir_all(&agents).unwrap();
    let calendar = "  <key>StartCalendarInterval</key>\n  <array>\n    <dict><key>Hour</key><integer>2</integer><key>Minute</key><integer>30</integer><key>Weekday</key><integer>1</integer></dict>\n    <dict><key>Hour</key><integer>2</integer><key>Minute</key><integer>30</integer><key>Weekday</key><integer>4</integer></dict>\n  </array>\n";
    std::fs::write(
        agents.join("com.me.backup.plist"),
        plist("com.me.backup", &["/usr/local/bin/restic", "backup", "/Users/me"], calendar),
    )
    .unwrap();
    let interval = "  <key>StartInterval</key>\n  <integer>900</integer>\n";
    std::fs::write(
        agents.join("com.me.sync.plist"),
        plist("com.me.sync", &["/usr/bin/rsync", "-a", "a", "b"], interval),
    )
    .unwrap();
    // Not scheduled, and ops-atomic's own: not proposed.
    std::fs::write(agents.join("com.me.server.plist"), plist("com.me.server", &["/usr/bin/server"], "")).unwrap();
    std::fs::write(
        agents.join("x.ops_atomic_daily.plist"),
        plist("x.ops_atomic_daily", &["/opt/ops-atomic", "daily"], calendar),
    )
    .unwrap();
    let r = ops(&root)
        .args(["init", "--dry-run"])
        .env("OPS_ATOMIC_INIT_REDIS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("OPS_ATOMIC_INIT_PG_ADDR", format!("127.0.0.1:{}", free_port()))
        .run();
    r.expect_code(0);
    let text = &r.stdout;
    assert!(text.contains("#name = \"com.me.backup\""), "{text}");
    assert!(text.contains("#at = \"02:30\"") && text.contains("#days = [\"mon\", \"thu\"]"), "{text}");
    assert!(text.contains("#name = \"com.me.sync\"") && text.contains("#every = \"15m\""), "{text}");
    assert!(!text.contains("#name = \"com.me.server\"") && !text.contains("#name = \"x.ops_atomic_daily\""), "{text}");
    let bin = std::path::Path::new(BIN).canonicalize().unwrap();
    let wrapped = format!(
        "# ProgramArguments: [\"{}\", \"--root\", \"{}\", \"run\", \"com.me.backup\", \"--\", \"/usr/local/bin/restic\", \"backup\", \"/Users/me\"]",
        bin.display(),
        root.dir().canonicalize().unwrap().display()
    );
    assert!(text.contains(&wrapped), "{wrapped}\n{text}");
    // Switched on, they pass `config check` and are checked by the heartbeat.
    root.write_config(&with_jobs_on(text, &["com.me.backup", "com.me.sync"]));
    ops(&root).args(["config", "check"]).run().expect_code(0);
    let doc = ops(&root).args(["heartbeat", "--json", "--no-notify"]).no_launchctl().run().json();
    let ids: Vec<&str> = doc["checks"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(ids.contains(&"job:com.me.backup") && ids.contains(&"job:com.me.sync"), "{ids:?}");
}

#[test]
fn summary_the_daily_report_events_the_page_and_prometheus_show_jobs() {
    let root = TestRoot::new();
    let prom_dir = TestRoot::new();
    let prom = prom_dir.path("ops_atomic.prom");
    config(
        &root,
        &format!(
            "[export]\nprometheus_textfile = \"{}\"\n[[job]]\nname = \"backup\"\nevery = \"1d\"\n[[job]]\nname = \"never\"\nevery = \"1d\"\n",
            prom.display()
        ),
    );
    for i in 0..4 {
        run(&root, "backup", &["sh", "-c", &format!("sleep 0.{i}; echo pass {i}")]).expect_code(0);
    }
    run(&root, "backup", &["sh", "-c", "echo 'disk full' >&2; exit 5"]).expect_code(5);

    // summary, text and JSON.
    let text = ops(&root).args(["summary"]).run();
    text.expect_code(0);
    let line = text.stdout.lines().find(|l| l.trim_start().starts_with("backup")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("5 runs, 1 failed; p50 "), "{line}");
    assert!(line.contains("UTC: failed, exit 5 after"), "{line}");
    let never = text.stdout.lines().find(|l| l.trim_start().starts_with("never")).unwrap();
    assert!(never.contains("0 runs") && never.contains("never run"), "{never}");
    let doc = ops(&root).args(["summary", "--json"]).run().json();
    let backup = doc["jobs"].as_array().unwrap().iter().find(|j| j["name"] == "backup").unwrap();
    assert_eq!(backup["runs"], 5);
    assert_eq!(backup["failures"], 1);
    assert!(backup["p50_ms"].as_u64().is_some() && backup["p95_ms"].as_u64() >= backup["p50_ms"].as_u64());
    assert_eq!(backup["last"]["outcome"], "failed");
    assert_eq!(backup["last"]["exit"], 5);

    // events: the runs in words, a failure with its last line.
    let ev = ops(&root).args(["events", "--check", "job:backup"]).run();
    ev.expect_code(0);
    assert_eq!(ev.stdout.lines().filter(|l| l.contains("backup: job started — sh -c")).count(), 5, "{ev}");
    assert_eq!(ev.stdout.lines().filter(|l| l.contains("backup: job finished — exit 0 after")).count(), 4, "{ev}");
    assert!(
        ev.stdout.lines().any(|l| l.contains("backup: job failed — exit 5 after") && l.ends_with(": disk full")),
        "{ev}"
    );
    let only_ends = ops(&root).args(["events", "--type", "job_end", "--json"]).run();
    assert_eq!(only_ends.stdout.lines().count(), 5, "{only_ends}");

    // The heartbeat: the job fails, the Prometheus file carries the jobs.
    ops(&root).args(["heartbeat", "--no-notify"]).run().expect_code(2);
    let p = std::fs::read_to_string(&prom).unwrap();
    assert!(p.contains("ops_atomic_job_runs{check=\"job:backup\",name=\"backup\"} 5"), "{p}");
    assert!(p.contains("ops_atomic_job_failures{check=\"job:backup\",name=\"backup\"} 1"), "{p}");
    assert!(p.contains("ops_atomic_job_last_success{check=\"job:backup\",name=\"backup\"} 0"), "{p}");
    assert!(
        p.contains("ops_atomic_job_duration_seconds{check=\"job:backup\",name=\"backup\",quantile=\"0.95\"}"),
        "{p}"
    );
    assert!(p.contains("ops_atomic_job_runs{check=\"job:never\",name=\"never\"} 0"), "{p}");
    assert!(
        p.contains(
            "ops_atomic_check_status{check=\"job:backup\",name=\"backup\",kind=\"job\",severity=\"critical\"} 2"
        ),
        "{p}"
    );

    // The page: a Jobs table.
    ops(&root).arg("page").run().expect_code(0);
    let html = root.read("g/reports/status.html");
    let row = html.split("<tr class=\"job\" data-check=\"job:backup\"").nth(1).unwrap_or_else(|| panic!("{html}"));
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("<td class=\"num\" data-label=\"Runs\">5</td>"), "{row}");
    assert!(row.contains("<span class=\"s-fail\">1</span>"), "{row}");
    assert!(row.contains("failed, exit 5 after"), "{row}");

    // The daily report: the same numbers.
    ops(&root).args(["daily", "--no-notify"]).run();
    let daily = root.latest_report("daily");
    let jobs = daily.split("### Jobs").nth(1).unwrap_or_else(|| panic!("{daily}"));
    let line = jobs.lines().find(|l| l.starts_with("| backup |")).unwrap_or_else(|| panic!("{daily}"));
    assert!(line.starts_with("| backup | 5 | 1 |"), "{line}");
    assert!(line.contains("failed, exit 5 after"), "{line}");
}

#[test]
fn a_symlink_planted_at_a_job_file_is_refused_and_the_command_still_runs() {
    let root = TestRoot::new();
    let victim = TestRoot::new();
    let target = victim.write("victim.txt", "untouched\n");
    std::fs::create_dir_all(root.path("g/state/jobs")).unwrap();
    std::os::unix::fs::symlink(&target, root.path("g/state/jobs/planted.jsonl")).unwrap();
    let r = run(&root, "planted", &["sh", "-c", "echo still ran"]);
    r.expect_code(0);
    assert_eq!(r.stdout, "still ran\n");
    assert!(r.stderr.contains("the run is not recorded"), "{r}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched\n");
}

#[test]
fn a_busy_job_file_stays_small_keeps_its_last_runs_and_the_newest_outputs() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"sync\"\nevery = \"5m\"\n");
    // Three weeks of a job every 5 minutes, each end with 4 KB of output: 25 MB.
    let start = Utc::now() - chrono::Duration::days(21);
    let path = "g/state/jobs/sync.jsonl";
    let out = "x".repeat(4000);
    let mut text = String::new();
    for i in 0..6048 {
        let t = start + chrono::Duration::minutes(5 * i);
        let common = format!("\"check\":\"job:sync\",\"name\":\"sync\",\"run\":\"r{i}\",\"pid\":1");
        text.push_str(&format!("{{\"ts\":\"{}\",\"type\":\"job_start\",{common}}}\n", t.to_rfc3339()));
        text.push_str(&format!(
            "{{\"ts\":\"{}\",\"type\":\"job_end\",{common},\"exit\":0,\"duration_ms\":2000,\"output\":\"{out}\"}}\n",
            (t + chrono::Duration::seconds(2)).to_rfc3339()
        ));
    }
    root.write(path, &text);
    assert!(root.read(path).len() > 20_000_000);
    run(&root, "sync", &["sh", "-c", "echo newest output; exit 4"]).expect_code(4);
    let kept = records(&root, "sync");
    assert_eq!(kept.len(), 2000, "the last 1,000 runs");
    assert!(root.read(path).len() < 1_000_000, "{} bytes", root.read(path).len());
    assert_eq!(kept.iter().filter(|r| r.get("output").is_some()).count(), 20, "only the newest 20 ends keep output");
    let last = kept.last().unwrap();
    assert_eq!(last["exit"], 4);
    assert!(last["output"].as_str().unwrap().contains("newest output"));
    // What the heartbeat says still quotes the failed run's output.
    let (status, message) = judge(&root, "job:sync", &[]);
    assert_eq!(status, "fail");
    assert!(message.contains("exit 4") && message.contains("newest output"), "{message}");
}

#[test]
fn a_pid_given_again_to_another_process_is_not_the_run_still_going() {
    let root = TestRoot::new();
    config(&root, "[[job]]\nname = \"reused\"\nevery = \"1h\"\n");
    // A process started now holds the pid a run recorded for its wrapper and its command an hour ago.
    let mut other = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = other.id();
    let started = Utc::now() - chrono::Duration::hours(1);
    let start = json!({"ts": started.to_rfc3339(), "check": "job:reused", "name": "reused", "type": "job_start",
        "run": "r1", "pid": pid, "child": pid});
    root.write("g/state/jobs/reused.jsonl", &format!("{start}\n"));
    let (status, msg) = judge(&root, "job:reused", &[]);
    other.kill().unwrap();
    other.wait().unwrap();
    assert_eq!(status, "fail");
    assert!(msg.ends_with("never finished (the wrapper was killed)"), "not still running: {msg}");
}
