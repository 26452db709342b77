//! Redis: connect (with the password from the URL, if any) and `PING` → `PONG`.

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
        vec![Ident {
            id: "redis".into(),
            name: "Redis".into(),
            kind: self.kind(),
            section: self.section(),
            severity: self.severity,
            target: secret::url_target(&self.url),
        }]
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
        Ok(reply) => (CheckStatus::Fail, format!("PING answered {reply:?} instead of PONG")),
        Err(e) => (CheckStatus::Fail, format!("Redis not responding: {e}")),
    };
    let mut r = CheckResult::new(&cfg.idents()[0], status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

fn ping(url: &str, timeout: Duration) -> Result<String, String> {
    let start = Instant::now();
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    loop {
        match attempt(&client, start, timeout) {
            // A socket with a receive timeout fails with EINTR when the
            // process is stopped and resumed (SIGSTOP/SIGCONT, a cgroup
            // freeze, a debugger): nothing is wrong with Redis, so try again
            // within the same time budget. The soak run caught this as a
            // false CRITICAL (README, "Performance").
            Err(e) if interrupted(&e) && start.elapsed() < timeout => continue,
            other => return other.map_err(describe),
        }
    }
}

fn attempt(client: &redis::Client, start: Instant, timeout: Duration) -> redis::RedisResult<String> {
    let left = || timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
    let mut con = client.get_connection_with_timeout(left())?;
    con.set_read_timeout(Some(left()))?;
    con.set_write_timeout(Some(left()))?;
    redis::cmd("PING").query::<String>(&mut con)
}

/// Whether `e` is an interrupted system call (`EINTR`). The redis crate keeps
/// the `io::Error` behind an `Arc<dyn Error>`; [`std::error::Error::source`]
/// hands out that `Arc`.
fn interrupted(e: &redis::RedisError) -> bool {
    use std::error::Error;
    type Inner = std::sync::Arc<dyn Error + Send + Sync>;
    e.source()
        .and_then(|s| s.downcast_ref::<Inner>())
        .and_then(|inner| inner.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted)
}

fn describe(e: redis::RedisError) -> String {
    let text = e.to_string();
    if e.is_connection_refusal() {
        format!("connection refused ({text})")
    } else if e.is_timeout() {
        format!("timed out ({text})")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn an_interrupted_socket_call_is_recognised_through_the_redis_error() {
        let e = redis::RedisError::from(io::Error::from_raw_os_error(4)); // EINTR on Linux and macOS
        assert!(interrupted(&e), "{e:?}");
        assert!(interrupted(&redis::RedisError::from(io::Error::from(io::ErrorKind::Interrupted))));
    }

    #[test]
    fn other_failures_are_not_retried() {
        assert!(!interrupted(&redis::RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused))));
        assert!(!interrupted(&redis::RedisError::from(io::Error::from(io::ErrorKind::TimedOut))));
        assert!(!interrupted(&redis::RedisError::from((redis::ErrorKind::Io, "closed"))));
    }
}
