//! The developer's stack (SPEC §17) end to end through the real binary:
//! `[[container]]` against a stub Docker Engine on a Unix socket in a temp
//! folder, answering the shapes a real Engine gives (`docker inspect` of a
//! running, an exited-137, a paused, a restarting, a healthy / unhealthy /
//! starting container, a compose project of three). The stub is held to the
//! real `docker` CLI: `docker -H unix://<stub> ps` and `inspect` must read it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{Value, json};

const QUIET: &str = "[redis]\nenabled = false\n[database]\nenabled = false\n";

/// A secret in every container's `Config.Env`: it must never come out.
const ENV_SECRET: &str = "hunter2-from-the-env";

fn heartbeat(root: &TestRoot) -> Value {
    ops(root).args(["heartbeat", "--json"]).run().json()
}

fn status_msg(doc: &Value, id: &str) -> (String, String) {
    let c = doc["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"));
    (c["status"].as_str().unwrap().to_string(), c["message"].as_str().unwrap().to_string())
}

// ---------------------------------------------------------------------------
// The stub Engine

/// A container as the Engine describes it, shaped as `docker inspect` prints it.
fn inspect(name: &str, project: &str, state: Value, restarts: u64) -> Value {
    let id = format!("{:0<64}", hex(name));
    json!({
        "Id": id,
        "Created": "2026-12-01T09:12:44.123456789Z",
        "Path": "docker-entrypoint.sh",
        "Args": ["postgres"],
        "State": state,
        "Image": "sha256:4f5c2b1e0d9a",
        "Name": format!("/{name}"),
        "RestartCount": restarts,
        "Driver": "overlayfs",
        "Platform": "linux",
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}},
        "Mounts": [],
        "Config": {
            "Hostname": &id[..12],
            "Env": [format!("POSTGRES_PASSWORD={ENV_SECRET}"), "PATH=/usr/local/bin:/usr/bin"],
            "Image": "postgres:16",
            "Labels": {
                "com.docker.compose.project": project,
                "com.docker.compose.service": name,
            }
        },
        "NetworkSettings": {"Ports": {}, "Networks": {}}
    })
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn state(status: &str, exit: i64, health: Option<&str>) -> Value {
    let mut s = json!({
        "Status": status,
        "Running": matches!(status, "running" | "paused" | "restarting"),
        "Paused": status == "paused",
        "Restarting": status == "restarting",
        "OOMKilled": false,
        "Dead": false,
        "Pid": if status == "running" { 4242 } else { 0 },
        "ExitCode": exit,
        "Error": "",
        "StartedAt": "2026-12-06T08:00:01.5Z",
        "FinishedAt": "0001-01-01T00:00:00Z"
    });
    if let Some(h) = health {
        s["Health"] = json!({"Status": h, "FailingStreak": if h == "unhealthy" { 5 } else { 0 }, "Log": []});
    }
    s
}

/// `GET /containers/json`'s row for a container.
fn listed(c: &Value) -> Value {
    json!({
        "Id": c["Id"],
        "Names": [c["Name"]],
        "Image": "postgres:16",
        "ImageID": c["Image"],
        "Command": "docker-entrypoint.sh postgres",
        "Created": 1_764_580_364,
        "Ports": [],
        "Labels": c["Config"]["Labels"],
        "State": c["State"]["Status"],
        "Status": "Up 2 hours",
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {"Networks": {}},
        "Mounts": []
    })
}

/// A stub Engine answering on `<dir>/docker.sock` until dropped.
struct Engine {
    socket: PathBuf,
    containers: Arc<Mutex<Vec<Value>>>,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Engine {
    fn start(containers: Vec<Value>) -> Engine {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Short: a Unix socket path is limited to about 100 bytes.
        let dir = std::env::temp_dir().join(format!("oa-eng-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let containers = Arc::new(Mutex::new(containers));
        let shared = Arc::clone(&containers);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(conn, &shared));
            }
        });
        Engine { socket, containers, _dir: tempdir::Dir(dir) }
    }

    fn set(&self, name: &str, f: impl FnOnce(&mut Value)) {
        let mut all = self.containers.lock().unwrap();
        let c = all.iter_mut().find(|c| c["Name"] == format!("/{name}")).expect("container in the stub");
        f(c);
    }
}

