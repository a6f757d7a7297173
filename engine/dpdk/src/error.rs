//! The crate's error type. FFI failures become [`Error::Dpdk`] once, at the boundary, naming the
//! call and the `rte_errno` / return-code text.

use std::fmt;

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in frame I/O and the TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A DPDK call failed: `call` is the C function, `code` the errno value, `text` its
    /// `rte_strerror` text.
    Dpdk {
        /// The failing C function, e.g. `rte_eth_dev_configure`.
        call: &'static str,
        /// The (positive) errno value.
        code: i32,
        /// `rte_strerror(code)` plus any context.
        text: String,
    },
    /// `Eal::init` was called again with other arguments (EAL initialises once per process).
    EalAlreadyInitialized {
        /// Arguments of the successful first initialisation.
        running: Vec<String>,
        /// Arguments of the rejected call.
        requested: Vec<String>,
    },
    /// An earlier `rte_eal_init` in this process failed; DPDK cannot be initialised again.
    EalInitFailedEarlier(String),
    /// A configuration value is out of range; the text says which and why.
    InvalidConfig(String),
    /// The handle does not name a live socket of this stack (released, or from another stack).
    InvalidHandle,
    /// Every socket slot is in use (`StackConfig::max_sockets`).
    NoFreeSocket,
    /// No free local port in `StackConfig::ephemeral_ports`.
    NoFreePort,
    /// smoltcp refused the operation; the text says which and why.
    Tcp(String),
    /// The stream is closed for this direction: the peer's FIN was read to the end, the
    /// connection was reset or timed out, or we closed it.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Dpdk { call, code, text } => write!(f, "{call} failed: {text} (errno {code})"),
            Error::EalAlreadyInitialized { running, requested } => write!(
                f,
                "DPDK EAL already initialised in this process with {running:?}; cannot re-initialise with {requested:?}"
            ),
            Error::EalInitFailedEarlier(e) => {
                write!(f, "rte_eal_init failed earlier in this process ({e}); DPDK cannot be initialised again")
            }
            Error::InvalidConfig(s) => write!(f, "invalid configuration: {s}"),
            Error::InvalidHandle => write!(f, "invalid socket handle (released or foreign)"),
            Error::NoFreeSocket => write!(f, "no free socket slot (raise max_sockets)"),
            Error::NoFreePort => write!(f, "no free ephemeral local port"),
            Error::Tcp(s) => write!(f, "tcp: {s}"),
            Error::Closed => write!(f, "stream closed"),
        }
    }
}

impl std::error::Error for Error {}
