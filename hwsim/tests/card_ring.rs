//! The card ring seam: a writer (card emulation) and a reader (engine) over a mapped file.

use hwsim::card::{map_len, reg, RingReader, RingWriter, MAGIC, RING_OFFSET};
use hwsim::{Kind, Verdict};

fn verdict(i: u32) -> Verdict {
    Verdict {
        session: (i % 64) as u16,
        kind: Kind::InOrder as u8,
        seq: i + 1,
        expected_before: i + 1,
        expected_after: i + 2,
        offset: u64::from(i) * 100,
        length: 100,
        msg_type: *b"D\0\0\0",
        ..Verdict::default()
    }
}

#[test]
fn records_arrive_in_order_across_many_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.bin");
    let mut w = RingWriter::create(&path, 4, 0xF1C5_0806).unwrap();
    let mut r = RingReader::open(&path).unwrap();
    assert_eq!(r.params(), 0xF1C5_0806);
    let mut buf = [Verdict::default(); 5];
    let (mut sent, mut got) = (0u32, 0u32);
    while got < 1000 {
        // Fill until full, then drain a few: exercises full, wrap and partial reads.
        while sent < 1000 && w.push(&verdict(sent)) {
            sent += 1;
        }
        assert!(sent == 1000 || w.free() == 0, "push fails only when full");
        let n = r.poll(&mut buf).unwrap();
        for v in &buf[..n] {
            assert_eq!(*v, verdict(got));
            got += 1;
        }
    }
    assert_eq!(r.pending().unwrap(), 0);
    assert_eq!(w.produced(), 1000);
    assert_eq!(r.consumed(), 1000);
}

#[test]
fn full_ring_refuses_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.bin");
    let mut w = RingWriter::create(&path, 2, 0).unwrap();
    for i in 0..4 {
        assert!(w.push(&verdict(i)));
    }
    assert!(!w.push(&verdict(99)), "a full ring must refuse");
    let mut r = RingReader::open(&path).unwrap();
    let mut buf = [Verdict::default(); 8];
    assert_eq!(r.poll(&mut buf).unwrap(), 4);
    assert_eq!(buf[3], verdict(3));
    assert!(w.push(&verdict(4)));
    assert_eq!(r.poll(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], verdict(4));
}

#[test]
fn layout_is_the_documented_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("card.bin");
    let mut w = RingWriter::create(&path, 3, 7).unwrap();
    for i in 0..10 {
        assert!(w.free() > 0 || i >= 8);
        if i < 8 {
            assert!(w.push(&verdict(i)));
        }
    }
    w.flush().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), map_len(3));
    let rd = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    assert_eq!(rd(reg::ID), MAGIC);
    assert_eq!(rd(reg::PARAMS), 7);
    assert_eq!(rd(reg::RING_LOG2), 3);
    assert_eq!(rd(reg::PROD), 8);
    assert_eq!(rd(reg::CONS), 0);
    let rec5 = &bytes[RING_OFFSET + 5 * 32..RING_OFFSET + 6 * 32];
    assert_eq!(rec5, &verdict(5).to_bytes()[..]);
}

#[test]
fn corrupt_maps_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.bin");
    std::fs::write(&short, [0u8; 100]).unwrap();
    let e = RingReader::open(&short).err().expect("short map");
    assert!(e.to_string().contains("too short"), "{e}");

    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, vec![0u8; map_len(2)]).unwrap();
    let e = RingReader::open(&bad).err().expect("no magic");
    assert!(e.to_string().contains("ID"), "{e}");

    let path = dir.path().join("card.bin");
    let _w = RingWriter::create(&path, 2, 0).unwrap();
    let r = RingReader::open(&path).unwrap();
    // A producer index too far ahead of the consumer is reported, not trusted.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(reg::PROD as u64)).unwrap();
        f.write_all(&100u32.to_le_bytes()).unwrap();
    }
    let e = r.pending().expect_err("corrupt indices");
    assert!(e.to_string().contains("more than"), "{e}");
}
