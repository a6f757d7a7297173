//! Differential fuzzing of the Verilated RTL (`fpga/rtl`, top `fix_sequencer`) against the
//! cycle model, in lock step (`fpga_sim::Lockstep`: every output pin compared every cycle), on
//! the same scripts as `fast_cycle_ref` (RTL defaults: `MAX_MSG` 4096, W 256, 64 sessions).
//!
//! One Verilated model is built per process and reset (`rst` high, then the reset sweep of the
//! session tables) before each input; the cycle model it is compared with is a fresh one for
//! every input. So a state the RTL's reset fails to clear shows as a mismatch against the fresh
//! model, and inputs stay independent (`hwsim/fuzz/tests/rtl_reset.rs` checks that a reused,
//! reset RTL gives the verdicts of a fresh one).
//!
//! `cargo +nightly fuzz run rtl --features rtl` (needs verilator 5 and a C++17 compiler).

#![no_main]

mod ops;

use std::sync::Mutex;

use fpga_sim::{Bench, Lockstep, Rtl};
use hwsim::cycle::{Config, CycleModel};
use libfuzzer_sys::fuzz_target;

/// The process's Verilated model, between inputs (building one costs more than a whole input).
static RTL: Mutex<Option<Rtl>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Some((p, steps)) = ops::decode(data) else {
        return;
    };
    let rtl = RTL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    // Bench::new resets both simulations (rst, then the reset sweep) before the script.
    let dut = Lockstep::new(CycleModel::new(Config::default()), rtl);
    let mut bench = match Bench::new(dut, p.drive) {
        Ok(b) => b,
        Err(e) => panic!("reset: {e}"),
    };
    let script = ops::bench_ops(&steps);
    if let Err(e) = bench.run(&script).and_then(|_| bench.drain()) {
        panic!("RTL differs from the cycle model: {e}");
    }
    *RTL.lock().unwrap_or_else(|e| e.into_inner()) = Some(bench.sim.b);
});
