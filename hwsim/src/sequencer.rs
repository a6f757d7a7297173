//! One software-facing interface for every sequencer the engine can run on
//! (`docs/sequencer.md` section 7).
//!
//! [`Sequencer`] is what the runtime's sequencer agent and the session tests drive: bytes of a
//! session's stream in, one `(Verdict, message bytes)` per message out, in stream order, and the
//! three register operations of section 5 (`EXPECTED` write, `CONTROL.CLEAR_WINDOW`,
//! `CONTROL.RESET_STREAM`). Every implementation gives the same records after the same chunk:
//! a call to [`Sequencer::process`] returns only when every message whose last byte is in the
//! chunk has been handed to `on`.
//!
//! Implementations:
//!
//! * [`FastPath`] — the software fast path (no card);
//! * [`PinSequencer`] — any pin-level model behind [`SequencerSim`] (the cycle model
//!   [`crate::cycle::CycleModel`], or the Verilated RTL `fpga_sim::Rtl`) driven beat by beat
//!   through its AXI-Stream and register pins;
//! * [`CardSequencer`] — a card behind the memory-mapped seam of [`crate::card`]: payload and
//!   register writes go to the card through the command ring, verdicts come back through the
//!   verdict ring.
//!
//! The pin-level and card implementations keep their own copy of each session's recent stream
//! bytes ([`StreamBuf`]) to hand `on` the message bytes a verdict's offset and length point at
//! (the hardware never returns payload). `GARBLED` records get empty bytes, as from the fast
//! path.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::card::{CmdWriter, RingReader};
use crate::contract::{Kind, Verdict, OFFSET_MASK};
use crate::cycle::{csr, Config, PinsIn, SequencerSim};
use crate::fast::FastPath;

/// A sequencer as the engine sees it (see the module docs).
pub trait Sequencer: Send {
    /// Short name for logs (`fast`, `model`, `rtl`, `card`).
    fn name(&self) -> &'static str;
    /// Feeds the next bytes of `session`'s stream; calls `on` once per record, in stream order,
    /// with the message's bytes (empty for `GARBLED`), for every message whose last byte is in
    /// `chunk`, before returning.
    fn process(&mut self, session: u16, chunk: &[u8], on: &mut dyn FnMut(&Verdict, &[u8]));
    /// Register `EXPECTED` write: `E := e`, window cleared.
    fn set_expected(&mut self, session: u16, e: u32);
    /// `CONTROL.CLEAR_WINDOW`.
    fn clear_window(&mut self, session: u16);
    /// `CONTROL.RESET_STREAM`: the session's framer to `HUNT`, stream offset 0; a partial
    /// message is dropped without a record.
    fn reset_stream(&mut self, session: u16);
    /// Why the sequencer stopped working (a card that stopped answering, a simulation that
    /// hung), if it did. After a failure `process` drops its input.
    fn failure(&self) -> Option<&str> {
        None
    }
}

impl Sequencer for FastPath {
    fn name(&self) -> &'static str {
        "fast"
    }
    #[inline]
    fn process(&mut self, session: u16, chunk: &[u8], on: &mut dyn FnMut(&Verdict, &[u8])) {
        FastPath::process(self, session, chunk, on)
    }
    fn set_expected(&mut self, session: u16, e: u32) {
        FastPath::set_expected(self, session, e)
    }
    fn clear_window(&mut self, session: u16) {
        FastPath::clear_window(self, session)
    }
    fn reset_stream(&mut self, session: u16) {
        FastPath::reset_stream(self, session)
    }
}

impl<T: Sequencer + ?Sized> Sequencer for Box<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn process(&mut self, session: u16, chunk: &[u8], on: &mut dyn FnMut(&Verdict, &[u8])) {
        (**self).process(session, chunk, on)
    }
    fn set_expected(&mut self, session: u16, e: u32) {
        (**self).set_expected(session, e)
    }
    fn clear_window(&mut self, session: u16) {
        (**self).clear_window(session)
    }
    fn reset_stream(&mut self, session: u16) {
        (**self).reset_stream(session)
    }
    fn failure(&self) -> Option<&str> {
        (**self).failure()
    }
}

