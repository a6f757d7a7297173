//! The software engine's fast path: the sequencer over byte slices, when no card is present.
//!
//! [`FastPath::process`] gives exactly the verdict records the byte-serial reference
//! ([`FrameState`] + [`SeqState`], i.e. the RTL) gives for the same session bytes, however the
//! stream is chunked, and hands each record to a callback with the message's bytes.
//!
//! How it is fast and still exact: while a session's framer is between messages with no partial
//! `8=FIX` match ([`FrameState`] "clean"), junk is skipped with `memchr` and a message that is
//! complete in the buffer is checked and its fields extracted in one pass: the header by slice
//! compares, then 16 bytes at a time an SOH bitmask and the checksum sum (SSE2 `pcmpeqb` /
//! `psadbw` on x86_64, portable code elsewhere), and for each SOH a perfect-hash test of the next
//! field's first bytes against the tags of interest. The bulk check only ever answers "valid,
//! exactly as section 2 frames it", "incomplete, and nothing the serial framer would report yet"
//! or "not sure"; on "not sure" the bytes go through the byte-serial [`FrameState`] until it is
//! clean again, so every garbled case, interruption and odd field is decided by the reference
//! itself. A message cut by the end of a chunk is kept in a per-session pending buffer and
//! checked in bulk when the rest arrives. Records are emitted after exactly the same chunk as
//! the reference would emit them (tests/differential.rs checks this in lock-step).
//!
//! The per-field hash handles tags written without leading zeros; a field starting with `0`
//! takes a slow exact parse, so `0034=` still counts as MsgSeqNum as section 2 says.
//!
//! Memory: per session two buffers of `max(max_msg, 24)` bytes and the `W`-bit window, all
//! allocated in [`FastPath::new`]; [`FastPath::process`] does not allocate. Hostile input
//! costs at most the byte-serial rate (a few ns per byte) and never more memory.

use crate::contract::{Flags, Reason, Verdict};
use crate::frame::{is_admin_type, FrameState, Framed, SOH};
use crate::seq::{Counters, SeqState};

/// A message cut by chunk ends is re-checked in bulk at most this many times, then handed to
/// the byte-serial framer (so 1-byte chunks cost O(n), not O(n²)).
const MAX_PENDING_TRIES: u8 = 4;

/// Longest possible partial message before its BodyLength is known:
/// `8=FIXT.1.1 SOH 9=` + 9 digits + SOH.
const HEADER_MAX: usize = 24;

/// Outcome of the bulk check of a buffer that starts at a clean `HUNT` position.
enum Bulk {
    /// A valid message of this many bytes (the framed summary has offset 0).
    Valid(usize, Framed),
    /// The buffer ends before the message could be confirmed and the serial framer would report
    /// nothing yet; more bytes may make it valid. Carries the message's total length once the
    /// header is complete, else 0.
    Incomplete(usize),
    /// Not a plain valid message: let the byte-serial framer decide.
    Other,
}

struct Session {
    fs: FrameState,
    seq: SeqState,
    /// Bytes of the message in progress while the byte-serial framer runs.
    reasm: Vec<u8>,
    /// Bytes not yet consumed by `fs` (a message cut by a chunk end; `fs` is clean).
    pending: Vec<u8>,
    /// Total length of the pending message when its header is complete, else 0.
    pending_total: usize,
    /// Chunks the pending message has been checked over (bounds the re-checking work).
    pending_tries: u8,
}

/// Multi-session sequencer over byte slices (see the module docs).
pub struct FastPath {
    max_msg: u32,
    cap: usize,
    sessions: Box<[Session]>,
}