fn serve(conn: UnixStream, containers: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let (code, reply, chunked) = route(&target, &containers.lock().unwrap());
        let reason = if code == 200 { "OK" } else { "Not Found" };
        let mut out = format!(
            "HTTP/1.1 {code} {reason}\r\nApi-Version: 1.47\r\nOstype: linux\r\nServer: Docker/27.3.1 (linux)\r\nContent-Type: application/json\r\n"
        );
        let payload = if method == "HEAD" { Vec::new() } else { reply.into_bytes() };
        if chunked && method != "HEAD" {
            out.push_str("Transfer-Encoding: chunked\r\n\r\n");
            let mut bytes = out.into_bytes();
            // Small chunks, as a streaming encoder sends them.
            for piece in payload.chunks(100) {
                bytes.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                bytes.extend_from_slice(piece);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            if conn.write_all(&bytes).is_err() {
                return;
            }
        } else {
            out.push_str(&format!("Content-Length: {}\r\n\r\n", payload.len()));
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&payload);
            if conn.write_all(&bytes).is_err() {
                return;
            }
        }
    }
}

/// The Engine API's answer to `target` (with or without a `/v1.NN` prefix).
fn route(target: &str, containers: &[Value]) -> (u16, String, bool) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = match path.strip_prefix("/v1.") {
        Some(rest) => &rest[rest.find('/').unwrap_or(0)..],
        None => path,
    };
    if path == "/_ping" {
        return (200, "OK".into(), false);
    }
    if path == "/containers/json" {
        let query = percent_decode(query);
        let wanted = query.split("com.docker.compose.project=").nth(1).and_then(|r| r.split('"').next());
        let rows: Vec<Value> = containers
            .iter()
            .filter(|c| wanted.is_none_or(|p| c["Config"]["Labels"]["com.docker.compose.project"] == p))
            .filter(|c| query.contains("all=1") || query.contains("all=true") || c["State"]["Running"] == true)
            .map(listed)
            .collect();
        return (200, Value::Array(rows).to_string(), false);
    }
    if let Some(id) = path.strip_prefix("/containers/").and_then(|r| r.strip_suffix("/json")) {
        let id = percent_decode(id);
        let found = containers.iter().find(|c| {
            c["Name"] == format!("/{id}") || c["Id"].as_str().is_some_and(|full| id.len() >= 4 && full.starts_with(&id))
        });
        return match found {
            Some(c) => (200, c.to_string(), true),
            None => (404, json!({"message": format!("No such container: {id}")}).to_string(), false),
        };
    }
    (404, json!({"message": "page not found"}).to_string(), false)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The containers of the tests: singles and a compose project `shop` of three.
fn fleet() -> Vec<Value> {
    vec![
        inspect("pg", "", state("running", 0, Some("healthy")), 0),
        inspect("killed", "", state("exited", 137, None), 0),
        inspect("frozen", "", state("paused", 0, None), 0),
        inspect("bouncing", "", state("restarting", 1, None), 7),
        inspect("sick", "", state("running", 0, Some("unhealthy")), 0),
        inspect("warming", "", state("running", 0, Some("starting")), 0),
        inspect("shop-web-1", "shop", state("running", 0, Some("healthy")), 0),
        inspect("shop-db-1", "shop", state("running", 0, None), 0),
        inspect("shop-worker-1", "shop", state("running", 1, None), 2),
    ]
}

fn single(name: &str, container: &str, socket: &Path) -> String {
    format!("[[container]]\nname = \"{name}\"\ncontainer = \"{container}\"\nsocket = \"{}\"\n", socket.display())
}

// ---------------------------------------------------------------------------
// Containers

