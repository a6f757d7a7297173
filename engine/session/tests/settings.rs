//! The settings parser: every key, the defaults, the errors (with their line numbers) and
//! QuickFIX's own example files.

use std::path::PathBuf;

use fixsession::settings::{
    ConnectionType, SessionSettings, Settings, SettingsError, TimeOfDay, Weekday, KEYS,
};
use fixsession::store::FlushPolicy;

const HEAD: &str = "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=5001\n\
                    [SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n";

/// One session with `extra` lines added to its section.
fn one(extra: &str) -> Result<SessionSettings, SettingsError> {
    let text = format!("{HEAD}{extra}\n");
    Settings::parse(&text).map(|s| {
        assert_eq!(s.sessions.len(), 1);
        s.sessions[0].clone()
    })
}

fn bad(text: &str) -> SettingsError {
    Settings::parse(text).expect_err("this text must be refused")
}

/// The error for `extra` appended to HEAD (line 8 is the first extra line).
fn bad_one(extra: &str) -> SettingsError {
    bad(&format!("{HEAD}{extra}\n"))
}

#[test]
fn defaults() {
    let s = one("").unwrap();
    let d = SessionSettings::default();
    assert_eq!(s.begin_string, "FIX.4.4");
    assert_eq!(s.sender_comp_id, "S");
    assert_eq!(s.target_comp_id, "T");
    assert_eq!(s.connection_type, ConnectionType::Acceptor);
    assert_eq!(s.socket_accept_port, Some(5001));
    let expect = SessionSettings {
        begin_string: "FIX.4.4".into(),
        sender_comp_id: "S".into(),
        target_comp_id: "T".into(),
        socket_accept_port: Some(5001),
        ..d.clone()
    };
    assert_eq!(s, expect);
    // The documented defaults.
    assert_eq!(d.heart_bt_int, 30);
    assert_eq!(d.reconnect_interval, 30);
    assert_eq!(
        (d.start_time, d.end_time, d.start_day, d.end_day),
        (None, None, None, None)
    );
    assert!(!d.reset_on_logon && !d.reset_on_logout && !d.reset_on_disconnect);
    assert_eq!(d.resend_request_chunk_size, 0);
    assert!(d.check_latency);
    assert_eq!(d.max_latency, 120);
    assert!(d.persist_messages);
    assert_eq!(d.file_store_path, None);
    assert_eq!(d.file_log_path, None);
    assert!(!d.use_data_dictionary);
    assert_eq!(d.data_dictionary, None);
    assert_eq!(d.default_appl_ver_id, None);
    assert_eq!(d.logon_timeout, 10);
    assert_eq!(d.logout_timeout, 2);
    assert!(!d.enable_next_expected_msg_seq_num);
    assert!(d.validate_user_defined_fields);
    assert_eq!(d.timestamp_precision, 3);
    assert_eq!(d.max_message_size, 4096);
    assert_eq!(d.window, 256);
    assert_eq!(d.flush_policy, FlushPolicy::None);
    assert_eq!(d.store_segment_bytes, 64 << 20);
    assert_eq!(d.transport, "io_uring");
    assert_eq!(d.max_resend_range, 1024);
    assert_eq!(d.max_resends_per_second, 4_000_000);
    assert!(!d.closed_resend_interval);
    assert_eq!(d.sequencer, "hwsim");
    assert_eq!(s.session_key(), "FIX.4.4:S->T");
    let c = s.store_config();
    assert_eq!(
        (c.segment_bytes, c.flush, c.max_message),
        (64 << 20, FlushPolicy::None, 4096)
    );
}

