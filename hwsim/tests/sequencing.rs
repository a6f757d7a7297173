//! Directed tests for `docs/sequencer.md` section 4: every verdict kind and reason, window
//! edges, release runs, gap fills in and out of order, hard resets, ResetSeqNumFlag, counters.

use hwsim::contract::reason;
use hwsim::frame::Framed;
use hwsim::seq::{Counters, SeqState};
use hwsim::{Flags, Kind, Reason, Verdict};

const W: u32 = 256;

fn m(mt: &str, seq: u32, flags: u8, nsn: Option<u32>) -> Framed {
    let mut msg_type = [0u8; 4];
    let n = mt.len().min(4);
    msg_type[..n].copy_from_slice(&mt.as_bytes()[..n]);
    let mut flags = flags;
    if hwsim::frame::is_admin_type(mt.as_bytes()) {
        flags |= Flags::ADMIN;
    }
    if nsn.is_some() {
        flags |= Flags::HAS_NEW_SEQ_NO;
    }
    Framed {
        offset: 100,
        length: 50,
        garbled: 0,
        msg_type,
        flags,
        seq,
        seq_status: 0,
        new_seq_no: nsn.unwrap_or(0),
    }
}

fn app(seq: u32) -> Framed {
    m("D", seq, 0, None)
}

fn gap_fill(seq: u32, nsn: Option<u32>) -> Framed {
    m("4", seq, Flags::GAP_FILL, nsn)
}

fn reset(nsn: Option<u32>) -> Framed {
    m("4", 999, 0, nsn)
}

/// Classifies and checks kind, reason, expected_before and expected_after.
fn expect(s: &mut SeqState, f: Framed, kind: Kind, why: u8, after: u32) -> Verdict {
    let before = s.expected();
    let v = s.classify(3, &f);
    assert_eq!(
        (v.kind(), v.reason, v.expected_before, v.expected_after),
        (Some(kind), why, before, after),
        "{f:?}"
    );
    assert_eq!(s.expected(), after);
    assert_eq!(v.session, 3);
    v
}

#[test]
fn in_order_run_and_record_fields() {
    let mut s = SeqState::new(W);
    assert_eq!(s.expected(), 1);
    for i in 1..=5 {
        let v = expect(&mut s, app(i), Kind::InOrder, 0, i + 1);
        assert_eq!(
            (v.seq, v.offset, v.length, v.msg_type()),
            (i, 100, 50, &b"D"[..])
        );
        assert_eq!(v.release_up_to(), i);
    }
    assert_eq!(
        s.counters(),
        Counters {
            msgs: 5,
            ..Counters::default()
        }
    );
}

#[test]
fn gap_then_fill_releases_the_held_run() {
    let mut s = SeqState::new(W);
    expect(&mut s, app(1), Kind::InOrder, 0, 2);
    expect(&mut s, app(4), Kind::Gap, 0, 2);
    expect(&mut s, app(3), Kind::Gap, 0, 2);
    expect(&mut s, app(6), Kind::Gap, 0, 2);
    assert!(s.is_held(3) && s.is_held(4) && s.is_held(6));
    assert!(!s.is_held(2) && !s.is_held(5));
    expect(&mut s, app(4), Kind::Duplicate, 0, 2);
    // 2 arrives: 3 and 4 are released, 6 stays held.
    let v = expect(&mut s, app(2), Kind::InOrder, 0, 5);
    assert_eq!(v.release_up_to(), 4);
    assert!(s.is_held(6) && !s.is_held(3));
    expect(&mut s, app(5), Kind::InOrder, 0, 7);
    assert_eq!(s.held_count(), 0);
    let c = s.counters();
    assert_eq!((c.msgs, c.gaps, c.dups), (7, 3, 1));
}

