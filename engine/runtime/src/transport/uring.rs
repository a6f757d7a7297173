//! io_uring backend over kernel TCP.
//!
//! * one ring per connection, created with `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG`
//!   (completions are produced only when this thread enters the kernel, and the TASKRUN flag
//!   says when that is needed, so a busy-polling loop makes a syscall only when there is work);
//! * multishot receive (`RecvMulti`) into a provided buffer ring: the kernel picks a buffer per
//!   completion and [`Transport::recv`] lends that buffer itself (no copy);
//! * sends from a fixed transmit queue, one `Send` in flight, batched with the receive re-arm in a
//!   single `io_uring_enter`;
//! * no allocation after construction.
//!
//! Where io_uring cannot be used (seccomp, old kernel) construction fails with
//! [`TransportError::Unavailable`].

use super::uring_sys::{Completion, UringIo};
use super::{Capabilities, CloseReason, LinkState, Transport, TransportError};
use crate::clock::Nanos;
use crate::sys::BufRing;
use io_uring::IoUring;
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Tuning of the io_uring backend.
#[derive(Clone, Copy, Debug)]
pub struct UringOptions {
    /// Submission queue entries.
    pub ring_entries: u32,
    /// Provided receive buffers (power of two).
    pub buf_count: u16,
    /// Size of each receive buffer.
    pub buf_size: u32,
    /// Transmit queue size in bytes (back-pressure beyond it).
    pub send_buffer: usize,
    /// Set TCP_NODELAY (default true).
    pub nodelay: bool,
    /// Send with `IORING_OP_SEND_ZC` (zero-copy, completion plus notification) instead of
    /// `IORING_OP_SEND` (default false: see `examples/uring_pingpong.rs` for the measurement).
    pub zero_copy_send: bool,
    /// Create the ring with `SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG` (default true; false
    /// gives a default ring, for comparison).
    pub defer_taskrun: bool,
}

impl Default for UringOptions {
    fn default() -> Self {
        UringOptions {
            ring_entries: 64,
            buf_count: 64,
            buf_size: 16 * 1024,
            send_buffer: 1 << 20,
            nodelay: true,
            zero_copy_send: false,
            defer_taskrun: true,
        }
    }
}

fn unavailable(e: &std::io::Error) -> TransportError {
    TransportError::Unavailable(format!(
        "io_uring unavailable: {e}; use Transport=memory or run on Linux >= 6.1"
    ))
}

/// Checks that io_uring with the flags this backend needs can be created here.
pub fn probe() -> Result<(), TransportError> {
    build_ring(8, true).map(drop)
}

fn build_ring(entries: u32, defer_taskrun: bool) -> Result<IoUring, TransportError> {
    let mut b = IoUring::builder();
    if defer_taskrun {
        b.setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag();
    }
    b.build(entries).map_err(|e| unavailable(&e))
}

/// One TCP connection driven through io_uring.
pub struct UringTransport {
    /// Ring, socket, receive buffers and transmit queue (the kernel-facing part, `uring_sys`).
    io: UringIo,
    /// Completed receives not yet fully consumed: (buffer id, length).
    ready: VecDeque<(u16, u32)>,
    /// Consumed bytes of the front buffer.
    front_off: usize,
    eof: bool,
    state: LinkState,
    peer: Option<SocketAddr>,
    /// Syscalls (`io_uring_enter`) made, for measurements.
    pub enters: u64,
}

impl std::os::fd::AsRawFd for UringTransport {
    /// The connection's TCP socket descriptor, for an idle strategy that sleeps until it is
    /// readable (`poll`/`ppoll`). Do not read or write it: the ring owns its I/O.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.as_raw_fd()
    }
}

impl UringTransport {
    /// Wraps an established TCP stream.
    pub fn from_stream(sock: TcpStream, opts: UringOptions) -> Result<Self, TransportError> {
        let ring = build_ring(opts.ring_entries, opts.defer_taskrun)?;
        if opts.nodelay {
            sock.set_nodelay(true)
                .map_err(|e| TransportError::Io("TCP_NODELAY".into(), e))?;
        }
        sock.set_nonblocking(true)
            .map_err(|e| TransportError::Io("O_NONBLOCK".into(), e))?;
        let bufs = BufRing::new(opts.buf_count, opts.buf_size)
            .map_err(|e| TransportError::Io("provided buffer ring".into(), e))?;
        let peer = sock.peer_addr().ok();
        let io = UringIo::new(ring, sock, bufs, opts.send_buffer, opts.zero_copy_send)
            .map_err(|e| unavailable(&e))?;
        Ok(UringTransport {
            ready: VecDeque::with_capacity(usize::from(opts.buf_count) + 1),
            io,
            front_off: 0,
            eof: false,
            state: LinkState::Open,
            peer,
            enters: 0,
        })
    }

