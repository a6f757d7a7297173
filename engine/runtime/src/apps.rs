//! Built-in applications: `echo` (answers every NewOrderSingle with an ExecutionReport) and
//! `load` (sends NewOrderSingles at a rate and measures round trips). Both check that orders
//! and reports arrive exactly once and in order.

use crate::clock::Nanos;
use crate::msg::fmt_u32;
use crate::pipeline::{AppLogic, AppOut, Delivery};
use crate::transport::framing::{field, msg_type, parse_u32};
use hdrhistogram::Histogram;

/// Writes `tag=value\x01` fields into a fixed buffer.
pub struct FieldWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> FieldWriter<'a> {
    /// Writes into `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        FieldWriter {
            buf,
            len: 0,
            overflow: false,
        }
    }

    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.overflow = true;
            return;
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    /// Appends `tag=value\x01`.
    pub fn field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        let mut t = [0u8; 10];
        let n = fmt_u32(tag, &mut t);
        self.put(&t[..n]);
        self.put(b"=");
        self.put(value);
        self.put(b"\x01");
        self
    }

    /// Appends an integer field.
    pub fn field_u32(&mut self, tag: u32, v: u32) -> &mut Self {
        let mut d = [0u8; 10];
        let n = fmt_u32(v, &mut d);
        self.field(tag, &d[..n])
    }

    /// The bytes written, or `None` if they did not fit.
    pub fn finish(&self) -> Option<&[u8]> {
        (!self.overflow).then_some(&self.buf[..self.len])
    }
}

/// ClOrdID of order `n` is `O<n>`; returns `n`.
fn order_no(cl_ord_id: &[u8]) -> Option<u32> {
    cl_ord_id.strip_prefix(b"O").and_then(parse_u32)
}

/// Answers each NewOrderSingle (35=D) with an ExecutionReport (35=8, New) carrying its ClOrdID,
/// and checks that orders `O1, O2, ...` arrive exactly once and in order.
#[derive(Debug, Default)]
pub struct EchoApp {
    /// Orders received.
    pub orders: u64,
    /// Next expected order number.
    pub next_order: u32,
    /// Orders out of sequence (duplicated, missing or reordered): must stay 0.
    pub anomalies: u64,
    /// Other application messages received.
    pub other: u64,
    /// Answers that could not be queued (ring full).
    pub answer_failures: u64,
    buf: Vec<u8>,
}

impl EchoApp {
    /// A fresh echo application.
    pub fn new() -> Self {
        EchoApp {
            next_order: 1,
            buf: vec![0; 1024],
            ..Default::default()
        }
    }
}

impl AppLogic for EchoApp {
    fn on_message(&mut self, _now: Nanos, msg: &[u8], _d: &Delivery, out: &mut AppOut<'_>) {
        if msg_type(msg) != Some(b"D") {
            self.other += 1;
            return;
        }
        self.orders += 1;
        let id = field(msg, 11).unwrap_or(b"");
        match order_no(id) {
            Some(n) if n == self.next_order => self.next_order += 1,
            _ => self.anomalies += 1,
        }
        let mut w = FieldWriter::new(&mut self.buf);
        w.field_u32(37, self.orders as u32)
            .field(11, id)
            .field_u32(17, self.orders as u32)
            .field(150, b"0")
            .field(39, b"0")
            .field(55, field(msg, 55).unwrap_or(b"?"))
            .field(54, field(msg, 54).unwrap_or(b"1"))
            .field(38, field(msg, 38).unwrap_or(b"0"))
            .field(151, field(msg, 38).unwrap_or(b"0"))
            .field(14, b"0")
            .field(6, b"0");
        let ok = match w.finish() {
            Some(body) => out.send(b"8", body),
            None => false,
        };
        if !ok {
            self.answer_failures += 1;
        }
    }
}

