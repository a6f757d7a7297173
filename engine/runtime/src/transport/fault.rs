//! Fault-injection middleware: wraps ANY [`Transport`] and drops, duplicates, reorders or delays
//! chosen FIX messages, or cuts the connection, in either direction.
//!
//! It finds message boundaries with [`super::framing::next_frame`], so every fault acts on whole
//! messages: a cut delivers every message before the chosen one and nothing after. Bytes that do
//! not frame pass through untouched. Buffers are allocated at construction; the data path does
//! not allocate (the event log is pre-sized and stops recording when full).

use super::framing::{self, Frame};
use super::{Capabilities, CloseReason, LinkState, Transport};
use crate::bytes::ByteQueue;
use crate::clock::Nanos;

/// Which way a fault acts, seen from the wrapped end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Messages this end sends.
    Tx,
    /// Messages this end receives.
    Rx,
}

/// Which messages a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// The n-th message in that direction (1-based, counting every message), once.
    Nth(u64),
    /// The first message carrying MsgSeqNum(34) = n and no PossDupFlag(43)=Y, once.
    Seq(u32),
    /// Each application message (not admin, not PossDup) with probability `per_million`/10^6,
    /// from a seeded generator (reproducible).
    Random {
        /// Probability in millionths.
        per_million: u32,
        /// Generator seed.
        seed: u64,
    },
}

/// What happens to a selected message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The message vanishes.
    Drop,
    /// The message is delivered twice.
    Duplicate,
    /// The message is held back and delivered after the next `n` messages (reorder).
    Reorder(u32),
    /// The message is held back for this many nanoseconds (later messages overtake it).
    Delay(Nanos),
    /// The connection is cut just before this message.
    Cut,
}

/// One fault rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Direction.
    pub dir: Direction,
    /// Selection.
    pub select: Select,
    /// Action.
    pub action: Action,
}

impl Fault {
    /// A rule.
    pub const fn new(dir: Direction, select: Select, action: Action) -> Fault {
        Fault {
            dir,
            select,
            action,
        }
    }
}

/// One injected fault, for logs and the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    /// Direction.
    pub dir: Direction,
    /// What was done.
    pub action: Action,
    /// MsgSeqNum of the message (0 if none).
    pub seq: u32,
    /// When.
    pub at: Nanos,
}

/// Counters of injected faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Messages seen (both directions).
    pub messages: u64,
    /// Dropped.
    pub dropped: u64,
    /// Duplicated.
    pub duplicated: u64,
    /// Reordered.
    pub reordered: u64,
    /// Delayed.
    pub delayed: u64,
    /// Cuts.
    pub cuts: u64,
}

struct Rule {
    fault: Fault,
    fired: bool,
    rng: u64,
}

struct Held {
    used: bool,
    /// Released after this many further messages (`u32::MAX`: time-based only).
    after: u32,
    /// Released at this time (`Nanos::MAX`: count-based only).
    at: Nanos,
    len: usize,
    buf: Box<[u8]>,
}

struct Pipe {
    dir: Direction,
    inq: ByteQueue,
    outq: ByteQueue,
    held: Vec<Held>,
    count: u64,
    cut: bool,
}

impl Pipe {
    fn new(dir: Direction, cap: usize, max_msg: usize, slots: usize) -> Pipe {
        Pipe {
            dir,
            inq: ByteQueue::new(cap),
            outq: ByteQueue::new(cap),
            held: (0..slots)
                .map(|_| Held {
                    used: false,
                    after: 0,
                    at: 0,
                    len: 0,
                    buf: vec![0u8; max_msg].into_boxed_slice(),
                })
                .collect(),
            count: 0,
            cut: false,
        }
    }

    fn release_timed(&mut self, now: Nanos) -> usize {
        let mut n = 0;
        for i in 0..self.held.len() {
            let h = &self.held[i];
            if h.used && h.at <= now && self.outq.free() >= h.len {
                let len = h.len;
                let h = &mut self.held[i];
                h.used = false;
                self.outq.push(&h.buf[..len]);
                n += 1;
            }
        }
        n
    }

