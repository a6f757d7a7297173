//! The co-simulation harness itself: a disagreement is caught on the cycle it happens, with the
//! inputs that led to it written to the failure directory; the RTL can write a VCD.

use fpga_sim::{write_failure, Bench, BenchError, DriveOpts, Lockstep, Sim};
use hwsim::cycle::{Config, CycleModel, PinsIn, PinsOut, SequencerSim};
use hwsim::gen::build_message;

/// A cycle model that corrupts its verdict output from cycle `at` on.
struct Faulty {
    m: CycleModel,
    cycle: u64,
    at: u64,
}

impl SequencerSim for Faulty {
    fn reset(&mut self) {
        self.m.reset();
        self.cycle = 0;
    }
    fn tick(&mut self, inp: &PinsIn) -> PinsOut {
        let mut o = self.m.tick(inp);
        if self.cycle >= self.at && o.m_tvalid {
            o.m_tdata[1] ^= 1;
        }
        self.cycle += 1;
        o
    }
}

impl Sim for Faulty {}

#[test]
fn a_mismatch_is_caught_on_its_cycle_and_reported() {
    let good = CycleModel::new(Config::default());
    let bad = Faulty {
        m: CycleModel::new(Config::default()),
        cycle: 0,
        at: 0,
    };
    let mut b = Bench::new(Lockstep::new(good, bad), DriveOpts::default()).expect("reset");
    let mut st = Vec::new();
    for s in 1..=3u32 {
        st.extend(build_message(b"D", &[(34, s.to_string().as_bytes())]));
    }
    let err = b
        .chunk(0, &st)
        .and_then(|_| b.drain())
        .expect_err("the corrupted verdict must be caught");
    let BenchError::Mismatch(m) = err else {
        panic!("expected a mismatch, got {err}");
    };
    assert_eq!(m.what, "m_axis_tdata");
    assert!(m.a.m_tvalid && m.b.m_tvalid);
    assert_eq!(m.a.m_tdata[1] ^ m.b.m_tdata[1], 1);
    assert!(!m.recent_inputs.is_empty());
    assert!(m.recent_inputs.len() as u64 <= m.cycle + 1);
    let path = write_failure("harness-selftest", &m, "deliberate fault");
    let text = std::fs::read_to_string(&path).expect("report written");
    assert!(text.contains("mismatch at cycle"));
    assert!(text.contains("m_axis_tdata"));
    let _ = std::fs::remove_file(path);
}

#[cfg(feature = "verilator")]
#[test]
fn rtl_writes_a_vcd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.vcd");
    let mut b = Bench::new(fpga_sim::Rtl::new(), DriveOpts::default()).expect("reset");
    b.trace_at(b.cycle, path.clone());
    b.chunk(0, &build_message(b"0", &[(34, b"1")]))
        .expect("chunk");
    b.drain().expect("drain");
    fpga_sim::Sim::trace_close(&mut b.sim);
    assert_eq!(b.verdict_count, 1);
    let vcd = std::fs::read_to_string(&path).expect("vcd written");
    assert!(vcd.contains("$enddefinitions"));
    assert!(vcd.contains("m_axis_tvalid"));
}
