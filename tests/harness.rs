//! Tests of the test harness itself (tests/common): each stand-in and server
//! behaves as the other test files assume. Nothing here runs ops-atomic.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Send one raw HTTP/1.1 request and read the whole answer (the stubs close
/// the connection after answering). Errors when nothing arrives in `timeout`.
fn http(port: u16, method: &str, target: &str, body: &str, timeout: Duration) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Probe: yes\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ok()
}

// --- Redis -----------------------------------------------------------------

#[test]
fn redis_answers_ping_over_raw_resp_and_refuses_after_stop() {
    let mut redis = Redis::start();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));

    let mut s = TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");

    redis.stop();
    assert!(refused(redis.port()), "redis still listening after stop()");
}

#[test]
fn redis_with_password_refuses_unauthenticated_commands() {
    let redis = Redis::start_with_password("r3dis-Pa55");
    assert_eq!(redis.url(), format!("redis://:r3dis-Pa55@127.0.0.1:{}", redis.port()));
    assert_eq!(redis.ping(), "+PONG", "ping() authenticates first");

    let mut s = TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&resp_command(&["PING"])).unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"-NOAUTH");
}

// --- PostgreSQL ------------------------------------------------------------

#[test]
fn shared_postgres_trusts_postgres_and_checks_the_password_user() {
    let pg = Postgres::shared();
    let mut trusted = postgres::Client::connect(&pg.url(), postgres::NoTls).expect("trusted connect");
    let one: i32 = trusted.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);

    let mut pw = postgres::Client::connect(&pg.password_url(), postgres::NoTls).expect("password connect");
    let who: String = pw.query_one("SELECT current_user::text", &[]).unwrap().get(0);
    assert_eq!(who, Postgres::PASSWORD_USER);

    let err = postgres::Client::connect(&pg.url_with_password("wrong"), postgres::NoTls)
        .err()
        .expect("a wrong password must be refused");
    let db = err.as_db_error().unwrap_or_else(|| panic!("not a server error: {err:?}"));
    assert_eq!(db.code(), &postgres::error::SqlState::INVALID_PASSWORD, "{db:?}");
    assert!(db.message().contains("password authentication failed"), "{db:?}");
}

#[test]
fn owned_postgres_stops_and_removes_its_cluster() {
    let mut pg = Postgres::start();
    let dir = pg.socket_dir().to_path_buf();
    assert!(dir.join("data/PG_VERSION").exists());
    pg.client().batch_execute("CREATE TABLE t (x int)").unwrap();

    pg.stop();
    assert!(refused(pg.port()), "postgres still listening after stop()");
    assert!(!dir.exists(), "cluster folder {} left behind", dir.display());
}

// --- Guarded processes -----------------------------------------------------

/// Start `sleep` under a guard; returns its pid once it is running.
fn guarded_sleep(dir: &Path) -> (Guarded, u32) {
    let pidfile = dir.join("pid");
    let guarded = Guarded::spawn(Spawn {
        name: "sleep",
        program: Path::new("/bin/sh"),
        args: vec![
            "-c".into(),
            format!("echo $$ > '{0}.tmp' && mv '{0}.tmp' '{0}'; exec sleep 300", pidfile.display()).into(),
        ],
        stop_signal: "TERM",
        log: &dir.join("log"),
        cleanup: None,
        cwd: dir,
        as_server_user: false,
    });
    assert!(wait_until(Duration::from_secs(5), || pidfile.exists()));
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(pid_alive(pid));
    (guarded, pid)
}

#[test]
fn guarded_process_stops_on_drop() {
    let tmp = TempDir::new("guard");
    let (guarded, pid) = guarded_sleep(tmp.path());
    drop(guarded);
    assert!(!pid_alive(pid), "process {pid} survived drop");
}

/// The shared Postgres is never dropped: it must die with the test process.
/// This re-runs the test binary as a child that leaks a guarded process and
/// exits, then checks that the process went away.
#[test]
fn guarded_process_dies_when_the_test_process_exits() {
    let tmp = TempDir::new("guard-exit");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "guard_leaking_child", "--nocapture", "--test-threads=1"])
        .env("GUARD_LEAK_DIR", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    let pid: u32 = std::fs::read_to_string(tmp.path().join("pid")).unwrap().trim().parse().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || !pid_alive(pid)),
        "process {pid} outlived the test process that started it"
    );
}

