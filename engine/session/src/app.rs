//! The application interface: what a session delivers to, and the built-in `echo` application.

use crate::session::SendError;
use crate::wire::{BodyBuilder, Scan};

/// What the session knows about a delivered application message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverInfo {
    /// MsgSeqNum(34).
    pub seq: u32,
    /// PossDupFlag(43)=Y (a resend by the peer).
    pub poss_dup: bool,
    /// PossResend(97)=Y: the application may have seen this message's content before.
    pub poss_resend: bool,
    /// Time passed to the call that delivered it (ns since the Unix epoch).
    pub now: u64,
}

/// Lets the application send messages from inside a callback (e.g. answer an order). The message
/// gets the next MsgSeqNum, is journaled, then sent, exactly like [`crate::Session::send`].
pub trait Responder {
    /// Sends an application message of type `msg_type` whose body fields `body` appends.
    fn send(
        &mut self,
        msg_type: &[u8],
        body: &mut dyn FnMut(&mut BodyBuilder<'_>),
    ) -> Result<u32, SendError>;
}

/// The application side of a session. Every method but [`Application::on_message`] has a default.
pub trait Application {
    /// One application message, delivered exactly once and in MsgSeqNum order. `msg` is the whole
    /// message (header to checksum).
    fn on_message(&mut self, msg: &[u8], info: &DeliverInfo, respond: &mut dyn Responder);

    /// False when this application does not handle `msg_type`: the session then answers with a
    /// BusinessMessageReject (380=3) instead of delivering.
    fn supports(&self, _msg_type: &[u8]) -> bool {
        true
    }

    /// Logon authentication: Username(553) and Password(554) of the peer's Logon. False refuses
    /// the Logon (the connection is dropped without an answer).
    fn authenticate(&mut self, _username: Option<&[u8]>, _password: Option<&[u8]>) -> bool {
        true
    }

    /// Asked while serving a ResendRequest, for each stored application message: false gap-fills
    /// it instead of resending (e.g. an order older than N ms). `orig_sending_time` is its
    /// SendingTime in ns since the epoch, when parseable.
    fn allow_resend(
        &mut self,
        _now: u64,
        _seq: u32,
        _msg_type: &[u8],
        _orig_sending_time: Option<u64>,
    ) -> bool {
        true
    }

    /// The session is logged on (both Logons exchanged).
    fn on_logon(&mut self, _now: u64) {}

    /// The session is logged out or the connection is gone.
    fn on_logout(&mut self, _now: u64) {}
}

/// Slots of the echo application's seen-ClOrdID table (a power of two).
const SEEN_SLOTS: usize = 1 << 14;

/// The built-in `echo` application: every NewOrderSingle (35=D) is answered by an ExecutionReport
/// (35=8, ExecType/OrdStatus New) carrying its ClOrdID(11), Symbol(55), Side(54) and
/// OrderQty(38); a PossResend=Y order whose ClOrdID was already seen since the last Logon is
/// ignored. Other application message types are not supported (the session answers them with a
/// BusinessMessageReject "Unsupported Message Type").
///
/// The seen-ClOrdID table is a fixed open-addressing table of 64-bit hashes ([`SEEN_SLOTS`]
/// entries, preallocated): it never allocates after construction. When it is full the oldest
/// behaviour degrades to "not seen" for new IDs (documented limitation of a test application).
pub struct EchoApp {
    seen: Vec<u64>,
    seen_count: usize,
    next_order_id: u64,
    /// Orders answered since creation.
    pub answered: u64,
    /// PossResend repeats ignored.
    pub ignored_repeats: u64,
}

impl Default for EchoApp {
    fn default() -> Self {
        Self::new()
    }
}

impl EchoApp {
    /// A fresh echo application.
    pub fn new() -> Self {
        EchoApp {
            seen: vec![0; SEEN_SLOTS],
            seen_count: 0,
            next_order_id: 1,
            answered: 0,
            ignored_repeats: 0,
        }
    }

    fn hash(id: &[u8]) -> u64 {
        // FNV-1a, never 0 (0 marks an empty slot).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in id {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h | 1
    }

    /// Records `id`; true if it was already present.
    fn seen_before(&mut self, id: &[u8]) -> bool {
        let h = Self::hash(id);
        let mask = SEEN_SLOTS - 1;
        let mut i = (h as usize) & mask;
        for _ in 0..SEEN_SLOTS {
            match self.seen[i] {
                0 => {
                    if self.seen_count < SEEN_SLOTS * 3 / 4 {
                        self.seen[i] = h;
                        self.seen_count += 1;
                    }
                    return false;
                }
                x if x == h => return true,
                _ => i = (i + 1) & mask,
            }
        }
        false
    }
}

impl Application for EchoApp {
    fn on_message(&mut self, msg: &[u8], info: &DeliverInfo, respond: &mut dyn Responder) {
        let s = Scan::of(msg);
        if s.msg_type != Some(b"D") {
            return;
        }
        let mut cl_ord_id: &[u8] = b"";
        let mut symbol: &[u8] = b"";
        let mut side: &[u8] = b"1";
        let mut qty: &[u8] = b"0";
        for (tag, v) in crate::wire::Fields::new(msg) {
            match tag {
                11 => cl_ord_id = v,
                55 => symbol = v,
                54 => side = v,
                38 => qty = v,
                _ => {}
            }
        }
        let repeat = self.seen_before(cl_ord_id);
        if repeat && info.poss_resend {
            self.ignored_repeats += 1;
            return;
        }
        let order_id = self.next_order_id;
        self.next_order_id += 1;
        let r = respond.send(b"8", &mut |b| {
            b.field_u64(37, order_id)
                .field(11, cl_ord_id)
                .field_u64(17, order_id)
                .field(150, b"0")
                .field(39, b"0")
                .field(55, symbol)
                .field(54, side)
                .field(38, qty)
                .field(151, qty)
                .field(14, b"0")
                .field(6, b"0");
        });
        if r.is_ok() {
            self.answered += 1;
        }
    }

    fn supports(&self, msg_type: &[u8]) -> bool {
        msg_type == b"D"
    }

    fn on_logon(&mut self, _now: u64) {
        self.seen.fill(0);
        self.seen_count = 0;
    }
}
