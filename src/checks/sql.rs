//! `[[sql]]`: a PostgreSQL query whose answer the conditions judge
//! (SPEC §16): `select count(*) from jobs where state = 'failed'` with
//! `[VALUE] < 10`, `select pg_is_in_recovery()` with `[VALUE] == false`.
//!
//! The query runs in a read-only transaction (`default_transaction_read_only`
//! for the connection) with `statement_timeout` set to `timeout_ms`, through the same reply guard as `[database]`, so a
//! query that would write is refused by the server, a slow one is cancelled
//! by it, and a huge reply is cut. It must be one statement: it is prepared
//! first (the extended protocol takes one statement only, so `commit;
//! delete ...` cannot leave the transaction), then run for its text values.

use std::time::{Duration, Instant};

use postgres::types::Type;
use serde_json::Value;

use super::conditions::{self, Answer, Placeholder};
use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::secret;

crate::check_section! {
    /// `[[sql]]`: a query and conditions on what it returns.
    pub struct Sql {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// postgresql:// URL; "" = the `[database]` URL (as DATABASE_URL leaves it).
        pub url: String = String::new(),
        /// One statement returning a row: `[VALUE]` is its first column, `[ROW].<column>` any column.
        pub query: String = String::new(),
        /// Conditions that must all hold (`[VALUE] < 10`); a failed one fails the check.
        pub conditions: Vec<String> = Vec::new(),
        /// Conditions whose failure is a warning.
        pub warn_conditions: Vec<String> = Vec::new(),
        /// Connect + query timeout in ms; also the statement_timeout.
        pub timeout_ms: u64 = 5000,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Sql {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "sql"
    }
    fn section(&self) -> &'static str {
        "SQL"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, secret::url_target(&self.url))]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        crate::validate::name(&mut errs, &format!("{at}.name"), &self.name, "SQL check");
        crate::validate::timeout_ms(&mut errs, &format!("{at}.timeout_ms"), self.timeout_ms);
        // "" = [database]'s URL, filled in when the file is loaded.
        if self.url.is_empty() {
        } else if self.url.contains("***") {
            crate::validate::not_redacted(&mut errs, &format!("{at}.url"), &self.url);
        } else if let Err(why) = super::postgres::check_database_url(&self.url) {
            errs.push(format!("{at}.url = {:?}: {why}", secret::redact_url(&self.url)));
        }
        if self.query.trim().is_empty() {
            errs.push(format!(
                "{at}.query is empty: give one statement returning a row, e.g. \"select count(*) from jobs where state = 'failed'\""
            ));
        }
        conditions::validate(&mut errs, at, "conditions", &self.conditions, conditions::SQL);
        conditions::validate(&mut errs, at, "warn_conditions", &self.warn_conditions, conditions::SQL);
        errs
    }
    fn secrets(&self) -> Vec<String> {
        secret::url_secrets(&self.url)
    }
    fn redact(&mut self) {
        self.url = secret::redact_url(&self.url);
    }
    fn timeout(&self) -> Duration {
        // The server's statement_timeout is timeout_ms: leave it room to
        // cancel the statement and say so before the runner gives up.
        Duration::from_millis(self.timeout_ms + 500)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let (status, message, values) = match query(self) {
            Err(e) => (CheckStatus::Fail, format!("query failed: {e}"), Vec::new()),
            Ok(rows) => judge(self, rows, start.elapsed().as_millis() as u64),
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

/// What the query returned: each row as (column, value), in order.
pub type Rows = Vec<Vec<(String, Value)>>;

fn query(cfg: &Sql) -> Result<Rows, String> {
    session_query(&cfg.url, &cfg.query, cfg.timeout_ms)
}

/// Runs `text` read-only under `statement_timeout`, one statement only.
fn session_query(url: &str, text: &str, timeout_ms: u64) -> Result<Rows, String> {
    // Every transaction of this connection is read-only and every statement
    // bounded, set at connect time (no round trip); the one statement runs
    // in its own implicit transaction.
    let settings = format!("-c default_transaction_read_only=on -c statement_timeout={timeout_ms}");
    super::postgres::session_with(url, Duration::from_millis(timeout_ms), &settings, |client| {
        let types: Vec<Type> = client.prepare(text)?.columns().iter().map(|c| c.type_().clone()).collect();
        let messages = client.simple_query(text)?;
        let mut rows = Rows::new();
        for m in messages {
            if let postgres::SimpleQueryMessage::Row(row) = m {
                let cols = row.columns().iter().enumerate();
                rows.push(cols.map(|(i, c)| (c.name().to_string(), typed(row.get(i), types.get(i)))).collect());
            }
        }
        Ok(rows)
    })
}

/// A column's text as the JSON value conditions compare: numbers as
/// numbers, booleans as true/false, NULL as null, the rest as text.
fn typed(text: Option<&str>, ty: Option<&Type>) -> Value {
    let Some(text) = text else { return Value::Null };
    let numeric = [Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8, Type::NUMERIC, Type::OID];
    match ty {
        Some(t) if *t == Type::BOOL => Value::Bool(text == "t"),
        Some(t) if numeric.contains(t) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.into()), Value::Number),
        _ => Value::String(text.into()),
    }
}

