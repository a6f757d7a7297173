//! Byte-serial framing and field-extraction reference: `docs/sequencer.md` section 2, exactly.
//!
//! [`FrameState`] is the per-session state the RTL keeps in registers: plain data, `Copy`, no
//! heap, constant size. [`FrameState::step`] consumes one byte and returns the [`Framed`] summary
//! of the message that ends at that byte, if any (at most one message ends per byte).
//!
//! Interpretations of points the contract leaves implicit (the RTL must do the same):
//!
//! * The matchers `k` and `k2` are updated first on every byte. The HUNT start rule
//!   ("when `k2` reaches 5") applies only to a byte processed while the state is `HUNT`: when a
//!   message ends garbled at a byte that completes `8=FIX`, no message starts at `p − 4`
//!   (the next byte moves `k2` off 5).
//! * BodyLength: `1 … 9` digits then SOH; a non-digit other than SOH after the digits, a tenth
//!   digit, or SOH/non-digit before the first digit is `BODY_LENGTH_INVALID` at that byte.
//! * At the trailer position `bs + L` the MsgType check comes first, then "byte `bs + L − 1` is
//!   SOH and this byte is `1`" (both failures are reported at `bs + L`), then `0`, then `=`.
//! * Field extraction: a tag is the bytes from a field start up to the first `=`; it is of interest
//!   only if it is 1 to 5 decimal digits (leading zeros allowed: `034` is tag 34) naming one of
//!   34, 36, 43, 97, 123, 141. A run of bytes ending in SOH with no `=` is not a field and is not
//!   an occurrence of anything. The first occurrence of a tag is the one that counts, even if its
//!   value is invalid (a later `34=` never repairs an invalid first one).
//! * MsgType bytes are kept verbatim (a NUL byte is kept as 0); `ADMIN` requires the value to be
//!   exactly one byte, so "MsgType `4`" in section 4 means `ADMIN` set and first byte `4`.
//! * A garbled [`Framed`] has every extraction field zero (section 3).

use crate::contract::{reason, Flags, Reason};

/// Start-of-header, the FIX field separator.
pub const SOH: u8 = 0x01;

const K_PAT: [u8; 6] = [SOH, b'8', b'=', b'F', b'I', b'X'];
const K2_PAT: [u8; 5] = *b"8=FIX";
/// Sum of the bytes `8=FIX`, mod 256 (the checksum accumulator at a message start).
const SUM_8FIX: u8 = (b'8' as u32 + b'=' as u32 + b'F' as u32 + b'I' as u32 + b'X' as u32) as u8;

/// Framer states (section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum St {
    /// Between messages.
    Hunt,
    /// After `8=FIX`, inside the version (`sub` = trie node).
    Begin,
    /// Expecting `9`.
    Nine,
    /// Expecting `=` after `9`.
    NineEq,
    /// BodyLength digits (`sub` = digit count).
    BodyLen,
    /// Body bytes (`remaining` left).
    Body,
    /// Trailer `10=ddd SOH` (`sub` = index 0..=6).
    Trailer,
}

/// Field-extraction sub-state inside the body, after MsgType.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Fs {
    /// Inside a tag.
    Tag,
    /// Inside the value of a tag of interest (first occurrence).
    Value,
    /// Inside a value that is not of interest.
    Skip,
}

/// Tags of interest besides MsgType, by index: bit `i` of `seen` is `TAGS[i]`.
const TAGS: [u32; 6] = [34, 36, 43, 97, 123, 141];
const T_SEQ: u8 = 0;
const T_NEW_SEQ: u8 = 1;
const NO_TAG: u8 = 0xFF;

