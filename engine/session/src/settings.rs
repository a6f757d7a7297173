//! Settings files in QuickFIX's layout: a `[DEFAULT]` section whose keys every session inherits,
//! then one `[SESSION]` section per session, keyed by BeginString + SenderCompID + TargetCompID.
//! `Key=Value` lines, `#` comments, blank lines ignored. Key names are QuickFIX's (matched without
//! regard to case, as QuickFIX does), plus a few engine-specific keys; `docs/settings.md` lists
//! every key with its type, default and meaning.
//!
//! Anything the parser does not understand is an error naming the line: an unknown key (with a
//! suggestion when a known key is close), a bad value, a repeated key or section, a key outside a
//! section. A required key missing from a session is reported at the line of its `[SESSION]`
//! header.
//!
//! ```
//! use fixsession::settings::{ConnectionType, Settings};
//! let s = Settings::parse(
//!     "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=9876\n\
//!      [SESSION]\nBeginString=FIX.4.4\nSenderCompID=EXEC\nTargetCompID=CLIENT1\n",
//! )
//! .unwrap();
//! assert_eq!(s.sessions[0].session_key(), "FIX.4.4:EXEC->CLIENT1");
//! assert_eq!(s.sessions[0].connection_type, ConnectionType::Acceptor);
//! assert_eq!(s.sessions[0].heart_bt_int, 30);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::store::FlushPolicy;

/// A settings-file error: the 1-based line it concerns (0 when it concerns the file as a whole)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// 1-based line number; 0 when the error is not about one line (e.g. the file is unreadable).
    pub line: usize,
    /// What is wrong, naming the key and value concerned.
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "settings: {}", self.message)
        } else {
            write!(f, "settings line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for SettingsError {}

/// Longest error message kept; a hostile line cannot make a huge one.
const MAX_MESSAGE: usize = 400;

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, SettingsError> {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Err(SettingsError { line, message })
}

/// Which side opens the TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionType {
    /// We listen (`ConnectionType=acceptor`).
    Acceptor,
    /// We connect (`ConnectionType=initiator`).
    Initiator,
}

/// A day of the week, for `StartDay` / `EndDay` (weekly sessions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    /// Sunday.
    Sunday,
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
}

/// A time of day from `StartTime` / `EndTime` (`HH:MM:SS`), as seconds after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(pub u32);

impl TimeOfDay {
    /// Hours, minutes, seconds.
    pub fn hms(self) -> (u32, u32, u32) {
        (self.0 / 3600, self.0 / 60 % 60, self.0 % 60)
    }
}