/// Longest message the framer can report for `max_msg` (the header alone can be 24 bytes).
pub fn max_record_len(max_msg: usize) -> usize {
    max_msg.clamp(24, crate::contract::LENGTH_MASK as usize)
}

/// The recent bytes of one session's stream, so a verdict's `offset`/`length` can be turned
/// into the message bytes. Holds at most `2 * keep` bytes; fixed memory after construction.
///
/// Usage: [`StreamBuf::append`] a piece of at most `keep` bytes, feed it to the sequencer, slice
/// the records of messages that end in it, and only then append the next piece. A message not
/// yet ended started less than `max_record_len` bytes before the end, so `keep` at least that
/// long never drops a byte still needed.
pub struct StreamBuf {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    start: u64,
    keep: usize,
}

impl StreamBuf {
    /// A buffer for pieces of up to `keep` bytes.
    pub fn new(keep: usize) -> StreamBuf {
        StreamBuf {
            buf: Vec::with_capacity(2 * keep),
            start: 0,
            keep,
        }
    }

    /// The largest piece [`StreamBuf::append`] takes.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Stream offset just past the last byte appended.
    pub fn end(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Appends `piece` (at most `keep` bytes), forgetting bytes older than the last `keep`.
    ///
    /// # Panics
    /// If `piece` is longer than `keep`.
    pub fn append(&mut self, piece: &[u8]) {
        assert!(piece.len() <= self.keep, "piece above keep");
        if self.buf.len() + piece.len() > 2 * self.keep {
            let drop = self.buf.len() - self.keep.min(self.buf.len());
            self.buf.copy_within(drop.., 0);
            self.buf.truncate(self.buf.len() - drop);
            self.start += drop as u64;
        }
        self.buf.extend_from_slice(piece);
    }

    /// The stream bytes `[offset, offset + len)` (`offset` mod 2^40, as in a verdict), if still
    /// held.
    pub fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let rel = offset.wrapping_sub(self.start) & OFFSET_MASK;
        let rel = usize::try_from(rel).ok()?;
        let end = rel.checked_add(len)?;
        self.buf.get(rel..end)
    }

    /// The bytes a verdict hands to the session layer: empty for `GARBLED`, else the message.
    /// `None` when the bytes are no longer held (a caller bug or a corrupt record).
    pub fn message(&self, v: &Verdict) -> Option<&[u8]> {
        if v.kind() == Some(Kind::Garbled) {
            return Some(&[]);
        }
        self.slice(v.offset, v.length as usize)
    }

    /// Forgets everything: the stream restarts at offset 0 (`CONTROL.RESET_STREAM`).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.start = 0;
    }
}

/// Where a [`PinDriver`] sends verdicts: decides `m_axis_tready` every cycle.
pub trait PinSink {
    /// `m_axis_tready` for this cycle.
    fn ready(&mut self) -> bool;
    /// The verdict transferred in a cycle where [`PinSink::ready`] returned true.
    fn accept(&mut self, v: &Verdict);
}

/// Cycles in a row with `m_axis_tready` high and no progress before a run is declared hung.
const STUCK_CYCLES: u32 = 100_000;

/// Drives a [`SequencerSim`] through its pins: payload beats with the AXI-Stream handshake,
/// register writes with the CSR handshake, and verdicts out through a [`PinSink`] that
/// chooses the back-pressure. A beat or a write is held until accepted, a verdict is handed
/// over only in a cycle where the sink was ready: nothing is lost.
pub struct PinDriver<S> {
    sim: S,
    cfg: Config,
    cycles: u64,
    stalls: u64,
}

impl<S: SequencerSim> PinDriver<S> {
    /// Resets `sim` (configured as `cfg`) and waits out its reset sweep.
    ///
    /// # Errors
    /// If the sweep never ends.
    pub fn new(sim: S, cfg: Config) -> Result<PinDriver<S>, String> {
        let mut d = PinDriver {
            sim,
            cfg,
            cycles: 0,
            stalls: 0,
        };
        d.sim.reset();
        for _ in 0..cfg.sessions + STUCK_CYCLES {
            let o = d.sim.tick(&PinsIn {
                m_tready: true,
                ..PinsIn::default()
            });
            d.cycles += 1;
            if o.s_tready {
                return Ok(d);
            }
        }
        Err("the sequencer never left its reset sweep".into())
    }

