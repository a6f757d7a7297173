//! `fixcodec::Framer` (the software engine's framer, written to the same section 2) against the
//! byte-serial reference `hwsim::frame::FrameState`: identical records (kind, reason, offset,
//! length, bytes) on hostile generated traffic and on mutated messages, however chunked, and
//! reported after the same chunk.

mod common;

use fixcodec::framer::{Frame, Framer};
use hwsim::frame::{FrameState, Framed};
use hwsim::gen::{GenConfig, Traffic};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn long() -> bool {
    std::env::var_os("FIXENG_LONG").is_some()
}

/// (offset, length, reason 0 = valid) of a codec frame.
fn codec_record(f: &Frame<'_>) -> (u64, u32, u8) {
    match *f {
        Frame::Message { bytes, offset } => (offset, bytes.len() as u32, 0),
        Frame::Garbled {
            reason,
            offset,
            length,
        } => (offset, length, reason as u8),
    }
}

fn ref_record(f: &Framed) -> (u64, u32, u8) {
    (f.offset, f.length, f.garbled)
}

/// Feeds `stream` in chunks of sizes drawn from `rng` to both framers; compares after each chunk.
fn lockstep(stream: &[u8], max_msg: usize, rng: &mut SmallRng, max_chunk: usize, what: &str) {
    let mut fs = FrameState::new();
    let mut fr = Framer::new(max_msg);
    let mut p = 0;
    while p < stream.len() {
        let c = &stream[p..(p + rng.gen_range(1..=max_chunk)).min(stream.len())];
        p += c.len();
        let mut want = Vec::new();
        fs.feed(c, max_msg as u32, |f| want.push(ref_record(&f)));
        let mut got = Vec::new();
        fr.feed(c, |f| {
            if let Frame::Message { bytes, offset } = f {
                let o = offset as usize;
                assert_eq!(bytes, &stream[o..o + bytes.len()], "{what}: message bytes");
            }
            got.push(codec_record(&f));
        });
        assert_eq!(got, want, "{what}: records after byte {p}");
    }
    assert_eq!(fr.offset(), fs.offset());
}

#[test]
fn codec_framer_matches_reference_on_hostile_traffic() {
    let seeds = if long() { 1000 } else { 30 };
    for seed in 0..seeds {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xC0DEC);
        let cfg = GenConfig {
            sessions: 2,
            events: rng.gen_range(50..400),
            max_chunk: 100,
            fault_rate: rng.gen_range(0.0..0.8),
            max_msg: [300, 4096][rng.gen_range(0..2)],
            window: 256,
        };
        let t = Traffic::new(seed, cfg.clone());
        for (s, st) in t.streams().iter().enumerate() {
            let max_chunk = [1, 7, 300, 5000][rng.gen_range(0..4)];
            lockstep(
                st,
                cfg.max_msg,
                &mut rng,
                max_chunk,
                &format!("seed {seed} session {s}"),
            );
        }
    }
}

#[test]
fn codec_framer_matches_reference_on_mutated_messages() {
    let iters = if long() { 200_000 } else { 5_000 };
    let alphabet = b"0123456789=\x018FIXY.T3415A";
    let mut rng = SmallRng::seed_from_u64(77);
    for it in 0..iters {
        let mut stream = Vec::new();
        for _ in 0..rng.gen_range(1..4) {
            let mut m = common::raw("35=D|34=12|43=Y|58=x|");
            for _ in 0..rng.gen_range(0..3) {
                let p = rng.gen_range(0..m.len());
                let c = alphabet[rng.gen_range(0..alphabet.len())];
                match rng.gen_range(0..3) {
                    0 => m[p] = c,
                    1 => m.insert(p, c),
                    _ => {
                        m.remove(p);
                    }
                }
            }
            stream.extend_from_slice(&m);
        }
        let max_msg = [30usize, 45, 4096][rng.gen_range(0..3)];
        lockstep(&stream, max_msg, &mut rng, 40, &format!("iteration {it}"));
    }
}

/// The directed cases of tests/framing.rs, including the interpretation corner cases.
#[test]
fn codec_framer_matches_reference_on_directed_cases() {
    let m = common::msg("D", &[(34, "4")]);
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let cases: Vec<Vec<u8>> = vec![
        b"8=FIX.4.5\x01".to_vec(),
        b"8=FIXT.1.2\x01".to_vec(),
        b"8=FIX4.4\x01".to_vec(),
        b"8=FIX.4.4\x0135=D\x01".to_vec(),
        b"8=FIX.4.4\x019=\x01".to_vec(),
        b"8=FIX.4.4\x019=1234567890\x01".to_vec(),
        b"8=FIX.4.4\x019=123456789\x01".to_vec(),
        common::raw("49=S|35=D|"),
        common::raw("35=|34=1|"),
        common::soh("8=FIX.4.4|9=3|35=10=000|"),
        common::soh("8=FIX.4.4|9=0|10=000|"),
        common::soh("8=FIX.4.4|9=9|35=D|34=1|10=000|"),
        common::soh("8=FIX.4.4|9=11|35=D|34=1|10=000|"),
        common::soh("8=FIX.4.4|9=10|35=D|34=1|10x000|"),
        cat(&common::soh("8=FIX.4.4|9=40|35=D|34=1|"), &m),
        cat(b"8=FIX", &m),
        cat(b"8=FIX.4.4\x019=", &m),
        cat(b"8=FIX.4.4\x01", &m),
        cat(
            &common::soh("8=FIX.4.4|9=10|35=D|a8=FIX.4.4|9=5|35=0|10=000|"),
            &m,
        ),
        common::raw("35=D|95=6|96=|8=FIX|"),
    ];
    let mut rng = SmallRng::seed_from_u64(5);
    for (i, c) in cases.iter().enumerate() {
        for max_chunk in [1, 3, c.len()] {
            lockstep(c, 4096, &mut rng, max_chunk, &format!("case {i}"));
        }
    }
}
