//! Rust model of the sequencer block described in `docs/sequencer.md`.
//!
//! * [`contract`] — the verdict record, kinds, reasons and flags, bit for bit.
//! * [`frame`] — the byte-serial framing and field-extraction reference (section 2).
//! * [`seq`] — per-session sequencing with the received-ahead window (section 4).
//! * [`fast`] — the software engine's fast path over byte slices.
//! * [`cycle`] — the cycle-level model with the RTL's ports and timing.
//! * [`card`] — the card driver seam: CSR map and verdict ring over a memory map.
//! * [`sequencer`] — the [`sequencer::Sequencer`] trait the engine drives, over the fast path,
//!   a pin-level model or a card.
//! * [`gen`] — seeded generators of hostile session traffic for tests and benchmarks.
//!
//! The RTL in `fpga/rtl/` and this crate follow the same contract; co-simulation in `fpga/sim`
//! proves they agree.

pub mod card;
pub mod contract;
pub mod cycle;
pub mod fast;
pub mod frame;
pub mod gen;
pub mod seq;
pub mod sequencer;

pub use contract::{Flags, Kind, Reason, Verdict};
