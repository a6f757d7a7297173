//! Per-session sequencing: `docs/sequencer.md` section 4, exactly.
//!
//! [`SeqState`] holds the expected number `E`, the received-ahead window `H` of `W` bits and the
//! counters. The window is allocated once at construction; [`SeqState::classify`] never allocates.
//!
//! The window is stored as a ring: the bit of seq `x` lives at index `x mod W`, so "shift `H` down
//! by `d`" is "clear the bits of seqs `E … E+d−1`" and costs nothing when nothing is held.

use crate::contract::{reason, Flags, Kind, Verdict, LENGTH_MASK, OFFSET_MASK};
use crate::frame::Framed;

/// Per-session counters (section 4), 32-bit wrapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every record.
    pub msgs: u32,
    /// Every `GAP`.
    pub gaps: u32,
    /// Every `DUPLICATE`.
    pub dups: u32,
    /// Every `GARBLED`.
    pub garbled: u32,
    /// Every `TOO_LOW`.
    pub too_low: u32,
}

/// Largest supported window (bits), to bound memory.
pub const MAX_WINDOW: u32 = 1 << 24;

/// Sequencing state of one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqState {
    /// Expected MsgSeqNum `E`.
    e: u32,
    /// Window size `W` (power of two).
    window: u32,
    /// Ring bitmap: bit `x mod W` set means seq `x` (with `E < x < E+W`) is held.
    bits: Box<[u64]>,
    /// Number of set bits in `bits`.
    held: u32,
    counters: Counters,
}

impl SeqState {
    /// A session at reset: `E = 1`, nothing held, counters 0.
    ///
    /// # Panics
    /// If `window` is not a power of two in `256 ..= MAX_WINDOW` (a configuration error).
    pub fn new(window: u32) -> SeqState {
        assert!(
            window.is_power_of_two() && (256..=MAX_WINDOW).contains(&window),
            "window must be a power of two in 256..=2^24, got {window}"
        );
        SeqState {
            e: 1,
            window,
            bits: vec![0u64; (window / 64) as usize].into_boxed_slice(),
            held: 0,
            counters: Counters::default(),
        }
    }

    /// The window size `W`.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The expected number `E`.
    pub fn expected(&self) -> u32 {
        self.e
    }

    /// CSR `EXPECTED` write: sets `E` and clears the window.
    pub fn set_expected(&mut self, e: u32) {
        self.e = e;
        self.clear_window();
    }