/// The settings of one session: the `[DEFAULT]` section merged with its `[SESSION]` section.
///
/// `Default` gives every documented default with empty identifiers and `Acceptor` (for tests and
/// for building settings in code: `SessionSettings { begin_string: .., ..Default::default() }`).
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSettings {
    /// `BeginString` (required): FIX.4.0 to FIX.4.4 or FIXT.1.1.
    pub begin_string: String,
    /// `SenderCompID` (required): our CompID.
    pub sender_comp_id: String,
    /// `TargetCompID` (required): the peer's CompID.
    pub target_comp_id: String,
    /// `ConnectionType` (required): acceptor or initiator.
    pub connection_type: ConnectionType,
    /// `SocketAcceptPort`: port to listen on (required for an acceptor).
    pub socket_accept_port: Option<u16>,
    /// `SocketAcceptAddress` (QuickFIX/C++ also calls it `SocketAcceptHost`): address to bind.
    pub socket_accept_address: Option<String>,
    /// `SocketConnectHost`: host to connect to (required for an initiator).
    pub socket_connect_host: Option<String>,
    /// `SocketConnectPort`: port to connect to (required for an initiator).
    pub socket_connect_port: Option<u16>,
    /// `HeartBtInt`: heartbeat interval in seconds (default 30; 0 = no heartbeats).
    pub heart_bt_int: u32,
    /// `ReconnectInterval`: seconds between an initiator's connection attempts (default 30).
    pub reconnect_interval: u32,
    /// `StartTime`: daily (or weekly with `StartDay`) session start, UTC; None = always on.
    pub start_time: Option<TimeOfDay>,
    /// `EndTime`: session end, UTC; set together with `StartTime`.
    pub end_time: Option<TimeOfDay>,
    /// `StartDay`: first day of a weekly session (needs `EndDay`, `StartTime`, `EndTime`).
    pub start_day: Option<Weekday>,
    /// `EndDay`: last day of a weekly session.
    pub end_day: Option<Weekday>,
    /// `ResetOnLogon`: reset both numbers to 1 at every logon (default N).
    pub reset_on_logon: bool,
    /// `ResetOnLogout`: reset both numbers after a normal logout (default N).
    pub reset_on_logout: bool,
    /// `ResetOnDisconnect`: reset both numbers when the connection drops (default N).
    pub reset_on_disconnect: bool,
    /// `ResendRequestChunkSize`: largest range we ask for in one ResendRequest; 0 = whole range
    /// (default 0).
    pub resend_request_chunk_size: u32,
    /// `ClosedResendInterval`: our ResendRequests ask only for the missing numbers (EndSeqNo =
    /// the number below the lowest held message) instead of EndSeqNo=0 (default N).
    pub closed_resend_interval: bool,
    /// `CheckLatency`: check SendingTime against our clock (default Y).
    pub check_latency: bool,
    /// `MaxLatency`: SendingTime tolerance in seconds (default 120).
    pub max_latency: u32,
    /// `PersistMessages`: journal outgoing application messages for resends (default Y); with N,
    /// resend requests are answered with gap fills.
    pub persist_messages: bool,
    /// `FileStorePath`: directory of the message store; None = in-memory store.
    pub file_store_path: Option<PathBuf>,
    /// `FileLogPath`: directory for message and event logs; None = no file log.
    pub file_log_path: Option<PathBuf>,
    /// `UseDataDictionary`: validate messages against `DataDictionary` (default N).
    pub use_data_dictionary: bool,
    /// `DataDictionary`: the dictionary file; with `UseDataDictionary=Y` and no file, the session
    /// layer uses its shipped dictionary for the BeginString (FIX.4.2, FIX.4.4).
    pub data_dictionary: Option<PathBuf>,
    /// `DefaultApplVerID`: the default application version of a FIXT.1.1 session (e.g. `9` or
    /// `FIX.5.0SP2`); required for FIXT.1.1.
    pub default_appl_ver_id: Option<String>,
    /// `LogonTimeout`: seconds to wait for the Logon reply (default 10).
    pub logon_timeout: u32,
    /// `LogoutTimeout`: seconds to wait for the Logout reply (default 2).
    pub logout_timeout: u32,
    /// `EnableNextExpectedMsgSeqNum`: send and honour tag 789 on Logon (default N).
    pub enable_next_expected_msg_seq_num: bool,
    /// `ValidateUserDefinedFields`: reject unknown user-defined fields (tags 5000+) when a
    /// dictionary is in use (default Y).
    pub validate_user_defined_fields: bool,
    /// `TimestampPrecision`: digits of fractional seconds in the timestamps we send: 0, 3, 6 or 9
    /// (default 3).
    pub timestamp_precision: u8,
    /// Engine-specific `MaxMessageSize`: largest message accepted or stored, in bytes (default
    /// 4096; 64 to 16777215, the sequencer's limit).
    pub max_message_size: usize,
    /// Engine-specific `ReceiveWindow`: how many out-of-order messages the sequencer holds (its
    /// W); a power of two from 256 to 65536 (default 256).
    pub window: u32,
    /// Engine-specific `StoreFlush`: `none`, `message` or `batch:N` (default none).
    pub flush_policy: FlushPolicy,
    /// Engine-specific `StoreSegmentSize`: bytes per journal segment file (default 67108864).
    pub store_segment_bytes: u64,
    /// Engine-specific `Transport`: `io_uring`, `dpdk` or `memory` (default io_uring).
    pub transport: String,
    /// Engine-specific `MaxResendRange`: most numbers one step of serving the peer's
    /// ResendRequest covers; a longer range is served in steps; 0 = the whole range in one step
    /// (default [`crate::session::DEFAULT_MAX_RESEND_RANGE`], 1024).
    pub max_resend_range: u32,
    /// Engine-specific `MaxResendsPerSecond`: most numbers resent (or gap-filled) to the peer per
    /// second; 0 = no limit (default [`crate::session::DEFAULT_MAX_RESENDS_PER_SECOND`],
    /// 4000000).
    pub max_resends_per_second: u32,
    /// Engine-specific `Sequencer`: `hwsim`, `verilated` or `card` (default hwsim).
    pub sequencer: String,
    /// Engine-specific `Dpdk*` keys ([`DPDK_KEYS`]) as written, canonical key and trimmed value,
    /// in file order (session lines override `[DEFAULT]` ones). The values are checked by the
    /// runtime when `Transport=dpdk` brings the port up (`fixdpdk::DpdkSettings::from_pairs`).
    pub dpdk: Vec<(String, String)>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            begin_string: String::new(),
            sender_comp_id: String::new(),
            target_comp_id: String::new(),
            connection_type: ConnectionType::Acceptor,
            socket_accept_port: None,
            socket_accept_address: None,
            socket_connect_host: None,
            socket_connect_port: None,
            heart_bt_int: 30,
            reconnect_interval: 30,
            start_time: None,
            end_time: None,
            start_day: None,
            end_day: None,
            reset_on_logon: false,
            reset_on_logout: false,
            reset_on_disconnect: false,
            resend_request_chunk_size: 0,
            closed_resend_interval: false,
            check_latency: true,
            max_latency: 120,
            persist_messages: true,
            file_store_path: None,
            file_log_path: None,
            use_data_dictionary: false,
            data_dictionary: None,
            default_appl_ver_id: None,
            logon_timeout: 10,
            logout_timeout: 2,
            enable_next_expected_msg_seq_num: false,
            validate_user_defined_fields: true,
            timestamp_precision: 3,
            max_message_size: 4096,
            window: 256,
            flush_policy: FlushPolicy::None,
            store_segment_bytes: 64 << 20,
            transport: "io_uring".to_string(),
            max_resend_range: crate::session::DEFAULT_MAX_RESEND_RANGE,
            max_resends_per_second: crate::session::DEFAULT_MAX_RESENDS_PER_SECOND,
            sequencer: "hwsim".to_string(),
            dpdk: Vec::new(),
        }
    }
}