impl FastPath {
    /// `sessions` sessions with window `window` (power of two ≥ 256) and maximum message length
    /// `max_msg` (at most 2^24 − 1; larger values are clamped).
    ///
    /// # Panics
    /// If `sessions` is 0 or above 65536, or the window is invalid ([`SeqState::new`]).
    pub fn new(sessions: usize, window: u32, max_msg: usize) -> FastPath {
        assert!(
            (1..=1 << 16).contains(&sessions),
            "sessions must be 1..=65536, got {sessions}"
        );
        let max_msg = max_msg.min(crate::contract::LENGTH_MASK as usize) as u32;
        let cap = (max_msg as usize).max(HEADER_MAX);
        let sessions = (0..sessions)
            .map(|_| Session {
                fs: FrameState::new(),
                seq: SeqState::new(window),
                reasm: Vec::with_capacity(cap),
                pending: Vec::with_capacity(cap),
                pending_total: 0,
                pending_tries: 0,
            })
            .collect();
        FastPath {
            max_msg,
            cap,
            sessions,
        }
    }

    /// Number of sessions.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The `MAX_MSG` in force.
    pub fn max_msg(&self) -> u32 {
        self.max_msg
    }

    /// Feeds the next bytes of `session`'s stream. Calls `on` once per record, in stream order,
    /// with the message's bytes (empty for `GARBLED`). A message may span any number of calls.
    ///
    /// # Panics
    /// If `session` is not below [`FastPath::sessions`].
    pub fn process(&mut self, session: u16, chunk: &[u8], mut on: impl FnMut(&Verdict, &[u8])) {
        let max_msg = self.max_msg;
        let cap = self.cap;
        let ss = &mut self.sessions[session as usize];
        let mut pos = 0usize;
        if !ss.pending.is_empty() {
            let old = ss.pending.len();
            // Copy only what the message still needs when its length is known.
            let want = if ss.pending_total > old {
                ss.pending_total - old
            } else {
                cap - old
            };
            let take = chunk.len().min(want);
            ss.pending.extend_from_slice(&chunk[..take]);
            match bulk(&ss.pending, max_msg) {
                Bulk::Valid(n, mut f) => {
                    f.offset = ss.fs.offset();
                    let v = ss.seq.classify(session, &f);
                    on(&v, &ss.pending[..n]);
                    ss.fs.skip_valid(n);
                    pos = n - old;
                    ss.pending.clear();
                    ss.pending_total = 0;
                }
                Bulk::Incomplete(total) if take == chunk.len() => {
                    ss.pending_total = total;
                    ss.pending_tries += 1;
                    if ss.pending_tries > MAX_PENDING_TRIES {
                        // Tiny chunks: re-checking the whole prefix each time would cost
                        // O(n²); hand the message to the byte-serial framer instead.
                        let pending = std::mem::take(&mut ss.pending);
                        for &b in &pending {
                            serial_byte(ss, session, b, max_msg, &mut on);
                        }
                        ss.pending = pending;
                        ss.pending.clear();
                        ss.pending_total = 0;
                    }
                    return;
                }
                _ => {
                    // Let the reference decide on the old pending bytes, then go on normally.
                    ss.pending.truncate(old);
                    let pending = std::mem::take(&mut ss.pending);
                    for &b in &pending {
                        serial_byte(ss, session, b, max_msg, &mut on);
                    }
                    ss.pending = pending;
                    ss.pending.clear();
                    ss.pending_total = 0;
                }
            }
        }
        while pos < chunk.len() {
            if !ss.fs.is_clean() {
                serial_byte(ss, session, chunk[pos], max_msg, &mut on);
                pos += 1;
                continue;
            }
            let rest = &chunk[pos..];
            let i = if rest[0] == b'8' {
                0
            } else if let Some(i) = memchr::memchr(b'8', rest) {
                i
            } else {
                ss.fs.skip_hunt(rest);
                break;
            };
            if i > 0 {
                ss.fs.skip_hunt(&rest[..i]);
                pos += i;
            }
            let rest = &chunk[pos..];
            match bulk(rest, max_msg) {
                Bulk::Valid(n, mut f) => {
                    f.offset = ss.fs.offset();
                    let v = ss.seq.classify(session, &f);
                    on(&v, &rest[..n]);
                    ss.fs.skip_valid(n);
                    pos += n;
                }
                Bulk::Incomplete(total) if rest.len() < cap => {
                    ss.pending.extend_from_slice(rest);
                    ss.pending_total = total;
                    ss.pending_tries = 0;
                    break;
                }
                _ => {
                    serial_byte(ss, session, rest[0], max_msg, &mut on);
                    pos += 1;
                }
            }
        }
    }

