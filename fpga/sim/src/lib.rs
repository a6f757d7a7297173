//! Verilator co-simulation of the sequencer RTL (`fpga/rtl`, top `fix_sequencer`) against the
//! cycle model `hwsim::cycle::CycleModel`.
//!
//! * [`Rtl`] (feature `verilator`): the Verilated RTL behind [`SequencerSim`].
//! * [`Lockstep`]: two simulations driven with the same pins; every cycle's outputs are compared
//!   (`m_axis_tdata` when `m_axis_tvalid`, `csr_rdata` when `csr_rvalid`, every handshake
//!   signal always). The first difference is recorded as a [`Mismatch`].
//! * [`Bench`]: drives any [`Sim`] with chunks of session payload, CSR operations, random idle
//!   beats and random verdict back-pressure, and collects the verdicts with their cycle.
//!
//! * [`hil_sequencer`]: the simulation as an engine sequencer (`hwsim::sequencer::Sequencer`),
//!   for the hardware-in-the-loop tests (`tests/hil.rs`).
//!
//! Without the `verilator` feature the crate builds and the tests run on the cycle model
//! alone; `cargo test -p fpga-sim --features verilator` verilates the RTL (needs verilator 5
//! and a C++17 compiler) and runs the same tests on [`Lockstep`]`<CycleModel, Rtl>`.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hwsim::cycle::{CycleModel, PinsIn, PinsOut, SequencerSim};
use hwsim::Verdict;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[cfg(feature = "verilator")]
mod rtl;
#[cfg(feature = "verilator")]
mod sys;
#[cfg(feature = "verilator")]
pub use rtl::Rtl;

/// True when the crate was built with the Verilated RTL.
pub const HAVE_RTL: bool = cfg!(feature = "verilator");

/// A [`SequencerSim`] the bench can check and trace.
pub trait Sim: SequencerSim {
    /// The first disagreement seen, if this simulation compares two implementations.
    fn failure(&self) -> Option<&Mismatch> {
        None
    }
    /// Starts a waveform at `path` if the simulation can write one.
    fn trace_open(&mut self, _path: &Path) -> bool {
        false
    }
    /// Stops the waveform.
    fn trace_close(&mut self) {}
}

impl Sim for CycleModel {}

#[cfg(feature = "verilator")]
impl Sim for Rtl {
    fn trace_open(&mut self, path: &Path) -> bool {
        Rtl::trace_open(self, path)
    }
    fn trace_close(&mut self) {
        Rtl::trace_close(self)
    }
}

/// One cycle on which two simulations disagreed.
#[derive(Clone, Debug)]
pub struct Mismatch {
    /// Cycle number since the last reset (0 = first tick).
    pub cycle: u64,
    /// What differed.
    pub what: String,
    /// Outputs of the first simulation (the model).
    pub a: PinsOut,
    /// Outputs of the second simulation (the RTL).
    pub b: PinsOut,
    /// The inputs of the last cycles up to and including the failing one.
    pub recent_inputs: Vec<PinsIn>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "mismatch at cycle {}: {}", self.cycle, self.what)?;
        writeln!(f, "  model: {:?}", self.a)?;
        writeln!(f, "  rtl:   {:?}", self.b)?;
        if self.a.m_tvalid {
            writeln!(
                f,
                "  model verdict: {:?}",
                Verdict::from_words(self.a.m_tdata)
            )?;
        }
        if self.b.m_tvalid {
            writeln!(
                f,
                "  rtl verdict:   {:?}",
                Verdict::from_words(self.b.m_tdata)
            )?;
        }
        Ok(())
    }
}

