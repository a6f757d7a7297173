//! Differential fuzzing of the three software implementations of the sequencer contract
//! (`docs/sequencer.md`): the byte-serial reference (`hwsim::frame` + `hwsim::seq`), the fast
//! path (`hwsim::fast::FastPath`) and the cycle model (`hwsim::cycle::CycleModel`, driven beat
//! by beat through `fpga_sim::Bench` with random idle cycles and verdict back-pressure).
//!
//! The input is a script of chunks of up to three sessions' streams and register writes
//! (`EXPECTED`, `CONTROL`). Checked: after every chunk the fast path has emitted exactly the
//! reference's records (and the message bytes, cut from the stream), with the same counters,
//! expected number and stream offset; the cycle model emits the same records in the same order.

#![no_main]

mod ops;

use fpga_sim::Bench;
use hwsim::cycle::{Config, CycleModel};
use hwsim::fast::FastPath;
use hwsim::frame::FrameState;
use hwsim::seq::SeqState;
use hwsim::Verdict;
use libfuzzer_sys::fuzz_target;
use ops::{Step, SESSIONS};

const WINDOW: u32 = 256;

fuzz_target!(|data: &[u8]| {
    let Some((p, steps)) = ops::decode(data) else {
        return;
    };
    let n = usize::from(SESSIONS);
    let mut fs = vec![FrameState::new(); n];
    let mut sq: Vec<SeqState> = (0..n).map(|_| SeqState::new(WINDOW)).collect();
    // Each session's stream since its last RESET_STREAM (the reference's message bytes).
    let mut streams: Vec<Vec<u8>> = vec![Vec::new(); n];
    let mut fp = FastPath::new(n, WINDOW, p.max_msg as usize);
    let mut all: Vec<Verdict> = Vec::new();
    for (i, st) in steps.iter().enumerate() {
        match st {
            Step::Chunk(s, c) => {
                let si = usize::from(*s);
                streams[si].extend_from_slice(c);
                let mut want: Vec<(Verdict, Vec<u8>)> = Vec::new();
                let stream = &streams[si];
                let seq = &mut sq[si];
                fs[si].feed(c, p.max_msg, |f| {
                    let v = seq.classify(*s, &f);
                    let bytes = if f.garbled == 0 {
                        stream[f.offset as usize..f.offset as usize + f.length as usize].to_vec()
                    } else {
                        Vec::new()
                    };
                    want.push((v, bytes));
                });
                let mut got: Vec<(Verdict, Vec<u8>)> = Vec::new();
                fp.process(*s, c, |v, m| got.push((*v, m.to_vec())));
                assert_eq!(
                    got.len(),
                    want.len(),
                    "step {i}: record count (fast vs reference)"
                );
                for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g.0, w.0, "step {i} record {j}: verdict (fast vs reference)");
                    assert!(
                        g.1 == w.1,
                        "step {i} record {j}: message bytes (fast vs reference)"
                    );
                }
                assert_eq!(fp.counters(*s), sq[si].counters(), "step {i}: counters");
                assert_eq!(fp.expected(*s), sq[si].expected(), "step {i}: expected");
                assert_eq!(fp.stream_offset(*s), fs[si].offset(), "step {i}: offset");
                all.extend(want.into_iter().map(|(v, _)| v));
            }
            Step::SetExpected(s, v) => {
                sq[usize::from(*s)].set_expected(*v);
                fp.set_expected(*s, *v);
            }
            Step::Control(s, v) => {
                let si = usize::from(*s);
                if v & 1 != 0 {
                    sq[si].clear_window();
                    fp.clear_window(*s);
                }
                if v & 2 != 0 {
                    fs[si] = FrameState::new();
                    streams[si].clear();
                    fp.reset_stream(*s);
                }
            }
        }
    }

    // The cycle model, fed the same script beat by beat.
    let cfg = Config {
        max_msg: p.max_msg,
        window: WINDOW,
        ..Config::default()
    };
    let mut bench = Bench::new(CycleModel::new(cfg), p.drive).expect("reset");
    let script = ops::bench_ops(&steps);
    bench.run(&script).expect("cycle model stuck");
    bench.drain().expect("cycle model did not drain");
    let got: Vec<Verdict> = bench.verdicts.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        got.len(),
        all.len(),
        "record count (cycle model vs reference)"
    );
    for (j, (g, w)) in got.iter().zip(&all).enumerate() {
        assert_eq!(g, w, "record {j}: verdict (cycle model vs reference)");
    }
    for s in 0..SESSIONS {
        let st = bench.sim.seq_state(s);
        assert_eq!(
            st.expected(),
            sq[usize::from(s)].expected(),
            "cycle model expected"
        );
        assert_eq!(
            st.counters(),
            sq[usize::from(s)].counters(),
            "cycle model counters"
        );
    }
});
