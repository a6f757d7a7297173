//! How the `rtl` target starts each input: the RTL in its state right after reset, in lock step
//! with a cycle model in the same state. Shared with `tests/rtl_reset.rs`.
//!
//! A reset costs the sweep of the session tables (65 cycles of the Verilated model, more than
//! half of a typical input), so the state after the process's first reset is snapshotted
//! ([`Rtl::snapshot`]) and restored before each later input. Inputs whose first byte has both
//! top bits set (a quarter of them) run the real reset instead (`rst`, then the sweep, from
//! whatever state the previous input left), so the reset's completeness stays under test.

use fpga_sim::{Bench, DriveOpts, Lockstep, Rtl};
use hwsim::cycle::{Config, CycleModel};

/// What [`start`] returns: the bench, or why the reset failed.
pub type Started = Result<Bench<Lockstep<CycleModel, Rtl>>, String>;

/// True when input `data` asks for the real reset (first byte's bits 7..6 both set).
pub fn wants_full_reset(data: &[u8]) -> bool {
    data.first().is_some_and(|c| c & 0xC0 == 0xC0)
}

/// A bench on `rtl` (None: a new one) ready for input, its cycle numbers starting at 0 after
/// the reset. A new RTL is reset and snapshotted; a reused one is restored from its snapshot,
/// or reset for real when `full_reset`. The bench's random stream is the same either way (a
/// reset draws nothing from it).
pub fn start(rtl: Option<Rtl>, full_reset: bool, drive: DriveOpts) -> Started {
    let fresh = rtl.is_none();
    let mut rtl = rtl.unwrap_or_default();
    let model = CycleModel::new(Config::default());
    if fresh || full_reset {
        // Bench::new resets both simulations (rst, then the reset sweep).
        let mut dut = Bench::new(Lockstep::new(model, rtl), drive)
            .map_err(|e| e.to_string())?
            .sim;
        if fresh && !dut.b.snapshot() {
            return Err("cannot snapshot the RTL (out of memory)".into());
        }
        return Ok(Bench::ready(dut, drive));
    }
    if !rtl.restore() {
        return Err("a reused RTL has no snapshot".into());
    }
    // The cycle model goes through its own reset to the same cycle (its reset draws nothing
    // from the bench's random stream, so `drive` gives the same stream either way).
    let model = Bench::new(model, drive).map_err(|e| e.to_string())?.sim;
    Ok(Bench::ready(Lockstep::new(model, rtl), drive))
}