#[test]
fn window_edges() {
    let mut s = SeqState::new(W);
    s.set_expected(10);
    expect(&mut s, app(10 + W - 1), Kind::Gap, 0, 10);
    assert!(s.is_held(10 + W - 1));
    expect(&mut s, app(10 + W), Kind::BeyondWindow, 0, 10);
    assert!(!s.is_held(10 + W));
    expect(&mut s, app(10 + 1), Kind::Gap, 0, 10);
    // Filling 10 releases 11 only; E+W-1 stays held at the new top.
    expect(&mut s, app(10), Kind::InOrder, 0, 12);
    assert!(s.is_held(10 + W - 1));
    // Now E=12, so 12+W-1 is inside and 12+W is beyond.
    expect(&mut s, app(12 + W - 1), Kind::Gap, 0, 12);
    expect(&mut s, app(12 + W), Kind::BeyondWindow, 0, 12);
}

#[test]
fn release_of_a_full_window() {
    let mut s = SeqState::new(W);
    for i in 2..1 + W {
        expect(&mut s, app(i), Kind::Gap, 0, 1);
    }
    assert_eq!(s.held_count(), W - 1);
    expect(&mut s, app(1), Kind::InOrder, 0, 1 + W);
    assert_eq!(s.held_count(), 0);
}

#[test]
fn too_low_and_duplicate() {
    let mut s = SeqState::new(W);
    s.set_expected(10);
    expect(&mut s, app(9), Kind::TooLow, 0, 10);
    expect(
        &mut s,
        m("D", 9, Flags::POSS_DUP, None),
        Kind::Duplicate,
        0,
        10,
    );
    expect(
        &mut s,
        m("D", 1, Flags::POSS_RESEND, None),
        Kind::TooLow,
        0,
        10,
    );
    let c = s.counters();
    assert_eq!((c.too_low, c.dups, c.msgs), (2, 1, 3));
}

#[test]
fn gap_fill_in_order() {
    let mut s = SeqState::new(W);
    s.set_expected(5);
    let v = expect(&mut s, gap_fill(5, Some(9)), Kind::GapFill, 0, 9);
    assert_eq!((v.seq, v.new_seq_no), (5, 9));
    assert!(Flags(v.flags.0).has(Flags::GAP_FILL | Flags::HAS_NEW_SEQ_NO | Flags::ADMIN));
    expect(
        &mut s,
        gap_fill(9, None),
        Kind::GapFill,
        reason::NEW_SEQ_NO_MISSING,
        10,
    );
    expect(
        &mut s,
        gap_fill(10, Some(10)),
        Kind::GapFill,
        reason::NEW_SEQ_NO_NOT_GREATER,
        11,
    );
    expect(
        &mut s,
        gap_fill(11, Some(3)),
        Kind::GapFill,
        reason::NEW_SEQ_NO_NOT_GREATER,
        12,
    );
    // A gap fill below expected is just too low / duplicate.
    expect(&mut s, gap_fill(4, Some(20)), Kind::TooLow, 0, 12);
}

#[test]
fn gap_fill_releases_held_messages_above_and_drops_those_below() {
    let mut s = SeqState::new(W);
    for q in [3, 7, 8, 10] {
        expect(&mut s, app(q), Kind::Gap, 0, 1);
    }
    // GapFill 1 -> 7: 3 is dropped (below NewSeqNo), 7 and 8 release, 10 stays held.
    expect(&mut s, gap_fill(1, Some(7)), Kind::GapFill, 0, 9);
    assert!(!s.is_held(3) && s.is_held(10));
    assert_eq!(s.held_count(), 1);
}

