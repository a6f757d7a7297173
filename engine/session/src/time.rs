//! UTCTimestamp (`YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]`) to and from nanoseconds since the Unix epoch,
//! without allocation or clock reads.

const NS_PER_SEC: u64 = 1_000_000_000;

/// Days since 1970-01-01 to (year, month, day) (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Writes `ns` as a UTCTimestamp with `precision` fractional digits (0, 3, 6 or 9; other values
/// are rounded down to one of those) into `out` (at least 30 bytes) and returns the length.
pub fn format_timestamp(ns: u64, precision: u8, out: &mut [u8]) -> usize {
    let secs = ns / NS_PER_SEC;
    let frac = ns % NS_PER_SEC;
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let mut p = 0;
    let put2 = |out: &mut [u8], p: &mut usize, v: u64| {
        out[*p] = b'0' + (v / 10 % 10) as u8;
        out[*p + 1] = b'0' + (v % 10) as u8;
        *p += 2;
    };
    let y = y.clamp(0, 9999) as u64;
    put2(out, &mut p, y / 100);
    put2(out, &mut p, y % 100);
    put2(out, &mut p, u64::from(mo));
    put2(out, &mut p, u64::from(d));
    out[p] = b'-';
    p += 1;
    put2(out, &mut p, h);
    out[p] = b':';
    p += 1;
    put2(out, &mut p, mi);
    out[p] = b':';
    p += 1;
    put2(out, &mut p, s);
    let digits = match precision {
        0..=2 => 0,
        3..=5 => 3,
        6..=8 => 6,
        _ => 9,
    };
    if digits > 0 {
        out[p] = b'.';
        p += 1;
        let mut div = NS_PER_SEC / 10;
        for _ in 0..digits {
            out[p] = b'0' + (frac / div % 10) as u8;
            p += 1;
            div /= 10;
        }
    }
    p
}

/// Parses a UTCTimestamp (`YYYYMMDD-HH:MM:SS` with an optional fraction of 1 to 9 digits; a leap
/// second 60 is accepted) into nanoseconds since the Unix epoch. `None` when malformed or before
/// 1970.
pub fn parse_timestamp(v: &[u8]) -> Option<u64> {
    if v.len() < 17 || v[8] != b'-' || v[11] != b':' || v[14] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let mut acc = 0u64;
        for &b in &v[r] {
            if !b.is_ascii_digit() {
                return None;
            }
            acc = acc * 10 + u64::from(b - b'0');
        }
        Some(acc)
    };
    let y = num(0..4)?;
    let mo = num(4..6)?;
    let d = num(6..8)?;
    let h = num(9..11)?;
    let mi = num(12..14)?;
    let s = num(15..17)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut frac = 0u64;
    if v.len() > 17 {
        if v[17] != b'.' || v.len() == 18 || v.len() > 27 {
            return None;
        }
        let digits = v.len() - 18;
        frac = num(18..v.len())?;
        for _ in digits..9 {
            frac *= 10;
        }
    }
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    if days < 0 {
        return None;
    }
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + s;
    Some(secs * NS_PER_SEC + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_precision() {
        let ns = 1_732_417_425_123_456_789u64; // 2024-11-24T03:03:45.123456789Z
        let mut b = [0u8; 32];
        let n = format_timestamp(ns, 9, &mut b);
        assert_eq!(&b[..n], b"20241124-03:03:45.123456789");
        assert_eq!(parse_timestamp(&b[..n]), Some(ns));
        let n = format_timestamp(ns, 3, &mut b);
        assert_eq!(&b[..n], b"20241124-03:03:45.123");
        assert_eq!(parse_timestamp(&b[..n]), Some(ns - 456_789));
        let n = format_timestamp(ns, 0, &mut b);
        assert_eq!(&b[..n], b"20241124-03:03:45");
        let n = format_timestamp(0, 6, &mut b);
        assert_eq!(&b[..n], b"19700101-00:00:00.000000");
        // Leap day.
        let leap = parse_timestamp(b"20240229-12:00:00").unwrap();
        let n = format_timestamp(leap, 0, &mut b);
        assert_eq!(&b[..n], b"20240229-12:00:00");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"20241124-03:03",
            b"20241124 03:03:45",
            b"20241324-03:03:45",
            b"20241124-24:03:45",
            b"20241124-03:03:45.",
            b"20241124-03:03:45.1234567890",
            b"2024112a-03:03:45",
            b"19691231-23:59:59",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
