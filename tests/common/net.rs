//! Network stand-ins on free loopback ports, all in-process (std::net and
//! threads): [`HttpStub`] for API checks, [`WebhookSink`] for Discord, and
//! [`HungTcp`] for a server that accepts and never answers.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Accept loop shared by all three

/// Connections kept open without an answer until the listener is dropped.
type Held = Arc<Mutex<Vec<TcpStream>>>;

/// Accepts on 127.0.0.1:<free port>, hands each connection to `on_conn` on
/// its own thread. Dropping it closes the port and every held connection.
struct Listener {
    port: u16,
    stopping: Arc<AtomicBool>,
    held: Held,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn start(on_conn: impl Fn(TcpStream, &Held) + Send + Sync + 'static) -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let stopping = Arc::new(AtomicBool::new(false));
        let held: Held = Arc::default();
        let accepted = Arc::new(AtomicUsize::new(0));
        let on_conn = Arc::new(on_conn);
        let thread = {
            let (stopping, held, accepted) = (stopping.clone(), held.clone(), accepted.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (on_conn, held) = (on_conn.clone(), held.clone());
                    std::thread::spawn(move || on_conn(stream, &held));
                }
            })
        };
        Listener { port, stopping, held, accepted, thread: Some(thread) }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

// ---------------------------------------------------------------------------
// HTTP/1.1 plumbing

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path without the query, e.g. `/api/health`.
    pub path: String,
    /// The part after `?`, empty when none.
    pub query: String,
    /// Header names as sent (compare case-insensitively, or use [`Request::header`]).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First header with this name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, `Value::Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut req = Request { method, path, query, headers, body: Vec::new() };
    if req.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            req.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = req.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        req.body = vec![0; len];
        reader.read_exact(&mut req.body).ok()?;
    }
    Some(req)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// An HTTP server: records every request, then answers as `decide` says.
fn serve_http(
    requests: Arc<Mutex<Vec<Request>>>,
    decide: impl Fn(&Request) -> Route + Send + Sync + 'static,
) -> Listener {
    Listener::start(move |mut stream, held| {
        let Some(req) = read_request(&stream) else { return };
        requests.lock().unwrap().push(req.clone());
        let route = decide(&req);
        if route.hang {
            if let Ok(s) = stream.try_clone() {
                held.lock().unwrap().push(s);
            }
            return;
        }
        std::thread::sleep(route.delay);
        let mut head = format!("HTTP/1.1 {} {}\r\n", route.status, reason(route.status));
        for (k, v) in &route.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", route.body.len()));
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(route.body.as_bytes());
        let _ = stream.flush();
    })
}

// ---------------------------------------------------------------------------
// HttpStub

/// How [`HttpStub`] answers one path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (latency tests).
    pub delay: Duration,
    /// Accept the request and never answer (timeout tests).
    pub hang: bool,
}

impl Route {
    /// 200 with a text body.
    pub fn ok(body: &str) -> Route {
        Route::status(200, body)
    }

    /// Any status with a text body.
    pub fn status(status: u16, body: &str) -> Route {
        Route {
            status,
            body: body.to_string(),
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            delay: Duration::ZERO,
            hang: false,
        }
    }

    /// Any status with a JSON body.
    pub fn json(status: u16, body: &Value) -> Route {
        Route {
            headers: vec![("Content-Type".into(), "application/json".into())],
            ..Route::status(status, &body.to_string())
        }
    }

    /// Never answer.
    pub fn hang() -> Route {
        Route { hang: true, ..Route::ok("") }
    }

    /// Add a response header.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Answer only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = delay;
        self
    }
}

/// A programmable HTTP/1.1 server for `[[api]]` checks. Paths without a
/// route get 404. Every request is recorded.
pub struct HttpStub {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    listener: Listener,
}

impl HttpStub {
    pub fn start() -> HttpStub {
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let requests = Arc::default();
        let listener = serve_http(Arc::clone(&requests), {
            let routes = routes.clone();
            move |req| {
                let route = routes.lock().unwrap().get(&req.path).cloned();
                route.unwrap_or_else(|| Route::status(404, "no route in HttpStub"))
            }
        });
        HttpStub { routes, requests, listener }
    }

