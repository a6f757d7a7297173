//! The stream framer: exactly the rules of `docs/sequencer.md` section 2.
//!
//! [`Framer`] is fed chunks as they come off the wire and reports every complete message
//! ([`Frame::Message`], a borrowed view, copied only when it spans chunks) and every framing
//! failure ([`Frame::Garbled`], with the contract's reason, offset and length). [`ByteFramer`]
//! is the same state machine one byte at a time; the fast framer falls back to it for anything
//! unusual and is tested record-for-record against it.
//!
//! # Interpretation notes
//!
//! Where the contract leaves a detail implicit this implementation does the following (the
//! hwsim reference and the RTL must do the same):
//!
//! * The trailer check happens *at* body position `bs+L`: if byte `bs+L−1` is not SOH, or byte
//!   `bs+L` is not `1`, the message ends `BODY_LENGTH_MISMATCH` at byte `bs+L` (length
//!   `bs+L−s+1`); `0` and `=` are checked at `bs+L+1` and `bs+L+2`.
//! * In BodyLength, any byte that is neither a digit nor (after at least one digit) SOH is
//!   `BODY_LENGTH_INVALID` at that byte, as is a tenth digit.
//! * The matchers use the literal rules: `k2 := k2+1` only while `k2 < 5` (a completed `8=FIX`
//!   followed by `8` gives 1), likewise `k` below 6.
//! * The start rule applies only to a byte processed in HUNT: an `8=FIX` completed by the byte
//!   that garbles a message does not start one (the next byte moves `k2` off 5).
//! * A CheckSum value above 255 never matches (`CHECKSUM_MISMATCH`).
//!
//! `hwsim/src/frame.rs` documents the same choices; the two references were cross-checked on
//! 40 000 random and mutated streams.

use crate::scan;
use crate::SOH;
use core::fmt;

/// Longest possible header before the TOO_LONG check: `8=FIXT.1.1|9=` + 9 digits + SOH.
pub const HEADER_MAX: usize = 23;

/// Largest accepted `max_msg` (the contract's `MAX_MSG ≤ 2^24−1`: lengths fit the 24-bit field).
pub const MAX_MSG_LIMIT: usize = (1 << 24) - 1;

/// Why a message failed framing. The discriminants are the contract's GARBLED reason codes
/// (`hwsim::contract::Reason`), 1..=9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GarbledReason {
    /// Not `8=FIX.4.0`..`8=FIX.4.4` or `8=FIXT.1.1` followed by SOH.
    BadBeginString = 1,
    /// The second field is not `9=`.
    BodyLengthMissing = 2,
    /// BodyLength(9) is not 1–9 decimal digits followed by SOH.
    BodyLengthInvalid = 3,
    /// The body does not begin with a complete, non-empty `35=` field.
    MsgTypeNotThird = 4,
    /// No `SOH 10=` at the position BodyLength gives.
    BodyLengthMismatch = 5,
    /// CheckSum(10) is not three decimal digits followed by SOH.
    ChecksumMalformed = 6,
    /// CheckSum(10) differs from the byte sum.
    ChecksumMismatch = 7,
    /// The declared length exceeds the configured maximum.
    TooLong = 8,
    /// `SOH 8=FIX` appeared inside the message: a new message starts at its `8`.
    Interrupted = 9,
}

impl GarbledReason {
    /// Every reason, in code order.
    pub const ALL: [GarbledReason; 9] = [
        GarbledReason::BadBeginString,
        GarbledReason::BodyLengthMissing,
        GarbledReason::BodyLengthInvalid,
        GarbledReason::MsgTypeNotThird,
        GarbledReason::BodyLengthMismatch,
        GarbledReason::ChecksumMalformed,
        GarbledReason::ChecksumMismatch,
        GarbledReason::TooLong,
        GarbledReason::Interrupted,
    ];

    /// The contract's numeric code (1..=9).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Decodes a code; `None` outside 1..=9.
    pub const fn from_code(code: u8) -> Option<GarbledReason> {
        Some(match code {
            1 => GarbledReason::BadBeginString,
            2 => GarbledReason::BodyLengthMissing,
            3 => GarbledReason::BodyLengthInvalid,
            4 => GarbledReason::MsgTypeNotThird,
            5 => GarbledReason::BodyLengthMismatch,
            6 => GarbledReason::ChecksumMalformed,
            7 => GarbledReason::ChecksumMismatch,
            8 => GarbledReason::TooLong,
            9 => GarbledReason::Interrupted,
            _ => return None,
        })
    }

