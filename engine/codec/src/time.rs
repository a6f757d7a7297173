//! FIX UTCTimestamp: `YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]`, nanoseconds since the epoch.

use crate::field::{FieldError, FieldErrorKind};

/// Precision of a rendered UTCTimestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePrecision {
    /// `YYYYMMDD-HH:MM:SS` (17 bytes).
    Seconds,
    /// `YYYYMMDD-HH:MM:SS.sss` (21 bytes).
    Millis,
    /// `YYYYMMDD-HH:MM:SS.ssssss` (24 bytes).
    Micros,
    /// `YYYYMMDD-HH:MM:SS.sssssssss` (27 bytes).
    Nanos,
}

impl TimePrecision {
    /// Rendered length in bytes.
    pub const fn width(self) -> usize {
        match self {
            TimePrecision::Seconds => 17,
            TimePrecision::Millis => 21,
            TimePrecision::Micros => 24,
            TimePrecision::Nanos => 27,
        }
    }

    /// Number of fraction digits.
    pub const fn digits(self) -> usize {
        match self {
            TimePrecision::Seconds => 0,
            TimePrecision::Millis => 3,
            TimePrecision::Micros => 6,
            TimePrecision::Nanos => 9,
        }
    }
}

/// A UTC instant with nanosecond resolution, as nanoseconds since 1970-01-01T00:00:00Z.
/// Representable range: 1970 to 2554.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTimestamp {
    nanos: u64,
}

const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;
/// Latest accepted year (u64 nanoseconds reach 2554-07-21).
const MAX_YEAR: u32 = 2553;

fn days_from_civil(y: u32, m: u32, d: u32) -> u64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u64
}

fn civil_from_days(z: u64) -> (u32, u32, u32) {
    let z = z as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    ((y + i64::from(m <= 2)) as u32, m as u32, d as u32)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        _ => 28,
    }
}

fn num(v: &[u8]) -> Option<u32> {
    let mut x = 0u32;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        x = x * 10 + u32::from(d);
    }
    Some(x)
}

