//! Every block-scanner kernel of the fast path (portable SWAR, SSE2, AVX2) must give exactly the
//! byte-serial reference's records: on generated hostile traffic in lock-step, and on
//! adversarial messages built so that every interesting field, SOH, MsgType end, body end and
//! chunk end lands at every offset of the 16/32/64-byte blocks.
//!
//! A kernel the CPU cannot run is reported and skipped. `FIXENG_LONG=1` runs more seeds.

mod common;

use common::{reference, soh, Records};
use hwsim::fast::{FastPath, Kernel};
use hwsim::frame::FrameState;
use hwsim::gen::{GenConfig, Traffic};
use hwsim::seq::SeqState;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ALL: [Kernel; 3] = [Kernel::Portable, Kernel::Sse2, Kernel::Avx2];

fn long() -> bool {
    std::env::var_os("FIXENG_LONG").is_some()
}

/// The kernels this CPU runs (the others are reported once per test).
fn kernels() -> Vec<Kernel> {
    ALL.into_iter()
        .filter(|k| {
            let ok = k.is_available();
            if !ok {
                println!("skipping kernel {k:?}: not supported by this CPU");
            }
            ok
        })
        .collect()
}

/// The fast path with kernel `k` over `chunks` of one session.
fn run(k: Kernel, max_msg: usize, chunks: &[&[u8]]) -> Records {
    let mut fp = FastPath::with_kernel(1, 256, max_msg, k);
    assert_eq!(fp.kernel(), k, "kernel not selected");
    let mut out = vec![Vec::new()];
    for c in chunks {
        fp.process(0, c, |v, b| out[0].push((*v, b.to_vec())));
    }
    out
}

/// Every kernel on `stream` whole, split at `cuts` (each cut alone), in 1-byte chunks and in
/// random chunks, against the reference.
fn check(stream: &[u8], max_msg: usize, cuts: impl Iterator<Item = usize>, what: &str) {
    let want = reference(&[stream.to_vec()], 256, max_msg as u32);
    let mut splits: Vec<Vec<&[u8]>> = vec![vec![stream], stream.chunks(1).collect()];
    for c in cuts.filter(|&c| c <= stream.len()) {
        splits.push(vec![&stream[..c], &stream[c..]]);
    }
    let mut rng = SmallRng::seed_from_u64(stream.len() as u64);
    let mut p = 0;
    let mut random = Vec::new();
    while p < stream.len() {
        let e = (p + rng.gen_range(1..100)).min(stream.len());
        random.push(&stream[p..e]);
        p = e;
    }
    splits.push(random);
    for k in kernels() {
        for (i, chunks) in splits.iter().enumerate() {
            let got = run(k, max_msg, chunks);
            assert_eq!(
                got,
                want,
                "{what}: kernel {k:?} split #{i} differs on {:?}",
                String::from_utf8_lossy(stream)
            );
        }
    }
}

/// `8=FIX.4.4 SOH 9=.. SOH 35=<mt> SOH <fields> 10=ccc SOH` from raw field text (`|` = SOH).
fn raw(begin: &[u8], body: &str) -> Vec<u8> {
    let mut v = Vec::new();
    hwsim::gen::push_raw(&mut v, begin, &soh(body));
    v
}

#[test]
fn kernels_report_availability_and_fall_back() {
    assert!(Kernel::Portable.is_available());
    assert!(Kernel::best().is_available());
    for k in ALL {
        let fp = FastPath::with_kernel(1, 256, 4096, k);
        if k.is_available() {
            assert_eq!(fp.kernel(), k);
        } else {
            assert_eq!(fp.kernel(), Kernel::best());
        }
    }
    assert_eq!(FastPath::new(1, 256, 4096).kernel(), Kernel::best());
}

#[test]
fn kernels_agree_in_lockstep_on_generated_traffic() {
    let seeds = if long() { 0..200 } else { 0..6 };
    for seed in seeds {
        for (max_chunk, fault_rate) in [(1usize, 0.3), (7, 0.5), (90, 0.3), (1500, 0.6)] {
            let cfg = GenConfig {
                sessions: 3,
                events: if max_chunk == 1 { 150 } else { 600 },
                max_chunk,
                fault_rate,
                ..GenConfig::default()
            };
            let t = Traffic::new(seed, cfg.clone());
            let n = usize::from(cfg.sessions);
            for k in kernels() {
                let mut fs = vec![FrameState::new(); n];
                let mut sq: Vec<SeqState> = (0..n).map(|_| SeqState::new(cfg.window)).collect();
                let mut fp = FastPath::with_kernel(n, cfg.window, cfg.max_msg, k);
                for (ci, (s, c)) in t.chunk_slices().enumerate() {
                    let si = usize::from(s);
                    let mut want = Vec::new();
                    let q = &mut sq[si];
                    fs[si].feed(c, cfg.max_msg as u32, |f| want.push(q.classify(s, &f)));
                    let mut got = Vec::new();
                    fp.process(s, c, |v, _| got.push(*v));
                    assert_eq!(
                        got, want,
                        "kernel {k:?} seed {seed} max_chunk {max_chunk} chunk {ci}"
                    );
                }
                for (s, q) in sq.iter().enumerate() {
                    assert_eq!(fp.counters(s as u16), q.counters(), "kernel {k:?}");
                    assert_eq!(fp.expected(s as u16), q.expected(), "kernel {k:?}");
                }
            }
        }
    }
}

