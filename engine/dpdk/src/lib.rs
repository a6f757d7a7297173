//! Kernel-bypass frame I/O for the FIX engine: thin DPDK 22.11 bindings, safe EAL / mempool /
//! port / mbuf wrappers, and a TCP byte stream (smoltcp) over a DPDK port.
//!
//! Layout:
//!
//! * [`config`], [`error`], [`stack`] and [`pipe`] build everywhere. [`stack::TcpStack`] is a
//!   non-blocking TCP stack over any [`stack::FrameDevice`]; [`pipe`] is an in-memory frame
//!   link that lets tests (and the runtime's transport tests) run it without DPDK or root.
//! * With the `dpdk` cargo feature (needs Debian's `libdpdk-dev` 22.11): [`sys`] (bindings, C shim
//!   and the safe wrappers [`sys::Eal`], [`sys::Mempool`], [`sys::Port`], [`sys::Mbuf`] — all
//!   `unsafe` code of the crate lives there), [`device::DpdkDevice`] (smoltcp `phy::Device` over a
//!   port, burst receive/transmit) and the alias [`DpdkStack`].
//!
//! Time is always passed in (nanoseconds on any monotonic clock); nothing here reads a clock.
//!
//! Typical use (the runtime's IO agent; with the `dpdk` feature):
//!
//! ```no_run
//! # #[cfg(feature = "dpdk")]
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fixdpdk::sys::Eal;
//! use fixdpdk::{ConnState, Connection, DpdkStack, EalConfig, MempoolConfig, PortConfig, StackConfig};
//!
//! let eal_cfg = EalConfig { lcores: Some("2".into()), allow: vec!["0000:3b:00.0".into()], ..EalConfig::default() };
//! let eal = Eal::init(&eal_cfg.args())?;
//! let port = eal.port_by_name("0000:3b:00.0")?;
//! let cfg = StackConfig { ip: "192.0.2.10".parse()?, gateway: Some("192.0.2.1".parse()?), ..StackConfig::default() };
//! let clock = std::time::Instant::now();
//! let now = || clock.elapsed().as_nanos() as u64;
//! let stack = DpdkStack::open(eal, port, &MempoolConfig::default(), &PortConfig::default(), cfg, now())?;
//! let mut conn = Connection::connect(stack, "198.51.100.7:9878".parse()?)?;
//! while conn.state() == ConnState::Connecting {
//!     conn.poll(now());
//! }
//! conn.send(|buf| { buf[..4].copy_from_slice(b"8=FI"); (4, ()) });
//! loop {
//!     conn.poll(now());
//!     let n = conn.recv(|bytes| (bytes.len(), bytes.len())); // into the engine's ring
//!     if n == 0 && conn.state() != ConnState::Open { break; }
//! }
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod conn;
pub mod error;
pub mod pipe;
pub mod settings;
pub mod stack;
pub mod testnet;

#[cfg(feature = "dpdk")]
pub mod device;
#[cfg(feature = "dpdk")]
pub mod sys;

pub use config::{EalConfig, MempoolConfig, PortConfig, StackConfig};
pub use conn::{CloseCause, ConnState, Connection};
pub use error::{Error, Result};
pub use settings::DpdkSettings;
pub use stack::{FrameDevice, Handle, StreamState, TcpStack};

/// The TCP stack over a DPDK port.
#[cfg(feature = "dpdk")]
pub type DpdkStack = TcpStack<device::DpdkDevice>;

/// One TCP connection over a DPDK port (the runtime's DPDK transport wraps this).
#[cfg(feature = "dpdk")]
pub type DpdkConnection = Connection<device::DpdkDevice>;

/// True when the process runs with effective uid 0 (DPDK tests need root: raw sockets,
/// namespaces, /var/run/dpdk). Reads `/proc/self/status`; false if that cannot be read.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Deterministic test pattern: byte `i` of the stream seeded `seed`. Used by the self-tests
/// and the examples so that every received byte can be checked against what was sent.
pub fn pattern_byte(seed: u8, i: u64) -> u8 {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(seed) << 56) ^ (i >> 7);
    (x >> 32) as u8 ^ (i as u8)
}
