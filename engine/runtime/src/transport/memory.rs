//! In-memory link: two lock-free SPSC byte rings (rtrb), one per direction. Works across
//! threads (dedicated mode) and on one thread (shared and stepped modes).

use super::{Capabilities, CloseReason, LinkState, Transport};
use crate::bytes::ByteQueue;
use crate::clock::Nanos;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One end of an in-memory link created by [`MemoryTransport::pair`].
pub struct MemoryTransport {
    rx: rtrb::Consumer<u8>,
    tx: rtrb::Producer<u8>,
    txq: ByteQueue,
    /// Set by this end when it closes.
    my_closed: Arc<AtomicBool>,
    /// Set by the peer when it closes.
    peer_closed: Arc<AtomicBool>,
    local_closed: bool,
    view: usize,
}

impl MemoryTransport {
    /// Two connected ends; each direction buffers `capacity` bytes in the ring plus `capacity`
    /// in the sender's transmit queue.
    pub fn pair(capacity: usize) -> (MemoryTransport, MemoryTransport) {
        let (a_tx, b_rx) = rtrb::RingBuffer::new(capacity);
        let (b_tx, a_rx) = rtrb::RingBuffer::new(capacity);
        let a_closed = Arc::new(AtomicBool::new(false));
        let b_closed = Arc::new(AtomicBool::new(false));
        let a = MemoryTransport {
            rx: a_rx,
            tx: a_tx,
            txq: ByteQueue::new(capacity),
            my_closed: a_closed.clone(),
            peer_closed: b_closed.clone(),
            local_closed: false,
            view: capacity,
        };
        let b = MemoryTransport {
            rx: b_rx,
            tx: b_tx,
            txq: ByteQueue::new(capacity),
            my_closed: b_closed,
            peer_closed: a_closed,
            local_closed: false,
            view: capacity,
        };
        (a, b)
    }

    fn flush(&mut self) -> usize {
        if self.txq.is_empty() || self.local_closed {
            return 0;
        }
        let data = self.txq.readable();
        let (_, rest) = self.tx.push_partial_slice(data);
        let n = data.len() - rest.len();
        self.txq.consume(n);
        n
    }
}

impl Transport for MemoryTransport {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            name: "memory",
            max_recv_view: self.view,
            send_buffer: self.txq.capacity(),
            zero_copy_recv: true,
        }
    }

    fn state(&self) -> LinkState {
        if self.local_closed {
            LinkState::Closed(CloseReason::Local)
        } else if self.peer_closed.load(Ordering::Acquire) && self.rx.is_empty() {
            LinkState::Closed(CloseReason::Peer)
        } else {
            LinkState::Open
        }
    }

    fn poll(&mut self, _now: Nanos) -> usize {
        self.flush()
    }

    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let avail = if self.local_closed {
            0
        } else {
            self.rx.slots()
        };
        match self.rx.read_chunk(avail) {
            Ok(chunk) => {
                let (first, _) = chunk.as_slices();
                let (n, r) = f(first);
                let n = n.min(first.len());
                chunk.commit(n);
                r
            }
            Err(_) => f(&[]).1,
        }
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        if self.local_closed || self.peer_closed.load(Ordering::Acquire) {
            return f(&mut []).1;
        }
        let w = self.txq.writable(true);
        let (n, r) = f(w);
        let n = n.min(w.len());
        self.txq.commit(n);
        r
    }

    fn send_queued(&self) -> usize {
        self.txq.len()
    }

    fn close(&mut self) {
        if !self.local_closed {
            // Flush what was queued before closing, like a TCP FIN after the data.
            self.flush();
            self.local_closed = true;
            self.my_closed.store(true, Ordering::Release);
        }
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_flow_both_ways_and_close_is_seen() {
        let (mut a, mut b) = MemoryTransport::pair(64);
        assert_eq!(a.send_bytes(b"hello"), 5);
        let mut out = [0u8; 16];
        assert_eq!(b.recv_into(&mut out), 0, "nothing before poll flushes");
        a.poll(0);
        assert_eq!(b.recv_into(&mut out), 5);
        assert_eq!(&out[..5], b"hello");
        b.send_bytes(b"world");
        b.poll(0);
        assert_eq!(a.recv_into(&mut out), 5);
        assert_eq!(&out[..5], b"world");
        a.send_bytes(b"bye");
        a.close();
        assert_eq!(a.state(), LinkState::Closed(CloseReason::Local));
        assert_eq!(b.state(), LinkState::Open, "unread bytes keep it open");
        assert_eq!(b.recv_into(&mut out), 3);
        assert_eq!(b.state(), LinkState::Closed(CloseReason::Peer));
    }

    #[test]
    fn full_ring_is_backpressure_not_loss() {
        let (mut a, mut b) = MemoryTransport::pair(16);
        let data: Vec<u8> = (0..100u8).collect();
        let mut sent = 0;
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        while got.len() < data.len() {
            sent += a.send_bytes(&data[sent..]);
            a.poll(0);
            let n = b.recv_into(&mut buf);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, data);
    }
}