#[test]
fn gap_fill_out_of_order_is_held_with_its_range() {
    let mut s = SeqState::new(W);
    // E=1; a gap fill for 2..6 (NewSeqNo 6) arrives first: bits 2..5 are set.
    expect(&mut s, gap_fill(2, Some(6)), Kind::Gap, 0, 1);
    for q in 2..6 {
        assert!(s.is_held(q), "{q}");
    }
    assert!(!s.is_held(6));
    assert_eq!(s.held_count(), 4);
    expect(&mut s, app(6), Kind::Gap, 0, 1);
    // A message inside the filled range counts as already held.
    expect(&mut s, app(4), Kind::Duplicate, 0, 1);
    expect(&mut s, app(1), Kind::InOrder, 0, 7);
    // Held gap fill with NewSeqNo beyond the window covers up to E+W-1 only.
    expect(&mut s, gap_fill(8, Some(7 + 10 * W)), Kind::Gap, 0, 7);
    assert!(s.is_held(7 + W - 1));
    assert!(!s.is_held(7 + W));
    assert_eq!(s.held_count(), W - 1);
    expect(&mut s, app(7), Kind::InOrder, 0, 7 + W);
    // Held gap fill without a greater NewSeqNo holds only itself.
    expect(
        &mut s,
        gap_fill(7 + W + 2, Some(7 + W + 1)),
        Kind::Gap,
        0,
        7 + W,
    );
    expect(&mut s, gap_fill(7 + W + 4, None), Kind::Gap, 0, 7 + W);
    assert_eq!(s.held_count(), 2);
}

#[test]
fn hard_reset_lower_equal_greater_missing() {
    let mut s = SeqState::new(W);
    s.set_expected(10);
    expect(
        &mut s,
        reset(None),
        Kind::Reset,
        reason::NEW_SEQ_NO_MISSING,
        10,
    );
    expect(
        &mut s,
        reset(Some(9)),
        Kind::Reset,
        reason::NEW_SEQ_NO_LOWER,
        10,
    );
    expect(
        &mut s,
        reset(Some(10)),
        Kind::Reset,
        reason::NEW_SEQ_NO_EQUAL,
        10,
    );
    expect(&mut s, app(12), Kind::Gap, 0, 10);
    expect(&mut s, app(20), Kind::Gap, 0, 10);
    expect(&mut s, app(21), Kind::Gap, 0, 10);
    // Reset to 20: 12 is dropped, 20 and 21 release.
    let v = expect(&mut s, reset(Some(20)), Kind::Reset, 0, 22);
    assert_eq!((v.seq, v.new_seq_no), (999, 20));
    assert_eq!(s.held_count(), 0);
    // The seq of a hard reset is ignored even when it is low.
    let mut r = reset(Some(30));
    r.seq = 1;
    expect(&mut s, r, Kind::Reset, 0, 30);
    // Far beyond the window: everything held is dropped.
    expect(&mut s, app(35), Kind::Gap, 0, 30);
    expect(&mut s, reset(Some(30 + 5 * W)), Kind::Reset, 0, 30 + 5 * W);
    assert_eq!(s.held_count(), 0);
}

#[test]
fn logon_with_reset_seq_num_flag() {
    let mut s = SeqState::new(W);
    s.set_expected(50);
    expect(&mut s, app(52), Kind::Gap, 0, 50);
    let v = expect(
        &mut s,
        m("A", 1, Flags::RESET_SEQ_NUM, None),
        Kind::InOrder,
        0,
        2,
    );
    assert_eq!(v.expected_before, 50);
    assert_eq!(s.held_count(), 0);
    // Reset upward too, and 141=Y on a non-logon is just a flag.
    expect(
        &mut s,
        m("A", 40, Flags::RESET_SEQ_NUM, None),
        Kind::InOrder,
        0,
        41,
    );
    expect(
        &mut s,
        m("D", 5, Flags::RESET_SEQ_NUM, None),
        Kind::TooLow,
        0,
        41,
    );
    // Logon without 141=Y is an ordinary message.
    expect(&mut s, m("A", 1, 0, None), Kind::TooLow, 0, 41);
    expect(&mut s, m("A", 41, 0, None), Kind::InOrder, 0, 42);
}

