//! A zero-copy view over one complete FIX message.

use crate::field::{self, FieldError, FieldErrorKind};
use crate::framer::{self, GarbledReason};
use crate::time::UtcTimestamp;
use crate::SOH;

/// One `tag=value` field. `value` borrows the message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The tag; 0 when the tag text is not 1–9 decimal digits.
    pub tag: u32,
    /// The value bytes (without the delimiter).
    pub value: &'a [u8],
}

/// Length fields and the data fields whose byte count they give (their values may contain SOH).
const DATA_FIELDS: [(u32, u32); 16] = [
    (90, 91),
    (93, 89),
    (95, 96),
    (212, 213),
    (348, 349),
    (350, 351),
    (352, 353),
    (354, 355),
    (356, 357),
    (358, 359),
    (360, 361),
    (362, 363),
    (364, 365),
    (445, 446),
    (618, 619),
    (621, 622),
];

/// Index of the first SOH in `b[from..]` (absolute), or `b.len()`. Scans 8 bytes per step
/// (SWAR), so a typical short value costs one step; long values go to memchr.
#[inline(always)]
fn find_soh(b: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    let fast_end = b.len().min(from.saturating_add(32));
    while i + 8 <= fast_end {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ ONES; // SOH bytes become zero
                                              // Lowest set high bit marks the first zero byte (higher ones may be false positives).
        let z = x.wrapping_sub(ONES) & !x & HIGHS;
        if z != 0 {
            return i + (z.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i + 8 <= b.len() {
        return memchr::memchr(SOH, &b[i..]).map_or(b.len(), |j| i + j);
    }
    while i < b.len() {
        if b[i] == SOH {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// Iterator over the fields of a message (or of a part of one), in order.
///
/// A field is `tag=value` followed by SOH. A data field (e.g. RawData(96)) preceded by its
/// length field (RawDataLength(95)) takes exactly that many bytes, SOH included. Malformed
/// input never panics: a segment without `=` is yielded with tag 0 and the whole segment as its
/// value, and a final field without SOH ends at the end of the input.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Data tag expected next and its declared length.
    data: Option<(u32, usize)>,
}

impl<'a> Fields<'a> {
    /// Fields of an arbitrary byte range.
    pub fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            pos: 0,
            data: None,
        }
    }

    /// Byte offset (within the iterated range) of the next field.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Field<'a>> {
        let b = self.bytes;
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        // Fast path: 1-9 digits then '='.
        let lim = b.len().min(start + 9);
        let mut i = start;
        let mut tag = 0u32;
        while i < lim {
            let d = b[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            tag = tag * 10 + u32::from(d);
            i += 1;
        }
        if i > start && i < b.len() && b[i] == b'=' {
            return Some(self.value_at(tag, i + 1));
        }
        Some(self.malformed(start))
    }
}

impl<'a> Fields<'a> {
    /// A field whose tag is not 1–9 digits followed by `=`: tag 0, up to its SOH.
    #[cold]
    #[inline(never)]
    fn malformed(&mut self, start: usize) -> Field<'a> {
        let b = self.bytes;
        // Find the '=' (a tag-0 field) or the end of the segment (no '=').
        let mut i = start;
        while i < b.len() && b[i] != b'=' && b[i] != SOH {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            return self.value_at(0, i + 1);
        }
        self.pos = i + 1;
        self.data = None;
        Field {
            tag: 0,
            value: &b[start..i],
        }
    }

    /// Notes the data field announced by length field `tag` with value `value`.
    #[cold]
    #[inline(never)]
    fn length_field(&mut self, tag: u32, value: &[u8]) {
        if let Some(&(_, data_tag)) = DATA_FIELDS.iter().find(|(l, _)| *l == tag) {
            if let Ok(len) = field::parse_u32(value) {
                self.data = Some((data_tag, len as usize));
            }
        }
    }

    /// Reads the value starting at `vstart` of a field with `tag` and moves past it.
    #[inline(always)]
    fn value_at(&mut self, tag: u32, vstart: usize) -> Field<'a> {
        let b = self.bytes;
        let vend = match self.data.take() {
            None => find_soh(b, vstart),
            Some((t, len)) if t == tag && b.get(vstart + len) == Some(&SOH) => vstart + len,
            Some(_) => find_soh(b, vstart),
        };
        let value = &b[vstart..vend];
        if (90..=621).contains(&tag) {
            self.length_field(tag, value);
        }
        self.pos = vend + 1;
        Field { tag, value }
    }
}

/// A view over one complete message (BeginString through CheckSum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// Validates `bytes` as exactly one message under the framing rules (BeginString, BodyLength,
    /// MsgType third, CheckSum, no embedded `SOH 8=FIX`) and wraps it.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Message<'a>, GarbledReason> {
        framer::validate(bytes)?;
        Ok(Message { bytes })
    }

    /// Wraps bytes already framed (by the [`crate::Framer`] or the sequencer) without checking.
    /// Every accessor still behaves (returns `None`/errors, never panics) on arbitrary bytes.
    pub fn new_unchecked(bytes: &'a [u8]) -> Message<'a> {
        Message { bytes }
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every field in order, including 8, 9, 35 and 10.
    pub fn fields(&self) -> Fields<'a> {
        Fields::new(self.bytes)
    }

    /// BeginString(8) value (e.g. `FIX.4.4`); empty if the first field is not tag 8.
    pub fn begin_string(&self) -> &'a [u8] {
        match self.fields().next() {
            Some(Field { tag: 8, value }) => value,
            _ => &[],
        }
    }

    /// MsgType(35) value; empty if the third field is not tag 35.
    pub fn msg_type(&self) -> &'a [u8] {
        match self.fields().nth(2) {
            Some(Field { tag: 35, value }) => value,
            _ => &[],
        }
    }

    /// Value of the first occurrence of `tag`.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields().find(|f| f.tag == tag).map(|f| f.value)
    }

    fn typed<T>(
        &self,
        tag: u32,
        parse: fn(&[u8]) -> Result<T, FieldError>,
    ) -> Result<Option<T>, FieldError> {
        match self.get(tag) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).map_err(|e| e.with_tag(tag)),
        }
    }

    /// First occurrence of `tag` as an unsigned 32-bit integer.
    pub fn get_u32(&self, tag: u32) -> Result<Option<u32>, FieldError> {
        self.typed(tag, field::parse_u32)
    }

    /// First occurrence of `tag` as an unsigned 64-bit integer.
    pub fn get_u64(&self, tag: u32) -> Result<Option<u64>, FieldError> {
        self.typed(tag, field::parse_u64)
    }

    /// First occurrence of `tag` as a signed 64-bit integer.
    pub fn get_i64(&self, tag: u32) -> Result<Option<i64>, FieldError> {
        self.typed(tag, field::parse_i64)
    }

    /// First occurrence of `tag` as a single character.
    pub fn get_char(&self, tag: u32) -> Result<Option<u8>, FieldError> {
        self.typed(tag, field::parse_char)
    }

    /// First occurrence of `tag` as a Boolean (`Y`/`N`).
    pub fn get_bool(&self, tag: u32) -> Result<Option<bool>, FieldError> {
        self.typed(tag, field::parse_bool)
    }

    /// First occurrence of `tag` as a UTCTimestamp.
    pub fn get_timestamp(&self, tag: u32) -> Result<Option<UtcTimestamp>, FieldError> {
        self.typed(tag, UtcTimestamp::parse)
    }

    /// The repeating group counted by `count_tag` (e.g. NoPartyIDs(453)) whose entries begin
    /// with `first_tag` (e.g. PartyID(448)).
    ///
    /// Without a dictionary the end of the last entry is not marked; it ends before the first
    /// field whose tag already occurred in that entry, or at CheckSum(10). Use
    /// [`Message::group_with`] to give the member tags. An absent count field is an empty group.
    pub fn group(&self, count_tag: u32, first_tag: u32) -> Result<Group<'a>, FieldError> {
        self.group_with(count_tag, first_tag, &[])
    }

    /// Like [`Message::group`], but an entry also ends before any tag not in `members`
    /// (`first_tag` is always a member). An empty `members` means "unknown".
    pub fn group_with(
        &self,
        count_tag: u32,
        first_tag: u32,
        members: &[u32],
    ) -> Result<Group<'a>, FieldError> {
        let mut it = self.fields();
        let declared = loop {
            match it.next() {
                None => {
                    return Ok(Group {
                        bytes: &[],
                        count: 0,
                        first_tag,
                    })
                }
                Some(f) if f.tag == count_tag => {
                    break field::parse_u32(f.value).map_err(|e| e.with_tag(count_tag))?;
                }
                Some(_) => {}
            }
        };
        let start = it.position();
        if declared == 0 {
            return Ok(Group {
                bytes: &[],
                count: 0,
                first_tag,
            });
        }
        let rest = &self.bytes[start..];
        let mut fields = Fields::new(rest);
        let mut found = 0u32;
        let mut seen = [0u32; 64];
        let mut nseen = 0usize;
        let mut end = 0usize;
        loop {
            let pos = fields.position();
            let Some(f) = fields.next() else {
                end = rest.len();
                break;
            };
            if f.tag == first_tag {
                if found == declared {
                    end = pos;
                    break;
                }
                found += 1;
                nseen = 0;
            } else if found == 0 {
                return Err(FieldError::new(
                    count_tag,
                    FieldErrorKind::GroupDelimiterMissing { first_tag },
                    f.value,
                ));
            } else if f.tag == 10
                || (!members.is_empty() && !members.contains(&f.tag))
                || (members.is_empty() && seen[..nseen].contains(&f.tag))
            {
                if found == declared {
                    end = pos;
                    break;
                }
                // A field that cannot belong to the entry before all entries were seen.
                break;
            }
            if nseen < seen.len() {
                seen[nseen] = f.tag;
                nseen += 1;
            }
            end = fields.position().min(rest.len());
        }
        if found != declared {
            return Err(FieldError::new(
                count_tag,
                FieldErrorKind::GroupCountMismatch { declared, found },
                &[],
            ));
        }
        Ok(Group {
            bytes: &rest[..end],
            count: declared,
            first_tag,
        })
    }
}