    /// The block's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Cycles clocked so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Cycles in which a beat was offered and not accepted.
    pub fn stalls(&self) -> u64 {
        self.stalls
    }

    /// The simulation.
    pub fn sim(&self) -> &S {
        &self.sim
    }

    /// One cycle; returns (`s_tready`, `csr_ready`, `m_tvalid`) and hands a transferred
    /// verdict to the sink.
    fn cycle(&mut self, mut inp: PinsIn, sink: &mut dyn PinSink) -> (bool, bool, bool) {
        inp.m_tready = sink.ready();
        let o = self.sim.tick(&inp);
        self.cycles += 1;
        if o.m_tvalid && inp.m_tready {
            sink.accept(&Verdict::from_words(o.m_tdata));
        }
        (o.s_tready, o.csr_ready, o.m_tvalid && !inp.m_tready)
    }

    /// Sends `bytes` (any length) of `session`'s stream as beats of up to 8 bytes, `tlast` on
    /// the last, each held until accepted.
    ///
    /// # Errors
    /// If a beat is not accepted for [`STUCK_CYCLES`] cycles while the sink is ready.
    pub fn feed(
        &mut self,
        session: u16,
        bytes: &[u8],
        sink: &mut dyn PinSink,
    ) -> Result<(), String> {
        let n = bytes.len().div_ceil(8);
        for (i, c) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            let inp = PinsIn {
                s_tdata: u64::from_le_bytes(w),
                s_tkeep: ((1u16 << c.len()) - 1) as u8,
                s_tvalid: true,
                s_tlast: i + 1 == n,
                s_tuser: session,
                ..PinsIn::default()
            };
            let mut waited = 0u32;
            loop {
                let (accepted, _, blocked) = self.cycle(inp, sink);
                if accepted {
                    break;
                }
                self.stalls += 1;
                if !blocked {
                    waited += 1;
                    if waited >= STUCK_CYCLES {
                        return Err(format!(
                            "beat of session {session} not accepted for {STUCK_CYCLES} cycles"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// One register write (section 5), held until accepted.
    ///
    /// # Errors
    /// If it is not accepted for [`STUCK_CYCLES`] cycles while the sink is ready.
    pub fn csr_write(
        &mut self,
        addr: u32,
        data: u32,
        sink: &mut dyn PinSink,
    ) -> Result<(), String> {
        let inp = PinsIn {
            csr_valid: true,
            csr_we: true,
            csr_addr: addr,
            csr_wdata: data,
            ..PinsIn::default()
        };
        let mut waited = 0u32;
        loop {
            let (_, accepted, blocked) = self.cycle(inp, sink);
            if accepted {
                return Ok(());
            }
            if !blocked {
                waited += 1;
                if waited >= STUCK_CYCLES {
                    return Err(format!("CSR write {addr:#x} never accepted"));
                }
            }
        }
    }

    /// Clocks idle cycles until every queued verdict has been handed to the sink: three cycles
    /// in a row without `m_axis_tvalid` (the sequencer stage pops whenever its register is free,
    /// so two empty cycles mean an empty frame queue).
    ///
    /// # Errors
    /// If verdicts keep coming for [`STUCK_CYCLES`] cycles in which the sink was ready.
    pub fn drain(&mut self, sink: &mut dyn PinSink) -> Result<(), String> {
        let mut quiet = 0;
        let mut busy = 0u32;
        while quiet < 3 {
            let ready = sink.ready();
            let o = self.sim.tick(&PinsIn {
                m_tready: ready,
                ..PinsIn::default()
            });
            self.cycles += 1;
            if o.m_tvalid && ready {
                sink.accept(&Verdict::from_words(o.m_tdata));
            }
            if o.m_tvalid {
                quiet = 0;
                if ready {
                    busy += 1;
                    if busy >= STUCK_CYCLES {
                        return Err("verdicts never drained".into());
                    }
                }
            } else {
                quiet += 1;
            }
        }
        Ok(())
    }
}

/// Register address of `reg` of `session` (section 5).
fn csr_addr(session: u16, reg: u32) -> u32 {
    csr::addr(u32::from(session), reg)
}

/// Random `m_axis_tready` pattern, for tests: the pin sequencer must lose nothing under it.
struct Backpressure {
    rng: SmallRng,
    pct: u32,
}

/// [`Sequencer`] over a pin-level model (see the module docs). One verdict is handed to `on`
/// in the cycle the model transfers it; each chunk is fed in pieces of at most
/// [`max_record_len`]` + 64` bytes, each drained before the next.
pub struct PinSequencer<S> {
    drv: PinDriver<S>,
    name: &'static str,
    streams: Vec<StreamBuf>,
    bp: Option<Backpressure>,
    failure: Option<String>,
    lost: u64,
}

struct PinOut<'a> {
    streams: &'a [StreamBuf],
    on: &'a mut dyn FnMut(&Verdict, &[u8]),
    bp: &'a mut Option<Backpressure>,
    lost: &'a mut u64,
}

impl PinSink for PinOut<'_> {
    fn ready(&mut self) -> bool {
        match self.bp {
            Some(b) => b.rng.gen_range(0..100) >= b.pct,
            None => true,
        }
    }
    fn accept(&mut self, v: &Verdict) {
        match self
            .streams
            .get(usize::from(v.session))
            .and_then(|s| s.message(v))
        {
            Some(m) => (self.on)(v, m),
            // A record for bytes not held is corrupt: not handed on, the sequencer fails.
            None => *self.lost += 1,
        }
    }
}

/// A sink for register writes, which come only when no verdict is pending.
struct Discard<'a>(&'a mut u64);

impl PinSink for Discard<'_> {
    fn ready(&mut self) -> bool {
        true
    }
    fn accept(&mut self, _v: &Verdict) {
        *self.0 += 1;
    }
}

impl<S: SequencerSim> PinSequencer<S> {
    /// Wraps `sim` (a model configured as `cfg`) for `sessions` sessions (at most
    /// `cfg.sessions`); `name` is what [`Sequencer::name`] returns.
    ///
    /// # Errors
    /// If the model does not come out of reset, or `sessions` does not fit the block.
    pub fn new(
        sim: S,
        cfg: Config,
        sessions: usize,
        name: &'static str,
    ) -> Result<PinSequencer<S>, String> {
        if sessions == 0 || sessions > cfg.sessions as usize {
            return Err(format!(
                "{sessions} sessions do not fit a sequencer block with {}",
                cfg.sessions
            ));
        }
        let keep = max_record_len(cfg.max_msg as usize) + 64;
        Ok(PinSequencer {
            drv: PinDriver::new(sim, cfg)?,
            name,
            streams: (0..sessions).map(|_| StreamBuf::new(keep)).collect(),
            bp: None,
            failure: None,
            lost: 0,
        })
    }

    /// Holds `m_axis_tready` low in a random `pct` percent of cycles (seeded), to test that
    /// no verdict is lost under output back-pressure.
    pub fn with_backpressure(mut self, seed: u64, pct: u32) -> Self {
        self.bp = Some(Backpressure {
            rng: SmallRng::seed_from_u64(seed),
            pct: pct.min(95),
        });
        self
    }

    /// The pin driver (cycle and stall counts, the model).
    pub fn driver(&self) -> &PinDriver<S> {
        &self.drv
    }

    /// Records whose bytes were not held (must stay 0; any makes the sequencer fail), plus
    /// verdicts seen during a register write (must stay 0).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn csr(&mut self, session: u16, reg: u32, data: u32) {
        if self.failure.is_some() {
            return;
        }
        let mut sink = Discard(&mut self.lost);
        if let Err(e) = self.drv.csr_write(csr_addr(session, reg), data, &mut sink) {
            self.failure = Some(e);
        }
    }
}

impl<S: SequencerSim + Send> Sequencer for PinSequencer<S> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn process(&mut self, session: u16, chunk: &[u8], on: &mut dyn FnMut(&Verdict, &[u8])) {
        if self.failure.is_some() {
            return;
        }
        let si = usize::from(session);
        assert!(si < self.streams.len(), "session {session} out of range");
        let keep = self.streams[si].keep();
        for piece in chunk.chunks(keep) {
            self.streams[si].append(piece);
            let mut sink = PinOut {
                streams: &self.streams,
                on: &mut *on,
                bp: &mut self.bp,
                lost: &mut self.lost,
            };
            let r = self
                .drv
                .feed(session, piece, &mut sink)
                .and_then(|()| self.drv.drain(&mut sink));
            if let Err(e) = r {
                self.failure = Some(format!("{}: {e}", self.name));
                return;
            }
            if self.lost > 0 {
                self.failure = Some(format!(
                    "{}: {} records for stream bytes no longer held",
                    self.name, self.lost
                ));
                return;
            }
        }
    }

