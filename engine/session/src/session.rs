//! The sans-IO FIX session state machine.
//!
//! Inputs: received messages with their sequencer verdicts ([`Session::on_verdict`]), timer ticks
//! ([`Session::on_timer`]), application sends ([`Session::send`]), connect / disconnect, and the
//! current time in nanoseconds since the Unix epoch (never read inside). Outputs go to a
//! [`SessionOutput`]: bytes to send, sequencer control operations, events, disconnect requests;
//! application messages are delivered in order to the [`Application`].
//!
//! The session never re-derives sequencing: the verdict's kind and `expected_after` say what to
//! do (docs/sequencer.md section 4). It keeps the bytes of held (out-of-order) messages in a
//! preallocated queue of `window` slots of `max_message_size` bytes.

use hwsim::contract::reason as vreason;
use hwsim::{Flags, Kind, Reason, Verdict};

use crate::app::{Application, DeliverInfo, Responder};
use crate::dict::{DataDictionary, DictError};
use crate::store::{MessageStore, StoreError};
use crate::time::format_timestamp;
use crate::wire::{self, encode, parse_u32, BodyBuilder, EncodeError, Header, Scan};

/// Bytes kept free at the end of every message we originate so that its resend (with PossDupFlag
/// and OrigSendingTime added) still fits in `max_message_size`.
pub const RESEND_HEADROOM: usize = 48;

const NS: u64 = 1_000_000_000;

/// Default of [`SessionConfig::max_resend_range`] (settings key `MaxResendRange`): numbers per
/// step of serving a ResendRequest. About 0.25 ms of work at the measured splice speed (4 M
/// msgs/s, docs/session.md), so a resend of any size never holds the session's thread for long.
pub const DEFAULT_MAX_RESEND_RANGE: u32 = 1024;

/// Default of [`SessionConfig::max_resends_per_second`] (settings key `MaxResendsPerSecond`):
/// numbers resent per second. About the line rate of 10 GbE for 250-byte messages, so a
/// legitimate recovery is never slower than the network would make it, while a peer flooding
/// ResendRequests gets at most this much per second.
pub const DEFAULT_MAX_RESENDS_PER_SECOND: u32 = 4_000_000;

/// Acceptor or initiator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Waits for the peer's Logon and answers it.
    Acceptor,
    /// Sends the Logon on connect.
    Initiator,
}

/// Everything the state machine needs to know about one session. Build it from the settings file
/// with [`SessionConfig::from_settings`] or by hand (tests).
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// BeginString(8), e.g. `FIX.4.4`.
    pub begin_string: String,
    /// Our SenderCompID(49).
    pub sender_comp_id: String,
    /// The peer's CompID (our TargetCompID(56)).
    pub target_comp_id: String,
    /// Acceptor or initiator.
    pub role: Role,
    /// HeartBtInt in seconds that an initiator proposes (an acceptor adopts the peer's).
    pub heart_bt_int: u32,
    /// Reset both numbers to 1 at every Logon (sends ResetSeqNumFlag=Y as initiator).
    pub reset_on_logon: bool,
    /// Reset both numbers after a Logout exchange.
    pub reset_on_logout: bool,
    /// Reset both numbers whenever the connection drops.
    pub reset_on_disconnect: bool,
    /// Request resends in chunks of this many messages (0 = the whole gap, EndSeqNo 0).
    pub resend_request_chunk_size: u32,
    /// Ask only for the missing numbers: EndSeqNo = the number below the lowest held message
    /// (QuickFIX's `ClosedResendInterval`) instead of 0 (everything from BeginSeqNo on).
    pub closed_resend_interval: bool,
    /// Check SendingTime(52) against the current time.
    pub check_latency: bool,
    /// SendingTime tolerance in seconds.
    pub max_latency: u32,
    /// Seconds to wait for the Logon (acceptor) or its answer (initiator).
    pub logon_timeout: u32,
    /// Seconds to wait for the answer to our Logout, or for the peer to disconnect after we
    /// answered its Logout.
    pub logout_timeout: u32,
    /// Send NextExpectedMsgSeqNum(789) on Logon and act on the peer's.
    pub enable_next_expected_msg_seq_num: bool,
    /// Digits of fractional seconds in SendingTime: 0, 3, 6 or 9.
    pub timestamp_precision: u8,
    /// Largest message in bytes, both directions (the sequencer's MAX_MSG).
    pub max_message_size: usize,
    /// Held out-of-order messages (the sequencer's window W).
    pub window: u32,
    /// Most numbers one step of serving a peer's ResendRequest covers (0 = the whole range in
    /// one step). A longer range is served in steps, continued by [`Session::on_timer`].
    pub max_resend_range: u32,
    /// Most numbers resent (messages resent plus numbers gap-filled) per second to the peer
    /// (0 = unlimited); the rest of a range waits for the next second.
    pub max_resends_per_second: u32,
    /// Username(553) sent on our Logon.
    pub username: Option<String>,
    /// Password(554) sent on our Logon.
    pub password: Option<String>,
    /// Validate application messages against this dictionary (`UseDataDictionary`).
    pub dictionary: Option<std::sync::Arc<DataDictionary>>,
}

impl SessionConfig {
    /// A configuration with the engine's defaults for the given identity.
    pub fn new(begin_string: &str, sender: &str, target: &str, role: Role) -> Self {
        SessionConfig {
            begin_string: begin_string.to_string(),
            sender_comp_id: sender.to_string(),
            target_comp_id: target.to_string(),
            role,
            heart_bt_int: 30,
            reset_on_logon: false,
            reset_on_logout: false,
            reset_on_disconnect: false,
            resend_request_chunk_size: 0,
            closed_resend_interval: false,
            check_latency: true,
            max_latency: 120,
            logon_timeout: 10,
            logout_timeout: 2,
            enable_next_expected_msg_seq_num: false,
            timestamp_precision: 3,
            max_message_size: 4096,
            window: 256,
            max_resend_range: DEFAULT_MAX_RESEND_RANGE,
            max_resends_per_second: DEFAULT_MAX_RESENDS_PER_SECOND,
            username: None,
            password: None,
            dictionary: None,
        }
    }

    /// Converts the settings-file form of a session, loading the `DataDictionary` file when
    /// `UseDataDictionary=Y` names one (else the shipped FIX.4.2 / FIX.4.4 dictionary of the
    /// BeginString).
    pub fn try_from_settings(s: &crate::settings::SessionSettings) -> Result<Self, DictError> {
        let mut c = Self::from_settings(s);
        if s.use_data_dictionary {
            let d = match &s.data_dictionary {
                Some(path) => DataDictionary::load(path)?,
                None => DataDictionary::standard(&s.begin_string).ok_or_else(|| {
                    DictError(format!(
                        "UseDataDictionary=Y but no DataDictionary file and no shipped dictionary for {}",
                        s.begin_string
                    ))
                })?,
            };
            c.dictionary = Some(std::sync::Arc::new(d));
        }
        if let Some(d) = c.dictionary.as_mut().and_then(std::sync::Arc::get_mut) {
            d.validate_user_defined_fields = s.validate_user_defined_fields;
        }
        Ok(c)
    }

    /// Converts the settings-file form of a session. With `UseDataDictionary=Y` it uses the
    /// shipped dictionary of the BeginString (FIX.4.2, FIX.4.4) and ignores a `DataDictionary`
    /// file: use [`SessionConfig::try_from_settings`] to load one.
    pub fn from_settings(s: &crate::settings::SessionSettings) -> Self {
        SessionConfig {
            begin_string: s.begin_string.clone(),
            sender_comp_id: s.sender_comp_id.clone(),
            target_comp_id: s.target_comp_id.clone(),
            role: match s.connection_type {
                crate::settings::ConnectionType::Acceptor => Role::Acceptor,
                crate::settings::ConnectionType::Initiator => Role::Initiator,
            },
            heart_bt_int: s.heart_bt_int,
            reset_on_logon: s.reset_on_logon,
            reset_on_logout: s.reset_on_logout,
            reset_on_disconnect: s.reset_on_disconnect,
            resend_request_chunk_size: s.resend_request_chunk_size,
            closed_resend_interval: s.closed_resend_interval,
            check_latency: s.check_latency,
            max_latency: s.max_latency,
            logon_timeout: s.logon_timeout,
            logout_timeout: s.logout_timeout,
            enable_next_expected_msg_seq_num: s.enable_next_expected_msg_seq_num,
            timestamp_precision: s.timestamp_precision,
            max_message_size: s.max_message_size,
            window: s.window,
            max_resend_range: s.max_resend_range,
            max_resends_per_second: s.max_resends_per_second,
            username: None,
            password: None,
            dictionary: if s.use_data_dictionary {
                DataDictionary::standard(&s.begin_string).map(|mut d| {
                    d.validate_user_defined_fields = s.validate_user_defined_fields;
                    std::sync::Arc::new(d)
                })
            } else {
                None
            },
        }
    }
}

/// A control operation for this session's sequencer (hwsim fast path or the card's CSRs). Apply
/// it before feeding the sequencer the next chunk of this session's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequencerOp {
    /// Set the expected number `E` and clear the window (CSR `EXPECTED`).
    SetExpected(u32),
    /// Clear the held-message window without changing `E` (`CONTROL.CLEAR_WINDOW`).
    ClearWindow,
    /// Reset the framer: a new TCP stream begins (`CONTROL.RESET_STREAM`).
    ResetStream,
}

/// Why the session asks the runtime to close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// Our Logout was answered.
    LogoutComplete,
    /// Our Logout was not answered in time.
    LogoutTimeout,
    /// We answered the peer's Logout and it did not disconnect in time.
    PeerLogoutLinger,
    /// No Logon (or no answer to ours) in time.
    LogonTimeout,
    /// No answer to our TestRequest.
    HeartbeatTimeout,
    /// The first message was not a Logon.
    FirstMessageNotLogon,
    /// Logon BeginString or CompIDs do not match the configuration.
    UnknownIdentity,
    /// The authentication hook refused the Logon.
    AuthenticationFailed,
    /// A Logon arrived on a session already logged on.
    SecondLogon,
    /// MsgSeqNum lower than expected without PossDupFlag.
    SeqTooLow,
    /// MsgSeqNum missing or invalid.
    SeqInvalid,
    /// BeginString differs from the configured one.
    BadBeginString,
    /// CompIDs differ from the configured ones (after Reject 373=9 and Logout).
    BadCompId,
    /// SendingTime outside the tolerance, or OrigSendingTime after SendingTime (after Reject
    /// 373=10 and Logout).
    BadSendingTime,
    /// The peer's NextExpectedMsgSeqNum(789) is above our next sender number.
    NextExpectedTooHigh,
    /// The Logon lacked a valid HeartBtInt(108).
    BadLogon,
    /// The message store failed; continuing could lose or duplicate messages.
    StoreFailure,
    /// Our next MsgSeqNum would exceed 2^31-1 ([`MAX_SEQ_NUM`]): the sequence numbers must be
    /// reset (ResetSeqNumFlag) before anything more can be sent.
    SeqExhausted,
    /// The application asked for it ([`Session::disconnect`]).
    Requested,
}

