//! PostgreSQL: connect and run the configured query.

use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::secret;

crate::check_section! {
    /// `[database]`: the PostgreSQL check.
    pub struct Database {
        /// Run this check.
        pub enabled: bool = true,
        /// postgresql:// URL (env DATABASE_URL); no user = the login user, as psql does.
        pub url: String = "postgresql://127.0.0.1:5432/postgres".into(),
        /// Connect + query timeout in ms.
        pub timeout_ms: u64 = 5000,
        /// The query that must succeed.
        pub query: String = "SELECT 1".into(),
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Database {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "database"
    }
    fn section(&self) -> &'static str {
        "Database"
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::single(self, "Database", self.severity, secret::url_target(&self.url))]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        crate::validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        if self.enabled {
            if self.url.contains("***") {
                crate::validate::not_redacted(&mut errs, &format!("{at}.url"), &self.url);
            } else if let Err(why) = check_database_url(&self.url) {
                errs.push(format!("{at}.url = {:?}: {why}", secret::redact_url(&self.url)));
            }
            if self.query.trim().is_empty() {
                errs.push(format!("{at}.query is empty: give a query such as \"SELECT 1\""));
            }
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

/// libpq-style URLs may leave the host out of the authority and name a
/// socket folder with `?host=/tmp`, which a generic URL check would refuse.
pub fn check_database_url(raw: &str) -> std::result::Result<(), String> {
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
        return Err("must start with postgresql:// (or postgres://)".into());
    }
    let cfg: postgres::Config =
        raw.parse().map_err(|e: postgres::Error| format!("not a valid PostgreSQL URL ({e})"))?;
    if cfg.get_hosts().is_empty() {
        return Err(
            "the URL names no host: add one (postgresql://user@127.0.0.1:5432/db) or a socket folder (?host=/tmp)"
                .into(),
        );
    }
    Ok(())
}

pub fn check(cfg: &Database) -> CheckResult {
    let start = Instant::now();
    let (status, message) = match query(cfg) {
        Ok(rows) => (CheckStatus::Ok, format!("query answered ({rows} row{})", if rows == 1 { "" } else { "s" })),
        Err(e) => (CheckStatus::Fail, format!("Database not responding: {e}")),
    };
    let mut r = CheckResult::new(&cfg.idents()[0], status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

fn query(cfg: &Database) -> Result<usize, String> {
    session(&cfg.url, Duration::from_millis(cfg.timeout_ms), |client| {
        let rows = client.simple_query(&cfg.query)?;
        Ok(rows.iter().filter(|m| matches!(m, postgres::SimpleQueryMessage::Row(_))).count())
    })
}

/// Connects to the server `url` names through the reply guard and hands
/// the client to `work`, all within `timeout`; the error says what failed,
/// without the password.
pub fn session<T>(
    url: &str,
    timeout: Duration,
    work: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
) -> Result<T, String> {
    session_with(url, timeout, "", work)
}

/// [`session`] with server settings of the check's own (`-c name=value`),
/// given at connect time after any `options` of the URL, so they cost no
/// round trip.
pub fn session_with<T>(
    url: &str,
    timeout: Duration,
    settings: &str,
    work: impl FnOnce(&mut postgres::Client) -> Result<T, postgres::Error>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    let pg: postgres::Config = url.parse().map_err(|e: postgres::Error| e.to_string())?;
    let upstream = connect_upstream(&pg, deadline, timeout)?;
    let guard = guard::Guard::start(upstream, deadline).map_err(|e| format!("could not start the reply guard: {e}"))?;
    let mut local = postgres::Config::new();
    // No user in the URL: the login user, as psql does.
    match pg.get_user() {
        Some(user) => {
            local.user(user);
        }
        None => {
            if let Some(user) = login_user() {
                local.user(&user);
            }
        }
    }
    if let Some(password) = pg.get_password() {
        local.password(password);
    }
    if let Some(dbname) = pg.get_dbname() {
        local.dbname(dbname);
    }
    match (pg.get_options(), settings) {
        (Some(options), "") => {
            local.options(options);
        }
        (Some(options), mine) => {
            local.options(&format!("{options} {mine}"));
        }
        (None, "") => {}
        (None, mine) => {
            local.options(mine);
        }
    }
    local.ssl_mode(pg.get_ssl_mode());
    local.host("127.0.0.1").port(guard.port());
    local.connect_timeout(timeout);
    local.application_name("ops-atomic");
    let result = (|| {
        let mut client = local.connect(postgres::NoTls).map_err(|e| describe(&e))?;
        work(&mut client).map_err(|e| describe(&e))
    })();
    // The guard cutting the connection is why the client failed: say so.
    result.map_err(|e| guard.verdict().unwrap_or(e))
}

/// A socket to the server the URL names: the first of its hosts that
/// accepts a connection (hostaddr first, as libpq does), within the deadline.
fn connect_upstream(pg: &postgres::Config, deadline: Instant, timeout: Duration) -> Result<guard::Upstream, String> {
    use std::net::ToSocketAddrs;
    let (hosts, addrs) = (pg.get_hosts(), pg.get_hostaddrs());
    let n = hosts.len().max(addrs.len());
    if n == 0 {
        return Err("the URL names no host".into());
    }
    let ports = pg.get_ports();
    let mut last = String::new();
    for i in 0..n {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {} ms", timeout.as_millis()));
        }
        let target = match (addrs.get(i), hosts.get(i)) {
            (Some(ip), _) => Ok(vec![std::net::SocketAddr::new(*ip, port)]),
            (None, Some(postgres::config::Host::Tcp(h))) => (h.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect())
                .map_err(|e| format!("{h}: host not found ({e})")),
            (None, Some(postgres::config::Host::Unix(dir))) => {
                let path = dir.join(format!(".s.PGSQL.{port}"));
                match std::os::unix::net::UnixStream::connect(&path) {
                    Ok(s) => return Ok(guard::Upstream::Unix(s)),
                    Err(e) => {
                        last = format!("error connecting to server: {} ({e})", path.display());
                        continue;
                    }
                }
            }
            (None, None) => continue,
        };
        let addrs = match target {
            Ok(a) => a,
            Err(e) => {
                last = e;
                continue;
            }
        };
        for addr in addrs {
            let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
            match std::net::TcpStream::connect_timeout(&addr, left) {
                Ok(s) => {
                    // The relay forwards the client's messages as they come
                    // (Parse, Describe, Sync are separate writes): without
                    // NODELAY, Nagle holds the second until the server's
                    // delayed ACK, 40 ms per round trip.
                    let _ = s.set_nodelay(true);
                    return Ok(guard::Upstream::Tcp(s));
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                    last = format!("timed out after {} ms connecting to {addr}", timeout.as_millis())
                }
                Err(e) => last = format!("error connecting to server {addr}: {e}"),
            }
        }
    }
    Err(last)
}

/// The postgres crate allocates whatever length a server message announces
/// (an `E` message of 0x7ffffff0 bytes costs 2 GB) and keeps every row of a
/// reply, and it cannot be handed a socket of ours. So the check connects
/// to the server itself and lets the crate talk to a relay listening on a
/// loopback port of its own: the relay reads each server message's 5-byte
/// header and cuts the connection, with a verdict the check reports, when
/// one message is over [`MAX_MESSAGE`] or the whole reply over [`MAX_TOTAL`].
/// Nothing larger is ever buffered, whatever the server sends.
///
/// The relay takes one connection, and only from a socket of this process:
/// another local user who connects to the port first is turned away, so
/// nobody can borrow the connection this check opened (with a server that
/// trusts the Unix user of a socket, say). A loopback port rather than a
/// Unix socket in a private folder: no file is created and deleted on every
/// heartbeat.
mod guard {
    use std::io::{self, Read, Write};
    use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// The largest single server message relayed.
    pub const MAX_MESSAGE: usize = 1024 * 1024;
    /// The most one check relays from the server in all.
    pub const MAX_TOTAL: u64 = 8 * 1024 * 1024;

    pub enum Upstream {
        Tcp(std::net::TcpStream),
        Unix(UnixStream),
    }

    impl Upstream {
        fn try_clone(&self) -> io::Result<Upstream> {
            Ok(match self {
                Upstream::Tcp(s) => Upstream::Tcp(s.try_clone()?),
                Upstream::Unix(s) => Upstream::Unix(s.try_clone()?),
            })
        }
        fn shutdown(&self) {
            let _ = match self {
                Upstream::Tcp(s) => s.shutdown(Shutdown::Both),
                Upstream::Unix(s) => s.shutdown(Shutdown::Both),
            };
        }
        fn set_read_timeout(&self, t: Duration) -> io::Result<()> {
            match self {
                Upstream::Tcp(s) => s.set_read_timeout(Some(t)),
                Upstream::Unix(s) => s.set_read_timeout(Some(t)),
            }
        }
    }

    impl Read for Upstream {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            match self {
                Upstream::Tcp(s) => s.read(b),
                Upstream::Unix(s) => s.read(b),
            }
        }
    }

    impl Write for Upstream {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            match self {
                Upstream::Tcp(s) => s.write(b),
                Upstream::Unix(s) => s.write(b),
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The running relay; dropping it cuts the connection.
    pub struct Guard {
        port: u16,
        upstream: Upstream,
        verdict: Arc<Mutex<Option<String>>>,
    }

    impl Guard {
        pub fn start(upstream: Upstream, deadline: Instant) -> io::Result<Guard> {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = listener.local_addr()?.port();
            listener.set_nonblocking(true)?;
            let verdict = Arc::new(Mutex::new(None));
            let (server, v) = (upstream.try_clone()?, verdict.clone());
            std::thread::spawn(move || relay(listener, server, deadline, v));
            Ok(Guard { port, upstream, verdict })
        }

        /// The loopback port the client connects to.
        pub fn port(&self) -> u16 {
            self.port
        }

        /// Why the relay cut the connection, if it did.
        pub fn verdict(&self) -> Option<String> {
            self.verdict.lock().ok().and_then(|v| v.clone())
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            self.upstream.shutdown();
        }
    }

    /// Whether `peer`, the far end of a connection to the relay, is a
    /// socket this process holds (the postgres crate's): one of its open
    /// file descriptors is bound to that very address and port.
    pub fn ours(peer: SocketAddr) -> bool {
        let Ok(fds) = std::fs::read_dir("/dev/fd") else {
            return false;
        };
        fds.flatten().filter_map(|e| e.file_name().to_str()?.parse::<libc::c_int>().ok()).any(|fd| {
            let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            // SAFETY: getsockname writes at most `len` bytes into `addr`,
            // which outlives the call; a descriptor that is not an IPv4
            // socket (or was closed meanwhile) fails or is skipped below.
            let rc = unsafe { libc::getsockname(fd, (&raw mut addr).cast(), &mut len) };
            rc == 0
                && len as usize >= std::mem::size_of::<libc::sockaddr_in>()
                && libc::c_int::from(addr.sin_family) == libc::AF_INET
                && SocketAddr::from((Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)), u16::from_be(addr.sin_port)))
                    == peer
        })
    }

    fn relay(listener: TcpListener, mut server: Upstream, deadline: Instant, verdict: Arc<Mutex<Option<String>>>) {
        let client = loop {
            match listener.accept() {
                Ok((c, peer)) if ours(peer) => break c,
                Ok(_) => continue, // a stranger's connection: closed at once
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    // Wait for the client's connect itself, not a fixed nap.
                    let left = deadline.saturating_duration_since(Instant::now());
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    let mut fd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                    // SAFETY: one valid pollfd for the listener, which outlives the call.
                    unsafe { libc::poll(&mut fd, 1, ms) };
                }
                Err(_) => return server.shutdown(),
            }
        };
        drop(listener);
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let _ = client.set_nodelay(true);
        let ready = client.set_nonblocking(false).and_then(|_| client.set_read_timeout(Some(left)));
        let (Ok(()), Ok(mut to_client), Ok(mut to_server), Ok(mut from_client)) =
            (ready, client.try_clone(), server.try_clone(), client.try_clone())
        else {
            return server.shutdown();
        };
        // What the client sends is ours: copied as it is.
        std::thread::spawn(move || {
            let _ = io::copy(&mut from_client, &mut to_server);
            to_server.shutdown();
        });
        let _ = server.set_read_timeout(left);
        if let Err(why) = relay_replies(&mut server, &mut to_client)
            && let Ok(mut v) = verdict.lock()
        {
            *v = Some(why);
        }
        server.shutdown();
        let _ = client.shutdown(Shutdown::Both);
    }

    /// Relays server messages one by one; `Err` is a verdict on a reply
    /// too large. The end of either connection ends the relay quietly.
    pub fn relay_replies(server: &mut impl Read, client: &mut impl Write) -> Result<(), String> {
        // Buffered both ways: a startup is a dozen small messages, which
        // would otherwise be two reads and two writes each. What was read is
        // handed on before waiting for more, so nothing is held back.
        let mut server = io::BufReader::with_capacity(64 * 1024, server);
        let mut client = io::BufWriter::with_capacity(64 * 1024, client);
        let mut total: u64 = 0;
        let mut header = [0u8; 5];
        loop {
            if server.buffer().is_empty() && client.flush().is_err() {
                return Ok(());
            }
            if server.read_exact(&mut header).is_err() {
                let _ = client.flush();
                return Ok(());
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let body = len.saturating_sub(4);
            let kind = if header[0].is_ascii_graphic() { format!("{:?}", header[0] as char) } else { "a".into() };
            if body > MAX_MESSAGE {
                return Err(format!(
                    "reply too large: the server announced {kind} message of {len} bytes, and at most {} MiB is accepted",
                    MAX_MESSAGE >> 20
                ));
            }
            total += 5 + body as u64;
            if total > MAX_TOTAL {
                return Err(format!("reply too large: over {} MiB in all (not read further)", MAX_TOTAL >> 20));
            }
            if client.write_all(&header).is_err() {
                return Ok(());
            }
            match io::copy(&mut (&mut server).take(body as u64), &mut client) {
                Ok(n) if n == body as u64 => {}
                _ => {
                    let _ = client.flush();
                    return Ok(());
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_a_socket_of_this_process_is_ours() {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let port = listener.local_addr().unwrap().port();
            let mine = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
            let (_accepted, peer) = listener.accept().unwrap();
            assert_eq!(peer, mine.local_addr().unwrap());
            assert!(ours(peer), "the connection this process opened");

            // Another process (bash's /dev/tcp) connecting to the same port.
            let mut stranger = std::process::Command::new("bash")
                .args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; read -t 10 -u 3 x")])
                .spawn()
                .unwrap();
            let (theirs, peer) = listener.accept().unwrap();
            let verdict = ours(peer);
            drop(theirs);
            let _ = stranger.wait();
            assert!(!verdict, "a connection from another process ({peer})");
        }

        #[test]
        fn messages_pass_until_one_is_too_large() {
            let mut input = b"Z\0\0\0\x05I".to_vec();
            input.extend_from_slice(b"E\x7f\xff\xff\xf0SFATAL");
            let mut out = Vec::new();
            let e = relay_replies(&mut input.as_slice(), &mut out).unwrap_err();
            assert_eq!(out, b"Z\0\0\0\x05I");
            assert!(e.contains("'E' message of 2147483632 bytes"), "{e}");
        }

        #[test]
        fn the_whole_reply_is_bounded_too() {
            let mut row = b"D\0\x08\0\x04".to_vec();
            row.extend(std::iter::repeat_n(b'x', 0x8_0000));
            let input: Vec<u8> = row.iter().copied().cycle().take(row.len() * 20).collect();
            let mut out = Vec::new();
            let e = relay_replies(&mut input.as_slice(), &mut out).unwrap_err();
            assert!(e.contains("over 8 MiB in all"), "{e}");
            assert!(out.len() as u64 <= MAX_TOTAL);
        }
    }
}

/// Who a URL without a user connects as: the login user, as psql does
/// (`$USER`, else the account this process runs as).
pub fn login_user() -> Option<String> {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).or_else(os_user)
}

fn os_user() -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pwd` and `buf`, which outlive the
    // call; the name is copied out before they go.
    let rc = unsafe { libc::getpwuid_r(libc::geteuid(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    name.to_str().ok().filter(|n| !n.is_empty()).map(str::to_string)
}

/// postgres errors print as "db error" alone; the server's own message
/// (e.g. "password authentication failed for user …") is what helps.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
