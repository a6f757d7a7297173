//! The spliced resend (`wire::splice_resend`, used by the session to serve ResendRequests) must
//! produce exactly the bytes of the field-by-field re-encoding it replaced: header 35/49/56/34,
//! PossDupFlag(43)=Y, OrigSendingTime(122) = the stored SendingTime(52), a new SendingTime, every
//! other stored field in order, BodyLength and CheckSum recomputed. Checked on hand-made stored
//! messages (ours, with 43/122 already present, malformed fields, fields after the trailer...),
//! on random ones, and end to end through `Session`.

mod common;

use common::*;
use fixsession::store::{MemoryStore, MessageStore};
use fixsession::time::format_timestamp;
use fixsession::wire::{
    self, encode, parse_u32, resend_peek, splice_resend, splice_resend_if, EncodeError, Fields,
    Header, ResendHeader,
};
use fixsession::Session;
use proptest::prelude::*;

const NOW: u64 = T0 + 123_456_789;

/// The field-by-field encoding the session used before splicing (engine/session/src/session.rs
/// at commit 07ebde8, `resend_range`).
fn reference(
    buf: &mut [u8],
    stored: &[u8],
    seq: u32,
    precision: u8,
) -> Result<Vec<u8>, EncodeError> {
    let s = wire::Scan::of(stored);
    let h = Header {
        begin_string: b"FIX.4.4",
        sender: b"ENGINE",
        target: b"PEER",
        msg_type: s.msg_type.unwrap_or(b""),
        seq,
        sending_time: NOW,
        precision,
        poss_dup: Some(s.sending_time.unwrap_or(b"")),
    };
    let r = encode(buf, &h, &mut |b| {
        for (tag, v) in Fields::new(stored) {
            if !matches!(tag, 8 | 9 | 10 | 35 | 34 | 49 | 56 | 52 | 43 | 122) {
                b.field(tag, v);
            }
        }
    })?;
    Ok(buf[r].to_vec())
}

fn spliced(buf: &mut [u8], stored: &[u8], seq: u32, precision: u8) -> Result<Vec<u8>, EncodeError> {
    let mut ts = [0u8; 32];
    let n = format_timestamp(NOW, precision, &mut ts);
    let h = ResendHeader {
        begin_string: b"FIX.4.4",
        sender: b"ENGINE",
        target: b"PEER",
        sending_time: &ts[..n],
    };
    let (mt, orig) = resend_peek(stored);
    // The one-pass form the session uses must agree with the two-pass one.
    let mut other = vec![0u8; buf.len()];
    let mut seen = None;
    let one_pass = splice_resend_if(&mut other, stored, seq, &h, |m, o| {
        seen = Some((m.to_vec(), o.map(|o| o.to_vec())));
        true
    })
    .map(|r| other[r.unwrap()].to_vec());
    assert_eq!(
        seen,
        Some((mt.unwrap_or(b"").to_vec(), orig.map(|o| o.to_vec()))),
        "MsgType / SendingTime found in one pass"
    );
    let r = splice_resend(buf, stored, mt.unwrap_or(b""), orig.unwrap_or(b""), seq, &h)
        .map(|r| buf[r].to_vec());
    assert_eq!(one_pass, r, "one-pass splice");
    // Declined: nothing written, no error.
    assert_eq!(
        splice_resend_if(&mut other, stored, seq, &h, |_, _| false),
        Ok(None)
    );
    r
}

/// BodyLength and CheckSum of a whole message are right (independently of the encoder).
fn assert_framed(m: &[u8]) {
    let text = show(m);
    assert!(m.starts_with(b"8=FIX.4.4\x019="), "{text}");
    assert!(m.ends_with(b"\x01"), "{text}");
    let n = m.len();
    assert_eq!(&m[n - 7..n - 4], b"10=", "{text}");
    let sum: u32 = m[..n - 7].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    assert_eq!(&m[n - 4..n - 1], format!("{sum:03}").as_bytes(), "{text}");
    let bl_start = 12; // after "8=FIX.4.4|9="
    let bl_end = bl_start + m[bl_start..].iter().position(|&b| b == 1).unwrap();
    let bl = parse_u32(&m[bl_start..bl_end]).unwrap() as usize;
    assert_eq!(bl, n - 7 - (bl_end + 1), "BodyLength of {text}");
}

fn same(stored: &[u8], seq: u32, precision: u8, max: usize) {
    let mut a = vec![0u8; max];
    let mut b = vec![0u8; max];
    let want = reference(&mut a, stored, seq, precision);
    let got = spliced(&mut b, stored, seq, precision);
    match (&want, &got) {
        (Ok(w), Ok(g)) => {
            assert_eq!(show(g), show(w), "stored {}", show(stored));
            assert_framed(g);
        }
        (Err(w), Err(g)) => assert_eq!(g, w, "stored {}", show(stored)),
        _ => panic!(
            "stored {}: reference {want:?} but splice {got:?}",
            show(stored)
        ),
    }
}

