//! The FIX session-layer test cases as scripted scenarios against the state machine, with a fake
//! clock. The peer's messages are built with real BodyLength and CheckSum and pass through a
//! sequencer to get real verdicts: the software fast path (`hwsim::fast::FastPath`) here; the
//! hardware-in-the-loop suite (`fpga/sim/tests/hil.rs`) includes this file as a module
//! and runs every scenario on the verilated RTL, through its own `crate::sequencer_for_tests`.
//!
//! Script language (one command per line, `#` starts a comment):
//!
//! | command | meaning |
//! |---|---|
//! | `connect` / `disconnect` | connection up / down |
//! | `recv 35=D 34=5 11=X` | the peer sends a message; 49/56/52 default to PEER/ENGINE/now; `52=now-200s` etc. |
//! | `recv-badsum ...` | the same with a wrong CheckSum |
//! | `recv-raw 8=FIX.4.4\|9=...` | raw bytes, `\|` is SOH |
//! | `send 35=D 11=X` | the application sends |
//! | `logout text` | we start a Logout |
//! | `advance 31s` / `advance 500ms` | the clock moves, then a timer tick |
//! | `expect send 35=2 7=3 16=0` | the next message we sent has these fields (`*` any value, `~x` contains, `!43` absent) |
//! | `expect nosend` | nothing more was sent |
//! | `expect deliver 34=3..5` / `expect deliver 34=3 11=X` | next deliveries to the application |
//! | `expect nodeliver` | nothing more was delivered |
//! | `expect disconnect [Reason]` | the session asked for a disconnect |
//! | `expect connected` | no disconnect pending |
//! | `expect event Text` | an event whose Debug form contains Text |
//! | `expect target N` / `expect sender N` / `expect held N` / `expect state S` | store numbers, held count, state |
//! | `drain` | forget what was sent so far |

mod common;

use common::*;
use fixsession::store::{MemoryStore, MessageStore};
use fixsession::{EchoApp, Role, Session, SessionConfig};
use hwsim::fast::FastPath;
use hwsim::sequencer::Sequencer;

/// The sequencer every scenario runs on, for `window` and `max_msg`. The scenarios call it as
/// `crate::sequencer_for_tests`: this one when this file is its own test crate, the including
/// crate's when it is a module of another (the hardware-in-the-loop suite).
#[allow(dead_code)]
pub fn sequencer_for_tests(window: u32, max_msg: usize) -> Box<dyn Sequencer> {
    Box::new(FastPath::new(1, window, max_msg))
}

/// A harness on [`sequencer_for_tests`].
fn harness(cfg: SessionConfig) -> Harness {
    let seq = crate::sequencer_for_tests(cfg.window, cfg.max_message_size);
    Harness::with_sequencer(cfg, seq)
}

/// Runs `script` against a fresh acceptor with the default configuration.
fn scenario(script: &str) -> Harness {
    scenario_with(default_config(), script)
}

/// Runs `script` against a fresh session with `cfg`.
fn scenario_with(cfg: SessionConfig, script: &str) -> Harness {
    let mut h = harness(cfg);
    h.run(script);
    h
}

/// Connect and log on (acceptor side); afterwards the next target is 2 and the next sender 2.
const LOGON: &str = "
connect
recv 35=A 34=1 108=30 98=0
expect send 35=A 34=1 108=30 49=ENGINE 56=PEER
expect nosend
expect state Active
expect target 2
expect sender 2
";

fn logged_on(script: &str) -> Harness {
    scenario(&format!("{LOGON}\n{script}"))
}

// ---------------------------------------------------------------- Logon

#[test]
fn t1s_a_valid_logon_is_answered() {
    let h = logged_on("expect event LoggedOn");
    assert!(h.s.is_logged_on());
}

#[test]
fn t1s_a_logon_too_high_answers_then_resend_request() {
    scenario(
        "
        connect
        recv 35=A 34=5 108=30
        expect send 35=A 34=1
        expect send 35=2 34=2 7=1 16=0
        expect nosend
        expect state Active
        recv 35=4 34=1 43=Y 122=now 123=Y 36=5
        expect target 6
        expect held 0
        recv 35=D 34=6 11=a
        expect deliver 34=6 11=a
        expect nosend
        ",
    );
}

#[test]
fn t1s_b_second_logon_is_refused() {
    logged_on(
        "
        recv 35=A 34=2 108=30
        expect nosend
        expect event SecondLogon
        expect disconnect SecondLogon
        ",
    );
}

#[test]
fn t1s_c_unknown_identity_disconnects_without_answer() {
    for bad in ["49=INTRUDER", "56=SOMEONE", "8=FIX.4.2"] {
        scenario(&format!(
            "
            connect
            recv 35=A 34=1 108=30 {bad}
            expect nosend
            expect disconnect UnknownIdentity
            "
        ));
    }
}

#[test]
fn t1s_c_authentication_hook_refuses() {
    let mut h = harness(default_config());
    h.s.app_mut().refuse_password = Some(b"wrong".to_vec());
    h.run(
        "
        connect
        recv 35=A 34=1 108=30 553=user 554=wrong
        expect nosend
        expect disconnect AuthenticationFailed
        connect
        recv 35=A 34=1 108=30 553=user 554=right
        expect send 35=A
        expect connected
        ",
    );
}

