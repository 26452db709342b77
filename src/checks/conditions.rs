//! Conditions on what a service answered, in Gatus's syntax (SPEC §16):
//! `[STATUS] == 200`, `[BODY].status == UP`, `len([BODY].items) < 100`,
//! `[RESPONSE_TIME] < 300`, `[CERTIFICATE_EXPIRATION] > 240h`,
//! `[VALUE] < 1000`.
//!
//! Pure: [`parse`] turns the text into a [`Condition`] (or says at which
//! column it broke), [`Condition::eval`] judges it against an [`Answer`] and
//! returns the text a person reads, Gatus's way: the placeholder with the
//! value seen in parentheses, `[BODY].status (DOWN) == UP`. The check kinds
//! fill the answer; nothing here does I/O.
//!
//! Comparison: two sides that both read as numbers compare as numbers
//! (`200 == 200.0`); `==` and `!=` otherwise compare the text of each side
//! (a JSON `true`, `false` or `null` reads as that word, so
//! `[BODY].ok == true` means the JSON value); `<`, `<=`, `>`, `>=` need two
//! numbers, and fail saying so. Durations (`[RESPONSE_TIME]`,
//! `[CERTIFICATE_EXPIRATION]`) are milliseconds, compared with a plain
//! number of milliseconds or a duration (`300ms`, `1.5s`, `240h`, `7d`).

use std::fmt::Write as _;

use serde_json::Value;

/// What a condition can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The HTTP status code.
    Status,
    /// The whole body, or a JSON path into it.
    Body,
    /// Milliseconds from the request to the whole answer.
    ResponseTime,
    /// How long until the certificate expires.
    CertificateExpiration,
    /// Whether a connection was made at all.
    Connected,
    /// An SQL query's first column, a Redis command's answer.
    Value,
    /// A column of an SQL query's first row: `[ROW].name`.
    Row,
    /// How many rows an SQL query returned.
    Rows,
}

impl Placeholder {
    pub fn token(self) -> &'static str {
        match self {
            Placeholder::Status => "[STATUS]",
            Placeholder::Body => "[BODY]",
            Placeholder::ResponseTime => "[RESPONSE_TIME]",
            Placeholder::CertificateExpiration => "[CERTIFICATE_EXPIRATION]",
            Placeholder::Connected => "[CONNECTED]",
            Placeholder::Value => "[VALUE]",
            Placeholder::Row => "[ROW]",
            Placeholder::Rows => "[ROWS]",
        }
    }

    fn named(inner: &str) -> Option<Placeholder> {
        Some(match inner {
            "STATUS" => Placeholder::Status,
            "BODY" => Placeholder::Body,
            "RESPONSE_TIME" => Placeholder::ResponseTime,
            "CERTIFICATE_EXPIRATION" => Placeholder::CertificateExpiration,
            "CONNECTED" => Placeholder::Connected,
            "VALUE" => Placeholder::Value,
            "ROW" => Placeholder::Row,
            "ROWS" => Placeholder::Rows,
            _ => return None,
        })
    }

    /// Whether a JSON path may follow it.
    fn takes_path(self) -> bool {
        matches!(self, Placeholder::Body | Placeholder::Value | Placeholder::Row)
    }
}

/// The placeholders an `[[api]]` condition may use.
pub const HTTP: &[Placeholder] = &[
    Placeholder::Status,
    Placeholder::Body,
    Placeholder::ResponseTime,
    Placeholder::CertificateExpiration,
    Placeholder::Connected,
];
/// The placeholders an `[[sql]]` condition may use.
pub const SQL: &[Placeholder] = &[Placeholder::Value, Placeholder::Row, Placeholder::Rows, Placeholder::ResponseTime];
/// The placeholders a `[[redis_value]]` condition may use.
pub const REDIS: &[Placeholder] = &[Placeholder::Value, Placeholder::ResponseTime];

/// Gatus placeholders that no check here reads: named as such, not as typos.
const GATUS_ONLY: &[&str] = &["IP", "DNS_RCODE", "DOMAIN_EXPIRATION", "CONTEXT"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// One step of a JSON path: `.key` or `[index]`.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Func {
    Len,
    Has,
}

/// One side of a condition.
#[derive(Debug, Clone, PartialEq)]
enum Side {
    /// `[BODY].a[0].b`, or `len(...)` / `has(...)` of one.
    Read { func: Option<Func>, place: Placeholder, path: Vec<Step>, text: String },
    /// A word or number as written (surrounding double quotes removed).
    Literal(String),
    /// `pat(*UP*)`: `*` matches any run of characters.
    Pattern(String),
    /// `any(200, 201)`: equal to one of them.
    Any(Vec<String>),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub text: String,
    left: Side,
    op: Op,
    right: Side,
}

