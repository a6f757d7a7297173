//! Hostile input: whatever bytes the peer sends, and whatever a (corrupt) verdict record says, the
//! session must not panic, must keep its held queue within the window and must stay consistent
//! (the next target number never moves backwards while connected).
//!
//! `FIXENG_LONG=1` runs 2000 cases per property instead of 64.

mod common;

use common::*;
use fixsession::State;
use hwsim::{Flags, Verdict};
use proptest::prelude::*;

fn cases() -> u32 {
    if std::env::var("FIXENG_LONG").is_ok() {
        2000
    } else {
        64
    }
}

/// A logged-on acceptor.
fn logged_on() -> Harness {
    let mut h = Harness::new(default_config());
    h.run("connect\nrecv 35=A 34=1 108=30\nexpect state Active");
    h
}

/// Field soup: plausible tags with random values, in random order.
fn field() -> impl Strategy<Value = (u32, Vec<u8>)> {
    let tags = prop::sample::select(vec![
        7u32, 16, 34, 35, 36, 43, 49, 52, 56, 97, 108, 112, 122, 123, 141, 11, 55, 789, 5, 0,
    ]);
    let vals = prop_oneof![
        prop::sample::select(vec![
            b"Y".to_vec(),
            b"N".to_vec(),
            b"0".to_vec(),
            b"1".to_vec(),
            b"2".to_vec(),
            b"3".to_vec(),
            b"4".to_vec(),
            b"5".to_vec(),
            b"A".to_vec(),
            b"D".to_vec(),
            b"999999".to_vec(),
            b"4294967295".to_vec(),
            b"2147483647".to_vec(),
            b"".to_vec(),
            b"PEER".to_vec(),
            b"ENGINE".to_vec(),
            b"20231114-22:13:20.000".to_vec(),
        ]),
        (1u32..400).prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(32u8..127, 0..12),
    ];
    (tags, vals)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random messages (valid framing, hostile content) and random garbage through the
    /// sequencer into the session.
    #[test]
    fn random_traffic_never_panics(
        msgs in prop::collection::vec(
            (prop::sample::select(vec!["0","1","2","3","4","5","A","D","8","ZZ","j"]),
             prop::collection::vec(field(), 0..8),
             any::<bool>(),
             prop::collection::vec(any::<u8>(), 0..20)),
            1..40),
        ticks in prop::collection::vec(0u64..40, 1..40),
    ) {
        let mut h = logged_on();
        let mut last_target = h.s.next_target_seq();
        for (i, (t, fields, garble, junk)) in msgs.iter().enumerate() {
            let mut f = vec![(35u32, t.as_bytes().to_vec()), (49, b"PEER".to_vec()), (56, b"ENGINE".to_vec())];
            f.extend(fields.iter().cloned());
            let mut m = build("FIX.4.4", &f);
            if *garble {
                m.extend_from_slice(junk);
            }
            h.feed(&m);
            if let Some(d) = ticks.get(i) {
                h.now += d * 1_000_000_000 / 4;
                h.s.on_timer(h.now, &mut h.out);
            }
            prop_assert!(h.s.held_count() <= h.cfg.window);
            if h.s.state() == State::Disconnected {
                // Reconnect and go on.
                h.out.sent.clear();
                h.run("connect");
                last_target = h.s.next_target_seq();
                let logon = h.peer_msg(&["35=A", &format!("34={last_target}"), "108=30"]);
                h.feed(&logon);
                last_target = h.s.next_target_seq();
            } else {
                prop_assert!(h.s.next_target_seq() >= last_target);
                last_target = h.s.next_target_seq();
            }
        }
    }

    /// Arbitrary verdict records (as a corrupt card ring could deliver) with arbitrary bytes.
    #[test]
    fn corrupt_verdicts_never_panic(
        recs in prop::collection::vec(
            (0u8..16, 0u8..16, any::<u8>(),
             prop::sample::select(vec![*b"0\0\0\0", *b"2\0\0\0", *b"4\0\0\0", *b"A\0\0\0", *b"D\0\0\0", *b"5\0\0\0"]),
             prop_oneof![any::<u32>(), 0u32..10, Just(u32::MAX)],
             prop_oneof![any::<u32>(), 0u32..10, Just(u32::MAX)],
             prop_oneof![any::<u32>(), 0u32..10, Just(u32::MAX)],
             prop::collection::vec(any::<u8>(), 0..64)),
            1..30),
        awaiting in any::<bool>(),
    ) {
        let mut h = Harness::new(default_config());
        h.run("connect");
        if !awaiting {
            h.run("recv 35=A 34=1 108=30");
        }
        for (kind, reason, flags, mt, seq, nsn, after, bytes) in recs {
            let v = Verdict {
                session: 0,
                kind,
                reason,
                flags: Flags(flags),
                msg_type: mt,
                seq,
                new_seq_no: nsn,
                expected_before: h.s.next_target_seq(),
                expected_after: after,
                offset: 0,
                length: bytes.len() as u32,
            };
            h.s.on_verdict(h.now, &v, &bytes, &mut h.out);
            prop_assert!(h.s.held_count() <= h.cfg.window);
        }
    }
}