#[test]
fn t1s_d_logon_with_bad_sending_time_rejected_then_logout() {
    scenario(
        "
        connect
        recv 35=A 34=1 108=30 52=now-500s
        expect send 35=3 45=1 373=10
        expect send 35=5
        expect disconnect BadSendingTime
        ",
    );
}

#[test]
fn t1s_logon_without_heartbtint_is_refused() {
    scenario(
        "
        connect
        recv 35=A 34=1
        expect send 35=3 373=1 371=108
        expect send 35=5
        expect disconnect BadLogon
        ",
    );
}

#[test]
fn t1b_initiator_logs_on() {
    let mut cfg = default_config();
    cfg.role = Role::Initiator;
    scenario_with(
        cfg,
        "
        connect
        expect send 35=A 34=1 108=30 98=0 !141
        expect state AwaitingLogon
        recv 35=A 34=1 108=30
        expect state Active
        expect nosend
        recv 35=D 34=2 11=x
        expect deliver 34=2
        ",
    );
}

#[test]
fn t1b_c_initiator_answer_too_high_requests_resend() {
    let mut cfg = default_config();
    cfg.role = Role::Initiator;
    scenario_with(
        cfg,
        "
        connect
        expect send 35=A 34=1
        recv 35=A 34=4 108=30
        expect send 35=2 34=2 7=1 16=0
        expect state Active
        ",
    );
}

#[test]
fn t1b_e_and_2s_first_message_not_logon_disconnects() {
    let mut cfg = default_config();
    cfg.role = Role::Initiator;
    scenario_with(
        cfg,
        "
        connect
        expect send 35=A
        recv 35=0 34=1
        expect nosend
        expect disconnect FirstMessageNotLogon
        ",
    );
    scenario(
        "
        connect
        recv 35=D 34=1 11=a
        expect nosend
        expect nodeliver
        expect disconnect FirstMessageNotLogon
        ",
    );
}

#[test]
fn logon_timeout_disconnects() {
    scenario(
        "
        connect
        advance 9s
        expect connected
        advance 1s
        expect disconnect LogonTimeout
        ",
    );
}

#[test]
fn logon_reset_seq_num_flag_resets_both_sides() {
    logged_on(
        "
        send 35=D 11=a
        expect send 35=D 34=2
        recv 35=D 34=2 11=b
        expect deliver 34=2
        disconnect
        connect
        recv 35=A 34=1 108=30 141=Y
        expect send 35=A 34=1 141=Y
        expect target 2
        expect sender 2
        expect event reset: true
        ",
    );
}

#[test]
fn initiator_reset_on_logon_sends_flag() {
    let mut cfg = default_config();
    cfg.role = Role::Initiator;
    cfg.reset_on_logon = true;
    scenario_with(
        cfg,
        "
        connect
        expect send 35=A 34=1 141=Y
        recv 35=A 34=1 108=30 141=Y
        expect state Active
        expect target 2
        expect sender 2
        expect nosend
        ",
    );
}

// ---------------------------------------------------------------- Standard header

#[test]
fn t2a_in_order_is_delivered() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        recv 35=D 34=3 11=b
        expect deliver 34=2 11=a
        expect deliver 34=3 11=b
        expect target 4
        expect nosend
        ",
    );
}

#[test]
fn t2b_too_high_requests_resend_and_holds() {
    logged_on(
        "
        recv 35=D 34=5 11=e
        expect send 35=2 34=2 7=2 16=0
        expect nodeliver
        expect held 1
        recv 35=D 34=6 11=f
        expect nosend
        expect held 2
        recv 35=D 34=2 11=b 43=Y 122=now
        expect deliver 34=2
        expect nodeliver
        recv 35=D 34=4 11=d 43=Y 122=now
        expect nodeliver
        recv 35=D 34=3 11=c 43=Y 122=now
        expect deliver 34=3..6
        expect nodeliver
        expect held 0
        expect target 7
        expect nosend
        ",
    );
}

#[test]
fn t2c_too_low_without_possdup_logs_out() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        expect deliver 34=2
        recv 35=D 34=1 11=x
        expect send 35=5 58=MsgSeqNum\\stoo\\slow,\\sexpecting\\s3\\sbut\\sreceived\\s1
        expect disconnect SeqTooLow
        expect nodeliver
        ",
    );
}

#[test]
fn t2d_t3b_t3c_garbled_is_ignored() {
    logged_on(
        "
        recv-badsum 35=D 34=2 11=a
        expect nosend
        expect target 2
        expect event Garbled
        recv-raw 8=FIX.4.4|9=5|35=D|34=2|10=000|
        expect event Garbled
        recv-raw 8=FIX.4.4|9=12|35=0|34=2|10=1x3|
        expect event Garbled
        expect nosend
        expect target 2
        recv 35=D 34=2 11=a
        expect deliver 34=2
        expect connected
        ",
    );
}

