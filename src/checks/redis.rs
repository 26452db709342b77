//! Redis: connect (with the password from the URL, if any) and `PING` → `PONG`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::secret;

crate::check_section! {
    /// `[redis]`: the Redis check.
    pub struct Redis {
        /// Run this check.
        pub enabled: bool = true,
        /// redis:// or rediss:// URL; a password is allowed (env REDIS_URL).
        pub url: String = "redis://127.0.0.1:6379".into(),
        /// Connect + PING timeout in ms.
        pub timeout_ms: u64 = 3000,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Redis {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn section(&self) -> &'static str {
        "Redis"
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::single(self, "Redis", self.severity, secret::url_target(&self.url))]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        crate::validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        if self.enabled {
            crate::validate::url(&mut errs, &format!("{at}.url"), &self.url, &["redis", "rediss"], "");
        }
        errs
    }
    fn secrets(&self) -> Vec<String> {
        secret::url_secrets(&self.url)
    }
    fn redact(&mut self) {
        self.url = secret::redact_url(&self.url);
    }
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        vec![check(self)]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

pub fn check(cfg: &Redis) -> CheckResult {
    let start = Instant::now();
    let timeout = Duration::from_millis(cfg.timeout_ms);
    let (status, message) = match ping(&cfg.url, timeout) {
        Ok(reply) if reply == "PONG" => (CheckStatus::Ok, "PONG".to_string()),
        Ok(reply) => (CheckStatus::Fail, format!("PING answered {:?} instead of PONG", describe_reply(&reply))),
        Err(e) => (CheckStatus::Fail, format!("Redis not responding: {e}")),
    };
    let mut r = CheckResult::new(&cfg.idents()[0], status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

/// The most one reply may take. PING, AUTH and SELECT answer a few bytes;
/// a port that announces a 2 GB reply (or streams a line without end) is
/// refused at this size instead of being buffered.
const MAX_REPLY: usize = 64 * 1024;

/// PING (after AUTH and SELECT as the URL says), spoken over a plain socket
/// rather than through the redis crate: the crate buffers whatever length a
/// reply announces, so anything listening on the port could make the monitor
/// allocate gigabytes. The crate still parses the URL, so every URL it took
/// means the same (user, password, db, `redis+unix://`).
fn ping(url: &str, timeout: Duration) -> Result<String, String> {
    match open(url, timeout)?.call(&["PING"])? {
        Reply::Text(t) => Ok(t),
        Reply::Error(e) => Err(e),
        other => Ok(other.shown()),
    }
}

/// A RESP conversation with the server `url` names, after AUTH and SELECT
/// as the URL says, with one deadline for everything said on it.
pub fn open(url: &str, timeout: Duration) -> Result<Resp<dyn Stream>, String> {
    let deadline = Instant::now() + timeout;
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let info = client.get_connection_info();
    let stream: Box<dyn Stream> = match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => Box::new(connect_tcp(host, *port, deadline, timeout)?),
        redis::ConnectionAddr::Unix(path) => {
            Box::new(std::os::unix::net::UnixStream::connect(path).map_err(|e| format!("{} ({e})", path.display()))?)
        }
        _ => return Err("rediss:// (TLS) is not supported by this build: use redis:// on a trusted network".into()),
    };
    let mut con = Resp { stream, buf: Vec::new(), deadline, timeout };
    let settings = info.redis_settings();
    if let Some(password) = settings.password() {
        let mut auth = vec!["AUTH"];
        auth.extend(settings.username());
        auth.push(password);
        match con.call(&auth)? {
            Reply::Text(_) => {}
            Reply::Error(e) => return Err(format!("AUTH refused: {e}")),
            other => return Err(format!("AUTH answered {:?}", other.shown())),
        }
    }
    if settings.db() != 0 {
        let db = settings.db().to_string();
        match con.call(&["SELECT", &db])? {
            Reply::Text(_) => {}
            Reply::Error(e) => return Err(format!("SELECT {db} refused: {e}")),
            other => return Err(format!("SELECT {db} answered {:?}", other.shown())),
        }
    }
    Ok(con)
}

fn connect_tcp(host: &str, port: u16, deadline: Instant, timeout: Duration) -> Result<TcpStream, String> {
    use std::net::ToSocketAddrs;
    let addrs = (host, port).to_socket_addrs().map_err(|e| format!("{host}:{port}: host not found ({e})"))?;
    let mut last = format!("{host}:{port}: no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {} ms", timeout.as_millis()));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = format!("connection refused ({addr}: {e})")
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                last = format!("timed out after {} ms ({addr})", timeout.as_millis())
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// A socket to Redis: TCP or a Unix socket.
pub trait Stream: Read + Write + Send {
    fn set_timeouts(&self, t: Duration) -> io::Result<()>;
}
impl Stream for TcpStream {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}
impl Stream for std::os::unix::net::UnixStream {
    fn set_timeouts(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))?;
        self.set_write_timeout(Some(t))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A simple or bulk string.
    Text(String),
    Error(String),
    Int(i64),
    Nil,
    /// An array, at most [`MAX_ITEMS`] items in all.
    Array(Vec<Reply>),
    /// Anything else (a RESP3 type), shown as received.
    Other(String),
}

/// The most items one reply may hold, nested arrays counted together.
const MAX_ITEMS: usize = 10_000;

impl Reply {
    /// The reply as `redis-cli` would show it, roughly.
    pub fn shown(&self) -> String {
        match self {
            Reply::Text(t) | Reply::Other(t) => t.clone(),
            Reply::Error(e) => format!("(error) {e}"),
            Reply::Int(n) => n.to_string(),
            Reply::Nil => "(nil)".into(),
            Reply::Array(items) => format!("[{}]", items.iter().map(Reply::shown).collect::<Vec<_>>().join(", ")),
        }
    }
}

/// A RESP conversation with a bounded buffer and one deadline for all of it.
pub struct Resp<S: Read + Write + ?Sized> {
    stream: Box<S>,
    buf: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
}

impl<S: Stream + ?Sized> Resp<S> {
    fn left(&self) -> Result<Duration, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {} ms", self.timeout.as_millis()));
        }
        Ok(left)
    }

    pub fn call(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut cmd = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            cmd.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            cmd.extend_from_slice(a.as_bytes());
            cmd.extend_from_slice(b"\r\n");
        }
        let left = self.left()?;
        self.stream.set_timeouts(left).map_err(|e| e.to_string())?;
        self.stream.write_all(&cmd).map_err(|e| self.io_error(e))?;
        self.reply()
    }

    fn io_error(&self, e: io::Error) -> String {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                format!("timed out after {} ms", self.timeout.as_millis())
            }
            _ => e.to_string(),
        }
    }

    /// Reads more bytes, at most up to [`MAX_REPLY`] buffered.
    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        loop {
            let left = self.left()?;
            self.stream.set_timeouts(left).map_err(|e| e.to_string())?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                // A socket with a receive timeout fails with EINTR when the
                // process is stopped and resumed (SIGSTOP/SIGCONT, a cgroup
                // freeze, a debugger): nothing is wrong with Redis, so read
                // again within the same deadline. The soak run caught this as
                // a false CRITICAL (README, "Performance").
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    /// The next `\r\n`-terminated line, without the terminator.
    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY {
                return Err(format!(
                    "reply too large: over {} KiB without a line end (not read further)",
                    MAX_REPLY / 1024
                ));
            }
            self.fill()?;
        }
    }

    fn reply(&mut self) -> Result<Reply, String> {
        let mut budget = MAX_ITEMS;
        self.reply_within(&mut budget)
    }

    fn reply_within(&mut self, budget: &mut usize) -> Result<Reply, String> {
        let line = self.line()?;
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" => Ok(Reply::Text(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            "$" => {
                let len: i64 = rest.trim().parse().map_err(|_| format!("malformed reply {line:?}"))?;
                if len < 0 {
                    return Ok(Reply::Nil);
                }
                if len as u64 > MAX_REPLY as u64 {
                    return Err(format!(
                        "reply too large: the server announced {len} bytes, and at most {} KiB is read",
                        MAX_REPLY / 1024
                    ));
                }
                let len = len as usize;
                while self.buf.len() < len + 2 {
                    self.fill()?;
                }
                let text = String::from_utf8_lossy(&self.buf[..len]).into_owned();
                self.buf.drain(..len + 2);
                Ok(Reply::Text(text))
            }
            ":" => rest.trim().parse().map(Reply::Int).map_err(|_| format!("malformed reply {line:?}")),
            "*" => {
                let n: i64 = rest.trim().parse().map_err(|_| format!("malformed reply {line:?}"))?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                if n as u64 > *budget as u64 {
                    return Err(format!("reply too large: over {MAX_ITEMS} items (not read further)"));
                }
                *budget -= n as usize;
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.reply_within(budget)?);
                }
                Ok(Reply::Array(items))
            }
            _ => Ok(Reply::Other(line)),
        }
    }
}

