//! Minimal tag=value helpers the session layer needs on its hot path: a one-pass header scan of a
//! framed message, a field iterator, and an encoder that writes a whole message (BodyLength and
//! CheckSum included) into a preallocated buffer without allocating.
//!
//! The sequencer has already framed and checksummed every message that reaches the session, so the
//! scan here only extracts fields; it never panics on any byte sequence.

use crate::time::{format_timestamp, parse_timestamp};

/// Field separator.
pub const SOH: u8 = 0x01;

/// Iterator over the `tag=value` fields of a message. A field whose tag is not 1 to 9 decimal
/// digits yields tag 0; a trailing fragment without SOH is yielded as a field too.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    /// Iterates the fields of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<(u32, &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let end = rest.iter().position(|&b| b == SOH).unwrap_or(rest.len());
        let field = &rest[..end];
        self.pos += end + 1;
        let (tag, value) = match field.iter().position(|&b| b == b'=') {
            Some(eq) => (parse_tag(&field[..eq]), &field[eq + 1..]),
            None => (0, field),
        };
        Some((tag, value))
    }
}

fn parse_tag(t: &[u8]) -> u32 {
    if t.is_empty() || t.len() > 9 {
        return 0;
    }
    let mut v: u32 = 0;
    for &b in t {
        if !b.is_ascii_digit() {
            return 0;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    v
}

/// Parses a non-negative decimal integer of 1 to 10 digits that fits in `u32`.
pub fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 10 {
        return None;
    }
    let mut acc: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        acc = acc * 10 + u64::from(b - b'0');
    }
    u32::try_from(acc).ok()
}

/// First value of `tag` in `msg`.
pub fn find(msg: &[u8], tag: u32) -> Option<&[u8]> {
    Fields::new(msg).find(|&(t, _)| t == tag).map(|(_, v)| v)
}

/// The fields the session layer looks at, extracted in one pass (first occurrence of each).
#[derive(Clone, Copy, Debug, Default)]
pub struct Scan<'a> {
    /// BeginString(8).
    pub begin_string: Option<&'a [u8]>,
    /// MsgType(35).
    pub msg_type: Option<&'a [u8]>,
    /// SenderCompID(49).
    pub sender: Option<&'a [u8]>,
    /// TargetCompID(56).
    pub target: Option<&'a [u8]>,
    /// MsgSeqNum(34).
    pub seq: Option<&'a [u8]>,
    /// SendingTime(52).
    pub sending_time: Option<&'a [u8]>,
    /// OrigSendingTime(122).
    pub orig_sending_time: Option<&'a [u8]>,
    /// PossDupFlag(43).
    pub poss_dup: bool,
    /// PossResend(97).
    pub poss_resend: bool,
    /// BeginSeqNo(7).
    pub begin_seq_no: Option<&'a [u8]>,
    /// EndSeqNo(16).
    pub end_seq_no: Option<&'a [u8]>,
    /// NewSeqNo(36).
    pub new_seq_no: Option<&'a [u8]>,
    /// TestReqID(112).
    pub test_req_id: Option<&'a [u8]>,
    /// HeartBtInt(108).
    pub heart_bt_int: Option<&'a [u8]>,
    /// ResetSeqNumFlag(141)=Y.
    pub reset_seq_num: bool,
    /// GapFillFlag(123)=Y.
    pub gap_fill: bool,
    /// Username(553).
    pub username: Option<&'a [u8]>,
    /// Password(554).
    pub password: Option<&'a [u8]>,
    /// NextExpectedMsgSeqNum(789).
    pub next_expected: Option<&'a [u8]>,
    /// Text(58).
    pub text: Option<&'a [u8]>,
}

