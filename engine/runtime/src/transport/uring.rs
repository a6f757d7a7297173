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

use super::{Capabilities, CloseReason, LinkState, Transport, TransportError};
use crate::bytes::ByteQueue;
use crate::clock::Nanos;
use crate::sys::{self, BufRing};
use io_uring::{cqueue, opcode, types, IoUring};
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

const UD_RECV: u64 = 1;
const UD_SEND: u64 = 2;
const UD_CANCEL: u64 = 3;
const BGID: u16 = 7;

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
    ring: IoUring,
    sock: TcpStream,
    bufs: BufRing,
    /// Completed receives not yet fully consumed: (buffer id, length).
    ready: VecDeque<(u16, u32)>,
    /// Consumed bytes of the front buffer.
    front_off: usize,
    recv_armed: bool,
    txq: ByteQueue,
    send_inflight: usize,
    zero_copy: bool,
    /// Zero-copy send: bytes reported sent, consumed when the kernel's notification says the
    /// buffer is free again.
    zc_sent: Option<usize>,
    eof: bool,
    state: LinkState,
    inflight_ops: u32,
    peer: Option<SocketAddr>,
    /// Syscalls (`io_uring_enter`) made, for measurements.
    pub enters: u64,
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
        // SAFETY: the ring memory belongs to `bufs`, which lives in the same struct as `ring`
        // and is dropped after the buffer group is unregistered (see `Drop`).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.ring_addr(), bufs.count(), BGID, 0)
        }
        .map_err(|e| unavailable(&e))?;
        let peer = sock.peer_addr().ok();
        Ok(UringTransport {
            ring,
            sock,
            ready: VecDeque::with_capacity(usize::from(opts.buf_count) + 1),
            bufs,
            front_off: 0,
            recv_armed: false,
            txq: ByteQueue::new(opts.send_buffer),
            send_inflight: 0,
            zero_copy: opts.zero_copy_send,
            zc_sent: None,
            eof: false,
            state: LinkState::Open,
            inflight_ops: 0,
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

    fn fd(&self) -> types::Fd {
        types::Fd(self.sock.as_raw_fd())
    }

    fn reap(&mut self) -> usize {
        let mut work = 0;
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            work += 1;
            let res = cqe.result();
            let flags = cqe.flags();
            match cqe.user_data() {
                UD_RECV => {
                    if !cqueue::more(flags) {
                        self.recv_armed = false;
                        self.inflight_ops -= 1;
                    }
                    if res > 0 {
                        if let Some(bid) = cqueue::buffer_select(flags) {
                            self.ready.push_back((bid, res as u32));
                        }
                    } else if res == 0 {
                        self.eof = true;
                    } else if res != -libc::ENOBUFS && res != -libc::ECANCELED {
                        // ENOBUFS: every buffer is held by us; re-armed once one is consumed.
                        if !matches!(self.state, LinkState::Closed(_)) {
                            self.state = LinkState::Closed(CloseReason::Error(-res));
                        }
                    }
                }
                UD_SEND if cqueue::notif(flags) => {
                    // Zero-copy send: the kernel no longer reads the buffer.
                    self.inflight_ops -= 1;
                    self.txq.consume(self.zc_sent.take().unwrap_or(0));
                    self.send_inflight = 0;
                }
                UD_SEND => {
                    if res < 0
                        && res != -libc::EAGAIN
                        && res != -libc::EINTR
                        && !matches!(self.state, LinkState::Closed(_))
                    {
                        self.state = LinkState::Closed(CloseReason::Error(-res));
                    }
                    let sent = res.max(0) as usize;
                    if cqueue::more(flags) {
                        // A notification follows; keep the bytes until then.
                        self.zc_sent = Some(sent);
                    } else {
                        self.inflight_ops -= 1;
                        self.txq.consume(sent);
                        self.send_inflight = 0;
                    }
                }
                _ => {}
            }
        }
        work
    }

    fn submit_pending(&mut self) -> usize {
        let fd = self.fd();
        let open = self.state == LinkState::Open;
        let mut queued = 0;
        {
            let mut sq = self.ring.submission();
            if open
                && !self.recv_armed
                && !self.eof
                && self.ready.len() < usize::from(self.bufs.count())
            {
                let e = opcode::RecvMulti::new(fd, BGID).build().user_data(UD_RECV);
                // SAFETY: RecvMulti writes only into buffers of the registered group `BGID`,
                // owned by `self.bufs` and valid until unregistered in `Drop`.
                if unsafe { sq.push(&e) }.is_ok() {
                    self.recv_armed = true;
                    self.inflight_ops += 1;
                    queued += 1;
                }
            }
            if open && self.send_inflight == 0 && !self.txq.is_empty() {
                let data = self.txq.readable();
                let len = data.len().min(u32::MAX as usize);
                let e = if self.zero_copy {
                    opcode::SendZc::new(fd, data.as_ptr(), len as u32)
                        .flags(libc::MSG_NOSIGNAL)
                        .build()
                        .user_data(UD_SEND)
                } else {
                    opcode::Send::new(fd, data.as_ptr(), len as u32)
                        .flags(libc::MSG_NOSIGNAL)
                        .build()
                        .user_data(UD_SEND)
                };
                // SAFETY: the bytes are the readable part of `txq`; while `send_inflight > 0`
                // they are neither consumed nor moved (`send` does not compact and `consume`
                // happens only on the completion, or for a zero-copy send on its notification),
                // and `Drop` waits for in-flight operations.
                if unsafe { sq.push(&e) }.is_ok() {
                    self.send_inflight = len;
                    self.inflight_ops += 1;
                    queued += 1;
                }
            }
            sq.sync();
        }
        let taskrun = self.ring.submission().taskrun();
        if queued > 0 || taskrun {
            self.enters += 1;
            if let Err(e) = self.ring.submit() {
                if e.raw_os_error() != Some(libc::EINTR) && e.raw_os_error() != Some(libc::EBUSY) {
                    self.state =
                        LinkState::Closed(CloseReason::Error(e.raw_os_error().unwrap_or(0)));
                }
            }
        }
        queued
    }
}

