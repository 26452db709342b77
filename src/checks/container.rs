//! Containers: one container, or every container of a compose project, asked
//! of the Docker Engine API over its Unix socket (Docker Desktop, OrbStack,
//! Colima and Podman all answer the same API there).
//!
//! The HTTP/1.1 client is a small one of ours over `UnixStream`: one GET per
//! connection (`Connection: close`), a bounded reply ([`MAX_REPLY`]), chunked
//! transfer-encoding decoded. Only the fields needed are deserialized: the
//! container's `Config.Env` (where passwords live) is never read.
//!
//! A crash loop is seen across runs: the memo keeps each container's
//! `RestartCount`, and a rise of `max_restarts` or more since the previous
//! run fails, with the last exit code.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::validate;

/// The largest reply read from the Engine; a bigger one is an error, not a hang.
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

crate::check_section! {
    /// `[[container]]`: a container (or a compose project's) must be running and healthy.
    pub struct Container {
        /// Name shown in reports and alerts (id `container:<name>`).
        pub name: String = String::new(),
        /// A container name or id.
        pub container: String = String::new(),
        /// Or: every container of this compose project (label `com.docker.compose.project`).
        pub compose_project: String = String::new(),
        /// The Engine's Unix socket; default: DOCKER_HOST, the current docker context, OrbStack, Docker Desktop, Colima, /var/run/docker.sock.
        pub socket: String = String::new(),
        /// RestartCount rising by this much since the previous run = crash loop.
        pub max_restarts: u32 = 3,
        /// Time for the Engine to answer, in ms.
        pub timeout_ms: u64 = 3000,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Container {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "container"
    }
    fn section(&self) -> &'static str {
        "Containers"
    }
    fn idents(&self) -> Vec<Ident> {
        let target = if self.compose_project.is_empty() {
            format!("container {}", self.container)
        } else {
            format!("compose project {}", self.compose_project)
        };
        vec![Ident::named(self, &self.name, self.severity, target)]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "container check");
        match (self.container.trim().is_empty(), self.compose_project.trim().is_empty()) {
            (true, true) => errs.push(format!(
                "{at}: give container = \"name-or-id\" or compose_project = \"myapp\" (as `docker ps` names them)"
            )),
            (false, false) => errs.push(format!("{at}: give container or compose_project, not both")),
            _ => {}
        }
        if self.container.contains(['/', '?', '#', ' ']) {
            errs.push(format!("{at}.container = {:?}: a name or id has no '/', '?', '#' or spaces", self.container));
        }
        if self.max_restarts == 0 {
            errs.push(format!("{at}.max_restarts = 0: must be at least 1 (3 is the default)"));
        }
        validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        errs
    }
    fn timeout(&self) -> Duration {
        // A compose project costs one request per container; leave room.
        Duration::from_millis(self.timeout_ms * 2 + 500)
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let who = &self.idents()[0];
        let memo: Memo = env.memo(&who.id).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let docker_host = std::env::var("DOCKER_HOST").ok();
        let mut r = match find_socket(&self.socket, docker_host.as_deref(), home.as_deref()) {
            Err(tried) => CheckResult::new(who, CheckStatus::Fail, no_socket(&tried)),
            Ok(sock) => {
                let engine = Engine { socket: sock, timeout: Duration::from_millis(self.timeout_ms) };
                match self.inspect_all(&engine) {
                    Err(why) => {
                        let mut r = CheckResult::new(who, CheckStatus::Fail, why);
                        r.memo = serde_json::to_value(&memo).ok();
                        r
                    }
                    Ok(found) => {
                        let (status, message, next) = judge(self, &found, &memo);
                        let mut r = CheckResult::new(who, status, message);
                        r.memo = serde_json::to_value(next).ok();
                        r
                    }
                }
            }
        };
        r.latency_ms = start.elapsed().as_millis() as u64;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

impl Container {
    /// The containers this check is about, inspected.
    fn inspect_all(&self, engine: &Engine) -> Result<Vec<Inspect>, String> {
        if self.compose_project.is_empty() {
            return match engine.get(&format!("/containers/{}/json", encode(&self.container)))? {
                (200, body) => Ok(vec![parse(&body)?]),
                (404, _) => Err(format!("no container named {:?} (`docker ps -a` lists them)", self.container)),
                (code, body) => Err(engine_error(code, &body)),
            };
        }
        let filter = format!(r#"{{"label":["com.docker.compose.project={}"]}}"#, self.compose_project);
        let listed: Vec<Listed> = match engine.get(&format!("/containers/json?all=1&filters={}", encode(&filter)))? {
            (200, body) => parse(&body)?,
            (code, body) => return Err(engine_error(code, &body)),
        };
        let mut out = Vec::new();
        for c in listed {
            match engine.get(&format!("/containers/{}/json", encode(&c.id)))? {
                (200, body) => out.push(parse(&body)?),
                (404, _) => {} // removed between the list and the inspect
                (code, body) => return Err(engine_error(code, &body)),
            }
        }
        Ok(out)
    }
}

/// What the check keeps between runs: each container's RestartCount, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memo {
    #[serde(default)]
    pub restarts: BTreeMap<String, u64>,
}

/// The fields of `GET /containers/{id}/json` the verdict needs (no `Config`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Inspect {
    pub name: String,
    pub restart_count: u64,
    pub state: State,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct State {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`.
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub exit_code: i64,
    pub health: Option<Health>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy`, `unhealthy`.
    pub status: String,
    pub failing_streak: u64,
}

/// One row of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize)]
struct Listed {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Names", default)]
    names: Vec<String>,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The running containers, for `init`: compose projects (each with its
/// containers' names) and the containers of no project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Running {
    /// The socket they were read from.
    pub socket: PathBuf,
    pub projects: BTreeMap<String, Vec<String>>,
    pub loose: Vec<String>,
}

/// What runs on the Engine found as [[container]] finds it, within `timeout`.
/// `Err` says why none could be asked (no socket: what was tried).
pub fn running(timeout: Duration) -> Result<Running, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let socket = find_socket("", docker_host.as_deref(), home.as_deref()).map_err(|tried| no_socket(&tried))?;
    let engine = Engine { socket: socket.clone(), timeout };
    let listed: Vec<Listed> = match engine.get("/containers/json")? {
        (200, body) => parse(&body)?,
        (code, body) => return Err(engine_error(code, &body)),
    };
    let mut out = Running { socket, ..Running::default() };
    for c in listed {
        let name = c.names.first().map(|n| n.trim_start_matches('/').to_string()).unwrap_or(c.id);
        match c.labels.as_ref().and_then(|l| l.get("com.docker.compose.project")) {
            Some(p) if !p.is_empty() => out.projects.entry(p.clone()).or_default().push(name),
            _ => out.loose.push(name),
        }
    }
    out.projects.values_mut().for_each(|v| v.sort());
    out.loose.sort();
    Ok(out)
}

impl Inspect {
    /// The name without the Engine's leading `/`.
    pub fn short_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    fn last_exit(&self) -> String {
        let code = self.state.exit_code;
        let mut s = format!("last exit {code}");
        if code > 128
            && let Some(name) = i32::try_from(code - 128).ok().and_then(crate::launchd::launchctl::signal_name)
        {
            s.push_str(&format!(" ({name})"));
        }
        if self.state.oom_killed {
            s.push_str(", killed for memory (OOMKilled)");
        }
        s
    }
}

/// One container's verdict, its words, given its RestartCount of the previous run.
pub fn verdict(c: &Inspect, previous: Option<u64>, max_restarts: u32) -> (CheckStatus, String) {
    let st = &c.state;
    let rose = previous.map_or(0, |p| c.restart_count.saturating_sub(p));
    if rose >= u64::from(max_restarts) {
        let word = if rose == 1 { "time" } else { "times" };
        return (
            CheckStatus::Fail,
            format!("crash loop: restarted {rose} {word} since the previous run, {}", c.last_exit()),
        );
    }
    if st.restarting || st.status == "restarting" {
        return (CheckStatus::Fail, format!("restarting, {}", c.last_exit()));
    }
    if st.paused || st.status == "paused" {
        return (CheckStatus::Fail, "paused (`docker unpause` resumes it)".into());
    }
    if !st.running && st.status == "created" {
        // Never started: there is no exit code to speak of.
        return (CheckStatus::Fail, "created, never started (`docker start` starts it)".into());
    }
    if !st.running {
        let status = if st.status.is_empty() { "not running" } else { &st.status };
        return (CheckStatus::Fail, format!("{status}, not running: {}", c.last_exit()));
    }
    match st.health.as_ref().map(|h| (h.status.as_str(), h.failing_streak)) {
        Some(("unhealthy", streak)) => {
            (CheckStatus::Fail, format!("running but unhealthy ({streak} failed health checks in a row)"))
        }
        Some(("starting", _)) => (CheckStatus::Warn, "running, health check still starting".into()),
        Some(("healthy", _)) => (CheckStatus::Ok, "running, healthy".into()),
        _ => (CheckStatus::Ok, "running".into()),
    }
}

/// The verdict on every container found, and the memo for the next run.
pub fn judge(cfg: &Container, found: &[Inspect], memo: &Memo) -> (CheckStatus, String, Memo) {
    let next = Memo { restarts: found.iter().map(|c| (c.short_name().to_string(), c.restart_count)).collect() };
    if cfg.compose_project.is_empty() {
        let Some(c) = found.first() else {
            return (CheckStatus::Fail, format!("no container named {:?}", cfg.container), next);
        };
        let (status, message) = verdict(c, memo.restarts.get(c.short_name()).copied(), cfg.max_restarts);
        return (status, message, next);
    }
    if found.is_empty() {
        return (
            CheckStatus::Fail,
            format!(
                "no containers of compose project {:?} (`docker compose -p {} up -d` starts them)",
                cfg.compose_project, cfg.compose_project
            ),
            next,
        );
    }
    let mut worst = CheckStatus::Ok;
    let mut bad = Vec::new();
    for c in found {
        let (status, message) = verdict(c, memo.restarts.get(c.short_name()).copied(), cfg.max_restarts);
        if status != CheckStatus::Ok {
            bad.push(format!("{}: {message}", c.short_name()));
        }
        worst = match (worst, status) {
            (CheckStatus::Fail, _) | (_, CheckStatus::Fail) => CheckStatus::Fail,
            (CheckStatus::Warn, _) | (_, CheckStatus::Warn) => CheckStatus::Warn,
            _ => CheckStatus::Ok,
        };
    }
    let n = found.len();
    let message = if bad.is_empty() {
        format!("all {n} containers running")
    } else {
        format!("{} of {n} containers not well: {}", bad.len(), bad.join("; "))
    };
    (worst, message, next)
}

/// The Engine socket: `socket`, else `DOCKER_HOST` (`unix://`), else the
/// current docker context, else the first that exists of OrbStack, Docker
/// Desktop, Colima and `/var/run/docker.sock`. `Err` lists what was tried.
pub fn find_socket(socket: &str, docker_host: Option<&str>, home: Option<&Path>) -> Result<PathBuf, Vec<String>> {
    let mut tried = Vec::new();
    let exists = |p: &Path| std::fs::metadata(p).is_ok();
    if !socket.is_empty() {
        let p = PathBuf::from(socket.strip_prefix("unix://").unwrap_or(socket));
        if exists(&p) {
            return Ok(p);
        }
        return Err(vec![format!("{} (socket)", p.display())]);
    }
    if let Some(h) = docker_host.filter(|h| !h.is_empty()) {
        match h.strip_prefix("unix://") {
            Some(p) if exists(Path::new(p)) => return Ok(PathBuf::from(p)),
            Some(p) => tried.push(format!("{p} (DOCKER_HOST)")),
            None => tried.push(format!("DOCKER_HOST={h} (only unix:// sockets are supported)")),
        }
    }
    if let Some(home) = home {
        if let Some(p) = context_socket(home) {
            if exists(&p) {
                return Ok(p);
            }
            tried.push(format!("{} (the current docker context)", p.display()));
        }
        for rel in [".orbstack/run/docker.sock", ".docker/run/docker.sock", ".colima/default/docker.sock"] {
            let p = home.join(rel);
            if exists(&p) {
                return Ok(p);
            }
            tried.push(format!("~/{rel}"));
        }
    }
    let p = PathBuf::from("/var/run/docker.sock");
    if exists(&p) {
        return Ok(p);
    }
    tried.push(p.display().to_string());
    Err(tried)
}

/// The socket of `currentContext` in `~/.docker/config.json`, from its
/// `~/.docker/contexts/meta/<hash>/meta.json` (`Endpoints.docker.Host`).
fn context_socket(home: &Path) -> Option<PathBuf> {
    let read = |p: &Path| -> Option<serde_json::Value> {
        let f = std::fs::File::open(p).ok()?;
        serde_json::from_reader(f.take(1 << 20)).ok()
    };
    let config = read(&home.join(".docker/config.json"))?;
    let current = config.get("currentContext")?.as_str()?;
    if current.is_empty() || current == "default" {
        return None;
    }
    for entry in std::fs::read_dir(home.join(".docker/contexts/meta")).ok()?.flatten() {
        let Some(meta) = read(&entry.path().join("meta.json")) else { continue };
        if meta.get("Name").and_then(|n| n.as_str()) != Some(current) {
            continue;
        }
        let host = meta.pointer("/Endpoints/docker/Host")?.as_str()?;
        return host.strip_prefix("unix://").map(PathBuf::from);
    }
    None
}

fn no_socket(tried: &[String]) -> String {
    format!(
        "no Docker Engine socket: start Docker Desktop, OrbStack, Colima or Podman, or set socket = \"<path>\" in [[container]]; tried {}",
        tried.join(", ")
    )
}

fn engine_error(code: u16, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Msg {
        message: String,
    }
    let said = serde_json::from_slice::<Msg>(body).map(|m| m.message).unwrap_or_default();
    format!(
        "the Docker Engine answered HTTP {code}{}",
        if said.is_empty() { String::new() } else { format!(": {said}") }
    )
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("the Docker Engine's reply is not what it should be: {e}"))
}