    /// Counts one passed message towards count-based releases.
    fn tick_held(&mut self) {
        for i in 0..self.held.len() {
            if self.held[i].used && self.held[i].after != u32::MAX {
                self.held[i].after = self.held[i].after.saturating_sub(1);
                if self.held[i].after == 0 {
                    let h = &mut self.held[i];
                    h.used = false;
                    // Space was reserved by the caller (free >= 3 * max_msg).
                    self.outq.push(&h.buf[..h.len]);
                }
            }
        }
    }

    /// Frames and filters `inq` into `outq`. Returns messages processed.
    fn process(
        &mut self,
        rules: &mut [Rule],
        stats: &mut FaultStats,
        log: &mut Vec<FaultEvent>,
        max_msg: usize,
        now: Nanos,
    ) -> usize {
        let mut work = self.release_timed(now);
        while !self.cut && self.outq.free() >= 3 * max_msg {
            let frame = framing::next_frame(self.inq.readable(), max_msg);
            let len = match frame {
                Frame::Incomplete => break,
                Frame::Garbage(n) => {
                    let g = &self.inq.readable()[..n];
                    let pushed = self.outq.push(g);
                    self.inq.consume(pushed);
                    work += 1;
                    continue;
                }
                Frame::Message(len) => len,
            };
            work += 1;
            self.count += 1;
            stats.messages += 1;
            let msg = &self.inq.readable()[..len];
            let seq = framing::seq_num(msg).unwrap_or(0);
            let poss_dup = framing::field(msg, 43) == Some(b"Y");
            let admin = framing::msg_type(msg).is_none_or(framing::is_admin);
            let mut action = None;
            for r in rules.iter_mut().filter(|r| r.fault.dir == self.dir) {
                let hit = match r.fault.select {
                    Select::Nth(n) => !r.fired && self.count == n,
                    Select::Seq(s) => !r.fired && seq == s && !poss_dup,
                    Select::Random { per_million, .. } => {
                        // xorshift64*
                        r.rng ^= r.rng >> 12;
                        r.rng ^= r.rng << 25;
                        r.rng ^= r.rng >> 27;
                        let x = r.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
                        !admin && !poss_dup && (x >> 32) % 1_000_000 < u64::from(per_million)
                    }
                };
                if hit {
                    r.fired = true;
                    action = Some(r.fault.action);
                    break;
                }
            }
            let held_free = self.held.iter().position(|h| !h.used);
            let action = match (action, held_free) {
                // No free slot to hold it: deliver in order instead.
                (Some(Action::Reorder(_) | Action::Delay(_)), None) => None,
                (a, _) => a,
            };
            if let Some(a) = action {
                if log.len() < log.capacity() {
                    log.push(FaultEvent {
                        dir: self.dir,
                        action: a,
                        seq,
                        at: now,
                    });
                }
            }
            match action {
                None => {
                    self.outq.push(msg);
                    self.inq.consume(len);
                    self.tick_held();
                }
                Some(Action::Drop) => {
                    stats.dropped += 1;
                    self.inq.consume(len);
                }
                Some(Action::Duplicate) => {
                    stats.duplicated += 1;
                    self.outq.push(msg);
                    self.outq.push(msg);
                    self.inq.consume(len);
                    self.tick_held();
                }
                Some(a @ (Action::Reorder(_) | Action::Delay(_))) => {
                    let slot = held_free.unwrap_or(0);
                    let h = &mut self.held[slot];
                    h.used = true;
                    h.len = len;
                    h.buf[..len].copy_from_slice(msg);
                    if let Action::Reorder(k) = a {
                        stats.reordered += 1;
                        h.after = k.max(1);
                        h.at = Nanos::MAX;
                    } else if let Action::Delay(d) = a {
                        stats.delayed += 1;
                        h.after = u32::MAX;
                        h.at = now.saturating_add(d);
                    }
                    self.inq.consume(len);
                }
                Some(Action::Cut) => {
                    stats.cuts += 1;
                    self.cut = true;
                    self.inq.clear();
                }
            }
        }
        work
    }
}

/// Fault-injection middleware around a transport `T`.
pub struct FaultLink<T: Transport> {
    inner: T,
    rules: Vec<Rule>,
    tx: Pipe,
    rx: Pipe,
    stats: FaultStats,
    log: Vec<FaultEvent>,
    max_msg: usize,
    cut_done: bool,
}