#[test]
fn invalid_seq_and_garbled_change_nothing() {
    let mut s = SeqState::new(W);
    s.set_expected(7);
    expect(&mut s, app(9), Kind::Gap, 0, 7);
    let mut f = app(0);
    f.seq_status = reason::SEQ_MISSING;
    let v = expect(&mut s, f, Kind::InvalidSeq, reason::SEQ_MISSING, 7);
    assert_eq!((v.seq, v.msg_type()), (0, &b"D"[..]));
    f.seq_status = reason::SEQ_INVALID;
    f.flags = Flags::POSS_DUP;
    let v = expect(&mut s, f, Kind::InvalidSeq, reason::SEQ_INVALID, 7);
    assert_eq!(v.flags.0, Flags::POSS_DUP);
    // A hard reset with an invalid seq is INVALID_SEQ too.
    let mut r = reset(Some(100));
    r.seq = 0;
    r.seq_status = reason::SEQ_INVALID;
    expect(&mut s, r, Kind::InvalidSeq, reason::SEQ_INVALID, 7);
    let g = Framed::garbled((1 << 40) + 5, 33, Reason::ChecksumMismatch);
    let v = expect(&mut s, g, Kind::Garbled, Reason::ChecksumMismatch as u8, 7);
    assert_eq!(
        v,
        Verdict {
            session: 3,
            kind: Kind::Garbled as u8,
            reason: 7,
            expected_before: 7,
            expected_after: 7,
            offset: 5,
            length: 33,
            ..Verdict::default()
        }
    );
    assert!(s.is_held(9));
    let c = s.counters();
    assert_eq!((c.msgs, c.gaps, c.garbled), (5, 1, 1));
}

#[test]
fn largest_seq_does_not_overflow() {
    let mut s = SeqState::new(W);
    let top = 0x7FFF_FFFF;
    s.set_expected(top);
    expect(&mut s, app(top), Kind::InOrder, 0, 1 << 31);
    expect(&mut s, app(top), Kind::TooLow, 0, 1 << 31);
    expect(&mut s, gap_fill(top, Some(top)), Kind::TooLow, 0, 1 << 31);
    s.set_expected(top - 1);
    expect(&mut s, gap_fill(top, Some(top)), Kind::Gap, 0, top - 1);
    expect(
        &mut s,
        gap_fill(top - 1, Some(top)),
        Kind::GapFill,
        0,
        1 << 31,
    );
    s.set_expected(u32::MAX);
    expect(&mut s, app(top), Kind::TooLow, 0, u32::MAX);
    s.set_expected(0);
    expect(&mut s, app(1), Kind::Gap, 0, 0);
    expect(&mut s, app(W), Kind::BeyondWindow, 0, 0);
}

#[test]
fn csr_writes() {
    let mut s = SeqState::new(W);
    expect(&mut s, app(3), Kind::Gap, 0, 1);
    s.clear_window();
    assert!(!s.is_held(3));
    assert_eq!(s.expected(), 1);
    expect(&mut s, app(3), Kind::Gap, 0, 1);
    s.set_expected(2);
    assert!(!s.is_held(3));
    expect(&mut s, app(2), Kind::InOrder, 0, 3);
}

#[test]
fn larger_windows_work() {
    let mut s = SeqState::new(4096);
    expect(&mut s, app(4096), Kind::Gap, 0, 1);
    expect(&mut s, app(4097), Kind::BeyondWindow, 0, 1);
    expect(&mut s, gap_fill(2, Some(4096)), Kind::Gap, 0, 1);
    expect(&mut s, app(1), Kind::InOrder, 0, 4097);
}

#[test]
#[should_panic(expected = "window must be a power of two")]
fn window_must_be_a_power_of_two() {
    let _ = SeqState::new(300);
}

#[test]
fn kind_values_match_the_contract() {
    let mut s = SeqState::new(W);
    let v = s.classify(0, &app(1));
    assert_eq!(v.to_words()[0] >> 16 & 0xF, 0);
    assert_eq!(Verdict::from_words(v.to_words()), v);
}
