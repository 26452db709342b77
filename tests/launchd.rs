//! `enable`, `disable`, `status` and `plist` against a fake launchctl that
//! keeps which labels are loaded and fails like the real one (SPEC §9).

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

const MONITOR: &str = "com.02luka.ops_atomic_monitor";
const DAILY: &str = "com.02luka.ops_atomic_daily";

fn installed(root: &TestRoot, label: &str) -> std::path::PathBuf {
    root.agents_dir().join(format!("{label}.plist"))
}

fn read_plist(path: &Path) -> plist::Dictionary {
    plist::Value::from_file(path)
        .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
        .into_dictionary()
        .expect("a dictionary")
}

fn string<'a>(d: &'a plist::Dictionary, key: &str) -> &'a str {
    d.get(key).and_then(plist::Value::as_string).unwrap_or_else(|| panic!("{key} is not a string"))
}

fn agent<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["agents"]
        .as_array()
        .expect("agents array")
        .iter()
        .find(|a| a["agent"] == name)
        .unwrap_or_else(|| panic!("no agent {name} in {status}"))
}

/// Calls that change launchd's state.
fn changing_calls(fake: &FakeLaunchctl) -> Vec<Vec<String>> {
    fake.calls()
        .into_iter()
        .filter(|c| ["bootstrap", "bootout", "enable", "disable", "load", "unload", "remove"].contains(&c[0].as_str()))
        .collect()
}

#[test]
fn enable_then_status_shows_both_agents_loaded() {
    let root = TestRoot::new();
    let run = ops(&root).arg("enable").run();
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("✅ Verified: {MONITOR} is loaded")), "{run}");
    assert!(root.launchctl().is_loaded(MONITOR) && root.launchctl().is_loaded(DAILY));
    assert!(!root.launchctl().is_disabled(MONITOR));

    let status = ops(&root).args(["status", "--json"]).run();
    status.expect_code(0);
    let json = status.json();
    for name in ["monitor", "daily"] {
        let a = agent(&json, name);
        assert_eq!(a["installed"], true, "{a}");
        assert_eq!(a["loaded"], true, "{a}");
        assert_eq!(a["stale"], false, "{a}");
    }
    let text = ops(&root).arg("status").run();
    text.expect_code(0);
    assert!(text.stdout.contains("✅ monitor (com.02luka.ops_atomic_monitor)"), "{text}");
    assert!(text.stdout.contains("every 300 s") && text.stdout.contains("daily at 02:00"), "{text}");
}

#[test]
fn enable_twice_boots_out_the_old_job_and_waits_for_it() {
    let root = TestRoot::new();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    // The booted-out job lingers for a few queries, as launchd's teardown does.
    root.launchctl().bootout_lag(3);
    let run = ops(&root).args(["enable", "monitor"]).run();
    run.expect_code(0);
    assert!(run.stdout.contains("Booted out"), "{run}");
    assert!(root.launchctl().is_loaded(MONITOR));
    assert_eq!(root.launchctl().calls_of("bootstrap").len(), 2);
    assert!(!run.output().contains('❌'), "{run}");
}

#[test]
fn disable_during_a_teardown_in_progress_waits_for_it() {
    let root = TestRoot::new();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    // Someone else's bootout is still tearing the job down: launchctl answers
    // a second bootout with "Boot-out failed: 36: Operation now in progress".
    root.launchctl().bootout_lag(4);
    let target = format!("{}/{MONITOR}", root.launchctl().domain());
    root.launchctl().run(&["bootout", &target]).expect_code(0);
    let clash = root.launchctl().run(&["bootout", &target]);
    clash.expect_code(36);
    root.launchctl().clear_calls();

    let run = ops(&root).args(["disable", "monitor"]).run();
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("Verified: {MONITOR} is not loaded and not installed")), "{run}");
    assert!(!run.output().contains('❌'), "{run}");
    assert!(!root.launchctl().is_loaded(MONITOR));
    assert!(!installed(&root, MONITOR).exists());
}

#[test]
fn disable_twice_is_clean() {
    let root = TestRoot::new();
    ops(&root).arg("enable").run().expect_code(0);
    let run = ops(&root).arg("disable").run();
    run.expect_code(0);
    assert!(root.launchctl().loaded().is_empty());
    assert!(!installed(&root, MONITOR).exists() && !installed(&root, DAILY).exists());
    assert!(run.stdout.contains(&format!("Verified: {MONITOR} is not loaded and not installed")), "{run}");
    // The copies kept with the root stay.
    assert!(root.exists(&format!("LaunchAgents/{MONITOR}.plist")));

    let again = ops(&root).arg("disable").run();
    again.expect_code(0);
    assert!(again.stdout.contains("was not enabled"), "{again}");
    assert!(again.stdout.contains("nothing to do"), "{again}");
}

