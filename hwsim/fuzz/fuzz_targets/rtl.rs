//! Differential fuzzing of the Verilated RTL (`fpga/rtl`, top `fix_sequencer`) against the
//! cycle model, in lock step (`fpga_sim::Lockstep`: every output pin compared every cycle), on
//! the same scripts as `fast_cycle_ref` (RTL defaults: `MAX_MSG` 4096, W 256, 64 sessions).
//!
//! `cargo +nightly fuzz run rtl --features rtl` (needs verilator 5 and a C++17 compiler).

#![no_main]

mod ops;

use fpga_sim::{Bench, Lockstep, Rtl};
use hwsim::cycle::{Config, CycleModel};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((p, steps)) = ops::decode(data) else {
        return;
    };
    let dut = Lockstep::new(CycleModel::new(Config::default()), Rtl::new());
    let mut bench = match Bench::new(dut, p.drive) {
        Ok(b) => b,
        Err(e) => panic!("reset: {e}"),
    };
    let script = ops::bench_ops(&steps);
    if let Err(e) = bench.run(&script).and_then(|_| bench.drain()) {
        panic!("RTL differs from the cycle model: {e}");
    }
});