    /// CSR `EXPECTED` write for `session`: sets `E` and clears the window.
    pub fn set_expected(&mut self, session: u16, e: u32) {
        self.sessions[session as usize].seq.set_expected(e);
    }

    /// CSR `CONTROL.CLEAR_WINDOW` for `session`.
    pub fn clear_window(&mut self, session: u16) {
        self.sessions[session as usize].seq.clear_window();
    }

    /// CSR `CONTROL.RESET_STREAM` for `session`: framer to `HUNT`, offset 0; bytes of a message
    /// in progress are dropped (no record). `E`, the window and the counters are kept.
    pub fn reset_stream(&mut self, session: u16) {
        let ss = &mut self.sessions[session as usize];
        ss.fs = FrameState::new();
        ss.pending.clear();
        ss.pending_total = 0;
        ss.reasm.clear();
    }

    /// The session's counters.
    pub fn counters(&self, session: u16) -> Counters {
        self.sessions[session as usize].seq.counters()
    }

    /// The session's expected number `E`.
    pub fn expected(&self, session: u16) -> u32 {
        self.sessions[session as usize].seq.expected()
    }

    /// True when `seq` is held in the session's window.
    pub fn is_held(&self, session: u16, seq: u32) -> bool {
        self.sessions[session as usize].seq.is_held(seq)
    }

    /// Offset of the next byte of the session's stream (bytes consumed since the stream reset,
    /// including bytes buffered for a message not yet complete).
    pub fn stream_offset(&self, session: u16) -> u64 {
        let ss = &self.sessions[session as usize];
        ss.fs.offset() + ss.pending.len() as u64
    }
}

/// One byte through the reference framer, keeping the bytes of the message in progress.
#[inline(never)]
fn serial_byte(
    ss: &mut Session,
    session: u16,
    b: u8,
    max_msg: u32,
    on: &mut impl FnMut(&Verdict, &[u8]),
) {
    let was_hunting = ss.fs.is_hunting();
    match ss.fs.step(b, max_msg) {
        None => {
            if ss.fs.is_hunting() {
                return;
            }
            if was_hunting {
                ss.reasm.clear();
                ss.reasm.extend_from_slice(b"8=FIX");
            } else if ss.reasm.len() < ss.reasm.capacity() {
                ss.reasm.push(b);
            }
        }
        Some(f) => {
            let v = ss.seq.classify(session, &f);
            if f.garbled == 0 {
                if ss.reasm.len() < ss.reasm.capacity() {
                    ss.reasm.push(b);
                }
                on(&v, &ss.reasm);
                ss.reasm.clear();
            } else {
                on(&v, &[]);
                if f.garbled == Reason::Interrupted as u8 {
                    ss.reasm.clear();
                    ss.reasm.extend_from_slice(b"8=FIX");
                }
            }
        }
    }
}

/// For a buffer that holds a valid header (body at `bs`, BodyLength `l`) but not the whole
/// message: true only if the serial framer would report nothing on these bytes, i.e. no check
/// of section 2 fails within them and there is no `SOH 8=FIX`.
#[cold]
fn partial_ok(buf: &[u8], bs: usize, l: usize) -> bool {
    let len = buf.len();
    let be = bs + l;
    if l < 5 {
        return false;
    }
    let body = &buf[bs..len.min(be)];
    if !body.iter().zip(b"35=").all(|(a, b)| a == b) || body.get(3) == Some(&SOH) {
        return false;
    }
    if len > be {
        let full = &buf[bs..be];
        if full[l - 1] != SOH || memchr::memchr(SOH, &full[3..]).is_none() {
            return false;
        }
        let t = &buf[be..];
        let trailer_ok = t.iter().enumerate().all(|(j, &c)| match j {
            0 => c == b'1',
            1 => c == b'0',
            2 => c == b'=',
            _ => c.is_ascii_digit(),
        });
        if !trailer_ok {
            return false;
        }
    }
    memchr::memmem::find(&buf[5..], b"\x018=FIX").is_none()
}