/// Compares the outputs of one cycle; `None` when they agree.
pub fn compare_pins(a: &PinsOut, b: &PinsOut) -> Option<String> {
    let mut what = String::new();
    if a.s_tready != b.s_tready {
        what.push_str("s_axis_tready ");
    }
    if a.m_tvalid != b.m_tvalid {
        what.push_str("m_axis_tvalid ");
    } else if a.m_tvalid && a.m_tdata != b.m_tdata {
        what.push_str("m_axis_tdata ");
    }
    if a.csr_ready != b.csr_ready {
        what.push_str("csr_ready ");
    }
    if a.csr_rvalid != b.csr_rvalid {
        what.push_str("csr_rvalid ");
    } else if a.csr_rvalid && a.csr_rdata != b.csr_rdata {
        what.push_str("csr_rdata ");
    }
    if what.is_empty() {
        None
    } else {
        Some(what.trim_end().to_string())
    }
}

/// Two simulations in lockstep: same inputs, outputs compared every cycle. Returns the first
/// simulation's outputs.
pub struct Lockstep<A, B> {
    /// The reference (normally the cycle model).
    pub a: A,
    /// The implementation under test (normally the RTL).
    pub b: B,
    cycle: u64,
    recent: VecDeque<PinsIn>,
    mismatch: Option<Mismatch>,
}

/// How many recent input cycles a [`Mismatch`] keeps.
pub const RECENT_INPUTS: usize = 512;

impl<A: SequencerSim, B: SequencerSim> Lockstep<A, B> {
    /// Pairs two simulations.
    pub fn new(a: A, b: B) -> Self {
        Lockstep {
            a,
            b,
            cycle: 0,
            recent: VecDeque::with_capacity(RECENT_INPUTS),
            mismatch: None,
        }
    }
}

impl<A: SequencerSim, B: SequencerSim> SequencerSim for Lockstep<A, B> {
    fn reset(&mut self) {
        self.a.reset();
        self.b.reset();
        self.cycle = 0;
        self.recent.clear();
    }

    fn tick(&mut self, inp: &PinsIn) -> PinsOut {
        if self.recent.len() == RECENT_INPUTS {
            self.recent.pop_front();
        }
        self.recent.push_back(*inp);
        let oa = self.a.tick(inp);
        let ob = self.b.tick(inp);
        if self.mismatch.is_none() {
            if let Some(what) = compare_pins(&oa, &ob) {
                self.mismatch = Some(Mismatch {
                    cycle: self.cycle,
                    what,
                    a: oa,
                    b: ob,
                    recent_inputs: self.recent.iter().copied().collect(),
                });
            }
        }
        self.cycle += 1;
        oa
    }
}

impl<A: Sim, B: Sim> Sim for Lockstep<A, B> {
    fn failure(&self) -> Option<&Mismatch> {
        self.mismatch.as_ref()
    }
    fn trace_open(&mut self, path: &Path) -> bool {
        self.b.trace_open(path)
    }
    fn trace_close(&mut self) {
        self.b.trace_close()
    }
}

/// The simulation the test suites run: the model and the RTL in lockstep when the RTL is built,
/// else the model alone.
#[cfg(feature = "verilator")]
pub type Dut = Lockstep<CycleModel, Rtl>;
/// The simulation the test suites run: the model and the RTL in lockstep when the RTL is built,
/// else the model alone.
#[cfg(not(feature = "verilator"))]
pub type Dut = CycleModel;

/// A fresh [`Dut`] in the default configuration.
pub fn new_dut() -> Dut {
    let m = CycleModel::new(hwsim::cycle::Config::default());
    #[cfg(feature = "verilator")]
    {
        Lockstep::new(m, Rtl::new())
    }
    #[cfg(not(feature = "verilator"))]
    {
        m
    }
}

