//! The verdict record of `docs/sequencer.md` section 3: one record per received message.
//!
//! [`Verdict::to_words`] and [`Verdict::from_words`] are the exact 256-bit layout used on the
//! RTL's `m_axis_tdata` and in the card's verdict ring.

/// Classification of one message (`kind`, w0 bits 19:16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// MsgSeqNum equals the expected number.
    InOrder = 0,
    /// MsgSeqNum above expected, inside the window: the message is held.
    Gap = 1,
    /// Already processed (PossDup) or already held.
    Duplicate = 2,
    /// Below expected without PossDup.
    TooLow = 3,
    /// SequenceReset-GapFill at the expected number.
    GapFill = 4,
    /// SequenceReset-Reset (MsgSeqNum ignored).
    Reset = 5,
    /// Framing failed; `reason` says why.
    Garbled = 6,
    /// MsgSeqNum at or beyond expected + window: not held.
    BeyondWindow = 7,
    /// Framed, but MsgSeqNum missing or invalid.
    InvalidSeq = 8,
}

impl Kind {
    /// Decodes the 4-bit field; values 9..=15 are not defined.
    pub const fn from_bits(v: u8) -> Option<Kind> {
        Some(match v {
            0 => Kind::InOrder,
            1 => Kind::Gap,
            2 => Kind::Duplicate,
            3 => Kind::TooLow,
            4 => Kind::GapFill,
            5 => Kind::Reset,
            6 => Kind::Garbled,
            7 => Kind::BeyondWindow,
            8 => Kind::InvalidSeq,
            _ => return None,
        })
    }
}

/// Sub-reason (`reason`, w0 bits 23:20). Its meaning depends on the kind; 0 is "none".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reason {
    /// No reason.
    None = 0,
    /// GARBLED: not `8=FIX.4.0..4.4` or `8=FIXT.1.1`.
    BadBeginString = 1,
    /// GARBLED: second field is not `9=`.
    BodyLengthMissing = 2,
    /// GARBLED: BodyLength not 1–9 digits.
    BodyLengthInvalid = 3,
    /// GARBLED: third field is not a non-empty `35=`.
    MsgTypeNotThird = 4,
    /// GARBLED: `SOH 10=` not at the position BodyLength gives.
    BodyLengthMismatch = 5,
    /// GARBLED: CheckSum not three digits and SOH.
    ChecksumMalformed = 6,
    /// GARBLED: CheckSum value wrong.
    ChecksumMismatch = 7,
    /// GARBLED: declared length above `MAX_MSG`.
    TooLong = 8,
    /// GARBLED: `SOH 8=FIX` inside the message.
    Interrupted = 9,
}

/// The reason codes of non-garbled kinds share the numbers 1..=4 (see the table in the doc).
pub mod reason {
    /// GAP_FILL, RESET: NewSeqNo(36) missing or invalid.
    pub const NEW_SEQ_NO_MISSING: u8 = 1;
    /// GAP_FILL: NewSeqNo ≤ MsgSeqNum.
    pub const NEW_SEQ_NO_NOT_GREATER: u8 = 2;
    /// RESET: NewSeqNo < expected.
    pub const NEW_SEQ_NO_LOWER: u8 = 3;
    /// RESET: NewSeqNo = expected (warning).
    pub const NEW_SEQ_NO_EQUAL: u8 = 4;
    /// INVALID_SEQ: no MsgSeqNum(34).
    pub const SEQ_MISSING: u8 = 1;
    /// INVALID_SEQ: MsgSeqNum empty, non-numeric, 0 or above 2^31-1.
    pub const SEQ_INVALID: u8 = 2;
}

impl Reason {
    /// Decodes a GARBLED reason.
    pub const fn from_bits(v: u8) -> Option<Reason> {
        Some(match v {
            0 => Reason::None,
            1 => Reason::BadBeginString,
            2 => Reason::BodyLengthMissing,
            3 => Reason::BodyLengthInvalid,
            4 => Reason::MsgTypeNotThird,
            5 => Reason::BodyLengthMismatch,
            6 => Reason::ChecksumMalformed,
            7 => Reason::ChecksumMismatch,
            8 => Reason::TooLong,
            9 => Reason::Interrupted,
            _ => return None,
        })
    }

    /// Human-readable description, for logs and errors.
    pub const fn describe(self) -> &'static str {
        match self {
            Reason::None => "none",
            Reason::BadBeginString => "bad BeginString(8)",
            Reason::BodyLengthMissing => "BodyLength(9) missing or not the second field",
            Reason::BodyLengthInvalid => "BodyLength(9) not 1-9 digits",
            Reason::MsgTypeNotThird => "MsgType(35) missing, empty or not the third field",
            Reason::BodyLengthMismatch => {
                "BodyLength(9) does not match: no CheckSum(10) at the declared end"
            }
            Reason::ChecksumMalformed => "CheckSum(10) not three digits",
            Reason::ChecksumMismatch => "CheckSum(10) wrong",
            Reason::TooLong => "message longer than the configured maximum",
            Reason::Interrupted => "a new message (SOH 8=FIX) began inside this one",
        }
    }
}

/// Flag bits (`flags`, w0 bits 31:24).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    /// PossDupFlag(43)=Y.
    pub const POSS_DUP: u8 = 1 << 0;
    /// PossResend(97)=Y.
    pub const POSS_RESEND: u8 = 1 << 1;
    /// MsgType is one of 0,1,2,3,4,5,A.
    pub const ADMIN: u8 = 1 << 2;
    /// GapFillFlag(123)=Y.
    pub const GAP_FILL: u8 = 1 << 3;
    /// ResetSeqNumFlag(141)=Y.
    pub const RESET_SEQ_NUM: u8 = 1 << 4;
    /// NewSeqNo(36) present and valid.
    pub const HAS_NEW_SEQ_NO: u8 = 1 << 5;
    /// MsgType longer than 4 bytes (only the first 4 are kept).
    pub const MSG_TYPE_LONG: u8 = 1 << 6;

    /// True if every bit of `mask` is set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }
}