impl SessionSettings {
    /// The session's identity, `BeginString:SenderCompID->TargetCompID`, e.g.
    /// `FIX.4.4:SENDER->TARGET` (also the message store's key).
    pub fn session_key(&self) -> String {
        format!(
            "{}:{}->{}",
            self.begin_string, self.sender_comp_id, self.target_comp_id
        )
    }

    /// The message-store configuration these settings ask for (`StoreSegmentSize`, `StoreFlush`,
    /// `MaxMessageSize`).
    pub fn store_config(&self) -> crate::store::MmapStoreConfig {
        crate::store::MmapStoreConfig {
            segment_bytes: self.store_segment_bytes,
            flush: self.flush_policy,
            max_message: self.max_message_size,
        }
    }
}

/// One `Key=Value` line as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key's canonical spelling (e.g. `HeartBtInt` even if written `heartbtint`).
    pub key: &'static str,
    /// The value, trimmed.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// A section's lines as written (before defaults are merged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// Line of the `[...]` header; 0 for a `[DEFAULT]` the file does not have.
    pub line: usize,
    /// The section's keys in file order.
    pub entries: Vec<Entry>,
}

impl Section {
    /// The value of `key` (canonical spelling) in this section.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }
}

/// A parsed settings file.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The `[DEFAULT]` section as written (already merged into every session).
    pub default: Section,
    /// The sessions, in file order, each with the defaults applied.
    pub sessions: Vec<SessionSettings>,
}

/// Every key the parser knows, in canonical spelling, and whether it is engine-specific.
pub const KEYS: &[(&str, bool)] = &[
    ("BeginString", false),
    ("SenderCompID", false),
    ("TargetCompID", false),
    ("ConnectionType", false),
    ("SocketAcceptPort", false),
    ("SocketAcceptAddress", false),
    ("SocketConnectHost", false),
    ("SocketConnectPort", false),
    ("HeartBtInt", false),
    ("ReconnectInterval", false),
    ("StartTime", false),
    ("EndTime", false),
    ("StartDay", false),
    ("EndDay", false),
    ("ResetOnLogon", false),
    ("ResetOnLogout", false),
    ("ResetOnDisconnect", false),
    ("ResendRequestChunkSize", false),
    ("ClosedResendInterval", false),
    ("CheckLatency", false),
    ("MaxLatency", false),
    ("PersistMessages", false),
    ("FileStorePath", false),
    ("FileLogPath", false),
    ("UseDataDictionary", false),
    ("DataDictionary", false),
    ("DefaultApplVerID", false),
    ("LogonTimeout", false),
    ("LogoutTimeout", false),
    ("EnableNextExpectedMsgSeqNum", false),
    ("ValidateUserDefinedFields", false),
    ("TimestampPrecision", false),
    ("MaxMessageSize", true),
    ("ReceiveWindow", true),
    ("StoreFlush", true),
    ("StoreSegmentSize", true),
    ("Transport", true),
    ("MaxResendRange", true),
    ("MaxResendsPerSecond", true),
    ("Sequencer", true),
];

