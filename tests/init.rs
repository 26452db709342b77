//! `init` (SPEC §13) against real Redis and PostgreSQL, and the database
//! default of SPEC §3: no user in the URL = the login user, as psql does.
//!
//! The probed addresses default to 127.0.0.1:6379 and :5432, which may be
//! taken on a test machine: the tests point init at their own servers with
//! the hidden OPS_ATOMIC_INIT_REDIS_ADDR / OPS_ATOMIC_INIT_PG_ADDR.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const REDIS_ADDR: &str = "OPS_ATOMIC_INIT_REDIS_ADDR";
const PG_ADDR: &str = "OPS_ATOMIC_INIT_PG_ADDR";

/// `init` probing `redis` and `pg` (host:port).
fn init(root: &TestRoot, redis: &str, pg: &str) -> Ops {
    ops(root).arg("init").env(REDIS_ADDR, redis).env(PG_ADDR, pg)
}

/// Both probes pointed at ports nothing listens on.
fn init_nothing(root: &TestRoot) -> Ops {
    init(root, &format!("127.0.0.1:{}", free_port()), &format!("127.0.0.1:{}", free_port()))
}

fn written(root: &TestRoot) -> toml::Table {
    let text = root.read(CONFIG);
    toml::from_str(&text).unwrap_or_else(|e| panic!("init wrote a file that is not TOML ({e}):\n{text}"))
}

fn plist_with_label(dir: &Path, file: &str, label: &str) {
    fs::create_dir_all(dir).unwrap();
    let mut d = plist::Dictionary::new();
    d.insert("Label".into(), label.into());
    d.insert("ProgramArguments".into(), plist::Value::Array(vec!["/bin/true".into()]));
    plist::Value::Dictionary(d).to_file_xml(dir.join(file)).unwrap();
}

