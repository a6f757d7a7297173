//! The Verilated RTL behind [`SequencerSim`] (feature `verilator`).

use std::path::Path;

use hwsim::cycle::{Config, PinsIn, PinsOut, SequencerSim};

use crate::sys;

/// The `fix_sequencer` RTL in its default configuration ([`Config::default`]), Verilated.
pub struct Rtl {
    m: sys::Model,
    cfg: Config,
}

impl Default for Rtl {
    fn default() -> Self {
        Rtl::new()
    }
}

impl Rtl {
    /// A new instance (call [`SequencerSim::reset`] before use).
    pub fn new() -> Rtl {
        Rtl {
            m: sys::Model::new(),
            cfg: Config::default(),
        }
    }

    /// The configuration the RTL was Verilated with.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Starts dumping a VCD waveform to `path`.
    pub fn trace_open(&mut self, path: &Path) -> bool {
        self.m.trace_open(path)
    }

    /// Closes the waveform.
    pub fn trace_close(&mut self) {
        self.m.trace_close()
    }

    /// Saves the RTL's whole state (registers and memories), replacing an earlier snapshot.
    /// False if it could not (out of memory).
    ///
    /// With [`Rtl::restore`] this lets a caller that runs many short scripts (the `rtl` fuzz
    /// target) snapshot once after reset and skip the reset sweep of the session tables for
    /// each script.
    pub fn snapshot(&mut self) -> bool {
        self.m.snapshot()
    }

    /// Returns to the state of the last [`Rtl::snapshot`]: the next cycle behaves exactly as
    /// the cycle after the snapshot did. False (and no change) if there is no snapshot.
    pub fn restore(&mut self) -> bool {
        self.m.restore()
    }

    fn cycle(&mut self, inp: &PinsIn, rst: bool) -> PinsOut {
        let sw = self.cfg.session_w();
        let si = sys::SigIn {
            s_tdata: inp.s_tdata,
            csr_addr: inp.csr_addr & ((1 << (sw + 6)) - 1),
            csr_wdata: inp.csr_wdata,
            s_tuser: inp.s_tuser & ((1 << sw) - 1) as u16,
            s_tkeep: inp.s_tkeep,
            s_tvalid: inp.s_tvalid.into(),
            s_tlast: inp.s_tlast.into(),
            m_tready: inp.m_tready.into(),
            csr_valid: inp.csr_valid.into(),
            csr_we: inp.csr_we.into(),
            rst: rst.into(),
        };
        let o = self.m.tick(&si);
        PinsOut {
            s_tready: o.s_tready != 0,
            m_tvalid: o.m_tvalid != 0,
            m_tdata: o.m_tdata,
            csr_ready: o.csr_ready != 0,
            csr_rvalid: o.csr_rvalid != 0,
            csr_rdata: o.csr_rdata,
        }
    }
}

impl SequencerSim for Rtl {
    fn reset(&mut self) {
        self.cycle(&PinsIn::default(), true);
    }

    fn tick(&mut self, inp: &PinsIn) -> PinsOut {
        self.cycle(inp, false)
    }
}
