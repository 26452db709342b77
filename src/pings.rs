//! `[[ping]]`: a dead man's switch (SPEC §7.4). At the end of every run
//! named by `on`, each ping tells a monitor elsewhere (healthchecks.io,
//! Uptime Kuma, anything that takes a GET) that the run happened and how
//! it went. Pings are never queued (a late ping means nothing), each is
//! bounded by its timeout, they go out side by side, and a failure is only
//! a WARN line: the silence is what the other side watches for.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exit::Status;
use crate::{log, secret, validate};

/// How the monitor on the other side wants to be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// healthchecks.io: POST `<url>` or `<url>/fail`, the summary as the body.
    Healthchecks,
    /// Uptime Kuma push monitor: GET `<url>?status=up|down&msg=…&ping=<ms>`.
    UptimeKuma,
    /// Any URL: GET it.
    Plain,
}

/// Which run sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum On {
    Heartbeat,
    Daily,
}

/// One `[[ping]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ping {
    /// Names the ping in log lines.
    pub name: String,
    /// The ping URL (its path is treated as a secret: it is the check's key).
    pub url: String,
    /// healthchecks | uptime-kuma | plain.
    pub style: Style,
    /// heartbeat | daily.
    pub on: On,
    /// Timeout of the ping in ms.
    pub timeout_ms: u64,
}

impl Default for Ping {
    fn default() -> Self {
        Ping {
            name: String::new(),
            url: String::new(),
            style: Style::Healthchecks,
            on: On::Heartbeat,
            timeout_ms: 5000,
        }
    }
}

impl Ping {
    /// Every problem in the entry, each naming its key under `at`.
    pub fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "ping");
        if self.url.is_empty() {
            errs.push(format!(
                "{at}.url is missing: give the ping URL your monitor shows (e.g. https://hc-ping.com/<uuid>)"
            ));
        } else {
            validate::url(&mut errs, &format!("{at}.url"), &self.url, &["http", "https"], "");
        }
        validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        errs
    }

    pub fn secrets(&self) -> Vec<String> {
        crate::channels::http::url_secrets(&self.url)
    }

    pub fn redact(&mut self) {
        self.url = crate::channels::http::redact_url(&self.url);
    }
}

/// How the run went, as a ping reports it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// The run failed itself (exit 3).
    pub failed: bool,
    /// One line: what the run found.
    pub summary: String,
    pub duration: Duration,
}

impl Outcome {
    /// Whether the other side should hear "down".
    fn down(&self) -> bool {
        self.failed || self.status == Status::Critical
    }
}

/// One ping as an HTTP request: built without touching the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub body: Option<String>,
}

/// The request `ping` makes for `outcome`. Pure.
pub fn request(ping: &Ping, outcome: &Outcome) -> Request {
    let summary = one_line(&outcome.summary);
    match ping.style {
        Style::Healthchecks => {
            let url =
                if outcome.down() { format!("{}/fail", ping.url.trim_end_matches('/')) } else { ping.url.clone() };
            Request { method: "POST", url, body: Some(summary) }
        }
        Style::UptimeKuma => {
            let mut url = match url::Url::parse(&ping.url) {
                Ok(u) => u,
                Err(_) => return Request { method: "GET", url: ping.url.clone(), body: None },
            };
            // The push URL Uptime Kuma shows already ends in
            // `?status=up&msg=OK&ping=`: replace those, keep anything else.
            let keep: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !matches!(k.as_ref(), "status" | "msg" | "ping"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(keep)
                .append_pair("status", if outcome.down() { "down" } else { "up" })
                .append_pair("msg", &summary)
                .append_pair("ping", &outcome.duration.as_millis().to_string());
            Request { method: "GET", url: url.to_string(), body: None }
        }
        Style::Plain => Request { method: "GET", url: ping.url.clone(), body: None },
    }
}

/// The summary on one line, without markdown emphasis, at most 200 characters.
fn one_line(s: &str) -> String {
    let flat = s.replace("**", "").split_whitespace().collect::<Vec<_>>().join(" ");
    crate::channels::truncate(&flat, 200)
}

/// Sends every ping of `on`, side by side, each within its timeout; logs
/// what happened (a failure as a WARN line). Never fails the run.
pub fn send_all(pings: &[Ping], on: On, outcome: &Outcome) {
    let mine: Vec<&Ping> = pings.iter().filter(|p| p.on == on).collect();
    if mine.is_empty() {
        return;
    }
    let results: Vec<(&Ping, Result<(), String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = mine.iter().map(|p| (*p, s.spawn(move || send(p, outcome)))).collect();
        handles
            .into_iter()
            .map(|(p, h)| (p, h.join().unwrap_or_else(|_| Err("the ping crashed".to_string()))))
            .collect()
    });
    let word = if outcome.down() { "fail" } else { "success" };
    for (p, result) in results {
        match result {
            Ok(()) => log::info(&format!("Ping {} sent ({word})", p.name)),
            Err(why) => log::warn(&format!("Ping {} failed: {}", p.name, secret::scrub(&why))),
        }
    }
}

