//! Connectors: how the IO agent obtains a connection (and a new one after a disconnect).

use crate::clock::Nanos;
use crate::transport::fault::{Fault, FaultEvent, FaultLink, FaultStats};
use crate::transport::framing::{next_frame, Frame};
use crate::transport::memory::MemoryTransport;
use crate::transport::uring::{UringListener, UringOptions, UringTransport};
use crate::transport::{Transport, TransportError};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Produces connections for an IO agent. Polled (never blocks for long) while there is none.
pub trait Connector {
    /// The transport type of the connections.
    type T: Transport;

    /// Returns a new connection when one is ready.
    fn poll_connect(&mut self, now: Nanos) -> Result<Option<Self::T>, TransportError>;

    /// Called with a connection that has just closed, before it is dropped.
    fn on_closed(&mut self, _link: &Self::T) {}
}

/// Initiator over io_uring: connects to `addr`, retrying every `retry` after a failure.
///
/// The TCP connect is non-blocking (`sys::tcp_connect_start`): while the handshake is in
/// progress `poll_connect` checks it at most every [`CONNECT_POLL`] and returns `None`, so other
/// agents on the same thread (other sessions in shared mode) keep running.
pub struct UringInitiator {
    addr: SocketAddr,
    opts: UringOptions,
    retry: Nanos,
    next_try: Nanos,
    connecting: Option<(TcpStream, Nanos)>,
    next_check: Nanos,
    /// How long a connection attempt may take (default 2 s).
    pub connect_timeout: Duration,
    /// Connection attempts that failed.
    pub failures: u64,
    /// Last failure, for logs.
    pub last_error: Option<String>,
}

/// How often an initiator checks a connect in progress.
pub const CONNECT_POLL: Nanos = 50_000;

impl UringInitiator {
    /// Connects to `addr`; after a failure or a disconnect waits `retry` before the next attempt.
    pub fn new(addr: SocketAddr, opts: UringOptions, retry: Duration) -> Self {
        UringInitiator {
            addr,
            opts,
            retry: retry.as_nanos() as Nanos,
            next_try: 0,
            connecting: None,
            next_check: 0,
            connect_timeout: Duration::from_secs(2),
            failures: 0,
            last_error: None,
        }
    }

    fn failed(&mut self, now: Nanos, why: String) {
        self.connecting = None;
        self.failures += 1;
        self.last_error = Some(why);
        self.next_try = now + self.retry;
    }
}

impl Connector for UringInitiator {
    type T = UringTransport;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<UringTransport>, TransportError> {
        if let Some((s, deadline)) = &self.connecting {
            if now < self.next_check {
                return Ok(None);
            }
            self.next_check = now + CONNECT_POLL;
            let deadline = *deadline;
            match crate::sys::connect_result(s) {
                Ok(true) => {
                    let Some((s, _)) = self.connecting.take() else {
                        return Ok(None);
                    };
                    return match UringTransport::from_stream(s, self.opts) {
                        Ok(t) => Ok(Some(t)),
                        Err(e @ TransportError::Unavailable(_)) => Err(e),
                        Err(e) => {
                            self.failed(now, e.to_string());
                            Ok(None)
                        }
                    };
                }
                Ok(false) if now < deadline => return Ok(None),
                Ok(false) => {
                    let why = format!("connect {}: timed out", self.addr);
                    self.failed(now, why);
                    return Ok(None);
                }
                Err(e) => {
                    let why = format!("connect {}: {e}", self.addr);
                    self.failed(now, why);
                    return Ok(None);
                }
            }
        }
        if now < self.next_try {
            return Ok(None);
        }
        match crate::sys::tcp_connect_start(self.addr) {
            Ok(s) => {
                self.connecting = Some((s, now + self.connect_timeout.as_nanos() as Nanos));
                self.next_check = now;
            }
            Err(e) => {
                let why = format!("connect {}: {e}", self.addr);
                self.failed(now, why);
            }
        }
        Ok(None)
    }

    fn on_closed(&mut self, _link: &UringTransport) {
        // Reconnect after the retry interval.
        self.next_try = 0;
    }
}

/// Acceptor over io_uring: accepts connections on a bound listener.
pub struct UringAcceptor {
    listener: UringListener,
}

