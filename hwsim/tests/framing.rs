//! Directed tests for `docs/sequencer.md` section 2: every garbled reason with its exact offset
//! and length, the start matchers, and field extraction.

mod common;

use common::{frame_all, msg, raw, soh};
use hwsim::contract::reason;
use hwsim::frame::{FrameState, Framed};
use hwsim::{Flags, Reason};

const MAX: u32 = 4096;

fn one(bytes: &[u8]) -> Framed {
    let r = frame_all(bytes, MAX);
    assert_eq!(r.len(), 1, "expected one record, got {r:?}");
    r[0]
}

fn garbled(bytes: &[u8], why: Reason, offset: u64, length: u32) {
    let f = one(bytes);
    assert_eq!(
        f,
        Framed::garbled(offset, length, why),
        "input {:?}",
        String::from_utf8_lossy(bytes)
    );
}

#[test]
fn valid_message_with_fields() {
    let m = msg("D", &[(49, "S"), (56, "T"), (34, "7")]);
    let f = one(&m);
    assert_eq!(
        f,
        Framed {
            offset: 0,
            length: m.len() as u32,
            garbled: 0,
            msg_type: *b"D\0\0\0",
            flags: 0,
            seq: 7,
            seq_status: 0,
            new_seq_no: 0,
        }
    );
}

#[test]
fn every_begin_string_is_accepted() {
    for b in [
        "FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1",
    ] {
        let mut m = Vec::new();
        hwsim::gen::push_message(&mut m, b.as_bytes(), b"0", &[(34, b"1")]);
        let f = one(&m);
        assert!(f.is_valid(), "{b}: {f:?}");
        assert_eq!(f.flags, Flags::ADMIN);
    }
}

#[test]
fn junk_between_messages_is_skipped_and_offsets_count_it() {
    let m = msg("D", &[(34, "1")]);
    let mut s = b"xx\x01junk8=FI".to_vec();
    let o1 = s.len();
    s.extend_from_slice(&m);
    s.extend_from_slice(b"8=F8zz");
    let o2 = s.len();
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].offset, r[0].length, r[0].garbled),
        (o1 as u64, m.len() as u32, 0)
    );
    assert_eq!(
        (r[1].offset, r[1].length, r[1].garbled),
        (o2 as u64, m.len() as u32, 0)
    );
}

#[test]
fn bad_begin_string_at_the_first_byte_that_continues_none() {
    garbled(b"8=FIX.4.5\x01", Reason::BadBeginString, 0, 9);
    garbled(b"8=FIX.5.0\x01", Reason::BadBeginString, 0, 7);
    garbled(b"8=FIXT.1.2\x01", Reason::BadBeginString, 0, 10);
    garbled(b"8=FIX4.4\x01", Reason::BadBeginString, 0, 6);
    garbled(b"8=FIX.4.4x", Reason::BadBeginString, 0, 10);
    garbled(b"8=FIXT.1.1.", Reason::BadBeginString, 0, 11);
    garbled(b"ab8=FIX.4.\x01", Reason::BadBeginString, 2, 9);
}

#[test]
fn body_length_missing() {
    garbled(b"8=FIX.4.4\x0135=D\x01", Reason::BodyLengthMissing, 0, 11);
    garbled(b"8=FIX.4.4\x019x", Reason::BodyLengthMissing, 0, 12);
}

#[test]
fn body_length_invalid() {
    garbled(b"8=FIX.4.4\x019=\x01", Reason::BodyLengthInvalid, 0, 13);
    garbled(b"8=FIX.4.4\x019=x", Reason::BodyLengthInvalid, 0, 13);
    garbled(b"8=FIX.4.4\x019=12a", Reason::BodyLengthInvalid, 0, 15);
    garbled(b"8=FIX.4.4\x019=-1\x01", Reason::BodyLengthInvalid, 0, 13);
    // The tenth digit.
    garbled(
        b"8=FIX.4.4\x019=1234567890\x01",
        Reason::BodyLengthInvalid,
        0,
        22,
    );
    // Nine digits are accepted (and then too long).
    garbled(
        b"8=FIX.4.4\x019=000000012\x01X",
        Reason::MsgTypeNotThird,
        0,
        23,
    );
    garbled(b"8=FIX.4.4\x019=123456789\x01", Reason::TooLong, 0, 22);
}