#[test]
fn each_container_state_is_judged_as_a_user_reads_it() {
    let engine = Engine::start(fleet());
    let root = TestRoot::new();
    let mut toml = QUIET.to_string();
    for n in ["pg", "killed", "frozen", "bouncing", "sick", "warming"] {
        toml.push_str(&single(n, n, &engine.socket));
    }
    toml.push_str(&single("ghost", "no-such", &engine.socket));
    root.write_config(&toml);
    let doc = heartbeat(&root);
    let expect = [
        ("pg", "ok", "running, healthy"),
        ("killed", "fail", "exited, not running: last exit 137 (SIGKILL)"),
        ("frozen", "fail", "paused"),
        ("bouncing", "fail", "restarting, last exit 1"),
        ("sick", "fail", "unhealthy (5 failed health checks in a row)"),
        ("warming", "warn", "health check still starting"),
        ("ghost", "fail", "no container named \"no-such\""),
    ];
    for (name, status, words) in expect {
        let (st, msg) = status_msg(&doc, &format!("container:{name}"));
        assert_eq!(st, status, "container:{name}: {msg}");
        assert!(msg.contains(words), "container:{name}: {msg:?} lacks {words:?}");
    }
    // Nothing of Config.Env anywhere: output, state, history, reports.
    assert!(!doc.to_string().contains(ENV_SECRET));
    assert!(root.files_containing(ENV_SECRET).is_empty(), "{:?}", root.files_containing(ENV_SECRET));
}

#[test]
fn a_compose_project_names_its_bad_containers_and_a_crash_loop_is_seen_across_runs() {
    let engine = Engine::start(fleet());
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}[[container]]\nname = \"shop\"\ncompose_project = \"shop\"\nsocket = \"{}\"\n",
        engine.socket.display()
    ));
    let (st, msg) = status_msg(&heartbeat(&root), "container:shop");
    assert_eq!((st.as_str(), msg.as_str()), ("ok", "all 3 containers running"));

    // The worker now dies and is restarted by its policy, 4 times in 5 minutes.
    engine.set("shop-worker-1", |c| c["RestartCount"] = json!(6));
    let (st, msg) = status_msg(&heartbeat(&root), "container:shop");
    assert_eq!(st, "fail", "{msg}");
    assert_eq!(
        msg,
        "1 of 3 containers not well: shop-worker-1: crash loop: restarted 4 times since the previous run, last exit 1"
    );

    // No new restarts since: well again. Then the database is OOM-killed.
    let (st, _) = status_msg(&heartbeat(&root), "container:shop");
    assert_eq!(st, "ok");
    engine.set("shop-db-1", |c| {
        c["State"] = state("exited", 137, None);
        c["State"]["OOMKilled"] = json!(true);
    });
    let (st, msg) = status_msg(&heartbeat(&root), "container:shop");
    assert_eq!(st, "fail");
    assert!(
        msg.contains("shop-db-1: exited, not running: last exit 137 (SIGKILL), killed for memory (OOMKilled)"),
        "{msg}"
    );
    assert!(!msg.contains("shop-web-1"), "only the bad ones are named: {msg}");

    // A project with nothing in it says how to start it.
    root.write_config(&format!(
        "{QUIET}[[container]]\nname = \"none\"\ncompose_project = \"nope\"\nsocket = \"{}\"\n",
        engine.socket.display()
    ));
    let (st, msg) = status_msg(&heartbeat(&root), "container:none");
    assert_eq!(st, "fail");
    assert!(msg.contains("no containers of compose project \"nope\""), "{msg}");
}