#[test]
fn t2e_possdup_below_expected_is_discarded() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        expect deliver 34=2
        recv 35=D 34=2 11=a 43=Y 122=now-1s
        expect nodeliver
        expect nosend
        expect event Duplicate
        expect target 3
        expect connected
        ",
    );
}

#[test]
fn t2f_orig_sending_time_after_sending_time() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        expect deliver 34=2
        recv 35=D 34=2 11=a 43=Y 122=now+10s
        expect send 35=3 45=2 373=10
        expect send 35=5
        expect disconnect BadSendingTime
        ",
    );
    // The same on an in-order message.
    logged_on(
        "
        recv 35=D 34=2 11=a 43=Y 122=now+10s
        expect send 35=3 45=2 373=10
        expect send 35=5
        expect disconnect BadSendingTime
        expect nodeliver
        ",
    );
}

#[test]
fn t2g_possdup_without_orig_sending_time_rejected() {
    logged_on(
        "
        recv 35=D 34=2 11=a 43=Y
        expect send 35=3 45=2 373=1 371=122
        expect nodeliver
        expect target 3
        expect connected
        recv 35=D 34=2 11=a 43=Y
        expect send 35=3 45=2 373=1
        expect connected
        ",
    );
}

#[test]
fn t2i_wrong_begin_string_logs_out() {
    logged_on(
        "
        recv 35=D 34=2 11=a 8=FIX.4.2
        expect send 35=5 58=Incorrect\\sBeginString
        expect disconnect BadBeginString
        expect nodeliver
        ",
    );
}

#[test]
fn t2k_wrong_comp_id_rejected_then_logout() {
    logged_on(
        "
        recv 35=D 34=2 11=a 49=OTHER
        expect send 35=3 45=2 373=9 371=49
        expect send 35=5
        expect disconnect BadCompId
        expect nodeliver
        ",
    );
    logged_on(
        "
        recv 35=D 34=2 11=a 56=OTHER
        expect send 35=3 45=2 373=9 371=56
        expect send 35=5
        expect disconnect BadCompId
        ",
    );
}

#[test]
fn t2l_t2m_body_length_wrong_is_garbled() {
    let mut h = logged_on("");
    let good = h.peer_msg(&["35=D", "34=2", "11=a"]);
    // Change BodyLength by one (checksum recomputed so only the length is wrong).
    let text = String::from_utf8(good.clone()).unwrap();
    let bl: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let body: Vec<u8> =
        good[good.iter().position(|&b| b == b'3').unwrap()..good.len() - 7].to_vec();
    let mut bad = format!("8=FIX.4.4\x019={}\x01", bl + 1).into_bytes();
    bad.extend_from_slice(&body);
    let sum: u32 = bad.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    bad.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    h.feed(&bad);
    h.run("expect nodeliver\nexpect target 2\nexpect event Garbled\nexpect nosend");
    h.feed(&good);
    h.run("expect deliver 34=2");
}

#[test]
fn t2o_sending_time_out_of_tolerance() {
    logged_on(
        "
        recv 35=D 34=2 11=a 52=now-121s
        expect send 35=3 45=2 373=10
        expect send 35=5
        expect disconnect BadSendingTime
        ",
    );
    logged_on(
        "
        recv 35=D 34=2 11=a 52=now-119s
        expect deliver 34=2
        expect connected
        ",
    );
}

#[test]
fn t2q_invalid_msg_type_rejected() {
    logged_on(
        "
        recv 35=ZZ 34=2
        expect send 35=3 45=2 373=11 372=ZZ
        expect target 3
        expect nodeliver
        expect connected
        ",
    );
}

#[test]
fn t2r_unsupported_msg_type_business_reject() {
    logged_on(
        "
        recv 35=B 34=2 148=news
        expect send 35=j 45=2 372=B 380=3 58=Unsupported\\sMessage\\sType
        expect nodeliver
        expect target 3
        ",
    );
}

#[test]
fn t2t_msg_type_not_third_is_garbled() {
    logged_on(
        "
        recv-raw 8=FIX.4.4|9=20|49=PEER|35=D|34=2|10=000|
        expect event Garbled
        expect nosend
        expect nodeliver
        expect target 2
        ",
    );
}

// ---------------------------------------------------------------- Heartbeats

#[test]
fn t4a_heartbeat_after_silence() {
    logged_on(
        "
        advance 29s
        expect nosend
        recv 35=0 34=2
        advance 1s
        expect send 35=0 34=2 !112
        expect nosend
        ",
    );
}

#[test]
fn t4b_test_request_answered_with_id() {
    logged_on(
        "
        recv 35=1 34=2 112=hello
        expect send 35=0 112=hello
        expect target 3
        ",
    );
}

#[test]
fn t6_test_request_after_silence_then_disconnect() {
    logged_on(
        "
        recv 35=0 34=2
        advance 30s
        expect send 35=0
        advance 6s
        expect send 35=1 112=*
        expect connected
        advance 29s
        expect nosend
        expect connected
        advance 1s
        expect disconnect HeartbeatTimeout
        ",
    );
    // An answer keeps the session alive.
    logged_on(
        "
        advance 36s
        expect send 35=1 112=TEST1
        recv 35=0 34=2 112=TEST1
        advance 30s
        expect send 35=0
        expect connected
        ",
    );
}