fn describe_reply(r: &str) -> String {
    r.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted server: replies are read from `input`, commands go to `out`.
    struct Script {
        input: io::Cursor<Vec<u8>>,
        out: Vec<u8>,
        /// Fail the first read with EINTR.
        interrupt: bool,
    }
    impl Read for Script {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.interrupt) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            self.input.read(b)
        }
    }
    impl Write for Script {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.out.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Stream for Script {
        fn set_timeouts(&self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    fn resp(input: &[u8], interrupt: bool) -> Resp<Script> {
        let script = Script { input: io::Cursor::new(input.to_vec()), out: Vec::new(), interrupt };
        let timeout = Duration::from_secs(5);
        Resp { stream: Box::new(script), buf: Vec::new(), deadline: Instant::now() + timeout, timeout }
    }

    #[test]
    fn replies_parse_and_commands_are_encoded() {
        let mut r = resp(b"+PONG\r\n$4\r\nPONG\r\n-ERR nope\r\n:5\r\n", true);
        assert_eq!(r.call(&["PING"]).unwrap(), Reply::Text("PONG".into()));
        assert_eq!(r.stream.out, b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(r.reply().unwrap(), Reply::Text("PONG".into()));
        assert_eq!(r.reply().unwrap(), Reply::Error("ERR nope".into()));
        assert_eq!(r.reply().unwrap(), Reply::Int(5));
        assert_eq!(r.reply().unwrap_err(), "the server closed the connection");
    }

    #[test]
    fn arrays_nest_and_stay_bounded() {
        let mut r = resp(b"*4\r\n:2\r\n$3\r\n1-0\r\n$-1\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n", false);
        let want = Reply::Array(vec![
            Reply::Int(2),
            Reply::Text("1-0".into()),
            Reply::Nil,
            Reply::Array(vec![Reply::Array(vec![Reply::Text("a".into()), Reply::Text("2".into())])]),
        ]);
        assert_eq!(r.reply().unwrap(), want);
        let e = resp(b"*99999999\r\n", false).reply().unwrap_err();
        assert!(e.contains("over 10000 items"), "{e}");
    }

    #[test]
    fn an_oversized_reply_is_refused_unread() {
        let e = resp(b"$2000000000\r\nxxxx", false).reply().unwrap_err();
        assert!(e.starts_with("reply too large: the server announced 2000000000 bytes"), "{e}");
        let e = resp(&vec![b'+'; 200_000], false).reply().unwrap_err();
        assert!(e.starts_with("reply too large"), "{e}");
    }
}
