//! Differential tests: the fast path must give exactly the byte-serial reference's verdict
//! records (and the right message bytes) on hostile generated traffic, however it is chunked.
//!
//! `FIXENG_LONG=1` runs many more seeds.

mod common;

use common::{fast, reference};
use hwsim::fast::FastPath;
use hwsim::frame::FrameState;
use hwsim::gen::{GenConfig, Traffic};
use hwsim::seq::SeqState;
use hwsim::Kind;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn long() -> bool {
    std::env::var_os("FIXENG_LONG").is_some()
}

fn check(seed: u64, cfg: GenConfig) -> usize {
    let window = cfg.window;
    let max_msg = cfg.max_msg;
    let sessions = usize::from(cfg.sessions);
    let t = Traffic::new(seed, cfg);
    let want = reference(t.streams(), window, max_msg as u32);
    let (got, fp) = fast(sessions, window, max_msg, t.chunk_slices());
    for s in 0..sessions {
        for (i, (g, w)) in got[s].iter().zip(&want[s]).enumerate() {
            assert_eq!(
                g.0, w.0,
                "seed {seed} session {s} record {i}: verdict differs"
            );
            assert_eq!(g.1, w.1, "seed {seed} session {s} record {i}: bytes differ");
        }
        assert_eq!(
            got[s].len(),
            want[s].len(),
            "seed {seed} session {s}: record count differs"
        );
        let e = want[s].last().map_or(1, |r| r.0.expected_after);
        assert_eq!(
            fp.expected(s as u16),
            e,
            "seed {seed} session {s}: expected"
        );
    }
    want.iter().map(Vec::len).sum()
}

/// Lock-step: after every chunk the fast path must have emitted exactly the records the
/// reference emitted on the same bytes (no record delayed to a later chunk, none early), with
/// CSR writes (EXPECTED, CLEAR_WINDOW, RESET_STREAM) applied to both between chunks.
fn check_lockstep(seed: u64, cfg: GenConfig) {
    let t = Traffic::new(seed, cfg.clone());
    let n = usize::from(cfg.sessions);
    let mut fs = vec![FrameState::new(); n];
    let mut sq: Vec<SeqState> = (0..n).map(|_| SeqState::new(cfg.window)).collect();
    let mut fp = FastPath::new(n, cfg.window, cfg.max_msg);
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xC5);
    for (ci, (s, c)) in t.chunk_slices().enumerate() {
        let si = usize::from(s);
        // CSR operations between chunks, on both sides.
        match rng.gen_range(0..100) {
            0 => {
                let e = sq[si].expected().saturating_sub(rng.gen_range(0..3)).max(1);
                sq[si].set_expected(e);
                fp.set_expected(s, e);
            }
            1 => {
                sq[si].clear_window();
                fp.clear_window(s);
            }
            2 => {
                fs[si] = FrameState::new();
                fp.reset_stream(s);
            }
            _ => {}
        }
        let mut want = Vec::new();
        fs[si].feed(c, cfg.max_msg as u32, |f| want.push(sq[si].classify(s, &f)));
        let mut got = Vec::new();
        fp.process(s, c, |v, _| got.push(*v));
        assert_eq!(got, want, "seed {seed} chunk {ci} session {s}");
        assert_eq!(fp.counters(s), sq[si].counters(), "seed {seed} chunk {ci}");
        assert_eq!(
            fp.stream_offset(s),
            fs[si].offset(),
            "seed {seed} chunk {ci}"
        );
    }
}

#[test]
fn fast_path_emits_in_lockstep_with_reference() {
    let seeds = if long() { 1000 } else { 40 };
    for seed in 0..seeds {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0x5EED);
        let cfg = GenConfig {
            sessions: rng.gen_range(1..4),
            events: rng.gen_range(50..300),
            max_chunk: [1, 5, 40, 300, 3000][rng.gen_range(0..5)],
            fault_rate: rng.gen_range(0.0..0.8),
            max_msg: [300, 4096][rng.gen_range(0..2)],
            window: 256,
        };
        check_lockstep(seed, cfg);
    }
}