/// Where and why a condition does not parse; `column` counts characters from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub column: usize,
    pub why: String,
}

/// Parses one condition, allowing only the placeholders in `allowed`.
pub fn parse(text: &str, allowed: &[Placeholder]) -> Result<Condition, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let (op, at, len) = find_operator(&chars)?;
    let left_text: String = chars[..at].iter().collect();
    let right_text: String = chars[at + len..].iter().collect();
    let left = side(&left_text, 1, allowed, "before")?;
    let right = side(&right_text, at + len + 1, allowed, "after")?;
    let is_read = |s: &Side| matches!(s, Side::Read { .. });
    let lead = |t: &str| t.chars().take_while(|c| c.is_whitespace()).count();
    for (s, col) in [(&left, 1 + lead(&left_text)), (&right, at + len + 1 + lead(&right_text))] {
        if matches!(s, Side::Pattern(_) | Side::Any(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(ParseError { column: col, why: "pat() and any() work only with == and !=".into() });
        }
    }
    if matches!(left, Side::Pattern(_) | Side::Any(_)) && matches!(right, Side::Pattern(_) | Side::Any(_)) {
        return Err(ParseError { column: 1, why: "pat() and any() compare a placeholder, not each other".into() });
    }
    if !is_read(&left) && !is_read(&right) {
        let hint = allowed.iter().map(|p| p.token()).collect::<Vec<_>>().join(", ");
        return Err(ParseError { column: 1, why: format!("compares two constants: one side must read {hint}") });
    }
    Ok(Condition { text: text.trim().to_string(), left, op, right })
}

/// The comparison operator outside brackets, parentheses and quotes.
fn find_operator(chars: &[char]) -> Result<(Op, usize, usize), ParseError> {
    let is_op = |c: char| matches!(c, '=' | '!' | '<' | '>' | '~');
    let (mut depth, mut quoted) = (0i32, false);
    let mut opened: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => quoted = !quoted,
            '[' | '(' if !quoted => {
                depth += 1;
                opened.push(i);
            }
            ']' | ')' if !quoted => {
                depth -= 1;
                opened.pop();
            }
            _ if !quoted && depth == 0 && is_op(c) => {
                let mut j = i;
                while j < chars.len() && is_op(chars[j]) {
                    j += 1;
                }
                let token: String = chars[i..j].iter().collect();
                let op = match token.as_str() {
                    "==" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "=" => {
                        return Err(ParseError { column: i + 1, why: "`=` is not an operator: write `==`".into() });
                    }
                    _ => {
                        return Err(ParseError {
                            column: i + 1,
                            why: format!("`{token}` is not an operator Gatus has: use == != < <= > >="),
                        });
                    }
                };
                return Ok((op, i, j - i));
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(&open) = opened.first().filter(|_| depth > 0) {
        return Err(ParseError {
            column: open + 1,
            why: format!(
                "`{}` at column {} is not closed: add `{}`",
                chars[open],
                open + 1,
                if chars[open] == '[' { ']' } else { ')' }
            ),
        });
    }
    Err(ParseError {
        column: chars.len() + 1,
        why: "no comparison: write <placeholder> <operator> <value>, e.g. [STATUS] == 200 (operators: == != < <= > >=)"
            .into(),
    })
}

/// One side, starting at column `col` of the whole condition.
fn side(raw: &str, col: usize, allowed: &[Placeholder], where_: &str) -> Result<Side, ParseError> {
    let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
    let s = raw.trim();
    if s.is_empty() {
        return Err(ParseError { column: col, why: format!("nothing to compare {where_} the operator") });
    }
    let col = col + lead;
    if let Some((name, inner)) = call(s) {
        let inner_col = col + name.chars().count() + 1;
        return match name {
            "len" | "has" => {
                let func = if name == "len" { Func::Len } else { Func::Has };
                match read(inner.trim(), inner_col, allowed)? {
                    Side::Read { place, path, .. } => Ok(Side::Read { func: Some(func), place, path, text: s.into() }),
                    _ => Err(ParseError { column: inner_col, why: format!("{name}() takes a placeholder") }),
                }
            }
            "pat" => Ok(Side::Pattern(unquote(inner.trim()).to_string())),
            "any" => Ok(Side::Any(inner.split(',').map(|v| unquote(v.trim()).to_string()).collect())),
            other => Err(ParseError {
                column: col,
                why: format!("unknown function {other}(): Gatus has len() has() pat() any()"),
            }),
        };
    }
    if s.starts_with('[') {
        return read(s, col, allowed);
    }
    if let Some(open) = ["len(", "has(", "pat(", "any("].iter().find(|f| s.starts_with(*f)) {
        return Err(ParseError { column: col, why: format!("{open} is not closed: add `)`") });
    }
    Ok(Side::Literal(unquote(s).to_string()))
}

/// `name(inner)` when the whole side is a call.
fn call(s: &str) -> Option<(&str, &str)> {
    let open = s.find('(')?;
    let name = &s[..open];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') || !s.ends_with(')') {
        return None;
    }
    Some((name, &s[open + 1..s.len() - 1]))
}

