//! Conditions on what a service answers (SPEC §16), against real parts: a
//! loopback HTTP server whose health JSON flips between UP and DOWN, a real
//! PostgreSQL for `[[sql]]` and a real Redis for `[[redis_value]]`.

mod common;

use common::*;
use serde_json::{Value, json};

fn heartbeat_json(root: &TestRoot) -> (i32, Value) {
    let run = ops(root).args(["heartbeat", "--json", "--no-notify"]).run();
    (run.code, run.json())
}

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id} in {doc}"))
}

const OFF: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n[launchagents]\n[self]\nenabled = false\n";

#[test]
fn a_health_endpoint_saying_down_with_200_fails_quoting_the_value() {
    let api = HttpStub::start();
    api.route("/health", Route::json(200, &json!({"status": "UP", "queue": {"depth": 12}, "items": [1, 2]})));
    api.route("/html", Route::ok("<html>UP</html>"));
    api.route("/huge", Route::ok(&"x".repeat(2 * 1024 * 1024)));
    let root = TestRoot::new();
    let prom = root.path("ops.prom");
    root.write_config(&format!(
        r#"{OFF}
[[api]]
name = "backend"
url = "{}"
conditions = ["[STATUS] == 200", "[BODY].status == UP", "len([BODY].items) < 5"]
warn_conditions = ["[BODY].queue.depth < 100"]
severity = "critical"
[[api]]
name = "page"
url = "{}"
conditions = ["[BODY].status == UP"]
[[api]]
name = "huge"
url = "{}"
conditions = ["[BODY] == pat(*x*)"]
[export]
prometheus_textfile = "{}"
"#,
        api.url("/health"),
        api.url("/html"),
        api.url("/huge"),
        prom.display()
    ));
    let (code, doc) = heartbeat_json(&root);
    let backend = check(&doc, "api:backend");
    assert_eq!(backend["status"], "ok", "{backend}");
    assert!(backend["message"].as_str().unwrap().ends_with("4 conditions met"), "{backend}");
    let page = check(&doc, "api:page");
    assert_eq!(page["status"], "fail");
    assert!(page["message"].as_str().unwrap().contains("[BODY].status (body is not JSON) == UP"), "{page}");
    let huge = check(&doc, "api:huge");
    assert_eq!(huge["status"], "fail");
    assert!(huge["message"].as_str().unwrap().contains("too large"), "{huge}");
    assert_eq!(code, 1, "{doc}");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("# TYPE ops_atomic_check_value gauge"), "{text}");
    assert!(
        text.contains(r#"ops_atomic_check_value{check="api:backend",placeholder="[BODY].queue.depth"} 12"#),
        "{text}"
    );
    assert!(
        text.contains(r#"ops_atomic_check_value{check="api:backend",placeholder="len([BODY].items)"} 2"#),
        "{text}"
    );

    // The same endpoint now answers 200 with DOWN: the check fails and says why.
    api.route(
        "/health",
        Route::json(200, &json!({"status": "DOWN", "db": "unreachable", "queue": {"depth": 150}, "items": []})),
    );
    let (code, doc) = heartbeat_json(&root);
    let backend = check(&doc, "api:backend");
    assert_eq!(backend["status"], "fail");
    let msg = backend["message"].as_str().unwrap();
    assert!(msg.contains("failed: [BODY].status (DOWN) == UP"), "{msg}");
    assert!(msg.contains("warning: [BODY].queue.depth (150) < 100"), "{msg}");
    assert_eq!(code, 2);
    assert_eq!(backend["values"][2]["placeholder"], "[BODY].queue.depth", "{backend}");
    let report = root.latest_report("heartbeat");
    assert!(report.contains("[BODY].status (DOWN) == UP"), "{report}");
    let history = root.history();
    let last = history.last().unwrap();
    let line = last["checks"].as_array().unwrap().iter().find(|c| c["id"] == "api:backend").unwrap();
    assert_eq!(line["values"]["[BODY].queue.depth"], 150.0, "{line}");
}

#[test]
fn a_condition_failing_three_runs_opens_one_incident_whose_alert_quotes_it() {
    let api = HttpStub::start();
    api.route("/health", Route::json(200, &json!({"status": "DOWN"})));
    let sink = WebhookSink::start();
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"{OFF}
[monitor]
alert_threshold = 3
[[api]]
name = "backend"
url = "{}"
conditions = ["[BODY].status == UP"]
severity = "critical"
[discord]
webhook_url = "{}"
"#,
        api.url("/health"),
        sink.url()
    ));
    for _ in 0..4 {
        ops(&root).arg("heartbeat").run().expect_code(2);
    }
    let posts = sink.posts();
    assert_eq!(posts.len(), 1, "one alert for one incident: {:?}", sink.titles());
    assert!(posts[0].text().contains("[BODY].status (DOWN) == UP"), "{}", posts[0].text());
    let page = root.read("g/reports/status.html");
    assert!(page.contains("backend"), "the page was rewritten when the incident opened");
}

