//! Cycle-level model of the `fix_sequencer` RTL (`docs/sequencer.md` sections 5 and 6).
//!
//! [`CycleModel`] has the RTL's ports as flat pin structs ([`PinsIn`], [`PinsOut`]) and produces
//! the same verdict records, bit for bit, on the same cycle, for the same input beats, CSR
//! operations and back-pressure. Its semantics come from [`crate::frame`] (framing, one byte at a
//! time) and [`crate::seq`] (sequencing); this module adds only the RTL's timing: the frame
//! queue between the framer and the sequencer, the verdict register, the register port and the
//! reset sweep.
//!
//! [`SequencerSim`] is the one trait both this model and the Verilator-built RTL (crate
//! `fpga-sim`) implement, so one test suite drives both.
//!
//! Timing (normative for the RTL, see section 6 of the doc):
//!
//! * `s_axis_tready = !init && fq_count <= FQ_DEPTH − 8 && !(csr_valid && csr_we)`.
//! * A beat accepted in cycle `t` pushes every message that ends in it, in byte order, into the
//!   frame queue at the end of cycle `t`.
//! * In every cycle the queue's head is classified and moved into the verdict register when the
//!   register is empty or `m_axis_tready` is 1; `m_axis_tvalid` is the register's valid bit. With
//!   an empty queue and no back-pressure a verdict is on `m_axis` in cycle `t + 2`.
//! * CSR: a read is accepted whenever the block is out of reset; its data is on `csr_rdata` with
//!   `csr_rvalid` in the next cycle and reflects the state before the accepting edge. A write is
//!   accepted only when the frame queue is empty, and `s_axis_tready` is 0 while a write is
//!   offered, so a write takes effect after every message of every earlier beat and before any
//!   message of a later beat.
//! * After reset the RTL sweeps its memories for `SESSIONS` cycles, with `s_axis_tready` and
//!   `csr_ready` at 0.

use std::collections::VecDeque;

use crate::frame::{FrameState, Framed};
use crate::seq::SeqState;

/// CSR register numbers (`csr_addr[5:2]`); the session is `csr_addr[6 + SESSION_W − 1 : 6]`.
pub mod csr {
    /// `EXPECTED` (read/write): the session's expected MsgSeqNum; a write also clears the window.
    pub const EXPECTED: u32 = 0;
    /// `CONTROL` (write): bit 0 `CLEAR_WINDOW`, bit 1 `RESET_STREAM`. Reads as 0.
    pub const CONTROL: u32 = 1;
    /// `MSGS` counter (read).
    pub const MSGS: u32 = 2;
    /// `GAPS` counter (read).
    pub const GAPS: u32 = 3;
    /// `DUPS` counter (read).
    pub const DUPS: u32 = 4;
    /// `GARBLED` counter (read).
    pub const GARBLED: u32 = 5;
    /// `TOO_LOW` counter (read).
    pub const TOO_LOW: u32 = 6;
    /// `PARAMS` (read, any session): `0xF1C5 << 16 | WINDOW_W << 8 | SESSION_W`.
    pub const PARAMS: u32 = 15;
    /// `CONTROL` bit: clear the window (H := 0).
    pub const CLEAR_WINDOW: u32 = 1 << 0;
    /// `CONTROL` bit: reset the stream (framer to HUNT, offset 0, k = 1).
    pub const RESET_STREAM: u32 = 1 << 1;

    /// Byte address of register `reg` of session `session`.
    pub const fn addr(session: u32, reg: u32) -> u32 {
        (session << 6) | (reg << 2)
    }
}

/// Block parameters (the RTL's Verilog parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// `SESSIONS`: number of sessions (power of two, 64 ..= 65536).
    pub sessions: u32,
    /// `WINDOW`: received-ahead window W (power of two, ≥ 256).
    pub window: u32,
    /// `MAX_MSG`: maximum message length in bytes.
    pub max_msg: u32,
    /// `FQ_DEPTH`: frame-queue entries (power of two, ≥ 16).
    pub fq_depth: u32,
}

impl Default for Config {
    /// The RTL defaults: 64 sessions, W = 256, `MAX_MSG` = 4096, 16 queue entries.
    fn default() -> Self {
        Config {
            sessions: 64,
            window: 256,
            max_msg: 4096,
            fq_depth: 16,
        }
    }
}