/// The largest MsgSeqNum this engine sends or accepts: FIX's signed 32-bit int, as in
/// docs/sequencer.md section 2.
pub const MAX_SEQ_NUM: u32 = 0x7FFF_FFFF;

impl DisconnectReason {
    /// Text for logs.
    pub const fn describe(self) -> &'static str {
        match self {
            DisconnectReason::LogoutComplete => "logout complete",
            DisconnectReason::LogoutTimeout => "logout not answered in time",
            DisconnectReason::PeerLogoutLinger => "peer did not disconnect after logout",
            DisconnectReason::LogonTimeout => "no logon in time",
            DisconnectReason::HeartbeatTimeout => "no answer to TestRequest",
            DisconnectReason::FirstMessageNotLogon => "first message was not a Logon",
            DisconnectReason::UnknownIdentity => "BeginString or CompIDs not configured",
            DisconnectReason::AuthenticationFailed => "logon authentication failed",
            DisconnectReason::SecondLogon => "Logon received while logged on",
            DisconnectReason::SeqTooLow => "MsgSeqNum too low",
            DisconnectReason::SeqInvalid => "MsgSeqNum missing or invalid",
            DisconnectReason::BadBeginString => "wrong BeginString",
            DisconnectReason::BadCompId => "wrong CompID",
            DisconnectReason::BadSendingTime => "SendingTime accuracy problem",
            DisconnectReason::NextExpectedTooHigh => "NextExpectedMsgSeqNum too high",
            DisconnectReason::BadLogon => "Logon without valid HeartBtInt",
            DisconnectReason::StoreFailure => "message store failure",
            DisconnectReason::SeqExhausted => {
                "MsgSeqNum exhausted (2^31-1 reached): reset the sequence numbers"
            }
            DisconnectReason::Requested => "requested by the application",
        }
    }
}

/// Something worth a log line or a counter.
#[derive(Debug)]
pub enum Event<'a> {
    /// `on_connect` was called.
    Connected,
    /// The connection is gone (after `on_disconnect`, or when the session asked for it).
    Disconnected {
        /// Why, when the session asked for it; `None` when the runtime reported it.
        reason: Option<DisconnectReason>,
    },
    /// Logon exchange complete.
    LoggedOn {
        /// Negotiated HeartBtInt in seconds.
        heart_bt_int: u32,
        /// Both numbers were reset (ResetSeqNumFlag).
        reset: bool,
    },
    /// A Logon was refused; the connection is dropped without an answer.
    LogonRefused {
        /// What was wrong.
        why: &'static str,
    },
    /// A message failed framing and was ignored (expected number unchanged, no Reject).
    Garbled {
        /// What the framer found.
        reason: Reason,
        /// Stream offset of the message.
        offset: u64,
        /// Its length.
        length: u32,
    },
    /// The verdict record was not decodable; the message was ignored.
    CorruptVerdict {
        /// The raw kind field.
        kind: u8,
    },
    /// A verdict's `expected_before` differs from the store's next target number: the sequencer
    /// missed a `SetExpected`, or the record is corrupt.
    SequencerMismatch {
        /// The sequencer's expected number.
        sequencer: u32,
        /// The store's next target number.
        store: u32,
    },
    /// A message arrived while the session was disconnected and was ignored.
    IgnoredWhileDisconnected,
    /// MsgSeqNum above expected: the message is held.
    Gap {
        /// The expected number.
        expected: u32,
        /// The received number.
        received: u32,
    },
    /// MsgSeqNum at or beyond expected + window: dropped, to be requested again.
    BeyondWindow {
        /// The expected number.
        expected: u32,
        /// The received number.
        received: u32,
    },
    /// An already processed or already held message was discarded.
    Duplicate {
        /// Its MsgSeqNum.
        seq: u32,
    },
    /// We sent a ResendRequest.
    ResendRequested {
        /// BeginSeqNo(7).
        begin: u32,
        /// EndSeqNo(16) (0 = up to the last).
        end: u32,
    },
    /// We served a ResendRequest.
    ResendServed {
        /// First number covered.
        begin: u32,
        /// Last number covered.
        end: u32,
        /// Application messages resent with PossDupFlag=Y.
        resent: u32,
        /// SequenceReset-GapFill messages sent.
        gap_fills: u32,
    },
    /// A ResendRequest was not (fully) served.
    ResendLimited {
        /// Requested BeginSeqNo.
        begin: u32,
        /// Requested EndSeqNo.
        end: u32,
        /// Why.
        why: &'static str,
    },
    /// We sent a session-level Reject (35=3).
    RejectSent {
        /// RefSeqNum(45).
        ref_seq: u32,
        /// SessionRejectReason(373).
        reason: u32,
        /// Text(58).
        text: &'a str,
    },
    /// We sent a BusinessMessageReject (35=j).
    BusinessRejectSent {
        /// RefSeqNum(45).
        ref_seq: u32,
        /// BusinessRejectReason(380).
        reason: u32,
    },
    /// The peer sent a Reject (35=3).
    RejectReceived {
        /// Its MsgSeqNum.
        seq: u32,
    },
    /// The expected number moved by a SequenceReset.
    SequenceReset {
        /// The new expected number.
        new_seq_no: u32,
        /// GapFill mode.
        gap_fill: bool,
    },
    /// SequenceReset-Reset with NewSeqNo equal to the expected number: accepted, nothing changes.
    SequenceResetNoChange {
        /// NewSeqNo.
        new_seq_no: u32,
    },
    /// Held messages below a SequenceReset's NewSeqNo were dropped.
    HeldDropped {
        /// Their number.
        count: u32,
    },
    /// A held SequenceReset-GapFill released in order reached past the number the sequencer
    /// released up to: it was held when its NewSeqNo lay beyond the window, so the sequencer
    /// covered its range only to the window's end. The target stops at `released` (where the
    /// sequencer stands) and `released .. new_seq_no` is asked for again at once.
    GapFillBeyondWindow {
        /// The sequencer's (and now the store's) next target number.
        released: u32,
        /// The GapFill's NewSeqNo.
        new_seq_no: u32,
    },
    /// We sent a TestRequest after a silent interval.
    TestRequestSent,
    /// We sent a Logout.
    LogoutSent {
        /// Its Text(58), empty if none.
        text: &'a str,
    },
    /// The peer sent a Logout.
    LogoutReceived,
    /// A message was journaled but not written: while not logged on (it reaches the peer
    /// through its ResendRequest after the next Logon), or behind a resend being served (it is
    /// written, as journaled, when that is complete).
    Queued {
        /// Its MsgSeqNum.
        seq: u32,
    },
    /// The store failed.
    StoreFailed {
        /// The error.
        error: &'a StoreError,
    },
    /// A message we tried to send could not be encoded.
    EncodeFailed {
        /// The error.
        error: EncodeError,
    },
}

/// Where a session's outputs go. The runtime implements it over its transport; tests record.
pub trait SessionOutput {
    /// Write one complete message to the connection.
    fn send_bytes(&mut self, bytes: &[u8]);
    /// Apply a control operation to this session's sequencer before its next chunk.
    fn sequencer(&mut self, op: SequencerOp);
    /// Log or count an event.
    fn event(&mut self, ev: &Event<'_>);
    /// Close the connection. The session has already moved to the disconnected state; calling
    /// [`Session::on_disconnect`] afterwards is harmless.
    fn disconnect(&mut self, reason: DisconnectReason);
    /// True if a message of `len` bytes can be written now without loss. Serving a peer's
    /// ResendRequest (and writing what waits behind it) stops when this says no and continues
    /// at the next [`Session::on_timer`]. Other messages are written regardless (the runtime
    /// keeps room for them). The default always says yes.
    fn can_send(&self, len: usize) -> bool {
        let _ = len;
        true
    }
}

/// Why [`Session::send`] failed.
#[derive(Debug)]
pub enum SendError {
    /// The message does not fit or has an SOH in a value.
    Encode(EncodeError),
    /// The store could not journal it; nothing was sent.
    Store(StoreError),
    /// Admin message types (0,1,2,3,4,5,A) are the session's own.
    AdminType,
    /// The next MsgSeqNum would exceed 2^31-1; nothing was journaled or sent.
    SeqExhausted {
        /// The number the message would have had.
        next: u32,
    },
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Encode(e) => write!(f, "cannot encode message: {e}"),
            SendError::Store(e) => write!(f, "cannot journal message: {e}"),
            SendError::AdminType => {
                write!(
                    f,
                    "session-level message types are sent by the session itself"
                )
            }
            SendError::SeqExhausted { next } => write!(
                f,
                "MsgSeqNum exhausted: the next number would be {next}, above 2^31-1; \
                 reset the session's sequence numbers (ResetSeqNumFlag) to continue"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Where the session is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No connection.
    Disconnected,
    /// Connected; waiting for the peer's Logon (acceptor) or the answer to ours (initiator).
    AwaitingLogon {
        /// When the wait began.
        since: u64,
    },
    /// Logged on.
    Active,
    /// We sent a Logout and wait for its answer.
    LogoutSent {
        /// When.
        at: u64,
    },
    /// We answered the peer's Logout and wait for it to disconnect.
    LogoutAnswered {
        /// When.
        at: u64,
    },
}

/// Outcome of the standard header checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Process the message.
    Ok,
    /// Rejected; its number is consumed, the session goes on.
    Rejected,
    /// Logout sent and the connection dropped.
    TornDown,
}

#[derive(Clone, Copy, Debug)]
struct PendingResend {
    /// Last number the outstanding request covers (its completion point).
    end: u32,
    /// When the request was sent, or when the expected number last moved.
    last_progress: u64,
}

/// Preallocated queue of held (out-of-order) messages: `window` slots of `max` bytes, slot
/// `seq % window`.
struct Held {
    w: u32,
    max: usize,
    bytes: Vec<u8>,
    slots: Vec<Slot>,
    count: u32,
}

#[derive(Clone, Copy, Default)]
struct Slot {
    seq: u32,
    len: u32,
    used: bool,
    /// Already acted on when it arrived (Logon, ResendRequest): consume without processing.
    served: bool,
}

impl Held {
    fn new(w: u32, max: usize) -> Self {
        let w = w.max(1);
        Held {
            w,
            max,
            bytes: vec![0; w as usize * max],
            slots: vec![Slot::default(); w as usize],
            count: 0,
        }
    }