impl UringAcceptor {
    /// Binds `addr` (port 0 picks a free port).
    pub fn bind(addr: SocketAddr, opts: UringOptions) -> Result<Self, TransportError> {
        Ok(UringAcceptor {
            listener: UringListener::bind(addr, opts)?,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }
}

impl Connector for UringAcceptor {
    type T = UringTransport;

    fn poll_connect(&mut self, _now: Nanos) -> Result<Option<UringTransport>, TransportError> {
        self.listener.accept()
    }
}

/// Hands out prepared connections, one per call, in order (then none).
pub struct Prepared<T: Transport> {
    links: Vec<T>,
}

/// Prepared in-memory connections.
pub type MemoryConnector = Prepared<MemoryTransport>;

impl<T: Transport> Prepared<T> {
    /// Connections handed out in the given order (first element first).
    pub fn new(mut links: Vec<T>) -> Self {
        links.reverse();
        Prepared { links }
    }
}

impl<T: Transport> Connector for Prepared<T> {
    type T = T;

    fn poll_connect(&mut self, _now: Nanos) -> Result<Option<T>, TransportError> {
        Ok(self.links.pop())
    }
}

/// Wraps every connection of `C` in a [`FaultLink`]; connection *i* (0-based) gets
/// `plans[i]` (no faults once the plans run out).
pub struct FaultConnector<C: Connector> {
    inner: C,
    plans: Vec<Vec<Fault>>,
    next: usize,
    max_msg: usize,
    /// Faults injected on connections that have closed.
    pub closed_stats: FaultStats,
    events: Vec<FaultEvent>,
}

impl<C: Connector> FaultConnector<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, plans: Vec<Vec<Fault>>, max_msg: usize) -> Self {
        FaultConnector {
            inner,
            plans,
            next: 0,
            max_msg,
            closed_stats: FaultStats::default(),
            events: Vec::with_capacity(1024),
        }
    }

    /// Hands over the not yet taken fault events of connections that have closed.
    pub fn take_events(&mut self, mut f: impl FnMut(&FaultEvent)) {
        for e in &self.events {
            f(e);
        }
        self.events.clear();
    }

    /// The wrapped connector.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: Connector> Connector for FaultConnector<C> {
    type T = FaultLink<C::T>;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<Self::T>, TransportError> {
        Ok(self.inner.poll_connect(now)?.map(|t| {
            let plan: &[Fault] = self.plans.get(self.next).map_or(&[], |p| p.as_slice());
            self.next += 1;
            FaultLink::new(t, plan, self.max_msg)
        }))
    }

    fn on_closed(&mut self, link: &Self::T) {
        let s = link.stats();
        let c = &mut self.closed_stats;
        c.messages += s.messages;
        c.dropped += s.dropped;
        c.duplicated += s.duplicated;
        c.reordered += s.reordered;
        c.delayed += s.delayed;
        c.cuts += s.cuts;
        for e in link.events() {
            if self.events.len() < self.events.capacity() {
                self.events.push(*e);
            }
        }
        self.inner.on_closed(link.inner());
    }
}

/// The session a routed connection is for: the acceptor's own identifiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteKey {
    /// BeginString.
    pub begin_string: String,
    /// Our SenderCompID (the TargetCompID(56) of the peer's Logon).
    pub sender_comp_id: String,
    /// Our TargetCompID (the SenderCompID(49) of the peer's Logon).
    pub target_comp_id: String,
}

struct Route {
    key: RouteKey,
    to_session: rtrb::Producer<TcpStream>,
    busy: Arc<AtomicBool>,
}

struct PendingConn {
    stream: TcpStream,
    peer: Option<SocketAddr>,
    since: Nanos,
}

/// Counters of a [`Router`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections handed to a session.
    pub routed: u64,
    /// Dropped: the Logon named CompIDs of no session here.
    pub unknown: u64,
    /// Dropped: the first message was not a well-formed Logon (or the peer closed first).
    pub bad_logon: u64,
    /// Dropped: no Logon within the logon timeout.
    pub timeouts: u64,
    /// Dropped: the session already has a connection.
    pub busy: u64,
    /// Dropped: too many connections waiting for their Logon.
    pub overflow: u64,
}

/// Most connections waiting for their Logon at once (more are closed at once).
pub const MAX_PENDING: usize = 64;