/// Sends `count` NewOrderSingles `O<first>..O<count>` at `rate` per second (0 = as fast as the
/// window allows) with at most `window` unanswered, and measures each round trip to its
/// ExecutionReport. Checks that reports arrive exactly once and in order.
pub struct LoadApp {
    /// Orders to send in total.
    pub count: u32,
    /// Orders per second (0 = unthrottled).
    pub rate: u64,
    /// Maximum orders awaiting their report.
    pub window: u32,
    /// Orders sent (the last order number sent).
    pub sent: u32,
    /// Reports received in order (the last order number acknowledged).
    pub acked: u32,
    /// Reports out of sequence (duplicated, missing or reordered): must stay 0.
    pub anomalies: u64,
    /// Round trip order -> report, ns.
    pub rtt: Histogram<u64>,
    /// Inside the engine: bytes received by the IO agent -> report delivered to the app, ns.
    pub internal: Histogram<u64>,
    /// Sending paused (tests use it to stop cleanly before a restart).
    pub paused: bool,
    send_time: Vec<Nanos>,
    start: Option<Nanos>,
    start_sent: u32,
    /// Time of the last report.
    pub last_ack_at: Nanos,
    /// When sending started.
    pub started_at: Nanos,
    buf: Vec<u8>,
}

impl LoadApp {
    /// A load generator for orders 1..=count.
    pub fn new(count: u32, rate: u64) -> Self {
        LoadApp {
            count,
            rate,
            window: 256,
            sent: 0,
            acked: 0,
            anomalies: 0,
            rtt: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
            internal: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds"),
            paused: false,
            send_time: vec![0; count as usize + 1],
            start: None,
            start_sent: 0,
            last_ack_at: 0,
            started_at: 0,
            buf: vec![0; 512],
        }
    }

    /// Continues the work of `prev` (after a restart): same counters, next order after
    /// `prev.sent`.
    pub fn resume(prev: LoadApp) -> Self {
        LoadApp {
            paused: false,
            start: None,
            ..prev
        }
    }

    /// True when every order was sent and acknowledged.
    pub fn complete(&self) -> bool {
        self.acked == self.count
    }
}

impl AppLogic for LoadApp {
    fn on_message(&mut self, now: Nanos, msg: &[u8], d: &Delivery, _out: &mut AppOut<'_>) {
        if msg_type(msg) != Some(b"8") {
            return;
        }
        match field(msg, 11).and_then(order_no) {
            Some(n) if n == self.acked + 1 && n <= self.sent => {
                self.acked = n;
                let t = self.send_time[n as usize];
                if t > 0 && now >= t {
                    let _ = self.rtt.record((now - t).max(1));
                }
                // In dedicated mode the IO thread may stamp a report after this thread read its
                // clock for the duty cycle (`now < rx_time`): the report was delivered at once,
                // so it counts as the smallest latency rather than being left out (which would
                // drop exactly the fastest deliveries from the distribution).
                if d.rx_time > 0 {
                    let _ = self.internal.record(now.saturating_sub(d.rx_time).max(1));
                }
                self.last_ack_at = now;
            }
            _ => self.anomalies += 1,
        }
    }

    fn poll(&mut self, now: Nanos, logged_on: bool, out: &mut AppOut<'_>) -> usize {
        if !logged_on || self.paused || self.sent >= self.count {
            return 0;
        }
        if self.start.is_none() {
            self.start = Some(now);
            self.start_sent = self.sent;
        }
        let start = self.start.unwrap_or(now);
        if self.started_at == 0 {
            self.started_at = now;
        }
        let mut work = 0;
        while self.sent < self.count && self.sent - self.acked < self.window {
            // Order k (counted from this start) is due at start + k / rate.
            let k = u64::from(self.sent - self.start_sent);
            if let Some(after) = (k * 1_000_000_000).checked_div(self.rate) {
                if now < start + after {
                    break;
                }
            }
            let n = self.sent + 1;
            let mut id = [b'O'; 11];
            let mut d = [0u8; 10];
            let k = fmt_u32(n, &mut d);
            id[1..1 + k].copy_from_slice(&d[..k]);
            let mut w = FieldWriter::new(&mut self.buf);
            w.field(11, &id[..1 + k])
                .field(55, b"EUR/USD")
                .field(54, b"1")
                .field(38, b"100")
                .field(40, b"2")
                .field(44, b"1.2345");
            let Some(body) = w.finish() else { break };
            if !out.can_send(body.len()) || !out.send(b"D", body) {
                break;
            }
            self.sent = n;
            self.send_time[n as usize] = now;
            work += 1;
        }
        work
    }

    fn is_done(&self) -> bool {
        false
    }
}
