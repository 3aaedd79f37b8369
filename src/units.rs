//! Parsing and formatting of the units users write in a spec: Prometheus-style
//! durations, Kubernetes quantities and Prometheus byte sizes.
//!
//! Pure functions; every parser returns a message fit to follow a field path.

use std::time::Duration;

/// Parses a Prometheus-style duration (`15d`, `1h30m`, `500ms`; `y` = 365d, `w` = 7d).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration such as 30s, 15m, 168h, 15d or 1w");
    if s.is_empty() {
        return Err(bad());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(bad());
        }
        let n: u64 = s[start..i].parse().map_err(|_| bad())?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let ms_per_unit: u64 = match &s[unit_start..i] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        total_ms = n
            .checked_mul(ms_per_unit)
            .and_then(|v| total_ms.checked_add(v))
            .ok_or_else(|| format!("{s:?} is too long a duration"))?;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Formats a duration the way Go's `time.ParseDuration` and Prometheus both read it,
/// in the largest of h, m, s or ms that divides it exactly (`168h`, `90m`).
pub fn format_go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    for (unit, per) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000)] {
        if ms.is_multiple_of(per) {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// Parses a Kubernetes quantity as used for volume sizes and memory (`50Gi`, `512Mi`,
/// `1G`, `1.5Gi`) into bytes, rounded down.
pub fn parse_quantity_bytes(s: &str) -> Result<u128, String> {
    let bad = || format!("{s:?} is not a quantity such as 512Mi, 20Gi or 1G");
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return Err(bad()),
    };
    scale_decimal(number, multiplier).ok_or_else(bad)
}

/// Parses a Kubernetes CPU quantity (`250m`, `1`, `1.5`) into millicores, rounded up.
pub fn parse_cpu_millis(s: &str) -> Result<u128, String> {
    let bad = || format!("{s:?} is not a CPU quantity such as 250m or 2");
    if let Some(m) = s.strip_suffix('m') {
        return m.parse::<u128>().map_err(|_| bad());
    }
    scale_decimal(s, 1_000).ok_or_else(bad)
}

/// Parses a byte size as Prometheus's `--storage.tsdb.retention.size` reads it
/// (base 2: `KB` and `KiB` are both 1024 bytes) into bytes.
pub fn parse_byte_size(s: &str) -> Result<u128, String> {
    let bad = || format!("{s:?} is not a byte size such as 512MB or 45GiB");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let power = match suffix {
        "B" => 0,
        "KB" | "KiB" => 1,
        "MB" | "MiB" => 2,
        "GB" | "GiB" => 3,
        "TB" | "TiB" => 4,
        "PB" | "PiB" => 5,
        "EB" | "EiB" => 6,
        _ => return Err(bad()),
    };
    let n: u128 = number.parse().map_err(|_| bad())?;
    n.checked_mul(1u128 << (10 * power)).ok_or_else(bad)
}

/// Formats bytes as a Prometheus byte size in whole mebibytes (`46080MB`), rounded down.
pub fn format_byte_size_mb(bytes: u128) -> String {
    format!("{}MB", bytes >> 20)
}

/// `number` (digits with at most one '.') times `multiplier`, rounded down.
fn scale_decimal(number: &str, multiplier: u128) -> Option<u128> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let whole = int.parse::<u128>().ok()?.checked_mul(multiplier)?;
    if frac.is_empty() {
        return Some(whole);
    }
    let denom = 10u128.pow(frac.len() as u32);
    let part = frac.parse::<u128>().ok()?.checked_mul(multiplier)? / denom;
    whole.checked_add(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("15d").unwrap(),
            Duration::from_secs(15 * 86_400)
        );
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5_400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86_400)
        );
        for bad in ["", "15", "d", "15x", "1.5h", "-1h", "99999999999999999999y"] {
            assert!(parse_duration(bad).is_err(), "{bad} should not parse");
        }
        assert_eq!(format_go_duration(Duration::from_secs(7 * 86_400)), "168h");
        assert_eq!(format_go_duration(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(format_go_duration(Duration::from_millis(1_500)), "1500ms");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity_bytes("50Gi").unwrap(), 50 << 30);
        assert_eq!(parse_quantity_bytes("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_quantity_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_quantity_bytes("100").unwrap(), 100);
        for bad in ["", "Gi", "1.2.3Gi", "10Gb", "-1Gi", "1e3"] {
            assert!(parse_quantity_bytes(bad).is_err(), "{bad} should not parse");
        }
        assert_eq!(parse_cpu_millis("250m").unwrap(), 250);
        assert_eq!(parse_cpu_millis("1.5").unwrap(), 1_500);
        assert!(parse_cpu_millis("lots").is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("45GiB").unwrap(), 45 << 30);
        assert_eq!(parse_byte_size("45GB").unwrap(), 45 << 30);
        assert_eq!(parse_byte_size("512B").unwrap(), 512);
        assert!(parse_byte_size("45G").is_err());
        assert_eq!(format_byte_size_mb(45 << 30), "46080MB");
    }
}