/// Several acceptor sessions on one listening socket, chosen by the Logon's CompIDs (as
/// QuickFIX does): the first message of each accepted connection is peeked (`MSG_PEEK`, not
/// consumed) until it is complete; if it is a well-formed Logon whose BeginString,
/// SenderCompID(49) and TargetCompID(56) match a session (its BeginString, TargetCompID and
/// SenderCompID), the connection goes to that session's [`RoutedAcceptor`], which reads the
/// Logon itself. Anything else (unknown CompIDs, garbage, no Logon within the timeout, a
/// session that is already connected) is closed without an answer.
///
/// The router is an [`crate::Agent`]: it runs in the same loop as the sessions (shared mode) or
/// on the supervising thread (dedicated mode), doing its work (non-blocking `accept` and
/// `peek` calls) at most every [`ROUTER_POLL`]. It only touches connections that are not yet
/// logged on; at most [`MAX_PENDING`] wait for their Logon at once.
pub struct Router {
    name: String,
    listener: TcpListener,
    routes: Vec<Route>,
    pending: Vec<PendingConn>,
    peek: Box<[u8]>,
    logon_timeout: Nanos,
    events: Vec<String>,
    next_poll: Nanos,
    /// Counters.
    pub stats: RouterStats,
}

/// How often a [`Router`] accepts and looks at connections awaiting their Logon (it makes
/// system calls, so it does not run every duty cycle of a busy-polling thread).
pub const ROUTER_POLL: Nanos = 500_000;

/// The connector of one session behind a [`Router`]: wraps each connection the router hands
/// it in a [`UringTransport`].
pub struct RoutedAcceptor {
    from_router: rtrb::Consumer<TcpStream>,
    busy: Arc<AtomicBool>,
    opts: UringOptions,
}