#[test]
fn fields_of_interest_at_every_block_offset() {
    // A pad field of growing length moves every later field, and the body end, through every
    // offset of a 64-byte group (and so of the 16- and 32-byte blocks).
    let tails = [
        "34=7|",
        "34=7|43=Y|97=Y|",
        "34=12345678|36=9|123=Y|",
        "34=2|141=Y|",
        "0034=5|036=8|0043=Y|",
        "34=3|34=4|43=N|43=Y|",
        "58=x|8=FIX.4.4|34=1|",
        "34=2147483647|36=2147483648|",
        "34=0|",
        "34=|36=|",
        "34=1a|",
        "1234=5|341=6|34=9|",
    ];
    for tail in tails {
        for pad in 0..70 {
            let body = format!("35=D|58={}|{tail}", "p".repeat(pad));
            let m = raw(b"FIX.4.4", &body);
            // Cut around the body end and a few block boundaries.
            let n = m.len();
            let cuts = [16, 32, 63, 64, 65, n.saturating_sub(8), n - 1];
            check(
                &m,
                4096,
                cuts.into_iter(),
                &format!("tail {tail:?} pad {pad}"),
            );
        }
    }
}

#[test]
fn msg_type_lengths_and_begin_strings() {
    let begins: [&[u8]; 4] = [b"FIX.4.0", b"FIX.4.4", b"FIXT.1.1", b"FIX.4.5"];
    for begin in begins {
        for mt in [
            "0",
            "5",
            "A",
            "B",
            "AB",
            "ABCD",
            "ABCDE",
            "ABCDEFGH",
            "ABCDEFGHIJKL",
            "",
        ] {
            for pad in [0usize, 3, 40, 61] {
                let body = format!("35={mt}|34=9|58={}|", "q".repeat(pad));
                let m = raw(begin, &body);
                check(&m, 4096, [5, 12, 14, 20].into_iter(), &format!("mt {mt:?}"));
            }
        }
    }
}

#[test]
fn body_length_digits_and_max_msg() {
    // BodyLength with leading zeros, 1..9 digits, and MAX_MSG right at the message length.
    let m = raw(b"FIX.4.4", "35=D|34=1|58=abc|");
    let body_start = m.iter().position(|&c| c == 1).unwrap() + 1;
    let after_len = body_start + m[body_start..].iter().position(|&c| c == 1).unwrap() + 1;
    let digits = &m[body_start + 2..after_len - 1];
    for zeros in 0..9usize {
        let mut v = m[..body_start + 2].to_vec();
        v.extend_from_slice(&vec![b'0'; zeros]);
        v.extend_from_slice(digits);
        v.extend_from_slice(&m[after_len - 1..n_before_checksum(&m)]);
        // Recompute the checksum over the new header.
        let ck = hwsim::gen::checksum(&v);
        v.extend_from_slice(format!("10={ck:03}\x01").as_bytes());
        for max_msg in [v.len() - 1, v.len(), v.len() + 1, 4096] {
            check(&v, max_msg, [10, 14, 20].into_iter(), "body length");
        }
    }
}

/// Index of the `10=` trailer of a message.
fn n_before_checksum(m: &[u8]) -> usize {
    m.len() - 7
}

#[test]
fn corrupted_messages_and_back_to_back_streams() {
    let mut rng = SmallRng::seed_from_u64(7);
    let iters = if long() { 20_000 } else { 400 };
    let bodies = [
        "35=D|34=12|43=Y|97=Y|58=some text to pad the body out past one block|",
        "35=4|34=5|123=Y|36=90|",
        "35=A|34=1|141=Y|98=0|108=30|",
        "35=8|0034=7|36=0|43=N|11=ORD-1|17=EX-1|150=F|39=2|55=ESZ6|",
    ];
    for it in 0..iters {
        let mut stream = Vec::new();
        for _ in 0..rng.gen_range(1..5) {
            let body = bodies[rng.gen_range(0..bodies.len())];
            let mut m = raw(b"FIX.4.4", body);
            if rng.gen_bool(0.5) {
                let p = rng.gen_range(0..m.len());
                m[p] = b"0123456789=\x018FIXY"[rng.gen_range(0..16)];
            }
            stream.extend_from_slice(&m);
            if rng.gen_bool(0.2) {
                stream.extend_from_slice(b"junk\x01");
            }
        }
        let n = stream.len();
        check(
            &stream,
            4096,
            [n / 3, n / 2].into_iter(),
            &format!("iteration {it}"),
        );
    }
}
