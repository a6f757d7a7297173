//! Field value parsers. Every error says which tag (when known) and which value was wrong.

use core::fmt;

/// What was wrong with a field value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// The value is empty.
    Empty,
    /// An integer field holds a byte other than a decimal digit (or a leading `-` for signed).
    NotANumber,
    /// The integer does not fit the requested type.
    Overflow,
    /// A char field does not hold exactly one byte.
    NotAChar,
    /// A boolean field is not `Y` or `N`.
    NotABool,
    /// A UTCTimestamp is not `YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]` or is out of range.
    BadTimestamp,
    /// A repeating group has fewer or more entries than its count says (`found` entries).
    GroupCountMismatch {
        /// Entries declared by the count field.
        declared: u32,
        /// Entries actually found.
        found: u32,
    },
    /// A repeating group's first entry does not start with the delimiter tag right after the
    /// count field.
    GroupDelimiterMissing {
        /// The expected delimiter (first) tag.
        first_tag: u32,
    },
}

/// A field-level error: the tag (0 when parsed without one), what was wrong, and up to
/// [`FieldError::SNIPPET`] bytes of the offending value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldError {
    /// The field's tag (0 if unknown, e.g. from a bare [`parse_u32`]).
    pub tag: u32,
    /// What was wrong.
    pub kind: FieldErrorKind,
    value: [u8; FieldError::SNIPPET],
    value_len: u8,
    truncated: bool,
}

impl FieldError {
    /// How many bytes of the value an error keeps.
    pub const SNIPPET: usize = 32;

    /// An error about `value` (copied, up to [`FieldError::SNIPPET`] bytes).
    pub fn new(tag: u32, kind: FieldErrorKind, value: &[u8]) -> FieldError {
        let n = value.len().min(Self::SNIPPET);
        let mut v = [0u8; Self::SNIPPET];
        v[..n].copy_from_slice(&value[..n]);
        FieldError {
            tag,
            kind,
            value: v,
            value_len: n as u8,
            truncated: value.len() > n,
        }
    }

    /// The same error attributed to `tag`.
    pub fn with_tag(mut self, tag: u32) -> FieldError {
        self.tag = tag;
        self
    }

    /// The (possibly truncated) offending value.
    pub fn value(&self) -> &[u8] {
        &self.value[..self.value_len as usize]
    }
}

impl fmt::Debug for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldError({self})")
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag != 0 {
            write!(f, "tag {}: ", self.tag)?;
        }
        match self.kind {
            FieldErrorKind::Empty => f.write_str("empty value")?,
            FieldErrorKind::NotANumber => f.write_str("not a decimal integer")?,
            FieldErrorKind::Overflow => f.write_str("integer out of range")?,
            FieldErrorKind::NotAChar => f.write_str("not a single character")?,
            FieldErrorKind::NotABool => f.write_str("not Y or N")?,
            FieldErrorKind::BadTimestamp => {
                f.write_str("not a UTCTimestamp YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]")?
            }
            FieldErrorKind::GroupCountMismatch { declared, found } => {
                return write!(
                    f,
                    "repeating group declares {declared} entries, found {found}"
                )
            }
            FieldErrorKind::GroupDelimiterMissing { first_tag } => {
                return write!(
                    f,
                    "repeating group does not start with its delimiter tag {first_tag}"
                )
            }
        }
        f.write_str(": \"")?;
        for &b in self.value() {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if self.truncated {
            f.write_str("...")?;
        }
        f.write_str("\"")
    }
}

impl std::error::Error for FieldError {}

fn err(kind: FieldErrorKind, v: &[u8]) -> FieldError {
    FieldError::new(0, kind, v)
}

/// Parses an unsigned decimal integer (digits only, no sign).
pub fn parse_u64(v: &[u8]) -> Result<u64, FieldError> {
    if v.is_empty() {
        return Err(err(FieldErrorKind::Empty, v));
    }
    let mut x: u64 = 0;
    for &b in v {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(err(FieldErrorKind::NotANumber, v));
        }
        x = match x.checked_mul(10).and_then(|x| x.checked_add(u64::from(d))) {
            Some(x) => x,
            None => return Err(err(FieldErrorKind::Overflow, v)),
        };
    }
    Ok(x)
}

/// Parses an unsigned decimal integer that fits 32 bits.
pub fn parse_u32(v: &[u8]) -> Result<u32, FieldError> {
    let x = parse_u64(v)?;
    u32::try_from(x).map_err(|_| err(FieldErrorKind::Overflow, v))
}

