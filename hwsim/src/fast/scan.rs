//! The bulk check of one message: header by word compares, body and checksum in one pass of
//! 64-byte groups, fields found with `trailing_zeros` over the SOH bitmask (with AVX2, only the
//! SOHs the field filter keeps: `Scanner::group_fields`).
//!
//! Exactness argument: [`Bulk::Valid`] is returned only when the byte-serial framer would start
//! a message at byte 0, pass every check of section 2 without an interruption, and end it valid
//! at byte `n − 1` with the same extracted fields; every other case is "incomplete, and the
//! serial framer would report nothing yet" or "not sure" (the caller then runs the reference).

#[cfg(test)]
use super::simd::bulk_avx2;
use super::simd::{Avx2Cpu, Scanner};
use super::Kernel;
use crate::contract::{reason, Flags};
use crate::frame::{is_admin_type, Framed, SOH};

/// Outcome of the bulk check of a buffer that starts at a clean `HUNT` position.
pub(in crate::fast) enum Bulk {
    /// A valid message of this many bytes (the framed summary has offset 0).
    Valid(usize, Framed),
    /// The buffer ends before the message could be confirmed and the serial framer would report
    /// nothing yet; more bytes may make it valid. Carries the message's total length once the
    /// header is complete, else 0.
    Incomplete(usize),
    /// Not a plain valid message: let the byte-serial framer decide.
    Other,
}

/// A [`Kernel`] as the bulk check runs it: AVX2 carries the token that proves the CPU has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dispatch {
    /// [`Kernel::Portable`].
    Portable,
    /// [`Kernel::Sse2`].
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// [`Kernel::Avx2`].
    Avx2(Avx2Cpu),
}

impl Dispatch {
    /// `k`, or [`Dispatch::best`] when this CPU cannot run it.
    pub(super) fn new(k: Kernel) -> Dispatch {
        match k {
            Kernel::Portable => Dispatch::Portable,
            #[cfg(target_arch = "x86_64")]
            Kernel::Sse2 => Dispatch::Sse2,
            Kernel::Avx2 => Avx2Cpu::detect().map_or_else(Dispatch::best, Dispatch::Avx2),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Sse2 => Dispatch::best(),
        }
    }

    /// The fastest kernel this CPU runs.
    pub(super) fn best() -> Dispatch {
        if let Some(cpu) = Avx2Cpu::detect() {
            return Dispatch::Avx2(cpu);
        }
        #[cfg(target_arch = "x86_64")]
        return Dispatch::Sse2;
        #[cfg(not(target_arch = "x86_64"))]
        Dispatch::Portable
    }

    /// The public name of the kernel.
    pub(super) fn kernel(self) -> Kernel {
        match self {
            Dispatch::Portable => Kernel::Portable,
            #[cfg(target_arch = "x86_64")]
            Dispatch::Sse2 => Kernel::Sse2,
            Dispatch::Avx2(_) => Kernel::Avx2,
        }
    }
}

/// Bulk check of `buf` with the given block scanner (see [`Bulk`]); `FastPath::process`
/// inlines [`bulk_with`] instead, this is for the unit tests.
#[cfg(test)]
pub(super) fn bulk(d: Dispatch, buf: &[u8], max_msg: u32) -> Bulk {
    match d {
        Dispatch::Avx2(cpu) => bulk_avx2(cpu, buf, max_msg),
        #[cfg(target_arch = "x86_64")]
        Dispatch::Sse2 => bulk_with::<super::simd::Sse2>(buf, max_msg),
        Dispatch::Portable => bulk_with::<Portable>(buf, max_msg),
    }
}

/// Little-endian value of up to 8 bytes.
pub(super) const fn le(s: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < s.len() {
        v |= (s[i] as u64) << (8 * i);
        i += 1;
    }
    v
}