fn unquote(s: &str) -> &str {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') { &s[1..s.len() - 1] } else { s }
}

/// A placeholder and its path: `[BODY].data[0].name`.
fn read(s: &str, col: usize, allowed: &[Placeholder]) -> Result<Side, ParseError> {
    let Some(close) = s.find(']') else {
        return Err(ParseError { column: col, why: format!("{s:?} opens `[` without closing it") });
    };
    let inner = &s[1..close];
    let allowed_list = || allowed.iter().map(|p| p.token()).collect::<Vec<_>>().join(", ");
    let place = match Placeholder::named(inner) {
        Some(p) if allowed.contains(&p) => p,
        Some(p) => {
            return Err(ParseError {
                column: col,
                why: format!("{} is not read by this kind of check: use {}", p.token(), allowed_list()),
            });
        }
        None if GATUS_ONLY.contains(&inner) => {
            return Err(ParseError {
                column: col,
                why: format!("[{inner}] is a Gatus placeholder ops-atomic does not read: use {}", allowed_list()),
            });
        }
        None => {
            return Err(ParseError {
                column: col,
                why: format!("unknown placeholder [{inner}]: use {}", allowed_list()),
            });
        }
    };
    let rest: Vec<char> = s[close + 1..].chars().collect();
    let base_col = col + s[..close + 1].chars().count();
    let mut path = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let at = base_col + i;
        match rest[i] {
            '.' => {
                let start = i + 1;
                let mut j = start;
                while j < rest.len() && rest[j] != '.' && rest[j] != '[' {
                    j += 1;
                }
                let key: String = rest[start..j].iter().collect();
                if key.is_empty() || key.chars().any(char::is_whitespace) {
                    return Err(ParseError {
                        column: at,
                        why: "a path step needs a key after `.` (no spaces), e.g. [BODY].status".into(),
                    });
                }
                path.push(Step::Key(key));
                i = j;
            }
            '[' => {
                let Some(end) = rest[i..].iter().position(|&c| c == ']') else {
                    return Err(ParseError { column: at, why: "`[` without `]` in the path".into() });
                };
                let digits: String = rest[i + 1..i + end].iter().collect();
                let Ok(n) = digits.parse::<usize>() else {
                    return Err(ParseError {
                        column: at,
                        why: format!("[{digits}] is not an array index: use a whole number, e.g. [0]"),
                    });
                };
                path.push(Step::Index(n));
                i += end + 1;
            }
            c => {
                return Err(ParseError {
                    column: at,
                    why: format!("unexpected {c:?} after {}: a path goes on with .key or [index]", place.token()),
                });
            }
        }
    }
    if !path.is_empty() && !place.takes_path() {
        return Err(ParseError { column: base_col, why: format!("{} takes no path", place.token()) });
    }
    if place == Placeholder::Row && !matches!(path.first(), Some(Step::Key(_))) {
        return Err(ParseError { column: base_col, why: "[ROW] needs a column: [ROW].name".into() });
    }
    Ok(Side::Read { func: None, place, path, text: s.to_string() })
}

impl Condition {
    /// The placeholders this condition reads.
    pub fn reads(&self, p: Placeholder) -> bool {
        [&self.left, &self.right].iter().any(|s| matches!(s, Side::Read { place, .. } if *place == p))
    }

    /// Judges the condition against an answer: whether it holds, the text
    /// a person reads, and the numbers it read (for metrics).
    pub fn eval(&self, a: &Answer) -> Verdict {
        let left = resolve(&self.left, a);
        let right = resolve(&self.right, a);
        let passed = compare(&left, self.op, &right);
        let mut shown = String::new();
        for (i, (side, val)) in [(&self.left, &left), (&self.right, &right)].into_iter().enumerate() {
            if i == 1 {
                let _ = write!(shown, " {} ", self.op.text());
            }
            match (side, val) {
                (Side::Read { text, .. }, v) => {
                    let _ = write!(shown, "{text} ({})", v.shown());
                }
                (Side::Literal(l), _) => shown.push_str(l),
                (Side::Pattern(p), _) => {
                    let _ = write!(shown, "pat({p})");
                }
                (Side::Any(vs), _) => {
                    let _ = write!(shown, "any({})", vs.join(", "));
                }
            }
        }
        let mut readings = Vec::new();
        for (side, val) in [(&self.left, &left), (&self.right, &right)] {
            if let (Side::Read { text, .. }, Some(n)) = (side, val.number()) {
                readings.push(Reading { placeholder: text.clone(), value: n });
            }
        }
        Verdict { passed, shown, readings }
    }
}