#[test]
fn t7_reject_received_increments_expected() {
    logged_on(
        "
        recv 35=3 34=2 45=1 373=1
        expect target 3
        expect event RejectReceived
        expect nosend
        ",
    );
}

// ---------------------------------------------------------------- Resend serving

#[test]
fn t8_resend_admin_only_is_one_gap_fill() {
    logged_on(
        "
        advance 30s
        expect send 35=0 34=2
        recv 35=2 34=2 7=1 16=0
        expect send 35=4 34=1 123=Y 36=3 43=Y 122=*
        expect nosend
        expect sender 3
        ",
    );
}

#[test]
fn t8_resend_application_only() {
    logged_on(
        "
        send 35=D 11=a
        send 35=D 11=b
        send 35=D 11=c
        drain
        recv 35=2 34=2 7=2 16=4
        expect send 35=D 34=2 11=a 43=Y 122=*
        expect send 35=D 34=3 11=b 43=Y 122=*
        expect send 35=D 34=4 11=c 43=Y 122=*
        expect nosend
        expect sender 5
        ",
    );
}

#[test]
fn t8_resend_mixed_collapses_admin_runs() {
    logged_on(
        "
        send 35=D 11=a
        advance 30s           # Heartbeat 3
        send 35=D 11=b
        advance 30s           # TestRequest 5 (peer silent for 60 s)
        drain
        recv 35=0 34=2
        recv 35=2 34=3 7=1 16=0
        expect send 35=4 34=1 123=Y 36=2
        expect send 35=D 34=2 11=a 43=Y
        expect send 35=4 34=3 123=Y 36=4
        expect send 35=D 34=4 11=b 43=Y
        expect send 35=4 34=5 123=Y 36=6
        expect nosend
        expect event ResendServed
        ",
    );
}

#[test]
fn t8_resend_end_999999_and_range_clamp() {
    logged_on(
        "
        send 35=D 11=a
        drain
        recv 35=2 34=2 7=2 16=999999
        expect send 35=D 34=2 43=Y
        expect nosend
        recv 35=2 34=3 7=9 16=0
        expect nosend
        expect event ResendLimited
        ",
    );
}

#[test]
fn t8_resend_declined_by_hook_is_gap_filled() {
    let mut h = logged_on("");
    h.s.app_mut().decline_resend_of = vec![b"F".to_vec()];
    h.run(
        "
        send 35=D 11=a
        send 35=F 11=b 41=a
        send 35=D 11=c
        drain
        recv 35=2 34=2 7=1 16=0
        expect send 35=4 34=1 36=2
        expect send 35=D 34=2 11=a
        expect send 35=4 34=3 36=4
        expect send 35=D 34=4 11=c
        expect nosend
        ",
    );
}

#[test]
fn resend_range_limit_serves_first_part() {
    let mut cfg = default_config();
    cfg.max_resend_range = 2;
    scenario_with(
        cfg,
        &format!(
            "{LOGON}
            send 35=D 11=a
            send 35=D 11=b
            send 35=D 11=c
            drain
            recv 35=2 34=2 7=2 16=0
            expect send 35=D 34=2
            expect send 35=D 34=3
            expect nosend
            expect event ResendLimited
            "
        ),
    );
}

#[test]
fn resend_rate_limit_ignores_excess() {
    let mut cfg = default_config();
    cfg.max_resends_per_second = 1;
    scenario_with(
        cfg,
        &format!(
            "{LOGON}
            send 35=D 11=a
            drain
            recv 35=2 34=2 7=2 16=0
            expect send 35=D 34=2 43=Y
            recv 35=2 34=3 7=2 16=0
            expect nosend
            expect event max_resends_per_second
            advance 1s
            recv 35=2 34=4 7=2 16=0
            expect send 35=D 34=2 43=Y
            "
        ),
    );
}

// ---------------------------------------------------------------- Sequence resets

#[test]
fn t10a_gap_fill_too_high_requests_resend() {
    logged_on(
        "
        recv 35=4 34=5 123=Y 36=8
        expect send 35=2 7=2 16=0
        expect held 1
        recv 35=4 34=2 123=Y 36=5 43=Y 122=now
        expect target 8
        expect held 0
        recv 35=D 34=8 11=z
        expect deliver 34=8
        ",
    );
}

#[test]
fn t10b_gap_fill_sets_expected() {
    logged_on(
        "
        recv 35=4 34=2 123=Y 36=10
        expect target 10
        expect nosend
        recv 35=D 34=10 11=a
        expect deliver 34=10
        ",
    );
}

#[test]
fn t10c_gap_fill_below_with_possdup_ignored() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        expect deliver 34=2
        recv 35=4 34=2 123=Y 36=5 43=Y 122=now
        expect target 3
        expect nosend
        expect connected
        ",
    );
}