/// Little-endian `u64` at `buf[i..i + 8]`, if in bounds.
#[inline(always)]
fn load8(buf: &[u8], i: usize) -> Option<u64> {
    buf.get(i..i + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

/// 0x80 in every byte of `x` that is not an ASCII digit, 0 elsewhere (exact per byte: no carry
/// crosses bytes).
#[inline(always)]
pub(super) const fn non_digits(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let d = x ^ 0x3030_3030_3030_3030;
    (((d & LOW7) + 0x7676_7676_7676_7676) | d) & 0x8080_8080_8080_8080
}

/// 0x80 in every byte of `x` that is SOH, 0 elsewhere (exact per byte).
#[inline(always)]
const fn soh_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let d = x ^ 0x0101_0101_0101_0101;
    !(((d & LOW7) + LOW7) | d | LOW7)
}

/// The decimal value of the first `k` bytes of `x` (1 ≤ k ≤ 8, all ASCII digits, first byte
/// most significant).
#[inline(always)]
pub(super) const fn swar_digits(x: u64, k: usize) -> u32 {
    let v = (x & 0x0F0F_0F0F_0F0F_0F0F) << (8 * (8 - k));
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v.wrapping_mul(10_000) + (v >> 32)) as u32
}

/// The usual header `8=FIX.4.x SOH 9=<1–7 digits> SOH` or `8=FIXT.1.1 SOH 9=<1–7 digits> SOH`
/// by word compares: (body start, BodyLength). `None` for anything else, including buffers too
/// short for the word loads; [`header_slow`] then decides.
#[inline(always)]
fn header_fast(buf: &[u8]) -> Option<(usize, u64)> {
    let w0 = load8(buf, 0)?;
    let w1 = load8(buf, 8)?;
    let d0 = if w0 == le(b"8=FIX.4.")
        && (w1 & 0xFFFF_FF00) == le(b"\0\x019=")
        && (w1 as u8).wrapping_sub(b'0') < 5
    {
        12
    } else if w0 == le(b"8=FIXT.1") && (w1 & 0xFF_FFFF_FFFF) == le(b".1\x019=") {
        13
    } else {
        return None;
    };
    let x = load8(buf, d0)?;
    let nd = non_digits(x);
    let k = (nd.trailing_zeros() / 8) as usize; // 8 when all eight are digits
    if k == 0 || k == 8 || (x >> (8 * k)) as u8 != SOH {
        return None;
    }
    Some((d0 + k + 1, u64::from(swar_digits(x, k))))
}

/// The header byte by byte: (body start, BodyLength), or the answer when it is not a valid
/// header (`Incomplete` when what is there may still become one).
#[cold]
fn header_slow(buf: &[u8]) -> Result<(usize, u64), Bulk> {
    let len = buf.len();
    if len < 5 {
        return Err(Bulk::Incomplete(0));
    }
    if &buf[..5] != b"8=FIX" {
        return Err(Bulk::Other);
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
        return Err(if ok { Bulk::Incomplete(0) } else { Bulk::Other });
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
        _ => return Err(Bulk::Other),
    }
    if len < i + 2 {
        return Err(if len == i || buf[i] == b'9' {
            Bulk::Incomplete(0)
        } else {
            Bulk::Other
        });
    }
    if buf[i] != b'9' || buf[i + 1] != b'=' {
        return Err(Bulk::Other);
    }
    i += 2;
    let d0 = i;
    let mut l = 0u64;
    loop {
        let Some(&c) = buf.get(i) else {
            return Err(Bulk::Incomplete(0));
        };
        if c.is_ascii_digit() {
            if i - d0 == 9 {
                return Err(Bulk::Other);
            }
            l = l * 10 + u64::from(c - b'0');
            i += 1;
        } else if c == SOH && i > d0 {
            break;
        } else {
            return Err(Bulk::Other);
        }
    }
    Ok((i + 1, l))
}

/// For a buffer that holds a valid header (body at `bs`, BodyLength `l`) but not the whole
/// message: true only if the serial framer would report nothing on these bytes, i.e. no check
/// of section 2 fails within them and there is no `SOH 8=FIX`.
#[inline(never)]
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
    !has_soh_8fix(buf)
}

/// True when `buf` holds `SOH 8=FIX` (complete) anywhere (`memchr` for each `8`, rarer than
/// SOH in FIX text).
fn has_soh_8fix(buf: &[u8]) -> bool {
    memchr::memchr_iter(b'8', buf)
        .any(|p| p > 0 && buf[p - 1] == SOH && buf.get(p..p + 5) == Some(b"8=FIX"))
}

