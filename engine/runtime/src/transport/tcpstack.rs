//! The user-space TCP backend: `fixdpdk::Connection<D>` (smoltcp over any frame device — a DPDK
//! port with the `dpdk` feature, or `fixdpdk::pipe`'s in-memory frame link everywhere) as a
//! [`Transport`]. The connection already has the trait's shape (poll, closure-lending
//! recv/send), so every method forwards.
//!
//! The connectors [`StackAcceptor`] and [`StackInitiator`] keep one stack (one port) across
//! connections: each hands out [`StackLink`]s (a connection that gives the stack back when the IO
//! agent drops it). `fixeng::dpdk` builds them on a DPDK port for `Transport=dpdk`;
//! `tests/dpdk_stack.rs` runs them on the in-memory frame pipe.

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

// ---------------------------------------------------------------------------------------------
// Connectors over one user-space TCP stack.
//
// The stack (and with it the DPDK port) must outlive every connection: a `Connection` owns its
// stack, so a connector lends the stack to each link it hands out and the link gives it back
// when the IO agent drops it. Between connections the stack lives in a `Home` shared by the
// connector and its link; the lock is taken only when a connection starts or ends (and by the
// connector while it waits for one), never while bytes flow.

use crate::connect::Connector;
use crate::transport::TransportError;
use fixdpdk::{Handle, StreamState, TcpStack};
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex, MutexGuard};

/// How long a closed connection's socket may take to finish its FIN exchange (and retransmit
/// what the peer has not acknowledged) before it is reset.
pub const LINGER_NS: Nanos = 2_000_000_000;

/// When the last owner of a stack goes away, it keeps polling for at most this long so that the
/// FIN and any unacknowledged bytes (a final Logout) still reach the peer.
pub const LINGER_ON_DROP_MS: u64 = 500;

/// A socket whose connection has ended, kept in the stack until its close completes.
#[derive(Clone, Copy, Debug)]
struct Closing {
    h: Handle,
    deadline: Nanos,
    aborted: bool,
}

/// Where the stack lives between connections.
struct Home<D: FrameDevice> {
    stack: Option<TcpStack<D>>,
    closing: Vec<Closing>,
    /// Last time seen (by the connector or the link).
    now: Nanos,
}

impl<D: FrameDevice> Home<D> {
    /// Releases the sockets whose close has completed; resets those past their deadline.
    fn reap(&mut self, now: Nanos) {
        let Some(stack) = self.stack.as_mut() else {
            return;
        };
        self.closing.retain_mut(|c| {
            if stack.close_done(c.h) {
                let _ = stack.release(c.h);
                return false;
            }
            if now >= c.deadline && !c.aborted {
                let _ = stack.abort(c.h);
                c.aborted = true;
            }
            true
        });
    }

    fn put_back(&mut self, conn: Connection<D>, now: Nanos) {
        let (stack, h) = conn.into_parts();
        self.stack = Some(stack);
        self.now = self.now.max(now);
        self.closing.push(Closing {
            h,
            deadline: self.now.saturating_add(LINGER_NS),
            aborted: false,
        });
        self.reap(self.now);
    }
}

impl<D: FrameDevice> Drop for Home<D> {
    fn drop(&mut self) {
        if self.stack.is_none() || self.closing.is_empty() {
            return;
        }
        // The process is going away: finish the FIN exchanges for a bounded time. The only clock
        // read outside the runner, because nobody drives this stack any more.
        let t0 = std::time::Instant::now();
        let base = self.now;
        while !self.closing.is_empty() {
            let el = t0.elapsed();
            if el.as_millis() as u64 >= LINGER_ON_DROP_MS {
                break;
            }
            let now = base + el.as_nanos() as Nanos;
            if let Some(s) = self.stack.as_mut() {
                s.poll(now);
            }
            self.reap(now);
            std::thread::yield_now();
        }
    }
}