/// What a condition said.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// `[BODY].status (DOWN) == UP`.
    pub shown: String,
    pub readings: Vec<Reading>,
}

/// A number a condition read: `ops_atomic_check_value{placeholder=...}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub placeholder: String,
    pub value: f64,
}

/// What a service answered, as the conditions read it. A field left `None`
/// reads as "not available" (and fails whatever compares it).
#[derive(Debug, Default)]
pub struct Answer {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub response_time_ms: Option<u64>,
    /// Milliseconds until the certificate expires (negative: expired), or why it is unknown.
    pub certificate: Option<Result<i64, String>>,
    pub connected: Option<bool>,
    /// `[VALUE]`: a JSON scalar (a string may hold JSON, read by a path).
    pub value: Option<Value>,
    /// `[ROW]`: the first row, column by column.
    pub row: Option<serde_json::Map<String, Value>>,
    pub rows: Option<u64>,
    /// The body parsed as JSON, once, by the first path that reads it (leave it default).
    pub body_json: std::cell::OnceCell<Option<Value>>,
}

/// A side's value once read.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Num(f64),
    Text(String),
    Bool(bool),
    Null,
    /// An array or object.
    Json(Value),
    /// Milliseconds; shown as a duration.
    Millis(f64, Clock),
    /// Nothing to compare, and why.
    Missing(String),
    /// The right-hand side's pattern or list, compared by [`compare`].
    Pattern(String),
    Any(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Clock {
    /// A response time: `512 ms`.
    Short,
    /// A certificate's life: `9 d 23 h`.
    Long,
}

impl Val {
    fn of(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n.as_f64().map_or_else(|| Val::Text(n.to_string()), Val::Num),
            Value::String(s) => Val::Text(s.clone()),
            other => Val::Json(other.clone()),
        }
    }

    /// The value as a number, when it is one (text that reads as a number too).
    fn number(&self) -> Option<f64> {
        match self {
            Val::Num(n) | Val::Millis(n, _) => Some(*n),
            Val::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Val::Text(t) => t.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        }
    }

    /// The value as text, for `==` and `!=` and patterns.
    fn text(&self) -> Option<String> {
        Some(match self {
            Val::Num(n) | Val::Millis(n, _) => number_text(*n),
            Val::Text(t) => t.clone(),
            Val::Bool(b) => b.to_string(),
            Val::Null => "null".into(),
            Val::Json(v) => v.to_string(),
            Val::Missing(_) | Val::Pattern(_) | Val::Any(_) => return None,
        })
    }

    /// What the message shows in parentheses: short, on one line.
    fn shown(&self) -> String {
        let text = match self {
            Val::Millis(ms, Clock::Short) => format!("{} ms", number_text(*ms)),
            Val::Millis(ms, Clock::Long) if *ms < 0.0 => "expired".into(),
            Val::Millis(ms, Clock::Long) => super::human_secs((*ms / 1000.0) as u64),
            Val::Missing(why) => why.clone(),
            Val::Text(t) if t.is_empty() => "empty".into(),
            other => other.text().unwrap_or_default(),
        };
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.chars().count() > 60 { format!("{}…", flat.chars().take(59).collect::<String>()) } else { flat }
    }
}

/// A number as people write it: `14`, not `14.0`.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

fn resolve(side: &Side, a: &Answer) -> Val {
    match side {
        Side::Literal(l) => Val::Text(l.clone()),
        Side::Pattern(p) => Val::Pattern(p.clone()),
        Side::Any(v) => Val::Any(v.clone()),
        Side::Read { func, place, path, .. } => {
            let v = read_place(*place, path, a);
            match (func, v) {
                (None, v) => v,
                (Some(Func::Has), Val::Missing(_)) => Val::Bool(false),
                (Some(Func::Has), _) => Val::Bool(true),
                (Some(Func::Len), Val::Missing(why)) => Val::Missing(why),
                (Some(Func::Len), Val::Json(Value::Array(items))) => Val::Num(items.len() as f64),
                (Some(Func::Len), Val::Json(Value::Object(map))) => Val::Num(map.len() as f64),
                (Some(Func::Len), v) => Val::Num(v.text().map_or(0, |t| t.chars().count()) as f64),
            }
        }
    }
}