impl Config {
    /// `SESSION_W = clog2(SESSIONS)`.
    pub fn session_w(&self) -> u32 {
        self.sessions.trailing_zeros()
    }

    /// `WINDOW_W = clog2(WINDOW)`.
    pub fn window_w(&self) -> u32 {
        self.window.trailing_zeros()
    }

    /// The `PARAMS` register value.
    pub fn params_reg(&self) -> u32 {
        0xF1C5_0000 | (self.window_w() << 8) | self.session_w()
    }
}

/// Input pins for one clock cycle (everything but `clk` and `rst`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinsIn {
    /// `s_axis_tdata`: byte i in bits `8i+7:8i`.
    pub s_tdata: u64,
    /// `s_axis_tkeep`.
    pub s_tkeep: u8,
    /// `s_axis_tvalid`.
    pub s_tvalid: bool,
    /// `s_axis_tlast` (end of a received chunk; informational).
    pub s_tlast: bool,
    /// `s_axis_tuser`: session index (low `SESSION_W` bits are used).
    pub s_tuser: u16,
    /// `m_axis_tready`.
    pub m_tready: bool,
    /// `csr_valid`.
    pub csr_valid: bool,
    /// `csr_we`: 1 = write.
    pub csr_we: bool,
    /// `csr_addr` (byte address, low `SESSION_W + 6` bits are used).
    pub csr_addr: u32,
    /// `csr_wdata`.
    pub csr_wdata: u32,
}

/// Output pins during one clock cycle (sampled before its rising edge).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinsOut {
    /// `s_axis_tready`.
    pub s_tready: bool,
    /// `m_axis_tvalid`.
    pub m_tvalid: bool,
    /// `m_axis_tdata` as four 64-bit words, w0 = bits 63:0 (meaningful when `m_tvalid`).
    pub m_tdata: [u64; 4],
    /// `csr_ready`.
    pub csr_ready: bool,
    /// `csr_rvalid`: `csr_rdata` holds the data of the read accepted in the previous cycle.
    pub csr_rvalid: bool,
    /// `csr_rdata` (meaningful when `csr_rvalid`).
    pub csr_rdata: u32,
}

/// A clocked simulation of the sequencer block: the cycle model or the RTL.
pub trait SequencerSim {
    /// Holds `rst` for one clock edge. The block then sweeps its memories for
    /// `SESSIONS` cycles before it accepts input.
    fn reset(&mut self);
    /// Drives `inp` for one cycle: returns the outputs seen during the cycle (before the rising
    /// edge, after the inputs settled), then clocks the rising edge.
    fn tick(&mut self, inp: &PinsIn) -> PinsOut;
}

/// The cycle-level model.
pub struct CycleModel {
    cfg: Config,
    frames: Vec<FrameState>,
    seqs: Vec<SeqState>,
    fq: VecDeque<(u16, Framed)>,
    out: Option<[u64; 4]>,
    out_data: [u64; 4],
    rvalid: bool,
    rdata: u32,
    init_left: u32,
}

