//! TCP: a connect to `address` within the timeout.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::validate;

crate::check_section! {
    /// `[[tcp]]`: something must accept TCP connections.
    pub struct Tcp {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// host:port to connect to.
        pub address: String = String::new(),
        /// Connect timeout in ms.
        pub timeout_ms: u64 = 3000,
        /// The listener on the port must be a process whose command line contains this ("" = not checked).
        pub owner_contains: String = String::new(),
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Tcp {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "tcp"
    }
    fn section(&self) -> &'static str {
        "TCP"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, self.address.clone())]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "TCP check");
        validate::host_port(&mut errs, &format!("{at}.address"), &self.address);
        validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        errs
    }
    fn timeout(&self) -> Duration {
        // The resolver is not bounded by connect_timeout: leave it a little
        // room, so a slow lookup still says what happened.
        Duration::from_millis(self.timeout_ms + 500)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let (mut status, mut message) = match connect(&self.address, Duration::from_millis(self.timeout_ms)) {
            Ok(peer) => (CheckStatus::Ok, format!("connected to {peer}")),
            Err(why) => (CheckStatus::Fail, why),
        };
        if status == CheckStatus::Ok && !self.owner_contains.is_empty() {
            let port = self.address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
            match super::port_owner::owners(port) {
                Ok(owners) => {
                    if let Some(v) = super::port_owner::judge(port, &owners, &self.owner_contains) {
                        (status, message) = v;
                    } else if let Some(o) = owners.iter().find(|o| o.cmdline.contains(&self.owner_contains)) {
                        message = format!("{message}, owned by pid {}", o.pid);
                    }
                }
                Err(e) => {
                    (status, message) = (CheckStatus::Warn, format!("{message}; could not tell who owns it: {e}"))
                }
            }
        }
        let mut r = CheckResult::new(&self.idents()[0], status, message);
        r.latency_ms = start.elapsed().as_millis() as u64;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// Connects to the first address of `address` that accepts within what is
/// left of `timeout`; the error says refused, timed out or unreachable.
pub fn connect(address: &str, timeout: Duration) -> Result<SocketAddr, String> {
    let start = Instant::now();
    let addrs: Vec<SocketAddr> =
        address.to_socket_addrs().map_err(|e| format!("{address}: host not found ({e})"))?.collect();
    let mut last = format!("{address}: host not found (no addresses)");
    for addr in addrs {
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return Err(format!("timed out after {} ms connecting to {address}", timeout.as_millis()));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return Ok(addr),
            Err(e) => last = describe(&e, address, timeout),
        }
    }
    Err(last)
}

fn describe(e: &std::io::Error, address: &str, timeout: Duration) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => format!("connection refused by {address} (nothing listens there)"),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("timed out after {} ms connecting to {address}", timeout.as_millis())
        }
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable | ErrorKind::AddrNotAvailable => {
            format!("{address} is unreachable ({e})")
        }
        _ => format!("could not connect to {address} ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_each_key() {
        let t = Tcp { timeout_ms: 0, address: "nohost".into(), ..Tcp::default() };
        let errs = t.validate("tcp[0]").join("\n");
        for key in ["tcp[0].name", "tcp[0].address", "tcp[0].timeout_ms"] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
        let ok = Tcp { name: "web".into(), address: "127.0.0.1:3000".into(), ..Tcp::default() };
        assert!(ok.validate("tcp[0]").is_empty());
        assert_eq!(ok.idents()[0].id, "tcp:web");
    }

    #[test]
    fn a_listener_connects_and_a_closed_port_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert!(connect(&addr, Duration::from_secs(2)).is_ok());
        drop(l);
        let e = connect(&addr, Duration::from_secs(2)).unwrap_err();
        assert!(e.contains("refused") && e.contains(&addr), "{e}");
    }
}
