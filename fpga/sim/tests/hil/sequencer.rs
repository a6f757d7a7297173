//! The verilated RTL as an engine sequencer (`hwsim::sequencer::PinSequencer<Rtl>`) hands the
//! session layer exactly what the software fast path hands it: the same `(Verdict, message
//! bytes)` records after the same chunks, over hostile multi-session traffic with register
//! operations between chunks and random back-pressure on the verdict output.
//!
//! Without the `verilator` feature it checks the cycle model instead.

use hwsim::cycle::Config;
use hwsim::fast::FastPath;
use hwsim::gen::{GenConfig, Traffic};
use hwsim::sequencer::{PinSequencer, Sequencer};
use hwsim::Verdict;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[cfg(feature = "verilator")]
fn sim() -> fpga_sim::Rtl {
    fpga_sim::Rtl::new()
}

#[cfg(not(feature = "verilator"))]
fn sim() -> hwsim::cycle::CycleModel {
    hwsim::cycle::CycleModel::new(Config::default())
}

type Records = Vec<(Verdict, Vec<u8>)>;

/// Runs the traffic (with random register ops) through `q`; one record list per step.
fn run(q: &mut dyn Sequencer, t: &Traffic, seed: u64) -> Vec<Records> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (s, c) in t.chunk_slices() {
        let mut got = Vec::new();
        q.process(s, c, &mut |v, m| got.push((*v, m.to_vec())));
        assert_eq!(q.failure(), None);
        out.push(got);
        if rng.gen_range(0..100) < 2 {
            match rng.gen_range(0..3) {
                0 => q.set_expected(s, rng.gen_range(1..500)),
                1 => q.clear_window(s),
                _ => q.reset_stream(s),
            }
        }
    }
    out
}

#[test]
fn rtl_sequencer_equals_fast_path() {
    let sessions = 8;
    let t = Traffic::new(
        21,
        GenConfig {
            sessions,
            events: 3000,
            max_chunk: 2000,
            ..GenConfig::default()
        },
    );
    let want = run(&mut FastPath::new(usize::from(sessions), 256, 4096), &t, 4);
    let cfg = Config::default();
    let mut rtl = PinSequencer::new(sim(), cfg, usize::from(sessions), "rtl")
        .expect("sequencer")
        .with_backpressure(5, 50);
    let got = run(&mut rtl, &t, 4);
    let mut n = 0;
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.len(), g.len(), "chunk {i}: record count");
        for (j, (a, b)) in w.iter().zip(g).enumerate() {
            assert_eq!(a.0, b.0, "chunk {i} record {j}");
            assert!(a.1 == b.1, "chunk {i} record {j}: bytes differ");
        }
        n += w.len();
    }
    assert_eq!(rtl.lost(), 0);
    assert!(n > 2000, "{n} records");
    println!(
        "hil sequencer: {n} records, {} bytes, {} cycles, {} stalled beat-cycles",
        t.total_bytes(),
        rtl.driver().cycles(),
        rtl.driver().stalls()
    );
}
