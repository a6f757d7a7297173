//! The agents of one FIX session's data path and the rings between them:
//!
//! ```text
//!            rx ring            verdict ring            deliver ring
//! [IoAgent] ---------> [SequencerAgent] ------> [SessionAgent] ------> [AppAgent]
//!     ^                      ^    ctl ring (ops)   |      ^    app ring (sends) |
//!     |                      +---------------------+      +---------------------+
//!     +-------------------- tx ring (bytes, close) --------+
//! ```
//!
//! Every ring is an SPSC [`crate::ring`] record ring; a full ring stops the producer (it retries
//! on its next duty cycle), nothing is dropped. Connection changes travel in order with the bytes
//! (Connected / Disconnected records carry a connection number); bytes queued for an old
//! connection are discarded by the IO agent, never sent on a new one.

use crate::agent::Agent;
use crate::clock::Nanos;
use crate::connect::Connector;
use crate::ring::{record_ring, record_size, RecordConsumer, RecordProducer};
use crate::transport::{CloseReason, LinkState, Transport, TransportError};
use fixsession::app::{Application, DeliverInfo, Responder};
use fixsession::session::{
    DisconnectReason, Event, SequencerOp, Session, SessionConfig, SessionOutput,
};
use fixsession::store::MessageStore;
use hwsim::fast::FastPath;
use hwsim::sequencer::Sequencer;
use hwsim::Verdict;

/// Record kinds.
pub mod kind {
    /// Bytes. rx: receive time (u64) then the bytes; tx: the bytes, aux = connection number.
    pub const DATA: u16 = 1;
    /// A connection is up. Payload: connection number (u32).
    pub const CONNECTED: u16 = 2;
    /// The connection is gone. Payload: connection number (u32), close code (i32).
    pub const DISCONNECTED: u16 = 3;
    /// tx: close the connection. aux = connection number.
    pub const CLOSE: u16 = 4;
    /// A received message and its verdict. Payload: rx time (u64), verdict (32 bytes), message.
    pub const VERDICT: u16 = 10;
    /// Sequencer op: set expected (u32).
    pub const OP_SET_EXPECTED: u16 = 20;
    /// Sequencer op: clear window.
    pub const OP_CLEAR_WINDOW: u16 = 21;
    /// Sequencer op: reset stream.
    pub const OP_RESET_STREAM: u16 = 22;
    /// Sequencer: ops for the new connection are complete, resume.
    pub const OP_RESUME: u16 = 23;
    /// To the application: one message. Payload: seq u32, flags u32, rx time u64, message.
    pub const DELIVER: u16 = 30;
    /// To the application: logged on.
    pub const LOGON: u16 = 31;
    /// To the application: logged out / disconnected.
    pub const LOGOUT: u16 = 32;
    /// From the application: send. Payload: msg_type length u8, msg_type, body fields.
    pub const SEND: u16 = 40;
    /// From the application: log out. Payload: text.
    pub const LOGOUT_REQ: u16 = 41;
}

/// Largest bytes per received data record.
pub const RX_CHUNK: usize = 16 * 1024;

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

fn close_code(s: LinkState) -> i32 {
    match s {
        LinkState::Closed(CloseReason::Local) => -1,
        LinkState::Closed(CloseReason::Peer) => -2,
        LinkState::Closed(CloseReason::Cut) => -3,
        LinkState::Closed(CloseReason::Error(e)) => e,
        _ => 0,
    }
}

/// Describes a close code carried in a Disconnected record.
pub fn describe_close(code: i32) -> String {
    match code {
        -1 => CloseReason::Local.to_string(),
        -2 => CloseReason::Peer.to_string(),
        -3 => CloseReason::Cut.to_string(),
        e => CloseReason::Error(e).to_string(),
    }
}

/// Counters of the IO agent.
#[derive(Clone, Copy, Debug, Default)]
pub struct IoStats {
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes handed to the transport.
    pub bytes_out: u64,
    /// Connections established.
    pub connects: u64,
    /// Connections lost or closed.
    pub disconnects: u64,
    /// Stale tx bytes discarded (queued for a connection that had closed).
    pub stale_discarded: u64,
}

/// Receive and send: owns the transport, moves bytes between it and the rings.
///
/// Receive and send share one agent because a poll-mode transport (an io_uring with
/// `SINGLE_ISSUER`, a smoltcp interface) is driven by exactly one thread.
pub struct IoAgent<C: Connector> {
    name: String,
    connector: C,
    link: Option<C::T>,
    conn: u32,
    rx: RecordProducer,
    tx: RecordConsumer,
    tx_off: usize,
    pending_disc: Option<(u32, i32)>,
    pending_conn: bool,
    fatal: Option<String>,
    stopping: bool,
    /// Counters.
    pub stats: IoStats,
}

impl<C: Connector> IoAgent<C> {
    /// The connector.
    pub fn connector(&self) -> &C {
        &self.connector
    }