    fn set_expected(&mut self, session: u16, e: u32) {
        self.csr(session, csr::EXPECTED, e);
    }

    fn clear_window(&mut self, session: u16) {
        self.csr(session, csr::CONTROL, csr::CLEAR_WINDOW);
    }

    fn reset_stream(&mut self, session: u16) {
        if let Some(s) = self.streams.get_mut(usize::from(session)) {
            s.reset();
        }
        self.csr(session, csr::CONTROL, csr::RESET_STREAM);
    }

    fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

/// Records copied from the verdict ring per poll.
const POLL_BATCH: usize = 64;

/// [`Sequencer`] over a card behind [`crate::card`] (section 6.5): payload chunks and register
/// writes go into the command ring in stream order; after each payload command the driver
/// waits until the card reports it complete (`CMD_DONE`), copying verdicts out of the verdict
/// ring meanwhile, so every message that ends in the chunk has been handed to `on` when
/// [`Sequencer::process`] returns. Register writes are posted (the next payload command's
/// completion implies theirs).
pub struct CardSequencer {
    ring: RingReader,
    cmd: CmdWriter,
    streams: Vec<StreamBuf>,
    batch: [Verdict; POLL_BATCH],
    timeout: Duration,
    failure: Option<String>,
    lost: u64,
}

impl CardSequencer {
    /// Maps the card at `path` (a BAR, or a file a card emulation serves) for `sessions`
    /// sessions with messages of up to `max_msg` bytes.
    ///
    /// # Errors
    /// If the map is not a card map with a command ring, or `sessions` does not fit the card.
    pub fn open(path: &Path, sessions: usize, max_msg: usize) -> Result<CardSequencer, String> {
        let show = |e: std::io::Error| format!("card {}: {e}", path.display());
        let ring = RingReader::open(path).map_err(show)?;
        let cmd = CmdWriter::open(path).map_err(show)?;
        let session_w = ring.params() & 0xFF;
        if sessions == 0 || session_w > 16 || sessions > 1usize << session_w {
            return Err(format!(
                "card {}: {sessions} sessions do not fit its 2^{session_w}",
                path.display()
            ));
        }
        let keep = (max_record_len(max_msg) + 64).min(cmd.max_data());
        if keep < max_record_len(max_msg) + 8 {
            return Err(format!(
                "card {}: command ring too small for {max_msg}-byte messages",
                path.display()
            ));
        }
        Ok(CardSequencer {
            ring,
            cmd,
            streams: (0..sessions).map(|_| StreamBuf::new(keep)).collect(),
            batch: [Verdict::default(); POLL_BATCH],
            timeout: Duration::from_secs(2),
            failure: None,
            lost: 0,
        })
    }

