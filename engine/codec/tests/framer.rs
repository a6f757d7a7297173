//! Framer tests: golden messages, every garbled reason with its exact offset and length, and
//! agreement of the fast framer with the byte-serial reference at every split point.

use fixcodec::{ByteFramer, Frame, Framer, GarbledReason as R, Message, Record};

/// `|` stands for SOH.
fn b(s: &str) -> Vec<u8> {
    s.replace('|', "\x01").into_bytes()
}

/// A valid message with the given BeginString and body fields (test helper for building
/// streams; the golden tests use literal vectors instead).
fn mk(begin: &str, fields: &[&str]) -> Vec<u8> {
    let body: String = fields.iter().map(|f| format!("{f}\x01")).collect();
    let mut m = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
    let ck = m.iter().fold(0u8, |a, &x| a.wrapping_add(x));
    m.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
    m
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Msg(u64, Vec<u8>),
    Bad(R, u64, u32),
}

fn got(f: Frame<'_>) -> Got {
    match f {
        Frame::Message { bytes, offset } => Got::Msg(offset, bytes.to_vec()),
        Frame::Garbled {
            reason,
            offset,
            length,
        } => Got::Bad(reason, offset, length),
    }
}

fn run_chunks(stream: &[u8], max_msg: usize, cuts: &[usize]) -> Vec<Got> {
    let mut f = Framer::new(max_msg);
    let mut out = Vec::new();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
        f.feed(&stream[prev..c], |fr| out.push(got(fr)));
        prev = c;
    }
    assert_eq!(f.offset(), stream.len() as u64);
    out
}

fn reference(stream: &[u8], max_msg: usize) -> Vec<Got> {
    let mut f = ByteFramer::new(max_msg);
    let mut recs = Vec::new();
    f.push_all(stream, &mut recs);
    recs.into_iter()
        .map(|r| match r {
            Record::Valid { offset, length } => Got::Msg(
                offset,
                stream[offset as usize..offset as usize + length as usize].to_vec(),
            ),
            Record::Garbled {
                reason,
                offset,
                length,
            } => Got::Bad(reason, offset, length),
        })
        .collect()
}

/// Frames `stream` whole, byte by byte, at every single split point and every pair of split
/// points (for short streams); asserts all agree with the reference and returns the result.
fn frame_everywhere(stream: &[u8], max_msg: usize) -> Vec<Got> {
    let want = reference(stream, max_msg);
    assert_eq!(run_chunks(stream, max_msg, &[]), want, "whole stream");
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(run_chunks(stream, max_msg, &bytewise), want, "byte by byte");
    for c in 0..=stream.len() {
        assert_eq!(run_chunks(stream, max_msg, &[c]), want, "split at {c}");
    }
    if stream.len() <= 160 {
        for c1 in 0..=stream.len() {
            for c2 in c1..=stream.len() {
                assert_eq!(
                    run_chunks(stream, max_msg, &[c1, c2]),
                    want,
                    "split at {c1},{c2}"
                );
            }
        }
    }
    want
}

const GOLDEN: [&str; 6] = [
    // The FIX 4.2 ExecutionReport example widely quoted from the FIX specification.
    "8=FIX.4.2|9=178|35=8|49=PHLX|56=PERS|52=20071123-05:30:00.000|11=ATOMNOCCC9990900|20=3|150=E|39=E|55=MSFT|167=CS|54=1|38=15|40=2|44=15|58=PHLX EQUITY TESTING|59=0|47=C|32=0|31=0|151=15|14=0|6=0|10=128|",
    "8=FIX.4.4|9=63|35=A|34=1|49=SENDER|52=20090107-18:15:16|56=TARGET|98=0|108=30|10=194|",
    "8=FIX.4.0|9=20|35=0|34=2|49=A|56=B|10=122|",
    "8=FIXT.1.1|9=128|35=D|34=7|49=BUY|52=20240102-03:04:05.123456|56=SELL|11=ORD1|55=EUR/USD|54=1|38=1000000|40=2|44=1.0875|60=20240102-03:04:05.123|10=191|",
    "8=FIX.4.3|9=27|35=5|34=9|49=X|56=Y|58=bye|10=169|",
    "8=FIX.4.1|9=32|35=4|34=3|49=X|56=Y|123=Y|36=10|10=230|",
];