fn put2(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

impl UtcTimestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> UtcTimestamp {
        UtcTimestamp { nanos }
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> u64 {
        self.nanos
    }

    /// Parses `YYYYMMDD-HH:MM:SS` with an optional `.sss`, `.ssssss` or `.sssssssss` fraction.
    /// Seconds may be 60 (a leap second, counted as the next minute's first second).
    pub fn parse(v: &[u8]) -> Result<UtcTimestamp, FieldError> {
        let bad = || FieldError::new(0, FieldErrorKind::BadTimestamp, v);
        if v.is_empty() {
            return Err(FieldError::new(0, FieldErrorKind::Empty, v));
        }
        if v.len() < 17 || v[8] != b'-' || v[11] != b':' || v[14] != b':' {
            return Err(bad());
        }
        let year = num(&v[0..4]).ok_or_else(bad)?;
        let month = num(&v[4..6]).ok_or_else(bad)?;
        let day = num(&v[6..8]).ok_or_else(bad)?;
        let hour = num(&v[9..11]).ok_or_else(bad)?;
        let min = num(&v[12..14]).ok_or_else(bad)?;
        let sec = num(&v[15..17]).ok_or_else(bad)?;
        if !(1970..=MAX_YEAR).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return Err(bad());
        }
        let frac_ns = match v.len() {
            17 => 0,
            21 | 24 | 27 if v[17] == b'.' => {
                let digits = &v[18..];
                let f = u64::from(num(digits).ok_or_else(bad)?);
                f * 10u64.pow(9 - digits.len() as u32)
            }
            _ => return Err(bad()),
        };
        let secs = days_from_civil(year, month, day) * SECS_PER_DAY
            + u64::from(hour) * 3600
            + u64::from(min) * 60
            + u64::from(sec);
        Ok(UtcTimestamp {
            nanos: secs * NANOS_PER_SEC + frac_ns,
        })
    }

    /// Renders into `out` at `precision` (truncating, not rounding, the fraction) and returns
    /// the bytes written, or 0 (writing nothing) if `out` is shorter than `precision.width()`.
    pub fn write(self, precision: TimePrecision, out: &mut [u8]) -> usize {
        let len = precision.width();
        if out.len() < len {
            return 0;
        }
        let secs = self.nanos / NANOS_PER_SEC;
        let frac = self.nanos % NANOS_PER_SEC;
        let (y, m, d) = civil_from_days(secs / SECS_PER_DAY);
        let sod = (secs % SECS_PER_DAY) as u32;
        put2(&mut out[0..2], y / 100);
        put2(&mut out[2..4], y % 100);
        put2(&mut out[4..6], m);
        put2(&mut out[6..8], d);
        out[8] = b'-';
        put2(&mut out[9..11], sod / 3600);
        out[11] = b':';
        put2(&mut out[12..14], sod / 60 % 60);
        out[14] = b':';
        put2(&mut out[15..17], sod % 60);
        let digits = precision.digits();
        if digits > 0 {
            out[17] = b'.';
            let mut f = frac / 10u64.pow(9 - digits as u32);
            for i in (18..18 + digits).rev() {
                out[i] = b'0' + (f % 10) as u8;
                f /= 10;
            }
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: UtcTimestamp, p: TimePrecision) -> String {
        let mut b = [0u8; 32];
        let n = t.write(p, &mut b);
        String::from_utf8(b[..n].to_vec()).unwrap()
    }

    #[test]
    fn known_instants() {
        // 2009-02-13T23:31:30Z is Unix time 1234567890.
        let t = UtcTimestamp::parse(b"20090213-23:31:30").unwrap();
        assert_eq!(t.unix_nanos(), 1_234_567_890 * NANOS_PER_SEC);
        let t = UtcTimestamp::parse(b"20090213-23:31:30.123456789").unwrap();
        assert_eq!(t.unix_nanos(), 1_234_567_890_123_456_789);
        assert_eq!(
            UtcTimestamp::parse(b"19700101-00:00:00.001")
                .unwrap()
                .unix_nanos(),
            1_000_000
        );
        assert_eq!(
            UtcTimestamp::parse(b"20000301-00:00:00")
                .unwrap()
                .unix_nanos()
                / NANOS_PER_SEC,
            951_868_800
        );
        assert_eq!(render(t, TimePrecision::Seconds), "20090213-23:31:30");
        assert_eq!(render(t, TimePrecision::Millis), "20090213-23:31:30.123");
        assert_eq!(render(t, TimePrecision::Micros), "20090213-23:31:30.123456");
        assert_eq!(
            render(t, TimePrecision::Nanos),
            "20090213-23:31:30.123456789"
        );
        assert_eq!(t.write(TimePrecision::Nanos, &mut [0u8; 26]), 0);
        // Leap day and leap second.
        assert!(UtcTimestamp::parse(b"20240229-12:00:00").is_ok());
        assert!(UtcTimestamp::parse(b"20230229-12:00:00").is_err());
        assert_eq!(
            UtcTimestamp::parse(b"20161231-23:59:60").unwrap(),
            UtcTimestamp::parse(b"20170101-00:00:00").unwrap()
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"2009021-23:31:30",
            b"20090213 23:31:30",
            b"20091313-23:31:30",
            b"20090200-23:31:30",
            b"20090213-24:31:30",
            b"20090213-23:60:30",
            b"20090213-23:31:61",
            b"20090213-23:31:30.",
            b"20090213-23:31:30.12",
            b"20090213-23:31:30.1234",
            b"20090213-23:31:30.12a",
            b"19691231-23:59:59",
            b"20090213-23:31:30.1234567890",
        ] {
            assert!(
                UtcTimestamp::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let e = UtcTimestamp::parse(b"2009").unwrap_err().with_tag(52);
        assert!(
            e.to_string().starts_with("tag 52: not a UTCTimestamp"),
            "{e}"
        );
    }

    #[test]
    fn round_trips_across_the_range() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = UtcTimestamp::from_unix_nanos(
                x % (days_from_civil(MAX_YEAR + 1, 1, 1) * SECS_PER_DAY * NANOS_PER_SEC),
            );
            let s = render(t, TimePrecision::Nanos);
            assert_eq!(UtcTimestamp::parse(s.as_bytes()).unwrap(), t, "{s}");
            let ms = render(t, TimePrecision::Millis);
            assert_eq!(
                UtcTimestamp::parse(ms.as_bytes()).unwrap().unix_nanos(),
                t.unix_nanos() / 1_000_000 * 1_000_000
            );
        }
    }
}