/// Summary of one message as the framer sees it: where it is, whether it is garbled, and the
/// extracted fields the sequencer needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framed {
    /// Offset of the message's first byte in the session's stream (not masked).
    pub offset: u64,
    /// Length in bytes.
    pub length: u32,
    /// GARBLED reason code 1..=9 ([`Reason`]), 0 = valid.
    pub garbled: u8,
    /// First four bytes of MsgType, zero-padded (0 when garbled).
    pub msg_type: [u8; 4],
    /// [`Flags`] bits `POSS_DUP`, `POSS_RESEND`, `ADMIN`, `GAP_FILL`, `RESET_SEQ_NUM`,
    /// `HAS_NEW_SEQ_NO`, `MSG_TYPE_LONG` as extracted (0 when garbled).
    pub flags: u8,
    /// MsgSeqNum(34) when `seq_status == 0`, else 0.
    pub seq: u32,
    /// 0 = valid, [`reason::SEQ_MISSING`] or [`reason::SEQ_INVALID`] (0 when garbled).
    pub seq_status: u8,
    /// NewSeqNo(36) when `HAS_NEW_SEQ_NO`, else 0.
    pub new_seq_no: u32,
}

impl Framed {
    /// A garbled summary: only offset, length and reason.
    pub const fn garbled(offset: u64, length: u32, why: Reason) -> Framed {
        Framed {
            offset,
            length,
            garbled: why as u8,
            msg_type: [0; 4],
            flags: 0,
            seq: 0,
            seq_status: 0,
            new_seq_no: 0,
        }
    }

    /// True when the message framed correctly.
    pub const fn is_valid(&self) -> bool {
        self.garbled == 0
    }

    /// True for a SequenceReset (MsgType exactly `4`).
    pub const fn is_sequence_reset(&self) -> bool {
        self.flags & Flags::ADMIN != 0 && self.msg_type[0] == b'4'
    }

    /// True for a Logon (MsgType exactly `A`).
    pub const fn is_logon(&self) -> bool {
        self.flags & Flags::ADMIN != 0 && self.msg_type[0] == b'A'
    }
}

/// True when MsgType `mt` (its full value) is an admin type: exactly one of `0 1 2 3 4 5 A`.
pub const fn is_admin_type(mt: &[u8]) -> bool {
    matches!(mt, [b'0'..=b'5' | b'A'])
}

/// Per-session framer and field-extraction state (section 2). Constant size, no heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameState {
    st: St,
    /// State-dependent counter: trie node, digit count or trailer index.
    sub: u8,
    /// `SOH 8=FIX` matcher.
    k: u8,
    /// `8=FIX` matcher.
    k2: u8,
    /// Previous body byte was SOH.
    last_soh: bool,
    /// Bytes consumed since the stream reset (offset of the next byte).
    offset: u64,
    /// Offset of the current message's first byte.
    start: u64,
    /// BodyLength value.
    body_len: u32,
    /// Body bytes still to come.
    remaining: u32,
    /// Checksum accumulator.
    sum: u8,
    /// CheckSum digits value.
    cks: u16,
    /// MsgType phase: 0,1,2 expect `3`,`5`,`=`; 3 first value byte; 4 in value; 5 complete.
    mt_phase: u8,
    /// MsgType value length, saturating at 5.
    mt_len: u8,
    msg_type: [u8; 4],
    fs: Fs,
    /// Tag value so far (at most 5 digits).
    tag: u32,
    tag_digits: u8,
    tag_bad: bool,
    /// Index into `TAGS` of the value being read, or `NO_TAG`.
    which: u8,
    /// Numeric value so far (at most 10 digits are accumulated).
    val: u64,
    /// Value length, saturating at 11.
    val_len: u8,
    val_bad: bool,
    val_first: u8,
    /// Bit `i`: `TAGS[i]` already occurred.
    seen: u8,
    flags: u8,
    seq: u32,
    seq_status: u8,
    new_seq_no: u32,
}

impl Default for FrameState {
    fn default() -> Self {
        FrameState::new()
    }
}

impl FrameState {
    /// The stream-reset state (`CONTROL.RESET_STREAM`): `HUNT`, offset 0, `k = 1`, `k2 = 0`.
    pub const fn new() -> FrameState {
        FrameState {
            st: St::Hunt,
            sub: 0,
            k: 1,
            k2: 0,
            last_soh: false,
            offset: 0,
            start: 0,
            body_len: 0,
            remaining: 0,
            sum: 0,
            cks: 0,
            mt_phase: 0,
            mt_len: 0,
            msg_type: [0; 4],
            fs: Fs::Tag,
            tag: 0,
            tag_digits: 0,
            tag_bad: false,
            which: NO_TAG,
            val: 0,
            val_len: 0,
            val_bad: false,
            val_first: 0,
            seen: 0,
            flags: 0,
            seq: 0,
            seq_status: reason::SEQ_MISSING,
            new_seq_no: 0,
        }
    }

