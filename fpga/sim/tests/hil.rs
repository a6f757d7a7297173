//! Hardware in the loop: the engine with the verilated RTL as its sequencer
//! (`docs/sequencer.md` section 7.3). One test binary, so the engine is compiled and linked once:
//!
//! * [`scenarios`]: every scripted FIX session test case of the session layer
//!   (`engine/session/tests/scenarios.rs`, included unchanged as a module) runs with the RTL as
//!   its sequencer: the peer's bytes go beat by beat through the RTL's AXI-Stream input, the
//!   session acts on the RTL's verdict records, and the session's sequencer operations are CSR
//!   writes on the RTL's register port.
//! * [`pipeline`]: two runtime pipelines over a faulty in-memory link, on the RTL directly and
//!   behind the card seam.
//! * [`sequencer`]: the RTL's records equal the fast path's over hostile traffic.
//!
//! Without the `verilator` feature all of it runs on the cycle model through its pins.

#[path = "hil/pipeline.rs"]
mod pipeline;
#[path = "hil/sequencer.rs"]
mod sequencer;

#[path = "../../../engine/runtime/tests/support/seq_link.rs"]
mod seq_link;

#[path = "../../../engine/session/tests/scenarios.rs"]
mod scenarios;

/// The scenarios' sequencer (see `scenarios::sequencer_for_tests`).
pub fn sequencer_for_tests(window: u32, max_msg: usize) -> Box<dyn hwsim::sequencer::Sequencer> {
    fpga_sim::hil_sequencer(window, max_msg).expect("HIL sequencer")
}

#[test]
fn scenarios_run_on_the_hil_sequencer() {
    let s = sequencer_for_tests(256, 4096);
    let want = if fpga_sim::HAVE_RTL { "rtl" } else { "model" };
    assert_eq!(s.name(), want);
    if !fpga_sim::HAVE_RTL {
        println!(
            "hil: built without the RTL, the scenarios ran on the cycle model. \
             Run them on the RTL with: cargo test -p fpga-sim --features verilator --test hil"
        );
    }
}