/// The engine-specific keys of `Transport=dpdk` (the same list as `fixdpdk::settings::KEYS`,
/// which a runtime test checks): kept in [`SessionSettings::dpdk`] and validated by the runtime.
pub const DPDK_KEYS: &[&str] = &[
    "DpdkDevice",
    "DpdkLcores",
    "DpdkFilePrefix",
    "DpdkNoHuge",
    "DpdkMemoryMB",
    "DpdkEalExtra",
    "DpdkMbufs",
    "DpdkMbufCache",
    "DpdkMbufDataRoom",
    "DpdkRxRing",
    "DpdkTxRing",
    "DpdkPromiscuous",
    "DpdkLocalIP",
    "DpdkGateway",
    "DpdkMac",
    "DpdkMtu",
    "DpdkRxBuffer",
    "DpdkTxBuffer",
    "DpdkNagle",
    "DpdkAckDelayUs",
    "DpdkKeepAliveMs",
    "DpdkTimeoutMs",
    "DpdkVerifyChecksums",
    "DpdkArpRefreshMs",
];

/// Keys of QuickFIX / QuickFIX/J this engine does not support: named as such in the error, so
/// that converting a QuickFIX file is quick.
const QUICKFIX_UNSUPPORTED: &[&str] = &[
    "SessionQualifier",
    "SenderSubID",
    "SenderLocationID",
    "TargetSubID",
    "TargetLocationID",
    "TimeZone",
    "UseLocalTime",
    "LogonTime",
    "LogoutTime",
    "LogonDay",
    "LogoutDay",
    "NonStopSession",
    "MillisecondsInTimeStamp",
    "RefreshOnLogon",
    "SendRedundantResendRequests",
    "ValidateFieldsOutOfOrder",
    "ValidateFieldsHaveValues",
    "ValidateLengthAndChecksum",
    "ValidateIncomingMessage",
    "AllowUnknownMsgFields",
    "PreserveMessageFieldsOrder",
    "TransportDataDictionary",
    "AppDataDictionary",
    "SocketNodelay",
    "SocketReuseAddress",
    "SocketSendBufferSize",
    "SocketReceiveBufferSize",
    "SocketConnectSourceHost",
    "SocketConnectSourcePort",
    "SocketUseSSL",
    "FileStoreSync",
    "FileStoreMaxCachedMsgs",
    "FileLogBackupPath",
    "ScreenLogShowIncoming",
    "ScreenLogShowOutgoing",
    "ScreenLogShowEvents",
    "HttpAcceptPort",
    "ResetOnError",
    "DisconnectOnError",
    "SendLogoutBeforeDisconnectFromTimeout",
    "RejectInvalidMessage",
    "RequiresOrigSendingTime",
    "ForceResendWhenCorruptedStore",
    "TestRequestDelayMultiplier",
    "HeartBeatTimeoutMultiplier",
];

/// Other spellings accepted for a key: (alias, canonical).
const ALIASES: &[(&str, &str)] = &[("SocketAcceptHost", "SocketAcceptAddress")];

fn canonical_key(k: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|(n, _)| *n)
        .find(|n| n.eq_ignore_ascii_case(k))
        .or_else(|| {
            DPDK_KEYS
                .iter()
                .copied()
                .find(|n| n.eq_ignore_ascii_case(k))
        })
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(k))
                .map(|(_, c)| *c)
        })
}

/// Levenshtein distance, case-insensitive (for "did you mean" suggestions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<u8> = a.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<u8> = b.bytes().map(|c| c.to_ascii_lowercase()).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn suggestion(k: &str) -> String {
    if k.len() > 64 {
        return String::new(); // no key is that long; and the distance is quadratic
    }
    let best = KEYS
        .iter()
        .map(|(n, _)| *n)
        .chain(DPDK_KEYS.iter().copied())
        .chain(ALIASES.iter().map(|(a, _)| *a))
        .map(|n| (distance(k, n), n))
        .min();
    match best {
        Some((d, n)) if d <= 3.max(k.len() / 3) => format!(" (did you mean `{n}`?)"),
        _ => String::new(),
    }
}