/// The engine's sequencer for one session with `window` and `max_msg`, driven through the pins of
/// the Verilated RTL (`--features verilator`; name `rtl`) or, without it, of the cycle model
/// (name `model`).
///
/// # Errors
/// When the simulation cannot have these parameters (the RTL is Verilated with its defaults,
/// `WINDOW = 256`, `MAX_MSG = 4096`) or does not leave reset.
pub fn hil_sequencer(
    window: u32,
    max_msg: usize,
) -> Result<Box<dyn hwsim::sequencer::Sequencer>, String> {
    use hwsim::sequencer::PinSequencer;
    let want = hwsim::cycle::Config {
        window,
        max_msg: u32::try_from(max_msg).map_err(|_| format!("MAX_MSG {max_msg} too large"))?,
        ..hwsim::cycle::Config::default()
    };
    #[cfg(feature = "verilator")]
    {
        let r = Rtl::new();
        if *r.config() != want {
            return Err(format!(
                "the RTL is Verilated with {:?}; the session needs {want:?}",
                r.config()
            ));
        }
        Ok(Box::new(PinSequencer::new(r, want, 1, "rtl")?))
    }
    #[cfg(not(feature = "verilator"))]
    {
        Ok(Box::new(PinSequencer::new(
            CycleModel::new(want),
            want,
            1,
            "model",
        )?))
    }
}

/// One step of a stimulus script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A received chunk of one session's payload (sent as 8-byte beats, `tlast` on the last).
    Chunk(u16, Vec<u8>),
    /// A beat with explicit `tdata`/`tkeep` (for odd `tkeep` patterns), session, `tlast`.
    Beat(u16, u64, u8, bool),
    /// A CSR write `(addr, data)`.
    Write(u32, u32),
    /// A CSR read of `addr`; the data lands in [`Bench::reads`].
    Read(u32),
    /// Idle cycles (no beat, no CSR).
    Idle(u32),
}

/// Options of [`Bench`].
#[derive(Clone, Copy, Debug)]
pub struct DriveOpts {
    /// Seed of the idle/back-pressure randomness.
    pub seed: u64,
    /// Probability (percent) of an idle cycle before each beat.
    pub idle_pct: u32,
    /// Probability (percent) that `m_axis_tready` is 0 in a cycle.
    pub backpressure_pct: u32,
    /// Keep every verdict in [`Bench::verdicts`] (off for long runs).
    pub keep_verdicts: bool,
    /// Probability (per mille, per cycle) that a burst of `m_axis_tready = 0` starts.
    pub burst_per_mille: u32,
    /// Longest burst in cycles (uniform in `1 ..= burst_max`).
    pub burst_max: u32,
}

impl Default for DriveOpts {
    fn default() -> Self {
        DriveOpts {
            seed: 1,
            idle_pct: 0,
            backpressure_pct: 0,
            keep_verdicts: true,
            burst_per_mille: 0,
            burst_max: 0,
        }
    }
}

/// Where verdicts go when not to the bench's own random back-pressure (e.g. a card ring).
pub trait VerdictSink {
    /// `m_axis_tready` for this cycle.
    fn ready(&mut self) -> bool;
    /// A verdict transferred in cycle `cycle` (only in cycles where [`VerdictSink::ready`] was
    /// true).
    fn accept(&mut self, cycle: u64, v: &Verdict);
}

/// Error of a bench run.
#[derive(Debug)]
pub enum BenchError {
    /// The two simulations disagreed.
    Mismatch(Box<Mismatch>),
    /// No progress for too many cycles (a beat or CSR operation never accepted).
    Stuck(u64, &'static str),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Mismatch(m) => write!(f, "{m}"),
            BenchError::Stuck(c, what) => write!(f, "stuck at cycle {c}: {what}"),
        }
    }
}

/// Cycles without progress after which a run is declared stuck.
const STUCK_CYCLES: u64 = 10_000;