impl<'a> Scan<'a> {
    /// Scans `msg` once.
    pub fn of(msg: &'a [u8]) -> Scan<'a> {
        let mut s = Scan::default();
        for (tag, v) in Fields::new(msg) {
            let slot = match tag {
                8 => &mut s.begin_string,
                35 => &mut s.msg_type,
                49 => &mut s.sender,
                56 => &mut s.target,
                34 => &mut s.seq,
                52 => &mut s.sending_time,
                122 => &mut s.orig_sending_time,
                7 => &mut s.begin_seq_no,
                16 => &mut s.end_seq_no,
                36 => &mut s.new_seq_no,
                112 => &mut s.test_req_id,
                108 => &mut s.heart_bt_int,
                553 => &mut s.username,
                554 => &mut s.password,
                789 => &mut s.next_expected,
                58 => &mut s.text,
                43 => {
                    s.poss_dup |= v == b"Y";
                    continue;
                }
                97 => {
                    s.poss_resend |= v == b"Y";
                    continue;
                }
                141 => {
                    s.reset_seq_num |= v == b"Y";
                    continue;
                }
                123 => {
                    s.gap_fill |= v == b"Y";
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        s
    }

    /// SendingTime as nanoseconds since the Unix epoch, if present and well-formed.
    pub fn sending_time_ns(&self) -> Option<u64> {
        self.sending_time.and_then(parse_timestamp)
    }

    /// OrigSendingTime as nanoseconds since the Unix epoch, if present and well-formed.
    pub fn orig_sending_time_ns(&self) -> Option<u64> {
        self.orig_sending_time.and_then(parse_timestamp)
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The message would exceed the configured maximum size.
    TooLarge {
        /// The configured maximum in bytes.
        max: usize,
    },
    /// A value contains SOH, which would corrupt the framing.
    ValueHasSoh {
        /// The offending tag.
        tag: u32,
    },
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::TooLarge { max } => {
                write!(f, "message longer than MaxMessageSize ({max} bytes)")
            }
            EncodeError::ValueHasSoh { tag } => {
                write!(f, "value of tag {tag} contains SOH (0x01)")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Room kept in front of the body for `8=BeginString SOH 9=NNNNNNNNN SOH`.
const PREFIX_ROOM: usize = 48;

/// Appends fields to a message under construction. Obtained from the session's send functions;
/// writes into a preallocated buffer and never allocates. Errors (too large, SOH in a value) are
/// remembered and reported when the message is finished.
pub struct BodyBuilder<'a> {
    buf: &'a mut [u8],
    len: usize,
    err: Option<EncodeError>,
    max: usize,
}

impl<'a> BodyBuilder<'a> {
    fn new(buf: &'a mut [u8], start: usize, max: usize) -> Self {
        BodyBuilder {
            buf,
            len: start,
            err: None,
            max,
        }
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.err.is_some() {
            return;
        }
        // Keep room for the checksum trailer (7 bytes).
        let limit = self.buf.len().saturating_sub(7);
        if self.len + bytes.len() > limit {
            self.err = Some(EncodeError::TooLarge { max: self.max });
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn put_u64(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let n = fmt_u64(v, &mut tmp);
        self.put(&tmp[20 - n..]);
    }

    /// Appends `tag=value SOH`.
    pub fn field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        if value.contains(&SOH) && self.err.is_none() {
            self.err = Some(EncodeError::ValueHasSoh { tag });
        }
        self.put_u64(u64::from(tag));
        self.put(b"=");
        self.put(value);
        self.put(&[SOH]);
        self
    }

    /// Appends `tag=value SOH` for a string value.
    pub fn field_str(&mut self, tag: u32, value: &str) -> &mut Self {
        self.field(tag, value.as_bytes())
    }

    /// Appends an unsigned integer field.
    pub fn field_u64(&mut self, tag: u32, value: u64) -> &mut Self {
        self.put_u64(u64::from(tag));
        self.put(b"=");
        self.put_u64(value);
        self.put(&[SOH]);
        self
    }

    /// Appends a UTCTimestamp field (nanoseconds since the Unix epoch, at `precision` digits).
    pub fn field_time(&mut self, tag: u32, ns: u64, precision: u8) -> &mut Self {
        let mut tmp = [0u8; 32];
        let n = format_timestamp(ns, precision, &mut tmp);
        self.field(tag, &tmp[..n])
    }

    /// Appends already-encoded `tag=value SOH` bytes verbatim (used to copy fields of a stored
    /// message on resend).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.put(bytes);
        self
    }
}

/// Formats `v` right-aligned into `tmp`, returns the digit count.
fn fmt_u64(mut v: u64, tmp: &mut [u8; 20]) -> usize {
    let mut i = 20;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    20 - i
}

/// Standard header values for one outgoing message.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// BeginString(8).
    pub begin_string: &'a [u8],
    /// SenderCompID(49).
    pub sender: &'a [u8],
    /// TargetCompID(56).
    pub target: &'a [u8],
    /// MsgType(35).
    pub msg_type: &'a [u8],
    /// MsgSeqNum(34).
    pub seq: u32,
    /// SendingTime(52), nanoseconds since the Unix epoch.
    pub sending_time: u64,
    /// Digits of fractional seconds in timestamps: 0, 3, 6 or 9.
    pub precision: u8,
    /// PossDupFlag(43)=Y with this OrigSendingTime(122) (already-encoded timestamp text).
    pub poss_dup: Option<&'a [u8]>,
}

/// Encodes a whole message into `buf` (whose length is the maximum message size) and returns the
/// byte range of the message inside `buf`. `body` appends the body fields.
pub fn encode(
    buf: &mut [u8],
    h: &Header<'_>,
    body: &mut dyn FnMut(&mut BodyBuilder<'_>),
) -> Result<std::ops::Range<usize>, EncodeError> {
    let max = buf.len();
    if max < PREFIX_ROOM + 16 || h.begin_string.len() > PREFIX_ROOM - 16 {
        return Err(EncodeError::TooLarge { max });
    }
    let body_start = PREFIX_ROOM;
    let end = {
        let mut b = BodyBuilder::new(buf, body_start, max);
        b.field(35, h.msg_type);
        b.field(49, h.sender);
        b.field(56, h.target);
        b.field_u64(34, u64::from(h.seq));
        if let Some(orig) = h.poss_dup {
            b.field(43, b"Y");
            b.field(122, orig);
        }
        b.field_time(52, h.sending_time, h.precision);
        body(&mut b);
        if let Some(e) = b.err {
            return Err(e);
        }
        b.len
    };
    let body_len = end - body_start;
    // Prefix: 8=<begin>SOH9=<len>SOH, right-aligned against body_start.
    let mut digits = [0u8; 20];
    let nd = fmt_u64(body_len as u64, &mut digits);
    let prefix_len = 2 + h.begin_string.len() + 1 + 2 + nd + 1;
    let start = body_start - prefix_len;
    let mut p = start;
    for part in [
        &b"8="[..],
        h.begin_string,
        &[SOH][..],
        &b"9="[..],
        &digits[20 - nd..],
        &[SOH][..],
    ] {
        buf[p..p + part.len()].copy_from_slice(part);
        p += part.len();
    }
    let sum = u32::from(checksum(&buf[start..end]));
    let trailer = [
        b'1',
        b'0',
        b'=',
        b'0' + (sum / 100) as u8,
        b'0' + (sum / 10 % 10) as u8,
        b'0' + (sum % 10) as u8,
        SOH,
    ];
    if end + 7 > max {
        return Err(EncodeError::TooLarge { max });
    }
    buf[end..end + 7].copy_from_slice(&trailer);
    Ok(start..end + 7)
}

/// FIX CheckSum(10) of `bytes`: their sum modulo 256. Sums in 32 independent byte lanes
/// (wrapping, which is exact modulo 256), so the compiler vectorises it.
pub fn checksum(bytes: &[u8]) -> u8 {
    let mut lanes = [0u8; 32];
    let mut chunks = bytes.chunks_exact(32);
    for c in &mut chunks {
        for (l, &b) in lanes.iter_mut().zip(c) {
            *l = l.wrapping_add(b);
        }
    }
    let mut sum = lanes.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    for &b in chunks.remainder() {
        sum = sum.wrapping_add(b);
    }
    sum
}

/// Header fields a resend takes from a stored message: the first MsgType(35) and the first
/// SendingTime(52) (which becomes OrigSendingTime(122)). Stops reading as soon as both are found.
pub fn resend_peek(stored: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut mt, mut st) = (None, None);
    let mut start = 0;
    let mut visit = |end: usize| {
        let f = &stored[start..end];
        start = end + 1;
        if let (Some(tag @ (35 | 52)), Some(eq)) = field_tag(f) {
            let slot = if tag == 35 { &mut mt } else { &mut st };
            if slot.is_none() {
                *slot = Some(&f[eq + 1..]);
            }
        }
        mt.is_none() || st.is_none()
    };
    let mut more = true;
    for_each_soh(stored, |soh| {
        more = visit(soh);
        more
    });
    if more && stored.last().is_some_and(|&b| b != SOH) {
        // A trailing fragment without SOH is a field too.
        let from = stored.iter().rposition(|&b| b == SOH).map_or(0, |p| p + 1);
        let f = &stored[from..];
        if let (Some(tag @ (35 | 52)), Some(eq)) = field_tag(f) {
            let slot = if tag == 35 { &mut mt } else { &mut st };
            if slot.is_none() {
                *slot = Some(&f[eq + 1..]);
            }
        }
    }
    (mt, st)
}

/// The parts of a resent message's header that do not come from the stored message.
#[derive(Clone, Copy, Debug)]
pub struct ResendHeader<'a> {
    /// BeginString(8).
    pub begin_string: &'a [u8],
    /// SenderCompID(49).
    pub sender: &'a [u8],
    /// TargetCompID(56).
    pub target: &'a [u8],
    /// The new SendingTime(52), already formatted (the same for a whole batch).
    pub sending_time: &'a [u8],
}

/// Tags a resend rewrites; every other field of the stored message is copied.
#[inline]
fn rewritten_on_resend(tag: u32) -> bool {
    matches!(tag, 8 | 9 | 10 | 35 | 34 | 49 | 56 | 52 | 43 | 122)
}

/// Bounded writer used by [`splice_resend`].
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
    limit: usize,
    full: bool,
}

impl Out<'_> {
    #[inline]
    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.limit {
            self.full = true;
            return;
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn put_u64(&mut self, v: u64) {
        let mut tmp = [0u8; 20];
        let n = fmt_u64(v, &mut tmp);
        self.put(&tmp[20 - n..]);
    }
}

/// Calls `f` with the position of every SOH in `b`, in order, until it returns false. Looks at 16
/// bytes at a time (the compare-and-mask loop compiles to SIMD compares).
#[inline(always)]
fn for_each_soh(b: &[u8], mut f: impl FnMut(usize) -> bool) {
    let mut base = 0;
    let mut chunks = b.chunks_exact(16);
    for c in &mut chunks {
        let mut m = 0u32;
        for (i, &x) in c.iter().enumerate() {
            m |= u32::from(x == SOH) << i;
        }
        while m != 0 {
            if !f(base + m.trailing_zeros() as usize) {
                return;
            }
            m &= m - 1;
        }
        base += 16;
    }
    for (i, &x) in chunks.remainder().iter().enumerate() {
        if x == SOH && !f(base + i) {
            return;
        }
    }
}

/// The tag of one field (its bytes without the SOH) as [`Fields`] reads it (`None` when it is
/// not 1 to 9 decimal digits followed by `=`: [`Fields`] yields tag 0 then), and the position
/// of its first `=`.
#[inline(always)]
fn field_tag(f: &[u8]) -> (Option<u32>, Option<usize>) {
    let mut tag: u32 = 0;
    for (i, &b) in f.iter().enumerate().take(10) {
        if b == b'=' {
            return ((1..=9).contains(&i).then_some(tag), Some(i));
        }
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        tag = tag * 10 + u32::from(d);
    }
    (None, f.iter().position(|&b| b == b'='))
}

/// Starts a resend in `buf` after the BeginString/BodyLength room: the new header
/// `35 49 56 34 43=Y 122=orig 52`, shared by both splicing paths.
fn resend_header<'a>(
    buf: &'a mut [u8],
    msg_type: &[u8],
    orig: &[u8],
    seq: u32,
    h: &ResendHeader<'_>,
) -> Result<Out<'a>, EncodeError> {
    let max = buf.len();
    if max < PREFIX_ROOM + 16 || h.begin_string.len() > PREFIX_ROOM - 16 {
        return Err(EncodeError::TooLarge { max });
    }
    for (tag, v) in [(49, h.sender), (56, h.target), (52, h.sending_time)] {
        if v.contains(&SOH) {
            return Err(EncodeError::ValueHasSoh { tag });
        }
    }
    let mut w = Out {
        buf,
        len: PREFIX_ROOM,
        limit: max - 7,
        full: false,
    };
    w.put(b"35=");
    w.put(msg_type);
    w.put(b"\x0149=");
    w.put(h.sender);
    w.put(b"\x0156=");
    w.put(h.target);
    w.put(b"\x0134=");
    w.put_u64(u64::from(seq));
    w.put(b"\x0143=Y\x01122=");
    w.put(orig);
    w.put(b"\x0152=");
    w.put(h.sending_time);
    w.put(&[SOH]);
    Ok(w)
}

/// Encodes the resend of a stored message by splicing: the stored bytes are copied with only the
/// header changed. The result is byte for byte what [`encode`] produces for the header
/// `35=msg_type 49=sender 56=target 34=seq 43=Y 122=orig 52=sending_time` followed by every
/// field of `stored` except tags 8, 9, 10, 35, 34, 49, 56, 52, 43 and 122, in their order (a
/// field whose tag is not canonical decimal is re-encoded as [`BodyBuilder::field`] writes it);
/// BodyLength and CheckSum are recomputed. `msg_type` and `orig` are normally what
/// [`resend_peek`] found. Runs of copied fields are moved with one copy each: for a message this
/// engine encoded, the whole body is one copy.
pub fn splice_resend(
    buf: &mut [u8],
    stored: &[u8],
    msg_type: &[u8],
    orig: &[u8],
    seq: u32,
    h: &ResendHeader<'_>,
) -> Result<std::ops::Range<usize>, EncodeError> {
    let mut w = resend_header(buf, msg_type, orig, seq, h)?;
    let n = stored.len();
    // Start of the current field, and of the run of fields copied verbatim that it would extend.
    let mut start = 0;
    let mut run = 0;
    let mut field = |end: usize, has_soh: bool, w: &mut Out<'_>| {
        let f = &stored[start..end];
        let (tag, eq) = field_tag(f);
        let next = end + usize::from(has_soh);
        if tag.is_some_and(rewritten_on_resend) {
            w.put(&stored[run..start]);
            run = next;
        } else if !(has_soh && tag.is_some() && (f[0] != b'0' || eq == Some(1))) {
            // Not exactly what BodyBuilder::field writes: re-encode it the way it does.
            w.put(&stored[run..start]);
            w.put_u64(u64::from(tag.unwrap_or(0)));
            w.put(b"=");
            w.put(match eq {
                Some(e) => &f[e + 1..],
                None => f,
            });
            w.put(&[SOH]);
            run = next;
        }
        start = next;
    };
    let last_soh = stored.iter().rposition(|&b| b == SOH);
    for_each_soh(stored, |soh| {
        field(soh, true, &mut w);
        true
    });
    // A trailing fragment without SOH.
    if last_soh.map_or(0, |p| p + 1) < n {
        field(n, false, &mut w);
    }
    if run < n {
        w.put(&stored[run..n]);
    }
    if w.full {
        return Err(EncodeError::TooLarge { max: w.buf.len() });
    }
    let end = w.len;
    Ok(finish_spliced(w.buf, end, h.begin_string))
}