fn parse_bool(e: &Entry) -> Result<bool, SettingsError> {
    match e.value.as_str() {
        "Y" | "y" => Ok(true),
        "N" | "n" => Ok(false),
        v => err(e.line, format!("{} must be Y or N, not `{v}`", e.key)),
    }
}

fn parse_u64(e: &Entry, min: u64, max: u64) -> Result<u64, SettingsError> {
    let v = e.value.as_str();
    let n: Option<u64> = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse().ok()
    } else {
        None
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => err(
            e.line,
            format!(
                "{} must be a whole number from {min} to {max}, not `{v}`",
                e.key
            ),
        ),
    }
}

fn parse_u32(e: &Entry, min: u32, max: u32) -> Result<u32, SettingsError> {
    parse_u64(e, u64::from(min), u64::from(max)).map(|n| n as u32)
}

fn parse_port(e: &Entry) -> Result<u16, SettingsError> {
    parse_u64(e, 1, 65535).map(|n| n as u16)
}

fn parse_time(e: &Entry) -> Result<TimeOfDay, SettingsError> {
    let v = e.value.as_str();
    let parts: Vec<&str> = v.split(':').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        let n = |i: usize| parts[i].parse::<u32>().unwrap_or(99);
        let (h, m, s) = (n(0), n(1), n(2));
        if h < 24 && m < 60 && s < 60 {
            return Ok(TimeOfDay(h * 3600 + m * 60 + s));
        }
    }
    err(
        e.line,
        format!("{} must be a time of day HH:MM:SS, not `{v}`", e.key),
    )
}

fn parse_day(e: &Entry) -> Result<Weekday, SettingsError> {
    const DAYS: [(&str, Weekday); 7] = [
        ("sunday", Weekday::Sunday),
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
    ];
    let v = e.value.to_ascii_lowercase();
    // QuickFIX accepts a day's name or any prefix of at least two letters.
    if v.len() >= 2 {
        if let Some((_, d)) = DAYS.iter().find(|(n, _)| n.starts_with(v.as_str())) {
            return Ok(*d);
        }
    }
    err(
        e.line,
        format!(
            "{} must be a day of the week (e.g. Sunday or Su), not `{}`",
            e.key, e.value
        ),
    )
}

fn parse_choice<'a>(e: &Entry, allowed: &[&'a str]) -> Result<&'a str, SettingsError> {
    match allowed.iter().find(|a| a.eq_ignore_ascii_case(&e.value)) {
        Some(a) => Ok(a),
        None => err(
            e.line,
            format!(
                "{} must be one of {}, not `{}`",
                e.key,
                allowed.join(", "),
                e.value
            ),
        ),
    }
}

fn parse_comp_id(e: &Entry) -> Result<String, SettingsError> {
    let v = &e.value;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return err(
            e.line,
            format!(
                "{} must be non-empty printable ASCII without spaces, not `{v}`",
                e.key
            ),
        );
    }
    Ok(v.clone())
}

fn parse_nonempty(e: &Entry) -> Result<String, SettingsError> {
    if e.value.is_empty() {
        return err(e.line, format!("{} must not be empty", e.key));
    }
    Ok(e.value.clone())
}

fn parse_flush(e: &Entry) -> Result<FlushPolicy, SettingsError> {
    let v = e.value.to_ascii_lowercase();
    if v == "none" {
        return Ok(FlushPolicy::None);
    }
    if v == "message" {
        return Ok(FlushPolicy::EveryMessage);
    }
    if let Some(n) = v.strip_prefix("batch:") {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = n.parse::<u32>() {
                if n >= 1 {
                    return Ok(FlushPolicy::Batched { every_messages: n });
                }
            }
        }
    }
    err(
        e.line,
        format!(
            "StoreFlush must be none, message or batch:N (N from 1 to {}), not `{}`",
            u32::MAX,
            e.value
        ),
    )
}