    /// CSR `CONTROL.CLEAR_WINDOW`: drops every held bit.
    pub fn clear_window(&mut self) {
        if self.held != 0 {
            self.bits.fill(0);
            self.held = 0;
        }
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Number of seqs currently held in the window.
    pub fn held_count(&self) -> u32 {
        self.held
    }

    /// True when `seq` is inside the window (`E < seq < E+W`) and held.
    pub fn is_held(&self, seq: u32) -> bool {
        let (s, e) = (u64::from(seq), u64::from(self.e));
        s > e && s < e + u64::from(self.window) && self.bit(seq)
    }

    /// Classifies one framed message (section 4), updates `E`, the window and the counters, and
    /// returns its verdict record.
    pub fn classify(&mut self, session: u16, f: &Framed) -> Verdict {
        let e0 = self.e;
        self.counters.msgs = self.counters.msgs.wrapping_add(1);
        let mut v = Verdict {
            session,
            offset: f.offset & OFFSET_MASK,
            length: f.length & LENGTH_MASK,
            expected_before: e0,
            expected_after: e0,
            ..Verdict::default()
        };
        if f.garbled != 0 {
            v.kind = Kind::Garbled as u8;
            v.reason = f.garbled;
            self.counters.garbled = self.counters.garbled.wrapping_add(1);
            return v;
        }
        v.flags = Flags(f.flags);
        v.msg_type = f.msg_type;
        let has_n = f.flags & Flags::HAS_NEW_SEQ_NO != 0;
        let n = f.new_seq_no;
        v.new_seq_no = if has_n { n } else { 0 };
        if f.seq_status != 0 {
            v.kind = Kind::InvalidSeq as u8;
            v.reason = f.seq_status;
            return v;
        }
        let s = f.seq;
        v.seq = s;
        let gap_fill = f.flags & Flags::GAP_FILL != 0;
        let seq_reset = f.is_sequence_reset();
        let (kind, why) = if f.is_logon() && f.flags & Flags::RESET_SEQ_NUM != 0 {
            // 1. Logon with ResetSeqNumFlag: H := 0, E := S, then in order.
            self.clear_window();
            self.e = s;
            self.advance_to(s + 1);
            (Kind::InOrder, 0)
        } else if seq_reset && !gap_fill {
            // 2. Hard reset: S ignored.
            if !has_n {
                (Kind::Reset, reason::NEW_SEQ_NO_MISSING)
            } else if n < self.e {
                (Kind::Reset, reason::NEW_SEQ_NO_LOWER)
            } else if n == self.e {
                (Kind::Reset, reason::NEW_SEQ_NO_EQUAL)
            } else {
                self.advance_to(n);
                (Kind::Reset, 0)
            }
        } else if s < self.e {
            // 3. Below expected.
            if f.flags & Flags::POSS_DUP != 0 {
                self.counters.dups = self.counters.dups.wrapping_add(1);
                (Kind::Duplicate, 0)
            } else {
                self.counters.too_low = self.counters.too_low.wrapping_add(1);
                (Kind::TooLow, 0)
            }
        } else if s == self.e {
            if seq_reset {
                // 4. GapFill at expected (gap_fill is set here).
                if !has_n {
                    self.advance_to(s + 1);
                    (Kind::GapFill, reason::NEW_SEQ_NO_MISSING)
                } else if n <= s {
                    self.advance_to(s + 1);
                    (Kind::GapFill, reason::NEW_SEQ_NO_NOT_GREATER)
                } else {
                    self.advance_to(n);
                    (Kind::GapFill, 0)
                }
            } else {
                // 5. In order.
                self.advance_to(s + 1);
                (Kind::InOrder, 0)
            }
        } else {
            let top = u64::from(self.e) + u64::from(self.window);
            if u64::from(s) < top {
                // 6. Inside the window.
                if self.bit(s) {
                    self.counters.dups = self.counters.dups.wrapping_add(1);
                    (Kind::Duplicate, 0)
                } else {
                    self.counters.gaps = self.counters.gaps.wrapping_add(1);
                    self.set_bit(s);
                    if seq_reset && has_n && n > s {
                        // A held GapFill covers S+1 .. min(N, E+W)-1.
                        let hi = u64::from(n).min(top);
                        self.set_range(u64::from(s) + 1, hi);
                    }
                    (Kind::Gap, 0)
                }
            } else {
                // 7. Beyond the window.
                (Kind::BeyondWindow, 0)
            }
        };
        v.kind = kind as u8;
        v.reason = why;
        v.expected_after = self.e;
        v
    }

    /// [`SeqState::classify`] with its most common case inline: a valid message, not a
    /// SequenceReset, whose MsgSeqNum is `E` while nothing is held (rule 5, or rule 1 with the
    /// same result) costs a few instructions; anything else goes to `classify`. Same records.
    #[inline(always)]
    pub fn classify_fast(&mut self, session: u16, f: &Framed) -> Verdict {
        if f.garbled == 0
            && f.seq_status == 0
            && f.seq == self.e
            && self.held == 0
            && !f.is_sequence_reset()
        {
            let e0 = self.e;
            // MsgSeqNum <= 2^31 - 1 for any framed message; wrapping only for a hand-made one.
            self.e = e0.wrapping_add(1);
            self.counters.msgs = self.counters.msgs.wrapping_add(1);
            let has_n = f.flags & Flags::HAS_NEW_SEQ_NO != 0;
            return Verdict {
                session,
                kind: Kind::InOrder as u8,
                reason: 0,
                flags: Flags(f.flags),
                msg_type: f.msg_type,
                seq: e0,
                new_seq_no: if has_n { f.new_seq_no } else { 0 },
                expected_before: e0,
                expected_after: self.e,
                offset: f.offset & OFFSET_MASK,
                length: f.length & LENGTH_MASK,
            };
        }
        self.classify(session, f)
    }

    /// *Advance to X* (`X > E`): drop held bits below `X`, `E := X`, then release the held run.
    fn advance_to(&mut self, x: u32) {
        debug_assert!(x > self.e);
        if self.held != 0 {
            let d = u64::from(x - self.e);
            if d >= u64::from(self.window) {
                self.clear_window();
            } else {
                self.clear_range(u64::from(self.e), u64::from(x));
            }
        }
        self.e = x;
        while self.held != 0 {
            // Release: count consecutive held seqs from E with word-wide steps.
            let w = self.window as u64;
            let idx = u64::from(self.e) & (w - 1);
            let word = (idx / 64) as usize;
            let bit = idx % 64;
            let run = (self.bits[word] >> bit).trailing_ones() as u64;
            let run = run.min(64 - bit);
            if run == 0 {
                break;
            }
            let mask = if run == 64 {
                u64::MAX
            } else {
                ((1u64 << run) - 1) << bit
            };
            self.bits[word] &= !mask;
            self.held -= run as u32;
            self.e += run as u32;
        }
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        let idx = seq & (u64::from(self.window) - 1);
        ((idx / 64) as usize, 1u64 << (idx % 64))
    }

    fn bit(&self, seq: u32) -> bool {
        let (w, m) = self.slot(u64::from(seq));
        self.bits[w] & m != 0
    }

    fn set_bit(&mut self, seq: u32) {
        let (w, m) = self.slot(u64::from(seq));
        if self.bits[w] & m == 0 {
            self.bits[w] |= m;
            self.held += 1;
        }
    }

    /// Sets the bits of seqs `lo .. hi` (`hi − lo < W`), counting newly set ones.
    fn set_range(&mut self, lo: u64, hi: u64) {
        self.range(lo, hi, true);
    }

    /// Clears the bits of seqs `lo .. hi` (`hi − lo < W`), counting cleared ones.
    fn clear_range(&mut self, lo: u64, hi: u64) {
        self.range(lo, hi, false);
    }

    fn range(&mut self, mut lo: u64, hi: u64, set: bool) {
        let w = u64::from(self.window);
        while lo < hi {
            let idx = lo & (w - 1);
            let bit = idx % 64;
            // Stay inside one word and do not wrap the ring within a step.
            let n = (hi - lo).min(64 - bit);
            let mask = if n == 64 {
                u64::MAX
            } else {
                ((1u64 << n) - 1) << bit
            };
            let word = &mut self.bits[(idx / 64) as usize];
            if set {
                self.held += (mask & !*word).count_ones();
                *word |= mask;
            } else {
                self.held -= (mask & *word).count_ones();
                *word &= !mask;
            }
            lo += n;
        }
    }
}