fn read_place(place: Placeholder, path: &[Step], a: &Answer) -> Val {
    let unavailable = || Val::Missing("not available".into());
    match place {
        Placeholder::Status => a.status.map_or_else(unavailable, |s| Val::Num(f64::from(s))),
        Placeholder::ResponseTime => {
            a.response_time_ms.map_or_else(unavailable, |ms| Val::Millis(ms as f64, Clock::Short))
        }
        Placeholder::CertificateExpiration => match &a.certificate {
            Some(Ok(ms)) => Val::Millis(*ms as f64, Clock::Long),
            Some(Err(why)) => Val::Missing(why.clone()),
            None => Val::Missing("no certificate".into()),
        },
        Placeholder::Connected => a.connected.map_or_else(unavailable, Val::Bool),
        Placeholder::Rows => a.rows.map_or_else(unavailable, |n| Val::Num(n as f64)),
        Placeholder::Body => {
            let Some(body) = &a.body else { return unavailable() };
            if path.is_empty() {
                return Val::Text(body.clone());
            }
            match a.body_json.get_or_init(|| serde_json::from_str(body).ok()) {
                Some(doc) => walk(doc, path),
                None => Val::Missing("body is not JSON".into()),
            }
        }
        Placeholder::Value => {
            let Some(v) = &a.value else { return unavailable() };
            if path.is_empty() {
                return Val::of(v);
            }
            match v {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(doc) => walk(&doc, path),
                    Err(_) => Val::Missing("value is not JSON".into()),
                },
                other => walk(other, path),
            }
        }
        Placeholder::Row => {
            let Some(row) = &a.row else { return Val::Missing("no row".into()) };
            let Some((Step::Key(col), rest)) = path.split_first() else { return Val::Missing("no column".into()) };
            match row.get(col) {
                Some(v) if rest.is_empty() => Val::of(v),
                Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(doc) => walk(&doc, rest),
                    Err(_) => Val::Missing("column is not JSON".into()),
                },
                Some(v) => walk(v, rest),
                None => Val::Missing(format!("no column {col:?}")),
            }
        }
    }
}

fn walk(doc: &Value, path: &[Step]) -> Val {
    let mut at = doc;
    for step in path {
        let next = match step {
            Step::Key(k) => at.get(k.as_str()),
            Step::Index(i) => at.get(*i),
        };
        match next {
            Some(v) => at = v,
            None => {
                return Val::Missing(match step {
                    Step::Key(k) => format!("no {k:?}"),
                    Step::Index(i) => format!("no item {i}"),
                });
            }
        }
    }
    Val::of(at)
}

/// A literal read against the other side: a duration when that side is one.
fn as_number(v: &Val, other: &Val) -> Option<f64> {
    if let (Val::Text(t), Val::Millis(..)) = (v, other) {
        return t.trim().parse::<f64>().ok().or_else(|| duration_ms(t.trim()));
    }
    v.number()
}

fn compare(left: &Val, op: Op, right: &Val) -> bool {
    if matches!(left, Val::Missing(_)) || matches!(right, Val::Missing(_)) {
        return false;
    }
    let equal = |a: &Val, b: &Val| -> bool {
        match (a, b) {
            (Val::Pattern(p), v) | (v, Val::Pattern(p)) => v.text().is_some_and(|t| glob(p, &t)),
            (Val::Any(items), v) | (v, Val::Any(items)) => {
                items.iter().any(|i| same(v, &Val::Text(i.clone())) || same(&Val::Text(i.clone()), v))
            }
            _ => same(a, b),
        }
    };
    match op {
        Op::Eq => equal(left, right),
        Op::Ne => !equal(left, right),
        _ => {
            let (Some(l), Some(r)) = (as_number(left, right), as_number(right, left)) else { return false };
            match op {
                Op::Lt => l < r,
                Op::Le => l <= r,
                Op::Gt => l > r,
                _ => l >= r,
            }
        }
    }
}

/// `==` for two plain values: as numbers when both are, else as text.
fn same(a: &Val, b: &Val) -> bool {
    if let (Some(x), Some(y)) = (as_number(a, b), as_number(b, a)) {
        return x == y;
    }
    match (a.text(), b.text()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// `*` matches any run of characters (none too); everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A Go-style duration (`300ms`, `1h30m`, `1.5s`) or days (`7d`), in ms.
pub fn duration_ms(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..n_len].parse().ok()?;
        rest = &rest[n_len..];
        let u_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..u_len] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[u_len..];
    }
    Some(total)
}