    /// Connects to `addr` (blocking, with a timeout) and wraps the connection.
    pub fn connect(
        addr: SocketAddr,
        timeout: Duration,
        opts: UringOptions,
    ) -> Result<Self, TransportError> {
        // Fail early with the clear message if io_uring is unavailable.
        probe()?;
        let sock = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| TransportError::Io(format!("connect {addr}"), e))?;
        Self::from_stream(sock, opts)
    }

    /// The peer's address.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn reap(&mut self) -> usize {
        let (ready, eof, state) = (&mut self.ready, &mut self.eof, &mut self.state);
        self.io.reap(|c| match c {
            Completion::Data { bid, len } => ready.push_back((bid, len)),
            Completion::Eof => *eof = true,
            Completion::RecvError(e) | Completion::SendError(e) => {
                if !matches!(*state, LinkState::Closed(_)) {
                    *state = LinkState::Closed(CloseReason::Error(e));
                }
            }
        })
    }

    fn submit_pending(&mut self) -> usize {
        let open = self.state == LinkState::Open;
        let mut queued = 0;
        if open
            && !self.io.recv_armed()
            && !self.eof
            && self.ready.len() < usize::from(self.io.buf_count())
            && self.io.arm_recv()
        {
            queued += 1;
        }
        if open && self.io.start_send() {
            queued += 1;
        }
        match self.io.submit(queued) {
            Ok(true) => self.enters += 1,
            Ok(false) => {}
            Err(e) => {
                self.enters += 1;
                self.state = LinkState::Closed(CloseReason::Error(e));
            }
        }
        queued
    }
}

impl Transport for UringTransport {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            name: "io_uring",
            max_recv_view: self.io.buf_size() as usize,
            send_buffer: self.io.tx_capacity(),
            zero_copy_recv: true,
        }
    }

    fn state(&self) -> LinkState {
        match self.state {
            LinkState::Open if self.eof && self.ready.is_empty() => {
                LinkState::Closed(CloseReason::Peer)
            }
            s => s,
        }
    }

    fn poll(&mut self, _now: Nanos) -> usize {
        let mut work = self.submit_pending();
        work += self.reap();
        if work > 0 {
            // Completions may have freed the transmit slot or ended the multishot receive:
            // queue the follow-ups in the same duty cycle (they go in the next enter).
            work += self.submit_pending();
            work += self.reap();
        }
        work
    }

    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let Some(&(bid, len)) = self.ready.front() else {
            return f(&[]).1;
        };
        let data = &self.io.buf(bid, len as usize)[self.front_off..];
        let (n, r) = f(data);
        self.front_off += n.min(data.len());
        if self.front_off >= len as usize {
            self.ready.pop_front();
            self.front_off = 0;
            self.io.recycle(bid);
        }
        r
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        if self.state != LinkState::Open {
            return f(&mut []).1;
        }
        // Never compacts while a send is in flight: the kernel reads the readable bytes.
        let w = self.io.tx_writable();
        let (n, r) = f(w);
        let n = n.min(w.len());
        self.io.tx_commit(n);
        r
    }

    fn send_queued(&self) -> usize {
        self.io.tx_len()
    }

    fn close(&mut self) {
        if matches!(self.state, LinkState::Closed(_)) {
            return;
        }
        // Flush queued bytes (bounded effort), then shut the socket down.
        for _ in 0..1000 {
            if self.io.tx_len() == 0 {
                break;
            }
            self.poll(0);
        }
        self.state = LinkState::Closed(CloseReason::Local);
        self.io.shutdown();
    }
}

/// A listening TCP socket that accepts connections as [`UringTransport`]s (non-blocking).
pub struct UringListener {
    listener: TcpListener,
    opts: UringOptions,
}

impl UringListener {
    /// Binds `addr` (port 0 picks a free port; see [`UringListener::local_addr`]).
    pub fn bind(addr: SocketAddr, opts: UringOptions) -> Result<Self, TransportError> {
        probe()?;
        let listener =
            TcpListener::bind(addr).map_err(|e| TransportError::Io(format!("bind {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| TransportError::Io("O_NONBLOCK".into(), e))?;
        Ok(UringListener { listener, opts })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound socket has an address")
    }

    /// Accepts one pending connection, if any (never blocks).
    pub fn accept(&self) -> Result<Option<UringTransport>, TransportError> {
        match self.listener.accept() {
            Ok((s, _)) => UringTransport::from_stream(s, self.opts).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(TransportError::Io("accept".into(), e)),
        }
    }
}
