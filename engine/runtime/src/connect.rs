//! Connectors: how the IO agent obtains a connection (and a new one after a disconnect).

use crate::clock::Nanos;
use crate::transport::fault::{Fault, FaultEvent, FaultLink, FaultStats};
use crate::transport::memory::MemoryTransport;
use crate::transport::uring::{UringListener, UringOptions, UringTransport};
use crate::transport::{Transport, TransportError};
use std::net::SocketAddr;
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
pub struct UringInitiator {
    addr: SocketAddr,
    opts: UringOptions,
    retry: Nanos,
    next_try: Nanos,
    /// Connection attempts that failed.
    pub failures: u64,
    /// Last failure, for logs.
    pub last_error: Option<String>,
}

impl UringInitiator {
    /// Connects to `addr`; after a failure or a disconnect waits `retry` before the next attempt.
    pub fn new(addr: SocketAddr, opts: UringOptions, retry: Duration) -> Self {
        UringInitiator {
            addr,
            opts,
            retry: retry.as_nanos() as Nanos,
            next_try: 0,
            failures: 0,
            last_error: None,
        }
    }
}

impl Connector for UringInitiator {
    type T = UringTransport;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<UringTransport>, TransportError> {
        if now < self.next_try {
            return Ok(None);
        }
        match UringTransport::connect(self.addr, Duration::from_millis(500), self.opts) {
            Ok(t) => Ok(Some(t)),
            Err(e @ TransportError::Unavailable(_)) => Err(e),
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.to_string());
                self.next_try = now + self.retry;
                Ok(None)
            }
        }
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