#[test]
fn too_long_boundary_is_exact() {
    let m = msg("D", &[(34, "1"), (58, "padding")]);
    let n = m.len() as u32;
    let r = frame_all(&m, n);
    assert_eq!(r.len(), 1);
    assert!(r[0].is_valid());
    let soh_at = m.iter().skip(10).position(|&b| b == 1).unwrap() + 10;
    let r = frame_all(&m, n - 1);
    assert_eq!(
        r,
        vec![Framed::garbled(0, soh_at as u32 + 1, Reason::TooLong)]
    );
}

#[test]
fn msg_type_not_third() {
    // Body does not begin 35=: at bs (15 = len("8=FIX.4.4|9=10|")).
    garbled(&raw("49=S|35=D|"), Reason::MsgTypeNotThird, 0, 16);
    // Empty MsgType: at its SOH.
    garbled(&raw("35=|34=1|"), Reason::MsgTypeNotThird, 0, 14 + 4);
    // Body ends inside MsgType (L=3 and L=4): at the trailer position bs+L.
    garbled(
        &soh("8=FIX.4.4|9=3|35=10=000|"),
        Reason::MsgTypeNotThird,
        0,
        18,
    );
    garbled(
        &soh("8=FIX.4.4|9=4|35=D10=000|"),
        Reason::MsgTypeNotThird,
        0,
        19,
    );
    // L = 0.
    garbled(
        &soh("8=FIX.4.4|9=0|10=000|"),
        Reason::MsgTypeNotThird,
        0,
        15,
    );
}

#[test]
fn body_length_mismatch_at_the_first_differing_byte() {
    // Body "35=D|34=1|" is 10 bytes; header "8=FIX.4.4|9=N|" is 14.
    // Declared one short: at bs+L (23) because byte bs+L-1 is not SOH.
    garbled(
        &soh("8=FIX.4.4|9=9|35=D|34=1|10=000|"),
        Reason::BodyLengthMismatch,
        0,
        24,
    );
    // Declared one long: body swallows the `1` of 10=, and its last byte is not SOH.
    garbled(
        &soh("8=FIX.4.4|9=11|35=D|34=1|10=000|"),
        Reason::BodyLengthMismatch,
        0,
        27,
    );
    // Right length, but the trailer says 11= and 1x=.
    garbled(
        &soh("8=FIX.4.4|9=10|35=D|34=1|11=000|"),
        Reason::BodyLengthMismatch,
        0,
        27,
    );
    garbled(
        &soh("8=FIX.4.4|9=10|35=D|34=1|10x000|"),
        Reason::BodyLengthMismatch,
        0,
        28,
    );
}

#[test]
fn checksum_malformed_and_mismatch() {
    let good = msg("D", &[(34, "1")]);
    let n = good.len();
    let ck = n - 4; // first checksum digit
    let mut m = good.clone();
    m[ck + 1] = b'a';
    garbled(&m, Reason::ChecksumMalformed, 0, (ck + 2) as u32);
    let mut m = good.clone();
    m[ck + 2] = 1; // SOH where the third digit should be
    garbled(&m[..n - 1], Reason::ChecksumMalformed, 0, (ck + 3) as u32);
    let mut m = good.clone();
    m[n - 1] = b'7'; // fourth digit instead of SOH
    garbled(&m, Reason::ChecksumMalformed, 0, n as u32);
    let mut m = good.clone();
    m[ck + 2] = if m[ck + 2] == b'9' {
        b'0'
    } else {
        m[ck + 2] + 1
    };
    garbled(&m, Reason::ChecksumMismatch, 0, n as u32);
    // 999 is three digits, just wrong.
    let mut m = good;
    m[ck..ck + 3].copy_from_slice(b"999");
    garbled(&m, Reason::ChecksumMismatch, 0, n as u32);
}

