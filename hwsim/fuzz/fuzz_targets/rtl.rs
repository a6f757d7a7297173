//! Differential fuzzing of the Verilated RTL (`fpga/rtl`, top `fix_sequencer`) against the
//! cycle model, in lock step (`fpga_sim::Lockstep`: every output pin compared every cycle), on
//! the same scripts as `fast_cycle_ref` (RTL defaults: `MAX_MSG` 4096, W 256, 64 sessions).
//!
//! One Verilated model is built per process; the cycle model it is compared with is a fresh one
//! for every input. Each input starts from the RTL's state right after reset: restored from a
//! snapshot taken after the process's first reset, or, for a quarter of the inputs (first byte's
//! bits 7..6 set), through the real reset (`rst`, then the sweep of the session tables) from the
//! state the previous input left (`rtl_start.rs`). So a state the RTL's reset fails to clear
//! shows as a mismatch against the fresh model, and inputs stay independent
//! (`hwsim/fuzz/tests/rtl_reset.rs` checks that a reset or restored RTL gives the verdicts of a
//! fresh one).
//!
//! `cargo +nightly fuzz run rtl --features rtl` (needs verilator 5 and a C++17 compiler).

#![no_main]

mod ops;
mod rtl_start;

use std::sync::Mutex;

use fpga_sim::Rtl;
use libfuzzer_sys::fuzz_target;

/// The process's Verilated model, between inputs (building one costs more than a whole input).
static RTL: Mutex<Option<Rtl>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((p, steps)) = ops::decode(data) else {
        return;
    };
    let rtl = RTL.lock().unwrap_or_else(|e| e.into_inner()).take();
    let mut bench = match rtl_start::start(rtl, rtl_start::wants_full_reset(data), p.drive) {
        Ok(b) => b,
        Err(e) => panic!("reset: {e}"),
    };
    let script = ops::bench_ops(&steps);
    if let Err(e) = bench.run(&script).and_then(|_| bench.drain()) {
        panic!("RTL differs from the cycle model: {e}");
    }
    *RTL.lock().unwrap_or_else(|e| e.into_inner()) = Some(bench.sim.b);
});
