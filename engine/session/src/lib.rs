//! FIX session layer: a sans-IO state machine per session, sequence recovery on the sequencer's
//! verdicts, the memory-mapped message store and QuickFIX-style settings.

pub mod settings;
pub mod store;