impl Router {
    /// Listens on `addr` (non-blocking). `max_msg` bounds the Logon it waits for; a connection
    /// without a complete Logon after `logon_timeout` is closed.
    pub fn bind(
        addr: SocketAddr,
        max_msg: usize,
        logon_timeout: Duration,
    ) -> Result<Router, TransportError> {
        let listener =
            TcpListener::bind(addr).map_err(|e| TransportError::Io(format!("bind {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| TransportError::Io("O_NONBLOCK".into(), e))?;
        Ok(Router {
            name: format!("router-{addr}"),
            listener,
            routes: Vec::new(),
            pending: Vec::with_capacity(MAX_PENDING),
            peek: vec![0u8; max_msg.max(512)].into_boxed_slice(),
            logon_timeout: logon_timeout.as_nanos() as Nanos,
            events: Vec::with_capacity(64),
            next_poll: 0,
            stats: RouterStats::default(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound socket has an address")
    }

    /// Adds a session; its connections come out of the returned connector.
    pub fn add_session(&mut self, key: RouteKey, opts: UringOptions) -> RoutedAcceptor {
        let (p, c) = rtrb::RingBuffer::new(1);
        let busy = Arc::new(AtomicBool::new(false));
        self.routes.push(Route {
            key,
            to_session: p,
            busy: busy.clone(),
        });
        RoutedAcceptor {
            from_router: c,
            busy,
            opts,
        }
    }

    /// Hands over (and forgets) the routing decisions since the last call, one line each.
    pub fn take_events(&mut self, mut f: impl FnMut(&str)) {
        for e in &self.events {
            f(e);
        }
        self.events.clear();
    }

    fn event(&mut self, peer: Option<SocketAddr>, what: String) {
        if self.events.len() < self.events.capacity() {
            let peer = peer.map_or("?".to_string(), |p| p.to_string());
            self.events
                .push(format!("{}: connection from {peer} {what}", self.name));
        }
    }

    /// Decides what to do with a pending connection: `Some(Ok(route))` to route it,
    /// `Some(Err(why))` to drop it, `None` to wait for more bytes.
    fn classify(&mut self, i: usize, now: Nanos) -> Option<Result<usize, Reject>> {
        let p = &self.pending[i];
        let n = match p.stream.peek(&mut self.peek) {
            Ok(0) => return Some(Err(Reject::Bad("closed before its Logon".into()))),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return (now.saturating_sub(p.since) > self.logon_timeout)
                    .then_some(Err(Reject::Timeout));
            }
            Err(e) => return Some(Err(Reject::Bad(format!("failed: {e}")))),
        };
        let buf = &self.peek[..n];
        let len = match next_frame(buf, self.peek.len()) {
            Frame::Message(len) => len,
            Frame::Incomplete if n < self.peek.len() => {
                return (now.saturating_sub(p.since) > self.logon_timeout)
                    .then_some(Err(Reject::Timeout));
            }
            _ => {
                return Some(Err(Reject::Bad(
                    "sent a first message that is not FIX or is too long".into(),
                )))
            }
        };
        let msg = match fixcodec::Message::new_checked(&buf[..len]) {
            Ok(m) => m,
            Err(e) => return Some(Err(Reject::Bad(format!("sent a garbled Logon ({e:?})")))),
        };
        if msg.msg_type() != b"A" {
            return Some(Err(Reject::Bad(format!(
                "sent MsgType {} before Logon",
                printable(msg.msg_type())
            ))));
        }
        let (Some(their_sender), Some(their_target)) = (msg.get(49), msg.get(56)) else {
            return Some(Err(Reject::Bad(
                "sent a Logon without SenderCompID or TargetCompID".into(),
            )));
        };
        let begin = msg.begin_string();
        match self.routes.iter().position(|r| {
            r.key.begin_string.as_bytes() == begin
                && r.key.sender_comp_id.as_bytes() == their_target
                && r.key.target_comp_id.as_bytes() == their_sender
        }) {
            Some(r) => Some(Ok(r)),
            None => Some(Err(Reject::Unknown(format!(
                "{} 49={} 56={}",
                printable(begin),
                printable(their_sender),
                printable(their_target)
            )))),
        }
    }
}

/// Why the router closed a connection.
enum Reject {
    Unknown(String),
    Bad(String),
    Timeout,
}

/// At most 32 bytes of hostile input, printable.
fn printable(b: &[u8]) -> String {
    b.iter()
        .take(32)
        .map(|&c| {
            if c.is_ascii_graphic() {
                char::from(c)
            } else {
                '?'
            }
        })
        .collect()
}

impl crate::Agent for Router {
    fn name(&self) -> &str {
        &self.name
    }

    fn do_work(&mut self, now: Nanos) -> usize {
        if now < self.next_poll {
            return 0;
        }
        self.next_poll = now + ROUTER_POLL;
        let mut work = 0;
        // Accept everything pending (bounded per duty cycle).
        for _ in 0..16 {
            match self.listener.accept() {
                Ok((s, peer)) => {
                    work += 1;
                    self.stats.accepted += 1;
                    if self.pending.len() >= MAX_PENDING || s.set_nonblocking(true).is_err() {
                        self.stats.overflow += 1;
                        self.event(
                            Some(peer),
                            "dropped: too many connections awaiting Logon".into(),
                        );
                        continue;
                    }
                    self.pending.push(PendingConn {
                        stream: s,
                        peer: Some(peer),
                        since: now,
                    });
                }
                Err(_) => break,
            }
        }
        let mut i = 0;
        while i < self.pending.len() {
            let Some(decision) = self.classify(i, now) else {
                i += 1;
                continue;
            };
            work += 1;
            let p = self.pending.swap_remove(i);
            match decision {
                Ok(r) => {
                    let route = &mut self.routes[r];
                    let key = format!(
                        "{}:{}->{}",
                        route.key.begin_string, route.key.sender_comp_id, route.key.target_comp_id
                    );
                    if route.busy.load(Ordering::Acquire) {
                        self.stats.busy += 1;
                        self.event(p.peer, format!("dropped: {key} is already connected"));
                    } else if route.to_session.push(p.stream).is_err() {
                        self.stats.busy += 1;
                        self.event(p.peer, format!("dropped: {key} has a connection waiting"));
                    } else {
                        self.stats.routed += 1;
                        self.event(p.peer, format!("routed to {key}"));
                    }
                }
                Err(Reject::Unknown(ids)) => {
                    self.stats.unknown += 1;
                    self.event(p.peer, format!("dropped: no session for Logon {ids}"));
                }
                Err(Reject::Bad(why)) => {
                    self.stats.bad_logon += 1;
                    self.event(p.peer, format!("dropped: {why}"));
                }
                Err(Reject::Timeout) => {
                    self.stats.timeouts += 1;
                    self.event(p.peer, "dropped: no Logon within the logon timeout".into());
                }
            }
        }
        work
    }
}

impl Connector for RoutedAcceptor {
    type T = UringTransport;

    fn poll_connect(&mut self, _now: Nanos) -> Result<Option<UringTransport>, TransportError> {
        match self.from_router.pop() {
            Ok(s) => {
                let t = UringTransport::from_stream(s, self.opts)?;
                self.busy.store(true, Ordering::Release);
                Ok(Some(t))
            }
            Err(_) => Ok(None),
        }
    }

    fn on_closed(&mut self, _link: &UringTransport) {
        self.busy.store(false, Ordering::Release);
    }
}
