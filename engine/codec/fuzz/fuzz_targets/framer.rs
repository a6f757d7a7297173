//! Fuzz target `framer`: the first bytes choose a chunking and MAX_MSG, the rest is the stream.
//!
//! Invariants checked: no panic; the fast `Framer` reports exactly the records of the
//! byte-serial `ByteFramer` (offsets, lengths, reasons), in order and during the same chunk,
//! under the chosen chunking and fed whole; records lie inside the stream, in order; every
//! message view is the stream's bytes at its offset, is at most MAX_MSG long and passes
//! `Message::new_checked`; the reassembly buffer never exceeds max(MAX_MSG, HEADER_MAX); every
//! accessor of a message view is total.
#![no_main]

use fixcodec::{ByteFramer, Frame, Framer, Message, Record, HEADER_MAX};
use libfuzzer_sys::fuzz_target;

fn run(stream: &[u8], max_msg: usize, sizes: &[usize]) -> Vec<Record> {
    let mut f = Framer::new(max_msg);
    let mut reference = ByteFramer::new(max_msg);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while pos < stream.len() {
        let n = if sizes.is_empty() { stream.len() } else { sizes[k % sizes.len()] };
        k += 1;
        let end = (pos + n).min(stream.len());
        let mut got = Vec::new();
        f.feed(&stream[pos..end], |fr| {
            if let Frame::Message { bytes, offset } = fr {
                let o = offset as usize;
                assert_eq!(&stream[o..o + bytes.len()], bytes);
                assert!(bytes.len() <= max_msg);
                let m = Message::new_checked(bytes).expect("framed message must validate");
                let _ = (m.msg_type(), m.begin_string(), m.get_u32(34), m.get_timestamp(52));
                let _ = m.group(453, 448).map(|g| g.entries().map(|e| e.count()).sum::<usize>());
            }
            got.push(fr.record());
        });
        // Same records as the byte-serial reference, reported for the same chunk.
        let mut want = Vec::new();
        reference.push_all(&stream[pos..end], &mut want);
        assert_eq!(got, want);
        assert_eq!(f.in_message(), reference.in_message());
        assert!(f.buffered() <= max_msg.max(HEADER_MAX));
        assert_eq!(f.offset(), end as u64);
        out.extend(got);
        pos = end;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max_msg = match data[0] % 4 {
        0 => 4096,
        1 => usize::from(data[1]),
        2 => usize::from(data[1]) * 4,
        _ => 64,
    };
    let nsizes = usize::from(data[2] % 8);
    if data.len() < 3 + nsizes {
        return;
    }
    let sizes: Vec<usize> = data[3..3 + nsizes].iter().map(|&b| usize::from(b % 64) + 1).collect();
    let stream = &data[3 + nsizes..];

    let mut reference = ByteFramer::new(max_msg);
    let mut want = Vec::new();
    reference.push_all(stream, &mut want);
    let mut last = 0u64;
    for r in &want {
        assert!(r.offset() + u64::from(r.length()) <= stream.len() as u64);
        assert!(r.offset() >= last.saturating_sub(4), "records out of order");
        last = r.offset();
    }
    assert_eq!(run(stream, max_msg, &sizes), want);
    assert_eq!(run(stream, max_msg, &[]), want);
    let m = Message::new_unchecked(stream);
    let _ = (m.fields().count(), m.msg_type(), m.get_bool(43), m.get_i64(44));
});