/// Writes `8=...|9=...|` in front of the body `buf[PREFIX_ROOM..end]` and the CheckSum after it;
/// returns the message's range (the caller checked that 7 bytes fit after `end`).
fn finish_spliced(buf: &mut [u8], end: usize, begin_string: &[u8]) -> std::ops::Range<usize> {
    let body_len = end - PREFIX_ROOM;
    let mut digits = [0u8; 20];
    let nd = fmt_u64(body_len as u64, &mut digits);
    let prefix_len = 2 + begin_string.len() + 1 + 2 + nd + 1;
    let start = PREFIX_ROOM - prefix_len;
    let mut p = start;
    for part in [
        &b"8="[..],
        begin_string,
        &[SOH][..],
        &b"9="[..],
        &digits[20 - nd..],
        &[SOH][..],
    ] {
        buf[p..p + part.len()].copy_from_slice(part);
        p += part.len();
    }
    let sum = checksum(&buf[start..end]);
    buf[end..end + 7].copy_from_slice(&[
        b'1',
        b'0',
        b'=',
        b'0' + sum / 100,
        b'0' + sum / 10 % 10,
        b'0' + sum % 10,
        SOH,
    ]);
    start..end + 7
}

/// One piece of a spliced body: stored bytes copied verbatim (`tag == VERBATIM`), or the value
/// `stored[start..end]` of a field re-encoded as `tag=value SOH`.
#[derive(Clone, Copy, Default)]
struct Piece {
    start: u32,
    end: u32,
    tag: u32,
}

