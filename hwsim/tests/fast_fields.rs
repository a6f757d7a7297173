//! The fast path's field filter and in-order shortcut against the byte-serial reference.
//!
//! The AVX2 kernel probes only the SOHs whose next two bytes can begin a field of interest, and
//! the bulk path classifies in-order messages with `SeqState::classify_fast`. These tests aim at
//! what that could get wrong: tags that share a first byte or a first pair with a tag of
//! interest, tags with leading zeros, later duplicates of tags already seen (first occurrence
//! counts; a later `8=FIX` still interrupts), fields at every offset of the 16/32/64-byte
//! blocks and across the 66-byte window the filter reads, and every chunk cut of a message.

mod common;

use common::{reference, soh, Records};
use hwsim::contract::Flags;
use hwsim::fast::{FastPath, Kernel};
use hwsim::frame::Framed;
use hwsim::seq::SeqState;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The kernels this CPU runs (the others are reported).
fn kernels() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Sse2, Kernel::Avx2]
        .into_iter()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                println!("skipping kernel {k:?}: not supported by this CPU");
            }
            ok
        })
        .collect()
}

fn run(k: Kernel, chunks: &[&[u8]]) -> Records {
    let mut fp = FastPath::with_kernel(1, 256, 4096, k);
    let mut out = vec![Vec::new()];
    for c in chunks {
        fp.process(0, c, |v, b| out[0].push((*v, b.to_vec())));
    }
    out
}

/// `8=FIX.4.4 SOH 9=.. SOH <body> 10=ccc SOH` (`|` = SOH in `body`).
fn raw(body: &str) -> Vec<u8> {
    let mut v = Vec::new();
    hwsim::gen::push_raw(&mut v, b"FIX.4.4", &soh(body));
    v
}

/// Every kernel on `stream` whole and cut once at each of `cuts` equals the reference.
fn check(stream: &[u8], cuts: impl Iterator<Item = usize>, what: &str) {
    let want = reference(&[stream.to_vec()], 256, 4096);
    let mut splits: Vec<Vec<&[u8]>> = vec![vec![stream]];
    for c in cuts.filter(|&c| c > 0 && c < stream.len()) {
        splits.push(vec![&stream[..c], &stream[c..]]);
    }
    for k in kernels() {
        for chunks in &splits {
            let cut = chunks.first().map_or(0, |c| c.len());
            assert_eq!(
                run(k, chunks),
                want,
                "{what}: kernel {k:?}, cut at {cut}, on {:?}",
                String::from_utf8_lossy(stream)
            );
        }
    }
}

#[test]
fn near_miss_tags_and_leading_zeros_at_every_block_offset() {
    // Tags that pass the first-byte or first-pair test but are not of interest, sitting next to
    // the real ones, each pushed through every offset of two 64-byte groups (so also of the
    // 16/32-byte blocks, and the filter's look-ahead across a group boundary).
    let tails = [
        "13=1|14=Y|12=Y|1230=Y|1410=Y|34=7|",
        "3=1|4=2|9=3|8=4|0=5|34=8|",
        "340=1|360=2|430=Y|970=Y|34=9|43=Y|",
        "0034=5|036=8|0043=Y|00097=Y|0123=Y|00141=Y|",
        "034=|34=6|",
        "00=1|0=2|034=3|",
        "8=X|8=FIX|34=4|",
        "97=N|97=Y|43=y|43=Y|",
        "36=|36=0|36=5|34=5|",
        "99999=1|123456=Y|12=|14=|34=11|",
    ];
    for tail in tails {
        for pad in 0..130 {
            let body = format!("35=4|123=Y|58={}|{tail}", "p".repeat(pad));
            let m = raw(&body);
            let n = m.len();
            check(
                &m,
                [63, 64, 65, 66, 127, 128, n - 8, n - 1].into_iter(),
                &format!("tail {tail:?} pad {pad}"),
            );
        }
    }
}

#[test]
fn later_duplicates_after_every_tag_of_interest_was_seen() {
    // All six tags seen early; later copies must change nothing, and a later `8=FIX` must
    // still interrupt the message (then the follower frames on its own).
    let seen_all = "34=5|36=9|43=Y|97=Y|123=Y|141=Y|";
    let laters = [
        "34=6|36=10|43=N|97=N|123=N|141=N|",
        "0034=7|043=N|58=x|",
        "34=0|34=abc|36=|",
        "58=x|8=FIX.4.4|9=5|35=0|10=000|",
    ];
    for later in laters {
        for mt in ["4", "A", "D"] {
            for pad in [0usize, 1, 30, 31, 32, 33, 62, 63, 64, 65, 100] {
                let body = format!("35={mt}|{seen_all}58={}|{later}", "q".repeat(pad));
                let m = raw(&body);
                let n = m.len();
                check(
                    &m,
                    [n / 2, n - 8].into_iter(),
                    &format!("mt {mt} later {later:?} pad {pad}"),
                );
            }
        }
    }
}

#[test]
fn messages_cut_at_every_byte() {
    // Back-to-back messages with fields of interest near the block boundaries, cut once at
    // every byte (the pending-buffer path, then the bulk path for what follows).
    let mut stream = Vec::new();
    for (i, pad) in [0usize, 29, 57, 61, 62, 63, 120].into_iter().enumerate() {
        let body = format!(
            "35=D|58={}|34={}|43=Y|0097=Y|1=acct|",
            "r".repeat(pad),
            i + 1
        );
        stream.extend_from_slice(&raw(&body));
    }
    let n = stream.len();
    check(&stream, 1..n, "cut at every byte");
}

#[test]
fn classify_fast_equals_classify() {
    // Random framed summaries (in order, gaps, duplicates, resets, logons with reset, garbled,
    // invalid seqs) through two sequencers: every record, E, the held window and the counters
    // must agree.
    let mut rng = SmallRng::seed_from_u64(11);
    let mut a = SeqState::new(256);
    let mut b = SeqState::new(256);
    let mut next = 1u32;
    for i in 0..200_000u32 {
        let r = rng.gen_range(0..100);
        let seq = match r {
            0..=69 => next,
            70..=79 => next + rng.gen_range(1..300),
            80..=89 => next.saturating_sub(rng.gen_range(0..5)).max(1),
            _ => rng.gen_range(1..0x7FFF_FFFF),
        };
        let mut flags = 0u8;
        if rng.gen_bool(0.1) {
            flags |= Flags::POSS_DUP;
        }
        if rng.gen_bool(0.05) {
            flags |= Flags::GAP_FILL;
        }
        if rng.gen_bool(0.03) {
            flags |= Flags::RESET_SEQ_NUM;
        }
        if rng.gen_bool(0.05) {
            flags |= Flags::HAS_NEW_SEQ_NO;
        }
        let msg_type = match rng.gen_range(0..10) {
            0 => *b"4\0\0\0",
            1 => *b"A\0\0\0",
            2 => *b"0\0\0\0",
            _ => *b"D\0\0\0",
        };
        if msg_type[1] == 0 && msg_type[0] != b'D' {
            flags |= Flags::ADMIN;
        }
        let f = Framed {
            offset: u64::from(i) * 200,
            length: 200,
            garbled: if rng.gen_bool(0.02) { 3 } else { 0 },
            msg_type,
            flags,
            seq,
            seq_status: if rng.gen_bool(0.02) { 2 } else { 0 },
            new_seq_no: seq + rng.gen_range(0..400),
        };
        let (va, vb) = (a.classify(7, &f), b.classify_fast(7, &f));
        assert_eq!(va, vb, "record {i}: {f:?}");
        assert_eq!(a, b, "state after record {i}");
        next = a.expected();
    }
}
