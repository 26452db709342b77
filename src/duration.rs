//! Durations as people type them on the command line: `90s`, `15m`, `2h`, `7d`.

use chrono::Duration;

/// Parses a number and a unit (s, m, h, d). The error says what is expected.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a duration: write a number and a unit, such as 90s, 15m, 2h or 7d");
    let unit_at = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(unit_at);
    let n: i64 = n.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(format!("{s:?}: the duration must be more than zero"));
    }
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if secs > 3650 * 86_400 {
        return Err(format!("{s:?} is more than ten years"));
    }
    Ok(Duration::seconds(secs))
}

/// "1 h 5 min", "3 min", "45 s": how long an incident lasted, for people.
pub fn human(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse("15m"), Ok(Duration::minutes(15)));
        assert_eq!(parse("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse("7d"), Ok(Duration::days(7)));
        for bad in ["", "7", "d", "1w", "-5m", "0m", "1.5h", "99999999999999d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