#[test]
fn enable_clears_a_launchctl_disable_before_bootstrapping() {
    let root = TestRoot::new();
    // A disabled label cannot be bootstrapped (exit 5) until it is enabled.
    root.launchctl().set_disabled(MONITOR, true);
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    assert!(!root.launchctl().is_disabled(MONITOR));
    assert!(root.launchctl().is_loaded(MONITOR));
}

#[test]
fn disable_when_nothing_is_installed_says_so() {
    let root = TestRoot::new();
    let run = ops(&root).args(["disable", "daily"]).run();
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("{DAILY} was not enabled")), "{run}");
    assert!(root.launchctl().calls_of("bootout").is_empty());
}

#[test]
fn the_generated_plists_parse_back_with_absolute_paths() {
    let root = TestRoot::new();
    let agents = root.dir().join("agents");
    fs::create_dir_all(&agents).unwrap();
    ops(&root).arg("enable").arg("--agents-dir").arg(&agents).run().expect_code(0);
    let rootdir = root.dir().to_str().unwrap();

    let m = read_plist(&agents.join(format!("{MONITOR}.plist")));
    assert_eq!(string(&m, "Label"), MONITOR);
    let args: Vec<&str> = m["ProgramArguments"].as_array().unwrap().iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(args[1..], ["heartbeat", "--root", rootdir]);
    assert!(Path::new(args[0]).is_absolute() && Path::new(args[0]).exists(), "{args:?}");
    assert_eq!(args[0], fs::canonicalize(BIN).unwrap().to_str().unwrap());
    assert_eq!(string(&m, "WorkingDirectory"), rootdir);
    assert_eq!(string(&m, "StandardOutPath"), format!("{rootdir}/g/logs/ops_monitor.log"));
    assert_eq!(string(&m, "StandardErrorPath"), format!("{rootdir}/g/logs/ops_monitor.err"));
    assert_eq!(m["StartInterval"].as_unsigned_integer(), Some(300));
    assert_eq!(m["RunAtLoad"].as_boolean(), Some(false));
    // The monitor is Standard (launchd may defer Background jobs for hours
    // on battery), the daily run Background; both stop within ExitTimeOut.
    assert_eq!(string(&m, "ProcessType"), "Standard");
    assert!(m["ExitTimeOut"].as_unsigned_integer().unwrap() > 10, "above the 10 s deadline");
    let env = m["EnvironmentVariables"].as_dictionary().unwrap();
    assert!(env.get("PATH").is_some() && env.get("OPS_ATOMIC_CONFIG").is_none());
    // launchd opens the log files itself: their folder must exist.
    assert!(root.path("g/logs").is_dir());

    let d = read_plist(&agents.join(format!("{DAILY}.plist")));
    let cal = d["StartCalendarInterval"].as_dictionary().unwrap();
    assert_eq!(cal["Hour"].as_unsigned_integer(), Some(2));
    assert_eq!(cal["Minute"].as_unsigned_integer(), Some(0));
    assert!(d.get("StartInterval").is_none());
    assert_eq!(string(&d, "StandardErrorPath"), format!("{rootdir}/g/logs/ops_atomic_daily.err"));
    assert_eq!(string(&d, "ProcessType"), "Background");

    // The copy kept in <root>/LaunchAgents is the same plist.
    assert_eq!(read_plist(&root.path(&format!("LaunchAgents/{MONITOR}.plist"))), m);
    // And it is what launchd was given.
    let job = root.launchctl().job(MONITOR).unwrap();
    assert_eq!(job.plist.as_deref(), Some(agents.join(format!("{MONITOR}.plist")).as_path()));
}

#[test]
fn a_named_config_is_passed_on_and_the_schedule_follows_the_config() {
    let root = TestRoot::new();
    let config = root.write(
        "elsewhere/ops.toml",
        "[launchd]\nlabel_prefix = \"org.example\"\ninterval_s = 120\n[daily]\nhour = 4\nminute = 30\n",
    );
    ops(&root).arg("--config").arg(&config).arg("enable").run().expect_code(0);
    let m = read_plist(&installed(&root, "org.example.ops_atomic_monitor"));
    assert_eq!(m["StartInterval"].as_unsigned_integer(), Some(120));
    let env = m["EnvironmentVariables"].as_dictionary().unwrap();
    assert_eq!(env["OPS_ATOMIC_CONFIG"].as_string(), Some(config.to_str().unwrap()));
    let d = read_plist(&installed(&root, "org.example.ops_atomic_daily"));
    let cal = d["StartCalendarInterval"].as_dictionary().unwrap();
    assert_eq!(cal["Hour"].as_unsigned_integer(), Some(4));
    assert_eq!(cal["Minute"].as_unsigned_integer(), Some(30));
}

