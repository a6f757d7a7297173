//! One TCP connection as a poll-mode byte stream: the shape of the runtime's `Transport` trait
//! (`engine/runtime/src/transport`), so its DPDK backend is a thin `impl Transport for
//! Connection<DpdkDevice>` forwarding each method.

use std::net::SocketAddrV4;

use crate::error::Result;
use crate::stack::{FrameDevice, Handle, StreamState, TcpStack};

/// Why a connection closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// [`Connection::close`] was called.
    Local,
    /// The peer closed (FIN).
    Peer,
    /// Reset by the peer, refused, or timed out.
    Reset,
}

/// Connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// Handshake in progress (or waiting for the peer, for [`Connection::accept`]).
    Connecting,
    /// Bytes flow both ways.
    Open,
    /// No more bytes will arrive; bytes already received can still be read.
    Closed(CloseCause),
}

/// A [`TcpStack`] carrying one connection.
pub struct Connection<D: FrameDevice> {
    stack: TcpStack<D>,
    h: Handle,
    state: ConnState,
    closed_locally: bool,
    saw_fin: bool,
}

impl<D: FrameDevice> Connection<D> {
    /// Connects to `remote` (the handshake runs in [`Connection::poll`]).
    pub fn connect(mut stack: TcpStack<D>, remote: SocketAddrV4) -> Result<Self> {
        let h = stack.connect(remote)?;
        Ok(Self::with(stack, h))
    }

    /// Waits for one peer on `port` (state `Connecting` until it connects).
    pub fn accept(mut stack: TcpStack<D>, port: u16) -> Result<Self> {
        let h = stack.listen(port)?;
        Ok(Self::with(stack, h))
    }

    /// Wraps socket `h` of `stack` (listening, connecting or established): a connector that keeps
    /// the stack between connections hands each accepted or connected socket over this way.
    pub fn adopt(stack: TcpStack<D>, h: Handle) -> Self {
        let mut c = Self::with(stack, h);
        c.update();
        c
    }

    /// Gives the stack back with the socket's handle (still open in the stack: close or abort
    /// it, keep polling until it is closed, then release it).
    pub fn into_parts(self) -> (TcpStack<D>, Handle) {
        (self.stack, self.h)
    }

    fn with(stack: TcpStack<D>, h: Handle) -> Self {
        Connection {
            stack,
            h,
            state: ConnState::Connecting,
            closed_locally: false,
            saw_fin: false,
        }
    }

    /// Drives the stack; returns the frames moved plus 1 if a socket changed (0 = idle).
    pub fn poll(&mut self, now_ns: u64) -> usize {
        let before = self.stack.device().frames();
        let changed = self.stack.poll(now_ns);
        let work = (self.stack.device().frames() - before) as usize + usize::from(changed);
        self.update();
        work
    }

    fn update(&mut self) {
        let s = self.stack.state(self.h).unwrap_or(StreamState::Closed);
        if s == StreamState::PeerClosed {
            self.saw_fin = true;
        }
        self.state = match s {
            StreamState::Listening | StreamState::Connecting => ConnState::Connecting,
            StreamState::Established => ConnState::Open,
            _ if self.closed_locally => ConnState::Closed(CloseCause::Local),
            StreamState::PeerClosed => ConnState::Closed(CloseCause::Peer),
            _ if self.saw_fin => ConnState::Closed(CloseCause::Peer),
            _ => ConnState::Closed(CloseCause::Reset),
        };
    }

    /// Current state (as of the last poll or close).
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// Lends received bytes to `f`; see [`TcpStack::recv_with`].
    pub fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        self.stack.recv_with(self.h, f)
    }

    /// Lends free send space to `f`; see [`TcpStack::send_with`]. Nothing is accepted after
    /// [`Connection::close`].
    pub fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        self.stack.send_with(self.h, f)
    }

    /// Bytes in the send buffer not yet acknowledged by the peer.
    pub fn send_queued(&self) -> usize {
        self.stack.send_queue(self.h).unwrap_or(0)
    }

    /// Orderly close (FIN after the queued bytes); idempotent.
    pub fn close(&mut self) {
        if !self.closed_locally {
            self.closed_locally = true;
            let _ = self.stack.close(self.h);
        }
        self.update();
    }

    /// Receive buffer size (the largest view `recv` lends).
    pub fn recv_buffer(&self) -> usize {
        self.stack.config().rx_buffer
    }

    /// Send buffer size.
    pub fn send_buffer(&self) -> usize {
        self.stack.config().tx_buffer
    }

    /// The socket handle inside the stack.
    pub fn handle(&self) -> Handle {
        self.h
    }

    /// The stack (addresses, device counters).
    pub fn stack(&self) -> &TcpStack<D> {
        &self.stack
    }

    /// The stack, mutably.
    pub fn stack_mut(&mut self) -> &mut TcpStack<D> {
        &mut self.stack
    }
}