    /// The connector, mutably.
    pub fn connector_mut(&mut self) -> &mut C {
        &mut self.connector
    }

    /// The current connection.
    pub fn link(&self) -> Option<&C::T> {
        self.link.as_ref()
    }

    /// The current connection, mutably (tests use it to cut a link).
    pub fn link_mut(&mut self) -> Option<&mut C::T> {
        self.link.as_mut()
    }

    /// A fatal connector error (e.g. io_uring unavailable); the agent is done.
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// Stop accepting or making connections (the current one stays until it closes).
    pub fn stop_connecting(&mut self) {
        self.stopping = true;
    }

    fn drop_link(&mut self) {
        if let Some(t) = self.link.take() {
            self.connector.on_closed(&t);
            self.pending_disc = Some((self.conn, close_code(t.state())));
            self.stats.disconnects += 1;
            self.tx_off = 0;
        }
    }
}

impl<C: Connector> Agent for IoAgent<C> {
    fn name(&self) -> &str {
        &self.name
    }

    fn do_work(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        if let Some((conn, code)) = self.pending_disc {
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&conn.to_le_bytes());
            p[4..].copy_from_slice(&code.to_le_bytes());
            if !self.rx.push(kind::DISCONNECTED, 0, &[&p]) {
                return 0;
            }
            self.pending_disc = None;
            work += 1;
        }
        if self.pending_conn {
            if !self
                .rx
                .push(kind::CONNECTED, 0, &[&self.conn.to_le_bytes()])
            {
                return work;
            }
            self.pending_conn = false;
            work += 1;
        }
        let conn16 = self.conn as u16;
        let Some(t) = self.link.as_mut() else {
            // Discard tx records of closed connections.
            while self
                .tx
                .pop(|_, _, d| self.stats.stale_discarded += d.len() as u64)
            {
                work += 1;
            }
            if self.stopping || self.fatal.is_some() {
                return work;
            }
            match self.connector.poll_connect(now) {
                Ok(Some(t)) => {
                    self.link = Some(t);
                    self.conn += 1;
                    self.stats.connects += 1;
                    self.pending_conn = true;
                    work += 1;
                }
                Ok(None) => {}
                Err(e) => self.fatal = Some(e.to_string()),
            }
            return work;
        };
        work += t.poll(now);
        // Receive: move bytes into the rx ring while it has room.
        while self.rx.fits(RX_CHUNK + 8) {
            let rx = &mut self.rx;
            let n = t.recv(|buf| {
                let n = buf.len().min(RX_CHUNK);
                if n > 0 {
                    rx.push(kind::DATA, 0, &[&now.to_le_bytes(), &buf[..n]]);
                }
                (n, n)
            });
            if n == 0 {
                break;
            }
            self.stats.bytes_in += n as u64;
            work += 1;
        }
        // Send: move tx records into the transport.
        let mut close = false;
        let mut sent = 0;
        loop {
            let tx_off = &mut self.tx_off;
            let stats = &mut self.stats;
            let r = self.tx.peek(|k, aux, d| {
                if aux != conn16 {
                    stats.stale_discarded += d.len() as u64;
                    return true;
                }
                match k {
                    kind::DATA => {
                        let n = t.send_bytes(&d[*tx_off..]);
                        *tx_off += n;
                        stats.bytes_out += n as u64;
                        sent += n;
                        if *tx_off == d.len() {
                            *tx_off = 0;
                            true
                        } else {
                            false
                        }
                    }
                    kind::CLOSE => {
                        close = true;
                        true
                    }
                    _ => true,
                }
            });
            match r {
                Some(true) if !close => work += 1,
                _ => break,
            }
        }
        if sent > 0 {
            // Hand this cycle's sends to the wire in one batch.
            work += t.poll(now);
        }
        if close {
            t.close();
            work += 1;
        }
        if t.is_closed() {
            // Deliver what is still buffered before reporting the close.
            let mut pending = false;
            t.recv(|b| {
                pending = !b.is_empty();
                (0, ())
            });
            if !pending {
                self.drop_link();
                work += 1;
            }
        }
        work
    }

    fn is_done(&self) -> bool {
        self.fatal.is_some()
            || (self.stopping && self.link.is_none() && self.pending_disc.is_none())
    }

    fn on_close(&mut self) {
        if let Some(t) = self.link.as_mut() {
            t.close();
        }
    }
}

/// Counters of the sequencer agent.
#[derive(Clone, Copy, Debug, Default)]
pub struct SeqStats {
    /// Verdicts produced.
    pub verdicts: u64,
    /// Bytes classified.
    pub bytes: u64,
    /// Verdicts that found the verdict ring full despite the bound (must stay 0).
    pub overflows: u64,
}