/// Applies one entry (default or session) to `s`.
fn apply(s: &mut SessionSettings, e: &Entry) -> Result<(), SettingsError> {
    match e.key {
        "BeginString" => {
            s.begin_string = parse_choice(
                e,
                &[
                    "FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1",
                ],
            )?
            .to_string()
        }
        "SenderCompID" => s.sender_comp_id = parse_comp_id(e)?,
        "TargetCompID" => s.target_comp_id = parse_comp_id(e)?,
        "ConnectionType" => {
            s.connection_type = match parse_choice(e, &["acceptor", "initiator"])? {
                "acceptor" => ConnectionType::Acceptor,
                _ => ConnectionType::Initiator,
            }
        }
        "SocketAcceptPort" => s.socket_accept_port = Some(parse_port(e)?),
        "SocketAcceptAddress" => s.socket_accept_address = Some(parse_nonempty(e)?),
        "SocketConnectHost" => s.socket_connect_host = Some(parse_nonempty(e)?),
        "SocketConnectPort" => s.socket_connect_port = Some(parse_port(e)?),
        "HeartBtInt" => s.heart_bt_int = parse_u32(e, 0, 86_400)?,
        "ReconnectInterval" => s.reconnect_interval = parse_u32(e, 1, 86_400)?,
        "StartTime" => s.start_time = Some(parse_time(e)?),
        "EndTime" => s.end_time = Some(parse_time(e)?),
        "StartDay" => s.start_day = Some(parse_day(e)?),
        "EndDay" => s.end_day = Some(parse_day(e)?),
        "ResetOnLogon" => s.reset_on_logon = parse_bool(e)?,
        "ResetOnLogout" => s.reset_on_logout = parse_bool(e)?,
        "ResetOnDisconnect" => s.reset_on_disconnect = parse_bool(e)?,
        "ResendRequestChunkSize" => s.resend_request_chunk_size = parse_u32(e, 0, u32::MAX)?,
        "ClosedResendInterval" => s.closed_resend_interval = parse_bool(e)?,
        "CheckLatency" => s.check_latency = parse_bool(e)?,
        "MaxLatency" => s.max_latency = parse_u32(e, 1, 86_400)?,
        "PersistMessages" => s.persist_messages = parse_bool(e)?,
        "FileStorePath" => s.file_store_path = Some(PathBuf::from(parse_nonempty(e)?)),
        "FileLogPath" => s.file_log_path = Some(PathBuf::from(parse_nonempty(e)?)),
        "UseDataDictionary" => s.use_data_dictionary = parse_bool(e)?,
        "DataDictionary" => s.data_dictionary = Some(PathBuf::from(parse_nonempty(e)?)),
        "DefaultApplVerID" => s.default_appl_ver_id = Some(parse_comp_id(e)?),
        "LogonTimeout" => s.logon_timeout = parse_u32(e, 1, 3600)?,
        "LogoutTimeout" => s.logout_timeout = parse_u32(e, 1, 3600)?,
        "EnableNextExpectedMsgSeqNum" => s.enable_next_expected_msg_seq_num = parse_bool(e)?,
        "ValidateUserDefinedFields" => s.validate_user_defined_fields = parse_bool(e)?,
        "TimestampPrecision" => {
            s.timestamp_precision = match parse_choice(e, &["0", "3", "6", "9"])? {
                "0" => 0,
                "3" => 3,
                "6" => 6,
                _ => 9,
            }
        }
        "MaxMessageSize" => s.max_message_size = parse_u64(e, 64, (1 << 24) - 1)? as usize,
        "ReceiveWindow" => {
            let w = parse_u32(e, 256, 65_536)?;
            if !w.is_power_of_two() {
                return err(
                    e.line,
                    format!("ReceiveWindow must be a power of two (256 to 65536), not `{w}`"),
                );
            }
            s.window = w;
        }
        "StoreFlush" => s.flush_policy = parse_flush(e)?,
        "StoreSegmentSize" => {
            s.store_segment_bytes = parse_u64(e, 1 << 16, u64::from(u32::MAX))?;
        }
        "Transport" => {
            s.transport = parse_choice(e, &["io_uring", "dpdk", "memory"])?.to_string();
        }
        "MaxResendRange" => s.max_resend_range = parse_u32(e, 0, u32::MAX)?,
        "MaxResendsPerSecond" => s.max_resends_per_second = parse_u32(e, 0, u32::MAX)?,
        "Sequencer" => {
            s.sequencer = parse_choice(e, &["hwsim", "verilated", "card"])?.to_string();
        }
        k if DPDK_KEYS.contains(&k) => {
            let v = parse_nonempty(e)?;
            s.dpdk.retain(|(dk, _)| dk != k);
            s.dpdk.push((k.to_string(), v));
        }
        other => unreachable!("key {other} is in KEYS but has no parser"),
    }
    Ok(())
}