/// Drives a [`Sim`] and records what comes out.
pub struct Bench<S> {
    /// The simulation.
    pub sim: S,
    /// Cycles since the last reset.
    pub cycle: u64,
    /// Verdicts with the cycle in which they were transferred (`m_axis_tvalid && tready`).
    pub verdicts: Vec<(u64, Verdict)>,
    /// Number of verdicts transferred.
    pub verdict_count: u64,
    /// CSR read data in order, with the cycle in which `csr_rvalid` was seen.
    pub reads: Vec<(u64, u32)>,
    /// Beats accepted.
    pub beats: u64,
    /// Cycles in which a beat was offered and not accepted.
    pub stalls: u64,
    /// Cycle in which each accepted beat was transferred.
    pub beat_cycles: Vec<u64>,
    rng: SmallRng,
    opts: DriveOpts,
    burst_left: u32,
    trace_at: Option<(u64, PathBuf)>,
    sink: Option<Box<dyn VerdictSink>>,
}

impl<S: Sim> Bench<S> {
    /// Resets `sim` and waits until it accepts input.
    pub fn new(sim: S, opts: DriveOpts) -> Result<Self, BenchError> {
        let mut b = Bench::ready(sim, opts);
        b.reset()?;
        Ok(b)
    }

    /// Takes `sim` as it is, without a reset: for a simulation already reset and accepting
    /// input (for instance one restored from a snapshot taken right after [`Bench::new`]).
    /// Cycle numbers start at 0.
    pub fn ready(sim: S, opts: DriveOpts) -> Self {
        Bench {
            sim,
            cycle: 0,
            verdicts: Vec::new(),
            verdict_count: 0,
            reads: Vec::new(),
            beats: 0,
            stalls: 0,
            beat_cycles: Vec::new(),
            rng: SmallRng::seed_from_u64(opts.seed),
            opts,
            burst_left: 0,
            trace_at: None,
            sink: None,
        }
    }

    /// Opens a waveform at `path` when the cycle counter reaches `cycle`.
    pub fn trace_at(&mut self, cycle: u64, path: PathBuf) {
        self.trace_at = Some((cycle, path));
    }

    /// Sends verdicts to `sink` (which also drives `m_axis_tready`) instead of the random
    /// back-pressure.
    pub fn set_sink(&mut self, sink: Box<dyn VerdictSink>) {
        self.sink = Some(sink);
    }

    /// Resets the simulation and waits for `s_axis_tready`.
    pub fn reset(&mut self) -> Result<(), BenchError> {
        self.sim.reset();
        self.cycle = 0;
        for _ in 0..STUCK_CYCLES {
            let o = self.tick(PinsIn {
                m_tready: true,
                ..PinsIn::default()
            })?;
            if o.s_tready {
                return Ok(());
            }
        }
        Err(BenchError::Stuck(self.cycle, "reset sweep never finished"))
    }

    /// One cycle with `inp` (m_tready chosen at random unless `inp` is fully idle-drain).
    fn tick(&mut self, inp: PinsIn) -> Result<PinsOut, BenchError> {
        if let Some((c, p)) = &self.trace_at {
            if *c == self.cycle {
                let p = p.clone();
                self.sim.trace_open(&p);
            }
        }
        let mut inp = inp;
        if let Some(s) = self.sink.as_mut() {
            inp.m_tready = s.ready();
        }
        let o = self.sim.tick(&inp);
        if let Some(m) = self.sim.failure() {
            return Err(BenchError::Mismatch(Box::new(m.clone())));
        }
        if o.m_tvalid && inp.m_tready {
            self.verdict_count += 1;
            if let Some(s) = self.sink.as_mut() {
                s.accept(self.cycle, &Verdict::from_words(o.m_tdata));
            }
            if self.opts.keep_verdicts {
                self.verdicts
                    .push((self.cycle, Verdict::from_words(o.m_tdata)));
            }
        }
        if o.csr_rvalid {
            self.reads.push((self.cycle, o.csr_rdata));
        }
        if inp.s_tvalid && o.s_tready {
            self.beats += 1;
            if self.opts.keep_verdicts {
                self.beat_cycles.push(self.cycle);
            }
        } else if inp.s_tvalid {
            self.stalls += 1;
        }
        self.cycle += 1;
        Ok(o)
    }