/// A stored message as this engine journals it.
fn ours(msg_type: &[u8], seq: u32, body: &[(u32, &[u8])]) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let h = Header {
        begin_string: b"FIX.4.4",
        sender: b"ENGINE",
        target: b"PEER",
        msg_type,
        seq,
        sending_time: T0 - 5_000_000_000,
        precision: 3,
        poss_dup: None,
    };
    let r = encode(&mut buf, &h, &mut |b| {
        for (t, v) in body {
            b.field(*t, v);
        }
    })
    .unwrap();
    buf[r].to_vec()
}

#[test]
fn spliced_resend_equals_field_by_field_encoding() {
    let er: &[(u32, &[u8])] = &[
        (37, b"O-1"),
        (11, b"ORD-1"),
        (17, b"E-1"),
        (150, b"0"),
        (39, b"0"),
        (55, b"EURUSD"),
        (54, b"1"),
        (38, b"1000000"),
        (151, b"1000000"),
        (14, b"0"),
        (6, b"0"),
    ];
    let mut cases: Vec<Vec<u8>> = vec![
        ours(b"8", 7, er),
        ours(b"D", 1, &[(11, b"a")]),
        ours(b"D", 999_999_999, &[]),
        // Already carrying PossDupFlag / OrigSendingTime / PossResend in the body.
        ours(
            b"D",
            12,
            &[
                (43, b"Y"),
                (122, b"20231114-22:13:00.000"),
                (97, b"Y"),
                (11, b"x"),
            ],
        ),
        ours(b"D", 12, &[(11, b"x"), (43, b"N")]),
        // Repeating group, long values, tags of every length.
        ours(
            b"E",
            40,
            &[
                (66, b"L1"),
                (73, b"2"),
                (11, b"a"),
                (67, b"1"),
                (55, b"X"),
                (11, b"b"),
                (67, b"2"),
                (55, b"Y"),
                (58, &[b'z'; 900]),
                (9999, b"u"),
                (123456789, b"nine"),
            ],
        ),
        // A header field repeated in the body (dropped like the header one).
        ours(
            b"D",
            3,
            &[(52, b"20231114-22:13:00.000"), (34, b"77"), (11, b"y")],
        ),
    ];
    // Hand-made oddities: fields after the trailer, no SendingTime, no MsgType, malformed tags,
    // leading zeros, empty fields, a trailing fragment without SOH, header in another order.
    for raw in [
        &b"8=FIX.4.4\x019=5\x0135=D\x0152=20231114-22:13:00\x0111=a\x0110=000\x0158=after\x01"[..],
        b"8=FIX.4.4\x019=5\x0135=D\x0111=no-sending-time\x0110=000\x01",
        b"8=FIX.4.4\x019=5\x0152=20231114-22:13:00\x0111=no-msgtype\x0110=000\x01",
        b"35=D\x0111=a\x01abc\x01=x\x01\x01011=lead\x010=zero\x0100=zz\x01x1=bad\x0111=end",
        b"35=D\x011234567890=ten-digits\x01034=dropped\x01052=dropped\x0155=ok\x01",
        b"56=PEER\x0149=ENGINE\x0135=F\x0134=9\x0152=20231114-22:13:00.123456\x0141=a\x0110=1\x01",
        b"",
        b"\x01",
        b"35=",
        // More re-encoded pieces than the one-pass plan holds (falls back to two passes).
        b"35=D\x01a\x0111=1\x01b\x0111=2\x01c\x0111=3\x01d\x0111=4\x01e\x0111=5\x01f\x0111=6\x01g\x0111=7\x01h\x0111=8\x01i\x0111=9\x01j\x0111=10\x01k\x0111=11\x01l\x0111=12\x01m\x0111=13\x01n\x0111=14\x01o\x0111=15\x01p\x0111=16\x01q\x0111=17\x01r\x01",
    ] {
        cases.push(raw.to_vec());
    }
    for (i, m) in cases.iter().enumerate() {
        for precision in [0, 3, 6, 9] {
            for seq in [1, 9, 10, 12_345, 2_147_483_647] {
                same(m, seq, precision, 4096);
            }
        }
        // Too large for the buffer: the same error.
        for max in [64, 100, 200, m.len(), m.len() + 40] {
            same(m, 42, 3, max.max(64));
        }
        let _ = i;
    }
}