/// Bulk check of `buf`, which starts at a clean `HUNT` position (see [`Bulk`]). Exactness
/// argument: `Valid` is returned only when the byte-serial framer would start a message at
/// byte 0, pass every check of section 2 without an interruption, and end it valid at byte
/// `n − 1` with the same extracted fields.
#[inline]
fn bulk(buf: &[u8], max_msg: u32) -> Bulk {
    let len = buf.len();
    if len < 5 {
        return Bulk::Incomplete(0);
    }
    if &buf[..5] != b"8=FIX" {
        return Bulk::Other;
    }
    // BeginString, then `9=`: the shortest header is 8=FIX.4.x SOH 9= d SOH (14 bytes).
    let mut i = 5;
    if len < i + 6 {
        // Incomplete only if what is there continues a valid BeginString.
        let v = &buf[5..];
        let ok = (b".4.0\x01".len() >= v.len()
            && v.iter().enumerate().all(|(j, &c)| match j {
                0 => c == b'.',
                1 => c == b'4',
                2 => c == b'.',
                3 => (b'0'..=b'4').contains(&c),
                _ => c == SOH,
            }))
            || b"T.1.1\x01".starts_with(v);
        return if ok { Bulk::Incomplete(0) } else { Bulk::Other };
    }
    match buf[i] {
        b'.' if buf[i + 1] == b'4'
            && buf[i + 2] == b'.'
            && (b'0'..=b'4').contains(&buf[i + 3])
            && buf[i + 4] == SOH =>
        {
            i += 5
        }
        b'T' if &buf[i + 1..i + 6] == b".1.1\x01" => i += 6,
        _ => return Bulk::Other,
    }
    if len < i + 2 {
        return if len == i || buf[i] == b'9' {
            Bulk::Incomplete(0)
        } else {
            Bulk::Other
        };
    }
    if buf[i] != b'9' || buf[i + 1] != b'=' {
        return Bulk::Other;
    }
    i += 2;
    let d0 = i;
    let mut l = 0u64;
    loop {
        let Some(&c) = buf.get(i) else {
            return Bulk::Incomplete(0);
        };
        if c.is_ascii_digit() {
            if i - d0 == 9 {
                return Bulk::Other;
            }
            l = l * 10 + u64::from(c - b'0');
            i += 1;
        } else if c == SOH && i > d0 {
            break;
        } else {
            return Bulk::Other;
        }
    }
    i += 1;
    let bs = i;
    let n = bs as u64 + l + 7;
    if n > u64::from(max_msg) {
        return Bulk::Other;
    }
    let n = n as usize;
    let l = l as usize;
    let be = bs + l;
    if len < n {
        return if partial_ok(buf, bs, l) {
            Bulk::Incomplete(n)
        } else {
            Bulk::Other
        };
    }
    // Trailer `10=ddd SOH`, the body's last byte SOH, `35=` at the body start.
    let t = &buf[be..n];
    if l < 5
        || &buf[bs..bs + 3] != b"35="
        || buf[be - 1] != SOH
        || &t[..3] != b"10="
        || !t[3].is_ascii_digit()
        || !t[4].is_ascii_digit()
        || !t[5].is_ascii_digit()
        || t[6] != SOH
    {
        return Bulk::Other;
    }
    let cks = u32::from(t[3] - b'0') * 100 + u32::from(t[4] - b'0') * 10 + u32::from(t[5] - b'0');
    match scan_body(buf, bs, be) {
        Some((mut f, sum)) if u32::from(sum) == cks => {
            f.length = n as u32;
            Bulk::Valid(n, f)
        }
        _ => Bulk::Other,
    }
}

/// `TAIL[r..r + 16]` keeps the last `r` bytes of a 16-byte block.
const TAIL: [u8; 32] = {
    let mut t = [0u8; 32];
    let mut k = 16;
    while k < 32 {
        t[k] = 0xFF;
        k += 1;
    }
    t
};

/// Portable block scanner: SOH bitmask per 16 bytes and a running byte sum (the reference for
/// the SIMD one, and the implementation off x86_64).
#[derive(Clone, Copy, Default)]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
struct PortableAcc(u32);

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
impl PortableAcc {
    fn new() -> Self {
        PortableAcc(0)
    }