    /// Human-readable description, for logs, errors and Reject texts.
    pub const fn describe(self) -> &'static str {
        match self {
            GarbledReason::BadBeginString => "bad BeginString(8)",
            GarbledReason::BodyLengthMissing => "BodyLength(9) missing or not the second field",
            GarbledReason::BodyLengthInvalid => "BodyLength(9) not 1-9 digits",
            GarbledReason::MsgTypeNotThird => "MsgType(35) missing, empty or not the third field",
            GarbledReason::BodyLengthMismatch => {
                "BodyLength(9) does not match: no CheckSum(10) at the declared end"
            }
            GarbledReason::ChecksumMalformed => "CheckSum(10) not three digits",
            GarbledReason::ChecksumMismatch => "CheckSum(10) wrong",
            GarbledReason::TooLong => "message longer than the configured maximum",
            GarbledReason::Interrupted => "a new message (SOH 8=FIX) began inside this one",
        }
    }
}

impl fmt::Display for GarbledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl std::error::Error for GarbledReason {}

/// One framing result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A valid message: its bytes (BeginString through the CheckSum's SOH) and the stream offset
    /// of its first byte.
    Message {
        /// The whole message.
        bytes: &'a [u8],
        /// Stream offset of `bytes[0]`.
        offset: u64,
    },
    /// A framing failure: the bytes `offset .. offset+length` were a message attempt that failed.
    Garbled {
        /// Why it failed.
        reason: GarbledReason,
        /// Stream offset of the attempt's first byte (its `8`).
        offset: u64,
        /// Length in bytes per the contract (up to and including the offending byte, or up to
        /// the interrupting `8` for [`GarbledReason::Interrupted`]).
        length: u32,
    },
}

impl<'a> Frame<'a> {
    /// The record's stream offset.
    pub fn offset(&self) -> u64 {
        match *self {
            Frame::Message { offset, .. } | Frame::Garbled { offset, .. } => offset,
        }
    }

    /// The record's length in bytes.
    pub fn len(&self) -> u32 {
        match *self {
            Frame::Message { bytes, .. } => bytes.len() as u32,
            Frame::Garbled { length, .. } => length,
        }
    }

    /// True for a zero-length record (never produced by the framers).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A view of the message, for a valid record.
    pub fn message(&self) -> Option<crate::Message<'a>> {
        match *self {
            Frame::Message { bytes, .. } => Some(crate::Message::new_unchecked(bytes)),
            Frame::Garbled { .. } => None,
        }
    }

    /// The record without the bytes (what the sequencer's verdict carries).
    pub fn record(&self) -> Record {
        match *self {
            Frame::Message { bytes, offset } => Record::Valid {
                offset,
                length: bytes.len() as u32,
            },
            Frame::Garbled {
                reason,
                offset,
                length,
            } => Record::Garbled {
                reason,
                offset,
                length,
            },
        }
    }
}

/// A framing result without the bytes (what [`ByteFramer`] reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Record {
    /// A valid message at `offset` of `length` bytes.
    Valid {
        /// Stream offset of the first byte.
        offset: u64,
        /// Length in bytes.
        length: u32,
    },
    /// A failed message attempt.
    Garbled {
        /// Why it failed.
        reason: GarbledReason,
        /// Stream offset of the first byte.
        offset: u64,
        /// Length in bytes per the contract.
        length: u32,
    },
}

impl Record {
    /// Stream offset of the record's first byte.
    pub fn offset(&self) -> u64 {
        match *self {
            Record::Valid { offset, .. } | Record::Garbled { offset, .. } => offset,
        }
    }

    /// Length in bytes.
    pub fn length(&self) -> u32 {
        match *self {
            Record::Valid { length, .. } | Record::Garbled { length, .. } => length,
        }
    }
}

const K2PAT: &[u8; 5] = b"8=FIX";
const KPAT: &[u8; 6] = b"\x018=FIX";
/// Sum of `8=FIX` modulo 256.
const START_SUM: u8 = (b'8' as u32 + b'=' as u32 + b'F' as u32 + b'I' as u32 + b'X' as u32) as u8;

#[inline(always)]
fn next_k2(k2: u8, b: u8) -> u8 {
    if k2 < 5 && b == K2PAT[k2 as usize] {
        k2 + 1
    } else if b == b'8' {
        1
    } else {
        0
    }
}

#[inline(always)]
fn next_k(k: u8, b: u8) -> u8 {
    if k < 6 && b == KPAT[k as usize] {
        k + 1
    } else if b == SOH {
        1
    } else {
        0
    }
}