/// Helper for the test above: only acts when run as its child (with
/// GUARD_LEAK_DIR set); then it leaks a guarded `sleep` and exits at once.
#[test]
fn guard_leaking_child() {
    if let Some(dir) = std::env::var_os("GUARD_LEAK_DIR") {
        let (guarded, _pid) = guarded_sleep(Path::new(&dir));
        std::mem::forget(guarded);
        std::process::exit(0);
    }
}

// --- HTTP stub -------------------------------------------------------------

#[test]
fn http_stub_serves_routes_and_records_requests() {
    let stub = HttpStub::start();
    stub.route("/api/health", Route::ok("all good").header("X-Stub", "1"))
        .route("/api/down", Route::json(503, &json!({"status": "down"})));

    let ok = http(stub.port(), "GET", "/api/health?verbose=1", "", Duration::from_secs(5)).unwrap();
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("X-Stub: 1\r\n"), "{ok}");
    assert_eq!(body_of(&ok), "all good");

    let down = http(stub.port(), "GET", "/api/down", "", Duration::from_secs(5)).unwrap();
    assert!(down.starts_with("HTTP/1.1 503 "), "{down}");
    assert!(down.contains("Content-Type: application/json"), "{down}");
    assert_eq!(body_of(&down), r#"{"status":"down"}"#);

    let missing = http(stub.port(), "GET", "/nope", "", Duration::from_secs(5)).unwrap();
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");

    let reqs = stub.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/health");
    assert_eq!(reqs[0].query, "verbose=1");
    assert_eq!(reqs[0].header("x-probe"), Some("yes"));
    assert_eq!(stub.hits("/api/down"), 1);
    assert_eq!(stub.url("/x"), format!("http://127.0.0.1:{}/x", stub.port()));
}