/// Percent-encodes everything but the unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The Engine API at a Unix socket.
pub struct Engine {
    pub socket: PathBuf,
    pub timeout: Duration,
}

impl Engine {
    /// One `GET path`: the status code and the (de-chunked) body.
    pub fn get(&self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let sock = self.socket.display();
        let mut s = UnixStream::connect(&self.socket).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                format!(
                    "cannot open the Docker Engine socket {sock}: permission denied (is this user in the docker group?)"
                )
            }
            std::io::ErrorKind::ConnectionRefused => {
                format!("the Docker Engine is not running: nothing answers at {sock}")
            }
            _ => format!("cannot connect to the Docker Engine at {sock}: {e}"),
        })?;
        s.set_read_timeout(Some(self.timeout)).ok();
        s.set_write_timeout(Some(self.timeout)).ok();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: ops-atomic\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes()).map_err(|e| format!("the Docker Engine at {sock}: {e}"))?;
        // Read until the reply is whole by its own framing (an Engine may
        // keep the connection open), or the Engine closes it.
        let mut raw = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match s.read(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    let ms = self.timeout.as_millis();
                    return Err(format!("the Docker Engine at {sock} did not answer within {ms} ms"));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("the Docker Engine at {sock}: {e}")),
            };
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_REPLY + 64 * 1024 {
                return Err(format!("the Docker Engine at {sock}: the reply is larger than {} MiB", MAX_REPLY >> 20));
            }
            match parse_reply(&raw, n == 0) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => continue,
                Err(e) => return Err(format!("the Docker Engine at {sock}: {e}")),
            }
        }
    }
}