    /// Bit `k` set when byte `k` is SOH; adds the bytes to the sum.
    #[inline(always)]
    fn block(&mut self, b: &[u8; 16]) -> u32 {
        let mut m = 0u32;
        for (k, &c) in b.iter().enumerate() {
            m |= u32::from(c == SOH) << k;
            self.0 = self.0.wrapping_add(u32::from(c));
        }
        m
    }

    fn total(&self) -> u32 {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
use simd::Acc;
#[cfg(not(target_arch = "x86_64"))]
use PortableAcc as Acc;

/// The only unsafe code of the fast path: SSE2 intrinsics (x86_64 baseline).
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_cmpeq_epi8, _mm_cvtsi128_si32, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128, _mm_unpackhi_epi64,
    };

    /// Block scanner with the byte sum kept in a vector register (two 64-bit lanes).
    #[derive(Clone, Copy)]
    pub(super) struct Acc(__m128i);

    impl Acc {
        #[inline(always)]
        pub(super) fn new() -> Acc {
            // SAFETY: SSE2 is part of the x86_64 baseline, so the target feature is present.
            Acc(unsafe { zero() })
        }

        /// Bit `k` set when byte `k` is SOH; adds the bytes to the sum.
        #[inline(always)]
        pub(super) fn block(&mut self, b: &[u8; 16]) -> u32 {
            // SAFETY: as in `new`.
            unsafe { block_sse2(&mut self.0, b) }
        }

        /// The sum of every byte given to `block`, mod 2^32.
        #[inline(always)]
        pub(super) fn total(&self) -> u32 {
            // SAFETY: as in `new`.
            unsafe { total_sse2(self.0) }
        }
    }

    #[target_feature(enable = "sse2")]
    fn zero() -> __m128i {
        _mm_setzero_si128()
    }

    #[target_feature(enable = "sse2")]
    fn block_sse2(acc: &mut __m128i, b: &[u8; 16]) -> u32 {
        // SAFETY: `b` is 16 readable bytes; `_mm_loadu_si128` has no alignment requirement.
        let v = unsafe { _mm_loadu_si128(b.as_ptr().cast::<__m128i>()) };
        *acc = _mm_add_epi64(*acc, _mm_sad_epu8(v, _mm_setzero_si128()));
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(1))) as u32
    }

    #[target_feature(enable = "sse2")]
    fn total_sse2(acc: __m128i) -> u32 {
        _mm_cvtsi128_si32(_mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc))) as u32
    }
}