#[test]
fn golden_messages_frame_and_decode() {
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for g in GOLDEN {
        let m = b(g);
        want.push(Got::Msg(stream.len() as u64, m.clone()));
        stream.extend_from_slice(&m);
        let msg = Message::new_checked(&m).unwrap();
        assert_eq!(msg.as_bytes(), &m[..]);
        // The test helper renders the same bytes as the hand-written vector.
        let fields: Vec<String> = msg
            .fields()
            .skip(2)
            .filter(|f| f.tag != 10)
            .map(|f| format!("{}={}", f.tag, String::from_utf8_lossy(f.value)))
            .collect();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(
            mk(std::str::from_utf8(msg.begin_string()).unwrap(), &refs),
            m
        );
    }
    assert_eq!(frame_everywhere(&stream, 4096), want);
    let m = b(GOLDEN[0]);
    let msg = Message::new_checked(&m).unwrap();
    assert_eq!(msg.begin_string(), b"FIX.4.2");
    assert_eq!(msg.msg_type(), b"8");
    assert_eq!(msg.get(58), Some(&b"PHLX EQUITY TESTING"[..]));
    assert_eq!(msg.get_u32(9).unwrap(), Some(178));
    assert_eq!(msg.get_u32(10).unwrap(), Some(128));
    assert_eq!(msg.fields().count(), 25);
}

fn one(stream: &[u8], max_msg: usize) -> Vec<Got> {
    frame_everywhere(stream, max_msg)
}

