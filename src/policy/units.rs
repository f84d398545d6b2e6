//! Sizes (`"256M"`) and durations (`"10m"`) as they are written in policy files.
//!
//! Both parsers are strict: a unit is required for durations, an unknown unit or an
//! overflow is an error whose text says what forms are accepted.

use std::fmt;
use std::time::Duration;

/// A number of bytes, parsed from `"512"`, `"64K"`, `"256M"`, `"1G"` or `"2T"`.
///
/// Units are binary (K = 1024). A trailing `B` or `iB` is accepted (`"256MiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parse a size such as `"256M"`.
    ///
    /// # Errors
    /// A message naming the accepted forms when the text is not a size.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(digits_end);
        if num.is_empty() {
            return Err(format!(
                "invalid size {text:?}: expected a number with an optional unit K, M, G or T (e.g. \"256M\")"
            ));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid size {text:?}: number too large"))?;
        let unit = unit.trim();
        let unit = unit
            .strip_suffix("iB")
            .or_else(|| unit.strip_suffix('B'))
            .unwrap_or(unit);
        let mult: u64 = match unit {
            "" => 1,
            "K" | "k" => 1 << 10,
            "M" | "m" => 1 << 20,
            "G" | "g" => 1 << 30,
            "T" | "t" => 1 << 40,
            other => {
                return Err(format!(
                    "invalid size {text:?}: unknown unit {other:?}, expected K, M, G or T"
                ));
            }
        };
        n.checked_mul(mult)
            .map(ByteSize)
            .ok_or_else(|| format!("invalid size {text:?}: too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (1 << 40, "T"),
            (1 << 30, "G"),
            (1 << 20, "M"),
            (1 << 10, "K"),
        ];
        for (size, unit) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

/// Parse a duration such as `"90s"`, `"10m"`, `"2h"`, `"1d"` or `"1h30m"`.
///
/// # Errors
/// A message naming the accepted forms when the text is not a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a number followed by ms, s, m, h or d (e.g. \"30s\", \"10m\", \"1h30m\")"
        )
    };
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits_end].parse().map_err(|_| bad())?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    Ok(total)
}

/// Format a duration the way policy files write it (`"10m"`, `"1h30m"`, `"1500ms"`).
#[must_use]
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut s = d.as_secs();
    let mut out = String::new();
    for (size, unit) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(ByteSize::parse("512"), Ok(ByteSize(512)));
        assert_eq!(ByteSize::parse("64K"), Ok(ByteSize(64 << 10)));
        assert_eq!(ByteSize::parse("256M"), Ok(ByteSize(256 << 20)));
        assert_eq!(ByteSize::parse("256MiB"), Ok(ByteSize(256 << 20)));
        assert_eq!(ByteSize::parse("1G"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize(256 << 20).to_string(), "256M");
        assert_eq!(ByteSize(1000).to_string(), "1000");
    }

    #[test]
    fn bad_sizes_say_what_is_accepted() {
        assert_eq!(
            ByteSize::parse("12X"),
            Err("invalid size \"12X\": unknown unit \"X\", expected K, M, G or T".into())
        );
        assert!(
            ByteSize::parse("M")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(
            ByteSize::parse("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations_parse_and_round_trip() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert!(
            parse_duration("10")
                .unwrap_err()
                .contains("expected a number followed by")
        );
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("").is_err());
    }
}