#[test]
fn t10d_gap_fill_below_without_possdup_logs_out() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        recv 35=4 34=1 123=Y 36=5
        expect send 35=5 58=~too\\slow
        expect disconnect SeqTooLow
        ",
    );
}

#[test]
fn t10e_gap_fill_new_seq_no_not_greater_rejected() {
    logged_on(
        "
        recv 35=4 34=2 123=Y 36=2
        expect send 35=3 45=2 373=5
        expect target 3
        expect connected
        ",
    );
}

#[test]
fn gap_fill_drops_held_below_and_releases_rest() {
    logged_on(
        "
        recv 35=D 34=4 11=d
        expect send 35=2 7=2 16=0
        recv 35=D 34=7 11=g
        expect held 2
        recv 35=4 34=2 123=Y 36=6 43=Y 122=now
        expect held 1
        expect event HeldDropped
        expect target 6
        recv 35=D 34=6 11=f
        expect deliver 34=6
        expect deliver 34=7
        expect nodeliver
        expect target 8
        ",
    );
}

#[test]
fn t11a_reset_raises_expected() {
    logged_on(
        "
        recv 35=4 34=1 36=20
        expect target 20
        expect nosend
        recv 35=D 34=20 11=a
        expect deliver 34=20
        ",
    );
}

#[test]
fn t11b_reset_equal_is_a_warning() {
    logged_on(
        "
        recv 35=4 34=9 36=2
        expect event SequenceResetNoChange
        expect target 2
        expect nosend
        expect connected
        ",
    );
}

#[test]
fn t11c_reset_lower_rejected_no_change() {
    logged_on(
        "
        recv 35=D 34=2 11=a
        recv 35=D 34=3 11=b
        recv 35=4 34=1 36=2
        expect send 35=3 373=5
        expect target 4
        expect connected
        ",
    );
}

#[test]
fn reset_releases_held_at_and_above_new_seq_no() {
    logged_on(
        "
        recv 35=D 34=3 11=c
        recv 35=D 34=6 11=f
        expect send 35=2 7=2 16=0
        recv 35=4 34=99 36=6
        expect deliver 34=6
        expect nodeliver
        expect target 7
        expect held 0
        ",
    );
}

// ---------------------------------------------------------------- Logout

#[test]
fn t12_t13a_logout_answered() {
    logged_on(
        "
        logout bye
        expect send 35=5 58=bye
        expect state LogoutSent
        recv 35=5 34=2
        expect disconnect LogoutComplete
        expect state Disconnected
        ",
    );
}

#[test]
fn t12_logout_not_answered_times_out() {
    logged_on(
        "
        logout
        expect send 35=5
        advance 1s
        expect connected
        advance 1s
        expect disconnect LogoutTimeout
        ",
    );
}

#[test]
fn t13b_unsolicited_logout_answered() {
    logged_on(
        "
        recv 35=5 34=2
        expect send 35=5
        expect state LogoutAnswered
        expect connected
        advance 2s
        expect disconnect PeerLogoutLinger
        ",
    );
}

#[test]
fn reset_on_logout_resets_numbers() {
    let mut cfg = default_config();
    cfg.reset_on_logout = true;
    scenario_with(
        cfg,
        &format!(
            "{LOGON}
            logout
            expect send 35=5
            recv 35=5 34=2
            expect disconnect LogoutComplete
            expect target 1
            expect sender 1
            "
        ),
    );
}

// ---------------------------------------------------------------- Other

#[test]
fn t15_header_and_body_in_any_order_accepted() {
    let mut h = logged_on("");
    let m = build(
        "FIX.4.4",
        &[
            (35, b"D".to_vec()),
            (11, b"a".to_vec()),
            (49, b"PEER".to_vec()),
            (55, b"X".to_vec()),
            (34, b"2".to_vec()),
            (56, b"ENGINE".to_vec()),
            (52, ts(h.now)),
        ],
    );
    h.feed(&m);
    h.run("expect deliver 34=2 11=a 55=X\nexpect nosend");
}

#[test]
fn t16_sends_while_disconnected_are_resent_after_logon() {
    scenario(
        "
        send 35=D 11=q1
        send 35=D 11=q2
        expect nosend
        expect event Queued
        expect sender 3
        connect
        recv 35=A 34=1 108=30
        expect send 35=A 34=3
        recv 35=2 34=2 7=1 16=0
        expect send 35=D 34=1 11=q1 43=Y
        expect send 35=D 34=2 11=q2 43=Y
        expect send 35=4 34=3 36=4
        expect nosend
        ",
    );
}

#[test]
fn t19_poss_resend_reaches_app_flagged() {
    let mut h = logged_on("");
    h.run("recv 35=D 34=2 11=a 97=Y");
    let (_, info) = h.s.app_mut().delivered.pop_front().unwrap();
    assert!(info.poss_resend);
    assert!(!info.poss_dup);
    assert_eq!(info.seq, 2);
}