impl CycleModel {
    /// A model in reset (call [`SequencerSim::reset`] or just start ticking: the reset sweep is
    /// already pending).
    ///
    /// # Panics
    /// If the configuration is not one the RTL accepts (see [`Config`]).
    pub fn new(cfg: Config) -> CycleModel {
        assert!(
            cfg.sessions.is_power_of_two() && (64..=65536).contains(&cfg.sessions),
            "SESSIONS must be a power of two in 64..=65536"
        );
        assert!(
            cfg.fq_depth.is_power_of_two() && cfg.fq_depth >= 16,
            "FQ_DEPTH must be a power of two >= 16"
        );
        assert!(
            (1..1 << 24).contains(&cfg.max_msg),
            "MAX_MSG must be in 1..2^24"
        );
        let seqs = (0..cfg.sessions)
            .map(|_| SeqState::new(cfg.window))
            .collect();
        CycleModel {
            cfg,
            frames: vec![FrameState::new(); cfg.sessions as usize],
            seqs,
            fq: VecDeque::with_capacity(cfg.fq_depth as usize),
            out: None,
            out_data: [0; 4],
            rvalid: false,
            rdata: 0,
            init_left: cfg.sessions,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The sequencing state of `session` (expected number, window, counters).
    pub fn seq_state(&self, session: u16) -> &SeqState {
        &self.seqs[usize::from(session)]
    }

    /// The framer state of `session`.
    pub fn frame_state(&self, session: u16) -> &FrameState {
        &self.frames[usize::from(session)]
    }

    /// Messages framed but not yet sequenced.
    pub fn queued(&self) -> usize {
        self.fq.len()
    }

    fn csr_read(&self, session: usize, reg: u32) -> u32 {
        let s = &self.seqs[session];
        let c = s.counters();
        match reg {
            csr::EXPECTED => s.expected(),
            csr::MSGS => c.msgs,
            csr::GAPS => c.gaps,
            csr::DUPS => c.dups,
            csr::GARBLED => c.garbled,
            csr::TOO_LOW => c.too_low,
            csr::PARAMS => self.cfg.params_reg(),
            _ => 0,
        }
    }
}

impl SequencerSim for CycleModel {
    fn reset(&mut self) {
        for f in &mut self.frames {
            *f = FrameState::new();
        }
        for s in &mut self.seqs {
            *s = SeqState::new(self.cfg.window);
        }
        self.fq.clear();
        self.out = None;
        self.rvalid = false;
        self.rdata = 0;
        self.init_left = self.cfg.sessions;
    }

    fn tick(&mut self, inp: &PinsIn) -> PinsOut {
        let init = self.init_left > 0;
        let fq_empty = self.fq.is_empty();
        let csr_ready = !init && (!inp.csr_we || fq_empty);
        let s_tready = !init
            && self.fq.len() as u32 <= self.cfg.fq_depth - 8
            && !(inp.csr_valid && inp.csr_we);
        let out = PinsOut {
            s_tready,
            m_tvalid: self.out.is_some(),
            m_tdata: self.out_data,
            csr_ready,
            csr_rvalid: self.rvalid,
            csr_rdata: self.rdata,
        };

        // ---- rising edge: every update below uses the state before the edge.
        if init {
            self.init_left -= 1;
        }
        let smask = self.cfg.sessions - 1;
        let csr_session = ((inp.csr_addr >> 6) & smask) as usize;
        let csr_reg = (inp.csr_addr >> 2) & 0xF;
        let csr_fire = inp.csr_valid && csr_ready;

        // CSR read: state before the edge.
        self.rvalid = csr_fire && !inp.csr_we;
        if self.rvalid {
            self.rdata = self.csr_read(csr_session, csr_reg);
        }

        // Sequencer: classify the head into the verdict register.
        let pop = !fq_empty && (self.out.is_none() || inp.m_tready);
        if pop {
            let (sess, f) = self.fq.pop_front().expect("queue not empty");
            let v = self.seqs[usize::from(sess)].classify(sess, &f);
            let w = v.to_words();
            self.out = Some(w);
            self.out_data = w;
        } else if inp.m_tready {
            self.out = None;
        }

        // CSR write (only with an empty queue, so never in a cycle with a pop).
        if csr_fire && inp.csr_we {
            match csr_reg {
                csr::EXPECTED => self.seqs[csr_session].set_expected(inp.csr_wdata),
                csr::CONTROL => {
                    if inp.csr_wdata & csr::CLEAR_WINDOW != 0 {
                        self.seqs[csr_session].clear_window();
                    }
                    if inp.csr_wdata & csr::RESET_STREAM != 0 {
                        self.frames[csr_session] = FrameState::new();
                    }
                }
                _ => {}
            }
        }

        // Framer: the accepted beat's bytes, in order; messages that end go to the queue.
        if inp.s_tvalid && s_tready {
            let sess = (u32::from(inp.s_tuser) & smask) as u16;
            let fs = &mut self.frames[usize::from(sess)];
            for i in 0..8 {
                if inp.s_tkeep & (1 << i) != 0 {
                    let b = (inp.s_tdata >> (8 * i)) as u8;
                    if let Some(f) = fs.step(b, self.cfg.max_msg) {
                        self.fq.push_back((sess, f));
                    }
                }
            }
        }
        out
    }
}
