//! The frame I/O seam: one poll-mode byte-stream [`Transport`] trait and its backends.
//!
//! The trait follows smoltcp's split between driving the device and touching the data:
//! [`Transport::poll`] moves bytes between the wire and the transport's buffers (submits queued
//! sends, reaps completions; never blocks), and the data is reached through borrowed views —
//! [`Transport::recv`] lends the received bytes to a closure that says how many it consumed
//! (zero-copy: for io_uring the closure sees the kernel-filled provided buffer), and
//! [`Transport::send`] lends free transmit space to a closure that says how many it wrote. This is
//! the shape of smoltcp's `tcp::Socket::{recv, send}`, so a user-space TCP over DPDK (crate
//! `fixdpdk`) fits without an extra copy.
//!
//! Backends:
//! * [`uring::UringTransport`] — kernel TCP through io_uring (multishot receive into a provided
//!   buffer ring, batched submissions, busy-polling); its submissions that lend memory
//!   to the kernel are confined to [`uring_sys::UringIo`];
//! * [`memory::MemoryTransport`] — an in-memory link (two SPSC byte rings), for tests and the demo;
//! * [`tcpstack`] — `fixdpdk::Connection` (user-space TCP, smoltcp, over a DPDK port or an
//!   in-memory frame pipe);
//! * [`fault::FaultLink`] — middleware around ANY backend that drops, duplicates, reorders or delays
//!   chosen FIX messages and cuts the connection on a message boundary.

pub mod fault;
pub mod framing;
pub mod memory;
pub mod tcpstack;
pub mod uring;
pub mod uring_sys;

use crate::clock::Nanos;
use std::fmt;

/// What a backend can do (smoltcp's `DeviceCapabilities`, for a byte stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Backend name for logs (`"io_uring"`, `"memory"`, `"dpdk"`, `"fault(io_uring)"`).
    pub name: &'static str,
    /// Largest contiguous receive view [`Transport::recv`] may lend.
    pub max_recv_view: usize,
    /// Transmit buffer size: how much [`Transport::send`] accepts before back-pressure.
    pub send_buffer: usize,
    /// True when the receive view is the buffer the data arrived in (no copy).
    pub zero_copy_recv: bool,
}

/// Connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Connecting (TCP handshake in progress).
    Connecting,
    /// Established: bytes flow.
    Open,
    /// Closed; no more bytes will be received (already received bytes may still be read).
    Closed(CloseReason),
}

/// Why a link closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Transport::close`] was called.
    Local,
    /// The peer closed the connection (EOF).
    Peer,
    /// Fault injection cut the connection.
    Cut,
    /// An I/O error (errno).
    Error(i32),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Local => write!(f, "closed locally"),
            CloseReason::Peer => write!(f, "closed by peer"),
            CloseReason::Cut => write!(f, "cut by fault injection"),
            CloseReason::Error(e) => {
                write!(f, "I/O error: {}", std::io::Error::from_raw_os_error(*e))
            }
        }
    }
}

/// Errors creating or connecting a transport.
#[derive(Debug)]
pub enum TransportError {
    /// io_uring cannot be used here (seccomp, old kernel, missing feature).
    Unavailable(String),
    /// An I/O error with context.
    Io(String, std::io::Error),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Unavailable(s) => f.write_str(s),
            TransportError::Io(ctx, e) => write!(f, "{ctx}: {e}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// A non-blocking, poll-mode, reliable, ordered byte stream (one TCP connection).
///
/// All methods return immediately. Nothing here allocates after construction.
pub trait Transport {
    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Current state.
    fn state(&self) -> LinkState;

    /// Drives the device: submits queued sends, reaps completions, re-arms receives.
    /// Returns the amount of work done (0 = nothing happened), for the idle strategy.
    fn poll(&mut self, now: Nanos) -> usize;

    /// Lends the received, unconsumed bytes (possibly an empty slice) to `f`, which returns how
    /// many it consumed (clamped to the slice length) and a value passed back to the caller.
    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R;

    /// Lends free transmit space (empty under back-pressure or when closed) to `f`, which
    /// returns how many bytes it wrote from the start and a value passed back to the caller.
    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R;

    /// Bytes queued for transmission and not yet handed to the wire.
    fn send_queued(&self) -> usize;

    /// Closes the connection (idempotent). Queued bytes are flushed by later `poll`s if possible.
    fn close(&mut self);

    /// Convenience: copies as much of `data` as fits into the transmit space; returns the count.
    fn send_bytes(&mut self, data: &[u8]) -> usize {
        self.send(|buf| {
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            (n, n)
        })
    }

    /// Convenience: copies received bytes into `out`; returns the count.
    fn recv_into(&mut self, out: &mut [u8]) -> usize {
        self.recv(|buf| {
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            (n, n)
        })
    }

    /// True once the link is closed.
    fn is_closed(&self) -> bool {
        matches!(self.state(), LinkState::Closed(_))
    }
}

impl<T: Transport> Transport for Box<T> {
    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
    fn state(&self) -> LinkState {
        (**self).state()
    }
    fn poll(&mut self, now: Nanos) -> usize {
        (**self).poll(now)
    }
    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        (**self).recv(f)
    }
    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        (**self).send(f)
    }
    fn send_queued(&self) -> usize {
        (**self).send_queued()
    }
    fn close(&mut self) {
        (**self).close()
    }
}