const VERBATIM: u32 = u32::MAX;
const MAX_PIECES: usize = 32;

/// What one pass over a stored message found: its first MsgType and SendingTime, and the pieces
/// of the resent body (unless there are more than `MAX_PIECES`).
struct Plan<'a> {
    msg_type: Option<&'a [u8]>,
    sending_time: Option<&'a [u8]>,
    pieces: [Piece; MAX_PIECES],
    n: usize,
    overflow: bool,
    /// Start of the current field, and of the verbatim run it would extend.
    start: usize,
    run: usize,
}

impl<'a> Plan<'a> {
    fn push(&mut self, p: Piece) {
        if self.n < MAX_PIECES {
            self.pieces[self.n] = p;
            self.n += 1;
        } else {
            self.overflow = true;
        }
    }

    fn flush_run(&mut self, to: usize) {
        if to > self.run {
            self.push(Piece {
                start: self.run as u32,
                end: to as u32,
                tag: VERBATIM,
            });
        }
    }

    /// The field `stored[self.start..end]` (followed by an SOH when `has_soh`).
    #[inline(always)]
    fn field(&mut self, stored: &'a [u8], end: usize, has_soh: bool) {
        let start = self.start;
        let f = &stored[start..end];
        let (tag, eq) = field_tag(f);
        let next = end + usize::from(has_soh);
        if let (Some(t @ (35 | 52)), Some(e)) = (tag, eq) {
            let slot = if t == 35 {
                &mut self.msg_type
            } else {
                &mut self.sending_time
            };
            if slot.is_none() {
                *slot = Some(&f[e + 1..]);
            }
        }
        if tag.is_some_and(rewritten_on_resend) {
            self.flush_run(start);
            self.run = next;
        } else if !(has_soh && tag.is_some() && (f[0] != b'0' || eq == Some(1))) {
            self.flush_run(start);
            let v0 = eq.map_or(start, |e| start + e + 1);
            self.push(Piece {
                start: v0 as u32,
                end: end as u32,
                tag: tag.unwrap_or(0),
            });
            self.run = next;
        }
        self.start = next;
    }
}

