//! Measure 3's send-side probe: application send -> bytes handed to the transport.
//!
//! The runtime has no send-side timestamp of its own, so the bench wraps the two ends:
//!
//! * [`ProbeApp`] wraps `fixeng::apps::LoadApp` and stamps, in a shared table indexed by order
//!   number, the clock reading taken just before `LoadApp::poll` queues new orders into the
//!   application ring (the "application send");
//! * [`ProbeConnector`] wraps the initiator's connector; its [`ProbeLink`] transport looks, in
//!   every chunk of bytes the IO agent copies into the transport's transmit space, for the
//!   orders' ClOrdID (`11=O<n>`) and records (clock now - stamp of order n).
//!
//! Both ends read the same `fixeng::clock::Clock` (same epoch), so the stamps compare across
//! threads (dedicated mode). The table is lock-free (one `AtomicU64` per order slot). The scan
//! costs the IO agent a `memmem` over each sent chunk (~150 bytes per order); it is counted in
//! every engine latency the probe is attached to.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fixeng::apps::LoadApp;
use fixeng::clock::{Clock, Nanos};
use fixeng::connect::Connector;
use fixeng::pipeline::{AppLogic, AppOut, Delivery};
use fixeng::transport::{Capabilities, LinkState, Transport, TransportError};
use hdrhistogram::Histogram;

use crate::report::histogram;

/// Send stamps by order number (slot `n % len`), plus the first order number to record.
pub struct Stamps {
    slots: Vec<AtomicU64>,
    /// Orders below this number are not recorded (warm-up); nothing is recorded until the
    /// caller sets it.
    pub measure_from: AtomicU32,
    /// Send-side latencies recorded by closed links (ns).
    pub done: Mutex<Histogram<u64>>,
}

impl Stamps {
    /// A table of `len` slots (at least the maximum number of orders in flight).
    pub fn new(len: usize) -> Arc<Stamps> {
        Arc::new(Stamps {
            slots: (0..len.max(1)).map(|_| AtomicU64::new(0)).collect(),
            measure_from: AtomicU32::new(u32::MAX),
            done: Mutex::new(histogram()),
        })
    }

    fn set(&self, n: u32, t: Nanos) {
        self.slots[n as usize % self.slots.len()].store(t, Ordering::Release);
    }

    fn get(&self, n: u32) -> Nanos {
        self.slots[n as usize % self.slots.len()].load(Ordering::Acquire)
    }

    /// The send-side histogram so far (closed links only).
    pub fn send_hist(&self) -> Histogram<u64> {
        self.done
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| histogram())
    }
}

/// `LoadApp` with a send stamp per order.
pub struct ProbeApp {
    /// The load generator.
    pub inner: LoadApp,
    stamps: Arc<Stamps>,
    clock: Clock,
}

impl ProbeApp {
    /// Wraps `inner`; stamps with `clock` into `stamps`.
    pub fn new(inner: LoadApp, stamps: Arc<Stamps>, clock: Clock) -> ProbeApp {
        ProbeApp {
            inner,
            stamps,
            clock,
        }
    }
}

impl AppLogic for ProbeApp {
    fn on_message(&mut self, now: Nanos, msg: &[u8], d: &Delivery, out: &mut AppOut<'_>) {
        self.inner.on_message(now, msg, d, out);
    }
    fn on_logon(&mut self, now: Nanos) {
        self.inner.on_logon(now);
    }
    fn on_logout(&mut self, now: Nanos) {
        self.inner.on_logout(now);
    }
    fn poll(&mut self, now: Nanos, logged_on: bool, out: &mut AppOut<'_>) -> usize {
        let before = self.inner.sent;
        let t = self.clock.now();
        let w = self.inner.poll(now, logged_on, out);
        for n in before + 1..=self.inner.sent {
            self.stamps.set(n, t);
        }
        w
    }
    fn is_done(&self) -> bool {
        self.inner.is_done()
    }
}

