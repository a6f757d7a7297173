//! The `rtl` fuzz target reuses one Verilated model for every input and relies on the RTL's
//! reset (one `rst` cycle, then the sweep of the session tables) to make each input independent.
//! This checks that assumption on the committed `rtl` corpus: an input run on a model that has
//! already run another input, then been reset, gives exactly the verdicts (and cycles) of a fresh
//! model, and stays in lock step with a fresh cycle model. It also checks that the comparison can
//! fail: without the reset, leftover state changes what some input produces. The same for the
//! snapshot the target restores instead of most resets (`fuzz_targets/rtl_start.rs`).
//!
//! `cargo test --manifest-path hwsim/fuzz/Cargo.toml --features rtl --release` (verilates the
//! RTL; without the feature this file is empty).

#![cfg(feature = "rtl")]

#[path = "../fuzz_targets/ops.rs"]
#[allow(dead_code)]
mod ops;
#[path = "../fuzz_targets/rtl_start.rs"]
#[allow(dead_code)]
mod rtl_start;

use std::path::Path;

use fpga_sim::{Bench, Lockstep, Rtl, Sim};
use hwsim::cycle::{Config, CycleModel, PinsIn, PinsOut, SequencerSim};
use hwsim::Verdict;

/// The first `max` inputs of the committed corpus, in name order.
fn corpus(max: usize) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/rtl");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    names.sort();
    names
        .iter()
        .take(max)
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect()
}

/// Runs `data` on `model` and `rtl` in lock step (`Bench::new` resets both first). Returns the
/// verdicts with their cycles and both simulations for reuse, or what went wrong.
fn run<M: Sim, R: Sim>(
    model: M,
    rtl: R,
    data: &[u8],
) -> Result<(Vec<(u64, Verdict)>, M, R), String> {
    let (p, steps) = ops::decode(data).expect("input decodes");
    let mut bench = Bench::new(Lockstep::new(model, rtl), p.drive).map_err(|e| e.to_string())?;
    let script = ops::bench_ops(&steps);
    bench
        .run(&script)
        .and_then(|_| bench.drain())
        .map_err(|e| e.to_string())?;
    Ok((bench.verdicts, bench.sim.a, bench.sim.b))
}

fn fresh_model() -> CycleModel {
    CycleModel::new(Config::default())
}

/// A simulation whose reset does nothing (the sensitivity check below).
struct NoReset<S>(S);

impl<S: SequencerSim> SequencerSim for NoReset<S> {
    fn reset(&mut self) {}
    fn tick(&mut self, inp: &PinsIn) -> PinsOut {
        self.0.tick(inp)
    }
}

impl<S: SequencerSim> Sim for NoReset<S> {}

#[test]
fn reset_rtl_behaves_like_a_fresh_one() {
    let inputs = corpus(60);
    assert!(inputs.len() >= 10, "the rtl corpus is missing");
    let mut reused = Rtl::new();
    let mut leaked = 0;
    for (i, pair) in inputs.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        // Fresh RTL: the reference verdicts (and their cycles) of `b`.
        let (want, _, _) = run(fresh_model(), Rtl::new(), b)
            .unwrap_or_else(|e| panic!("input {}: fresh RTL vs cycle model: {e}", i + 1));
        // The reused RTL after `a`, then reset: in lock step with a fresh cycle model, and the
        // same verdicts in the same cycles as the fresh RTL.
        let (_, _, r) = run(fresh_model(), reused, a)
            .unwrap_or_else(|e| panic!("input {i}: RTL vs cycle model: {e}"));
        let (got, _, r) = run(fresh_model(), r, b)
            .unwrap_or_else(|e| panic!("input {} after input {i}: reset left state: {e}", i + 1));
        assert_eq!(
            got,
            want,
            "input {} after input {i}: verdicts differ",
            i + 1
        );
        // Sensitivity: model and RTL both run `a`, then `b` with neither reset. They stay in
        // lock step with each other, but the state left by `a` changes some input's verdicts.
        let (_, m, r) = run(fresh_model(), r, a).expect("rerun of a");
        let want: Vec<Verdict> = want.iter().map(|(_, v)| *v).collect();
        reused = match run(NoReset(m), NoReset(r), b) {
            Ok((got, _, r)) => {
                if got.iter().map(|(_, v)| *v).collect::<Vec<_>>() != want {
                    leaked += 1;
                }
                r.0
            }
            Err(e) => panic!("model and RTL disagree on unreset state: {e}"),
        };
    }
    assert!(
        leaked > 0,
        "no input noticed the missing reset: the comparison cannot fail"
    );
    println!(
        "rtl_reset: {} pairs equal after reset; {leaked} differ without it",
        inputs.len() - 1
    );
}

#[test]
fn restored_rtl_behaves_like_a_fresh_one() {
    let inputs = corpus(60);
    assert!(inputs.len() >= 10, "the rtl corpus is missing");
    let mut rtl: Option<Rtl> = None;
    let mut leaked = 0;
    for (i, data) in inputs.iter().enumerate() {
        let (p, steps) = ops::decode(data).expect("input decodes");
        let script = ops::bench_ops(&steps);
        // Fresh RTL, reset for real: the reference. Its cycle numbers count the reset sweep.
        let (want, _, _) = run(fresh_model(), Rtl::new(), data)
            .unwrap_or_else(|e| panic!("input {i}: fresh RTL vs cycle model: {e}"));
        let sweep = Bench::new(fresh_model(), p.drive)
            .expect("model reset")
            .cycle;
        let want: Vec<(u64, Verdict)> = want.into_iter().map(|(c, v)| (c - sweep, v)).collect();
        // The first input snapshots a new RTL after its reset; every later one restores it.
        let mut b = rtl_start::start(rtl.take(), false, p.drive)
            .unwrap_or_else(|e| panic!("input {i}: start: {e}"));
        b.run(&script)
            .and_then(|_| b.drain())
            .unwrap_or_else(|e| panic!("input {i}: restored RTL vs cycle model: {e}"));
        assert_eq!(b.verdicts, want, "input {i}: restored RTL: verdicts differ");
        // Sensitivity: the same input on the RTL as the last input left it (no restore), against
        // a cycle model that was reset: some inputs notice.
        let model = Bench::new(fresh_model(), p.drive).expect("model reset").sim;
        let mut d = Bench::ready(Lockstep::new(model, b.sim.b), p.drive);
        match d.run(&script).and_then(|_| d.drain()) {
            Ok(()) if d.verdicts == want => {}
            _ => leaked += 1,
        }
        rtl = Some(d.sim.b);
    }
    assert!(
        leaked > 0,
        "no input noticed a missing restore: the comparison cannot fail"
    );
    println!(
        "rtl_reset: {} inputs equal after restore; {leaked} differ without it",
        inputs.len()
    );
}