/// `SOH 1 0 = _ _ _ SOH` with the three digits masked out.
const TRAILER: u64 = le(b"\x0110=\0\0\0\x01");
const TRAILER_MASK: u64 = 0xFF00_0000_FFFF_FFFF;

/// Bulk check of `buf`, which starts at a clean `HUNT` position (see [`Bulk`]).
#[inline(always)]
pub(super) fn bulk_with<S: Scanner>(buf: &[u8], max_msg: u32) -> Bulk {
    let (bs, l) = match header_fast(buf) {
        Some(h) => h,
        None => match header_slow(buf) {
            Ok(h) => h,
            Err(b) => return b,
        },
    };
    let n = bs as u64 + l + 7;
    if n > u64::from(max_msg) {
        return Bulk::Other;
    }
    let n = n as usize;
    let l = l as usize;
    if buf.len() < n {
        return if partial_ok(buf, bs, l) {
            Bulk::Incomplete(n)
        } else {
            Bulk::Other
        };
    }
    if l < 5 {
        return Bulk::Other;
    }
    let be = bs + l;
    // The body begins `35=` and a byte other than SOH (bs + 8 <= be + 7 = n).
    let Some(b0) = load8(buf, bs) else {
        return Bulk::Other;
    };
    // The body's last byte SOH, then `10=ddd SOH` (be − 1 + 8 = n <= buf.len()).
    let Some(t) = load8(buf, be - 1) else {
        return Bulk::Other;
    };
    if (b0 & 0xFF_FFFF) != le(b"35=")
        || (b0 >> 24) as u8 == SOH
        || (t & TRAILER_MASK) != TRAILER
        || non_digits(t) & 0x0080_8080_0000_0000 != 0
    {
        return Bulk::Other;
    }
    let cks = u32::from((t >> 32) as u8 & 0xF) * 100
        + u32::from((t >> 40) as u8 & 0xF) * 10
        + u32::from((t >> 48) as u8 & 0xF);
    match scan_body::<S>(buf, bs, be) {
        Some((mut f, sum)) if u32::from(sum) == cks => {
            f.length = n as u32;
            Bulk::Valid(n, f)
        }
        _ => Bulk::Other,
    }
}

/// Portable block scanner: SWAR over 8-byte words (the reference for the SIMD ones, and the
/// implementation off x86_64).
pub(super) struct Portable;

impl Scanner for Portable {
    type Acc = u32;

    fn zero() -> u32 {
        0
    }

