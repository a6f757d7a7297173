//! Property tests. `FIXENG_LONG=1` multiplies the number of cases by 100.

use fixcodec::testgen::{self, Rng};
use fixcodec::{
    ByteFramer, Frame, Framer, HeaderTemplate, Message, MessageBuilder, Record, TimePrecision,
    UtcTimestamp,
};
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    let long = std::env::var_os("FIXENG_LONG").is_some();
    ProptestConfig::with_cases(if long { n * 100 } else { n })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Msg(u64, Vec<u8>),
    Bad(fixcodec::GarbledReason, u64, u32),
}

fn rec_to_got(stream: &[u8], r: Record) -> Got {
    match r {
        Record::Valid { offset, length } => Got::Msg(
            offset,
            stream[offset as usize..(offset + u64::from(length)) as usize].to_vec(),
        ),
        Record::Garbled {
            reason,
            offset,
            length,
        } => Got::Bad(reason, offset, length),
    }
}

/// Feeds `stream` in chunks whose sizes cycle through `sizes`; checks after every chunk that
/// the framer reported exactly what the byte-serial reference reports for the same bytes (same
/// records, same time) and that the memory bound holds.
fn frame(stream: &[u8], max_msg: usize, sizes: &[usize]) -> Vec<Got> {
    let mut f = Framer::new(max_msg);
    let mut r = ByteFramer::new(max_msg);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while pos < stream.len() {
        let n = if sizes.is_empty() {
            stream.len()
        } else {
            sizes[k % sizes.len()].max(1)
        };
        k += 1;
        let end = (pos + n).min(stream.len());
        let mut got = Vec::new();
        f.feed(&stream[pos..end], |fr| {
            got.push(match fr {
                Frame::Message { bytes, offset } => {
                    assert!(bytes.len() <= max_msg);
                    Got::Msg(offset, bytes.to_vec())
                }
                Frame::Garbled {
                    reason,
                    offset,
                    length,
                } => Got::Bad(reason, offset, length),
            })
        });
        let mut want = Vec::new();
        r.push_all(&stream[pos..end], &mut want);
        let want: Vec<Got> = want.into_iter().map(|x| rec_to_got(stream, x)).collect();
        assert_eq!(got, want, "records of chunk {pos}..{end}");
        assert_eq!(f.in_message(), r.in_message());
        assert!(f.buffered() <= max_msg.max(fixcodec::HEADER_MAX));
        out.extend(got);
        pos = end;
    }
    out
}

fn reference(stream: &[u8], max_msg: usize) -> Vec<Got> {
    let mut f = ByteFramer::new(max_msg);
    let mut recs = Vec::new();
    f.push_all(stream, &mut recs);
    recs.into_iter().map(|r| rec_to_got(stream, r)).collect()
}

/// BeginString index, MsgType, MsgSeqNum, body fields.
type Spec = (usize, Vec<u8>, u32, Vec<(u32, Vec<u8>)>);

/// A field value: printable bytes without SOH, or (rarely) bytes that look like FIX.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(0x20u8..0x7f, 1..20),
        1 => proptest::collection::vec(prop::sample::select(b"8=FIX10.9|".to_vec()), 1..12)
            .prop_map(|v| v.into_iter().map(|b| if b == b'|' { b'~' } else { b }).collect()),
    ]
}

fn message_spec() -> impl Strategy<Value = Spec> {
    (
        0usize..6,
        proptest::collection::vec(b'A'..=b'Z', 1..4),
        1u32..1_000_000,
        proptest::collection::vec(
            (
                (1u32..20_000).prop_map(|t| {
                    if [8, 9, 10, 35].contains(&t) || (89..=96).contains(&t) {
                        t + 1000
                    } else {
                        t
                    }
                }),
                value(),
            ),
            0..12,
        ),
    )
}

fn encode(spec: &Spec) -> Vec<u8> {
    let (bs, mt, seq, fields) = spec;
    let h = HeaderTemplate::new(fixcodec::BEGIN_STRINGS[*bs], "SND", "TGT");
    let mut buf = vec![0u8; 2048];
    let mut m = MessageBuilder::new(
        &mut buf,
        &h,
        mt,
        *seq,
        UtcTimestamp::from_unix_nanos(u64::from(*seq) * 1_234_567_891),
        TimePrecision::Millis,
    );
    for (t, v) in fields {
        m.field(*t, v);
    }
    let r = m.finish().unwrap();
    buf[r].to_vec()
}

/// Bytes biased towards FIX syntax.
fn fix_like(len: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![3 => prop::sample::select(b"\x018=FIX.4T1019350".to_vec()), 1 => any::<u8>()],
        len,
    )
}