/// [`splice_resend`] in one pass over the stored message: finds its MsgType and SendingTime,
/// asks `keep(msg_type, sending_time)` whether to resend it (false: `Ok(None)`, nothing
/// written), then writes the resend into `buf`. The bytes are exactly those of
/// [`splice_resend`] with the [`resend_peek`] values.
pub fn splice_resend_if(
    buf: &mut [u8],
    stored: &[u8],
    seq: u32,
    h: &ResendHeader<'_>,
    keep: impl FnOnce(&[u8], Option<&[u8]>) -> bool,
) -> Result<Option<std::ops::Range<usize>>, EncodeError> {
    let n = stored.len();
    let mut p = Plan {
        msg_type: None,
        sending_time: None,
        pieces: [Piece::default(); MAX_PIECES],
        n: 0,
        overflow: false,
        start: 0,
        run: 0,
    };
    for_each_soh(stored, |soh| {
        p.field(stored, soh, true);
        true
    });
    if p.start < n {
        // A trailing fragment without SOH.
        p.field(stored, n, false);
    }
    p.flush_run(n);
    let mt = p.msg_type.unwrap_or(b"");
    if !keep(mt, p.sending_time) {
        return Ok(None);
    }
    let orig = p.sending_time.unwrap_or(b"");
    if p.overflow {
        return splice_resend(buf, stored, mt, orig, seq, h).map(Some);
    }
    let mut w = resend_header(buf, mt, orig, seq, h)?;
    for piece in &p.pieces[..p.n] {
        let bytes = &stored[piece.start as usize..piece.end as usize];
        if piece.tag == VERBATIM {
            w.put(bytes);
        } else {
            w.put_u64(u64::from(piece.tag));
            w.put(b"=");
            w.put(bytes);
            w.put(&[SOH]);
        }
    }
    if w.full {
        return Err(EncodeError::TooLarge { max: w.buf.len() });
    }
    let end = w.len;
    Ok(Some(finish_spliced(w.buf, end, h.begin_string)))
}

