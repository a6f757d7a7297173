//! The software engine's fast path: the sequencer over byte slices, when no card is present.
//!
//! [`FastPath::process`] gives exactly the verdict records the byte-serial reference
//! ([`FrameState`] + [`SeqState`], i.e. the RTL) gives for the same session bytes, however the
//! stream is chunked, and hands each record to a callback with the message's bytes.
//!
//! How it is fast and still exact: while a session's framer is between messages with no partial
//! `8=FIX` match ([`FrameState`] "clean"), junk is skipped with `memchr` and a message that is
//! complete in the buffer is checked and its fields extracted in one pass (module `scan`): the
//! header by word compares and a SWAR BodyLength parse, then 64 bytes at a time an SOH bitmask
//! and the checksum sum (a [`Kernel`]: AVX2 when the CPU has it, else SSE2 on x86_64, portable
//! SWAR code elsewhere). The AVX2 kernel also drops from the mask every SOH whose next two
//! bytes cannot begin a field of interest (two `pshufb` lookups per 32 bytes: `34 36 43 97 12
//! 14 8=` or a leading `0` followed by a digit), so a typical order probes two fields instead of
//! a dozen and the probe loop's branches stay predictable; each remaining SOH gets one exact
//! perfect-hash probe of the next field's first bytes (MsgSeqNum and NewSeqNo then parse by
//! SWAR). With AVX2 the whole `process` loop is compiled for AVX2 (module `simd`, entered with
//! a token that proves the CPU has it), and an in-order message while nothing is held is
//! classified inline ([`SeqState::classify_fast`]). The bulk check only ever answers "valid,
//! exactly as section 2 frames it", "incomplete, and nothing the serial framer would report
//! yet" or "not sure"; on "not sure" the bytes go through the byte-serial [`FrameState`] until
//! it is clean again, so every garbled case, interruption and odd field is decided by the
//! reference itself. A message cut by the end of a chunk is kept in a per-session pending
//! buffer and checked in bulk when the rest arrives. Records are emitted after exactly the same
//! chunk as the reference would emit them (tests/differential.rs checks this in lock-step).
//! Every kernel gives the same records (tests/fast_kernels.rs, tests/fast_fields.rs).
//!
//! The per-field hash handles tags written without leading zeros; a field starting with `0`
//! takes a slow exact parse, so `0034=` still counts as MsgSeqNum as section 2 says.
//!
//! Cost (callgrind, `hwsim/examples/fast_profile.rs`, 150–350-byte orders): with AVX2, 556
//! instructions per message in 64 KiB chunks and 662 in 1 460-byte chunks (742 and 842 before
//! the field filter and the AVX2-compiled loop, 1 088 before the block scan); the branch
//! mispredictions the filter removes matter more than the count. SSE2 863, portable 1 651.
//!
//! Memory: per session two buffers of `max(max_msg, 24)` bytes and the `W`-bit window, all
//! allocated in [`FastPath::new`]; [`FastPath::process`] does not allocate. Hostile input
//! costs at most the byte-serial rate (a few ns per byte) and never more memory.

mod scan;
mod simd;

use crate::contract::{Reason, Verdict};
use crate::frame::FrameState;
use crate::seq::{Counters, SeqState};
use scan::{bulk_with, Bulk, Dispatch};
use simd::Scanner;

/// The block scanner [`FastPath`] runs its bulk check with. All kernels give identical records;
/// they differ only in speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// SWAR over 8-byte words; available everywhere.
    Portable,
    /// SSE2, 16 bytes per instruction (x86_64 baseline).
    Sse2,
    /// AVX2 (with BMI1/BMI2/LZCNT/POPCNT), 32 bytes per instruction, detected at run time.
    Avx2,
}

impl Kernel {
    /// True when this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        scan::Dispatch::new(self).kernel() == self
    }

    /// The fastest kernel this CPU can run.
    pub fn best() -> Kernel {
        scan::Dispatch::best().kernel()
    }
}

/// A message cut by chunk ends is re-checked in bulk at most this many times, then handed to
/// the byte-serial framer (so 1-byte chunks cost O(n), not O(n²)).
const MAX_PENDING_TRIES: u8 = 4;

/// Longest possible partial message before its BodyLength is known:
/// `8=FIXT.1.1 SOH 9=` + 9 digits + SOH.
const HEADER_MAX: usize = 24;

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
    kernel: Dispatch,
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
        FastPath::with_kernel(sessions, window, max_msg, Kernel::best())
    }

    /// As [`FastPath::new`] with the given block scanner; a kernel this CPU cannot run is
    /// replaced by [`Kernel::best`] (see [`FastPath::kernel`]).
    ///
    /// # Panics
    /// As [`FastPath::new`].
    pub fn with_kernel(sessions: usize, window: u32, max_msg: usize, kernel: Kernel) -> FastPath {
        let kernel = Dispatch::new(kernel);
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
            kernel,
            max_msg,
            cap,
            sessions,
        }
    }

    /// The block scanner in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel.kernel()
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
    pub fn process(&mut self, session: u16, chunk: &[u8], on: impl FnMut(&Verdict, &[u8])) {
        match self.kernel {
            Dispatch::Avx2(cpu) => simd::process_avx2(cpu, self, session, chunk, on),
            #[cfg(target_arch = "x86_64")]
            Dispatch::Sse2 => self.process_with::<simd::Sse2>(session, chunk, on),
            Dispatch::Portable => self.process_with::<scan::Portable>(session, chunk, on),
        }
    }

    /// [`FastPath::process`] with block scanner `S`, inlined into its caller (for AVX2, a
    /// function compiled with AVX2, so the whole loop is).
    #[inline(always)]
    fn process_with<S: Scanner>(
        &mut self,
        session: u16,
        chunk: &[u8],
        mut on: impl FnMut(&Verdict, &[u8]),
    ) {
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
            match bulk_with::<S>(&ss.pending, max_msg) {
                Bulk::Valid(n, mut f) => {
                    f.offset = ss.fs.offset();
                    let v = ss.seq.classify_fast(session, &f);
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
            match bulk_with::<S>(rest, max_msg) {
                Bulk::Valid(n, mut f) => {
                    f.offset = ss.fs.offset();
                    let v = ss.seq.classify_fast(session, &f);
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