/// Garbage containing no `8=FIX`, biased towards FIX-looking bytes.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![3 => prop::sample::select(b"8=FIX.4T1\x0109350".to_vec()), 1 => any::<u8>()],
        0..40,
    )
    .prop_map(|g| {
        let mut g = g;
        while let Some(p) = g.windows(5).position(|w| w == b"8=FIX") {
            g[p + 4] = b'Y';
        }
        g
    })
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn round_trip_at_every_split_point(specs in proptest::collection::vec(message_spec(), 1..4)) {
        let msgs: Vec<Vec<u8>> = specs.iter().map(encode).collect();
        let stream = msgs.concat();
        let mut want = Vec::new();
        let mut off = 0u64;
        for (m, spec) in msgs.iter().zip(&specs) {
            // Values that happen to contain SOH 8=FIX cannot occur (no SOH in values), so every
            // message is valid and decodes to what was encoded.
            let msg = Message::new_checked(m).unwrap();
            prop_assert_eq!(msg.msg_type(), &spec.1[..]);
            prop_assert_eq!(msg.get_u32(34).unwrap(), Some(spec.2));
            let body: Vec<(u32, Vec<u8>)> = msg.fields().skip(7).filter(|f| f.tag != 10).map(|f| (f.tag, f.value.to_vec())).collect();
            prop_assert_eq!(&body, &spec.3);
            want.push(Got::Msg(off, m.clone()));
            off += m.len() as u64;
        }
        prop_assert_eq!(&reference(&stream, 4096), &want);
        prop_assert_eq!(&frame(&stream, 4096, &[]), &want);
        for cut in 0..=stream.len() {
            let got = frame(&stream, 4096, &[cut.max(1), stream.len()]);
            prop_assert_eq!(&got, &want, "cut {}", cut);
        }
    }

    #[test]
    fn data_fields_with_any_bytes_match_the_reference_at_every_split(
        specs in proptest::collection::vec((message_spec(), fix_like(0..20), 0u8..4, fix_like(0..20)), 1..3),
    ) {
        let mut stream = Vec::new();
        for (spec, a, kind, b) in &specs {
            let (bs, mt, seq, fields) = spec;
            // Data holding SOH 8=FIX (a false interrupt), a whole embedded header, or neither.
            let mid: &[u8] = match kind { 0 => b"\x018=FIX", 1 => b"\x018=FIX.4.4\x019=5\x01", 2 => b"\x018=FI", _ => b"" };
            let data = [&a[..], mid, &b[..], b"z"].concat();
            let data = &data;
            let h = HeaderTemplate::new(fixcodec::BEGIN_STRINGS[*bs], "SND", "TGT");
            let mut buf = vec![0u8; 2048];
            let mut m = MessageBuilder::new(&mut buf, &h, mt, *seq, UtcTimestamp::from_unix_nanos(0), TimePrecision::Seconds);
            m.field_data(95, 96, data);
            for (t, v) in fields {
                m.field(*t, v);
            }
            let r = m.finish().unwrap();
            stream.extend_from_slice(&buf[r]);
        }
        let want = reference(&stream, 4096);
        prop_assert_eq!(&frame(&stream, 4096, &[]), &want);
        for cut in 0..=stream.len() {
            prop_assert_eq!(&frame(&stream, 4096, &[cut.max(1), stream.len()]), &want, "cut {}", cut);
        }
    }

    #[test]
    fn garbage_between_messages_loses_nothing(
        parts in proptest::collection::vec((garbage(), message_spec()), 1..6),
        tail in garbage(),
        sizes in proptest::collection::vec(1usize..300, 1..8),
    ) {
        let mut stream = Vec::new();
        let mut placed = Vec::new();
        for (g, spec) in &parts {
            stream.extend_from_slice(g);
            let m = encode(spec);
            placed.push(Got::Msg(stream.len() as u64, m.clone()));
            stream.extend_from_slice(&m);
        }
        stream.extend_from_slice(&tail);
        let want = reference(&stream, 4096);
        for p in &placed {
            prop_assert!(want.contains(p), "lost {:?}", p);
        }
        prop_assert_eq!(&frame(&stream, 4096, &sizes), &want);
        prop_assert_eq!(&frame(&stream, 4096, &[1]), &want);
    }

    #[test]
    fn mutated_streams_match_the_reference(
        seed in any::<u64>(),
        edits in proptest::collection::vec((any::<u16>(), prop::sample::select(b"\x018=FIX.4T1019350".to_vec()), 0u8..3), 0..12),
        sizes in proptest::collection::vec(1usize..200, 1..6),
        max_msg in prop_oneof![Just(4096usize), 0usize..400],
    ) {
        let flow = testgen::order_flow(seed, 1500);
        let mut s = flow.bytes;
        for (pos, byte, op) in edits {
            let p = pos as usize % (s.len() + 1);
            match op {
                0 if p < s.len() => s[p] = byte,
                1 => s.insert(p, byte),
                _ if p < s.len() => { s.remove(p); }
                _ => {}
            }
        }
        let want = reference(&s, max_msg);
        prop_assert_eq!(&frame(&s, max_msg, &sizes), &want);
        prop_assert_eq!(&frame(&s, max_msg, &[]), &want);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_match_the_reference(
        bytes in proptest::collection::vec(prop_oneof![3 => prop::sample::select(b"\x018=FIX.4T1019350".to_vec()), 1 => any::<u8>()], 0..600),
        sizes in proptest::collection::vec(1usize..64, 1..6),
        max_msg in 0usize..200,
    ) {
        let want = reference(&bytes, max_msg);
        prop_assert_eq!(&frame(&bytes, max_msg, &sizes), &want);
        let m = Message::new_unchecked(&bytes);
        let _ = (m.begin_string(), m.msg_type(), m.get(35), m.get_u32(34), m.get_timestamp(52), m.fields().count());
        let _ = m.group(453, 448).map(|g| g.entries().map(|e| e.count()).sum::<usize>());
        let _ = Message::new_checked(&bytes);
    }
}

#[test]
fn long_generated_stream_in_random_chunks_matches_the_reference() {
    let flow = testgen::order_flow(42, 300_000);
    let want = reference(&flow.bytes, 4096);
    assert_eq!(want.len(), flow.messages.len());
    let mut rng = Rng::new(9);
    for round in 0..4 {
        let sizes: Vec<usize> = (0..50)
            .map(|_| rng.range(1, [7, 100, 1500, 70_000][round]) as usize)
            .collect();
        assert_eq!(frame(&flow.bytes, 4096, &sizes), want);
    }
}