    #[inline(always)]
    fn group(acc: &mut u32, g: &[u8; 64], n: usize) -> u64 {
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let mut m = 0u64;
        for k in 0..8 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&g[8 * k..8 * k + 8]);
            let mut x = u64::from_le_bytes(a);
            // 0x80 exactly in the bytes equal to SOH, gathered to one bit per byte.
            let d = x ^ 0x0101_0101_0101_0101;
            let z = !(((d & LOW7) + LOW7) | d | LOW7);
            m |= ((z >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
            let keep = n.saturating_sub(8 * k).min(8);
            if keep < 8 {
                x &= (1u64 << (8 * keep)) - 1;
            }
            // Byte sum of the word: pairs, then the four 16-bit lanes.
            let p = (x & 0x00FF_00FF_00FF_00FF) + ((x >> 8) & 0x00FF_00FF_00FF_00FF);
            *acc = acc.wrapping_add((p.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u32);
        }
        m
    }

    fn total(acc: u32) -> u32 {
        acc
    }
}

/// [`Scanner::group_fields`] at `buf[i..]` when fewer than 66 bytes are left: the bytes are
/// copied into a zero-padded group (zero is neither SOH nor a digit nor adds to the sum). Runs
/// out of line through [`Scanner::group_fields_padded`] (inlining it into the hot loop costs
/// more than the call).
#[inline(always)]
pub(super) fn group_fields_padded<S: Scanner>(
    acc: &mut S::Acc,
    buf: &[u8],
    i: usize,
    n: usize,
) -> u64 {
    let mut g = [0u8; 66];
    let rest = buf.get(i..).unwrap_or_default();
    let k = rest.len().min(66);
    g[..k].copy_from_slice(&rest[..k]);
    S::group_fields(acc, &g, n)
}

/// Action of a perfect-hash slot: tag bits 0..=5 (34, 36, 43, 97, 123, 141; 4 and 5 also need
/// `=` as the fourth byte), [`A_8FIX`] for `8=F`, [`A_NONE`] for an unused slot.
const A_8FIX: u8 = 6;
const A_NONE: u8 = 7;
/// Multiplier of the perfect hash `(key * FIELD_HASH) >> 29` of the first three tag bytes.
const FIELD_HASH: u32 = 0xa6ce_cc1b;

/// Slot -> first three bytes (unused: `u32::MAX`, which no three-byte key equals), and slot ->
/// action.
const FIELD_TABLE: ([u32; 8], [u8; 8]) = {
    let keys: [(&[u8], u8); 7] = [
        (b"34=", 0),
        (b"36=", 1),
        (b"43=", 2),
        (b"97=", 3),
        (b"123", 4),
        (b"141", 5),
        (b"8=F", A_8FIX),
    ];
    let mut k3 = [u32::MAX; 8];
    let mut act = [A_NONE; 8];
    let mut i = 0;
    while i < keys.len() {
        let k = le(keys[i].0) as u32;
        let slot = (k.wrapping_mul(FIELD_HASH) >> 29) as usize;
        assert!(act[slot] == A_NONE, "FIELD_HASH is not perfect");
        k3[slot] = k;
        act[slot] = keys[i].1;
        i += 1;
    }
    (k3, act)
};
static FIELD_KEYS: [u32; 8] = FIELD_TABLE.0;
static FIELD_ACTS: [u8; 8] = FIELD_TABLE.1;
const P8FIX: u64 = le(b"8=FIX");

/// Extraction results of the fields after MsgType.
struct Extract {
    flags: u8,
    seen: u8,
    seq: u32,
    seq_status: u8,
    new_seq_no: u32,
}

/// Bit `c % 64` set for the first bytes a field of interest (or `8=FIX`) can start with:
/// `0` (a tag with leading zeros), `1`, `3`, `4`, `8`, `9`. Other bytes whose value mod 64 hits
/// one of these bits just take the exact test.
const FIRST: u64 = {
    let first = *b"013489";
    let mut bits = 0u64;
    let mut i = 0;
    while i < first.len() {
        bits |= 1 << (first[i] % 64);
        i += 1;
    }
    bits
};

impl Extract {
    /// Every field that starts right after an SOH of `m` (bit `k`: the SOH at `base + k`, below
    /// `be − 1`). `false` on `SOH 8=FIX`.
    #[inline(always)]
    fn fields(&mut self, buf: &[u8], base: usize, mut m: u64, be: usize) -> bool {
        while m != 0 {
            let fs = base + m.trailing_zeros() as usize + 1;
            m &= m - 1;
            if !self.field(buf, fs, be) {
                return false;
            }
        }
        true
    }

    /// The field starting at `fs` (inside the body, `fs < be`; the body ends with SOH at
    /// `be − 1` and the 7-byte trailer follows, so `fs + 8 <= buf.len()`). `false` when it is
    /// `8=FIX` (the serial framer reports INTERRUPTED). Most fields are not of interest and
    /// leave after one hash probe.
    #[inline(always)]
    fn field(&mut self, buf: &[u8], fs: usize, be: usize) -> bool {
        debug_assert!(fs < be && be + 7 <= buf.len());
        // In bounds: fs + 8 <= be + 7 <= buf.len() (`scan_body` only passes field starts after
        // an SOH below be − 1); 0 (not of interest) is never used.
        let w = load8(buf, fs).unwrap_or(0);
        if (FIRST >> (w % 64)) & 1 == 0 {
            return true;
        }
        let key = w as u32 & 0xFF_FFFF;
        let slot = (key.wrapping_mul(FIELD_HASH) >> 29) as usize;
        if FIELD_KEYS[slot] != key && w as u8 != b'0' {
            return true;
        }
        if key == le(b"34=") as u32 && self.seen & 1 == 0 {
            // The message's MsgSeqNum, inline (the general case below handles the rest).
            self.seen |= 1;
            match seq_value_at(buf, fs + 3) {
                Some(q) => {
                    self.seq = q;
                    self.seq_status = 0;
                }
                None => self.seq_status = reason::SEQ_INVALID,
            }
            return true;
        }
        self.field_of_interest(buf, fs, be, w, FIELD_ACTS[slot], FIELD_KEYS[slot] == key)
    }