/// Runs a sequencer ([`hwsim::sequencer::Sequencer`]: the fast path by default, or the cycle
/// model, the verilated RTL or a card, see [`crate::seqsel`]) over received bytes. One dynamic
/// call per received chunk; the fast path's per-message work stays monomorphic.
pub struct SequencerAgent {
    seq: Box<dyn Sequencer>,
    session: u16,
    rx: RecordConsumer,
    out: RecordProducer,
    ctl: RecordConsumer,
    paused: bool,
    max_msg: usize,
    /// Counters.
    pub stats: SeqStats,
}

impl SequencerAgent {
    /// The sequencer.
    pub fn sequencer(&self) -> &dyn Sequencer {
        &*self.seq
    }

    /// Which sequencer runs (`fast`, `model`, `rtl`, `card`).
    pub fn sequencer_name(&self) -> &'static str {
        self.seq.name()
    }

    /// Why the sequencer stopped (a card that stopped answering), if it did.
    pub fn failure(&self) -> Option<&str> {
        self.seq.failure()
    }
}

/// Worst-case verdict-ring space for `len` input bytes: the bytes plus a carried-over partial
/// message, one 48-byte record overhead per message (a message, even garbled, spans at least 5
/// bytes: `8=FIX` or the bytes before an interrupting `SOH 8=FIX`), and one skip record.
fn verdict_bound(len: usize, max_msg: usize) -> usize {
    // Bytes carried over from earlier chunks (at most `max_msg`) can end messages too.
    len + 2 * max_msg + 48 * ((len + max_msg) / 5 + 3) + 64
}

impl Agent for SequencerAgent {
    fn name(&self) -> &str {
        "sequencer"
    }

    fn do_work(&mut self, _now: Nanos) -> usize {
        let mut work = 0;
        let (sq, session) = (&mut self.seq, self.session);
        let paused = &mut self.paused;
        while self.ctl.pop(|k, _, d| match k {
            kind::OP_SET_EXPECTED => sq.set_expected(session, u32_at(d, 0)),
            kind::OP_CLEAR_WINDOW => sq.clear_window(session),
            kind::OP_RESET_STREAM => sq.reset_stream(session),
            kind::OP_RESUME => *paused = false,
            _ => {}
        }) {
            work += 1;
        }
        let mut budget = 64;
        // A failed sequencer (a card that stopped answering) takes no more input: the bytes stay
        // in the rx ring and back-pressure the transport; `failure()` says why.
        while !self.paused && budget > 0 && self.seq.failure().is_none() {
            budget -= 1;
            let free = self.out.free();
            let max_msg = self.max_msg;
            let bound_of = |len| verdict_bound(len, max_msg);
            let (sq, out, stats) = (&mut self.seq, &mut self.out, &mut self.stats);
            let mut pause = false;
            let r = self.rx.peek(|k, _, d| match k {
                kind::DATA => {
                    if free < bound_of(d.len()) {
                        return false;
                    }
                    // The IO agent's receive time travels with the verdicts.
                    let (t, d) = d.split_at(8);
                    sq.process(session, d, &mut |v: &Verdict, m: &[u8]| {
                        let ok = out.push(kind::VERDICT, 0, &[t, &v.to_bytes(), m]);
                        debug_assert!(ok, "verdict ring bound violated");
                        if ok {
                            stats.verdicts += 1;
                        } else {
                            stats.overflows += 1;
                        }
                    });
                    stats.bytes += d.len() as u64;
                    true
                }
                kind::CONNECTED => {
                    if !out.fits(d.len()) {
                        return false;
                    }
                    out.push(k, 0, &[d]);
                    // Wait for the session's ops for the new stream before the next byte.
                    pause = true;
                    true
                }
                _ => {
                    if !out.fits(d.len()) {
                        return false;
                    }
                    out.push(k, 0, &[d]);
                    true
                }
            });
            match r {
                Some(true) => {
                    work += 1;
                    if pause {
                        self.paused = true;
                    }
                }
                _ => break,
            }
        }
        work
    }
}

/// One gap and its recovery, as seen by a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GapRecord {
    /// First missing MsgSeqNum.
    pub first: u32,
    /// Highest MsgSeqNum received while the gap was open.
    pub highest: u32,
    /// When the gap was detected.
    pub detected: Nanos,
    /// When every message up to `highest` had been delivered (0 while open).
    pub recovered: Nanos,
}

/// Per-session counters, printed on exit.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionStats {
    /// Verdicts processed.
    pub received: u64,
    /// Application sends still queued when the session agent closed, journaled then (not
    /// transmitted; the peer gets them by ResendRequest after the next Logon).
    pub journaled_at_close: u64,
    /// Application messages delivered.
    pub delivered: u64,
    /// Application messages sent.
    pub app_sent: u64,
    /// Gap events (messages held out of order).
    pub gap_events: u64,
    /// Duplicates discarded.
    pub duplicates: u64,
    /// Garbled messages ignored.
    pub garbled: u64,
    /// ResendRequests sent.
    pub resend_requests: u64,
    /// ResendRequests served.
    pub resends_served: u64,
    /// Messages resent.
    pub resent: u64,
    /// Logons.
    pub logons: u64,
    /// Disconnects.
    pub disconnects: u64,
    /// Rejects sent.
    pub rejects: u64,
    /// Messages that found the tx ring full: the connection was dropped (recovered by resend).
    pub tx_overflows: u64,
    /// Application deliveries that found the deliver ring full (must stay 0).
    pub deliver_overflows: u64,
}