/// A repeating group: its declared entry count and the bytes of its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group<'a> {
    bytes: &'a [u8],
    count: u32,
    first_tag: u32,
}

impl<'a> Group<'a> {
    /// Number of entries.
    pub fn len(&self) -> u32 {
        self.count
    }

    /// True when the group has no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bytes of all entries.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Iterates the entries; each is a [`Fields`] over that entry.
    pub fn entries(&self) -> GroupEntries<'a> {
        GroupEntries {
            bytes: self.bytes,
            pos: 0,
            first_tag: self.first_tag,
        }
    }
}

impl<'a> IntoIterator for Group<'a> {
    type Item = Fields<'a>;
    type IntoIter = GroupEntries<'a>;
    fn into_iter(self) -> GroupEntries<'a> {
        self.entries()
    }
}

/// Iterator over the entries of a [`Group`].
#[derive(Clone, Debug)]
pub struct GroupEntries<'a> {
    bytes: &'a [u8],
    pos: usize,
    first_tag: u32,
}

impl<'a> Iterator for GroupEntries<'a> {
    type Item = Fields<'a>;

    fn next(&mut self) -> Option<Fields<'a>> {
        let rest = self.bytes.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let mut it = Fields::new(rest);
        it.next()?;
        let mut end = rest.len();
        loop {
            let pos = it.position();
            match it.next() {
                None => break,
                Some(f) if f.tag == self.first_tag => {
                    end = pos;
                    break;
                }
                Some(_) => {}
            }
        }
        self.pos += end;
        Some(Fields::new(&rest[..end]))
    }
}