/// Matcher state after `bytes` (at least `pat.len()` of them, none of which completed `KPAT`
/// for `k`): the longest suffix of `bytes` that is a prefix of `pat`. Equals the literal
/// matcher rules because neither pattern's first byte recurs in it.
#[inline]
fn suffix_state(bytes: &[u8], pat: &[u8], max: usize) -> u8 {
    let n = bytes.len();
    'm: for m in (1..=max.min(n)).rev() {
        for j in 0..m {
            if bytes[n - m + j] != pat[j] {
                continue 'm;
            }
        }
        return m as u8;
    }
    0
}

/// True if `b[i..i + 5]` is `8=FIX`.
#[inline(always)]
fn is_start(b: &[u8], i: usize) -> bool {
    match b.get(i..i + 5) {
        Some(w) => w[0] == b'8' && w[1] == b'=' && w[2] == b'F' && w[3] == b'I' && w[4] == b'X',
        None => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Hunt,
    /// After `8=FIX`: number of BeginString continuation bytes accepted (`.4.x` variant).
    Begin(u8),
    /// `T.1.1` variant: continuation bytes accepted.
    BeginT(u8),
    /// `9=`: bytes accepted.
    BodyTag(u8),
    BodyLen,
    /// `35=`: bytes accepted.
    MsgTag(u8),
    /// Inside the MsgType value: whether at least one byte was seen.
    MsgVal(bool),
    /// Rest of the body.
    Body,
    /// Trailer `10=`: bytes accepted (1 or 2; the `1` is checked in the body phases).
    Trailer(u8),
    /// CheckSum digits accepted.
    Check(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    None,
    Started,
    Valid {
        offset: u64,
        length: u32,
    },
    Garbled {
        reason: GarbledReason,
        offset: u64,
        length: u32,
    },
    /// The current message was interrupted (garbled) and a new one started at `p-4`.
    Interrupted {
        offset: u64,
        length: u32,
    },
}

/// The byte-serial state machine (positions are passed in, so it can run over slices).
#[derive(Clone, Debug)]
struct Machine {
    max_msg: u64,
    k: u8,
    k2: u8,
    phase: Phase,
    s: u64,
    sum: u8,
    bl: u64,
    bl_digits: u8,
    end_body: u64,
    prev_soh: bool,
    ck: u16,
}

impl Machine {
    fn new(max_msg: usize) -> Machine {
        Machine {
            max_msg: max_msg as u64,
            k: 1,
            k2: 0,
            phase: Phase::Hunt,
            s: 0,
            sum: 0,
            bl: 0,
            bl_digits: 0,
            end_body: 0,
            prev_soh: false,
            ck: 0,
        }
    }

    fn reset(&mut self) {
        *self = Machine::new(self.max_msg as usize);
    }

    #[inline(always)]
    fn begin(&mut self, s: u64) {
        self.phase = Phase::Begin(0);
        self.s = s;
        self.sum = START_SUM;
        self.k = 0;
        self.k2 = 0;
    }

    #[inline(always)]
    fn garble(&mut self, reason: GarbledReason, p: u64) -> Step {
        self.phase = Phase::Hunt;
        Step::Garbled {
            reason,
            offset: self.s,
            length: (p - self.s + 1) as u32,
        }
    }

    /// Processes byte `b` at stream position `p`.
    fn step(&mut self, p: u64, b: u8) -> Step {
        use GarbledReason as R;
        self.k2 = next_k2(self.k2, b);
        self.k = next_k(self.k, b);
        if self.phase == Phase::Hunt {
            if self.k2 == 5 {
                self.begin(p - 4);
                return Step::Started;
            }
            return Step::None;
        }
        if self.k == 6 {
            let (offset, length) = (self.s, (p - 4 - self.s) as u32);
            self.begin(p - 4);
            return Step::Interrupted { offset, length };
        }
        let phase = self.phase;
        match phase {
            Phase::Hunt => Step::None,
            Phase::Begin(i) => {
                let next = match (i, b) {
                    (0, b'.') => Phase::Begin(1),
                    (0, b'T') => Phase::BeginT(1),
                    (1, b'4') => Phase::Begin(2),
                    (2, b'.') => Phase::Begin(3),
                    (3, b'0'..=b'4') => Phase::Begin(4),
                    (4, SOH) => Phase::BodyTag(0),
                    _ => return self.garble(R::BadBeginString, p),
                };
                self.phase = next;
                self.sum = self.sum.wrapping_add(b);
                Step::None
            }
            Phase::BeginT(i) => {
                let next = match (i, b) {
                    (1, b'.') => Phase::BeginT(2),
                    (2, b'1') => Phase::BeginT(3),
                    (3, b'.') => Phase::BeginT(4),
                    (4, b'1') => Phase::BeginT(5),
                    (5, SOH) => Phase::BodyTag(0),
                    _ => return self.garble(R::BadBeginString, p),
                };
                self.phase = next;
                self.sum = self.sum.wrapping_add(b);
                Step::None
            }
            Phase::BodyTag(i) => {
                let next = match (i, b) {
                    (0, b'9') => Phase::BodyTag(1),
                    (1, b'=') => {
                        self.bl = 0;
                        self.bl_digits = 0;
                        Phase::BodyLen
                    }
                    _ => return self.garble(R::BodyLengthMissing, p),
                };
                self.phase = next;
                self.sum = self.sum.wrapping_add(b);
                Step::None
            }
            Phase::BodyLen => {
                match b {
                    b'0'..=b'9' if self.bl_digits < 9 => {
                        self.bl = self.bl * 10 + u64::from(b - b'0');
                        self.bl_digits += 1;
                    }
                    SOH if self.bl_digits > 0 => {
                        let h = p - self.s + 1;
                        if h + self.bl + 7 > self.max_msg {
                            return self.garble(R::TooLong, p);
                        }
                        self.end_body = p + 1 + self.bl;
                        self.phase = Phase::MsgTag(0);
                    }
                    _ => return self.garble(R::BodyLengthInvalid, p),
                }
                self.sum = self.sum.wrapping_add(b);
                Step::None
            }
            Phase::MsgTag(_) | Phase::MsgVal(_) | Phase::Body => {
                if p == self.end_body {
                    if phase != Phase::Body {
                        return self.garble(R::MsgTypeNotThird, p);
                    }
                    if !self.prev_soh || b != b'1' {
                        return self.garble(R::BodyLengthMismatch, p);
                    }
                    self.phase = Phase::Trailer(1);
                    return Step::None;
                }
                match phase {
                    Phase::MsgTag(i) => {
                        if b != b"35="[i as usize] {
                            return self.garble(R::MsgTypeNotThird, p);
                        }
                        self.phase = if i == 2 {
                            Phase::MsgVal(false)
                        } else {
                            Phase::MsgTag(i + 1)
                        };
                    }
                    Phase::MsgVal(any) => {
                        if b == SOH {
                            if !any {
                                return self.garble(R::MsgTypeNotThird, p);
                            }
                            self.phase = Phase::Body;
                        } else if !any {
                            self.phase = Phase::MsgVal(true);
                        }
                    }
                    _ => {}
                }
                self.sum = self.sum.wrapping_add(b);
                self.prev_soh = b == SOH;
                Step::None
            }
            Phase::Trailer(i) => {
                match (i, b) {
                    (1, b'0') => self.phase = Phase::Trailer(2),
                    (2, b'=') => {
                        self.ck = 0;
                        self.phase = Phase::Check(0);
                    }
                    _ => return self.garble(R::BodyLengthMismatch, p),
                }
                Step::None
            }
            Phase::Check(i) => {
                if i < 3 {
                    if !b.is_ascii_digit() {
                        return self.garble(R::ChecksumMalformed, p);
                    }
                    self.ck = self.ck * 10 + u16::from(b - b'0');
                    self.phase = Phase::Check(i + 1);
                    Step::None
                } else if b != SOH {
                    self.garble(R::ChecksumMalformed, p)
                } else if self.ck != u16::from(self.sum) {
                    self.garble(R::ChecksumMismatch, p)
                } else {
                    self.phase = Phase::Hunt;
                    Step::Valid {
                        offset: self.s,
                        length: (p - self.s + 1) as u32,
                    }
                }
            }
        }
    }

    /// Consumes a run of body bytes at once. Precondition: phase `Body`, `k == 0`, `p` before
    /// the body's end. Returns how many bytes of `bytes` (starting at stream position `p`) were
    /// consumed; 0 means "step one byte instead".
    fn bulk_body(&mut self, p: u64, bytes: &[u8]) -> usize {
        debug_assert!(self.phase == Phase::Body && self.k == 0);
        if p >= self.end_body {
            return 0;
        }
        let avail = (self.end_body - p).min(bytes.len() as u64) as usize;
        if avail < 8 {
            return 0;
        }
        let r = &bytes[..avail];
        let (mut sum, found) = scan::sum_find(r);
        let stop = found.unwrap_or(avail);
        if stop < 8 {
            return 0;
        }
        let c = &r[..stop];
        if found.is_some() {
            sum = scan::sum(c);
        }
        self.sum = self.sum.wrapping_add(sum);
        // `c` holds no complete `SOH 8=FIX` and k was 0 before it.
        self.k = suffix_state(c, KPAT, 5);
        self.k2 = suffix_state(c, K2PAT, 5);
        self.prev_soh = c[stop - 1] == SOH;
        stop
    }

    /// At the trailer position (`p == end_body`) with `t` the bytes from there: if they hold a
    /// complete `10=ddd SOH` with the right sum after a body ending in SOH, ends the message as
    /// valid (state HUNT, as the byte machine would leave it) and returns true.
    #[inline]
    fn fast_trailer(&mut self, t: &[u8]) -> bool {
        if self.phase != Phase::Body || !self.prev_soh || t.len() < 7 {
            return false;
        }
        if t[0] != b'1' || t[1] != b'0' || t[2] != b'=' || t[6] != SOH {
            return false;
        }
        match (digit(t[3]), digit(t[4]), digit(t[5])) {
            (Some(a), Some(b), Some(c)) if a * 100 + b * 10 + c == u64::from(self.sum) => {
                self.phase = Phase::Hunt;
                self.k = 1;
                self.k2 = 0;
                true
            }
            _ => false,
        }
    }

    /// Puts the machine where the byte machine would be after accepting `head` (a message
    /// prefix through its MsgType SOH, already checked by [`fast_message`]) starting at `s`.
    fn resume_body(&mut self, s: u64, head: &[u8], end: usize) {
        self.phase = Phase::Body;
        self.s = s;
        self.sum = scan::sum(head);
        self.k = 1;
        self.k2 = 0;
        self.prev_soh = true;
        self.end_body = s + end as u64;
    }

    /// Like [`Machine::resume_body`], for a `region` from the message start that extends past
    /// the MsgType field, stays inside the body, holds no `SOH 8=FIX`, and sums to `sum`.
    fn resume_bulk(&mut self, s: u64, region: &[u8], sum: u8, end: usize) {
        debug_assert!(region.len() >= 10 && region.len() <= end);
        self.phase = Phase::Body;
        self.s = s;
        self.sum = sum;
        // The last 5 bytes all follow the matcher reset at s+4.
        self.k = suffix_state(region, KPAT, 5);
        self.k2 = suffix_state(region, K2PAT, 5);
        self.prev_soh = region.last() == Some(&SOH);
        self.end_body = s + end as u64;
    }

    /// What the next check would report if the input ended here (for [`crate::Message::new_checked`]).
    fn truncated_reason(&self) -> GarbledReason {
        use GarbledReason as R;
        match self.phase {
            Phase::Hunt | Phase::Begin(_) | Phase::BeginT(_) => R::BadBeginString,
            Phase::BodyTag(_) => R::BodyLengthMissing,
            Phase::BodyLen => R::BodyLengthInvalid,
            Phase::MsgTag(_) | Phase::MsgVal(_) => R::MsgTypeNotThird,
            Phase::Body | Phase::Trailer(_) => R::BodyLengthMismatch,
            Phase::Check(_) => R::ChecksumMalformed,
        }
    }
}

/// The byte-serial reference framer: docs/sequencer.md section 2 transcribed one byte at a
/// time. Slow (a few hundred MB/s) but obviously faithful; [`Framer`] must agree with it
/// record for record on every input and every chunking.
#[derive(Clone, Debug)]
pub struct ByteFramer {
    m: Machine,
    p: u64,
}

impl ByteFramer {
    /// A framer in the stream-start state with the given maximum message length (clamped to
    /// [`MAX_MSG_LIMIT`]).
    pub fn new(max_msg: usize) -> ByteFramer {
        ByteFramer {
            m: Machine::new(max_msg.min(MAX_MSG_LIMIT)),
            p: 0,
        }
    }

    /// Back to the stream-start state (offset 0, HUNT, k = 1, k2 = 0).
    pub fn reset(&mut self) {
        self.m.reset();
        self.p = 0;
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.p
    }

    /// True while a message attempt is in progress (not HUNT).
    pub fn in_message(&self) -> bool {
        self.m.phase != Phase::Hunt
    }

    /// Feeds one byte; returns the record it completes, if any (at most one per byte).
    pub fn push(&mut self, b: u8) -> Option<Record> {
        let p = self.p;
        self.p += 1;
        match self.m.step(p, b) {
            Step::None | Step::Started => None,
            Step::Valid { offset, length } => Some(Record::Valid { offset, length }),
            Step::Garbled {
                reason,
                offset,
                length,
            } => Some(Record::Garbled {
                reason,
                offset,
                length,
            }),
            Step::Interrupted { offset, length } => Some(Record::Garbled {
                reason: GarbledReason::Interrupted,
                offset,
                length,
            }),
        }
    }

    /// Feeds a slice, appending every record to `out`.
    pub fn push_all(&mut self, bytes: &[u8], out: &mut Vec<Record>) {
        for &b in bytes {
            if let Some(r) = self.push(b) {
                out.push(r);
            }
        }
    }
}

/// Checks that `bytes` is exactly one valid message under the framing rules (with no length
/// limit beyond [`MAX_MSG_LIMIT`]). Returns the failing rule otherwise; extra bytes after a
/// valid message give [`GarbledReason::BodyLengthMismatch`].
pub fn validate(bytes: &[u8]) -> Result<(), GarbledReason> {
    if bytes.len() < 5 || &bytes[..5] != K2PAT {
        return Err(GarbledReason::BadBeginString);
    }
    if let Fast::Valid(len) = fast_message(bytes, MAX_MSG_LIMIT as u64) {
        return if len == bytes.len() {
            Ok(())
        } else {
            Err(GarbledReason::BodyLengthMismatch)
        };
    }
    let mut m = Machine::new(MAX_MSG_LIMIT);
    m.begin(0);
    for (i, &b) in bytes.iter().enumerate().skip(5) {
        match m.step(i as u64, b) {
            Step::None | Step::Started => {}
            Step::Valid { length, .. } => {
                return if length as usize == bytes.len() {
                    Ok(())
                } else {
                    Err(GarbledReason::BodyLengthMismatch)
                };
            }
            Step::Garbled { reason, .. } => return Err(reason),
            Step::Interrupted { .. } => return Err(GarbledReason::Interrupted),
        }
    }
    Err(m.truncated_reason())
}

#[inline(always)]
fn digit(b: u8) -> Option<u64> {
    let d = b.wrapping_sub(b'0');
    if d < 10 {
        Some(u64::from(d))
    } else {
        None
    }
}

/// Parses a header at the start of `b` (which begins with `8=FIX`) the way the byte machine
/// would accept it: BeginString, `9=`, 1–9 digits, SOH, within `max_msg`. Returns the body start
/// and BodyLength, or `None` if any of it is missing or wrong.
#[inline(always)]
fn fast_header(b: &[u8], max_msg: u64) -> Option<(usize, usize)> {
    let n = b.len();
    let mut i = if n > 10
        && b[5] == b'.'
        && b[6] == b'4'
        && b[7] == b'.'
        && (b'0'..=b'4').contains(&b[8])
        && b[9] == SOH
    {
        10
    } else if n > 11
        && b[5] == b'T'
        && b[6] == b'.'
        && b[7] == b'1'
        && b[8] == b'.'
        && b[9] == b'1'
        && b[10] == SOH
    {
        11
    } else {
        return None;
    };
    if b.get(i) != Some(&b'9') || b.get(i + 1) != Some(&b'=') {
        return None;
    }
    i += 2;
    let d0 = i;
    let mut l = digit(*b.get(i)?)?;
    i += 1;
    loop {
        let c = *b.get(i)?;
        let Some(d) = digit(c) else { break };
        if i - d0 == 9 {
            return None;
        }
        l = l * 10 + d;
        i += 1;
    }
    if b[i] != SOH {
        return None;
    }
    let bs = i + 1;
    if bs as u64 + l + 7 > max_msg {
        return None;
    }
    Some((bs, l as usize))
}

/// Outcome of the fast path at a message start.
enum Fast {
    /// A complete valid message of this length.
    Valid(usize),
    /// The message continues past the end of the bytes, which are a valid prefix through the
    /// MsgType field: resume the machine in the body after `mt_end` (the MsgType's SOH).
    Resume {
        bs: usize,
        end: usize,
        mt_end: usize,
    },
    /// Anything else: run the byte machine.
    Slow,
}

/// The fast path: `b` starts with `8=FIX` at a message start. Recognises a complete valid
/// message (one the byte machine would accept with no interrupt) or a valid prefix cut after
/// its MsgType; everything else — garbled, too long, cut early — goes to the byte machine.
#[inline]
fn fast_message(b: &[u8], max_msg: u64) -> Fast {
    let Some((bs, l)) = fast_header(b, max_msg) else {
        return Fast::Slow;
    };
    let n = b.len();
    let end = bs + l;
    let total = end + 7;
    if l < 5
        || n < bs + 5
        || b[bs] != b'3'
        || b[bs + 1] != b'5'
        || b[bs + 2] != b'='
        || b[bs + 3] == SOH
    {
        return Fast::Slow;
    }
    if total > n {
        // MsgType must end (SOH) before the body's end and within the bytes we have.
        return match memchr::memchr(SOH, &b[bs + 4..n.min(end)]) {
            Some(j) => Fast::Resume {
                bs,
                end,
                mt_end: bs + 4 + j,
            },
            None => Fast::Slow,
        };
    }
    // The body's last byte is SOH, so the MsgType field is complete inside the body.
    if b[end - 1] != SOH {
        return Fast::Slow;
    }
    let t = &b[end..total];
    if t[0] != b'1' || t[1] != b'0' || t[2] != b'=' || t[6] != SOH {
        return Fast::Slow;
    }
    let (Some(d0), Some(d1), Some(d2)) = (digit(t[3]), digit(t[4]), digit(t[5])) else {
        return Fast::Slow;
    };
    let (sum, interrupt) = scan::sum_find(&b[..end]);
    if interrupt.is_some() || u64::from(sum) != d0 * 100 + d1 * 10 + d2 {
        return Fast::Slow;
    }
    Fast::Valid(total)
}

/// The stream framer (see the module documentation).
///
/// Memory: one reassembly buffer of `max(max_msg, HEADER_MAX)` bytes, allocated by
/// [`Framer::new`]; nothing is allocated afterwards whatever the peer sends.
#[derive(Clone, Debug)]
pub struct Framer {
    m: Machine,
    offset: u64,
    buf: Box<[u8]>,
    buf_len: usize,
}

impl Framer {
    /// A framer in the stream-start state. `max_msg` is the contract's `MAX_MSG`, clamped to
    /// [`MAX_MSG_LIMIT`].
    pub fn new(max_msg: usize) -> Framer {
        let max_msg = max_msg.min(MAX_MSG_LIMIT);
        Framer {
            m: Machine::new(max_msg),
            offset: 0,
            buf: vec![0u8; max_msg.max(HEADER_MAX)].into_boxed_slice(),
            buf_len: 0,
        }
    }

    /// The configured maximum message length.
    pub fn max_msg(&self) -> usize {
        self.m.max_msg as usize
    }

    /// Back to the stream-start state (offset 0, HUNT, k = 1); a partial message is dropped.
    pub fn reset(&mut self) {
        self.m.reset();
        self.offset = 0;
        self.buf_len = 0;
    }

    /// Bytes consumed so far (the stream offset of the next byte fed).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True while a message attempt is in progress at the end of the bytes fed so far.
    pub fn in_message(&self) -> bool {
        self.m.phase != Phase::Hunt
    }

    /// Bytes of the in-progress message held in the reassembly buffer.
    pub fn buffered(&self) -> usize {
        if self.in_message() {
            self.buf_len
        } else {
            0
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = self.buf.len() - self.buf_len;
        debug_assert!(bytes.len() <= room, "message exceeds the reassembly buffer");
        let n = bytes.len().min(room);
        self.buf[self.buf_len..self.buf_len + n].copy_from_slice(&bytes[..n]);
        self.buf_len += n;
    }

    /// A message started with its `X` (of `8=FIX`) at chunk index `q < 4`: the earlier bytes of
    /// `8=FIX` came from previous chunks.
    fn carry_prefix(&mut self, q: usize) {
        let pre = 4 - q;
        self.buf[..pre].copy_from_slice(&K2PAT[..pre]);
        self.buf_len = pre;
    }

    /// HUNT from chunk index `i`: returns the index of the byte that completes `8=FIX` (the
    /// machine then holds the new message), or `None` at the end of the chunk.
    #[inline]
    fn hunt(&mut self, chunk: &[u8], mut i: usize, base: u64) -> Option<usize> {
        let n = chunk.len();
        while i < n {
            if self.m.k2 == 0 {
                if chunk[i] != b'8' {
                    i += memchr::memchr(b'8', &chunk[i..])?;
                }
                if is_start(chunk, i) {
                    self.m.begin(base + i as u64);
                    return Some(i + 4);
                }
            }
            self.m.k2 = next_k2(self.m.k2, chunk[i]);
            if self.m.k2 == 5 {
                self.m.begin(base + i as u64 - 4);
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Emits the valid message whose last byte is `chunk[e]` and whose bytes are
    /// `buf[..buf_len]` followed by `chunk[ms..=e]`.
    #[inline]
    fn emit_valid(
        &mut self,
        chunk: &[u8],
        ms: usize,
        e: usize,
        offset: u64,
        on_frame: &mut impl FnMut(Frame<'_>),
    ) {
        if self.buf_len == 0 {
            on_frame(Frame::Message {
                bytes: &chunk[ms..=e],
                offset,
            });
        } else {
            self.append(&chunk[ms..=e]);
            on_frame(Frame::Message {
                bytes: &self.buf[..self.buf_len],
                offset,
            });
            self.buf_len = 0;
        }
    }

    /// Feeds the next chunk of the stream; `on_frame` is called for every record it completes,
    /// in stream order, as soon as the byte that completes it is fed (exactly when
    /// [`ByteFramer::push`] would report it). Message views borrow `chunk` (or, for a message
    /// that began in an earlier chunk, the framer's buffer) and live only for the call.
    pub fn feed(&mut self, chunk: &[u8], mut on_frame: impl FnMut(Frame<'_>)) {
        let base = self.offset;
        let n = chunk.len();
        let mut i = 0usize;
        // Index in `chunk` where the current message's bytes continue (after `buf[..buf_len]`).
        let mut ms = 0usize;
        while i < n {
            if self.m.phase == Phase::Hunt {
                let Some(q) = self.hunt(chunk, i, base) else {
                    break;
                };
                i = q + 1;
                if q >= 4 {
                    let s = q - 4;
                    ms = s;
                    self.buf_len = 0;
                    match fast_message(&chunk[s..], self.m.max_msg) {
                        Fast::Valid(len) => {
                            on_frame(Frame::Message {
                                bytes: &chunk[s..s + len],
                                offset: base + s as u64,
                            });
                            self.m.phase = Phase::Hunt;
                            self.m.k = 1;
                            self.m.k2 = 0;
                            i = s + len;
                            continue;
                        }
                        Fast::Resume { bs, end, mt_end } => {
                            debug_assert!(bs < mt_end && mt_end < end);
                            // Take everything up to the chunk's end (or the body's) at once.
                            let stop = n.min(s + end);
                            let region = &chunk[s..stop];
                            match scan::sum_find(region) {
                                (sum, None) => {
                                    self.m.resume_bulk(base + s as u64, region, sum, end);
                                    i = stop;
                                }
                                (_, Some(_)) => {
                                    let head = &chunk[s..=s + mt_end];
                                    self.m.resume_body(base + s as u64, head, end);
                                    i = s + mt_end + 1;
                                }
                            }
                        }
                        Fast::Slow => {}
                    }
                } else {
                    self.carry_prefix(q);
                    ms = 0;
                }
            }
            // In a message: the byte machine, with runs of body bytes and the trailer taken in bulk.
            while i < n {
                if self.m.phase == Phase::Body {
                    if self.m.k == 0 {
                        i += self.m.bulk_body(base + i as u64, &chunk[i..]);
                        if i >= n {
                            break;
                        }
                    }
                    if base + i as u64 == self.m.end_body && self.m.fast_trailer(&chunk[i..]) {
                        let offset = self.m.s;
                        self.emit_valid(chunk, ms, i + 6, offset, &mut on_frame);
                        i += 7;
                        break;
                    }
                }
                match self.m.step(base + i as u64, chunk[i]) {
                    Step::None | Step::Started => i += 1,
                    Step::Valid { offset, .. } => {
                        self.emit_valid(chunk, ms, i, offset, &mut on_frame);
                        i += 1;
                        break;
                    }
                    Step::Garbled {
                        reason,
                        offset,
                        length,
                    } => {
                        on_frame(Frame::Garbled {
                            reason,
                            offset,
                            length,
                        });
                        self.buf_len = 0;
                        i += 1;
                        break;
                    }
                    Step::Interrupted { offset, length } => {
                        on_frame(Frame::Garbled {
                            reason: GarbledReason::Interrupted,
                            offset,
                            length,
                        });
                        if i >= 4 {
                            ms = i - 4;
                            self.buf_len = 0;
                        } else {
                            self.carry_prefix(i);
                            ms = 0;
                        }
                        i += 1;
                    }
                }
            }
        }
        if self.m.phase != Phase::Hunt && ms < n {
            self.append(&chunk[ms..]);
        }
        self.offset = base + n as u64;
    }
}