fn lock<D: FrameDevice>(home: &Mutex<Home<D>>) -> MutexGuard<'_, Home<D>> {
    home.lock().unwrap_or_else(|p| p.into_inner())
}

/// One connection handed out by [`StackAcceptor`] or [`StackInitiator`]: a [`Connection`] that
/// returns its stack to the connector when dropped (its socket then finishes closing there).
pub struct StackLink<D: FrameDevice> {
    conn: Option<Connection<D>>,
    home: Arc<Mutex<Home<D>>>,
    now: Nanos,
}

impl<D: FrameDevice> StackLink<D> {
    /// The connection.
    pub fn connection(&self) -> Option<&Connection<D>> {
        self.conn.as_ref()
    }

    /// The connection, mutably.
    pub fn connection_mut(&mut self) -> Option<&mut Connection<D>> {
        self.conn.as_mut()
    }
}

impl<D: FrameDevice> Drop for StackLink<D> {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.close();
            lock(&self.home).put_back(c, self.now);
        }
    }
}

impl<D: FrameDevice> Transport for StackLink<D> {
    fn capabilities(&self) -> Capabilities {
        match &self.conn {
            Some(c) => Transport::capabilities(c),
            None => Capabilities {
                name: "tcpstack",
                max_recv_view: 0,
                send_buffer: 0,
                zero_copy_recv: true,
            },
        }
    }

    fn state(&self) -> LinkState {
        match &self.conn {
            Some(c) => Transport::state(c),
            None => LinkState::Closed(CloseReason::Local),
        }
    }

    fn poll(&mut self, now: Nanos) -> usize {
        self.now = now;
        match &mut self.conn {
            Some(c) => Connection::poll(c, now),
            None => 0,
        }
    }

    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        match &mut self.conn {
            Some(c) => Connection::recv(c, f),
            None => f(&[]).1,
        }
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        match &mut self.conn {
            Some(c) => Connection::send(c, f),
            None => f(&mut []).1,
        }
    }

    fn send_queued(&self) -> usize {
        self.conn.as_ref().map_or(0, Connection::send_queued)
    }

    fn close(&mut self) {
        if let Some(c) = &mut self.conn {
            c.close();
        }
    }
}

/// Polls the stack between connections and reaps closed sockets; `None` while a link has it.
fn idle_poll<D: FrameDevice>(home: &mut Home<D>, now: Nanos) -> Option<&mut TcpStack<D>> {
    home.now = home.now.max(now);
    if let Some(s) = home.stack.as_mut() {
        s.poll(now);
    }
    home.reap(now);
    home.stack.as_mut()
}

fn hand_over<D: FrameDevice>(
    home_arc: &Arc<Mutex<Home<D>>>,
    home: &mut Home<D>,
    h: Handle,
    now: Nanos,
) -> Option<StackLink<D>> {
    let stack = home.stack.take()?;
    let mut conn = Connection::adopt(stack, h);
    conn.poll(now);
    Some(StackLink {
        conn: Some(conn),
        home: home_arc.clone(),
        now,
    })
}

/// Acceptor over a user-space TCP stack: listens on one port and hands out one connection at a
/// time. smoltcp has no accept queue; the acceptor keeps a backlog of one instead: as it hands a
/// connection out it listens again at once, so a peer that connects meanwhile (typically the
/// same counterparty reconnecting after a crash, while our old connection has not yet timed out)
/// completes its handshake and waits, and is handed out as soon as the current connection ends.
/// Handed-out links are established connections.
pub struct StackAcceptor<D: FrameDevice> {
    home: Arc<Mutex<Home<D>>>,
    port: u16,
    listen: Option<Handle>,
    /// Connections accepted.
    pub accepted: u64,
    /// Handshakes that failed (reset or timed out before establishment).
    pub failed_handshakes: u64,
    /// Last error (e.g. no free socket while old ones finish closing), for logs.
    pub last_error: Option<String>,
}