    /// Offset of the next byte in the session's stream (bytes consumed since the reset).
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// True between messages (state `HUNT`).
    pub const fn is_hunting(&self) -> bool {
        matches!(self.st, St::Hunt)
    }

    /// Offset of the first byte of the message in progress (meaningless while hunting).
    pub const fn message_start(&self) -> u64 {
        self.start
    }

    /// Consumes one byte of the session's stream. Returns the message that ends at this byte,
    /// valid or garbled. `max_msg` is the `MAX_MSG` parameter (at most 2^24 − 1).
    #[inline]
    pub fn step(&mut self, b: u8, max_msg: u32) -> Option<Framed> {
        let p = self.offset;
        self.offset += 1;
        // The two suffix matchers run on every byte, whatever the state.
        let k = self.k as usize;
        self.k = if k < K_PAT.len() && b == K_PAT[k] {
            self.k + 1
        } else {
            u8::from(b == SOH)
        };
        let k2 = self.k2 as usize;
        self.k2 = if k2 < K2_PAT.len() && b == K2_PAT[k2] {
            self.k2 + 1
        } else {
            u8::from(b == b'8')
        };
        if self.st == St::Hunt {
            if self.k2 == 5 {
                self.begin_message(p - 4);
            }
            return None;
        }
        if self.k == 6 {
            let out = Framed::garbled(self.start, (p - 4 - self.start) as u32, Reason::Interrupted);
            self.begin_message(p - 4);
            return Some(out);
        }
        match self.st {
            St::Hunt => None,
            St::Begin => {
                self.sum = self.sum.wrapping_add(b);
                let next = match (self.sub, b) {
                    (0, b'.') => 1,
                    (0, b'T') => 11,
                    (1, b'4') => 2,
                    (2, b'.') => 3,
                    (3, b'0'..=b'4') => 4,
                    (11, b'.') => 12,
                    (12, b'1') => 13,
                    (13, b'.') => 14,
                    (14, b'1') => 15,
                    (4 | 15, SOH) => {
                        self.st = St::Nine;
                        return None;
                    }
                    _ => return Some(self.fail(p, Reason::BadBeginString)),
                };
                self.sub = next;
                None
            }
            St::Nine => {
                self.sum = self.sum.wrapping_add(b);
                if b != b'9' {
                    return Some(self.fail(p, Reason::BodyLengthMissing));
                }
                self.st = St::NineEq;
                None
            }
            St::NineEq => {
                self.sum = self.sum.wrapping_add(b);
                if b != b'=' {
                    return Some(self.fail(p, Reason::BodyLengthMissing));
                }
                self.st = St::BodyLen;
                self.sub = 0;
                self.body_len = 0;
                None
            }
            St::BodyLen => {
                self.sum = self.sum.wrapping_add(b);
                match b {
                    b'0'..=b'9' if self.sub < 9 => {
                        self.body_len = self.body_len * 10 + u32::from(b - b'0');
                        self.sub += 1;
                        None
                    }
                    SOH if self.sub > 0 => {
                        let h = p - self.start + 1;
                        if h + u64::from(self.body_len) + 7 > u64::from(max_msg) {
                            return Some(self.fail(p, Reason::TooLong));
                        }
                        self.remaining = self.body_len;
                        self.last_soh = true;
                        self.enter_body_or_trailer();
                        None
                    }
                    _ => Some(self.fail(p, Reason::BodyLengthInvalid)),
                }
            }
            St::Body => {
                self.sum = self.sum.wrapping_add(b);
                if self.mt_phase < 5 {
                    if !self.msg_type_byte(b) {
                        return Some(self.fail(p, Reason::MsgTypeNotThird));
                    }
                } else {
                    self.field_byte(b);
                }
                self.last_soh = b == SOH;
                self.remaining -= 1;
                self.enter_body_or_trailer();
                None
            }
            St::Trailer => {
                let i = self.sub;
                let ok = match i {
                    0 => {
                        if self.mt_phase != 5 {
                            return Some(self.fail(p, Reason::MsgTypeNotThird));
                        }
                        self.last_soh && b == b'1'
                    }
                    1 => b == b'0',
                    2 => b == b'=',
                    3..=5 => {
                        if !b.is_ascii_digit() {
                            return Some(self.fail(p, Reason::ChecksumMalformed));
                        }
                        self.cks = self.cks * 10 + u16::from(b - b'0');
                        true
                    }
                    _ => {
                        if b != SOH {
                            return Some(self.fail(p, Reason::ChecksumMalformed));
                        }
                        if self.cks != u16::from(self.sum) {
                            return Some(self.fail(p, Reason::ChecksumMismatch));
                        }
                        return Some(self.valid(p));
                    }
                };
                if !ok {
                    return Some(self.fail(p, Reason::BodyLengthMismatch));
                }
                self.sub += 1;
                None
            }
        }
    }