/// 19a/19b with the built-in echo application: a PossResend repeat of a known ClOrdID is
/// ignored, a new one answered.
#[test]
fn t19_echo_app_ignores_poss_resend_repeats() {
    let cfg = default_config();
    let mut s = Session::new(cfg.clone(), MemoryStore::new(), EchoApp::new());
    let mut fp = TestSequencer(crate::sequencer_for_tests(cfg.window, cfg.max_message_size));
    let mut out = Rec::default();
    let h = harness(cfg);
    let now = h.now;
    s.on_connect(now, &mut out);
    fp.set_expected(0, 1);
    let msgs = [
        h.peer_msg(&["35=A", "34=1", "108=30"]),
        h.peer_msg(&["35=D", "34=2", "11=ord1", "55=EUR", "54=1", "38=100"]),
        h.peer_msg(&["35=D", "34=3", "11=ord1", "97=Y"]),
        h.peer_msg(&["35=D", "34=4", "11=ord2", "97=Y"]),
        h.peer_msg(&["35=G", "34=5", "11=x"]),
    ];
    for m in &msgs {
        let mut vs = Vec::new();
        fp.process(0, m, |v, b| vs.push((*v, b.to_vec())));
        for (v, b) in vs {
            s.on_verdict(now, &v, &b, &mut out);
        }
    }
    let sent: Vec<Vec<u8>> = out.sent.drain(..).collect();
    assert_eq!(get(&sent[0], 35).unwrap(), b"A");
    assert_eq!(get(&sent[1], 35).unwrap(), b"8");
    assert_eq!(get(&sent[1], 11).unwrap(), b"ord1");
    assert_eq!(get(&sent[1], 55).unwrap(), b"EUR");
    assert_eq!(get(&sent[2], 35).unwrap(), b"8");
    assert_eq!(get(&sent[2], 11).unwrap(), b"ord2");
    assert_eq!(get(&sent[3], 35).unwrap(), b"j");
    assert_eq!(get(&sent[3], 380).unwrap(), b"3");
    assert_eq!(
        sent.len(),
        4,
        "{:?}",
        sent.iter().map(|m| show(m)).collect::<Vec<_>>()
    );
    assert_eq!(s.app().answered, 2);
    assert_eq!(s.app().ignored_repeats, 1);
    assert_eq!(s.store().next_target_seq(), 6);
}

#[test]
fn t20_both_sides_resend_serve_theirs_then_request_ours() {
    logged_on(
        "
        send 35=D 11=a
        send 35=D 11=b
        drain
        recv 35=2 34=5 7=2 16=0
        expect send 35=D 34=2 11=a 43=Y
        expect send 35=D 34=3 11=b 43=Y
        expect send 35=2 34=4 7=2 16=0
        expect nosend
        recv 35=4 34=2 123=Y 36=5 43=Y 122=now
        expect target 6
        expect nosend
        expect held 0
        ",
    );
}

#[test]
fn chunked_resend_requests_next_chunk_when_complete() {
    let mut cfg = default_config();
    cfg.resend_request_chunk_size = 2;
    scenario_with(
        cfg,
        &format!(
            "{LOGON}
            recv 35=D 34=7 11=g
            expect send 35=2 7=2 16=3
            expect nosend
            recv 35=D 34=2 43=Y 122=now
            expect nosend
            recv 35=D 34=3 43=Y 122=now
            expect send 35=2 7=4 16=5
            recv 35=4 34=4 123=Y 36=6 43=Y 122=now
            expect send 35=2 7=6 16=7
            recv 35=D 34=6 43=Y 122=now
            expect deliver 34=2..3
            expect deliver 34=6..7
            expect target 8
            recv 35=0 34=8
            expect nosend
            "
        ),
    );
}

#[test]
fn beyond_window_dropped_and_requested_again() {
    logged_on(
        "
        recv 35=D 34=400 11=far
        expect event BeyondWindow
        expect send 35=2 7=2 16=0
        expect held 0
        recv 35=4 34=2 123=Y 36=400 43=Y 122=now
        expect target 400
        recv 35=D 34=400 11=far 43=Y 122=now
        expect deliver 34=400
        expect target 401
        recv 35=0 34=401
        expect nosend
        ",
    );
}

#[test]
fn stalled_resend_is_requested_again() {
    logged_on(
        "
        recv 35=D 34=5
        expect send 35=2 7=2 16=0
        advance 30s
        expect send 35=0
        expect send 35=2 7=2 16=0
        expect event ResendRequested
        ",
    );
}

#[test]
fn next_expected_msg_seq_num_on_logon() {
    let mut cfg = default_config();
    cfg.enable_next_expected_msg_seq_num = true;
    scenario_with(
        cfg.clone(),
        "
        send 35=D 11=q1
        send 35=D 11=q2
        connect
        recv 35=A 34=1 108=30 789=1
        expect send 35=A 34=3 789=2
        expect send 35=D 34=1 11=q1 43=Y
        expect send 35=D 34=2 11=q2 43=Y
        expect nosend
        ",
    );
    scenario_with(
        cfg,
        "
        connect
        recv 35=A 34=1 108=30 789=10
        expect send 35=A
        expect send 35=5 58=~789
        expect disconnect NextExpectedTooHigh
        ",
    );
}

