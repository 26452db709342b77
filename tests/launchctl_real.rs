//! Every answer recorded from a real Mac (tests/fixtures/launchctl/real/),
//! replayed through the fake launchctl into `status`, `enable`, `disable`
//! and `heartbeat`, and what a user then reads (SPEC §9).

mod common;

use common::*;
use serde_json::Value;

const MONITOR: &str = "com.02luka.ops_atomic_monitor";
const NO_SERVERS: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n";

/// How often `n` appears as a number in `line`, leaving out the test's
/// temp paths and uid (whose digits are not launchctl's).
fn times(root: &TestRoot, line: &str, n: i32) -> usize {
    let tmp = root.dir().parent().expect("the test folder").display().to_string();
    let line = line.replace(&tmp, "<tmp>").replace(&root.launchctl().domain(), "gui/<uid>");
    let n = n.to_string();
    line.match_indices(&n)
        .filter(|(i, _)| {
            let before = line[..*i].chars().next_back();
            let after = line[i + n.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
        })
        .count()
}

fn agent<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["agents"].as_array().expect("agents").iter().find(|a| a["agent"] == name).expect("the agent")
}

/// `enable monitor` with the fixture answering its subcommand; exit 3 and
/// the ❌ line, which must hold launchctl's words and the number once.
fn enable_fails(root: &TestRoot, fixture: &str, words: &str, number: i32, must: &str) -> Run {
    root.launchctl().replay(fixture);
    let run = ops(root).args(["enable", "monitor"]).run();
    run.expect_code(3);
    let line = run.stdout.lines().find(|l| l.starts_with('❌')).unwrap_or_else(|| panic!("{fixture}: no ❌\n{run}"));
    assert!(line.contains(words), "{fixture}: {line}");
    assert!(line.contains(must), "{fixture}: {line}");
    assert!(line.contains("Fix: "), "{fixture}: {line}");
    assert_eq!(times(root, line, number), 1, "{fixture}: the number not once: {line}");
    assert!(!line.contains("Try re") && !line.contains("Try running"), "{fixture}: {line}");
    run
}

/// The same through a launchctl without `bootstrap`: legacy `load -w`, which
/// prints `Load failed: N: …` and exits 0. No ✅ for the load before it is verified.
fn legacy_load_fails(root: &TestRoot, fixture: &str, words: &str, number: i32, must: &str) {
    root.launchctl().set_unknown(&["bootstrap"]);
    let run = enable_fails(root, fixture, words, number, must);
    assert!(!run.stdout.contains("✅ launchctl load"), "{fixture}: {run}");
    assert!(!run.stdout.contains("Verified"), "{fixture}: {run}");
}

/// `enable monitor`, then `status` with the fixture answering `print`.
fn status_with_print(root: &TestRoot, fixture: &str) -> (Value, String) {
    ops(root).args(["enable", "monitor"]).run().expect_code(0);
    root.launchctl().replay(fixture);
    root.launchctl().clear_calls();
    let json = ops(root).args(["status", "--json"]).run();
    json.expect_code(0);
    let text = ops(root).arg("status").run();
    text.expect_code(0);
    (agent(&json.json(), "monitor").clone(), text.stdout)
}

fn monitor_header(text: &str) -> &str {
    text.lines().find(|l| l.contains(&format!("monitor ({MONITOR})"))).expect("the monitor's header")
}

/// `heartbeat --json` with `launchctl list` answering the fixture.
fn heartbeat_checks(root: &TestRoot, fixture: &str, labels: &[&str]) -> Vec<Value> {
    root.launchctl().replay(fixture);
    let labels: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
    root.write_config(&format!("{NO_SERVERS}[launchagents]\nlabels = [{}]\n", labels.join(", ")));
    let run = ops(root).args(["heartbeat", "--json"]).run();
    let doc = run.json();
    doc["checks"].as_array().unwrap_or_else(|| panic!("no checks in {run}")).clone()
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} in {checks:?}"))
}

