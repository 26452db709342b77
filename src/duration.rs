//! DUR on the command line (SPEC §1): a whole number and a unit, `90s`,
//! `15m`, `2h`, `7d`. One parser for every command that takes one
//! (`summary --since`, `events --since`, `silence --for`, `page --since`).

use chrono::Duration;

/// The longest DUR taken: ten years is more than any history holds, and
/// keeps every sum with a timestamp far from overflowing.
const MAX_SECONDS: i64 = 10 * 366 * 86_400;

/// Parses `90s`, `15m`, `2h`, `7d` (whitespace around it ignored). The error
/// names the text and shows the form, for a usage message (exit 3).
pub fn parse(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    let bad = |why: &str| Err(format!("bad duration {s:?}: {why}; give a number and a unit: 90s, 15m, 2h or 7d"));
    let Some(unit) = text.chars().last() else {
        return bad("it is empty");
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        u if u.is_ascii_digit() => return bad("the unit is missing"),
        _ => return bad(&format!("unknown unit {unit:?}")),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return bad("the number must be a whole number without a sign");
    }
    let n: i64 = match number.parse() {
        Ok(n) => n,
        Err(_) => return bad("the number is too large"),
    };
    if n == 0 {
        return bad("it must be longer than zero");
    }
    match n.checked_mul(per_unit) {
        Some(secs) if secs <= MAX_SECONDS => Ok(Duration::seconds(secs)),
        _ => bad("it must be at most ten years"),
    }
}

/// A duration in words, in its largest exact unit: 24 h → "24 h", 7 d →
/// "7 d", 90 min → "90 min", 90 s → "90 s". For window names ("the last 24 h").
pub fn words(d: Duration) -> String {
    match d.num_seconds() {
        s if s != 0 && s % 86_400 == 0 && s > 2 * 86_400 => format!("{} d", s / 86_400),
        s if s != 0 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s != 0 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_units() {
        assert_eq!(parse("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse("15m"), Ok(Duration::minutes(15)));
        assert_eq!(parse("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse(" 7d "), Ok(Duration::days(7)));
    }

    #[test]
    fn bad_text_is_named_with_the_form() {
        for (text, why) in [
            ("", "empty"),
            ("15", "unit is missing"),
            ("h", "whole number"),
            ("-5m", "whole number"),
            ("1.5h", "whole number"),
            ("5 m", "whole number"),
            ("3w", "unknown unit 'w'"),
            ("0s", "longer than zero"),
            ("99999999999999999999d", "too large"),
            ("4000d", "ten years"),
            ("2é", "unknown unit"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why) && e.contains("90s, 15m, 2h or 7d"), "{text:?}: {e}");
        }
    }

    #[test]
    fn words_use_the_largest_exact_unit() {
        assert_eq!(words(Duration::hours(24)), "24 h");
        assert_eq!(words(Duration::hours(48)), "48 h");
        assert_eq!(words(Duration::days(7)), "7 d");
        assert_eq!(words(Duration::minutes(90)), "90 min");
        assert_eq!(words(Duration::seconds(90)), "90 s");
        assert_eq!(words(Duration::hours(1)), "1 h");
    }
}