#[test]
fn every_key_is_parsed() {
    let s = one("SocketAcceptAddress=10.0.0.1\n\
         SocketConnectHost=ignored.example\n\
         SocketConnectPort=6001\n\
         HeartBtInt=5\n\
         ReconnectInterval=7\n\
         StartTime=08:30:00\n\
         EndTime=17:45:59\n\
         StartDay=Mo\n\
         EndDay=friday\n\
         ResetOnLogon=Y\n\
         ResetOnLogout=y\n\
         ResetOnDisconnect=Y\n\
         ResendRequestChunkSize=2500\n\
         ClosedResendInterval=Y\n\
         CheckLatency=N\n\
         MaxLatency=3\n\
         PersistMessages=N\n\
         FileStorePath=/var/fix/store\n\
         FileLogPath=/var/fix/log\n\
         UseDataDictionary=Y\n\
         DataDictionary=spec/FIX44.xml\n\
         DefaultApplVerID=FIX.5.0SP2\n\
         LogonTimeout=4\n\
         LogoutTimeout=6\n\
         EnableNextExpectedMsgSeqNum=Y\n\
         ValidateUserDefinedFields=N\n\
         TimestampPrecision=9\n\
         MaxMessageSize=65536\n\
         ReceiveWindow=1024\n\
         StoreFlush=batch:64\n\
         StoreSegmentSize=1048576\n\
         Transport=dpdk\n\
         MaxResendRange=100000\n\
         MaxResendsPerSecond=20\n\
         Sequencer=verilated")
    .unwrap();
    assert_eq!(s.socket_accept_address.as_deref(), Some("10.0.0.1"));
    assert_eq!(s.socket_connect_host.as_deref(), Some("ignored.example"));
    assert_eq!(s.socket_connect_port, Some(6001));
    assert_eq!(s.heart_bt_int, 5);
    assert_eq!(s.reconnect_interval, 7);
    assert_eq!(s.start_time, Some(TimeOfDay(8 * 3600 + 30 * 60)));
    assert_eq!(s.end_time.unwrap().hms(), (17, 45, 59));
    assert_eq!(s.start_day, Some(Weekday::Monday));
    assert_eq!(s.end_day, Some(Weekday::Friday));
    assert!(s.reset_on_logon && s.reset_on_logout && s.reset_on_disconnect);
    assert_eq!(s.resend_request_chunk_size, 2500);
    assert!(s.closed_resend_interval);
    assert!(!s.check_latency);
    assert_eq!(s.max_latency, 3);
    assert!(!s.persist_messages);
    assert_eq!(s.file_store_path, Some(PathBuf::from("/var/fix/store")));
    assert_eq!(s.file_log_path, Some(PathBuf::from("/var/fix/log")));
    assert!(s.use_data_dictionary);
    assert_eq!(s.data_dictionary, Some(PathBuf::from("spec/FIX44.xml")));
    assert_eq!(s.default_appl_ver_id.as_deref(), Some("FIX.5.0SP2"));
    assert_eq!(s.logon_timeout, 4);
    assert_eq!(s.logout_timeout, 6);
    assert!(s.enable_next_expected_msg_seq_num);
    assert!(!s.validate_user_defined_fields);
    assert_eq!(s.timestamp_precision, 9);
    assert_eq!(s.max_message_size, 65536);
    assert_eq!(s.window, 1024);
    assert_eq!(s.flush_policy, FlushPolicy::Batched { every_messages: 64 });
    assert_eq!(s.store_segment_bytes, 1 << 20);
    assert_eq!(s.transport, "dpdk");
    assert_eq!(s.max_resend_range, 100_000);
    assert_eq!(s.max_resends_per_second, 20);
    assert_eq!(s.sequencer, "verilated");
    let c = s.store_config();
    assert_eq!(
        (c.segment_bytes, c.flush, c.max_message),
        (1 << 20, FlushPolicy::Batched { every_messages: 64 }, 65536)
    );
}

#[test]
fn every_documented_key_is_known_and_documented() {
    // Each key in KEYS parses (with some valid value) and appears in docs/settings.md.
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/settings.md"
    ))
    .expect("docs/settings.md");
    for (key, engine) in KEYS {
        assert!(
            docs.contains(&format!("`{key}`")),
            "{key} is not in docs/settings.md"
        );
        if *engine {
            assert!(
                docs.contains(&format!("`{key}` (engine)")),
                "{key} is not marked engine-specific in docs/settings.md"
            );
        }
        let v = match *key {
            "BeginString" => "FIX.4.2",
            "SenderCompID" | "TargetCompID" => "X",
            "ConnectionType" => "acceptor",
            "StartTime" | "EndTime" => "00:00:00",
            "StartDay" | "EndDay" => "Su",
            "StoreFlush" => "message",
            "Transport" => "memory",
            "Sequencer" => "card",
            "ReceiveWindow" => "512",
            "TimestampPrecision" => "6",
            "MaxMessageSize" => "100",
            "StoreSegmentSize" => "70000",
            "SocketAcceptAddress"
            | "SocketConnectHost"
            | "FileStorePath"
            | "FileLogPath"
            | "DataDictionary"
            | "DefaultApplVerID" => "v",
            k if k.starts_with("Reset")
                || k.starts_with("Check")
                || k.starts_with("Use")
                || k.starts_with("Enable")
                || k.starts_with("Validate")
                || k.starts_with("Persist")
                || k == "ClosedResendInterval" =>
            {
                "Y"
            }
            _ => "9",
        };
        let text = format!("[DEFAULT]\n{key}={v}\n");
        Settings::parse(&text).unwrap_or_else(|e| panic!("{key}={v}: {e} (engine {engine})"));
    }
}