/// One ping. `Err` says why, without the URL.
fn send(ping: &Ping, outcome: &Outcome) -> Result<(), String> {
    let req = request(ping, outcome);
    let agent = crate::channels::http_agent(Duration::from_millis(ping.timeout_ms));
    let sent = match &req.body {
        Some(body) => {
            agent.request(req.method, &req.url).set("Content-Type", "text/plain; charset=utf-8").send_string(body)
        }
        None => agent.request(req.method, &req.url).call(),
    };
    match sent {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
        Ok(resp) => Err(format!("answered HTTP {} (a redirect is not a ping; use the final URL)", resp.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("answered HTTP {code}")),
        Err(ureq::Error::Transport(t)) => {
            Err(crate::channels::http::transport(&format!("{:?} ping", ping.style), &t).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping(style: Style, url: &str) -> Ping {
        Ping { name: "p".into(), url: url.into(), style, ..Ping::default() }
    }

    fn outcome(status: Status, failed: bool) -> Outcome {
        Outcome {
            status,
            failed,
            summary: "🟢 **ALL SYSTEMS HEALTHY** - 3 of 3 checks passed".into(),
            duration: Duration::from_millis(42),
        }
    }

    #[test]
    fn healthchecks_posts_the_summary_and_fails_on_critical_or_exit_3() {
        let p = ping(Style::Healthchecks, "https://hc-ping.com/abc/");
        let ok = request(&p, &outcome(Status::Warnings, false));
        assert_eq!(
            ok,
            Request {
                method: "POST",
                url: "https://hc-ping.com/abc/".into(),
                body: Some("🟢 ALL SYSTEMS HEALTHY - 3 of 3 checks passed".into()),
            }
        );
        assert_eq!(request(&p, &outcome(Status::Critical, false)).url, "https://hc-ping.com/abc/fail");
        assert_eq!(request(&p, &outcome(Status::Healthy, true)).url, "https://hc-ping.com/abc/fail");
    }

    #[test]
    fn uptime_kuma_replaces_the_push_parameters() {
        let p = ping(Style::UptimeKuma, "http://kuma:3001/api/push/Tok3n?status=up&msg=OK&ping=");
        let r = request(&p, &outcome(Status::Healthy, false));
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.url,
            "http://kuma:3001/api/push/Tok3n?status=up&msg=%F0%9F%9F%A2+ALL+SYSTEMS+HEALTHY+-+3+of+3+checks+passed&ping=42"
        );
        assert!(request(&p, &outcome(Status::Critical, false)).url.contains("status=down"));
    }

    #[test]
    fn plain_is_a_get_either_way() {
        let p = ping(Style::Plain, "https://example.com/beat");
        assert_eq!(
            request(&p, &outcome(Status::Critical, true)),
            Request { method: "GET", url: "https://example.com/beat".into(), body: None }
        );
    }

    #[test]
    fn validation_names_the_keys() {
        let p = Ping { name: String::new(), url: "https://hc-ping.com/***".into(), timeout_ms: 0, ..Ping::default() };
        let errs = p.validate("ping[0]").join("\n");
        for key in ["ping[0].name", "ping[0].url holds `***`", "ping[0].timeout_ms"] {
            assert!(errs.contains(key), "{key} in {errs}");
        }
    }
}