    /// Set (or replace) how `path` (without query) is answered.
    pub fn route(&self, path: &str, route: Route) -> &HttpStub {
        self.routes.lock().unwrap().insert(path.to_string(), route);
        self
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listener.port)
    }

    pub fn port(&self) -> u16 {
        self.listener.port
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|r| r.path == path).count()
    }

    /// The requests that asked for `path` (without query), in arrival order:
    /// method, query, headers and body of each (channel and ping sinks).
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

// ---------------------------------------------------------------------------
// WebhookSink

/// One scripted answer of [`WebhookSink`].
#[derive(Clone, Debug)]
pub enum SinkReply {
    /// What Discord does: 200 with the created message as JSON when the URL
    /// has `wait=true`, else 204.
    Discord,
    /// 200 with this JSON body.
    Ok(Value),
    /// 204, no body.
    NoContent,
    /// 429 with `{"message": "You are being rate limited.", "retry_after": S, "global": false}`
    /// and a `Retry-After` header (S rounded up to whole seconds), like Discord.
    RateLimited { retry_after: f64 },
    /// 429 with only a `Retry-After: <value>` header and a text body.
    RateLimitedHeader { retry_after: String },
    /// 500 with a text body.
    ServerError,
    /// 404 `{"message": "Unknown Webhook", "code": 10015}` (webhook deleted).
    UnknownWebhook,
    /// Any status and body.
    Status(u16, String),
    /// Accept and never answer.
    Hang,
    /// Answer 204, like Discord without `wait`, but only after this long.
    Slow(Duration),
}

impl SinkReply {
    fn to_route(&self, req: &Request) -> Route {
        match self {
            SinkReply::Discord if query_flag(&req.query, "wait") => {
                let body = req.json();
                Route::json(
                    200,
                    &json!({
                        "id": "1300000000000000000",
                        "type": 0,
                        "channel_id": "1200000000000000000",
                        "webhook_id": WebhookSink::ID,
                        "content": body.get("content").cloned().unwrap_or(json!("")),
                        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
                        "timestamp": "2025-10-27T17:52:09.831000+00:00",
                    }),
                )
            }
            SinkReply::Discord | SinkReply::NoContent => Route { headers: vec![], ..Route::status(204, "") },
            SinkReply::Ok(v) => Route::json(200, v),
            SinkReply::RateLimited { retry_after } => Route::json(
                429,
                &json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false}),
            )
            .header("Retry-After", &(retry_after.ceil() as u64).to_string()),
            SinkReply::RateLimitedHeader { retry_after } => {
                Route::status(429, "rate limited").header("Retry-After", retry_after)
            }
            SinkReply::ServerError => Route::status(500, "internal server error"),
            SinkReply::UnknownWebhook => Route::json(404, &json!({"message": "Unknown Webhook", "code": 10015})),
            SinkReply::Status(status, body) => Route::status(*status, body),
            SinkReply::Hang => Route::hang(),
            SinkReply::Slow(d) => Route { headers: vec![], ..Route::status(204, "") }.delay(*d),
        }
    }
}

fn query_flag(query: &str, name: &str) -> bool {
    query.split('&').any(|kv| kv == format!("{name}=true") || kv == format!("{name}=1"))
}

/// One POST the sink received on the webhook path.
#[derive(Clone, Debug)]
pub struct WebhookPost {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// Raw body text.
    pub body: String,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
}

impl WebhookPost {
    /// `json["content"]` as text, empty when absent.
    pub fn content(&self) -> &str {
        self.json["content"].as_str().unwrap_or("")
    }

    /// Every text a person would see: content, embed titles, descriptions,
    /// field names and values, footer (for "what does the alert say" asserts).
    pub fn text(&self) -> String {
        let mut out = vec![self.content().to_string()];
        for e in self.json["embeds"].as_array().into_iter().flatten() {
            for key in ["title", "description"] {
                out.extend(e[key].as_str().map(str::to_string));
            }
            for f in e["fields"].as_array().into_iter().flatten() {
                out.extend(f["name"].as_str().map(str::to_string));
                out.extend(f["value"].as_str().map(str::to_string));
            }
            out.extend(e["footer"]["text"].as_str().map(str::to_string));
        }
        out.join("\n")
    }
}

