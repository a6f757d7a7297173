//! The encoder: a pre-rendered per-session header and a builder that writes one message into a
//! caller's buffer, then fills in BodyLength(9) and CheckSum(10).
//!
//! The builder writes the body first, at a fixed offset that leaves room for the longest
//! possible `8=...|9=NNN|` prefix, then writes the prefix right-aligned in front of it; the
//! message therefore may not start at index 0 of the buffer ([`MessageBuilder::finish`] returns
//! where it is). A message costs one copy per field plus one pass for the checksum.

use crate::field::{fmt_i64, fmt_u64};
use crate::time::{TimePrecision, UtcTimestamp};
use crate::{BEGIN_STRINGS, SOH};
use core::fmt;
use core::ops::Range;

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodeError {
    /// The buffer cannot hold the message.
    BufferTooSmall {
        /// Buffer length.
        capacity: usize,
    },
    /// A value contains SOH (use a length-prefixed data field for binary data).
    ValueContainsSoh {
        /// The field's tag.
        tag: u32,
    },
    /// A value is empty (FIX forbids empty fields).
    EmptyValue {
        /// The field's tag.
        tag: u32,
    },
    /// Tag 0 is not a FIX tag.
    InvalidTag,
    /// The header template's BeginString is not FIX.4.0–FIX.4.4 or FIXT.1.1.
    BadBeginString,
    /// A header template value (SenderCompID, TargetCompID, extra field) is empty or holds SOH.
    BadHeaderValue {
        /// The field's tag.
        tag: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::BufferTooSmall { capacity } => {
                write!(f, "message does not fit the {capacity}-byte buffer")
            }
            EncodeError::ValueContainsSoh { tag } => write!(f, "tag {tag}: value contains SOH"),
            EncodeError::EmptyValue { tag } => write!(f, "tag {tag}: empty value"),
            EncodeError::InvalidTag => f.write_str("tag 0 is not a valid FIX tag"),
            EncodeError::BadBeginString => {
                f.write_str("BeginString(8) must be FIX.4.0-FIX.4.4 or FIXT.1.1")
            }
            EncodeError::BadHeaderValue { tag } => {
                write!(f, "header template tag {tag}: value empty or contains SOH")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// A pre-rendered session header: `8=<BeginString>|9=` and `49=<sender>|56=<target>|` plus
/// any extra header fields. Build once per session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderTemplate {
    /// `8=...|9=`
    begin: Vec<u8>,
    /// `49=...|56=...|` + extra fields.
    comp: Vec<u8>,
    error: Option<EncodeError>,
}

fn header_value_ok(v: &str) -> bool {
    !v.is_empty() && !v.as_bytes().contains(&SOH)
}

impl HeaderTemplate {
    /// A template for `begin_string` (one of [`BEGIN_STRINGS`]), SenderCompID(49) `sender` and
    /// TargetCompID(56) `target`. Never panics: an invalid value is reported by
    /// [`HeaderTemplate::error`] and by every [`MessageBuilder::finish`] using the template.
    pub fn new(begin_string: &str, sender: &str, target: &str) -> HeaderTemplate {
        let mut error = None;
        if !BEGIN_STRINGS.contains(&begin_string) {
            error = Some(EncodeError::BadBeginString);
        }
        let mut begin = Vec::with_capacity(16);
        begin.extend_from_slice(b"8=");
        begin.extend_from_slice(begin_string.as_bytes());
        begin.extend_from_slice(b"\x019=");
        let mut t = HeaderTemplate {
            begin,
            comp: Vec::new(),
            error,
        };
        t.push(49, sender);
        t.push(56, target);
        t
    }

    fn push(&mut self, tag: u32, value: &str) {
        if !header_value_ok(value) && self.error.is_none() {
            self.error = Some(EncodeError::BadHeaderValue { tag });
        }
        let mut d = [0u8; 20];
        self.comp.extend_from_slice(fmt_u64(u64::from(tag), &mut d));
        self.comp.push(b'=');
        self.comp.extend_from_slice(value.as_bytes());
        self.comp.push(SOH);
    }

    /// Adds an extra header field rendered after TargetCompID (e.g. SenderSubID(50),
    /// DefaultApplVerID is not a header field but ApplVerID(1128) is).
    pub fn with_field(mut self, tag: u32, value: &str) -> HeaderTemplate {
        if tag == 0 && self.error.is_none() {
            self.error = Some(EncodeError::InvalidTag);
        }
        self.push(tag, value);
        self
    }

    /// The first problem with the template's values, if any.
    pub fn error(&self) -> Option<EncodeError> {
        self.error
    }

    /// The BeginString value.
    pub fn begin_string(&self) -> &[u8] {
        &self.begin[2..self.begin.len() - 3]
    }
}

/// Writes one message into a caller's buffer. Field methods chain; the first error is kept and
/// returned by [`MessageBuilder::finish`].
#[derive(Debug)]
pub struct MessageBuilder<'b> {
    buf: &'b mut [u8],
    begin: [u8; 16],
    begin_len: usize,
    body_start: usize,
    pos: usize,
    error: Option<EncodeError>,
}

/// Room kept at the end for `10=ddd|`.
const TRAILER: usize = 7;

impl<'b> MessageBuilder<'b> {
    /// Starts a message: header (35, 49, 56, extra header fields, 34, 52) written into `buf`.
    pub fn new(
        buf: &'b mut [u8],
        header: &HeaderTemplate,
        msg_type: &[u8],
        seq: u32,
        sending_time: UtcTimestamp,
        precision: TimePrecision,
    ) -> MessageBuilder<'b> {
        // Room for the prefix: `8=...|9=` + digits of the largest possible body + SOH.
        let mut d = [0u8; 20];
        let digits = fmt_u64(buf.len() as u64, &mut d).len();
        let body_start = header.begin.len() + digits + 1;
        let mut begin = [0u8; 16];
        let begin_len = header.begin.len().min(16);
        begin[..begin_len].copy_from_slice(&header.begin[..begin_len]);
        let mut b = MessageBuilder {
            buf,
            begin,
            begin_len,
            body_start,
            pos: body_start,
            error: header.error,
        };
        if body_start > b.buf.len() {
            b.error.get_or_insert(EncodeError::BufferTooSmall {
                capacity: b.buf.len(),
            });
            b.pos = b.buf.len();
        }
        b.field(35, msg_type);
        b.raw(&header.comp);
        b.field_u64(34, u64::from(seq));
        b.field_timestamp(52, sending_time, precision);
        b
    }

    /// Appends pre-rendered `tag=value|` bytes verbatim (not checked).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        if self.pos + bytes.len() + TRAILER > self.buf.len() {
            self.error.get_or_insert(EncodeError::BufferTooSmall {
                capacity: self.buf.len(),
            });
            return self;
        }
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
        self
    }

    #[inline]
    fn put_field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        if tag == 0 {
            self.error.get_or_insert(EncodeError::InvalidTag);
            return self;
        }
        let mut d = [0u8; 20];
        let t = fmt_u64(u64::from(tag), &mut d);
        let need = t.len() + 1 + value.len() + 1;
        if self.pos + need + TRAILER > self.buf.len() {
            self.error.get_or_insert(EncodeError::BufferTooSmall {
                capacity: self.buf.len(),
            });
            return self;
        }
        let p = self.pos;
        self.buf[p..p + t.len()].copy_from_slice(t);
        self.buf[p + t.len()] = b'=';
        let v = p + t.len() + 1;
        self.buf[v..v + value.len()].copy_from_slice(value);
        self.buf[v + value.len()] = SOH;
        self.pos = p + need;
        self
    }

    /// Appends `tag=value|`. The value must be non-empty and free of SOH.
    pub fn field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        if value.is_empty() {
            self.error.get_or_insert(EncodeError::EmptyValue { tag });
            return self;
        }
        if memchr::memchr(SOH, value).is_some() {
            self.error
                .get_or_insert(EncodeError::ValueContainsSoh { tag });
            return self;
        }
        self.put_field(tag, value)
    }

    /// Appends a length-prefixed data field pair, e.g. RawDataLength(95) and RawData(96); the
    /// data may contain any byte, SOH included.
    pub fn field_data(&mut self, len_tag: u32, data_tag: u32, data: &[u8]) -> &mut Self {
        if data.is_empty() {
            self.error
                .get_or_insert(EncodeError::EmptyValue { tag: data_tag });
            return self;
        }
        self.field_u64(len_tag, data.len() as u64);
        self.put_field(data_tag, data)
    }

    /// Appends an unsigned integer field.
    pub fn field_u64(&mut self, tag: u32, value: u64) -> &mut Self {
        let mut d = [0u8; 20];
        let v = fmt_u64(value, &mut d);
        self.put_field(tag, v)
    }

    /// Appends a signed integer field.
    pub fn field_i64(&mut self, tag: u32, value: i64) -> &mut Self {
        let mut d = [0u8; 20];
        let v = fmt_i64(value, &mut d);
        self.put_field(tag, v)
    }

    /// Appends a char field.
    pub fn field_char(&mut self, tag: u32, value: u8) -> &mut Self {
        self.field(tag, &[value])
    }

    /// Appends a Boolean field (`Y`/`N`).
    pub fn field_bool(&mut self, tag: u32, value: bool) -> &mut Self {
        self.put_field(tag, if value { b"Y" } else { b"N" })
    }

    /// Appends a UTCTimestamp field at `precision`.
    pub fn field_timestamp(
        &mut self,
        tag: u32,
        value: UtcTimestamp,
        precision: TimePrecision,
    ) -> &mut Self {
        let mut d = [0u8; 32];
        let n = value.write(precision, &mut d);
        self.put_field(tag, &d[..n])
    }

    /// Bytes of body written so far (what BodyLength will say, if nothing more is added).
    pub fn body_len(&self) -> usize {
        self.pos.saturating_sub(self.body_start)
    }

    /// Writes BodyLength and CheckSum and returns where in the buffer the message is.
    pub fn finish(self) -> Result<Range<usize>, EncodeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut d = [0u8; 20];
        let digits = fmt_u64(self.body_len() as u64, &mut d);
        let begin = &self.begin[..self.begin_len];
        let start = self.body_start - 1 - digits.len() - begin.len();
        let buf = self.buf;
        let mut p = start;
        buf[p..p + begin.len()].copy_from_slice(begin);
        p += begin.len();
        buf[p..p + digits.len()].copy_from_slice(digits);
        buf[p + digits.len()] = SOH;
        let end = self.pos;
        let ck = crate::checksum(&buf[start..end]);
        buf[end..end + 3].copy_from_slice(b"10=");
        buf[end + 3] = b'0' + ck / 100;
        buf[end + 4] = b'0' + ck / 10 % 10;
        buf[end + 5] = b'0' + ck % 10;
        buf[end + 6] = SOH;
        Ok(start..end + TRAILER)
    }
}