    /// Feeds a slice, calling `on` for every message that ends in it.
    pub fn feed(&mut self, bytes: &[u8], max_msg: u32, mut on: impl FnMut(Framed)) {
        for &b in bytes {
            if let Some(f) = self.step(b, max_msg) {
                on(f);
            }
        }
    }

    fn enter_body_or_trailer(&mut self) {
        if self.remaining == 0 {
            self.st = St::Trailer;
            self.sub = 0;
            self.cks = 0;
        } else {
            self.st = St::Body;
        }
    }

    /// A message starts at offset `s` (its `8=FIX` already consumed).
    fn begin_message(&mut self, s: u64) {
        let offset = self.offset;
        *self = FrameState {
            st: St::Begin,
            k: 0,
            k2: 0,
            offset,
            start: s,
            sum: SUM_8FIX,
            ..FrameState::new()
        };
    }

    /// Ends the current message garbled at byte `p`; back to `HUNT` (the matchers are kept).
    fn fail(&mut self, p: u64, why: Reason) -> Framed {
        let out = Framed::garbled(self.start, (p - self.start + 1) as u32, why);
        self.enter_hunt();
        out
    }

    /// Back to `HUNT`, keeping the offset and the matchers; every other field takes its reset
    /// value, so two framers that saw the same bytes compare equal.
    fn enter_hunt(&mut self) {
        *self = FrameState {
            offset: self.offset,
            k: self.k,
            k2: self.k2,
            ..FrameState::new()
        };
    }

    /// True in `HUNT` with no partial `8=FIX` match pending: the next message can only start
    /// with the next byte being `8`.
    pub(crate) fn is_clean(&self) -> bool {
        matches!(self.st, St::Hunt) && self.k2 == 0
    }

    /// Fast-path equivalent of stepping over `bytes` in a clean `HUNT` when they contain no `8`.
    pub(crate) fn skip_hunt(&mut self, bytes: &[u8]) {
        debug_assert!(self.is_clean() && !bytes.contains(&b'8'));
        if let Some(&last) = bytes.last() {
            self.offset += bytes.len() as u64;
            self.k = u8::from(last == SOH);
        }
    }

    /// Fast-path equivalent of stepping over one whole valid message of `n` bytes from a clean
    /// `HUNT` (it ends with SOH, so `k = 1`, `k2 = 0`).
    pub(crate) fn skip_valid(&mut self, n: usize) {
        debug_assert!(self.is_clean());
        self.offset += n as u64;
        self.k = 1;
        self.k2 = 0;
    }

    fn valid(&mut self, p: u64) -> Framed {
        let mut flags = self.flags;
        if self.mt_len == 1 && is_admin_type(&self.msg_type[..1]) {
            flags |= Flags::ADMIN;
        }
        if self.mt_len > 4 {
            flags |= Flags::MSG_TYPE_LONG;
        }
        let out = Framed {
            offset: self.start,
            length: (p - self.start + 1) as u32,
            garbled: 0,
            msg_type: self.msg_type,
            flags,
            seq: if self.seq_status == 0 { self.seq } else { 0 },
            seq_status: self.seq_status,
            new_seq_no: if flags & Flags::HAS_NEW_SEQ_NO != 0 {
                self.new_seq_no
            } else {
                0
            },
        };
        self.enter_hunt();
        out
    }