#[test]
fn the_socket_comes_from_docker_host_and_a_missing_one_says_what_was_tried() {
    let engine = Engine::start(fleet());
    let root = TestRoot::new();
    root.write_config(&format!("{QUIET}[[container]]\nname = \"pg\"\ncontainer = \"pg\"\n"));
    let doc = ops(&root)
        .args(["heartbeat", "--json"])
        .env("DOCKER_HOST", format!("unix://{}", engine.socket.display()))
        .run()
        .json();
    assert_eq!(status_msg(&doc, "container:pg").0, "ok");

    let gone = root.path("nowhere/docker.sock");
    let doc =
        ops(&root).args(["heartbeat", "--json"]).env("DOCKER_HOST", format!("unix://{}", gone.display())).run().json();
    let (st, msg) = status_msg(&doc, "container:pg");
    assert_eq!(st, "fail");
    for words in [
        format!("{} (DOCKER_HOST)", gone.display()).as_str(),
        ".orbstack/run/docker.sock",
        "/var/run/docker.sock",
        "set socket =",
    ] {
        assert!(msg.contains(words), "{msg:?} lacks {words:?}");
    }
    // A socket nobody listens on: the Engine is not running.
    drop(engine);
    let dead = root.path("dead.sock");
    drop(UnixListener::bind(&dead).unwrap());
    root.write_config(&format!("{QUIET}{}", single("pg", "pg", &dead)));
    let (st, msg) = status_msg(&heartbeat(&root), "container:pg");
    assert_eq!(st, "fail");
    assert!(msg.contains("not running: nothing answers at"), "{msg}");
}

/// The stub is what a real Engine is to the real docker CLI (scripts/test.sh
/// installs one where the machine has none).
#[test]
fn the_stub_engine_is_read_by_the_real_docker_cli() {
    let docker = find_program("docker", "OPS_ATOMIC_DOCKER", "apt-get install -y docker.io (only its CLI is used)");
    let engine = Engine::start(fleet());
    let host = format!("unix://{}", engine.socket.display());
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&docker)
            .args(["-H", &host])
            .args(args)
            .env("DOCKER_CONFIG", engine.socket.parent().unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ps =
        run(&["ps", "-a", "--filter", "label=com.docker.compose.project=shop", "--format", "{{.Names}} {{.State}}"]);
    let mut rows: Vec<&str> = ps.lines().collect();
    rows.sort_unstable();
    assert_eq!(rows, ["shop-db-1 running", "shop-web-1 running", "shop-worker-1 running"]);
    let one = run(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "killed"]);
    assert_eq!(one.trim(), "exited 137 0");
    let h = run(&["inspect", "--format", "{{.State.Health.Status}}", "sick"]);
    assert_eq!(h.trim(), "unhealthy");
}

// ---------------------------------------------------------------------------
// init: what runs now, proposed

/// The block of a `#[[kind]]` whose `#name` line starts with `name_prefix`,
/// uncommented, as a user who removes the `#`s gets it.
fn uncomment_block(text: &str, kind: &str, name_prefix: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(&format!("#name = \"{name_prefix}")))
        .unwrap_or_else(|| panic!("init proposed no {kind} named {name_prefix}...:\n{text}"));
    assert_eq!(lines[at - 1], format!("#[[{kind}]]"), "{text}");
    let mut out = format!("[[{kind}]]\n");
    for l in &lines[at..] {
        if l.starts_with("#[[") || !l.starts_with('#') || l.starts_with("# ") {
            break;
        }
        out.push_str(&l[1..]);
        out.push('\n');
    }
    out
}

