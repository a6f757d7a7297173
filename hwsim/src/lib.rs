//! Rust model of the sequencer block described in `docs/sequencer.md`.
//!
//! * [`contract`] — the verdict record, kinds, reasons and flags, bit for bit.
//!
//! The RTL in `fpga/rtl/` and this crate follow the same contract; co-simulation in `fpga/sim`
//! proves they agree.

pub mod contract;

pub use contract::{Flags, Kind, Reason, Verdict};