#[test]
fn keys_match_without_regard_to_case_and_alias() {
    let s = one("heartbtint=9\nSOCKETACCEPTHOST=0.0.0.0\nstoreflush=MESSAGE").unwrap();
    assert_eq!(s.heart_bt_int, 9);
    assert_eq!(s.socket_accept_address.as_deref(), Some("0.0.0.0"));
    assert_eq!(s.flush_policy, FlushPolicy::EveryMessage);
    // An alias and its canonical name in one section are the same key twice.
    let e = bad_one("SocketAcceptHost=a\nSocketAcceptAddress=b");
    assert_eq!(e.line, 9);
    assert!(e.message.contains("set twice"), "{e}");
    assert!(e.message.contains("line 8"), "{e}");
}

#[test]
fn session_overrides_default_and_many_sessions() {
    let text = "\
# comment at the top
[DEFAULT]
ConnectionType=initiator
SocketConnectHost=127.0.0.1
SocketConnectPort=9000
HeartBtInt=20
SenderCompID=ME

[SESSION]
BeginString=FIX.4.2
TargetCompID=A

[session]
BeginString=FIX.4.4
TargetCompID=A
HeartBtInt=45
SocketConnectPort=9001

[SESSION]
BeginString=FIX.4.4
SenderCompID=ME2
TargetCompID=A
ConnectionType=acceptor
SocketAcceptPort=7000
";
    let s = Settings::parse(text).unwrap();
    assert_eq!(s.sessions.len(), 3);
    assert_eq!(s.default.line, 2);
    assert_eq!(s.default.get("HeartBtInt"), Some("20"));
    assert_eq!(s.default.entries.len(), 5);
    let a = s.find("FIX.4.2", "ME", "A").unwrap();
    assert_eq!(a.heart_bt_int, 20);
    assert_eq!(a.connection_type, ConnectionType::Initiator);
    assert_eq!(a.socket_connect_port, Some(9000));
    let b = s.session("FIX.4.4:ME->A").unwrap();
    assert_eq!(b.heart_bt_int, 45);
    assert_eq!(b.socket_connect_port, Some(9001));
    let c = s.session("FIX.4.4:ME2->A").unwrap();
    assert_eq!(c.connection_type, ConnectionType::Acceptor);
    assert_eq!(c.socket_accept_port, Some(7000));
    assert!(s.session("FIX.4.4:X->Y").is_none());
}

/// QuickFIX's documented example (quickfixengine.org, "Configuration"), with the keys it uses.
#[test]
fn quickfix_example_file() {
    let text = "\
# default settings for sessions
[DEFAULT]
ConnectionType=initiator
ReconnectInterval=60
SenderCompID=TW

# session definition
[SESSION]
# inherit ConnectionType, ReconnectInterval and SenderCompID from default
BeginString=FIX.4.1
TargetCompID=ARCA
StartTime=12:30:00
EndTime=23:30:00
HeartBtInt=20
SocketConnectPort=9823
SocketConnectHost=123.123.123.123
DataDictionary=somewhere/FIX41.xml

[SESSION]
BeginString=FIX.4.0
TargetCompID=ISLD
StartTime=12:00:00
EndTime=23:00:00
HeartBtInt=30
SocketConnectPort=8323
SocketConnectHost=23.23.23.23
DataDictionary=somewhere/FIX40.xml

[SESSION]
BeginString=FIX.4.2
TargetCompID=INCA
StartTime=12:30:00
EndTime=21:30:00
# overide default setting for RecconnectInterval
ReconnectInterval=30
HeartBtInt=30
SocketConnectPort=6523
SocketConnectHost=3.3.3.3
# (optional) alternate connection ports and hosts to cycle through on failover
DataDictionary=somewhere/FIX42.xml
";
    let s = Settings::parse(text).unwrap();
    assert_eq!(s.sessions.len(), 3);
    let arca = s.session("FIX.4.1:TW->ARCA").unwrap();
    assert_eq!(arca.reconnect_interval, 60);
    assert_eq!(arca.start_time.unwrap().hms(), (12, 30, 0));
    assert_eq!(arca.socket_connect_host.as_deref(), Some("123.123.123.123"));
    assert_eq!(
        arca.data_dictionary,
        Some(PathBuf::from("somewhere/FIX41.xml"))
    );
    assert!(!arca.use_data_dictionary);
    let isld = s.session("FIX.4.0:TW->ISLD").unwrap();
    assert_eq!(isld.socket_connect_port, Some(8323));
    let inca = s.session("FIX.4.2:TW->INCA").unwrap();
    assert_eq!(inca.reconnect_interval, 30);
    assert_eq!(inca.end_time.unwrap().hms(), (21, 30, 0));

    // And as a file.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quickfix.cfg");
    std::fs::write(&path, text).unwrap();
    assert_eq!(Settings::load(&path).unwrap(), s);
}