/// An HTTP/1.1 reply: the status and the body, de-chunked, at most
/// [`MAX_REPLY`] bytes; `None` while it is not whole yet (`eof`: nothing
/// more will come, so a cut-off reply is an error).
pub fn parse_reply(raw: &[u8], eof: bool) -> Result<Option<(u16, Vec<u8>)>, String> {
    let more = |why: &str| if eof { Err(why.to_string()) } else { Ok(None) };
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return more("the reply has no HTTP header");
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .filter(|_| status_line.starts_with("HTTP/1."))
        .ok_or_else(|| format!("not an HTTP reply: {:?}", status_line.chars().take(60).collect::<String>()))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        } else if k == "content-length" {
            length = v.parse::<usize>().ok();
        }
    }
    let body = &raw[end + 4..];
    let body = if chunked {
        match dechunk(body)? {
            Some(b) => b,
            None => return more("the reply ended inside a chunk"),
        }
    } else if let Some(n) = length {
        if n > MAX_REPLY {
            return Err(format!("the reply is larger than {} MiB", MAX_REPLY >> 20));
        }
        if body.len() < n {
            return more(&format!("the reply ended after {} of {n} bytes", body.len()));
        }
        body[..n].to_vec()
    } else if eof {
        body.to_vec()
    } else {
        return Ok(None);
    };
    if body.len() > MAX_REPLY {
        return Err(format!("the reply is larger than {} MiB", MAX_REPLY >> 20));
    }
    Ok(Some((code, body)))
}