    /// One byte of the leading `35=value SOH`; false when it breaks the rule.
    fn msg_type_byte(&mut self, b: u8) -> bool {
        match self.mt_phase {
            0 => b == b'3' && self.adv_mt(),
            1 => b == b'5' && self.adv_mt(),
            2 => b == b'=' && self.adv_mt(),
            3 => {
                if b == SOH {
                    return false;
                }
                self.msg_type[0] = b;
                self.mt_len = 1;
                self.mt_phase = 4;
                true
            }
            _ => {
                if b == SOH {
                    self.mt_phase = 5;
                    self.fs = Fs::Tag;
                    self.tag = 0;
                    self.tag_digits = 0;
                    self.tag_bad = false;
                } else {
                    if (self.mt_len as usize) < 4 {
                        self.msg_type[self.mt_len as usize] = b;
                    }
                    if self.mt_len < 5 {
                        self.mt_len += 1;
                    }
                }
                true
            }
        }
    }

    fn adv_mt(&mut self) -> bool {
        self.mt_phase += 1;
        true
    }

    /// One body byte after MsgType: tag parsing and first-occurrence value extraction.
    fn field_byte(&mut self, b: u8) {
        match self.fs {
            Fs::Tag => match b {
                b'=' => {
                    self.which = NO_TAG;
                    if !self.tag_bad && self.tag_digits > 0 {
                        if let Some(i) = TAGS.iter().position(|&t| t == self.tag) {
                            if self.seen & (1 << i) == 0 {
                                self.seen |= 1 << i;
                                self.which = i as u8;
                            }
                        }
                    }
                    if self.which == NO_TAG {
                        self.fs = Fs::Skip;
                    } else {
                        self.fs = Fs::Value;
                        self.val = 0;
                        self.val_len = 0;
                        self.val_bad = false;
                        self.val_first = 0;
                    }
                }
                SOH => self.reset_tag(),
                b'0'..=b'9' if self.tag_digits < 5 => {
                    self.tag = self.tag * 10 + u32::from(b - b'0');
                    self.tag_digits += 1;
                }
                _ => self.tag_bad = true,
            },
            Fs::Skip => {
                if b == SOH {
                    self.reset_tag();
                }
            }
            Fs::Value => {
                if b == SOH {
                    self.finish_value();
                    self.reset_tag();
                    return;
                }
                if self.val_len == 0 {
                    self.val_first = b;
                }
                if b.is_ascii_digit() {
                    if self.val_len < 10 {
                        self.val = self.val * 10 + u64::from(b - b'0');
                    }
                } else {
                    self.val_bad = true;
                }
                if self.val_len < 11 {
                    self.val_len += 1;
                }
            }
        }
    }

    fn reset_tag(&mut self) {
        self.fs = Fs::Tag;
        self.tag = 0;
        self.tag_digits = 0;
        self.tag_bad = false;
    }

    fn finish_value(&mut self) {
        let numeric_ok = !self.val_bad
            && (1..=10).contains(&self.val_len)
            && (1..=0x7FFF_FFFF).contains(&self.val);
        match self.which {
            T_SEQ => {
                if numeric_ok {
                    self.seq = self.val as u32;
                    self.seq_status = 0;
                } else {
                    self.seq_status = reason::SEQ_INVALID;
                }
            }
            T_NEW_SEQ => {
                if numeric_ok {
                    self.new_seq_no = self.val as u32;
                    self.flags |= Flags::HAS_NEW_SEQ_NO;
                }
            }
            i => {
                if self.val_len == 1 && self.val_first == b'Y' {
                    self.flags |= match i {
                        2 => Flags::POSS_DUP,
                        3 => Flags::POSS_RESEND,
                        4 => Flags::GAP_FILL,
                        _ => Flags::RESET_SEQ_NUM,
                    };
                }
            }
        }
    }
}