#[test]
fn fast_path_matches_reference_on_hostile_traffic() {
    let seeds = if long() { 2000 } else { 60 };
    let mut kinds = [0usize; 9];
    let mut reasons = [0usize; 10];
    for seed in 0..seeds {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xABCD);
        let cfg = GenConfig {
            sessions: rng.gen_range(1..5),
            events: rng.gen_range(50..400),
            max_chunk: [1, 7, 64, 300, 5000][rng.gen_range(0..5)],
            fault_rate: rng.gen_range(0.0..0.8),
            max_msg: [300, 1024, 4096][rng.gen_range(0..3)],
            window: 256,
        };
        let t = Traffic::new(seed, cfg.clone());
        for r in reference(t.streams(), cfg.window, cfg.max_msg as u32)
            .iter()
            .flatten()
        {
            kinds[usize::from(r.0.kind)] += 1;
            if r.0.kind == Kind::Garbled as u8 {
                reasons[usize::from(r.0.reason)] += 1;
            }
        }
        check(seed, cfg);
    }
    // The generator must actually exercise every kind and every garbled reason.
    for (k, n) in kinds.iter().enumerate() {
        assert!(*n > 0, "kind {k} never generated: {kinds:?}");
    }
    for (r, n) in reasons.iter().enumerate().skip(1) {
        assert!(*n > 0, "garbled reason {r} never generated: {reasons:?}");
    }
}

#[test]
fn chunk_size_does_not_matter() {
    let cfg = GenConfig {
        sessions: 1,
        events: 300,
        fault_rate: 0.5,
        ..GenConfig::default()
    };
    let t = Traffic::new(7, cfg.clone());
    let st = &t.streams()[0];
    let want = reference(t.streams(), cfg.window, cfg.max_msg as u32);
    for size in [1usize, 2, 3, 5, 8, 13, 64, 100, 1000, st.len()] {
        let (got, _) = fast(
            1,
            cfg.window,
            cfg.max_msg,
            st.chunks(size).map(|c| (0u16, c)),
        );
        assert_eq!(got, want, "chunk size {size}");
    }
}

#[test]
fn valid_stream_is_all_in_order() {
    let (st, n) = hwsim::gen::valid_stream(3, 200_000, 150, 350);
    let want = reference(std::slice::from_ref(&st), 256, 4096);
    assert_eq!(want[0].len() as u64, n);
    for (i, (v, b)) in want[0].iter().enumerate() {
        assert_eq!(v.kind, Kind::InOrder as u8, "message {i}");
        assert_eq!(v.seq, i as u32 + 1);
        assert!((150..=351).contains(&b.len()), "length {}", b.len());
    }
    let (got, _) = fast(1, 256, 4096, st.chunks(65536).map(|c| (0u16, c)));
    assert_eq!(got, want);
}

/// Valid messages with interesting fields, mutated byte by byte with a FIX-flavoured alphabet,
/// concatenated and chunked at random: every mutation lands somewhere the bulk check must get
/// exactly right or hand to the reference.
#[test]
fn mutated_messages_in_lockstep() {
    let iters = if long() { 500_000 } else { 10_000 };
    let alphabet = b"0123456789=\x018FIXY.T3415A";
    let bodies: [&[u8]; 6] = [
        b"35=D\x0134=12\x0143=Y\x0197=Y\x01",
        b"35=4\x0134=5\x01123=Y\x0136=9\x01",
        b"35=A\x0134=1\x01141=Y\x0198=0\x01",
        b"35=ABCDE\x010034=7\x0136=0\x0143=N\x01",
        b"35=0\x0134=2147483647\x0158=8=FIX\x01",
        b"35=8\x0134=0000000003\x01141=Y\x0134=9\x01",
    ];
    let mut rng = SmallRng::seed_from_u64(99);
    for it in 0..iters {
        let mut stream = Vec::new();
        for _ in 0..rng.gen_range(1..4) {
            let mut m = Vec::new();
            let begin: &[u8] = if rng.gen_bool(0.5) {
                b"FIX.4.4"
            } else {
                b"FIXT.1.1"
            };
            hwsim::gen::push_raw(&mut m, begin, bodies[rng.gen_range(0..bodies.len())]);
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
        let max_msg = [40u32, 64, 4096][rng.gen_range(0..3)];
        let mut fs = FrameState::new();
        let mut sq = SeqState::new(256);
        let mut fp = FastPath::new(1, 256, max_msg as usize);
        let mut p = 0;
        while p < stream.len() {
            let c = &stream[p..(p + rng.gen_range(1..80)).min(stream.len())];
            p += c.len();
            let mut want = Vec::new();
            fs.feed(c, max_msg, |f| {
                let bytes = if f.garbled == 0 {
                    stream[f.offset as usize..f.offset as usize + f.length as usize].to_vec()
                } else {
                    Vec::new()
                };
                want.push((sq.classify(0, &f), bytes));
            });
            let mut got = Vec::new();
            fp.process(0, c, |v, b| got.push((*v, b.to_vec())));
            assert_eq!(
                got,
                want,
                "iteration {it}: {:?}",
                String::from_utf8_lossy(&stream)
            );
        }
    }
}