/// True for the session-level (admin) message types 0, 1, 2, 3, 4, 5 and A.
pub fn is_admin(msg_type: &[u8]) -> bool {
    matches!(msg_type, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
}

/// True if `msg_type` is a MsgType value defined by FIX 4.0 to 5.0 SP2 or user-defined
/// (starting with `U`). One character `0-9`, `A-Z` (except `I`, `O`) or `a-z`; two characters
/// `A`/`B`/`C` followed by `A-Z`; anything starting with `U`.
pub fn is_valid_msg_type(t: &[u8]) -> bool {
    match t {
        [c] => {
            c.is_ascii_digit()
                || (c.is_ascii_uppercase() && *c != b'I' && *c != b'O')
                || c.is_ascii_lowercase()
        }
        [b'U', ..] => t.len() <= 8 && t.iter().all(|c| c.is_ascii_alphanumeric()),
        [a, b] => matches!(a, b'A' | b'B' | b'C') && b.is_ascii_uppercase(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_writes_length_and_checksum() {
        let mut buf = vec![0u8; 512];
        let h = Header {
            begin_string: b"FIX.4.4",
            sender: b"A",
            target: b"B",
            msg_type: b"0",
            seq: 7,
            sending_time: 0,
            precision: 3,
            poss_dup: None,
        };
        let r = encode(&mut buf, &h, &mut |b| {
            b.field(112, b"x");
        })
        .unwrap();
        let m = &buf[r];
        let text = String::from_utf8_lossy(m).replace('\x01', "|");
        assert!(text.starts_with("8=FIX.4.4|9="), "{text}");
        assert!(
            text.contains("|35=0|49=A|56=B|34=7|52=19700101-00:00:00.000|112=x|10="),
            "{text}"
        );
        // Checksum over everything before 10=.
        let pos = m.len() - 7;
        let sum: u32 = m[..pos].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
        assert_eq!(&m[pos + 3..pos + 6], format!("{sum:03}").as_bytes());
        // BodyLength counts from 35= up to the SOH before 10=.
        let bl = parse_u32(find(m, 9).unwrap()).unwrap() as usize;
        let body_start = text.find("35=").unwrap();
        assert_eq!(bl, pos - body_start);
    }

    #[test]
    fn encode_rejects_oversize_and_soh() {
        let mut buf = vec![0u8; 100];
        let h = Header {
            begin_string: b"FIX.4.4",
            sender: b"A",
            target: b"B",
            msg_type: b"D",
            seq: 1,
            sending_time: 0,
            precision: 0,
            poss_dup: None,
        };
        let e = encode(&mut buf, &h, &mut |b| {
            b.field(58, &[b'x'; 200]);
        });
        assert_eq!(e, Err(EncodeError::TooLarge { max: 100 }));
        let mut buf = vec![0u8; 400];
        let e = encode(&mut buf, &h, &mut |b| {
            b.field(58, b"a\x01b");
        });
        assert_eq!(e, Err(EncodeError::ValueHasSoh { tag: 58 }));
    }

    #[test]
    fn scan_takes_first_occurrence_and_survives_garbage() {
        let s =
            Scan::of(b"8=FIX.4.4\x0135=D\x0134=5\x0134=6\x0143=Y\x01=\x01abc\x0199999999999=1\x01");
        assert_eq!(s.seq, Some(&b"5"[..]));
        assert!(s.poss_dup);
        assert_eq!(s.msg_type, Some(&b"D"[..]));
        for junk in [&b""[..], b"\x01\x01", b"=", b"34", b"34=\x01"] {
            let _ = Scan::of(junk);
        }
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"1a"), None);
    }

    #[test]
    fn msg_type_validity() {
        for ok in [
            &b"0"[..],
            b"A",
            b"D",
            b"8",
            b"j",
            b"AE",
            b"BH",
            b"U1",
            b"UABC",
        ] {
            assert!(is_valid_msg_type(ok), "{:?}", ok);
        }
        for bad in [&b""[..], b"I", b"ZZ", b"1A", b"ABC", b"?"] {
            assert!(!is_valid_msg_type(bad), "{:?}", bad);
        }
    }
}
