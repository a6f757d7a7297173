//! Directed tests of `hwsim::fast::FastPath`: splitting, sessions, CSR pass-through, resets.

mod common;

use common::msg;
use hwsim::fast::FastPath;
use hwsim::{Kind, Reason, Verdict};

fn run(fp: &mut FastPath, s: u16, c: &[u8]) -> Vec<(Verdict, Vec<u8>)> {
    let mut out = Vec::new();
    fp.process(s, c, |v, b| out.push((*v, b.to_vec())));
    out
}

#[test]
fn a_message_split_at_every_byte_gives_one_record_with_its_bytes() {
    let m = msg("D", &[(34, "1"), (58, "some text here")]);
    for cut in 0..=m.len() {
        let mut fp = FastPath::new(1, 256, 4096);
        let mut r = run(&mut fp, 0, &m[..cut]);
        r.extend(run(&mut fp, 0, &m[cut..]));
        assert_eq!(r.len(), 1, "cut {cut}");
        assert_eq!(r[0].0.kind(), Some(Kind::InOrder));
        assert_eq!((r[0].0.offset, r[0].0.length), (0, m.len() as u32));
        assert_eq!(r[0].1, m, "cut {cut}");
        assert_eq!(fp.stream_offset(0), m.len() as u64);
    }
}

#[test]
fn sessions_are_independent_when_interleaved_mid_message() {
    let a = msg("D", &[(34, "1")]);
    let b = msg("8", &[(34, "5")]);
    let mut fp = FastPath::new(2, 256, 4096);
    assert!(run(&mut fp, 0, &a[..20]).is_empty());
    assert!(run(&mut fp, 1, &b[..7]).is_empty());
    let r0 = run(&mut fp, 0, &a[20..]);
    let r1 = run(&mut fp, 1, &b[7..]);
    assert_eq!(
        (r0[0].0.session, r0[0].0.seq, r0[0].1.clone()),
        (0, 1, a.clone())
    );
    assert_eq!((r1[0].0.session, r1[0].0.seq), (1, 5));
    assert_eq!(r1[0].0.kind(), Some(Kind::Gap));
    assert_eq!(r1[0].1, b);
    assert_eq!((fp.expected(0), fp.expected(1)), (2, 1));
    assert!(fp.is_held(1, 5) && !fp.is_held(0, 5));
}

#[test]
fn garbled_records_carry_no_bytes_and_count() {
    let mut m = msg("D", &[(34, "1")]);
    let n = m.len();
    m[n - 2] ^= 1; // checksum digit
    let mut fp = FastPath::new(1, 256, 4096);
    let r = run(&mut fp, 0, &m);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0.kind(), Some(Kind::Garbled));
    assert_eq!(r[0].0.reason, Reason::ChecksumMismatch as u8);
    assert!(r[0].1.is_empty());
    assert_eq!(fp.counters(0).garbled, 1);
    assert_eq!(fp.counters(0).msgs, 1);
}

#[test]
fn csr_operations_pass_through() {
    let mut fp = FastPath::new(3, 512, 4096);
    fp.set_expected(2, 100);
    assert_eq!(fp.expected(2), 100);
    let r = run(&mut fp, 2, &msg("D", &[(34, "105")]));
    assert_eq!(r[0].0.kind(), Some(Kind::Gap));
    assert!(fp.is_held(2, 105));
    fp.clear_window(2);
    assert!(!fp.is_held(2, 105));
    assert_eq!(fp.counters(2).gaps, 1);
    assert_eq!(fp.counters(0), Default::default());
    assert_eq!(fp.sessions(), 3);
}

#[test]
fn reset_stream_drops_a_partial_message_and_restarts_offsets() {
    let m = msg("D", &[(34, "1")]);
    let mut fp = FastPath::new(1, 256, 4096);
    assert!(run(&mut fp, 0, b"junk").is_empty());
    assert!(run(&mut fp, 0, &m[..30]).is_empty());
    fp.reset_stream(0);
    assert_eq!(fp.stream_offset(0), 0);
    // The rest of the old message is junk now; the next whole one is found.
    let mut s = m[30..].to_vec();
    let o = s.len() as u64;
    s.extend_from_slice(&m);
    let r = run(&mut fp, 0, &s);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].0.offset, r[0].0.seq), (o, 1));
    // E is kept across a stream reset.
    assert_eq!(fp.expected(0), 2);
}

#[test]
fn large_messages_and_the_max_msg_limit() {
    let big = "x".repeat(100_000);
    let m = msg("D", &[(34, "1"), (58, &big)]);
    let mut fp = FastPath::new(1, 256, m.len());
    let mut r = Vec::new();
    for c in m.chunks(1460) {
        r.extend(run(&mut fp, 0, c));
    }
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1, m);
    // One byte less of MAX_MSG: TOO_LONG at the BodyLength SOH.
    let mut fp = FastPath::new(1, 256, m.len() - 1);
    let mut r = Vec::new();
    for c in m.chunks(1460) {
        r.extend(run(&mut fp, 0, c));
    }
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0.reason, Reason::TooLong as u8);
    // Length up to the BodyLength SOH: "8=FIX.4.4|9=100NNN|".
    assert_eq!(r[0].0.length, 19);
    // MAX_MSG is clamped to the 24-bit length field.
    assert_eq!(FastPath::new(1, 256, usize::MAX).max_msg(), (1 << 24) - 1);
}

#[test]
fn junk_only_input_keeps_memory_bounded() {
    // Junk built from FIX tokens: many message attempts start and fail.
    let tokens: [&[u8]; 10] = [
        b"8=FIX", b".4.4", b"\x01", b"9=", b"12", b"35=", b"D", b"10=", b"8", b"=",
    ];
    let mut fp = FastPath::new(1, 256, 64);
    let mut x = 12345u32;
    let mut records = 0;
    let mut fed = 0u64;
    for _ in 0..3000 {
        let mut c = Vec::new();
        while c.len() < 97 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            c.extend_from_slice(tokens[(x >> 16) as usize % tokens.len()]);
        }
        fed += c.len() as u64;
        fp.process(0, &c, |v, b| {
            records += 1;
            assert!(v.length <= 64, "{v:?}");
            assert_eq!(b.is_empty(), v.kind() == Some(Kind::Garbled));
        });
        assert_eq!(fp.stream_offset(0), fed);
    }
    assert!(records > 1000, "{records}");
}