/// A typical acceptor file of a QuickFIX executor example, FIXT included.
#[test]
fn quickfix_executor_style_file() {
    let text = "\
[DEFAULT]
FileStorePath=store
FileLogPath=log
ConnectionType=acceptor
StartTime=00:00:00
EndTime=00:00:00
SenderCompID=EXECUTOR
UseDataDictionary=Y
ValidateUserDefinedFields=N
SocketAcceptPort=5001
ResetOnLogon=Y

[SESSION]
BeginString=FIX.4.2
TargetCompID=CLIENT1
DataDictionary=spec/FIX42.xml

[SESSION]
BeginString=FIXT.1.1
DefaultApplVerID=FIX.5.0SP2
TargetCompID=CLIENT1
DataDictionary=spec/FIX50SP2.xml
";
    let s = Settings::parse(text).unwrap();
    assert_eq!(s.sessions.len(), 2);
    for x in &s.sessions {
        assert_eq!(x.file_store_path, Some(PathBuf::from("store")));
        assert!(x.reset_on_logon && x.use_data_dictionary);
        assert_eq!(x.socket_accept_port, Some(5001));
    }
    assert_eq!(s.sessions[1].session_key(), "FIXT.1.1:EXECUTOR->CLIENT1");
}

#[test]
fn unknown_key_names_the_line_and_suggests() {
    let e = bad_one("ResetOnLogon=Y\nHeartBtInterval=30");
    assert_eq!(e.line, 9);
    assert_eq!(
        e.to_string(),
        "settings line 9: unknown key `HeartBtInterval` (did you mean `HeartBtInt`?)"
    );
    let e = bad("[DEFAULT]\nFrobnicate=1\n");
    assert_eq!(e.line, 2);
    assert_eq!(e.message, "unknown key `Frobnicate`");
    // QuickFIX keys the engine does not have are named as such.
    let e = bad_one("SocketNodelay=Y");
    assert_eq!(e.line, 8);
    assert!(
        e.message
            .contains("QuickFIX's SocketNodelay is not supported by this engine"),
        "{e}"
    );
}