#[test]
fn messages_while_disconnected_are_ignored_and_reconnect_resets_stream() {
    let h = logged_on(
        "
        disconnect
        expect state Disconnected
        recv 35=D 34=2
        expect nodeliver
        connect
        recv 35=A 34=2 108=30
        expect send 35=A 34=2
        expect target 3
        ",
    );
    use fixsession::SequencerOp::*;
    assert_eq!(
        h.out.ops,
        vec![ResetStream, SetExpected(1), ResetStream, SetExpected(2)]
    );
}

// ---------------------------------------------------------------- Data dictionary (14a-14i)

fn with_dictionary(script: &str) -> Harness {
    let mut cfg = default_config();
    static DICT: std::sync::OnceLock<std::sync::Arc<fixsession::dict::DataDictionary>> =
        std::sync::OnceLock::new();
    cfg.dictionary = Some(
        DICT.get_or_init(|| std::sync::Arc::new(fixsession::dict::DataDictionary::fix44()))
            .clone(),
    );
    scenario_with(cfg, &format!("{LOGON}\n{script}"))
}

const NOS: &str = "35=D 34=2 11=a 55=X 54=1 60=20240101-00:00:00 40=2 44=1.5 38=100";

#[test]
fn t14_valid_message_passes_dictionary() {
    with_dictionary(&format!(
        "
        recv {NOS}
        expect deliver 34=2 11=a
        expect nosend
        recv 35=D 34=3 11=b 55=X 54=1 60=20240101-00:00:00 40=2 38=1 78=1 79=acc 80=1 5001=x
        expect deliver 34=3
        "
    ));
}

#[test]
fn t14a_to_t14i_each_violation_is_rejected() {
    let cases = [
        // (extra or changed fields, 373, 371)
        (format!("{NOS} 4999=x"), 0, 4999), // 14a undefined tag
        (
            "35=D 34=2 11=a 55=X 60=20240101-00:00:00 40=2 38=1".to_string(),
            1,
            54,
        ), // 14b required missing
        (format!("{NOS} 112=x"), 2, 112),   // 14c not for this type
        (
            "35=D 34=2 11=a 55=X 54= 60=20240101-00:00:00 40=2 38=1".to_string(),
            4,
            54,
        ), // 14d empty
        (
            "35=D 34=2 11=a 55=X 54=Q 60=20240101-00:00:00 40=2 38=1".to_string(),
            5,
            54,
        ), // 14e bad enum
        (
            "35=D 34=2 11=a 55=X 54=1 60=20240101-00:00:00 40=2 38=1x".to_string(),
            6,
            38,
        ), // 14f format
        (format!("{NOS} 115=Z"), 14, 115),  // 14g order
        (format!("{NOS} 11=b"), 13, 11),    // 14h repeated
        (format!("{NOS} 78=2 79=acc 80=1"), 16, 78), // 14i group count
    ];
    for (fields, reason, tag) in cases {
        with_dictionary(&format!(
            "
            recv {fields}
            expect send 35=3 45=2 373={reason} 371={tag}
            expect nodeliver
            expect target 3
            expect connected
            "
        ));
    }
}

#[test]
fn config_from_settings_file() {
    use fixsession::settings::Settings;
    use fixsession::SessionConfig;
    let text = format!(
        "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\nSocketConnectPort=9876\n\
         HeartBtInt=15\nResendRequestChunkSize=100\nUseDataDictionary=Y\n\
         DataDictionary={}/../../engine/session/dict/FIX42.xml\n\
         [SESSION]\nBeginString=FIX.4.2\nSenderCompID=ME\nTargetCompID=YOU\n",
        // Through the workspace root: the HIL suite compiles this file in fpga/sim.
        env!("CARGO_MANIFEST_DIR")
    );
    let s = Settings::parse(&text).unwrap();
    let c = SessionConfig::try_from_settings(&s.sessions[0]).unwrap();
    assert_eq!(c.role, Role::Initiator);
    assert_eq!(c.heart_bt_int, 15);
    assert_eq!(c.resend_request_chunk_size, 100);
    assert_eq!(
        (c.sender_comp_id.as_str(), c.target_comp_id.as_str()),
        ("ME", "YOU")
    );
    assert_eq!(c.dictionary.as_ref().unwrap().begin_string(), "FIX.4.2");
    let mut bad = s.sessions[0].clone();
    bad.data_dictionary = Some("/nonexistent/FIX.xml".into());
    let e = SessionConfig::try_from_settings(&bad).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/FIX.xml"), "{e}");
}

#[test]
fn reset_on_disconnect_resets_numbers() {
    let mut cfg = default_config();
    cfg.reset_on_disconnect = true;
    scenario_with(
        cfg,
        &format!(
            "{LOGON}
            recv 35=D 34=2 11=a
            expect deliver 34=2
            disconnect
            expect target 1
            expect sender 1
            "
        ),
    );
}