/// A login role on the test cluster (trusted over TCP, like every role but
/// the password one).
fn create_role(pg: &Postgres, name: &str) {
    let sql = format!("DO $$ BEGIN CREATE ROLE \"{name}\" LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    pg.client().batch_execute(&sql).unwrap_or_else(|e| panic!("create role {name}: {e}"));
}

#[test]
fn init_finds_real_redis_and_postgres_and_what_it_writes_runs_healthy() {
    let root = TestRoot::new();
    let redis = Redis::start();
    let pg = Postgres::shared();
    create_role(pg, "ops_init_user");
    let agents = root.agents_dir();
    plist_with_label(&agents, "homebrew.mxcl.redis.plist", "homebrew.mxcl.redis");
    plist_with_label(&agents, "com.example.sync.plist", "com.example.sync");
    fs::write(agents.join("broken.plist"), "not a plist").unwrap();
    fs::write(agents.join("notes.txt"), "not a plist either").unwrap();

    let redis_addr = format!("127.0.0.1:{}", redis.port());
    let pg_addr = format!("127.0.0.1:{}", pg.port());
    let run = init(&root, &redis_addr, &pg_addr).run();
    run.expect_code(0);
    for step in ["ops-atomic config check", "ops-atomic notify test", "ops-atomic heartbeat", "ops-atomic enable"] {
        assert!(run.stdout.contains(step), "next step {step:?} missing\n{run}");
    }
    assert!(!run.output().contains('\x1b'), "a pipe gets no colour\n{run}");

    let c = written(&root);
    assert_eq!(c["redis"]["enabled"].as_bool(), Some(true));
    assert_eq!(c["redis"]["url"].as_str(), Some(format!("redis://{redis_addr}").as_str()));
    assert_eq!(c["database"]["enabled"].as_bool(), Some(true));
    assert_eq!(c["database"]["url"].as_str(), Some(format!("postgresql://{pg_addr}/postgres").as_str()));
    let labels: Vec<&str> =
        c["launchagents"]["labels"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(labels, ["homebrew.mxcl.redis"], "only Homebrew's agents are watched");
    let text = root.read(CONFIG);
    assert!(text.contains("# \"com.example.sync\","), "the others are listed commented out:\n{text}");
    assert_eq!(c["discord"]["webhook_url"].as_str(), Some(""));
    assert!(text.contains("DISCORD_OPS_WEBHOOK") && text.contains("notify test"), "{text}");
    let mode = fs::metadata(root.path(CONFIG)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the config is private");

    ops(&root).args(["config", "check"]).run().expect_code(0);
    // The database URL names no user: the check logs in as the login user.
    let run = ops(&root).arg("heartbeat").env("USER", "ops_init_user").no_launchctl().run();
    run.expect_code(0);
}

/// Whether nothing listens on this loopback port now.
fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[test]
fn without_the_override_init_looks_on_the_default_ports() {
    // A real redis-server on 6379 and PostgreSQL on 5432 when those ports
    // are free (a fresh machine, CI); where something already listens there,
    // that is what init must find, and say so.
    let root = TestRoot::new();
    let redis = port_free(6379).then(|| Redis::start_on(6379));
    let pg = port_free(5432).then(|| Postgres::start_on(5432));
    let run = ops(&root).arg("init").env_remove(REDIS_ADDR).env_remove(PG_ADDR).run();
    run.expect_code(0);
    assert!(run.stdout.contains("127.0.0.1:6379"), "init did not look on Redis's default port:\n{run}");
    assert!(run.stdout.contains("127.0.0.1:5432"), "init did not look on PostgreSQL's default port:\n{run}");
    let c = written(&root);
    if redis.is_some() {
        assert_eq!(c["redis"]["enabled"].as_bool(), Some(true), "{run}");
        assert_eq!(c["redis"]["url"].as_str(), Some("redis://127.0.0.1:6379"));
    }
    if pg.is_some() {
        assert_eq!(c["database"]["enabled"].as_bool(), Some(true), "{run}");
        assert_eq!(c["database"]["url"].as_str(), Some("postgresql://127.0.0.1:5432/postgres"));
    }
    ops(&root).args(["config", "check"]).run().expect_code(0);
}

#[test]
fn with_nothing_listening_both_checks_are_written_off_and_still_valid() {
    let root = TestRoot::new();
    let run = init_nothing(&root).run();
    run.expect_code(0);
    let c = written(&root);
    assert_eq!(c["redis"]["enabled"].as_bool(), Some(false));
    assert_eq!(c["database"]["enabled"].as_bool(), Some(false));
    let text = root.read(CONFIG);
    assert!(text.contains("Nothing answered on 127.0.0.1:"), "the comment says nothing answered:\n{text}");
    assert!(text.contains("labels = []"), "no LaunchAgents folder here:\n{text}");
    assert!(run.stdout.contains("check off"), "{run}");

    ops(&root).args(["config", "check"]).run().expect_code(0);
    // Nothing to check yet is not a failure.
    ops(&root).arg("heartbeat").no_launchctl().run().expect_code(0);
}

#[test]
fn something_that_is_not_redis_is_not_taken_for_redis() {
    let root = TestRoot::new();
    let http = HttpStub::start();
    let addr = format!("127.0.0.1:{}", http.port());
    init(&root, &addr, &format!("127.0.0.1:{}", free_port())).run().expect_code(0);
    assert_eq!(written(&root)["redis"]["enabled"].as_bool(), Some(false), "{}", root.read(CONFIG));
}

#[test]
fn an_existing_file_is_kept_without_force_and_replaced_with_it() {
    let root = TestRoot::new();
    root.write_config("[monitor]\nalert_treshold = 3   # broken: a typo\n");
    ops(&root).args(["config", "check"]).run().expect_code(3);

    let run = init_nothing(&root).run();
    run.expect_code(3);
    assert!(run.stderr.contains(&root.path(CONFIG).display().to_string()), "names the file\n{run}");
    assert!(run.stderr.contains("--force"), "names the fix\n{run}");
    assert!(root.read(CONFIG).contains("alert_treshold"), "the file is untouched");

    // init works although the current file does not load.
    let run = init_nothing(&root).arg("--force").run();
    run.expect_code(0);
    assert!(run.stdout.contains("Replaced"), "{run}");
    ops(&root).args(["config", "check"]).run().expect_code(0);
}

#[test]
fn dry_run_prints_the_file_and_writes_nothing() {
    let root = TestRoot::new();
    let run = init_nothing(&root).arg("--dry-run").run();
    run.expect_code(0);
    assert!(!root.exists(CONFIG), "--dry-run wrote {CONFIG}");
    assert!(!root.exists("g"), "--dry-run created folders");
    let c: toml::Table =
        toml::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not the TOML file ({e})\n{run}"));
    for section in ["monitor", "redis", "database", "launchagents", "discord", "daily", "launchd"] {
        assert!(c.contains_key(section), "[{section}] missing\n{run}");
    }
    assert!(run.stdout.contains("#[[api]]") && run.stdout.contains("#[[daily.smoke]]"), "{run}");

    // Also with a file in place: printing replaces nothing.
    root.write_config("# mine\n");
    init_nothing(&root).arg("--dry-run").run().expect_code(0);
    assert_eq!(root.read(CONFIG), "# mine\n");
}

#[test]
fn a_named_config_file_is_where_init_writes() {
    let root = TestRoot::new();
    let named = root.path("elsewhere/ops.toml");
    init_nothing(&root).arg("--config").arg(&named).run().expect_code(0);
    assert!(named.exists());
    assert!(!root.exists(CONFIG));
    ops(&root).arg("--config").arg(&named).args(["config", "check"]).run().expect_code(0);
}

#[test]
fn agents_folder_comes_from_the_flag() {
    let root = TestRoot::new();
    let dir = root.path("agents");
    plist_with_label(&dir, "a.plist", "homebrew.mxcl.postgresql@17");
    init_nothing(&root).arg("--agents-dir").arg(&dir).run().expect_code(0);
    let labels = written(&root)["launchagents"]["labels"].clone();
    assert_eq!(labels.as_array().unwrap()[0].as_str(), Some("homebrew.mxcl.postgresql@17"));
}

/// The account this process runs as (what psql uses without $USER).
fn os_user() -> String {
    let out = std::process::Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn database_only(root: &TestRoot, pg: &Postgres) {
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nurl = \"postgresql://127.0.0.1:{}/postgres\"\n",
        pg.port()
    ));
}

#[test]
fn a_database_url_without_a_user_logs_in_as_user() {
    let root = TestRoot::new();
    let pg = Postgres::shared();
    create_role(pg, "ops_login_user");
    database_only(&root, pg);
    let run = ops(&root).args(["heartbeat", "--json"]).env("USER", "ops_login_user").no_launchctl().run();
    run.expect_code(0);

    // The name really comes from $USER: a role that does not exist is refused.
    let run = ops(&root).args(["heartbeat", "--json"]).env("USER", "ops_no_such_role").no_launchctl().run();
    run.expect_code(2);
    assert!(run.stdout.contains("ops_no_such_role"), "the server names the role\n{run}");
}

#[test]
fn without_user_set_the_os_account_is_the_login_user() {
    let root = TestRoot::new();
    let pg = Postgres::shared();
    create_role(pg, &os_user());
    database_only(&root, pg);
    ops(&root).arg("heartbeat").env_remove("USER").no_launchctl().run().expect_code(0);
}

#[test]
fn the_default_database_url_names_no_user() {
    let root = TestRoot::new();
    let shown = ops(&root).args(["config", "show"]).run();
    shown.expect_code(0);
    assert!(shown.stdout.contains("url = \"postgresql://127.0.0.1:5432/postgres\""), "{shown}");
}

/// The README's configuration block, as a new user would copy it.
fn readme_config_block() -> String {
    let readme = include_str!("../README.md");
    let section = &readme[readme.find("\n## Configuration").expect("a Configuration section in the README")..];
    let start = section.find("```toml\n").expect("a toml block in the Configuration section") + "```toml\n".len();
    let end = section[start..].find("```").expect("the toml block ends") + start;
    section[start..end].to_string()
}

#[test]
fn the_readme_configuration_block_passes_config_check_when_copied() {
    let root = TestRoot::new();
    root.write_config(&readme_config_block());
    let run = ops(&root).args(["config", "check"]).run();
    run.expect_code(0);
    // And it is what it says: the defaults.
    let shown = ops(&root).args(["config", "show"]).run();
    let defaults = ops(&TestRoot::new()).args(["config", "show"]).run();
    let body = |r: &Run| r.stdout.lines().skip_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&shown), body(&defaults), "the README's block is not the defaults");
}