fn replay_one(fixture: &str) {
    let root = TestRoot::new();
    match fixture {
        "b01-bootstrap-5" => {
            let run =
                enable_fails(&root, fixture, "Bootstrap failed: 5: Input/output error", 5, "sudo launchctl bootstrap");
            // Not "disable, then enable again": enable had just booted out and enabled it.
            assert!(!run.stdout.lines().last().unwrap_or("").contains("ops-atomic enable"), "{run}");
        }
        "b02-bootstrap-125" => {
            enable_fails(&root, fixture, "Domain does not support specified action", 125, "no GUI session");
        }
        "b03-bootstrap-119-disabled" => {
            let run = enable_fails(
                &root,
                fixture,
                "Bootstrap failed: 119: Service is disabled",
                119,
                "Allow in the Background",
            );
            // enable has just run `launchctl enable`: the fix is the switch in System Settings.
            assert!(
                run.stdout.contains(&format!("✅ launchctl enable {}/{MONITOR}", root.launchctl().domain())),
                "{run}"
            );
            let line = run.stdout.lines().find(|l| l.starts_with('❌')).unwrap();
            assert!(!line.contains("`launchctl enable"), "{line}");
        }
        "b04-bootstrap-37" => {
            enable_fails(&root, fixture, "service already loaded", 37, "(exit 37)");
        }
        "b05-load-134" => legacy_load_fails(&root, fixture, "Load failed: 134", 134, "LimitLoadToSessionType"),
        "b06-load-5-try-running" => {
            legacy_load_fails(&root, fixture, "Load failed: 5: Input/output error", 5, "sudo launchctl bootstrap")
        }
        "b07-load-119-disabled" => {
            legacy_load_fails(&root, fixture, "Load failed: 119", 119, "Allow in the Background")
        }
        "b08-load-37" => legacy_load_fails(&root, fixture, "Load failed: 37", 37, "already has this label loaded"),
        "b13-load-122" => legacy_load_fails(&root, fixture, "Load failed: 122", 122, "chmod 644"),
        "b09-bootout-3" | "b10-bootout-36" => {
            // Gone, or going: disable waits and succeeds.
            ops(&root).args(["enable", "monitor"]).run().expect_code(0);
            root.launchctl().replay(fixture);
            let run = ops(&root).args(["disable", "monitor"]).run();
            run.expect_code(0);
            assert!(run.stdout.contains(&format!("Verified: {MONITOR} is not loaded and not installed")), "{run}");
        }
        "b11-bootout-5" | "b14-bootout-150-sip" => {
            ops(&root).args(["enable", "monitor"]).run().expect_code(0);
            root.launchctl().replay(fixture);
            let run = ops(&root).args(["disable", "monitor"]).run();
            run.expect_code(3);
            let (words, number, must) = if fixture.contains("150") {
                ("Boot-out failed: 150", 150, "System Integrity Protection")
            } else {
                ("Boot-out failed: 5: Input/output error", 5, "sudo launchctl bootout")
            };
            let line = run.stdout.lines().find(|l| l.starts_with('❌')).expect("❌");
            assert!(line.contains(words) && line.contains(must), "{line}");
            assert!(!line.contains("ops-atomic disable"), "the fix repeats what just failed: {line}");
            assert_eq!(times(&root, line, number), 1, "{line}");
        }
        "b12-kickstart-125-macos26" => {
            // ops-atomic's own kickstart (repairs) reads the number from launchctl's words.
            root.launchctl().replay(fixture);
            let run = root.launchctl().run(&["kickstart", "-k", &format!("gui/501/{MONITOR}")]);
            run.expect_code(125);
            assert_eq!(ops_atomic::launchd::launchctl::error_number(&run.stderr), Some(125));
        }
        "d01-print-disabled" => {
            root.launchctl().replay(fixture);
            let run = root.launchctl().run(&["print-disabled", "system"]);
            let disabled = ops_atomic::launchd::launchctl::parse_disabled(&run.stdout);
            assert_eq!(disabled, ["org.nixos.darwin-store", "org.nixos.nix-daemon"]);
        }
        "e01-launchctl-error-77" => {
            // A number without advice of its own: `launchctl error N` gives its words.
            root.launchctl().replay(fixture);
            root.launchctl().answer("bootstrap", "", "", 77);
            let run = ops(&root).args(["enable", "monitor"]).run();
            run.expect_code(3);
            let line = run.stdout.lines().find(|l| l.starts_with('❌')).expect("❌");
            assert!(line.contains("failed: exit 77 —") && line.contains("\"No locks available\""), "{line}");
            assert_eq!(times(&root, line, 77), 1, "{line}");
        }
        "l01-list-exit78" => {
            let checks = heartbeat_checks(&root, fixture, &["homebrew.mxcl.postgresql", "homebrew.mxcl.redis"]);
            let pg = check(&checks, "homebrew.mxcl.postgresql");
            assert_eq!(pg["status"], "warn", "{pg}");
            assert!(pg["message"].as_str().unwrap().contains("exited 78 (EX_CONFIG)"), "{pg}");
            assert_eq!(check(&checks, "homebrew.mxcl.redis")["status"], "ok");
        }
        "l02-list-signals" => {
            let checks = heartbeat_checks(&root, fixture, &["com.apple.Finder", "com.apple.knowledgeconstructiond"]);
            let finder = check(&checks, "com.apple.Finder");
            assert_eq!(finder["status"], "ok", "a KeepAlive relaunch must not page: {finder}");
            let msg = finder["message"].as_str().unwrap();
            assert!(msg.contains("PID 42561") && msg.contains("relaunched") && msg.contains("signal 15"), "{msg}");
            let dead = check(&checks, "com.apple.knowledgeconstructiond");
            assert_eq!(dead["status"], "warn", "{dead}");
            assert!(dead["message"].as_str().unwrap().contains("signal 9 (SIGKILL)"), "{dead}");
        }
        "l03-list-label-dict" => {
            // `list <label>` answers a dictionary; none of its lines is a job row.
            root.launchctl().replay(fixture);
            let run = root.launchctl().run(&["list", "homebrew.mxcl.node_exporter"]);
            assert!(run.stdout.contains("\"PID\" = 40425;"), "{run}");
            assert!(ops_atomic::launchd::launchctl::parse_list(&run.stdout).is_empty());
        }
        "p01-print-calendar-exit0" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!(
                (m["loaded"].clone(), m["running"].clone(), m["last_exit"].clone()),
                (true.into(), false.into(), 0.into())
            );
            // Loaded from another file than the installed plist: flagged.
            assert_eq!(m["loaded_from"], "/Users/cp/Library/LaunchAgents/local.resticprofile.self.check.agent.plist");
            assert_eq!(m["loaded_from_other"], true);
            assert!(
                text.contains("launchd loaded it from /Users/cp/Library/LaunchAgents/local.resticprofile"),
                "{text}"
            );
            assert!(!monitor_header(&text).contains('✅'), "{text}");
        }
        "p02-print-spawn-failed-78" | "p03-print-codesigning-no-exit-code" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!(m["loaded"], true);
            assert_eq!(m["running"], false);
            let why = &m["could_not_start"];
            assert!(why["meaning"].as_str().unwrap().contains("launchd could not start it"), "{m}");
            if fixture.starts_with("p02") {
                assert_eq!(m["last_exit"], 78);
                assert!(why["said"].as_str().unwrap().contains("spawn failed"), "{why}");
                assert!(why["meaning"].as_str().unwrap().contains("cargo clean"), "{why}");
            } else {
                assert_eq!(m["last_exit"], Value::Null);
                assert!(text.contains("OS_REASON_CODESIGNING") && text.contains("code signature"), "{text}");
            }
            assert!(monitor_header(&text).contains('❌'), "{text}");
            assert!(text.contains("launchd could not start it") && text.contains("Fix: "), "{text}");
            // Submitted jobs have no file: nothing to flag.
            assert_eq!(m["loaded_from_other"], false);
        }
        "p04-print-xpcproxy" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!((m["running"].clone(), m["pid"].clone()), (true.into(), Value::Null));
            assert_eq!(m["state"], "xpcproxy");
            assert!(text.contains("loaded, starting (state = xpcproxy)"), "{text}");
            assert!(m["could_not_start"].is_null());
        }
        "p05-print-running" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!((m["running"].clone(), m["pid"].clone()), (true.into(), 64011.into()));
            assert!(text.contains("loaded, running (PID 64011)"), "{text}");
        }
        "p06-print-not-found-113" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!(m["loaded"], false);
            assert!(monitor_header(&text).contains('⚠'), "{text}");
            assert!(text.contains("❌ not loaded"), "{text}");
        }
        "p07-print-domain-125" | "p08-print-no-domain-112" => {
            let (m, text) = status_with_print(&root, fixture);
            assert_eq!(m["no_gui_session"], true, "{m}");
            assert_eq!(m["loaded"], Value::Null, "never read as not loaded: {m}");
            assert!(text.contains("no GUI session for this user"), "{text}");
            assert!(!text.contains("❌ not loaded"), "{text}");
            // `launchctl list` would answer for another session: not asked.
            assert!(root.launchctl().calls_of("list").is_empty(), "{:?}", root.launchctl().calls());
        }
        "t01-plutil-ok" => {
            root.launchctl().replay(fixture);
            let run = ops(&root).launchctl_on_path().args(["enable", "monitor"]).run();
            run.expect_code(0);
            assert!(run.stdout.contains("✅ plutil -lint: com.microsoft.wdav.plist: OK"), "{run}");
        }
        "t02-plutil-value-missing" | "t03-plutil-non-key" => {
            root.launchctl().replay(fixture);
            let run = ops(&root).launchctl_on_path().args(["enable", "monitor"]).run();
            run.expect_code(3);
            let words =
                if fixture.starts_with("t02") { "Value missing for key inside <dict>" } else { "Found non-key" };
            assert!(run.stdout.lines().any(|l| l.starts_with("❌ plutil -lint") && l.contains(words)), "{run}");
            assert!(root.launchctl().calls_of("bootstrap").is_empty(), "{run}");
        }
        other => panic!("fixture {other} is not replayed by any test: add it to replay_one"),
    }
}

#[test]
fn every_real_launchctl_answer_is_replayed() {
    let fixtures = FakeLaunchctl::real_fixtures();
    assert_eq!(fixtures.len(), 30, "{fixtures:?}");
    for fixture in &fixtures {
        replay_one(fixture);
    }
}