/// Checks the keys a session needs and the combinations that make sense.
fn check_session(s: &SessionSettings, sec: &Section, line: usize) -> Result<(), SettingsError> {
    let has = |k: &str| sec.get(k).is_some();
    for k in [
        "BeginString",
        "SenderCompID",
        "TargetCompID",
        "ConnectionType",
    ] {
        if !has(k) {
            return err(
                line,
                format!("[SESSION] has no {k} (required, here or in [DEFAULT])"),
            );
        }
    }
    match s.connection_type {
        ConnectionType::Acceptor => {
            if s.socket_accept_port.is_none() {
                return err(
                    line,
                    "[SESSION] has no SocketAcceptPort (required for ConnectionType=acceptor)",
                );
            }
        }
        ConnectionType::Initiator => {
            if s.socket_connect_host.is_none() || s.socket_connect_port.is_none() {
                return err(
                    line,
                    "[SESSION] needs SocketConnectHost and SocketConnectPort \
                     (ConnectionType=initiator)",
                );
            }
        }
    }
    if s.start_time.is_some() != s.end_time.is_some() {
        return err(line, "[SESSION] sets only one of StartTime and EndTime");
    }
    if s.start_day.is_some() != s.end_day.is_some() {
        return err(line, "[SESSION] sets only one of StartDay and EndDay");
    }
    if s.start_day.is_some() && s.start_time.is_none() {
        return err(
            line,
            "[SESSION] sets StartDay/EndDay without StartTime/EndTime",
        );
    }
    if s.begin_string == "FIXT.1.1" && s.default_appl_ver_id.is_none() {
        return err(
            line,
            "[SESSION] has BeginString=FIXT.1.1 but no DefaultApplVerID",
        );
    }
    let store_min = (64 + 16 + s.max_message_size.div_ceil(8) * 8) as u64;
    if s.store_segment_bytes < store_min {
        return err(
            line,
            format!(
                "StoreSegmentSize {} is too small for MaxMessageSize {} (needs {store_min})",
                s.store_segment_bytes, s.max_message_size
            ),
        );
    }
    Ok(())
}

impl Settings {
    /// Parses a settings file's text.
    pub fn parse(text: &str) -> Result<Settings, SettingsError> {
        enum Cur {
            None,
            Default,
            Session,
        }
        let mut default: Option<Section> = None;
        let mut sessions: Vec<Section> = Vec::new();
        let mut cur = Cur::None;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            if let Some(rest) = l.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return err(line, format!("section header `{l}` has no closing `]`"));
                };
                let name = name.trim();
                if name.eq_ignore_ascii_case("DEFAULT") {
                    if let Some(d) = &default {
                        return err(
                            line,
                            format!("second [DEFAULT] section (the first is at line {})", d.line),
                        );
                    }
                    default = Some(Section {
                        line,
                        entries: Vec::new(),
                    });
                    cur = Cur::Default;
                } else if name.eq_ignore_ascii_case("SESSION") {
                    sessions.push(Section {
                        line,
                        entries: Vec::new(),
                    });
                    cur = Cur::Session;
                } else {
                    return err(
                        line,
                        format!("unknown section [{name}] (expected [DEFAULT] or [SESSION])"),
                    );
                }
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                return err(
                    line,
                    format!(
                        "expected `Key=Value`, a [DEFAULT] or [SESSION] header or a # comment, \
                         found `{l}`"
                    ),
                );
            };
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() {
                return err(line, format!("`{l}` has no key before `=`"));
            }
            let Some(key) = canonical_key(k) else {
                if let Some(q) = QUICKFIX_UNSUPPORTED
                    .iter()
                    .find(|q| q.eq_ignore_ascii_case(k))
                {
                    return err(
                        line,
                        format!(
                            "unknown key `{k}`: QuickFIX's {q} is not supported by this engine \
                             (remove the line; docs/settings.md lists the supported keys)"
                        ),
                    );
                }
                return err(line, format!("unknown key `{k}`{}", suggestion(k)));
            };
            let sec = match cur {
                Cur::None => {
                    return err(
                        line,
                        format!("key `{k}` comes before any [DEFAULT] or [SESSION] header"),
                    )
                }
                Cur::Default => default.as_mut(),
                Cur::Session => sessions.last_mut(),
            };
            let Some(sec) = sec else {
                unreachable!("the current section exists");
            };
            if let Some(prev) = sec.entries.iter().find(|e| e.key == key) {
                return err(
                    line,
                    format!(
                        "{key} is set twice in this section (also at line {})",
                        prev.line
                    ),
                );
            }
            sec.entries.push(Entry {
                key,
                value: v.to_string(),
                line,
            });
        }

        let default = default.unwrap_or_default();
        // Values in [DEFAULT] are checked even when no session uses them.
        let mut base = SessionSettings::default();
        for e in &default.entries {
            apply(&mut base, e)?;
        }
        let mut out: Vec<SessionSettings> = Vec::with_capacity(sessions.len());
        let mut seen: std::collections::HashMap<String, usize> =
            std::collections::HashMap::with_capacity(sessions.len());
        for sec in &sessions {
            let mut merged = Section {
                line: sec.line,
                entries: default
                    .entries
                    .iter()
                    .filter(|d| sec.entries.iter().all(|e| e.key != d.key))
                    .cloned()
                    .collect(),
            };
            merged.entries.extend(sec.entries.iter().cloned());
            let mut s = SessionSettings::default();
            for e in &merged.entries {
                apply(&mut s, e)?;
            }
            check_session(&s, &merged, sec.line)?;
            let key = s.session_key();
            if let Some(first) = seen.get(&key) {
                return err(
                    sec.line,
                    format!("session {key} is defined twice (also by [SESSION] at line {first})"),
                );
            }
            seen.insert(key, sec.line);
            out.push(s);
        }
        Ok(Settings {
            default,
            sessions: out,
        })
    }

    /// Reads and parses a settings file; an unreadable file is an error with line 0.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError {
            line: 0,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Settings::parse(&text).map_err(|e| SettingsError {
            line: e.line,
            message: format!("{} ({})", e.message, path.display()),
        })
    }

    /// The session whose key (`BeginString:SenderCompID->TargetCompID`) is `key`.
    pub fn session(&self, key: &str) -> Option<&SessionSettings> {
        self.sessions.iter().find(|s| s.session_key() == key)
    }

    /// The session with these identifiers.
    pub fn find(&self, begin: &str, sender: &str, target: &str) -> Option<&SessionSettings> {
        self.sessions.iter().find(|s| {
            s.begin_string == begin && s.sender_comp_id == sender && s.target_comp_id == target
        })
    }
}