#[test]
fn interrupted_by_soh_8_fix_then_next_message_is_valid() {
    let first = soh("8=FIX.4.4|9=40|35=D|34=1|");
    let m = msg("D", &[(34, "2")]);
    let mut s = first.clone();
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0],
        Framed::garbled(0, first.len() as u32, Reason::Interrupted)
    );
    assert!(r[1].is_valid());
    assert_eq!(
        (r[1].offset, r[1].length, r[1].seq),
        (first.len() as u64, m.len() as u32, 2)
    );
    // Raw data containing SOH 8=FIX interrupts too (known limitation).
    let r = frame_all(&raw("35=D|95=6|96=|8=FIX|"), MAX);
    assert_eq!(r[0].garbled, Reason::Interrupted as u8);
    assert_eq!(r[0].length, 29);
}

#[test]
fn soh_8_fix_in_the_header_fails_a_check_before_it_completes() {
    // After the BeginString the 8 fails the `9=` check first; the next message still starts
    // at that 8 because the matchers saw it.
    let mut s = b"8=FIX.4.4\x01".to_vec();
    let m = msg("0", &[(34, "3")]);
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r[0], Framed::garbled(0, 11, Reason::BodyLengthMissing));
    assert_eq!((r[1].offset, r[1].garbled, r[1].seq), (10, 0, 3));
}

#[test]
fn a_message_may_start_right_after_a_garbled_byte() {
    // The 8 that breaks the BeginString starts the next message.
    let m = msg("D", &[(34, "4")]);
    let mut s = b"8=FIX".to_vec();
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], Framed::garbled(0, 6, Reason::BadBeginString));
    assert_eq!((r[1].offset, r[1].length, r[1].seq), (5, m.len() as u32, 4));
    // 9=8=FIX: invalid at the '=', then 8=FIX completes in HUNT at offset 12.
    let mut s = b"8=FIX.4.4\x019=".to_vec();
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r[0], Framed::garbled(0, 14, Reason::BodyLengthInvalid));
    assert_eq!((r[1].offset, r[1].garbled), (12, 0));
}

#[test]
fn no_start_when_the_failing_byte_completes_8_fix() {
    // Interpretation documented in hwsim::frame: the body ends "a8=FI" (not SOH), so the trailer
    // check fails at the X that completes 8=FIX; no message starts at that 8.
    let mut s = soh("8=FIX.4.4|9=10|35=D|a8=FI");
    s.extend_from_slice(&soh("X.4.4|9=5|35=0|10=000|"));
    let m = msg("D", &[(34, "9")]);
    let o = s.len();
    s.extend_from_slice(&m);
    let r = frame_all(&s, MAX);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0], Framed::garbled(0, 26, Reason::BodyLengthMismatch));
    assert_eq!((r[1].offset, r[1].garbled), (o as u64, 0));
}

#[test]
fn the_framer_is_constant_size_and_resets_to_hunt() {
    let mut fs = FrameState::new();
    assert!(fs.is_hunting());
    assert_eq!(fs.offset(), 0);
    let m = msg("D", &[(34, "1")]);
    for &b in &m[..20] {
        assert_eq!(fs.step(b, MAX), None);
    }
    assert!(!fs.is_hunting());
    let mut out = Vec::new();
    fs.feed(&m[20..], MAX, |f| out.push(f));
    assert_eq!(out.len(), 1);
    assert!(fs.is_hunting());
    assert_eq!(fs.offset(), m.len() as u64);
    assert!(std::mem::size_of::<FrameState>() <= 96);
}

fn fields(body: &str) -> Framed {
    let f = one(&raw(body));
    assert!(f.is_valid(), "{body}: {f:?}");
    f
}