    fn idx(&self, seq: u32) -> usize {
        (seq % self.w) as usize
    }

    fn put(&mut self, seq: u32, msg: &[u8], served: bool) -> bool {
        if msg.len() > self.max {
            return false;
        }
        let i = self.idx(seq);
        if !self.slots[i].used {
            self.count += 1;
        }
        self.bytes[i * self.max..i * self.max + msg.len()].copy_from_slice(msg);
        self.slots[i] = Slot {
            seq,
            len: msg.len() as u32,
            used: true,
            served,
        };
        true
    }

    fn get(&self, seq: u32) -> Option<Slot> {
        let s = self.slots[self.idx(seq)];
        (s.used && s.seq == seq).then_some(s)
    }

    fn msg(&self, seq: u32, len: u32) -> &[u8] {
        let i = self.idx(seq);
        &self.bytes[i * self.max..i * self.max + len as usize]
    }

    fn remove(&mut self, seq: u32) {
        let i = self.idx(seq);
        if self.slots[i].used && self.slots[i].seq == seq {
            self.slots[i].used = false;
            self.count -= 1;
        }
    }

    /// The lowest held number at or above `from`.
    fn lowest_at_or_above(&self, from: u32) -> Option<u32> {
        if self.count == 0 {
            return None;
        }
        self.slots
            .iter()
            .filter(|s| s.used && s.seq >= from)
            .map(|s| s.seq)
            .min()
    }

    /// Drops every held message with seq < `below`; returns how many.
    fn drop_below(&mut self, below: u32) -> u32 {
        if self.count == 0 {
            return 0;
        }
        let mut n = 0;
        for s in self.slots.iter_mut() {
            if s.used && s.seq < below {
                s.used = false;
                n += 1;
            }
        }
        self.count -= n;
        n
    }

    fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            s.used = false;
        }
        self.count = 0;
    }
}

/// Everything but the application and the held queue (so both can be borrowed beside it).
struct Core<S: MessageStore> {
    cfg: SessionConfig,
    store: S,
    state: State,
    /// Encode buffer (max_message_size bytes).
    tx: Vec<u8>,
    /// Encode buffer for the GapFills of a resend (written while `tx` holds the next resent
    /// message; max_message_size bytes).
    gf: Vec<u8>,
    /// Negotiated heartbeat interval in ns (0 = none).
    hb_ns: u64,
    last_sent: u64,
    last_recv: u64,
    test_req_sent: Option<u64>,
    test_req_counter: u64,
    resend: Option<PendingResend>,
    /// Highest MsgSeqNum seen ahead of the expected number (held or beyond the window).
    high_seen: u32,
    /// Our current Logon carried ResetSeqNumFlag=Y.
    sent_reset: bool,
    /// The peer's Logon carried NextExpectedMsgSeqNum.
    peer_uses_789: bool,
    rate_window_start: u64,
    /// Numbers resent in the current one-second window.
    rate_count: u32,
    /// The peer's ResendRequest being served, step by step.
    serving: Option<Serving>,
    /// First MsgSeqNum journaled but not yet written: it waits behind the resend being served
    /// and goes out, as it was journaled, once that is complete.
    queued_from: Option<u32>,
    /// When the last resend step ran.
    step_at: u64,
    /// With `closed_resend_interval`: the lowest number above our outstanding ResendRequests
    /// not yet known to be held or asked for.
    hole_scan: u32,
}

/// A resumable resend: the numbers `scan..=end` are still to be read from the store; the
/// numbers `covered..scan` were read but are admin (or declined) and will be gap-filled.
#[derive(Clone, Copy, Debug)]
struct Serving {
    /// Lowest number asked for (for the event).
    begin: u32,
    /// Last number to serve.
    end: u32,
    /// First number not yet covered on the wire.
    covered: u32,
    /// First number not yet read from the store.
    scan: u32,
    /// Messages resent so far.
    resent: u32,
    /// SequenceReset-GapFills sent so far.
    gap_fills: u32,
}

/// One FIX session: the state machine, its store and its application.
pub struct Session<S: MessageStore, A: Application> {
    core: Core<S>,
    app: A,
    held: Held,
}

/// Hands the application a way to send from inside [`Application::on_message`].
struct Ctx<'a, S: MessageStore, O: SessionOutput> {
    core: &'a mut Core<S>,
    out: &'a mut O,
    now: u64,
}

impl<S: MessageStore, O: SessionOutput> Responder for Ctx<'_, S, O> {
    fn send(
        &mut self,
        msg_type: &[u8],
        body: &mut dyn FnMut(&mut BodyBuilder<'_>),
    ) -> Result<u32, SendError> {
        self.core.send_app(self.now, msg_type, body, self.out)
    }
}

impl<S: MessageStore, A: Application> Session<S, A> {
    /// A disconnected session over `store` (whose numbers it continues from) delivering to `app`.
    /// Allocates the held-message queue (`window * max_message_size` bytes) and the encode buffer
    /// here, once.
    pub fn new(cfg: SessionConfig, store: S, app: A) -> Self {
        let max = cfg.max_message_size.max(128);
        let held = Held::new(cfg.window, max);
        Session {
            core: Core {
                tx: vec![0; max],
                gf: vec![0; max],
                cfg,
                store,
                state: State::Disconnected,
                hb_ns: 0,
                last_sent: 0,
                last_recv: 0,
                test_req_sent: None,
                test_req_counter: 0,
                resend: None,
                high_seen: 0,
                sent_reset: false,
                peer_uses_789: false,
                rate_window_start: 0,
                rate_count: 0,
                serving: None,
                queued_from: None,
                step_at: 0,
                hole_scan: 0,
            },
            app,
            held,
        }
    }

    /// Touches every page of the buffers [`Session::new`] allocated (the held-message queue,
    /// `window * max_message_size` bytes, and the two encode buffers), so that none of them is
    /// first written, and page-faulted in, on the hot path: otherwise the first message held in
    /// each slot costs a page fault (a slot is `max_message_size` bytes, one page at the default
    /// 4 096), which is microseconds in the middle of a gap recovery. Call once, before the
    /// session's traffic; the contents of the buffers are not observable, so this changes
    /// nothing else. Returns the bytes touched. The runtime calls it for every session it
    /// builds; tests and fuzzers that build many short-lived sessions need not.
    pub fn prefault(&mut self) -> usize {
        fn touch(b: &mut [u8]) -> usize {
            // One write per 4 KiB page; `black_box` keeps the stores (the buffer may be fresh
            // zero pages from the allocator, which a store of 0 would still fault in).
            for p in b.chunks_mut(4096) {
                p[0] = std::hint::black_box(0);
            }
            b.len()
        }
        touch(&mut self.held.bytes) + touch(&mut self.core.tx) + touch(&mut self.core.gf)
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.core.cfg
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.core.state
    }

    /// True when logged on (the runtime refuses a second connection for this identity).
    pub fn is_logged_on(&self) -> bool {
        matches!(
            self.core.state,
            State::Active | State::LogoutSent { .. } | State::LogoutAnswered { .. }
        )
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.core.store
    }

    /// The store, mutably (e.g. to flush it from the outer loop).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.core.store
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// The application, mutably.
    pub fn app_mut(&mut self) -> &mut A {
        &mut self.app
    }

    /// Takes the session apart (e.g. to restart it over the same store, as after a crash).
    pub fn into_parts(self) -> (SessionConfig, S, A) {
        (self.core.cfg, self.core.store, self.app)
    }

    /// Number of held out-of-order messages.
    pub fn held_count(&self) -> u32 {
        self.held.count
    }

    /// True while a ResendRequest of ours is outstanding.
    pub fn resend_pending(&self) -> bool {
        self.core.resend.is_some()
    }

    /// True while a ResendRequest of the peer is being served (in steps, continued by
    /// [`Session::on_timer`]) or messages wait behind it to be written.
    pub fn serving_resend(&self) -> bool {
        self.core.serving.is_some() || self.core.queued_from.is_some()
    }

    /// Next MsgSeqNum we will send.
    pub fn next_sender_seq(&self) -> u32 {
        self.core.store.next_sender_seq()
    }

    /// Next MsgSeqNum we will process from the peer.
    pub fn next_target_seq(&self) -> u32 {
        self.core.store.next_target_seq()
    }

    /// A new connection is up. Emits `ResetStream` and `SetExpected` for the sequencer; an
    /// initiator sends its Logon.
    pub fn on_connect(&mut self, now: u64, out: &mut impl SessionOutput) {
        let c = &mut self.core;
        self.held.clear();
        c.resend = None;
        c.serving = None;
        c.queued_from = None;
        c.high_seen = 0;
        c.test_req_sent = None;
        c.sent_reset = false;
        c.peer_uses_789 = false;
        c.last_recv = now;
        c.last_sent = now;
        out.event(&Event::Connected);
        if c.cfg.reset_on_logon {
            if let Err(e) = c.reset_store() {
                out.event(&Event::StoreFailed { error: &e });
                c.drop_connection(now, DisconnectReason::StoreFailure, &mut self.app, out);
                return;
            }
            c.sent_reset = true;
        }
        out.sequencer(SequencerOp::ResetStream);
        out.sequencer(SequencerOp::SetExpected(c.store.next_target_seq()));
        c.state = State::AwaitingLogon { since: now };
        if c.cfg.role == Role::Initiator {
            c.hb_ns = u64::from(c.cfg.heart_bt_int) * NS;
            c.send_logon(now, c.sent_reset, out);
        }
    }

    /// The connection is gone (peer closed, error, or after [`SessionOutput::disconnect`]).
    /// Held messages are dropped (the peer resends them after the next Logon).
    pub fn on_disconnect(&mut self, now: u64, out: &mut impl SessionOutput) {
        if self.core.state == State::Disconnected {
            return;
        }
        self.held.clear();
        self.core.enter_disconnected(now, &mut self.app, out);
        out.event(&Event::Disconnected { reason: None });
    }

    /// Start a Logout with `text` (may be empty); the connection is closed when it is answered
    /// or after `logout_timeout`.
    pub fn logout(&mut self, now: u64, text: &str, out: &mut impl SessionOutput) {
        if matches!(
            self.core.state,
            State::Active | State::LogoutAnswered { .. }
        ) {
            self.core.send_logout(now, text, out);
            self.core.state = State::LogoutSent { at: now };
        } else if matches!(self.core.state, State::AwaitingLogon { .. }) {
            self.disconnect(now, out);
        }
    }