/// Every condition of a check, judged: failed `conditions` fail it, failed
/// `warn_conditions` warn.
#[derive(Debug, Default, PartialEq)]
pub struct Judged {
    pub failed: Vec<String>,
    pub warned: Vec<String>,
    pub met: usize,
    pub readings: Vec<Reading>,
}

impl Judged {
    /// The conditions' part of the message: `failed: [BODY].status (DOWN) == UP`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.failed.iter().map(|f| format!("failed: {f}")).collect();
        parts.extend(self.warned.iter().map(|w| format!("warning: {w}")));
        if parts.is_empty() {
            format!("{} condition{} met", self.met, if self.met == 1 { "" } else { "s" })
        } else {
            parts.join("; ")
        }
    }
}

/// Judges every condition (texts that do not parse count as failed; the
/// configuration check refuses them before any run).
pub fn judge(conditions: &[String], warn_conditions: &[String], allowed: &[Placeholder], a: &Answer) -> Judged {
    let mut out = Judged::default();
    for (texts, warn) in [(conditions, false), (warn_conditions, true)] {
        for text in texts {
            let (passed, shown, readings) = match parse(text, allowed) {
                Ok(c) => {
                    let v = c.eval(a);
                    (v.passed, v.shown, v.readings)
                }
                Err(e) => (false, format!("{text} (does not parse: {})", e.why), Vec::new()),
            };
            for r in readings {
                if !out.readings.iter().any(|x| x.placeholder == r.placeholder) {
                    out.readings.push(r);
                }
            }
            match (passed, warn) {
                (true, _) => out.met += 1,
                (false, false) => out.failed.push(shown),
                (false, true) => out.warned.push(shown),
            }
        }
    }
    out
}

/// Validation of a check's `conditions` and `warn_conditions`: each
/// problem names the key, the condition and the column.
pub fn validate(errs: &mut Vec<String>, at: &str, key: &str, conditions: &[String], allowed: &[Placeholder]) {
    for (i, text) in conditions.iter().enumerate() {
        if let Err(e) = parse(text, allowed) {
            errs.push(format!("{at}.{key}[{i}] = {text:?}: {} (column {})", e.why, e.column));
        }
    }
}