/// The session's [`Application`]: forwards deliveries to the application agent's ring.
pub struct RingApp {
    ring: RecordProducer,
    rx_time: Nanos,
    overflows: u64,
    delivered: u64,
}

impl Application for RingApp {
    fn on_message(&mut self, msg: &[u8], info: &DeliverInfo, _respond: &mut dyn Responder) {
        let flags = u32::from(info.poss_dup) | (u32::from(info.poss_resend) << 1);
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&info.seq.to_le_bytes());
        h[4..8].copy_from_slice(&flags.to_le_bytes());
        h[8..].copy_from_slice(&self.rx_time.to_le_bytes());
        if self.ring.push(kind::DELIVER, 0, &[&h, msg]) {
            self.delivered += 1;
        } else {
            self.overflows += 1;
        }
    }

    fn on_logon(&mut self, _now: u64) {
        self.ring.push(kind::LOGON, 0, &[]);
    }

    fn on_logout(&mut self, _now: u64) {
        self.ring.push(kind::LOGOUT, 0, &[]);
    }
}

/// Send-ring bytes a paced resend leaves free for session-level messages.
const ADMIN_RESERVE: usize = 64 * 1024;

struct Out<'a> {
    tx: &'a mut RecordProducer,
    ctl: &'a mut RecordProducer,
    conn: u16,
    stats: &'a mut SessionStats,
    gap: &'a mut Option<GapRecord>,
    now: Nanos,
    overflow: bool,
    close: bool,
    last_disconnect: &'a mut Option<DisconnectReason>,
}

impl SessionOutput for Out<'_> {
    fn send_bytes(&mut self, bytes: &[u8]) {
        if self.overflow || !self.tx.push(kind::DATA, self.conn, &[bytes]) {
            // The message is journaled: dropping the connection loses nothing (the peer asks
            // for it again after the next Logon).
            self.overflow = true;
        }
    }

    /// Resend steps (and what waits behind them) go out only while the send ring keeps
    /// [`ADMIN_RESERVE`] bytes free beyond the message, so a large resend pauses instead of
    /// overflowing the ring, and Heartbeats, Rejects and Logouts still find room.
    fn can_send(&self, len: usize) -> bool {
        !self.overflow && self.tx.free() >= 2 * record_size(len) + ADMIN_RESERVE
    }

    fn sequencer(&mut self, op: SequencerOp) {
        let ok = match op {
            SequencerOp::SetExpected(e) => {
                self.ctl.push(kind::OP_SET_EXPECTED, 0, &[&e.to_le_bytes()])
            }
            SequencerOp::ClearWindow => self.ctl.push(kind::OP_CLEAR_WINDOW, 0, &[]),
            SequencerOp::ResetStream => self.ctl.push(kind::OP_RESET_STREAM, 0, &[]),
        };
        debug_assert!(ok, "control ring full");
    }

    fn event(&mut self, ev: &Event<'_>) {
        let s = &mut *self.stats;
        match ev {
            Event::Gap { expected, received } => {
                s.gap_events += 1;
                match self.gap {
                    Some(g) => g.highest = g.highest.max(*received),
                    None => {
                        *self.gap = Some(GapRecord {
                            first: *expected,
                            highest: *received,
                            detected: self.now,
                            recovered: 0,
                        })
                    }
                }
            }
            Event::BeyondWindow { expected, received } if self.gap.is_none() => {
                *self.gap = Some(GapRecord {
                    first: *expected,
                    highest: *received,
                    detected: self.now,
                    recovered: 0,
                });
            }
            Event::Duplicate { .. } => s.duplicates += 1,
            Event::Garbled { .. } => s.garbled += 1,
            Event::ResendRequested { .. } => s.resend_requests += 1,
            Event::ResendServed { resent, .. } => {
                s.resends_served += 1;
                s.resent += u64::from(*resent);
            }
            Event::LoggedOn { .. } => s.logons += 1,
            Event::Disconnected { .. } => s.disconnects += 1,
            Event::RejectSent { .. } | Event::BusinessRejectSent { .. } => s.rejects += 1,
            _ => {}
        }
    }

    fn disconnect(&mut self, reason: DisconnectReason) {
        *self.last_disconnect = Some(reason);
        self.close = true;
    }
}

/// Runs the `fixsession` state machine: verdicts in, bytes and deliveries out.
pub struct SessionAgent<S: MessageStore> {
    session: Session<S, RingApp>,
    from_seq: RecordConsumer,
    ctl: RecordProducer,
    tx: RecordProducer,
    from_app: RecordConsumer,
    conn: u32,
    connected: bool,
    gap: Option<GapRecord>,
    gaps: Vec<GapRecord>,
    max_msg: usize,
    last_disconnect: Option<DisconnectReason>,
    /// The time of the last duty cycle (SendingTime of sends journaled at close).
    last_now: Nanos,
    /// Counters.
    pub stats: SessionStats,
}