    /// The rare part of [`Extract::field`]: a hash hit (`hit`, with `action`) or a tag written
    /// with a leading zero.
    #[inline(never)]
    fn field_of_interest(
        &mut self,
        buf: &[u8],
        fs: usize,
        be: usize,
        w: u64,
        action: u8,
        hit: bool,
    ) -> bool {
        let (bit, vs) = if hit {
            match action {
                0..=3 => (action, fs + 3),
                4 | 5 if (w >> 24) as u8 == b'=' => (action, fs + 4),
                A_8FIX if w & 0xFF_FFFF_FFFF == P8FIX => return false,
                _ => return true,
            }
        } else {
            // Leading-zero tag: parse it in full.
            match slow_tag(&buf[fs..be]) {
                Some((bit, eq)) => (bit, fs + eq + 1),
                None => return true,
            }
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
                None => self.seq_status = reason::SEQ_INVALID,
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

/// One pass over `buf[..be]` (header and body of a message whose 7-byte trailer follows in
/// `buf`): the checksum sum and the field extraction after MsgType. `None` when the serial
/// framer would not find this a plain valid message (`SOH 8=FIX` inside).
#[inline(always)]
fn scan_body<S: Scanner>(buf: &[u8], bs: usize, be: usize) -> Option<(Framed, u8)> {
    // The header is at most 24 bytes, so MsgType's value starts in the first group; the caller
    // checked that it is not empty.
    let mt_start = bs + 3;
    debug_assert!(mt_start < 64 && be > mt_start && be + 7 <= buf.len());
    let mut x = Extract {
        flags: 0,
        seen: 0,
        seq: 0,
        seq_status: reason::SEQ_MISSING,
        new_seq_no: 0,
    };
    // MsgType ends at the first SOH from `mt_start` (one exists: byte be − 1), found in one
    // word when the value is shorter than 8 bytes (mt_start + 8 <= be + 7 as l >= 5).
    let Some(mw) = load8(buf, mt_start) else {
        return None; // unreachable: see above
    };
    let mt_len = match soh_bytes(mw) {
        0 => memchr::memchr(SOH, &buf[mt_start + 8..be])? + 8,
        z => (z.trailing_zeros() / 8) as usize,
    };
    let mut acc = S::zero();
    // SOHs of the header are not field separators.
    let mut hdr = u64::MAX << mt_start;
    // Whole groups inside the body (be − i > 64, so the 66 bytes end at i + 66 <= be + 1,
    // inside the buffer: the 7-byte trailer follows the body).
    let full = (be - 1) / 64;
    let mut i = 0;
    for _ in 0..full {
        let Some(g) = buf.get(i..i + 66).and_then(|r| r.first_chunk::<66>()) else {
            return None; // unreachable: see above
        };
        let m = S::group_fields(&mut acc, g, 64) & hdr;
        hdr = u64::MAX;
        if m != 0 && !x.fields(buf, i, m, be) {
            return None;
        }
        i += 64;
    }
    // The last group: only bytes before `be` are body, and the body's last SOH (at be − 1) is
    // followed by the trailer, not by a field.
    let left = be - i;
    let m = match buf.get(i..).and_then(|r| r.first_chunk::<66>()) {
        Some(g) => S::group_fields(&mut acc, g, left),
        None => S::group_fields_padded(&mut acc, buf, i, left),
    } & hdr
        & ((u64::MAX >> (64 - left)) >> 1);
    if !x.fields(buf, i, m, be) {
        return None;
    }
    let mut flags = x.flags;
    // Admin: exactly one byte, `0`..`5` or `A`.
    if mt_len == 1 && is_admin_type(&[mw as u8]) {
        flags |= Flags::ADMIN;
    }
    if mt_len > 4 {
        flags |= Flags::MSG_TYPE_LONG;
    }
    // The first four bytes of MsgType, zero-padded.
    let keep = 8 * mt_len.min(4) as u32;
    let mt4 = (mw & ((1u64 << keep) - 1)) as u32;
    let f = Framed {
        flags,
        seq: x.seq,
        seq_status: x.seq_status,
        new_seq_no: x.new_seq_no,
        msg_type: mt4.to_le_bytes(),
        ..Framed::default()
    };
    Some((f, S::total(acc) as u8))
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
/// 1..=10 digits, 1..=2^31−1. Up to 7 digits by one word; longer or near the buffer's end byte
/// by byte.
#[inline(always)]
fn seq_value_at(buf: &[u8], vs: usize) -> Option<u32> {
    if let Some(x) = load8(buf, vs) {
        let nd = non_digits(x);
        let k = (nd.trailing_zeros() / 8) as usize;
        if k < 8 {
            // Byte k is the first non-digit: the value is valid only if it is the SOH and
            // there is at least one digit, and not zero.
            if k == 0 || (x >> (8 * k)) as u8 != SOH {
                return None;
            }
            let v = swar_digits(x, k);
            return (v != 0).then_some(v);
        }
    }
    seq_value_slow(buf, vs)
}

/// [`seq_value_at`] byte by byte.
#[cold]
fn seq_value_slow(buf: &[u8], vs: usize) -> Option<u32> {
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
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Checks scanner `S` against byte-serial references on random groups biased towards SOH,
/// digits, `=` and bytes with the high bit set: the SOH mask and the sum of [`Scanner::group`],
/// and for [`Scanner::group_fields`] the sum and a mask between the exact field-of-interest
/// SOHs and all SOHs, equal to the SOHs that `model` keeps (given the two bytes after the SOH)
/// when there is one.
#[cfg(test)]
pub(super) fn check_scanner<S: Scanner>(name: &str, model: Option<fn(u8, u8) -> bool>) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut acc = S::zero();
    let mut want_sum = 0u32;
    for round in 0..40_000 {
        let mut g = [0u8; 66];
        for c in g.iter_mut() {
            let r = xorshift(&mut x);
            *c = match r % 8 {
                0 | 1 => SOH,
                2 => 0xFF,
                3 => b'=',
                4 => 0x80 | (r >> 8) as u8,
                5 | 6 => b'0' + ((r >> 8) % 10) as u8,
                _ => (r >> 8) as u8,
            };
        }
        let n = 1 + (xorshift(&mut x) % 64) as usize;
        let mut soh = 0u64;
        let mut exact = 0u64;
        for k in 0..64 {
            if g[k] == SOH {
                soh |= 1 << k;
                let pair = [g[k + 1], g[k + 2]];
                let of_interest = (g[k + 1] == b'0' && g[k + 2].is_ascii_digit())
                    || [b"34", b"36", b"43", b"97", b"12", b"14", b"8="]
                        .iter()
                        .any(|p| **p == pair);
                exact |= u64::from(of_interest) << k;
            }
        }
        let s: u32 = g[..n].iter().map(|&c| u32::from(c)).sum();
        want_sum = want_sum.wrapping_add(s);
        let mut g64 = [0u8; 64];
        g64.copy_from_slice(&g[..64]);
        if round % 2 == 0 {
            assert_eq!(
                S::group(&mut acc, &g64, n),
                soh,
                "{name} round {round}: {g:?}"
            );
        } else {
            let m = S::group_fields(&mut acc, &g, n);
            assert_eq!(m & !soh, 0, "{name} round {round}: a non-SOH bit: {g:?}");
            assert_eq!(
                m & exact,
                exact,
                "{name} round {round}: a field missed: {g:?}"
            );
            if let Some(keep) = model {
                let want = (0..64)
                    .filter(|&k| soh >> k & 1 == 1 && keep(g[k + 1], g[k + 2]))
                    .fold(0u64, |a, k| a | 1 << k);
                assert_eq!(m, want, "{name} round {round}: not the model's mask: {g:?}");
            }
        }
        assert_eq!(S::total(acc), want_sum, "{name} round {round} n {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scanner_matches_the_byte_serial_reference() {
        check_scanner::<Portable>("portable", None);
        #[cfg(target_arch = "x86_64")]
        check_scanner::<super::super::simd::Sse2>("sse2", None);
        #[cfg(target_arch = "x86_64")]
        if let Some(cpu) = Avx2Cpu::detect() {
            super::super::simd::test_avx2_scanner(cpu);
        } else {
            println!("skipped the AVX2 scanner: this CPU has no AVX2");
        }
    }

    /// The kernels this CPU runs.
    fn kernels() -> Vec<Dispatch> {
        [Kernel::Portable, Kernel::Sse2, Kernel::Avx2]
            .into_iter()
            .filter(|k| k.is_available())
            .map(Dispatch::new)
            .collect()
    }

    #[test]
    fn valid_messages_take_the_bulk_path_with_the_reference_fields() {
        // Messages of every length from ~40 to ~700 bytes, with and without bytes after them
        // (the zero-padded last group), each framed by the reference for comparison.
        let (stream, msgs) = crate::gen::valid_stream(5, 200_000, 40, 700);
        let mut fs = crate::frame::FrameState::new();
        let mut framed = Vec::new();
        fs.feed(&stream, 4096, |f| framed.push(f));
        assert_eq!(framed.len() as u64, msgs);
        for k in kernels() {
            for f in &framed {
                let (o, n) = (f.offset as usize, f.length as usize);
                let mut want = *f;
                want.offset = 0;
                for buf in [
                    &stream[o..o + n],
                    &stream[o..(o + n + 100).min(stream.len())],
                ] {
                    match bulk(k, buf, 4096) {
                        Bulk::Valid(got_n, got) => {
                            assert_eq!((got_n, got), (n, want), "{k:?} at {o}");
                        }
                        _ => panic!("{k:?}: valid message at {o} not taken in bulk"),
                    }
                }
                // Cut one byte short: incomplete, with the total length known.
                assert!(
                    matches!(bulk(k, &stream[o..o + n - 1], 4096), Bulk::Incomplete(t) if t == n),
                    "{k:?} at {o}: cut message"
                );
            }
        }
    }

    #[test]
    fn swar_digit_helpers_match_a_plain_parse() {
        let mut x = 1u64;
        for _ in 0..100_000 {
            let r = xorshift(&mut x);
            let mut b = r.to_le_bytes();
            // Bias towards digits.
            for (j, c) in b.iter_mut().enumerate() {
                if (r >> (j + 40)) & 3 != 0 {
                    *c = b'0' + (*c % 10);
                }
            }
            let w = u64::from_le_bytes(b);
            let nd = non_digits(w);
            for (j, &c) in b.iter().enumerate() {
                assert_eq!((nd >> (8 * j + 7)) & 1 == 1, !c.is_ascii_digit(), "{b:?}");
            }
            let k = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if k > 0 {
                let want: u32 = b[..k].iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0'));
                assert_eq!(swar_digits(w, k), want, "{b:?}");
            }
        }
        assert_eq!(swar_digits(le(b"99999999"), 8), 99_999_999);
        assert_eq!(swar_digits(le(b"1\x01xxxxxx"), 1), 1);
    }

    #[test]
    fn seq_values_by_word_and_by_byte_agree() {
        let cases: [(&[u8], Option<u32>); 10] = [
            (b"1\x01", Some(1)),
            (b"0\x01", None),
            (b"\x01", None),
            (b"12a\x01", None),
            (b"0000007\x01", Some(7)),
            (b"1234567\x01", Some(1_234_567)),
            (b"12345678\x01", Some(12_345_678)),
            (b"2147483647\x01", Some(0x7FFF_FFFF)),
            (b"2147483648\x01", None),
            (b"00000000001\x01", None),
        ];
        for (v, want) in cases {
            let mut padded = v.to_vec();
            padded.extend_from_slice(b"10=000\x01");
            assert_eq!(seq_value_at(&padded, 0), want, "{v:?}");
            assert_eq!(seq_value_slow(&padded, 0), want, "{v:?}");
        }
    }
}