impl Transport for UringTransport {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            name: "io_uring",
            max_recv_view: self.bufs.buf_size() as usize,
            send_buffer: self.txq.capacity(),
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
        let data = &self.bufs.buf(bid, len as usize)[self.front_off..];
        let (n, r) = f(data);
        self.front_off += n.min(data.len());
        if self.front_off >= len as usize {
            self.ready.pop_front();
            self.front_off = 0;
            self.bufs.recycle(bid);
        }
        r
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        if self.state != LinkState::Open {
            return f(&mut []).1;
        }
        // Never compact while a send is in flight: the kernel reads the readable bytes.
        let compact = self.send_inflight == 0;
        let w = self.txq.writable(compact);
        let (n, r) = f(w);
        let n = n.min(w.len());
        self.txq.commit(n);
        r
    }

    fn send_queued(&self) -> usize {
        self.txq.len()
    }

    fn close(&mut self) {
        if matches!(self.state, LinkState::Closed(_)) {
            return;
        }
        // Flush queued bytes (bounded effort), then shut the socket down.
        for _ in 0..1000 {
            if self.txq.is_empty() {
                break;
            }
            self.poll(0);
        }
        self.state = LinkState::Closed(CloseReason::Local);
        sys::shutdown(self.sock.as_raw_fd());
    }
}

impl Drop for UringTransport {
    fn drop(&mut self) {
        sys::shutdown(self.sock.as_raw_fd());
        if self.inflight_ops > 0 {
            let e = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(UD_CANCEL);
            // SAFETY: a cancel request references no memory.
            let _ = unsafe { self.ring.submission().push(&e) };
        }
        // Wait (bounded) until the kernel has finished with our buffers.
        let mut spins = 0;
        while self.inflight_ops > 0 && spins < 1000 {
            let ts = types::Timespec::new().nsec(1_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            let _ = self.ring.submitter().submit_with_args(1, &args);
            self.reap();
            spins += 1;
        }
        let _ = self.ring.submitter().unregister_buf_ring(BGID);
        if self.inflight_ops > 0 {
            // The kernel still owns buffers: leak them rather than free memory it may write.
            let bufs = std::mem::replace(&mut self.bufs, BufRing::new(1, 1).expect("tiny ring"));
            std::mem::forget(bufs);
            let q = std::mem::replace(&mut self.txq, ByteQueue::new(1));
            std::mem::forget(q);
        }
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