impl<S: MessageStore> SessionAgent<S> {
    /// The session.
    pub fn session(&self) -> &Session<S, RingApp> {
        &self.session
    }

    /// The session, mutably (e.g. to flush its store).
    pub fn session_mut(&mut self) -> &mut Session<S, RingApp> {
        &mut self.session
    }

    /// Gaps seen and recovered so far (the first 4096), and the open one.
    pub fn gaps(&self) -> (&[GapRecord], Option<GapRecord>) {
        (&self.gaps, self.gap)
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Why the session last asked for a disconnect.
    pub fn last_disconnect(&self) -> Option<DisconnectReason> {
        self.last_disconnect
    }

    /// True when no application send is waiting in the ring from the application agent.
    pub fn app_queue_empty(&self) -> bool {
        self.from_app.is_empty()
    }

    /// Deliveries that found the deliver ring full (0 unless a bound was violated).
    pub fn deliver_overflows(&self) -> u64 {
        self.session.app().overflows
    }

    fn with_out<R>(
        &mut self,
        now: Nanos,
        f: impl FnOnce(&mut Session<S, RingApp>, &mut Out<'_>) -> R,
    ) -> R {
        let mut out = Out {
            tx: &mut self.tx,
            ctl: &mut self.ctl,
            conn: self.conn as u16,
            stats: &mut self.stats,
            gap: &mut self.gap,
            now,
            overflow: false,
            close: false,
            last_disconnect: &mut self.last_disconnect,
        };
        let r = f(&mut self.session, &mut out);
        let (overflow, close) = (out.overflow, out.close);
        if overflow {
            self.stats.tx_overflows += 1;
            let conn = self.conn as u16;
            self.session.disconnect(now, &mut NullOut);
            self.tx.push(kind::CLOSE, conn, &[]);
        } else if close {
            let conn = self.conn as u16;
            if !self.tx.push(kind::CLOSE, conn, &[]) {
                self.stats.tx_overflows += 1;
            }
        }
        // Gap bookkeeping: recovered once nothing is held and no resend is outstanding.
        if let Some(mut g) = self.gap {
            if self.session.held_count() == 0
                && !self.session.resend_pending()
                && self.session.next_target_seq() > g.highest
            {
                g.recovered = now;
                if self.gaps.len() < self.gaps.capacity() {
                    self.gaps.push(g);
                }
                self.gap = None;
            }
        }
        r
    }

    /// Asks the session to log out (Ctrl-C path).
    pub fn logout(&mut self, now: Nanos, text: &str) {
        self.with_out(now, |s, o| s.logout(now, text, o));
    }

    fn room_for_verdict(&self) -> bool {
        let held = self.session.held_count() as usize + 1;
        self.session.app().ring.free() >= held * record_size(self.max_msg + 16) + 64
            && self.tx.free() >= 8 * record_size(self.max_msg)
    }
}

/// Splits a SEND record written by [`AppOut::send`] (`[MsgType length][MsgType][body]`).
fn split_send(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tl, rest) = d.split_first()?;
    (usize::from(tl) <= rest.len()).then(|| rest.split_at(usize::from(tl)))
}

/// Hands one application message to the session, which numbers, journals and (when logged on)
/// sends it. False when the session refused it (encoding, store, admin type, numbers exhausted).
fn send_app<S: MessageStore>(
    session: &mut Session<S, RingApp>,
    now: Nanos,
    msg_type: &[u8],
    body: &[u8],
    out: &mut impl SessionOutput,
) -> bool {
    session
        .send(
            now,
            msg_type,
            |b| {
                b.raw(body);
            },
            out,
        )
        .is_ok()
}

/// A [`SessionOutput`] that discards everything (used while tearing a connection down).
struct NullOut;

impl SessionOutput for NullOut {
    fn send_bytes(&mut self, _bytes: &[u8]) {}
    fn sequencer(&mut self, _op: SequencerOp) {}
    fn event(&mut self, _ev: &Event<'_>) {}
    fn disconnect(&mut self, _reason: DisconnectReason) {}
}

impl<S: MessageStore> Agent for SessionAgent<S> {
    fn name(&self) -> &str {
        "session"
    }