    fn m_ready(&mut self) -> bool {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return false;
        }
        if self.opts.burst_per_mille > 0
            && self.opts.burst_max > 0
            && self.rng.gen_range(0..1000) < self.opts.burst_per_mille
        {
            self.burst_left = self.rng.gen_range(1..=self.opts.burst_max);
            return false;
        }
        self.opts.backpressure_pct == 0 || self.rng.gen_range(0..100) >= self.opts.backpressure_pct
    }

    fn idle_first(&mut self) -> Result<(), BenchError> {
        while self.opts.idle_pct > 0 && self.rng.gen_range(0..100) < self.opts.idle_pct {
            let m = self.m_ready();
            self.tick(PinsIn {
                m_tready: m,
                ..PinsIn::default()
            })?;
        }
        Ok(())
    }

    /// Sends one beat, holding it until accepted.
    pub fn beat(
        &mut self,
        session: u16,
        data: u64,
        keep: u8,
        last: bool,
    ) -> Result<(), BenchError> {
        self.idle_first()?;
        for _ in 0..STUCK_CYCLES {
            let m = self.m_ready();
            let o = self.tick(PinsIn {
                s_tdata: data,
                s_tkeep: keep,
                s_tvalid: true,
                s_tlast: last,
                s_tuser: session,
                m_tready: m,
                ..PinsIn::default()
            })?;
            if o.s_tready {
                return Ok(());
            }
        }
        Err(BenchError::Stuck(self.cycle, "beat never accepted"))
    }

    /// Sends a chunk of `session`'s payload as beats.
    pub fn chunk(&mut self, session: u16, bytes: &[u8]) -> Result<(), BenchError> {
        let n = bytes.len().div_ceil(8);
        for (i, c) in bytes.chunks(8).enumerate() {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            let keep = ((1u16 << c.len()) - 1) as u8;
            self.beat(session, u64::from_le_bytes(w), keep, i + 1 == n)?;
        }
        Ok(())
    }

    /// One CSR operation, held until accepted; for a read, also waits for its data.
    pub fn csr(&mut self, we: bool, addr: u32, data: u32) -> Result<(), BenchError> {
        for _ in 0..STUCK_CYCLES {
            let m = self.m_ready();
            let o = self.tick(PinsIn {
                m_tready: m,
                csr_valid: true,
                csr_we: we,
                csr_addr: addr,
                csr_wdata: data,
                ..PinsIn::default()
            })?;
            if o.csr_ready {
                if !we {
                    let m = self.m_ready();
                    self.tick(PinsIn {
                        m_tready: m,
                        ..PinsIn::default()
                    })?;
                }
                return Ok(());
            }
        }
        Err(BenchError::Stuck(
            self.cycle,
            "CSR operation never accepted",
        ))
    }

    /// Runs a script.
    pub fn run<'a>(&mut self, ops: impl IntoIterator<Item = &'a Op>) -> Result<(), BenchError> {
        for op in ops {
            match op {
                Op::Chunk(s, bytes) => self.chunk(*s, bytes)?,
                Op::Beat(s, d, k, l) => self.beat(*s, *d, *k, *l)?,
                Op::Write(a, d) => self.csr(true, *a, *d)?,
                Op::Read(a) => self.csr(false, *a, 0)?,
                Op::Idle(n) => {
                    for _ in 0..*n {
                        let m = self.m_ready();
                        self.tick(PinsIn {
                            m_tready: m,
                            ..PinsIn::default()
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Idles (with the random back-pressure) until every queued verdict is out: three
    /// consecutive cycles without `m_axis_tvalid` (the sequencer pops whenever its register is
    /// free, so two empty cycles mean an empty queue).
    pub fn drain(&mut self) -> Result<(), BenchError> {
        let mut quiet = 0;
        for _ in 0..STUCK_CYCLES * 10 {
            let m = self.m_ready();
            let o = self.tick(PinsIn {
                m_tready: m,
                ..PinsIn::default()
            })?;
            quiet = if o.m_tvalid { 0 } else { quiet + 1 };
            if quiet >= 3 {
                return Ok(());
            }
        }
        Err(BenchError::Stuck(self.cycle, "verdicts never drained"))
    }
}

/// Where co-simulation failures are written: `$CARGO_TARGET_DIR/cosim-fail` or the
/// workspace's `target/cosim-fail`.
pub fn fail_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    base.join("cosim-fail")
}

/// Writes a failure report (`<name>.txt`: the mismatch, the recent inputs and `extra`) into
/// [`fail_dir`]; returns its path.
pub fn write_failure(name: &str, m: &Mismatch, extra: &str) -> PathBuf {
    let dir = fail_dir();
    let _ = std::fs::create_dir_all(&dir);
    let mut s = String::new();
    let _ = writeln!(s, "{m}");
    let _ = writeln!(s, "{extra}");
    let first = m.cycle + 1 - m.recent_inputs.len() as u64;
    let _ = writeln!(s, "inputs of cycles {first}..={}:", m.cycle);
    for (i, p) in m.recent_inputs.iter().enumerate() {
        let _ = writeln!(s, "{} {:?}", first + i as u64, p);
    }
    let path = dir.join(format!("{name}.txt"));
    let _ = std::fs::write(&path, s);
    path
}

#[cfg(test)]
mod tests {
    #[cfg(not(feature = "verilator"))]
    #[test]
    fn rtl_not_built_says_how_to_enable_it() {
        let have_rtl = std::hint::black_box(super::HAVE_RTL);
        assert!(!have_rtl, "HAVE_RTL must follow the verilator feature");
        println!(
            "fpga-sim: built without the RTL; the suites ran on the cycle model only. \
             Co-simulate with: cargo test -p fpga-sim --features verilator --release"
        );
    }

    #[cfg(feature = "verilator")]
    #[test]
    fn rtl_is_built_and_resets() {
        use hwsim::cycle::{PinsIn, SequencerSim};
        let mut r = super::Rtl::new();
        r.reset();
        let o = r.tick(&PinsIn::default());
        assert!(!o.s_tready, "the reset sweep holds tready low");
        assert!(!o.m_tvalid);
    }

    /// `Rtl::restore` returns to the snapshot's state: the same script after it gives the same
    /// verdicts in the same cycles as the first time, while the same script on the state the
    /// first run left behind does not (the check can fail).
    #[cfg(feature = "verilator")]
    #[test]
    fn rtl_restore_returns_to_the_snapshot() {
        use super::{Bench, DriveOpts, Op, Rtl};
        let msg = |seq: u32| {
            let s = seq.to_string();
            hwsim::gen::build_message(b"D", &[(49, b"A"), (56, b"B"), (34, s.as_bytes())])
        };
        let mut script = Vec::new();
        for seq in [1, 2, 4, 3, 5] {
            script.push(Op::Chunk(0, msg(seq)));
        }
        let opts = DriveOpts {
            keep_verdicts: true,
            ..DriveOpts::default()
        };
        let mut rtl = Bench::new(Rtl::new(), opts).expect("reset").sim;
        assert!(!rtl.restore(), "no snapshot yet");
        assert!(rtl.snapshot());
        let run = |rtl: Rtl| {
            let mut b = Bench::ready(rtl, opts);
            b.run(&script).and_then(|_| b.drain()).expect("script runs");
            (b.verdicts, b.sim)
        };
        let (first, mut rtl) = run(rtl);
        assert_eq!(first.len(), 5, "one verdict per message");
        assert!(rtl.restore());
        let (again, rtl) = run(rtl);
        assert_eq!(again, first, "restored: same verdicts, same cycles");
        let (stale, _) = run(rtl);
        assert_ne!(
            stale, first,
            "without the restore, sequence 1 is a duplicate"
        );
    }
}