#[test]
fn a_root_with_a_tilde_is_refused() {
    let root = TestRoot::new();
    let tilde = root.path("with~tilde");
    fs::create_dir_all(&tilde).unwrap();
    let run = ops(&root).without_root_flag().env("OPS_ATOMIC_ROOT", &tilde).arg("enable").run();
    run.expect_code(3);
    assert!(run.output().contains("does not expand tildes"), "{run}");
    assert!(changing_calls(root.launchctl()).is_empty());
    assert!(!root.agents_dir().exists() || fs::read_dir(root.agents_dir()).unwrap().next().is_none());

    let plist = ops(&root).without_root_flag().env("OPS_ATOMIC_ROOT", &tilde).args(["plist", "monitor"]).run();
    plist.expect_code(3);
}

#[test]
fn a_stale_installed_plist_is_reported() {
    let root = TestRoot::new();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    root.write_config("[launchd]\ninterval_s = 600\n");
    let json = ops(&root).args(["status", "--json"]).run();
    json.expect_code(0);
    let m = agent(&json.json(), "monitor").clone();
    assert_eq!(m["stale"], true, "{m}");
    assert!(m["stale_reason"].as_str().unwrap().contains("StartInterval"), "{m}");
    let text = ops(&root).arg("status").run();
    assert!(text.stdout.contains("stale"), "{text}");
    // Enabling again brings it up to date.
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    let m = ops(&root).args(["status", "--json"]).run().json();
    assert_eq!(agent(&m, "monitor")["stale"], false);
}

#[test]
fn a_failing_bootstrap_stops_enable_with_a_decoded_error() {
    let root = TestRoot::new();
    root.launchctl().fail_bootstrap(true);
    let run = ops(&root).arg("enable").run();
    run.expect_code(3);
    let out = run.output();
    assert!(out.contains("❌ `launchctl bootstrap"), "{run}");
    assert!(out.contains("5: Input/output error"), "{run}");
    // enable had booted the label out and enabled it: the advice goes further.
    assert!(out.contains("launchd refused the plist"), "{run}");
    assert!(out.contains("sudo launchctl bootstrap"), "{run}");
    assert!(!out.contains("Try re-running"), "{run}");
    // It stopped at the first agent.
    let bootstraps = root.launchctl().calls_of("bootstrap");
    assert_eq!(bootstraps.len(), 1, "{bootstraps:?}");
    assert!(!out.contains(DAILY), "{run}");
}

#[test]
fn a_domain_that_refuses_is_explained() {
    let root = TestRoot::new();
    // gui/<our uid> is "not supported": what happens over SSH.
    root.launchctl().set_uid(current_uid() + 1);
    let run = ops(&root).args(["enable", "monitor"]).run();
    run.expect_code(3);
    assert!(run.output().contains("not over SSH"), "{run}");
}

#[test]
fn dry_run_shows_the_plist_and_changes_nothing() {
    let root = TestRoot::new();
    let run = ops(&root).args(["enable", "--dry-run"]).run();
    run.expect_code(0);
    assert!(run.stdout.contains("<key>ProgramArguments</key>"), "{run}");
    assert!(run.stdout.contains("launchctl bootstrap gui/"), "{run}");
    assert!(run.stdout.contains("launchctl bootout gui/"), "{run}");
    assert!(changing_calls(root.launchctl()).is_empty());
    assert!(!root.agents_dir().exists());
    assert!(!root.exists("LaunchAgents"));
}

#[test]
fn enable_falls_back_to_load_when_bootstrap_is_unknown() {
    let root = TestRoot::new();
    root.launchctl().set_unknown(&["bootstrap"]);
    let run = ops(&root).args(["enable", "monitor"]).run();
    run.expect_code(0);
    let loads = root.launchctl().calls_of("load");
    assert_eq!(loads.len(), 1, "{run}");
    assert_eq!(loads[0][1], "-w");
    assert!(root.launchctl().is_loaded(MONITOR));
}