/// Parses a signed decimal integer (optional leading `-`).
pub fn parse_i64(v: &[u8]) -> Result<i64, FieldError> {
    let (neg, digits) = match v.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, v),
    };
    if digits.is_empty() {
        return Err(err(
            if v.is_empty() {
                FieldErrorKind::Empty
            } else {
                FieldErrorKind::NotANumber
            },
            v,
        ));
    }
    let mag = parse_u64(digits).map_err(|e| err(e.kind, v))?;
    if neg {
        if mag > i64::MAX as u64 + 1 {
            return Err(err(FieldErrorKind::Overflow, v));
        }
        Ok((mag as i64).wrapping_neg())
    } else {
        i64::try_from(mag).map_err(|_| err(FieldErrorKind::Overflow, v))
    }
}

/// Parses a char field: exactly one byte.
pub fn parse_char(v: &[u8]) -> Result<u8, FieldError> {
    match v {
        [c] => Ok(*c),
        [] => Err(err(FieldErrorKind::Empty, v)),
        _ => Err(err(FieldErrorKind::NotAChar, v)),
    }
}

/// Parses a Boolean field: `Y` or `N`.
pub fn parse_bool(v: &[u8]) -> Result<bool, FieldError> {
    match v {
        b"Y" => Ok(true),
        b"N" => Ok(false),
        [] => Err(err(FieldErrorKind::Empty, v)),
        _ => Err(err(FieldErrorKind::NotABool, v)),
    }
}

/// Writes `v` in decimal into the end of `buf`, returning the digits (at most 20 bytes).
pub fn fmt_u64(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Writes `v` in decimal (with `-` when negative) into `buf`, returning the text (at most 20 bytes).
pub fn fmt_i64(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mag = v.unsigned_abs();
    let mut i = buf.len();
    let mut x = mag;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_u32(b"0"), Ok(0));
        assert_eq!(parse_u32(b"4294967295"), Ok(u32::MAX));
        assert_eq!(
            parse_u32(b"4294967296").unwrap_err().kind,
            FieldErrorKind::Overflow
        );
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_u64(b"18446744073709551616").unwrap_err().kind,
            FieldErrorKind::Overflow
        );
        assert_eq!(parse_u64(b"").unwrap_err().kind, FieldErrorKind::Empty);
        assert_eq!(
            parse_u64(b"12a").unwrap_err().kind,
            FieldErrorKind::NotANumber
        );
        assert_eq!(
            parse_u64(b"-1").unwrap_err().kind,
            FieldErrorKind::NotANumber
        );
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(
            parse_i64(b"9223372036854775808").unwrap_err().kind,
            FieldErrorKind::Overflow
        );
        assert_eq!(
            parse_i64(b"-9223372036854775809").unwrap_err().kind,
            FieldErrorKind::Overflow
        );
        assert_eq!(
            parse_i64(b"-").unwrap_err().kind,
            FieldErrorKind::NotANumber
        );
        assert_eq!(parse_i64(b"-12"), Ok(-12));
        let mut b = [0u8; 20];
        assert_eq!(fmt_u64(0, &mut b), b"0");
        assert_eq!(fmt_u64(u64::MAX, &mut b), b"18446744073709551615");
        assert_eq!(fmt_i64(i64::MIN, &mut b), b"-9223372036854775808");
        assert_eq!(fmt_i64(-5, &mut b), b"-5");
    }

    #[test]
    fn chars_bools_and_messages() {
        assert_eq!(parse_char(b"1"), Ok(b'1'));
        assert_eq!(
            parse_char(b"12").unwrap_err().kind,
            FieldErrorKind::NotAChar
        );
        assert_eq!(parse_bool(b"Y"), Ok(true));
        assert_eq!(parse_bool(b"N"), Ok(false));
        let e = parse_bool(b"y").unwrap_err().with_tag(43);
        assert_eq!(e.to_string(), "tag 43: not Y or N: \"y\"");
        let e = parse_u32(b"1\x012").unwrap_err().with_tag(34);
        assert_eq!(e.to_string(), "tag 34: not a decimal integer: \"1\\x012\"");
        let long = [b'9'; 40];
        let e = parse_u32(&long).unwrap_err();
        assert_eq!(e.value().len(), FieldError::SNIPPET);
        assert!(e.to_string().ends_with("...\""));
    }
}