/// Whether any of the conditions reads `p`.
pub fn any_reads(lists: &[&[String]], allowed: &[Placeholder], p: Placeholder) -> bool {
    lists.iter().flat_map(|l| l.iter()).filter_map(|t| parse(t, allowed).ok()).any(|c| c.reads(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str, ms: u64) -> Answer {
        Answer {
            status: Some(status),
            body: Some(body.into()),
            response_time_ms: Some(ms),
            connected: Some(true),
            certificate: Some(Ok(10 * 86_400_000)),
            ..Answer::default()
        }
    }

    /// Gatus's documented examples and more: condition, answer, passes, text shown.
    #[test]
    fn gatus_examples_pass_and_fail_with_the_value_seen() {
        let health = r#"{"status":"UP","db":{"status":"DOWN"},"data":[{"id":1,"name":"john"},{"id":2}],"count":14,"ok":true,"nothing":null,"errors":[]}"#;
        let rows: &[(&str, u16, &str, u64, bool, &str)] = &[
            ("[STATUS] == 200", 200, health, 12, true, "[STATUS] (200) == 200"),
            ("[STATUS] == 200", 500, health, 12, false, "[STATUS] (500) == 200"),
            ("[STATUS] < 300", 204, health, 12, true, "[STATUS] (204) < 300"),
            ("[STATUS] < 300", 404, health, 12, false, "[STATUS] (404) < 300"),
            ("[STATUS] == any(200, 429)", 429, health, 12, true, "[STATUS] (429) == any(200, 429)"),
            ("[STATUS] == any(200, 429)", 500, health, 12, false, "[STATUS] (500) == any(200, 429)"),
            ("[STATUS] != 500", 200, health, 12, true, "[STATUS] (200) != 500"),
            ("[RESPONSE_TIME] < 300", 200, health, 512, false, "[RESPONSE_TIME] (512 ms) < 300"),
            ("[RESPONSE_TIME] < 1s", 200, health, 512, true, "[RESPONSE_TIME] (512 ms) < 1s"),
            ("[BODY].status == UP", 200, health, 1, true, "[BODY].status (UP) == UP"),
            ("[BODY].db.status == UP", 200, health, 1, false, "[BODY].db.status (DOWN) == UP"),
            ("[BODY].data[0].name == john", 200, health, 1, true, "[BODY].data[0].name (john) == john"),
            ("[BODY].data[1].id == 2", 200, health, 1, true, "[BODY].data[1].id (2) == 2"),
            ("[BODY].data[5].id == 2", 200, health, 1, false, "[BODY].data[5].id (no item 5) == 2"),
            ("[BODY].missing == x", 200, health, 1, false, "[BODY].missing (no \"missing\") == x"),
            ("len([BODY].data) == 2", 200, health, 1, true, "len([BODY].data) (2) == 2"),
            ("len([BODY].data) > 5", 200, health, 1, false, "len([BODY].data) (2) > 5"),
            ("len([BODY].status) == 2", 200, health, 1, true, "len([BODY].status) (2) == 2"),
            ("has([BODY].errors) == true", 200, health, 1, true, "has([BODY].errors) (true) == true"),
            ("has([BODY].nope) == false", 200, health, 1, true, "has([BODY].nope) (false) == false"),
            ("[BODY].ok == true", 200, health, 1, true, "[BODY].ok (true) == true"),
            ("[BODY].nothing == null", 200, health, 1, true, "[BODY].nothing (null) == null"),
            ("[BODY].count < 10", 200, health, 1, false, "[BODY].count (14) < 10"),
            ("[BODY].count == 14.0", 200, health, 1, true, "[BODY].count (14) == 14.0"),
            ("[BODY] == pat(*\"UP\"*)", 200, health, 1, true, ""),
            ("[BODY] == pat(*STARTUP*)", 200, health, 1, false, ""),
            ("[BODY].status == pat(U*)", 200, health, 1, true, "[BODY].status (UP) == pat(U*)"),
            ("[BODY].status != pat(D*)", 200, health, 1, true, "[BODY].status (UP) != pat(D*)"),
            ("[BODY] == OK", 200, "OK", 1, true, "[BODY] (OK) == OK"),
            ("[BODY].status == UP", 200, "<html>UP</html>", 1, false, "[BODY].status (body is not JSON) == UP"),
            ("[BODY].status == \"UP\"", 200, health, 1, true, "[BODY].status (UP) == UP"),
            ("[CONNECTED] == true", 200, health, 1, true, "[CONNECTED] (true) == true"),
            ("[CERTIFICATE_EXPIRATION] > 240h", 200, health, 1, false, "[CERTIFICATE_EXPIRATION] (10 d) > 240h"),
            ("[CERTIFICATE_EXPIRATION] > 48h", 200, health, 1, true, "[CERTIFICATE_EXPIRATION] (10 d) > 48h"),
            ("[BODY].status < 3", 200, health, 1, false, "[BODY].status (UP) < 3"),
        ];
        for (cond, status, body, ms, passes, shown) in rows {
            let c = parse(cond, HTTP).unwrap_or_else(|e| panic!("{cond}: {e:?}"));
            let v = c.eval(&http(*status, body, *ms));
            assert_eq!(v.passed, *passes, "{cond} against {status} {body}: {}", v.shown);
            if !shown.is_empty() {
                assert_eq!(v.shown, *shown, "{cond}");
            }
        }
    }

    #[test]
    fn a_status_of_up_inside_another_word_is_not_up() {
        let a = http(200, r#"{"status":"STARTUP_FAILED"}"#, 1);
        assert!(!parse("[BODY].status == UP", HTTP).unwrap().eval(&a).passed);
        let down = http(200, r#"{"status":"DOWN","db":"unreachable"}"#, 1);
        assert_eq!(parse("[BODY].status == UP", HTTP).unwrap().eval(&down).shown, "[BODY].status (DOWN) == UP");
    }

    #[test]
    fn malformed_conditions_say_where_they_broke() {
        let rows: &[(&str, usize, &str)] = &[
            ("[STATUS] = 200", 10, "write `==`"),
            ("[STATUS] =~ 200", 10, "`=~` is not an operator Gatus has"),
            ("[STATUS] <> 200", 10, "`<>` is not an operator Gatus has"),
            ("[STATUS] 200", 13, "no comparison"),
            ("[STAUS] == 200", 1, "unknown placeholder [STAUS]"),
            ("[IP] == 127.0.0.1", 1, "Gatus placeholder ops-atomic does not read"),
            ("[VALUE] == 1", 1, "[VALUE] is not read by this kind of check"),
            ("[STATUS].code == 200", 9, "[STATUS] takes no path"),
            ("[BODY].a[x] == 1", 9, "[x] is not an array index"),
            ("[BODY]. == 1", 7, "needs a key"),
            ("length([BODY]) == 1", 1, "unknown function length()"),
            ("len([BODY] == 1", 4, "`(` at column 4 is not closed"),
            ("[STATUS] == ", 12, "nothing to compare after"),
            (" == 200", 1, "nothing to compare before"),
            ("200 == 200", 1, "compares two constants"),
            ("[STATUS] < any(1, 2)", 12, "only with == and !="),
            ("[BODY == 1", 1, "not closed"),
        ];
        for (cond, column, why) in rows {
            let e = parse(cond, HTTP).expect_err(cond);
            assert!(e.why.contains(why), "{cond}: {}", e.why);
            assert_eq!(e.column, *column, "{cond}: {}", e.why);
        }
        let mut errs = Vec::new();
        validate(&mut errs, "api[0]", "conditions", &["[STATUS] == 200".into(), "[STATUS] =~ 2".into()], HTTP);
        assert_eq!(
            errs,
            [
                "api[0].conditions[1] = \"[STATUS] =~ 2\": `=~` is not an operator Gatus has: use == != < <= > >= (column 10)"
            ]
        );
    }

    #[test]
    fn sql_and_redis_values_read_value_row_and_rows() {
        let mut row = serde_json::Map::new();
        row.insert("in_recovery".into(), Value::Bool(false));
        row.insert("failed".into(), Value::from(14));
        row.insert("doc".into(), Value::String(r#"{"n":3}"#.into()));
        let a = Answer {
            value: Some(Value::Bool(false)),
            row: Some(row),
            rows: Some(1),
            response_time_ms: Some(3),
            ..Answer::default()
        };
        let cases = [
            ("[VALUE] == false", true),
            ("[ROW].failed < 10", false),
            ("[ROW].failed >= 14", true),
            ("[ROW].doc.n == 3", true),
            ("[ROWS] == 1", true),
            ("[ROW].nope == 1", false),
        ];
        for (cond, passes) in cases {
            assert_eq!(parse(cond, SQL).unwrap().eval(&a).passed, passes, "{cond}");
        }
        assert!(parse("[ROW] == 1", SQL).unwrap_err().why.contains("[ROW] needs a column"));
        let redis = Answer { value: Some(Value::String("1200".into())), ..Answer::default() };
        let v = parse("[VALUE] < 1000", REDIS).unwrap().eval(&redis);
        assert_eq!((v.passed, v.shown.as_str()), (false, "[VALUE] (1200) < 1000"));
        assert_eq!(v.readings, [Reading { placeholder: "[VALUE]".into(), value: 1200.0 }]);
        assert!(parse("[STATUS] == 200", REDIS).is_err());
    }

    #[test]
    fn judged_conditions_fail_warn_and_collect_readings() {
        let a = http(200, r#"{"status":"UP","queue":1500}"#, 40);
        let j = judge(
            &["[STATUS] == 200".into(), "[BODY].queue < 1000".into()],
            &["[RESPONSE_TIME] < 20".into(), "[BODY].queue < 2000".into()],
            HTTP,
            &a,
        );
        assert_eq!(j.failed, ["[BODY].queue (1500) < 1000"]);
        assert_eq!(j.warned, ["[RESPONSE_TIME] (40 ms) < 20"]);
        assert_eq!(j.met, 2);
        assert_eq!(j.summary(), "failed: [BODY].queue (1500) < 1000; warning: [RESPONSE_TIME] (40 ms) < 20");
        let names: Vec<_> = j.readings.iter().map(|r| (r.placeholder.as_str(), r.value)).collect();
        assert_eq!(names, [("[STATUS]", 200.0), ("[BODY].queue", 1500.0), ("[RESPONSE_TIME]", 40.0)]);
        let ok = judge(&["[STATUS] == 200".into()], &[], HTTP, &a);
        assert_eq!(ok.summary(), "1 condition met");
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(duration_ms("300ms"), Some(300.0));
        assert_eq!(duration_ms("1h30m"), Some(5_400_000.0));
        assert_eq!(duration_ms("1.5s"), Some(1500.0));
        assert_eq!(duration_ms("7d"), Some(604_800_000.0));
        assert_eq!(duration_ms("10 parsecs"), None);
        assert_eq!(duration_ms(""), None);
    }

    #[test]
    fn a_long_value_is_cut_in_the_message() {
        let body = format!("{{\"status\":\"{}\"}}", "x".repeat(500));
        let v = parse("[BODY].status == UP", HTTP).unwrap().eval(&http(200, &body, 1));
        assert!(v.shown.chars().count() < 90, "{}", v.shown);
        assert!(v.shown.contains('…'));
    }

    #[test]
    fn patterns_match_as_wildcards() {
        assert!(glob("*UP*", "STARTUP"));
        assert!(glob("UP", "UP"));
        assert!(!glob("UP", "UP2"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abde"));
        assert!(glob("*", ""));
        assert!(!glob("ab*ba", "aba"));
    }
}