impl<T: Transport> FaultLink<T> {
    /// Wraps `inner` with the given rules. Messages up to `max_msg` bytes are framed (longer
    /// ones pass through as unframed bytes); up to 64 messages can be held back at once.
    pub fn new(inner: T, faults: &[Fault], max_msg: usize) -> FaultLink<T> {
        let cap = (inner.capabilities().send_buffer.max(16 * max_msg)).max(1 << 16);
        FaultLink {
            inner,
            rules: faults
                .iter()
                .map(|f| Rule {
                    fault: *f,
                    fired: false,
                    rng: match f.select {
                        Select::Random { seed, .. } => seed | 1,
                        _ => 1,
                    },
                })
                .collect(),
            tx: Pipe::new(Direction::Tx, cap, max_msg, 64),
            rx: Pipe::new(Direction::Rx, cap, max_msg, 64),
            stats: FaultStats::default(),
            log: Vec::with_capacity(4096),
            max_msg,
            cut_done: false,
        }
    }

    /// Counters of injected faults.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    /// The injected faults so far (the first 4096).
    pub fn events(&self) -> &[FaultEvent] {
        &self.log
    }

    /// Removes and returns the logged events (for a consumer that prints them as they happen).
    pub fn take_events(&mut self, mut f: impl FnMut(&FaultEvent)) {
        for e in &self.log {
            f(e);
        }
        self.log.clear();
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped transport, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    fn pump_tx(&mut self) -> usize {
        let mut work = 0;
        while !self.tx.outq.is_empty() {
            let data = self.tx.outq.readable();
            let n = self.inner.send_bytes(data);
            if n == 0 {
                break;
            }
            self.tx.outq.consume(n);
            work += 1;
        }
        work
    }
}

impl<T: Transport> Transport for FaultLink<T> {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            name: "fault",
            max_recv_view: self.rx.outq.capacity(),
            send_buffer: self.tx.inq.capacity(),
            zero_copy_recv: false,
        }
    }

    fn state(&self) -> LinkState {
        if self.cut_done && self.rx.outq.is_empty() {
            return LinkState::Closed(CloseReason::Cut);
        }
        match self.inner.state() {
            LinkState::Closed(r) if self.rx.outq.is_empty() => LinkState::Closed(r),
            LinkState::Closed(_) => LinkState::Open,
            s => s,
        }
    }

    fn poll(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        // Transmit side: frame what the user wrote, filter, hand to the inner transport.
        work += self.tx.process(
            &mut self.rules,
            &mut self.stats,
            &mut self.log,
            self.max_msg,
            now,
        );
        work += self.pump_tx();
        work += self.inner.poll(now);
        // Receive side: pull from the inner transport, frame, filter.
        if !self.rx.cut {
            let rxq = &mut self.rx.inq;
            work += self.inner.recv(|buf| {
                let n = rxq.push(buf);
                (n, usize::from(n > 0))
            });
        }
        work += self.rx.process(
            &mut self.rules,
            &mut self.stats,
            &mut self.log,
            self.max_msg,
            now,
        );
        if (self.tx.cut && self.tx.outq.is_empty() && self.inner.send_queued() == 0 || self.rx.cut)
            && !self.cut_done
        {
            self.cut_done = true;
            self.inner.close();
            self.tx.inq.clear();
            self.tx.outq.clear();
            work += 1;
        }
        if self.cut_done {
            // Drive the inner close.
            work += self.inner.poll(now);
        }
        work
    }

    fn recv<R>(&mut self, f: impl FnOnce(&[u8]) -> (usize, R)) -> R {
        let data = self.rx.outq.readable();
        let (n, r) = f(data);
        self.rx.outq.consume(n);
        r
    }

    fn send<R>(&mut self, f: impl FnOnce(&mut [u8]) -> (usize, R)) -> R {
        if self.tx.cut || self.cut_done || self.inner.is_closed() {
            return f(&mut []).1;
        }
        let w = self.tx.inq.writable(true);
        let (n, r) = f(w);
        let n = n.min(w.len());
        self.tx.inq.commit(n);
        r
    }

    fn send_queued(&self) -> usize {
        self.tx.inq.len() + self.tx.outq.len() + self.inner.send_queued()
    }

    fn close(&mut self) {
        // Flush what can be flushed, then close the inner transport.
        self.pump_tx();
        self.inner.close();
    }
}
