//! UTC calendar arithmetic (no time zones, no date library): RFC 3339 and
//! nginx timestamps, durations such as `12h`.

use std::time::Duration;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month 1-12, day 1-31) -> days since 1970-01-01 (`days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn split(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (y, mo, d, s / 3_600, s / 60 % 60, s % 60)
}

/// `2026-11-29T10:00:05Z` for Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = split(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `29/Nov/2026:10:00:05 +0000` (nginx `$time_local` in UTC) for Unix seconds.
pub fn nginx(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = split(secs);
    let month = MONTHS.get(mo as usize - 1).copied().unwrap_or("Jan");
    format!("{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000")
}

/// Parse an RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)`,
/// a space instead of `T` accepted) into Unix milliseconds. Other offsets are
/// refused: every timestamp in these benchmarks is UTC.
pub fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00")).unwrap_or(t);
    let (date, clock) = t.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut c = hms.split(':');
    let h: i64 = c.next()?.parse().ok()?;
    let mi: i64 = c.next()?.parse().ok()?;
    let s: i64 = c.next()?.parse().ok()?;
    if c.next().is_some() || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3_600 + mi * 60 + s) * 1_000) + millis)
}

/// Parse `500ms`, `30s`, `90m`, `12h`, `2d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{text:?}: expected a number and a unit such as 30s, 90m, 12h"))?;
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs).ok_or_else(|| format!("{text:?}: too large"));
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3_600),
        "d" => secs(86_400),
        _ => Err(format!("{text:?}: unknown unit {unit:?}; use ms, s, m, h or d")),
    }
}

/// A duration as `12h`, `90m`, `30s` or `250ms`, the largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".into(),
        _ if ms.is_multiple_of(86_400_000) => format!("{}d", ms / 86_400_000),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in [-719_468, -1, 0, 1, 59, 365, 10_957, 20_000, 20_786, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn formats_and_parses_timestamps() {
        // 2026-11-29T10:00:05Z
        let secs = days_from_civil(2026, 11, 29) * 86_400 + 36_005;
        assert_eq!(rfc3339(secs), "2026-11-29T10:00:05Z");
        assert_eq!(nginx(secs), "29/Nov/2026:10:00:05 +0000");
        assert_eq!(parse_rfc3339_millis("2026-11-29T10:00:05Z"), Some(secs * 1_000));
        assert_eq!(parse_rfc3339_millis("2026-11-29T10:00:05.25Z"), Some(secs * 1_000 + 250));
        assert_eq!(parse_rfc3339_millis("2026-11-29 10:00:05.123456789+00:00"), Some(secs * 1_000 + 123));
        assert_eq!(parse_rfc3339_millis("2026-11-29T10:00:05"), Some(secs * 1_000));
        assert_eq!(parse_rfc3339_millis("1969-12-31T23:59:59Z"), Some(-1_000));
        for bad in ["", "2026-13-01T00:00:00Z", "2026-11-29", "2026-11-29T10:00Z", "2026-11-29T10:00:05.x1Z"] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
        assert_eq!(format_duration(Duration::from_secs(43_200)), "12h");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1500ms");
    }
}