/// The de-chunked body; `None` while the last chunk has not arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if out.len() + size > MAX_REPLY {
            return Err(format!("the reply is larger than {} MiB", MAX_REPLY >> 20));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(json: &str) -> Inspect {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn states_are_judged() {
        let running = c(r#"{"Name":"/db","RestartCount":0,"State":{"Status":"running","Running":true}}"#);
        assert_eq!(verdict(&running, None, 3), (CheckStatus::Ok, "running".into()));
        let killed = c(r#"{"Name":"/db","State":{"Status":"exited","ExitCode":137}}"#);
        let (st, msg) = verdict(&killed, None, 3);
        assert_eq!(st, CheckStatus::Fail);
        assert!(msg.contains("exited") && msg.contains("137 (SIGKILL)"), "{msg}");
        let starting = c(r#"{"State":{"Status":"running","Running":true,"Health":{"Status":"starting"}}}"#);
        assert_eq!(verdict(&starting, None, 3).0, CheckStatus::Warn);
        let sick =
            c(r#"{"State":{"Status":"running","Running":true,"Health":{"Status":"unhealthy","FailingStreak":4}}}"#);
        assert!(verdict(&sick, None, 3).1.contains("unhealthy (4 failed"));
        let paused = c(r#"{"State":{"Status":"paused","Running":true,"Paused":true}}"#);
        assert!(verdict(&paused, None, 3).1.starts_with("paused"));
        let looping = c(r#"{"RestartCount":9,"State":{"Status":"running","Running":true,"ExitCode":1}}"#);
        assert_eq!(
            verdict(&looping, Some(5), 3).1,
            "crash loop: restarted 4 times since the previous run, last exit 1"
        );
        assert_eq!(verdict(&looping, Some(7), 3).0, CheckStatus::Ok);
        assert_eq!(verdict(&looping, None, 3).0, CheckStatus::Ok, "the first run only records");
    }

    #[test]
    fn chunked_and_sized_replies_are_read_and_bounded() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_reply(r, false).unwrap(), Some((200, b"{\"a\":1}".to_vec())));
        assert_eq!(parse_reply(&r[..r.len() - 5], false).unwrap(), None, "the last chunk is still to come");
        assert!(parse_reply(&r[..r.len() - 5], true).is_err(), "cut off by the Engine");
        let r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}extra";
        assert_eq!(parse_reply(r, false).unwrap(), Some((404, b"{}".to_vec())));
        assert_eq!(parse_reply(b"HTTP/1.1 200 OK\r\n\r\n{}", false).unwrap(), None, "unframed: read to the end");
        assert!(parse_reply(b"SSH-2.0-OpenSSH\r\n\r\n", true).unwrap_err().contains("not an HTTP reply"));
        let mut big = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..5 {
            big.extend_from_slice(b"100000\r\n");
            big.extend_from_slice(&chunk);
            big.extend_from_slice(b"\r\n");
        }
        big.extend_from_slice(b"0\r\n\r\n");
        assert!(parse_reply(&big, false).unwrap_err().contains("larger than 4 MiB"));
    }

    #[test]
    fn the_socket_is_found_in_order() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-sock-{}", std::process::id()));
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".colima/default")).unwrap();
        std::fs::create_dir_all(home.join(".docker/contexts/meta/abc")).unwrap();
        let colima = home.join(".colima/default/docker.sock");
        let _l = std::os::unix::net::UnixListener::bind(&colima).unwrap();
        assert_eq!(find_socket("", None, Some(&home)).unwrap(), colima);
        // The current context wins over the well-known places.
        let ctx = dir.join("ctx.sock");
        let _c = std::os::unix::net::UnixListener::bind(&ctx).unwrap();
        std::fs::write(home.join(".docker/config.json"), r#"{"currentContext":"mine"}"#).unwrap();
        std::fs::write(
            home.join(".docker/contexts/meta/abc/meta.json"),
            format!(r#"{{"Name":"mine","Endpoints":{{"docker":{{"Host":"unix://{}"}}}}}}"#, ctx.display()),
        )
        .unwrap();
        assert_eq!(find_socket("", None, Some(&home)).unwrap(), ctx);
        // DOCKER_HOST over the context; `socket` over everything.
        let host = format!("unix://{}", colima.display());
        assert_eq!(find_socket("", Some(&host), Some(&home)).unwrap(), colima);
        assert_eq!(find_socket(ctx.to_str().unwrap(), Some(&host), Some(&home)).unwrap(), ctx);
        let tried = find_socket("", Some("unix:///nope.sock"), Some(&dir.join("empty"))).unwrap_err().join(", ");
        for p in
            ["/nope.sock (DOCKER_HOST)", ".orbstack/run/docker.sock", ".docker/run/docker.sock", "/var/run/docker.sock"]
        {
            assert!(tried.contains(p), "{p} missing in {tried}");
        }
        assert!(no_socket(&[tried]).contains("set socket ="));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn validation_names_each_key() {
        let errs = Container { max_restarts: 0, ..Container::default() }.validate("container[0]").join("\n");
        for key in ["container[0].name", "container = ", "container[0].max_restarts"] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
        let ok = Container { name: "db".into(), container: "pg".into(), ..Container::default() };
        assert!(ok.validate("container[0]").is_empty());
        assert_eq!(ok.idents()[0].id, "container:db");
    }
}