#[test]
fn init_proposes_each_running_compose_project_and_the_open_ports_with_their_owners() {
    let engine = Engine::start(fleet());
    // A real server on a free port: a Python HTTP server, as a developer runs one.
    let port = free_port();
    let mut server = Kill(
        std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3"),
    );
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let root = TestRoot::new();
    let host = format!("unix://{}", engine.socket.display());
    let off = |p: u16| format!("127.0.0.1:{p}");
    let run = ops(&root)
        .args(["init", "--dry-run"])
        .env("DOCKER_HOST", &host)
        .env("OPS_ATOMIC_INIT_REDIS_ADDR", off(free_port()))
        .env("OPS_ATOMIC_INIT_PG_ADDR", off(free_port()))
        .run();
    run.expect_code(0);
    let text = &run.stdout;
    // One block per compose project, naming its running containers; the
    // running containers of no project one each; stopped ones not at all.
    assert_eq!(text.matches("#compose_project = \"shop\"").count(), 1, "{text}");
    assert!(text.contains("now: shop-db-1, shop-web-1, shop-worker-1"), "{text}");
    assert!(text.contains("#container = \"pg\""), "{text}");
    assert!(!text.contains("#container = \"killed\""), "an exited container was proposed:\n{text}");
    assert!(!text.contains(ENV_SECRET), "a container's env leaked into init's file");
    // The port, with its owner's program as owner_contains.
    let tcp = uncomment_block(text, "tcp", &format!("port {port} (python3"));
    assert!(tcp.contains(&format!("address = \"127.0.0.1:{port}\"")), "{tcp}");
    assert!(tcp.contains("owner_contains = \"python3"), "{tcp}");
    // What it proposes works as written, once the # are removed.
    let container = uncomment_block(text, "container", "shop");
    root.write_config(&format!("{QUIET}{tcp}{container}"));
    let doc = ops(&root).args(["heartbeat", "--json"]).env("DOCKER_HOST", &host).run().json();
    let tcp_check = doc["checks"].as_array().unwrap().iter().find(|c| c["kind"] == "tcp").expect("the tcp check");
    assert_eq!(tcp_check["status"], "ok", "{tcp_check:#}");
    assert!(
        tcp_check["message"].as_str().unwrap().contains(&format!("owned by pid {}", server.0.id())),
        "{tcp_check:#}"
    );
    let (st, msg) = status_msg(&doc, "container:shop (compose)");
    assert_eq!(st, "ok", "{msg}");
    let _ = server.0.kill();
    let _ = server.0.wait();
    // With no Engine anywhere, init says so instead of guessing.
    let run = ops(&root)
        .args(["init", "--dry-run"])
        .env("DOCKER_HOST", format!("unix://{}", root.path("none.sock").display()))
        .env("OPS_ATOMIC_INIT_REDIS_ADDR", off(free_port()))
        .env("OPS_ATOMIC_INIT_PG_ADDR", off(free_port()))
        .run();
    assert!(run.stdout.contains("init found no container Engine"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------
// A real Podman service: its Docker-compatible API

/// `podman system service` on a socket in a temp folder, with its own
/// storage (vfs: works in any container), stopped on drop.
struct Podman {
    bin: PathBuf,
    dir: PathBuf,
    socket: PathBuf,
    _service: Guarded,
}

impl Podman {
    fn start() -> Podman {
        let bin = find_program("podman", "OPS_ATOMIC_PODMAN", "apt-get install -y podman");
        // Short: a Unix socket path is limited to about 100 bytes.
        let dir = std::env::temp_dir().join(format!("oa-pm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("api.sock");
        let mut args: Vec<std::ffi::OsString> = Podman::storage(&dir);
        args.extend(["system".into(), "service".into(), "--time=0".into()]);
        args.push(format!("unix://{}", socket.display()).into());
        let log = dir.join("service.log");
        let service = Guarded::spawn(Spawn {
            name: "podman system service",
            program: &bin,
            args,
            stop_signal: "TERM",
            log: &log,
            cleanup: Some(&dir),
            cwd: &dir,
            as_server_user: false,
        });
        for _ in 0..400 {
            if UnixStream::connect(&socket).is_ok() {
                return Podman { bin, dir, socket, _service: service };
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("podman system service did not open {} within 10 s: {}", socket.display(), service.log());
    }

    fn storage(dir: &Path) -> Vec<std::ffi::OsString> {
        let d = dir.display();
        vec![
            "--root".into(),
            format!("{d}/root").into(),
            "--runroot".into(),
            format!("{d}/run").into(),
            "--storage-driver".into(),
            "vfs".into(),
            // No systemd or journald in a CI container.
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ]
    }

    fn podman(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(&self.bin).args(Podman::storage(&self.dir)).args(args).output().unwrap();
        assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn a_real_podman_service_is_asked_like_a_docker_engine() {
    let pm = Podman::start();
    // An image of one file, imported: no registry is needed.
    let rootfs = pm.dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    std::fs::write(rootfs.join("hello"), "hi\n").unwrap();
    let tar = pm.dir.join("mini.tar");
    let ok = std::process::Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(ok.success());
    pm.podman(&["import", tar.to_str().unwrap(), "localhost/oa-mini"]);
    // Created, never started: what a compose service that failed to start looks like.
    let env = format!("TOKEN={ENV_SECRET}");
    pm.podman(&[
        "create",
        "--name",
        "made",
        "--network",
        "none",
        "-e",
        &env,
        "--label",
        "com.docker.compose.project=shop",
        "localhost/oa-mini",
        "/hello",
    ]);
    let root = TestRoot::new();
    let sock = pm.socket.display().to_string();
    root.write_config(&format!(
        "{QUIET}{}{}[[container]]\nname = \"shop\"\ncompose_project = \"shop\"\nsocket = \"{sock}\"\n",
        single("made", "made", &pm.socket),
        single("ghost", "no-such", &pm.socket),
    ));
    let run = ops(&root).args(["heartbeat", "--json"]).run();
    assert!(!run.stdout.contains(ENV_SECRET) && !run.stderr.contains(ENV_SECRET), "a secret from Config.Env leaked");
    let doc = run.json();
    let (st, msg) = status_msg(&doc, "container:made");
    assert_eq!((st.as_str(), msg.as_str()), ("fail", "created, never started (`docker start` starts it)"), "{msg}");
    let (st, msg) = status_msg(&doc, "container:ghost");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.contains("no container named \"no-such\""), "{msg}");
    let (st, msg) = status_msg(&doc, "container:shop");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.contains("made") && msg.contains("created"), "the project's bad container is not named: {msg}");
    for f in root.names_in("g/state") {
        let text = std::fs::read_to_string(root.path(&format!("g/state/{f}"))).unwrap_or_default();
        assert!(!text.contains(ENV_SECRET), "g/state/{f} holds a secret from Config.Env");
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

// ---------------------------------------------------------------------------
// Processes: memory and CPU

/// A child process killed on drop.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bash -c script marker`: the marker is in its command line as `$0`.
fn spawn(script: &str, marker: &str) -> Kill {
    Kill(std::process::Command::new("bash").args(["-c", script, marker]).spawn().expect("bash"))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

#[test]
fn a_process_that_grows_past_max_rss_mb_fails_with_its_pid_and_size() {
    let marker = format!("oa-leak-{}", std::process::id());
    // About 150 MiB held in a shell variable: a leak, as `ps` sees it.
    let leak = spawn("x=$(head -c 150000000 /dev/zero | tr '\\0' a); echo ready; sleep 60", &marker);
    let pid = leak.0.id();
    for _ in 0..500 {
        if rss_kb(pid) > 100 * 1024 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(rss_kb(pid) > 100 * 1024, "the leaking shell never grew: {} KiB", rss_kb(pid));
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}[[process]]\nname = \"leak\"\ncmdline_contains = \"{marker}\"\nmax_rss_mb = 64\n[[process]]\nname = \"roomy\"\ncmdline_contains = \"{marker}\"\nmax_rss_mb = 4096\n"
    ));
    let doc = heartbeat(&root);
    let (st, msg) = status_msg(&doc, "process:leak");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.contains(&format!("PID {pid} uses ")) && msg.contains("MiB of memory (max_rss_mb = 64)"), "{msg}");
    assert_eq!(status_msg(&doc, "process:roomy").0, "ok");
}

#[test]
fn a_process_spinning_the_cpu_fails_on_the_run_after_the_first() {
    let marker = format!("oa-spin-{}", std::process::id());
    let spin = spawn("while :; do :; done", &marker);
    let pid = spin.0.id();
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}[[process]]\nname = \"spin\"\ncmdline_contains = \"{marker}\"\nmax_cpu_percent = 30\n[[process]]\nname = \"lax\"\ncmdline_contains = \"{marker}\"\nmax_cpu_percent = 400\n"
    ));
    let (st, msg) = status_msg(&heartbeat(&root), "process:spin");
    assert_eq!(st, "ok", "the first run only records: {msg}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let doc = heartbeat(&root);
    let (st, msg) = status_msg(&doc, "process:spin");
    assert_eq!(st, "fail", "{msg}");
    assert!(
        msg.contains(&format!("PID {pid} used "))
            && msg.contains("% CPU over the last")
            && msg.contains("(max_cpu_percent = 30)"),
        "{msg}"
    );
    assert_eq!(status_msg(&doc, "process:lax").0, "ok");
}

// ---------------------------------------------------------------------------
// LaunchAgents: crash loops

#[test]
fn a_launchagent_restarted_in_a_loop_fails_as_a_crash_loop() {
    let root = TestRoot::new();
    let lc = root.launchctl();
    lc.seed("com.example.worker", None, 78).seed("com.example.fine", Some(4242), 0);
    root.write_config(&format!("{QUIET}[launchagents]\nlabels = [\"com.example.worker\", \"com.example.fine\"]\n"));
    let (st, msg) = status_msg(&heartbeat(&root), "launchagent:com.example.worker");
    assert_eq!(st, "warn", "the first run only records: {msg}");
    // launchd starts it again and again: `runs` from 1 to 31.
    std::fs::write(lc.state_dir().join("jobs/com.example.worker/runs"), "31\n").unwrap();
    let doc = heartbeat(&root);
    let (st, msg) = status_msg(&doc, "launchagent:com.example.worker");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.starts_with("crash loop: started 30 times in 1 minute, last exit 78 (EX_CONFIG)"), "{msg}");
    assert_eq!(status_msg(&doc, "launchagent:com.example.fine").0, "ok");
    // `print` is asked only for the label with a non-zero exit.
    let calls = std::fs::read_to_string(lc.state_dir().join("calls.log")).unwrap();
    assert!(calls.lines().any(|l| l.starts_with("print\t") && l.ends_with("/com.example.worker")), "{calls}");
    assert!(!calls.lines().any(|l| l.starts_with("print\t") && l.ends_with("/com.example.fine")), "{calls}");
    // No more starts: a warning again, not a loop.
    let (st, _) = status_msg(&heartbeat(&root), "launchagent:com.example.worker");
    assert_eq!(st, "warn");
}

// ---------------------------------------------------------------------------
// TCP: who owns the port

#[test]
fn a_port_answered_by_the_wrong_process_names_its_owner_as_lsof_does() {
    // The listener belongs to this test process, whose command line is the
    // test binary's (`…/deps/stack-<hash> …`).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let me = std::process::id();
    let root = TestRoot::new();
    root.write_config(&format!(
        "{QUIET}[[tcp]]\nname = \"mine\"\naddress = \"127.0.0.1:{port}\"\nowner_contains = \"deps/stack\"\n[[tcp]]\nname = \"pg\"\naddress = \"127.0.0.1:{port}\"\nowner_contains = \"postgres\"\n"
    ));
    let doc = heartbeat(&root);
    let (st, msg) = status_msg(&doc, "tcp:mine");
    assert_eq!(st, "ok", "{msg}");
    assert!(msg.ends_with(&format!("owned by pid {me}")), "{msg}");
    let (st, msg) = status_msg(&doc, "tcp:pg");
    assert_eq!(st, "fail", "{msg}");
    assert!(msg.starts_with(&format!("port {port} is answered by pid {me} `")) && msg.contains("deps/stack"), "{msg}");
    // The real lsof names the same owner.
    let lsof = which("lsof")
        .unwrap_or_else(|| panic!("lsof is needed to cross-check the port owner: apt-get install -y lsof"));
    let out = std::process::Command::new(lsof)
        .args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN", "-F", "pcn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l == format!("p{me}")), "lsof says: {text}");
    drop(listener);
}