#[test]
fn bad_begin_string() {
    assert_eq!(
        one(&b("8=FIX.5.0|9=5|"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 7)]
    );
    assert_eq!(
        one(&b("8=FIX.4.5|9=5|"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 9)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4X"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 10)]
    );
    assert_eq!(
        one(&b("8=FIXT.1.2|"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 10)]
    );
    assert_eq!(
        one(&b("8=FIXT.1.1X"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 11)]
    );
    assert_eq!(
        one(&b("8=FIX|"), 4096),
        vec![Got::Bad(R::BadBeginString, 0, 6)]
    );
    // Garbage before: offset counts from the stream start.
    assert_eq!(
        one(&b("ab8=FIX8"), 4096),
        vec![Got::Bad(R::BadBeginString, 2, 6)]
    );
}

#[test]
fn body_length_missing_and_invalid() {
    assert_eq!(
        one(&b("8=FIX.4.4|35=A|"), 4096),
        vec![Got::Bad(R::BodyLengthMissing, 0, 11)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9:5|"), 4096),
        vec![Got::Bad(R::BodyLengthMissing, 0, 12)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=|"), 4096),
        vec![Got::Bad(R::BodyLengthInvalid, 0, 13)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=x"), 4096),
        vec![Got::Bad(R::BodyLengthInvalid, 0, 13)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=12a|"), 4096),
        vec![Got::Bad(R::BodyLengthInvalid, 0, 15)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=-5|"), 4096),
        vec![Got::Bad(R::BodyLengthInvalid, 0, 13)]
    );
    // Nine digits are allowed (then TOO_LONG here), a tenth is not.
    assert_eq!(one(&b("8=FIX.4.4|9=000000005|"), 4096).first(), None);
    assert_eq!(
        one(&b("8=FIX.4.4|9=123456789|"), 4096),
        vec![Got::Bad(R::TooLong, 0, 22)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=1234567890|"), 4096),
        vec![Got::Bad(R::BodyLengthInvalid, 0, 22)]
    );
}

#[test]
fn too_long_boundary() {
    // h = 15 ("8=FIX.4.4|9=NN|"); h + L + 7 must be <= max_msg.
    let ok = mk("FIX.4.4", &["35=0", "34=1", "58=aaaaaaaaaaaaa"]);
    let l: usize = 5 + 5 + 17;
    assert_eq!(ok.len(), 15 + l + 7);
    assert_eq!(one(&ok, ok.len()), vec![Got::Msg(0, ok.clone())]);
    assert_eq!(one(&ok, ok.len() - 1), vec![Got::Bad(R::TooLong, 0, 15)]);
    // Too long is decided at the BodyLength SOH, before any body byte arrives.
    assert_eq!(
        one(&b("8=FIX.4.4|9=90|"), 100),
        vec![Got::Bad(R::TooLong, 0, 15)]
    );
    assert_eq!(one(&b("8=FIX.4.4|9=78|"), 100), vec![]);
}

#[test]
fn msg_type_not_third() {
    assert_eq!(
        one(&b("8=FIX.4.4|9=5|34=1|"), 4096),
        vec![Got::Bad(R::MsgTypeNotThird, 0, 16)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=5|35=|"), 4096),
        vec![Got::Bad(R::MsgTypeNotThird, 0, 18)]
    );
    // BodyLength ends inside the MsgType field: failure at the trailer position bs+L.
    assert_eq!(
        one(&b("8=FIX.4.4|9=3|35=A|10=000|"), 4096),
        vec![Got::Bad(R::MsgTypeNotThird, 0, 18)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=4|35=A|10=000|"), 4096),
        vec![Got::Bad(R::MsgTypeNotThird, 0, 19)]
    );
    assert_eq!(
        one(&b("8=FIX.4.4|9=0|35=A|"), 4096),
        vec![Got::Bad(R::MsgTypeNotThird, 0, 15)]
    );
}

#[test]
fn body_length_mismatch() {
    let m = mk("FIX.4.4", &["35=0", "34=1"]); // 8=FIX.4.4|9=10|35=0|34=1|10=xxx|
    assert_eq!(m.len(), 15 + 10 + 7);
    // Declared one short: at bs+L (the body's last SOH) the previous byte is not SOH.
    let short = [&b("8=FIX.4.4|9=9|")[..], &m[15..]].concat();
    assert_eq!(
        one(&short, 4096),
        vec![Got::Bad(R::BodyLengthMismatch, 0, 14 + 9 + 1)]
    );
    // Declared one long: at bs+L the byte is '0' of "10=".
    let long = [&b("8=FIX.4.4|9=11|")[..], &m[15..]].concat();
    assert_eq!(
        one(&long, 4096),
        vec![Got::Bad(R::BodyLengthMismatch, 0, 15 + 11 + 1)]
    );
    // Right length but the trailer is not 10=: failure at the first byte that differs.
    let mut t = m.clone();
    t[15 + 10 + 1] = b'1';
    assert_eq!(
        one(&t, 4096),
        vec![Got::Bad(R::BodyLengthMismatch, 0, 15 + 10 + 2)]
    );
    let mut t = m.clone();
    t[15 + 10 + 2] = b':';
    assert_eq!(
        one(&t, 4096),
        vec![Got::Bad(R::BodyLengthMismatch, 0, 15 + 10 + 3)]
    );
}

#[test]
fn checksum_malformed_and_mismatch() {
    let m = mk("FIX.4.4", &["35=0", "34=1"]);
    let n = m.len();
    let body = &m[..n - 7];
    let with = |t: &str| [body, &b(t)[..]].concat();
    assert_eq!(
        one(&with("10=12|"), 4096),
        vec![Got::Bad(R::ChecksumMalformed, 0, (n - 1) as u32)]
    );
    assert_eq!(
        one(&with("10=1a3|"), 4096),
        vec![Got::Bad(R::ChecksumMalformed, 0, (n - 2) as u32)]
    );
    assert_eq!(
        one(&with("10=1234"), 4096),
        vec![Got::Bad(R::ChecksumMalformed, 0, n as u32)]
    );
    let ck =
        (m[n - 4] - b'0') as u32 + 10 * (m[n - 5] - b'0') as u32 + 100 * (m[n - 6] - b'0') as u32;
    let wrong = format!("10={:03}|", (ck + 1) % 256);
    assert_eq!(
        one(&with(&wrong), 4096),
        vec![Got::Bad(R::ChecksumMismatch, 0, n as u32)]
    );
    assert_eq!(
        one(&with(&format!("10={}|", ck + 256)), 4096),
        vec![Got::Bad(R::ChecksumMismatch, 0, n as u32)]
    );
}

#[test]
fn interrupted_by_a_new_message() {
    let cut = b("8=FIX.4.4|9=50|35=D|11=A|");
    let next = mk("FIX.4.4", &["35=0", "34=2"]);
    let s = [&cut[..], &next[..]].concat();
    assert_eq!(
        one(&s, 4096),
        vec![
            Got::Bad(R::Interrupted, 0, cut.len() as u32),
            Got::Msg(cut.len() as u64, next.clone())
        ]
    );
    // Interrupted at the trailer position bs+L: the body ends with SOH 8=FI and bs+L is X.
    let s = b("8=FIX.4.4|9=13|35=0|58=|8=FIX.4.4|9=5|35=0|10=000|");
    assert_eq!(
        one(&s, 4096),
        vec![
            Got::Bad(R::Interrupted, 0, 24),
            Got::Bad(R::ChecksumMismatch, 24, 26)
        ]
    );
}

#[test]
fn raw_data_holding_soh_8_fix_interrupts_its_message() {
    // The known limitation: RawData(96) containing SOH 8=FIX interrupts the message even though
    // its checksum is right. The new "message" at the embedded 8 then fails on its own.
    let m = mk("FIX.4.4", &["35=0", "95=13", "96=a\x018=FIX.4.4\x01b"]);
    let at = m.windows(6).position(|w| w == b"\x018=FIX").unwrap() + 1;
    assert_eq!(at, 31);
    assert_eq!(
        one(&m, 4096),
        vec![
            Got::Bad(R::Interrupted, 0, 31),
            Got::Bad(R::BodyLengthMissing, 31, 11)
        ]
    );
    // The field iterator still reads the data field by its length.
    let msg = Message::new_unchecked(&m);
    assert_eq!(msg.get(96), Some(&b"a\x018=FIX.4.4\x01b"[..]));
    assert_eq!(Message::new_checked(&m), Err(R::Interrupted));
}

#[test]
fn overlapping_records_and_resynchronisation() {
    // BODY_LENGTH_MISSING at the 8 of a following 8=FIX: the garbled record includes that 8,
    // and the next message starts at it.
    let next = mk("FIX.4.4", &["35=0", "34=2"]);
    let s = [&b("8=FIX.4.4|")[..], &next[..]].concat();
    assert_eq!(
        one(&s, 4096),
        vec![
            Got::Bad(R::BodyLengthMissing, 0, 11),
            Got::Msg(10, next.clone())
        ]
    );
    // BodyLength digits eat the 8; the '=' after it fails; the matcher still saw "8=".
    let s = [&b("8=FIX.4.4|9=")[..], &next[..]].concat();
    assert_eq!(
        one(&s, 4096),
        vec![
            Got::Bad(R::BodyLengthInvalid, 0, 14),
            Got::Msg(12, next.clone())
        ]
    );
    // A completed 8=FIX that ends on the failing byte does not start a message.
    let s = [&b("8=FIX.4.4|9=12|35=0|58=8=FIX")[..], &next[..]].concat();
    assert_eq!(
        one(&s, 4096),
        vec![
            Got::Bad(R::BodyLengthMismatch, 0, 28),
            Got::Msg(28, next.clone())
        ]
    );
    // Garbage in HUNT with near-misses.
    let s = [&b("88=FI8=FIY|8=8=F")[..], &next[..], &b("x8=FIX.4")[..]].concat();
    assert_eq!(one(&s, 4096), vec![Got::Msg(16, next.clone())]);
}

#[test]
fn stream_start_and_reset() {
    let m = mk("FIX.4.4", &["35=0", "34=1"]);
    let mut f = Framer::new(4096);
    let mut out = Vec::new();
    f.feed(&m[..20], |fr| out.push(got(fr)));
    assert!(f.in_message());
    assert_eq!(f.buffered(), 20);
    f.reset();
    assert_eq!(f.offset(), 0);
    f.feed(&m, |fr| out.push(got(fr)));
    assert_eq!(out, vec![Got::Msg(0, m.clone())]);
    let mut r = ByteFramer::new(4096);
    for &x in &m[..20] {
        assert_eq!(r.push(x), None);
    }
    r.reset();
    let mut recs = Vec::new();
    r.push_all(&m, &mut recs);
    assert_eq!(
        recs,
        vec![Record::Valid {
            offset: 0,
            length: m.len() as u32
        }]
    );
}

#[test]
fn reasons_have_contract_codes_and_descriptions() {
    for (i, r) in R::ALL.iter().enumerate() {
        assert_eq!(r.code() as usize, i + 1);
        assert_eq!(R::from_code(r.code()), Some(*r));
        assert!(!r.describe().is_empty());
        assert_eq!(r.to_string(), r.describe());
    }
    assert_eq!(R::from_code(0), None);
    assert_eq!(R::from_code(10), None);
}

#[test]
fn new_checked_reports_the_failing_rule() {
    let m = mk("FIX.4.4", &["35=0", "34=1"]);
    assert!(Message::new_checked(&m).is_ok());
    assert_eq!(
        Message::new_checked(&m[..m.len() - 1]),
        Err(R::ChecksumMalformed)
    );
    assert_eq!(Message::new_checked(&m[..20]), Err(R::BodyLengthMismatch));
    assert_eq!(Message::new_checked(&m[..17]), Err(R::MsgTypeNotThird));
    assert_eq!(Message::new_checked(&m[..12]), Err(R::BodyLengthInvalid));
    assert_eq!(Message::new_checked(&m[..10]), Err(R::BodyLengthMissing));
    assert_eq!(Message::new_checked(b"9=FIX"), Err(R::BadBeginString));
    assert_eq!(
        Message::new_checked(&[&m[..], b"x"].concat()),
        Err(R::BodyLengthMismatch)
    );
    let mut bad = m.clone();
    bad[18] = b'x';
    assert_eq!(Message::new_checked(&bad), Err(R::ChecksumMismatch));
}

#[test]
fn whole_messages_are_not_copied_split_ones_are() {
    let a = mk("FIX.4.4", &["35=0", "34=1"]);
    let bm = mk("FIX.4.4", &["35=D", "34=2", "11=ORDER-1"]);
    let stream = [&a[..], &bm[..], &a[..]].concat();
    let cut = a.len() + 10; // inside the second message
    let mut f = Framer::new(4096);
    let (c1, c2) = stream.split_at(cut);
    let mut seen = Vec::new();
    for c in [c1, c2] {
        let range = c.as_ptr_range();
        f.feed(c, |fr| {
            if let Frame::Message { bytes, offset } = fr {
                seen.push((offset, range.contains(&bytes.as_ptr()), bytes.to_vec()));
            }
        });
    }
    assert_eq!(
        seen,
        vec![
            (0, true, a.clone()),
            (a.len() as u64, false, bm.clone()),
            ((a.len() + bm.len()) as u64, true, a.clone()),
        ]
    );
}