#[test]
fn a_legacy_only_launchctl_is_verified_by_listing() {
    let root = TestRoot::new();
    root.launchctl().legacy_only();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    assert!(root.launchctl().is_loaded(MONITOR));
    // Enabling again unloads the old copy first.
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    assert_eq!(root.launchctl().calls_of("unload").len(), 1);
    let status = ops(&root).args(["status", "--json"]).run().json();
    assert_eq!(agent(&status, "monitor")["loaded"], true);
    ops(&root).args(["disable", "monitor"]).run().expect_code(0);
    assert!(!root.launchctl().is_loaded(MONITOR));
}

#[test]
fn a_legacy_launchctl_removes_a_loaded_job_whose_plist_is_gone() {
    let root = TestRoot::new();
    root.launchctl().legacy_only();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    // Someone deleted the installed plist by hand; launchd still has the job.
    std::fs::remove_file(installed(&root, MONITOR)).unwrap();
    assert!(root.launchctl().is_loaded(MONITOR));
    let run = ops(&root).args(["disable", "monitor"]).run();
    run.expect_code(0);
    assert_eq!(root.launchctl().calls_of("remove"), [vec!["remove".to_string(), MONITOR.to_string()]], "{run}");
    assert!(!root.launchctl().is_loaded(MONITOR));
    assert!(run.stdout.contains(&format!("Verified: {MONITOR} is not loaded and not installed")), "{run}");
}

#[test]
fn a_legacy_load_that_fails_silently_is_caught() {
    let root = TestRoot::new();
    root.launchctl().legacy_only().fail_bootstrap(true);
    // Legacy `load` prints "Load failed: 5: ..." and still exits 0.
    let run = ops(&root).args(["enable", "monitor"]).run();
    run.expect_code(3);
    assert!(run.output().contains("5: Input/output error"), "{run}");
}

#[test]
fn status_without_launchctl_still_shows_the_state() {
    let root = TestRoot::new();
    let old = chrono::Utc::now() - chrono::Duration::hours(2);
    root.write_state(&serde_json::json!({
        "version": 1, "runs": 7, "consecutive_failures": 2, "consecutive_successes": 0,
        "alert_active": false, "last_run_at": old.to_rfc3339(), "last_status": "CRITICAL",
        "pending_notifications": []
    }));
    let run = ops(&root).no_launchctl().arg("status").run();
    run.expect_code(0);
    assert!(run.stdout.contains("launchctl not available"), "{run}");
    assert!(run.stdout.contains("2/3"), "{run}");
    assert!(run.stdout.contains("STALE"), "{run}");

    let json = ops(&root).no_launchctl().args(["status", "--json"]).run().json();
    assert_eq!(json["launchctl"]["available"], false);
    assert_eq!(agent(&json, "monitor")["loaded"], Value::Null);
    assert_eq!(json["state"]["stale"], true);
    assert_eq!(json["state"]["consecutive_failures"], 2);
    assert!(json["state"]["last_run_age_s"].as_i64().unwrap() >= 7200);
}

#[test]
fn status_reads_the_monitor_exit_codes_as_nagios_codes() {
    let root = TestRoot::new();
    ops(&root).arg("enable").run().expect_code(0);
    root.launchctl().seed(MONITOR, None, 2).seed(DAILY, Some(4242), 3);
    let json = ops(&root).args(["status", "--json"]).run().json();
    let m = agent(&json, "monitor");
    assert_eq!(m["last_exit"], 2);
    assert!(m["last_exit_meaning"].as_str().unwrap().contains("the monitor works"), "{m}");
    let d = agent(&json, "daily");
    assert_eq!(d["pid"], 4242);
    assert!(d["last_exit_meaning"].as_str().unwrap().contains("tool failure"), "{d}");
}