/// A connector whose links record the send-side latency.
pub struct ProbeConnector<C> {
    inner: C,
    stamps: Arc<Stamps>,
    clock: Clock,
}

impl<C> ProbeConnector<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, stamps: Arc<Stamps>, clock: Clock) -> Self {
        ProbeConnector {
            inner,
            stamps,
            clock,
        }
    }
}

impl<C: Connector> Connector for ProbeConnector<C> {
    type T = ProbeLink<C::T>;

    fn poll_connect(&mut self, now: Nanos) -> Result<Option<Self::T>, TransportError> {
        Ok(self.inner.poll_connect(now)?.map(|t| ProbeLink {
            inner: t,
            stamps: self.stamps.clone(),
            clock: self.clock,
            hist: histogram(),
        }))
    }

    fn on_closed(&mut self, link: &Self::T) {
        self.inner.on_closed(&link.inner);
    }
}

/// A transport that records, for every order it is handed, the time since the application
/// queued it. Its histogram is merged into [`Stamps::done`] when the link is dropped.
pub struct ProbeLink<T> {
    inner: T,
    stamps: Arc<Stamps>,
    clock: Clock,
    hist: Histogram<u64>,
}

/// Calls `f(n)` for every `11=O<n>` field in `bytes`.
pub fn scan_orders(bytes: &[u8], mut f: impl FnMut(u32)) {
    for at in memchr::memmem::find_iter(bytes, b"\x0111=O") {
        let digits = &bytes[at + 5..];
        let mut n = 0u32;
        let mut k = 0;
        while k < digits.len() && k < 10 && digits[k].is_ascii_digit() {
            n = n.wrapping_mul(10).wrapping_add(u32::from(digits[k] - b'0'));
            k += 1;
        }
        if k > 0 && digits.get(k) == Some(&1) {
            f(n);
        }
    }
}

impl<T: Transport> Transport for ProbeLink<T> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn state(&self) -> LinkState {
        self.inner.state()
    }
    fn poll(&mut self, now: Nanos) -> usize {
        self.inner.poll(now)
    }
    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        self.inner.recv(f)
    }
    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        let (stamps, clock, hist) = (&self.stamps, &self.clock, &mut self.hist);
        self.inner.send(|buf| {
            let (n, r) = f(buf);
            let n = n.min(buf.len());
            if n > 0 {
                let now = clock.now();
                let from = stamps.measure_from.load(Ordering::Relaxed);
                scan_orders(&buf[..n], |k| {
                    let t = stamps.get(k);
                    if k >= from && t > 0 && now >= t {
                        let _ = hist.record((now - t).max(1));
                    }
                });
            }
            (n, r)
        })
    }
    fn send_queued(&self) -> usize {
        self.inner.send_queued()
    }
    fn close(&mut self) {
        self.inner.close()
    }
}

impl<T> Drop for ProbeLink<T> {
    fn drop(&mut self) {
        if let Ok(mut h) = self.stamps.done.lock() {
            let _ = h.add(&self.hist);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_every_order() {
        let mut got = Vec::new();
        let b = b"8=FIX.4.4\x019=10\x0135=D\x0111=O17\x0155=X\x01|\x0111=O4294967295\x01\x0111=O9\x0111=O12";
        scan_orders(b, |n| got.push(n));
        // The last one is cut (no SOH after the digits): skipped.
        assert_eq!(got, vec![17, 4_294_967_295, 9]);
        got.clear();
        scan_orders(b"\x0111=OX\x01\x0111=Q1\x01", |n| got.push(n));
        assert!(got.is_empty());
    }

    #[test]
    fn stamps_wrap_by_slot() {
        let s = Stamps::new(4);
        s.set(1, 10);
        s.set(5, 50);
        assert_eq!(s.get(1), 50);
        assert_eq!(s.get(2), 0);
    }
}