#[test]
fn bad_values_name_the_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "HeartBtInt=abc",
            "HeartBtInt must be a whole number from 0 to 86400, not `abc`",
        ),
        ("HeartBtInt=-1", "HeartBtInt"),
        ("HeartBtInt=86401", "86401"),
        ("HeartBtInt=", "HeartBtInt"),
        ("ReconnectInterval=0", "ReconnectInterval"),
        ("ResetOnLogon=yes", "ResetOnLogon must be Y or N, not `yes`"),
        ("ResetOnLogout=1", "ResetOnLogout"),
        ("ResetOnDisconnect=true", "ResetOnDisconnect"),
        ("CheckLatency=", "CheckLatency"),
        ("MaxLatency=0", "MaxLatency"),
        ("PersistMessages=maybe", "PersistMessages"),
        ("SocketAcceptPort=0", "SocketAcceptPort"),
        ("SocketAcceptPort=65536", "SocketAcceptPort"),
        ("SocketConnectPort=http", "SocketConnectPort"),
        ("SocketConnectHost=", "SocketConnectHost must not be empty"),
        ("SocketAcceptAddress=", "SocketAcceptAddress"),
        (
            "StartTime=8:00:00",
            "StartTime must be a time of day HH:MM:SS, not `8:00:00`",
        ),
        ("EndTime=24:00:00", "EndTime"),
        ("EndTime=12:60:00", "EndTime"),
        ("StartDay=Xyz", "StartDay must be a day of the week"),
        ("EndDay=M", "EndDay"),
        ("ResendRequestChunkSize=1e3", "ResendRequestChunkSize"),
        ("FileStorePath=", "FileStorePath"),
        ("FileLogPath=", "FileLogPath"),
        ("UseDataDictionary=Q", "UseDataDictionary"),
        ("DataDictionary=", "DataDictionary"),
        ("DefaultApplVerID=a b", "DefaultApplVerID"),
        ("LogonTimeout=0", "LogonTimeout"),
        ("LogoutTimeout=x", "LogoutTimeout"),
        (
            "EnableNextExpectedMsgSeqNum=2",
            "EnableNextExpectedMsgSeqNum",
        ),
        ("ValidateUserDefinedFields=F", "ValidateUserDefinedFields"),
        (
            "TimestampPrecision=4",
            "TimestampPrecision must be one of 0, 3, 6, 9, not `4`",
        ),
        ("MaxMessageSize=63", "MaxMessageSize"),
        ("MaxMessageSize=16777216", "MaxMessageSize"),
        ("ReceiveWindow=300", "ReceiveWindow must be a power of two"),
        ("ReceiveWindow=128", "ReceiveWindow"),
        (
            "StoreFlush=always",
            "StoreFlush must be none, message or batch:N",
        ),
        ("StoreFlush=batch:0", "StoreFlush"),
        ("StoreFlush=batch:", "StoreFlush"),
        ("StoreSegmentSize=1000", "StoreSegmentSize"),
        (
            "Transport=tcp",
            "Transport must be one of io_uring, dpdk, memory, not `tcp`",
        ),
        ("MaxResendRange=-5", "MaxResendRange"),
        ("MaxResendsPerSecond=4294967296", "MaxResendsPerSecond"),
        (
            "Sequencer=fpga",
            "Sequencer must be one of hwsim, verilated, card",
        ),
        ("BeginString=FIX.5.0", "BeginString must be one of"),
        ("SenderCompID=has space", "SenderCompID"),
        ("TargetCompID=", "TargetCompID"),
        (
            "ConnectionType=both",
            "ConnectionType must be one of acceptor, initiator",
        ),
    ];
    for (line, want) in cases {
        // Line 8 is where the extra line lands; BeginString etc. are then set twice, so put
        // those in a fresh session instead.
        let (text, at) = if ["BeginString", "SenderCompID", "TargetCompID"]
            .iter()
            .any(|k| line.starts_with(k))
        {
            (format!("[DEFAULT]\n\n{line}\n"), 3)
        } else {
            (format!("{HEAD}{line}\n"), 8)
        };
        let e = bad(&text);
        assert_eq!(e.line, at, "{line}: {e}");
        assert!(e.message.contains(want), "{line}: got `{e}`, want `{want}`");
        assert!(e.to_string().starts_with(&format!("settings line {at}: ")));
    }
}