/// One verdict record. Field meanings: `docs/sequencer.md` section 3.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// Session index (`tuser` of the message's bytes).
    pub session: u16,
    /// Raw 4-bit kind; use [`Verdict::kind`] to decode.
    pub kind: u8,
    /// Raw 4-bit reason; its meaning depends on the kind.
    pub reason: u8,
    /// Flag bits.
    pub flags: Flags,
    /// Up to four MsgType bytes, zero-padded.
    pub msg_type: [u8; 4],
    /// MsgSeqNum(34), 0 when invalid or garbled.
    pub seq: u32,
    /// NewSeqNo(36) when `HAS_NEW_SEQ_NO`, else 0.
    pub new_seq_no: u32,
    /// Expected number before this message.
    pub expected_before: u32,
    /// Expected number after it; release-up-to is `expected_after - 1`.
    pub expected_after: u32,
    /// Offset of the message's first byte in the session's stream, mod 2^40.
    pub offset: u64,
    /// Length in bytes (< 2^24).
    pub length: u32,
}

/// Mask of the 40-bit offset field.
pub const OFFSET_MASK: u64 = (1 << 40) - 1;
/// Mask of the 24-bit length field.
pub const LENGTH_MASK: u32 = (1 << 24) - 1;

impl Verdict {
    /// Decoded kind (`None` only for a corrupt record).
    pub const fn kind(&self) -> Option<Kind> {
        Kind::from_bits(self.kind)
    }

    /// MsgType as a byte slice without the zero padding.
    pub fn msg_type(&self) -> &[u8] {
        let n = self.msg_type.iter().position(|&b| b == 0).unwrap_or(4);
        &self.msg_type[..n]
    }

    /// The highest sequence number now deliverable in order.
    pub const fn release_up_to(&self) -> u32 {
        self.expected_after.wrapping_sub(1)
    }

    /// Packs the record into its four 64-bit words (w0 first).
    pub const fn to_words(&self) -> [u64; 4] {
        let w0 = (self.session as u64)
            | ((self.kind as u64 & 0xF) << 16)
            | ((self.reason as u64 & 0xF) << 20)
            | ((self.flags.0 as u64) << 24)
            | ((u32::from_le_bytes(self.msg_type) as u64) << 32);
        let w1 = (self.seq as u64) | ((self.new_seq_no as u64) << 32);
        let w2 = (self.expected_before as u64) | ((self.expected_after as u64) << 32);
        let w3 = (self.offset & OFFSET_MASK) | (((self.length & LENGTH_MASK) as u64) << 40);
        [w0, w1, w2, w3]
    }

    /// Unpacks four 64-bit words.
    pub const fn from_words(w: [u64; 4]) -> Verdict {
        Verdict {
            session: w[0] as u16,
            kind: ((w[0] >> 16) & 0xF) as u8,
            reason: ((w[0] >> 20) & 0xF) as u8,
            flags: Flags((w[0] >> 24) as u8),
            msg_type: ((w[0] >> 32) as u32).to_le_bytes(),
            seq: w[1] as u32,
            new_seq_no: (w[1] >> 32) as u32,
            expected_before: w[2] as u32,
            expected_after: (w[2] >> 32) as u32,
            offset: w[3] & OFFSET_MASK,
            length: (w[3] >> 40) as u32,
        }
    }

    /// The 32-byte little-endian image used in the card's verdict ring.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, w) in self.to_words().iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Inverse of [`Verdict::to_bytes`].
    pub fn from_bytes(b: &[u8; 32]) -> Verdict {
        let mut w = [0u64; 4];
        for (i, word) in w.iter_mut().enumerate() {
            let mut le = [0u8; 8];
            le.copy_from_slice(&b[i * 8..i * 8 + 8]);
            *word = u64::from_le_bytes(le);
        }
        Verdict::from_words(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_every_field() {
        let v = Verdict {
            session: 0xBEEF,
            kind: Kind::GapFill as u8,
            reason: reason::NEW_SEQ_NO_NOT_GREATER,
            flags: Flags(Flags::POSS_DUP | Flags::GAP_FILL | Flags::HAS_NEW_SEQ_NO),
            msg_type: *b"4\0\0\0",
            seq: 0x7FFF_FFFF,
            new_seq_no: 12345,
            expected_before: 7,
            expected_after: 12345,
            offset: (1 << 40) - 3,
            length: (1 << 24) - 1,
        };
        let w = v.to_words();
        assert_eq!(Verdict::from_words(w), v);
        assert_eq!(Verdict::from_bytes(&v.to_bytes()), v);
        assert_eq!(w[0] & 0xFFFF, 0xBEEF);
        assert_eq!((w[0] >> 16) & 0xF, 4);
        assert_eq!((w[0] >> 32) & 0xFF, u64::from(b'4'));
        assert_eq!(w[3] >> 40, (1 << 24) - 1);
        assert_eq!(v.msg_type(), b"4");
        assert_eq!(v.release_up_to(), 12344);
    }

    #[test]
    fn kinds_and_reasons_decode() {
        for k in 0..=8 {
            assert_eq!(Kind::from_bits(k).map(|k| k as u8), Some(k));
        }
        assert_eq!(Kind::from_bits(9), None);
        for r in 0..=9 {
            assert_eq!(Reason::from_bits(r).map(|r| r as u8), Some(r));
        }
        assert_eq!(Reason::from_bits(10), None);
    }
}