    fn do_work(&mut self, now: Nanos) -> usize {
        self.last_now = now;
        let mut work = 0;
        // Inputs from the wire, in order.
        for _ in 0..256 {
            if !self.room_for_verdict() {
                break;
            }
            let mut rec: Option<(u16, u32)> = None;
            let mut verdict = None;
            let consumed = {
                let session = &mut self.session;
                let (tx, ctl, stats, gap, last) = (
                    &mut self.tx,
                    &mut self.ctl,
                    &mut self.stats,
                    &mut self.gap,
                    &mut self.last_disconnect,
                );
                let conn = self.conn as u16;
                self.from_seq.peek(|k, _, d| {
                    match k {
                        kind::VERDICT => {
                            let rx_time = u64_at(d, 0);
                            let mut vb = [0u8; 32];
                            vb.copy_from_slice(&d[8..40]);
                            let v = Verdict::from_bytes(&vb);
                            session.app_mut().rx_time = rx_time;
                            let mut out = Out {
                                tx,
                                ctl,
                                conn,
                                stats,
                                gap,
                                now,
                                overflow: false,
                                close: false,
                                last_disconnect: last,
                            };
                            out.stats.received += 1;
                            session.on_verdict(now, &v, &d[40..], &mut out);
                            verdict = Some((out.overflow, out.close));
                        }
                        kind::CONNECTED | kind::DISCONNECTED => {
                            rec = Some((k, u32_at(d, 0)));
                        }
                        _ => {}
                    }
                    true
                })
            };
            if consumed.is_none() {
                break;
            }
            work += 1;
            if let Some((overflow, close)) = verdict {
                // Re-run the post-processing (close/overflow/gap bookkeeping).
                self.with_out(now, |_, o| {
                    o.overflow = overflow;
                    o.close = close;
                });
            }
            match rec {
                Some((kind::CONNECTED, conn)) => {
                    self.conn = conn;
                    self.connected = true;
                    self.gap = None;
                    self.with_out(now, |s, o| s.on_connect(now, o));
                    let ok = self.ctl.push(kind::OP_RESUME, 0, &[]);
                    debug_assert!(ok);
                }
                Some((kind::DISCONNECTED, conn)) if conn == self.conn => {
                    self.connected = false;
                    self.with_out(now, |s, o| s.on_disconnect(now, o));
                }
                _ => {}
            }
        }
        // Sends from the application.
        for _ in 0..256 {
            if self.tx.free() < 8 * record_size(self.max_msg) {
                break;
            }
            let mut req: Option<(u16, usize)> = None;
            let mut buf = [0u8; 64];
            let session = &mut self.session;
            let (tx, ctl, stats, gap, last) = (
                &mut self.tx,
                &mut self.ctl,
                &mut self.stats,
                &mut self.gap,
                &mut self.last_disconnect,
            );
            let conn = self.conn as u16;
            let mut flags = (false, false);
            let r = self.from_app.pop(|k, _, d| match k {
                kind::SEND => {
                    let Some((mt, body)) = split_send(d) else {
                        return;
                    };
                    let mut out = Out {
                        tx,
                        ctl,
                        conn,
                        stats,
                        gap,
                        now,
                        overflow: false,
                        close: false,
                        last_disconnect: last,
                    };
                    if send_app(session, now, mt, body, &mut out) {
                        out.stats.app_sent += 1;
                    }
                    flags = (out.overflow, out.close);
                }
                kind::LOGOUT_REQ => {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    req = Some((k, n));
                }
                _ => {}
            });
            if !r {
                break;
            }
            work += 1;
            if flags.0 || flags.1 {
                self.with_out(now, |_, o| {
                    o.overflow = flags.0;
                    o.close = flags.1;
                });
            }
            if let Some((_, n)) = req {
                let text = std::str::from_utf8(&buf[..n]).unwrap_or("");
                self.with_out(now, |s, o| s.logout(now, text, o));
            }
        }
        // Timers.
        if let Some(d) = self.session.next_deadline() {
            if now >= d {
                self.with_out(now, |s, o| s.on_timer(now, o));
                work += 1;
            }
        }
        work
    }

    fn on_close(&mut self) {
        // Sends the application handed over but the session had not taken yet (held back by a
        // full send side) are journaled now, so none is lost: they are not transmitted on this
        // connection; the peer gets them as resends when it asks after the next Logon.
        let now = self.last_now;
        let (session, stats) = (&mut self.session, &mut self.stats);
        while self.from_app.pop(|k, _, d| {
            if let (kind::SEND, Some((mt, body))) = (k, split_send(d)) {
                if send_app(session, now, mt, body, &mut NullOut) {
                    stats.app_sent += 1;
                    stats.journaled_at_close += 1;
                }
            }
        }) {}
        let _ = self.session.store_mut().flush();
    }
}

/// Delivered message metadata for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// MsgSeqNum.
    pub seq: u32,
    /// PossDupFlag=Y.
    pub poss_dup: bool,
    /// PossResend=Y.
    pub poss_resend: bool,
    /// When the IO agent received the bytes.
    pub rx_time: Nanos,
}

/// The application's way to send (through the app ring to the session agent).
pub struct AppOut<'a> {
    ring: &'a mut RecordProducer,
    max_msg: usize,
}