#[test]
fn http_stub_delays_and_hangs() {
    let stub = HttpStub::start();
    stub.route("/slow", Route::ok("late").delay(Duration::from_millis(300))).route("/hang", Route::hang());

    let t = Instant::now();
    let slow = http(stub.port(), "GET", "/slow", "", Duration::from_secs(5)).unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(body_of(&slow), "late");

    let err = http(stub.port(), "GET", "/hang", "", Duration::from_millis(400)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
    assert_eq!(stub.hits("/hang"), 1, "a hung request is still recorded");
}

// --- Webhook sink ----------------------------------------------------------

#[test]
fn webhook_sink_answers_from_its_script_then_like_discord() {
    let sink = WebhookSink::start();
    let target = sink.url().trim_start_matches(&format!("http://127.0.0.1:{}", sink.port())).to_string();
    assert!(target.starts_with("/api/webhooks/"));
    assert!(target.ends_with(WebhookSink::TOKEN));
    sink.push(SinkReply::RateLimited { retry_after: 0.1 })
        .push(SinkReply::RateLimitedHeader { retry_after: "2".into() })
        .push(SinkReply::ServerError)
        .push(SinkReply::UnknownWebhook);
    let body = json!({"content": "hi <@123>", "allowed_mentions": {"parse": []}}).to_string();
    let post =
        |query: &str| http(sink.port(), "POST", &format!("{target}{query}"), &body, Duration::from_secs(5)).unwrap();

    let limited = post("?wait=true");
    assert!(limited.starts_with("HTTP/1.1 429 "), "{limited}");
    assert!(limited.contains("Retry-After: 1\r\n"), "{limited}");
    let limited: serde_json::Value = serde_json::from_str(body_of(&limited)).unwrap();
    assert_eq!(limited["retry_after"], json!(0.1));
    assert_eq!(limited["global"], json!(false));

    let header_only = post("?wait=true");
    assert!(header_only.starts_with("HTTP/1.1 429 ") && header_only.contains("Retry-After: 2\r\n"), "{header_only}");
    assert!(post("?wait=true").starts_with("HTTP/1.1 500 "));
    let unknown = post("?wait=true");
    assert!(unknown.starts_with("HTTP/1.1 404 "), "{unknown}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(body_of(&unknown)).unwrap()["code"], json!(10015));

    // Script used up: Discord's own behaviour.
    let created = post("?wait=true");
    assert!(created.starts_with("HTTP/1.1 200 "), "{created}");
    let created: serde_json::Value = serde_json::from_str(body_of(&created)).unwrap();
    assert_eq!(created["content"], json!("hi <@123>"));
    assert!(post("").starts_with("HTTP/1.1 204 "));

    // Wrong path: 404, not a post.
    let wrong = http(sink.port(), "POST", "/api/webhooks/1/other", &body, Duration::from_secs(5)).unwrap();
    assert!(wrong.starts_with("HTTP/1.1 404 "));

    let posts = sink.posts();
    assert_eq!(posts.len(), 6);
    assert_eq!(posts[0].query, "wait=true");
    assert_eq!(posts[0].json["allowed_mentions"], json!({"parse": []}));
    assert_eq!(posts[0].content(), "hi <@123>");
    assert_eq!(posts[5].query, "");
    assert_eq!(sink.requests().len(), 7);
}

#[test]
fn webhook_sink_can_hang() {
    let sink = WebhookSink::start();
    sink.set_default(SinkReply::Hang);
    let target = format!("/api/webhooks/{}/{}", WebhookSink::ID, WebhookSink::TOKEN);
    let err = http(sink.port(), "POST", &target, "{}", Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
    assert_eq!(sink.posts().len(), 1);
}

// --- Hung TCP --------------------------------------------------------------

#[test]
fn hung_tcp_accepts_and_never_answers() {
    let hung = HungTcp::start();
    let mut s = TcpStream::connect(hung.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    s.write_all(&resp_command(&["PING"])).unwrap();
    let mut buf = [0u8; 1];
    let err = s.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err}");
    assert!(wait_until(Duration::from_secs(2), || hung.accepted() == 1));
}

// --- Fake launchctl --------------------------------------------------------

/// An agent plist as the tool writes it: XML from the `plist` crate.
fn write_plist(dir: &Path, label: &str, calendar: bool) -> std::path::PathBuf {
    let mut d = plist::Dictionary::new();
    d.insert("Label".into(), label.into());
    d.insert(
        "ProgramArguments".into(),
        plist::Value::Array(vec![
            "/opt/ops atomic/ops-atomic".into(),
            "heartbeat".into(),
            "--root".into(),
            "/srv/r&d".into(),
        ]),
    );
    d.insert("WorkingDirectory".into(), "/srv/r&d".into());
    d.insert("StandardOutPath".into(), "/srv/r&d/g/logs/ops_monitor.log".into());
    if calendar {
        let mut when = plist::Dictionary::new();
        when.insert("Hour".into(), 2.into());
        when.insert("Minute".into(), 0.into());
        d.insert("StartCalendarInterval".into(), plist::Value::Dictionary(when));
    } else {
        d.insert("StartInterval".into(), 300.into());
    }
    let mut env = plist::Dictionary::new();
    env.insert("PATH".into(), "/usr/bin:/bin".into());
    d.insert("EnvironmentVariables".into(), plist::Value::Dictionary(env));
    d.insert("RunAtLoad".into(), false.into());
    let path = dir.join(format!("{label}.plist"));
    plist::Value::Dictionary(d).to_file_xml(&path).unwrap();
    path
}

#[test]
fn fake_launchctl_list_matches_the_fixture() {
    let fake = FakeLaunchctl::new();
    fake.seed_fixture_list();
    let run = fake.run(&["list"]);
    run.expect_code(0);
    // The same table as the real sample; the fake sorts rows by label.
    let fixture = std::fs::read_to_string(Path::new(FIXTURES).join("list.txt")).unwrap();
    let mut rows: Vec<&str> = fixture.lines().skip(1).collect();
    rows.sort_by_key(|r| r.rsplit('\t').next().unwrap());
    let header = fixture.lines().next().unwrap();
    assert_eq!(header, "PID\tStatus\tLabel");
    assert_eq!(run.stdout, format!("{header}\n{}\n", rows.join("\n")));
}

#[test]
fn fake_launchctl_list_label_prints_the_old_style_dictionary() {
    let fake = FakeLaunchctl::new();
    fake.seed("com.02luka.digest", Some(218), 78);
    let run = fake.run(&["list", "com.02luka.digest"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("{\n\t\"LimitLoadToSessionType\" = \"Aqua\";\n"), "{run}");
    assert!(run.stdout.contains("\t\"Label\" = \"com.02luka.digest\";\n"), "{run}");
    assert!(run.stdout.contains("\t\"LastExitStatus\" = 19968;\n"), "{run}");
    assert!(run.stdout.contains("\t\"PID\" = 218;\n"), "{run}");
    assert!(run.stdout.ends_with("};\n"), "{run}");

    let missing = fake.run(&["list", "com.x"]);
    missing.expect_code(113);
    assert_eq!(missing.stderr, format!("Could not find service \"com.x\" in domain for user gui: {}\n", fake.uid()));
}

#[test]
fn fake_launchctl_bootstraps_prints_and_boots_out() {
    let fake = FakeLaunchctl::new();
    let tmp = TempDir::new("plist");
    let label = "com.02luka.ops_atomic_monitor";
    let plist = write_plist(tmp.path(), label, false);
    let domain = fake.domain();
    let service = format!("{domain}/{label}");

    let missing = fake.run(&["print", &service]);
    missing.expect_code(113);
    assert!(missing.stderr.starts_with("Bad request.\nCould not find service"), "{missing}");

    fake.run(&["enable", &service]).expect_code(0);
    fake.run(&["bootstrap", &domain, plist.to_str().unwrap()]).expect_code(0);
    assert_eq!(fake.loaded(), vec![label.to_string()]);
    let job = fake.job(label).unwrap();
    assert_eq!((job.pid, job.status, job.plist.as_deref()), (None, 0, Some(plist.as_path())));
    assert_eq!(job.def["ProgramArguments.0"], "/opt/ops atomic/ops-atomic");
    assert_eq!(job.def["WorkingDirectory"], "/srv/r&d");

    let print = fake.run(&["print", &service]);
    print.expect_code(0);
    assert!(print.stdout.starts_with(&format!("{service} = {{\n")), "{print}");
    for line in [
        "\tstate = not running\n",
        &format!("\tpath = {}\n", plist.display()),
        "\tprogram = /opt/ops atomic/ops-atomic\n",
        "\t\t/srv/r&d\n",
        "\trun interval = 300 seconds\n",
        "\t\tPATH => /usr/bin:/bin\n",
        // A job that has not run yet (fixture p04).
        "\tlast exit code = (never exited)\n",
    ] {
        assert!(print.stdout.contains(line), "missing {line:?} in\n{print}");
    }

    let again = fake.run(&["bootstrap", &domain, plist.to_str().unwrap()]);
    again.expect_code(5);
    assert_eq!(
        again.stderr,
        "Bootstrap failed: 5: Input/output error\nTry re-running the command as root for richer errors.\n"
    );

    fake.run(&["bootout", &service]).expect_code(0);
    assert!(fake.loaded().is_empty());
    let gone = fake.run(&["bootout", &service]);
    gone.expect_code(3);
    assert_eq!(gone.stderr, "Boot-out failed: 3: No such process\n");

    // bootout by plist path works too.
    fake.run(&["bootstrap", &domain, plist.to_str().unwrap()]).expect_code(0);
    fake.run(&["bootout", &domain, plist.to_str().unwrap()]).expect_code(0);
    assert!(!fake.is_loaded(label));

    let calls = fake.calls_of("bootstrap");
    assert_eq!(calls[0], vec!["bootstrap".to_string(), domain.clone(), plist.display().to_string()]);
}

#[test]
fn fake_launchctl_prints_calendar_agents_like_the_fixture() {
    let fake = FakeLaunchctl::new();
    let tmp = TempDir::new("plist");
    let label = "com.02luka.ops_atomic_daily";
    let plist = write_plist(tmp.path(), label, true);
    fake.run(&["bootstrap", &fake.domain(), plist.to_str().unwrap()]).expect_code(0);
    let print = fake.run(&["print", &format!("{}/{label}", fake.domain())]);
    print.expect_code(0);
    assert!(print.stdout.contains("\t\t\tstream = com.apple.launchd.calendarinterval\n"), "{print}");
    assert!(print.stdout.contains("\t\t\t\t\"Hour\" => 2\n"), "{print}");
    assert!(print.stdout.contains("\t\t\t\t\"Minute\" => 0\n"), "{print}");
}

#[test]
fn fake_launchctl_refuses_disabled_labels_and_foreign_domains() {
    let fake = FakeLaunchctl::new();
    let tmp = TempDir::new("plist");
    let label = "com.02luka.ops_atomic_monitor";
    let plist = write_plist(tmp.path(), label, false);
    let (domain, plist) = (fake.domain(), plist.to_str().unwrap());

    fake.run(&["disable", &format!("{domain}/{label}")]).expect_code(0);
    assert!(fake.is_disabled(label));
    // macOS 13 and later (fixture b03).
    let disabled = fake.run(&["bootstrap", &domain, plist]);
    disabled.expect_code(119);
    assert_eq!(disabled.stderr, format!("{plist}: Service is disabled\nBootstrap failed: 119: Service is disabled\n"));
    fake.run(&["enable", &format!("{domain}/{label}")]).expect_code(0);
    fake.run(&["bootstrap", &domain, plist]).expect_code(0);

    let other = format!("gui/{}", fake.uid() + 1);
    let foreign = fake.run(&["print", &format!("{other}/{label}")]);
    foreign.expect_code(125);
    // Fixture p07.
    assert_eq!(foreign.stderr, "Could not print domain: 125: Domain does not support specified action\n");
    fake.no_gui_domain();
    let none = fake.run(&["print", &format!("{domain}/{label}")]);
    none.expect_code(112);
    // Fixture p08.
    assert_eq!(none.stderr, format!("Could not find domain for user {domain}\n").replace("gui/", "gui: "));
    fake.run(&["print", "user/501/x"]).expect_code(64);
}

#[test]
fn fake_launchctl_switches_fail_bootstrap_and_legacy_mode() {
    let fake = FakeLaunchctl::new();
    let tmp = TempDir::new("plist");
    let label = "com.02luka.ops_atomic_monitor";
    let plist = write_plist(tmp.path(), label, false);
    let (domain, plist) = (fake.domain(), plist.to_str().unwrap());

    fake.fail_bootstrap(true);
    fake.run(&["bootstrap", &domain, plist]).expect_code(5);
    fake.fail_bootstrap(false);

    fake.legacy_only();
    let unknown = fake.run(&["bootstrap", &domain, plist]);
    unknown.expect_code(64);
    assert!(unknown.stderr.starts_with("Unrecognized subcommand: bootstrap\nUsage: launchctl"), "{unknown}");

    let load = fake.run(&["load", "-w", plist]);
    load.expect_code(0);
    assert!(fake.is_loaded(label));
    let load_again = fake.run(&["load", "-w", plist]);
    load_again.expect_code(0);
    // Fixture b06.
    assert_eq!(
        load_again.stderr,
        "Load failed: 5: Input/output error\nTry running `launchctl bootstrap` as root for richer errors.\n",
        "never trust legacy exit codes"
    );

    fake.run(&["unload", "-w", plist]).expect_code(0);
    assert!(!fake.is_loaded(label));
    assert!(fake.is_disabled(label), "unload -w disables");
    assert!(fake.run(&["unload", plist]).stderr.starts_with("Unload failed"));
}

#[test]
fn fake_launchctl_prints_exits_and_signals_as_macos_does() {
    let fake = FakeLaunchctl::new();
    let service = |l: &str| format!("{}/{l}", fake.domain());
    fake.seed("x.one", None, 1).seed("x.config", None, 78).seed("x.term", Some(7), -15).seed("x.kill", None, -9);
    let print = |l: &str| fake.run(&["print", &service(l)]).stdout;
    // Only the sysexits codes are named (fixture p02); never "1: Operation not permitted".
    assert!(print("x.one").contains("\tlast exit code = 1\n"), "{}", print("x.one"));
    assert!(print("x.config").contains("\tlast exit code = 78: EX_CONFIG\n"));
    // strsignal(3)'s words, not `kill -l` names.
    assert!(print("x.term").contains("\tlast terminating signal = Terminated: 15\n"), "{}", print("x.term"));
    assert!(print("x.kill").contains("\tlast terminating signal = Killed: 9\n"));
    // `launchctl error N` (fixture e01).
    assert_eq!(fake.run(&["error", "77"]).stdout, "77: No locks available\n");
}

#[test]
fn fake_launchctl_bootout_can_lag_like_launchd() {
    let fake = FakeLaunchctl::new();
    let label = "com.02luka.ops_atomic_monitor";
    fake.seed(label, Some(4521), 0).bootout_lag(2);
    let service = format!("{}/{label}", fake.domain());

    fake.run(&["bootout", &service]).expect_code(0);
    assert!(fake.job(label).unwrap().tearing_down);
    fake.run(&["print", &service]).expect_code(0);
    fake.run(&["print", &service]).expect_code(0);
    fake.run(&["print", &service]).expect_code(113);
    assert!(!fake.is_loaded(label));
}

#[test]
fn fake_launchctl_finds_its_state_without_the_environment_and_starts_jobs() {
    let fake = FakeLaunchctl::new();
    fake.seed("com.x", None, 1);
    let out = std::process::Command::new(fake.program())
        .args(["kickstart", "-p", &format!("{}/com.x", fake.domain())])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(fake.job("com.x").unwrap().pid, Some(pid));
    assert_eq!(fake.calls().len(), 1);
}

// --- TestRoot and ops() ----------------------------------------------------

#[test]
fn ops_builder_runs_the_binary_in_a_clean_environment() {
    let root = TestRoot::new();
    let cmd = ops(&root).args(["heartbeat", "--json"]).env("REDIS_URL", "redis://x").command();
    assert_eq!(Path::new(cmd.get_program()), Path::new(BIN));
    let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    assert_eq!(args, ["--root", root.dir().to_str().unwrap(), "heartbeat", "--json"]);

    let envs: std::collections::HashMap<_, _> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned())))
        .collect();
    for var in TOOL_ENV.iter().filter(|v| !["REDIS_URL", "OPS_ATOMIC_LAUNCHCTL"].contains(v)) {
        assert_eq!(envs[*var], None, "{var} must be removed");
    }
    assert_eq!(envs["REDIS_URL"].as_deref(), Some("redis://x"));
    assert_eq!(envs["HOME"].as_deref(), root.home().to_str());
    let launchctl = envs["OPS_ATOMIC_LAUNCHCTL"].clone().unwrap();
    assert_eq!(Path::new(&launchctl), root.launchctl().program());

    let without = ops(&root).no_launchctl().command();
    let launchctl = without.get_envs().filter(|(k, _)| *k == "OPS_ATOMIC_LAUNCHCTL").last().unwrap().1.unwrap();
    assert!(!Path::new(launchctl).exists());
}

#[test]
fn test_root_reads_reports_state_and_history() {
    let root = TestRoot::new();
    assert!(root.reports().is_empty());
    assert!(root.state_opt().is_none());
    assert!(root.history().is_empty());

    root.write_config("[monitor]\nalert_threshold = 2\n");
    assert_eq!(root.read(CONFIG), "[monitor]\nalert_threshold = 2\n");
    for name in [
        "heartbeat_2025-10-27_17-52-09_1.md",
        "daily_2025-10-27_02-00-00.md",
        "heartbeat_2025-10-27_17-52-09.md",
        "heartbeat_2025-10-27_17-52-09_10.md",
        "heartbeat_2025-10-27_17-52-09_2.md",
    ] {
        root.write(&format!("{REPORTS_DIR}/{name}"), name);
    }
    assert_eq!(
        root.reports_of("heartbeat"),
        [
            "heartbeat_2025-10-27_17-52-09.md",
            "heartbeat_2025-10-27_17-52-09_1.md",
            "heartbeat_2025-10-27_17-52-09_2.md",
            "heartbeat_2025-10-27_17-52-09_10.md",
        ]
    );
    assert_eq!(root.latest_report("daily"), "daily_2025-10-27_02-00-00.md");

    root.write_state(&json!({"version": 1, "runs": 3}));
    assert_eq!(root.state()["runs"], json!(3));
    root.write(HISTORY, "{\"status\":\"HEALTHY\"}\n{\"status\":\"CRITICAL\"}\n");
    assert_eq!(root.history()[1]["status"], json!("CRITICAL"));
    assert_eq!(root.files_containing("CRITICAL"), [HISTORY]);
    assert!(root.files_containing("alert_threshold").is_empty(), "g/config is not scanned");
}