#[test]
fn structural_errors() {
    let e = bad("HeartBtInt=30\n[DEFAULT]\n");
    assert_eq!(e.line, 1);
    assert!(
        e.message.contains("before any [DEFAULT] or [SESSION]"),
        "{e}"
    );

    let e = bad("[DEFAULT]\n[DEFAULT]\n");
    assert_eq!((e.line, e.message.contains("line 1")), (2, true), "{e}");

    let e = bad("[DEFAULT]\n\n[SESSIONS]\n");
    assert_eq!(e.line, 3);
    assert!(e.message.contains("unknown section [SESSIONS]"), "{e}");

    let e = bad("[DEFAULT\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("no closing"), "{e}");

    let e = bad("[DEFAULT]\nHeartBtInt 30\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("expected `Key=Value`"), "{e}");

    let e = bad("[DEFAULT]\n=30\n");
    assert_eq!(e.line, 2);
    assert!(e.message.contains("no key"), "{e}");

    let e = bad_one("HeartBtInt=1\nheartbtint=2");
    assert_eq!(e.line, 9);
    assert!(e.message.contains("HeartBtInt is set twice"), "{e}");

    // A value with '=' in it is kept whole; whitespace around keys and values is trimmed;
    // comment lines may be indented.
    let s = one("  FileStorePath = /a=b  \n   # indented comment").unwrap();
    assert_eq!(s.file_store_path, Some(PathBuf::from("/a=b")));

    // An empty file has no sessions; CRLF line ends are fine.
    assert!(Settings::parse("").unwrap().sessions.is_empty());
    let s = Settings::parse(&HEAD.replace('\n', "\r\n")).unwrap();
    assert_eq!(s.sessions[0].sender_comp_id, "S");
}

#[test]
fn missing_required_keys_name_the_session_line() {
    let base = "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=1\n\n";
    for (missing, body) in [
        ("BeginString", "SenderCompID=S\nTargetCompID=T\n"),
        ("SenderCompID", "BeginString=FIX.4.4\nTargetCompID=T\n"),
        ("TargetCompID", "BeginString=FIX.4.4\nSenderCompID=S\n"),
    ] {
        let e = bad(&format!(
            "{base}[SESSION]\nBeginString=FIX.4.2\nSenderCompID=A\nTargetCompID=B\n\n[SESSION]\n{body}"
        ));
        assert_eq!(e.line, 10, "{missing}: {e}");
        assert!(e.message.contains(&format!("has no {missing}")), "{e}");
    }
    let e = bad("[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("no ConnectionType"), "{e}");

    let e = bad(
        "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\nConnectionType=acceptor\n",
    );
    assert!(e.message.contains("no SocketAcceptPort"), "{e}");
    let e = bad("[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\nConnectionType=initiator\nSocketConnectHost=h\n");
    assert!(e.message.contains("SocketConnectPort"), "{e}");
    assert_eq!(e.line, 1);

    for (extra, want) in [
        ("StartTime=01:00:00", "only one of StartTime and EndTime"),
        ("StartDay=Mo\nEndDay=Fr", "without StartTime"),
        (
            "StartDay=Mo\nStartTime=01:00:00\nEndTime=02:00:00",
            "only one of StartDay",
        ),
        ("MaxMessageSize=100000\nStoreSegmentSize=65536", "too small"),
    ] {
        let e = bad_one(extra);
        assert_eq!(e.line, 4, "{extra}: {e}");
        assert!(e.message.contains(want), "{extra}: {e}");
    }
    // UseDataDictionary=Y without a file is allowed: the session layer has shipped dictionaries.
    let s = one("UseDataDictionary=Y").unwrap();
    assert!(s.use_data_dictionary && s.data_dictionary.is_none());
    let e = bad("[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=1\n[SESSION]\nBeginString=FIXT.1.1\nSenderCompID=S\nTargetCompID=T\n");
    assert!(e.message.contains("DefaultApplVerID"), "{e}");
}

#[test]
fn duplicate_sessions_are_refused() {
    let text = format!("{HEAD}\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n");
    let e = bad(&text);
    assert_eq!(e.line, 9);
    assert!(e.message.contains("FIX.4.4:S->T is defined twice"), "{e}");
    assert!(e.message.contains("line 4"), "{e}");
}

#[test]
fn bad_default_value_is_refused_even_when_overridden() {
    let e = bad("[DEFAULT]\nHeartBtInt=x\nConnectionType=acceptor\nSocketAcceptPort=1\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\nHeartBtInt=5\n");
    assert_eq!(e.line, 2);
}

#[test]
fn load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.cfg");
    let e = Settings::load(&missing).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.to_string().starts_with("settings: cannot read "), "{e}");
    assert!(e.to_string().contains("nope.cfg"), "{e}");
    let p = dir.path().join("bad.cfg");
    std::fs::write(&p, "[DEFAULT]\nNope=1\n").unwrap();
    let e = Settings::load(&p).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("bad.cfg"), "{e}");
}

#[test]
fn hostile_text_never_panics() {
    // Arbitrary bytes (as lossy text), deep nesting of brackets, huge numbers.
    let mut seed = 0x1234_5678u32;
    for _ in 0..2000 {
        let mut v = Vec::new();
        for _ in 0..(seed % 200) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            v.push(b"[]=#\n\r YNDEFAULTSESSIONHeartBtInt0123456789:\x00\xff"[(seed % 43) as usize]);
        }
        let _ = Settings::parse(&String::from_utf8_lossy(&v));
    }
    let _ = Settings::parse(&format!("{HEAD}HeartBtInt={}\n", "9".repeat(10_000)));
    let _ = Settings::parse(&"[".repeat(10_000));
    let e = bad(&format!("[DEFAULT]\n{}=1\n", "K".repeat(1_000_000)));
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("unknown key `KKK"));
    assert!(e.message.len() < 500, "error messages stay short");
    let e = bad_one(&format!("HeartBtInt={}", "é".repeat(1000)));
    assert!(e.message.starts_with("HeartBtInt must be"));
    assert!(e.message.ends_with('…'));
}