impl AppOut<'_> {
    /// True if a message with `body_len` body bytes can be queued now.
    pub fn can_send(&self, body_len: usize) -> bool {
        self.ring.fits(body_len + 16)
    }

    /// Queues an application message: `body` is pre-encoded `tag=value\x01...` fields (the
    /// session adds the header, MsgSeqNum and trailer). False when the ring is full (retry).
    pub fn send(&mut self, msg_type: &[u8], body: &[u8]) -> bool {
        if msg_type.is_empty() || msg_type.len() > 32 || body.len() > self.max_msg {
            return false;
        }
        self.ring
            .push(kind::SEND, 0, &[&[msg_type.len() as u8], msg_type, body])
    }

    /// Asks the session to log out with `text`.
    pub fn logout(&mut self, text: &str) -> bool {
        self.ring.push(kind::LOGOUT_REQ, 0, &[text.as_bytes()])
    }
}

/// Application logic run by an [`AppAgent`].
pub trait AppLogic {
    /// One application message, exactly once and in order.
    fn on_message(&mut self, now: Nanos, msg: &[u8], d: &Delivery, out: &mut AppOut<'_>);
    /// Logged on.
    fn on_logon(&mut self, _now: Nanos) {}
    /// Logged out or disconnected.
    fn on_logout(&mut self, _now: Nanos) {}
    /// Periodic work (e.g. generating load); returns work done.
    fn poll(&mut self, _now: Nanos, _logged_on: bool, _out: &mut AppOut<'_>) -> usize {
        0
    }
    /// True when the application has finished.
    fn is_done(&self) -> bool {
        false
    }
}

/// Runs an [`AppLogic`] on the session's deliveries.
pub struct AppAgent<L: AppLogic> {
    logic: L,
    from_session: RecordConsumer,
    to_session: RecordProducer,
    logged_on: bool,
    max_msg: usize,
}

impl<L: AppLogic> AppAgent<L> {
    /// The application logic.
    pub fn logic(&self) -> &L {
        &self.logic
    }

    /// The application logic, mutably.
    pub fn logic_mut(&mut self) -> &mut L {
        &mut self.logic
    }

    /// Takes the application logic back (e.g. to continue it after a restart).
    pub fn into_logic(self) -> L {
        self.logic
    }

    /// True while logged on.
    pub fn logged_on(&self) -> bool {
        self.logged_on
    }

    /// True when nothing is waiting in either ring.
    pub fn idle(&self) -> bool {
        self.from_session.is_empty()
    }
}

impl<L: AppLogic> Agent for AppAgent<L> {
    fn name(&self) -> &str {
        "application"
    }

    fn do_work(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        for _ in 0..256 {
            // Leave room for an answer per delivery.
            if !self.to_session.fits(self.max_msg) {
                break;
            }
            let (logic, logged_on) = (&mut self.logic, &mut self.logged_on);
            let mut out = AppOut {
                ring: &mut self.to_session,
                max_msg: self.max_msg,
            };
            let r = self.from_session.pop(|k, _, d| match k {
                kind::DELIVER => {
                    let flags = u32_at(d, 4);
                    let del = Delivery {
                        seq: u32_at(d, 0),
                        poss_dup: flags & 1 != 0,
                        poss_resend: flags & 2 != 0,
                        rx_time: u64_at(d, 8),
                    };
                    logic.on_message(now, &d[16..], &del, &mut out);
                }
                kind::LOGON => {
                    *logged_on = true;
                    logic.on_logon(now);
                }
                kind::LOGOUT => {
                    *logged_on = false;
                    logic.on_logout(now);
                }
                _ => {}
            });
            if !r {
                break;
            }
            work += 1;
        }
        let mut out = AppOut {
            ring: &mut self.to_session,
            max_msg: self.max_msg,
        };
        work += self.logic.poll(now, self.logged_on, &mut out);
        work
    }