#[test]
fn seq_value_rules() {
    let ok = |body: &str, s: u32| {
        let f = fields(body);
        assert_eq!((f.seq, f.seq_status), (s, 0), "{body}");
    };
    let bad = |body: &str, st: u8| {
        let f = fields(body);
        assert_eq!((f.seq, f.seq_status), (0, st), "{body}");
    };
    ok("35=D|34=1|", 1);
    ok("35=D|34=2147483647|", 0x7FFF_FFFF);
    ok("35=D|34=0000000001|", 1);
    ok("35=D|0034=7|", 7);
    ok("35=D|00034=7|", 7);
    ok("35=D|34|34=9|", 9);
    ok("35=D|34=5|34=6|", 5);
    bad("35=D|34=0|", reason::SEQ_INVALID);
    bad("35=D|34=2147483648|", reason::SEQ_INVALID);
    bad("35=D|34=00000000001|", reason::SEQ_INVALID);
    bad("35=D|34=99999999999|", reason::SEQ_INVALID);
    bad("35=D|34=|", reason::SEQ_INVALID);
    bad("35=D|34=-1|", reason::SEQ_INVALID);
    bad("35=D|34=+1|", reason::SEQ_INVALID);
    bad("35=D|34=1 |", reason::SEQ_INVALID);
    bad("35=D|34=x|34=6|", reason::SEQ_INVALID);
    bad("35=D|49=S|", reason::SEQ_MISSING);
    bad("35=D|000034=7|", reason::SEQ_MISSING);
    bad("35=D|134=7|", reason::SEQ_MISSING);
    bad("35=D|3a4=7|", reason::SEQ_MISSING);
}

#[test]
fn flag_and_new_seq_no_rules() {
    let fl = |body: &str| fields(body).flags;
    assert_eq!(fl("35=D|43=Y|"), Flags::POSS_DUP);
    assert_eq!(fl("35=D|97=Y|"), Flags::POSS_RESEND);
    assert_eq!(fl("35=D|123=Y|"), Flags::GAP_FILL);
    assert_eq!(fl("35=D|141=Y|"), Flags::RESET_SEQ_NUM);
    assert_eq!(fl("35=D|43=N|43=Y|"), 0);
    assert_eq!(fl("35=D|43=YY|"), 0);
    assert_eq!(fl("35=D|43=y|"), 0);
    assert_eq!(fl("35=D|43=|43=Y|"), 0);
    assert_eq!(fl("35=D|043=Y|"), Flags::POSS_DUP);
    assert_eq!(
        fl("35=D|141=Y|123=Y|97=Y|43=Y|"),
        Flags::POSS_DUP | Flags::POSS_RESEND | Flags::GAP_FILL | Flags::RESET_SEQ_NUM
    );
    let f = fields("35=4|36=5|36=6|");
    assert_eq!(
        (f.new_seq_no, f.flags),
        (5, Flags::ADMIN | Flags::HAS_NEW_SEQ_NO)
    );
    let f = fields("35=4|36=0|36=6|");
    assert_eq!((f.new_seq_no, f.flags), (0, Flags::ADMIN));
    let f = fields("35=4|36=2147483648|");
    assert_eq!((f.new_seq_no, f.flags), (0, Flags::ADMIN));
    // Values may contain '='; a tag of interest inside a value is not a field.
    let f = fields("35=D|58=a=b|58=x34=3|34=4|");
    assert_eq!(f.seq, 4);
}

#[test]
fn msg_type_rules() {
    let f = fields("35=ABCDE|34=1|");
    assert_eq!((f.msg_type, f.flags), (*b"ABCD", Flags::MSG_TYPE_LONG));
    let f = fields("35=ABCD|34=1|");
    assert_eq!((f.msg_type, f.flags), (*b"ABCD", 0));
    for t in ["0", "1", "2", "3", "4", "5", "A"] {
        let f = fields(&format!("35={t}|34=1|"));
        assert_eq!(f.flags, Flags::ADMIN, "{t}");
        assert_eq!(f.msg_type[0], t.as_bytes()[0]);
    }
    for t in ["6", "AA", "40", "a", "B"] {
        assert_eq!(fields(&format!("35={t}|34=1|")).flags, 0, "{t}");
    }
    // A later 35 does not change the MsgType.
    assert_eq!(fields("35=D|35=A|34=1|").msg_type, *b"D\0\0\0");
    // MsgType may contain '='.
    assert_eq!(fields("35=A=B|34=1|").msg_type, *b"A=B\0");
}