#[test]
fn status_shows_reports_logs_and_errors() {
    let root = TestRoot::new();
    root.write(
        "g/reports/ops_atomic/heartbeat_2025-01-01_00-00-00.md",
        "# OPS-Atomic Monitor Heartbeat\n\n**Timestamp:** x\n**Status:** ❌ CRITICAL\n",
    );
    root.write(
        "g/reports/ops_atomic/heartbeat_2025-01-01_00-05-00.md",
        "# OPS-Atomic Monitor Heartbeat\n\n**Timestamp:** x\n**Status:** ✅ HEALTHY\n",
    );
    root.write("g/logs/ops_monitor.log", "line one\nline two\n=== Monitor Complete: ✅ HEALTHY ===\n");
    root.write("g/logs/ops_monitor.err", "first problem\nsecond problem\n");
    let json = ops(&root).args(["status", "--json"]).run().json();
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports[0]["name"], "heartbeat_2025-01-01_00-05-00.md");
    assert_eq!(reports[0]["status"], "HEALTHY");
    assert_eq!(reports[1]["status"], "CRITICAL");
    assert!(reports[0]["age_s"].as_i64().unwrap() > 0);
    assert_eq!(json["logs"][0]["last_lines"][2], "=== Monitor Complete: ✅ HEALTHY ===");
    assert_eq!(json["errors"][0]["lines"], 2);
    assert_eq!(json["errors"][0]["last_lines"][1], "second problem");
    assert_eq!(json["state"]["never_ran"], true);

    let text = ops(&root).arg("status").run();
    assert!(text.stdout.contains("CRITICAL  heartbeat_2025-01-01_00-00-00.md"), "{text}");
    assert!(text.stdout.contains("2 lines"), "{text}");

    // A name reserved by a run that was killed before it wrote the report.
    root.write("g/reports/ops_atomic/heartbeat_2025-01-01_00-10-00.md", "");
    let json = ops(&root).args(["status", "--json"]).run().json();
    assert_eq!(json["reports"][0]["empty"], true, "{json}");
    assert_eq!(json["reports"][1]["empty"], false, "{json}");
    let text = ops(&root).arg("status").run();
    assert!(
        text.stdout.contains("heartbeat_2025-01-01_00-10-00.md") && text.stdout.contains("empty, still being written"),
        "{text}"
    );
}

#[test]
fn no_secret_reaches_a_plist_or_the_output() {
    let root = TestRoot::new();
    let token = "WebhookTokenXyz123";
    let password = "hunter2secretpw";
    let env = [
        ("DISCORD_OPS_WEBHOOK", format!("https://discord.com/api/webhooks/42/{token}")),
        ("REDIS_URL", format!("redis://:{password}@127.0.0.1:6379")),
        ("DATABASE_URL", format!("postgresql://app:{password}@127.0.0.1:5432/app")),
    ];
    let with_env = |mut o: Ops| {
        for (k, v) in &env {
            o = o.env(k, v);
        }
        o
    };
    let run = with_env(ops(&root).arg("enable")).run();
    run.expect_code(0);
    let status = with_env(ops(&root).arg("status")).run();
    let plist_out = with_env(ops(&root).args(["plist", "monitor"])).run();
    for secret in [token, password] {
        for f in [installed(&root, MONITOR), installed(&root, DAILY)] {
            assert!(!fs::read_to_string(&f).unwrap().contains(secret), "{} leaks", f.display());
        }
        assert!(root.files_containing(secret).is_empty(), "{secret} in {:?}", root.files_containing(secret));
        assert!(!run.output().contains(secret));
        assert!(!status.output().contains(secret));
        assert!(!plist_out.output().contains(secret));
    }
}

#[test]
fn plist_prints_xml_that_parses() {
    let root = TestRoot::new();
    let run = ops(&root).args(["plist", "monitor"]).run();
    run.expect_code(0);
    assert!(run.stdout.starts_with("<?xml"), "{run}");
    let v = plist::Value::from_reader_xml(run.stdout.as_bytes()).expect("XML plist");
    let d = v.as_dictionary().unwrap();
    assert_eq!(d["StartInterval"].as_unsigned_integer(), Some(300));
    assert_eq!(d["Label"].as_string(), Some(MONITOR));
    // `plist` changes nothing.
    assert!(root.launchctl().calls().is_empty());
    assert!(!root.exists("LaunchAgents"));

    let daily = ops(&root).args(["plist", "daily"]).run();
    daily.expect_code(0);
    assert!(daily.stdout.contains("<key>StartCalendarInterval</key>"), "{daily}");
}

#[test]
fn the_launchctl_on_path_is_used() {
    let root = TestRoot::new();
    ops(&root).launchctl_on_path().args(["enable", "daily"]).run().expect_code(0);
    assert!(root.launchctl().is_loaded(DAILY));
}