#[cfg(test)]
mod dpdk_keys {
    use super::*;

    const BASE: &str = "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=9878\n\
                        BeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n";

    #[test]
    fn dpdk_keys_are_kept_in_order_and_sessions_override_defaults() {
        let s = Settings::parse(&format!(
            "{BASE}Transport=dpdk\ndpdkdevice=net_memif0,role=server\nDpdkLocalIP=10.0.0.1/24\n\
             DpdkNoHuge=Y\n[SESSION]\nDpdkLocalIP = 10.0.0.9/24\n"
        ))
        .unwrap();
        let d = &s.sessions[0].dpdk;
        assert_eq!(
            d,
            &[
                (
                    "DpdkDevice".to_string(),
                    "net_memif0,role=server".to_string()
                ),
                ("DpdkNoHuge".to_string(), "Y".to_string()),
                ("DpdkLocalIP".to_string(), "10.0.0.9/24".to_string()),
            ]
        );
        assert_eq!(s.sessions[0].transport, "dpdk");
    }

    #[test]
    fn dpdk_keys_are_accepted_whatever_the_transport_and_checked_later() {
        // Required keys and values are checked by the runtime when it brings the port up
        // (`fixeng::dpdk`), also when `--transport dpdk` overrides the file's Transport.
        let s = Settings::parse(&format!("{BASE}Transport=dpdk\n[SESSION]\n")).unwrap();
        assert!(s.sessions[0].dpdk.is_empty());
        let s = Settings::parse(&format!(
            "{BASE}DpdkDevice=net_ring0\nDpdkMtu=big\n[SESSION]\n"
        ))
        .unwrap();
        assert_eq!(
            s.sessions[0].dpdk,
            [
                ("DpdkDevice".to_string(), "net_ring0".to_string()),
                ("DpdkMtu".to_string(), "big".to_string())
            ]
        );
    }

    #[test]
    fn misspelt_dpdk_key_gets_a_suggestion_and_empty_values_are_refused() {
        let e = Settings::parse(&format!("{BASE}DpdkLocalIp4=10.0.0.1/24\n")).unwrap_err();
        assert!(e.message.contains("did you mean `DpdkLocalIP`"), "{e}");
        let e = Settings::parse(&format!("{BASE}DpdkGateway=\n")).unwrap_err();
        assert!(e.message.contains("DpdkGateway must not be empty"), "{e}");
        assert_eq!(e.line, 7);
    }
}