/// A Discord webhook stand-in at `/api/webhooks/<ID>/<TOKEN>`.
///
/// POSTs to that path are answered from a queue of [`SinkReply`] pushed with
/// [`WebhookSink::push`], then by the default ([`SinkReply::Discord`] unless
/// set). Other paths get Discord's 404 "Unknown Webhook"; other methods 405.
pub struct WebhookSink {
    script: Arc<Mutex<VecDeque<SinkReply>>>,
    default: Arc<Mutex<SinkReply>>,
    requests: Arc<Mutex<Vec<Request>>>,
    listener: Listener,
}

impl WebhookSink {
    pub const ID: &'static str = "112233445566778899";
    /// Distinctive, so tests can grep every output for a leak.
    pub const TOKEN: &'static str = "tOkEn-SeCrEt_do-not-leak_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

    pub fn start() -> WebhookSink {
        let script: Arc<Mutex<VecDeque<SinkReply>>> = Arc::default();
        let default = Arc::new(Mutex::new(SinkReply::Discord));
        let requests = Arc::default();
        let listener = serve_http(Arc::clone(&requests), {
            let (script, default) = (script.clone(), default.clone());
            move |req| {
                if !is_webhook_path(&req.path) {
                    return SinkReply::UnknownWebhook.to_route(req);
                }
                if req.method != "POST" {
                    return SinkReply::Status(405, "405: Method Not Allowed".into()).to_route(req);
                }
                let next = script.lock().unwrap().pop_front();
                next.unwrap_or_else(|| default.lock().unwrap().clone()).to_route(req)
            }
        });
        WebhookSink { script, default, requests, listener }
    }

    /// `http://127.0.0.1:PORT/api/webhooks/<ID>/<TOKEN>` (the configured webhook URL).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/api/webhooks/{}/{}", self.listener.port, WebhookSink::ID, WebhookSink::TOKEN)
    }

    pub fn port(&self) -> u16 {
        self.listener.port
    }

    /// Queue one answer for the next POST (answers are used in push order).
    pub fn push(&self, reply: SinkReply) -> &WebhookSink {
        self.script.lock().unwrap().push_back(reply);
        self
    }

    /// The answer once the queue is empty.
    pub fn set_default(&self, reply: SinkReply) -> &WebhookSink {
        *self.default.lock().unwrap() = reply;
        self
    }

    /// The embed titles of every POST, in arrival order: what a phone shows.
    pub fn titles(&self) -> Vec<String> {
        self.posts().iter().map(|p| p.json["embeds"][0]["title"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// Every POST to the webhook path, in arrival order (including ones
    /// answered with an error or left hanging).
    pub fn posts(&self) -> Vec<WebhookPost> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "POST" && is_webhook_path(&r.path))
            .map(|r| WebhookPost {
                path: r.path.clone(),
                query: r.query.clone(),
                headers: r.headers.clone(),
                body: r.body_text(),
                json: r.json(),
            })
            .collect()
    }

    /// Every request, whatever its path or method.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn is_webhook_path(path: &str) -> bool {
    let want = format!("/webhooks/{}/{}", WebhookSink::ID, WebhookSink::TOKEN);
    path.starts_with("/api/") && path.ends_with(&want)
}

// ---------------------------------------------------------------------------
// HungTcp

/// A TCP port that accepts connections and never reads or writes: a hung
/// Redis, PostgreSQL or API. Connections close when it is dropped.
pub struct HungTcp {
    listener: Listener,
}

impl HungTcp {
    pub fn start() -> HungTcp {
        let listener = Listener::start(|stream, held| held.lock().unwrap().push(stream));
        HungTcp { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.port
    }

    /// `127.0.0.1:PORT`, to build URLs such as `redis://127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.listener.port)
    }

    /// How many connections it accepted so far.
    pub fn accepted(&self) -> usize {
        self.listener.accepted.load(Ordering::SeqCst)
    }
}