impl<D: FrameDevice> StackAcceptor<D> {
    /// Listens on `port` of `stack`. `now` is on the clock later passed to `poll_connect`.
    pub fn new(mut stack: TcpStack<D>, port: u16, now: Nanos) -> Result<Self, TransportError> {
        let h = stack
            .listen(port)
            .map_err(|e| TransportError::Unavailable(format!("listen on port {port}: {e}")))?;
        Ok(StackAcceptor {
            home: Arc::new(Mutex::new(Home {
                stack: Some(stack),
                closing: Vec::with_capacity(8),
                now,
            })),
            port,
            listen: Some(h),
            accepted: 0,
            failed_handshakes: 0,
            last_error: None,
        })
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Between connections: polls the stack and finishes the closes of ended connections.
    /// Returns how many sockets are still closing (0 once every FIN exchange has completed or
    /// timed out). Use it after `IoAgent::stop_connecting`, when nobody calls `poll_connect`.
    pub fn drive_closing(&mut self, now: Nanos) -> usize {
        let mut home = lock(&self.home);
        idle_poll(&mut home, now);
        home.closing.len()
    }

    /// Takes the stack out (to build a new connector on it, e.g. after rebuilding a pipeline from
    /// its store): sockets still closing are reset, the listening or pending one is dropped.
    /// `None` while a connection holds the stack.
    pub fn take_stack(&mut self) -> Option<TcpStack<D>> {
        let mut home = lock(&self.home);
        let mut stack = home.stack.take()?;
        for c in home.closing.drain(..) {
            let _ = stack.abort(c.h);
            let _ = stack.release(c.h);
        }
        if let Some(h) = self.listen.take() {
            let _ = stack.release(h);
        }
        Some(stack)
    }

    /// Runs `f` on the stack while no connection holds it (`None` while one does).
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut TcpStack<D>) -> R) -> Option<R> {
        lock(&self.home).stack.as_mut().map(f)
    }
}

impl<D: FrameDevice> Connector for StackAcceptor<D> {
    type T = StackLink<D>;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<StackLink<D>>, TransportError> {
        let mut home = lock(&self.home);
        let Some(stack) = idle_poll(&mut home, now) else {
            return Ok(None);
        };
        let h = match self.listen {
            Some(h) => h,
            None => match stack.listen(self.port) {
                Ok(h) => {
                    self.listen = Some(h);
                    h
                }
                Err(e) => {
                    // No free socket: old connections are still closing; try again later.
                    self.last_error = Some(format!("listen on port {}: {e}", self.port));
                    return Ok(None);
                }
            },
        };
        match stack.state(h) {
            Ok(StreamState::Established) | Ok(StreamState::PeerClosed) => {
                // The backlog of one: listen again before the stack goes to the link.
                self.listen = stack.listen(self.port).ok();
                self.accepted += 1;
                Ok(hand_over(&self.home, &mut home, h, now))
            }
            Ok(StreamState::Listening) | Ok(StreamState::Connecting) => Ok(None),
            _ => {
                // The handshake was reset: listen afresh.
                let _ = stack.release(h);
                self.listen = None;
                self.failed_handshakes += 1;
                Ok(None)
            }
        }
    }
}

/// Initiator over a user-space TCP stack: connects to `remote`, retrying every `retry` after a
/// refused or timed-out attempt, and reconnects at once after a connection ends (like
/// [`crate::connect::UringInitiator`]). Handed-out links are established connections.
pub struct StackInitiator<D: FrameDevice> {
    home: Arc<Mutex<Home<D>>>,
    remote: SocketAddrV4,
    retry: Nanos,
    connect_timeout: Nanos,
    pending: Option<(Handle, Nanos)>,
    next_try: Nanos,
    /// Connections established.
    pub connected: u64,
    /// Connection attempts that failed.
    pub failures: u64,
    /// Last failure, for logs.
    pub last_error: Option<String>,
}