    /// The card's `PARAMS` register (`WINDOW_W` in bits 15:8, `SESSION_W` in 7:0).
    pub fn params(&self) -> u32 {
        self.ring.params()
    }

    /// How long to wait for the card before declaring it failed (default 2 s).
    pub fn set_timeout(&mut self, t: Duration) {
        self.timeout = t;
    }

    /// Records whose bytes were not held (must stay 0; any makes the card fail).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Copies every published record out of the verdict ring to `on`.
    fn poll(&mut self, on: &mut dyn FnMut(&Verdict, &[u8])) -> Result<usize, String> {
        let mut total = 0;
        loop {
            let n = self
                .ring
                .poll(&mut self.batch)
                .map_err(|e| format!("card verdict ring: {e}"))?;
            for v in &self.batch[..n] {
                match self
                    .streams
                    .get(usize::from(v.session))
                    .and_then(|s| s.message(v))
                {
                    Some(m) => on(v, m),
                    // A record for bytes not held is corrupt: not handed on, the card fails.
                    None => self.lost += 1,
                }
            }
            total += n;
            if n < POLL_BATCH {
                return Ok(total);
            }
        }
    }

    /// Waits until the card has completed command number `target` (wrapping count).
    fn wait_done(
        &mut self,
        target: u32,
        on: &mut dyn FnMut(&Verdict, &[u8]),
    ) -> Result<(), String> {
        let mut start: Option<Instant> = None;
        let mut spins = 0u32;
        loop {
            let done = self.cmd.done();
            // Records are published before CMD_DONE moves: read it first, then the ring.
            self.poll(on)?;
            if done.wrapping_sub(target) as i32 >= 0 {
                return Ok(());
            }
            spins += 1;
            if spins.is_multiple_of(1024) {
                let t0 = *start.get_or_insert_with(Instant::now);
                if t0.elapsed() > self.timeout {
                    return Err(format!(
                        "card did not complete command {target} within {:?} (done {done})",
                        self.timeout
                    ));
                }
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Waits for room in the command ring.
    fn wait_room(
        &mut self,
        bytes: usize,
        on: &mut dyn FnMut(&Verdict, &[u8]),
    ) -> Result<(), String> {
        let mut start: Option<Instant> = None;
        let mut spins = 0u32;
        while !self.cmd.fits(bytes) {
            self.poll(on)?;
            spins += 1;
            if spins.is_multiple_of(1024) {
                let t0 = *start.get_or_insert_with(Instant::now);
                if t0.elapsed() > self.timeout {
                    return Err(format!(
                        "card command ring stayed full for {:?}",
                        self.timeout
                    ));
                }
                std::thread::yield_now();
            }
        }
        Ok(())
    }

    fn csr(&mut self, session: u16, reg: u32, data: u32) {
        if self.failure.is_some() {
            return;
        }
        // Every DATA command is complete here, so no record can arrive while waiting.
        let mut stray = 0u32;
        let r = self
            .wait_room(CmdWriter::CSR_BYTES, &mut |_, _| stray += 1)
            .map(|()| {
                let ok = self.cmd.push_csr(csr_addr(session, reg), data);
                debug_assert!(ok, "room was checked");
            });
        if let Err(e) = r {
            self.failure = Some(e);
        } else if stray > 0 {
            self.failure = Some(format!(
                "card published {stray} records with no payload outstanding"
            ));
        }
    }
}

impl Sequencer for CardSequencer {
    fn name(&self) -> &'static str {
        "card"
    }

    fn process(&mut self, session: u16, chunk: &[u8], on: &mut dyn FnMut(&Verdict, &[u8])) {
        if self.failure.is_some() {
            return;
        }
        let si = usize::from(session);
        assert!(si < self.streams.len(), "session {session} out of range");
        let keep = self.streams[si].keep();
        for piece in chunk.chunks(keep) {
            self.streams[si].append(piece);
            let r = self
                .wait_room(CmdWriter::data_bytes(piece.len()), on)
                .and_then(|()| {
                    let ok = self.cmd.push_data(session, piece);
                    debug_assert!(ok, "room was checked");
                    let target = self.cmd.pushed();
                    self.wait_done(target, on)
                });
            if let Err(e) = r {
                self.failure = Some(e);
                return;
            }
            if self.lost > 0 {
                self.failure = Some(format!(
                    "card returned {} records for stream bytes not held (corrupt records)",
                    self.lost
                ));
                return;
            }
        }
    }

    fn set_expected(&mut self, session: u16, e: u32) {
        self.csr(session, csr::EXPECTED, e);
    }

    fn clear_window(&mut self, session: u16) {
        self.csr(session, csr::CONTROL, csr::CLEAR_WINDOW);
    }

    fn reset_stream(&mut self, session: u16) {
        if let Some(s) = self.streams.get_mut(usize::from(session)) {
            s.reset();
        }
        self.csr(session, csr::CONTROL, csr::RESET_STREAM);
    }

    fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}
