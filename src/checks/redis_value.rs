//! `[[redis_value]]`: one read-only Redis command whose answer the
//! conditions judge (SPEC §16): `LLEN jobs` with `[VALUE] < 1000`, a field
//! of `INFO memory`, the pending count of `XPENDING stream group`.
//!
//! Only the commands of [`COMMANDS`] are sent (`config check` refuses any
//! other, naming it), over the same bounded RESP conversation as `[redis]`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::conditions::{self, Answer};
use super::redis::Reply;
use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::secret;

/// The read-only commands, with how many arguments each takes (min, max).
pub const COMMANDS: &[(&str, usize, usize)] = &[
    ("LLEN", 1, 1),
    ("XLEN", 1, 1),
    ("ZCARD", 1, 1),
    ("SCARD", 1, 1),
    ("HLEN", 1, 1),
    ("STRLEN", 1, 1),
    ("GET", 1, 1),
    ("EXISTS", 1, 64),
    ("TTL", 1, 1),
    ("PTTL", 1, 1),
    ("DBSIZE", 0, 0),
    ("INFO", 1, 1),
    ("XPENDING", 2, 2),
];

crate::check_section! {
    /// `[[redis_value]]`: a read-only command and conditions on its answer.
    pub struct RedisValue {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// redis:// URL; "" = the `[redis]` URL (as REDIS_URL leaves it).
        pub url: String = String::new(),
        /// The command and its arguments: ["LLEN", "jobs"], ["INFO", "memory"], ["XPENDING", "events", "workers"].
        pub command: Vec<String> = Vec::new(),
        /// INFO only: the field whose value is `[VALUE]` (`used_memory`).
        pub field: String = String::new(),
        /// Conditions that must all hold (`[VALUE] < 1000`); a failed one fails the check.
        pub conditions: Vec<String> = Vec::new(),
        /// Conditions whose failure is a warning.
        pub warn_conditions: Vec<String> = Vec::new(),
        /// Connect + command timeout in ms.
        pub timeout_ms: u64 = 3000,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for RedisValue {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "redis_value"
    }
    fn section(&self) -> &'static str {
        "Redis values"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(
            self,
            &self.name,
            self.severity,
            format!("{} {}", secret::url_target(&self.url), self.shown()),
        )]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        crate::validate::name(&mut errs, &format!("{at}.name"), &self.name, "Redis value check");
        crate::validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        // "" = [redis]'s URL, filled in when the file is loaded.
        if !self.url.is_empty() {
            crate::validate::url(&mut errs, &format!("{at}.url"), &self.url, &["redis", "rediss"], "");
        }
        let names = COMMANDS.iter().map(|c| c.0).collect::<Vec<_>>().join(" ");
        match self.command.split_first() {
            None => errs
                .push(format!("{at}.command is empty: give a read-only command, e.g. [\"LLEN\", \"jobs\"] ({names})")),
            Some((name, args)) => match COMMANDS.iter().find(|c| c.0.eq_ignore_ascii_case(name)) {
                None => errs.push(format!(
                    "{at}.command = {:?}: {name:?} is not one of the read-only commands ops-atomic sends: {names}",
                    self.command
                )),
                Some(&(cmd, min, max)) if args.len() < min || args.len() > max => {
                    let want = match (min, max) {
                        (0, 0) => "no arguments".to_string(),
                        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
                        (a, b) => format!("{a} to {b} arguments"),
                    };
                    errs.push(format!("{at}.command = {:?}: {cmd} takes {want}", self.command));
                }
                Some(&(cmd, ..)) => {
                    if cmd == "INFO" && self.field.trim().is_empty() {
                        errs.push(format!(
                            "{at}.field is empty: INFO needs the field to read, e.g. field = \"used_memory\""
                        ));
                    }
                    if cmd != "INFO" && !self.field.is_empty() {
                        errs.push(format!("{at}.field = {:?}: only INFO reads a field; remove it", self.field));
                    }
                }
            },
        }
        conditions::validate(&mut errs, at, "conditions", &self.conditions, conditions::REDIS);
        conditions::validate(&mut errs, at, "warn_conditions", &self.warn_conditions, conditions::REDIS);
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
        let start = Instant::now();
        let answered = super::redis::open(&self.url, Duration::from_millis(self.timeout_ms)).and_then(|mut con| {
            let args: Vec<&str> = self.command.iter().map(String::as_str).collect();
            con.call(&args)
        });
        let latency = start.elapsed().as_millis() as u64;
        let (status, message, values) = match answered.and_then(|reply| self.value_of(reply)) {
            Err(e) => (CheckStatus::Fail, format!("{}: {e}", self.shown()), Vec::new()),
            Ok(value) => self.judge(value, latency),
        };
        let mut r = CheckResult::new(&self.idents()[0], status, message);
        r.latency_ms = start.elapsed().as_millis() as u64;
        r.values = values;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

impl RedisValue {
    /// The command as the message names it: `LLEN jobs`, `INFO memory used_memory`.
    fn shown(&self) -> String {
        let mut words = self.command.clone();
        if !self.field.is_empty() {
            words.push(self.field.clone());
        }
        words.join(" ")
    }

    fn verb(&self) -> String {
        self.command.first().map(|c| c.to_ascii_uppercase()).unwrap_or_default()
    }

    /// `[VALUE]` from the reply (pure): a number, a string, or null.
    pub fn value_of(&self, reply: Reply) -> Result<Value, String> {
        match (self.verb().as_str(), reply) {
            (_, Reply::Error(e)) => Err(format!("Redis answered an error: {e}")),
            ("INFO", Reply::Text(text)) => info_field(&text, &self.field)
                .map(scalar)
                .ok_or_else(|| format!("INFO {} has no field {:?}", self.command[1..].join(" "), self.field)),
            ("XPENDING", Reply::Array(items)) => match items.first() {
                Some(Reply::Int(n)) => Ok(Value::from(*n)),
                _ => Err("XPENDING did not answer its summary (count, first, last, consumers)".into()),
            },
            (_, Reply::Int(n)) => Ok(Value::from(n)),
            (_, Reply::Text(t)) => Ok(Value::String(t)),
            (_, Reply::Nil) => Ok(Value::Null),
            (verb, other) => Err(format!("{verb} answered {:?}, not a single value", super::one_line(&other.shown()))),
        }
    }

    /// The verdict on the value (pure).
    pub fn judge(&self, value: Value, latency_ms: u64) -> (CheckStatus, String, Vec<conditions::Reading>) {
        let text = match &value {
            Value::String(s) => super::one_line(s).chars().take(60).collect(),
            Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), conditions::number_text),
            other => other.to_string(),
        };
        let head = format!("{} = {text}", self.shown());
        if self.conditions.is_empty() && self.warn_conditions.is_empty() {
            return (CheckStatus::Ok, head, Vec::new());
        }
        let answer = Answer { value: Some(value), response_time_ms: Some(latency_ms), ..Answer::default() };
        let judged = conditions::judge(&self.conditions, &self.warn_conditions, conditions::REDIS, &answer);
        let (status, message) = super::http::with_conditions(CheckStatus::Ok, &head, true, &judged);
        (status, message, judged.readings)
    }
}

