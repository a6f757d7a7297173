//! The user-space TCP backend: `fixdpdk::Connection<D>` (smoltcp over any frame device — a DPDK
//! port with the `dpdk` feature, or `fixdpdk::pipe`'s in-memory frame link everywhere) as a
//! [`Transport`]. The connection already has the trait's shape (poll, closure-lending
//! recv/send), so every method forwards.

use super::{Capabilities, CloseReason, LinkState, Transport};
use crate::clock::Nanos;
use fixdpdk::stack::FrameDevice;
use fixdpdk::{CloseCause, ConnState, Connection};

impl<D: FrameDevice> Transport for Connection<D> {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            name: "tcpstack",
            max_recv_view: self.recv_buffer(),
            send_buffer: self.send_buffer(),
            zero_copy_recv: true,
        }
    }

    fn state(&self) -> LinkState {
        match Connection::state(self) {
            ConnState::Connecting => LinkState::Connecting,
            ConnState::Open => LinkState::Open,
            ConnState::Closed(CloseCause::Local) => LinkState::Closed(CloseReason::Local),
            ConnState::Closed(CloseCause::Peer) => LinkState::Closed(CloseReason::Peer),
            ConnState::Closed(CloseCause::Reset) => {
                LinkState::Closed(CloseReason::Error(libc::ECONNRESET))
            }
        }
    }

    fn poll(&mut self, now: Nanos) -> usize {
        Connection::poll(self, now)
    }

    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        Connection::recv(self, f)
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        Connection::send(self, f)
    }

    fn send_queued(&self) -> usize {
        Connection::send_queued(self)
    }

    fn close(&mut self) {
        Connection::close(self)
    }
}