    /// Drop the connection now, without a Logout.
    pub fn disconnect(&mut self, now: u64, out: &mut impl SessionOutput) {
        if self.core.state != State::Disconnected {
            self.held.clear();
            self.core
                .drop_connection(now, DisconnectReason::Requested, &mut self.app, out);
        }
    }

    /// Sends an application message: assigns the next MsgSeqNum, journals it in the store, then
    /// (when logged on) writes it. While not logged on it is journaled only and reaches the peer
    /// as a PossDup resend when the peer asks for it after the next Logon. Returns the MsgSeqNum.
    pub fn send(
        &mut self,
        now: u64,
        msg_type: &[u8],
        mut body: impl FnMut(&mut BodyBuilder<'_>),
        out: &mut impl SessionOutput,
    ) -> Result<u32, SendError> {
        self.core.send_app(now, msg_type, &mut body, out)
    }

    /// The earliest time at which [`Session::on_timer`] has something to do (`None` when
    /// disconnected).
    pub fn next_deadline(&self) -> Option<u64> {
        let c = &self.core;
        match c.state {
            State::Disconnected => None,
            State::AwaitingLogon { since } => {
                Some(since + u64::from(c.cfg.logon_timeout.max(1)) * NS)
            }
            State::LogoutSent { at } | State::LogoutAnswered { at } => {
                // A resend the peer asked for still goes out while the Logout is pending.
                let t = at + u64::from(c.cfg.logout_timeout.max(1)) * NS;
                Some(c.next_step_at().map_or(t, |s| s.min(t)))
            }
            State::Active => {
                let step = c.next_step_at();
                if c.hb_ns == 0 {
                    let stall = c.resend.map(|r| r.last_progress + c.stall_ns());
                    return match (stall, step) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                let mut d = c.last_sent + c.hb_ns;
                if let Some(t) = step {
                    d = d.min(t);
                }
                d = d.min(match c.test_req_sent {
                    Some(t) => t + c.hb_ns,
                    None => c.last_recv + c.hb_ns + c.hb_ns / 5,
                });
                if let Some(r) = c.resend {
                    d = d.min(r.last_progress + c.stall_ns());
                }
                Some(d)
            }
        }
    }

    /// Timer tick: heartbeats, TestRequests, logon/logout timeouts, stalled resend recovery.
    pub fn on_timer(&mut self, now: u64, out: &mut impl SessionOutput) {
        let c = &mut self.core;
        match c.state {
            State::Disconnected => {}
            State::AwaitingLogon { since } => {
                if now.saturating_sub(since) >= u64::from(c.cfg.logon_timeout.max(1)) * NS {
                    self.held.clear();
                    c.drop_connection(now, DisconnectReason::LogonTimeout, &mut self.app, out);
                }
            }
            State::LogoutSent { at } => {
                if now.saturating_sub(at) >= u64::from(c.cfg.logout_timeout.max(1)) * NS {
                    self.held.clear();
                    c.drop_connection(now, DisconnectReason::LogoutTimeout, &mut self.app, out);
                } else {
                    c.pump(now, &mut self.app, out);
                }
            }
            State::LogoutAnswered { at } => {
                if now.saturating_sub(at) >= u64::from(c.cfg.logout_timeout.max(1)) * NS {
                    self.held.clear();
                    c.drop_connection(now, DisconnectReason::PeerLogoutLinger, &mut self.app, out);
                } else {
                    c.pump(now, &mut self.app, out);
                }
            }
            State::Active => {
                // The next step of a resend being served (and what waits behind it).
                c.pump(now, &mut self.app, out);
                if c.state != State::Active {
                    self.held.clear();
                    return;
                }
                let hb = c.hb_ns;
                if hb > 0 {
                    if let Some(t) = c.test_req_sent {
                        if now.saturating_sub(t) >= hb {
                            self.held.clear();
                            c.drop_connection(
                                now,
                                DisconnectReason::HeartbeatTimeout,
                                &mut self.app,
                                out,
                            );
                            return;
                        }
                    } else if now.saturating_sub(c.last_recv) >= hb + hb / 5 {
                        c.test_req_counter += 1;
                        let id = c.test_req_counter;
                        let (digits, n) = u64_text(id);
                        let mut text = [0u8; 24];
                        text[..4].copy_from_slice(b"TEST");
                        text[4..4 + n].copy_from_slice(&digits[..n]);
                        c.send_admin(now, b"1", out, &mut |b| {
                            b.field(112, &text[..4 + n]);
                        });
                        c.test_req_sent = Some(now);
                        out.event(&Event::TestRequestSent);
                    }
                    if c.state == State::Active && now.saturating_sub(c.last_sent) >= hb {
                        c.send_admin(now, b"0", out, &mut |_| {});
                    }
                }
                // A resend that stopped making progress is asked for again.
                if let Some(r) = c.resend {
                    let stall = c.stall_ns();
                    if c.state == State::Active && now.saturating_sub(r.last_progress) >= stall {
                        c.resend = None;
                        c.request_resend(now, &self.held, out);
                    }
                }
            }
        }
    }

    /// One received message with its sequencer verdict. `msg` is the message's bytes (the
    /// verdict's `length` bytes at its `offset`).
    pub fn on_verdict(&mut self, now: u64, v: &Verdict, msg: &[u8], out: &mut impl SessionOutput) {
        self.verdict(now, v, msg, out);
        if self.core.state == State::Disconnected {
            self.held.clear();
        }
    }

    fn verdict(&mut self, now: u64, v: &Verdict, msg: &[u8], out: &mut impl SessionOutput) {
        if self.core.state == State::Disconnected {
            out.event(&Event::IgnoredWhileDisconnected);
            return;
        }
        let kind = match v.kind() {
            Some(k) => k,
            None => {
                out.event(&Event::CorruptVerdict { kind: v.kind });
                return;
            }
        };
        if kind == Kind::Garbled {
            out.event(&Event::Garbled {
                reason: Reason::from_bits(v.reason).unwrap_or(Reason::None),
                offset: v.offset,
                length: v.length,
            });
            return;
        }
        let c = &mut self.core;
        c.last_recv = now;
        c.test_req_sent = None;
        let awaiting = matches!(c.state, State::AwaitingLogon { .. });
        if !awaiting && v.expected_before != c.store.next_target_seq() {
            // The sequencer and the store disagree (a lost SetExpected, or a corrupt record):
            // worth an alarm. The verdict is still acted on.
            out.event(&Event::SequencerMismatch {
                sequencer: v.expected_before,
                store: c.store.next_target_seq(),
            });
        }
        let is_logon = v.msg_type() == b"A";
        if awaiting && !is_logon {
            out.event(&Event::LogonRefused {
                why: "first message is not a Logon",
            });
            self.held.clear();
            c.drop_connection(
                now,
                DisconnectReason::FirstMessageNotLogon,
                &mut self.app,
                out,
            );
            return;
        }
        match kind {
            Kind::Garbled => {}
            Kind::InvalidSeq => {
                if awaiting {
                    out.event(&Event::LogonRefused {
                        why: "Logon without a valid MsgSeqNum",
                    });
                    c.drop_connection(now, DisconnectReason::SeqInvalid, &mut self.app, out);
                } else {
                    let text = if v.reason == vreason::SEQ_MISSING {
                        "MsgSeqNum(34) missing"
                    } else {
                        "MsgSeqNum(34) invalid"
                    };
                    c.send_logout(now, text, out);
                    self.held.clear();
                    c.drop_connection(now, DisconnectReason::SeqInvalid, &mut self.app, out);
                }
            }
            Kind::TooLow => {
                let mut text = [0u8; 96];
                let n = too_low_text(&mut text, v.expected_before, v.seq);
                let text = std::str::from_utf8(&text[..n]).unwrap_or("MsgSeqNum too low");
                c.send_logout(now, text, out);
                self.held.clear();
                c.drop_connection(now, DisconnectReason::SeqTooLow, &mut self.app, out);
            }
            Kind::Duplicate => {
                if awaiting {
                    // A PossDup Logon below the expected number: treat as too low.
                    let mut text = [0u8; 96];
                    let n = too_low_text(&mut text, v.expected_before, v.seq);
                    let text = std::str::from_utf8(&text[..n]).unwrap_or("MsgSeqNum too low");
                    c.send_logout(now, text, out);
                    c.drop_connection(now, DisconnectReason::SeqTooLow, &mut self.app, out);
                    return;
                }
                if v.seq < v.expected_before && v.flags.has(Flags::POSS_DUP) {
                    let s = Scan::of(msg);
                    if !c.check_orig_sending_time(now, v.seq, &s, out) {
                        self.held.clear();
                        c.drop_connection(
                            now,
                            DisconnectReason::BadSendingTime,
                            &mut self.app,
                            out,
                        );
                        return;
                    }
                }
                out.event(&Event::Duplicate { seq: v.seq });
            }
            Kind::BeyondWindow => {
                if awaiting {
                    // A Logon far ahead: answer it, then ask for everything.
                    self.logon_received(now, v, msg, false, out);
                    return;
                }
                out.event(&Event::BeyondWindow {
                    expected: v.expected_before,
                    received: v.seq,
                });
                if v.msg_type() == b"2" {
                    // Rule 9: serve theirs, then request ours. It is not held, so it would
                    // only come back as a gap fill: serve it now.
                    let s = Scan::of(msg);
                    c.serve_resend_request(now, v.seq, &s, &mut self.app, out);
                }
                c.note_ahead(v.seq);
                if c.resend.is_none() && c.state == State::Active {
                    c.request_resend(now, &self.held, out);
                }
            }
            Kind::Gap => {
                if awaiting {
                    self.logon_received(now, v, msg, true, out);
                    return;
                }
                out.event(&Event::Gap {
                    expected: v.expected_before,
                    received: v.seq,
                });
                let mut served = false;
                if v.msg_type() == b"2" {
                    let s = Scan::of(msg);
                    c.serve_resend_request(now, v.seq, &s, &mut self.app, out);
                    served = true;
                }
                if !self.held.put(v.seq, msg, served) {
                    // Longer than a slot: cannot happen with a sequencer configured with the
                    // same MAX_MSG; the message will be requested again.
                    out.event(&Event::BeyondWindow {
                        expected: v.expected_before,
                        received: v.seq,
                    });
                }
                let c = &mut self.core;
                c.note_ahead(v.seq);
                if c.state == State::Active {
                    if c.resend.is_none() {
                        c.request_resend(now, &self.held, out);
                    } else if c.cfg.closed_resend_interval {
                        c.request_new_hole(now, v.seq, &self.held, out);
                    }
                }
            }
            Kind::InOrder => {
                if awaiting {
                    self.logon_received(now, v, msg, false, out);
                } else {
                    self.process_in_order(now, v.seq, msg, out);
                }
                self.release(now, v.seq.saturating_add(1), v.expected_after, out);
            }
            Kind::GapFill => {
                let s = Scan::of(msg);
                if c.header_ok(now, v.seq, &s, &mut self.app, out) == Check::TornDown {
                    self.held.clear();
                    return;
                }
                let from = match v.reason {
                    vreason::NEW_SEQ_NO_MISSING => {
                        c.reject(
                            now,
                            v.seq,
                            b"4",
                            36,
                            1,
                            "NewSeqNo(36) missing or invalid",
                            out,
                        );
                        v.seq.saturating_add(1)
                    }
                    vreason::NEW_SEQ_NO_NOT_GREATER => {
                        c.reject(
                            now,
                            v.seq,
                            b"4",
                            36,
                            5,
                            "NewSeqNo(36) not greater than MsgSeqNum(34)",
                            out,
                        );
                        v.seq.saturating_add(1)
                    }
                    _ if v.new_seq_no > v.seq => {
                        out.event(&Event::SequenceReset {
                            new_seq_no: v.new_seq_no,
                            gap_fill: true,
                        });
                        v.new_seq_no
                    }
                    // Inconsistent record (NewSeqNo not above MsgSeqNum without the reason):
                    // never move backwards.
                    _ => v.seq.saturating_add(1),
                };
                c.set_target(now, from, &mut self.app, out);
                let dropped = self.held.drop_below(from);
                if dropped > 0 {
                    out.event(&Event::HeldDropped { count: dropped });
                }
                self.release(now, from, v.expected_after, out);
            }
            Kind::Reset => match v.reason {
                vreason::NEW_SEQ_NO_MISSING => {
                    c.reject(
                        now,
                        v.seq,
                        b"4",
                        36,
                        1,
                        "NewSeqNo(36) missing or invalid",
                        out,
                    );
                }
                vreason::NEW_SEQ_NO_LOWER => {
                    c.reject(
                        now,
                        v.seq,
                        b"4",
                        36,
                        5,
                        "NewSeqNo(36) lower than the expected MsgSeqNum",
                        out,
                    );
                }
                vreason::NEW_SEQ_NO_EQUAL => {
                    out.event(&Event::SequenceResetNoChange {
                        new_seq_no: v.new_seq_no,
                    });
                }
                _ if v.new_seq_no <= c.store.next_target_seq() => {
                    // Inconsistent record: never move the expected number backwards.
                    out.event(&Event::SequenceResetNoChange {
                        new_seq_no: v.new_seq_no,
                    });
                }
                _ => {
                    out.event(&Event::SequenceReset {
                        new_seq_no: v.new_seq_no,
                        gap_fill: false,
                    });
                    let n = v.new_seq_no;
                    c.set_target(now, n, &mut self.app, out);
                    let dropped = self.held.drop_below(n);
                    if dropped > 0 {
                        out.event(&Event::HeldDropped { count: dropped });
                    }
                    self.release(now, n, v.expected_after, out);
                }
            },
        }
        self.core.check_resend_progress(now, &self.held, out);
    }

    /// Delivers held messages `from .. until` (exclusive) in order.
    fn release(&mut self, now: u64, from: u32, until: u32, out: &mut impl SessionOutput) {
        // A released run never exceeds the window (held numbers lie in [E, E+W)); the bound
        // also keeps an inconsistent record from looping over billions of numbers.
        let until = until.min(from.saturating_add(self.held.w));
        let mut s = from;
        while s < until {
            if self.core.state == State::Disconnected {
                return;
            }
            let Some(slot) = self.held.get(s) else {
                // Covered by a held GapFill's range: nothing to deliver.
                s += 1;
                continue;
            };
            self.held.remove(s);
            // Copy-free: the slot's bytes stay valid until another put to the same slot, which
            // cannot happen inside this loop (no verdict is processed here).
            let len = slot.len;
            if slot.served {
                self.core.set_target(now, s + 1, &mut self.app, out);
                s += 1;
                continue;
            }
            // Split borrow: the held bytes are read while the core and app are mutated.
            let Session { core, app, held } = self;
            let msg = held.msg(s, len);
            let next = core.process_held(now, s, msg, until, app, out);
            if next > s + 1 {
                let dropped = held.drop_below(next.min(until));
                if dropped > 0 {
                    out.event(&Event::HeldDropped { count: dropped });
                }
            }
            if next > until && next != u32::MAX {
                // A held GapFill reaching past what the sequencer released: it was held when its
                // NewSeqNo lay beyond the window, so the sequencer marked its range only up to
                // the window's end (docs/sequencer.md section 4 rule 6) and now expects `until`.
                // The target stopped there too (`process_held`), so both agree; the numbers
                // `until .. next` exist at the peer (the GapFill says so): ask for them now
                // rather than after the stall timeout (the peer answers with a GapFill).
                core.note_ahead(next - 1);
                core.resend = None;
                out.event(&Event::GapFillBeyondWindow {
                    released: until,
                    new_seq_no: next,
                });
                return;
            }
            s = next;
        }
    }

    fn process_in_order(&mut self, now: u64, seq: u32, msg: &[u8], out: &mut impl SessionOutput) {
        let Session { core, app, held } = self;
        core.process_message(now, seq, msg, app, out);
        if core.state == State::Disconnected {
            held.clear();
        }
    }

    /// A Logon while waiting for one. `held` says whether the verdict was GAP (hold it as
    /// served).
    fn logon_received(
        &mut self,
        now: u64,
        v: &Verdict,
        msg: &[u8],
        gap: bool,
        out: &mut impl SessionOutput,
    ) {
        let Session { core: c, app, held } = self;
        let s = Scan::of(msg);
        // Identity: unknown BeginString or CompIDs get no answer.
        if s.begin_string != Some(c.cfg.begin_string.as_bytes())
            || s.sender != Some(c.cfg.target_comp_id.as_bytes())
            || s.target != Some(c.cfg.sender_comp_id.as_bytes())
        {
            out.event(&Event::LogonRefused {
                why: "BeginString or CompIDs not configured for this session",
            });
            c.drop_connection(now, DisconnectReason::UnknownIdentity, app, out);
            return;
        }
        if !app.authenticate(s.username, s.password) {
            out.event(&Event::LogonRefused {
                why: "authentication refused",
            });
            c.drop_connection(now, DisconnectReason::AuthenticationFailed, app, out);
            return;
        }
        let hb = s.heart_bt_int.and_then(parse_u32);
        let Some(hb) = hb else {
            c.reject(
                now,
                v.seq,
                b"A",
                108,
                1,
                "HeartBtInt(108) missing or invalid",
                out,
            );
            c.send_logout(now, "HeartBtInt(108) missing or invalid", out);
            c.drop_connection(now, DisconnectReason::BadLogon, app, out);
            return;
        };
        if !c.sending_time_ok(now, v.seq, b"A", &s, out) {
            c.send_logout(now, "SendingTime accuracy problem", out);
            c.drop_connection(now, DisconnectReason::BadSendingTime, app, out);
            return;
        }
        let peer_reset = v.flags.has(Flags::RESET_SEQ_NUM) || s.reset_seq_num;
        let mut reset = false;
        if peer_reset && !c.sent_reset {
            // The peer resets both sides: our numbers restart at 1 too. The sequencer already
            // set its expected number from this Logon (docs/sequencer.md section 4 rule 1).
            if let Err(e) = c.reset_store() {
                out.event(&Event::StoreFailed { error: &e });
                c.drop_connection(now, DisconnectReason::StoreFailure, app, out);
                return;
            }
            reset = true;
        }
        reset |= c.sent_reset && peer_reset;
        if c.cfg.role == Role::Acceptor {
            c.hb_ns = u64::from(hb) * NS;
        }
        // The Logon consumes its number when in order; when ahead it is held as served.
        if gap {
            held.put(v.seq, msg, true);
            c.note_ahead(v.seq);
        } else if v.kind() == Some(Kind::BeyondWindow) {
            c.note_ahead(v.seq);
        } else if !c.set_target(now, v.seq.saturating_add(1), app, out) {
            return;
        }
        let peer_next = s.next_expected.and_then(parse_u32);
        c.peer_uses_789 = c.cfg.enable_next_expected_msg_seq_num && peer_next.is_some();
        if c.cfg.role == Role::Acceptor {
            // Answer with the same ResetSeqNumFlag.
            c.send_logon(now, peer_reset, out);
        }
        if c.state == State::Disconnected {
            return;
        }
        c.state = State::Active;
        c.last_recv = now;
        out.event(&Event::LoggedOn {
            heart_bt_int: (c.hb_ns / NS) as u32,
            reset,
        });
        app.on_logon(now);
        // Act on the peer's NextExpectedMsgSeqNum: resend what it lacks before our Logon.
        if c.peer_uses_789 {
            if let Some(n) = peer_next {
                let our_logon = c.store.next_sender_seq().saturating_sub(1);
                if n > our_logon + 1 || n == 0 {
                    c.send_logout(now, "NextExpectedMsgSeqNum(789) too high", out);
                    c.drop_connection(now, DisconnectReason::NextExpectedTooHigh, app, out);
                    return;
                }
                if n < our_logon {
                    c.start_serving(now, n, our_logon - 1, app, out);
                }
            }
        }
        // Logon ahead of the expected number: request the gap (unless the peer, told our
        // NextExpectedMsgSeqNum, resends on its own).
        if gap || v.kind() == Some(Kind::BeyondWindow) {
            if c.peer_uses_789 {
                c.resend = Some(PendingResend {
                    end: c.high_seen,
                    last_progress: now,
                });
            } else {
                c.request_resend(now, held, out);
            }
        }
    }
}

/// SequenceReset-GapFill (PossDupFlag=Y) with MsgSeqNum `from` and NewSeqNo `to`.
fn encode_gap_fill(
    tx: &mut [u8],
    cfg: &SessionConfig,
    now: u64,
    from: u32,
    to: u32,
) -> Result<std::ops::Range<usize>, EncodeError> {
    let mut orig = [0u8; 32];
    let n = format_timestamp(now, cfg.timestamp_precision, &mut orig);
    let h = Header {
        begin_string: cfg.begin_string.as_bytes(),
        sender: cfg.sender_comp_id.as_bytes(),
        target: cfg.target_comp_id.as_bytes(),
        msg_type: b"4",
        seq: from,
        sending_time: now,
        precision: cfg.timestamp_precision,
        poss_dup: Some(&orig[..n]),
    };
    encode(tx, &h, &mut |b| {
        b.field(123, b"Y").field_u64(36, u64::from(to));
    })
}

/// Decimal text of `v`: (buffer, length).
fn u64_text(v: u64) -> ([u8; 20], usize) {
    let mut tmp = [0u8; 20];
    let mut n = 0;
    let mut x = v;
    let mut rev = [0u8; 20];
    loop {
        rev[n] = b'0' + (x % 10) as u8;
        n += 1;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    for i in 0..n {
        tmp[i] = rev[n - 1 - i];
    }
    (tmp, n)
}

/// "MsgSeqNum too low, expecting X but received Y" into `buf`.
fn too_low_text(buf: &mut [u8; 96], expected: u32, got: u32) -> usize {
    let mut n = 0;
    let mut put = |b: &[u8]| {
        buf[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    };
    put(b"MsgSeqNum too low, expecting ");
    let (t, l) = u64_text(u64::from(expected));
    put(&t[..l]);
    put(b" but received ");
    let (t, l) = u64_text(u64::from(got));
    put(&t[..l]);
    n
}

impl<S: MessageStore> Core<S> {
    /// How long an outstanding ResendRequest may go without progress before it is sent again.
    fn stall_ns(&self) -> u64 {
        if self.hb_ns > 0 {
            self.hb_ns
        } else {
            2 * NS
        }
    }

    /// Both numbers back to 1: nothing journaled before is served or written any more.
    fn reset_store(&mut self) -> Result<(), StoreError> {
        self.serving = None;
        self.queued_from = None;
        self.store.reset()
    }

    /// Writes a message just journaled, or leaves it journaled for [`Core::pump`] to write
    /// after the resend being served (so our numbers stay in order on the wire). A Reject or a
    /// Logout is written at once (with whatever already waits, first): it answers something now
    /// and often precedes a disconnect; the peer holds it like any message ahead of its expected
    /// number.
    fn write_or_queue(
        &mut self,
        now: u64,
        seq: u32,
        msg_type: &[u8],
        range: std::ops::Range<usize>,
        out: &mut impl SessionOutput,
    ) {
        let behind = self.serving.is_some() || self.queued_from.is_some();
        if behind && !matches!(msg_type, b"3" | b"5") {
            if self.queued_from.is_none() {
                self.queued_from = Some(seq);
            }
            out.event(&Event::Queued { seq });
        } else {
            if let Some(q) = self.queued_from.take() {
                // What waits goes first, so that no number is written twice or out of order
                // among our own messages (the resend in progress may still be below them).
                let r = self
                    .store
                    .for_each_in_range(q, seq.saturating_sub(1), &mut |_, m| {
                        out.send_bytes(m);
                        true
                    });
                if let Err(e) = r {
                    out.event(&Event::StoreFailed { error: &e });
                }
            }
            out.send_bytes(&self.tx[range]);
        }
        self.last_sent = now;
    }

    /// When [`Session::on_timer`] should run the next resend step: at once while a resend (or
    /// what waits behind it) is pending and the per-second budget allows, else at the start of
    /// the next one-second window.
    fn next_step_at(&self) -> Option<u64> {
        match self.serving {
            Some(c) => {
                let limited = self.cfg.max_resends_per_second > 0
                    && self.rate_count >= self.cfg.max_resends_per_second
                    && c.scan <= c.end;
                Some(if limited {
                    self.rate_window_start + NS
                } else {
                    self.step_at
                })
            }
            None => self.queued_from.map(|_| self.step_at),
        }
    }

    /// Encodes, journals and sends a session-level message. Failures disconnect.
    fn send_admin(
        &mut self,
        now: u64,
        msg_type: &[u8],
        out: &mut impl SessionOutput,
        body: &mut dyn FnMut(&mut BodyBuilder<'_>),
    ) -> bool {
        match self.journal(now, msg_type, body) {
            Ok((seq, range)) => {
                self.write_or_queue(now, seq, msg_type, range, out);
                true
            }
            Err(SendError::Store(e)) => {
                out.event(&Event::StoreFailed { error: &e });
                self.state = State::Disconnected;
                out.disconnect(DisconnectReason::StoreFailure);
                false
            }
            Err(SendError::Encode(e)) => {
                out.event(&Event::EncodeFailed { error: e });
                false
            }
            Err(SendError::AdminType) => false,
            Err(SendError::SeqExhausted { .. }) => {
                self.state = State::Disconnected;
                out.disconnect(DisconnectReason::SeqExhausted);
                false
            }
        }
    }

    /// Assigns the next number, encodes into `tx` and appends to the store.
    fn journal(
        &mut self,
        now: u64,
        msg_type: &[u8],
        body: &mut dyn FnMut(&mut BodyBuilder<'_>),
    ) -> Result<(u32, std::ops::Range<usize>), SendError> {
        let seq = self.store.next_sender_seq();
        if seq > MAX_SEQ_NUM {
            return Err(SendError::SeqExhausted { next: seq });
        }
        let limit = self.tx.len() - RESEND_HEADROOM.min(self.tx.len() / 2);
        let h = Header {
            begin_string: self.cfg.begin_string.as_bytes(),
            sender: self.cfg.sender_comp_id.as_bytes(),
            target: self.cfg.target_comp_id.as_bytes(),
            msg_type,
            seq,
            sending_time: now,
            precision: self.cfg.timestamp_precision,
            poss_dup: None,
        };
        let range = encode(&mut self.tx[..limit], &h, body).map_err(SendError::Encode)?;
        self.store
            .append(seq, &self.tx[range.clone()])
            .map_err(SendError::Store)?;
        Ok((seq, range))
    }

    fn send_app(
        &mut self,
        now: u64,
        msg_type: &[u8],
        body: &mut dyn FnMut(&mut BodyBuilder<'_>),
        out: &mut impl SessionOutput,
    ) -> Result<u32, SendError> {
        if wire::is_admin(msg_type) {
            return Err(SendError::AdminType);
        }
        let (seq, range) = self.journal(now, msg_type, body)?;
        if matches!(self.state, State::Active | State::LogoutAnswered { .. }) {
            self.write_or_queue(now, seq, msg_type, range, out);
        } else {
            out.event(&Event::Queued { seq });
        }
        Ok(seq)
    }

    fn send_logon(&mut self, now: u64, reset: bool, out: &mut impl SessionOutput) {
        let hb = if self.cfg.role == Role::Acceptor {
            self.hb_ns / NS
        } else {
            u64::from(self.cfg.heart_bt_int)
        };
        let next_expected = self.store.next_target_seq();
        let use_789 = self.cfg.enable_next_expected_msg_seq_num;
        let user = self.cfg.username.clone().unwrap_or_default();
        let pass = self.cfg.password.clone().unwrap_or_default();
        self.send_admin(now, b"A", out, &mut |b| {
            b.field(98, b"0").field_u64(108, hb);
            if reset {
                b.field(141, b"Y");
            }
            if use_789 {
                b.field_u64(789, u64::from(next_expected));
            }
            if !user.is_empty() {
                b.field(553, user.as_bytes());
            }
            if !pass.is_empty() {
                b.field(554, pass.as_bytes());
            }
        });
    }

    fn send_logout(&mut self, now: u64, text: &str, out: &mut impl SessionOutput) {
        self.send_admin(now, b"5", out, &mut |b| {
            if !text.is_empty() {
                b.field(58, text.as_bytes());
            }
        });
        out.event(&Event::LogoutSent { text });
    }

    #[allow(clippy::too_many_arguments)]
    fn reject(
        &mut self,
        now: u64,
        ref_seq: u32,
        ref_type: &[u8],
        ref_tag: u32,
        reason: u32,
        text: &str,
        out: &mut impl SessionOutput,
    ) {
        self.send_admin(now, b"3", out, &mut |b| {
            b.field_u64(45, u64::from(ref_seq));
            if ref_tag != 0 {
                b.field_u64(371, u64::from(ref_tag));
            }
            if !ref_type.is_empty() && !ref_type.contains(&wire::SOH) {
                b.field(372, ref_type);
            }
            b.field_u64(373, u64::from(reason))
                .field(58, text.as_bytes());
        });
        out.event(&Event::RejectSent {
            ref_seq,
            reason,
            text,
        });
    }

    /// Moves to Disconnected and tells the runtime.
    fn drop_connection(
        &mut self,
        now: u64,
        reason: DisconnectReason,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) {
        if self.state == State::Disconnected {
            return;
        }
        if reason == DisconnectReason::LogoutComplete && self.cfg.reset_on_logout {
            if let Err(e) = self.reset_store() {
                out.event(&Event::StoreFailed { error: &e });
            }
        }
        self.enter_disconnected(now, app, out);
        out.disconnect(reason);
        out.event(&Event::Disconnected {
            reason: Some(reason),
        });
    }

    fn enter_disconnected(
        &mut self,
        now: u64,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) {
        let was_logged_on = matches!(
            self.state,
            State::Active | State::LogoutSent { .. } | State::LogoutAnswered { .. }
        );
        self.state = State::Disconnected;
        self.resend = None;
        self.serving = None;
        self.queued_from = None;
        self.test_req_sent = None;
        if self.cfg.reset_on_disconnect {
            if let Err(e) = self.reset_store() {
                out.event(&Event::StoreFailed { error: &e });
            }
        }
        if was_logged_on {
            app.on_logout(now);
        }
    }

    /// Persists the next number to process. False (and disconnected) on store failure.
    fn set_target(
        &mut self,
        now: u64,
        next: u32,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) -> bool {
        if self.store.next_target_seq() == next {
            return true;
        }
        if next > self.store.next_target_seq() {
            if let Some(r) = self.resend.as_mut() {
                r.last_progress = now;
            }
        }
        match self.store.set_next_target_seq(next) {
            Ok(()) => true,
            Err(e) => {
                out.event(&Event::StoreFailed { error: &e });
                self.drop_connection(now, DisconnectReason::StoreFailure, app, out);
                false
            }
        }
    }

    fn note_ahead(&mut self, seq: u32) {
        self.high_seen = self.high_seen.max(seq);
    }

    /// Sends a ResendRequest for the gap starting at the next number to process. EndSeqNo is 0
    /// (everything from BeginSeqNo on) unless `closed_resend_interval` (then the number below
    /// the lowest held message, or the highest number seen ahead when none is held) or
    /// `resend_request_chunk_size` (at most that many numbers) close the range.
    fn request_resend(&mut self, now: u64, held: &Held, out: &mut impl SessionOutput) {
        let begin = self.store.next_target_seq();
        if self.high_seen < begin {
            return;
        }
        let chunk = self.cfg.resend_request_chunk_size;
        let mut end = self.high_seen;
        if self.cfg.closed_resend_interval {
            if let Some(h) = held.lowest_at_or_above(begin) {
                // `h > begin`: the expected number itself is never held.
                end = end.min(h.saturating_sub(1).max(begin));
            }
        }
        if chunk > 0 {
            end = end.min(begin.saturating_add(chunk - 1));
        }
        let end_field = if chunk == 0 && !self.cfg.closed_resend_interval {
            0
        } else {
            end
        };
        self.send_admin(now, b"2", out, &mut |b| {
            b.field_u64(7, u64::from(begin))
                .field_u64(16, u64::from(end_field));
        });
        self.resend = Some(PendingResend {
            end,
            last_progress: now,
        });
        self.hole_scan = end.saturating_add(1);
        out.event(&Event::ResendRequested {
            begin,
            end: end_field,
        });
    }

    /// With `closed_resend_interval`, while a request is outstanding: a message held at `seq`
    /// shows a new hole when numbers between our requests and `seq` are neither held nor asked
    /// for (a second loss within a round trip). It is asked for at once rather than after the
    /// outstanding request completes, so losses closer together than a round trip cost one round
    /// trip each, not one after the other.
    fn request_new_hole(&mut self, now: u64, seq: u32, held: &Held, out: &mut impl SessionOutput) {
        let Some(r) = self.resend else {
            return;
        };
        if self.cfg.resend_request_chunk_size > 0 {
            // Chunked requests go one after the other, each when the previous is complete.
            return;
        }
        let mut m = self.hole_scan.max(r.end.saturating_add(1));
        // Amortised: `hole_scan` only moves up, over held numbers.
        while m < seq && held.get(m).is_some() {
            m += 1;
        }
        self.hole_scan = m;
        if m >= seq {
            return;
        }
        let mut end = seq - 1;
        if let Some(h) = held.lowest_at_or_above(m) {
            end = end.min(h.saturating_sub(1).max(m));
        }
        self.send_admin(now, b"2", out, &mut |b| {
            b.field_u64(7, u64::from(m)).field_u64(16, u64::from(end));
        });
        self.resend = Some(PendingResend {
            end: r.end.max(end),
            last_progress: r.last_progress,
        });
        self.hole_scan = end.saturating_add(1);
        out.event(&Event::ResendRequested { begin: m, end });
    }

    /// After a verdict: complete the outstanding request, ask for the next chunk or for what is
    /// still missing.
    fn check_resend_progress(&mut self, now: u64, held: &Held, out: &mut impl SessionOutput) {
        if self.state != State::Active {
            return;
        }
        let next = self.store.next_target_seq();
        if let Some(r) = self.resend {
            if next > r.end {
                self.resend = None;
            }
        }
        if self.resend.is_none() && self.high_seen >= next {
            self.request_resend(now, held, out);
        }
    }

    /// Checks OrigSendingTime of a PossDup message; false means Logout sent (caller
    /// disconnects).
    fn check_orig_sending_time(
        &mut self,
        now: u64,
        seq: u32,
        s: &Scan<'_>,
        out: &mut impl SessionOutput,
    ) -> bool {
        let msg_type = s.msg_type.unwrap_or(b"");
        match (s.orig_sending_time_ns(), s.sending_time_ns()) {
            (None, _) => {
                self.reject(
                    now,
                    seq,
                    msg_type,
                    122,
                    1,
                    "OrigSendingTime(122) required with PossDupFlag=Y",
                    out,
                );
                true
            }
            (Some(orig), Some(sent)) if orig > sent => {
                self.reject(
                    now,
                    seq,
                    msg_type,
                    122,
                    10,
                    "OrigSendingTime(122) later than SendingTime(52)",
                    out,
                );
                self.send_logout(now, "SendingTime accuracy problem", out);
                false
            }
            _ => true,
        }
    }

    /// SendingTime present and within tolerance; otherwise a Reject (the caller sends Logout
    /// and disconnects when false).
    fn sending_time_ok(
        &mut self,
        now: u64,
        seq: u32,
        msg_type: &[u8],
        s: &Scan<'_>,
        out: &mut impl SessionOutput,
    ) -> bool {
        match s.sending_time_ns() {
            None => {
                let (reason, text) = if s.sending_time.is_none() {
                    (1, "SendingTime(52) missing")
                } else {
                    (6, "SendingTime(52) not a UTCTimestamp")
                };
                self.reject(now, seq, msg_type, 52, reason, text, out);
                false
            }
            Some(t) => {
                if self.cfg.check_latency && t.abs_diff(now) > u64::from(self.cfg.max_latency) * NS
                {
                    self.reject(
                        now,
                        seq,
                        msg_type,
                        52,
                        10,
                        "SendingTime accuracy problem",
                        out,
                    );
                    false
                } else {
                    true
                }
            }
        }
    }

    /// Standard header checks of an in-order message (its number is consumed whatever the
    /// outcome).
    fn header_ok(
        &mut self,
        now: u64,
        seq: u32,
        s: &Scan<'_>,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) -> Check {
        let msg_type = s.msg_type.unwrap_or(b"");
        if s.begin_string != Some(self.cfg.begin_string.as_bytes()) {
            self.set_target(now, seq.saturating_add(1), app, out);
            self.send_logout(now, "Incorrect BeginString", out);
            self.drop_connection(now, DisconnectReason::BadBeginString, app, out);
            return Check::TornDown;
        }
        if s.sender != Some(self.cfg.target_comp_id.as_bytes())
            || s.target != Some(self.cfg.sender_comp_id.as_bytes())
        {
            self.set_target(now, seq.saturating_add(1), app, out);
            let tag = if s.sender != Some(self.cfg.target_comp_id.as_bytes()) {
                49
            } else {
                56
            };
            self.reject(now, seq, msg_type, tag, 9, "CompID problem", out);
            self.send_logout(now, "CompID problem", out);
            self.drop_connection(now, DisconnectReason::BadCompId, app, out);
            return Check::TornDown;
        }
        if s.sending_time_ns().is_none() {
            // Missing or malformed: Reject (373=1 / 373=6), the message is consumed, the session
            // goes on.
            self.set_target(now, seq.saturating_add(1), app, out);
            self.sending_time_ok(now, seq, msg_type, s, out);
            return Check::Rejected;
        }
        if !self.sending_time_ok(now, seq, msg_type, s, out) {
            self.set_target(now, seq.saturating_add(1), app, out);
            self.send_logout(now, "SendingTime accuracy problem", out);
            self.drop_connection(now, DisconnectReason::BadSendingTime, app, out);
            return Check::TornDown;
        }
        if s.poss_dup {
            let orig = s.orig_sending_time_ns();
            if orig.is_none() || orig > s.sending_time_ns() {
                self.set_target(now, seq.saturating_add(1), app, out);
                if !self.check_orig_sending_time(now, seq, s, out) {
                    self.drop_connection(now, DisconnectReason::BadSendingTime, app, out);
                    return Check::TornDown;
                }
                return Check::Rejected;
            }
        }
        Check::Ok
    }

    /// A held message now in order. Returns the next number to look at (past a GapFill's range;
    /// `u32::MAX` when torn down). The target moves at most to `released` (the sequencer's
    /// `expected_after`): a held GapFill whose NewSeqNo lies beyond it returns its NewSeqNo but
    /// sets the target to `released`, so that the session never runs ahead of the sequencer.
    fn process_held(
        &mut self,
        now: u64,
        seq: u32,
        msg: &[u8],
        released: u32,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) -> u32 {
        let s = Scan::of(msg);
        if s.msg_type == Some(b"4") {
            // A Reject for a bad header (number consumed) does not void the GapFill: the
            // sequencer has already advanced over its range, as for one that arrives in order.
            if self.header_ok(now, seq, &s, app, out) == Check::TornDown {
                return u32::MAX;
            }
            let n = s.new_seq_no.and_then(parse_u32);
            if s.gap_fill {
                match n {
                    Some(n) if n > seq => {
                        out.event(&Event::SequenceReset {
                            new_seq_no: n,
                            gap_fill: true,
                        });
                        self.set_target(now, n.min(released.max(seq + 1)), app, out);
                        return n;
                    }
                    _ => {
                        self.reject(
                            now,
                            seq,
                            b"4",
                            36,
                            5,
                            "NewSeqNo(36) not greater than MsgSeqNum(34)",
                            out,
                        );
                    }
                }
            }
            // A held SequenceReset-Reset cannot occur (the sequencer handles Reset on arrival).
            self.set_target(now, seq.saturating_add(1), app, out);
            return seq.saturating_add(1);
        }
        self.process_message(now, seq, msg, app, out);
        seq + 1
    }

    /// An in-order message (not a SequenceReset, not a Logon while waiting for one).
    fn process_message(
        &mut self,
        now: u64,
        seq: u32,
        msg: &[u8],
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) {
        let s = Scan::of(msg);
        if self.header_ok(now, seq, &s, app, out) != Check::Ok {
            return;
        }
        let msg_type = s.msg_type.unwrap_or(b"");
        let deliverable = !wire::is_admin(msg_type) && wire::is_valid_msg_type(msg_type);
        // An application message is marked processed only after the application returns (a
        // crash in between makes the peer resend it, PossDup, rather than lose it); everything
        // else is marked first.
        if !deliverable && !self.set_target(now, seq.saturating_add(1), app, out) {
            return;
        }
        if !wire::is_valid_msg_type(msg_type) {
            self.reject(now, seq, msg_type, 35, 11, "Invalid MsgType", out);
            return;
        }
        if !wire::is_admin(msg_type) {
            if let Some(Err(v)) = self.cfg.dictionary.as_ref().map(|d| d.validate(msg)) {
                self.set_target(now, seq.saturating_add(1), app, out);
                self.reject(now, seq, msg_type, v.tag, v.reason, v.text, out);
                return;
            }
        }
        match msg_type {
            b"0" => {}
            b"1" => {
                let id = s.test_req_id.unwrap_or(b"");
                if s.test_req_id.is_none() {
                    self.reject(now, seq, b"1", 112, 1, "TestReqID(112) missing", out);
                    return;
                }
                self.send_admin(now, b"0", out, &mut |b| {
                    b.field(112, id);
                });
            }
            b"2" => {
                self.serve_resend_request(now, seq, &s, app, out);
            }
            b"3" => {
                out.event(&Event::RejectReceived { seq });
            }
            b"4" => {
                // Only reachable for a SequenceReset the sequencer classified IN_ORDER, which it
                // does not produce; treat as consumed.
            }
            b"5" => {
                out.event(&Event::LogoutReceived);
                match self.state {
                    State::LogoutSent { .. } => {
                        self.drop_connection(now, DisconnectReason::LogoutComplete, app, out);
                    }
                    _ => {
                        self.send_logout(now, "", out);
                        if self.cfg.reset_on_logout {
                            if let Err(e) = self.reset_store() {
                                out.event(&Event::StoreFailed { error: &e });
                            }
                        }
                        self.state = State::LogoutAnswered { at: now };
                        app.on_logout(now);
                    }
                }
            }
            b"A" => {
                out.event(&Event::LogonRefused {
                    why: "Logon received while already logged on",
                });
                self.drop_connection(now, DisconnectReason::SecondLogon, app, out);
            }
            _ => {
                if !app.supports(msg_type) {
                    if !self.set_target(now, seq.saturating_add(1), app, out) {
                        return;
                    }
                    self.send_admin(now, b"j", out, &mut |b| {
                        b.field_u64(45, u64::from(seq))
                            .field(372, msg_type)
                            .field(380, b"3")
                            .field(58, b"Unsupported Message Type");
                    });
                    out.event(&Event::BusinessRejectSent {
                        ref_seq: seq,
                        reason: 3,
                    });
                    return;
                }
                let info = DeliverInfo {
                    seq,
                    poss_dup: s.poss_dup,
                    poss_resend: s.poss_resend,
                    now,
                };
                let mut ctx = Ctx {
                    core: self,
                    out,
                    now,
                };
                app.on_message(msg, &info, &mut ctx);
                self.set_target(now, seq.saturating_add(1), app, out);
            }
        }
    }

    /// A received ResendRequest (any verdict that reaches it).
    fn serve_resend_request(
        &mut self,
        now: u64,
        seq: u32,
        s: &Scan<'_>,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) {
        let begin = s.begin_seq_no.and_then(parse_u32);
        let end = s.end_seq_no.and_then(parse_u32);
        let (Some(begin), Some(end)) = (begin, end) else {
            let (tag, text) = if begin.is_none() {
                (7, "BeginSeqNo(7) missing or invalid")
            } else {
                (16, "EndSeqNo(16) missing or invalid")
            };
            self.reject(now, seq, b"2", tag, 1, text, out);
            return;
        };
        let last = self.store.next_sender_seq().saturating_sub(1);
        let mut stop = if end == 0 || end == 999_999 || end > last {
            last
        } else {
            end
        };
        if begin == 0 || begin > stop {
            out.event(&Event::ResendLimited {
                begin,
                end,
                why: "nothing in range (BeginSeqNo above the last sent or above EndSeqNo)",
            });
            return;
        }
        // Numbers journaled behind a resend in progress go out as they are, after it.
        if let Some(q) = self.queued_from {
            stop = stop.min(q.saturating_sub(1));
            if begin > stop {
                return;
            }
        }
        if self.cfg.max_resend_range > 0 && stop - begin >= self.cfg.max_resend_range {
            out.event(&Event::ResendLimited {
                begin,
                end,
                why: "range longer than max_resend_range: served in steps, continued by on_timer",
            });
        }
        let merged = self.serving.is_some();
        self.start_serving(now, begin, stop, app, out);
        if self.serving.is_some_and(|c| c.scan <= c.end)
            && self.cfg.max_resends_per_second > 0
            && self.rate_count >= self.cfg.max_resends_per_second
        {
            out.event(&Event::ResendLimited {
                begin,
                end,
                why: if merged {
                    "max_resends_per_second reached: merged with the resend in progress, \
                     which continues in the next second"
                } else {
                    "max_resends_per_second reached: the rest follows in the next second"
                },
            });
        }
    }

    /// Serves `begin..=end` (both at most our last sent number, `end` below any number queued
    /// behind a resend): starts a resumable resend, or merges the range into the one in
    /// progress, and runs one step. Merging keeps one stream per peer whatever it asks: the
    /// union of the ranges, restarted at `begin` when the peer asks again for numbers already
    /// covered (it may have lost them).
    fn start_serving(
        &mut self,
        now: u64,
        begin: u32,
        end: u32,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) {
        match self.serving.as_mut() {
            Some(c) => {
                c.begin = c.begin.min(begin);
                c.end = c.end.max(end);
                if begin < c.covered {
                    c.covered = begin;
                    c.scan = begin;
                }
            }
            None => {
                self.serving = Some(Serving {
                    begin,
                    end,
                    covered: begin,
                    scan: begin,
                    resent: 0,
                    gap_fills: 0,
                })
            }
        }
        self.pump(now, app, out);
    }

    /// One step of the resend being served, then of what waits behind it: at most
    /// `max_resend_range` numbers, at most what is left of `max_resends_per_second` in this
    /// second for the resend itself, and only while the output can take more
    /// ([`SessionOutput::can_send`]). Application messages go out again with PossDupFlag=Y and
    /// OrigSendingTime (spliced from the stored bytes, [`wire::splice_resend`]); runs of admin
    /// (or declined, or never stored) numbers as one SequenceReset-GapFill each, also across
    /// steps. A store or encode failure disconnects rather than gap-filling over messages that
    /// were not sent.
    fn pump(&mut self, now: u64, app: &mut impl Application, out: &mut impl SessionOutput) {
        if self.state == State::Disconnected
            || (self.serving.is_none() && self.queued_from.is_none())
        {
            return;
        }
        self.step_at = now;
        let mut step = match self.cfg.max_resend_range {
            0 => u32::MAX,
            r => r,
        };
        if let Some(mut c) = self.serving {
            let mut budget = step;
            if self.cfg.max_resends_per_second > 0 {
                if now.saturating_sub(self.rate_window_start) >= NS {
                    self.rate_window_start = now;
                    self.rate_count = 0;
                }
                budget = budget.min(
                    self.cfg.max_resends_per_second
                        - self.rate_count.min(self.cfg.max_resends_per_second),
                );
            }
            let scan0 = c.scan;
            let done = match self.resend_step(now, &mut c, budget, app, out) {
                Ok(done) => done,
                Err(()) => {
                    // A partial resend must not be completed by a gap fill over unsent messages.
                    self.serving = None;
                    self.drop_connection(now, DisconnectReason::StoreFailure, app, out);
                    return;
                }
            };
            let used = c.scan - scan0;
            self.rate_count = self.rate_count.saturating_add(used);
            step = step.saturating_sub(used);
            if done {
                self.serving = None;
                out.event(&Event::ResendServed {
                    begin: c.begin,
                    end: c.end,
                    resent: c.resent,
                    gap_fills: c.gap_fills,
                });
            } else {
                self.serving = Some(c);
                return;
            }
        }
        if let Some(q) = self.queued_from {
            if step == 0 {
                return;
            }
            let last = self.store.next_sender_seq().saturating_sub(1);
            let hi = last.min(q.saturating_add(step - 1));
            let mut next = q;
            let mut blocked = false;
            let r = self.store.for_each_in_range(q, hi, &mut |seq, m| {
                if !out.can_send(m.len()) {
                    blocked = true;
                    return false;
                }
                out.send_bytes(m);
                next = seq + 1;
                true
            });
            if let Err(e) = r {
                out.event(&Event::StoreFailed { error: &e });
                self.drop_connection(now, DisconnectReason::StoreFailure, app, out);
                return;
            }
            if next > q {
                self.last_sent = now;
            }
            if !blocked {
                next = hi.saturating_add(1);
            }
            self.queued_from = (next <= last).then_some(next);
        }
    }

    /// Reads `c.scan ..` from the store, at most `budget` numbers, and writes the resends. True
    /// when the whole range is covered on the wire; `Err` after a store or encode failure
    /// (already reported as an event).
    fn resend_step(
        &mut self,
        now: u64,
        c: &mut Serving,
        budget: u32,
        app: &mut impl Application,
        out: &mut impl SessionOutput,
    ) -> Result<bool, ()> {
        let mut blocked = false;
        if budget > 0 && c.scan <= c.end {
            let hi = c.end.min(c.scan.saturating_add(budget - 1));
            let mut ts = [0u8; 32];
            let tl = format_timestamp(now, self.cfg.timestamp_precision, &mut ts);
            let cfg = &self.cfg;
            let h = wire::ResendHeader {
                begin_string: cfg.begin_string.as_bytes(),
                sender: cfg.sender_comp_id.as_bytes(),
                target: cfg.target_comp_id.as_bytes(),
                sending_time: &ts[..tl],
            };
            let (tx, gf) = (&mut self.tx, &mut self.gf);
            let mut enc_err: Option<EncodeError> = None;
            let mut next_scan = hi.saturating_add(1);
            let r = self
                .store
                .for_each_in_range(c.scan, hi, &mut |seq, stored| {
                    // One pass over the stored bytes: MsgType and SendingTime for the checks, then
                    // the splice (skipped for admin or declined messages).
                    let spliced = wire::splice_resend_if(tx, stored, seq, &h, |mt, orig| {
                        !wire::is_admin(mt)
                            && app.allow_resend(
                                now,
                                seq,
                                mt,
                                orig.and_then(crate::time::parse_timestamp),
                            )
                    });
                    let r = match spliced {
                        Ok(None) => return true,
                        Ok(Some(r)) => r,
                        Err(e) => {
                            enc_err = Some(e);
                            return false;
                        }
                    };
                    if c.covered < seq {
                        match encode_gap_fill(gf, cfg, now, c.covered, seq) {
                            Ok(g) if out.can_send(g.len()) => {
                                out.send_bytes(&gf[g]);
                                c.gap_fills += 1;
                                c.covered = seq;
                            }
                            Ok(_) => {
                                blocked = true;
                                next_scan = seq;
                                return false;
                            }
                            Err(e) => {
                                enc_err = Some(e);
                                return false;
                            }
                        }
                    }
                    if !out.can_send(r.len()) {
                        blocked = true;
                        next_scan = seq;
                        return false;
                    }
                    out.send_bytes(&tx[r]);
                    c.resent += 1;
                    c.covered = seq + 1;
                    true
                });
            let mut failed = false;
            if let Err(e) = r {
                out.event(&Event::StoreFailed { error: &e });
                failed = true;
            }
            if let Some(e) = enc_err {
                out.event(&Event::EncodeFailed { error: e });
                failed = true;
            }
            if failed {
                return Err(());
            }
            c.scan = next_scan;
            self.last_sent = now;
        }
        if blocked || c.scan <= c.end {
            return Ok(false);
        }
        if c.covered <= c.end {
            match encode_gap_fill(&mut self.tx, &self.cfg, now, c.covered, c.end + 1) {
                Ok(r) if out.can_send(r.len()) => {
                    out.send_bytes(&self.tx[r]);
                    c.gap_fills += 1;
                    c.covered = c.end + 1;
                    self.last_sent = now;
                }
                Ok(_) => return Ok(false),
                Err(e) => {
                    out.event(&Event::EncodeFailed { error: e });
                    c.covered = c.end + 1;
                }
            }
        }
        Ok(true)
    }
}
