//! Encoder and message-view tests.

use fixcodec::{
    EncodeError, FieldErrorKind, HeaderTemplate, Message, MessageBuilder, TimePrecision,
    UtcTimestamp,
};

fn b(s: &str) -> Vec<u8> {
    s.replace('|', "\x01").into_bytes()
}

fn t(s: &str) -> UtcTimestamp {
    UtcTimestamp::parse(s.as_bytes()).unwrap()
}

#[test]
fn builder_renders_the_golden_logon() {
    let h = HeaderTemplate::new("FIX.4.4", "SENDER", "TARGET");
    assert_eq!(h.error(), None);
    assert_eq!(h.begin_string(), b"FIX.4.4");
    let mut buf = [0u8; 256];
    let mut m = MessageBuilder::new(
        &mut buf,
        &h,
        b"A",
        1,
        t("20090107-18:15:16"),
        TimePrecision::Seconds,
    );
    m.field(98, b"0").field_u64(108, 30);
    let r = m.finish().unwrap();
    // Same fields as the golden Logon in tests/framer.rs, in header order 35,49,56,34,52: the
    // same BodyLength (63) and, the sum being order-free, the same CheckSum (194).
    assert_eq!(
        &buf[r.clone()],
        &b("8=FIX.4.4|9=63|35=A|49=SENDER|56=TARGET|34=1|52=20090107-18:15:16|98=0|108=30|10=194|")
            [..]
    );
    assert!(r.start > 0, "the prefix is right-aligned before the body");
    Message::new_checked(&buf[r]).unwrap();
}

#[test]
fn builder_typed_fields_and_extra_header() {
    let h = HeaderTemplate::new("FIXT.1.1", "S", "T").with_field(1128, "9");
    let mut buf = [0u8; 512];
    let mut m = MessageBuilder::new(
        &mut buf,
        &h,
        b"D",
        4_000_000_000,
        t("20240102-03:04:05.123456789"),
        TimePrecision::Nanos,
    );
    m.field_i64(44, -125)
        .field_char(54, b'1')
        .field_bool(43, true)
        .field_bool(97, false)
        .field_timestamp(60, t("20240102-03:04:05"), TimePrecision::Millis)
        .field_data(95, 96, b"a\x01b=c");
    let body_len = m.body_len();
    let r = m.finish().unwrap();
    let msg = Message::new_checked(&buf[r]).unwrap();
    assert_eq!(msg.begin_string(), b"FIXT.1.1");
    assert_eq!(msg.msg_type(), b"D");
    assert_eq!(msg.get_u32(9).unwrap(), Some(body_len as u32));
    assert_eq!(msg.get(1128), Some(&b"9"[..]));
    assert_eq!(msg.get_u32(34).unwrap(), Some(4_000_000_000));
    assert_eq!(
        msg.get_timestamp(52).unwrap(),
        Some(t("20240102-03:04:05.123456789"))
    );
    assert_eq!(msg.get(52), Some(&b"20240102-03:04:05.123456789"[..]));
    assert_eq!(msg.get(60), Some(&b"20240102-03:04:05.000"[..]));
    assert_eq!(msg.get_i64(44).unwrap(), Some(-125));
    assert_eq!(msg.get_char(54).unwrap(), Some(b'1'));
    assert_eq!(msg.get_bool(43).unwrap(), Some(true));
    assert_eq!(msg.get_bool(97).unwrap(), Some(false));
    assert_eq!(msg.get(96), Some(&b"a\x01b=c"[..]));
    assert_eq!(msg.get_u32(95).unwrap(), Some(5));
    assert_eq!(msg.get(7777), None);
    let tags: Vec<u32> = msg.fields().map(|f| f.tag).collect();
    assert_eq!(
        tags,
        [8, 9, 35, 49, 56, 1128, 34, 52, 44, 54, 43, 97, 60, 95, 96, 10]
    );
}

#[test]
fn builder_errors_name_the_problem() {
    let h = HeaderTemplate::new("FIX.4.4", "S", "T");
    let now = UtcTimestamp::from_unix_nanos(0);
    let mut buf = [0u8; 256];
    let mut m = MessageBuilder::new(&mut buf, &h, b"0", 1, now, TimePrecision::Millis);
    m.field(58, b"a\x01b");
    assert_eq!(m.finish(), Err(EncodeError::ValueContainsSoh { tag: 58 }));
    let mut m = MessageBuilder::new(&mut buf, &h, b"0", 1, now, TimePrecision::Millis);
    m.field(58, b"");
    let e = m.finish().unwrap_err();
    assert_eq!(e, EncodeError::EmptyValue { tag: 58 });
    assert_eq!(e.to_string(), "tag 58: empty value");
    let mut m = MessageBuilder::new(&mut buf, &h, b"0", 1, now, TimePrecision::Millis);
    m.field(0, b"x");
    assert_eq!(m.finish(), Err(EncodeError::InvalidTag));
    let mut small = [0u8; 60];
    let mut m = MessageBuilder::new(&mut small, &h, b"0", 1, now, TimePrecision::Millis);
    m.field(58, &[b'x'; 40]);
    assert_eq!(
        m.finish(),
        Err(EncodeError::BufferTooSmall { capacity: 60 })
    );
    let mut tiny = [0u8; 3];
    assert!(
        MessageBuilder::new(&mut tiny, &h, b"0", 1, now, TimePrecision::Millis)
            .finish()
            .is_err()
    );
    let bad = HeaderTemplate::new("FIX.5.0", "S", "T");
    assert_eq!(bad.error(), Some(EncodeError::BadBeginString));
    assert_eq!(
        MessageBuilder::new(&mut buf, &bad, b"0", 1, now, TimePrecision::Millis).finish(),
        Err(EncodeError::BadBeginString)
    );
    let bad = HeaderTemplate::new("FIX.4.2", "S\x01", "T");
    assert_eq!(bad.error(), Some(EncodeError::BadHeaderValue { tag: 49 }));
    // Exactly fitting buffers work; one byte less does not.
    let mut big = [0u8; 128];
    let need = {
        let mut m = MessageBuilder::new(&mut big, &h, b"0", 1, now, TimePrecision::Millis);
        m.field(58, b"hello");
        m.finish().unwrap().end
    };
    let mut exact = vec![0u8; need];
    let mut m = MessageBuilder::new(&mut exact, &h, b"0", 1, now, TimePrecision::Millis);
    m.field(58, b"hello");
    assert!(m.finish().is_ok());
}