#[test]
fn status_with_a_broken_config_still_reports_and_names_the_error() {
    let root = TestRoot::new();
    ops(&root).args(["enable", "monitor"]).run().expect_code(0);
    root.write_config("[monitor]\nalert_threshold = \"three\"\n");
    // Other commands refuse the config...
    ops(&root).arg("heartbeat").run().expect_code(3);
    // ...status reports what it can, with the defaults, and says why.
    let text = ops(&root).arg("status").run();
    text.expect_code(0);
    assert!(text.stdout.contains("the config file does not load"), "{text}");
    assert!(text.stdout.contains("alert_threshold"), "{text}");
    assert!(text.stdout.contains("loaded"), "{text}");
    let json = ops(&root).args(["status", "--json"]).run();
    json.expect_code(0);
    let doc = json.json();
    assert!(doc["config_error"].as_str().unwrap().contains("alert_threshold"), "{doc}");
    assert_eq!(agent(&doc, "monitor")["loaded"], true, "{doc}");
    // A config that loads has no error to name.
    root.write_config("");
    assert_eq!(ops(&root).args(["status", "--json"]).run().json()["config_error"], Value::Null);
}

#[test]
fn enable_from_a_second_root_needs_force() {
    let first = TestRoot::new();
    let agents = first.dir().with_file_name("shared-agents");
    fs::create_dir_all(&agents).unwrap();
    ops(&first).arg("enable").arg("--agents-dir").arg(&agents).run().expect_code(0);
    let first_root = first.dir().to_str().unwrap().to_string();

    // Another checkout, the same agents folder and launchd.
    let second = first.dir().with_file_name("second");
    fs::create_dir_all(&second).unwrap();
    let second = second.canonicalize().unwrap();
    let other = |args: &[&str]| {
        let mut o = ops(&first).without_root_flag().arg("--root").arg(&second);
        for a in args {
            o = o.arg(a);
        }
        o.arg("--agents-dir").arg(&agents)
    };
    first.launchctl().clear_calls();
    // A dry run says so too, and exits as `enable` would.
    let dry = other(&["enable", "--dry-run"]).run();
    dry.expect_code(3);
    assert!(dry.stdout.contains("installed for another root") && dry.stdout.contains("--force"), "{dry}");
    let run = other(&["enable"]).run();
    run.expect_code(3);
    assert!(run.stdout.contains(&first_root) && run.stdout.contains(second.to_str().unwrap()), "{run}");
    assert!(run.stdout.contains("--force"), "{run}");
    // Nothing moved: the first root is still what launchd runs.
    assert!(changing_calls(first.launchctl()).is_empty(), "{:?}", first.launchctl().calls());
    let m = read_plist(&agents.join(format!("{MONITOR}.plist")));
    let args: Vec<&str> = m["ProgramArguments"].as_array().unwrap().iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(args[3], first_root);
    // status from the second root flags it.
    let status = other(&["status", "--json"]).run().json();
    assert_eq!(agent(&status, "monitor")["other_root"], true, "{status}");
    assert_eq!(agent(&status, "monitor")["root"], first_root.as_str());

    let forced = other(&["enable", "--force"]).run();
    forced.expect_code(0);
    assert!(forced.stdout.contains("--force moves it"), "{forced}");
    let m = read_plist(&agents.join(format!("{MONITOR}.plist")));
    assert_eq!(m["ProgramArguments"].as_array().unwrap()[3].as_string(), second.to_str());
    let status = other(&["status", "--json"]).run().json();
    assert_eq!(agent(&status, "monitor")["other_root"], false, "{status}");
}

#[test]
fn settings_launchd_will_not_see_are_warned_about() {
    let root = TestRoot::new();
    root.write_config(
        "[[api]]\nname = \"web\"\nurl = \"http://127.0.0.1:1/\"\nheaders = { Authorization = \"Bearer ${API_TOKEN}\" }\n",
    );
    let run = ops(&root)
        .arg("enable")
        .env("DISCORD_OPS_WEBHOOK", "https://discord.com/api/webhooks/1/SecretTok")
        .env("API_TOKEN", "t0ken")
        .run();
    run.expect_code(0);
    let warning = run.stdout.lines().find(|l| l.contains("DISCORD_OPS_WEBHOOK")).unwrap_or_else(|| panic!("{run}"));
    assert!(warning.starts_with("⚠️"), "{warning}");
    assert!(warning.contains("launchd will not pass it") && warning.contains("webhook_url"), "{warning}");
    assert!(warning.contains(root.path(CONFIG).to_str().unwrap()), "{warning}");
    assert!(run.stdout.contains("${API_TOKEN}"), "{run}");
    assert!(!run.output().contains("SecretTok"), "{run}");
    // Without them, no warning.
    let quiet = ops(&root).arg("enable").run();
    assert!(!quiet.stdout.contains("DISCORD_OPS_WEBHOOK"), "{quiet}");
}