#[test]
fn no_sequencer_mismatch_in_normal_operation() {
    let h = logged_on(
        "
        recv 35=D 34=2
        recv 35=D 34=5
        recv 35=D 34=3 43=Y 122=now
        recv 35=4 34=4 123=Y 36=5 43=Y 122=now
        recv 35=D 34=6
        expect deliver 34=2..3
        expect deliver 34=5..6
        ",
    );
    assert_no_sequencer_mismatch(&h);
}

/// Every outgoing message is in the store before its bytes are handed to the transport.
#[test]
fn journaled_before_sent() {
    use fixsession::store::StoreError;
    use std::cell::RefCell;
    use std::rc::Rc;
    type Log = Rc<RefCell<Vec<(char, u32)>>>;
    struct LogStore(MemoryStore, Log);
    impl MessageStore for LogStore {
        fn next_sender_seq(&self) -> u32 {
            self.0.next_sender_seq()
        }
        fn next_target_seq(&self) -> u32 {
            self.0.next_target_seq()
        }
        fn set_next_sender_seq(&mut self, s: u32) -> Result<(), StoreError> {
            self.0.set_next_sender_seq(s)
        }
        fn set_next_target_seq(&mut self, s: u32) -> Result<(), StoreError> {
            self.0.set_next_target_seq(s)
        }
        fn append(&mut self, seq: u32, m: &[u8]) -> Result<(), StoreError> {
            self.1.borrow_mut().push(('j', seq));
            self.0.append(seq, m)
        }
        fn for_each_in_range(
            &self,
            b: u32,
            e: u32,
            f: &mut dyn FnMut(u32, &[u8]) -> bool,
        ) -> Result<(), StoreError> {
            self.0.for_each_in_range(b, e, f)
        }
        fn last_stored_seq(&self) -> u32 {
            self.0.last_stored_seq()
        }
        fn reset(&mut self) -> Result<(), StoreError> {
            self.0.reset()
        }
        fn flush(&mut self) -> Result<(), StoreError> {
            self.0.flush()
        }
    }
    struct LogOut(Log);
    impl fixsession::SessionOutput for LogOut {
        fn send_bytes(&mut self, b: &[u8]) {
            let seq = std::str::from_utf8(&get(b, 34).unwrap())
                .unwrap()
                .parse()
                .unwrap();
            self.0.borrow_mut().push(('s', seq));
        }
        fn sequencer(&mut self, _op: fixsession::SequencerOp) {}
        fn event(&mut self, _e: &fixsession::Event<'_>) {}
        fn disconnect(&mut self, _r: fixsession::DisconnectReason) {}
    }
    let log: Log = Rc::default();
    let cfg = default_config();
    let h = harness(cfg.clone());
    let mut s = Session::new(
        cfg,
        LogStore(MemoryStore::new(), log.clone()),
        EchoApp::new(),
    );
    let mut out = LogOut(log.clone());
    let mut fp = TestSequencer(crate::sequencer_for_tests(256, 4096));
    s.on_connect(h.now, &mut out);
    for m in [
        h.peer_msg(&["35=A", "34=1", "108=30"]),
        h.peer_msg(&["35=D", "34=2", "11=a"]),
        h.peer_msg(&["35=1", "34=3", "112=x"]),
    ] {
        let mut vs = Vec::new();
        fp.process(0, &m, |v, b| vs.push((*v, b.to_vec())));
        for (v, b) in vs {
            s.on_verdict(h.now, &v, &b, &mut out);
        }
    }
    s.send(
        h.now,
        b"8",
        |b| {
            b.field(11, b"z");
        },
        &mut out,
    )
    .unwrap();
    let log = log.borrow();
    assert_eq!(
        *log,
        vec![
            ('j', 1),
            ('s', 1),
            ('j', 2),
            ('s', 2),
            ('j', 3),
            ('s', 3),
            ('j', 4),
            ('s', 4)
        ]
    );
}

#[test]
fn sending_time_missing_or_malformed_is_rejected_not_fatal() {
    let mut h = logged_on("");
    // No 52 at all.
    let m = build(
        "FIX.4.4",
        &[
            (35, b"D".to_vec()),
            (49, b"PEER".to_vec()),
            (56, b"ENGINE".to_vec()),
            (34, b"2".to_vec()),
            (11, b"a".to_vec()),
        ],
    );
    h.feed(&m);
    h.run(
        "
        expect send 35=3 45=2 373=1 371=52
        expect nodeliver
        expect target 3
        expect connected
        recv 35=D 34=3 52=yesterday
        expect send 35=3 45=3 373=6 371=52
        expect target 4
        expect connected
        ",
    );
}

#[test]
fn next_deadline_tracks_timers() {
    let mut h = harness(default_config());
    assert_eq!(h.s.next_deadline(), None);
    h.run("connect");
    assert_eq!(h.s.next_deadline(), Some(h.now + 10 * NS));
    h.run("recv 35=A 34=1 108=30");
    assert_eq!(h.s.next_deadline(), Some(h.now + 30 * NS));
    h.run("drain\nadvance 30s\nexpect send 35=0");
    // Next: TestRequest at 36 s of peer silence.
    assert_eq!(h.s.next_deadline(), Some(T0 + 36 * NS));
}
