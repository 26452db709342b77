//! Redis: connect (with the password from the URL, if any) and `PING` → `PONG`.

use std::time::{Duration, Instant};

use super::{CheckResult, CheckStatus, Job, Kind};
use crate::config::Redis;

pub fn job(cfg: &Redis) -> Job {
    let cfg = cfg.clone();
    Job {
        name: "Redis".into(),
        kind: Kind::Redis,
        severity: cfg.severity,
        timeout: Duration::from_millis(cfg.timeout_ms),
        work: Box::new(move || vec![check(&cfg)]),
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
    let mut r = CheckResult::new("Redis", Kind::Redis, cfg.severity, status, message);
    r.latency_ms = start.elapsed().as_millis() as u64;
    r
}

fn ping(url: &str, timeout: Duration) -> Result<String, String> {
    let start = Instant::now();
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut con = client.get_connection_with_timeout(timeout).map_err(describe)?;
    let left = timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
    con.set_read_timeout(Some(left)).map_err(describe)?;
    con.set_write_timeout(Some(left)).map_err(describe)?;
    redis::cmd("PING").query::<String>(&mut con).map_err(describe)
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