/// The verdict on what the query returned (pure).
pub fn judge(cfg: &Sql, rows: Rows, latency_ms: u64) -> (CheckStatus, String, Vec<conditions::Reading>) {
    let lists = [cfg.conditions.as_slice(), cfg.warn_conditions.as_slice()];
    let reads = |p| conditions::any_reads(&lists, conditions::SQL, p);
    let n = rows.len();
    let counted = format!("{n} row{}", if n == 1 { "" } else { "s" });
    let first = rows.into_iter().next();
    if first.is_none() && (reads(Placeholder::Value) || reads(Placeholder::Row) || lists.iter().all(|l| l.is_empty())) {
        return (CheckStatus::Fail, "the query returned no row".into(), Vec::new());
    }
    let value = first.as_ref().and_then(|r| r.first()).map(|(_, v)| v.clone());
    let shown = value.as_ref().map(|v| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), conditions::number_text),
        other => other.to_string(),
    });
    let head = match &shown {
        Some(v) => format!("{counted}, first value {}", super::one_line(v).chars().take(60).collect::<String>()),
        None => counted,
    };
    if lists.iter().all(|l| l.is_empty()) {
        return (CheckStatus::Ok, head, Vec::new());
    }
    let answer = Answer {
        value,
        row: first.map(|r| r.into_iter().collect()),
        rows: Some(n as u64),
        response_time_ms: Some(latency_ms),
        ..Answer::default()
    };
    let judged = conditions::judge(&cfg.conditions, &cfg.warn_conditions, conditions::SQL, &answer);
    let (status, message) = super::http::with_conditions(CheckStatus::Ok, &head, true, &judged);
    (status, message, judged.readings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(conditions: &[&str]) -> Sql {
        Sql {
            name: "failed jobs".into(),
            url: "postgresql://127.0.0.1/db".into(),
            query: "select 1".into(),
            conditions: conditions.iter().map(|c| c.to_string()).collect(),
            ..Sql::default()
        }
    }

    fn row(cols: &[(&str, Value)]) -> Vec<(String, Value)> {
        cols.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn values_rows_and_columns_are_judged() {
        let rows = vec![row(&[("count", Value::from(14)), ("oldest", Value::from("2026-12-01"))])];
        let (st, msg, values) = judge(&sql(&["[VALUE] < 10"]), rows.clone(), 3);
        assert_eq!(st, CheckStatus::Fail);
        assert_eq!(msg, "1 row, first value 14; failed: [VALUE] (14) < 10");
        assert_eq!(values, [conditions::Reading { placeholder: "[VALUE]".into(), value: 14.0 }]);
        let (st, msg, _) = judge(&sql(&["[ROW].count < 20", "[ROWS] == 1"]), rows, 3);
        assert_eq!((st, msg.as_str()), (CheckStatus::Ok, "1 row, first value 14; 2 conditions met"));
    }

    #[test]
    fn no_row_fails_unless_only_the_row_count_is_asked() {
        let (st, msg, _) = judge(&sql(&["[VALUE] < 10"]), Vec::new(), 1);
        assert_eq!((st, msg.as_str()), (CheckStatus::Fail, "the query returned no row"));
        let (st, _, _) = judge(&sql(&[]), Vec::new(), 1);
        assert_eq!(st, CheckStatus::Fail);
        let (st, msg, _) = judge(&sql(&["[ROWS] == 0"]), Vec::new(), 1);
        assert_eq!((st, msg.as_str()), (CheckStatus::Ok, "0 rows; 1 condition met"));
    }

    #[test]
    fn column_text_is_typed_as_postgres_typed_it() {
        assert_eq!(typed(Some("t"), Some(&Type::BOOL)), Value::Bool(true));
        assert_eq!(typed(Some("f"), Some(&Type::BOOL)), Value::Bool(false));
        assert_eq!(typed(Some("42"), Some(&Type::INT8)), Value::from(42.0));
        assert_eq!(typed(Some("1.5"), Some(&Type::NUMERIC)), Value::from(1.5));
        assert_eq!(typed(Some("NaN"), Some(&Type::NUMERIC)), Value::from("NaN"));
        assert_eq!(typed(Some("42"), Some(&Type::TEXT)), Value::from("42"));
        assert_eq!(typed(None, Some(&Type::INT4)), Value::Null);
    }

    #[test]
    fn validation_names_the_key_and_the_column() {
        let mut s = sql(&["[VALUE] =< 10"]);
        s.query = " ".into();
        s.url = "mysql://h/db".into();
        let errs = s.validate("sql[0]").join("\n");
        for want in ["sql[0].query is empty", "sql[0].url", "sql[0].conditions[0] = \"[VALUE] =< 10\"", "(column 9)"] {
            assert!(errs.contains(want), "{want} missing in {errs}");
        }
        assert!(sql(&["[STATUS] == 200"]).validate("sql[0]").join("").contains("[STATUS] is not read"));
        assert_eq!(sql(&["[VALUE] < 10"]).idents()[0].id, "sql:failed jobs");
    }
}