fn field_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Well-formed fields, header tags included.
        (
            prop_oneof![
                Just(8u32),
                Just(9),
                Just(10),
                Just(34),
                Just(35),
                Just(43),
                Just(49),
                Just(52),
                Just(56),
                Just(97),
                Just(122),
                1u32..10_000
            ],
            "[ -~&&[^\\x01]]{0,12}"
        )
            .prop_map(|(t, v)| format!("{t}={v}\x01").into_bytes()),
        // Anything without SOH (malformed tags, no '=').
        "[0-9a-z=]{0,6}".prop_map(|s| format!("{s}\x01").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn spliced_resend_equals_reference_on_random_messages(
        fields in prop::collection::vec(field_strategy(), 0..24),
        tail in "[0-9=a]{0,4}",
        seq in 1u32..=2_147_483_647,
        precision in prop_oneof![Just(0u8), Just(3), Just(6), Just(9)],
        max in prop_oneof![Just(4096usize), 64usize..400],
    ) {
        let mut stored: Vec<u8> = fields.concat();
        stored.extend_from_slice(tail.as_bytes());
        same(&stored, seq, precision, max);
    }

    #[test]
    fn checksum_is_the_byte_sum_mod_256(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let want = (bytes.iter().map(|&b| u32::from(b)).sum::<u32>() % 256) as u8;
        prop_assert_eq!(wire::checksum(&bytes), want);
    }
}

/// End to end: a session serving a ResendRequest writes, for each stored application message,
/// exactly the reference encoding (admin numbers gap-filled).
#[test]
fn session_resend_writes_the_reference_bytes() {
    let mut store = MemoryStore::new();
    // Seq 1 is our Logon (admin); then varied application messages straight into the store.
    let stored: Vec<Vec<u8>> = vec![
        ours(b"A", 1, &[(98, b"0"), (108, b"30")]),
        ours(b"D", 2, &[(11, b"a"), (43, b"Y"), (122, b"20231114-22:12:00.000")]),
        ours(b"8", 3, &[(37, b"O"), (11, b"b"), (58, &[b'q'; 300])]),
        b"8=FIX.4.4\x019=5\x0135=D\x0152=20231114-22:13:00\x0111=c\x01=odd\x0110=000\x0158=after\x01"
            .to_vec(),
        ours(b"0", 5, &[]),
        ours(b"F", 6, &[(41, b"a"), (11, b"d")]),
    ];
    for (i, m) in stored.iter().enumerate() {
        store.append(i as u32 + 1, m).unwrap();
    }
    let mut h = Harness::new(default_config());
    // Swap in the prepared store (Harness::new builds an empty one).
    let (cfg, _, app) = std::mem::replace(
        &mut h.s,
        Session::new(default_config(), MemoryStore::new(), RecApp::default()),
    )
    .into_parts();
    h.s = Session::new(cfg, store, app);
    h.run("connect\nrecv 35=A 34=1 108=30\nexpect send 35=A 34=7\ndrain");
    h.now = NOW;
    h.run("recv 35=2 34=2 7=1 16=0");
    let mut buf = vec![0u8; 4096];
    let mut want: Vec<Vec<u8>> = Vec::new();
    for (i, m) in stored.iter().enumerate() {
        let seq = i as u32 + 1;
        if matches!(get(m, 35).as_deref(), Some(b"A") | Some(b"0")) {
            continue;
        }
        want.push(reference(&mut buf, m, seq, 3).unwrap());
    }
    let sent: Vec<Vec<u8>> = h.out.sent.drain(..).collect();
    let apps: Vec<&Vec<u8>> = sent
        .iter()
        .filter(|m| get(m, 35).as_deref() != Some(b"4"))
        .collect();
    assert_eq!(
        apps.len(),
        want.len(),
        "{:#?}",
        sent.iter().map(|m| show(m)).collect::<Vec<_>>()
    );
    for (g, w) in apps.iter().zip(&want) {
        assert_eq!(show(g), show(w));
        assert_framed(g);
    }
    // The admin numbers: GapFill 1->2 first, 5->6 before seq 6, 7 (our Logon) -> 8 last.
    let gf: Vec<(Vec<u8>, Vec<u8>)> = sent
        .iter()
        .filter(|m| get(m, 35).as_deref() == Some(b"4"))
        .map(|m| (get(m, 34).unwrap(), get(m, 36).unwrap()))
        .collect();
    assert_eq!(
        gf,
        vec![
            (b"1".to_vec(), b"2".to_vec()),
            (b"5".to_vec(), b"6".to_vec()),
            (b"7".to_vec(), b"8".to_vec())
        ]
    );
    assert_eq!(sent.len(), 7);
}