/// `field:value` from INFO's text.
fn info_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| l.trim_end().strip_prefix(field)?.strip_prefix(':'))
}

/// A number when the text is one, else the text.
fn scalar(text: &str) -> Value {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| Value::String(text.to_string()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rv(command: &[&str], field: &str, conditions: &[&str]) -> RedisValue {
        RedisValue {
            name: "job queue".into(),
            url: "redis://127.0.0.1:6379".into(),
            command: command.iter().map(|c| c.to_string()).collect(),
            field: field.into(),
            conditions: conditions.iter().map(|c| c.to_string()).collect(),
            ..RedisValue::default()
        }
    }

    #[test]
    fn only_the_read_only_commands_pass_config_check() {
        let errs = rv(&["DEL", "jobs"], "", &[]).validate("redis_value[0]").join("\n");
        assert!(
            errs.contains("redis_value[0].command = [\"DEL\", \"jobs\"]: \"DEL\" is not one of the read-only"),
            "{errs}"
        );
        assert!(rv(&["LLEN"], "", &[]).validate("r").join("").contains("LLEN takes 1 argument"));
        assert!(rv(&["DBSIZE", "x"], "", &[]).validate("r").join("").contains("DBSIZE takes no arguments"));
        assert!(rv(&["INFO", "memory"], "", &[]).validate("r").join("").contains("r.field is empty"));
        assert!(rv(&["LLEN", "q"], "x", &[]).validate("r").join("").contains("only INFO reads a field"));
        assert!(rv(&[], "", &[]).validate("r").join("").contains("r.command is empty"));
        assert!(rv(&["llen", "jobs"], "", &["[VALUE] < 1000"]).validate("r").is_empty());
        assert!(rv(&["LLEN", "jobs"], "", &["[BODY] == 1"]).validate("r").join("").contains("[BODY] is not read"));
    }

    #[test]
    fn replies_become_values() {
        let q = rv(&["LLEN", "jobs"], "", &["[VALUE] < 1000"]);
        assert_eq!(q.value_of(Reply::Int(1200)).unwrap(), Value::from(1200));
        let (st, msg, values) = q.judge(Value::from(1200), 1);
        assert_eq!((st, msg.as_str()), (CheckStatus::Fail, "LLEN jobs = 1200; failed: [VALUE] (1200) < 1000"));
        assert_eq!(values[0].value, 1200.0);
        assert!(q.value_of(Reply::Error("WRONGTYPE Operation".into())).unwrap_err().contains("WRONGTYPE"));
        let info = rv(&["INFO", "memory"], "used_memory", &[]);
        let text = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(info.value_of(Reply::Text(text.into())).unwrap(), Value::from(1_048_576.0));
        let human = rv(&["INFO", "memory"], "used_memory_human", &[]);
        assert_eq!(human.value_of(Reply::Text(text.into())).unwrap(), Value::from("1.00M"));
        assert!(
            rv(&["INFO", "memory"], "nope", &[]).value_of(Reply::Text(text.into())).unwrap_err().contains("no field")
        );
        let pending = rv(&["XPENDING", "s", "g"], "", &[]);
        let summary =
            Reply::Array(vec![Reply::Int(7), Reply::Text("1-0".into()), Reply::Text("9-0".into()), Reply::Nil]);
        assert_eq!(pending.value_of(summary).unwrap(), Value::from(7));
        assert_eq!(rv(&["GET", "k"], "", &[]).value_of(Reply::Nil).unwrap(), Value::Null);
    }
}