impl<D: FrameDevice> StackInitiator<D> {
    /// Connects from `stack` to `remote`; an attempt that is not established within
    /// `connect_timeout` is abandoned and retried after `retry`.
    pub fn new(
        stack: TcpStack<D>,
        remote: SocketAddrV4,
        retry: std::time::Duration,
        connect_timeout: std::time::Duration,
        now: Nanos,
    ) -> Self {
        StackInitiator {
            home: Arc::new(Mutex::new(Home {
                stack: Some(stack),
                closing: Vec::with_capacity(8),
                now,
            })),
            remote,
            retry: retry.as_nanos() as Nanos,
            connect_timeout: connect_timeout.as_nanos() as Nanos,
            pending: None,
            next_try: 0,
            connected: 0,
            failures: 0,
            last_error: None,
        }
    }

    /// The address it connects to.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// Between connections: polls the stack and finishes the closes of ended connections.
    /// Returns how many sockets are still closing (0 once every FIN exchange has completed or
    /// timed out). Use it after `IoAgent::stop_connecting`, when nobody calls `poll_connect`.
    pub fn drive_closing(&mut self, now: Nanos) -> usize {
        let mut home = lock(&self.home);
        idle_poll(&mut home, now);
        home.closing.len()
    }

    /// Takes the stack out (to build a new connector on it, e.g. after rebuilding a pipeline from
    /// its store): sockets still closing are reset, the listening or pending one is dropped.
    /// `None` while a connection holds the stack.
    pub fn take_stack(&mut self) -> Option<TcpStack<D>> {
        let mut home = lock(&self.home);
        let mut stack = home.stack.take()?;
        for c in home.closing.drain(..) {
            let _ = stack.abort(c.h);
            let _ = stack.release(c.h);
        }
        if let Some((h, _)) = self.pending.take() {
            let _ = stack.abort(h);
            let _ = stack.release(h);
        }
        Some(stack)
    }

    /// Runs `f` on the stack while no connection holds it (`None` while one does).
    pub fn with_stack<R>(&self, f: impl FnOnce(&mut TcpStack<D>) -> R) -> Option<R> {
        lock(&self.home).stack.as_mut().map(f)
    }
}

impl<D: FrameDevice> Connector for StackInitiator<D> {
    type T = StackLink<D>;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<StackLink<D>>, TransportError> {
        let mut home = lock(&self.home);
        let Some(stack) = idle_poll(&mut home, now) else {
            return Ok(None);
        };
        let Some((h, deadline)) = self.pending else {
            if now >= self.next_try {
                match stack.connect(self.remote) {
                    Ok(h) => {
                        self.pending = Some((h, now.saturating_add(self.connect_timeout)));
                        stack.poll(now); // the SYN leaves now
                    }
                    Err(e) => {
                        self.failures += 1;
                        self.last_error = Some(format!("connect to {}: {e}", self.remote));
                        self.next_try = now.saturating_add(self.retry);
                    }
                }
            }
            return Ok(None);
        };
        match stack.state(h) {
            Ok(StreamState::Established) | Ok(StreamState::PeerClosed) => {
                self.pending = None;
                self.connected += 1;
                Ok(hand_over(&self.home, &mut home, h, now))
            }
            Ok(StreamState::Connecting) if now < deadline => Ok(None),
            state => {
                let timed_out = matches!(state, Ok(StreamState::Connecting));
                self.failures += 1;
                self.last_error = Some(format!(
                    "connect to {}: {}",
                    self.remote,
                    if timed_out {
                        "no answer (timed out)"
                    } else {
                        "refused or reset"
                    }
                ));
                self.pending = None;
                self.next_try = now.saturating_add(self.retry);
                let _ = stack.abort(h);
                home.closing.push(Closing {
                    h,
                    deadline: now,
                    aborted: true,
                });
                Ok(None)
            }
        }
    }

    fn on_closed(&mut self, _link: &StackLink<D>) {
        // Reconnect at once (the retry interval applies to failed attempts).
        self.next_try = 0;
    }
}