#[test]
fn sql_conditions_read_values_rows_and_refuse_writes() {
    let pg = Postgres::shared();
    let mut client = pg.client();
    let table = format!("jobs_{}", std::process::id());
    client.batch_execute(&format!("drop table if exists {table}; create table {table} (state text)")).unwrap();
    let root = TestRoot::new();
    let write = |failed: usize| {
        root.write_config(&format!(
            r#"[redis]
enabled = false
[database]
url = "{url}"
[self]
enabled = false
[[sql]]
name = "failed jobs"
query = "select count(*) as failed, max(state) as last from {table} where state = 'failed'"
conditions = ["[VALUE] < 3", "[ROWS] == 1"]
[[sql]]
name = "primary"
query = "select pg_is_in_recovery()"
conditions = ["[VALUE] == false"]
[[sql]]
name = "broken"
query = "select * from no_such_table_here"
[[sql]]
name = "sneaky"
query = "delete from {table}"
[[sql]]
name = "two"
query = "select 1; delete from {table}"
"#,
            url = pg.url()
        ));
        client_insert(pg, &table, failed);
    };
    write(1);
    let (_, doc) = heartbeat_json(&root);
    let jobs = check(&doc, "sql:failed jobs");
    assert_eq!(jobs["status"], "ok", "{jobs}");
    assert_eq!(check(&doc, "sql:primary")["status"], "ok", "{doc}");
    let broken = check(&doc, "sql:broken");
    assert!(broken["message"].as_str().unwrap().contains("no_such_table_here"), "{broken}");
    let sneaky = check(&doc, "sql:sneaky");
    assert!(sneaky["message"].as_str().unwrap().contains("read-only transaction"), "{sneaky}");
    let two = check(&doc, "sql:two");
    assert!(two["message"].as_str().unwrap().contains("multiple commands"), "{two}");
    let rows: i64 = pg.client().query_one(&format!("select count(*) from {table}"), &[]).unwrap().get(0);
    assert_eq!(rows, 1, "no statement wrote");

    write(3); // four failed jobs now: past the threshold
    let (code, doc) = heartbeat_json(&root);
    let jobs = check(&doc, "sql:failed jobs");
    assert_eq!(jobs["status"], "fail");
    assert!(jobs["message"].as_str().unwrap().contains("failed: [VALUE] (4) < 3"), "{jobs}");
    assert_eq!(code, 2);
    assert!(!doc.to_string().contains(&pg.password_url()), "no password in the output");
    ops(&root).arg("page").run().expect_code(0);
    let page = root.read("g/reports/status.html");
    assert!(page.contains("<span class=\"value\">[VALUE] 4</span>"), "the check's row shows the value read");
}

fn client_insert(pg: &Postgres, table: &str, n: usize) {
    let mut c = pg.client();
    for _ in 0..n {
        c.execute(&format!("insert into {table} values ('failed')"), &[]).unwrap();
    }
}

#[test]
fn redis_values_cross_their_thresholds() {
    let redis = Redis::start();
    let root = TestRoot::new();
    root.write_config(&format!(
        r#"[redis]
url = "{}"
[database]
enabled = false
[self]
enabled = false
[[redis_value]]
name = "job queue"
command = ["LLEN", "jobs"]
conditions = ["[VALUE] < 5"]
[[redis_value]]
name = "memory"
command = ["INFO", "memory"]
field = "used_memory"
conditions = ["[VALUE] > 0"]
[[redis_value]]
name = "pending"
command = ["XPENDING", "events", "workers"]
warn_conditions = ["[VALUE] < 2"]
"#,
        redis.url()
    ));
    redis.command(&["XADD", "events", "*", "k", "v"]);
    redis.command(&["XADD", "events", "*", "k", "v"]);
    redis.command(&["XGROUP", "CREATE", "events", "workers", "0"]);
    redis.command(&["XREADGROUP", "GROUP", "workers", "w1", "STREAMS", "events", ">"]);
    redis.command(&["RPUSH", "jobs", "a", "b"]);
    let (_, doc) = heartbeat_json(&root);
    assert_eq!(check(&doc, "redis_value:job queue")["status"], "ok", "{doc}");
    let mem = check(&doc, "redis_value:memory");
    assert_eq!(mem["status"], "ok", "{mem}");
    assert!(mem["values"][0]["value"].as_f64().unwrap() > 0.0);
    let pending = check(&doc, "redis_value:pending");
    assert_eq!(pending["status"], "warn", "{pending}");
    assert!(pending["message"].as_str().unwrap().contains("[VALUE] (2) < 2"), "{pending}");
    for i in 0..10 {
        redis.command(&["RPUSH", "jobs", &i.to_string()]);
    }
    let (code, doc) = heartbeat_json(&root);
    let q = check(&doc, "redis_value:job queue");
    assert_eq!(q["status"], "fail");
    assert!(q["message"].as_str().unwrap().contains("LLEN jobs = 12; failed: [VALUE] (12) < 5"), "{q}");
    assert_eq!(code, 2);
}

#[test]
fn config_check_names_the_key_the_condition_and_the_column() {
    let root = TestRoot::new();
    root.write_config(
        r#"[[api]]
name = "a"
url = "http://127.0.0.1:1/"
conditions = ["[STATUS] =~ 200", "[BODDY].x == 1"]
[[redis_value]]
name = "danger"
command = ["FLUSHALL"]
[[sql]]
name = "s"
query = "select 1"
conditions = ["[STATUS] == 200"]
"#,
    );
    let run = ops(&root).args(["config", "check"]).run();
    assert_eq!(run.code, 3, "{run}");
    let out = run.output();
    for want in [
        "api[0].conditions[0] = \"[STATUS] =~ 200\": `=~` is not an operator Gatus has",
        "(column 10)",
        "api[0].conditions[1] = \"[BODDY].x == 1\": unknown placeholder [BODDY]",
        "redis_value[0].command = [\"FLUSHALL\"]: \"FLUSHALL\" is not one of the read-only commands",
        "sql[0].conditions[0]",
    ] {
        assert!(out.contains(want), "{want} missing in {out}");
    }
}