    fn is_done(&self) -> bool {
        self.logic.is_done()
    }
}

/// Ring sizes of a pipeline.
#[derive(Clone, Copy, Debug)]
pub struct RingSizes {
    /// IO -> sequencer.
    pub rx: usize,
    /// Sequencer -> session.
    pub verdicts: usize,
    /// Session -> IO.
    pub tx: usize,
    /// Session -> application.
    pub deliver: usize,
    /// Application -> session.
    pub app: usize,
}

impl Default for RingSizes {
    fn default() -> Self {
        RingSizes {
            rx: 1 << 20,
            verdicts: 2 << 20,
            tx: 4 << 20,
            deliver: 2 << 20,
            app: 1 << 20,
        }
    }
}

/// The four agents of one session, connected by their rings.
pub struct Pipeline<C: Connector, S: MessageStore, L: AppLogic> {
    /// Receive and send.
    pub io: IoAgent<C>,
    /// The sequencer.
    pub seq: SequencerAgent,
    /// The session layer.
    pub session: SessionAgent<S>,
    /// The application.
    pub app: AppAgent<L>,
}

/// The sequencer window for a session configuration (a power of two, at least 256).
pub fn sequencer_window(cfg: &SessionConfig) -> u32 {
    cfg.window.max(256).next_power_of_two()
}

/// The sequencer `MAX_MSG` for a session configuration (at least 256).
pub fn sequencer_max_msg(cfg: &SessionConfig) -> usize {
    cfg.max_message_size.max(256)
}

/// Builds the agents of one session with the software fast path as its sequencer. All memory
/// is allocated here.
pub fn pipeline<C: Connector, S: MessageStore, L: AppLogic>(
    name: &str,
    cfg: SessionConfig,
    connector: C,
    store: S,
    logic: L,
    sizes: RingSizes,
) -> Pipeline<C, S, L> {
    let seq = Box::new(FastPath::new(
        1,
        sequencer_window(&cfg),
        sequencer_max_msg(&cfg),
    ));
    pipeline_with_sequencer(name, cfg, connector, store, logic, sizes, seq)
}

/// Builds the agents of one session with `seq` as its sequencer (session index 0 of it; see
/// [`crate::seqsel::from_spec`]). `seq` must have been built for [`sequencer_window`] and
/// [`sequencer_max_msg`] of `cfg`. All memory is allocated here.
pub fn pipeline_with_sequencer<C: Connector, S: MessageStore, L: AppLogic>(
    name: &str,
    cfg: SessionConfig,
    connector: C,
    store: S,
    logic: L,
    sizes: RingSizes,
    seq: Box<dyn Sequencer>,
) -> Pipeline<C, S, L> {
    let max_msg = sequencer_max_msg(&cfg);
    let (rx_p, rx_c) = record_ring(sizes.rx);
    let (v_p, v_c) = record_ring(sizes.verdicts);
    let (ctl_p, ctl_c) = record_ring(4096);
    let (tx_p, tx_c) = record_ring(sizes.tx);
    let (d_p, d_c) = record_ring(sizes.deliver);
    let (a_p, a_c) = record_ring(sizes.app);
    let app = RingApp {
        ring: d_p,
        rx_time: 0,
        overflows: 0,
        delivered: 0,
    };
    Pipeline {
        io: IoAgent {
            name: format!("io-{name}"),
            connector,
            link: None,
            conn: 0,
            rx: rx_p,
            tx: tx_c,
            tx_off: 0,
            pending_disc: None,
            pending_conn: false,
            fatal: None,
            stopping: false,
            stats: IoStats::default(),
        },
        seq: SequencerAgent {
            seq,
            session: 0,
            rx: rx_c,
            out: v_p,
            ctl: ctl_c,
            paused: false,
            max_msg,
            stats: SeqStats::default(),
        },
        session: SessionAgent {
            session: {
                // Touch the held-message queue now, not page by page during a gap recovery.
                let mut s = Session::new(cfg, store, app);
                s.prefault();
                s
            },
            from_seq: v_c,
            ctl: ctl_p,
            tx: tx_p,
            from_app: a_c,
            conn: 0,
            connected: false,
            gap: None,
            gaps: Vec::with_capacity(4096),
            max_msg,
            last_disconnect: None,
            last_now: 0,
            stats: SessionStats::default(),
        },
        app: AppAgent {
            logic,
            from_session: d_c,
            to_session: a_p,
            logged_on: false,
            max_msg,
        },
    }
}

impl<C: Connector, S: MessageStore, L: AppLogic> Pipeline<C, S, L> {
    /// Restart with the application's own durable cursor.
    ///
    /// The store's next target number counts a message as processed once the session agent has
    /// handed it to the application ring, so a process killed before the application agent took
    /// it would never see it again. An application that must be exactly-once across a crash
    /// keeps the MsgSeqNum of the last message it finished (durably, its own business) and calls
    /// this before the first duty cycle with that number + 1: if the store is ahead, its next
    /// target number is moved back to `app_next`, the next Logon shows the gap and the peer
    /// resends the rest as PossDup. Returns true if the store was moved back.
    ///
    /// # Errors
    /// When the session is connected (only valid at start-up) or the store cannot persist it.
    pub fn rewind_target(&mut self, app_next: u32) -> Result<bool, String> {
        if self.session.is_connected() {
            return Err("rewind_target: only before the session connects".to_string());
        }
        let store = self.session.session_mut().store_mut();
        if app_next == 0 || app_next >= store.next_target_seq() {
            return Ok(false);
        }
        store
            .set_next_target_seq(app_next)
            .map_err(|e| format!("rewind_target: {e}"))?;
        Ok(true)
    }

    /// The four agents as trait objects, in data-path order (for a runner).
    pub fn agents(&mut self) -> [&mut dyn Agent; 4] {
        [
            &mut self.io,
            &mut self.seq,
            &mut self.session,
            &mut self.app,
        ]
    }

    /// One duty cycle of every agent at `now` (stepped mode).
    pub fn step(&mut self, now: Nanos) -> usize {
        self.io.do_work(now)
            + self.seq.do_work(now)
            + self.session.do_work(now)
            + self.app.do_work(now)
    }
}

/// Error building a pipeline's transport.
pub type BuildError = TransportError;
