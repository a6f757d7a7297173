//! FIX engine runtime: frame I/O transports, Aeron-style agents and idle strategies, SPSC rings,
//! threading modes, the `fixeng` CLI and the demo.
//!
//! Data path (see `docs/runtime.md`):
//!
//! ```text
//! Transport (io_uring | DPDK | memory) [+ FaultLink middleware]
//!   -> IO agent (receive/send) -> SPSC byte ring -> sequencer agent (hwsim FastPath)
//!   -> SPSC verdict ring -> session agent (fixsession) -> SPSC ring -> application agent
//! ```
//!
//! Every agent implements [`agent::Agent`]: `do_work(now)` returns how much it did and an
//! [`idle::IdleStrategy`] decides what to do when it did nothing. [`runner`] runs agents in one
//! of three threading modes: dedicated (one pinned thread per agent), shared (all agents on one
//! thread) or stepped (a test drives them one duty cycle at a time).

pub mod agent;
pub mod apps;
pub mod bytes;
pub mod cli;
pub mod clock;
pub mod connect;
pub mod demo;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod idle;
pub mod msg;
pub mod pipeline;
pub mod ring;
pub mod runner;
pub mod seqsel;
pub mod sys;
pub mod transport;

pub use agent::Agent;
pub use clock::Nanos;
pub use transport::{Capabilities, CloseReason, LinkState, Transport, TransportError};