#[test]
fn every_begin_string_round_trips() {
    for bs in fixcodec::BEGIN_STRINGS {
        let h = HeaderTemplate::new(bs, "S", "T");
        let mut buf = [0u8; 256];
        let r = MessageBuilder::new(
            &mut buf,
            &h,
            b"5",
            9,
            UtcTimestamp::default(),
            TimePrecision::Seconds,
        )
        .finish()
        .unwrap();
        let m = Message::new_checked(&buf[r]).unwrap();
        assert_eq!(m.begin_string(), bs.as_bytes());
    }
}

const ORDER: &str = "8=FIX.4.2|9=101|35=D|49=C|56=S|34=12|52=20240102-03:04:05.123|11=O1|453=2|448=AA|447=D|452=1|448=BB|447=D|452=3|55=X|10=011|";

#[test]
fn repeating_groups() {
    let m = b(ORDER);
    let msg = Message::new_checked(&m).unwrap();
    let g = msg.group(453, 448).unwrap();
    assert_eq!(g.len(), 2);
    let entries: Vec<Vec<(u32, Vec<u8>)>> = g
        .entries()
        .map(|e| e.map(|f| (f.tag, f.value.to_vec())).collect())
        .collect();
    assert_eq!(
        entries,
        vec![
            vec![
                (448, b"AA".to_vec()),
                (447, b"D".to_vec()),
                (452, b"1".to_vec())
            ],
            // Without member tags the last entry runs to the first repeated tag or CheckSum.
            vec![
                (448, b"BB".to_vec()),
                (447, b"D".to_vec()),
                (452, b"3".to_vec()),
                (55, b"X".to_vec())
            ],
        ]
    );
    let g = msg.group_with(453, 448, &[447, 452]).unwrap();
    let last: Vec<u32> = g.entries().last().unwrap().map(|f| f.tag).collect();
    assert_eq!(last, [448, 447, 452]);
    assert!(msg.group(454, 455).unwrap().is_empty());

    let e = Message::new_unchecked(&b(&ORDER.replace("453=2", "453=3")))
        .group_with(453, 448, &[447, 452])
        .unwrap_err();
    assert_eq!(
        e.kind,
        FieldErrorKind::GroupCountMismatch {
            declared: 3,
            found: 2
        }
    );
    assert_eq!(e.tag, 453);
    assert_eq!(
        e.to_string(),
        "tag 453: repeating group declares 3 entries, found 2"
    );
    let e = Message::new_unchecked(&b(&ORDER.replace("453=2|448=AA", "453=2|447=Q|448=AA")))
        .group(453, 448)
        .unwrap_err();
    assert_eq!(
        e.kind,
        FieldErrorKind::GroupDelimiterMissing { first_tag: 448 }
    );
    let e = Message::new_unchecked(&b(&ORDER.replace("453=2", "453=x")))
        .group(453, 448)
        .unwrap_err();
    assert_eq!(e.to_string(), "tag 453: not a decimal integer: \"x\"");
}

#[test]
fn typed_getter_errors_name_tag_and_value() {
    let m = b("8=FIX.4.4|9=28|35=0|34=12x|43=maybe|52=2024|10=000|");
    let msg = Message::new_unchecked(&m);
    assert_eq!(
        msg.get_u32(34).unwrap_err().to_string(),
        "tag 34: not a decimal integer: \"12x\""
    );
    assert_eq!(
        msg.get_bool(43).unwrap_err().to_string(),
        "tag 43: not Y or N: \"maybe\""
    );
    assert_eq!(msg.get_timestamp(52).unwrap_err().tag, 52);
    assert_eq!(msg.get_u64(99).unwrap(), None);
}

#[test]
fn field_iterator_is_total_on_malformed_input() {
    let m = Message::new_unchecked(b"abc\x01=x\x0112345678901=y\x01x=\x0135=Z");
    let f: Vec<(u32, &[u8])> = m.fields().map(|f| (f.tag, f.value)).collect();
    assert_eq!(
        f,
        vec![
            (0, &b"abc"[..]),
            (0, &b"x"[..]),
            (0, &b"y"[..]),
            (0, &b""[..]),
            (35, &b"Z"[..])
        ]
    );
    assert_eq!(m.begin_string(), b"");
    assert_eq!(m.msg_type(), b"");
    assert_eq!(Message::new_unchecked(b"").fields().count(), 0);
    // A length field whose data field is not followed by SOH at the declared end.
    let m = Message::new_unchecked(b"95=10\x0196=ab\x0155=X\x01");
    assert_eq!(m.get(96), Some(&b"ab"[..]));
    assert_eq!(m.get(55), Some(&b"X"[..]));
}