/// Little-endian load of 8 bytes at `i` (the caller guarantees `i + 8 <= buf.len()`).
#[inline(always)]
fn load8(buf: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&buf[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Little-endian value of up to 8 bytes.
const fn le(s: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < s.len() {
        v |= (s[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

const P8FIX: u64 = le(b"8=FIX");
/// Multiplier of the perfect hash `(key * FIELD_HASH) >> 29` of the first three tag bytes.
const FIELD_HASH: u32 = 0xa6ce_cc1b;
/// Action for `8=F`: check for `8=FIX`.
const A_8FIX: u8 = 6;
/// Slot -> (first three bytes, action). Actions 0..=5 are the tag bits of 34, 36, 43, 97, 123,
/// 141 (4 and 5 also need `=` as the fourth byte), 6 is [`A_8FIX`]. Unused slots hold
/// `u32::MAX`, which no three-byte key equals.
const FIELD_TABLE: [(u32, u8); 8] = {
    let keys: [(&[u8], u8); 7] = [
        (b"34=", 0),
        (b"36=", 1),
        (b"43=", 2),
        (b"97=", 3),
        (b"123", 4),
        (b"141", 5),
        (b"8=F", A_8FIX),
    ];
    let mut t = [(u32::MAX, 0xFFu8); 8];
    let mut i = 0;
    while i < keys.len() {
        let k = le(keys[i].0) as u32;
        let slot = (k.wrapping_mul(FIELD_HASH) >> 29) as usize;
        assert!(t[slot].1 == 0xFF, "FIELD_HASH is not perfect");
        t[slot] = (k, keys[i].1);
        i += 1;
    }
    t
};

/// SOH bitmask of the 64 bytes `buf[i..i + 64]` (all inside the body), summing them.
#[inline(always)]
fn group_full(acc: &mut Acc, g: &[u8; 64]) -> u64 {
    let mut m = 0u64;
    for k in 0..4 {
        let mut a = [0u8; 16];
        a.copy_from_slice(&g[16 * k..16 * k + 16]);
        m |= u64::from(acc.block(&a)) << (16 * k);
    }
    m
}

/// SOH bitmask of `buf[i..be]` (fewer than 64 bytes, `be >= 16`), summing them.
#[inline]
fn group_tail(acc: &mut Acc, buf: &[u8], i: usize, be: usize) -> u64 {
    let mut m = 0u64;
    for k in 0..4 {
        let bi = i + 16 * k;
        if bi >= be {
            break;
        }
        let mut a = [0u8; 16];
        let shift = if bi + 16 <= be {
            a.copy_from_slice(&buf[bi..bi + 16]);
            0
        } else {
            // The last `r` bytes: the 16 bytes ending at `be` with the ones already seen
            // zeroed (zero is neither SOH nor in the sum); their mask bits move down `16 − r`.
            let r = be - bi;
            a.copy_from_slice(&buf[be - 16..be]);
            let mut keep = [0u8; 16];
            keep.copy_from_slice(&TAIL[r..r + 16]);
            a = (u128::from_le_bytes(a) & u128::from_le_bytes(keep)).to_le_bytes();
            16 - r
        };
        m |= u64::from(acc.block(&a) >> shift) << (16 * k);
    }
    m
}

/// Extraction results of the fields after MsgType.
#[derive(Default)]
struct Extract {
    flags: u8,
    seen: u8,
    seq: u32,
    seq_status: u8,
    new_seq_no: u32,
}

impl Extract {
    /// The field starting at `fs` (inside the body, which ends with SOH before `be`; the
    /// message's trailer follows, so 8-byte loads at `fs` are in bounds). `false` when it is
    /// `8=FIX` (the serial framer reports INTERRUPTED).
    #[inline(always)]
    fn field(&mut self, buf: &[u8], fs: usize, be: usize) -> bool {
        let w = load8(buf, fs);
        // Perfect hash of the first three bytes over the seven interesting prefixes.
        let key = (w & 0xFF_FFFF) as u32;
        let (want, action) = FIELD_TABLE[(key.wrapping_mul(FIELD_HASH) >> 29) as usize];
        let (bit, vs) = if want == key {
            match action {
                0..=3 => (action, fs + 3),
                4 | 5 if (w >> 24) as u8 == b'=' => (action, fs + 4),
                A_8FIX if w & 0xFF_FFFF_FFFF == P8FIX => return false,
                _ => return true,
            }
        } else if w as u8 == b'0' {
            // Leading-zero tag: parse it in full.
            match slow_tag(&buf[fs..be]) {
                Some((bit, eq)) => (bit, fs + eq + 1),
                None => return true,
            }
        } else {
            return true;
        };
        if self.seen & (1 << bit) != 0 {
            return true;
        }
        self.seen |= 1 << bit;
        match bit {
            0 => match seq_value_at(buf, vs) {
                Some(q) => {
                    self.seq = q;
                    self.seq_status = 0;
                }
                None => self.seq_status = crate::contract::reason::SEQ_INVALID,
            },
            1 => {
                if let Some(q) = seq_value_at(buf, vs) {
                    self.new_seq_no = q;
                    self.flags |= Flags::HAS_NEW_SEQ_NO;
                }
            }
            _ => {
                if buf[vs] == b'Y' && buf[vs + 1] == SOH {
                    self.flags |= [
                        Flags::POSS_DUP,
                        Flags::POSS_RESEND,
                        Flags::GAP_FILL,
                        Flags::RESET_SEQ_NUM,
                    ][usize::from(bit) - 2];
                }
            }
        }
        true
    }
}

/// One pass over `buf[..be]` (header and body of a message whose trailer is in `buf`): the
/// checksum accumulator and the field extraction after MsgType. `None` when the serial framer
/// would not find this a plain valid message (`SOH 8=FIX` inside).
#[inline]
fn scan_body(buf: &[u8], bs: usize, be: usize) -> Option<(Framed, u8)> {
    let mt_start = bs + 3;
    if buf[mt_start] == SOH {
        return None;
    }
    let mut x = Extract {
        seq_status: crate::contract::reason::SEQ_MISSING,
        ..Extract::default()
    };
    let mut mt_end = 0usize; // 0 until the MsgType's SOH is found
    let mut acc = Acc::new();
    let mut i = 0;
    while i < be {
        let base = i;
        let mut m = match buf[i..be].first_chunk::<64>() {
            Some(g) => group_full(&mut acc, g),
            None => group_tail(&mut acc, buf, i, be),
        };
        i += 64;
        if base < mt_start {
            // SOHs of the header are not field separators.
            m &= u64::MAX.checked_shl((mt_start - base) as u32).unwrap_or(0);
        }
        if mt_end == 0 && m != 0 {
            // The first SOH of the body ends MsgType (and precedes the first field).
            mt_end = base + m.trailing_zeros() as usize;
        }
        if i >= be {
            // The body's last SOH is followed by the trailer, not by a field.
            m &= !(1u64 << (be - 1 - base));
        }
        while m != 0 {
            let fs = base + m.trailing_zeros() as usize + 1;
            m &= m - 1;
            if !x.field(buf, fs, be) {
                return None;
            }
        }
    }
    if mt_end == 0 {
        return None; // unreachable: the body ends with SOH
    }
    let mt = &buf[mt_start..mt_end];
    let mut flags = x.flags;
    if is_admin_type(mt) {
        flags |= Flags::ADMIN;
    }
    if mt.len() > 4 {
        flags |= Flags::MSG_TYPE_LONG;
    }
    let mut f = Framed {
        flags,
        seq: x.seq,
        seq_status: x.seq_status,
        new_seq_no: x.new_seq_no,
        ..Framed::default()
    };
    let k = mt.len().min(4);
    f.msg_type[..k].copy_from_slice(&mt[..k]);
    Some((f, acc.total() as u8))
}

/// A tag with leading zeros (`field` starts with `0`): the tag-of-interest bit and the index of
/// its `=`, if it is one.
#[cold]
fn slow_tag(field: &[u8]) -> Option<(u8, usize)> {
    let mut tag = 0u32;
    for (k, &c) in field.iter().enumerate().take(6) {
        if c == b'=' {
            if k == 0 {
                return None;
            }
            let bit = match tag {
                34 => 0,
                36 => 1,
                43 => 2,
                97 => 3,
                123 => 4,
                141 => 5,
                _ => return None,
            };
            return Some((bit, k));
        }
        if !c.is_ascii_digit() || k == 5 {
            return None;
        }
        tag = tag * 10 + u32::from(c - b'0');
    }
    None
}

/// The value starting at `buf[vs]` and ending at the next SOH (which exists) as a MsgSeqNum:
/// 1..=10 digits, 1..=2^31−1.
#[inline]
fn seq_value_at(buf: &[u8], vs: usize) -> Option<u32> {
    let mut n = 0u64;
    let mut k = 0;
    loop {
        let c = buf[vs + k];
        if c == SOH {
            break;
        }
        if !c.is_ascii_digit() || k == 10 {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
        k += 1;
    }
    (k > 0 && (1..=0x7FFF_FFFF).contains(&n)).then_some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_block_matches_portable() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut fast = Acc::new();
        let mut slow = PortableAcc::new();
        for _ in 0..10_000 {
            let mut b = [0u8; 16];
            for c in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *c = match x % 4 {
                    0 => SOH,
                    _ => (x >> 8) as u8,
                };
            }
            assert_eq!(fast.block(&b), slow.block(&b), "{b:?}");
            assert_eq!(fast.total() as u8, slow.total() as u8);
        }
    }
}
